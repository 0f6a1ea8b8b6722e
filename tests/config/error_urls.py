"""The site's URLs plus one view that fails, to see the 500 page a person would see."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as site_patterns


def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a view")


urlpatterns = [path("boom/", fail), *site_patterns]
