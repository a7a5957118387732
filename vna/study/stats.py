"""Paired statistics and verdicts on the paper's claims (section 5 and the abstract), one stack.

Runs with one seed share their split, initialisation and batch order, so VNA and a baseline are compared
*paired by seed*. Per independent cell (:func:`independent_cells`) × pair of methods × task (encoding, decoding,
average) × scale (AUC and logit), under each scoring rule (:data:`SCORE_RULES`), :func:`referee_comparisons`
gives the mean seed-wise difference with Nadeau & Bengio's **corrected resampled t-interval**
(:func:`corrected_t_interval`: seeds re-split one recording, so the plain t-interval over seeds is too narrow), the
plain one beside it, and a bootstrap over test *images* (:func:`image_bootstrap`).

**Verdict rule** (:func:`verdict`, stated before looking): a claim ``difference > -margin`` (:data:`REFEREE_CLAIMS`)

* *cannot be tested* with fewer than two paired seeds, or where a method's AUC is the same in every seed or the
  test set is too coarse to resolve the equivalence margin (:func:`untestable`);
* is *equivalent* -- "no difference (equivalent within ±m)" for a claim that VNA beats a baseline -- when the
  corrected interval of the difference on the logit scale lies inside ±:data:`EQUIVALENCE_MARGIN` (two one-sided
  tests: each bound on its side of the margin);
* *replicates* when the whole corrected interval lies above ``-margin``, *does not replicate* when it lies below,
  and is *inconclusive* otherwise.

C1 and C2 ("VNA beats X") are tested on the AUC scale with margin 0 and get the equivalence outcome; C3 ("direct
encoding's decoding is close to or above VNA's") is a non-inferiority claim on the logit scale with margin
:data:`C3_LOGIT_MARGIN`. A claim made of several comparisons is combined by :func:`combine_verdicts`. The same
rule, with the session as the unit, gives the verdicts over sessions (:mod:`vna.study.sessions`).
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

from ..names import METHOD_SHORT, protocol_label
from ..scoring import SCORES
from .record import instance_column
from .store import instances_path

__all__ = [
    "LEVEL", "TASK_COLUMNS", "VERDICTS", "verdict", "combine_verdicts", "verdict_text", "untestable",
    "auc_grid_step", "margin_in_auc", "EQUIVALENCE_MARGIN", "EQUIVALENT_TEXT", "comparison_verdict",
    "records_grid_step", "where", "pick",
    "SCORE_RULES", "C3_LOGIT_MARGIN", "CLOSE_THRESHOLD", "REFEREE_CLAIMS", "PAPER_DIFFERENCES",
    "rule_rows", "available_scores", "logit", "corrected_t_interval", "image_resample_means", "image_bootstrap",
    "instance_images", "independent_cells", "referee_comparisons", "referee_verdicts",
    "verdicts_by_score", "claim_summary", "paper_differences", "closest_protocols_referee", "closest_summary",
]

LEVEL = 0.95
TASK_COLUMNS = {"encoding": "encoding_auc", "decoding": "decoding_auc", "average": "mean_auc"}
VERDICTS = ("replicates", "does not replicate", "equivalent", "inconclusive", "cannot test")

#: The scoring rules a verdict is given under: :data:`vna.scoring.SCORES` ("paper" is the paper's own).
SCORE_RULES = SCORES
#: C3's margin, on the logit scale: DE's decoding is "close to VNA's" when ``logit(DE) - logit(VNA) > -margin``.
#: Near AUC 1, ``logit(a) - logit(b) ~ log((1 - b) / (1 - a))``, the log of the ratio of the error rates, so one
#: margin means the same at AUC 0.80 and 0.998 (an AUC difference of 0.02 is huge at 0.998 and small at 0.8).
#: log(1.25): DE's error rate (1 - AUC) may be at most 25 % above VNA's. The paper's own C3 rows sit inside it
#: (Mouse-movie +0.41, Macaque-face +0.05 in logits) and its Macaque-synthetic row far outside (-1.76).
C3_LOGIT_MARGIN = math.log(1.25)
#: Two methods are *equivalent* when the corrected interval of ``logit(a) - logit(b)`` lies inside ±this margin:
#: neither's error rate is more than 25 % above the other's. It is C3's margin on C3's scale, on purpose: the study
#: then has one notion of "close", which means the same near AUC 1 (the held-out-trials cells, ~0.98) as at 0.6-0.8
#: (held-out images), where an AUC margin would be lenient near the ceiling and strict far from it. On the AUC
#: scale it is about ±0.033 at AUC 0.8 and ±0.004 at 0.98 (:func:`margin_in_auc`). The paper's leads are far
#: outside it (Macaque-synthetic VNA - DE average +0.118 AUC, +1.9 in logits), so "equivalent" cannot absorb a
#: lead of the size the paper reports. The whole 95 % interval inside the margin is two one-sided tests at 2.5 %
#: each (stricter than the usual 5 %).
EQUIVALENCE_MARGIN = C3_LOGIT_MARGIN
#: How "equivalent" reads for a claim that VNA beats a baseline.
EQUIVALENT_TEXT = f"no difference (equivalent within ±{EQUIVALENCE_MARGIN:.2f} logit)"


def verdict(low: float, high: float, n: int, margin: float = 0.0, *, equivalence: tuple[float, float] | None = None,
            reason: str = "") -> str:
    """The rule of the module docstring for one comparison "difference > -margin": ``(low, high)`` its interval,
    ``n`` the number of paired units (seeds or sessions); ``equivalence``: the interval of the same difference on
    the logit scale, for a claim that gets the equivalence outcome; ``reason``: why it cannot be tested
    (:func:`untestable`; empty when it can)."""
    if reason or n < 2 or not (math.isfinite(low) and math.isfinite(high)):
        return "cannot test"
    if equivalence is not None:
        elo, ehi = equivalence
        if math.isfinite(elo) and math.isfinite(ehi) and -EQUIVALENCE_MARGIN < elo and ehi < EQUIVALENCE_MARGIN:
            # a lead inside the margin, even one whose interval excludes 0, is not the lead the claim is about
            return "equivalent"
    if low > -margin:
        return "replicates"
    if high < -margin:
        return "does not replicate"
    return "inconclusive"


def combine_verdicts(parts: list[str]) -> str:
    """One verdict for a claim made of several comparisons: *cannot test* when one cannot be tested, *does not
    replicate* when one does not, *inconclusive* when one is, *replicates* when all do, else *equivalent* (every
    part replicates or is equivalent, at least one equivalent: VNA does not beat that baseline)."""
    if not parts or "cannot test" in parts:
        return "cannot test"
    if "does not replicate" in parts:
        return "does not replicate"
    if "inconclusive" in parts:
        return "inconclusive"
    if all(p == "replicates" for p in parts):
        return "replicates"
    return "equivalent"


def verdict_text(outcome: str) -> str:
    """How a verdict reads in tables and prose: "equivalent" as :data:`EQUIVALENT_TEXT`, the others as they are."""
    return EQUIVALENT_TEXT if outcome == "equivalent" else outcome


def margin_in_auc(auc: float, margin: float = EQUIVALENCE_MARGIN) -> float:
    """The equivalence margin in AUC units at level ``auc``: the smaller of the two AUC steps that move
    ``logit(auc)`` by ``margin`` (up or down)."""
    if not math.isfinite(auc):
        return math.nan
    centre = float(logit(auc))
    up, down = 1 / (1 + math.exp(-(centre + margin))), 1 / (1 + math.exp(-(centre - margin)))
    return min(up - auc, auc - down)


def auc_grid_step(sizes: dict, task: str, n_distractors: int | None = None) -> float:
    """The step of the AUC grid of one test set: ``1 / (n_pos · n_neg)``, with ``n_pos`` the test instances (one per
    test response, one true match each) and ``n_neg`` each instance's distractors (``n_distractors``, else the
    responses to the other test images in encoding and the other test images in decoding, from the record's
    ``sizes``). Every seed's mean AUC lies on this grid (ties count one half, which halves the step; the coarser
    step is the one that can be told apart). ``average``: the coarser task's step halved. NaN without sizes."""
    images, responses = sizes.get("test_images"), sizes.get("test_responses")
    if not images or not responses:
        return math.nan
    per_image = responses / images
    negatives = {"encoding": responses - per_image, "decoding": images - 1}
    if n_distractors:
        negatives = {t: min(k, n_distractors) for t, k in negatives.items()}
    steps = {t: (1.0 / (responses * k) if k > 0 else math.inf) for t, k in negatives.items()}
    return steps[task] if task in steps else 0.5 * max(steps.values())


def untestable(values: dict[str, np.ndarray], task: str, grid_step: float = math.nan,
               unit: str = "seed") -> str:
    """Why a paired comparison cannot be tested ("" when it can). ``values``: method label -> its AUC per unit
    (seed or session), on the AUC scale. The rule:

    * a method's AUC is the same in every unit (two or more): the differences then vary only with the other
      method, or not at all, and an interval of zero width would decide the claim on a tie that no amount of data
      would move (e.g. a model that scores every candidate alike sits at exactly 0.5 in every seed);
    * the test set's AUC grid step (:func:`auc_grid_step`) is coarser than the equivalence margin in AUC units at
      the methods' mean level (:func:`margin_in_auc`): such a test set cannot tell a difference that matters from
      none, so no verdict can rest on it.
    """
    finite = {k: np.asarray(v, dtype=float)[np.isfinite(np.asarray(v, dtype=float))] for k, v in values.items()}
    for name, v in finite.items():
        if len(v) >= 2 and np.ptp(v) < 1e-9:  # equal but for float rounding (0.5 and 0.49999999999999994)
            return f"{name}'s {task} AUC is {v[0]:.4f} in every {unit}"
    level = float(np.mean(np.concatenate(list(finite.values())))) if any(len(v) for v in finite.values()) \
        else math.nan
    tolerance = margin_in_auc(level)
    if math.isfinite(grid_step) and math.isfinite(tolerance) and grid_step > tolerance:
        return (f"the test set resolves {task} AUC in steps of {grid_step:.4f}, coarser than the equivalence margin "
                f"({tolerance:.4f} AUC at {level:.2f})")
    return ""


#: "No protocol is close" when the best held-out protocol misses the paper's six numbers by more than this on
#: average (AUC units): the gap between VNA and direct encoding in the paper's Macaque-face row (0.9126 vs
#: 0.8797, 0.033), the smallest gap between its best and its second method away from the ceiling; numbers that
#: far off could reorder the paper's methods, so they cannot say which protocol the paper used.
CLOSE_THRESHOLD = 0.03
#: The paper's claims: ``(a, b, task, scale)``, "a - b > -margin" on ``scale``; ``equivalence``: the claim says VNA
#: beats a baseline, so a difference equivalent to zero (:data:`EQUIVALENCE_MARGIN`) reads "no difference".
REFEREE_CLAIMS: dict[str, dict] = {
    "C1": {"text": "VNA has the best average AUC",
           "tests": [("vna", "direct_encoder", "average", "auc"), ("vna", "direct_decoder", "average", "auc")],
           "margin": 0.0, "equivalence": True},
    "C2": {"text": "VNA beats direct decoding on both tasks and direct encoding on encoding",
           "tests": [("vna", "direct_decoder", "encoding", "auc"), ("vna", "direct_decoder", "decoding", "auc"),
                     ("vna", "direct_encoder", "encoding", "auc")], "margin": 0.0, "equivalence": True},
    "C3": {"text": "direct encoding's decoding is close to or above VNA's (error rate at most 25 % above VNA's: "
                   "logit difference above −log 1.25)",
           "tests": [("direct_encoder", "vna", "decoding", "logit")], "margin": C3_LOGIT_MARGIN, "equivalence": False},
}
#: The paper's differences behind C1-C3, ``(a, b, task)`` meaning ``a - b``, restated per stand-in.
PAPER_DIFFERENCES = (("vna", "direct_encoder", "average"), ("vna", "direct_decoder", "average"),
                     ("vna", "direct_decoder", "encoding"), ("vna", "direct_decoder", "decoding"),
                     ("vna", "direct_encoder", "encoding"), ("direct_encoder", "vna", "decoding"))


def rule_rows(records: pd.DataFrame, score: str) -> pd.DataFrame:
    """The rows of ``records`` (:func:`vna.study.store.load_records`) under the scoring rule ``score``."""
    if score not in SCORE_RULES:
        raise ValueError(f"score must be one of {', '.join(SCORE_RULES)}; got {score!r}")
    return records[records["score"] == score]


def available_scores(records: pd.DataFrame) -> list[str]:
    """The scoring rules that rows of ``records`` (:func:`vna.study.store.load_records`, column ``score``) carry,
    with at least one finite value of each AUC: records made before the scoring rules carry the paper's only."""
    return [r for r in SCORE_RULES if np.isfinite(records.loc[records["score"] == r, list(TASK_COLUMNS.values())]
                                                  .to_numpy(dtype=float)).any(axis=0).all()]


def logit(p) -> np.ndarray:
    """``log(p / (1 - p))``, with ``p`` clipped to [1e-6, 1 - 1e-6] (an AUC of exactly 1 stays finite)."""
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def corrected_t_interval(d: Iterable[float], test_train_ratio: float, level: float = LEVEL) -> dict[str, float]:
    """Mean of the paired differences ``d`` over J seeds with the plain and Nadeau & Bengio's corrected
    resampled t-interval (Machine Learning 52, 2003).

    Seeds re-split one recording, so their training sets overlap and the differences are positively correlated;
    the plain variance ``s² / J`` understates the uncertainty. The corrected one is
    ``s² (1/J + n_test/n_train)``, with the same t quantile on J - 1 degrees of freedom. Keys: n, mean, low,
    high (corrected), plain_low, plain_high. NaN with fewer than 2 seeds.
    """
    from scipy import stats

    d = np.asarray(list(d), dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    out = {"n": n, "mean": float(d.mean()) if n else math.nan, "low": math.nan, "high": math.nan,
           "plain_low": math.nan, "plain_high": math.nan}
    if n < 2 or not math.isfinite(test_train_ratio):
        return out
    var, q = float(d.var(ddof=1)), float(stats.t.ppf(0.5 + level / 2, n - 1))
    plain, corrected = q * math.sqrt(var / n), q * math.sqrt(var * (1 / n + test_train_ratio))
    out.update(low=out["mean"] - corrected, high=out["mean"] + corrected, plain_low=out["mean"] - plain,
               plain_high=out["mean"] + plain)
    return out


def image_resample_means(diff: np.ndarray, image: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """The mean of ``diff`` over the instances of the images in each draw (``draws`` [B, n_images]: indices
    into the sorted unique images, with repeats): an image drawn twice counts all its instances twice.

    One instance per test response, for both tasks; ``image[j]`` is the image that evoked response ``j``.
    Encoding's instances of one image are its row's entries, decoding's are the responses grouped by their
    image, so both are resampled by image with all their responses, and an undrawn image contributes nothing.
    """
    diff, image = np.asarray(diff, dtype=float), np.asarray(image)
    _, idx = np.unique(image, return_inverse=True)
    sums = np.bincount(idx, weights=diff)
    counts = np.bincount(idx).astype(float)
    draws = np.asarray(draws)
    return sums[draws].sum(axis=1) / counts[draws].sum(axis=1)


def image_bootstrap(diffs: list[np.ndarray], images: list[np.ndarray], level: float = LEVEL, n_boot: int = 2000,
                    seed: int = 0, draws: list[np.ndarray] | None = None) -> tuple[float, float]:
    """``level`` interval of the mean paired difference by resampling each seed's test *images* with all their
    responses (:func:`image_resample_means`); the seeds are kept (their spread is the t-interval's business)
    and the seed means averaged per draw. ``draws`` (one [B, n_images] array per seed) replaces the random
    draws, e.g. by an enumeration of every resample. Instances of one image share their query (encoding) or
    their true match (decoding), so resampling instances one by one would treat them as independent.
    """
    if not diffs or len(diffs) != len(images):
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    per_seed = []
    for k, (d, im) in enumerate(zip(diffs, images)):
        n_img = len(np.unique(im))
        dr = draws[k] if draws is not None else rng.integers(n_img, size=(n_boot, n_img))
        per_seed.append(image_resample_means(d, im, dr))
    if len({len(x) for x in per_seed}) != 1:
        raise ValueError("image_bootstrap: every seed needs the same number of draws")
    boot = np.mean(per_seed, axis=0)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def instance_images(row: pd.Series, score: str = "paper") -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """A record's per-instance AUCs under one rule (``{"encoding": ..., "decoding": ...}``; ``row``: its
    :func:`vna.study.store.load_records` row) and the image of each instance (its response's image): the
    per-instance file's ``image`` column; where it has none and every test image has one test response (e.g. trial
    means), each instance is its own image; otherwise None -- the image of each response is not stored (records
    made before the scoring rules), so no image-level bootstrap can be done."""
    path = instances_path(row["path"])
    frame = pd.read_csv(path)
    cols = {t: instance_column(t, score) for t in ("encoding", "decoding")}
    if not set(cols.values()) <= set(frame.columns):
        raise FileNotFoundError(f"{path} has no columns {sorted(cols.values())}")
    inst = {t: frame[c].to_numpy(dtype=float) for t, c in cols.items()}
    if "image" in frame.columns:
        return inst, frame["image"].to_numpy()
    if row["n_test_responses"] and row["n_test_responses"] == row["n_test_images"] == len(frame):
        return inst, np.arange(len(frame))
    return inst, None


def independent_cells(records: pd.DataFrame) -> pd.DataFrame:
    """The records of the cells that get a verdict: held-out protocols only (in-sample is a diagnostic), and
    under held-out trials the single-trial cell only.

    Why merge: held-out trials hold out 15 % of each image's trials, 1-2 per image on cowley2023-v4 and
    antolik2016-v1, and the trial-mean cell scores the *same trained models* on the mean of those 1-2 trials,
    so it nearly copies the single-trial cell (cowley2023-v4 VNA .9759 vs .9762) and counting both would count
    one result twice; the single-trial cell is kept (it is the paper's question, variability). Held-out images
    with trial means stay a cell of their own: they also reuse the single-trial models, but average every trial
    of a new image (6-10), a different measurement whose numbers differ (cowley2023-v4 VNA .818 vs .887); they
    are not independent of the single-trial cell either, so claims are summed per recording, not per cell.
    Where a dataset has no single-trial held-out-trials cell (trial means only), its trial-mean cell stays.
    """
    held = records[records["split"].isin(["images", "trials"])]
    single = set(held.loc[(held["split"] == "trials") & (held["test_responses"] == "trials"), "dataset"])
    drop = (held["split"] == "trials") & (held["test_responses"] == "mean") & held["dataset"].isin(single)
    return held[~drop]


def referee_comparisons(records: pd.DataFrame, score: str = "paper", *, level: float = LEVEL, n_boot: int = 2000,
                        pairs: Iterable[tuple[str, str]] = (("vna", "direct_encoder"), ("vna", "direct_decoder"))
                        ) -> pd.DataFrame:
    """Paired comparisons per independent cell (:func:`independent_cells`) × pair × task × scale, under rule
    ``score``: the mean seed-wise difference with the plain and the corrected t-interval
    (:func:`corrected_t_interval`) on the AUC scale and on the logit scale, and the image-level bootstrap
    (:func:`image_bootstrap`, AUC scale) where the image of each instance is known (else NaN, ``boot_note``
    says why). ``records``: one configuration per dataset × method × protocol. Simulated rows are kept, marked
    ``counted=False`` (shown, never counted). ``untestable``: why the comparison cannot be tested
    (:func:`untestable`: a method's AUC the same in every seed, or a test set too coarse for the equivalence
    margin), empty where it can.

    Columns: score, dataset, counted, split, test_responses, protocol, method, baseline, task, scale, n_seeds,
    test_train_ratio, mean_diff, plain_low, plain_high, ci_low, ci_high, boot_low, boot_high, boot_note, untestable.
    """
    cols = ["score", "dataset", "counted", "split", "test_responses", "protocol", "method", "baseline", "task",
            "scale", "n_seeds", "test_train_ratio", "mean_diff", "plain_low", "plain_high", "ci_low", "ci_high",
            "boot_low", "boot_high", "boot_note", "untestable"]
    cells = independent_cells(rule_rows(records, score))
    rows = []
    if cells.empty:
        return pd.DataFrame(columns=cols)
    for (dataset, split, test), g in cells.groupby(["dataset", "split", "test_responses"], sort=True):
        simulated = bool(g["simulated"].fillna(dataset == "simulated").astype(bool).any()) if "simulated" in g \
            else dataset == "simulated"
        for a, b in pairs:
            ra = g[g["method"] == a].drop_duplicates("seed").set_index("seed")
            rb = g[g["method"] == b].drop_duplicates("seed").set_index("seed")
            seeds = sorted(set(ra.index) & set(rb.index))
            if not seeds:
                continue
            ratio = float(np.mean(ra.loc[seeds, "test_train_ratio"].to_numpy(dtype=float)))
            steps = {task: records_grid_step(ra.loc[seeds], task) for task in TASK_COLUMNS}
            inst, note = {}, ""
            try:
                for s in seeds:
                    (ia, ima), (ib, imb) = (instance_images(r.loc[s], score) for r in (ra, rb))
                    if ima is None or imb is None:
                        note = "the image of each test response is not stored in the per-instance files"
                        break
                    if len(ima) != len(imb) or np.any(ima != imb):
                        raise ValueError(f"{dataset} seed {s}: {a} and {b} were tested on different instances")
                    inst[s] = ({t: ia[t] - ib[t] for t in ia}, ima)
            except FileNotFoundError as exc:
                note = f"no per-instance AUCs ({exc})"
            if note:
                inst = {}
            for task, col in TASK_COLUMNS.items():
                va = pd.to_numeric(ra.loc[seeds, col], errors="coerce").to_numpy(dtype=float)
                vb = pd.to_numeric(rb.loc[seeds, col], errors="coerce").to_numpy(dtype=float)
                reason = untestable({METHOD_SHORT[a]: va, METHOD_SHORT[b]: vb}, task, steps[task])
                for scale, d in (("auc", va - vb), ("logit", logit(va) - logit(vb))):
                    ci = corrected_t_interval(d, ratio, level)
                    boot = (math.nan, math.nan)
                    if scale == "auc" and inst:
                        diffs = [0.5 * (inst[s][0]["encoding"] + inst[s][0]["decoding"]) if task == "average"
                                 else inst[s][0][task] for s in seeds]
                        boot = image_bootstrap(diffs, [inst[s][1] for s in seeds], level, n_boot, seed=0)
                    rows.append({"score": score, "dataset": dataset, "counted": not simulated, "split": split,
                                 "test_responses": test, "protocol": g["protocol"].iloc[0], "method": a,
                                 "baseline": b, "task": task, "scale": scale, "n_seeds": ci["n"],
                                 "test_train_ratio": ratio, "mean_diff": ci["mean"], "plain_low": ci["plain_low"],
                                 "plain_high": ci["plain_high"], "ci_low": ci["low"], "ci_high": ci["high"],
                                 "boot_low": boot[0], "boot_high": boot[1],
                                 "boot_note": "" if scale == "logit" else note, "untestable": reason})
    return pd.DataFrame(rows, columns=cols)


def records_grid_step(records: pd.DataFrame, task: str) -> float:
    """The coarsest :func:`auc_grid_step` over the rows of ``records`` (NaN where no record has sizes)."""
    whole = lambda v: None if pd.isna(v) else int(v)  # noqa: E731 - a column with gaps holds floats and NaN
    steps = [auc_grid_step({"test_images": whole(i), "test_responses": whole(r)}, task, whole(k))
             for i, r, k in zip(records["n_test_images"], records["n_test_responses"], records["n_distractors"])]
    steps = [x for x in steps if math.isfinite(x)]
    return max(steps) if steps else math.nan


def where(frame: pd.DataFrame, **values) -> pd.DataFrame:
    """The rows of ``frame`` whose columns hold ``values`` (``column=value``)."""
    mask = np.ones(len(frame), dtype=bool)
    for column, value in values.items():
        mask &= (frame[column] == value).to_numpy()
    return frame[mask]


def pick(frame: pd.DataFrame, a: str, b: str, **values) -> tuple[pd.Series | None, float]:
    """The row of ``a - b`` in a comparisons frame (columns method, baseline) matching ``values`` (:func:`where`)
    -- or that of ``b - a``, with sign -1 -- or ``(None, 1)``."""
    for m, base, sign in ((a, b, 1.0), (b, a, -1.0)):
        hit = where(frame, method=m, baseline=base, **values)
        if len(hit):
            return hit.iloc[0], sign
    return None, 1.0


def signed(r: pd.Series, sign: float, low: str = "ci_low", high: str = "ci_high") -> tuple[float, float, float]:
    """``(mean, low, high)`` of a :func:`pick` row with its sign applied."""
    lo, hi = sorted((sign * r[low], sign * r[high]))
    return sign * r["mean_diff"], lo, hi


def comparison_verdict(g: pd.DataFrame, a: str, b: str, task: str, scale: str, margin: float, equivalence: bool,
                       n_col: str = "n_seeds", low: str = "ci_low", high: str = "ci_high") -> tuple[str, str]:
    """The verdict on "a - b > -margin" from a comparisons frame ``g`` (:func:`referee_comparisons` of one cell, or
    :func:`vna.study.sessions.across_sessions` of one unit and protocol), and its evidence: the difference with
    its interval (and, with ``equivalence``, the logit interval the equivalence test reads)."""
    r, sign = pick(g, a, b, task=task, scale=scale)
    name = f"{METHOD_SHORT[a]} − {METHOD_SHORT[b]} {task}" + (" (logit)" if scale == "logit" else "")
    if r is None:
        return "cannot test", f"{name}: no records"
    mean, lo, hi = signed(r, sign, low, high)
    eq, eq_text = None, ""
    if equivalence:
        e, esign = pick(g, a, b, task=task, scale="logit")
        if e is not None:
            emean, elo, ehi = signed(e, esign, low, high)
            eq, eq_text = (elo, ehi), f", logit {emean:+.3f} [{elo:+.3f}, {ehi:+.3f}]"
    reason = r["untestable"] if "untestable" in r.index and isinstance(r["untestable"], str) else ""
    v = verdict(lo, hi, int(r[n_col]), margin, equivalence=eq, reason=reason)
    why = f" ({reason})" if reason else ""
    return v, f"{name}: {mean:+.3f} [{lo:+.3f}, {hi:+.3f}]{eq_text} → {v}{why}"


def referee_verdicts(comps: pd.DataFrame) -> pd.DataFrame:
    """One verdict per claim × independent cell × rule, from the *corrected* interval (:data:`REFEREE_CLAIMS`:
    C1/C2 on the AUC scale with margin 0 and the equivalence test on the logit scale, C3 on the logit scale with
    :data:`C3_LOGIT_MARGIN`); the plain interval's verdict beside it. ``comps``: :func:`referee_comparisons` (one
    or several rules).

    Columns: score, claim, claim_text, dataset, counted, split, test_responses, protocol, verdict,
    plain_verdict, evidence.
    """
    cols = ["score", "claim", "claim_text", "dataset", "counted", "split", "test_responses", "protocol", "verdict",
            "plain_verdict", "evidence"]
    rows = []
    if comps.empty:
        return pd.DataFrame(columns=cols)
    for (score, dataset, split, test), g in comps.groupby(["score", "dataset", "split", "test_responses"], sort=True):
        for claim, spec in REFEREE_CLAIMS.items():
            parts, plain, evidence = [], [], []
            for a, b, task, scale in spec["tests"]:
                v, text = comparison_verdict(g, a, b, task, scale, spec["margin"], spec["equivalence"])
                parts.append(v)
                plain.append(comparison_verdict(g, a, b, task, scale, spec["margin"], spec["equivalence"],
                                                low="plain_low", high="plain_high")[0])
                evidence.append(text)
            rows.append({"score": score, "claim": claim, "claim_text": spec["text"], "dataset": dataset,
                         "counted": bool(g["counted"].iloc[0]), "split": split, "test_responses": test,
                         "protocol": g["protocol"].iloc[0], "verdict": combine_verdicts(parts),
                         "plain_verdict": combine_verdicts(plain), "evidence": "; ".join(evidence)})
    return pd.DataFrame(rows, columns=cols)


def verdicts_by_score(verdict_rows: pd.DataFrame) -> pd.DataFrame:
    """One row per claim × cell with the verdict under each rule present in ``verdict_rows``
    (:func:`referee_verdicts` of several rules) and ``overall``: their common verdict, or "depends on the score"
    where the rules disagree. Columns: claim, dataset, counted, split, test_responses, protocol, one column per
    rule, overall."""
    keys = ["claim", "dataset", "counted", "split", "test_responses", "protocol"]
    if verdict_rows.empty:
        return pd.DataFrame(columns=[*keys, "overall"])
    rules = [r for r in SCORE_RULES if r in set(verdict_rows["score"])]
    wide = verdict_rows.pivot_table(index=keys, columns="score", values="verdict", aggfunc="first").reset_index()
    wide.columns.name = None
    wide = wide[[*keys, *rules]].fillna({r: "cannot test" for r in rules})  # a rule none of its records carry
    wide["overall"] = [row[0] if len(set(row)) == 1 else "depends on the score"
                       for row in wide[rules].itertuples(index=False)]
    order = {c: i for i, c in enumerate(REFEREE_CLAIMS)}
    return (wide.assign(_c=wide["claim"].map(order)).sort_values(["_c", "dataset", "split", "test_responses"],
                                                                 ascending=[True, True, True, False])
            .drop(columns="_c").reset_index(drop=True))


def claim_summary(wide: pd.DataFrame) -> pd.DataFrame:
    """Per claim, from :func:`verdicts_by_score`'s ``overall``, recordings only (simulated not counted): how many
    cells replicate, fail, are equivalent, inconclusive, cannot be tested or depend on the score, and how many
    recordings have a replicating, a failing and an equivalent cell. The cells of one recording are not
    independent (held-out images with trial means reuse the single-trial models), so the recording is the unit to
    count. Columns: claim, cells, replicates, does_not, equivalent, inconclusive, cannot_test, depends_on_score,
    recordings, recordings_replicating, recordings_failing, recordings_equivalent, detail."""
    rows = []
    counted = wide[wide["counted"].astype(bool)] if len(wide) else wide
    for claim in REFEREE_CLAIMS:
        g = counted[counted["claim"] == claim] if len(counted) else counted
        v = list(g["overall"]) if len(g) else []
        per = {d: set(x["overall"]) for d, x in g.groupby("dataset")} if len(g) else {}
        rows.append({
            "claim": claim, "cells": len(v), "replicates": v.count("replicates"),
            "does_not": v.count("does not replicate"), "equivalent": v.count("equivalent"),
            "inconclusive": v.count("inconclusive"), "cannot_test": v.count("cannot test"),
            "depends_on_score": v.count("depends on the score"), "recordings": len(per),
            "recordings_replicating": sum("replicates" in x for x in per.values()),
            "recordings_failing": sum("does not replicate" in x for x in per.values()),
            "recordings_equivalent": sum("equivalent" in x for x in per.values()),
            "detail": "; ".join(f"{r.dataset} ({protocol_label(r.split, r.test_responses)}): {verdict_text(r.overall)}"
                                for r in g.itertuples()) if len(g) else ""})
    return pd.DataFrame(rows)


def _paper_diff(paper: pd.DataFrame, name: str, a: str, b: str, task: str) -> float:
    p = paper[paper["paper_dataset"] == name].set_index("method")
    col = {"encoding": "encoding_auc", "decoding": "decoding_auc"}
    value = (lambda m: 0.5 * (p.loc[m, "encoding_auc"] + p.loc[m, "decoding_auc"]) if task == "average"
             else p.loc[m, col[task]])
    return float(round(value(a) - value(b), 6))


def paper_differences(comps: pd.DataFrame, paper: pd.DataFrame, stand_ins: dict[str, str]) -> pd.DataFrame:
    """C2/C3 restated per stand-in: for each recording with a stand-in and each of the paper's differences
    (:data:`PAPER_DIFFERENCES`) in the paper's own row, its sign and size (the paper's "average" is taken as the
    mean of its two columns, as ours is), our mean and corrected interval (AUC scale), and ``agreement``: "same
    sign, within the interval" (the paper's value lies inside ours), "same sign", "opposite sign"; where the
    paper's difference is 0 (a tie), "paper ties, within the interval" or "paper ties, ours differs".

    Columns: score, dataset, paper_dataset, split, test_responses, difference, paper_diff, mean_diff, ci_low,
    ci_high, agreement.
    """
    cols = ["score", "dataset", "paper_dataset", "split", "test_responses", "difference", "paper_diff", "mean_diff",
            "ci_low", "ci_high", "agreement"]
    rows = []
    if comps.empty:
        return pd.DataFrame(columns=cols)
    comps = comps[comps["counted"].astype(bool) & (comps["scale"] == "auc")]
    for (score, dataset, split, test), g in comps.groupby(["score", "dataset", "split", "test_responses"], sort=True):
        name = stand_ins.get(dataset)
        if name is None or name not in set(paper["paper_dataset"]):
            continue
        for a, b, task in PAPER_DIFFERENCES:
            r, sign = pick(g, a, b, task=task, scale="auc")
            if r is None:
                continue
            mean, lo, hi = signed(r, sign)
            pdiff = _paper_diff(paper, name, a, b, task)
            inside = math.isfinite(lo) and lo <= pdiff <= hi
            if pdiff == 0:
                agreement = "paper ties, within the interval" if inside else "paper ties, ours differs"
            elif np.sign(mean) == np.sign(pdiff):
                agreement = "same sign, within the interval" if inside else "same sign"
            else:
                agreement = "opposite sign"
            rows.append({"score": score, "dataset": dataset, "paper_dataset": name, "split": split,
                         "test_responses": test, "difference": f"{METHOD_SHORT[a]} − {METHOD_SHORT[b]} {task}",
                         "paper_diff": pdiff, "mean_diff": mean, "ci_low": lo, "ci_high": hi, "agreement": agreement})
    return pd.DataFrame(rows, columns=cols)


def closest_protocols_referee(records: pd.DataFrame, paper: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0,
                              threshold: float = CLOSE_THRESHOLD, level: float = LEVEL) -> pd.DataFrame:
    """Distance of each protocol's six numbers (three methods × encoding, decoding; paper's rule) to each paper
    row block (held-out protocols as :func:`independent_cells` keeps them, and in-sample), with a bootstrap over seeds (seeds drawn with replacement, jointly for the three methods; the same
    draws for every protocol of a dataset), and which *held-out* protocol is closest.

    ``records``: per-seed rows (one configuration per dataset × method × protocol). Columns: dataset,
    paper_dataset, split, test_responses, held_out, distance, dist_low, dist_high, p_closest (the share of
    draws in which this held-out protocol is the closest; NaN in-sample), closest (among held-out protocols).
    """
    cols = ["dataset", "paper_dataset", "split", "test_responses", "held_out", "distance", "dist_low", "dist_high",
            "p_closest", "closest"]
    methods = ["vna", "direct_encoder", "direct_decoder"]
    rows, boots = [], {}
    if records.empty:
        return pd.DataFrame(columns=cols)
    records = pd.concat([independent_cells(records), records[records["split"] == "none"]])
    theirs = {name: np.array([[p.set_index("method").loc[m, c] for c in ("encoding_auc", "decoding_auc")]
                              for m in methods]) for name, p in paper.groupby("paper_dataset", sort=False)}
    for (dataset, split, test), g in records.groupby(["dataset", "split", "test_responses"], sort=True):
        per = {m: g[g["method"] == m].drop_duplicates("seed").set_index("seed") for m in methods}
        if any(x.empty for x in per.values()):
            continue
        seeds = sorted(set.intersection(*(set(x.index) for x in per.values())))
        ours = np.stack([[per[m].loc[seeds, c].to_numpy(dtype=float) for c in ("encoding_auc", "decoding_auc")]
                         for m in methods])  # [3, 2, S]
        rng = np.random.default_rng([seed, len(seeds)])
        draws = rng.integers(len(seeds), size=(n_boot, len(seeds)))
        boot_means = ours[:, :, draws].mean(axis=-1)  # [3, 2, B]
        for name, th in theirs.items():
            dist = float(np.abs(ours.mean(axis=-1) - th).mean())
            bd = np.abs(boot_means - th[:, :, None]).mean(axis=(0, 1))
            lo, hi = np.quantile(bd, [(1 - level) / 2, (1 + level) / 2])
            held = split in ("images", "trials")
            rows.append({"dataset": dataset, "paper_dataset": name, "split": split, "test_responses": test,
                         "held_out": held, "distance": dist, "dist_low": float(lo), "dist_high": float(hi)})
            if held:
                boots[(dataset, name, split, test)] = bd
    out = pd.DataFrame(rows, columns=cols[:-2])
    out["p_closest"], out["closest"] = math.nan, False
    for (dataset, name), g in out[out["held_out"].astype(bool)].groupby(["dataset", "paper_dataset"]):
        keys = [(dataset, name, r.split, r.test_responses) for r in g.itertuples()]
        if len({len(boots[k]) for k in keys}) == 1:
            win = np.argmin(np.stack([boots[k] for k in keys]), axis=0)
            out.loc[g.index, "p_closest"] = [(win == i).mean() for i in range(len(keys))]
        out.loc[g["distance"].idxmin(), "closest"] = True
    return out


def closest_summary(closest: pd.DataFrame, threshold: float = CLOSE_THRESHOLD) -> pd.DataFrame:
    """One row per our dataset × paper row block from :func:`closest_protocols_referee`: the closest held-out
    protocol, its distance, interval and share of bootstrap wins; ``conclusion``: "closest" or "no protocol is
    close" (its distance above ``threshold``, :data:`CLOSE_THRESHOLD`); ``in_sample``: the best in-sample
    distance, and ``looks_in_sample`` when it is below every held-out one (reported, never chosen)."""
    cols = ["dataset", "paper_dataset", "split", "test_responses", "distance", "dist_low", "dist_high", "p_closest",
            "conclusion", "in_sample", "looks_in_sample"]
    rows = []
    if closest.empty:
        return pd.DataFrame(columns=cols)
    for (dataset, name), g in closest.groupby(["dataset", "paper_dataset"], sort=True):
        held, ins = g[g["held_out"]], g[~g["held_out"]]
        if held.empty:
            continue
        best = held.loc[held["distance"].idxmin()]
        in_sample = float(ins["distance"].min()) if len(ins) else math.nan
        rows.append({"dataset": dataset, "paper_dataset": name, "split": best["split"],
                     "test_responses": best["test_responses"], "distance": best["distance"],
                     "dist_low": best["dist_low"], "dist_high": best["dist_high"], "p_closest": best["p_closest"],
                     "conclusion": "no protocol is close" if best["distance"] > threshold else "closest",
                     "in_sample": in_sample,
                     "looks_in_sample": bool(math.isfinite(in_sample) and in_sample < best["distance"])})
    return pd.DataFrame(rows, columns=cols)
