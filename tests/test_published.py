"""The published grid in results/: complete, current, and what the README says (issue "The reproduction study").

* every record in results/ belongs to a grid definition of today (vna.study.grids, vna.study.analyses): a record made
  with another definition of a grid is stale and fails here;
* every run of the study grid has its record, so every group the results chapter shows has five seeds;
* the README's result block is exactly what `python -m vna report --readme` writes from these records.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from vna.study.controls import control_grid
from vna.study.pipeline import prepare
from vna.study.registry import GRIDS
from vna.study.sessions import sessions_grid
from vna.study.grids import STUDY_SEEDS, study_grid
from vna.study.report import README_END, README_START, build_report, readme_markdown
from vna.scoring import SCORES
from vna.study.store import PUBLISHED_MARKER, load_records, published_dir, read_instances

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def records():
    folder = published_dir()
    assert folder is not None and (folder / PUBLISHED_MARKER).is_file(), "results/ must carry the PUBLISHED marker"
    return load_records(folder)


@pytest.fixture(scope="module")
def scored():
    """The published records under every scoring rule each carries (one row per record and rule)."""
    return load_records(published_dir(), score=None)


def _every_rule(scored: pd.DataFrame, rows: pd.DataFrame) -> bool:
    """Whether every record of ``rows`` carries every scoring rule."""
    per = scored[scored["key"].isin(rows["key"])].groupby("key")["score"].nunique()
    return len(per) == len(rows) and bool((per == len(SCORES)).all())


def _all_grids():
    """Every grid whose records may sit in results/: all registered ones but the paper grid (its datasets need a
    network; its records go to a runs folder)."""
    configs = []
    for name, (build, _) in GRIDS.items():
        if name != "paper":
            configs += build()
    return configs


def test_the_sessions_grid_is_complete(records, scored):
    have = set(zip(records["signature"], records["seed"]))
    missing = [c for c in sessions_grid() if (c.signature(), c.seed) not in have]
    assert not missing, f"{len(missing)} sessions run(s) have no record, e.g. {missing[:2]}"
    new = records[records["signature"].isin({c.signature() for c in sessions_grid()}) & records["commit"].notna()]
    assert len(new) >= 135 and _every_rule(scored, new)  # the sessions' own runs carry every rule


def test_no_record_was_made_with_another_definition_of_a_grid(records):
    wanted = {c.signature() for c in _all_grids()}
    stale = records[~records["signature"].isin(wanted)]
    assert stale.empty, f"{len(stale)} stale record(s), e.g. {stale['path'].head(3).tolist()}"
    assert set(records["threads"]) == {1} and set(records["device_kind"]) <= {"cpu", "cuda"}


def test_the_study_grid_is_complete_with_five_seeds(records):
    have = set(zip(records["signature"], records["seed"]))
    missing = [c for c in study_grid() if (c.signature(), c.seed) not in have]
    assert not missing, f"{len(missing)} study run(s) have no record, e.g. {missing[:2]}"
    study = records[records["signature"].isin({c.signature() for c in study_grid()})]
    seeds = study.groupby("signature")["seed"].apply(lambda s: sorted(set(s)))
    assert all(list(s) == list(STUDY_SEEDS) for s in seeds)


def test_every_record_has_its_per_instance_aucs(records):
    for path in records["path"].sample(min(25, len(records)), random_state=0):
        rec = json.loads(Path(path).read_text())
        inst = read_instances(path)
        assert len(inst["encoding"]) == len(inst["decoding"]) == rec["sizes"]["test_responses"]
        assert abs(inst["encoding"].mean() - rec["metrics"]["encoding_auc"]) < 1e-4


def test_readme_shows_the_published_numbers():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split(README_START)[1].split(README_END)[0]
    expected = readme_markdown(build_report(published_dir(), study_grid(), n_boot=10))
    assert block.strip() == expected.strip(), "README.md is stale: run `python -m vna report --readme README.md`"


def test_the_published_trial_template_cosine_aucs_equal_numpy(scored):
    """cowley2023-v4, held-out trials, single trials, seed 0 (the linear grid's trial template): the published
    record's cosine AUCs equal a numpy computation from the prepared pairs within 1e-9 (issue 22)."""
    from test_scoring import template_cosine_aucs

    cfg = next(c for c in GRIDS["linear"][0]() if c.method == "trial_template" and c.dataset == "cowley2023-v4"
               and c.split == "trials" and c.eval_responses == "trials" and c.seed == 0)
    row = scored[(scored["signature"] == cfg.signature()) & (scored["seed"] == 0) & (scored["score"] == "cosine")]
    parts = prepare(cfg)
    direct = template_cosine_aucs(parts.train, parts.test)
    assert row["encoding_auc"].iloc[0] == pytest.approx(direct["encoding"], abs=1e-9)
    assert row["decoding_auc"].iloc[0] == pytest.approx(direct["decoding"], abs=1e-9)


def test_the_shuffled_pairing_control_sits_at_chance_on_every_dataset(scored):
    """Trained on permuted image-response pairs (--grid control), every dataset's mean AUC over its 3 methods x 5
    seeds sits at chance under every scoring rule and task: within 0.02 of 0.5, or, where the test set is too small
    for that bar, within 3 standard errors of the runs' mean (allen-2p-ns118 tests 18 images per run: its SE is
    ~0.014, and its cosine decoding mean is 0.4795). Nothing leaks (issue 22)."""
    grid = control_grid()
    wanted = {(c.signature(), c.seed) for c in grid}
    ctl = scored[[(s, seed) in wanted for s, seed in zip(scored["signature"], scored["seed"])]]
    assert len(ctl) == len(SCORES) * len(grid), "a control run has no record, or not every rule"
    cols = ["encoding_auc", "decoding_auc"]
    assert ctl[cols].notna().all().all()
    for (dataset, rule), g in ctl.groupby(["dataset", "score"]):
        for col in cols:
            se = g[col].std(ddof=1) / len(g) ** 0.5
            assert abs(g[col].mean() - 0.5) <= max(0.02, 3 * se), (dataset, rule, col, round(g[col].mean(), 4),
                                                                    round(se, 4))
    near = ctl[ctl["dataset"] != "allen-2p-ns118"]
    assert (near.groupby(["dataset", "score"])[cols].mean() - 0.5).abs().max().max() <= 0.02  # the 0.02 bar


def test_the_study_records_carry_every_scoring_rule_and_their_provenance(records, scored):
    """The study grid was rerun in one go (issue 22): every record holds every rule's AUCs, the code's commit and
    the CPU that made it, and all of them came from one commit and one kind of CPU (deep models' numbers move in
    the third digit from one instruction set to another)."""
    study = records[records["signature"].isin({c.signature() for c in study_grid()})]
    assert len(study) == len(study_grid())
    assert _every_rule(scored, study) and scored.loc[scored["key"].isin(study["key"]), "mean_auc"].notna().all()
    assert study["commit"].notna().all() and study["commit"].nunique() == 1
    cpus = set(study["cpu"])  # load_records' versions.cpu (None where a record does not name it)
    assert len(cpus) == 1 and None not in cpus, cpus


def test_the_reliability_filter_grid_is_complete(records, scored):
    """One row per dataset with Huang et al.'s 0.8 filter on (--grid filter, issue 22 item 8), every rule."""
    grid = GRIDS["filter"][0]()
    wanted = {(c.signature(), c.seed) for c in grid}
    got = records[[(s, seed) in wanted for s, seed in zip(records["signature"], records["seed"])]]
    assert len(got) == len(grid), f"{len(grid) - len(got)} filter run(s) have no record"
    assert _every_rule(scored, got)
