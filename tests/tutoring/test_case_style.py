"""Issue 10 item 6: "The spec's labels keep the spec's wording; all other text uses one case
style" — every heading, button, label, link, summary, legend, table header and caption written in
the templates is in sentence case, except the spec's own labels (tests/case_style.py)."""

import re
from pathlib import Path

import pytest

from tests.case_style import title_case_words

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
ELEMENTS = re.compile(r"<(h[1-6]|button|label|a|summary|legend|th|caption|option)\b[^>]*>(.*?)</\1>", re.S)
# Template tags and HTML tags end one piece of text and start another: each branch of an
# {% if %} is read on its own, and text after a {{ value }} does not start a sentence.
PIECES = re.compile(r"\{%.*?%\}|<[^>]+>")
VALUE = re.compile(r"\{\{.*?\}\}")


def pieces(path: Path):
    for m in ELEMENTS.finditer(path.read_text()):
        for piece in PIECES.split(m.group(2)):
            text = " ".join(VALUE.sub("x", piece).split())
            if text:
                yield m.group(1), text


def offenders(path: Path) -> list[str]:
    return [f"{path.relative_to(TEMPLATES)} <{tag}> {text!r}: {', '.join(words)}"
            for tag, text in pieces(path) if (words := title_case_words(text))]


def test_headings_buttons_and_labels_are_in_sentence_case_outside_the_specs_labels():
    found = [o for path in sorted(TEMPLATES.rglob("*.html")) for o in offenders(path)]
    assert not found, "Title Case outside the spec's labels:\n" + "\n".join(found)


@pytest.mark.parametrize(("text", "wrong"), [
    ("Session History", []), ("Back to Dashboard", []), ("Download CSV", []), ("Link Telegram", []),
    ("Opens at x", []), ("Reason: Other", []), ("Thu 03 Dec, Europe/Prague", []),
    ("Save Changes", ["Changes"]), ("View All Sessions", ["All", "Sessions"]),
    ("Session history for Tom", ["Tom"]), ("Sofía Fernández", ["Fernández"]), ("1 Scheduled start", []), ("1 Scheduled Start", ["Start"]),
])
def test_the_rule_itself(text, wrong):
    """The check can fail: Title Case and names not known to it are caught."""
    assert title_case_words(text) == wrong
