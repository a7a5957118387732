"""Training, evaluation, determinism, save/load and input validation (issue 'Foundation')."""
import math

import pytest
import torch

import vna
from vna import RunConfig, build_model
from vna.data import PairedData
from vna.methods import load, save
from vna.train import NonFiniteLossError, fit

from planted import planted


@pytest.fixture(scope="module")
def planted_split():
    return planted(n_images=80, seed=0), planted(n_images=30, seed=0, image_offset=500)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["vna", "direct_encoder", "direct_decoder"])
def test_planted_problem_is_learned_on_held_out_images(method, planted_split):
    train, test = planted_split
    cfg = RunConfig(method=method, epochs=12, batch_size=32, lr=1e-3, latent_dim=32, seed=0, device="cpu")
    model = build_model(cfg, train.n_neurons)
    before = vna.evaluate(model, test)
    hist = fit(model, train, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=0, device="cpu",
               progress=False, val=test)
    after = vna.evaluate(model, test)
    assert after["encoding_auc"] > 0.9 and after["decoding_auc"] > 0.9, (method, after)
    assert after["mean_auc"] > before["mean_auc"] + 0.2
    frame = hist.to_frame()
    assert len(frame) == 12 and list(frame["epoch"]) == list(range(1, 13)) and hist.best_epoch == 12
    assert frame["loss"].iloc[-3:].mean() < 0.5 * frame["loss"].iloc[:3].mean()  # training loss falls
    assert frame["val_mean_auc"].iloc[-1] > frame["val_mean_auc"].iloc[0]  # and held-out AUC rises
    # the history's last validation AUCs are exactly the trained model's on those pairs
    assert frame["val_encoding_auc"].iloc[-1] == pytest.approx(after["encoding_auc"])
    assert frame["val_decoding_auc"].iloc[-1] == pytest.approx(after["decoding_auc"])
    assert after["mean_auc"] == pytest.approx((after["encoding_auc"] + after["decoding_auc"]) / 2)
    assert 0 <= after["encoding_top1"] <= after["encoding_top5"] <= 1


@pytest.mark.slow
def test_same_seed_same_numbers(planted_split):
    train, test = planted_split
    results = []
    for _ in range(2):
        cfg = RunConfig(method="vna", epochs=2, batch_size=16, latent_dim=16, seed=7, device="cpu")
        model = build_model(cfg, train.n_neurons)
        hist = fit(model, train, epochs=2, batch_size=16, seed=7, device="cpu", progress=False)
        results.append((hist.to_frame()["loss"].tolist(), vna.evaluate(model, test, n_distractors=10, seed=1)))
    assert results[0] == results[1]
    cfg = RunConfig(method="vna", epochs=2, batch_size=16, latent_dim=16, seed=8, device="cpu")
    model = build_model(cfg, train.n_neurons)
    other = fit(model, train, epochs=2, batch_size=16, seed=8, device="cpu", progress=False)
    assert other.to_frame()["loss"].tolist() != results[0][0]


def test_batchnorm_safe_last_batch():
    data = planted(n_images=11, n_trials=3)  # 33 pairs, batch 32 -> a last batch of one pair is dropped
    model = vna.VNA(data.n_neurons, latent_dim=8)
    hist = fit(model, data, epochs=1, batch_size=32, device="cpu", progress=False)
    assert math.isfinite(hist[0]["loss"])


def test_non_finite_loss_is_a_clear_error():
    data = planted(n_images=10, n_trials=2)
    model = vna.DirectEncoder(data.n_neurons)
    with torch.no_grad():
        model.head.weight.fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match="epoch 1, batch 0"):
        fit(model, data, epochs=1, batch_size=8, device="cpu", progress=False)


def test_fit_rejects_mismatched_neurons_and_bad_args():
    data = planted(n_images=10, n_trials=2)
    with pytest.raises(ValueError, match="expects 5 neurons but train has 24"):
        fit(vna.VNA(5), data, epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="epochs must be an integer >= 1; got 0"):
        fit(vna.VNA(24), data, epochs=0, device="cpu", progress=False)
    with pytest.raises(ValueError, match="PairedData"):
        fit(vna.VNA(24), (data.images, data.responses), epochs=1, device="cpu", progress=False)


@pytest.mark.parametrize("method", ["vna", "direct_encoder", "direct_decoder"])
def test_save_load_round_trip(tmp_path, method):
    data = planted(n_images=12, n_trials=2)
    cfg = RunConfig(method=method, latent_dim=8, seed=1)
    model = build_model(cfg, data.n_neurons)
    fit(model, data, epochs=1, batch_size=8, device="cpu", progress=False)
    path = save(model, tmp_path / "m.pt", cfg)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left behind
    back = load(path)
    torch.testing.assert_close(back.score(data.images, data.responses), model.score(data.images, data.responses))
    assert back.config == cfg.to_dict()


def test_load_names_the_file_and_what_torch_said(tmp_path):
    bad = tmp_path / "notes.pt"
    bad.write_text("hello\n")
    with pytest.raises(ValueError) as info:
        load(bad)
    text = str(info.value)
    assert text.startswith(f"{bad} is not a vna model file (torch.load could not read it: ")
    assert "KeyError 101;" in text and "expected a file written by vna.methods.save" in text  # torch's own words
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.pt is not a vna model file"):
        load(empty)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved model"):
        load(tmp_path / "missing.pt")
    torch.save({"something": 1}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a vna model"):
        load(tmp_path / "x.pt")


def test_paired_data_validation():
    imgs, resp, match = torch.rand(4, 1, 64, 64), torch.randn(6, 3), torch.tensor([0, 1, 2, 3, 0, 1])
    PairedData(imgs, resp, match)
    with pytest.raises(ValueError, match="length mismatch"):
        PairedData(imgs, resp, match[:5])
    with pytest.raises(ValueError, match="match out of range"):
        PairedData(imgs, resp, torch.tensor([0, 1, 2, 4, 0, 1]))
    bad = resp.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="responses contains 1 NaN"):
        PairedData(imgs, bad, match)
    with pytest.raises(ValueError, match=r"images must be \[n_images, C, H, W\]"):
        PairedData(imgs[:, 0], resp, match)
    with pytest.raises(ValueError, match="integer indices"):
        PairedData(imgs, resp, match.float() + 0.5)
    with pytest.raises(ValueError, match="expects images"):
        vna.VNA(3).score(torch.rand(4, 1, 48, 48), resp)


def test_run_config_round_trip_and_errors():
    cfg = RunConfig(dataset="cowley2023-v4", method="direct_encoder", epochs=3, dataset_options={"a": 1})
    back = RunConfig.from_dict(__import__("json").loads(cfg.to_json()))
    assert back == cfg and back.key() == cfg.key()
    # the device *kind* and the thread count change the numbers, so they change the key; the GPU index does not
    assert cfg.replace(device="cuda").key() != cfg.replace(device="cpu").key()
    assert cfg.replace(device="cuda:0").key() == cfg.replace(device="cuda:1").key()
    assert cfg.replace(threads=2).key() != cfg.key()
    assert cfg.replace(seed=1).key() != cfg.key()
    for bad, msg in [(dict(method="clip"), "method"), (dict(split="random"), "split"), (dict(image_size=50), "multiple of 32"),
                     (dict(n_distractors=0), "n_distractors"), (dict(lr=0), "lr")]:
        with pytest.raises(ValueError, match=msg):
            RunConfig(**bad)
    with pytest.raises(ValueError, match="unknown field"):
        RunConfig.from_dict({"epochz": 3})


def test_evaluate_with_sampled_distractors(planted_split):
    from vna.metrics import discriminative_auc, top_k_accuracy

    train, test = planted_split
    model = build_model(RunConfig(method="direct_encoder", seed=0), train.n_neurons)
    fit(model, train, epochs=2, batch_size=32, seed=0, device="cpu", progress=False)
    out, S = vna.evaluate(model, test, n_distractors=5, seed=0, return_scores=True)
    assert S.shape == (test.n_images, test.n_responses)
    torch.testing.assert_close(S, model.score(test.images, test.responses))
    for task in ("encoding", "decoding"):
        assert out[f"{task}_auc"] == pytest.approx(discriminative_auc(S, test.match, task, 5, 0).mean)
        top = top_k_accuracy(S, test.match, task, (1, 5), 5, 0)
        assert (out[f"{task}_top1"], out[f"{task}_top5"]) == (top[1], top[5])
    assert out["encoding_top1"] <= out["encoding_top5"] and out["decoding_top1"] <= out["decoding_top5"]
    with pytest.raises(ValueError, match="too few distractors"):
        vna.evaluate(model, test, n_distractors=test.n_images)


def test_history_frame_has_one_row_per_epoch():
    data = planted(n_images=12, n_trials=2)
    hist = fit(vna.DirectEncoder(data.n_neurons), data, epochs=2, batch_size=8, device="cpu", progress=False)
    frame = hist.to_frame()
    assert list(frame["epoch"]) == [1, 2] and {"loss", "seconds"} <= set(frame.columns)
    assert frame["loss"].tolist() == [h["loss"] for h in hist] and hist.best_epoch == 2


def test_validation_scores_encoding_with_two_images():
    from vna.train import _validate_epoch

    val = PairedData(torch.rand(2, 1, 64, 64), torch.randn(6, 5), torch.tensor([0, 0, 0, 1, 1, 1]))
    rec = _validate_epoch(build_model(RunConfig(method="direct_encoder"), 5), val, 4)
    assert 0 <= rec["val_encoding_auc"] <= 1
    assert rec["val_mean_auc"] == pytest.approx((rec["val_encoding_auc"] + rec["val_decoding_auc"]) / 2)


def test_fit_defaults_are_batch_64_on_the_available_device_with_a_progress_bar(planted_split, capsys):
    train, val = planted_split
    weights = []
    for kw in ({}, {"batch_size": 64, "device": "cpu", "progress": False}):
        model = build_model(RunConfig(method="direct_encoder", seed=0), train.n_neurons)
        hist = fit(model, train, epochs=1, seed=0, val=val, **kw)
        weights.append((hist[-1]["loss"], model.head.weight.detach().clone()))
    assert weights[0][0] == weights[1][0] and torch.equal(weights[0][1], weights[1][1])
    err = capsys.readouterr().err
    assert "DirectEncoder" in err and "val_loss=" in err  # the bar and its postfix, from the first call only


def test_fit_names_the_bad_argument_and_part(planted_split):
    train, val = planted_split
    model = build_model(RunConfig(method="direct_encoder"), train.n_neurons)
    with pytest.raises(ValueError, match="lr must be a finite number in \\(0, 1\\]; got True"):
        fit(model, train, epochs=1, lr=True, device="cpu", progress=False)
    with pytest.raises(ValueError, match="patience must be"):
        fit(model, train, epochs=1, patience=0, val=val, device="cpu", progress=False)
    few = PairedData(val.images, val.responses[:, :3], val.match)
    with pytest.raises(ValueError, match="DirectEncoder expects .* neurons but val has 3"):
        fit(model, train, epochs=1, val=few, device="cpu", progress=False)


def test_a_non_finite_epoch_names_its_batch_and_learning_rate(planted_split):
    from vna.train import NonFiniteLossError, _finish_epoch

    train, _ = planted_split
    model = build_model(RunConfig(method="direct_encoder"), train.n_neurons)
    losses = torch.tensor([1.0, float("inf"), float("nan")])
    with pytest.raises(NonFiniteLossError, match=r"loss became inf at epoch 4, batch 1; .*\(lr=1000000000000\.0\)"):
        _finish_epoch(model, train, None, losses, torch.ones(3), torch.arange(4), 4, "DirectEncoder", 1e12, 32)


def test_fit_reports_a_non_finite_loss_with_the_runs_learning_rate(planted_split, monkeypatch):
    train, _ = planted_split
    monkeypatch.setattr(vna.train, "train_step", lambda *a: torch.tensor(float("nan")))
    model = build_model(RunConfig(method="direct_encoder"), train.n_neurons)
    with pytest.raises(NonFiniteLossError, match=r"at epoch 1, batch 0; try a lower learning rate \(lr=0\.25\)"):
        fit(model, train, epochs=1, lr=0.25, device="cpu", progress=False)
