"""Allen Neuropixels loader on NWB files written here in the layout of DANDI:000021 session files.

The fixture sessions (``paper_fixtures.write_allen_session``) have the columns public printouts of the real
files list: units (spike_times, isi_violations, amplitude_cutoff, presence_ratio, quality, peak_channel_id),
electrodes (location, probe_id, valid_data; one electrode group per probe), natural_scenes_presentations
(118 frames x 50 repeats + blanks in shuffled order) and invalid_times tagged ``[scope, id, label]``.
Session 1 has a unit on an invalid channel, a unit on probeB (which drops out once), two "stimulus"
intervals over natural-scene presentations (one touching a presentation only at its stop time), one before
the natural scenes, and an "all_probes" interval (issue 14, points 3-4).
"""
from __future__ import annotations

import hashlib
import json
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from paper_fixtures import write_allen_session
from vna.data.cache import CorruptDataFile, MissingDataFile
from vna.data.paper import allen_neuropixels as allen

N, REPS, SPACING, T0 = 118, 50, 0.3, 10.0
QUALITY_OK = dict(isi_violations=0.1, amplitude_cutoff=0.01, presence_ratio=0.99, quality="good")
STIMULUS_MASKED = [(7, 2), (11, 0)]  # (frame, repeat) slots overlapping "stimulus" intervals in session 1
PROBE_B_DROPOUT, ALL_PROBES = (20, 5), (30, 1)


def _presentations(rng):
    """Frames in shuffled blocks (118 scenes + one blank each), 0.3 s apart."""
    frames = np.concatenate([rng.permutation(np.r_[np.arange(N), -1]) for _ in range(REPS)])
    return frames, T0 + SPACING * np.arange(len(frames))


def _repeat_index(frames):
    """k-th presentation of each frame (in time order)."""
    seen, out = {}, np.empty(len(frames), int)
    for i, f in enumerate(frames):
        out[i] = seen.get(f, 0)
        seen[f] = out[i] + 1
    return out


def _image_locked(frames, starts, count_of):
    """Spikes at onset + 0.005 + 0.02 j, j < count_of(frame, repeat) (so spike j falls in bin 2j)."""
    reps = _repeat_index(frames)
    out = []
    for f, t, k in zip(frames, starts, reps):
        if f < 0:
            out.append([t + 0.1])  # a spike during the blank: must never be counted
        else:
            out.extend([[t + 0.005 + 0.02 * j for j in range(count_of(f, k))]])
    return np.sort(np.concatenate([np.asarray(o, float) for o in out]))


def _onset(frames, starts, frame, repeat):
    return starts[(frames == frame) & (_repeat_index(frames) == repeat)][0]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Two session files and what they encode."""
    root = tmp_path_factory.mktemp("allen")
    rng = np.random.default_rng(0)
    frames1, starts1 = _presentations(rng)
    a_spikes = _image_locked(frames1, starts1, lambda f, k: f % 7 + 1)
    # E: spikes only around the 4th presentation (repeat 3) of frame 5, at the bin edges.
    t = _onset(frames1, starts1, 5, 3)
    e_spikes = np.array([t - 0.001, t, t + 0.0099, t + 0.010, t + 0.2499, t + 0.250])
    n_spikes = np.sort(rng.uniform(0, starts1[-1] + 1, size=40000))  # unreliable background unit
    units1 = [
        dict(id=11, area="VISp", spikes=a_spikes, **QUALITY_OK),                      # A: kept
        dict(id=12, area="VISl", spikes=e_spikes, **QUALITY_OK),                      # E: kept by quality
        dict(id=13, area="VISam", spikes=n_spikes, **QUALITY_OK),                     # N: kept by quality
        dict(id=14, area="LGd", spikes=a_spikes, **QUALITY_OK),                       # not visual cortex
        dict(id=15, area="VISp", spikes=a_spikes, **{**QUALITY_OK, "isi_violations": 0.6}),
        dict(id=16, area="VISrl", spikes=a_spikes, **{**QUALITY_OK, "amplitude_cutoff": 0.2}),
        dict(id=17, area="VISal", spikes=a_spikes, **{**QUALITY_OK, "presence_ratio": 0.9}),
        dict(id=18, area="VISpm", spikes=a_spikes, **{**QUALITY_OK, "quality": "noise"}),
        dict(id=19, area="VISp", spikes=a_spikes, **{**QUALITY_OK, "amplitude_cutoff": float("nan")}),
        dict(id=20, area="VISpm", spikes=a_spikes, isi_violations=0.5, amplitude_cutoff=0.1,
             presence_ratio=0.95, quality="good"),                                   # on the bounds: kept
        dict(id=21, area="VISp", spikes=a_spikes, valid=False, **QUALITY_OK),         # channel not valid_data
        dict(id=23, area="VISrl", probe="probeB", spikes=a_spikes, **QUALITY_OK),     # probe with a dropout
    ]
    stop = lambda f, k: _onset(frames1, starts1, f, k) + 0.25  # noqa: E731
    invalid1 = [
        (_onset(frames1, starts1, 7, 2) + 0.10, _onset(frames1, starts1, 7, 2) + 0.12,
         ["EcephysSession", "715093703", "stimulus"]),
        (stop(11, 0), stop(11, 0) + 0.01, ["EcephysSession", "715093703", "stimulus"]),  # touches at stop_time
        (1.0, 2.0, ["EcephysSession", "715093703", "stimulus"]),                          # before the scenes
        (_onset(frames1, starts1, *PROBE_B_DROPOUT) + 0.05, _onset(frames1, starts1, *PROBE_B_DROPOUT) + 0.06,
         ["EcephysProbe", "810755799", "probeB"]),
        (_onset(frames1, starts1, *ALL_PROBES) + 0.05, _onset(frames1, starts1, *ALL_PROBES) + 0.06,
         ["EcephysSession", "715093703", "all_probes"]),
    ]
    path1 = root / "session1.nwb"
    write_allen_session(path1, "715093703", frames1, starts1, units1, invalid1)

    frames2, starts2 = _presentations(rng)
    c_spikes = _image_locked(frames2, starts2, lambda f, k: f % 3 + 1 + k % 2)
    path2 = root / "session2.nwb"
    write_allen_session(path2, "721123822", frames2, starts2,
                        [dict(id=11, area="VISrl", spikes=c_spikes, **QUALITY_OK)])

    templates = np.arange(N * 3 * 4, dtype=np.uint8).reshape(N, 3, 4)
    np.save(root / "templates.npy", templates)
    return dict(root=root, path1=path1, path2=path2, templates=templates, e_spike_times=e_spikes,
                frames1=frames1, starts1=starts1)


def _nan_slots(slots):
    mask = np.zeros((N, REPS), dtype=bool)
    for f, k in slots:
        mask[f, k] = True
    return mask


# ----------------------------------------------------------------------------------------- counting
def test_count_spikes_edges_by_hand():
    spikes = np.array([0.999, 1.0, 1.0099, 1.010, 1.2499, 1.25, 3.0])
    counts = allen.count_spikes(spikes, np.array([1.0, 2.0]), bin_size=0.01, n_bins=25)
    assert counts.shape == (2, 25)
    expected = np.zeros((2, 25), int)
    expected[0, 0], expected[0, 1], expected[0, 24] = 2, 1, 1  # [t, t+10ms) closed left, open right
    np.testing.assert_array_equal(counts, expected)


def test_trial_onsets_orders_repeats_drops_blank_and_truncates():
    import pandas as pd

    table = pd.DataFrame({"start_time": [5.0, 1.0, 3.0, 2.0, 4.0, 6.0], "frame": [0, 0, -1, 1, 0, 0]})
    onsets = allen.trial_onsets(table, n_images=2, n_trials=3)
    np.testing.assert_array_equal(onsets[0], [1.0, 4.0, 5.0])  # 4th repeat (6.0) beyond n_trials
    np.testing.assert_array_equal(onsets[1], [2.0, np.nan, np.nan])
    with pytest.raises(ValueError, match="frame 7"):
        allen.trial_onsets(pd.DataFrame({"start_time": [1.0], "frame": [7]}), n_images=2)


def test_binned_counts_by_hand(sessions):
    with pytest.warns(UserWarning, match="probe\\(s\\) probeB and all probes"):
        counts, units = allen.binned_counts(sessions["path1"])
    # area + AllenSDK filters (bounds inclusive; 21 is on a channel without valid_data)
    assert list(units["unit_id"]) == [11, 12, 13, 20, 23]
    assert list(units["area"]) == ["VISp", "VISl", "VISam", "VISpm", "VISrl"]
    assert list(units["probe"]) == ["probeA"] * 4 + ["probeB"]
    assert counts.shape == (118, 50, 25, 5)
    masked = _nan_slots(STIMULUS_MASKED)
    assert np.isnan(counts[masked]).all() and not np.isnan(counts[~masked]).any()
    e = counts[..., 1]
    assert e[5, 3, 0] == 2 and e[5, 3, 1] == 1 and e[5, 3, 24] == 1 and np.nansum(e) == 4
    a = counts[..., 0]
    for f in (0, 6, 117):
        expected = np.zeros(25)
        expected[[2 * j for j in range(f % 7 + 1)]] = 1
        np.testing.assert_array_equal(a[f], np.broadcast_to(expected, (50, 25)))


def test_invalid_times_table_and_closed_overlaps(sessions):
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(sessions["path1"]), "r") as io:
        table = allen.invalid_times_table(io.read())
    assert len(table) == 5
    assert [t[2] for t in table["tags"]] == ["stimulus", "stimulus", "stimulus", "probeB", "all_probes"]
    intervals = table.iloc[:0].assign(start_time=[1.0, 5.0], stop_time=[2.0, 5.0])
    hit = allen.invalid_presentations(np.array([0.0, 0.5, 2.0, 2.01, 4.9]), np.array([0.99, 1.0, 2.5, 3.0, 5.0]),
                                      intervals)
    np.testing.assert_array_equal(hit, [False, True, True, False, True])  # endpoints touching count


def test_unit_and_presentation_options(sessions):
    path = sessions["path1"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "drop" and "ignore" do not warn
        dropped, units = allen.binned_counts(path, probe_invalid_times="drop")
        assert list(units["unit_id"]) == [11, 12, 13, 20]  # the probeB unit is removed
        assert np.isnan(dropped[_nan_slots(STIMULUS_MASKED + [ALL_PROBES])]).all()
        assert not np.isnan(dropped[~_nan_slots(STIMULUS_MASKED + [ALL_PROBES])]).any()
        _, units = allen.binned_counts(path, require_valid_data=False, probe_invalid_times="ignore")
        assert list(units["unit_id"]) == [11, 12, 13, 20, 21, 23]
        kept, _ = allen.binned_counts(path, mask_invalid_presentations=False, probe_invalid_times="ignore")
        assert not np.isnan(kept).any()
        np.testing.assert_array_equal(kept[7, 2, :, 0], kept[7, 0, :, 0])  # the unit A count is restored
    with pytest.raises(ValueError, match="probe_invalid_times must be one of"):
        allen.binned_counts(path, probe_invalid_times="sometimes")


def test_trial_onsets_keep_trial_numbers_of_invalid_presentations():
    import pandas as pd

    table = pd.DataFrame({"start_time": [1.0, 2.0, 3.0, 4.0], "frame": [0, 0, -1, 0]})
    onsets = allen.trial_onsets(table, n_images=1, n_trials=3, valid=np.array([True, False, True, True]))
    np.testing.assert_array_equal(onsets[0], [1.0, np.nan, 4.0])  # repeat 1 stays empty, not shifted


# ----------------------------------------------------------------------------------------- loader
def test_loader_pools_sessions_aligned_by_repeat(sessions):
    with pytest.warns(UserWarning) as caught:
        rec = allen.load_allen_neuropixels([sessions["path1"], sessions["path2"]],
                                           images=sessions["root"] / "templates.npy",
                                           reliability_threshold=None, progress=False)
    messages = [str(w.message) for w in caught]
    assert any("session1.nwb: invalid_times mark probe(s) probeB and all probes" in m for m in messages)
    assert any(m.startswith("2 (image, repeat) slots are missing in some sessions") for m in messages)
    assert rec.responses.shape == (118, 50, 6)
    assert list(rec.neurons["id"]) == ["715093703:11", "715093703:12", "715093703:13", "715093703:20",
                                       "715093703:23", "721123822:11"]
    assert list(rec.neurons["area"]) == ["VISp", "VISl", "VISam", "VISpm", "VISrl", "VISrl"]
    # slots masked in session 1 are dropped for every unit, session 2's included (Recording: NaN trial slots)
    masked = _nan_slots(STIMULUS_MASKED)
    assert np.isnan(rec.responses[masked]).all() and not np.isnan(rec.responses[~masked]).any()
    np.testing.assert_array_equal(rec.trial_counts[[7, 11, 0]], [49, 49, 50])
    f = np.arange(118)
    expected_a = np.where(masked, np.nan, ((f % 7 + 1) / 0.25)[:, None])
    np.testing.assert_allclose(rec.responses[:, :, 0], expected_a)
    e = np.where(masked, np.nan, 0.0)
    e[5, 3] = 4 / 0.25
    np.testing.assert_allclose(rec.responses[:, :, 1], e)
    k = np.arange(50)
    np.testing.assert_allclose(rec.responses[:, :, 5],
                               np.where(masked, np.nan, ((f % 3 + 1)[:, None] + (k % 2)[None, :]) / 0.25))
    np.testing.assert_array_equal(rec.images, sessions["templates"])
    assert rec.meta["license"].startswith("CC-BY-4.0") and "Siegle" in rec.meta["citation"]
    s1, s2 = rec.meta["sessions"]
    assert [s1["units_passing_quality"], s2["units_passing_quality"]] == [5, 1]
    assert (s1["invalid_intervals"], s1["presentations_masked"], s1["units_on_invalid_channels"]) == (5, 2, 1)
    assert s1["probes_with_invalid_times"] == ["probeB"] and s1["repeats_per_image"] == [49, 50]
    assert (s2["invalid_intervals"], s2["presentations_masked"]) == (0, 0)
    assert rec.meta["preprocessing"]["incomplete_slots_dropped"] == 2
    assert rec.meta["preprocessing"]["mask_invalid_presentations"] is True


def test_loader_reliability_filter_and_bin_range(sessions):
    with pytest.warns(UserWarning):
        rec = allen.load_allen_neuropixels([sessions["path1"], sessions["path2"]],
                                           images=sessions["root"] / "templates.npy", progress=False)
    # E (one trial with spikes) and N (random) fail the 0.8 split-half reliability; A, B1, the probeB unit, C pass.
    assert list(rec.neurons["id"]) == ["715093703:11", "715093703:20", "715093703:23", "721123822:11"]
    assert (rec.neurons["split_half_reliability"] >= 0.8).all()
    assert rec.meta["preprocessing"]["units_before_reliability"] == 6
    first_bin = allen.load_allen_neuropixels([sessions["path1"]], images=sessions["root"] / "templates.npy",
                                             bin_range=(0, 1), reliability_threshold=None,
                                             probe_invalid_times="drop", progress=False)
    np.testing.assert_allclose(first_bin.responses[0, :, 0], 100.0)  # spike 0 at +5 ms: 1 per 10 ms
    assert first_bin.responses[5, 3, 1] == 200.0  # E: two spikes in [0, 10 ms)
    assert np.isnan(first_bin.responses[ALL_PROBES]).all() and first_bin.n_neurons == 4
    with pytest.raises(ValueError, match="bin_range"):
        allen.load_allen_neuropixels([sessions["path1"]], bin_range=(3, 3))
    with pytest.raises(ValueError, match="probe_invalid_times"):
        allen.load_allen_neuropixels([sessions["path1"]], probe_invalid_times="yes")


def test_unit_areas_from_electrodes_column(tmp_path):
    from pynwb import NWBHDF5IO, NWBFile

    nwb = NWBFile(session_description="s", identifier="x", session_start_time=datetime(2020, 1, 1, tzinfo=timezone.utc))
    dev = nwb.create_device("p")
    grp = nwb.create_electrode_group("p", description="d", location="", device=dev)
    for loc in ("VISp", "CA1"):
        nwb.add_electrode(location=loc, group=grp)
    nwb.add_unit(spike_times=[1.0], electrodes=[1])
    nwb.add_unit(spike_times=[2.0], electrodes=[0])
    with NWBHDF5IO(str(tmp_path / "x.nwb"), "w") as io:
        io.write(nwb)
    with NWBHDF5IO(str(tmp_path / "x.nwb"), "r") as io:
        assert list(allen._unit_areas(io.read())) == ["CA1", "VISp"]


def test_templates_from_folder_npy_h5_and_errors(tmp_path, sessions):
    from PIL import Image
    import h5py

    templates = sessions["templates"]
    folder = tmp_path / "natural_scene_templates"
    folder.mkdir()
    for i, im in enumerate(templates):
        Image.fromarray(im).save(folder / f"natural_scene_{i}.tiff")
    np.testing.assert_array_equal(allen.load_natural_scene_templates(folder), templates)
    with h5py.File(tmp_path / "t.h5", "w") as h5:
        h5["stimulus/templates/natural_scenes"] = templates
    np.testing.assert_array_equal(allen.load_natural_scene_templates(tmp_path / "t.h5"), templates)
    (folder / "natural_scene_117.tiff").unlink()
    with pytest.raises(FileNotFoundError, match="117"):
        allen.load_natural_scene_templates(folder)
    with pytest.raises(FileNotFoundError):
        allen.load_natural_scene_templates(tmp_path / "nope.npy")


# ----------------------------------------------------------------------------------------- download path
def _serve_dandi(root: Path, nwb: Path, dandi_path: str, asset_id: str, sha256: str, templates) -> None:
    from PIL import Image

    meta_dir = root / "assets" / asset_id
    (meta_dir / "download").mkdir(parents=True)
    (meta_dir / "index.html").write_text(json.dumps({
        "identifier": asset_id, "path": dandi_path, "digest": {"dandi:sha2-256": sha256},
        "contentUrl": [f"https://api.dandiarchive.org/api/assets/{asset_id}/download/"]}))
    (meta_dir / "download" / "index.html").write_bytes(nwb.read_bytes())
    (root / "templates").mkdir()
    for i, im in enumerate(templates):
        Image.fromarray(im).save(root / "templates" / f"natural_scene_{i}.tiff")


@pytest.fixture
def dandi(tmp_path, monkeypatch, http_server, sessions):
    """A local DANDI API + template store with session 1; the cache is an empty tmp folder."""
    served = tmp_path / "served"
    asset_id = str(uuid.UUID(int=1))
    dandi_path = "sub-699733573/sub-699733573_ses-715093703.nwb"
    sha = hashlib.sha256(sessions["path1"].read_bytes()).hexdigest()
    _serve_dandi(served, sessions["path1"], dandi_path, asset_id, sha, sessions["templates"])
    base = http_server(served)
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(allen, "DANDI_API", base)
    monkeypatch.setattr(allen, "TEMPLATE_URL", base + "/templates/natural_scene_{index}.tiff")
    monkeypatch.setattr(allen, "SESSIONS", {715093703: allen.DandiSession(715093703, dandi_path, asset_id, 0.0)})
    monkeypatch.setattr(allen, "DEFAULT_SESSIONS", (715093703,))
    return dict(served=served, cache=tmp_path / "cache", asset_id=asset_id, path=dandi_path)


def test_download_verify_cache_and_reload_offline(dandi, sessions, monkeypatch):
    assert allen.status() == "needs download"
    rec = allen.load_allen_neuropixels(reliability_threshold=None, probe_invalid_times="ignore", progress=False)
    assert rec.responses.shape == (118, 50, 5)
    np.testing.assert_array_equal(rec.images, sessions["templates"])
    assert rec.meta["sessions"][0]["sha256"] == hashlib.sha256(sessions["path1"].read_bytes()).hexdigest()
    assert (dandi["cache"] / "allen_neuropixels" / dandi["path"]).is_file()
    assert allen.status() == "cached"
    # offline now: everything comes from the cache, the NWB file re-verified against the cached sha256
    monkeypatch.setattr(allen, "DANDI_API", "http://127.0.0.1:9")
    monkeypatch.setattr(allen, "TEMPLATE_URL", "http://127.0.0.1:9/{index}.tiff")
    again = allen.load_allen_neuropixels(reliability_threshold=None, probe_invalid_times="ignore", progress=False)
    np.testing.assert_array_equal(again.responses, rec.responses)


def test_download_hash_mismatch_leaves_nothing(dandi):
    meta_file = dandi["served"] / "assets" / dandi["asset_id"] / "index.html"
    meta = json.loads(meta_file.read_text())
    meta["digest"]["dandi:sha2-256"] = "0" * 64
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(CorruptDataFile, match="hash"):
        allen.load_allen_neuropixels(progress=False)
    assert not (dandi["cache"] / "allen_neuropixels" / dandi["path"]).exists()


def test_stale_session_table_is_an_error(dandi, monkeypatch):
    monkeypatch.setattr(allen, "SESSIONS", {715093703: allen.DandiSession(715093703, "sub-1/other.nwb",
                                                                           dandi["asset_id"], 0.0)})
    with pytest.raises(ValueError, match="stale"):
        allen.load_allen_neuropixels(progress=False)


def test_unreachable_source_names_url_and_fix(dandi, monkeypatch):
    monkeypatch.setattr(allen, "DANDI_API", "http://127.0.0.1:9")
    with pytest.raises(MissingDataFile, match=r"127\.0\.0\.1:9/assets/") as info:
        allen.load_allen_neuropixels(progress=False)
    assert "VNA_DATA_DIR" in str(info.value)


def test_cached_file_used_unverified_when_metadata_unreachable(dandi, sessions, monkeypatch):
    target = dandi["cache"] / "allen_neuropixels" / dandi["path"]
    target.parent.mkdir(parents=True)
    target.write_bytes(sessions["path1"].read_bytes())
    monkeypatch.setattr(allen, "DANDI_API", "http://127.0.0.1:9")
    with pytest.warns(UserWarning, match="WITHOUT"):
        rec = allen.load_allen_neuropixels(reliability_threshold=None, probe_invalid_times="ignore", progress=False)
    assert rec.n_neurons == 5


def _serve_search(served: Path, results: list[dict]) -> None:
    """DANDI's paginated asset search answer (the static test server ignores the ?glob= query)."""
    folder = served / "dandisets" / "000021" / "versions" / "draft" / "assets"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text(json.dumps({"count": len(results), "next": None, "previous": None,
                                                   "results": results}))


def test_missing_table_sessions_are_looked_up_on_dandi(dandi, sessions, tmp_path):
    sid = 797828357
    asset_id, path = str(uuid.UUID(int=2)), f"sub-776061000/sub-776061000_ses-{sid}.nwb"
    url = allen.session_search_url(sid)
    assert url.endswith("/dandisets/000021/versions/draft/assets/?glob=sub-%2A%2Fsub-%2A_ses-797828357.nwb")
    _serve_search(dandi["served"], [
        {"asset_id": str(uuid.UUID(int=3)), "path": f"sub-776061000/sub-776061000_ses-{sid}_probe-1_ecephys.nwb"},
        {"asset_id": asset_id, "path": path, "size": 2_370_000_000},
    ])
    meta_dir = dandi["served"] / "assets" / asset_id
    (meta_dir / "download").mkdir(parents=True)
    (meta_dir / "index.html").write_text(json.dumps({"path": path, "digest": {
        "dandi:sha2-256": hashlib.sha256(sessions["path2"].read_bytes()).hexdigest()}}))
    (meta_dir / "download" / "index.html").write_bytes(sessions["path2"].read_bytes())
    rec = allen.load_allen_neuropixels([sid], images=sessions["root"] / "templates.npy",
                                       reliability_threshold=None, progress=False)
    assert rec.meta["sessions"][0]["path"] == path and rec.meta["sessions"][0]["dandi_asset_id"] == asset_id
    assert rec.n_neurons == 1 and (dandi["cache"] / "allen_neuropixels" / path).is_file()
    assert (dandi["cache"] / "allen_neuropixels" / "dandi_assets" / f"session-{sid}.json").is_file()


def test_session_lookup_without_a_match_is_an_error(dandi, sessions):
    _serve_search(dandi["served"], [{"asset_id": str(uuid.UUID(int=3)), "path": "sub-1/sub-1_ses-1.nwb"}])
    with pytest.raises(ValueError, match="found 0 session file"):
        allen.load_allen_neuropixels([798911424], images=sessions["root"] / "templates.npy", progress=False)
    assert not (dandi["cache"] / "allen_neuropixels" / "dandi_assets" / "session-798911424.json").exists()


def test_session_spec_errors(sessions, tmp_path, monkeypatch):
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    templates = sessions["root"] / "templates.npy"
    with pytest.raises(ValueError, match="not in vna's DANDI:000021 table"):
        allen.load_allen_neuropixels([123], images=templates, progress=False)
    with pytest.raises(ValueError, match="not a known session"):
        allen.load_allen_neuropixels(["no-such-thing"], images=templates, progress=False)


def test_registry_lists_allen_and_default_table():
    from vna.data import DATASETS

    assert DATASETS["allen-neuropixels"].loader == "vna.data.paper.allen_neuropixels:load_allen_neuropixels"
    assert set(allen.DEFAULT_SESSIONS) <= set(allen.SESSIONS)
    # "all" = the 32 Brain Observatory 1.1 sessions: 30 table rows + the two looked up on DANDI
    assert len(allen.SESSIONS) == 30 and len(set(allen.ALL_SESSIONS)) == 32
    assert set(allen.LOOKUP_SESSIONS) == {797828357, 798911424} and not set(allen.LOOKUP_SESSIONS) & set(allen.SESSIONS)
    assert len({s.asset_id for s in allen.SESSIONS.values()}) == 30
    for s in allen.SESSIONS.values():
        assert s.path == f"{s.path.split('/')[0]}/{s.path.split('/')[0]}_ses-{s.session_id}.nwb"
        uuid.UUID(s.asset_id)

def test_status_follows_the_cache(tmp_path, monkeypatch):
    """"needs download" in an empty data folder, "cached" once the default sessions and templates are there."""
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert allen.status() == "needs download"
    files = [allen.SESSIONS[s].path for s in allen.DEFAULT_SESSIONS]
    files += [allen.TEMPLATE_RELPATH.format(index=i) for i in range(allen.N_SCENES)]
    for rel in files[:-1]:
        (tmp_path / allen.FOLDER / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / allen.FOLDER / rel).write_bytes(b"x")
    assert allen.status() == "needs download"  # one template still missing
    (tmp_path / allen.FOLDER / files[-1]).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / allen.FOLDER / files[-1]).write_bytes(b"x")
    assert allen.status() == "cached"
