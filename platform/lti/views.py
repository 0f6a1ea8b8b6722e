"""The tool's endpoints for platforms (JWKS, OIDC login, launch) and its pages.

The platform posts the login and the launch cross-site, so those two are exempt from CSRF:
their protection is the state (single use, bound to the browser by a cookie when the
browser keeps one, or by the LMS's own storage through postMessage: LTI Platform Storage)
and the nonce inside the signed id_token. Both are framable: the LMS frames them.
"""

from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campus.access import access_organization_admin
from campus.models import User
from courses.access import access_course_staff, user_of
from lti import (
    claims,
    deep_linking,
    grades,
    keys,
    linking,
    outbound,
    registration,
    roster,
    selectors,
    services,
    tokens,
)
from lti.cookies import STATE_COOKIE, set_cross_site_cookie
from lti.forms import AccountLinkForm, DeploymentForm
from lti.middleware import LTI_SESSION
from lti.models import LaunchState, Registration

LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _error(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(request, "lti/error.html", {"message": message}, status=status)


@require_GET
def jwks_view(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(keys.tool_jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


@csrf_exempt
@never_cache
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """OIDC third-party initiated login: remember a state and nonce, send the browser to the
    platform's authorization endpoint."""
    params = request.POST if request.method == "POST" else request.GET
    issuer = params.get("iss", "")
    login_hint = params.get("login_hint", "")
    target = params.get("target_link_uri", "")
    if not issuer or not login_hint or not target:
        return _error(
            request, _("The LMS's login request lacks iss, login_hint or target_link_uri.")
        )
    registration = selectors.registration_for_login(
        issuer=issuer, client_id=params.get("client_id", "")
    )
    if registration is None:
        return _error(
            request,
            _(
                "This LMS is not registered with this site, or more than one registration "
                "matches and the LMS sent no client_id. A university admin can register it."
            ),
            status=403,
        )
    # LTI Platform Storage: the LMS names a frame that keeps data for us, where our cookie
    # may not survive its iframe.
    storage_target = params.get("lti_storage_target", "").strip()
    login_state = tokens.state_create(
        registration=registration, target_link_uri=target, storage_target=storage_target
    )
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": registration.client_id,
        "redirect_uri": request.build_absolute_uri(reverse("lti:launch")),
        "login_hint": login_hint,
        "state": login_state.state,
        "nonce": login_state.nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in registration.auth_login_url else "?"
    authorize = registration.auth_login_url + separator + urlencode(query)
    if storage_target:
        response = _platform_storage_page(request, login_state, mode="put", next=authorize)
    else:
        response = HttpResponseRedirect(authorize)
    set_cross_site_cookie(
        response,
        request,
        STATE_COOKIE,
        login_state.state,
        max_age=int(tokens.STATE_TTL.total_seconds()),
    )
    return response


@csrf_exempt
@never_cache
@xframe_options_exempt
@require_POST
def launch_view(request: HttpRequest) -> HttpResponse:
    """The platform posts the id_token here; the person is logged in and sent on."""
    state = request.POST.get("state", "")
    id_token = request.POST.get("id_token", "")
    if request.POST.get("error"):
        return _error(
            request,
            _("The LMS refused the launch: %(error)s")
            % {"error": request.POST.get("error_description") or request.POST["error"]},
        )
    if not state or not id_token:
        return _error(request, _("The launch lacks its state or id_token."))
    cookie = request.COOKIES.get(STATE_COOKIE)
    # One that sends another login's state is refused. A browser that blocks third-party
    # cookies sends none: where the login kept its state and nonce in the LMS's storage, our
    # page reads them back in this browser before the launch goes on; otherwise the state is
    # still single use and bound to the nonce in the signed token.
    if cookie is not None and cookie != state:
        return _error(request, _("This launch belongs to another login. Open the link again."))
    if cookie is None:
        kept = tokens.state_kept_by_platform(state=state)
        if kept is not None and request.POST.get(STORAGE_CHECKED) != "1":
            fields = {"id_token": id_token, "state": state, STORAGE_CHECKED: "1", IN_FRAME: ""}
            return _platform_storage_page(request, kept, mode="get", fields=fields)
        if kept is not None and not _posted_by_this_site(request):
            return _error(
                request,
                _("This launch was not confirmed by this site's page. Open the link again."),
                status=403,
            )
    try:
        launch = tokens.launch_validate(id_token=id_token, state=state)
        if launch.message_type == claims.DEEP_LINKING_REQUEST:
            return _deep_linking_start(request, launch)
        result = services.launch_complete(launch=launch, host=request.get_host())
    except tokens.LaunchError as error:
        return _error(request, str(error), status=403)
    roster.roster_sync_soon(context=result.context)
    _login(request, result.user, launch)
    target = reverse("courses:my_courses") if result.target is None else result.target.url()
    if result.target is not None and result.role is None:
        return _error(
            request,
            _("Your role in this LMS course gives no access to this page. Ask the instructor."),
            status=403,
        )
    if result.new_account:
        # Said once, on the page the person lands on; linking is their choice.
        link = reverse("lti:link") + "?" + urlencode({"next": target})
        messages.info(
            request,
            format_html(
                '{} <a href="{}">{}</a>',
                _("You already have an account on this site?"),
                link,
                _("Sign in to link it to your LMS account."),
            ),
        )
    # Our storage page says so too: browsers send no Sec-Fetch-* to plain-HTTP sites.
    if request.headers.get("Sec-Fetch-Dest") == "iframe" or request.POST.get(IN_FRAME) == "1":
        return _continue_in_frame(request, result.user, target)
    return HttpResponseRedirect(target)


STORAGE_CHECKED = "lti_storage_checked"
IN_FRAME = "lti_in_frame"


def _platform_storage_page(
    request: HttpRequest, login_state: LaunchState, *, mode: str, **context: Any
) -> HttpResponse:
    """The page whose script keeps ("put") or reads back ("get") the login's state and
    nonce in the LMS's storage (static/js/lti-storage.js), then goes on."""
    parts = urlsplit(login_state.registration.auth_login_url)
    return render(
        request,
        "lti/storage.html",
        {
            "mode": mode,
            # The LMS's storage answers from its authorization endpoint's origin only.
            "origin": f"{parts.scheme}://{parts.netloc}",
            "target": login_state.storage_target,
            "state": login_state.state,
            "nonce": login_state.nonce,
            **context,
        },
    )


def _posted_by_this_site(request: HttpRequest) -> bool:
    """A form of our own page, not another site's: the browser sets Origin, no page can."""
    return request.headers.get("Origin") == f"{request.scheme}://{request.get_host()}"


def _continue_in_frame(request: HttpRequest, user: User, target: str) -> HttpResponse:
    """Inside the LMS's iframe the browser may refuse our cookie (third-party cookies
    blocked, no partitioned cookies): the page checks that the session holds and goes on,
    or offers to open the exercise in a window of its own, logged in by a one-time link."""
    resume = reverse(
        "lti:resume", kwargs={"token": services.resume_token(user=user, target=target)}
    )
    return render(
        request,
        "lti/continue.html",
        {"target": target, "resume": resume, "check": reverse("lti:session")},
    )


@never_cache
@require_GET
def session_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"authenticated": request.user.is_authenticated})


@never_cache
@require_GET
def resume_view(request: HttpRequest, token: str) -> HttpResponse:
    """The new-window fallback: a one-time link (minutes, single use) that logs in the
    person of a launch that just happened, first party, and opens their page."""
    try:
        user, target = services.resume_use(token=token)
    except tokens.LaunchError as error:
        return _error(request, str(error), status=403)
    login(request, user, backend=LOGIN_BACKEND)
    return HttpResponseRedirect(target)


def _login(request: HttpRequest, user: User, launch: tokens.ValidLaunch) -> None:
    """Log in with Django's own login (not allauth's flows): the LMS vouched for the person."""
    login(request, user, backend=LOGIN_BACKEND)
    request.session[LTI_SESSION] = {"registration": launch.registration.pk}


def _deep_linking_start(request: HttpRequest, launch: tokens.ValidLaunch) -> HttpResponse:
    user = services.account_for(
        registration=launch.registration, sub=str(launch.claims["sub"]), payload=launch.claims
    )
    remembered = deep_linking.request_remember(launch=launch, user=user)
    _login(request, user, launch)
    request.session[deep_linking.SESSION_KEY] = remembered
    return HttpResponseRedirect(reverse("lti:deep_link"))


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def deep_link_view(request: HttpRequest) -> HttpResponse:
    """The picker: the instructor's choice goes back to the LMS as a signed response."""
    remembered = request.session.get(deep_linking.SESSION_KEY)
    if not remembered or remembered.get("user") != request.user.pk:
        return _error(request, _("Open the tool's link picker from your LMS again."))
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


# ------------------------------------------------------------------ course staff


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
        return _error(request, str(error), status=403)
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
        return _error(request, str(error))
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
