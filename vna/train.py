"""Training for all three methods (paper section 4.3: Adam on mini-batches of pairs): :func:`fit`.

:func:`fit` is the loop, top to bottom; the helpers it calls follow it in the order it calls them. How a step
runs on a device (precision, memory layout, and on CUDA a captured step) is decided once, before the loop, by
:func:`plan_steps` (its :class:`StepPlan` is kept in ``History.plan``); the CUDA speed-up lives in
:mod:`vna.cuda_graph`. Saving and loading models are in :mod:`vna.methods`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from typing import Any, Mapping

import pandas as pd
import torch
from tqdm.auto import tqdm

from .cuda_graph import GraphStep
from .cuda_graph import plan as _graph_plan
from .data.paired import PairedData

__all__ = ["fit", "train_step", "History", "TrainingDivergedError", "NonFiniteLossError",
           "CollapsedEmbeddingError", "resolve_device", "check_lr", "StepPlan", "plan_steps", "PRECISIONS",
           "MEMORY_FORMATS", "cpu_bf16", "check_precision"]


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
    mini-batches of ``batch_size``, one :func:`train_step` each. The batch loop never waits for the device:
    losses are kept on it and checked once per epoch (a non-finite one is then reported with its batch). With
    ``val``, each epoch also records the validation loss and encoding/decoding AUC (all distractors) and their
    mean; with ``patience``, training stops after that many epochs without a better validation mean AUC, and
    the model keeps the weights of its best epoch (``History.best_epoch``). Deterministic on CPU for a seed.

    ``memory_format``: ``"channels_last"`` (default, faster) or ``"contiguous"`` (bit-identical to earlier
    versions of vna for a seed on CPU in fp32); same maths, other rounding (:data:`MEMORY_FORMATS`).
    ``precision="bf16"`` runs the forward pass under bf16 autocast (CUDA, or a CPU with native bf16:
    :func:`cpu_bf16`; weights, Adam and evaluation stay fp32); its numbers differ from fp32 in the third
    digit. How the steps run is decided once by :func:`plan_steps` and kept in ``History.plan``.

    Raises:
        ValueError: on a bad argument or data that do not fit the model (the message names which).
        NonFiniteLossError: the loss became NaN/inf (the message names epoch and batch).
        CollapsedEmbeddingError: a contrastive model maps every input to one point (names the epoch).
    """
    epochs, batch_size, lr, patience = _check_fit(model, train, val, epochs, batch_size, lr, weight_decay,
                                                  patience, precision)
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
    gen = torch.Generator().manual_seed(seed)  # the order of the pairs, epoch after epoch
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _make_optimizer(params, plan, lr, weight_decay)
    step = _steps(model, opt, data, batch_size, plan)  # train_step, batch by batch
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
                losses[b] = step(idx)
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
        history.plan = step.close()
        if plan.channels_last:
            model.to(memory_format=torch.contiguous_format)
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        history.best_epoch = history[-1]["epoch"]
    model.eval()
    return history


def train_step(model, opt, data: PairedData, idx: torch.Tensor, plan: StepPlan) -> torch.Tensor:
    """One step of Adam on the pairs ``idx`` of ``data``: the loss, its gradients, the update. Returns the
    detached loss (on the device). In fp32 exactly the loop of old: loss, zero_grad(set_to_none), backward,
    Adam step."""
    loss = _batch_loss(model, data, idx, plan)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


def _batch_loss(model, data: PairedData, idx: torch.Tensor, plan: StepPlan | None = None) -> torch.Tensor:
    """The model's training loss on the pairs ``idx`` (response ``j`` with the image ``match[j]`` that evoked
    it), under bf16 autocast where ``plan`` says so."""
    m = data.match[idx]
    with _autocast(plan):
        return model.loss(data.images[m], data.responses[idx], m)


def _batches(n: int, batch_size: int, gen: torch.Generator) -> list[torch.Tensor]:
    """A seeded shuffle cut into batches; a last batch of one pair is dropped (BatchNorm needs two)."""
    perm = torch.randperm(n, generator=gen)
    out = list(perm.split(batch_size))
    if len(out) > 1 and len(out[-1]) < 2:
        out.pop()
    return out


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


def _collapse_hint(model, train: PairedData, val: PairedData | None, lr: float) -> str:
    """The likely cause of a collapse, from the settings: a tiny latent space, a validation part that left too
    few training pairs, or a high learning rate."""
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


def _channels_last(data: PairedData) -> PairedData:
    """``data`` with its images in channels-last memory format (a 4-D image tensor; other shapes as they are)."""
    if data.images.dim() != 4:
        return data
    return dataclasses.replace(data, images=data.images.contiguous(memory_format=torch.channels_last))


class _EagerSteps:
    """The steps of a run as :func:`train_step` calls, one per batch (every run without a CUDA graph)."""

    def __init__(self, model, opt, data: PairedData, plan: StepPlan):
        self.model, self.opt, self.data, self.plan = model, opt, data, plan

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        return train_step(self.model, self.opt, self.data, idx, self.plan)

    def close(self) -> StepPlan:
        return self.plan


def _steps(model, opt, data: PairedData, batch_size: int, plan: StepPlan):
    """What :func:`fit` calls on each batch (the batch's indices -> its detached loss; ``close()`` -> the plan
    the run had): :func:`train_step`, or where ``plan`` says so its CUDA-graph replay (:mod:`vna.cuda_graph`),
    which computes the same step and falls back to :func:`train_step` by itself."""
    if plan.cuda_graph:
        return GraphStep(model, opt, data, batch_size, plan,
                         eager=lambda idx: train_step(model, opt, data, idx, plan),
                         loss=lambda idx: _batch_loss(model, data, idx, plan))
    return _EagerSteps(model, opt, data, plan)


# --------------------------------------------------------------------------- arguments, results, errors
def _check_fit(model, train, val, epochs, batch_size, lr, weight_decay, patience, precision):
    """``fit``'s arguments checked (a ValueError names the bad one): ``(epochs, batch_size, lr, patience)``."""
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
    _check_precision(precision)
    if train.n_responses < 2:
        raise ValueError(f"train has {train.n_responses} pair(s); need at least 2")
    if hasattr(model, "check_pairs"):
        model.check_pairs(train, "train")
        if val is not None:
            model.check_pairs(val, "val")
    return epochs, batch_size, lr, patience


def _int_arg(name: str, value, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {value!r}")
    return value


def check_lr(lr) -> float:
    """``lr`` as a float, or a ValueError naming it: Adam moves each weight by about ``lr`` per step, so a
    value above 1 can only diverge (1e12 trains to chance, 1e38 overflows float32)."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 1:
        raise ValueError(f"lr must be a finite number in (0, 1]; got {lr!r}")
    return float(lr)


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


class History(list):
    """Per-epoch records (``epoch``, ``loss``, ``seconds`` and, with ``val``, ``val_loss`` and val AUCs).

    ``best_epoch``: the epoch whose weights the model holds at the end (the last one without early stopping).
    ``plan``: how the training steps ran (:class:`StepPlan`: eager or CUDA graph, precision, and why).
    """

    best_epoch: int | None = None
    plan: "StepPlan | None" = None

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self))


class TrainingDivergedError(RuntimeError):
    """Training went wrong in a way no later epoch can repair (the message names the epoch)."""


class NonFiniteLossError(TrainingDivergedError, FloatingPointError):
    """The training loss became NaN or infinite (the message names the epoch and the first bad batch)."""


class CollapsedEmbeddingError(TrainingDivergedError):
    """Every input maps to one embedding: a contrastive model that diverged (the message names the epoch)."""


# ---------------------------------------------------------------------------------------------- step plan
#: ``fit(precision=...)``: ``"fp32"`` (default; what every record so far used) or ``"bf16"`` (autocast).
PRECISIONS = ("fp32", "bf16")

#: ``fit(memory_format=...)``: how the image batches and the convolution weights lie in memory.
#: ``"channels_last"`` (default) is oneDNN's and cuDNN's fast layout for these small convolutions (1.1-1.2x
#: per CPU training step, benchmarks/bench_core.py); ``"contiguous"`` is PyTorch's default layout. Both compute
#: the same maths, but the kernels sum in another order, so numbers differ in the last bits and then drift
#: apart over training like runs on two CPUs: a record's key names the layout.
MEMORY_FORMATS = ("channels_last", "contiguous")


@dataclasses.dataclass(frozen=True)
class StepPlan:
    """How :func:`fit` runs its training steps on one device (decided once per call by :func:`plan_steps`).

    * ``autocast``: bf16 autocast around the forward pass (``precision="bf16"``); fp32 runs have none.
    * ``channels_last``: model and images in channels-last memory format (``memory_format``; CPU and CUDA).
    * ``fused_adam`` / ``capturable_adam``: Adam's fused CUDA kernel, capturable when a graph is captured.
      On CPU Adam is built exactly as before (PyTorch's default single-tensor implementation), so CPU fp32
      training is bit-identical to the plain loop.
    * ``cuda_graph``: full-size steps are captured once as a CUDA graph and replayed
      (:mod:`vna.cuda_graph`); ``reason`` says why the graph is or is not used.
    """

    device_type: str
    precision: str = "fp32"
    autocast: bool = False
    channels_last: bool = False
    fused_adam: bool = False
    capturable_adam: bool = False
    cuda_graph: bool = False
    reason: str = ""


def plan_steps(device: str | torch.device, precision: str = "fp32", *, batch_size: int, n_pairs: int,
               epochs: int = 1, cuda_graphs: bool | None = None, memory_format: str = "channels_last",
               cpu_capabilities: Mapping[str, Any] | None = None) -> StepPlan:
    """The :class:`StepPlan` of a run on ``device`` (a pure function: it never touches the device).

    CPU: the plain eager loop, in ``memory_format``; ``precision="bf16"`` (autocast) only on a CPU with
    native bf16 instructions (:func:`cpu_bf16`; ``cpu_capabilities`` is a stand-in for tests), refused
    elsewhere with a ValueError, since emulated bf16 is slower than fp32. CUDA: fused Adam, ``memory_format``,
    bf16 autocast on request, and a CUDA graph of the full-size step where :func:`vna.cuda_graph.plan` says so
    (``cuda_graphs=False`` or ``VNA_CUDA_GRAPHS=0`` turns it off). MPS: eager, fp32, contiguous.
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
    graph, reason = _graph_plan(batch_size, n_pairs, epochs, cuda_graphs)
    return StepPlan("cuda", precision, autocast=bf16, channels_last=channels_last, fused_adam=True,
                    capturable_adam=graph, cuda_graph=graph, reason=reason)


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


def _autocast(plan: StepPlan | None):
    """The forward pass's autocast context (none for fp32, so fp32 runs the plain ops)."""
    if plan is None or not plan.autocast:
        return contextlib.nullcontext()
    return torch.autocast(plan.device_type, dtype=torch.bfloat16, cache_enabled=False)


def _make_optimizer(params, plan: StepPlan, lr: float, weight_decay: float) -> torch.optim.Adam:
    extra: dict[str, Any] = {}
    if plan.fused_adam:
        extra["fused"] = True
    if plan.capturable_adam:
        extra["capturable"] = True
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **extra)
