"""The demo curriculum graded for real: each reference solution runs in a sandboxed kernel
(bubblewrap, slot uid, no network) whose learner client calls the real model gateway over
its unix socket, identified by a grant on the kernel's uid; the trusted runner grades it.
Validating such an exercise (the worker's own pool) reaches the gateway the same way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from courses.assignment import parse_exercise
from courses.demo.services import COURSE_DIR
from courses.exercises.services import exercise_create
from courses.grading import kernels
from courses.grading.kernels import LearnerKernel
from courses.grading.pipeline import grade_notebook
from courses.grading.validation import validation_request, validation_run
from courses.models import ExerciseValidation
from sandbox import Limits, launch
from tests.support.factories import ModuleFactory, UserFactory
from tests.support.gateway import RunningGateway

pytestmark = [pytest.mark.xdist_group("gateway-sandbox")]

EXERCISES = sorted(p.stem for p in (COURSE_DIR / "exercises").glob("*.ipynb"))
LIMITS = Limits(cell_timeout_s=120, total_timeout_s=300)


@pytest.fixture
def learner_kernels(
    chat_gateway: RunningGateway,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Any]:
    monkeypatch.setenv("SANDBOX_GATEWAY_DIR", str(chat_gateway.socket.parent))
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
    gateway: RunningGateway,
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


def test_validating_an_exercise_that_calls_open_models_lets_its_kernels_reach_the_gateway(
    gateway: RunningGateway,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: the semantic search exercise, whose reference solution embeds with open_models
    settings.GATEWAY_SOCKET_DIR = gateway.socket.parent
    # (the worker's pool points kernels at it; put back for the tests that come next)
    monkeypatch.setenv("SANDBOX_GATEWAY_DIR", str(gateway.socket.parent))
    notebook = json.loads((COURSE_DIR / "exercises" / "semantic-search.ipynb").read_text())
    exercise = exercise_create(
        module=ModuleFactory(), title="Semantic search", slug="semantic-search", notebook=notebook
    )
    instructor = UserFactory()
    validation_request(exercise=exercise, requested_by=instructor)
    # when: a worker validates it
    kernels.close_pool()
    try:
        validation_run(exercise_id=exercise.pk, requested_by_id=instructor.pk)
    finally:
        kernels.close_pool()
    # then: the reference solution earned every point, through the real gateway
    validation = ExerciseValidation.objects.get(exercise=exercise)
    assert (validation.status, validation.report.get("problems")) == ("done", []), [
        (t["grade_id"], t["detail"][-300:])
        for t in validation.report.get("reference", {}).get("tests", [])
        if t["status"] != "passed"
    ]
    assert validation.ok
