"""A small planted problem: images and responses both driven by a hidden 4-D stimulus latent."""
from __future__ import annotations

import torch

from vna.data import PairedData


def planted(n_images: int = 80, n_trials: int = 4, n_neurons: int = 24, noise: float = 0.3, seed: int = 0,
            image_offset: int = 0) -> PairedData:
    """Gaussian-blob images (position, width, contrast from a latent z) and responses tanh(A z) + noise.

    ``image_offset`` draws a disjoint set of stimuli from the same population (held-out test images).
    """
    g = torch.Generator().manual_seed(1234)  # the population (A) is fixed; stimuli depend on seed
    A = torch.randn(4, n_neurons, generator=g)
    gs = torch.Generator().manual_seed(seed * 1000 + image_offset + 1)
    z = torch.rand(n_images, 4, generator=gs) * 2 - 1
    ax = torch.linspace(-1, 1, 64)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    cx, cy = 0.6 * z[:, 0, None, None], 0.6 * z[:, 1, None, None]
    width = 0.25 + 0.1 * z[:, 2, None, None]
    contrast = 0.6 + 0.35 * z[:, 3, None, None]
    images = (contrast * torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * width**2)))[:, None]
    match = torch.arange(n_images).repeat_interleave(n_trials)
    responses = torch.tanh(z @ A)[match] + noise * torch.randn(len(match), n_neurons, generator=gs)
    return PairedData(images, responses, match, {"dataset": "planted"})
