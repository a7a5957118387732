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
# This chapter builds one VNA model, trains it with `vna.fit`, scores the test pairs with
# `model.score` and evaluates them with `vna.evaluate`, and examines it: the contrastive loss on one
# batch, the training curve, the shared space, the score matrix, ROC curves, ranked candidate sets and
# top-$k$ accuracy. Its settings are in the `parameters` cell below; run it with other values with
# papermill (see [Reproducing](../reproducing.md)).

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
# `vna.chapters.notebook.method_chapter` turns these parameters into one `RunConfig` per seed
# and says where the data and the compute come from:

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

# %% [markdown]
# ## The model
#
# The image encoder turns a $1 \times 64 \times 64$ image into a $256 \times 2 \times 2$ map, flattens it
# to 1024 values and projects them to the latent space; the spike encoder maps the $N$ responses through 512
# hidden units to the same space. `logit_scale` is $\log(1/\tau)$, learned.

# %%
import torch

torch.manual_seed(cfg.seed)  # the initial weights follow the seed
model = vna.VNA(train.n_neurons, latent_dim=cfg.latent_dim, temperature=cfg.temperature)
print(model)
n_weights = sum(p.numel() for p in model.parameters())
print(f"{n_weights:,} parameters; initial temperature {model.temperature:.3f}")

# %% [markdown]
# ## The contrastive loss on one batch
#
# Take a batch of $B$ pairs: one response to each of $B$ test images. Each encoder embeds its side, and
# the $B \times B$ matrix of cosine similarities $s_{ij}$ is what eq. 1 works on: its cross-entropy
# pulls each diagonal entry (a matched pair) above the rest of its row and of its column. Before
# training the encoders are random: a matched pair is no more similar than any other, and the loss
# is at or above $\log B$, its value for a matrix that cannot tell the pairs apart.

# %%
import math

from vna.losses import contrastive_loss

B = min(16, test.n_images)
# one response to each of the first B test images
one_each = [int((test.match == i).nonzero()[0, 0]) for i in range(B)]


def on_the_batch(model):
    """The batch's B x B cosine similarities, and the loss of eq. 1 on them."""
    image_emb = model.encode_images(test.images[:B])  # [B, d], unit length
    response_emb = model.encode_responses(test.responses[one_each])  # [B, d]
    similarity = image_emb @ response_emb.T  # s_ij = cos(f(x_i), g(y_j))
    loss = contrastive_loss(image_emb, response_emb, model.logit_scale)
    matched = similarity.diagonal().mean().item()
    others = (similarity.sum().item() - B * matched) / (B * B - B)
    print(f"mean cosine: matched pairs {matched:.3f}, other pairs {others:.3f}")
    print(f"loss {loss.item():.3f}; log B = {math.log(B):.3f}")
    return similarity


ax = plots.plot_similarity(on_the_batch(model), f"before training: {B} test pairs")

# %% [markdown]
# ## Training
#
# `vna.fit` runs Adam on mini-batches of pairs with the contrastive loss of eq. 1, for
# `cfg.epochs` epochs, the pairs reshuffled each epoch by the seed.

# %%
history = vna.fit(model, train, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                  seed=cfg.seed, device=cfg.device, progress=False)
print(f"learned temperature: {model.temperature:.4f}")
ax = plots.plot_history(history, chapter.label, "vna")

# %% [markdown]
# The same batch after training (test pairs, held out from training): compare the matched pairs'
# mean cosine with the others', and the loss with its value before training.

# %%
ax = plots.plot_similarity(on_the_batch(model), f"after training: the same {B} pairs")

# %% [markdown]
# ## The shared space
#
# Every test image and every test response is a point in the same $d$-dimensional space. Its first two
# principal components (of all the test embeddings together) show a few images (squares) with their
# responses (dots), each response joined to the image that evoked it: the shorter the lines, the
# closer the pairs. Two of $d$ dimensions keep only part of the distances the score uses.

# %%
image_emb = model.encode_images(test.images)  # [test images, d]
response_emb = model.encode_responses(test.responses)  # [test responses, d]
points = torch.cat([image_emb, response_emb]).cpu()
points = points - points.mean(0)
_, _, components = torch.linalg.svd(points, full_matrices=False)
xy = points @ components[:2].T  # the first two principal components
images_xy, responses_xy = xy[: test.n_images], xy[test.n_images :]
few = test.match < 10  # the responses to the first 10 test images
title = f"VNA on {chapter.label}: 10 test images and their responses"
ax = plots.plot_shared_space(images_xy[:10], responses_xy[few], test.match[few], title)

# %% [markdown]
# ## Discriminative encoding and decoding
#
# `model.score` compares every test image with every test response: the score matrix $S$, cosine
# similarities. Rows are test images, columns their test responses grouped by image. Each image's own
# responses form the block on the diagonal; a model that aligns the two modalities makes that block
# brighter than the rest of its row (encoding) and of its columns (decoding).

# %%
S = model.score(test.images, test.responses)  # [test images, test responses]
ax = plots.plot_score_matrix(S, test.match, chapter.label, "vna")

# %% [markdown]
# `vna.evaluate` computes the score matrix once and reads it both ways: the AUC per instance
# averaged over instances, and top-1 / top-5 accuracy. Chance is an AUC of 0.5. `chapter.save`
# writes the run's record to the untracked runs folder (not in quick mode); with more than one
# seed, `chapter.more_seeds` runs the same steps for each further seed through
# `vna.study.pipeline.run`, one row each.

# %%
metrics = vna.evaluate(model, test, cfg.n_distractors, cfg.seed, device=cfg.device)
chapter.save(model, history, parts)
chapter.metrics_table(metrics, chapter.more_seeds())

# %% [markdown]
# ### ROC curves
#
# For each instance the true match is the positive and the distractors are the negatives; averaging the
# instances' ROC curves (`vna.metrics.roc_curve`) gives the curves below, whose areas are exactly the
# AUCs reported above (`plot_roc` checks that).

# %%
from vna.metrics import TASKS, roc_curve, top_k_curve

curves = {t: roc_curve(S, test.match, t, cfg.n_distractors, cfg.seed) for t in TASKS}
ax = plots.plot_roc(curves, chapter.label, "vna", metrics=metrics)

# %% [markdown]
# ### Example candidate sets
#
# Decoding: given a response, the test images ranked by score (the true image framed in green).
# Encoding: given an image, the candidate responses ranked by score; each row is one response (neurons
# along the x axis), the true one marked.

# %%
queries = list(range(0, test.n_responses, max(1, test.n_responses // 4)))[:4]
axes = plots.plot_decoding_candidates(test, S, queries, chapter.label, "vna")

# %%
axes = plots.plot_encoding_candidates(test, S, queries[:3], chapter.label, "vna")

# %% [markdown]
# ### Top-$k$ accuracy
#
# The fraction of instances whose true match is among the $k$ best-scored candidates, with the chance
# level $k / (K + 1)$ for $K$ distractors.

# %%
import pandas as pd

topk = {t: top_k_curve(S, test.match, t, n_distractors=cfg.n_distractors, seed=cfg.seed)
        for t in TASKS}
ax = plots.plot_topk(topk, chapter.label, "vna")
pd.DataFrame({t: pd.Series(c.accuracy, index=c.k) for t, c in topk.items()}).round(3)

# %% [markdown]
# ## Summary

# %%
chapter.summary(metrics)
