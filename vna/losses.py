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
) -> torch.Tensor:
    """Symmetric CLIP cross-entropy over the B x B cosine-similarity matrix (paper eq. 1).

    ``logits[i, j] = exp(logit_scale) * cos(image_emb[i], response_emb[j])`` (multiplier clamped at 100);
    the loss is the mean of the image->response (rows) and response->image (columns) cross-entropies
    with the diagonal as targets. Embeddings are L2-normalised here.

    Repeated images need no special case. When two trials of one image share a batch, their image
    embeddings are identical (same input, same network), so their rows of ``logits`` are identical: the
    row cross-entropies with targets ``j`` and ``k`` sum to what "both responses are positives" (soft
    targets 1/2, 1/2 on each row) gives, and in each column the two identical entries have equal
    probability, so the diagonal target equals the soft one. Eq. 1 therefore already treats the other trial
    as a positive, not as a false negative (``tests/test_losses.py`` checks the identity). Only inputs that
    differ for one image -- augmentation, which vna does not use -- would break it.
    """
    if image_emb.shape != response_emb.shape or image_emb.ndim != 2:
        raise ValueError(
            f"contrastive_loss needs two [B, d] embeddings of one shape; got {tuple(image_emb.shape)} "
            f"and {tuple(response_emb.shape)}"
        )
    if len(image_emb) < 2:
        raise ValueError(f"contrastive_loss needs at least 2 pairs (a batch of {len(image_emb)} has no negatives)")
    scale = torch.as_tensor(logit_scale, dtype=image_emb.dtype, device=image_emb.device)
    scale = scale.exp().clamp(max=MAX_LOGIT_SCALE)
    img = F.normalize(image_emb, dim=-1)
    rsp = F.normalize(response_emb, dim=-1)
    logits = scale * img @ rsp.T
    target = torch.arange(len(logits), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def mse_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error, the objective of both direct baselines (paper section 4.2)."""
    return F.mse_loss(prediction, target)
