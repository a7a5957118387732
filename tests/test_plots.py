"""The dataset overview figure draws what the data hold (single trials vs trial means)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vna.chapters import plots  # noqa: E402
from vna.data import from_arrays  # noqa: E402
from vna.data.preprocess import fano_factor, split_half_reliability  # noqa: E402


def _rec(n_trials):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (12, 16, 16), dtype=np.uint8)
    responses = rng.poisson(3.0, (12, n_trials, 7)).astype(float)
    if n_trials > 1:
        responses[0, -1] = np.nan  # one missing trial
    return from_arrays(images, responses, name="toy")


def test_overview_with_single_trials_has_reliability_and_fano_panels():
    rec = _rec(5)
    axes = plots.plot_dataset_overview(rec, "toy", reliability=split_half_reliability(rec.responses),
                                       fano=fano_factor(rec.responses))
    fig = axes[0].figure
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == len(axes) == 6 + 3  # six images, heat map, reliability, Fano factor
    assert any(t.startswith("median") and "Poisson" in t for t in titles)
    assert "4-5 trials per image" in fig._suptitle.get_text()


def test_overview_of_trial_means_has_no_trial_panels():
    axes = plots.plot_dataset_overview(_rec(1), "toy")
    assert len(axes[0].figure.axes) == 6 + 1
    assert "trial means only" in axes[0].figure._suptitle.get_text()


def test_fano_factor_is_one_for_poisson_counts_and_nan_without_trials():
    rng = np.random.default_rng(1)
    counts = rng.poisson(4.0, (300, 8, 5)).astype(float)
    assert np.allclose(fano_factor(counts), 1.0, atol=0.1)
    assert np.allclose(fano_factor(2 * counts), 2.0, atol=0.2)  # a gain of 2 doubles var / mean
    assert np.isnan(fano_factor(np.where(np.arange(8)[None, :, None] < 1, counts, np.nan))).all()  # 1 trial
    with pytest.raises(ValueError, match=r"n_trials >= 2.*got shape \(300, 1, 5\)"):
        fano_factor(counts[:, :1])  # trial means


def test_every_helper_draws_on_the_axes_it_is_given_and_returns_them():
    """Plots draw, never compute: each helper takes ax= (one Axes, or one per panel) and returns it."""
    import inspect

    import pandas as pd
    import torch

    from vna.data import PairedData
    from vna.metrics import TASKS, roc_curve, top_k_curve

    names = [n for n in plots.__all__ if n.startswith(("plot_", "show_"))]
    assert all("ax" in inspect.signature(getattr(plots, n)).parameters for n in names), names
    rng = np.random.default_rng(0)
    match = torch.arange(6).repeat_interleave(2)
    S = torch.as_tensor(rng.normal(size=(6, 12)))
    test = PairedData(torch.rand(6, 1, 8, 8), torch.as_tensor(rng.normal(size=(12, 5)), dtype=torch.float32), match)
    rec = _rec(5)
    one = {
        "plot_mean_responses": lambda ax: plots.plot_mean_responses(rec.mean_responses(), "toy", ax=ax),
        "plot_reliability": lambda ax: plots.plot_reliability([0.1, 0.5, 0.9], "toy", ax=ax),
        "plot_history": lambda ax: plots.plot_history([{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0}],
                                                      "toy", "vna", ax=ax),
        "plot_score_matrix": lambda ax: plots.plot_score_matrix(S, match, "toy", "vna", ax=ax),
        "plot_similarity": lambda ax: plots.plot_similarity(np.eye(4), ax=ax),
        "plot_shared_space": lambda ax: plots.plot_shared_space(rng.normal(size=(6, 2)), rng.normal(size=(12, 2)),
                                                                match, ax=ax),
        "plot_roc": lambda ax: plots.plot_roc({t: roc_curve(S, match, t) for t in TASKS}, "toy", "vna", ax=ax),
        "plot_topk": lambda ax: plots.plot_topk({t: top_k_curve(S, match, t) for t in TASKS}, "toy", "vna",
                                                ax=ax),
    }
    for name, draw in one.items():
        fig, ax = plt.subplots()
        assert draw(ax) is ax and ax.has_data(), name
        plt.close(fig)
    many = {
        "show_images": (8, lambda ax: plots.show_images(test.images, ncols=4, ax=ax)),
        "plot_trial_variability": (4, lambda ax: plots.plot_trial_variability(rec.responses, "toy", ax=ax)),
        "plot_dataset_overview": (7, lambda ax: plots.plot_dataset_overview(_rec(1), "toy", ax=ax)),
        "plot_decoding_candidates": (2 * 4, lambda ax: plots.plot_decoding_candidates(test, S, [0, 5], "toy",
                                                                                      "vna", top=3, ax=ax)),
        "plot_encoding_candidates": (2 * 2, lambda ax: plots.plot_encoding_candidates(test, S, [0, 5], "toy",
                                                                                      "vna", ax=ax)),
        "plot_results": (2, lambda ax: plots.plot_results(_table(), ax=ax)),
    }
    assert sorted(one) + sorted(many) == sorted(one) + sorted(set(names) - set(one)), "a helper is not tested"
    for name, (n, draw) in many.items():
        fig, axes = plt.subplots(1, n)
        got = np.asarray(draw(axes), dtype=object).ravel()
        assert list(got) == list(axes) and any(ax.has_data() for ax in axes), name
        plt.close(fig)
        fig, axes = plt.subplots(1, n + 1)
        with pytest.raises(ValueError, match=f"ax= holds {n + 1} Axes"):
            draw(axes)
        plt.close(fig)
    pd.DataFrame()  # noqa: B018 - pandas imported for _table's sake


def test_plot_roc_names_a_curve_that_is_not_the_reported_auc():
    import torch

    from vna.metrics import TASKS, roc_curve

    S = torch.as_tensor(np.random.default_rng(0).normal(size=(5, 10)))
    match = torch.arange(5).repeat_interleave(2)
    curves = {t: roc_curve(S, match, t) for t in TASKS}
    metrics = {f"{t}_auc": c.auc for t, c in curves.items()}
    plots.plot_roc(curves, "toy", "vna", metrics=metrics)
    with pytest.raises(ValueError, match=r"decoding: the ROC curve's area .* differs from the reported AUC"):
        plots.plot_roc(curves, "toy", "vna", metrics={**metrics, "decoding_auc": 0.5})
    with pytest.raises(ValueError, match="not a vna.metrics.ROCCurve"):
        plots.plot_roc({"encoding": (0.1, 0.2)}, "toy", "vna")


def _table(datasets=("simulated", "cowley2023-v4"), protocols=(("images", "trials"), ("trials", "mean"))):
    import pandas as pd

    rows = []
    for d in datasets:
        for split, test in protocols:
            for k, m in enumerate(("vna", "direct_encoder", "direct_decoder")):
                rows.append({"dataset": d, "method": m, "split": split, "test_responses": test,
                             "encoding_auc": 0.6 + 0.1 * k, "encoding_auc_ci": 0.02, "decoding_auc": 0.55 + 0.1 * k,
                             "decoding_auc_ci": float("nan")})
    return pd.DataFrame(rows)


def test_results_figure_has_one_panel_per_task_on_the_same_rows():
    from vna.study.tables import PAPER_STAND_INS, PAPER_TABLE1

    fig = plots.plot_results(_table(), PAPER_TABLE1, PAPER_STAND_INS)[0].figure
    assert len(fig.axes) == 2  # encoding beside decoding, sharing the rows
    assert [ax.get_title() for ax in fig.axes] == ["Discriminative encoding", "Discriminative decoding"]
    width, height = fig.get_size_inches()
    assert width <= 9  # readable at the page's width: it grows in height, not width
    big = plots.plot_results(_table(datasets=("simulated", "cowley2023-v4", "antolik2016-v1")), PAPER_TABLE1,
                             PAPER_STAND_INS)[0].figure
    assert big.get_size_inches()[0] == width and big.get_size_inches()[1] > height
    left, right = fig.axes
    assert left.get_shared_y_axes().joined(left, right)
    assert left.get_position().width > 0.25 and right.get_position().width > 0.25
    labels = [t.get_text() for t in left.get_yticklabels()]
    assert len(labels) == 4 and "held-out images, single trials" in labels[0] and "SIMULATED" in labels[0]
    assert min(t.get_fontsize() for t in left.get_yticklabels()) >= 9
    for ax in fig.axes:
        assert len(ax.patches) == 12  # 2 datasets x 2 protocols x 3 methods
        crosses = [line for line in ax.lines if line.get_marker() == "x"]
        assert len(crosses) == 6  # the paper's values only where ours stands in for one (cowley2023-v4)
        assert ax.get_xlim()[1] >= 1.0
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["Visual-Neural Alignment", "Direct Encoding", "Direct Decoding"]  # vna.names


def test_results_figure_without_protocol_columns_and_with_a_missing_method():
    table = _table(protocols=(("images", "trials"),)).drop(columns=["split", "test_responses"])
    table = table[~((table["dataset"] == "simulated") & (table["method"] == "direct_decoder"))]
    fig = plots.plot_results(table)[0].figure
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["simulated (SIMULATED)", "cowley2023-v4"]
    assert len(fig.axes[0].patches) == 5


def test_results_figure_refuses_an_empty_table():
    import pandas as pd
    import pytest

    with pytest.raises(ValueError, match="empty"):
        plots.plot_results(pd.DataFrame())
