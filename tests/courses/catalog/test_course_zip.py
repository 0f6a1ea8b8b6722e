"""Course folders in the teaching pages: download a course as a zip, upload one back with a
report of what happened to each file."""

import io
import zipfile

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from campus.models import Role
from courses.models import Course, Enrollment, EnrollmentRole, Lesson
from tests.support.factories import MembershipFactory
from tests.support.world import World, make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return make_world()


def _export_url(course: Course) -> str:
    return f"/courses/teach/{course.organization.slug}/{course.slug}/export.zip"


def _download(client, course: Course) -> dict[str, bytes]:
    response = client.get(_export_url(course))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="{course.slug}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return {name: archive.read(name) for name in archive.namelist()}


def _zip(files: dict[str, bytes]) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return SimpleUploadedFile("course.zip", buffer.getvalue(), content_type="application/zip")


def _upload(client, org_slug: str, files: dict[str, bytes]):
    return client.post("/courses/teach/import", {"organization": org_slug, "file": _zip(files)})


def test_an_instructor_downloads_the_course_folder_as_a_zip(client, world: World) -> None:
    client.force_login(world.instructor)
    files = _download(client, world.course)
    slug = world.course.slug
    assert set(files) == {
        f"{slug}/course.yaml",
        f"{slug}/lessons/{world.lesson.slug}.md",
        f"{slug}/exercises/add.ipynb",
    }
    assert yaml.safe_load(files[f"{slug}/course.yaml"])["title"] == world.course.title


def test_the_zip_holds_hidden_tests_so_a_ta_or_a_student_cannot_download_it(
    client, world: World
) -> None:
    client.force_login(world.ta)
    assert client.get(_export_url(world.course)).status_code == 403
    client.force_login(world.student)
    assert client.get(_export_url(world.course)).status_code == 404


def test_uploading_the_downloaded_zip_updates_the_course_and_reports_each_file(
    client, world: World
) -> None:
    # given the course's own zip with a changed lesson and a stray file
    client.force_login(world.org_admin)
    files = _download(client, world.course)
    slug = world.course.slug
    files[f"{slug}/lessons/{world.lesson.slug}.md"] = b"# Changed"
    files[f"{slug}/notes.txt"] = b"not part of the course"
    # when it is uploaded
    page = _upload(client, world.course.organization.slug, files)
    # then the course is updated in place and every file is in the report
    assert page.status_code == 200
    assert "The course was updated." in page.text
    assert Lesson.objects.get(pk=world.lesson.pk).body == "# Changed"
    report = {(f.path, f.outcome) for f in page.context["files"]}
    assert report == {
        ("course.yaml", "updated"),
        (f"lessons/{world.lesson.slug}.md", "updated"),
        ("exercises/add.ipynb", "updated"),
        ("notes.txt", "ignored"),
    }
    assert "ignored (not listed in course.yaml)" in page.text


def test_a_broken_zip_imports_nothing_and_names_the_file_at_fault(client, world: World) -> None:
    client.force_login(world.org_admin)
    files = _download(client, world.course)
    slug = world.course.slug
    files[f"{slug}/exercises/add.ipynb"] = b"{not json"
    del files[f"{slug}/lessons/{world.lesson.slug}.md"]
    files[f"{slug}/lessons/extra.md"] = b"unused"
    before = Lesson.objects.get(pk=world.lesson.pk).body
    page = _upload(client, world.course.organization.slug, files)
    assert page.status_code == 422
    assert "Nothing was imported" in page.text
    problems = {f.path: f.messages for f in page.context["files"]}
    assert set(problems) == {"exercises/add.ipynb", f"lessons/{world.lesson.slug}.md"}
    assert "not a notebook" in problems["exercises/add.ipynb"][0]
    assert Lesson.objects.get(pk=world.lesson.pk).body == before


def test_a_new_course_from_a_zip_is_taught_by_the_instructor_who_uploaded_it(
    client, world: World
) -> None:
    client.force_login(world.instructor)
    files = _download(client, world.course)
    slug = world.course.slug
    document = yaml.safe_load(files[f"{slug}/course.yaml"])
    document["slug"], document["title"] = "copy", "A copy"
    files[f"{slug}/course.yaml"] = yaml.safe_dump(document).encode()
    MembershipFactory(
        user=world.instructor, organization=world.course.organization, role=Role.INSTRUCTOR
    )
    page = _upload(client, world.course.organization.slug, files)
    assert page.status_code == 200, page.text
    copy = Course.objects.get(organization=world.course.organization, slug="copy")
    assert Enrollment.objects.filter(
        cohort__course=copy, user=world.instructor, role=EnrollmentRole.INSTRUCTOR
    ).exists()
    assert "The course was created." in page.text


def test_an_instructor_of_another_course_cannot_overwrite_this_one(client, world: World) -> None:
    client.force_login(world.instructor)
    files = _download(client, world.course)
    client.force_login(world.other_instructor)
    MembershipFactory(
        user=world.other_instructor, organization=world.course.organization, role=Role.INSTRUCTOR
    )
    files[f"{world.course.slug}/lessons/{world.lesson.slug}.md"] = b"defaced"
    response = _upload(client, world.course.organization.slug, files)
    assert response.status_code in (403, 404)
    assert Lesson.objects.get(pk=world.lesson.pk).body != "defaced"


def test_a_zip_bomb_is_refused_before_it_is_unpacked(client, world: World) -> None:
    client.force_login(world.org_admin)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("course.yaml", b"slug: x\n")
        archive.writestr("big.bin", b"\0" * (26 * 2**20))
    upload = SimpleUploadedFile("bomb.zip", buffer.getvalue(), content_type="application/zip")
    page = client.post(
        "/courses/teach/import",
        {"organization": world.course.organization.slug, "file": upload},
    )
    assert page.status_code == 422
    assert "big.bin" in page.text and "zip bomb" in page.text
