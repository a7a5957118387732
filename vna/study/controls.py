"""Controls beside the study (is it the model or the score?): runs that must come out a known way.

* ``control`` -- the shuffled-pairing control: every study dataset, the three methods, five seeds, trained on
  image-response pairs permuted by a seeded shuffle (``RunConfig.shuffle_pairs``) and tested on true pairs.
  Nothing about which image evoked which response can be learned, so every AUC, under every scoring rule,
  must sit at 0.5; anything else is a leak (test images in training, a score that sees the answer).
  Protocol: held-out trials with single-trial test responses where a dataset has repeats (every image is a
  candidate, so the test set is as large as it gets), held-out images on trial means otherwise.
* ``filter`` -- the study without one of Huang et al.'s preprocessing steps it skipped: their split-half
  reliability filter at 0.8 (``RunConfig.reliability_threshold``). Held-out images, single trials, on the
  datasets with repeats (split-half reliability needs at least two trials per image; allen-2p-ns118 has
  trial means only), the three methods, five seeds.
"""
from __future__ import annotations

from typing import Sequence

from ..methods import METHODS
from .config import RunConfig
from .grids import STUDY_SEEDS, _protocol_configs, known_datasets

__all__ = ["CONTROL_PROTOCOLS", "FILTER_DATASETS", "RELIABILITY_FILTER", "control_grid", "filter_grid",
           "CONTROL_GRIDS"]

#: The control's protocol per dataset: ``(split, training responses, test responses)``.
CONTROL_PROTOCOLS = {
    "simulated": ("trials", "trials", "trials"),
    "cowley2023-v4": ("trials", "trials", "trials"),
    "antolik2016-v1": ("trials", "trials", "trials"),
    "allen-2p-ns118": ("images", "mean", "mean"),
}
#: Huang et al.'s split-half reliability threshold (their code's 0.8), and the datasets it can apply to.
RELIABILITY_FILTER = 0.8
FILTER_DATASETS = ("simulated", "cowley2023-v4", "antolik2016-v1")


def _configs(datasets, protocols, methods, seeds, quick, device, threads, **fields) -> list[RunConfig]:
    """Each dataset's one protocol × methods × seeds, trained as the study trains (with ``fields`` on top)."""
    return [c for d in datasets for c in _protocol_configs(d, [protocols[d]], methods, seeds, quick, device, threads,
                                                           fields)]


def control_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] = METHODS,
                 seeds: Sequence[int] = STUDY_SEEDS, *, quick: bool = False, device: str = "auto", threads: int = 1,
                 **overrides) -> list[RunConfig]:
    """The shuffled-pairing control (module docstring)."""
    datasets = known_datasets(datasets, CONTROL_PROTOCOLS, "the control")
    return _configs(datasets, CONTROL_PROTOCOLS, methods, seeds, quick, device, threads, shuffle_pairs=True,
                    **overrides)


def filter_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] = METHODS,
                seeds: Sequence[int] = STUDY_SEEDS, *, quick: bool = False, device: str = "auto", threads: int = 1,
                **overrides) -> list[RunConfig]:
    """Held-out images, single trials, with Huang et al.'s 0.8 split-half reliability filter (module docstring)."""
    datasets = known_datasets(datasets, FILTER_DATASETS, "the filter grid")
    protocols = {d: ("images", "trials", "trials") for d in datasets}
    return _configs(datasets, protocols, methods, seeds, quick, device, threads,
                    reliability_threshold=RELIABILITY_FILTER, **overrides)


#: The controls' grids: name -> (builder, one-line description), added to :data:`vna.study.registry.GRIDS`.
CONTROL_GRIDS = {
    "control": (control_grid, "shuffled image-response pairs: every AUC must sit at 0.5 (4 datasets x 3 methods x 5 seeds)"),
    "filter": (filter_grid, "held-out images with Huang et al.'s 0.8 reliability filter (3 datasets x 3 methods x 5 seeds)"),
}
