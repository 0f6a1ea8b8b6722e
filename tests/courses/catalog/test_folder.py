"""The course folder format: export, import, the lossless round trip, all-or-nothing."""

import json
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from courses.assignment import parse_exercise, student_notebook
from courses.catalog.export import course_export
from courses.catalog.folder import CourseFolderInvalid
from courses.catalog.services import course_import
from courses.demo.services import COURSE_DIR
from courses.models import Course, Exercise, Lesson, Module
from tests.courses.grading.test_pipeline import grade
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import OrganizationFactory
from tests.support.otter import (
    EXCEPTION_FILE,
    answer,
    answered,
    check,
    ok_file,
    ok_test,
    otter_output,
)
from tests.support.world import World, make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    w = make_world()
    w.exercise.due_at = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    w.exercise.late_policy = "penalty"
    w.exercise.late_penalty_percent_per_day = Decimal("12.5")
    w.exercise.max_attempts = 3
    w.exercise.save()
    w.lesson.body = "Héllo $x^2$\n\n```python\nprint(1)\n```\n"
    w.lesson.save()
    return w


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _write(root: Path, document: dict, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "course.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_export_follows_the_course_folder_format(world: World, tmp_path: Path) -> None:
    course_export(course=world.course, destination=tmp_path / "out")
    document = yaml.safe_load((tmp_path / "out/course.yaml").read_text())
    assert document["format"] == 1
    assert document["slug"] == world.course.slug
    assert document["modules"][0]["items"] == [
        {"lesson": world.lesson.slug, "title": "Welcome"},
        {
            "exercise": "add",
            "title": "Add",
            "max_attempts": 3,
            "late_policy": "penalty",
            "late_penalty_percent_per_day": 12.5,
            "due_at": "2026-12-01T23:59:00+00:00",
            "hard_deadline": None,
        },
    ]
    assert (tmp_path / f"out/lessons/{world.lesson.slug}.md").read_text() == world.lesson.body
    assert json.loads((tmp_path / "out/exercises/add.ipynb").read_text()) == world.exercise.source


def test_export_then_import_elsewhere_then_export_is_identical(
    world: World, tmp_path: Path
) -> None:
    course_export(course=world.course, destination=tmp_path / "a")
    report = course_import(organization=OrganizationFactory(), path=tmp_path / "a")
    assert (report.created, report.modules, report.lessons, report.exercises) == (True, 1, 1, 1)
    course_export(course=report.course, destination=tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    copy = Exercise.objects.get(module__course=report.course)
    assert (copy.points, copy.max_attempts, copy.late_penalty_percent_per_day) == (
        world.exercise.points,
        3,
        Decimal("12.5"),
    )


def test_importing_into_the_same_university_updates_in_place(world: World, tmp_path: Path) -> None:
    course_export(course=world.course, destination=tmp_path / "a.zip")
    text = zipfile.ZipFile(tmp_path / "a.zip").read(f"{world.course.slug}/course.yaml").decode()
    assert "format: 1" in text
    report = course_import(organization=world.course.organization, path=tmp_path / "a.zip")
    assert not report.created
    assert report.course.pk == world.course.pk
    # the exercise (and its submissions) survived
    assert Exercise.objects.get(pk=world.exercise.pk).submissions.count() == 1
    assert Module.objects.filter(course=world.course).count() == 1


def test_a_reordered_folder_reorders_the_course(world: World, tmp_path: Path) -> None:
    course_export(course=world.course, destination=tmp_path / "a")
    document = yaml.safe_load((tmp_path / "a/course.yaml").read_text())
    document["modules"][0]["items"].reverse()
    document["modules"].append({"title": "Extra", "items": []})
    _write(tmp_path / "a", document, {})
    course_import(organization=world.course.organization, path=tmp_path / "a")
    world.exercise.refresh_from_db()
    world.lesson.refresh_from_db()
    assert world.exercise.position < world.lesson.position
    assert list(Module.objects.filter(course=world.course).values_list("title", flat=True)) == [
        "Basics",
        "Extra",
    ]


def test_every_problem_is_reported_and_nothing_is_written(tmp_path: Path) -> None:
    broken = as_json(add_exercise())
    broken["cells"][1]["source"] = "### BEGIN SOLUTION\nx = 1\n"  # no END marker
    folder = _write(
        tmp_path / "c",
        {
            "format": 1,
            "slug": "new-course",
            "title": "New",
            "colour": "blue",
            "modules": [
                {
                    "title": "M",
                    "items": [
                        {"lesson": "missing-lesson", "title": "L"},
                        {"exercise": "broken", "title": "B", "late_policy": "sometimes"},
                        {"exercise": "late", "title": "T", "due_at": "2026-01-01T10:00:00"},
                    ],
                }
            ],
        },
        {
            "exercises/broken.ipynb": json.dumps(broken),
            "exercises/late.ipynb": json.dumps(as_json(add_exercise())),
        },
    )
    with pytest.raises(CourseFolderInvalid) as caught:
        course_import(organization=OrganizationFactory(), path=folder)
    problems = "\n".join(caught.value.problems)
    assert "unknown key 'colour'" in problems
    assert "lessons/missing-lesson.md: missing" in problems
    assert "late_policy must be one of" in problems
    assert "exercises/broken.ipynb: cell 2" in problems
    assert "due_at needs a UTC offset" in problems
    assert not Course.objects.exists() and not Lesson.objects.exists()


def test_an_exercise_with_submissions_is_never_removed_by_an_import(
    world: World, tmp_path: Path
) -> None:
    course_export(course=world.course, destination=tmp_path / "a")
    document = yaml.safe_load((tmp_path / "a/course.yaml").read_text())
    document["modules"][0]["items"] = document["modules"][0]["items"][:1]
    _write(tmp_path / "a", document, {})
    with pytest.raises(CourseFolderInvalid, match="has submissions"):
        course_import(organization=world.course.organization, path=tmp_path / "a")


def test_the_commands_export_and_import(world: World, tmp_path: Path) -> None:
    org = world.course.organization.slug
    call_command("export_course", world.course.slug, str(tmp_path / "x.zip"), org=org)
    other = OrganizationFactory()
    call_command("import_course", str(tmp_path / "x.zip"), org=other.slug)
    assert Course.objects.filter(organization=other, slug=world.course.slug).exists()
    (tmp_path / "bad").mkdir()
    with pytest.raises(CommandError, match=r"course\.yaml: missing"):
        call_command("import_course", str(tmp_path / "bad"), org=other.slug)


DEMO = COURSE_DIR


def _semantic(root: Path) -> tuple[dict, dict[str, str], dict[str, dict]]:
    """course.yaml as data, lessons as text, notebooks as JSON: what the format means."""
    document = yaml.safe_load((root / "course.yaml").read_text())
    lessons = {p.name: p.read_text() for p in (root / "lessons").glob("*.md")}
    notebooks = {p.name: json.loads(p.read_text()) for p in (root / "exercises").glob("*.ipynb")}
    return document, lessons, notebooks


def test_the_demo_curriculum_imports_and_round_trips(tmp_path: Path) -> None:
    # given the demo course folder as shipped
    organization = OrganizationFactory()
    report = course_import(organization=organization, path=DEMO)
    assert (report.modules, report.lessons, report.exercises) == (5, 8, 8)
    # when exported and imported again (in place)
    course_export(course=report.course, destination=tmp_path / "a")
    again = course_import(organization=organization, path=tmp_path / "a")
    course_export(course=again.course, destination=tmp_path / "b")
    # then nothing was lost: same course, same text, same notebooks
    assert again.course.pk == report.course.pk and not again.created
    exported, lessons, notebooks = _semantic(tmp_path / "b")
    shipped, shipped_lessons, shipped_notebooks = _semantic(DEMO)
    assert (lessons, notebooks) == (shipped_lessons, shipped_notebooks)
    for key in ("slug", "title", "summary", "language", "published"):
        assert exported[key] == shipped[key]
    assert [
        [(i.get("lesson") or i["exercise"], i["title"]) for i in m["items"]]
        for m in exported["modules"]
    ] == [
        [(i.get("lesson") or i["exercise"], i["title"]) for i in m["items"]]
        for m in shipped["modules"]
    ]


def _lesson_course(root: Path) -> Path:
    document = {
        "format": 1,
        "slug": "linked",
        "title": "Linked",
        "modules": [{"title": "M", "items": [{"lesson": "intro", "title": "Intro"}]}],
    }
    return _write(root, document, {})


def test_an_import_never_follows_a_link_out_of_the_course_folder(tmp_path: Path) -> None:
    # given a course folder whose lesson is a link to a secret file, and a linked folder
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET_KEY=hunter2")
    folder = _lesson_course(tmp_path / "c")
    (folder / "lessons").mkdir()
    (folder / "lessons" / "intro.md").symlink_to(secret)
    (folder / "outside").symlink_to(tmp_path, target_is_directory=True)
    # when it is imported, then it is refused, and the secret is nowhere
    with pytest.raises(CourseFolderInvalid) as caught:
        course_import(organization=OrganizationFactory(), path=folder)
    assert "lessons/intro.md: a link to outside the course folder" in "\n".join(
        caught.value.problems
    )
    assert "outside: a link to outside" in "\n".join(caught.value.problems)
    assert not Lesson.objects.filter(body__contains="hunter2").exists()


def test_a_zip_bomb_is_refused_before_it_is_decompressed(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("course.yaml", "format: 1\n")
        archive.writestr("lessons/zeros.md", b"\0" * (30 * 1024 * 1024))
    with pytest.raises(CourseFolderInvalid) as caught:
        course_import(organization=OrganizationFactory(), path=bomb)
    assert (
        "lessons/zeros.md: larger than 25 MB, or compressed more than 100 times"
        in (caught.value.problems[0])
    )


def test_a_zip_of_too_many_files_is_refused(tmp_path: Path) -> None:
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as archive:
        for n in range(2001):
            archive.writestr(f"lessons/{n}.md", "x")
    with pytest.raises(CourseFolderInvalid) as caught:
        course_import(organization=OrganizationFactory(), path=many)
    assert "more than 2000 files" in caught.value.problems[0]


def test_an_otter_exercise_with_a_tests_folder_imports_grades_and_round_trips(
    tmp_path: Path,
) -> None:
    # given otter's student version and its tests folder (one exception-based, one OK file)
    notebook = otter_output(answer("x = ..."), check("q1"), answer("y = ..."), check("q2"))
    q2 = ok_test("q2", [{"code": ">>> y * 2\n8", "hidden": True, "locked": False}], points=1)
    folder = _write(
        tmp_path / "c",
        {"format": 1, "slug": "otter-course", "title": "Otter",
         "modules": [{"title": "M", "items": [{"exercise": "hw", "title": "HW"}]}]},
        {
            "exercises/hw.ipynb": json.dumps(notebook),
            "exercises/hw/tests/q1.py": EXCEPTION_FILE,
            "exercises/hw/tests/q2.py": ok_file(q2),
        },
    )  # fmt: skip
    # when it is imported, then graded
    course_import(organization=OrganizationFactory(), path=folder)
    exercise = parse_exercise(data=Exercise.objects.get(slug="hw").source)
    learner = json.loads(json.dumps(student_notebook(exercise=exercise)))
    right = answered(learner, {"q1-answer-1": "x = 2", "q2-answer-1": "y = 4"})
    wrong = answered(
        json.loads(json.dumps(learner)), {"q1-answer-1": "x = 3", "q2-answer-1": "y = 5"}
    )
    # then otter's points: q1 all or nothing (2 + 2), q2 one point
    assert grade(exercise, right)[0].score == 5.0
    assert grade(exercise, wrong)[1] == {"q1 - 1": 0.0, "q1 - 2": 0.0, "q2 - 1": 0.0}
    # and the export carries the tests in the notebook, as otter's own metadata
    course_export(course=Course.objects.get(slug="otter-course"), destination=tmp_path / "out")
    exported = json.loads((tmp_path / "out/exercises/hw.ipynb").read_text())
    assert set(exported["metadata"]["otter"]["tests"]) == {"q1", "q2"}
    assert parse_exercise(data=exported).max_score == 5.0


def test_a_tests_folder_file_that_would_run_code_refuses_the_import(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    notebook = otter_output(answer("x = ..."), check("q1"))
    folder = _write(
        tmp_path / "c",
        {"format": 1, "slug": "otter-course", "title": "Otter",
         "modules": [{"title": "M", "items": [{"exercise": "hw", "title": "HW"}]}]},
        {
            "exercises/hw.ipynb": json.dumps(notebook),
            "exercises/hw/tests/q1.py": f"test = {{'name': open({str(marker)!r}, 'w').name}}",
        },
    )  # fmt: skip
    with pytest.raises(CourseFolderInvalid) as caught:
        course_import(organization=OrganizationFactory(), path=folder)
    assert "exercises/hw/tests/q1.py, line 1: neither literal data" in "\n".join(
        caught.value.problems
    )
    assert not marker.exists() and not Course.objects.filter(slug="otter-course").exists()
