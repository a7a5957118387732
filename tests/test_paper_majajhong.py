"""Majaj-Hong 2015 loader on a BrainIO-shaped assembly, stimulus csv and zip (``paper_fixtures``), served from
127.0.0.1 like Brain-Score's storage.

The raw assembly carries no stimulus metadata: ``variation`` etc. exist only in the csv and must be merged in
by image id, as BrainIO does on loading (issue 14, point 1). Values are signed and normalised (point 2).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from paper_fixtures import (HVM_CATEGORIES, HVM_REGIONS, HVM_REPS, HVM_VARIATION, hvm_ids, hvm_value,
                            write_brainio_hvm)
from vna.data.cache import CorruptDataFile, MissingDataFile
from vna.data.paper import majajhong2015 as mh

IDS = hvm_ids()


def _sha1(path: Path) -> str:
    return "sha1:" + hashlib.sha1(path.read_bytes()).hexdigest()


@pytest.fixture
def brainscore(tmp_path, monkeypatch, http_server):
    served = tmp_path / "brainio-brainscore"
    served.mkdir()
    written = write_brainio_hvm(served)
    base = http_server(served)
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(mh, "BASE_URL", base)
    monkeypatch.setattr(mh, "MIRROR_URLS", {})
    monkeypatch.setattr(mh, "FILES", {k: (n, _sha1(served / n)) for k, (n, _) in mh.FILES.items()})
    return dict(served=served, cache=tmp_path / "cache", **written)


def _expected(sid: str, n_slots: int, sites) -> np.ndarray:
    i = IDS.index(sid)
    out = np.full((n_slots, len(sites)), np.nan)
    for r in range(HVM_REPS[i]):
        out[r] = [np.float32(hvm_value(i, r, n)) for n in sites]
    return out


def test_fixture_is_shaped_like_the_raw_brainio_file(brainscore):
    with xr.open_dataset(brainscore["served"] / mh.FILES["assembly"][0]) as ds:
        assert list(ds.data_vars) == ["dicarlo.MajajHong2015.public"]
        da = ds["dicarlo.MajajHong2015.public"]
        assert da.dims == ("neuroid", "presentation", "time_bin")
        presentation = {c for c in da.coords if da[c].dims == ("presentation",)}
        assert presentation == {"image_id", "repetition", "stimulus"}  # no stimulus metadata
        assert float(da.min()) < 0  # signed, normalised values
    table = pd.read_csv(brainscore["served"] / mh.FILES["csv"][0])
    assert {"image_id", "variation", "object_name", "category_name", "filename"} <= set(table.columns)
    assert sorted(set(table["variation"])) == [0, 3]


def test_download_and_load_both_areas(brainscore):
    assert mh.status() == "needs download"
    rec = mh.load_majajhong2015(progress=False)
    assert mh.status() == "cached"
    order = brainscore["csv_order"]
    assert list(rec.image_ids) == order
    assert rec.responses.shape == (7, 3, 5)
    for row, sid in enumerate(order):
        np.testing.assert_allclose(rec.responses[row], _expected(sid, 3, range(5)), rtol=1e-6)
        np.testing.assert_array_equal(rec.images[row], brainscore["images"][sid])
    assert list(rec.neurons["area"]) == HVM_REGIONS
    assert list(rec.neurons["id"]) == [f"Chabo_L_M_{n}_9" for n in range(5)]
    assert rec.neurons["animal"].eq("Chabo").all() and rec.neurons["hemisphere"].eq("L").all()
    np.testing.assert_array_equal(rec.trial_counts, [HVM_REPS[IDS.index(s)] for s in order])
    # per-image metadata merged from the csv, in image order
    assert rec.meta["image_meta"]["variation"] == [HVM_VARIATION[IDS.index(s)] for s in order]
    assert rec.meta["image_meta"]["category_name"] == [HVM_CATEGORIES[IDS.index(s)] for s in order]
    assert rec.meta["preprocessing"]["variations_in_data"] == [0, 3]


def test_values_are_described_as_normalised_not_rates(brainscore):
    rec = mh.load_majajhong2015(progress=False)
    assert np.nanmin(rec.responses) < 0  # signed values kept as stored: not counts
    units = rec.meta["units"]
    assert "normalised" in units and "not spike counts or rates" in units and "(70, 170)" in units
    assert "firing rate" not in units.replace("not spike counts or rates", "")


def test_variation_zero_only_in_the_csv(brainscore):
    """Done-when: area="V4", variations=[0] returns exactly the variation-0 images on the raw layout."""
    rec = mh.load_majajhong2015(area="V4", variations=[0], progress=False)
    v0 = [s for s in brainscore["csv_order"] if HVM_VARIATION[IDS.index(s)] == 0]
    assert list(rec.image_ids) == v0
    v4 = [n for n, r in enumerate(HVM_REGIONS) if r == "V4"]
    assert list(rec.neurons["area"]) == ["V4", "V4"]
    for row, sid in enumerate(v0):
        np.testing.assert_allclose(rec.responses[row], _expected(sid, rec.n_trials, v4), rtol=1e-6)
        np.testing.assert_array_equal(rec.images[row], brainscore["images"][sid])
    assert rec.meta["image_meta"]["variation"] == [0] * len(v0)
    v3 = mh.load_majajhong2015("it", variations=[3], progress=False)
    assert set(v3.image_ids) == {s for s in IDS if HVM_VARIATION[IDS.index(s)] == 3}


def test_unknown_variation_levels_are_rejected_by_name(brainscore):
    with pytest.raises(ValueError, match=r"variation level\(s\) \[6\] not in the data; levels present: \[0, 3\]"):
        mh.load_majajhong2015(variations=[6], progress=False)
    with pytest.raises(ValueError, match=r"\[6\]"):  # one unknown level among known ones is an error too
        mh.load_majajhong2015(variations=[0, 6], progress=False)
    with pytest.raises(ValueError, match="area must be"):
        mh.load_majajhong2015("V1", progress=False)


def test_merge_follows_brainio(tmp_path):
    write_brainio_hvm(tmp_path)
    da = mh.read_assembly(tmp_path / mh.FILES["assembly"][0])
    with pytest.raises(ValueError, match="'variation'"):  # the raw file alone cannot select variations
        mh.assembly_trials(da, variations=[0])
    table = mh.read_stimulus_table(tmp_path / mh.FILES["csv"][0])
    merged = mh.merge_stimulus_meta(da, table)
    ids = [str(v) for v in merged["image_id"].values]
    assert [int(v) for v in merged["variation"].values] == [HVM_VARIATION[IDS.index(i)] for i in ids]
    assert "filename" not in merged.coords
    # a coordinate the assembly already has wins over the csv's (BrainIO: cols_to_use excludes them)
    clash = table.assign(repetition=99)
    np.testing.assert_array_equal(mh.merge_stimulus_meta(da, clash)["repetition"].values, da["repetition"].values)
    with pytest.raises(ValueError, match="missing from the stimulus csv"):
        mh.merge_stimulus_meta(da, table.iloc[1:])


def test_stimulus_id_spelling_is_accepted(tmp_path):
    write_brainio_hvm(tmp_path, id_name="stimulus_id", assembly_name="data")  # newer BrainIO packages
    table = pd.read_csv(tmp_path / mh.FILES["csv"][0]).rename(columns={"image_id": "stimulus_id"})
    table.to_csv(tmp_path / mh.FILES["csv"][0], index=False)
    da = mh.merge_stimulus_meta(mh.read_assembly(tmp_path / mh.FILES["assembly"][0]),
                                mh.read_stimulus_table(tmp_path / mh.FILES["csv"][0]))
    responses, ids, _ = mh.assembly_trials(da, "both", variations=[3])
    assert set(ids) == set(IDS[3:]) and responses.shape == (4, 3, 5)


def test_corrupt_download_and_unreachable_source(brainscore, monkeypatch):
    name, good = mh.FILES["assembly"]
    monkeypatch.setitem(mh.FILES, "assembly", (name, "sha1:" + "0" * 40))
    with pytest.raises(CorruptDataFile, match="hash"):
        mh.load_majajhong2015(progress=False)
    assert not (brainscore["cache"] / "majajhong2015" / name).exists()
    monkeypatch.setitem(mh.FILES, "assembly", (name, good))
    monkeypatch.setattr(mh, "BASE_URL", "http://127.0.0.1:9/brainio-brainscore")
    with pytest.raises(MissingDataFile, match="assy_dicarlo_MajajHong2015_public.nc"):
        mh.load_majajhong2015(progress=False)


def test_mirror_used_when_primary_fails(brainscore, monkeypatch):
    name = mh.FILES["assembly"][0]
    (brainscore["served"] / "mirror").mkdir()
    (brainscore["served"] / "mirror" / name).write_bytes((brainscore["served"] / name).read_bytes())
    (brainscore["served"] / name).unlink()
    monkeypatch.setattr(mh, "MIRROR_URLS", {"assembly": f"{mh.BASE_URL}/mirror/{name}"})
    assert mh.load_majajhong2015(progress=False).n_neurons == 5


def test_stimulus_csv_must_cover_assembly(brainscore):
    path = brainscore["served"] / mh.FILES["csv"][0]
    pd.read_csv(path).iloc[1:].to_csv(path, index=False)
    with pytest.raises(ValueError, match="not in the stimulus csv"):
        mh.read_stimuli(path, brainscore["served"] / mh.FILES["zip"][0], IDS)
    with pytest.raises(ValueError, match="csv needs"):
        pd.DataFrame({"x": [1]}).to_csv(path, index=False)
        mh.read_stimulus_table(path)
