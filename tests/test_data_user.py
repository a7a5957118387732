"""Users' own data: `from_arrays`, `from_folder` (and its writer `to_folder`)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from vna.data import from_arrays, from_folder, to_folder, to_paired
from vna.data.simulated import load_simulated


def _arrays(n_images=12, n_trials=4, n_neurons=5, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n_images, 16, 16), dtype=np.uint8)
    responses = rng.normal(0, 1, (n_images, n_trials, n_neurons))
    responses[0, 3] = np.nan  # image 0 had 3 trials
    return images, responses


def test_from_arrays_builds_a_validated_recording():
    images, responses = _arrays()
    rec = from_arrays(images, responses, neurons=["n1", "n2", "n3", "n4", "n5"], meta={"units": "dF/F"},
                      name="mine")
    assert rec.name == "mine" and rec.meta["units"] == "dF/F" and rec.meta["simulated"] is False
    assert rec.neurons["id"].tolist() == ["n1", "n2", "n3", "n4", "n5"] and rec.trial_counts[0] == 3
    means = from_arrays(images, responses[:, 0])  # [images, neurons]: trial means
    assert means.responses.shape == (12, 1, 5)
    train, test = to_paired(rec, image_size=32)
    assert train.n_responses + test.n_responses == 47


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda i, r: (i[:5], r), "length mismatch"),
        (lambda i, r: (i, r[:, :, :, None]), "n_images, n_trials, n_neurons"),
        (lambda i, r: (i[:, :, :, None], r), r"\[n_images, H, W\]"),
        (lambda i, r: (i, np.where(np.arange(5) == 2, np.nan, r)), "inside recorded trials"),
        (lambda i, r: (i, np.full_like(r, np.nan)), "no trial at all"),
    ],
)
def test_from_arrays_errors(change, match):
    images, responses = _arrays()
    with pytest.raises(ValueError, match=match):
        from_arrays(*change(images, responses))


def test_folder_round_trip_with_npy_images(tmp_path):
    rec = load_simulated(n_images=20, n_trials=5, n_neurons=7, min_trials=3, seed=4)
    folder = to_folder(rec, tmp_path / "sim")
    assert {p.name for p in folder.iterdir()} == {"images.npy", "responses.npy", "neurons.csv", "image_ids.csv",
                                                   "meta.json"}
    back = from_folder(folder)
    assert np.array_equal(back.images, rec.images) and back.images.dtype == rec.images.dtype
    assert np.array_equal(back.responses, rec.responses, equal_nan=True)
    assert back.neurons["id"].tolist() == rec.neurons["id"].tolist()
    assert np.allclose(back.neurons["orientation_deg"], rec.neurons["orientation_deg"])
    assert list(back.image_ids) == list(rec.image_ids)
    assert back.name == "simulated" and back.meta["simulated"] is True  # JSON-able meta survives
    assert "true_rates" not in back.meta  # arrays do not go into meta.json


def test_from_folder_with_an_image_folder(tmp_path):
    images, responses = _arrays(n_images=6)
    folder = tmp_path / "pngs"
    (folder / "images").mkdir(parents=True)
    names = [f"stim_{k:02d}" for k in range(6)]
    for name, img in zip(names, images):
        Image.fromarray(img).save(folder / "images" / f"{name}.png")
    np.save(folder / "responses.npy", responses)
    pd.DataFrame({"id": list("abcde"), "area": "V1", "depth": [1, 2, 3, 4, 5]}).to_csv(folder / "neurons.csv",
                                                                                   index=False)
    (folder / "meta.json").write_text(json.dumps({"units": "spikes", "citation": "me"}))
    rec = from_folder(folder)
    assert np.array_equal(rec.images, images)  # PNG is lossless
    assert list(rec.image_ids) == names and rec.name == "pngs"
    assert np.array_equal(rec.responses, responses, equal_nan=True)
    assert rec.neurons["area"].eq("V1").all() and rec.meta["units"] == "spikes"
    # colour files give [n, H, W, 3]
    Image.fromarray(np.stack([images[0]] * 3, -1)).save(folder / "images" / "stim_00.png")
    rgb = from_folder(folder)
    assert rgb.images.shape == (6, 16, 16, 3)


def test_from_folder_errors(tmp_path):
    images, responses = _arrays(n_images=4)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        from_folder(tmp_path / "nope")
    root = tmp_path / "d"
    root.mkdir()
    with pytest.raises(FileNotFoundError, match="neither images/ nor images.npy"):
        from_folder(root)
    np.save(root / "images.npy", images)
    with pytest.raises(FileNotFoundError, match="no responses.npy"):
        from_folder(root)
    np.save(root / "responses.npy", responses[:3])
    with pytest.raises(ValueError, match="3 rows but .* 4 images"):
        from_folder(root)
    np.save(root / "responses.npy", responses)
    pd.DataFrame({"id": list("abcde")}).to_csv(root / "neurons.csv", index=False)
    with pytest.raises(ValueError, match=r"neurons.csv lacks column\(s\) \['area'\]"):
        from_folder(root)
    (root / "neurons.csv").unlink()
    (root / "images").mkdir()
    with pytest.raises(ValueError, match="both images/ and images.npy"):
        from_folder(root)
    (root / "images.npy").unlink()
    Image.fromarray(images[0]).save(root / "images" / "a.png")
    Image.fromarray(np.zeros((8, 9), np.uint8)).save(root / "images" / "b.png")
    with pytest.raises(ValueError, match="b.png is 9x8 but a.png is 16x16"):
        from_folder(root)
    (root / "images" / "b.png").unlink()
    np.save(root / "responses.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):  # pickled objects are never loaded
        from_folder(root)
