"""Training for all three methods (paper section 4.3: Adam) and saving/loading trained models."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from .data.paired import PairedData
from .models import MODELS

__all__ = ["fit", "History", "NonFiniteLossError", "resolve_device", "save", "load"]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class History(list):
    """Per-epoch records (``epoch``, ``loss``, ``seconds`` and, with ``val``, ``val_loss`` and val AUCs)."""

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given (CUDA asked but absent: error)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asked for, but torch sees no CUDA device; use device='auto' or 'cpu'")
    return dev


def _batches(n: int, batch_size: int, gen: torch.Generator) -> list[torch.Tensor]:
    """A seeded shuffle cut into batches; a last batch of one pair is dropped (BatchNorm needs two)."""
    perm = torch.randperm(n, generator=gen)
    out = list(perm.split(batch_size))
    if len(out) > 1 and len(out[-1]) < 2:
        out.pop()
    return out


def _batch_loss(model, data: PairedData, idx: torch.Tensor) -> torch.Tensor:
    m = data.match[idx]
    return model.loss(data.images[m], data.responses[idx], m)


@torch.no_grad()
def _eval_loss(model, data: PairedData, batch_size: int) -> float:
    was = model.training
    model.eval()
    try:
        idx = torch.arange(data.n_responses, device=data.match.device)
        batches = [b for b in idx.split(batch_size) if len(b) > 1]  # a contrastive batch needs two pairs
        total = sum(float(_batch_loss(model, data, b)) * len(b) for b in batches)
        return total / max(sum(len(b) for b in batches), 1)
    finally:
        model.train(was)


def fit(
    model: torch.nn.Module,
    train: PairedData,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    val: PairedData | None = None,
    weight_decay: float = 0.0,
) -> History:
    """Train ``model`` (VNA: contrastive loss; direct baselines: MSE) with Adam on ``train``.

    Data live on ``device`` as tensors for the whole run; each epoch is a seeded shuffle of all pairs in
    mini-batches of ``batch_size``. With ``val``, each epoch also records the validation loss and the
    validation encoding/decoding AUC (all distractors). Deterministic on CPU for a given ``seed``.

    Raises:
        ValueError: on a bad argument or data that do not fit the model.
        NonFiniteLossError: when the loss becomes NaN/inf (the message names epoch and batch).
    """
    from .metrics import discriminative_auc  # local: metrics imports nothing from here, but keep it light

    if not isinstance(train, PairedData):
        raise ValueError(f"train must be a PairedData; got {type(train).__name__}")
    if int(epochs) < 1 or int(batch_size) < 2 or lr <= 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 2, lr > 0; got {epochs}, {batch_size}, {lr}")
    if train.n_responses < 2:
        raise ValueError(f"train has {train.n_responses} pair(s); need at least 2")
    n_neurons = getattr(model, "init_kwargs", {}).get("n_neurons")
    if n_neurons is not None and n_neurons != train.n_neurons:
        raise ValueError(f"model expects {n_neurons} neurons but train has {train.n_neurons}")
    dev = resolve_device(device)
    model.to(dev)
    data = train.to(dev)
    val_data = val.to(dev) if val is not None else None
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    history = History()
    bar = tqdm(range(1, int(epochs) + 1), desc=f"{type(model).__name__}", disable=not progress, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        for b, idx in enumerate(_batches(data.n_responses, int(batch_size), gen)):
            idx = idx.to(dev)
            loss = _batch_loss(model, data, idx)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"{type(model).__name__}: loss became {float(loss.detach())} at epoch {epoch}, batch {b}; "
                    f"try a lower learning rate (lr={lr}) or check the data for extreme values"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        rec: dict[str, Any] = {"epoch": epoch, "loss": total / count}
        if val_data is not None:
            rec["val_loss"] = _eval_loss(model, val_data, int(batch_size))
            S = model.score(val_data.images, val_data.responses)
            for task in ("encoding", "decoding"):
                if task == "encoding" and len(torch.unique(val_data.match)) < 2:
                    continue
                rec[f"val_{task}_auc"] = discriminative_auc(S, val_data.match, task).mean
        rec["seconds"] = time.perf_counter() - t0
        history.append(rec)
        bar.set_postfix({k: f"{v:.4g}" for k, v in rec.items() if k in ("loss", "val_loss")})
    model.eval()
    return history


def save(model: torch.nn.Module, path: str | os.PathLike, config: dict | Any | None = None) -> Path:
    """Write ``model`` (class, constructor arguments, weights) and ``config`` to ``path``, atomically."""
    path = Path(path)
    name = next((k for k, cls in MODELS.items() if type(model) is cls), None)
    if name is None:
        raise ValueError(f"save() knows {sorted(MODELS)} models; got {type(model).__name__}")
    if config is not None and hasattr(config, "to_dict"):
        config = config.to_dict()
    payload = {"method": name, "init_kwargs": model.init_kwargs, "state_dict": model.state_dict(), "config": config}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> torch.nn.Module:
    """A model written by :func:`save` (read with ``weights_only=True``), in eval mode; its config is
    available as ``model.config``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved model at {path}")
    payload = torch.load(path, map_location=resolve_device(device), weights_only=True)
    try:
        cls = MODELS[payload["method"]]
    except (KeyError, TypeError):
        raise ValueError(f"{path} is not a vna model file (no known 'method' entry)") from None
    model = cls(**payload["init_kwargs"])
    model.load_state_dict(payload["state_dict"])
    model.config = payload.get("config")
    return model.to(resolve_device(device)).eval()


