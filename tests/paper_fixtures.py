"""Fixture builders for the paper loaders, shaped after what public code shows of the real files (issue 14).

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
                      seed: int = 0) -> dict:
    """Assembly ``.nc``, stimulus ``.csv`` and ``.zip`` of an HVM-public-like set; returns what they encode."""
    import xarray as xr
    from PIL import Image

    ids = hvm_ids()
    rng = np.random.default_rng(seed)
    rows = [(i, r) for i, n in enumerate(HVM_REPS) for r in range(n)]
    rows = [rows[j] for j in rng.permutation(len(rows))]  # presentations in shuffled order
    data = np.array([[hvm_value(i, r, n) for n in range(len(HVM_REGIONS))] for i, r in rows], dtype=np.float32)
    n_sites = len(HVM_REGIONS)
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
            "subregion": ("neuroid", ["cIT" if r == "IT" else "V4" for r in HVM_REGIONS]),
            "animal": ("neuroid", ["Chabo"] * n_sites),
            "region": ("neuroid", HVM_REGIONS),
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
        "image_file_name": [f"{o}_rx+00.000_s+01.000_{sid}_256x256.png" for o, sid in zip(HVM_OBJECTS, ids)],
        "object_name": HVM_OBJECTS, "category_name": HVM_CATEGORIES, "background_id": [f"{i:040x}" for i in range(n)],
        "variation": HVM_VARIATION, "ty": 0.0, "tz": 0.0, "rxy": 0.0, "rxz": 0.0, "ryz": 0.0, "rxy_semantic": 90.0,
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
