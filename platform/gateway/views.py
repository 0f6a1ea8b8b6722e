"""Pages for people: the models they may use (with licenses) and their personal API tokens."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gateway.models import ModelKind
from gateway.selectors import models_for, tokens_of
from gateway.services import token_create, token_revoke


def _page(request: HttpRequest, *, new_token: str | None = None) -> HttpResponse:
    user = request.user
    user_id = int(user.pk or 0)
    context = {
        "cards": models_for(user_id=user_id, course_id=None, is_staff=user.is_staff),
        "tokens": tokens_of(user_id=user_id),
        "new_token": new_token,
        "api_url": f"http://{settings.GATEWAY_HOST}:{settings.GATEWAY_PORT}/v1",
    }
    return render(request, "gateway/models.html", context)


@login_required
def models_view(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
def model_card_view(request: HttpRequest, name: str) -> HttpResponse:
    """One model's card: what it is, how open, how it is pinned, how to call it."""
    user = request.user
    cards = models_for(user_id=int(user.pk or 0), course_id=None, is_staff=user.is_staff)
    card = cards.filter(name=name).first()
    if card is None:
        raise Http404(_("No such model is enabled for you."))
    context = {
        "card": card,
        "api_url": f"http://{settings.GATEWAY_HOST}:{settings.GATEWAY_PORT}/v1",
        "is_chat": card.kind == ModelKind.CHAT,
    }
    return render(request, "gateway/model_card.html", context)


@login_required
@require_POST
def token_create_view(request: HttpRequest) -> HttpResponse:
    _api_token, token = token_create(user=request.user, name=request.POST.get("name", ""))  # type: ignore[arg-type]
    # Rendered, not redirected: the token is shown this once and never stored in clear.
    return _page(request, new_token=token)


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    if token_revoke(user=request.user, token_id=token_id):  # type: ignore[arg-type]
        messages.success(request, _("The token is revoked: programs using it are refused now."))
    return redirect("gateway:models")
