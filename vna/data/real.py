"""Three small real datasets, fetched from pinned upstream commits and verified by sha256 (issue "Data").

Files, hashes, formats, licences and citations: ``shared/data/README.md``. Each file is looked up in
``$VNA_DATA_DIR/<dataset folder>/<upstream relative path>`` first and downloaded otherwise
(:func:`vna.data.cache.fetch`). The ``*_BASE_URL`` constants are read at call time, so tests can point
them at a local server.

* ``cowley2023-v4``: macaque V4 spike counts, single trials, ``[640, 10, 50]`` (6-10 trials, NaN padded).
* ``allen-2p-ns118``: mouse VISp dF/F trial means for the 118 Allen natural scenes, ``[118, 1, 212]``.
* ``antolik2016-v1``: mouse V1 calcium, single trials, ``[50, 10, 103]`` (region 1) or ``[50, 8, 55]``.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import fetch, is_cached
from .recording import Recording

__all__ = [
    "load_cowley2023_v4", "status_cowley2023_v4",
    "load_allen_2p_ns118", "status_allen_2p_ns118",
    "load_antolik2016_v1", "status_antolik2016_v1",
]

# ------------------------------------------------------------------------------------- upstream pins
COWLEY_FOLDER = "cowley2023_v4"
COWLEY_COMMIT = "f4552ad9d34a466ebc66658f72a08a8e5038f1cf"
COWLEY_BASE_URL = (
    f"https://raw.githubusercontent.com/cowleygroup/V4_compact_models/{COWLEY_COMMIT}/data_V4_responses"
)
COWLEY_FILES = {
    "responses_raw/responses_210325.npy": "sha256:4008dbbf31a47d9b1b8d8da609f4a7a3433c7071f0e45c611c220b217dd75b76",
    "images/images_210325.zip": "sha256:992774eca3508a2ad01accb1a31f5f3e3d90248c49f4eec314f2a915a263e454",
}

ALLEN_FOLDER = "allen_bo2p_ns118"
ALLEN_COMMIT = "44c5e0bb3342ef20611a320ef9d023c9620d8acb"
ALLEN_BASE_URL = (
    f"https://raw.githubusercontent.com/psailamul/Allen_Brain_Observatory/{ALLEN_COMMIT}/Allen_data_170513"
)
ALLEN_FILES = {
    "all_input_scenes_118_961.npy": "sha256:0d40bbf7490200a0f833c8ca942773c60e72959c32a9810baeae73972ac73ea2",
    "Allen_train_input.npy": "sha256:1e688234d71453e655dd8d3b1122c149986fd56a79c8bb86d36d1224443a72e4",
    "Allen_test_input.npy": "sha256:737078f8c73a67eba504b62a11657a3bb85a838af71a47f85acb35b319b2215e",
    "Allen_train_output.npy": "sha256:d51c2606fc7df9f4caa747fdb10f9da7ef46786009167a5a66a3ca4290aeabc8",
    "Allen_test_output.npy": "sha256:4a761c48fc020acac16f993199d82c6243bcbde846878ea6fd488832bae5cb33",
}

ANTOLIK_FOLDER = "antolik2016_v1"
ANTOLIK_COMMIT = "c55b99885920dc87635f1b9922d9011d34fdfd41"
ANTOLIK_BASE_URL = f"https://raw.githubusercontent.com/psailamul/HSMmodel/{ANTOLIK_COMMIT}/Data"
ANTOLIK_FILES = {
    1: {
        "region1/raw_validation_set.npy": "sha256:3ff518cee9d7dcde19525d11a294af09158a6b114f970dd01d43be278e7801dc",
        "region1/validation_inputs.npy": "sha256:a5269c567a431ed969301b75ffd39ba0c92432f583982e5742860cae92d392c9",
    },
    2: {
        "region2/raw_validation_set.npy": "sha256:979ed05629561423b397d6c828a871229935262cf38e17f35a08da7f734733e8",
        "region2/validation_inputs.npy": "sha256:a5269c567a431ed969301b75ffd39ba0c92432f583982e5742860cae92d392c9",
    },
}


def _fetch_all(folder: str, base_url: str, files: dict[str, str], progress: bool) -> dict[str, Path]:
    return {rel: fetch(folder, rel, f"{base_url.rstrip('/')}/{rel}", h, progress=progress) for rel, h in files.items()}


def _load_npy(path: Path, shape_ndim: int) -> np.ndarray:
    try:
        x = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - re-raised naming the file
        raise ValueError(f"cannot read {path} as a .npy array: {exc}") from exc
    if x.ndim != shape_ndim:
        raise ValueError(f"{path} should hold a {shape_ndim}-D array; got shape {x.shape}")
    return x


def _status(folder: str, files) -> str:
    return "cached" if is_cached(folder, files) else "needs download"


# ------------------------------------------------------------------------------------------ Cowley V4
def status_cowley2023_v4() -> str:
    return _status(COWLEY_FOLDER, COWLEY_FILES)


def _read_zip_images(path: Path, n: int) -> np.ndarray:
    """``image0001.jpg`` .. ``image{n:04d}.jpg`` from a zip, read in memory -> uint8 ``[n, H, W, 3]``."""
    from PIL import Image

    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            want = [f"image{i + 1:04d}.jpg" for i in range(n)]
            missing = [w for w in want if w not in names]
            if missing:
                raise ValueError(f"{path} lacks {len(missing)} image(s), e.g. {missing[0]}")
            return np.stack([np.asarray(Image.open(io.BytesIO(z.read(w))).convert("RGB")) for w in want])
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"cannot read the images in {path} (truncated or not a zip?): {exc}") from exc


def load_cowley2023_v4(progress: bool = True) -> Recording:
    """Macaque V4 spike counts (100 ms bin), session 210325: 640 images, 10 trial slots, 50 neurons.

    Images ``[640, 112, 112]`` uint8 grey (the JPEGs are RGB with three identical channels). Responses
    ``[640 images, 10 slots, 50 neurons]``; images had 6-10 repeats, the unused slots stay NaN.
    Pairing (upstream readme): ``image{i+1:04d}.jpg`` <-> ``raw[:, i, :]``.
    """
    paths = _fetch_all(COWLEY_FOLDER, COWLEY_BASE_URL, COWLEY_FILES, progress)
    raw = _load_npy(paths["responses_raw/responses_210325.npy"], 3)  # [neurons, images, repeats]
    images = _read_zip_images(paths["images/images_210325.zip"], raw.shape[1])
    if (images == images[..., :1]).all():
        images = images[..., 0]
    responses = np.ascontiguousarray(raw.transpose(1, 2, 0))
    neurons = pd.DataFrame({"id": [f"210325_{k:02d}" for k in range(raw.shape[0])], "area": "V4"})
    meta = {
        "name": "cowley2023-v4",
        "simulated": False,
        "species": "macaque",
        "area": "V4",
        "units": "spike count per 100 ms bin",
        "source": COWLEY_BASE_URL,
        "commit": COWLEY_COMMIT,
        "files": dict(COWLEY_FILES),
        "citation": "Cowley B.R., Stan P.L., Pillow J.W., Smith M.A. (2023) Compact deep neural network models "
                    "of visual cortex. bioRxiv",
        "license": "GPL-3.0",
        "session": "210325",
    }
    ids = np.array([f"image{i + 1:04d}" for i in range(raw.shape[1])])
    return Recording(images, responses, neurons, ids, meta)


# ----------------------------------------------------------------------------------- Allen 2p ns118
def status_allen_2p_ns118() -> str:
    return _status(ALLEN_FOLDER, ALLEN_FILES)


def _frame_index(scenes: np.ndarray, rows: np.ndarray, path: Path) -> np.ndarray:
    lookup = {row.tobytes(): i for i, row in enumerate(scenes)}
    if len(lookup) != len(scenes):
        raise ValueError("all_input_scenes_118_961.npy holds duplicate scenes; frames cannot be recovered")
    idx = np.array([lookup.get(row.tobytes(), -1) for row in rows])
    if (idx < 0).any():
        raise ValueError(f"{path}: row {int(np.flatnonzero(idx < 0)[0])} matches no scene of all_input_scenes_118_961.npy")
    return idx


def load_allen_2p_ns118(progress: bool = True) -> Recording:
    """Mouse VISp dF/F (%) trial means (50 repeats) of 212 cells for the 118 Allen natural scenes.

    Images ``[118, 31, 31]`` uint8 (row-major reshape of the 961-vectors, checked by eye), in Allen frame
    order. Responses ``[118, 1, 212]``: the upstream train/test outputs put back in frame order by matching
    their input rows to the scenes; ``meta["upstream_split"]`` records the upstream split's frame indices.
    """
    paths = _fetch_all(ALLEN_FOLDER, ALLEN_BASE_URL, ALLEN_FILES, progress)
    scenes = _load_npy(paths["all_input_scenes_118_961.npy"], 2)
    n, n_pix = scenes.shape
    side = int(round(np.sqrt(n_pix)))
    frames, outputs = {}, {}
    for part in ("train", "test"):
        inp = _load_npy(paths[f"Allen_{part}_input.npy"], 2)
        out = _load_npy(paths[f"Allen_{part}_output.npy"], 2)
        if len(inp) != len(out):
            raise ValueError(f"Allen_{part}_input.npy has {len(inp)} rows but Allen_{part}_output.npy has {len(out)}")
        frames[part] = _frame_index(scenes, inp, paths[f"Allen_{part}_input.npy"])
        outputs[part] = out
    every = np.concatenate([frames["train"], frames["test"]])
    if len(every) != n or len(np.unique(every)) != n:
        raise ValueError(f"the Allen train/test inputs do not cover the {n} scenes exactly once")
    responses = np.empty((n, 1, outputs["train"].shape[1]))
    for part in ("train", "test"):
        responses[frames[part], 0] = outputs[part]
    images = scenes.reshape(n, side, side)
    if np.array_equal(images, np.round(images)) and images.min() >= 0 and images.max() <= 255:
        images = images.astype(np.uint8)
    neurons = pd.DataFrame({"id": [f"cell{k:03d}" for k in range(responses.shape[2])], "area": "VISp"})
    meta = {
        "name": "allen-2p-ns118",
        "simulated": False,
        "species": "mouse",
        "area": "VISp",
        "units": "dF/F (%): AllenSDK mean_sweep_response, mean over 50 repeats",
        "source": ALLEN_BASE_URL,
        "commit": ALLEN_COMMIT,
        "files": dict(ALLEN_FILES),
        "citation": "de Vries S.E.J. et al. (2020) A large-scale standardized physiological survey reveals "
                    "functional organization of the mouse visual cortex. Nat Neurosci 23:138-151; Allen Brain "
                    "Observatory Visual Coding 2-photon, experiment container 511510667, session 501498760",
        "license": "Allen Institute terms of use",
        "upstream_split": {"train": frames["train"].tolist(), "test": frames["test"].tolist()},
    }
    return Recording(images, responses, neurons, np.arange(n), meta)


# ------------------------------------------------------------------------------------- Antolik 2016
def _check_region(region) -> int:
    if isinstance(region, bool) or region not in (1, 2):
        raise ValueError(f"antolik2016-v1: region must be 1 or 2; got {region!r}")
    return int(region)


def status_antolik2016_v1(region: int | None = None) -> str:
    """"cached" when the files of ``region`` (default: both regions) are in the cache."""
    regions = (1, 2) if region is None else (_check_region(region),)
    return _status(ANTOLIK_FOLDER, [rel for r in regions for rel in ANTOLIK_FILES[r]])


def load_antolik2016_v1(region: int = 1, progress: bool = True) -> Recording:
    """Mouse V1 two-photon responses (one value per presentation) to 50 natural images, single trials.

    ``region=1``: ``[50, 10, 103]``; ``region=2``: ``[50, 8, 55]``. Images ``[50, 31, 31]`` uint8
    (upstream floats 0..2.55e-4, multiplied by 1e6). Only the validation recordings are usable upstream
    (their images are present); with 50 images the set suits ``split="trials"``.
    """
    region = _check_region(region)
    files = ANTOLIK_FILES[region]
    paths = _fetch_all(ANTOLIK_FOLDER, ANTOLIK_BASE_URL, files, progress)
    raw = _load_npy(paths[f"region{region}/raw_validation_set.npy"], 3)  # [trials, images, neurons]
    inputs = _load_npy(paths[f"region{region}/validation_inputs.npy"], 2) * 1e6
    side = int(round(np.sqrt(inputs.shape[1])))
    images = inputs.reshape(len(inputs), side, side)
    rounded = np.round(images)
    if np.abs(images - rounded).max() < 1e-6 and rounded.min() >= 0 and rounded.max() <= 255:
        images = rounded.astype(np.uint8)
    responses = np.ascontiguousarray(raw.transpose(1, 0, 2))
    if responses.shape[0] != images.shape[0]:
        raise ValueError(f"antolik2016-v1 region {region}: {images.shape[0]} images but {responses.shape[0]} in responses")
    neurons = pd.DataFrame({"id": [f"r{region}_{k:03d}" for k in range(responses.shape[2])], "area": "V1"})
    meta = {
        "name": "antolik2016-v1",
        "simulated": False,
        "species": "mouse",
        "area": "V1",
        "region": region,
        "units": "calcium response per presentation (upstream preprocessing)",
        "source": ANTOLIK_BASE_URL,
        "commit": ANTOLIK_COMMIT,
        "files": dict(files),
        "citation": "Antolik J., Hofer S.B., Bednar J.A., Mrsic-Flogel T.D. (2016) Model constrained by visual "
                    "hierarchy improves prediction of neural responses to natural scenes. PLoS Comput Biol "
                    "12(6):e1004927",
        "license": "none stated upstream (cite the paper)",
    }
    return Recording(images, responses, neurons, np.arange(len(images)), meta)
