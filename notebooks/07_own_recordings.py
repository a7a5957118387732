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
# # Your own recordings
#
# The pipeline of this book takes any recording of images and neural responses, not only the datasets it
# names. This chapter shows how: the folder a recording goes into, the checks to make *before* training
# (are the images on the right scale, is every response next to its image, are the trials consistent),
# and the three methods run exactly as the reproduction study runs them, ending in the same result table.
#
# It runs here on a real recording that `vna` has never seen as a folder: region 2 of the mouse V1 set of
# {cite:t}`antolik2016model` (50 natural images, 8 trials each, 55 neurons), exported with
# `vna.data.to_folder` and read back with `vna.data.from_folder`, exactly as a folder of yours would be
# read. To use your own, set `folder` in the parameters cell below, e.g.
# `python scripts/run_notebooks.py --only 07_own_recordings -p folder /path/to/my_recording`, or run the
# command shown [below](own-command).

# %% tags=["remove-cell"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets: plain bars
import vna  # not importable? `pip install -e <your clone of the repository>` (on Colab the first cell does it)

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown, display

from vna.chapters import plots
from vna.data import from_arrays, from_folder, load, prepare_images, split_half_reliability, to_folder
from vna.data.user import folder_hash
from vna.study.grids import check_seeds, folder_grid, protocols_for
from vna.chapters.notebook import load_or_simulated, show_path
from vna.study.pipeline import prepare, run
from vna.names import protocol_label
from vna.study.store import load_records, runs_dir
from vna.study.tables import format_table, select_groups, summarize
from vna.study.runner import run_grid

# %% tags=["parameters"]
folder = None  # your recording folder (layout below); None: export `dataset` into the runs folder and use that
dataset = "antolik2016-v1"  # only when folder is None: the shipped dataset exported as the example (region 2)
split = None  # None: every protocol the recording supports (as `reproduce --folder`); or "images", "trials", "none"
responses = None  # None: as the study (single trials when every image has repeats, else means); or "trials", "mean"
seeds = [0, 1, 2]  # one seed fixes the split, the initialisation and the batch order: runs are paired over methods
epochs = 50  # at most: every run stops early on a validation part of its training data, as in the study
batch_size = 64
lr = 1e-3
latent_dim = 128
n_distractors = None  # None: every other test image / response is a distractor
device = "auto"  # "auto": CUDA when available, else CPU
data_dir = None  # None: $VNA_DATA_DIR or ~/.cache/vna (only used to export the example dataset)
results_dir = None  # None: the untracked runs folder (_build/runs), never the published results/
quick = False  # True: a smoke test (2 epochs, trial-mean training, the first seed only); its numbers are not results

# %%
from vna.chapters.notebook import compute_note

#: the shipped dataset's options for the example folder (region 2: the smaller of the two Antolik regions)
EXAMPLE_OPTIONS = {"antolik2016-v1": {"region": 2}}
#: the simulated cortex that stands in when the example is neither cached nor downloadable (region 2's size)
SIMULATED_EXAMPLE = {"n_images": 50, "n_trials": 8, "n_neurons": 55}

seeds = check_seeds(seeds)  # papermill's seeds="12" is refused, not read as [1, 2]
if data_dir:
    os.environ["VNA_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
if folder is None:
    options = EXAMPLE_OPTIONS.get(dataset, {})
    example, fallback = load_or_simulated(dataset, SIMULATED_EXAMPLE, **options)
    example_name = "simulated" if fallback else dataset + "".join(f"-{k}{v}" for k, v in options.items())
    folder_path = runs_dir() / "recordings" / example_name
    to_folder(example, folder_path, replace=True)  # the same bytes every time: same hash
    where = (f"`folder` is None, so the shipped dataset `{dataset}` {options or ''} was exported with "
             f"`vna.data.to_folder` to `{show_path(folder_path)}`; everything below reads that folder as it "
             "would read yours") if fallback is None else (
        f"`folder` is None and {fallback}: a SIMULATED recording ({SIMULATED_EXAMPLE['n_images']} images x "
        f"{SIMULATED_EXAMPLE['n_trials']} trials x {SIMULATED_EXAMPLE['n_neurons']} neurons) was exported with "
        f"`vna.data.to_folder` to `{show_path(folder_path)}` instead; everything below reads that folder as it "
        "would read yours, and its numbers say nothing about a real cortex")
else:
    folder_path = Path(folder).expanduser().resolve()
    where = f"your folder `{show_path(folder_path)}`"
rec = from_folder(folder_path)
content = folder_hash(folder_path)
label = f"{folder_path.name} (content {content})"
display(Markdown(f"**Recording:** {where}.  \n**Content hash:** `{content}` (records of this recording are "
                 f"keyed by it, wherever the folder lies).  \n**Compute:** {compute_note(device)}.  \n"
                 "**Mode:** " + ("QUICK smoke test: 2 epochs, trial-mean training, one seed; the numbers below "
                                 "are not results." if quick else
                                 f"the study's training (at most {epochs} epochs, early stopping); seeds "
                                 f"{list(seeds)}.")))
print(rec)

# %% [markdown]
# ## The folder
#
# A recording folder holds the images, one response array and, optionally, three small tables:
#
# | file | what it holds |
# |---|---|
# | `images/` | one image file per image (png, jpg, bmp, tif), all one size; the file name without suffix is the image id |
# | *or* `images.npy` | `[n_images, H, W]` (grey) or `[n_images, H, W, 3]` (colour): `uint8` 0–255, or float in [0, 1] |
# | `responses.npy` | `[n_images, n_trials, n_neurons]`, NaN for a trial an image did not get (all neurons of it); `[n_images, n_neurons]` is read as trial means |
# | `image_ids.csv` | optional: a column `image_id`, one row per image **in the order of the rows of `responses.npy`** |
# | `neurons.csv` | optional: one row per neuron, columns `id` and `area` (and any others) |
# | `meta.json` | optional: provenance, e.g. `units`, `source`, `citation`, `license` |
#
# Row $i$ of `responses.npy` belongs to the $i$-th image: the $i$-th row of `images.npy`, or of
# `image_ids.csv`, or else the $i$-th file of `images/` in *natural* order, with numbers read as numbers
# (`image2` before `image10`). From arrays in memory, `vna.data.from_arrays(images, responses, neurons,
# image_ids, meta)` makes the same `Recording`, and `vna.data.to_folder(recording, path)` writes it in this
# layout. This chapter's folder:

# %%
rows = []
for p in sorted(folder_path.iterdir()):
    if p.name.startswith("."):
        continue
    if p.is_dir():
        files = [f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")]
        rows.append({"file": p.name + "/", "bytes": sum(f.stat().st_size for f in files),
                     "holds": f"{len(files)} files"})
    elif p.suffix == ".npy":
        a = np.load(p, mmap_mode="r")
        rows.append({"file": p.name, "bytes": p.stat().st_size, "holds": f"{a.dtype} {list(a.shape)}"})
    elif p.suffix == ".csv":
        t = pd.read_csv(p)
        rows.append({"file": p.name, "bytes": p.stat().st_size,
                     "holds": f"{len(t)} rows, columns {', '.join(t.columns)}"})
    else:
        rows.append({"file": p.name, "bytes": p.stat().st_size, "holds": ""})
display(pd.DataFrame(rows).set_index("file"))
rec.neurons.head(3)

# %% [markdown]
# ## Check before training
#
# Two mistakes give wrong numbers without any error from training: **responses next to the wrong images**
# (a different order of the images than of the response rows) and **images on the wrong scale** (the
# network sees near-black or saturated frames). Either makes every method fall towards chance (AUC 0.5),
# which looks like a result. The loaders refuse what they can detect (see
# [what they refuse](own-refusals)); what only you can check is whether the images look like the stimuli you
# showed, in the order you recorded them.
#
# The figure shows a few images **as the network sees them** (grey, 64 × 64, on the fixed scale 0 = black,
# 1 = white, not stretched per image, so a set that is too dark looks too dark here) above the population's
# mean response to each (z-scored per neuron over images). Check that the images are upright and
# recognisable, that their ids are the ones you expect, and that the responses differ between images.

# %%
shown = np.linspace(0, rec.n_images - 1, 6).astype(int)
seen = prepare_images(rec.images[shown], image_size=64, grey=True).numpy()[:, 0]
mean = rec.mean_responses()
z = (mean - mean.mean(0)) / np.where(mean.std(0) > 0, mean.std(0), 1)
fig, axes = plt.subplots(2, len(shown), figsize=(12, 4.2), gridspec_kw={"height_ratios": [1.4, 1]}, sharey="row")
for k, i in enumerate(shown):
    axes[0, k].imshow(seen[k], cmap="gray", vmin=0, vmax=1)
    axes[0, k].set_title(f"id {rec.image_ids[i]} (row {i})", fontsize=8)
    axes[0, k].axis("off")
    axes[1, k].bar(np.arange(rec.n_neurons), z[i], width=1.0, color="tab:green")
    axes[1, k].axhline(0, color="0.5", lw=0.5)
    axes[1, k].set_xlabel("neuron", fontsize=8)
axes[1, 0].set_ylabel("mean response (z)", fontsize=8)
fig.suptitle(f"{label}: images as the network sees them, and the mean response to each", fontsize=10)
fig.tight_layout()

x = np.asarray(rec.images, dtype=np.float64)
checks = pd.Series({
    "images": f"{rec.n_images} x {' x '.join(map(str, rec.images.shape[1:]))}, {rec.images.dtype}, values "
              f"{x.min():.4g} .. {x.max():.4g}",
    "as the network sees them": f"mean {seen.mean():.3f}, range {seen.min():.3f} .. {seen.max():.3f} (of 0 .. 1)",
    "responses": f"{rec.n_images} images x {rec.n_trials} trial slots x {rec.n_neurons} neurons",
    "recorded trials per image": f"{int(rec.trial_counts.min())} .. {int(rec.trial_counts.max())}",
    "response values": f"{np.nanmin(rec.responses):.4g} .. {np.nanmax(rec.responses):.4g} "
                       f"({rec.meta.get('units', 'units not stated')})",
}, name="check")
checks.to_frame()

# %% [markdown]
# With repeats, each neuron's **split-half reliability** says whether its responses to an image agree from
# one half of the trials to the other (Spearman-Brown corrected; 1 = identical halves, 0 = no agreement).
# A population whose reliabilities all sit near 0 points at swapped axes (for example responses saved as
# `[images, neurons, trials]`) or at responses unrelated to the images; no method can do better than its
# neurons' reliability allows. Reliability cannot tell whether the rows are paired with the right images —
# only a model's held-out performance (the table below) can, which is why it is checked against the
# in-sample diagnostic.

# %%
if rec.n_trials >= 2 and (rec.trial_counts >= 2).all():
    reliability = split_half_reliability(rec.responses)
    fig = plots.plot_reliability(reliability, label)
    print(f"median split-half reliability {np.nanmedian(reliability):.2f}; "
          f"{int((reliability > 0.5).sum())} of {rec.n_neurons} neurons above 0.5")
else:
    print("trial means only (or an image with a single trial): no split-half reliability; the study then runs "
          "held-out images and in-sample on trial means")

# %% [markdown]
# (own-refusals)=
# ## What the loaders refuse
#
# Each of these once gave wrong results without a word; now each stops with a message that names the file
# or field and the fix. The cell below makes each mistake in a scratch folder (called `my_recording` in the
# messages) with this recording's own images and responses:

# %%
scratch = Path(tempfile.mkdtemp(prefix="vna-own-"))


def outcome(make):
    try:
        result = make()
    except (ValueError, OSError) as exc:
        return str(exc).replace(str(scratch), "my_recording")
    return result


def png_folder(name, stems, suffix=".png"):
    from PIL import Image

    root = scratch / name
    (root / "images").mkdir(parents=True)
    grey = prepare_images(rec.images[: len(stems)], image_size=32).numpy()[:, 0]
    for stem, img in zip(stems, grey):
        Image.fromarray((img * 255).round().astype(np.uint8)).save(root / "images" / f"{stem}{suffix}")
    np.save(root / "responses.npy", rec.responses[: len(stems)])
    return root


numbered = png_folder("numbered", [f"image{k}" for k in range(1, 13)])
ambiguous = png_folder("ambiguous", ["image1", "image01", "image2"])
mixed = png_folder("mixed", ["x", "y"])
(mixed / "images" / "y.png").rename(mixed / "images" / "x.jpg")
tiny = rec.images.astype(np.float64) / max(float(rec.images.max()), 1e-12) * 2.55e-4  # Antolik et al.'s own units
truncated = to_folder(rec, scratch / "truncated")
data = (truncated / "responses.npy").read_bytes()
(truncated / "responses.npy").write_bytes(data[: len(data) // 2])
traps = {
    "files image1 ... image12 (as text: image1, image10, image11, image12, image2, ...)":
        lambda: "loads in numeric order: " + ", ".join(from_folder(numbered).image_ids[:4]) + ", ..., image12",
    "image1.png beside image01.png": lambda: from_folder(ambiguous),
    "x.png beside x.jpg": lambda: from_folder(mixed),
    "float images within 0 .. 2.55e-4": lambda: from_arrays(tiny, rec.responses),
    "the same, with scale='minmax'":
        lambda: f"loads: {from_arrays(tiny, rec.responses, scale='minmax').images.max():.0f} is white",
    "16-bit images (uint16)": lambda: from_arrays(rec.images.astype(np.uint16) * 257, rec.responses),
    "a neuron id twice": lambda: from_arrays(rec.images, rec.responses,
                                             neurons=["a"] * 2 + [f"n{k}" for k in range(rec.n_neurons - 2)]),
    "a truncated responses.npy": lambda: from_folder(truncated),
    "to_folder into a folder that holds images/": lambda: to_folder(rec, numbered),
}
refusals = pd.DataFrame({"mistake": list(traps), "what vna says": [str(outcome(f)) for f in traps.values()]})
display(HTML(refusals.to_html(index=False, classes="vna-refusals", border=0, justify="left")))

# %% [markdown]
# If your images are in other units, convert the folder once and use the copy:
# `to_folder(from_folder("my_recording", scale="minmax"), "my_recording_scaled")` (or `scale=` a number
# the images are multiplied by, such as `1/65535` for 16-bit images). `to_folder` writes into a temporary
# folder and renames it into place only when every file is complete, and never overwrites a non-empty
# folder unless told to (`replace=True`).
#
# (own-command)=
# ## The three methods, as the study runs them
#
# One command runs the study's grid on a folder: every protocol the recording supports (held-out images,
# held-out trials and the in-sample diagnostic, each tested on single trials and on trial means when
# every image has repeats; otherwise held-out images and in-sample on trial means) × the three methods ×
# the seeds, one record per run, skipping runs already recorded. Held-out trials also needs two training
# trials per image beside the held-out one, for the validation part early stopping uses (usually three
# recorded trials); with two, the grid says it skips held-out trials and why, and runs the rest:
#
# ```bash
# python -m vna reproduce --folder my_recording                        # seeds 0-4, all protocols
# python -m vna reproduce --folder my_recording --quick --seeds 0      # a smoke test first
# python -m vna report --results-dir _build/runs --grid none           # the tables, from the records
# ```
#
# Records go to the untracked runs folder (`_build/runs`, or `--results-dir`) under
# `folder-<content hash>/`: moving or renaming the folder keeps its records, changing any byte of its own
# files (those of the layout above; notes or a runs folder kept beside them do not count) makes it a new
# recording. Each run is keyed by the content it read; a folder edited while its grid runs is named, and the
# runs that would read the new content are refused until the grid is rerun. In Python the same grid is
# `vna.study.grids.folder_grid(path, seeds=...)`, run by `vna.study.runner.run_grid`; this cell does that
# with the parameters above:

# %%
results_path = Path(results_dir).expanduser() if results_dir else runs_dir()
grid = folder_grid(str(folder_path), seeds=seeds[:1] if quick else seeds, quick=quick, device=device,
                   epochs=int(epochs), batch_size=int(batch_size), lr=float(lr), latent_dim=int(latent_dim),
                   n_distractors=n_distractors, log=lambda t: print(t.replace(str(folder_path), folder_path.name)))
if split is not None:
    grid = [c for c in grid if c.split == split]
if responses is not None:
    grid = list({c.key(): c for c in (c.replace(responses=responses) for c in grid)}.values())
if not grid:
    raise ValueError(f"no run left: the recording supports {protocols_for(rec)} (split, training, test "
                     f"responses), not split={split!r}")
short = lambda text: text.replace(f"folder:{folder_path}", folder_path.name)  # noqa: E731 - no machine paths
report = run_grid(grid, results_path, progress=False, source="07_own_recordings", log=lambda t: print(short(t)))
print(f"{len(grid)} runs: {report.ran} trained now, {report.already} already recorded in "
      f"{show_path(results_path)} ({report.seconds:.0f} s)")
if not report.ok:
    raise RuntimeError(f"{len(report.failed)} run(s) failed: {report.failed[0]}")

# %% [markdown]
# ## The result table
#
# One row per protocol × method: the mean over seeds ± the half-width of the 95 % t-interval, as in the
# [results chapter](05_results.ipynb). "Average" is the mean of encoding and decoding AUC (0.5 = chance).
# Held-out images is the protocol that tests generalisation to new images; the in-sample rows are scored
# on the training pairs themselves and only show that a method can fit the recording at all. With 50
# images, a held-out-images test set has 8 images, so its intervals are wide.

# %%
records = load_records(results_path)
records = records[records["key"].isin({c.key() for c in grid})].assign(dataset=label)
table, notes = select_groups(summarize(records))
shown_table = format_table(table, with_paper=False).drop(columns="dataset")
display(HTML(shown_table.to_html(index=False, table_id="own-results-table", classes="vna-results", border=0,
                                 justify="left")))
for note in notes:
    print(note)
held_trials = next((c for c in grid if c.split == "trials"), None)
if held_trials is not None:
    test = prepare(held_trials.replace(test_responses="trials"), recording=rec).test
    if test.n_responses == test.n_images:
        print(f"Held-out trials tests one trial per image here ({held_trials.test_fraction:.0%} of "
              f"{rec.n_trials} trials), so its single-trial and trial-mean rows are the same numbers.")
fig = plots.plot_results(table.assign(dataset=folder_path.name + (" (QUICK: not results)" if quick else "")))

# %% [markdown]
# ## One model up close
#
# To examine a single model (its score matrix, its ROC curves, its candidates, as in the
# [VNA chapter](04_vna.ipynb)), run one configuration on the recording in memory:
# `vna.study.pipeline.run(cfg, recording=rec)` applies the config's preprocessing (split, training and test
# responses, validation part, z-scoring, image size, colour) to the `Recording`, as the grid did, so with
# the same configuration and seed it gives the same numbers as the grid's record. (Pairs prepared
# beforehand can be passed as `run(cfg, data=...)`; a pair whose preprocessing differs from the config is
# refused, naming the field.)

# %%
cfg = next(c for c in grid if c.method == "vna" and c.split == grid[0].split)
out = run(cfg, recording=rec, progress=False)  # its record, with the model, the pairs and S in memory
recorded = records[records["key"] == cfg.key()].iloc[0]
print(f"VNA, {protocol_label(cfg.split, cfg.eval_responses)}, seed {cfg.seed}: encoding AUC "
      f"{out.metrics['paper']['encoding_auc']:.4f} (record {recorded['encoding_auc']:.4f}), decoding AUC "
      f"{out.metrics['paper']['decoding_auc']:.4f} (record {recorded['decoding_auc']:.4f})")
fig = plots.plot_score_matrix(out.scores, out.parts.test.match, label, "vna")

# %% [markdown]
# ## With your own recording
#
# 1. Put it in the layout above: from arrays, `to_folder(from_arrays(images, responses, neurons=ids,
#    image_ids=names, meta={"units": ...}), "my_recording")`; from image files, an `images/` folder beside
#    `responses.npy` (with `image_ids.csv` if the file names do not sort in the order of the response rows).
# 2. Load it once, `vna.data.from_folder("my_recording")`: it refuses what would mispair images and
#    responses or put the images on the wrong scale, naming the file and the fix.
# 3. Run this chapter with `folder` set to it, and look at the figures above before the table.
# 4. Run the full grid (`python -m vna reproduce --folder my_recording`, five seeds) and read the tables
#    with `python -m vna report --results-dir _build/runs --grid none`.
