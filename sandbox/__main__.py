"""`python -m sandbox build-runtime | run PATH.ipynb | clean`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from sandbox import runtime, slots
from sandbox.limits import Limits, SandboxError
from sandbox.run import STOP_MESSAGES, run_notebook


def run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox run")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--timeout", type=float, default=None, help="total wall time, seconds")
    parser.add_argument("--cell-timeout", type=float, default=None, help="per cell, seconds")
    parser.add_argument("--memory-mb", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    limits = Limits()
    if args.timeout is not None:
        cell_timeout = min(limits.cell_timeout_s, args.timeout)
        limits = replace(limits, total_timeout_s=args.timeout, cell_timeout_s=cell_timeout)
    if args.cell_timeout is not None:
        limits = replace(limits, cell_timeout_s=args.cell_timeout)
    if args.memory_mb is not None:
        limits = replace(limits, memory_mb=args.memory_mb)
    try:
        result = run_notebook(args.notebook.read_bytes(), limits=limits)
    except (OSError, SandboxError) as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=1)
        print()
    else:
        print_human(result.to_json())
    return 0


def print_human(result: dict) -> None:
    for cell in result["cells"]:
        print(f"--- cell {cell['index']}: {cell['status']} ({cell['duration_s']:.3f} s)")
        for output in cell["outputs"]:
            if output["output_type"] == "stream":
                print(output["text"], end="")
            elif output["output_type"] == "error":
                print(f"{output['ename']}: {output['evalue']}")
            else:
                print(output["data"].get("text/plain", f"<{output['output_type']}>"))
    if result["stopped_by"]:
        print(f"=== stopped by {result['stopped_by']}: {STOP_MESSAGES[result['stopped_by']]}")


def clean_command(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="python -m sandbox clean").parse_args(argv)
    cleaned = slots.clean_orphans()
    print(f"cleaned slot uids: {cleaned}", file=sys.stderr)
    return 0


COMMANDS = {"build-runtime": runtime.main, "run": run_command, "clean": clean_command}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m sandbox {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
