"""What the site header needs to know about the viewer on every page."""

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from campus.access import administers_any_university
from campus.models import User


def navigation(request: HttpRequest) -> dict[str, object]:
    """A callable, so the query runs only on pages whose header is rendered. A 400 page can
    come before the authentication middleware: then there is no user yet."""
    user: User | AnonymousUser = getattr(request, "user", None) or AnonymousUser()

    def administers_a_university() -> bool:
        return administers_any_university(user=user)

    return {"administers_a_university": administers_a_university}
