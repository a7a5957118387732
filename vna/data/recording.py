"""`Recording`: what an experiment gives, before any preprocessing."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Recording", "MAX_RESPONSE"]

#: Largest magnitude a response may have: beyond it, squares overflow and z-scoring silently gives zeros.
MAX_RESPONSE = 1e12


@dataclass
class Recording:
    """Images, trial-level responses and neuron metadata of one experiment.

    Attributes:
        images: ``[n_images, H, W]`` (grey) or ``[n_images, H, W, 3]`` (RGB), ``uint8`` or float, any size.
        responses: float ``[n_images, n_trials, n_neurons]``; a trial slot an image did not get is NaN
            (for every neuron). Trial means only: ``n_trials == 1``.
        neurons: one row per neuron with at least the columns ``id`` and ``area``.
        image_ids: one identifier per image (defaults to ``0 .. n_images-1``).
        meta: free provenance: ``name``, ``units``, ``source`` (URL), ``commit``, ``citation``, ``license``,
            ``simulated`` (bool), ...
    """

    images: np.ndarray
    responses: np.ndarray
    neurons: pd.DataFrame | None = None
    image_ids: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
            raise ValueError(
                "Recording.images must be [n_images, H, W] or [n_images, H, W, 3]; "
                f"got shape {images.shape}"
            )
        if not (np.issubdtype(images.dtype, np.floating) or np.issubdtype(images.dtype, np.integer)):
            raise ValueError(f"Recording.images must be uint8 or float; got dtype {images.dtype}")
        if np.issubdtype(images.dtype, np.floating) and not np.isfinite(images).all():
            raise ValueError(f"Recording.images contains {int((~np.isfinite(images)).sum())} NaN/inf values")
        responses = np.asarray(self.responses, dtype=np.float64)
        if responses.ndim == 2:
            raise ValueError(
                f"Recording.responses must be [n_images, n_trials, n_neurons]; got 2-D shape {responses.shape}. "
                "For trial means, add a trial axis: responses[:, None, :]"
            )
        if responses.ndim != 3:
            raise ValueError(
                f"Recording.responses must be [n_images, n_trials, n_neurons]; got shape {responses.shape}"
            )
        if responses.shape[0] != images.shape[0]:
            raise ValueError(
                f"Recording length mismatch: {images.shape[0]} images but responses has "
                f"{responses.shape[0]} rows (axis 0 must be images)"
            )
        if min(responses.shape) == 0:
            raise ValueError(f"Recording.responses is empty: shape {responses.shape}")
        if np.isinf(responses).any():
            raise ValueError(f"Recording.responses contains {int(np.isinf(responses).sum())} inf values")
        biggest = float(np.nanmax(np.abs(responses))) if not np.isnan(responses).all() else 0.0
        if biggest > MAX_RESPONSE:
            raise ValueError(
                f"Recording.responses reach {biggest:.3g}: values beyond {MAX_RESPONSE:.0e} are not spike counts, "
                "rates or dF/F and would be z-scored into zeros; rescale them (e.g. divide by a constant) first"
            )
        has_trial = ~np.isnan(responses).all(axis=2)  # [I, T]
        empty = np.flatnonzero(~has_trial.any(axis=1))
        if len(empty):
            raise ValueError(
                f"Recording.responses: {len(empty)} image(s) have no trial at all (all NaN), e.g. image "
                f"index {int(empty[0])}"
            )
        n_neurons = responses.shape[2]
        if self.neurons is None:
            neurons = pd.DataFrame({"id": np.arange(n_neurons).astype(str), "area": "unknown"})
        else:
            neurons = pd.DataFrame(self.neurons).reset_index(drop=True)
            missing = {"id", "area"} - set(neurons.columns)
            if missing:
                raise ValueError(f"Recording.neurons lacks column(s) {sorted(missing)}")
            if len(neurons) != n_neurons:
                raise ValueError(
                    f"Recording.neurons has {len(neurons)} rows but responses has {n_neurons} neurons"
                )
        image_ids = np.arange(images.shape[0]) if self.image_ids is None else np.asarray(self.image_ids)
        if image_ids.shape != (images.shape[0],):
            raise ValueError(
                f"Recording.image_ids must have one entry per image ({images.shape[0]}); got shape {image_ids.shape}"
            )
        if not isinstance(self.meta, dict):
            raise ValueError(f"Recording.meta must be a dict; got {type(self.meta).__name__}")
        self.images, self.responses, self.neurons, self.image_ids = images, responses, neurons, image_ids

    # ------------------------------------------------------------------ conveniences
    @property
    def name(self) -> str:
        return str(self.meta.get("name", "recording"))

    @property
    def n_images(self) -> int:
        return int(self.responses.shape[0])

    @property
    def n_trials(self) -> int:
        """Trial slots per image (some may be NaN)."""
        return int(self.responses.shape[1])

    @property
    def n_neurons(self) -> int:
        return int(self.responses.shape[2])

    @property
    def trial_mask(self) -> np.ndarray:
        """``[n_images, n_trials]`` bool: True where the trial slot holds a recorded trial."""
        return ~np.isnan(self.responses).all(axis=2)

    @property
    def trial_counts(self) -> np.ndarray:
        """Recorded trials per image."""
        return self.trial_mask.sum(axis=1)

    def mean_responses(self) -> np.ndarray:
        """``[n_images, n_neurons]``: the mean over recorded trials."""
        return np.nanmean(self.responses, axis=1)

    def select_neurons(self, keep: np.ndarray) -> "Recording":
        """A new Recording with only the neurons where ``keep`` (bool mask or indices) selects."""
        keep = np.asarray(keep)
        idx = np.flatnonzero(keep) if keep.dtype == bool else keep
        if len(idx) == 0:
            raise ValueError(f"select_neurons would keep no neuron of {self.n_neurons} ({self.name})")
        return Recording(
            self.images,
            self.responses[:, :, idx],
            self.neurons.iloc[idx].reset_index(drop=True),
            self.image_ids,
            dict(self.meta),
        )

    def __repr__(self) -> str:
        return (
            f"Recording({self.name!r}: {self.n_images} images {self.images.shape[1:]}, "
            f"{self.n_trials} trial slots ({int(self.trial_counts.min())}-{int(self.trial_counts.max())} "
            f"recorded), {self.n_neurons} neurons{', SIMULATED' if self.meta.get('simulated') else ''})"
        )
