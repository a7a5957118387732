"""Your own data as a `Recording`: :func:`from_arrays`, :func:`from_folder` (and :func:`to_folder`).

Folder layout read by :func:`from_folder`::

    my_data/
      images/            one 8-bit image file per image (png, jpg, jpeg, bmp, tif, tiff), sorted by
                         file name; all the same size; the file stems become the image ids; grey
                         files give [n, H, W], colour (or mixed) ones [n, H, W, 3]
      -- or --
      images.npy         [n_images, H, W] or [n_images, H, W, 3], uint8 or float
      responses.npy      [n_images, n_trials, n_neurons], NaN for missing trials
                         ([n_images, n_neurons] is read as trial means, n_trials = 1)
      neurons.csv        optional: one row per neuron, columns id, area (and any others,
                         e.g. noise_ceiling for trial-averaged data)
      image_ids.csv      optional with images.npy: one column "image_id"
      meta.json          optional: provenance (units, source, citation, license, ...)

Row ``i`` of ``responses.npy`` belongs to the ``i``-th image (sorted file name or row of ``images.npy``).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .recording import Recording

__all__ = ["from_arrays", "from_folder", "to_folder", "folder_hash", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def from_arrays(
    images,
    responses,
    neurons: pd.DataFrame | list | None = None,
    image_ids=None,
    meta: dict[str, Any] | None = None,
    name: str = "user",
) -> Recording:
    """A :class:`Recording` from in-memory arrays, validated like every dataset.

    ``images``: ``[n_images, H, W]`` or ``[n_images, H, W, 3]``; ``responses``: ``[n_images, n_trials,
    n_neurons]`` with NaN for missing trials, or ``[n_images, n_neurons]`` trial means (read as
    ``n_trials = 1``). ``neurons``: a DataFrame with ``id`` and ``area`` columns, or a list of neuron ids
    (area "unknown"); default ids ``0..n-1``. NaN may only mark whole missing trials.
    """
    r = np.asarray(responses, dtype=np.float64)
    if r.ndim == 2:
        r = r[:, None, :]
    if r.ndim == 3:
        slots = ~np.isnan(r).all(axis=2)
        partial = np.isnan(r) & slots[:, :, None]
        if partial.any():
            i, t, n = (int(v[0]) for v in np.nonzero(partial))
            raise ValueError(
                f"responses has {int(partial.sum())} NaN value(s) inside recorded trials (e.g. image {i}, trial "
                f"{t}, neuron {n}); NaN may only mark a whole missing trial (all neurons)"
            )
    if neurons is not None and not isinstance(neurons, pd.DataFrame):
        ids = list(neurons)
        neurons = pd.DataFrame({"id": [str(x) for x in ids], "area": "unknown"})
    info = {"name": name, "simulated": False, "units": "unknown", "source": "user data"}
    info.update(meta or {})
    return Recording(np.asarray(images), r, neurons, None if image_ids is None else np.asarray(image_ids), info)


def _read_image_folder(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"{folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    arrays, first = [], None
    for f in files:
        try:
            with Image.open(f) as im:
                if im.mode.startswith("I") or im.mode == "F":
                    raise ValueError(f"image {f} has {im.mode!r} pixels (16/32-bit); save the images as "
                                     "images.npy instead")
                a = np.asarray(im.convert("L") if im.mode in ("L", "1") else im.convert("RGB"))
        except OSError as exc:
            raise ValueError(f"cannot read image {f}: {exc}") from exc
        if first is None:
            first = (f, a.shape)
        elif a.shape[:2] != first[1][:2]:
            raise ValueError(f"image {f} is {a.shape[1]}x{a.shape[0]} but {first[0].name} is "
                             f"{first[1][1]}x{first[1][0]}; all images must have one size")
        arrays.append(a)
    if any(a.ndim == 3 for a in arrays):  # mixed grey/colour: make all RGB
        arrays = [a if a.ndim == 3 else np.repeat(a[:, :, None], 3, axis=2) for a in arrays]
    return np.stack(arrays), np.array([f.stem for f in files])


def from_folder(path: str | os.PathLike, name: str | None = None) -> Recording:
    """A :class:`Recording` from a folder laid out as in this module's docstring."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"from_folder: {root} is not a folder")
    img_dir, img_npy, resp = root / "images", root / "images.npy", root / "responses.npy"
    if img_dir.is_dir() and img_npy.is_file():
        raise ValueError(f"{root} has both images/ and images.npy; keep one")
    if img_dir.is_dir():
        images, ids = _read_image_folder(img_dir)
    elif img_npy.is_file():
        images, ids = np.load(img_npy, allow_pickle=False), None
        ids_csv = root / "image_ids.csv"
        if ids_csv.is_file():
            table = pd.read_csv(ids_csv)
            if "image_id" not in table.columns:
                raise ValueError(f"{ids_csv} needs a column 'image_id'; has {list(table.columns)}")
            ids = table["image_id"].to_numpy()
    else:
        raise FileNotFoundError(f"{root} has neither images/ nor images.npy")
    if not resp.is_file():
        raise FileNotFoundError(f"{root} has no responses.npy ([n_images, n_trials, n_neurons])")
    responses = np.load(resp, allow_pickle=False)
    if len(responses) != len(images):
        raise ValueError(f"{resp} has {len(responses)} rows but {root} holds {len(images)} images")
    neurons = None
    if (root / "neurons.csv").is_file():
        neurons = pd.read_csv(root / "neurons.csv", dtype={"id": str})
        missing = {"id", "area"} - set(neurons.columns)
        if missing:
            raise ValueError(f"{root / 'neurons.csv'} lacks column(s) {sorted(missing)}")
    meta: dict[str, Any] = {}
    if (root / "meta.json").is_file():
        try:
            meta = json.loads((root / "meta.json").read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{root / 'meta.json'} is not valid JSON: {exc}") from exc
        if not isinstance(meta, dict):
            raise ValueError(f"{root / 'meta.json'} must hold a JSON object")
    meta.setdefault("source", str(root))
    return from_arrays(images, responses, neurons, ids, meta, name=name or meta.get("name") or root.name)


_FOLDER_MEMO: dict[tuple, str] = {}


def folder_hash(path: str | os.PathLike) -> str:
    """A 12-hex-digit hash of a recording folder's *content* (every file's relative path and bytes), so that
    records of one recording match wherever the folder lies. Memoised by the files' sizes and mtimes."""
    import hashlib

    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"recording folder {root} does not exist (dataset 'folder:{path}')")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    stamp = (str(root.resolve()), tuple((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
                                        for p in files))
    if stamp not in _FOLDER_MEMO:
        h = hashlib.sha256()
        for p in files:
            h.update(p.relative_to(root).as_posix().encode() + b"\0")
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            h.update(b"\0")
        _FOLDER_MEMO[stamp] = h.hexdigest()[:12]
    return _FOLDER_MEMO[stamp]


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def to_folder(recording: Recording, path: str | os.PathLike) -> Path:
    """Write a recording in :func:`from_folder`'s layout (``images.npy`` variant); each file atomically.

    ``meta`` keeps its JSON-serialisable entries only (arrays such as simulated true rates are left out).
    """
    root = Path(path).expanduser()
    root.mkdir(parents=True, exist_ok=True)

    def save_npy(array):
        def write(tmp):
            with open(tmp, "wb") as f:
                np.save(f, array, allow_pickle=False)
        return write

    _atomic(root / "images.npy", save_npy(recording.images))
    _atomic(root / "responses.npy", save_npy(recording.responses))
    _atomic(root / "neurons.csv", lambda tmp: recording.neurons.to_csv(tmp, index=False))
    _atomic(root / "image_ids.csv", lambda tmp: pd.DataFrame({"image_id": recording.image_ids}).to_csv(tmp, index=False))
    meta = {}
    for k, v in recording.meta.items():
        try:
            json.dumps(v)
        except TypeError:
            continue
        meta[k] = v
    _atomic(root / "meta.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=1, sort_keys=True)))
    return root
