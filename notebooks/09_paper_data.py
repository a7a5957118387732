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
# # Table 1 on the paper's data
#
# The other chapters run on stand-ins that fit on a laptop. This one is for the paper's own recordings:
# Mouse-movie (Allen Brain Observatory Neuropixels, DANDI:000021), Macaque-synthetic (Majaj, Hong et al.
# 2015 from Brain-Score's storage) and Macaque-face (Chang et al. 2021, from the authors), preprocessed as
# Huang et al. (2023) did (the loaders are described in [](../paper_datasets.md)). The **paper grid** runs
# each dataset × every protocol it supports × the three methods × five seeds, and this chapter shows its
# records beside the paper's Table 1 -- when a results folder holds them. Until then it shows what the
# grid needs (the preflight below) and how to run it.

# %% tags=["remove-cell"]
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm without ipywidgets: plain bars
import vna  # not importable? `pip install -e <your clone of the repository>` (on Colab the first cell does it)

import contextlib
import tempfile
from pathlib import Path

from IPython.display import Markdown, display

from vna.methods import METHODS
from vna.study import paper
from vna.study.store import runs_dir
from vna.study.runner import run_grid

# %% tags=["parameters"]
results_dir = None  # the paper grid's records; None: the runs folder (_build/runs)
seeds = [0, 1, 2, 3, 4]  # the seeds to show (the grid runs five)
methods = ["vna", "direct_encoder", "direct_decoder"]  # the paper's three methods
quick = False  # smoke test: format-true fixtures on 127.0.0.1, not the real files
run_quick = True  # quick, no records: run the quick path here (1 seed, 1 method)

# %% [markdown]
# ## What the grid needs (the preflight)
#
# `python -m vna datasets --plan paper` prints this before any data byte is fetched: every file, its size
# (from DANDI's asset metadata or an HTTP HEAD; from vna's session table when DANDI cannot be reached),
# where it goes, whether it is cached, the total disk and the expected peak memory.
# `python -m vna reproduce --grid paper` prints it too, and refuses to start when the data folder's disk
# has less room than the files still to download.

# %%
with paper.quick_sources() if quick else contextlib.nullcontext():
    preflight = paper.plan(quick=quick)
    note = "QUICK MODE: the format-true fixtures, not the real files\n" if quick else ""
    print(note + paper.format_plan(preflight))

# %% [markdown]
# ## How to run it
#
# The grid trains 3 methods × 5 seeds on every protocol of each dataset; the downloads are about the
# total above (most of it the 32 Allen sessions). Downloads resume where they stopped (HTTP Range), show a
# bar per file, retry with backoff, and are verified (sha256 from DANDI, sha1 from Brain-Score) before
# they take their final name.
#
# * **Colab with a GPU** (Runtime → change runtime type → GPU): this chapter's first cell installs vna and keeps
#   Colab's torch; then, in a cell, the `paper` extra's packages and the grid:
#   `!pip install pynwb hdmf h5py remfile xarray h5netcdf` then
#   `!python -m vna reproduce --grid paper --device cuda --data-dir /content/data`.
# * **A cluster** with Slurm: `python -m vna reproduce --grid paper --executor slurm --device cuda --slurm-gpus 1`
#   (one job per training; finished runs are skipped, so a rerun continues).
# * **Macaque-face**: the recordings are available on request from Chang et al.; put them in the folder named
#   in the preflight (layout: `vna.data.paper.chang2021`) or set `VNA_CHANG2021_DIR`. Without them the grid
#   runs the other two datasets and reports Macaque-face as "needs the authors' files".
#
# Then `python -m vna report --grid paper --results-dir <folder>` prints the tables, and this chapter,
# run with `results_dir=<folder>`, shows them below: one row per dataset × method × protocol with the mean
# ± 95 % interval over seeds, and the paper's encoding / decoding / average AUC beside it.

# %%
folder = Path(results_dir) if results_dir else runs_dir()
table = None
if folder.is_dir():
    table = paper.table1(folder, quick=quick, seeds=seeds, methods=methods)
have = table is not None and "encoding AUC" in table
have = have and bool(table["encoding AUC"].notna().any())
if not have and quick and run_quick:  # CI: the whole path on the fixtures
    folder = Path(tempfile.mkdtemp(prefix="vna-paper-chapter-"))
    with paper.quick_sources():
        grid = paper.paper_grid(quick=True, seeds=seeds[:1], methods=methods[:1])
        configs = [c for c in grid if c.split == "images"]
        run_grid(configs, folder, progress=False, log=lambda text: None)
    table = paper.table1(folder, quick=True, seeds=seeds[:1], methods=methods[:1])
    have = True
if have:
    note = ("**Quick mode: made-up fixture data, 2 epochs -- these numbers say "
            "nothing about the paper.**\n\n" if quick else "")
    display(Markdown(note + table.astype(object).fillna("").to_markdown(index=False)))
else:
    display(Markdown(f"No records of the paper grid in `{folder.name}` yet: run it as "
                     "above, then rerun this chapter with `results_dir` set to the "
                     "folder the records went to."))
