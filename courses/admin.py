from django.contrib import admin

from courses.models import Cohort, Course, Enrollment, Exercise, Lesson, Module, Submission


class ModuleInline(admin.TabularInline):
    model = Module
    extra = 0
    fields = ["title", "position"]


class LessonInline(admin.StackedInline):
    model = Lesson
    extra = 0
    fields = ["title", "slug", "position", "body"]
    prepopulated_fields = {"slug": ("title",)}


class ExerciseInline(admin.TabularInline):
    model = Exercise
    extra = 0
    fields = ["title", "slug", "position", "points", "due_at"]
    show_change_link = True


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["title", "organization", "language", "published", "updated_at"]
    list_filter = ["published", "language", "organization"]
    search_fields = ["title", "slug", "summary"]
    prepopulated_fields = {"slug": ("title",)}
    list_select_related = ["organization"]
    inlines = [ModuleInline]


@admin.register(Module)
class ModuleAdmin(admin.ModelAdmin):
    list_display = ["title", "course", "position"]
    list_filter = ["course__organization", "course"]
    search_fields = ["title", "course__title"]
    list_select_related = ["course"]
    inlines = [LessonInline, ExerciseInline]


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ["title", "module", "position"]
    list_filter = ["module__course"]
    search_fields = ["title", "body"]
    prepopulated_fields = {"slug": ("title",)}
    list_select_related = ["module__course"]


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ["title", "module", "points", "due_at", "late_policy", "max_attempts"]
    list_filter = ["module__course", "late_policy", "source_format"]
    search_fields = ["title", "slug"]
    list_select_related = ["module__course"]


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    list_display = ["name", "course", "starts_on", "ends_on", "time_zone", "capacity"]
    list_filter = ["course__organization", "course"]
    search_fields = ["name", "course__title", "enrollment_code"]
    list_select_related = ["course"]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["user", "cohort", "role", "created_at"]
    list_filter = ["role", "cohort__course"]
    search_fields = ["user__email", "user__name", "cohort__name"]
    autocomplete_fields = ["user"]
    list_select_related = ["user", "cohort__course"]


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["learner", "exercise", "attempt", "status", "score", "max_score", "created_at"]
    list_filter = ["status", "exercise__module__course", "cohort"]
    search_fields = ["learner__email", "exercise__title"]
    list_select_related = ["learner", "exercise"]
    readonly_fields = ["created_at", "started_at", "finished_at", "worker"]
    date_hierarchy = "created_at"
