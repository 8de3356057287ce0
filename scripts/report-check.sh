#!/usr/bin/env bash
# Checks the study report and a run's report in a browser: runs a tiny study (MLP, both regimes,
# one seed, 600 training samples, 3 epochs, λ_max every 3 SGD steps, a 7×7 slice — every figure
# kind of report.html; the whole check takes 20–40 s with a release build on 2 cores), draws one of its runs with
# `landscape report RUN_DIR` and slices it along its trajectory's principal directions (the
# trajectory must be drawn on the slice, one point per checkpoint where the map's axes put its
# coordinates, ending on θ's marker; a copy with a point moved 3 px must be refused), and loads both
# pages in headless Chromium at 1300 px and 400 px
# (scripts/report_check.py): it fails if a figure is missing, empty or of zero size, overflows
# the viewport horizontally, has text under 11 px at its displayed size, if the page scrolls
# horizontally or has no viewport, or logs a console error, or a figure draws no data. Then it
# shows that the check fails: copies of the report with one figure removed, one emptied, one with
# its data series removed, with a console error, and with an over-wide element must each be refused.
#
# usage: scripts/report-check.sh [LANDSCAPE_BINARY]
#   LANDSCAPE_BINARY  default: $LANDSCAPE_BINARY, else a release build (swift build -c release)
#   LANDSCAPE_DATA_DIR  MNIST's IDX files (default: ../shared/data/mnist beside the checkout)
#   REPORT_CHECK_DIR  keep the study there (default: a temporary directory, removed afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    bash scripts/setup.sh
fi
binary="${1:-${LANDSCAPE_BINARY:-}}"
if [ -z "$binary" ]; then
    swift build -c release --product landscape >/dev/null
    binary="$PWD/.build/release/landscape"
fi
data="${LANDSCAPE_DATA_DIR:-$(cd .. && pwd)/shared/data/mnist}"
if [ ! -f "$data/train-images-idx3-ubyte.gz" ] && [ ! -f "$data/train-images-idx3-ubyte" ]; then
    echo "report-check: MNIST not found in $data (set LANDSCAPE_DATA_DIR, or run landscape fetch)" >&2
    exit 1
fi
if [ -n "${REPORT_CHECK_DIR:-}" ]; then
    work="$REPORT_CHECK_DIR"; rm -rf "$work"; mkdir -p "$work"
else
    work=$(mktemp -d -t report-check-XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi
study="$work/study"
echo "== report check: a tiny study in $study =="
"$binary" study --preset quick --data-directory "$data" --output-dir "$study" --no-progress \
    --models mlp --set trainLimit=600 --set validation=200 --set testLimit=300 --set epochs=3 \
    --set regimeSettings.low-noise.epochs=3 --set probeSamples=64 --set lambdaIterations=5 --set lambdaEverySteps=3 \
    --sharpness-directions 3 --trace-probes 2 --batch-sharpness-batches 2 \
    --slice-points 7 --slice-samples 32 --lanczos-count 2 --lanczos-steps 4 --slq-probes 1 --slq-steps 6 \
    --extra-final-probes keskar > "$work/study.log" 2>&1 || { tail -n 30 "$work/study.log" >&2; echo "report-check: the tiny study failed" >&2; exit 1; }
runs=()
for dir in "$study"/runs/*/; do runs+=("$(basename "$dir")"); done
run="$study/runs/${runs[0]}"
"$binary" report "$run" > "$work/run-report.log" 2>&1 || { cat "$work/run-report.log" >&2; echo "report-check: landscape report of a run failed" >&2; exit 1; }
# The PCA slice of the run draws its trajectory: one point per checkpoint, in order, the last at θ (0, 0).
thetas=("$run"/theta-epoch-*.safetensors)
"$binary" slice --model mlp --parameters "${thetas[-1]}" --directions pca --trajectory "$run" --points 5 --samples 64 \
    --data-directory "$data" --output-dir "$work/pca" > "$work/pca.log" 2>&1 || { cat "$work/pca.log" >&2; echo "report-check: the PCA slice failed" >&2; exit 1; }
pca_check() { # SLICE_DIRECTORY CHECKPOINTS
python3 - "$1" "$2" <<'PY'
# The drawn positions (cx, cy) are checked against the map's axes as its cells lay them out (cell
# (i, j) of the grid of slice2d.csv is centred on (α_i, β_j)), not against the data-x/data-y
# attributes, which are written from the same arrays as trajectory.csv; the last checkpoint is θ
# itself, so it must be drawn on the θ marker.
import csv, re, sys, xml.etree.ElementTree as ET
out, n = sys.argv[1], int(sys.argv[2])
ns = "{http://www.w3.org/2000/svg}"
rows = list(csv.DictReader(open(out + "/trajectory.csv")))
grid = list(csv.DictReader(open(out + "/slice2d.csv")))
alphas, betas = sorted({float(r["alpha"]) for r in grid}), sorted({float(r["beta"]) for r in grid})
svg = ET.parse(out + "/slice2d.svg").getroot()
points = [c for c in svg.iter(ns + "circle") if c.get("data-point") is not None]
cells = [r for g in svg.iter(ns + "g") if g.get("data-series") == "grid" for r in g.iter(ns + "rect")]
marker = next((g for g in svg.iter(ns + "g") if g.get("data-marker") == "θ"), None)
problems = []
if len(rows) != n or len(points) != n:
    problems.append("%d checkpoints, %d rows of trajectory.csv, %d points drawn" % (n, len(rows), len(points)))
if [int(p.get("data-point")) for p in points] != list(range(len(points))):
    problems.append("the points are not in order")
if len(cells) != len(alphas) * len(betas):
    problems.append("%d cells drawn for a %d×%d grid" % (len(cells), len(alphas), len(betas)))
else:
    # Cells run over α (i) then β (j), β increasing upwards; the cell size is taken across the
    # whole grid (corner to corner), so the 0.01 px rounding of each rect does not add up.
    nb = len(betas)
    left, top = float(cells[0].get("x")), float(cells[nb - 1].get("y"))
    cw = (float(cells[-1].get("x")) - left) / (len(alphas) - 1)
    ch = (float(cells[0].get("y")) - top) / (nb - 1)
    def at(v, axis, origin, size, flip):
        k = (v - axis[0]) / (axis[-1] - axis[0]) * (len(axis) - 1)
        return origin + ((len(axis) - 1 - k) if flip else k) * size + size / 2
    for p, r in zip(points, rows):
        x, y = at(float(r["alpha"]), alphas, left, cw, False), at(float(r["beta"]), betas, top, ch, True)
        if abs(float(p.get("cx")) - x) > 0.02 or abs(float(p.get("cy")) - y) > 0.02:
            problems.append("checkpoint %s (epoch %s) is drawn at (%s, %s), its α, β map to (%.2f, %.2f)" % (p.get("data-point"), r["epoch"], p.get("cx"), p.get("cy"), x, y))
            break
if rows and (abs(float(rows[-1]["alpha"])) > 1e-9 or abs(float(rows[-1]["beta"])) > 1e-9):
    problems.append("the last checkpoint is not at θ")
if marker is None:
    problems.append("no θ marker")
elif points:
    # The marker is a cross M(x−6, y−6)L(x+6, y+6)…: its centre is 6 px right of and below its first point.
    mx, my = (float(v) + 6 for v in re.match(r"M\s*([-\d.]+)[\s,]+([-\d.]+)", marker.find(ns + "path").get("d")).groups())
    if abs(float(points[-1].get("cx")) - mx) > 0.02 or abs(float(points[-1].get("cy")) - my) > 0.02:
        problems.append("the last checkpoint is drawn at (%s, %s), not on the θ marker at (%.2f, %.2f)" % (points[-1].get("cx"), points[-1].get("cy"), mx, my))
if problems:
    sys.exit("report-check: PCA slice: " + "; ".join(problems))
print("  PCA slice: the trajectory's %d checkpoints are drawn in order where the map's axes put them, the last on θ's marker" % n)
PY
}
pca_check "$work/pca" "${#thetas[@]}"
# The check must refuse a trajectory drawn off its coordinates: the first checkpoint moved 3 px right.
cp -r "$work/pca" "$work/pca-moved"
python3 - "$work/pca-moved/slice2d.svg" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
moved = re.sub(r'(<circle data-point="0"[^>]*? cx=")([-\d.]+)', lambda m: m.group(1) + "%.2f" % (float(m.group(2)) + 3), text, count=1)
assert moved != text, "the mutation changed nothing"
open(sys.argv[1], "w", encoding="utf-8").write(moved)
PY
if pca_check "$work/pca-moved" "${#thetas[@]}" > "$work/pca-moved.log" 2>&1; then
    echo "report-check: the PCA check did not refuse a trajectory point drawn 3 px off its coordinates" >&2; exit 1
fi
echo "  PCA slice with a point moved: refused ($(sed 's/^report-check: PCA slice: //' "$work/pca-moved.log"))"
study_figures="loss.svg,accuracy.svg,lambda-max.svg,batch-sharpness.svg,lambda-steps.svg,sharpness-max.svg,gap-vs-lambda.svg,density.svg"
for r in "${runs[@]}"; do study_figures+=",slice-$r.svg"; done
run_figures="loss.svg,accuracy.svg,lambda-max.svg,lambda-steps.svg"
echo "== report check: $study/report.html =="
python3 scripts/report_check.py "$study/report.html" --expect "$study_figures"
echo "== report check: $run/report.html (landscape report RUN_DIR) =="
python3 scripts/report_check.py "$run/report.html" --expect "$run_figures"

# The check must refuse broken pages: each mutation of a copy of the study's report must fail it.
echo "== report check refuses broken pages =="
mutate() { # NAME PYTHON-EXPRESSION-ON-html
    python3 - "$study/report.html" "$work/$1.html" "$2" <<'EOF'
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
out = eval(sys.argv[3], {"re": re, "html": html})
assert out != html, "the mutation changed nothing"
open(sys.argv[2], "w", encoding="utf-8").write(out)
EOF
}
mutate missing-figure 're.sub(r"<figure id=\"fig-density\".*?</figure>", "", html, count=1, flags=re.S)'
mutate empty-figure 're.sub(r"(<figure id=\"fig-loss\"[^>]*>\s*<svg[^>]*>).*?(</svg>)", r"\1\2", html, count=1, flags=re.S)'
mutate console-error 'html.replace("</body>", "<script>console.error(\"report-check: a planted error\")</script></body>", 1)'
mutate overflow 'html.replace("<h2>Figures</h2>", "<h2>Figures</h2><div style=\"width:1600px;height:4px\"></div>", 1)'
# A figure whose data series are removed keeps its axes, ticks, legend and line markers.
mutate no-data-series 're.sub(r"<figure id=\"fig-loss\".*?</figure>", lambda m: re.sub(r"<g data-series=\"[^\"]*\">.*?</g>|<polyline data-series=[^>]*/>", "", m.group(0), flags=re.S), html, count=1, flags=re.S)'
for name in missing-figure empty-figure console-error overflow no-data-series; do
    status=0
    python3 scripts/report_check.py "$work/$name.html" --expect "$study_figures" > "$work/$name.log" 2>&1 || status=$?
    # Refused means exit status 1 with the failure named, not a crash of the checker.
    if [ "$status" != 1 ] || ! grep -q "^FAIL " "$work/$name.log"; then
        cat "$work/$name.log" >&2
        echo "report-check: the check did not refuse a report with a $name (exit status $status); it must fail it" >&2
        exit 1
    fi
    echo "  $name: refused ($(grep -m1 FAIL "$work/$name.log" | sed 's/^FAIL [^:]*: //'))"
done
echo "report check passed in $(( $(date +%s) - start )) s"
