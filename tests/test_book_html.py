"""The built book's files (``_build/html``), without a browser: no path of the build machine anywhere in them,
and no Colab button unless a repository was configured.

Needs ``_build/html`` (``make book`` or ``make test``): skipped when it is absent outside CI, a failure in CI.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from book_toc import REPO, built_book
TEXT_SUFFIXES = {".html", ".js", ".txt", ".md", ".ipynb", ".css", ".json", ".svg", ".py", ".yml", ".buildinfo"}

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def html() -> Path:
    return built_book()


def machine_paths() -> re.Pattern:
    """Absolute paths of this machine that must not appear in a published page: the repository (and the
    folder it sits in), the data folder, the home folder, temporary folders of runs and tests."""
    prefixes = {str(REPO), str(REPO.resolve()), str(REPO.parent) + "/", str(REPO.resolve().parent) + "/"}
    data = os.environ.get("VNA_DATA_DIR")
    if data:
        prefixes.add(str(Path(data).resolve()))
    home = str(Path.home())
    if home not in ("/", ""):
        prefixes.add(home + "/")
    tmp = re.escape(tempfile.gettempdir().rstrip("/"))
    alternatives = [re.escape(p) for p in sorted(prefixes, key=len, reverse=True)]
    alternatives.append(tmp + r"/(?:tmp|vna|pytest)")  # a run's temporary folder
    return re.compile("|".join(alternatives))


def scan(root: Path, pattern: re.Pattern) -> list[str]:
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES and path.name != ".buildinfo":
            continue
        text = path.read_text(errors="replace")
        for m in pattern.finditer(text):
            hits.append(f"{path.relative_to(root)}: ...{text[max(0, m.start() - 60):m.end() + 40]!r}...")
            break
    return hits


def test_no_absolute_path_of_the_build_machine(html):
    hits = scan(html, machine_paths())
    assert not hits, "absolute paths of the build machine in the built book:\n" + "\n".join(hits[:20])


def test_no_colab_button_without_a_repository(html):
    if os.environ.get("VNA_REPOSITORY"):
        pytest.skip("VNA_REPOSITORY is set: the book may have been built with Colab buttons")
    pages = [p for p in html.rglob("*.html") if "colab.research.google.com" in p.read_text(errors="replace")]
    assert not pages, f"Colab links although no repository is configured: {pages}"
    assert "launch-buttons" not in (html / "book" / "notebooks" / "04_vna.html").read_text()


def test_injected_and_import_cells_are_not_on_the_pages(html):
    for page in sorted((html / "book" / "notebooks").glob("*.html")):
        text = page.read_text(errors="replace")
        assert "injected-parameters" not in text and "sys.path.insert" not in text, page.name
        assert "tag_remove-cell" not in text, page.name


def test_the_api_page_lists_the_library(html):
    from test_book_config import API_NAMES

    page = (html / "book" / "api.html").read_text()
    listed = set(re.findall(r'<dt class="sig sig-object py" id="([^"]+)"', page))
    assert set(API_NAMES) <= listed, f"the API page lacks {sorted(set(API_NAMES) - listed)}"
