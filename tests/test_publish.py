"""The published tree (``make publish DIR=...``) with a dummy repository: every chapter page built from a
notebook carries Jupyter Book's Colab button, and the button's target, ``book/notebooks/<chapter>.ipynb`` on
the pages branch, exists in the tree, installs ``vna`` from that repository on Colab only, and holds no
path of the build machine.

Reuses the executed notebooks of the last book build (``book/notebooks/*.ipynb``, ``_build/html`` must
exist): the HTML is rebuilt once with ``VNA_REPOSITORY`` set (seconds; Jupyter Book executes nothing) into a
temporary folder, and the publish step runs on it.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from test_book_html import machine_paths, scan

from book_toc import REPO, built_book, toc_files
DUMMY = "vna-test/vna-dummy"
COLAB = re.compile(r'href="(https://colab\.research\.google\.com/github/([^/"]+/[^/"]+)/blob/([^/"]+)/([^"]+))"')

pytestmark = pytest.mark.book




def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VNA_REPOSITORY") and k != "VNA_PAGES_BRANCH"}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, dict]:
    built_book()
    tmp = tmp_path_factory.mktemp("publish")
    env = _env(VNA_REPOSITORY=DUMMY, VNA_REPOSITORY_REF="0123456789abcdef")
    build = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", ".", "--path-output", str(tmp),
                            "-W", "-n", "--keep-going", "-q"], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    html = tmp / "_build" / "html"
    site = tmp / "site"
    res = subprocess.run([sys.executable, "book/_ext/publish.py", str(site), "--html", str(html)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Colab buttons open them from vna-test/vna-dummy@gh-pages" in res.stdout
    return site, {"html": html, "env": env}


def test_every_notebook_chapter_opens_an_existing_notebook_in_colab(published):
    site, _ = published
    notebook_pages = [c for c in toc_files() if c.startswith("book/notebooks/")]
    assert len(notebook_pages) >= 5
    for chapter in toc_files():
        page = site / f"{chapter}.html"
        assert page.is_file(), f"{chapter}: no page in the published tree"
        links = COLAB.findall(page.read_text())
        if chapter not in notebook_pages:
            assert not links, f"{chapter} is not a notebook but has a Colab link"
            continue
        assert len({link[0] for link in links}) == 1, f"{chapter}: Colab links {links}"
        url, repo, branch, path = links[0]
        assert (repo, branch, path) == (DUMMY, "gh-pages", f"{chapter}.ipynb"), url
        target = site / path
        assert target.is_file(), f"{chapter}: the Colab button opens {path}, which is not in the tree"
        nb = nbformat.read(target, as_version=4)
        nbformat.validate(nb)
        first = nb.cells[0]
        assert first.cell_type == "code" and 'if "google.colab" in sys.modules:' in first.source
        # a copy of the repository at the published commit (its results/ included), vna installed from it
        assert f'"git", "clone", "--depth", "1", "https://github.com/{DUMMY}"' in first.source
        assert '"fetch", "--depth", "1", "origin", "0123456789abcdef"' in first.source
        # vna without its dependencies (a torch that is there stays), then only the requirements that are missing
        assert '"pip", "install", "--quiet", "--no-deps", "-e", home]' in first.source
        assert "remove-cell" in first.metadata.get("tags", [])
        assert sum(f"https://github.com/{DUMMY}" in c.source for c in nb.cells) == 1
        assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
        assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path} was not executed"


def test_the_tree_is_what_pages_serves(published):
    site, _ = published
    assert (site / "index.html").is_file() and (site / ".nojekyll").is_file()
    summary = json.loads((site / ".vna-published").read_text())
    assert summary["repository"] == DUMMY and summary["branch"] == "gh-pages"
    assert sorted(summary["colab"]) == sorted(summary["notebooks"])
    hits = scan(site, machine_paths())
    assert not hits, "absolute paths of the build machine in the published tree:\n" + "\n".join(hits[:20])


def test_publish_refuses_a_repository_other_than_the_built_one(published, tmp_path):
    _, info = published
    res = subprocess.run([sys.executable, "book/_ext/publish.py", str(tmp_path / "other"), "--html", str(info["html"])],
                         cwd=REPO, env=_env(VNA_REPOSITORY="someone/else"), capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and "someone/else" in res.stderr and not (tmp_path / "other").exists()


def test_publish_does_not_replace_a_folder_it_did_not_write(published, tmp_path):
    _, info = published
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("keep me")
    res = subprocess.run([sys.executable, "book/_ext/publish.py", str(keep), "--html", str(info["html"])],
                         cwd=REPO, env=info["env"], capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and (keep / "notes.txt").read_text() == "keep me"


def test_without_a_repository_there_is_no_colab_button(tmp_path):
    """The book built without ``VNA_REPOSITORY`` has no button (checked on the pages of the normal build)."""
    built_book()
    if os.environ.get("VNA_REPOSITORY"):
        pytest.skip("VNA_REPOSITORY is set in this environment")
    site = tmp_path / "site"
    res = subprocess.run([sys.executable, "book/_ext/publish.py", str(site)], cwd=REPO, env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no Colab buttons" in res.stdout
    assert not [p for p in site.rglob("*.html") if "colab.research.google.com" in p.read_text(errors="replace")]
    for nb in (site / "book" / "notebooks").glob("*.ipynb"):
        assert "https://github.com/" not in nb.read_text()
