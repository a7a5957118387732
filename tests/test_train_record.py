"""A CPU run's record before and after ``fit`` was reorganised (the plain loop first in vna/train.py, the CUDA
graph step in vna/cuda_graph.py): the same key, config, metrics under every scoring rule, history (every
epoch's losses and validation AUCs), best epoch and sizes as the record the starting commit (514d6b5) made.

``tests/data/fit_records_514d6b5.json`` holds those parts of six small records (three methods x both memory
formats; three epochs with a validation part) made at 514d6b5 by :func:`stable_records`
(``python tests/test_train_record.py OUT.json``). Same seed, same numbers -- on the same kind of CPU: another
instruction set makes PyTorch's CPU kernels sum in another order (vna.study.record.versions), so on a CPU
other than the fixture's the numbers are compared to rounding drift instead of bit for bit.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

FIXTURE = Path(__file__).resolve().parent / "data" / "fit_records_514d6b5.json"
OPTIONS = {"n_images": 60, "n_trials": 4, "n_neurons": 30}
STABLE = ("key", "group", "training_key", "config", "metrics", "metrics_by_score", "history", "best_epoch",
          "sizes")


def configs():
    from vna.study.config import RunConfig

    for fmt in ("contiguous", "channels_last"):
        for method in ("vna", "direct_encoder", "direct_decoder"):
            yield RunConfig(dataset="simulated", dataset_options=OPTIONS, method=method, epochs=3, batch_size=32,
                            latent_dim=16, val_fraction=0.2, patience=2, memory_format=fmt, device="cpu", seed=1)


def stable_records() -> dict[str, dict]:
    """The parts of each config's record that the code's numbers decide (no timings, dates or versions)."""
    from vna.study.pipeline import run

    out = {}
    for cfg in configs():
        rec = run(cfg, progress=False).to_json()
        part = {k: rec.get(k) for k in STABLE}
        part["history"] = [{k: v for k, v in h.items() if k != "seconds"} for h in rec["history"]]
        out[f"{cfg.method}/{cfg.memory_format}"] = part
    return out


def _same_cpu(fixture: dict) -> bool:
    from vna.study.record import versions

    v = versions()
    return (v["torch"], v["cpu"], v["cpu_capability"]) == (fixture["torch"], fixture["cpu"],
                                                           fixture["cpu_capability"])


def _close(new, old, path=""):
    """Equal structure and strings; numbers within rounding drift (losses 1e-3 relative, AUCs 0.02)."""
    if isinstance(old, dict):
        assert isinstance(new, dict) and new.keys() == old.keys(), path
        for k in old:
            _close(new[k], old[k], f"{path}/{k}")
    elif isinstance(old, list):
        assert isinstance(new, list) and len(new) == len(old), path
        for k, (a, b) in enumerate(zip(new, old)):
            _close(a, b, f"{path}[{k}]")
    elif isinstance(old, float) and not isinstance(old, bool):
        tol = dict(rel=1e-3) if "loss" in path else dict(abs=0.02)
        assert new == pytest.approx(old, **tol), path
    else:
        assert new == old, path


@pytest.mark.slow
def test_cpu_run_records_are_identical_to_the_starting_commit():
    fixture = json.loads(FIXTURE.read_text())
    with torch.random.fork_rng():
        new = stable_records()
    assert sorted(new) == sorted(fixture["records"])
    for name, old in fixture["records"].items():
        assert new[name]["key"] == old["key"] and new[name]["config"] == old["config"], name
        assert len(new[name]["history"]) == len(old["history"]) and new[name]["best_epoch"] == old["best_epoch"]
        if _same_cpu(fixture):
            assert new[name] == old, f"{name}: the record's numbers changed"
        else:
            _close(new[name], old, name)
    # the fixture covers what it claims: validation in every epoch, every scoring rule
    assert all("val_mean_auc" in h for r in fixture["records"].values() for h in r["history"])
    assert all(set(r["metrics_by_score"]) == {"cosine", "centred"} for r in fixture["records"].values())


if __name__ == "__main__":  # regenerate the fixture: python tests/test_train_record.py OUT.json COMMIT
    from vna.study.record import versions

    v = versions()
    doc = {"made_at": sys.argv[2], "torch": v["torch"], "cpu": v["cpu"], "cpu_capability": v["cpu_capability"],
           "records": stable_records()}
    Path(sys.argv[1]).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
