"""Courses and what learners do in them."""

import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from campus.models import Organization


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    FRENCH = "fr", _("French")


class EnvironmentStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting to be built")
    BUILDING = "building", _("Building")
    READY = "ready", _("Ready")
    REFUSED = "refused", _("Refused by the package resolver")
    FAILED = "failed", _("Build failed")


class CourseEnvironment(models.Model):
    """Packages pinned on top of the kernel runtime, shared by every course that declares
    the same set (`digest`: the sha256 of the normalised set). Each worker host builds its
    own copy (sandbox.build_environment); this row says whether the set builds."""

    digest = models.CharField(_("digest"), max_length=64, unique=True)
    requirements = models.TextField(_("requirements"))  # normalised: one name==version a line
    status = models.CharField(
        _("status"), max_length=10, choices=EnvironmentStatus.choices, default="queued"
    )
    progress = models.TextField(_("progress"), blank=True)  # the build's latest lines
    message = models.TextField(_("message"), blank=True)  # the resolver's refusal, or the error
    requested_at = models.DateTimeField(_("requested at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("course environment")
        verbose_name_plural = _("course environments")

    def __str__(self) -> str:
        return f"{self.digest[:12]} · {self.status}"


class GradeRule(models.TextChoices):
    """Which of a learner's attempts on an exercise counts (gradebook, LMS gradebook)."""

    BEST = "best", _("The best graded attempt")
    LAST = "last", _("The last graded attempt")


class Course(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="courses", verbose_name=_("university")
    )
    slug = models.SlugField(_("slug"))
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"), blank=True)
    language = models.CharField(
        _("language"), max_length=5, choices=Language.choices, default=Language.ENGLISH
    )
    published = models.BooleanField(_("published"), default=False)
    requirements = models.TextField(
        _("extra packages"), blank=True, help_text=_("One name==version a line.")
    )
    # None: the kernel runtime as it is.
    environment = models.ForeignKey(
        CourseEnvironment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="courses",
        verbose_name=_("environment"),
    )
    grade_rule = models.CharField(
        _("grade that counts"),
        max_length=4,
        choices=GradeRule.choices,
        default=GradeRule.BEST,
        help_text=_(
            "With several attempts, the one kept in the gradebook and sent to the LMS "
            "gradebook, after late penalty and marking by hand."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="course_slug_per_org")
        ]
        ordering = ["title"]
        verbose_name = _("course")
        verbose_name_plural = _("courses")

    def __str__(self) -> str:
        return self.title


class Module(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="modules")
    title = models.CharField(_("title"), max_length=200)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["course", "position", "id"]
        verbose_name = _("module")
        verbose_name_plural = _("modules")

    def __str__(self) -> str:
        return self.title


class Lesson(models.Model):
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="lessons")
    slug = models.SlugField(_("slug"))
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body (Markdown)"), blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["module", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["module", "slug"], name="lesson_slug_per_module")
        ]
        verbose_name = _("lesson")
        verbose_name_plural = _("lessons")

    def __str__(self) -> str:
        return self.title


class LatePolicy(models.TextChoices):
    ACCEPT = "accept", _("Accept late work")
    PENALTY = "penalty", _("Penalty per day late")
    REFUSE = "refuse", _("Refuse after the due date")


class Exercise(models.Model):
    """A graded notebook. `source` is the instructor's notebook (nbformat JSON), solutions
    and hidden tests included: it never leaves the server for a learner."""

    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="exercises")
    slug = models.SlugField(_("slug"))
    title = models.CharField(_("title"), max_length=200)
    position = models.PositiveIntegerField(_("position"), default=0)
    source = models.JSONField(_("instructor notebook"), default=dict)
    source_format = models.CharField(_("format"), max_length=20, default="nbgrader")
    points = models.DecimalField(_("points"), max_digits=7, decimal_places=2, default=Decimal(0))
    due_at = models.DateTimeField(_("due date"), null=True, blank=True)
    hard_deadline = models.DateTimeField(
        _("hard deadline"), null=True, blank=True, help_text=_("No submission after this time.")
    )
    late_policy = models.CharField(
        _("late policy"), max_length=10, choices=LatePolicy.choices, default=LatePolicy.ACCEPT
    )
    late_penalty_percent_per_day = models.DecimalField(
        _("late penalty (% per day)"), max_digits=5, decimal_places=2, default=Decimal(0)
    )
    max_attempts = models.PositiveIntegerField(
        _("attempt limit"), null=True, blank=True, help_text=_("Empty means unlimited.")
    )

    class Meta:
        ordering = ["module", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["module", "slug"], name="exercise_slug_per_module")
        ]
        verbose_name = _("exercise")
        verbose_name_plural = _("exercises")

    def __str__(self) -> str:
        return self.title


def new_enrollment_code() -> str:
    return secrets.token_urlsafe(8)


class Cohort(models.Model):
    """One run of a course: its learners, dates and time zone."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="cohorts")
    name = models.CharField(_("name"), max_length=200)
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    enrollment_code = models.CharField(
        _("enrollment code"), max_length=32, unique=True, default=new_enrollment_code
    )
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["course", "-starts_on", "name"]
        verbose_name = _("cohort")
        verbose_name_plural = _("cohorts")

    def __str__(self) -> str:
        return f"{self.course} · {self.name}"


class EnrollmentRole(models.TextChoices):
    STUDENT = "student", _("Student")
    TA = "ta", _("Teaching assistant")
    INSTRUCTOR = "instructor", _("Instructor")


class Enrollment(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments"
    )
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="enrollments")
    role = models.CharField(
        _("role"), max_length=20, choices=EnrollmentRole.choices, default=EnrollmentRole.STUDENT
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "cohort"], name="one_enrollment_per_cohort")
        ]
        ordering = ["cohort", "user"]
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")

    def __str__(self) -> str:
        return f"{self.user} · {self.cohort} · {self.get_role_display()}"


class SubmissionStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    GRADED = "graded", _("Graded")
    FAILED = "failed", _("Failed")  # the learner's code: the reason is shown to them
    ERROR = "error", _("Error")  # ours: retried, then flagged for staff


class Submission(models.Model):
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="submissions")
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="submissions")
    attempt = models.PositiveIntegerField(_("attempt"), default=1)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=SubmissionStatus.choices,
        default=SubmissionStatus.QUEUED,
    )
    notebook = models.JSONField(_("submitted notebook"), default=dict)
    created_at = models.DateTimeField(_("submitted at"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    score = models.DecimalField(_("score"), max_digits=7, decimal_places=2, null=True, blank=True)
    max_score = models.DecimalField(
        _("max score"), max_digits=7, decimal_places=2, null=True, blank=True
    )
    late_days = models.PositiveIntegerField(_("days late"), default=0)
    result: Any = models.JSONField(_("grading result"), null=True, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    infra_failures = models.PositiveSmallIntegerField(_("infrastructure failures"), default=0)
    needs_staff = models.BooleanField(_("flagged for staff"), default=False)
    # The outbox: when its grading message last reached the broker (null: not yet, e.g.
    # Redis was down), and when the worker grading it last said it was alive.
    enqueued_at = models.DateTimeField(_("sent for grading at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("grader last seen at"), null=True, blank=True)
    # The Celery worker (name@host) that claimed it last: which host graded what.
    worker = models.CharField(_("grading worker"), max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["learner", "exercise", "-created_at"]),
            models.Index(fields=["status", "started_at"]),
            models.Index(fields=["status", "enqueued_at"]),
        ]
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")

    def __str__(self) -> str:
        return f"{self.learner} · {self.exercise} · #{self.attempt}"


class SubmissionOutputs(models.Model):
    """What the learner's answer cells printed and drew when the submission was graded,
    for the graded notebook they download: nbformat v4 outputs by answer grade id, within
    the sandbox's output cap. `None` for a cell that ran after a hidden test: its outputs
    could carry what the hidden test gave the learner's code (courses.grading.pipeline).
    Its own table: pages that list submissions never load it."""

    submission = models.OneToOneField(
        Submission, on_delete=models.CASCADE, primary_key=True, related_name="outputs"
    )
    cells: Any = models.JSONField(_("outputs of the answer cells"), default=dict)

    class Meta:
        verbose_name = _("outputs of a graded submission")
        verbose_name_plural = _("outputs of graded submissions")

    def __str__(self) -> str:
        return f"{self.submission_id}: {len(self.cells)} cells"


class Extension(models.Model):
    """A later due date (and deadline) for one learner on one exercise."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="extensions")
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="extensions"
    )
    due_at = models.DateTimeField(_("new due date"))
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["exercise", "learner"], name="one_extension_per_learner"
            )
        ]
        verbose_name = _("extension")
        verbose_name_plural = _("extensions")

    def __str__(self) -> str:
        return f"{self.learner} · {self.exercise} · {self.due_at:%Y-%m-%d %H:%M}"


class GradeKind(models.TextChoices):
    AUTO = "auto", _("Automatic")
    REGRADE = "regrade", _("Regrade")
    MANUAL = "manual", _("Manual")


class GradeRecord(models.Model):
    """Every grade a submission ever received: regrades add records, never overwrite."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="grades")
    kind = models.CharField(_("kind"), max_length=10, choices=GradeKind.choices)
    score = models.DecimalField(_("score"), max_digits=7, decimal_places=2)
    max_score = models.DecimalField(_("max score"), max_digits=7, decimal_places=2)
    raw_score = models.DecimalField(_("score before late penalty"), max_digits=7, decimal_places=2)
    result: Any = models.JSONField(_("grading result"), default=dict)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["submission", "-created_at"]
        verbose_name = _("grade")
        verbose_name_plural = _("grades")

    def __str__(self) -> str:
        return f"{self.submission} · {self.score}/{self.max_score}"


class CohortExercise(models.Model):
    """One cohort's own due date, late policy and attempt limit for an exercise.

    An empty field falls back to the exercise's own setting.
    """

    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="exercise_settings")
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="cohort_settings")
    due_at = models.DateTimeField(_("due date"), null=True, blank=True)
    hard_deadline = models.DateTimeField(_("hard deadline"), null=True, blank=True)
    late_policy = models.CharField(
        _("late policy"), max_length=10, choices=LatePolicy.choices, blank=True
    )
    late_penalty_percent_per_day = models.DecimalField(
        _("late penalty (% per day)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    max_attempts = models.PositiveIntegerField(_("attempt limit"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cohort", "exercise"], name="one_setting_per_cohort_exercise"
            )
        ]
        verbose_name = _("cohort exercise settings")
        verbose_name_plural = _("cohort exercise settings")

    def __str__(self) -> str:
        return f"{self.cohort} · {self.exercise}"


class ManualGrade(models.Model):
    """A person's points and comment for one free-response item of a submission."""

    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="manual_grades"
    )
    grade_id = models.CharField(_("item"), max_length=200)
    points = models.DecimalField(_("points"), max_digits=7, decimal_places=2)
    comment = models.TextField(_("comment"), blank=True)
    grader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "grade_id"], name="one_manual_grade_per_item"
            )
        ]
        verbose_name = _("manual grade")
        verbose_name_plural = _("manual grades")

    def __str__(self) -> str:
        return f"{self.submission} · {self.grade_id}: {self.points}"


class ExerciseValidation(models.Model):
    """The latest check of an exercise: its reference solution and student version graded."""

    exercise = models.OneToOneField(Exercise, on_delete=models.CASCADE, related_name="validation")
    status = models.CharField(_("status"), max_length=10, default="queued")
    ok = models.BooleanField(_("valid"), default=False)
    report: Any = models.JSONField(_("report"), default=dict)
    requested_at = models.DateTimeField(_("requested at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("exercise validation")
        verbose_name_plural = _("exercise validations")

    def __str__(self) -> str:
        return f"{self.exercise} · {self.status}"


class CohortQuota(models.Model):
    """Daily allowances of each learner in a cohort; empty means unlimited.

    Usage is counted in Redis per learner and per day in the cohort's time zone
    (courses/cohorts/quotas.py); this row only holds the limits.
    """

    cohort = models.OneToOneField(Cohort, on_delete=models.CASCADE, related_name="quota")
    cpu_seconds_per_day = models.PositiveIntegerField(
        _("sandbox CPU-seconds per learner per day"), null=True, blank=True
    )
    model_tokens_per_day = models.PositiveIntegerField(
        _("model tokens per learner per day"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("cohort quota")
        verbose_name_plural = _("cohort quotas")

    def __str__(self) -> str:
        return f"{self.cohort} · {self.cpu_seconds_per_day} s · {self.model_tokens_per_day} tokens"


class Draft(models.Model):
    """A learner's work in progress on an exercise, saved as they type: only what the
    learner may edit (cell sources by cell id), never the instructor's cells."""

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts"
    )
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="drafts")
    notebook = models.JSONField(_("draft notebook"), default=dict)
    updated_at = models.DateTimeField(_("saved at"), auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "exercise"], name="one_draft_per_exercise")
        ]
        verbose_name = _("draft")
        verbose_name_plural = _("drafts")

    def __str__(self) -> str:
        return f"{self.learner} · {self.exercise}"
