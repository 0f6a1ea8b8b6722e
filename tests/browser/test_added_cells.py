"""A learner's own cells in a real browser: add a code cell, run it, move it, answer a task
in a Markdown cell added under it, delete a cell (and undo), reload, submit; and the same
from the keyboard alone."""

import re

import nbformat
import pytest
from playwright.sync_api import Page, expect

from courses.exercises.services import exercise_create
from courses.models import Submission
from tests.support.browser import shot
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import PASSWORD, EnrollmentFactory, ModuleFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.xdist_group("worker"),
]

KERNEL_MS = 300_000  # a failure bound: the first run starts a sandboxed kernel
GRADING_MS = 300_000
TASK = {"grade_id": "explain_it", "task": True, "points": 3, "locked": True, "schema_version": 3}


def _exercise_url(page: Page, live_url: str) -> str:
    """A learner, logged in, and an exercise with a task: `add(a, b)`, then "explain it"."""
    enrollment = EnrollmentFactory()
    notebook = add_exercise()
    notebook["cells"].append(
        nbformat.v4.new_markdown_cell("Explain why `add` is right.", metadata={"nbgrader": TASK})
    )
    course = enrollment.cohort.course
    exercise_create(
        module=ModuleFactory(course=course), title="Add", slug="add", notebook=as_json(notebook)
    )
    page.goto(f"{live_url}/accounts/login/")
    page.fill("input[name=login]", enrollment.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/courses/$"))
    return f"{live_url}/courses/{course.organization.slug}/{course.slug}/exercises/add/"


def _keys(page: Page) -> list[str]:
    return page.locator(".notebook-cells > li.cell").evaluate_all(
        "cells => cells.map(c => c.dataset.addedId ? c.dataset.cellType : c.dataset.key)"
    )


def _cell(page: Page, key: str):
    return page.locator(f".notebook-cells > li.cell[data-key='{key}']")


def _mine(page: Page, number: int):
    return page.locator(".notebook-cells > li.cell-added").nth(number - 1)


def test_a_learner_adds_runs_moves_deletes_and_submits_their_own_cells(live_url, page) -> None:
    page.goto(_exercise_url(page, live_url))
    # instructor cells have no move or delete buttons
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)

    # a code cell added after the answer, run with Shift+Enter
    _cell(page, "id:add").get_by_role("button", name="Add code cell below").click()
    expect(_mine(page, 1).get_by_role("textbox", name="Your cell 1 · code")).to_be_focused()
    page.keyboard.type("double = lambda x: 2 * x\ndouble(21)")
    page.keyboard.press("Shift+Enter")
    expect(_mine(page, 1).locator(".outputs")).to_have_text("42", timeout=KERNEL_MS)

    # moved up, above the answer
    _mine(page, 1).get_by_role("button", name="Move up").click()
    # (the wholly hidden test's cell is there, empty, as nbgrader releases it)
    assert _keys(page) == [
        "id:prompt", "code", "id:add", "id:test_add", "id:test_add_hidden", "id:explain_it"
    ]  # fmt: skip

    # the task answered in a Markdown cell added under it, with its preview
    _cell(page, "id:explain_it").get_by_role("button", name="Add Markdown cell below").click()
    page.keyboard.type("Addition: $a + b = b + a$.")
    _mine(page, 2).get_by_role("button", name="Preview").click()
    expect(_mine(page, 2).locator(".written-preview .katex").first).to_be_visible()

    # a cell added then deleted; Undo brings it back; deleted again
    _mine(page, 2).get_by_role("button", name="Add code cell below").click()
    page.keyboard.type("scratch = 1")
    _mine(page, 3).get_by_role("button", name="Delete").click()
    expect(page.get_by_role("button", name="Undo")).to_be_focused()
    expect(page.get_by_role("status").filter(has_text="Your cell was deleted.")).to_have_count(1)
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("button", name="Undo")).to_be_hidden()
    expect(_mine(page, 3).locator(".CodeMirror")).to_contain_text("scratch = 1")
    _mine(page, 3).get_by_role("button", name="Delete").click()
    expect(page.locator(".notebook-cells > li.cell-added")).to_have_count(2)
    expect(page.locator("#save-status")).to_have_text("All changes saved")
    shot(page, "added-cells-01-before-reload")

    # a reload finds the draft: both cells, where they were, the deleted one gone
    page.reload()
    assert _keys(page) == [
        "id:prompt",
        "code",
        "id:add",
        "id:test_add",
        "id:test_add_hidden",
        "id:explain_it",
        "markdown",
    ]
    expect(_mine(page, 1).locator(".CodeMirror")).to_contain_text("double = lambda x: 2 * x")
    expect(_mine(page, 2).locator("textarea")).to_have_value("Addition: $a + b = b + a$.")

    # the answer uses the added cell; submitted: autograded points, the task for a person
    editor = _cell(page, "id:add").get_by_role("textbox", name="Code cell 2")
    editor.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("add = lambda a, b: double(a + b) // 2")
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator("#submission-feedback .score")).to_have_text(
        "Score: 3.00 / 6.00", timeout=GRADING_MS
    )
    shot(page, "added-cells-02-submitted")
    stored = Submission.objects.get().notebook["cells"]
    sources = [c["source"] for c in stored if c["source"]]
    assert sources == [
        "double = lambda x: 2 * x\ndouble(21)",
        "add = lambda a, b: double(a + b) // 2",
        "Addition: $a + b = b + a$.",
    ]


# Where the focus is: "<action> <key>" on a cell's button, "editor <key>", or the tag.
FOCUS_JS = """
() => {
  const el = document.activeElement;
  const cell = el.closest("li.cell");
  const key = cell ? (cell.dataset.addedId ? "mine" : cell.dataset.key) : "";
  if (el.closest(".CodeMirror")) return "editor " + key;
  if (el.dataset.action) return (el.dataset.action + " " + key).trim();
  return el.tagName.toLowerCase();
}
"""


def _tab_to(page: Page, stop: str) -> None:
    """Tab as a keyboard-only learner would: in an editor where Tab indents, Escape first."""
    visited = []
    for _ in range(40):
        page.keyboard.press("Tab")
        where = page.evaluate(FOCUS_JS)
        visited.append(where)
        if where == stop:
            return
        if where.startswith("editor"):
            page.keyboard.press("Escape")
    raise AssertionError(f"the keyboard never reached {stop}: {visited}")


def test_the_keyboard_adds_moves_deletes_and_restores_a_cell(live_url, page) -> None:
    page.goto(_exercise_url(page, live_url))
    page.get_by_role("button", name="Restart kernel").focus()
    # Tab to the task's "Add code cell below", Enter: the new cell's editor has the focus
    _tab_to(page, "add-code id:explain_it")
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUS_JS) == "editor mine"
    page.keyboard.type("answer = 42")
    # Escape, then Tab leaves the editor for the cell's own buttons
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUS_JS) == "run-cell mine"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUS_JS) == "move-down mine"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # Move up: above the task, the focus stays on the button
    assert page.evaluate(FOCUS_JS) == "move-up mine"
    assert _keys(page)[-2:] == ["code", "id:explain_it"]
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUS_JS) == "delete-cell mine"
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUS_JS) == "undo-delete"
    assert "code" not in _keys(page)
    page.keyboard.press("Enter")
    assert _keys(page)[-2:] == ["code", "id:explain_it"]
    assert page.evaluate(FOCUS_JS) == "delete-cell mine"
    expect(page.locator("#save-status")).to_have_text("All changes saved")
    shot(page, "added-cells-03-keyboard")
