"""HTTP calls to a platform (JWKS, token endpoint, grade and roster services, registration).

The standard library's client is enough for a handful of JSON calls; every call has a
timeout and a size limit, and a failure is one exception type with a message to show.
"""

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings

MAX_BYTES = 5 * 1024 * 1024


class PlatformError(Exception):
    """The platform could not be reached or answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, retry: bool = True):
        super().__init__(message)
        self.status = status
        # 4xx other than 408/429 will not get better by trying again.
        self.retry = retry


def request(
    method: str,
    url: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PlatformError(f"not an http(s) URL: {url}", retry=False)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    timeout = settings.LTI_HTTP_TIMEOUT_S
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_BYTES + 1)
            if len(body) > MAX_BYTES:
                raise PlatformError(f"{url}: answer larger than {MAX_BYTES} bytes", retry=False)
            return response.status, dict(response.headers.items()), body
    except urllib.error.HTTPError as error:
        detail = error.read(500).decode("utf-8", "replace")
        retry = error.code >= 500 or error.code in (408, 429)
        raise PlatformError(
            f"{url} answered {error.code}: {detail}", status=error.code, retry=retry
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise PlatformError(f"{url} could not be reached: {error}") from None


def get_json(url: str, *, token: str | None = None, accept: str = "application/json") -> Any:
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    _status, _headers, body = request("GET", url, headers=headers)
    return _json(url, body)


def get_json_page(url: str, *, token: str, accept: str) -> tuple[Any, str | None]:
    """One page of a paged service (NRPS, line items) and the next page's URL, if any."""
    headers = {"Accept": accept, "Authorization": f"Bearer {token}"}
    _status, response_headers, body = request("GET", url, headers=headers)
    return _json(url, body), _next_link(response_headers)


def post_json(
    url: str, payload: Any, *, token: str | None = None, content_type: str = "application/json"
) -> Any:
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    _status, _headers, body = request(
        "POST", url, data=json.dumps(payload).encode(), headers=headers
    )
    return _json(url, body) if body.strip() else None


def post_form(url: str, fields: dict[str, str]) -> Any:
    data = urllib.parse.urlencode(fields).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    _status, _headers, body = request("POST", url, data=data, headers=headers)
    return _json(url, body)


def _json(url: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise PlatformError(f"{url} did not answer JSON", retry=False) from None


def _next_link(headers: dict[str, str]) -> str | None:
    link = next((v for k, v in headers.items() if k.lower() == "link"), "")
    for part in link.split(","):
        target, _sep, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", ""):
            return target.strip().strip("<>")
    return None
