"""One run's record: its config, what it measured under every scoring rule, and how and where it ran.

A :class:`RunRecord` is made by the pipeline (:func:`vna.study.pipeline.run`, or :meth:`RunRecord.from_run` for a
model trained in view), written and read by the store (:mod:`vna.study.store`: :meth:`RunRecord.to_json` and the
per-instance AUCs beside it) and turned into a table row in one place (:meth:`RunRecord.row`). Its keys and its
signature are its config's (:meth:`vna.study.config.RunConfig.key`), derived when asked. Every new record stores the
versions and the CPU that made it (:func:`versions`) and the code's commit (:func:`code_provenance`).
"""
from __future__ import annotations

import datetime as _dt
import functools
import math
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import vna

from ..data.preprocess import PairedParts
from .config import RunConfig, device_kind

__all__ = ["SCHEMA", "METRICS", "COLUMNS", "RunRecord", "record_config", "instance_column", "versions",
           "code_provenance", "resolved_device"]

SCHEMA = 2
METRICS = ("encoding_auc", "decoding_auc", "mean_auc")
_TOP_K = ("encoding_top1", "encoding_top5", "decoding_top1", "decoding_top5")
#: The columns of :meth:`RunRecord.row` (and so of :func:`vna.study.store.load_records`).
COLUMNS = ["dataset", "method", "split", "responses", "test_responses", "protocol", "seed", "epochs", "best_epoch",
           "key", "group", "signature", "score", *METRICS, *_TOP_K, "seconds", "train_seconds", "device",
           "device_kind", "threads", "source", "simulated", "created", "commit", "cpu", "neurons", "n_test_images",
           "n_test_responses", "n_distractors", "test_train_ratio", "path"]


def _repo() -> Path | None:
    """The checkout vna runs from, or None (an installed copy)."""
    repo = Path(__file__).resolve().parents[2]
    return repo if (repo / "vna" / "__init__.py").is_file() and (repo / "pyproject.toml").is_file() else None


def versions() -> dict[str, str]:
    """Versions of python, torch, numpy and vna, and the CPU that ran the record (stored in every record).

    The CPU matters: PyTorch's CPU kernels (oneDNN) take other code paths on another instruction set, so the same
    seed and code give the same numbers on one kind of CPU, and numbers that differ in the third digit on another
    (seen here: records of 26 Nov rerun on an AVX2 AMD EPYC moved by up to 0.009 AUC)."""
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "vna": getattr(vna, "__version__", "unknown"), "cpu": _cpu_model(),
            "cpu_capability": str(torch.backends.cpu.get_cpu_capability())}


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


def instance_column(task: str, rule: str = "paper") -> str:
    """The per-instance file's column of ``task`` under ``rule``: ``encoding_auc`` (the paper's rule),
    ``encoding_auc_cosine``, ..."""
    return f"{task}_auc" + ("" if rule == "paper" else f"_{rule}")


def record_config(d: Mapping[str, Any]) -> RunConfig:
    """The RunConfig of a record's JSON object, keyed as it was saved: a recording folder's by the content the run
    read (``content_hash``), not by what the folder holds now."""
    cfg = RunConfig.from_dict(d["config"])
    return cfg.with_content(d["content_hash"]) if d.get("content_hash") else cfg


def _number(v: Any) -> float | None:
    return None if v is None or not math.isfinite(float(v)) else float(v)  # stored as null, shown as n/a


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(eq=False)
class RunRecord:
    """One run's record (the module docstring); checked and normalised when made.

    ``metrics``: scoring rule (:mod:`vna.scoring`) -> its metrics (``encoding_auc``, ``decoding_auc``,
    ``mean_auc``, top-k), the paper's rule first; a non-finite value is kept as ``None``. ``instances``: the
    per-instance file's columns (:func:`instance_column`, and ``image``: the test image of each instance), written
    beside the record. ``config``: as the run ran it (``"auto"`` stored as the device kind that ran it, a recording
    folder keyed by the content it read). ``path``: where the store read it from. ``model``, ``parts`` and
    ``scores`` (the paper rule's score matrix) are in memory after a run only, never written."""

    config: RunConfig
    metrics: dict[str, dict[str, float | None]]
    seconds: float
    device: str
    train_seconds: float | None = None
    shared_training: bool = False
    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    sizes: dict[str, int] = field(default_factory=dict)
    source: str = "grid"
    simulated: bool | None = None
    instances: dict[str, np.ndarray] | None = None
    versions: dict = field(default_factory=versions)
    code: dict | None = field(default_factory=lambda: dict(code_provenance()))
    created: str = field(default_factory=_now)
    path: Path | None = None
    model: Any = field(default=None, repr=False)
    parts: PairedParts | None = field(default=None, repr=False)
    scores: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.config, RunConfig):
            raise ValueError(f"expected a vna.study.config.RunConfig; got {type(self.config).__name__}")
        if self.config.device == "auto":  # the kind that ran it, so that the record reads the same on any machine
            self.config = self.config.replace(device=device_kind("auto"))
        paper = self.metrics.get("paper", {})
        missing = [m for m in METRICS if m not in paper]
        if missing:
            raise ValueError(f"metrics lack {missing}; got keys {sorted(paper)}")
        self.metrics = {"paper": {k: _number(v) for k, v in paper.items()},
                        **{r: {k: _number(v) for k, v in m.items()} for r, m in self.metrics.items() if r != "paper"}}
        self.seconds = float(self.seconds)
        self.train_seconds = self.seconds if self.train_seconds is None else float(self.train_seconds)
        self.history = [{k: float(v) if isinstance(v, (int, float, np.floating, np.integer)) else v
                         for k, v in h.items()} for h in self.history]
        self.best_epoch = None if self.best_epoch is None else int(self.best_epoch)
        self.sizes = {k: int(v) for k, v in self.sizes.items()}
        self.simulated = self.config.dataset == "simulated" if self.simulated is None else bool(self.simulated)
        if self.instances is not None:
            self.instances = {k: np.asarray(v, dtype=np.int64 if k == "image" else np.float64)
                              for k, v in self.instances.items()}

    # ------------------------------------------------------------------------------------ made by a run
    @classmethod
    def from_run(cls, cfg: RunConfig, evaluations: Mapping[str, Any], parts: PairedParts, history, *,
                 seconds: float, device: str, train_seconds: float | None = None, shared_training: bool = False,
                 source: str = "grid", model=None) -> "RunRecord":
        """The record of ``cfg`` trained on ``parts.train`` (``history``: :func:`vna.fit`'s) and evaluated on
        ``parts.test``: ``evaluations`` maps each scoring rule to its :class:`vna.evaluation.Evaluation`
        (:func:`vna.evaluation.evaluate_rules`); ``device``: the device it ran on."""
        train, test, val = parts
        sizes = {"train_images": train.n_images, "train_responses": train.n_responses, "test_images": test.n_images,
                 "test_responses": test.n_responses, "neurons": test.n_neurons}
        if val is not None:
            sizes.update(val_images=val.n_images, val_responses=val.n_responses)
        instances = {instance_column(task, rule): v for rule, ev in evaluations.items()
                     for task, v in (ev.per_instance or {}).items()}
        if instances:
            instances["image"] = test.match.cpu().numpy()  # the test image of each instance: image-level bootstrap
        paper = evaluations.get("paper")
        return cls(cfg, {rule: ev.metrics for rule, ev in evaluations.items()}, seconds, resolved_device(str(device)),
                   train_seconds=train_seconds, shared_training=shared_training, history=[dict(h) for h in history],
                   best_epoch=getattr(history, "best_epoch", None), sizes=sizes, source=source,
                   simulated=bool(test.meta.get("simulated", cfg.dataset == "simulated")),
                   instances=instances or None, model=model, parts=parts,
                   scores=None if paper is None else paper.scores)

    # ------------------------------------------------------------------------------------ its JSON form
    def to_json(self) -> dict[str, Any]:
        """The record as the store writes it (plain JSON types; the per-instance AUCs go to their own file)."""
        c = self.config
        out = {"schema": SCHEMA, "key": c.key(), "group": c.group_key(), "training_key": c.training_key(),
               "dataset": c.dataset, "method": c.method, "split": c.split, "responses": c.responses,
               "test_responses": c.eval_responses, "protocol": c.protocol, "seed": c.seed, "config": c.to_dict(),
               "metrics": self.metrics["paper"], "seconds": self.seconds, "train_seconds": self.train_seconds,
               "shared_training": bool(self.shared_training), "device": str(self.device),
               "device_kind": device_kind(c.device), "threads": c.threads, "versions": self.versions,
               "code": self.code, "history": self.history, "best_epoch": self.best_epoch, "sizes": self.sizes,
               "source": self.source, "simulated": self.simulated, "created": self.created}
        if c.dataset.startswith("folder:"):  # the content the run read: its key's, whatever the folder holds later
            out["content_hash"] = c.folder_content()
        if len(self.metrics) > 1:  # the other scoring rules of vna.scoring, from the same trained model
            out["metrics_by_score"] = {r: m for r, m in self.metrics.items() if r != "paper"}
        if self.code is None:
            del out["code"]
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any], path: Path | None = None) -> "RunRecord":
        """The record of a JSON object the store wrote (a recording folder's config keyed by the content the run
        read, ``content_hash``, not by what the folder holds now)."""
        return cls(record_config(d), {"paper": d["metrics"], **(d.get("metrics_by_score") or {})}, d.get("seconds", math.nan),
                   d.get("device"), train_seconds=d.get("train_seconds"),
                   shared_training=d.get("shared_training", False), history=d.get("history") or [],
                   best_epoch=d.get("best_epoch"), sizes=d.get("sizes") or {}, source=d.get("source"),
                   simulated=d.get("simulated"), versions=d.get("versions") or {},
                   code=d.get("code") if isinstance(d.get("code"), dict) else None, created=d.get("created"),
                   path=path)

    # ------------------------------------------------------------------------------------ its table row
    def row(self, score: str = "paper") -> dict[str, Any] | None:
        """The record's row (:data:`COLUMNS`) under the scoring rule ``score``, or None where it does not carry
        that rule: records made before the scoring rules carry the paper's only, and a rule whose ``mean_auc`` is
        not finite is not carried (the paper's rule always is). ``commit`` is the code's (``+dirty`` for
        uncommitted changes), ``cpu`` the processor that ran it (``None``: not recorded, before 1 Dec 2026)."""
        m = self.metrics.get(score)
        if m is None or (score != "paper" and m.get("mean_auc") is None):
            return None
        c, code, sizes = self.config, self.code or {}, self.sizes
        unit = "images" if c.split == "images" else "responses"  # what the split draws
        if sizes.get(f"train_{unit}") and sizes.get(f"test_{unit}"):
            ratio = sizes[f"test_{unit}"] / sizes[f"train_{unit}"]
        else:  # no sizes: from the config's fractions
            ratio = c.test_fraction / ((1 - c.test_fraction) * (1 - c.val_fraction))
        return {"dataset": c.dataset, "method": c.method, "split": c.split, "responses": c.responses,
                "test_responses": c.eval_responses, "protocol": c.protocol, "seed": c.seed, "epochs": c.epochs,
                "best_epoch": self.best_epoch, "key": c.key(), "group": c.group_key(), "signature": c.signature(),
                "score": score, **{k: math.nan if m.get(k) is None else m[k] for k in (*METRICS, *_TOP_K)},
                "seconds": self.seconds, "train_seconds": self.train_seconds, "device": self.device,
                "device_kind": device_kind(c.device), "threads": c.threads, "source": self.source,
                "simulated": self.simulated, "created": self.created,
                "commit": (code["commit"] + ("+dirty" if code.get("dirty") else "")) if code.get("commit") else None,
                "cpu": self.versions.get("cpu"), "neurons": sizes.get("neurons"),
                "n_test_images": sizes.get("test_images"), "n_test_responses": sizes.get("test_responses"),
                "n_distractors": c.n_distractors, "test_train_ratio": ratio,
                "path": None if self.path is None else str(self.path)}
