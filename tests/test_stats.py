"""Verdicts on the paper's claims and the report (one statistics stack: corrected resampled t, equivalence, cannot
test)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from vna.study import store, stats
from vna.cli import main
from vna.study.config import RunConfig
from vna.study.record import RunRecord
from vna.study.report import CSV_FILES, build_report, to_markdown, write_csv


def _interval(d, ratio=0.0):
    d = np.asarray(d, dtype=float)
    q = sps.t.ppf(0.975, len(d) - 1)
    half = q * d.std(ddof=1) * math.sqrt(1 / len(d) + ratio)  # by hand: Nadeau & Bengio's variance
    return d.mean() - half, d.mean() + half


@pytest.mark.parametrize("shift, expected", [(0.05, "replicates"), (0.0, "inconclusive"), (-0.05, "does not replicate")])
def test_planted_differences_give_the_verdicts(shift, expected):
    rng = np.random.default_rng(0)
    b = 0.8 + 0.01 * rng.standard_normal(5)
    a = b + shift + 0.005 * rng.standard_normal(5)
    if shift == 0:
        a = b + np.array([0.01, -0.01, 0.005, -0.005, 0.0])  # zero mean difference
    d = stats.corrected_t_interval(a - b, 0.2)
    assert (d["low"], d["high"]) == pytest.approx(_interval(a - b, 0.2))
    assert stats.verdict(d["low"], d["high"], d["n"]) == expected


def test_verdict_rule_edges_and_margin():
    assert stats.verdict(0.001, 0.02, 5) == "replicates"
    assert stats.verdict(-0.001, 0.02, 5) == "inconclusive"
    assert stats.verdict(-0.03, -0.01, 5) == "does not replicate"
    assert stats.verdict(0.01, 0.02, 1) == "cannot test"
    assert stats.verdict(math.nan, math.nan, 5) == "cannot test"
    assert stats.verdict(0.01, 0.02, 5, reason="DE's encoding AUC is 0.5000 in every seed") == "cannot test"
    # non-inferiority (C3): "a - b > -margin"
    assert stats.verdict(-0.015, 0.01, 5, margin=0.02) == "replicates"
    assert stats.verdict(-0.05, -0.03, 5, margin=0.02) == "does not replicate"
    assert stats.verdict(-0.03, 0.0, 5, margin=0.02) == "inconclusive"


def test_equivalence_is_two_one_sided_tests_on_the_logit_interval():
    m = stats.EQUIVALENCE_MARGIN
    assert m == pytest.approx(math.log(1.25)) and m == stats.C3_LOGIT_MARGIN
    # inside ±m on the logit scale: equivalent, whatever the AUC interval says
    assert stats.verdict(-0.004, 0.003, 5, equivalence=(-m + 0.01, m - 0.01)) == "equivalent"
    assert stats.verdict(0.001, 0.003, 5, equivalence=(0.05, 0.1)) == "equivalent"  # a lead smaller than the margin
    # one bound outside: the ordinary rule
    assert stats.verdict(-0.004, 0.003, 5, equivalence=(-m - 0.01, 0.1)) == "inconclusive"
    assert stats.verdict(0.01, 0.03, 5, equivalence=(0.1, m + 0.01)) == "replicates"
    assert stats.verdict(-0.004, 0.003, 5, equivalence=(math.nan, math.nan)) == "inconclusive"
    # "cannot test" wins over equivalence
    assert stats.verdict(-0.004, 0.003, 5, equivalence=(-0.1, 0.1), reason="too coarse") == "cannot test"
    assert stats.verdict_text("equivalent") == f"no difference (equivalent within ±{m:.2f} logit)"
    assert stats.verdict_text("replicates") == "replicates"


def test_combining_the_parts_of_a_claim():
    c = stats.combine_verdicts
    assert c(["replicates", "replicates"]) == "replicates"
    assert c(["replicates", "equivalent"]) == "equivalent"  # VNA does not beat one of the baselines
    assert c(["equivalent", "inconclusive"]) == "inconclusive"
    assert c(["equivalent", "does not replicate"]) == "does not replicate"
    assert c(["replicates", "cannot test"]) == "cannot test" and c([]) == "cannot test"


def test_untestable_rule():
    # a method at exactly the same AUC in every seed (float rounding aside)
    why = stats.untestable({"VNA": [0.52, 0.55, 0.5], "DE": [0.5, 0.49999999999999994, 0.5]}, "encoding")
    assert why == "DE's encoding AUC is 0.5000 in every seed"
    assert stats.untestable({"VNA": [0.52, 0.55, 0.5], "DE": [0.5, 0.51, 0.5]}, "encoding") == ""
    assert stats.untestable({"VNA": [0.9], "DE": [0.9]}, "encoding") == ""  # one seed: the interval says it
    # 8 test images with one response each: 8 x 7 (true match, distractor) pairs, a grid step of 1/56
    step = stats.auc_grid_step({"test_images": 8, "test_responses": 8}, "encoding")
    assert step == pytest.approx(1 / 56)
    assert stats.auc_grid_step({"test_images": 8, "test_responses": 8}, "average") == pytest.approx(0.5 / 56)
    assert stats.auc_grid_step({"test_images": 100, "test_responses": 300}, "encoding") == pytest.approx(1 / (300 * 297))
    assert stats.auc_grid_step({"test_images": 100, "test_responses": 300}, "decoding", 10) == pytest.approx(1 / 3000)
    assert math.isnan(stats.auc_grid_step({}, "encoding"))
    # the margin in AUC units at 0.6 is ~0.055: a 1/56 grid resolves it, a 1/12 grid (4 images) does not
    tol = stats.margin_in_auc(0.6)
    up = 1 / (1 + math.exp(-(math.log(0.6 / 0.4) + math.log(1.25)))) - 0.6  # odds x 1.25: 0.6 -> 0.6522
    assert tol == pytest.approx(up) and up < 0.6 - 1 / (1 + math.exp(-(math.log(0.6 / 0.4) - math.log(1.25))))
    assert stats.untestable({"VNA": [0.6, 0.62], "DE": [0.58, 0.6]}, "encoding", 1 / 56) == ""
    why = stats.untestable({"VNA": [0.6, 0.62], "DE": [0.58, 0.6]}, "encoding", 1 / 12)
    assert why.startswith("the test set resolves encoding AUC in steps of 0.0833")


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
                inst = {"encoding_auc": np.clip(e + 0.05 * rng.standard_normal(40), 0, 1),
                        "decoding_auc": np.clip(d + 0.05 * rng.standard_normal(40), 0, 1)}
                m = {k: float(v.mean()) for k, v in inst.items()}
                m["mean_auc"] = (m["encoding_auc"] + m["decoding_auc"]) / 2
                store.save_record(RunRecord(cfg, {"paper": m}, 1, "cpu", instances=inst), tmp_path)
                grid.append(cfg)
    return grid


def test_report_on_a_tiny_records_folder(tmp_path):
    grid = _folder(tmp_path)
    report = build_report(tmp_path, grid, n_boot=300)
    assert len(report.table) == 6 and set(report.table["n_seeds"]) == {5}
    c = report.referee
    row = c[(c.dataset == "cowley2023-v4") & (c.baseline == "direct_encoder") & (c.task == "encoding")
            & (c.scale == "auc")].iloc[0]
    assert row["mean_diff"] == pytest.approx(0.15, abs=0.02) and row["ci_low"] > 0
    v = report.verdict_table.set_index(["dataset", "claim"])["paper"]
    assert v[("cowley2023-v4", "C1")] == "replicates"  # VNA ahead of both on average
    assert v[("cowley2023-v4", "C2")] == "replicates"
    assert v[("cowley2023-v4", "C3")] == "replicates"  # DE decoding at or above VNA
    # no planted difference on the simulated rows: never a lead or a loss; "equivalent" exactly where the logit
    # interval of both average differences lies inside the margin
    logit = c[(c.dataset == "simulated") & (c.task == "average") & (c.scale == "logit")]
    inside = ((logit["ci_low"] > -stats.EQUIVALENCE_MARGIN) & (logit["ci_high"] < stats.EQUIVALENCE_MARGIN)).all()
    assert v[("simulated", "C1")] == ("equivalent" if inside else "inconclusive")
    assert not hasattr(report, "comparisons") and not hasattr(report, "closest")  # one statistics stack
    text = to_markdown(report)
    for section in ("## Results", "## VNA − DE and VNA − DD per scoring rule", "## Verdicts on the paper's claims",
                    "## Closest held-out protocol"):
        assert section in text
    assert text.count("## Verdicts") == 1 and "## Paired comparisons" not in text
    paths = write_csv(report, tmp_path / "csv")
    assert [p.name for p in paths] == list(CSV_FILES)
    verdict_tables = [n for n in CSV_FILES if "verdict" in n]
    assert verdict_tables == ["referee_verdicts.csv"]  # exactly one verdict table
    assert [n for n in CSV_FILES if "comparison" in n] == ["referee_comparisons.csv"]
    assert [n for n in CSV_FILES if "closest" in n] == ["closest_referee.csv"]
    frame = pd.read_csv(tmp_path / "csv" / "referee_verdicts.csv")
    assert list(frame.columns) == ["score", "claim", "claim_text", "dataset", "counted", "split", "test_responses",
                                   "protocol", "verdict", "plain_verdict", "evidence"]
    res = pd.read_csv(tmp_path / "csv" / "results.csv")
    cow = res[(res.dataset == "cowley2023-v4") & (res.method == "vna")].iloc[0]
    assert cow["paper_dataset"] == "Macaque-synthetic" and cow["paper_encoding_auc"] == 0.9762


def test_the_verdict_table_holds_equivalent_where_the_interval_lies_inside_the_margin(tmp_path):
    """Planted: on one recording VNA and DE are tied to within ±0.002 AUC at 0.85 in every seed (logit interval
    ~±0.02, far inside ±log 1.25), DD far behind: C1 and C2 read "equivalent" in the CSV, the README wording says
    "no difference (equivalent within ±0.22 logit)", and an interval that straddles the margin stays inconclusive."""
    rng = np.random.default_rng(3)
    grid = []
    wobble = {"vna": [0.002, -0.001, 0.0, 0.001, -0.002], "direct_encoder": [0.0, 0.001, -0.001, 0.0, 0.001]}
    for dataset, spread in (("cowley2023-v4", 1.0), ("antolik2016-v1", 40.0)):
        for method, base in (("vna", 0.85), ("direct_encoder", 0.85), ("direct_decoder", 0.70)):
            for s in range(5):
                cfg = RunConfig(dataset=dataset, method=method, seed=s, epochs=3)
                e = base + spread * wobble.get(method, [0.003 * rng.standard_normal()] * 5)[s]
                d = base + spread * wobble.get(method, [0.003 * rng.standard_normal()] * 5)[(s + 2) % 5]
                m = {"encoding_auc": e, "decoding_auc": d, "mean_auc": (e + d) / 2}
                sizes = {"train_images": 500, "test_images": 100, "train_responses": 500, "test_responses": 100}
                inst = {"encoding_auc": np.full(100, e), "decoding_auc": np.full(100, d)}
                store.save_record(RunRecord(cfg, {"paper": m}, 1, "cpu", sizes=sizes, instances=inst), tmp_path)
                grid.append(cfg)
    report = build_report(tmp_path, grid, n_boot=20)
    write_csv(report, tmp_path / "csv")
    frame = pd.read_csv(tmp_path / "csv" / "referee_verdicts.csv").set_index(["dataset", "claim"])
    assert frame.loc[("cowley2023-v4", "C1"), "verdict"] == "equivalent"
    assert frame.loc[("cowley2023-v4", "C2"), "verdict"] == "equivalent"  # VNA - DE encoding tied
    assert frame.loc[("cowley2023-v4", "C3"), "verdict"] == "replicates"
    assert "logit" in frame.loc[("cowley2023-v4", "C1"), "evidence"]
    assert frame.loc[("antolik2016-v1", "C1"), "verdict"] == "inconclusive"  # 40x the spread: not shown equivalent
    comps = pd.read_csv(tmp_path / "csv" / "referee_comparisons.csv")
    logit = comps[(comps.dataset == "cowley2023-v4") & (comps.baseline == "direct_encoder") & (comps.task == "average")
                  & (comps.scale == "logit")].iloc[0]
    assert -stats.EQUIVALENCE_MARGIN < logit["ci_low"] < logit["ci_high"] < stats.EQUIVALENCE_MARGIN
    from vna.study.report import readme_markdown  # local: the README block, only for this test

    assert "no difference (equivalent within ±0.22 logit)" in readme_markdown(report)


def test_a_method_at_the_same_auc_in_every_seed_cannot_be_tested(tmp_path):
    grid = []
    for method, enc in (("vna", [0.55, 0.6, 0.52]), ("direct_encoder", [0.5, 0.5, 0.5]), ("direct_decoder", [0.4] * 3)):
        for s in range(3):
            cfg = RunConfig(dataset="antolik2016-v1", method=method, seed=s, epochs=3)
            m = {"encoding_auc": enc[s], "decoding_auc": 0.6 + 0.01 * s, "mean_auc": (enc[s] + 0.6 + 0.01 * s) / 2}
            inst = {"encoding_auc": np.full(10, enc[s]), "decoding_auc": np.full(10, 0.6 + 0.01 * s)}
            store.save_record(RunRecord(cfg, {"paper": m}, 1, "cpu", instances=inst), tmp_path)
            grid.append(cfg)
    report = build_report(tmp_path, grid, n_boot=20)
    v = report.referee_verdicts.set_index("claim")
    assert v.loc["C2", "verdict"] == "cannot test"  # VNA - DE encoding: DE at 0.5000 in every seed
    assert "DE's encoding AUC is 0.5000 in every seed" in v.loc["C2", "evidence"]
    assert v.loc["C1", "verdict"] != "cannot test"  # DE's average varies


def test_report_with_too_few_seeds_cannot_test(tmp_path):
    grid = _folder(tmp_path, seeds=(0,))
    report = build_report(tmp_path, grid, n_boot=100)
    assert set(report.referee_verdicts["verdict"]) == {"cannot test"}


def test_report_command_prints_and_writes_csv(tmp_path, capsys):
    _folder(tmp_path / "records")
    code = main(["report", "--results-dir", str(tmp_path / "records"), "--grid", "none", "--csv",
                 str(tmp_path / "out"), "--bootstrap", "200"])
    assert code == 0
    out = capsys.readouterr().out
    assert "Verdicts on the paper's claims" in out and "replicates" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(CSV_FILES)
    assert not {"verdicts.csv", "comparisons.csv", "closest.csv"} & {p.name for p in (tmp_path / "out").iterdir()}


def test_report_includes_the_analyses_tables(tmp_path):
    from vna.study.analyses import linear_grid
    from vna.study.report import build_report

    cfgs = [c for c in linear_grid(["simulated"], ["ridge_encoder"], [0, 1]) if c.split == "trials"]
    for k, cfg in enumerate(cfgs):
        m = {"encoding_auc": 0.6 + 0.01 * k, "decoding_auc": 0.7, "mean_auc": 0.65 + 0.005 * k}
        inst = {"encoding_auc": np.full(4, 0.6), "decoding_auc": np.full(4, 0.7)}
        store.save_record(RunRecord(cfg, {"paper": m}, 1, "cpu", instances=inst), tmp_path)
    report = build_report(tmp_path, [], n_boot=10, analyses=True)
    lin = report.analyses["linear"]
    assert set(lin["split"]) == {"trials"} and set(lin["n_seeds"]) == {2}
    assert report.analyses["noise"].empty
    paths = write_csv(report, tmp_path / "csv")
    assert (tmp_path / "csv" / "analysis_linear.csv") in paths
    assert "## Analysis: linear" in to_markdown(report)
