"""Notebooks as HTML for staff pages: nbconvert's basic template, then sanitised by nh3.

A learner's notebook is the learner's code and text: whatever it holds, the HTML that
reaches a person's browser has no script, no event handler and no foreign styling.
"""

from functools import lru_cache
from typing import Any

import nbformat
import nh3
from nbconvert import HTMLExporter

TAGS = {
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ATTRIBUTES = {"*": {"class"}, "a": {"href", "title"}, "img": {"src", "alt"}}


@lru_cache(maxsize=1)
def _exporter() -> HTMLExporter:
    exporter = HTMLExporter(template_name="basic")
    exporter.exclude_input_prompt = False
    return exporter


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "data"},
        link_rel="noopener noreferrer nofollow",
    )


def render_notebook(notebook: dict[str, Any] | nbformat.NotebookNode) -> str:
    body, _ = _exporter().from_notebook_node(nbformat.from_dict(notebook))
    return sanitise(body)
