"""Issue 10: the demo walked as each of its people would, at 375, 768 and 1280 px.

`manage.py seed_demo` builds the same world `make run` shows (several open reschedule threads,
notes, attachments, disputes); each demo login signs in and walks its pages breadth first,
following every same-site link once (API, CSV, iCal and download links fetched with the
session's cookies): no link answers 400 or more (item 3), no heading, label, button, link, status
pill or table header breaks inside a word at any of the widths (item 2), axe-core finds nothing on
these full pages at any of the widths, landmark-unique included (item 11), and every heading,
button, label, summary, legend, table header and caption is in sentence case outside the spec's
own labels (item 6, tests/case_style.py). The student and the tutor also walk their session rooms
(/session/{id}, before and after the lesson); the coordinator walks the admin pages they work in
(index, the session list, one session, notifications). Screenshots go to test-artifacts/ as
walk-<login>-<page>-<width>.png for the gallery (docs/ui.md)."""

import re
import time
from io import StringIO
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.management import call_command

from tests.browser.conftest import ARTIFACTS, TEXT_ELEMENTS, WORD_BREAKS, assert_accessible, settled, signed_in
from tests.case_style import title_case_words

pytestmark = pytest.mark.browser

WIDTHS = (375, 768, 1280)
# never followed: signing out would end the walk (and it is a POST)
NEVER = re.compile(r"^/accounts/logout")
# fetched with the session's cookies (no page render) and wanting a status below 400: the API,
# files (CSV, iCal, downloads, recordings, attachments), the development outbox's messages and
# Django's admin (the coordinator's walk renders the admin pages they work in)
FETCHED = re.compile(r"^/(api/|admin/|static/|media/|dev/outbox/.+)|\.(csv|ics)$|/export|/download|/recording/"
                     r"|/files/|/attachments/|/feed")
# Pages of one kind (the same path but for ids, the same tab and view) after the first RENDERS_PER_KIND
# are fetched, not rendered: calendars and pagers link on without end, and a kind renders the same.
RENDERS_PER_KIND = 3
LAYOUT_KEYS = ("tab", "view")
CASED_ELEMENTS = "h1, h2, h3, h4, h5, h6, label, button, summary, legend, th, caption"
# The text of each element as it reads, with the text of form controls inside a label left out.
CASED_TEXTS = """(selector) => [...document.querySelectorAll(selector)].filter(el => el.getClientRects().length)
  .map(el => { const c = el.cloneNode(true); c.querySelectorAll("select, textarea, .visually-hidden, .sr-only")
  .forEach(x => x.remove()); return c.textContent.replace(/\\s+/g, " ").trim(); }).filter(Boolean)"""


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", stdout=StringIO())
    from tutoring.models import User
    return {u.username: u for u in User.objects.filter(username__startswith="demo-")}


def same_site_links(page) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.getAttribute('href'))")
    found = []
    for href in hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not href or href.startswith("#"):
            continue
        path = parts.path or urlsplit(page.url).path
        url = path + (f"?{parts.query}" if parts.query else "")
        if not NEVER.search(path):
            found.append(url)
    return found


def kind_of(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The page's kind: its path with ids as N and the query keys that choose a layout (LAYOUT_KEYS);
    filters, pages and dates do not make another kind."""
    parts = urlsplit(url)
    layout = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k in LAYOUT_KEYS)
    return re.sub(r"\d+", "N", parts.path), tuple(layout)


def name_of(url: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "home"


def known_names() -> frozenset[str]:
    """Words that are names in the demo world (people, courses): capitalised in any case style."""
    from tutoring.models import Course, User
    words = [w for u in User.objects.all() for w in f"{u.first_name} {u.last_name} {u.name}".split()]
    words += [w for title in Course.objects.values_list("title", flat=True) for w in title.split()]
    return frozenset(w.strip("(),:") for w in words)


def check_page(page, url: str, shot: str, problems: list[str], names: frozenset[str]) -> None:
    """One page at every width: no word broken, no axe violation, a screenshot; sentence case."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        settled(page)
        for broken in page.evaluate(WORD_BREAKS, TEXT_ELEMENTS):
            problems.append(f"{url} at {width} px: text breaks inside a word: {broken}")
        try:
            assert_accessible(page)
        except AssertionError as exc:
            problems.append(f"{url} at {width} px: {exc}")
        page.screenshot(path=str(ARTIFACTS / f"walk-{shot}-{width}.png"), full_page=True)
    for text in page.evaluate(CASED_TEXTS, CASED_ELEMENTS):
        if wrong := title_case_words(text, names=names):
            problems.append(f"{url}: Title Case outside the spec's labels: {text!r} ({', '.join(wrong)})")


def room_pages(login: str) -> list[str]:
    """The rooms of the login's next scheduled session and its latest approved one (R01–R08)."""
    from sessions.models import Session, Status
    mine = Session.objects.filter(**{"student__username" if login == "demo-student" else "tutor__username": login})
    ahead = mine.filter(status=Status.SCHEDULED).order_by("scheduled_start").first()
    ended = mine.filter(status=Status.APPROVED).order_by("-scheduled_start").first()
    return [f"/session/{s.id}" for s in (ahead, ended)]


@pytest.mark.parametrize("viewport", ["desktop"])
@pytest.mark.parametrize("login", ["demo-parent", "demo-tutor", "demo-student", "demo-creator"])
def test_the_demo_walk(page, demo, login):
    """Items 2, 3, 6 and 11 of issue 10, on the demo world, for each demo login: every same-site
    link on every page reached is followed once (breadth first). HTML pages render in Chromium
    and are checked at every width (RENDERS_PER_KIND of each kind; the others are fetched); the
    API, CSV, iCal and download links are fetched with the session's cookies. None answers 400 or
    more."""
    began = time.monotonic()
    names = known_names()
    rooms = room_pages(login) if login in ("demo-student", "demo-tutor") else []
    signed_in(page, demo[login], password="demo")
    queue, seen, problems = [urlsplit(page.url).path, *rooms], set(), []
    rendered, fetched, kinds = [], [], {}
    ARTIFACTS.mkdir(exist_ok=True)
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        answer = page.request.get(url)  # the context's cookies: signed in as the login
        fetched.append(url)
        if answer.status >= 400:
            problems.append(f"{url}: {answer.status}")
            continue
        html = "text/html" in (answer.headers.get("content-type") or "")
        kind = kind_of(url)
        if not html or FETCHED.search(urlsplit(url).path) or kinds.get(kind, 0) >= RENDERS_PER_KIND:
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
        response = page.goto(url)
        assert response is not None and response.status < 400, f"{url}: {response and response.status}"
        rendered.append(url)
        check_page(page, url, f"{login}-{name_of(url)}", problems, names)
        queue += [link for link in same_site_links(page) if link not in seen]
    print(f"{login}: rendered {len(rendered)} pages of {len(kinds)} kinds, fetched {len(fetched)} URLs "
          f"in {time.monotonic() - began:.0f} s")
    assert len(rendered) >= 3, f"{login} reached only {len(rendered)} pages"
    assert not set(rooms) - set(rendered), f"{login} did not walk the session rooms {rooms}"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("viewport", ["desktop"])
def test_the_coordinator_walk(page, demo):
    """Issue 10: the coordinator's pages — the admin index, the session list, one session and the
    notifications admin — answer, hold their words together at every width and pass axe."""
    from sessions.models import Session
    session = Session.objects.order_by("scheduled_start").last()
    signed_in(page, demo["demo-coordinator"], password="demo")
    problems = []
    for url in ("/admin/", "/admin/tutoring_sessions/session/", f"/admin/tutoring_sessions/session/{session.id}/change/",
                "/admin/notifications/", "/admin/notifications/delivery/"):
        response = page.goto(url)
        assert response is not None and response.status == 200, f"{url}: {response and response.status}"
        check_page(page, url, f"demo-coordinator-{name_of(url)}", problems, known_names())
    assert not problems, "\n".join(problems)
