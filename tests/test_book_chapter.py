"""vna.chapters.notebook: a chapter's set-up in one call (parameters -> RunConfigs, data note, compute note)."""
from __future__ import annotations

import dataclasses
import sys
import types

import pytest

from vna.chapters import notebook
from vna.study.config import RunConfig
from vna.study.grids import QUICK, quick_config
from vna.chapters.notebook import PARAMETERS, config_changes, data_chapter, method_chapter

GIVEN = {"dataset": "simulated", "split": "trials", "responses": "mean", "seeds": [3, 4], "epochs": 7,
         "batch_size": 32, "lr": 3e-4, "latent_dim": 16, "n_distractors": 5, "device": "cpu", "data_dir": None,
         "results_dir": None, "quick": False}


def test_every_parameter_reaches_the_runconfig():
    assert list(GIVEN) == list(PARAMETERS)  # the parameters cell of every chapter, in order
    ch = method_chapter("vna", {**GIVEN, "unrelated": 1, "np": object()}, show=False)  # globals() holds more
    assert [c.seed for c in ch.configs] == [3, 4]
    for c in ch.configs:
        assert (c.dataset, c.method, c.split, c.responses) == ("simulated", "vna", "trials", "mean")
        assert (c.epochs, c.batch_size, c.lr, c.latent_dim, c.n_distractors, c.device) == (7, 32, 3e-4, 16, 5, "cpu")
    assert ch.cfg is ch.configs[0] and ch.method == "vna" and not ch.quick
    assert ch.results_dir == notebook.default_results_dir()


def test_overrides_and_defaults():
    ch = method_chapter("direct_encoder", dataset="simulated", seeds=1, show=False)
    assert ch.seeds == [1] and ch.cfg.epochs == PARAMETERS["epochs"]
    with pytest.raises(ValueError, match="unknown chapter parameter"):
        method_chapter("vna", dataset="simulated", epoch=3, show=False)
    with pytest.raises(ValueError, match="unknown method"):
        method_chapter("clip", dataset="simulated", show=False)
    with pytest.raises(ValueError, match="seeds"):
        method_chapter("vna", dataset="simulated", seeds=[], show=False)
    with pytest.raises(ValueError, match="RunConfig.epochs"):
        method_chapter("vna", dataset="simulated", epochs="ten", show=False)


def test_quick_shrinks_every_seed_and_says_so():
    ch = method_chapter("direct_decoder", {**GIVEN, "quick": True}, show=False)
    for c in ch.configs:
        full = RunConfig(dataset="simulated", method="direct_decoder", split="trials", responses="mean", seed=c.seed,
                         epochs=7, batch_size=32, lr=3e-4, latent_dim=16, n_distractors=5, device="cpu")
        assert c == quick_config(full) and c.epochs <= QUICK["epochs"]
    assert "QUICK" in ch.notes_markdown()


def test_notes_name_data_compute_and_only_the_changed_fields(tmp_path, monkeypatch):
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    ch = method_chapter("vna", {**GIVEN, "seeds": [0]}, show=False)
    text = ch._repr_markdown_()
    assert text.startswith("**Data:**") and "**Compute:** cpu" in text and "**Mode:**" in text
    changed = config_changes(ch.cfg)
    defaults = RunConfig()
    assert changed and all(getattr(defaults, k) != v for k, v in changed.items())
    assert set(changed) == {f.name for f in dataclasses.fields(RunConfig)
                            if getattr(ch.cfg, f.name) != getattr(defaults, f.name)}
    assert "seed=" not in text  # seed 0 is the default
    for name in changed:
        assert f"`{name}=" in text
    assert "RunConfig(" not in text and str(tmp_path) not in text


def test_auto_without_real_data_is_simulated_and_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    ch = method_chapter("vna", show=False)
    assert ch.dataset == "simulated" and "SIMULATED" in ch.data_note and "SIMULATED" in ch.label
    assert str(tmp_path) not in ch.data_note and "$VNA_DATA_DIR" in ch.data_note


def test_auto_on_colab_downloads_the_real_recording(tmp_path, monkeypatch):
    """On Colab, 'auto' downloads the pinned files now (a stand-in load here) and uses the real recording."""
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    loaded = []
    monkeypatch.setattr(notebook, "load", lambda name, **kw: loaded.append(name))
    name, note = notebook.resolve_dataset("auto")
    assert name == notebook.DEFAULT_REAL_DATASET and "downloaded into" in note and loaded == [name]


def test_auto_on_colab_without_network_falls_back_to_simulated_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))

    def offline(name, **kw):
        raise notebook.MissingDataFile("x.npy is not cached and its download failed", reason="ConnectionError: offline")

    monkeypatch.setattr(notebook, "load", offline)
    name, note = notebook.resolve_dataset("auto")
    assert name == "simulated" and "nor downloadable" in note and "SIMULATED" in note


def test_data_dir_parameter_sets_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("VNA_DATA_DIR", raising=False)
    ch = data_chapter(dataset="simulated", data_dir=str(tmp_path), show=False)
    import os

    assert os.environ["VNA_DATA_DIR"] == str(tmp_path.resolve())
    assert ch.method is None and ch.cfg.dataset == "simulated" and "**Compute:**" not in ch.notes_markdown()
    with pytest.raises(ValueError, match="no method"):
        ch.run()


def test_run_saves_one_record_per_seed_and_prints_no_absolute_path(tmp_path, capsys):
    ch = method_chapter("vna", dataset="simulated", seeds=[0, 1], quick=True, device="cpu",
                        results_dir=str(tmp_path / "runs"), show=False)
    outs = ch.run()
    assert len(outs) == 2 and not (tmp_path / "runs").exists()  # quick: nothing saved
    assert "quick: not saved" in capsys.readouterr().out
    ch.quick = False  # the same small runs, saved
    outs = ch.run()
    saved = sorted((tmp_path / "runs").rglob("*.json"))
    assert len(saved) == 2
    printed = capsys.readouterr().out
    assert "record ->" in printed and str(tmp_path) not in printed
    table = ch.metrics_table(outs)
    assert list(table.index) == [0, 1] and "mean_auc" in table.columns
    summary = ch.summary(outs[0]).data
    assert "VNA" in summary and "encoding AUC" in summary


def test_the_published_grid_is_refused_before_training():
    from vna.study.results import PublishedResultsError, published_dir

    pub = published_dir()
    if pub is None:
        pytest.skip("not a checkout")
    ch = method_chapter("vna", dataset="simulated", seeds=[0], results_dir=str(pub), show=False)
    with pytest.raises(PublishedResultsError):
        ch.run()
