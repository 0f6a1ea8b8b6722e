"""Fixtures every test folder may use (registered by tests/conftest.py)."""

import uuid
from collections.abc import Iterator

import pytest
from django.utils import translation

from campus.models import User
from tests.support.factories import UserFactory
from tests.support.world import World, make_world


@pytest.fixture
def user(db: None) -> User:
    return UserFactory.create()


@pytest.fixture
def world(db: None) -> World:
    """A course with every kind of person around it (tests.support.world)."""
    return make_world()


@pytest.fixture(autouse=True)
def fresh_quota_counters(settings) -> None:
    """Quota counters live in Redis, which test processes may share and no rollback undoes,
    and database ids repeat between tests: each test counts under its own key prefix."""
    settings.QUOTA_KEY_PREFIX = f"quota-test-{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def each_test_starts_in_the_default_language() -> Iterator[None]:
    """LocaleMiddleware activates each request's language and never deactivates it. Served
    over ASGI every request has a context of its own, but the test client runs views in the
    test's own thread: a request in French would leave French active for every later test in
    this process. So each test starts, and ends, in the default language."""
    translation.deactivate()
    yield
    translation.deactivate()
