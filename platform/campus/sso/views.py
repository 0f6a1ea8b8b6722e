"""University sign-in pages: the OpenID Connect login and callback (allauth's, bound to
the adapter that verifies id_tokens), and the search for a university's sign-in."""

import logging
from typing import Any

import requests
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.internal.decorators import login_not_required
from allauth.account.views import LogoutView
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.saml.utils import get_app_or_404
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from onelogin.saml2.errors import OneLogin_Saml2_Error

from campus.access import access_organization_admin
from campus.models import IdentityProvider, Organization, User
from campus.sso import logout
from campus.sso.forms import IdpOptionsForm, OidcIdpForm, SamlIdpForm
from campus.sso.metadata import (
    MetadataError,
    oidc_discovery_fetch,
    oidc_discovery_url,
    saml_metadata_fetch,
    saml_metadata_parse,
)
from campus.sso.providers import NONCE_STATE_KEY, VerifiedOpenIDConnectAdapter
from campus.sso.saml_logout import (
    LogoutRefused,
    saml_logout_request_accept,
    saml_logout_response_accept,
)
from campus.sso.selectors import (
    idps_search,
    owned_domains,
    sign_in_path,
    sso_only_idp_for_email,
)
from campus.sso.services import (
    IdpConfigError,
    idp_oidc_set,
    idp_options_set,
    idp_remove,
    idp_saml_set,
    sp_urls,
)


class _NonceCheckingCallbackView(OAuth2CallbackView):
    """allauth's callback, telling the adapter which nonce this browser's sign-in sent."""

    def _get_state(self, request: HttpRequest, provider: Any) -> Any:
        state, response = super()._get_state(request, provider)
        if state is not None and isinstance(self.adapter, VerifiedOpenIDConnectAdapter):
            self.adapter.expected_nonce = state.get(NONCE_STATE_KEY)
        return state, response


@login_not_required
def oidc_login_view(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        view = OAuth2LoginView.adapter_view(VerifiedOpenIDConnectAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404("No such sign-in") from None


@login_not_required
def oidc_callback_view(request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        view = _NonceCheckingCallbackView.adapter_view(
            VerifiedOpenIDConnectAdapter(request, provider_id)
        )
        return view(request)
    except SocialApp.DoesNotExist:
        raise Http404("No such sign-in") from None


@login_not_required
def university_search_view(request: HttpRequest) -> HttpResponse:
    """Works without JavaScript: a GET form and a list of sign-in buttons."""
    query = request.GET.get("q", "")[:200]
    idps = idps_search(query=query) if query.strip() else []
    next_url = request.GET.get("next", "")
    return render(
        request,
        "campus/sso/search.html",
        {
            "query": query,
            "results": [(idp, sign_in_path(idp)) for idp in idps],
            "next": next_url,
        },
    )


@login_not_required
def university_search_json_view(request: HttpRequest) -> JsonResponse:
    """The login page's live search; `sso_only` names the university whose sign-in must
    replace the password for the typed address."""
    query = request.GET.get("q", "")[:200].strip()
    idps = idps_search(query=query) if len(query) >= 2 else []
    sso_only = sso_only_idp_for_email(email=query) if "@" in query else None
    return JsonResponse(
        {
            "results": [
                {
                    "name": idp.organization.name,
                    "protocol": idp.get_protocol_display(),
                    "url": sign_in_path(idp),
                }
                for idp in idps
            ],
            "sso_only": {"name": sso_only.organization.name, "url": sign_in_path(sso_only)}
            if sso_only
            else None,
        }
    )


# --- Single logout ---

logger = logging.getLogger(__name__)


class SingleLogoutView(LogoutView):
    """allauth's logout, then on to the university's identity provider when the person
    signed in through one that offers single logout."""

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        request = self.request
        record = request.session.get(logout.SESSION_KEY) if request.user.is_authenticated else None
        departure = None
        if isinstance(record, dict):
            try:
                departure = logout.sso_logout_departure(request=request, record=record)
            except (
                Http404,
                SocialApp.DoesNotExist,
                OneLogin_Saml2_Error,
                requests.RequestException,
                ValueError,
                KeyError,
            ):
                # The provider is gone or unreachable: logging out here must still work.
                logger.exception("Single logout could not start; local logout only")
        if departure is None:
            return super().post(*args, **kwargs)
        url, key, pending = departure
        self.logout()
        request.session[key] = pending
        return HttpResponseRedirect(url)


logout_view = SingleLogoutView.as_view()


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    return render(
        request,
        "campus/sso/refused.html",
        {"message": message, "title": _("University sign-out")},
        status=400,
    )


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def saml_sls_view(request: HttpRequest, organization_slug: str) -> HttpResponse:
    """The SAML single logout service: the IdP's LogoutRequests (it ends a session there)
    and its LogoutResponses (to the LogoutRequest we sent when the person logged out here)."""
    provider = get_app_or_404(request, organization_slug).get_provider(request)
    university = logout.university_name(provider.app.provider_id)
    params = request.POST if request.method == "POST" else request.GET
    now = timezone.now()
    if "SAMLResponse" in params:
        pending = request.session.pop(logout.PENDING_SAML_KEY, None) or {}
        request_id = pending.get("request_id") if pending.get("slug") == organization_slug else None
        try:
            saml_logout_response_accept(
                request=request, provider=provider, request_id=request_id, now=now
            )
        except LogoutRefused as error:
            logger.warning("SAML LogoutResponse refused (%s): %s", organization_slug, error)
            return _refused(
                request,
                _(
                    "You are signed out here, but %(university)s did not confirm that it "
                    "ended its own session. Close your browser to end it."
                )
                % {"university": university},
            )
        request.session[logout.SIGNED_OUT_AT_KEY] = university
        return redirect("sso_logged_out")
    if "SAMLRequest" in params:
        try:
            idp_logout = saml_logout_request_accept(request=request, provider=provider, now=now)
        except LogoutRefused as error:
            logger.warning("SAML LogoutRequest refused (%s): %s", organization_slug, error)
            return _refused(
                request,
                _(
                    "This sign-out request was refused: it is not signed by %(university)s, "
                    "is too old, or was already used. Nothing changed here; to sign out, use "
                    "the menu."
                )
                % {"university": university},
            )
        if logout.idp_logout_ends_this_session(
            request=request, slug=organization_slug, idp_logout=idp_logout
        ):
            get_account_adapter(request).logout(request)
        if idp_logout.answer_url is None:
            return redirect("sso_logged_out")
        return HttpResponseRedirect(idp_logout.answer_url)
    return _refused(request, _("This is not a sign-out message."))


@login_not_required
def logged_out_view(request: HttpRequest) -> HttpResponse:
    """Where a single logout ends: after our own logout and the provider's. An OpenID
    Connect provider sends the browser back with the state we gave it."""
    university = request.session.pop(logout.SIGNED_OUT_AT_KEY, None)
    status = 200
    if "state" in request.GET:
        university = logout.oidc_return_accept(
            session=request.session, state=request.GET.get("state", "")
        )
        if university is None:
            status = 400
    return render(
        request,
        "campus/sso/logged_out.html",
        {"university": university, "unexpected": status == 400},
        status=status,
    )


# --- The university admin's page: /universities/<org>/sign-in/ ---


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _settings_page(
    request: HttpRequest,
    organization: Organization,
    *,
    saml_form: SamlIdpForm | None = None,
    oidc_form: OidcIdpForm | None = None,
    options_forms: dict[int, IdpOptionsForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    idps = list(IdentityProvider.objects.filter(organization=organization).select_related("app"))
    options_forms = options_forms or {}
    rows = [
        (
            idp,
            sp_urls(idp),
            options_forms.get(idp.pk)
            or IdpOptionsForm(
                initial={
                    "sso_only": idp.sso_only,
                    "default_role": idp.default_role,
                    "role_map": "\n".join(f"{k}={v}" for k, v in idp.role_map.items()),
                },
                prefix=f"idp{idp.pk}",
            ),
        )
        for idp in idps
    ]
    oidc = next((idp for idp in idps if idp.protocol == IdentityProvider.Protocol.OIDC), None)
    return render(
        request,
        "campus/sso/settings.html",
        {
            "organization": organization,
            "rows": rows,
            "domains": owned_domains(organization=organization),
            "saml_form": saml_form or SamlIdpForm(),
            "oidc_form": oidc_form
            or OidcIdpForm(
                initial={
                    "discovery_url": oidc.app.settings.get("server_url", "") if oidc else "",
                    "client_id": oidc.app.client_id if oidc else "",
                }
            ),
        },
        status=status,
    )


@login_required
def idp_settings_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = access_organization_admin(user=_user(request), slug=org_slug)
    return _settings_page(request, organization)


@login_required
@require_POST
def idp_saml_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = access_organization_admin(user=_user(request), slug=org_slug)
    form = SamlIdpForm(request.POST, request.FILES)
    if form.is_valid():
        url = form.cleaned_data["metadata_url"] or ""
        try:
            if url:
                xml = saml_metadata_fetch(url)
            else:
                xml = form.cleaned_data["metadata_file"].read(2_000_000)
            idp_saml_set(
                organization=organization,
                idp=saml_metadata_parse(xml),
                metadata_url=url,
                actor=_user(request),
            )
        except (MetadataError, IdpConfigError) as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("SAML sign-in saved. Give the IdP the details below."))
            return redirect("campus:sign_in", org_slug)
    return _settings_page(request, organization, saml_form=form, status=400)


@login_required
@require_POST
def idp_oidc_view(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = access_organization_admin(user=_user(request), slug=org_slug)
    form = OidcIdpForm(request.POST)
    if form.is_valid():
        existing = IdentityProvider.objects.filter(
            organization=organization, protocol=IdentityProvider.Protocol.OIDC
        ).first()
        secret = form.cleaned_data["client_secret"] or (existing.app.secret if existing else "")
        discovery = oidc_discovery_url(form.cleaned_data["discovery_url"])
        try:
            oidc_discovery_fetch(discovery)
            idp_oidc_set(
                organization=organization,
                discovery_url=discovery,
                client_id=form.cleaned_data["client_id"],
                client_secret=secret,
                actor=_user(request),
            )
        except (MetadataError, IdpConfigError) as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, _("OpenID Connect sign-in saved. Register the redirect URI below.")
            )
            return redirect("campus:sign_in", org_slug)
    return _settings_page(request, organization, oidc_form=form, status=400)


@login_required
@require_POST
def idp_options_view(request: HttpRequest, org_slug: str, idp_id: int) -> HttpResponse:
    organization = access_organization_admin(user=_user(request), slug=org_slug)
    idp = get_object_or_404(
        IdentityProvider.objects.select_related("app", "organization"),
        pk=idp_id,
        organization=organization,
    )
    form = IdpOptionsForm(request.POST, prefix=f"idp{idp.pk}")
    if form.is_valid():
        try:
            idp_options_set(
                idp=idp,
                actor=_user(request),
                sso_only=form.cleaned_data["sso_only"],
                default_role=form.cleaned_data["default_role"],
                role_map=form.cleaned_data["role_map"],
            )
        except IdpConfigError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Sign-in options saved."))
            return redirect("campus:sign_in", org_slug)
    return _settings_page(request, organization, options_forms={idp.pk: form}, status=400)


@login_required
@require_POST
def idp_remove_view(request: HttpRequest, org_slug: str, idp_id: int) -> HttpResponse:
    organization = access_organization_admin(user=_user(request), slug=org_slug)
    idp = get_object_or_404(
        IdentityProvider.objects.select_related("app", "organization"),
        pk=idp_id,
        organization=organization,
    )
    idp_remove(idp=idp, actor=_user(request))
    messages.success(request, _("The sign-in was removed."))
    return redirect("campus:sign_in", org_slug)
