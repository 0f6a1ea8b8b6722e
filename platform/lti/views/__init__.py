"""The tool's pages and endpoints: `launch` (what platforms call: JWKS, OIDC login, launch,
with Platform Storage and the new-window fallback), `pages` (the people a launch brought:
deep-linking picker, account linking), `staff` (course staff: LMS scores and rosters),
`university` (dynamic registration and the university admins' LTI page)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def error_page(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(request, "lti/error.html", {"message": message}, status=status)
