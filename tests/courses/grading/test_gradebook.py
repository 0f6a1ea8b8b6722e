"""Gradebook, Canvas CSV, analytics, a submission's page, manual grading and regrading."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from courses.grading.gradebook import cohort_analytics, cohort_gradebook, gradebook_csv
from courses.grading.marking import MarkingError, manual_grade_set
from courses.models import (
    EnrollmentRole,
    GradeKind,
    GradeRecord,
    SubmissionStatus,
)
from tests.support.factories import EnrollmentFactory, ExerciseFactory, UserFactory
from tests.support.world import World, graded_submission, logged_in, teach_url

pytestmark = pytest.mark.django_db


def test_the_gradebook_keeps_the_best_attempt_with_its_late_flag(world: World) -> None:
    graded_submission(
        exercise=world.exercise,
        learner=world.student,
        cohort=world.cohort,
        score=Decimal("4.5"),
        late_days=2,
        attempt=2,
    )
    graded_submission(
        exercise=world.exercise,
        learner=world.student,
        cohort=world.cohort,
        score=Decimal(1),
        attempt=3,
    )
    book = cohort_gradebook(cohort=world.cohort)
    (row,) = book.rows
    (cell,) = row.cells
    assert (cell.score, cell.late, cell.attempts, cell.needs_grading) == (
        Decimal("4.5"),
        True,
        3,
        True,
    )
    assert row.total == Decimal("4.5")


def test_the_gradebook_filters_by_search_late_and_missing_work(world: World) -> None:
    absent = EnrollmentFactory(cohort=world.cohort, user__name="Zoe Absent").user
    assert [r.learner for r in cohort_gradebook(cohort=world.cohort, query="zoe").rows] == [absent]
    assert [r.learner for r in cohort_gradebook(cohort=world.cohort, only_missing=True).rows] == [
        absent
    ]
    assert cohort_gradebook(cohort=world.cohort, only_late=True).rows == []


def test_the_csv_has_the_layout_canvas_imports(world: World) -> None:
    rows = list(
        csv.reader(io.StringIO(gradebook_csv(gradebook=cohort_gradebook(cohort=world.cohort))))
    )
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Add"]
    assert rows[1] == ["Points Possible", "", "", "", "", "5"]
    assert rows[2][3:] == [world.student.email, "Autumn", "3"]


def test_the_csv_download_is_an_attachment(world: World) -> None:
    response = logged_in(world.ta).get(f"{teach_url(world)}gradebook/{world.cohort.pk}.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]


def test_the_gradebook_page_runs_a_fixed_number_of_queries(world: World) -> None:
    client = logged_in(world.instructor)
    url = f"{teach_url(world)}gradebook/?cohort={world.cohort.pk}"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    few = count()
    for _ in range(6):
        learner = EnrollmentFactory(cohort=world.cohort, role=EnrollmentRole.STUDENT).user
        graded_submission(exercise=world.exercise, learner=learner, cohort=world.cohort)
    ExerciseFactory.create_batch(4, module=world.module)
    assert count() == few


def test_analytics_count_scores_tests_and_days(world: World) -> None:
    other = EnrollmentFactory(cohort=world.cohort).user
    graded_submission(exercise=world.exercise, learner=other, cohort=world.cohort, score=Decimal(5))
    data = cohort_analytics(cohort=world.cohort)
    assert sum(data.distribution) == 2
    assert data.distribution[6] == 1 and data.distribution[9] == 1  # 3/5 and 5/5
    assert data.pass_rates == [("test_add", 2, 2), ("test_add_hidden", 2, 2)]
    assert [n for _, n in data.per_day] == [2]


def test_the_analytics_page_draws_its_charts_from_json(world: World) -> None:
    html = logged_in(world.instructor).get(f"{teach_url(world)}analytics/").content.decode()
    assert 'id="chart-data"' in html
    assert "teach-charts.js" in html
    assert "<code>test_add</code>" in html


def test_manual_grading_updates_the_score_and_adds_a_history_record(world: World) -> None:
    submission = manual_grade_set(
        submission=world.submission,
        grade_id="essay",
        points=Decimal("1.5"),
        comment="Clear but short",
        grader=world.ta,
    )
    submission.refresh_from_db()
    assert submission.score == Decimal("4.5")
    essay = next(t for t in submission.result["tests"] if t["grade_id"] == "essay")
    assert (essay["status"], essay["points"], essay["message"]) == (
        "graded",
        1.5,
        "Clear but short",
    )
    assert submission.result["pending_points"] == 0
    record = GradeRecord.objects.get(submission=submission)
    assert (record.kind, record.score, record.graded_by) == (
        GradeKind.MANUAL,
        Decimal("4.5"),
        world.ta,
    )


def test_manual_grading_applies_the_late_penalty(world: World) -> None:
    world.exercise.due_at = world.submission.created_at - timedelta(hours=1)
    world.exercise.late_policy = "penalty"
    world.exercise.late_penalty_percent_per_day = Decimal(10)
    world.exercise.save()
    submission = manual_grade_set(
        submission=world.submission,
        grade_id="essay",
        points=Decimal(2),
        comment="",
        grader=world.ta,
    )
    assert submission.score == Decimal("4.50")  # 5 points, 1 day late at 10 %


def test_manual_grading_refuses_points_out_of_range_and_autograded_items(world: World) -> None:
    with pytest.raises(MarkingError):
        manual_grade_set(
            submission=world.submission,
            grade_id="essay",
            points=Decimal(3),
            comment="",
            grader=world.ta,
        )
    with pytest.raises(MarkingError):
        manual_grade_set(
            submission=world.submission,
            grade_id="test_add",
            points=Decimal(1),
            comment="",
            grader=world.ta,
        )


def test_the_submission_page_renders_the_notebook_sanitised_with_results(world: World) -> None:
    html = (
        logged_in(world.ta)
        .get(f"{teach_url(world)}submissions/{world.submission.pk}/")
        .content.decode()
    )
    assert "I added the numbers" in html
    assert "<script>alert" not in html
    assert "add(-5, 5)" in re.sub(r"<[^>]+>", "", html)  # staff see hidden tests
    assert "test_add_hidden" in html
    assert 'name="essay-points"' in html


def test_regrade_one_and_all_queue_the_submissions_again(world: World) -> None:
    client = logged_in(world.ta)
    client.post(f"{teach_url(world)}submissions/{world.submission.pk}/regrade")
    world.submission.refresh_from_db()
    assert world.submission.status == SubmissionStatus.QUEUED
    world.submission.status = SubmissionStatus.GRADED
    world.submission.save(update_fields=["status"])
    client.post(f"{teach_url(world)}exercises/{world.exercise.pk}/regrade")
    world.submission.refresh_from_db()
    assert world.submission.status == SubmissionStatus.QUEUED


def test_a_learner_of_another_course_never_appears(world: World) -> None:
    EnrollmentFactory(user=UserFactory(name="Outsider"))
    assert all(r.learner.name != "Outsider" for r in cohort_gradebook(cohort=world.cohort).rows)


def test_a_regrade_keeps_the_points_given_by_hand(world: World) -> None:
    from courses.grading import services
    from courses.grading.scoring import GradeReport, ItemResult

    manual_grade_set(
        submission=world.submission,
        grade_id="essay",
        points=Decimal(2),
        comment="Good",
        grader=world.ta,
    )
    services.submission_regrade(submission=world.submission)
    claim = services.submission_claim(submission_id=world.submission.pk)
    assert claim is not None
    report = GradeReport(
        score=2.0,
        max_score=5.0,
        pending_points=2.0,
        tests=(
            ItemResult("test_add", 2.0, 2.0, True, "passed", "Passed"),
            ItemResult("test_add_hidden", 0.0, 1.0, False, "failed", "A hidden test failed"),
            ItemResult("essay", 0.0, 2.0, None, "pending", "Waiting"),
        ),
    )
    services.submission_record_grade(claim=claim, report=report)
    world.submission.refresh_from_db()
    assert world.submission.score == Decimal(4)
    assert world.submission.result["pending_points"] == 0


def test_the_csv_never_carries_a_formula_in_a_name(world: World) -> None:
    world.student.name = '=HYPERLINK("http://evil")'
    world.student.save(update_fields=["name"])
    rows = list(
        csv.reader(io.StringIO(gradebook_csv(gradebook=cohort_gradebook(cohort=world.cohort))))
    )
    assert rows[2][0].startswith("'=")


def test_no_cell_of_the_csv_can_carry_a_formula(world: World) -> None:
    # given a learner whose e-mail (signup accepts it) and name start formulas, a cohort and
    # an exercise named as formulas
    world.student.email = "=1+1+x@example.org"
    world.student.name = ""
    world.student.save(update_fields=["email", "name"])
    world.cohort.name = "@SUM(1+1)*cmd|' /C calc'!A0"
    world.cohort.save(update_fields=["name"])
    world.exercise.title = '+HYPERLINK("http://evil.example")'
    world.exercise.save(update_fields=["title"])
    # when the gradebook is exported
    text = gradebook_csv(gradebook=cohort_gradebook(cohort=world.cohort))
    # then no cell starts a formula
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'=1+1+x@example.org" in cells and '\'+HYPERLINK("http://evil.example")' in cells
    assert not [c for c in cells if c[:1] in "=+-@" and c.strip("-.0123456789")]


def test_the_learner_reads_the_graders_comment_with_the_points(world: World) -> None:
    # given a TA graded the free-response answer by hand, with a comment
    manual_grade_set(
        submission=world.submission,
        grade_id="essay",
        points=Decimal("1.5"),
        comment="Clear but too short: give an example.",
        grader=world.ta,
    )
    learner = logged_in(world.student)
    # when the learner reads the submission's status and its feedback page
    status = learner.get(f"/courses/submissions/{world.submission.pk}/").json()
    feedback = learner.get(f"/courses/submissions/{world.submission.pk}/feedback").content.decode()
    # then both show the comment and the points, and no longer wait for a person
    essay = next(t for t in status["tests"] if t["grade_id"] == "essay")
    assert (essay["message"], essay["points"]) == ("Clear but too short: give an example.", 1.5)
    row = re.search(r"<tr><td>essay</td>.*?</tr>", feedback).group(0)
    assert "Clear but too short: give an example." in row and "1.50 / 2" in row
    assert "Graded by a person" in row and "Waiting for a person" not in row


def test_an_answer_pointing_at_a_missing_attachment_still_renders_everywhere(
    world: World,
) -> None:
    # given a learner's free-response answer that shows an attachment it does not carry
    notebook = world.submission.notebook
    essay = next(
        c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "essay"
    )
    essay["source"] = "My plot: ![plot](attachment:plot.png)"
    world.submission.save(update_fields=["notebook"])
    world.exercise.source["cells"].append(
        {"cell_type": "markdown", "metadata": {}, "source": "![f](attachment:f.png)"}
    )
    world.exercise.save(update_fields=["source"])
    # then the staff page, the learner's feedback and the preview answer, without the image
    staff = logged_in(world.ta)
    pages = [
        staff.get(f"{teach_url(world)}submissions/{world.submission.pk}/"),
        logged_in(world.student).get(f"/courses/submissions/{world.submission.pk}/feedback"),
        logged_in(world.instructor).get(f"{teach_url(world)}exercises/{world.exercise.pk}/preview"),
    ]
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert all("attachment:" not in p.content.decode() for p in pages)


def test_the_grader_reads_the_learners_own_cells_under_the_answer_they_follow(
    world: World,
) -> None:
    # given a submission with a cell the learner added under their essay
    notebook = world.submission.notebook
    notebook["cells"].append(
        {"cell_type": "markdown", "metadata": {}, "source": "A second thought, *mine*."}
    )
    world.submission.save(update_fields=["notebook"])
    # when a grader opens it
    url = f"{teach_url(world)}submissions/{world.submission.pk}/"
    html = logged_in(world.ta).get(url).content.decode()
    # then it is there, after the essay, announced as the learner's
    essay = html.index("I added the numbers")
    assert essay < html.index("Cells the learner added:") < html.index("A second thought")
    assert "<em>mine</em>" in html
