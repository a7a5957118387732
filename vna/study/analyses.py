"""Beyond the paper: the analyses its argument needs (issue "Beyond the paper"), as named grids and tables.

Each analysis is a grid of RunConfigs (named in :data:`ANALYSIS_GRIDS` and so in :data:`vna.study.registry.GRIDS`, so that
``python -m vna reproduce --grid NAME`` regenerates it and its records sit in ``results/`` beside the
study's) and a function that turns records into the chapter's table. New settings are RunConfig fields
(``train_trials``, ``train_image_fraction``, ``neuron_fraction``, ``dataset_options``) or methods
(:mod:`vna.linear`), so every record stays keyed by its full config. Deep methods train as in the study
(:data:`vna.grids.STUDY_TRAINING`), so a config an analysis shares with the study is the same run.

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

from typing import Sequence

import numpy as np
import pandas as pd

from ..data.preprocess import make_split, split_half_reliability
from ..data.simulated import load_simulated
from ..evaluation import evaluate_scores
from ..methods import LINEAR_METHODS, METHODS
from .config import RunConfig
from .grids import STUDY_PROTOCOLS, STUDY_SEEDS, STUDY_TRAINING, quick_config
from .results import _t_halfwidth, signature
from .stats import paired_difference

__all__ = [
    "NOISE_STEPS", "NOISE_SIMULATED", "TRIAL_COUNTS", "IMAGE_FRACTIONS", "NEURON_FRACTIONS", "DISTRACTORS",
    "BATCH_SIZES", "LATENT_DIMS", "SIZE_SEEDS", "linear_grid", "noise_grid", "trials_grid", "size_grid",
    "distractors_grid", "settings_grid", "grid_records", "analysis_tables", "SWEEPS", "noise_reliability", "sweep_table", "paired_sweep", "oracle_auc",
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
    deep = fields.get("method", "vna") in METHODS
    base = dict(STUDY_TRAINING) if deep else {"val_fraction": STUDY_TRAINING["val_fraction"]}
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


#: The analyses' grids: name -> (builder, one-line description); :mod:`vna.study.registry` adds the study's.
ANALYSIS_GRIDS = {
    "linear": (linear_grid, "linear baselines and the trial-template reference on the study's datasets and protocols"),
    "noise": (noise_grid, "the simulated cortex at five noise levels, every method, 5 seeds"),
    "trials": (trials_grid, "1, 2, 4 or all training trials per image (cowley2023-v4, antolik2016-v1)"),
    "size": (size_grid, "fractions of the training images and of the neurons (cowley2023-v4, 3 seeds)"),
    "distractors": (distractors_grid, "candidate-set sizes K = 1 ... all from the same models (simulated)"),
    "settings": (settings_grid, "VNA: fixed temperature, batch size, latent dimension (simulated, cowley2023-v4)"),
}


# --------------------------------------------------------------------------------------------- tables
def grid_records(records: pd.DataFrame, configs: Sequence[RunConfig]) -> pd.DataFrame:
    """The rows of ``records`` that belong to ``configs`` (matched by :func:`vna.results.signature`),
    with the settings the analyses sweep as columns: ``noise_step``, ``train_trials``,
    ``train_image_fraction``, ``neuron_fraction``, ``n_distractors``, ``batch_size``, ``latent_dim``,
    ``learn_temperature``."""
    by_sig: dict[str, RunConfig] = {}
    for c in configs:
        by_sig.setdefault(signature(c), c)
    wanted = {(signature(c), c.seed) for c in configs}  # the grid's own seeds, not every seed of a shared config
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
    """Every analysis's table from ``records`` (:func:`vna.results.load_records`): mean average AUC ± 95 %
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
    """``method - baseline`` paired by seed at each value of ``by`` (per dataset × test responses)."""
    rows = []
    for keys, g in records.groupby(["dataset", "test_responses", by], dropna=False, sort=True):
        a = g[g["method"] == method].set_index("seed")[metric]
        b = g[g["method"] == baseline].set_index("seed")[metric]
        seeds = sorted(set(a.index) & set(b.index))
        if not seeds:
            continue
        d = paired_difference(a.loc[seeds], b.loc[seeds])
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
