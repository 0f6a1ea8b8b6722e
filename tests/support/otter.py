"""Otter Assign notebooks built in code, one pattern each (written for these tests)."""

from __future__ import annotations

from typing import Any

import nbformat


def raw(source: str) -> Any:
    return nbformat.v4.new_raw_cell(source)


def md(source: str, **metadata: Any) -> Any:
    return nbformat.v4.new_markdown_cell(source, metadata=metadata)


def code(source: str, output: str | None = None, printed: str | None = None) -> Any:
    """A code cell with the outputs it had when the instructor ran it."""
    outputs = []
    if printed is not None:
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text=printed))
    if output is not None:
        outputs.append(
            nbformat.v4.new_output("execute_result", data={"text/plain": output}, execution_count=1)
        )
    return nbformat.v4.new_code_cell(source, outputs=outputs)


def question(config: str, solution: list[Any], tests: list[Any], *, prompt: str = "") -> list[Any]:
    """A question's cells: the config, its text, its solution block and its tests block."""
    cells = [raw(f"# BEGIN QUESTION\n{config}"), md(prompt or "**Question.**")]
    if solution:
        cells += [raw("# BEGIN SOLUTION"), *solution, raw("# END SOLUTION")]
    if tests:
        cells += [raw("# BEGIN TESTS"), *tests, raw("# END TESTS")]
    return [*cells, raw("# END QUESTION")]


def notebook(*cells: Any, config: str = "init_cell: false") -> dict[str, Any]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [raw(f"# ASSIGNMENT CONFIG\n{config}"), *cells]
    return nbformat.from_dict(nb)


def answered(student: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
    """The student version with ``answers`` (by grade id) typed into its answer cells."""
    for cell in student["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return student
