"""Discriminative encoding and decoding (paper section 3.2): ROC AUC and top-k over candidate sets.

``S[i, j]`` scores image ``i`` against response ``j`` (higher = better match) and ``match[j]`` is the image
that evoked response ``j``. There is one instance per response ``j``:

* encoding: query image ``match[j]``; the true response ``j`` competes with responses to *other* images
  (never other trials of the same image), i.e. entries of row ``match[j]``;
* decoding: query response ``j``; the true image ``match[j]`` competes with the other images, i.e. entries
  of column ``j``.

Per instance, the AUC is the probability that the true match outscores a random distractor, ties counting
one half: exactly ``sklearn.metrics.roc_auc_score`` on (1 positive, K negatives). Everything is vectorised
over instances (chunked to bound memory).
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np
import torch

__all__ = ["discriminative_auc", "top_k_accuracy", "roc_curve", "top_k_curve", "candidate_scores", "AUCResult",
           "ROCCurve", "TopKCurve", "TASKS"]

TASKS = ("encoding", "decoding")
_CHUNK_ELEMENTS = 2**24  # ~64 MB of float32 per chunk


class AUCResult(NamedTuple):
    per_instance: np.ndarray
    mean: float


class ROCCurve(NamedTuple):
    """The ROC curve of one task averaged over its instances (:func:`roc_curve`)."""

    fpr: np.ndarray  # false positive rates, 0 to 1
    tpr: np.ndarray  # true positive rate at each
    auc: float  # its area: the mean per-instance AUC


class TopKCurve(NamedTuple):
    """Top-k accuracy of one task against k, with its chance level (:func:`top_k_curve`)."""

    k: np.ndarray
    accuracy: np.ndarray
    chance: np.ndarray  # mean over instances of k / (K + 1) for K distractors


def _validate(S, match, task: str, n_distractors: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    if task not in TASKS:
        raise ValueError(f"task must be 'encoding' or 'decoding'; got {task!r}")
    S = torch.as_tensor(S)
    match = torch.as_tensor(match)
    if S.ndim != 2:
        raise ValueError(f"S must be a 2-D [n_images, n_responses] matrix; got shape {tuple(S.shape)}")
    if S.shape[1] == 0 or S.shape[0] == 0:
        raise ValueError(f"S is empty (shape {tuple(S.shape)}): {task} needs at least one response and two images")
    if S.shape[0] < 2:
        raise ValueError(f"S has {S.shape[0]} image row(s): discriminative {task} needs at least 2 candidate images")
    if match.ndim != 1 or len(match) != S.shape[1]:
        raise ValueError(
            f"match must have one entry per response (S has {S.shape[1]} columns); got shape {tuple(match.shape)}"
        )
    if match.is_floating_point():
        raise ValueError(f"match must hold integer image indices; got dtype {match.dtype}")
    match = match.long().to(S.device)
    if len(match) and (int(match.min()) < 0 or int(match.max()) >= S.shape[0]):
        raise ValueError(
            f"match out of range: values span [{int(match.min())}, {int(match.max())}] but S has {S.shape[0]} rows"
        )
    S = S.detach()
    if not _all_finite(S):
        raise ValueError(f"S contains {int((~torch.isfinite(S)).sum())} NaN/inf scores")
    if n_distractors is not None:
        if int(n_distractors) != n_distractors or n_distractors < 1:
            raise ValueError(f"n_distractors must be None or an integer >= 1; got {n_distractors}")
        fewest = _fewest_eligible(S, match, task)
        if n_distractors > fewest:
            raise ValueError(
                f"too few distractors for n_distractors={n_distractors} in the {task} task: some instance has "
                f"only {fewest} eligible distractors"
            )
    return S.float() if not S.is_floating_point() else S, match


def _fewest_eligible(S: torch.Tensor, match: torch.Tensor, task: str) -> int:
    if task == "decoding":
        return S.shape[0] - 1
    per_image = torch.bincount(match, minlength=S.shape[0])
    return int(len(match) - per_image[match].max())


def _chunks(S, match, task, n_distractors, seed) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Yield ``(pos [c], neg [c, m], valid [c, m])`` for consecutive chunks of instances."""
    n_img, n_rsp = S.shape
    pos_all = S[match, torch.arange(n_rsp, device=S.device)]
    width = n_rsp if task == "encoding" else n_img
    step = max(1, _CHUNK_ELEMENTS // max(width, 1))
    gen = torch.Generator().manual_seed(int(seed)) if n_distractors is not None else None
    for lo in range(0, n_rsp, step):
        idx = torch.arange(lo, min(lo + step, n_rsp), device=S.device)
        q = match[idx]
        if task == "encoding":
            neg = S[q]  # [c, n_rsp]: row of the query image
            valid = match[None, :] != q[:, None]
        else:
            neg = S[:, idx].T  # [c, n_img]: column of the query response
            valid = torch.arange(n_img, device=S.device)[None, :] != q[:, None]
        if n_distractors is not None:
            # K distinct eligible candidates per instance, uniformly: the K smallest random keys.
            keys = torch.rand(valid.shape, generator=gen).to(S.device)
            keys[~valid] = 2.0
            pick = keys.topk(int(n_distractors), dim=1, largest=False).indices
            neg = neg.gather(1, pick)
            valid = torch.ones_like(neg, dtype=torch.bool)
        yield pos_all[idx], neg, valid


def _counts_all_decoding(S, match):
    """All distractors, decoding: compare each column with its true image's score (one pass over S)."""
    n_img, n_rsp = S.shape
    pos = S[match, torch.arange(n_rsp, device=S.device)][None, :]
    below = (S < pos).sum(0)
    equal = (S == pos).sum(0) - 1  # the true image itself is one of the equal scores
    return below, equal, (n_img - 1) - below - equal


def _sorted_rows(S: torch.Tensor) -> torch.Tensor:
    """``S`` sorted along rows (numpy's sort is several times faster than torch's on the CPU)."""
    if S.device.type == "cpu":
        return torch.from_numpy(np.sort(S.numpy(), axis=1))
    return S.sort(dim=1).values


def _all_finite(S: torch.Tensor) -> bool:
    return bool(np.isfinite(S.numpy()).all()) if S.device.type == "cpu" else bool(torch.isfinite(S).all())


def _counts_all_encoding(S, match):
    """All distractors, encoding: sort each image's row once and binary-search the scores of that image's
    own responses (gathered into a padded ``[n_images, max_trials]`` table); then remove the image's
    other trials, which are never distractors. No ``[R, R]`` matrix is formed."""
    n_img, n_rsp = S.shape
    dev = S.device
    counts = torch.bincount(match, minlength=n_img)
    T = int(counts.max())
    order = torch.argsort(match, stable=True)
    start = torch.cumsum(counts, 0) - counts
    img, slot = match[order], torch.arange(n_rsp, device=dev) - start[match[order]]
    V = torch.full((n_img, T), float("inf"), dtype=S.dtype, device=dev)
    V[img, slot] = S[img, order]  # V[i, t]: score of image i's t-th own response
    valid = torch.zeros((n_img, T), dtype=torch.bool, device=dev)
    valid[img, slot] = True
    rows = _sorted_rows(S)
    left = torch.searchsorted(rows, V)  # scores < v in the whole row
    right = torch.searchsorted(rows, V, right=True)  # scores <= v
    own = valid[:, None, :]
    own_less = ((V[:, None, :] < V[:, :, None]) & own).sum(2)
    own_equal = ((V[:, None, :] == V[:, :, None]) & own).sum(2)
    below = torch.empty(n_rsp, dtype=torch.long, device=dev)
    equal = torch.empty_like(below)
    below[order] = (left - own_less)[img, slot]
    equal[order] = (right - left - own_equal)[img, slot]
    return below, equal, (n_rsp - counts[match]) - below - equal


def _counts(S, match, task, n_distractors, seed) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per instance: distractors scoring below, equal to, and above the true match."""
    if n_distractors is None and task == "decoding":
        return _counts_all_decoding(S, match)
    if n_distractors is None and S.shape[0] * int(torch.bincount(match).max()) ** 2 <= _CHUNK_ELEMENTS:
        return _counts_all_encoding(S, match)
    below, equal, above = [], [], []
    for pos, neg, valid in _chunks(S, match, task, n_distractors, seed):
        p = pos[:, None]
        below.append(((neg < p) & valid).sum(1))
        equal.append(((neg == p) & valid).sum(1))
        above.append(((neg > p) & valid).sum(1))
    return torch.cat(below), torch.cat(equal), torch.cat(above)


def discriminative_auc(
    S, match, task: str, n_distractors: int | None = None, seed: int = 0
) -> AUCResult:
    """ROC AUC per instance and its mean (section 3.2; ties count one half).

    Args:
        S: ``[n_images, n_responses]`` scores.
        match: ``[n_responses]`` image index of each response.
        task: ``"encoding"`` or ``"decoding"``.
        n_distractors: ``None`` for every eligible distractor, else ``K`` sampled without replacement per
            instance (seeded by ``seed``).
    """
    S, match = _validate(S, match, task, n_distractors)
    below, equal, above = _counts(S, match, task, n_distractors, seed)
    total = (below + equal + above).double()
    if (total == 0).any():
        raise ValueError(f"some {task} instance has no eligible distractor (only one image?)")
    auc = (below.double() + 0.5 * equal.double()) / total
    per = auc.cpu().numpy()
    return AUCResult(per, float(per.mean()))


def top_k_accuracy(
    S, match, task: str, k=(1, 5), n_distractors: int | None = None, seed: int = 0
) -> dict[int, float]:
    """Fraction of instances whose true match ranks within the top ``k`` of its candidate set.

    The candidate sets are those of :func:`discriminative_auc` (same ``n_distractors`` and ``seed``). A tie
    with a distractor counts against the true match (rank = 1 + distractors scoring >= it).
    """
    S, match = _validate(S, match, task, n_distractors)
    ks = (k,) if isinstance(k, int) else tuple(k)
    _, equal, above = _counts(S, match, task, n_distractors, seed)
    rank = 1 + equal + above
    return {int(kk): float((rank <= kk).double().mean()) for kk in ks}


def roc_curve(S, match, task: str, n_distractors: int | None = None, seed: int = 0) -> ROCCurve:
    """The ROC curve of ``task`` averaged over instances, from the candidate sets of :func:`discriminative_auc`.

    One instance (one positive, ``K`` negatives) has a step ROC curve from TPR 0 to 1 at the false positive
    rate ``fpr = (#distractors above the true match + 0.5 #ties) / K``. Averaging these curves vertically
    gives ``TPR(f) = fraction of instances with fpr <= f``, whose area is exactly the mean per-instance AUC
    (``ROCCurve.auc``, equal to ``discriminative_auc(...).mean``).
    """
    S, match = _validate(S, match, task, n_distractors)
    below, equal, above = _counts(S, match, task, n_distractors, seed)
    total = (below + equal + above).double()
    fpr = np.sort(((above.double() + 0.5 * equal.double()) / total).cpu().numpy())
    grid = np.unique(np.r_[0.0, fpr, 1.0])
    tpr = np.searchsorted(fpr, grid, side="right") / len(fpr)
    return ROCCurve(grid, tpr, float(1.0 - fpr.mean()))


def top_k_curve(S, match, task: str, ks=(1, 2, 3, 5, 10, 20), n_distractors: int | None = None,
                seed: int = 0) -> TopKCurve:
    """:func:`top_k_accuracy` for each ``k`` of ``ks`` that every candidate set has room for, and its chance
    level: the mean over instances of ``k / (K + 1)`` for ``K`` distractors (same candidate sets)."""
    S, match = _validate(S, match, task, n_distractors)
    below, equal, above = _counts(S, match, task, n_distractors, seed)
    n_candidates = (below + equal + above).cpu().numpy() + 1
    rank = (1 + equal + above).cpu().numpy()
    ks = np.array([int(k) for k in ks if k <= n_candidates.min()], dtype=int)
    accuracy = np.array([float((rank <= k).mean()) for k in ks])
    chance = np.array([float(np.mean(np.minimum(k / n_candidates, 1.0))) for k in ks])
    return TopKCurve(ks, accuracy, chance)


def candidate_scores(
    S, match, task: str, n_distractors: int | None = None, seed: int = 0
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The true-match score and the distractor scores of every instance (for ROC curves and plots).

    Returns ``(positive [n_responses], negatives)`` where ``negatives[j]`` holds instance ``j``'s
    distractor scores (same candidate sets as :func:`discriminative_auc`).
    """
    S, match = _validate(S, match, task, n_distractors)
    pos_out, neg_out = [], []
    for pos, neg, valid in _chunks(S, match, task, n_distractors, seed):
        pos_out.append(pos.cpu().numpy())
        neg_np, valid_np = neg.cpu().numpy(), valid.cpu().numpy()
        neg_out += [row[v] for row, v in zip(neg_np, valid_np)]
    return np.concatenate(pos_out), neg_out
