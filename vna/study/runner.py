"""Executing a grid: how a grid runs is the executor's business, never the run's.

:func:`run_grid` takes a list of RunConfigs and a results folder and

* groups the configs that share one trained model (:meth:`RunConfig.training_key`) into *tasks*;
* skips tasks whose records all exist (an interrupted grid resumes where it stopped);
* optionally keeps only one stable shard ``I/N`` of the tasks (for a scheduler's job arrays): a task, and
  so every record, belongs to exactly one shard, so two shards never write the same record;
* loads each dataset once up front, so a missing dataset fails the grid once, not once per seed;
* runs the tasks in this process (``jobs=1``), in a process pool (``jobs=N``, one PyTorch thread per
  worker unless the configs say otherwise), or as Slurm jobs through submitit (``executor="slurm"``);
* on Ctrl-C stops the workers and reports how many finished runs were kept; pool workers also exit when
  their parent dies (``kill -9``): ``PR_SET_PDEATHSIG`` on Linux, a watchdog thread and a check between tasks;
* before any training, checks the devices, the test-set sizes and the ``slurm`` values once, and removes the
  temporary files and orphan per-instance files that interrupted writes left;
* keys the runs on a recording folder by the folder's content when the grid starts, refuses a task whose
  folder then holds other content (before training it), and names a folder that changed while the grid ran;
* checks before any training that the results folder's disk has room for the records, and stops at the first
  record a full disk refuses (counting the records saved before it, leaving no per-instance file without one);
* after a ``publish`` grid, rewrites the published grid's ``MANIFEST``.

Records are written atomically by :func:`vna.study.store.save_record`, by whichever process ran them.
"""
from __future__ import annotations

import concurrent.futures as cf
import ctypes
import ctypes.util
import errno
import hashlib
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .config import RunConfig
from . import pipeline
from ..data.download import human_bytes
from ..data.user import CONTENT_KEY, folder_hash
from ..data.preprocess import make_split
from .store import check_results_dir, clean_stale_files, is_done, is_published, runs_dir, save_record, write_manifest

__all__ = ["run_grid", "GridReport", "GridInterrupted", "plan_tasks", "parse_shard", "shard_of", "run_task",
           "submitit_log_dir", "FolderChanged", "SaveError", "RECORD_BYTES"]

#: Disk space a run's record and per-instance AUCs may take, at most (the published ones average 38 kB, the
#: largest 0.5 MB): the grid refuses to start where its runs would not fit.
RECORD_BYTES = 100_000
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


class FolderChanged(ValueError):
    """A recording folder holds other content than when the grid started: its task is refused, untrained."""


class SaveError(RuntimeError):
    """Writing a task's records failed after ``done`` of them (summaries) were saved; ``disk_full`` stops the grid."""

    def __init__(self, message: str, done: list | None = None, disk_full: bool = False):
        super().__init__(message)
        self.done, self.disk_full = list(done or []), bool(disk_full)

    def __reduce__(self):  # through a process pool with its saved runs
        return (SaveError, (str(self), self.done, self.disk_full))


class GridInterrupted(KeyboardInterrupt):
    """Ctrl-C during a grid; ``finished`` runs were saved and are kept."""

    def __init__(self, finished: int):
        super().__init__(f"interrupted; {finished} finished run(s) kept, rerun to resume")
        self.finished = finished


@dataclass
class GridReport:
    total: int = 0  # records the grid (or shard) holds
    already: int = 0  # found done before starting
    ran: int = 0  # records written now
    failed: list[tuple[str, str]] = field(default_factory=list)  # (what, one-line reason)
    skipped_datasets: dict[str, str] = field(default_factory=dict)  # dataset -> reason
    changed: dict[str, str] = field(default_factory=dict)  # recording folder dataset -> what changed while it ran
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped_datasets and not self.changed


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` (1 <= I <= N) -> ``(I, N)``; None stays None; anything else a ValueError naming it."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 2/8); got {text!r}") from None
    if not 1 <= i <= n:
        raise ValueError(f"--shard I/N needs 1 <= I <= N; got {text!r}")
    return i, n


def shard_of(training_key: str, n: int) -> int:
    """The shard (1..n) a task belongs to: stable, from its training key alone."""
    return int(hashlib.sha256(training_key.encode()).hexdigest(), 16) % n + 1


def plan_tasks(configs: Sequence[RunConfig], shard: tuple[int, int] | None = None) -> list[list[RunConfig]]:
    """The configs grouped by training key (first-seen order), restricted to ``shard``."""
    groups: dict[str, list[RunConfig]] = {}
    seen = set()
    for c in configs:
        if not isinstance(c, RunConfig):
            raise ValueError(f"a grid holds RunConfigs; got {type(c).__name__}")
        if c.key() in seen:
            continue
        seen.add(c.key())
        groups.setdefault(c.training_key(), []).append(c)
    tasks = list(groups.items())
    if shard is not None:
        i, n = shard
        tasks = [t for t in tasks if shard_of(t[0], n) == i]
    return [cs for _, cs in tasks]


_TERMINATED = False
_PARENT: int | None = None  # the pool's parent process, in a pool worker


def run_task(cfg_dicts: list[dict], results_dir: str, data_dir: str | None, publish: bool, source: str,
             content: str | None = None) -> list[dict]:
    """Train once, evaluate every config of the task, save each record: one summary dict per record.

    ``content``: the content hash the grid keyed a recording folder's runs by; a folder that holds other
    content now is refused before training (:class:`FolderChanged`). A record that cannot be written raises
    :class:`SaveError` carrying the records saved before it.

    In a pool worker that was told to stop (SIGTERM), the half-done work unwinds (temporary files are
    removed by the writers' own clean-up) and the worker process then exits for good."""
    if _PARENT is not None and os.getppid() != _PARENT:  # the parent died while this task waited: no work
        os._exit(143)
    try:
        return _run_task(cfg_dicts, results_dir, data_dir, publish, source, content)
    except BaseException:
        if _TERMINATED:
            os._exit(143)  # the pool would otherwise hand this worker its next task
        raise


def _run_task(cfg_dicts: list[dict], results_dir: str, data_dir: str | None, publish: bool, source: str,
              content: str | None = None) -> list[dict]:
    configs = [RunConfig.from_dict(d).with_content(content) for d in cfg_dicts]
    recording = pipeline.load_recording(configs[0], data_dir=data_dir)
    read = recording.meta.get(CONTENT_KEY)
    if content is not None and read != content:
        raise FolderChanged(f"{configs[0].dataset[len('folder:'):]} changed while the grid ran (content {content} when "
                            f"it started, {read} now); this training is refused: rerun the grid to run it on what "
                            "the folder holds now")
    done = []
    for record in pipeline.run_shared(configs, data_dir=data_dir, progress=False, recording=recording):
        c = record.config
        if is_done(c, results_dir):  # a record the task shares with an earlier grid: kept as it is
            continue
        record.source = source
        try:
            path = save_record(record, results_dir, overwrite=True, publish=publish)
        except OSError as exc:
            full = exc.errno in _DISK_FULL
            raise SaveError(f"cannot write the record of {c.dataset} {c.method} {c.protocol} seed {c.seed} into "
                            f"{results_dir} ({exc.strerror or exc}); {len(done)} record(s) of this training were "
                            f"saved{': the disk is full' if full else ''}", done, full) from None
        m = record.metrics["paper"]
        done.append({"dataset": c.dataset, "method": c.method, "protocol": c.protocol, "seed": c.seed,
                     "encoding_auc": m["encoding_auc"], "decoding_auc": m["decoding_auc"],
                     "seconds": record.seconds, "best_epoch": record.best_epoch, "path": str(path)})
    return done


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _set_pdeathsig(sig: int = signal.SIGTERM) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``); False
    where that is not available (macOS, Windows, no libc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int, interval: float = 1.0, grace: float = 20.0) -> None:
    """A watchdog thread: when the parent is gone (this process was re-parented), SIGTERM this process so that
    it unwinds, and end it for good ``grace`` seconds later if it has not."""
    while os.getppid() == parent:
        time.sleep(interval)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace)
    os._exit(143)


def _worker_init(parent: int | None = None) -> None:
    """Pool workers: Ctrl-C is the parent's business; SIGTERM unwinds (so no temporary file is left) and
    then ends the worker (:func:`run_task`); the worker ends when its parent dies (``PR_SET_PDEATHSIG`` where
    available, a watchdog thread everywhere, and a check before each task)."""
    global _PARENT
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def stop(signum, frame):
        global _TERMINATED
        _TERMINATED = True
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    _PARENT = parent if parent is not None else os.getppid()  # the pid the parent passed: it may be gone already
    _set_pdeathsig(signal.SIGTERM)
    if os.getppid() != _PARENT:  # it died while this worker started (imports take seconds), or before prctl
        os._exit(143)
    threading.Thread(target=_watch_parent, args=(_PARENT,), name="vna-parent-watchdog", daemon=True).start()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:400]


def _check_datasets(tasks: list[list[RunConfig]], data_dir: str | None) -> dict[str, str]:
    """Load every dataset (with its options) the tasks need once; ``{dataset: reason}`` for those that fail.
    Of those that load, every protocol's test part must hold at least 2 images (:func:`_check_test_size`)."""
    bad: dict[str, str] = {}
    tried: dict[tuple, object] = {}
    sizes = set()
    for task in tasks:
        c = task[0]
        sig = (c.dataset, repr(sorted(c.dataset_options.items())))
        if c.dataset in bad:
            continue
        if sig not in tried:
            try:
                tried[sig] = pipeline.load_recording(c, data_dir=data_dir)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - any loading failure skips that dataset, named once
                bad[c.dataset] = _one_line(exc)
                continue
        if (sig, c.split, c.test_fraction, c.val_fraction) not in sizes:
            sizes.add((sig, c.split, c.test_fraction, c.val_fraction))
            _check_test_size(c, tried[sig])
    return bad


def _folder_contents(configs: Sequence[RunConfig]) -> dict[str, str]:
    """``{dataset: content hash}`` of every recording folder (``folder:PATH``) the configs name, taken once."""
    return {d: folder_hash(d[len("folder:"):]) for d in dict.fromkeys(c.dataset for c in configs)
            if d.startswith("folder:")}


def _check_space(results_dir: Path, n_runs: int) -> None:
    """The disk of ``results_dir`` has room for ``n_runs`` records (:data:`RECORD_BYTES` each), checked before any
    training: a full disk is found before the first run trains, not after every run has."""
    if n_runs == 0:
        return
    existing = next(p for p in (results_dir, *results_dir.parents) if p.exists())
    free, need = shutil.disk_usage(existing).free, n_runs * RECORD_BYTES
    if free < need:
        raise OSError(errno.ENOSPC, f"not enough disk for the records of {n_runs} run(s) in {results_dir}: they need "
                                    f"up to {human_bytes(need)} and {existing} has {human_bytes(free)} free; free "
                                    "some space or pass another --results-dir")


def _check_devices(configs: Sequence[RunConfig]) -> None:
    """Every device the configs name exists on this machine (``cuda``, ``cuda:N``, ``mps``), checked once."""
    import torch

    for dev in sorted({c.device for c in configs}):
        if dev.startswith("cuda"):
            if not torch.cuda.is_available():
                raise ValueError(f"device {dev!r}: this machine has no CUDA GPU (torch {torch.__version__}); use "
                                 "--device cpu or auto")
            index = int(dev.split(":")[1]) if ":" in dev else 0
            if index >= torch.cuda.device_count():
                raise ValueError(f"device {dev!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
        elif dev == "mps":
            mps = getattr(torch.backends, "mps", None)
            if mps is None or not mps.is_available():
                raise ValueError(f"device 'mps' is not available here (Apple GPUs only, on macOS; this is "
                                 f"{sys.platform}); use --device cpu or auto")


def _check_slurm(slurm: dict) -> None:
    """The Slurm settings are whole numbers in range (``gpus`` >= 0, the others >= 1), checked before submitting."""
    for name, lo in (("time_min", 1), ("cpus", 1), ("parallel", 1), ("gpus", 0)):
        v = slurm.get(name)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"slurm {name} (--slurm-{name.replace('_min', '')}) must be an integer >= {lo}; got {v!r}")


def _check_test_size(c: RunConfig, recording) -> None:
    """The test part of ``c``'s protocol holds at least 2 images (the AUCs rank one image against the others):
    checked on the loaded recording before any training, so a grid does not fail after each training."""
    sp = make_split(recording, c.split, c.test_fraction, c.seed, c.val_fraction)
    if len(sp.test_images) < 2:
        raise ValueError(f"{c.dataset} with split={c.split!r}, test_fraction={c.test_fraction}: the test part "
                         f"holds {len(sp.test_images)} image(s) of {recording.n_images}; the AUCs need at least 2 "
                         "(raise test_fraction or use more images)")


def run_grid(
    configs: Sequence[RunConfig],
    results_dir: str | os.PathLike,
    *,
    jobs: int = 1,
    shard: tuple[int, int] | None = None,
    publish: bool = False,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    fail_fast: bool = False,
    source: str = "grid",
    executor: str = "local",
    slurm: dict | None = None,
    log: Callable[[str], None] | None = None,
) -> GridReport:
    """Run every config of a grid that has no record in ``results_dir`` yet (module docstring).

    Raises :class:`GridInterrupted` on Ctrl-C (finished runs are kept); failures of single runs are
    reported in the returned :class:`GridReport` (``ok`` is False) and do not stop the grid unless
    ``fail_fast``.
    """
    from tqdm.auto import tqdm

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1; got {jobs!r}")
    if executor not in ("local", "slurm", "submitit-local"):
        raise ValueError(f"executor must be 'local', 'slurm' or 'submitit-local'; got {executor!r}")
    results_dir = check_results_dir(results_dir, publish=publish)
    data_dir = None if data_dir is None else str(Path(data_dir).expanduser().resolve())
    if executor == "slurm" and any(c.device == "auto" for c in configs):
        raise ValueError("executor='slurm' needs an explicit device (--device cuda or --device cpu): 'auto' would be "
                         "resolved differently on this machine and on the cluster's nodes, and records are keyed by it")
    if executor != "local":
        _check_slurm(slurm or {})
    else:
        _check_devices(configs)
    say = log or (lambda text: tqdm.write(text))
    t0 = time.perf_counter()
    for p in clean_stale_files(results_dir):
        say(f"removed {p} (left by an interrupted write)")
    contents = _folder_contents(configs)  # each recording folder's content now: the grid's runs are keyed by it
    configs = [c.with_content(contents.get(c.dataset)) for c in configs]
    tasks = plan_tasks(configs, shard)
    report = GridReport(total=sum(len(t) for t in tasks))
    todo = []
    for task in tasks:
        left = [c for c in task if not is_done(c, results_dir)]
        report.already += len(task) - len(left)
        if left:
            todo.append(task)  # the whole task reruns (one training); records already there are kept
    report.skipped_datasets = _check_datasets(todo, data_dir)
    for name, reason in report.skipped_datasets.items():
        n = sum(len(t) for t in todo if t[0].dataset == name)
        say(f"dataset {name} is not available ({reason}); its {n} run(s) are skipped")
    todo = [t for t in todo if t[0].dataset not in report.skipped_datasets]
    n_runs = sum(len(t) for t in todo)
    _check_space(results_dir, n_runs)
    bar = tqdm(total=n_runs, desc="grid", unit="run", disable=not progress)

    def finished(summaries: list[dict]) -> None:
        report.ran += len(summaries)
        bar.update(len(summaries))
        for r in summaries:
            say(f"{r['dataset']:>16} {r['method']:>15} {r['protocol']:>14} seed {r['seed']}: encoding "
                f"{r['encoding_auc']:.4f} decoding {r['decoding_auc']:.4f} (best epoch {r['best_epoch']}, "
                f"{r['seconds']:.0f} s)")

    def failed(task: list[RunConfig], exc: BaseException) -> bool:
        """Count and name a failed task; True when the grid must stop (``fail_fast``, or a full disk)."""
        if isinstance(exc, SaveError):
            finished(exc.done)  # the records saved before the failure are there: count them
        c = task[0]
        what = f"{c.dataset} {c.method} {c.split} seed {c.seed}"
        report.failed.append((what, _one_line(exc)))
        say(f"FAILED {what}: {_one_line(exc)}")
        if getattr(exc, "disk_full", False):
            say(f"the disk of {results_dir} is full: the grid stops here, {report.ran} run(s) saved now; free some "
                "space and rerun to resume")
            return True
        return fail_fast

    args = lambda task: ([c.to_dict() for c in task], str(results_dir), data_dir, publish, source,  # noqa: E731
                         *([contents[task[0].dataset]] if task[0].dataset in contents else []))
    try:
        if executor != "local":
            _run_submitit(todo, args, executor, slurm or {}, results_dir, finished, failed)
        elif jobs == 1:
            for task in todo:
                try:
                    finished(run_task(*args(task)))
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - report, keep the grid going, fail at the end
                    if failed(task, exc):
                        break
        else:
            _run_pool(todo, args, jobs, finished, failed)
    except KeyboardInterrupt:
        bar.close()
        if publish and is_published(results_dir) and report.ran:
            write_manifest(results_dir)
        raise GridInterrupted(report.ran) from None
    bar.close()
    for dataset, content in contents.items():  # a folder edited while the grid ran: its grid is not complete
        try:
            now = folder_hash(dataset[len("folder:"):])
        except (OSError, ValueError) as exc:
            now = f"unreadable ({_one_line(exc)})"
        if now != content:
            report.changed[dataset] = (f"{dataset[len('folder:'):]} changed while the grid ran (content {content} when "
                                       f"it started, {now} now): the runs that read {content} are kept under "
                                       f"folder-{content}/; rerun to run the grid on what it holds now")
            say(report.changed[dataset])
    if publish and is_published(results_dir):
        write_manifest(results_dir)  # the published grid changed on purpose: its MANIFEST says how it is now
    report.seconds = time.perf_counter() - t0
    return report


def _run_pool(todo, args, jobs, finished, failed) -> None:
    ctx = multiprocessing.get_context("spawn")  # torch and fork do not mix
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init,
                                  initargs=(os.getpid(),))
    try:
        futures = {pool.submit(run_task, *args(task)): task for task in todo}
        for fut in cf.as_completed(futures):
            try:
                finished(fut.result())
            except cf.process.BrokenProcessPool:
                raise
            except Exception as exc:  # noqa: BLE001
                if failed(futures[fut], exc):
                    break
    except BaseException:
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for proc in procs:
            proc.terminate()  # SIGTERM: workers unwind, remove any temporary file, and exit
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
        raise
    pool.shutdown(wait=True, cancel_futures=True)


def submitit_log_dir(results_dir: str | os.PathLike, log_dir: str | os.PathLike | None = None) -> Path:
    """Where submitit keeps its job logs: ``log_dir``, else ``.submitit`` beside the records, except for the
    published grid, whose logs go to the runs folder (never into the tracked ``results/``)."""
    if log_dir is not None:
        return Path(log_dir).expanduser()
    return (runs_dir() / ".submitit") if is_published(results_dir) else Path(results_dir) / ".submitit"


def _run_submitit(todo, args, executor, slurm, results_dir, finished, failed) -> None:
    """One job per task, through submitit (Slurm, or its local executor for tests)."""
    try:
        import submitit
    except ImportError:
        raise RuntimeError("executor='slurm' needs submitit: pip install submitit") from None
    folder = submitit_log_dir(results_dir, slurm.get("log_dir"))
    if executor == "slurm":
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        params = {"timeout_min": int(slurm.get("time_min", 120)), "cpus_per_task": int(slurm.get("cpus", 1)),
                  "slurm_array_parallelism": int(slurm.get("parallel", 64))}
        if slurm.get("partition"):
            params["slurm_partition"] = slurm["partition"]
        if slurm.get("gpus"):
            params["gpus_per_node"] = int(slurm["gpus"])
        ex.update_parameters(**params)
    else:
        ex = submitit.LocalExecutor(folder=folder)
        ex.update_parameters(timeout_min=int(slurm.get("time_min", 60)))
    jobs = []
    with ex.batch():  # one job array, not one job per training
        for task in todo:
            jobs.append((ex.submit(run_task, *args(task)), task))
    for job, task in jobs:
        try:
            finished(job.result())
        except Exception as exc:  # noqa: BLE001
            if failed(task, exc):
                for other, _ in jobs:
                    other.cancel(check=False)
                break
