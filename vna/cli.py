"""Command line: ``python -m vna reproduce`` runs the grid of Table 1; ``python -m vna datasets`` lists data.

``reproduce`` runs every dataset × method × seed it is pointed at, writes one record per run with
:mod:`vna.results` and skips runs whose record already exists, so an interrupted grid resumes where it
stopped. ``--quick`` shrinks the runs (few epochs, small simulated set) for smoke tests; quick records
carry their own config key and never mix with full ones.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from .config import METHODS, RunConfig

__all__ = [
    "main", "grid_configs", "available_datasets", "resolve_dataset", "quick_config", "default_results_dir",
    "QUICK", "DATASET_DEFAULTS", "DEFAULT_REAL_DATASET",
]

#: What ``quick`` changes (CI smoke runs): one epoch; a small simulated set; trial means for real data.
QUICK = {"epochs": 1}
QUICK_SIMULATED_OPTIONS = {"n_images": 120, "n_trials": 4, "n_neurons": 40}

#: Per-dataset settings of the grid, where the RunConfig default does not fit the data (see the book's
#: "Limitations" chapter): Antolik et al. have only 50 images, so their test set holds out trials.
DATASET_DEFAULTS: dict[str, dict] = {
    "antolik2016-v1": {"split": "trials"},
}


def available_datasets(kinds: Sequence[str] = ("simulated", "stand-in", "paper")) -> list[str]:
    """Names of datasets usable without a download (status "embedded" or "cached")."""
    from .data.registry import DATASETS

    names = []
    for name, info in DATASETS.items():
        if info.kind not in kinds:
            continue
        try:
            status = info.cache_status()
        except Exception:  # noqa: BLE001 - a broken status means "not usable now"
            continue
        if status in ("embedded", "cached"):
            names.append(name)
    return names


def quick_options(dataset: str) -> dict:
    """``dataset_options`` for a quick run (only the simulated set can shrink)."""
    return dict(QUICK_SIMULATED_OPTIONS) if dataset == "simulated" else {}


def quick_config(cfg: RunConfig) -> RunConfig:
    """``cfg`` shrunk for a smoke test: at most ``QUICK["epochs"]`` epochs; a small simulated set, or for
    a real dataset one trial-mean pair per image instead of one pair per trial."""
    options = {**cfg.dataset_options, **quick_options(cfg.dataset)}
    responses = cfg.responses if cfg.dataset == "simulated" else "mean"
    return cfg.replace(epochs=min(int(cfg.epochs), QUICK["epochs"]), dataset_options=options, responses=responses)


#: The dataset the method chapters use when it is available offline (``dataset="auto"``).
DEFAULT_REAL_DATASET = "cowley2023-v4"


def resolve_dataset(dataset: str = "auto") -> tuple[str, str]:
    """``(name, explanation)``: ``"auto"`` is the real ``cowley2023-v4`` when its files are in the data
    folder (``$VNA_DATA_DIR`` or ``~/.cache/vna``), else the simulated set; any other name is kept."""
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
    if status == "cached":
        return DEFAULT_REAL_DATASET, (f"dataset 'auto' -> {DEFAULT_REAL_DATASET!r}: the real macaque V4 recording, "
                                      f"found in {data_dir()}")
    return "simulated", (f"dataset 'auto' -> 'simulated': {DEFAULT_REAL_DATASET} is not in {data_dir()} "
                         f"({status}), so this run uses SIMULATED data")


def default_results_dir() -> Path:
    """``<repository>/results`` when vna runs from a checkout, else ``./results``."""
    repo = Path(__file__).resolve().parents[1]
    if (repo / "notebooks").is_dir() and (repo / "vna" / "__init__.py").is_file():
        return repo / "results"
    return Path.cwd() / "results"


def grid_configs(
    datasets: Sequence[str],
    methods: Sequence[str] = METHODS,
    seeds: Sequence[int] = (0, 1, 2),
    *,
    epochs: int | None = None,
    quick: bool = False,
    device: str = "auto",
    **overrides,
) -> list[RunConfig]:
    """Every dataset × method × seed as a RunConfig (dataset defaults, then ``quick``, then overrides)."""
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; known: {', '.join(METHODS)}")
    configs = []
    for d in datasets:
        base = dict(DATASET_DEFAULTS.get(d, {}))
        if quick:
            base.update(QUICK)
            opts = quick_options(d)
            if opts:
                base["dataset_options"] = opts
            else:
                base["responses"] = "mean"
        if epochs is not None:
            base["epochs"] = int(epochs)
        base.update(overrides)
        for m in methods:
            for s in seeds:
                configs.append(RunConfig(dataset=d, method=m, seed=int(s), device=device, **base))
    return configs


def _cmd_datasets(args: argparse.Namespace) -> int:
    import pandas as pd

    from .data.registry import available

    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        table = available()
        print(table[["name", "species", "area", "kind", "status", "size"]].to_string(index=False))
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from .results import is_done, record_path, run_or_load

    if args.threads is not None:
        if args.threads < 1:
            print(f"--threads must be >= 1; got {args.threads}", file=sys.stderr)
            return 2
        import torch

        torch.set_num_threads(args.threads)
    datasets = args.datasets or available_datasets()
    if not datasets:
        print("no dataset is available offline; see `python -m vna datasets`", file=sys.stderr)
        return 2
    from .data.registry import DATASETS

    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        print(f"unknown dataset(s) {unknown}; known: {', '.join(DATASETS)}", file=sys.stderr)
        return 2
    configs = grid_configs(datasets, args.methods, args.seeds, epochs=args.epochs, quick=args.quick,
                           device=args.device)
    results_dir = Path(args.results_dir)
    todo = [c for c in configs if not is_done(c, results_dir)]
    print(f"{len(configs)} runs ({len(datasets)} datasets x {len(args.methods)} methods x {len(args.seeds)} seeds); "
          f"{len(configs) - len(todo)} already in {results_dir}, {len(todo)} to run")
    t0 = time.perf_counter()
    failed = []
    bar = tqdm(todo, desc="reproduce", unit="run", disable=args.no_progress)
    for cfg in bar:
        bar.set_postfix_str(f"{cfg.dataset} {cfg.method} seed {cfg.seed}")
        try:
            record, _ = run_or_load(cfg, results_dir, data_dir=args.data_dir, progress=False, source="grid")
        except Exception as exc:  # noqa: BLE001 - report, keep the grid going, fail at the end
            failed.append((cfg, exc))
            tqdm.write(f"FAILED {cfg.dataset} {cfg.method} seed {cfg.seed}: {type(exc).__name__}: {exc}")
            if args.fail_fast:
                break
            continue
        m = record["metrics"]
        tqdm.write(f"{cfg.dataset:>16} {cfg.method:>15} seed {cfg.seed}: encoding {m['encoding_auc']:.4f} "
                   f"decoding {m['decoding_auc']:.4f} ({record['seconds']:.0f} s) -> {record_path(cfg, results_dir)}")
    print(f"done in {time.perf_counter() - t0:.0f} s; {len(failed)} failed")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vna", description="Visual-Neural Alignment reproduction")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list the named datasets and whether they are available offline")
    r = sub.add_parser("reproduce", help="run the dataset x method x seed grid, skipping finished runs")
    r.add_argument("--datasets", nargs="+", default=None,
                   help="dataset names (default: every dataset available without a download)")
    r.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    r.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    r.add_argument("--epochs", type=int, default=None, help=f"epochs per run (default {RunConfig.epochs})")
    r.add_argument("--quick", action="store_true", help="smoke-test settings: 1 epoch, small simulated set, trial means for real data")
    r.add_argument("--results-dir", default="results", help="where records go (default: results)")
    r.add_argument("--data-dir", default=None, help="data folder (default: $VNA_DATA_DIR or ~/.cache/vna)")
    r.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    r.add_argument("--threads", type=int, default=None,
                   help="CPU threads for PyTorch (default: PyTorch's choice); 1 is much faster when other "
                        "processes share the CPU")
    r.add_argument("--fail-fast", action="store_true", help="stop at the first failed run")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "data_dir", None):
        os.environ["VNA_DATA_DIR"] = str(Path(args.data_dir).resolve())
    if args.command == "datasets":
        return _cmd_datasets(args)
    return _cmd_reproduce(args)
