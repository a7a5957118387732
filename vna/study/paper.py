"""The paper grid: Table 1 on the paper's own data (paper Sec. 4.1, Table 1).

``python -m vna reproduce --grid paper`` runs the paper's three datasets with the paper's preprocessing
(Huang et al., AAAI 2023, as the loaders in :mod:`vna.data.paper` implement it) × every study protocol
each supports × the three methods × five seeds, trained as the study trains (``STUDY_TRAINING``):

* ``allen-neuropixels`` (Mouse-movie): all 32 Brain Observatory 1.1 sessions of DANDI:000021 pooled, units
  of the six visual areas passing the AllenSDK's filters and split-half reliability >= 0.8, mean rate over
  25 ten-millisecond bins; 50 repeats, so all four protocols;
* ``majajhong2015`` (Macaque-synthetic): the public HVM assembly from Brain-Score's storage, V4 and IT
  sites, repetitions as trials; all four protocols;
* ``chang2021-face`` (Macaque-face): runs when its folder (from the authors) is complete, with the
  protocols the folder supports (:func:`vna.study.grids.protocols_for`); otherwise it is reported as
  "needs the authors' files" and left out of the grid.

Before any data byte is fetched, :func:`plan` lists every file with its size (DANDI's asset metadata, an
HTTP HEAD, or the session table), where it goes and whether it is cached, with the total disk and an
estimate of the peak memory; :func:`check_disk` refuses to start when the data folder's disk lacks room.
:func:`table1` puts the records beside Table 1. In quick mode (:func:`quick_sources`) the paper's files are
replaced by the format-true fixtures of :mod:`vna.data.paper.fixtures`, served on 127.0.0.1.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import pandas as pd

from ..data.cache import CacheError, data_dir
from ..data.download import human_bytes, remote_size
from ..data.paper import allen_neuropixels as allen
from ..data.paper import chang2021, majajhong2015
from ..data.paper._common import SOURCES_ENV
from ..data.paper.fixtures import FIXTURE_ASSET_ID, FixtureServer, quick_sources as _sources_doc, write_quick_store
from ..methods import METHODS
from .config import RunConfig
from .grids import _ALL_FOUR, STUDY_SEEDS, _protocol_configs, known_datasets, protocols_for
from .pipeline import environment
from .store import load_records
from .tables import format_table, select_groups, summarize

__all__ = ["PAPER_DATASETS", "PAPER_OPTIONS", "QUICK_OPTIONS", "NEEDS_AUTHORS", "paper_grid", "chang_available",
           "plan", "Plan", "format_plan", "check_disk", "DiskSpaceError", "quick_sources", "table1"]

PAPER_DATASETS = ("allen-neuropixels", "majajhong2015", "chang2021-face")
#: The loaders' options of the paper grid (everything else: the loaders' defaults, which are Huang et al.'s).
PAPER_OPTIONS = {"allen-neuropixels": {"sessions": "all"}, "majajhong2015": {"area": "both"}, "chang2021-face": {}}
#: Quick mode: the fixture session (a DANDI asset id served by the fixture server) instead of the 32 sessions.
QUICK_OPTIONS = {"allen-neuropixels": {"sessions": [FIXTURE_ASSET_ID]}, "majajhong2015": {"area": "both"},
                 "chang2021-face": {}}
NEEDS_AUTHORS = "needs the authors' files"


def chang_available() -> bool:
    """Whether the Chang et al. folder (``$VNA_CHANG2021_DIR`` or ``<data_dir>/chang2021_face``) is complete."""
    return chang2021.status() == "cached"


def _protocols(dataset: str) -> list[tuple[str, str, str]]:
    if dataset == "chang2021-face":  # the folder decides: trial means only (Huang's AM.npy) or trials
        return protocols_for(chang2021.load_chang2021_face())
    return list(_ALL_FOUR)  # 50 repeats per Allen scene; ~50 repetitions per HVM image


def paper_grid(datasets: Sequence[str] | None = None, methods: Sequence[str] = METHODS,
               seeds: Sequence[int] = STUDY_SEEDS, *, quick: bool = False, device: str = "auto", threads: int = 1,
               **overrides) -> list[RunConfig]:
    """The paper grid's runs (module docstring); chang2021-face only when its folder is complete."""
    extra = overrides.pop("dataset_options", {})
    configs = []
    for d in known_datasets(datasets, PAPER_DATASETS, "the paper grid"):
        if d == "chang2021-face" and not chang_available():
            continue
        options = {**(QUICK_OPTIONS if quick else PAPER_OPTIONS)[d], **extra}
        configs += _protocol_configs(d, _protocols(d), methods, seeds, quick, device, threads,
                                     {**overrides, "dataset_options": options})
    return configs


# ---------------------------------------------------------------------------------------------- preflight
@dataclass
class Plan:
    """What the paper grid needs: ``files`` (one row per file or file group), the memory estimate, notes."""

    files: pd.DataFrame
    data_dir: Path
    peak_memory: int
    memory_how: str
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(self.files["size"].fillna(0).sum())

    @property
    def to_download(self) -> int:
        return int(self.files.loc[~self.files["cached"], "size"].fillna(0).sum())

    @property
    def unknown(self) -> int:
        return int((self.files["size"].isna() & (self.files["file"] != NEEDS_AUTHORS)).sum())


def _row(dataset, file, size, size_from, where, cached, check):
    return dict(dataset=dataset, file=file, size=None if size is None else int(size), size_from=size_from,
                where=str(where), cached=bool(cached), check=check)


#: Units per Allen session before the reliability filter, for the memory estimate (an assumption: the
#: Brain Observatory 1.1 sessions hold a few hundred visual-cortex units each; 800 is on the high side).
ALLEN_UNITS_PER_SESSION = 800
#: The real files' shapes, for the memory estimate: the public HVM assembly is (256 neuroids, 148480
#: presentations, 1 time bin) (Brain-Score's tests), 3200 images at 256 x 256; Allen templates 918 x 1174.
HVM_SHAPE, HVM_IMAGES, HVM_IMAGE_SIDE, HVM_MAX_REPS = (256, 148480), 3200, 256, 51
ALLEN_TEMPLATE_SHAPE = (918, 1174)


def _allen_rows(options: dict, notes: list[str]) -> tuple[list[dict], int]:
    root = data_dir() / allen.FOLDER
    spec = options.get("sessions", list(allen.DEFAULT_SESSIONS))
    specs = list(allen.ALL_SESSIONS) if spec == "all" else ([spec] if isinstance(spec, (str, int)) else list(spec))
    rows, unreachable = [], 0
    for s in specs:
        table = allen.SESSIONS.get(int(s)) if str(s).isdigit() else None
        try:
            if table is not None:
                asset_id, path = table.asset_id, table.path
            elif str(s).isdigit():
                found = allen._lookup_session(int(s), progress=False)
                asset_id, path = found.asset_id, found.path
            else:
                asset_id, path = str(s), None
            meta = allen._asset_metadata(asset_id, progress=False)
            path = meta.get("path", path)
            size, size_from = meta.get("contentSize"), "DANDI asset metadata"
            check = "sha256 (DANDI)" if (meta.get("digest") or {}).get("dandi:sha2-256") else "size (DANDI)"
        except (CacheError, ValueError, OSError) as exc:
            unreachable += 1
            path = table.path if table is not None else f"session {s}"
            size = table.size_gb * 1e9 if table is not None and table.size_gb else None
            size_from = "vna's session table (approx.)" if size else "unknown (DANDI unreachable)"
            check = "sha256 (DANDI, at download)"
            last = str(getattr(exc, "reason", "") or str(exc).splitlines()[0])[:120]
        rows.append(_row("allen-neuropixels", path, size, size_from, root / path, (root / path).is_file(), check))
    if unreachable:
        notes.append(f"allen-neuropixels: DANDI's metadata was unreachable for {unreachable} session(s) ({last}); "
                     "their sizes come from vna's session table")
    first = allen.template_url().format(index=0)
    one = remote_size(first)
    templates = [root / allen.TEMPLATE_RELPATH.format(index=i) for i in range(allen.N_SCENES)]
    cached = all(t.is_file() for t in templates)
    if cached:
        size, size_from = sum(t.stat().st_size for t in templates), "cached files"
    elif one is not None:
        size, size_from = one * allen.N_SCENES, "HTTP HEAD of natural_scene_0 x 118"
    else:
        size = ALLEN_TEMPLATE_SHAPE[0] * ALLEN_TEMPLATE_SHAPE[1] * allen.N_SCENES
        size_from = "118 x 918 x 1174 bytes (grey TIFF; HEAD failed)"
    rows.append(_row("allen-neuropixels", "natural_scene_templates/ (118 TIFF)", size, size_from,
                     root / "natural_scene_templates", cached, "size (Content-Length)"))
    return rows, len(specs)


def _majaj_rows() -> list[dict]:
    base, files, _ = majajhong2015.sources()
    root = data_dir() / majajhong2015.FOLDER
    rows = []
    for key, (name, known_hash) in files.items():
        target = root / name
        cached = target.is_file()
        size = target.stat().st_size if cached else remote_size(f"{base}/{name}")
        size_from = "cached file" if cached else ("HTTP HEAD" if size is not None else "unknown (HEAD failed)")
        rows.append(_row("majajhong2015", name, size, size_from, target, cached,
                         f"{known_hash.split(':')[0]} (Brain-Score)"))
    return rows


def _chang_rows() -> list[dict]:
    found = chang2021.find_files()
    if not chang_available():
        return [_row("chang2021-face", NEEDS_AUTHORS, None, "from the authors (no download)",
                     chang2021._folder(None), False, "-")]
    rows = []
    for part, path in found.items():
        if path is None:
            continue
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
        rows.append(_row("chang2021-face", f"{part}: {path.name}", size, "your folder", path, True, "-"))
    return rows


def _memory(datasets: Sequence[str], n_sessions: int, quick: bool, files: pd.DataFrame) -> tuple[int, str]:
    """Peak memory: the largest dataset's arrays as its loader holds them, + a float32 paired copy + PyTorch."""
    est = {}
    if "allen-neuropixels" in datasets:
        units = n_sessions * (12 if quick else ALLEN_UNITS_PER_SESSION)
        side = (24, 32) if quick else ALLEN_TEMPLATE_SHAPE
        rates = 118 * 50 * units * 8  # float64 [118, 50, units], pooled (concatenate: twice)
        est["allen-neuropixels"] = 2 * rates + 118 * side[0] * side[1] + rates // 2
    if "majajhong2015" in datasets:
        n, p = (12, 100) if quick else HVM_SHAPE
        images, reps, side = (40, 4, 16) if quick else (HVM_IMAGES, HVM_MAX_REPS, HVM_IMAGE_SIDE)
        arrays = n * p * 4 + n * p * 8 + images * reps * n * 8 + images * side * side
        est["majajhong2015"] = arrays + images * reps * n * 4
    if "chang2021-face" in datasets:
        size = files.loc[files["dataset"] == "chang2021-face", "size"].fillna(0).sum()
        est["chang2021-face"] = int(3 * size)
    torch_base = 500_000_000
    peak = max(est.values(), default=0) + torch_base
    how = ("largest dataset's arrays as the loader holds them (float64) plus a float32 paired copy, plus "
           "~0.5 GB for PyTorch; datasets load one at a time. Per dataset: "
           + ", ".join(f"{d} {human_bytes(v)}" for d, v in est.items())
           + ("" if quick else f" (Allen: {ALLEN_UNITS_PER_SESSION} units per session assumed, before the "
              "reliability filter; HVM: the public assembly's (256, 148480) shape, 3200 images of 256 x 256)"))
    return int(peak), how


def plan(datasets: Sequence[str] | None = None, *, quick: bool = False) -> Plan:
    """Every file the paper grid needs (module docstring): sizes from DANDI's asset metadata (a few kB of
    JSON are fetched and cached for that) or HTTP HEAD; no data file is downloaded."""
    datasets = list(PAPER_DATASETS) if datasets is None else list(datasets)
    options = QUICK_OPTIONS if quick else PAPER_OPTIONS
    notes: list[str] = []
    rows, n_sessions = [], 0
    if "allen-neuropixels" in datasets:
        allen_rows, n_sessions = _allen_rows(options["allen-neuropixels"], notes)
        rows += allen_rows
    if "majajhong2015" in datasets:
        rows += _majaj_rows()
    if "chang2021-face" in datasets:
        rows += _chang_rows()
        if not chang_available():
            notes.append(f"chang2021-face: {NEEDS_AUTHORS} (available on request from Chang et al.; put them in "
                         f"{chang2021._folder(None)} or set {chang2021.ENV_VAR}); the grid runs without it")
    files = pd.DataFrame(rows, columns=["dataset", "file", "size", "size_from", "where", "cached", "check"])
    files["size"] = files["size"].astype("Int64")
    peak, how = _memory(datasets, n_sessions, quick, files)
    return Plan(files, data_dir(), peak, how, notes)


def _free_disk(folder: Path) -> tuple[Path, int]:
    probe = Path(folder).expanduser().absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe, shutil.disk_usage(probe).free


def format_plan(p: Plan) -> str:
    """The plan as the CLI prints it: one line per file, then the totals."""
    lines = [f"{'dataset':<18} {'size':>9}  {'cached':<6}  {'check':<22} file  [size from]"]
    for r in p.files.itertuples():
        size = human_bytes(None if pd.isna(r.size) else int(r.size))
        lines.append(f"{r.dataset:<18} {size:>9}  {'yes' if r.cached else 'no':<6}  {r.check:<22} {r.file}  "
                     f"[{r.size_from}]")
    where, free = _free_disk(p.data_dir)
    lines += ["", f"data folder: {p.data_dir}",
              f"total: {human_bytes(p.total)} in {len(p.files)} entries, {human_bytes(p.to_download)} to download"
              + (f", {p.unknown} of unknown size" if p.unknown else ""),
              f"free disk at {where}: {human_bytes(free)}",
              f"expected peak memory: {human_bytes(p.peak_memory)} ({p.memory_how})"]
    lines += [f"note: {n}" for n in p.notes]
    return "\n".join(lines)


class DiskSpaceError(OSError):
    """The data folder's disk has less room than the files still to download."""


def check_disk(p: Plan, *, margin: float = 0.05) -> None:
    """Raise :class:`DiskSpaceError`, naming both numbers, when the downloads (+ ``margin``) exceed the free disk."""
    where, free = _free_disk(p.data_dir)
    need = int(p.to_download * (1 + margin))
    if need > free:
        raise DiskSpaceError(f"not enough disk for the paper grid: {human_bytes(need)} to download into {p.data_dir} "
                             f"(with {margin:.0%} margin), {human_bytes(free)} free at {where}; free space or set "
                             "VNA_DATA_DIR (or --data-dir) to a larger disk")


# ---------------------------------------------------------------------------------------------- quick mode
@contextlib.contextmanager
def quick_sources(drop_after: dict[str, int] | None = None) -> Iterator[dict]:
    """Serve the format-true fixtures on 127.0.0.1 and point the loaders at them (``$VNA_PAPER_SOURCES``)
    with a fresh data folder (``$VNA_DATA_DIR``), both in a temporary folder removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="vna-paper-quick-"))
    try:
        store = write_quick_store(tmp / "store")
        with FixtureServer(tmp / "store", drop_after=drop_after) as server, \
                environment(**{SOURCES_ENV: tmp / "sources.json", "VNA_DATA_DIR": tmp / "cache"}):
            (tmp / "sources.json").write_text(json.dumps(_sources_doc(server.url, store)))
            yield {"server": server, "store": store, "cache": tmp / "cache", "folder": tmp}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- results
def table1(results_dir: str | os.PathLike, *, quick: bool = False, seeds: Sequence[int] = STUDY_SEEDS,
           methods: Sequence[str] = METHODS) -> pd.DataFrame:
    """The paper grid's records (mean ± 95 % CI over seeds) with Table 1's values beside them; a dataset
    without records gets one row saying why (``needs the authors' files`` or ``not run yet``)."""
    grid = paper_grid(quick=quick, seeds=seeds, methods=methods)
    records = load_records(results_dir)
    table = format_table(select_groups(summarize(records), grid)[0]) if len(records) else pd.DataFrame()
    missing = [d for d in PAPER_DATASETS if table.empty or d not in set(table["dataset"])]
    extra = [{"dataset": d, "method": "—", "protocol": NEEDS_AUTHORS if d == "chang2021-face" and not chang_available()
              else "not run yet"} for d in missing]
    return pd.concat([table, pd.DataFrame(extra)], ignore_index=True) if extra else table
