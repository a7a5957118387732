"""Macaque-synthetic: Majaj, Hong et al. (2015) V4 and IT multi-units, from Brain-Score (paper Sec. 4.1.3).

Source: Brain-Score's public storage (S3 bucket ``brainscore-storage``, folder ``brainio-brainscore``):
the BrainIO assembly ``assy_dicarlo_MajajHong2015_public.nc`` (netCDF4, one data variable
``[presentation, neuroid, time_bin]``; presentation coordinates ``image_id`` or ``stimulus_id``,
``repetition``, ``variation``, ...; neuroid coordinates ``neuroid_id``, ``region``, ``animal``, ...;
time-bin coordinates ``time_bin_start``/``time_bin_end``) and the stimulus set ``stimulus_hvm-public``
(a csv with ``image_id``/``stimulus_id`` and ``filename`` columns, and a zip of the images).
Every file is checked against the sha1 Brain-Score publishes. Repetitions are kept as trials;
areas V4, IT or both; images grey at their original size (``to_paired`` resizes to 64 x 64).
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..cache import MissingDataFile, fetch, is_cached
from ..recording import Recording
from ._common import read_image, stack_images

__all__ = ["load_majajhong2015", "status", "read_assembly", "assembly_trials", "read_stimuli", "FILES", "AREAS"]

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
CITATION = ("Majaj, N.J., Hong, H., Solomon, E.A. & DiCarlo, J.J. (2015) Simple learned weighted sums of "
            "inferior temporal neuronal firing rates accurately predict human core object recognition "
            "performance. J Neurosci 35(39):13402-13418. Data via Brain-Score (Schrimpf et al. 2018).")
LICENSE = "Brain-Score public data (brain-score/vision, MIT); cite Majaj et al. 2015"


def _fetch(key: str, progress: bool) -> Path:
    name, known_hash = FILES[key]
    try:
        return fetch(FOLDER, name, f"{BASE_URL}/{name}", known_hash, progress=progress)
    except MissingDataFile:
        if key not in MIRROR_URLS:
            raise
        return fetch(FOLDER, name, MIRROR_URLS[key], known_hash, progress=progress)


def read_assembly(path: str | Path):
    """The assembly as an ``xarray.DataArray`` with dims ``presentation, neuroid[, time_bin]``.

    Accepts BrainIO's serialisation (the MultiIndex levels stored as plain coordinates along each dim,
    one data variable). ``stimulus_id`` is renamed ``image_id`` when only the former exists.
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


def assembly_trials(da, area: str | Sequence[str] = "both", *, variations: Sequence[int] | None = None,
                    time_bin: int | None = None, image_order: Sequence[str] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """``(responses [images, trials, neuroids], image_ids, neurons)`` from an assembly.

    Presentations of one image become its trials, ordered by ``repetition`` (else by position); images
    with fewer repetitions get NaN slots. ``time_bin``: index of the time bin, or None = mean over bins
    (the public assembly has one, 70-170 ms). ``image_order``: order of the images (default: first
    appearance); ids absent from the assembly are skipped.
    """
    areas = _areas(area)
    regions = _strings(da["region"].values)
    neuroid_mask = np.isin(regions, areas)
    if not neuroid_mask.any():
        raise ValueError(f"no neuroid in area(s) {areas}; the assembly has regions {sorted(set(regions))}")
    presentation_mask = np.ones(da.sizes["presentation"], dtype=bool)
    if variations is not None:
        if "variation" not in da.coords:
            raise ValueError("variations given but the assembly has no 'variation' coordinate")
        presentation_mask &= np.isin(np.asarray(da["variation"].values), list(variations))
        if not presentation_mask.any():
            raise ValueError(f"no presentation with variation in {list(variations)} "
                             f"(the assembly has {sorted(set(np.asarray(da['variation'].values).tolist()))})")
    sub = da.isel(presentation=np.flatnonzero(presentation_mask), neuroid=np.flatnonzero(neuroid_mask))
    if "time_bin" in sub.dims:
        sub = sub.isel(time_bin=time_bin) if time_bin is not None else sub.mean("time_bin")
    elif time_bin not in (None, 0):
        raise ValueError(f"time_bin={time_bin} but the assembly has no time_bin dimension")
    values = np.asarray(sub.transpose("presentation", "neuroid").values, dtype=np.float64)

    ids = _strings(sub["image_id"].values)
    order = pd.unique(pd.Series(ids)) if image_order is None else np.array(
        [i for i in image_order if i in set(ids)], dtype=object)
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
    for extra in ("animal", "arr", "subregion", "col", "row", "elec", "bank"):
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
    table = pd.read_csv(csv_path, dtype={"stimulus_id": str, "image_id": str, "filename": str})
    id_col = "stimulus_id" if "stimulus_id" in table else "image_id" if "image_id" in table else None
    if id_col is None or "filename" not in table:
        raise ValueError(f"{csv_path}: a stimulus csv needs 'stimulus_id' (or 'image_id') and 'filename' columns; "
                         f"has {list(table.columns)}")
    table[id_col] = table[id_col].astype(str)
    table = table.set_index(id_col, drop=False)
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
        variations: keep only these HVM variation levels (the assembly's ``variation`` coordinate); None = all.
        time_bin: which time bin of the assembly (None = mean over bins; the public file has one, 70-170 ms).
    """
    assembly_path = _fetch("assembly", progress)
    csv_path, zip_path = _fetch("csv", progress), _fetch("zip", progress)
    da = read_assembly(assembly_path)
    csv_ids = pd.read_csv(csv_path, usecols=lambda c: c in ("stimulus_id", "image_id"), dtype=str)
    csv_ids = csv_ids["stimulus_id" if "stimulus_id" in csv_ids else "image_id"].astype(str).tolist()
    responses, image_ids, neurons = assembly_trials(da, area, variations=variations, time_bin=time_bin,
                                                    image_order=csv_ids)
    time = None
    if "time_bin_start" in da.coords and "time_bin_end" in da.coords:
        time = list(zip(np.atleast_1d(da["time_bin_start"].values).tolist(),
                        np.atleast_1d(da["time_bin_end"].values).tolist()))
    da.close()
    images, _ = read_stimuli(csv_path, zip_path, list(image_ids))
    return Recording(
        images=images,
        responses=responses,
        neurons=neurons,
        image_ids=image_ids,
        meta={
            "name": "majajhong2015",
            "units": "multi-unit firing rate as stored in the Brain-Score assembly (time bins (ms): "
                     f"{time if time is not None else 'unknown'})",
            "source": f"{BASE_URL}/{FILES['assembly'][0]}",
            "files": {k: {"name": n, "hash": h} for k, (n, h) in FILES.items()},
            "citation": CITATION,
            "license": LICENSE,
            "simulated": False,
            "preprocessing": {"area": _areas(area), "variations": None if variations is None else list(variations),
                              "time_bin": time_bin, "trials": "repetitions (NaN where an image has fewer)"},
        },
    )


def status() -> str:
    """"cached" when the assembly, csv and zip are in the cache, else "needs download"."""
    return "cached" if is_cached(FOLDER, [name for name, _ in FILES.values()]) else "needs download"
