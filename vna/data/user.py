"""Your own data as a `Recording`: :func:`from_arrays`, :func:`from_folder` (and :func:`to_folder`).

Folder layout read by :func:`from_folder`::

    my_data/
      images/            one image file per image (png, jpg, jpeg, bmp, tif, tiff), all the same size; the
                         file stems are the image ids. Order: the rows of image_ids.csv when it is there,
                         else the *natural* order of the file names (image2 before image10); grey files
                         give [n, H, W], colour (or mixed) ones [n, H, W, 3]
      -- or --
      images.npy         [n_images, H, W] or [n_images, H, W, 3]: uint8 (0..255) or float in [0, 1]
      responses.npy      [n_images, n_trials, n_neurons], NaN for missing trials
                         ([n_images, n_neurons] is read as trial means, n_trials = 1)
      image_ids.csv      optional: one column "image_id", one row per image in response order (with
                         images/: every file stem exactly once; this fixes the order)
      neurons.csv        optional: one row per neuron, columns id, area (and any others,
                         e.g. noise_ceiling for trial-averaged data)
      meta.json          optional: provenance (units, source, citation, license, ...)

Row ``i`` of ``responses.npy`` belongs to the ``i``-th image (the ``i``-th row of ``image_ids.csv`` or of
``images.npy``, else the ``i``-th file in natural order).

What the loaders refuse, each with an error naming the file or field and the fix, because each would
otherwise pair responses with the wrong images or train on unusable images without a word: file names
whose order is ambiguous (``image1.jpg`` and ``image01.jpg``), two files for one id (``x.jpg`` beside
``x.png``), duplicate image or neuron ids, float images outside [0, 1] or spanning less than 1e-3 (pass
``scale=``), integer images beyond 0..255 (e.g. uint16: pass ``scale=``), multi-page TIFFs (one image per
file), a folder edited while it is being read, and unreadable files (the message names the file). What they
accept with a warning: two images that are pixel for pixel the same (a held-out-images split can put one on
each side), and responses with more trials than neurons that look like counts (likely saved as
``[images, neurons, trials]``).

A folder's content hash (:func:`folder_hash`) covers the layout's files only, and :func:`from_folder` puts
the hash of what it read in ``Recording.meta["content_hash"]``: the records of its runs are keyed by it.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .recording import Recording

__all__ = ["from_arrays", "from_folder", "to_folder", "folder_hash", "natural_key", "IMAGE_SUFFIXES",
           "MIN_FLOAT_RANGE", "LAYOUT_FILES", "CONTENT_KEY"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

#: ``Recording.meta`` key of a folder's content hash (:func:`folder_hash`) taken when :func:`from_folder` read it:
#: the content its runs are keyed by, whatever the folder holds later.
CONTENT_KEY = "content_hash"

#: Float images must span at least this much of [0, 1] (max - min over the set), else they are refused:
#: a set within 0 .. 2.55e-4 trains as blank frames and every method falls to chance.
MIN_FLOAT_RANGE = 1e-3


# ----------------------------------------------------------------------------------------------- checks
def _check_scale(scale: Any) -> None:
    if scale is None or scale == "minmax":
        return
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be None, 'minmax' or a positive number (the images are multiplied by it); "
                         f"got {scale!r}")


def _scale_hint(lo: float, hi: float) -> str:
    by = f"scale={1 / hi:.6g} (1/{hi:.6g}: 0 stays black, {hi:.6g} becomes white) or " if lo >= 0 and hi > 0 else ""
    return f"pass {by}scale='minmax' (one minimum and maximum for the whole set)"


def _check_images(images: Any, scale: Any = None, where: str = "images") -> np.ndarray:
    """``images`` as they will be stored: ``uint8``, or float within [0, 1] spanning at least
    :data:`MIN_FLOAT_RANGE`; ``scale`` (a number to multiply by, or ``"minmax"``) maps other ranges there."""
    _check_scale(scale)
    x = np.asarray(images)
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"{where}: images must be uint8 (0..255) or float in [0, 1]; got dtype {x.dtype}")
    if x.size == 0:
        raise ValueError(f"{where}: no images (shape {x.shape})")
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise ValueError(f"{where}: images contain {int((~np.isfinite(x)).sum())} NaN/inf values")
    lo, hi = float(x.min()), float(x.max())
    if scale is not None:
        if scale == "minmax":
            if hi == lo:
                raise ValueError(f"{where}: every pixel of every image is {lo:g}; scale='minmax' cannot scale them")
            y = (x.astype(np.float64) - lo) / (hi - lo)
        else:
            y = x.astype(np.float64) * float(scale)
        ylo, yhi = float(y.min()), float(y.max())
        if ylo < -1e-6 or yhi > 1 + 1e-6:
            raise ValueError(f"{where}: scale={scale!r} maps the images ({x.dtype}, {lo:.6g} .. {hi:.6g}) to "
                             f"{ylo:.6g} .. {yhi:.6g}, outside [0, 1]; {_scale_hint(lo, hi)}")
        if yhi - ylo < MIN_FLOAT_RANGE:
            raise ValueError(f"{where}: scale={scale!r} maps the images to {ylo:.3g} .. {yhi:.3g} (range below "
                             f"{MIN_FLOAT_RANGE:g}); they would train as blank frames; {_scale_hint(lo, hi)}")
        return np.clip(y, 0.0, 1.0).astype(np.float32)
    if np.issubdtype(x.dtype, np.integer):
        if x.dtype == np.uint16:
            raise ValueError(f"{where}: images are uint16 (values {lo:.0f}..{hi:.0f}); say how they map to "
                             "[0, 1]: scale=1/65535 (16-bit), scale=1/4095 (12-bit) or scale='minmax', or "
                             "convert them to uint8 0..255")
        if lo < 0 or hi > 255:
            raise ValueError(f"{where}: integer images must lie within 0..255 (8-bit); these ({x.dtype}) span "
                             f"{lo:.0f}..{hi:.0f}; {_scale_hint(lo, hi)}, or convert them to uint8")
        if hi == lo:  # constant: as blank as a constant float set, and refused with its message
            raise ValueError(f"{where}: {x.dtype} images span only {lo:.3g} .. {hi:.3g} (every pixel of every image "
                             f"is {lo:g}) and would train as blank frames; save the images themselves")
        return x if x.dtype == np.uint8 else x.astype(np.uint8)  # 8-bit values in a wider type (a Python list)
    if lo < 0 or hi > 1:
        raise ValueError(f"{where}: float images must lie in [0, 1]; these span {lo:.6g} .. {hi:.6g}; "
                         f"{_scale_hint(lo, hi)}, or save them rescaled to [0, 1] (or as uint8 0..255)")
    if hi - lo < MIN_FLOAT_RANGE:
        raise ValueError(f"{where}: float images span only {lo:.3g} .. {hi:.3g} (range {hi - lo:.3g} < "
                         f"{MIN_FLOAT_RANGE:g} of [0, 1]) and would train as blank frames; {_scale_hint(lo, hi)}, "
                         "or save them rescaled to [0, 1] (or as uint8 0..255)")
    return x


def _check_unique(values, what: str, where: str) -> None:
    s = pd.Series(list(values), dtype=object)
    dup = s[s.duplicated(keep=False)]
    if len(dup):
        first = dup.iloc[0]
        first = first.item() if isinstance(first, np.generic) else first
        rows = [int(i) for i in dup.index[dup == first]]
        raise ValueError(f"{where}: {what} {first!r} appears {len(rows)} times (rows {', '.join(map(str, rows))})"
                         f"{f' and {dup.nunique() - 1} more id(s) repeat' if dup.nunique() > 1 else ''}; "
                         f"every {what.split()[0]} needs its own id")


def _warn_transposed(r: np.ndarray, where: str) -> None:
    """Echo the shape where the axes were likely saved in another order: more "trials" than "neurons" and
    values that look like counts (whole numbers >= 0) are what ``[images, neurons, trials]`` gives."""
    values = r[np.isfinite(r)]
    if r.shape[1] > r.shape[2] and values.size and values.min() >= 0 and np.array_equal(values, np.round(values)):
        warnings.warn(f"{where}: responses read as {r.shape[0]} images x {r.shape[1]} trials x {r.shape[2]} neurons; "
                      "more trials than neurons, and the values look like counts: if the array is [images, neurons, "
                      "trials], save responses.transpose(0, 2, 1) instead", UserWarning, stacklevel=4)


def _warn_duplicates(images: np.ndarray, image_ids, where: str) -> None:
    """Warn when two images are pixel for pixel the same: a held-out-images split can put one copy in training
    and the other in the test set."""
    import hashlib

    seen: dict[bytes, int] = {}
    pairs = []
    for i, image in enumerate(images):
        digest = hashlib.sha1(np.ascontiguousarray(image).tobytes()).digest()
        if digest in seen:
            pairs.append((seen[digest], i))
        else:
            seen[digest] = i
    if pairs:
        i, j = pairs[0]
        ids = image_ids if image_ids is not None and np.ndim(image_ids) == 1 else None

        def name(k: int) -> str:
            if ids is None:
                return str(k)
            return f"{k} (id {ids[k].item() if isinstance(ids[k], np.generic) else ids[k]!r})"

        more = f" and {len(pairs) - 1} more duplicate(s)" if len(pairs) > 1 else ""
        warnings.warn(f"{where}: images {name(i)} and {name(j)} are identical{more}; a duplicate can sit on both sides "
                      "of a held-out-images split (remove it, or merge its trials into one image)", UserWarning,
                      stacklevel=4)


def _neuron_table(neurons, n_neurons: int, where: str) -> pd.DataFrame | None:
    if neurons is None:
        return None
    if not isinstance(neurons, pd.DataFrame):
        neurons = pd.DataFrame({"id": [str(x) for x in list(neurons)], "area": "unknown"})
    else:
        neurons = neurons.reset_index(drop=True).copy()
        missing = {"id", "area"} - set(neurons.columns)
        if missing:
            raise ValueError(f"{where} lacks column(s) {sorted(missing)}")
        neurons["id"] = neurons["id"].astype(str)
    if len(neurons) != n_neurons:
        raise ValueError(f"{where} has {len(neurons)} neurons but responses has {n_neurons}")
    _check_unique(neurons["id"], "neuron id", where)
    return neurons


# ---------------------------------------------------------------------------------------------- arrays
def from_arrays(
    images,
    responses,
    neurons: pd.DataFrame | list | None = None,
    image_ids=None,
    meta: dict[str, Any] | None = None,
    name: str = "user",
    *,
    scale: float | str | None = None,
) -> Recording:
    """A :class:`Recording` from in-memory arrays, validated like every dataset.

    ``images``: ``[n_images, H, W]`` or ``[n_images, H, W, 3]``, ``uint8`` (0..255) or float in [0, 1]
    spanning at least 1e-3; other ranges (float images in other units, uint16) need ``scale``: a number the
    images are multiplied by (e.g. ``1/65535`` for 16-bit images) or ``"minmax"`` (one minimum and maximum
    for the whole set, so that relative contrast between images is kept); the result is float32 in [0, 1].
    ``responses``: ``[n_images, n_trials, n_neurons]`` with NaN for missing trials, or ``[n_images,
    n_neurons]`` trial means (read as ``n_trials = 1``). ``neurons``: a DataFrame with ``id`` and ``area``
    columns, or a list of neuron ids (area "unknown"); default ids ``0..n-1``; ids are strings and must be
    unique, as must ``image_ids``. NaN may only mark whole missing trials.
    """
    return _from_arrays(images, responses, neurons, image_ids, meta, name, scale,
                        {"images": "images", "responses": "responses", "neurons": "neurons",
                         "image_ids": "image_ids"})


def _from_arrays(images, responses, neurons, image_ids, meta, name, scale, where: dict[str, str]) -> Recording:
    images = _check_images(images, scale, where["images"])
    if np.iscomplexobj(responses):
        raise ValueError(f"{where['responses']}: responses are complex ({np.asarray(responses).dtype}); vna needs "
                         "real numbers (take the magnitude or the real part yourself, on purpose)")
    try:
        r = np.asarray(responses, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where['responses']}: responses must be numeric; {exc}") from None
    if r.ndim == 2:
        r = r[:, None, :]
    if r.ndim == 3:
        slots = ~np.isnan(r).all(axis=2)
        partial = np.isnan(r) & slots[:, :, None]
        if partial.any():
            i, t, n = (int(v[0]) for v in np.nonzero(partial))
            raise ValueError(
                f"{where['responses']}: responses has {int(partial.sum())} NaN value(s) inside recorded trials "
                f"(e.g. image {i}, trial {t}, neuron {n}); NaN may only mark a whole missing trial (all neurons)"
            )
        neurons = _neuron_table(neurons, r.shape[2], where["neurons"])
    if image_ids is not None:
        image_ids = np.asarray(image_ids)
        if image_ids.ndim == 1:
            _check_unique(image_ids, "image id", where["image_ids"])
    if r.ndim == 3:
        _warn_transposed(r, where["responses"])
    _warn_duplicates(images, image_ids, where["images"])
    info = {"name": name, "simulated": False, "units": "unknown", "source": "user data"}
    info.update(meta or {})
    if scale is not None:
        info["image_scale"] = scale
    return Recording(images, r, neurons, image_ids, info)


# ---------------------------------------------------------------------------------------------- folder
def natural_key(name: str) -> tuple:
    """Sort key of a file name with its numbers read as numbers: ``image2`` before ``image10``; text is
    compared without case. ``image1`` and ``image01`` get the same key (:func:`from_folder` refuses that)."""
    parts = re.split(r"(\d+)", name)
    return tuple(int(p) if k % 2 else p.casefold() for k, p in enumerate(parts))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"cannot read {path}: {_first_line(exc)}") from None


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        complete = "allow_pickle" in text or "written" in text
        hint = "" if complete else "; is the file complete? (write it again with numpy.save)"
        raise ValueError(f"cannot read {path}: {text}{hint}") from None


def _read_ids_csv(path: Path) -> np.ndarray:
    table = _read_csv(path, dtype=str, keep_default_na=False)
    if "image_id" not in table.columns:
        raise ValueError(f"{path} needs a column 'image_id'; has {list(table.columns)}")
    ids = table["image_id"].to_numpy(dtype=object)
    _check_unique(ids, "image id", str(path))
    if len(ids) and all(re.fullmatch(r"-?\d+", s) and str(int(s)) == s for s in ids):
        return ids.astype(np.int64)  # ids written as integers come back as integers
    return ids


def _check_file_name(path: Path) -> None:
    """Refuse a file name that is not valid UTF-8 (it could not be an image id, a CSV cell or a hash input),
    naming the file as the file system spells it."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{path.parent}: the file name {os.fsencode(path.name)!r} is not valid UTF-8; rename it "
                         "(e.g. with convmv, or by hand)") from None


def _image_files(folder: Path, ids: np.ndarray | None, ids_csv: Path) -> list[Path]:
    """The image files of ``folder`` in response order (``image_ids.csv``'s rows, else natural order)."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
             and not p.name.startswith(".")]
    for f in files:
        _check_file_name(f)
    if not files:
        raise FileNotFoundError(f"{folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    by_stem: dict[str, Path] = {}
    for f in sorted(files):
        if f.stem in by_stem:
            raise ValueError(f"{by_stem[f.stem]} and {f} are two files for one image id {f.stem!r}; keep one")
        by_stem[f.stem] = f
    if ids is not None:
        wanted = [str(i) for i in ids]
        unknown = [i for i in wanted if i not in by_stem]
        if unknown:
            raise ValueError(f"{ids_csv} names {len(unknown)} image(s) with no file in {folder}, e.g. "
                             f"{unknown[0]!r}; its image_id column must hold the file names without suffix")
        unlisted = sorted(set(by_stem) - set(wanted), key=natural_key)
        if unlisted:
            raise ValueError(f"{ids_csv} does not list {len(unlisted)} file(s) of {folder}, e.g. "
                             f"{by_stem[unlisted[0]].name}; list every image once, in response order")
        return [by_stem[i] for i in wanted]
    keyed: dict[tuple, Path] = {}
    for f in by_stem.values():
        k = natural_key(f.stem)
        if k in keyed:
            a, b = sorted([keyed[k].name, f.name])
            raise ValueError(f"{folder}: the order of {a} and {b} is ambiguous (the same name and number); "
                             f"rename them (e.g. zero-pad every number to one width) or give the order in "
                             f"{ids_csv.name} (column image_id)")
        keyed[k] = f
    return [keyed[k] for k in sorted(keyed)]


def _read_image_folder(folder: Path, ids: np.ndarray | None, ids_csv: Path,
                       scale: Any) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    files = _image_files(folder, ids, ids_csv)
    arrays, first, deep = [], None, None
    for f in files:
        try:
            with Image.open(f) as im:
                pages = int(getattr(im, "n_frames", 1) or 1)
                if pages > 1:
                    raise ValueError(f"{f} holds {pages} pages (frames); vna reads one image per file and would "
                                     "silently use the first: save each page as its own file (one per image)")
                high = im.mode.startswith("I") or im.mode == "F"
                if high:
                    if scale is None:
                        raise ValueError(f"{f} has {im.mode!r} pixels (16/32-bit); pass scale= to from_folder "
                                         "(e.g. scale=1/65535 for 16-bit, or scale='minmax'), or save 8-bit images")
                    a = np.asarray(im).astype(np.float64)
                else:
                    a = np.asarray(im.convert("L") if im.mode in ("L", "1") else im.convert("RGB"))
        except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
            raise ValueError(f"cannot read image {f}: {exc}") from None
        if deep is None:
            deep = (f, high)
        elif deep[1] != high:
            raise ValueError(f"{f} and {deep[0].name} have different bit depths ({'16/32' if high else '8'}-bit vs "
                             f"{'16/32' if deep[1] else '8'}-bit); save every image the same way")
        if first is None:
            first = (f, a.shape)
        elif a.shape[:2] != first[1][:2]:
            raise ValueError(f"image {f} is {a.shape[1]}x{a.shape[0]} but {first[0].name} is "
                             f"{first[1][1]}x{first[1][0]}; all images must have one size")
        arrays.append(a)
    if any(a.ndim == 3 for a in arrays):  # mixed grey/colour: make all RGB
        arrays = [a if a.ndim == 3 else np.repeat(a[:, :, None], 3, axis=2) for a in arrays]
    return np.stack(arrays), np.array([f.stem for f in files])


def from_folder(path: str | os.PathLike, name: str | None = None, *, scale: float | str | None = None) -> Recording:
    """A :class:`Recording` from a folder laid out as in this module's docstring.

    ``scale``: as in :func:`from_arrays`, for images that are not uint8 or float in [0, 1] (through a
    dataset name: ``RunConfig(dataset="folder:PATH", dataset_options={"scale": "minmax"})``).
    """
    _check_scale(scale)
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"from_folder: {root} is not a folder")
    img_dir, img_npy, resp = root / "images", root / "images.npy", root / "responses.npy"
    ids_csv = root / "image_ids.csv"
    content = folder_hash(root)  # what is read below; compared again after reading
    if img_dir.is_dir() and img_npy.is_file():
        raise ValueError(f"{root} has both images/ and images.npy; keep one")
    ids = _read_ids_csv(ids_csv) if ids_csv.is_file() else None
    if img_dir.is_dir():
        images, ids = _read_image_folder(img_dir, ids, ids_csv, scale)
        where_images = str(img_dir)
    elif img_npy.is_file():
        images = _load_npy(img_npy)
        where_images = str(img_npy)
        if ids is not None and len(ids) != len(images):
            raise ValueError(f"{ids_csv} has {len(ids)} rows but {img_npy} holds {len(images)} images")
    else:
        raise FileNotFoundError(f"{root} has neither images/ nor images.npy")
    if not resp.is_file():
        raise FileNotFoundError(f"{root} has no responses.npy ([n_images, n_trials, n_neurons])")
    responses = _load_npy(resp)
    if len(responses) != len(images):
        raise ValueError(f"{resp} has {len(responses)} rows but {root} holds {len(images)} images")
    neurons = None
    neurons_csv = root / "neurons.csv"
    if neurons_csv.is_file():
        neurons = _read_csv(neurons_csv, dtype={"id": str}, float_precision="round_trip")  # exact on pandas < 3 too
    meta: dict[str, Any] = {}
    if (root / "meta.json").is_file():
        try:
            meta = json.loads((root / "meta.json").read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{root / 'meta.json'} is not valid JSON: {exc}") from None
        if not isinstance(meta, dict):
            raise ValueError(f"{root / 'meta.json'} must hold a JSON object")
    meta.setdefault("source", str(root))
    after = folder_hash(root)
    if after != content:
        raise ValueError(f"{root} changed while it was being read (content {content} before, {after} after); "
                         "read it again once it is complete")
    meta[CONTENT_KEY] = content
    return _from_arrays(images, responses, neurons, ids, meta, name or meta.get("name") or root.name, scale,
                        {"images": where_images, "responses": str(resp), "neurons": str(neurons_csv),
                         "image_ids": str(ids_csv)})


_FOLDER_MEMO: dict[tuple, str] = {}

#: The files of the layout (module docstring) beside ``images/``: the only ones :func:`folder_hash` reads.
LAYOUT_FILES = ("images.npy", "responses.npy", "image_ids.csv", "neurons.csv", "meta.json")


def _layout_files(root: Path) -> list[Path]:
    """The recording's own files in ``root``: :data:`LAYOUT_FILES` and the image files of ``images/`` (what
    :func:`from_folder` reads), never a runs folder, notes or anything else kept beside them."""
    files = [root / name for name in LAYOUT_FILES if (root / name).is_file()]
    images = root / "images"
    if images.is_dir():
        files += [p for p in images.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith(".")]
    return sorted(files)


def folder_hash(path: str | os.PathLike) -> str:
    """A 12-hex-digit hash of a recording folder's *content*: the relative path and bytes of each of its own
    files (:data:`LAYOUT_FILES` and the image files of ``images/``), so that records of one recording match
    wherever the folder lies, and a runs folder or notes kept inside it change nothing. Memoised by the files'
    sizes and mtimes."""
    import hashlib

    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"recording folder {root} does not exist (dataset 'folder:{path}')")
    files = _layout_files(root)
    for p in files:
        _check_file_name(p)
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


# ---------------------------------------------------------------------------------------------- writer
def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def to_folder(recording: Recording, path: str | os.PathLike, *, replace: bool = False) -> Path:
    """Write a recording in :func:`from_folder`'s layout (``images.npy`` variant) and return the folder.

    The files are written into a temporary folder beside ``path`` that is renamed into place only when all
    are complete, so an interrupted write leaves nothing behind (and an older folder at ``path`` as it was).
    A non-empty ``path`` is refused unless ``replace=True``, and then only when it is itself a recording
    folder (it holds ``responses.npy``). The folder loads back equal to ``recording``: the same images
    (dtype included), responses, neuron table, image ids (ids written as integers come back as integers,
    any other as strings) and the JSON-serialisable entries of ``meta`` (arrays such as simulated true
    rates are left out). The bytes depend only on the recording, so the folder's content hash
    (:func:`folder_hash`, which keys the records of ``folder:PATH`` runs) is the same for every export.
    """
    if not isinstance(recording, Recording):
        raise ValueError(f"to_folder writes a vna.data.Recording; got {type(recording).__name__}")
    root = Path(path).expanduser()
    # refuse what would not load back, before anything is written
    _check_images(recording.images, None, f"to_folder: {recording.name} images")
    _check_unique(recording.image_ids, "image id", f"to_folder: {recording.name} image_ids")
    _check_unique(recording.neurons["id"].astype(str), "neuron id", f"to_folder: {recording.name} neurons")
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"to_folder: {root} is a file, not a folder")
    existing = root.is_dir() and any(root.iterdir())
    if existing and not replace:
        raise FileExistsError(f"to_folder: {root} is not empty; choose a new folder, or pass replace=True to "
                              "replace the recording folder there")
    if existing and not (root / "responses.npy").is_file():
        raise FileExistsError(f"to_folder: {root} is not empty and is not a recording folder (no responses.npy); "
                              "not replacing it")
    meta = {}
    for k, v in recording.meta.items():
        if k == CONTENT_KEY:  # the content hash of the folder it was read from, not part of the recording
            continue
        try:
            json.dumps(v, allow_nan=True)
        except (TypeError, ValueError):
            continue
        meta[k] = v
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the folder should be as any other
        for name, array in (("images.npy", recording.images), ("responses.npy", recording.responses)):
            with open(tmp / name, "wb") as f:
                np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        neurons = recording.neurons.copy()
        neurons["id"] = neurons["id"].astype(str)
        neurons.to_csv(tmp / "neurons.csv", index=False)
        pd.DataFrame({"image_id": recording.image_ids}).to_csv(tmp / "image_ids.csv", index=False)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        if root.is_dir() and not any(root.iterdir()):
            root.rmdir()
        if root.exists():  # replace=True: swap the old folder out, the new one in, then delete the old one
            old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
            os.replace(root, old / root.name)
            try:
                os.replace(tmp, root)
            except BaseException:
                os.replace(old / root.name, root)
                shutil.rmtree(old, ignore_errors=True)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
