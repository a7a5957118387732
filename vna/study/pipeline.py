"""One run end to end: load -> pair and split -> build model -> fit -> evaluate -> its record.

:func:`prepare` turns a config (and optionally a :class:`~vna.data.Recording` already in memory) into its
train / validation / test pairs; :func:`run` trains and evaluates one config and returns its
:class:`~vna.study.record.RunRecord`; :func:`run_shared` trains once for several configs that differ only in how
they are evaluated (:meth:`RunConfig.training_key`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from pathlib import Path
from typing import Iterator, Sequence

import torch

from ..data import load
from ..data.paired import PairedData
from ..data.preprocess import PairedParts, paired_parts
from ..data.recording import Recording
from ..data.user import CONTENT_KEY
from ..evaluation import evaluate_scores
from ..methods import build_model
from ..scoring import SCORES, rule_matrices
from ..train import History, fit, resolve_device
from .config import FIT_FIELDS, PREPARE_FIELDS, RunConfig
from .record import RunRecord

__all__ = ["run", "run_shared", "prepare", "check_presplit", "load_recording", "torch_threads"]


@contextlib.contextmanager
def environment(**values: str | os.PathLike | None) -> Iterator[None]:
    """Set the environment variables ``values`` for the duration (``None``: leave one as it is), then restore
    them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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
    with environment(VNA_DATA_DIR=None if data_dir is None else Path(data_dir).expanduser()):
        return load(cfg.dataset, **cfg.dataset_options)


def check_presplit(cfg: RunConfig, parts: PairedParts) -> None:
    """Refuse pairs whose preprocessing (as their ``meta`` records it) differs from ``cfg``'s, naming the field."""
    meta = parts.train.meta
    for key, want in cfg.arguments(PREPARE_FIELDS).items():
        if key in meta and meta[key] != want:
            raise ValueError(
                f"the data passed to run() were prepared with {key}={meta[key]!r} but the config says "
                f"{key}={want!r}; pass the Recording instead (run(cfg, recording=...)) so that "
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
    parts = paired_parts(recording, **cfg.arguments(PREPARE_FIELDS))
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
) -> RunRecord:
    """Train and evaluate the method ``cfg.method`` on ``cfg.dataset`` (or on ``recording``, prepared as
    ``cfg`` says): its record, with the trained model, the pairs and the score matrix in memory. ``data``: pairs
    already prepared with this config's settings (checked against it)."""
    return run_shared([cfg], data_dir=data_dir, progress=progress, data=data, recording=recording)[0]


def run_shared(
    configs: Sequence[RunConfig],
    *,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    data: PairedParts | tuple | None = None,
    recording: Recording | None = None,
) -> list[RunRecord]:
    """Train once and evaluate every config of ``configs`` (they must share one training key); a record each,
    keyed by the recording content the run read."""
    configs = list(configs)
    if not configs:
        raise ValueError("run_shared needs at least one RunConfig")
    if not all(isinstance(c, RunConfig) for c in configs):
        raise ValueError(f"run_shared needs RunConfigs; got {sorted({type(c).__name__ for c in configs})}")
    cfg = configs[0]
    if any(c.training_key() != cfg.training_key() for c in configs):
        raise ValueError("run_shared: the configs differ in more than their evaluation settings")
    with torch_threads(cfg.threads):
        t0 = time.perf_counter()
        if data is not None:
            parts = data if isinstance(data, PairedParts) else PairedParts(*data)
            check_presplit(cfg, parts)
            tests = {cfg.eval_responses: parts.test}
        else:
            if recording is None:
                recording = load_recording(cfg, data_dir=data_dir)
            if recording.meta.get(CONTENT_KEY):  # a recording folder: its records are keyed by what it held
                configs = [c.with_content(recording.meta[CONTENT_KEY]) for c in configs]
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
            history = fit(model, parts.train, val=parts.val, progress=progress, **cfg.arguments(FIT_FIELDS))
            dev = resolve_device(cfg.device)
        train_seconds = time.perf_counter() - t0
        records = []
        for k, c in enumerate(configs):
            t1 = time.perf_counter()
            if c.eval_responses not in tests:
                raise ValueError(f"no test pairs with test_responses={c.eval_responses!r} for pre-split data")
            test = tests[c.eval_responses]
            model.check_pairs(test, "test")
            matrices = rule_matrices(model, test.images.to(dev), test.responses.to(dev), SCORES)
            evs = {rule: evaluate_scores(S, test.match, c.n_distractors, c.seed) for rule, S in matrices.items()}
            seconds = (train_seconds if k == 0 else 0.0) + time.perf_counter() - t1
            records.append(RunRecord.from_run(c, evs, PairedParts(parts.train, test, parts.val), history,
                                              seconds=seconds, device=str(dev), train_seconds=train_seconds,
                                              shared_training=k > 0, model=model))
    return records
