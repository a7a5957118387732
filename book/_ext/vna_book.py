"""Sphinx glue for the vna book (local extension named in _config.yml).

* **Repository and Colab buttons from one place.** ``VNA_REPOSITORY=owner/name`` (a GitHub repository) in
  the environment of the build sets Jupyter Book's ``repository.url`` / ``branch`` / ``path_to_book`` and
  ``launch_buttons.colab_url``, so that every notebook page shows Jupyter Book's own "Open in Colab"
  button; without it there is no repository and no button. Nothing about the repository is written in
  ``_config.yml``. The button opens ``book/notebooks/<chapter>.ipynb`` on the branch
  ``VNA_PAGES_BRANCH`` (default ``gh-pages``): the published tree that ``make publish DIR=...``
  (``book/_ext/publish.py``) writes, with each chapter's notebook beside its page.
* Drops duplicated ``<script>`` entries: under Jupyter Book 1 the inline scripts of sphinx-thebe and
  sphinx-togglebutton end up in every page twice (once with ``filename=None``, once with ``""``), and the
  second ``const THEBE_JS_URL`` is a JavaScript error.
"""
from __future__ import annotations

import os
import re

#: The environment variables that say where the book is published (read at build and publish time).
REPOSITORY_ENV = "VNA_REPOSITORY"
BRANCH_ENV = "VNA_PAGES_BRANCH"
REF_ENV = "VNA_REPOSITORY_REF"
DEFAULT_BRANCH = "gh-pages"
COLAB_URL = "https://colab.research.google.com"
_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_REF = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")


def repository() -> str | None:
    """``owner/name`` from ``$VNA_REPOSITORY`` (``None`` when unset or empty); ValueError when malformed.
    A full ``https://github.com/owner/name(.git)`` is accepted too."""
    value = os.environ.get(REPOSITORY_ENV, "").strip()
    if not value:
        return None
    value = re.sub(r"^(https?://)?github\.com/", "", value).removesuffix(".git").strip("/")
    if not _REPO.match(value) or value.endswith((".", "-")) or ".." in value:
        raise ValueError(f"{REPOSITORY_ENV} must be a GitHub repository 'owner/name'; got "
                         f"{os.environ[REPOSITORY_ENV]!r}")
    return value


def pages_branch() -> str:
    """The branch that holds the published tree (``$VNA_PAGES_BRANCH``, default ``gh-pages``)."""
    value = os.environ.get(BRANCH_ENV, "").strip() or DEFAULT_BRANCH
    if not _REF.match(value) or ".." in value:
        raise ValueError(f"{BRANCH_ENV} must be a branch name; got {value!r}")
    return value


def install_ref() -> str | None:
    """The commit or branch the Colab notebooks install ``vna`` from (``$VNA_REPOSITORY_REF``; ``None``: the
    repository's default branch)."""
    value = os.environ.get(REF_ENV, "").strip()
    if not value:
        return None
    if not _REF.match(value) or ".." in value:
        raise ValueError(f"{REF_ENV} must be a commit or branch name; got {value!r}")
    return value


def colab_link(repo: str, branch: str, path: str) -> str:
    """The address Jupyter Book's Colab button uses for ``path`` (relative to the published tree)."""
    return f"{COLAB_URL}/github/{repo}/blob/{branch}/{path}"


def _configure_repository(app, config) -> None:
    from sphinx.errors import ConfigError

    try:
        repo = repository()
        branch = pages_branch()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    options = dict(config.html_theme_options or {})
    launch = dict(options.get("launch_buttons") or {})
    if repo:
        options["repository_url"] = f"https://github.com/{repo}"
        options["repository_branch"] = branch
        options["path_to_docs"] = ""  # the published tree: pages and their notebooks at the same paths
        launch["colab_url"] = COLAB_URL
    else:  # no repository: no launch button, and no stray default repository either
        for key in ("repository_url", "repository_branch", "path_to_docs"):
            options.pop(key, None)
        launch["colab_url"] = ""
    options["launch_buttons"] = launch
    config.html_theme_options = options


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    files = context.get("script_files")
    if not files:
        return
    seen, keep = set(), []
    for js in files:
        attrs = getattr(js, "attributes", {}) or {}
        key = (str(getattr(js, "filename", js) or ""), tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key not in seen:
            seen.add(key)
            keep.append(js)
    files[:] = keep


def setup(app):
    app.connect("config-inited", _configure_repository)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
