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
# # Results
#
# Every available dataset × the three methods × discriminative encoding, decoding and their average, as
# mean ± 95 % t-interval over seeds, beside the paper's Table 1. The numbers come from the result records
# in `results/` that `python -m vna reproduce` writes (one JSON file per run, see
# [Reproducing](../reproducing.md)); this chapter only reads them and never trains, except in quick mode
# with no record at all, where it runs a one-epoch smoke-test grid and says so.
#
# :::{important}
# Our datasets are **stand-ins** for the paper's (see [Datasets](../datasets.md)): `allen-2p-ns118` shows
# mice the same 118 images as the paper's *Mouse-movie* set but is a different recording, `cowley2023-v4`
# is macaque V4 under synthetic images like *Macaque-synthetic* but not the same data, nothing stands in for
# *Macaque-face*, and `simulated` is not a recording. The paper's values are shown for orientation, not
# as the same measurement.
# :::

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
dataset = "auto"  # "auto": every dataset with records; a name restricts the table to that dataset
split = None  # only for the quick smoke-test grid; None: each dataset's grid default
responses = "trials"  # only for the quick smoke-test grid
seeds = [0, 1, 2]  # only for the quick smoke-test grid
epochs = 20  # not used: the records say how long each run trained
batch_size = 64  # only for the quick smoke-test grid
lr = 1e-3  # only for the quick smoke-test grid
latent_dim = 128  # only for the quick smoke-test grid
n_distractors = None  # only for the quick smoke-test grid
device = "auto"  # only for the quick smoke-test grid
data_dir = None  # None: $VNA_DATA_DIR or ~/.cache/vna
results_dir = None  # None: results/ of the repository
quick = False  # True, with nothing recorded: a 1-epoch smoke-test grid on the simulated set, not saved;
# False, with nothing recorded: an error saying how to produce the records

# %% tags=["hide-input"]
import json
import os
import tempfile

import pandas as pd
from IPython.display import HTML, display

from vna import plots
from vna.cli import default_results_dir, grid_configs
from vna.results import (
    PAPER_STAND_INS, PAPER_TABLE1, format_table, load_records, main_table, paper_average_check, run_or_load,
    summarize,
)

if data_dir:
    os.environ["VNA_DATA_DIR"] = str(Path(data_dir).expanduser().resolve())
results_path = Path(results_dir) if results_dir else default_results_dir()
records = load_records(results_path) if results_path.is_dir() else load_records(tempfile.mkdtemp())
if dataset != "auto":
    records = records[records["dataset"] == dataset]
trained_here = records.empty
if trained_here and not quick:
    raise FileNotFoundError(
        f"no result records in {results_path}. Run the grid first, e.g. `python -m vna reproduce` (or "
        "`make reproduce`; hours on a CPU, minutes on a GPU), point `results_dir` at a folder of records, or run "
        "this notebook with quick=True for a smoke test."
    )
if trained_here:
    names = [dataset] if dataset != "auto" else ["simulated"]
    overrides = {k: v for k, v in dict(split=split, responses=responses, batch_size=batch_size, lr=lr,
                                          latent_dim=latent_dim, n_distractors=n_distractors).items() if v is not None}
    configs = grid_configs(names, seeds=seeds, quick=True, device=device, **overrides)
    target = Path(tempfile.mkdtemp(prefix="vna-quick-"))
    print(f"no records in {results_path}: running {len(configs)} runs into {target}")
    for c in configs:
        rec, _ = run_or_load(c, target, progress=False, source="05_results")
        print(f"  {c.dataset} {c.method} seed {c.seed}: {rec['metrics']['mean_auc']:.4f} ({rec['seconds']:.0f} s)")
    records = load_records(target)
    results_path = target
what = ("<b>Trained here:</b> no result records were found, so this chapter ran a QUICK smoke-test grid "
        "(one epoch; these are not results)."
        if trained_here else "<b>Read from records:</b> nothing was trained to render this chapter.")
display(HTML(
    f'<p id="results-source" data-trained="{str(trained_here).lower()}" data-path="{results_path}">{what} '
    f"{len(records)} records from <code>{results_path.name}/</code>, {records['dataset'].nunique()} dataset(s), "
    f"written {str(records['created'].min())[:10]} to {str(records['created'].max())[:10]} on "
    f"{', '.join(sorted(set(records['device'].astype(str))))}.</p>"
))

# %% [markdown]
# ## The result table
#
# One row per dataset × method: the mean over seeds ± the half-width of the 95 % t-interval (none with a
# single seed). "Average" is the mean of encoding and decoding AUC. The last columns show the paper's
# Table 1 for the dataset ours stands in for.

# %%
summary = summarize(records)
table = main_table(summary)
shown = format_table(table)
shown["dataset"] = [plots.dataset_label(d) for d in table["dataset"]]
display(HTML(shown.to_html(index=False, table_id="results-table", classes="vna-results", border=0, justify="left")))

# %%
fig = plots.plot_results(table, PAPER_TABLE1, PAPER_STAND_INS)

# %% [markdown]
# ## The paper's Table 1
#
# As printed, with the mean of the encoding and decoding columns beside the printed "average". Only one
# of the nine printed averages equals that mean; see [Limitations](../limitations.md).

# %%
check = paper_average_check()
check["method"] = check["method"].map(plots.METHOD_LABELS)
check[["paper_dataset", "method", "encoding_auc", "decoding_auc", "average_auc", "mean_of_columns",
       "difference"]].rename(columns={"paper_dataset": "dataset", "average_auc": "printed average"})

# %% [markdown]
# ## What ran
#
# Every configuration found (runs that differ only by seed form one group); the table above shows, per
# dataset and method, the group with the most seeds. Wall time is per run.

# %%
detail = summary.copy()
detail["dataset"] = [plots.dataset_label(d) for d in detail["dataset"]]
wall = records.groupby("group")["seconds"].mean().rename("mean wall time (s)")
detail = detail.join(wall, on="group")
cols = ["dataset", "method", "split", "responses", "epochs", "n_seeds", "seeds", "encoding_auc", "decoding_auc",
        "mean_auc", "mean wall time (s)"]
detail[cols].round(4)

# %%
versions = records["path"].map(lambda p: json.loads(Path(p).read_text())["versions"])
pd.DataFrame(list(versions)).drop_duplicates().reset_index(drop=True)
