"""Training for all three methods (paper section 4.3: Adam) and saving/loading trained models."""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from .data.paired import PairedData
from .models import MODELS

__all__ = ["fit", "History", "TrainingDivergedError", "NonFiniteLossError", "CollapsedEmbeddingError",
           "resolve_device", "check_lr", "save", "load", "StepPlan", "plan_steps", "PRECISIONS"]

#: ``fit(precision=...)``: ``"fp32"`` (default; what every record so far used) or ``"bf16"`` (autocast).
PRECISIONS = ("fp32", "bf16")

#: Full-size training steps run eagerly (on a side stream) before the CUDA graph is captured: they are
#: real steps of the run, and they create Adam's state and warm up cuDNN/cuBLAS before capture.
CUDA_GRAPH_WARMUP = 3


class TrainingDivergedError(RuntimeError):
    """Training went wrong in a way no later epoch can repair (the message names the epoch)."""


class NonFiniteLossError(TrainingDivergedError, FloatingPointError):
    """The training loss became NaN or infinite (the message names the epoch and the first bad batch)."""


class CollapsedEmbeddingError(TrainingDivergedError):
    """Every input maps to one embedding: a contrastive model that diverged (the message names the epoch)."""


class History(list):
    """Per-epoch records (``epoch``, ``loss``, ``seconds`` and, with ``val``, ``val_loss`` and val AUCs).

    ``best_epoch``: the epoch whose weights the model holds at the end (the last one without early stopping).
    """

    best_epoch: int | None = None

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given (CUDA asked but absent: error)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a device torch knows ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asked for, but torch sees no CUDA device; use device='auto' or 'cpu'")
    return dev


def check_lr(lr) -> float:
    """``lr`` as a float, or a ValueError naming it: Adam moves each weight by about ``lr`` per step, so a
    value above 1 can only diverge (1e12 trains to chance, 1e38 overflows float32)."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 1:
        raise ValueError(f"lr must be a finite number in (0, 1]; got {lr!r}")
    return float(lr)


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


def _validate_epoch(model, val: PairedData, batch_size: int) -> dict[str, float]:
    """Validation loss and encoding/decoding AUC (all distractors) and their mean, in eval mode."""
    from .metrics import discriminative_auc  # local: keep `import vna.train` light

    rec = {"val_loss": model.eval_loss(val.images, val.responses, val.match, batch_size)}
    S = model.score(val.images, val.responses)
    aucs = []
    for task in ("encoding", "decoding"):
        if task == "encoding" and len(torch.unique(val.match)) < 2:
            continue
        rec[f"val_{task}_auc"] = discriminative_auc(S, val.match, task).mean
        aucs.append(rec[f"val_{task}_auc"])
    rec["val_mean_auc"] = sum(aucs) / len(aucs)
    return rec


def _int_arg(name: str, value, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {value!r}")
    return value


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
    patience: int | None = None,
) -> History:
    """Train ``model`` (VNA: contrastive loss; direct baselines: MSE) with Adam on ``train``.

    Data live on ``device`` as tensors for the whole run; each epoch is a seeded shuffle of all pairs in
    mini-batches of ``batch_size``. The batch loop never waits for the device: losses are kept on it and
    checked once per epoch (a non-finite one is then reported with its batch). With ``val``, each epoch
    also records the validation loss and encoding/decoding AUC (all distractors) and their mean; with
    ``patience``, training stops after that many epochs without a better validation mean AUC, and the
    model keeps the weights of its best epoch (``History.best_epoch``). Deterministic on CPU for a seed.

    Raises:
        ValueError: on a bad argument or data that do not fit the model (the message names which).
        NonFiniteLossError: the loss became NaN/inf (the message names epoch and batch).
        CollapsedEmbeddingError: a contrastive model maps every input to one point (names the epoch).
    """
    if not isinstance(train, PairedData):
        raise ValueError(f"train must be a PairedData; got {type(train).__name__}")
    if val is not None and not isinstance(val, PairedData):
        raise ValueError(f"val must be a PairedData or None; got {type(val).__name__}")
    epochs = _int_arg("epochs", epochs, 1)
    batch_size = _int_arg("batch_size", batch_size, 2)
    lr = check_lr(lr)
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not 0 <= weight_decay <= 1:
        raise ValueError(f"weight_decay must be a number in [0, 1]; got {weight_decay!r}")
    if patience is not None:
        patience = _int_arg("patience", patience, 1)
        if val is None:
            raise ValueError("patience (early stopping) needs validation pairs: pass val=")
    if train.n_responses < 2:
        raise ValueError(f"train has {train.n_responses} pair(s); need at least 2")
    if hasattr(model, "check_pairs"):
        model.check_pairs(train, "train")
        if val is not None:
            model.check_pairs(val, "val")
    dev = resolve_device(device)
    model.to(dev)
    data = train.to(dev)
    val_data = val.to(dev) if val is not None else None
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **({"fused": True} if dev.type == "cuda" else {}))
    probe = torch.randperm(data.n_responses, generator=torch.Generator().manual_seed(seed))[:256].to(dev)
    history = History()
    best, best_state, since_best = -math.inf, None, 0
    name = type(model).__name__
    bar = tqdm(range(1, epochs + 1), desc=name, disable=not progress, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        batches = _batches(data.n_responses, batch_size, gen)
        losses = torch.empty(len(batches), device=dev)
        sizes = torch.tensor([len(b) for b in batches], dtype=losses.dtype, device=dev)
        for b, idx in enumerate(batches):
            loss = _batch_loss(model, data, idx.to(dev, non_blocking=True))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses[b] = loss.detach()
        finite = torch.isfinite(losses)
        if not bool(finite.all()):  # the one host synchronisation of the epoch
            first = int((~finite).nonzero()[0])
            raise NonFiniteLossError(
                f"{name}: loss became {float(losses[first])} at epoch {epoch}, batch {first}; try a lower "
                f"learning rate (lr={lr}) or check the data for extreme values"
            )
        rec: dict[str, Any] = {"epoch": epoch, "loss": float((losses * sizes).sum() / sizes.sum())}
        if hasattr(model, "collapsed"):
            m = data.match[probe]
            which = model.collapsed(data.images[m], data.responses[probe])
            if which is not None:
                raise CollapsedEmbeddingError(
                    f"{name}: every {which} maps to one embedding after epoch {epoch} (training diverged; "
                    f"the loss is stuck at {rec['loss']:.4g}); try a lower learning rate (lr={lr})"
                )
        if val_data is not None:
            rec.update(_validate_epoch(model, val_data, batch_size))
            if rec["val_mean_auc"] > best:
                best, since_best, history.best_epoch = rec["val_mean_auc"], 0, epoch
                if patience is not None:
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                since_best += 1
        rec["seconds"] = time.perf_counter() - t0
        history.append(rec)
        bar.set_postfix({k: f"{v:.4g}" for k, v in rec.items() if k in ("loss", "val_loss", "val_mean_auc")})
        if patience is not None and since_best >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        history.best_epoch = history[-1]["epoch"]
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
    try:
        payload = torch.load(path, map_location=resolve_device(device), weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle/zip/unpickler errors all mean "not a model file"
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path} is not a vna model file (torch.load could not read it: {type(exc).__name__} {first}; "
                         "expected a file written by vna.train.save)") from None
    try:
        cls = MODELS[payload["method"]]
        model = cls(**payload["init_kwargs"])
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise ValueError(f"{path} is not a vna model file ({type(exc).__name__}: {exc})"[:300]) from None
    model.config = payload.get("config")
    return model.to(resolve_device(device)).eval()


