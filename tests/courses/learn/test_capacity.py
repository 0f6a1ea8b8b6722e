"""A worker's session limit: configured, or derived from memory."""

import pytest

from courses.learn import capacity


@pytest.fixture(autouse=True)
def fresh_budget(monkeypatch):
    monkeypatch.setattr(capacity, "_budget", [])


def available(monkeypatch, mib: float) -> None:
    monkeypatch.setattr(capacity, "memory_available_mib", lambda: mib)


def test_a_24_gib_host_holds_at_least_200_sessions_by_default(settings, monkeypatch) -> None:
    settings.INTERACTIVE_MAX_SESSIONS = 0
    settings.INTERACTIVE_SESSION_MIB = 64
    settings.INTERACTIVE_MEMORY_RESERVE_MIB = 1024
    available(monkeypatch, 23 * 1024)
    assert capacity.session_capacity(held=0) >= 200


def test_the_budget_is_fixed_at_first_use_and_memory_must_still_be_there(
    settings, monkeypatch
) -> None:
    settings.INTERACTIVE_MAX_SESSIONS = 0
    settings.INTERACTIVE_SESSION_MIB = 100
    settings.INTERACTIVE_MEMORY_RESERVE_MIB = 0
    available(monkeypatch, 1000)
    assert capacity.session_capacity(held=0) == 10
    # when the worker's own sessions used little, the budget still holds
    available(monkeypatch, 900)
    assert capacity.session_capacity(held=8) == 10
    # when another process took the host's memory, no new session starts
    available(monkeypatch, 50)
    assert capacity.session_capacity(held=8) == 8


def test_a_configured_limit_wins(settings, monkeypatch) -> None:
    settings.INTERACTIVE_MAX_SESSIONS = 3
    available(monkeypatch, 0)
    assert capacity.session_capacity(held=1) == 3


def test_spare_kernels_follow_the_session_budget_within_bounds(settings, monkeypatch) -> None:
    settings.INTERACTIVE_MAX_SESSIONS = 0
    settings.INTERACTIVE_POOL_SIZE = 0
    settings.INTERACTIVE_SESSION_MIB = 64
    settings.INTERACTIVE_MEMORY_RESERVE_MIB = 1024
    # a 24 GiB host: a class's first learners find dozens of kernels ready
    available(monkeypatch, 23 * 1024)
    assert 30 <= capacity.spare_kernels() <= capacity.SPARES_MAX
    # a small host keeps a couple
    monkeypatch.setattr(capacity, "_budget", [])
    available(monkeypatch, 1500)
    assert capacity.spare_kernels() == capacity.SPARES_MIN


def test_a_configured_number_of_spare_kernels_wins(settings, monkeypatch) -> None:
    settings.INTERACTIVE_POOL_SIZE = 5
    available(monkeypatch, 23 * 1024)
    assert capacity.spare_kernels() == 5
