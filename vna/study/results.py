"""The results store: one JSON record (and its per-instance AUCs) per run, keyed by its config.

Layout: ``<results_dir>/<dataset>/<method>-<RunConfig.key()>.json`` and, beside it,
``<method>-<key>.instances.csv`` with the encoding and decoding AUC of every test instance (full precision;
older records store 5 decimals; the hierarchical bootstrap of :mod:`vna.study.stats` resamples them). Each
record holds the full config, the metrics of :func:`vna.evaluate`, wall times, the device (kind and name),
the thread count, the package versions and the training history. Both files are written atomically
(temporary file + ``os.replace``; the JSON last), so an interrupted grid leaves only finished runs and a
rerun skips them; a run with other settings has another key and adds files instead of overwriting any.

Two kinds of folder:

* the **published grid**: ``results/`` of the repository (:func:`published_dir`), marked by a file
  ``PUBLISHED``. It changes only when someone means it to: writing into a marked folder raises
  :class:`PublishedResultsError` unless ``publish=True`` (``python -m vna reproduce --publish``);
* **runs**: everything else -- notebook runs, ad-hoc and quick runs -- goes to :func:`runs_dir`
  (``$VNA_RUNS_DIR``, else ``_build/runs`` of the checkout, else ``~/.cache/vna/runs``), never tracked.

Reading verifies (:func:`verify_store`): a record's file name and folder must be the ones its config
gives (so a backup copy of a folder or a ``"(copy)"`` file is never counted), its AUCs lie in [0, 1], ``mean_auc``
is the mean of the two, and its per-instance file is there with means equal to the record's AUCs. A record that
fails is named by path and left out; ``strict=True`` (``python -m vna report --strict``) makes any finding an error.
The published grid carries a ``MANIFEST`` (sha256 of every file; :func:`write_manifest`), so a hand edit is found.
Every new record stores the commit of the code that made it (``"code"``: :func:`code_provenance`).

Tables never mix configurations: :func:`select_groups` keeps, per dataset x method x protocol, the
configuration a grid definition names (or, without one, says which it chose and why).
"""
from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import io
import json
import math
import os
import platform
import re
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

import vna

from ..scoring import DEFAULT_SCORE, SCORES
from .config import PROTOCOL_LABELS, RunConfig, device_kind
from .pipeline import run as run_pipeline

__all__ = [
    "SCHEMA", "METRICS", "METHOD_LABELS", "PAPER_TABLE1", "PAPER_STAND_INS", "PUBLISHED_MARKER",
    "PublishedResultsError", "published_dir", "runs_dir", "is_published", "check_results_dir",
    "record_path", "record_config", "instances_path", "is_done", "make_record", "save_record", "read_record",
    "read_instances",
    "run_or_load", "record_from_output", "load_records", "load_histories", "group_key", "summarize", "select_groups", "main_table",
    "format_table", "paper_average_check", "versions", "resolved_device", "protocol_label", "signature",
    "Finding", "StoreError", "RECORD_CHECKS", "verify_record", "verify_store", "code_provenance", "MANIFEST",
    "write_manifest", "check_manifest", "clean_stale_files",
]

SCHEMA = 2
METRICS = ("encoding_auc", "decoding_auc", "mean_auc")
METHOD_LABELS = {
    "vna": "Visual-Neural Alignment",
    "direct_encoder": "Direct Encoding",
    "direct_decoder": "Direct Decoding",
    "ridge_encoder": "Ridge encoding (linear)",
    "ridge_decoder": "Ridge decoding (linear)",
    "cca": "CCA alignment (linear)",
}
PUBLISHED_MARKER = "PUBLISHED"


class PublishedResultsError(PermissionError):
    """A write into the published results folder without ``publish=True``."""


def _repo() -> Path | None:
    repo = Path(__file__).resolve().parents[2]
    return repo if (repo / "vna" / "__init__.py").is_file() and (repo / "pyproject.toml").is_file() else None


def published_dir() -> Path | None:
    """``results/`` of the repository when vna runs from a checkout (the published grid), else None."""
    repo = _repo()
    return repo / "results" if repo is not None and (repo / "results").is_dir() else None


def runs_dir() -> Path:
    """Where runs that are not the published grid go: ``$VNA_RUNS_DIR``, else ``_build/runs`` of the
    checkout, else ``~/.cache/vna/runs`` (untracked in every case)."""
    value = os.environ.get("VNA_RUNS_DIR", "").strip()
    if value:
        return Path(value).expanduser()
    repo = _repo()
    return repo / "_build" / "runs" if repo is not None else Path("~/.cache/vna/runs").expanduser()


def is_published(results_dir: str | os.PathLike) -> bool:
    """True when ``results_dir`` holds the ``PUBLISHED`` marker (or is the repository's ``results/``)."""
    path = Path(results_dir).expanduser()
    pub = published_dir()
    return (path / PUBLISHED_MARKER).is_file() or (pub is not None and path.resolve() == pub.resolve())


def check_results_dir(results_dir: str | os.PathLike, *, publish: bool = False) -> Path:
    """``results_dir`` as a Path when runs may be written there, else an error naming it: an empty name (an
    unset shell variable), a file in the way, the published grid without ``publish=True``, or a folder (or its
    nearest existing parent) where a probe file cannot be written (read-only mount). Checked before any training."""
    if results_dir is None or not str(results_dir).strip():
        raise ValueError(f"the results folder is empty ({str(results_dir)!r}; an unset shell variable?); name a "
                         "folder, or leave the option out to use the runs folder")
    path = Path(results_dir).expanduser()
    existing = path
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise NotADirectoryError(f"results folder {path} cannot be created: {p} is a file")
        if p.exists():
            existing = p
            break
    if is_published(path) and not publish:
        raise PublishedResultsError(
            f"{path} is the published result grid; runs go to {runs_dir()} by default. To change the "
            "published numbers on purpose, pass publish=True (python -m vna reproduce --publish)"
        )
    try:  # a probe file: os.access says yes to root on a read-only mount, and nothing for a folder not made yet
        fd, probe = tempfile.mkstemp(prefix=".vna-probe-", suffix=".tmp", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        where = "" if existing == path else f" (its nearest existing parent {existing})"
        raise PermissionError(f"results folder {path} is not writable{where}: {exc.strerror or exc}") from None
    return path


def protocol_label(split: str, test_responses: str) -> str:
    """``"held-out images, single trials"`` etc.: a protocol as the book names it."""
    return f"{PROTOCOL_LABELS.get(split, split)}, {'single trials' if test_responses == 'trials' else 'trial means'}"


#: Table 1 of the paper (AUC; encoding, decoding and the paper's "average" column, as printed).
PAPER_TABLE1 = pd.DataFrame(
    [
        ("Mouse-movie", "vna", 0.9969, 0.9973, 0.9971),
        ("Mouse-movie", "direct_encoder", 0.9905, 0.9982, 0.9941),
        ("Mouse-movie", "direct_decoder", 0.9956, 0.9973, 0.9962),
        ("Macaque-face", "vna", 0.9104, 0.9213, 0.9126),
        ("Macaque-face", "direct_encoder", 0.8489, 0.9248, 0.8797),
        ("Macaque-face", "direct_decoder", 0.8330, 0.8941, 0.8601),
        ("Macaque-synthetic", "vna", 0.9762, 0.9771, 0.9765),
        ("Macaque-synthetic", "direct_encoder", 0.8427, 0.8803, 0.8582),
        ("Macaque-synthetic", "direct_decoder", 0.7819, 0.8437, 0.8097),
    ],
    columns=["paper_dataset", "method", "encoding_auc", "decoding_auc", "average_auc"],
)

#: Which of our datasets stands in for which of the paper's (they are *not* the same recordings).
PAPER_STAND_INS = {
    "allen-2p-ns118": "Mouse-movie",  # same 118 Allen natural scenes; 2-photon VISp instead of Neuropixels
    "allen-neuropixels": "Mouse-movie",  # the paper's own source (needs a download)
    "cowley2023-v4": "Macaque-synthetic",  # V4, synthetic objects on natural backgrounds, but not Majaj-Hong
    "majajhong2015": "Macaque-synthetic",  # the paper's own source (needs a download)
    "chang2021-face": "Macaque-face",  # the paper's own source (from the authors only)
}


# ---------------------------------------------------------------------------------------------- records
def versions() -> dict[str, str]:
    """Versions of python, torch, numpy and vna, and the CPU that ran the record (stored in every record).

    The CPU matters: PyTorch's CPU kernels (oneDNN) take other code paths on another instruction set, so the same
    seed and code give the same numbers on one kind of CPU, and numbers that differ in the third digit on another
    (seen here: records of 26 Nov rerun on an AVX2 AMD EPYC moved by up to 0.009 AUC)."""
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "vna": getattr(vna, "__version__", "unknown"),
        "cpu": _cpu_model(),
        "cpu_capability": str(torch.backends.cpu.get_cpu_capability()),
    }


@functools.lru_cache(maxsize=1)
def _cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def code_provenance() -> dict[str, Any]:
    """``{"commit": <git HEAD>, "dirty": <uncommitted changes to tracked files>}`` of the checkout vna runs from
    (stored in every new record); ``{"commit": None, "dirty": None}`` outside a checkout or without git."""
    repo = _repo()
    if repo is None or not (repo / ".git").exists():
        return {"commit": None, "dirty": None}
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=repo, capture_output=True, text=True, timeout=10)  # noqa: E731
        head = run("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        # the code's state: results/ (records, MANIFEST) is data the runs write, not code that makes numbers
        status = run("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        return {"commit": head.stdout.strip(), "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def resolved_device(cfg_device: str = "auto") -> str:
    """The device a run with ``device=cfg_device`` uses, with the GPU's name when there is one."""
    import torch

    dev = cfg_device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    if dev.startswith("cuda") and torch.cuda.is_available():
        return f"{dev} ({torch.cuda.get_device_name(torch.device(dev))})"
    return dev


def _check_cfg(cfg: Any) -> RunConfig:
    if not isinstance(cfg, RunConfig):
        raise ValueError(f"expected a vna.study.config.RunConfig; got {type(cfg).__name__}")
    return cfg


def record_path(cfg: RunConfig, results_dir: str | os.PathLike) -> Path:
    """Where the record of ``cfg`` lives: ``<results_dir>/<dataset folder>/<method>-<key>.json``."""
    cfg = _check_cfg(cfg)
    folder = cfg.dataset
    if folder.startswith("folder:"):  # a recording folder: by its content, wherever it lies
        folder = f"folder-{cfg.folder_content()}"
    return Path(results_dir) / folder / f"{cfg.method}-{cfg.key()}.json"


def record_config(rec: dict[str, Any]) -> RunConfig:
    """The RunConfig of a record, keyed as it was saved: a recording folder's by the content the run read (the
    record's ``content_hash``), not by what the folder holds now."""
    cfg = RunConfig.from_dict(rec["config"])
    return cfg.with_content(rec["content_hash"]) if rec.get("content_hash") else cfg


def instances_path(record_json: str | os.PathLike) -> Path:
    """The per-instance AUC file beside a record: same name, ``.instances.csv``."""
    return Path(record_json).with_suffix(".instances.csv")


def is_done(cfg: RunConfig, results_dir: str | os.PathLike) -> bool:
    """True when a readable record for ``cfg`` (and its per-instance file) exists: a rerun skips it."""
    path = record_path(cfg, results_dir)
    if not path.is_file() or not instances_path(path).is_file():
        return False
    try:
        read_record(path)
    except ValueError:
        return False
    return True


def make_record(
    cfg: RunConfig,
    metrics: dict[str, float],
    *,
    seconds: float,
    device: str,
    history: Iterable[dict] | None = None,
    sizes: dict[str, int] | None = None,
    source: str = "grid",
    simulated: bool | None = None,
    per_instance: dict[str, np.ndarray] | None = None,
    best_epoch: int | None = None,
    train_seconds: float | None = None,
    shared_training: bool = False,
    metrics_by_score: dict[str, dict[str, float]] | None = None,
    per_instance_by_score: dict[str, dict[str, np.ndarray]] | None = None,
    instance_images: np.ndarray | None = None,
) -> dict[str, Any]:
    """One run's record (plain JSON types only; ``per_instance`` travels under ``"_instances"`` until
    :func:`save_record` writes it to its own file)."""
    cfg = _check_cfg(cfg)
    missing = [m for m in METRICS if m not in metrics]
    if missing:
        raise ValueError(f"metrics lack {missing}; got keys {sorted(metrics)}")
    clean = {}
    for k, v in metrics.items():
        v = float(v)
        clean[k] = v if math.isfinite(v) else None
    if cfg.device == "auto":  # store the kind that ran it, so that the record reads the same on any machine
        cfg = cfg.replace(device=device_kind(cfg.device))
    rec = {
        "schema": SCHEMA,
        "key": cfg.key(),
        "group": cfg.group_key(),
        "training_key": cfg.training_key(),
        "dataset": cfg.dataset,
        "method": cfg.method,
        "split": cfg.split,
        "responses": cfg.responses,
        "test_responses": cfg.eval_responses,
        "protocol": cfg.protocol,
        "seed": int(cfg.seed),
        "config": cfg.to_dict(),
        "metrics": clean,
        "seconds": float(seconds),
        "train_seconds": float(train_seconds if train_seconds is not None else seconds),
        "shared_training": bool(shared_training),
        "device": str(device),
        "device_kind": device_kind(cfg.device),
        "threads": int(cfg.threads),
        "versions": versions(),
        "code": dict(code_provenance()),
        "history": [
            {k: (float(v) if isinstance(v, (int, float, np.floating, np.integer)) and v is not None else v)
             for k, v in h.items()}
            for h in (history or [])
        ],
        "best_epoch": None if best_epoch is None else int(best_epoch),
        "sizes": {k: int(v) for k, v in (sizes or {}).items()},
        "source": source,
        "simulated": bool(simulated) if simulated is not None else cfg.dataset == "simulated",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if cfg.dataset.startswith("folder:"):  # the content the run read: its key's, whatever the folder holds later
        rec["content_hash"] = cfg.folder_content()
    if metrics_by_score:  # the other scoring rules of vna.scoring, from the same trained model
        rec["metrics_by_score"] = {rule: {k: (float(v) if math.isfinite(float(v)) else None) for k, v in m.items()}
                                   for rule, m in metrics_by_score.items() if rule != "paper"}
    if per_instance is not None:
        rec["_instances"] = {k: np.asarray(v, dtype=np.float64) for k, v in per_instance.items()}
        for rule, per in (per_instance_by_score or {}).items():
            if rule != "paper":
                rec["_instances"].update({f"{task}_{rule}": np.asarray(v, dtype=np.float64) for task, v in per.items()})
        if instance_images is not None:  # the test image of each instance (its response's): image-level bootstrap
            rec["_instances"]["image"] = np.asarray(instance_images, dtype=np.int64)
    return rec


def _instance_column(key: str) -> str:
    """The per-instance file's column of an ``_instances`` key: ``encoding`` -> ``encoding_auc`` (the paper's
    rule), ``encoding_cosine`` -> ``encoding_auc_cosine``."""
    if key == "image":
        return key
    task, _, rule = key.partition("_")
    return f"{task}_auc" + (f"_{rule}" if rule else "")


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, text.encode("utf-8"))


def save_record(record: dict[str, Any], results_dir: str | os.PathLike, *, overwrite: bool = False,
                publish: bool = False) -> Path:
    """Write ``record`` (and its per-instance AUCs) atomically under ``results_dir``; keep an existing one
    unless ``overwrite``. The published grid's folder needs ``publish=True``."""
    for k in ("key", "dataset", "method", "config", "metrics"):
        if k not in record:
            raise ValueError(f"record lacks field {k!r}")
    cfg = record_config(record)
    if cfg.key() != record["key"]:
        raise ValueError(f"record key {record['key']!r} does not match its config's key {cfg.key()!r} "
                         "(made on another kind of device, or edited by hand?)")
    check_results_dir(results_dir, publish=publish)
    path = record_path(cfg, results_dir)
    if path.exists() and not overwrite:
        return path
    record = dict(record)
    inst = record.pop("_instances", None)
    if inst is not None:
        frame = pd.DataFrame({_instance_column(k): np.asarray(v, dtype=np.int64 if k == "image" else np.float64)
                              for k, v in inst.items()})
        # full precision (repr), so that the per-instance mean equals the record's AUC to 1e-9 (verify_record)
        _atomic_write_text(instances_path(path), frame.to_csv(index=False))
    try:
        _atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n")  # last: marks the run done
    except BaseException:
        if inst is not None:  # no per-instance file without its record (a full disk, an interrupt)
            instances_path(path).unlink(missing_ok=True)
        raise
    return path


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """Read one record; a truncated or foreign file raises ValueError naming it."""
    path = Path(path)
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable results record: {exc}") from None
    if not isinstance(rec, dict) or "metrics" not in rec or "config" not in rec:
        raise ValueError(f"{path} is not a vna results record")
    if rec.get("schema") != SCHEMA:
        raise ValueError(f"{path} is a results record of schema {rec.get('schema')!r}, not {SCHEMA}: it was made "
                         "by another version of vna; rerun it (python -m vna reproduce) or move it away")
    return rec


def read_instances(record_json: str | os.PathLike) -> dict[str, np.ndarray]:
    """The per-instance AUCs of a record (``{"encoding": [...], "decoding": [...]}``, float64)."""
    path = instances_path(record_json)
    try:
        frame = pd.read_csv(path, dtype=np.float64)
        if not {"encoding_auc", "decoding_auc"} <= set(frame.columns):
            raise ValueError(f"columns {list(frame.columns)}, not encoding_auc, decoding_auc")
        return {k[: -len("_auc")]: frame[k].to_numpy() for k in ("encoding_auc", "decoding_auc")}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: the per-instance AUCs of {Path(record_json).name} are missing") from None
    except Exception as exc:  # noqa: BLE001 - zip/format errors, named
        raise ValueError(f"{path} is not a readable per-instance AUC file: {exc}") from None


def run_or_load(
    cfg: RunConfig,
    results_dir: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    source: str = "grid",
    force: bool = False,
    publish: bool = False,
) -> tuple[dict[str, Any], Any]:
    """Run ``cfg`` with :func:`vna.study.pipeline.run` and save its record, or load the record when it exists.

    Returns ``(record, output)``; ``output`` is the pipeline's RunOutput, or None when the run was skipped.
    """
    cfg = _check_cfg(cfg)
    check_results_dir(results_dir, publish=publish)
    path = record_path(cfg, results_dir)
    if is_done(cfg, results_dir) and not force:
        return read_record(path), None
    out = run_pipeline(cfg, data_dir=data_dir, progress=progress)
    record = record_from_output(cfg, out, source=source)
    save_record(record, results_dir, overwrite=True, publish=publish)
    record.pop("_instances", None)
    return record, out


def record_from_output(cfg: RunConfig, out: Any, *, seconds: float | None = None, source: str = "grid") -> dict:
    """Build the record of a finished :func:`vna.study.pipeline.run` output (keyed by the recording content it read)."""
    if getattr(out, "content", None):
        cfg = cfg.with_content(out.content)
    device = resolved_device(str(getattr(out, "device", None) or cfg.device))
    train, test = out.train, out.test
    sizes = {
        "train_images": train.n_images,
        "train_responses": train.n_responses,
        "test_images": test.n_images,
        "test_responses": test.n_responses,
        "neurons": test.n_neurons,
    }
    val = getattr(out, "val", None)
    if val is not None:
        sizes.update(val_images=val.n_images, val_responses=val.n_responses)
    history = [dict(h) for h in (out.history or [])]
    simulated = bool(test.meta.get("simulated", cfg.dataset == "simulated"))
    return make_record(
        cfg, out.metrics, seconds=seconds if seconds is not None else out.seconds, device=device,
        history=history, sizes=sizes, source=source, simulated=simulated,
        per_instance=getattr(out, "per_instance", None) or None,
        best_epoch=getattr(out.history, "best_epoch", None),
        train_seconds=getattr(out, "train_seconds", None), shared_training=getattr(out, "shared_training", False),
        metrics_by_score={r: ev.metrics for r, ev in (getattr(out, "by_score", None) or {}).items()},
        per_instance_by_score={r: ev.per_instance for r, ev in (getattr(out, "by_score", None) or {}).items()},
        instance_images=test.match.cpu().numpy(),
    )


# ---------------------------------------------------------------------------------------------- tables
def group_key(config: dict[str, Any]) -> str:
    """The config group of a record's config: runs that differ only by seed share it."""
    return RunConfig.from_dict(config).group_key()


def signature(config: RunConfig | dict[str, Any]) -> str:
    """What a grid definition names: the config without seed, device and threads (the execution
    environment), normalised like the key (fields added later count only when they differ from their
    default), so that one grid matches its records whatever ran them and whenever."""
    import hashlib

    cfg = config if isinstance(config, RunConfig) else RunConfig.from_dict(dict(config))
    try:
        d = cfg._keyed()
    except FileNotFoundError:  # a recording folder that is not there any more: its path stands in
        d = cfg.to_dict()
    for k in ("seed", "device", "threads"):
        d.pop(k, None)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------- verification
@dataclass(frozen=True)
class Finding:
    """One problem of the store, named by the file it is about."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


class StoreError(ValueError):
    """Findings in a results folder read with ``strict=True`` (``--strict``); ``findings`` lists them all."""

    def __init__(self, findings: list[Finding]):
        self.findings = list(findings)
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        super().__init__(f"{len(findings)} problem(s) in the results store: {findings[0]}{more}")


def _rules(rec: dict) -> list[tuple[str, dict, str]]:
    """``(rule, metrics, instance-column suffix)`` for every scoring rule a record holds: the paper's rule
    (top-level ``metrics``, columns ``encoding_auc``/``decoding_auc``) and each rule of ``metrics_by_score``
    (columns ``encoding_auc_<rule>``/``decoding_auc_<rule>``), so that adding a rule needs no new check."""
    out = [("paper", rec.get("metrics") or {}, "")]
    by_score = rec.get("metrics_by_score") or {}
    if isinstance(by_score, dict):
        out += [(str(rule), m if isinstance(m, dict) else {}, "" if rule == "paper" else f"_{rule}")
                for rule, m in sorted(by_score.items())]  # the paper rule's instances are the plain columns
    return out


def _where(rule: str) -> str:
    return "" if rule == "paper" else f" (rule {rule!r})"


def _check_aucs_in_range(ctx: dict) -> list[str]:
    bad = []
    for rule, m, _ in _rules(ctx["rec"]):
        for k in METRICS:
            v = m.get(k)
            if v is None and k in m:  # a run whose AUC was not finite: stored as null, shown as n/a
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                bad.append(f"{k}{_where(rule)} is {v!r}, not a number")
            elif not 0.0 <= v <= 1.0:
                bad.append(f"{k}{_where(rule)} = {v!r} lies outside [0, 1]")
    return bad


def _check_mean_auc(ctx: dict) -> list[str]:
    bad = []
    for rule, m, _ in _rules(ctx["rec"]):
        e, d, a = (m.get(k) for k in METRICS)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (e, d, a)):
            if abs(a - 0.5 * (e + d)) > 1e-9:
                bad.append(f"mean_auc{_where(rule)} = {a!r} is not the mean of encoding_auc {e!r} and "
                           f"decoding_auc {d!r}")
    return bad


def _read_instance_table(path: Path) -> tuple[pd.DataFrame, float]:
    """The per-instance file and the tolerance its stored precision allows for its mean: half a unit of the
    last decimal written (older files store 5 decimals, so their mean can differ from the
    record's AUC by up to 5e-6); files written in full precision get 1e-9."""
    text = path.read_text(encoding="utf-8")
    frame = pd.read_csv(io.StringIO(text), dtype=np.float64)
    decimals = max((len(m) for m in re.findall(r"\.(\d+)", text)), default=0)
    return frame, max(1e-9, 0.5 * 10.0 ** -decimals)


def _check_instances(ctx: dict) -> list[str]:
    path = instances_path(ctx["path"])
    try:
        frame, tol = _read_instance_table(path)
    except FileNotFoundError:
        return [f"its per-instance AUCs {path.name} are missing"]
    except Exception as exc:  # noqa: BLE001 - any unreadable file, named
        return [f"its per-instance AUCs {path.name} are not readable: {type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"]
    bad = []
    for rule, m, suffix in _rules(ctx["rec"]):
        for task in ("encoding", "decoding"):
            col = f"{task}_auc{suffix}"
            if col not in frame.columns:
                bad.append(f"{path.name} has no column {col}")
                continue
            v = frame[col].to_numpy()
            want = m.get(f"{task}_auc")
            if want is None:  # not finite in the record (null): nothing to compare
                continue
            if len(v) == 0 or not np.isfinite(v).all() or v.min() < 0 or v.max() > 1:
                bad.append(f"{path.name} column {col}: {len(v)} value(s), not all in [0, 1]")
                continue
            if isinstance(want, (int, float)) and math.isfinite(want) and abs(float(v.mean()) - want) > tol:
                bad.append(f"{path.name} column {col} has mean {float(v.mean())!r}, but the record says "
                           f"{task}_auc{_where(rule)} = {want!r} (tolerance {tol:.1g})")
    return bad


#: The per-record checks of :func:`verify_record`, in order: each takes ``{"path", "rec", "root"}`` and returns
#: a list of problems (empty when the record passes). Add a check by appending a function.
RECORD_CHECKS = [_check_aucs_in_range, _check_mean_auc, _check_instances]


def _layout_problem(path: Path, rec: dict, root: Path) -> str | None:
    """Why ``path`` is not where the store keeps ``rec`` (key recomputed from the config), or None."""
    try:
        cfg = record_config(rec)
    except Exception as exc:  # noqa: BLE001 - ConfigError and friends: named, the record left out
        text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)  # KeyError quotes str()
        return f"its config is not valid: {text.strip().splitlines()[0] if text.strip() else repr(exc)}"
    try:
        key = cfg.key()
    except FileNotFoundError:  # a recording folder that is not there any more: its key cannot be recomputed
        key = rec.get("key")
    if rec.get("key") != key:
        if cfg.dataset.startswith("folder:") and not rec.get("content_hash"):
            return (f"its key {rec.get('key')!r} is not its config's key {key!r} for what {cfg.dataset[7:]} holds now: "
                    "the folder changed since the run, and the record does not say which content the run read")
        return f"its key {rec.get('key')!r} is not its config's key {key!r} (config edited by hand?)"
    if path.name != f"{cfg.method}-{key}.json":
        return f"its name should be {cfg.method}-{key}.json (a copy?)"
    if cfg.dataset.startswith("folder:"):
        ok = path.parent.name.startswith("folder-")
        want = "folder-<hash>"
    else:
        ok = path.parent.name == cfg.dataset
        want = cfg.dataset
    if not ok or path.parent.parent != root:
        return f"it lies in {path.parent.name}/, not {want}/ (a copy of a folder?)"
    return None


def verify_record(path: str | os.PathLike, rec: dict | None = None, root: str | os.PathLike | None = None) -> list[str]:
    """The problems of one record (empty when it passes): its place in the store (:func:`_layout_problem`), then
    every check of :data:`RECORD_CHECKS`."""
    path = Path(path)
    rec = read_record(path) if rec is None else rec
    root = Path(root) if root is not None else path.parent.parent
    problem = _layout_problem(path, rec, root)
    if problem:
        return [problem]
    ctx = {"path": path, "rec": rec, "root": root}
    return [p for check in RECORD_CHECKS for p in check(ctx)]


_TMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp$")


def _store_files(root: Path) -> tuple[list[Path], list[Finding]]:
    """The record files of the store's layout (``<root>/<folder>/*.json``) and notes on the files outside it."""
    notes = []
    paths = []
    for p in sorted(root.rglob("*.json")):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):  # .submitit logs, temporary files
            continue
        if len(rel.parts) != 2:
            notes.append(Finding(str(p), "outside the store's layout (<folder>/<method>-<key>.json); ignored"))
            continue
        paths.append(p)
    return paths, notes


def verify_store(results_dir: str | os.PathLike) -> tuple[list[tuple[Path, dict]], list[Finding]]:
    """Every record of ``results_dir`` that passes :func:`verify_record`, and a :class:`Finding` for each file that
    does not (named by path, left out) or lies outside the layout. One record per key: a second file with the same
    key is never counted."""
    root = Path(results_dir)
    paths, findings = _store_files(root)
    good: list[tuple[Path, dict]] = []
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            rec = read_record(path)
        except ValueError as exc:
            findings.append(Finding(str(path), str(exc).replace(f"{path} ", "", 1)))
            continue
        problems = verify_record(path, rec, root)
        if not problems and rec["key"] in seen:
            problems = [f"a second record of key {rec['key']} (the first is {seen[rec['key']]}); not counted"]
        if problems:
            findings.extend(Finding(str(path), pr + "; left out") for pr in problems)
            continue
        seen[rec["key"]] = path
        good.append((path, rec))
    return good, findings


_COLUMNS = [
    "dataset", "method", "split", "responses", "test_responses", "protocol", "seed", "epochs", "best_epoch",
    "key", "group", "signature", *METRICS, "encoding_top1", "encoding_top5", "decoding_top1", "decoding_top5",
    "seconds", "train_seconds", "device", "device_kind", "threads", "source", "simulated", "created", "commit",
    "cpu", "path",
]
_METRIC_COLUMNS = [*METRICS, "encoding_top1", "encoding_top5", "decoding_top1", "decoding_top5"]
#: The other scoring rules' AUCs (vna.scoring), ``<metric>_<rule>``: NaN for a record made before them.
_RULE_COLUMNS = [f"{m}_{rule}" for rule in SCORES if rule != DEFAULT_SCORE for m in METRICS]
_COLUMNS[_COLUMNS.index("seconds"):_COLUMNS.index("seconds")] = _RULE_COLUMNS


def load_records(results_dir: str | os.PathLike, *, strict: bool = False,
                 findings: list | None = None) -> pd.DataFrame:
    """Every record under ``results_dir`` that passes :func:`verify_store`, one row each (empty frame when there is
    none). A record that fails is left out and named: appended to ``findings`` when given, else a warning;
    ``strict=True`` raises :class:`StoreError` instead. ``commit`` is the code's commit and ``cpu`` the
    processor that ran it (``None``: not recorded, in records made before 1 Dec 2026)."""
    good, found = verify_store(results_dir)
    if found:
        if strict:
            raise StoreError(found)
        if findings is not None:
            findings.extend(found)
        else:
            warnings.warn(f"{len(found)} problem(s) in {results_dir}, records left out: " + "; ".join(map(str, found[:5]))
                          + (" ..." if len(found) > 5 else ""), stacklevel=2)
    rows = []
    for path, rec in good:
        m = rec["metrics"]
        cfg = rec["config"]
        code = rec.get("code") if isinstance(rec.get("code"), dict) else {}
        rows.append({
            "dataset": rec["dataset"], "method": rec["method"], "split": rec["split"],
            "responses": rec["responses"], "test_responses": rec["test_responses"], "protocol": rec["protocol"],
            "seed": rec["seed"], "epochs": cfg.get("epochs"), "best_epoch": rec.get("best_epoch"),
            "key": rec["key"], "group": rec["group"], "signature": signature(record_config(rec)),
            **{k: (np.nan if m.get(k) is None else m.get(k)) for k in _METRIC_COLUMNS},
            **_rule_values(rec),
            "seconds": rec.get("seconds"), "train_seconds": rec.get("train_seconds"), "device": rec.get("device"),
            "device_kind": rec.get("device_kind"), "threads": rec.get("threads"), "source": rec.get("source"),
            "simulated": rec.get("simulated"), "created": rec.get("created"),
            "commit": (code.get("commit") + ("+dirty" if code.get("dirty") else "")) if code.get("commit") else None,
            "cpu": (rec.get("versions") or {}).get("cpu"),
            "path": str(path),
        })
    return pd.DataFrame(rows, columns=_COLUMNS)


def _rule_values(rec: dict) -> dict[str, float]:
    by_score = rec.get("metrics_by_score") or {}
    out = {}
    for col in _RULE_COLUMNS:
        metric, rule = col.rsplit("_", 1)
        v = (by_score.get(rule) or {}).get(metric)
        out[col] = np.nan if v is None else v
    return out


# ---------------------------------------------------------------------------------------------- manifest
MANIFEST = "MANIFEST"


def _manifest_files(root: Path) -> list[Path]:
    """The files MANIFEST lists: every file below ``root`` but MANIFEST itself and the temporary files of an
    interrupted atomic write (``.<name>.<random>.tmp``, a ``.MANIFEST.*.tmp`` included), which are not the grid's."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).as_posix() != MANIFEST
                  and not _TMP_NAME.match(p.name))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(results_dir: str | os.PathLike) -> Path:
    """Write ``<results_dir>/MANIFEST``: the sha256 of every other file below it, one ``<sha256>  <path>`` line
    each (``sha256sum -c`` reads it), sorted, atomically."""
    root = Path(results_dir)
    lines = [f"{_sha256(p)}  {p.relative_to(root).as_posix()}\n" for p in _manifest_files(root)]
    path = root / MANIFEST
    _atomic_write_text(path, "".join(lines))
    return path


def check_manifest(results_dir: str | os.PathLike) -> list[Finding]:
    """What differs between ``results_dir`` and its MANIFEST: each changed, unlisted or missing file, named
    (one finding when there is no MANIFEST)."""
    root = Path(results_dir)
    path = root / MANIFEST
    if not path.is_file():
        return [Finding(str(path), "missing: the published grid has no MANIFEST (python -m vna report "
                                   "--write-manifest --publish)")]
    listed: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest):
            return [Finding(str(path), f"line {n} is not '<sha256>  <path>'")]
        listed[name] = digest
    found = []
    present = {p.relative_to(root).as_posix(): p for p in _manifest_files(root)}
    for name, p in present.items():
        if name not in listed:
            found.append(Finding(str(p), "not listed in MANIFEST (added by hand?)"))
        elif _sha256(p) != listed[name]:
            found.append(Finding(str(p), "differs from its sha256 in MANIFEST (edited by hand?)"))
    for name in sorted(set(listed) - set(present)):
        found.append(Finding(str(root / name), "listed in MANIFEST but missing (deleted by hand?)"))
    return found


# ---------------------------------------------------------------------------------------------- clean-up
def clean_stale_files(results_dir: str | os.PathLike, min_age_s: float = 60.0) -> list[Path]:
    """Remove what interrupted writes left in ``results_dir``: temporary files of :func:`_atomic_write`
    (``.<name>.<random>.tmp``) and per-instance files without their record (the record is written last), each
    older than ``min_age_s`` (so that a concurrent shard's write in progress is left alone). Returns the removed."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    now = time.time()
    removed = []
    for folder in [root, *(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))]:
        for p in folder.iterdir():
            stale = (_TMP_NAME.match(p.name) and not p.name.startswith(".vna-probe-")) or (
                p.name.endswith(".instances.csv") and not p.with_name(p.name[: -len(".instances.csv")] + ".json").exists())
            try:
                if stale and p.is_file() and now - p.stat().st_mtime >= min_age_s:
                    p.unlink()
                    removed.append(p)
            except FileNotFoundError:  # removed meanwhile by its writer
                pass
    return removed


def load_histories(records: pd.DataFrame) -> pd.DataFrame:
    """The per-epoch training history of each record in ``records`` (one row per run × epoch): dataset,
    method, split, test_responses, seed, key, best_epoch and the history's own columns (epoch, loss,
    val_loss, val_mean_auc, ...). Runs that shared one training appear once."""
    rows = []
    seen = set()
    for r in records.itertuples(index=False):
        rec = read_record(r.path)
        if rec.get("training_key") in seen:
            continue
        seen.add(rec.get("training_key"))
        for h in rec.get("history", []):
            rows.append({"dataset": r.dataset, "method": r.method, "split": r.split, "test_responses": r.test_responses,
                         "seed": r.seed, "key": r.key, "best_epoch": rec.get("best_epoch"), **h})
    return pd.DataFrame(rows)


def _t_halfwidth(values: np.ndarray, level: float = 0.95) -> float:
    values = values[np.isfinite(values)]
    n = len(values)
    if n < 2:
        return float("nan")
    from scipy import stats

    sd = float(np.std(values, ddof=1))
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n))


_ROW_KEYS = ["dataset", "method", "split", "test_responses"]


def summarize(records: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean and ``level`` t-interval half-width over seeds, per dataset × method × protocol × config group.

    Columns: dataset, method, split, responses, test_responses, protocol, epochs, group, n_seeds, seeds,
    and for each metric ``<metric>`` (mean) and ``<metric>_ci`` (half-width; NaN with one seed).
    """
    cols = [*_ROW_KEYS, "responses", "protocol", "epochs", "group", "signature", "n_seeds", "seeds", "device_kind",
            "threads", "best_epoch"]
    cols += [c for m in METRICS for c in (m, f"{m}_ci")]
    if records.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for keys, g in records.groupby([*_ROW_KEYS, "group"], sort=True):
        row = dict(zip([*_ROW_KEYS, "group"], keys))
        first = g.iloc[0]
        row.update(responses=first["responses"], protocol=first["protocol"], epochs=first["epochs"],
                   signature=first["signature"],
                   n_seeds=int(g["seed"].nunique()), seeds=" ".join(str(s) for s in sorted(g["seed"].unique())),
                   device_kind=first["device_kind"], threads=first["threads"],
                   best_epoch=float(pd.to_numeric(g["best_epoch"], errors="coerce").mean()))
        for m in METRICS:
            v = g[m].to_numpy(dtype=float)
            row[m] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
            row[f"{m}_ci"] = _t_halfwidth(v, level)
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def select_groups(summary: pd.DataFrame, grid: Iterable[RunConfig] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """One config group per dataset × method × protocol: ``(table, notes)``.

    With ``grid`` (the RunConfigs of a grid definition) only the groups it names are kept, matched by
    :func:`signature` (whatever device and thread count ran them). Where more than one
    group remains for a row, the one with the most seeds is shown, ties broken by the smaller group key
    (never by date), and a note says which was chosen and what was left out.
    """
    notes: list[str] = []
    if summary.empty:
        return summary.copy(), notes
    table = summary
    if grid is not None:
        wanted = {signature(c) for c in grid}
        table = table[table["signature"].isin(wanted)]
    kept = []
    for keys, g in table.groupby(_ROW_KEYS, sort=True):
        g = g.sort_values(["n_seeds", "group"], ascending=[False, True])
        kept.append(g.iloc[0])
        if len(g) > 1:
            other = ", ".join(f"{r.group} ({r.n_seeds} seeds)" for r in g.iloc[1:].itertuples())
            notes.append(f"{keys[0]} {keys[1]} {keys[2]}/{keys[3]}: {len(g)} configurations; showing "
                         f"{g.iloc[0]['group']} ({g.iloc[0]['n_seeds']} seeds, the most), not {other}")
    out = pd.DataFrame(kept).reset_index(drop=True) if kept else table.iloc[:0].copy()
    order = {m: i for i, m in enumerate(METHOD_LABELS)}
    split_order = {"images": 0, "trials": 1, "none": 2}
    if len(out):
        out = (out.assign(_m=out["method"].map(order).fillna(99), _s=out["split"].map(split_order).fillna(9))
               .sort_values(["dataset", "_s", "test_responses", "_m"], ascending=[True, True, False, True])
               .drop(columns=["_m", "_s"]).reset_index(drop=True))
    return out, notes


def main_table(summary: pd.DataFrame, grid: Iterable[RunConfig] | None = None) -> pd.DataFrame:
    """:func:`select_groups` without its notes: one row per dataset × method × protocol."""
    return select_groups(summary, grid)[0]


def _fmt(mean: float, ci: float, digits: int = 4) -> str:
    if not math.isfinite(mean):
        return "n/a"
    if not math.isfinite(ci):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {ci:.{digits}f}"


def format_table(table: pd.DataFrame, with_paper: bool = True) -> pd.DataFrame:
    """A display table: mean ± 95 % CI strings, the paper's Table 1 values beside them where one is comparable."""
    rows = []
    for _, r in table.iterrows():
        row = {
            "dataset": r["dataset"],
            "method": METHOD_LABELS.get(r["method"], r["method"]),
            "protocol": protocol_label(r["split"], r["test_responses"]),
            "seeds": int(r["n_seeds"]),
            "encoding AUC": _fmt(r["encoding_auc"], r["encoding_auc_ci"]),
            "decoding AUC": _fmt(r["decoding_auc"], r["decoding_auc_ci"]),
            "average AUC": _fmt(r["mean_auc"], r["mean_auc_ci"]),
        }
        if with_paper:
            paper = PAPER_STAND_INS.get(r["dataset"])
            hit = PAPER_TABLE1[(PAPER_TABLE1.paper_dataset == paper) & (PAPER_TABLE1.method == r["method"])]
            if len(hit):
                h = hit.iloc[0]
                row["paper (stand-in for)"] = paper
                row["paper enc / dec / avg"] = f"{h.encoding_auc:.4f} / {h.decoding_auc:.4f} / {h.average_auc:.4f}"
            else:
                row["paper (stand-in for)"] = "—"
                row["paper enc / dec / avg"] = "—"
        rows.append(row)
    return pd.DataFrame(rows)


def paper_average_check(tol: float = 5e-5) -> pd.DataFrame:
    """Table 1 with the mean of its encoding and decoding columns and whether the printed average equals it.

    ``consistent`` is True when the printed average is the two-column mean rounded to 4 decimals
    (within ``tol``, allowing for either rounding of a trailing 5). ``implied_encoding_weight`` is the
    ``w`` for which the printed average equals ``w * encoding + (1 - w) * decoding``; a pooled mean over
    the two tasks' test instances would give one ``w`` per dataset, shared by the three methods.
    """
    t = PAPER_TABLE1.copy()
    t["mean_of_columns"] = (t["encoding_auc"] + t["decoding_auc"]) / 2
    t["difference"] = (t["average_auc"] - t["mean_of_columns"]).round(5)
    t["consistent"] = (t["difference"].abs() <= tol + 1e-12)
    # The weight w with average = w * encoding + (1 - w) * decoding (NaN where the columns are equal).
    gap = t["decoding_auc"] - t["encoding_auc"]
    t["implied_encoding_weight"] = ((t["decoding_auc"] - t["average_auc"]) / gap.where(gap != 0)).round(3)
    return t
