"""The gateway benchmark's chat figures (bench.gateway): SmolLM2-135M-Instruct's streamed
replies through the gateway from a sandboxed kernel and, round by round, from a plain process
straight to the engine's private socket."""

import statistics
import sys
from typing import Any

from bench.gateway_clients import KernelClient, Worker

CHAT_ROUNDS = 3
CHAT_TOKENS = 128

# Streams greedy replies and times them; `ask` is how one request reaches the model (the
# learner client through the gateway, or a raw request to the engine).
CHAT_CODE = """
import threading

TOPICS = ["photosynthesis", "the water cycle", "galaxies", "vaccines", "plate tectonics",
          "black holes", "enzymes", "climate models", "DNA replication", "ocean tides",
          "volcanoes", "antibiotics", "semiconductors", "the immune system", "earthquakes",
          "neurons", "glaciers", "coral reefs", "the solar wind", "batteries"]
FORMS = ["Explain {}.", "Describe {} briefly.", "How does {} work?", "Why does {} matter?"]
QUESTIONS = [form.format(topic) for form in FORMS for topic in TOPICS]
asked = [0]

def question(side):
    # Every request a question not asked before (the two sides take turns through one
    # list): only the chat template's system prompt can come from the engine's cache.
    asked[0] += 1
    return QUESTIONS[(2 * asked[0] + side) % len(QUESTIONS)]

def chat_round(ask, streams, tokens, side):
    questions = [question(side) for _ in range(streams)]
    results = [None] * streams
    def one(i):
        start = time.perf_counter()
        first, count = None, 0
        for piece in ask(questions[i], tokens):
            if first is None:
                first = time.perf_counter() - start
            count += 1
        results[i] = (first * 1000, count)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {"tokens_per_s": sum(c for _, c in results) / elapsed,
            "ttft_ms": [f for f, _ in results]}
"""

VIA_GATEWAY = """
def ask(question, tokens):
    return open_models.chat(question, max_tokens=tokens, temperature=0, stream=True)
"""

DIRECT_CHAT_SCRIPT = (
    """
import http.client, json, socket, sys, time
ENGINE = sys.argv[1]
PROMPTS = []  # (prompt tokens, of which evaluated afresh) per request, from llama.cpp

class Unix(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(ENGINE)

def ask(question, tokens):
    conn = Unix("engine", timeout=300)
    body = {"messages": [{"role": "user", "content": question}], "max_tokens": tokens,
            "temperature": 0, "stream": True}
    conn.request("POST", "/v1/chat/completions", json.dumps(body),
                 {"Content-Type": "application/json"})
    for raw in conn.getresponse():
        line = raw.decode().strip()
        if line == "data: [DONE]":
            break
        if line.startswith("data: "):
            chunk = json.loads(line[6:])
            if "timings" in chunk:
                timings = chunk["timings"]
                PROMPTS.append((timings["cache_n"] + timings["prompt_n"], timings["prompt_n"]))
            for choice in chunk.get("choices", []):
                if (choice.get("delta") or {}).get("content"):
                    yield choice["delta"]["content"]
    conn.close()
"""
    + CHAT_CODE
    + """
for line in sys.stdin:
    streams, tokens = map(int, line.split())
    result = chat_round(ask, streams, tokens, side=1)
    result["prompts"], PROMPTS[:] = PROMPTS[:], []
    print(json.dumps(result), flush=True)
"""
)


def measure_chat(client: KernelClient, env: dict[str, str], engine_socket: str) -> dict[str, Any]:
    client.run(CHAT_CODE + VIA_GATEWAY + "\nassert list(ask('Hello', 4))")  # waits for the engine
    direct = Worker([sys.executable, "-c", DIRECT_CHAT_SCRIPT, engine_socket], env)
    rounds: dict[str, list[Any]] = {"one": [], "four": [], "direct_one": [], "direct_four": []}
    try:
        client.chat(f"4 {CHAT_TOKENS // 8}")  # every slot has served once, as in a running gateway
        direct.ask(f"4 {CHAT_TOKENS // 8}")
        for _ in range(CHAT_ROUNDS):
            rounds["one"].append(client.chat(f"1 {CHAT_TOKENS}"))
            rounds["direct_one"].append(direct.ask(f"1 {CHAT_TOKENS}"))
            rounds["four"].append(client.chat(f"4 {CHAT_TOKENS}"))
            rounds["direct_four"].append(direct.ask(f"4 {CHAT_TOKENS}"))
    finally:
        direct.close()

    def best(name: str) -> float:
        return max(r["tokens_per_s"] for r in rounds[name])

    def ttft(name: str) -> float:
        return statistics.median(t for r in rounds[name] for t in r["ttft_ms"])

    prompts = [p for r in rounds["direct_four"] for p in r["prompts"]]

    return {
        "chat_tokens_per_s": best("one"),
        "chat_tokens_per_s_4_streams": best("four"),
        "chat_ttft_ms_p50": ttft("four"),
        "chat_ttft_ms_p50_1_stream": ttft("one"),
        "direct_chat_tokens_per_s": best("direct_one"),
        "direct_chat_tokens_per_s_4_streams": best("direct_four"),
        "direct_chat_ttft_ms_p50": ttft("direct_four"),
        # llama.cpp's own count for each request of the four-stream rounds: the chat
        # template's prompt, and the part of it evaluated afresh (the rest came from the cache)
        "chat_prompt_tokens_p50": statistics.median(total for total, _ in prompts),
        "chat_prompt_tokens_evaluated_p50": statistics.median(fresh for _, fresh in prompts),
    }
