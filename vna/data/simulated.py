"""`simulated`: a virtual visual cortex, the embedded dataset that needs no download.

SIMULATED DATA. Stimuli are grey natural-image patches cut (seeded crops and flips) from the two
photographs that ship with scikit-learn (``load_sample_images``). Neurons are V1-like linear-nonlinear
units: Gabor simple cells (half-squared linear drive) and energy-model complex cells (sum of a squared
quadrature pair), with varied position, orientation, spatial frequency, phase and gain. Each trial draws
Poisson spike counts from the neuron's rate times a gain shared by all neurons in that trial
(log-normal, mean 1), so repeats vary as real ones do and the Fano factor is ``1 + rate * Var(gain) >= 1``.

Because the rates are known, the true reliability and noise ceiling are known too
(:func:`analytic_reliability`); :func:`load_simulated` puts them in ``meta``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .recording import Recording

__all__ = ["load_simulated", "status", "natural_patches", "gabor_population", "analytic_reliability"]

CITATION = "vna's own simulation (simulated V1-like population); images: scikit-learn sample photographs"


def status() -> str:
    """Always ``"embedded"``: everything is generated locally."""
    return "embedded"


def _sample_photos() -> list[np.ndarray]:
    """scikit-learn's sample photographs (china.jpg, flower.jpg), as ``load_sample_images`` gives them.

    Read straight from the installed package (importing ``sklearn.datasets`` takes seconds).
    """
    import importlib.util
    from pathlib import Path

    from PIL import Image

    spec = importlib.util.find_spec("sklearn")
    folder = Path(spec.origin).parent / "datasets" / "images" if spec and spec.origin else None
    files = sorted(folder.glob("*.jpg")) if folder and folder.is_dir() else []
    if len(files) >= 2:
        return [np.asarray(Image.open(f).convert("RGB")) for f in files]
    from sklearn.datasets import load_sample_images  # pragma: no cover - unusual installs

    return list(load_sample_images().images)


def natural_patches(n_images: int, image_size: int = 64, seed: int = 0, min_contrast: float = 12.0) -> np.ndarray:
    """``[n_images, S, S]`` uint8 grey patches from scikit-learn's sample photographs.

    Each patch: a random photograph, a random square crop of side ``S`` .. ``4 S`` pixels (capped by the
    photograph), a random horizontal and vertical flip, resized to ``S x S`` (PIL bilinear, antialiased).
    Patches whose pixel standard deviation is below ``min_contrast`` (of 255; featureless sky or blurred
    background) are redrawn, so that every stimulus has some structure.
    """
    from PIL import Image

    photos = [np.asarray(Image.fromarray(p).convert("L")) for p in _sample_photos()]
    rng = np.random.default_rng([seed, 1])
    out = np.empty((n_images, image_size, image_size), dtype=np.uint8)
    filled, drawn = 0, 0
    while filled < n_images:
        if drawn > 50 * n_images + 1000:
            raise RuntimeError(f"natural_patches: could not find {n_images} patches with contrast >= {min_contrast}")
        photo = photos[rng.integers(len(photos))]
        side_frac, py, px = rng.random(3)
        flip_h, flip_v = rng.random(2) < 0.5
        drawn += 1
        h, w = photo.shape
        side = int(min(image_size + side_frac * 3 * image_size, h, w))
        y, x = int(py * (h - side)), int(px * (w - side))
        crop = photo[y : y + side, x : x + side]
        if flip_h:
            crop = crop[:, ::-1]
        if flip_v:
            crop = crop[::-1]
        patch = np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((image_size, image_size), Image.BILINEAR))
        if patch.std() >= min_contrast:
            out[filled] = patch
            filled += 1
    return out


def gabor_population(n_neurons: int, image_size: int = 64, complex_fraction: float = 0.5, seed: int = 0):
    """Receptive fields of a V1-like population: ``(even [N, S*S], odd [N, S*S], neurons DataFrame)``.

    Centres uniform in the central half of the image; orientation uniform in [0, 180) degrees; spatial
    frequency log-uniform in 0.05..0.2 cycles per pixel at S=64 (scaled with S); envelope
    ``sigma = 0.45 / frequency`` with aspect 0.7; phase uniform. Filters have zero mean and unit norm.
    """
    rng = np.random.default_rng([seed, 2])
    s = image_size
    cx, cy = rng.uniform(0.25 * s, 0.75 * s, size=(2, n_neurons))
    theta = rng.uniform(0, np.pi, n_neurons)
    freq = np.exp(rng.uniform(np.log(0.05), np.log(0.2), n_neurons)) * 64 / s
    phase = rng.uniform(0, 2 * np.pi, n_neurons)
    is_complex = rng.random(n_neurons) < complex_fraction
    sigma = 0.45 / freq
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float64)
    dx = xx[None] - cx[:, None, None]
    dy = yy[None] - cy[:, None, None]
    c, sn = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    u, v = dx * c + dy * sn, -dx * sn + dy * c  # u: across the bars
    env = np.exp(-(u**2 + (0.7 * v) ** 2) / (2 * sigma[:, None, None] ** 2))
    arg = 2 * np.pi * freq[:, None, None] * u + phase[:, None, None]

    def norm(g):
        g = g.reshape(n_neurons, -1)
        g = g - g.mean(axis=1, keepdims=True)
        return g / np.linalg.norm(g, axis=1, keepdims=True)

    neurons = pd.DataFrame({
        "id": [f"sim{k:03d}" for k in range(n_neurons)],
        "area": "V1 (simulated)",
        "type": np.where(is_complex, "complex", "simple"),
        "x": cx, "y": cy, "orientation_deg": np.degrees(theta), "frequency_cpp": freq, "phase": phase,
    })
    return norm(env * np.cos(arg)), norm(env * np.sin(arg)), neurons


def analytic_reliability(rates: np.ndarray, gain_noise: float, n_trials) -> np.ndarray:
    """True reliability of each neuron's trial mean, ``[n_neurons]``: ``s / (s + mean_i(v_i / n_i))``.

    ``rates`` ``[n_images, n_neurons]`` are the true mean counts (signal variance ``s`` = their variance
    across images); a trial's count is Poisson(rate * g) with log-normal g of mean 1 and log-sd
    ``gain_noise``, so its variance given the image is ``v = rate + rate**2 * (exp(gain_noise**2) - 1)``.
    ``n_trials`` is a number or one count per image. This is what
    :func:`~vna.data.preprocess.split_half_reliability` estimates; its square root is the true noise ceiling.
    """
    rates = np.asarray(rates, dtype=np.float64)
    n = np.broadcast_to(np.asarray(n_trials, dtype=np.float64), rates.shape[:1])[:, None]
    signal = rates.var(axis=0)
    noise = (rates + rates**2 * np.expm1(gain_noise**2)) / n
    return signal / (signal + noise.mean(axis=0))


def load_simulated(
    n_images: int = 300,
    n_trials: int = 10,
    n_neurons: int = 100,
    image_size: int = 64,
    seed: int = 0,
    complex_fraction: float = 0.5,
    peak_rate: float = 4.0,
    baseline_rate: float = 2.0,
    gain_noise: float = 0.4,
    min_trials: int | None = None,
) -> Recording:
    """A SIMULATED recording ``[n_images, n_trials, n_neurons]`` of spike counts (module docstring).

    Rates: ``baseline_rate + peak * 2 d**2 / (1 + d**2)`` (a Naka-Rushton saturation reaching ``peak`` at
    ``d = 1`` and at most ``2 peak``), where ``d`` is the drive divided by its 95th percentile over the
    stimulus set; the drive is the half-wave rectified Gabor response (simple cells) or the quadrature
    amplitude ``sqrt(even**2 + odd**2)`` (complex cells) of the mean-subtracted, contrast-normalised patch;
    ``peak`` = ``peak_rate`` times a log-normal gain (log-sd 0.5) per neuron. ``gain_noise`` is the log-sd of the shared trial gain (0: pure Poisson). With
    ``min_trials`` each image gets a random number of trials in ``min_trials..n_trials`` and the unused slots
    are NaN, like real data. ``meta`` holds ``true_rates``, ``trial_gain``, ``true_reliability`` and
    ``true_noise_ceiling`` (per neuron) and ``simulated=True``.
    """
    for name, val, lo in (("n_images", n_images, 3), ("n_trials", n_trials, 1), ("n_neurons", n_neurons, 1),
                          ("image_size", image_size, 8)):
        if int(val) != val or val < lo:
            raise ValueError(f"load_simulated: {name} must be an integer >= {lo}; got {val!r}")
    if not 0 <= complex_fraction <= 1:
        raise ValueError(f"load_simulated: complex_fraction must be in [0, 1]; got {complex_fraction}")
    if peak_rate <= 0 or baseline_rate < 0 or gain_noise < 0:
        raise ValueError(
            f"load_simulated: need peak_rate > 0, baseline_rate >= 0, gain_noise >= 0; got {peak_rate}, "
            f"{baseline_rate}, {gain_noise}"
        )
    if min_trials is not None and not 1 <= min_trials <= n_trials:
        raise ValueError(f"load_simulated: min_trials must be in 1..n_trials={n_trials}; got {min_trials}")
    n_images, n_trials, n_neurons, image_size = int(n_images), int(n_trials), int(n_neurons), int(image_size)

    images = natural_patches(n_images, image_size, seed)
    even, odd, neurons = gabor_population(n_neurons, image_size, complex_fraction, seed)
    x = images.reshape(n_images, -1).astype(np.float64) / 255.0
    x -= x.mean(axis=1, keepdims=True)
    x /= x.std() + 1e-12  # one contrast scale for the whole set
    a, b = x @ even.T, x @ odd.T  # [I, N]
    is_complex = (neurons["type"] == "complex").to_numpy()
    drive = np.where(is_complex, np.sqrt(a**2 + b**2), np.maximum(a, 0.0))
    d = drive / np.maximum(np.quantile(drive, 0.95, axis=0), 1e-12)
    rng = np.random.default_rng([seed, 3])
    peak = peak_rate * np.exp(rng.normal(0.0, 0.5, n_neurons))
    rates = baseline_rate + peak * 2 * d**2 / (1 + d**2)
    neurons["peak_rate"] = peak

    gain = np.exp(gain_noise * rng.standard_normal((n_images, n_trials)) - gain_noise**2 / 2)
    counts = rng.poisson(rates[:, None, :] * gain[:, :, None]).astype(np.float64)
    n_rec = np.full(n_images, n_trials)
    if min_trials is not None:
        n_rec = rng.integers(min_trials, n_trials + 1, size=n_images)
        counts[np.arange(n_trials)[None, :] >= n_rec[:, None]] = np.nan
    rel = analytic_reliability(rates, gain_noise, n_rec)
    meta = {
        "name": "simulated",
        "simulated": True,
        "units": "spike counts per trial (SIMULATED)",
        "species": "simulated",
        "area": "V1 (model)",
        "source": "generated by vna.data.simulated (no download)",
        "citation": CITATION,
        "license": "BSD-3-Clause (scikit-learn sample images: see sklearn.datasets.load_sample_images)",
        "seed": seed,
        "options": dict(n_images=n_images, n_trials=n_trials, n_neurons=n_neurons, image_size=image_size,
                        seed=seed, complex_fraction=complex_fraction, peak_rate=peak_rate,
                        baseline_rate=baseline_rate, gain_noise=gain_noise, min_trials=min_trials),
        "true_rates": rates,
        "trial_gain": gain,
        "true_reliability": rel,
        "true_noise_ceiling": np.sqrt(rel),
    }
    return Recording(images, counts, neurons, np.arange(n_images), meta)
