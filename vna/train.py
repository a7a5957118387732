"""Training for all three methods (paper section 4.3: Adam); saving and loading are in :mod:`vna.methods`."""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
import warnings
from typing import Any, Mapping

import pandas as pd
import torch
from tqdm.auto import tqdm

from .data.paired import PairedData

__all__ = ["fit", "History", "TrainingDivergedError", "NonFiniteLossError", "CollapsedEmbeddingError",
           "resolve_device", "check_lr", "StepPlan", "plan_steps", "PRECISIONS", "MEMORY_FORMATS", "cpu_bf16",
           "check_precision"]

#: ``fit(precision=...)``: ``"fp32"`` (default; what every record so far used) or ``"bf16"`` (autocast).
PRECISIONS = ("fp32", "bf16")

#: ``fit(memory_format=...)``: how the image batches and the convolution weights lie in memory.
#: ``"channels_last"`` (default) is oneDNN's and cuDNN's fast layout for these small convolutions (1.1-1.2x
#: per CPU training step, benchmarks/bench_core.py); ``"contiguous"`` is PyTorch's default layout. Both compute
#: the same maths, but the kernels sum in another order, so numbers differ in the last bits and then drift
#: apart over training like runs on two CPUs: a record's key names the layout.
MEMORY_FORMATS = ("channels_last", "contiguous")

#: Full-size training steps run eagerly (on a side stream) before the CUDA graph is captured: they are
#: real steps of the run, and they create Adam's state and warm up cuDNN/cuBLAS before capture.
CUDA_GRAPH_WARMUP = 3


class TrainingDivergedError(RuntimeError):
    """Training went wrong in a way no later epoch can repair (the message names the epoch)."""


class NonFiniteLossError(TrainingDivergedError, FloatingPointError):
    """The training loss became NaN or infinite (the message names the epoch and the first bad batch)."""


class CollapsedEmbeddingError(TrainingDivergedError):
    """Every input maps to one embedding: a contrastive model that diverged (the message names the epoch)."""


class History(list):
    """Per-epoch records (``epoch``, ``loss``, ``seconds`` and, with ``val``, ``val_loss`` and val AUCs).

    ``best_epoch``: the epoch whose weights the model holds at the end (the last one without early stopping).
    ``plan``: how the training steps ran (:class:`StepPlan`: eager or CUDA graph, precision, and why).
    """

    best_epoch: int | None = None
    plan: "StepPlan | None" = None

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given (CUDA asked but absent: error)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a device torch knows ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asked for, but torch sees no CUDA device; use device='auto' or 'cpu'")
    return dev


def check_lr(lr) -> float:
    """``lr`` as a float, or a ValueError naming it: Adam moves each weight by about ``lr`` per step, so a
    value above 1 can only diverge (1e12 trains to chance, 1e38 overflows float32)."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 1:
        raise ValueError(f"lr must be a finite number in (0, 1]; got {lr!r}")
    return float(lr)


def _batches(n: int, batch_size: int, gen: torch.Generator) -> list[torch.Tensor]:
    """A seeded shuffle cut into batches; a last batch of one pair is dropped (BatchNorm needs two)."""
    perm = torch.randperm(n, generator=gen)
    out = list(perm.split(batch_size))
    if len(out) > 1 and len(out[-1]) < 2:
        out.pop()
    return out


def _batch_loss(model, data: PairedData, idx: torch.Tensor) -> torch.Tensor:
    m = data.match[idx]
    return model.loss(data.images[m], data.responses[idx], m)


# ---------------------------------------------------------------------------------------------- step plan
@dataclasses.dataclass(frozen=True)
class StepPlan:
    """How :func:`fit` runs its training steps on one device (decided once per call by :func:`plan_steps`).

    * ``autocast``: bf16 autocast around the forward pass (``precision="bf16"``); fp32 runs have none.
    * ``channels_last``: model and images in channels-last memory format (``memory_format``; CPU and CUDA).
    * ``fused_adam`` / ``capturable_adam``: Adam's fused CUDA kernel, capturable when a graph is captured.
      On CPU Adam is built exactly as before (PyTorch's default single-tensor implementation), so CPU fp32
      training is bit-identical to the plain loop.
    * ``cuda_graph``: full-size steps (forward, backward, Adam) are captured once as a CUDA graph and
      replayed; smaller batches (the last of an epoch) and the first ``CUDA_GRAPH_WARMUP`` full-size steps
      run eagerly. ``reason`` says why the graph is or is not used.
    """

    device_type: str
    precision: str = "fp32"
    autocast: bool = False
    channels_last: bool = False
    fused_adam: bool = False
    capturable_adam: bool = False
    cuda_graph: bool = False
    reason: str = ""


def _graphs_enabled() -> bool:
    """``VNA_CUDA_GRAPHS=0`` (or ``false``/``no``/``off``) turns CUDA graph capture off (debugging, profiling)."""
    return os.environ.get("VNA_CUDA_GRAPHS", "1").strip().lower() not in ("0", "false", "no", "off")


def _check_precision(precision) -> str:
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}; got {precision!r}")
    return precision


def _check_memory_format(memory_format) -> str:
    if not isinstance(memory_format, str) or memory_format not in MEMORY_FORMATS:
        raise ValueError(f"memory_format must be one of {', '.join(map(repr, MEMORY_FORMATS))}; "
                         f"got {memory_format!r}")
    return memory_format


def _cpu_capabilities() -> dict[str, Any]:
    """What PyTorch's cpuinfo knows of this CPU (``torch.cpu.get_capabilities``); ``{}`` where it cannot say."""
    get = getattr(torch.cpu, "get_capabilities", None)
    try:
        return dict(get()) if get is not None else {}
    except Exception:  # noqa: BLE001 - an unknown CPU: no native bf16 claimed
        return {}


def cpu_bf16(capabilities: Mapping[str, Any] | None = None) -> str | None:
    """The CPU's native bf16 instructions (``"AMX-BF16"`` or ``"AVX512-BF16"``), or ``None`` when it has none.

    Without them PyTorch emulates bf16 arithmetic in fp32 registers, which is slower than fp32 itself, so
    ``precision="bf16"`` is offered on a CPU only where this names something. ``capabilities`` (a stand-in for
    ``torch.cpu.get_capabilities()``) is for tests.
    """
    caps = _cpu_capabilities() if capabilities is None else capabilities
    if caps.get("amx_bf16"):
        return "AMX-BF16"
    if caps.get("avx512_bf16"):
        return "AVX512-BF16"
    return None


def check_precision(device: str | torch.device, precision: str,
                    cpu_capabilities: Mapping[str, Any] | None = None) -> str:
    """``precision`` if ``device`` runs it well, else a ValueError that says why: bf16 runs on CUDA and on a
    CPU with native bf16 instructions (:func:`cpu_bf16`); emulated bf16 on any other CPU is slower than fp32,
    and other devices run fp32 only. ``cpu_capabilities`` is a stand-in for tests."""
    precision = _check_precision(precision)
    dev = torch.device(device)
    if precision != "bf16" or dev.type == "cuda":
        return precision
    if dev.type != "cpu":
        raise ValueError(f"precision='bf16' is supported on cpu and cuda devices; got device {str(dev)!r} "
                         "(use precision='fp32')")
    if cpu_bf16(cpu_capabilities) is None:
        caps = _cpu_capabilities() if cpu_capabilities is None else cpu_capabilities
        raise ValueError(f"precision='bf16' on this CPU ({caps.get('cpu_name') or 'unknown model'}) would be "
                         "emulated, which is slower than fp32: it has neither AVX512-BF16 nor AMX-BF16 "
                         "instructions; use precision='fp32'")
    return precision


def plan_steps(device: str | torch.device, precision: str = "fp32", *, batch_size: int, n_pairs: int,
               epochs: int = 1, cuda_graphs: bool | None = None, memory_format: str = "channels_last",
               cpu_capabilities: Mapping[str, Any] | None = None) -> StepPlan:
    """The :class:`StepPlan` of a run on ``device`` (a pure function: it never touches the device).

    CPU: the plain eager loop, in ``memory_format``; ``precision="bf16"`` (autocast) only on a CPU with
    native bf16 instructions (:func:`cpu_bf16`; ``cpu_capabilities`` is a stand-in for tests), refused
    elsewhere with a ValueError, since emulated bf16 is slower than fp32. CUDA: fused Adam, ``memory_format``,
    bf16 autocast on request, and a CUDA graph of the full-size step when there is at least one full-size batch
    per epoch and more full-size steps in the run than the eager warm-up (``cuda_graphs=False`` or
    ``VNA_CUDA_GRAPHS=0`` turns it off). MPS: eager, fp32, contiguous.
    """
    dev = torch.device(device)
    precision = check_precision(dev, precision, cpu_capabilities)
    channels_last = _check_memory_format(memory_format) == "channels_last"
    bf16 = precision == "bf16"
    if dev.type not in ("cpu", "cuda"):
        return StepPlan(dev.type, precision, reason=f"eager: no CUDA graphs on {dev.type}")
    if dev.type == "cpu":
        layout = "channels-last" if channels_last else "contiguous"
        return StepPlan("cpu", precision, autocast=bf16, channels_last=channels_last,
                        reason=f"eager: CPU (the plain loop, {layout})")
    enabled = _graphs_enabled() if cuda_graphs is None else bool(cuda_graphs)
    full_steps = (n_pairs // batch_size) * epochs
    if not enabled:
        graph, reason = False, "eager: CUDA graphs turned off (cuda_graphs=False or VNA_CUDA_GRAPHS=0)"
    elif not hasattr(torch.cuda, "CUDAGraph"):
        graph, reason = False, "eager: this PyTorch has no torch.cuda.CUDAGraph"
    elif n_pairs < batch_size:
        graph, reason = False, f"eager: {n_pairs} pairs are fewer than one batch of {batch_size} (no static shape)"
    elif full_steps <= CUDA_GRAPH_WARMUP:
        graph, reason = False, (f"eager: {full_steps} full-size step(s) in the run, not more than the "
                                f"{CUDA_GRAPH_WARMUP} warm-up steps a graph needs")
    else:
        graph, reason = True, (f"CUDA graph of the batch-{batch_size} step after {CUDA_GRAPH_WARMUP} eager "
                               "warm-up steps; smaller batches eager")
    return StepPlan("cuda", precision, autocast=bf16, channels_last=channels_last, fused_adam=True,
                    capturable_adam=graph,
                    cuda_graph=graph, reason=reason)


def _autocast(plan: StepPlan):
    """The forward pass's autocast context (none for fp32, so fp32 runs the plain ops)."""
    if not plan.autocast:
        return contextlib.nullcontext()
    return torch.autocast(plan.device_type, dtype=torch.bfloat16, cache_enabled=False)


def _make_optimizer(params, plan: StepPlan, lr: float, weight_decay: float) -> torch.optim.Adam:
    extra: dict[str, Any] = {}
    if plan.fused_adam:
        extra["fused"] = True
    if plan.capturable_adam:
        extra["capturable"] = True
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **extra)


def _eager_step(model, opt, data: PairedData, idx: torch.Tensor, plan: StepPlan) -> torch.Tensor:
    """One plain training step; its detached loss (on the device). In fp32 exactly the loop of old:
    loss, zero_grad(set_to_none), backward, Adam step."""
    with _autocast(plan):
        loss = _batch_loss(model, data, idx)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


#: The self-check's tolerance (``torch.allclose``: ``|graph - eager| <= atol + rtol * |eager|``, elementwise)
#: between the first captured step and an eager step from the same state and batch: the loss and every
#: updated parameter and buffer. The graph replays the eager step's own kernels on the same inputs, so the two
#: agree to float rounding (atomics in a backward kernel can reorder a sum); a wrong graph (a stale batch
#: buffer, a missed Adam step, a cached cast) is off by a whole update, about ``lr`` (1e-3) per weight.
GRAPH_CHECK_TOLERANCE = {"fp32": {"rtol": 1e-5, "atol": 1e-6}, "bf16": {"rtol": 1e-3, "atol": 1e-4}}


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:200]


def _mismatch(name: str, graph: torch.Tensor, eager: torch.Tensor, tol: dict) -> str | None:
    """``None`` when ``graph`` and ``eager`` agree within ``tol``, else what differs and by how much."""
    g, e = graph.detach().float(), eager.detach().float()
    if g.shape != e.shape:
        return f"{name}: shape {tuple(g.shape)} vs {tuple(e.shape)}"
    if torch.allclose(g, e, rtol=tol["rtol"], atol=tol["atol"], equal_nan=False):
        return None
    d = (g - e).abs()
    d = torch.where(torch.isnan(d), torch.full_like(d, math.inf), d)
    k = int(d.argmax())
    return (f"{name} differs by {float(d.flatten()[k]):.3g} (graph {float(g.flatten()[k]):.6g}, eager "
            f"{float(e.flatten()[k]):.6g}; rtol {tol['rtol']:g}, atol {tol['atol']:g})")


def check_graph_step(step, precision: str = "fp32") -> tuple[torch.Tensor, str | None]:
    """The self-check of a CUDA-graph training step, run once at its capture: ``(loss, None)`` when the
    graph may be replayed from now on, ``(loss, reason)`` when training must go on eagerly.

    ``step`` is the capture object (:class:`_GraphStep`, or a stand-in in the tests) with ``snapshot()``
    (copies of the training state), ``restore(snapshot)`` (copied back in place), ``capture()``,
    ``replay()`` (the captured step once; its loss), ``eager()`` (the plain step on the same batch; its loss)
    and ``state()`` (the live tensors a step updates: parameters, buffers). The captured step is replayed
    once from the state before it, the state is put back and the eager step runs from it: both losses and
    updated states are compared within :data:`GRAPH_CHECK_TOLERANCE` of ``precision``. Whatever the outcome,
    the run continues from the *eager* step's state and loss, so a bad graph never leaves a trace in it.
    """
    tol = GRAPH_CHECK_TOLERANCE[_check_precision(precision)]
    before = step.snapshot()
    try:
        step.capture()
        graph_loss = step.replay().detach().clone()
        graph_state = [t.detach().clone() for t in step.state()]
    except Exception as exc:  # noqa: BLE001 - any capture or replay failure falls back to the eager step
        step.restore(before)
        return step.eager(), f"capture failed ({_short(exc)})"
    step.restore(before)
    loss = step.eager()
    why = _mismatch("the loss", graph_loss, loss, tol)
    if why is None:
        for k, (g, e) in enumerate(zip(graph_state, step.state())):
            why = _mismatch(f"state tensor {k}", g, e, tol)
            if why is not None:
                break
    return loss, (None if why is None else f"the captured step differs from the eager step: {why}")


class _GraphStep:
    """The full-size training step as a CUDA graph: eager warm-up steps on a side stream, one capture
    (forward, backward and the capturable fused Adam step, with the batch's indices in a static buffer)
    checked against an eager step (:func:`check_graph_step`), then replays. A capture that fails or a
    graph that disagrees leaves ``failed`` set (one warning) and training continues eagerly."""

    def __init__(self, model, opt, data: PairedData, batch_size: int, plan: StepPlan,
                 warmup: int = CUDA_GRAPH_WARMUP):
        self.model, self.opt, self.data, self.plan = model, opt, data, plan
        self.warmup_left = warmup
        self.static_idx = torch.zeros(batch_size, dtype=torch.long, device=data.responses.device)
        self.graph = None
        self.failed: str | None = None
        self._keep: list = []

    def route(self, n: int) -> str:
        """What the next step of ``n`` pairs does: ``eager``, ``warmup``, ``capture`` or ``replay``."""
        if n != len(self.static_idx) or self.failed is not None:
            return "eager"
        if self.graph is not None:
            return "replay"
        return "warmup" if self.warmup_left > 0 else "capture"

    def step(self, idx: torch.Tensor) -> torch.Tensor:
        route = self.route(len(idx))
        if route == "eager":
            return _eager_step(self.model, self.opt, self.data, idx, self.plan)
        if route == "warmup":
            self.warmup_left -= 1
            return self._side_stream(lambda: _eager_step(self.model, self.opt, self.data, idx, self.plan))
        self.static_idx.copy_(idx)
        if route == "capture":
            loss, why = check_graph_step(self, self.plan.precision)
            if why is not None:
                self.graph, self.failed, self._keep = None, why, []
                what = ("CUDA graph capture of the training step failed" if why.startswith("capture failed")
                        else "CUDA graph self-check failed")
                warnings.warn(f"{what} ({why}); training continues with eager steps", RuntimeWarning, stacklevel=3)
            return loss
        return self.replay()

    # the capture object of check_graph_step
    def state(self) -> list[torch.Tensor]:
        """The live tensors a training step updates: the model's parameters and buffers, Adam's state."""
        opt_state = [v for s in self.opt.state.values() for v in s.values() if torch.is_tensor(v)]
        return list(self.model.state_dict().values()) + opt_state

    def snapshot(self) -> list[torch.Tensor]:
        return [t.detach().clone() for t in self.state()]

    @torch.no_grad()
    def restore(self, snapshot: list[torch.Tensor]) -> None:
        live = self.state()
        if len(live) != len(snapshot):  # pragma: no cover - Adam's state exists after the warm-up
            raise RuntimeError(f"training state changed shape during the CUDA graph check ({len(snapshot)} -> "
                               f"{len(live)} tensors)")
        for t, saved in zip(live, snapshot):
            t.copy_(saved)  # in place: the graph keeps these addresses

    def capture(self) -> None:
        self._capture()

    def replay(self) -> torch.Tensor:
        self.graph.replay()
        return self.static_loss  # the caller copies it before the next replay

    def eager(self) -> torch.Tensor:
        return _eager_step(self.model, self.opt, self.data, self.static_idx, self.plan)

    def _side_stream(self, fn):
        if self.plan.device_type != "cuda":
            return fn()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = fn()
        torch.cuda.current_stream().wait_stream(side)
        return out

    def _capture(self) -> None:
        self.opt.zero_grad(set_to_none=True)  # gradients are then allocated inside the graph's pool
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            with _autocast(self.plan):
                loss = _batch_loss(self.model, self.data, self.static_idx)
            loss.backward()
            self.opt.step()
        self.static_loss = loss.detach()
        # keep the graph's gradient tensors alive even when an eager step later replaces ``.grad``
        self._keep = [p.grad for g in self.opt.param_groups for p in g["params"]]
        self.graph = graph

    def close(self) -> None:
        self.graph, self._keep = None, []


def _validate_epoch(model, val: PairedData, batch_size: int) -> dict[str, float]:
    """Validation loss and encoding/decoding AUC (all distractors) and their mean, in eval mode."""
    from .metrics import discriminative_auc  # local: keep `import vna.train` light

    rec = {"val_loss": model.eval_loss(val.images, val.responses, val.match, batch_size)}
    S = model.score(val.images, val.responses)
    aucs = []
    for task in ("encoding", "decoding"):
        if task == "encoding" and len(torch.unique(val.match)) < 2:
            continue
        rec[f"val_{task}_auc"] = discriminative_auc(S, val.match, task).mean
        aucs.append(rec[f"val_{task}_auc"])
    rec["val_mean_auc"] = sum(aucs) / len(aucs)
    return rec


def _channels_last(data: PairedData) -> PairedData:
    """``data`` with its images in channels-last memory format (a 4-D image tensor; other shapes as they are)."""
    if data.images.dim() != 4:
        return data
    return dataclasses.replace(data, images=data.images.contiguous(memory_format=torch.channels_last))


def _int_arg(name: str, value, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {value!r}")
    return value


def fit(
    model: torch.nn.Module,
    train: PairedData,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    val: PairedData | None = None,
    weight_decay: float = 0.0,
    patience: int | None = None,
    precision: str = "fp32",
    memory_format: str = "channels_last",
) -> History:
    """Train ``model`` (VNA: contrastive loss; direct baselines: MSE) with Adam on ``train``.

    Data live on ``device`` as tensors for the whole run; each epoch is a seeded shuffle of all pairs in
    mini-batches of ``batch_size``. The batch loop never waits for the device: losses are kept on it and
    checked once per epoch (a non-finite one is then reported with its batch). With ``val``, each epoch
    also records the validation loss and encoding/decoding AUC (all distractors) and their mean; with
    ``patience``, training stops after that many epochs without a better validation mean AUC, and the
    model keeps the weights of its best epoch (``History.best_epoch``). Deterministic on CPU for a seed.

    How the steps run is decided once by :func:`plan_steps` (``History.plan``). On CPU it is the plain
    loop; ``memory_format="contiguous"`` in fp32 is bit-identical to earlier versions of vna for a seed, and
    the default ``"channels_last"`` is faster with the same maths (numbers differ in the last bits, then
    drift as on another CPU). On CUDA: fused Adam, ``memory_format``, and the full-size step captured as a
    CUDA graph and replayed (the last, smaller batch of an epoch runs eagerly). The first captured step checks
    itself against an eager step from the same state and batch (:func:`check_graph_step`); a capture that
    fails or a graph that disagrees falls back to eager steps with one warning naming why
    (``History.plan.reason``). ``precision="bf16"`` runs the forward pass under bf16 autocast (CUDA, or a
    CPU with native bf16: :func:`cpu_bf16`; weights, Adam and evaluation stay fp32); its numbers differ from
    fp32 in the third digit, so keep the default for results compared with fp32 records.

    Raises:
        ValueError: on a bad argument or data that do not fit the model (the message names which).
        NonFiniteLossError: the loss became NaN/inf (the message names epoch and batch).
        CollapsedEmbeddingError: a contrastive model maps every input to one point (names the epoch).
    """
    if not isinstance(train, PairedData):
        raise ValueError(f"train must be a PairedData; got {type(train).__name__}")
    if val is not None and not isinstance(val, PairedData):
        raise ValueError(f"val must be a PairedData or None; got {type(val).__name__}")
    epochs = _int_arg("epochs", epochs, 1)
    batch_size = _int_arg("batch_size", batch_size, 2)
    lr = check_lr(lr)
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not 0 <= weight_decay <= 1:
        raise ValueError(f"weight_decay must be a number in [0, 1]; got {weight_decay!r}")
    if patience is not None:
        patience = _int_arg("patience", patience, 1)
        if val is None:
            raise ValueError("patience (early stopping) needs validation pairs: pass val=")
    precision = _check_precision(precision)
    if train.n_responses < 2:
        raise ValueError(f"train has {train.n_responses} pair(s); need at least 2")
    if hasattr(model, "check_pairs"):
        model.check_pairs(train, "train")
        if val is not None:
            model.check_pairs(val, "val")
    dev = resolve_device(device)
    plan = plan_steps(dev, precision, batch_size=batch_size, n_pairs=train.n_responses, epochs=epochs,
                      memory_format=memory_format)
    model.to(dev)
    data = train.to(dev)
    val_data = val.to(dev) if val is not None else None
    if plan.channels_last:
        model.to(memory_format=torch.channels_last)
        data = _channels_last(data)
        val_data = _channels_last(val_data) if val_data is not None else None
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _make_optimizer(params, plan, lr, weight_decay)
    graph_step = _GraphStep(model, opt, data, batch_size, plan) if plan.cuda_graph else None
    probe = torch.randperm(data.n_responses, generator=torch.Generator().manual_seed(seed))[:256].to(dev)
    history = History()
    history.plan = plan
    best, best_state, since_best = -math.inf, None, 0
    name = type(model).__name__
    bar = tqdm(range(1, epochs + 1), desc=name, disable=not progress, leave=False)
    try:
        for epoch in bar:
            t0 = time.perf_counter()
            model.train()
            batches = _batches(data.n_responses, batch_size, gen)
            if dev.type != "cpu":  # one host-to-device copy of the epoch's order, not one per batch
                batches = list(torch.cat(batches).to(dev).split([len(b) for b in batches]))
            losses = torch.empty(len(batches), device=dev)
            sizes = torch.tensor([len(b) for b in batches], dtype=losses.dtype, device=dev)
            for b, idx in enumerate(batches):
                if graph_step is not None:
                    losses[b] = graph_step.step(idx)
                else:
                    losses[b] = _eager_step(model, opt, data, idx, plan)
            rec = _finish_epoch(model, data, val_data, losses, sizes, probe, epoch, name, lr, batch_size)
            if val_data is not None:
                if rec["val_mean_auc"] > best:
                    best, since_best, history.best_epoch = rec["val_mean_auc"], 0, epoch
                    if patience is not None:
                        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    since_best += 1
            rec["seconds"] = time.perf_counter() - t0
            history.append(rec)
            bar.set_postfix({k: f"{v:.4g}" for k, v in rec.items() if k in ("loss", "val_loss", "val_mean_auc")})
            if patience is not None and since_best >= patience:
                break
    finally:
        if graph_step is not None:
            graph_step.close()
            opt.zero_grad(set_to_none=True)  # the last gradients lived in the graph's memory pool
        if plan.channels_last:
            model.to(memory_format=torch.contiguous_format)
    if graph_step is not None and graph_step.failed is not None:
        history.plan = dataclasses.replace(plan, cuda_graph=False, reason=f"eager: {graph_step.failed}")
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        history.best_epoch = history[-1]["epoch"]
    model.eval()
    return history


def _collapse_hint(model, train: PairedData, val: PairedData | None, lr: float) -> str:
    """The likely cause of a collapse, from the settings: a tiny latent space, a validation part that left too
    few training pairs, or a high learning rate (issue 21)."""
    head = getattr(getattr(model, "image_encoder", None), "head", None)
    latent = getattr(head, "out_features", None)
    n_val = val.n_responses if val is not None else 0
    if latent is not None and latent <= 2:
        return f"the shared space has latent_dim={latent}; try latent_dim >= 8 (default 128)"
    if n_val > train.n_responses:
        return (f"only {train.n_responses} training pairs are left beside {n_val} validation pairs; lower "
                "val_fraction")
    if lr > 1e-3:
        return f"try a lower learning rate (lr={lr}; the default is 0.001)"
    return (f"lr={lr} is not high; try another seed, a larger batch_size or more training pairs "
            f"({train.n_responses} now)")


def _finish_epoch(model, data: PairedData, val_data: PairedData | None, losses: torch.Tensor, sizes: torch.Tensor,
                  probe: torch.Tensor, epoch: int, name: str, lr: float, batch_size: int) -> dict[str, Any]:
    """The epoch's record after its batch loop: the one host synchronisation (a non-finite loss is then
    reported with its first bad batch), the collapse check, and validation."""
    finite = torch.isfinite(losses)
    if not bool(finite.all()):  # the one host synchronisation of the epoch
        first = int((~finite).nonzero()[0])
        raise NonFiniteLossError(
            f"{name}: loss became {float(losses[first])} at epoch {epoch}, batch {first}; try a lower "
            f"learning rate (lr={lr}) or check the data for extreme values"
        )
    rec: dict[str, Any] = {"epoch": epoch, "loss": float((losses * sizes).sum() / sizes.sum())}
    if hasattr(model, "collapsed"):
        m = data.match[probe]
        which = model.collapsed(data.images[m], data.responses[probe])
        if which is not None:
            raise CollapsedEmbeddingError(
                f"{name}: every {which} maps to one embedding after epoch {epoch} (training diverged; "
                f"the loss is stuck at {rec['loss']:.4g}); {_collapse_hint(model, data, val_data, lr)}"
            )
    if val_data is not None:
        rec.update(_validate_epoch(model, val_data, batch_size))
    return rec
