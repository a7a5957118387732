"""The chapters' fallback to the simulated cortex (issue 25), without a kernel: a recording neither cached
nor downloadable (an empty data folder, the pinned base URLs pointed at a closed loopback port)."""
from __future__ import annotations

import sys
import types

import pytest

from vna.chapters import notebook
from vna.data import real

CLOSED = "http://127.0.0.1:9/unreachable"


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    for name in ("COWLEY_BASE_URL", "ANTOLIK_BASE_URL", "ALLEN_BASE_URL"):
        monkeypatch.setattr(real, name, CLOSED)
    return tmp_path


def test_auto_on_colab_without_a_download_is_the_simulated_cortex_and_says_why(nowhere, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    name, note = notebook.resolve_dataset("auto")
    assert name == "simulated"
    assert "cowley2023-v4 is neither in the data folder ($VNA_DATA_DIR) nor downloadable (" in note
    assert note.endswith("so this run uses SIMULATED data") and not any(nowhere.iterdir())


def test_auto_off_colab_does_not_try_a_download(nowhere, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(notebook, "load", lambda *a, **k: pytest.fail("auto off Colab must not download"))
    name, note = notebook.resolve_dataset("auto")
    assert name == "simulated" and "is not in the data folder" in note and "SIMULATED" in note


def test_load_or_simulated_exports_a_simulated_stand_in_of_the_size_asked(nowhere):
    rec, note = notebook.load_or_simulated("antolik2016-v1", {"n_images": 12, "n_trials": 3, "n_neurons": 7},
                                           region=2)
    assert rec.meta["simulated"] and rec.responses.shape == (12, 3, 7)
    assert note.startswith("antolik2016-v1 {'region': 2} is neither in the data folder")
    assert "SIMULATED cortex stands in" in note
    assert notebook.simulated_fallback("antolik2016-v1") is not None
    assert notebook.simulated_fallback("simulated") is None  # embedded: always usable


def test_load_or_simulated_uses_the_recording_when_it_is_there(shared_data, monkeypatch):
    monkeypatch.setenv("VNA_DATA_DIR", str(shared_data))
    rec, note = notebook.load_or_simulated("antolik2016-v1", region=2)
    assert note is None and not rec.meta["simulated"] and rec.responses.shape[2] == 55
    assert notebook.simulated_fallback("cowley2023-v4") is None
