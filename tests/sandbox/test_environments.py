"""Course runtimes: pins checked, resolved by pip from one index, built once per set, and
kernels run in them (read-only) apart from the kernel runtime's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sandbox import (
    SandboxUserError,
    build_environment,
    collect_environments,
    environment_key,
    environment_path,
    launch,
    parse_pins,
)
from sandbox.limits import Limits
from tests.sandbox.conftest import COURSE_PINS
from tests.support.package_index import GREETING
from tests.support.sandbox import report, stdout

# One build for the whole module (builds take seconds to minutes on 2 busy cores).
pytestmark = pytest.mark.xdist_group("course-runtime")
PINS = COURSE_PINS  # course_runtime's (tests/sandbox/conftest.py)


def test_pins_are_normalised_sorted_and_each_faulty_line_named() -> None:
    pins, errors = parse_pins("Scikit_Learn == 1.9.1\n# a comment\n\ntabulate==0.9.0  # why\n")
    assert (pins, errors) == (["scikit-learn==1.9.1", "tabulate==0.9.0"], [])

    _, errors = parse_pins("numpy>=2\nsix\nsix==1.0\nSIX==1.1\nos==1.0; rm -rf /\nx==1.0+local")
    assert [(e.line, e.problem) for e in errors] == [
        (1, "syntax"),
        (2, "syntax"),
        (4, "duplicate"),
        (5, "syntax"),
        (6, "syntax"),
    ]


def test_an_unknown_pin_is_refused_with_the_resolvers_message(
    package_index: str, course_runtimes: Path
) -> None:
    with pytest.raises(SandboxUserError) as refused:
        build_environment(["ost-hello==9.9"], index_url=package_index)
    assert "No matching distribution found for ost-hello==9.9" in str(refused.value)
    assert not environment_path(environment_key(["ost-hello==9.9"])).exists()


def test_conflicting_pins_are_refused_with_the_resolvers_message(
    package_index: str, course_runtimes: Path
) -> None:
    pins = ["ost-alpha==1.0", "ost-beta==2.0"]
    with pytest.raises(SandboxUserError) as refused:
        build_environment(pins, index_url=package_index)
    message = str(refused.value)
    assert "conflicting dependencies" in message and "ost-alpha 1.0 depends on ost-beta==1.0" in (
        message
    )
    assert not environment_path(environment_key(pins)).exists()
    assert not list(course_runtimes.glob(".building-*")), "nothing is left of a refused set"


def test_a_built_set_is_reused_and_nothing_is_built_twice(
    course_runtime: Path, package_index: str
) -> None:
    lines: list[str] = []
    again = build_environment(PINS[::-1], index_url=package_index, on_progress=lines.append)
    assert again == course_runtime
    assert lines == [f"reusing {course_runtime.name[:12]}"]
    built = [p.name for p in course_runtime.parent.iterdir() if not p.name.startswith(".")]
    assert built == [course_runtime.name]


@pytest.fixture(params=["bwrap", "zygote"])
def course_kernel(request: pytest.FixtureRequest, course_runtime: Path):
    # Started cold by bubblewrap (never the zygote): imports take seconds on a busy machine.
    limits = Limits(cell_timeout_s=120)
    kernel = launch.start_kernel(
        limits=limits, mode=request.param, runtime_dir=course_runtime, wait=False
    )
    try:
        kernel.wait_ready(timeout=120)
    except BaseException:
        kernel.shutdown(wait=True)
        raise
    yield kernel
    kernel.shutdown(wait=True)


def test_a_course_package_never_runs_as_root_not_even_in_the_zygote(course_kernel) -> None:
    # The package's .pth runs at every interpreter start: as root (the zygote, or a build
    # step on the host) it would exit at once; in the kernel it records the uid it ran as.
    found = report(
        course_kernel, "import json, os, sys\nprint(json.dumps([sys.ost_boot_uid, os.getuid()]))"
    )
    assert found[0] == found[1] != 0


def test_a_kernel_of_the_course_runtime_imports_its_packages_and_the_stack(course_kernel) -> None:
    result = course_kernel.execute(
        "import ost_hello, numpy\nprint(ost_hello.GREETING, numpy.__name__)"
    )
    assert stdout(result) == f"{GREETING} numpy\n", result.outputs


def test_a_kernel_of_the_kernel_runtime_cannot_import_a_course_package(mode: str) -> None:
    kernel = launch.start_kernel(limits=Limits(), mode=mode)
    try:
        result = kernel.execute("import ost_hello")
    finally:
        kernel.shutdown(wait=True)
    assert result.outputs[0]["ename"] == "ModuleNotFoundError"


WRITE_ATTEMPTS = """
import json, os, ost_hello, sys
found = {}
site = os.path.dirname(os.path.dirname(ost_hello.__file__))
for path in [ost_hello.__file__, os.path.join(site, "evil.pth"), os.path.join(site, "x.py")]:
    try:
        with open(path, "a") as f:
            f.write("import os; os.system('id')\\n")
        found[path] = "written"
    except OSError as e:
        found[path] = type(e).__name__
print(json.dumps(found))
"""


def test_kernels_cannot_change_the_course_runtime(course_kernel, course_runtime: Path) -> None:
    found = report(course_kernel, WRITE_ATTEMPTS)
    assert set(found.values()) <= {"PermissionError", "OSError"}, found
    assert (
        "os.system"
        not in (course_runtime / "lib")
        .joinpath("python3.11", "site-packages", "ost_hello", "__init__.py")
        .read_text()
    )
    stamp = json.loads((course_runtime / ".course-runtime").read_text())
    assert stamp["pins"] == PINS


def test_a_runtime_a_kernel_runs_in_is_never_collected(course_kernel, course_runtime: Path) -> None:
    # No course needs it and the grace period is long past: only the kernel keeps it.
    collected = collect_environments(keep=set(), grace_s=0, now=time.time() + 365 * 86400)
    assert collected.in_use == [course_runtime.name] and collected.removed == []
    assert stdout(course_kernel.execute("import ost_hello\nprint('still here')")) == (
        "still here\n"
    )
