"""Browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium, installed by `make test`)
against pytest-django's live_server, at a phone viewport and a desktop one.

Helpers: `signed_in(page, user)` signs in through the real form, `screenshot(page, name)` saves to
test-artifacts/, `assert_accessible(page)` runs the vendored axe-core and wants zero violations,
`assert_fits_phone(page)` wants no horizontal scrolling at 375 px, `assert_no_word_breaks(page)` no
text broken inside a word; `check_page` runs them all.
"""

import os

# Playwright's sync API marks an event loop as running on the main thread from its start to the end
# of the session, so Django would refuse the ORM calls of fixtures and tests as "async unsafe".
# Nothing here runs async code; set before any test runs (it is read at each ORM call).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "tests" / "vendor" / "axe.min.js"
AXE_SOURCE = AXE.read_text()
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "pw"  # what tests.conftest.make_user gives everyone
PHONE_WIDTH = 375

# The words of the text elements that wrap inside a word (a URL has no words; hidden text is skipped).
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

VIEWPORTS = {
    "phone": {"viewport": {"width": PHONE_WIDTH, "height": 812}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 2},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"],
    }


@pytest.fixture(scope="session")
def browser(browser):
    """While Playwright runs, it marks an event loop as running on the main thread, so Django keeps
    this thread's database connection in a context-local slot instead of the thread-local one.
    Close that connection before Playwright stops, or it outlives the session and the test database
    cannot be dropped."""
    yield browser
    from django.db import connections

    connections.close_all()


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker):
    """The ASGI application (HTTP and the room's sockets) in uvicorn, for the room's tests."""
    from tests.browser.asgi_server import ASGIServer

    with django_db_blocker.unblock():
        server = ASGIServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def media_browser(playwright, browser_type_launch_args):
    """Chromium with a fake camera and microphone; a context grants or withholds permission."""
    # two fake cameras (fake_device_0 and _1): the call's "Switch camera" has one to switch to
    args = [*browser_type_launch_args["args"], "--use-fake-device-for-media-stream=device-count=2",
            "--autoplay-policy=no-user-gesture-required",
            # two people's pages share one browser: neither may be throttled as a background page
            # (timers, decoding) while the other has the focus
            "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
            "--disable-backgrounding-occluded-windows"]
    browser = playwright.chromium.launch(**{**browser_type_launch_args, "args": args})
    yield browser
    browser.close()
    from django.db import connections

    connections.close_all()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request):
    """Every browser test runs at a phone and a desktop size unless it parametrizes `viewport` itself."""
    return request.param


@pytest.fixture
def context(new_context, live_server, viewport):
    ctx = new_context(base_url=live_server.url, **VIEWPORTS[viewport])
    ctx.set_default_timeout(10_000)
    return ctx


@pytest.fixture
def no_js_page(new_context, live_server):
    """A phone with JavaScript turned off: every page must still work."""
    return new_context(base_url=live_server.url, java_script_enabled=False, **VIEWPORTS["phone"]).new_page()


def signed_in(page, user, password=PASSWORD):
    """Sign in through the real /accounts/login/ form; returns the page wherever home sent it."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    return page


def screenshot(page, name):
    """A full-page PNG in test-artifacts/, named for the page and the viewport it was taken at."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = "phone" if page.viewport_size["width"] <= PHONE_WIDTH else "desktop"
    path = ARTIFACTS / f"{name}-{size}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_accessible(page):
    """axe-core's WCAG 2.x A/AA and best-practice rules report no violation on the page as it is now."""
    page.evaluate(AXE_SOURCE)  # through DevTools: a <script> tag would be refused by the page's CSP
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    violations = result["violations"]
    assert not violations, f"axe-core found {len(violations)} violation(s) on {page.url}:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n  {v['helpUrl']}\n"
        + "\n".join(f"    at {json.dumps(n['target'])}: {n['failureSummary']}" for n in v["nodes"])
        for v in violations
    )


def assert_fits_phone(page):
    """No horizontal scrolling: the document is no wider than the phone's viewport."""
    width = page.viewport_size["width"]
    if width <= PHONE_WIDTH:
        scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{page.url} is {scroll_width} px wide at a {width} px viewport"


def settled(page):
    """Wait until htmx has nothing in flight (a request fades its target to 60 %, which axe would
    measure as low contrast) and every hx-trigger="load" piece has arrived."""
    page.wait_for_function("() => !document.querySelector("
                           "'.htmx-request, .htmx-swapping, .htmx-settling, [hx-trigger=\"load\"]')")


def assert_no_word_breaks(page):
    """Issue 10 item 2: no heading, label, button, link, pill or table header wraps inside a word
    at the page's current width."""
    broken = page.evaluate(WORD_BREAKS, TEXT_ELEMENTS)
    assert not broken, f"{page.url} at {page.viewport_size['width']} px: text breaks inside a word:\n" + "\n".join(
        f"- {b}" for b in broken)


def check_page(page, name):
    """What every page owes: a screenshot, no axe violation, no horizontal scroll on a phone, no
    word broken across lines."""
    settled(page)
    screenshot(page, name)
    assert_fits_phone(page)
    assert_no_word_breaks(page)
    assert_accessible(page)
