"""The dataset overview figure draws what the data hold (single trials vs trial means)."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from vna import plots  # noqa: E402
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
