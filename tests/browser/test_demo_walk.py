"""Issue 10: the demo walked as each of its people would, at 375, 768 and 1280 px.

`manage.py seed_demo` builds the same world `make run` shows (several open reschedule threads,
notes, attachments, disputes); each demo login signs in and walks its pages breadth first,
following every same-site link once: no page answers 404 or 500 (item 3), no heading, label,
button, link, status pill or table header breaks inside a word at any of the widths (item 2), and
axe-core finds nothing on these full pages, landmark-unique included (item 11), and every heading,
button, label, summary, legend, table header and caption is in sentence case outside the spec's
own labels (item 6, tests/case_style.py). The student and the tutor also walk their session rooms
(/session/{id}, before and after the lesson); the coordinator walks the admin pages they work in
(index, the session list, one session, notifications). Screenshots go to test-artifacts/ as
walk-<login>-<page>-<width>.png for the gallery (docs/ui.md)."""

import re
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from tests.browser.conftest import ARTIFACTS, assert_accessible, signed_in
from tests.case_style import title_case_words

pytestmark = pytest.mark.browser

WIDTHS = (375, 768, 1280)
PAGES_PER_LOGIN = 14  # the breadth-first walk stops here: every kind of page each login reaches
# never followed: leaving, files rather than pages, the coordinator's admin (Django's own pages)
SKIP = re.compile(r"^/(accounts/logout|admin/|static/|media/|dev/outbox/.+|api/|notifications/unsubscribe)"
                  r"|export\.csv|/download|/recording/|/files/|/attachments/|\.ics$")
WORD_BREAKS = """(selector) => {
  const broken = [];
  const seen = new Set();
  for (const el of document.querySelectorAll(selector)) {
    if (!el.getClientRects().length) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      if (seen.has(node)) continue;
      seen.add(node);
      const holder = node.parentElement;
      if (holder.closest(".url") || /^\\s*https?:\\/\\//.test(node.textContent)) continue;  // a URL has no words
      const closed = holder.closest("details:not([open])");
      if (closed && !holder.closest("summary")) continue;  // not laid out until opened
      const box = holder.getBoundingClientRect();
      const style = getComputedStyle(holder);
      if (box.width < 4 || style.visibility === "hidden" || style.position === "absolute" && style.clip !== "auto")
        continue;  // visually hidden text for screen readers is not laid out for reading
      const words = /[^\\s\\-\\u2010-\\u2015\\/]{2,}/g;
      let m;
      while ((m = words.exec(node.textContent))) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
        if (rects.length < 2) continue;
        const tops = rects.map(r => r.top);
        if (Math.max(...tops) - Math.min(...tops) > rects[0].height / 2)
          broken.push(`"${m[0]}" in ${holder.outerHTML.slice(0, 160)} (in ${el.parentElement.tagName.toLowerCase()}.${el.parentElement.className})`);
      }
    }
  }
  return broken;
}"""
TEXT_ELEMENTS = "h1, h2, h3, h4, h5, h6, label, button, a, summary, th, .label, .pill, .role-badge, dt"
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
        if not SKIP.search(path):
            found.append(url)
    return found


def name_of(url: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "home"


def known_names() -> frozenset[str]:
    """Words that are names in the demo world (people, courses): capitalised in any case style."""
    from tutoring.models import Course, User
    words = [w for u in User.objects.all() for w in f"{u.first_name} {u.last_name} {u.name}".split()]
    words += [w for title in Course.objects.values_list("title", flat=True) for w in title.split()]
    return frozenset(w.strip("(),:") for w in words)


def check_page(page, url: str, shot: str, problems: list[str], names: frozenset[str]) -> None:
    """One page at every width: no word broken, sentence case, a screenshot; then axe."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for broken in page.evaluate(WORD_BREAKS, TEXT_ELEMENTS):
            problems.append(f"{url} at {width} px: text breaks inside a word: {broken}")
        page.screenshot(path=str(ARTIFACTS / f"walk-{shot}-{width}.png"), full_page=True)
    for text in page.evaluate(CASED_TEXTS, CASED_ELEMENTS):
        if wrong := title_case_words(text, names=names):
            problems.append(f"{url}: Title Case outside the spec's labels: {text!r} ({', '.join(wrong)})")
    assert_accessible(page)


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
    """Items 2, 3, 6 and 11 of issue 10, on the demo world, for each demo login."""
    names = known_names()
    rooms = room_pages(login) if login in ("demo-student", "demo-tutor") else []
    signed_in(page, demo[login], password="demo")
    queue, seen, walked, problems = [urlsplit(page.url).path, *rooms], set(), 0, []
    ARTIFACTS.mkdir(exist_ok=True)
    while queue and walked < PAGES_PER_LOGIN:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = page.goto(url)
        assert response is not None and response.status not in (404, 500), f"{url}: {response.status}"
        if "html" not in (response.headers.get("content-type") or ""):
            continue
        walked += 1
        check_page(page, url, f"{login}-{name_of(url)}", problems, names)
        queue += [link for link in same_site_links(page) if link not in seen]
    assert walked >= 3, f"{login} reached only {walked} pages"
    assert not set(rooms) - seen, f"{login} did not walk the session rooms {rooms}"
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
