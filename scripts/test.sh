#!/usr/bin/env bash
# The test command: installs the system dependencies, builds the tests and the release binary (the
# quick preset's test runs it), runs every test target, builds the documentation (scripts/docs.sh;
# DOCS=0 skips it), checks the study's and a run's report.html in headless Chromium
# (scripts/report-check.sh; under a minute), checks the Kubernetes Job example and the
# Slurm batch script's signal handling, runs the Slurm smoke test (scripts/slurm/smoke.sh; SLURM_SMOKE=0 skips it), then each fuzz
# target of Fuzz/ for a fixed 20,000 inputs from its seed corpus (a reader that crashes on them
# fails the run). FUZZ_RUNS=0 skips the fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
# The quick preset's test (QuickPresetTests) runs the release binary.
swift build -c release --product landscape
LANDSCAPE_RELEASE_BINARY="$PWD/.build/release/landscape" swift test --skip-build "$@"
# The documentation: the DocC catalogs and doc comments with docc's warnings as errors, and a
# summary on every public symbol (about a minute and a half after the test build). DOCS=0 skips it.
if [ "${DOCS:-1}" != 0 ]; then
    echo "== Documentation (scripts/docs.sh) =="
    bash scripts/docs.sh
fi
# The report in a browser: a tiny study's report.html and a run's at 1300 and 400 px, and broken copies refused.
echo "== report.html in headless Chromium (scripts/report-check.sh) =="
bash scripts/report-check.sh "$PWD/.build/release/landscape"
# A sweep as a Kubernetes Indexed Job: the example checked without a cluster.
echo "== Kubernetes Indexed Job example (scripts/k8s/check-job.py) =="
python3 scripts/k8s/check-job.py --landscape "$PWD/.build/release/landscape"
# sweep.sbatch's signal handling (forwarding, waiting, requeueing) with stand-ins, no Slurm.
echo "== Slurm batch script's signals (scripts/slurm/check-signals.sh) =="
bash scripts/slurm/check-signals.sh
# A sweep as a job array on a real single-node Slurm cluster started here (root; a few minutes).
# SLURM_SMOKE=0 skips it.
if [ "${SLURM_SMOKE:-1}" != 0 ]; then
    echo "== Slurm smoke test (scripts/slurm/smoke.sh): a sweep as a job array, one task requeued, against --local =="
    bash scripts/slurm/smoke.sh "$PWD/.build/release/landscape"
fi
runs="${FUZZ_RUNS:-20000}"
if [ "$runs" != 0 ]; then
    for target in idx safetensors configuration; do
        bash scripts/fuzz.sh "$target" "$runs" > ".build/fuzz-$target.log" 2>&1 || {
            tail -n 40 ".build/fuzz-$target.log" >&2
            echo "test.sh: fuzz target $target failed (log: .build/fuzz-$target.log)" >&2
            exit 1
        }
        grep -E "^Done [0-9]+ runs" ".build/fuzz-$target.log" | sed "s/^/fuzz $target: /"
    done
fi
