"""The engine process: `python -m gateway.engine.child --model M --socket S ...`.

Loads the GGUF model into llama.cpp's own HTTP server (continuous batching over `--slots`
sequences), listening on the unix socket S, writes "ready" on stdout, then serves until its
standard input closes: the gateway holds the other end, so the engine never outlives it.
"""

import argparse
import sys

import xllamacpp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--context", type=int, default=2048, help="tokens per slot")
    parser.add_argument("--threads", type=int, default=1, help="for one token at a time")
    parser.add_argument("--batch-threads", type=int, default=1, help="for several tokens")
    args = parser.parse_args()

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.n_parallel = args.slots
    params.n_ctx = args.context * args.slots
    params.cont_batching = True
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.batch_threads
    # Each slot keeps the tokens of its last request and a new one evaluates only what
    # differs: the chat template's system prompt (25 of SmolLM2's ~33 prompt tokens for a
    # short question) is shared, so four arriving questions cost ~4 x 8 tokens, not 4 x 33.
    # On this CPU backend the reply is the same token for token whether a prefix came from
    # the cache or was evaluated afresh (tests/gateway/test_open_chat_model.py checks it).
    params.cache_prompt = True
    # llama.cpp's extra host-memory cache of evicted prompts: off, the gateway's memory stays
    # bounded (the slots' own caches hold the shared prefix).
    params.cache_ram_mib = 0
    # llama.cpp's server listens on a unix socket when the host name ends in ".sock".
    params.hostnames = [args.socket]
    params.ui = False
    params.verbosity = 0
    server = xllamacpp.Server(params)  # returns once the model is loaded and listening
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.read()  # EOF: the gateway stopped or died
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
