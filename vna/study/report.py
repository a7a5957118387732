"""The study's tables from records alone, without training: ``python -m vna report``, the results chapter
and the README table all call :func:`build_report`, so the three can never disagree.

Scoring rules (:mod:`vna.scoring`): every table is given under each rule the records carry
(:func:`vna.study.stats.available_scores`); records made before the rules carry the paper's rule only, and the
report says so (:func:`scores_note`).

Tables (and the CSV files ``--csv DIR`` writes):

* ``results.csv`` -- one row per dataset × method × protocol: dataset, method, split, test_responses,
  protocol, n_seeds, seeds, encoding_auc, encoding_auc_ci, decoding_auc, decoding_auc_ci, mean_auc,
  mean_auc_ci (means over seeds and 95 % t-interval half-widths), best_epoch (mean early-stopping epoch),
  paper_dataset, paper_encoding_auc, paper_decoding_auc, paper_average_auc (Table 1 of the paper for the
  dataset ours stands in for; empty otherwise);
* ``results_by_score.csv`` -- :func:`tables_by_score`: the same numbers under every rule present (column
  ``score``);
* ``referee_comparisons.csv`` -- the one comparison table (:func:`vna.study.stats.referee_comparisons`, every
  rule): per independent cell × pair × task × scale the seed-mean difference, the plain and the corrected
  t-interval, the image bootstrap and why a comparison cannot be tested (``untestable``);
* ``referee_verdicts.csv`` -- the one verdict table (:func:`vna.study.stats.referee_verdicts`, every rule):
  replicates, does not replicate, equivalent, inconclusive or cannot test, per claim × cell, with the evidence;
* ``paper_differences.csv`` -- the paper's differences per stand-in beside ours;
* ``closest_referee.csv`` -- the one closest-protocol table (:func:`vna.study.stats.closest_protocols_referee`);
* ``control.csv`` -- :func:`control_table`: the shuffled-pairing control, every dataset × method × rule, with
  ``within`` ("yes" when encoding and decoding AUC lie within :data:`CONTROL_TOLERANCE` of 0.5);
* ``filter.csv`` -- :func:`filter_table`: the 0.8 reliability filter's rows beside the unfiltered ones;
* with ``--analyses``, ``analysis_<name>.csv`` per analysis (:func:`vna.study.analyses.analysis_tables`): dataset,
  method, test_responses, the swept setting(s), n_seeds, mean, ci (and decoding_top1/top5 for distractors,
  reliability for noise).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..names import METHOD_SHORT, SPLIT_ORDER, protocol_label
from ..scoring import SCORE_LABELS
from .analyses import (analysis_tables, grid_records, noise_grid, trials_fixed_pairs_grid, trials_grid,
                       variability_answers)
from .config import RunConfig
from .controls import control_grid, filter_grid
from .findings import FINDING_TITLES, interval_text, what_we_found
from .record import METRICS
from .registry import get_grid, grid_names
from .sessions import across_sessions, add_sessions, per_session, session_verdicts, sessions_grid
from .store import StoreError, _atomic_write_text, check_manifest, is_published, load_records
from .tables import (PAPER_STAND_INS, PAPER_TABLE1, format_table, mean_ci_text, paper_rows, select_groups,
                     summarize)
from .stats import (
    C3_LOGIT_MARGIN,
    CLOSE_THRESHOLD,
    EQUIVALENCE_MARGIN,
    EQUIVALENT_TEXT,
    REFEREE_CLAIMS,
    SCORE_RULES,
    available_scores,
    claim_summary,
    closest_protocols_referee,
    closest_summary,
    paper_differences,
    referee_comparisons,
    referee_verdicts,
    rule_rows,
    verdict_text,
    verdicts_by_score,
    where,
)

__all__ = ["Report", "build_report", "with_referee", "referee_markdown", "results_csv_table", "to_markdown", "write_csv",
           "readme_markdown", "CSV_FILES", "README_START", "README_END", "update_readme", "CONTROL_TOLERANCE",
           "OLD_RECORDS_NOTE", "tables_by_score", "format_by_score", "differences_by_score",
           "control_table", "filter_table", "verdict_wide", "scores_note"]

README_START = "<!-- results: written by `python -m vna report --readme` from results/; do not edit by hand -->"
README_END = "<!-- end of results -->"

CSV_FILES = ("results.csv", "results_by_score.csv", "referee_comparisons.csv", "referee_verdicts.csv",
             "paper_differences.csv", "closest_referee.csv", "control.csv", "filter.csv")
#: The shuffled-pairing control passes a row when its seed-mean encoding and decoding AUC both lie within this of
#: 0.5 (with ~100-1000 test instances per seed and five seeds, a chance AUC's seed mean has a
#: standard error of a few thousandths, so 0.02 leaves room for noise and none for a leak worth the name).
CONTROL_TOLERANCE = 0.02
#: What the report says where the records carry the paper's rule only.
OLD_RECORDS_NOTE = "records made before the scoring rules: paper rule only"


@dataclass
class Report:
    """The study's tables and (when asked) the analyses' (:func:`vna.study.analyses.analysis_tables`)."""

    records: pd.DataFrame  # the records shown, the paper's rule (one configuration per dataset x method x protocol)
    scored: pd.DataFrame  # the same records under every rule each carries (column score)
    table: pd.DataFrame  # summarize + select_groups
    notes: list[str] = field(default_factory=list)
    ignored: int = 0  # records of configurations outside the grid
    missing: int = 0  # records the grid names that are not there
    analyses: dict = field(default_factory=dict)  # name -> table (analysis_<name>.csv)
    findings: list = field(default_factory=list)  # vna.study.store.Finding: records left out, MANIFEST mismatches
    commits: dict = field(default_factory=dict)  # code commit ("not recorded" for old records) -> records shown
    # the verdicts (vna.study.stats; with_referee fills them):
    scores: list = field(default_factory=list)  # the scoring rules the records carry
    referee: pd.DataFrame = field(default_factory=pd.DataFrame)  # referee_comparisons, every rule
    referee_verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per rule x claim x cell
    verdict_table: pd.DataFrame = field(default_factory=pd.DataFrame)  # verdicts_by_score
    claims: pd.DataFrame = field(default_factory=pd.DataFrame)  # claim_summary
    paper_differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    closest_referee: pd.DataFrame = field(default_factory=pd.DataFrame)  # closest_protocols_referee
    closest_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    # "Is it the model or the score?": the tables under every rule, the controls
    table_by_score: pd.DataFrame = field(default_factory=pd.DataFrame)  # tables_by_score (column score)
    control: pd.DataFrame = field(default_factory=pd.DataFrame)  # control_table
    filtered: pd.DataFrame = field(default_factory=pd.DataFrame)  # filter_table
    sessions: pd.DataFrame = field(default_factory=pd.DataFrame)  # sessions_table: claims across sessions, per rule
    # the statistics behind it, every rule stacked (column score): per_session, across_sessions, session_verdicts
    session_per: pd.DataFrame = field(default_factory=pd.DataFrame)
    session_across: pd.DataFrame = field(default_factory=pd.DataFrame)
    session_verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    variability: pd.DataFrame = field(default_factory=pd.DataFrame)  # analyses.variability_answers
    what_we_found: dict = field(default_factory=dict)  # findings.what_we_found: claim -> paragraph


def build_report(results_dir: str | os.PathLike, grid: Sequence[RunConfig] | None = None, *,
                 n_boot: int = 2000, analyses: bool = False, quick: bool = False, strict: bool = False) -> Report:
    """Read ``results_dir`` and compute every table; with ``grid`` only its configurations are shown; with
    ``analyses`` the analyses' tables too (``quick``: their smoke-test configurations).

    Records that fail verification (:func:`vna.study.store.verify_store`) are left out and named in
    ``findings`` (and the notes); so is every file of a published grid that differs from its MANIFEST.
    ``strict=True`` raises :class:`~vna.study.store.StoreError` on any finding."""
    path = Path(results_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"no results folder at {path}")
    findings: list = []
    everything = load_records(path, score=None, findings=findings)  # every rule; the paper's: one row per record
    records = paper = everything[everything["score"] == "paper"]
    if is_published(path):
        findings += check_manifest(path)
    if strict and findings:
        raise StoreError(findings)
    tables = {}
    if analyses:
        tables = analysis_tables(paper, quick=quick)
    notes: list[str] = []
    ignored = missing = 0
    if grid is not None:
        wanted = {c.signature() for c in grid}
        inside = records["signature"].isin(wanted)
        ignored = int((~inside).sum())
        other = records[~inside]
        records = records[inside]
        have = set(zip(records["signature"], records["seed"]))
        missing = sum((c.signature(), c.seed) not in have for c in grid)
        if ignored:
            known = set()
            for name in grid_names():
                known |= {c.signature() for c in get_grid(name)()}
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
    commits = records["commit"].fillna("not recorded").value_counts().sort_index().to_dict() if len(records) else {}
    if commits:
        notes.append("code behind these records: " + ", ".join(f"{c} ({n} record(s))" for c, n in commits.items()))
    notes += [f"store check: {f}" for f in findings]
    scored = everything[everything["path"].isin(set(records["path"]))]
    report = with_referee(Report(records, scored, table, notes, ignored, missing, tables, findings, commits), n_boot)
    report.table_by_score = tables_by_score(scored, report.scores, grid)
    control = _grid_records(everything, control_grid(quick=quick))
    report.control = control_table(control)
    filt = _grid_records(everything, filter_grid(quick=quick))
    report.filtered = filter_table(tables_by_score(filt, available_scores(filt) if len(filt) else []),
                                   report.table_by_score)
    # every session's records (grid_records matches config and seed; _grid_records would keep one group per cell)
    session_records = grid_records(everything, sessions_grid(quick=quick)) if len(everything) else everything
    report.session_per, report.session_across, report.session_verdicts = session_statistics(session_records)
    report.sessions = sessions_table(report.session_across, report.session_verdicts)
    if len(everything):
        report.variability = variability_answers(grid_records(everything, noise_grid(quick=quick)),
                                                 grid_records(everything, trials_grid(quick=quick)),
                                                 grid_records(everything, trials_fixed_pairs_grid(quick=quick)))
    report.what_we_found = what_we_found(report)
    return report


def session_statistics(records: pd.DataFrame, n_boot: int = 200) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`~vna.study.sessions.per_session`, :func:`~vna.study.sessions.across_sessions` and
    :func:`~vna.study.sessions.session_verdicts` of the sessions grid's ``records`` under every rule they carry,
    each stacked with a ``score`` column first (empty frames without records)."""
    if records.empty:
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    records = add_sessions(records, sessions_grid())
    pers, acrs, vers = [], [], []
    for score in available_scores(records):
        per = per_session(records, score)
        if per.empty:
            continue
        acr = across_sessions(per, n_boot=n_boot)
        pers.append(per.assign(score=score))
        acrs.append(acr.assign(score=score))
        vers.append(session_verdicts(per, acr).assign(score=score))
    stack = (lambda parts: pd.concat(parts, ignore_index=True).pipe(lambda d: d[["score", *d.columns[:-1]]])
             if parts else pd.DataFrame())
    return stack(pers), stack(acrs), stack(vers)


def sessions_table(across: pd.DataFrame, verdicts: pd.DataFrame) -> pd.DataFrame:
    """The claims across sessions (:mod:`vna.study.sessions`), per scoring rule: for each unit (species/area) and
    held-out protocol that more than one session has, the across-session VNA − DE and VNA − DD average AUC
    (t-interval over sessions, sign count) and each claim's wording and verdict (``across`` and ``verdicts``:
    :func:`session_statistics`).

    Columns: score, unit, protocol, n_sessions, vna_de, vna_dd, C1, C2, C3."""
    cols = ["score", "unit", "protocol", "n_sessions", "vna_de", "vna_dd", *REFEREE_CLAIMS]
    if verdicts.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for score, ver in verdicts.groupby("score", sort=False):
        acr = where(across, score=score, scale="auc", task="average")
        for keys, v in ver.groupby(["unit", "split", "responses", "test_responses"], sort=True):
            a = where(acr, **dict(zip(["unit", "split", "responses", "test_responses"], keys)))
            n = int(v["n_sessions"].max())
            if n < 2:
                continue
            diff = {}
            for b, name in (("direct_encoder", "vna_de"), ("direct_decoder", "vna_dd")):
                r = a[a["baseline"] == b]
                diff[name] = ("—" if r.empty else f"{r.iloc[0]['mean_diff']:+.3f} [{r.iloc[0]['ci_low']:+.3f}, "
                              f"{r.iloc[0]['ci_high']:+.3f}], {int(r.iloc[0]['n_positive'])} of {n} > 0")
            protocol = protocol_label(keys[1], keys[3]) + (", trained on trial means" if keys[2] == "mean" else "")
            rows.append({"score": score, "unit": keys[0], "protocol": protocol, "n_sessions": n, **diff,
                         **{c: f"{w}; {verdict_text(vd)}" for c, w, vd in zip(v["claim"], v["wording"],
                                                                                 v["verdict"])}})
    return pd.DataFrame(rows, columns=cols)


def sessions_markdown(report: Report) -> str:
    """The report's section "Across sessions" (empty string without sessions records)."""
    t = report.sessions
    if t.empty:
        return ("\n## Across sessions\n\nNo sessions grid in these records yet: "
                "`python -m vna reproduce --grid sessions --publish --jobs 2`.\n")
    return ("\n## Across sessions (the session as the unit; VNA − baseline average AUC: mean, 95 % t-interval over "
            "sessions, sign count; claims: in how many sessions and animals each holds, and the verdict over "
            "sessions; a rule appears for the sessions whose records carry it)\n\n"
            + t.rename(columns={"vna_de": "VNA − DE", "vna_dd": "VNA − DD", "n_sessions": "sessions"})
            .to_markdown(index=False) + "\n")


def _grid_records(records: pd.DataFrame, grid: Sequence[RunConfig]) -> pd.DataFrame:
    """The rows of ``grid``'s configurations (by :meth:`RunConfig.signature`), one group each (chosen under the
    paper's rule), under every rule they carry."""
    inside = records[records["signature"].isin({c.signature() for c in grid})]
    table, _ = select_groups(summarize(inside[inside["score"] == "paper"]), grid)
    return inside[inside["group"].isin(set(table["group"]))]


def with_referee(report: Report, n_boot: int = 2000) -> Report:
    """Fill the referee's fields of ``report`` from its records: comparisons and verdicts under every
    scoring rule the records carry, the claim summary, the paper's differences per stand-in and the closest
    held-out protocol with its bootstrap."""
    rec = report.scored
    report.scores = available_scores(rec) if len(rec) else []
    report.referee = pd.concat([referee_comparisons(rec, rule, n_boot=n_boot) for rule in report.scores]
                               or [referee_comparisons(rec.iloc[:0])], ignore_index=True)
    report.referee_verdicts = referee_verdicts(report.referee)
    report.verdict_table = verdicts_by_score(report.referee_verdicts)
    report.claims = claim_summary(report.verdict_table)
    report.paper_differences = paper_differences(report.referee, PAPER_TABLE1, PAPER_STAND_INS)
    report.closest_referee = closest_protocols_referee(report.records, PAPER_TABLE1, n_boot=n_boot)
    report.closest_summary = closest_summary(report.closest_referee)
    return report


def results_csv_table(table: pd.DataFrame) -> pd.DataFrame:
    """``results.csv``: the table's numbers with the paper's Table 1 beside them (module docstring)."""
    cols = ["dataset", "method", "split", "test_responses", "protocol", "n_seeds", "seeds", "encoding_auc",
            "encoding_auc_ci", "decoding_auc", "decoding_auc_ci", "mean_auc", "mean_auc_ci", "best_epoch"]
    out = table[cols].copy() if len(table) else pd.DataFrame(columns=cols)
    hits = [p.loc[m] if m in p.index else None for p, m in zip(map(paper_rows, out["dataset"]), out["method"])]
    paper = {k: [None if h is None else h[k] for h in hits]
             for k in ("paper_dataset", "encoding_auc", "decoding_auc", "average_auc")}
    return out.assign(paper_dataset=paper["paper_dataset"], paper_encoding_auc=paper["encoding_auc"],
                      paper_decoding_auc=paper["decoding_auc"], paper_average_auc=paper["average_auc"])


# -------------------------------------------------------------------------- the tables under every scoring rule
def scores_note(scores: Sequence[str]) -> str:
    """One line naming the scoring rules shown, or :data:`OLD_RECORDS_NOTE` where only the paper's is there."""
    if not list(scores):
        return "no records"
    if list(scores) == ["paper"]:
        return OLD_RECORDS_NOTE
    return "scoring rules: " + "; ".join(f"{r} = {SCORE_LABELS.get(r, r)}" for r in scores)


def tables_by_score(records: pd.DataFrame, scores: Sequence[str],
                    grid: Sequence[RunConfig] | None = None) -> pd.DataFrame:
    """:func:`~vna.study.tables.summarize` + :func:`~vna.study.tables.select_groups` of ``records`` (every rule:
    column ``score``) under each rule of ``scores`` (mean ± 95 % t half-width over the seeds that carry the rule),
    stacked with a ``score`` column first."""
    parts = [select_groups(summarize(rule_rows(records, rule)), grid)[0].assign(score=rule) for rule in scores]
    if not parts:
        return pd.DataFrame(columns=["score", *summarize(records.iloc[:0]).columns])
    out = pd.concat(parts, ignore_index=True)
    return out[["score", *[c for c in out.columns if c != "score"]]]


def _triple(r, digits: int = 3) -> str:
    e, d, a = (r[m] for m in METRICS)
    if not math.isfinite(a):
        return "n/a"
    return f"{e:.{digits}f} / {d:.{digits}f} / {a:.{digits}f}"


def format_by_score(by_score: pd.DataFrame, scores: Sequence[str] | None = None, digits: int = 3) -> pd.DataFrame:
    """The tables of :func:`tables_by_score` side by side: one row per dataset × method × protocol, one column per
    rule with the seed means "encoding / decoding / average" (the intervals are in each rule's own table)."""
    if by_score.empty:
        return pd.DataFrame(columns=["dataset", "method", "protocol", "seeds"])
    scores = [r for r in (scores or SCORE_RULES) if r in set(by_score["score"])]
    keys = ["dataset", "method", "split", "test_responses"]
    base = by_score[by_score["score"] == scores[0]]
    rows = []
    index = {r: by_score[by_score["score"] == r].set_index(keys) for r in scores}
    for _, r in base.iterrows():
        row = {"dataset": r["dataset"], "method": METHOD_SHORT[r["method"]],
               "protocol": protocol_label(r["split"], r["test_responses"]), "seeds": int(r["n_seeds"])}
        k = tuple(r[c] for c in keys)
        for rule in scores:
            hit = index[rule].loc[k] if k in index[rule].index else None
            if isinstance(hit, pd.DataFrame):
                hit = hit.iloc[0]
            row[f"{rule}: enc / dec / avg"] = "—" if hit is None else _triple(hit, digits)
        rows.append(row)
    return pd.DataFrame(rows)


def differences_by_score(referee: pd.DataFrame, scores: Sequence[str] | None = None,
                         tasks: Sequence[str] = ("encoding", "decoding", "average")) -> pd.DataFrame:
    """VNA − DE and VNA − DD per independent cell × task, one column per rule: the seed-mean paired difference
    with its corrected 95 % t-interval (AUC scale; :func:`vna.study.stats.referee_comparisons`)."""
    cols = ["dataset", "protocol", "comparison", "task"]
    if referee.empty:
        return pd.DataFrame(columns=cols)
    c = referee[(referee["scale"] == "auc") & referee["task"].isin(list(tasks))]
    scores = [r for r in (scores or SCORE_RULES) if r in set(c["score"])]
    c = c.assign(text=[interval_text(m, lo, hi) for m, lo, hi in zip(c["mean_diff"], c["ci_low"], c["ci_high"])],
                 comparison=c["method"].map(METHOD_SHORT) + " − " + c["baseline"].map(METHOD_SHORT),
                 dataset=[d if k else f"{d} (not counted)" for d, k in zip(c["dataset"], c["counted"])])
    c = _with_protocol(c)
    wide = c.pivot_table(index=["dataset", "split", "test_responses", "protocol", "comparison", "task"],
                         columns="score", values="text", aggfunc="first").reset_index()
    wide.columns.name = None
    order = {t: i for i, t in enumerate(tasks)}
    wide = (wide.assign(_t=wide["task"].map(order), _s=wide["split"].map(SPLIT_ORDER))
            .sort_values(["dataset", "_s", "test_responses", "comparison", "_t"], ascending=[True, True, False, True, True]))
    return wide[[*cols, *scores]].fillna({r: "n/a" for r in scores}).reset_index(drop=True)


def control_table(records: pd.DataFrame, tolerance: float = CONTROL_TOLERANCE) -> pd.DataFrame:
    """The shuffled-pairing control (:func:`vna.study.controls.control_grid`): per rule × dataset × method ×
    protocol, the seed means of encoding, decoding and average AUC, the largest distance of encoding or decoding
    from 0.5, and ``within``: "yes" when both lie within ``tolerance`` of 0.5 (nothing leaked), else "no"."""
    cols = ["score", "dataset", "method", "split", "test_responses", "protocol", "n_seeds", *METRICS,
            "max_distance", "within"]
    rows = []
    for rule in (available_scores(records) if len(records) else []):
        view = rule_rows(records, rule)
        for (dataset, method, split, test), g in view.groupby(["dataset", "method", "split", "test_responses"],
                                                              sort=True):
            means = {m: float(g[m].astype(float).mean()) for m in METRICS}
            dist = max(abs(means["encoding_auc"] - 0.5), abs(means["decoding_auc"] - 0.5))
            rows.append({"score": rule, "dataset": dataset, "method": method, "split": split, "test_responses": test,
                         "protocol": protocol_label(split, test), "n_seeds": int(g["seed"].nunique()), **means,
                         "max_distance": dist,  # 1e-12: binary slack (0.52 - 0.5 > 0.02 in floats)
                         "within": "yes" if dist <= tolerance + 1e-12 else "no"})
    return pd.DataFrame(rows, columns=cols)


def filter_table(filtered: pd.DataFrame, unfiltered: pd.DataFrame) -> pd.DataFrame:
    """The reliability filter's rows beside the unfiltered ones: ``filtered`` and ``unfiltered`` are
    :func:`tables_by_score` frames (the filter grid's and the study's); one row per rule × dataset × method ×
    protocol of ``filtered`` with both tables' seed means and 95 % half-widths (``<metric>`` and
    ``<metric>_filtered``), the seeds of each, and ``change`` (filtered − unfiltered average AUC)."""
    keys = ["score", "dataset", "method", "split", "test_responses"]
    vals = [c for m in METRICS for c in (m, f"{m}_ci")]
    cols = [*keys, "protocol", "n_seeds", *vals, "n_seeds_filtered", *[f"{c}_filtered" for c in vals], "change"]
    if filtered.empty:
        return pd.DataFrame(columns=cols)
    f = filtered[[*keys, "protocol", "n_seeds", *vals]].rename(
        columns={c: f"{c}_filtered" for c in ["n_seeds", *vals]})
    u = (unfiltered[[*keys, "n_seeds", *vals]] if len(unfiltered)
         else pd.DataFrame(columns=[*keys, "n_seeds", *vals]))
    out = f.merge(u, on=keys, how="left")
    out["change"] = out["mean_auc_filtered"].astype(float) - out["mean_auc"].astype(float)
    return out[cols]


def verdict_wide(verdict_table: pd.DataFrame, scores: Sequence[str]) -> pd.DataFrame:
    """:func:`vna.study.stats.verdicts_by_score` as one row per cell and one column per claim: the common verdict
    of every rule, or "depends on the score (paper: …; cosine: …)" where they disagree."""
    if verdict_table.empty:
        return pd.DataFrame(columns=["dataset", "protocol"])
    v = _with_protocol(verdict_table)
    v["dataset"] = [d if c else f"{d} (not counted)" for d, c in zip(v["dataset"], v["counted"])]
    v["text"] = [verdict_text(r["overall"]) if r["overall"] != "depends on the score" else
                 "depends on the score (" + "; ".join(f"{s}: {_short_verdict(r[s])}" for s in scores) + ")"
                 for _, r in v.iterrows()]
    wide = v.pivot_table(index=["dataset", "split", "test_responses", "protocol"], columns="claim", values="text",
                         aggfunc="first").reset_index()
    wide.columns.name = None
    wide = (wide.assign(_s=wide["split"].map(SPLIT_ORDER))
            .sort_values(["dataset", "_s", "test_responses"], ascending=[True, True, False]))
    claims = [c for c in ("C1", "C2", "C3") if c in wide.columns]
    return wide[["dataset", "protocol", *claims]].reset_index(drop=True)


def _short_verdict(outcome: str) -> str:
    """A verdict inside "depends on the score (…)": "equivalent" as "no difference" (the margin is in the caption)."""
    return "no difference" if outcome == "equivalent" else outcome


def _md(df: pd.DataFrame, floatfmt: str = ".4f") -> str:
    if df.empty:
        return "(none)\n"
    return df.to_markdown(index=False, floatfmt=floatfmt) + "\n"


def to_markdown(report: Report) -> str:
    """Every table of the report as Markdown, after what we found (:func:`findings_markdown`): the results under each
    scoring rule, VNA − DE and VNA − DD per rule, the verdicts (one table, per rule: :func:`referee_markdown`), the
    controls and the analyses."""
    rules = report.scores or ["paper"]
    found = findings_markdown(report.what_we_found)  # "### What we found" in the README, a section here
    parts = ["\n".join([found[0][1:], *found[1:]])] if found else []
    parts += ["## Results (the paper's rule; mean ± 95 % t-interval over seeds)\n",
             f"{scores_note(report.scores)}.\n", _md(format_table(report.table))]
    by = report.table_by_score
    for rule in rules[1:]:
        t = by[by["score"] == rule]
        parts += [f"\n## Results under the {rule} rule ({SCORE_LABELS.get(rule, rule)}; mean ± 95 % t-interval "
                  "over seeds)\n", _md(format_table(t, with_paper=False))]
    if len(rules) > 1:
        parts += ["\n## The results under each rule side by side (seed means: encoding / decoding / average)\n",
                  _md(format_by_score(by, rules))]
    parts += [f"\n## VNA − DE and VNA − DD per scoring rule (held-out cells; seed mean with the corrected 95 % "
              f"t-interval; {scores_note(report.scores)})\n",
              _md(differences_by_score(report.referee, rules).rename(columns=_rule_headers(rules)))]
    parts += [referee_markdown(report)]
    parts += [control_markdown(report)]
    parts += [sessions_markdown(report)]
    for name, table in report.analyses.items():
        parts += [f"\n## Analysis: {name} (average AUC, mean and 95 % interval over seeds)\n", _md(table, ".4f")]
    if report.notes:
        parts += ["\n" + "\n".join(f"- {n}" for n in report.notes) + "\n"]
    return "\n".join(parts)


def control_markdown(report: Report) -> str:
    """The shuffled-pairing control and the reliability filter's rows, or a line saying that their
    grids have no records yet."""
    parts = [f"\n## Shuffled-pairing control (trained on permuted pairs; every AUC must sit within "
             f"{CONTROL_TOLERANCE} of 0.5)\n"]
    c = report.control
    if c.empty:
        parts += ["No records of the control grid yet: `python -m vna reproduce --grid control --publish`.\n"]
    else:
        shown = c.assign(method=c["method"].map(METHOD_SHORT))[
            ["score", "dataset", "method", "protocol", "n_seeds", *METRICS, "within"]].rename(
            columns={"within": f"within {CONTROL_TOLERANCE} of 0.5"})
        bad = c[c["within"] != "yes"]
        parts += [f"{scores_note(sorted(set(c['score']), key=SCORE_RULES.index))}.\n", _md(shown, ".3f"),
                  ("Every row sits within the tolerance.\n" if bad.empty else
                   f"{len(bad)} row(s) outside the tolerance: " + "; ".join(
                       f"{r.dataset} {METHOD_SHORT[r.method]} ({r.score}) {r.max_distance:.3f} from 0.5"
                       for r in bad.itertuples()) + ".\n")]
    parts += ["\n## Huang et al.'s 0.8 reliability filter beside the unfiltered rows (held-out images, single trials; "
              "seed means ± 95 % t)\n"]
    f = report.filtered
    if f.empty:
        parts += ["No records of the filter grid yet: `python -m vna reproduce --grid filter --publish`.\n"]
    else:
        rows = [{"score": r["score"], "dataset": r["dataset"], "method": METHOD_SHORT[r["method"]],
                 "no filter: avg AUC": mean_ci_text(r["mean_auc"], r["mean_auc_ci"], 3),
                 "0.8 filter: avg AUC": mean_ci_text(r["mean_auc_filtered"], r["mean_auc_ci_filtered"], 3),
                 "0.8 filter: enc / dec": _pair(r["encoding_auc_filtered"], r["decoding_auc_filtered"]),
                 "change": r["change"]} for _, r in f.iterrows()]
        parts += [_md(pd.DataFrame(rows), "+.3f")]
    return "\n".join(parts)


def _pair(a, b, digits: int = 3) -> str:
    a, b = float(a), float(b)
    return "n/a" if not (math.isfinite(a) and math.isfinite(b)) else f"{a:.{digits}f} / {b:.{digits}f}"


def _with_protocol(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(protocol=[protocol_label(a, b) for a, b in zip(df["split"], df["test_responses"])])


def referee_markdown(report: Report) -> str:
    """The referee's sections of :func:`to_markdown`: verdicts per scoring rule, the claim summary,
    the plain and corrected intervals with the image-level bootstrap, the paper's differences per stand-in and
    the closest held-out protocol."""
    rules = ", ".join(report.scores) or "none"
    parts = [f"\n## Verdicts on the paper's claims (one per held-out cell; scoring rules: {rules})\n",
             "One verdict per held-out cell (held-out protocols; held-out trials scored on single trials only, "
             "their trial-mean cells reuse the same models on 1–2 trials and are near-copies), from Nadeau & "
             "Bengio's corrected resampled t-interval over seeds; C3 on the logit scale with margin "
             f"log 1.25 = {C3_LOGIT_MARGIN:.3f}; \"equivalent\" (read \"{EQUIVALENT_TEXT}\" for C1 and C2) where the "
             f"corrected interval of the logit difference lies inside ±{EQUIVALENCE_MARGIN:.3f}; \"cannot test\" where a "
             "method's AUC is the same in every seed or the test set is too coarse for that margin. Simulated cells "
             "are shown, never counted. \"depends on the score\" where the scoring rules disagree. This is the "
             "report's only verdict table (the plain t-interval's verdict of each claim is beside the corrected one "
             "in the evidence below).\n"]
    v = report.verdict_table
    if len(v):
        v = _with_protocol(v)
        v["dataset"] = [d if c else f"{d} (not counted)" for d, c in zip(v["dataset"], v["counted"])]
        v = v[["claim", "dataset", "protocol", *report.scores, "overall"]]
        v = v.assign(**{c: v[c].map(verdict_text) for c in [*report.scores, "overall"]}).rename(
            columns=_rule_headers(report.scores))
    parts += [_md(v)]
    parts += ["\n### Per claim (recordings only)\n", _md(report.claims)]
    e = report.referee_verdicts
    if len(e):
        e = _with_protocol(e)[["score", "claim", "dataset", "protocol", "verdict", "plain_verdict", "evidence"]]
    parts += ["\n### Evidence (corrected interval; the plain t-interval's verdict beside it)\n", _md(e)]
    c = report.referee
    if len(c):
        notes = sorted(set(n for n in c["boot_note"] if n))
        c = _with_protocol(c[c["scale"] == "auc"])
        c["comparison"] = c["method"].map(METHOD_SHORT) + " − " + c["baseline"].map(METHOD_SHORT)
        c = c[["score", "dataset", "protocol", "comparison", "task", "n_seeds", "test_train_ratio", "mean_diff",
               "plain_low", "plain_high", "ci_low", "ci_high", "boot_low", "boot_high"]]
        parts += ["\n### Intervals: plain t, corrected t (n_test/n_train from the records' sizes), bootstrap over test "
                  "images\n", _md(c, ".3f")]
        if notes:
            parts += ["Image bootstrap left out where " + "; ".join(notes) + ".\n"]
    p = report.paper_differences
    if len(p):
        p = _with_protocol(p)[["score", "paper_dataset", "dataset", "protocol", "difference", "paper_diff",
                               "mean_diff", "ci_low", "ci_high", "agreement"]]
    parts += ["\n## The paper's differences per stand-in (its own row; our corrected interval)\n", _md(p, ".3f")]
    cl = report.closest_summary
    if len(cl):
        cl = _with_protocol(cl)[["paper_dataset", "dataset", "protocol", "distance", "dist_low", "dist_high",
                                 "p_closest", "conclusion", "in_sample", "looks_in_sample"]].sort_values(
            ["paper_dataset", "dataset"])
    parts += [f"\n## Closest held-out protocol (bootstrap over seeds; \"no protocol is close\" beyond "
              f"{CLOSE_THRESHOLD}; in-sample reported, never chosen)\n", _md(cl, ".3f")]
    return "\n".join(parts)


def _rule_headers(rules) -> dict[str, str]:
    return {r: f"{r} rule" for r in rules}


def write_csv(report: Report, folder: str | os.PathLike) -> list[Path]:
    """Write the CSV files of :data:`CSV_FILES` (module docstring) into ``folder``, each atomically."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--csv {folder} is a file, not a folder")
    frames = {"results.csv": results_csv_table(report.table), "results_by_score.csv": report.table_by_score,
              "referee_comparisons.csv": report.referee, "referee_verdicts.csv": report.referee_verdicts,
              "paper_differences.csv": report.paper_differences, "closest_referee.csv": report.closest_referee,
              "control.csv": report.control, "filter.csv": report.filtered}
    frames.update({f"analysis_{name}.csv": table for name, table in report.analyses.items()})
    out = []
    for name, frame in frames.items():
        path = folder / name
        _atomic_write_text(path, frame.to_csv(index=False))
        out.append(path)
    return out


def readme_markdown(report: Report) -> str:
    """The README's result block: the held-out protocols with single-trial test responses (mean ± 95 %
    interval over seeds, the paper's row beside it), the same cells under the other scoring rules where the
    records carry them, and the verdict on each claim per independent cell (:func:`verdict_wide`: one verdict
    where every rule agrees, "depends on the score" where they do not), from the same functions as the results
    chapter and ``python -m vna report``; above them, what we found (:func:`vna.study.findings.what_we_found`,
    the paragraphs the book's first page shows)."""
    t = report.table
    main = t[(t["split"].isin(["images", "trials"])) & (t["test_responses"] == "trials")]
    found = findings_markdown(report.what_we_found)
    if main.empty:
        return "\n".join([*found, "(no records of the study grid yet: python -m vna reproduce --publish)", "",
                          *sessions_readme_lines(report.sessions)])
    shown = format_table(main)
    seeds = sorted(set(main["n_seeds"]))
    lines = [*found, f"Mean ± 95 % t-interval over {'/'.join(map(str, seeds))} seeds under the paper's scoring rule "
             "(single-trial test responses; every protocol, trial means and the in-sample diagnostic are in the "
             "book's results chapter):", "", shown.to_markdown(index=False), ""]
    rules = report.scores or ["paper"]
    if len(rules) > 1:
        by = report.table_by_score
        by = by[by["split"].isin(["images", "trials"]) & (by["test_responses"] == "trials")]
        lines += ["The same cells under every scoring rule (seed means, encoding / decoding / average; "
                  + "; ".join(f"{r}: {SCORE_LABELS.get(r, r)}" for r in rules) + "):", "",
                  format_by_score(by, rules).to_markdown(index=False), ""]
    else:
        lines += [f"Scoring rules: {OLD_RECORDS_NOTE}.", ""]
    wide = verdict_wide(report.verdict_table, rules)
    if len(wide):
        lines += ["Verdicts on the paper's claims, one per held-out cell (the cells of one recording share trained "
                  "models, so claims are counted per recording; C1: VNA has the best average AUC; C2: VNA "
                  "beats direct decoding on both tasks and direct encoding on encoding; C3: direct encoding's decoding "
                  "error rate is at most 25 % above VNA's; rule: Nadeau & Bengio's corrected 95 % t-interval of the "
                  "paired difference over seeds, under every scoring rule the records carry ("
                  + ", ".join(rules) + f"); \"{EQUIVALENT_TEXT}\": the interval of the logit difference lies inside "
                  f"±{EQUIVALENCE_MARGIN:.3f}, neither error rate more than 25 % above the other; \"cannot test\": a "
                  "method's AUC is the same in every seed, or the test set is too coarse for that margin; simulated "
                  "cells are shown, never counted):", "",
                  wide.to_markdown(index=False), ""]
    lines += sessions_readme_lines(report.sessions)
    return "\n".join(lines)


def findings_markdown(paragraphs: dict) -> list[str]:
    """The README block's "What we found": one paragraph per claim (:func:`vna.study.findings.what_we_found`),
    its title in bold."""
    if not paragraphs:
        return []
    lines = ["### What we found", ""]
    for key, text in paragraphs.items():
        lines += [f"**{FINDING_TITLES.get(key, key)}** {text}", ""]
    return lines


def sessions_readme_lines(sessions: pd.DataFrame) -> list[str]:
    """The README block's lines across sessions: per unit, the protocol most sessions share, one line per claim
    with its wording and verdict under each scoring rule."""
    if sessions.empty:
        return []
    lines = ["Across sessions (the session as the unit: `python -m vna reproduce --grid sessions`; wording per "
             "scoring rule, then the verdict from the t-interval over sessions):", ""]
    for unit, u in sessions.groupby("unit", sort=True):
        top = u[u["n_sessions"] == u["n_sessions"].max()]
        protocol = top["protocol"].iloc[0]
        top = top[top["protocol"] == protocol]
        for claim in REFEREE_CLAIMS:
            per_rule = "; ".join(f"{r.score}: {getattr(r, claim)}" for r in top.itertuples())
            lines.append(f"- {claim}, {unit}, {protocol} ({int(top['n_sessions'].iloc[0])} sessions) — {per_rule}")
    return lines + [""]


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
