"""Paired statistics, verdicts and the report (issue "The reproduction study")."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from vna.study import results, stats
from vna.cli import main
from vna.study.config import RunConfig
from vna.study.report import CSV_FILES, build_report, to_markdown, write_csv


def test_paired_difference_equals_scipy_on_a_tiny_table():
    a = [0.91, 0.88, 0.93, 0.90, 0.89]
    b = [0.85, 0.86, 0.88, 0.84, 0.87]
    d = np.subtract(a, b)
    out = stats.paired_difference(a, b)
    assert out["n"] == 5 and out["mean"] == pytest.approx(d.mean())
    half = sps.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5)  # by hand
    assert (out["low"], out["high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert out["t_p"] == pytest.approx(sps.ttest_rel(a, b).pvalue)
    assert out["wilcoxon_p"] == pytest.approx(sps.wilcoxon(a, b).pvalue)
    assert out["wilcoxon_p"] == pytest.approx(0.0625)  # 5 pairs, all one way: the smallest two-sided p
    one = stats.paired_difference([0.9], [0.8])
    assert one["mean"] == pytest.approx(0.1) and math.isnan(one["low"]) and math.isnan(one["t_p"])
    with pytest.raises(ValueError, match="one length"):
        stats.paired_difference([1, 2], [1])


@pytest.mark.parametrize("shift, expected", [(0.05, "replicates"), (0.0, "inconclusive"), (-0.05, "does not replicate")])
def test_planted_differences_give_the_verdicts(shift, expected):
    rng = np.random.default_rng(0)
    b = 0.8 + 0.01 * rng.standard_normal(5)
    a = b + shift + 0.005 * rng.standard_normal(5)
    if shift == 0:
        a = b + np.array([0.01, -0.01, 0.005, -0.005, 0.0])  # zero mean difference
    d = stats.paired_difference(a, b)
    assert stats.verdict(d["low"], d["high"], d["n"]) == expected


def test_verdict_rule_edges_and_margin():
    assert stats.verdict(0.001, 0.02, 5) == "replicates"
    assert stats.verdict(-0.001, 0.02, 5) == "inconclusive"
    assert stats.verdict(-0.03, -0.01, 5) == "does not replicate"
    assert stats.verdict(0.01, 0.02, 1) == "cannot test"
    assert stats.verdict(math.nan, math.nan, 5) == "cannot test"
    # non-inferiority (C3): "a - b > -margin"
    assert stats.verdict(-0.015, 0.01, 5, margin=0.02) == "replicates"
    assert stats.verdict(-0.05, -0.03, 5, margin=0.02) == "does not replicate"
    assert stats.verdict(-0.03, 0.0, 5, margin=0.02) == "inconclusive"


def test_hierarchical_bootstrap():
    rng = np.random.default_rng(1)
    same = [np.full(50, 0.1) for _ in range(5)]
    lo, hi = stats.hierarchical_bootstrap(same, n_boot=500)
    assert lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
    noisy = [0.1 + rng.standard_normal(50) * 0.2 for _ in range(5)]
    lo2, hi2 = stats.hierarchical_bootstrap(noisy, n_boot=2000)
    grand = np.mean([x.mean() for x in noisy])
    assert lo2 < grand < hi2 and hi2 - lo2 > 0.02
    # seeds that disagree widen the interval beyond what instance noise alone gives
    spread = [x + s for x, s in zip(noisy, (-0.2, -0.1, 0, 0.1, 0.2))]
    lo3, hi3 = stats.hierarchical_bootstrap(spread, n_boot=2000)
    assert hi3 - lo3 > 2 * (hi2 - lo2)
    assert all(math.isnan(v) for v in stats.hierarchical_bootstrap([np.ones(3)]))


# ------------------------------------------------------------------------------------- a tiny records folder
AUCS = {  # dataset -> method -> (encoding, decoding) means; seeds add noise
    "cowley2023-v4": {"vna": (0.85, 0.86), "direct_encoder": (0.70, 0.865), "direct_decoder": (0.68, 0.65)},
    "simulated": {"vna": (0.80, 0.80), "direct_encoder": (0.80, 0.80), "direct_decoder": (0.80, 0.80)},
}


def _folder(tmp_path, seeds=(0, 1, 2, 3, 4)):
    rng = np.random.default_rng(0)
    grid = []
    for dataset, methods in AUCS.items():
        for method, (enc, dec) in methods.items():
            for s in seeds:
                cfg = RunConfig(dataset=dataset, method=method, seed=s, epochs=3)
                noise = 0.004 * rng.standard_normal(2) if dataset == "cowley2023-v4" else 0.02 * rng.standard_normal(2)
                e, d = enc + noise[0], dec + noise[1]
                inst = {"encoding": np.clip(e + 0.05 * rng.standard_normal(40), 0, 1),
                        "decoding": np.clip(d + 0.05 * rng.standard_normal(40), 0, 1)}
                m = {"encoding_auc": float(inst["encoding"].mean()), "decoding_auc": float(inst["decoding"].mean())}
                m["mean_auc"] = (m["encoding_auc"] + m["decoding_auc"]) / 2
                results.save_record(results.make_record(cfg, m, seconds=1, device="cpu", per_instance=inst), tmp_path)
                grid.append(cfg)
    return grid


def test_report_on_a_tiny_records_folder(tmp_path):
    grid = _folder(tmp_path)
    report = build_report(tmp_path, grid, n_boot=300)
    assert len(report.table) == 6 and set(report.table["n_seeds"]) == {5}
    c = report.comparisons
    row = c[(c.dataset == "cowley2023-v4") & (c.baseline == "direct_encoder") & (c.task == "encoding")].iloc[0]
    assert row["mean_diff"] == pytest.approx(0.15, abs=0.02) and row["ci_low"] > 0
    # the report no longer runs the instance-level bootstrap (one image's instances are not independent)
    assert np.isnan(row["boot_low"]) and np.isnan(row["boot_high"])
    v = report.verdicts.set_index(["dataset", "claim"])["verdict"]  # the plain t-interval's (kept for comparison)
    assert v[("cowley2023-v4", "C1")] == "replicates"  # VNA ahead of both on average
    assert v[("cowley2023-v4", "C2")] == "replicates"
    assert v[("cowley2023-v4", "C3")] == "replicates"  # DE decoding at or above VNA
    assert v[("simulated", "C1")] == "inconclusive"  # no planted difference
    text = to_markdown(report)
    for section in ("## Results", "## VNA − DE and VNA − DD per scoring rule", "## Verdicts on the paper's claims",
                    "## Closest held-out protocol"):
        assert section in text
    assert text.count("## Verdicts") == 1 and "## Paired comparisons" not in text
    paths = write_csv(report, tmp_path / "csv")
    assert [p.name for p in paths] == list(CSV_FILES)
    frame = pd.read_csv(tmp_path / "csv" / "verdicts.csv")
    assert list(frame.columns) == ["claim", "claim_text", "dataset", "split", "test_responses", "protocol", "verdict",
                                   "evidence"]
    res = pd.read_csv(tmp_path / "csv" / "results.csv")
    cow = res[(res.dataset == "cowley2023-v4") & (res.method == "vna")].iloc[0]
    assert cow["paper_dataset"] == "Macaque-synthetic" and cow["paper_encoding_auc"] == 0.9762


def test_report_with_too_few_seeds_cannot_test(tmp_path):
    grid = _folder(tmp_path, seeds=(0,))
    report = build_report(tmp_path, grid, n_boot=100)
    assert set(report.verdicts["verdict"]) == {"cannot test"}


def test_report_command_prints_and_writes_csv(tmp_path, capsys):
    _folder(tmp_path / "records")
    code = main(["report", "--results-dir", str(tmp_path / "records"), "--grid", "none", "--csv",
                 str(tmp_path / "out"), "--bootstrap", "200"])
    assert code == 0
    out = capsys.readouterr().out
    assert "Verdicts on the paper's claims" in out and "replicates" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(CSV_FILES)


def test_closest_protocol():
    paper = results.PAPER_TABLE1
    rows = []
    for split, offset in (("images", -0.2), ("trials", -0.01)):
        for _, p in paper[paper.paper_dataset == "Macaque-synthetic"].iterrows():
            rows.append({"dataset": "cowley2023-v4", "method": p["method"], "split": split, "test_responses": "trials",
                         "protocol": f"{split}/trials", "encoding_auc": p["encoding_auc"] + offset,
                         "decoding_auc": p["decoding_auc"] + offset})
    out = stats.closest_protocols(pd.DataFrame(rows), paper)
    syn = out[out.paper_dataset == "Macaque-synthetic"].set_index("split")
    assert syn.loc["trials", "distance"] == pytest.approx(0.01) and syn.loc["images", "distance"] == pytest.approx(0.2)
    assert bool(syn.loc["trials", "closest"]) and not bool(syn.loc["images", "closest"])


def test_report_includes_the_analyses_tables(tmp_path):
    from vna.study.analyses import linear_grid
    from vna.study.report import build_report

    cfgs = [c for c in linear_grid(["simulated"], ["ridge_encoder"], [0, 1]) if c.split == "trials"]
    for k, cfg in enumerate(cfgs):
        m = {"encoding_auc": 0.6 + 0.01 * k, "decoding_auc": 0.7, "mean_auc": 0.65 + 0.005 * k}
        results.save_record(results.make_record(cfg, m, seconds=1, device="cpu",
                                                per_instance={"encoding": np.full(4, 0.6), "decoding": np.full(4, 0.7)}),
                            tmp_path)
    report = build_report(tmp_path, [], n_boot=10, analyses=True)
    lin = report.analyses["linear"]
    assert set(lin["split"]) == {"trials"} and set(lin["n_seeds"]) == {2}
    assert report.analyses["noise"].empty
    paths = write_csv(report, tmp_path / "csv")
    assert (tmp_path / "csv" / "analysis_linear.csv") in paths
    assert "## Analysis: linear" in to_markdown(report)
