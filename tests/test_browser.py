"""The rendered book in headless Chromium, as a reader sees it without a kernel.

For every page in _toc.yml, served from _build/html on localhost: no cell error, every image loaded,
every formula typeset by the site's own MathJax, no request outside the site, no JavaScript error; on a chapter, at least one
`nets.widgets.explore` widget, and moving each of its controls changes what it shows. A screenshot
of each page is kept in _build/screenshots/. The book is built first unless _build/html is current.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from book_script import build_book
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "_build" / "screenshots"
# Sphinx 7.4 adds sphinx-thebe's inline config script twice (it is registered after the builder
# starts); the second copy fails to redeclare a const. Harmless, and not ours: every other error counts.
KNOWN_PAGE_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)
WIDGET_WORDS = ("jupyter-widgets", "require", "embed-amd", "html-manager")


PAGES = build_book.toc_files()
CHAPTERS = {str(p.relative_to(ROOT).with_suffix("")) for p in build_book.chapters()}


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The built book served on localhost; yields its base URL."""
    html = build_book.ensure_built()
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # no screenshot of a page that is gone

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser check, but {CHROMIUM} is missing: apt-get install chromium")
        pytest.skip(
            f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium); CI runs this"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# What an explorer shows right now: its visible images and text (hidden Stack children excluded).
SHOWN = """(el) => {
  const view = el.lastElementChild;
  const visible = (node) => node.getClientRects().length > 0 && getComputedStyle(node).visibility !== "hidden";
  const images = [...view.querySelectorAll("img")].filter(visible).map((img) => img.src);
  return images.join("|") + "#" + view.innerText;
}"""


def _move(control) -> None:
    """Move a widget control one step, as a reader would."""
    handle = control.locator(".noUi-handle")
    if handle.count():
        handle.first.focus()
        handle.first.press("ArrowRight")
        return
    buttons = control.locator("button")
    if buttons.count() > 1:
        inactive = control.locator("button:not(.mod-active)")
        inactive.first.click()
        return
    select = control.locator("select")
    if select.count():
        options = select.first.locator("option").all_text_contents()
        select.first.select_option(label=options[-1])
        return
    raise AssertionError(f"do not know how to move this control: {control.inner_html()[:200]}")


@pytest.mark.parametrize("page_name", PAGES)
def test_page_renders_and_its_widgets_switch_without_a_kernel(site: str, browser, page_name: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, failed, outside = [], [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Everything a page loads comes from the site itself (MathJax and the widget code included).
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)

    def only_local(route) -> None:  # the test never touches the network; note what the page asks for
        if route.request.url.startswith(site):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    try:
        page.goto(f"{site}/{page_name}.html", wait_until="load")
        views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
        if views:  # html-manager renders each view into a .widget-subarea inserted before its script
            page.wait_for_function(
                "n => document.querySelectorAll('.widget-subarea > *').length >= n", arg=views, timeout=60_000
            )
        formulas = page.locator(".math").count()
        if formulas:  # MathJax, served by the site, typesets each formula into an <mjx-container>
            try:
                page.wait_for_function(
                    "n => document.querySelectorAll('mjx-container').length >= n",
                    arg=formulas,
                    timeout=60_000,
                )
            except PlaywrightTimeout:
                rendered = page.locator("mjx-container").count()
                raise AssertionError(f"{page_name}: {rendered} of {formulas} formulas rendered") from None
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_function("[...document.images].every(img => img.complete)", timeout=30_000)
        page.evaluate("window.scrollTo(0, 0)")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{page_name.replace('/', '-')}.png"), full_page=True)

        cell_errors = page.locator(".cell_output .output.traceback, .cell_output .output.error")
        assert cell_errors.count() == 0, (
            f"{page_name} shows a cell error: {cell_errors.first.inner_text()[:500]}"
        )
        broken = page.evaluate(
            "[...document.images].filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src)"
        )
        assert broken == [], f"{page_name}: images that did not load: {[src[:100] for src in broken]}"
        assert failed == [], f"{page_name}: requests that failed: {failed}"
        widget_code = [url for url in outside if any(word in url for word in WIDGET_WORDS)]
        assert widget_code == [], f"{page_name} asks a CDN for widget code: {widget_code}"
        unexpected = [e for e in errors if not any(known in e for known in KNOWN_PAGE_ERRORS)]
        assert unexpected == [], f"{page_name}: JavaScript errors: {unexpected}"

        explorers = page.locator(".nets-explore")
        if page_name not in CHAPTERS:
            return
        assert explorers.count() >= 1, f"{page_name} is a chapter without a nets.widgets.explore widget"
        for i in range(explorers.count()):
            explorer = explorers.nth(i)
            explorer.scroll_into_view_if_needed()
            controls = explorer.locator(":scope > *")
            for j in range(controls.count() - 1):  # the last child is the view
                before = explorer.evaluate(SHOWN)
                assert re.search(r"\S", before), f"{page_name}: widget {i} shows nothing"
                _move(controls.nth(j))
                changed = f"([el, before]) => ({SHOWN})(el) !== before"
                try:
                    page.wait_for_function(changed, arg=[explorer.element_handle(), before], timeout=10_000)
                except PlaywrightTimeout:
                    message = f"{page_name}: moving control {j} of widget {i} did not change what it shows"
                    raise AssertionError(message) from None
    finally:
        page.close()
