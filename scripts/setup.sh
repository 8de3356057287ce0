#!/usr/bin/env bash
# Installs what Landscape needs on a fresh Debian machine (idempotent; run as root or with sudo):
# OpenBLAS (with LAPACK), zlib, pkg-config, PyYAML (scripts/k8s/check-job.py), Chromium (scripts/report-check.sh);
# and, if the package exists, Fashion-MNIST.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
need=()
pkg-config --exists openblas 2>/dev/null || need+=(libopenblas-dev)
pkg-config --exists zlib 2>/dev/null || need+=(zlib1g-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
python3 -c "import yaml" 2>/dev/null || need+=(python3-yaml)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}"
    $SUDO apt-get update -qq
    # Fashion-MNIST is optional: install the required packages first, then try it alone.
    required=()
    for p in "${need[@]}"; do [ "$p" = dataset-fashion-mnist ] || required+=("$p"); done
    if [ ${#required[@]} -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${required[@]}" >/dev/null
    fi
    if [[ " ${need[*]} " == *" dataset-fashion-mnist "* ]]; then
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null \
            || echo "setup: dataset-fashion-mnist not available; Fashion-MNIST tests will say so"
    fi
fi
pkg-config --exists openblas || { echo "setup: OpenBLAS (pkg-config openblas) is still missing" >&2; exit 1; }
