"""LTI Platform Storage: a login that names the LMS's storage frame keeps its state and nonce
there (through our page's postMessage script); a launch that arrives without our cookie
is confirmed by our page reading them back in the same browser, and by nothing else."""

import re
import urllib.request
from html import unescape
from typing import Any

import pytest
from django.test import Client

from lti.models import LaunchState
from tests.lti.conftest import Campus
from tests.support.lti_platform import LEARNER, Platform

pytestmark = pytest.mark.django_db

STORAGE_FRAME = "lti_storage_frame"


def data_attributes(page: str) -> dict[str, str]:
    box = re.search(r'<div id="lti-storage"([^>]*)>', page)
    assert box is not None, page[:500]
    return {k: unescape(v) for k, v in re.findall(r'data-([a-z]+)="([^"]*)"', box.group(1))}


def hidden_fields(page: str) -> dict[str, str]:
    return {k: unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}


def storage_login(platform: Platform, campus: Campus, client: Client) -> Any:
    params = platform.prepare_launch(
        user_id="learner-1",
        context_id="ctx-1",
        roles=LEARNER,
        target_link_uri=campus.exercise_url(),
    )
    return client.post("/lti/login/", {**params, "lti_storage_target": STORAGE_FRAME})


def authorized(platform: Platform, campus: Campus, client: Client) -> dict[str, str]:
    """The storage login, then the LMS's authorization endpoint: the form it posts back."""
    page = storage_login(platform, campus, client).content.decode()
    with urllib.request.urlopen(data_attributes(page)["next"], timeout=10) as answer:  # noqa: S310
        return hidden_fields(answer.read().decode())


def cookieless_launch(platform: Platform, campus: Campus, client: Client) -> Any:
    form = authorized(platform, campus, client)
    del client.cookies["lti_state"]  # the browser dropped our cookie in the LMS's frame
    return client.post("/lti/launch/", {"id_token": form["id_token"], "state": form["state"]})


def test_the_login_keeps_state_and_nonce_in_the_lms_storage_then_goes_on(
    platform: Platform, campus: Campus, client: Client
) -> None:
    # when
    response = storage_login(platform, campus, client)
    # then: a framable page, for the script, instead of a redirect
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    data = data_attributes(response.content.decode())
    login = LaunchState.objects.get()
    assert data == {
        "mode": "put",
        "origin": platform.url,
        "target": STORAGE_FRAME,
        "state": login.state,
        "nonce": login.nonce,
        "next": data["next"],
    }
    assert data["next"].startswith(platform.url + "/auth?")
    assert f"state={login.state}" in data["next"]
    assert login.storage_target == STORAGE_FRAME
    # and the cookie is still set, for browsers that keep it
    assert response.cookies["lti_state"].value == login.state
    assert "/static/js/lti-storage.js" in response.content.decode()


def test_a_launch_without_our_cookie_is_confirmed_by_our_page_in_the_same_browser(
    platform: Platform, campus: Campus, client: Client
) -> None:
    # when: the LMS posts the launch, and no cookie of ours comes with it
    response = cookieless_launch(platform, campus, client)
    # then: our page, which reads the state and nonce back from the LMS's storage
    assert response.status_code == 200
    page = response.content.decode()
    data = data_attributes(page)
    login = LaunchState.objects.get()
    assert (data["mode"], data["state"], data["nonce"]) == ("get", login.state, login.nonce)
    assert login.used_at is None
    assert client.session.get("_auth_user_id") is None
    fields = hidden_fields(page)
    assert fields["lti_storage_checked"] == "1"
    # when: the page found them and posts its form (same origin)
    done = client.post("/lti/launch/", fields, HTTP_ORIGIN="http://testserver")
    # then
    assert done.status_code == 302
    assert done["Location"] == campus.exercise_url().removeprefix("http://testserver")
    assert client.session.get("_auth_user_id") is not None


@pytest.mark.parametrize("origin", ["https://evil.example", None])
def test_a_confirmation_not_posted_by_our_page_is_refused(
    platform: Platform, campus: Campus, client: Client, origin: str | None
) -> None:
    """Someone holding a launch of their own (id_token and state of their login) cannot
    post it, "confirmed", into a victim's browser from another site: the browser names
    the page that posts."""
    fields = hidden_fields(cookieless_launch(platform, campus, client).content.decode())
    victim = Client()
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    response = victim.post("/lti/launch/", fields, **headers)
    assert response.status_code == 403
    assert victim.session.get("_auth_user_id") is None


def test_a_browser_that_keeps_our_cookie_launches_at_once(
    platform: Platform, campus: Campus, client: Client
) -> None:
    form = authorized(platform, campus, client)
    response = client.post("/lti/launch/", {"id_token": form["id_token"], "state": form["state"]})
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") is not None


def test_the_confirmed_launch_is_still_used_once(
    platform: Platform, campus: Campus, client: Client
) -> None:
    fields = hidden_fields(cookieless_launch(platform, campus, client).content.decode())
    assert client.post("/lti/launch/", fields, HTTP_ORIGIN="http://testserver").status_code == 302
    replay = Client().post("/lti/launch/", fields, HTTP_ORIGIN="http://testserver")
    assert replay.status_code == 403
