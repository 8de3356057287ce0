#!/usr/bin/env bash
# Builds one libFuzzer harness of Fuzz/ with -sanitize=fuzzer,address and runs it on its seed
# corpus (Fuzz/Corpus/NAME) for RUNS inputs (default 0: until stopped or until it crashes).
#   scripts/fuzz.sh idx|safetensors|configuration [RUNS]
# New interesting inputs go to a temporary directory (the committed corpus is only read);
# a crashing input is saved as Fuzz/artifacts/TARGET-crash-* and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"
case "${1:-}" in
    idx) target=FuzzIDX corpus=Corpus/IDX ;;
    safetensors) target=FuzzSafeTensors corpus=Corpus/SafeTensors ;;
    configuration) target=FuzzConfiguration corpus=Corpus/Configuration ;;
    *) echo "usage: scripts/fuzz.sh idx|safetensors|configuration [RUNS]" >&2; exit 2 ;;
esac
runs="${2:-0}"
[[ "$runs" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: RUNS must be a whole number, got '$runs'" >&2; exit 2; }
[ "$runs" -eq 0 ] && runs=-1
swift build -Xswiftc -sanitize=fuzzer,address --product "$target" 2>&1 | grep -v "warning: Cannot export" || true
[ -x ".build/debug/$target" ] || { echo "fuzz.sh: building $target failed" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p artifacts
echo "fuzz.sh: $target on $corpus, $([ "$runs" -lt 0 ] && echo "until stopped" || echo "$runs runs")"
# The one known false positive of LeakSanitizer (Fuzz/lsan-suppressions.txt says why).
export LSAN_OPTIONS="suppressions=$PWD/lsan-suppressions.txt${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
".build/debug/$target" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="artifacts/$target-" "$work" "$corpus"
