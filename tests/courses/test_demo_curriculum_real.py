"""The demo curriculum graded for real: each reference solution runs in a sandboxed kernel
(bubblewrap, slot uid, no network) whose learner client calls the real model gateway over
its unix socket, identified by a grant on the kernel's uid; the trusted runner grades it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from courses.assignment import parse_exercise
from courses.demo_curriculum import COURSE_DIR
from courses.grading import grade_notebook
from courses.sandboxing import LearnerKernel
from sandbox import Limits, launch
from tests.factories import UserFactory
from tests.gateway.conftest import RunningGateway, clean_redis, gateway, minilm  # noqa: F401

pytestmark = [pytest.mark.xdist_group("gateway-sandbox")]

EXERCISES = sorted(p.stem for p in (COURSE_DIR / "exercises").glob("*.ipynb"))
LIMITS = Limits(cell_timeout_s=120, total_timeout_s=300)


@pytest.fixture
def learner_kernels(
    gateway: RunningGateway,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Any]:
    monkeypatch.setenv("SANDBOX_GATEWAY_DIR", str(gateway.socket.parent))
    learner = UserFactory()
    started: list[LearnerKernel] = []

    def factory() -> LearnerKernel:
        kernel = LearnerKernel(
            launch.start_kernel(limits=LIMITS), user_id=learner.pk, course_id=None
        )
        started.append(kernel)
        return kernel

    yield factory
    for kernel in started:
        kernel.shutdown()


@pytest.mark.parametrize("slug", EXERCISES)
def test_each_reference_solution_earns_full_marks_through_the_real_gateway(
    slug: str, learner_kernels: Any
) -> None:
    notebook = json.loads((COURSE_DIR / "exercises" / f"{slug}.ipynb").read_text())
    source = parse_exercise(data=notebook)
    report = grade_notebook(
        source=source, submission=notebook, kernel_factory=learner_kernels, limits=LIMITS
    )
    failed = [(t.grade_id, t.detail) for t in report.tests if t.status not in ("passed", "pending")]
    assert not failed
    assert report.notes == ()
    assert report.score + report.pending_points == source.max_score


def test_without_a_grant_the_sandbox_is_refused_by_the_gateway(
    gateway: RunningGateway,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SANDBOX_GATEWAY_DIR", str(gateway.socket.parent))
    kernel = launch.start_kernel(limits=LIMITS)  # no LearnerKernel: nobody granted this uid
    try:
        result = kernel.execute(
            "import open_models\n"
            "try:\n    open_models.embed(['a protein folds'])\n"
            "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
        )
    finally:
        kernel.shutdown()
    text = "".join(o.get("text", "") for o in result.outputs)
    assert "403" in text or "grant" in text.lower() or "forbidden" in text.lower(), text
