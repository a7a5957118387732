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

from typing import Sequence

from ..data.user import from_folder
from ..methods import ALL_METHODS, METHODS
from .config import RunConfig

__all__ = [
    "STUDY_SEEDS", "STUDY_TRAINING", "STUDY_PROTOCOLS", "QUICK", "QUICK_SIMULATED_OPTIONS",
    "study_grid", "folder_grid", "protocols_for", "quick_config", "quick_options",
]

STUDY_SEEDS = (0, 1, 2, 3, 4)

#: Training of every study run: at most 50 epochs; 10 % of the training data (images or trials, as the
#: protocol holds out) validate each epoch; training stops 8 epochs after the best validation mean AUC and
#: keeps that epoch's weights. The published records were trained in PyTorch's contiguous layout, before the
#: faster channels-last layout became the default of ``fit`` and ``RunConfig``; the study keeps it until the
#: published grids are rerun, so that its configs stay the records' configs.
STUDY_TRAINING = {"epochs": 50, "val_fraction": 0.1, "patience": 8, "memory_format": "contiguous"}

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
    datasets = list(STUDY_PROTOCOLS) if datasets is None else list(datasets)
    unknown = [d for d in datasets if d not in STUDY_PROTOCOLS]
    if unknown:
        raise ValueError(f"the study has no dataset(s) {unknown}; its datasets: {', '.join(STUDY_PROTOCOLS)}")
    _check_methods(methods)
    configs = []
    for d in datasets:
        configs += _protocol_configs(d, STUDY_PROTOCOLS[d], methods, seeds, quick, device, threads, overrides)
    return configs


def _protocol_configs(dataset: str, protocols, methods, seeds, quick: bool, device: str, threads: int,
                      overrides: dict) -> list[RunConfig]:
    """``dataset`` × protocols × methods × seeds as the study trains them (``STUDY_TRAINING``)."""
    configs = []
    for split, responses, test in protocols:
        for m in methods:
            for s in seeds:
                cfg = RunConfig(dataset=dataset, method=m, seed=int(s), split=split, responses=responses,
                                test_responses=test, device=device, threads=threads, **{**STUDY_TRAINING, **overrides})
                configs.append(quick_config(cfg) if quick else cfg)
    return configs


def protocols_for(recording) -> list[tuple[str, str, str]]:
    """The study's protocols a recording supports: all of them with repeats on every image (at least two
    trials each), else held-out images and in-sample on trial means."""
    if recording.n_trials >= 2 and (recording.trial_counts >= 2).all():
        return list(_ALL_FOUR)
    return [("images", "mean", "mean"), ("none", "mean", "mean")]


def folder_grid(folder: str, methods: Sequence[str] = METHODS, seeds: Sequence[int] = STUDY_SEEDS, *,
                quick: bool = False, device: str = "auto", threads: int = 1, **overrides) -> list[RunConfig]:
    """The study's grid on a recording folder (:func:`vna.data.from_folder` layout): the protocols it
    supports × methods × seeds. Records are keyed by the folder's content, not its path."""
    _check_methods(methods)
    recording = from_folder(folder, **overrides.get("dataset_options", {}))
    return _protocol_configs(f"folder:{folder}", protocols_for(recording), methods, seeds, quick, device, threads,
                             overrides)


def _check_methods(methods: Sequence[str]) -> None:
    bad = [m for m in methods if m not in ALL_METHODS]
    if bad:
        raise ValueError(f"unknown method(s) {bad}; known: {', '.join(ALL_METHODS)}")
