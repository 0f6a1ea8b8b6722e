"""Is this HTML safe? Every sanitiser and its one allow-list: the review surface for what
reaches a person's browser from content we did not write.

Three sources, one vocabulary (`TAGS`, `ATTRIBUTES`, `URL_SCHEMES`):
- Markdown (lessons, notebook text): markdown-it-py renders with raw HTML off, Pygments
  highlights code on the server, nh3 cleans. Authors are trusted less than the page.
- Notebooks rendered by nbconvert (staff pages, a learner's feedback): the learner's code
  and text, cleaned; images may be embedded as raster `data:` URLs, nothing else may.
- Kernel outputs (the live notebook): the kernel is the learner's code and can forge any
  message, so only text (shown with textContent), the same cleaned HTML without images, and
  PNG images whose bytes really are a PNG get through; anything else falls back to its
  plain-text form or is dropped.
"""

import base64
import binascii
import contextlib
import hashlib
import html
import json
import re
from functools import lru_cache, partial
from typing import Any

import nbformat
import nh3
import redis
from django.core.cache import cache
from jinja2 import pass_context
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from nbconvert import HTMLExporter
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

# ------------------------------------------------------------------ the allow-list

# ammonia's reviewed defaults (nh3), plus the math elements of dollarmath.
TAGS = frozenset(nh3.ALLOWED_TAGS | {"eqn", "section"})
ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    # Classes style code highlighting, math, pandas tables and nbconvert's cells; no other
    # element takes one, so nothing can pass for a control of the page.
    **{tag: {"class"} for tag in ("span", "div", "code", "pre")},
    "table": nh3.ALLOWED_ATTRIBUTES["table"] | {"class"},
    "a": {"href", "hreflang", "title"},
    "img": {"src", "alt", "title", "width", "height"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "data"})
EMBEDDED_IMAGE = re.compile(r"data:image/(png|jpeg|gif);base64,", re.IGNORECASE)
LINK_REL = "noopener noreferrer nofollow"


# A URL that leaves this site: a scheme, or `//host` (browsers read `\` as `/`).
_C0_AND_SPACE = "".join(map(chr, range(33)))
OUTSIDE_URL = re.compile(r"([a-z][a-z0-9+.-]*:|[/\\]{2})", re.IGNORECASE)


def _only_embedded_images(tag: str, attribute: str, value: str) -> str | None:
    """A `data:` URL only as an image's source, and only a raster image (an SVG may script).
    An image from another site is not fetched: the request would tell that site who reads
    the page, and when."""
    # As a browser reads it: tabs and line breaks anywhere dropped, controls and spaces
    # in front ignored.
    stripped = re.sub(r"[\t\n\r]", "", value).lstrip(_C0_AND_SPACE)
    if stripped.lower().startswith("data:"):
        embedded = tag == "img" and attribute == "src" and EMBEDDED_IMAGE.match(stripped)
        return value if embedded else None
    if tag == "img" and attribute == "src" and OUTSIDE_URL.match(stripped):
        return None
    return value


_with_images = nh3.Cleaner(
    tags=set(TAGS),
    attributes=ATTRIBUTES,
    url_schemes=set(URL_SCHEMES),
    link_rel=LINK_REL,
    attribute_filter=_only_embedded_images,
)
_without_images = nh3.Cleaner(
    tags=set(TAGS - {"img"}),
    attributes=ATTRIBUTES,
    url_schemes=set(URL_SCHEMES),
    link_rel=LINK_REL,
    attribute_filter=_only_embedded_images,
)


def clean_html(markup: str, *, images: bool = True) -> str:
    """`markup` with only the allowed tags, attributes and URLs: no script, style, event
    handler or foreign embedding. Without `images`, no image at all."""
    return (_with_images if images else _without_images).clean(markup)


# ------------------------------------------------------------------ Markdown

_formatter = HtmlFormatter(nowrap=True)


def _highlight(code: str, language: str, attrs: str) -> str:
    """Server-side highlighting with Pygments; unknown languages stay plain (escaped)."""
    try:
        lexer = get_lexer_by_name(language or "text")
    except ClassNotFound:
        return html.escape(code)
    return highlight(code, lexer, _formatter)


_markdown = MarkdownIt(
    "commonmark", {"html": False, "linkify": False, "highlight": _highlight}
).enable("table")
_markdown.use(dollarmath_plugin, allow_space=False, double_inline=True)


# Rendered HTML is kept per version of the text (the text is the key): a lesson or a
# notebook's Markdown cells are rendered once per process, not on every page view.
CACHED_MAX_CHARS = 100_000


def render_markdown(text: str) -> str:
    """HTML safe to insert in a page. Math stays as text in `.math` elements for the
    vendored renderer to typeset."""
    if len(text) > CACHED_MAX_CHARS:
        return _render_markdown(text)
    return _render_markdown_cached(text)


def _render_markdown(text: str) -> str:
    return clean_html(_markdown.render(text))


_render_markdown_cached = lru_cache(maxsize=1024)(_render_markdown)


# ------------------------------------------------------------------ notebooks


class _NotebookExporter(HTMLExporter):
    """nbconvert's basic template with this site's Markdown renderer, the learner's page's:
    math left in `.math` elements for the same typesetter, code highlighted the same way."""

    @pass_context
    def markdown2html(self, context: Any, source: str) -> str:
        return _markdown.render(source)


@lru_cache(maxsize=1)
def _exporter() -> HTMLExporter:
    exporter = _NotebookExporter(template_name="basic")
    exporter.exclude_input_prompt = False
    return exporter


def render_notebook(notebook: dict[str, Any] | nbformat.NotebookNode) -> str:
    """A notebook as HTML (nbconvert's basic template), cleaned: whatever the learner's
    notebook holds, no script, event handler or foreign styling reaches the page.

    nbconvert takes tens of milliseconds: the result is cached (shared by every web process)
    under the hash of the notebook's content, so each version is rendered once."""
    digest = hashlib.sha256(json.dumps(notebook, sort_keys=True, default=str).encode())
    key = f"notebook-html:{digest.hexdigest()}"
    with contextlib.suppress(redis.RedisError):
        cached = cache.get(key)
        if cached is not None:
            return str(cached)
    body, _ = _exporter().from_notebook_node(_with_safe_attachments(notebook))
    rendered = clean_html(body)
    with contextlib.suppress(redis.RedisError):
        cache.set(key, rendered, NOTEBOOK_CACHE_S)
    return rendered


NOTEBOOK_CACHE_S = 24 * 3600


RASTER_TYPES = ("image/png", "image/jpeg", "image/gif")
_ATTACHMENT_URL = re.compile(r"attachment:([^\s()<>\"']+)")


def _with_safe_attachments(notebook: dict[str, Any] | nbformat.NotebookNode) -> Any:
    """A copy whose references to cell attachments (`![f](attachment:f.png)`) are embedded
    images when the attachment is a raster image, and point nowhere otherwise (a learner's
    answer keeps its text but not its attachments; an SVG may script)."""
    copy = nbformat.from_dict(notebook)
    for cell in copy.get("cells", []):
        kept = _raster_attachments(cell.get("attachments"))
        if "attachments" in cell:
            cell["attachments"] = kept
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(part) for part in source)
        if isinstance(source, str) and "attachment:" in source:
            cell["source"] = _ATTACHMENT_URL.sub(partial(_attachment_url, kept=kept), source)
    return copy


def _attachment_url(match: re.Match[str], *, kept: dict[str, dict[str, str]]) -> str:
    """The attachment as an embedded image, or an empty URL that shows nothing."""
    bundle = kept.get(match.group(1))
    if not bundle:
        return "data:,"
    mime, data = next(iter(bundle.items()))
    return f"data:{mime};base64,{''.join(data.split())}"


def _raster_attachments(bundles: Any) -> dict[str, dict[str, str]]:
    kept: dict[str, dict[str, str]] = {}
    for name, bundle in bundles.items() if isinstance(bundles, dict) else []:
        images = (
            {m: d for m, d in bundle.items() if m in RASTER_TYPES and isinstance(d, str)}
            if isinstance(bundle, dict)
            else {}
        )
        if images:
            kept[name] = images
    return kept


# ------------------------------------------------------------------ kernel outputs

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_TEXT_CHARS = 200_000
MAX_PNG_BYTES = 2 * 1024 * 1024
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def plain_text(value: object) -> str:
    """Text without terminal colour codes, capped in length."""
    if isinstance(value, list):
        value = "".join(str(part) for part in value)
    text = ANSI_ESCAPE.sub("", str(value))
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + "\n[…]"
    return text


def png_data(value: object) -> str | None:
    """The base64 of a real PNG image, or None."""
    if isinstance(value, list):
        value = "".join(str(part) for part in value)
    if not isinstance(value, str):
        return None
    compact = "".join(value.split())
    if len(compact) > MAX_PNG_BYTES * 4 // 3 + 4:
        return None
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return compact if raw.startswith(PNG_SIGNATURE) else None


def safe_output(output: dict[str, Any]) -> dict[str, Any] | None:
    """One nbformat v4 output as the page may show it, or None when nothing is safe."""
    kind = output.get("output_type")
    if kind == "stream":
        name = "stderr" if output.get("name") == "stderr" else "stdout"
        return {"type": "stream", "name": name, "text": plain_text(output.get("text", ""))}
    if kind == "error":
        traceback = output.get("traceback") or []
        text = "\n".join(plain_text(line) for line in traceback if isinstance(line, str))
        return {
            "type": "error",
            "ename": plain_text(output.get("ename", ""))[:200],
            "evalue": plain_text(output.get("evalue", ""))[:2000],
            "traceback": text or f"{output.get('ename', '')}: {output.get('evalue', '')}",
        }
    if kind in ("execute_result", "display_data"):
        data = output.get("data")
        return _rich(data) if isinstance(data, dict) else None
    return None


def _rich(data: dict[str, Any]) -> dict[str, Any] | None:
    png = png_data(data.get("image/png"))
    if png is not None:
        alt = plain_text(data.get("text/plain", ""))[:300]
        return {"type": "image", "png": png, "alt": alt}
    markup = data.get("text/html")
    if isinstance(markup, str | list):
        # Images only as checked PNGs (above): an <img> here could load any URL.
        return {"type": "html", "html": clean_html(plain_text(markup), images=False)}
    if "text/plain" in data:
        return {"type": "text", "text": plain_text(data["text/plain"])}
    return None
