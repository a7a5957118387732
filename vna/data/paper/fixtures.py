"""Format-true fixtures of the paper's datasets and a local server shaped like their sources.

Tiny files in the real files' formats (what public code shows of them), used by the tests and by the quick
mode of the paper grid (:mod:`vna.study.paper`), which serves them on 127.0.0.1 with :class:`FixtureServer`
(DANDI's API and Brain-Score's storage, with HTTP Range) so that the whole path -- plan, download, resume,
verify, load, train -- runs without a network. They are not data: every number in them is made up.

* :func:`write_brainio_hvm` -- ``assy_dicarlo_MajajHong2015_public.nc`` as BrainIO writes it
  (``brain-score/brainio`` ``brainio/packaging.py`` ``write_netcdf``: MultiIndex levels reset to plain
  coordinates, one data variable named after the assembly). Presentation coordinates are only the image id,
  ``repetition`` and the ``stimulus`` index (``brain-score/vision`` ``examples/data.ipynb``); the HVM
  metadata (``variation``, ``object_name``, ``category_name``, ...) is only in the stimulus csv
  (``brain-score/core`` ``.../brainio/tests/test_stimuli.py``), variation levels 0 and 3 only
  (``brainscore_vision/data/majajhong2015/data_packaging/data_packaging.py``). Values are signed,
  normalised numbers as in the public printouts, not counts. Dims are stored ``neuroid, presentation,
  time_bin`` (the order Brain-Score's tests report: shape ``(256, 148480, 1)``).
* :func:`write_allen_session` -- a DANDI:000021 session NWB file with the columns the public printout of
  ``sub-699733573_ses-715093703.nwb`` lists (``magland/ai_generated_dandiset_summaries``
  ``dandisets/000021/summary_prompt.md``): electrodes with ``location``, ``probe_id``, ``valid_data`` and one
  electrode group per probe (``probeA`` ...), units with ``peak_channel_id`` and the quality metrics,
  ``natural_scenes_presentations`` and ``invalid_times`` whose tags are ``[scope, id, label]``
  (AllenSDK ``allensdk/brain_observatory/nwb/__init__.py`` ``setup_table_for_invalid_times``).
* :func:`imagenet_tensor` -- Huang et al.'s stimulus file: one float tensor ``[I, 3, H, W]`` normalised for
  ImageNet-trained torchvision models (``Grasshlw/SNN-Neural-Similarity-Static`` ``similarity/extraction.py``).
"""
from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

ASSEMBLY_NAME = "dicarlo.MajajHong2015.public"
HVM_VARIATION = [0, 0, 0, 3, 3, 3, 3]       # the public set: levels 0 and 3 only
HVM_REPS = [3, 2, 3, 1, 3, 2, 2]            # uneven repetitions
HVM_REGIONS = ["V4", "IT", "IT", "V4", "IT"]
HVM_OBJECTS = ["car_astra", "table3", "face2", "walnut", "airplane7", "apricot", "ship1"]
HVM_CATEGORIES = ["Cars", "Tables", "Faces", "Fruits", "Planes", "Fruits", "Boats"]


def hvm_ids(n: int = len(HVM_VARIATION)) -> list[str]:
    """Image ids: 40-hex sha1-like strings, as BrainIO's."""
    return [f"{0x8a72e2bf + 977 * i:08x}{'0' * 32}" for i in range(n)]


def hvm_value(image: int, rep: int, neuroid: int) -> float:
    """Signed, normalised response (as the public assembly holds), unique per (image, repetition, site)."""
    return -2.26 + 0.5 * image + 0.05 * rep + 0.001 * neuroid


def write_brainio_hvm(folder: Path, *, id_name: str = "image_id", assembly_name: str = ASSEMBLY_NAME,
                      seed: int = 0, reps: list[int] | None = None, regions: list[str] | None = None) -> dict:
    """Assembly ``.nc``, stimulus ``.csv`` and ``.zip`` of an HVM-public-like set; returns what they encode.

    Default: 7 images (:data:`HVM_REPS` repetitions), 5 sites (:data:`HVM_REGIONS`); ``reps`` and
    ``regions`` make a larger set (variation levels, objects and categories then cycle through the defaults)."""
    import xarray as xr
    from PIL import Image

    reps_, sites = list(reps or HVM_REPS), list(regions or HVM_REGIONS)
    n_img = len(reps_)
    cycle = lambda values: [values[i % len(values)] for i in range(n_img)]  # noqa: E731
    variation, objects, categories = cycle(HVM_VARIATION), cycle(HVM_OBJECTS), cycle(HVM_CATEGORIES)
    ids = hvm_ids(n_img)
    rng = np.random.default_rng(seed)
    rows = [(i, r) for i, n in enumerate(reps_) for r in range(n)]
    rows = [rows[j] for j in rng.permutation(len(rows))]  # presentations in shuffled order
    data = np.array([[hvm_value(i, r, n) for n in range(len(sites))] for i, r in rows], dtype=np.float32)
    n_sites = len(sites)
    da = xr.DataArray(
        data.T[:, :, None], dims=("neuroid", "presentation", "time_bin"), name=assembly_name,
        coords={
            id_name: ("presentation", [ids[i] for i, _ in rows]),
            "repetition": ("presentation", [r for _, r in rows]),
            "stimulus": ("presentation", [i for i, _ in rows]),
            "neuroid_id": ("neuroid", [f"Chabo_L_M_{n}_9" for n in range(n_sites)]),
            "arr": ("neuroid", ["M"] * n_sites),
            "col": ("neuroid", list(range(n_sites))),
            "hemisphere": ("neuroid", ["L"] * n_sites),
            "subregion": ("neuroid", ["cIT" if r == "IT" else "V4" for r in sites]),
            "animal": ("neuroid", ["Chabo"] * n_sites),
            "region": ("neuroid", sites),
            "row": ("neuroid", [5] * n_sites),
            "time_bin_start": ("time_bin", [70]),
            "time_bin_end": ("time_bin", [170]),
        })
    da = da.set_index(presentation=[id_name, "repetition", "stimulus"],
                      neuroid=["neuroid_id", "arr", "col", "hemisphere", "subregion", "animal", "region", "row"],
                      time_bin=["time_bin_start", "time_bin_end"])
    da.reset_index(list(da.indexes)).to_netcdf(folder / "assy_dicarlo_MajajHong2015_public.nc", engine="h5netcdf")

    images = {}
    with zipfile.ZipFile(folder / "stimulus_hvm-public.zip", "w") as zf:
        for i, sid in enumerate(ids):
            im = (np.arange(16 * 16).reshape(16, 16) + 7 * i).astype(np.uint8)
            images[sid] = im
            b = io.BytesIO()
            Image.fromarray(np.stack([im] * 3, axis=-1)).save(b, format="PNG")  # RGB, as HVM's PNGs
            zf.writestr(f"{sid}.png", b.getvalue())
    n = len(ids)
    table = pd.DataFrame({
        "id": np.arange(1, n + 1), "image_id": ids,
        "image_file_name": [f"{o}_rx+00.000_s+01.000_{sid}_256x256.png" for o, sid in zip(objects, ids)],
        "object_name": objects, "category_name": categories, "background_id": [f"{i:040x}" for i in range(n)],
        "variation": variation, "ty": 0.0, "tz": 0.0, "rxy": 0.0, "rxz": 0.0, "ryz": 0.0, "rxy_semantic": 90.0,
        "rxz_semantic": 0.0, "ryz_semantic": 0.0, "size": 256.0, "s": 1.0, "filename": [f"{s}.png" for s in ids],
    })
    table.iloc[::-1].to_csv(folder / "stimulus_hvm-public.csv", index=False)  # csv order differs
    return dict(ids=ids, images=images, csv_order=ids[::-1], rows=rows)


# --------------------------------------------------------------------------------------------- Allen
def write_allen_session(path: Path, session_id: str, frames: np.ndarray, starts: np.ndarray, units: list[dict],
                        invalid_times: list[tuple[float, float, list[str]]] = ()) -> None:
    """A DANDI:000021-like session file. ``units``: dicts with ``id``, ``area``, ``spikes``, the quality
    metrics, and optionally ``probe`` (default "probeA") and ``valid`` (the peak channel's ``valid_data``)."""
    from hdmf.common import VectorData
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.epoch import TimeIntervals

    nwb = NWBFile(session_description="Data and metadata for an Ecephys session", identifier=session_id,
                  session_id=session_id, session_start_time=datetime(2019, 1, 19, tzinfo=timezone.utc),
                  institution="Allen Institute for Brain Science", stimulus_notes="brain_observatory_1.1")
    probes = sorted({u.get("probe", "probeA") for u in units})
    groups = {}
    for k, probe in enumerate(probes):
        device = nwb.create_device(probe)
        groups[probe] = nwb.create_electrode_group(probe, description="Ecephys Electrode Group", location="",
                                                   device=device)
    nwb.add_electrode_column("probe_id", "The unique id of this electrode's/channel's device")
    nwb.add_electrode_column("valid_data", "Whether data from this electrode/channel is usable")
    channels = {}
    for u in units:
        key = (u.get("probe", "probeA"), u["area"], bool(u.get("valid", True)))
        if key not in channels:
            channels[key] = 850000000 + len(channels)
            nwb.add_electrode(id=channels[key], location=key[1], group=groups[key[0]],
                              probe_id=810755797 + 2 * probes.index(key[0]), valid_data=key[2])
    for name in ("isi_violations", "amplitude_cutoff", "presence_ratio", "peak_channel_id", "quality"):
        nwb.add_unit_column(name, "no description")
    for u in units:
        key = (u.get("probe", "probeA"), u["area"], bool(u.get("valid", True)))
        nwb.add_unit(id=u["id"], spike_times=u["spikes"], isi_violations=u["isi_violations"],
                     amplitude_cutoff=u["amplitude_cutoff"], presence_ratio=u["presence_ratio"],
                     peak_channel_id=channels[key], quality=u["quality"])
    n = len(frames)
    nwb.add_time_intervals(TimeIntervals(
        name="natural_scenes_presentations",
        description="Presentation times and stimuli details for 'natural_scenes' stimuli",
        columns=[VectorData(name="start_time", description="Start time of epoch, in seconds", data=starts),
                 VectorData(name="stop_time", description="Stop time of epoch, in seconds", data=starts + 0.25),
                 VectorData(name="frame", description="Frame of movie stimulus", data=frames.astype(float)),
                 VectorData(name="stimulus_block", description="Index of contiguous presentations of one "
                            "stimulus type", data=np.full(n, 9.0)),
                 VectorData(name="stimulus_index", description="Index of stimulus type", data=np.full(n, 5.0)),
                 VectorData(name="stimulus_name", description="Name of stimulus", data=["natural_scenes"] * n)]))
    for start, stop, tags in invalid_times:
        nwb.add_invalid_time_interval(start_time=float(start), stop_time=float(stop), tags=list(tags))
    for column in (nwb.units.spike_times, nwb.units.spike_times_index):  # arrays, not lists: hdmf converts
        column._Data__data = np.asarray(column.data)  # a list element by element (seconds for 10^5 spikes)
    with NWBHDF5IO(str(path), "w") as io_:
        io_.write(nwb)


# --------------------------------------------------------------------------------------------- Chang
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


def imagenet_tensor(rgb: np.ndarray):
    """``[I, H, W, 3]`` uint8 -> float32 torch tensor ``[I, 3, H, W]``, ``(x / 255 - mean) / std``."""
    import torch

    x = (rgb.astype(np.float64) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1), dtype=np.float32))


# --------------------------------------------------------------------------------------------- served store
#: The fixture's DANDI asset (a made-up UUID) and the real path of session 715093703 in DANDI:000021.
FIXTURE_ASSET_ID = "00000000-0000-4000-8000-000000000024"
FIXTURE_DANDI_PATH = "sub-699733573/sub-699733573_ses-715093703.nwb"
QUICK_HVM_REPS = [4, 3] * 20  # 40 images, each repeated: held-out trials and a validation part need >= 3
QUICK_HVM_REGIONS = ["V4", "IT"] * 6


def _quick_allen_session(path: Path, n_units: int = 12, seed: int = 0) -> None:
    """One session: 118 scenes x 50 repeats (+ blanks) in shuffled blocks; ``n_units`` image-locked units
    in the six visual areas with counts ``(frame * (3 + u)) % 6 + repeat % 2`` (reliable, trial-varying)."""
    rng = np.random.default_rng(seed)
    frames = np.concatenate([rng.permutation(np.r_[np.arange(118), -1]) for _ in range(50)])
    starts = 10.0 + 0.3 * np.arange(len(frames))
    seen: dict[int, int] = {}
    repeat = np.empty(len(frames), int)
    for i, f in enumerate(frames):
        repeat[i] = seen.get(int(f), 0)
        seen[int(f)] = repeat[i] + 1
    areas = ("VISp", "VISl", "VISrl", "VISal", "VISpm", "VISam")
    units = []
    for u in range(n_units):
        counts = np.where(frames >= 0, (frames * (3 + u)) % 6 + repeat % 2, 0)
        spikes = np.concatenate([t + 0.005 + 0.02 * np.arange(c) for t, c in zip(starts, counts)])
        units.append(dict(id=100 + u, area=areas[u % 6], spikes=np.sort(spikes), isi_violations=0.1,
                          amplitude_cutoff=0.01, presence_ratio=0.99, quality="good"))
    write_allen_session(path, "715093703", frames, starts, units)


def write_chang_folder(folder: Path, n_images: int = 40, n_trials: int = 4, n_neurons: int = 20, seed: int = 0) -> Path:
    """A folder in :mod:`vna.data.paper.chang2021`'s layout (images.npy, responses.npy, noise_ceiling.npy)."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, size=(n_images, 16, 16), dtype=np.uint8)
    tuning = rng.normal(size=(256, n_neurons))
    mean = (images.reshape(n_images, -1) / 255.0) @ tuning / 16
    np.save(folder / "images.npy", images)
    np.save(folder / "responses.npy", mean[:, None, :] + 0.1 * rng.normal(size=(n_images, n_trials, n_neurons)))
    np.save(folder / "noise_ceiling.npy", np.linspace(0.05, 0.9, n_neurons))
    return folder


def write_quick_store(root: Path) -> dict:
    """The files the quick paper grid downloads, under ``root``, and ``routes`` (URL path -> file).

    DANDI-shaped: ``/api/assets/<id>/`` (asset metadata: ``path``, ``contentSize``, ``digest``
    ``dandi:sha2-256``) and ``/api/assets/<id>/download/`` (the NWB file); the 118 natural-scene templates
    under ``/allen/``; Brain-Score-shaped: ``/brainio-brainscore/<file>`` (assembly, csv, zip).
    """
    import hashlib
    import json

    from PIL import Image

    root = Path(root)
    for sub in ("dandi", "templates", "brainscore"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    nwb = root / "dandi" / "session.nwb"
    _quick_allen_session(nwb)
    meta = {"identifier": FIXTURE_ASSET_ID, "path": FIXTURE_DANDI_PATH, "contentSize": nwb.stat().st_size,
            "digest": {"dandi:sha2-256": hashlib.sha256(nwb.read_bytes()).hexdigest()},
            "encodingFormat": "application/x-nwb"}
    (root / "dandi" / "asset.json").write_text(json.dumps(meta))
    rng = np.random.default_rng(1)
    for i in range(118):
        Image.fromarray(rng.integers(0, 256, size=(24, 32), dtype=np.uint8)).save(
            root / "templates" / f"natural_scene_{i}.tiff")
    write_brainio_hvm(root / "brainscore", reps=QUICK_HVM_REPS, regions=QUICK_HVM_REGIONS)
    routes = {f"/api/assets/{FIXTURE_ASSET_ID}/": "dandi/asset.json",
              f"/api/assets/{FIXTURE_ASSET_ID}/download/": "dandi/session.nwb"}
    routes.update({f"/allen/natural_scene_{i}.tiff": f"templates/natural_scene_{i}.tiff" for i in range(118)})
    files = {}
    for key, name in (("assembly", "assy_dicarlo_MajajHong2015_public.nc"), ("csv", "stimulus_hvm-public.csv"),
                      ("zip", "stimulus_hvm-public.zip")):
        routes[f"/brainio-brainscore/{name}"] = f"brainscore/{name}"
        files[key] = [name, "sha1:" + hashlib.sha1((root / "brainscore" / name).read_bytes()).hexdigest()]
    (root / "routes.json").write_text(json.dumps(routes))
    return {"routes": routes, "files": files, "nwb_sha256": meta["digest"]["dandi:sha2-256"]}


def quick_sources(base_url: str, store: dict) -> dict:
    """The ``$VNA_PAPER_SOURCES`` document pointing the loaders at a :class:`FixtureServer` at ``base_url``."""
    return {"allen-neuropixels": {"dandi_api": f"{base_url}/api",
                                  "template_url": base_url + "/allen/natural_scene_{index}.tiff"},
            "majajhong2015": {"base_url": f"{base_url}/brainio-brainscore", "files": store["files"]}}


class FixtureServer:
    """An HTTP server on 127.0.0.1 serving a :func:`write_quick_store` folder (GET, HEAD, ``Range``).

    ``drop_after={url_path: n}``: the first GET of that path announces the whole file but sends only ``n``
    bytes and closes the socket (a dropped connection). ``requests`` lists ``(method, path, Range header)``
    of every request, for tests. Use as a context manager; ``url`` is the base address.
    """

    def __init__(self, root: Path, drop_after: dict[str, int] | None = None):
        import json

        self.root = Path(root)
        self.routes = json.loads((self.root / "routes.json").read_text())
        self.drop_after = dict(drop_after or {})
        self.requests: list[tuple[str, str, str | None]] = []
        self._server = None

    def __enter__(self) -> "FixtureServer":
        import http.server
        import threading

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _serve(self, body: bool) -> None:
                path = self.path.split("?", 1)[0]
                rng = self.headers.get("Range")
                outer.requests.append((self.command, path, rng))
                rel = outer.routes.get(path)
                if rel is None:
                    self.send_error(404, "Not Found")
                    return
                data = (outer.root / rel).read_bytes()
                start, status = 0, 200
                if rng and rng.startswith("bytes="):
                    first = rng[6:].split("-", 1)[0]
                    start = int(first) if first.isdigit() else 0
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                self.send_response(status)
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Type", "application/json" if rel.endswith(".json")
                                 else "application/octet-stream")
                self.end_headers()
                if not body:
                    return
                drop = outer.drop_after.pop(path, None) if self.command == "GET" else None
                if drop is not None:
                    import socket

                    self.wfile.write(data[start:start + drop])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(data[start:])

            def do_GET(self):  # noqa: N802 - http.server's hook
                self._serve(True)

            def do_HEAD(self):  # noqa: N802
                self._serve(False)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
