"""Every named grid, by name: the study's (:mod:`vna.study.grids`) and the analyses' (:mod:`vna.study.analyses`).

``python -m vna reproduce --grid NAME`` and ``python -m vna report`` look grids up here. This module imports
both grid modules; neither imports it, so the registry has no circle.
"""
from __future__ import annotations

from typing import Callable

from .analyses import ANALYSIS_GRIDS
from .config import RunConfig
from .controls import CONTROL_GRIDS
from .grids import before_tuning_grid, study_grid, tuning_grid
from .paper import paper_grid
from .sessions import sessions_grid

__all__ = ["GRIDS", "grid_names", "get_grid"]

#: Every named grid: name -> (builder, one-line description).
GRIDS: dict[str, tuple[Callable[..., list[RunConfig]], str]] = {
    "study": (study_grid, "the reproduction study: datasets x protocols x 3 methods x 5 seeds"),
    "study-before-tuning": (before_tuning_grid, "the study as it ran before the validation sweep (its records: "
                                                "results-before-tuning/)"),
    "tuning": (tuning_grid, "the validation sweep: lr x weight decay x batch size, every method, dataset and held-out "
                            "protocol, 1 seed (chooses the study's settings)"),
    **ANALYSIS_GRIDS,
    **CONTROL_GRIDS,
    "paper": (paper_grid, "Table 1 on the paper's own data: allen-neuropixels, majajhong2015, chang2021-face"),
    "sessions": (sessions_grid, "every V4 session and Antolik region x its protocols x 3 methods x 3 seeds"),
}


def grid_names() -> list[str]:
    return list(GRIDS)


def get_grid(name: str) -> Callable[..., list[RunConfig]]:
    """The builder of the grid called ``name`` (ValueError naming the known ones otherwise)."""
    if name not in GRIDS:
        raise ValueError(f"unknown grid {name!r}; known: {', '.join(GRIDS)}")
    return GRIDS[name][0]
