"""Every number the book's prose states about the records is computed when the book is built, never typed.

* The pages that report results (the first page, the limitations chapter, and the markdown cells of the results,
  analyses and sessions chapters) hold no typed result number: each is pasted ({glue:text}) from the results
  chapter or written by a computed cell. The few typed numbers left are definitions checked against the code.
* Every pasted key exists: the results chapter glues it.
* The pasted values equal an independent computation from the published records (by hand here, with pandas and
  scipy, not through vna.study.findings).
* In the built book (``make book``), the first page and the limitations chapter show exactly those values.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import jupytext
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from book_toc import built_book
from vna.study import findings
from vna.study.config import RunConfig
from vna.study.store import load_records, published_dir, read_record
from vna.study.tables import PAPER_TABLE1
from vna.study.stats import EQUIVALENCE_MARGIN

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "book" / "intro.md", REPO / "book" / "limitations.md"]
CHAPTERS = [REPO / "notebooks" / f"{name}.py" for name in ("05_results", "06_analyses", "08_sessions")]
#: A result-like number: a decimal with two or more digits after the point, or "k of n".
NUMBER = re.compile(r"(?<![\w.\d])[−+-]?\d*\.\d{2,}\b|\b\d+ of \d+\b")
#: Typed numbers that are definitions, each checked against the code it names.
DEFINITIONS = {
    "1.25": lambda: math.isclose(math.log(1.25), EQUIVALENCE_MARGIN),  # "±log 1.25", the equivalence margin
    "0.07": lambda: RunConfig.temperature == 0.07,  # CLIP's initial temperature
}
GLUE = re.compile(r"\{glue:(?:text|any)\}`([^`:]+)::([^`:]+)(?::[^`]*)?`|:doc: (\S+)\n|```\{glue:any\} (\S+)")


def _prose(path: Path) -> list[str]:
    """The prose lines of a page or of a chapter's markdown cells (tables of the paper's own Table 1 aside: they
    are compared with the code by test_book_config.py)."""
    if path.suffix == ".md":
        lines = path.read_text(encoding="utf-8").splitlines()
    else:
        lines = [line for cell in jupytext.read(path).cells if cell.cell_type == "markdown"
                 for line in cell.source.splitlines()]
    paper_table = re.compile(r"^\| (Mouse-movie|Macaque-face|Macaque-synthetic) \|")
    return [line for line in lines if not paper_table.match(line)]


@pytest.mark.parametrize("path", PAGES + CHAPTERS, ids=lambda p: p.name)
def test_no_typed_result_number_in_the_prose(path):
    typed = []
    for line in _prose(path):
        for number in NUMBER.findall(line):
            if number in DEFINITIONS and DEFINITIONS[number]():
                continue
            typed.append(f"{number!r} in: {line.strip()[:120]}")
    assert not typed, f"{path.name} types numbers a computed cell or a glued value should give:\n" + "\n".join(typed)


def _glued_keys(notebook: Path) -> set[str]:
    """The keys a chapter glues: literal ``glue("key", ...)`` calls, and the keys of the findings it loops over."""
    text = notebook.read_text(encoding="utf-8")
    keys = set(re.findall(r"glue\(\"([\w]+)\"", text))
    if 'glue(f"finding_{key}"' in text:
        keys |= {f"finding_{k}" for k in ("C1", "C2", "C3", "variability")}
    if 'glue(f"paper_average_{key}"' in text:
        keys |= {f"paper_average_{k}" for k in findings.paper_average_sentences()}
    return keys


def test_every_pasted_value_is_glued_by_its_chapter():
    used = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for doc, key, doc_option, any_key in GLUE.findall(text):
            if doc:
                used.append((page.name, doc, key))
        for key, doc in re.findall(r"```\{glue:any\} (\S+)\n:doc: (\S+)", text):
            used.append((page.name, doc, key))
    assert {("intro.md", "notebooks/05_results.ipynb", f"finding_{k}") for k in ("C1", "C2", "C3", "variability")} \
        <= set(used)
    assert ("intro.md", "notebooks/05_results.ipynb", "findings_figure") in used
    for page, doc, key in used:
        source = REPO / "notebooks" / f"{Path(doc).stem}.py"
        assert key in _glued_keys(source), f"{page} pastes {doc}::{key}, which {source.name} does not glue"


# ------------------------------------------------------------------------ values against the records, by hand
@pytest.fixture(scope="module")
def published():
    path = published_dir()
    if path is None:
        pytest.skip("no published results/ (vna is not run from a checkout)")
    return path


@pytest.fixture(scope="module")
def report(published):
    from vna.study.grids import study_grid
    from vna.study.report import build_report

    return build_report(published, study_grid(), n_boot=20)


def _hand_interval(d: np.ndarray, ratio: float) -> tuple[float, float, float]:
    half = sps.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) * math.sqrt(1 / len(d) + ratio)
    return d.mean(), d.mean() - half, d.mean() + half


def _fmt(mean, low, high) -> str:
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"


def _logit(p):
    return np.log(p) - np.log1p(-p)


@pytest.fixture(scope="module")
def study(published):
    from vna.study.analyses import grid_records
    from vna.study.grids import study_grid

    return grid_records(load_records(published, score=None), study_grid())  # every rule: column score


@pytest.mark.slow
def test_the_first_page_paragraphs_equal_the_records(published, report, study):
    rec = load_records(published)
    cells = study[(study["dataset"] == "cowley2023-v4") & (study["split"] == "images")
                  & (study["test_responses"] == "trials")]
    sizes = read_record(cells["path"].iloc[0]).sizes
    ratio = sizes["test_images"] / sizes["train_images"]
    paragraphs = report.what_we_found
    for rule in ("paper", "cosine", "centred"):
        cell = cells[cells["score"] == rule]
        vna = cell[cell["method"] == "vna"].set_index("seed")["mean_auc"].sort_index()
        de = cell[cell["method"] == "direct_encoder"].set_index("seed")["mean_auc"].sort_index()
        assert len(vna) == len(de) == 5
        shown = _fmt(*_hand_interval((vna - de).to_numpy(), ratio))
        _, lo, hi = _hand_interval((_logit(vna) - _logit(de)).to_numpy(), ratio)
        word = "no difference" if -EQUIVALENCE_MARGIN < lo and hi < EQUIVALENCE_MARGIN else ""
        said = paragraphs["C1"].split(shown)
        assert len(said) == 2, f"C1 does not state VNA − DE {shown} under the {rule} rule"
        if word:  # the verdict named right after the interval
            assert re.split(r"; |\. ", said[1])[0].endswith(f"{word} (equivalent within ±{EQUIVALENCE_MARGIN:.2f} logit)")
    # sessions: seed means per session, then a t-interval over the seven V4 sessions (held-out images on means)
    from vna.study.analyses import grid_records
    from vna.study.sessions import sessions_grid

    ses = grid_records(rec, sessions_grid())
    ses = ses[(ses["dataset"] == "cowley2023-v4") & (ses["split"] == "images") & (ses["responses"] == "mean")
              & (ses["test_responses"] == "mean")]
    options = [str(read_record(p).config.dataset_options) for p in ses["path"]]
    ses = ses.assign(session=options)
    means = ses.pivot_table(index="session", columns="method", values="mean_auc", aggfunc="mean")
    d = (means["vna"] - means["direct_encoder"]).to_numpy()
    assert len(d) == 7
    assert f"{_fmt(*_hand_interval(d, 0.0))} under the paper's rule" in paragraphs["C1"]


@pytest.mark.slow
def test_the_limitations_sentences_equal_the_records(published, report, study):
    from vna.study.analyses import grid_records
    from vna.study.controls import filter_grid

    vna = study[(study["dataset"] == "cowley2023-v4") & (study["method"] == "vna")
                & (study["test_responses"] == "trials") & (study["score"] == "paper")]
    shift = vna[vna["split"] == "trials"]["mean_auc"].mean() - vna[vna["split"] == "images"]["mean_auc"].mean()
    assert f"rises by {shift:.3f} from held-out images" in findings.protocol_spread(report.table)["sentence"]
    # the reliability filter: filtered minus unfiltered seed means, every rule, held-out images with single trials
    filt = grid_records(load_records(published, score=None), filter_grid())
    base = study[(study["split"] == "images") & (study["test_responses"] == "trials")]
    on = filt.groupby(["score", "dataset", "method"])["mean_auc"].mean()
    off = base.groupby(["score", "dataset", "method"])["mean_auc"].mean()
    drops = list((on - off.reindex(on.index)).dropna())
    paper = lambda f: f[f["score"] == "paper"]  # noqa: E731 - one row per record
    sentence = findings.filter_sentence(report.filtered, paper(filt), paper(study))
    assert f"in {sum(d < 0 for d in drops)} of {len(drops)} rows" in sentence
    assert f"by at most {-min(drops):.3f}" in sentence
    kept = [read_record(p).sizes["neurons"] for p in paper(filt)[paper(filt)["dataset"] == "cowley2023-v4"]["path"]]
    assert f"{min(kept)}-{max(kept)} of 50 cowley2023-v4 neurons" in sentence
    # the paper's Table 1: its printed average against the mean of its two columns, straight from the table
    p = PAPER_TABLE1.assign(mean=lambda t: (t["encoding_auc"] + t["decoding_auc"]) / 2)
    off = (p["average_auc"] - p["mean"]).round(6)
    sentences = findings.paper_average_sentences()
    assert sentences["consistent"].startswith(f"Only {int((off == 0).sum())} of the {len(p)} ")
    assert f"by up to {off.abs().max():.3f}" in sentences["consistent"]
    face = p[p["paper_dataset"] == "Macaque-face"]
    w = (face["average_auc"] - face["decoding_auc"]) / (face["encoding_auc"] - face["decoding_auc"])
    assert sentences["weights"].endswith(", ".join(f"{x:.2f}" for x in w.iloc[:-1]) + f" and {w.iloc[-1]:.2f}")


# ------------------------------------------------------------------------------------------ the built book
@pytest.mark.book
def test_the_built_pages_show_the_values_of_the_records(report):
    from bs4 import BeautifulSoup

    html = built_book()
    intro = BeautifulSoup((html / "book" / "intro.html").read_text(encoding="utf-8"), "html.parser")
    pasted = [span.get_text() for span in intro.select("span.pasted-text")]
    assert pasted == [report.what_we_found[k] for k in ("C1", "C2", "C3", "variability")]
    main = intro.select_one("main") or intro
    assert main.get_text().find("What we found") < main.get_text().find("The problem")
    assert intro.select("main img"), "the first page shows no figure"
    limits = BeautifulSoup((html / "book" / "limitations.html").read_text(encoding="utf-8"), "html.parser")
    shown = [span.get_text() for span in limits.select("span.pasted-text")]
    expected = [findings.protocol_spread(report.table)["sentence"]]
    assert shown[0] == expected[0]
    assert len(shown) == 5 and all(s and "nan" not in s for s in shown)
    sentences = findings.paper_average_sentences()
    assert shown[-2:] == [sentences["consistent"], sentences["weights"]]
