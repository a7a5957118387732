"""Preprocessing: images, reliability, splits, z-scoring and `to_paired` (issue "Data")."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from vna.data import Recording, from_arrays
from vna.data.preprocess import (
    make_split,
    noise_ceiling,
    prepare_images,
    select_neurons,
    split_half_reliability,
    to_paired,
    zscore,
    zscore_stats,
)


def _recording(n_images=40, n_trials=6, n_neurons=12, seed=0, min_trials=None, name="toy"):
    """Gaussian toy recording: signal per (image, neuron) + independent trial noise."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(0, 1, (n_images, 1, n_neurons))
    r = signal + rng.normal(0, 0.5, (n_images, n_trials, n_neurons))
    if min_trials is not None:
        counts = rng.integers(min_trials, n_trials + 1, n_images)
        r[np.arange(n_trials)[None] >= counts[:, None]] = np.nan
    images = rng.integers(0, 256, (n_images, 20, 24), dtype=np.uint8)
    return Recording(images, r, None, np.arange(100, 100 + n_images), {"name": name})


# ------------------------------------------------------------------------------------------ images
def test_prepare_images_uint8_grey_resized():
    imgs = np.zeros((3, 10, 10), np.uint8)
    imgs[1] = 255
    imgs[2, :, :5] = 255
    t = prepare_images(imgs, image_size=64, grey=True)
    assert t.dtype == torch.float32 and tuple(t.shape) == (3, 1, 64, 64)
    assert float(t[0].max()) == 0.0 and float(t[1].min()) == 1.0
    assert float(t[2, 0, :, :20].mean()) == pytest.approx(1.0) and float(t[2, 0, :, 44:].mean()) == pytest.approx(0.0)


def test_prepare_images_rgb_to_luminance_and_back_to_three_channels():
    rgb = np.zeros((2, 8, 8, 3), np.uint8)
    rgb[0, ..., 0] = 255  # pure red
    rgb[1, ..., 1] = 255  # pure green
    grey = prepare_images(rgb, image_size=8, grey=True)
    assert grey.shape == (2, 1, 8, 8)
    assert float(grey[0].mean()) == pytest.approx(0.299, abs=1e-6)
    assert float(grey[1].mean()) == pytest.approx(0.587, abs=1e-6)
    colour = prepare_images(rgb, image_size=16, grey=False)
    assert colour.shape == (2, 3, 16, 16)
    assert float(colour[0, 0].mean()) == pytest.approx(1.0) and float(colour[0, 1].max()) == 0.0
    grey2 = np.stack([np.full((4, 4), 51, np.uint8), np.full((4, 4), 102, np.uint8)])  # one constant set is refused
    rep = prepare_images(grey2, image_size=4, grey=False)
    assert rep.shape == (2, 3, 4, 4) and torch.allclose(rep[0], torch.full_like(rep[0], 0.2))
    with pytest.raises(ValueError, match="uint8 images span only 51 .. 51"):
        prepare_images(grey2[:1], image_size=4)


def test_prepare_images_float_scaling():
    unit = np.random.default_rng(0).random((2, 6, 6))
    assert np.allclose(prepare_images(unit, image_size=6).numpy()[:, 0], unit, atol=1e-6)  # kept as is
    wide = unit * 1000 - 300  # min-max over the whole set
    out = prepare_images(wide, image_size=6).numpy()[:, 0]
    assert out.min() == pytest.approx(0.0) and out.max() == pytest.approx(1.0)
    assert np.allclose(out, (wide - wide.min()) / (wide.max() - wide.min()), atol=1e-6)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((2, 5)), "n_images, H, W"),
        (np.zeros((2, 5, 5, 4)), "n_images, H, W"),
        (np.full((1, 4, 4), 300, np.int32), "0..255"),
        (np.full((1, 4, 4), np.nan), "NaN"),
        (np.full((1, 4, 4), 7.0), "range below 1e-3"),
        (np.full((2, 4, 4), 2e-4) * np.arange(2)[:, None, None], "blank frames"),
    ],
)
def test_prepare_images_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        prepare_images(bad)


# ------------------------------------------------------------------------------------- reliability
def _gaussian_population(n_images, n_trials, signal_var, noise_var, seed):
    rng = np.random.default_rng(seed)
    s = rng.normal(0, 1, (n_images, 1, len(signal_var))) * np.sqrt(signal_var)
    return s + rng.normal(0, 1, (n_images, n_trials, len(signal_var))) * np.sqrt(noise_var)


def test_split_half_reliability_matches_analytic_gaussian_value():
    """Signal variance s, noise variance v, n trials: the reliability of the trial mean is s / (s + v / n)."""
    signal_var = np.linspace(0.02, 2.0, 60)
    noise_var, n = 1.0, 10
    r = _gaussian_population(3000, n, signal_var, noise_var, seed=1)
    est = split_half_reliability(r, n_splits=10, seed=0)
    true = signal_var / (signal_var + noise_var / n)
    assert np.abs(est - true).max() < 0.04
    assert abs(np.mean(est - true)) < 0.01
    assert np.corrcoef(est, true)[0, 1] > 0.99
    # and the noise ceiling is its square root
    assert np.allclose(noise_ceiling(r, n_splits=10, seed=0), np.sqrt(np.clip(est, 0, None)))


def test_split_half_reliability_with_missing_trials():
    """NaN-padded trials (6-10 per image): the estimate targets s / (s + v * mean(1 / n_i))."""
    signal_var = np.linspace(0.05, 1.0, 30)
    rng = np.random.default_rng(2)
    r = _gaussian_population(3000, 10, signal_var, 1.0, seed=3)
    counts = rng.integers(6, 11, len(r))
    r[np.arange(10)[None] >= counts[:, None]] = np.nan
    est = split_half_reliability(r)
    true = signal_var / (signal_var + np.mean(1.0 / counts))
    assert abs(np.mean(est - true)) < 0.02
    assert np.abs(est - true).max() < 0.06


def test_split_half_reliability_edge_cases():
    r = _gaussian_population(50, 4, np.array([1.0, 1.0]), 0.1, seed=0)
    r[:, :, 1] = 3.0  # constant neuron
    rel = split_half_reliability(r)
    assert np.isfinite(rel[0]) and np.isnan(rel[1])
    with pytest.raises(ValueError, match="n_trials=1"):
        split_half_reliability(r[:, :1])
    # seeded: same seed, same numbers
    assert np.array_equal(split_half_reliability(r, seed=5), split_half_reliability(r, seed=5), equal_nan=True)


# ------------------------------------------------------------------------------------------ splits
def test_make_split_images_disjoint_and_seeded():
    rec = _recording(n_images=40)
    sp = make_split(rec, "images", test_fraction=0.15, seed=3)
    assert len(sp.test_images) == 6 and len(sp.train_images) == 34
    assert not set(sp.test_images) & set(sp.train_images)
    assert not (sp.train_mask & sp.test_mask).any()
    assert ((sp.train_mask | sp.test_mask) == rec.trial_mask).all()
    again = make_split(rec, "images", test_fraction=0.15, seed=3)
    other = make_split(rec, "images", test_fraction=0.15, seed=4)
    assert np.array_equal(sp.test_images, again.test_images)
    assert not np.array_equal(sp.test_images, other.test_images)


def test_make_split_trials_holds_out_trials_of_every_image():
    rec = _recording(n_images=30, n_trials=10, min_trials=3, seed=1)
    sp = make_split(rec, "trials", test_fraction=0.15, seed=0)
    counts = rec.trial_counts
    held = sp.test_mask.sum(1)
    assert np.array_equal(held, np.clip(np.floor(0.15 * counts + 0.5), 1, counts - 1))
    assert (sp.train_mask.sum(1) >= 1).all()
    assert len(sp.train_images) == len(sp.test_images) == 30
    assert not (sp.train_mask & sp.test_mask).any() and not (sp.test_mask & ~rec.trial_mask).any()


def test_make_split_errors():
    rec = _recording(n_images=10, n_trials=3)
    with pytest.raises(ValueError, match="split must be"):
        make_split(rec, "neurons")
    with pytest.raises(ValueError, match="test_fraction"):
        make_split(rec, "images", test_fraction=1.0)
    means = Recording(rec.images, rec.mean_responses()[:, None], None, None, {"name": "means"})
    with pytest.raises(ValueError, match=r"trial means \(n_trials=1\)"):
        make_split(means, "trials")
    r = rec.responses.copy()
    r[4, 1:] = np.nan  # image 4 has one trial
    with pytest.raises(ValueError, match="single trial, e.g. image id 4"):
        make_split(Recording(rec.images, r), "trials")


# ---------------------------------------------------------------------------------------- z-score
def test_zscore_helpers():
    x = np.array([[1.0, 2.0], [3.0, 2.0]])
    mean, std = zscore_stats(x)
    assert np.allclose(mean, [2, 2]) and np.allclose(std, [1, 0])
    with pytest.raises(ValueError, match="zero training std"):
        zscore(x, mean, std)
    assert np.allclose(zscore(x[:, :1], mean[:1], std[:1]), [[-1], [1]])


def test_to_paired_zscores_with_training_statistics_only():
    rec = _recording(n_images=40, n_trials=5)
    train, test = to_paired(rec, split="images", seed=0, image_size=32)
    idx_test = np.array(train.meta["test_image_ids"]) - 100
    raw_train = rec.responses[np.array(train.meta["image_index"])].reshape(-1, rec.n_neurons)
    mean, std = raw_train.mean(0), raw_train.std(0)
    assert np.allclose(train.meta["zscore_mean"], mean) and np.allclose(train.meta["zscore_std"], std)
    assert np.allclose(train.responses.mean(0).numpy(), 0, atol=1e-5)
    assert np.allclose(train.responses.std(0, unbiased=False).numpy(), 1, atol=1e-4)
    expected_test = (rec.responses[idx_test].reshape(-1, rec.n_neurons) - mean) / std
    assert np.allclose(test.responses.numpy(), expected_test, atol=1e-5)
    # changing the test data changes nothing in the training part
    r2 = rec.responses.copy()
    r2[idx_test] += 1000.0
    train2, test2 = to_paired(Recording(rec.images, r2, None, rec.image_ids, rec.meta), seed=0, image_size=32)
    assert torch.equal(train2.responses, train.responses)
    assert not torch.allclose(test2.responses, test.responses)
    raw, _ = to_paired(rec, seed=0, zscore=False, image_size=32)
    assert np.allclose(raw.responses.numpy(), raw_train, atol=1e-6)


def test_to_paired_images_split_never_shares_an_image():
    rec = _recording(n_images=60, n_trials=4, min_trials=2)
    train, test = to_paired(rec, split="images", test_fraction=0.2, seed=7, image_size=32)
    assert not set(train.meta["image_ids"]) & set(test.meta["image_ids"])
    assert set(test.meta["image_ids"]) == set(train.meta["test_image_ids"])
    assert test.n_images == 12 and train.n_images == 48
    # every test image tensor comes from a test image (pixel identity)
    prepared = prepare_images(rec.images, 32)
    assert torch.equal(test.images, prepared[np.array(test.meta["image_index"])])
    # one pair per recorded trial, NaN slots dropped
    counts = rec.trial_counts
    assert train.n_responses == counts[train.meta["image_index"]].sum()
    assert test.n_responses == counts[test.meta["image_index"]].sum()
    assert torch.isfinite(train.responses).all()
    for part in (train, test):
        assert part.meta["split"] == "images" and part.meta["seed"] == 7 and part.meta["test_fraction"] == 0.2


def test_to_paired_trials_split_and_means():
    rec = _recording(n_images=20, n_trials=8)
    train, test = to_paired(rec, split="trials", responses="trials", test_fraction=0.25, seed=1, zscore=False,
                            image_size=32)
    assert train.n_images == test.n_images == 20
    assert train.n_responses == 20 * 6 and test.n_responses == 20 * 2
    held = {tuple(x) for x in test.meta["test_trials"]}
    assert len(held) == 40
    # each test row is a held-out slot of the image it is matched to
    images = np.array(test.meta["image_index"])[test.match.numpy()]
    slots = np.array(test.meta["trial_slot"])
    assert {(int(i), int(t)) for i, t in zip(images, slots)} == held
    assert np.allclose(test.responses.numpy(), rec.responses[images, slots], atol=1e-6)
    tr_m, te_m = to_paired(rec, split="trials", responses="mean", test_fraction=0.25, seed=1, zscore=False,
                           image_size=32)
    assert tr_m.n_responses == te_m.n_responses == 20
    assert torch.equal(tr_m.match, torch.arange(20))
    mask = np.zeros((20, 8), bool)
    for i, t in held:
        mask[i, t] = True
    expected = np.nanmean(np.where(mask[:, :, None], rec.responses, np.nan), axis=1)
    assert np.allclose(te_m.responses.numpy(), expected, atol=1e-5)


def test_to_paired_is_deterministic():
    rec = _recording()
    a, b = to_paired(rec, seed=11, image_size=32), to_paired(rec, seed=11, image_size=32)
    assert torch.equal(a[0].responses, b[0].responses) and torch.equal(a[1].match, b[1].match)
    assert a[1].meta["test_image_ids"] == b[1].meta["test_image_ids"]


def test_to_paired_records_metadata():
    rec = _recording(name="toy-set")
    train, test = to_paired(rec, image_size=32)
    for part, name in ((train, "train"), (test, "test")):
        m = part.meta
        assert m["part"] == name and m["dataset"] == "toy-set" and m["responses"] == "trials"
        assert m["n_neurons_kept"] == m["n_neurons_total"] == 12 and len(m["neuron_areas"]) == 12
        assert m["simulated"] is False and m["image_size"] == 32


def test_to_paired_errors():
    rec = _recording()
    with pytest.raises(ValueError, match="responses must be"):
        to_paired(rec, responses="median")
    means = Recording(rec.images, rec.mean_responses()[:, None], None, None, {"name": "means"})
    with pytest.raises(ValueError, match="trial means"):
        to_paired(means, split="trials", responses="mean")
    r = rec.responses.copy()
    r[3, 2, 5] = np.nan  # one neuron missing inside a recorded trial
    with pytest.raises(ValueError, match="inside recorded trials"):
        to_paired(Recording(rec.images, r))


def test_to_paired_drops_neurons_constant_in_training():
    rec = _recording(n_images=30)
    r = rec.responses.copy()
    r[:, :, 2] = 0.0
    with pytest.warns(UserWarning, match="dropped 1 neuron"):
        train, test = to_paired(Recording(rec.images, r), image_size=32)
    assert train.n_neurons == test.n_neurons == 11 and "2" not in train.meta["neuron_ids"]
    assert train.meta["neuron_filter"]["dropped_constant"] == ["2"]


def test_reliability_filter_uses_training_trials_only(capsys):
    rng = np.random.default_rng(0)
    n_img, n_tr = 80, 8
    signal = rng.normal(0, 1, (n_img, 1, 6)) * np.array([3, 3, 3, 0.01, 0.01, 0.01])
    r = signal + rng.normal(0, 1, (n_img, n_tr, 6))
    rec = Recording(rng.integers(0, 255, (n_img, 8, 8), dtype=np.uint8), r)
    train, test = to_paired(rec, split="images", reliability_threshold=0.8, image_size=32)
    assert train.meta["neuron_ids"] == ["0", "1", "2"] and test.n_neurons == 3
    assert train.meta["n_neurons_kept"] == 3 and train.meta["n_neurons_total"] == 6
    assert "kept 3 of 6 neurons" in capsys.readouterr().out
    # the test images' responses do not influence the filter
    r2 = r.copy()
    r2[np.array(train.meta["test_image_ids"]), :, 3:] = rng.normal(0, 1, (1, 1, 3)) * 100
    again, _ = to_paired(Recording(rec.images, r2), split="images", reliability_threshold=0.8, image_size=32,
                         verbose=False)
    assert again.meta["neuron_ids"] == ["0", "1", "2"]
    with pytest.raises(ValueError, match="kept no neuron"):
        to_paired(rec, reliability_threshold=1.01, image_size=32)


def test_noise_ceiling_filter_for_trial_averaged_data():
    rng = np.random.default_rng(0)
    means = rng.normal(0, 1, (30, 5))
    neurons = pd.DataFrame({"id": list("abcde"), "area": "IT", "noise_ceiling": [0.9, 0.2, 0.7, 0.5, 0.95]})
    rec = from_arrays(rng.integers(0, 255, (30, 8, 8), dtype=np.uint8), means, neurons)
    assert rec.n_trials == 1
    train, test = to_paired(rec, responses="mean", noise_ceiling_threshold=0.7, image_size=32, verbose=False)
    assert train.meta["neuron_ids"] == ["a", "c", "e"]
    keep, report = select_neurons(rec, noise_ceiling_threshold=0.7)
    assert keep.tolist() == [True, False, True, False, True] and report["n_neurons_kept"] == 3
    with pytest.raises(ValueError, match="n_trials=1"):
        to_paired(rec, reliability_threshold=0.5, image_size=32)
    bare = from_arrays(rec.images, means)
    with pytest.raises(ValueError, match="noise_ceiling"):
        to_paired(bare, noise_ceiling_threshold=0.5, image_size=32)


def test_filters_are_off_by_default():
    rec = _recording()
    keep, report = select_neurons(rec)
    assert keep.all() and report["n_neurons_kept"] == rec.n_neurons


# ---------------------------------------------------------------------- details the mutation run asked for
def test_reliability_needs_two_trials_and_one_split_at_least():
    r = _gaussian_population(60, 2, np.array([1.0, 0.3]), 0.5, seed=5)
    assert np.isfinite(split_half_reliability(r)).all()  # two trials per image are enough
    assert np.isfinite(split_half_reliability(r, n_splits=1)).all()
    with pytest.raises(ValueError, match="n_splits"):
        split_half_reliability(r, n_splits=0)


def test_every_image_with_two_trials_feeds_both_halves_of_every_split():
    """Two identical recorded trials per image, scattered among NaN slots: each split must put one in each
    half (recorded slots first, dealt alternately), so the halves agree exactly and the reliability is 1."""
    rng = np.random.default_rng(0)
    r = np.full((3, 10, 2), np.nan)
    for i in range(3):
        slots = rng.choice(10, size=2, replace=False)
        r[i, slots] = rng.normal(size=2) * (i + 1)
    np.testing.assert_allclose(split_half_reliability(r, n_splits=10, seed=3), 1.0, atol=1e-12)


def test_noise_ceiling_passes_its_settings_and_clips_negative_reliability():
    r = _gaussian_population(40, 4, np.array([0.3, 0.2]), 1.0, seed=6)
    for n_splits, seed in ((3, 5), (7, 1)):
        expected = np.sqrt(np.clip(split_half_reliability(r, n_splits=n_splits, seed=seed), 0, None))
        np.testing.assert_array_equal(noise_ceiling(r, n_splits=n_splits, seed=seed), expected)
    assert not np.array_equal(noise_ceiling(r, n_splits=3, seed=5), noise_ceiling(r, n_splits=7, seed=1))
    x = np.random.default_rng(1).normal(size=(50, 1, 1))
    anti = np.concatenate([x, -x], axis=1)  # the two trials of every image disagree: negative reliability
    assert split_half_reliability(anti)[0] < 0
    assert noise_ceiling(anti)[0] == 0.0  # a ceiling of 0, not NaN


def test_zscore_divides_by_the_standard_deviation():
    x = np.array([[1.0, 10.0], [5.0, 30.0]])
    mean, std = np.array([1.0, 10.0]), np.array([2.0, 4.0])
    np.testing.assert_allclose(zscore(x, mean, std), [[0.0, 0.0], [2.0, 5.0]])


def test_to_paired_passes_test_responses_and_verbose(capsys):
    rec = _recording(n_images=30, n_trials=4)
    train, test = to_paired(rec, split="images", test_responses="mean", image_size=32)
    assert test.n_responses == test.n_images and train.n_responses == 4 * train.n_images
    to_paired(rec, image_size=32, reliability_threshold=-1.0, verbose=False)
    assert capsys.readouterr().out == ""
    to_paired(rec, image_size=32, reliability_threshold=-1.0, verbose=True)
    assert "kept" in capsys.readouterr().out


def test_reliability_of_a_constant_neuron_is_nan_without_a_warning():
    import warnings

    r = _gaussian_population(30, 4, np.array([1.0, 1.0]), 0.1, seed=0)
    r[:, :, 1] = 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0/0 for the constant neuron must not warn
        rel = split_half_reliability(r)
    assert np.isnan(rel[1]) and np.isfinite(rel[0])


# ------------------------------------------------------------- details the mutation sample asked for
from vna.data.preprocess import paired_parts, subsample  # noqa: E402


def test_trials_split_leaves_a_training_trial_of_every_image_even_at_a_large_fraction():
    rec = _recording(n_images=10, n_trials=2)
    sp = make_split(rec, "trials", test_fraction=0.9, seed=0)
    assert (sp.train_mask.sum(axis=1) == 1).all() and (sp.test_mask.sum(axis=1) == 1).all()


def test_make_split_defaults_to_held_out_images():
    sp = make_split(_recording(n_images=20))
    assert sp.kind == "images" and not set(sp.train_images) & set(sp.test_images)


def test_in_sample_validation_holds_out_trials_when_every_image_has_two():
    sp = make_split(_recording(n_images=20, n_trials=4), "none", val_fraction=0.25, seed=1)
    assert len(sp.val_images) == 20 and set(sp.val_images) <= set(sp.train_images)
    assert not (sp.val_mask & sp.train_mask).any()


def test_validation_hold_out_of_trials_names_the_dataset_and_the_image():
    rec = _recording(n_images=6, n_trials=2, name="two-trial set")
    with pytest.raises(ValueError, match=r"in 'two-trial set' 6 image\(s\) have a single trial, e.g. image id 10"):
        make_split(rec, "trials", val_fraction=0.2)


def test_subsample_keeps_the_asked_share_of_training_images_and_trials():
    sp = make_split(_recording(n_images=40, n_trials=6), "trials", test_fraction=0.2, seed=0)
    assert subsample(sp, 0) is sp
    half = subsample(sp, 3, image_fraction=0.5)
    assert len(half.train_images) == 20 and set(half.train_images) < set(sp.train_images)
    assert (half.train_mask <= sp.train_mask).all() and (half.test_mask == sp.test_mask).all()
    assert list(half.train_images) == list(np.flatnonzero(half.train_mask.any(axis=1)))
    two = subsample(sp, 3, trials=2)
    per_image = two.train_mask.sum(axis=1)
    assert (per_image == np.minimum(2, sp.train_mask.sum(axis=1))).all()
    assert (two.train_mask <= sp.train_mask).all()
    assert not (subsample(sp, 4, trials=2).train_mask == two.train_mask).all()  # a seeded random subset
    assert (subsample(sp, 3, image_fraction=1.0, trials=1).train_mask.sum(axis=1) == 1).all()
    assert len(subsample(sp, 0, image_fraction=0.01).train_images) == 2  # at least two images


def test_paired_parts_meta_and_neuron_subsets():
    rec = _recording(n_images=30, n_neurons=10)
    rec = Recording(rec.images, rec.responses, None, rec.image_ids, {"name": "toy", "simulated": True, "lab": "x",
                                                                     "shape": [1, 2]})
    parts = paired_parts(rec, image_size=16, test_responses="mean", train_image_fraction=0.5)
    meta = parts.train.meta
    assert meta["seed"] == 0 and meta["simulated"] is True and meta["recording"]["lab"] == "x"
    assert "shape" not in meta["recording"]
    assert meta["train_image_fraction"] == 0.5 and meta["test_responses"] == "mean"
    half = paired_parts(rec, image_size=16, neuron_fraction=0.5, seed=2).train
    assert half.n_neurons == 5 and len(set(half.meta["neuron_ids"])) == 5
    assert half.meta["neuron_filter"]["n_neurons_kept"] == half.meta["n_neurons_kept"] == 5
    assert paired_parts(rec, image_size=16, neuron_fraction=0.01).train.n_neurons == 1
    nc = paired_parts(rec, image_size=16, noise_ceiling_threshold=-1.0, verbose=False).train.meta
    assert "noise_ceiling" not in nc["neuron_filter"] and nc["neuron_filter"]["noise_ceiling_threshold"] == -1.0


def test_dropping_a_constant_neuron_z_scores_the_others():
    rec = _recording(n_images=30, n_neurons=5)
    r = rec.responses.copy()
    r[:, :, 1] = 3.0
    with pytest.warns(UserWarning, match="dropped 1 neuron"):
        train = paired_parts(Recording(rec.images, r), image_size=16).train
    x = train.responses.numpy()
    assert x.shape[1] == 4 and np.allclose(x.mean(0), 0, atol=1e-5) and np.allclose(x.std(0), 1, atol=1e-4)
    assert train.meta["neuron_filter"]["n_neurons_kept"] == 4


def test_noise_ceiling_filter_on_two_trials_is_seeded_and_drops_constant_neurons():
    rec = _recording(n_images=30, n_trials=2, n_neurons=6)
    r = rec.responses.copy()
    r[:, :, 0] = 1.0
    rec = Recording(rec.images, r)
    keep, report = select_neurons(rec, noise_ceiling_threshold=-1.0)
    assert report["n_neurons_total"] == 6 and not keep[0] and keep[1:].all()
    many = _recording(n_images=30, n_trials=6, n_neurons=6)
    assert select_neurons(many, noise_ceiling_threshold=0.0, seed=5)[1]["noise_ceiling"] == \
        select_neurons(many, noise_ceiling_threshold=0.0, seed=5)[1]["noise_ceiling"]
    mask = np.ones(many.responses.shape[:2], dtype=int)
    mask[:, 3:] = 0
    assert select_neurons(many, reliability_threshold=-1.0, trials=mask)[1]["reliability"] == \
        select_neurons(many, reliability_threshold=-1.0, trials=mask.astype(bool))[1]["reliability"]
