"""Majaj-Hong 2015 loader on a BrainIO-format assembly, stimulus csv and zip written here.

The assembly is built as BrainIO builds one (MultiIndex dims presentation/neuroid/time_bin, reset to plain
coordinates by ``write_netcdf`` before ``to_netcdf``), served from 127.0.0.1 like Brain-Score's storage.
"""
from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vna.data.cache import CorruptDataFile, MissingDataFile
from vna.data.paper import majajhong2015 as mh

IDS = [f"{i:040x}" for i in range(1, 7)]  # BrainIO image ids are sha1-like strings
REPS = [3, 2, 3, 1, 3, 2]                 # uneven repetitions, as in the real assembly
VARIATION = [0, 0, 3, 3, 6, 6]
REGIONS = ["V4", "IT", "IT", "V4", "IT"]


def _value(image: int, rep: int, neuroid: int) -> float:
    return 100 * image + 10 * rep + neuroid


def _write_fixture(folder: Path, *, id_name: str = "image_id") -> dict:
    rng = np.random.default_rng(0)
    rows = [(i, r) for i, n in enumerate(REPS) for r in range(n)]
    rows = [rows[j] for j in rng.permutation(len(rows))]  # presentations in shuffled order
    data = np.array([[_value(i, r, n) for n in range(len(REGIONS))] for i, r in rows], dtype=np.float32)[:, :, None]
    da = xr.DataArray(
        data, dims=("presentation", "neuroid", "time_bin"), name="dicarlo.MajajHong2015.public",
        coords={
            id_name: ("presentation", [IDS[i] for i, _ in rows]),
            "repetition": ("presentation", [r for _, r in rows]),
            "variation": ("presentation", [VARIATION[i] for i, _ in rows]),
            "object_name": ("presentation", [f"obj{i}" for i, _ in rows]),
            "category_name": ("presentation", ["Faces"] * len(rows)),
            "neuroid_id": ("neuroid", [f"Chabo_L_M_{n}" for n in range(len(REGIONS))]),
            "region": ("neuroid", REGIONS),
            "animal": ("neuroid", ["Chabo"] * len(REGIONS)),
            "arr": ("neuroid", ["M"] * len(REGIONS)),
            "time_bin_start": ("time_bin", [70]),
            "time_bin_end": ("time_bin", [170]),
        })
    da = da.set_index(presentation=[id_name, "repetition", "variation", "object_name", "category_name"],
                      neuroid=["neuroid_id", "region", "animal", "arr"], time_bin=["time_bin_start", "time_bin_end"])
    da.reset_index(list(da.indexes)).to_netcdf(folder / mh.FILES["assembly"][0], engine="h5netcdf")

    images = {}
    from PIL import Image

    with zipfile.ZipFile(folder / mh.FILES["zip"][0], "w") as zf:
        for i, sid in enumerate(IDS):
            im = (np.arange(16 * 16).reshape(16, 16) + 7 * i).astype(np.uint8)
            images[sid] = im
            b = io.BytesIO()
            Image.fromarray(im).save(b, format="PNG")
            zf.writestr(f"{sid}.png", b.getvalue())
    pd.DataFrame({"image_id": IDS, "object_name": [f"obj{i}" for i in range(6)], "variation": VARIATION,
                  "image_file_name": [f"img{i}.png" for i in range(6)], "filename": [f"{s}.png" for s in IDS]}
                 ).iloc[::-1].to_csv(folder / mh.FILES["csv"][0], index=False)  # csv order differs
    return images


def _sha1(path: Path) -> str:
    return "sha1:" + hashlib.sha1(path.read_bytes()).hexdigest()


@pytest.fixture
def brainscore(tmp_path, monkeypatch, http_server):
    served = tmp_path / "brainio-brainscore"
    served.mkdir()
    images = _write_fixture(served)
    base = http_server(served)
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(mh, "BASE_URL", base)
    monkeypatch.setattr(mh, "MIRROR_URLS", {})
    monkeypatch.setattr(mh, "FILES", {k: (n, _sha1(served / n)) for k, (n, _) in mh.FILES.items()})
    return dict(served=served, cache=tmp_path / "cache", images=images)


def test_download_and_load_both_areas(brainscore):
    assert mh.status() == "needs download"
    rec = mh.load_majajhong2015(progress=False)
    assert mh.status() == "cached"
    csv_order = IDS[::-1]
    assert list(rec.image_ids) == csv_order
    assert rec.responses.shape == (6, 3, 5)
    for row, sid in enumerate(csv_order):
        i = IDS.index(sid)
        for r in range(3):
            expected = [_value(i, r, n) for n in range(5)] if r < REPS[i] else [np.nan] * 5
            np.testing.assert_array_equal(rec.responses[row, r], expected)
        np.testing.assert_array_equal(rec.images[row], brainscore["images"][sid])
    assert list(rec.neurons["area"]) == REGIONS
    assert list(rec.neurons["id"]) == [f"Chabo_L_M_{n}" for n in range(5)]
    assert rec.neurons["animal"].eq("Chabo").all()
    assert "(70, 170)" in rec.meta["units"] and "Majaj" in rec.meta["citation"]
    np.testing.assert_array_equal(rec.trial_counts, [REPS[IDS.index(s)] for s in csv_order])


def test_area_and_variation_selection(brainscore):
    it = mh.load_majajhong2015("IT", progress=False)
    assert list(it.neurons["id"]) == ["Chabo_L_M_1", "Chabo_L_M_2", "Chabo_L_M_4"]
    v4 = mh.load_majajhong2015("v4", variations=[3, 6], progress=False)
    assert list(v4.neurons["area"]) == ["V4", "V4"]
    assert sorted(v4.image_ids) == sorted(IDS[2:])
    with pytest.raises(ValueError, match="area must be"):
        mh.load_majajhong2015("V1", progress=False)
    with pytest.raises(ValueError, match="variation"):
        mh.load_majajhong2015(variations=[9], progress=False)


def test_stimulus_id_coordinate_is_accepted(tmp_path):
    _write_fixture(tmp_path, id_name="stimulus_id")
    da = mh.read_assembly(tmp_path / mh.FILES["assembly"][0])
    responses, ids, _ = mh.assembly_trials(da, "both")
    assert set(ids) == set(IDS) and responses.shape == (6, 3, 5)


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
    base = mh.BASE_URL
    monkeypatch.setattr(mh, "MIRROR_URLS", {"assembly": f"{base}/mirror/{name}"})
    assert mh.load_majajhong2015(progress=False).n_neurons == 5


def test_stimulus_csv_must_cover_assembly(brainscore):
    path = brainscore["served"] / mh.FILES["csv"][0]
    table = pd.read_csv(path).iloc[1:]
    table.to_csv(path, index=False)
    with pytest.raises(ValueError, match="not in the stimulus csv"):
        mh.read_stimuli(path, brainscore["served"] / mh.FILES["zip"][0], IDS)
