"""The results store (vna.study.store, vna.study.record, vna.study.tables), the grid runner (vna.study.runner) and the `reproduce` command (issue "Trust")."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vna.study import record, store, tables, runner
from vna.cli import main
from vna.study.config import RunConfig
from vna.study.grids import STUDY_PROTOCOLS, quick_config, study_grid

METRICS = {"encoding_auc": 0.8, "decoding_auc": 0.9, "mean_auc": 0.85, "encoding_top1": 0.1,
           "encoding_top5": 0.3, "decoding_top1": 0.2, "decoding_top5": 0.5}


def _record(cfg: RunConfig, n_instances: int = 6, **metrics) -> record.RunRecord:
    m = dict(METRICS, **metrics)
    m["mean_auc"] = 0.5 * (m["encoding_auc"] + m["decoding_auc"])
    inst = {"encoding_auc": np.full(n_instances, m["encoding_auc"]),
            "decoding_auc": np.full(n_instances, m["decoding_auc"])}
    return record.RunRecord(cfg, {"paper": m}, 1.5, "cpu", history=[{"epoch": 1, "loss": 2.0}], instances=inst)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _published(tmp_path: Path) -> Path:
    pub = tmp_path / "published"
    pub.mkdir()
    (pub / store.PUBLISHED_MARKER).write_text("published grid\n")
    return pub


# ------------------------------------------------------------------------------------------------ records
def test_record_path_roundtrip_and_instances(tmp_path):
    cfg = RunConfig(dataset="simulated", method="vna", seed=3)
    path = store.save_record(_record(cfg), tmp_path)
    assert path == tmp_path / "simulated" / f"vna-{cfg.key()}.json"
    rec = json.loads(path.read_text())
    assert rec["config"] == cfg.replace(device="cpu").to_dict()  # "auto" is stored as the kind that ran it
    assert rec["seed"] == 3 and rec["metrics"]["decoding_auc"] == 0.9 and "instances" not in rec
    assert (rec["key"], rec["group"]) == (cfg.key(), cfg.group_key())  # the config's, derived when written
    assert store.read_record(path).to_json() == rec  # read back as it was written
    assert rec["threads"] == 1 and rec["device_kind"] == "cpu" and rec["protocol"] == "images/trials"
    assert set(rec["versions"]) == {"python", "torch", "numpy", "vna", "cpu", "cpu_capability"}
    assert rec["simulated"] is True
    inst = store.read_instances(path)
    np.testing.assert_array_equal(inst["decoding"], 0.9)  # full precision on disk (issue 21)
    csv = store.instances_path(path)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, csv.name])
    assert store.is_done(cfg, tmp_path)
    csv.unlink()  # a record without its per-instance AUCs is not done
    assert not store.is_done(cfg, tmp_path)


def test_write_is_atomic(tmp_path, monkeypatch):
    cfg = RunConfig(dataset="simulated", seed=1)

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.save_record(_record(cfg), tmp_path)
    folder = tmp_path / "simulated"
    assert not store.record_path(cfg, tmp_path).exists()
    assert list(folder.iterdir()) == []  # the temporary file was removed
    assert not store.is_done(cfg, tmp_path)


def test_existing_record_is_kept_unless_overwrite(tmp_path):
    cfg = RunConfig(dataset="simulated")
    store.save_record(_record(cfg, encoding_auc=0.7), tmp_path)
    store.save_record(_record(cfg, encoding_auc=0.6), tmp_path)
    assert store.read_record(store.record_path(cfg, tmp_path)).metrics["paper"]["encoding_auc"] == 0.7
    store.save_record(_record(cfg, encoding_auc=0.6), tmp_path, overwrite=True)
    assert store.read_record(store.record_path(cfg, tmp_path)).metrics["paper"]["encoding_auc"] == 0.6


def test_other_parameters_add_records(tmp_path):
    a, b = RunConfig(dataset="simulated", epochs=5), RunConfig(dataset="simulated", epochs=6)
    store.save_record(_record(a), tmp_path)
    store.save_record(_record(b), tmp_path)
    df = store.load_records(tmp_path)
    assert sorted(df["epochs"]) == [5, 6]
    assert df["key"].nunique() == 2


def test_key_covers_what_changes_the_numbers(tmp_path):
    """Threads and device kind change CPU/GPU results, so they change the record; evaluation-only fields
    leave the training key alone; an optional field at its default leaves every key alone."""
    cfg = RunConfig(dataset="simulated")
    assert store.record_path(cfg.replace(threads=2), tmp_path) != store.record_path(cfg, tmp_path)
    assert cfg.replace(device="cuda").key() != cfg.replace(device="cpu").key()
    assert cfg.replace(device="auto").key() == cfg.replace(device="cpu").key()  # no GPU here
    assert cfg.replace(test_responses="mean").key() != cfg.key()
    assert cfg.replace(test_responses="mean").training_key() == cfg.training_key()
    assert cfg.replace(n_distractors=5).training_key() == cfg.training_key()
    assert cfg.replace(test_responses="trials").key() == cfg.key()  # None means "as responses"
    assert cfg.replace(train_trials=None, neuron_fraction=1.0).key() == cfg.key()
    assert cfg.replace(neuron_fraction=0.5).key() != cfg.key()
    assert cfg.replace(seed=4).group_key() == cfg.group_key() and cfg.replace(seed=4).key() != cfg.key()


def test_truncated_record_is_not_done_and_named(tmp_path):
    cfg = RunConfig(dataset="simulated")
    path = store.save_record(_record(cfg), tmp_path)
    path.write_text(path.read_text()[:40])
    assert not store.is_done(cfg, tmp_path)
    found = []
    assert store.load_records(tmp_path, findings=found).empty  # left out, named (issue 21) ...
    assert len(found) == 1 and found[0].path == str(path) and "not a readable results record" in str(found[0])
    with pytest.raises(store.StoreError, match=path.name):  # ... and an error with strict
        store.load_records(tmp_path, strict=True)


def test_old_schema_is_named(tmp_path):
    cfg = RunConfig(dataset="simulated")
    path = store.save_record(_record(cfg), tmp_path)
    rec = json.loads(path.read_text())
    rec["schema"] = 1
    path.write_text(json.dumps(rec))
    with pytest.raises(ValueError, match="schema 1"):
        store.read_record(path)


def test_a_record_checks_what_it_is_made_of():
    with pytest.raises(ValueError, match="decoding_auc"):
        record.RunRecord(RunConfig(), {"paper": {"encoding_auc": 0.5, "mean_auc": 0.5}}, 1, "cpu")
    with pytest.raises(ValueError, match="RunConfig; got dict"):
        record.RunRecord(RunConfig().to_dict(), {"paper": METRICS}, 1, "cpu")


# ------------------------------------------------------------------------------------------ published grid
def test_published_folder_refuses_writes_unless_publish(tmp_path):
    pub = _published(tmp_path)
    cfg = RunConfig(dataset="simulated")
    with pytest.raises(store.PublishedResultsError, match="published result grid"):
        store.save_record(_record(cfg), pub)
    assert _files(pub) == {"PUBLISHED": b"published grid\n"}
    store.save_record(_record(cfg), pub, publish=True)
    assert store.is_done(cfg, pub)
    assert store.is_published(store.published_dir())  # the repository's results/ is marked
    assert store.runs_dir() != store.published_dir()


def test_side_run_leaves_the_published_table_unchanged(tmp_path, monkeypatch, capsys):
    """The audit's scenario: a 1-epoch side run made the way the book's recipes make it (defaults) must not
    change a published row -- it goes to the runs folder -- and pointing it at the published folder fails."""
    pub = _published(tmp_path)
    grid = study_grid(["simulated"], ["vna"], seeds=[0, 1, 2], quick=True)
    for k, c in enumerate(grid):
        store.save_record(_record(c, encoding_auc=0.5 + 0.01 * k), pub, publish=True)
    table0 = tables.select_groups(tables.summarize(store.load_records(pub)), grid)[0]
    before = _files(pub)
    runs = tmp_path / "runs"
    monkeypatch.setenv("VNA_RUNS_DIR", str(runs))
    side = ["reproduce", "--datasets", "simulated", "--methods", "vna", "--seeds", "0", "--quick", "--epochs", "1",
            "--no-progress"]
    assert main(side) == 0  # default folder: the runs folder
    assert list(runs.glob("simulated/vna-*.json")) and _files(pub) == before
    capsys.readouterr()
    assert main(side + ["--results-dir", str(pub)]) == 2  # the published folder needs --publish
    err = capsys.readouterr().err
    assert "published result grid" in err and "Traceback" not in err and _files(pub) == before
    from vna.chapters.notebook import default_results_dir

    assert default_results_dir() == runs  # the notebooks' default is the runs folder too
    table1 = tables.select_groups(tables.summarize(store.load_records(pub)), grid)[0]
    assert table1.equals(table0)


def test_check_results_dir_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        store.check_results_dir(blocker / "sub")


# ------------------------------------------------------------------------------------------------ tables
def test_summary_matches_hand_computation(tmp_path):
    enc = [0.8, 0.9, 1.0]
    dec = [0.70, 0.74, 0.72]
    for s, (e, d) in enumerate(zip(enc, dec)):
        store.save_record(_record(RunConfig(dataset="simulated", seed=s), encoding_auc=e, decoding_auc=d), tmp_path)
    store.save_record(_record(RunConfig(dataset="simulated", method="direct_encoder", seed=0)), tmp_path)
    summary = tables.summarize(store.load_records(tmp_path))
    row = summary[summary["method"] == "vna"].iloc[0]
    # mean 0.9, sd 0.1, t(0.975, df=2) = 4.302652729911275 -> half-width 4.3027 * 0.1 / sqrt(3)
    assert row["encoding_auc"] == pytest.approx(0.9)
    assert row["encoding_auc_ci"] == pytest.approx(4.302652729911275 * 0.1 / math.sqrt(3))
    assert row["decoding_auc"] == pytest.approx(0.72)
    assert row["decoding_auc_ci"] == pytest.approx(4.302652729911275 * 0.02 / math.sqrt(3))
    avg = [(e + d) / 2 for e, d in zip(enc, dec)]
    assert row["mean_auc"] == pytest.approx(np.mean(avg))
    assert row["mean_auc_ci"] == pytest.approx(4.302652729911275 * np.std(avg, ddof=1) / math.sqrt(3))
    assert row["n_seeds"] == 3 and row["seeds"] == "0 1 2"
    single = summary[summary["method"] == "direct_encoder"].iloc[0]
    assert single["n_seeds"] == 1 and math.isnan(single["encoding_auc_ci"])


def test_tables_never_mix_groups_and_say_which_they_chose(tmp_path):
    for s in range(3):
        store.save_record(_record(RunConfig(dataset="simulated", seed=s, epochs=50)), tmp_path)
    store.save_record(_record(RunConfig(dataset="simulated", seed=0, epochs=6), encoding_auc=0.1), tmp_path)
    store.save_record(_record(RunConfig(dataset="simulated", method="direct_decoder")), tmp_path)
    summary = tables.summarize(store.load_records(tmp_path))
    assert len(summary) == 3  # two vna groups and one direct_decoder group
    table, notes = tables.select_groups(summary)
    assert list(table["method"]) == ["vna", "direct_decoder"]
    assert table.iloc[0]["epochs"] == 50 and table.iloc[0]["n_seeds"] == 3
    assert len(notes) == 1 and "3 seeds, the most" in notes[0]
    # the grid definition names the group: its runs are shown even with fewer seeds
    grid = [RunConfig(dataset="simulated", seed=0, epochs=6)]
    table, notes = tables.select_groups(summary, grid)
    assert list(table["epochs"]) == [6] and notes == []
    shown = tables.format_table(tables.select_groups(summary)[0])
    assert shown.iloc[0]["encoding AUC"].startswith("0.8000 ± ")
    assert shown.iloc[1]["encoding AUC"] == "0.8000"  # one seed: no interval


def test_tie_is_broken_by_key_not_by_date(tmp_path):
    a, b = RunConfig(dataset="simulated", epochs=7), RunConfig(dataset="simulated", epochs=8)
    first, second = sorted([a, b], key=lambda c: c.group_key())
    for order in ([first, second], [second, first]):  # whichever is written last (newest)
        folder = tmp_path / str(order[0].epochs)
        for c in order:
            store.save_record(_record(c), folder)
        table, notes = tables.select_groups(tables.summarize(store.load_records(folder)))
        assert table.iloc[0]["group"] == first.group_key() and len(notes) == 1


def test_format_table_shows_paper_values_for_stand_ins(tmp_path):
    store.save_record(_record(RunConfig(dataset="cowley2023-v4", method="vna")), tmp_path)
    table = tables.select_groups(tables.summarize(store.load_records(tmp_path)))[0]
    shown = tables.format_table(table)
    assert shown.iloc[0]["paper (stand-in for)"] == "Macaque-synthetic"
    assert shown.iloc[0]["paper enc / dec / avg"] == "0.9762 / 0.9771 / 0.9765"
    assert shown.iloc[0]["protocol"] == "held-out images, single trials"


def test_paper_average_check():
    t = tables.paper_average_check()
    assert len(t) == 9
    consistent = t[t["consistent"]]
    assert list(zip(consistent["paper_dataset"], consistent["method"])) == [("Mouse-movie", "vna")]
    face_de = t[(t.paper_dataset == "Macaque-face") & (t.method == "direct_encoder")].iloc[0]
    assert face_de["mean_of_columns"] == pytest.approx((0.8489 + 0.9248) / 2)
    assert face_de["difference"] == pytest.approx(-0.00715)
    assert (t["difference"] <= 0).all()
    # every row: the two-column mean, the difference rounded to 5 decimals, the implied weight (book's table)
    np.testing.assert_allclose(t["mean_of_columns"], (t["encoding_auc"] + t["decoding_auc"]) / 2)
    np.testing.assert_allclose(t["difference"], (t["average_auc"] - t["mean_of_columns"]).round(5), atol=1e-12)
    weights = t.set_index(["paper_dataset", "method"])["implied_encoding_weight"]
    assert weights[("Macaque-face", "vna")] == 0.798 and weights[("Macaque-face", "direct_encoder")] == 0.594
    assert weights[("Mouse-movie", "vna")] == 0.5 and weights[("Macaque-synthetic", "vna")] == 0.667
    # "consistent" is |difference| within tol (plus float slack): a trailing-5 rounding passes at 5e-5
    assert list(tables.paper_average_check(tol=0.00025)["consistent"]).count(True) == 4  # 0, -0.00015, -0.00025 x2
    assert list(tables.paper_average_check(tol=0.0002)["consistent"]).count(True) == 2
    assert list(tables.paper_average_check(tol=0.0)["consistent"]).count(True) == 1


def test_load_records_empty(tmp_path):
    df = store.load_records(tmp_path)
    assert df.empty and "encoding_auc" in df.columns
    assert tables.summarize(df).empty


# ------------------------------------------------------------------------------------------------ grids
def test_study_grid_definition():
    grid = study_grid()
    n_protocols = sum(len(p) for p in STUDY_PROTOCOLS.values())
    assert len(grid) == n_protocols * 3 * 5 and len({c.key() for c in grid}) == len(grid)
    allen = {(c.split, c.responses, c.eval_responses) for c in grid if c.dataset == "allen-2p-ns118"}
    assert allen == {("images", "mean", "mean"), ("none", "mean", "mean")}
    assert {c.split for c in grid} == {"images", "trials", "none"}
    assert all(c.val_fraction > 0 and c.patience for c in grid)  # epochs by early stopping on training data
    tasks = runner.plan_tasks(grid)
    assert len(tasks) == len({c.training_key() for c in grid}) < len(grid)  # test kinds share a training
    quick = study_grid(["simulated"], ["vna"], [0], quick=True)
    assert all(c.epochs <= 2 and c.dataset_options["n_images"] < 300 for c in quick)
    with pytest.raises(ValueError, match="has no dataset"):
        study_grid(["nope"])
    with pytest.raises(ValueError, match="RunConfig.method must be one of .*; got 'nope'"):  # RunConfig's check
        study_grid(["simulated"], ["nope"])


def test_quick_config_keeps_other_settings():
    cfg = quick_config(RunConfig(dataset="cowley2023-v4", epochs=30, lr=0.01))
    assert cfg.epochs == 2 and cfg.lr == 0.01 and cfg.dataset_options == {} and cfg.responses == "mean"
    sim = quick_config(RunConfig(dataset="simulated"))
    assert sim.responses == "trials" and sim.dataset_options["n_images"] < 300


def test_shards_are_disjoint_stable_and_cover_the_grid():
    grid = study_grid()
    n = 4
    keys = [[c.key() for task in runner.plan_tasks(grid, (i, n)) for c in task] for i in range(1, n + 1)]
    flat = [k for part in keys for k in part]
    assert len(flat) == len(set(flat)) == len(grid)  # disjoint and covering
    assert all(part for part in keys)
    again = [c.key() for task in runner.plan_tasks(list(reversed(grid)), (2, n)) for c in task]
    assert sorted(again) == sorted(keys[1])  # stable: the order of the grid does not matter
    for text in ("0/4", "5/4", "a/b", "3"):
        with pytest.raises(ValueError, match="shard"):
            runner.parse_shard(text)


# ------------------------------------------------------------------------------------------------ command
def _quick_args(folder, *more):
    return ["reproduce", "--datasets", "simulated", "--methods", "vna", "--seeds", "0", "--quick",
            "--results-dir", str(folder), "--no-progress", *more]


def test_reproduce_runs_then_skips(tmp_path, capsys):
    args = _quick_args(tmp_path)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "6 run(s) now, 0 already" in out
    files = sorted((tmp_path / "simulated").glob("vna-*.json"))
    assert len(files) == 6  # 3 splits x 2 test kinds
    rec = json.loads(files[0].read_text())
    assert rec["config"]["epochs"] == 2 and 0.0 <= rec["metrics"]["encoding_auc"] <= 1.0
    mtimes = [f.stat().st_mtime_ns for f in files]
    assert main(args) == 0
    assert "0 run(s) now, 6 already" in capsys.readouterr().out
    assert [f.stat().st_mtime_ns for f in files] == mtimes


def test_reproduce_exits_nonzero_when_a_run_fails(tmp_path, monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise RuntimeError("planted failure")

    monkeypatch.setattr(runner, "run_task", boom)
    assert main(_quick_args(tmp_path)) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "planted failure" in out and "3 failed" in out


def test_missing_dataset_fails_the_grid_once(tmp_path, monkeypatch, capsys):
    import vna.study.pipeline

    calls = []

    def no_data(cfg, *, data_dir=None):
        calls.append(cfg.seed)
        raise FileNotFoundError("dataset file cowley2023_v4/x.npy is not cached")

    monkeypatch.setattr(vna.study.pipeline, "load_recording", no_data)
    monkeypatch.setattr(runner, "run_task", lambda *a, **k: pytest.fail("no run may start"))
    args = ["reproduce", "--datasets", "cowley2023-v4", "--methods", "vna", "--seeds", "0", "1", "2", "--quick",
            "--results-dir", str(tmp_path), "--no-progress"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert calls == [0] and out.count("not available") == 1 and "its 18 run(s) are skipped" in out


def test_ctrl_c_is_one_line_and_keeps_finished_runs(tmp_path, monkeypatch, capsys):
    real = runner.run_task
    count = []

    def interrupt_second(*args, **kwargs):
        count.append(1)
        if len(count) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_task", interrupt_second)
    assert main(_quick_args(tmp_path)) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["interrupted; 2 finished run(s) kept, rerun to resume"]
    assert len(list((tmp_path / "simulated").glob("*.json"))) == 2
    assert not list((tmp_path / "simulated").glob(".*"))  # no temporary file


@pytest.mark.slow
def test_jobs_runs_side_by_side_into_one_folder(tmp_path):
    grid = study_grid(["simulated"], ["vna", "direct_encoder"], [0], quick=True)
    grid = [c for c in grid if c.split == "images"]  # 2 trainings, 4 records
    report = runner.run_grid(grid, tmp_path, jobs=2, progress=False, log=lambda s: None)
    assert report.ok and report.ran == 4
    assert all(store.is_done(c, tmp_path) for c in grid)


def test_reproduce_argument_errors_are_one_line(tmp_path, capsys):
    for args in (["reproduce", "--epochs", "0"], ["reproduce", "--datasets", "nope", "--results-dir", str(tmp_path)],
                 ["reproduce", "--shard", "9/4", "--results-dir", str(tmp_path)],
                 ["reproduce", "--results-dir", str(tmp_path), "--publish", "--quick"]):
        with pytest.raises(SystemExit) if args[1] == "--epochs" else _noop():
            code = main(args)
            assert code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "Traceback" not in err and len(err.strip().splitlines()) == 2


class _noop:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_datasets_command_says_where_it_looked(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "embedded" in rows["simulated"]
    assert "present, not verified" in rows["cowley2023-v4"]  # CI provides the data folder; hashes: --verify
    assert "Data folder" in out and "->" in out and "$VNA_DATA_DIR" in out and "default" in out


def test_a_record_made_before_a_field_existed_still_matches_its_grid(tmp_path):
    """Fields added later are left out of keys at their default; the grid signature must agree."""
    cfg = RunConfig(dataset="simulated", seed=2)
    path = store.save_record(_record(cfg), tmp_path)
    rec = json.loads(path.read_text())
    del rec["config"]["precision"], rec["config"]["neuron_fraction"]  # as written before those fields existed
    path.write_text(json.dumps(rec))
    df = store.load_records(tmp_path)
    assert df["signature"].iloc[0] == cfg.signature()
    table, _ = tables.select_groups(tables.summarize(df), [cfg])
    assert len(table) == 1


def test_a_record_made_before_the_layout_was_a_setting_reads_as_contiguous(tmp_path):
    """Records written before ``memory_format`` existed were trained in the contiguous layout: they keep their
    key and read back as that layout, not as today's channels-last default."""
    cfg = RunConfig(dataset="simulated", seed=2, memory_format="contiguous")
    path = store.save_record(_record(cfg), tmp_path)
    rec = json.loads(path.read_text())
    del rec["config"]["memory_format"]
    path.write_text(json.dumps(rec))
    assert RunConfig.from_dict(rec["config"]).memory_format == "contiguous"
    assert RunConfig.from_dict(rec["config"]).key() == cfg.key() != RunConfig(dataset="simulated", seed=2).key()
    df = store.load_records(tmp_path)
    assert df["signature"].iloc[0] == cfg.signature()


def test_the_layout_is_in_the_key_of_the_trained_methods_only():
    base = dict(dataset="simulated", seed=0)
    for method in ("vna", "direct_encoder", "direct_decoder"):
        assert (RunConfig(method=method, memory_format="channels_last", **base).key()
                != RunConfig(method=method, memory_format="contiguous", **base).key())
    for method in ("ridge_encoder", "cca", "trial_template"):  # closed form: no convolution, no layout
        assert (RunConfig(method=method, memory_format="channels_last", **base).key()
                == RunConfig(method=method, memory_format="contiguous", **base).key())


def test_slurm_needs_an_explicit_device_and_keeps_logs_out_of_the_published_grid(tmp_path, monkeypatch):
    grid = study_grid(["simulated"], ["vna"], [0], quick=True)
    with pytest.raises(ValueError, match="explicit device"):
        runner.run_grid(grid, tmp_path / "runs", executor="slurm", progress=False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    monkeypatch.setenv("VNA_RUNS_DIR", str(tmp_path / "elsewhere"))
    pub = _published(tmp_path)
    assert runner.submitit_log_dir(pub) == tmp_path / "elsewhere" / ".submitit"
    assert runner.submitit_log_dir(tmp_path / "mine") == tmp_path / "mine" / ".submitit"


def test_load_histories_one_training_per_shared_task(tmp_path):
    cfg = RunConfig(dataset="simulated", seed=1)
    for test in ("trials", "mean"):  # two records of one training
        rec = _record(cfg.replace(test_responses=test))
        rec.history = [{"epoch": 1, "loss": 2.0, "val_mean_auc": 0.6}, {"epoch": 2, "loss": 1.5, "val_mean_auc": 0.7}]
        rec.best_epoch = 2
        store.save_record(rec, tmp_path)
    h = store.load_histories(store.load_records(tmp_path))
    assert len(h) == 2 and list(h["epoch"]) == [1, 2] and set(h["best_epoch"]) == {2}
    assert list(h["val_mean_auc"]) == [0.6, 0.7] and set(h["seed"]) == {1} and set(h["method"]) == {"vna"}
    assert cfg.group_key() == cfg.replace(seed=9).group_key() != cfg.replace(epochs=9).group_key()


def test_runs_folder_default_and_table_columns(monkeypatch):
    monkeypatch.delenv("VNA_RUNS_DIR", raising=False)
    assert store.runs_dir() == store.published_dir().parent / "_build" / "runs"
    summary = tables.summarize(pd.DataFrame())
    row = {"dataset": "simulated", "method": "vna", "split": "images", "test_responses": "trials", "n_seeds": 1,
           "encoding_auc": float("nan"), "encoding_auc_ci": float("nan"), "decoding_auc": 0.7,
           "decoding_auc_ci": float("nan"), "mean_auc": 0.7, "mean_auc_ci": 0.01}
    shown = tables.format_table(pd.DataFrame([row]))
    assert list(shown.columns) == ["dataset", "method", "protocol", "seeds", "encoding AUC", "decoding AUC",
                                   "average AUC", "paper (stand-in for)", "paper enc / dec / avg"]
    r = shown.iloc[0]
    assert (r["encoding AUC"], r["decoding AUC"], r["average AUC"]) == ("n/a", "0.7000", "0.7000 ± 0.0100")
    assert (r["paper (stand-in for)"], r["paper enc / dec / avg"]) == ("—", "—") and r["seeds"] == 1
    assert list(tables.format_table(pd.DataFrame([row]), with_paper=False).columns)[-1] == "average AUC"
    assert summary.empty


# ---------------------------------------------------------- details the mutation sample asked for
def test_record_fields_and_the_loaded_columns(tmp_path):
    """What a record stores and what load_records reads back from it, column by column."""
    cfg = RunConfig(dataset="cowley2023-v4", method="vna", seed=2, threads=2)
    rec = record.RunRecord(cfg, {"paper": METRICS}, 3.0, "cpu", simulated=True,
                           history=[{"epoch": np.int64(1), "loss": np.float32(2.5), "note": "x"}],
                           instances={"encoding_auc": [0.7, 0.9], "decoding_auc": [0.9, 0.9]})
    data = rec.to_json()
    assert data["training_key"] == cfg.replace(device="cpu").training_key() and data["shared_training"] is False
    assert data["simulated"] is True  # told so, whatever the dataset's name
    assert data["history"] == [{"epoch": 1.0, "loss": 2.5, "note": "x"}]
    assert type(data["history"][0]["loss"]) is float and type(data["history"][0]["epoch"]) is float
    rec.source = "side"
    path = store.save_record(rec, tmp_path)
    assert path.stat().st_mode & 0o777 == 0o644  # readable by the group that shares the grid
    row = store.load_records(tmp_path).iloc[0]
    assert (row["seconds"], row["device"], row["threads"], row["source"], row["simulated"]) == (3.0, "cpu", 2,
                                                                                                 "side", True)


def test_the_record_of_a_run_in_view(tmp_path):
    """RunRecord.from_run records any trained model's evaluation (e.g. a user's own loop's)."""
    from types import SimpleNamespace

    from vna.data import PairedData
    from vna.data.preprocess import PairedParts
    import torch

    def part(n, simulated=False):
        return PairedData(torch.zeros(n, 1, 8, 8), torch.zeros(2 * n, 3), torch.arange(n).repeat(2),
                          {"simulated": simulated})

    cfg = RunConfig(dataset="cowley2023-v4", method="direct_encoder")
    evs = {"paper": SimpleNamespace(metrics=METRICS, per_instance={}, scores=None)}
    rec = record.RunRecord.from_run(cfg, evs, PairedParts(part(6), part(4, simulated=True), None), [], seconds=2.0,
                                    device="cpu")
    assert rec.source == "grid" and rec.shared_training is False and rec.train_seconds == 2.0
    assert rec.simulated is True and rec.sizes["test_images"] == 4 and "val_images" not in rec.sizes
    rec = record.RunRecord.from_run(cfg, evs, PairedParts(part(6), part(4), part(3)), [], seconds=2.0, device="cpu",
                                    train_seconds=1.5, shared_training=True)
    assert rec.sizes["val_images"] == 3 and rec.train_seconds == 1.5 and rec.shared_training is True
    assert rec.instances is None  # no per-instance AUCs given, none written
    ran_on = record.RunRecord.from_run(cfg.replace(device="cuda"), evs, rec.parts, [], seconds=1.0, device="cpu")
    assert ran_on.device == "cpu"  # the device the run used, not the config's wish


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the CPU-only answer")
def test_resolved_device_on_a_machine_without_a_gpu():
    assert record.resolved_device() == record.resolved_device("auto") == "cpu"
    assert store.published_dir().name == "results" and store.published_dir().is_dir()


def test_histories_skip_only_the_repeated_training(tmp_path):
    for seed in (1, 2):
        cfg = RunConfig(dataset="simulated", seed=seed)
        for test in ("trials", "mean"):
            rec = _record(cfg.replace(test_responses=test))
            rec.history = [{"epoch": 1, "loss": float(seed)}]
            store.save_record(rec, tmp_path)
    h = store.load_histories(store.load_records(tmp_path).sort_values("seed"))
    assert sorted(h["seed"]) == [1, 2] and {"split", "test_responses"} <= set(h.columns)


def test_summary_and_table_columns_hold_when_a_metric_is_missing_or_nothing_matches(tmp_path):
    for s in range(2):
        store.save_record(_record(RunConfig(dataset="simulated", seed=s), encoding_auc=float("nan")), tmp_path)
    store.save_record(_record(RunConfig(dataset="simulated", seed=0, epochs=9)), tmp_path)
    summary = tables.summarize(store.load_records(tmp_path))
    assert list(summary.columns) == list(tables.summarize(pd.DataFrame()).columns)
    assert "responses" in summary.columns and summary["encoding_auc"].isna().sum() == 1
    table, notes = tables.select_groups(summary)
    assert "index" not in table.columns and len(notes) == 1
    assert f"not {RunConfig(dataset='simulated', epochs=9).group_key()} (1 seeds)" in notes[0]
    nothing, _ = tables.select_groups(summary, [RunConfig(dataset="simulated", epochs=99)])
    assert nothing.empty and list(nothing.columns) == list(summary.columns)
