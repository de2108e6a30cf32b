#!/usr/bin/env bash
# On a GPU machine without Rust or network: install a wheel built elsewhere
# (`maturin build --release -o dist`, carried over in dist/) and run the CUDA suites there.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --no-index --no-deps --force-reinstall dist/ferrotorch-*.whl
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv || true
# Run from outside the source tree so the installed wheel is imported, not python/ferrotorch.
cd /tmp
python -c "import ferrotorch as t; print(t.cuda.probe()); from ferrotorch.cuda import kernels as k; print(k.device_arch())"
python -m pytest -q "$OLDPWD/tests/test_cuda_kernels.py" "$OLDPWD/tests/test_cuda_runtime.py" \
    "$OLDPWD"/tests/test_devices*.py "$OLDPWD/tests/test_seeds.py" "$@"
python "$OLDPWD/benches/bench_cuda.py" --quick
python "$OLDPWD/benches/bench_cuda_syncs.py"
