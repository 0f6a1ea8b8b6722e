"""A site-wide Content-Security-Policy, and templates it does not break (nothing inline)."""

import re
from pathlib import Path

import pytest

from tests.support.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
# The one standalone page: downloaded with its styles inside, under its own stricter policy.
STANDALONE = {"courses/templates/courses/grading/feedback.html"}
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE), "inline <script>"),
    (re.compile(r"<style\b", re.IGNORECASE), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.IGNORECASE), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.IGNORECASE), "inline event handler"),
    (re.compile(r"javascript:", re.IGNORECASE), "javascript: URL"),
]


def _templates() -> list[Path]:
    return [
        p
        for folder in ("courses", "platform")
        for p in (ROOT / folder).rglob("templates/**/*.html")
        if str(p.relative_to(ROOT)) not in STANDALONE
    ]


def test_no_template_holds_inline_script_style_or_handlers() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in _templates()
        for pattern, what in INLINE
        if pattern.search(path.read_text())
    ]
    assert _templates() and not found, found


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/courses/"])
def test_every_page_carries_the_policy(client, path: str) -> None:
    client.force_login(UserFactory())
    policy = client.get(path)["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
