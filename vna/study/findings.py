"""What we found: one computed paragraph per claim of the paper (C1-C3, section 5 and the abstract) and one on its
variability argument (section 1), each naming the scoring rule, the unit of replication (seeds of one recording,
sessions, animals) and the interval; the data of the first page's figure; and the other sentences the book states
about the records (the protocols' spread, the reliability filter, the linear baselines on the Allen set, the
paper's Table 1). The book's first page, its limitations chapter and the README block
(``python -m vna report --readme``) all show these strings, so they cannot disagree with the records.
"""
from __future__ import annotations

import math
import pandas as pd

from ..methods import METHODS
from ..names import METHOD_NAMES, METHOD_SHORT, protocol_label
from .sessions import MEAN_PROTOCOL
from .stats import REFEREE_CLAIMS, SCORE_RULES, pick, signed, verdict_text, where
from .tables import paper_average_check

__all__ = ["HEADLINE_CELL", "SESSIONS_UNIT", "KEY_COMPARISONS", "FINDING_TITLES", "claim_paragraph",
           "variability_paragraph", "what_we_found", "interval_text", "figure_data", "protocol_spread",
           "filter_sentence", "linear_chance_sentence", "paper_average_sentences"]

#: The cell each paragraph names first: cowley2023-v4 (macaque V4 under synthetic images, the stand-in for the
#: paper's Macaque-synthetic), held-out images, single trials -- the study's main protocol, on the one recording
#: that also has sessions and animals.
HEADLINE_CELL = ("cowley2023-v4", "images", "trials")
#: The unit whose sessions the paragraphs and the figure show (seven V4 sessions of two animals).
SESSIONS_UNIT = "cowley2023-v4"
#: Its cell the paragraphs and the figure read: held-out images on trial means, the protocol every session has.
SESSIONS_CELL = {"unit": SESSIONS_UNIT, "split": MEAN_PROTOCOL[0], "responses": MEAN_PROTOCOL[1],
                 "test_responses": MEAN_PROTOCOL[2]}
#: The comparison each claim's paragraph quotes: the one the claim turns on (C1: VNA against the runner-up's
#: average; C2: VNA against direct encoding on encoding, where the scoring rules disagree; C3: its own test).
KEY_COMPARISONS = {"C1": ("vna", "direct_encoder", "average", "auc"),
                   "C2": ("vna", "direct_encoder", "encoding", "auc"),
                   "C3": ("direct_encoder", "vna", "decoding", "logit")}
FINDING_TITLES = {"C1": "C1 — VNA has the best average AUC.",
                  "C2": "C2 — VNA beats direct decoding on both tasks and direct encoding on encoding.",
                  "C3": "C3 — direct encoding's decoding is close to VNA's.",
                  "variability": "The variability argument — VNA gains most where single responses are noisiest."}


def interval_text(mean: float, low: float, high: float) -> str:
    """``+0.081 [+0.065, +0.097]``; the mean alone without an interval; "n/a" without a mean."""
    if not math.isfinite(mean):
        return "n/a"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{mean:+.3f}"
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"


def _name(a: str, b: str, task: str, scale: str) -> str:
    what = {"average": "average AUC", "encoding": "encoding AUC", "decoding": "decoding AUC"}[task]
    return f"{METHOD_SHORT[a]} − {METHOD_SHORT[b]} {what}" + (" (logit)" if scale == "logit" else "")


def _rules(report) -> list[str]:
    return [r for r in SCORE_RULES if r in (report.scores or ["paper"])]


def _rule_name(rule: str) -> str:
    return "the paper's rule" if rule == "paper" else f"the {rule} rule"


def _cells_sentence(report, claim: str, rules: list[str]) -> str:
    wide = report.verdict_table
    rows = wide[(wide["claim"] == claim) & wide["counted"].astype(bool)] if len(wide) else wide
    if rows.empty:
        return "No recording cell tests it yet."
    recordings = sorted(set(rows["dataset"]))
    counts = {}
    for outcome in ("replicates", "equivalent", "does not replicate"):
        counts[outcome] = [sum(outcome in set(rows.loc[rows["dataset"] == d, r]) for d in recordings) for r in rules]
    n = len(recordings)
    said = {"replicates": "it replicates in at least one cell of", "equivalent": "shows no difference in",
            "does not replicate": "fails in"}
    pieces = [f"{said[o]} {'/'.join(map(str, c))}" for o, c in counts.items() if any(c)]
    rule_names = "/".join(rules)
    if not pieces:
        return (f"Over the {n} recordings ({len(rows)} held-out cells), no cell decides it under any rule.")
    return (f"Over the {n} recordings ({len(rows)} held-out cells; the cells of one recording share trained models, "
            f"so the recording is the unit counted), {', '.join(pieces)} of the {n} recordings under the {rule_names} "
            "rules.")


def claim_paragraph(report, claim: str) -> str:
    """The paragraph on ``claim`` (``report``: :func:`vna.study.report.build_report`): the headline cell's key
    comparison (:data:`KEY_COMPARISONS`) under every rule with the seeds' corrected interval and the claim's
    verdict there; the count over recordings; and the same comparison over the sessions of
    :data:`SESSIONS_UNIT` (t-interval over sessions) with the claim's wording and verdict over sessions."""
    rules = _rules(report)
    a, b, task, scale = KEY_COMPARISONS[claim]
    name = _name(a, b, task, scale)
    dataset, split, test = HEADLINE_CELL
    text = []
    ref = report.referee
    cell = where(ref, dataset=dataset, split=split, test_responses=test, task=task, scale=scale) if len(ref) else ref
    wide = report.verdict_table
    verdicts = where(wide, claim=claim, dataset=dataset, split=split, test_responses=test) if len(wide) else wide
    shown, n_seeds = [], None
    for rule in rules:
        row, sign = pick(cell[cell["score"] == rule], a, b) if len(cell) else (None, 1.0)
        if row is None:
            continue
        n_seeds = int(row["n_seeds"])
        v = verdicts.iloc[0][rule] if len(verdicts) and rule in verdicts.columns else "cannot test"
        shown.append(f"{interval_text(*signed(row, sign))} under {_rule_name(rule)}: {verdict_text(v)}")
    if shown:
        text.append(f"Seeds of one recording ({n_seeds} seeds, Nadeau and Bengio's corrected 95 % interval): on "
                    f"{dataset}, {protocol_label(split, test)}, {name} is " + "; ".join(shown) + ".")
    text.append(_cells_sentence(report, claim, rules))
    text.append(_sessions_sentence(report, claim, rules))
    return " ".join(t for t in text if t)


def _sessions_sentence(report, claim: str, rules: list[str]) -> str:
    across, ver = report.session_across, report.session_verdicts
    if across is None or across.empty or ver is None or ver.empty:
        return "No sessions grid in these records yet."
    a, b, task, scale = KEY_COMPARISONS[claim]
    sel = where(across, **SESSIONS_CELL, task=task, scale=scale)
    vs = where(ver, **SESSIONS_CELL, claim=claim)
    shown, n_sessions, n_animals = [], 0, 0
    for rule in rules:
        row, sign = pick(sel[sel["score"] == rule], a, b)
        v = vs[vs["score"] == rule]
        if row is None or v.empty:
            continue
        n_sessions, n_animals = int(row["n_sessions"]), int(row["n_animals"])
        shown.append(f"{interval_text(*signed(row, sign))} under {_rule_name(rule)} ({v.iloc[0]['wording']}): "
                     f"{verdict_text(v.iloc[0]['verdict'])}")
    if not shown:
        return f"No sessions of {SESSIONS_UNIT} in these records yet."
    return (f"Sessions as the unit ({n_sessions} {SESSIONS_UNIT} sessions of {n_animals} animals, "
            f"{protocol_label(SESSIONS_CELL['split'], SESSIONS_CELL['test_responses'])}, trained on trial means; "
            "t-interval over sessions): "
            f"{_name(a, b, task, scale)} is " + "; ".join(shown) + ".")


_VARIABILITY_CONTRASTS = {
    "trials": "from all training trials per image to one (fewer repeats, and also fewer training pairs)",
    "fixed pairs": "from the most training trials per image to one with the number of training pairs held fixed "
                   "(n trials on 1/n of the training images)",
}


def _answer_counts(rows: pd.DataFrame) -> str:
    n = rows["answer"].value_counts()
    parts = [f"grows in {n.get('grows', 0)}", f"shrinks in {n.get('shrinks', 0)}",
             f"is inconclusive in {n.get('inconclusive', 0)}"]
    if n.get("cannot test", 0):
        parts.append(f"cannot be tested in {n['cannot test']}")
    return ", ".join(parts[:-1]) + f" and {parts[-1]}"


def variability_paragraph(variability: pd.DataFrame) -> str:
    """The paragraph on the variability argument, from :func:`vna.study.analyses.variability_answers`: per contrast
    (all trials to one; trials per image with the training pairs held fixed), per recording and baseline the paired
    difference in differences under the paper's rule (seeds of one recording, corrected interval), the count of
    answers on recordings under every rule, and the simulated noise levels apart."""
    if variability is None or variability.empty:
        return "No records of the trials and noise analyses yet."
    if "score" not in variability.columns:
        variability = variability.assign(score="paper")
    rules = [r for r in SCORE_RULES if r in set(variability["score"])]
    rec = variability[variability["counted"].astype(bool)]
    sim = variability[~variability["counted"].astype(bool) & (variability["score"] == rules[0])]
    text = []
    for analysis, contrast in _VARIABILITY_CONTRASTS.items():
        part = rec[rec["analysis"] == analysis]
        if part.empty:
            continue
        first = part[part["score"] == rules[0]]
        n_seeds = int(first["n_seeds"].max())
        per = [f"on {dataset} by " + ", ".join(
            f"{interval_text(r.did, r.ci_low, r.ci_high)} against {METHOD_SHORT[r.baseline]} ({r.answer})"
            for r in g.itertuples()) for dataset, g in first.groupby("dataset", sort=True)]
        by_rule = "; ".join(f"under {_rule_name(rule)} it {_answer_counts(part[part['score'] == rule])}"
                            for rule in rules)
        text.append(f"{contrast[0].upper()}{contrast[1:]}, VNA's lead in average AUC changes (seeds of one recording, "
                    f"{n_seeds} seed{'s' if n_seeds != 1 else ''}, corrected 95 % interval, "
                    f"{_rule_name(rules[0])}) " + "; ".join(per) + f". Of the {len(first)} answers on recordings, "
                    + by_rule + ".")
    if len(sim):
        text.append(f"The simulated cortex with its noise turned up (shown, not counted; {_rule_name(rules[0])}), "
                    "from the least to the most noisy level: " + ", ".join(
                        f"{interval_text(r.did, r.ci_low, r.ci_high)} against {METHOD_SHORT[r.baseline]} "
                        f"({r.answer})" for r in sim.itertuples()) + ".")
    return " ".join(text)


def what_we_found(report) -> dict[str, str]:
    """``{"C1": ..., "C2": ..., "C3": ..., "variability": ...}``: the paragraphs of the book's first page and the
    README (titles: :data:`FINDING_TITLES`). Empty without study records."""
    if report.records is None or report.records.empty:
        return {}
    out = {claim: claim_paragraph(report, claim) for claim in REFEREE_CLAIMS}
    out["variability"] = variability_paragraph(report.variability)
    return out


def figure_data(report) -> pd.DataFrame:
    """The first page's figure: VNA − DE and VNA − DD in average AUC on the logit scale (the scale of the
    equivalence margin) under every rule, per held-out cell of a recording (seeds' corrected interval), per session
    of :data:`SESSIONS_UNIT` (seeds' corrected interval) and over those sessions (t-interval over sessions).

    Columns: baseline, kind ("cell", "session", "sessions"), label, score, mean, low, high."""
    cols = ["baseline", "kind", "label", "score", "mean", "low", "high"]
    rows = []
    ref = report.referee
    if len(ref):
        c = ref[ref["counted"].astype(bool) & (ref["task"] == "average") & (ref["scale"] == "logit")]
        order = {"images": 0, "trials": 1}
        c = c.assign(_o=c["split"].map(order)).sort_values(["dataset", "_o", "test_responses"],
                                                           ascending=[True, True, False])
        for r in c.itertuples():
            rows.append({"baseline": r.baseline, "kind": "cell", "label": f"{r.dataset}, "
                         f"{protocol_label(r.split, r.test_responses)}", "score": r.score, "mean": r.mean_diff,
                         "low": r.ci_low, "high": r.ci_high})
    per, across = report.session_per, report.session_across
    if per is not None and len(per):
        p = where(per, **SESSIONS_CELL, task="average", scale="logit").sort_values(["animal", "session"],
                                                                                  na_position="last")
        for r in p.itertuples():
            animal = f" ({r.animal})" if isinstance(r.animal, str) and r.animal else ""
            rows.append({"baseline": r.baseline, "kind": "session", "label": f"{SESSIONS_UNIT} session {r.session}"
                         f"{animal}", "score": r.score, "mean": r.mean_diff, "low": r.seed_low, "high": r.seed_high})
        for r in where(across, **SESSIONS_CELL, task="average", scale="logit").itertuples():
            rows.append({"baseline": r.baseline, "kind": "sessions", "label": f"{SESSIONS_UNIT}, over "
                         f"{r.n_sessions} sessions", "score": r.score, "mean": r.mean_diff, "low": r.ci_low,
                         "high": r.ci_high})
    return pd.DataFrame(rows, columns=cols)


# ------------------------------------------------------------------ the other sentences the book states
def protocol_spread(table: pd.DataFrame, dataset: str = "cowley2023-v4") -> dict[str, float | str]:
    """How far the choice of protocol moves ``dataset``'s numbers (``table``: the report's table, the paper's
    rule, seed means): VNA's average AUC from held-out images to held-out trials (single trials), the largest gap
    between the three methods within one held-out protocol and where, and VNA's lead over direct encoding under
    held-out images. Keys: shift, gap, gap_protocol, lead, sentence."""
    single = table[(table["dataset"] == dataset) & (table["test_responses"] == "trials")
                   & table["method"].isin(METHODS)]
    held = single[single["split"].isin(["images", "trials"])]
    vna = held[held["method"] == "vna"].set_index("split")["mean_auc"]
    if not {"images", "trials"} <= set(vna.index):
        return {"shift": math.nan, "gap": math.nan, "gap_protocol": "", "lead": math.nan,
                "sentence": f"no held-out records of {dataset} yet"}
    spread = held.groupby("split")["mean_auc"].agg(lambda v: v.max() - v.min())
    gap_split = str(spread.idxmax())
    images = held[held["split"] == "images"].set_index("method")["mean_auc"]
    shift, gap = float(vna["trials"] - vna["images"]), float(spread.max())
    lead = float(images["vna"] - images["direct_encoder"])
    word = lambda x, y: "more than" if x > y else "less than"  # noqa: E731
    sentence = (f"on {dataset}, VNA's average AUC rises by {shift:.3f} from held-out images to held-out trials, "
                f"{word(shift, gap)} the largest gap between the three methods within one held-out protocol "
                f"({gap:.3f}, {protocol_label(gap_split, 'trials')}) and {word(shift, lead)} VNA's lead over direct "
                f"encoding ({lead:.3f}, held-out images)")
    return {"shift": shift, "gap": gap, "gap_protocol": gap_split, "lead": lead, "sentence": sentence}


def _neurons(records: pd.DataFrame) -> pd.Series:
    """The neurons each record's run kept, indexed by dataset."""
    return records.set_index("dataset")["neurons"].astype(float).dropna()


def filter_sentence(filtered: pd.DataFrame, filter_records: pd.DataFrame, study_records: pd.DataFrame) -> str:
    """What Huang et al.'s 0.8 reliability filter does to the study's rows (``filtered``: the report's filter
    table; ``filter_records`` and ``study_records``: the records of the filter grid and of the study, whose
    ``sizes`` say how many neurons each run kept)."""
    if filtered.empty:
        return "the filter grid has no records yet"
    on, off = _neurons(filter_records), _neurons(study_records)
    kept = []
    for dataset in sorted(set(on.index)):
        if dataset in set(off.index) and dataset != "simulated":
            lo, hi = int(on.loc[[dataset]].min()), int(on.loc[[dataset]].max())
            kept.append(f"{lo if lo == hi else f'{lo}-{hi}'} of {int(off.loc[[dataset]].max())} {dataset} neurons")
    change = filtered["change"].astype(float)
    lower = int((change < 0).sum())
    paper = filtered[filtered["score"] == "paper"]
    first = [d for d, g in paper.groupby("dataset", sort=True)
             if g.set_index("method")["mean_auc_filtered"].astype(float).idxmax() == "vna"]
    others = filtered[filtered["score"] != "paper"]
    gaps = [abs(float(g.set_index("method").loc["vna", "mean_auc_filtered"])
                - float(g.set_index("method").loc["direct_encoder", "mean_auc_filtered"]))
            for _, g in others.groupby(["score", "dataset"]) if {"vna", "direct_encoder"} <= set(g["method"])]
    text = (f"it keeps {', '.join(kept)}; " if kept else "") + (
        f"the filter lowers the average AUC in {lower} of {len(change)} rows (rule × dataset × method), by at most "
        f"{-change.min():.3f}" if lower else f"the filter lowers none of the {len(change)} rows' average AUC")
    text += (f", and under the paper's rule VNA stays first on {', '.join(first)}" if first else
             ", and under the paper's rule VNA is first on no dataset")
    if gaps:
        text += f" (seed means; under the other rules VNA and DE are at most {max(gaps):.3f} apart)"
    return text


def linear_chance_sentence(linear_table: pd.DataFrame, dataset: str = "allen-2p-ns118",
                           reference: str = "cowley2023-v4") -> str:
    """The linear baselines' average AUC on ``dataset`` beside ``reference`` under held-out images with trial means
    (``linear_table``: summarize + select_groups of the linear grid's records, the paper's rule)."""
    t = linear_table[(linear_table["split"] == "images") & (linear_table["test_responses"] == "mean")
                     & linear_table["method"].isin(["ridge_encoder", "ridge_decoder", "cca"])] \
        if len(linear_table) else linear_table
    names = {"ridge_encoder": "ridge encoding", "ridge_decoder": "ridge decoding", "cca": "CCA"}
    parts = {}
    for d in (dataset, reference):
        g = t[t["dataset"] == d].set_index("method")["mean_auc"] if len(t) else pd.Series(dtype=float)
        parts[d] = ", ".join(f"{names[m]} {float(g[m]):.3f}" for m in names if m in g.index)
    if not parts[dataset]:
        return f"the linear baselines have no records on {dataset} yet"
    return (f"average AUC {parts[dataset]} on {dataset} against {parts[reference] or 'no records'} on {reference} "
            "(held-out images, trial means)")


def paper_average_sentences() -> dict[str, str]:
    """The limitations chapter's sentences on the paper's Table 1 "average" column (from
    :func:`vna.study.tables.paper_average_check`). Keys: consistent, weights."""
    check = paper_average_check()
    good = check[check["consistent"]]
    bad = check[~check["consistent"]]
    below = bool((bad["difference"] < 0).all())
    worst = bad.loc[bad["difference"].abs().idxmax()]
    consistent = (f"Only {len(good)} of the {len(check)} ("
                  + "; ".join(f"{r.paper_dataset}, {METHOD_NAMES[r.method]}" for r in good.itertuples())
                  + f") is the mean of its two columns; the other {len(bad)} are "
                  + ("all below it" if below else "off it") + f", by up to {abs(float(worst['difference'])):.3f} "
                  f"({worst['paper_dataset']}, {METHOD_NAMES[worst['method']]})")
    spread = check.groupby("paper_dataset")["implied_encoding_weight"].agg(lambda w: w.max() - w.min()).idxmax()
    w = check[check["paper_dataset"] == spread]
    weights = (f"the implied weights on {spread} are "
               + ", ".join(f"{x:.2f}" for x in w["implied_encoding_weight"].iloc[:-1])
               + f" and {w['implied_encoding_weight'].iloc[-1]:.2f}")
    return {"consistent": consistent, "weights": weights}
