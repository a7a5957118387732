"""The contrastive loss equals paper eq. (1) / CLIP's symmetric cross-entropy."""
import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vna.losses import contrastive_loss


def hand_loss(a, b, scale):
    """Eq. (1) written out with explicit sums."""
    a = [[x / math.sqrt(sum(x * x for x in v)) for x in v] for v in a]
    b = [[x / math.sqrt(sum(x * x for x in v)) for x in v] for v in b]
    B = len(a)
    s = [[scale * sum(x * y for x, y in zip(a[i], b[j])) for j in range(B)] for i in range(B)]
    i2r = -sum(s[i][i] - math.log(sum(math.exp(s[i][j]) for j in range(B))) for i in range(B)) / B
    r2i = -sum(s[j][j] - math.log(sum(math.exp(s[i][j]) for i in range(B))) for j in range(B)) / B
    return 0.5 * (i2r + r2i)


def test_equals_hand_computation():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64)
    got = contrastive_loss(a, b, torch.tensor(math.log(1 / 0.07), dtype=torch.float64))
    assert math.isclose(float(got), hand_loss(a.tolist(), b.tolist(), 1 / 0.07), rel_tol=1e-9)


def test_multiplier_clamped_at_100():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g, dtype=torch.float64)
    got = contrastive_loss(a, b, torch.tensor(math.log(1000.0), dtype=torch.float64))
    assert math.isclose(float(got), hand_loss(a.tolist(), b.tolist(), 100.0), rel_tol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 12), st.integers(1, 8), st.integers(0, 10_000))
def test_symmetric_in_modalities(B, d, seed):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(B, d, generator=g, dtype=torch.float64), torch.randn(B, d, generator=g, dtype=torch.float64)
    s = torch.tensor(2.0, dtype=torch.float64)
    torch.testing.assert_close(contrastive_loss(a, b, s), contrastive_loss(b, a, s))
    # invariant to the embeddings' norms (normalised inside)
    torch.testing.assert_close(contrastive_loss(3 * a, 0.5 * b, s), contrastive_loss(a, b, s))


def test_aligned_lower_than_shuffled():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(32, 16, generator=g)
    b = a + 0.1 * torch.randn(32, 16, generator=g)
    aligned = contrastive_loss(a, b, torch.tensor(math.log(1 / 0.07)))
    shuffled = contrastive_loss(a, b[torch.randperm(32, generator=g)], torch.tensor(math.log(1 / 0.07)))
    assert aligned < 0.1 < shuffled


def _soft_target_loss(a, b, s, match):
    """Reference: the loss that counts every response to the same image as a positive (soft targets)."""
    import torch.nn.functional as F

    logits = s.exp().clamp(max=100) * F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
    same = (match[:, None] == match[None, :]).to(logits.dtype)
    target = same / same.sum(1, keepdim=True)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def test_eq1_already_treats_repeated_trials_as_positives():
    """With repeated images (identical image embeddings), plain eq. 1 *equals* the soft-target loss; with
    embeddings that differ for one image (what augmentation would give) it does not."""
    g = torch.Generator().manual_seed(3)
    s = torch.tensor(1.5, dtype=torch.float64)
    for repeats in ([0, 0, 1, 2, 3, 4], [0, 0, 0, 1, 1, 2], [0, 1, 0, 1, 2, 2]):
        match = torch.tensor(repeats)
        images = torch.randn(int(match.max()) + 1, 4, generator=g, dtype=torch.float64)
        a = images[match]  # two trials of one image: identical image embeddings
        b = torch.randn(len(match), 4, generator=g, dtype=torch.float64)
        torch.testing.assert_close(contrastive_loss(a, b, s), _soft_target_loss(a, b, s, match), rtol=1e-12, atol=1e-12)
        # and the plain loss does not push a repeated trial away: swapping the responses of two trials of
        # one image leaves it unchanged
        first = (match == match[0]).nonzero().flatten()[:2]
        perm = torch.arange(len(match))
        perm[first[0]], perm[first[1]] = first[1], first[0]
        torch.testing.assert_close(contrastive_loss(a, b[perm], s), contrastive_loss(a, b, s), rtol=1e-12, atol=1e-12)
    # where one image's embeddings differ (augmentation), the two losses differ: the identity is not vacuous
    match = torch.tensor([0, 0, 1, 2])
    a = torch.randn(4, 4, generator=g, dtype=torch.float64)
    b = torch.randn(4, 4, generator=g, dtype=torch.float64)
    assert abs(float(contrastive_loss(a, b, s) - _soft_target_loss(a, b, s, match))) > 1e-3


def test_shape_error():
    import pytest

    with pytest.raises(ValueError, match=r"\[B, d\]"):
        contrastive_loss(torch.randn(4, 3), torch.randn(5, 3), 1.0)
