"""Figures shared by the notebooks (DESIGN.md): data, training, score matrices, ROC curves, candidates, results.

Every function draws with matplotlib and returns the ``Figure``. Titles carry ``label`` (the dataset
name, with "SIMULATED" for the simulated set; see :func:`dataset_label`). ROC curves and top-k accuracy are
computed from the same candidate sets as :func:`vna.metrics.discriminative_auc`.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..data.preprocess import split_half_reliability
from ..metrics import candidate_scores, top_k_accuracy
from ..study.results import protocol_label, resolved_device

__all__ = [
    "dataset_label",
    "compute_note",
    "show_images",
    "plot_mean_responses",
    "plot_trial_variability",
    "plot_reliability",
    "plot_dataset_overview",
    "plot_history",
    "plot_score_matrix",
    "roc_curve_from_candidates",
    "plot_roc",
    "plot_topk",
    "plot_decoding_candidates",
    "plot_encoding_candidates",
    "plot_results",
]

TASK_COLORS = {"encoding": "tab:blue", "decoding": "tab:orange"}
METHOD_COLORS = {"vna": "tab:green", "direct_encoder": "tab:blue", "direct_decoder": "tab:red"}
METHOD_LABELS = {"vna": "VNA", "direct_encoder": "Direct Encoding", "direct_decoder": "Direct Decoding"}


def dataset_label(name: str, simulated: bool | None = None) -> str:
    """The dataset's name as figures show it: ``"simulated (SIMULATED data)"`` for simulated sets."""
    if simulated is None:
        simulated = name == "simulated"
    return f"{name} (SIMULATED data)" if simulated else name


def compute_note(device: str = "auto") -> str:
    """Where a notebook trains: the resolved device and, on the CPU, the number of threads."""
    name = resolved_device(device)
    on_gpu = name.startswith("cuda") and torch.cuda.is_available()
    return name if on_gpu else f"{name}, {torch.get_num_threads()} thread(s)"


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _image_hw(img: np.ndarray) -> tuple[np.ndarray, str | None]:
    """One image as ``[H, W]`` (grey colormap) or ``[H, W, 3]``."""
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[0] in (1, 3):  # [C, H, W]
        img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
    if img.ndim == 2:
        return img, "gray"
    return img, None


def show_images(images, titles: Sequence[str] | None = None, ncols: int = 8, title: str | None = None,
                size: float = 1.3) -> plt.Figure:
    """A grid of images (``[n, C, H, W]``, ``[n, H, W]`` or ``[n, H, W, 3]``, or a list of differently
    sized ones)."""
    images = [_np(im) for im in images] if isinstance(images, (list, tuple)) else list(_np(images))
    n = len(images)
    if n == 0:
        raise ValueError("show_images got no images")
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if title else 0)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            img, cmap = _image_hw(images[k])
            vmin, vmax = (0, 1) if img.dtype.kind == "f" and img.max() <= 1 else (None, None)
            ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax)
            if titles is not None:
                ax.set_title(titles[k], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_mean_responses(mean_responses, label: str, max_images: int = 120, max_neurons: int = 120) -> plt.Figure:
    """Heat map of trial-mean responses, images × neurons (each neuron z-scored across images for display)."""
    m = _np(mean_responses)[:max_images, :max_neurons]
    sd = m.std(axis=0)
    z = (m - m.mean(axis=0)) / np.where(sd > 0, sd, 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    im = ax.imshow(z, aspect="auto", cmap="magma", interpolation="nearest", vmin=-2.5, vmax=2.5)
    ax.set_xlabel("neuron")
    ax.set_ylabel("image")
    ax.set_title(f"{label}: trial-mean responses (z-scored per neuron)")
    fig.colorbar(im, ax=ax, label="z")
    fig.tight_layout()
    return fig


def plot_trial_variability(responses, label: str, neurons: Sequence[int] | None = None, n_images: int = 20,
                           units: str = "response") -> plt.Figure:
    """Trial-to-trial variability: single trials and means for a few neurons, and variance against mean.

    ``responses`` is ``[n_images, n_trials, n_neurons]`` with NaN for missing trials.
    """
    r = _np(responses).astype(float)
    if r.ndim != 3:
        raise ValueError(f"responses must be [n_images, n_trials, n_neurons]; got shape {r.shape}")
    mean = np.nanmean(r, axis=1)  # [I, N]
    if neurons is None:
        neurons = list(np.argsort(np.nanvar(mean, axis=0))[::-1][:3])
    fig, axes = plt.subplots(1, len(neurons) + 1, figsize=(3.2 * (len(neurons) + 1), 3.2))
    rng = np.random.default_rng(0)
    for ax, n in zip(axes, neurons):
        order = np.argsort(mean[:, n])[::-1][:n_images]
        for rank, i in enumerate(order):
            trials = r[i, :, n]
            trials = trials[np.isfinite(trials)]
            ax.scatter(rank + rng.uniform(-0.2, 0.2, len(trials)), trials, s=6, color="0.5", alpha=0.7)
        ax.plot(range(len(order)), mean[order, n], color="k", lw=1.5, label="mean")
        ax.set_title(f"neuron {n}", fontsize=10)
        ax.set_xlabel("image (sorted by mean)")
        ax.set_ylabel(units)
    ax = axes[-1]
    var = np.nanvar(r, axis=1, ddof=1) if r.shape[1] > 1 else np.full_like(mean, np.nan)
    ok = np.isfinite(var) & np.isfinite(mean)
    ax.scatter(mean[ok], var[ok], s=3, alpha=0.3)
    if ok.any():
        lim = [0, np.nanpercentile(mean[ok], 99)]
        if np.nanmin(mean[ok]) >= 0:
            ax.plot(lim, lim, "k--", lw=1, label="variance = mean (Poisson)")
            ax.legend(fontsize=7, loc="upper left")
    ax.set_xlabel("mean over trials")
    ax.set_ylabel("variance over trials")
    ax.set_title("all images × neurons", fontsize=10)
    fig.suptitle(f"{label}: trial-to-trial variability")
    fig.tight_layout()
    return fig


def plot_reliability(reliability, label: str, threshold: float | None = None) -> plt.Figure:
    """Histogram of per-neuron split-half reliability (with the filter threshold when one is given)."""
    rel = _np(reliability).astype(float)
    rel = rel[np.isfinite(rel)]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(rel, bins=30, color="tab:purple", alpha=0.8)
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold}")
        ax.legend()
    ax.set_xlabel("split-half reliability (Spearman-Brown)")
    ax.set_ylabel("neurons")
    ax.set_title(f"{label}: reliability of {len(rel)} neurons", fontsize=10)
    fig.tight_layout()
    return fig


def _trial_range(counts) -> str:
    lo, hi = int(np.min(counts)), int(np.max(counts))
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def plot_dataset_overview(recording, label: str, n_images: int = 6, seed: int = 0) -> plt.Figure:
    """One dataset at a glance: sample images, the image x neuron mean-response heat map, and (with single
    trials) the split-half reliability and the Fano factor (variance / mean over trials) of every neuron."""
    rec = recording
    trials = rec.n_trials > 1
    fig = plt.figure(figsize=(12, 4.6))
    grid = fig.add_gridspec(2, n_images if trials else n_images // 2 + 1)
    for k, i in enumerate(np.linspace(0, rec.n_images - 1, n_images).astype(int)):
        ax = fig.add_subplot(grid[0, k] if trials else grid[k % 2, k // 2])
        img = rec.images[i]
        ax.imshow(img if img.ndim == 2 else img.astype(float) / max(float(img.max()), 1e-9), cmap="gray")
        iid = rec.image_ids[i]
        ax.set_title(str(iid) if isinstance(iid, str) else f"image {iid}", fontsize=8)
        ax.axis("off")
    mean = rec.mean_responses()
    z = (mean - mean.mean(0)) / np.where(mean.std(0) > 0, mean.std(0), 1)
    if trials:
        ax = fig.add_subplot(grid[1, : n_images // 3])
    else:
        ax = fig.add_subplot(grid[:, -1])
    ax.imshow(z[:120, :120].T, aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3, interpolation="nearest")
    ax.set_xlabel("image")
    ax.set_ylabel("neuron")
    ax.set_title("mean response (z per neuron)", fontsize=9)
    if trials:
        rel = split_half_reliability(rec.responses, seed=seed)
        ax = fig.add_subplot(grid[1, n_images // 3 : 2 * n_images // 3])
        ax.hist(rel[np.isfinite(rel)], bins=25, color="tab:purple")
        ax.axvline(0.8, color="k", ls="--", lw=1)
        ax.set_xlabel("split-half reliability")
        ax.set_title(f"median {np.nanmedian(rel):.2f}", fontsize=9)
        var, mu = np.nanvar(rec.responses, axis=1, ddof=1), np.nanmean(rec.responses, axis=1)
        ok = (rec.trial_counts[:, None] > 1) & (mu > 0)
        fano = np.nanmean(np.where(ok, var / np.where(mu > 0, mu, 1), np.nan), axis=0)
        ax = fig.add_subplot(grid[1, 2 * n_images // 3 :])
        ax.hist(fano[np.isfinite(fano)], bins=25, color="tab:gray")
        ax.axvline(1.0, color="k", ls="--", lw=1)
        ax.set_xlabel("Fano factor (var / mean)")
        ax.set_title(f"median {np.nanmedian(fano):.2f} (1 = Poisson)", fontsize=9)
    fig.suptitle(f"{label}: {rec.n_images} images, {rec.n_neurons} neurons, "
                 + (_trial_range(rec.trial_counts) + " trials per image" if trials else "trial means only"),
                 fontsize=11)
    fig.tight_layout()
    return fig


def plot_history(history, label: str, method: str) -> plt.Figure:
    """Training loss per epoch (and validation loss when recorded)."""
    h = pd.DataFrame(list(history))
    if h.empty:
        raise ValueError("plot_history got an empty history")
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.plot(h["epoch"], h["loss"], marker="o", ms=3, label="training loss")
    if "val_loss" in h and h["val_loss"].notna().any():
        ax.plot(h["epoch"], h["val_loss"], marker="o", ms=3, label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("contrastive loss (eq. 1)" if method == "vna" else "mean squared error")
    ax.set_title(f"{METHOD_LABELS.get(method, method)} on {label}: training curve", fontsize=10)
    if len(h) > 1:
        ax.set_xlim(h["epoch"].min(), h["epoch"].max())
    ax.legend()
    fig.tight_layout()
    return fig


def plot_score_matrix(S, match, label: str, method: str, max_images: int = 30) -> plt.Figure:
    """Heat map of the score matrix for the first ``max_images`` test images and all their responses.

    Columns are grouped by the image that evoked them, so a good model shows a bright block diagonal.
    """
    S, match = _np(S), _np(match)
    images = np.arange(min(max_images, S.shape[0]))
    cols = np.flatnonzero(np.isin(match, images))
    cols = cols[np.argsort(match[cols], kind="stable")]
    sub = S[np.ix_(images, cols)]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    im = ax.imshow(sub, aspect="auto", cmap="viridis", interpolation="nearest")
    # mark where each image's responses start
    starts = np.flatnonzero(np.r_[True, np.diff(match[cols]) != 0])
    if len(cols) > len(images):
        for s in starts[1:]:
            ax.axvline(s - 0.5, color="w", lw=0.3, alpha=0.6)
    ax.set_xlabel("test response (grouped by the image that evoked it)")
    ax.set_ylabel("test image")
    score = "cosine similarity" if method == "vna" else "score = -distance"
    ax.set_title(f"{METHOD_LABELS.get(method, method)} on {label}: score matrix S\n"
                 f"{len(images)} of {S.shape[0]} test images, their {len(cols)} responses", fontsize=10)
    fig.colorbar(im, ax=ax, label=score)
    fig.tight_layout()
    return fig


def roc_curve_from_candidates(S, match, task: str, n_distractors: int | None = None, seed: int = 0):
    """The ROC curve averaged over instances, from the candidate sets of ``discriminative_auc``.

    For one instance (one positive, ``K`` negatives) the ROC curve is a step from TPR 0 to 1 at the false
    positive rate ``fpr = (#negatives above the positive + 0.5 #ties) / K``. Averaging these curves
    vertically gives ``TPR(f) = fraction of instances with fpr <= f``, whose area is exactly the mean
    per-instance AUC. Returns ``(fpr_grid, tpr, auc)`` with ``auc = 1 - mean(fpr)``.
    """
    pos, negs = candidate_scores(S, match, task, n_distractors=n_distractors, seed=seed)
    fpr = np.array([((n > p).sum() + 0.5 * (n == p).sum()) / len(n) for p, n in zip(pos, negs)])
    grid = np.unique(np.r_[0.0, np.sort(fpr), 1.0])
    tpr = np.searchsorted(np.sort(fpr), grid, side="right") / len(fpr)
    return grid, tpr, float(1.0 - fpr.mean())


def plot_roc(S, match, label: str, method: str, n_distractors: int | None = None, seed: int = 0,
             metrics: dict[str, float] | None = None) -> tuple[plt.Figure, dict[str, float]]:
    """ROC curves of discriminative encoding and decoding (averaged over instances); returns the AUCs.

    With ``metrics`` (from :func:`vna.evaluate`), checks that each curve's area equals the reported AUC.
    """
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    aucs = {}
    for task in ("encoding", "decoding"):
        f, t, auc = roc_curve_from_candidates(S, match, task, n_distractors, seed)
        aucs[task] = auc
        if metrics is not None and abs(metrics[f"{task}_auc"] - auc) > 1e-9:
            raise AssertionError(f"{task}: ROC area {auc} differs from the reported AUC {metrics[f'{task}_auc']}")
        ax.step(f, t, where="post", color=TASK_COLORS[task], label=f"{task} (AUC {auc:.4f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_title(f"{METHOD_LABELS.get(method, method)} on {label}:\nROC averaged over test instances", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig, aucs


def plot_topk(S, match, label: str, method: str, ks: Sequence[int] = (1, 2, 3, 5, 10, 20),
              n_distractors: int | None = None, seed: int = 0) -> tuple[plt.Figure, pd.DataFrame]:
    """Top-k accuracy against k for both tasks, with chance ``k / (K + 1)``; returns the table too."""
    rows = []
    for task in ("encoding", "decoding"):
        _, negs = candidate_scores(S, match, task, n_distractors=n_distractors, seed=seed)
        n_cand = np.array([len(n) + 1 for n in negs])
        ok = [k for k in ks if k <= n_cand.min()]
        acc = top_k_accuracy(S, match, task, k=tuple(ok), n_distractors=n_distractors, seed=seed)
        for k in ok:
            rows.append({"task": task, "k": k, "accuracy": acc[k], "chance": float(np.mean(np.minimum(k / n_cand, 1)))})
    table = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for task, g in table.groupby("task"):
        ax.plot(g["k"], g["accuracy"], marker="o", color=TASK_COLORS[task], label=task)
        ax.plot(g["k"], g["chance"], ls=":", color=TASK_COLORS[task], label=f"{task}, chance")
    ax.set_xscale("log")
    ax.set_xticks(list(ks))
    ax.set_xticklabels([str(k) for k in ks])
    ax.set_xlabel("k")
    ax.set_ylabel("top-k accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{METHOD_LABELS.get(method, method)} on {label}: top-k accuracy", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig, table


def _ranked(scores: np.ndarray, true_idx: int, eligible: np.ndarray) -> tuple[np.ndarray, int]:
    """Candidate indices sorted by score (best first) among ``eligible``, and the true one's rank (1-based)."""
    cand = np.flatnonzero(eligible)
    order = cand[np.argsort(-scores[cand], kind="stable")]
    rank = int(np.flatnonzero(order == true_idx)[0]) + 1
    return order, rank


def plot_decoding_candidates(test, S, queries: Sequence[int], label: str, method: str, top: int = 6) -> plt.Figure:
    """Discriminative decoding examples: for each query response, the test images ranked by score.

    The candidates are all test images (``n_distractors=None``); the true image has a green frame, and a
    last column shows it with its rank when it is not among the first ``top``.
    """
    S, match, images = _np(S), _np(test.match), _np(test.images)
    fig, axes = plt.subplots(len(queries), top + 1, figsize=(1.35 * (top + 1), 1.55 * len(queries)), squeeze=False)
    for row, j in zip(axes, queries):
        true = int(match[j])
        order, rank = _ranked(S[:, j], true, np.ones(S.shape[0], bool))
        shown = list(order[:top])
        for k, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if k < top:
                i = shown[k]
                title = f"#{k + 1}"
            elif true not in shown:
                i, title = true, f"true: #{rank}"
            else:
                ax.axis("off")
                continue
            img, cmap = _image_hw(images[i])
            ax.imshow(img, cmap=cmap, vmin=0, vmax=1)
            ax.set_title(title, fontsize=8)
            for sp in ax.spines.values():
                sp.set_color("tab:green" if i == true else "0.8")
                sp.set_linewidth(3 if i == true else 0.5)
        row[0].set_ylabel(f"response {j}", fontsize=8)
    fig.suptitle(f"{METHOD_LABELS.get(method, method)} on {label}: decoding, candidate images ranked "
                 f"(of {S.shape[0]}; green = true image)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_encoding_candidates(test, S, queries: Sequence[int], label: str, method: str, top: int = 8) -> plt.Figure:
    """Discriminative encoding examples: for a query image, candidate responses ranked by score.

    ``queries`` are response indices ``j``; the query image is ``match[j]``, the candidates are response
    ``j`` and every response to another image (as in :func:`vna.metrics.discriminative_auc`). Each panel
    shows the query image and the ``top`` best candidates as rows of a heat map (neurons on the x axis),
    the true response marked.
    """
    S, match, images, resp = _np(S), _np(test.match), _np(test.images), _np(test.responses)
    n = len(queries)
    fig, axes = plt.subplots(n, 2, figsize=(7.5, 1.9 * n), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 4.5]})
    lim = float(np.percentile(np.abs(resp), 98)) or 1.0
    for (ax_img, ax_r), j in zip(axes, queries):
        q = int(match[j])
        eligible = match != q
        eligible[j] = True
        order, rank = _ranked(S[q], j, eligible)
        shown = list(order[:top])
        if j not in shown:
            shown = shown[: top - 1] + [j]
        img, cmap = _image_hw(images[q])
        ax_img.imshow(img, cmap=cmap, vmin=0, vmax=1)
        ax_img.set_xticks([])
        ax_img.set_yticks([])
        ax_img.set_title(f"query image {q}", fontsize=8)
        ax_r.imshow(resp[shown], aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        labels = []
        for s in shown:
            r = int(np.flatnonzero(order == s)[0]) + 1
            labels.append(f"#{r} TRUE" if s == j else f"#{r}")
        ax_r.set_yticks(range(len(shown)))
        ax_r.set_yticklabels(labels, fontsize=7)
        for tick, s in zip(ax_r.get_yticklabels(), shown):
            if s == j:
                tick.set_color("tab:green")
                tick.set_fontweight("bold")
        ax_r.set_xlabel("neuron (z-scored response)", fontsize=8)
        ax_r.tick_params(axis="x", labelsize=7)
        ax_r.set_title(f"true response {j}: rank {rank} of {int(eligible.sum())} candidates", fontsize=8)
    fig.suptitle(f"{METHOD_LABELS.get(method, method)} on {label}: encoding, candidate responses ranked",
                 fontsize=10)
    fig.tight_layout()
    return fig


def _results_groups(table: pd.DataFrame) -> list[tuple]:
    """The rows of the results figure, in table order: ``(dataset,)``, or ``(dataset, split, test)`` when
    a dataset has more than one protocol in ``table``."""
    has_protocol = {"split", "test_responses"} <= set(table.columns)
    groups = []
    for _, r in table.iterrows():
        g = (r["dataset"], r["split"], r["test_responses"]) if has_protocol else (r["dataset"],)
        if g not in groups:
            groups.append(g)
    return groups


def _group_label(group: tuple) -> str:
    name = group[0] + (" (SIMULATED)" if group[0] == "simulated" else "")
    if len(group) == 1:
        return name
    return f"{name}\n{protocol_label(group[1], group[2])}"


def plot_results(table: pd.DataFrame, paper: pd.DataFrame | None = None,
                 stand_ins: dict[str, str] | None = None) -> plt.Figure:
    """Encoding and decoding AUC per dataset (and protocol) and method: mean ± 95 % CI over seeds as
    horizontal bars, one panel per task side by side on the same rows (so a row reads across both tasks),
    with the paper's values (on the dataset ours stands in for) as crosses and chance as a dotted line.

    ``table`` is :func:`vna.results.main_table` output (one row per dataset × method, or per dataset ×
    method × protocol when it has ``split`` and ``test_responses``); ``paper`` is
    :data:`vna.results.PAPER_TABLE1` and ``stand_ins`` :data:`vna.results.PAPER_STAND_INS`. The figure is
    8.5 inches wide whatever the number of rows, so that its text stays readable at the book's page width;
    it grows in height with the rows.
    """
    if table.empty:
        raise ValueError("plot_results got an empty table")
    for col in ("dataset", "method", "encoding_auc", "decoding_auc"):
        if col not in table.columns:
            raise ValueError(f"plot_results needs a {col!r} column (vna.results.main_table output)")
    groups = _results_groups(table)
    methods = [m for m in METHOD_LABELS if m in set(table["method"])]
    methods += [m for m in dict.fromkeys(table["method"]) if m not in methods]
    n_g, n_m = len(groups), max(len(methods), 1)
    bar = 0.84 / n_m
    n_legend = len(methods) + 2
    legend_h = 0.26 * -(-n_legend // 3) + 0.12
    height = 1.0 + legend_h + n_g * (0.17 * n_m + 0.14)
    fig, axes = plt.subplots(1, 2, figsize=(8.5, height), sharey=True, sharex=True)
    key = ["dataset", "split", "test_responses"]
    lows = []
    for ax, task in zip(axes, ("encoding", "decoding")):
        for k, m in enumerate(methods):
            ys, means, errs = [], [], []
            for gi, g in enumerate(groups):
                sel = table["method"] == m
                for col, value in zip(key, g):
                    sel &= table[col] == value
                hit = table[sel]
                if hit.empty:
                    continue
                row = hit.iloc[0]
                y = gi + (k - (n_m - 1) / 2) * bar
                ci = row.get(f"{task}_auc_ci", np.nan)
                ys.append(y)
                means.append(float(row[f"{task}_auc"]))
                errs.append(float(ci) if ci is not None and np.isfinite(float(ci)) else 0.0)
                if paper is not None and stand_ins and stand_ins.get(g[0]):
                    ref = paper[(paper["paper_dataset"] == stand_ins[g[0]]) & (paper["method"] == m)]
                    if len(ref):
                        ax.plot(float(ref.iloc[0][f"{task}_auc"]), y, "kx", ms=6, mew=1.5,
                                label="paper (on the dataset ours stands in for)")
            lows += [mu - e for mu, e in zip(means, errs)]
            ax.barh(ys, means, bar * 0.92, xerr=errs, capsize=2, color=METHOD_COLORS.get(m, "0.6"),
                    label=METHOD_LABELS.get(m, m), alpha=0.9, error_kw={"lw": 1})
        ax.axvline(0.5, color="0.35", ls=":", lw=1.2, label="chance (0.5)")
        for gi in range(1, n_g):
            if groups[gi][0] != groups[gi - 1][0]:
                ax.axhline(gi - 0.5, color="0.7", lw=0.8)
        ax.set_title(f"Discriminative {task}", fontsize=12, fontweight="bold")
        ax.grid(axis="x", color="0.9", lw=0.8)
        ax.set_axisbelow(True)
        ax.tick_params(axis="x", labelsize=10)
        ax.set_xlabel("AUC (mean ± 95 % CI)", fontsize=10)
    axes[0].set_yticks(np.arange(n_g))
    axes[0].set_yticklabels([_group_label(g) for g in groups], fontsize=10)
    axes[0].set_ylim(n_g - 0.5, -0.5)  # first row on top
    low = min([0.4] + [v for v in lows if np.isfinite(v)])
    axes[0].set_xlim(max(0.0, np.floor(low * 10) / 10), 1.02)
    entries: dict[str, object] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(lab, h)
    order = [METHOD_LABELS.get(m, m) for m in methods]
    labels = [lab for lab in order if lab in entries] + [lab for lab in entries if lab not in order]
    ncol = min(len(labels), 3)
    fig.legend([entries[lab] for lab in labels], labels, loc="lower center", ncol=ncol, fontsize=10,
               frameon=False)
    fig.tight_layout(rect=(0, legend_h / height, 1, 1), w_pad=1.5)
    return fig
