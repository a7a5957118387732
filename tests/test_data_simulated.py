"""The simulated visual cortex (issue "Data", dataset 1)."""
from __future__ import annotations

import numpy as np
import pytest

import vna.data as data
from vna.data.preprocess import split_half_reliability, to_paired
from vna.data.simulated import analytic_reliability, gabor_population, load_simulated, natural_patches, status


@pytest.fixture(scope="module")
def sim():
    return load_simulated()


def test_defaults_shapes_and_labels(sim):
    assert sim.images.shape == (300, 64, 64) and sim.images.dtype == np.uint8
    assert sim.responses.shape == (300, 10, 100)
    assert sim.meta["simulated"] is True and "SIMULATED" in sim.meta["units"] and "SIMULATED" in repr(sim)
    assert sim.name == "simulated" and status() == "embedded"
    assert sim.neurons["area"].eq("V1 (simulated)").all()
    assert set(sim.neurons["type"]) == {"simple", "complex"}
    counts = sim.responses
    assert np.array_equal(counts, np.round(counts)) and counts.min() >= 0  # spike counts
    assert sim.meta["true_rates"].shape == (300, 100)


def test_registry_loads_it_and_lists_it_as_embedded():
    rec = data.load("simulated", n_images=20, n_trials=3, n_neurons=5, seed=1)
    assert rec.responses.shape == (20, 3, 5)
    table = data.available().set_index("name")
    assert table.loc["simulated", "status"] == "embedded"


def test_seeded(sim):
    again = load_simulated()
    other = load_simulated(seed=1)
    assert np.array_equal(sim.responses, again.responses) and np.array_equal(sim.images, again.images)
    assert not np.array_equal(sim.images, other.images)


def test_stimuli_are_varied_natural_patches(sim):
    imgs = sim.images.reshape(300, -1).astype(float)
    assert (imgs.std(axis=1) >= 12 - 1e-9).all()  # every patch has structure
    assert len(np.unique(imgs, axis=0)) == 300
    assert natural_patches(5, image_size=32, seed=0).shape == (5, 32, 32)


def test_receptive_fields_are_zero_mean_unit_norm():
    even, odd, neurons = gabor_population(10, image_size=32, seed=0)
    assert even.shape == odd.shape == (10, 32 * 32)
    assert np.allclose(even.sum(1), 0, atol=1e-9) and np.allclose(np.linalg.norm(odd, axis=1), 1)
    assert neurons["orientation_deg"].between(0, 180).all()


def test_trial_to_trial_variability_has_fano_factor_at_least_one(sim):
    r = sim.responses
    mean, var = r.mean(axis=1), r.var(axis=1, ddof=1)
    active = mean > 1
    fano = var[active] / mean[active]
    assert np.median(fano) >= 1.0
    # the model's own Fano factor, 1 + rate * Var(gain), and the data agree on average
    rates = sim.meta["true_rates"]
    model_fano = 1 + rates * np.expm1(sim.meta["options"]["gain_noise"] ** 2)
    assert np.mean(var) / np.mean(mean) == pytest.approx(np.sum(model_fano * rates) / np.sum(rates), rel=0.1)
    # responses vary across repeats, and the shared gain correlates neurons within a trial
    assert (var.mean(0) > 0).all()
    resid = (r - r.mean(1, keepdims=True)).reshape(-1, r.shape[2])
    c = np.corrcoef(resid.T)
    assert np.mean(c[np.triu_indices_from(c, 1)]) > 0.01


def test_reliability_matches_the_true_value(sim):
    est = split_half_reliability(sim.responses)
    true = sim.meta["true_reliability"]
    assert abs(np.mean(est - true)) < 0.02
    assert np.abs(est - true).max() < 0.15
    assert np.corrcoef(est, true)[0, 1] > 0.95
    assert np.allclose(sim.meta["true_noise_ceiling"], np.sqrt(true))


def test_pure_poisson_reliability_formula():
    """Without the shared gain the noise is Poisson: variance = rate."""
    rec = load_simulated(n_images=400, n_trials=8, n_neurons=40, gain_noise=0.0, seed=3)
    rates = rec.meta["true_rates"]
    expected = rates.var(0) / (rates.var(0) + rates.mean(0) / 8)
    assert np.allclose(analytic_reliability(rates, 0.0, 8), expected)
    assert np.allclose(rec.meta["true_reliability"], expected)
    est = split_half_reliability(rec.responses)
    assert abs(np.mean(est - expected)) < 0.02


def test_variable_trial_counts_are_nan_padded():
    rec = load_simulated(n_images=50, n_trials=10, n_neurons=8, min_trials=6, seed=2)
    counts = rec.trial_counts
    assert counts.min() >= 6 and counts.max() <= 10 and len(set(counts)) > 1
    assert np.isnan(rec.responses).sum() == (10 - counts).sum() * 8
    train, test = to_paired(rec, image_size=32)
    assert train.n_responses + test.n_responses == counts.sum()
    assert train.meta["simulated"] is True


@pytest.mark.parametrize("bad", [dict(n_images=2), dict(n_trials=0), dict(gain_noise=-1), dict(min_trials=11),
                                 dict(complex_fraction=1.5), dict(n_neurons=2.5)])
def test_option_errors(bad):
    with pytest.raises(ValueError, match="load_simulated"):
        load_simulated(**bad)
