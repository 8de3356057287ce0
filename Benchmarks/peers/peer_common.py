"""What the peer benchmarks share: Landscape's parameter order, names and shapes, the
agreement measure and the log line. Imported by jax_bench.py and torch_bench.py (which run
with this directory on sys.path)."""

import json
import sys

import numpy as np

# Landscape's parameter order and names (PyTorch conventions).
MLP_SHAPES = [
    ("fc1.weight", (256, 784)), ("fc1.bias", (256,)),
    ("fc2.weight", (256, 256)), ("fc2.bias", (256,)),
    ("fc3.weight", (10, 256)), ("fc3.bias", (10,)),
]
CNN_SHAPES = [
    ("conv1.weight", (16, 1, 5, 5)), ("conv1.bias", (16,)),
    ("conv2.weight", (32, 16, 5, 5)), ("conv2.bias", (32,)),
    ("fc1.weight", (128, 1568)), ("fc1.bias", (128,)),
    ("fc2.weight", (10, 128)), ("fc2.bias", (10,)),
]


# The transformer of the benchmark: Landscape's compact form (ModelSpec(parsing:) in
# Sources/Layers), `landscape-benchmarks --vit SPEC` there and `--vit SPEC` here to change it.
# The layout follows Landscape's SpecModel for a `vit:` form on MNIST ([1, 28, 28] inputs, 10
# classes): the patch embedding (a convolution of kernel = stride = patch), the learned position
# embedding, per block the pre-norm attention (LayerNorm, separate q, k, v and output linears) and
# the pre-norm feed-forward (LayerNorm, fc1, GELU, fc2), the final LayerNorm (ln1) and the
# head (fc1).
VIT_SPEC = "vit:patch7-dim32-depth2-heads4-mlp64"
VIT_INPUT = (1, 28, 28)
CLASSES = 10


def parse_vit(text):
    """patch, dim, depth, heads and mlp of a compact form `vit:patchP-dimD-depthL-headsH-mlpM`."""
    if not text.startswith("vit:"):
        raise SystemExit(f"{text!r} is not a compact vit form (vit:patch7-dim32-depth2-heads4-mlp64)")
    cfg = {}
    for part in text[len("vit:"):].split("-"):
        key = part.rstrip("0123456789")
        if key not in ("patch", "dim", "depth", "heads", "mlp") or key == part or key in cfg:
            raise SystemExit(f"{text!r}: unexpected part {part!r} (vit:patchP-dimD-depthL-headsH-mlpM)")
        cfg[key] = int(part[len(key):])
    missing = {"patch", "dim", "depth", "heads", "mlp"} - set(cfg)
    if missing:
        raise SystemExit(f"{text!r}: missing {', '.join(sorted(missing))}")
    c, h, w = VIT_INPUT
    if h % cfg["patch"] or w % cfg["patch"] or cfg["dim"] % cfg["heads"]:
        raise SystemExit(f"{text!r}: the patch must divide {h}×{w} and the heads the dim")
    cfg["tokens"] = (h // cfg["patch"]) * (w // cfg["patch"])
    return cfg


def vit_shapes(text):
    """(name, shape) of every parameter of the vit form `text`, in Landscape's order."""
    cfg = parse_vit(text)
    p, d, m, t = cfg["patch"], cfg["dim"], cfg["mlp"], cfg["tokens"]
    shapes = [("patch.weight", (d, VIT_INPUT[0], p, p)), ("patch.bias", (d,)), ("pos_embedding", (t, d))]
    for i in range(1, cfg["depth"] + 1):
        b = f"block{i}"
        shapes += [(f"{b}.norm1.weight", (d,)), (f"{b}.norm1.bias", (d,))]
        for proj in ("q", "k", "v", "out"):
            shapes += [(f"{b}.attn.{proj}.weight", (d, d)), (f"{b}.attn.{proj}.bias", (d,))]
        shapes += [(f"{b}.norm2.weight", (d,)), (f"{b}.norm2.bias", (d,)),
                   (f"{b}.mlp.fc1.weight", (m, d)), (f"{b}.mlp.fc1.bias", (m,)),
                   (f"{b}.mlp.fc2.weight", (d, m)), (f"{b}.mlp.fc2.bias", (d,))]
    # The final LayerNorm and the head are numbered per kind like any layer of a specification.
    shapes += [("ln1.weight", (d,)), ("ln1.bias", (d,)), ("fc1.weight", (CLASSES, d)), ("fc1.bias", (CLASSES,))]
    return shapes


SHAPES = {"mlp": MLP_SHAPES, "cnn": CNN_SHAPES, "vit": vit_shapes(VIT_SPEC)}
NAMES = {m: [n for n, _ in s] for m, s in SHAPES.items()}


def set_vit(text):
    """Makes `text` the transformer of SHAPES["vit"] and NAMES["vit"]."""
    SHAPES["vit"] = vit_shapes(text)
    NAMES["vit"] = [n for n, _ in SHAPES["vit"]]


def rel_err(a, b):
    """max|a−b| / max(max|a|, max|b|) over all the arrays of a and b."""
    a = [np.asarray(t, np.float64).ravel() for t in a]
    b = [np.asarray(t, np.float64).ravel() for t in b]
    a, b = np.concatenate(a), np.concatenate(b)
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)))
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else 0.0


def agreement(value, grad, hvp, reference, names, tolerance):
    """The errors of a peer's loss, gradient and HVP against Landscape's (`reference`: the
    check file's tensors `loss`, `grad/NAME`, `hvp/NAME`), overall and per parameter, and
    whether all three are within `tolerance`."""
    ref_g = [reference[f"grad/{n}"] for n in names]
    ref_h = [reference[f"hvp/{n}"] for n in names]
    r = {
        "lossLandscape": float(reference["loss"]),
        "lossRelErr": rel_err([value], [reference["loss"]]),
        "gradRelErr": rel_err(grad, ref_g),
        "hvpRelErr": rel_err(hvp, ref_h),
        "hvpRelErrPerParameter": {n: rel_err([a], [b]) for n, a, b in zip(names, hvp, ref_h)},
        "gradRelErrPerParameter": {n: rel_err([a], [b]) for n, a, b in zip(names, grad, ref_g)},
    }
    r["pass"] = max(r["lossRelErr"], r["gradRelErr"], r["hvpRelErr"]) <= tolerance
    return r


def log(s):
    print(s, flush=True)


def json_value(x):
    """`x` with NaN and the infinities as the strings "nan", "inf" and "-inf", as Landscape writes
    them (JSON has no such numbers)."""
    if isinstance(x, dict):
        return {k: json_value(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_value(v) for v in x]
    if isinstance(x, float) and x != x:
        return "nan"
    if isinstance(x, float) and x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    return x


def finish(out, path, ok):
    """Writes `out` as JSON to `path` (when given) and exits: status 0, or 1 when a check failed."""
    if path:
        with open(path, "w") as f:
            json.dump(json_value(out), f, indent=2, allow_nan=False)
            f.write("\n")
    sys.exit(0 if ok else 1)
