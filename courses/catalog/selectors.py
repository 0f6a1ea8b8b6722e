"""Reads on courses, modules and lessons. Each selector runs a fixed number of queries,
whatever the data size."""

from dataclasses import dataclass, field

from django.db.models import Prefetch, Q

from campus.access import administered_organizations
from campus.models import User
from courses.models import Cohort, Course, Enrollment, EnrollmentRole, Exercise, Lesson, Module


@dataclass(frozen=True)
class CourseCard:
    course: Course
    cohort: Cohort
    role: str


def my_courses(*, user: User) -> list[CourseCard]:
    """The courses `user` is enrolled in (published ones only, unless they teach them)."""
    enrollments = (
        Enrollment.objects.filter(user=user)
        .select_related("cohort__course__organization")
        .order_by("cohort__course__title", "cohort__name")
    )
    cards = []
    for enrollment in enrollments:
        course = enrollment.cohort.course
        if course.published or enrollment.role != EnrollmentRole.STUDENT:
            cards.append(CourseCard(course=course, cohort=enrollment.cohort, role=enrollment.role))
    return cards


@dataclass(frozen=True)
class OutlineItem:
    kind: str  # "lesson" | "exercise"
    position: int
    lesson: Lesson | None = None
    exercise: Exercise | None = None

    @property
    def title(self) -> str:
        item = self.lesson or self.exercise
        return item.title if item else ""


@dataclass(frozen=True)
class OutlineModule:
    module: Module
    items: list[OutlineItem] = field(default_factory=list)


def course_outline(*, course: Course) -> list[OutlineModule]:
    """Modules with their lessons and exercises in order: three queries in all. Ordered by
    position within one course and one module: the models' default ordering would join the
    modules and the course to sort by the course's title."""
    lessons = Lesson.objects.only("id", "module_id", "slug", "title", "position")
    exercises = Exercise.objects.only(
        "id", "module_id", "slug", "title", "position", "points", "due_at"
    )
    modules = (
        Module.objects.filter(course=course)
        .order_by("position", "id")
        .prefetch_related(
            Prefetch("lessons", queryset=lessons.order_by("position", "id")),
            Prefetch("exercises", queryset=exercises.order_by("position", "id")),
        )
    )
    outline = []
    for module in modules:
        items = [
            OutlineItem("lesson", lesson.position, lesson=lesson) for lesson in module.lessons.all()
        ]
        items += [
            OutlineItem("exercise", exercise.position, exercise=exercise)
            for exercise in module.exercises.all()
        ]
        items.sort(key=lambda item: (item.position, item.kind))
        outline.append(OutlineModule(module=module, items=items))
    return outline


def teaching_courses(*, user: User) -> list[Course]:
    """Courses `user` teaches (instructor or TA in a cohort) or administers (two queries)."""
    orgs = administered_organizations(user=user)
    taught = Q(
        cohorts__enrollments__user=user,
        cohorts__enrollments__role__in=[EnrollmentRole.INSTRUCTOR, EnrollmentRole.TA],
    )
    return list(
        Course.objects.filter(taught | Q(organization__in=orgs))
        .select_related("organization")
        .distinct()
        .order_by("organization__name", "title")
    )
