#!/usr/bin/env bash
# The main job: set up, build in release mode, fetch MNIST, and train the MLP while
# printing λ_max every epoch. Extra arguments go to `landscape train`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product landscape
.build/release/landscape fetch
.build/release/landscape train --model mlp --batch-size 64 --learning-rate 0.05 --momentum 0.9 --schedule cosine --epochs 3 "$@"
