"""What reaches a browser is safe: Markdown, rendered notebooks and kernel outputs (the
kernel is the learner's code: only safe outputs pass)."""

import base64
import re

import nbformat
import pytest

from courses import html as html_module
from courses.html import clean_html, render_markdown, render_notebook, safe_output

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


# ------------------------------------------------------------------ Markdown


def test_raw_html_is_shown_as_text_never_as_markup() -> None:
    html = render_markdown('<script>alert(1)</script>\n\n<img src=x onerror="alert(1)">')
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;img src=x" in html


def test_javascript_links_are_not_links() -> None:
    html = render_markdown("[click](javascript:alert(1)) and [ok](https://example.org)")
    assert html.count("<a ") == 1
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in html


def test_math_is_kept_as_text_for_the_vendored_typesetter() -> None:
    html = render_markdown("The mean $\\bar{x} < 2$.\n\n$$\\frac{1}{n}$$")
    assert '<span class="math inline">\\bar{x} &lt; 2</span>' in html
    assert '<div class="math block">' in html


def test_python_code_is_highlighted_on_the_server() -> None:
    html = render_markdown("```python\nimport numpy as np\n```")
    assert '<span class="kn">import</span>' in html


def test_unknown_languages_stay_escaped_plain_text() -> None:
    html = render_markdown("```nosuchlang\n<b>x</b>\n```")
    assert "&lt;b&gt;x&lt;/b&gt;" in html


# ------------------------------------------------------------------ the allow-list


def test_data_urls_pass_only_as_embedded_raster_images() -> None:
    html = clean_html(
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="plot">'
        '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">'
        '<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">open</a>'
    )
    assert '<img src="data:image/png;base64,iVBORw0KGgo=" alt="plot">' in html
    assert "svg" not in html and 'href="data:' not in html


def test_no_element_but_code_math_and_tables_takes_a_class() -> None:
    html = clean_html('<a href="https://example.org" class="button">pay</a><p class="alert">x</p>')
    assert "class=" not in html
    assert '<span class="kn">' in clean_html('<span class="kn">import</span>')


def test_a_notebook_renders_its_markdown_as_the_learners_page_does() -> None:
    # Math is left for the page's typesetter, as on the learner's page: not as raw TeX
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("Area $\\pi r^2$ and <b onclick=x()>bold</b>")]
    )
    html = render_notebook(notebook)
    assert '<span class="math inline">\\pi r^2</span>' in html
    assert "<b " not in html  # raw HTML in Markdown stays text, as on the learner's page


@pytest.mark.parametrize(
    "src",
    [
        "https://tracker.example/pixel.png",
        "http://tracker.example/pixel.png",
        "//tracker.example/pixel.png",
        "/\\tracker.example/pixel.png",
        " \t//tracker.example/p.png",
        "/\t/tracker.example/p.png",
        "HTTPS://tracker.example/p.png",
    ],
)
def test_an_image_from_another_site_is_never_fetched(src: str) -> None:
    markup = f'<p><img src="{src}" alt="chart"></p>'
    cleaned = clean_html(markup)
    assert "tracker.example" not in cleaned
    sources = re.findall(r'src="([^"]*)"', render_markdown(f"![chart]({src.strip()})"))
    assert not [s for s in sources if re.match(r"\s*([a-z]+:|[/\\]{2})", s, re.IGNORECASE)]


def test_an_image_from_this_site_is_kept() -> None:
    assert 'src="/static/img/logo.png"' in clean_html('<img src="/static/img/logo.png">')


def test_notebook_attachments_render_or_drop_safely_never_raise() -> None:
    import nbformat

    from courses.html import render_notebook

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_markdown_cell(
        "![kept](attachment:ok.png) ![gone](attachment:missing.png) "
        '<img src="attachment:evil.svg"> ![odd](attachment:odd.png)'
    )
    cell["attachments"] = {
        "ok.png": {"image/png": PNG},
        "evil.svg": {"image/svg+xml": "<svg onload=alert(1)>"},
        "odd.png": ["not", "a", "bundle"],
    }
    notebook.cells.append(cell)
    html = render_notebook(notebook)
    assert f'src="data:image/png;base64,{PNG}"' in html
    assert "svg" not in html and "onload" not in html and "attachment:" not in html


def test_a_version_of_markdown_is_rendered_once_per_process() -> None:
    text = "# A lesson\n\nWith $x^2$ and **bold**, version 7."
    first = render_markdown(text)
    hits = html_module._render_markdown_cached.cache_info().hits
    assert render_markdown(text) == first
    assert html_module._render_markdown_cached.cache_info().hits == hits + 1
    assert render_markdown(text + " Edited.") != first  # a new version is rendered anew


def test_a_version_of_a_notebook_is_rendered_once_for_every_web_process(monkeypatch) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Cached once")])
    first = render_notebook(notebook)
    monkeypatch.setattr(html_module, "_exporter", lambda: pytest.fail("rendered again"))
    assert render_notebook(notebook) == first
