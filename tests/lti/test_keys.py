"""Our JWKS and key rotation."""

from datetime import timedelta

import jwt
import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from lti import keys

pytestmark = pytest.mark.django_db


def kids(client: Client) -> list[str]:
    return [k["kid"] for k in client.get("/lti/jwks.json").json()["keys"]]


def test_the_jwks_publishes_the_public_key_that_signs(client: Client) -> None:
    token = keys.sign({"hello": "world"})
    jwks = client.get("/lti/jwks.json").json()
    (jwk,) = jwks["keys"]
    assert "d" not in jwk  # no private part
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"]) == {"hello": "world"}


def test_rotation_signs_with_the_new_key_and_keeps_the_old_until_it_retires(client: Client) -> None:
    # given
    old = keys.signing_key()
    # when
    call_command("lti_rotate_keys", "--grace-hours", "1")
    # then
    new = keys.signing_key()
    assert new.kid != old.kid
    assert jwt.get_unverified_header(keys.sign({}))["kid"] == new.kid
    assert set(kids(client)) == {old.kid, new.kid}
    # and after the grace period
    later = timezone.now() + timedelta(hours=2)
    assert [k["kid"] for k in keys.tool_jwks(now=later)["keys"]] == [new.kid]
    keys.tool_key_rotate(grace=timedelta(hours=1), now=later)
    assert not keys.ToolKey.objects.filter(kid=old.kid).exists()
