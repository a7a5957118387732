"""The book with no data and no network (issue 25): every chapter runs in quick mode on the simulated cortex.

A new reader's machine: an empty ``$VNA_DATA_DIR`` and downloads that fail (the proxy variables, which pooch's
requests honour, point at a closed loopback port: nothing leaves the machine). ``scripts/run_notebooks.py
--quick`` must execute every chapter, and each chapter that uses a recording must say in its data note that
the simulated cortex stood in for it, and why. The chapters run from a copy of ``notebooks/`` so that the
book's own executed notebooks (book/notebooks) and timings (_build) are left alone.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
OFFLINE = "http://127.0.0.1:9"  # the discard port: nothing listens there, every connection is refused

#: what each chapter that loads a recording must say in its data note
NOTES = {
    "01_data": ["dataset 'auto' -> 'simulated'", "so this run uses SIMULATED data"],
    "04_vna": ["dataset 'auto' -> 'simulated'", "so this run uses SIMULATED data"],
    "06_analyses": ["the SIMULATED cortex stands in for", "trials: `antolik2016-v1`", "size: `cowley2023-v4`"],
    "07_own_recordings": ["antolik2016-v1 {'region': 2} is neither in the data folder", "nor downloadable (",
                          "a SIMULATED recording (50 images x 8 trials x 55 neurons)"],
}

pytestmark = pytest.mark.slow  # four chapters in quick mode: a few minutes


def _chapters() -> list[str]:
    """The chapters that load a recording."""
    return sorted(NOTES)


def _text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append(out["text"] if isinstance(out["text"], str) else "".join(out["text"]))
            for value in out.get("data", {}).values():
                parts.append(value if isinstance(value, str) else json.dumps(value))
    return "\n".join(parts)


def test_every_chapter_runs_on_the_simulated_cortex_with_no_data_and_no_network(tmp_path):
    chapters = _chapters()
    src, out, empty = tmp_path / "notebooks", tmp_path / "out", tmp_path / "data"
    src.mkdir(), empty.mkdir()
    for name in chapters:
        shutil.copy(REPO / "notebooks" / f"{name}.py", src)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VNA_") and k.lower() not in ("no_proxy",)}
    env.update(VNA_DATA_DIR=str(empty), VNA_RUNS_DIR=str(tmp_path / "runs"), HTTP_PROXY=OFFLINE,
               HTTPS_PROXY=OFFLINE, http_proxy=OFFLINE, https_proxy=OFFLINE, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "run_notebooks.py"), "--quick", "--source", str(src),
                           "--out", str(out), "--failed-dir", str(tmp_path / "failed")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"the quick book failed with no data:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    for name in chapters:
        text = _text(nbformat.read(out / f"{name}.ipynb", as_version=4))
        missing = [words for words in NOTES[name] if words not in text]
        assert not missing, f"{name}: its data note does not say {missing}"
        assert "found in the data folder" not in text, f"{name} claims a recording it cannot have"
    assert not any(empty.iterdir()), "a failed download left something in the data folder"
