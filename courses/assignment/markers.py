"""Text transforms for the markers inside cells (nbgrader's and otter's)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import gettext_noop

CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
OTTER_TEXT_STUB = "_Type your answer here, replacing this text._"


@dataclass(frozen=True)
class Region:
    """A pair of marker lines: ``begin`` and ``end`` match whole stripped lines."""

    name: str
    begin: re.Pattern[str]
    end: re.Pattern[str]


SOLUTION = Region(
    "solution", re.compile(r"#+\s*BEGIN SOLUTION\s*$"), re.compile(r"#+\s*END SOLUTION\s*$")
)
HIDDEN_TESTS = Region(
    "hidden tests",
    re.compile(r"#+\s*BEGIN HIDDEN TESTS\s*$"),
    re.compile(r"#+\s*END HIDDEN TESTS\s*$"),
)
MARK_SCHEME = Region(
    "mark scheme",
    re.compile(r"=+\s*BEGIN MARK SCHEME\s*=+$"),
    re.compile(r"=+\s*END MARK SCHEME\s*=+$"),
)
MARKDOWN_SOLUTION = Region(
    "solution", re.compile(r"(#+\s*)?BEGIN SOLUTION\s*$"), re.compile(r"(#+\s*)?END SOLUTION\s*$")
)
OTTER_SOLUTION = Region(
    "solution",
    re.compile(r"#\s*BEGIN SOLUTION(\s+NO PROMPT)?\s*$"),
    re.compile(r"#\s*END SOLUTION\s*$"),
)
OTTER_PROMPT = Region(
    "prompt",
    re.compile(r"(\"\"\"|''')\s*#\s*BEGIN PROMPT\s*$"),
    re.compile(r"(\"\"\"|''');?\s*#\s*END PROMPT\s*$"),
)


def region_errors(source: str, region: Region) -> list[tuple[str, dict[str, object]]]:
    """Unbalanced or nested markers of ``region`` in ``source``: (template, arguments)."""
    errors: list[tuple[str, dict[str, object]]] = []
    marker = region.name.upper()
    inside = False
    for number, line in enumerate(source.splitlines(), 1):
        text = line.strip()
        if region.begin.fullmatch(text):
            if inside:
                errors.append(
                    (
                        gettext_noop("line %(line)s: BEGIN %(marker)s inside another one"),
                        {"line": number, "marker": marker},
                    )
                )
            inside = True
        elif region.end.fullmatch(text):
            if not inside:
                errors.append(
                    (
                        gettext_noop("line %(line)s: END %(marker)s without a BEGIN"),
                        {"line": number, "marker": marker},
                    )
                )
            inside = False
    if inside:
        errors.append((gettext_noop("BEGIN %(marker)s is never closed"), {"marker": marker}))
    return errors


def has_region(source: str, region: Region) -> bool:
    return any(region.begin.fullmatch(line.strip()) for line in source.splitlines())


def replace_regions(source: str, region: Region, stub: str | None) -> str:
    """Replace each region (markers included) by ``stub`` indented like its BEGIN line."""
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        text = line.strip()
        if not inside and region.begin.fullmatch(text):
            inside = True
            if stub is not None and not text.endswith("NO PROMPT"):
                indent = line[: len(line) - len(line.lstrip())]
                out.extend(indent + s for s in stub.splitlines())
        elif inside and region.end.fullmatch(text):
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def strip_markers(source: str, *regions: Region) -> str:
    """Drop the marker lines but keep what they enclose (the instructor's runnable code)."""
    return "\n".join(
        line
        for line in source.splitlines()
        if not any(
            r.begin.fullmatch(line.strip()) or r.end.fullmatch(line.strip()) for r in regions
        )
    )


def hidden_lines(source: str) -> frozenset[int]:
    """1-based numbers of the lines inside HIDDEN TESTS regions, once markers are stripped."""
    hidden: set[int] = set()
    inside, number = False, 0
    for line in source.splitlines():
        text = line.strip()
        if HIDDEN_TESTS.begin.fullmatch(text):
            inside = True
        elif HIDDEN_TESTS.end.fullmatch(text):
            inside = False
        elif not SOLUTION.begin.fullmatch(text) and not SOLUTION.end.fullmatch(text):
            number += 1
            if inside:
                hidden.add(number)
    return frozenset(hidden)


_OTTER_LINE = re.compile(r"^(?P<indent>\s*)(?P<code>.*?)\s*#\s*SOLUTION\s*$")
_OTTER_DROP = re.compile(r".*#\s*(SOLUTION NO PROMPT|SEED)\s*$")
_ASSIGNMENT = re.compile(r"^(?P<lhs>[^=()\[\]{}'\"]+?)\s*=(?!=)")


def otter_student_code(source: str) -> str:
    """Otter's (jAssign's) solution removal rules for one code cell."""
    lines: list[str] = []
    for line in replace_regions(source, OTTER_SOLUTION, "...").splitlines():
        if _OTTER_DROP.fullmatch(line):
            continue
        match = _OTTER_LINE.match(line)
        if match:
            assignment = _ASSIGNMENT.match(match["code"])
            replaced = f"{assignment['lhs']} = ..." if assignment else "..."
            lines.append(match["indent"] + replaced)
        else:
            lines.append(line)
    return _unwrap_prompts("\n".join(lines))


def _unwrap_prompts(source: str) -> str:
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        text = line.strip()
        if not inside and OTTER_PROMPT.begin.fullmatch(text):
            inside = True
        elif inside and OTTER_PROMPT.end.fullmatch(text):
            inside = False
        else:
            out.append(line)
    return "\n".join(out)


_BEGIN_IGNORE = re.compile(r"\s*#\s*BEGIN\s*IGNORE\s*", re.IGNORECASE)


def otter_without_ignored(source: str) -> str:
    """Otter's ignored lines left out: ``# BEGIN IGNORE`` ... ``# END IGNORE`` blocks and
    lines ending in ``# IGNORE`` are in neither the student's nor the autograder's notebook."""
    if "IGNORE" not in source.upper():
        return source
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        text = line.rstrip()
        if text.endswith("# END IGNORE"):
            inside = False
        elif not inside and not text.endswith("# IGNORE"):
            if _BEGIN_IGNORE.match(line):
                inside = True
            else:
                out.append(line)
    return "\n".join(out)
