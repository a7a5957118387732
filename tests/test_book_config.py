"""The book's sources: configuration, table of contents, citations and the numbers written in prose."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from book_toc import toc_files
from vna.study.tables import PAPER_TABLE1, paper_average_check

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "_config.yml").read_text())
TOC = yaml.safe_load((REPO / "_toc.yml").read_text())




def test_config_renders_without_executing_or_network():
    assert CONFIG["execute"]["execute_notebooks"] == "off"
    assert CONFIG["only_build_toc_files"] is True
    assert "sphinx-mathjax-offline" in CONFIG["sphinx"]["extra_extensions"]
    assert CONFIG["bibtex_bibfiles"] == ["references.bib"]
    for pattern in (".venv", "notebooks", "_build"):
        assert pattern in CONFIG["exclude_patterns"]


def test_every_toc_entry_has_a_source():
    files = toc_files()
    assert len(files) == len(set(files))
    for f in files:
        if f.startswith("book/notebooks/"):
            # executed by scripts/run_notebooks.py from notebooks/<name>.py
            assert (REPO / "notebooks" / f"{Path(f).name}.py").is_file(), f
        else:
            assert (REPO / f"{f}.md").is_file(), f
    for name in ("01_data", "02_direct_encoding", "03_direct_decoding", "04_vna", "05_results"):
        assert f"book/notebooks/{name}" in files
    for chapter in ("intro", "datasets", "paper_datasets", "limitations", "reproducing", "references"):
        assert f"book/{chapter}" in files


def test_paper_datasets_sit_in_the_datasets_part():
    part = next(p for p in TOC["parts"] if p["caption"] == "Datasets")
    datasets = next(c for c in part["chapters"] if c["file"] == "book/datasets")
    assert {"file": "book/paper_datasets"} in datasets["sections"]


def test_every_citation_is_in_the_bibliography():
    bib = (REPO / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    assert {"gao2025vna", "radford2021clip", "huang2023deep", "siegle2021survey", "chang2021explaining",
            "majaj2015simple", "cowley2023compact", "devries2020large", "antolik2016model"} <= keys
    sources = list((REPO / "book").glob("*.md")) + list((REPO / "notebooks").glob("*.py"))
    cited = set()
    for path in sources:
        for group in re.findall(r"\{cite(?::[pt])?\}`([^`]+)`", path.read_text()):
            cited.update(k.strip() for k in group.split(","))
    assert cited, "no citation found"
    assert not cited - keys, f"cited but not in references.bib: {sorted(cited - keys)}"


def test_limitations_table_matches_the_computed_check():
    text = (REPO / "book" / "limitations.md").read_text()
    check = paper_average_check()
    labels = {"vna": "VNA", "direct_encoder": "Direct Encoding", "direct_decoder": "Direct Decoding"}
    for _, r in check.iterrows():
        row = re.search(rf"^\| {r.paper_dataset} \| {labels[r.method]} \|(.+)\|$", text, re.M)
        assert row, f"no row for {r.paper_dataset} {r.method}"
        cells = [c.strip().replace("−", "-") for c in row.group(1).split("|")]
        enc, dec, printed, mean, diff, w = (float(c) for c in cells)
        assert (enc, dec, printed) == (r.encoding_auc, r.decoding_auc, r.average_auc)
        assert mean == pytest.approx(r.mean_of_columns, abs=1e-9)
        assert diff == pytest.approx(r.difference, abs=1e-9)
        assert w == pytest.approx(r.implied_encoding_weight, abs=5e-4)
    assert (~check["consistent"]).sum() == 8
    assert len(PAPER_TABLE1) == 9


def test_generated_notebooks_stay_out_of_git():
    assert "*.ipynb" in (REPO / ".gitignore").read_text().split()


def test_prose_states_the_current_defaults():
    from vna.study.config import RunConfig

    from vna.study.grids import STUDY_TRAINING

    text = (REPO / "book" / "limitations.md").read_text()
    row = re.search(r"^\| epochs \| (.*)$", text, re.M).group(1)
    stated = re.search(r"at most (\d+) epochs, validation on (\d+) % of the \*training\* data, stop (\d+) epochs", row)
    assert stated, row
    assert (int(stated[1]), int(stated[2]) / 100, int(stated[3])) == (
        STUDY_TRAINING["epochs"], STUDY_TRAINING["val_fraction"], STUDY_TRAINING["patience"])
    assert f"`epochs={STUDY_TRAINING['epochs']}, val_fraction={STUDY_TRAINING['val_fraction']}, " \
           f"patience={STUDY_TRAINING['patience']}`" in row
    chapters = {int(re.search(r"^epochs = (\d+)", (REPO / "notebooks" / f"{n}.py").read_text(), re.M).group(1))
                for n in ("02_direct_encoding", "03_direct_decoding", "04_vna")}
    assert chapters == {int(re.search(r"a fixed (\d+) in the method chapters", row).group(1))}
    for name, value in (("latent_dim", 128), ("batch_size", 64), ("lr", 1e-3), ("temperature", 0.07),
                        ("test_fraction", 0.15), ("image_size", 64)):
        assert getattr(RunConfig(), name) == value, f"limitations.md states {name}={value}"


# ------------------------------------------------------------------------------ repository, Colab, publishing
import importlib.util  # noqa: E402
import sys  # noqa: E402
import types  # noqa: E402

EXT = REPO / "book" / "_ext"


def _ext(name: str):
    sys.path.insert(0, str(EXT))
    try:
        spec = importlib.util.spec_from_file_location(f"_test_{name}", EXT / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXT))


def test_no_repository_is_written_in_the_config():
    assert "repository" not in CONFIG  # it comes from $VNA_REPOSITORY at build time (book/_ext/vna_book.py)
    assert not CONFIG["launch_buttons"]["colab_url"] and not CONFIG["launch_buttons"]["binderhub_url"]
    assert CONFIG["sphinx"]["local_extensions"] == {"vna_book": "book/_ext"}
    assert "**/.*" in CONFIG["exclude_patterns"]  # a notebook being written (hidden temporary file) is not read
    assert "github.com" not in (REPO / "_config.yml").read_text()


def _configured(monkeypatch, env: dict):
    ext = _ext("vna_book")
    for key in (ext.REPOSITORY_ENV, ext.BRANCH_ENV):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = types.SimpleNamespace(html_theme_options={
        "launch_buttons": dict(CONFIG["launch_buttons"]),
        "repository_url": "https://github.com/executablebooks/jupyter-book",  # Jupyter Book's default
    })
    ext._configure_repository(None, config)
    return config.html_theme_options


def test_repository_sets_the_colab_button_from_the_environment(monkeypatch):
    opts = _configured(monkeypatch, {"VNA_REPOSITORY": "someone/vna"})
    assert opts["repository_url"] == "https://github.com/someone/vna"
    assert opts["repository_branch"] == "gh-pages" and opts["path_to_docs"] == ""
    assert opts["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    opts = _configured(monkeypatch, {"VNA_REPOSITORY": "https://github.com/someone/vna.git",
                                     "VNA_PAGES_BRANCH": "notebooks"})
    assert opts["repository_url"] == "https://github.com/someone/vna" and opts["repository_branch"] == "notebooks"


def test_no_repository_no_button_and_no_default_repository(monkeypatch):
    opts = _configured(monkeypatch, {})
    assert opts["launch_buttons"]["colab_url"] == "" and "repository_url" not in opts


@pytest.mark.parametrize("bad", ["vna", "a/b/c", "-x/y", "owner/..", "owner/na me"])
def test_a_malformed_repository_is_a_config_error(monkeypatch, bad):
    from sphinx.errors import ConfigError

    with pytest.raises(ConfigError, match="VNA_REPOSITORY"):
        _configured(monkeypatch, {"VNA_REPOSITORY": bad})


def test_colab_install_cell_runs_only_on_colab(monkeypatch):
    publish = _ext("publish")
    cell = publish.install_cell("someone/vna", "0123abc")
    assert 'if "google.colab" in sys.modules:' in cell.source
    assert '"https://github.com/someone/vna", home]' in cell.source and '"origin", "0123abc"' in cell.source
    assert "remove-cell" in cell.metadata["tags"]
    import subprocess

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(cell.source, "install", "exec"), {})  # noqa: S102 - our own cell
    assert calls == []  # not on Colab: nothing installed
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    import os

    monkeypatch.delenv("VNA_COLAB_DIR", raising=False)  # Colab's own folder: /content
    monkeypatch.setattr(os.path, "isdir", lambda p: False)
    monkeypatch.setattr(os, "chdir", lambda p: calls.append(("chdir", p)))
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(compile(cell.source, "install", "exec"), {})  # noqa: S102
    commands = [c[0] for c in calls if c[0] != "chdir"]
    assert commands[0][:5] == ["git", "clone", "--depth", "1", "https://github.com/someone/vna"]
    assert commands[1][-1] == "0123abc" and commands[2][-2] == "checkout"  # the published commit
    assert commands[3][-3:] == ["--no-deps", "-e", "/content/vna"] and ("chdir", "/content/vna/notebooks") in calls
    # then the dependencies pyproject.toml declares, without torch (this Python has one: it is kept)
    core = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert commands[4][-len(core) + 1:] == [r for r in core if not r.startswith("torch")]
    assert len(commands) == 5


#: What the API page must list (the issue that asked for it named these).
API_NAMES = ("vna.VNA", "vna.fit", "vna.evaluate", "vna.metrics.discriminative_auc", "vna.data.load",
             "vna.data.from_folder")


def test_the_api_reference_documents_what_a_reader_calls():
    import importlib

    assert {"sphinx.ext.autodoc", "sphinx.ext.napoleon"} <= set(CONFIG["sphinx"]["extra_extensions"])
    assert "book/api" in toc_files()
    documented = re.findall(r"^\.\. auto(?:class|function):: (\S+)", (REPO / "book" / "api.md").read_text(), re.M)
    assert set(API_NAMES) <= set(documented)
    for name in documented:  # each importable under the name shown, with a docstring to show
        module, _, attr = name.rpartition(".")
        assert getattr(importlib.import_module(module), attr).__doc__, name


def test_make_publish_and_the_deploy_workflow():
    make = (REPO / "Makefile").read_text()
    assert re.search(r"^publish:", make, re.M) and "book/_ext/publish.py" in make
    flow = yaml.safe_load((REPO / ".github" / "workflows" / "book.yml").read_text())
    text = (REPO / ".github" / "workflows" / "book.yml").read_text()
    assert "make book" in text and "make publish DIR=" in text
    assert "VNA_REPOSITORY: ${{ github.repository }}" in text
    assert "gh-pages" in text
    assert flow["jobs"], "no job in the workflow"
