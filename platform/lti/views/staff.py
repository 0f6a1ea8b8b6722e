"""Course staff's LTI pages: each learner's score in the LMS gradebooks, resending one,
and reading an LMS course's roster now."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from courses.access import access_course_staff, user_of
from lti import (
    grades,
    outbound,
    roster,
    selectors,
)


@login_required
@require_GET
def scores_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    """Per learner, where their score stands in each LMS gradebook."""
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    return render(
        request,
        "lti/scores.html",
        {
            "course": access.course,
            "scores": selectors.course_scores(course=access.course),
            "contexts": selectors.course_contexts(course=access.course),
        },
    )


@login_required
@require_POST
def score_resend_view(
    request: HttpRequest, org_slug: str, course_slug: str, pk: int
) -> HttpResponse:
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    post = selectors.course_scores(course=access.course).filter(pk=pk).first()
    if post is None:
        raise Http404("No such score")
    grades.score_resend(score_post=post)
    messages.success(request, _("The score will be sent again in a moment."))
    return redirect("lti:scores", org_slug=org_slug, course_slug=course_slug)


@login_required
@require_POST
def roster_sync_view(
    request: HttpRequest, org_slug: str, course_slug: str, context_id: int
) -> HttpResponse:
    """Read the LMS course's roster now (the instructor's "sync")."""
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    context = selectors.course_contexts(course=access.course).filter(pk=context_id).first()
    if context is None:
        raise Http404("No such LMS course")
    try:
        changes = roster.roster_sync(context_id=context.pk)
    except outbound.PlatformError as error:
        messages.error(request, _("The LMS roster could not be read: %s") % error)
    else:
        messages.success(
            request,
            _("Roster synced: %(added)d added, %(changed)d changed, %(removed)d removed.")
            % {k: len(v) for k, v in vars(changes).items()},
        )
    return redirect("lti:scores", org_slug=org_slug, course_slug=course_slug)
