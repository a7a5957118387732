"""Helpers for the book's chapters: which dataset a chapter uses and where its runs go.

The notebooks call these (the command line does not); they live in the library so that the chapters stay
short and say the same thing the same way.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_REAL_DATASET", "resolve_dataset", "default_results_dir", "show_path"]

#: The dataset the method chapters use when it is available offline (``dataset="auto"``).
DEFAULT_REAL_DATASET = "cowley2023-v4"


def show_path(path: str | Path) -> str:
    """``path`` as a reader should see it: relative to the data folder, the repository or ``~``, never an
    absolute path of the machine that built the book."""
    from .data.cache import data_dir

    p = Path(path).expanduser().resolve()
    repo = Path(__file__).resolve().parents[1]
    for base, label in ((data_dir().expanduser().resolve(), "$VNA_DATA_DIR"), (repo, ""),
                        (Path.home().resolve(), "~")):
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue
        rel_text = rel.as_posix()
        if label == "":
            return rel_text or "."
        return f"{label}/{rel_text}" if rel_text != "." else label
    return p.name


def resolve_dataset(dataset: str = "auto") -> tuple[str, str]:
    """``(name, explanation)``: ``"auto"`` is the real ``cowley2023-v4`` when its files are in the data
    folder, else the simulated set; any other name is kept."""
    from .data.cache import data_dir
    from .data.registry import DATASETS

    if dataset != "auto":
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; known: auto, {', '.join(DATASETS)}")
        kind = DATASETS[dataset].kind
        note = "SIMULATED data" if kind == "simulated" else f"a {kind} recording"
        return dataset, f"dataset {dataset!r} ({note}), as set in the parameters"
    try:
        status = DATASETS[DEFAULT_REAL_DATASET].cache_status()
    except Exception as exc:  # noqa: BLE001 - fall back to the embedded set, and say why
        status = f"error: {exc}"
    where = show_path(data_dir())
    if status == "cached":
        return DEFAULT_REAL_DATASET, (f"dataset 'auto' -> {DEFAULT_REAL_DATASET!r}: the real macaque V4 recording, "
                                      f"found in the data folder ({where})")
    return "simulated", (f"dataset 'auto' -> 'simulated': {DEFAULT_REAL_DATASET} is not in the data folder "
                         f"({where}; {status}), so this run uses SIMULATED data")


def default_results_dir() -> Path:
    """Where a chapter saves its runs: the untracked runs folder (:func:`vna.results.runs_dir`), never the
    published grid."""
    from .results import runs_dir

    return runs_dir()
