"""Own recordings end to end (issue 13): a folder through the command, and a Recording through `run`."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from vna.cli import main
from vna.study.config import RunConfig
from vna.data import from_arrays, from_folder, to_folder
from vna.data.simulated import load_simulated
from vna.data.user import folder_hash
from vna.study.pipeline import prepare, run
from vna.study.store import load_records, record_path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    rec = load_simulated(n_images=40, n_trials=3, n_neurons=12, image_size=32, seed=5)
    return to_folder(rec, tmp_path_factory.mktemp("own") / "my_recording")


def _quick(folder, results, capsys):
    code = main(["reproduce", "--folder", str(folder), "--quick", "--seeds", "0", "--methods", "vna",
                 "--results-dir", str(results), "--no-progress"])
    return code, capsys.readouterr().out


def test_reproduce_folder_runs_the_quick_grid_keyed_by_content(folder, tmp_path, capsys):
    results = tmp_path / "runs"
    code, out = _quick(folder, results, capsys)
    assert code == 0, out
    # three splits x two test-response kinds (the folder has repeats on every image), one training per split
    assert "6 run(s) now, 0 already" in out and "0 failed" in out
    assert [p.name for p in results.iterdir()] == [f"folder-{folder_hash(folder)}"]
    records = load_records(results)
    assert len(records) == 6 and set(records["protocol"]) == {
        f"{s}/{t}" for s in ("images", "trials", "none") for t in ("trials", "mean")}
    assert records["mean_auc"].between(0, 1).all()
    # the same content at another path is the same recording: nothing reruns
    copy = shutil.copytree(folder, tmp_path / "elsewhere" / "renamed")
    code, out = _quick(copy, results, capsys)
    assert code == 0 and "0 run(s) now, 6 already" in out
    # changed content is another recording
    meta = json.loads((copy / "meta.json").read_text())
    (copy / "meta.json").write_text(json.dumps({**meta, "units": "spikes per 100 ms"}))
    assert folder_hash(copy) != folder_hash(folder)
    code = main(["report", "--results-dir", str(results), "--grid", "none", "--bootstrap", "50"])
    assert code == 0 and "VNA" in capsys.readouterr().out


def test_reproduce_folder_names_a_broken_folder(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    np.save(bad / "images.npy", np.zeros((4, 8, 8)) + np.linspace(0, 2.55e-4, 4)[:, None, None])
    np.save(bad / "responses.npy", np.ones((4, 2, 3)))
    code = main(["reproduce", "--folder", str(bad), "--quick", "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "images.npy: float images span only" in err and "scale=" in err


def _toy(n_images=24, n_trials=3, n_neurons=6, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n_images, 20, 20, 3), dtype=np.uint8)  # colour, 20 x 20
    responses = rng.normal(0, 1, (n_images, n_trials, n_neurons))
    return from_arrays(images, responses, name="toy")


def test_run_on_a_recording_applies_the_configs_preprocessing():
    rec = _toy()
    cfg = RunConfig(dataset="simulated", split="trials", grey=False, image_size=32, epochs=1, batch_size=16,
                    responses="mean", test_responses="trials", latent_dim=8)
    out = run(cfg, recording=rec, progress=False)
    assert tuple(out.parts.train.images.shape[1:]) == (3, 32, 32)  # grey=False, image_size=32
    assert out.parts.train.meta["split"] == "trials" and out.parts.train.meta["part_responses"] == "mean"
    assert out.parts.test.meta["part_responses"] == "trials"
    assert set(np.asarray(out.parts.test.meta["image_ids"])) <= set(np.asarray(out.parts.train.meta["image_ids"]))
    assert out.parts.train.n_responses == rec.n_images  # one trial-mean pair per image
    grey = prepare(cfg.replace(split="images", grey=True, image_size=64), recording=rec)
    assert tuple(grey.train.images.shape[1:]) == (1, 64, 64)
    assert not set(np.asarray(grey.test.meta["image_ids"])) & set(np.asarray(grey.train.meta["image_ids"]))
    assert grey.test.meta["test_fraction"] == 0.15 and 0 < grey.test.n_images < rec.n_images // 2


@pytest.mark.parametrize("field, change", [("image_size", {"image_size": 64}), ("grey", {"grey": False}),
                                           ("split", {"split": "trials"}), ("test_fraction", {"test_fraction": 0.3}),
                                           ("responses", {"responses": "mean"})])
def test_run_refuses_pre_split_data_prepared_otherwise(field, change):
    rec = _toy()
    cfg = RunConfig(dataset="simulated", image_size=32, epochs=1, batch_size=16, latent_dim=8)
    parts = prepare(cfg, recording=rec)
    with pytest.raises(ValueError, match=rf"prepared with {field}=.*but the config says {field}="):
        run(cfg.replace(**change), data=parts, progress=False)


def test_a_folder_dataset_loads_through_its_name(folder):
    cfg = RunConfig(dataset=f"folder:{folder}", image_size=32, epochs=1)
    parts = prepare(cfg)
    rec = from_folder(folder)
    assert parts.train.n_neurons == rec.n_neurons
    assert record_path(cfg, "/r").parent.name == f"folder-{folder_hash(folder)}"
