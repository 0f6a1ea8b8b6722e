from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from courses.access import access_course
from courses.markdown import render_markdown
from courses.models import Lesson
from courses.selectors import course_outline, my_courses


@login_required
def my_courses_view(request: HttpRequest) -> HttpResponse:
    cards = my_courses(user=request.user)  # type: ignore[arg-type]
    return render(request, "courses/my_courses.html", {"cards": cards})


@login_required
def course_outline_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    access = access_course(user=request.user, org_slug=org_slug, course_slug=course_slug)  # type: ignore[arg-type]
    outline = course_outline(course=access.course)
    return render(
        request,
        "courses/outline.html",
        {"access": access, "course": access.course, "outline": outline},
    )


@login_required
def lesson_view(
    request: HttpRequest, org_slug: str, course_slug: str, lesson_slug: str
) -> HttpResponse:
    access = access_course(user=request.user, org_slug=org_slug, course_slug=course_slug)  # type: ignore[arg-type]
    lesson = (
        Lesson.objects.filter(module__course=access.course, slug=lesson_slug)
        .select_related("module")
        .first()
    )
    if lesson is None:
        raise Http404("No such lesson")
    return render(
        request,
        "courses/lesson.html",
        {"course": access.course, "lesson": lesson, "body_html": render_markdown(lesson.body)},
    )
