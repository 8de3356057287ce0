#!/usr/bin/env python3
"""Markdown tables of the architectures experiment (Notes/architectures.md) from a study directory.

Usage: python3 scripts/architectures_tables.py STUDY_DIR

Reads the study's own outputs, never hand-copied numbers: aggregate.csv (final quantities as
mean, sample sd, min, max over seeds, written by `landscape report`), metrics.csv (per-epoch
rows: the peak λ_max over training and the seconds), layers.csv (per-module λ_max and trace of
the Hessian's diagonal blocks at the final θ), final.csv (final-probe seconds) and
study.json / config.json (protocol). Prints the tables to stdout.
"""
import csv
import json
import math
import os
import statistics
import sys
from collections import OrderedDict, defaultdict


def read(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits or abs(x) < 10 ** -2:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def spread(values, digits=3, scale=1.0):
    """mean ± sample sd [min, max] (n) of the finite values."""
    v = [x * scale for x in values if math.isfinite(x)]
    if not v:
        return "–"
    if len(v) == 1:
        return f"{fmt(v[0], digits)} (n = 1)"
    return f"{fmt(statistics.mean(v), digits)} ± {fmt(statistics.stdev(v), 2)} [{fmt(min(v), digits)}, {fmt(max(v), digits)}] (n = {len(v)})"


def agg_cell(row, digits=3, scale=1.0):
    if row is None:
        return "–"
    n = int(row["n"])
    mean, sd, lo, hi = (num(row[k]) * scale for k in ("mean", "sd", "min", "max"))
    if n == 1:
        return f"{fmt(mean, digits)} (n = 1)"
    return f"{fmt(mean, digits)} ± {fmt(sd, 2)} [{fmt(lo, digits)}, {fmt(hi, digits)}] (n = {n})"


def main(directory):
    config = json.load(open(os.path.join(directory, "config.json")))
    models = [m if isinstance(m, str) else m.get("name", "?") for m in config.get("models", [])]

    def name_of(m):
        # Compact forms name their configurations with the first ':' written '-'.
        return m.replace(":", "-", 1) if ":" in m else m

    names = [name_of(m) for m in models]
    aggregate = defaultdict(dict)
    for r in read(os.path.join(directory, "aggregate.csv")):
        aggregate[r["model"]][r["quantity"]] = r
    metrics = read(os.path.join(directory, "metrics.csv"))
    layers = read(os.path.join(directory, "layers.csv"))
    final = read(os.path.join(directory, "final.csv"))

    parameters = {}
    for r in layers:
        key = (r["model"], r["seed"])
        parameters.setdefault(r["model"], {}).setdefault(r["seed"], 0)
        parameters[r["model"]][r["seed"]] += int(r["parameters"])

    # Per-epoch: peak λ_max over training, epochs done per run.
    by_run = defaultdict(list)
    for r in metrics:
        by_run[(r["model"], r["seed"])].append(r)
    peak = defaultdict(list)
    peak_batch = defaultdict(list)
    epochs_done = defaultdict(list)
    seconds = defaultdict(float)
    for (model, seed), rows in by_run.items():
        peak[model].append(max(num(r["lambda_max"]) for r in rows))
        peak_batch[model].append(max(num(r.get("batch_sharpness")) for r in rows))
        epochs_done[model].append(max(int(r["epoch"]) for r in rows))
        for r in rows:
            seconds[model] += sum(num(r[c]) for c in r if c.endswith("_seconds") and math.isfinite(num(r[c])))
    for r in final:
        seconds[r["model"]] += sum(num(r[c]) for c in r if c.endswith("_seconds") and math.isfinite(num(r[c])))

    print("### Final values per architecture\n")
    print("Mean ± sample sd [min, max] over the seeds that finished (n), from aggregate.csv; accuracies in %; "
          "λ_max and trace at the final θ on the probe set (the last epoch's power iteration / Lanczos, Hutchinson); "
          "peak λ_max and peak batch sharpness: the largest per-epoch value of a run (metrics.csv), to set against "
          "the heavy-ball stability limit 2(1+μ)/η₀ at the peak rate.\n")
    print("| architecture | parameters | epochs | test acc. (%) | train acc. (%) | λ_max | peak λ_max over epochs | peak batch sharpness | trace | top Lanczos λ₁ | GGN λ₁ |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for m in names:
        a = aggregate.get(m, {})
        p = sorted(set(parameters.get(m, {}).values()))
        print(f"| `{m}` | {', '.join(f'{x:,}' for x in p) or '–'} | {', '.join(str(e) for e in sorted(set(epochs_done.get(m, [])))) or '–'} "
              f"| {agg_cell(a.get('test_accuracy'), 4)} | {agg_cell(a.get('train_accuracy'), 4)} "
              f"| {agg_cell(a.get('lambda_max'))} | {spread(peak.get(m, []))} | {spread(peak_batch.get(m, []))} | {agg_cell(a.get('trace'))} "
              f"| {agg_cell(a.get('lanczos.1'))} | {agg_cell(a.get('ggn.1'))} |")

    print("\n### λ_max and trace per epoch (mean over the seeds that reached the epoch, n)\n")
    max_epoch = max((e for v in epochs_done.values() for e in v), default=0)
    print("| architecture | " + " | ".join(f"epoch {e}: λ_max / trace" for e in range(1, max_epoch + 1)) + " |")
    print("|---|" + "---|" * max_epoch)
    for m in names:
        cells = []
        for e in range(1, max_epoch + 1):
            rows = [r for r in metrics if r["model"] == m and int(r["epoch"]) == e]
            lam = [num(r["lambda_max"]) for r in rows]
            tr = [num(r["trace"]) for r in rows]
            cells.append(f"{fmt(statistics.mean(lam))} / {fmt(statistics.mean(tr))} (n = {len(rows)})" if rows else "–")
        print(f"| `{m}` | " + " | ".join(cells) + " |")

    print("\n### Per-module curvature at the final θ\n")
    print("Each module's diagonal Hessian block (layers.csv): λ_max by 10 Lanczos steps (a lower bound; * = not converged "
          "to 1e-6·|λ| in some seed), trace from the Hutchinson probes split by block; mean ± sd over seeds (n).\n")
    for m in names:
        rows = [r for r in layers if r["model"] == m]
        if not rows:
            continue
        modules = OrderedDict()
        for r in rows:
            modules.setdefault(r["layer"], []).append(r)
        print(f"**`{m}`**\n")
        print("| module | parameters | λ_max | trace | trace per parameter |")
        print("|---|---|---|---|---|")
        for module, rs in modules.items():
            star = "*" if any(r["lambda_max_converged"] != "1" for r in rs) else ""
            tr = [num(r["trace"]) for r in rs]
            per = [t / int(r["parameters"]) for t, r in zip(tr, rs)]
            print(f"| {module} | {int(rs[0]['parameters']):,} | {spread([num(r['lambda_max']) for r in rs])}{star} | {spread(tr)} | {spread(per)} |")
        print()

    # Transformer blocks: attention vs feed-forward, summed over blocks per seed.
    for m in names:
        rows = [r for r in layers if r["model"] == m and (r["layer"].endswith(".attn") or r["layer"].endswith(".mlp"))]
        if not rows:
            continue
        print(f"**`{m}`: attention vs feed-forward** (per seed: the largest block λ_max and the summed trace of each kind, then over seeds)\n")
        print("| kind | parameters | max λ_max over blocks | Σ trace | Σ trace per parameter |")
        print("|---|---|---|---|---|")
        for kind in ("attn", "mlp"):
            per_seed = defaultdict(list)
            for r in rows:
                if r["layer"].endswith("." + kind):
                    per_seed[r["seed"]].append(r)
            lam = [max(num(r["lambda_max"]) for r in rs) for rs in per_seed.values()]
            tr = [sum(num(r["trace"]) for r in rs) for rs in per_seed.values()]
            count = [sum(int(r["parameters"]) for r in rs) for rs in per_seed.values()]
            print(f"| {'attention' if kind == 'attn' else 'feed-forward'} | {count[0]:,} | {spread(lam)} | {spread(tr)} | {spread([t / c for t, c in zip(tr, count)])} |")
        print()

    print("### Seconds per architecture (all seeds: training, evaluation, epoch and final probes)\n")
    print("| architecture | seconds |")
    print("|---|---|")
    for m in names:
        print(f"| `{m}` | {seconds.get(m, 0):.0f} |")
    print(f"| all | {sum(seconds.values()):.0f} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
