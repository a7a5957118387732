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


def test_match_aware_targets():
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(6, 4, generator=g, dtype=torch.float64)
    s = torch.tensor(1.0, dtype=torch.float64)
    # all distinct images: exactly eq. (1)
    torch.testing.assert_close(contrastive_loss(a, b, s, torch.arange(6)), contrastive_loss(a, b, s))
    # two responses to one image: both count as positives -> the pair's swap costs nothing
    a2 = a.clone()
    a2[1] = a2[0]
    match = torch.tensor([0, 0, 2, 3, 4, 5])
    swapped = b[[1, 0, 2, 3, 4, 5]]
    torch.testing.assert_close(contrastive_loss(a2, b, s, match), contrastive_loss(a2, swapped, s, match))


def test_shape_error():
    import pytest

    with pytest.raises(ValueError, match=r"\[B, d\]"):
        contrastive_loss(torch.randn(4, 3), torch.randn(5, 3), 1.0)
