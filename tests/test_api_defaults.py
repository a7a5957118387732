"""The library's defaults are part of what a number means: they must agree with RunConfig's (which the book
documents) and change only on purpose.

A call like ``to_paired(rec)`` or ``fit(model, data, epochs=3)`` relies on its defaults; if one drifted from
the RunConfig default the book states, a notebook and a grid run with "the same settings" would differ
silently. This test ties each default to its RunConfig field where there is one, and pins the others (a
change here must be made deliberately, with the book's text).
"""
from __future__ import annotations

import inspect

import pytest

from vna import RunConfig, evaluation, losses, methods, metrics, models, train
from vna.study import pipeline, record, store, tables
from vna.data import preprocess

CFG = RunConfig()

DEFAULTS = {
    preprocess.prepare_images: {"image_size": CFG.image_size, "grey": CFG.grey},
    preprocess.split_half_reliability: {"n_splits": 10, "seed": 0},
    preprocess.noise_ceiling: {"n_splits": 10, "seed": 0},
    preprocess.select_neurons: {"reliability_threshold": CFG.reliability_threshold, "noise_ceiling_threshold": None,
                                "trials": None, "seed": 0},
    preprocess.make_split: {"split": CFG.split, "test_fraction": CFG.test_fraction, "seed": CFG.seed,
                            "val_fraction": CFG.val_fraction},
    preprocess.subsample: {"image_fraction": CFG.train_image_fraction, "trials": CFG.train_trials},
    preprocess.to_paired: {"split": CFG.split, "responses": CFG.responses, "test_fraction": CFG.test_fraction,
                           "seed": CFG.seed, "zscore": CFG.zscore, "image_size": CFG.image_size, "grey": CFG.grey,
                           "reliability_threshold": CFG.reliability_threshold, "noise_ceiling_threshold": None,
                           "verbose": True, "test_responses": CFG.test_responses},
    preprocess.paired_parts: {"split": CFG.split, "responses": CFG.responses, "test_fraction": CFG.test_fraction,
                              "seed": CFG.seed, "zscore": CFG.zscore, "image_size": CFG.image_size, "grey": CFG.grey,
                              "reliability_threshold": CFG.reliability_threshold, "noise_ceiling_threshold": None,
                              "verbose": True, "test_responses": CFG.test_responses, "val_fraction": CFG.val_fraction,
                              "train_image_fraction": CFG.train_image_fraction, "train_trials": CFG.train_trials,
                              "neuron_fraction": CFG.neuron_fraction},
    metrics.discriminative_auc: {"n_distractors": CFG.n_distractors, "seed": 0},
    metrics.top_k_accuracy: {"k": (1, 5), "n_distractors": CFG.n_distractors, "seed": 0},
    metrics.candidate_scores: {"n_distractors": CFG.n_distractors, "seed": 0},
    models.ImageEncoder: {"in_channels": CFG.in_channels, "latent_dim": CFG.latent_dim, "image_size": CFG.image_size},
    models.SpikeEncoder: {"latent_dim": CFG.latent_dim, "hidden": 512},
    models.VNA: {"in_channels": CFG.in_channels, "latent_dim": CFG.latent_dim, "temperature": CFG.temperature,
                 "learn_temperature": CFG.learn_temperature, "image_size": CFG.image_size},
    models.DirectEncoder: {"in_channels": CFG.in_channels, "image_size": CFG.image_size},
    models.DirectDecoder: {"in_channels": CFG.in_channels, "image_size": CFG.image_size},
    train.fit: {"batch_size": CFG.batch_size, "lr": CFG.lr, "seed": CFG.seed, "device": CFG.device, "progress": True,
                "val": None, "weight_decay": CFG.weight_decay, "patience": CFG.patience, "precision": CFG.precision,
                "memory_format": CFG.memory_format},
    train.resolve_device: {"device": CFG.device},
    methods.load: {"device": "cpu"},
    evaluation.evaluate: {"n_distractors": CFG.n_distractors, "seed": CFG.seed, "device": CFG.device,
                          "return_scores": False, "score": "paper"},
    evaluation.evaluate_scores: {"n_distractors": CFG.n_distractors, "seed": CFG.seed},
    pipeline.run: {"data_dir": None, "progress": True, "data": None, "recording": None},
    pipeline.prepare: {"data_dir": None, "recording": None},
    store.save_record: {"overwrite": False, "publish": False},
    store.check_results_dir: {"publish": False},
    store.load_records: {"score": "paper", "strict": False, "findings": None},
    tables.summarize: {"level": 0.95},
    tables.select_groups: {"grid": None},
    tables.format_table: {"with_paper": True},
    record.resolved_device: {"cfg_device": CFG.device},
}


@pytest.mark.parametrize("func", list(DEFAULTS), ids=lambda f: f"{f.__module__}.{f.__qualname__}")
def test_defaults_agree_with_runconfig(func):
    target = func.__init__ if inspect.isclass(func) else func
    got = {k: p.default for k, p in inspect.signature(target).parameters.items()
           if p.default is not inspect.Parameter.empty}
    assert got == DEFAULTS[func]


def test_the_loss_clamp_is_clips_value():
    assert losses.MAX_LOGIT_SCALE == 100.0  # CLIP's clamp of exp(logit_scale) (Radford et al. 2021)
