"""From a `Recording` to the train/test `PairedData` every method uses.

Each step is a small function:

* :func:`prepare_images` -- resize to ``image_size`` (64: the paper's encoder, section 3.1), grey or RGB,
  scale to [0, 1];
* :func:`split_half_reliability`, :func:`noise_ceiling` -- per-neuron trial-to-trial reliability;
* :func:`select_neurons` -- the opt-in reliability / noise-ceiling filters (Huang et al. 2023 keep neurons
  with split-half reliability >= 0.8), reporting how many neurons they kept;
* :func:`make_split` -- seeded ``"images"`` or ``"trials"`` split, recorded in the metadata;
* :func:`zscore_stats`, :func:`zscore` -- per-neuron z-scoring with training statistics only;
* :func:`to_paired` -- all of the above, giving ``(train, test)``.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .paired import PairedData
from .recording import Recording

__all__ = [
    "prepare_images",
    "split_half_reliability",
    "noise_ceiling",
    "fano_factor",
    "select_neurons",
    "Split",
    "make_split",
    "zscore_stats",
    "zscore",
    "to_paired",
    "paired_parts",
    "PairedParts",
    "subsample",
]

log = logging.getLogger("vna.data")

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as PIL's "L" mode


# ----------------------------------------------------------------------------------------------- images
def prepare_images(images, image_size: int = 64, grey: bool = True) -> torch.Tensor:
    """Images ``[I, H, W]`` or ``[I, H, W, 3]`` -> float32 tensor ``[I, C, image_size, image_size]`` in [0, 1].

    Scaling: integer images (``uint8`` or other integers within 0..255) are divided by 255. Float images
    already within [0, 1] are kept as they are; other float images are min-max scaled over the whole set
    (one minimum and maximum for all images, so relative contrast between images is kept).
    Colour: ``grey=True`` gives one channel (RGB -> luminance, 0.299 R + 0.587 G + 0.114 B);
    ``grey=False`` gives three (grey images are repeated). Size: bilinear resampling with antialiasing to
    ``image_size x image_size``; the aspect ratio is not kept (non-square images are stretched).
    """
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    x = np.asarray(images)
    if np.iscomplexobj(x):
        raise ValueError(f"images are complex ({x.dtype}); vna needs real pixel values")
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] != 3):
        raise ValueError(f"images must be [n_images, H, W] or [n_images, H, W, 3]; got shape {x.shape}")
    if len(x) == 0:
        raise ValueError("images is empty (0 images)")
    if int(image_size) < 1:
        raise ValueError(f"image_size must be >= 1; got {image_size}")
    if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"integer images must lie within 0..255; got values {lo}..{hi} (dtype {x.dtype})")
        if lo == hi:  # constant images of any dtype are refused like constant float ones
            raise ValueError(f"{x.dtype} images span only {lo} .. {hi} (every pixel the same): they would train as "
                             "blank frames; pass the images themselves")
        x = x.astype(np.float32) / 255.0
    elif np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise ValueError(f"images contain {int((~np.isfinite(x)).sum())} NaN/inf values")
        lo, hi = float(x.min()), float(x.max())
        if hi - lo < 1e-3:
            raise ValueError(f"float images span only {lo:.3g} .. {hi:.3g} (a range below 1e-3): they would train as "
                             "blank frames; rescale them to [0, 1] (or pass scale= to vna.data.from_arrays)")
        if lo < 0 or hi > 1:
            x = (x.astype(np.float64) - lo) / (hi - lo)
        x = x.astype(np.float32)
    else:
        raise ValueError(f"images must be integer or float; got dtype {x.dtype}")
    if x.ndim == 4:  # RGB
        x = (x @ LUMA)[:, None] if grey else np.moveaxis(x, -1, 1)
    else:
        x = x[:, None] if grey else np.repeat(x[:, None], 3, axis=1)
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if t.shape[-2:] != (image_size, image_size):
        t = F.interpolate(t, size=(int(image_size), int(image_size)), mode="bilinear", align_corners=False,
                          antialias=True)
    return t.clamp_(0.0, 1.0).contiguous()


# ----------------------------------------------------------------------------------------- reliability
def _check_trials(responses) -> np.ndarray:
    r = np.asarray(responses, dtype=np.float64)
    if r.ndim != 3:
        raise ValueError(f"responses must be [n_images, n_trials, n_neurons]; got shape {r.shape}")
    if r.shape[1] < 2:
        raise ValueError(
            f"split-half reliability needs at least 2 trials per image; these responses have n_trials="
            f"{r.shape[1]} (trial means). For trial-averaged data use a noise-ceiling filter with per-neuron "
            "values supplied with the data (Recording.neurons['noise_ceiling'])."
        )
    return r


def split_half_reliability(responses, n_splits: int = 10, seed: int = 0) -> np.ndarray:
    """Per-neuron split-half reliability with Spearman-Brown correction, ``[n_neurons]``.

    ``responses`` is ``[n_images, n_trials, n_neurons]`` with NaN for missing trials. For each of
    ``n_splits`` seeded random splits, each image's recorded trials are shuffled and dealt alternately into
    two halves; the Pearson correlation ``r`` across images between the two half-means is computed per
    neuron (images with fewer than 2 trials are left out) and averaged over splits; the result is
    ``2 r / (1 + r)``, the expected correlation between two independent means of all the trials. With
    ``n`` trials of signal variance ``s`` and noise variance ``v`` it estimates ``s / (s + v / n)``.
    A neuron that does not vary across images gets NaN.
    """
    r = _check_trials(responses)
    n_splits = int(n_splits)
    if n_splits < 1:
        raise ValueError(f"n_splits must be >= 1; got {n_splits}")
    n_img, n_tr, _ = r.shape
    valid = ~np.isnan(r)  # [I, T, N]
    slot = valid.any(axis=2)  # [I, T] recorded trial slots
    rng = np.random.default_rng(seed)
    keys = rng.random((n_splits, n_img, n_tr))
    keys[:, ~slot] = np.inf  # missing slots sort last
    rank = np.argsort(np.argsort(keys, axis=-1), axis=-1)  # rank of each slot among the image's trials
    half_a = ((rank % 2) == 0) & slot  # [S, I, T]
    half_b = ((rank % 2) == 1) & slot
    rz = np.where(valid, r, 0.0)
    vf = valid.astype(np.float64)

    def half_mean(w):
        w = w.astype(np.float64)
        total = np.einsum("sit,itn->sin", w, rz)
        count = np.einsum("sit,itn->sin", w, vf)
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / count, count > 0

    a, ok_a = half_mean(half_a)
    b, ok_b = half_mean(half_b)
    m = (ok_a & ok_b).astype(np.float64)  # [S, I, N]: image usable for this neuron and split
    a, b = np.where(m > 0, a, 0.0), np.where(m > 0, b, 0.0)
    cnt = m.sum(axis=1)  # [S, N]
    with np.errstate(invalid="ignore", divide="ignore"):
        ma, mb = (a * m).sum(1) / cnt, (b * m).sum(1) / cnt
        da, db = (a - ma[:, None]) * m, (b - mb[:, None]) * m
        cov = (da * db).sum(1)
        corr = cov / np.sqrt((da**2).sum(1) * (db**2).sum(1))  # [S, N]
        corr[cnt < 3] = np.nan
        rbar = corr.mean(axis=0)
        return 2 * rbar / (1 + rbar)


def noise_ceiling(responses, n_splits: int = 10, seed: int = 0) -> np.ndarray:
    """Per-neuron noise ceiling of the trial mean, ``[n_neurons]``: ``sqrt(max(reliability, 0))``.

    The expected correlation between a neuron's true mean response and its observed mean over the recorded
    trials -- the best correlation any model of the mean can reach. ``reliability`` is
    :func:`split_half_reliability`.
    """
    rel = split_half_reliability(responses, n_splits=n_splits, seed=seed)
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.clip(rel, 0.0, None))


def fano_factor(responses) -> np.ndarray:
    """Per-neuron Fano factor, ``[n_neurons]``: variance over trials / mean over trials, averaged over the
    images with at least 2 recorded trials and a positive mean (1 for Poisson spike counts; NaN where no image
    qualifies). ``responses`` is ``[n_images, n_trials, n_neurons]`` with NaN for missing trials."""
    r = np.asarray(responses, dtype=np.float64)
    if r.ndim != 3 or r.shape[1] < 2:
        raise ValueError(f"the Fano factor needs responses [n_images, n_trials >= 2, n_neurons]; got shape "
                         f"{r.shape}")
    counts = (~np.isnan(r)).any(axis=2).sum(axis=1)  # recorded trials per image
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # images of one trial, neurons never active
        var, mean = np.nanvar(r, axis=1, ddof=1), np.nanmean(r, axis=1)
        ok = (counts[:, None] > 1) & (mean > 0)
        return np.nanmean(np.where(ok, var / np.where(mean > 0, mean, 1), np.nan), axis=0)


def select_neurons(
    recording: Recording,
    reliability_threshold: float | None = None,
    noise_ceiling_threshold: float | None = None,
    *,
    trials: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The opt-in neuron filters: ``(keep [n_neurons] bool, report)``; both thresholds off by default.

    * ``reliability_threshold``: keep neurons whose :func:`split_half_reliability` is at or above it
      (Huang et al. use 0.8). Needs single trials.
    * ``noise_ceiling_threshold``: keep neurons whose noise ceiling is at or above it: the column
      ``recording.neurons["noise_ceiling"]`` when the data bring one (trial-averaged data), else
      :func:`noise_ceiling` of the trials.

    ``trials`` (``[n_images, n_trials]`` bool) restricts the computation to those trial slots -- pass the
    training split's mask so that test data never influence which neurons are kept. Neurons whose value is
    NaN (constant responses) fail the filter. The report records thresholds, values and counts.
    """
    n = recording.n_neurons
    keep = np.ones(n, dtype=bool)
    report: dict[str, Any] = {"n_neurons_total": n}
    if reliability_threshold is None and noise_ceiling_threshold is None:
        report.update(n_neurons_kept=n, summary=f"no neuron filter: all {n} neurons kept")
        return keep, report
    r = recording.responses
    if trials is not None:
        trials = np.asarray(trials, dtype=bool)
        if trials.shape != r.shape[:2]:
            raise ValueError(f"trials mask must be [n_images, n_trials] = {r.shape[:2]}; got {trials.shape}")
        r = np.where(trials[:, :, None], r, np.nan)
        r = r[trials.any(axis=1)]
    parts = []
    if reliability_threshold is not None:
        rel = split_half_reliability(r, seed=seed)
        ok = np.nan_to_num(rel, nan=-np.inf) >= float(reliability_threshold)
        keep &= ok
        report.update(reliability_threshold=float(reliability_threshold), reliability=rel.tolist(),
                      n_reliable=int(ok.sum()))
        parts.append(f"split-half reliability >= {reliability_threshold}: {int(ok.sum())}")
    if noise_ceiling_threshold is not None:
        if "noise_ceiling" in recording.neurons.columns:
            nc = recording.neurons["noise_ceiling"].to_numpy(dtype=np.float64)
            source = "neurons['noise_ceiling']"
        elif recording.n_trials >= 2:
            nc = noise_ceiling(r, seed=seed)
            source = "split-half of the trials"
        else:
            raise ValueError(
                f"noise_ceiling_threshold needs per-neuron noise ceilings: {recording.name!r} holds trial means "
                "(n_trials=1) and its neurons table has no 'noise_ceiling' column"
            )
        ok = np.nan_to_num(nc, nan=-np.inf) >= float(noise_ceiling_threshold)
        keep &= ok
        report.update(noise_ceiling_threshold=float(noise_ceiling_threshold), noise_ceiling=nc.tolist(),
                      noise_ceiling_source=source, n_noise_ceiling=int(ok.sum()))
        parts.append(f"noise ceiling ({source}) >= {noise_ceiling_threshold}: {int(ok.sum())}")
    where = "training trials" if trials is not None else "all trials"
    summary = f"{recording.name}: kept {int(keep.sum())} of {n} neurons ({'; '.join(parts)}; on {where})"
    report.update(n_neurons_kept=int(keep.sum()), summary=summary)
    if not keep.any():
        raise ValueError(f"the neuron filter kept no neuron: {summary}")
    return keep, report


# ---------------------------------------------------------------------------------------------- splits
@dataclass
class Split:
    """Which recorded trial slots are training, validation and test data.

    ``train_mask``/``val_mask``/``test_mask``: ``[n_images, n_trials]`` bool over recorded slots (disjoint,
    except for ``kind="none"``, where test equals train); ``*_images``: sorted indices of images with at
    least one slot in that part.
    """

    kind: str
    seed: int
    test_fraction: float
    train_mask: np.ndarray
    test_mask: np.ndarray
    train_images: np.ndarray
    test_images: np.ndarray
    val_fraction: float = 0.0
    val_mask: np.ndarray | None = None
    val_images: np.ndarray | None = None


def _py(x):
    """A numpy scalar as the plain Python value (for messages and metadata)."""
    return x.item() if hasattr(x, "item") else x


def _round_half_up(x):
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(int)


def _hold_out(slots: np.ndarray, kind: str, fraction: float, rng: np.random.Generator, name: str,
              n_trials: int, image_ids) -> np.ndarray:
    """The held-out part of the recorded ``slots`` (``[n_images, n_trials]``): whole images or trials."""
    images = np.flatnonzero(slots.any(axis=1))
    if kind == "images":
        if len(images) < 2:
            raise ValueError(f"holding out images needs at least 2 images; {name!r} has {len(images)}")
        n_out = int(np.clip(_round_half_up(fraction * len(images)), 1, len(images) - 1))
        perm = rng.permutation(len(images))
        out_images = np.zeros(slots.shape[0], dtype=bool)
        out_images[images[perm[:n_out]]] = True
        return slots & out_images[:, None]
    counts = slots.sum(axis=1)
    few = np.flatnonzero((counts < 2) & (counts > 0))
    if len(few):
        what = ("it holds trial means (n_trials=1)" if n_trials == 1
                else f"{len(few)} image(s) have a single trial, e.g. image id {_py(image_ids[few[0]])!r}")
        raise ValueError(
            f"holding out trials needs at least 2 recorded trials per image, but in {name!r} {what}; "
            "use split='images'"
        )
    k = np.where(counts > 0, np.clip(_round_half_up(fraction * counts), 1, np.maximum(counts - 1, 1)), 0)
    keys = rng.random(slots.shape)
    keys[~slots] = np.inf
    rank = np.argsort(np.argsort(keys, axis=1), axis=1)
    return slots & (rank < k[:, None])


def make_split(recording: Recording, split: str = "images", test_fraction: float = 0.15, seed: int = 0,
               val_fraction: float = 0.0) -> Split:
    """A seeded train/test (and optional validation) split of a recording's trials.

    * ``"images"`` (held-out images): ``round(test_fraction * n_images)`` (at least 1) images, drawn by a
      seeded permutation, are test images with all their trials; no test image is ever seen in training.
    * ``"trials"`` (held-out trials): every image is in both parts; of an image's ``n`` recorded trials,
      ``round(test_fraction * n)`` (at least 1, at most ``n - 1``) seeded random ones are held out. Every
      image needs at least 2 trials (so trial means cannot be split by trials).
    * ``"none"`` (in-sample diagnostic): nothing is held out; the test part *is* the training part.

    ``val_fraction > 0`` then carves a validation part out of the training slots, of the same kind as the
    split (``"none"``: trials when every image has two, else images), from its own seeded stream, so that the
    test part is the same with or without validation.
    """
    if split not in ("images", "trials", "none"):
        raise ValueError(f"split must be 'images', 'trials' or 'none'; got {split!r}")
    test_fraction, val_fraction = float(test_fraction), float(val_fraction)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction}")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1); got {val_fraction}")
    slots = recording.trial_mask
    name, ids = recording.name, recording.image_ids
    if split == "none":
        train_mask = slots.copy()
    else:
        test_mask = _hold_out(slots, split, test_fraction, np.random.default_rng(seed), name,
                              recording.n_trials, ids)
        train_mask = slots & ~test_mask
    val_mask = np.zeros_like(slots)
    if val_fraction > 0:
        kind = split
        if split == "none":
            kind = "trials" if (recording.trial_counts >= 2).all() else "images"
        val_mask = _hold_out(train_mask, kind, val_fraction, np.random.default_rng([seed, 7]), name,
                             recording.n_trials, ids)
        train_mask = train_mask & ~val_mask
    if split == "none":
        test_mask = train_mask.copy()  # in-sample: scored on exactly the pairs the model is fitted on
    return Split(split, int(seed), test_fraction, train_mask, test_mask,
                 np.flatnonzero(train_mask.any(axis=1)), np.flatnonzero(test_mask.any(axis=1)),
                 val_fraction, val_mask, np.flatnonzero(val_mask.any(axis=1)))


# --------------------------------------------------------------------------------------------- z-score
def zscore_stats(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron mean and standard deviation (ddof=0) of training responses ``[n_responses, n_neurons]``."""
    x = np.asarray(train, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"zscore_stats needs a non-empty [n_responses, n_neurons] array; got shape {x.shape}")
    return x.mean(axis=0), x.std(axis=0)


def zscore(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` per neuron; every ``std`` must be > 0 (see :func:`to_paired` for constant neurons)."""
    std = np.asarray(std, dtype=np.float64)
    bad = np.flatnonzero(~(std > 0))
    if len(bad):
        raise ValueError(f"zscore: {len(bad)} neuron(s) have zero training std, e.g. neuron index {int(bad[0])}")
    return (np.asarray(x, dtype=np.float64) - mean) / std


_zscore = zscore  # to_paired's argument of the same name hides the function there


# ------------------------------------------------------------------------------------------- to_paired
def _part_rows(r: np.ndarray, mask: np.ndarray, images: np.ndarray, mode: str):
    """Responses of one part: rows ``[R, N]``, match (local image index), trial slot of each row (-1: mean)."""
    sub = mask[images]
    if mode == "trials":
        ii, tt = np.nonzero(sub)
        return r[images][ii, tt], ii, tt
    w = sub.astype(np.float64)
    rows = np.einsum("it,itn->in", w, np.where(sub[:, :, None], r[images], 0.0)) / w.sum(axis=1, keepdims=True)
    return rows, np.arange(len(images)), np.full(len(images), -1)


def _plain(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool)) or v is None}


def subsample(sp: Split, seed: int, image_fraction: float = 1.0, trials: int | None = None) -> Split:
    """``sp`` with a smaller training part: ``round(image_fraction * n)`` (at least 2) of its training images
    and at most ``trials`` training trials per image, each a seeded random subset. For ``kind="none"`` the
    test part (the training pairs) shrinks with it."""
    if not 0 < float(image_fraction) <= 1:
        raise ValueError(f"train_image_fraction must be in (0, 1]; got {image_fraction}")
    if trials is not None and (int(trials) != trials or trials < 1):
        raise ValueError(f"train_trials must be None or an integer >= 1; got {trials}")
    if image_fraction == 1 and trials is None:
        return sp
    rng = np.random.default_rng([seed, 13])
    mask = sp.train_mask.copy()
    if image_fraction < 1:
        images = np.flatnonzero(mask.any(axis=1))
        n_keep = int(np.clip(_round_half_up(image_fraction * len(images)), min(2, len(images)), len(images)))
        drop = np.setdiff1d(images, rng.choice(images, size=n_keep, replace=False))
        mask[drop] = False
    if trials is not None:
        keys = rng.random(mask.shape)
        keys[~mask] = np.inf
        rank = np.argsort(np.argsort(keys, axis=1), axis=1)
        mask &= rank < int(trials)
    test = mask.copy() if sp.kind == "none" else sp.test_mask
    return Split(sp.kind, sp.seed, sp.test_fraction, mask, test, np.flatnonzero(mask.any(axis=1)),
                 np.flatnonzero(test.any(axis=1)), sp.val_fraction, sp.val_mask, sp.val_images)


class PairedParts(NamedTuple):
    """The parts of one run's data: ``train``, ``test`` and (with ``val_fraction > 0``) ``val``."""

    train: PairedData
    test: PairedData
    val: PairedData | None = None


def to_paired(recording: Recording, split: str = "images", responses: str = "trials", test_fraction: float = 0.15,
              seed: int = 0, zscore: bool = True, image_size: int = 64, grey: bool = True,
              reliability_threshold: float | None = None, noise_ceiling_threshold: float | None = None,
              verbose: bool = True, test_responses: str | None = None) -> tuple[PairedData, PairedData]:
    """``(train, test)`` :class:`PairedData` from a :class:`Recording`: :func:`paired_parts` without a
    validation part (see there for every argument)."""
    parts = paired_parts(recording, split, responses, test_fraction, seed, zscore, image_size, grey,
                         reliability_threshold, noise_ceiling_threshold, verbose, test_responses=test_responses)
    return parts.train, parts.test


def paired_parts(
    recording: Recording,
    split: str = "images",
    responses: str = "trials",
    test_fraction: float = 0.15,
    seed: int = 0,
    zscore: bool = True,
    image_size: int = 64,
    grey: bool = True,
    reliability_threshold: float | None = None,
    noise_ceiling_threshold: float | None = None,
    verbose: bool = True,
    *,
    test_responses: str | None = None,
    val_fraction: float = 0.0,
    train_image_fraction: float = 1.0,
    train_trials: int | None = None,
    neuron_fraction: float = 1.0,
) -> PairedParts:
    """``(train, test, val)`` :class:`PairedData` from a :class:`Recording` (paper section 4).

    * ``split``: ``"images"`` (held-out images), ``"trials"`` (held-out trials) or ``"none"`` (in-sample:
      the test pairs are the training pairs); see :func:`make_split`. Seeded by ``seed``.
    * ``responses`` (training and validation pairs) and ``test_responses`` (test pairs; default as
      ``responses``): ``"trials"`` -- one pair per recorded trial (NaN slots dropped); ``"mean"`` -- one
      pair per image, the mean over that part's trials.
    * ``val_fraction``: a validation part carved out of the training data (:func:`make_split`); ``val`` is
      None without one.
    * data size (seeded by ``seed``; see :func:`subsample`): ``train_image_fraction`` and ``train_trials``
      shrink the training part only; ``neuron_fraction`` keeps a random subset of neurons in every part.
    * neuron filters (opt-in): ``reliability_threshold`` / ``noise_ceiling_threshold``, computed on the
      training trials only (:func:`select_neurons`); the number kept is printed when ``verbose`` and recorded.
    * ``zscore``: per-neuron z-scoring with the mean and std of the training responses (the rows the model
      trains on), applied to every part. Neurons constant in the training responses cannot be z-scored and
      are dropped, with a warning naming them and a record in the metadata.
    * images: :func:`prepare_images` with ``image_size`` and ``grey``.

    ``meta`` of each part records the dataset, split, seed, test fraction, response modes, the part, its
    image ids, the test (and train) image ids, held-out trial slots (``split="trials"``), neuron ids and
    areas, filter report and z-score statistics.
    """
    test_responses = responses if test_responses is None else test_responses
    for name, value in (("responses", responses), ("test_responses", test_responses)):
        if value not in ("trials", "mean"):
            raise ValueError(f"{name} must be 'trials' or 'mean'; got {value!r}")
    if not isinstance(recording, Recording):
        raise ValueError(f"to_paired needs a Recording; got {type(recording).__name__}")
    r = recording.responses
    slots = recording.trial_mask
    partial = np.isnan(r) & slots[:, :, None]
    if partial.any():
        i, t, n = (int(v[0]) for v in np.nonzero(partial))
        raise ValueError(
            f"{recording.name!r} has {int(partial.sum())} NaN value(s) inside recorded trials (e.g. image index "
            f"{i}, trial {t}, neuron {n}); NaN may only mark a whole missing trial"
        )
    sp = make_split(recording, split, test_fraction, seed, val_fraction)
    sp = subsample(sp, seed, train_image_fraction, train_trials)
    keep, report = select_neurons(recording, reliability_threshold, noise_ceiling_threshold,
                                  trials=sp.train_mask, seed=seed)
    if neuron_fraction < 1:
        if not 0 < neuron_fraction <= 1:
            raise ValueError(f"neuron_fraction must be in (0, 1]; got {neuron_fraction}")
        pool = np.flatnonzero(keep)
        n_keep = max(1, int(_round_half_up(neuron_fraction * len(pool))))
        chosen = np.random.default_rng([seed, 11]).choice(pool, size=n_keep, replace=False)
        keep = np.zeros_like(keep)
        keep[chosen] = True
        report.update(neuron_fraction=float(neuron_fraction), n_neurons_kept=n_keep)
    if verbose and (reliability_threshold is not None or noise_ceiling_threshold is not None):
        print(report["summary"])
    log.info(report["summary"])
    neuron_idx = np.flatnonzero(keep)
    r = r[:, :, neuron_idx]

    rows = {
        "train": _part_rows(r, sp.train_mask, sp.train_images, responses),
        "test": _part_rows(r, sp.test_mask, sp.test_images, test_responses),
    }
    if len(sp.val_images):
        rows["val"] = _part_rows(r, sp.val_mask, sp.val_images, responses)

    stats: dict[str, Any] = {"zscore": bool(zscore)}
    if zscore:
        mean, std = zscore_stats(rows["train"][0])
        const = ~(std > 0)
        if const.any():
            ids = recording.neurons["id"].to_numpy()[neuron_idx[const]].tolist()
            if const.all():
                raise ValueError(f"every neuron of {recording.name!r} is constant in the training responses")
            warnings.warn(
                f"{recording.name}: dropped {len(ids)} neuron(s) constant in the training responses "
                f"(cannot be z-scored): ids {ids[:10]}{' ...' if len(ids) > 10 else ''}",
                stacklevel=2,
            )
            report["dropped_constant"] = ids
            neuron_idx, mean, std = neuron_idx[~const], mean[~const], std[~const]
            rows = {k: (v[0][:, ~const], *v[1:]) for k, v in rows.items()}
            report["n_neurons_kept"] = len(neuron_idx)
        rows = {k: (_zscore(v[0], mean, std), *v[1:]) for k, v in rows.items()}
        stats.update(zscore_mean=mean.tolist(), zscore_std=std.tolist())

    img = prepare_images(recording.images, image_size=image_size, grey=grey)
    ids = recording.image_ids
    neurons = recording.neurons.iloc[neuron_idx]
    common: dict[str, Any] = {
        "dataset": recording.name,
        "simulated": bool(recording.meta.get("simulated", False)),
        "recording": _plain(recording.meta),
        "split": split,
        "seed": int(seed),
        "test_fraction": float(test_fraction),
        "val_fraction": float(val_fraction),
        "train_image_fraction": float(train_image_fraction),
        "train_trials": train_trials,
        "neuron_fraction": float(neuron_fraction),
        "responses": responses,
        "test_responses": test_responses,
        "image_size": int(image_size),
        "grey": bool(grey),
        "train_image_ids": ids[sp.train_images].tolist(),
        "test_image_ids": ids[sp.test_images].tolist(),
        "neuron_ids": neurons["id"].tolist(),
        "neuron_areas": neurons["area"].tolist(),
        "n_neurons_total": recording.n_neurons,
        "n_neurons_kept": len(neuron_idx),
        "neuron_filter": {k: v for k, v in report.items() if k not in ("reliability", "noise_ceiling")},
        **stats,
    }
    if split == "trials":
        ti, tt = np.nonzero(sp.test_mask)
        common["test_trials"] = [[int(a), int(b)] for a, b in zip(ti, tt)]  # [image index, trial slot]
    images_of = {"train": sp.train_images, "test": sp.test_images, "val": sp.val_images}
    parts = {}
    for part, (part_rows, match, slot) in rows.items():
        images = images_of[part]
        kind = test_responses if part == "test" else responses
        meta = dict(common, part=part, part_responses=kind, image_ids=ids[images].tolist(),
                    image_index=images.tolist(), trial_slot=slot.tolist())
        part_img = img[torch.from_numpy(images)] if len(images) < len(img) else img
        parts[part] = PairedData(part_img, torch.from_numpy(part_rows.astype(np.float32)),
                                 torch.from_numpy(np.asarray(match, dtype=np.int64)), meta)
    return PairedParts(parts["train"], parts["test"], parts.get("val"))
