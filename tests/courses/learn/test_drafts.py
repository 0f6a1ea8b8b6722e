"""Drafts: the learner's answers are kept and come back, to them only."""

import json

import pytest
from django.test import Client

from courses.learn import services
from courses.models import Draft
from tests.support.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


def test_a_draft_is_saved_and_comes_back_on_the_next_visit(setup) -> None:
    enrollment, _exercise, base, client = setup
    # when the page saves the learner's answer, and a read-only test cell it must not keep
    answer = "def add(a, b):\n    return b + a  # mine\n"
    response = client.post(
        base + "draft",
        json.dumps({"cells": {"id:add": answer, "id:test_add": "assert True"}}),
        content_type="application/json",
    )
    assert response.status_code == 200
    # then the answer is there on reload, from another device too, and the test is intact
    other_device = Client()
    other_device.force_login(enrollment.user)
    page = other_device.get(base).content.decode()
    assert "return b + a  # mine" in page
    assert "assert add(1, 2) == 3" in page
    assert Draft.objects.get(learner=enrollment.user).notebook == {"cells": {"id:add": answer}}


def test_a_draft_of_someone_else_is_never_shown(setup) -> None:
    enrollment, exercise, base, _client = setup
    services.draft_save(learner=enrollment.user, exercise=exercise, sources={"id:add": "# theirs"})
    classmate = EnrollmentFactory(cohort=enrollment.cohort).user
    other = Client()
    other.force_login(classmate)
    assert "# theirs" not in other.get(base).content.decode()
