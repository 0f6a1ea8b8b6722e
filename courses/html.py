"""Markdown to safe HTML: markdown-it-py renders, nh3 sanitises (authors are trusted less
than the page they write on)."""

import html

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_formatter = HtmlFormatter(nowrap=True)


def _highlight(code: str, language: str, attrs: str) -> str:
    """Server-side highlighting with Pygments; unknown languages stay plain (escaped)."""
    try:
        lexer = get_lexer_by_name(language or "text")
    except ClassNotFound:
        return html.escape(code)
    return highlight(code, lexer, _formatter)


_renderer = MarkdownIt(
    "commonmark", {"html": False, "linkify": False, "highlight": _highlight}
).enable("table")
_renderer.use(dollarmath_plugin, allow_space=False, double_inline=True)

ALLOWED_TAGS = nh3.ALLOWED_TAGS | {
    "span",
    "div",
    "pre",
    "code",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "img",
    "eqn",
    "section",
}
ALLOWED_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "eqn": set(),
    "img": {"src", "alt", "title", "width", "height"},
}


def render_markdown(text: str) -> str:
    """HTML safe to insert in a page. Math stays as text in `.math` elements for the
    vendored renderer to typeset."""
    html = _renderer.render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
