"""The learner's own cells on the exercise page: kept in the draft where they were put,
submitted, and never able to change, move, delete or impersonate an instructor's cell."""

import json
import re

import nbformat
import pytest
from django.test import Client

from courses.assignment import Role, merge_submission
from courses.exercises.selectors import parsed_exercise
from courses.exercises.services import exercise_create
from courses.learn import services
from courses.models import Draft, Submission
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import EnrollmentFactory, ModuleFactory

pytestmark = pytest.mark.django_db

TASK = {"grade_id": "plot_it", "task": True, "points": 3, "locked": True, "schema_version": 3}


@pytest.fixture
def setup():
    """`add(a, b)` and a task worth 3 points, answered in cells the learner adds."""
    enrollment = EnrollmentFactory()
    course = enrollment.cohort.course
    notebook = add_exercise()
    notebook["cells"].append(
        nbformat.v4.new_markdown_cell("Explain your `add`.", metadata={"nbgrader": TASK})
    )
    exercise = exercise_create(
        module=ModuleFactory(course=course), title="Add", slug="add", notebook=as_json(notebook)
    )
    base = f"/courses/{course.organization.slug}/{course.slug}/exercises/add/"
    client = Client()
    client.force_login(enrollment.user)
    return enrollment, exercise, base, client


def save(client, base, cells=None, added=None):
    body = {"cells": cells or {}, "added": added or []}
    return client.post(base + "draft", json.dumps(body), content_type="application/json")


def keys_in_order(page: str) -> list[str]:
    """The page's cells, in order (not the templates of a new cell)."""
    keys = re.findall(r'<li class="cell[^"]*" data-key="([^"]+)"', page)
    return [key for key in keys if key != "add:__ID__"]


def test_every_cell_offers_to_add_a_cell_below_and_a_task_says_to_answer_there(setup) -> None:
    _, _, base, client = setup
    page = client.get(base).content.decode()
    # 5 cells (the wholly hidden test's is there, empty, as nbgrader releases it), and the
    # two templates of a new cell
    assert page.count(">Add code cell below</button>") == 5 + 2
    assert page.count(">Add Markdown cell below</button>") == 5 + 2
    assert "Answer this task in cells you add below" in page
    # only the learner's own cells (here: the templates) can be moved or deleted
    assert page.count('data-action="delete-cell"') == 2
    assert 'id="added-cell-code"' in page and 'id="added-cell-markdown"' in page


def test_the_page_is_in_french_too(setup) -> None:
    _, _, base, client = setup
    page = client.get(base, headers={"accept-language": "fr"}).content.decode()
    assert "Ajouter une cellule de code en dessous" in page
    assert "Annuler" in page


def test_added_cells_are_kept_in_the_draft_where_they_were_put(setup) -> None:
    # given a code cell after the answer, and a Markdown cell under the task
    enrollment, _, base, client = setup
    added = [
        {"id": "h1", "after": "id:add", "cell_type": "code", "source": "def helper():\n    pass"},
        {"id": "m1", "after": "id:plot_it", "cell_type": "markdown", "source": "It *adds*."},
    ]
    assert save(client, base, added=added).status_code == 200
    # when the page is opened again
    page = client.get(base).content.decode()
    # then each is back under the cell it followed, numbered among the learner's cells
    assert keys_in_order(page) == [
        "id:prompt",
        "id:add",
        "add:h1",
        "id:test_add",
        "id:test_add_hidden",
        "id:plot_it",
        "add:m1",
    ]
    assert "def helper():" in page and "It <em>adds</em>." in page
    assert Draft.objects.get(learner=enrollment.user).notebook["added"] == added


def test_a_forged_draft_changes_no_instructor_cell(setup) -> None:
    # given a draft that edits a test, and "added" cells claiming test metadata, a raw or
    # unknown type, markup in their id, a duplicate id, a source that is not text, and a
    # place the notebook does not have
    enrollment, _, base, client = setup
    before = client.get(base).content.decode()
    forged = [
        {"id": "t", "after": "id:add", "cell_type": "code", "source": "x = 1",
         "metadata": {"nbgrader": {"grade": True, "grade_id": "test_add", "points": 9}},
         "role": "test", "key": "id:test_add"},
        {"id": "t", "after": "", "cell_type": "code", "source": "twice"},
        {"id": "r", "after": "", "cell_type": "raw", "source": "raw"},
        {"id": "<b>x</b>", "after": "", "cell_type": "code", "source": "markup"},
        {"id": "n", "after": "", "cell_type": "code", "source": ["not", "text"]},
        {"id": "far", "after": "id:elsewhere", "cell_type": "markdown", "source": "lost?"},
        "not a cell",
    ]  # fmt: skip
    response = save(client, base, cells={"id:test_add": "pass", "id:prompt": "Hi"}, added=forged)
    assert response.status_code == 200
    # then only the well-formed cells are kept, with their four fields and nothing else
    draft = Draft.objects.get(learner=enrollment.user).notebook
    assert draft == {
        "cells": {},
        "added": [
            {"id": "t", "after": "id:add", "cell_type": "code", "source": "x = 1"},
            {"id": "far", "after": "id:plot_it", "cell_type": "markdown", "source": "lost?"},
        ],
    }
    # and every instructor cell is on the page as before, in the same order
    page = client.get(base).content.decode()
    assert [k for k in keys_in_order(page) if not k.startswith("add:")] == keys_in_order(before)
    assert "assert add(1, 2) == 3" in page and "<b>x</b>" not in page


def test_a_draft_with_too_many_added_cells_is_refused(setup) -> None:
    _, _, base, client = setup
    # the page knows the limit, and says it before the server has to
    page = client.get(base).content.decode()
    assert f'"max_added_cells": {services.MAX_ADDED_CELLS}' in page
    assert "the most a notebook keeps: delete one to add another" in page
    added = [
        {"id": f"c{i}", "after": "", "cell_type": "code", "source": "pass"}
        for i in range(services.MAX_ADDED_CELLS + 1)
    ]
    assert save(client, base, added=added).status_code == 413


def test_a_forged_submission_keeps_every_instructor_cell_from_the_source(setup) -> None:
    # given a notebook that empties and moves the tests, edits the prompt, and adds cells
    # claiming test and locked metadata, under the task and elsewhere
    enrollment, exercise, base, client = setup
    notebook = as_json(add_exercise())
    cells = notebook["cells"]
    cells[1]["source"] = "def add(a, b):\n    return a + b"
    cells[2]["source"], cells[3]["source"] = "pass", "pass"
    cells.insert(0, cells.pop(2))
    cells[1]["source"] = "Anything goes."
    fake = nbformat.v4.new_code_cell("print('Passed')")
    fake["metadata"] = {"nbgrader": {"grade": True, "locked": True, "grade_id": "x", "points": 9}}
    task = {"cell_type": "raw", "metadata": {"nbgrader": {"grade_id": "plot_it"}}, "source": ""}
    cells += [fake, task, nbformat.v4.new_markdown_cell("My explanation.")]
    # when it is submitted
    response = client.post(base + "submit", json.dumps(notebook), content_type="application/json")
    assert response.status_code == 202
    # then what is kept is the answer, the added cells, and empty places: no instructor text
    stored = Submission.objects.get(learner=enrollment.user).notebook
    for cell in stored["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        assert grade_id in (None, "add") or (cell["cell_type"], cell["source"]) == ("raw", "")
    # and grading uses every instructor cell as the source has it; the task's answer is
    # shown under the task to whoever grades it
    parsed = parsed_exercise(exercise)
    merged = merge_submission(exercise=parsed, submission=stored)
    instructors = [c for c in merged.cells if c.role not in (Role.ADDED, Role.ANSWER)]
    assert instructors == [c for c in parsed.cells if c.role is not Role.ANSWER]
    assert merged.max_score == parsed.max_score == 6.0
    shown = merge_submission(exercise=parsed, submission=stored, as_placed=True)
    assert [c.source for c in shown.cells][-1] == "My explanation."
    assert shown.cells[-2].grade_id == "plot_it"
