"""The rendered book in headless Chromium, as a reader sees it without a kernel.

For every page in _toc.yml, served from _build/html on localhost: no cell error, every image loaded,
every formula typeset by the site's own MathJax, no request outside the site, no JavaScript error; on a chapter, at least one
`nets.widgets.explore` widget, each of whose controls is reached with Tab and moved with a key press (an
arrow or Enter), and changes what it shows. A screenshot of each page is kept in _build/screenshots/.
The reader's page, on every page: no serious or critical WCAG 2.1 A/AA violation found by axe-core (served
from the site, pinned by scripts/build_book.py), in the light theme and in the dark one; every image
described (no empty alt text, no file name as alt text); no table cell reading NaN or None; and at 1280,
1024 and 390 px no <pre> that scrolls sideways and no page wider than the window.
The book is built first unless _build/html is current.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
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
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = (1280, 1024, 390)  # a laptop, a small laptop or tablet, a phone (CSS pixels)
# axe-core on the whole page, WCAG 2.1 A and AA rules: the serious and critical violations, with where.
AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.filter((v) => ["serious", "critical"].includes(v.impact)).map((v) => ({
    id: v.id, impact: v.impact, count: v.nodes.length,
    where: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + ": " + (n.failureSummary || "").slice(0, 160)),
  }));
}"""
# Images a reader cannot see described: no alt, an empty one, or a file name (MyST-NB's default).
UNDESCRIBED = r"""() => [...document.images]
  .filter((img) => img.getAttribute("role") !== "presentation" && !img.closest("[aria-hidden=true]"))
  .filter((img) => { const alt = (img.getAttribute("alt") || "").trim();
    return !alt || /(^|\/)[\w.-]+\.(png|jpe?g|gif|svg|webp)$/i.test(alt) || alt.includes("_images/"); })
  .map((img) => (img.getAttribute("alt") || "(none)") + " <- " + img.src.slice(0, 80))"""
# What cuts content off at this width: a <pre> of the page's content that scrolls sideways, a page wider
# than the window.
CUT_OFF = """() => {
  const pres = [...document.querySelectorAll(".bd-article pre")].filter((pre) => pre.getClientRects().length)
    .filter((pre) => pre.scrollWidth > pre.clientWidth + 1)
    .map((pre) => `<pre> ${pre.scrollWidth} px in ${pre.clientWidth} px: ${pre.innerText.slice(0, 60)}`);
  const page = document.documentElement;
  return page.scrollWidth > window.innerWidth + 1 ? [...pres, `the page is ${page.scrollWidth} px wide`] : pres;
}"""
MISSING_CELLS = """() => [...document.querySelectorAll(".bd-article td, .bd-article th")]
  .map((cell) => cell.innerText.trim()).filter((text) => /^(nan|none|<na>|nat)$/i.test(text))"""


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


def _reach_with_tab(page, element, where: str) -> None:
    """``element`` is in the page's Tab order: Shift+Tab away from it, then Tab, lands on it again."""
    element.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert element.evaluate("el => document.activeElement === el"), f"{where}: Tab does not reach the control"


def _move(page, control, where: str) -> None:
    """Move a widget control one step from the keyboard, as a reader would: Tab to it, then a key."""
    handle = control.locator(".noUi-handle")
    if handle.count():
        name = handle.first.evaluate("el => el.getAttribute('aria-label') || ''")
        assert name.strip(), f"{where}: the slider has no accessible name"
        _reach_with_tab(page, handle.first, where)
        handle.first.press("ArrowRight")
        return
    buttons = control.locator("button")
    if buttons.count() > 1:
        inactive = control.locator("button:not(.mod-active)").first
        _reach_with_tab(page, inactive, where)
        inactive.press("Enter")
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
                _move(page, controls.nth(j), f"{page_name}: control {j} of widget {i}")
                changed = f"([el, before]) => ({SHOWN})(el) !== before"
                try:
                    page.wait_for_function(changed, arg=[explorer.element_handle(), before], timeout=10_000)
                except PlaywrightTimeout:
                    message = f"{page_name}: moving control {j} of widget {i} did not change what it shows"
                    raise AssertionError(message) from None
    finally:
        page.close()


def _open(browser, site: str, page_name: str, width: int, dark: bool = False):
    """The page at ``width`` px, loaded, its widgets and formulas drawn, in the light or the dark theme."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.route(
        "**/*", lambda route: route.continue_() if route.request.url.startswith(site) else route.abort()
    )
    if dark:  # pydata-sphinx-theme reads the reader's choice from localStorage before it paints
        page.add_init_script("localStorage.setItem('theme', 'dark'); localStorage.setItem('mode', 'dark')")
    page.goto(f"{site}/{page_name}.html", wait_until="load")
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if views:
        page.wait_for_function(
            "n => document.querySelectorAll('.widget-subarea > *').length >= n", arg=views, timeout=60_000
        )
    formulas = page.locator(".math").count()
    if formulas:
        page.wait_for_function(
            "n => document.querySelectorAll('mjx-container').length >= n", arg=formulas, timeout=60_000
        )
    if dark:
        assert page.evaluate("document.documentElement.dataset.theme") == "dark", "the dark theme is not on"
    return page


def _axe(page, site: str) -> list[dict]:
    page.add_script_tag(url=f"{site}/{build_book.AXE_SCRIPT}")
    return page.evaluate(AXE_RUN, WCAG)


@pytest.mark.parametrize("page_name", PAGES)
def test_page_is_accessible_described_and_uncut(site: str, browser, page_name: str):
    page = _open(browser, site, page_name, 1280)
    try:
        violations = _axe(page, site)
        assert violations == [], (
            f"{page_name}: axe-core finds serious or critical WCAG 2.1 violations: {violations}"
        )
        undescribed = page.evaluate(UNDESCRIBED)
        assert undescribed == [], f"{page_name}: images without a description: {undescribed[:5]}"
        missing = page.evaluate(MISSING_CELLS)
        assert missing == [], (
            f"{page_name}: table cells read {sorted(set(missing))}; print a missing value as –"
        )
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(100)  # the theme lays the page out again
            cut = page.evaluate(CUT_OFF)
            assert cut == [], f"{page_name} at {width} px cuts content off: {cut[:5]}"
    finally:
        page.close()


@pytest.mark.parametrize("page_name", PAGES)
def test_page_is_accessible_in_dark_mode(site: str, browser, page_name: str):
    page = _open(browser, site, page_name, 1280, dark=True)
    try:
        violations = _axe(page, site)
        assert violations == [], (
            f"{page_name} (dark): axe-core finds serious or critical violations: {violations}"
        )
        pale = page.evaluate(
            """() => [...document.querySelectorAll(".bd-article img, .bd-article .widget-subarea")]
              .filter((el) => el.getClientRects().length)
              .filter((el) => getComputedStyle(el).backgroundColor !== "rgb(255, 255, 255)")
              .map((el) => el.tagName + " " + (el.getAttribute("alt") || el.className).slice(0, 60))"""
        )
        assert pale == [], (
            f"{page_name} (dark): figures or widgets without their light background: {pale[:5]}"
        )
    finally:
        page.close()


# Chapters that may have no live element, and why: the ImageNet chapter trains nothing; its live network
# is torchvision's ImageNet-trained ResNet-18, which only a build that could download the weights has.
NEEDS_WEIGHTS = {"book/imagenet"}
# The page's first output for its first sample against the reference the build computed in Python: the
# same file in onnxruntime (the browser's WebAssembly kernels sum in another order), and PyTorch.
LIVE_TOLERANCE = 1e-4
LIVE_RESULT = "el => el.dataset.result ? JSON.parse(el.dataset.result) : null"


@pytest.mark.parametrize("page_name", sorted(CHAPTERS))
def test_live_models_run_in_the_page_and_agree_with_python(site: str, browser, page_name: str):
    """Each live element: nothing of the runtime or the model before Start; then, offline, the prediction
    within 2 s per inference, numbers equal to the build's reference, a new picture a new prediction."""
    from nets.live.export import FP16_TOLERANCE

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requested, outside = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(site)
            else (outside.append(route.request.url), route.abort())
        ),
    )
    try:
        page.goto(f"{site}/{page_name}.html", wait_until="load")
        elements = page.locator(".nets-live")
        if page_name in NEEDS_WEIGHTS and elements.count() == 0:
            assert "could not be downloaded" in page.inner_text(".bd-article"), (
                f"{page_name}: no live element, no reason"
            )
            return
        assert elements.count() >= 1, f"{page_name} has no live element (nets.live.element)"
        page.wait_for_function("[...document.querySelectorAll('.nets-live')].every(el => el.dataset.state)")
        early = [url for url in requested if "/live/" in url and not url.endswith("element.mjs")]
        assert early == [], f"{page_name} fetches live files before a click: {early}"
        for i in range(elements.count()):
            element = elements.nth(i)
            config = json.loads(element.get_attribute("data-config"))
            element.locator(".nets-live-start").click()
            page.wait_for_function(
                "el => ['ready', 'error'].includes(el.dataset.state)",
                arg=element.element_handle(),
                timeout=60_000,
            )
            status = element.locator(".nets-live-status").inner_text()
            assert element.get_attribute("data-state") == "ready", f"{page_name}, live element {i}: {status}"
            first = element.evaluate(LIVE_RESULT)
            for model, run, ort_ref, torch_ref in zip(
                config["models"],
                first["models"],
                config["reference"]["onnxruntime"],
                config["reference"]["torch"],
                strict=True,
            ):
                where = f"{page_name}, live {model['label']}"
                assert run["ms"] < 2000, f"{where}: one inference took {run['ms']:.0f} ms"
                page_values, ort_ref, torch_ref = (np.array(v) for v in (run["first"], ort_ref, torch_ref))
                assert np.abs(page_values - ort_ref).max() <= LIVE_TOLERANCE, (
                    f"{where}: not onnxruntime's numbers"
                )
                bound = (
                    LIVE_TOLERANCE
                    if model["storage"] == "fp32"
                    else FP16_TOLERANCE * max(1, np.abs(torch_ref).max())
                )
                assert np.abs(page_values - torch_ref).max() <= bound, f"{where}: not PyTorch's numbers"
            element.locator("input[type=radio]").nth(2).check()
            page.wait_for_function(
                "([el, n]) => JSON.parse(el.dataset.result || '{}').runs > n",
                arg=[element.element_handle(), first["runs"]],
                timeout=10_000,
            )
            second = element.evaluate(LIVE_RESULT)
            assert all(
                a["first"] != b["first"] for a, b in zip(first["models"], second["models"], strict=True)
            ), f"{page_name}, live element {i}: another picture, the same prediction"
            assert element.locator("ol li, .nets-live-maps canvas").count() > 0
        assert outside == [], f"{page_name}: the live elements asked another host for {outside}"
    finally:
        page.close()


def test_live_elements_say_so_without_webassembly(site: str, browser):
    page = browser.new_page()
    page.add_init_script("delete globalThis.WebAssembly")
    page.route(
        "**/*", lambda route: route.continue_() if route.request.url.startswith(site) else route.abort()
    )
    try:
        page.goto(f"{site}/book/vgg.html", wait_until="load")
        element = page.locator(".nets-live").first
        page.wait_for_function("el => el.dataset.state", arg=element.element_handle())
        assert element.get_attribute("data-state") == "no-wasm"
        assert "WebAssembly turned off" in element.locator(".nets-live-status").inner_text()
    finally:
        page.close()
