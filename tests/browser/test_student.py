"""A student's session in a real browser: log in, open the demo exercise, run cells, see a
plot, submit a wrong then a right answer and see both scores, reload and find the draft."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from courses.demo.services import DEMO_COURSE_SLUG, DEMO_EXERCISE_SLUG, DEMO_ORG_SLUG
from tests.support.browser import WAIT_MS, shot

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.xdist_group("worker"),
]

PASSWORD = "browser-test-password"
EXERCISE = f"/courses/{DEMO_ORG_SLUG}/{DEMO_COURSE_SLUG}/exercises/{DEMO_EXERCISE_SLUG}/"
KERNEL_S = 300_000  # ms, a failure bound: the first run starts a sandboxed kernel
GRADING_S = 300_000

# Text whose contrast with its background is below WCAG AA (4.5:1; 3:1 for large text).
LOW_CONTRAST_JS = """
() => {
  function rgb(c) { const m = c.match(/[\\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; }
  function lum(c) {
    const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function background(el) {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0.9) return c;
    }
    return [255, 255, 255];
  }
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || style.visibility === "hidden" || el.offsetParent === null) continue;
    const fg = lum(rgb(style.color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) bad.push(el.tagName + "." + el.className + ": " +
      el.textContent.trim().slice(0, 40) + " (" + ratio.toFixed(2) + ")");
  }
  return bad;
}
"""


# Where the keyboard focus is: "editor N" inside cell N's code editor, "<action> N" on a
# cell's button, "submit", or the focused element's tag.
FOCUS_JS = """
() => {
  const el = document.activeElement;
  const cell = el.closest("li.cell");
  if (el.closest(".CodeMirror")) return "editor " + cell.dataset.number;
  if (el.dataset.action === "submit") return "submit";
  if (el.dataset.action) return el.dataset.action + (cell ? " " + cell.dataset.number : "");
  return el.tagName.toLowerCase();
}
"""


def _tab_to_submit(page: Page, *, edit: bool) -> list[str]:
    """Tab from the toolbar until Submit has the focus, as a keyboard-only learner would:
    in an answer cell (where Tab indents) Escape first, after typing in it when `edit`."""
    page.get_by_role("button", name="Restart kernel").focus()
    visited: list[str] = []
    for _ in range(80):
        page.keyboard.press("Tab")
        where = page.evaluate(FOCUS_JS)
        visited.append(where)
        if where == "submit":
            return visited
        if where.startswith("editor") and page.evaluate(
            "!document.activeElement.closest('li.cell').classList.contains('readonly')"
        ):
            if edit:
                page.keyboard.press("End")
                page.keyboard.press("Tab")  # indents: the focus stays in the editor
                assert page.evaluate(FOCUS_JS) == where
                page.keyboard.type("# checked")
            page.keyboard.press("Escape")
    raise AssertionError(f"Submit never got the focus: {visited}")


def _log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", "student@demo.edu")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/courses/$"))


def _cell(page: Page, number: int):
    return page.locator(f"li.cell[data-number='{number}']")


def _type_answer(page: Page, text: str) -> None:
    editor = page.get_by_role("textbox", name="Code cell 4")
    editor.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def _submit_and_wait(page: Page, score: str) -> None:
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator("#submission-feedback .score")).to_have_text(
        f"Score: {score} / 2.00", timeout=GRADING_S
    )


def test_a_student_runs_plots_submits_twice_and_finds_the_draft(live_url, page) -> None:
    call_command("seed_demo", password=PASSWORD)
    _log_in(page, live_url)
    # My courses → the outline → the demo exercise
    page.get_by_role("link", name="Introduction to scientific Python").click()
    expect(page.get_by_text("Not started")).to_be_visible()
    page.get_by_role("link", name="The mean, and a first plot").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The mean, and a first plot")
    expect(page.get_by_role("button", name="Run all")).to_be_visible()
    expect(page.get_by_role("button", name="Restart kernel")).to_be_visible()

    # a plot: run the plot cell with its button
    _cell(page, 2).get_by_role("button", name="Run cell").click()
    expect(_cell(page, 2).locator("img.output")).to_be_visible(timeout=KERNEL_S)
    expect(_cell(page, 2).locator(".prompt")).to_have_text("[1]")
    shot(page, "01-plot")

    # a wrong answer, run from the keyboard (Shift+Enter), with its output
    _type_answer(page, "def mean(values): return 2\nmean([5, 7])")
    page.keyboard.press("Shift+Enter")
    expect(_cell(page, 4).locator(".outputs")).to_have_text("2", timeout=KERNEL_S)
    # the visible test passes for it; the hidden one will not
    _cell(page, 5).get_by_role("button", name="Run cell").click()
    expect(_cell(page, 5).locator(".prompt")).to_have_text("[3]", timeout=KERNEL_S)
    _submit_and_wait(page, "1.00")
    expect(page.locator("#submission-feedback")).to_contain_text("A hidden test failed")
    shot(page, "02-wrong-answer-graded")

    # the right answer
    _type_answer(page, "def mean(values): return sum(values) / len(values)")
    _submit_and_wait(page, "2.00")
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0).locator(".score")).to_have_text("2 / 2")
    expect(history.nth(1).locator(".score")).to_have_text("1 / 2")
    shot(page, "03-right-answer-graded")

    # the draft is on the server: a reload finds it
    expect(page.locator("#save-status")).to_have_text("All changes saved")
    page.reload()
    expect(_cell(page, 4).locator(".CodeMirror")).to_contain_text(
        "return sum(values) / len(values)"
    )
    expect(page.get_by_role("link", name="Feedback").first).to_be_visible()
    assert page.evaluate(LOW_CONTRAST_JS) == []
    shot(page, "04-after-reload")

    # the outline now shows the best score
    page.get_by_role("link", name="Introduction to scientific Python").click()
    expect(page.get_by_text("Score 2 / 2")).to_be_visible()


def test_the_keyboard_reaches_every_cell_and_submit_with_and_without_editing(
    live_url, page
) -> None:
    call_command("seed_demo", password=PASSWORD)
    _log_in(page, live_url)
    page.goto(live_url + EXERCISE)
    numbers = page.locator("li.cell-code").evaluate_all("cells => cells.map(c => c.dataset.number)")
    every_cell = [stop for n in numbers for stop in (f"run-cell {n}", f"editor {n}")]

    untouched = _tab_to_submit(page, edit=False)
    assert [stop for stop in untouched if stop in every_cell] == every_cell

    edited = _tab_to_submit(page, edit=True)
    assert [stop for stop in edited if stop in every_cell] == every_cell
    expect(_cell(page, 4).locator(".CodeMirror")).to_contain_text("# checked")
    expect(page.locator("#save-status")).to_have_text("All changes saved")
    shot(page, "06-keyboard-reached-submit")


def test_the_exercise_page_works_from_the_keyboard_and_in_french(live_url, browser) -> None:
    call_command("seed_demo", password=PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    try:
        _log_in(page, live_url)
        page.goto(live_url + EXERCISE)
        expect(page.get_by_role("button", name="Tout exécuter")).to_be_visible()
        # three code cells and the hidden test's, empty, as nbgrader releases it
        expect(page.get_by_role("button", name="Exécuter la cellule")).to_have_count(4)
        expect(page.get_by_role("textbox", name="Cellule de code 4")).to_have_count(1)
        # Tab reaches the toolbar's first button, and its focus is visible
        page.get_by_role("button", name="Tout exécuter").focus()
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        assert focused == "Interrompre"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"
        # Escape, then Tab, leaves an answer cell's editor for the next control: adding a
        # cell of one's own below it, then the next cell
        page.get_by_role("textbox", name="Cellule de code 4").focus()
        page.keyboard.press("Escape")
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUS_JS) == "add-code 4"
        expect(page.locator(":focus")).to_have_text("Ajouter une cellule de code en dessous")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUS_JS) == "run-cell 5"
        shot(page, "05-french-keyboard-focus")
        assert page.evaluate(LOW_CONTRAST_JS) == []
    finally:
        context.close()


def test_the_notebook_controls_wait_for_the_script_that_runs_them(live_url, page) -> None:
    """The page is served before its scripts run: a click on Run cell in between did nothing
    (a fast browser on a cold server clicked there, and the cell never ran). The controls are
    served disabled and each script enables the ones it wires."""
    call_command("seed_demo", password=PASSWORD)
    _log_in(page, live_url)
    notebook_js = re.compile(r"/js/notebook(\.[0-9a-f]+)?\.js$")
    page.route(notebook_js, lambda route: route.abort())
    page.goto(f"{live_url}{EXERCISE}")
    for name in ("Run all", "Interrupt", "Restart kernel", "Submit"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_disabled()
    expect(_cell(page, 2).get_by_role("button", name="Run cell")).to_be_disabled()
    page.unroute(notebook_js)
    page.reload()
    for name in ("Run all", "Interrupt", "Restart kernel", "Submit"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_enabled()
    expect(_cell(page, 2).get_by_role("button", name="Run cell")).to_be_enabled()
    expect(page.get_by_role("button", name="Add code cell below").first).to_be_enabled()
