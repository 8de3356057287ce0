#!/usr/bin/env bash
# The test command: installs the system dependencies, builds the tests and the release binary (the
# quick preset's test runs it), runs every test target, then each fuzz
# target of Fuzz/ for a fixed 20,000 inputs from its seed corpus (a reader that crashes on them
# fails the run). FUZZ_RUNS=0 skips the fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
# The quick preset's test (QuickPresetTests) runs the release binary.
swift build -c release --product landscape
LANDSCAPE_RELEASE_BINARY="$PWD/.build/release/landscape" swift test --skip-build "$@"
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
