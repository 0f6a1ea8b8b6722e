"""OpenID Connect sign-in against a real provider on 127.0.0.1: the happy paths, and the
attacks an id_token or a provider can carry."""

import jwt
import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.hashers import is_password_usable

from campus.models import AuditAction, AuditLog, Membership, Role, User
from tests.campus.sso.conftest import oidc_sign_in, signed_in_email
from tests.support.factories import UserFactory
from tests.support.oidc_provider import rsa_key

pytestmark = pytest.mark.django_db


def test_a_new_person_signs_in_and_joins_the_university_with_the_mapped_role(
    client, univ, univ_oidc
) -> None:
    # when a faculty member signs in for the first time
    response = oidc_sign_in(
        client, univ_oidc, sub="u-1", email="Ada@univ.example", name="Ada Lovelace",
        eduperson_scoped_affiliation=["faculty@univ.example", "member@univ.example"],
    )  # fmt: skip
    # then an account exists, verified, in the university as an instructor, audited
    assert response.status_code == 302, response.content[:500]
    assert signed_in_email(client) == "ada@univ.example"
    user = User.objects.get(email="ada@univ.example")
    assert user.name == "Ada Lovelace"
    assert not is_password_usable(user.password)
    assert EmailAddress.objects.get(user=user).verified
    assert Membership.objects.get(user=user, organization=univ).role == Role.INSTRUCTOR
    assert AuditLog.objects.filter(
        organization=univ, action=AuditAction.SSO_ACCOUNT_CREATED, target_user=user
    ).exists()


def test_the_sign_in_uses_pkce_and_a_nonce(client, univ_oidc) -> None:
    oidc_sign_in(client, univ_oidc, sub="u-1", email="ada@univ.example")
    authorize = univ_oidc.authorize_requests[-1]
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["code_challenge"]
    assert len(authorize["nonce"]) >= 32
    assert univ_oidc.token_requests[-1]["code_verifier"]


def test_a_second_sign_in_finds_the_person_by_the_stable_id_not_the_email(
    client, univ_oidc
) -> None:
    oidc_sign_in(client, univ_oidc, sub="u-1", email="ada@univ.example")
    client.logout()
    oidc_sign_in(client, univ_oidc, sub="u-1", email="ada.lovelace@univ.example")
    assert signed_in_email(client) == "ada@univ.example"
    assert User.objects.count() == 1


def test_an_affiliation_scoped_to_another_domain_gives_no_role(client, univ, univ_oidc) -> None:
    oidc_sign_in(
        client, univ_oidc, sub="u-2", email="eve@univ.example",
        eduperson_scoped_affiliation=["faculty@other.example"],
    )  # fmt: skip
    user = User.objects.get(email="eve@univ.example")
    assert Membership.objects.get(user=user, organization=univ).role == Role.STUDENT


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param({"signing_key": "other"}, id="signed-by-another-key"),
        pytest.param({"algorithm": "none"}, id="unsigned-alg-none"),
        pytest.param({"algorithm": "HS256", "signing_key": "secret"}, id="hmac-with-secret"),
        pytest.param({"id_token_claims": {"aud": "someone-else"}}, id="wrong-audience"),
        pytest.param({"id_token_claims": {"iss": "https://evil.example"}}, id="wrong-issuer"),
        pytest.param({"id_token_claims": {"exp": 1_000_000_000}}, id="expired"),
        pytest.param({"id_token_claims": {"nonce": "replayed"}}, id="wrong-nonce"),
        pytest.param({"id_token_header": {"kid": "unknown"}}, id="unknown-key-id"),
        pytest.param(
            {"userinfo_overrides": {"sub": "u-victim"}, "sub": "u-attacker"},
            id="userinfo-of-another-subject",
        ),
    ],
)
def test_a_forged_or_misdirected_id_token_signs_nobody_in(client, univ_oidc, attack) -> None:
    # given a person already linked, whom the attacker wants to become
    oidc_sign_in(client, univ_oidc, sub="u-victim", email="victim@univ.example")
    client.logout()
    # when the provider answers with a bad id_token
    if attack.get("signing_key") == "other":
        attack["signing_key"] = rsa_key()
    elif attack.get("signing_key") == "secret":
        attack["signing_key"] = univ_oidc.client_secret * 3
    sub = attack.pop("sub", "u-victim")
    for knob, value in attack.items():
        setattr(univ_oidc, knob, value)
    response = oidc_sign_in(client, univ_oidc, sub=sub, email="victim@univ.example")
    # then nobody is signed in, and no account was made
    assert signed_in_email(client) is None
    assert response.status_code == 401  # allauth's "sign-in failed" page
    assert User.objects.count() == 1


def test_an_id_token_is_verified_even_though_the_platform_fetched_it(client, univ_oidc) -> None:
    # allauth 65.21.1 skips the signature check for tokens it fetched itself; ours does not.
    univ_oidc.signing_key = rsa_key()
    oidc_sign_in(client, univ_oidc, sub="u-1", email="ada@univ.example")
    assert signed_in_email(client) is None
    assert not SocialAccount.objects.exists()


def test_an_email_of_another_universitys_domain_cannot_take_over_its_account(
    client, univ_oidc
) -> None:
    # given a person of another university, with a password account
    victim = UserFactory(email="victim@other.example")
    # when this university's provider asserts their address
    response = oidc_sign_in(client, univ_oidc, sub="attacker", email="victim@other.example")
    # then the sign-in is refused, and the account is untouched
    assert response.status_code == 403
    assert "not in its domains" in response.text
    assert signed_in_email(client) is None
    assert not SocialAccount.objects.filter(user=victim).exists()
    assert User.objects.count() == 1


def test_an_email_in_the_universitys_domain_links_the_existing_verified_account(
    client, univ, univ_oidc
) -> None:
    person = UserFactory(email="grace@univ.example")
    oidc_sign_in(client, univ_oidc, sub="u-grace", email="grace@univ.example")
    assert signed_in_email(client) == "grace@univ.example"
    assert SocialAccount.objects.get(user=person).uid == "u-grace"
    assert is_password_usable(User.objects.get(pk=person.pk).password)
    assert AuditLog.objects.filter(action=AuditAction.SSO_ACCOUNT_LINKED, target_user=person)


def test_an_unverified_account_squatting_a_university_address_is_taken_back(
    client, univ_oidc
) -> None:
    # given someone registered the address and never verified it, adding their own address
    squatted = UserFactory(email="hopper@univ.example")
    EmailAddress.objects.filter(user=squatted).update(verified=False)
    EmailAddress.objects.create(user=squatted, email="attacker@evil.example", verified=True)
    # when the real owner signs in through the university
    oidc_sign_in(client, univ_oidc, sub="u-hopper", email="hopper@univ.example")
    # then the account is theirs alone: no password, no stranger's address
    squatted.refresh_from_db()
    assert signed_in_email(client) == "hopper@univ.example"
    assert not is_password_usable(squatted.password)
    assert list(EmailAddress.objects.filter(user=squatted).values_list("email", "verified")) == [
        ("hopper@univ.example", True)
    ]


def test_an_administrator_account_is_not_linked_automatically(client, univ_oidc) -> None:
    UserFactory(email="root@univ.example", is_superuser=True, is_staff=True)
    response = oidc_sign_in(client, univ_oidc, sub="u-root", email="root@univ.example")
    assert response.status_code == 403
    assert signed_in_email(client) is None
    assert not SocialAccount.objects.exists()


def test_a_sign_in_without_an_email_is_refused_with_what_to_release(client, univ_oidc) -> None:
    response = oidc_sign_in(client, univ_oidc, sub="u-3")
    assert response.status_code == 403
    assert "mail attribute" in response.text
    assert not User.objects.exists()


def test_the_callback_without_the_state_this_browser_started_signs_nobody_in(
    client, univ_oidc
) -> None:
    # A login CSRF: the attacker's own code, delivered to the victim's browser.
    univ_oidc.user = {"sub": "attacker", "email": "attacker@univ.example"}
    location = univ_oidc.authorize(
        {"redirect_uri": "http://testserver/accounts/oidc/oidc-univ/login/callback/",
         "state": "forged"}
    )  # fmt: skip
    client.get(location.removeprefix("http://testserver"))
    assert signed_in_email(client) is None


def test_jwt_header_algorithms_outside_the_allow_list_are_refused() -> None:
    from campus.sso.oidc import ALGORITHMS

    assert "none" not in ALGORITHMS
    assert not any(alg.startswith("HS") for alg in ALGORITHMS)
    assert jwt.get_unverified_header(jwt.encode({}, None, algorithm="none"))["alg"] == "none"
