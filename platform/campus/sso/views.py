"""University sign-in pages: the OpenID Connect login and callback (allauth's, bound to
the adapter that verifies id_tokens), and the search for a university's sign-in."""

from typing import Any

from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from campus.sso.providers import NONCE_STATE_KEY, VerifiedOpenIDConnectAdapter
from campus.sso.selectors import idps_search, sign_in_path, sso_only_idp_for_email


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
