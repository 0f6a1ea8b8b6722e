"""Error pages are the site's pages: its header, a way back, English and French."""

import pytest
from django.test import Client

from campus.models import User
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner() -> User:
    return UserFactory.create()


def _in_site_layout(html: str) -> bool:
    return 'class="site-header"' in html and 'href="/"' in html


def test_an_unknown_address_is_a_404_page_in_the_site_layout(client, learner) -> None:
    client.force_login(learner)
    page = client.get("/no/such/page/")
    assert page.status_code == 404
    assert "Page not found" in page.text
    assert _in_site_layout(page.text)
    assert "Go to my courses" in page.text and "Log out" in page.text


def test_the_404_page_speaks_french(client, learner) -> None:
    client.force_login(learner)
    page = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 404
    assert "Page introuvable" in page.text
    assert "Aller à mes cours" in page.text


def test_a_refusal_is_a_403_page_that_says_whom_to_ask(client, learner) -> None:
    client.force_login(learner)
    page = client.get("/universities/")
    assert page.status_code == 403
    assert "You may not open this page" in page.text
    assert "administrator" in page.text
    assert _in_site_layout(page.text)
    french = client.get("/universities/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "Vous ne pouvez pas ouvrir cette page" in french.text


def test_a_request_for_another_host_is_a_400_page(client) -> None:
    page = client.get("/", HTTP_HOST="not-this-site.example")
    assert page.status_code == 400
    assert "The request could not be understood" in page.text
    assert _in_site_layout(page.text)


def test_a_form_sent_without_its_token_is_a_403_page_that_says_reload(learner) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    page = client.post("/i18n/setlang/", {"language": "fr"})
    assert page.status_code == 403
    assert "The form has expired" in page.text
    assert _in_site_layout(page.text)


@pytest.mark.urls("tests.config.error_urls")
def test_a_bug_is_a_500_page_in_the_site_layout_in_both_languages(learner) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(learner)
    page = client.get("/boom/")
    assert page.status_code == 500
    assert "Something went wrong on our side" in page.text
    assert _in_site_layout(page.text)
    french = client.get("/boom/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "Une erreur s’est produite de notre côté" in french.text  # noqa: RUF001
