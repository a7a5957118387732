"""Figures of the reproduction study and the analyses (the results and analyses chapters).

* :func:`plot_forest` -- paired differences ``VNA - baseline`` with their 95 % intervals, per dataset ×
  protocol × task (a forest plot);
* :func:`plot_learning_curves` -- the validation mean AUC per epoch that early stopping watched, from the
  records' histories, with each run's chosen epoch;
* :func:`plot_sweep` -- AUC (or a paired difference) against a swept setting, per method;
* :func:`plot_tuning` -- the validation sweep: each setting's validation AUC per method, the chosen one boxed;
* :func:`plot_differences_by_score` -- VNA − DE and VNA − DD per scoring rule (:mod:`vna.scoring`), one panel
  per comparison;
* :func:`plot_findings` -- the first page's figure: VNA − DE and VNA − DD on the logit scale under each rule, per
  recording cell and per session, with the equivalence band;
* :func:`plot_norm_diagnostic` -- each test instance's encoding AUC against the norm ‖y‖ of its true
  response, per method and rule, with Spearman's ρ (both computed by :mod:`vna.study.diagnostics`).

Like :mod:`vna.chapters.plots`, every function draws what it is given on ``ax=`` (an ``Axes``, or a sequence
of them for several panels; a new figure when ``None``) and returns it.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..names import METHOD_COLORS, METHOD_SHORT, RULE_COLORS, TASK_MARKERS, protocol_label
from .plots import _ax, _axes

__all__ = ["plot_forest", "plot_learning_curves", "plot_sweep", "plot_tuning", "plot_differences_by_score",
           "plot_findings", "plot_norm_diagnostic", "COLORS", "SHORT"]

COLORS, SHORT = METHOD_COLORS, METHOD_SHORT  # the names notebooks 05 and 06 use (vna.names)


def plot_forest(comparisons: pd.DataFrame, title: str = "", ax=None):
    """One row per dataset × protocol × baseline, one marker per task: the mean paired difference
    ``VNA - baseline`` over seeds with its 95 % t-interval; right of 0 favours VNA. Returns ``ax``."""
    if comparisons.empty:
        raise ValueError("plot_forest got no comparisons")
    c = comparisons.copy()
    order = {"images": 0, "trials": 1, "none": 2}
    c["_o"] = c["split"].map(order)
    rows = (c[["dataset", "_o", "split", "test_responses", "baseline"]].drop_duplicates()
            .sort_values(["dataset", "_o", "test_responses", "baseline"], ascending=[True, True, False, True]))
    keys = list(rows.itertuples(index=False))
    ax = _ax(ax, (8.5, 0.32 * len(keys) + 1.4))
    tasks = list(TASK_MARKERS)
    offsets = {t: (i - 1) * 0.22 for i, t in enumerate(tasks)}
    for y, k in enumerate(keys):
        sel = c[(c.dataset == k.dataset) & (c.split == k.split) & (c.test_responses == k.test_responses)
                & (c.baseline == k.baseline)]
        for _, r in sel.iterrows():
            yy = y + offsets[r["task"]]
            lo, hi = r["ci_low"], r["ci_high"]
            color = METHOD_COLORS.get(k.baseline, "0.4")
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [yy, yy], color=color, lw=1.4)
            ax.plot(r["mean_diff"], yy, TASK_MARKERS[r["task"]], color=color, ms=5,
                    mfc="white" if r["task"] == "average" else color)
        if y and keys[y - 1].dataset != k.dataset:
            ax.axhline(y - 0.5, color="0.8", lw=0.8)
    ax.axvline(0, color="0.2", lw=1)
    ax.set_yticks(range(len(keys)))
    ax.set_yticklabels([f"{k.dataset}{' (SIM.)' if k.dataset == 'simulated' else ''} · "
                        f"{protocol_label(k.split, k.test_responses)} · vs {METHOD_SHORT.get(k.baseline, k.baseline)}"
                        for k in keys], fontsize=8)
    ax.set_ylim(len(keys) - 0.5, -0.5)
    ax.set_xlabel("VNA − baseline, AUC (mean over seeds, 95 % t-interval); right of 0 favours VNA", fontsize=9)
    handles = [plt.Line2D([], [], marker=TASK_MARKERS[t], ls="", color="0.3", mfc="white" if t == "average" else "0.3",
                          label=t) for t in tasks]
    handles += [plt.Line2D([], [], color=METHOD_COLORS[b], lw=2, label=f"vs {METHOD_SHORT[b]}") for b in ("direct_encoder", "direct_decoder")]
    ax.legend(handles=handles, fontsize=8, loc="lower right", frameon=True)
    ax.grid(axis="x", color="0.92")
    if title:
        ax.set_title(title, fontsize=11, loc="left")
    ax.figure.tight_layout()
    return ax


def plot_learning_curves(histories: pd.DataFrame, title: str = "", ax=None) -> np.ndarray:
    """Validation mean AUC per epoch (one thin line per run, the seed mean thick) per dataset × method,
    with each run's chosen (best) epoch marked. ``histories``: columns dataset, method, seed, epoch,
    val_mean_auc, best_epoch. ``ax``: one Axes per dataset. Returns the axes."""
    if histories.empty:
        raise ValueError("plot_learning_curves got no histories")
    datasets = list(dict.fromkeys(histories["dataset"]))
    methods = [m for m in METHOD_COLORS if m in set(histories["method"])]
    axes = _axes(ax, (1, len(datasets)), "plot_learning_curves", figsize=(min(4.0 * len(datasets), 12), 3.2))
    for ax, d in zip(axes[0], datasets):
        for m in methods:
            g = histories[(histories.dataset == d) & (histories.method == m)]
            for _, run in g.groupby("seed"):
                ax.plot(run["epoch"], run["val_mean_auc"], color=METHOD_COLORS[m], lw=0.6, alpha=0.35)
                best = run[run["epoch"] == run["best_epoch"]]
                ax.plot(best["epoch"], best["val_mean_auc"], "o", color=METHOD_COLORS[m], ms=3)
            mean = g.groupby("epoch")["val_mean_auc"].mean()
            ax.plot(mean.index, mean.values, color=METHOD_COLORS[m], lw=2, label=METHOD_SHORT[m])
        ax.axhline(0.5, color="0.5", ls=":", lw=1)
        ax.set_title(d + (" (SIMULATED)" if d == "simulated" else ""), fontsize=10)
        ax.set_xlabel("epoch")
    axes[0][0].set_ylabel("validation mean AUC")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig = axes[0][0].figure
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return axes


def plot_sweep(table: pd.DataFrame, x: str, y: str = "mean", err: str | None = "ci", *, by: str = "method",
               xlabel: str = "", ylabel: str = "mean AUC", logx: bool = False, panels: str | None = None,
               ax_titles: dict | None = None, chance: float | None = 0.5, zero: bool = False,
               xticks: Sequence | None = None, xticklabels: Sequence | None = None, ax=None) -> np.ndarray:
    """``y`` (± ``err``) against ``x`` with one line per ``by`` value, optionally one panel per ``panels``
    value. Missing ``x`` values (e.g. "all") should be mapped to numbers by the caller. ``ax``: one Axes per
    panel. Returns the axes."""
    if table.empty:
        raise ValueError("plot_sweep got an empty table")
    groups = list(dict.fromkeys(table[panels])) if panels else [None]
    axes = _axes(ax, (1, len(groups)), "plot_sweep", figsize=(min(4.2 * len(groups), 12.5), 3.3))
    for ax, gval in zip(axes[0], groups):
        sub = table if panels is None else table[table[panels] == gval]
        for key, g in sub.groupby(by, sort=False):
            g = g.sort_values(x)
            e = g[err].to_numpy(dtype=float) if err else None
            color = METHOD_COLORS.get(key, None)
            ax.errorbar(g[x], g[y], yerr=None if e is None else np.where(np.isfinite(e), e, 0), marker="o", ms=4,
                        capsize=2, lw=1.5, color=color, label=METHOD_SHORT.get(key, str(key)))
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
    axes[0][0].figure.tight_layout()
    return axes


def plot_tuning(table: pd.DataFrame, ax=None) -> np.ndarray:
    """The validation sweep (``table``: :func:`vna.study.tuning.tuning_table`): one panel per dataset × held-out
    protocol, one row per method, one column per setting (learning rate / weight decay / batch size), coloured and
    labelled by its mean validation AUC relative to the panel's best; the chosen setting is boxed. ``ax``: one
    Axes per panel, stacked. Returns the axes."""
    if table.empty:
        raise ValueError("plot_tuning got an empty table")
    cells = list(dict.fromkeys(zip(table["dataset"], table["split"])))
    settings = sorted(set(zip(table["lr"], table["weight_decay"], table["batch_size"])))
    axes = _axes(ax, (len(cells), 1), "plot_tuning", figsize=(11.5, 1.25 * len(cells) + 1.2))
    for ax, (dataset, split) in zip(axes[:, 0], cells):
        part = table[(table["dataset"] == dataset) & (table["split"] == split)]
        methods = [m for m in COLORS if m in set(part["method"])]
        grid = np.full((len(methods), len(settings)), np.nan)
        for r in part.itertuples():
            grid[methods.index(r.method), settings.index((r.lr, r.weight_decay, r.batch_size))] = r.val_mean_auc
        best = np.nanmax(grid, axis=1, keepdims=True)
        ax.imshow(grid - best, aspect="auto", cmap="viridis", vmin=-0.05, vmax=0)
        for i, j in np.ndindex(grid.shape):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.3f}"[1:], ha="center", va="center", fontsize=6,
                        color="white" if grid[i, j] - best[i, 0] < -0.03 else "black")
        for r in part[part["chosen"]].itertuples():
            j, i = settings.index((r.lr, r.weight_decay, r.batch_size)), methods.index(r.method)
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="tab:red", lw=1.8))
        ax.set_yticks(range(len(methods)))
        ax.set_yticklabels([SHORT.get(m, m) for m in methods], fontsize=8)
        ax.set_xticks(range(len(settings)))
        ax.set_xticklabels([f"{lr:g}\n{wd:g}\n{b}" for lr, wd, b in settings], fontsize=6)
        ax.set_title(f"{dataset}, {protocol_label(split, part['responses'].iloc[0])}", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("learning rate / weight decay / batch size (colour: validation AUC minus the row's best, "
                           "down to -0.05; box: chosen)", fontsize=8)
    axes[0, 0].figure.tight_layout()
    return axes


def plot_differences_by_score(referee: pd.DataFrame, tasks: Sequence[str] = ("encoding", "decoding", "average"),
                              title: str = "", ax=None) -> np.ndarray:
    """VNA − baseline per scoring rule: one panel per comparison (VNA − DE, VNA − DD), one row per dataset ×
    protocol × task, one marker and corrected 95 % t-interval per rule (``referee``:
    :func:`vna.study.stats.referee_comparisons` of one or several rules; AUC scale). Right of 0 favours VNA.
    ``ax``: one Axes per comparison, sharing their y axis. Returns the axes."""
    c = referee[(referee["scale"] == "auc") & referee["task"].isin(list(tasks))] if len(referee) else referee
    if c.empty:
        raise ValueError("plot_differences_by_score got no comparisons")
    rules = [r for r in RULE_COLORS if r in set(c["score"])]
    baselines = [b for b in ("direct_encoder", "direct_decoder") if b in set(c["baseline"])]
    order = {"images": 0, "trials": 1}
    cells = (c[["dataset", "split", "test_responses"]].drop_duplicates()
             .assign(_o=lambda d: d["split"].map(order))
             .sort_values(["dataset", "_o", "test_responses"], ascending=[True, True, False]))
    keys = [(r.dataset, r.split, r.test_responses, t) for r in cells.itertuples() for t in tasks]
    axes = _axes(ax, (1, len(baselines)), "plot_differences_by_score",
                 figsize=(5.6 * len(baselines), 0.24 * len(keys) + 1.6), sharey=True)
    offsets = {r: (i - (len(rules) - 1) / 2) * 0.22 for i, r in enumerate(rules)}
    for ax, b in zip(axes[0], baselines):
        sel = c[c["baseline"] == b].set_index(["dataset", "split", "test_responses", "task", "score"])
        for y, k in enumerate(keys):
            for rule in rules:
                if (*k, rule) not in sel.index:
                    continue
                r = sel.loc[(*k, rule)]
                r = r.iloc[0] if isinstance(r, pd.DataFrame) else r
                yy = y + offsets[rule]
                if np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"]):
                    ax.plot([r["ci_low"], r["ci_high"]], [yy, yy], color=RULE_COLORS[rule], lw=1.3)
                ax.plot(r["mean_diff"], yy, TASK_MARKERS[k[3]], color=RULE_COLORS[rule], ms=4)
            if y and keys[y - 1][:3] != k[:3]:
                ax.axhline(y - 0.5, color="0.8", lw=0.8)
        ax.axvline(0, color="0.2", lw=1)
        ax.set_title(f"VNA − {METHOD_SHORT.get(b, b)}", fontsize=10, loc="left")
        ax.set_xlabel("paired difference in AUC (seed mean, corrected 95 % t)", fontsize=8)
        ax.grid(axis="x", color="0.92")
    ax0 = axes[0][0]
    ax0.set_yticks(range(len(keys)))
    ax0.set_yticklabels([f"{d}{' (SIM.)' if d == 'simulated' else ''} · {protocol_label(s, t)} · {task}"
                         for d, s, t, task in keys], fontsize=7)
    ax0.set_ylim(len(keys) - 0.5, -0.5)
    handles = [plt.Line2D([], [], color=RULE_COLORS[r], lw=2, label=f"{r} rule") for r in rules]
    axes[0][-1].legend(handles=handles, fontsize=8, loc="lower right", frameon=True)
    fig = ax0.figure
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return axes


def plot_findings(data: pd.DataFrame, margin: float, title: str = "", ax=None) -> np.ndarray:
    """VNA − DE and VNA − DD, one panel each, one row per recording cell, session and the across-session summary,
    one marker and interval per scoring rule (``data``: :func:`vna.study.findings.figure_data`; logit scale), the
    equivalence band ±``margin`` shaded. Right of the band favours VNA. ``ax``: one Axes per baseline in
    ``data``. Returns the axes."""
    if data.empty:
        raise ValueError("plot_findings got no differences")
    rules = [r for r in RULE_COLORS if r in set(data["score"])]
    baselines = [b for b in ("direct_encoder", "direct_decoder") if b in set(data["baseline"])]
    rows = list(dict.fromkeys(zip(data["kind"], data["label"])))
    axes = _axes(ax, (1, len(baselines)), "plot_findings", figsize=(5.2 * len(baselines), 0.3 * len(rows) + 1.9),
                 sharey=True)
    fig = axes[0][0].figure
    offsets = {r: (i - (len(rules) - 1) / 2) * 0.22 for i, r in enumerate(rules)}
    for ax, b in zip(axes[0], baselines):
        ax.axvspan(-margin, margin, color="tab:green", alpha=0.13, lw=0)
        ax.axvline(0, color="0.3", lw=0.8)
        part = data[data["baseline"] == b]
        for y, (kind, label) in enumerate(rows):
            for r in part[(part["kind"] == kind) & (part["label"] == label)].itertuples():
                yy = y + offsets[r.score]
                if np.isfinite(r.low) and np.isfinite(r.high):
                    ax.plot([r.low, r.high], [yy, yy], color=RULE_COLORS[r.score], lw=2.2 if kind == "sessions" else 1.2)
                ax.plot(r.mean, yy, "D" if kind == "sessions" else "o", color=RULE_COLORS[r.score],
                        ms=5 if kind == "sessions" else 3.5)
            if y and rows[y - 1][0] != kind:
                ax.axhline(y - 0.5, color="0.75", lw=0.8)
        ax.set_title(f"VNA − {METHOD_SHORT.get(b, b)}", fontsize=10, loc="left")
        ax.set_xlabel("difference in logit(average AUC) (seeds: corrected 95 % t; sessions: 95 % t)", fontsize=8)
        ax.grid(axis="x", color="0.93")
    ax0 = axes[0][0]
    ax0.set_yticks(range(len(rows)))
    ax0.set_yticklabels([label for _, label in rows], fontsize=7)
    ax0.set_ylim(len(rows) - 0.5, -0.5)
    handles = [plt.Line2D([], [], color=RULE_COLORS[r], lw=2, label=f"{r} rule") for r in rules]
    handles.append(plt.Rectangle((0, 0), 1, 1, color="tab:green", alpha=0.13,
                                 label=f"equivalent: ±{margin:.3f}"))
    axes[0][-1].legend(handles=handles, fontsize=7, loc="lower right", frameon=True)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return axes


def plot_norm_diagnostic(diag: pd.DataFrame, rho: pd.DataFrame, title: str = "", ax=None) -> np.ndarray:
    """Per-instance encoding AUC against ‖y‖ of the true response (``diag``:
    :func:`vna.study.diagnostics.norm_diagnostic`): one panel per method, one colour per rule, Spearman's ρ
    per rule (``rho``: :func:`vna.study.diagnostics.spearman_by_rule` of ``diag``) in the legend. ``ax``: a
    grid of Axes, three to a row, one per method (spare ones are hidden). Returns the axes."""
    if diag.empty:
        raise ValueError("plot_norm_diagnostic got no instances")
    methods = [m for m in METHOD_COLORS if m in set(diag["method"])]
    rules = [r for r in RULE_COLORS if r in set(diag["score"])]
    missing = [(m, r) for m in methods for r in rules if m not in rho.index or r not in rho.columns]
    if missing:
        raise ValueError(f"rho lacks {missing[:3]}: pass spearman_by_rule(diag) of the same diag")
    ncols = min(3, len(methods))
    nrows = -(-len(methods) // ncols)
    axes = _axes(ax, (nrows, ncols), "plot_norm_diagnostic", figsize=(3.9 * ncols, 3.0 * nrows), sharey=True)
    fig = axes.flat[0].figure
    for ax in axes.flat[len(methods):]:
        ax.set_visible(False)
    for ax, m in zip(axes.flat, methods):
        for rule in rules:
            g = diag[(diag["method"] == m) & (diag["score"] == rule)]
            ax.scatter(g["norm"], g["encoding_auc"], s=5, alpha=0.35, color=RULE_COLORS[rule],
                       label=f"{rule}: ρ = {rho.loc[m, rule]:+.2f}")
        ax.axhline(0.5, color="0.5", ls=":", lw=1)
        ax.set_title(METHOD_SHORT.get(m, m), fontsize=10)
        ax.set_xlabel("‖y‖ of the true response (z-scored)")
        ax.legend(fontsize=7, loc="lower left", markerscale=2)
    for row in axes:
        row[0].set_ylabel("encoding AUC of the instance")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return axes
