"""The validation sweep (vna.study.tuning): the same settings for every method, chosen on validation AUC only,
and the grids training with the choice."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vna import RunConfig
from vna.methods import METHODS
from vna.study import analyses, grids, store, tuning
from vna.study.grids import STUDY_PROTOCOLS, STUDY_TRAINING, study_grid
from vna.study.record import RunRecord


def test_the_sweep_is_the_same_small_grid_for_every_method():
    configs = grids.tuning_grid(datasets=["cowley2023-v4"])
    assert len(grids.TUNING_SETTINGS) == 18
    assert (1e-3, 0.0, 64) in grids.TUNING_SETTINGS  # RunConfig's defaults are one of the settings
    assert len(configs) == 18 * len(METHODS) * 2  # held-out images and held-out trials; no in-sample
    by_method = {m: {(c.lr, c.weight_decay, c.batch_size, c.split) for c in configs if c.method == m} for m in METHODS}
    assert by_method["vna"] == by_method["direct_encoder"] == by_method["direct_decoder"]
    for c in configs:
        assert c.split != "none" and c.seed in grids.TUNING_SEEDS
        assert {k: getattr(c, k) for k in STUDY_TRAINING} == STUDY_TRAINING  # early stopping as the study
    assert len({c.key() for c in configs}) == len(configs)


def test_the_sweep_covers_every_study_dataset_and_its_held_out_trainings():
    configs = grids.tuning_grid()
    cells = {(c.dataset, c.split, c.responses) for c in configs}
    for d, protocols in STUDY_PROTOCOLS.items():
        assert {(d, s, r) for s, r, _ in protocols if s != "none"} == {x for x in cells if x[0] == d}
    with pytest.raises(ValueError, match=r"the sweep has no dataset\(s\) \['nope'\]"):
        grids.tuning_grid(datasets=["nope"])


def _history(val: float, best: int = 3) -> list[dict]:
    return [{"epoch": e, "loss": 1.0 / e, "val_mean_auc": val - 0.05 * abs(e - best)} for e in range(1, best + 3)]


def _save_sweep(root, vals: dict, test_auc=0.6) -> None:
    """A complete sweep for cowley2023-v4 × vna × held-out images, with validation AUC ``vals[setting]``
    (default 0.7) and the same test AUC everywhere."""
    for c in grids.tuning_grid(datasets=["cowley2023-v4"], methods=["vna"]):
        if c.split != "images":
            continue
        val = vals.get((c.lr, c.weight_decay, c.batch_size), 0.7)
        m = {"encoding_auc": test_auc, "decoding_auc": test_auc, "mean_auc": test_auc}
        rec = RunRecord(c, {"paper": m}, 1.0, "cpu", history=_history(val), best_epoch=3,
                        instances={"encoding_auc": np.full(4, test_auc), "decoding_auc": np.full(4, test_auc)})
        store.save_record(rec, root)


def test_choose_takes_the_best_validation_auc_and_never_reads_the_test_part(tmp_path):
    _save_sweep(tmp_path, {(3e-3, 1e-4, 32): 0.81, (3e-4, 0.0, 128): 0.79})
    records = store.load_records(tmp_path)
    val = tuning.validation_aucs(records)
    assert len(val) == 18 and "mean_auc" not in val.columns and "encoding_auc" not in val.columns
    chosen = tuning.choose(val)
    assert len(chosen) == 1
    row = chosen.iloc[0]
    assert (row["lr"], row["weight_decay"], row["batch_size"]) == (3e-3, 1e-4, 32)
    assert row["val_mean_auc"] == pytest.approx(0.81) and row["default_val_mean_auc"] == pytest.approx(0.70)
    table = tuning.tuning_table(val)
    assert len(table) == 18 and table["chosen"].sum() == 1
    assert table.loc[table["chosen"], "lr"].item() == 3e-3


def test_a_tie_keeps_the_defaults(tmp_path):
    _save_sweep(tmp_path, {})  # every setting validates at 0.7
    row = tuning.choose(tuning.validation_aucs(store.load_records(tmp_path))).iloc[0]
    assert (row["lr"], row["weight_decay"], row["batch_size"]) == (1e-3, 0.0, 64)


def test_a_record_without_validation_cannot_choose(tmp_path):
    c = RunConfig(dataset="simulated", seed=0)
    m = {"encoding_auc": 0.6, "decoding_auc": 0.6, "mean_auc": 0.6}
    store.save_record(RunRecord(c, {"paper": m}, 1.0, "cpu", history=[{"epoch": 1, "loss": 1.0}], best_epoch=1,
                                instances={"encoding_auc": np.full(2, 0.6), "decoding_auc": np.full(2, 0.6)}), tmp_path)
    with pytest.raises(ValueError, match="no validation AUC at its chosen epoch 1"):
        tuning.validation_aucs(store.load_records(tmp_path))


def test_write_tuned_needs_the_whole_sweep_and_writes_atomically(tmp_path):
    _save_sweep(tmp_path, {(3e-4, 1e-4, 128): 0.9})
    with pytest.raises(ValueError, match=r"the sweep in .* is incomplete: 18 of 108 runs have records"):
        tuning.write_tuned(tmp_path)  # the other methods and the held-out trials protocol are missing
    assert not (tmp_path / grids.TUNED_FILE).exists() and not list(tmp_path.glob(".*.tmp"))


def test_write_tuned_writes_the_choice_that_read_tuned_reads(tmp_path, monkeypatch):
    _save_sweep(tmp_path, {(3e-4, 1e-4, 128): 0.9})
    real = tuning.tuning_grid  # the sweep of one cell: cowley2023-v4 x vna x held-out images
    monkeypatch.setattr(tuning, "tuning_grid", lambda datasets=None: [
        c for c in real(datasets=datasets, methods=["vna"]) if c.split == "images"])
    path = tuning.write_tuned(tmp_path)
    assert path == tmp_path / grids.TUNED_FILE and not list(tmp_path.glob(".*.tmp"))
    table = grids.read_tuned(tmp_path)
    assert grids.tuned_fields("cowley2023-v4", "vna", "images", table) == {"lr": 3e-4, "weight_decay": 1e-4,
                                                                            "batch_size": 128}


def test_write_tuned_refuses_an_incomplete_sweep_given_as_records(tmp_path):
    _save_sweep(tmp_path, {(3e-4, 1e-4, 128): 0.9})
    with pytest.raises(ValueError, match="is incomplete"):
        tuning.write_tuned(tmp_path, records=store.load_records(tmp_path))


def test_tuned_fields_follow_the_table():
    table = pd.DataFrame([{"dataset": "cowley2023-v4", "method": "direct_decoder", "split": "images",
                           "responses": "trials", "lr": 3e-3, "weight_decay": 1e-4, "batch_size": 32}])
    chosen = {"lr": 3e-3, "weight_decay": 1e-4, "batch_size": 32}
    assert grids.tuned_fields("cowley2023-v4", "direct_decoder", "images", table) == chosen
    assert grids.tuned_fields("cowley2023-v4", "direct_decoder", "none", table) == chosen  # in-sample: images'
    assert grids.tuned_fields("cowley2023-v4", "direct_decoder", "trials", table) == {}
    assert grids.tuned_fields("cowley2023-v4", "ridge_encoder", "images", table) == {}
    assert grids.tuned_fields("folder:/x", "vna", "images", table) == {}
    assert grids.tuned_fields("cowley2023-v4", "direct_decoder", "images", None) == {}


def test_the_grids_train_with_the_choice(monkeypatch, tmp_path):
    table = pd.DataFrame([{"dataset": "cowley2023-v4", "method": m, "split": "images", "responses": "trials",
                           "lr": 3e-4, "weight_decay": 1e-4, "batch_size": 128} for m in METHODS])
    table.to_csv(tmp_path / grids.TUNED_FILE, index=False)
    monkeypatch.setattr(grids, "published_dir", lambda: tmp_path)
    assert grids.read_tuned() is not None
    study = study_grid(["cowley2023-v4"], seeds=[0])
    for c in study:
        tuned = (c.lr, c.weight_decay, c.batch_size) == (3e-4, 1e-4, 128)
        assert tuned == (c.split in ("images", "none")), c
    size = analyses.size_grid(seeds=[0])
    assert size and all((c.lr, c.batch_size) == (3e-4, 128) for c in size)
    settings = analyses.settings_grid(datasets=["cowley2023-v4"], seeds=[0])
    assert {c.batch_size for c in settings} == {16, 32, 64, 128, 256}  # the sweep's own variable wins
    assert all(c.lr == 3e-4 for c in settings)
    linear = analyses.linear_grid(datasets=["cowley2023-v4"], seeds=[0])
    assert all(c.lr == RunConfig.lr for c in linear)
    assert all(c.lr == 1e-3 for c in grids.study_grid(["cowley2023-v4"], seeds=[0], lr=1e-3))  # overrides win


def test_a_broken_tuned_file_is_named(monkeypatch, tmp_path):
    (tmp_path / grids.TUNED_FILE).write_text("dataset,method\ncowley2023-v4,vna\n")
    monkeypatch.setattr(grids, "published_dir", lambda: tmp_path)
    with pytest.raises(ValueError, match=r"tuned.csv lacks the column\(s\) \['split', 'responses', 'lr'"):
        study_grid(["cowley2023-v4"], seeds=[0])


def test_sweep_records_are_the_sweeps_own(tmp_path):
    _save_sweep(tmp_path, {})
    other = RunConfig(dataset="cowley2023-v4", method="vna", seed=0, **STUDY_TRAINING)  # not a sweep setting
    m = {"encoding_auc": 0.6, "decoding_auc": 0.6, "mean_auc": 0.6}
    store.save_record(RunRecord(other.replace(lr=5e-4), {"paper": m}, 1.0, "cpu",
                                instances={"encoding_auc": np.full(2, 0.6), "decoding_auc": np.full(2, 0.6)}), tmp_path)
    records = store.load_records(tmp_path)
    assert len(records) == 19 and len(tuning.sweep_records(records)) == 18


def test_verdict_changes_names_each_changed_rule_and_cell():
    cell = {"dataset": "cowley2023-v4", "split": "images", "test_responses": "trials", "counted": True}
    before = pd.DataFrame([{"claim": "C1", **cell, "paper": "replicates", "cosine": "inconclusive",
                            "overall": "depends on the score"},
                           {"claim": "C2", **cell, "paper": "replicates", "cosine": "replicates", "overall": "replicates"}])
    after = pd.DataFrame([{"claim": "C1", **cell, "paper": "inconclusive", "cosine": "inconclusive",
                           "overall": "inconclusive"},
                          {"claim": "C2", **cell, "paper": "replicates", "cosine": "replicates", "overall": "replicates"},
                          {"claim": "C3", **cell, "paper": "replicates", "cosine": "replicates", "overall": "replicates"}])
    changes = tuning.verdict_changes(before, after)
    got = set(zip(changes["claim"], changes["rule"], changes["before"], changes["after"]))
    assert got == {("C1", "paper", "replicates", "inconclusive"),
                   ("C1", "overall", "depends on the score", "inconclusive"),
                   ("C3", "paper", "(no verdict)", "replicates"), ("C3", "cosine", "(no verdict)", "replicates"),
                   ("C3", "overall", "(no verdict)", "replicates")}
    assert tuning.verdict_changes(after, after).empty
