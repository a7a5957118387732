"""Three small real datasets, fetched from pinned upstream commits and verified by sha256.

Files, hashes, formats, licences and citations: ``shared/data/README.md``. Each file is looked up in
``$VNA_DATA_DIR/<dataset folder>/<upstream relative path>`` first and downloaded otherwise
(:func:`vna.data.cache.fetch`). The ``*_BASE_URL`` constants are read at call time, so tests can point
them at a local server.

* ``cowley2023-v4``: macaque V4 spike counts, single trials, ``[640, 10, 50]`` (6-10 trials, NaN padded).
* ``allen-2p-ns118``: mouse VISp dF/F trial means for the 118 Allen natural scenes, ``[118, 1, 212]``.
* ``antolik2016-v1``: mouse V1 calcium, single trials, ``[50, 10, 103]`` (region 1) or ``[50, 8, 55]``.

Sessions: ``cowley2023-v4`` takes ``session=`` (seven pinned sessions from two animals; default
210325, trial-level; the others trial means) and ``antolik2016-v1`` takes ``region=``; files of another
session found in the data folder load with one :class:`UnpinnedDataWarning` naming their sha256.
"""
from __future__ import annotations

import io
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import MissingDataFile, data_dir, fetch, file_hash, is_cached
from .recording import Recording

__all__ = [
    "load_cowley2023_v4", "status_cowley2023_v4",
    "load_allen_2p_ns118", "status_allen_2p_ns118",
    "load_antolik2016_v1", "status_antolik2016_v1",
    "cowley_sessions", "antolik_regions", "cowley_table", "UnpinnedDataWarning",
]

# ------------------------------------------------------------------------------------- upstream pins
COWLEY_FOLDER = "cowley2023_v4"
COWLEY_COMMIT = "f4552ad9d34a466ebc66658f72a08a8e5038f1cf"
COWLEY_BASE_URL = (
    f"https://raw.githubusercontent.com/cowleygroup/V4_compact_models/{COWLEY_COMMIT}/data_V4_responses"
)
#: Every pinned file of the V4 folder (shared/data/README.md): seven sessions' images and trial means,
#: and the trial-level file of session 210325. Any other session file found in the data folder loads with
#: one warning naming its sha256 (:class:`UnpinnedDataWarning`).
COWLEY_PINS = {
    "responses_raw/responses_210325.npy": "sha256:4008dbbf31a47d9b1b8d8da609f4a7a3433c7071f0e45c611c220b217dd75b76",
    "responses_repeat_averaged/responses_210325.npy": "sha256:555e67037182611969ab90da291dcc39601de4411f651a64ad60e90572cf59d3",
    "images/images_210325.zip": "sha256:992774eca3508a2ad01accb1a31f5f3e3d90248c49f4eec314f2a915a263e454",
    "images/images_190925.zip": "sha256:765b4d4372302d4ed72c3382d41ece5ca55d7dcc3d84da7402091253529b87d1",
    "responses_repeat_averaged/responses_190925.npy": "sha256:2f94d7bcef0f68fecdb7472f509737fafac92477cf6b11a4966162b1b1072529",
    "images/images_190927.zip": "sha256:d2469cc2caa629d4ed38e8d4964fb1de8c0b29e9937c25ce1c5838bc4e382653",
    "responses_repeat_averaged/responses_190927.npy": "sha256:4c3c75ec72bc4bd3f0e22987a7b2e7e962af249d6577e8a6d727ea9075bde034",
    "images/images_190928.zip": "sha256:6d90fdf2341e038beb57c16ce85f48c3a2bdfd450bc1c6440489529aead0f161",
    "responses_repeat_averaged/responses_190928.npy": "sha256:41707e2d31ace45da6d181ad28a91c299971d42430c91cc738602523e7d7eda6",
    "images/images_190929.zip": "sha256:7fea6a28c092acfa646145813f532b2ea1d5a22a0b1bdade47d392b8f6bfb3f0",
    "responses_repeat_averaged/responses_190929.npy": "sha256:18639c9e2b2baed54c4fb22e311d84dafbd986a12069370b1004880a721d2c4a",
    "images/images_210224.zip": "sha256:e2690810bee34c2e2821e5dd504c7970f3441579bc57659f27d2c11678b52c6b",
    "responses_repeat_averaged/responses_210224.npy": "sha256:4dbb7367707a5ca47ab4cea863bbf4e9765b8409cb30216693721bddfad7abfe",
    "images/images_210305.zip": "sha256:9fab651e9c2d0b44091c2ea238c78d68fedf573cd7d4ae6b0545c5d84c121776",
    "responses_repeat_averaged/responses_210305.npy": "sha256:00dce8d39558bfc3f5dd55c6f678c05de1b63895d56193379fd7dfe41fc703f0",
    "readme.txt": "sha256:85e03e02327dff4e64cc247127bb6092e84fb376ccb2949987341c564dd0561e",
}
#: The default session (the published records' keys assume it): trial-level, 640 images, 50 neurons.
COWLEY_SESSION = "210325"
#: The files the default session loads.
COWLEY_FILES = {r: COWLEY_PINS[r] for r in ("responses_raw/responses_210325.npy", "images/images_210325.zip")}

#: The upstream data table (readme.txt, "Ext. Data Table 1") for the pinned sessions: animal, role,
#: neurons, repeats per image, images, image types. The table gives 900 images for 190925-190929; their
#: files hold 1200 (images and response columns agree), so ``meta["n_images"]`` is the file's count.
COWLEY_TABLE = {
    "190925": ("WE", "train", 36, 14, 900, "normal (600), active learning (300)"),
    "190927": ("WE", "train", 31, 11, 900, "normal (600), active learning (300)"),
    "190928": ("WE", "train", 24, 13, 900, "normal (600), active learning (300)"),
    "190929": ("WE", "train", 33, 15, 900, "normal (600), active learning (300)"),
    "210224": ("PE", "validation", 67, 9, 800, "normal (800)"),
    "210305": ("PE", "train", 70, 22, 400, "validation exps. (400)"),
    "210325": ("PE", "test", 50, 8, 640, "Bashivan et al., 2019 (640)"),
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
class UnpinnedDataWarning(UserWarning):
    """A session / region file was found in the data folder but vna has no sha256 pin for it: it is used as
    found, and the warning names its sha256 (add it to the pins once checked against upstream)."""


def _find(folder: str, base_url: str, pins: dict[str, str], rel: str, progress: bool,
          unpinned: dict[str, str]) -> Path | None:
    """A pinned file (fetched, verified, downloaded if needed), else an unpinned one present in the data
    folder (its sha256 noted in ``unpinned``), else ``None``."""
    if rel in pins:
        return fetch(folder, rel, f"{base_url.rstrip('/')}/{rel}", pins[rel], progress=progress)
    local = data_dir() / folder / rel
    if local.is_file():
        unpinned[rel] = file_hash(local, "sha256")
        return local
    return None


def _warn_unpinned(what: str, unpinned: dict[str, str], pins_name: str) -> None:
    if unpinned:
        files = "; ".join(f"{rel} (sha256 {h})" for rel, h in unpinned.items())
        warnings.warn(f"{what}: file(s) not pinned by vna, used as found: {files}. Check them against upstream "
                      f"and add them to vna.data.real.{pins_name} to silence this.", UnpinnedDataWarning, stacklevel=3)


def _cowley_session(session) -> str:
    text = str(session) if isinstance(session, (str, int)) and not isinstance(session, bool) else ""
    if not re.fullmatch(r"\d{6}", text):
        raise ValueError(f"cowley2023-v4: session must be a six-digit session ID such as '190925'; got {session!r}")
    return text


def _cowley_rels(session: str) -> dict[str, str]:
    return {"raw": f"responses_raw/responses_{session}.npy",
            "mean": f"responses_repeat_averaged/responses_{session}.npy",
            "images": f"images/images_{session}.zip"}


def cowley_table() -> dict[str, tuple]:
    """The upstream data table by session: :data:`COWLEY_TABLE`, completed from ``readme.txt`` in the data
    folder when it is there (every upstream session: animal, role, neurons, repeats, images, image types)."""
    table = {}
    readme = data_dir() / COWLEY_FOLDER / "readme.txt"
    if readme.is_file():
        row = re.compile(r"^(\d{6})\s+([A-Z]{2})\s+(\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(.+?)\s*$")
        for line in readme.read_text(errors="replace").splitlines():
            m = row.match(line.strip())
            if m:
                s, animal, role, n, rep, imgs, types = m.groups()
                table[s] = (animal, role, int(n), int(rep), int(imgs), types)
    return {**table, **COWLEY_TABLE}


def status_cowley2023_v4(session=None) -> str:
    """"cached" when the files the session (default :data:`COWLEY_SESSION`) loads are in the data folder."""
    session = COWLEY_SESSION if session is None else _cowley_session(session)
    rels = _cowley_rels(session)
    resp = rels["raw"] if (rels["raw"] in COWLEY_PINS or (data_dir() / COWLEY_FOLDER / rels["raw"]).is_file()) else rels["mean"]
    return _status(COWLEY_FOLDER, [resp, rels["images"]])


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
            extra = len([x for x in names if re.fullmatch(r"image\d{4}\.jpg", x)]) - n
            if extra > 0:
                raise ValueError(f"{path} holds {n + extra} images but the responses have {n} columns: "
                                 "images and responses do not pair")
            return np.stack([np.asarray(Image.open(io.BytesIO(z.read(w))).convert("RGB")) for w in want])
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"cannot read the images in {path} (truncated or not a zip?): {exc}") from exc


def load_cowley2023_v4(session: str = COWLEY_SESSION, progress: bool = True) -> Recording:
    """Macaque V4 spike counts (100 ms bin) of one recording session (default 210325: 640 images, 10 trial
    slots, 50 neurons, single trials).

    Single trials ``[images, repeat slots, neurons]`` (unused slots NaN) where the session's
    ``responses_raw`` file is pinned or present, else the trial means ``[images, 1, neurons]``
    (``meta["trial_level"]`` says which). Images ``[n, 112, 112]`` uint8 grey. Pairing (upstream readme):
    ``image{i+1:04d}.jpg`` <-> ``raw[:, i, :]`` <-> ``avg[:, i]``. ``meta`` also holds the session's row of
    the upstream data table (animal, repeats per image, image types). Sessions: :data:`COWLEY_PINS`; a
    session file found in the data folder but not pinned loads with one :class:`UnpinnedDataWarning`.
    """
    session = _cowley_session(session)
    rels = _cowley_rels(session)
    unpinned: dict[str, str] = {}
    used = {}
    resp_path = _find(COWLEY_FOLDER, COWLEY_BASE_URL, COWLEY_PINS, rels["raw"], progress, unpinned)
    trial_level = resp_path is not None
    if resp_path is None:
        resp_path = _find(COWLEY_FOLDER, COWLEY_BASE_URL, COWLEY_PINS, rels["mean"], progress, unpinned)
    where = data_dir() / COWLEY_FOLDER
    if resp_path is None:
        known = sorted({r.split("_")[-1].split(".")[0] for r in COWLEY_PINS if r.startswith("images/")})
        raise ValueError(f"cowley2023-v4: session must be one of {', '.join(known)}; got {session!r} (and neither "
                         f"{rels['raw']} nor {rels['mean']} is in {where}: a session found there loads unpinned)")
    used[rels["raw" if trial_level else "mean"]] = resp_path
    img_path = _find(COWLEY_FOLDER, COWLEY_BASE_URL, COWLEY_PINS, rels["images"], progress, unpinned)
    if img_path is None:
        raise MissingDataFile(f"cowley2023-v4 session {session}: {where / rels['images']} is missing (the images "
                              "of the session)")
    used[rels["images"]] = img_path
    raw = _load_npy(resp_path, 3 if trial_level else 2)  # [neurons, images, repeats] or [neurons, images]
    images = _read_zip_images(img_path, raw.shape[1])
    _warn_unpinned(f"cowley2023-v4 session {session}", unpinned, "COWLEY_PINS")
    if (images == images[..., :1]).all():
        images = images[..., 0]
    responses = np.ascontiguousarray(raw.transpose(1, 2, 0) if trial_level else raw.T[:, None, :])
    neurons = pd.DataFrame({"id": [f"{session}_{k:02d}" for k in range(raw.shape[0])], "area": "V4"})
    row = cowley_table().get(session)
    meta = {
        "name": "cowley2023-v4",
        "simulated": False,
        "species": "macaque",
        "area": "V4",
        "units": "spike count per 100 ms bin" + ("" if trial_level else ", mean over repeats"),
        "source": COWLEY_BASE_URL,
        "commit": COWLEY_COMMIT,
        "files": {rel: COWLEY_PINS.get(rel, f"sha256:{unpinned.get(rel)}") for rel in used},
        "citation": "Cowley B.R., Stan P.L., Pillow J.W., Smith M.A. (2023) Compact deep neural network models "
                    "of visual cortex. bioRxiv",
        "license": "GPL-3.0",
        "session": session,
        "trial_level": trial_level,
        "responses_kind": "single trials" if trial_level else "trial means",
        "pinned": not unpinned,
        "n_images": int(raw.shape[1]),
        "n_neurons": int(raw.shape[0]),
        "animal": row[0] if row else None,
        "upstream_role": row[1] if row else None,
        "repeats_per_image": row[3] if row else None,
        "table_images": row[4] if row else None,
        "image_types": row[5] if row else None,
    }
    ids = np.array([f"image{i + 1:04d}" for i in range(raw.shape[1])])
    return Recording(images, responses, neurons, ids, meta)


def _npy_shape(path: Path) -> tuple[int, ...] | None:
    try:
        return tuple(np.load(path, mmap_mode="r", allow_pickle=False).shape)
    except Exception:  # noqa: BLE001 - a listing must not fail on one unreadable file
        return None


def cowley_sessions() -> pd.DataFrame:
    """One row per V4 session that is pinned or found in the data folder, without loading any images:
    session, animal, neurons, images, repeats_per_image (upstream table), image_types, responses ("single
    trials" / "trial means"), pinned, status ("present, not verified", "needs download", "found (not pinned)")."""
    root = data_dir() / COWLEY_FOLDER
    found = {p.stem.split("_")[-1] for p in (root / "images").glob("images_*.zip")} if (root / "images").is_dir() else set()
    pinned = {r.split("_")[-1].split(".")[0] for r in COWLEY_PINS if r.startswith("images/")}
    table = cowley_table()
    rows = []
    for s in sorted(pinned | {x for x in found if re.fullmatch(r"\d{6}", x)}):
        rels = _cowley_rels(s)
        trial = rels["raw"] in COWLEY_PINS or (root / rels["raw"]).is_file()
        resp = rels["raw" if trial else "mean"]
        if not (resp in COWLEY_PINS or (root / resp).is_file()):
            continue  # images without responses: not a session
        shape = _npy_shape(root / resp) if (root / resp).is_file() else None
        row = table.get(s)
        is_pinned = resp in COWLEY_PINS and rels["images"] in COWLEY_PINS
        cached = (root / resp).is_file() and (root / rels["images"]).is_file()
        rows.append({"dataset": "cowley2023-v4", "session": s, "animal": row[0] if row else None,
                     "neurons": shape[0] if shape else (row[2] if row else None),
                     "images": shape[1] if shape else None,
                     "repeats_per_image": row[3] if row else None, "image_types": row[5] if row else None,
                     "responses": "single trials" if trial else "trial means", "pinned": is_pinned,
                     "status": ("present, not verified" if cached else "needs download") if is_pinned else
                               ("found (not pinned)" if cached else "incomplete")})
    return pd.DataFrame(rows)


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
#: Every pinned file of the Antolik folder, flat (the regions' files: :data:`ANTOLIK_FILES`).
ANTOLIK_PINS = {rel: h for files in ANTOLIK_FILES.values() for rel, h in files.items()}


def _check_region(region) -> int:
    if isinstance(region, bool) or not isinstance(region, (int, np.integer)) or region < 1:
        raise ValueError(f"antolik2016-v1: region must be a region number 1, 2, ... (pinned: "
                         f"{', '.join(map(str, ANTOLIK_FILES))}); got {region!r}")
    return int(region)


def _antolik_rels(region: int) -> dict[str, str]:
    return {"raw": f"region{region}/raw_validation_set.npy", "inputs": f"region{region}/validation_inputs.npy"}


def status_antolik2016_v1(region: int | None = None) -> str:
    """"cached" when the files of ``region`` (default: both pinned regions) are in the cache."""
    regions = tuple(ANTOLIK_FILES) if region is None else (_check_region(region),)
    return _status(ANTOLIK_FOLDER, [rel for r in regions for rel in _antolik_rels(r).values()])


def load_antolik2016_v1(region: int = 1, progress: bool = True) -> Recording:
    """Mouse V1 two-photon responses (one value per presentation) to 50 natural images, single trials.

    ``region=1``: ``[50, 10, 103]``; ``region=2``: ``[50, 8, 55]``. Images ``[50, 31, 31]`` uint8
    (upstream floats 0..2.55e-4, multiplied by 1e6). Only the validation recordings are usable upstream
    (their images are present); with 50 images the set suits ``split="trials"``. Regions 1 and 2 are
    pinned (:data:`ANTOLIK_FILES`); another ``region<N>/`` found in the data folder loads with one
    :class:`UnpinnedDataWarning` naming its files' sha256.
    """
    region = _check_region(region)
    rels = _antolik_rels(region)
    unpinned: dict[str, str] = {}
    paths = {k: _find(ANTOLIK_FOLDER, ANTOLIK_BASE_URL, ANTOLIK_PINS, rel, progress, unpinned) for k, rel in rels.items()}
    missing = [rels[k] for k, p in paths.items() if p is None]
    if missing:
        pinned = " or ".join(map(str, ANTOLIK_FILES))
        raise ValueError(f"antolik2016-v1: region must be {pinned}; got {region!r} (and {', '.join(missing)} "
                         f"is not in {data_dir() / ANTOLIK_FOLDER} either: a region found there loads unpinned)")
    raw = _load_npy(paths["raw"], 3)  # [trials, images, neurons]
    inputs = _load_npy(paths["inputs"], 2) * 1e6
    _warn_unpinned(f"antolik2016-v1 region {region}", unpinned, "ANTOLIK_FILES")
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
        "files": {rel: ANTOLIK_PINS.get(rel, f"sha256:{unpinned.get(rel)}") for rel in rels.values()},
        "citation": "Antolik J., Hofer S.B., Bednar J.A., Mrsic-Flogel T.D. (2016) Model constrained by visual "
                    "hierarchy improves prediction of neural responses to natural scenes. PLoS Comput Biol "
                    "12(6):e1004927",
        "license": "none stated upstream (cite the paper)",
        "session": f"region{region}",
        "trial_level": True,
        "responses_kind": "single trials",
        "pinned": not unpinned,
        "n_images": int(responses.shape[0]),
        "n_neurons": int(responses.shape[2]),
        "animal": None,  # the upstream files do not say which animal each region came from
        "repeats_per_image": int(responses.shape[1]),
        "image_types": "natural images (50, validation set)",
    }
    return Recording(images, responses, neurons, np.arange(len(images)), meta)


def antolik_regions() -> pd.DataFrame:
    """One row per Antolik region pinned or found in the data folder (columns as :func:`cowley_sessions`)."""
    root = data_dir() / ANTOLIK_FOLDER
    found = {int(p.name[6:]) for p in root.glob("region*") if p.is_dir() and p.name[6:].isdigit()} if root.is_dir() else set()
    rows = []
    for r in sorted(set(ANTOLIK_FILES) | found):
        rels = _antolik_rels(r)
        is_pinned = r in ANTOLIK_FILES
        cached = all((root / rel).is_file() for rel in rels.values())
        if not is_pinned and not cached:
            continue
        shape = _npy_shape(root / rels["raw"]) if cached else None
        rows.append({"dataset": "antolik2016-v1", "session": f"region{r}", "animal": None,
                     "neurons": shape[2] if shape else None, "images": shape[1] if shape else None,
                     "repeats_per_image": shape[0] if shape else None, "image_types": "natural images",
                     "responses": "single trials", "pinned": is_pinned,
                     "status": ("present, not verified" if cached else "needs download") if is_pinned else "found (not pinned)"})
    return pd.DataFrame(rows)
