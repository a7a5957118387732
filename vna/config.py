"""`RunConfig`: every hyperparameter of one run, with its default (issue "Foundation").

The paper's text lost most of its settings (shared/paper/NOTES.md); each default below says what we chose.
A notebook's ``parameters`` cell maps onto these fields one to one.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunConfig", "METHODS"]

METHODS = ("vna", "direct_encoder", "direct_decoder")


@dataclass
class RunConfig:
    """One run: dataset, preprocessing, model, training and evaluation settings.

    Defaults: ``latent_dim=128``, ``batch_size=64``, ``lr=1e-3`` (Adam), ``temperature=0.07`` (CLIP's
    initial value, learnable), ``image_size=64`` (forced by five stride-2 convolutions ending at 2x2,
    paper section 3.1), ``n_distractors=None`` (every eligible distractor in the test set; the paper's K
    was lost), split by images with 15 % test images.
    """

    dataset: str = "simulated"
    method: str = "vna"
    split: str = "images"  # "images" | "trials"
    responses: str = "trials"  # "trials" | "mean"
    test_fraction: float = 0.15
    zscore: bool = True
    reliability_threshold: float | None = None
    image_size: int = 64
    grey: bool = True
    latent_dim: int = 128
    temperature: float = 0.07
    learn_temperature: bool = True
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    n_distractors: int | None = None
    seed: int = 0
    device: str = "auto"
    dataset_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"RunConfig.method must be one of {METHODS}; got {self.method!r}")
        if self.split not in ("images", "trials"):
            raise ValueError(f"RunConfig.split must be 'images' or 'trials'; got {self.split!r}")
        if self.responses not in ("trials", "mean"):
            raise ValueError(f"RunConfig.responses must be 'trials' or 'mean'; got {self.responses!r}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"RunConfig.test_fraction must be in (0, 1); got {self.test_fraction}")
        for name in ("epochs", "batch_size", "latent_dim", "image_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"RunConfig.{name} must be >= 1; got {getattr(self, name)}")
        if self.image_size % 32:
            raise ValueError(f"RunConfig.image_size must be a multiple of 32; got {self.image_size}")
        if self.lr <= 0:
            raise ValueError(f"RunConfig.lr must be > 0; got {self.lr}")
        if self.temperature <= 0:
            raise ValueError(f"RunConfig.temperature must be > 0; got {self.temperature}")
        if self.n_distractors is not None and int(self.n_distractors) < 1:
            raise ValueError(f"RunConfig.n_distractors must be None or >= 1; got {self.n_distractors}")

    @property
    def in_channels(self) -> int:
        return 1 if self.grey else 3

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"RunConfig got unknown field(s) {sorted(unknown)}")
        return cls(**d)

    def replace(self, **changes: Any) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A short stable hash of every field except ``device`` (results are keyed by it)."""
        d = self.to_dict()
        d.pop("device")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]
