"""A sandboxed caller is known by the uid the kernel reports for the socket, nothing else."""

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from gateway.httpserver import peer_uid
from gateway.models import Usage
from gateway.services import grant_register, grant_revoke, usage_flush
from tests.support.factories import CourseFactory, UserFactory
from tests.support.gateway import MINILM, RunningGateway

pytestmark = pytest.mark.xdist_group("gateway-models")

LEARNER_UID = 64301
STRANGER_UID = 64302
CLIENT = Path(__file__).parents[2] / "platform/gateway/learner_client/open_models.py"
SCRIPT = """
import json, open_models
try:
    vector = open_models.embed("Stars are made of plasma.")
    print(json.dumps({"dims": len(vector), "models": [m["id"] for m in open_models.models()]}))
except open_models.GatewayError as error:
    print(json.dumps({"status": error.status, "message": error.message}))
"""


def run_as(uid: int, gateway: RunningGateway) -> dict:
    """Run the learner client as `uid` with Debian's Python, as a sandbox slot would."""
    client_dir = gateway.socket.parent.parent / "client"
    client_dir.mkdir(exist_ok=True)
    client_dir.chmod(0o755)
    shutil.copy(CLIENT, client_dir / "open_models.py")
    (client_dir / "open_models.py").chmod(0o644)
    result = subprocess.run(
        [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--no-new-privs",
            "/usr/bin/python3.11",
            "-c",
            SCRIPT,
        ],
        env={
            "PYTHONPATH": str(client_dir),
            "OPEN_MODELS_SOCKET": str(gateway.socket),
            "HOME": "/nonexistent",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def test_the_kernel_reports_the_connecting_processes_uid() -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        assert peer_uid(left) == 0  # these tests run as root


def test_a_granted_uid_calls_as_its_learner_and_course_and_others_get_403(gateway) -> None:
    # given a grant for one sandbox slot's uid
    learner, course = UserFactory(), CourseFactory()
    grant_register(uid=LEARNER_UID, user_id=learner.id, course_id=course.id, ttl_s=60)

    # when both uids call the gateway through the socket
    granted = run_as(LEARNER_UID, gateway)
    stranger = run_as(STRANGER_UID, gateway)

    # then only the granted one is served, and usage goes to its learner and course
    assert granted == {"dims": 384, "models": [MINILM]}
    assert stranger["status"] == 403
    assert "runs is active" in stranger["message"]
    usage_flush()
    usage = Usage.objects.get()
    assert (usage.user_id, usage.course_id, usage.model.name) == (learner.id, course.id, MINILM)
    assert usage.requests == 1 and usage.prompt_tokens > 0


def test_a_revoked_or_expired_grant_is_refused(gateway) -> None:
    learner, course = UserFactory(), CourseFactory()
    grant_register(uid=LEARNER_UID, user_id=learner.id, course_id=course.id, ttl_s=60)
    grant_revoke(uid=LEARNER_UID)
    assert run_as(LEARNER_UID, gateway)["status"] == 403

    # an expires_at in the past is refused even while the Redis key still lives
    grant_register(uid=LEARNER_UID, user_id=learner.id, course_id=course.id, ttl_s=60)
    from gateway.keys import GRANT_KEY
    from gateway.services import redis_client

    key = GRANT_KEY.format(uid=LEARNER_UID)
    stale = json.loads(redis_client().get(key)) | {"expires_at": 1.0}
    redis_client().set(key, json.dumps(stale), ex=60)
    assert run_as(LEARNER_UID, gateway)["status"] == 403


def test_a_root_caller_without_grant_gets_403_even_with_a_token_header(gateway) -> None:
    status, body = gateway.call(
        "GET", "/v1/models", headers={"Authorization": "Bearer osk_whatever"}
    )
    assert status == 403
    assert body["error"]["type"] == "permission_error"


def test_a_run_is_charged_to_its_cohorts_token_quota_and_refused_past_it(gateway) -> None:
    # given a cohort allowing 20 model tokens a day, and a run granted under it
    from courses.cohorts.quotas import QuotaKind, quota_usage
    from courses.grading.kernels import grant_models
    from courses.models import CohortQuota
    from tests.support.factories import EnrollmentFactory

    enrollment = EnrollmentFactory()
    CohortQuota.objects.create(cohort=enrollment.cohort, model_tokens_per_day=20)
    grant_models(
        uid=LEARNER_UID,
        user_id=enrollment.user_id,
        course_id=enrollment.cohort.course_id,
        cohort=enrollment.cohort,
        ttl_s=60,
    )
    # when the learner's code embeds until the quota is gone
    first = run_as(LEARNER_UID, gateway)
    used = quota_usage(user=enrollment.user, cohort=enrollment.cohort, kind=QuotaKind.MODEL_TOKENS)
    replies = [run_as(LEARNER_UID, gateway) for _ in range(4)]
    # then the tokens were counted in the cohort's quota, and calls past it get a clear 429
    assert first["dims"] == 384
    assert 0 < used.used <= 20
    refused = [r for r in replies if r.get("status") == 429]
    assert refused, replies
    assert "model tokens for today in this course" in refused[0]["message"]
