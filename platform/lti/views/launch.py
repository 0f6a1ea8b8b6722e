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
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campus.models import User
from lti import (
    claims,
    deep_linking,
    keys,
    roster,
    selectors,
    services,
    tokens,
)
from lti.cookies import STATE_COOKIE, set_cross_site_cookie
from lti.middleware import LTI_SESSION
from lti.models import LaunchState, Registration
from lti.views import error_page

LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"


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
        return error_page(
            request, _("The LMS's login request lacks iss, login_hint or target_link_uri.")
        )
    registration = selectors.registration_for_login(
        issuer=issuer, client_id=params.get("client_id", "")
    )
    if registration is None:
        return error_page(
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
    authorize = _authorization_url(
        request,
        registration,
        login_state,
        login_hint=login_hint,
        message_hint=params.get("lti_message_hint", ""),
    )
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


def _authorization_url(
    request: HttpRequest,
    registration: Registration,
    login_state: LaunchState,
    *,
    login_hint: str,
    message_hint: str,
) -> str:
    """The platform's authorization endpoint, asked for an id_token posted to our launch."""
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
    if message_hint:
        query["lti_message_hint"] = message_hint
    separator = "&" if "?" in registration.auth_login_url else "?"
    return registration.auth_login_url + separator + urlencode(query)


@csrf_exempt
@never_cache
@xframe_options_exempt
@require_POST
def launch_view(request: HttpRequest) -> HttpResponse:
    """The platform posts the id_token here; the person is logged in and sent on."""
    state = request.POST.get("state", "")
    id_token = request.POST.get("id_token", "")
    if request.POST.get("error"):
        return error_page(
            request,
            _("The LMS refused the launch: %(error)s")
            % {"error": request.POST.get("error_description") or request.POST["error"]},
        )
    if not state or not id_token:
        return error_page(request, _("The launch lacks its state or id_token."))
    answer = _state_not_bound_to_browser(request, state=state, id_token=id_token)
    if answer is not None:
        return answer
    try:
        launch = tokens.launch_validate(id_token=id_token, state=state)
        if launch.message_type == claims.DEEP_LINKING_REQUEST:
            return _deep_linking_start(request, launch)
        result = services.launch_complete(launch=launch, host=request.get_host())
    except tokens.LaunchError as error:
        return error_page(request, str(error), status=403)
    roster.roster_sync_soon(context=result.context)
    _login(request, result.user, launch)
    target = reverse("courses:my_courses") if result.target is None else result.target.url()
    if result.target is not None and result.role is None:
        return error_page(
            request,
            _("Your role in this LMS course gives no access to this page. Ask the instructor."),
            status=403,
        )
    if result.new_account:
        _offer_linking(request, target)
    # Our storage page says so too: browsers send no Sec-Fetch-* to plain-HTTP sites.
    if request.headers.get("Sec-Fetch-Dest") == "iframe" or request.POST.get(IN_FRAME) == "1":
        return _continue_in_frame(request, result.user, target)
    return HttpResponseRedirect(target)


def _state_not_bound_to_browser(
    request: HttpRequest, *, state: str, id_token: str
) -> HttpResponse | None:
    """The answer when the launch's state cannot be tied to this browser yet, else None.

    One that sends another login's state is refused. A browser that blocks third-party
    cookies sends none: where the login kept its state and nonce in the LMS's storage, our
    page reads them back in this browser before the launch goes on; otherwise the state is
    still single use and bound to the nonce in the signed token.
    """
    cookie = request.COOKIES.get(STATE_COOKIE)
    if cookie is not None and cookie != state:
        return error_page(request, _("This launch belongs to another login. Open the link again."))
    if cookie is None:
        kept = tokens.state_kept_by_platform(state=state)
        if kept is not None and request.POST.get(STORAGE_CHECKED) != "1":
            fields = {"id_token": id_token, "state": state, STORAGE_CHECKED: "1", IN_FRAME: ""}
            return _platform_storage_page(request, kept, mode="get", fields=fields)
        if kept is not None and not _posted_by_this_site(request):
            return error_page(
                request,
                _("This launch was not confirmed by this site's page. Open the link again."),
                status=403,
            )
    return None


def _offer_linking(request: HttpRequest, target: str) -> None:
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
        return error_page(request, str(error), status=403)
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
