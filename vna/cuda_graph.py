"""The training step as a CUDA graph: a speed-up of :func:`vna.train.fit` on CUDA, same maths.

On a GPU the full-size training step (forward, backward and a fused Adam step) is captured once as a CUDA
graph and replayed, so the GPU does not wait on Python. :func:`plan` decides whether a run uses the graph
(:func:`vna.train.plan_steps` asks it); :class:`GraphStep` runs the steps: ``CUDA_GRAPH_WARMUP`` eager
warm-up steps, one capture checked against an eager step (:func:`check_graph_step`), then replays; smaller
batches (the last of an epoch) run eagerly. A capture that fails or a graph that disagrees falls back to
eager steps with one warning naming why. ``VNA_CUDA_GRAPHS=0`` turns graphs off.
"""
from __future__ import annotations

import dataclasses
import math
import os
import warnings
from typing import Callable

import torch

__all__ = ["plan", "GraphStep", "check_graph_step", "GRAPH_CHECK_TOLERANCE", "CUDA_GRAPH_WARMUP"]

#: Full-size training steps run eagerly (on a side stream) before the CUDA graph is captured: they are
#: real steps of the run, and they create Adam's state and warm up cuDNN/cuBLAS before capture.
CUDA_GRAPH_WARMUP = 3

#: The self-check's tolerance (``torch.allclose``: ``|graph - eager| <= atol + rtol * |eager|``, elementwise)
#: between the first captured step and an eager step from the same state and batch: the loss and every
#: updated parameter and buffer. The graph replays the eager step's own kernels on the same inputs, so the two
#: agree to float rounding (atomics in a backward kernel can reorder a sum); a wrong graph (a stale batch
#: buffer, a missed Adam step, a cached cast) is off by a whole update, about ``lr`` (1e-3) per weight.
GRAPH_CHECK_TOLERANCE = {"fp32": {"rtol": 1e-5, "atol": 1e-6}, "bf16": {"rtol": 1e-3, "atol": 1e-4}}


def _graphs_enabled() -> bool:
    """``VNA_CUDA_GRAPHS=0`` (or ``false``/``no``/``off``) turns CUDA graph capture off (debugging, profiling)."""
    return os.environ.get("VNA_CUDA_GRAPHS", "1").strip().lower() not in ("0", "false", "no", "off")


def plan(batch_size: int, n_pairs: int, epochs: int, cuda_graphs: bool | None = None) -> tuple[bool, str]:
    """``(use the graph, why)`` for a CUDA run: a graph needs at least one full-size batch per epoch and more
    full-size steps in the run than the eager warm-up; ``cuda_graphs=False`` or ``VNA_CUDA_GRAPHS=0`` turn
    it off. A pure function: it never touches the device."""
    enabled = _graphs_enabled() if cuda_graphs is None else bool(cuda_graphs)
    full_steps = (n_pairs // batch_size) * epochs
    if not enabled:
        return False, "eager: CUDA graphs turned off (cuda_graphs=False or VNA_CUDA_GRAPHS=0)"
    if not hasattr(torch.cuda, "CUDAGraph"):
        return False, "eager: this PyTorch has no torch.cuda.CUDAGraph"
    if n_pairs < batch_size:
        return False, f"eager: {n_pairs} pairs are fewer than one batch of {batch_size} (no static shape)"
    if full_steps <= CUDA_GRAPH_WARMUP:
        return False, (f"eager: {full_steps} full-size step(s) in the run, not more than the "
                       f"{CUDA_GRAPH_WARMUP} warm-up steps a graph needs")
    return True, (f"CUDA graph of the batch-{batch_size} step after {CUDA_GRAPH_WARMUP} eager "
                  "warm-up steps; smaller batches eager")


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

    ``step`` is the capture object (:class:`GraphStep`, or a stand-in in the tests) with ``snapshot()``
    (copies of the training state), ``restore(snapshot)`` (copied back in place), ``capture()``,
    ``replay()`` (the captured step once; its loss), ``eager()`` (the plain step on the same batch; its loss)
    and ``state()`` (the live tensors a step updates: parameters, buffers). The captured step is replayed
    once from the state before it, the state is put back and the eager step runs from it: both losses and
    updated states are compared within :data:`GRAPH_CHECK_TOLERANCE` of ``precision``. Whatever the outcome,
    the run continues from the *eager* step's state and loss, so a bad graph never leaves a trace in it.
    """
    if precision not in GRAPH_CHECK_TOLERANCE:
        raise ValueError(f"precision must be one of {', '.join(map(repr, GRAPH_CHECK_TOLERANCE))}; got {precision!r}")
    tol = GRAPH_CHECK_TOLERANCE[precision]
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


class GraphStep:
    """The training steps of one :func:`vna.train.fit` run with the full-size step as a CUDA graph: eager
    warm-up steps on a side stream, one capture (forward, backward and the capturable fused Adam step, with
    the batch's indices in a static buffer) checked against an eager step (:func:`check_graph_step`), then
    replays. A capture that fails or a graph that disagrees leaves ``failed`` set (one warning) and training
    continues eagerly. Called with a batch's indices, it returns the batch's detached loss; :meth:`close`
    frees the graph and returns the run's plan (a :class:`vna.train.StepPlan`; without the graph when it failed).

    ``eager(idx)`` is the plain step (:func:`vna.train.train_step` on the batch ``idx``: its detached loss) and
    ``loss(idx)`` its forward pass (the batch's loss, under autocast when planned), captured with the backward
    pass and ``opt``'s step; ``model``, ``data`` (the run's :class:`~vna.data.PairedData`) and ``plan`` are the
    run's."""

    def __init__(self, model, opt, data, batch_size: int, plan, *, eager: Callable[[torch.Tensor], torch.Tensor],
                 loss: Callable[[torch.Tensor], torch.Tensor], warmup: int = CUDA_GRAPH_WARMUP):
        self.model, self.opt, self.data, self.plan = model, opt, data, plan
        self.eager_step, self.loss = eager, loss
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

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        route = self.route(len(idx))
        if route == "eager":
            return self.eager_step(idx)
        if route == "warmup":
            self.warmup_left -= 1
            return self._side_stream(lambda: self.eager_step(idx))
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

    def close(self):
        """Free the graph (and the gradients that lived in its memory pool); the plan the run really had."""
        self.graph, self._keep = None, []
        self.opt.zero_grad(set_to_none=True)
        if self.failed is not None:
            return dataclasses.replace(self.plan, cuda_graph=False, reason=f"eager: {self.failed}")
        return self.plan

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
        return self.eager_step(self.static_idx)

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
            loss = self.loss(self.static_idx)
            loss.backward()
            self.opt.step()
        self.static_loss = loss.detach()
        # keep the graph's gradient tensors alive even when an eager step later replaces ``.grad``
        self._keep = [p.grad for g in self.opt.param_groups for p in g["params"]]
        self.graph = graph
