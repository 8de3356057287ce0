#!/usr/bin/env bash
# Checks the study report and a run's report in a browser: runs a tiny study (MLP, both regimes,
# one seed, 600 training samples, 3 epochs, λ_max every 3 SGD steps, a 7×7 slice — every figure
# kind of report.html; the whole check takes about 20 s with a release build on 2 cores), draws one of its runs with
# `landscape report RUN_DIR` and slices it along its trajectory's principal directions (the
# trajectory must be drawn on the slice, one point per checkpoint, ending at θ), and loads both
# pages in headless Chromium at 1300 px and 400 px
# (scripts/report_check.py): it fails if a figure is missing, empty or of zero size, overflows
# the viewport horizontally, has text under 11 px at its displayed size, if the page scrolls
# horizontally or has no viewport, or logs a console error. Then it shows that the check fails:
# copies of the report with one figure removed, with a console error, and with an over-wide
# element must each be refused.
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
    --models '["mlp"]' --set trainLimit=600 --set validation=200 --set testLimit=300 --set epochs=3 \
    --set regimeSettings.low-noise.epochs=3 --set probeSamples=64 --set lambdaIterations=5 --set lambdaEverySteps=3 \
    --sharpness-directions 3 --trace-probes 2 --batch-sharpness-batches 2 \
    --slice-points 7 --slice-samples 32 --lanczos-count 2 --lanczos-steps 4 --slq-probes 1 --slq-steps 6 \
    --extra-final-probes '["keskar"]' > "$work/study.log" 2>&1 || { tail -n 30 "$work/study.log" >&2; echo "report-check: the tiny study failed" >&2; exit 1; }
runs=()
for dir in "$study"/runs/*/; do runs+=("$(basename "$dir")"); done
run="$study/runs/${runs[0]}"
"$binary" report "$run" > "$work/run-report.log" 2>&1 || { cat "$work/run-report.log" >&2; echo "report-check: landscape report of a run failed" >&2; exit 1; }
# The PCA slice of the run draws its trajectory: one point per checkpoint, in order, the last at θ (0, 0).
thetas=("$run"/theta-epoch-*.safetensors)
"$binary" slice --model mlp --parameters "${thetas[-1]}" --directions pca --trajectory "$run" --points 5 --samples 64 \
    --data-directory "$data" --output-dir "$work/pca" > "$work/pca.log" 2>&1 || { cat "$work/pca.log" >&2; echo "report-check: the PCA slice failed" >&2; exit 1; }
python3 - "$work/pca" "${#thetas[@]}" <<'PY'
import csv, sys, xml.etree.ElementTree as ET
out, n = sys.argv[1], int(sys.argv[2])
rows = list(csv.DictReader(open(out + "/trajectory.csv")))
svg = ET.parse(out + "/slice2d.svg").getroot()
points = [c for c in svg.iter("{http://www.w3.org/2000/svg}circle") if c.get("data-point") is not None]
problems = []
if len(rows) != n or len(points) != n:
    problems.append("%d checkpoints, %d rows of trajectory.csv, %d points drawn" % (n, len(rows), len(points)))
if [int(p.get("data-point")) for p in points] != list(range(len(points))):
    problems.append("the points are not in order")
if any(abs(float(p.get(k)) - float(r[c])) > 1e-12 for p, r in zip(points, rows) for k, c in (("data-x", "alpha"), ("data-y", "beta"))):
    problems.append("the drawn points are not trajectory.csv's")
if rows and (abs(float(rows[-1]["alpha"])) > 1e-9 or abs(float(rows[-1]["beta"])) > 1e-9):
    problems.append("the last checkpoint is not at θ")
if problems:
    sys.exit("report-check: PCA slice: " + "; ".join(problems))
print("  PCA slice: the trajectory's %d checkpoints are drawn in order, the last at θ" % n)
PY
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
for name in missing-figure empty-figure console-error overflow; do
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
