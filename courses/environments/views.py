"""The course's packages on its settings page: saving the pins, and the build's status
(polled by static/js/environment.js while it builds)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from courses.access import access_course_for_edit, access_course_staff, user_of
from courses.environments.forms import RequirementsForm
from courses.environments.selectors import environment_state
from courses.environments.services import environment_request


@login_required
@require_POST
def environment_edit_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    access = access_course_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug
    )
    form = RequirementsForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "courses/environments/edit.html",
            {
                "access": access,
                "course": access.course,
                "form": form,
                "state": environment_state(access.course),
            },
            status=400,
        )
    environment = environment_request(
        course=access.course, requirements=form.cleaned_data["requirements"]
    )
    if environment is None:
        messages.success(request, _("The course uses the standard packages."))
    else:
        messages.success(request, _("Packages saved. Their environment is being prepared."))
    return redirect("courses:teach:course", org_slug, course_slug)


@login_required
def environment_status_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    return JsonResponse(environment_state(access.course))
