"""A cohort's people: search, change someone's role in the cohort, take them out.

Thin: each view checks access with `access_cohort_for_edit`, then calls one service.
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
from courses.access_cohorts import access_cohort_for_edit
from courses.forms_cohorts import EnrollmentRoleForm
from courses.models import Cohort, CohortQuota, Enrollment, EnrollmentRole
from courses.quotas import quota_usage_today
from courses.selectors_cohorts import cohort_people
from courses.services_cohorts import EnrollmentRefused, enrollment_remove, enrollment_set_role

PEOPLE_PER_PAGE = 50


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
def cohort_people_view(
    request: HttpRequest, org_slug: str, course_slug: str, cohort_id: int
) -> HttpResponse:
    cohort = access_cohort_for_edit(
        user=_user(request), org_slug=org_slug, course_slug=course_slug, cohort_id=cohort_id
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
        user=_user(request), org_slug=org_slug, course_slug=course_slug, cohort_id=cohort_id
    )
    enrollment = _enrollment(cohort=cohort, enrollment_id=enrollment_id)
    form = EnrollmentRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the listed roles."))
        return redirect(_back(request, cohort))
    try:
        enrollment_set_role(
            actor=_user(request), enrollment=enrollment, role=form.cleaned_data["role"]
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
        user=_user(request), org_slug=org_slug, course_slug=course_slug, cohort_id=cohort_id
    )
    enrollment = _enrollment(cohort=cohort, enrollment_id=enrollment_id)
    email = enrollment.user.email
    enrollment_remove(actor=_user(request), enrollment=enrollment)
    messages.success(
        request,
        _("%(email)s was taken out of %(cohort)s.") % {"email": email, "cohort": cohort.name},
    )
    return redirect(_back(request, cohort))
