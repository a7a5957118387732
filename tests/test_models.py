"""Layer-by-layer architecture checks against the paper (sections 3.1 and 4.2)."""
import math

import pytest
import torch
from torch import nn

from vna import VNA, DirectDecoder, DirectEncoder, ImageEncoder, RunConfig, SpikeEncoder, build_model


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_image_encoder_layers_and_shapes():
    enc = ImageEncoder(in_channels=1, latent_dim=128, image_size=64)
    convs = [m for m in enc.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 128, 256]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) and c.padding == (1, 1) for c in convs)
    # each conv followed by BatchNorm2d then LeakyReLU
    mods = list(enc.features)
    for i, m in enumerate(mods):
        if isinstance(m, nn.Conv2d):
            assert isinstance(mods[i + 1], nn.BatchNorm2d) and isinstance(mods[i + 2], nn.LeakyReLU)
    x = torch.rand(3, 1, 64, 64)
    assert enc.features(x).shape == (3, 1024)  # 256 x 2 x 2
    assert enc(x).shape == (3, 128)
    # conv weights+bias, BN affine, final linear: counted by hand from the paper's layer list
    convs_p = (1 * 16 * 16 + 16) + (16 * 32 * 16 + 32) + (32 * 64 * 16 + 64) + (64 * 128 * 16 + 128) + (128 * 256 * 16 + 256)
    bn_p = 2 * (16 + 32 + 64 + 128 + 256)
    assert n_params(enc) == convs_p + bn_p + 1024 * 128 + 128 == 829264


def test_image_encoder_rgb_and_other_sizes():
    assert ImageEncoder(3, 64, 128)(torch.rand(2, 3, 128, 128)).shape == (2, 64)
    assert ImageEncoder(3, 64, 128).flat_dim == 256 * 4 * 4


@pytest.mark.parametrize("size", [63, 48, 0, 16])
def test_image_size_must_be_multiple_of_32(size):
    with pytest.raises(ValueError, match="multiple of 32"):
        ImageEncoder(image_size=size)


def test_spike_encoder_layers():
    enc = SpikeEncoder(50, latent_dim=128)
    kinds = [type(m) for m in enc.mlp]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.LeakyReLU, nn.Linear]
    assert enc.mlp[0].in_features == 50 and enc.mlp[0].out_features == 512 and enc.mlp[3].out_features == 128
    assert n_params(enc) == (50 * 512 + 512) + 2 * 512 + (512 * 128 + 128) == 92800
    assert enc(torch.randn(5, 50)).shape == (5, 128)


def test_vna_logit_scale():
    m = VNA(20, temperature=0.07)
    assert math.isclose(m.logit_scale.item(), math.log(1 / 0.07), rel_tol=1e-6)
    assert m.logit_scale.requires_grad
    assert not VNA(20, learn_temperature=False).logit_scale.requires_grad
    assert math.isclose(m.temperature, 0.07, rel_tol=1e-6)
    with torch.no_grad():
        m.logit_scale.fill_(10.0)
    assert math.isclose(m.temperature, 0.01)  # multiplier clamped at 100


def test_vna_score_is_cosine():
    torch.manual_seed(0)
    m = VNA(20, latent_dim=16).eval()
    x, y = torch.rand(4, 1, 64, 64), torch.randn(7, 20)
    S = m.score(x, y)
    with torch.no_grad():
        a, b = m.image_encoder(x), m.spike_encoder(y)
    ref = nn.functional.cosine_similarity(a[:, None], b[None], dim=-1)
    assert S.shape == (4, 7)
    torch.testing.assert_close(S, ref, atol=1e-5, rtol=1e-5)
    assert S.abs().max() <= 1 + 1e-6


def test_direct_encoder_and_score():
    torch.manual_seed(0)
    m = DirectEncoder(30).eval()
    assert isinstance(m.head, nn.Linear) and m.head.in_features == 1024 and m.head.out_features == 30
    x, y = torch.rand(4, 1, 64, 64), torch.randn(6, 30)
    S = m.score(x, y)
    with torch.no_grad():
        pred = m(x)
    assert S.shape == (4, 6)
    torch.testing.assert_close(S[2, 5], -torch.linalg.norm(pred[2] - y[5]), atol=1e-5, rtol=1e-5)


def test_direct_decoder_mirrors_encoder():
    torch.manual_seed(0)
    m = DirectDecoder(30).eval()
    deconvs = [c for c in m.deconv if isinstance(c, nn.ConvTranspose2d)]
    assert [c.out_channels for c in deconvs] == [128, 64, 32, 16, 1]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) and c.padding == (1, 1) for c in deconvs)
    assert m.mlp[0].out_features == 512 and m.mlp[3].out_features == 1024
    y = torch.randn(5, 30)
    out = m.reconstruct(y)
    assert out.shape == (5, 1, 64, 64) and out.min() >= 0 and out.max() <= 1
    x = torch.rand(3, 1, 64, 64)
    S = m.score(x, y)
    torch.testing.assert_close(S[1, 4], -torch.linalg.norm(x[1] - out[4]), atol=1e-5, rtol=1e-5)
    assert DirectDecoder(30, in_channels=3).reconstruct(y).shape == (5, 3, 64, 64)


def test_score_restores_training_mode_and_checks_shapes():
    m = VNA(10)
    m.train()
    m.score(torch.rand(2, 1, 64, 64), torch.randn(3, 10))
    assert m.training
    with pytest.raises(ValueError, match=r"expects images \[n, 1, 64, 64\]"):
        m.score(torch.rand(2, 1, 32, 32), torch.randn(3, 10))
    with pytest.raises(ValueError, match=r"expects responses \[n, 10\]"):
        DirectEncoder(10).score(torch.rand(2, 1, 64, 64), torch.randn(3, 11))


def test_build_model_is_seeded():
    cfg = RunConfig(method="direct_decoder", seed=3)
    a, b = build_model(cfg, 12), build_model(cfg, 12)
    assert isinstance(a, DirectDecoder)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = build_model(cfg.replace(seed=4), 12)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_decoder_ends_in_a_sigmoid_after_four_normalised_layers_and_one_neuron_is_enough():
    m = DirectDecoder(1)
    assert isinstance(m.deconv[-1], nn.Sigmoid) and isinstance(m.deconv[-2], nn.ConvTranspose2d)
    assert sum(isinstance(c, nn.BatchNorm2d) for c in m.deconv) == 4
    assert sum(isinstance(c, nn.LeakyReLU) for c in m.deconv) == 4
    for cls in (DirectEncoder, DirectDecoder, VNA):
        cls(1)  # a single recorded neuron is a valid (if poor) population
        with pytest.raises(ValueError, match="n_neurons must be >= 1"):
            cls(0)


def test_decoder_scores_are_exact_distances():
    """The score is the exact Euclidean distance (no matrix-product shortcut, whose cancellation error is
    about 0.016 here): an image scored against its own reconstruction is exactly 0."""
    torch.manual_seed(1)
    m = DirectDecoder(7).eval()
    y = torch.randn(30, 7)
    x = m.reconstruct(y)
    assert torch.equal(m.score(x, y).diag(), torch.zeros(30))
    enc = DirectEncoder(7).eval()
    images = torch.rand(30, 1, 64, 64)
    assert torch.equal(enc.score(images, enc.predict(images)).diag(), torch.zeros(30))


def test_defaults_are_the_papers():
    """Latent size 128, hidden 512, one grey channel, temperature 0.07 (sections 3.1 and 4.2)."""
    assert ImageEncoder()(torch.zeros(2, 1, 64, 64)).shape == (2, 128)
    spike = SpikeEncoder(10)
    assert spike(torch.zeros(2, 10)).shape == (2, 128)
    assert [m.out_features for m in spike.modules() if isinstance(m, nn.Linear)][0] == 512
    model = VNA(10)
    assert model.encode_images(torch.zeros(2, 1, 64, 64)).shape == (2, 128)
    assert float(model.logit_scale.detach()) == pytest.approx(math.log(1 / 0.07))
    with pytest.raises(ValueError, match="temperature must be > 0; got 0"):
        VNA(10, temperature=0)


def test_chunked_mean_weights_chunks_by_their_size():
    from vna.models import _chunked_mean

    assert _chunked_mean(lambda b: b.float().mean(), 10, 4, "cpu") == pytest.approx(4.5)
    assert _chunked_mean(lambda b: b.float().mean(), 10, 4, "cpu", minimum=3) == pytest.approx(3.5)


def test_check_pairs_says_what_to_change():
    from vna.data import PairedData

    def pairs(c, s, n=5):
        return PairedData(torch.rand(2, c, s, s), torch.randn(4, n), torch.tensor([0, 0, 1, 1]))

    grey = DirectEncoder(5)
    with pytest.raises(ValueError, match=r"but data has 1 x 32 x 32; prepare the images with image_size=64 \("):
        grey.check_pairs(pairs(1, 32))
    with pytest.raises(ValueError, match=r"but data has 3 x 64 x 64; prepare the images with grey=True \("):
        grey.check_pairs(pairs(3, 64))
    two = DirectEncoder(5, in_channels=2)
    with pytest.raises(ValueError, match=r"expects images of 2 x 64 x 64 .* with in_channels=3 \("):
        two.check_pairs(pairs(3, 64))
