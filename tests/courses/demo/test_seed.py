import pytest
from django.core.management import call_command

from campus.models import Membership, Organization, User
from courses.models import Cohort, Course, Enrollment, Lesson, Module

pytestmark = pytest.mark.django_db

MODELS = [User, Organization, Membership, Course, Module, Lesson, Cohort, Enrollment]


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_seed_demo_is_idempotent() -> None:
    # given
    call_command("seed_demo", password="first-password")
    first = _counts()
    # when
    call_command("seed_demo", password="first-password")
    call_command("seed_demo", password="first-password")
    # then
    assert _counts() == first
    assert first["User"] == 3


def test_seed_demo_creates_the_three_demo_logins(client) -> None:
    call_command("seed_demo", password="open-science")
    for email in ["student@demo.edu", "instructor@demo.edu", "admin@demo.edu"]:
        assert client.login(email=email, password="open-science"), email
    admin = User.objects.get(email="admin@demo.edu")
    assert admin.is_superuser
    assert Membership.objects.get(user=admin).role == "org_admin"


def test_the_demo_student_sees_the_demo_course(client) -> None:
    call_command("seed_demo", password="open-science")
    client.login(email="student@demo.edu", password="open-science")
    page = client.get("/courses/")
    assert page.status_code == 200
    assert "Introduction to scientific Python" in page.text
    outline = client.get("/courses/demo-university/intro-scientific-python/")
    assert "Welcome to the course" in outline.text
    lesson = client.get("/courses/demo-university/intro-scientific-python/lessons/welcome/")
    assert lesson.status_code == 200
    assert "<strong>NumPy</strong>" in lesson.text


def test_reseeding_resets_a_changed_demo_password(client) -> None:
    call_command("seed_demo", password="open-science")
    call_command("seed_demo", password="another-one")
    assert client.login(email="student@demo.edu", password="another-one")
