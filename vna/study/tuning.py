"""The validation sweep: one small grid of training settings, the same for every method, and the setting each
dataset × method × protocol then trains with.

The paper names Adam (section 4.3) and lost its learning rate, weight decay and batch size. A comparison of
three methods is fair only if each gets the same search: every setting of
:data:`vna.study.grids.TUNING_SETTINGS` (learning rate × weight decay × batch size, the defaults at its
centre) trains each method on each dataset and held-out protocol of the study
(:func:`vna.study.grids.tuning_grid`), with the study's early stopping, and is scored by the mean validation
AUC of its chosen epoch -- the validation part is carved out of the *training* data, so the test part never
chooses anything. The best setting per dataset × method × protocol (:func:`choose`) is written beside the
records (``tuned.csv``, :func:`write_tuned`), and the study's grids train with it
(:func:`vna.study.grids.tuned_fields`). The in-sample diagnostic has no held-out part to tune on; it trains
with its dataset's held-out-images choice.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .config import RunConfig
from .grids import STUDY_PROTOCOLS, TUNED_FIELDS, TUNED_FILE, TUNING_SETTINGS, tuning_grid
from .store import _atomic_write_text, load_records, read_record

__all__ = ["validation_aucs", "tuning_table", "choose", "write_tuned", "sweep_records", "verdict_changes"]

_DEFAULT = tuple(getattr(RunConfig, f) for f in TUNED_FIELDS)


def validation_aucs(records: pd.DataFrame) -> pd.DataFrame:
    """One row per record of ``records`` (:func:`vna.study.store.load_records` rows): its dataset, method,
    split, responses, seed, setting (``lr``, ``weight_decay``, ``batch_size``) and ``val_mean_auc``, the mean
    validation AUC of the epoch it kept. Nothing of the test part is read."""
    rows = []
    for path in records["path"]:
        rec = read_record(path)
        cfg, best = rec.config, rec.best_epoch
        val = next((h.get("val_mean_auc") for h in rec.history if h.get("epoch") == best), None)
        if val is None:
            raise ValueError(f"{path}: no validation AUC at its chosen epoch {best}; the sweep needs val_fraction > 0")
        rows.append({"dataset": cfg.dataset, "method": cfg.method, "split": cfg.split, "responses": cfg.responses,
                     "seed": cfg.seed, **cfg.arguments(TUNED_FIELDS), "val_mean_auc": float(val)})
    return pd.DataFrame(rows, columns=["dataset", "method", "split", "responses", "seed", *TUNED_FIELDS,
                                       "val_mean_auc"])


_GROUP = ["dataset", "method", "split", "responses"]


def tuning_table(val: pd.DataFrame) -> pd.DataFrame:
    """The mean validation AUC (over the sweep's seeds) of every setting, one row per dataset × method ×
    protocol × setting, with ``chosen`` marking the setting :func:`choose` picks."""
    table = val.groupby(_GROUP + list(TUNED_FIELDS), as_index=False).agg(
        val_mean_auc=("val_mean_auc", "mean"), seeds=("seed", "nunique"))
    chosen = choose(val)
    key = _GROUP + list(TUNED_FIELDS)
    picked = set(map(tuple, chosen[key].itertuples(index=False)))
    table["chosen"] = [tuple(r) in picked for r in table[key].itertuples(index=False)]
    return table


def choose(val: pd.DataFrame) -> pd.DataFrame:
    """The setting with the highest mean validation AUC for each dataset × method × protocol (ties: the defaults
    first, then the order of :data:`TUNING_SETTINGS`), with that AUC, the defaults' AUC and the number of
    settings tried."""
    order = {s: i for i, s in enumerate(sorted(TUNING_SETTINGS, key=lambda s: s != _DEFAULT))}
    rows = []
    for keys, g in val.groupby(_GROUP, sort=True):
        means = g.groupby(list(TUNED_FIELDS))["val_mean_auc"].mean()
        best = max(means.index, key=lambda s: (means[s], -order.get(tuple(s), len(order))))
        rows.append({**dict(zip(_GROUP, keys)), **dict(zip(TUNED_FIELDS, best)), "val_mean_auc": means[best],
                     "default_val_mean_auc": means.get(_DEFAULT, float("nan")), "settings": len(means),
                     "seeds": g["seed"].nunique()})
    out = pd.DataFrame(rows, columns=[*_GROUP, *TUNED_FIELDS, "val_mean_auc", "default_val_mean_auc", "settings",
                                      "seeds"])
    out["batch_size"] = out["batch_size"].astype(int)
    return out


def write_tuned(results_dir: str | os.PathLike, records: pd.DataFrame | None = None) -> Path:
    """Choose from the sweep's records in ``results_dir`` (every setting of every trained cell must be there)
    and write ``tuned.csv`` beside them, atomically; returns its path."""
    root = Path(results_dir)
    records = load_records(root) if records is None else records
    grid = tuning_grid(datasets=[d for d in STUDY_PROTOCOLS if d in set(records["dataset"])])
    wanted = {(c.signature(), c.seed) for c in grid}
    mine = records[[(s, seed) in wanted for s, seed in zip(records["signature"], records["seed"])]]
    if len(mine) != len(wanted):
        raise ValueError(f"the sweep in {root} is incomplete: {len(mine)} of {len(wanted)} runs have records; "
                         "run `python -m vna reproduce --grid tuning` first")
    chosen = choose(validation_aucs(mine))
    _atomic_write_text(root / TUNED_FILE, chosen.to_csv(index=False, float_format="%.6f"))
    return root / TUNED_FILE


def sweep_records(records: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``records`` (:func:`vna.study.store.load_records`) that belong to the sweep
    (:func:`vna.study.grids.tuning_grid`), matched by signature and seed."""
    wanted = {(c.signature(), c.seed) for c in tuning_grid()}
    return records[[(s, seed) in wanted for s, seed in zip(records["signature"], records["seed"])]]


_CELL = ["claim", "dataset", "split", "test_responses"]


def _verdict(v):
    """A verdict cell of the outer merge: its text, or None where that side has no verdict (NaN)."""
    return None if v is None or (isinstance(v, float) and pd.isna(v)) else v


def verdict_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """The verdicts that the tuned baselines changed: ``before`` and ``after`` are
    ``Report.verdict_table`` frames (:class:`vna.study.report.Report`) (one row per claim × cell, a column per scoring rule and
    ``overall``); one row per claim × cell × rule (``overall`` included) whose verdict differs, or that only one of
    the two has. Columns: claim, dataset, split, test_responses, counted, rule, before, after."""
    cols = [*_CELL, "counted", "rule", "before", "after"]
    if before.empty and after.empty:
        return pd.DataFrame(columns=cols)
    rules = [c for c in after.columns if c not in (*_CELL, "counted")]
    rules += [c for c in before.columns if c not in (*_CELL, "counted", *rules)]
    merged = before.merge(after, on=_CELL, how="outer", suffixes=("_before", "_after"))
    rows = []
    for r in merged.to_dict("records"):
        counted = r.get("counted_after")
        counted = r.get("counted_before") if counted is None or pd.isna(counted) else counted
        for rule in rules:
            b, a = _verdict(r.get(f"{rule}_before")), _verdict(r.get(f"{rule}_after"))
            if a != b:
                rows.append({**{k: r[k] for k in _CELL}, "counted": bool(counted), "rule": rule,
                             "before": b or "(no verdict)", "after": a or "(no verdict)"})
    return pd.DataFrame(rows, columns=cols)
