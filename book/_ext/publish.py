#!/usr/bin/env python
"""Write the tree that GitHub Pages serves: the built book and, beside each chapter page, its notebook.

``make publish DIR=site`` (after ``make book``) runs ``python book/_ext/publish.py site``. The tree is

* ``_build/html`` as built (``index.html`` at its root) and an empty ``.nojekyll`` (so that GitHub Pages
  serves ``_static/`` and ``_images/`` as they are);
* ``book/notebooks/<chapter>.ipynb`` beside ``book/notebooks/<chapter>.html``: the executed notebook the
  page was rendered from, with a first cell that installs ``vna`` from ``$VNA_REPOSITORY`` when (and only
  when) it runs on Google Colab: the package without its dependencies, then the dependencies that are missing,
  leaving the torch Colab has in place. Jupyter Book's "Open in Colab" button of that page points to exactly this
  file on the branch ``$VNA_PAGES_BRANCH`` (default ``gh-pages``), so the branch that GitHub Pages serves
  is also the one Colab opens.

The data come through the loaders' pinned downloads on Colab (``dataset="auto"`` downloads the real
``cowley2023-v4`` there). ``$VNA_REPOSITORY_REF`` pins the commit ``vna`` is installed from (CI sets the
commit that built the book); without it, the repository's default branch. The copy goes into
``/content/vna`` (``$VNA_COLAB_DIR/vna`` when set: the Colab rehearsal test points it at a scratch folder).

The repository must be the one the HTML was built with (its Colab buttons name it); a mismatch is an
error. The tree is written next to ``DIR`` and renamed into place; an existing ``DIR`` is replaced only when
it is empty or an earlier published tree (it holds ``.vna-published``).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vna_book import (  # noqa: E402 - the extension's one definition of the repository settings
    COLAB_URL, REPOSITORY_ENV, colab_link, install_ref, pages_branch, repository,
)

REPO = Path(__file__).resolve().parents[2]
MARKER = ".vna-published"
INSTALL_TAG = "vna-colab-install"
#: vna's name on the package index (pyproject.toml's ``project.name``; the import name is ``vna``).
DISTRIBUTION = "visual-neural-alignment"


#: Where the install cell puts its copy of the repository: ``$VNA_COLAB_DIR/vna``, by default ``/content/vna``
#: (Colab's working folder). Only the Colab rehearsal test sets it (tests/test_colab_rehearsal.py).
COLAB_DIR_ENV = "VNA_COLAB_DIR"


def install_cell(repo: str, ref: str | None):
    """The notebook cell that installs ``vna`` from ``repo`` on Colab (a no-op anywhere else)."""
    import nbformat

    fetch = (f'        subprocess.run(["git", "-C", home, "fetch", "--depth", "1", "origin", "{ref}"], check=True)\n'
             '        subprocess.run(["git", "-C", home, "checkout", "FETCH_HEAD"], check=True)\n') if ref else ""
    source = (
        "# On Google Colab: a copy of the repository (its published results/ included) with vna installed from\n"
        "# it; anywhere else this cell does nothing. The data are downloaded on first use (pinned files, SHA-256\n"
        "# checked); Runtime > Change runtime type > GPU makes training faster (device=\"auto\" uses it).\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import os\n"
        "    import subprocess\n"
        "\n"
        f'    home = os.path.join(os.environ.get("{COLAB_DIR_ENV}", "/content"), "vna")\n'
        "    if not os.path.isdir(home):\n"
        f'        subprocess.run(["git", "clone", "--depth", "1", "https://github.com/{repo}", home], check=True)\n'
        f"{fetch}"
        "    # vna without its dependencies, then the ones missing -- never torch when there is one: pip would\n"
        "    # replace Colab's CUDA build of torch with another download of gigabytes\n"
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", home], check=True)\n'
        "    import importlib.metadata, importlib.util, re\n"
        "\n"
        "    have_torch = importlib.util.find_spec(\"torch\") is not None\n"
        f'    needs = [r for r in importlib.metadata.requires("{DISTRIBUTION}") or [] if "extra ==" not in r\n'
        '             and not (have_torch and re.match(r"torch\\b(?![-_.])", r))]\n'
        "    if needs:  # pip leaves those already satisfied as they are\n"
        '        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *needs], check=True)\n'
        "    if have_torch:  # pip may say that vna asks for a newer torch: vna runs on the one Colab has\n"
        '        print(f"vna installed; this runtime\'s torch {importlib.metadata.version(\'torch\')} is kept")\n'
        "    sys.path.insert(0, home)\n"
        '    os.chdir(os.path.join(home, "notebooks"))\n'
    )
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["remove-cell", INSTALL_TAG]
    cell.id = INSTALL_TAG
    return cell


def colab_notebook(src: Path, repo: str | None, ref: str | None):
    """The executed notebook ``src`` as Colab should open it: the install cell first (when ``repo``)."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    nb.cells = [c for c in nb.cells if INSTALL_TAG not in c.get("metadata", {}).get("tags", [])]
    if repo:
        nb.cells.insert(0, install_cell(repo, ref))
        nb.metadata["accelerator"] = "GPU"  # Colab opens it with a GPU runtime when one is free
        nb.metadata.setdefault("colab", {})["provenance"] = []
    nbformat.validate(nb)
    return nb


def built_repositories(html: Path) -> set[str]:
    """The repositories the Colab buttons of the built HTML name."""
    pattern = re.compile(re.escape(COLAB_URL) + r"/github/([^/\"']+/[^/\"']+)/blob/")
    found = set()
    for page in html.rglob("*.html"):
        found.update(pattern.findall(page.read_text(errors="replace")))
    return found


def chapter_notebooks(html: Path, notebooks: Path) -> list[tuple[Path, str]]:
    """``(executed notebook, its path in the tree)`` for every chapter page rendered from a notebook."""
    pairs = []
    for nb in sorted(notebooks.glob("*.ipynb")):
        rel = nb.relative_to(REPO).as_posix() if nb.is_relative_to(REPO) else f"book/notebooks/{nb.name}"
        if (html / rel).with_suffix(".html").is_file():
            pairs.append((nb, rel))
    return pairs


def publish(out: Path, html: Path, notebooks: Path) -> dict:
    """Write the published tree to ``out`` (see the module docstring); returns a summary."""
    import nbformat

    if not (html / "index.html").is_file():
        raise SystemExit(f"no built book at {html}; run `make book` first")
    repo, branch, ref = repository(), pages_branch(), install_ref()
    built = built_repositories(html)
    if built and built != {repo}:
        raise SystemExit(f"the HTML's Colab buttons name {sorted(built)} but {REPOSITORY_ENV}={repo or '(unset)'}; "
                         f"rebuild the book with the same {REPOSITORY_ENV} (make book)")
    out = out.expanduser().resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise SystemExit(f"{out} exists and is not an earlier published tree (no {MARKER}); choose another DIR")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tree = tmp / "site"
        shutil.copytree(html, tree)
        (tree / ".nojekyll").write_text("")
        pairs = chapter_notebooks(html, notebooks)
        links = {}
        for src, rel in pairs:
            dest = tree / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(colab_notebook(src, repo, ref), dest)
            if repo:
                links[rel] = colab_link(repo, branch, rel)
        summary = {"repository": repo, "branch": branch, "ref": ref, "notebooks": [rel for _, rel in pairs],
                   "colab": links}
        (tree / MARKER).write_text(json.dumps(summary, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        tree.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="where the published tree goes (replaced when it is an earlier one)")
    ap.add_argument("--html", default=str(REPO / "_build" / "html"), help="the built book (default _build/html)")
    ap.add_argument("--notebooks", default=str(REPO / "book" / "notebooks"),
                    help="the executed notebooks (default book/notebooks)")
    args = ap.parse_args(argv)
    try:
        summary = publish(Path(args.dir), Path(args.html), Path(args.notebooks))
    except ValueError as exc:  # a malformed VNA_REPOSITORY / VNA_PAGES_BRANCH / VNA_REPOSITORY_REF
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n = len(summary["notebooks"])
    where = (f"Colab buttons open them from {summary['repository']}@{summary['branch']}" if summary["repository"]
             else f"no Colab buttons ({REPOSITORY_ENV} is unset)")
    print(f"published {args.dir}: the book and {n} notebook(s) beside their pages; {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
