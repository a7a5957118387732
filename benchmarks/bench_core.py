"""Core benchmark (issue 'Foundation'): prints one table, all figures measured in this run.

1. ``discriminative_auc`` (all distractors, 500 images x 4000 responses) against a per-instance
   ``sklearn.metrics.roc_auc_score`` loop: wall time, speed-up and the largest absolute difference.
2. One training epoch of each method at the scale of the real V4 set (640 images x 8 trials, 50 neurons,
   1 x 64 x 64): pairs per second and achieved GFLOP/s (FLOPs counted by ``torch.utils.flop_counter``
   for forward + backward of every batch), beside a ``torch.matmul`` GFLOP/s peak measured in the same run.

Usage: ``python benchmarks/bench_core.py [--epochs-timed 1] [--batch-size 64] [--threads N] [--out FILE.json]``
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from vna import RunConfig, build_model  # noqa: E402
from vna.data import PairedData  # noqa: E402
from vna.metrics import discriminative_auc  # noqa: E402
from vna.train import _batch_loss, _batches, fit  # noqa: E402


def bench_auc(n_images=500, n_responses=4000, seed=0):
    rng = np.random.default_rng(seed)
    match = rng.integers(0, n_images, n_responses)
    S = rng.normal(size=(n_images, n_responses)).astype(np.float32)
    S[match, np.arange(n_responses)] += 1.0
    St = torch.from_numpy(S)
    out = {}
    for task in ("encoding", "decoding"):
        discriminative_auc(St[:50, :200], match[:200] % 50, task)  # warm-up
        t_vec = float("inf")
        for _ in range(3):  # best of three: the figure is the code's speed, not the machine's noise
            t0 = time.perf_counter()
            per, _ = discriminative_auc(St, match, task)
            t_vec = min(t_vec, time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = np.empty(n_responses)
        for j in range(n_responses):
            pos = S[match[j], j]
            neg = S[match[j], match != match[j]] if task == "encoding" else np.delete(S[:, j], match[j])
            ref[j] = roc_auc_score(np.r_[1, np.zeros(len(neg))], np.r_[pos, neg])
        t_loop = time.perf_counter() - t0
        out[task] = dict(vectorised_s=t_vec, sklearn_loop_s=t_loop, speedup=t_loop / t_vec,
                         max_abs_diff=float(np.abs(per - ref).max()))
    return out


def matmul_peak(n=1024, repeats=20):
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def v4_scale_data(n_images=640, n_trials=8, n_neurons=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n_images, 1, 64, 64, generator=g)
    match = torch.arange(n_images).repeat_interleave(n_trials)
    responses = torch.randn(len(match), n_neurons, generator=g)
    return PairedData(images, responses, match, {"dataset": "synthetic-v4-scale"})


def flops_per_epoch(model, data, batch_size):
    """Forward + backward FLOPs of one epoch (sum over its batches; the last batch may be smaller)."""
    sizes = [len(b) for b in _batches(data.n_responses, batch_size, torch.Generator().manual_seed(0))]
    total = 0
    model.train()
    for size in sorted(set(sizes)):
        idx = torch.arange(size)
        with FlopCounterMode(display=False) as counter:
            _batch_loss(model, data, idx).backward()
        model.zero_grad(set_to_none=True)
        total += counter.get_total_flops() * sizes.count(size)
    return total


def bench_training(batch_size=64, epochs_timed=1):
    data = v4_scale_data()
    rows = {}
    for method in ("vna", "direct_encoder", "direct_decoder"):
        cfg = RunConfig(method=method, batch_size=batch_size, seed=0, device="cpu")
        model = build_model(cfg, data.n_neurons)
        flops = flops_per_epoch(model, data, batch_size)
        fit(model, data, epochs=1, batch_size=batch_size, device="cpu", progress=False)  # warm-up epoch
        t0 = time.perf_counter()
        fit(model, data, epochs=epochs_timed, batch_size=batch_size, device="cpu", progress=False)
        sec = (time.perf_counter() - t0) / epochs_timed
        rows[method] = dict(epoch_s=sec, pairs_per_s=data.n_responses / sec, gflop_per_epoch=flops / 1e9,
                            gflops=flops / sec / 1e9)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs-timed", type=int, default=1)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    p.add_argument("--out", default=None, help="also write the figures as JSON here")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    peak = matmul_peak()
    auc = bench_auc()
    train = bench_training(a.batch_size, a.epochs_timed)
    peak_after = matmul_peak()
    peak = max(peak, peak_after)
    print(f"# vna core benchmark — torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'measurement':44s} {'value':>14s}  note")
    print(f"{'torch.matmul peak (1024^2, fp32)':44s} {peak:11.1f} GF/s")
    for task, r in auc.items():
        print(f"{'AUC ' + task + ' 500x4000 vectorised':44s} {r['vectorised_s']:12.3f} s")
        print(f"{'AUC ' + task + ' sklearn per-instance loop':44s} {r['sklearn_loop_s']:12.3f} s")
        print(f"{'AUC ' + task + ' speed-up':44s} {r['speedup']:12.0f} x  target >= 50x")
        print(f"{'AUC ' + task + ' max |difference|':44s} {r['max_abs_diff']:14.2e}  target < 1e-9")
    for method, r in train.items():
        frac = r["gflops"] / peak
        note = "  target >= 30 % of peak" if method == "vna" else ""
        print(f"{method + ' epoch (5120 pairs, batch ' + str(a.batch_size) + ')':44s} {r['epoch_s']:12.2f} s")
        print(f"{method + ' throughput':44s} {r['pairs_per_s']:10.0f} pairs/s")
        print(f"{method + ' achieved':44s} {r['gflops']:11.1f} GF/s  {100 * frac:.0f} % of peak{note}")
    if a.out:
        record = dict(matmul_peak_gflops=peak, auc=auc, training=train, batch_size=a.batch_size,
                      threads=torch.get_num_threads(), torch=torch.__version__)
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(record, f, indent=2)
        os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
