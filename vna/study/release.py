"""A results folder as one file -- the records table a release carries -- and back.

``python -m vna report --export-records FILE`` writes every record of a results folder (by default the
published ``results/``) into one CSV file (``.csv`` or gzip-compressed ``.csv.gz``), one row per record:

* the columns of :func:`vna.study.store.load_records` (dataset, method, protocol, seed, the paper rule's AUCs, the
  code's commit, the CPU, ...) and each other scoring rule's AUCs (``<metric>_<rule>``), so that the file reads as
  a table in any tool; ``file`` is the record's place in the folder (``<dataset>/<method>-<key>.json``);
* ``record`` and ``instances``: the record's JSON and its per-instance AUCs (the ``.instances.csv`` beside it),
  byte for byte, with their sha256 in ``record_sha256`` and ``instances_sha256``.

Only a folder that verifies is written (every record passes :func:`vna.study.store.verify_store`, and a published
grid matches its MANIFEST); the rows are sorted and the gzip stream carries no date, so the same folder gives the
same bytes. ``python -m vna report --results-dir FILE`` (or a URL of it, with its sha256) rebuilds the folder from
the file in a temporary place (:func:`records_source`), after checking each row's hashes, and reports from it as
from the folder itself: a vna installed with pip, without a checkout, prints the published tables.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlsplit

import pandas as pd

from ..data.download import DownloadCorrupt, DownloadError, download
from ..scoring import SCORES
from .record import METRICS
from .store import (StoreError, _atomic_write, check_manifest, instances_path, is_published, load_records,
                    published_dir)

__all__ = ["export_records", "read_records_file", "rebuild_store", "records_source", "fetch_records", "is_url",
           "ExportSummary", "SUFFIXES"]

#: The file names :func:`export_records` writes and :func:`read_records_file` reads.
SUFFIXES = (".csv", ".csv.gz")
#: The columns that carry the records themselves (the others are the readable table).
_PAYLOAD = ["file", "record_sha256", "instances_sha256", "record", "instances"]
#: A record's place in a results folder: ``<folder>/<name>.json``, plain names only (no ``..``, no absolute path).
_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*\.json")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: The name of the folder a records file is rebuilt into (the published grid's), so that the report's notes read
#: as they do in a checkout.
REBUILT_NAME = "results"


@dataclass(frozen=True)
class ExportSummary:
    """What :func:`export_records` wrote: the file, how many records, the file's sha256."""

    path: Path
    records: int
    sha256: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_suffix(path: Path) -> None:
    if not path.name.endswith(SUFFIXES):
        raise ValueError(f"{path}: a records file is a .csv or .csv.gz file")


def export_records(results_dir: str | os.PathLike, path: str | os.PathLike) -> ExportSummary:
    """Write every record of ``results_dir`` into the one file ``path`` (module docstring), atomically.

    Raises :class:`~vna.study.store.StoreError` naming each problem when a record fails verification or a
    published grid differs from its MANIFEST: a release carries only records that verify."""
    root, path = Path(results_dir), Path(path)
    _check_suffix(path)
    if not root.is_dir():
        raise FileNotFoundError(f"no results folder at {root}")
    findings: list = []
    rows = load_records(root, score=None, findings=findings)
    if is_published(root):
        findings += check_manifest(root)
    if findings:
        raise StoreError(findings)
    if rows.empty:
        raise ValueError(f"{root} holds no records to export")
    table = rows[rows["score"] == "paper"].drop(columns="score")
    for rule in SCORES[1:]:  # one row per record: the other rules' AUCs beside the paper's
        other = rows[rows["score"] == rule].set_index("path")[list(METRICS)]
        table = table.join(other.add_suffix(f"_{rule}"), on="path")
    rows = []
    for source in table.pop("path"):
        record = Path(source).read_bytes()
        instances = instances_path(source).read_bytes()
        rows.append({"file": Path(source).relative_to(root).as_posix(), "record_sha256": _sha256(record),
                     "instances_sha256": _sha256(instances), "record": record.decode("utf-8"),
                     "instances": instances.decode("utf-8")})
    out = pd.concat([table.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    out = out[["file", *table.columns, *_PAYLOAD[1:]]].sort_values("file", kind="stable")
    text = out.to_csv(index=False, lineterminator="\n").encode("utf-8")
    if path.name.endswith(".gz"):  # mtime=0: the same records give the same bytes
        text = gzip.compress(text, compresslevel=9, mtime=0)
    _atomic_write(path, text)
    return ExportSummary(path=path, records=len(out), sha256=_sha256(text))


def read_records_file(path: str | os.PathLike, sha256: str | None = None) -> pd.DataFrame:
    """The rows of a records file written by :func:`export_records`, checked: the file's sha256 when ``sha256`` is
    given, then every row's place and the sha256 of its record and per-instance AUCs. Errors name the file (and
    the row)."""
    path = Path(path)
    _check_suffix(path)
    data = path.read_bytes()
    if sha256 is not None:
        want = _check_sha256(sha256)
        if _sha256(data) != want:
            raise ValueError(f"{path}: its sha256 is {_sha256(data)}, not {want} (a truncated or another file)")
    try:
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        table = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path} is not a readable records file: {type(exc).__name__}: {exc}") from None
    missing = [c for c in _PAYLOAD if c not in table.columns]
    if missing:
        raise ValueError(f"{path} is not a vna records file (python -m vna report --export-records writes one): "
                         f"it has no column {', '.join(missing)}")
    if table.empty:
        raise ValueError(f"{path} holds no records")
    seen: set[str] = set()
    for n, row in enumerate(table[_PAYLOAD].itertuples(index=False), start=2):  # row 1 is the header
        where = f"{path}, row {n} ({row.file!r})"
        if not _FILE.fullmatch(row.file) or ".." in row.file:
            raise ValueError(f"{where}: 'file' is not a record's place <folder>/<name>.json")
        if row.file in seen:
            raise ValueError(f"{where}: a second row for the same record")
        seen.add(row.file)
        for what in ("record", "instances"):
            got, want = _sha256(getattr(row, what).encode("utf-8")), getattr(row, f"{what}_sha256")
            if got != want:
                raise ValueError(f"{where}: its {what} has sha256 {got}, but the file says {want} (edited?)")
    return table


def rebuild_store(table: pd.DataFrame, folder: str | os.PathLike) -> Path:
    """Write the records of ``table`` (:func:`read_records_file`) as a results folder under ``folder``; returns it."""
    root = Path(folder)
    for row in table[_PAYLOAD].itertuples(index=False):
        record = root / row.file
        record.parent.mkdir(parents=True, exist_ok=True)
        instances_path(record).write_bytes(row.instances.encode("utf-8"))
        record.write_bytes(row.record.encode("utf-8"))
    return root


def is_url(text: str) -> bool:
    """True for an ``http://`` or ``https://`` address."""
    return str(text).startswith(("http://", "https://"))


def _check_sha256(text: str) -> str:
    value = str(text).strip().lower().removeprefix("sha256:")
    if not _SHA256.fullmatch(value):
        raise ValueError(f"--sha256 {text!r} is not a sha256 (64 hexadecimal digits)")
    return value


def _url_and_sha256(url: str, sha256: str | None) -> tuple[str, str]:
    """The URL without a ``#sha256=<hex>`` fragment, and the sha256 (from ``sha256`` or the fragment)."""
    base, _, fragment = url.partition("#")
    from_fragment = fragment[len("sha256="):] if fragment.startswith("sha256=") else None
    if sha256 is None and from_fragment is None:
        raise ValueError(f"{url}: a records file from the network needs its sha256 (from the release notes): "
                         "add --sha256 HEX, or end the URL with #sha256=HEX")
    if sha256 is not None and from_fragment is not None and _check_sha256(sha256) != _check_sha256(from_fragment):
        raise ValueError(f"{url}: --sha256 and the URL's #sha256= differ")
    return base, _check_sha256(sha256 if sha256 is not None else from_fragment)


def fetch_records(url: str, folder: str | os.PathLike, sha256: str | None = None, *, progress: bool = True) -> Path:
    """Download the records file at ``url`` into ``folder`` (resumable, retried; it keeps its name only when its
    sha256 is ``sha256`` or the URL's ``#sha256=``); returns its path."""
    base, digest = _url_and_sha256(url, sha256)
    name = Path(unquote(urlsplit(base).path)).name
    _check_suffix(Path(name))
    try:
        return download(base, Path(folder) / name, known_hash=f"sha256:{digest}", progress=progress)
    except DownloadCorrupt as exc:
        raise ValueError(f"the records file {base} is not the one its sha256 names: {exc.reason}") from None
    except DownloadError as exc:  # an OSError, for the command line's one-line errors
        raise ConnectionError(f"could not fetch the records file {base}: {exc.reason}") from None


@contextlib.contextmanager
def records_source(source: str | os.PathLike | None, *, sha256: str | None = None,
                   progress: bool = True) -> Iterator[Path]:
    """The folder of records ``source`` names, for the length of the ``with`` block: a folder as it is; a records
    file (:func:`export_records`) or its URL rebuilt into a temporary folder, removed afterwards. ``None``: the
    published ``results/`` of a checkout."""
    if source is None:
        found = published_dir()
        if found is None:
            raise ValueError("no results folder: pass --results-dir (a folder of records, a records file written "
                             "by --export-records, or its URL); vna is not running from a checkout")
        yield found
        return
    if not is_url(source) and Path(source).expanduser().is_dir():
        if sha256 is not None:
            raise ValueError("--sha256 checks a records file or URL, not a folder")
        yield Path(source).expanduser()
        return
    with tempfile.TemporaryDirectory(prefix="vna-records-") as tmp:
        if is_url(source):
            path = fetch_records(str(source), tmp, sha256, progress=progress)
            sha256 = None  # checked by the download
        else:
            path = Path(source).expanduser()
            if not path.exists():
                raise FileNotFoundError(f"no results folder at {path}")
        yield rebuild_store(read_records_file(path, sha256), Path(tmp) / REBUILT_NAME)
