"""SAML replay protection: each accepted Response, Assertion and logout message ID is
recorded until it expires, in the database (shared by every web process, and kept across a
Redis restart)."""

from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from campus.models import SamlMessageUse

# Web SSO requires NotOnOrAfter on the bearer confirmation; past this we refuse to keep a
# record that long, and refuse the Response rather than accept it unrecorded.
MAX_LIFETIME = timedelta(days=1)


class ReplayedError(Exception):
    """A Response that was already used, or one that cannot be recorded safely."""


def saml_response_accept(
    *,
    issuer: str,
    message_id: str | None,
    assertion_id: str | None,
    not_on_or_after: float | int | None,
    now: datetime | None = None,
) -> None:
    """Record the Response's and its Assertion's IDs, or raise ReplayedError when either was
    recorded before. Called only after the signature and conditions were validated."""
    now = now or timezone.now()
    if not message_id or not assertion_id:
        raise ReplayedError("The SAML Response has no ID")
    if not not_on_or_after:
        raise ReplayedError("The SAML assertion has no NotOnOrAfter: it would never expire")
    expires_at = datetime.fromtimestamp(not_on_or_after, tz=UTC)
    if expires_at - now > MAX_LIFETIME:
        raise ReplayedError("The SAML assertion is valid for too long")
    SamlMessageUse.objects.filter(expires_at__lt=now).delete()
    try:
        with transaction.atomic():
            SamlMessageUse.objects.bulk_create(
                [
                    SamlMessageUse(
                        key=f"{issuer}|response|{message_id}"[:300], expires_at=expires_at
                    ),
                    SamlMessageUse(
                        key=f"{issuer}|assertion|{assertion_id}"[:300], expires_at=expires_at
                    ),
                ]
            )
    except IntegrityError:
        raise ReplayedError("This SAML Response was already used") from None


def saml_message_accept(
    *, issuer: str, kind: str, message_id: str | None, expires_at: datetime, now: datetime
) -> None:
    """Record one message's ID (a LogoutRequest, a LogoutResponse) until `expires_at`, or
    raise ReplayedError when it was recorded before. Called after its signature checked."""
    if not message_id:
        raise ReplayedError("The SAML message has no ID")
    if expires_at - now > MAX_LIFETIME:
        raise ReplayedError("The SAML message is valid for too long")
    SamlMessageUse.objects.filter(expires_at__lt=now).delete()
    try:
        with transaction.atomic():
            SamlMessageUse.objects.create(
                key=f"{issuer}|{kind}|{message_id}"[:300], expires_at=expires_at
            )
    except IntegrityError:
        raise ReplayedError("This SAML message was already used") from None
