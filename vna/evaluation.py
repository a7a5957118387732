"""`evaluate`: discriminative encoding and decoding of a trained model on test pairs (section 3.2), under
each scoring rule of :mod:`vna.scoring` (the paper's by default)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .data.paired import PairedData
from .metrics import TASKS, discriminative_auc, top_k_accuracy
from .scoring import DEFAULT_SCORE, SCORES, check_scores, rule_matrices
from .train import resolve_device

__all__ = ["evaluate", "evaluate_scores", "evaluate_rules", "Evaluation", "METRIC_NAMES"]

METRIC_NAMES = ("encoding_auc", "decoding_auc", "mean_auc", "encoding_top1", "encoding_top5",
                "decoding_top1", "decoding_top5")


class Evaluation(NamedTuple):
    """What :func:`evaluate_scores` gives: the metrics, the score matrix and each task's per-instance AUCs."""

    metrics: dict[str, float]
    scores: torch.Tensor  # S [n_test_images, n_test_responses] on the CPU
    per_instance: dict[str, np.ndarray]  # task -> AUC of each instance (one per test response)


def evaluate_scores(S: torch.Tensor, match: torch.Tensor, n_distractors: int | None = None,
                    seed: int = 0) -> Evaluation:
    """Encoding and decoding AUC (and their mean), top-1 and top-5 accuracy from a score matrix.

    Rows of ``S`` are test images, columns test responses; encoding reads rows, decoding columns
    (:mod:`vna.metrics`), with the same candidate sets for AUC and top-k.
    """
    match = torch.as_tensor(match).to(S.device)
    out: dict[str, float] = {}
    per: dict[str, np.ndarray] = {}
    for task in TASKS:
        auc = discriminative_auc(S, match, task, n_distractors, seed)
        out[f"{task}_auc"], per[task] = auc.mean, auc.per_instance
        top = top_k_accuracy(S, match, task, (1, 5), n_distractors, seed)
        out[f"{task}_top1"], out[f"{task}_top5"] = top[1], top[5]
    out["mean_auc"] = 0.5 * (out["encoding_auc"] + out["decoding_auc"])
    return Evaluation({k: out[k] for k in METRIC_NAMES}, S.detach().cpu(), per)


def evaluate_rules(model, test: PairedData, n_distractors: int | None = None, seed: int = 0,
                   device: str | torch.device = "auto", scores=SCORES) -> dict[str, Evaluation]:
    """:func:`evaluate_scores` under each scoring rule (:mod:`vna.scoring`), from one pass of ``model`` over
    ``test``: ``{rule: Evaluation}``, ``"paper"`` first. Every rule uses the same candidate sets."""
    if not isinstance(test, PairedData):
        raise ValueError(f"test must be a PairedData; got {type(test).__name__}")
    if hasattr(model, "check_pairs"):
        model.check_pairs(test, "test")
    dev = resolve_device(device)
    model.to(dev)
    matrices = rule_matrices(model, test.images.to(dev), test.responses.to(dev), scores)
    return {rule: evaluate_scores(S, test.match, n_distractors, seed) for rule, S in matrices.items()}


def evaluate(
    model: torch.nn.Module,
    test: PairedData,
    n_distractors: int | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    return_scores: bool = False,
    score: str = DEFAULT_SCORE,
):
    """Encoding and decoding AUC (and their mean), top-1 and top-5 accuracy of ``model`` on ``test``.

    One score matrix serves both tasks: ``model.score(test.images, test.responses)`` under the paper's rule
    (``score="paper"``), or another rule of :mod:`vna.scoring` (``"cosine"``, ``"centred"``). With
    ``return_scores`` the matrix is returned too: ``(metrics, S)``.
    """
    rule = check_scores(score)[-1]  # ("paper", rule): the named rule, or "paper" itself
    ev = evaluate_rules(model, test, n_distractors, seed, device, scores=(rule,))[rule]
    return (ev.metrics, ev.scores) if return_scores else ev.metrics
