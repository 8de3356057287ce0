#!/usr/bin/env bash
# The architectures experiment of Notes/architectures.md, end to end: MLPs of 2, 4 and 8 hidden
# layers (plain, +res, +ln; +bn at depth 4; +res+ln at depth 8) and a small patch ViT, all sized
# to 50,000 parameters (±1.4 %, `landscape model SPEC --parameters 50000`), trained by the study's
# high-noise regime (batch 64, η₀ 0.05, momentum 0.9, cosine to 0) for EPOCHS epochs with seeds
# 0, 1, 2 on full MNIST, with the study's per-epoch probes and its final probes (per-module
# curvature, Lanczos, GGN); then the note's tables from the CSV files.
#
#   bash scripts/architectures.sh [OUTPUT_DIR] [extra `landscape study` options…]
#
# OUTPUT_DIR defaults to runs/architectures-TIMESTAMP. Environment: EPOCHS (default 5), SEEDS
# (default "0, 1, 2"), MODELS (default: the twelve below, space-separated) — the note's
# 10-epoch check is EPOCHS=10 with the eleven MLPs, then EPOCHS=10 SEEDS=0 with the ViT.
# An interrupted run continues with `.build/release/landscape study --resume OUTPUT_DIR`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/architectures-$(date +%Y%m%d-%H%M%S)}
shift || true
epochs=${EPOCHS:-5}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

swift build -c release --product landscape
bin=.build/release/landscape

# The sized compact forms (each the output of `landscape model FORM --parameters 50000` for
# the same form at width 100 / dim 32; listed here so that the note's runs are fixed text).
default_models=(
  mlp:784-59x2-10 mlp:784-59x2-10+res mlp:784-58x2-10+ln
  mlp:784-52x4-10 mlp:784-52x4-10+res mlp:784-52x4-10+ln mlp:784-52x4-10+bn
  mlp:784-45x8-10 mlp:784-45x8-10+res mlp:784-44x8-10+ln mlp:784-44x8-10+res+ln
  vit:patch7-dim52-depth2-heads4-mlp108
)
read -r -a models <<< "${MODELS:-${default_models[*]}}"
seeds=${SEEDS:-0, 1, 2}
mkdir -p "$(dirname "$out")"
config="$out.config.json"
{
  printf '{\n  "models": ['
  sep=""
  for m in "${models[@]}"; do printf '%s"%s"' "$sep" "$m"; sep=", "; done
  cat <<EOF
],
  "regimes": ["high-noise"],
  "seeds": [$seeds],
  "training": {"epochs": $epochs},
  "finalProbes": {"wholeSplitSeeds": 0, "extraFinalProbes": [], "slicePoints": 11}
}
EOF
} > "$config"

# Parameter counts and modules of every model, as the code builds them.
for m in "${models[@]}"; do "$bin" model "$m"; done > "$out.models.txt"

start=$(date +%s)
"$bin" study --config "$config" --output-dir "$out" "$@"
echo "wall time: $(( $(date +%s) - start )) s" | tee "$out.time.txt"
python3 scripts/architectures_tables.py "$out" > "$out.tables.md"
echo "tables: $out.tables.md"
