"""Our signing keys: the JWKS the platforms fetch, and rotation.

The newest key that is not retiring signs. `tool_key_rotate` makes a new one and gives the
others a retirement date a grace period away: until then they stay in the JWKS, so a
platform that cached the old key, or a token signed just before, still verifies.
"""

import json
import secrets
from datetime import datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from lti.models import ToolKey

ALGORITHM = "RS256"


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _new_key() -> ToolKey:
    private = generate_private_key()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    kid = secrets.token_urlsafe(16)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    return ToolKey.objects.create(kid=kid, private_key_pem=pem, public_jwk=jwk)


def _published(now: datetime) -> "list[ToolKey]":
    return list(ToolKey.objects.filter(Q(retire_at__isnull=True) | Q(retire_at__gt=now)))


def signing_key(*, now: datetime | None = None) -> ToolKey:
    """The key that signs now; made on first use."""
    key = ToolKey.objects.filter(retire_at__isnull=True).first()
    if key is not None:
        return key
    with transaction.atomic():
        # Two first requests at once: the row lock makes the second see the first's key.
        key = ToolKey.objects.select_for_update().filter(retire_at__isnull=True).first()
        return key or _new_key()


def tool_jwks(*, now: datetime | None = None) -> dict[str, list[dict[str, str]]]:
    """Every public key a platform may still meet in our signatures."""
    now = now or timezone.now()
    signing_key(now=now)
    return {"keys": [key.public_jwk for key in _published(now)]}


@transaction.atomic
def tool_key_rotate(*, grace: timedelta, now: datetime | None = None) -> ToolKey:
    """Make a new signing key; the current ones retire `grace` from now (kept until then)."""
    now = now or timezone.now()
    ToolKey.objects.filter(retire_at__isnull=True).update(retire_at=now + grace)
    ToolKey.objects.filter(retire_at__lte=now).delete()
    return _new_key()


def sign(claims: dict[str, object], *, now: datetime | None = None) -> str:
    """A JWT of `claims` signed with the current key (its kid in the header)."""
    key = signing_key(now=now)
    return jwt.encode(claims, key.private_key_pem, algorithm=ALGORITHM, headers={"kid": key.kid})
