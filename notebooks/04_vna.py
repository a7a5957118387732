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
# # Visual-Neural Alignment
#
# VNA (paper section 3.1) embeds images and neural responses in one $d$-dimensional space: an image
# encoder $f_\theta$ (five stride-2 convolutions and a linear layer) and a spike encoder $g_\phi$ (a
# two-layer perceptron) are trained together with the symmetric contrastive loss of CLIP (eq. 1),
#
# $$
# \mathcal{L} = -\frac{1}{2B} \sum_{i=1}^{B} \left[
# \log \frac{e^{s_{ii}/\tau}}{\sum_{j} e^{s_{ij}/\tau}} + \log \frac{e^{s_{ii}/\tau}}{\sum_{j} e^{s_{ji}/\tau}}
# \right], \qquad s_{ij} = \cos\big(f_\theta(x_i), g_\phi(y_j)\big),
# $$
#
# so that each image's embedding is closer to the embedding of its own response than to those of the other
# responses in the batch, and vice versa. The score of an image-response pair is their cosine similarity,
# $S_{ij} = s_{ij}$; discriminative encoding ranks a row of $S$, decoding a column.
#
# This chapter trains one VNA model and examines it: the training curve, the score matrix, ROC curves,
# ranked candidate sets and top-$k$ accuracy. Its settings are in the `parameters` cell below; run it with
# other values with papermill (see [Reproducing](../reproducing.md)).

# %% tags=["remove-cell"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets: plain bars
import vna  # not importable? `pip install -e <your clone of the repository>` (on Colab the first cell does it)

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
# `vna.chapters.notebook.method_chapter` turns these parameters into one `RunConfig` per seed and says where the data
# and the compute come from:

# %%
chapter = method_chapter("vna", globals())

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
print(f"{test.n_images} test images and {test.n_responses} test responses of {test.n_neurons} neurons")

# %% [markdown]
# ## The model
#
# The image encoder turns a $1 \times 64 \times 64$ image into a $256 \times 2 \times 2$ map, flattens it
# to 1024 values and projects them to the latent space; the spike encoder maps the $N$ responses through 512
# hidden units to the same space. `logit_scale` is $\log(1/\tau)$, learned.

# %%
model = vna.build_model(cfg, train.n_neurons)
print(model)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters; initial temperature {model.temperature:.3f}")

# %% [markdown]
# ## Training
#
# Adam on mini-batches of pairs, the contrastive loss of eq. 1. `vna.study.pipeline.run` trains and then
# evaluates on the test pairs; `chapter.run` calls it once per seed and saves each run's record in the
# untracked runs folder.

# %%
outputs = chapter.run(data=parts)
out = outputs[0]
print(f"learned temperature: {out.model.temperature:.4f}")
fig = plots.plot_history(out.history, chapter.label, chapter.method)

# %% [markdown]
# ## Discriminative encoding and decoding
#
# `vna.evaluate` computes the score matrix once and reads it both ways: the AUC per instance averaged over
# instances, and top-1 / top-5 accuracy. Chance is an AUC of 0.5.

# %%
chapter.metrics_table(outputs)

# %% [markdown]
# ### The score matrix
#
# Rows are test images, columns their test responses grouped by image. Each image's own responses form
# the block on the diagonal; a model that aligns the two modalities makes that block brighter than the rest
# of its row (encoding) and of its columns (decoding).

# %%
fig = plots.plot_score_matrix(out.scores, test.match, chapter.label, chapter.method)

# %% [markdown]
# ### ROC curves
#
# For each instance the true match is the positive and the distractors are the negatives; averaging the
# instances' ROC curves gives the curves below, whose areas are exactly the AUCs reported above (the cell
# checks that).

# %%
fig, aucs = plots.plot_roc(out.scores, test.match, chapter.label, chapter.method, cfg.n_distractors, cfg.seed,
                           out.metrics)

# %% [markdown]
# ### Example candidate sets
#
# Decoding: given a response, the test images ranked by score (the true image framed in green).
# Encoding: given an image, the candidate responses ranked by score; each row is one response (neurons
# along the x axis), the true one marked.

# %%
queries = list(range(0, test.n_responses, max(1, test.n_responses // 4)))[:4]
fig = plots.plot_decoding_candidates(test, out.scores, queries, chapter.label, chapter.method)

# %%
fig = plots.plot_encoding_candidates(test, out.scores, queries[:3], chapter.label, chapter.method)

# %% [markdown]
# ### Top-$k$ accuracy
#
# The fraction of instances whose true match is among the $k$ best-scored candidates, with the chance
# level $k / (K + 1)$ for $K$ distractors.

# %%
fig, topk = plots.plot_topk(out.scores, test.match, chapter.label, chapter.method, n_distractors=cfg.n_distractors,
                            seed=cfg.seed)
topk.pivot(index="k", columns="task", values="accuracy").round(3)

# %% [markdown]
# ## Summary

# %%
chapter.summary(out)
