#!/usr/bin/env python3
"""PyTorch peer of Landscape's benchmark (Benchmarks/Sources/LandscapeBenchmarks/main.swift).

The same models, batches and measures as jax_bench.py, written the two ways a PyTorch user
would: eager autograd (nn.Module parameters with requires_grad, loss.backward() or
torch.autograd.grad) and torch.func (functional_call under grad_and_value / jvp). It checks
that PyTorch's loss, gradient and Hessian-vector product agree with Landscape's on the same
weights, batch and direction, and times the workloads so that merge.py can put them next to
Landscape's and JAX's.

Usage (after `bash Benchmarks/peers/setup.sh`; PY=.build-peers/venv/bin/python):

  # agreement: loss, gradient and HVP at Landscape's θ along Landscape's v, both variants
  Benchmarks/.build/release/landscape-benchmarks --export-peer-check /tmp/peer
  $PY Benchmarks/peers/torch_bench.py --check /tmp/peer --json /tmp/torch-check.json
      [--precision f32|f64]   PyTorch's arithmetic (default f32; f64 computes in Float64 from
                              the same Float32 inputs: how close each side is to exact)
      [--tolerance 1e-4]      exit status 1 when an error is above it

  # timing: warmed up, median of repeated runs
  $PY Benchmarks/peers/torch_bench.py --time --json /tmp/torch.json
      [--quick]               3 repeats everywhere, batches 64 and 2048 (like Landscape's --quick)
      [--models mlp,cnn,vit] [--batches 64,512,2048] [--precision both|f32|f64]
      [--vit vit:patch7-dim32-depth2-heads4-mlp64]   the transformer (compact form)
      [--variants eager,torch.func]
      [--workloads loss,gradient,hvp,sgd,lambda_max,epoch]
      [--power-loop full,retained]   which λ_max forms to time (see below)
      [--epoch-batches 64,2048] [--epoch-samples 60000]

      [--cpu-time]            the process's CPU time instead of the wall clock (with --threads 1:
                              other processes then barely change it; landscape-benchmarks has the same)

  Common: [--threads 2]  torch.set_num_threads (intra-op threads; default 2)
          [--models mlp,cnn,vit]  (--check: the files peer-check-MODEL.safetensors to compare;
                                  the vit's architecture is the file's "spec")

The transformer (`vit`, class ViT below) is Landscape's `vit:` compact form: patch embedding by
a convolution of kernel = stride = patch, tokens in row-major patch order plus a learned
position embedding, pre-norm blocks (LayerNorm ε 1e-5; attention with separate q, k, v, out
linears, softmax(q kᵀ/√d_head) v written out; FFN fc1, exact GELU, fc2), a final LayerNorm,
the mean over tokens and a linear head. It is timed at batches 64 and 512 (loss,
value+gradient, HVP, SGD step), not in λ_max or the epoch.

Workloads (rows {"model","workload","precision","batch","medianSeconds","variant"}, variant
"eager" or "torch.func"; workload names as Landscape's and jax_bench.py's):
  loss                       the mean cross-entropy under torch.no_grad()       (f32, eager)
  value+gradient             eager: zero_grad + loss.backward()                 (f32, f64)
                             torch.func: grad_and_value
  HVP (fwd-over-rev)         value, gradient and H·v in one call                (f32, f64)
                             eager: double backward (reverse-over-reverse):
                               g = autograd.grad(loss, create_graph=True),
                               H·v = autograd.grad(g, grad_outputs=v)
                             torch.func: jvp of grad_and_value (forward-over-reverse)
  SGD step                   value and gradient + heavy-ball momentum (lr 0.01, μ 0.9,
                             PyTorch form), in place                             (f32)
                             eager: torch.optim.SGD; torch.func: the same update by hand
  lambda_max (20 power its)  20 × (H·v, λ = wᵀv, v ← w/‖w‖), batch 512, a full HVP
                             (forward pass included) per iteration, like Landscape (f32)
  lambda_max (20 power its, graph retained)
                             eager only (--power-loop ...,retained): the gradient graph is
                             built once (create_graph=True) and each iteration is one
                             backward pass through it, as Hessian tools written for PyTorch
                             commonly do; like JAX's unrolled loop it computes the forward
                             pass once for the 20 products                        (f32)
  training epoch (60k samples, 1 run)
                             one pass over 60,000 random samples in order, at batches 64
                             and 2048, SGD lr 0.01 μ 0.9, one timed run            (f32)

The JSON of --time is {"torch": version, "threads": ..., "mkldnn": ..., "rows": [...]};
merge.py reads the rows and the metadata.
"""

import argparse
import os
import re
import statistics
import time
import warnings

import numpy as np

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.func import functional_call, grad_and_value, jvp
except ImportError as e:     # the venv of setup.sh has it
    raise SystemExit(f"torch_bench.py needs torch (bash Benchmarks/peers/setup.sh): {e}")

# The first forward-mode call loads PyTorch's own TorchScript decompositions for the JVPs of
# some backward ops (here nll_loss_backward and _log_softmax_backward_data), and recent
# releases warn there that torch.jit.script is deprecated: PyTorch's internals, not this script.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)

# ----------------------------------------------------------------------------- models

# Landscape's parameter order and names (peer_common.py). The modules below declare their
# layers in this order, so that named_parameters() yields exactly these (the ViT's own
# pos_embedding comes first in named_parameters(), before its submodules' parameters, so
# parameters_in_order() reorders by name).
from peer_common import (CLASSES, NAMES, SHAPES, VIT_INPUT, VIT_SPEC, agreement, finish, log,  # noqa: E402
                         parse_vit, set_vit)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        h = F.relu(self.fc2(h))
        return self.fc3(h)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 5, padding=2)
        self.fc1 = nn.Linear(1568, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        h = x.view(x.shape[0], 1, 28, 28)                  # rows of 784 → NCHW
        h = F.max_pool2d(F.relu(self.conv1(h)), 2)         # [N,16,14,14]
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)         # [N,32,7,7]
        h = torch.flatten(h, 1)                            # (C, H, W) order → 1568
        h = F.relu(self.fc1(h))
        return self.fc2(h)


class Attention(nn.Module):
    """Multi-head self-attention with separate q, k, v and output projections (Vaswani et al.
    2017, eq. 1 and 2), written out (softmax(q kᵀ/√d_h) v per head): the same operations as
    Landscape's, and every one of them has forward-mode and double-backward rules, which
    F.scaled_dot_product_attention's fused CPU kernels do not promise."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, h):
        n, t, d = h.shape
        dh = d // self.heads

        def split(z):                                        # [N,T,D] → [N,H,T,D/H]
            return z.view(n, t, self.heads, dh).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        a = torch.softmax(q @ k.transpose(-2, -1) / dh ** 0.5, dim=-1)
        return self.out((a @ v).transpose(1, 2).reshape(n, t, d))


class FeedForward(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, h):
        return self.fc2(F.gelu(self.fc1(h)))                 # exact GELU, x·Φ(x)


class Block(nn.Module):
    """Pre-norm encoder block (Xiong et al. 2020): h + attn(LN(h)), then h + mlp(LN(h))."""

    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)                       # ε = 1e-5, as Landscape's
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FeedForward(dim, hidden)

    def forward(self, h):
        h = h + self.attn(self.norm1(h))
        return h + self.mlp(self.norm2(h))


class ViT(nn.Module):
    """The vision transformer of peer_common.VIT_SPEC (Dosovitskiy et al. 2021): patches by a
    convolution of kernel = stride = patch, tokens in row-major patch order, a learned position
    embedding, pre-norm blocks, a final LayerNorm, the mean over tokens and a linear head."""

    def __init__(self):
        super().__init__()
        cfg = parse_vit(VIT["spec"])
        c, hh, ww = VIT_INPUT
        d = cfg["dim"]
        self.patch = nn.Conv2d(c, d, cfg["patch"], stride=cfg["patch"])
        self.pos_embedding = nn.Parameter(torch.zeros(cfg["tokens"], d))
        for i in range(1, cfg["depth"] + 1):
            setattr(self, f"block{i}", Block(d, cfg["heads"], cfg["mlp"]))
        self.depth = cfg["depth"]
        self.ln1 = nn.LayerNorm(d)                           # Landscape's names: numbered per kind
        self.fc1 = nn.Linear(d, CLASSES)

    def forward(self, x):
        h = self.patch(x.view(x.shape[0], *VIT_INPUT))       # [N,D,H/p,W/p]
        h = h.flatten(2).transpose(1, 2) + self.pos_embedding  # [N,T,D]
        for i in range(1, self.depth + 1):
            h = getattr(self, f"block{i}")(h)
        return self.fc1(self.ln1(h).mean(dim=1))


# The transformer's compact form (--vit, or a check file's "spec"); ViT() reads it.
VIT = {"spec": VIT_SPEC}

MODULES = {"mlp": MLP, "cnn": CNN, "vit": ViT}


def parameters_in_order(m, model):
    """The module's parameters in Landscape's order."""
    by_name = dict(m.named_parameters())
    return [by_name[n] for n in NAMES[model]]


def make_module(model, params, dtype):
    """A module of `model` in `dtype` holding copies of `params` (a dict in Landscape's order)."""
    m = MODULES[model]().to(dtype)
    names = [n for n, _ in m.named_parameters()]
    assert sorted(names) == sorted(NAMES[model]), f"{model}: module parameters {names} are not Landscape's {NAMES[model]}"
    shapes = {n: tuple(p.shape) for n, p in m.named_parameters()}
    assert all(shapes[n] == s for n, s in SHAPES[model]), f"{model}: module shapes {shapes} are not Landscape's"
    with torch.no_grad():
        for n, p in m.named_parameters():
            p.copy_(params[n])
    return m


def loss_of_logits(logits, labels):
    """Mean softmax cross-entropy with integer labels (F.cross_entropy, reduction 'mean')."""
    return F.cross_entropy(logits, labels)


# ----------------------------------------------------------------------------- the two variants
#
# Each variant is a set of closures over one model, batch (x, labels) and starting θ. The
# eager closures work on a module whose parameters require grad; the torch.func closures on a
# dict of plain tensors passed through functional_call.


class Eager:
    variant = "eager"

    def __init__(self, model, params, x, labels):
        self.m = make_module(model, params, x.dtype)
        self.params = parameters_in_order(self.m, model)
        self.x, self.labels = x, labels

    def loss(self):
        # A value-only evaluation: no graph is recorded, like Landscape's value(of:at:).
        with torch.no_grad():
            return loss_of_logits(self.m(self.x), self.labels)

    def value_and_grad(self):
        # The ordinary training-loop way: gradients land in p.grad. zero_grad() sets them to
        # None (the default since PyTorch 2.0), so backward writes fresh ones, not a sum.
        self.m.zero_grad()
        value = loss_of_logits(self.m(self.x), self.labels)
        value.backward()
        return value.detach(), [p.grad for p in self.params]

    def hvp_from_graph(self, g, v, retain):
        # H·v as the gradient of g·v: a backward pass through the graph of the first backward.
        return torch.autograd.grad(g, self.params, grad_outputs=v, retain_graph=retain)

    def value_grad_hvp(self, v):
        # Eager autograd has no forward-over-reverse for whole modules short of rewriting them
        # with torch.autograd.forward_ad, so the eager HVP is double backward
        # (reverse-over-reverse): create_graph=True makes the gradient differentiable.
        value = loss_of_logits(self.m(self.x), self.labels)
        g = torch.autograd.grad(value, self.params, create_graph=True)
        hv = self.hvp_from_graph(g, v, retain=False)
        return value.detach(), [gi.detach() for gi in g], list(hv)

    def hvp(self, v):
        return self.value_grad_hvp(v)[2]

    def lambda_max_retained(self, v0, iters=20):
        value = loss_of_logits(self.m(self.x), self.labels)
        g = torch.autograd.grad(value, self.params, create_graph=True)
        v, lam = unit(v0), None
        for _ in range(iters):
            w = self.hvp_from_graph(g, v, retain=True)
            v, lam = normalise_step(w, v)
        return lam

    def sgd_setup(self, lr=0.01, mu=0.9):
        # On CPU tensors torch.optim.SGD runs its single-tensor (for-loop) update: the foreach
        # and fused kernels are picked by default only on accelerator devices.
        self.opt = torch.optim.SGD(self.params, lr=lr, momentum=mu)

    def sgd_step(self):
        self.opt.zero_grad()
        value = loss_of_logits(self.m(self.x), self.labels)
        value.backward()
        self.opt.step()
        return value.detach()

    def set_batch(self, x, labels):
        self.x, self.labels = x, labels


class Func:
    variant = "torch.func"

    def __init__(self, model, params, x, labels):
        # functional_call replaces the module's parameters by the tensors of the dict, so the
        # module's own (requires_grad) parameters are never used.
        self.m = make_module(model, params, x.dtype)
        self.p = {n: params[n].detach().clone() for n in NAMES[model]}
        self.names = NAMES[model]
        self.x, self.labels = x, labels

        def loss_fn(p, x, labels):
            return loss_of_logits(functional_call(self.m, p, (x,)), labels)
        self.loss_fn = loss_fn
        self.vg = grad_and_value(loss_fn)         # (gradient dict, value)

    def loss(self):
        with torch.no_grad():
            return self.loss_fn(self.p, self.x, self.labels)

    def value_and_grad(self):
        g, value = self.vg(self.p, self.x, self.labels)
        return value, [g[n] for n in self.names]

    def value_grad_hvp(self, v):
        # Forward-over-reverse: the jvp of the (gradient, value) map along v gives the value,
        # the gradient and H·v in one call, as Landscape's valueGradientAndHVP and JAX's peer.
        vd = dict(zip(self.names, v))
        (g, value), (hv, _) = jvp(lambda p: self.vg(p, self.x, self.labels), (self.p,), (vd,))
        return value, [g[n] for n in self.names], [hv[n] for n in self.names]

    def hvp(self, v):
        return self.value_grad_hvp(v)[2]

    def sgd_setup(self, lr=0.01, mu=0.9):
        self.lr, self.mu = lr, mu
        self.buf = {n: torch.zeros_like(t) for n, t in self.p.items()}

    def sgd_step(self):
        # torch.optim works on .grad of leaf tensors, not on the dicts torch.func returns, so the
        # same update (PyTorch's form: b ← μb + g, θ ← θ − lr·b, b = 0 before the first step)
        # is written out, in place.
        g, value = self.vg(self.p, self.x, self.labels)
        with torch.no_grad():
            for n, p in self.p.items():
                b = self.buf[n]
                b.mul_(self.mu).add_(g[n])
                p.add_(b, alpha=-self.lr)
        return value

    def set_batch(self, x, labels):
        self.x, self.labels = x, labels


VARIANTS = {"eager": Eager, "torch.func": Func}


def dot(a, b):
    return sum(torch.vdot(ai.reshape(-1), bi.reshape(-1)) for ai, bi in zip(a, b))


def unit(v0):
    with torch.no_grad():
        nrm = torch.sqrt(dot(v0, v0))
        return [vi / nrm for vi in v0]


def normalise_step(w, v):
    """λ = wᵀv (v has unit norm), next v = w/‖w‖."""
    with torch.no_grad():
        lam = dot(w, v)
        wn = torch.sqrt(dot(w, w))
        return [wi / wn for wi in w], lam


def lambda_max_full(side, v0, iters=20):
    """20 power iterations, each a full HVP (forward pass included), like Landscape's."""
    v, lam = unit(v0), None
    for _ in range(iters):
        v, lam = normalise_step(side.hvp(v), v)
    return lam

# ----------------------------------------------------------------------------- check


def to_numpy(ts):
    return [t.detach().cpu().numpy() for t in ts]


def load_check_inputs(directory, model):
    from safetensors import safe_open
    from safetensors.numpy import load_file
    path = os.path.join(directory, f"peer-check-{model}.safetensors")
    if not os.path.isfile(path):
        raise SystemExit(f"{path} not found: write it with "
                         f"`landscape-benchmarks --export-peer-check {directory}`")
    t = load_file(path)
    with safe_open(path, "np") as f:
        meta = f.metadata() or {}
    order = meta.get("order")
    if model == "vit":          # the transformer the file was written for (landscape-benchmarks --vit)
        VIT["spec"] = meta.get("spec", VIT_SPEC)
        set_vit(VIT["spec"])
    if order is not None and order.split(",") != NAMES[model]:
        raise SystemExit(f"{path}: parameter order {order} is not {','.join(NAMES[model])}")
    for key in ("x", "labels", "loss"):
        if key not in t:
            raise SystemExit(f"{path}: no tensor '{key}'")
    for n, shape in SHAPES[model]:
        for kind in ("theta", "v", "grad", "hvp"):
            k = f"{kind}/{n}"
            if k not in t:
                raise SystemExit(f"{path}: no tensor '{k}'")
            if tuple(t[k].shape) != shape:
                raise SystemExit(f"{path}: {k} has shape {t[k].shape}, expected {shape}")
    return path, t


def check(directory, precision, tolerance, variants, models):
    dtype = torch.float64 if precision == "f64" else torch.float32
    results, ok = {}, True
    for model in models:
        path, t = load_check_inputs(directory, model)
        names = NAMES[model]
        theta = {n: torch.from_numpy(t[f"theta/{n}"]).to(dtype) for n in names}
        v = [torch.from_numpy(t[f"v/{n}"]).to(dtype) for n in names]
        x = torch.from_numpy(t["x"]).to(dtype)
        labels = torch.from_numpy(t["labels"].astype(np.int64))
        results[model] = {}
        for variant in variants:
            value, g, hv = VARIANTS[variant](model, theta, x, labels).value_grad_hvp(v)
            g, hv = to_numpy(g), to_numpy(hv)
            value = float(value)
            r = {
                "variant": variant,
                "hvpMode": "rev-over-rev" if variant == "eager" else "fwd-over-rev",
                "precision": precision,
                "batch": int(x.shape[0]),
                "lossPyTorch": value,
                **agreement(value, g, hv, t, names, tolerance),
            }
            ok &= r["pass"]
            results[model][variant] = r
            if model == "vit":
                r["spec"] = VIT["spec"]
            print(f"{model}: PyTorch {variant} ({r['hvpMode']}) {precision} vs Landscape f32 "
                  f"(batch {r['batch']}): loss {r['lossPyTorch']:.7g} vs {r['lossLandscape']:.7g} "
                  f"rel err {r['lossRelErr']:.2e}; gradient rel err {r['gradRelErr']:.2e}; "
                  f"HVP rel err {r['hvpRelErr']:.2e}"
                  f"{'' if r['pass'] else f'  ABOVE TOLERANCE {tolerance:g}'}", flush=True)
    return results, ok

# ----------------------------------------------------------------------------- timing


# --cpu-time: the process's CPU time (all threads) instead of the wall clock, as
# landscape-benchmarks --cpu-time; with --threads 1 other processes barely change it.
CLOCK = {"now": time.perf_counter}


def median_time(call, warmup, repeats):
    """Median seconds of call() over `repeats` runs after `warmup` runs. CPU PyTorch runs each
    operation to completion before returning, so no synchronisation is needed."""
    now = CLOCK["now"]
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        t0 = now()
        call()
        times.append(now() - t0)
    return statistics.median(times)


def random_params(model, dtype, gen):
    """Weights and biases uniform ±1/√fan-in (fan-in of the layer, as nn.Linear/nn.Conv2d);
    LayerNorm weights 1 and biases 0, the position embedding normal(0, 0.02), as Landscape
    initializes them."""
    params = {}
    shapes = SHAPES[model]
    for i, (n, shape) in enumerate(shapes):
        layer = n.rsplit(".", 1)[0]            # "block1.norm1", "ln1", "fc1", "pos_embedding"
        if layer.rsplit(".", 1)[-1].startswith(("ln", "norm")):
            params[n] = (torch.ones if n.endswith("weight") else torch.zeros)(shape, dtype=dtype)
            continue
        if n == "pos_embedding":
            params[n] = torch.randn(shape, generator=gen, dtype=dtype) * 0.02
            continue
        wshape = shape if n.endswith("weight") else shapes[i - 1][1]
        bound = 1 / np.sqrt(int(np.prod(wshape[1:])))
        params[n] = (torch.rand(shape, generator=gen, dtype=dtype) * 2 - 1) * bound
    return params


def random_problem(model, batch, dtype, seed):
    """Random data shaped like Landscape's benchmark (values don't matter for timing)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 784, generator=gen, dtype=dtype)         # uniform in [0, 1)
    labels = torch.randint(0, 10, (batch,), generator=gen)
    params = random_params(model, dtype, gen)
    v = [torch.randn(shape, generator=gen, dtype=dtype) for _, shape in SHAPES[model]]
    return params, v, x, labels


def epoch_name(samples):
    n = f"{samples // 1000}k" if samples % 1000 == 0 else str(samples)
    return f"training epoch ({n} samples, 1 run)"


def run_time(args, log):
    models = args.models
    batches, default_batches = args.batches, args.default_batches
    precisions = ["f32", "f64"] if args.precision == "both" else [args.precision]
    W = set(args.workloads)
    rows = []

    def add(model, variant, workload, precision, batch, seconds):
        rows.append({"model": model, "workload": workload, "precision": precision,
                     "batch": batch, "medianSeconds": seconds, "variant": variant})
        log(f"  {model:3} {precision} batch {batch:5}  {variant:10} {workload:40} {seconds * 1e3:10.3f} ms")

    for model in models:
        for precision in precisions:
            dtype = torch.float64 if precision == "f64" else torch.float32
            # The transformer at batches 64 and 512 unless --batches is given, as Landscape's benchmark.
            for batch in (batches or ([64, 512] if model == "vit" else default_batches)):
                if not W & {"loss", "gradient", "hvp", "sgd"}:
                    break
                params, v, x, labels = random_problem(model, batch, dtype, seed=7)
                # Landscape: 7 repeats, 3 for the CNN at batch ≥ 2048, 3 with --quick.
                reps = 3 if args.quick or (model == "cnn" and batch >= 2048) else 7
                t0 = time.perf_counter()
                for variant in args.variants:
                    side = VARIANTS[variant](model, params, x, labels)
                    # loss has no gradient, so one row (eager) serves both styles.
                    if precision == "f32" and "loss" in W and variant == "eager":
                        add(model, variant, "loss", precision, batch, median_time(side.loss, 2, reps))
                    if "gradient" in W:
                        add(model, variant, "value+gradient", precision, batch,
                            median_time(side.value_and_grad, 2, reps))
                    if "hvp" in W:
                        add(model, variant, "HVP (fwd-over-rev)", precision, batch,
                            median_time(lambda: side.value_grad_hvp(v), 2, reps))
                    if precision == "f32" and "sgd" in W:
                        side.sgd_setup()
                        add(model, variant, "SGD step", precision, batch, median_time(side.sgd_step, 2, reps))
                log(f"  ({model} {precision} batch {batch}: {time.perf_counter() - t0:.1f} s)")
        if model == "vit":      # λ_max and the epoch: the MLP and the CNN only (as Landscape's benchmark)
            continue
        if "f32" in precisions and "lambda_max" in W:
            batch = 512
            params, v, x, labels = random_problem(model, batch, torch.float32, seed=9)
            for variant in args.variants:
                side = VARIANTS[variant](model, params, x, labels)
                # jax_bench: 1 warm-up, 3 repeats
                if "full" in args.power_loop:
                    add(model, variant, "lambda_max (20 power its)", "f32", batch,
                        median_time(lambda: lambda_max_full(side, v), 1, 3))
                if "retained" in args.power_loop and variant == "eager":
                    add(model, variant, "lambda_max (20 power its, graph retained)", "f32", batch,
                        median_time(lambda: side.lambda_max_retained(v), 1, 3))
        if "f32" in precisions and "epoch" in W:
            samples = args.epoch_samples
            gen = torch.Generator().manual_seed(13)
            data = torch.rand(samples, 784, generator=gen)
            data_labels = torch.randint(0, 10, (samples,), generator=gen)
            params = random_params(model, torch.float32, gen)
            for batch in args.epoch_batches:
                for variant in args.variants:
                    # Two untimed steps at this batch size on a throwaway copy first: the first
                    # calls at a new shape pay one-off costs (oneDNN primitive creation,
                    # allocator growth) that Landscape, warm from its earlier workloads, does not.
                    warm = VARIANTS[variant](model, params, data[:batch], data_labels[:batch])
                    warm.sgd_setup()
                    warm.sgd_step()
                    warm.sgd_step()
                    del warm
                    side = VARIANTS[variant](model, params, data[:batch], data_labels[:batch])
                    side.sgd_setup(lr=0.01, mu=0.9)
                    t0 = CLOCK["now"]()
                    for start in range(0, samples, batch):    # the last batch may be short
                        end = min(start + batch, samples)
                        side.set_batch(data[start:end], data_labels[start:end])
                        side.sgd_step()
                    add(model, variant, epoch_name(samples), "f32", batch, CLOCK["now"]() - t0)
    return rows


def csv(kind, choices=None):
    def parse(text):
        items = [s.strip() for s in text.split(",") if s.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"empty list of {kind}")
        if choices is not None:
            bad = [s for s in items if s not in choices]
            if bad:
                raise argparse.ArgumentTypeError(f"unknown {kind} {', '.join(bad)}; choose from {', '.join(choices)}")
        return items
    return parse


def positive_ints(kind):
    def parse(text):
        try:
            items = [int(s) for s in text.split(",") if s.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{kind} must be comma-separated integers, got {text!r}")
        if not items or any(i <= 0 for i in items):
            raise argparse.ArgumentTypeError(f"{kind} must be positive integers, got {text!r}")
        return items
    return parse


WORKLOADS = ["loss", "gradient", "hvp", "sgd", "lambda_max", "epoch"]


def build_setting(name):
    """A value of torch.__config__.show()'s build settings (e.g. BLAS_INFO), or None."""
    m = re.search(rf"\b{name}=([^,\s]+)", torch.__config__.show())
    return m.group(1) if m else None


def environment(threads):
    return {
        "torch": torch.__version__,
        "blas": build_setting("BLAS_INFO"),
        "threads": torch.get_num_threads(),
        "requestedThreads": threads,
        "interopThreads": torch.get_num_interop_threads(),
        "mkldnnAvailable": torch.backends.mkldnn.is_available(),
        "mkldnnEnabled": bool(torch.backends.mkldnn.enabled),
        "cpus": os.cpu_count(),
        "device": "cpu",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", metavar="DIR", help="compare with Landscape's peer-check-*.safetensors in DIR")
    mode.add_argument("--time", action="store_true", help="time the workloads")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--precision", choices=["f32", "f64", "both"], default=None,
                    help="--check: f32 (default) or f64; --time: both (default), f32 or f64")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="--check: largest relative error accepted")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--quick", action="store_true", help="3 repeats, batches 64 and 2048")
    ap.add_argument("--cpu-time", action="store_true",
                    help="--time: the process's CPU time instead of the wall clock (use with --threads 1)")
    ap.add_argument("--models", type=csv("models", ["mlp", "cnn", "vit"]), default=["mlp", "cnn", "vit"],
                    help="--time and --check: comma-separated from mlp, cnn, vit (default all)")
    ap.add_argument("--vit", default=VIT_SPEC, metavar="SPEC",
                    help=f"--time: the transformer's compact form (default {VIT_SPEC}); --check reads it from the file")
    ap.add_argument("--batches", type=positive_ints("--batches"), default=None,
                    help="comma-separated (default 64,512,2048; 64,2048 with --quick; the vit 64,512)")
    ap.add_argument("--variants", type=csv("variants", list(VARIANTS)), default=list(VARIANTS),
                    help="eager, torch.func (default both)")
    ap.add_argument("--workloads", type=csv("workloads", WORKLOADS), default=WORKLOADS,
                    help="--time: comma-separated from " + ", ".join(WORKLOADS) + " (default all)")
    ap.add_argument("--power-loop", type=csv("power loops", ["full", "retained"]), default=["full", "retained"],
                    help="λ_max forms: full (the row 'lambda_max (20 power its)'), retained (eager only)")
    ap.add_argument("--epoch-batches", type=positive_ints("--epoch-batches"), default=[64, 2048])
    ap.add_argument("--epoch-samples", type=int, default=60_000,
                    help="samples in the training epoch (default 60000; fewer only to try it out)")
    args = ap.parse_args()
    if args.threads < 1:
        ap.error("--threads must be at least 1")
    if args.tolerance <= 0:
        ap.error("--tolerance must be positive")
    if args.epoch_samples < 1:
        ap.error("--epoch-samples must be positive")
    if args.check and args.precision == "both":
        ap.error("--check takes --precision f32 or f64")
    if args.check and not os.path.isdir(args.check):
        ap.error(f"--check {args.check}: no such directory (write it with "
                 "`landscape-benchmarks --export-peer-check DIR`)")
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        ap.error(f"--json {args.json}: its directory does not exist")

    torch.set_num_threads(args.threads)
    if args.cpu_time:
        CLOCK["now"] = time.process_time
    VIT["spec"] = args.vit
    set_vit(args.vit)
    env = environment(args.threads)
    log(f"PyTorch {env['torch']} on the CPU, {env['threads']} threads (interop {env['interopThreads']}), "
        f"mkldnn available {env['mkldnnAvailable']}, enabled {env['mkldnnEnabled']}, BLAS {env['blas']}, "
        f"cpus {env['cpus']}")

    if args.check:
        precision = args.precision or "f32"
        results, ok = check(args.check, precision, args.tolerance, args.variants, args.models)
        out = {**env, "tolerance": args.tolerance, "models": results}
    else:
        args.precision = args.precision or "both"
        args.default_batches = [64, 2048] if args.quick else [64, 512, 2048]
        out = {**env, "quick": args.quick, "vit": VIT["spec"], "clock": "process CPU time" if args.cpu_time else "wall clock",
               "rows": run_time(args, log)}
        ok = True
    finish(out, args.json, ok)


if __name__ == "__main__":
    main()
