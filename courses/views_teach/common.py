"""Small helpers shared by the teaching views."""

from typing import cast

from django.http import HttpRequest

from campus.models import User


def user_of(request: HttpRequest) -> User:
    """The signed-in user (the views are behind login_required, so never anonymous)."""
    return cast(User, request.user)
