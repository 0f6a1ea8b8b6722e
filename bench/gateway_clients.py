"""The two sides of the gateway benchmark's measurements (bench.gateway): the same measuring
code run in a plain process (`Worker`) and as cells of a sandboxed kernel that reaches the
gateway through the learner client (`KernelClient`)."""

import json
import subprocess
from typing import Any


class Worker:
    """A measuring process that answers one JSON line per command line."""

    def __init__(self, argv: list[str], env: dict[str, str], *, greeting: str = "") -> None:
        self.process = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        if greeting:
            self.ask_raw(greeting)

    def ask_raw(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def ask(self, line: str) -> Any:
        self.ask_raw(line)
        assert self.process.stdout is not None
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"measuring process exited ({self.process.wait()})")
        return json.loads(answer)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(30)


class KernelClient:
    """The same measuring code, run as cells of a sandboxed kernel."""

    def __init__(self, kernel: Any, socket_inside: str) -> None:
        self.kernel = kernel
        self.run(
            f"import json, sys, time; sys.path.insert(0, {kernel.kernel_dir!r})\n"
            + f"import open_models; open_models.SOCKET = {socket_inside!r}"
        )

    def run(self, code: str) -> str:
        result = self.kernel.execute(code, timeout=300)
        text = "".join(o.get("text", "") for o in result.outputs if o.get("name") == "stdout")
        if result.status != "ok":
            raise RuntimeError(f"the sandboxed client failed: {result.status} {result.outputs}")
        return text

    def ask(self, line: str) -> Any:
        kind, count = line.split()
        return json.loads(self.run(f"print(json.dumps(bench_round({kind!r}, {count}, BATCH)))"))

    def chat(self, line: str) -> Any:
        streams, tokens = line.split()
        return json.loads(self.run(f"print(json.dumps(chat_round(ask, {streams}, {tokens}, 0)))"))

    def close(self) -> None:
        self.kernel.shutdown()
