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
# # Does it replicate across sessions?
#
# Every verdict of the [results chapter](05_results) rests on five seeds of **one** recording per dataset.
# Seeds re-split that recording: they measure training noise, not whether a claim holds in another session,
# another animal or another area. Here the unit of replication is the **session**: seven V4 sessions of
# {cite:t}`cowley2023compact` from two macaques (WE: 190925–190929; PE: 210224, 210305, 210325) and both
# mouse V1 regions of {cite:t}`antolik2016model`, each trained with the three methods and three seeds
# (`python -m vna reproduce --grid sessions`, {mod}`vna.study.sessions`).
#
# For each session the seed-mean paired difference (VNA − direct encoding, VNA − direct decoding) is one
# number; across sessions we give its t-interval (sessions as the unit), the sign count, and a two-level
# bootstrap interval that resamples animals, then sessions within each drawn animal. A claim *holds in a
# session* when every comparison it makes has a seed-mean difference on its side of the margin (C3 on the logit
# scale with its margin, as in the per-cell verdicts of the results chapter), and *in an animal* when it holds in
# more than half of that animal's sessions.
#
# :::{note}
# Only session 210325 is available with single trials offline; the other V4 sessions come as trial means.
# They all share one protocol: **held-out images, trained and tested on trial means** (`images/mean→mean`),
# which the trial-level sessions also run. The V4 sessions differ in images (normal, active-learning and
# synthetic sets of the upstream table), neurons ({glue:text}`v4_neurons`) and repeats ({glue:text}`v4_repeats` per
# image).
# :::

# %% tags=["remove-cell"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets: plain bars
import vna  # not importable? `pip install -e <your clone of the repository>` (on Colab the first cell does it)

# %% tags=["parameters"]
results_dir = None  # None: the published grid (results/); in quick mode the runs folder
bootstrap = 4000  # two-level bootstrap draws per comparison
quick = False  # True: a smoke test (two sessions, one seed, 2 epochs, a fifth of the training images)
data_dir = None  # the data folder (only for the sessions' split-half reliability and quick runs)

# %% tags=["remove-input"]
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from vna.chapters.notebook import show_path
from vna.data import load, split_half_reliability
from vna.data.registry import sessions as list_sessions
from vna.names import METHOD_NAMES
from vna.study import sessions as S
from vna.study.runner import run_grid
from vna.study.stats import available_scores, verdict_text
from vna.study.store import load_records, published_dir, runs_dir

if data_dir:
    os.environ["VNA_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
_v4 = list_sessions()
_v4 = _v4[_v4["dataset"] == "cowley2023-v4"]
for _key, _col in (("v4_neurons", "neurons"), ("v4_repeats", "repeats_per_image")):
    _values = pd.to_numeric(_v4[_col], errors="coerce").dropna().astype(int)
    glue(_key, f"{_values.min()}–{_values.max()}", display=False)
QUICK_SESSIONS = ["190928", "210305"]  # one per animal: WE (1200 images, 24 neurons), PE (400 images, 70 neurons)
if quick:
    grid = S.sessions_grid(sessions=QUICK_SESSIONS, seeds=[0], protocols=[S.MEAN_PROTOCOL], quick=True,
                           train_image_fraction=0.2)
    results_path = Path(results_dir) if results_dir else runs_dir() / "sessions-quick"
    listed = list_sessions().set_index("session")
    absent = [s for s in QUICK_SESSIONS if listed.loc[s, "status"] == "needs download"]
    if absent:  # no data: replication is about recordings, so nothing stands in (never simulated data)
        grid = []
        results_path.mkdir(parents=True, exist_ok=True)
        display(Markdown(f"Data note: the V4 session(s) {', '.join(absent)} are not in the data folder, so the "
                         "quick runs were skipped. Replication is a question about recordings: the SIMULATED "
                         "cortex does not stand in for them, and this page shows no numbers."))
    else:
        done = run_grid(grid, results_path, progress=False)
        display(Markdown(f"**QUICK smoke test: the numbers below are not results.** {done.ran} runs now, "
                         f"{done.already} already in `{show_path(results_path)}`."))
else:
    grid = S.sessions_grid()
    results_path = Path(results_dir) if results_dir else published_dir()
if results_path is None or not results_path.is_dir():
    raise FileNotFoundError("no results folder: pass results_dir= (a folder of records made by python -m vna "
                            "reproduce), or run this chapter from a checkout of the repository")
records = S.add_sessions(load_records(results_path, score=None), grid)  # every scoring rule: column score
runs = records[records["score"] == "paper"]  # one row per run
per_unit = runs.groupby("unit")["session"].nunique() if len(runs) else pd.Series(dtype=int)
have = bool((per_unit >= 2).any())
RUN = "python -m vna reproduce --grid sessions --publish --jobs 2"
if not have:
    display(Markdown(
        f"**The sessions grid has not been run yet**: `{show_path(results_path)}` holds {len(runs)} of its "
        f"{len(grid)} runs ({', '.join(f'{u}: {n} session' for u, n in per_unit.items()) or 'no session'}; the "
        "default sessions' runs are the study's, which the grid shares), and an across-session comparison needs "
        f"at least two sessions of one dataset. Run it with\n\n`{RUN}`\n\n(under an hour on a 2-core CPU; "
        "`--device cuda` on a GPU), then render this chapter again."))
else:
    display(Markdown(f"Read from `{show_path(results_path)}/`: {len(runs)} of the grid's {len(grid)} runs, "
                     f"{records['session'].nunique()} sessions. Nothing was trained to render this page"
                     + (" (except the quick smoke runs above)." if quick else ".")))

# %% [markdown]
# ## The sessions
#
# What differs between sessions: animal, neurons, images and their types (the upstream data table), repeats
# per image, and, where single trials are available, the median split-half reliability of the neurons
# (Spearman–Brown corrected): a measure of how much of each response is signal rather than trial noise.

# %% tags=["remove-input"]
table = list_sessions()
table = table[table["session"].isin(records["session"].unique())] if have else table
rel = {}
for r in table.itertuples():
    if r.responses == "single trials" and r.status != "needs download":
        rec = load(r.dataset, **{r.option: r.value}, progress=False)
        rel[(r.dataset, r.session)] = float(np.nanmedian(split_half_reliability(rec.responses)))
table = table.assign(reliability=[rel.get((d, s), np.nan) for d, s in zip(table["dataset"], table["session"])])
display(table[["dataset", "session", "animal", "neurons", "images", "repeats_per_image", "responses",
               "reliability", "image_types"]].rename(columns={"repeats_per_image": "repeats/image",
                                                             "reliability": "split-half reliability"})
        .round(3).reset_index(drop=True))

# %% [markdown]
# ## Per session: VNA against each baseline
#
# One row per session, coloured by animal (grey: animal not known), for each scoring rule present in the
# records. A dot is the seed-mean paired difference of the average AUC, its bar the seeds' corrected 95 %
# t-interval (3 seeds: wide); the black rows are the across-session mean with its t-interval (thick) and
# the two-level bootstrap interval (thin). With two animals the bootstrap cannot reach beyond the
# sessions it resamples and is too narrow; the t-interval is the one the verdicts use.

# %% tags=["remove-input"]
ANIMAL_COLORS = {"WE": "tab:purple", "PE": "tab:orange"}


def forest(per: pd.DataFrame, across: pd.DataFrame, title: str) -> plt.Figure:
    per = per[(per["task"] == "average") & (per["scale"] == "auc")]
    across = across[across["scale"] == "auc"]
    baselines = [b for b in S.BASELINES if b in set(per["baseline"])]
    groups = list(per.groupby(["unit", "split", "responses", "test_responses"], sort=True))
    n_rows = sum(g["session"].nunique() + 1 for _, g in groups)
    fig, axes = plt.subplots(1, len(baselines), figsize=(4.6 * len(baselines), 0.32 * n_rows + 1.4),
                             sharey=True, squeeze=False)
    for ax, b in zip(axes[0], baselines):
        y, ticks, labels = 0, [], []
        for (unit, split, resp, test), g in groups:
            g = g[g["baseline"] == b].sort_values(["animal", "session"], na_position="last")
            for r in g.itertuples():
                c = ANIMAL_COLORS.get(r.animal, "0.5")
                ax.errorbar(r.mean_diff, y, xerr=[[r.mean_diff - r.seed_low], [r.seed_high - r.mean_diff]]
                            if np.isfinite(r.seed_low) else None, fmt="o", color=c, ms=5, capsize=2)
                ticks.append(y), labels.append(f"{unit} {r.session}" + (f" ({r.animal})" if r.animal else ""))
                y += 1
            a = across[(across["unit"] == unit) & (across["split"] == split) & (across["responses"] == resp)
                       & (across["test_responses"] == test) & (across["baseline"] == b) & (across["task"] == "average")]
            if len(a):
                a = a.iloc[0]
                ax.plot([a.boot_low, a.boot_high], [y, y], color="k", lw=1)
                ax.plot([a.ci_low, a.ci_high], [y, y], color="k", lw=4, solid_capstyle="butt")
                ax.plot(a.mean_diff, y, "D", color="w", mec="k", ms=6)
                ax.annotate(f"{a.n_positive} of {a.n_sessions} > 0", (a.ci_high, y), fontsize=7, xytext=(4, -3),
                            textcoords="offset points")
                ticks.append(y), labels.append(f"{unit}: {split}/{resp}→{test}, across sessions")
                y += 1.5
        ax.axvline(0, color="0.3", lw=0.8, ls="--")
        ax.set_yticks(ticks, labels, fontsize=8)
        ax.set_xlabel(f"VNA − {METHOD_NAMES[b]} (average AUC)")
    axes[0][0].invert_yaxis()  # shared: once for all panels
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=a) for a, c in ANIMAL_COLORS.items()]
    axes[0][-1].legend(handles=handles, title="animal", fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


results = {}
if have:
    held = records[records["split"].isin(["images", "trials"])]
    for rule in available_scores(records):
        per = S.per_session(held, score=rule)
        across = S.across_sessions(per, n_boot=500 if quick else int(bootstrap))
        results[rule] = (per, across)
        forest(per, across, f"scoring rule: {rule}")
        plt.show()

# %% [markdown]
# ## Across sessions: intervals and verdicts
#
# Per claim, species/area and held-out protocol: in how many sessions (and animals) the claim holds, and the
# verdict of the across-session t-interval (the rule of {mod}`vna.study.stats`, with the session as the unit:
# *replicates* when the whole interval is on the claim's side of the margin, *does not replicate* when it is on the
# other side, *no difference (equivalent)* when the interval of the logit difference lies inside ±log 1.25 for a
# claim that VNA beats a baseline, *inconclusive* when it straddles the margin; it *cannot be tested* with one
# session, or where a method's AUC is the same in every seed of a session or the session's test set is too coarse
# for the margin, as in the results chapter).

# %% tags=["remove-input"]
verdict_tables = {}
if have:
    for rule, (per, across) in results.items():
        v = S.session_verdicts(per, across)
        verdict_tables[rule] = v
        display(Markdown(f"**Scoring rule `{rule}`**"))
        display(v.assign(protocol=v["split"] + "/" + v["responses"] + "→" + v["test_responses"],
                         verdict=v["verdict"].map(verdict_text))[
            ["claim", "unit", "protocol", "wording", "verdict", "evidence"]].reset_index(drop=True))
        a = across[(across["task"] == "average") & (across["scale"] == "auc")]
        display(a[["unit", "split", "responses", "test_responses", "baseline", "n_sessions", "n_animals",
                   "mean_diff", "ci_low", "ci_high", "n_positive", "boot_low", "boot_high"]].round(4)
                .reset_index(drop=True))
else:
    display(Markdown(f"*No verdicts yet: run `{RUN}`.*"))

# %% [markdown]
# ## The per-session table
#
# Seed-mean AUCs of the three methods in every session (held-out protocols), under each scoring rule.

# %% tags=["remove-input"]
if have:
    for rule in results:
        t = S.method_table(held, score=rule)
        wide = t.pivot_table(index=["unit", "session", "animal", "split", "responses", "test_responses"],
                             columns="method", values="average", dropna=False).round(4)
        display(Markdown(f"**Average AUC, scoring rule `{rule}`**"))
        display(wide.dropna(how="all"))

# %% [markdown]
# ## Does the advantage track what differs between sessions?
#
# VNA − direct encoding (average AUC, held-out images on trial means, the protocol every session has)
# against the session's neurons, repeats per image and, where single trials exist, split-half reliability.
# With seven V4 sessions and two V1 regions these are descriptions, not tests.

# %% tags=["remove-input"]
if have:
    per = results["paper"][0]
    d = per[(per["baseline"] == "direct_encoder") & (per["task"] == "average") & (per["scale"] == "auc")
            & (per["split"] == S.MEAN_PROTOCOL[0]) & (per["responses"] == S.MEAN_PROTOCOL[1])
            & (per["test_responses"] == S.MEAN_PROTOCOL[2])]
    d = d.merge(table[["dataset", "session", "neurons", "repeats_per_image", "reliability"]],
                on=["dataset", "session"], how="left")
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
    for ax, (col, label) in zip(axes, [("neurons", "neurons"), ("repeats_per_image", "repeats per image"),
                                       ("reliability", "median split-half reliability")]):
        for r in d.itertuples():
            x = getattr(r, col)
            if pd.notna(x):
                ax.plot(x, r.mean_diff, "o" if r.unit == "cowley2023-v4" else "s",
                        color=ANIMAL_COLORS.get(r.animal, "0.5"))
                ax.annotate(r.session, (x, r.mean_diff), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axhline(0, color="0.3", lw=0.8, ls="--")
        ax.set_xlabel(label)
    axes[0].set_ylabel("VNA − DE (average AUC)")
    fig.suptitle("circles: macaque V4 sessions (colour: animal); squares: mouse V1 regions", fontsize=9)
    fig.tight_layout()
    plt.show()
    n_rel = int(d["reliability"].notna().sum())
    display(Markdown(f"Split-half reliability needs single trials: {n_rel} of {len(d)} sessions have them "
                     "offline, so the right panel has few points."))
