import gettext
import re
from pathlib import Path

import pytest
from django.utils import translation

PO_FILE = Path(__file__).resolve().parents[2] / "platform/locale/fr/LC_MESSAGES/django.po"


def _entries(text: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of a .po file, multi-line strings joined; plurals by first form."""
    entries = []
    for block in text.split("\n\n"):
        if "#, fuzzy" in block and 'msgid ""\nmsgstr ""' not in block:
            entries.append(("fuzzy", ""))
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        msgstr = re.search(r'^msgstr(?:\[0\])? ((?:".*"\n?)+)', block, re.M)
        if msgid and msgstr:
            join = lambda chunk: "".join(re.findall(r'"(.*)"', chunk))  # noqa: E731
            entries.append((join(msgid.group(1)), join(msgstr.group(1))))
    return entries


def test_every_french_string_is_translated_and_none_is_fuzzy() -> None:
    entries = [(mid, mstr) for mid, mstr in _entries(PO_FILE.read_text()) if mid]
    assert len(entries) > 50
    untranslated = [mid for mid, mstr in entries if not mstr]
    assert untranslated == []


def _unescape(text: str) -> str:
    """A .po string as the program sees it (the .po escapes newlines and quotes)."""
    return text.replace("\\n", "\n").replace('\\"', '"')


def test_the_compiled_catalog_is_up_to_date() -> None:
    with PO_FILE.with_suffix(".mo").open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    stale = [
        mid
        for mid, mstr in _entries(PO_FILE.read_text())
        if mid and "%(" not in mid and catalog.gettext(_unescape(mid)) != _unescape(mstr)
    ]
    assert stale == [], "run `make messages` to recompile the French catalog"


@pytest.mark.django_db
def test_pages_render_in_french_when_asked(client) -> None:
    with translation.override("fr"):
        assert translation.gettext("My courses") == "Mes cours"
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "Aller au contenu" in page.text
    assert "Formation Science Ouverte" in page.text
