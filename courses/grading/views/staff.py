"""Course staff's grading pages: gradebook, CSV export, analytics, a submission with
marking by hand, regrading; validating an exercise."""

from typing import Any

import nbformat
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from campus.spreadsheets import csv_response
from courses.access import (
    CourseAccess,
    access_course_exercise,
    access_course_for_edit,
    access_course_staff,
    user_of,
)
from courses.assignment import Exercise as ParsedExercise
from courses.assignment import Role, merge_submission
from courses.exercises.selectors import parsed_exercise
from courses.grading import services, validation
from courses.grading.forms import GradebookFilterForm, ManualGradeForm
from courses.grading.gradebook import (
    cohort_analytics,
    cohort_gradebook,
    course_exercises,
    gradebook_rows,
)
from courses.grading.marking import MarkingError, manual_grade_set, manual_items
from courses.html import render_notebook
from courses.models import Cohort, Exercise, ManualGrade, Submission


def _cohort(access: CourseAccess, request: HttpRequest) -> Cohort | None:
    cohorts = Cohort.objects.filter(course=access.course).select_related("course")
    wanted = request.GET.get("cohort")
    if wanted and wanted.isdigit():
        return get_object_or_404(cohorts, pk=int(wanted))
    # The newest cohort is often one that has not started: open the newest with work in it.
    busy = cohorts.filter(Exists(Submission.objects.filter(cohort=OuterRef("pk"))))
    return busy.first() or cohorts.first()


@login_required
def gradebook_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    cohort = _cohort(access, request)
    form = GradebookFilterForm(request.GET or None)
    exercises = course_exercises(cohort=cohort) if cohort else []
    form.fields["exercise"].choices = [("", _("All exercises"))] + [  # type: ignore[attr-defined]
        (e.pk, e.title) for e in exercises
    ]
    filters: dict[str, Any] = {}
    if form.is_valid():
        filters = {
            "query": form.cleaned_data["q"],
            "only_late": form.cleaned_data["late"],
            "only_missing": form.cleaned_data["missing"],
            "exercise_id": form.cleaned_data["exercise"],
        }
    gradebook = cohort_gradebook(cohort=cohort, **filters) if cohort else None
    return render(
        request,
        "courses/grading/gradebook.html",
        {
            "access": access,
            "course": access.course,
            "cohort": cohort,
            "form": form,
            "gradebook": gradebook,
            "cohorts": list(Cohort.objects.filter(course=access.course)),
        },
    )


@login_required
def gradebook_csv_view(
    request: HttpRequest, org_slug: str, course_slug: str, cohort_id: int
) -> HttpResponse:
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    cohort = get_object_or_404(
        Cohort.objects.select_related("course"), pk=cohort_id, course=access.course
    )
    return csv_response(
        rows=gradebook_rows(gradebook=cohort_gradebook(cohort=cohort)),
        filename=f"{access.course.slug}-{cohort.pk}-grades.csv",
    )


def _submission(
    request: HttpRequest, org_slug: str, course_slug: str, submission_id: int
) -> tuple[CourseAccess, Submission]:
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    submission = get_object_or_404(
        Submission.objects.select_related("exercise__module", "learner", "cohort"),
        pk=submission_id,
        exercise__module__course=access.course,
    )
    return access, submission


@login_required
def submission_view(
    request: HttpRequest, org_slug: str, course_slug: str, submission_id: int
) -> HttpResponse:
    access, submission = _submission(request, org_slug, course_slug, submission_id)
    parsed = parsed_exercise(submission.exercise)
    merged = merge_submission(exercise=parsed, submission=submission.notebook, as_placed=True)
    notebook = _staff_notebook(merged)
    grades = {g.grade_id: g for g in ManualGrade.objects.filter(submission=submission)}
    manual = [
        (
            grade_id,
            maximum,
            grades.get(grade_id),
            ManualGradeForm(
                initial={
                    "grade_id": grade_id,
                    "points": getattr(grades.get(grade_id), "points", None),
                    "comment": getattr(grades.get(grade_id), "comment", ""),
                },
                prefix=grade_id,
            ),
        )
        for grade_id, maximum in manual_items(submission=submission).items()
    ]
    return render(
        request,
        "courses/grading/submission.html",
        {
            "access": access,
            "course": access.course,
            "submission": submission,
            "tests": (submission.result or {}).get("tests", []),
            "notes": (submission.result or {}).get("notes", []),
            "notebook_html": render_notebook(notebook),
            "manual": manual,
            "history": submission.grades.select_related("graded_by").order_by("-created_at"),
        },
    )


def _staff_notebook(merged: ParsedExercise) -> nbformat.NotebookNode:
    """The learner's answers in the instructor's notebook; staff see hidden tests too. The
    cells the learner added (a task's answer) are where they put them, announced as theirs."""
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}
    cells = []
    previous: Role | None = None
    for cell in merged.cells:
        if cell.role is Role.ADDED and previous is not Role.ADDED:
            cells.append(nbformat.v4.new_markdown_cell(f"*{_('Cells the learner added:')}*"))
        cells.append(make.get(cell.cell_type, nbformat.v4.new_raw_cell)(cell.source))
        previous = cell.role
    return nbformat.v4.new_notebook(cells=cells, metadata=dict(merged.metadata))


@login_required
@require_POST
def manual_grade_view(
    request: HttpRequest, org_slug: str, course_slug: str, submission_id: int
) -> HttpResponse:
    submission = _submission(request, org_slug, course_slug, submission_id)[1]
    grade_id = request.POST.get("grade_id", "")
    form = ManualGradeForm(request.POST, prefix=grade_id)
    if form.is_valid():
        try:
            manual_grade_set(
                submission=submission,
                grade_id=form.cleaned_data["grade_id"],
                points=form.cleaned_data["points"],
                comment=form.cleaned_data["comment"],
                grader=user_of(request),
            )
        except MarkingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Grade saved."))
    else:
        messages.error(request, _("Give points as a number, at least 0."))
    return redirect("courses:teach:submission", org_slug, course_slug, submission.pk)


@login_required
@require_POST
def submission_regrade_view(
    request: HttpRequest, org_slug: str, course_slug: str, submission_id: int
) -> HttpResponse:
    submission = _submission(request, org_slug, course_slug, submission_id)[1]
    if services.submission_regrade(submission=submission):
        messages.success(request, _("Submission queued for regrading."))
    else:
        messages.error(request, _("This submission is still being graded."))
    return redirect("courses:teach:submission", org_slug, course_slug, submission.pk)


@login_required
def analytics_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    cohort = _cohort(access, request)
    exercises = course_exercises(cohort=cohort) if cohort else []
    exercise: Exercise | None = None
    wanted = request.GET.get("exercise", "")
    if wanted.isdigit():
        exercise = next((e for e in exercises if e.pk == int(wanted)), None)
    data = cohort_analytics(cohort=cohort, exercise=exercise) if cohort else None
    chart_data = data and {
        "distribution": data.distribution,
        "pass_rates": [[g, p, t] for g, p, t in data.pass_rates],
        "per_day": [[d.isoformat(), n] for d, n in data.per_day],
    }
    return render(
        request,
        "courses/grading/analytics.html",
        {
            "access": access,
            "course": access.course,
            "cohort": cohort,
            "exercise": exercise,
            "exercises": exercises,
            "cohorts": list(Cohort.objects.filter(course=access.course)),
            "data": data,
            "chart_data": chart_data,
            "bins": [f"{10 * i}-{10 * i + 10} %" for i in range(10)],
        },
    )


@login_required
@require_POST
def exercise_validate_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_id: int
) -> HttpResponse:
    access = access_course_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug
    )
    exercise = access_course_exercise(access=access, exercise_id=exercise_id)
    validation.validation_request(exercise=exercise, requested_by=user_of(request))
    messages.info(
        request,
        _(
            "Validation queued: a worker grades the reference solution and "
            "the student version. This page updates when it is done."
        ),
    )
    return redirect("courses:teach:exercise", org_slug, course_slug, exercise.pk)


@login_required
@require_POST
def exercise_regrade_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_id: int
) -> HttpResponse:
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    exercise = access_course_exercise(access=access, exercise_id=exercise_id)
    count = services.exercise_regrade_all(exercise=exercise)
    messages.success(
        request,
        ngettext(
            "%(count)d submission queued for regrading.",
            "%(count)d submissions queued for regrading.",
            count,
        )
        % {"count": count},
    )
    return redirect("courses:teach:exercise", org_slug, course_slug, exercise.pk)
