"""Helpers shared by the paper-dataset loaders: downloads without a published hash, image files."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..cache import CorruptDataFile, MissingDataFile, data_dir
from ..download import DownloadCorrupt, DownloadError, content_problem, download

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif")
#: A JSON file replacing the pinned sources of the paper datasets (a mirror, or the quick mode's local
#: fixture server): ``{"allen-neuropixels": {"dandi_api", "template_url"}, "majajhong2015": {"base_url",
#: "files": {key: [name, hash]}}}``; entries left out keep the pinned values.
SOURCES_ENV = "VNA_PAPER_SOURCES"


def source_override(dataset: str) -> dict:
    """The ``dataset`` entry of the file named by ``$VNA_PAPER_SOURCES`` (``{}`` when it is not set)."""
    import json

    value = os.environ.get(SOURCES_ENV, "").strip()
    if not value:
        return {}
    path = Path(value).expanduser()
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"${SOURCES_ENV}={value}: not a readable JSON file ({exc})") from None
    entry = doc.get(dataset, {}) if isinstance(doc, dict) else {}
    if not isinstance(entry, dict):
        raise ValueError(f"${SOURCES_ENV}={value}: the entry for {dataset!r} must be an object")
    return entry


def fetch_unverified(folder: str, relpath: str, url: str, *, progress: bool = True, size: int | None = None) -> Path:
    """Like :func:`vna.data.cache.fetch` for a file whose upstream publishes no hash: checked by its size
    (``size`` when the caller knows it, else the server's ``Content-Length``) and its type
    (:func:`vna.data.download.content_problem`: an image decodes, an NWB file has the HDF5 signature, JSON parses).

    Used for the DANDI asset metadata (which carries the NWB file's sha256) and the Allen stimulus
    templates. A cached copy is used when its type checks out; one that does not (an error page an older
    version cached) is downloaded again. A download goes through :func:`vna.data.download.download`
    (``<file>.part``, resumed with HTTP Range, retried, moved into place with :func:`os.replace` only after
    its checks), so nothing partial or of the wrong type ever has the final name.
    """
    target = data_dir() / folder / relpath
    stale = content_problem(target) if target.is_file() else None
    if target.is_file() and stale is None:
        return target
    where = (
        f"To provide it without a network, download {url} to {target} "
        f"(or set VNA_DATA_DIR to a folder laid out as <folder>/{folder}/{relpath})."
    )
    try:
        download(url, target, size=size, progress=progress, desc=f"{folder}/{relpath}")
    except DownloadCorrupt as exc:
        raise CorruptDataFile(f"download of {folder}/{relpath} from {url} failed its check ({exc.reason}); "
                              f"nothing was written to the cache. {where}", reason=exc.reason) from None
    except DownloadError as exc:
        if stale is not None:
            raise CorruptDataFile(f"the cached file {target} is {stale}, and downloading it again from {url} failed "
                                  f"({exc.reason}); delete it, or {where[0].lower()}{where[1:]}",
                                  reason=stale) from None
        raise MissingDataFile(f"{target} is not cached and could not be downloaded from {url} "
                              f"({exc.reason}). {where}", reason=exc.reason) from None
    except OSError as exc:
        raise MissingDataFile(f"{target} is not cached and the cache folder {data_dir()} is not writable "
                              f"({exc}). {where}") from exc
    return target


def natural_key(name: str) -> list:
    """Sort key that puts ``img2`` before ``img10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def to_grey(image: np.ndarray) -> np.ndarray:
    """``[H, W]`` from ``[H, W]``, ``[H, W, 3|4]``; RGB is combined with ITU-R 601 luma weights, dtype kept."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        grey = image[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        return np.clip(np.round(grey), 0, 255).astype(np.uint8) if image.dtype == np.uint8 else grey
    raise ValueError(f"an image must be [H, W] or [H, W, 3]; got shape {image.shape}")


def read_image(path: str | os.PathLike | object, *, grey: bool = True) -> np.ndarray:
    """One image file (or file-like object) as a numpy array; ``grey`` converts colour to one channel."""
    from PIL import Image

    with Image.open(path) as im:
        if im.mode in ("L", "I;16", "I;16B", "I", "F"):
            array = np.asarray(im)
        else:
            array = np.asarray(im.convert("RGB"))
    return to_grey(array) if grey else array


def stack_images(images: list[np.ndarray], what: str) -> np.ndarray:
    """Stack equally sized images, or say which one differs."""
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        first = images[0].shape
        bad = next(i for i, im in enumerate(images) if im.shape != first)
        raise ValueError(f"{what}: images differ in size (image 0 is {first}, image {bad} is {images[bad].shape})")
    return np.stack(images)
