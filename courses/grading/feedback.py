"""A learner's feedback as one standalone HTML page: their graded notebook rendered by
nbconvert, then sanitised (notebook Markdown may hold raw HTML), with the per-test results.
No script, no CDN: the page opens offline, years later."""

from typing import Any

import nh3
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.translation import gettext
from nbconvert import HTMLExporter

from courses import learn
from courses.grading import MESSAGES
from courses.models import Submission

NOTEBOOK_TAGS = nh3.ALLOWED_TAGS | {"div", "span", "pre", "code", "table", "thead", "tbody",
                                    "tr", "th", "td", "img"}  # fmt: skip
NOTEBOOK_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "div": {"class"},
    "span": {"class"},
    "pre": {"class"},
    "code": {"class"},
    "img": {"src", "alt"},
}


def notebook_body_html(notebook: Any) -> str:
    body, _ = HTMLExporter(template_name="basic").from_notebook_node(notebook)
    return nh3.clean(
        body,
        tags=NOTEBOOK_TAGS,
        attributes=NOTEBOOK_ATTRIBUTES,
        url_schemes={"http", "https", "data"},
        link_rel="noopener noreferrer nofollow",
    )


def learner_tests(submission: Submission) -> list[dict[str, Any]]:
    """Per-test results a learner may see, in their language: never the instructor-only
    detail."""
    tests = (submission.result or {}).get("tests", [])
    return [
        {**{k: v for k, v in t.items() if k != "detail"}, "message": translated_message(t)}
        for t in tests
    ]


def translated_message(test: dict[str, Any]) -> str:
    """The grader's message in the active language (it keeps a key and arguments)."""
    key = test.get("message_key")
    if key in MESSAGES:
        try:
            return gettext(MESSAGES[key]) % dict(test.get("message_args") or {})
        except (KeyError, TypeError, ValueError):
            pass
    return str(test.get("message", ""))


def feedback_html(*, submission: Submission) -> str:
    notebook = learn.graded_notebook(submission=submission)
    pygments_css = (settings.BASE_DIR / "static" / "css" / "pygments.css").read_text()
    return render_to_string(
        "courses/grading/feedback.html",
        {
            "submission": submission,
            "exercise": submission.exercise,
            "tests": learner_tests(submission),
            "notes": (submission.result or {}).get("notes", []),
            "notebook_html": notebook_body_html(notebook),
            "pygments_css": pygments_css,
        },
    )
