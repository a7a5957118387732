"""`evaluate`: discriminative encoding and decoding of a trained model on test pairs (section 3.2)."""
from __future__ import annotations

import torch

from .data.paired import PairedData
from .metrics import discriminative_auc, top_k_accuracy
from .train import resolve_device

__all__ = ["evaluate"]


def evaluate(
    model: torch.nn.Module,
    test: PairedData,
    n_distractors: int | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    return_scores: bool = False,
):
    """Encoding and decoding AUC (and their mean), top-1 and top-5 accuracy of ``model`` on ``test``.

    One score matrix ``S = model.score(test.images, test.responses)`` serves both tasks. With
    ``return_scores`` the matrix is returned too: ``(metrics, S)``.
    """
    if not isinstance(test, PairedData):
        raise ValueError(f"test must be a PairedData; got {type(test).__name__}")
    dev = resolve_device(device)
    model.to(dev)
    S = model.score(test.images.to(dev), test.responses.to(dev))
    match = test.match.to(S.device)
    out: dict[str, float] = {}
    for task in ("encoding", "decoding"):
        out[f"{task}_auc"] = discriminative_auc(S, match, task, n_distractors, seed).mean
        top = top_k_accuracy(S, match, task, (1, 5), n_distractors, seed)
        out[f"{task}_top1"], out[f"{task}_top5"] = top[1], top[5]
    out["mean_auc"] = 0.5 * (out["encoding_auc"] + out["decoding_auc"])
    out = {k: out[k] for k in ("encoding_auc", "decoding_auc", "mean_auc", "encoding_top1", "encoding_top5",
                               "decoding_top1", "decoding_top5")}
    return (out, S.cpu()) if return_scores else out
