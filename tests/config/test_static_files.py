"""Static files: hashed names, and a cache lifetime of a year for them."""

import re

from django.core.management import call_command
from django.templatetags.static import static
from django.test import RequestFactory
from whitenoise.middleware import WhiteNoiseMiddleware


def test_static_files_get_hashed_names_that_browsers_may_cache_for_a_year(
    tmp_path, settings
) -> None:
    # given: the production storage, after collectstatic
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "config.storage.HashedStaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = False
    call_command("collectstatic", "--no-input", verbosity=0)
    # when: a page names a stylesheet
    url = static("css/app.css")
    # then: its name carries its content's hash, and WhiteNoise says it never changes
    assert re.fullmatch(r"/static/css/app\.[0-9a-f]{12}\.css", url)
    response = WhiteNoiseMiddleware(get_response=lambda request: None)(RequestFactory().get(url))
    assert response.status_code == 200
    assert "immutable" in response["Cache-Control"]
    assert "max-age=315360000" in response["Cache-Control"]
