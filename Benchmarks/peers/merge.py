#!/usr/bin/env python3
"""Puts Landscape's benchmark times next to JAX's, as a Markdown table.

Usage (plain python3, standard library only):

  python3 Benchmarks/peers/merge.py --landscape /tmp/landscape.json --jax /tmp/jax.json \\
      [--check /tmp/jax-check.json ...] [--out /tmp/peers.md]

  --landscape  JSON written by `landscape-benchmarks --json FILE`: a list of rows with keys
               model, workload, precision, batch, medianSeconds (and gflops, fractionOfGemm,
               ratioToGradient, which may be absent or null)
  --jax        JSON written by `jax_bench.py --time --json FILE`: rows with model, workload,
               precision, batch, medianSeconds
  --check      JSON written by `jax_bench.py --check DIR --json FILE` (repeatable, e.g. once
               for --precision f32 and once for f64): adds the HVP agreement lines
  --out        write the Markdown there as well as to standard output

Rows are matched on (model, workload, precision, batch). "Landscape / JAX" above 1 means
Landscape is slower. "time / gradient" is each system's own time over its own
value+gradient time at the same model, precision and batch (for Landscape, the
ratioToGradient it measured). Rows found on one side only are listed with the other blank.
"""

import argparse
import json
import sys


def load_rows(path):
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, dict):
        data = data.get("rows", [])
    return data


def key(r):
    return (r["model"], r["workload"], r["precision"], int(r["batch"]))


def ms(s):
    return "" if s is None else f"{s * 1e3:.3f}"


def ratio(x):
    return "" if x is None else f"{x:.2f}"


def merge(landscape, jax, checks):
    lrows = {key(r): r for r in landscape}
    jrows = {key(r): r for r in jax}
    order = list(lrows) + [k for k in jrows if k not in lrows]

    def jax_ratio(k):
        r = jrows.get(k)
        g = jrows.get((k[0], "value+gradient", k[2], k[3]))
        if r is None or g is None or k[1] == "loss":
            return None
        return r["medianSeconds"] / g["medianSeconds"]

    lines = []
    if checks:
        lines.append("HVP agreement on Landscape's θ and v (batch 64), relative error "
                     "max|a−b| / max(max|a|, max|b|) over all parameters:")
        lines.append("")
        for c in checks:
            for model, r in c.get("models", {}).items():
                lines.append(
                    f"- {model}: JAX {c.get('jax', '')} {r['precision']} vs Landscape f32 — "
                    f"loss {r['lossRelErr']:.1e}, gradient {r['gradRelErr']:.1e}, "
                    f"HVP {r['hvpRelErr']:.1e} ({'pass' if r.get('pass') else 'FAIL'} at "
                    f"{c.get('tolerance', float('nan')):g})")
        lines.append("")
    lines.append("| model | workload | precision | batch | Landscape (ms) | JAX (ms) | Landscape / JAX "
                 "| Landscape time / gradient | JAX time / gradient |")
    lines.append("|---|---|---|---|---:|---:|---:|---:|---:|")
    for k in order:
        lr, jr = lrows.get(k), jrows.get(k)
        lt = lr["medianSeconds"] if lr else None
        jt = jr["medianSeconds"] if jr else None
        lines.append(
            f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {ms(lt)} | {ms(jt)} | "
            f"{ratio(lt / jt) if lt and jt else ''} | "
            f"{ratio(lr.get('ratioToGradient')) if lr else ''} | {ratio(jax_ratio(k))} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--landscape", required=True)
    ap.add_argument("--jax", required=True)
    ap.add_argument("--check", action="append", default=[])
    ap.add_argument("--out")
    args = ap.parse_args()
    checks = []
    for path in args.check:
        with open(path) as f:
            checks.append(json.load(f))
    md = merge(load_rows(args.landscape), load_rows(args.jax), checks)
    sys.stdout.write(md)
    if args.out:
        with open(args.out, "w") as f:
            f.write(md)


if __name__ == "__main__":
    main()
