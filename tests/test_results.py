"""The results store (vna.results) and the grid command (vna.cli)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vna import results
from vna.cli import DATASET_DEFAULTS, grid_configs, main, quick_config
from vna.config import RunConfig

METRICS = {"encoding_auc": 0.8, "decoding_auc": 0.9, "mean_auc": 0.85, "encoding_top1": 0.1,
           "encoding_top5": 0.3, "decoding_top1": 0.2, "decoding_top5": 0.5}


def _record(cfg: RunConfig, **metrics) -> dict:
    m = dict(METRICS, **metrics)
    m["mean_auc"] = 0.5 * (m["encoding_auc"] + m["decoding_auc"])
    return results.make_record(cfg, m, seconds=1.5, device="cpu", history=[{"epoch": 1, "loss": 2.0}])


def test_record_path_and_roundtrip(tmp_path):
    cfg = RunConfig(dataset="simulated", method="vna", seed=3)
    path = results.save_record(_record(cfg), tmp_path)
    assert path == tmp_path / "simulated" / f"vna-{cfg.key()}.json"
    rec = results.read_record(path)
    assert rec["config"] == cfg.to_dict()
    assert rec["seed"] == 3 and rec["metrics"]["decoding_auc"] == 0.9
    assert set(rec["versions"]) == {"python", "torch", "numpy", "vna"}
    assert rec["simulated"] is True
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_write_is_atomic(tmp_path, monkeypatch):
    cfg = RunConfig(dataset="simulated", seed=1)

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(results.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        results.save_record(_record(cfg), tmp_path)
    folder = tmp_path / "simulated"
    assert not results.record_path(cfg, tmp_path).exists()
    assert list(folder.iterdir()) == []  # the temporary file was removed
    assert not results.is_done(cfg, tmp_path)


def test_existing_record_is_kept_unless_overwrite(tmp_path):
    cfg = RunConfig(dataset="simulated")
    results.save_record(_record(cfg, encoding_auc=0.7), tmp_path)
    results.save_record(_record(cfg, encoding_auc=0.6), tmp_path)
    assert results.read_record(results.record_path(cfg, tmp_path))["metrics"]["encoding_auc"] == 0.7
    results.save_record(_record(cfg, encoding_auc=0.6), tmp_path, overwrite=True)
    assert results.read_record(results.record_path(cfg, tmp_path))["metrics"]["encoding_auc"] == 0.6


def test_other_parameters_add_records(tmp_path):
    a, b = RunConfig(dataset="simulated", epochs=5), RunConfig(dataset="simulated", epochs=6)
    results.save_record(_record(a), tmp_path)
    results.save_record(_record(b), tmp_path)
    df = results.load_records(tmp_path)
    assert sorted(df["epochs"]) == [5, 6]
    assert df["key"].nunique() == 2


def test_device_does_not_change_the_key(tmp_path):
    cpu, gpu = RunConfig(device="cpu"), RunConfig(device="cuda")
    assert results.record_path(cpu, tmp_path) == results.record_path(gpu, tmp_path)


def test_truncated_record_is_not_done_and_named(tmp_path):
    cfg = RunConfig(dataset="simulated")
    path = results.save_record(_record(cfg), tmp_path)
    path.write_text(path.read_text()[:40])
    assert not results.is_done(cfg, tmp_path)
    with pytest.raises(ValueError, match=path.name):
        results.load_records(tmp_path)


def test_record_key_must_match_config(tmp_path):
    rec = _record(RunConfig())
    rec["key"] = "0" * 12
    with pytest.raises(ValueError, match="does not match"):
        results.save_record(rec, tmp_path)


def test_make_record_requires_metrics():
    with pytest.raises(ValueError, match="decoding_auc"):
        results.make_record(RunConfig(), {"encoding_auc": 0.5, "mean_auc": 0.5}, seconds=1, device="cpu")


def test_run_or_load_skips_finished_runs(tmp_path, monkeypatch):
    import vna.pipeline

    calls = []

    class Out:
        def __init__(self, cfg):
            import torch

            from vna.data.paired import PairedData

            pd_ = PairedData(torch.zeros(2, 1, 64, 64), torch.zeros(2, 3), torch.tensor([0, 1]), {})
            self.model, self.history, self.metrics = None, [{"epoch": 1, "loss": 1.0}], dict(METRICS)
            self.train = self.test = pd_
            self.seconds, self.device = 0.25, "cpu"

    def fake_run(cfg, *, data_dir=None, progress=True):
        calls.append(cfg.seed)
        return Out(cfg)

    monkeypatch.setattr(vna.pipeline, "run", fake_run)
    cfg = RunConfig(dataset="simulated", seed=4)
    rec, out = results.run_or_load(cfg, tmp_path)
    assert out is not None and calls == [4]
    assert rec["sizes"]["test_images"] == 2 and rec["seconds"] == 0.25
    rec2, out2 = results.run_or_load(cfg, tmp_path)
    assert out2 is None and calls == [4]  # skipped
    assert rec2["metrics"] == rec["metrics"]
    results.run_or_load(cfg.replace(seed=5), tmp_path)
    assert calls == [4, 5]


def test_summary_matches_hand_computation(tmp_path):
    enc = [0.8, 0.9, 1.0]
    dec = [0.70, 0.74, 0.72]
    for s, (e, d) in enumerate(zip(enc, dec)):
        results.save_record(_record(RunConfig(dataset="simulated", seed=s), encoding_auc=e, decoding_auc=d), tmp_path)
    results.save_record(_record(RunConfig(dataset="simulated", method="direct_encoder", seed=0)), tmp_path)
    summary = results.summarize(results.load_records(tmp_path))
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


def test_main_table_one_row_per_dataset_method(tmp_path):
    for s in range(3):
        results.save_record(_record(RunConfig(dataset="simulated", seed=s, epochs=50)), tmp_path)
    results.save_record(_record(RunConfig(dataset="simulated", seed=0, epochs=6), encoding_auc=0.1), tmp_path)
    results.save_record(_record(RunConfig(dataset="simulated", method="direct_decoder")), tmp_path)
    summary = results.summarize(results.load_records(tmp_path))
    assert len(summary) == 3  # two vna groups and one direct_decoder group
    table = results.main_table(summary)
    assert list(table["method"]) == ["vna", "direct_decoder"]
    assert table.iloc[0]["epochs"] == 50 and table.iloc[0]["n_seeds"] == 3
    shown = results.format_table(table)
    assert shown.iloc[0]["encoding AUC"].startswith("0.8000 ± ")
    assert shown.iloc[1]["encoding AUC"] == "0.8000"  # one seed: no interval


def test_format_table_shows_paper_values_for_stand_ins(tmp_path):
    results.save_record(_record(RunConfig(dataset="cowley2023-v4", method="vna")), tmp_path)
    table = results.main_table(results.summarize(results.load_records(tmp_path)))
    shown = results.format_table(table)
    assert shown.iloc[0]["paper (stand-in for)"] == "Macaque-synthetic"
    assert shown.iloc[0]["paper enc / dec / avg"] == "0.9762 / 0.9771 / 0.9765"


def test_paper_average_check():
    t = results.paper_average_check()
    assert len(t) == 9
    consistent = t[t["consistent"]]
    assert list(zip(consistent["paper_dataset"], consistent["method"])) == [("Mouse-movie", "vna")]
    face_de = t[(t.paper_dataset == "Macaque-face") & (t.method == "direct_encoder")].iloc[0]
    assert face_de["mean_of_columns"] == pytest.approx((0.8489 + 0.9248) / 2)
    assert face_de["difference"] == pytest.approx(-0.00715)
    assert (t["difference"] <= 0).all()


def test_load_records_empty(tmp_path):
    df = results.load_records(tmp_path)
    assert df.empty and "encoding_auc" in df.columns
    assert results.summarize(df).empty


# ------------------------------------------------------------------------------------------------ cli
def test_grid_configs():
    cfgs = grid_configs(["simulated", "antolik2016-v1"], ["vna", "direct_encoder"], [0, 1], epochs=7)
    assert len(cfgs) == 8
    assert {c.epochs for c in cfgs} == {7}
    assert {c.split for c in cfgs if c.dataset == "antolik2016-v1"} == {DATASET_DEFAULTS["antolik2016-v1"]["split"]}
    quick = grid_configs(["simulated"], ["vna"], [0], quick=True)[0]
    assert quick.epochs == 1 and quick.dataset_options["n_images"] < 300
    assert quick.key() != grid_configs(["simulated"], ["vna"], [0])[0].key()
    with pytest.raises(ValueError, match="unknown method"):
        grid_configs(["simulated"], ["nope"], [0])


def test_quick_config_keeps_other_settings():
    cfg = quick_config(RunConfig(dataset="cowley2023-v4", epochs=30, lr=0.01))
    assert cfg.epochs == 1 and cfg.lr == 0.01 and cfg.dataset_options == {} and cfg.responses == "mean"
    sim = quick_config(RunConfig(dataset="simulated"))
    assert sim.responses == "trials" and sim.dataset_options["n_images"] < 300


def test_reproduce_runs_then_skips(tmp_path, capsys):
    args = ["reproduce", "--datasets", "simulated", "--methods", "vna", "--seeds", "0", "--quick",
            "--results-dir", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "0 already in" in out and "1 to run" in out
    files = list((tmp_path / "simulated").glob("vna-*.json"))
    assert len(files) == 1
    rec = json.loads(files[0].read_text())
    assert rec["config"]["epochs"] == 1 and 0.0 <= rec["metrics"]["encoding_auc"] <= 1.0
    mtime = files[0].stat().st_mtime_ns
    assert main(args) == 0
    assert "1 already in" in capsys.readouterr().out
    assert files[0].stat().st_mtime_ns == mtime


def test_reproduce_rejects_unknown_dataset(tmp_path, capsys):
    assert main(["reproduce", "--datasets", "nope", "--results-dir", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err


def test_datasets_command(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "simulated" in out and "embedded" in out
