"""Macaque-face: Chang, Egger, Vetter & Tsao (2021), AM face patch, from a user-supplied folder (paper Sec. 4.1.2).

The recordings are "available on request" from the authors, so there is nothing to download. Put what they
send into a folder with this layout (one of the names in each row):

=================  =====================================================================================
images             ``images.npy`` ``[I, H, W]`` / ``[I, H, W, 3]``, or a folder ``images/`` of image files
                   (png, jpg, bmp, tif; image order = file names sorted naturally, ``img2`` before ``img10``),
                   or Huang et al.'s stimulus tensor ``stimulus_macaque_face_224.pt`` (also ``_299.pt``,
                   or ``macaque_face_224.pt``): one ``[I, 3, H, W]`` tensor, read with
                   ``torch.load(weights_only=True)``
responses          ``responses.npy`` ``[I, trials, N]`` (NaN = missing trial) or ``[I, N]`` (trial means);
                   or ``AM.npy`` ``[I, N]`` (the layout of Huang et al.'s preprocessed arrays)
noise ceiling      ``noise_ceiling.npy`` ``[N]``, or ``neurons.csv`` with a ``noise_ceiling`` column
                   (optional columns ``id``, ``area``)
=================  =====================================================================================

The folder is ``folder=`` if given, else ``$VNA_CHANG2021_DIR``, else ``<data_dir>/chang2021_face``.
Huang et al.'s code (``Grasshlw/SNN-Neural-Similarity-Static`` ``similarity/similarity.py``,
``extraction.py``) loads ``stimulus_<dataset>_224.pt`` with ``torch.load`` and feeds it unchanged to
ImageNet-trained torchvision models, so the tensor is probably ImageNet-normalised; ``tensor_normalization``
says what to undo (default "auto": ImageNet mean/std when the tensor holds negative values).
Neurons with noise ceiling >= ``noise_ceiling_threshold`` are kept (default 0.1, the value in Huang et al.'s
public code, ``similarity.py``: ``macaque_face ... threshold = 0.1``; the paper's own number was lost).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..cache import data_dir
from ..recording import Recording
from ._common import IMAGE_SUFFIXES, natural_key, read_image, stack_images, to_grey

__all__ = ["load_chang2021_face", "status", "find_files", "read_stimulus_tensor", "DEFAULT_NOISE_CEILING_THRESHOLD",
           "ENV_VAR", "TENSOR_FILES"]

FOLDER = "chang2021_face"
ENV_VAR = "VNA_CHANG2021_DIR"
DEFAULT_NOISE_CEILING_THRESHOLD = 0.1
CITATION = ("Chang, L., Egger, B., Vetter, T. & Tsao, D.Y. (2021) Explaining face representation in the primate brain using "
            "different computational models. Current Biology 31(13):2785-2795.")
LICENSE = "available on request from the authors (no public licence)"

#: Huang et al.'s stimulus tensors (``f"stimulus_{dataset}_{224|299}.pt"``; the earlier repository's demo
#: uses ``<dataset>_224.pt``).
TENSOR_FILES = ("stimulus_macaque_face_224.pt", "stimulus_macaque_face_299.pt", "macaque_face_224.pt")
#: torchvision's ImageNet normalisation (per RGB channel).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_LAYOUT = {
    "images": ("images.npy", "images/") + TENSOR_FILES,
    "responses": ("responses.npy", "AM.npy"),
    "noise ceiling": ("noise_ceiling.npy", "neurons.csv"),
}


def _folder(folder) -> Path:
    if folder is not None:
        return Path(folder).expanduser()
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env).expanduser() if env else data_dir() / FOLDER


def find_files(folder=None) -> dict[str, Path | None]:
    """Which file of the documented layout provides each part (None = missing)."""
    root = _folder(folder)
    found: dict[str, Path | None] = {}
    for part, names in _LAYOUT.items():
        found[part] = None
        for name in names:
            candidate = root / name.rstrip("/")
            if candidate.is_dir() if name.endswith("/") else candidate.is_file():
                found[part] = candidate
                break
    return found


def _missing_message(root: Path, found: dict, need: list[str]) -> str:
    lines = [f"Chang et al. (2021) face data: the folder {root} is incomplete "
             "(the data are available on request from the authors; see vna.data.paper.chang2021)."]
    for part in need:
        if found[part] is None:
            lines.append(f"  missing {part}: provide one of {', '.join(_LAYOUT[part])}")
    lines.append(f"Pass folder=..., or set {ENV_VAR}, or put the files in {data_dir() / FOLDER}.")
    return "\n".join(lines)


def read_stimulus_tensor(path: str | os.PathLike, normalization: str | None = "auto") -> tuple[np.ndarray, str]:
    """``(images [I, H, W] float, what was done)`` from a ``.pt`` file holding one image tensor.

    Read with ``torch.load(..., weights_only=True)`` (no arbitrary pickles). Accepted shapes: ``[I, 3, H, W]``
    (converted to grey with ITU-R 601 weights), ``[I, 1, H, W]``, ``[I, H, W]``. ``normalization``:
    "imagenet" undoes torchvision's ImageNet mean/std (then clips to [0, 1]); None keeps the values;
    "auto" does "imagenet" when the tensor has negative values (a plain image tensor has none), else None.
    """
    import torch

    path = Path(path)
    if normalization not in ("auto", "imagenet", None):
        raise ValueError(f"tensor_normalization must be 'auto', 'imagenet' or None; got {normalization!r}")
    try:
        tensor = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling error means "not a plain tensor file"
        raise ValueError(f"{path}: not readable with torch.load(weights_only=True) "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"{path}: must hold one image tensor [I, 3, H, W]; got {type(tensor).__name__}")
    x = tensor.detach().to(torch.float32).numpy()
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if not (x.ndim == 3 or (x.ndim == 4 and x.shape[1] == 3)):
        raise ValueError(f"{path}: images must be [I, 3, H, W], [I, 1, H, W] or [I, H, W]; got {tuple(x.shape)}")
    if not np.isfinite(x).all():
        raise ValueError(f"{path}: the image tensor holds NaN or inf values")
    if normalization == "auto":
        normalization = "imagenet" if x.min() < 0 else None
    mean, std = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
    luma = np.array([0.299, 0.587, 0.114])

    def one(im: np.ndarray) -> np.ndarray:  # one image, channels first: undo the normalisation, then grey
        im = im.astype(np.float64)
        if normalization == "imagenet":
            im = (im * std[:, None, None] + mean[:, None, None] if im.ndim == 3
                  else im * float(luma @ std) + float(luma @ mean))  # one channel: luma-weighted mean and std
            im = np.clip(im, 0.0, 1.0)
        return (to_grey(np.moveaxis(im, 0, -1)) if im.ndim == 3 else im).astype(np.float32)

    done = "ImageNet mean/std undone, clipped to [0, 1]" if normalization == "imagenet" else "values as stored"
    return np.stack([one(im) for im in x]), done


def _load_images(path: Path, normalization: str | None = "auto") -> tuple[np.ndarray, np.ndarray, str]:
    if path.suffix == ".pt":
        images, done = read_stimulus_tensor(path, normalization)
        return images, np.arange(len(images)), f"{path.name}: {done}"
    if path.is_dir():
        files = sorted((f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES),
                       key=lambda f: natural_key(f.name))
        if not files:
            raise FileNotFoundError(f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)})")
        images = stack_images([read_image(f) for f in files], str(path))
        return images, np.array([f.stem for f in files], dtype=object), f"{path.name}/: image files"
    images = np.load(path, allow_pickle=False)
    if images.ndim == 4 and images.shape[-1] in (3, 4):
        images = np.stack([to_grey(im) for im in images])
    if images.ndim != 3:
        raise ValueError(f"{path}: images must be [I, H, W] or [I, H, W, 3]; got shape {images.shape}")
    return images, np.arange(len(images)), f"{path.name}: values as stored"


def load_chang2021_face(folder=None, *, noise_ceiling_threshold: float | None = DEFAULT_NOISE_CEILING_THRESHOLD,
                        area: str = "AM", tensor_normalization: str | None = "auto") -> Recording:
    """The Macaque-face dataset as a :class:`Recording` from a folder in the layout of this module's docstring.

    Args:
        folder: the folder (default ``$VNA_CHANG2021_DIR`` or ``<data_dir>/chang2021_face``).
        noise_ceiling_threshold: keep neurons whose noise ceiling is >= this; None keeps all (and then
            no noise-ceiling file is needed).
        area: recorded as every neuron's ``area`` when ``neurons.csv`` has none.
        tensor_normalization: for a ``.pt`` image tensor, see :func:`read_stimulus_tensor`.
    """
    root = _folder(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"Chang et al. (2021) face data folder not found: {root}. The data are available on "
                                f"request from the authors; put them there in the layout of vna.data.paper.chang2021, "
                                f"pass folder=..., or set {ENV_VAR}.")
    found = find_files(root)
    need = ["images", "responses"] + (["noise ceiling"] if noise_ceiling_threshold is not None else [])
    if any(found[p] is None for p in need):
        raise FileNotFoundError(_missing_message(root, found, need))

    images, image_ids, images_read = _load_images(found["images"], tensor_normalization)
    responses = np.load(found["responses"], allow_pickle=False).astype(np.float64)
    if responses.ndim == 2:
        responses = responses[:, None, :]
    if responses.ndim != 3:
        raise ValueError(f"{found['responses']}: responses must be [images, trials, neurons] or [images, neurons]; "
                         f"got shape {responses.shape}")
    if responses.shape[0] != len(images):
        raise ValueError(f"{found['responses']} has {responses.shape[0]} images but {found['images']} "
                         f"has {len(images)}")
    n = responses.shape[2]

    neurons = pd.DataFrame({"id": np.arange(n).astype(str), "area": area})
    noise_ceiling = None
    nc_path = found["noise ceiling"]
    if nc_path is not None and nc_path.suffix == ".csv":
        table = pd.read_csv(nc_path)
        if len(table) != n:
            raise ValueError(f"{nc_path} has {len(table)} rows but responses have {n} neurons")
        for column in ("id", "area"):
            if column in table:
                neurons[column] = table[column].astype(str).to_numpy()
        if "noise_ceiling" in table:
            noise_ceiling = table["noise_ceiling"].to_numpy(dtype=float)
        elif noise_ceiling_threshold is not None:
            raise ValueError(f"{nc_path} has no 'noise_ceiling' column (columns: {list(table.columns)})")
    elif nc_path is not None:
        noise_ceiling = np.load(nc_path, allow_pickle=False).astype(np.float64).ravel()
        if len(noise_ceiling) != n:
            raise ValueError(f"{nc_path} has {len(noise_ceiling)} values but responses have {n} neurons")
    if noise_ceiling is not None:
        neurons["noise_ceiling"] = noise_ceiling

    recording = Recording(
        images=images,
        responses=responses,
        neurons=neurons,
        image_ids=image_ids,
        meta={
            "name": "chang2021-face",
            "units": "as supplied by the authors",
            "source": f"user folder {root} ({', '.join(str(p.name) for p in found.values() if p is not None)})",
            "citation": CITATION,
            "license": LICENSE,
            "simulated": False,
            "preprocessing": {"noise_ceiling_threshold": noise_ceiling_threshold, "neurons_supplied": n,
                              "images": images_read},
        },
    )
    if noise_ceiling_threshold is None:
        return recording
    keep = noise_ceiling >= noise_ceiling_threshold
    if not keep.any():
        raise ValueError(f"no neuron has noise ceiling >= {noise_ceiling_threshold} "
                         f"(max {np.nanmax(noise_ceiling):.3g}); lower noise_ceiling_threshold")
    recording = recording.select_neurons(keep)
    recording.meta["preprocessing"]["neurons_kept"] = int(keep.sum())
    return recording


def status() -> str:
    """"cached" when the configured folder holds images, responses and noise ceilings, else
    "needs files from the authors"."""
    found = find_files()
    return "cached" if all(v is not None for v in found.values()) else "needs files from the authors"
