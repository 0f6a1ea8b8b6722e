"""Usage counted in Redis reaches the database once, per learner, course, model and day."""

import asyncio

import pytest
from redis.asyncio import Redis

from gateway.keys import USAGE_FLUSHING_PREFIX, USAGE_KEY
from gateway.limits import usage_record
from gateway.models import Usage
from gateway.services import redis_client, usage_flush
from tests.support.factories import CourseFactory, UserFactory
from tests.support.gateway import FROZEN_NOW, MINILM, minilm_card


def record(settings, **kwargs) -> None:
    async def go() -> None:
        redis = Redis.from_url(settings.REDIS_URL)
        # one instant for all: a test running over midnight must not make two days of usage
        await usage_record(redis, model=MINILM, completion_tokens=0, now=FROZEN_NOW, **kwargs)
        await redis.aclose()

    asyncio.run(go())


@pytest.fixture
def setup(db, clean_redis, settings):
    minilm_card()
    return UserFactory(), CourseFactory()


def test_flushing_twice_counts_once_and_separates_courses(setup, settings):
    user, course = setup
    record(settings, user_id=user.id, course_id=course.id, prompt_tokens=5)
    record(settings, user_id=user.id, course_id=course.id, prompt_tokens=7)
    record(settings, user_id=user.id, course_id=None, prompt_tokens=3)

    assert usage_flush() == 2
    assert usage_flush() == 0
    record(settings, user_id=user.id, course_id=None, prompt_tokens=1)
    usage_flush()

    rows = {u.course_id: (u.requests, u.prompt_tokens) for u in Usage.objects.filter(user=user)}
    assert rows == {course.id: (2, 12), None: (2, 4)}
    assert not redis_client().exists(USAGE_KEY)


def test_a_batch_left_by_a_failed_flush_is_written_by_the_next(setup, settings):
    user, course = setup
    record(settings, user_id=user.id, course_id=course.id, prompt_tokens=9)
    # as if a flush had renamed the batch and died before writing it
    redis_client().rename(USAGE_KEY, f"{USAGE_FLUSHING_PREFIX}crashed")
    usage_flush()
    assert Usage.objects.get(user=user).prompt_tokens == 9
