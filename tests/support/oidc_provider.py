"""A real OpenID Connect provider on 127.0.0.1, in a thread of the test process: discovery,
authorization (signs in whoever the test names, at once), token endpoint with PKCE and
client authentication, userinfo, JWKS and RP-initiated logout (end_session_endpoint).
Knobs let a test make it misbehave like an attacker's provider would."""

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_ID = "test-key-1"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class OidcProvider:
    client_id: str = "platform-client"
    client_secret: str = "platform-secret"
    key: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    url: str = ""
    # Who the next authorization signs in (claims of the id_token and userinfo).
    user: dict[str, Any] = field(default_factory=dict)
    # Attack knobs: sign with this key instead, change id_token claims or header.
    signing_key: Any = None
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    id_token_header: dict[str, Any] = field(default_factory=dict)
    algorithm: str = "RS256"
    userinfo_overrides: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    # RP-initiated logout: offered when true; what the end-session endpoint received.
    end_session: bool = True
    end_session_requests: list[dict[str, str]] = field(default_factory=list)
    issued_id_tokens: list[str] = field(default_factory=list)

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            **({"end_session_endpoint": f"{self.url}/logout"} if self.end_session else {}),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=KEY_ID, use="sig", alg="RS256")
        return {"keys": [public]}

    def authorize(self, params: dict[str, str]) -> str:
        """The redirect back to the platform, with a code for `self.user`."""
        self.authorize_requests.append(params)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"params": params, "user": dict(self.user)}
        query = urlencode({"code": code, "state": params.get("state", "")})
        return f"{params['redirect_uri']}?{query}"

    def id_token(self, user: dict[str, Any], nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            **({"nonce": nonce} if nonce else {}),
            **user,
            **self.id_token_claims,
        }
        key: Any = self.signing_key or self.key
        headers = {"kid": KEY_ID, **self.id_token_header}
        if self.algorithm == "none":
            token = jwt.encode(claims, None, algorithm="none", headers=headers)
        else:
            token = jwt.encode(claims, key, algorithm=self.algorithm, headers=headers)
        self.issued_id_tokens.append(token)
        return token

    def end_session_redirect(self, params: dict[str, str]) -> str | None:
        """Ends the session at the provider; where it sends the browser back (with the
        relying party's state), if it named a post_logout_redirect_uri."""
        self.end_session_requests.append(params)
        back = params.get("post_logout_redirect_uri")
        if not back:
            return None
        state = {"state": params["state"]} if "state" in params else {}
        return f"{back}{'&' if '?' in back else '?'}{urlencode(state)}"

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict]:
        self.token_requests.append(form)
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if (client_id, secret) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None:
            return 400, {"error": "invalid_grant"}
        params = grant["params"]
        if form.get("redirect_uri") != params.get("redirect_uri"):
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if params.get("code_challenge_method") != "S256" or challenge != params.get(
            "code_challenge"
        ):
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        access = secrets.token_urlsafe(16)
        self.tokens[access] = grant["user"]
        return 200, {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(grant["user"], params.get("nonce")),
        }

    def userinfo(self, authorization: str) -> tuple[int, dict]:
        user = self.tokens.get(authorization.removeprefix("Bearer ").strip())
        if user is None:
            return 401, {"error": "invalid_token"}
        return 200, {**user, **self.userinfo_overrides}


def _handler(provider: OidcProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif url.path == "/jwks":
                self._json(200, provider.jwks())
            elif url.path == "/authorize":
                self.send_response(302)
                self.send_header("Location", provider.authorize(params))
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path == "/logout" and provider.end_session:
                back = provider.end_session_redirect(params)
                self.send_response(302 if back else 200)
                if back:
                    self.send_header("Location", back)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path == "/userinfo":
                self._json(*provider.userinfo(self.headers.get("Authorization", "")))
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            basic = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                raw = base64.b64decode(auth[6:]).decode()
                user, _, password = raw.partition(":")
                basic = (user, password)
            if urlparse(self.path).path == "/token":
                self._json(*provider.token(form, basic))
            else:
                self._json(404, {"error": "not_found"})

    return Handler


@contextmanager
def oidc_provider(**kwargs: Any) -> Iterator[OidcProvider]:
    provider = OidcProvider(**kwargs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
