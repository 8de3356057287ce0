#!/usr/bin/env bash
# One command for the benchmarks: builds in release mode, runs Landscape's benchmark
# (every model — the MLP, the CNN and the transformer `vit` — batch and measure; ratios to
# sgemm/dgemm measured in the same run; OpenBLAS kernel and threads printed), the presets
# through the specification against the structs (--spec-parity: interleaved rounds, the
# ratio spec / struct per workload), then — unless PEERS=0 — the JAX and PyTorch peers on the same
# workloads right after it (one after the other, never at the same time), their HVP agreement
# checks on the same weights and vector, and the merged table with Landscape / JAX and
# Landscape / PyTorch (eager and torch.func) per row.
#
#   bash Benchmarks/run.sh            # full run, about 15 minutes on 2 cores
#   bash Benchmarks/run.sh --quick    # batches 64 and 2048, fewer repeats (peers: --quick too)
#   PEERS=0 bash Benchmarks/run.sh    # Landscape only
#   OUT=DIR bash Benchmarks/run.sh    # where to write (default runs/benchmarks/TIMESTAMP)
#
# Writes DIR/landscape.md and .json (table and raw figures), DIR/spec-parity.md and .json, and with peers
# DIR/jax.json, DIR/jax-check.json, DIR/torch.json, DIR/torch-check.json and DIR/table.md
# (the side-by-side table).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-runs/benchmarks/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
quick=()
for a in "$@"; do [ "$a" = "--quick" ] && quick=(--quick); done
bash scripts/setup.sh
swift build -c release --package-path Benchmarks
Benchmarks/.build/release/landscape-benchmarks "$@" --json "$out/landscape.json" --markdown "$out/landscape.md"
Benchmarks/.build/release/landscape-benchmarks --spec-parity ${quick[@]+"${quick[@]}"} --json "$out/spec-parity.json" --markdown "$out/spec-parity.md"
if [ "${PEERS:-1}" = 1 ]; then
    bash Benchmarks/peers/setup.sh
    Benchmarks/.build/release/landscape-benchmarks --export-peer-check "$out/peer-check"
    .build-peers/venv/bin/python Benchmarks/peers/jax_bench.py --check "$out/peer-check" --json "$out/jax-check.json"
    .build-peers/venv/bin/python Benchmarks/peers/jax_bench.py --time ${quick[@]+"${quick[@]}"} --json "$out/jax.json"
    .build-peers/venv/bin/python Benchmarks/peers/torch_bench.py --check "$out/peer-check" --json "$out/torch-check.json"
    .build-peers/venv/bin/python Benchmarks/peers/torch_bench.py --time ${quick[@]+"${quick[@]}"} --json "$out/torch.json"
    python3 Benchmarks/peers/merge.py --landscape "$out/landscape.json" --jax "$out/jax.json" \
        --torch "$out/torch.json" --check "$out/jax-check.json" --check "$out/torch-check.json" \
        --out "$out/table.md"
    echo "side-by-side table: $out/table.md"
fi
echo "Landscape table: $out/landscape.md; raw figures: $out/landscape.json; spec / struct: $out/spec-parity.md"
