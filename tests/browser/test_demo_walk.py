"""Issue 10: the demo walked as each of its people would, at 375, 768 and 1280 px.

`manage.py seed_demo` builds the same world `make run` shows (several open reschedule threads,
notes, attachments, disputes); each demo login signs in and walks its pages breadth first,
following every same-site link once: no page answers 404 or 500 (item 3), no heading, label,
button, link, status pill or table header breaks inside a word at any of the widths (item 2), and
axe-core finds nothing on these full pages, landmark-unique included (item 11). Screenshots go to
test-artifacts/ as walk-<login>-<page>-<width>.png for the gallery (docs/ui.md)."""

import re
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from tests.browser.conftest import ARTIFACTS, assert_accessible, signed_in

pytestmark = pytest.mark.browser

WIDTHS = (375, 768, 1280)
PAGES_PER_LOGIN = 14  # the breadth-first walk stops here: every kind of page each login reaches
# never followed: leaving, files rather than pages, the coordinator's admin (Django's own pages)
SKIP = re.compile(r"^/(accounts/logout|admin/|static/|media/|dev/outbox/.+|api/|notifications/unsubscribe)"
                  r"|export\.csv|/download|/recording/|/files/")
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


@pytest.mark.parametrize("viewport", ["desktop"])
@pytest.mark.parametrize("login", ["demo-parent", "demo-tutor", "demo-student", "demo-creator"])
def test_the_demo_walk(page, demo, login):
    """Items 2, 3 and 11 of issue 10, on the demo world, for each demo login."""
    signed_in(page, demo[login], password="demo")
    queue, seen, walked, problems = [urlsplit(page.url).path], set(), 0, []
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
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for broken in page.evaluate(WORD_BREAKS, TEXT_ELEMENTS):
                problems.append(f"{url} at {width} px: {broken}")
            page.screenshot(path=str(ARTIFACTS / f"walk-{login}-{name_of(url)}-{width}.png"), full_page=True)
        assert_accessible(page)
        queue += [link for link in same_site_links(page) if link not in seen]
    assert walked >= 3, f"{login} reached only {walked} pages"
    assert not problems, "text breaks inside a word:\n" + "\n".join(problems)
