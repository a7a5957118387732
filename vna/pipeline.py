"""One run end to end (DESIGN.md): load -> pair and split -> build model -> fit -> evaluate."""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from .config import RunConfig
from .data.paired import PairedData
from .evaluation import evaluate
from .models import build_model
from .train import History, fit, resolve_device

__all__ = ["run", "prepare", "RunOutput"]


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


def prepare(cfg: RunConfig, *, data_dir: str | os.PathLike | None = None) -> tuple[PairedData, PairedData]:
    """Load ``cfg.dataset`` and turn it into ``(train, test)`` pairs as ``cfg`` says."""
    from .data import load, to_paired

    with _data_dir(data_dir):
        recording = load(cfg.dataset, **cfg.dataset_options)
    return to_paired(
        recording,
        split=cfg.split,
        responses=cfg.responses,
        test_fraction=cfg.test_fraction,
        seed=cfg.seed,
        zscore=cfg.zscore,
        image_size=cfg.image_size,
        grey=cfg.grey,
        reliability_threshold=cfg.reliability_threshold,
    )


def run(
    cfg: RunConfig,
    *,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    data: tuple[PairedData, PairedData] | None = None,
) -> RunOutput:
    """Train and evaluate the method ``cfg.method`` on ``cfg.dataset``; ``data`` skips loading."""
    t0 = time.perf_counter()
    train, test = data if data is not None else prepare(cfg, data_dir=data_dir)
    model = build_model(cfg, train.n_neurons)
    history = fit(model, train, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
                  device=cfg.device, progress=progress, weight_decay=cfg.weight_decay)
    metrics, S = evaluate(model, test, cfg.n_distractors, cfg.seed, cfg.device, return_scores=True)
    return RunOutput(cfg, model, history, metrics, train, test, S, time.perf_counter() - t0,
                     str(resolve_device(cfg.device)))
