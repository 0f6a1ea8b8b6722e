"""Kernel outputs made safe for a person's browser.

The kernel is the learner's code: it can forge any message, HTML and JavaScript included.
So what reaches the page is a small, closed vocabulary: text (shown with textContent),
HTML cleaned by nh3 (no scripts, styles, events or foreign URLs), and PNG images whose
bytes really are a PNG. Everything else falls back to its plain-text form or is dropped.
"""

import base64
import binascii
import re
from typing import Any

import nh3

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_TEXT_CHARS = 200_000
MAX_PNG_BYTES = 2 * 1024 * 1024
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")

# Tables (pandas), emphasis and lists: what notebook HTML outputs are made of.
HTML_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "div",
    "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p",
    "pre", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "u", "ul", "var",
}  # fmt: skip
HTML_ATTRIBUTES = {
    "a": {"href", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "table": {"class"},
    "span": {"class"},
    "div": {"class"},
}


def plain_text(value: object) -> str:
    """Text without terminal colour codes, capped in length."""
    if isinstance(value, list):
        value = "".join(str(part) for part in value)
    text = ANSI_ESCAPE.sub("", str(value))
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + "\n[…]"
    return text


def clean_html(markup: str) -> str:
    return nh3.clean(
        markup,
        tags=HTML_TAGS,
        attributes=HTML_ATTRIBUTES,
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer nofollow",
    )


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
    html = data.get("text/html")
    if isinstance(html, str | list):
        return {"type": "html", "html": clean_html(plain_text(html))}
    if "text/plain" in data:
        return {"type": "text", "text": plain_text(data["text/plain"])}
    return None
