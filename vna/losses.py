"""Training objectives (paper section 3.1.3, eq. 1; baselines section 4.2)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["contrastive_loss", "mse_loss", "MAX_LOGIT_SCALE"]

#: CLIP clamps the multiplier ``logit_scale.exp()`` at 100 (Radford et al. 2021).
MAX_LOGIT_SCALE = 100.0


def contrastive_loss(
    image_emb: torch.Tensor,
    response_emb: torch.Tensor,
    logit_scale: torch.Tensor | float,
    match: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric CLIP cross-entropy over the B x B cosine-similarity matrix (paper eq. 1).

    ``logits[i, j] = exp(logit_scale) * cos(image_emb[i], response_emb[j])`` (multiplier clamped at 100);
    the loss is the mean of the image->response (rows) and response->image (columns) cross-entropies
    with the diagonal as targets. Embeddings are L2-normalised here.

    ``match`` (optional, ``[B]``): the image each pair came from. When two pairs of a batch share an
    image (two trials of one stimulus), both responses count as positives for that image (soft targets
    spread evenly over them) instead of one being a false negative. With no repeated image the loss is
    exactly eq. (1).
    """
    if image_emb.shape != response_emb.shape or image_emb.ndim != 2:
        raise ValueError(
            f"contrastive_loss needs two [B, d] embeddings of one shape; got {tuple(image_emb.shape)} "
            f"and {tuple(response_emb.shape)}"
        )
    if len(image_emb) < 2:
        raise ValueError(f"contrastive_loss needs at least 2 pairs (a batch of {len(image_emb)} has no negatives)")
    if match is not None:
        match = torch.as_tensor(match)
        if match.ndim != 1 or len(match) != len(image_emb):
            raise ValueError(f"contrastive_loss: match must have one entry per pair ({len(image_emb)}); got shape "
                             f"{tuple(match.shape)}")
        if match.is_floating_point() or match.dtype == torch.bool:
            raise ValueError(f"contrastive_loss: match must hold integer image indices; got dtype {match.dtype}")
        match = match.to(image_emb.device)
    scale = torch.as_tensor(logit_scale, dtype=image_emb.dtype, device=image_emb.device)
    scale = scale.exp().clamp(max=MAX_LOGIT_SCALE)
    img = F.normalize(image_emb, dim=-1)
    rsp = F.normalize(response_emb, dim=-1)
    logits = scale * img @ rsp.T
    if match is None:
        target = torch.arange(len(logits), device=logits.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    same = (match[:, None] == match[None, :]).to(logits.dtype)
    target = same / same.sum(dim=1, keepdim=True)  # symmetric matrix: rows and columns alike
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def mse_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error, the objective of both direct baselines (paper section 4.2)."""
    return F.mse_loss(prediction, target)
