#!/usr/bin/env python3
"""``make gpu-check``: on a CUDA machine, the CUDA tests and the GPU benchmark in one command (issue 25).

1. ``pytest -k cuda`` on the training tests (the CUDA-graph step against eager CUDA, the graph's NaN batch,
   bf16 on CUDA): every one must run (none skipped) and pass; with CUDA they also exercise the captured
   step's self-check (:func:`vna.cuda_graph.check_graph_step`), which must not have fallen back.
2. ``benchmarks/bench_core.py --device cuda`` (training epochs at the V4 and the Macaque-synthetic scale,
   fp32 and bf16, and the AUC part) into ``benchmarks/results/bench_core_cuda_<date>_<card>.json/.md``.
3. ``benchmarks/results/gpu_check_<card>_<date>.json``: the card, torch and CUDA versions, the tests' counts,
   each benchmark row's step path (CUDA graph or why eager) and the speed issue's GPU targets (VNA epoch
   over 160,000 pairs at batch 64: <= 2 s fp32, <= 1 s bf16), met or not.

Needs only what the device machine has (python3 with torch, numpy, pandas, scipy, scikit-learn, matplotlib,
tqdm, Pillow, and pytest): no venv, no pooch, no papermill, no network. Exit status 0 only when the tests
passed and every target was met; 2 when there is no CUDA GPU ("needs a CUDA GPU").

    python3 benchmarks/gpu_check.py [--bench-args "..."]      # make gpu-check [BENCH_ARGS="..."]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
CUDA_TESTS = ["tests/test_train_fast.py", "tests/test_train.py"]
BENCH_ARGS = ("--parts train auc --scales v4 macaque --batch-sizes 64 1024 --precision fp32 bf16 "
              "--methods vna direct_encoder direct_decoder")
#: (scale, batch size, method, precision) -> the largest seconds per epoch (the speed issue's GPU targets)
TARGETS = {("macaque", 64, "vna", "fp32"): 2.0, ("macaque", 64, "vna", "bf16"): 1.0}


def card_slug(name: str) -> str:
    """A file-name part naming the card: ``"NVIDIA H200"`` -> ``"nvidia-h200"``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "cuda"


def no_cuda_reason() -> str | None:
    """``None`` on a machine with a usable CUDA GPU, else the one-line reason gpu-check cannot run."""
    try:
        import torch
    except ImportError:
        return "gpu-check needs a CUDA GPU and PyTorch: torch is not importable by " + sys.executable
    if not torch.cuda.is_available():
        return (f"gpu-check needs a CUDA GPU: torch.cuda.is_available() is False on this machine "
                f"(torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'})")
    return None


def run_tests(junit: Path) -> dict:
    """The CUDA tests; their counts from pytest's JUnit report."""
    try:
        import pytest  # noqa: F401
    except ImportError:
        return {"error": f"pytest is not importable by {sys.executable}: pip install pytest"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-k", "cuda", "-m", "not book", "-p", "no:cacheprovider",
           f"--junitxml={junit}", *CUDA_TESTS]
    print("$", shlex.join(cmd), flush=True)
    code = subprocess.call(cmd, cwd=REPO)
    counts = {"exit_status": code, "command": shlex.join(cmd)}
    if junit.is_file():
        suite = ET.parse(junit).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        for key in ("tests", "failures", "errors", "skipped"):
            counts[key] = int(suite.get(key, 0))
    return counts


def run_bench(args: str, tag: str, out: Path) -> dict:
    cmd = [sys.executable, "benchmarks/bench_core.py", "--device", "cuda", *shlex.split(args),
           "--out-dir", str(RESULTS), "--tag", tag, "--out", str(out)]
    print("$", shlex.join(cmd), flush=True)
    code = subprocess.call(cmd, cwd=REPO)
    return {"exit_status": code, "command": shlex.join(cmd),
            "record": json.loads(out.read_text()) if out.is_file() else None}


def verdicts(record: dict | None) -> tuple[list[dict], list[str]]:
    """Per benchmark row: its step path; the targets met or not; and the problems (what fails the check)."""
    rows, problems = [], []
    training = (record or {}).get("training") or []
    for r in training:
        key = (r.get("scale"), r.get("batch_size"), r.get("method"), r.get("precision"))
        row = {k: r.get(k) for k in ("scale", "pairs", "batch_size", "method", "precision", "epoch_s",
                                     "first_epoch_s", "pairs_per_s", "step_path")}
        if key in TARGETS:
            limit = TARGETS[key]
            row["target_s"] = limit
            row["met"] = r.get("epoch_s") is not None and r["epoch_s"] <= limit
            if not row["met"]:
                problems.append(f"{key}: {r.get('epoch_s')} s per epoch, target <= {limit} s")
        path = str(r.get("step_path") or "")
        if "differs" in path or "capture failed" in path:
            problems.append(f"{key}: the CUDA graph fell back to eager steps ({path})")
        rows.append(row)
    missing = [k for k in TARGETS if not any((r["scale"], r["batch_size"], r["method"], r["precision"]) == k
                                             for r in rows)]
    problems += [f"{k}: no benchmark row (BENCH_ARGS left it out)" for k in missing]
    return rows, problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench-args", default=BENCH_ARGS, help=f"bench_core.py's arguments (default: {BENCH_ARGS})")
    ap.add_argument("--skip-tests", action="store_true", help="only the benchmark")
    args = ap.parse_args(argv)
    reason = no_cuda_reason()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    import torch

    name = torch.cuda.get_device_name(0)
    slug, date = card_slug(name), dt.date.today().isoformat()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tests = {"skipped_on_request": True} if args.skip_tests else run_tests(Path(tmp) / "junit.xml")
        bench = run_bench(args.bench_args, slug, Path(tmp) / "bench.json")
    rows, problems = verdicts(bench.pop("record"))
    if not args.skip_tests:
        if tests.get("error"):
            problems.insert(0, tests["error"])
        elif tests.get("exit_status") != 0 or tests.get("failures") or tests.get("errors"):
            problems.insert(0, f"CUDA tests failed: {tests}")
        elif not tests.get("tests") or tests.get("skipped"):
            problems.insert(0, f"CUDA tests did not all run ({tests.get('tests')} collected, "
                               f"{tests.get('skipped')} skipped)")
    if bench["exit_status"] != 0:
        problems.insert(0, f"bench_core.py exited with {bench['exit_status']}")
    summary = {"card": name, "date": date, "torch": torch.__version__, "cuda": torch.version.cuda,
               "capability": ".".join(map(str, torch.cuda.get_device_capability(0))), "tests": tests,
               "bench": bench, "rows": rows, "targets": {" ".join(map(str, k)): v for k, v in TARGETS.items()},
               "problems": problems, "passed": not problems}
    out = RESULTS / f"gpu_check_{slug}_{date}.json"
    tmp_out = out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(summary, indent=1) + "\n")
    os.replace(tmp_out, out)
    print(f"gpu-check on {name}: {'passed' if not problems else 'FAILED'}; {out.relative_to(REPO)}")
    for p in problems:
        print(f"  - {p}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
