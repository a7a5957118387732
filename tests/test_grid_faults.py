"""Grids that meet a changing world: a recording folder edited while its grid trains, a runs folder kept inside the
recording folder, a recording with two trials per image, a disk that fills up, a leftover temporary MANIFEST, an
empty folder under ``report --strict``, and seeds named twice or as text."""
from __future__ import annotations

import errno
import warnings
from pathlib import Path

import jupytext
import numpy as np
import pytest

import vna.study.pipeline as pipeline
from vna.chapters.notebook import method_chapter
from vna.cli import main
from vna.data import to_folder
from vna.data.simulated import load_simulated
from vna.data.user import folder_hash
from vna.study import store, runner
from vna.study.config import RunConfig
from vna.study.record import RunRecord
from vna.study.grids import folder_grid, study_grid
from vna.study.store import load_records

REPO = Path(__file__).resolve().parents[1]


def _folder(tmp_path: Path, n_trials: int = 3, n_neurons: int = 12, name: str = "rec") -> Path:
    rec = load_simulated(n_images=30, n_trials=n_trials, n_neurons=n_neurons, image_size=32, seed=5)
    return to_folder(rec, tmp_path / name)


def _reproduce(folder: Path, results_dir: Path, *extra: str) -> list[str]:
    return ["reproduce", "--folder", str(folder), "--seeds", "0", "--results-dir", str(results_dir), "--no-progress",
            *extra]


# ------------------------------------------------------------------------------- 1: a folder edited mid-grid
def test_a_folder_edited_while_its_grid_trains_keeps_each_record_under_what_it_read(tmp_path, monkeypatch, capsys):
    """responses.npy is replaced (12 -> 11 neurons) while the first training runs: that run read the old content and
    its records are keyed by it; the trainings after the edit are refused, the folder is named, and a rerun runs the
    whole grid on the new content, whose records say 11 neurons."""
    folder = _folder(tmp_path)
    old = folder_hash(folder)
    edited = np.random.default_rng(1).random((30, 3, 11))
    real_fit, edits = pipeline.fit, []

    def fit_while_the_folder_is_edited(*args, **kwargs):
        if not edits:
            np.save(folder / "responses.npy", edited)
            (folder / "neurons.csv").unlink()  # its 12 rows would not fit the 11 neurons
            edits.append(1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(pipeline, "fit", fit_while_the_folder_is_edited)
    out_dir = tmp_path / "runs"
    args = _reproduce(folder, out_dir, "--epochs", "1", "--methods", "direct_encoder")
    assert main(args) == 1
    out = capsys.readouterr().out
    new = folder_hash(folder)
    assert new != old
    assert f"changed while the grid ran (content {old} when it started, {new} now)" in out, out
    assert "2 run(s) now" in out and "2 failed" in out, out  # one training saved (2 records), two refused
    saved = load_records(out_dir, findings=(found := []))
    assert found == [] and len(saved) == 2  # they verify although the folder now holds other content
    assert {Path(p).parent.name for p in saved["path"]} == {f"folder-{old}"}
    assert set(saved["neurons"]) == {12}

    assert main(args) == 0  # the rerun: keyed by the new content, nothing of the old counts as done
    out = capsys.readouterr().out
    assert "6 run(s) now, 0 already" in out, out
    records = load_records(out_dir)
    mine = records[[Path(p).parent.name == f"folder-{new}" for p in records["path"]]]
    assert len(mine) == 6 and set(mine["neurons"]) == {11}
    assert main(["report", "--results-dir", str(out_dir), "--grid", "none", "--strict", "--bootstrap", "20"]) == 0


def test_a_record_carries_the_content_its_run_read(tmp_path):
    folder = _folder(tmp_path, n_trials=2)
    cfg = RunConfig(dataset=f"folder:{folder}", method="direct_encoder", epochs=1)
    record = pipeline.run(cfg, progress=False)
    content = record.config.folder_content()
    np.save(folder / "responses.npy", np.random.default_rng(2).random((30, 2, 12)))  # edited after the run
    assert record.to_json()["content_hash"] == content != folder_hash(folder)
    path = store.save_record(record, tmp_path / "runs")
    assert path.parent.name == f"folder-{content}" and store.verify_record(path) == []
    assert not store.is_done(cfg, tmp_path / "runs")  # the folder's content now has no record


# ------------------------------------------------------------------------- 4: a runs folder inside the folder
def test_a_runs_folder_inside_the_recording_folder_resumes(tmp_path, capsys):
    folder = _folder(tmp_path)
    inside = folder / "runs"
    args = _reproduce(folder, inside, "--quick", "--methods", "vna")
    assert main(args) == 0
    assert "6 run(s) now, 0 already" in capsys.readouterr().out
    (folder / "notes.txt").write_text("recorded on a good day\n")
    assert main(args) == 0
    assert "0 run(s) now, 6 already" in capsys.readouterr().out
    assert [p.name for p in inside.iterdir()] == [f"folder-{folder_hash(folder)}"]
    assert main(["report", "--results-dir", str(inside), "--grid", "none", "--strict", "--bootstrap", "20"]) == 0


# ----------------------------------------------------------------------------- 5: two trials per image
def test_two_trials_per_image_run_what_they_support_and_say_what_is_skipped(tmp_path, capsys):
    folder = _folder(tmp_path, n_trials=2)
    out_dir = tmp_path / "runs"
    assert main(_reproduce(folder, out_dir, "--quick", "--methods", "vna")) == 0
    out = capsys.readouterr().out
    assert f"{folder}: 30 images x 2 trial slots (2-2 recorded per image) x 12 neurons" in out
    assert ("protocols run: held-out images (single trials, trial means); in-sample (diagnostic) (single trials, "
            "trial means); skipped: held-out trials (single trials, trial means): needs 2 training trials per image "
            "beside the held-out one(s)") in out, out
    assert "4 run(s) now, 0 already" in out and "0 failed" in out
    assert set(load_records(out_dir)["protocol"]) == {"images/trials", "images/mean", "none/trials", "none/mean"}


def test_protocol_support_counts_the_validation_trials():
    from vna.study.grids import protocol_support

    two = load_simulated(n_images=20, n_trials=2, n_neurons=5, image_size=32, seed=1)
    protocols, skipped = protocol_support(two)
    assert [p[0] for p in protocols] == ["images", "images", "none", "none"] and list(skipped) == [
        "held-out trials (single trials, trial means)"]
    assert len(protocol_support(two, val_fraction=0.0)[0]) == 6  # without a validation part, 2 trials do
    assert len(protocol_support(load_simulated(n_images=20, n_trials=3, n_neurons=5, image_size=32, seed=1))[0]) == 6
    means = load_simulated(n_images=20, n_trials=1, n_neurons=5, image_size=32, seed=1)
    protocols, skipped = protocol_support(means)
    assert protocols == [("images", "mean", "mean"), ("none", "mean", "mean")]
    assert "it holds trial means" in next(iter(skipped.values()))


@pytest.mark.slow
def test_chapter_07_runs_on_a_two_trial_recording(tmp_path):
    """The own-recordings chapter, quick, with ``folder`` set to a recording with two trials per image: it runs the
    protocols the recording supports, says which it skipped and why, and finishes."""
    import subprocess
    import sys

    import nbformat

    folder = _folder(tmp_path, n_trials=2)
    env = {**__import__("os").environ, "VNA_RUNS_DIR": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "run_notebooks.py"), "--quick", "--only",
                          "07_own_recordings", "-p", "folder", str(folder), "--out", str(tmp_path / "out"),
                          "--failed-dir", str(tmp_path / "failed")], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    nb = nbformat.read(tmp_path / "out" / "07_own_recordings.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "skipped: held-out trials (single trials, trial means): needs 2 training trials per image" in text
    assert "12 runs: 12 trained now" in text


# --------------------------------------------------------------------------------------------- 6: disk full
def test_a_full_disk_stops_the_grid_at_once_counts_what_was_saved_and_leaves_no_orphan(tmp_path, monkeypatch, capsys):
    """The second record of the first training cannot be written (ENOSPC): its per-instance file is removed, the
    first record counts as saved, and the grid stops instead of training every other run first."""
    real_write, writes = store._atomic_write, []

    def fill_up(path, data):
        if path.suffix == ".json":
            writes.append(path)
            if len(writes) == 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data)

    monkeypatch.setattr(store, "_atomic_write", fill_up)
    trained = []
    real_run_shared = pipeline.run_shared
    monkeypatch.setattr(pipeline, "run_shared", lambda *a, **k: trained.append(1) or real_run_shared(*a, **k))
    out_dir = tmp_path / "runs"
    code = main(["reproduce", "--datasets", "simulated", "--methods", "vna", "direct_encoder", "--seeds", "0", "1",
                 "--quick", "--results-dir", str(out_dir), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1
    assert len(trained) == 1, out  # found at the first record that did not fit, not after every training
    assert "1 run(s) now" in out and "1 failed" in out, out
    assert "No space left on device" in out and "the disk of" in out and "is full: the grid stops here" in out, out
    jsons = sorted((out_dir / "simulated").glob("*.json"))
    csvs = sorted((out_dir / "simulated").glob("*.instances.csv"))
    assert len(jsons) == 1 and [p.name for p in csvs] == [jsons[0].name.replace(".json", ".instances.csv")]
    assert not list((out_dir / "simulated").glob(".*"))  # no temporary file either


def test_a_grid_that_cannot_fit_on_the_disk_is_refused_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner.shutil, "disk_usage", lambda path: type("U", (), {"free": 150_000})())
    monkeypatch.setattr(runner, "run_task", lambda *a, **k: pytest.fail("no training may start"))
    code = main(["reproduce", "--datasets", "simulated", "--methods", "vna", "--seeds", "0", "--quick",
                 "--results-dir", str(tmp_path / "runs"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "not enough disk for the records of 6 run(s)" in err and "600.0 kB and" in err, err


def test_save_record_leaves_no_per_instance_file_without_its_record(tmp_path, monkeypatch):
    cfg = RunConfig()
    rec = RunRecord(cfg, {"paper": {"encoding_auc": .5, "decoding_auc": .5, "mean_auc": .5}}, 1, "cpu",
                    instances={"encoding_auc": np.full(3, .5), "decoding_auc": np.full(3, .5)})
    real_write = store._atomic_write

    def full(path, data):
        if path.suffix == ".json":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(store, "_atomic_write", full)
    with pytest.raises(OSError, match="No space left"):
        store.save_record(rec, tmp_path / "runs")
    assert [p for p in (tmp_path / "runs").rglob("*") if p.is_file()] == []


# ------------------------------------------------------------------------------ 6: a leftover MANIFEST tmp
def test_a_leftover_manifest_temporary_file_is_never_listed(tmp_path):
    root = tmp_path / "pub"
    root.mkdir()
    (root / "PUBLISHED").write_text("x")
    (root / "simulated").mkdir()
    (root / "simulated" / "vna-abc.json").write_text("{}")
    (root / ".MANIFEST.k2j3h4_x.tmp").write_text("half a manifest")  # an interrupted write_manifest
    (root / "simulated" / ".vna-abc.json.q1w2e3r4.tmp").write_text("{")  # an interrupted record
    store.write_manifest(root)
    listed = [line.split("  ", 1)[1] for line in (root / "MANIFEST").read_text().splitlines()]
    assert listed == ["PUBLISHED", "simulated/vna-abc.json"]
    assert store.check_manifest(root) == []


# --------------------------------------------------------------------------- 6: report --strict, empty folder
def test_report_strict_on_an_empty_folder_fails_and_says_why(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", "--results-dir", str(empty), "--strict"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == (f"error: --strict: {empty} holds no record, so nothing was verified; run python -m vna reproduce "
                      "first, or point --results-dir at a folder of records"), err
    assert main(["report", "--results-dir", str(empty), "--bootstrap", "20"]) == 0  # without --strict: a report
    out = capsys.readouterr().out
    assert "records made before the scoring rules" not in out and "no records." in out


# ------------------------------------------------------------------------------------------- 6: seeds, bootstrap
@pytest.mark.parametrize("seeds, message", [
    ("12", r"seeds must be a list of integers such as \[0, 1, 2\]; got the text '12'"),
    ([0, 0], r"seeds names seed 0 2 times \(\[0, 0\]\); a seed is one run: name it once"),
    ([], r"seeds is empty"),
    ([0, -1], r"seeds must be non-negative integers; got -1"),
    ([True], r"seeds must be non-negative integers; got True"),
    (["1", "2"], r"seeds must be non-negative integers; got '1'"),
])
def test_seeds_are_checked_in_one_place(seeds, message):
    from vna.study.grids import check_seeds

    with pytest.raises(ValueError, match=message):
        check_seeds(seeds)
    with pytest.raises(ValueError, match=message):
        study_grid(["simulated"], seeds=seeds)
    if seeds == "12":  # a chapter reads a papermill text as the literal it spells: the one seed 12, never [1, 2]
        assert [c.seed for c in method_chapter("vna", {}, seeds=seeds, dataset="simulated").configs] == [12]
        return
    with pytest.raises(ValueError, match=message):
        method_chapter("vna", {}, seeds=seeds, dataset="simulated")


def test_seeds_that_are_fine():
    from vna.study.grids import check_seeds

    assert check_seeds(3) == [3] and check_seeds((2, 0, 1)) == [2, 0, 1] and check_seeds([np.int64(4), 5.0]) == [4, 5]


def test_cli_seeds_named_twice_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "run_task", lambda *a, **k: pytest.fail("no training may start"))
    assert main(["reproduce", "--datasets", "simulated", "--seeds", "0", "0", "--quick", "--results-dir",
                 str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "error: --seeds names seed 0 2 times ([0, 0]); a seed is one run: name it once" in err, err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("value", [0, -5, "lots", 2.5, True])
def test_results_chapter_bootstrap_is_checked_by_name(value):
    from vna.chapters.notebook import positive_int

    with pytest.raises(ValueError, match=rf"bootstrap must be a positive integer; got {value!r}"):
        positive_int("bootstrap", value)


def test_results_chapter_refuses_a_bad_bootstrap_before_reading_records(monkeypatch):
    """05_results' code up to its first table, with ``bootstrap="lots"``: one line naming the parameter."""
    import vna.study.report

    monkeypatch.setattr(vna.study.report, "build_report", lambda *a, **k: pytest.fail("no record may be read"))
    cells = [c for c in jupytext.read(REPO / "notebooks" / "05_results.py").cells if c.cell_type == "code"]
    code = [c.source for c in cells]
    k = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for source in code[:k + 1]:
            exec(source, namespace)  # noqa: S102 - our own notebook
        namespace["bootstrap"] = "lots"
        with pytest.raises(ValueError, match=r"^bootstrap must be a positive integer; got 'lots'$"):
            exec(code[k + 1], namespace)  # noqa: S102
