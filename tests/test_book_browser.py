"""The built book in a real browser (headless Chromium via Playwright, Debian's /usr/bin/chromium).

Needs ``_build/html`` (``jupyter-book build . -W -n --keep-going`` after ``scripts/run_notebooks.py``):
skipped when it is absent outside CI, a failure in CI. Serves the HTML from 127.0.0.1, blocks every other
host (the book must work offline) and checks, for every chapter of ``_toc.yml``: it loads without a
console error or a failed request, every image loads, nothing asks for the network, and it fits a
phone-sized viewport without horizontal scrolling. A chapter built from a notebook shows its parameters
cell first (the import cell and papermill's injected cell are not on the page). The intro's maths must be
typeset by MathJax; the results table has one row per dataset × method (× protocol, where it has that
column), and it and the results figure fit the page at 1280 px and at 390 px. Screenshots go to
``_build/screenshots/`` (``first_*.png``: what a reader sees first at 1280 px).

What the results chapter (notebooks/05_results.py) must keep for these tests: the table's
``id="results-table"`` with a ``<thead>`` row naming ``dataset`` and ``method`` (and optionally
``protocol``) and cells ``0.1234`` or ``0.1234 ± 0.0123`` under ``encoding AUC``, ``decoding AUC`` and
``average AUC`` (for each dataset, a row for each of the paper's three methods); ``id="results-source"``
(``data-path``, if any, relative to the repository or to ``notebooks/``); the results figure
(``vna.chapters.plots.plot_results``) as the first figure after that table, or in an element ``id="results-figure"``.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from book_toc import HTML, REPO, built_book, toc_files
SHOTS = REPO / "_build" / "screenshots"
CHROMIUM = os.environ.get("VNA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
# figures each executed chapter must show (training curve, score matrix, ROC and top-k, two candidate sets, ...)
MIN_FIGURES = {"01_data": 3, "02_direct_encoding": 6, "03_direct_decoding": 6, "04_vna": 9, "05_results": 1}
DESKTOP = {"width": 1280, "height": 900}

pytestmark = pytest.mark.book




CHAPTERS = toc_files()


@pytest.fixture(scope="module")
def site() -> str:
    built_book()
    if not Path(CHROMIUM).is_file() and not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(HTML)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser(site, tmp_path_factory):
    try:
        from playwright import sync_api
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI needs playwright (python) for the browser test")
        pytest.skip("playwright (python) is not installed")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, args=ARGS,
            headless=True, viewport=DESKTOP,
        )
        yield ctx
        ctx.close()


class Visit:
    """One page load with its console errors, failed requests and outside-host requests recorded."""

    def __init__(self, ctx, site: str, url: str, viewport: dict):
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page = page = ctx.new_page()
        page.set_viewport_size(viewport)
        host = urlparse(site).netloc

        def route(r):
            if urlparse(r.request.url).netloc == host or r.request.url.startswith("data:"):
                r.continue_()
            else:
                self.outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url} ({r.failure})")
                if urlparse(r.url).netloc == host else None)
        page.on("response", lambda r: self.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        page.goto(f"{site}/{url}", wait_until="networkidle")
        # wait for MathJax (where a page loads it) to finish typesetting
        page.evaluate("() => (window.MathJax && MathJax.startup && MathJax.startup.promise) "
                      "? MathJax.startup.promise.then(() => true) : true")

    def broken_images(self) -> list[str]:
        return self.page.evaluate(
            "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )

    def close(self):
        self.page.close()


def _url(chapter: str) -> str:
    return f"{chapter}.html"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_loads_cleanly(browser, site, chapter):
    v = Visit(browser, site, _url(chapter), DESKTOP)
    try:
        assert v.page.locator("main h1").count() >= 1, f"{chapter}: no title"
        assert not v.errors, f"{chapter}: {v.errors}"
        assert not v.outside, f"{chapter} asked for outside hosts (the book must work offline): {v.outside}"
        assert not v.broken_images(), f"{chapter}: images that did not load: {v.broken_images()}"
        figures = v.page.evaluate("() => document.querySelectorAll('.cell_output img').length")
        assert figures >= MIN_FIGURES.get(chapter.split("/")[-1], 0), f"{chapter}: only {figures} figures"
        v.page.screenshot(path=str(SHOTS / f"first_{chapter.replace('/', '_')}.png"))  # the first screen
        v.page.screenshot(path=str(SHOTS / f"{chapter.replace('/', '_')}.png"), full_page=True)
        if chapter.startswith("book/notebooks/"):
            sources = v.page.locator("main .cell .cell_input").all_inner_texts()
            assert sources, f"{chapter}: no code cell shown"
            assert re.search(r"^quick\s*=", sources[0], re.M), \
                f"{chapter}: the first code cell on the page is not the parameters cell: {sources[0][:200]!r}"
            for text in sources:
                assert "sys.path.insert" not in text and not text.lstrip().startswith("# Parameters"), \
                    f"{chapter} shows plumbing: {text[:200]!r}"
    finally:
        v.close()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_fits_a_phone(browser, site, chapter):
    v = Visit(browser, site, _url(chapter), PHONE)
    try:
        sizes = v.page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        v.page.screenshot(path=str(SHOTS / f"phone_{chapter.replace('/', '_')}.png"), full_page=False)
        assert sizes[0] <= sizes[1], f"{chapter}: page is {sizes[0]} px wide in a {sizes[1]} px phone viewport"
    finally:
        v.close()


def test_intro_maths_is_typeset(browser, site):
    v = Visit(browser, site, _url(CHAPTERS[0]), DESKTOP)
    try:
        n = v.page.locator("mjx-container").count()
        assert n >= 10, f"only {n} typeset formulas on the intro page"
        assert v.page.locator("mjx-merror").count() == 0, "MathJax reported a formula error"
        assert v.page.locator("mjx-container[display='true']").count() >= 3  # the displayed equations
        # the formulas were typeset, not left as TeX source
        text = v.page.locator("main").inner_text()
        assert "\\frac" not in text and "\\mathcal" not in text
    finally:
        v.close()


def _records_folder(value: str) -> Path:
    path = Path(value)
    if path.is_absolute():
        return path
    for base in (REPO, REPO / "notebooks"):
        if (base / path).is_dir():
            return base / path
    return REPO / path


def test_results_table_one_row_per_dataset_and_method(browser, site):
    v = Visit(browser, site, "book/notebooks/05_results.html", DESKTOP)
    try:
        table = v.page.locator("#results-table")
        assert table.count() == 1, "no #results-table on the results page"
        headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
        rows = [[c.strip() for c in r.locator("td").all_inner_texts()] for r in table.locator("tbody tr").all()]
        d, m = headers.index("dataset"), headers.index("method")
        p = headers.index("protocol") if "protocol" in headers else None
        keys = [(r[d], r[m], r[p] if p is not None else "") for r in rows]
        paper_methods = {"Visual-Neural Alignment", "Direct Encoding", "Direct Decoding"}
        datasets = sorted({k[0] for k in keys})
        assert len(set(keys)) == len(keys), f"duplicate rows: {keys}"
        for dataset in datasets:  # every dataset has a row for each of the paper's three methods
            shown = {k[1] for k in keys if k[0] == dataset}
            assert paper_methods <= shown, f"{dataset}: methods {sorted(shown)}"
        for r in rows:
            if r[m] not in paper_methods:  # baselines beside them (linear, templates) may read "n/a"
                continue
            for col in ("encoding AUC", "decoding AUC", "average AUC"):
                assert re.fullmatch(r"0\.\d{4}( ± 0\.\d{4})?|1\.0000( ± 0\.\d{4})?", r[headers.index(col)]), r
        source = v.page.locator("#results-source")
        assert source.count() == 1, "the results page does not say where its numbers came from"
        where = source.get_attribute("data-path")
        assert where is None or not Path(where).is_absolute(), f"the page names an absolute path: {where}"
        if where is not None and source.get_attribute("data-trained") == "false":
            from vna.study.store import load_records

            folder = _records_folder(where)
            if folder.is_dir():  # the book was built on this machine: compare with the records it read
                recorded = sorted(set(load_records(folder)["dataset"]))
                shown = sorted({name.split(" ")[0] for name in datasets})
                assert shown == recorded, f"table shows {shown} but {folder} holds {recorded}"
    finally:
        v.close()


# the results figure: #results-figure's image, else the first figure after the results table
_FIGURE = """(document.querySelector('#results-figure img') || Array.from(document.querySelectorAll('.cell_output img'))
  .filter(i => document.querySelector('#results-table').compareDocumentPosition(i)
               & Node.DOCUMENT_POSITION_FOLLOWING)[0])"""
_FIT = """() => {
  const t = document.querySelector('#results-table');
  const box = document.querySelector('main article') || document.querySelector('main');
  const img = %s;
  const r = e => { const b = e.getBoundingClientRect(); return {left: b.left, right: b.right, top: b.top,
                                                                width: b.width, height: b.height}; };
  const th = Array.from(t.querySelectorAll('thead th'));
  return {
    table: r(t), article: r(box), viewport: window.innerWidth, page: document.documentElement.scrollWidth,
    scroll: [t.scrollWidth, t.clientWidth, t.scrollHeight, t.clientHeight],
    overflowX: getComputedStyle(t).overflowX, columns: t.querySelectorAll('tbody tr:first-child td').length,
    headers: th.length, sticky: th.length ? getComputedStyle(th[0]).position : null,
    img: img ? {...r(img), natural: img.naturalWidth, complete: img.complete} : null,
  };
}""" % _FIGURE


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
def test_results_table_and_figure_fit_the_page(browser, site, viewport):
    v = Visit(browser, site, "book/notebooks/05_results.html", viewport)
    try:
        assert v.page.locator("#results-table").count() == 1, "no #results-table on the results page"
        f = v.page.evaluate(_FIT)
        tag = f"{viewport['width']}px"
        v.page.locator("#results-table").screenshot(path=str(SHOTS / f"results_table_{tag}.png"))
        assert f["page"] <= f["viewport"], f"{tag}: the results page is {f['page']} px wide"
        # the table: inside the text column; every column reachable inside its own box, header kept
        assert f["table"]["left"] >= f["article"]["left"] - 1 and f["table"]["right"] <= f["article"]["right"] + 1, f
        assert f["headers"] == f["columns"] > 0, f"{tag}: {f['headers']} header cells for {f['columns']} columns"
        assert f["sticky"] == "sticky", f"{tag}: the header row does not stay in view"
        sw, cw, sh, ch = f["scroll"]
        if viewport is DESKTOP:
            assert sw <= cw + 1, f"{tag}: the results table is {sw} px wide in a {cw} px box (columns cut off)"
        elif sw > cw + 1:
            assert f["overflowX"] in ("auto", "scroll"), f"{tag}: the table is cut, not scrollable ({f['overflowX']})"
        if sh > ch + 1:  # a long table scrolls inside its box; its header stays on top
            top = v.page.evaluate("() => { const t = document.querySelector('#results-table'); t.scrollTop = 200; "
                                  "return [t.getBoundingClientRect().top, t.querySelector('thead th')"
                                  ".getBoundingClientRect().top]; }")
            assert abs(top[1] - top[0]) <= 2, f"{tag}: the header scrolled away ({top})"
            v.page.evaluate("() => { document.querySelector('#results-table').scrollTop = 0; }")
        # the figure: loaded, within the page, as wide as the text column, not shrunk below readability
        img = f["img"]
        assert img and img["complete"] and img["natural"] > 0, f"{tag}: no results figure after the table"
        assert img["right"] <= f["viewport"] and img["left"] >= 0, f"{tag}: the figure leaves the page: {img}"
        column = f["article"]["width"]
        assert img["width"] >= 0.85 * min(column, img["natural"]) - 32, f"{tag}: figure {img['width']} px in {column}"
        if viewport is DESKTOP:
            assert img["width"] >= 600, f"{tag}: the results figure is only {img['width']:.0f} px wide"
            scale = img["width"] / img["natural"]
            assert scale >= 0.7, f"{tag}: the figure is shrunk to {scale:.2f} of its size (text too small)"
        figure = v.page.evaluate_handle(f"() => {_FIGURE}").as_element()
        figure.screenshot(path=str(SHOTS / f"results_figure_{tag}.png"))
    finally:
        v.close()
