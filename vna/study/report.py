"""The study's tables from records alone, without training: ``python -m vna report``, the results chapter
and the README table all call :func:`build_report`, so the three can never disagree.

Tables (and the CSV files ``--csv DIR`` writes):

* ``results.csv`` -- one row per dataset × method × protocol: dataset, method, split, test_responses,
  protocol, n_seeds, seeds, encoding_auc, encoding_auc_ci, decoding_auc, decoding_auc_ci, mean_auc,
  mean_auc_ci (means over seeds and 95 % t-interval half-widths), best_epoch (mean early-stopping epoch),
  paper_dataset, paper_encoding_auc, paper_decoding_auc, paper_average_auc (Table 1 of the paper for the
  dataset ours stands in for; empty otherwise);
* ``comparisons.csv`` -- :func:`vna.stats.comparisons`: dataset, split, test_responses, protocol, method,
  baseline, task, n_seeds, mean_diff, ci_low, ci_high, t_p, wilcoxon_p, boot_low, boot_high;
* ``verdicts.csv`` -- :func:`vna.stats.verdicts`: claim, claim_text, dataset, split, test_responses,
  protocol, verdict, evidence;
* ``closest.csv`` -- :func:`vna.stats.closest_protocols`: dataset, paper_dataset, protocol, split,
  test_responses, distance, closest;
* with ``--analyses``, ``analysis_<name>.csv`` per analysis (:func:`vna.analyses.analysis_tables`): dataset,
  method, test_responses, the swept setting(s), n_seeds, mean, ci (and decoding_top1/top5 for distractors,
  reliability for noise).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from .analyses import analysis_tables
from .config import RunConfig
from .registry import get_grid, grid_names
from .results import (
    PAPER_STAND_INS,
    PAPER_TABLE1,
    _atomic_write_text,
    format_table,
    load_records,
    protocol_label,
    select_groups,
    signature,
    summarize,
)
from .stats import closest_protocols, comparisons, verdicts

__all__ = ["Report", "build_report", "results_csv_table", "to_markdown", "write_csv", "readme_markdown",
           "CSV_FILES", "README_START", "README_END", "update_readme"]

README_START = "<!-- results: written by `python -m vna report --readme` from results/; do not edit by hand -->"
README_END = "<!-- end of results -->"

CSV_FILES = ("results.csv", "comparisons.csv", "verdicts.csv", "closest.csv")


@dataclass
class Report:
    """The study's tables and (when asked) the analyses' (:func:`vna.analyses.analysis_tables`)."""

    records: pd.DataFrame  # the records shown (one configuration per dataset x method x protocol)
    table: pd.DataFrame  # summarize + select_groups
    comparisons: pd.DataFrame
    verdicts: pd.DataFrame
    closest: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    ignored: int = 0  # records of configurations outside the grid
    missing: int = 0  # records the grid names that are not there
    analyses: dict = field(default_factory=dict)  # name -> table (analysis_<name>.csv)


def build_report(results_dir: str | os.PathLike, grid: Sequence[RunConfig] | None = None, *,
                 n_boot: int = 2000, analyses: bool = False, quick: bool = False) -> Report:
    """Read ``results_dir`` and compute every table; with ``grid`` only its configurations are shown; with
    ``analyses`` the analyses' tables too (``quick``: their smoke-test configurations)."""
    path = Path(results_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"no results folder at {path}")
    records = load_records(path)
    tables = {}
    if analyses:
        tables = analysis_tables(records, quick=quick)
    notes: list[str] = []
    ignored = missing = 0
    if grid is not None:
        wanted = {signature(c) for c in grid}
        inside = records["signature"].isin(wanted)
        ignored = int((~inside).sum())
        other = records[~inside]
        records = records[inside]
        have = set(zip(records["signature"], records["seed"]))
        missing = sum((signature(c), c.seed) not in have for c in grid)
        if ignored:
            known = set()
            for name in grid_names():
                known |= {signature(c) for c in get_grid(name)()}
            known -= wanted
            of_grids = int(other["signature"].isin(known).sum())
            if of_grids:
                notes.append(f"{of_grids} record(s) in {path.name}/ belong to the other grids (the analyses) and are "
                             "not shown here")
            if ignored - of_grids:
                notes.append(f"{ignored - of_grids} record(s) in {path.name}/ belong to no grid definition and are "
                             "not shown")
        if missing:
            notes.append(f"{missing} run(s) of the grid have no record yet")
    table, more = select_groups(summarize(records), grid)
    notes += more
    records = records[records["group"].isin(set(table["group"]))] if len(table) else records.iloc[:0]
    comps = comparisons(records, n_boot=n_boot)
    return Report(records, table, comps, verdicts(comps), closest_protocols(table, PAPER_TABLE1), notes, ignored,
                  missing, tables)


def results_csv_table(table: pd.DataFrame) -> pd.DataFrame:
    """``results.csv``: the table's numbers with the paper's Table 1 beside them (module docstring)."""
    cols = ["dataset", "method", "split", "test_responses", "protocol", "n_seeds", "seeds", "encoding_auc",
            "encoding_auc_ci", "decoding_auc", "decoding_auc_ci", "mean_auc", "mean_auc_ci", "best_epoch"]
    out = table[cols].copy() if len(table) else pd.DataFrame(columns=cols)
    paper = PAPER_TABLE1.set_index(["paper_dataset", "method"])
    pd_name, enc, dec, avg = [], [], [], []
    for _, r in out.iterrows():
        name = PAPER_STAND_INS.get(r["dataset"])
        hit = paper.loc[(name, r["method"])] if name and (name, r["method"]) in paper.index else None
        pd_name.append(name if hit is not None else None)
        enc.append(None if hit is None else hit["encoding_auc"])
        dec.append(None if hit is None else hit["decoding_auc"])
        avg.append(None if hit is None else hit["average_auc"])
    return out.assign(paper_dataset=pd_name, paper_encoding_auc=enc, paper_decoding_auc=dec, paper_average_auc=avg)


def _md(df: pd.DataFrame, floatfmt: str = ".4f") -> str:
    if df.empty:
        return "(none)\n"
    return df.to_markdown(index=False, floatfmt=floatfmt) + "\n"


def to_markdown(report: Report) -> str:
    """The three tables (and the closest-protocol table) as Markdown."""
    parts = ["## Results (mean ± 95 % t-interval over seeds)\n", _md(format_table(report.table))]
    c = report.comparisons.copy()
    if len(c):
        c["comparison"] = c["method"].map(_label) + " − " + c["baseline"].map(_label)
        c["protocol"] = [protocol_label(s, t) for s, t in zip(c["split"], c["test_responses"])]
        c = c[["dataset", "protocol", "comparison", "task", "n_seeds", "mean_diff", "ci_low", "ci_high", "t_p",
               "wilcoxon_p", "boot_low", "boot_high"]]
    parts += ["\n## Paired comparisons (VNA − baseline; 95 % t-interval over seeds, hierarchical bootstrap)\n",
              _md(c, ".3f")]
    v = report.verdicts.copy()
    if len(v):
        v["protocol"] = [protocol_label(s, t) for s, t in zip(v["split"], v["test_responses"])]
        v = v[["claim", "dataset", "protocol", "verdict", "evidence"]]
    parts += ["\n## Verdicts on the paper's claims\n", _md(v)]
    cl = report.closest[report.closest["closest"]] if len(report.closest) else report.closest
    if len(cl):
        cl = cl.assign(protocol=[protocol_label(s, t) for s, t in zip(cl["split"], cl["test_responses"])])[
            ["paper_dataset", "dataset", "protocol", "distance"]].sort_values(["paper_dataset", "dataset"])
    parts += ["\n## Closest protocol to each paper row block (mean |AUC difference| over six numbers)\n",
              _md(cl, ".3f")]
    for name, table in report.analyses.items():
        parts += [f"\n## Analysis: {name} (average AUC, mean and 95 % interval over seeds)\n", _md(table, ".4f")]
    if report.notes:
        parts += ["\n" + "\n".join(f"- {n}" for n in report.notes) + "\n"]
    return "\n".join(parts)


def _label(method: str) -> str:
    return {"vna": "VNA", "direct_encoder": "DE", "direct_decoder": "DD"}.get(method, method)


def write_csv(report: Report, folder: str | os.PathLike) -> list[Path]:
    """Write the four CSV files (module docstring) into ``folder``, each atomically."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--csv {folder} is a file, not a folder")
    frames = {"results.csv": results_csv_table(report.table), "comparisons.csv": report.comparisons,
              "verdicts.csv": report.verdicts, "closest.csv": report.closest}
    frames.update({f"analysis_{name}.csv": table for name, table in report.analyses.items()})
    out = []
    for name, frame in frames.items():
        path = folder / name
        _atomic_write_text(path, frame.to_csv(index=False))
        out.append(path)
    return out


def readme_markdown(report: Report) -> str:
    """The README's result block: the held-out protocols with single-trial test responses (mean ± 95 %
    interval over seeds, the paper's row beside it) and the verdict on each claim, from the same
    functions as the results chapter and ``python -m vna report``."""
    t = report.table
    main = t[(t["split"].isin(["images", "trials"])) & (t["test_responses"] == "trials")]
    if main.empty:
        return "(no records of the study grid yet: python -m vna reproduce --publish)\n"
    shown = format_table(main)
    seeds = sorted(set(main["n_seeds"]))
    lines = [f"Mean ± 95 % t-interval over {'/'.join(map(str, seeds))} seeds (single-trial test responses; "
             "every protocol, trial means and the in-sample diagnostic are in the book's results chapter):", "",
             shown.to_markdown(index=False), ""]
    v = report.verdicts
    if len(v):
        v = v[v["test_responses"] == "trials"]
        wide = v.assign(protocol=[protocol_label(a, b) for a, b in zip(v["split"], v["test_responses"])]).pivot_table(
            index=["dataset", "protocol"], columns="claim", values="verdict", aggfunc="first").reset_index()
        lines += ["Verdicts on the paper's claims (C1: VNA has the best average AUC; C2: VNA beats direct decoding "
                  "on both tasks and direct encoding on encoding; C3: direct encoding's decoding is within 0.02 of "
                  "VNA's or above; rule: the 95 % interval of the paired difference over seeds):", "",
                  wide.to_markdown(index=False), ""]
    return "\n".join(lines)


def update_readme(report: Report, readme: str | os.PathLike) -> Path:
    """Replace the results block of ``readme`` (between :data:`README_START` and :data:`README_END`) with
    :func:`readme_markdown`, atomically."""
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    if text.count(README_START) != 1 or text.count(README_END) != 1:
        raise ValueError(f"{readme} needs one line {README_START!r} and one {README_END!r} around the results")
    head, rest = text.split(README_START)
    _, tail = rest.split(README_END)
    _atomic_write_text(readme, f"{head}{README_START}\n{readme_markdown(report)}{README_END}{tail}")
    return readme
