"""Core benchmark (issues 'Foundation' and 10): prints one table; every figure is measured in this run.

1. ``auc``: ``discriminative_auc`` (all distractors, 500 images x 4000 responses) against a per-instance
   ``sklearn.metrics.roc_auc_score`` loop: wall time, speed-up and the largest absolute difference.
2. ``train``: one training epoch (:func:`vna.train.fit`, exactly as a run trains) of each method, at the
   scale of the real V4 set (512 images x 8 trials = 4,096 pairs, 50 neurons, 1 x 64 x 64) and of the
   paper's Macaque-synthetic set (3,200 images x 50 trials = 160,000 pairs), at batch 64 and 1024:
   seconds per epoch, pairs per second and achieved GFLOP/s (forward + backward FLOPs of every batch,
   counted by ``torch.utils.flop_counter``) as a percentage of a matmul peak measured in the same run
   on the same device (CPU: fp32 1024^2; CUDA: 4096^2 in the precision the convolutions run in -- TF32
   when cuDNN may use it, as PyTorch allows by default, bf16 for bf16 runs). Each row runs
   ``1 + --epochs-timed`` epochs and times the later ones (the first pays for warm-up and CUDA-graph capture;
   it is reported separately).
3. ``grid``: ``--grid-runs`` short runs (simulated data, small) through :func:`vna.study.runner.run_grid` with
   ``jobs=1`` and with ``jobs=2`` into temporary folders: wall times and their ratio.
4. ``--profile``: a ``torch.profiler`` table of the VNA training step (batch 64) on the device.

Each training row names its memory layout (``--layouts``: channels-last, the default of ``fit``, and
PyTorch's contiguous layout) and precision (``--precision``; bf16 on a CPU only where it has native bf16
instructions, else the row says why it was left out). ``--compare`` adds the speed-up of each lever:
channels-last over contiguous (fp32), bf16 over fp32 (same layout) and both over contiguous fp32.

Targets: GPU batch 64, 160,000 pairs, fp32: <= 2 s per VNA epoch (<= 1 s with bf16); CPU, VNA fp32 at batch 64
in the default layout: >= 45 % of the matmul peak on an AVX2 CPU, >= 36 % on an AVX-512 one (its wider peak is
harder to reach with small convolutions); CPU bf16 where native: >= 1.6 x the fp32 row; grid: jobs=2 in
<= 0.6 x the wall time of jobs=1 (2-core machine).

The machine's load average is recorded before and after: figures taken while something else runs are
contaminated, and the table says so.

Usage::

    python benchmarks/bench_core.py                                  # CPU, 1 thread (as grid runs use)
    python benchmarks/bench_core.py --device cuda --precision fp32 bf16 --out-dir benchmarks/results
    python benchmarks/bench_core.py --parts train --scales v4 macaque --batch-sizes 64 --methods vna
    python benchmarks/bench_core.py --parts train --batch-sizes 64 --precision fp32 bf16 --compare
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from vna import RunConfig, build_model  # noqa: E402
from vna.data import PairedData  # noqa: E402
from vna.train import MEMORY_FORMATS, _batch_loss, _batches, check_precision, cpu_bf16, fit  # noqa: E402

METHODS = ("vna", "direct_encoder", "direct_decoder")
#: name -> (images, trials per image, neurons)
SCALES = {"v4": (512, 8, 50), "macaque": (3200, 50, 50)}
TARGETS = {"gpu_vna_epoch_s": {"fp32": 2.0, "bf16": 1.0}, "cpu_vna_peak_pct": {"AVX2": 45.0, "AVX512": 36.0},
           "cpu_bf16_speedup": 1.6, "grid_ratio": 0.6}


# ------------------------------------------------------------------------------------------------ machine
def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_isa() -> dict:
    """The CPU's vector instruction set as PyTorch dispatches to it (``AVX2``, ``AVX512``, ...) and its native
    bf16 instructions (``AVX512-BF16``, ``AMX-BF16`` or none)."""
    return {"capability": torch.backends.cpu.get_cpu_capability(), "bf16": cpu_bf16()}


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------------------------------- AUC
def bench_auc(n_images=500, n_responses=4000, seed=0):
    from sklearn.metrics import roc_auc_score

    from vna.metrics import discriminative_auc

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


# --------------------------------------------------------------------------------------------- matmul peak
def _peak_kind(device: torch.device, precision: str) -> str:
    if precision == "bf16":
        return "bf16"
    if device.type != "cuda":
        return "fp32"
    return "tf32" if torch.backends.cudnn.allow_tf32 else "fp32"


def matmul_peak(device: torch.device, kind: str = "fp32", n: int | None = None, repeats: int = 20) -> dict:
    """Best-of-``repeats`` GFLOP/s of an ``n x n`` matmul on ``device`` in ``kind`` (fp32, tf32 or bf16)."""
    n = n or (4096 if device.type == "cuda" else 1024)
    dtype = torch.bfloat16 if kind == "bf16" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = kind == "tf32"
    try:
        for _ in range(3):
            a @ b
        _sync(device)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            a @ b
            _sync(device)
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    return {"kind": kind, "n": n, "gflops": 2 * n**3 / best / 1e9}


# ------------------------------------------------------------------------------------------------ training
def synthetic_pairs(scale: str, seed: int = 0) -> PairedData:
    """Random tensors of the shapes of ``scale`` (training speed does not depend on the values)."""
    n_images, n_trials, n_neurons = SCALES[scale]
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n_images, 1, 64, 64, generator=g)
    match = torch.arange(n_images).repeat_interleave(n_trials)
    responses = torch.randn(len(match), n_neurons, generator=g)
    return PairedData(images, responses, match, {"dataset": f"synthetic-{scale}-scale"})


def flops_per_epoch(method: str, data: PairedData, batch_size: int, device: torch.device) -> int:
    """Forward + backward FLOPs of one epoch (sum over its batches; the last batch may be smaller)."""
    sizes = [len(b) for b in _batches(data.n_responses, batch_size, torch.Generator().manual_seed(0))]
    model = build_model(RunConfig(method=method, seed=0, device="cpu"), data.n_neurons).to(device).train()
    small = PairedData(data.images, data.responses[: max(sizes)], data.match[: max(sizes)], {}).to(device)
    total = 0
    for size in sorted(set(sizes)):
        with FlopCounterMode(display=False) as counter:
            _batch_loss(model, small, torch.arange(size, device=device)).backward()
        model.zero_grad(set_to_none=True)
        total += counter.get_total_flops() * sizes.count(size)
    return total


def usable_precisions(device: torch.device, precisions, say=print) -> list[str]:
    """``precisions`` that ``device`` runs (bf16 on a CPU without native bf16 is left out, with the reason)."""
    out = []
    for precision in precisions:
        try:
            out.append(check_precision(device, precision))
        except ValueError as exc:
            say(f"  left out: {exc}")
    return out


def bench_training(device: torch.device, scales, batch_sizes, methods, precisions, epochs_timed: int,
                   layouts=MEMORY_FORMATS, say=print) -> list[dict]:
    rows = []
    for scale in scales:
        data = synthetic_pairs(scale)
        for precision in precisions:
            for layout in layouts:
                for batch_size in batch_sizes:
                    for method in methods:
                        flops = flops_per_epoch(method, data, batch_size, device)
                        model = build_model(RunConfig(method=method, seed=0, device="cpu"), data.n_neurons)
                        _sync(device)
                        t0 = time.perf_counter()
                        hist = fit(model, data, epochs=1 + epochs_timed, batch_size=batch_size, device=device,
                                   progress=False, precision=precision, memory_format=layout)
                        _sync(device)
                        wall = time.perf_counter() - t0
                        sec = sum(r["seconds"] for r in hist[1:]) / epochs_timed
                        row = dict(scale=scale, pairs=data.n_responses, batch_size=batch_size, method=method,
                                   precision=precision, layout=layout, epoch_s=sec, first_epoch_s=hist[0]["seconds"],
                                   fit_wall_s=wall, pairs_per_s=data.n_responses / sec, gflop_per_epoch=flops / 1e9,
                                   gflops=flops / sec / 1e9, final_loss=hist[-1]["loss"], step_path=hist.plan.reason)
                        rows.append(row)
                        say(f"  {scale:8s} batch {batch_size:5d} {method:15s} {precision} {layout:13s}: "
                            f"{sec:8.3f} s/epoch ({row['pairs_per_s']:9.0f} pairs/s, {row['gflops']:8.1f} GF/s) "
                            f"[{hist.plan.reason}]")
    return rows


#: The levers ``--compare`` reports: name -> (the faster row's (precision, layout), the slower row's).
LEVERS = {"channels-last (fp32)": (("fp32", "channels_last"), ("fp32", "contiguous")),
          "bf16 (channels-last)": (("bf16", "channels_last"), ("fp32", "channels_last")),
          "bf16 (contiguous)": (("bf16", "contiguous"), ("fp32", "contiguous")),
          "both (bf16 channels-last over fp32 contiguous)": (("bf16", "channels_last"), ("fp32", "contiguous"))}


def compare(rows: list[dict]) -> list[dict]:
    """The speed-up of each lever (:data:`LEVERS`) for every scale, batch size and method that has both rows."""
    by = {(r["scale"], r["batch_size"], r["method"], r["precision"], r.get("layout", "contiguous")): r for r in rows}
    out = []
    for (scale, batch, method, precision, layout), fast in by.items():
        for lever, (faster, slower) in LEVERS.items():
            slow = by.get((scale, batch, method) + slower)
            if (precision, layout) == faster and slow is not None:
                out.append(dict(scale=scale, batch_size=batch, method=method, lever=lever, faster_s=fast["epoch_s"],
                                slower_s=slow["epoch_s"], speedup=slow["epoch_s"] / fast["epoch_s"]))
    return out


# ---------------------------------------------------------------------------------------------------- grid
def grid_configs(n_runs: int, epochs: int, device: str) -> list[RunConfig]:
    """``n_runs`` short, independent trainings on the small simulated set (one record each)."""
    from vna.study.grids import quick_options

    methods = ("vna", "direct_encoder")
    configs = [RunConfig(dataset="simulated", method=methods[i % 2], seed=i // 2, split="images", epochs=epochs,
                         dataset_options=quick_options("simulated"), device=device, threads=1)
               for i in range(n_runs)]
    assert len({c.training_key() for c in configs}) == n_runs
    return configs


def bench_grid(n_runs: int, epochs: int, device: str) -> dict:
    from vna.study.runner import run_grid

    configs = grid_configs(n_runs, epochs, device)
    out = {"runs": n_runs, "epochs": epochs, "device": device}
    for jobs in (1, 2):
        with tempfile.TemporaryDirectory(prefix=f"vna-bench-grid-j{jobs}-") as folder:
            t0 = time.perf_counter()
            report = run_grid(configs, folder, jobs=jobs, progress=False, log=lambda s: None)
            out[f"jobs{jobs}_s"] = time.perf_counter() - t0
            if not report.ok or report.ran != n_runs:
                raise RuntimeError(f"grid with jobs={jobs} failed: {report.failed or report.skipped_datasets}")
            runs = [json.loads(f.read_text()) for f in Path(folder).glob("*/*.json")]
            out[f"jobs{jobs}_run_s"] = sum(r["seconds"] for r in runs)  # the runs' own time, from their records
    out["ratio"] = out["jobs2_s"] / out["jobs1_s"]
    # what jobs=2 costs beyond splitting the runs' own time in two: worker start-up (spawn, imports), imbalance
    out["jobs2_overhead_s"] = out["jobs2_s"] - out["jobs2_run_s"] / 2
    return out


# ------------------------------------------------------------------------------------------------- profile
def profile_step(device: torch.device, precision: str, method: str = "vna", batch_size: int = 64, steps: int = 12,
                 rows: int = 15) -> str:
    """A torch.profiler table (top ops by self time on the device) of ``steps`` training steps inside fit."""
    from torch.profiler import ProfilerActivity, profile

    data = synthetic_pairs("v4")
    n = batch_size * (steps + 4)  # room for the CUDA graph's warm-up steps and capture
    part = PairedData(data.images, data.responses[:n], data.match[:n], {})
    model = build_model(RunConfig(method=method, seed=0, device="cpu"), part.n_neurons)
    fit(model, part, epochs=1, batch_size=batch_size, device=device, progress=False, precision=precision)  # warm
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        fit(model, part, epochs=2, batch_size=batch_size, device=device, progress=False, precision=precision)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=rows, max_name_column_width=48)


# ------------------------------------------------------------------------------------------------- report
def markdown(record: dict) -> str:
    m = record["machine"]
    isa = m.get("cpu_isa") or {}
    lines = [f"# vna core benchmark — {record['date']}", "",
             f"- device: **{m['device']}**; torch {m['torch']}; CPU {m['cpu']} ({m['cpu_count']} CPUs); "
             f"{m['threads']} torch thread(s)",
             f"- CPU instruction set (PyTorch's dispatch): {isa.get('capability', '?')}; native bf16: "
             f"{isa.get('bf16') or 'none'}",
             f"- load average (1 min) before / after: {m['loadavg_before']} / {m['loadavg_after']} (after: this "
             "benchmark's own processes included)"]
    if record.get("label"):
        lines.append(f"- **{record['label']}**")
    lines.append("")
    peaks = record.get("matmul_peaks", {})
    if peaks:
        lines += ["| matmul peak | n | GFLOP/s |", "|---|---:|---:|"]
        lines += [f"| {k} | {p['n']} | {p['gflops']:.1f} |" for k, p in peaks.items()]
        lines.append("")
    if record.get("training"):
        lines += ["| scale | pairs | batch | method | precision | layout | s / epoch | first epoch s | pairs/s "
                  "| GFLOP/s | % of peak | target | step path |",
                  "|---|---:|---:|---|---|---|---:|---:|---:|---:|---:|---|---|"]
        for r in record["training"]:
            lines.append(f"| {r['scale']} | {r['pairs']} | {r['batch_size']} | {r['method']} | {r['precision']} | "
                         f"{r.get('layout', 'contiguous')} | "
                         f"{r['epoch_s']:.3f} | {r['first_epoch_s']:.3f} | {r['pairs_per_s']:.0f} | "
                         f"{r['gflops']:.1f} | {r['peak_pct']:.0f} % ({r['peak_kind']}) | {r.get('target', '')} | "
                         f"{r['step_path']} |")
        lines.append("")
    if record.get("compare"):
        lines += ["| lever | scale | batch | method | faster s / epoch | slower s / epoch | speed-up | target |",
                  "|---|---|---:|---|---:|---:|---:|---|"]
        lines += [f"| {c['lever']} | {c['scale']} | {c['batch_size']} | {c['method']} | {c['faster_s']:.3f} | "
                  f"{c['slower_s']:.3f} | {c['speedup']:.2f} x | {c.get('target', '')} |" for c in record["compare"]]
        lines.append("")
    g = record.get("grid")
    if g:
        lines += ["| grid | runs | epochs | jobs=1 s | jobs=2 s | ratio | target | runs' own s (jobs=1 / jobs=2) "
                  "| jobs=2 overhead s |", "|---|---:|---:|---:|---:|---:|---|---:|---:|",
                  f"| {g['device']} | {g['runs']} | {g['epochs']} | {g['jobs1_s']:.1f} | {g['jobs2_s']:.1f} | "
                  f"{g['ratio']:.2f} | {g['target']} | {g['jobs1_run_s']:.1f} / {g['jobs2_run_s']:.1f} | "
                  f"{g['jobs2_overhead_s']:.1f} |", ""]
    auc = record.get("auc")
    if auc:
        lines += ["| AUC (500 x 4000) | vectorised s | sklearn loop s | speed-up | max abs diff |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {t} | {r['vectorised_s']:.3f} | {r['sklearn_loop_s']:.1f} | {r['speedup']:.0f} x | "
                  f"{r['max_abs_diff']:.1e} |" for t, r in auc.items()]
        lines.append("")
    if record.get("profile"):
        lines += ["```", record["profile"].rstrip(), "```", ""]
    return "\n".join(lines)


def _target(row: dict, device: torch.device) -> str:
    if row["method"] != "vna":
        return ""
    if device.type == "cuda" and row["scale"] == "macaque" and row["batch_size"] == 64:
        limit = TARGETS["gpu_vna_epoch_s"][row["precision"]]
        return f"<= {limit:g} s/epoch: {'met' if row['epoch_s'] <= limit else 'not met'}"
    if device.type == "cpu" and row["precision"] == "fp32" and row.get("layout") == MEMORY_FORMATS[0] \
            and row["batch_size"] == 64:
        isa = torch.backends.cpu.get_cpu_capability()
        limit = TARGETS["cpu_vna_peak_pct"]["AVX512" if isa.startswith("AVX512") else "AVX2"]
        return f">= {limit:g} % of peak ({isa}): {'met' if row['peak_pct'] >= limit else 'not met'}"
    return ""


def _lever_target(c: dict, device: torch.device) -> str:
    if device.type != "cpu" or c["method"] != "vna" or not c["lever"].startswith("bf16 (channels-last)"):
        return ""
    limit = TARGETS["cpu_bf16_speedup"]
    return f">= {limit:g} x: {'met' if c['speedup'] >= limit else 'not met'}"


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda / cuda:N")
    p.add_argument("--parts", nargs="+", default=["train", "grid", "auc"], choices=["train", "grid", "auc"])
    p.add_argument("--scales", nargs="+", default=None, choices=list(SCALES),
                   help="default: v4 and macaque on CUDA; v4 on CPU (a CPU epoch of 160,000 pairs takes minutes "
                        "per row; CPU pairs/s do not depend on the set's size)")
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[64, 1024])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"],
                   help="bf16 on a CPU runs only where it has AVX512-BF16 or AMX (else the row is left out)")
    p.add_argument("--layouts", nargs="+", default=list(MEMORY_FORMATS), choices=list(MEMORY_FORMATS),
                   help="memory layouts of the training rows (default: both)")
    p.add_argument("--compare", action="store_true",
                   help="add the speed-up of each lever (channels-last, bf16, both) from the training rows")
    p.add_argument("--epochs-timed", type=int, default=1, help="epochs timed after the first (default 1)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: what each run of a grid uses; 0 = torch's default)")
    p.add_argument("--grid-runs", type=int, default=8)
    p.add_argument("--grid-epochs", type=int, default=10)
    p.add_argument("--profile", action="store_true", help="add a torch.profiler table of the VNA batch-64 step")
    p.add_argument("--label", default=None, help='a note for the table, e.g. "under load"')
    p.add_argument("--out-dir", default=None, help="write bench_core_<device>_<date>[_<tag>].json and .md here")
    p.add_argument("--tag", default=None, help="suffix of the output files' names")
    p.add_argument("--out", default=None, help="also write the JSON record to this file")
    a = p.parse_args(argv)
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda, but torch sees no CUDA device")
    if a.threads:
        torch.set_num_threads(a.threads)
    scales = a.scales or (["v4", "macaque"] if device.type == "cuda" else ["v4"])
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    record = {"date": dt.datetime.now().isoformat(timespec="seconds"), "label": a.label,
              "machine": {"device": f"{device.type} ({name})", "torch": torch.__version__, "cpu": _cpu_name(),
                          "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(), "cpu_isa": cpu_isa(),
                          "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32 if device.type == "cuda" else None,
                          "loadavg_before": _loadavg()}}
    print(f"# vna core benchmark on {record['machine']['device']}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), load average {record['machine']['loadavg_before']}")
    if "train" in a.parts:
        precisions = usable_precisions(device, a.precision)
        kinds = sorted({_peak_kind(device, pr) for pr in precisions})
        before = {k: matmul_peak(device, k) for k in kinds}
        rows = bench_training(device, scales, a.batch_sizes, a.methods, precisions, a.epochs_timed, a.layouts)
        after = {k: matmul_peak(device, k) for k in kinds}
        record["matmul_peaks"] = {k: max(before[k], after[k], key=lambda d: d["gflops"]) for k in kinds}
        for r in rows:
            r["peak_kind"] = _peak_kind(device, r["precision"])
            r["peak_pct"] = 100 * r["gflops"] / record["matmul_peaks"][r["peak_kind"]]["gflops"]
            r["target"] = _target(r, device)
        record["training"] = rows
        if a.compare:
            record["compare"] = [dict(c, target=_lever_target(c, device)) for c in compare(rows)]
    if "grid" in a.parts:
        g = bench_grid(a.grid_runs, a.grid_epochs, str(device))
        g["target"] = (f"<= {TARGETS['grid_ratio']:g}: {'met' if g['ratio'] <= TARGETS['grid_ratio'] else 'not met'}")
        record["grid"] = g
    if "auc" in a.parts:
        record["auc"] = bench_auc()
    if a.profile:
        record["profile"] = profile_step(device, a.precision[0])
    record["machine"]["loadavg_after"] = _loadavg()
    # only the load before the start tells of other work: the one after includes this benchmark's own
    # training thread and its jobs=2 grid (about 1-2 on a 2-core machine)
    busy = record["machine"]["loadavg_before"] or 0
    if busy > 0.5 and not a.label:
        record["label"] = (f"measured while the machine was busy (load average {busy} at the start); "
                           "rerun on a quiet machine")
    text = markdown(record)
    print(text)
    if a.out_dir:
        os.makedirs(a.out_dir, exist_ok=True)
        stem = f"bench_core_{device.type}_{dt.date.today().isoformat()}" + (f"_{a.tag}" if a.tag else "")
        _write(os.path.join(a.out_dir, stem + ".json"), json.dumps(record, indent=2) + "\n")
        _write(os.path.join(a.out_dir, stem + ".md"), text + "\n")
        print(f"wrote {os.path.join(a.out_dir, stem)}.json and .md", file=sys.stderr)
    if a.out:
        _write(a.out, json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
