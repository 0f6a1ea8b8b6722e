from django.urls import path

from courses import views

app_name = "courses"

urlpatterns = [
    path("", views.my_courses_view, name="my_courses"),
    path("<slug:org_slug>/<slug:course_slug>/", views.course_outline_view, name="outline"),
    path(
        "<slug:org_slug>/<slug:course_slug>/lessons/<slug:lesson_slug>/",
        views.lesson_view,
        name="lesson",
    ),
]
