"""Dynamic registration (the URL an LMS admin pastes) and the university admins' LTI page:
connected LMSs, revoking one, adding a deployment."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_POST

from campus.access import access_organization_admin
from courses.access import user_of
from lti import (
    registration,
    selectors,
)
from lti.forms import DeploymentForm
from lti.models import Registration
from lti.views import error_page

# ------------------------------------------------------------------ dynamic registration


@never_cache
@xframe_options_exempt
@require_GET
def register_view(request: HttpRequest, token: str) -> HttpResponse:
    """The registration URL an admin pastes into the LMS. The LMS opens it (in a frame or a
    window) with `openid_configuration` and `registration_token`; we register at once."""
    try:
        organization = registration.organization_of_token(token)
    except registration.RegistrationError as error:
        return error_page(request, str(error), status=403)
    config_url = request.GET.get("openid_configuration", "")
    if not config_url:
        return render(request, "lti/register.html", {"organization": organization, "done": None})
    try:
        made = registration.registration_register(
            organization=organization,
            openid_configuration_url=config_url,
            registration_token=request.GET.get("registration_token", ""),
            base_url=request.build_absolute_uri("/").rstrip("/"),
            tool_name=_("Open Science Training"),
        )
    except registration.RegistrationError as error:
        return error_page(request, str(error))
    return render(request, "lti/register.html", {"organization": organization, "done": made})


# ------------------------------------------------------------------ the university's admins


@login_required
@require_GET
def university_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = access_organization_admin(user=user_of(request), slug=org_slug)
    token = registration.registration_token(organization=organization)
    return render(
        request,
        "lti/university.html",
        {
            "organization": organization,
            "registrations": selectors.university_registrations(organization=organization),
            "registration_url": request.build_absolute_uri(
                reverse("lti:register", kwargs={"token": token})
            ),
            "tool_urls": {
                _("Login initiation URL"): request.build_absolute_uri(reverse("lti:login")),
                _("Redirect (launch) URL"): request.build_absolute_uri(reverse("lti:launch")),
                _("Public keyset (JWKS) URL"): request.build_absolute_uri(reverse("lti:jwks")),
            },
            "deployment_form": DeploymentForm(),
        },
    )


def _university_registration(request: HttpRequest, org_slug: str, pk: int) -> Registration:
    organization = access_organization_admin(user=user_of(request), slug=org_slug)
    found = Registration.objects.filter(organization=organization, pk=pk).first()
    if found is None:
        raise Http404("No such registration")
    return found


@login_required
@require_POST
def revoke_view(request: HttpRequest, org_slug: str, pk: int) -> HttpResponse:
    found = _university_registration(request, org_slug, pk)
    registration.registration_revoke(actor=user_of(request), registration=found)
    messages.success(
        request, _("%(name)s was revoked: it can no longer launch.") % {"name": found.name}
    )
    return redirect("lti_university:home", org_slug=org_slug)


@login_required
@require_POST
def deployment_add_view(request: HttpRequest, org_slug: str, pk: int) -> HttpResponse:
    found = _university_registration(request, org_slug, pk)
    form = DeploymentForm(request.POST)
    if form.is_valid():
        registration.deployment_add(
            actor=user_of(request),
            registration=found,
            deployment_id=form.cleaned_data["deployment_id"],
        )
        messages.success(request, _("Deployment added."))
    else:
        messages.error(request, _("Give the deployment id the LMS shows."))
    return redirect("lti_university:home", org_slug=org_slug)
