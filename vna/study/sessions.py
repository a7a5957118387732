"""Does it replicate? Sessions and animals as the unit of replication.

Seeds re-split one recording: they measure training noise, not whether a claim holds in another session,
another animal, another area. This module

* builds the ``sessions`` grid (:func:`sessions_grid`): every pinned session of ``cowley2023-v4`` (macaque
  V4, animals WE and PE) and every region of ``antolik2016-v1`` (mouse V1) × the protocols it supports × the
  three methods × :data:`SESSION_SEEDS`. Sessions go through ``RunConfig.dataset_options``
  (``{"session": "190925"}``, ``{"region": 2}``); a dataset's default session (210325, region 1) keeps
  ``{}``, so its runs *are* the published study's runs (same keys). Trial-level sessions get every study
  protocol plus held-out images trained on trial means, so that all sessions share one like-for-like
  protocol; trial-means-only sessions get that one (held-out images, train and test on trial means);
* turns records into statistics with the **session** as the unit: per session the seed-mean paired
  difference on the AUC and the logit scale (:func:`per_session`); across sessions a t-interval, a sign count
  and a two-level (animals, then sessions within animals) bootstrap interval (:func:`across_sessions`); per
  claim a verdict worded "holds in k of n sessions, in both animals" (:func:`session_verdicts`).

A claim holds *in a session* when every comparison of the claim (:data:`vna.study.stats.REFEREE_CLAIMS`: C3 on
the logit scale with its margin, as in the per-cell verdicts) has a seed-mean difference above ``-margin`` there;
it holds *in an animal* when it holds in more than half of that animal's sessions. The across-session verdict
applies the rule of :mod:`vna.study.stats` (replicates, does not replicate, equivalent, inconclusive, cannot test)
to the t-interval over sessions: sessions are separate recordings, so the plain interval is the right one. A
comparison cannot be tested over sessions when it cannot be tested in one of them
(:func:`vna.study.stats.untestable`). Nothing here is computed from simulated data.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..data.real import ANTOLIK_FILES, COWLEY_PINS, COWLEY_SESSION, cowley_table
from ..data.user import from_folder
from ..methods import METHODS
from ..names import METHOD_SHORT
from .config import RunConfig
from .grids import STUDY_PROTOCOLS, _protocol_configs, known_datasets, protocols_for
from .store import load_records, read_record
from .stats import (
    LEVEL, REFEREE_CLAIMS, TASK_COLUMNS, available_scores, combine_verdicts, comparison_verdict, corrected_t_interval,
    logit, records_grid_step, rule_rows, untestable, verdict_text, where,
)

__all__ = [
    "SESSION_SEEDS", "MEAN_PROTOCOL", "session_units", "sessions_grid", "folders_grid", "add_sessions",
    "per_session", "method_table", "across_sessions", "two_level_bootstrap",
    "session_verdicts", "holds_wording", "summary_text", "grid_summary",
]

SESSION_SEEDS = (0, 1, 2)
#: The protocol every session supports: held-out images, trained and tested on trial means.
MEAN_PROTOCOL = ("images", "mean", "mean")
BASELINES = ("direct_encoder", "direct_decoder")


# ------------------------------------------------------------------------------------------- the grid
def session_units() -> pd.DataFrame:
    """The sessions of the grid (pinned files only): dataset, session, animal, species, area, trial_level,
    dataset_options (``{}`` for a dataset's default session, so its records are the study's)."""
    rows = []
    table = cowley_table()
    for s in sorted({r.split("_")[-1].split(".")[0] for r in COWLEY_PINS if r.startswith("images/")}):
        rows.append({"dataset": "cowley2023-v4", "session": s, "animal": table.get(s, (None,))[0],
                     "species": "macaque", "area": "V4",
                     "trial_level": f"responses_raw/responses_{s}.npy" in COWLEY_PINS,
                     "dataset_options": {} if s == COWLEY_SESSION else {"session": s}})
    for r in sorted(ANTOLIK_FILES):
        rows.append({"dataset": "antolik2016-v1", "session": f"region{r}", "animal": None, "species": "mouse",
                     "area": "V1", "trial_level": True, "dataset_options": {} if r == 1 else {"region": r}})
    return pd.DataFrame(rows)


def _unit_protocols(trial_level: bool, dataset: str) -> list[tuple[str, str, str]]:
    if not trial_level:
        return [MEAN_PROTOCOL]
    protocols = list(STUDY_PROTOCOLS.get(dataset, STUDY_PROTOCOLS["cowley2023-v4"]))
    return protocols + ([MEAN_PROTOCOL] if MEAN_PROTOCOL not in protocols else [])


def _configs(dataset: str, options: dict, protocols, methods, seeds, quick: bool, device: str, threads: int,
             overrides: dict) -> list[RunConfig]:
    out = _protocol_configs(dataset, protocols, methods, seeds, quick, device, threads,
                            {**overrides, "dataset_options": dict(options)})
    # quick mode trains every real dataset on trial means: protocols that then coincide are one run
    return list({c.key(): c for c in out}.values())


def sessions_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] = METHODS,
                  seeds: Sequence[int] = SESSION_SEEDS, *, sessions: Sequence[str] | None = None,
                  protocols: Sequence[tuple[str, str, str]] | None = None, quick: bool = False,
                  device: str = "auto", threads: int = 1, **overrides) -> list[RunConfig]:
    """Every session × the protocols it supports × methods × seeds (module docstring), optionally
    restricted to some datasets, sessions (``"190925"``, ``"region2"``) or protocols."""
    units = session_units()
    units = units[units["dataset"].isin(known_datasets(datasets, units["dataset"].unique(), "the sessions grid"))]
    if sessions is not None:
        unknown = sorted(set(map(str, sessions)) - set(units["session"]))
        if unknown:
            raise ValueError(f"the sessions grid has no session(s) {unknown}; its sessions: "
                             f"{', '.join(units['session'])}")
        units = units[units["session"].isin([str(s) for s in sessions])]
    configs = []
    for u in units.itertuples():
        mine = _unit_protocols(u.trial_level, u.dataset)
        if protocols is not None:
            mine = [p for p in mine if tuple(p) in {tuple(q) for q in protocols}]
        configs += _configs(u.dataset, u.dataset_options, mine, methods, seeds, quick, device, threads, overrides)
    return configs


def folders_grid(folders: Sequence[str], methods: Sequence[str] = METHODS, seeds: Sequence[int] = SESSION_SEEDS,
                 *, quick: bool = False, device: str = "auto", threads: int = 1, **overrides) -> list[RunConfig]:
    """Each recording folder as a session (``python -m vna reproduce --folder A --folder B``): the protocols
    it supports (plus :data:`MEAN_PROTOCOL`, shared by all) × methods × seeds."""
    configs = []
    for folder in folders:
        path = str(Path(folder).expanduser().resolve())
        rec = from_folder(path, **overrides.get("dataset_options", {}))
        mine = protocols_for(rec)
        mine = mine + ([MEAN_PROTOCOL] if MEAN_PROTOCOL not in mine else [])
        options = overrides.get("dataset_options", {})
        rest = {k: v for k, v in overrides.items() if k != "dataset_options"}
        configs += _configs(f"folder:{path}", options, mine, methods, seeds, quick, device, threads, rest)
    return configs


# ------------------------------------------------------------------------------------ sessions of records
def _folder_meta(dataset: str) -> dict:
    path = Path(dataset[len("folder:"):])
    meta = path / "meta.json"
    try:
        m = json.loads(meta.read_text()) if meta.is_file() else {}
    except (OSError, ValueError):
        m = {}
    return {"session": str(m.get("session") or path.name), "animal": m.get("animal"),
            "species": m.get("species", "own recordings"), "area": m.get("area", "")}


def _unit_of(dataset: str, options: dict) -> dict:
    """session, animal, species, area of a record from its dataset and dataset_options."""
    if dataset.startswith("folder:"):
        return _folder_meta(dataset)
    if dataset == "cowley2023-v4":
        s = str(options.get("session", COWLEY_SESSION))
        return {"session": s, "animal": cowley_table().get(s, (None,))[0], "species": "macaque", "area": "V4"}
    if dataset == "antolik2016-v1":
        return {"session": f"region{int(options.get('region', 1))}", "animal": None, "species": "mouse", "area": "V1"}
    return {"session": "default", "animal": None, "species": "", "area": ""}


def add_sessions(records: pd.DataFrame, configs: Iterable[RunConfig] | None = None) -> pd.DataFrame:
    """``records`` (:func:`vna.study.store.load_records`) with columns session, animal, species, area, unit
    (``"<dataset>"``, or ``"own recordings"`` for folders). With ``configs``, only the records of those configs
    (matched by signature and seed, like :func:`vna.study.analyses.grid_records`)."""
    out = records.copy()
    if configs is not None:
        wanted = {(c.signature(), c.seed) for c in configs}
        out = out[[(s, seed) in wanted for s, seed in zip(out["signature"], out["seed"])]].copy()
    if out.empty:
        return out.assign(session=[], animal=[], species=[], area=[], unit=[])
    if "session" not in out.columns:
        cfg = {p: read_record(p).config for p in set(out["path"])}
        units = [_unit_of(cfg[p].dataset, cfg[p].dataset_options) for p in out["path"]]
        for k in ("session", "animal", "species", "area"):
            out[k] = [u[k] for u in units]
    out["unit"] = ["own recordings" if str(d).startswith("folder:") else d for d in out["dataset"]]
    folders = out[out["unit"] == "own recordings"].drop_duplicates("dataset")
    if folders["session"].duplicated().any():  # two folders of one name: their paths tell them apart
        out.loc[out["unit"] == "own recordings", "session"] = out["dataset"].str[len("folder:"):]
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------------------- statistics
_PROTO = ["split", "responses", "test_responses"]
_SESSION = ["unit", "dataset", "session", "animal", "species", "area"]


def method_table(records: pd.DataFrame, score: str = "paper") -> pd.DataFrame:
    """One row per session × protocol × method: seed-mean encoding, decoding and average AUC under ``score``
    (the closing note's per-session table). ``records`` must carry session columns (:func:`add_sessions`)."""
    records = rule_rows(records, score)
    g = records.fillna({"animal": ""}).groupby(_SESSION + _PROTO + ["method"], sort=True, dropna=False)
    out = g[list(TASK_COLUMNS.values())].mean().rename(columns={v: k for k, v in TASK_COLUMNS.items()})
    out["n_seeds"] = g["seed"].nunique()
    out = out.reset_index()
    out["animal"] = out["animal"].replace("", None)
    return out


def per_session(records: pd.DataFrame, score: str = "paper", baselines: Sequence[str] = BASELINES,
                method: str = "vna") -> pd.DataFrame:
    """Per session × protocol × baseline × task × scale (``auc``, ``logit``): the seed-mean paired difference
    ``method - baseline`` (seeds paired: one seed, one split), with n_seeds, the seeds' corrected t-interval
    (:func:`vna.study.stats.corrected_t_interval`, n_test/n_train from the records' sizes; NaN without them) and
    ``untestable``: why the comparison cannot be tested in this session (:func:`vna.study.stats.untestable`),
    empty where it can.

    Columns: unit, dataset, session, animal, species, area, split, responses, test_responses, method, baseline,
    task, scale, n_seeds, mean_diff, seed_low, seed_high, untestable.
    """
    records = rule_rows(records, score)
    out_cols = _SESSION + _PROTO + ["method", "baseline", "task", "scale", "n_seeds", "mean_diff", "seed_low",
                                    "seed_high", "untestable"]
    rows = []
    for keys, g in records.fillna({"animal": ""}).groupby(_SESSION + _PROTO, sort=True, dropna=False):
        a = g[g["method"] == method].drop_duplicates("seed").set_index("seed")
        for b in baselines:
            rb = g[g["method"] == b].drop_duplicates("seed").set_index("seed")
            seeds = sorted(set(a.index) & set(rb.index))
            if not seeds:
                continue
            sized = "test_train_ratio" in a.columns  # rows of the store (planted tables may have no sizes)
            ratio = float(np.mean(a.loc[seeds, "test_train_ratio"].to_numpy(dtype=float))) if sized else math.nan
            for task, col in TASK_COLUMNS.items():
                va, vb = a.loc[seeds, col].to_numpy(dtype=float), rb.loc[seeds, col].to_numpy(dtype=float)
                ok = np.isfinite(va) & np.isfinite(vb)  # records made before a rule have no value under it
                if not ok.any():
                    continue
                reason = untestable({METHOD_SHORT[method]: va[ok], METHOD_SHORT[b]: vb[ok]}, task,
                                    records_grid_step(a.loc[seeds], task) if sized else math.nan)
                for scale, d in (("auc", va[ok] - vb[ok]), ("logit", logit(va[ok]) - logit(vb[ok]))):
                    ci = corrected_t_interval(d, ratio)
                    rows.append({**dict(zip(_SESSION + _PROTO, keys)), "method": method, "baseline": b, "task": task,
                                 "scale": scale, "n_seeds": ci["n"], "mean_diff": ci["mean"], "seed_low": ci["low"],
                                 "seed_high": ci["high"], "untestable": reason})
    out = pd.DataFrame(rows, columns=out_cols)
    out["animal"] = out["animal"].replace("", None)
    return out


def two_level_bootstrap(values: Sequence[float], animals: Sequence, level: float = LEVEL, n_boot: int = 4000,
                        seed: int = 0, return_draws: bool = False):
    """``level`` interval of the mean over sessions by a two-level bootstrap: draw as many animals as there
    are, with replacement; within each drawn animal, draw as many of its sessions as it has, with
    replacement; the statistic is the mean over all drawn sessions. Sessions of an unknown animal
    (``None``) count as one animal each. Returns ``(low, high)`` (and the draws with ``return_draws``)."""
    values = np.asarray(values, dtype=float)
    groups = _groups(animals)
    if len(values) < 2:
        return ((math.nan, math.nan), np.array([])) if return_draws else (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    pick = rng.integers(len(groups), size=(n_boot, len(groups)))  # [B, A] drawn animals
    sums = np.zeros(n_boot)
    counts = np.zeros(n_boot)
    for slot in range(len(groups)):
        for a, idx in enumerate(groups):
            hit = pick[:, slot] == a
            if hit.any():
                draw = values[idx][rng.integers(len(idx), size=(int(hit.sum()), len(idx)))]
                sums[hit] += draw.sum(axis=1)
                counts[hit] += len(idx)
    draws = sums / counts
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return ((float(lo), float(hi)), draws) if return_draws else (float(lo), float(hi))


def _groups(animals: Sequence) -> list[np.ndarray]:
    labels = [f"\0{i}" if a is None or (isinstance(a, float) and math.isnan(a)) else str(a)
              for i, a in enumerate(animals)]
    order = list(dict.fromkeys(labels))
    return [np.flatnonzero(np.array(labels) == lab) for lab in order]


def across_sessions(per: pd.DataFrame, level: float = LEVEL, n_boot: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Per unit (dataset) × protocol × baseline × task × scale, over sessions: mean of the session differences,
    its t-interval (sessions as the unit: separate recordings, so no correction), the sign count (sessions with a
    positive difference), the two-level bootstrap interval, the number of sessions and animals, and
    ``untestable``: the sessions where the comparison cannot be tested and why (then it cannot be tested over
    sessions either).

    Columns: unit, species, area, split, responses, test_responses, method, baseline, task, scale, n_sessions,
    n_animals, mean_diff, ci_low, ci_high, n_positive, boot_low, boot_high, untestable.
    """
    cols = ["unit", "species", "area", *_PROTO, "method", "baseline", "task", "scale", "n_sessions", "n_animals",
            "mean_diff", "ci_low", "ci_high", "n_positive", "boot_low", "boot_high", "untestable"]
    rows = []
    keys_of = ["unit", *_PROTO, "method", "baseline", "task", "scale"]
    for keys, g in per.groupby(keys_of, sort=True):
        d = g["mean_diff"].to_numpy(float)
        t = corrected_t_interval(d, 0.0, level)  # ratio 0: the plain t-interval over sessions
        boot = two_level_bootstrap(d, list(g["animal"]), level, n_boot, seed)
        known = {a for a in g["animal"] if a is not None and not (isinstance(a, float) and math.isnan(a))}
        bad = [f"{s}: {r}" for s, r in zip(g["session"], g["untestable"]) if isinstance(r, str) and r]
        rows.append({**dict(zip(keys_of, keys)),
                     "species": g["species"].iloc[0], "area": g["area"].iloc[0], "n_sessions": len(d),
                     "n_animals": len(known), "mean_diff": t["mean"], "ci_low": t["low"], "ci_high": t["high"],
                     "n_positive": int((d > 0).sum()), "boot_low": boot[0], "boot_high": boot[1],
                     "untestable": "; ".join(bad)})
    return pd.DataFrame(rows, columns=cols)


def holds_wording(holds: dict[str, bool], animals: dict[str, object]) -> str:
    """"holds in k of n sessions, in both animals" etc. ``holds``: session -> whether the claim holds there;
    ``animals``: session -> animal (``None`` when unknown). An animal counts when the claim holds in more
    than half of its sessions."""
    n, k = len(holds), sum(bool(v) for v in holds.values())
    text = f"holds in {k} of {n} session{'s' if n != 1 else ''}"
    by_animal: dict[str, list[bool]] = {}
    for s, h in holds.items():
        a = animals.get(s)
        if a is not None and not (isinstance(a, float) and math.isnan(a)):
            by_animal.setdefault(str(a), []).append(bool(h))
    if not by_animal:
        return text + " (animals not known)"
    if any(animals.get(s) is None or (isinstance(animals.get(s), float) and math.isnan(animals.get(s)))
           for s in holds):
        text += " (some sessions' animal not known)"
    good = sorted(a for a, hs in by_animal.items() if sum(hs) > len(hs) / 2)
    m = len(by_animal)
    if m == 1:
        only = next(iter(by_animal))
        return text + f", all from one animal ({only})"
    if len(good) == m:
        return text + (", in both animals" if m == 2 else f", in all {m} animals")
    if not good:
        return text + (", in neither animal" if m == 2 else f", in none of the {m} animals")
    return text + f", in {len(good)} of {m} animals ({', '.join(good)})"


def session_verdicts(per: pd.DataFrame, across: pd.DataFrame | None = None,
                     splits: Iterable[str] = ("images", "trials")) -> pd.DataFrame:
    """Per claim × unit (species/area) × held-out protocol: the wording of :func:`holds_wording` and the
    across-session verdict (:func:`vna.study.stats.comparison_verdict` on each comparison's t-interval over
    sessions, C3 on the logit scale with its margin, the equivalence test on the logit scale; combined by
    :func:`vna.study.stats.combine_verdicts`).

    Columns: claim, claim_text, unit, species, area, split, responses, test_responses, n_sessions, n_holds,
    wording, verdict, evidence.
    """
    cols = ["claim", "claim_text", "unit", "species", "area", *_PROTO, "n_sessions", "n_holds", "wording",
            "verdict", "evidence"]
    if across is None:
        across = across_sessions(per)
    per = per[per["split"].isin(list(splits))]
    rows = []
    for keys, g in per.groupby(["unit", *_PROTO], sort=True):
        acr = where(across, **dict(zip(["unit", *_PROTO], keys)))
        sessions = list(dict.fromkeys(g["session"]))
        animals = dict(zip(g["session"], g["animal"]))
        for claim, spec in REFEREE_CLAIMS.items():
            holds = {s: True for s in sessions}
            parts, evidence, ok = [], [], True
            for a, b, task, scale in spec["tests"]:
                sign, base, meth = (1.0, b, a) if a == "vna" else (-1.0, a, b)
                hit = where(g, method=meth, baseline=base, task=task, scale=scale)
                if hit.empty:
                    ok = False
                    evidence.append(f"{a} - {b} {task}: no records")
                    continue
                diff = dict(zip(hit["session"], sign * hit["mean_diff"]))
                for s in sessions:
                    holds[s] = holds[s] and s in diff and diff[s] > -spec["margin"]
                v, text = comparison_verdict(acr, a, b, task, scale, spec["margin"], spec["equivalence"],
                                             n_col="n_sessions")
                parts.append(v)
                n = acr["n_sessions"].max() if len(acr) else 0
                evidence.append(text.replace(" → ", f" over {int(n)} sessions → ", 1))
            if not ok:
                parts.append("cannot test")
            rows.append({"claim": claim, "claim_text": spec["text"], "unit": keys[0],
                         "species": g["species"].iloc[0], "area": g["area"].iloc[0],
                         **dict(zip(_PROTO, keys[1:])), "n_sessions": len(sessions),
                         "n_holds": sum(holds.values()) if ok else 0,
                         "wording": holds_wording(holds, animals) if ok else "cannot test (missing methods)",
                         "verdict": combine_verdicts(parts), "evidence": "; ".join(evidence)})
    return pd.DataFrame(rows, columns=cols)


def _protocol_text(r) -> str:
    return f"{r.split}/{r.responses}->{r.test_responses}"


def summary_text(records: pd.DataFrame, scores: Sequence[str] | None = None) -> str:
    """The across-session summary that ``python -m vna reproduce --folder A --folder B`` prints, per scoring rule
    the records carry (``scores``: those rules only): for each unit × *held-out* protocol, VNA − DE and VNA − DD
    average AUC over sessions, and each claim's wording and verdict over sessions (the words and the equivalence
    test of the sessions grid); the in-sample diagnostic apart, its differences only, never in a verdict."""
    rules = list(scores or available_scores(records) or ["paper"])
    lines = []
    for rule in rules:
        per = per_session(records, rule)
        if per.empty:
            continue
        held = per[per["split"].isin(["images", "trials"])]
        inside = per[per["split"] == "none"]
        lines.append(f"across sessions, {rule} rule (held-out protocols; t-interval over sessions):")
        if held.empty:
            lines.append("  no held-out protocol in these records")
        else:
            acr = across_sessions(held, n_boot=200)
            for r in acr[(acr["task"] == "average") & (acr["scale"] == "auc")].itertuples():
                lines.append(f"  VNA - {METHOD_SHORT[r.baseline]} average AUC [{r.unit}, "
                             f"{_protocol_text(r)}]: {r.mean_diff:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}] over {r.n_sessions} sessions, "
                             f"{r.n_positive} of {r.n_sessions} > 0")
            for r in session_verdicts(held, acr).itertuples():
                why = ""
                if r.verdict == "cannot test" and "→ cannot test (" in r.evidence:  # the first comparison's reason
                    why = " (" + r.evidence.split("→ cannot test (", 1)[1].split("; ")[0].rstrip(")") + ")"
                lines.append(f"  {r.claim} [{r.unit}, {_protocol_text(r)}]: {r.wording}; over sessions: "
                             f"{verdict_text(r.verdict)}{why}")
        if len(inside):
            acr = across_sessions(inside, n_boot=200)
            lines.append(f"  in-sample diagnostic, {rule} rule (the test pairs are the training pairs; shown apart, "
                         "never in a verdict):")
            for r in acr[(acr["task"] == "average") & (acr["scale"] == "auc")].itertuples():
                lines.append(f"    VNA - {METHOD_SHORT[r.baseline]} average AUC [{r.unit}, "
                             f"{_protocol_text(r)}]: {r.mean_diff:+.4f} over {r.n_sessions} sessions")
    if not lines:
        return "no paired records (VNA and a baseline) to summarise across sessions"
    return "\n".join(lines)


def grid_summary(results_dir, configs: Sequence[RunConfig], scores: Sequence[str] | None = None) -> str:
    """:func:`summary_text` of the records of ``configs`` in ``results_dir`` (sessions from their configs)."""
    return summary_text(add_sessions(load_records(results_dir, score=None), configs), scores)
