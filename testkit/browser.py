"""Driving Debian's Chromium with Playwright for the browser tests: the browser's path and flags, a fresh
context on the live server that saves screenshots and fails on broken sub-resources or JavaScript errors,
axe-core's accessibility check (vendored, hash-checked), a page's weight and the phone's no-sideways-scroll
check. The `browser` fixture itself is in tests/conftest.py.

Artifacts go to test-artifacts/browser/ at the repository root: one full-page screenshot per main screen of
every passing run (for review), and a screenshot plus the page's HTML of the screen a failing test was on.

Never `playwright install`: the browser is /usr/bin/chromium.
"""

import base64
import contextlib
import functools
import glob
import hashlib
from pathlib import Path

from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
TIMEOUT_MS = 10_000  # for any one browser action or expectation; a healthy step takes milliseconds
# Sub-resources a page must load: a 4xx/5xx for one of them is a broken page (a missing stylesheet or image).
CHECKED_RESOURCES = {"stylesheet", "image", "script", "font"}
# axe-core, vendored from npm with its licence (tests/browser/vendor/axe-core/README.md); checked before use.
AXE = ROOT / "tests" / "browser" / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "KTSJmUUM3yhJqOcLeRL8LahahJ2jnA0NU5T1HUqe2Vw="  # sri-history.json of axe-core 4.14.1

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}

expect.set_options(timeout=TIMEOUT_MS)


class Screens:
    """Saves the screenshots of a run under test-artifacts/browser/, named after the test."""

    def __init__(self, page, test_name):
        self.page = page
        self.test_name = test_name
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for stale in ARTIFACTS.glob(f"{glob.escape(test_name)}--FAILED.*"):  # from an earlier failing run
            stale.unlink()

    def shot(self, screen):
        self.page.screenshot(path=ARTIFACTS / f"{self.test_name}--{screen}.png", full_page=True)

    def save_failure(self):
        """Save the screen the test failed on (screenshot and HTML); never raises: the test's error counts."""
        for suffix, save in (
            (".png", lambda path: self.page.screenshot(path=path, full_page=True)),
            (".html", lambda path: path.write_text(self.page.content(), encoding="utf-8")),
        ):
            path = ARTIFACTS / f"{self.test_name}--FAILED{suffix}"
            try:
                save(path)
            except Exception as error:  # the page or the browser may be what broke
                print(f"could not save {path}: {error!r}")
            else:
                print(f"saved {path}")


@contextlib.contextmanager
def browsing(browser, live_server, test_name, **context_options):
    """A fresh browser context (its own cookies, hence its own cart) on the live server.

    Yields (page, screens). On any failure inside the block the current screen is saved before the error
    propagates; on success, the block must not have met a broken sub-resource or a JavaScript error.
    """
    context = browser.new_context(base_url=live_server.url, **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    page.on(
        "response",
        lambda response: (
            problems.append(f"HTTP {response.status} for {response.url}")
            if response.status >= 400 and response.request.resource_type in CHECKED_RESOURCES
            else None
        ),
    )
    screens = Screens(page, test_name)
    try:
        yield page, screens
        assert not problems, f"the pages had problems: {problems}"
    except BaseException:
        screens.save_failure()
        raise
    finally:
        context.close()


@functools.cache
def axe_source():
    source = AXE.read_bytes()
    digest = base64.b64encode(hashlib.sha256(source).digest()).decode()
    assert digest == AXE_SHA256, f"{AXE} is not the vendored axe-core 4.14.1 (sha256 {digest})"
    return source.decode("utf-8")


def assert_accessible(page, screen):
    """Run axe-core (every rule but the experimental ones) on the page as it is; fail on any violation.

    Evaluated through the browser's debugging protocol, so a Content-Security-Policy (script-src 'self')
    does not stop it, and the page itself ships nothing for it.
    """
    page.wait_for_load_state("load")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    violations = page.evaluate("""async () => {
        const results = await axe.run(document, {resultTypes: ["violations"]});
        return results.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary.replace(/\\s+/g, " ")),
        }));
    }""")
    assert not violations, f"{screen}: axe found {len(violations)} violation(s):\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in violations
    )


def assert_no_horizontal_scroll(page, screen):
    """The page fits the phone's width: nothing to scroll sideways.

    `scrollWidth <= innerWidth` alone proves nothing with is_mobile=True: like a phone, Chromium then widens
    the layout viewport (and so window.innerWidth) to the content's width. Both are compared with the
    viewport the test asked for as well.
    """
    page.wait_for_load_state("load")
    viewport_width = page.viewport_size["width"]
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    inner_width = page.evaluate("window.innerWidth")
    if scroll_width > inner_width or max(scroll_width, inner_width) > viewport_width:
        culprits = page.evaluate(
            """width => [...document.querySelectorAll('body *')]
                 .filter(e => e.getBoundingClientRect().right > width + 0.5)
                 .slice(0, 8)
                 .map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} `
                           + `(right edge at ${Math.round(e.getBoundingClientRect().right)}px)`)""",
            viewport_width,
        )
        raise AssertionError(
            f"{screen}: the page is {scroll_width}px wide (window.innerWidth {inner_width}px) on a "
            f"{viewport_width}px wide phone; sticking out: {culprits}"
        )


def page_weight(page, path):
    """Bytes transferred (headers and bodies, every request) to show `path` whole: scrolled to the end, so
    lazily loaded images count too. Returns (total, {resource type: bytes})."""
    finished = []

    def record(request):
        finished.append(request)

    page.on("requestfinished", record)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.evaluate("""async () => {
        for (let y = 0; y < document.body.scrollHeight; y += window.innerHeight / 2) {
            window.scrollTo(0, y);
            await new Promise(resolve => requestAnimationFrame(() => setTimeout(resolve, 50)));
        }
    }""")
    page.wait_for_load_state("networkidle")
    page.wait_for_function("[...document.images].every(image => image.complete)")
    page.remove_listener("requestfinished", record)
    by_type = {}
    for request in finished:
        sizes = request.sizes()
        by_type[request.resource_type] = (
            by_type.get(request.resource_type, 0) + sizes["responseBodySize"] + sizes["responseHeadersSize"]
        )
    return sum(by_type.values()), by_type
