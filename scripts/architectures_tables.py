#!/usr/bin/env python3
"""Markdown tables of the architectures experiment (Notes/architectures.md) from a study directory.

Usage: python3 scripts/architectures_tables.py STUDY_DIR
       python3 scripts/architectures_tables.py --compare STUDY_DIR OTHER_DIR [OTHER_DIR …]
         (final test accuracy, λ_max and trace per architecture in STUDY_DIR beside the same
         architectures in the other directories, e.g. the same runs trained for more epochs)

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

    def short(m):
        return m.replace("mlp-784-", "mlp ").replace("vit-patch7-", "vit ").replace("-high-noise", "")

    def ms(values, digits=3):
        """mean ± sample sd of the finite values."""
        v = [x for x in values if math.isfinite(x)]
        if not v:
            return "–"
        return fmt(statistics.mean(v), digits) + (f" ± {fmt(statistics.stdev(v), 2)}" if len(v) > 1 else "")

    def agg_ms(row, digits=3):
        if row is None:
            return "–", 0
        n = int(row["n"])
        return fmt(num(row["mean"]), digits) + (f" ± {fmt(num(row['sd']), 2)}" if n > 1 else ""), n

    print("### Final values per architecture\n")
    print("Mean ± sample sd over the n seeds that finished (from aggregate.csv; peak values from metrics.csv). "
          "Accuracies in %; λ_max (power iteration with Lanczos fallback) and trace (Hutchinson) at the final θ on the "
          "probe set; GGN λ₁ the Gauss–Newton matrix's top eigenvalue there; peak λ_max and peak batch sharpness the "
          "largest per-epoch value of each run, against the heavy-ball limit 2(1+μ)/η₀ = 76 at the peak rate.\n")
    print("| architecture | parameters | n | test acc. | train acc. | λ_max | trace | GGN λ₁ | peak λ_max | peak batch sharpness |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for m in names:
        a = aggregate.get(m, {})
        p = sorted(set(parameters.get(m, {}).values()))
        test, n = agg_ms(a.get("test_accuracy"), 4)
        print(f"| {short(m)} | {', '.join(f'{x:,}' for x in p) or '–'} | {n} | {test} | {agg_ms(a.get('train_accuracy'), 4)[0]} "
              f"| {agg_ms(a.get('lambda_max'))[0]} | {agg_ms(a.get('trace'))[0]} | {agg_ms(a.get('ggn.1'))[0]} "
              f"| {ms(peak.get(m, []))} | {ms(peak_batch.get(m, []))} |")

    print("\n### Per seed (final epoch): test accuracy (%) / λ_max / trace\n")
    seeds = sorted({r["seed"] for r in metrics}, key=int)
    print("| architecture | " + " | ".join(f"seed {s}" for s in seeds) + " |")
    print("|---|" + "---|" * len(seeds))
    for m in names:
        cells = []
        for s in seeds:
            rows = by_run.get((m, s), [])
            if not rows:
                cells.append("–")
                continue
            last = max(rows, key=lambda r: int(r["epoch"]))
            cells.append(f"{100 * num(last['test_accuracy']):.2f} / {fmt(num(last['lambda_max']))} / {fmt(num(last['trace']))}")
        print(f"| {short(m)} | " + " | ".join(cells) + " |")
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
        print(f"| {short(m)} | " + " | ".join(cells) + " |")

    print("\n### Per-module curvature at the final θ\n")
    print("Each module's diagonal Hessian block (layers.csv): λ_max by 10 Lanczos steps (a lower bound where not "
          "converged), trace from 4 Hutchinson probes of the whole Hessian split by block; mean ± sd over seeds.\n")

    def groups(m):
        """The MLP's modules as input layer, hidden layers, head and norms (None for other models)."""
        names_ = sorted({r["layer"] for r in layers if r["model"] == m})
        fcs = sorted((n for n in names_ if n.startswith("fc")), key=lambda n: int(n[2:]))
        if not fcs or any(not (n.startswith("fc") or n.startswith("ln") or n.startswith("bn")) for n in names_):
            return None
        return {"input (fc1)": [fcs[0]], "hidden (fc2…)": fcs[1:-1], "head": [fcs[-1]],
                "norms": [n for n in names_ if not n.startswith("fc")]}

    print("**MLPs**, modules grouped per seed (max λ_max and Σ trace over the group's blocks; parameters of the group):\n")
    print("| architecture | input layer: params, λ_max, trace | hidden layers: params, max λ_max, Σ trace | head: params, λ_max, trace | norms: params, max λ_max, Σ trace |")
    print("|---|---|---|---|---|")
    for m in names:
        g = groups(m)
        if g is None:
            continue
        cells = []
        for key, members in g.items():
            if not members:
                cells.append("–")
                continue
            per_seed = defaultdict(list)
            for r in layers:
                if r["model"] == m and r["layer"] in members:
                    per_seed[r["seed"]].append(r)
            count = sum(int(r["parameters"]) for r in next(iter(per_seed.values())))
            lam = [max(num(r["lambda_max"]) for r in rs) for rs in per_seed.values()]
            tr = [sum(num(r["trace"]) for r in rs) for rs in per_seed.values()]
            cells.append(f"{count:,}, {ms(lam)}, {ms(tr)}")
        print(f"| {short(m)} | " + " | ".join(cells) + " |")
    print()

    def module_table(m):
        rows = [r for r in layers if r["model"] == m]
        modules = OrderedDict()
        for r in rows:
            modules.setdefault(r["layer"], []).append(r)
        print("| module | parameters | λ_max | trace | trace per parameter |")
        print("|---|---|---|---|---|")
        for module, rs in modules.items():
            star = "*" if any(r["lambda_max_converged"] != "1" for r in rs) else ""
            tr = [num(r["trace"]) for r in rs]
            per = [t / int(r["parameters"]) for t, r in zip(tr, rs)]
            print(f"| {module} | {int(rs[0]['parameters']):,} | {ms([num(r['lambda_max']) for r in rs])}{star} | {ms(tr)} | {ms(per)} |")
        print()

    # Models with transformer blocks: every module, then attention vs feed-forward.
    for m in names:
        rows = [r for r in layers if r["model"] == m and (r["layer"].endswith(".attn") or r["layer"].endswith(".mlp"))]
        if not rows:
            continue
        print(f"**{short(m)}**, every module (* = a block's Lanczos not converged to 1e-6·|λ| in some seed):\n")
        module_table(m)
        print(f"**{short(m)}: attention vs feed-forward** (per seed: the largest block λ_max and the summed trace of each kind, then over seeds)\n")
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
            print(f"| {'attention' if kind == 'attn' else 'feed-forward'} | {count[0]:,} | {ms(lam)} | {ms(tr)} | {ms([t / c for t, c in zip(tr, count)])} |")
        print()

    print("<details><summary>Every module of every MLP</summary>\n")
    for m in names:
        if groups(m) is not None:
            print(f"**{short(m)}**\n")
            module_table(m)
    print("</details>\n")

    print("### Seconds per architecture (all seeds: training, evaluation, epoch and final probes)\n")
    print("| architecture | seconds |")
    print("|---|---|")
    for m in names:
        print(f"| {short(m)} | {seconds.get(m, 0):.0f} |")
    print(f"| all | {sum(seconds.values()):.0f} |")


def last_epochs(directory):
    """Per model: the last metrics row of each run, and the run's epoch count."""
    runs = defaultdict(dict)
    for r in read(os.path.join(directory, "metrics.csv")):
        key = r["seed"]
        if key not in runs[r["model"]] or int(r["epoch"]) > int(runs[r["model"]][key]["epoch"]):
            runs[r["model"]][key] = r
    return runs


def compare(base, others):
    a = last_epochs(base)
    b = defaultdict(dict)
    for d in others:
        for m, rs in last_epochs(d).items():
            b[m].update(rs)

    def cell(rows):
        if not rows:
            return "–"
        epochs = sorted({int(r["epoch"]) for r in rows})
        def ms(values, accuracy=False):
            mean = f"{statistics.mean(values):.2f}" if accuracy else fmt(statistics.mean(values))
            return mean + (f" ± {fmt(statistics.stdev(values), 2)}" if len(values) > 1 else "")
        return (f"{ms([100 * num(r['test_accuracy']) for r in rows], True)} / {ms([num(r['lambda_max']) for r in rows])} / "
                f"{ms([num(r['trace']) for r in rows])} (epochs {', '.join(map(str, epochs))}; n = {len(rows)})")

    print("| architecture | first directory: test acc. (%) / λ_max / trace | other directories: the same |")
    print("|---|---|---|")
    for m in a:
        print(f"| {m.replace('mlp-784-', 'mlp ').replace('vit-patch7-', 'vit ')} | {cell(list(a[m].values()))} | {cell(list(b.get(m, {}).values()))} |")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--compare":
        compare(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 2:
        main(sys.argv[1])
    else:
        sys.exit(__doc__)
