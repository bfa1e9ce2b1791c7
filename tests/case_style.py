"""One case style (issue 10 item 6): the spec's labels keep the spec's wording, every other
heading, button, label, link, summary, table header and caption is in sentence case — only its
first word (and the first word after a sentence stop or a colon) starts with a capital, besides
names, acronyms and the words below. Used by the template scan (tests/tutoring/test_case_style.py)
and by the demo walk on the rendered pages (tests/browser/test_demo_walk.py)."""

import re

# The labels the specs spell out, kept as written there (CHECKLIST IDs).
SPEC_LABELS = (
    "Session History",  # H05
    "View Sessions",  # H02
    "View Recording",  # H03
    "Creator Studio",  # H02
    "Date/Time",  # H13
    "Join Session",  # R02
    "Back to Dashboard",  # R03
    "Back to Course",  # R03
    "Session Ended",  # R08
    "Awaiting Your Acknowledgement",  # L02
    "Not Completed",  # L02
)
# Proper nouns, days and months: capitalised in any case style.
PROPER = frozenset("""
    I Telegram Google Zoom Jitsi PlugNmeet BigBlueButton Django Swagger Chromium Markdown Cal.com Preply
    Mon Tue Wed Thu Fri Sat Sun Monday Tuesday Wednesday Thursday Friday Saturday Sunday
    Jan Feb Mar Apr May Jun Jul Aug Sep Sept Oct Nov Dec January February March April June July August
    September October November December English
""".split())
ZONE = re.compile(r"\b[A-Z][a-z]+/[A-Z][A-Za-z_/]+")
WORD = re.compile(r"[^\W\d_](?:[^\W_]|[.'’])*[^\W\d_]|[^\W\d_]")  # letters of any script: Fernández is one word
STOPS = re.compile(r"(?:^[\W\d_]*|[.!?:;—–(“\"‘]\s*|\s[-/]\s|\s·\s)$")


def title_case_words(text: str, *, names=frozenset()) -> list[str]:
    """The words of `text` capitalised against sentence case (empty: the text is fine)."""
    for label in SPEC_LABELS:
        text = text.replace(label, " · ")
    text = ZONE.sub(" · ", text)  # Europe/London, America/Los_Angeles
    wrong = []
    for m in WORD.finditer(text):
        word = m.group()
        if not word[0].isupper() or STOPS.search(text[:m.start()]):
            continue
        if word in PROPER or word in names or word.rstrip("’'s") in names:
            continue
        if len(word) > 1 and word.replace(".", "").isupper():  # CSV, ST, PDF, MB, UTC, API
            continue
        wrong.append(word)
    return wrong
