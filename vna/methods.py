"""The method registry: each method's name -> its class, for building, saving and loading models.

The paper's three methods (section 4: VNA, direct encoding, direct decoding) and, beside them, the linear
baselines and the trial-template reference of :mod:`vna.linear`. The registry imports the model modules;
the model modules import nothing of it, so there is no circle.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .linear import LINEAR_MODELS
from .models import VNA, DirectDecoder, DirectEncoder, _Model
from .train import resolve_device

__all__ = ["MODELS", "LINEAR_MODELS", "METHODS", "LINEAR_METHODS", "REFERENCE_METHODS", "ALL_METHODS",
           "build_model", "save", "load"]

#: The paper's three methods (section 4), trained by :func:`vna.train.fit` and saved by :func:`save`.
MODELS = {"vna": VNA, "direct_encoder": DirectEncoder, "direct_decoder": DirectDecoder}

METHODS = tuple(MODELS)
#: Linear baselines beside them and a data-only reference (the analyses chapter; vna.linear).
LINEAR_METHODS = ("ridge_encoder", "ridge_decoder", "cca")
REFERENCE_METHODS = ("trial_template",)
ALL_METHODS = METHODS + LINEAR_METHODS + REFERENCE_METHODS
assert set(LINEAR_METHODS + REFERENCE_METHODS) == set(LINEAR_MODELS)


def build_model(cfg, n_neurons: int) -> _Model:
    """The model ``cfg.method`` names, initialised deterministically from ``cfg.seed`` (the linear
    baselines and the trial template of :mod:`vna.linear` included)."""
    if cfg.method in LINEAR_MODELS:
        return LINEAR_MODELS[cfg.method](n_neurons, cfg.in_channels, cfg.image_size, seed=cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.method == "vna":
        return VNA(n_neurons, cfg.in_channels, cfg.latent_dim, cfg.temperature, cfg.learn_temperature, cfg.image_size)
    if cfg.method in MODELS:
        return MODELS[cfg.method](n_neurons, cfg.in_channels, cfg.image_size)
    raise ValueError(f"unknown method {cfg.method!r}; known: {sorted(MODELS) + sorted(LINEAR_MODELS)}")


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
                         "expected a file written by vna.methods.save)") from None
    try:
        cls = MODELS[payload["method"]]
        model = cls(**payload["init_kwargs"])
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise ValueError(f"{path} is not a vna model file ({type(exc).__name__}: {exc})"[:300]) from None
    model.config = payload.get("config")
    return model.to(resolve_device(device)).eval()


