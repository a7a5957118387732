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
# # Direct decoding
#
# The second baseline (paper section 4.2.2) reconstructs the image from the neural response: a network $g$
# (here the spike encoder's layers up to a $256 \times 2 \times 2$ map, then five transposed convolutions
# mirroring the image encoder, ending in a sigmoid) is trained to minimise the mean squared error between
# reconstructed and shown images,
#
# $$
# \mathcal{L}_\text{dec} = \frac{1}{B} \sum_{i=1}^{B} \frac{1}{C S^2} \big\lVert g(y_i) - x_i \big\rVert^2 .
# $$
#
# Both discriminative tasks compare *reconstructed* with *shown* images, $S_{ij} = -\lVert g(y_j) - x_i
# \rVert$: encoding ranks the candidate responses $y_j$ of an image $x$ by $\lVert g(y_j) - x \rVert$,
# decoding ranks the candidate images $x_j$ of a response $y$ by $\lVert g(y) - x_j \rVert$, smallest first.
#
# This chapter builds one direct decoder, trains it with `vna.fit`, scores the test pairs with
# `model.score`, evaluates them with `vna.evaluate` and examines it: the training curve,
# reconstructions, the score matrix, ROC curves, ranked candidate sets and top-$k$ accuracy. Its
# settings are in the `parameters` cell below; run it with other values with papermill (see
# [Reproducing](../reproducing.md)).

# %% tags=["remove-cell"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets: plain bars
import vna  # not importable? `pip install -e <your clone of the repository>` (on Colab the first cell does it)

import torch

from vna.chapters import plots
from vna.chapters.notebook import method_chapter
from vna.study.pipeline import prepare

# %% tags=["parameters"]
dataset = "auto"  # "auto": cowley2023-v4 when available, else simulated
split = "images"  # "images" (held-out test images) or "trials"
responses = "trials"  # "trials" (one pair per trial) or "mean" (per image)
seeds = [0]  # the first is examined in detail; more add rows of metrics
epochs = 15  # fixed (the published grid: at most 50, with early stopping)
batch_size = 64
lr = 1e-3
latent_dim = 128
n_distractors = None  # None: every other test image / response
device = "auto"  # "auto": CUDA when available, else CPU
data_dir = None  # None: $VNA_DATA_DIR or ~/.cache/vna
results_dir = None  # None: the untracked runs folder (_build/runs)
quick = False  # True: a smoke test (2 epochs at most, small data), not saved
# %% [markdown]
# `vna.chapters.notebook.method_chapter` turns these parameters into one `RunConfig` per seed
# and says where the data and the compute come from:

# %%
chapter = method_chapter("direct_decoder", globals())

# %% [markdown]
# ## Data
#
# `vna.study.pipeline.prepare` loads the dataset and turns it into training and test pairs (see
# [the data chapter](01_data.ipynb)). Every test response is one instance of each task.

# %%
cfg = chapter.cfg  # the first seed's RunConfig; every seed's is in chapter.configs
parts = prepare(cfg)
train, test = parts.train, parts.test
print(train)
print(test)

# %% [markdown]
# ## The model
#
# A perceptron maps the $N$ responses through 512 hidden units to 1024 values, reshaped to a
# $256 \times 2 \times 2$ map; five transposed convolutions double its side five times, back to
# $1 \times 64 \times 64$. (`latent_dim` does not apply to this method.)

# %%
torch.manual_seed(cfg.seed)  # the initial weights follow the seed
model = vna.DirectDecoder(train.n_neurons)
print(model)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")

# %% [markdown]
# ## Training
#
# `vna.fit` runs Adam on mini-batches of (single-trial response, image) pairs with the mean squared
# error over pixels, for `cfg.epochs` epochs.

# %%
history = vna.fit(model, train, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                  seed=cfg.seed, device=cfg.device, progress=False)
ax = plots.plot_history(history, chapter.label, "direct_decoder")

# %% [markdown]
# ### Reconstructions
#
# Test images (top) and the decoder's reconstructions from one recorded test trial each (bottom). With a
# few dozen neurons the reconstructions are blurry; the discriminative tasks only need them to be closer
# to the right image than to the others.

# %%
first = [int((test.match == i).nonzero()[0, 0]) for i in range(min(8, test.n_images))]
recon = model.reconstruct(test.responses[first]).cpu()
shown = torch.cat([test.images[: len(first)], recon])
title = f"Direct Decoding on {chapter.label}: test images (top), reconstructions"
axes = plots.show_images(shown, ncols=len(first), title=title)

# %% [markdown]
# ## Discriminative encoding and decoding
#
# `model.score` compares every shown image with every reconstruction: $S_{ij} = -\lVert g(y_j) -
# x_i \rVert$. Rows are test images, columns their test responses grouped by image. Each image's own
# responses form the block on the diagonal, which should be brighter than the rest of its row
# (encoding) and of its columns (decoding).

# %%
S = model.score(test.images, test.responses)  # [test images, test responses]
ax = plots.plot_score_matrix(S, test.match, chapter.label, "direct_decoder")

# %% [markdown]
# `vna.evaluate` reads the score matrix both ways: the AUC per instance averaged over instances,
# and top-1 / top-5 accuracy. Chance is an AUC of 0.5. `chapter.save` writes the run's record to
# the untracked runs folder (not in quick mode); with more than one seed, `chapter.more_seeds`
# runs the same steps for each further seed through `vna.study.pipeline.run`, one row each.

# %%
metrics = vna.evaluate(model, test, cfg.n_distractors, cfg.seed, device=cfg.device)
chapter.save(model, history, parts)
chapter.metrics_table(metrics, chapter.more_seeds())

# %% [markdown]
# ### ROC curves and top-$k$ accuracy
#
# For each instance the true match is the positive and the distractors are the negatives; averaging
# the instances' ROC curves (`vna.metrics.roc_curve`) gives the curves on the left, whose areas are
# exactly the AUCs reported above (`plot_roc` checks that). On the right, the fraction of instances
# whose true match is among the $k$ best-scored candidates (`vna.metrics.top_k_curve`), with the
# chance level $k / (K + 1)$ for $K$ distractors. Both figures draw on the axes they are given.

# %%
import matplotlib.pyplot as plt

from vna.metrics import TASKS, roc_curve, top_k_curve

fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 4))
curves = {t: roc_curve(S, test.match, t, cfg.n_distractors, cfg.seed) for t in TASKS}
plots.plot_roc(curves, chapter.label, "direct_decoder", metrics=metrics, ax=left)
topk = {t: top_k_curve(S, test.match, t, n_distractors=cfg.n_distractors, seed=cfg.seed)
        for t in TASKS}
plots.plot_topk(topk, chapter.label, "direct_decoder", ax=right)
fig.tight_layout()

# %% [markdown]
# ### Example candidate sets
#
# Decoding, the direction this model maps (response to image): given a response, the test images
# ranked by score (the true image framed in green).

# %%
queries = list(range(0, test.n_responses, max(1, test.n_responses // 4)))[:4]
axes = plots.plot_decoding_candidates(test, S, queries, chapter.label, "direct_decoder")

# %% [markdown]
# Encoding: given an image, the candidate responses ranked by score; each row is one response
# (neurons along the x axis), the true one marked.

# %%
axes = plots.plot_encoding_candidates(test, S, queries[:3], chapter.label,
                                      "direct_decoder")

# %% [markdown]
# ## Summary

# %%
chapter.summary(metrics)
