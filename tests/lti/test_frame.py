"""Inside the LMS's iframe: cookies a third party may keep (SameSite=None, Secure,
Partitioned), framable pages for launched sessions only, and the new-window fallback."""

from typing import Any

import pytest
from django.test import Client

from tests.lti.conftest import Campus, authorize, launch
from tests.support.factories import UserFactory
from tests.support.lti_platform import LEARNER, Platform

pytestmark = pytest.mark.django_db


def cookie_header(response: Any, name: str) -> str:
    return response.cookies[name].output(header="")


def test_a_launch_in_an_iframe_sets_partitioned_cookies_and_offers_a_new_window(
    platform: Platform, campus: Campus, client: Client
) -> None:
    # when
    response = launch(platform, client, target=campus.exercise_url(), HTTP_SEC_FETCH_DEST="iframe")
    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "Open in a new window" in page
    session_cookie = cookie_header(response, "sessionid")
    for attribute in ("SameSite=None", "Secure", "Partitioned", "HttpOnly"):
        assert attribute in session_cookie
    assert "X-Frame-Options" not in response
    # and the exercise page may be framed for this session
    exercise = client.get(campus.exercise_url())
    assert exercise.status_code == 200
    assert "X-Frame-Options" not in exercise


def test_pages_of_other_sessions_still_refuse_frames(client: Client, campus: Campus) -> None:
    client.force_login(UserFactory.create())
    assert client.get("/courses/")["X-Frame-Options"] == "DENY"


def test_the_login_state_cookie_is_partitioned(
    platform: Platform, campus: Campus, client: Client
) -> None:
    params = platform.prepare_launch(
        user_id="x", context_id="ctx-1", roles=LEARNER, target_link_uri=campus.exercise_url()
    )
    response = client.post("/lti/login/", params)
    state_cookie = cookie_header(response, "lti_state")
    for attribute in ("SameSite=None", "Secure", "Partitioned", "Path=/lti/"):
        assert attribute in state_cookie


def test_the_new_window_link_logs_in_once(
    platform: Platform, campus: Campus, client: Client
) -> None:
    # given
    response = launch(platform, client, target=campus.exercise_url(), HTTP_SEC_FETCH_DEST="iframe")
    resume = response.context["resume"]
    # when: the new window (a browser without the iframe's cookies) opens it
    window = Client()
    opened = window.get(resume)
    # then
    assert opened.status_code == 302
    assert opened["Location"] == campus.exercise_url().removeprefix("http://testserver")
    assert window.get(opened["Location"]).status_code == 200
    # and the link does not work twice
    again = Client().get(resume)
    assert again.status_code == 403
    assert "already used" in again.content.decode()


def test_a_forged_new_window_link_logs_nobody_in(client: Client, db: None) -> None:
    user = UserFactory.create()
    response = client.get(f"/lti/resume/{user.pk}:forged/")
    assert response.status_code == 403
    assert client.session.get("_auth_user_id") is None


def test_the_session_check_says_whether_the_cookie_came_back(
    platform: Platform, campus: Campus, client: Client
) -> None:
    assert client.get("/lti/session/").json() == {"authenticated": False}
    form = authorize(
        platform,
        client,
        platform.prepare_launch(
            user_id="x", context_id="ctx-1", roles=LEARNER, target_link_uri=campus.exercise_url()
        ),
    )
    client.post("/lti/launch/", {"id_token": form["id_token"], "state": form["state"]})
    assert client.get("/lti/session/").json() == {"authenticated": True}
