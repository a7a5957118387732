"""``make gpu-check`` (benchmarks/gpu_check.py, issue 25): its refusal without CUDA and its verdicts."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import gpu_check  # noqa: E402


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: gpu-check would run")
def test_gpu_check_fails_clearly_without_cuda():
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py")], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: gpu-check needs a CUDA GPU: torch.cuda.is_available() is False")
    assert len(done.stderr.strip().splitlines()) == 1  # one line, no traceback


def test_card_slug_names_the_card_in_file_names():
    assert gpu_check.card_slug("NVIDIA H200") == "nvidia-h200"
    assert gpu_check.card_slug("Tesla T4 (16 GB)") == "tesla-t4-16-gb"


def _row(precision, epoch_s, path="CUDA graph of the batch-64 step after 3 eager warm-up steps; smaller batches eager"):
    return {"scale": "macaque", "pairs": 160000, "batch_size": 64, "method": "vna", "precision": precision,
            "epoch_s": epoch_s, "step_path": path}


def test_verdicts_check_the_targets_and_a_fallen_back_graph():
    rows, problems = gpu_check.verdicts({"training": [_row("fp32", 1.5), _row("bf16", 0.9)]})
    assert problems == [] and all(r["met"] for r in rows)
    _, problems = gpu_check.verdicts({"training": [_row("fp32", 2.5), _row("bf16", 0.9)]})
    assert problems == ["('macaque', 64, 'vna', 'fp32'): 2.5 s per epoch, target <= 2.0 s"]
    fell_back = "eager: the captured step differs from the eager step: the loss differs by 0.5"
    _, problems = gpu_check.verdicts({"training": [_row("fp32", 1.0, fell_back), _row("bf16", 0.5)]})
    assert len(problems) == 1 and "fell back to eager steps" in problems[0]
    _, problems = gpu_check.verdicts({"training": [_row("fp32", 1.0)]})
    assert problems == ["('macaque', 64, 'vna', 'bf16'): no benchmark row (BENCH_ARGS left it out)"]


def test_make_gpu_check_uses_plain_python_and_no_venv():
    make = (REPO / "Makefile").read_text()
    rule = make.split("\ngpu-check:", 1)[1].split("\n\n", 1)[0]
    assert "$(PYTHON) benchmarks/gpu_check.py" in rule and "venv" not in rule.split("\n", 1)[0]
    source = (REPO / "benchmarks" / "gpu_check.py").read_text()
    assert "import pooch" not in source and "import papermill" not in source
