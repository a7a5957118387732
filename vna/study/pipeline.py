"""One run end to end: load -> pair and split -> build model -> fit -> evaluate.

:func:`prepare` turns a config (and optionally a :class:`~vna.data.Recording` already in memory) into its
train / validation / test pairs; :func:`run` trains and evaluates one config; :func:`run_shared` trains once
for several configs that differ only in how they are evaluated (:meth:`RunConfig.training_key`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from ..data import load
from ..data.paired import PairedData
from ..data.preprocess import PairedParts, paired_parts
from ..data.recording import Recording
from ..data.user import CONTENT_KEY
from ..evaluation import Evaluation, evaluate_scores
from ..methods import build_model
from ..scoring import DEFAULT_SCORE, SCORES, rule_matrices
from ..train import History, fit, resolve_device
from .config import RunConfig

__all__ = ["run", "run_shared", "prepare", "load_recording", "RunOutput", "torch_threads"]


@dataclass
class RunOutput:
    config: RunConfig
    model: torch.nn.Module
    history: History
    metrics: dict[str, float]
    train: PairedData
    test: PairedData
    scores: torch.Tensor  # S [n_test_images, n_test_responses]
    seconds: float
    device: str
    per_instance: dict[str, np.ndarray] = field(default_factory=dict)  # task -> AUC per test instance
    val: PairedData | None = None
    train_seconds: float = 0.0
    shared_training: bool = False  # True when this output reused another config's trained model
    by_score: dict[str, Evaluation] = field(default_factory=dict)  # rule -> evaluation (vna.scoring), paper first
    content: str | None = None  # a recording folder's content hash as this run read it (its record is keyed by it)


@contextlib.contextmanager
def _data_dir(path: str | os.PathLike | None) -> Iterator[None]:
    """Point ``VNA_DATA_DIR`` at ``path`` for the duration (no change when ``None``)."""
    if path is None:
        yield
        return
    old = os.environ.get("VNA_DATA_DIR")
    os.environ["VNA_DATA_DIR"] = str(Path(path).expanduser())
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("VNA_DATA_DIR", None)
        else:
            os.environ["VNA_DATA_DIR"] = old


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` PyTorch CPU threads, then restore the previous count."""
    old = torch.get_num_threads()
    if n != old:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)


def load_recording(cfg: RunConfig, *, data_dir: str | os.PathLike | None = None) -> Recording:
    """The recording ``cfg.dataset`` names, with ``cfg.dataset_options``."""
    with _data_dir(data_dir):
        return load(cfg.dataset, **cfg.dataset_options)


#: PairedData meta entry -> RunConfig field that must agree when pre-split data are passed to `run`.
_SPLIT_FIELDS = {"split": "split", "seed": "seed", "test_fraction": "test_fraction", "image_size": "image_size",
                 "grey": "grey", "zscore": "zscore", "responses": "responses", "test_responses": "eval_responses",
                 "val_fraction": "val_fraction", "train_image_fraction": "train_image_fraction",
                 "train_trials": "train_trials", "neuron_fraction": "neuron_fraction"}


def _check_presplit(cfg: RunConfig, parts: PairedParts) -> None:
    """Refuse pre-split data whose preprocessing differs from ``cfg`` (naming the field)."""
    meta = parts.train.meta
    for key, attr in _SPLIT_FIELDS.items():
        if key in meta and meta[key] != getattr(cfg, attr):
            raise ValueError(
                f"the data passed to run() were prepared with {key}={meta[key]!r} but the config says "
                f"{attr}={getattr(cfg, attr)!r}; pass the Recording instead (run(cfg, recording=...)) so that "
                "the config's preprocessing is applied, or make the config match"
            )
    if (parts.val is None) != (cfg.val_fraction == 0):
        raise ValueError(f"the data passed to run() {'lack' if parts.val is None else 'have'} a validation part "
                         f"but the config says val_fraction={cfg.val_fraction}")


def prepare(cfg: RunConfig, *, data_dir: str | os.PathLike | None = None,
            recording: Recording | None = None) -> PairedParts:
    """``(train, test, val)`` pairs of ``cfg``: its dataset (or ``recording``) through its preprocessing
    (split, training and test responses, validation part, z-scoring, image size, colour, neuron filter)."""
    if recording is None:
        recording = load_recording(cfg, data_dir=data_dir)
    elif not isinstance(recording, Recording):
        raise ValueError(f"recording must be a vna.data.Recording; got {type(recording).__name__}")
    parts = paired_parts(
        recording, split=cfg.split, responses=cfg.responses, test_fraction=cfg.test_fraction, seed=cfg.seed,
        zscore=cfg.zscore, image_size=cfg.image_size, grey=cfg.grey,
        reliability_threshold=cfg.reliability_threshold, test_responses=cfg.eval_responses,
        val_fraction=cfg.val_fraction, train_image_fraction=cfg.train_image_fraction,
        train_trials=cfg.train_trials, neuron_fraction=cfg.neuron_fraction,
    )
    return shuffle_pairs(parts, cfg.seed) if cfg.shuffle_pairs else parts


def shuffle_pairs(parts: PairedParts, seed: int) -> PairedParts:
    """The shuffled-pairing control (``RunConfig.shuffle_pairs``): the training and validation responses
    assigned to their images by one seeded permutation each (how many responses each image has is kept);
    the test pairs stay true."""
    gen = torch.Generator().manual_seed(int(seed) + 7919)

    def shuffled(p: PairedData | None) -> PairedData | None:
        if p is None:
            return None
        perm = torch.randperm(len(p.match), generator=gen)
        return dataclasses.replace(p, match=p.match[perm], meta={**p.meta, "shuffled_pairs": True})

    return PairedParts(shuffled(parts.train), parts.test, shuffled(parts.val))


def run(
    cfg: RunConfig,
    *,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    data: PairedParts | tuple | None = None,
    recording: Recording | None = None,
) -> RunOutput:
    """Train and evaluate the method ``cfg.method`` on ``cfg.dataset`` (or on ``recording``, prepared as
    ``cfg`` says). ``data``: pairs already prepared with this config's settings (checked against it)."""
    return run_shared([cfg], data_dir=data_dir, progress=progress, data=data, recording=recording)[0]


def run_shared(
    configs: Sequence[RunConfig],
    *,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    data: PairedParts | tuple | None = None,
    recording: Recording | None = None,
) -> list[RunOutput]:
    """Train once and evaluate every config of ``configs`` (they must share one training key)."""
    configs = list(configs)
    if not configs:
        raise ValueError("run_shared needs at least one RunConfig")
    for c in configs:
        if not isinstance(c, RunConfig):
            raise ValueError(f"expected a vna.RunConfig; got {type(c).__name__}")
    cfg = configs[0]
    if any(c.training_key() != cfg.training_key() for c in configs):
        raise ValueError("run_shared: the configs differ in more than their evaluation settings")
    with torch_threads(cfg.threads):
        t0 = time.perf_counter()
        content = None
        if data is not None:
            parts = data if isinstance(data, PairedParts) else PairedParts(*data)
            _check_presplit(cfg, parts)
            tests = {cfg.eval_responses: parts.test}
        else:
            if recording is None:
                recording = load_recording(cfg, data_dir=data_dir)
            content = recording.meta.get(CONTENT_KEY)
            parts = prepare(cfg, recording=recording)
            tests = {cfg.eval_responses: parts.test}
            for c in configs[1:]:
                if c.eval_responses not in tests:
                    tests[c.eval_responses] = prepare(c, recording=recording).test
        model = build_model(cfg, parts.train.n_neurons)
        if hasattr(model, "fit_pairs"):  # the linear baselines (vna.linear): closed form, CPU
            from threadpoolctl import threadpool_limits

            with threadpool_limits(cfg.threads):
                history = History(model.fit_pairs(parts.train, val=parts.val))
            history.best_epoch = 1
            dev = torch.device("cpu")
        else:
            history = fit(model, parts.train, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                          seed=cfg.seed, device=cfg.device, progress=progress, weight_decay=cfg.weight_decay,
                          val=parts.val, patience=cfg.patience, precision=cfg.precision,
                          memory_format=cfg.memory_format)
            dev = resolve_device(cfg.device)
        train_seconds = time.perf_counter() - t0
        outputs = []
        for k, c in enumerate(configs):
            t1 = time.perf_counter()
            if c.eval_responses not in tests:
                raise ValueError(f"no test pairs with test_responses={c.eval_responses!r} for pre-split data")
            test = tests[c.eval_responses]
            model.check_pairs(test, "test")
            matrices = rule_matrices(model, test.images.to(dev), test.responses.to(dev), SCORES)
            evs = {rule: evaluate_scores(S, test.match, c.n_distractors, c.seed) for rule, S in matrices.items()}
            ev = evs[DEFAULT_SCORE]
            seconds = (train_seconds if k == 0 else 0.0) + time.perf_counter() - t1
            outputs.append(RunOutput(c, model, history, ev.metrics, parts.train, test, ev.scores, seconds, str(dev),
                                     ev.per_instance, parts.val, train_seconds, k > 0, evs, content))
    return outputs
