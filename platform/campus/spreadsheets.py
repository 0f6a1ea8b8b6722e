"""The one CSV writer for every CSV file the site produces.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or line break
before one) as a formula, and a formula can read other cells, open links or, in old
spreadsheets, run programs. Names, email addresses, cohort and exercise titles are typed by
people we do not trust, so every text cell is neutralised here: it is written with a leading
apostrophe, which spreadsheets show as text. Plain numbers are written as they are.
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.http import HttpResponse

Cell = str | int | Decimal | None

_FORMULA_START = frozenset("=+-@\t\r\n")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?\Z")


def csv_cell(value: Cell) -> str:
    """`value` as text no spreadsheet runs."""
    text = "" if value is None else str(value)
    if _PLAIN_NUMBER.match(text):
        return text
    stripped = text.lstrip(" \t\r\n")
    if text[:1] in _FORMULA_START or stripped[:1] in _FORMULA_START:
        return "'" + text
    return text


def csv_text(rows: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()


def csv_response(*, rows: Iterable[Sequence[Cell]], filename: str) -> HttpResponse:
    """A download of `rows`; `filename` is made of characters safe in a header."""
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    response = HttpResponse(csv_text(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    return response
