"""Exercise pages: upload with per-cell problems, settings, per-cohort settings, extensions.
(Validating and regrading an exercise are grading's pages.)"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campus.selectors import users_by_verified_email
from courses.access import (
    access_course_exercise,
    access_course_for_edit,
    access_course_staff,
    user_of,
)
from courses.assignment import ExerciseInvalid
from courses.catalog.services import AuthoringError
from courses.exercises import services
from courses.exercises.forms import (
    CohortSettingsForm,
    ExerciseSettingsForm,
    ExerciseUploadForm,
    ExtensionForm,
    NotebookForm,
)
from courses.models import Cohort, CohortExercise, Exercise, ExerciseValidation, Module


@login_required
def exercise_upload_view(
    request: HttpRequest, org_slug: str, course_slug: str, module_id: int
) -> HttpResponse:
    access = access_course_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug
    )
    module = get_object_or_404(Module, pk=module_id, course=access.course)
    form = ExerciseUploadForm(request.POST or None, request.FILES or None)
    problems: list[Any] = []
    if request.method == "POST" and form.is_valid():
        try:
            exercise = services.exercise_upload(
                module=module,
                title=form.cleaned_data["title"],
                notebook=form.cleaned_data["notebook"].read(),
            )
        except ExerciseInvalid as exc:
            problems = exc.problems
        except AuthoringError as exc:
            problems = [str(exc)]
        else:
            messages.success(request, _("Exercise imported. Validate it before learners see it."))
            return redirect("courses:teach:exercise", org_slug, course_slug, exercise.pk)
    status = 400 if problems else 200
    return render(
        request,
        "courses/exercises/exercise_upload.html",
        {
            "course": access.course,
            "module": module,
            "form": form,
            "problems": problems,
        },
        status=status,
    )


def _settings_initial(exercise: Exercise) -> dict[str, Any]:
    return {name: getattr(exercise, name) for name in ExerciseSettingsForm.base_fields}


def _cohort_forms(exercise: Exercise, cohorts: list[Cohort]) -> list[tuple[Cohort, Any]]:
    overrides = {o.cohort_id: o for o in CohortExercise.objects.filter(exercise=exercise)}
    forms = []
    for cohort in cohorts:
        override = overrides.get(cohort.pk)
        initial = {n: getattr(override, n) for n in CohortSettingsForm().fields} if override else {}
        forms.append((cohort, CohortSettingsForm(initial=initial, prefix=f"cohort-{cohort.pk}")))
    return forms


@login_required
def exercise_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_id: int
) -> HttpResponse:
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    exercise = access_course_exercise(access=access, exercise_id=exercise_id)
    form = ExerciseSettingsForm(initial=_settings_initial(exercise))
    if request.method == "POST":
        access = access_course_for_edit(
            user=user_of(request),
            org_slug=org_slug,
            course_slug=course_slug,
        )
        form = ExerciseSettingsForm(request.POST)
        if form.is_valid():
            services.exercise_update(
                exercise=exercise, settings=services.ExerciseSettings(**form.cleaned_data)
            )
            messages.success(request, _("Exercise settings saved."))
            return redirect("courses:teach:exercise", org_slug, course_slug, exercise.pk)
    cohorts = list(Cohort.objects.filter(course=access.course))
    validation = ExerciseValidation.objects.filter(exercise=exercise).first()
    return render(
        request,
        "courses/exercises/exercise.html",
        {
            "access": access,
            "course": access.course,
            "exercise": exercise,
            "form": form,
            "cohort_forms": _cohort_forms(exercise, cohorts),
            "validation": validation,
            # Its own ids: the settings form above has a due_at field too.
            "extension_form": ExtensionForm(auto_id="extension-%s"),
            "notebook_form": NotebookForm(),
            "extensions": exercise.extensions.select_related("learner").order_by("learner__email"),
        },
    )


@login_required
@require_POST
def exercise_notebook_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_id: int
) -> HttpResponse:
    access = access_course_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug
    )
    exercise = access_course_exercise(access=access, exercise_id=exercise_id)
    form = NotebookForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.exercise_replace_notebook(
                exercise=exercise, notebook=form.cleaned_data["notebook"].read()
            )
        except ExerciseInvalid as exc:
            for problem in exc.problems:
                messages.error(request, str(problem))
        else:
            messages.success(request, _("Notebook replaced. Validate it again."))
    return redirect("courses:teach:exercise", org_slug, course_slug, exercise.pk)


@login_required
@require_POST
def cohort_settings_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_id: int, cohort_id: int
) -> HttpResponse:
    access = access_course_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug
    )
    exercise = access_course_exercise(access=access, exercise_id=exercise_id)
    cohort = get_object_or_404(Cohort, pk=cohort_id, course=access.course)
    form = CohortSettingsForm(request.POST, prefix=f"cohort-{cohort.pk}")
    if form.is_valid():
        data = {"title": exercise.title, **form.cleaned_data}
        services.cohort_exercise_set(
            cohort=cohort, exercise=exercise, settings=services.ExerciseSettings(**data)
        )
        messages.success(request, _("Settings for %(cohort)s saved.") % {"cohort": cohort.name})
    else:
        messages.error(request, _("Check the settings for %(cohort)s.") % {"cohort": cohort.name})
    return redirect("courses:teach:exercise", org_slug, course_slug, exercise.pk)


@login_required
@require_POST
def extension_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_id: int
) -> HttpResponse:
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    exercise = access_course_exercise(access=access, exercise_id=exercise_id)
    form = ExtensionForm(request.POST)
    learner = None
    if form.is_valid():
        email = form.cleaned_data["learner"]
        learner = users_by_verified_email(emails=[email]).get(email.strip().lower())
        if (
            learner is not None
            and not learner.enrollments.filter(cohort__course=access.course).exists()
        ):
            learner = None
    if learner is None:
        messages.error(request, _("No learner with this e-mail in this course."))
    else:
        services.extension_grant(
            exercise=exercise,
            learner=learner,
            due_at=form.cleaned_data["due_at"],
            reason=form.cleaned_data["reason"],
            granted_by=user_of(request),
        )
        messages.success(request, _("Extension granted to %(email)s.") % {"email": learner.email})
    return redirect("courses:teach:exercise", org_slug, course_slug, exercise.pk)
