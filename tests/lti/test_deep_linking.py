"""Deep Linking: an instructor picks exercises and lessons in the LMS's picker; the signed
response creates links with gradebook columns, and learners' launches of them work."""

import re
import urllib.parse
import urllib.request
from html import unescape

import pytest
from django.test import Client

from lti.models import ResourceLink
from tests.lti.conftest import LAUNCH_URL, Campus, launch
from tests.support.factories import ExerciseFactory
from tests.support.lti_platform import INSTRUCTOR, LEARNER, Platform

pytestmark = pytest.mark.django_db
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def pick(platform: Platform, client: Client, items: list[str]) -> dict:
    """The instructor opens the picker from the LMS, chooses `items`, and the browser posts
    the response back to the LMS."""
    response = launch(
        platform,
        client,
        user_id="teacher",
        roles=INSTRUCTOR,
        target=LAUNCH_URL,
        message_type="LtiDeepLinkingRequest",
    )
    assert response.status_code == 302
    picker = client.get(response["Location"])
    assert picker.status_code == 200
    back = client.post(response["Location"], {"item": items})
    page = back.content.decode()
    action = unescape(
        re.findall(r'<form id="lti-autopost" method="post" action="([^"]+)"', page)[0]
    )
    jwt_value = unescape(re.findall(r'name="JWT" value="([^"]+)"', page)[0])
    data = urllib.parse.urlencode({"JWT": jwt_value}).encode()
    with urllib.request.urlopen(action, data=data, timeout=10) as answer:  # noqa: S310
        assert answer.status == 200
    return platform.deep_link_returns[-1]


def test_an_instructor_adds_an_exercise_and_a_lesson_with_a_gradebook_column(
    platform: Platform, campus: Campus, client: Client
) -> None:
    # when
    response = pick(
        platform, client, [f"exercise:{campus.exercise.pk}", f"lesson:{campus.lesson.pk}"]
    )
    # then
    exercise_item, lesson_item = response[DL + "content_items"]
    assert exercise_item["url"] == campus.exercise_url()
    assert exercise_item["lineItem"]["scoreMaximum"] == float(campus.exercise.points)
    assert "lineItem" not in lesson_item
    assert lesson_item["title"] == campus.lesson.title
    assert response[DL + "data"] == "opaque-link-1"
    assert (
        response["https://purl.imsglobal.org/spec/lti/claim/deployment_id"]
        == platform.deployment_id
    )
    assert response["aud"] == platform.issuer
    # and a learner's launch of the new link lands on the exercise, with its column
    (link_id, url), _lesson = platform.accept_deep_links("ctx-1")
    learner = Client()
    landed = launch(platform, learner, user_id="learner-9", target=url, resource_link_id=link_id)
    assert landed["Location"] == campus.exercise_url().removeprefix("http://testserver")
    link = ResourceLink.objects.get(resource_link_id=link_id)
    assert link.exercise == campus.exercise
    assert platform.lineitems[link.lineitem_url.rsplit("/", 1)[1]]["resourceLinkId"] == link_id


def test_a_learner_cannot_open_the_picker(
    platform: Platform, campus: Campus, client: Client
) -> None:
    response = launch(
        platform, client, roles=LEARNER, target=LAUNCH_URL, message_type="LtiDeepLinkingRequest"
    )
    assert response.status_code == 403
    assert client.get("/lti/deep-link/").status_code in (302, 400)


def test_another_universitys_exercise_cannot_be_linked(
    platform: Platform, campus: Campus, client: Client
) -> None:
    foreign = ExerciseFactory.create()
    response = pick(platform, client, [f"exercise:{foreign.pk}", f"exercise:{campus.exercise.pk}"])
    urls = [item["url"] for item in response[DL + "content_items"]]
    assert urls == [campus.exercise_url()]
