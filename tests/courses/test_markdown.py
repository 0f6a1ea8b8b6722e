from courses.markdown import render_markdown


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
