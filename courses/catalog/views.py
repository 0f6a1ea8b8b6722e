"""Authoring pages: courses, modules, lessons, ordering, publishing, preview as a learner."""

import tempfile
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campus.access import access_organization
from campus.models import Membership, Organization, User
from campus.models import Role as OrgRole
from campus.payloads import json_loads_bounded
from courses.access import access_course_for_edit, access_course_staff, user_of
from courses.assignment import parse_exercise, student_notebook
from courses.catalog import services
from courses.catalog.export import course_export
from courses.catalog.folder import CourseFolderInvalid
from courses.catalog.forms import (
    CourseForm,
    CourseImportForm,
    LessonForm,
    NewCourseForm,
    TitleForm,
)
from courses.catalog.plan import course_folder_slug
from courses.catalog.selectors import course_outline, teaching_courses
from courses.catalog.services import AuthoringError, ImportReport
from courses.environments.forms import RequirementsForm
from courses.environments.selectors import environment_state
from courses.html import render_markdown, render_notebook
from courses.models import Cohort, Course, Enrollment, EnrollmentRole, Exercise, Lesson, Module

AUTHOR_ROLES = (OrgRole.INSTRUCTOR, OrgRole.ORG_ADMIN)
MAX_UPLOAD_BYTES = 20 * 2**20


def _org_choices(user: User) -> list[tuple[str, str]]:
    if user.is_superuser:
        orgs = Organization.objects.all()
    else:
        orgs = Organization.objects.filter(
            memberships__user=user, memberships__role__in=AUTHOR_ROLES
        )
    return [(o.slug, o.name) for o in orgs.order_by("name")]


@login_required
def teach_home_view(request: HttpRequest) -> HttpResponse:
    form = NewCourseForm(organizations=_org_choices(user_of(request)))
    courses = teaching_courses(user=user_of(request))
    return render(request, "courses/catalog/home.html", {"courses": courses, "form": form})


@login_required
@require_POST
def course_create_view(request: HttpRequest) -> HttpResponse:
    form = NewCourseForm(request.POST, organizations=_org_choices(user_of(request)))
    if not form.is_valid():
        courses = teaching_courses(user=user_of(request))
        return render(
            request, "courses/catalog/home.html", {"courses": courses, "form": form}, status=400
        )
    org = access_organization(
        user=user_of(request),
        slug=form.cleaned_data["organization"],
        roles=AUTHOR_ROLES,
    )
    course = services.course_create(
        organization=org,
        title=form.cleaned_data["title"],
        summary=form.cleaned_data["summary"],
        language=form.cleaned_data["language"],
    )
    _author_teaches(author=user_of(request), course=course)
    messages.success(request, _("Course created. Add a module to start."))
    return redirect("courses:teach:course", org.slug, course.slug)


def _author_teaches(*, author: User, course: Course) -> None:
    """The author of a new course teaches it: a first cohort holds their instructor
    enrollment (a university admin edits every course of theirs without one)."""
    cohort = Cohort.objects.create(course=course, name=_("First cohort"))
    if not Membership.objects.filter(
        user=author, organization=course.organization, role=OrgRole.ORG_ADMIN
    ).exists():
        Enrollment.objects.create(user=author, cohort=cohort, role=EnrollmentRole.INSTRUCTOR)


# ------------------------------------------------------------------ course folders (zip)


@login_required
def course_export_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    """The course folder as a zip: what `import` reads back (hidden tests included, so
    only those who may edit the course get it)."""
    course = access_course_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug
    ).course
    with tempfile.TemporaryDirectory() as folder:
        path = course_export(course=course, destination=Path(folder) / f"{course.slug}.zip")
        data = path.read_bytes()
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{course.slug}.zip"'
    return response


@login_required
def course_import_view(request: HttpRequest) -> HttpResponse:
    """Upload a course folder zip; a report says what happened to each file."""
    user = user_of(request)
    organizations = _org_choices(user)
    if not organizations:
        raise PermissionDenied(_("You may not create courses in any university."))
    form = CourseImportForm(
        request.POST or None,
        request.FILES or None,
        organizations=organizations,
        initial={"organization": request.GET.get("org")},
    )
    report, files = None, []
    if request.method == "POST" and form.is_valid():
        org = access_organization(
            user=user, slug=form.cleaned_data["organization"], roles=AUTHOR_ROLES
        )
        try:
            report = _import_upload(user=user, organization=org, upload=form.cleaned_data["file"])
            files = list(report.files)
        except CourseFolderInvalid as error:
            files = services.import_problems_by_file(error.problems)
    status = 422 if request.method == "POST" and report is None else 200
    return render(
        request,
        "courses/catalog/import.html",
        {"form": form, "report": report, "files": files},
        status=status,
    )


def _import_upload(*, user: User, organization: Organization, upload: UploadedFile) -> ImportReport:
    if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        raise CourseFolderInvalid([f"upload.zip: larger than {MAX_UPLOAD_BYTES // 2**20} MiB"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.zip"
        with path.open("wb") as copy:
            for chunk in upload.chunks():
                copy.write(chunk)
        slug = course_folder_slug(path)
        existing = Course.objects.filter(organization=organization, slug=slug).first()
        if existing is not None:
            # Updating a course needs the right to edit that course.
            access_course_for_edit(user=user, org_slug=organization.slug, course_slug=slug)
        report = services.course_import(organization=organization, path=path)
    if report.created:
        _author_teaches(author=user, course=report.course)
    return report


@login_required
def course_edit_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    course = access.course
    form = CourseForm(
        initial={
            "title": course.title,
            "summary": course.summary,
            "language": course.language,
            "grade_rule": course.grade_rule,
        }
    )
    if request.method == "POST":
        access = access_course_for_edit(
            user=user_of(request),
            org_slug=org_slug,
            course_slug=course_slug,
        )
        form = CourseForm(request.POST)
        if form.is_valid():
            services.course_update(course=course, **form.cleaned_data)
            messages.success(request, _("Course saved."))
            return redirect("courses:teach:course", org_slug, course_slug)
    return render(
        request,
        "courses/catalog/course.html",
        {
            "access": access,
            "course": course,
            "form": form,
            "outline": course_outline(course=course),
            "cohorts": list(course.cohorts.all()),
            "environment_form": RequirementsForm(initial={"requirements": course.requirements}),
            "state": environment_state(course),
        },
    )


@login_required
@require_POST
def course_publish_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    access = access_course_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug
    )
    published = request.POST.get("published") == "1"
    try:
        services.course_set_published(course=access.course, published=published)
    except AuthoringError as exc:
        messages.error(request, str(exc))
        return redirect("courses:teach:course", org_slug, course_slug)
    messages.success(request, _("Course published.") if published else _("Course unpublished."))
    return redirect("courses:teach:course", org_slug, course_slug)


@login_required
@require_POST
def module_create_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    access = access_course_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug
    )
    form = TitleForm(request.POST)
    if form.is_valid():
        module = services.module_create(course=access.course, title=form.cleaned_data["title"])
        return _back(org_slug, course_slug, f"module-{module.pk}")
    messages.error(request, _("A module needs a title."))
    return _back(org_slug, course_slug)


def _module(request: HttpRequest, org_slug: str, course_slug: str, module_id: int) -> Module:
    access = access_course_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug
    )
    return get_object_or_404(Module, pk=module_id, course=access.course)


def _back(org_slug: str, course_slug: str, anchor: str = "") -> HttpResponse:
    url = reverse("courses:teach:course", args=[org_slug, course_slug])
    return redirect(f"{url}#{anchor}" if anchor else url)


@login_required
@require_POST
def module_edit_view(
    request: HttpRequest, org_slug: str, course_slug: str, module_id: int
) -> HttpResponse:
    module = _module(request, org_slug, course_slug, module_id)
    action = request.POST.get("action")
    try:
        if action == "delete":
            services.module_delete(module=module)
            messages.success(request, _("Module deleted."))
            return _back(org_slug, course_slug)
        if action in ("up", "down"):
            services.module_move(module=module, offset=-1 if action == "up" else 1)
            return _back(org_slug, course_slug, f"module-{module.pk}")
        form = TitleForm(request.POST)
        if form.is_valid():
            services.module_update(module=module, title=form.cleaned_data["title"])
            messages.success(request, _("Module renamed."))
    except AuthoringError as exc:
        messages.error(request, str(exc))
    return _back(org_slug, course_slug, f"module-{module.pk}")


@login_required
@require_POST
def item_move_view(
    request: HttpRequest, org_slug: str, course_slug: str, module_id: int
) -> HttpResponse:
    """Keyboard reordering (a form per button) and drag and drop (JSON with every key)."""
    module = _module(request, org_slug, course_slug, module_id)
    try:
        if request.content_type == "application/json":
            keys = json_loads_bounded(request.body).get("keys", [])
            services.items_reorder(module=module, keys=[str(k) for k in keys])
            return JsonResponse({"ok": True})
        key = request.POST.get("key", "")
        services.item_move(
            module=module, key=key, offset=-1 if request.POST.get("direction") == "up" else 1
        )
    except (AuthoringError, ValueError, AttributeError) as exc:
        if request.content_type == "application/json":
            return JsonResponse({"ok": False, "error": str(exc)}, status=400)
        messages.error(request, str(exc))
        return _back(org_slug, course_slug, f"module-{module.pk}")
    return _back(org_slug, course_slug, f"item-{key}")


@login_required
def lesson_create_view(
    request: HttpRequest, org_slug: str, course_slug: str, module_id: int
) -> HttpResponse:
    module = _module(request, org_slug, course_slug, module_id)
    form = LessonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        lesson = services.lesson_create(module=module, **form.cleaned_data)
        messages.success(request, _("Lesson created."))
        return redirect("courses:teach:lesson", org_slug, course_slug, lesson.pk)
    return render(
        request,
        "courses/catalog/lesson_form.html",
        {"course": module.course, "module": module, "form": form, "lesson": None},
    )


@login_required
def lesson_edit_view(
    request: HttpRequest, org_slug: str, course_slug: str, lesson_id: int
) -> HttpResponse:
    access = access_course_for_edit(
        user=user_of(request), org_slug=org_slug, course_slug=course_slug
    )
    lesson = get_object_or_404(
        Lesson.objects.select_related("module"), pk=lesson_id, module__course=access.course
    )
    if request.method == "POST" and request.POST.get("action") == "delete":
        services.lesson_delete(lesson=lesson)
        messages.success(request, _("Lesson deleted."))
        return _back(org_slug, course_slug)
    form = LessonForm(request.POST or None, initial={"title": lesson.title, "body": lesson.body})
    if request.method == "POST" and form.is_valid():
        services.lesson_update(lesson=lesson, **form.cleaned_data)
        messages.success(request, _("Lesson saved."))
        return redirect("courses:teach:lesson", org_slug, course_slug, lesson.pk)
    return render(
        request,
        "courses/catalog/lesson_form.html",
        {
            "course": access.course,
            "module": lesson.module,
            "form": form,
            "lesson": lesson,
            "preview_html": render_markdown(lesson.body),
        },
    )


@login_required
@require_POST
def markdown_preview_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    """The lesson editor's live preview: the same renderer (and sanitiser) as the lesson page."""
    access_course_for_edit(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    return HttpResponse(
        render_markdown(request.POST.get("body", "")[:200_000]),
        content_type="text/html; charset=utf-8",
    )


@login_required
def preview_exercise_view(
    request: HttpRequest, org_slug: str, course_slug: str, exercise_id: int
) -> HttpResponse:
    """The exercise as a learner receives it: solutions stubbed, hidden tests gone."""
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    exercise = get_object_or_404(Exercise, pk=exercise_id, module__course=access.course)
    notebook = student_notebook(exercise=parse_exercise(data=exercise.source))
    return render(
        request,
        "courses/catalog/preview_exercise.html",
        {
            "course": access.course,
            "exercise": exercise,
            "notebook_html": render_notebook(notebook),
        },
    )


@login_required
def preview_course_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    """The course outline as a learner sees it, with links to each page's student view."""
    access = access_course_staff(user=user_of(request), org_slug=org_slug, course_slug=course_slug)
    return render(
        request,
        "courses/catalog/preview_course.html",
        {
            "course": access.course,
            "outline": course_outline(course=access.course),
        },
    )
