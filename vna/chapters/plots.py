"""Figures of the data and method chapters: data, training, score matrices, ROC curves, candidates, results.

Every function draws what it is given on ``ax=`` (one matplotlib ``Axes``, or a sequence of them for a
figure of several panels; a new figure when ``None``) and returns it: nothing here computes a result. The
ROC curves and top-k curves come from :func:`vna.metrics.roc_curve` and :func:`vna.metrics.top_k_curve`, the
reliability from :func:`vna.data.preprocess.split_half_reliability`. Titles carry ``label`` (the dataset
name, with "SIMULATED" for the simulated set; see :func:`dataset_label`).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..names import METHOD_COLORS, METHOD_NAMES, TASK_COLORS, protocol_label

__all__ = [
    "dataset_label",
    "show_images",
    "plot_mean_responses",
    "plot_trial_variability",
    "plot_reliability",
    "plot_dataset_overview",
    "plot_history",
    "plot_score_matrix",
    "plot_similarity",
    "plot_shared_space",
    "plot_roc",
    "plot_topk",
    "plot_decoding_candidates",
    "plot_encoding_candidates",
    "plot_results",
]

METHOD_LABELS = METHOD_NAMES  # the name notebooks 05 and 08 use (vna.names.METHOD_NAMES)


def dataset_label(name: str, simulated: bool | None = None) -> str:
    """The dataset's name as figures show it: ``"simulated (SIMULATED data)"`` for simulated sets."""
    if simulated is None:
        simulated = name == "simulated"
    return f"{name} (SIMULATED data)" if simulated else name


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _ax(ax, figsize: tuple[float, float]):
    """``ax``, or the one ``Axes`` of a new figure of ``figsize``."""
    if ax is None:
        return plt.subplots(figsize=figsize)[1]
    return ax


def _axes(ax, shape: tuple[int, int], what: str, **subplots) -> np.ndarray:
    """``ax`` as a ``shape`` array of ``Axes`` (a ValueError when it holds another number of them), or the
    axes of a new figure of that shape (``subplots``: ``plt.subplots`` arguments)."""
    if ax is None:
        return plt.subplots(*shape, squeeze=False, **subplots)[1]
    axes = np.asarray(ax, dtype=object)
    if axes.size != shape[0] * shape[1]:
        raise ValueError(f"{what} draws {shape[0] * shape[1]} panels ({shape[0]} x {shape[1]}); ax= holds "
                         f"{axes.size} Axes")
    return axes.reshape(shape)


def _image_hw(img: np.ndarray) -> tuple[np.ndarray, str | None]:
    """One image as ``[H, W]`` (grey colormap) or ``[H, W, 3]``."""
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[0] in (1, 3):  # [C, H, W]
        img = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
    if img.ndim == 2:
        return img, "gray"
    return img, None


def show_images(images, titles: Sequence[str] | None = None, ncols: int = 8, title: str | None = None,
                size: float = 1.3, ax=None) -> np.ndarray:
    """A grid of images (``[n, C, H, W]``, ``[n, H, W]`` or ``[n, H, W, 3]``, or a list of differently
    sized ones), ``ncols`` to a row; ``ax``: as many Axes as the grid has cells. Returns the axes."""
    images = [_np(im) for im in images] if isinstance(images, (list, tuple)) else list(_np(images))
    n = len(images)
    if n == 0:
        raise ValueError("show_images got no images")
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    axes = _axes(ax, (nrows, ncols), "show_images",
                 figsize=(size * ncols, size * nrows + (0.4 if title else 0)))
    for k, a in enumerate(axes.flat):
        a.axis("off")
        if k < n:
            img, cmap = _image_hw(images[k])
            vmin, vmax = (0, 1) if img.dtype.kind == "f" and img.max() <= 1 else (None, None)
            a.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax)
            if titles is not None:
                a.set_title(titles[k], fontsize=8)
    fig = axes.flat[0].figure
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return axes


def plot_mean_responses(mean_responses, label: str, max_images: int = 120, max_neurons: int = 120,
                        ax=None):
    """Heat map of trial-mean responses, images × neurons (each neuron z-scored across images for display)."""
    m = _np(mean_responses)[:max_images, :max_neurons]
    sd = m.std(axis=0)
    z = (m - m.mean(axis=0)) / np.where(sd > 0, sd, 1)
    ax = _ax(ax, (7, 4))
    im = ax.imshow(z, aspect="auto", cmap="magma", interpolation="nearest", vmin=-2.5, vmax=2.5)
    ax.set_xlabel("neuron")
    ax.set_ylabel("image")
    ax.set_title(f"{label}: trial-mean responses (z-scored per neuron)")
    ax.figure.colorbar(im, ax=ax, label="z")
    ax.figure.tight_layout()
    return ax


def plot_trial_variability(responses, label: str, neurons: Sequence[int] | None = None, n_images: int = 20,
                           units: str = "response", ax=None) -> np.ndarray:
    """Trial-to-trial variability: single trials and means for a few neurons, and variance against mean.

    ``responses`` is ``[n_images, n_trials, n_neurons]`` with NaN for missing trials; ``ax``: one Axes per
    neuron and one more. Returns the axes.
    """
    r = _np(responses).astype(float)
    if r.ndim != 3:
        raise ValueError(f"responses must be [n_images, n_trials, n_neurons]; got shape {r.shape}")
    mean = np.nanmean(r, axis=1)  # [I, N]
    if neurons is None:
        neurons = list(np.argsort(np.nanvar(mean, axis=0))[::-1][:3])
    axes = _axes(ax, (1, len(neurons) + 1), "plot_trial_variability",
                 figsize=(3.2 * (len(neurons) + 1), 3.2)).ravel()
    rng = np.random.default_rng(0)  # the jitter of the points
    for a, n in zip(axes, neurons):
        order = np.argsort(mean[:, n])[::-1][:n_images]
        for rank, i in enumerate(order):
            trials = r[i, :, n]
            trials = trials[np.isfinite(trials)]
            a.scatter(rank + rng.uniform(-0.2, 0.2, len(trials)), trials, s=6, color="0.5", alpha=0.7)
        a.plot(range(len(order)), mean[order, n], color="k", lw=1.5, label="mean")
        a.set_title(f"neuron {n}", fontsize=10)
        a.set_xlabel("image (sorted by mean)")
        a.set_ylabel(units)
    a = axes[-1]
    var = np.nanvar(r, axis=1, ddof=1) if r.shape[1] > 1 else np.full_like(mean, np.nan)
    ok = np.isfinite(var) & np.isfinite(mean)
    a.scatter(mean[ok], var[ok], s=3, alpha=0.3)
    if ok.any():
        lim = [0, np.nanpercentile(mean[ok], 99)]
        if np.nanmin(mean[ok]) >= 0:
            a.plot(lim, lim, "k--", lw=1, label="variance = mean (Poisson)")
            a.legend(fontsize=7, loc="upper left")
    a.set_xlabel("mean over trials")
    a.set_ylabel("variance over trials")
    a.set_title("all images × neurons", fontsize=10)
    fig = a.figure
    fig.suptitle(f"{label}: trial-to-trial variability")
    fig.tight_layout()
    return axes


def plot_reliability(reliability, label: str, threshold: float | None = None, ax=None):
    """Histogram of per-neuron split-half reliability (with the filter threshold when one is given)."""
    rel = _np(reliability).astype(float)
    rel = rel[np.isfinite(rel)]
    ax = _ax(ax, (5, 3.2))
    ax.hist(rel, bins=30, color="tab:purple", alpha=0.8)
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold}")
        ax.legend()
    ax.set_xlabel("split-half reliability (Spearman-Brown)")
    ax.set_ylabel("neurons")
    ax.set_title(f"{label}: reliability of {len(rel)} neurons", fontsize=10)
    ax.figure.tight_layout()
    return ax


def _trial_range(counts) -> str:
    lo, hi = int(np.min(counts)), int(np.max(counts))
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def _overview_axes(trials: bool, n_images: int) -> list:
    """The overview's panels: ``n_images`` images, the heat map and, with trials, two histograms."""
    fig = plt.figure(figsize=(12, 4.6))
    grid = fig.add_gridspec(2, n_images if trials else n_images // 2 + 1)
    axes = [fig.add_subplot(grid[0, k] if trials else grid[k % 2, k // 2]) for k in range(n_images)]
    if not trials:
        return axes + [fig.add_subplot(grid[:, -1])]
    third = n_images // 3
    return axes + [fig.add_subplot(grid[1, :third]), fig.add_subplot(grid[1, third:2 * third]),
                   fig.add_subplot(grid[1, 2 * third:])]


def plot_dataset_overview(recording, label: str, reliability=None, fano=None, n_images: int = 6,
                          ax=None) -> list:
    """One dataset at a glance: sample images, the image x neuron mean-response heat map and, when given
    (``[n_neurons]`` each, for single-trial data), the histograms of the neurons' split-half ``reliability``
    (:func:`vna.data.preprocess.split_half_reliability`) and ``fano`` factor
    (:func:`vna.data.preprocess.fano_factor`). ``ax``: ``n_images`` Axes, one more, and two more with the
    histograms. Returns the axes."""
    rec = recording
    hists = reliability is not None or fano is not None
    n_panels = n_images + 1 + (2 if hists else 0)
    if ax is None:
        axes = _overview_axes(hists, n_images)
    else:
        axes = list(np.asarray(ax, dtype=object).ravel())
        if len(axes) != n_panels:
            raise ValueError(f"plot_dataset_overview draws {n_panels} panels here; ax= holds {len(axes)} Axes")
    for a, i in zip(axes, np.linspace(0, rec.n_images - 1, n_images).astype(int)):
        img = rec.images[i]
        a.imshow(img if img.ndim == 2 else img.astype(float) / max(float(img.max()), 1e-9), cmap="gray")
        iid = rec.image_ids[i]
        a.set_title(str(iid) if isinstance(iid, str) else f"image {iid}", fontsize=8)
        a.axis("off")
    mean = rec.mean_responses()
    z = (mean - mean.mean(0)) / np.where(mean.std(0) > 0, mean.std(0), 1)
    a = axes[n_images]
    a.imshow(z[:120, :120].T, aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3, interpolation="nearest")
    a.set_xlabel("image")
    a.set_ylabel("neuron")
    a.set_title("mean response (z per neuron)", fontsize=9)
    if hists:
        for a, values, color, line, name, what in (
                (axes[n_images + 1], reliability, "tab:purple", 0.8, "split-half reliability", ""),
                (axes[n_images + 2], fano, "tab:gray", 1.0, "Fano factor (var / mean)", " (1 = Poisson)")):
            v = _np(values if values is not None else []).astype(float)
            v = v[np.isfinite(v)]
            a.hist(v, bins=25, color=color)
            a.axvline(line, color="k", ls="--", lw=1)
            a.set_xlabel(name)
            a.set_title(f"median {np.median(v):.2f}{what}" if len(v) else "none", fontsize=9)
    fig = axes[0].figure
    fig.suptitle(f"{label}: {rec.n_images} images, {rec.n_neurons} neurons, "
                 + (_trial_range(rec.trial_counts) + " trials per image" if rec.n_trials > 1
                    else "trial means only"), fontsize=11)
    fig.tight_layout()
    return axes


def plot_history(history, label: str, method: str, ax=None):
    """Training loss per epoch (and validation loss when recorded)."""
    h = pd.DataFrame(list(history))
    if h.empty:
        raise ValueError("plot_history got an empty history")
    ax = _ax(ax, (5.5, 3.2))
    ax.plot(h["epoch"], h["loss"], marker="o", ms=3, label="training loss")
    if "val_loss" in h and h["val_loss"].notna().any():
        ax.plot(h["epoch"], h["val_loss"], marker="o", ms=3, label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("contrastive loss (eq. 1)" if method == "vna" else "mean squared error")
    ax.set_title(f"{METHOD_NAMES.get(method, method)} on {label}: training curve", fontsize=10)
    if len(h) > 1:
        ax.set_xlim(h["epoch"].min(), h["epoch"].max())
    ax.legend()
    ax.figure.tight_layout()
    return ax


def plot_score_matrix(S, match, label: str, method: str, max_images: int = 30, ax=None):
    """Heat map of the score matrix for the first ``max_images`` test images and all their responses.

    Columns are grouped by the image that evoked them, so a good model shows a bright block diagonal.
    """
    S, match = _np(S), _np(match)
    images = np.arange(min(max_images, S.shape[0]))
    cols = np.flatnonzero(np.isin(match, images))
    cols = cols[np.argsort(match[cols], kind="stable")]
    sub = S[np.ix_(images, cols)]
    ax = _ax(ax, (6.5, 4.2))
    im = ax.imshow(sub, aspect="auto", cmap="viridis", interpolation="nearest")
    # mark where each image's responses start
    starts = np.flatnonzero(np.r_[True, np.diff(match[cols]) != 0])
    if len(cols) > len(images):
        for s in starts[1:]:
            ax.axvline(s - 0.5, color="w", lw=0.3, alpha=0.6)
    ax.set_xlabel("test response (grouped by the image that evoked it)")
    ax.set_ylabel("test image")
    score = "cosine similarity" if method == "vna" else "score = -distance"
    ax.set_title(f"{METHOD_NAMES.get(method, method)} on {label}: score matrix S\n"
                 f"{len(images)} of {S.shape[0]} test images, their {len(cols)} responses", fontsize=10)
    ax.figure.colorbar(im, ax=ax, label=score)
    ax.figure.tight_layout()
    return ax


def plot_similarity(similarity, title: str = "", ax=None):
    """A batch's ``B x B`` similarity matrix (rows: images, columns: responses; the matched pairs on the
    diagonal), as the contrastive loss (paper eq. 1) sees it."""
    s = _np(similarity)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"plot_similarity needs a square B x B matrix; got shape {s.shape}")
    ax = _ax(ax, (4.6, 3.8))
    im = ax.imshow(s, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xlabel("response j of the batch")
    ax.set_ylabel("image i of the batch")
    ax.set_title(title or f"cosine similarity of a batch of {len(s)} pairs", fontsize=10)
    ax.figure.colorbar(im, ax=ax, label="cos(image i, response j)")
    ax.figure.tight_layout()
    return ax


def plot_shared_space(image_points, response_points, match, title: str = "", ax=None):
    """The shared space in two dimensions: each test image (square) and each test response (dot) at its 2-D
    coordinates (``[n_images, 2]``, ``[n_responses, 2]``), every response joined to the image that evoked
    it (``match``); one colour per image."""
    img, rsp, match = _np(image_points), _np(response_points), _np(match).astype(int)
    if img.ndim != 2 or img.shape[1] != 2 or rsp.ndim != 2 or rsp.shape[1] != 2:
        raise ValueError(f"plot_shared_space needs [n, 2] coordinates; got {img.shape} and {rsp.shape}")
    if len(match) != len(rsp) or (len(match) and (match.min() < 0 or match.max() >= len(img))):
        raise ValueError(f"match must name an image (0..{len(img) - 1}) for each of the {len(rsp)} responses")
    ax = _ax(ax, (5.2, 4.6))
    colors = plt.get_cmap("tab20")(np.arange(len(img)) % 20)
    for j, i in enumerate(match):
        ax.plot([rsp[j, 0], img[i, 0]], [rsp[j, 1], img[i, 1]], color=colors[i], lw=0.6, alpha=0.5)
    ax.scatter(rsp[:, 0], rsp[:, 1], s=10, c=colors[match], alpha=0.8, label="response")
    ax.scatter(img[:, 0], img[:, 1], s=40, c=colors, marker="s", edgecolors="k", linewidths=0.6,
               label="image")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.figure.tight_layout()
    return ax


def plot_roc(curves: Mapping, label: str, method: str, metrics: Mapping[str, float] | None = None, ax=None):
    """ROC curves of discriminative encoding and decoding (``curves``: task -> :class:`vna.metrics.ROCCurve`,
    from :func:`vna.metrics.roc_curve`), each labelled with its area.

    With ``metrics`` (from :func:`vna.evaluate`), a curve whose area differs from the reported AUC is a
    ValueError: the two were not computed from the same score matrix and candidate sets.
    """
    if not curves:
        raise ValueError("plot_roc got no curves")
    for task, c in curves.items():
        if not all(hasattr(c, f) for f in ("fpr", "tpr", "auc")):
            raise ValueError(f"plot_roc: curves[{task!r}] is a {type(c).__name__}, not a vna.metrics.ROCCurve")
        if metrics is not None and abs(metrics[f"{task}_auc"] - c.auc) > 1e-9:
            raise ValueError(f"{task}: the ROC curve's area {c.auc:.6f} differs from the reported AUC "
                             f"{metrics[f'{task}_auc']:.6f}; compute both from the same score matrix, "
                             "n_distractors and seed")
    ax = _ax(ax, (4.6, 4.2))
    for task, c in curves.items():
        ax.step(c.fpr, c.tpr, where="post", color=TASK_COLORS.get(task), label=f"{task} (AUC {c.auc:.4f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_title(f"{METHOD_NAMES.get(method, method)} on {label}:\nROC averaged over test instances",
                 fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    ax.figure.tight_layout()
    return ax


def plot_topk(curves: Mapping, label: str, method: str, ax=None):
    """Top-k accuracy against k for each task (``curves``: task -> :class:`vna.metrics.TopKCurve`, from
    :func:`vna.metrics.top_k_curve`), with its chance level ``k / (K + 1)`` dotted."""
    if not curves:
        raise ValueError("plot_topk got no curves")
    ax = _ax(ax, (5, 3.4))
    ks = sorted({int(k) for c in curves.values() for k in c.k})
    for task, c in curves.items():
        ax.plot(c.k, c.accuracy, marker="o", color=TASK_COLORS.get(task), label=task)
        ax.plot(c.k, c.chance, ls=":", color=TASK_COLORS.get(task), label=f"{task}, chance")
    ax.set_xscale("log")
    ax.set_xticks(ks)
    ax.set_xticklabels([str(k) for k in ks])
    ax.set_xlabel("k")
    ax.set_ylabel("top-k accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{METHOD_NAMES.get(method, method)} on {label}: top-k accuracy", fontsize=10)
    ax.legend(fontsize=7)
    ax.figure.tight_layout()
    return ax


def _ranked(scores: np.ndarray, true_idx: int, eligible: np.ndarray) -> tuple[np.ndarray, int]:
    """Candidate indices sorted by score (best first) among ``eligible``, and the true one's rank (1-based)."""
    cand = np.flatnonzero(eligible)
    order = cand[np.argsort(-scores[cand], kind="stable")]
    rank = int(np.flatnonzero(order == true_idx)[0]) + 1
    return order, rank


def plot_decoding_candidates(test, S, queries: Sequence[int], label: str, method: str, top: int = 6,
                             ax=None) -> np.ndarray:
    """Discriminative decoding examples: for each query response, the test images ranked by score.

    The candidates are all test images (``n_distractors=None``); the true image has a green frame, and a
    last column shows it with its rank when it is not among the first ``top``. ``ax``: ``len(queries)`` x
    ``top + 1`` Axes. Returns the axes.
    """
    S, match, images = _np(S), _np(test.match), _np(test.images)
    axes = _axes(ax, (len(queries), top + 1), "plot_decoding_candidates",
                 figsize=(1.35 * (top + 1), 1.55 * len(queries)))
    for row, j in zip(axes, queries):
        true = int(match[j])
        order, rank = _ranked(S[:, j], true, np.ones(S.shape[0], bool))
        shown = list(order[:top])
        for k, a in enumerate(row):
            a.set_xticks([])
            a.set_yticks([])
            if k < top:
                i = shown[k]
                title = f"#{k + 1}"
            elif true not in shown:
                i, title = true, f"true: #{rank}"
            else:
                a.axis("off")
                continue
            img, cmap = _image_hw(images[i])
            a.imshow(img, cmap=cmap, vmin=0, vmax=1)
            a.set_title(title, fontsize=8)
            for sp in a.spines.values():
                sp.set_color("tab:green" if i == true else "0.8")
                sp.set_linewidth(3 if i == true else 0.5)
        row[0].set_ylabel(f"response {j}", fontsize=8)
    fig = axes.flat[0].figure
    fig.suptitle(f"{METHOD_NAMES.get(method, method)} on {label}: decoding, candidate images ranked "
                 f"(of {S.shape[0]}; green = true image)", fontsize=10)
    fig.tight_layout()
    return axes


def plot_encoding_candidates(test, S, queries: Sequence[int], label: str, method: str, top: int = 8,
                             ax=None) -> np.ndarray:
    """Discriminative encoding examples: for a query image, candidate responses ranked by score.

    ``queries`` are response indices ``j``; the query image is ``match[j]``, the candidates are response
    ``j`` and every response to another image (as in :func:`vna.metrics.discriminative_auc`). Each row
    shows the query image and the ``top`` best candidates as rows of a heat map (neurons on the x axis),
    the true response marked. ``ax``: ``len(queries)`` x 2 Axes. Returns the axes.
    """
    S, match, images, resp = _np(S), _np(test.match), _np(test.images), _np(test.responses)
    n = len(queries)
    axes = _axes(ax, (n, 2), "plot_encoding_candidates", figsize=(7.5, 1.9 * n),
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
    fig = axes.flat[0].figure
    fig.suptitle(f"{METHOD_NAMES.get(method, method)} on {label}: encoding, candidate responses ranked",
                 fontsize=10)
    fig.tight_layout()
    return axes


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
                 stand_ins: dict[str, str] | None = None, ax=None) -> np.ndarray:
    """Encoding and decoding AUC per dataset (and protocol) and method: mean ± 95 % CI over seeds as
    horizontal bars, one panel per task side by side on the same rows (so a row reads across both tasks),
    with the paper's values (on the dataset ours stands in for) as crosses and chance as a dotted line.

    ``table`` is :func:`vna.study.tables.select_groups` output (one row per dataset × method, or per dataset ×
    method × protocol when it has ``split`` and ``test_responses``); ``paper`` is
    :data:`vna.study.tables.PAPER_TABLE1` and ``stand_ins`` :data:`vna.study.tables.PAPER_STAND_INS`. A new
    figure is 8.5 inches wide whatever the number of rows, so that its text stays readable at the book's page
    width; it grows in height with the rows. ``ax``: two Axes (encoding, decoding) sharing their y axis.
    Returns them.
    """
    if table.empty:
        raise ValueError("plot_results got an empty table")
    for col in ("dataset", "method", "encoding_auc", "decoding_auc"):
        if col not in table.columns:
            raise ValueError(f"plot_results needs a {col!r} column (vna.study.tables.select_groups output)")
    groups = _results_groups(table)
    methods = [m for m in METHOD_NAMES if m in set(table["method"])]
    methods += [m for m in dict.fromkeys(table["method"]) if m not in methods]
    n_g, n_m = len(groups), max(len(methods), 1)
    bar = 0.84 / n_m
    n_legend = len(methods) + 2
    legend_h = 0.26 * -(-n_legend // 3) + 0.12
    height = 1.0 + legend_h + n_g * (0.17 * n_m + 0.14)
    axes = _axes(ax, (1, 2), "plot_results", figsize=(8.5, height), sharey=True, sharex=True).ravel()
    fig = axes[0].figure
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
                    label=METHOD_NAMES.get(m, m), alpha=0.9, error_kw={"lw": 1})
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
    order = [METHOD_NAMES.get(m, m) for m in methods]
    labels = [lab for lab in order if lab in entries] + [lab for lab in entries if lab not in order]
    ncol = min(len(labels), 3)
    fig.legend([entries[lab] for lab in labels], labels, loc="lower center", ncol=ncol, fontsize=10,
               frameon=False)
    fig.tight_layout(rect=(0, legend_h / fig.get_size_inches()[1], 1, 1), w_pad=1.5)
    return axes
