#!/usr/bin/env python3
"""Puts Landscape's benchmark times next to JAX's and PyTorch's, as a Markdown table.

Usage (plain python3, standard library only):

  python3 Benchmarks/peers/merge.py --landscape /tmp/landscape.json \\
      [--jax /tmp/jax.json] [--torch /tmp/torch.json] \\
      [--check /tmp/jax-check.json ...] [--check /tmp/torch-check.json ...] [--out /tmp/peers.md]

  --landscape  JSON written by `landscape-benchmarks --json FILE`: a list of rows with keys
               model, workload, precision, batch, medianSeconds (and gflops, fractionOfGemm,
               ratioToGradient, which may be absent or null)
  --jax        JSON written by `jax_bench.py --time --json FILE`: rows with model, workload,
               precision, batch, medianSeconds
  --torch      JSON written by `torch_bench.py --time --json FILE`: {"torch": version,
               "threads", "mkldnnAvailable", ..., "rows": [...]}, each row as above plus
               "variant": "eager" or "torch.func"; each variant gets its own column
  --check      JSON written by `jax_bench.py --check DIR --json FILE` or `torch_bench.py
               --check DIR --json FILE` (repeatable, e.g. once for --precision f32 and once
               for f64): adds the HVP agreement lines
  --out        write the Markdown there as well as to standard output

At least one of --jax and --torch is needed; the table has a column for each peer given
(with --jax alone it is the two-system table of before). Rows are matched on (model,
workload, precision, batch). "Landscape / X" above 1 means Landscape is slower. "time /
gradient" is each system's own time over its own value+gradient time at the same model,
precision and batch (for Landscape, the ratioToGradient it measured). Rows found on some
sides only are listed with the others blank.
"""

import argparse
import json
import sys


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise SystemExit(f"merge.py: cannot read {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        raise SystemExit(f"merge.py: {path} is not JSON: {e}")


def rows_of(data):
    """The rows of a timing JSON: a list of rows, or a dict with metadata and "rows"."""
    return data.get("rows", []) if isinstance(data, dict) else data


def load_rows(path):
    return rows_of(load_json(path))


def key(r):
    return (r["model"], r["workload"], r["precision"], int(r["batch"]))


def ms(s):
    return "" if s is None else f"{s * 1e3:.3f}"


def ratio(x):
    return "" if x is None else f"{x:.2f}"


def check_lines(c):
    """The agreement lines of one --check JSON (jax_bench.py's or torch_bench.py's)."""
    tol = f"{c.get('tolerance', float('nan')):g}"

    def line(model, who, r):
        return (f"- {model}: {who} {r['precision']} vs Landscape f32 — "
                f"loss {r['lossRelErr']:.1e}, gradient {r['gradRelErr']:.1e}, "
                f"HVP {r['hvpRelErr']:.1e} ({'pass' if r.get('pass') else 'FAIL'} at {tol})")
    lines = []
    for model, r in c.get("models", {}).items():
        if "torch" in c:        # torch_bench.py: one result per variant
            for variant, rv in r.items():
                lines.append(line(model, f"PyTorch {c['torch']} {variant} ({rv.get('hvpMode', '')})", rv))
        else:
            lines.append(line(model, f"JAX {c.get('jax', '')}", r))
    return lines


def merge(landscape, jax, checks, torch=None):
    """landscape, jax: lists of rows (jax may be None); torch: torch_bench.py's JSON or None."""
    lrows = {key(r): r for r in landscape}
    peers = []                  # (column label, {key: row})
    if jax is not None:
        peers.append(("JAX", {key(r): r for r in jax}))
    if torch is not None:
        by_variant = {}
        for r in rows_of(torch):
            by_variant.setdefault(r.get("variant", "eager"), {})[key(r)] = r
        for variant in sorted(by_variant, key=lambda v: (v != "eager", v)):
            peers.append((f"PyTorch {variant}", by_variant[variant]))
    order = list(lrows)
    for _, rows in peers:
        order += [k for k in rows if k not in order]

    def own_ratio(rows, k):
        r = rows.get(k)
        g = rows.get((k[0], "value+gradient", k[2], k[3]))
        if r is None or g is None or k[1] == "loss":
            return None
        return r["medianSeconds"] / g["medianSeconds"]

    lines = []
    if checks:
        lines.append("HVP agreement on Landscape's θ and v (batch 64), relative error "
                     "max|a−b| / max(max|a|, max|b|) over all parameters:")
        lines.append("")
        for c in checks:
            lines += check_lines(c)
        lines.append("")
    if isinstance(torch, dict) and "torch" in torch:
        lines.append(f"PyTorch {torch['torch']} on the CPU: {torch.get('threads', '?')} threads, "
                     f"mkldnn (oneDNN) available {torch.get('mkldnnAvailable', '?')}, "
                     f"enabled {torch.get('mkldnnEnabled', '?')}, BLAS {torch.get('blas', '?')}. PyTorch eager's HVP is double "
                     f"backward (reverse-over-reverse); torch.func's is jvp of grad_and_value "
                     f"(forward-over-reverse).")
        lines.append("")
    labels = [p for p, _ in peers]
    lines.append("| model | workload | precision | batch | Landscape (ms) | "
                 + "".join(f"{p} (ms) | " for p in labels)
                 + "".join(f"Landscape / {p} | " for p in labels)
                 + "Landscape time / gradient | "
                 + "".join(f"{p} time / gradient | " for p in labels).rstrip())
    lines.append("|---|---|---|---|---:|" + "---:|" * (3 * len(labels) + 1))
    for k in order:
        lr = lrows.get(k)
        lt = lr["medianSeconds"] if lr else None
        pts = [rows[k]["medianSeconds"] if k in rows else None for _, rows in peers]
        lines.append(
            f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {ms(lt)} | "
            + "".join(f"{ms(pt)} | " for pt in pts)
            + "".join(f"{ratio(lt / pt) if lt and pt else ''} | " for pt in pts)
            + f"{ratio(lr.get('ratioToGradient')) if lr else ''} |"
            + "".join(f" {ratio(own_ratio(rows, k))} |" for _, rows in peers))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--landscape", required=True)
    ap.add_argument("--jax")
    ap.add_argument("--torch")
    ap.add_argument("--check", action="append", default=[])
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.jax is None and args.torch is None:
        ap.error("give --jax, --torch or both")
    checks = [load_json(path) for path in args.check]
    md = merge(load_rows(args.landscape), load_rows(args.jax) if args.jax else None, checks,
               load_json(args.torch) if args.torch else None)
    sys.stdout.write(md)
    if args.out:
        with open(args.out, "w") as f:
            f.write(md)


if __name__ == "__main__":
    main()
