"""The book's sources: configuration, table of contents, citations and the numbers written in prose."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from vna.results import PAPER_TABLE1, paper_average_check

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "_config.yml").read_text())
TOC = yaml.safe_load((REPO / "_toc.yml").read_text())


def _toc_files() -> list[str]:
    files = [TOC["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("sections"))

    for part in TOC.get("parts", []):
        walk(part.get("chapters"))
    return files


def test_config_renders_without_executing_or_network():
    assert CONFIG["execute"]["execute_notebooks"] == "off"
    assert CONFIG["only_build_toc_files"] is True
    assert "sphinx-mathjax-offline" in CONFIG["sphinx"]["extra_extensions"]
    assert CONFIG["bibtex_bibfiles"] == ["references.bib"]
    for pattern in (".venv", "notebooks", "_build"):
        assert pattern in CONFIG["exclude_patterns"]


def test_every_toc_entry_has_a_source():
    files = _toc_files()
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
    from vna.config import RunConfig

    text = (REPO / "book" / "limitations.md").read_text()
    grid = int(re.search(r"^\| epochs \| (\d+) for the result grid, `epochs=(\d+)`", text, re.M).group(1))
    assert grid == RunConfig().epochs
    chapters = {int(re.search(r"^epochs = (\d+)", (REPO / "notebooks" / f"{n}.py").read_text(), re.M).group(1))
                for n in ("02_direct_encoding", "03_direct_decoding", "04_vna")}
    assert chapters == {int(re.search(r"; (\d+) in the method chapters", text).group(1))}
    for name, value in (("latent_dim", 128), ("batch_size", 64), ("lr", 1e-3), ("temperature", 0.07),
                        ("test_fraction", 0.15), ("image_size", 64)):
        assert getattr(RunConfig(), name) == value, f"limitations.md states {name}={value}"
