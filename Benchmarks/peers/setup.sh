#!/usr/bin/env bash
# Creates the Python environment for the peer benchmarks (JAX and PyTorch) in
# .build-peers/venv (git-ignored by the `.build-*` pattern) and installs jax[cpu], torch,
# numpy and safetensors. Idempotent: an existing venv is reused, and pip skips what is
# already satisfied.
#
# Usage (from anywhere):  bash Benchmarks/peers/setup.sh
#   PYTHON=python3.12 bash Benchmarks/peers/setup.sh   # pick another interpreter
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash Benchmarks/peers/setup.sh
#       # torch from PyTorch's CPU-only wheel index instead of PyPI: the default PyPI wheel
#       # for Linux also pulls in the CUDA libraries (several GB); both run the same CPU code
#
# Caveats for fair timing (see README.md beside this file):
# - CPU only: `jax[cpu]` installs jaxlib without CUDA; JAX_PLATFORMS=cpu is set by jax_bench.py.
# - XLA's CPU backend does not use OpenBLAS: its matmuls/convolutions are Eigen (or oneDNN)
#   kernels on its own intra-op thread pool, which uses every core by default. So
#   OPENBLAS_NUM_THREADS / OPENBLAS_CORETYPE, which steer Landscape, have no effect on JAX;
#   numpy inside the same process may still use OpenBLAS, but only for set-up, never timed.
# - For a single-thread comparison, pin the process (`taskset -c 0 ...`) on both sides. The
#   often-quoted XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
#   was accepted but changed nothing with jax/jaxlib 0.10.2 (CPU time / wall time stayed ~2
#   for the MLP on 2 cores). Leave everything unset to compare with Landscape on all cores.
# - PyTorch (torch_bench.py) runs on the CPU only and sets its intra-op threads itself
#   (torch.set_num_threads, default 2, flag --threads); the x86-64 PyPI wheel does its
#   matmuls with MKL and its convolutions with oneDNN (mkldnn) on its own OpenMP pool
#   (libgomp), so OPENBLAS_* does not steer it either.
# - Never run the Landscape, JAX and PyTorch timings at the same time on a small machine.
#   PyTorch suffers most: beside a running landscape-benchmarks on 2 cores, its 2-thread
#   times were 10-100× its unshared ones (OpenMP threads waiting for each other at every
#   parallel region), far beyond the factor 2 of sharing the cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.build-peers/venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$root/.build-peers"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "jax[cpu]" numpy safetensors
if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "$venv/bin/python" -m pip install --quiet torch --index-url "$TORCH_INDEX_URL"
else
    "$venv/bin/python" -m pip install --quiet torch
fi
"$venv/bin/python" - <<'PY'
import jax, jaxlib, numpy, safetensors, torch
print(f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, numpy {numpy.__version__}, "
      f"safetensors {safetensors.__version__}, devices {jax.devices()}")
print(f"torch {torch.__version__}, mkldnn available {torch.backends.mkldnn.is_available()}, "
      f"default threads {torch.get_num_threads()}")
PY
echo "venv ready: $venv"
