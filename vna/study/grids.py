"""Grid definitions: which runs make the published study (and each analysis), defined once.

A grid is a list of :class:`~vna.study.config.RunConfig`. The CLI (``python -m vna reproduce --grid NAME``),
``python -m vna report``, the results chapter and the test that checks ``results/`` all read the grids
from here (by name through :mod:`vna.study.registry`), so that they cannot disagree about what was run.

The reproduction study: every dataset × the protocols it supports × the
three methods × five seeds. A seed fixes the split, the initialisation and the batch order, so runs with one
seed are *paired* across methods. Protocols are ``split`` × test responses:

* held-out images (``split="images"``): test images never seen in training;
* held-out trials (``split="trials"``): test trials of images seen in training;
* in-sample (``split="none"``): scored on the training pairs themselves -- a diagnostic, never a result;

each with single-trial test responses and, where a dataset has repeats, trial-mean test responses. Models
train on single trials wherever the dataset has them (trial means for ``allen-2p-ns118``, which has only
means); runs that differ only in their test responses share one trained model. Epochs are chosen by early
stopping on a validation part carved out of the *training* data (``STUDY_TRAINING``), never the test set.
"""
from __future__ import annotations

import itertools
import numbers
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..data.preprocess import _py, _round_half_up
from ..data.user import from_folder
from ..methods import METHODS
from ..names import RESPONSE_LABELS, SPLIT_LABELS
from .config import RunConfig
from .store import published_dir

__all__ = [
    "STUDY_SEEDS", "STUDY_TRAINING", "STUDY_PROTOCOLS", "QUICK", "QUICK_SIMULATED_OPTIONS",
    "BEFORE_TUNING", "BEFORE_TUNING_DIR", "before_tuning_grid", "study_grid", "folder_grid", "protocols_for", "protocol_support", "check_seeds", "quick_config", "quick_options",
    "TUNING_LR", "TUNING_WEIGHT_DECAY", "TUNING_BATCH_SIZES", "TUNING_SETTINGS", "TUNING_SEEDS", "TUNED_FIELDS",
    "TUNED_FILE", "tuning_protocols", "tuning_grid", "read_tuned", "tuned_fields",
]

STUDY_SEEDS = (0, 1, 2, 3, 4)

#: Training of every study run: at most 50 epochs; 10 % of the training data (images or trials, as the
#: protocol holds out) validate each epoch; training stops 8 epochs after the best validation mean AUC and
#: keeps that epoch's weights. The published records were trained in PyTorch's contiguous layout, before the
#: faster channels-last layout became the default of ``fit`` and ``RunConfig``; the study keeps it until the
#: published grids are rerun, so that its configs stay the records' configs.
STUDY_TRAINING = {"epochs": 50, "val_fraction": 0.1, "patience": 8, "memory_format": "contiguous"}

#: The study as it ran before the validation sweep (``study_grid(**BEFORE_TUNING)``): every method with RunConfig's
#: learning rate, weight decay and batch size, at most 50 epochs, PyTorch's contiguous layout. Its records stay in
#: ``results-before-tuning/`` of the repository, shown as "before tuning".
BEFORE_TUNING = {"epochs": 50, "memory_format": "contiguous", "lr": 1e-3, "weight_decay": 0.0, "batch_size": 64}
BEFORE_TUNING_DIR = "results-before-tuning"

_ALL_FOUR = [(split, "trials", test) for split in ("images", "trials", "none") for test in ("trials", "mean")]

#: The protocols each dataset supports: ``(split, training responses, test responses)``.
STUDY_PROTOCOLS: dict[str, list[tuple[str, str, str]]] = {
    "simulated": _ALL_FOUR,
    "cowley2023-v4": _ALL_FOUR,
    # 50 images: a held-out-images test set has 8 images (chance-level noise is large; the book says so)
    "antolik2016-v1": _ALL_FOUR,
    # trial means only: no held-out trials, no single trials
    "allen-2p-ns118": [("images", "mean", "mean"), ("none", "mean", "mean")],
}

#: What ``quick`` changes (CI smoke runs): at most 2 epochs; a small simulated set; trial means for real data.
QUICK = {"epochs": 2}
QUICK_SIMULATED_OPTIONS = {"n_images": 120, "n_trials": 4, "n_neurons": 40}


def quick_options(dataset: str) -> dict:
    """``dataset_options`` for a quick run (only the simulated set can shrink)."""
    return dict(QUICK_SIMULATED_OPTIONS) if dataset == "simulated" else {}


def quick_config(cfg: RunConfig) -> RunConfig:
    """``cfg`` shrunk for a smoke test: at most ``QUICK["epochs"]`` epochs; a small simulated set, or for
    a real dataset one trial-mean training pair per image instead of one pair per trial."""
    options = {**cfg.dataset_options, **quick_options(cfg.dataset)}
    responses = cfg.responses if cfg.dataset == "simulated" else "mean"
    test = cfg.test_responses
    if responses == "mean" and test is None:
        test = cfg.responses
    patience = None if cfg.patience is None else min(cfg.patience, QUICK["epochs"])
    return cfg.replace(epochs=min(int(cfg.epochs), QUICK["epochs"]), dataset_options=options, responses=responses,
                       test_responses=test, patience=patience)


def study_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] = METHODS,
               seeds: Sequence[int] = STUDY_SEEDS, *, quick: bool = False, device: str = "auto",
               threads: int = 1, **overrides) -> list[RunConfig]:
    """The reproduction study's runs (module docstring), optionally restricted to some datasets, methods and
    seeds, shrunk by ``quick``, or with ``overrides`` (then they are no longer the published study)."""
    configs = []
    for d in known_datasets(datasets, STUDY_PROTOCOLS, "the study"):
        configs += _protocol_configs(d, STUDY_PROTOCOLS[d], methods, seeds, quick, device, threads, overrides)
    return configs


def before_tuning_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] = METHODS,
                       seeds: Sequence[int] = STUDY_SEEDS, **kwargs) -> list[RunConfig]:
    """The study as it ran before the validation sweep (:data:`BEFORE_TUNING`)."""
    return study_grid(datasets, methods, seeds, **{**BEFORE_TUNING, **kwargs})


def _protocol_configs(dataset: str, protocols, methods, seeds, quick: bool, device: str, threads: int,
                      overrides: dict) -> list[RunConfig]:
    """``dataset`` × protocols × methods × seeds as the study trains them (``STUDY_TRAINING``, with the
    validation sweep's choice of learning rate, weight decay and batch size: :mod:`vna.study.tuning`)."""
    table = read_tuned()
    configs = []
    seeds = check_seeds(seeds)
    for split, responses, test in protocols:
        for m in methods:
            fields = {**STUDY_TRAINING, **tuned_fields(dataset, m, split, table), **overrides}
            for s in seeds:
                cfg = RunConfig(dataset=dataset, method=m, seed=int(s), split=split, responses=responses,
                                test_responses=test, device=device, threads=threads, **fields)
                configs.append(quick_config(cfg) if quick else cfg)
    return configs


def check_seeds(seeds, what: str = "seeds") -> list[int]:
    """``seeds`` as a list of distinct non-negative integers (one integer is one seed), or a ValueError naming
    the value: text (papermill's ``seeds="12"`` is not ``[1, 2]``), booleans, negative numbers, an empty list
    and a seed named twice (it would be one run counted twice)."""
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        seeds = [seeds]
    if isinstance(seeds, (str, bytes)):
        raise ValueError(f"{what} must be a list of integers such as [0, 1, 2]; got the text {seeds!r} (as a "
                         "papermill parameter: -p seeds '[1, 2]', or -p seeds 12 for one seed)")
    try:
        items = list(seeds)
    except TypeError:
        raise ValueError(f"{what} must be a list of integers such as [0, 1, 2]; got {seeds!r}") from None
    if not items:
        raise ValueError(f"{what} is empty; name at least one seed, such as [0]")
    out = []
    for s in items:
        whole = isinstance(s, (numbers.Integral, np.integer)) and not isinstance(s, (bool, np.bool_))
        whole = whole or (isinstance(s, float) and s.is_integer())
        if not whole or int(s) < 0:
            raise ValueError(f"{what} must be non-negative integers; got {s!r} in {items!r}")
        out.append(int(s))
    twice = next((s for s in out if out.count(s) > 1), None)
    if twice is not None:
        raise ValueError(f"{what} names seed {twice} {out.count(twice)} times ({out}); a seed is one run: name it once")
    return out


def _label(protocols) -> str:
    """``held-out trials (single trials, trial means)`` for the protocols of one split."""
    by_split: dict[str, list[str]] = {}
    for split, _, test in protocols:
        by_split.setdefault(split, []).append(RESPONSE_LABELS[test])
    return "; ".join(f"{SPLIT_LABELS[s]} ({', '.join(t)})" for s, t in by_split.items())


def protocol_support(recording, *, test_fraction: float = 0.15, val_fraction: float = STUDY_TRAINING["val_fraction"]
                     ) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """``(protocols, skipped)``: the study's protocols a recording supports, and why each other one is left out
    (``{label: reason}``). Single-trial protocols need repeats on every image (at least two trials each);
    held-out trials with a validation part (``val_fraction > 0``, as the study trains) needs two training
    trials per image left after the test trials are held out, i.e. usually three recorded trials."""
    counts = np.asarray(recording.trial_counts)
    ids = recording.image_ids
    means = [("images", "mean", "mean"), ("none", "mean", "mean")]
    if recording.n_trials < 2 or (counts < 2).any():
        few = np.flatnonzero(counts < 2)
        why = ("it holds trial means (one response per image)" if recording.n_trials < 2 else
               f"{len(few)} of {len(counts)} image(s) have a single trial (e.g. image id {_py(ids[few[0]])!r})")
        rest = [p for p in _ALL_FOUR if p not in means]
        return means, {_label(rest): f"needs at least 2 recorded trials on every image; {why}"}
    supported = [p for p in _ALL_FOUR if p[0] != "trials"]
    held = np.clip(_round_half_up(test_fraction * counts), 1, counts - 1)
    left = counts - held
    if val_fraction > 0 and (left < 2).any():
        short = np.flatnonzero(left < 2)
        return supported, {_label([p for p in _ALL_FOUR if p[0] == "trials"]): (
            f"needs 2 training trials per image beside the held-out one(s), to carve a validation part out of them "
            f"(val_fraction={val_fraction:g}); {len(short)} of {len(counts)} image(s) have only "
            f"{int(counts[short[0]])} recorded trials (e.g. image id {_py(ids[short[0]])!r})")}
    return list(_ALL_FOUR), {}


def protocols_for(recording, *, test_fraction: float = 0.15,
                  val_fraction: float = STUDY_TRAINING["val_fraction"]) -> list[tuple[str, str, str]]:
    """The study's protocols a recording supports (:func:`protocol_support`)."""
    return protocol_support(recording, test_fraction=test_fraction, val_fraction=val_fraction)[0]


def folder_grid(folder: str, methods: Sequence[str] = METHODS, seeds: Sequence[int] = STUDY_SEEDS, *,
                quick: bool = False, device: str = "auto", threads: int = 1, log: Callable[[str], None] | None = None,
                **overrides) -> list[RunConfig]:
    """The study's grid on a recording folder (:func:`vna.data.from_folder` layout): the protocols it
    supports × methods × seeds. Records are keyed by the folder's content, not its path. ``log`` gets two
    lines: the recording's shape, and the protocols run and those skipped with the reason."""
    seeds = check_seeds(seeds)
    recording = from_folder(folder, **overrides.get("dataset_options", {}))
    training = {**STUDY_TRAINING, **{k: v for k, v in overrides.items() if k in STUDY_TRAINING}}
    protocols, skipped = protocol_support(recording, test_fraction=overrides.get("test_fraction", 0.15),
                                          val_fraction=training["val_fraction"])
    if log is not None:
        counts = recording.trial_counts
        log(f"{folder}: {recording.n_images} images x {recording.n_trials} trial slots ({int(counts.min())}-"
            f"{int(counts.max())} recorded per image) x {recording.n_neurons} neurons")
        log(f"protocols run: {_label(protocols)}"
            + "".join(f"; skipped: {label}: {reason}" for label, reason in skipped.items()))
    return _protocol_configs(f"folder:{folder}", protocols, methods, seeds, quick, device, threads, overrides)


def known_datasets(datasets: Sequence[str] | None, known, grid: str) -> list[str]:
    """``datasets`` (every one of ``known`` when None), or a ValueError naming those ``grid`` does not have."""
    datasets = list(known) if datasets is None else list(datasets)
    unknown = [d for d in datasets if d not in known]
    if unknown:
        raise ValueError(f"{grid} has no dataset(s) {unknown}; its datasets: {', '.join(known)}")
    return datasets


# ------------------------------------------------------------------------------------- the validation sweep
# The same small grid of training settings for every method (chosen from by vna.study.tuning): learning rate x
# weight decay x batch size, RunConfig's defaults at its centre.
TUNING_LR = (3e-4, 1e-3, 3e-3)
TUNING_WEIGHT_DECAY = (0.0, 1e-4)
TUNING_BATCH_SIZES = (32, 64, 128)
#: Every (lr, weight_decay, batch_size) of the sweep: 18 settings, RunConfig's defaults (1e-3, 0, 64) among them.
TUNING_SETTINGS = tuple(itertools.product(TUNING_LR, TUNING_WEIGHT_DECAY, TUNING_BATCH_SIZES))
#: One seed: the sweep chooses a setting; the study's five seeds then measure it.
TUNING_SEEDS = (0,)
TUNED_FIELDS = ("lr", "weight_decay", "batch_size")
#: The chosen settings, beside the records of the results folder they were chosen from.
TUNED_FILE = "tuned.csv"


def tuning_protocols(dataset: str) -> list[tuple[str, str]]:
    """The held-out trainings ``(split, training responses)`` of ``dataset`` in the study (test responses
    share a training, so they share its choice)."""
    return list(dict.fromkeys((split, resp) for split, resp, _ in STUDY_PROTOCOLS[dataset] if split != "none"))


def tuning_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None,
                seeds: Sequence[int] = TUNING_SEEDS, *, quick: bool = False, device: str = "auto", threads: int = 1,
                **overrides) -> list[RunConfig]:
    """The validation sweep: every setting of :data:`TUNING_SETTINGS` × the study's datasets × their held-out
    trainings × methods × seeds, trained as the study trains (``STUDY_TRAINING``); the test responses are the
    training ones (the choice reads the validation part only: :mod:`vna.study.tuning`)."""
    methods = list(METHODS if methods is None else methods)
    configs = []
    for d in known_datasets(datasets, STUDY_PROTOCOLS, "the sweep"):
        for (split, responses), m, s, setting in itertools.product(tuning_protocols(d), methods, seeds,
                                                                    TUNING_SETTINGS):
            fields = {**STUDY_TRAINING, **dict(zip(TUNED_FIELDS, setting)), **overrides}
            cfg = RunConfig(dataset=d, method=m, seed=int(s), split=split, responses=responses,
                            test_responses=responses, device=device, threads=threads, **fields)
            configs.append(quick_config(cfg) if quick else cfg)
    return configs


def read_tuned(results_dir=None) -> pd.DataFrame | None:
    """The sweep's choices (``tuned.csv``, written by :func:`vna.study.tuning.write_tuned`) in ``results_dir``
    (default: the published results/), or None where there is none."""
    root = published_dir() if results_dir is None else Path(results_dir)
    path = None if root is None else root / TUNED_FILE
    if path is None or not path.is_file():
        return None
    table = pd.read_csv(path)
    missing = [c for c in ["dataset", "method", "split", "responses", *TUNED_FIELDS] if c not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks the column(s) {missing}; rewrite it with `python -m vna reproduce --grid "
                         "tuning`")
    return table


def tuned_fields(dataset: str, method: str, split: str, table: pd.DataFrame | None = None) -> dict:
    """The chosen ``lr``, ``weight_decay`` and ``batch_size`` of ``dataset`` (a session of it included) ×
    ``method`` × ``split`` from ``table`` (:func:`read_tuned`'s); the in-sample diagnostic, which has no
    held-out part to tune on, takes the held-out-images choice. ``{}`` (RunConfig's defaults) for the linear
    baselines, for a dataset the sweep did not cover (a recording folder) and where no table exists."""
    if table is None or method not in METHODS:
        return {}
    split = "images" if split == "none" else split
    row = table[(table["dataset"] == dataset) & (table["method"] == method) & (table["split"] == split)]
    if row.empty:
        return {}
    r = row.iloc[0]
    return {"lr": float(r["lr"]), "weight_decay": float(r["weight_decay"]), "batch_size": int(r["batch_size"])}
