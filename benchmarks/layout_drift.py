"""How far a run's numbers move with the memory layout (issue 29): the same configuration and seed trained in
PyTorch's contiguous layout and in channels-last, side by side.

The two layouts compute the same convolutions with a different order of floating-point additions, so the first
step differs in the last bits and training, which is chaotic, amplifies that into a different trajectory: the
layout is part of a record's key (``RunConfig.memory_format``) and the published grids pin theirs.

    python benchmarks/layout_drift.py --datasets antolik2016-v1 cowley2023-v4 --epochs 5 \
        --out benchmarks/results/layout_drift_cpu_<date>.md

Prints one row per configuration (both layouts' AUCs under the paper's rule and their difference)
and writes the table as Markdown (atomically) where ``--out`` says.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import tempfile
from pathlib import Path

import torch

from vna.study.grids import study_grid
from vna.study.pipeline import run
from vna.study.record import _cpu_model, code_provenance

METHODS = ("vna", "direct_encoder", "direct_decoder")


def drift_rows(datasets, epochs: int, seed: int = 0):
    for cfg in study_grid():
        if cfg.dataset in datasets and cfg.seed == seed and cfg.split == "images" and cfg.method in METHODS:
            row = {"dataset": cfg.dataset, "method": cfg.method,
                   "trained on": cfg.responses, "tested on": cfg.test_responses}
            for layout in ("contiguous", "channels_last"):
                rec = run(dataclasses.replace(cfg, memory_format=layout, epochs=epochs), progress=False)
                m = rec.metrics["paper"]
                row[layout] = (float(m["encoding_auc"]), float(m["decoding_auc"]))
            yield row


def markdown(rows, epochs: int) -> str:
    prov = code_provenance()
    lines = [f"# Layout drift — {dt.date.today().isoformat()}", "",
             f"- code {(prov['commit'] or '?')[:12]}{' (uncommitted changes)' if prov['dirty'] else ''}; "
             f"torch {torch.__version__}; CPU {_cpu_model()}; 1 thread",
             f"- the study grid's held-out-images configuration, seed 0, {epochs} epochs, in each layout; "
             "AUCs under the paper's rule", "",
             "| dataset | method | trained on | tested on | enc contiguous | enc channels-last | Δ enc "
             "| dec contiguous | dec channels-last | Δ dec |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        (ec, dc), (el, dl) = r["contiguous"], r["channels_last"]
        lines.append(f"| {r['dataset']} | {r['method']} | {r['trained on']} | {r['tested on']} | {ec:.4f} | "
                     f"{el:.4f} | {el - ec:+.4f} | {dc:.4f} | {dl:.4f} | {dl - dc:+.4f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["antolik2016-v1", "cowley2023-v4"])
    p.add_argument("--epochs", type=int, default=5, help="epochs per run (default 5)")
    p.add_argument("--out", type=Path, help="write the Markdown table here")
    a = p.parse_args(argv)
    if a.epochs < 1:
        p.error(f"--epochs must be at least 1, got {a.epochs}")
    torch.set_num_threads(1)
    rows = []
    for r in drift_rows(set(a.datasets), a.epochs):
        rows.append(r)
        print(r["dataset"], r["method"], r["trained on"], r["tested on"], "contiguous", r["contiguous"], "channels_last", r["channels_last"],
              flush=True)
    text = markdown(rows, a.epochs)
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=a.out.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, a.out)
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
