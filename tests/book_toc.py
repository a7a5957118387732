"""What the book tests share: the chapters in table-of-contents order and the built book's folder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
HTML = REPO / "_build" / "html"


def built_book() -> Path:
    """``_build/html`` of the repository; a test without it fails in CI (which builds the book first) and
    skips elsewhere."""
    if not (HTML / "index.html").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI must build the book first: {HTML / 'index.html'} is missing")
        pytest.skip(f"the built book is absent ({HTML / 'index.html'}); run `make book` first")
    return HTML


def toc_files() -> list[str]:
    """Every file `_toc.yml` names (root, chapters and their sections), in order, without extension."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files
