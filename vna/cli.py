"""Command line: ``python -m vna {datasets, reproduce, report}`` (argument parsing only).

* ``datasets`` lists the named datasets, whether they are available offline, and where it looked.
* ``reproduce`` runs a grid (default: the reproduction study, :mod:`vna.study.grids`) with
  :func:`vna.study.runner.run_grid`:
  into the untracked runs folder by default, into the published ``results/`` only with ``--publish``;
  finished runs are skipped, so an interrupted grid resumes where it stopped.
* ``report`` prints the study's tables from records alone (:mod:`vna.study.report`), in seconds: from a folder
  of records, or from the one records file a release carries (``--export-records`` writes it;
  :mod:`vna.study.release`), local or at a URL.

Errors are one line and a hint, exit status 2, no traceback (``--debug`` shows it); Ctrl-C is one line.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import textwrap
from pathlib import Path
from typing import Sequence

import pandas as pd

from . import __version__
from .data.cache import data_dir, data_dir_sources
from .data.registry import DATASETS, available, sessions
from .methods import ALL_METHODS, METHODS
from .train import MEMORY_FORMATS, check_precision
from .study import paper
from .study.grids import TUNED_FILE, check_seeds, folder_grid
from .study.sessions import folders_grid, grid_summary
from .study.registry import GRIDS, get_grid, grid_names
from .study.release import export_records, records_source
from .study.report import CSV_FILES, build_report, to_markdown, update_readme, write_csv
from .study.store import (PublishedResultsError, StoreError, check_results_dir, is_published, published_dir,
                            runs_dir, write_manifest)
from .study.config import device_kind
from .study.tuning import write_tuned
from .study.runner import GridInterrupted, parse_shard, plan_tasks, run_grid

__all__ = ["main", "build_parser"]

_HINTS = {
    "PublishedResultsError": "leave out --results-dir to write into the runs folder, or add --publish on purpose",
    "ConfigError": "see `python -m vna reproduce --help` for the settings",
    "MissingDataFile": "see `python -m vna datasets` for where data are looked for",
    "CorruptDataFile": "see `python -m vna datasets` for where data are looked for",
    "StoreError": "each problem is listed above; move the file away or rerun its run (python -m vna reproduce)",
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (the error and a hint, exit status 2), not the whole usage."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        print(f"hint: {self.prog} --help", file=sys.stderr)
        raise SystemExit(2)


def _int_at_least(lo: int, what: str):
    """An argparse type: an integer >= ``lo``, or a one-line error naming the value."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be {what}; got {value}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_seed = _int_at_least(0, "a non-negative integer")


def _cmd_datasets(args: argparse.Namespace) -> int:
    if args.plan:  # the preflight of `reproduce --grid paper`: sizes, places, cache, disk, memory; no data fetched
        with paper.quick_sources() if args.quick else contextlib.nullcontext():
            print(paper.format_plan(paper.plan(quick=args.quick)))
        return 0
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        data_dir()  # a file where the data folder should be: one line, not one error per dataset
        table = available(verify=args.verify)
        print(table[["name", "species", "area", "kind", "status", "size"]].to_string(index=False))
        if args.sessions:  # one row per recording session / region
            print("\nSessions (load(name, session=...) / region=...):")
            print(sessions()[["dataset", "session", "animal", "neurons", "images", "repeats_per_image",
                              "responses", "status", "image_types"]].to_string(index=False))
    print("\nData folder (the first that applies is used):")
    for what, path, used in data_dir_sources():
        state = "not set" if path is None else str(path)
        print(f"  {'->' if used else '  '} {what}: {state}")
    return 0


def _grid_configs(args: argparse.Namespace):
    kwargs = {"quick": args.quick, "device": args.device, "threads": args.threads}
    if args.precision != "fp32":
        kwargs["precision"] = args.precision
    if args.memory_format is not None:
        kwargs["memory_format"] = args.memory_format
    if args.folder is not None:
        if args.datasets is not None or args.grid != "study":
            raise ValueError("--folder runs the study's protocols on one recording folder; leave out --datasets "
                             "and --grid")
        if len(args.folder) > 1:  # several folders: each one a session
            build = lambda **kw: folders_grid(args.folder, **kw)  # noqa: E731
        else:
            build = lambda **kw: folder_grid(str(Path(args.folder[0]).expanduser().resolve()), log=print,  # noqa: E731
                                             **kw)
    else:
        build = get_grid(args.grid)
    if args.datasets is not None:
        kwargs["datasets"] = args.datasets
    if args.methods is not None:
        kwargs["methods"] = args.methods
    if args.seeds is not None:
        kwargs["seeds"] = args.seeds = check_seeds(args.seeds, "--seeds")
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    return build(**kwargs)


def _results_dir_arg(text: str | None) -> Path | None:
    """``--results-dir`` as a Path; an empty one (an unset shell variable) is refused, never the current folder."""
    if text is None:
        return None
    if not text.strip():
        raise ValueError(f"--results-dir is empty ({text!r}; an unset shell variable?); name a folder, or leave "
                         "the option out")
    return Path(text)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    if args.grid == "paper" and args.quick:  # the format-true fixtures, served on 127.0.0.1
        with paper.quick_sources():
            return _reproduce(args)
    return _reproduce(args)


def _reproduce(args: argparse.Namespace) -> int:
    shard = parse_shard(args.shard)
    if args.results_dir is not None:
        results_dir = _results_dir_arg(args.results_dir)
    elif args.publish:
        results_dir = published_dir()
        if results_dir is None:
            raise ValueError("--publish without --results-dir needs a checkout of the repository (results/)")
    else:
        results_dir = runs_dir()
    check_results_dir(results_dir, publish=args.publish)  # before any output or work
    configs = _grid_configs(args)
    if args.publish and (args.quick or args.epochs is not None or args.folder is not None or args.precision != "fp32"
                         or args.memory_format is not None):
        raise ValueError("--publish writes the published grid; --quick, --epochs, --folder, --precision and "
                         "--memory-format change it, so they cannot be published")
    for kind in sorted({device_kind(c.device) for c in configs}):  # bf16 on a CPU without it: one line, no work
        check_precision(kind, args.precision)
    slurm = {"partition": args.slurm_partition, "time_min": args.slurm_time, "gpus": args.slurm_gpus,
             "cpus": args.threads}
    print(f"grid {args.grid!r}: {len(configs)} runs -> {results_dir}"
          + (f" (shard {shard[0]}/{shard[1]})" if shard else "") + (f", {args.jobs} jobs" if args.jobs > 1 else ""))
    if args.grid == "paper":  # the preflight: every file, its size and place, disk and memory; then the disk check
        preflight = paper.plan(sorted({c.dataset for c in configs} | {"chang2021-face"}), quick=args.quick)
        print(paper.format_plan(preflight))
        if not args.dry_run:
            paper.check_disk(preflight)
    if args.dry_run:
        tasks = plan_tasks(configs, shard)
        print(f"{sum(len(t) for t in tasks)} runs in {len(tasks)} trainings (dry run: nothing ran)")
        return 0
    report = run_grid(configs, results_dir, jobs=args.jobs, shard=shard, publish=args.publish,
                      data_dir=args.data_dir, progress=not args.no_progress, fail_fast=args.fail_fast,
                      executor=args.executor, slurm=slurm, log=None if not args.no_progress else print)
    print(f"done in {report.seconds:.0f} s: {report.ran} run(s) now, {report.already} already in {results_dir}, "
          f"{len(report.failed)} failed, {len(report.skipped_datasets)} dataset(s) unavailable"
          + (f", {len(report.changed)} recording folder(s) changed while it ran" if report.changed else ""))
    if args.folder is not None and len(args.folder) > 1:
        print(grid_summary(results_dir, configs))
    if args.grid == "tuning" and report.ok and shard is None:
        if args.quick or any(v is not None for v in (args.datasets, args.methods, args.seeds, args.epochs)):
            print(f"{TUNED_FILE} not written: the sweep was shrunk or restricted, so it chooses nothing")
        else:
            print(f"wrote {write_tuned(results_dir)}: the settings the study's grids train with")
    if args.grid == "paper":  # Table 1 beside the records
        with pd.option_context("display.max_colwidth", 40, "display.width", 250):
            print(paper.table1(results_dir, quick=args.quick, seeds=args.seeds or paper.STUDY_SEEDS,
                               methods=args.methods or METHODS).to_string(index=False))
    return 0 if report.ok else 1


def _cmd_report(args: argparse.Namespace) -> int:
    _results_dir_arg(args.results_dir)  # an empty one is refused
    with records_source(args.results_dir, sha256=args.sha256) as results_dir:  # a records file: rebuilt, then removed
        return _report(args, results_dir)


def _report(args: argparse.Namespace, results_dir: Path) -> int:
    if args.export_records:
        done = export_records(results_dir, args.export_records)
        print(f"wrote {done.path}: {done.records} records of {results_dir}, sha256 {done.sha256}", file=sys.stderr)
        return 0
    if args.write_manifest:
        if not is_published(results_dir):
            raise ValueError(f"--write-manifest is for a published grid (a folder with a PUBLISHED marker); "
                             f"{results_dir} is not one")
        if not args.publish:
            raise PublishedResultsError(f"--write-manifest rewrites {results_dir / 'MANIFEST'} of the published grid; "
                                        "add --publish on purpose")
        print(f"wrote {write_manifest(results_dir)}", file=sys.stderr)
        return 0
    if args.strict and results_dir.is_dir() and not any(p.parent.name[:1] != "." for p in results_dir.glob("*/*.json")):
        raise ValueError(f"--strict: {results_dir} holds no record, so nothing was verified; run python -m vna "
                         "reproduce first, or point --results-dir at a folder of records")
    grid = None if args.grid == "none" else get_grid(args.grid)(quick=args.quick)
    report = build_report(results_dir, grid, n_boot=args.bootstrap, analyses=args.analyses, quick=args.quick)
    for finding in report.findings:
        print(f"{'error' if args.strict else 'warning'}: {finding}", file=sys.stderr)
    if args.strict and report.findings:
        raise StoreError(report.findings)
    if args.readme:
        update_readme(report, args.readme)
        print(f"updated the results block of {args.readme}", file=sys.stderr)
        return 0
    print(to_markdown(report))
    if args.csv:
        for path in write_csv(report, args.csv):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _grids_epilog() -> str:
    """The named grids, one line each, for ``reproduce --help``."""
    width = max(map(len, GRIDS))
    return "grids (--grid):\n" + "\n".join(f"  {name:<{width}}  {about}" for name, (_, about) in GRIDS.items())


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    p = _Parser(prog="python -m vna", description="Visual-Neural Alignment reproduction",
                                parents=[common])
    p.add_argument("--version", action="version", version=f"vna {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    ds = sub.add_parser("datasets", parents=[common], help="list the named datasets, whether they are available offline, "
                                                         "and where the data folder is")
    ds.add_argument("--sessions", action="store_true", help="also list every session / region (animal, neurons, "
                    "images, single trials or trial means, cached or not)")
    ds.add_argument("--verify", action="store_true",
                    help="check the sha256 of every cached file (default: files present are 'present, not verified')")
    ds.add_argument("--plan", choices=["paper"], default=None,
                    help="the preflight of a grid: each file, its size, where it goes, whether it is cached, the "
                         "total disk and the expected peak memory (no data file is downloaded)")
    ds.add_argument("--quick", action="store_true", help="with --plan: the quick mode's format-true fixtures")

    r = sub.add_parser("reproduce", parents=[common], help="run a grid (default: the reproduction study), skipping finished runs",
                       description=textwrap.fill(
                           "Run a grid of runs, one record each. Records go to the untracked runs folder "
                           "($VNA_RUNS_DIR, else _build/runs) unless --results-dir or --publish says otherwise; the "
                           "published results/ changes only with --publish.", 78),
                       epilog=_grids_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--grid", default="study", choices=grid_names(), metavar="GRID",
                   help=f"which grid to run: {', '.join(grid_names())} (default: study; each is described below)")
    r.add_argument("--datasets", nargs="+", default=None, metavar="NAME",
                   help=f"restrict to these datasets: {', '.join(DATASETS)} (python -m vna datasets says which are "
                        "available offline)")
    r.add_argument("--folder", default=None, metavar="PATH", action="append",
                   help="run the study's protocols on your own recording folder (vna.data.from_folder layout); "
                        "records are keyed by the folder's content. Repeat it (--folder A --folder B) to treat "
                        "each folder as a session: 3 seeds each and an across-session summary after the runs")
    r.add_argument("--methods", nargs="+", default=None, choices=list(ALL_METHODS),
                   help=f"restrict to these methods (default: the grid's; the paper's are {', '.join(METHODS)})")
    r.add_argument("--seeds", nargs="+", type=_seed, default=None, help="restrict to these seeds")
    r.add_argument("--epochs", type=_positive_int, default=None, help="override the maximum epochs (not publishable)")
    r.add_argument("--quick", action="store_true", help="smoke-test settings: 2 epochs, small simulated set, "
                                                         "trial means for real data")
    r.add_argument("--results-dir", default=None, help="where records go (default: the runs folder)")
    r.add_argument("--publish", action="store_true", help="write into the published results/ (on purpose)")
    r.add_argument("--jobs", type=_positive_int, default=1, help="runs side by side in a process pool (default 1)")
    r.add_argument("--shard", default=None, metavar="I/N", help="run only the I-th of N disjoint, stable slices")
    r.add_argument("--executor", default="local", choices=["local", "slurm", "submitit-local"],
                   help="local (default), slurm (one job per training, via submitit), submitit-local (testing)")
    r.add_argument("--slurm-partition", default=None, metavar="NAME",
                   help="with --executor slurm: the partition the jobs go to (default: the cluster's default)")
    r.add_argument("--slurm-time", type=_positive_int, default=120, help="minutes per job (default 120)")
    r.add_argument("--slurm-gpus", type=_int_at_least(0, "a non-negative integer"), default=0,
                   help="GPUs per job (default 0)")
    r.add_argument("--data-dir", default=None, help="data folder (default: $VNA_DATA_DIR, shared/data beside the "
                                                    "repository, or ~/.cache/vna)")
    r.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, mps")
    r.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                   help="fp32 (default: records stay comparable) or bf16 autocast (faster on GPUs and on CPUs with "
                        "AVX512-BF16 or AMX, refused on other CPUs; not publishable)")
    r.add_argument("--memory-format", default=None, choices=list(MEMORY_FORMATS),
                   help="layout of the image-side convolutions: channels_last (faster) or contiguous; default: the "
                        "grid's own (vna.study.grids.STUDY_TRAINING); part of each record's key")
    r.add_argument("--threads", type=_positive_int, default=1,
                   help="PyTorch CPU threads per run (default 1; part of each record's key, since the thread "
                        "count changes the third digit of CPU results)")
    r.add_argument("--fail-fast", action="store_true", help="stop at the first failed run")
    r.add_argument("--dry-run", action="store_true", help="count the runs and trainings; run nothing")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")

    rp = sub.add_parser("report", parents=[common], help="print the study's tables from records (no training)",
                        description="Print the result table under every scoring rule the records carry, the "
                                    "paired comparisons (plain and corrected resampled t, image bootstrap), the "
                                    "referee's verdicts on the paper's claims per rule, the controls and the closest "
                                    "protocol per paper row, as Markdown, from records alone. --csv DIR writes "
                                    + ", ".join(CSV_FILES) + " (and analysis_<name>.csv with --analyses); the "
                                    "module docstring of vna.study.report describes their columns.")
    rp.add_argument("--results-dir", default=None, metavar="FOLDER|FILE|URL",
                    help="records to read: a folder of records, a records file written by --export-records (a "
                         "release carries one), or its URL with --sha256 (default: the published results/)")
    rp.add_argument("--sha256", default=None, metavar="HEX",
                    help="the records file's sha256 (from the release notes); needed for a URL (or end the URL "
                         "with #sha256=HEX), checked for a file")
    rp.add_argument("--export-records", default=None, metavar="FILE",
                    help="write every record of --results-dir into FILE (.csv or .csv.gz: the table a release "
                         "carries) instead of printing; only records that verify are written")
    rp.add_argument("--grid", default="study", choices=[*grid_names(), "none"], metavar="GRID",
                    help=f"show only this grid's configurations: {', '.join(grid_names())}, or none (all records; "
                         "default: study)")
    rp.add_argument("--quick", action="store_true", help="match the grid's quick (smoke-test) configurations")
    rp.add_argument("--csv", default=None, metavar="DIR", help="also write the report's CSV files into DIR")
    rp.add_argument("--bootstrap", type=_positive_int, default=2000, help="bootstrap draws (default 2000)")
    rp.add_argument("--analyses", action="store_true",
                    help="also print the analyses' tables (and write analysis_<name>.csv with --csv)")
    rp.add_argument("--readme", default=None, metavar="FILE",
                    help="rewrite the results block of FILE (README.md) instead of printing")
    rp.add_argument("--strict", action="store_true",
                    help="fail (exit 2) when a record fails verification or a file differs from the MANIFEST "
                         "(CI runs this on results/); without it such records are left out and named")
    rp.add_argument("--write-manifest", action="store_true",
                    help="write MANIFEST (sha256 of every file) of the published grid; needs --publish")
    rp.add_argument("--publish", action="store_true", help="with --write-manifest: change the published grid on purpose")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "data_dir", None):
            data = Path(args.data_dir).expanduser()
            if not data.is_dir():
                raise FileNotFoundError(f"--data-dir {data} is not a folder")
            os.environ["VNA_DATA_DIR"] = str(data.resolve())
        if args.command == "datasets":
            return _cmd_datasets(args)
        if args.command == "report":
            return _cmd_report(args)
        return _cmd_reproduce(args)
    except KeyboardInterrupt as exc:
        print(str(exc) if isinstance(exc, GridInterrupted) else "interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `python -m vna datasets | head`: the reader left; say nothing
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush does not complain
        except (OSError, ValueError):
            pass
        return 141  # 128 + SIGPIPE, as a tool killed by the broken pipe
    except (ValueError, OSError, RuntimeError, LookupError) as exc:
        if debug:
            raise
        name = type(exc).__name__
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
        print(f"error: {text}", file=sys.stderr)
        hint = _HINTS.get(name, "add --debug for the full traceback")
        print(f"hint: {hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
