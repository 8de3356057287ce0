#!/usr/bin/env bash
# Instruction counts of a small fixed workload under valgrind's callgrind: the structs MLP() and
# CNN() against the same presets through the specification (ModelSpec.mlp/.cnn.make()), and the
# transformer. Counts are of the region `callgrindRegion` in landscape-benchmarks only (set-up,
# model construction and one warm-up call excluded), with one OpenBLAS thread and the Haswell
# kernel (valgrind has no AVX-512), so they do not depend on the machine's load: a noise-free
# companion to the wall-clock ratios of `landscape-benchmarks --spec-parity`.
#
#   bash Benchmarks/callgrind.sh                      # 20 value+gradient calls at batch 64
#   bash Benchmarks/callgrind.sh --workload hvp       # 20 value+gradient+HVP calls
#   bash Benchmarks/callgrind.sh --calls 5 --batch 512
#   MODELS="mlp spec-mlp" bash Benchmarks/callgrind.sh
#
# Prints one line per model (instructions executed in the region, Ir) and the ratios
# spec-X / X; the callgrind files stay in $OUT (default a temporary directory) for
# callgrind_annotate. Takes a few minutes (valgrind runs the code about 50× slower).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
command -v strip >/dev/null || { echo "callgrind.sh: strip (binutils) is not installed" >&2; exit 1; }
swift build -c release --package-path Benchmarks 2>&1 | tail -1
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"
# valgrind 3.19 cannot read the DWARF 5 line tables clang writes for the C target (CKernels) and
# gives up; a copy without debug information runs (function names stay, source lines go).
bin="$(mktemp)"
trap 'rm -f "$bin"' EXIT
strip --strip-debug -o "$bin" Benchmarks/.build/release/landscape-benchmarks
chmod +x "$bin"
declare -A ir
for m in ${MODELS:-mlp spec-mlp cnn spec-cnn vit}; do
    OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Haswell valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect='*callgrindRegion*' --callgrind-out-file="$out/$m.callgrind" \
        "$bin" --callgrind "$m" "$@" 2>"$out/$m.log" | tail -1
    ir[$m]=$(sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out/$m.callgrind")
    [ -n "${ir[$m]}" ] && [ "${ir[$m]}" -gt 0 ] || { echo "callgrind.sh: no instructions counted for $m (see $out/$m.log)" >&2; exit 1; }
    printf '%-9s %15d instructions\n' "$m" "${ir[$m]}"
done
for m in mlp cnn; do
    if [ -n "${ir[$m]:-}" ] && [ -n "${ir[spec-$m]:-}" ]; then
        python3 -c "import sys; print(f'spec-{sys.argv[1]} / {sys.argv[1]}: {int(sys.argv[3]) / int(sys.argv[2]):.6f}')" "$m" "${ir[$m]}" "${ir[spec-$m]}"
    fi
done
echo "callgrind files: $out"
