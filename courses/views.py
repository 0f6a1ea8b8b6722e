from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from courses import learn
from courses.access import access_course
from courses.markdown import render_markdown
from courses.models import Lesson
from courses.selectors import course_outline, my_courses


@login_required
def my_courses_view(request: HttpRequest) -> HttpResponse:
    cards = my_courses(user=request.user)  # type: ignore[arg-type]
    progress = learn.course_progress(
        learner=request.user,  # type: ignore[arg-type]
        course_ids=[card.course.pk for card in cards],
    )
    rows = [(card, progress[card.course.pk]) for card in cards]
    return render(request, "courses/learn/my_courses.html", {"cards": cards, "rows": rows})


@login_required
def course_outline_view(request: HttpRequest, org_slug: str, course_slug: str) -> HttpResponse:
    access = access_course(user=request.user, org_slug=org_slug, course_slug=course_slug)  # type: ignore[arg-type]
    outline = course_outline(course=access.course)
    exercises = [item.exercise for entry in outline for item in entry.items if item.exercise]
    statuses = learn.exercise_statuses(
        learner=request.user,  # type: ignore[arg-type]
        exercise_ids=[exercise.pk for exercise in exercises],
    )
    for exercise in exercises:
        exercise.learner_status = statuses[exercise.pk]  # type: ignore[attr-defined]
    return render(
        request,
        "courses/learn/outline.html",
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
        "courses/learn/lesson.html",
        {"course": access.course, "lesson": lesson, "body_html": render_markdown(lesson.body)},
    )
