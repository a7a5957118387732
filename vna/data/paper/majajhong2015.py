"""Macaque-synthetic: Majaj, Hong et al. (2015) V4 and IT multi-units, from Brain-Score (paper Sec. 4.1.3).

Source: Brain-Score's public storage (S3 bucket ``brainscore-storage``, folder ``brainio-brainscore``;
``brain-score/vision`` ``brainscore_vision/data/majajhong2015/__init__.py``): the BrainIO assembly
``assy_dicarlo_MajajHong2015_public.nc`` and the stimulus set ``stimulus_hvm-public`` (csv + zip), each
checked against the sha1 Brain-Score publishes.

The assembly file is BrainIO's raw serialisation (``brain-score/brainio`` ``brainio/packaging.py``
``write_netcdf``): one data variable named after the assembly, dims ``neuroid, presentation, time_bin``,
MultiIndex levels stored as plain coordinates. Per presentation it holds the image id and ``repetition``
only; stimulus metadata (``variation``, ``object_name``, ``category_name``, ...) lives in the csv and is
merged in by image id on loading, as BrainIO's ``StimulusMergeLoader.merge_stimulus_set_meta`` does
(``brainio/assemblies.py``). The public set holds HVM variation levels 0 and 3 (``data_packaging.py``:
``'public': [0, 3]``). Values are used as stored: signed, normalised responses, not spike counts.
Repetitions are kept as trials; areas V4, IT or both; images grey at their original size.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..cache import MissingDataFile, fetch, is_cached
from ..recording import Recording
from ._common import read_image, source_override, stack_images

__all__ = ["load_majajhong2015", "status", "read_assembly", "read_stimulus_table", "merge_stimulus_meta",
           "assembly_trials", "read_stimuli", "FILES", "AREAS", "PUBLIC_VARIATIONS", "UNITS"]

FOLDER = "majajhong2015"
#: Brain-Score's public storage; monkeypatched by the tests to a local server.
BASE_URL = "https://brainscore-storage.s3.amazonaws.com/brainio-brainscore"
#: The same assembly (same sha1) at BrainIO's older public location, tried when BASE_URL fails.
MIRROR_URLS = {"assembly": "https://brainio.dicarlo.s3.amazonaws.com/assy_dicarlo_MajajHong2015_public.nc"}
FILES = {
    "assembly": ("assy_dicarlo_MajajHong2015_public.nc", "sha1:13d28ca0ce88ee550b54db3004374ae19096e9b9"),
    "csv": ("stimulus_hvm-public.csv", "sha1:5ca7a3da00d8e9c694a9cd725df5ba0ad6d735af"),
    "zip": ("stimulus_hvm-public.zip", "sha1:8aa44e038d7b551efa8077467622f9d48d72e473"),
}
AREAS = ("V4", "IT")
#: HVM variation levels in the public assembly (Brain-Score's packaging: public = [0, 3], private = [6]).
PUBLIC_VARIATIONS = (0, 3)
#: Per-image columns of the stimulus csv copied into ``Recording.meta["image_meta"]``.
IMAGE_META_COLUMNS = ("variation", "object_name", "category_name")
UNITS = ("normalised multi-unit responses as stored in the Brain-Score assembly (signed values, not spike "
         "counts or rates; the normalisation is not stated in Brain-Score's public code)")
CITATION = ("Majaj, N.J., Hong, H., Solomon, E.A. & DiCarlo, J.J. (2015) Simple learned weighted sums of "
            "inferior temporal neuronal firing rates accurately predict human core object recognition "
            "performance. J Neurosci 35(39):13402-13418. Data via Brain-Score (Schrimpf et al. 2018).")
LICENSE = "Brain-Score public data (brain-score/vision, MIT); cite Majaj et al. 2015"


def sources() -> tuple[str, dict, dict]:
    """``(base URL, files, mirrors)``: the pinned :data:`BASE_URL`, :data:`FILES` and :data:`MIRROR_URLS`, or
    those ``$VNA_PAPER_SOURCES`` names (then without mirrors: they would not hold the same files)."""
    entry = source_override("majajhong2015")
    if not entry:
        return BASE_URL, FILES, MIRROR_URLS
    files = {k: tuple(v) for k, v in entry.get("files", {}).items()} or FILES
    return entry.get("base_url", BASE_URL), {**FILES, **files}, {}


def _fetch(key: str, progress: bool) -> Path:
    base, files, mirrors = sources()
    name, known_hash = files[key]
    try:
        return fetch(FOLDER, name, f"{base}/{name}", known_hash, progress=progress)
    except MissingDataFile:
        if key not in mirrors:
            raise
        return fetch(FOLDER, name, mirrors[key], known_hash, progress=progress)


def read_assembly(path: str | Path):
    """The assembly as an ``xarray.DataArray`` with dims ``presentation, neuroid[, time_bin]`` (any file order).

    Accepts BrainIO's serialisation (MultiIndex levels stored as plain coordinates along each dim, one data
    variable, named after the assembly or ``data``). ``stimulus_id`` is renamed ``image_id`` when only the
    former exists.
    """
    import xarray as xr

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"assembly not found: {path}")
    ds = xr.open_dataset(path)  # engine guessed from the file: h5netcdf for netCDF4/HDF5
    names = list(ds.data_vars)
    if len(names) != 1:
        preferred = [n for n in names if "MajajHong2015" in n]
        if len(preferred) != 1:
            raise ValueError(f"{path}: expected one data variable, found {names}")
        names = preferred
    da = ds[names[0]]
    missing = {"presentation", "neuroid"} - set(da.dims)
    if missing:
        raise ValueError(f"{path}: assembly lacks dimension(s) {sorted(missing)} (has {da.dims})")
    if "image_id" not in da.coords and "stimulus_id" in da.coords:
        da = da.rename({"stimulus_id": "image_id"})
    for coord, dim in (("image_id", "presentation"), ("region", "neuroid")):
        if coord not in da.coords or da[coord].dims != (dim,):
            raise ValueError(f"{path}: assembly lacks the '{coord}' coordinate along '{dim}'")
    return da


def _strings(values) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values)], dtype=object)


def read_stimulus_table(csv_path: str | Path) -> pd.DataFrame:
    """The stimulus csv with its id column (``stimulus_id``, or legacy ``image_id``) as strings named ``image_id``.

    The real ``stimulus_hvm-public.csv`` has ``image_id``, ``filename`` and the HVM metadata (``variation``,
    ``object_name``, ``category_name``, ...; ``brain-score/core`` ``.../brainio/tests/test_stimuli.py``).
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"stimulus csv not found: {csv_path}")
    table = pd.read_csv(csv_path, dtype={"stimulus_id": str, "image_id": str, "filename": str})
    id_col = "stimulus_id" if "stimulus_id" in table else "image_id" if "image_id" in table else None
    if id_col is None or "filename" not in table:
        raise ValueError(f"{csv_path}: a stimulus csv needs 'stimulus_id' (or 'image_id') and 'filename' columns; "
                         f"has {list(table.columns)}")
    if id_col == "stimulus_id":
        table = table.drop(columns=["image_id"], errors="ignore").rename(columns={"stimulus_id": "image_id"})
    table["image_id"] = table["image_id"].astype(str)
    duplicated = table["image_id"][table["image_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"{csv_path}: image id {duplicated.iloc[0]!r} appears more than once")
    return table.reset_index(drop=True)


def merge_stimulus_meta(da, table: pd.DataFrame, *, source: str = "the stimulus csv"):
    """``da`` with the csv's per-image columns added as presentation coordinates, matched by image id.

    As BrainIO's ``merge_stimulus_set_meta``: a left merge on the id, and a coordinate the assembly already
    has is kept as it is. Presentations whose image is missing from the csv are an error.
    """
    ids = _strings(da["image_id"].values)
    rows = pd.Index(table["image_id"]).get_indexer(ids)
    if (rows < 0).any():
        raise ValueError(f"{int((rows < 0).sum())} presentation(s) show images missing from {source}, "
                         f"e.g. {ids[rows < 0][0]!r}")
    new = [c for c in table.columns if c not in da.coords and c not in ("image_id", "filename")]
    return da.assign_coords({c: ("presentation", table[c].to_numpy()[rows]) for c in new})


def _levels(values) -> np.ndarray:
    numeric = pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce")
    return numeric.to_numpy() if not numeric.isna().any() else _strings(values)


def _display(levels) -> list:
    return sorted(int(v) if isinstance(v, float) and v.is_integer() else v for v in levels)


def assembly_trials(da, area: str | Sequence[str] = "both", *, variations: Sequence[int] | None = None,
                    time_bin: int | None = None, image_order: Sequence[str] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """``(responses [images, trials, neuroids], image_ids, neurons)`` from an assembly.

    Presentations of one image become its trials, ordered by ``repetition`` (else by position); images
    with fewer repetitions get NaN slots. ``variations`` selects HVM levels from the ``variation``
    coordinate (on the raw file it comes from the csv: see :func:`merge_stimulus_meta`); a level the data
    do not hold is an error. ``time_bin``: index of the time bin, or None = mean over bins (the public
    assembly has one, 70-170 ms). ``image_order``: order of the images (default: first appearance).
    """
    areas = _areas(area)
    regions = _strings(da["region"].values)
    neuroid_mask = np.isin(regions, areas)
    if not neuroid_mask.any():
        raise ValueError(f"no neuroid in area(s) {areas}; the assembly has regions {sorted(set(regions))}")
    presentation_mask = np.ones(da.sizes["presentation"], dtype=bool)
    if variations is not None:
        if "variation" not in da.coords:
            raise ValueError("variations given but neither the assembly nor the stimulus csv has a 'variation' "
                             "column (merge the csv with merge_stimulus_meta first)")
        present = _levels(da["variation"].values)
        wanted = _levels(list(variations)) if len(variations) else np.array([])
        levels = set(present.tolist())
        unknown = [v for v, w in zip(variations, wanted.tolist()) if w not in levels]
        if unknown or not len(wanted):
            raise ValueError(f"variation level(s) {unknown if unknown else list(variations)} not in the data; "
                             f"levels present: {_display(levels)}")
        presentation_mask &= np.isin(present, wanted)
    sub = da.isel(presentation=np.flatnonzero(presentation_mask), neuroid=np.flatnonzero(neuroid_mask))
    if "time_bin" in sub.dims:
        sub = sub.isel(time_bin=time_bin) if time_bin is not None else sub.mean("time_bin")
    elif time_bin not in (None, 0):
        raise ValueError(f"time_bin={time_bin} but the assembly has no time_bin dimension")
    values = np.asarray(sub.transpose("presentation", "neuroid").values, dtype=np.float64)

    ids = _strings(sub["image_id"].values)
    present = set(ids)
    order = pd.unique(pd.Series(ids)) if image_order is None else np.array(
        [i for i in image_order if i in present], dtype=object)
    code = pd.Index(order).get_indexer(ids)
    if (code < 0).any():
        raise ValueError(f"{int((code < 0).sum())} presentation(s) show images missing from image_order (the "
                         f"stimulus csv), e.g. {ids[code < 0][0]!r}")
    rep = np.asarray(sub["repetition"].values, dtype=float) if "repetition" in sub.coords else np.arange(len(ids))
    frame = pd.DataFrame({"code": code, "rep": rep, "pos": np.arange(len(ids))}).sort_values(["code", "rep", "pos"])
    frame["slot"] = frame.groupby("code").cumcount()
    responses = np.full((len(order), int(frame["slot"].max()) + 1, values.shape[1]), np.nan)
    responses[frame["code"].to_numpy(), frame["slot"].to_numpy()] = values[frame["pos"].to_numpy()]

    neuroid_ids = (_strings(sub["neuroid_id"].values) if "neuroid_id" in sub.coords
                   else np.arange(sub.sizes["neuroid"]).astype(str))
    neurons = pd.DataFrame({"id": neuroid_ids, "area": _strings(sub["region"].values)})
    for extra in ("animal", "arr", "subregion", "hemisphere", "col", "row", "elec", "bank"):
        if extra in sub.coords and sub[extra].dims == ("neuroid",):
            neurons[extra] = np.asarray(sub[extra].values)
    return responses, np.asarray(order, dtype=object), neurons


def _areas(area) -> list[str]:
    if isinstance(area, str):
        if area.lower() == "both":
            return list(AREAS)
        area = [area]
    out = []
    for a in area:
        match = [x for x in AREAS if x.lower() == str(a).lower()]
        if not match:
            raise ValueError(f"area must be 'V4', 'IT' or 'both' (or a list of them); got {a!r}")
        out.append(match[0])
    return out


def read_stimuli(csv_path: str | Path, zip_path: str | Path, image_ids: Sequence[str] | None = None,
                 *, grey: bool = True) -> tuple[np.ndarray, pd.DataFrame]:
    """``(images [I, H, W], table)`` from a BrainIO stimulus set (csv + zip), in ``image_ids`` order.

    The csv's ``stimulus_id`` (or legacy ``image_id``) names each image; its ``filename`` is the member of
    the zip (matched by full name, else by base name). Default ``image_ids``: the csv's order.
    """
    table = read_stimulus_table(csv_path).set_index("image_id", drop=False)
    if image_ids is None:
        image_ids = table.index.tolist()
    missing = [i for i in image_ids if i not in table.index]
    if missing:
        raise ValueError(f"{csv_path}: {len(missing)} image id(s) of the assembly are not in the stimulus csv, "
                         f"e.g. {missing[0]!r}")
    rows = table.loc[list(image_ids)]
    with zipfile.ZipFile(zip_path) as zf:
        members = {m: m for m in zf.namelist() if not m.endswith("/")}
        by_base = {}
        for m in members:
            by_base.setdefault(Path(m).name, m)
        images = []
        for stimulus_id, filename in zip(rows.index, rows["filename"].astype(str)):
            member = members.get(filename) or by_base.get(Path(filename).name)
            if member is None:
                raise FileNotFoundError(f"{zip_path}: no member {filename!r} (image {stimulus_id!r})")
            with zf.open(member) as f:
                images.append(read_image(f, grey=grey))
    return stack_images(images, str(zip_path)), rows.reset_index(drop=True)


def load_majajhong2015(area: str | Sequence[str] = "both", *, variations: Sequence[int] | None = None,
                       time_bin: int | None = None, progress: bool = True) -> Recording:
    """The Macaque-synthetic dataset as a :class:`Recording`: HVM images x repetitions x V4/IT sites.

    Args:
        area: "V4", "IT" or "both" (default; Huang et al. analyse V4 and IT separately).
        variations: keep only these HVM variation levels (the public set has 0 and 3; the level of each
            image comes from the stimulus csv); None = all.
        time_bin: which time bin of the assembly (None = mean over bins; the public file has one, 70-170 ms).

    ``meta["units"]`` says what the values are: normalised responses as stored, not firing rates; do not
    apply count statistics (Fano factor, Poisson noise) to them.
    """
    assembly_path = _fetch("assembly", progress)
    csv_path, zip_path = _fetch("csv", progress), _fetch("zip", progress)
    table = read_stimulus_table(csv_path)
    raw = read_assembly(assembly_path)
    da = merge_stimulus_meta(raw, table, source=str(csv_path))
    responses, image_ids, neurons = assembly_trials(da, area, variations=variations, time_bin=time_bin,
                                                    image_order=table["image_id"].tolist())
    time = None
    if "time_bin_start" in da.coords and "time_bin_end" in da.coords:
        time = list(zip(np.atleast_1d(da["time_bin_start"].values).tolist(),
                        np.atleast_1d(da["time_bin_end"].values).tolist()))
    levels = _display(set(_levels(da["variation"].values).tolist())) if "variation" in da.coords else None
    raw.close()
    images, rows = read_stimuli(csv_path, zip_path, list(image_ids))
    image_meta = {c: rows[c].tolist() for c in IMAGE_META_COLUMNS if c in rows}
    return Recording(
        images=images,
        responses=responses,
        neurons=neurons,
        image_ids=image_ids,
        meta={
            "name": "majajhong2015",
            "units": f"{UNITS}; time bins (ms): {time if time is not None else 'unknown'}",
            "source": f"{sources()[0]}/{sources()[1]['assembly'][0]}",
            "files": {k: {"name": n, "hash": h} for k, (n, h) in sources()[1].items()},
            "citation": CITATION,
            "license": LICENSE,
            "simulated": False,
            "image_meta": image_meta,
            "preprocessing": {"area": _areas(area), "variations": None if variations is None else list(variations),
                              "variations_in_data": levels, "time_bin": time_bin,
                              "stimulus_meta": "merged from the stimulus csv by image id (as BrainIO)",
                              "trials": "repetitions (NaN where an image has fewer)"},
        },
    )


def status() -> str:
    """"cached" when the assembly, csv and zip are in the cache, else "needs download"."""
    return "cached" if is_cached(FOLDER, [name for name, _ in FILES.values()]) else "needs download"
