import json

import nbformat
import pytest

from courses.assignment import parse_exercise
from courses.exercises.selectors import parsed_exercise
from courses.exercises.services import exercise_create
from courses.grading import kernels, services
from courses.grading.pipeline import grade_notebook
from courses.models import Submission, SubmissionOutputs, SubmissionStatus
from sandbox import KernelPool
from tests.support.exercises import ADD_SOLUTION, _meta, add_exercise, answered, as_json
from tests.support.factories import EnrollmentFactory, ExerciseFactory, ModuleFactory

pytestmark = pytest.mark.django_db

RESULT = {
    "tests": [
        {
            "grade_id": "t1",
            "points": 0,
            "max_points": 1,
            "passed": False,
            "status": "failed",
            "message": "A hidden test failed",
            "message_key": "hidden_failed",
            "message_args": {},
            "detail": "assert add(-5, 5) == 0",
        }
    ],
    "notes": [],
}


def test_a_learner_reads_the_graders_messages_in_french_and_never_the_detail(client) -> None:
    enrollment = EnrollmentFactory()
    exercise = ExerciseFactory(module=ModuleFactory(course=enrollment.cohort.course))
    submission = Submission.objects.create(
        learner=enrollment.user,
        exercise=exercise,
        cohort=enrollment.cohort,
        status=SubmissionStatus.GRADED,
        score=0,
        max_score=1,
        result=RESULT,
    )
    client.force_login(enrollment.user)
    french = client.get(f"/courses/submissions/{submission.pk}/", HTTP_ACCEPT_LANGUAGE="fr")
    english = client.get(f"/courses/submissions/{submission.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert french.json()["tests"][0]["message"] == "Un test caché a échoué"
    assert english.json()["tests"][0]["message"] == "A hidden test failed"
    assert "detail" not in french.json()["tests"][0]
    assert "add(-5, 5)" not in french.text


def test_a_test_missing_from_the_notebook_is_explained_in_english_and_french(client) -> None:
    enrollment = EnrollmentFactory()
    exercise = ExerciseFactory(module=ModuleFactory(course=enrollment.cohort.course))
    said = {"message_key": "test_missing", "message_args": {"test": "t1"}, "message": "x"}
    result = {"tests": [{**RESULT["tests"][0], **said, "hidden": False}], "notes": []}
    submission = Submission.objects.create(
        learner=enrollment.user,
        exercise=exercise,
        cohort=enrollment.cohort,
        status=SubmissionStatus.GRADED,
        score=0,
        max_score=1,
        result=result,
    )
    client.force_login(enrollment.user)
    url = f"/courses/submissions/{submission.pk}/"
    french = client.get(url, HTTP_ACCEPT_LANGUAGE="fr").json()["tests"][0]["message"]
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").json()["tests"][0]["message"]
    assert english == (
        "The cell of test t1 is missing from your notebook, so it was not run (nbgrader does"
        " the same); download the exercise again and copy your answers in"
    )
    assert french.startswith("La cellule du test t1 manque dans votre notebook")


# ---------------------------------------------------------------- outputs in the download

ANSWER = """import matplotlib.pyplot as plt
SEEN = []
def add(a, b):
    SEEN.append((a, b))
    print("add was called with", a, b)
    return a + b
print("my answer ran")
plt.plot([1, 2, 3])
plt.show()
"""
# A cell that runs after the hidden test and prints what the hidden test gave `add`.
LATER = 'print("SEEN", SEEN)\n'


def _two_answer_exercise() -> dict:
    """`add_exercise` (a visible and a hidden test) with a second answer cell after them."""
    nb = add_exercise()
    meta = _meta("later", solution=True)
    nb["cells"].append(nbformat.v4.new_code_cell("# YOUR CODE HERE", metadata=meta))
    return nb


@pytest.fixture(scope="module")
def pool():
    with KernelPool(size=1, limits=kernels.grading_limits()) as pool:
        yield pool


def test_the_graded_notebook_holds_what_my_answer_printed_and_drew_and_nothing_hidden(
    pool, client
) -> None:
    # given a submission graded in a real sandboxed kernel
    enrollment = EnrollmentFactory()
    exercise = exercise_create(
        module=ModuleFactory(course=enrollment.cohort.course),
        title="Add",
        slug="add",
        notebook=as_json(_two_answer_exercise()),
    )
    notebook = answered(_two_answer_exercise(), add=ANSWER, later=LATER)
    submission = services.submission_create(
        learner=enrollment.user, exercise=exercise, notebook=notebook
    )
    claim = services.submission_claim(submission_id=submission.pk)
    report = grade_notebook(
        source=parsed_exercise(exercise),
        submission=submission.notebook,
        kernel_factory=pool.acquire,
        limits=kernels.grading_limits(),
    )
    assert report.score == 3.0
    assert services.submission_record_grade(claim=claim, report=report)
    # when the learner downloads the graded notebook
    client.force_login(enrollment.user)
    response = client.get(f"/courses/submissions/{submission.pk}/notebook.ipynb")
    graded = nbformat.reads(response.content.decode(), as_version=4)
    nbformat.validate(graded)
    # then their answer cell holds what it printed and its plot
    (answer,) = [c for c in graded.cells if "my answer ran" in c.source]
    assert answer.outputs[0].text == "my answer ran\n"
    assert any("image/png" in o.get("data", {}) for o in answer.outputs)
    # and nothing the tests gave their code: the visible test's call is not an output of
    # the answer cell, and the cell after the hidden test keeps no output at all
    (later,) = [c for c in graded.cells if 'print("SEEN", SEEN)' in c.source]
    assert [o.name for o in later.outputs] == ["stderr"]
    assert "ran after a hidden test" in later.outputs[0].text
    printed = json.dumps([cell.get("outputs", []) for cell in graded.cells])
    assert "add was called with" not in printed
    text = response.content.decode()
    assert "-5" not in text and "HIDDEN" not in text


def test_a_withheld_cell_says_why_in_french(client) -> None:
    enrollment = EnrollmentFactory()
    exercise = exercise_create(
        module=ModuleFactory(course=enrollment.cohort.course),
        title="Add",
        slug="add",
        notebook=as_json(_two_answer_exercise()),
    )
    submission = Submission.objects.create(
        learner=enrollment.user,
        exercise=exercise,
        cohort=enrollment.cohort,
        status=SubmissionStatus.GRADED,
        score=3,
        max_score=3,
        result={"tests": [], "notes": []},
        notebook=answered(_two_answer_exercise(), add="x = 1", later="print(x)"),
    )
    SubmissionOutputs.objects.create(
        submission=submission,
        cells={"add": [{"output_type": "stream", "name": "stdout", "text": "1\n"}], "later": None},
    )
    client.force_login(enrollment.user)
    response = client.get(
        f"/courses/submissions/{submission.pk}/notebook.ipynb", HTTP_ACCEPT_LANGUAGE="fr"
    )
    graded = nbformat.reads(response.content.decode(), as_version=4)
    (answer,) = [c for c in graded.cells if c.source == "x = 1"]
    (later,) = [c for c in graded.cells if c.source == "print(x)"]
    assert answer.outputs[0].text == "1\n"
    assert "test caché" in later.outputs[0].text


# A figure whose drawing is counted: an artist that notes each draw.
COUNTED_FIGURE = """import matplotlib.pyplot as plt
from matplotlib.artist import Artist
class Counted(Artist):
    def draw(self, renderer):
        DRAWN.append(1)
plt.plot([1, 2])
plt.gca().add_artist(Counted())
plt.show()
"""


def test_only_the_cells_whose_outputs_are_kept_draw_their_figures(pool) -> None:
    # a cell the learner added (its outputs are not kept) draws a figure, then the answer
    # says how many draws it saw and draws one of its own
    notebook = answered(
        add_exercise(), add=f"{ADD_SOLUTION}\nprint('drawn before', len(DRAWN))\n{COUNTED_FIGURE}"
    )
    notebook["cells"].insert(1, nbformat.v4.new_code_cell(f"DRAWN = []\n{COUNTED_FIGURE}"))
    report = grade_notebook(
        source=parse_exercise(data=json.dumps(as_json(add_exercise())).encode()),
        submission=as_json(notebook),
        kernel_factory=pool.acquire,
        limits=kernels.grading_limits(),
    )
    assert report.score == 3.0
    printed, *_, drawn = report.outputs["add"]
    # the added cell's figure was closed undrawn; the answer's was drawn, as a PNG
    assert printed["text"] == "drawn before 0\n"
    assert "image/png" in drawn["data"]
