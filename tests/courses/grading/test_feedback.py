import pytest

from courses.models import Submission, SubmissionStatus
from tests.support.factories import EnrollmentFactory, ExerciseFactory, ModuleFactory

pytestmark = pytest.mark.django_db

RESULT = {
    "tests": [
        {
            "grade_id": "t1",
            "points": 0,
            "max_points": 1,
            "passed": False,
            "status": "failed",
            "message": "A hidden test failed",
            "message_key": "hidden_failed",
            "message_args": {},
            "detail": "assert add(-5, 5) == 0",
        }
    ],
    "notes": [],
}


def test_a_learner_reads_the_graders_messages_in_french_and_never_the_detail(client) -> None:
    enrollment = EnrollmentFactory()
    exercise = ExerciseFactory(module=ModuleFactory(course=enrollment.cohort.course))
    submission = Submission.objects.create(
        learner=enrollment.user,
        exercise=exercise,
        cohort=enrollment.cohort,
        status=SubmissionStatus.GRADED,
        score=0,
        max_score=1,
        result=RESULT,
    )
    client.force_login(enrollment.user)
    french = client.get(f"/courses/submissions/{submission.pk}/", HTTP_ACCEPT_LANGUAGE="fr")
    english = client.get(f"/courses/submissions/{submission.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert french.json()["tests"][0]["message"] == "Un test caché a échoué"
    assert english.json()["tests"][0]["message"] == "A hidden test failed"
    assert "detail" not in french.json()["tests"][0]
    assert "add(-5, 5)" not in french.text
