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

# %% tags=["hide-input"]
# Make `vna` importable: inside the repository use it from there; elsewhere it must be pip-installed.
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets: plain bars
try:
    import vna
except ImportError:
    for _root in (Path.cwd(), Path.cwd().parent):
        if (_root / "vna" / "__init__.py").is_file():
            sys.path.insert(0, str(_root))
            break
    try:
        import vna
    except ImportError:
        raise ImportError(
            "The `vna` package is not importable. Install it from your copy of the repository, e.g. "
            "`pip install -e /path/to/your/clone` (on Colab: `!git clone <URL of your copy of the repository> vna "
            "&& pip install -e vna`), restart the kernel and run this notebook again."
        ) from None
print("vna", vna.__version__, "from", Path(vna.__file__).parent)

# %% tags=["parameters"]
dataset = "auto"  # "auto": the real cowley2023-v4 when it is in the data folder, else "simulated"
split = "images"  # "images" (test images never seen in training) or "trials"
responses = "trials"  # "trials" (one pair per trial) or "mean" (one pair per image)
seeds = [0]  # the first seed is examined in detail; further seeds only add rows to the metrics table
epochs = 15  # fewer than the result grid (RunConfig default), so that the whole book builds in minutes
batch_size = 64
lr = 1e-3
latent_dim = 128
n_distractors = None  # None: every other test image / response is a distractor
device = "auto"  # "auto": CUDA when available, else CPU
data_dir = None  # None: $VNA_DATA_DIR or ~/.cache/vna
results_dir = None  # None: results/ of the repository; each run adds one record there
quick = False  # True: a smoke test (1 epoch, small simulated set); nothing is saved

# %%
import os

import pandas as pd
from IPython.display import Markdown, display

from vna import plots
from vna.cli import default_results_dir, quick_config, resolve_dataset
from vna.config import RunConfig
from vna.pipeline import prepare, run
from vna.results import record_from_output, save_record

METHOD = "vna"
if data_dir:
    os.environ["VNA_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
dataset_name, why = resolve_dataset(dataset)
results_path = Path(results_dir) if results_dir else default_results_dir()
configs = []
for seed in seeds:
    cfg = RunConfig(dataset=dataset_name, method=METHOD, split=split, responses=responses, seed=int(seed),
                    epochs=int(epochs), batch_size=int(batch_size), lr=float(lr), latent_dim=int(latent_dim),
                    n_distractors=n_distractors, device=device)
    configs.append(quick_config(cfg) if quick else cfg)
cfg = configs[0]
label = plots.dataset_label(dataset_name)
display(Markdown(f"**Data:** {why}.  \n**Compute:** {plots.compute_note(device)}.  \n**Mode:** " + (
    "QUICK smoke test: 1 epoch, small data; the numbers below are not results." if quick else
    f"{cfg.epochs} epochs (the result grid uses {RunConfig().epochs}); seeds {list(seeds)}.")))
pd.Series(cfg.to_dict(), name="RunConfig").to_frame()

# %% [markdown]
# ## Data
#
# `vna.pipeline.prepare` loads the dataset and turns it into training and test pairs (see
# [the data chapter](01_data.ipynb)). Every test response is one instance of each task.

# %%
train, test = prepare(cfg)
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
# Adam on mini-batches of pairs, the contrastive loss of eq. 1. `vna.pipeline.run` trains and then
# evaluates on the test pairs.

# %%
outputs = []
for k, c in enumerate(configs):
    out = run(c, data=(train, test) if k == 0 else None, progress=False)
    outputs.append(out)
    if not quick:
        record = record_from_output(c, out, source="notebook")
        path = save_record(record, results_path, overwrite=True)
        print(f"seed {c.seed}: {out.seconds:.0f} s on {out.device}; record -> {path}")
    else:
        print(f"seed {c.seed}: {out.seconds:.0f} s on {out.device} (quick: not saved)")
out = outputs[0]
print(f"learned temperature: {out.model.temperature:.4f}")
fig = plots.plot_history(out.history, label, METHOD)

# %% [markdown]
# ## Discriminative encoding and decoding
#
# `vna.evaluate` computes the score matrix once and reads it both ways: the AUC per instance averaged over
# instances, and top-1 / top-5 accuracy. Chance is an AUC of 0.5.

# %%
metrics = pd.DataFrame([{"seed": c.seed, **o.metrics} for c, o in zip(configs, outputs)]).set_index("seed")
metrics.round(4)

# %% [markdown]
# ### The score matrix
#
# Rows are test images, columns their test responses grouped by image. Each image's own responses form
# the block on the diagonal; a model that aligns the two modalities makes that block brighter than the rest
# of its row (encoding) and of its columns (decoding).

# %%
fig = plots.plot_score_matrix(out.scores, test.match, label, METHOD)

# %% [markdown]
# ### ROC curves
#
# For each instance the true match is the positive and the distractors are the negatives; averaging the
# instances' ROC curves gives the curves below, whose areas are exactly the AUCs reported above (the cell
# checks that).

# %%
fig, aucs = plots.plot_roc(out.scores, test.match, label, METHOD, cfg.n_distractors, cfg.seed, out.metrics)

# %% [markdown]
# ### Example candidate sets
#
# Decoding: given a response, the test images ranked by score (the true image framed in green).
# Encoding: given an image, the candidate responses ranked by score; each row is one response (neurons
# along the x axis), the true one marked.

# %%
queries = list(range(0, test.n_responses, max(1, test.n_responses // 4)))[:4]
fig = plots.plot_decoding_candidates(test, out.scores, queries, label, METHOD)

# %%
fig = plots.plot_encoding_candidates(test, out.scores, queries[:3], label, METHOD)

# %% [markdown]
# ### Top-$k$ accuracy
#
# The fraction of instances whose true match is among the $k$ best-scored candidates, with the chance
# level $k / (K + 1)$ for $K$ distractors.

# %%
fig, topk = plots.plot_topk(out.scores, test.match, label, METHOD, n_distractors=cfg.n_distractors, seed=cfg.seed)
topk.pivot(index="k", columns="task", values="accuracy").round(3)

# %% [markdown]
# ## Summary

# %%
m = out.metrics
display(Markdown(
    f"On {label}, VNA trained for {cfg.epochs} epoch(s) (seed {cfg.seed}) reaches an encoding AUC of "
    f"**{m['encoding_auc']:.4f}** and a decoding AUC of **{m['decoding_auc']:.4f}** (average "
    f"{m['mean_auc']:.4f}); its true match is ranked first for {100 * m['encoding_top1']:.1f} % of the "
    f"encoding and {100 * m['decoding_top1']:.1f} % of the decoding instances. "
    + ("These are quick smoke-test numbers, not results. " if quick else "")
    + "The [results chapter](05_results.ipynb) compares all three methods over several seeds with the result "
    "grid's settings."
))
