# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Beyond the paper: when does alignment help?
#
# The paper's case for VNA is an argument about neural **variability** (direct encoders overfit single noisy
# responses; discriminative tasks plus alignment are "more robust") and about **generalisation**, but it runs
# no experiment on either. This chapter does, with the same models, protocols, seeds and statistics as the
# [results chapter](05_results.ipynb):
#
# 1. **Variability** — does VNA's advantage grow as trial-to-trial noise grows?
# 2. **Data size** — how do the methods scale with the number of training images and of neurons?
# 3. **Distractors** — how do AUC and top-$k$ depend on the number of candidates $K$?
# 4. **References** — what do the data themselves allow (references, not ceilings)?
# 5. **Linear baselines** — what does a linear method reach on the same task?
# 6. **VNA's own settings** — temperature, batch size, latent dimension.
#
# Each analysis is a named grid ({mod}`vna.study.analyses`; `python -m vna reproduce --grid NAME --publish`
# regenerates it) whose records sit in `results/` beside the study's. Every number and every conclusion
# sentence below is computed from those records. Unless said otherwise, runs use the held-out-images
# protocol with single-trial test responses and train exactly as in the study (early stopping on a
# validation part of the training data).

# %% tags=["remove-cell"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets: plain bars
import vna  # not importable? `pip install -e <your clone of the repository>` (on Colab the first cell does it)

# %% tags=["parameters"]
results_dir = None  # None: the published grid (results/); in quick mode the runs folder
quick = False  # True: run every analysis on small settings (one seed, 2 epochs), a smoke test
data_dir = None  # None: $VNA_DATA_DIR, shared/data beside the repository, or ~/.cache/vna

# %% tags=["remove-cell"]
import os
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown, display

from vna.chapters import figures, plots
from vna.study import analyses, findings
from vna.study.grids import read_tuned, study_grid, tuned_fields
from vna.chapters.notebook import show_path, simulated_fallback
from vna.study.store import load_records, published_dir, runs_dir
from vna.study.stats import available_scores, rule_rows
from vna.study.runner import run_grid

if data_dir:
    os.environ["VNA_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
QUICK_SCOPE = {  # quick mode: one seed, the cheapest dataset of each analysis
    "linear": dict(datasets=["simulated"]), "noise": {}, "trials": dict(datasets=["antolik2016-v1"]),
    "size": dict(methods=["vna", "direct_encoder"]), "distractors": {}, "settings": dict(datasets=["simulated"]),
    "trials-fixed-pairs": dict(datasets=["antolik2016-v1"]),
}
grids, stand_ins = {}, []
for name in analyses.ANALYSIS_GRIDS:
    build = analyses.ANALYSIS_GRIDS[name][0]
    grids[name] = build(quick=True, seeds=[0], **QUICK_SCOPE[name]) if quick else build()
if quick:  # a recording neither cached nor downloadable: the simulated cortex in its place, said below
    for name, grid in grids.items():
        for real in sorted({c.dataset for c in grid} - {"simulated"}):
            if simulated_fallback(real) is None:
                continue
            stand_ins.append(f"{name}: `{real}`")
            if name == "trials":  # the trial-count sweep of the held-out-images protocol, on simulated data
                swap = analyses.trials_grid(["cowley2023-v4"], quick=True, seeds=[0])
                grid = [c for c in grid if c.dataset != real] + [c.replace(dataset="simulated") for c in swap]
            else:
                grid = [c.replace(dataset="simulated") if c.dataset == real else c for c in grid]
        grids[name] = grid
if stand_ins:
    display(Markdown("**Data:** neither cached nor downloadable here, so the SIMULATED cortex stands in for "
                     + "; ".join(stand_ins) + "."))
if quick:
    results_path = Path(results_dir) if results_dir else runs_dir() / "analyses-quick"
    todo = [c for g in grids.values() for c in g]
    report = run_grid(todo, results_path, progress=False, log=lambda line: None)
    print(f"quick mode: {report.ran} runs now, {report.already} already in {show_path(results_path)}; "
          "these are smoke-test numbers, not results")
else:
    results_path = Path(results_dir) if results_dir else published_dir()
scored = load_records(results_path, score=None)  # every scoring rule a record carries (column score)
records = scored[scored["score"] == "paper"]  # one row per record
parts = {name: analyses.grid_records(records, g) for name, g in grids.items()}
study = analyses.grid_records(records, study_grid()) if not quick else records.iloc[:0]
display(Markdown(
    f"Read from `{show_path(results_path)}/`: " + ", ".join(f"{name} {len(parts[name])} of {len(grids[name])} runs"
                                                             for name in grids) + "."
    + (" **QUICK smoke test: the numbers below are not results.**" if quick else "")))
if not quick:  # provenance: the CPU and the scoring rules behind each analysis's records
    made, mixed = [], False
    for name, part in parts.items():
        if part.empty:
            continue
        with_rules = int(part["key"].isin(scored.loc[scored["score"] == "cosine", "key"]).sum())
        rules = ("every scoring rule" if with_rules == len(part) else "the paper's rule only" if with_rules == 0
                 else f"every rule in {with_rules} of {len(part)}")
        old, cpus = int(part["cpu"].isna().sum()), sorted(set(part["cpu"].dropna()))
        if old == 0:
            where = f"made on one CPU ({', '.join(cpus)})"
        elif old == len(part):
            where = "made before records named their CPU (26 Nov 2026)"
        else:
            mixed = True
            where = (f"{old} made before records named their CPU (26 Nov 2026), {len(part) - old} shared with the "
                     f"rerun study ({', '.join(cpus)})")
        made.append(f"{name} ({len(part)} records): {rules}, {where}")
    display(Markdown(
        "**Provenance.** " + "; ".join(made) + "." + (
            " From one CPU to another the deep models' seed means move (`results/README.md` records what the rerun of "
            "the study measured; the records of the first CPU are no longer in `results/`, so this page cannot "
            "recompute it), so in a sweep that mixes the two a point shared with the study may sit off its "
            "neighbours by about that much." if mixed else "") + " Each answer below is given under every scoring rule the records carry."))


def missing(name: str) -> bool:
    if parts[name].empty:
        display(Markdown(f"*No records of the `{name}` analysis yet: `python -m vna reproduce --grid {name} "
                         "--publish` makes them.*"))
        return True
    return False


def held_out(df: pd.DataFrame, test: str = "trials") -> pd.DataFrame:
    return df[df["test_responses"] == test]


RULES = available_scores(scored) if len(scored) else ["paper"]


def under(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    """The records of ``frame`` (paper-rule rows, with the analysis's own columns) under a scoring rule."""
    own = ["key", *[c for c in frame.columns if c not in scored.columns]]
    rows = rule_rows(scored, rule)
    return rows[rows["key"].isin(set(frame["key"]))].merge(frame[own], on="key", how="left")


def rule_words(rule: str) -> str:
    return "the paper's rule" if rule == "paper" else f"the {rule} rule"

# %% [markdown]
# ## 1. Variability
#
# **Question.** The paper argues that alignment is robust to trial-to-trial variability where direct
# encoding overfits noisy single responses. If so, VNA's advantage should *grow* as responses get noisier.
#
# **(a) The simulated cortex with its noise turned up.** Five levels of shared trial gain and firing rate
# ({data}`vna.study.analyses.NOISE_STEPS`), 300 images × 5 trials × 100 neurons, every method, five seeds. Each
# level is reported by the population's reliability (the split-half reliability of the 5-trial mean,
# Spearman–Brown corrected; the true value is known for the simulation and agrees).

# %% tags=["hide-input"]
if not missing("noise"):
    rel = pd.DataFrame([{"noise_step": i, **analyses.noise_reliability(step), **step}
                        for i, step in enumerate(analyses.NOISE_STEPS)])
    noise = held_out(parts["noise"]).merge(rel[["noise_step", "split_half_reliability"]], on="noise_step")
    table = analyses.sweep_table(noise, "split_half_reliability")
    diffs = pd.concat([analyses.paired_sweep(noise, "split_half_reliability", b)
                       for b in ("direct_encoder", "direct_decoder")])
    fig = figures.plot_sweep(table, "split_half_reliability", xlabel="population reliability (split-half, 5 trials)",
                             ylabel="average AUC (held-out images)")
    fig2 = figures.plot_sweep(diffs.rename(columns={"mean_diff": "mean"}).assign(
        ci=lambda d: (d["ci_high"] - d["ci_low"]) / 2), "split_half_reliability", by="baseline", zero=True, chance=None,
        xlabel="population reliability", ylabel="VNA − baseline (average AUC)")
    display(rel[["noise_step", "gain_noise", "peak_rate", "true_reliability", "split_half_reliability"]].round(3))

# %% [markdown]
# The answer is a **paired difference in differences** ({func}`vna.study.analyses.paired_did`): per seed, VNA's
# advantage at the most variable level minus its advantage at the least variable one; positive means the
# advantage grows with variability, as the paper argues. Its 95 % interval is the corrected resampled
# t-interval over seeds (seeds re-split one recording); "grows" or "shrinks" only when the interval excludes 0.

# %% tags=["hide-input"]
def ci(mean: float, low: float, high: float) -> str:
    """``+0.012 [-0.004, +0.028]``, or the mean alone with "(one seed: no interval)"."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean:+.3f} (one seed: no interval)"
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"


def did_sentence(did: pd.DataFrame, least_label: str, most_label: str) -> str:
    out = []
    for r in did.itertuples():
        out.append(f"VNA − {figures.SHORT[r.baseline]}: {ci(r.did, r.ci_low, r.ci_high)} from "
                   f"{least_label} to {most_label} → **{r.answer}**")
    return "; ".join(out) + "."


def did_table(did: pd.DataFrame) -> pd.DataFrame:
    return did.assign(baseline=did["baseline"].map(figures.SHORT))[
        ["dataset", "baseline", "least", "most", "n_seeds", "did", "plain_low", "plain_high", "ci_low", "ci_high",
         "answer"]].round(3)


noise_did = pd.DataFrame()
if not parts["noise"].empty:
    steps = sorted(set(noise["noise_step"]))
    noise_did = pd.concat([analyses.paired_did(noise, "noise_step", steps[0], steps[-1], b)
                           for b in ("direct_encoder", "direct_decoder")], ignore_index=True)
    display(did_table(noise_did))
    display(Markdown("**Conclusion (a).** On the simulated cortex, VNA's advantage from the least to the most noisy "
                     "level (noise step " f"{steps[0]} → {steps[-1]}): " + did_sentence(
                         noise_did, f"reliability {rel.loc[steps[0], 'split_half_reliability']:.2f}",
                         f"{rel.loc[steps[-1], 'split_half_reliability']:.2f}")))

# %% [markdown]
# **(b) Real data: fewer trials per training image.** Training on 1, 2, 4 or all recorded trials per image
# (cowley2023-v4 with held-out images; antolik2016-v1 with held-out trials); the test part stays the same.
# Fewer training trials means noisier training targets for direct encoding and fewer positive pairs for VNA.

# %% tags=["hide-input"]
if not missing("trials"):
    tr = held_out(parts["trials"]).copy()
    most = {"cowley2023-v4": 10, "antolik2016-v1": 10}
    tr["trials per image"] = [most.get(d, 10) if n is None or (isinstance(n, float) and np.isnan(n)) else int(n)
                              for d, n in zip(tr["dataset"], tr["train_trials"])]
    t_table = analyses.sweep_table(tr, "trials per image")
    fig = figures.plot_sweep(t_table, "trials per image", panels="dataset", logx=True, xticks=[1, 2, 4, 10],
                             xticklabels=["1", "2", "4", "all"], xlabel="training trials per image",
                             ylabel="average AUC")
    counts = sorted(set(tr["trials per image"]))
    trials_did = pd.concat([analyses.paired_did(tr, "trials per image", counts[-1], counts[0], b)
                            for b in ("direct_encoder", "direct_decoder")], ignore_index=True)
    display(did_table(trials_did))
    sentences = [f"On `{d}`: " + did_sentence(g, "all trials", f"{counts[0]} trial(s) per image")
                 for d, g in trials_did.groupby("dataset")]
    display(Markdown("**Conclusion (b).** " + " ".join(sentences) + " Fewer trials per image also means fewer "
                     "training pairs, so this contrast mixes noise with data size; (c) holds the pairs fixed."))

# %% [markdown]
# **(c) The same contrast with the training pairs held fixed.** `n` training trials per image on `1/n` of the
# training images ({data}`vna.study.analyses.FIXED_PAIRS_TRIALS`), so every run trains on about as many pairs as the
# one-trial run: fewer repeats per image no longer also means fewer pairs. Same recordings, protocols and test part
# as (b).

# %% tags=["hide-input"]
if not missing("trials-fixed-pairs"):
    fx = held_out(parts["trials-fixed-pairs"]).copy()
    fx["trials per image"] = fx["train_trials"].astype(int)
    f_table = analyses.sweep_table(fx, "trials per image")
    fig = figures.plot_sweep(f_table, "trials per image", panels="dataset", logx=True, xticks=[1, 2, 4],
                             xlabel="training trials per image (on 1/n of the training images)",
                             ylabel="average AUC")
    f_counts = sorted(set(fx["trials per image"]))
    fixed_did = pd.concat([analyses.paired_did(fx, "trials per image", f_counts[-1], f_counts[0], b)
                           for b in ("direct_encoder", "direct_decoder")], ignore_index=True)
    display(did_table(fixed_did))
    display(Markdown("**Conclusion (c).** " + " ".join(
        f"On `{d}`: " + did_sentence(g, f"{f_counts[-1]} trials per image", f"{f_counts[0]} (the same number of "
                                     "training pairs)") for d, g in fixed_did.groupby("dataset"))))

# %% [markdown]
# **Answer, under every scoring rule.** One difference in differences per recording × baseline × contrast × rule
# ({func}`vna.study.analyses.variability_answers`, the function the book's first page uses): (b) all trials to one,
# (c) the same with the training pairs fixed, and the simulated noise levels (shown, never counted).

# %% tags=["hide-input"]
if not parts["noise"].empty or not parts["trials"].empty:
    answers = analyses.variability_answers(*(analyses.grid_records(scored, grids[name])
                                             for name in ("noise", "trials", "trials-fixed-pairs")), scores=RULES)
    grid = answers.assign(baseline=answers["baseline"].map(figures.SHORT),
                          cell=[f"{a:+.3f} ({w})" for a, w in zip(answers["did"], answers["answer"])])
    display(grid.pivot_table(index=["analysis", "dataset", "baseline"], columns="score", values="cell",
                             aggfunc="first")[[r for r in RULES if r in set(answers["score"])]])
    lines = []
    for rule in RULES:
        counted = answers[answers["counted"].astype(bool) & (answers["score"] == rule)]
        for analysis, g in counted.groupby("analysis", sort=False):
            n = g["answer"].value_counts()
            verdict = ("supports" if n.get("grows", 0) > len(g) / 2 else
                       "contradicts" if n.get("shrinks", 0) > len(g) / 2 else "does not decide")
            lines.append(f"under {rule_words(rule)}, {analysis}: grows in {n.get('grows', 0)}, shrinks in "
                         f"{n.get('shrinks', 0)}, inconclusive in {n.get('inconclusive', 0)} of {len(g)} "
                         f"({verdict} the paper's argument)")
    display(Markdown(f"**Answer.** {findings.variability_paragraph(answers)} Counted on the recordings only: "
                     + "; ".join(lines) + ". Where (b) and (c) disagree, the change in (b) belongs to the number of "
                     "training pairs, not to the noise of single responses."))

# %% [markdown]
# ## 2. Data size
#
# **Question.** How does each method scale with the number of training images and of recorded neurons?
# cowley2023-v4, held-out images; 25, 50 and 100 % of the training images (the test images stay), and random
# subsets of 10, 25, 50 and 100 % of the neurons (seeded per run), three seeds.

# %% tags=["hide-input"]
if not missing("size"):
    sz = held_out(parts["size"])
    img = sz[sz["neuron_fraction"] == 1.0]
    neu = sz[sz["train_image_fraction"] == 1.0]
    t_img = analyses.sweep_table(img, "train_image_fraction").assign(axis="training images (fraction)")
    t_neu = analyses.sweep_table(neu, "neuron_fraction").assign(axis="neurons (fraction)")
    both = pd.concat([t_img.rename(columns={"train_image_fraction": "fraction"}),
                      t_neu.rename(columns={"neuron_fraction": "fraction"})])
    fig = figures.plot_sweep(both, "fraction", panels="axis", logx=True, xticks=[0.1, 0.25, 0.5, 1.0],
                             xlabel="fraction kept", ylabel="average AUC (held-out images)")
    changes = []
    for axis, frame, col in (("training images", img, "train_image_fraction"), ("neurons", neu, "neuron_fraction")):
        levels = sorted(set(frame[col]))
        if len(levels) > 1:
            changes.append(analyses.paired_change(frame, col, levels[0], levels[-1]).assign(axis=axis))
    lines = []
    if changes:
        size_change = pd.concat(changes, ignore_index=True)
        display(size_change.assign(method=size_change["method"].map(figures.SHORT))[
            ["axis", "dataset", "method", "low", "high", "n_seeds", "change", "plain_low", "plain_high", "ci_low",
             "ci_high"]].round(3))
        for axis, g in size_change.groupby("axis", sort=False):
            g = g.sort_values("change", ascending=False)
            lines.append(f"from {g['low'].iloc[0]:.0%} to {g['high'].iloc[0]:.0%} of the {axis}, average AUC changes "
                         "by " + ", ".join(f"{ci(r.change, r.ci_low, r.ci_high)} ({figures.SHORT[r.method]})"
                                           for r in g.itertuples()))
    per_rule = []
    for rule in RULES[1:]:  # the other rules, in one line each: every method's change from the least to the most
        parts_rule = [analyses.paired_change(under(frame, rule), col, sorted(set(frame[col]))[0],
                                             sorted(set(frame[col]))[-1]).assign(axis=axis)
                      for axis, frame, col in (("training images", img, "train_image_fraction"),
                                               ("neurons", neu, "neuron_fraction")) if len(set(frame[col])) > 1]
        if parts_rule:
            ch = pd.concat(parts_rule, ignore_index=True)
            per_rule.append(f"under {rule_words(rule)}: " + "; ".join(
                f"{axis} " + ", ".join(f"{ci(r.change, r.ci_low, r.ci_high)} ({figures.SHORT[r.method]})"
                                       for r in g.sort_values("change", ascending=False).itertuples())
                for axis, g in ch.groupby("axis", sort=False)))
    display(Markdown("**Conclusion.** Under the paper's rule, " + ("; ".join(lines) if lines else
                                                                    "one level only: no change to report")
                     + " (paired by seed; corrected 95 % t-interval)." + (" " + ". ".join(
                         p[0].upper() + p[1:] for p in per_rule) + "." if per_rule else "")))

# %% [markdown]
# ## 3. Distractors
#
# **Question.** Papers report discriminative decoding as top-$k$ accuracy among $K$ candidates, or as AUC.
# How do the two depend on $K$? The same trained models (simulated, held-out trials: 300 candidate images)
# are scored with $K$ = 1, 2, 5, 10, 20, 50 sampled distractors and with all of them. The AUC of one instance
# is the fraction of its distractors the true match beats, so its *expectation* does not depend on $K$
# (only its sampling noise does), while top-1 accuracy falls roughly like $1/(K+1)$ for a weak model.

# %% tags=["hide-input"]
if not missing("distractors"):
    ds = held_out(parts["distractors"]).copy()
    n_all = 299
    ds["K"] = [n_all if k is None or (isinstance(k, float) and np.isnan(k)) else int(k) for k in ds["n_distractors"]]
    frames = []
    for metric, label in (("decoding_auc", "decoding AUC"), ("decoding_top1", "decoding top-1"),
                          ("decoding_top5", "decoding top-5")):
        frames.append(analyses.sweep_table(ds, "K", metric).assign(metric=label))
    dtab = pd.concat(frames)
    fig = figures.plot_sweep(dtab, "K", panels="metric", logx=True, chance=None, xticks=[1, 2, 5, 10, 20, 50, 299],
                             xticklabels=["1", "2", "5", "10", "20", "50", "all"], xlabel="distractors K",
                             ylabel="mean over seeds")
    piv = dtab.pivot_table(index=["metric", "method"], columns="K", values="mean")
    auc = piv.loc["decoding AUC"]
    top1 = piv.loc["decoding top-1"]
    spread = (auc.max(axis=1) - auc.min(axis=1))
    lo_k, hi_k = min(top1.columns), max(top1.columns)
    display(Markdown(
        f"**Conclusion.** Across K = {lo_k} … {'all' if hi_k == n_all else hi_k}, each method's mean decoding AUC "
        f"varies by at most {spread.max():.3f} (" + ", ".join(f"{figures.SHORT[m]} {spread[m]:.3f}" for m in spread.index)
        + "), while top-1 accuracy falls from " + ", ".join(
            f"{top1.loc[m, lo_k]:.2f} to {top1.loc[m, hi_k]:.3f} ({figures.SHORT[m]})" for m in top1.index)
        + ": AUCs are comparable across papers whatever their K; top-k numbers only at the same K. "
        + " ".join(f"Under {rule_words(rule)} the spread of decoding AUC over K is at most "
                   f"{analyses.sweep_table(under(ds, rule), 'K', 'decoding_auc').groupby('method')['mean'].agg(lambda v: v.max() - v.min()).max():.3f}."
                   for rule in RULES[1:])))

# %% [markdown]
# ## 4. References: what the data allow
#
# **Question.** How far are the methods from what the recordings themselves allow? Two **references** — not
# ceilings — and each method's share of the *above-chance range* up to them, (AUC − 0.5) / (reference − 0.5)
# ({func}`vna.study.analyses.above_chance_fraction`; a ratio of raw AUCs would ignore that 0.5 is the floor):
#
# * **trial template** (data only, no learning): under held-out trials each test image was seen in training,
#   so a held-out trial can be matched against the *mean of the other (training) trials* of every candidate
#   image. It needs no model of images at all, and exists only when the test images were seen in training. It
#   is not a bound: a learned model pools what it learned over all images (and VNA compares in a learned space
#   that can discount noisy neurons), so it can exceed the template's noisy estimate from few trials, a share
#   above 1.
# * **likelihood oracle** (simulated cortex only; {func}`vna.study.analyses.likelihood_oracle`): each held-out
#   trial scored against each held-out image by the simulator's own likelihood, with the *true* rates and the
#   true shared gain noise (Poisson counts under a random trial gain). No model of the simulation can beat it in
#   expectation. (Euclidean distance to the true rates, {func}`vna.study.analyses.oracle_auc`, ignores the gain
#   and the Poisson variance and is beaten by it, so it is no reference at all.)

# %% tags=["hide-input"]
if not missing("linear"):
    template = held_out(parts["linear"][parts["linear"]["method"] == "trial_template"])
    template = template[template["split"] == "trials"]
    # the template is scored like the other methods, under every rule its records carry: by -Euclidean distance
    # under the paper's rule (as direct encoding), by cosine under the cosine rule
    template, deep_rules = (scored[scored["key"].isin(f["key"])] for f in (template, study))
    ref_rules = [r for r in available_scores(template) if not len(study) or r in available_scores(deep_rules)] \
        if len(template) else []
    ref_rows = []
    for rule in ref_rules:
        ref = rule_rows(template, rule).groupby("dataset")["mean_auc"].mean()
        for dataset, reference in ref.items():
            deep = rule_rows(deep_rules, rule)
            deep = deep[(deep["dataset"] == dataset) & (deep["split"] == "trials")
                        & (deep["test_responses"] == "trials")]
            for m, g in deep.groupby("method"):
                auc = g["mean_auc"].mean()
                ref_rows.append({"rule": rule, "dataset": dataset, "method": figures.SHORT[m], "average AUC": auc,
                                 "trial template": reference,
                                 "share of the above-chance range": analyses.above_chance_fraction(auc, reference)})
    if ref_rows:
        display(pd.DataFrame(ref_rows).round(3))
    oracle = pd.DataFrame([{"seed": s, **analyses.likelihood_oracle(s)} for s in ([0] if quick else range(5))])
    sim = study[(study["dataset"] == "simulated") & (study["split"] == "images") & (study["test_responses"] == "trials")]
    top = oracle["mean_auc"].mean()
    o_rows = [{"method": figures.SHORT[m], "average AUC": g["mean_auc"].mean(), "likelihood oracle": top,
               "share of the above-chance range": analyses.above_chance_fraction(g["mean_auc"].mean(), top)}
              for m, g in sim.groupby("method")]
    if o_rows:
        display(pd.DataFrame(o_rows).round(3))
    text = []
    if ref_rows:
        shares = []
        for rule in ref_rules:
            best = max((r for r in ref_rows if r["rule"] == rule), key=lambda r: r["share of the above-chance range"])
            rule_name = "the paper's rule" if rule == "paper" else f"the {rule} rule"
            shares.append(f"{best['share of the above-chance range']:.2f} under {rule_name} ({best['method']} on "
                          f"`{best['dataset']}`, template {best['trial template']:.3f})")
        text.append("Under held-out trials the best method covers " + ", ".join(shares) + " of the above-chance "
                    "range up to the trial-template reference (above 1: the model beats the template's estimate). "
                    "The share depends on how the template is scored, so it says as much about the score as about "
                    "the model")
    if o_rows:
        lead = max(o_rows, key=lambda r: r["share of the above-chance range"])
        text.append(f"on the simulated cortex with held-out images the best method ({lead['method']}) covers "
                    f"{lead['share of the above-chance range']:.2f} of the range up to the likelihood oracle "
                    f"(average AUC {top:.3f} over {len(oracle)} seed(s))")
    if not o_rows:
        text.append(f"the likelihood oracle of the simulated cortex (held-out images) reaches an average AUC of "
                    f"{top:.3f} over {len(oracle)} seed(s); no study records of `simulated` here to set against it")
    display(Markdown("**Conclusion.** " + "; ".join(text) + "."))

# %% [markdown]
# ## 5. Linear baselines
#
# **Question.** What would a reviewer's first baselines reach? Ridge regression from the images' principal
# components to the responses (scored like direct encoding), ridge regression from the responses to the
# images' principal components (scored like direct decoding), and CCA between the two (a linear shared space,
# scored by cosine like VNA) — scikit-learn, regularisation chosen by image-grouped cross-validation on the
# training set only. They appear as rows marked *linear* in the results chapter's tables.

# %% tags=["hide-input"]
if not missing("linear"):
    lin = parts["linear"][parts["linear"]["method"] != "trial_template"]
    pool = pd.concat([lin, study]) if len(study) else lin
    pool = pool[(pool["split"] != "none") & (pool["test_responses"] == "trials")]
    said = []
    for rule in [r for r in RULES if r in available_scores(scored[scored["key"].isin(set(pool["key"]))])]:
        lt = under(pool, rule).groupby(["dataset", "split", "method"])["mean_auc"].agg(["mean", "std", "count"]).round(4)
        wide = lt["mean"].unstack("method")
        wide.columns = [figures.SHORT.get(c, c) for c in wide.columns]
        if rule == "paper":
            display(wide)
        if "VNA" in wide.columns:
            linear_cols = [c for c in wide.columns if "linear" in c]
            gap = (wide["VNA"] - wide[linear_cols].max(axis=1)).dropna()
            said.append(f"under {rule_words(rule)} VNA's average AUC is above the best linear method's in "
                        f"{int((gap > 0).sum())} of {len(gap)} dataset × protocol cells (single-trial test "
                        "responses), by " + ", ".join(f"{g:+.3f} (`{d}`, {s})" for (d, s), g in gap.items()))
    if said:
        display(Markdown("**Conclusion.** " + "; ".join(said) + "."))

# %% [markdown]
# ## 6. VNA's own settings
#
# **Question.** How much do VNA's free settings matter? A contrastive loss lives on its in-batch negatives,
# so the batch size (16 … 256) sets how many there are; the latent dimension (16 … 256) sets the size of the
# shared space; the temperature is learned (CLIP's choice) or fixed at its initial 0.07. Five seeds on the
# simulated cortex and on cowley2023-v4, held-out images.

# %% tags=["hide-input"]
if not missing("settings"):
    st = held_out(parts["settings"])
    base = study[(study["method"] == "vna") & (study["split"] == "images")
                 & study["dataset"].isin(analyses.SETTINGS_DATASETS)] if len(study) else study
    st = pd.concat([st, held_out(base)]).drop_duplicates("key")
    # the batch size the study's VNA trains with on each dataset (the validation sweep's choice, else 64)
    tuned = read_tuned(results_path)
    study_batch = st["dataset"].map(lambda d: tuned_fields(d, "vna", "images", tuned).get("batch_size", 64))
    b = analyses.sweep_table(st[(st["latent_dim"] == 128) & st["learn_temperature"]], "batch_size").assign(
        setting="batch size")
    k = analyses.sweep_table(st[(st["batch_size"] == study_batch) & st["learn_temperature"]], "latent_dim").assign(
        setting="latent dimension")
    sweep = pd.concat([b.rename(columns={"batch_size": "value"}), k.rename(columns={"latent_dim": "value"})])
    sweep["line"] = sweep["dataset"]
    fig = figures.plot_sweep(sweep, "value", by="line", panels="setting", logx=True, xticks=[16, 32, 64, 128, 256],
                             xlabel="value", ylabel="VNA average AUC")
    temp = st[(st["batch_size"] == study_batch) & (st["latent_dim"] == 128) & (st["method"] == "vna")]
    temp = temp.assign(learn_temperature=temp["learn_temperature"].astype(bool))
    # learned - fixed, paired by seed, corrected resampled t-interval (seeds re-split one recording)
    temp_diff = []
    for rule in [r for r in RULES if r in available_scores(scored[scored["key"].isin(set(temp["key"]))])]:
        change = analyses.paired_change(under(temp, rule), "learn_temperature", False, True)
        temp_diff += [f"`{r.dataset}` {ci(r.change, r.ci_low, r.ci_high)} ({rule_words(rule)})"
                      for r in change.itertuples()]
    span = sweep.groupby(["setting", "dataset"])["mean"].agg(lambda v: v.max() - v.min())
    display(Markdown(
        "**Conclusion.** Learning the temperature instead of fixing it changes VNA's average AUC by "
        + (", ".join(temp_diff) if temp_diff else "(no paired runs yet)") + " (learned − fixed, paired by seed, "
        "corrected 95 % t-interval); "
        "across the values tried, the average AUC spans " + ", ".join(
            f"{v:.3f} for {s} on `{d}`" for (s, d), v in span.items()) + "."))
