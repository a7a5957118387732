"""The dataset overview figure draws what the data hold (single trials vs trial means)."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from vna.chapters import plots  # noqa: E402
from vna.data import from_arrays  # noqa: E402


def _rec(n_trials):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (12, 16, 16), dtype=np.uint8)
    responses = rng.poisson(3.0, (12, n_trials, 7)).astype(float)
    if n_trials > 1:
        responses[0, -1] = np.nan  # one missing trial
    return from_arrays(images, responses, name="toy")


def test_overview_with_single_trials_has_reliability_and_fano_panels():
    fig = plots.plot_dataset_overview(_rec(5), "toy")
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 6 + 3  # six images, heat map, reliability, Fano factor
    assert any(t.startswith("median") and "Poisson" in t for t in titles)
    assert "4-5 trials per image" in fig._suptitle.get_text()


def test_overview_of_trial_means_has_no_trial_panels():
    fig = plots.plot_dataset_overview(_rec(1), "toy")
    assert len(fig.axes) == 6 + 1
    assert "trial means only" in fig._suptitle.get_text()


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
    from vna.study.results import PAPER_STAND_INS, PAPER_TABLE1

    fig = plots.plot_results(_table(), PAPER_TABLE1, PAPER_STAND_INS)
    assert len(fig.axes) == 2  # encoding beside decoding, sharing the rows
    assert [ax.get_title() for ax in fig.axes] == ["Discriminative encoding", "Discriminative decoding"]
    width, height = fig.get_size_inches()
    assert width <= 9  # readable at the page's width: it grows in height, not width
    big = plots.plot_results(_table(datasets=("simulated", "cowley2023-v4", "antolik2016-v1")), PAPER_TABLE1,
                             PAPER_STAND_INS)
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
    assert legend[:3] == ["VNA", "Direct Encoding", "Direct Decoding"]


def test_results_figure_without_protocol_columns_and_with_a_missing_method():
    table = _table(protocols=(("images", "trials"),)).drop(columns=["split", "test_responses"])
    table = table[~((table["dataset"] == "simulated") & (table["method"] == "direct_decoder"))]
    fig = plots.plot_results(table)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["simulated (SIMULATED)", "cowley2023-v4"]
    assert len(fig.axes[0].patches) == 5


def test_results_figure_refuses_an_empty_table():
    import pandas as pd
    import pytest

    with pytest.raises(ValueError, match="empty"):
        plots.plot_results(pd.DataFrame())
