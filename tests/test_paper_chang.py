"""Chang, Egger, Vetter & Tsao 2021 face loader on folders in the documented layout, and the registry rows.

Huang et al.'s own release layout: ``AM.npy`` + ``noise_ceiling.npy`` (``Grasshlw/SNN-Neural-Similarity``
``neural_similarity/neural_data/macaque_face/``) and the stimulus tensor ``stimulus_macaque_face_224.pt``
(``Grasshlw/SNN-Neural-Similarity-Static`` ``similarity/similarity.py``) -- issue 14, point 6.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from paper_fixtures import imagenet_tensor
from vna.data.paper import chang2021
from vna.data.paper._common import to_grey


class NotATensor:  # a pickled object of this class must not be loaded from a .pt file
    def __init__(self):
        self.payload = [1, 2, 3]


def _images_folder(folder, n):
    (folder / "images").mkdir(parents=True)
    ims = []
    for i in range(n):  # img1 .. img12: natural order, not string order
        im = np.full((6, 5), 10 * i, dtype=np.uint8)
        Image.fromarray(im).save(folder / "images" / f"img{i + 1}.png")
        ims.append(im)
    return np.stack(ims)


def test_folder_with_trials_and_neurons_csv(tmp_path):
    images = _images_folder(tmp_path, 12)
    rng = np.random.default_rng(0)
    responses = rng.normal(size=(12, 4, 5))
    responses[3, 3] = np.nan  # a missing trial
    np.save(tmp_path / "responses.npy", responses)
    nc = [0.05, 0.1, 0.5, np.nan, 0.09]
    pd.DataFrame({"id": list("abcde"), "noise_ceiling": nc}).to_csv(tmp_path / "neurons.csv", index=False)
    rec = chang2021.load_chang2021_face(tmp_path)
    assert list(rec.neurons["id"]) == ["b", "c"]  # >= 0.1 kept, NaN dropped
    assert rec.neurons["area"].eq("AM").all()
    np.testing.assert_array_equal(rec.responses, responses[:, :, [1, 2]])
    np.testing.assert_array_equal(rec.images, images)
    assert list(rec.image_ids) == [f"img{i + 1}" for i in range(12)]
    assert rec.meta["preprocessing"]["noise_ceiling_threshold"] == 0.1
    everything = chang2021.load_chang2021_face(tmp_path, noise_ceiling_threshold=None)
    assert everything.n_neurons == 5


def test_huang_layout_trial_means(tmp_path, monkeypatch):
    images = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
    np.save(tmp_path / "images.npy", images)
    means = np.arange(3 * 4, dtype=float).reshape(3, 4)
    np.save(tmp_path / "AM.npy", means)
    np.save(tmp_path / "noise_ceiling.npy", np.array([0.2, 0.0, 0.3, 0.1]))
    monkeypatch.setenv(chang2021.ENV_VAR, str(tmp_path))
    assert chang2021.status() == "cached"
    from vna.data import load

    rec = load("chang2021-face", noise_ceiling_threshold=0.15)  # through the registry
    assert rec.responses.shape == (3, 1, 2)
    assert list(rec.neurons["noise_ceiling"]) == [0.2, 0.3]
    np.testing.assert_array_equal(rec.responses[:, 0], means[:, [0, 2]])


def test_incomplete_folder_lists_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(chang2021.ENV_VAR, raising=False)
    assert chang2021.status() == "needs files from the authors"
    with pytest.raises(FileNotFoundError, match="available on request"):
        chang2021.load_chang2021_face()
    np.save(tmp_path / "images.npy", np.zeros((2, 3, 3), np.uint8))
    with pytest.raises(FileNotFoundError) as info:
        chang2021.load_chang2021_face(tmp_path)
    message = str(info.value)
    assert "missing responses" in message and "missing noise ceiling" in message and "missing images" not in message
    np.save(tmp_path / "responses.npy", np.zeros((3, 2)))
    np.save(tmp_path / "noise_ceiling.npy", np.ones(2))
    with pytest.raises(ValueError, match="3 images but"):
        chang2021.load_chang2021_face(tmp_path)
    np.save(tmp_path / "responses.npy", np.zeros((2, 2)))
    with pytest.raises(ValueError, match="no neuron has noise ceiling >= 2"):
        chang2021.load_chang2021_face(tmp_path, noise_ceiling_threshold=2)


def test_available_lists_the_three_paper_datasets(tmp_path, monkeypatch):
    from vna.data import available

    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(chang2021.ENV_VAR, raising=False)
    table = available().set_index("name")
    assert table.loc["allen-neuropixels", "status"] == "needs download"
    assert table.loc["majajhong2015", "status"] == "needs download"
    assert table.loc["chang2021-face", "status"] == "needs files from the authors"
    assert (table.loc[["allen-neuropixels", "majajhong2015", "chang2021-face"], "kind"] == "paper").all()


def _rgb_faces(n=4, h=6, w=5):
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


def test_huang_release_with_pt_stimulus_tensor(tmp_path):
    rgb = _rgb_faces()
    torch.save(imagenet_tensor(rgb), tmp_path / "stimulus_macaque_face_224.pt")
    means = np.arange(4 * 3, dtype=float).reshape(4, 3)
    np.save(tmp_path / "AM.npy", means)
    np.save(tmp_path / "noise_ceiling.npy", np.array([0.3, 0.05, 0.1]))
    assert chang2021.find_files(tmp_path)["images"].name == "stimulus_macaque_face_224.pt"
    rec = chang2021.load_chang2021_face(tmp_path)
    expected = np.stack([to_grey(im) for im in rgb.astype(np.float64) / 255.0])
    assert rec.images.shape == (4, 6, 5)
    np.testing.assert_allclose(rec.images, expected, atol=1e-6)  # ImageNet normalisation undone ("auto")
    np.testing.assert_array_equal(rec.responses[:, 0], means[:, [0, 2]])
    assert list(rec.image_ids) == [0, 1, 2, 3]
    assert "ImageNet mean/std undone" in rec.meta["preprocessing"]["images"]
    raw = chang2021.load_chang2021_face(tmp_path, tensor_normalization=None)
    assert raw.images.min() < 0 and "values as stored" in raw.meta["preprocessing"]["images"]


def test_pt_tensor_in_zero_one_is_kept_and_images_npy_wins(tmp_path):
    rgb = _rgb_faces(n=3)
    plain = torch.from_numpy(np.moveaxis(rgb, -1, 1).astype(np.float32) / 255.0)
    torch.save(plain, tmp_path / "macaque_face_224.pt")  # the earlier repository's name
    np.save(tmp_path / "AM.npy", np.ones((3, 2)))
    rec = chang2021.load_chang2021_face(tmp_path, noise_ceiling_threshold=None)
    np.testing.assert_allclose(rec.images, np.stack([to_grey(im) for im in rgb / 255.0]), atol=1e-6)
    np.save(tmp_path / "images.npy", np.zeros((3, 2, 2), np.uint8))
    assert chang2021.find_files(tmp_path)["images"].name == "images.npy"


def test_pt_file_must_be_one_plain_tensor(tmp_path):
    path = tmp_path / "stimulus_macaque_face_224.pt"
    torch.save(NotATensor(), path)
    with pytest.raises(ValueError, match=r"not readable with torch.load\(weights_only=True\)"):
        chang2021.read_stimulus_tensor(path)
    torch.save({"images": torch.zeros(2, 3, 4, 4)}, path)
    with pytest.raises(ValueError, match="must hold one image tensor"):
        chang2021.read_stimulus_tensor(path)
    torch.save(torch.zeros(2, 4, 4, 3), path)  # channels last: not what the models were fed
    with pytest.raises(ValueError, match=r"got \(2, 4, 4, 3\)"):
        chang2021.read_stimulus_tensor(path)
    with pytest.raises(ValueError, match="tensor_normalization"):
        chang2021.read_stimulus_tensor(path, "zscore")
