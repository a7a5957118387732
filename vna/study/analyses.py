"""Beyond the paper: the analyses its argument needs, as named grids and tables.

Each analysis is a grid of RunConfigs (named in :data:`ANALYSIS_GRIDS` and so in :data:`vna.study.registry.GRIDS`, so that
``python -m vna reproduce --grid NAME`` regenerates it and its records sit in ``results/`` beside the
study's) and a function that turns records into the chapter's table. New settings are RunConfig fields
(``train_trials``, ``train_image_fraction``, ``neuron_fraction``, ``dataset_options``) or methods
(:mod:`vna.linear`), so every record stays keyed by its full config. Deep methods train as in the study
(:data:`vna.study.grids.STUDY_TRAINING`), so a config an analysis shares with the study is the same run.

* ``linear`` -- ridge encoding, ridge decoding and CCA alignment on every study dataset and protocol, and
  the trial-template reference where test images were seen in training (held-out trials, in-sample);
* ``noise`` -- the simulated cortex with its trial-to-trial noise turned up in :data:`NOISE_STEPS`;
* ``trials`` -- training on 1, 2, 4 or all trials per image (cowley2023-v4 held-out images,
  antolik2016-v1 held-out trials), test fixed;
* ``size`` -- a fraction of the training images or of the neurons (cowley2023-v4, held-out images);
* ``distractors`` -- the candidate-set size K, from the same trained models (evaluation only);
* ``settings`` -- VNA's own: fixed vs learned temperature, batch size, latent dimension.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ..data.preprocess import make_split, split_half_reliability
from ..data.simulated import load_simulated
from ..evaluation import evaluate_scores
from ..methods import LINEAR_METHODS, METHODS
from .config import RunConfig
from .grids import STUDY_PROTOCOLS, STUDY_SEEDS, STUDY_TRAINING, quick_config, read_tuned, tuned_fields
from .stats import available_scores, corrected_t_interval
from .tables import _t_halfwidth

__all__ = [
    "NOISE_STEPS", "NOISE_SIMULATED", "TRIAL_COUNTS", "IMAGE_FRACTIONS", "NEURON_FRACTIONS", "DISTRACTORS",
    "BATCH_SIZES", "LATENT_DIMS", "SIZE_SEEDS", "linear_grid", "noise_grid", "trials_grid", "size_grid",
    "distractors_grid", "settings_grid", "grid_records", "analysis_tables", "SWEEPS", "noise_reliability", "sweep_table", "paired_sweep", "oracle_auc",
    "gain_log_integral", "poisson_gain_loglik", "likelihood_ratio_scores", "likelihood_oracle",
    "above_chance_fraction", "paired_did", "paired_change", "variability_answers", "FIXED_PAIRS_TRIALS",
    "trials_fixed_pairs_grid",
]

#: The simulated cortex of the noise analysis: 300 images x 5 trials x 100 neurons, and five noise levels
#: (shared trial gain up, firing rates down): trial-mean reliability falls from about 0.8 to 0.25.
NOISE_SIMULATED = {"n_images": 300, "n_trials": 5, "n_neurons": 100}
NOISE_STEPS = (
    {"gain_noise": 0.0, "peak_rate": 8.0, "baseline_rate": 4.0},
    {"gain_noise": 0.2, "peak_rate": 4.0, "baseline_rate": 2.0},
    {"gain_noise": 0.4, "peak_rate": 2.0, "baseline_rate": 1.0},
    {"gain_noise": 0.6, "peak_rate": 1.0, "baseline_rate": 0.5},
    {"gain_noise": 0.8, "peak_rate": 0.5, "baseline_rate": 0.25},
)
TRIAL_COUNTS = (1, 2, 4, None)  # None: all recorded training trials
TRIALS_DATASETS = {"cowley2023-v4": "images", "antolik2016-v1": "trials"}
IMAGE_FRACTIONS = (0.25, 0.5, 1.0)
NEURON_FRACTIONS = (0.1, 0.25, 0.5, 1.0)
SIZE_SEEDS = (0, 1, 2)  # the data-size sweep is the costliest: three seeds
DISTRACTORS = (1, 2, 5, 10, 20, 50, None)  # None: every eligible distractor
BATCH_SIZES = (16, 32, 64, 128, 256)
LATENT_DIMS = (16, 32, 64, 128, 256)
SETTINGS_DATASETS = ("simulated", "cowley2023-v4")


def _cfg(quick: bool, device: str, threads: int, **fields) -> RunConfig:
    method = fields.get("method", RunConfig.method)
    if method in METHODS:  # trained as in the study, with the validation sweep's choice for its cell
        dataset = fields.get("dataset", RunConfig.dataset)
        base = {**STUDY_TRAINING, **tuned_fields(dataset, method, fields.get("split", RunConfig.split), read_tuned())}
    else:
        base = {"val_fraction": STUDY_TRAINING["val_fraction"]}
    cfg = RunConfig(device=device, threads=threads, **{**base, **fields})
    return quick_config(cfg) if quick else cfg


def _methods(methods: Sequence[str] | None, default: Sequence[str]) -> list[str]:
    return list(default if methods is None else methods)


def linear_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None,
                seeds: Sequence[int] = STUDY_SEEDS, *, quick: bool = False, device: str = "auto",
                threads: int = 1, **overrides) -> list[RunConfig]:
    """The study's datasets and protocols with the linear baselines (and the trial template where the test
    images were seen in training)."""
    configs = []
    for d in (list(STUDY_PROTOCOLS) if datasets is None else datasets):
        for split, responses, test in STUDY_PROTOCOLS[d]:
            wanted = _methods(methods, LINEAR_METHODS + (("trial_template",) if split != "images" else ()))
            for m in wanted:
                for s in seeds:
                    configs.append(_cfg(quick, device, threads, dataset=d, method=m, seed=int(s), split=split,
                                        responses=responses, test_responses=test, **overrides))
    return configs


def noise_grid(datasets=None, methods: Sequence[str] | None = None, seeds: Sequence[int] = STUDY_SEEDS, *,
               quick: bool = False, device: str = "auto", threads: int = 1, **overrides) -> list[RunConfig]:
    """Every noise step of the simulated cortex × methods × seeds; held-out images, single trials and trial
    means (one training)."""
    configs = []
    for step in NOISE_STEPS:
        options = {**NOISE_SIMULATED, **step}
        for m in _methods(methods, METHODS):
            for s in seeds:
                for test in ("trials", "mean"):
                    cfg = _cfg(False, device, threads, dataset="simulated", method=m, seed=int(s), split="images",
                               test_responses=test, dataset_options=options, **overrides)
                    configs.append(quick_config(cfg).replace(dataset_options={**options, "n_images": 80})
                                   if quick else cfg)
    return configs


def trials_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None,
                seeds: Sequence[int] = STUDY_SEEDS, *, quick: bool = False, device: str = "auto", threads: int = 1,
                **overrides) -> list[RunConfig]:
    """1, 2, 4 or all training trials per image; the test part stays as in the study."""
    configs = []
    for d in (list(TRIALS_DATASETS) if datasets is None else datasets):
        for n in TRIAL_COUNTS:
            for m in _methods(methods, METHODS):
                for s in seeds:
                    cfg = _cfg(False, device, threads, dataset=d, method=m, seed=int(s), split=TRIALS_DATASETS[d],
                               train_trials=n, **overrides)
                    configs.append(quick_config(cfg).replace(responses="trials", test_responses="trials")
                                   if quick else cfg)
    return configs


def size_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None,
              seeds: Sequence[int] = SIZE_SEEDS, *, quick: bool = False, device: str = "auto", threads: int = 1,
              **overrides) -> list[RunConfig]:
    """A fraction of the training images, or of the neurons (cowley2023-v4, held-out images)."""
    configs = []
    for d in (["cowley2023-v4"] if datasets is None else datasets):
        for m in _methods(methods, METHODS):
            for s in seeds:
                for f in IMAGE_FRACTIONS:
                    configs.append(_cfg(quick, device, threads, dataset=d, method=m, seed=int(s),
                                        train_image_fraction=f, **overrides))
                for f in NEURON_FRACTIONS[:-1]:
                    configs.append(_cfg(quick, device, threads, dataset=d, method=m, seed=int(s),
                                        neuron_fraction=f, **overrides))
    return configs


def distractors_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None,
                     seeds: Sequence[int] = STUDY_SEEDS, *, quick: bool = False, device: str = "auto",
                     threads: int = 1, **overrides) -> list[RunConfig]:
    """Candidate-set sizes K from the same trained models (simulated, held-out trials: 300 candidate images)."""
    configs = []
    for d in (["simulated"] if datasets is None else datasets):
        for m in _methods(methods, METHODS):
            for s in seeds:
                for k in DISTRACTORS:
                    if quick and k is not None and k > 20:
                        continue
                    configs.append(_cfg(quick, device, threads, dataset=d, method=m, seed=int(s), split="trials",
                                        n_distractors=k, **overrides))
    return configs


def settings_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None,
                  seeds: Sequence[int] = STUDY_SEEDS, *, quick: bool = False, device: str = "auto",
                  threads: int = 1, **overrides) -> list[RunConfig]:
    """VNA with a fixed temperature, and with other batch sizes and latent dimensions (held-out images)."""
    if methods is not None and list(methods) != ["vna"]:
        raise ValueError("the settings analysis is about VNA only (--methods vna)")
    configs = []
    for d in (list(SETTINGS_DATASETS) if datasets is None else datasets):
        variants = [{"learn_temperature": False}] + [{"batch_size": b} for b in BATCH_SIZES]
        variants += [{"latent_dim": k} for k in LATENT_DIMS if k != RunConfig.latent_dim]
        for v in variants:
            for s in seeds:
                configs.append(_cfg(quick, device, threads, dataset=d, method="vna", seed=int(s), **v, **overrides))
    return configs




# --------------------------------------------------------------------------------------------- tables
def grid_records(records: pd.DataFrame, configs: Sequence[RunConfig]) -> pd.DataFrame:
    """The rows of ``records`` that belong to ``configs`` (matched by :meth:`RunConfig.signature`),
    with the settings the analyses sweep as columns: ``noise_step``, ``train_trials``,
    ``train_image_fraction``, ``neuron_fraction``, ``n_distractors``, ``batch_size``, ``latent_dim``,
    ``learn_temperature``."""
    by_sig: dict[str, RunConfig] = {}
    for c in configs:
        by_sig.setdefault(c.signature(), c)
    wanted = {(c.signature(), c.seed) for c in configs}  # the grid's own seeds, not every seed of a shared config
    out = records[[(s, seed) in wanted for s, seed in zip(records["signature"], records["seed"])]].copy()
    cfgs = [by_sig[s] for s in out["signature"]]
    out["noise_step"] = [next((i for i, st in enumerate(NOISE_STEPS)
                               if all(c.dataset_options.get(k) == v for k, v in st.items())), None) for c in cfgs]
    for name in ("train_trials", "train_image_fraction", "neuron_fraction", "n_distractors", "batch_size",
                 "latent_dim", "learn_temperature"):
        out[name] = [getattr(c, name) for c in cfgs]
    return out.reset_index(drop=True)


def noise_reliability(step: dict, seed: int = 0) -> dict[str, float]:
    """The population's reliability at one noise step: the true (analytic) trial-mean reliability and the
    split-half estimate, averaged over neurons."""
    rec = load_simulated(**{**NOISE_SIMULATED, **step, "seed": seed})
    return {"true_reliability": float(np.nanmean(rec.meta["true_reliability"])),
            "split_half_reliability": float(np.nanmean(split_half_reliability(rec.responses)))}


def sweep_table(records: pd.DataFrame, by: str | Sequence[str], metric: str = "mean_auc") -> pd.DataFrame:
    """Mean and 95 % t-interval over seeds of ``metric`` per dataset × method × test responses × ``by``
    (one column name or several)."""
    by = [by] if isinstance(by, str) else list(by)
    keys = ["dataset", "method", "test_responses", *by]
    rows = []
    for values, g in records.groupby(keys, dropna=False, sort=True):
        v = g[metric].to_numpy(dtype=float)
        rows.append(dict(zip(keys, values), n_seeds=int(g["seed"].nunique()), mean=float(np.mean(v)),
                         ci=_t_halfwidth(v)))
    return pd.DataFrame(rows, columns=[*keys, "n_seeds", "mean", "ci"])


#: What each analysis sweeps (the columns of its table in ``python -m vna report``).
SWEEPS = {"linear": ["split"], "noise": ["noise_step"], "trials": ["train_trials"],
          "size": ["train_image_fraction", "neuron_fraction"], "distractors": ["n_distractors"],
          "settings": ["learn_temperature", "batch_size", "latent_dim"]}


def analysis_tables(records: pd.DataFrame, quick: bool = False) -> dict[str, pd.DataFrame]:
    """Every analysis's table from ``records`` (:func:`vna.study.store.load_records`): mean average AUC ± 95 %
    interval over seeds per dataset × method × test responses × swept setting (the distractor table also
    has decoding top-1 and top-5). Analyses without records give empty tables."""
    out = {}
    for name, by in SWEEPS.items():
        part = grid_records(records, ANALYSIS_GRIDS[name][0](quick=quick))
        if part.empty:
            out[name] = pd.DataFrame()
            continue
        part = part.assign(**{col: ["all" if pd.isna(v) else int(v) for v in part[col]] for col in by
                              if col in ("train_trials", "n_distractors")})
        table = sweep_table(part, by)
        if name == "distractors":
            for metric in ("decoding_top1", "decoding_top5"):
                extra = sweep_table(part, by, metric)
                table[f"{metric}"] = extra["mean"].to_numpy()
        if name == "noise":
            rel = {i: noise_reliability(step)["split_half_reliability"] for i, step in enumerate(NOISE_STEPS)}
            table.insert(4, "reliability", table["noise_step"].map(rel))
        out[name] = table
    return out


def paired_sweep(records: pd.DataFrame, by: str, baseline: str, metric: str = "mean_auc",
                 method: str = "vna") -> pd.DataFrame:
    """``method - baseline`` paired by seed at each value of ``by`` (per dataset × test responses), with the
    corrected t-interval over seeds (:func:`vna.study.stats.corrected_t_interval`)."""
    rows = []
    for keys, g in records.groupby(["dataset", "test_responses", by], dropna=False, sort=True):
        a = g[g["method"] == method].set_index("seed")[metric]
        b = g[g["method"] == baseline].set_index("seed")[metric]
        seeds = sorted(set(a.index) & set(b.index))
        if not seeds:
            continue
        d = corrected_t_interval((a.loc[seeds] - b.loc[seeds]).to_numpy(dtype=float),
                                 _ratios(g[g["seed"].isin(seeds)]))
        rows.append(dict(zip(["dataset", "test_responses", by], keys), baseline=baseline, n_seeds=d["n"],
                         mean_diff=d["mean"], ci_low=d["low"], ci_high=d["high"]))
    return pd.DataFrame(rows)


def oracle_auc(seed: int = 0, n_distractors=None) -> dict[str, float]:
    """The simulated cortex's ceiling under the study's held-out-images protocol: score test images against
    test trials by the distance between the *true* tuning (mean rates, z-scored with the training trials'
    statistics) and each trial. No model can know more than the true rates."""
    import torch

    rec = load_simulated(seed=0)
    sp = make_split(rec, "images", RunConfig.test_fraction, seed, STUDY_TRAINING["val_fraction"])
    train = rec.responses[sp.train_mask]
    mean, std = train.mean(0), train.std(0)
    keep = std > 0
    rates = (rec.meta["true_rates"][sp.test_images][:, keep] - mean[keep]) / std[keep]
    ii, tt = np.nonzero(sp.test_mask[sp.test_images])
    trials = (rec.responses[sp.test_images][ii, tt][:, keep] - mean[keep]) / std[keep]
    d2 = (rates**2).sum(1)[:, None] + (trials**2).sum(1)[None, :] - 2 * rates @ trials.T
    S = torch.from_numpy(-np.sqrt(np.maximum(d2, 0)))
    return evaluate_scores(S, torch.from_numpy(ii), n_distractors, seed).metrics


# -------------------------------------------------------------------------------- references, not ceilings
def gain_log_integral(total_counts: np.ndarray, total_rates: np.ndarray, gain_noise: float,
                      n_nodes: int = 4001) -> np.ndarray:
    """``log E_g[g^Y exp(-g R)]`` for the simulator's shared trial gain ``g = exp(σ z - σ²/2)``, ``z ~ N(0, 1)``
    (:func:`vna.data.simulated.load_simulated`), for every pair of ``Y`` (``total_counts`` [R]: a trial's summed
    counts) and ``R`` (``total_rates`` [I]: an image's summed rates); [I, R]. The integral over ``z`` is a
    trapezoid sum on ``n_nodes`` points in [-8, 8] in log space (the integrand's width in ``z`` is about
    ``1 / (σ sqrt(Y))``, far wider than the grid step for the simulator's counts); ``σ = 0``: ``-R``."""
    Y = np.asarray(total_counts, dtype=float)[None, :]
    R = np.asarray(total_rates, dtype=float)[:, None]
    if gain_noise == 0:
        return np.broadcast_to(-R, (R.shape[0], Y.shape[1])).copy()
    z = np.linspace(-8.0, 8.0, n_nodes)
    logg = gain_noise * z - gain_noise**2 / 2
    logw = -0.5 * z**2 - 0.5 * np.log(2 * np.pi) + np.log(z[1] - z[0])
    out = np.empty((R.shape[0], Y.shape[1]))
    for i in range(R.shape[0]):  # [R, nodes] per image: bounded memory
        e = Y.T * logg[None, :] - R[i, 0] * np.exp(logg)[None, :] + logw[None, :]
        m = e.max(axis=1, keepdims=True)
        out[i] = (m + np.log(np.exp(e - m).sum(axis=1, keepdims=True)))[:, 0]
    return out


def poisson_gain_loglik(counts: np.ndarray, rates: np.ndarray, gain_noise: float) -> np.ndarray:
    """``log p(y_j | image i)`` up to terms of ``y_j`` alone, [I, R], under the simulator's generative model:
    ``y_jn ~ Poisson(g_j r_in)`` independently given a gain ``g_j`` shared by all neurons on trial ``j``
    (log-normal, mean 1, log-sd ``gain_noise``), integrated out (:func:`gain_log_integral`):
    ``sum_n y_jn log r_in + log E_g[g^Y_j exp(-g R_i)]`` with ``Y_j = sum_n y_jn``, ``R_i = sum_n r_in``
    (the dropped ``-sum_n log y_jn!`` is the same for every image)."""
    counts, rates = np.asarray(counts, dtype=float), np.asarray(rates, dtype=float)
    return np.log(np.maximum(rates, 1e-12)) @ counts.T + gain_log_integral(counts.sum(1), rates.sum(1), gain_noise)


def likelihood_ratio_scores(loglik: np.ndarray, match: np.ndarray) -> np.ndarray:
    """``S[i, j] = log p(y_j | i) - log p(y_j | another test image)``, the second a mixture over the other test
    images weighted by their number of test responses (the distractors of encoding are *their* responses).

    Encoding (row ``i``) asks "did this candidate come from image ``i`` or from another image?": the likelihood
    ratio is the Neyman-Pearson statistic, so ranking by it maximises the expected AUC. Decoding (column ``j``)
    ranks the images by their posterior ``p(i | y_j)``, proportional to ``p(y_j | i)``; the ratio above is a
    monotone function of it within the column (``p(y_j | i) / (c_j - w_i p(y_j | i))`` with ``c_j`` constant),
    so it ranks the same. Either way, no score of one (image, response) pair does better in expectation.
    """
    L = np.asarray(loglik, dtype=float)
    match = np.asarray(match)
    w = np.log(np.bincount(match, minlength=L.shape[0]).astype(float).clip(min=1e-300))
    total = L + w[:, None]
    out = np.empty_like(L)
    for i in range(L.shape[0]):
        others = np.delete(total, i, axis=0)
        m = others.max(axis=0)
        mix = m + np.log(np.exp(others - m).sum(axis=0)) - np.log(np.exp(np.delete(w, i)).sum())
        out[i] = L[i] - mix
    return out


def likelihood_oracle(seed: int = 0, split: str = "images", dataset_options: dict | None = None,
                      n_distractors=None, recording=None) -> dict[str, float]:
    """The simulated cortex's likelihood-optimal reference under the study's protocol ``split`` (single-trial test
    responses): each test trial is scored against each test image by :func:`likelihood_ratio_scores` of the
    simulator's own likelihood with the *true* rates and the true gain noise (:func:`poisson_gain_loglik`).
    No model of the simulation can beat it in expectation; :func:`oracle_auc` (Euclidean distance to the true
    rates) ignores the shared gain and the Poisson variance and is beaten by it. ``recording``: a
    :func:`load_simulated` recording (default: the study's, with ``dataset_options``)."""
    import torch

    rec = recording if recording is not None else load_simulated(**(dataset_options or {}))
    gain_noise = float(rec.meta["options"]["gain_noise"])
    sp = make_split(rec, split, RunConfig.test_fraction, seed, STUDY_TRAINING["val_fraction"])
    images = np.flatnonzero(sp.test_mask.any(axis=1))
    ii, tt = np.nonzero(sp.test_mask[images])
    counts = rec.responses[images][ii, tt]
    S = likelihood_ratio_scores(poisson_gain_loglik(counts, rec.meta["true_rates"][images], gain_noise), ii)
    return evaluate_scores(torch.from_numpy(S), torch.from_numpy(ii), n_distractors, seed).metrics


def above_chance_fraction(auc, reference):
    """``(AUC - 0.5) / (reference - 0.5)``: the share of the above-chance range a method covers (a ratio of raw
    AUCs ignores that 0.5 is the floor). NaN where the reference is at or below chance."""
    auc, reference = np.asarray(auc, dtype=float), np.asarray(reference, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(reference > 0.5, (auc - 0.5) / (reference - 0.5), np.nan)
    return out if out.ndim else float(out)


# ---------------------------------------------------------------------------------- answers with intervals
def _ratios(g: pd.DataFrame) -> float:
    return float(np.mean(g["test_train_ratio"].to_numpy(dtype=float))) if len(g) else math.nan


def paired_did(records: pd.DataFrame, by: str, least: object, most: object, baseline: str,
               metric: str = "mean_auc", method: str = "vna", level: float = 0.95,
               ratio: float | None = None) -> pd.DataFrame:
    """VNA's advantage at the *most* variable level minus at the *least* variable one, paired by seed (a
    difference in differences): ``[(m - b) at most] - [(m - b) at least]`` per seed; positive means the advantage
    grows with variability, as the paper argues. Per dataset × test responses: n_seeds, did, the plain and the
    corrected t-interval (:func:`vna.study.stats.corrected_t_interval`, seeds re-split one recording), and
    ``answer`` ("grows" / "shrinks" / "inconclusive") from the corrected one. ``ratio``: n_test/n_train (default:
    from the records' sizes)."""
    rows = []
    for (dataset, test), g in records.groupby(["dataset", "test_responses"], sort=True):
        def adv(level_value):
            part = g[g[by] == level_value]
            a = part[part["method"] == method].drop_duplicates("seed").set_index("seed")[metric]
            b = part[part["method"] == baseline].drop_duplicates("seed").set_index("seed")[metric]
            return a - b
        hi, lo = adv(most), adv(least)
        seeds = sorted(set(hi.dropna().index) & set(lo.dropna().index))
        if not seeds:
            continue
        d = (hi.loc[seeds] - lo.loc[seeds]).to_numpy(dtype=float)
        ci = corrected_t_interval(d, _ratios(g[g["seed"].isin(seeds)]) if ratio is None else ratio, level)
        answer = ("grows" if ci["low"] > 0 else "shrinks" if ci["high"] < 0 else
                  "inconclusive" if ci["n"] >= 2 else "cannot test")
        rows.append({"dataset": dataset, "test_responses": test, "baseline": baseline, "least": least, "most": most,
                     "n_seeds": ci["n"], "did": ci["mean"], "plain_low": ci["plain_low"],
                     "plain_high": ci["plain_high"], "ci_low": ci["low"], "ci_high": ci["high"], "answer": answer})
    return pd.DataFrame(rows, columns=["dataset", "test_responses", "baseline", "least", "most", "n_seeds", "did",
                                       "plain_low", "plain_high", "ci_low", "ci_high", "answer"])


def variability_answers(noise: pd.DataFrame, trials: pd.DataFrame, fixed: pd.DataFrame | None = None,
                        baselines: Sequence[str] = ("direct_encoder", "direct_decoder"),
                        scores: Sequence[str] | None = None) -> pd.DataFrame:
    """The answers to "does VNA's advantage grow with trial-to-trial variability?" (the paper's argument; the
    analyses chapter, section 1): :func:`paired_did` of VNA against each baseline from the least to the most
    variable level, single-trial test responses, under each scoring rule in ``scores`` (default: every rule the
    records carry; the frames are :func:`grid_records` of long-form :func:`vna.study.store.load_records` rows,
    one per record and rule), on
    * ``noise``: the simulated noise levels (:func:`grid_records` of :func:`noise_grid`; first to last step; the
      training pairs are the same at every level);
    * ``trials``: each recording's training trials per image (of :func:`trials_grid`; from all trials to one:
      fewer repeats, and also fewer training pairs);
    * ``fixed``: ``n`` trials per image on ``1/n`` of the training images (of :func:`trials_fixed_pairs_grid`;
      from the most repeats to one, the number of training pairs held fixed).
    ``counted``: False for the simulated cortex (shown, never counted). Columns: analysis, score, counted, and
    :func:`paired_did`'s."""
    metric = "mean_auc"  # long form: each rule's AUCs in the same columns
    frames = [f for f in (noise, trials, fixed) if f is not None and len(f)]
    if scores is None:
        scores = available_scores(pd.concat(frames)) if frames else []
    parts = []

    def single(frame):
        return frame[frame["test_responses"] == "trials"] if frame is not None and len(frame) else None

    noise, trials, fixed = single(noise), single(trials), single(fixed)
    for score in scores:
        def rule(frame):
            return None if frame is None else frame[frame["score"] == score]

        noise_r = rule(noise)
        if noise_r is not None and len(noise_r) and noise_r["noise_step"].notna().any():
            steps = sorted(set(noise_r["noise_step"].dropna()))
            for b in baselines:
                parts.append(paired_did(noise_r, "noise_step", steps[0], steps[-1], b, metric)
                             .assign(analysis="noise", score=score))
        for name, frame in (("trials", rule(trials)), ("fixed pairs", rule(fixed))):
            if frame is None or frame.empty:
                continue
            frame = frame.assign(trials_per_image=["all" if pd.isna(n) else int(n) for n in frame["train_trials"]])
            counts = sorted({n for n in frame["trials_per_image"] if n != "all"})
            most = "all" if "all" in set(frame["trials_per_image"]) else (counts[-1] if len(counts) > 1 else None)
            if counts and most is not None and most != counts[0]:
                for b in baselines:
                    parts.append(paired_did(frame, "trials_per_image", most, counts[0], b, metric)
                                 .assign(analysis=name, score=score))
    cols = ["analysis", "score", "counted", "dataset", "test_responses", "baseline", "least", "most", "n_seeds", "did",
            "plain_low", "plain_high", "ci_low", "ci_high", "answer"]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["counted"] = out["dataset"] != "simulated"
    return out[cols]


def paired_change(records: pd.DataFrame, by: str, low: object, high: object, metric: str = "mean_auc",
                  level: float = 0.95) -> pd.DataFrame:
    """Each method's change in ``metric`` from ``by == low`` to ``by == high`` (e.g. 25 % to 100 % of the training
    images), paired by seed, with the plain and the corrected t-interval; per dataset × method × test responses."""
    rows = []
    for (dataset, method, test), g in records.groupby(["dataset", "method", "test_responses"], sort=True):
        a = g[g[by] == high].drop_duplicates("seed").set_index("seed")[metric]
        b = g[g[by] == low].drop_duplicates("seed").set_index("seed")[metric]
        seeds = sorted(set(a.dropna().index) & set(b.dropna().index))
        if not seeds:
            continue
        ci = corrected_t_interval((a.loc[seeds] - b.loc[seeds]).to_numpy(dtype=float),
                                  _ratios(g[(g[by] == high) & g["seed"].isin(seeds)]), level)
        rows.append({"dataset": dataset, "method": method, "test_responses": test, "low": low, "high": high,
                     "n_seeds": ci["n"], "change": ci["mean"], "plain_low": ci["plain_low"],
                     "plain_high": ci["plain_high"], "ci_low": ci["low"], "ci_high": ci["high"]})
    return pd.DataFrame(rows, columns=["dataset", "method", "test_responses", "low", "high", "n_seeds", "change",
                                       "plain_low", "plain_high", "ci_low", "ci_high"])


#: The fixed-pairs version of the trials analysis. With ``n`` training trials per image on a fraction ``1/n`` of
#: the training images, every run trains on about as many pairs as the one-trial run (one per training image), so
#: fewer repeats is no longer also fewer pairs; the noise grid already holds the pairs fixed (300 images x 5
#: trials at every noise level).
FIXED_PAIRS_TRIALS = (1, 2, 4)


def trials_fixed_pairs_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None,
                            seeds: Sequence[int] = STUDY_SEEDS, *, quick: bool = False, device: str = "auto",
                            threads: int = 1, **overrides) -> list[RunConfig]:
    """``n`` training trials per image on ``1/n`` of the training images (:data:`FIXED_PAIRS_TRIALS`): the
    number of training pairs held fixed while the repeats per image vary (``--grid trials-fixed-pairs``)."""
    configs = []
    for d in (list(TRIALS_DATASETS) if datasets is None else datasets):
        for n in FIXED_PAIRS_TRIALS:
            for m in _methods(methods, METHODS):
                for s in seeds:
                    configs.append(_cfg(quick, device, threads, dataset=d, method=m, seed=int(s),
                                        split=TRIALS_DATASETS[d], train_trials=n, train_image_fraction=1.0 / n,
                                        **overrides))
    return configs


#: The analyses' grids: name -> (builder, one-line description); :mod:`vna.study.registry` adds the study's.
ANALYSIS_GRIDS = {
    "linear": (linear_grid, "linear baselines and the trial-template reference on the study's datasets and protocols"),
    "noise": (noise_grid, "the simulated cortex at five noise levels, every method, 5 seeds"),
    "trials": (trials_grid, "1, 2, 4 or all training trials per image (cowley2023-v4, antolik2016-v1)"),
    "size": (size_grid, "fractions of the training images and of the neurons (cowley2023-v4, 3 seeds)"),
    "distractors": (distractors_grid, "candidate-set sizes K = 1 ... all from the same models (simulated)"),
    "settings": (settings_grid, "VNA: fixed temperature, batch size, latent dimension (simulated, cowley2023-v4)"),
    "trials-fixed-pairs": (trials_fixed_pairs_grid,
                           "n trials per image on 1/n of the training images: repeats vary, training pairs do not"),
}
