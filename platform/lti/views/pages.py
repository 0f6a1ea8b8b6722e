"""Pages for the people a launch brought: the deep-linking picker (instructors) and
linking the LMS identity to an account they already have here."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from courses.access import user_of
from lti import (
    deep_linking,
    linking,
)
from lti.forms import AccountLinkForm
from lti.middleware import LTI_SESSION
from lti.models import Registration
from lti.views import error_page
from lti.views.launch import LOGIN_BACKEND


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def deep_link_view(request: HttpRequest) -> HttpResponse:
    """The picker: the instructor's choice goes back to the LMS as a signed response."""
    remembered = request.session.get(deep_linking.SESSION_KEY)
    if not remembered or remembered.get("user") != request.user.pk:
        return error_page(request, _("Open the tool's link picker from your LMS again."))
    if request.method == "POST":
        chosen = [] if "cancel" in request.POST else request.POST.getlist("item")
        if not chosen and "cancel" not in request.POST:
            messages.error(request, _("Choose at least one exercise or lesson, or cancel."))
            return redirect("lti:deep_link")
        token = deep_linking.response_jwt(
            request_state=remembered,
            choices=chosen,
            base_url=request.build_absolute_uri("/").rstrip("/"),
        )
        del request.session[deep_linking.SESSION_KEY]
        return render(
            request,
            "lti/autopost.html",
            {"action": remembered["return_url"], "fields": {"JWT": token}},
        )
    registration = Registration.objects.get(pk=remembered["registration"])
    courses = deep_linking.offered_courses(registration=registration, user=user_of(request))
    return render(
        request,
        "lti/deep_link.html",
        {"courses": courses, "multiple": remembered["accept_multiple"]},
    )


def _local_next(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted.startswith("/") and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("courses:my_courses")


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def link_view(request: HttpRequest) -> HttpResponse:
    """After a first launch: the person may link the LMS identity to the account they already
    have here, by signing in to it once. Only from a launched session of an account that a
    launch made; anyone else goes straight on."""
    target = _local_next(request)
    user = user_of(request)
    if not request.session.get(LTI_SESSION) or not linking.is_lms_only(user):
        return HttpResponseRedirect(target)
    form = AccountLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            local = linking.local_account_check(request=request, **form.cleaned_data)
            linking.account_link(lms_user=user, local_user=local)
        except linking.LinkError as error:
            form.add_error(None, str(error))
        else:
            marker = request.session[LTI_SESSION]
            login(request, local, backend=LOGIN_BACKEND)
            request.session[LTI_SESSION] = marker
            messages.success(
                request,
                _(
                    "Your LMS account is now linked to %(email)s: the links in your LMS open "
                    "this account from now on."
                )
                % {"email": local.email},
            )
            return HttpResponseRedirect(target)
    return render(request, "lti/link.html", {"form": form, "next": target})
