"""Scaling a grid out (issue 10): submitit's local executor (the Slurm path without Slurm) runs two tiny runs
into one results folder, and shards run into one folder never write the same record."""
from __future__ import annotations

import json

import pytest

from vna.study import store, runner
from vna.study.grids import study_grid


def _two_tiny_runs():
    grid = study_grid(["simulated"], ["vna"], [0, 1], quick=True)
    grid = [c for c in grid if c.split == "images" and c.eval_responses == "trials"]
    assert len(grid) == 2 and len({c.training_key() for c in grid}) == 2  # two trainings, two records
    return grid


@pytest.mark.slow
def test_submitit_local_executor_runs_two_tiny_runs_into_one_folder(tmp_path):
    pytest.importorskip("submitit", reason="submitit (pinned in requirements) is not installed")
    grid = _two_tiny_runs()
    lines = []
    report = runner.run_grid(grid, tmp_path, executor="submitit-local", progress=False, log=lines.append,
                             slurm={"time_min": 5})
    assert report.ok, (report.failed, lines)
    assert report.ran == 2 and report.already == 0 and len(lines) == 2
    assert all(store.is_done(c, tmp_path) for c in grid)
    records = sorted((tmp_path / "simulated").glob("vna-*.json"))
    assert len(records) == 2
    seeds = sorted(json.loads(p.read_text())["config"]["seed"] for p in records)
    assert seeds == [0, 1]
    assert not list((tmp_path / "simulated").glob(".*"))  # no temporary file left by either job
    # each job ran in its own process and left its log in the executor's folder
    logs = list((tmp_path / ".submitit").rglob("*_log.out"))
    assert len(logs) == 2 and not (tmp_path / ".submitit" / "%j").exists()
    again = runner.run_grid(grid, tmp_path, executor="submitit-local", progress=False, log=lines.append)
    assert again.ok and again.ran == 0 and again.already == 2  # resumable: nothing submitted twice


def test_shards_run_into_one_folder_write_each_record_once(tmp_path, monkeypatch):
    """Two shards of one grid, run one after the other into one folder (as two array jobs would), write
    disjoint sets of records that together are the grid; training is replaced by a stand-in record writer."""
    grid = study_grid(["simulated"], ["vna", "direct_encoder", "direct_decoder"], [0, 1, 2, 3], quick=True)
    written: list[str] = []

    def fake_run_task(cfg_dicts, results_dir, data_dir, publish, source):
        from vna.study.config import RunConfig

        out = []
        for d in cfg_dicts:
            c = RunConfig.from_dict(d)
            written.append(c.key())
            out.append({"dataset": c.dataset, "method": c.method, "protocol": c.protocol, "seed": c.seed,
                        "encoding_auc": 0.5, "decoding_auc": 0.5, "seconds": 0.0, "best_epoch": 1, "path": ""})
        return out

    monkeypatch.setattr(runner, "run_task", fake_run_task)
    reports = [runner.run_grid(grid, tmp_path / "runs", shard=(i, 2), progress=False, log=lambda s: None)
               for i in (1, 2)]
    assert all(r.ok for r in reports)
    assert sum(r.total for r in reports) == len(grid) == sum(r.ran for r in reports)
    assert len(written) == len(set(written)) == len(grid)  # every record written once, by one shard
    assert set(written) == {c.key() for c in grid}
