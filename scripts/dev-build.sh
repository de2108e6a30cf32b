#!/usr/bin/env bash
# Rebuilds the extension incrementally and drops it into the editable package (python/ferrotorch/_C.abi3.so).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --profile fastdev --features python,cuda --lib
tmp=python/ferrotorch/._C.abi3.so.new
cp target/fastdev/libferrotorch.so "$tmp"
mv -f "$tmp" python/ferrotorch/_C.abi3.so
