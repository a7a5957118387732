"""Scoring rules (vna.scoring): one training, every rule; what each rule can and cannot change."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from vna import RunConfig, build_model
from vna.evaluation import evaluate, evaluate_rules, evaluate_scores
from vna.metrics import discriminative_auc
from vna.scoring import SCORES, centre_columns, check_scores, cosine_matrix, rule_matrices
from vna.study import pipeline
from vna.study.record import RunRecord
from vna.study.store import load_records, read_instances, save_record
from vna.train import fit


def test_centring_leaves_decoding_auc_exactly_unchanged():
    gen = torch.Generator().manual_seed(0)
    S = torch.randn(12, 40, generator=gen, dtype=torch.float64) * torch.rand(1, 40, generator=gen) * 5
    match = torch.arange(40) % 12
    C = centre_columns(S)
    dec, dec_c = discriminative_auc(S, match, "decoding"), discriminative_auc(C, match, "decoding")
    assert np.array_equal(dec.per_instance, dec_c.per_instance)
    enc, enc_c = discriminative_auc(S, match, "encoding"), discriminative_auc(C, match, "encoding")
    assert not np.array_equal(enc.per_instance, enc_c.per_instance)  # encoding's ranking does change


def test_euclidean_encoding_follows_the_candidates_norm_and_cosine_does_not():
    """Planted: every response points the same way as its image's prediction; responses differ only in norm."""
    gen = torch.Generator().manual_seed(1)
    n_img, per = 10, 6
    directions = torch.nn.functional.normalize(torch.randn(n_img, 20, generator=gen, dtype=torch.float64), dim=1)
    match = torch.arange(n_img).repeat_interleave(per)
    norms = torch.linspace(0.2, 5.0, n_img * per, dtype=torch.float64)[torch.randperm(n_img * per, generator=gen)]
    responses = directions[match] * norms[:, None]
    pred = directions  # a perfect predictor of the direction, at unit norm
    euclid = -torch.cdist(pred, responses)
    enc_e = discriminative_auc(euclid, match, "encoding").per_instance
    enc_c = discriminative_auc(cosine_matrix(pred, responses), match, "encoding").per_instance
    rho = np.corrcoef(enc_e, norms.numpy())[0, 1]
    assert rho < -0.6, rho  # the farther a true response's norm from 1, the lower its Euclidean AUC
    assert np.all(enc_c == 1.0)  # cosine sees the direction only: every instance is perfect


def _small_simulated():
    cfg = RunConfig(dataset="simulated", split="images", epochs=1, seed=0,
                    dataset_options={"n_images": 60, "n_trials": 3, "n_neurons": 16})
    parts = pipeline.prepare(cfg)
    return cfg, parts


@pytest.mark.parametrize("method", ["vna", "direct_encoder", "direct_decoder", "ridge_encoder", "ridge_decoder",
                                    "cca"])
def test_the_paper_rule_is_exactly_the_models_own_score(method):
    cfg, parts = _small_simulated()
    model = build_model(cfg.replace(method=method), parts.train.n_neurons)
    if hasattr(model, "fit_pairs"):
        model.fit_pairs(parts.train)
    else:
        fit(model, parts.train, epochs=1, batch_size=32, seed=0, device="cpu", progress=False)
    test = parts.test
    S = model.score(test.images, test.responses)
    M = rule_matrices(model, test.images, test.responses)
    assert list(M) == list(SCORES)
    assert torch.equal(M["paper"], S)
    a, b = model.sides(test.images, test.responses)
    assert torch.allclose(M["cosine"], cosine_matrix(a, b))
    assert torch.allclose(M["centred"], S.double() - S.double().mean(0, keepdim=True))
    evs = evaluate_rules(model, test, device="cpu")
    assert evs["paper"].metrics == evaluate_scores(S, test.match).metrics
    assert evaluate(model, test, device="cpu", score="cosine") == evs["cosine"].metrics
    if method in ("vna", "cca"):  # their own rule is the cosine already
        assert evs["cosine"].metrics["encoding_auc"] == pytest.approx(evs["paper"].metrics["encoding_auc"], abs=1e-6)


def test_unknown_rule_is_named():
    with pytest.raises(ValueError, match="unknown scoring rule.*'euclid'.*paper, cosine, centred"):
        check_scores(["paper", "euclid"])


def test_trial_template_cosine_aucs_on_cowley_equal_numpy_directly(tmp_path):
    """cowley2023-v4, held-out trials, single trials, seed 0: the record's cosine AUCs equal a numpy computation
    of the template rule (mean training response per image vs each test response) within 1e-9."""
    cfg = RunConfig(dataset="cowley2023-v4", method="trial_template", split="trials", seed=0, val_fraction=0.1)
    out = pipeline.run(cfg, progress=False)
    save_record(out, tmp_path)
    rec = load_records(tmp_path, score="cosine").iloc[0]
    direct = template_cosine_aucs(out.parts.train, out.parts.test)
    for task in ("encoding", "decoding"):
        assert rec[f"{task}_auc"] == pytest.approx(direct[task], abs=1e-9)
        assert read_instances(rec["path"])[task].shape == (out.parts.test.n_responses,)
    assert rec["encoding_auc"] > load_records(tmp_path).iloc[0]["encoding_auc"]  # the Euclidean template: by norm


def template_cosine_aucs(tr, te) -> dict[str, float]:
    """The trial template's cosine AUCs computed with numpy alone: each training image's mean training response
    against each test response, per-instance AUC with ties counting one half, averaged."""
    R, m = tr.responses.double().numpy(), tr.match.numpy()
    T = np.stack([R[m == i].mean(0) for i in range(tr.n_images)])  # templates of the training images
    # the test images are training images (held-out trials): find each one's row by its pixels
    keys = {row.tobytes(): i for i, row in enumerate(tr.images.numpy().reshape(tr.n_images, -1))}
    rows = [keys[row.tobytes()] for row in te.images.numpy().reshape(te.n_images, -1)]
    A, B = T[rows], te.responses.double().numpy()
    cos = (A / np.linalg.norm(A, axis=1, keepdims=True)) @ (B / np.linalg.norm(B, axis=1, keepdims=True)).T
    match = te.match.numpy()
    out = {}
    for task in ("encoding", "decoding"):
        per = []
        for j in range(len(match)):
            if task == "decoding":
                pos, neg = cos[match[j], j], np.delete(cos[:, j], match[j])
            else:
                row = cos[match[j]]
                pos, neg = row[j], row[match != match[j]]
            per.append(np.mean((pos > neg) + 0.5 * (pos == neg)))
        out[task] = float(np.mean(per))
    return out


def test_records_carry_every_rule_and_their_instances(tmp_path):
    cfg, _ = _small_simulated()
    out = pipeline.run(cfg.replace(device="cpu"), progress=False)
    assert list(out.metrics) == list(SCORES)
    path = save_record(out, tmp_path)
    import json

    rec = json.loads(path.read_text())
    assert set(rec["metrics_by_score"]) == {"cosine", "centred"}
    assert rec["metrics_by_score"]["centred"]["decoding_auc"] == rec["metrics"]["decoding_auc"]
    header = path.with_suffix(".instances.csv").read_text().splitlines()[0].split(",")
    assert header == ["encoding_auc", "decoding_auc", "encoding_auc_cosine", "decoding_auc_cosine",
                      "encoding_auc_centred", "decoding_auc_centred", "image"]
    images = pd.read_csv(path.with_suffix(".instances.csv"))["image"].to_numpy()
    assert np.array_equal(images, out.parts.test.match.numpy())  # the test image of each instance
    rows = load_records(tmp_path, score=None, strict=True).set_index("score")
    assert list(rows.index) == list(SCORES)  # one row per rule, in long form
    assert rows.loc["cosine", "mean_auc"] == pytest.approx(rec["metrics_by_score"]["cosine"]["mean_auc"])


def test_a_record_made_before_the_rules_reads_as_the_papers_rule_only(tmp_path):
    cfg, _ = _small_simulated()
    m = {"encoding_auc": 0.6, "decoding_auc": 0.7, "mean_auc": 0.65, "encoding_top1": 0.1, "encoding_top5": 0.3,
         "decoding_top1": 0.1, "decoding_top5": 0.3}
    save_record(RunRecord(cfg, {"paper": m}, 1, "cpu",
                          instances={"encoding_auc": np.full(4, 0.6), "decoding_auc": np.full(4, 0.7)}), tmp_path)
    rows = load_records(tmp_path, score=None)
    assert list(rows["score"]) == ["paper"] and rows["mean_auc"].iloc[0] == 0.65
    assert load_records(tmp_path, score="cosine").empty


def test_shuffled_pairs_keep_counts_break_pairing_and_leave_the_test_true():
    cfg, parts = _small_simulated()
    cfg = cfg.replace(val_fraction=0.1, shuffle_pairs=True)
    plain = pipeline.prepare(cfg.replace(shuffle_pairs=False))
    shuffled = pipeline.prepare(cfg)
    a, b = plain.train.match, shuffled.train.match
    assert torch.equal(torch.bincount(a, minlength=plain.train.n_images),
                       torch.bincount(b, minlength=plain.train.n_images))
    assert (a != b).float().mean() > 0.8
    assert torch.equal(plain.test.match, shuffled.test.match) and torch.equal(plain.test.responses,
                                                                              shuffled.test.responses)
    assert torch.equal(pipeline.prepare(cfg).train.match, b)  # seeded
    assert cfg.key() != cfg.replace(shuffle_pairs=False).key()
    assert RunConfig(dataset="simulated").key() == RunConfig(dataset="simulated", shuffle_pairs=False).key()


def test_the_new_field_leaves_every_published_key_as_it_was():
    """shuffle_pairs is key-optional: a config that does not use it keys as before (tests/test_published.py
    matches every published record to its grid by these keys)."""
    assert "shuffle_pairs" not in RunConfig()._keyed()
    assert "shuffle_pairs" in RunConfig(shuffle_pairs=True)._keyed()
