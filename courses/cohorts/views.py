"""Cohort pages: create and edit cohorts, their invite links, CSV enrollment, a cohort's
people (search, role, removal); and the invite link itself.

Thin views: each checks access with an `access_*` helper, then calls one service or selector.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campus.forms import MemberSearchForm
from campus.models import User
from courses.access import (
    access_cohort_by_code,
    access_cohort_for_edit,
    access_course_cohorts,
    access_university_courses,
    course_access,
    user_of,
)
from courses.cohorts.enrollment_csv import MAX_BYTES, Outcome, enrollment_csv_import
from courses.cohorts.forms import CohortForm, EnrollmentCsvForm, EnrollmentRoleForm
from courses.cohorts.quotas import quota_usage_today
from courses.cohorts.selectors import (
    cohort_people,
    course_cohorts,
    invitation_replaced,
    university_courses,
)
from courses.cohorts.services import (
    EnrollmentRefused,
    check_can_join,
    cohort_create,
    cohort_regenerate_code,
    cohort_update,
    enrollment_join_by_code,
    enrollment_remove,
    enrollment_set_role,
)
from courses.models import Cohort, CohortQuota, Enrollment, EnrollmentRole

PEOPLE_PER_PAGE = 50


def _cohorts_url(cohort: Cohort) -> str:
    course = cohort.course
    return reverse("cohorts:list", args=[course.organization.slug, course.slug])


@login_required
def university_courses_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = access_university_courses(user=user_of(request), org_slug=org_slug)
    courses = university_courses(organization=organization)
    return render(
        request,
        "courses/cohorts/university_courses.html",
        {"organization": organization, "courses": courses},
    )


@login_required
def cohort_list_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    access = access_course_cohorts(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug
    )
    cohorts = course_cohorts(course=access.course)
    return render(
        request, "courses/cohorts/list.html", {"course": access.course, "cohorts": cohorts}
    )


@login_required
def cohort_create_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    access = access_course_cohorts(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug
    )
    form = CohortForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        cohort = cohort_create(
            actor=user_of(request), course=access.course, settings=form.to_settings()
        )
        messages.success(request, _("Cohort “%(name)s” created.") % {"name": cohort.name})
        return redirect(_cohorts_url(cohort))
    return render(
        request,
        "courses/cohorts/form.html",
        {"course": access.course, "form": form, "cohort": None},
    )


@login_required
def cohort_edit_view(
    request: HttpRequest, org_slug: str, course_slug: str, cohort_id: int
) -> HttpResponse:
    cohort = access_cohort_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug, cohort_id=cohort_id
    )
    quota = CohortQuota.objects.filter(cohort=cohort).first()
    initial = {
        "name": cohort.name,
        "starts_on": cohort.starts_on,
        "ends_on": cohort.ends_on,
        "time_zone": cohort.time_zone,
        "capacity": cohort.capacity,
        "cpu_seconds_per_day": quota.cpu_seconds_per_day if quota else None,
        "model_tokens_per_day": quota.model_tokens_per_day if quota else None,
    }
    form = CohortForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        cohort_update(actor=user_of(request), cohort=cohort, settings=form.to_settings())
        messages.success(request, _("Cohort “%(name)s” saved.") % {"name": cohort.name})
        return redirect(_cohorts_url(cohort))
    invite_url = request.build_absolute_uri(reverse("cohorts:join", args=[cohort.enrollment_code]))
    return render(
        request,
        "courses/cohorts/form.html",
        {"course": cohort.course, "form": form, "cohort": cohort, "invite_url": invite_url},
    )


@login_required
@require_POST
def cohort_code_view(
    request: HttpRequest, org_slug: str, course_slug: str, cohort_id: int
) -> HttpResponse:
    cohort = access_cohort_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug, cohort_id=cohort_id
    )
    cohort_regenerate_code(actor=user_of(request), cohort=cohort)
    messages.success(
        request, _("New enrollment code made: the previous invite link no longer works.")
    )
    return redirect(reverse("cohorts:edit", args=[org_slug, course_slug, cohort.pk]) + "#invite")


@login_required
def cohort_import_view(
    request: HttpRequest, org_slug: str, course_slug: str, cohort_id: int
) -> HttpResponse:
    cohort = access_cohort_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug, cohort_id=cohort_id
    )
    form = EnrollmentCsvForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        # One byte past the limit is enough for the check to refuse an oversized file.
        data = upload.read(MAX_BYTES + 1)
        report = enrollment_csv_import(actor=user_of(request), cohort=cohort, data=data)
    return render(
        request,
        "courses/cohorts/import.html",
        {
            "course": cohort.course,
            "cohort": cohort,
            "form": form,
            "report": report,
            "outcomes": Outcome,
        },
        status=422 if report is not None and report.has_errors else 200,
    )


@login_required
def join_view(request: HttpRequest, code: str) -> HttpResponse:
    """GET: what the invitation is for; POST: enroll the logged-in user as a student."""
    try:
        cohort = access_cohort_by_code(user=user_of(request), code=code)
    except Http404:
        return _invitation_not_found(request, code)
    refusal = ""
    if request.method == "POST":
        try:
            result = enrollment_join_by_code(user=user_of(request), code=code)
        except Cohort.DoesNotExist:
            # The code was regenerated between the check above and the lock.
            return _invitation_not_found(request, code)
        except EnrollmentRefused as error:
            refusal = str(error)
        else:
            if result.created:
                messages.success(
                    request, _("Welcome to %(course)s!") % {"course": cohort.course.title}
                )
            else:
                messages.info(request, _("You are already enrolled in this course."))
            return redirect(_after_join(user=user_of(request), cohort=cohort))
    elif not cohort.enrollments.filter(user=user_of(request)).exists():
        try:
            check_can_join(cohort=cohort)
        except EnrollmentRefused as error:
            refusal = str(error)
    enrolled = cohort.enrollments.filter(user=user_of(request)).exists()
    return render(
        request,
        "courses/cohorts/join.html",
        {"cohort": cohort, "course": cohort.course, "refusal": refusal, "enrolled": enrolled},
        status=409 if refusal and request.method == "POST" else 200,
    )


def _invitation_not_found(request: HttpRequest, code: str) -> HttpResponse:
    """A 404 that says whether the link was replaced by a newer one, and whom to ask."""
    return render(
        request,
        "courses/cohorts/join_not_found.html",
        {"replaced": invitation_replaced(code=code)},
        status=404,
    )


def _after_join(*, user: User, cohort: Cohort) -> str:
    """The course page when the learner may see it (published), their courses otherwise."""
    course = cohort.course
    if course_access(user=user, course=course) is not None:
        return reverse("courses:outline", args=[course.organization.slug, course.slug])
    return reverse("courses:my_courses")


# ------------------------------------------------------------------ people


@login_required
def cohort_people_view(
    request: HttpRequest, org_slug: str, course_slug: str, cohort_id: int
) -> HttpResponse:
    cohort = access_cohort_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug, cohort_id=cohort_id
    )
    search = MemberSearchForm(request.GET)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    page = Paginator(cohort_people(cohort=cohort, search=query), PEOPLE_PER_PAGE).get_page(
        request.GET.get("page")
    )
    usage = quota_usage_today(cohort=cohort, user_ids=[e.user_id for e in page])
    rows = [(enrollment, usage.get(enrollment.user_id, {})) for enrollment in page]
    quota = CohortQuota.objects.filter(cohort=cohort).first()
    return render(
        request,
        "courses/cohorts/people.html",
        {
            "course": cohort.course,
            "cohort": cohort,
            "page": page,
            "rows": rows,
            "quota": quota,
            "query": query,
            "roles": EnrollmentRole.choices,
        },
    )


def _enrollment(*, cohort: Cohort, enrollment_id: int) -> Enrollment:
    enrollment = (
        Enrollment.objects.filter(cohort=cohort, pk=enrollment_id)
        .select_related("user", "cohort__course__organization")
        .first()
    )
    if enrollment is None:
        raise Http404("No such enrollment")
    return enrollment


def _back(request: HttpRequest, cohort: Cohort) -> str:
    """Return to the same search and page."""
    course = cohort.course
    fallback = reverse("cohorts:people", args=[course.organization.slug, course.slug, cohort.pk])
    target = request.POST.get("next", "")
    if target.startswith(fallback) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return target
    return fallback


@login_required
@require_POST
def enrollment_role_view(
    request: HttpRequest, org_slug: str, course_slug: str, cohort_id: int, enrollment_id: int
) -> HttpResponse:
    cohort = access_cohort_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug, cohort_id=cohort_id
    )
    enrollment = _enrollment(cohort=cohort, enrollment_id=enrollment_id)
    form = EnrollmentRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the listed roles."))
        return redirect(_back(request, cohort))
    try:
        enrollment_set_role(
            actor=user_of(request), enrollment=enrollment, role=form.cleaned_data["role"]
        )
    except EnrollmentRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("%(email)s is now: %(role)s.")
            % {"email": enrollment.user.email, "role": enrollment.get_role_display()},
        )
    return redirect(_back(request, cohort))


@login_required
@require_POST
def enrollment_remove_view(
    request: HttpRequest, org_slug: str, course_slug: str, cohort_id: int, enrollment_id: int
) -> HttpResponse:
    cohort = access_cohort_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug, cohort_id=cohort_id
    )
    enrollment = _enrollment(cohort=cohort, enrollment_id=enrollment_id)
    email = enrollment.user.email
    enrollment_remove(actor=user_of(request), enrollment=enrollment)
    messages.success(
        request,
        _("%(email)s was taken out of %(cohort)s.") % {"email": email, "cohort": cohort.name},
    )
    return redirect(_back(request, cohort))
