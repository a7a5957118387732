"""The three real datasets, loaded from the offline copy in ``$VNA_DATA_DIR`` (issue "Data", datasets 2-4).

Expected values are computed here straight from the upstream files (shared/data/README.md), independently
of the loaders.
"""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

import vna.data as data
from vna.data import real


@pytest.fixture(scope="module")
def cowley(shared_data):
    return data.load("cowley2023-v4", progress=False)


def test_cowley_shapes_values_and_nan_trials(cowley, shared_data):
    assert cowley.images.shape == (640, 112, 112) and cowley.images.dtype == np.uint8
    assert cowley.responses.shape == (640, 10, 50)
    raw = np.load(shared_data / "cowley2023_v4/responses_raw/responses_210325.npy")
    assert np.array_equal(cowley.responses, raw.transpose(1, 2, 0), equal_nan=True)
    assert np.nanmean(cowley.responses) == pytest.approx(2.3716570247933886, rel=1e-12)  # mean spike count
    counts = cowley.trial_counts
    assert counts.min() == 6 and counts.max() == 10
    assert dict(zip(*np.unique(counts, return_counts=True))) == {6: 36, 7: 261, 8: 294, 9: 45, 10: 4}
    # NaN-padded slots stay NaN (every neuron), never zeros; recorded slots are finite counts
    assert np.isnan(cowley.responses).sum() == (10 - counts).sum() * 50 == 78000
    slot = np.arange(10)[None] < counts[:, None]
    assert np.isnan(cowley.responses[~slot]).all() and np.isfinite(cowley.responses[slot]).all()
    avg = np.load(shared_data / "cowley2023_v4/responses_repeat_averaged/responses_210325.npy")
    assert np.allclose(cowley.mean_responses(), avg.T)


def test_cowley_images_and_metadata(cowley, shared_data):
    with zipfile.ZipFile(shared_data / "cowley2023_v4/images/images_210325.zip") as z:
        for i in (0, 123, 639):
            jpg = np.asarray(Image.open(io.BytesIO(z.read(f"image{i + 1:04d}.jpg"))).convert("RGB"))
            assert np.array_equal(cowley.images[i], jpg[..., 0]) and np.array_equal(jpg[..., 0], jpg[..., 2])
    assert cowley.image_ids[0] == "image0001" and cowley.image_ids[-1] == "image0640"
    assert cowley.neurons["area"].eq("V4").all() and len(cowley.neurons) == 50
    m = cowley.meta
    assert m["simulated"] is False and m["license"] == "GPL-3.0" and real.COWLEY_COMMIT in m["source"]
    assert "Cowley" in m["citation"] and "spike count" in m["units"]


def test_cowley_to_paired_drops_nan_slots(cowley):
    train, test = data.to_paired(cowley, split="images", seed=0)
    assert train.n_responses + test.n_responses == cowley.trial_counts.sum() == 4840
    assert test.n_images == 96 and train.images.shape[1:] == (1, 64, 64)
    assert not set(train.meta["image_ids"]) & set(test.meta["image_ids"])


def test_allen_frames_recovered_from_the_split_files(shared_data):
    rec = data.load("allen-2p-ns118", progress=False)
    assert rec.images.shape == (118, 31, 31) and rec.images.dtype == np.uint8
    assert rec.responses.shape == (118, 1, 212) and np.isfinite(rec.responses).all()
    folder = shared_data / "allen_bo2p_ns118"
    scenes = np.load(folder / "all_input_scenes_118_961.npy")
    split = rec.meta["upstream_split"]
    assert sorted(split["test"]) == [6, 16, 18, 23, 25, 28, 42, 46, 58, 81, 82, 87, 92, 93, 98, 102, 113, 117]
    assert sorted(split["train"] + split["test"]) == list(range(118))
    for part in ("train", "test"):
        inputs = np.load(folder / f"Allen_{part}_input.npy")
        outputs = np.load(folder / f"Allen_{part}_output.npy")
        frames = np.array(split[part])
        assert np.array_equal(scenes[frames], inputs)
        assert np.array_equal(rec.responses[frames, 0], outputs)
    assert np.array_equal(rec.images.reshape(118, -1), scenes)  # row-major 31x31, upright (checked by eye)
    assert list(rec.image_ids) == list(range(118))
    assert rec.neurons["area"].eq("VISp").all() and "de Vries" in rec.meta["citation"]


def test_allen_trial_means_support_images_split_only(shared_data):
    rec = data.load("allen-2p-ns118", progress=False)
    train, test = data.to_paired(rec, split="images", responses="mean")
    assert train.n_responses == 100 and test.n_responses == 18
    with pytest.raises(ValueError, match="trial means"):
        data.to_paired(rec, split="trials")


@pytest.mark.parametrize("region, n_trials, n_neurons", [(1, 10, 103), (2, 8, 55)])
def test_antolik_regions(shared_data, region, n_trials, n_neurons):
    rec = data.load("antolik2016-v1", region=region, progress=False)
    assert rec.responses.shape == (50, n_trials, n_neurons) and not np.isnan(rec.responses).any()
    raw = np.load(shared_data / f"antolik2016_v1/region{region}/raw_validation_set.npy")
    assert np.array_equal(rec.responses[7, :, 3], raw[:, 7, 3])
    inputs = np.load(shared_data / f"antolik2016_v1/region{region}/validation_inputs.npy")
    assert rec.images.shape == (50, 31, 31) and rec.images.dtype == np.uint8
    assert rec.images.max() == 255 and np.allclose(rec.images.reshape(50, -1), inputs * 1e6, atol=1e-6)
    assert rec.meta["region"] == region and rec.neurons["area"].eq("V1").all()
    train, test = data.to_paired(rec, split="trials", seed=0)
    assert train.n_images == test.n_images == 50
    assert torch.equal(train.images, test.images)
    assert test.n_responses == 50 * max(1, int(np.floor(0.15 * n_trials + 0.5)))


def test_antolik_region_option_is_checked(shared_data):
    with pytest.raises(ValueError, match="region must be 1 or 2; got 3"):
        data.load("antolik2016-v1", region=3)


def test_available_lists_cached_datasets(shared_data):
    table = data.available().set_index("name")
    for name in ("cowley2023-v4", "allen-2p-ns118", "antolik2016-v1"):
        assert table.loc[name, "status"] == "present, not verified"  # hashes: `vna datasets --verify` (issue 21)
        assert table.loc[name, "citation"]
    assert real.status_antolik2016_v1(region=2) == "cached"
