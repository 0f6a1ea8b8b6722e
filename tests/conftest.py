import pytest

from campus.models import User
from tests.factories import UserFactory


@pytest.fixture
def user(db: None) -> User:
    return UserFactory.create()
