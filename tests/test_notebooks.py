"""The notebooks (jupytext percent format) and scripts/run_notebooks.py."""
from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import jupytext
import nbformat
import pytest

from vna.config import RunConfig

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))
EXPECTED = ["01_data", "02_direct_encoding", "03_direct_decoding", "04_vna", "05_results"]
REQUIRED = ["dataset", "split", "responses", "seeds", "epochs", "batch_size", "lr", "latent_dim", "n_distractors",
            "device", "data_dir", "results_dir", "quick"]
NOT_RUNCONFIG = {"seeds": "seed", "data_dir": None, "results_dir": None, "quick": None}
FIELDS = {f.name for f in dataclasses.fields(RunConfig)}


def _parameters(nb) -> tuple[int, dict]:
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [k for k, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"expected one cell tagged 'parameters', found {len(tagged)}"
    values: dict = {}
    exec(code[tagged[0]].source, {}, values)  # noqa: S102 - our own notebook's literals
    return tagged[0], values


def test_the_five_notebooks_exist_and_no_ipynb_is_committed():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED
    assert not list((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_maps_onto_runconfig(path):
    nb = jupytext.read(path)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    index, params = _parameters(nb)
    assert index == 1, "the parameters cell must follow the import cell directly"
    assert list(params) == REQUIRED, f"parameters are {list(params)}"
    for name in params:
        assert name in FIELDS or name in NOT_RUNCONFIG, f"{name} is neither a RunConfig field nor known"
    # the values build a valid RunConfig, one field per parameter
    kwargs = {k: v for k, v in params.items() if k in FIELDS and v is not None}
    kwargs["dataset"] = "simulated" if params["dataset"] == "auto" else params["dataset"]
    cfg = RunConfig(seed=params["seeds"][0], **kwargs)
    assert cfg.epochs == params["epochs"] and cfg.lr == params["lr"] and cfg.latent_dim == params["latent_dim"]
    assert isinstance(params["seeds"], list) and all(isinstance(s, int) for s in params["seeds"])
    assert params["quick"] is False and params["device"] == "auto"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_cell_makes_vna_importable_without_inventing_a_url(path):
    nb = jupytext.read(path)
    first = next(c for c in nb.cells if c.cell_type == "code").source
    assert "import vna" in first and "sys.path.insert" in first and "pip install" in first
    assert "github.com" not in first  # no made-up repository address
    ast.parse(first)


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem in EXPECTED[1:4]], ids=lambda p: p.stem)
def test_method_notebooks_build_runconfig_from_every_parameter(path):
    src = path.read_text()
    call = src[src.index("cfg = RunConfig("): src.index("configs.append")]
    for name in ("dataset", "split", "responses", "seed", "epochs", "batch_size", "lr", "latent_dim",
                 "n_distractors", "device"):
        assert f"{name}=" in call, f"{path.name}: RunConfig(...) does not set {name}"
    for plot in ("plot_history", "plot_score_matrix", "plot_roc", "plot_decoding_candidates",
                 "plot_encoding_candidates", "plot_topk"):
        assert f"plots.{plot}(" in src, f"{path.name} lacks {plot}"


# ------------------------------------------------------------------------------------- run_notebooks
def _write(folder: Path, name: str, body: str) -> Path:
    text = textwrap.dedent('''\
        # ---
        # jupyter:
        #   kernelspec:
        #     display_name: Python 3
        #     language: python
        #     name: python3
        # ---

        # %%
        import sys

        # %% tags=["parameters"]
        value = 1
        quick = False

        # %%
        ''') + textwrap.dedent(body)
    path = folder / f"{name}.py"
    path.write_text(text)
    return path


def _run(args, tmp_path):
    return subprocess.run([sys.executable, str(REPO / "scripts" / "run_notebooks.py"), *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)


def test_run_notebooks_injects_parameters_and_writes_atomically(tmp_path):
    src, out = tmp_path / "nbs", tmp_path / "out"
    src.mkdir()
    _write(src, "01_ok", "print('value is', value * 2, 'quick', quick)\n")
    res = _run(["--source", str(src), "--out", str(out), "--quick", "-p", "value", "21"], tmp_path)
    assert res.returncode == 0, res.stderr + res.stdout
    nb = nbformat.read(out / "01_ok.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "value is 42 quick True" in text
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert sorted(p.name for p in out.iterdir()) == ["01_ok.ipynb"]  # no temporary file left


def test_run_notebooks_fails_loudly_naming_notebook_and_cell(tmp_path):
    src, out = tmp_path / "nbs", tmp_path / "out"
    src.mkdir()
    _write(src, "01_bad", "raise ValueError('boom in the third cell')\n")
    (out).mkdir()
    (out / "01_bad.ipynb").write_text("previous good version")
    res = _run(["--source", str(src), "--out", str(out), "--failed-dir", str(tmp_path / "failed")], tmp_path)
    assert res.returncode != 0
    msg = res.stderr + res.stdout
    assert (tmp_path / "failed" / "01_bad.ipynb").is_file()  # kept for inspection
    assert "01_bad.py" in msg and "cell 2" in msg and "boom in the third cell" in msg
    assert (out / "01_bad.ipynb").read_text() == "previous good version"  # not replaced by the failed run


def test_run_notebooks_rejects_unknown_parameter(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    _write(src, "01_ok", "print(value)\n")
    res = _run(["--source", str(src), "--out", str(tmp_path / "out"), "-p", "nope", "1"], tmp_path)
    assert res.returncode != 0 and "unknown parameter" in res.stderr + res.stdout
