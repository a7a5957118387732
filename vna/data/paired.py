"""`PairedData`: the image/response pairs every method trains and is evaluated on (paper section 4)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["PairedData"]


@dataclass
class PairedData:
    """Images, responses and which image evoked each response.

    Attributes:
        images: float tensor ``[n_images, C, H, W]``.
        responses: float tensor ``[n_responses, n_neurons]`` (one row per trial or per image mean).
        match: long tensor ``[n_responses]``; ``match[j]`` is the row of ``images`` that evoked response ``j``.
            Several responses may share one image (single trials).
        meta: free metadata (dataset name, split, seed, neuron areas, image ids, ...).

    Validates itself on construction; every error names the offending field.
    """

    images: torch.Tensor
    responses: torch.Tensor
    match: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.images = _as_tensor(self.images, "images", torch.float32)
        self.responses = _as_tensor(self.responses, "responses", torch.float32)
        self.match = _as_tensor(self.match, "match", torch.long)
        if self.images.ndim != 4:
            raise ValueError(
                f"PairedData.images must be [n_images, C, H, W]; got shape {tuple(self.images.shape)}"
            )
        if self.responses.ndim != 2:
            raise ValueError(
                f"PairedData.responses must be [n_responses, n_neurons]; got shape {tuple(self.responses.shape)}"
            )
        if self.match.ndim != 1:
            raise ValueError(f"PairedData.match must be 1-D [n_responses]; got shape {tuple(self.match.shape)}")
        if len(self.match) != len(self.responses):
            raise ValueError(
                f"PairedData length mismatch: match has {len(self.match)} entries but responses has "
                f"{len(self.responses)} rows"
            )
        if len(self.images) == 0 or len(self.responses) == 0:
            raise ValueError(
                f"PairedData is empty: {len(self.images)} images, {len(self.responses)} responses"
            )
        if self.responses.shape[1] == 0:
            raise ValueError("PairedData.responses has 0 neurons")
        for name in ("images", "responses"):
            t = getattr(self, name)
            if not torch.isfinite(t).all():
                bad = int((~torch.isfinite(t)).sum())
                raise ValueError(f"PairedData.{name} contains {bad} NaN/inf values")
        lo, hi = int(self.match.min()), int(self.match.max())
        if lo < 0 or hi >= len(self.images):
            raise ValueError(
                f"PairedData.match out of range: values span [{lo}, {hi}] but there are {len(self.images)} images"
            )
        if not isinstance(self.meta, dict):
            raise ValueError(f"PairedData.meta must be a dict; got {type(self.meta).__name__}")

    # ------------------------------------------------------------------ conveniences
    @property
    def n_images(self) -> int:
        return int(self.images.shape[0])

    @property
    def n_responses(self) -> int:
        return int(self.responses.shape[0])

    @property
    def n_neurons(self) -> int:
        return int(self.responses.shape[1])

    @property
    def in_channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def to(self, device: torch.device | str) -> "PairedData":
        """A copy with all tensors on ``device`` (metadata shared)."""
        return PairedData(self.images.to(device), self.responses.to(device), self.match.to(device), self.meta)

    def __repr__(self) -> str:
        name = self.meta.get("dataset", "?")
        return (
            f"PairedData(dataset={name!r}, images={tuple(self.images.shape)}, "
            f"responses={tuple(self.responses.shape)}, split={self.meta.get('split')!r}, "
            f"part={self.meta.get('part')!r})"
        )


def _as_tensor(x: Any, name: str, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(x)
        except Exception as exc:  # noqa: BLE001 - re-raised with the field's name
            raise ValueError(f"PairedData.{name} cannot be converted to a tensor: {exc}") from None
    if dtype == torch.long:
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            if t.is_floating_point() and torch.isfinite(t).all() and (t == t.round()).all():
                return t.long()
            raise ValueError(f"PairedData.{name} must hold integer indices; got dtype {t.dtype}")
        return t.long()
    if not (t.is_floating_point() or t.dtype in (torch.uint8, torch.int16, torch.int32, torch.int64)):
        raise ValueError(f"PairedData.{name} must be numeric; got dtype {t.dtype}")
    return t.to(dtype)
