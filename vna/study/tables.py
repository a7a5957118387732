"""The study's summaries: mean and t-interval over seeds per dataset × method × protocol (:func:`summarize`), one
configuration per row (:func:`select_groups`), the display table with the paper's Table 1 beside it
(:func:`format_table`), and Table 1 itself (:data:`PAPER_TABLE1`, :func:`paper_average_check`).

Tables never mix configurations: :func:`select_groups` keeps, per dataset x method x protocol, the configuration a
grid definition names (or, without one, says which it chose and why).
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

from ..names import METHOD_NAMES, SPLIT_ORDER, protocol_label
from .config import RunConfig
from .record import METRICS

__all__ = ["PAPER_TABLE1", "PAPER_STAND_INS", "paper_rows", "summarize", "select_groups", "format_table",
           "mean_ci_text", "paper_average_check"]

#: Table 1 of the paper (AUC; encoding, decoding and the paper's "average" column, as printed).
PAPER_TABLE1 = pd.DataFrame(
    [
        ("Mouse-movie", "vna", 0.9969, 0.9973, 0.9971),
        ("Mouse-movie", "direct_encoder", 0.9905, 0.9982, 0.9941),
        ("Mouse-movie", "direct_decoder", 0.9956, 0.9973, 0.9962),
        ("Macaque-face", "vna", 0.9104, 0.9213, 0.9126),
        ("Macaque-face", "direct_encoder", 0.8489, 0.9248, 0.8797),
        ("Macaque-face", "direct_decoder", 0.8330, 0.8941, 0.8601),
        ("Macaque-synthetic", "vna", 0.9762, 0.9771, 0.9765),
        ("Macaque-synthetic", "direct_encoder", 0.8427, 0.8803, 0.8582),
        ("Macaque-synthetic", "direct_decoder", 0.7819, 0.8437, 0.8097),
    ],
    columns=["paper_dataset", "method", "encoding_auc", "decoding_auc", "average_auc"],
)

#: Which of our datasets stands in for which of the paper's (they are *not* the same recordings).
PAPER_STAND_INS = {
    "allen-2p-ns118": "Mouse-movie",  # same 118 Allen natural scenes; 2-photon VISp instead of Neuropixels
    "allen-neuropixels": "Mouse-movie",  # the paper's own source (needs a download)
    "cowley2023-v4": "Macaque-synthetic",  # V4, synthetic objects on natural backgrounds, but not Majaj-Hong
    "majajhong2015": "Macaque-synthetic",  # the paper's own source (needs a download)
    "chang2021-face": "Macaque-face",  # the paper's own source (from the authors only)
}


def paper_rows(dataset: str) -> pd.DataFrame:
    """Table 1's rows (one per method) of the paper dataset ``dataset`` stands in for, indexed by method; empty
    where it stands in for none."""
    return PAPER_TABLE1[PAPER_TABLE1["paper_dataset"] == PAPER_STAND_INS.get(dataset)].set_index("method")


def _t_halfwidth(values: np.ndarray, level: float = 0.95) -> float:
    values = values[np.isfinite(values)]
    n = len(values)
    if n < 2:
        return float("nan")
    from scipy import stats

    sd = float(np.std(values, ddof=1))
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n))


_ROW_KEYS = ["dataset", "method", "split", "test_responses"]


def summarize(records: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean and ``level`` t-interval half-width over seeds, per dataset × method × protocol × config group.

    Columns: dataset, method, split, responses, test_responses, protocol, epochs, group, n_seeds, seeds,
    and for each metric ``<metric>`` (mean) and ``<metric>_ci`` (half-width; NaN with one seed).
    """
    cols = [*_ROW_KEYS, "responses", "protocol", "epochs", "group", "signature", "n_seeds", "seeds", "device_kind",
            "threads", "best_epoch"]
    cols += [c for m in METRICS for c in (m, f"{m}_ci")]
    if records.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for keys, g in records.groupby([*_ROW_KEYS, "group"], sort=True):
        row = dict(zip([*_ROW_KEYS, "group"], keys))
        first = g.iloc[0]
        row.update(responses=first["responses"], protocol=first["protocol"], epochs=first["epochs"],
                   signature=first["signature"],
                   n_seeds=int(g["seed"].nunique()), seeds=" ".join(str(s) for s in sorted(g["seed"].unique())),
                   device_kind=first["device_kind"], threads=first["threads"],
                   best_epoch=float(pd.to_numeric(g["best_epoch"], errors="coerce").mean()))
        for m in METRICS:
            v = g[m].to_numpy(dtype=float)
            row[m] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
            row[f"{m}_ci"] = _t_halfwidth(v, level)
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def select_groups(summary: pd.DataFrame, grid: Iterable[RunConfig] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """One config group per dataset × method × protocol: ``(table, notes)``.

    With ``grid`` (the RunConfigs of a grid definition) only the groups it names are kept, matched by
    :meth:`RunConfig.signature` (whatever device and thread count ran them). Where more than one
    group remains for a row, the one with the most seeds is shown, ties broken by the smaller group key
    (never by date), and a note says which was chosen and what was left out.
    """
    notes: list[str] = []
    if summary.empty:
        return summary.copy(), notes
    table = summary
    if grid is not None:
        wanted = {c.signature() for c in grid}
        table = table[table["signature"].isin(wanted)]
    kept = []
    for keys, g in table.groupby(_ROW_KEYS, sort=True):
        g = g.sort_values(["n_seeds", "group"], ascending=[False, True])
        kept.append(g.iloc[0])
        if len(g) > 1:
            other = ", ".join(f"{r.group} ({r.n_seeds} seeds)" for r in g.iloc[1:].itertuples())
            notes.append(f"{keys[0]} {keys[1]} {keys[2]}/{keys[3]}: {len(g)} configurations; showing "
                         f"{g.iloc[0]['group']} ({g.iloc[0]['n_seeds']} seeds, the most), not {other}")
    out = pd.DataFrame(kept).reset_index(drop=True) if kept else table.iloc[:0].copy()
    order = {m: i for i, m in enumerate(METHOD_NAMES)}
    if len(out):
        out = (out.assign(_m=out["method"].map(order).fillna(99), _s=out["split"].map(SPLIT_ORDER).fillna(9))
               .sort_values(["dataset", "_s", "test_responses", "_m"], ascending=[True, True, False, True])
               .drop(columns=["_m", "_s"]).reset_index(drop=True))
    return out, notes


def mean_ci_text(mean, ci, digits: int = 4) -> str:
    """``0.8200 ± 0.0187``: a seed mean and its interval's half-width (the mean alone without one, "n/a" without a
    mean)."""
    mean, ci = float(mean), math.nan if ci is None else float(ci)
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean:.{digits}f}" + (f" ± {ci:.{digits}f}" if math.isfinite(ci) else "")


def format_table(table: pd.DataFrame, with_paper: bool = True) -> pd.DataFrame:
    """A display table: mean ± 95 % CI strings, the paper's Table 1 values beside them where one is comparable."""
    rows = []
    for _, r in table.iterrows():
        row = {
            "dataset": r["dataset"],
            "method": METHOD_NAMES.get(r["method"], r["method"]),
            "protocol": protocol_label(r["split"], r["test_responses"]),
            "seeds": int(r["n_seeds"]),
            "encoding AUC": mean_ci_text(r["encoding_auc"], r["encoding_auc_ci"]),
            "decoding AUC": mean_ci_text(r["decoding_auc"], r["decoding_auc_ci"]),
            "average AUC": mean_ci_text(r["mean_auc"], r["mean_auc_ci"]),
        }
        paper = paper_rows(r["dataset"])
        if with_paper and r["method"] in paper.index:
            h = paper.loc[r["method"]]
            row["paper (stand-in for)"] = h.paper_dataset
            row["paper enc / dec / avg"] = f"{h.encoding_auc:.4f} / {h.decoding_auc:.4f} / {h.average_auc:.4f}"
        elif with_paper:
            row["paper (stand-in for)"] = row["paper enc / dec / avg"] = "—"
        rows.append(row)
    return pd.DataFrame(rows)


def paper_average_check(tol: float = 5e-5) -> pd.DataFrame:
    """Table 1 with the mean of its encoding and decoding columns and whether the printed average equals it.

    ``consistent`` is True when the printed average is the two-column mean rounded to 4 decimals
    (within ``tol``, allowing for either rounding of a trailing 5). ``implied_encoding_weight`` is the
    ``w`` for which the printed average equals ``w * encoding + (1 - w) * decoding``; a pooled mean over
    the two tasks' test instances would give one ``w`` per dataset, shared by the three methods.
    """
    t = PAPER_TABLE1.copy()
    t["mean_of_columns"] = (t["encoding_auc"] + t["decoding_auc"]) / 2
    t["difference"] = (t["average_auc"] - t["mean_of_columns"]).round(5)
    t["consistent"] = (t["difference"].abs() <= tol + 1e-12)
    # The weight w with average = w * encoding + (1 - w) * decoding (NaN where the columns are equal).
    gap = t["decoding_auc"] - t["encoding_auc"]
    t["implied_encoding_weight"] = ((t["decoding_auc"] - t["average_auc"]) / gap.where(gap != 0)).round(3)
    return t
