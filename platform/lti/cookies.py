"""Cookies that must reach us inside an LMS's iframe, where we are a third party.

Such a cookie needs SameSite=None and Secure, and, where browsers partition third-party
cookies (CHIPS), the Partitioned attribute, which Python's http.cookies does not know before
3.14: a Morsel subclass adds it.
"""

from http.cookies import Morsel

from django.conf import settings
from django.http import HttpRequest, HttpResponse

STATE_COOKIE = "lti_state"


class PartitionedMorsel(Morsel[str]):
    def OutputString(self, attrs: list[str] | None = None) -> str:
        return super().OutputString(attrs) + "; Partitioned"


def partition(response: HttpResponse, name: str) -> None:
    """Mark the cookie `name` already set on `response` as partitioned and cross-site."""
    morsel = response.cookies.get(name)
    if morsel is None:
        return
    partitioned = PartitionedMorsel()
    partitioned.set(morsel.key, morsel.value, morsel.coded_value)
    for attribute in ("expires", "path", "domain", "max-age", "httponly"):
        if morsel[attribute]:
            partitioned[attribute] = morsel[attribute]
    partitioned["samesite"] = "None"
    partitioned["secure"] = True
    dict.__setitem__(response.cookies, name, partitioned)


def set_cross_site_cookie(
    response: HttpResponse, request: HttpRequest, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        secure=True,
        samesite="None",
        path=settings.LTI_COOKIE_PATH,
    )
    partition(response, name)
