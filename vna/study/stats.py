"""Paired statistics and verdicts on the paper's claims (issue "The reproduction study").

Runs with one seed share their split, initialisation and batch order, so VNA and a baseline are compared
*paired by seed*: per dataset × protocol × task (encoding, decoding, average), the seed-wise differences
``VNA - baseline`` give

* the mean paired difference and its 95 % t-interval over seeds (the decision interval, below);
* a paired t-test and a Wilcoxon signed-rank p-value (:mod:`scipy.stats`; with 5 seeds the smallest
  possible two-sided Wilcoxon p is 0.0625, so it can never fall below 0.05 -- it is shown, not used);
* a hierarchical bootstrap interval: resample seeds, then the test instances within each drawn seed
  (instance-wise paired differences, from the per-instance AUCs stored beside each record).

**Verdict rule** (:func:`verdict`): a claim that ``difference > 0`` *replicates* when the whole 95 %
t-interval of the paired difference lies above 0, *does not replicate* when it lies wholly below 0, and is
*inconclusive* when it contains 0; with fewer than two paired seeds it *cannot be tested*. Claim C3
("direct encoding's decoding is close to or above VNA's") is a non-inferiority claim with margin
:data:`C3_MARGIN`: it replicates when the interval of ``DE - VNA`` lies above ``-margin``, does not
when it lies below, and is inconclusive otherwise. A claim made of several comparisons replicates when all
do, does not when any does not, and is inconclusive otherwise.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from .results import read_instances

__all__ = [
    "LEVEL", "C3_MARGIN", "CLAIMS", "TASK_COLUMNS", "VERDICTS", "paired_difference", "hierarchical_bootstrap",
    "comparisons", "verdict", "verdicts", "closest_protocols",
]

LEVEL = 0.95
#: How much lower than VNA's the decoding AUC of direct encoding may be and still count as "close" (C3).
C3_MARGIN = 0.02
TASK_COLUMNS = {"encoding": "encoding_auc", "decoding": "decoding_auc", "average": "mean_auc"}
VERDICTS = ("replicates", "does not replicate", "inconclusive", "cannot test")

#: The paper's claims (section 5 and abstract) as comparisons ``(a, b, task)`` meaning "a - b > 0", or,
#: for the non-inferiority claim C3, "a - b > -C3_MARGIN".
CLAIMS: dict[str, dict] = {
    "C1": {"text": "VNA has the best average AUC",
           "tests": [("vna", "direct_encoder", "average"), ("vna", "direct_decoder", "average")], "margin": 0.0},
    "C2": {"text": "VNA beats direct decoding on both tasks and direct encoding on encoding",
           "tests": [("vna", "direct_decoder", "encoding"), ("vna", "direct_decoder", "decoding"),
                     ("vna", "direct_encoder", "encoding")], "margin": 0.0},
    "C3": {"text": f"direct encoding's decoding AUC is close to (within {C3_MARGIN}) or above VNA's",
           "tests": [("direct_encoder", "vna", "decoding")], "margin": C3_MARGIN},
}


def paired_difference(a: Iterable[float], b: Iterable[float], level: float = LEVEL) -> dict[str, float]:
    """Mean of ``a - b`` (paired), its ``level`` t-interval, the paired t-test and Wilcoxon p-values.

    NaN where the statistic is undefined (fewer than 2 pairs; Wilcoxon with all differences zero).
    """
    from scipy import stats

    a, b = np.asarray(list(a), dtype=float), np.asarray(list(b), dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired_difference needs two samples of one length; got {a.shape} and {b.shape}")
    d = a - b
    n = len(d)
    out = {"n": n, "mean": float(d.mean()) if n else math.nan, "low": math.nan, "high": math.nan,
           "t_p": math.nan, "wilcoxon_p": math.nan}
    if n < 2:
        return out
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n))
    out.update(low=out["mean"] - half, high=out["mean"] + half)
    if sd > 0:
        out["t_p"] = float(stats.ttest_rel(a, b).pvalue)
    elif out["mean"] != 0:
        out["t_p"] = 0.0  # every pair differs by the same non-zero amount
    if np.any(d != 0):
        out["wilcoxon_p"] = float(stats.wilcoxon(a, b).pvalue)
    return out


def hierarchical_bootstrap(per_seed: list[np.ndarray], level: float = LEVEL, n_boot: int = 2000,
                           seed: int = 0) -> tuple[float, float]:
    """``level`` interval of the mean paired difference by resampling seeds, then instances within each.

    ``per_seed[s]`` holds the instance-wise paired differences of seed ``s``. Each bootstrap draw picks
    ``len(per_seed)`` seeds with replacement and, for each, as many instances as it has, with replacement.
    """
    per_seed = [np.asarray(x, dtype=float) for x in per_seed if len(x)]
    if len(per_seed) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = np.stack([x[rng.integers(len(x), size=(n_boot, len(x)))].mean(axis=1) for x in per_seed])  # [S, B]
    pick = rng.integers(len(per_seed), size=(n_boot, len(per_seed)))  # [B, S]
    boot = means[pick, np.arange(n_boot)[:, None]].mean(axis=1)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _instances(path: str, task: str, loader: Callable[[str], dict]) -> np.ndarray:
    inst = loader(path)
    if task == "average":
        return 0.5 * (inst["encoding"] + inst["decoding"])
    return inst[task]


def comparisons(records: pd.DataFrame, *, level: float = LEVEL, n_boot: int = 2000,
                instances: Callable[[str], dict] | None = None,
                pairs: Iterable[tuple[str, str]] = (("vna", "direct_encoder"), ("vna", "direct_decoder"))
                ) -> pd.DataFrame:
    """Paired comparisons per dataset × protocol × pair of methods × task (module docstring).

    ``records``: :func:`vna.results.load_records` restricted to one configuration per dataset × method ×
    protocol (e.g. a grid's). ``instances(path)`` reads a record's per-instance AUCs (default
    :func:`vna.results.read_instances`); without per-instance files the bootstrap columns are NaN.
    Columns: dataset, split, test_responses, protocol, method, baseline, task, n_seeds, mean_diff,
    ci_low, ci_high, t_p, wilcoxon_p, boot_low, boot_high.
    """
    if instances is None:
        instances = read_instances
    cols = ["dataset", "split", "test_responses", "protocol", "method", "baseline", "task", "n_seeds", "mean_diff",
            "ci_low", "ci_high", "t_p", "wilcoxon_p", "boot_low", "boot_high"]
    rows = []
    if records.empty:
        return pd.DataFrame(columns=cols)
    for (dataset, split, test), g in records.groupby(["dataset", "split", "test_responses"], sort=True):
        for a, b in pairs:
            ra = g[g["method"] == a].drop_duplicates("seed").set_index("seed")
            rb = g[g["method"] == b].drop_duplicates("seed").set_index("seed")
            seeds = sorted(set(ra.index) & set(rb.index))
            if not len(ra) or not len(rb):
                continue
            for task, col in TASK_COLUMNS.items():
                d = paired_difference(ra.loc[seeds, col], rb.loc[seeds, col], level)
                boot = (math.nan, math.nan)
                try:
                    diffs = []
                    for s in seeds:
                        ia, ib = (_instances(r.loc[s, "path"], task, instances) for r in (ra, rb))
                        if ia.shape != ib.shape:
                            raise ValueError(f"seed {s}: {a} and {b} were tested on different instances")
                        diffs.append(ia - ib)
                    boot = hierarchical_bootstrap(diffs, level, n_boot, seed=0)
                except FileNotFoundError:
                    pass
                rows.append({"dataset": dataset, "split": split, "test_responses": test,
                             "protocol": g["protocol"].iloc[0], "method": a, "baseline": b, "task": task,
                             "n_seeds": d["n"], "mean_diff": d["mean"], "ci_low": d["low"], "ci_high": d["high"],
                             "t_p": d["t_p"], "wilcoxon_p": d["wilcoxon_p"], "boot_low": boot[0],
                             "boot_high": boot[1]})
    return pd.DataFrame(rows, columns=cols)


def verdict(low: float, high: float, n: int, margin: float = 0.0) -> str:
    """The rule of the module docstring for one comparison: is ``difference > -margin``?"""
    if n < 2 or not (math.isfinite(low) and math.isfinite(high)):
        return "cannot test"
    if low > -margin:
        return "replicates"
    if high < -margin:
        return "does not replicate"
    return "inconclusive"


def _combine(parts: list[str]) -> str:
    if not parts or "cannot test" in parts:
        return "cannot test"
    if all(p == "replicates" for p in parts):
        return "replicates"
    if "does not replicate" in parts:
        return "does not replicate"
    return "inconclusive"


def verdicts(comps: pd.DataFrame, splits: Iterable[str] = ("images", "trials")) -> pd.DataFrame:
    """One row per claim × dataset × protocol (held-out protocols only: in-sample is a diagnostic).

    Columns: claim, claim_text, dataset, protocol, split, test_responses, verdict, evidence (each
    comparison's difference, interval and verdict).
    """
    cols = ["claim", "claim_text", "dataset", "split", "test_responses", "protocol", "verdict", "evidence"]
    rows = []
    if comps.empty:
        return pd.DataFrame(columns=cols)
    comps = comps[comps["split"].isin(list(splits))]
    for (dataset, split, test), g in comps.groupby(["dataset", "split", "test_responses"], sort=True):
        for claim, spec in CLAIMS.items():
            parts, evidence = [], []
            for a, b, task in spec["tests"]:
                sign = 1.0
                hit = g[(g["method"] == a) & (g["baseline"] == b) & (g["task"] == task)]
                if hit.empty:  # stored the other way round: a - b = -(b - a)
                    hit, sign = g[(g["method"] == b) & (g["baseline"] == a) & (g["task"] == task)], -1.0
                if hit.empty:
                    parts.append("cannot test")
                    evidence.append(f"{a} - {b} {task}: no records")
                    continue
                r = hit.iloc[0]
                mean, lo, hi = sign * r["mean_diff"], *sorted((sign * r["ci_low"], sign * r["ci_high"]))
                v = verdict(lo, hi, int(r["n_seeds"]), spec["margin"])
                parts.append(v)
                evidence.append(f"{_short(a)} − {_short(b)} {task}: {mean:+.3f} [{lo:+.3f}, {hi:+.3f}] → {v}")
            rows.append({"claim": claim, "claim_text": spec["text"], "dataset": dataset, "split": split,
                         "test_responses": test, "protocol": g["protocol"].iloc[0], "verdict": _combine(parts),
                         "evidence": "; ".join(evidence)})
    return pd.DataFrame(rows, columns=cols)


def _short(method: str) -> str:
    return {"vna": "VNA", "direct_encoder": "DE", "direct_decoder": "DD"}.get(method, method)


def closest_protocols(table: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """For each of our datasets × each paper dataset: the mean absolute difference between our six numbers
    (three methods × encoding, decoding) under each protocol and the paper's six, and the closest protocol.

    ``table``: one row per dataset × method × protocol (:func:`vna.results.select_groups`); ``paper``:
    :data:`vna.results.PAPER_TABLE1`. Columns: dataset, paper_dataset, protocol, split, test_responses,
    distance, closest (bool).
    """
    cols = ["dataset", "paper_dataset", "protocol", "split", "test_responses", "distance", "closest"]
    rows = []
    if table.empty:
        return pd.DataFrame(columns=cols)
    methods = ["vna", "direct_encoder", "direct_decoder"]
    for (dataset, split, test), g in table.groupby(["dataset", "split", "test_responses"], sort=True):
        g = g.set_index("method")
        if not set(methods) <= set(g.index):
            continue
        ours = np.array([[g.loc[m, "encoding_auc"], g.loc[m, "decoding_auc"]] for m in methods])
        for pname, p in paper.groupby("paper_dataset", sort=False):
            p = p.set_index("method")
            theirs = np.array([[p.loc[m, "encoding_auc"], p.loc[m, "decoding_auc"]] for m in methods])
            rows.append({"dataset": dataset, "paper_dataset": pname, "protocol": g["protocol"].iloc[0],
                         "split": split, "test_responses": test,
                         "distance": float(np.abs(ours - theirs).mean())})
    out = pd.DataFrame(rows, columns=cols)
    if len(out):
        best = out.groupby(["dataset", "paper_dataset"])["distance"].transform("min")
        out["closest"] = out["distance"] == best
    return out
