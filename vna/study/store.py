"""The results store: one JSON record (and its per-instance AUCs) per run, keyed by its config.

Layout: ``<results_dir>/<dataset>/<method>-<RunConfig.key()>.json`` (:meth:`vna.study.record.RunRecord.to_json`)
and, beside it, ``<method>-<key>.instances.csv`` with the encoding and decoding AUC of every test instance under
every scoring rule (full precision; older records store 5 decimals; the bootstrap of :mod:`vna.study.stats`
resamples them). Both files are written atomically (temporary file + ``os.replace``; the JSON last), so an
interrupted grid leaves only finished runs and a rerun skips them; a run with other settings has another key and
adds files instead of overwriting any.

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
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..scoring import SCORES
from .config import RunConfig
from .record import COLUMNS, METRICS, SCHEMA, RunRecord, _repo, instance_column, record_config

__all__ = [
    "PUBLISHED_MARKER", "PublishedResultsError", "published_dir", "runs_dir", "is_published", "check_results_dir",
    "record_path", "instances_path", "is_done", "save_record", "read_record", "read_instances", "load_records",
    "load_histories", "Finding", "StoreError", "RECORD_CHECKS", "verify_record", "verify_store", "MANIFEST",
    "write_manifest", "check_manifest", "clean_stale_files",
]

PUBLISHED_MARKER = "PUBLISHED"


class PublishedResultsError(PermissionError):
    """A write into the published results folder without ``publish=True``."""


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


def record_path(cfg: RunConfig, results_dir: str | os.PathLike) -> Path:
    """Where the record of ``cfg`` lives: ``<results_dir>/<dataset folder>/<method>-<key>.json``."""
    folder = cfg.dataset
    if folder.startswith("folder:"):  # a recording folder: by its content, wherever it lies
        folder = f"folder-{cfg.folder_content()}"
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


def save_record(record: RunRecord, results_dir: str | os.PathLike, *, overwrite: bool = False,
                publish: bool = False) -> Path:
    """Write ``record`` (and its per-instance AUCs) atomically under ``results_dir``; keep an existing one
    unless ``overwrite``. The published grid's folder needs ``publish=True``."""
    check_results_dir(results_dir, publish=publish)
    path = record_path(record.config, results_dir)
    if path.exists() and not overwrite:
        return path
    inst = record.instances
    if inst is not None:  # full precision (repr): the per-instance mean equals the record's AUC to 1e-9
        _atomic_write_text(instances_path(path), pd.DataFrame(inst).to_csv(index=False))
    try:
        _atomic_write_text(path, json.dumps(record.to_json(), indent=1, sort_keys=True) + "\n")  # last: marks it done
    except BaseException:
        if inst is not None:  # no per-instance file without its record (a full disk, an interrupt)
            instances_path(path).unlink(missing_ok=True)
        raise
    return path


def _read_json(path: Path) -> dict:
    """A record's JSON object; a truncated or foreign file, or another schema, raises ValueError naming it."""
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


def read_record(path: str | os.PathLike) -> RunRecord:
    """Read one record (ValueError naming the file when it is not one)."""
    return RunRecord.from_json(_read_json(Path(path)), Path(path))


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


def _rules(rec: dict) -> list[tuple[str, dict]]:
    """``(rule, metrics)`` for every scoring rule a record holds: the paper's rule (top-level ``metrics``) and each
    rule of ``metrics_by_score``, so that adding a rule needs no new check."""
    by_score = rec.get("metrics_by_score") or {}
    by_score = sorted(by_score.items()) if isinstance(by_score, dict) else []
    return [("paper", rec.get("metrics") or {})] + [(str(r), m if isinstance(m, dict) else {}) for r, m in by_score]


def _where(rule: str) -> str:
    return "" if rule == "paper" else f" (rule {rule!r})"


def _check_aucs_in_range(ctx: dict) -> list[str]:
    bad = []
    for rule, m in _rules(ctx["rec"]):
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
    for rule, m in _rules(ctx["rec"]):
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
    for rule, m in _rules(ctx["rec"]):
        for task in ("encoding", "decoding"):
            col = instance_column(task, rule)
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
    rec = _read_json(path) if rec is None else rec
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


def verify_store(results_dir: str | os.PathLike) -> tuple[list[RunRecord], list[Finding]]:
    """Every record of ``results_dir`` that passes :func:`verify_record`, and a :class:`Finding` for each file that
    does not (named by path, left out) or lies outside the layout. One record per key: a second file with the same
    key is never counted."""
    root = Path(results_dir)
    paths, findings = _store_files(root)
    good: list[RunRecord] = []
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            rec = _read_json(path)
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
        good.append(RunRecord.from_json(rec, path))
    return good, findings


def load_records(results_dir: str | os.PathLike, *, score: str | None = "paper", strict: bool = False,
                 findings: list | None = None) -> pd.DataFrame:
    """Every record under ``results_dir`` that passes :func:`verify_store`, as rows
    (:meth:`vna.study.record.RunRecord.row`): one per record under the scoring rule ``score`` (the paper's by
    default; a record that does not carry the rule has no row), or with ``score=None`` one per record and rule it
    carries, told apart by the column ``score``. An empty frame when there is none. A record that fails is left out
    and named: appended to ``findings`` when given, else a warning; ``strict=True`` raises :class:`StoreError`."""
    if score is not None and score not in SCORES:
        raise ValueError(f"score must be one of {', '.join(SCORES)} or None (every rule); got {score!r}")
    good, found = verify_store(results_dir)
    if found:
        if strict:
            raise StoreError(found)
        if findings is not None:
            findings.extend(found)
        else:
            warnings.warn(f"{len(found)} problem(s) in {results_dir}, records left out: " + "; ".join(map(str, found[:5]))
                          + (" ..." if len(found) > 5 else ""), stacklevel=2)
    rows = [rec.row(rule) for rec in good for rule in ([score] if score else SCORES)]
    return pd.DataFrame([r for r in rows if r is not None], columns=COLUMNS)


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
        if rec.config.training_key() in seen:
            continue
        seen.add(rec.config.training_key())
        for h in rec.history:
            rows.append({"dataset": r.dataset, "method": r.method, "split": r.split, "test_responses": r.test_responses,
                         "seed": r.seed, "key": r.key, "best_epoch": rec.best_epoch, **h})
    return pd.DataFrame(rows)
