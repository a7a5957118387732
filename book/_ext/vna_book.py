"""Sphinx glue for the vna book (local extension named in _config.yml).

* Drops duplicated ``<script>`` entries: under Jupyter Book 1 the inline scripts of sphinx-thebe and
  sphinx-togglebutton end up in every page twice (once with ``filename=None``, once with ``""``), and the
  second ``const THEBE_JS_URL`` is a JavaScript error.
"""
from __future__ import annotations


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
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
