"""Shared fixtures live in tests/support (factories, a course world, a real gateway, a real
Celery worker); the folders' own conftest files hold what only they use."""

pytest_plugins = ["tests.support.fixtures", "tests.support.gateway", "tests.support.package_index"]
