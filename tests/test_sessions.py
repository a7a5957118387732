"""Sessions and animals as the unit of replication (issue 23): loaders, the sessions grid, the statistics.

Expected values come straight from the upstream files (read here with numpy / zipfile), from hand
computations on tiny planted tables, or from the upstream data table; never from the code under test.
"""
from __future__ import annotations

import io
import shutil
import warnings
import zipfile
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import vna.data as data
from vna.data import real
from vna.study.config import RunConfig
from vna.study.grids import study_grid
from vna.study import sessions as S

V4 = {  # session: (animal, neurons, images, trial-level), from shared/data/README.md
    "190925": ("WE", 36, 1200, False), "190927": ("WE", 31, 1200, False), "190928": ("WE", 24, 1200, False),
    "190929": ("WE", 33, 1200, False), "210224": ("PE", 67, 800, False), "210305": ("PE", 70, 400, False),
    "210325": ("PE", 50, 640, True),
}


# ----------------------------------------------------------------------------------------------- loaders
@pytest.mark.parametrize("session", sorted(V4))
def test_each_v4_session_shapes_pairing_and_metadata(shared_data, session):
    animal, n_neurons, n_images, trial_level = V4[session]
    rec = data.load("cowley2023-v4", session=session, progress=False)
    root = shared_data / "cowley2023_v4"
    avg = np.load(root / f"responses_repeat_averaged/responses_{session}.npy", allow_pickle=False)
    assert avg.shape == (n_neurons, n_images)
    assert rec.n_images == n_images and rec.n_neurons == n_neurons
    assert rec.meta["session"] == session and rec.meta["animal"] == animal
    assert rec.meta["trial_level"] is trial_level
    assert rec.meta["responses_kind"] == ("single trials" if trial_level else "trial means")
    if trial_level:
        raw = np.load(root / f"responses_raw/responses_{session}.npy", allow_pickle=False)
        assert rec.responses.shape == (n_images, raw.shape[2], n_neurons)
        assert np.array_equal(rec.responses, raw.transpose(1, 2, 0), equal_nan=True)
    else:
        assert rec.responses.shape == (n_images, 1, n_neurons)
    # image k <-> column k: a few entries exactly, and the images themselves
    for k in (0, n_images // 3, n_images - 1):
        for j in (0, n_neurons - 1):
            assert rec.mean_responses()[k, j] == pytest.approx(avg[j, k], rel=1e-12, abs=1e-12)
    with zipfile.ZipFile(root / f"images/images_{session}.zip") as z:
        for k in (0, n_images - 1):
            jpg = np.asarray(Image.open(io.BytesIO(z.read(f"image{k + 1:04d}.jpg"))).convert("RGB"))
            got = rec.images[k]
            assert np.array_equal(got, jpg[..., 0] if got.ndim == 2 else jpg)
    assert rec.image_ids[0] == "image0001" and rec.image_ids[-1] == f"image{n_images:04d}"
    assert rec.meta["pinned"] is True and all(h.startswith("sha256:") for h in rec.meta["files"].values())


def test_v4_upstream_table_metadata(shared_data):
    m = data.load("cowley2023-v4", session="190929", progress=False).meta
    # readme.txt's row: 190929 WE train 33 15 900 normal (600), active learning (300)
    assert (m["repeats_per_image"], m["table_images"], m["upstream_role"]) == (15, 900, "train")
    assert m["image_types"] == "normal (600), active learning (300)"
    assert data.load("cowley2023-v4", progress=False).meta["image_types"] == "Bashivan et al., 2019 (640)"


def test_antolik_regions(shared_data):
    for region, (trials, neurons) in {1: (10, 103), 2: (8, 55)}.items():
        rec = data.load("antolik2016-v1", region=region, progress=False)
        raw = np.load(shared_data / f"antolik2016_v1/region{region}/raw_validation_set.npy", allow_pickle=False)
        assert rec.responses.shape == (50, trials, neurons)
        assert rec.responses[7, 3, 5] == raw[3, 7, 5] and rec.responses[49, 0, -1] == raw[0, 49, -1]
        assert rec.meta["session"] == f"region{region}" and rec.meta["trial_level"] is True


def test_default_key_and_session_unchanged(shared_data):
    # published records are keyed by these (computed before sessions and the layout setting existed)
    old = dict(memory_format="contiguous")
    assert RunConfig(dataset="cowley2023-v4", **old).key() == "adf2d34ae3b8"
    assert RunConfig(dataset="antolik2016-v1", **old).key() == "c8dba5fc99f7"
    assert RunConfig(dataset="cowley2023-v4", dataset_options={"session": "190925"}, **old).key() != "adf2d34ae3b8"
    assert RunConfig(dataset="cowley2023-v4").key() != "adf2d34ae3b8"  # today's default layout: channels-last
    assert data.load("cowley2023-v4", progress=False).meta["session"] == "210325"


def test_unpinned_session_loads_with_one_sha256_warning(shared_data, tmp_path, monkeypatch):
    src, dst = shared_data / "cowley2023_v4", tmp_path / "cowley2023_v4"
    for rel, new in [("images/images_210305.zip", "images/images_999999.zip"),
                     ("responses_repeat_averaged/responses_210305.npy", "responses_repeat_averaged/responses_999999.npy")]:
        (dst / new).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dst / new)
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = data.load("cowley2023-v4", session="999999", progress=False)
    ours = [w for w in caught if issubclass(w.category, real.UnpinnedDataWarning)]
    assert len(ours) == 1
    text = str(ours[0].message)
    for h in ("9fab651e9c2d0b44091c2ea238c78d68fedf573cd7d4ae6b0545c5d84c121776",
              "00dce8d39558bfc3f5dd55c6f678c05de1b63895d56193379fd7dfe41fc703f0"):  # README's sha256
        assert h in text
    assert rec.n_images == 400 and rec.meta["pinned"] is False and rec.meta["trial_level"] is False
    listed = real.cowley_sessions().set_index("session")
    assert listed.loc["999999", "status"] == "found (not pinned)"
    # a pinned session raises no such warning
    monkeypatch.setenv("VNA_DATA_DIR", str(shared_data))
    with warnings.catch_warnings():
        warnings.simplefilter("error", real.UnpinnedDataWarning)
        data.load("cowley2023-v4", session="210305", progress=False)


def test_unknown_session_is_one_clear_error(shared_data):
    with pytest.raises(ValueError, match="session must be one of .*; got '123456'"):
        data.load("cowley2023-v4", session="123456")
    with pytest.raises(ValueError, match="six-digit"):
        data.load("cowley2023-v4", session="abc")


def test_sessions_listing(shared_data):
    table = data.registry.sessions()
    v4 = table[table["dataset"] == "cowley2023-v4"].set_index("session")
    assert set(V4) <= set(v4.index)
    for s, (animal, neurons, images, trial) in V4.items():
        assert (v4.loc[s, "animal"], v4.loc[s, "neurons"], v4.loc[s, "images"]) == (animal, neurons, images)
        assert v4.loc[s, "responses"] == ("single trials" if trial else "trial means")
    assert set(table[table["dataset"] == "antolik2016-v1"]["value"]) >= {1, 2}


# --------------------------------------------------------------------------------------------- the grid
def test_sessions_grid_composition():
    grid = S.sessions_grid()
    per = Counter((c.dataset, c.dataset_options.get("session", c.dataset_options.get("region", "default")))
                  for c in grid)
    # trial-means sessions: held-out images on means only, 3 methods x 3 seeds
    for s in ("190925", "190927", "190928", "190929", "210224", "210305"):
        assert per[("cowley2023-v4", s)] == 9
        assert {(c.split, c.responses, c.test_responses) for c in grid if c.dataset_options.get("session") == s} \
            == {("images", "mean", "mean")}
    # trial-level sessions: the study's six protocols plus held-out images trained on means
    assert per[("cowley2023-v4", "default")] == 7 * 9 and per[("antolik2016-v1", "default")] == 7 * 9
    assert per[("antolik2016-v1", 2)] == 7 * 9
    assert len(grid) == 6 * 9 + 3 * 63 and len({c.key() for c in grid}) == len(grid)
    assert {c.seed for c in grid} == {0, 1, 2} and {c.method for c in grid} == {"vna", "direct_encoder", "direct_decoder"}
    # the default session's runs are the published study's runs (same keys)
    study = {c.key() for c in study_grid(datasets=["cowley2023-v4"], seeds=[0, 1, 2])}
    assert study <= {c.key() for c in grid}


# ----------------------------------------------------------------------------------------- statistics
def test_two_level_bootstrap_equals_hand_enumeration():
    # animal A: sessions 1, 3; animal B: session 5; every equally likely draw, enumerated by hand
    hand: dict[float, float] = {}

    def add(v, p):
        hand[round(v, 12)] = hand.get(round(v, 12), 0.0) + p
    # (A, A): two independent draws of A, each sum 2 (1/4), 4 (1/2), 6 (1/4); mean = (s1 + s2) / 4
    sums = {2: 0.25, 4: 0.5, 6: 0.25}
    for s1, p1 in sums.items():
        for s2, p2 in sums.items():
            add((s1 + s2) / 4, 0.25 * p1 * p2)
    for s, p in sums.items():  # (A, B) and (B, A): mean = (s + 5) / 3
        add((s + 5) / 3, 0.5 * p)
    add(5.0, 0.25)  # (B, B)
    assert sum(hand.values()) == pytest.approx(1.0) and sum(v * p for v, p in hand.items()) == pytest.approx(3.25)
    # the seeded Monte Carlo bootstrap draws from that distribution
    (lo, hi), draws = S.two_level_bootstrap([1.0, 3.0, 5.0], ["A", "A", "B"], n_boot=40000, return_draws=True)
    assert draws.mean() == pytest.approx(3.25, abs=0.02)
    for v in hand:
        assert (np.abs(draws - v) < 1e-9).mean() == pytest.approx(hand[v], abs=0.01)
    cdf = np.cumsum([hand[v] for v in sorted(hand)])
    assert lo == min(v for v, c in zip(sorted(hand), cdf) if c >= 0.025)
    assert hi == min(v for v, c in zip(sorted(hand), cdf) if c >= 0.975)


def _planted(diffs: dict[str, float], animals: dict[str, str | None], dataset="cowley2023-v4",
             de_constant: float | None = None) -> pd.DataFrame:
    """Records: per session, 3 seeds of VNA / DE / DD, VNA ahead of both by ``diffs[session]`` on every task
    (``de_constant``: DE at that AUC in every seed instead)."""
    rows = []
    for s, d in diffs.items():
        for seed in range(3):
            base = 0.6 + 0.01 * seed
            de = base if de_constant is None else de_constant
            for method, auc in (("vna", base + d), ("direct_encoder", de), ("direct_decoder", base)):
                rows.append({"dataset": dataset, "session": s, "animal": animals[s], "species": "macaque",
                             "area": "V4", "method": method, "split": "images", "responses": "mean",
                             "test_responses": "mean", "seed": seed, "score": "paper", "encoding_auc": auc,
                             "decoding_auc": auc, "mean_auc": auc})
    return S.add_sessions(pd.DataFrame(rows))


def test_verdict_wording_on_planted_tables():
    animals = {"s1": "WE", "s2": "WE", "s3": "PE"}
    ver = S.session_verdicts(S.per_session(_planted({"s1": 0.05, "s2": 0.04, "s3": 0.03}, animals))).set_index("claim")
    assert ver.loc["C1", "wording"] == "holds in 3 of 3 sessions, in both animals"
    assert ver.loc["C1", "verdict"] == "replicates"
    ver = S.session_verdicts(S.per_session(_planted({"s1": 0.05, "s2": 0.04, "s3": -0.03}, animals))).set_index("claim")
    assert ver.loc["C1", "wording"] == "holds in 2 of 3 sessions, in 1 of 2 animals (WE)"
    # C3 on the logit scale, as per cell: DE's decoding "close" while its error rate is at most 25 % above VNA's,
    # logit(DE) - logit(VNA) > -log 1.25. At AUC 0.6 a lead of 0.05 is 0.214 in logits (inside), 0.08 is 0.349
    assert np.log(0.65 / 0.35) - np.log(0.6 / 0.4) < np.log(1.25) < np.log(0.68 / 0.32) - np.log(0.6 / 0.4)
    ver = S.session_verdicts(S.per_session(_planted({"s1": 0.05, "s2": 0.08, "s3": 0.05}, animals))).set_index("claim")
    assert ver.loc["C3", "wording"] == "holds in 2 of 3 sessions, in 1 of 2 animals (PE)"
    # an AUC margin of 0.02 would have said "holds in 0 of 3"; the per-cell C3 and the sessions' C3 share one scale
    assert "(logit)" in ver.loc["C3", "evidence"]
    unknown = S.session_verdicts(S.per_session(_planted({"r1": 0.02, "r2": 0.03}, {"r1": None, "r2": None})))
    assert unknown.set_index("claim").loc["C1", "wording"] == "holds in 2 of 2 sessions (animals not known)"


def test_across_sessions_interval_and_sign_count():
    diffs = {"s1": 0.05, "s2": 0.01, "s3": -0.03}
    per = S.per_session(_planted(diffs, {"s1": "WE", "s2": "WE", "s3": "PE"}))
    acr = S.across_sessions(per)
    row = acr[(acr["baseline"] == "direct_encoder") & (acr["task"] == "average") & (acr["scale"] == "auc")].iloc[0]
    d = np.array(list(diffs.values()))
    half = 4.302652729749464 * d.std(ddof=1) / np.sqrt(3)  # t(0.975, 2)
    assert row["mean_diff"] == pytest.approx(d.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert (row["n_positive"], row["n_sessions"], row["n_animals"]) == (2, 3, 2)


def test_each_rule_from_its_own_rows():
    rec = _planted({"s1": 0.05, "s2": 0.04}, {"s1": "WE", "s2": "PE"})
    cosine = rec.assign(score="cosine", encoding_auc=rec["encoding_auc"] - 0.1 * (rec["method"] == "vna"))
    per = S.per_session(pd.concat([rec, cosine], ignore_index=True), score="cosine")
    enc = per[(per["baseline"] == "direct_encoder") & (per["task"] == "encoding")
              & (per["scale"] == "auc")].set_index("session")["mean_diff"]
    assert enc.to_dict() == pytest.approx({"s1": -0.05, "s2": -0.06})
    with pytest.raises(ValueError, match="score must be one of"):
        S.per_session(rec, score="nope")


def test_equivalence_and_cannot_test_over_sessions():
    animals = {"s1": "WE", "s2": "WE", "s3": "PE", "s4": "PE"}
    # VNA within ±0.002 AUC of both baselines in every session: the logit interval over sessions lies inside the
    # margin, so C1 reads "equivalent" ("no difference"), as the per-cell verdicts do
    ver = S.session_verdicts(S.per_session(_planted({"s1": 0.002, "s2": -0.001, "s3": 0.001, "s4": -0.002},
                                                    animals))).set_index("claim")
    assert ver.loc["C1", "verdict"] == "equivalent" and "logit" in ver.loc["C1", "evidence"]
    # DE at exactly 0.5 in every seed of every session: VNA - DE cannot be tested there, so neither can C2
    per = S.per_session(_planted({"s1": 0.05, "s2": 0.04, "s3": 0.06, "s4": 0.05}, animals, de_constant=0.5))
    assert set(per.loc[per["baseline"] == "direct_encoder", "untestable"]) == {
        "DE's encoding AUC is 0.5000 in every seed", "DE's decoding AUC is 0.5000 in every seed",
        "DE's average AUC is 0.5000 in every seed"}
    ver = S.session_verdicts(per).set_index("claim")
    assert ver.loc["C2", "verdict"] == "cannot test" and ver.loc["C1", "verdict"] == "cannot test"
    assert "s1: DE's encoding AUC is 0.5000 in every seed" in ver.loc["C2", "evidence"]


# ------------------------------------------------------------------------------- several folders (CLI)
def test_several_folders_are_sessions_with_an_across_session_summary(tmp_path, capsys):
    from vna.cli import main

    folders = []
    for i in range(2):  # two small recordings (mechanics only: this test makes no claim about a brain)
        rec = data.load("simulated", n_images=40, n_trials=4, n_neurons=12, seed=i)
        folders.append(str(data.to_folder(rec, tmp_path / f"session{i}")))
    args = ["reproduce", "--folder", folders[0], "--folder", folders[1], "--quick", "--seeds", "0",
            "--methods", "vna", "direct_encoder", "--results-dir", str(tmp_path / "runs"), "--no-progress"]
    assert main(args + ["--dry-run"]) == 0
    dry = capsys.readouterr().out
    grid = S.folders_grid(folders, methods=["vna", "direct_encoder"], seeds=[0], quick=True)
    assert f"{len(grid)} runs" in dry and len({c.dataset for c in grid}) == 2
    assert main(args) == 0
    out = capsys.readouterr().out
    summary = out[out.index("across sessions, paper rule"):]
    # per scoring rule the records carry, each with the same verdict words as the sessions grid
    blocks = {rule: summary.split(f"across sessions, {rule} rule")[1].split("across sessions, ")[0]
              for rule in ("paper", "cosine", "centred")}
    for rule, block in blocks.items():
        held, _, inside = block.partition("in-sample diagnostic")
        assert "C3 [own recordings, images/mean->mean]: holds in " in held and " of 2 sessions (animals not known)" in held
        assert "C1 [own recordings, images/mean->mean]: cannot test (missing methods)" in held  # no direct decoder
        assert "VNA - DE average AUC [own recordings, images/mean->mean]: " in held and "over 2 sessions" in held
        # held-out protocols only in the verdicts; the in-sample diagnostic apart, with no verdict
        verdict_lines = [line for line in held.splitlines() if line.strip().startswith("C")]
        assert verdict_lines and all("none/" not in line for line in verdict_lines)
        assert "never in a verdict" in inside and "none/" in inside and "over sessions:" not in inside
