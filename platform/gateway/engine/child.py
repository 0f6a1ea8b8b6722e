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
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.n_parallel = args.slots
    params.n_ctx = args.context * args.slots
    params.cont_batching = True
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
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
