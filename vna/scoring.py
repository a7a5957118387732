"""Scoring rules: how a method's two sides become the score matrix ``S``: is it the model or the score?

Every method compares two things per (image ``i``, response ``j``) -- its *sides* (``model.sides``):

* VNA: the image embedding and the response embedding (section 3.1);
* direct encoding: the predicted response ``f(x_i)`` and the candidate response ``y_j`` (section 4.2.1);
* direct decoding: the candidate image ``x_i`` and the reconstruction ``g(y_j)`` (section 4.2.2);
* the linear baselines and the trial template likewise (:mod:`vna.linear`).

Rules (``SCORES``):

* ``"paper"`` -- each method's own rule, the paper's: cosine for VNA (and CCA), negative Euclidean distance
  for the direct methods (section 4.2). The default, and the only one whose numbers are "the paper's".
* ``"cosine"`` -- the cosine of the two sides, for every method. In encoding, a Euclidean score ranks the
  candidate responses largely by their own norm, whatever the model predicts; the cosine does not.
* ``"centred"`` -- the paper's ``S`` with each *column* (one response) minus its mean over the images. It
  changes encoding's ranking (candidates are columns) and cannot change decoding's (a constant per column).

One training, every rule: :func:`rule_matrices` computes the sides once and derives each rule's ``S``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

__all__ = ["SCORES", "DEFAULT_SCORE", "SCORE_LABELS", "cosine_matrix", "centre_columns", "rule_matrices",
           "check_scores"]

SCORES = ("paper", "cosine", "centred")
DEFAULT_SCORE = "paper"
SCORE_LABELS = {
    "paper": "the paper's rule (cosine for VNA, −Euclidean for DE/DD)",
    "cosine": "cosine of the two sides, every method",
    "centred": "the paper's rule, each response's column centred over images",
}


def _tensor(x) -> torch.Tensor:
    return x.detach() if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))


def cosine_matrix(a, b, eps: float = 1e-12) -> torch.Tensor:
    """``cos(a_i, b_j)`` for every row pair, in float64 (``a`` [I, D], ``b`` [R, D]; tensors or arrays)."""
    a, b = _tensor(a).double(), _tensor(b).double()
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"the two sides must be [n, D] with one D; got {tuple(a.shape)} and {tuple(b.shape)}")
    a = a / a.norm(dim=1, keepdim=True).clamp_min(eps)
    b = b.to(a.device) / b.to(a.device).norm(dim=1, keepdim=True).clamp_min(eps)
    return a @ b.T


def centre_columns(S: torch.Tensor) -> torch.Tensor:
    """``S`` with each column minus its mean over the rows (images), in float64."""
    S = _tensor(S).double()
    return S - S.mean(dim=0, keepdim=True)


def check_scores(scores: Sequence[str] | str) -> tuple[str, ...]:
    """The rules named, checked (ValueError naming the known ones otherwise); ``"paper"`` always first."""
    scores = (scores,) if isinstance(scores, str) else tuple(scores)
    bad = [s for s in scores if s not in SCORES]
    if bad:
        raise ValueError(f"unknown scoring rule(s) {bad}; known: {', '.join(SCORES)}")
    return (DEFAULT_SCORE,) + tuple(s for s in SCORES if s in scores and s != DEFAULT_SCORE)


def rule_matrices(model, images, responses, scores: Sequence[str] = SCORES) -> dict[str, torch.Tensor]:
    """``{rule: S}`` for ``model`` on these images and responses, from one pass through the model.

    ``S["paper"]`` is exactly ``model.score(images, responses)`` (the published numbers' matrix).
    """
    scores = check_scores(scores)
    if scores == (DEFAULT_SCORE,):
        return {DEFAULT_SCORE: model.score(images, responses)}
    if not hasattr(model, "sides"):
        raise ValueError(f"{type(model).__name__} has score() but no sides(): only the paper's rule can score it, "
                         f"not {', '.join(scores[1:])}")
    a, b = model.sides(images, responses)
    out = {"paper": model.compare(a, b)}
    if "cosine" in scores:
        out["cosine"] = cosine_matrix(a, b)
    if "centred" in scores:
        out["centred"] = centre_columns(out["paper"])
    return out
