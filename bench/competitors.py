"""nbgrader autograde and otter run on the same exercise, timed in the same run.

They live in their own environment (var/bench-env: bench-only dependencies, pinned in
bench/requirements-competitors.txt), built on first use.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

from bench import notebooks

ROOT = Path(__file__).resolve().parents[1]
ENV = ROOT / "var" / "bench-env"
REQUIREMENTS = ROOT / "bench" / "requirements-competitors.txt"


def ensure_env() -> Path:
    """The bench-only environment's bin folder, built on first use."""
    bin_dir = ENV / "bin"
    if not (bin_dir / "nbgrader").exists() or not (bin_dir / "otter").exists():
        subprocess.run([sys.executable, "-m", "venv", str(ENV)], check=True)
        subprocess.run([str(bin_dir / "pip"), "install", "-q", "-r", str(REQUIREMENTS)], check=True)
    return bin_dir


def timed(argv: list[str], cwd: Path) -> float:
    """Seconds `argv` took, run in `cwd` with its environment's tools first on PATH."""
    # Their tools call helpers (alembic, jupyter) by name: their environment first on PATH.
    env = dict(os.environ, PATH=f"{Path(argv[0]).parent}{os.pathsep}{os.environ['PATH']}")
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{argv[0]} failed: {done.stderr[-2000:]}")
    return elapsed


def nbgrader_autograde_s(bin_dir: Path) -> float:
    """`nbgrader autograde` of one submission of the small exercise, as an instructor runs it."""
    course = Path(tempfile.mkdtemp(prefix="bench-nbgrader-"))
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'bench'\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
    )
    source = course / "source" / "ps1"
    source.mkdir(parents=True)
    nbformat.write(nbformat.from_dict(notebooks.small()), source / "ps1.ipynb")
    timed([str(bin_dir / "nbgrader"), "generate_assignment", "ps1", "--create", "--force"], course)
    submitted = course / "submitted" / "learner" / "ps1"
    submitted.mkdir(parents=True)
    shutil.copy(course / "release" / "ps1" / "ps1.ipynb", submitted / "ps1.ipynb")
    answer = nbformat.read(submitted / "ps1.ipynb", as_version=4)
    for cell in answer.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer":
            cell.source = "def mean(values):\n    return sum(values) / len(values)\n"
    nbformat.write(answer, submitted / "ps1.ipynb")
    try:
        return timed([str(bin_dir / "nbgrader"), "autograde", "ps1", "--create", "--force"], course)
    finally:
        shutil.rmtree(course, ignore_errors=True)


def _otter_notebook() -> dict[str, Any]:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    raw, md, code = (
        nbformat.v4.new_raw_cell,
        nbformat.v4.new_markdown_cell,
        nbformat.v4.new_code_cell,
    )
    nb.cells = [
        raw(
            "# ASSIGNMENT CONFIG\ninit_cell: false\nexport_cell: false\ngenerate: true\n"
            "check_all_cell: false"
        ),
        raw("# BEGIN QUESTION\nname: q1\npoints: 2"),
        md("Write `mean(values)`."),
        raw("# BEGIN SOLUTION"),
        code("def mean(values):\n    return sum(values) / len(values) # SOLUTION"),
        raw("# END SOLUTION"),
        raw("# BEGIN TESTS"),
        _expect_true(code("mean([1, 2, 3]) == 2")),
        _expect_true(code("# HIDDEN\nabs(mean([0.5, 1.5]) - 1.0) < 1e-9")),
        raw("# END TESTS"),
        raw("# END QUESTION"),
    ]
    return dict(nbformat.from_dict(nb))


def _expect_true(cell: Any) -> Any:
    # otter reads a test's expected value from its recorded output, as after running it.
    cell.outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": "True"}, execution_count=1)
    ]
    return cell


def otter_run_s(bin_dir: Path) -> float:
    """`otter run` of one submission of the same exercise in otter's format."""
    work = Path(tempfile.mkdtemp(prefix="bench-otter-"))
    try:
        nbformat.write(nbformat.from_dict(_otter_notebook()), work / "mean.ipynb")
        timed([str(bin_dir / "otter"), "assign", "mean.ipynb", "dist"], work)
        student = work / "dist" / "student" / "mean.ipynb"
        answer = json.loads(student.read_text())
        for cell in answer["cells"]:
            if "def mean" in "".join(cell["source"]):
                cell["source"] = "def mean(values):\n    return sum(values) / len(values)\n"
        student.write_text(json.dumps(answer))
        zip_path = next((work / "dist" / "autograder").glob("*.zip"))
        return timed(
            [str(bin_dir / "otter"), "run", "-a", str(zip_path), "-o", str(work), str(student)],
            work,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure() -> dict[str, Any]:
    bin_dir = ensure_env()
    return {
        "nbgrader_autograde_s": round(nbgrader_autograde_s(bin_dir), 3),
        "otter_run_s": round(otter_run_s(bin_dir), 3),
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
