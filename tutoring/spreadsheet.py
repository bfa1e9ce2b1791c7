"""CSV exports that are safe to open in a spreadsheet (issue 11 item 6): every CSV the site writes
goes through `csv_lines`, so no cell starts a formula.

Spreadsheets run a cell that starts with =, +, - or @ as a formula, and they skip leading spaces,
tabs and line breaks first (so " =1+1" and "\\t@SUM(1)" are formulas too); a cell that starts with
a tab or carriage return is also suspect. Such text is kept as text by a leading apostrophe (the
OWASP advice); numbers and other non-text values are written as they are.
"""

import csv
import re
from collections.abc import Iterable

FORMULA_START = re.compile(r"[ \t\r\n]*[=+\-@]|[\t\r]")


def safe_cell(value):
    """The value, with a leading apostrophe when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and FORMULA_START.match(value):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write returns the line, for streaming responses."""

    def write(self, value):
        return value


def csv_lines(rows: Iterable[Iterable]) -> Iterable[str]:
    """Each row as one CSV line (for a StreamingHttpResponse), every cell through safe_cell."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([safe_cell(v) for v in row])
