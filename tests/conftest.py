import uuid

import pytest

from campus.models import User
from tests.factories import UserFactory


@pytest.fixture
def user(db: None) -> User:
    return UserFactory.create()


@pytest.fixture(autouse=True)
def fresh_quota_counters(settings) -> None:
    """Quota counters live in Redis, which test processes may share and no rollback undoes,
    and database ids repeat between tests: each test counts under its own key prefix."""
    settings.QUOTA_KEY_PREFIX = f"quota-test-{uuid.uuid4().hex}"
