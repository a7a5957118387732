"""The fast training step (issue 10): CPU fp32 bit-identity with the plain loop, the step plan (CUDA graph,
channels-last, fused Adam, bf16 autocast) and its fallbacks, and non-finite losses named by their batch.

The CUDA graph itself needs a GPU; its routing (warm-up, capture, replay, eager last batch, a failed capture)
is tested on CPU with a stand-in graph that runs the same eager step, so the loss curve must stay bit-identical.
"""
from __future__ import annotations

import math
import warnings

import pytest
import torch

import vna
import vna.cuda_graph as graph_mod
import vna.train as train_mod
from vna import RunConfig, build_model
from vna.data import PairedData
from vna.train import NonFiniteLossError, StepPlan, fit, plan_steps

from planted import planted

METHODS = ("vna", "direct_encoder", "direct_decoder")
NO_GPU = "needs a CUDA GPU: torch.cuda.is_available() is False on this machine"


# ------------------------------------------------------------------------------ the loop as it was (frozen)
# A verbatim copy of vna.train.fit's floating-point path before the fast step (vna 50c3297): the same
# shuffle, batch loss, step order (loss, zero_grad(set_to_none), backward, Adam.step), default CPU Adam,
# validation and early stopping. The grid's records were made with it; fit must reproduce it bit for bit.
def _ref_batches(n, batch_size, gen):
    perm = torch.randperm(n, generator=gen)
    out = list(perm.split(batch_size))
    if len(out) > 1 and len(out[-1]) < 2:
        out.pop()
    return out


def _ref_batch_loss(model, data, idx):
    m = data.match[idx]
    return model.loss(data.images[m], data.responses[idx], m)


def _ref_validate_epoch(model, val, batch_size):
    from vna.metrics import discriminative_auc

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


def reference_fit(model, train, *, epochs, batch_size=64, lr=1e-3, seed=0, val=None, weight_decay=0.0,
                  patience=None):
    dev = torch.device("cpu")
    model.to(dev)
    data = train.to(dev)
    val_data = val.to(dev) if val is not None else None
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    probe = torch.randperm(data.n_responses, generator=torch.Generator().manual_seed(seed))[:256].to(dev)
    history, best_epoch = [], None
    best, best_state, since_best = -math.inf, None, 0
    for epoch in range(1, epochs + 1):
        model.train()
        batches = _ref_batches(data.n_responses, batch_size, gen)
        losses = torch.empty(len(batches), device=dev)
        sizes = torch.tensor([len(b) for b in batches], dtype=losses.dtype, device=dev)
        for b, idx in enumerate(batches):
            loss = _ref_batch_loss(model, data, idx.to(dev, non_blocking=True))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses[b] = loss.detach()
        assert bool(torch.isfinite(losses).all())
        rec = {"epoch": epoch, "loss": float((losses * sizes).sum() / sizes.sum())}
        if hasattr(model, "collapsed"):
            m = data.match[probe]
            assert model.collapsed(data.images[m], data.responses[probe]) is None
        if val_data is not None:
            rec.update(_ref_validate_epoch(model, val_data, batch_size))
            if rec["val_mean_auc"] > best:
                best, since_best, best_epoch = rec["val_mean_auc"], 0, epoch
                if patience is not None:
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                since_best += 1
        history.append(rec)
        if patience is not None and since_best >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch = history[-1]["epoch"]
    model.eval()
    return history, best_epoch


def _records(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def _assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k


@pytest.fixture(scope="module")
def small():
    """60 training pairs (batches of 16, 16, 16 and a smaller last one of 12) and 24 validation pairs."""
    return planted(n_images=20, n_trials=3, seed=3), planted(n_images=8, n_trials=3, seed=3, image_offset=500)


def _model(method, data, seed=5):
    return build_model(RunConfig(method=method, latent_dim=16, seed=seed, device="cpu"), data.n_neurons)


# ------------------------------------------------------------------------------------ CPU fp32 bit-identity
@pytest.mark.parametrize("method", METHODS)
def test_cpu_fp32_fit_is_bit_identical_to_the_plain_loop(method, small):
    train, val = small
    kwargs = dict(epochs=3, batch_size=16, lr=1e-3, seed=5, val=val, patience=1,
                  weight_decay=1e-4 if method == "direct_decoder" else 0.0)
    ref_model, new_model = _model(method, train), _model(method, train)
    ref_hist, ref_best = reference_fit(ref_model, train, **kwargs)
    hist = fit(new_model, train, device="cpu", progress=False, memory_format="contiguous", **kwargs)
    assert _records(hist) == ref_hist  # loss curve, val loss and val AUCs: equal floats, not close ones
    assert hist.best_epoch == ref_best
    _assert_same_state(new_model, ref_model)
    assert hist.plan == StepPlan("cpu", "fp32", reason=hist.plan.reason) and not hist.plan.cuda_graph


@pytest.mark.parametrize("method", METHODS)
def test_channels_last_computes_the_same_maths_in_another_order(method, small):
    """The default layout: one batch's loss equals the contiguous layout's to float rounding (the kernels sum
    in another order, so the floats differ in the last bits), training stays within rounding drift of the plain
    loop, and the model ends in the contiguous layout."""
    train, val = small
    ref_model, new_model = _model(method, train), _model(method, train)
    idx = torch.arange(16)
    contiguous = train_mod._batch_loss(ref_model.train(), train, idx)
    channels_last = train_mod._batch_loss(new_model.train().to(memory_format=torch.channels_last),
                                          train_mod._channels_last(train), idx)
    # rounding, amplified by train-mode BatchNorm (a batch of 16); a layout mix-up would be off by O(1)
    assert float(channels_last.detach()) == pytest.approx(float(contiguous.detach()), rel=1e-3)
    ref_model, new_model = _model(method, train), _model(method, train)
    ref_hist, _ = reference_fit(ref_model, train, epochs=1, batch_size=16, seed=5)
    hist = fit(new_model, train, epochs=1, batch_size=16, seed=5, device="cpu", progress=False)
    assert hist.plan.channels_last and "channels-last" in hist.plan.reason
    assert hist[0]["loss"] == pytest.approx(ref_hist[0]["loss"], rel=1e-3)
    assert all(p.is_contiguous() for p in new_model.parameters())


def test_cpu_fp32_without_validation_is_bit_identical(small):
    train, _ = small
    ref_model, new_model = _model("vna", train, seed=2), _model("vna", train, seed=2)
    ref_hist, _ = reference_fit(ref_model, train, epochs=2, batch_size=32, seed=2)
    hist = fit(new_model, train, epochs=2, batch_size=32, seed=2, device="cpu", progress=False,
               memory_format="contiguous")
    assert _records(hist) == ref_hist
    _assert_same_state(new_model, ref_model)


def test_cpu_adam_is_the_default_single_tensor_adam():
    plan = plan_steps("cpu", batch_size=64, n_pairs=1000, epochs=5)
    p = torch.nn.Parameter(torch.zeros(3))
    opt = train_mod._make_optimizer([p], plan, 1e-3, 0.0)
    assert opt.defaults["fused"] is None and opt.defaults["foreach"] is None and not opt.defaults["capturable"]


# ------------------------------------------------------------------------------------------- the step plan
NATIVE_BF16 = {"cpu_name": "stand-in Xeon", "avx512_bf16": True, "amx_bf16": True}
NO_BF16 = {"cpu_name": "stand-in EPYC", "avx2": True, "avx512_bf16": False, "amx_bf16": False}


def test_plan_on_cpu_is_the_plain_loop():
    plan = plan_steps("cpu", batch_size=64, n_pairs=160_000, epochs=50)
    assert (plan.device_type, plan.precision, plan.autocast, plan.channels_last, plan.fused_adam,
            plan.capturable_adam, plan.cuda_graph) == ("cpu", "fp32", False, True, False, False, False)
    assert not plan_steps("cpu", batch_size=64, n_pairs=100, memory_format="contiguous").channels_last
    assert plan_steps("cpu", "bf16", batch_size=64, n_pairs=100, cpu_capabilities=NATIVE_BF16).autocast


@pytest.mark.parametrize("caps, native", [(NATIVE_BF16, "AMX-BF16"), ({"avx512_bf16": True}, "AVX512-BF16"),
                                          (NO_BF16, None), ({}, None)])
def test_cpu_bf16_names_the_native_instructions(caps, native):
    assert train_mod.cpu_bf16(caps) == native


def test_bf16_is_offered_on_a_cpu_with_native_bf16():
    plan = plan_steps("cpu", "bf16", batch_size=64, n_pairs=100, cpu_capabilities={"avx512_bf16": True})
    assert plan.precision == "bf16" and plan.autocast


def test_bf16_is_refused_on_a_cpu_without_native_bf16():
    with pytest.raises(ValueError, match=r"precision='bf16' on this CPU \(stand-in EPYC\) would be emulated, "
                                         r"which is slower than fp32: it has neither AVX512-BF16 nor AMX-BF16"):
        plan_steps("cpu", "bf16", batch_size=64, n_pairs=100, cpu_capabilities=NO_BF16)
    assert plan_steps("cpu", "fp32", batch_size=64, n_pairs=100, cpu_capabilities=NO_BF16).precision == "fp32"
    assert plan_steps("cuda", "bf16", batch_size=64, n_pairs=100, cpu_capabilities=NO_BF16).autocast  # GPUs have it


def test_fit_and_the_command_line_refuse_bf16_on_a_cpu_without_it(monkeypatch, small, capsys):
    from vna.cli import main

    monkeypatch.setattr(train_mod, "_cpu_capabilities", lambda: dict(NO_BF16))
    train, _ = small
    with pytest.raises(ValueError, match="neither AVX512-BF16 nor AMX-BF16"):
        fit(_model("vna", train), train, epochs=1, device="cpu", progress=False, precision="bf16")
    code = main(["reproduce", "--datasets", "simulated", "--seeds", "0", "--device", "cpu", "--precision", "bf16",
                 "--dry-run"])
    err = capsys.readouterr().err
    assert code != 0 and "neither AVX512-BF16 nor AMX-BF16" in err and "Traceback" not in err


def test_bad_memory_format_is_named(small):
    train, _ = small
    with pytest.raises(ValueError, match="memory_format must be one of 'channels_last', 'contiguous'; got 'nhwc'"):
        fit(_model("vna", train), train, epochs=1, device="cpu", progress=False, memory_format="nhwc")


@pytest.fixture
def native_bf16(monkeypatch):
    """bf16 on this CPU whatever it has: emulated bf16 computes the same, only slower (the tests check the maths)."""
    monkeypatch.setattr(train_mod, "_cpu_capabilities", lambda: dict(NATIVE_BF16))


def test_plan_on_cuda_captures_full_size_steps(monkeypatch):
    monkeypatch.delenv("VNA_CUDA_GRAPHS", raising=False)
    plan = plan_steps("cuda", batch_size=64, n_pairs=160_000, epochs=1)  # pure: no GPU needed to decide
    assert plan.cuda_graph and plan.capturable_adam and plan.fused_adam and plan.channels_last
    assert not plan.autocast and "CUDA graph" in plan.reason
    assert plan_steps("cuda:1", "bf16", batch_size=64, n_pairs=1000).autocast


@pytest.mark.parametrize("why, kwargs, words", [
    ("no full-size batch", dict(batch_size=64, n_pairs=40, epochs=100), "fewer than one batch"),
    ("too few full-size steps", dict(batch_size=64, n_pairs=130, epochs=1), "warm-up"),
    ("turned off", dict(batch_size=64, n_pairs=10_000, epochs=5, cuda_graphs=False), "turned off"),
])
def test_plan_on_cuda_falls_back_to_eager(why, kwargs, words):
    plan = plan_steps("cuda", **kwargs)
    assert not plan.cuda_graph and not plan.capturable_adam and plan.fused_adam, why
    assert plan.reason.startswith("eager") and words in plan.reason, plan.reason


@pytest.mark.parametrize("value, graphs", [("0", False), ("false", False), ("No", False), (" OFF ", False),
                                           ("1", True), ("yes", True), ("", True)])
def test_env_turns_cuda_graphs_off(monkeypatch, value, graphs):
    monkeypatch.setenv("VNA_CUDA_GRAPHS", value)
    assert plan_steps("cuda", batch_size=64, n_pairs=10_000, epochs=5).cuda_graph is graphs


def test_bad_precision_is_named(small):
    train, _ = small
    with pytest.raises(ValueError, match="precision must be one of 'fp32', 'bf16'; got 'fp16'"):
        fit(_model("vna", train), train, epochs=1, device="cpu", progress=False, precision="fp16")
    with pytest.raises(ValueError, match="precision='bf16' is supported on cpu and cuda"):
        plan_steps("mps", "bf16", batch_size=64, n_pairs=100)
    assert not plan_steps("mps", batch_size=64, n_pairs=10_000).cuda_graph


# --------------------------------------------------------------- graph routing on CPU (stand-in graph)
class _StandInGraph:
    """Replays by running the eager step on the graph's static index buffer (what a captured graph does)."""

    def __init__(self, step):
        self.step, self.replays = step, 0

    def replay(self):
        self.replays += 1
        s = self.step
        s.static_loss = train_mod.train_step(s.model, s.opt, s.data, s.static_idx, s.plan)


def _graph_plan_on_cpu(monkeypatch, capture):
    """fit on CPU, but planned as if CUDA graphs applied; ``capture`` replaces the real capture."""
    routes, real_plan, real_route = [], train_mod.plan_steps, graph_mod.GraphStep.route

    def plan(*args, **kwargs):
        p = real_plan(*args, **kwargs)
        return StepPlan(p.device_type, p.precision, autocast=p.autocast, cuda_graph=True, reason="test")

    def route(self, n):
        r = real_route(self, n)
        routes.append(r)
        return r

    monkeypatch.setattr(train_mod, "plan_steps", plan)
    monkeypatch.setattr(graph_mod.GraphStep, "route", route)
    monkeypatch.setattr(graph_mod.GraphStep, "_capture", capture)
    return routes


def test_graph_routing_warms_up_captures_replays_and_runs_the_last_batch_eagerly(monkeypatch, small):
    train, val = small

    def capture(self):
        self.graph = _StandInGraph(self)

    routes = _graph_plan_on_cpu(monkeypatch, capture)
    ref_model, new_model = _model("vna", train), _model("vna", train)
    ref_hist, _ = reference_fit(ref_model, train, epochs=3, batch_size=16, seed=5, val=val)
    hist = fit(new_model, train, epochs=3, batch_size=16, seed=5, val=val, device="cpu", progress=False)
    # 60 pairs in batches of 16, 16, 16, 12: 9 full-size steps and 3 smaller ones in 3 epochs
    assert routes == (["warmup"] * 3 + ["eager"] + ["capture", "replay", "replay", "eager"]
                      + ["replay"] * 3 + ["eager"])
    assert _records(hist) == ref_hist  # the static index buffer carried each batch exactly
    _assert_same_state(new_model, ref_model)


def test_failed_capture_falls_back_to_eager_steps_with_a_warning(monkeypatch, small):
    train, _ = small

    def capture(self):
        raise RuntimeError("operation not permitted when stream is capturing (planted)")

    routes = _graph_plan_on_cpu(monkeypatch, capture)
    ref_model, new_model = _model("direct_encoder", train), _model("direct_encoder", train)
    ref_hist, _ = reference_fit(ref_model, train, epochs=2, batch_size=16, seed=5)
    with pytest.warns(RuntimeWarning, match="CUDA graph capture of the training step failed"):
        hist = fit(new_model, train, epochs=2, batch_size=16, seed=5, device="cpu", progress=False)
    assert routes.count("capture") == 1 and "replay" not in routes  # tried once, then eager for good
    assert not hist.plan.cuda_graph and "capture failed" in hist.plan.reason and "planted" in hist.plan.reason
    assert _records(hist) == ref_hist
    _assert_same_state(new_model, ref_model)


def test_a_real_capture_without_cuda_fails_cleanly(monkeypatch, small):
    """Without CUDA, torch.cuda.CUDAGraph cannot even be built: the real capture code must fall back."""
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA, so the capture would succeed")
    train, _ = small
    _graph_plan_on_cpu(monkeypatch, graph_mod.GraphStep._capture)
    ref_model, new_model = _model("vna", train), _model("vna", train)
    ref_hist, _ = reference_fit(ref_model, train, epochs=2, batch_size=16, seed=5)
    with pytest.warns(RuntimeWarning, match="capture"):
        hist = fit(new_model, train, epochs=2, batch_size=16, seed=5, device="cpu", progress=False)
    assert _records(hist) == ref_hist
    _assert_same_state(new_model, ref_model)


# ------------------------------------------------------ the graph's self-check (stand-in capture objects)
class _StandInCapture:
    """A capture object for check_graph_step: one weight vector trained by SGD on a fixed batch. ``replay``
    runs the step as a graph would, with ``graph_error`` added to the update and ``loss_error`` to the
    loss (a wrong graph); ``fail`` makes the capture raise."""

    def __init__(self, graph_error=0.0, loss_error=0.0, fail=None):
        self.w = torch.linspace(-1.0, 1.0, 5)
        self.graph_error, self.loss_error, self.fail = graph_error, loss_error, fail
        self.calls = []

    def _update(self, error=0.0):
        loss = (self.w ** 2).sum()
        self.w -= 0.1 * 2 * self.w + error
        return loss

    def state(self):
        return [self.w]

    def snapshot(self):
        return [self.w.clone()]

    def restore(self, snapshot):
        self.calls.append("restore")
        self.w.copy_(snapshot[0])

    def capture(self):
        self.calls.append("capture")
        if self.fail:
            raise self.fail

    def replay(self):
        self.calls.append("replay")
        return self._update(self.graph_error) + self.loss_error

    def eager(self):
        self.calls.append("eager")
        return self._update()


def _eager_result():
    ref = _StandInCapture()
    loss = ref.eager()
    return loss, ref.w


def test_self_check_accepts_a_graph_that_computes_the_eager_step():
    cap = _StandInCapture(graph_error=1e-8)  # float rounding: far inside the fp32 tolerance
    loss, why = graph_mod.check_graph_step(cap, "fp32")
    ref_loss, ref_w = _eager_result()
    assert why is None
    assert cap.calls == ["capture", "replay", "restore", "eager"]  # graph and eager from the same state
    assert torch.equal(loss, ref_loss) and torch.equal(cap.w, ref_w)  # the run goes on from the eager step


@pytest.mark.parametrize("kwargs, words", [
    (dict(graph_error=1e-3), "state tensor 0 differs by 0.001"),  # a whole update off (e.g. a stale batch)
    (dict(loss_error=0.5), "the loss differs by 0.5"),
    (dict(graph_error=float("nan")), "state tensor 0 differs by inf"),
])
def test_self_check_rejects_a_graph_that_differs_and_keeps_the_eager_state(kwargs, words):
    cap = _StandInCapture(**kwargs)
    loss, why = graph_mod.check_graph_step(cap, "fp32")
    ref_loss, ref_w = _eager_result()
    assert why.startswith("the captured step differs from the eager step: ") and words in why
    assert "rtol 1e-05, atol 1e-06" in why  # the tolerance it was held to
    assert torch.equal(loss, ref_loss) and torch.equal(cap.w, ref_w)  # no trace of the bad graph


def test_self_check_falls_back_on_a_capture_error():
    cap = _StandInCapture(fail=RuntimeError("operation not permitted when stream is capturing\nmore lines"))
    loss, why = graph_mod.check_graph_step(cap, "fp32")
    ref_loss, ref_w = _eager_result()
    assert why == "capture failed (RuntimeError: operation not permitted when stream is capturing)"
    assert cap.calls == ["capture", "restore", "eager"] and torch.equal(cap.w, ref_w) and torch.equal(loss, ref_loss)


def test_self_check_tolerance_is_looser_for_bf16_than_fp32():
    fp32, bf16 = graph_mod.GRAPH_CHECK_TOLERANCE["fp32"], graph_mod.GRAPH_CHECK_TOLERANCE["bf16"]
    assert fp32 == {"rtol": 1e-5, "atol": 1e-6} and bf16["rtol"] > fp32["rtol"] and bf16["atol"] > fp32["atol"]
    assert bf16["atol"] < 1e-3  # still far below one Adam update at lr 1e-3: a wrong graph is caught
    assert graph_mod.check_graph_step(_StandInCapture(graph_error=3e-5), "bf16")[1] is None
    assert graph_mod.check_graph_step(_StandInCapture(graph_error=3e-5), "fp32")[1] is not None
    assert graph_mod.check_graph_step(_StandInCapture(graph_error=1e-3), "bf16")[1] is not None


class _WrongBatchGraph(_StandInGraph):
    """A graph that trains on the wrong batch (as a stale index buffer would)."""

    def replay(self):
        self.replays += 1
        s = self.step
        s.static_loss = train_mod.train_step(s.model, s.opt, s.data, s.static_idx.flip(0)[:-1], s.plan)


def test_fit_drops_a_graph_that_fails_its_self_check_with_one_warning(monkeypatch, small):
    train, val = small

    def capture(self):
        self.graph = _WrongBatchGraph(self)

    routes = _graph_plan_on_cpu(monkeypatch, capture)
    ref_model, new_model = _model("vna", train), _model("vna", train)
    ref_hist, _ = reference_fit(ref_model, train, epochs=3, batch_size=16, seed=5, val=val)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hist = fit(new_model, train, epochs=3, batch_size=16, seed=5, val=val, device="cpu", progress=False)
    mine = [w for w in caught if "CUDA graph" in str(w.message)]
    assert len(mine) == 1 and issubclass(mine[0].category, RuntimeWarning)
    assert "CUDA graph self-check failed (the captured step differs from the eager step: " in str(mine[0].message)
    assert "training continues with eager steps" in str(mine[0].message)
    assert routes.count("capture") == 1 and "replay" not in routes
    assert not hist.plan.cuda_graph and hist.plan.reason.startswith("eager: the captured step differs")
    assert _records(hist) == ref_hist  # the rejected graph's step left no trace: bit-identical to the plain loop
    _assert_same_state(new_model, ref_model)


def test_a_passing_self_check_restores_adam_state_exactly(monkeypatch, small):
    """The check replays, restores and steps again: Adam's moments and step count must come back bit for
    bit, or the run would drift from the plain loop (the routing test checks the loss curve; this the state)."""
    train, _ = small

    def capture(self):
        self.graph = _StandInGraph(self)

    _graph_plan_on_cpu(monkeypatch, capture)
    model = _model("direct_decoder", train)
    plan = StepPlan("cpu", cuda_graph=True)
    opt = train_mod._make_optimizer(list(model.parameters()), plan, 1e-3, 0.0)
    ref_model = _model("direct_decoder", train)
    ref_opt = train_mod._make_optimizer(list(ref_model.parameters()), plan, 1e-3, 0.0)
    step = graph_mod.GraphStep(model, opt, train, 16, plan, warmup=1,
                               eager=lambda idx: train_mod.train_step(model, opt, train, idx, plan),
                               loss=lambda idx: train_mod._batch_loss(model, train, idx, plan))
    model.train(), ref_model.train()
    for idx in (torch.arange(16), torch.arange(16, 32)):
        step(idx)  # warm-up, then capture + self-check
        train_mod.train_step(ref_model, ref_opt, train, idx, plan)
    assert step.failed is None and step.graph is not None
    _assert_same_state(model, ref_model)
    for a, b in zip(opt.state.values(), ref_opt.state.values()):
        assert all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------------ a NaN in batch k is batch k
class _PoisonedEncoder(vna.DirectEncoder):
    """A DirectEncoder whose loss is NaN for any batch that holds image ``poison`` (no host sync: the NaN is
    added on the device); the gradients stay finite, so only that batch's loss is bad."""

    poison = -1

    def loss(self, images, responses, match=None):
        loss = super().loss(images, responses, match)
        hit = (match == self.poison).any()
        return loss + torch.where(hit, float("nan"), 0.0)


class _CountingEncoder(vna.DirectEncoder):
    """A DirectEncoder whose ``bad_call``-th loss (0-based, counted over the whole run) is NaN."""

    bad_call, calls = -1, 0

    def loss(self, images, responses, match=None):
        loss = super().loss(images, responses, match)
        self.calls += 1
        return loss * float("nan") if self.calls - 1 == self.bad_call else loss


def _one_trial_data():
    return planted(n_images=40, n_trials=1, seed=4)  # one pair per image: an image names one pair


@pytest.mark.parametrize("k", [0, 2, 4])
def test_nan_in_batch_k_is_reported_as_batch_k(k):
    data = _one_trial_data()
    first_epoch = train_mod._batches(data.n_responses, 8, torch.Generator().manual_seed(11))
    model = _PoisonedEncoder(data.n_neurons)
    model.poison = int(data.match[first_epoch[k][3]])
    with pytest.raises(NonFiniteLossError, match=rf"loss became nan at epoch 1, batch {k};"):
        fit(model, data, epochs=2, batch_size=8, seed=11, device="cpu", progress=False)


def test_nan_in_a_later_epoch_names_that_epoch_and_batch():
    data = _one_trial_data()  # 40 pairs, batch 8: 5 batches an epoch
    model = _CountingEncoder(data.n_neurons)
    model.bad_call = 5 + 3  # epoch 2, batch 3
    with pytest.raises(NonFiniteLossError, match="epoch 2, batch 3;"):
        fit(model, data, epochs=3, batch_size=8, seed=1, device="cpu", progress=False)


def test_nan_in_batch_k_on_the_graph_path_is_batch_k(monkeypatch):
    def capture(self):
        self.graph = _StandInGraph(self)

    _graph_plan_on_cpu(monkeypatch, capture)
    data = _one_trial_data()
    order = train_mod._batches(data.n_responses, 8, torch.Generator().manual_seed(11))
    model = _PoisonedEncoder(data.n_neurons)
    model.poison = int(data.match[order[4][0]])  # batch 4 of epoch 1: after 3 warm-up steps and the capture
    with pytest.raises(NonFiniteLossError, match="epoch 1, batch 4;"):
        fit(model, data, epochs=2, batch_size=8, seed=11, device="cpu", progress=False)


@pytest.mark.slow
# ------------------------------------------------------------------------------------------------- bf16
def test_bf16_autocast_trains_close_to_fp32_and_keeps_fp32_weights(small, native_bf16):
    train, _ = small
    m32, m16 = _model("vna", train), _model("vna", train)
    h32 = fit(m32, train, epochs=2, batch_size=16, seed=5, device="cpu", progress=False)
    h16 = fit(m16, train, epochs=2, batch_size=16, seed=5, device="cpu", progress=False, precision="bf16")
    assert h16.plan.autocast and h16.plan.precision == "bf16"
    assert all(p.dtype == torch.float32 for p in m16.parameters())
    l32, l16 = [r["loss"] for r in h32], [r["loss"] for r in h16]
    assert all(math.isfinite(x) for x in l16)
    assert l16 != l32  # bf16 really ran (its numbers differ) ...
    assert l16 == pytest.approx(l32, rel=0.05)  # ... but only by rounding
    S = m16.score(train.images[:5], train.responses[:5])
    assert S.dtype == torch.float32  # evaluation stays fp32


@pytest.mark.slow
def test_bf16_is_deterministic_on_cpu(small, native_bf16):
    train, _ = small
    runs = []
    for _ in range(2):
        m = _model("direct_decoder", train)
        runs.append([r["loss"] for r in fit(m, train, epochs=1, batch_size=16, seed=5, device="cpu",
                                             progress=False, precision="bf16")])
    assert runs[0] == runs[1]


# --------------------------------------------------------------------------------------------- GPU only
@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)
@pytest.mark.parametrize("method", METHODS)
def test_cuda_graph_matches_eager_cuda(method, small, monkeypatch):
    """Same seed on one GPU, with and without the graph: the same training up to float noise (cuDNN made
    deterministic; capturable Adam computes its bias corrections on the device)."""
    train, val = small
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    routes, real_route = [], graph_mod.GraphStep.route

    def route(self, n):
        routes.append(real_route(self, n))
        return routes[-1]

    monkeypatch.setattr(graph_mod.GraphStep, "route", route)
    runs = {}
    for graphs in ("1", "0"):
        monkeypatch.setenv("VNA_CUDA_GRAPHS", graphs)
        model = _model(method, train)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a failed capture would warn: it must not
            hist = fit(model, train, epochs=3, batch_size=16, seed=5, val=val, device="cuda", progress=False)
        assert hist.plan.cuda_graph == (graphs == "1") and hist.plan.channels_last
        assert all(p.is_contiguous() for p in model.parameters())  # channels-last undone after training
        runs[graphs] = ([r["loss"] for r in hist], {k: v.cpu() for k, v in model.state_dict().items()})
    assert routes.count("replay") == 5 and routes.count("capture") == 1  # the graph really ran
    assert runs["1"][0] == pytest.approx(runs["0"][0], rel=1e-3, abs=1e-5)
    for k, v in runs["1"][1].items():
        torch.testing.assert_close(v, runs["0"][1][k], rtol=1e-2, atol=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)
def test_cuda_graph_names_the_nan_batch():
    data = _one_trial_data()
    order = train_mod._batches(data.n_responses, 8, torch.Generator().manual_seed(11))
    model = _PoisonedEncoder(data.n_neurons)
    model.poison = int(data.match[order[4][0]])
    with pytest.raises(NonFiniteLossError, match="epoch 1, batch 4;"):
        fit(model, data, epochs=2, batch_size=8, seed=11, device="cuda", progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)
def test_cuda_bf16_trains(small):
    train, _ = small
    hist = fit(_model("vna", train), train, epochs=2, batch_size=16, seed=5, device="cuda", progress=False,
               precision="bf16")
    assert hist.plan.autocast and all(math.isfinite(r["loss"]) for r in hist)


def test_paired_data_for_the_poisoned_model_is_valid():
    """The NaN tests plant the NaN in the model, not the data: PairedData refuses non-finite values."""
    data = _one_trial_data()
    bad = data.responses.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        PairedData(data.images, bad, data.match)


def test_plan_counts_full_size_steps_over_all_epochs(monkeypatch):
    """2 full-size steps per epoch: 1 epoch is all warm-up (the default), 2 epochs leave one step to replay."""
    monkeypatch.delenv("VNA_CUDA_GRAPHS", raising=False)
    assert not plan_steps("cuda", batch_size=64, n_pairs=150).cuda_graph
    graph = plan_steps("cuda", batch_size=64, n_pairs=150, epochs=2)
    assert graph.cuda_graph and graph.reason == ("CUDA graph of the batch-64 step after 3 eager warm-up steps; "
                                                 "smaller batches eager")


def test_the_plans_optimizer_and_autocast_are_built_as_planned():
    """Fused Adam when planned (PyTorch also has it on the CPU), and autocast without its weight cache (a
    cached cast would be captured once into a CUDA graph and go stale)."""
    params = [torch.nn.Parameter(torch.zeros(3))]
    fused = train_mod._make_optimizer(params, StepPlan("cuda", fused_adam=True), 1e-3, 0.0)
    assert fused.defaults["fused"] is True and not fused.defaults["capturable"]
    assert not train_mod._make_optimizer(params, StepPlan("cpu"), 1e-3, 0.0).defaults["fused"]
    ctx = train_mod._autocast(StepPlan("cpu", "bf16", autocast=True))
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16 and ctx._cache_enabled is False
