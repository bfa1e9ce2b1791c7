"""Every CSV the site writes is safe to open in a spreadsheet (issue 11 item 6): one guard,
tutoring.spreadsheet, and no CSV writer anywhere else."""

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from tutoring.spreadsheet import csv_lines, safe_cell

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text", ["=1+1", " =1+1", "\t@SUM(1)", "+1", "-1", "@x", "\n-2+3", "  \t+cmd", "\t", "\rx"],
                         ids=repr)
def test_text_that_starts_a_formula_is_kept_as_text(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Sam", "a=b", "2026-10-31", "", " x", 7, Decimal("-1.5"), None], ids=repr)
def test_other_cells_are_written_as_they_are(value):
    assert safe_cell(value) == value


def test_csv_lines_guards_every_cell():
    body = "".join(csv_lines([["name", "note"], [" =1+1", "\t@SUM(1)"], [-1, "fine"]]))
    assert list(csv.reader(io.StringIO(body))) == [["name", "note"], ["' =1+1", "'\t@SUM(1)"], ["-1", "fine"]]


def test_no_csv_writer_outside_the_shared_guard():
    """A new export that writes CSV itself would skip the guard: every export uses csv_lines."""
    apps = ["tutoring", "sessions", "notes", "notifications", "analytics", "creators", "messaging", "room", "video",
            "telegram_bot", "calendars", "desk"]
    writers = [str(path.relative_to(ROOT)) for app in apps for path in (ROOT / app).rglob("*.py")
               if "csv.writer(" in path.read_text() or "csv.DictWriter(" in path.read_text()]
    assert writers == ["tutoring/spreadsheet.py"]
