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
# # Preparing the data
#
# Every method sees the same pairs of images and responses. This chapter follows one dataset from the
# recording to those pairs: the images as recorded and as the models see them, the responses and their
# trial-to-trial variability, the reliability of each neuron, and the train/test split. The last section
# lists every dataset available on the machine that built this book.

# %% tags=["remove-cell"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets: plain bars
import vna  # not importable? `pip install -e <your clone of the repository>` (on Colab the first cell does it)

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from vna.chapters import plots
from vna.data import available, load
from vna.data.preprocess import make_split, noise_ceiling, prepare_images, split_half_reliability, to_paired
from vna.study.grids import STUDY_PROTOCOLS
from vna.chapters.notebook import available_datasets, data_chapter

# %% tags=["parameters"]
dataset = "auto"  # "auto": cowley2023-v4 when available, else simulated
split = "images"  # "images" (held-out test images) or "trials"
responses = "trials"  # "trials" (one pair per trial) or "mean" (per image)
seeds = [0]  # the split of the first seed is shown
epochs = 15  # not used here (no training in this chapter)
batch_size = 64  # not used here
lr = 1e-3  # not used here
latent_dim = 128  # not used here
n_distractors = None  # not used here
device = "auto"  # not used here
data_dir = None  # None: $VNA_DATA_DIR or ~/.cache/vna
results_dir = None  # not used here (no runs are saved)
quick = False  # True: trial means, no overview of the other datasets
# %%
chapter = data_chapter(globals())

# %% [markdown]
# ## The recording
#
# `vna.data.load` returns a `Recording`: images as recorded, responses `[images, trial slots, neurons]`
# (NaN where an image got fewer trials than the most-repeated one) and a table of neurons.

# %%
cfg = chapter.cfg  # the first seed's RunConfig
label = chapter.label  # the dataset's name as figures show it
rec = load(cfg.dataset, **cfg.dataset_options)
print(rec)
fields = ("species", "area", "units", "source", "commit", "citation", "license")
provenance = {k: rec.meta.get(k) for k in fields}
pd.Series(provenance, name=rec.name).to_frame()

# %% [markdown]
# ## Images
#
# As recorded (first row) and as every model sees them (second row): grey, $64 \times 64$ pixels, values
# in $[0, 1]$ (`vna.data.preprocess.prepare_images`).

# %%
shown = np.arange(min(8, rec.n_images))
prepared = prepare_images(rec.images[shown], image_size=cfg.image_size, grey=cfg.grey)
raw = rec.images[shown].astype(np.float32)
raw = raw / raw.max() if raw.max() > 0 else raw
grey = raw if raw.ndim == 3 else raw.mean(-1)
title = (f"{label}: images as recorded {rec.images.shape[1:]} (top) "
         f"and prepared {tuple(prepared.shape[1:])} (bottom)")
both = list(grey) + list(prepared[:, 0].numpy())
axes = plots.show_images(both, ncols=len(shown), title=title)

# %% [markdown]
# ## Responses
#
# The mean response of each neuron to each image (over that image's recorded trials). Each neuron is
# z-scored across images for display only.

# %%
counts = rec.trial_counts
print(f"units: {rec.meta.get('units', 'unknown')}; trials per image: "
      f"{int(counts.min())}-{int(counts.max())} (total {int(counts.sum())})")
ax = plots.plot_mean_responses(rec.mean_responses(), label)

# %% [markdown]
# ## Trial-to-trial variability
#
# The same image evokes a different response on every trial, the variability the paper's argument rests
# on (section 1). Left: single trials (grey) and their mean (black) for the three neurons whose mean
# varies most across images, images sorted by that mean. Right: variance against mean over trials for every
# image and neuron; spike counts of real neurons typically lie near or above the Poisson line.

# %%
if rec.n_trials > 1:
    units = rec.meta.get("units", "response")
    axes = plots.plot_trial_variability(rec.responses, label, units=units)
else:
    display(Markdown(f"*{rec.name} holds trial means only (one value per image and "
                     "neuron): no single trials to show.*"))

# %% [markdown]
# ## Reliability
#
# The split-half reliability of a neuron is the correlation, across images, between the means of two
# random halves of each image's trials, corrected with the Spearman-Brown formula to the full number of
# trials; its square root is the noise ceiling, the best correlation any model of the mean response can
# reach. {cite:t}`huang2023deep` keep neurons with a reliability of at least 0.8; in `vna` this filter is
# opt-in (`reliability_threshold`), computed on the training trials only.

# %%
if rec.n_trials > 1:
    rel = split_half_reliability(rec.responses, seed=cfg.seed)
    ax = plots.plot_reliability(rel, label, threshold=0.8)
    nc = noise_ceiling(rec.responses, seed=cfg.seed)
    summary = pd.Series({
        "neurons": rec.n_neurons,
        "median reliability": float(np.nanmedian(rel)),
        "reliability >= 0.8": int(np.sum(np.nan_to_num(rel, nan=-1) >= 0.8)),
        "median noise ceiling": float(np.nanmedian(nc)),
    }, name=rec.name)
    if "true_reliability" in rec.meta:  # the simulated set knows the true reliability
        true = np.asarray(rec.meta["true_reliability"])
        ok = np.isfinite(rel) & np.isfinite(true)
        r = float(np.corrcoef(rel[ok], true[ok])[0, 1])
        summary["corr(estimated, true reliability)"] = r
    display(summary.to_frame().round(3))
else:
    display(Markdown("*Reliability needs single trials; this dataset has trial means "
                     "only.*"))

# %% [markdown]
# ## Train/test split and pairs
#
# `split="images"` holds out 15 % of the images with all their trials, so a model is tested on images it
# never saw; `split="trials"` keeps every image in training and holds out some of each image's trials.
# `vna.data.to_paired` then makes one pair per trial (`responses="trials"`) or per image
# (`responses="mean"`) and z-scores every neuron with the training responses' mean and standard deviation.

# %%
sp = make_split(rec, cfg.split, cfg.test_fraction, cfg.seed)
train, test = to_paired(rec, split=cfg.split, responses=cfg.responses,
                        test_fraction=cfg.test_fraction, seed=cfg.seed,
                        zscore=cfg.zscore, image_size=cfg.image_size, grey=cfg.grey,
                        reliability_threshold=cfg.reliability_threshold)
pd.DataFrame({
    "images": [train.n_images, test.n_images],
    "trial slots": [int(sp.train_mask.sum()), int(sp.test_mask.sum())],
    "pairs (responses)": [train.n_responses, test.n_responses],
    "neurons": [train.n_neurons, test.n_neurons],
}, index=["train", "test"])

# %%
fig, ax = plt.subplots(figsize=(5, 3))
for part, what in ((train, "train"), (test, "test")):
    values = part.responses.numpy().ravel()
    ax.hist(values, bins=60, alpha=0.6, density=True, label=what)
ax.set_xlabel("z-scored response")
ax.set_ylabel("density")
ax.set_title(f"{label}: responses after z-scoring (training statistics)", fontsize=10)
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## Every available dataset
#
# `vna.data.available()` lists the named datasets and whether they can be used on this machine without a
# download. Below it, each usable one at a glance (sample images, mean responses, reliability, Fano
# factor for single-trial data), and a table that prepares each with the settings above.

# %%
table = available()
table[["name", "species", "area", "kind", "status"]]

# %%
from vna.data.preprocess import fano_factor

rows = []
for name in ([] if quick else available_datasets()):
    r = load(name)
    trials = r.n_trials > 1
    rel = split_half_reliability(r.responses, seed=cfg.seed) if trials else None
    fano = fano_factor(r.responses) if trials else None
    name_shown = plots.dataset_label(name, bool(r.meta.get("simulated")))
    plots.plot_dataset_overview(r, name_shown, reliability=rel, fano=fano)
    plt.show()
    # a split the dataset supports (the study's protocols)
    splits = [p[0] for p in STUDY_PROTOCOLS.get(name, [(cfg.split,)])]
    s = cfg.split if cfg.split in splits else splits[0]
    tr, te = to_paired(r, split=s, responses=cfg.responses, seed=cfg.seed)
    counts = r.trial_counts
    rows.append({"dataset": name_shown, "images": r.n_images,
                 "trials per image": f"{int(counts.min())}-{int(counts.max())}",
                 "neurons": r.n_neurons, "split": s, "train pairs": tr.n_responses,
                 "test images": te.n_images, "test pairs": te.n_responses})
pd.DataFrame(rows) if rows else Markdown("*(skipped in quick mode)*")
