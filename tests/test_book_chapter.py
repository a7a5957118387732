"""vna.chapters.notebook: a chapter's set-up in one call (parameters -> RunConfigs, data note, compute note)."""
from __future__ import annotations

import dataclasses
import re
import sys
import types

import pytest
import torch

import vna
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
        ch.more_seeds()


def _trained_in_view(ch, **fit):
    """What a method chapter does in view: prepare, build, vna.fit (``fit`` overrides its settings)."""
    from vna.study.pipeline import prepare

    cfg = ch.cfg
    parts = prepare(cfg)
    torch.manual_seed(cfg.seed)
    model = vna.VNA(parts.train.n_neurons, latent_dim=cfg.latent_dim, temperature=cfg.temperature)
    kwargs = dict(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed, device=cfg.device,
                  progress=False, **fit)
    return model, vna.fit(model, parts.train, **kwargs), parts


def test_save_and_more_seeds_write_the_records_the_pipeline_writes(tmp_path, capsys):
    """A model trained in view is saved as the record vna.study.pipeline.run writes for the same config; the
    further seeds go through the pipeline; quick mode saves nothing; no absolute path is printed."""
    from vna.names import METHOD_NAMES
    from vna.study.pipeline import run
    from vna.study.store import read_record, record_path

    ch = method_chapter("vna", dataset="simulated", seeds=[0, 1], quick=True, device="cpu",
                        results_dir=str(tmp_path / "runs"), show=False)
    model, history, parts = _trained_in_view(ch)
    assert ch.save(model, history, parts) is None and ch.more_seeds() and not (tmp_path / "runs").exists()
    assert capsys.readouterr().out.count("quick: not saved") == 2
    ch.quick = False  # the same small runs, saved
    model, history, parts = _trained_in_view(ch)
    metrics = vna.evaluate(model, parts.test, ch.cfg.n_distractors, ch.cfg.seed, device="cpu")
    path = ch.save(model, history, parts)
    more = ch.more_seeds()
    assert sorted((tmp_path / "runs").rglob("*.json")) == sorted([path, record_path(ch.configs[1], tmp_path / "runs")])
    printed = capsys.readouterr().out
    assert "record ->" in printed and str(tmp_path) not in printed
    saved = read_record(path).to_json()
    piped = run(ch.cfg, progress=False).to_json()
    for field in ("key", "config", "metrics", "metrics_by_score", "best_epoch", "sizes", "source"):
        assert saved[field] == piped[field] if field != "source" else saved[field] == "notebook", field
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in saved["history"]] == [
        {k: v for k, v in h.items() if k != "seconds"} for h in piped["history"]]
    assert saved["metrics"] == pytest.approx(metrics)
    table = ch.metrics_table(metrics, more)
    assert list(table.index) == [0, 1] and "mean_auc" in table.columns
    summary = ch.summary(metrics).data
    assert METHOD_NAMES["vna"] in summary and "encoding AUC" in summary


@pytest.mark.parametrize("wrong, words", [
    (dict(model=dict(latent_dim=8)), "chapter.cfg builds"),
    (dict(fit=dict(memory_format="contiguous")), "memory_format: 'contiguous' (chapter.cfg: 'channels_last')"),
    (dict(epochs=1), "epochs: 1 (chapter.cfg: 2)"),
])
def test_save_refuses_a_model_the_record_would_misname(tmp_path, wrong, words):
    ch = method_chapter("vna", dataset="simulated", seeds=[0], quick=True, device="cpu",
                        results_dir=str(tmp_path / "runs"), show=False)
    ch.quick = False
    from vna.study.pipeline import prepare

    cfg = ch.cfg
    parts = prepare(cfg)
    kwargs = {"latent_dim": cfg.latent_dim, **wrong.get("model", {})}
    model = vna.VNA(parts.train.n_neurons, **kwargs)
    history = vna.fit(model, parts.train, epochs=wrong.get("epochs", cfg.epochs), batch_size=cfg.batch_size,
                      device="cpu", progress=False, **wrong.get("fit", {}))
    with pytest.raises(ValueError, match=re.escape(words)):
        ch.save(model, history, parts)
    assert not (tmp_path / "runs").exists()


def test_the_published_grid_is_refused_before_training():
    from vna.study.store import PublishedResultsError, published_dir

    pub = published_dir()
    if pub is None:
        pytest.skip("not a checkout")
    with pytest.raises(PublishedResultsError):  # at the chapter's set-up, before any training
        method_chapter("vna", dataset="simulated", seeds=[0], results_dir=str(pub), show=False)
    assert method_chapter("vna", dataset="simulated", seeds=[0], results_dir=str(pub), quick=True, show=False)
