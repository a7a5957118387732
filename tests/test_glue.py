"""The glue every reported number passes through (issue "Tests that catch the mistakes that matter"):
evaluate's tasks and candidate sets, the pipeline's use of the config, and what fit optimises and validates.

Each test names the planted mistake it catches.
"""
from __future__ import annotations

import pytest
import torch

import vna
from vna import RunConfig, build_model
from vna.data import PairedData
from vna.metrics import discriminative_auc, top_k_accuracy
from vna.train import fit

from planted import planted

TINY = {"n_images": 40, "n_trials": 3, "n_neurons": 12}


class FixedScores(torch.nn.Module):
    """A 'model' whose score matrix is given (to test evaluate alone)."""

    def __init__(self, S):
        super().__init__()
        self.S = S
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def score(self, images, responses):
        return self.S


def _scored(seed=0, n_img=12, trials=3):
    g = torch.Generator().manual_seed(seed)
    match = torch.arange(n_img).repeat_interleave(trials)
    # rows favour the true response strongly, columns much less: encoding AUC != decoding AUC
    S = torch.randn(n_img, len(match), generator=g) + 3.0 * (torch.arange(n_img)[:, None] == match[None, :])
    S = S + 2.5 * torch.randn(n_img, 1, generator=g)  # an image-wise offset: hurts decoding only
    data = PairedData(torch.zeros(n_img, 1, 64, 64), torch.zeros(len(match), 2), match)
    return FixedScores(S), data, S, match


def test_evaluate_reads_encoding_from_rows_and_decoding_from_columns():
    """Catches: evaluate swapping the encoding and decoding tasks."""
    model, data, S, match = _scored()
    out = vna.evaluate(model, data, device="cpu")
    enc, dec = discriminative_auc(S, match, "encoding").mean, discriminative_auc(S, match, "decoding").mean
    assert abs(enc - dec) > 0.05  # the two tasks differ on this matrix, so a swap would show
    assert out["encoding_auc"] == pytest.approx(enc) and out["decoding_auc"] == pytest.approx(dec)
    assert out["mean_auc"] == pytest.approx((enc + dec) / 2)
    assert out["encoding_top1"] == top_k_accuracy(S, match, "encoding", 1)[1]
    assert out["decoding_top5"] == top_k_accuracy(S, match, "decoding", 5)[5]


def test_evaluate_top_k_uses_the_sampled_candidate_sets():
    """Catches: evaluate's top-k ignoring n_distractors (AUC and top-k must share the candidate sets)."""
    model, data, S, match = _scored(seed=1)
    full = vna.evaluate(model, data, device="cpu")
    two = vna.evaluate(model, data, n_distractors=2, seed=5, device="cpu")
    for task in ("encoding", "decoding"):
        assert two[f"{task}_top1"] == top_k_accuracy(S, match, task, 1, n_distractors=2, seed=5)[1]
        assert two[f"{task}_auc"] == pytest.approx(discriminative_auc(S, match, task, 2, seed=5).mean)
    assert two["decoding_top1"] > full["decoding_top1"] + 0.1  # 1 of 3 candidates is easier than 1 of 12


def _tiny(**kw):
    base = dict(dataset="simulated", epochs=2, batch_size=32, latent_dim=16, dataset_options=TINY, device="cpu")
    base.update(kw)
    return RunConfig(**base)


def test_pipeline_uses_the_configs_n_distractors():
    """Catches: pipeline.run ignoring cfg.n_distractors."""
    from vna.study.pipeline import run

    out = run(_tiny(method="direct_encoder", n_distractors=2, seed=3), progress=False)
    S, match, m = out.scores, out.parts.test.match, out.metrics["paper"]
    assert m["decoding_top1"] == top_k_accuracy(S, match, "decoding", 1, n_distractors=2, seed=3)[1]
    assert m["decoding_top1"] != top_k_accuracy(S, match, "decoding", 1)[1]
    assert m["encoding_auc"] == pytest.approx(discriminative_auc(S, match, "encoding", 2, seed=3).mean)


def test_pipeline_uses_the_configs_zscore():
    """Catches: pipeline.run / prepare ignoring cfg.zscore."""
    from vna.study.pipeline import prepare

    z = prepare(_tiny(zscore=True)).train.responses
    raw = prepare(_tiny(zscore=False)).train.responses
    torch.testing.assert_close(z.mean(0), torch.zeros(z.shape[1]), atol=1e-4, rtol=0)
    torch.testing.assert_close(z.std(0, unbiased=False), torch.ones(z.shape[1]), atol=1e-3, rtol=0)
    assert (raw >= 0).all() and float(raw.mean()) > 1.0  # spike counts, untouched
    assert torch.equal(raw, raw.round())


def test_pipeline_uses_split_responses_and_test_responses():
    """Catches: a config's protocol fields silently ignored."""
    from vna.study.pipeline import prepare

    trials = prepare(_tiny(split="trials"))
    assert trials.train.n_images == trials.test.n_images == TINY["n_images"]  # every image in both parts
    means = prepare(_tiny(split="images", test_responses="mean"))
    assert means.test.n_responses == means.test.n_images  # one trial mean per test image
    assert means.train.n_responses == means.train.n_images * TINY["n_trials"]  # training on single trials
    inside = prepare(_tiny(split="none"))
    assert torch.equal(inside.test.responses, inside.train.responses)  # in-sample: the very training pairs


@pytest.fixture(scope="module")
def planted_parts():
    return planted(n_images=60, seed=0), planted(n_images=20, seed=0, image_offset=500)


def test_fit_validates_on_the_validation_pairs(planted_parts):
    """Catches: fit computing its validation loss and AUC on the training set."""
    train, val = planted_parts
    model = build_model(RunConfig(method="direct_encoder", seed=0), train.n_neurons)
    hist = fit(model, train, epochs=3, batch_size=32, seed=0, device="cpu", progress=False, val=val)
    on_val = vna.evaluate(model, val, device="cpu")
    on_train = vna.evaluate(model, train, device="cpu")
    assert hist[-1]["val_encoding_auc"] == pytest.approx(on_val["encoding_auc"])
    assert hist[-1]["val_decoding_auc"] == pytest.approx(on_val["decoding_auc"])
    assert hist[-1]["val_encoding_auc"] != pytest.approx(on_train["encoding_auc"])
    assert hist[-1]["val_loss"] == pytest.approx(model.eval_loss(val.images, val.responses, val.match, 32))


@pytest.mark.slow
def test_early_stopping_keeps_the_best_epochs_weights(planted_parts):
    train, val = planted_parts
    model = build_model(RunConfig(method="vna", seed=1, latent_dim=16), train.n_neurons)
    hist = fit(model, train, epochs=6, batch_size=16, lr=3e-3, seed=1, device="cpu", progress=False, val=val,
               patience=2)
    best = max(hist, key=lambda h: h["val_mean_auc"])
    assert hist.best_epoch == best["epoch"]
    assert len(hist) <= 6 and (len(hist) == 6 or len(hist) - hist.best_epoch == 2)
    assert vna.evaluate(model, val, device="cpu")["mean_auc"] == pytest.approx(best["val_mean_auc"])


def test_fit_applies_weight_decay(planted_parts):
    """Catches: fit ignoring weight_decay."""
    train, _ = planted_parts
    norms = []
    for wd in (0.0, 0.5):
        model = build_model(RunConfig(method="direct_encoder", seed=0), train.n_neurons)
        fit(model, train, epochs=2, batch_size=32, seed=0, device="cpu", progress=False, weight_decay=wd)
        norms.append(float(model.head.weight.detach().norm()))
    assert norms[1] < 0.9 * norms[0]


def test_vna_learns_its_temperature_only_when_asked(planted_parts):
    """Catches: the temperature never being learned (logit_scale detached in the loss)."""
    train, _ = planted_parts
    for learn in (True, False):
        model = build_model(RunConfig(method="vna", seed=0, latent_dim=16, learn_temperature=learn), train.n_neurons)
        start = float(model.logit_scale.detach())
        fit(model, train, epochs=2, batch_size=16, lr=1e-2, seed=0, device="cpu", progress=False)
        moved = abs(float(model.logit_scale.detach()) - start)
        assert (moved > 1e-3) if learn else (moved == 0.0), (learn, moved)


def test_presplit_data_are_used_when_they_match_and_refused_when_not():
    """Catches: run(cfg, data=...) ignoring or mis-checking the config (validation part included)."""
    from vna.study.pipeline import prepare, run

    cfg = _tiny(method="direct_encoder", epochs=1)
    parts = prepare(cfg)
    assert run(cfg, data=parts, progress=False).metrics == run(cfg, progress=False).metrics
    with_val = _tiny(method="direct_encoder", epochs=1, val_fraction=0.2)
    assert run(with_val, data=prepare(with_val), progress=False).parts.val is not None
    with pytest.raises(ValueError, match="prepared with val_fraction=0.0 but the config says val_fraction=0.2"):
        run(with_val, data=parts, progress=False)
    # pairs built by hand carry no preprocessing record: the validation part is still checked
    from vna.data.preprocess import PairedParts

    bare = PairedParts(*(PairedData(p.images, p.responses, p.match) for p in parts[:2]))
    with pytest.raises(ValueError, match="lack a validation part but the config says val_fraction=0.2"):
        run(with_val, data=bare, progress=False)
    bare_val = PairedParts(*(PairedData(p.images, p.responses, p.match) for p in prepare(with_val)))
    with pytest.raises(ValueError, match="have a validation part but the config says val_fraction=0.0"):
        run(cfg, data=bare_val, progress=False)
    assert run(cfg, data=bare, progress=False).metrics == run(cfg, progress=False).metrics
    with pytest.raises(ValueError, match="prepared with seed=0 but the config says seed=3"):
        run(cfg.replace(seed=3), data=parts, progress=False)


def test_evaluate_checks_the_test_pairs_against_the_model():
    small = PairedData(torch.rand(4, 1, 32, 32), torch.randn(8, 24), torch.arange(4).repeat(2))
    with pytest.raises(ValueError, match="expects images of 1 x 64 x 64 .* but test has 1 x 32 x 32"):
        vna.evaluate(vna.VNA(24), small, device="cpu")


def test_pipeline_reads_the_data_folder_it_is_given_and_shows_progress_when_asked(tmp_path, monkeypatch, capsys):
    from vna.data.cache import data_dir
    from vna.study.pipeline import run

    real = data_dir()
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))  # an empty data folder ...
    cfg = RunConfig(dataset="antolik2016-v1", method="direct_encoder", split="trials", responses="mean",
                    epochs=1, device="cpu")
    out = run(cfg, data_dir=real, progress=True)  # ... but the run is pointed at the real one
    assert out.parts.test.n_images == 50
    assert "DirectEncoder" in capsys.readouterr().err  # the progress bar
    run(cfg, data_dir=real, progress=False)
    assert "DirectEncoder" not in capsys.readouterr().err


# ------------------------------------------------------ the pipeline's wiring (asked for by the mutation sample)
def test_prepare_passes_every_preprocessing_field_and_the_data_folder(monkeypatch):
    """Catches: prepare dropping test_fraction, the neuron filter, data-size fields or the data folder."""
    from vna.study import pipeline

    base = pipeline.prepare(_tiny())
    assert base.test.n_images == 6  # 15 % of 40 images
    assert pipeline.prepare(_tiny(test_fraction=0.5)).test.n_images == 20
    assert 0 < pipeline.prepare(_tiny(reliability_threshold=0.5)).train.n_neurons < base.train.n_neurons
    assert pipeline.prepare(_tiny(neuron_fraction=0.5)).train.n_neurons == 6
    one = pipeline.prepare(_tiny(train_trials=1))
    assert one.train.n_responses == one.train.n_images == base.train.n_images
    seen = {}
    real = pipeline.load_recording

    def spy(cfg, *, data_dir=None):
        seen["data_dir"] = data_dir
        return real(cfg, data_dir=data_dir)

    monkeypatch.setattr(pipeline, "load_recording", spy)
    pipeline.prepare(_tiny(), data_dir="/nowhere/else")
    assert seen["data_dir"] == "/nowhere/else"


def test_run_passes_the_training_settings_to_fit(monkeypatch):
    """Catches: run dropping lr, weight_decay, patience or the thread count on the way to fit."""
    from vna.study import pipeline

    seen = {}
    real = pipeline.fit

    def spy(model, train, **kw):
        seen.update(kw, threads=torch.get_num_threads())
        return real(model, train, **kw)

    monkeypatch.setattr(pipeline, "fit", spy)
    cfg = _tiny(method="direct_encoder", epochs=2, lr=3e-4, weight_decay=0.01, patience=5, val_fraction=0.2,
                threads=1)
    pipeline.run(cfg, progress=False)
    assert (seen["lr"], seen["weight_decay"], seen["patience"], seen["epochs"]) == (3e-4, 0.01, 5, 2)
    assert seen["val"] is not None and seen["threads"] == 1


def test_shared_training_outputs_carry_the_model_times_and_device():
    """Catches: run_shared's outputs losing the model, the device, the training time or which run trained."""
    from vna.study.pipeline import run_shared

    cfgs = [_tiny(method="direct_encoder", epochs=3), _tiny(method="direct_encoder", epochs=3, test_responses="mean")]
    first, second = run_shared(cfgs, progress=False)
    assert first.model is second.model and isinstance(first.model, vna.DirectEncoder)
    assert vna.evaluate(first.model, first.parts.test, device="cpu")["encoding_auc"] == pytest.approx(
        first.metrics["paper"]["encoding_auc"])
    assert first.device == second.device == "cpu"
    assert first.train_seconds == second.train_seconds > 0
    assert (first.shared_training, second.shared_training) == (False, True)
    assert first.seconds >= first.train_seconds > second.seconds >= 0  # the second run only evaluated
    assert second.seconds < 1.0


def test_linear_baseline_scores_its_validation_part():
    """Catches: the closed-form baselines never seeing the validation pairs."""
    from vna.study.pipeline import run

    out = run(_tiny(method="ridge_encoder", val_fraction=0.2), progress=False)
    assert 0.0 <= out.history[0]["val_mean_auc"] <= 1.0


def test_test_pairs_that_do_not_fit_the_model_are_named():
    """Catches: run_shared scoring test pairs of another shape without naming them."""
    from vna.data.preprocess import PairedParts
    from vna.study.pipeline import prepare, run

    cfg = _tiny(method="direct_encoder", epochs=1)
    parts = prepare(cfg)
    t = parts.test
    fewer = PairedData(t.images, t.responses[:, :5], t.match, t.meta)
    with pytest.raises(ValueError, match="DirectEncoder expects 12 neurons but test has 5"):
        run(cfg, data=PairedParts(parts.train, fewer), progress=False)


def test_evaluation_seed_defaults_to_zero_and_top_k_checks_the_candidate_count():
    """Catches: a default seed other than the config's, and top-k accepting more distractors than exist."""
    from vna.evaluation import evaluate_scores

    model, data, S, match = _scored(seed=2)
    assert vna.evaluate(model, data, n_distractors=2, device="cpu") == vna.evaluate(model, data, n_distractors=2,
                                                                                  seed=0, device="cpu")
    assert evaluate_scores(S, match, 2).metrics == evaluate_scores(S, match, 2, 0).metrics
    assert evaluate_scores(S, match, 2).metrics != evaluate_scores(S, match, 2, 1).metrics
    with pytest.raises(ValueError, match="too few distractors for n_distractors=12 in the decoding task"):
        top_k_accuracy(S, match, "decoding", 1, n_distractors=12)


def test_linear_baselines_fit_under_the_configs_thread_count(monkeypatch):
    """Catches: the closed-form fit ignoring cfg.threads (BLAS would use every core)."""
    from threadpoolctl import threadpool_info

    from vna import linear
    from vna.study.pipeline import run

    seen = []
    real = linear.RidgeEncoder.fit_pairs

    def spy(self, train, val=None):
        seen.append({p["num_threads"] for p in threadpool_info()})
        return real(self, train, val=val)

    monkeypatch.setattr(linear.RidgeEncoder, "fit_pairs", spy)
    for threads in (1, 2):
        run(_tiny(method="ridge_encoder", threads=threads), progress=False)
    assert seen == [{1}, {2}]


def test_in_sample_scores_of_the_direct_decoder_sit_above_held_out_ones():
    """The in-sample protocol (issue 16) scores the pairs the model was fitted on: on the simulated cortex
    the direct decoder is then clearly better than on held-out images of the same run setting."""
    from vna.study.pipeline import run

    cfg = _tiny(method="direct_decoder", epochs=8, seed=1)
    inside = run(cfg.replace(split="none"), progress=False)
    held = run(cfg.replace(split="images"), progress=False)
    assert torch.equal(inside.parts.test.responses, inside.parts.train.responses)
    inside, held = inside.metrics["paper"], held.metrics["paper"]
    for task in ("encoding_auc", "decoding_auc"):
        assert inside[task] >= held[task] + 0.05, (task, inside, held)
