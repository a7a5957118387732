"""Mouse-movie: Allen Brain Observatory Visual Coding - Neuropixels, natural scenes (paper Sec. 4.1.1).

Source: the session NWB files of DANDI:000021 (Siegle et al. 2021, Nature 592:86-92), read with pynwb,
downloaded into ``<data_dir>/allen_neuropixels/<DANDI path>`` and verified against the sha256 that DANDI
publishes in each asset's metadata (or streamed with ``remfile`` when it is installed).
Preprocessing as Huang et al. (AAAI 2023), with the AllenSDK's defaults for what counts as valid data
(``AllenInstitute/AllenSDK`` ``allensdk/brain_observatory/ecephys/ecephys_session_api/ecephys_nwb_session_api.py``
and ``.../ecephys/ecephys_session.py``):

1. units on channels in VISp, VISl, VISrl, VISal, VISpm, VISam (electrodes ``location``) that pass the
   AllenSDK unit filters: ``isi_violations <= 0.5``, ``amplitude_cutoff <= 0.1``, ``presence_ratio >= 0.95``,
   ``quality == "good"`` and a peak channel with ``valid_data`` (``filter_by_validity``);
2. the ``natural_scenes_presentations`` intervals: frames 0..117 (frame -1, the blank, is dropped), the
   k-th presentation of a frame is trial k (k < 50); a presentation overlapping an ``invalid_times``
   interval tagged "stimulus" leaves its trial slot NaN (AllenSDK ``_mask_invalid_stimulus_presentations``);
   probe dropouts ("probeX"/"all_probes" tags) are warned about, as the AllenSDK does, or dropped on request;
3. spike counts in 10 ms bins from 0 to 250 ms after onset -> ``[118, 50, 25, units]``;
4. units of all sessions pooled into one pseudo-population, aligned by trial (repeat) index;
5. response = mean rate over the bins (option: a bin range), in spikes/s;
6. units with split-half reliability >= 0.8 kept (Huang et al.'s code threshold).

Images: the 118 natural-scene templates (Allen's public stimulus templates, 918 x 1174 grey), kept at
their original size (``vna.data.to_paired`` resizes to 64 x 64).
"""
from __future__ import annotations

import json
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence
from urllib.parse import quote

import numpy as np
import pandas as pd

from ..cache import CacheError, data_dir, fetch, is_cached
from ..preprocess import split_half_reliability
from ..recording import Recording
from ._common import (IMAGE_SUFFIXES, fetch_unverified, natural_key, read_image, source_override, stack_images,
                      to_grey)

__all__ = [
    "load_allen_neuropixels", "status", "binned_counts", "count_spikes", "select_units", "trial_onsets",
    "load_natural_scene_templates", "DandiSession", "SESSIONS", "DEFAULT_SESSIONS", "VISUAL_AREAS",
    "QUALITY_DEFAULTS", "LOOKUP_SESSIONS", "ALL_SESSIONS", "invalid_times_table", "invalid_presentations",
    "PROBE_INVALID_TIMES",
]

FOLDER = "allen_neuropixels"
DANDISET = "000021"
#: DANDI REST API; monkeypatched by the tests to a local server.
DANDI_API = "https://api.dandiarchive.org/api"
#: The 118 natural-scene templates, as the AllenSDK's cloud cache lays them out (``{index}`` = 0..117).
TEMPLATE_URL = ("https://allen-brain-observatory.s3.us-west-2.amazonaws.com/visual-coding-neuropixels/"
                "ecephys-cache/natural_scene_templates/natural_scene_{index}.tiff")
TEMPLATE_RELPATH = "natural_scene_templates/natural_scene_{index}.tiff"

VISUAL_AREAS = ("VISp", "VISl", "VISrl", "VISal", "VISpm", "VISam")
#: AllenSDK's default unit filters (EcephysSession / EcephysProjectCache), inclusive bounds.
QUALITY_DEFAULTS = {"isi_violations_max": 0.5, "amplitude_cutoff_max": 0.1, "presence_ratio_min": 0.95}
N_SCENES = 118
INTERVALS = "natural_scenes_presentations"
#: ``invalid_times`` tags (each interval: ``[scope, id, label]``; AllenSDK ``EcephysSession.get_invalid_times``):
#: "stimulus" = very long frames, stimulus-locked analysis invalid; "all_probes" = gain fluctuations on every
#: probe; "probeA".."probeF" = that probe stopped sending data.
STIMULUS_TAG, ALL_PROBES_TAG = "stimulus", "all_probes"
#: What to do with probe dropouts during the natural scenes: "warn" (AllenSDK: spikes kept, a warning),
#: "drop" (units of that probe removed; presentations during an "all_probes" interval masked), "ignore".
PROBE_INVALID_TIMES = ("warn", "drop", "ignore")
CITATION = ("Siegle, J.H., Jia, X., Durand, S. et al. (2021) Survey of spiking in the mouse visual system "
            "reveals functional hierarchy. Nature 592, 86-92. Data: Allen Brain Observatory Visual Coding - "
            "Neuropixels, DANDI:000021 (https://dandiarchive.org/dandiset/000021).")
LICENSE = "CC-BY-4.0 (DANDI:000021); Allen Institute terms of use (https://alleninstitute.org/terms-of-use/)"


@dataclass(frozen=True)
class DandiSession:
    """One session NWB file of DANDI:000021 (``asset_id`` resolves to ``path`` through the DANDI API)."""

    session_id: int
    path: str
    asset_id: str
    size_gb: float


# NOT VERIFIED HERE: no machine of this project reaches DANDI. Paths follow DANDI's naming
# (sub-<specimen>/sub-<specimen>_ses-<session>.nwb); the asset ids and sizes were copied from a public
# download script. The loader checks, before downloading, that each asset id resolves to the listed path
# and takes the sha256 from DANDI's metadata, so a stale row fails loudly instead of loading other data.
_TABLE = [
    (721123822, "sub-707296975", "224b57e5-c9a3-46ef-85db-966713f3ccbe", 1.6),
    (754312389, "sub-719828686", "5a58bf3d-a1b9-444b-8ab0-ef5478aa42a6", 1.7),
    (759883607, "sub-740268983", "c9fc315f-5145-45a3-8183-3ad8fe499c4d", 1.7),
    (773418906, "sub-757329617", "17a5432b-7193-42dd-a9ae-e9e8b3fef19c", 1.8),
    (760345702, "sub-739783158", "47634abd-db85-48f5-9c33-01887a59d3bc", 1.8),
    (762602078, "sub-744915196", "cea32745-0d1a-4884-b06f-158d830bcbf3", 1.9),
    (743475441, "sub-722882751", "522e8054-34ca-4579-ae80-350d0b24e0f4", 2.0),
    (739448407, "sub-716813540", "c7f32379-adce-4961-9211-d07790be9cab", 2.0),
    (737581020, "sub-718643564", "106e84a7-1c41-43f1-a675-7df17e4aba69", 2.0),
    (758798717, "sub-735109599", "de872cf2-942d-4695-88b1-f7f89cb764fd", 2.0),
    (755434585, "sub-730760263", "edf10182-5a4c-454f-ad23-47987a5ca256", 2.1),
    (791319847, "sub-769360771", "3adbba7c-3feb-468b-9829-33fcaa27aacd", 2.2),
    (757970808, "sub-730756767", "dfc3db15-066a-4a07-b615-a4d7e85c44e1", 2.2),
    (763673393, "sub-742602884", "8a17b967-2aa9-4d6a-812c-92b62cf799d7", 2.4),
    (746083955, "sub-726170927", "2e6df882-f31a-440b-a572-ba717a95bf80", 2.4),
    (756029989, "sub-734865729", "e0037b53-6d0e-4756-8ca4-f0dcb51ad339", 2.4),
    (744228101, "sub-719817799", "eb36f94f-d6e7-45c6-aa02-7d4ed23453d3", 2.5),
    (761418226, "sub-742714472", "cdeec90c-9ebe-431c-b3f7-b9f7d93ff37f", 2.5),
    (754829445, "sub-726298249", "488a9bea-96fb-4028-a33a-08650f50be63", 2.5),
    (799864342, "sub-772616820", "264f3b24-10d9-4100-98cf-d40b6c2a2068", 2.5),
    (750749662, "sub-726162193", "3876c5f1-f38a-4c89-8f54-6128538f0066", 2.6),
    (715093703, "sub-699733573", "58703c97-c0a9-4736-b684-73c85c1a444a", 2.7),
    (760693773, "sub-738651046", "4513d0c9-1e2b-4c8a-aa22-ae81822537c9", 2.7),
    (762120172, "sub-745276220", "d6f3e82b-aca9-43fb-9810-048fc2124d50", 2.7),
    (732592105, "sub-717038285", "b4aeeb19-cdc6-4895-ab7b-bc8a688cf6f5", 2.7),
    (742951821, "sub-723627600", "96c200cf-29c2-457a-b2f3-99f11de5b039", 2.7),
    (757216464, "sub-733457986", "5f204c90-2005-4143-b880-07d80aa32b20", 2.8),
    (719161530, "sub-703279277", "02291b99-e583-498b-9929-b68bba2c50e2", 2.9),
    (751348571, "sub-732548371", "be9f8fd8-8f16-4a66-acc6-9e04697650f3", 2.9),
    (750332458, "sub-726141242", "286c7b06-3cde-4261-9090-e6fbe6c81945", 3.0),
]
SESSIONS: dict[int, DandiSession] = {
    sid: DandiSession(sid, f"{sub}/{sub}_ses-{sid}.nwb", aid, gb) for sid, sub, aid, gb in _TABLE
}
#: The other two of the 32 Brain Observatory 1.1 sessions (Allen's session table; DANDI:000021 has 32
#: subjects). No public source found gave their DANDI path or asset id, so they are looked up at run time
#: with DANDI's asset search (``GET /dandisets/000021/versions/draft/assets/?glob=...``, as dandi-cli's
#: ``get_assets_by_glob``); the answer is cached and its path must be ``sub-<n>/sub-<n>_ses-<session>.nwb``.
LOOKUP_SESSIONS: tuple[int, ...] = (797828357, 798911424)
#: ``sessions="all"``: the 30 table rows and the two looked-up sessions.
ALL_SESSIONS: tuple[int, ...] = tuple(SESSIONS) + LOOKUP_SESSIONS
#: The default small set (~6 GB): a session often used in public NWB/DANDI examples and the two smallest files.
DEFAULT_SESSIONS: tuple[int, ...] = (715093703, 721123822, 754312389)

def dandi_api() -> str:
    """:data:`DANDI_API`, unless ``$VNA_PAPER_SOURCES`` names another (:func:`._common.source_override`)."""
    return source_override("allen-neuropixels").get("dandi_api", DANDI_API)


def template_url() -> str:
    """:data:`TEMPLATE_URL`, unless ``$VNA_PAPER_SOURCES`` names another."""
    return source_override("allen-neuropixels").get("template_url", TEMPLATE_URL)


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


# ---------------------------------------------------------------------------------------------- counting
def count_spikes(spike_times: np.ndarray, onsets: np.ndarray, bin_size: float = 0.010, n_bins: int = 25,
                 start: float = 0.0) -> np.ndarray:
    """Spike counts ``[n_onsets, n_bins]`` in bins ``[t0 + start + j*bin_size, t0 + start + (j+1)*bin_size)``.

    ``spike_times`` must be sorted (NWB spike times of one unit are); one ``np.searchsorted`` call for all
    onsets and bin edges. Bins are closed on the left and open on the right.
    """
    spike_times = np.asarray(spike_times, dtype=np.float64)
    onsets = np.asarray(onsets, dtype=np.float64)
    if len(spike_times) > 1 and np.any(np.diff(spike_times) < 0):
        spike_times = np.sort(spike_times)
    edges = onsets[:, None] + start + bin_size * np.arange(n_bins + 1)[None, :]
    idx = np.searchsorted(spike_times, edges.ravel(), side="left").reshape(edges.shape)
    return np.diff(idx, axis=1)


def presentation_slots(presentations: pd.DataFrame, n_images: int = N_SCENES) -> tuple[np.ndarray, np.ndarray]:
    """``(frame, repeat)`` per row of a table with ``start_time``, ``frame``: the k-th presentation (by start
    time) of frame ``f`` has repeat ``k``; the blank (frame -1) has repeat -1. Other frames are an error."""
    frames = np.asarray(presentations["frame"], dtype=np.float64)
    starts = np.asarray(presentations["start_time"], dtype=np.float64)
    if np.any(np.isnan(frames)) or np.any(frames != np.round(frames)):
        raise ValueError("natural_scenes presentations: 'frame' must hold whole numbers (-1 = blank)")
    frames = frames.astype(int)
    bad = frames[(frames < -1) | (frames >= n_images)]
    if len(bad):
        raise ValueError(f"natural_scenes presentations: frame {bad[0]} outside -1..{n_images - 1}")
    order = np.lexsort((starts, frames))  # by frame, then by time
    sorted_frames = frames[order]
    repeat = np.empty(len(frames), dtype=int)
    repeat[order] = np.arange(len(frames)) - np.searchsorted(sorted_frames, sorted_frames, side="left")
    repeat[frames < 0] = -1
    return frames, repeat


def trial_onsets(presentations: pd.DataFrame, n_images: int = N_SCENES, n_trials: int = 50,
                 valid: np.ndarray | None = None) -> np.ndarray:
    """``[n_images, n_trials]`` onset times (NaN = no such repeat) from a table with ``start_time``, ``frame``.

    The k-th presentation (by start time) of frame ``f`` is trial ``k``; frame -1 (the blank) is dropped;
    repeats beyond ``n_trials`` are ignored. Frames outside ``-1 .. n_images-1`` are an error. ``valid``
    (bool per row): an invalid presentation keeps its trial number but its slot is NaN.
    """
    frames, repeat = presentation_slots(presentations, n_images)
    starts = np.asarray(presentations["start_time"], dtype=np.float64).copy()
    if valid is not None:
        starts[~np.asarray(valid, dtype=bool)] = np.nan
    out = np.full((n_images, n_trials), np.nan)
    ok = (frames >= 0) & (repeat < n_trials)
    out[frames[ok], repeat[ok]] = starts[ok]
    return out


def invalid_presentations(starts: np.ndarray, stops: np.ndarray, intervals: pd.DataFrame) -> np.ndarray:
    """Bool per presentation: overlaps one of ``intervals`` (``start_time``, ``stop_time``).

    Closed intervals, as AllenSDK's ``_overlap``: ``max(a0, b0) <= min(a1, b1)``.
    """
    starts, stops = np.asarray(starts, dtype=np.float64), np.asarray(stops, dtype=np.float64)
    hit = np.zeros(len(starts), dtype=bool)
    for a, b in zip(np.asarray(intervals["start_time"], float), np.asarray(intervals["stop_time"], float)):
        hit |= np.maximum(starts, a) <= np.minimum(stops, b)
    return hit


# ------------------------------------------------------------------------------------------ NWB reading
def _column(table, name: str) -> np.ndarray | None:
    if name not in table.colnames:
        return None
    values = np.asarray(table[name].data[:])
    if values.dtype.kind in "SO":
        values = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)
    return values


def _unit_channels(nwbfile) -> np.ndarray:
    """Row of each unit's peak channel in ``electrodes``, via ``peak_channel_id`` (Allen files) or the
    ``electrodes`` column; -1 where it is not in the table."""
    units, electrodes = nwbfile.units, nwbfile.electrodes
    if units is None or electrodes is None:
        raise ValueError("NWB file has no units or no electrodes table (not an Allen ecephys session file?)")
    electrode_ids = np.asarray(electrodes.id.data[:])
    if "peak_channel_id" in units.colnames:
        peak = np.asarray(units["peak_channel_id"].data[:])
        return pd.Index(electrode_ids).get_indexer(peak)
    if "electrodes" in units.colnames:
        col = units["electrodes"]
        ends = np.asarray(col.data[:])
        target = np.asarray(col.target.data[:])
        starts = np.concatenate([[0], ends[:-1]])
        return np.where(ends > starts, target[np.minimum(starts, len(target) - 1)], -1)
    raise ValueError("units table has neither 'peak_channel_id' nor 'electrodes'; cannot tell unit areas")


def _by_unit(positions: np.ndarray, values: np.ndarray | None, missing):
    """An electrodes column read at each unit's peak channel (``missing`` where the channel is unknown)."""
    if values is None:
        return None
    return np.array([values[p] if p >= 0 else missing for p in positions], dtype=object)


def _unit_areas(nwbfile) -> np.ndarray:
    """Brain area of each unit: the ``location`` (else ``ecephys_structure_acronym``) of its peak channel."""
    electrodes = nwbfile.electrodes
    positions = _unit_channels(nwbfile)
    location = _column(electrodes, "location")
    if location is None or all(v in ("", "none", "None") for v in location):
        location = _column(electrodes, "ecephys_structure_acronym")
    if location is None:
        raise ValueError(f"electrodes table has neither 'location' nor 'ecephys_structure_acronym' "
                         f"(columns: {list(electrodes.colnames)})")
    return _by_unit(positions, location, "unknown")


def _unit_probes(nwbfile, positions: np.ndarray) -> np.ndarray | None:
    """Probe (electrode group) name of each unit's peak channel, e.g. "probeA"; None if the file has none."""
    electrodes = nwbfile.electrodes
    names = _column(electrodes, "group_name")
    if names is None and "group" in electrodes.colnames:
        names = np.array([getattr(g, "name", str(g)) for g in electrodes["group"].data[:]], dtype=object)
    return _by_unit(positions, names, "unknown")


def select_units(units: pd.DataFrame, *, areas: Sequence[str] = VISUAL_AREAS,
                 isi_violations_max: float | None = 0.5, amplitude_cutoff_max: float | None = 0.1,
                 presence_ratio_min: float | None = 0.95, require_good_quality: bool = True,
                 require_valid_data: bool = True) -> np.ndarray:
    """Boolean mask over ``units`` (columns ``area`` + quality metrics): in ``areas`` and passing the filters.

    Bounds are inclusive as in the AllenSDK; a missing (NaN) metric fails; ``None`` disables a filter.
    ``require_good_quality`` / ``require_valid_data`` apply where the table has a ``quality`` /
    ``valid_data`` (peak channel usable) column, as the AllenSDK's ``filter_by_validity`` does.
    """
    keep = np.array(units["area"].isin(list(areas)), dtype=bool)
    for column, bound, op in (("isi_violations", isi_violations_max, np.less_equal),
                              ("amplitude_cutoff", amplitude_cutoff_max, np.less_equal),
                              ("presence_ratio", presence_ratio_min, np.greater_equal)):
        if bound is None:
            continue
        if column not in units:
            raise ValueError(f"units table has no {column!r} column (pass {column}_*=None to skip that filter)")
        with np.errstate(invalid="ignore"):
            keep = keep & op(np.asarray(units[column], dtype=float), bound)
    if require_good_quality and "quality" in units:
        keep = keep & np.asarray(units["quality"].astype(str) == "good")
    if require_valid_data and "valid_data" in units:
        keep = keep & np.asarray(units["valid_data"] == True)  # noqa: E712 - object column, None = unknown
    return keep


def _units_table(nwbfile) -> pd.DataFrame:
    units = nwbfile.units
    positions = _unit_channels(nwbfile)
    table = pd.DataFrame({"unit_id": np.asarray(units.id.data[:]), "area": _unit_areas(nwbfile)})
    probes = _unit_probes(nwbfile, positions)
    if probes is not None:
        table["probe"] = probes
    valid = _column(nwbfile.electrodes, "valid_data")
    if valid is not None:  # a bool column in the real files; tolerate "True"/"False" strings
        valid = np.array([v if isinstance(v, (bool, np.bool_)) else str(v).strip().lower() in ("true", "1")
                          for v in valid], dtype=bool)
        table["valid_data"] = _by_unit(positions, valid, False)
    for name in ("isi_violations", "amplitude_cutoff", "presence_ratio", "quality", "firing_rate", "snr"):
        values = _column(units, name)
        if values is not None:
            table[name] = values
    return table


def invalid_times_table(nwbfile) -> pd.DataFrame:
    """The session's ``invalid_times`` as ``start_time``, ``stop_time``, ``tags`` (list of str per interval)."""
    table = getattr(nwbfile, "invalid_times", None)
    if table is None or len(table) == 0:
        return pd.DataFrame({"start_time": np.zeros(0), "stop_time": np.zeros(0), "tags": []})
    tags = ([[t.decode() if isinstance(t, bytes) else str(t) for t in table["tags"][i]] for i in range(len(table))]
            if "tags" in table.colnames else [[] for _ in range(len(table))])
    return pd.DataFrame({"start_time": np.asarray(table["start_time"].data[:], dtype=float),
                         "stop_time": np.asarray(table["stop_time"].data[:], dtype=float), "tags": tags})


def _tagged(invalid: pd.DataFrame, tags: Iterable[str]) -> pd.DataFrame:
    tags = set(tags)
    return invalid[np.array([bool(tags & set(t)) for t in invalid["tags"]], dtype=bool)]


def _presentations(nwbfile, label: str) -> pd.DataFrame:
    if INTERVALS not in nwbfile.intervals:
        raise ValueError(f"{label}: no '{INTERVALS}' intervals table (has: {sorted(nwbfile.intervals)}); "
                         "only Brain Observatory 1.1 sessions (DANDI:000021) show the natural scenes")
    table = nwbfile.intervals[INTERVALS]
    starts = np.asarray(table["start_time"].data[:], dtype=float)
    stops = np.asarray(table["stop_time"].data[:], dtype=float) if "stop_time" in table.colnames else starts
    return pd.DataFrame({"start_time": starts, "stop_time": stops, "frame": np.asarray(table["frame"].data[:])})


def _spike_times(units, row: int, ends: np.ndarray) -> np.ndarray:
    start = int(ends[row - 1]) if row > 0 else 0
    return np.asarray(units.spike_times.data[start:int(ends[row])])


def _iter_counts(nwbfile, rows: Iterable[int], onsets: np.ndarray, bin_size: float, n_bins: int,
                 start: float) -> Iterator[np.ndarray]:
    """Per selected unit: counts ``[n_images, n_trials, n_bins]`` (NaN where the trial slot is empty)."""
    units = nwbfile.units
    ends = np.asarray(units.spike_times_index.data[:])
    flat = onsets.ravel()
    have = ~np.isnan(flat)
    for row in rows:
        counts = np.full((len(flat), n_bins), np.nan)
        counts[have] = count_spikes(_spike_times(units, row, ends), flat[have], bin_size, n_bins, start)
        yield counts.reshape(onsets.shape + (n_bins,))


@contextmanager
def _open_nwb(source):
    """Open a local path, or an ``h5py``-compatible file object (remfile stream), with pynwb."""
    from pynwb import NWBHDF5IO

    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"NWB file not found: {path}")
        with NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
            yield io.read()
    else:
        import h5py

        with h5py.File(source, "r") as h5, NWBHDF5IO(file=h5, mode="r", load_namespaces=True) as io:
            yield io.read()


@dataclass
class _Session:
    """What one session contributes: all units, the selected rows, the trial onsets and provenance."""

    units: pd.DataFrame
    rows: np.ndarray
    onsets: np.ndarray
    info: dict


def _select_session(nwbfile, label: str, *, areas: Sequence[str], isi_violations_max: float | None,
                    amplitude_cutoff_max: float | None, presence_ratio_min: float | None,
                    require_good_quality: bool, require_valid_data: bool, mask_invalid_presentations: bool,
                    probe_invalid_times: str, n_trials: int) -> _Session:
    """Unit selection, trial onsets and the handling of ``invalid_times`` for one open session file."""
    if probe_invalid_times not in PROBE_INVALID_TIMES:
        raise ValueError(f"probe_invalid_times must be one of {PROBE_INVALID_TIMES}; got {probe_invalid_times!r}")
    units = _units_table(nwbfile)
    keep = select_units(units, areas=areas, isi_violations_max=isi_violations_max,
                        amplitude_cutoff_max=amplitude_cutoff_max, presence_ratio_min=presence_ratio_min,
                        require_good_quality=require_good_quality, require_valid_data=require_valid_data)
    presentations = _presentations(nwbfile, label)
    frames, repeat = presentation_slots(presentations, N_SCENES)
    used = (frames >= 0) & (repeat < n_trials)
    starts, stops = presentations["start_time"].to_numpy(), presentations["stop_time"].to_numpy()
    invalid = invalid_times_table(nwbfile)
    masked = np.zeros(len(presentations), dtype=bool)
    if mask_invalid_presentations:
        masked |= invalid_presentations(starts, stops, _tagged(invalid, [STIMULUS_TAG]))
    all_probes = invalid_presentations(starts, stops, _tagged(invalid, [ALL_PROBES_TAG])) & used
    if probe_invalid_times == "drop":
        masked |= all_probes
    # Probe dropouts during a presentation that is still used: per probe of a selected unit.
    affected = []
    if "probe" in units:
        for probe in sorted(set(units.loc[keep, "probe"].astype(str))):
            if (invalid_presentations(starts, stops, _tagged(invalid, [probe])) & used & ~masked).any():
                affected.append(probe)
    dropped_for_probe = 0
    if probe_invalid_times == "drop" and affected:
        on_affected = np.asarray(units["probe"].astype(str).isin(affected))
        dropped_for_probe = int((keep & on_affected).sum())
        keep &= ~on_affected
    elif probe_invalid_times == "warn" and (affected or (all_probes & ~masked).any()):
        what = ([f"probe(s) {', '.join(affected)}"] if affected else []) + (
            ["all probes"] if (all_probes & ~masked).any() else [])
        warnings.warn(f"{label}: invalid_times mark {' and '.join(what)} as invalid during natural-scene "
                      "presentations; their spikes are kept (as the AllenSDK does). Pass "
                      "probe_invalid_times='drop' to remove them", stacklevel=3)
    onsets = trial_onsets(presentations, N_SCENES, n_trials, valid=~masked)
    shown = np.zeros(N_SCENES, dtype=bool)
    shown[np.unique(frames[frames >= 0])] = True
    if not shown.all():
        missing = np.flatnonzero(~shown)
        raise ValueError(f"{label}: natural scene {missing[0]} was never shown ({len(missing)} missing)")
    emptied = np.flatnonzero(np.isnan(onsets).all(axis=1))
    if len(emptied):
        raise ValueError(f"{label}: every presentation of natural scene {emptied[0]} overlaps invalid_times "
                         f"({len(emptied)} scene(s)); pass mask_invalid_presentations=False to keep them")
    info = {
        "units_total": len(units),
        "units_in_areas": int(units["area"].isin(list(areas)).sum()),
        "units_on_invalid_channels": (int((~units["valid_data"].astype(bool)).sum())
                                      if "valid_data" in units else None),
        "units_passing_quality": int(keep.sum()),
        "invalid_intervals": len(invalid),
        "presentations_masked": int((masked & used).sum()),
        "probes_with_invalid_times": affected,
        "units_dropped_for_probe_invalid_times": dropped_for_probe,
        "repeats_per_image": [int(np.isfinite(onsets).sum(1).min()), int(np.isfinite(onsets).sum(1).max())],
    }
    return _Session(units, np.flatnonzero(keep), onsets, info)


def binned_counts(nwb, *, areas: Sequence[str] = VISUAL_AREAS, isi_violations_max: float | None = 0.5,
                  amplitude_cutoff_max: float | None = 0.1, presence_ratio_min: float | None = 0.95,
                  require_good_quality: bool = True, require_valid_data: bool = True,
                  mask_invalid_presentations: bool = True, probe_invalid_times: str = "warn",
                  bin_size: float = 0.010, n_bins: int = 25, n_trials: int = 50,
                  start: float = 0.0) -> tuple[np.ndarray, pd.DataFrame]:
    """Spike counts ``[118, n_trials, n_bins, n_units]`` (float, NaN = missing or invalid repeat) of one session.

    ``nwb`` is a path to a session NWB file (or an open ``pynwb.NWBFile``). Returns the counts of the units
    that pass :func:`select_units` and their table (``unit_id``, ``area``, ``probe``, quality metrics).
    The options are those of :func:`load_allen_neuropixels`.
    Memory: ~0.6 MB per unit in float32-equivalent; use :func:`load_allen_neuropixels` for whole sessions.
    """
    def run(nwbfile):
        session = _select_session(nwbfile, str(nwb), areas=areas, isi_violations_max=isi_violations_max,
                                  amplitude_cutoff_max=amplitude_cutoff_max, presence_ratio_min=presence_ratio_min,
                                  require_good_quality=require_good_quality, require_valid_data=require_valid_data,
                                  mask_invalid_presentations=mask_invalid_presentations,
                                  probe_invalid_times=probe_invalid_times, n_trials=n_trials)
        counts = np.zeros((N_SCENES, n_trials, n_bins, len(session.rows)))
        for j, c in enumerate(_iter_counts(nwbfile, session.rows, session.onsets, bin_size, n_bins, start)):
            counts[..., j] = c
        return counts, session.units.iloc[session.rows].reset_index(drop=True)

    if hasattr(nwb, "units") and hasattr(nwb, "intervals"):
        return run(nwb)
    with _open_nwb(nwb) as nwbfile:
        return run(nwbfile)


# ----------------------------------------------------------------------------------------- sources
def _asset_metadata(asset_id: str, *, progress: bool) -> dict:
    path = fetch_unverified(FOLDER, f"dandi_assets/{asset_id}.json", f"{dandi_api()}/assets/{asset_id}/",
                            progress=progress)
    try:
        meta = json.loads(Path(path).read_text())
    except ValueError as exc:
        Path(path).unlink(missing_ok=True)  # not JSON (an error page): do not keep it
        raise CacheError(f"DANDI asset metadata for {asset_id} from {dandi_api()} is not JSON ({exc})") from exc
    if "metadata" in meta and "digest" not in meta:  # /assets/{id}/info/ style
        meta = {**meta["metadata"], "path": meta.get("path", meta["metadata"].get("path"))}
    return meta


def _dandi_source(asset_id: str, expected_path: str | None, *, stream: bool, progress: bool) -> tuple[object, dict]:
    """A local verified NWB path (or a remfile stream) for one DANDI asset, plus provenance."""
    local = data_dir() / FOLDER / expected_path if expected_path else None
    try:
        meta = _asset_metadata(asset_id, progress=progress)
    except CacheError as exc:
        if local is not None and local.is_file() and not stream:
            warnings.warn(f"{local}: DANDI metadata unreachable ({exc}); using the cached file WITHOUT "
                          "checking its sha256", stacklevel=3)
            return local, {"dandi_asset_id": asset_id, "path": expected_path, "sha256": None}
        raise
    path = meta.get("path")
    if expected_path is not None and path != expected_path:
        raise ValueError(f"DANDI asset {asset_id} is {path!r}, not {expected_path!r} as vna's session table "
                         "says; the table is stale: pass the session's DANDI asset id or a local path instead")
    sha256 = (meta.get("digest") or {}).get("dandi:sha2-256")
    download = f"{dandi_api()}/assets/{asset_id}/download/"
    info = {"dandi_asset_id": asset_id, "path": path, "sha256": sha256, "url": download}
    if stream:
        try:
            import remfile
        except ImportError:
            raise ImportError("stream=True needs the optional package remfile (pip install remfile); "
                              "or leave stream=False to download the session files") from None
        urls = [u for u in meta.get("contentUrl", []) if "s3" in u] or [download]
        info["url"] = urls[0]
        return remfile.File(urls[0]), info
    if sha256:
        return fetch(FOLDER, path, download, f"sha256:{sha256}", progress=progress), info
    warnings.warn(f"DANDI publishes no sha256 for asset {asset_id}; {path} is checked by its size only", stacklevel=3)
    size = meta.get("contentSize")
    return fetch_unverified(FOLDER, path, download, progress=progress,
                            size=int(size) if isinstance(size, (int, float)) else None), info


def session_search_url(session_id: int) -> str:
    """DANDI's asset search for one session file of DANDI:000021 (``glob`` on the asset path)."""
    pattern = quote(f"sub-*/sub-*_ses-{int(session_id)}.nwb", safe="")
    return f"{dandi_api()}/dandisets/{DANDISET}/versions/draft/assets/?glob={pattern}"


def _lookup_session(session_id: int, *, progress: bool) -> DandiSession:
    """A :data:`LOOKUP_SESSIONS` session's DANDI path and asset id, from DANDI's asset search (cached)."""
    relpath = f"dandi_assets/session-{session_id}.json"
    path = fetch_unverified(FOLDER, relpath, session_search_url(session_id), progress=progress)
    try:
        answer = json.loads(Path(path).read_text())
    except ValueError as exc:
        Path(path).unlink(missing_ok=True)
        raise CacheError(f"DANDI's asset search for session {session_id} ({session_search_url(session_id)}) "
                         f"did not return JSON ({exc})") from exc
    results = answer.get("results", []) if isinstance(answer, dict) else answer
    pattern = re.compile(rf"^sub-(\d+)/sub-\1_ses-{int(session_id)}\.nwb$")
    matches = [r for r in results if isinstance(r, dict) and pattern.match(str(r.get("path", "")))]
    if len(matches) != 1 or not _UUID.match(str(matches[0].get("asset_id", ""))):
        Path(path).unlink(missing_ok=True)  # do not keep an answer that cannot be used
        raise ValueError(f"DANDI's asset search for session {session_id} found {len(matches)} session file(s) "
                         f"({[r.get('path') for r in results if isinstance(r, dict)][:5]}); pass the session's "
                         "DANDI asset id, DANDI path or a local NWB file instead")
    m = matches[0]
    return DandiSession(int(session_id), m["path"], m["asset_id"], float(m.get("size") or 0) / 1e9)


def _resolve(spec, *, stream: bool, progress: bool) -> tuple[object, dict]:
    """Session spec -> (path or stream, provenance). See :func:`load_allen_neuropixels` for the forms."""
    if isinstance(spec, (int, np.integer)) or (isinstance(spec, str) and spec.isdigit()):
        sid = int(spec)
        if sid in LOOKUP_SESSIONS and sid not in SESSIONS:
            s = _lookup_session(sid, progress=progress)
        elif sid not in SESSIONS:
            raise ValueError(f"session {sid} is not in vna's DANDI:000021 table (known: {sorted(ALL_SESSIONS)}); "
                             "pass its DANDI asset id or a local NWB path instead")
        else:
            s = SESSIONS[sid]
        return _dandi_source(s.asset_id, s.path, stream=stream, progress=progress)
    spec_str = str(spec)
    if Path(spec_str).expanduser().is_file():
        return Path(spec_str).expanduser(), {"path": str(Path(spec_str).expanduser()), "sha256": None}
    if _UUID.match(spec_str):
        known = {s.asset_id: s.path for s in SESSIONS.values()}
        return _dandi_source(spec_str, known.get(spec_str), stream=stream, progress=progress)
    by_path = {s.path: s for s in SESSIONS.values()}
    if spec_str in by_path:
        s = by_path[spec_str]
        return _dandi_source(s.asset_id, s.path, stream=stream, progress=progress)
    if spec_str.startswith(("http://", "https://")):
        if stream:
            try:
                import remfile
            except ImportError:
                raise ImportError("stream=True needs the optional package remfile (pip install remfile)") from None
            return remfile.File(spec_str), {"url": spec_str, "sha256": None}
        name = spec_str.rstrip("/").rsplit("/", 1)[-1] or "session.nwb"
        return fetch_unverified(FOLDER, f"url/{name}", spec_str, progress=progress), {"url": spec_str, "sha256": None}
    raise ValueError(f"session {spec!r}: not a known session id, DANDI asset id, DANDI path, URL or existing file")


# ----------------------------------------------------------------------------------------- images
def load_natural_scene_templates(images=None, *, progress: bool = True) -> np.ndarray:
    """The 118 natural-scene templates, ``[118, H, W]`` grey, original size, in Allen frame order.

    ``images``: None downloads Allen's templates (``natural_scene_<i>.tiff``) into the cache; otherwise a
    ``.npy`` file ``[118, H, W(, 3)]``, an HDF5/NWB file holding one such dataset (e.g. a Brain Observatory
    2-photon NWB's ``stimulus/templates/natural_scenes``), or a folder with ``natural_scene_<i>.<ext>`` files
    (AllenSDK cache layout) or exactly 118 image files (sorted by name).
    """
    if images is None:
        files = [fetch_unverified(FOLDER, TEMPLATE_RELPATH.format(index=i), template_url().format(index=i),
                                  progress=progress) for i in range(N_SCENES)]
        return stack_images([read_image(f) for f in files], "Allen natural-scene templates")
    path = Path(images).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"natural-scene templates not found: {path}")
    if path.is_dir():
        named = {}
        for f in path.iterdir():
            m = re.fullmatch(r"natural_scene_(\d+)", f.stem)
            if m and f.suffix.lower() in IMAGE_SUFFIXES:
                named[int(m.group(1))] = f
        if named:
            missing = sorted(set(range(N_SCENES)) - set(named))
            if missing:
                raise FileNotFoundError(f"{path}: natural_scene_<i> files missing for i = {missing[:10]}")
            files = [named[i] for i in range(N_SCENES)]
        else:
            files = sorted((f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES),
                           key=lambda f: natural_key(f.name))
        if len(files) != N_SCENES:
            raise ValueError(f"{path}: expected {N_SCENES} image files, found {len(files)}")
        stack = stack_images([read_image(f) for f in files], str(path))
    elif path.suffix == ".npy":
        stack = np.load(path, allow_pickle=False)
    else:
        import h5py

        found = []
        with h5py.File(path, "r") as h5:
            h5.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset)
                          and obj.ndim in (3, 4) and obj.shape[0] == N_SCENES else None)
            if len(found) != 1:
                raise ValueError(f"{path}: expected one dataset shaped [{N_SCENES}, H, W]; found {found}")
            stack = np.asarray(h5[found[0]][()])
    if stack.ndim == 4:
        stack = np.stack([to_grey(im) for im in stack])
    if stack.ndim != 3 or stack.shape[0] != N_SCENES:
        raise ValueError(f"{path}: natural-scene templates must be [{N_SCENES}, H, W]; got {stack.shape}")
    return stack


# ----------------------------------------------------------------------------------------- loader
def load_allen_neuropixels(
    sessions: Sequence | str | None = None,
    *,
    images=None,
    areas: Sequence[str] = VISUAL_AREAS,
    isi_violations_max: float | None = 0.5,
    amplitude_cutoff_max: float | None = 0.1,
    presence_ratio_min: float | None = 0.95,
    require_good_quality: bool = True,
    require_valid_data: bool = True,
    mask_invalid_presentations: bool = True,
    probe_invalid_times: str = "warn",
    bin_size: float = 0.010,
    n_bins: int = 25,
    n_trials: int = 50,
    bin_range: tuple[int, int] | None = None,
    reliability_threshold: float | None = 0.8,
    reliability_splits: int = 20,
    seed: int = 0,
    stream: bool = False,
    progress: bool = True,
) -> Recording:
    """The Mouse-movie dataset as a :class:`Recording`: ``[118 images, 50 trials, units]`` in spikes/s.

    Args:
        sessions: which sessions to pool; default :data:`DEFAULT_SESSIONS`, ``"all"`` = the 32 Brain
            Observatory 1.1 sessions (:data:`ALL_SESSIONS`). Each entry: an Allen session id, a DANDI asset
            id, a DANDI path (``sub-.../sub-..._ses-....nwb``), a local NWB path, or an http(s) URL.
        images: where the 118 templates come from (see :func:`load_natural_scene_templates`).
        areas, isi_violations_max, amplitude_cutoff_max, presence_ratio_min, require_good_quality,
            require_valid_data: unit selection (:func:`select_units`); defaults are the AllenSDK's.
        mask_invalid_presentations: presentations overlapping an ``invalid_times`` interval tagged
            "stimulus" leave their trial slot NaN (AllenSDK default); False counts them.
        probe_invalid_times: probe dropouts ("probeX" / "all_probes" intervals) during the natural scenes:
            "warn" (AllenSDK default: spikes kept), "drop" (units of that probe removed, presentations during
            an "all_probes" interval masked) or "ignore".
        bin_size, n_bins, n_trials: 10 ms x 25 bins after onset, 50 repeats (as Huang et al.).
        bin_range: ``(first, stop)`` bins averaged into the response (default all ``n_bins``).
        reliability_threshold: keep units with split-half reliability >= this (None: keep all).
        stream: read the files remotely with ``remfile`` instead of downloading them.
    """
    if sessions is None:
        sessions = list(DEFAULT_SESSIONS)
    elif isinstance(sessions, str) and sessions == "all":
        sessions = list(ALL_SESSIONS)
    elif isinstance(sessions, (str, Path, int, np.integer)):
        sessions = [sessions]
    if len(sessions) == 0:
        raise ValueError("sessions is empty")
    if probe_invalid_times not in PROBE_INVALID_TIMES:
        raise ValueError(f"probe_invalid_times must be one of {PROBE_INVALID_TIMES}; got {probe_invalid_times!r}")
    b0, b1 = (0, n_bins) if bin_range is None else (int(bin_range[0]), int(bin_range[1]))
    if not 0 <= b0 < b1 <= n_bins:
        raise ValueError(f"bin_range must satisfy 0 <= first < stop <= n_bins={n_bins}; got {bin_range}")
    unknown = sorted(set(areas) - set(VISUAL_AREAS))
    if unknown:
        warnings.warn(f"areas {unknown} are not among the paper's six visual areas {VISUAL_AREAS}", stacklevel=2)

    templates = load_natural_scene_templates(images, progress=progress)  # first: fail fast if unavailable
    blocks, tables, provenance = [], [], []
    for spec in sessions:
        source, info = _resolve(spec, stream=stream, progress=progress)
        with _open_nwb(source) as nwbfile:
            label = info.get("path") or info.get("url") or str(spec)
            session = _select_session(
                nwbfile, label, areas=areas, isi_violations_max=isi_violations_max,
                amplitude_cutoff_max=amplitude_cutoff_max, presence_ratio_min=presence_ratio_min,
                require_good_quality=require_good_quality, require_valid_data=require_valid_data,
                mask_invalid_presentations=mask_invalid_presentations, probe_invalid_times=probe_invalid_times,
                n_trials=n_trials)
            rows = session.rows
            rates = np.empty((N_SCENES, n_trials, len(rows)))
            for j, c in enumerate(_iter_counts(nwbfile, rows, session.onsets, bin_size, n_bins, 0.0)):
                rates[..., j] = c[..., b0:b1].mean(axis=-1) / bin_size
            session_id = getattr(nwbfile, "session_id", None) or nwbfile.identifier
            table = session.units.iloc[rows].reset_index(drop=True)
            table.insert(0, "session_id", str(session_id))
            blocks.append(rates)
            tables.append(table)
            provenance.append({**info, "session_id": str(session_id), **session.info})
            if len(rows) == 0:
                warnings.warn(f"{label}: no unit in {list(areas)} passes the quality filters", stacklevel=2)

    responses = np.concatenate(blocks, axis=2)
    neurons = pd.concat(tables, ignore_index=True)
    if responses.shape[2] == 0:
        raise ValueError(f"no unit in {list(areas)} passes the quality filters in sessions {list(sessions)}")
    # Pooled trial slots are aligned by repeat index. A slot that some session lacks (fewer than n_trials
    # repeats of that image, or a presentation masked by invalid_times) is dropped for every unit, so that a
    # trial is either complete or absent.
    partial = np.isnan(responses).any(axis=2) & ~np.isnan(responses).all(axis=2)
    if partial.any():
        warnings.warn(f"{int(partial.sum())} (image, repeat) slots are missing in some sessions; they are "
                      "dropped for all units", stacklevel=2)
        responses[partial] = np.nan
    reliability = split_half_reliability(responses, n_splits=reliability_splits, seed=seed)
    neurons["split_half_reliability"] = reliability
    if reliability_threshold is not None:
        keep = reliability >= reliability_threshold
        if not keep.any():
            raise ValueError(f"no unit reaches split-half reliability {reliability_threshold} "
                             f"(best: {np.nanmax(reliability) if np.isfinite(reliability).any() else 'NaN'}); "
                             "lower reliability_threshold or add sessions")
        responses, neurons = responses[:, :, keep], neurons[keep].reset_index(drop=True)
    neurons.insert(0, "id", neurons["session_id"] + ":" + neurons["unit_id"].astype(str))
    return Recording(
        images=templates,
        responses=responses,
        neurons=neurons,
        image_ids=np.arange(N_SCENES),
        meta={
            "name": "allen-neuropixels",
            "units": f"spikes/s: mean over 10 ms bins {b0}..{b1 - 1} ({b0 * bin_size * 1e3:g}-"
                     f"{b1 * bin_size * 1e3:g} ms after onset)",
            "source": f"DANDI:{DANDISET} https://dandiarchive.org/dandiset/{DANDISET}",
            "citation": CITATION,
            "license": LICENSE,
            "simulated": False,
            "sessions": provenance,
            "images_source": "Allen natural-scene templates" if images is None else str(images),
            "preprocessing": {
                "areas": list(areas), "isi_violations_max": isi_violations_max,
                "amplitude_cutoff_max": amplitude_cutoff_max, "presence_ratio_min": presence_ratio_min,
                "require_good_quality": require_good_quality, "require_valid_data": require_valid_data,
                "mask_invalid_presentations": mask_invalid_presentations,
                "probe_invalid_times": probe_invalid_times, "bin_size": bin_size, "n_bins": n_bins,
                "n_trials": n_trials, "bin_range": [b0, b1], "reliability_threshold": reliability_threshold,
                "reliability_splits": reliability_splits, "seed": seed,
                "units_before_reliability": int(len(reliability)),
                "units_after_reliability": int(responses.shape[2]),
                "incomplete_slots_dropped": int(partial.sum()),
            },
        },
    )


def status() -> str:
    """"cached" when the default sessions' NWB files and the 118 templates are in the cache, else "needs download"."""
    files = [SESSIONS[s].path for s in DEFAULT_SESSIONS] + [TEMPLATE_RELPATH.format(index=i) for i in range(N_SCENES)]
    return "cached" if is_cached(FOLDER, files) else "needs download"
