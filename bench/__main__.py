"""`make bench`: every benchmark, each in its own process; figures in bench/results/*.json."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["sandbox", "grading", "interactive", "capacity", "gateway", "faults", "web"]


def main() -> int:
    wanted = sys.argv[1:] or [name for name in ORDER if (ROOT / "bench" / f"{name}.py").exists()]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "platform")]))
    failed = []
    for name in wanted:
        print(f"=== bench {name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT, env=env).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
