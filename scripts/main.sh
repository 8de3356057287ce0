#!/usr/bin/env bash
# The main job: set up, build in release mode, fetch MNIST, and run the full MNIST geometry
# study (MLP and CNN × high-noise and low-noise SGD, 10 epochs each) into runs/study-TIMESTAMP
# with its report. Extra arguments go to `landscape study` (e.g. --preset quick).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product landscape
.build/release/landscape fetch
.build/release/landscape study "$@"
