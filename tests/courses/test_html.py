"""Kernel outputs are untrusted (the kernel is the learner's code): only safe ones pass."""

import base64

from courses.safe_outputs import safe_output

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


def test_html_loses_scripts_event_handlers_and_javascript_urls() -> None:
    shown = safe_output(
        {
            "output_type": "display_data",
            "data": {
                "text/html": '<table onclick="x()"><tr><td>1</td></tr></table>'
                '<script>steal()</script><a href="javascript:x()">a</a><img src=x onerror=y>'
            },
        }
    )
    assert shown is not None and shown["type"] == "html"
    assert "script" not in shown["html"] and "onclick" not in shown["html"]
    assert "javascript:" not in shown["html"] and "<img" not in shown["html"]
    assert "<td>1</td>" in shown["html"]


def test_an_image_must_really_be_a_png() -> None:
    real = {"output_type": "display_data", "data": {"image/png": PNG, "text/plain": "<Figure>"}}
    assert safe_output(real) == {"type": "image", "png": PNG, "alt": "<Figure>"}
    fake = base64.b64encode(b"<svg onload=alert(1)>").decode()
    forged = {"output_type": "display_data", "data": {"image/png": fake, "text/plain": "x"}}
    assert safe_output(forged) == {"type": "text", "text": "x"}


def test_svg_and_javascript_outputs_fall_back_to_text_or_nothing() -> None:
    svg = {"output_type": "display_data", "data": {"image/svg+xml": "<svg/>"}}
    js = {"output_type": "display_data", "data": {"application/javascript": "alert(1)"}}
    assert safe_output(svg) is None and safe_output(js) is None


def test_tracebacks_lose_terminal_colours_and_streams_keep_their_name() -> None:
    error = {
        "output_type": "error", "ename": "ValueError", "evalue": "bad",
        "traceback": ["\x1b[0;31mValueError\x1b[0m: bad"],
    }  # fmt: skip
    shown = safe_output(error)
    assert shown is not None and shown["traceback"] == "ValueError: bad"
    stream = {"output_type": "stream", "name": "evil", "text": "<b>hi</b>"}
    assert safe_output(stream) == {"type": "stream", "name": "stdout", "text": "<b>hi</b>"}
