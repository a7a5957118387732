"""Figures of the reproduction study and the analyses (the results and analyses chapters).

* :func:`plot_forest` -- paired differences ``VNA - baseline`` with their 95 % intervals, per dataset ×
  protocol × task (a forest plot);
* :func:`plot_learning_curves` -- the validation mean AUC per epoch that early stopping watched, from the
  records' histories, with each run's chosen epoch;
* :func:`plot_sweep` -- AUC (or a paired difference) against a swept setting, per method.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..study.results import protocol_label
from .plots import METHOD_COLORS

__all__ = ["plot_forest", "plot_learning_curves", "plot_sweep", "COLORS", "SHORT"]

#: the paper's methods in the method chapters' colours, and the analyses' baselines beside them
COLORS = {**METHOD_COLORS, "ridge_encoder": "tab:cyan", "ridge_decoder": "tab:pink", "cca": "tab:olive",
          "trial_template": "0.3"}
SHORT = {"vna": "VNA", "direct_encoder": "DE", "direct_decoder": "DD", "ridge_encoder": "ridge enc. (linear)",
         "ridge_decoder": "ridge dec. (linear)", "cca": "CCA (linear)", "trial_template": "trial template"}
TASK_MARKERS = {"encoding": "o", "decoding": "s", "average": "D"}


def plot_forest(comparisons: pd.DataFrame, title: str = "") -> plt.Figure:
    """One row per dataset × protocol × baseline, one marker per task: the mean paired difference
    ``VNA - baseline`` over seeds with its 95 % t-interval; right of 0 favours VNA."""
    if comparisons.empty:
        raise ValueError("plot_forest got no comparisons")
    c = comparisons.copy()
    order = {"images": 0, "trials": 1, "none": 2}
    c["_o"] = c["split"].map(order)
    rows = (c[["dataset", "_o", "split", "test_responses", "baseline"]].drop_duplicates()
            .sort_values(["dataset", "_o", "test_responses", "baseline"], ascending=[True, True, False, True]))
    keys = list(rows.itertuples(index=False))
    fig, ax = plt.subplots(figsize=(8.5, 0.32 * len(keys) + 1.4))
    tasks = list(TASK_MARKERS)
    offsets = {t: (i - 1) * 0.22 for i, t in enumerate(tasks)}
    for y, k in enumerate(keys):
        sel = c[(c.dataset == k.dataset) & (c.split == k.split) & (c.test_responses == k.test_responses)
                & (c.baseline == k.baseline)]
        for _, r in sel.iterrows():
            yy = y + offsets[r["task"]]
            lo, hi = r["ci_low"], r["ci_high"]
            color = COLORS.get(k.baseline, "0.4")
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [yy, yy], color=color, lw=1.4)
            ax.plot(r["mean_diff"], yy, TASK_MARKERS[r["task"]], color=color, ms=5,
                    mfc="white" if r["task"] == "average" else color)
        if y and keys[y - 1].dataset != k.dataset:
            ax.axhline(y - 0.5, color="0.8", lw=0.8)
    ax.axvline(0, color="0.2", lw=1)
    ax.set_yticks(range(len(keys)))
    ax.set_yticklabels([f"{k.dataset}{' (SIM.)' if k.dataset == 'simulated' else ''} · "
                        f"{protocol_label(k.split, k.test_responses)} · vs {SHORT.get(k.baseline, k.baseline)}"
                        for k in keys], fontsize=8)
    ax.set_ylim(len(keys) - 0.5, -0.5)
    ax.set_xlabel("VNA − baseline, AUC (mean over seeds, 95 % t-interval); right of 0 favours VNA", fontsize=9)
    handles = [plt.Line2D([], [], marker=TASK_MARKERS[t], ls="", color="0.3", mfc="white" if t == "average" else "0.3",
                          label=t) for t in tasks]
    handles += [plt.Line2D([], [], color=COLORS[b], lw=2, label=f"vs {SHORT[b]}") for b in ("direct_encoder", "direct_decoder")]
    ax.legend(handles=handles, fontsize=8, loc="lower right", frameon=True)
    ax.grid(axis="x", color="0.92")
    if title:
        ax.set_title(title, fontsize=11, loc="left")
    fig.tight_layout()
    return fig


def plot_learning_curves(histories: pd.DataFrame, title: str = "") -> plt.Figure:
    """Validation mean AUC per epoch (one thin line per run, the seed mean thick) per dataset × method,
    with each run's chosen (best) epoch marked. ``histories``: columns dataset, method, seed, epoch,
    val_mean_auc, best_epoch."""
    if histories.empty:
        raise ValueError("plot_learning_curves got no histories")
    datasets = list(dict.fromkeys(histories["dataset"]))
    methods = [m for m in COLORS if m in set(histories["method"])]
    fig, axes = plt.subplots(1, len(datasets), figsize=(min(4.0 * len(datasets), 12), 3.2), squeeze=False)
    for ax, d in zip(axes[0], datasets):
        for m in methods:
            g = histories[(histories.dataset == d) & (histories.method == m)]
            for _, run in g.groupby("seed"):
                ax.plot(run["epoch"], run["val_mean_auc"], color=COLORS[m], lw=0.6, alpha=0.35)
                best = run[run["epoch"] == run["best_epoch"]]
                ax.plot(best["epoch"], best["val_mean_auc"], "o", color=COLORS[m], ms=3)
            mean = g.groupby("epoch")["val_mean_auc"].mean()
            ax.plot(mean.index, mean.values, color=COLORS[m], lw=2, label=SHORT[m])
        ax.axhline(0.5, color="0.5", ls=":", lw=1)
        ax.set_title(d + (" (SIMULATED)" if d == "simulated" else ""), fontsize=10)
        ax.set_xlabel("epoch")
    axes[0][0].set_ylabel("validation mean AUC")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_sweep(table: pd.DataFrame, x: str, y: str = "mean", err: str | None = "ci", *, by: str = "method",
               xlabel: str = "", ylabel: str = "mean AUC", logx: bool = False, panels: str | None = None,
               ax_titles: dict | None = None, chance: float | None = 0.5, zero: bool = False,
               xticks: Sequence | None = None, xticklabels: Sequence | None = None) -> plt.Figure:
    """``y`` (± ``err``) against ``x`` with one line per ``by`` value, optionally one panel per ``panels``
    value. Missing ``x`` values (e.g. "all") should be mapped to numbers by the caller."""
    if table.empty:
        raise ValueError("plot_sweep got an empty table")
    groups = list(dict.fromkeys(table[panels])) if panels else [None]
    fig, axes = plt.subplots(1, len(groups), figsize=(min(4.2 * len(groups), 12.5), 3.3), squeeze=False)
    for ax, gval in zip(axes[0], groups):
        sub = table if panels is None else table[table[panels] == gval]
        for key, g in sub.groupby(by, sort=False):
            g = g.sort_values(x)
            e = g[err].to_numpy(dtype=float) if err else None
            color = COLORS.get(key, None)
            ax.errorbar(g[x], g[y], yerr=None if e is None else np.where(np.isfinite(e), e, 0), marker="o", ms=4,
                        capsize=2, lw=1.5, color=color, label=SHORT.get(key, str(key)))
        if chance is not None:
            ax.axhline(chance, color="0.5", ls=":", lw=1)
        if zero:
            ax.axhline(0, color="0.2", lw=1)
        if logx:
            ax.set_xscale("log")
        if xticks is not None:
            ax.set_xticks(list(xticks))
            ax.set_xticklabels(list(xticklabels if xticklabels is not None else xticks))
            ax.minorticks_off()
        ax.set_xlabel(xlabel)
        if ax_titles is not None or gval is not None:
            ax.set_title((ax_titles or {}).get(gval, str(gval)), fontsize=10)
        ax.grid(color="0.93")
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig
