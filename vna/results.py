"""The results store: one JSON record per run, keyed by its config (DESIGN.md, issue "The book").

Layout: ``<results_dir>/<dataset>/<method>-<RunConfig.key()>.json``. Each record holds the full config,
the metrics of :func:`vna.evaluate`, the wall time, the device and the package versions. Records are
written atomically (temporary file + ``os.replace``), so an interrupted grid leaves only finished runs,
and a rerun skips them; a run with other settings has another key and adds a file instead of
overwriting one. :func:`load_records` collects every record into a DataFrame, :func:`summarize` gives
mean ± 95 % t-interval over seeds, and :data:`PAPER_TABLE1` is the paper's Table 1 (section 4.3).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .config import RunConfig

__all__ = [
    "SCHEMA",
    "METRICS",
    "METHOD_LABELS",
    "PAPER_TABLE1",
    "PAPER_STAND_INS",
    "record_path",
    "is_done",
    "make_record",
    "save_record",
    "read_record",
    "run_or_load",
    "load_records",
    "group_key",
    "summarize",
    "main_table",
    "format_table",
    "paper_average_check",
    "versions",
    "resolved_device",
]

SCHEMA = 1
METRICS = ("encoding_auc", "decoding_auc", "mean_auc")
METHOD_LABELS = {
    "vna": "Visual-Neural Alignment",
    "direct_encoder": "Direct Encoding",
    "direct_decoder": "Direct Decoding",
}

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

    import vna

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
    """Where the record of ``cfg`` lives: ``<results_dir>/<dataset>/<method>-<key>.json``."""
    cfg = _check_cfg(cfg)
    return Path(results_dir) / cfg.dataset / f"{cfg.method}-{cfg.key()}.json"


def is_done(cfg: RunConfig, results_dir: str | os.PathLike) -> bool:
    """True when a readable record for ``cfg`` exists (a rerun skips it)."""
    path = record_path(cfg, results_dir)
    if not path.is_file():
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
) -> dict[str, Any]:
    """One run's record (plain JSON types only)."""
    cfg = _check_cfg(cfg)
    missing = [m for m in METRICS if m not in metrics]
    if missing:
        raise ValueError(f"metrics lack {missing}; got keys {sorted(metrics)}")
    clean = {}
    for k, v in metrics.items():
        v = float(v)
        clean[k] = v if math.isfinite(v) else None
    return {
        "schema": SCHEMA,
        "key": cfg.key(),
        "dataset": cfg.dataset,
        "method": cfg.method,
        "split": cfg.split,
        "responses": cfg.responses,
        "seed": int(cfg.seed),
        "config": cfg.to_dict(),
        "metrics": clean,
        "seconds": float(seconds),
        "device": str(device),
        "versions": versions(),
        "history": [
            {k: (float(v) if isinstance(v, (int, float, np.floating, np.integer)) and v is not None else v)
             for k, v in h.items()}
            for h in (history or [])
        ],
        "sizes": {k: int(v) for k, v in (sizes or {}).items()},
        "source": source,
        "simulated": bool(simulated) if simulated is not None else cfg.dataset == "simulated",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
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


def save_record(record: dict[str, Any], results_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``record`` atomically to its place under ``results_dir``; keep an existing one unless ``overwrite``."""
    for k in ("key", "dataset", "method", "config", "metrics"):
        if k not in record:
            raise ValueError(f"record lacks field {k!r}")
    cfg = RunConfig.from_dict(record["config"])
    if cfg.key() != record["key"]:
        raise ValueError(f"record key {record['key']!r} does not match its config's key {cfg.key()!r}")
    path = record_path(cfg, results_dir)
    if path.exists() and not overwrite:
        return path
    _atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """Read one record; a truncated or foreign file raises ValueError naming it."""
    path = Path(path)
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable results record: {exc}") from None
    if not isinstance(rec, dict) or rec.get("schema") != SCHEMA or "metrics" not in rec or "config" not in rec:
        raise ValueError(f"{path} is not a vna results record (schema {SCHEMA})")
    return rec


def run_or_load(
    cfg: RunConfig,
    results_dir: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    source: str = "grid",
    force: bool = False,
) -> tuple[dict[str, Any], Any]:
    """Run ``cfg`` with :func:`vna.pipeline.run` and save its record, or load the record when it exists.

    Returns ``(record, output)``; ``output`` is the pipeline's RunOutput, or None when the run was skipped.
    """
    cfg = _check_cfg(cfg)
    path = record_path(cfg, results_dir)
    if is_done(cfg, results_dir) and not force:
        return read_record(path), None
    from .pipeline import run as run_pipeline

    t0 = time.perf_counter()
    out = run_pipeline(cfg, data_dir=data_dir, progress=progress)
    seconds = float(getattr(out, "seconds", None) or (time.perf_counter() - t0))
    record = record_from_output(cfg, out, seconds=seconds, source=source)
    save_record(record, results_dir, overwrite=True)
    return record, out


def record_from_output(cfg: RunConfig, out: Any, *, seconds: float | None = None, source: str = "grid") -> dict:
    """Build the record of a finished :func:`vna.pipeline.run` output."""
    device = getattr(out, "device", None)
    if device is None:
        try:
            device = str(next(out.model.parameters()).device)
        except (StopIteration, AttributeError):
            device = cfg.device
    device = resolved_device(str(device))
    train, test = out.train, out.test
    sizes = {
        "train_images": train.n_images,
        "train_responses": train.n_responses,
        "test_images": test.n_images,
        "test_responses": test.n_responses,
        "neurons": test.n_neurons,
    }
    history = [dict(h) for h in (out.history or [])]
    simulated = bool(test.meta.get("simulated", cfg.dataset == "simulated"))
    return make_record(
        cfg, out.metrics, seconds=seconds if seconds is not None else out.seconds, device=device,
        history=history, sizes=sizes, source=source, simulated=simulated,
    )


# ---------------------------------------------------------------------------------------------- tables
def group_key(config: dict[str, Any]) -> str:
    """Hash of a config without ``seed`` and ``device``: runs that differ only by seed share it."""
    d = {k: v for k, v in config.items() if k not in ("seed", "device")}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


_COLUMNS = [
    "dataset", "method", "split", "responses", "seed", "epochs", "key", "group", *METRICS,
    "encoding_top1", "encoding_top5", "decoding_top1", "decoding_top5",
    "seconds", "device", "source", "simulated", "created", "path",
]


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
            "responses": rec["responses"], "seed": rec["seed"], "epochs": cfg.get("epochs"),
            "key": rec["key"], "group": group_key(cfg),
            **{k: (np.nan if m.get(k) is None else m.get(k)) for k in _COLUMNS[8:15]},
            "seconds": rec.get("seconds"), "device": rec.get("device"), "source": rec.get("source"),
            "simulated": rec.get("simulated"), "created": rec.get("created"), "path": str(path),
        })
    return pd.DataFrame(rows, columns=_COLUMNS)


def _t_halfwidth(values: np.ndarray, level: float = 0.95) -> float:
    values = values[np.isfinite(values)]
    n = len(values)
    if n < 2:
        return float("nan")
    from scipy import stats

    sd = float(np.std(values, ddof=1))
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n))


def summarize(records: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean and ``level`` t-interval half-width over seeds, per dataset × method × config group.

    Columns: dataset, method, split, responses, epochs, group, n_seeds, seeds, and for each metric
    ``<metric>`` (mean) and ``<metric>_ci`` (half-width; NaN with one seed).
    """
    cols = ["dataset", "method", "split", "responses", "epochs", "group", "n_seeds", "seeds", "last_created"]
    cols += [c for m in METRICS for c in (m, f"{m}_ci")]
    if records.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for keys, g in records.groupby(["dataset", "method", "group"], sort=True):
        row = dict(zip(["dataset", "method", "group"], keys))
        first = g.iloc[0]
        row.update(split=first["split"], responses=first["responses"], epochs=first["epochs"],
                   n_seeds=int(g["seed"].nunique()), seeds=" ".join(str(s) for s in sorted(g["seed"].unique())),
                   last_created=str(g["created"].max()))
        for m in METRICS:
            v = g[m].to_numpy(dtype=float)
            row[m] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
            row[f"{m}_ci"] = _t_halfwidth(v, level)
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def main_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset × method: the config group with the most seeds (ties: the newest)."""
    if summary.empty:
        return summary.copy()
    order = {m: i for i, m in enumerate(METHOD_LABELS)}
    best = (
        summary.sort_values(["n_seeds", "last_created"], ascending=[False, False])
        .groupby(["dataset", "method"], sort=False).head(1)
    )
    best = best.assign(_m=best["method"].map(order).fillna(99))
    return best.sort_values(["dataset", "_m"]).drop(columns="_m").reset_index(drop=True)


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
            "split": r["split"],
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
