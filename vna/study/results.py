"""The results store: one JSON record (and its per-instance AUCs) per run, keyed by its config (DESIGN.md).

Layout: ``<results_dir>/<dataset>/<method>-<RunConfig.key()>.json`` and, beside it,
``<method>-<key>.instances.csv`` with the encoding and decoding AUC of every test instance (5 decimals; the
hierarchical bootstrap of :mod:`vna.stats` resamples them). Each
record holds the full config, the metrics of :func:`vna.evaluate`, wall times, the device (kind and name),
the thread count, the package versions and the training history. Both files are written atomically
(temporary file + ``os.replace``; the JSON last), so an interrupted grid leaves only finished runs and a
rerun skips them; a run with other settings has another key and adds files instead of overwriting any.

Two kinds of folder (issue "Trust"):

* the **published grid**: ``results/`` of the repository (:func:`published_dir`), marked by a file
  ``PUBLISHED``. It changes only when someone means it to: writing into a marked folder raises
  :class:`PublishedResultsError` unless ``publish=True`` (``python -m vna reproduce --publish``);
* **runs**: everything else -- notebook runs, ad-hoc and quick runs -- goes to :func:`runs_dir`
  (``$VNA_RUNS_DIR``, else ``_build/runs`` of the checkout, else ``~/.cache/vna/runs``), never tracked.

Tables never mix configurations: :func:`select_groups` keeps, per dataset x method x protocol, the
configuration a grid definition names (or, without one, says which it chose and why).
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

import vna

from ..data.user import folder_hash
from .config import PROTOCOL_LABELS, RunConfig, device_kind
from .pipeline import run as run_pipeline

__all__ = [
    "SCHEMA", "METRICS", "METHOD_LABELS", "PAPER_TABLE1", "PAPER_STAND_INS", "PUBLISHED_MARKER",
    "PublishedResultsError", "published_dir", "runs_dir", "is_published", "check_results_dir",
    "record_path", "instances_path", "is_done", "make_record", "save_record", "read_record", "read_instances",
    "run_or_load", "record_from_output", "load_records", "load_histories", "group_key", "summarize", "select_groups", "main_table",
    "format_table", "paper_average_check", "versions", "resolved_device", "protocol_label", "signature",
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
    """``results_dir`` as a Path when runs may be written there, else an error naming it: a file in the
    way, or the published grid without ``publish=True``. Checked before any training."""
    path = Path(results_dir).expanduser()
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise NotADirectoryError(f"results folder {path} cannot be created: {p} is a file")
        if p.exists():
            break
    if is_published(path) and not publish:
        raise PublishedResultsError(
            f"{path} is the published result grid; runs go to {runs_dir()} by default. To change the "
            "published numbers on purpose, pass publish=True (python -m vna reproduce --publish)"
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"results folder {path} is not writable")
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
    """Versions of python, torch, numpy and vna (stored in every record)."""
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "vna": getattr(vna, "__version__", "unknown"),
    }


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
        raise ValueError(f"expected a vna.config.RunConfig; got {type(cfg).__name__}")
    return cfg


def record_path(cfg: RunConfig, results_dir: str | os.PathLike) -> Path:
    """Where the record of ``cfg`` lives: ``<results_dir>/<dataset folder>/<method>-<key>.json``."""
    cfg = _check_cfg(cfg)
    folder = cfg.dataset
    if folder.startswith("folder:"):  # a recording folder: by its content, wherever it lies
        folder = f"folder-{folder_hash(folder[len('folder:'):])}"
    return Path(results_dir) / folder / f"{cfg.method}-{cfg.key()}.json"


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
    if per_instance is not None:
        rec["_instances"] = {k: np.asarray(v, dtype=np.float64) for k, v in per_instance.items()}
    return rec


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
    cfg = RunConfig.from_dict(record["config"])
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
        frame = pd.DataFrame({f"{k}_auc": np.asarray(v, dtype=np.float64) for k, v in inst.items()})
        _atomic_write_text(instances_path(path), frame.to_csv(index=False, float_format="%.5f"))
    _atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n")  # last: marks the run done
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
    """Run ``cfg`` with :func:`vna.pipeline.run` and save its record, or load the record when it exists.

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
    """Build the record of a finished :func:`vna.pipeline.run` output."""
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


_COLUMNS = [
    "dataset", "method", "split", "responses", "test_responses", "protocol", "seed", "epochs", "best_epoch",
    "key", "group", "signature", *METRICS, "encoding_top1", "encoding_top5", "decoding_top1", "decoding_top5",
    "seconds", "train_seconds", "device", "device_kind", "threads", "source", "simulated", "created", "path",
]
_METRIC_COLUMNS = [*METRICS, "encoding_top1", "encoding_top5", "decoding_top1", "decoding_top5"]


def load_records(results_dir: str | os.PathLike) -> pd.DataFrame:
    """Every record under ``results_dir`` (``*/*.json``) as one row each; empty frame when there is none."""
    root = Path(results_dir)
    rows = []
    for path in sorted(root.glob("*/*.json")):
        rec = read_record(path)
        m = rec["metrics"]
        cfg = rec["config"]
        rows.append({
            "dataset": rec["dataset"], "method": rec["method"], "split": rec["split"],
            "responses": rec["responses"], "test_responses": rec["test_responses"], "protocol": rec["protocol"],
            "seed": rec["seed"], "epochs": cfg.get("epochs"), "best_epoch": rec.get("best_epoch"),
            "key": rec["key"], "group": rec["group"], "signature": signature(cfg),
            **{k: (np.nan if m.get(k) is None else m.get(k)) for k in _METRIC_COLUMNS},
            "seconds": rec.get("seconds"), "train_seconds": rec.get("train_seconds"), "device": rec.get("device"),
            "device_kind": rec.get("device_kind"), "threads": rec.get("threads"), "source": rec.get("source"),
            "simulated": rec.get("simulated"), "created": rec.get("created"), "path": str(path),
        })
    return pd.DataFrame(rows, columns=_COLUMNS)


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
