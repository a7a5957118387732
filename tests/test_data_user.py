"""Users' own data: `from_arrays`, `from_folder` (and its writer `to_folder`)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from vna.data import from_arrays, from_folder, to_folder, to_paired
from vna.data.simulated import load_simulated
from vna.data.user import folder_hash


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


# ------------------------------------------------------------------ the traps (issue 13)
def _png_folder(root, stems, images, responses, suffix=".png"):
    (root / "images").mkdir(parents=True)
    for stem, img in zip(stems, images):
        Image.fromarray(img).save(root / "images" / f"{stem}{suffix}")
    np.save(root / "responses.npy", responses)
    return root


def _constant_images(n, size=8):
    """Image k is uniformly k (so its grey value says which image it is)."""
    return np.stack([np.full((size, size), k, dtype=np.uint8) for k in range(n)])


def test_numbered_files_load_in_numeric_order(tmp_path):
    n = 120
    stems = [f"image{k}" for k in range(1, n + 1)]  # image1, image2, ..., image120 (text order: 1, 10, 100, ...)
    responses = np.arange(n, dtype=float)[:, None, None] * np.ones((1, 2, 3))  # row k says "k"
    folder = _png_folder(tmp_path / "num", stems, _constant_images(n), responses)
    rec = from_folder(folder)
    assert list(rec.image_ids) == stems
    assert np.array_equal(rec.images[:, 0, 0], np.arange(n))  # image k is paired with response row k
    assert np.array_equal(rec.responses[:, 0, 0], np.arange(n))


def test_natural_order_mixes_text_and_numbers_and_ignores_case():
    from vna.data.user import natural_key

    names = ["b2", "a10", "A2", "a1b3", "a1b20", "10", "9"]
    assert sorted(names, key=natural_key) == ["9", "10", "a1b3", "a1b20", "A2", "a10", "b2"]


def test_ambiguous_names_are_refused_and_image_ids_csv_gives_the_order(tmp_path):
    images, responses = _arrays(n_images=3)
    folder = _png_folder(tmp_path / "amb", ["image1", "image01", "image2"], images, responses, suffix=".jpg")
    with pytest.raises(ValueError, match=r"order of image01.jpg and image1.jpg is ambiguous.*image_ids.csv"):
        from_folder(folder)
    # an explicit order: image_ids.csv lists every file stem once, in response order
    pd.DataFrame({"image_id": ["image2", "image01", "image1"]}).to_csv(folder / "image_ids.csv", index=False)
    rec = from_folder(folder)
    assert list(rec.image_ids) == ["image2", "image01", "image1"]
    pd.DataFrame({"image_id": ["image2", "image01"]}).to_csv(folder / "image_ids.csv", index=False)
    with pytest.raises(ValueError, match=r"does not list 1 file\(s\).*image1.jpg"):
        from_folder(folder)
    pd.DataFrame({"image_id": ["image2", "image01", "image3"]}).to_csv(folder / "image_ids.csv", index=False)
    with pytest.raises(ValueError, match="names 1 image.* with no file.*'image3'"):
        from_folder(folder)
    pd.DataFrame({"image_id": ["image2", "image01", "image2"]}).to_csv(folder / "image_ids.csv", index=False)
    with pytest.raises(ValueError, match=r"image_ids.csv: image id 'image2' appears 2 times \(rows 0, 2\)"):
        from_folder(folder)


def test_image_ids_csv_orders_png_files(tmp_path):
    n = 5
    stems = ["e", "d", "c", "b", "a"]  # response order differs from any sorting of the names
    responses = np.arange(n, dtype=float)[:, None, None] * np.ones((1, 2, 2))
    folder = _png_folder(tmp_path / "ids", stems, _constant_images(n), responses)
    pd.DataFrame({"image_id": stems}).to_csv(folder / "image_ids.csv", index=False)
    rec = from_folder(folder)
    assert list(rec.image_ids) == stems and np.array_equal(rec.images[:, 0, 0], np.arange(n))


def test_two_files_for_one_id_are_refused(tmp_path):
    images, responses = _arrays(n_images=3)
    folder = _png_folder(tmp_path / "mixed", ["a", "b", "c"], images, responses)
    Image.fromarray(images[0]).save(folder / "images" / "a.jpg")
    with pytest.raises(ValueError, match=r"a.jpg and .*a.png are two files for one image id 'a'; keep one"):
        from_folder(folder)


def test_duplicate_ids_are_refused_by_name(tmp_path):
    images, responses = _arrays(n_images=4, n_neurons=3)
    with pytest.raises(ValueError, match=r"image_ids: image id 'x' appears 2 times \(rows 1, 3\)"):
        from_arrays(images, responses, image_ids=["w", "x", "y", "x"])
    with pytest.raises(ValueError, match=r"neurons: neuron id 'n1' appears 2 times \(rows 0, 2\)"):
        from_arrays(images, responses, neurons=["n1", "n2", "n1"])
    table = pd.DataFrame({"id": [7, 8, 7], "area": "V4"})  # numeric ids are compared as text
    with pytest.raises(ValueError, match="neuron id '7' appears 2 times"):
        from_arrays(images, responses, neurons=table)
    root = tmp_path / "dup"
    root.mkdir()
    np.save(root / "images.npy", images)
    np.save(root / "responses.npy", responses)
    table.to_csv(root / "neurons.csv", index=False)
    with pytest.raises(ValueError, match=r"neurons.csv: neuron id '7' appears 2 times"):
        from_folder(root)
    pd.DataFrame({"id": ["a", "b"], "area": "V4"}).to_csv(root / "neurons.csv", index=False)
    with pytest.raises(ValueError, match=r"neurons.csv has 2 neurons but responses has 3"):
        from_folder(root)
    (root / "neurons.csv").unlink()
    pd.DataFrame({"image_id": [1, 2, 2, 3]}).to_csv(root / "image_ids.csv", index=False)
    with pytest.raises(ValueError, match=r"image_ids.csv: image id '2' appears 2 times"):
        from_folder(root)
    pd.DataFrame({"image_id": [1, 2, 3]}).to_csv(root / "image_ids.csv", index=False)
    with pytest.raises(ValueError, match=r"image_ids.csv has 3 rows but .*images.npy holds 4 images"):
        from_folder(root)


def test_tiny_range_float_images_are_refused_with_the_fix(tmp_path):
    images, responses = _arrays()
    tiny = images.astype(np.float64) / 255 * 2.55e-4  # Antolik et al.'s units: 0 .. 2.55e-4
    with pytest.raises(ValueError, match=r"images: float images span only 0 \.\. 0.000255 .*blank frames; "
                                         r"pass scale=3921.57 .* or scale='minmax'"):
        from_arrays(tiny, responses)
    rec = from_arrays(tiny, responses, scale=1 / 2.55e-4)
    assert rec.images.dtype == np.float32 and np.allclose(rec.images, images / 255, atol=1e-6)
    assert rec.meta["image_scale"] == pytest.approx(1 / 2.55e-4)
    assert np.allclose(from_arrays(tiny, responses, scale="minmax").images,
                       (images - images.min()) / (images.max() - images.min()), atol=1e-6)
    with pytest.raises(ValueError, match=r"float images must lie in \[0, 1\]; these span -1 \.\. 254"):
        from_arrays(images.astype(np.float32) - 1, responses)
    with pytest.raises(ValueError, match=r"scale=1 maps the images .* outside \[0, 1\]"):
        from_arrays(images.astype(np.float32), responses, scale=1)
    with pytest.raises(ValueError, match="scale must be None, 'minmax' or a positive number"):
        from_arrays(images, responses, scale="auto")
    # through a folder (and so through dataset="folder:PATH", dataset_options={"scale": ...})
    root = tmp_path / "tiny"
    root.mkdir()
    np.save(root / "images.npy", tiny)
    np.save(root / "responses.npy", responses)
    with pytest.raises(ValueError, match=r"tiny/images.npy: float images span only"):
        from_folder(root)
    assert from_folder(root, scale="minmax").images.max() == 1.0
    from vna.data import load

    assert load(f"folder:{root}", scale="minmax").n_images == 12


def test_uint16_images_are_refused_at_the_door_unless_scaled(tmp_path):
    images, responses = _arrays()
    deep = images.astype(np.uint16) * 257  # 16-bit: 0..65535
    with pytest.raises(ValueError, match=r"images are uint16 \(values .*\); say how they map to \[0, 1\]: "
                                         r"scale=1/65535"):
        from_arrays(deep, responses)
    rec = from_arrays(deep, responses, scale=1 / 65535)
    assert rec.images.dtype == np.float32 and np.allclose(rec.images, images / 255, atol=1e-6)
    train, _ = to_paired(rec, image_size=32)  # the scaled images go through preprocessing
    assert 0 <= float(train.images.min()) and float(train.images.max()) <= 1
    with pytest.raises(ValueError, match=r"integer images must lie within 0..255 \(8-bit\); these \(int32\)"):
        from_arrays(deep.astype(np.int32), responses)
    assert from_arrays(images.astype(np.int64), responses).images.dtype == np.uint8  # 8-bit values in int64
    # 16-bit image files: refused without scale, read with it
    folder = tmp_path / "png16"
    (folder / "images").mkdir(parents=True)
    for k, img in enumerate(deep):
        Image.fromarray(img).save(folder / "images" / f"s{k:02d}.png")
    np.save(folder / "responses.npy", responses)
    with pytest.raises(ValueError, match=r"s00.png has 'I;16' pixels \(16/32-bit\); pass scale="):
        from_folder(folder)
    assert np.allclose(from_folder(folder, scale=1 / 65535).images, images / 255, atol=1e-6)


def test_truncated_and_broken_files_name_the_file(tmp_path):
    images, responses = _arrays()
    root = to_folder(from_arrays(images, responses), tmp_path / "t")
    data = (root / "responses.npy").read_bytes()
    (root / "responses.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cannot read .*t/responses.npy: .*(not fully written|is the file complete)"):
        from_folder(root)
    np.save(root / "responses.npy", responses)
    (root / "images.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match=r"cannot read .*t/images.npy"):
        from_folder(root)
    np.save(root / "images.npy", images)
    (root / "neurons.csv").write_bytes(b"\xff\xfe\x00id,area\n")
    with pytest.raises(ValueError, match=r"cannot read .*t/neurons.csv"):
        from_folder(root)
    (root / "neurons.csv").unlink()
    (root / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"t/meta.json is not valid JSON"):
        from_folder(root)
    # a truncated image file
    folder = _png_folder(tmp_path / "png", ["a", "b"], images[:2], responses[:2])
    png = (folder / "images" / "b.png").read_bytes()
    (folder / "images" / "b.png").write_bytes(png[: len(png) // 2])
    with pytest.raises(ValueError, match=r"cannot read image .*images/b.png"):
        from_folder(folder)


def test_to_folder_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(3)
    images = rng.random((9, 10, 12, 3)).astype(np.float32)
    responses = rng.normal(0, 1, (9, 4, 6))
    responses[2, 1:] = np.nan
    neurons = pd.DataFrame({"id": ["007", "a", "b,c", "d", "e", "f"], "area": ["V4"] * 3 + ["IT"] * 3,
                            "depth": rng.random(6), "good": [True, False] * 3})
    for ids in (["s9", "s10", "001", "x y", "z", "q", "r", "t", "u"], np.arange(100, 109)):
        rec = from_arrays(images, responses, neurons, ids, meta={"units": "spikes", "nested": {"a": [1, 2]}},
                          name="mine")
        folder = to_folder(rec, tmp_path / f"rt{type(ids).__name__}")
        back = from_folder(folder)
        assert back.meta.pop("content_hash") == folder_hash(folder)  # the loader adds the content it read
        assert back.images.dtype == rec.images.dtype and np.array_equal(back.images, rec.images)
        assert np.array_equal(back.responses, rec.responses, equal_nan=True)
        pd.testing.assert_frame_equal(back.neurons, rec.neurons)
        assert list(back.image_ids) == list(rec.image_ids)
        assert back.meta == rec.meta and back.name == "mine"


def test_to_folder_refuses_a_non_empty_folder_unless_told_to_replace(tmp_path):
    images, responses = _arrays()
    rec = from_arrays(images, responses)
    target = tmp_path / "out"
    (target / "images").mkdir(parents=True)  # a folder that already holds images/
    with pytest.raises(FileExistsError, match=r"out is not empty; choose a new folder, or pass replace=True"):
        to_folder(rec, target)
    with pytest.raises(FileExistsError, match="is not a recording folder .*not replacing it"):
        to_folder(rec, target, replace=True)
    assert (target / "images").is_dir()  # left as it was
    (target / "images").rmdir()
    to_folder(rec, target)  # an empty folder is fine
    other = from_arrays(images[::-1].copy(), responses)
    to_folder(other, target, replace=True)
    assert np.array_equal(from_folder(target).images, other.images)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left


def test_interrupted_to_folder_leaves_nothing_behind(tmp_path, monkeypatch):
    images, responses = _arrays()
    rec = from_arrays(images, responses)
    target = tmp_path / "out"
    to_folder(rec, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def broken(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. Ctrl-C after images.npy and responses.npy were written

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(KeyboardInterrupt):
        to_folder(from_arrays(images[::-1].copy(), responses), target, replace=True)
    with pytest.raises(KeyboardInterrupt):
        to_folder(rec, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no half-written folder, no temporary one
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before  # the old folder as it was
    monkeypatch.undo()
    assert np.array_equal(from_folder(target).images, images)


def test_to_folder_refuses_what_would_not_load_back(tmp_path):
    images, responses = _arrays(n_images=3)
    from vna.data import Recording

    bad = Recording(images.astype(np.float64) * 1e-6, responses, image_ids=np.array(["a", "b", "a"]))
    with pytest.raises(ValueError, match="to_folder: recording images: float images span only"):
        to_folder(bad, tmp_path / "x")
    bad.images = images
    with pytest.raises(ValueError, match="to_folder: recording image_ids: image id 'a' appears 2 times"):
        to_folder(bad, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_the_export_is_byte_for_byte_stable(tmp_path):
    from vna.data.user import folder_hash

    rec = load_simulated(n_images=10, n_trials=2, n_neurons=4, seed=1)
    a = to_folder(rec, tmp_path / "a")
    b = to_folder(from_folder(a), tmp_path / "b")
    assert folder_hash(a) == folder_hash(b)


def test_folder_hash_covers_the_recordings_own_files_only(tmp_path):
    """A runs folder, notes or anything else kept inside a recording folder never changes its content hash (each
    saved record would otherwise change the key of the next); every file of the layout does."""
    rec = load_simulated(n_images=10, n_trials=2, n_neurons=4, seed=1)
    folder = to_folder(rec, tmp_path / "rec")
    before = folder_hash(folder)
    (folder / "notes.txt").write_text("session 3, good day\n")
    (folder / "runs" / "folder-abc").mkdir(parents=True)
    (folder / "runs" / "folder-abc" / "vna-123.json").write_text("{}")
    (folder / "analysis.ipynb").write_text("{}")
    assert folder_hash(folder) == before
    for name in ("meta.json", "neurons.csv", "image_ids.csv", "responses.npy", "images.npy"):
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data + b" ")
        assert folder_hash(folder) != before, name
        (folder / name).write_bytes(data)
    assert folder_hash(folder) == before


def test_folder_hash_of_an_image_folder_counts_the_images_not_other_files(tmp_path):
    folder = tmp_path / "rec"
    (folder / "images").mkdir(parents=True)
    for k in range(4):
        Image.fromarray(np.full((8, 8), 40 * k, np.uint8)).save(folder / "images" / f"im{k}.png")
    np.save(folder / "responses.npy", np.random.default_rng(0).random((4, 2, 3)))
    before = folder_hash(folder)
    (folder / "images" / "README.txt").write_text("shown on a grey background")
    assert folder_hash(folder) == before
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(folder / "images" / "im0.png")
    assert folder_hash(folder) != before


def test_from_folder_carries_the_content_it_read(tmp_path, monkeypatch):
    import vna.data.user as user

    folder = to_folder(load_simulated(n_images=10, n_trials=2, n_neurons=4, seed=1), tmp_path / "rec")
    assert from_folder(folder).meta["content_hash"] == folder_hash(folder)
    real = user._load_npy

    def edited_while_read(path):  # another program rewrites the folder while it is being read
        array = real(path)
        if path.name == "responses.npy":
            (folder / "meta.json").write_text('{"units": "spikes"}\n')
        return array

    monkeypatch.setattr(user, "_load_npy", edited_while_read)
    with pytest.raises(ValueError, match=r"rec changed while it was being read \(content \w{12} before, \w{12} after"):
        from_folder(folder)


def test_duplicate_images_are_named_in_a_warning():
    images, responses = _arrays(n_images=6)
    images[4] = images[1]
    with pytest.warns(UserWarning, match=r"images: images 1 \(id 'b'\) and 4 \(id 'e'\) are identical; a duplicate "
                                         r"can sit on both sides of a held-out-images split"):
        from_arrays(images, responses, image_ids=list("abcdef"))
    images[5] = images[1]
    with pytest.warns(UserWarning, match=r"images 1 and 4 are identical and 1 more duplicate"):
        from_arrays(images, responses)


def test_counts_saved_as_images_neurons_trials_are_echoed_with_the_fix():
    import warnings

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 8, 8), dtype=np.uint8)
    counts = rng.poisson(3.0, (6, 4, 20)).astype(np.float64)  # 6 images x 4 trials x 20 neurons
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        from_arrays(images, counts)  # fewer trials than neurons: the usual shape, nothing to say
        from_arrays(images, rng.normal(0, 1, (6, 20, 4)))  # more trials than neurons, but not counts
    with pytest.warns(UserWarning, match=r"responses: responses read as 6 images x 20 trials x 4 neurons; more trials "
                                         r"than neurons, and the values look like counts: .*transpose\(0, 2, 1\)"):
        from_arrays(images, counts.transpose(0, 2, 1))  # the same counts saved as [images, neurons, trials]
