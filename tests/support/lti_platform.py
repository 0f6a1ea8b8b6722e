"""An LTI 1.3 platform (an LMS) in the test process, served over HTTP on 127.0.0.1.

It has what a real platform has, with only the standard endpoints: its own RSA keys and
JWKS, the OIDC authorization endpoint, the OAuth 2 token endpoint (client credentials with
a signed JWT assertion, checked against the tool's JWKS), Assignment and Grade Services
(line items, scores), Names and Role Provisioning (paged memberships), the Dynamic
Registration endpoint with its openid-configuration, and a deep-linking return URL. It
checks what the tool sends as strictly as a platform should, and records it for the tests.
"""

import html
import json
import secrets
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
LEARNER = [MEMBERSHIP + "Learner"]
INSTRUCTOR = [MEMBERSHIP + "Instructor"]
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def new_rsa_key() -> tuple[Any, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return private, pem


_PLATFORM_KEY: list[tuple[Any, str]] = []


def platform_key() -> tuple[Any, str]:
    """The emulated LMSs' key, made once per test process (RSA key generation is slow)."""
    if not _PLATFORM_KEY:
        _PLATFORM_KEY.append(new_rsa_key())
    return _PLATFORM_KEY[0]


@dataclass
class Member:
    user_id: str
    roles: list[str]
    name: str = ""
    email: str = ""
    status: str = "Active"


@dataclass
class Course:
    context_id: str
    title: str
    members: dict[str, Member] = field(default_factory=dict)


@dataclass
class PendingLaunch:
    user_id: str
    context_id: str
    roles: list[str]
    target_link_uri: str
    message_type: str
    resource_link_id: str
    overrides: dict[str, Any]
    drop: tuple[str, ...]


class Platform:
    """The LMS. `start()` serves it; tests drive the tool through its standard endpoints."""

    def __init__(self) -> None:
        self.private_key, self.private_pem = platform_key()
        self.kid = secrets.token_hex(8)
        self.client_id = "tool-" + secrets.token_hex(4)
        self.deployment_id = "deployment-1"
        self.courses: dict[str, Course] = {}
        self.pending: dict[str, PendingLaunch] = {}
        self.lineitems: dict[str, dict[str, Any]] = {}
        self.scores: dict[str, list[dict[str, Any]]] = {}
        self.access_tokens: dict[str, set[str]] = {}
        self.deep_link_returns: list[dict[str, Any]] = []
        self.registrations: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        # What the tool told us about itself (registration, or set by the test).
        self.tool_login_url = ""
        self.tool_redirect_uris: list[str] = []
        self.tool_jwks: dict[str, Any] | None = None
        self.tool_jwks_url = ""
        # LTI Platform Storage: the course page answers lti.capabilities and its hidden
        # frame of this name keeps data for the tool (lti.put_data, lti.get_data); the
        # login initiation names it (`lti_storage_target`). None: an LMS without it.
        self.storage_frame: str | None = "lti_storage_frame"
        # How many messages the storage frame lets pass unheard, as one still loading does
        # (a message posted to a frame before its listener is attached is lost).
        self.storage_misses = 0
        # Failures to inject: the next N score posts answer this HTTP status.
        self.fail_scores: list[int] = []
        self.page_size = 2
        self._server: ThreadingHTTPServer | None = None
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ serving

    def start(self) -> "Platform":
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                platform._dispatch(self, "GET")

            def do_POST(self) -> None:
                platform._dispatch(self, "POST")

            def do_PUT(self) -> None:
                platform._dispatch(self, "PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def issuer(self) -> str:
        return self.url

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    def registration_fields(self) -> dict[str, str]:
        """What an admin copies from the LMS into a manual registration."""
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "auth_login_url": self.url + "/auth",
            "auth_token_url": self.url + "/token",
            "keyset_url": self.url + "/jwks",
        }

    # ------------------------------------------------------------------ people and launches

    def add_member(self, context_id: str, member: Member, title: str = "") -> None:
        course = self.courses.setdefault(
            context_id, Course(context_id=context_id, title=title or f"LMS course {context_id}")
        )
        course.members[member.user_id] = member

    def prepare_launch(
        self,
        *,
        user_id: str,
        context_id: str,
        roles: list[str],
        target_link_uri: str,
        message_type: str = "LtiResourceLinkRequest",
        resource_link_id: str = "link-1",
        overrides: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
    ) -> dict[str, str]:
        """Remember a launch; the login-initiation parameters that start it."""
        if context_id not in self.courses or user_id not in self.courses[context_id].members:
            self.add_member(context_id, Member(user_id=user_id, roles=roles, name=user_id))
        hint = secrets.token_urlsafe(8)
        self.pending[hint] = PendingLaunch(
            user_id=user_id,
            context_id=context_id,
            roles=roles,
            target_link_uri=target_link_uri,
            message_type=message_type,
            resource_link_id=resource_link_id,
            overrides=overrides or {},
            drop=drop,
        )
        return {
            "iss": self.issuer,
            "login_hint": user_id,
            "target_link_uri": target_link_uri,
            "lti_message_hint": hint,
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }

    def lineitem_for(self, context_id: str, resource_link_id: str) -> str:
        """The line item the platform made for a graded link (as an LMS does for an
        assignment), created on first use."""
        for item_id, item in self.lineitems.items():
            if item["context"] == context_id and item.get("resourceLinkId") == resource_link_id:
                return self.url + "/lineitems/" + item_id
        item_id = secrets.token_hex(4)
        self.lineitems[item_id] = {
            "context": context_id,
            "id": self.url + "/lineitems/" + item_id,
            "label": resource_link_id,
            "scoreMaximum": 10,
            "resourceLinkId": resource_link_id,
        }
        return self.url + "/lineitems/" + item_id

    def id_token_claims(self, launch: PendingLaunch, nonce: str) -> dict[str, Any]:
        now = int(time.time())
        course = self.courses[launch.context_id]
        member = course.members[launch.user_id]
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": launch.user_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": member.name,
            "email": member.email,
            LTI + "message_type": launch.message_type,
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": launch.target_link_uri,
            LTI + "roles": launch.roles,
            LTI + "context": {"id": course.context_id, "title": course.title},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": f"{self.url}/contexts/{course.context_id}/memberships",
                "service_versions": ["2.0"],
            },
        }
        ags: dict[str, Any] = {
            "scope": [SCOPE_LINEITEM, SCOPE_SCORE],
            "lineitems": f"{self.url}/contexts/{course.context_id}/lineitems",
        }
        if launch.message_type == "LtiResourceLinkRequest":
            claims[LTI + "resource_link"] = {"id": launch.resource_link_id, "title": "A link"}
            ags["lineitem"] = self.lineitem_for(course.context_id, launch.resource_link_id)
        else:
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": self.url + "/deep_link_return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": True,
                "data": "opaque-" + launch.resource_link_id,
            }
        claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = ags
        claims.update(launch.overrides)
        for name in launch.drop:
            claims.pop(name, None)
        return claims

    def sign(
        self, claims: dict[str, Any], key_pem: str | None = None, kid: str | None = None
    ) -> str:
        return jwt.encode(
            claims, key_pem or self.private_pem, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    def authorize(self, query: dict[str, str]) -> dict[str, str]:
        """The authorization endpoint's checks; the form fields it posts to the tool."""
        for name, expected in (
            ("scope", "openid"),
            ("response_type", "id_token"),
            ("response_mode", "form_post"),
            ("prompt", "none"),
            ("client_id", self.client_id),
        ):
            if query.get(name) != expected:
                raise PermissionError(f"{name} is {query.get(name)!r}, not {expected!r}")
        if query.get("redirect_uri") not in self.tool_redirect_uris:
            raise PermissionError(f"redirect_uri {query.get('redirect_uri')} is not registered")
        if not query.get("state") or not query.get("nonce"):
            raise PermissionError("state and nonce are required")
        launch = self.pending.get(query.get("lti_message_hint", ""))
        if launch is None or launch.user_id != query.get("login_hint"):
            raise PermissionError("unknown launch")
        token = self.sign(self.id_token_claims(launch, query["nonce"]))
        return {"id_token": token, "state": query["state"], "action": query["redirect_uri"]}

    # ------------------------------------------------------------------ HTTP

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append((method, parts.path))
        try:
            status, headers, payload = self._route(method, parts.path, parts.query, body, handler)
        except PermissionError as error:
            status, headers, payload = 403, {}, json.dumps({"error": str(error)}).encode()
        except KeyError as error:
            status, headers, payload = 404, {}, json.dumps({"error": f"no {error}"}).encode()
        handler.send_response(status)
        headers.setdefault("Content-Type", "application/json")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _json(
        self, value: Any, status: int = 200, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        return status, dict(headers), json.dumps(value).encode()

    def _route(
        self, method: str, path: str, query: str, body: bytes, handler: BaseHTTPRequestHandler
    ) -> tuple[int, dict[str, str], bytes]:
        params = dict(urllib.parse.parse_qsl(query))
        segments = path.strip("/").split("/")
        if path == "/jwks":
            return self._json(self.jwks())
        if path == "/.well-known/openid-configuration":
            return self._json(self.openid_configuration())
        if path == "/auth":
            fields = self.authorize(params)
            return 200, {"Content-Type": "text/html"}, self._autopost(fields).encode()
        if path.startswith("/launch/"):
            return 200, {"Content-Type": "text/html"}, self._initiation_page(segments[1]).encode()
        if path == "/storage_frame":
            return 200, {"Content-Type": "text/html"}, self._storage_frame().encode()
        if path.startswith("/course/"):
            return 200, {"Content-Type": "text/html"}, self._course_page(segments[1]).encode()
        if path == "/token" and method == "POST":
            return self._json(self._token(dict(urllib.parse.parse_qsl(body.decode()))))
        if path == "/register" and method == "POST":
            return self._json(self._register(handler, json.loads(body)))
        if path == "/deep_link_return" and method == "POST":
            return self._deep_link_return(dict(urllib.parse.parse_qsl(body.decode())))
        if segments[0] == "contexts" and segments[2] == "lineitems":
            self._check_token(handler, SCOPE_LINEITEM)
            return self._lineitems(method, segments[1], body)
        if segments[0] == "contexts" and segments[2] == "memberships":
            self._check_token(handler, SCOPE_NRPS)
            return self._memberships(segments[1], int(params.get("page", "0")))
        if segments[0] == "lineitems" and len(segments) == 3 and segments[2] == "scores":
            self._check_token(handler, SCOPE_SCORE)
            return self._score(segments[1], json.loads(body))
        if segments[0] == "lineitems" and len(segments) == 2:
            self._check_token(handler, SCOPE_LINEITEM)
            return self._json(self._public_item(segments[1]))
        return self._json({"error": "not found"}, 404)

    def _autopost(self, fields: dict[str, str]) -> str:
        inputs = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
            for name, value in fields.items()
            if name != "action"
        )
        return (
            f'<form id="f" method="post" action="{html.escape(fields["action"])}">{inputs}</form>'
            "<script>document.getElementById('f').submit()</script>"
        )

    def _initiation_page(self, hint: str) -> str:
        launch = self.pending[hint]
        fields = {k: v for k, v in self.initiation_for(hint, launch).items()}
        fields["action"] = self.tool_login_url
        return self._autopost(fields)

    def initiation_for(self, hint: str, launch: PendingLaunch) -> dict[str, str]:
        fields = {
            "iss": self.issuer,
            "login_hint": launch.user_id,
            "target_link_uri": launch.target_link_uri,
            "lti_message_hint": hint,
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }
        if self.storage_frame:
            fields["lti_storage_target"] = self.storage_frame
        return fields

    def _course_page(self, hint: str) -> str:
        """An LMS course page showing the tool's link in an iframe, as LMSs do; with
        platform storage, it answers lti.capabilities and holds the storage frame, both
        listening before the tool's frame is launched (the storage frame's load event fires
        once its script has run)."""
        tool = (
            '<iframe id="tool" title="tool" {src}width="1000" height="700" '
            'allow="clipboard-write"></iframe>'
        )
        page = "<!DOCTYPE html><title>LMS course</title><h1>LMS course</h1>"
        if not self.storage_frame:
            return page + tool.format(src=f'src="/launch/{hint}" ')
        name = html.escape(self.storage_frame)
        capabilities = json.dumps(
            [
                {"subject": "lti.capabilities"},
                {"subject": "lti.put_data", "frame": self.storage_frame},
                {"subject": "lti.get_data", "frame": self.storage_frame},
            ]
        )
        answer = (
            "<script>window.addEventListener('message', function (event) {"
            "  var m = event.data || {};"
            "  if (m.subject !== 'lti.capabilities') { return; }"
            "  event.source.postMessage({subject: 'lti.capabilities.response',"
            f"    message_id: m.message_id, supported_messages: {capabilities}}}, event.origin);"
            "});</script>"
        )
        launch = html.escape(f"document.getElementById('tool').src = '/launch/{hint}'")
        return (
            page
            + answer
            + tool.format(src="")
            + f'<iframe name="{name}" src="/storage_frame" hidden onload="{launch}"></iframe>'
        )

    def _storage_frame(self) -> str:
        """The LMS's storage frame: data kept per tool origin, as the spec asks; `calls`
        records what was asked, once per message_id (a tool may send a message again)."""
        return (
            "<!DOCTYPE html><title>storage</title><script>"
            "var store = {}; var calls = []; var seen = {};"
            f"var misses = {self.storage_misses};"
            "window.addEventListener('message', function (event) {"
            "  var m = event.data || {};"
            "  if (m.subject !== 'lti.put_data' && m.subject !== 'lti.get_data') { return; }"
            "  if (misses > 0) { misses -= 1; return; }"
            "  if (!(m.message_id in seen)) { seen[m.message_id] = true;"
            "    calls.push(m.subject + ' ' + m.key); }"
            "  var key = event.origin + ' ' + m.key;"
            "  var reply = {subject: m.subject + '.response', message_id: m.message_id,"
            "    key: m.key};"
            "  if (m.subject === 'lti.put_data') { store[key] = m.value; reply.value = m.value; }"
            "  else if (key in store) { reply.value = store[key]; }"
            "  else { reply.error = {code: 'not_found', message: 'no such key'}; }"
            "  event.source.postMessage(reply, event.origin);"
            "});</script>"
        )

    # ------------------------------------------------------------------ services

    def _tool_public_keys(self) -> dict[str, Any]:
        if self.tool_jwks is not None:
            return self.tool_jwks
        with urllib.request.urlopen(self.tool_jwks_url, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def _verify_tool_jwt(self, token: str, audience: str) -> dict[str, Any]:
        kid = jwt.get_unverified_header(token).get("kid")
        for jwk in self._tool_public_keys()["keys"]:
            if jwk.get("kid") == kid:
                return jwt.decode(
                    token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=audience
                )
        raise PermissionError("the tool signed with a key it does not publish")

    def _token(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("grant_type") != "client_credentials":
            raise PermissionError("grant_type")
        try:
            claims = self._verify_tool_jwt(form.get("client_assertion", ""), self.url + "/token")
        except jwt.PyJWTError as error:
            raise PermissionError(f"client assertion: {error}") from None
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            raise PermissionError("client assertion is not from our client")
        token = secrets.token_urlsafe(16)
        with self.lock:
            self.access_tokens[token] = set(form.get("scope", "").split())
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    def _check_token(self, handler: BaseHTTPRequestHandler, scope: str) -> None:
        auth = handler.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ")
        if scope not in self.access_tokens.get(token, set()) and not (
            scope == SCOPE_LINEITEM and SCOPE_SCORE in self.access_tokens.get(token, set())
        ):
            raise PermissionError(f"a token with scope {scope} is required")

    def _public_item(self, item_id: str) -> dict[str, Any]:
        item = self.lineitems[item_id]
        return {k: v for k, v in item.items() if k != "context"}

    def _lineitems(
        self, method: str, context_id: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if method == "POST":
            item = json.loads(body)
            if not item.get("label") or float(item.get("scoreMaximum", 0)) <= 0:
                return self._json({"error": "label and scoreMaximum > 0 are required"}, 400)
            item_id = secrets.token_hex(4)
            item.update({"id": self.url + "/lineitems/" + item_id, "context": context_id})
            self.lineitems[item_id] = item
            return self._json(self._public_item(item_id), 201)
        items = [
            self._public_item(i) for i, it in self.lineitems.items() if it["context"] == context_id
        ]
        return self._json(items)

    def _score(self, item_id: str, score: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        item = self.lineitems[item_id]
        course = self.courses[item["context"]]
        if score.get("userId") not in course.members:
            return self._json({"error": "userId is not a member of this course"}, 422)
        for name in ("timestamp", "activityProgress", "gradingProgress"):
            if name not in score:
                return self._json({"error": f"{name} is required"}, 400)
        with self.lock:
            if self.fail_scores:
                return self._json({"error": "try later"}, self.fail_scores.pop(0))
            earlier = [s for s in self.scores.get(item_id, []) if s["userId"] == score["userId"]]
            # AGS: a score older than the last one received is ignored.
            if earlier and earlier[-1]["timestamp"] > score["timestamp"]:
                return self._json({"error": "an earlier score than the last"}, 409)
            self.scores.setdefault(item_id, []).append(score)
        return self._json({}, 200)

    def _memberships(self, context_id: str, page: int) -> tuple[int, dict[str, str], bytes]:
        course = self.courses[context_id]
        members = list(course.members.values())
        chunk = members[page * self.page_size : (page + 1) * self.page_size]
        headers: dict[str, str] = {
            "Content-Type": "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
        }
        if (page + 1) * self.page_size < len(members):
            headers["Link"] = (
                f'<{self.url}/contexts/{context_id}/memberships?page={page + 1}>; rel="next"'
            )
        body = {
            "id": f"{self.url}/contexts/{context_id}/memberships",
            "context": {"id": context_id, "title": course.title},
            "members": [
                {
                    "user_id": m.user_id,
                    "roles": m.roles,
                    "name": m.name,
                    "email": m.email,
                    "status": m.status,
                }
                for m in chunk
            ],
        }
        return 200, headers, json.dumps(body).encode()

    # ------------------------------------------------------------------ registration

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.url + "/auth",
            "token_endpoint": self.url + "/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": self.url + "/jwks",
            "registration_endpoint": self.url + "/register",
            "scopes_supported": ["openid", SCOPE_SCORE, SCOPE_LINEITEM, SCOPE_NRPS],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "email"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "emulator",
                "version": "1.0",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest"},
                    {"type": "LtiDeepLinkingRequest"},
                ],
            },
        }

    def registration_token(self) -> str:
        token = secrets.token_urlsafe(12)
        self.access_tokens[token] = {"registration"}
        return token

    def _register(self, handler: BaseHTTPRequestHandler, client: dict[str, Any]) -> dict[str, Any]:
        auth = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        if "registration" not in self.access_tokens.pop(auth, set()):
            raise PermissionError("a registration token (used once) is required")
        tool = client.get("https://purl.imsglobal.org/spec/lti-tool-configuration", {})
        for name in ("initiate_login_uri", "redirect_uris", "jwks_uri"):
            if not client.get(name) and not tool.get(name):
                raise PermissionError(f"{name} is required")
        if client.get("token_endpoint_auth_method") != "private_key_jwt":
            raise PermissionError("token_endpoint_auth_method must be private_key_jwt")
        self.tool_login_url = client["initiate_login_uri"]
        self.tool_redirect_uris = list(client["redirect_uris"])
        self.tool_jwks_url = client["jwks_uri"]
        self.tool_jwks = None
        self.registrations.append(client)
        answer = dict(client)
        answer["client_id"] = self.client_id
        answer["https://purl.imsglobal.org/spec/lti-tool-configuration"] = {
            **tool,
            "deployment_id": self.deployment_id,
        }
        return answer

    def accept_deep_links(self, context_id: str) -> list[tuple[str, str]]:
        """What the LMS does with the last deep-linking response: a link per content item,
        with a gradebook column where a line item was asked for. (link id, url) each."""
        made = []
        for item in self.deep_link_returns[-1][
            "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
        ]:
            link_id = "dl-" + secrets.token_hex(4)
            if "lineItem" in item:
                item_id = secrets.token_hex(4)
                self.lineitems[item_id] = {
                    **item["lineItem"],
                    "id": self.url + "/lineitems/" + item_id,
                    "context": context_id,
                    "resourceLinkId": link_id,
                }
            made.append((link_id, item["url"]))
        return made

    def _deep_link_return(self, form: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        try:
            claims = self._verify_tool_jwt(form.get("JWT", ""), self.issuer)
        except jwt.PyJWTError as error:
            raise PermissionError(f"deep linking response: {error}") from None
        if claims.get("iss") != self.client_id:
            raise PermissionError("the response is not from our client")
        self.deep_link_returns.append(claims)
        return 200, {"Content-Type": "text/html"}, b"<p>Links added.</p>"
