"""Training-path benchmark: ferrotorch vs PyTorch (when installed), side by side in one run.

    PYTHONPATH=python python benches/bench_training.py [--quick]

Rows: an optimizer step over 10M fp32 parameters (10 tensors of 1M) for SGD with momentum, Adam and AdamW;
DataLoader throughput over a TensorDataset (batch 64, num_workers=0); ``save`` and ``load`` of a 100 MB
state_dict. Medians of repeats, sampled round-robin; ratio = ferrotorch time / PyTorch time (below 1.0 is faster).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))

import ferrotorch as ft

try:
    import torch
except ImportError:
    torch = None


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def optimizer_case(lib: Any, name: str, kwargs: dict) -> Callable[[], None]:
    rng = np.random.default_rng(0)
    params = [
        lib.nn.Parameter(lib.from_numpy(rng.standard_normal(1_000_000, dtype=np.float32))) for _ in range(10)
    ]
    for p in params:
        p.grad = lib.from_numpy(rng.standard_normal(1_000_000, dtype=np.float32))
    opt = getattr(lib.optim, name)(params, **kwargs)
    opt.step()  # creates the state
    return opt.step


def loader_case(lib: Any) -> Callable[[], None]:
    x = lib.randn(20_000, 64)
    y = lib.randint(0, 10, (20_000,))
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(x, y), batch_size=64, shuffle=True)

    def run() -> None:
        for _ in loader:
            pass

    return run


def save_load_cases(lib: Any, folder: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    rng = np.random.default_rng(0)
    sd = {
        f"layer{i}.weight": lib.from_numpy(rng.standard_normal((1250, 1000), dtype=np.float32))
        for i in range(20)
    }
    path = folder / f"{lib.__name__}.pt"

    def save() -> None:
        lib.save(sd, path)

    def load() -> None:
        out = lib.load(path, weights_only=True)
        for t in out.values():  # touch the data, so lazily mapped loads pay for reading too
            float(t[0, 0])

    save()
    return save, load


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeats = 5 if args.quick else 15
    libs = [ft] + ([torch] if torch is not None else [])
    rows: list[tuple[str, dict[str, Callable[[], None]]]] = []
    for name, kw in [("SGD", {"lr": 0.01, "momentum": 0.9}), ("Adam", {"lr": 1e-3}), ("AdamW", {"lr": 1e-3})]:
        rows.append(
            (f"{name} step, 10M params", {lib.__name__: optimizer_case(lib, name, kw) for lib in libs})
        )
    rows.append(("DataLoader epoch, 20k x 64", {lib.__name__: loader_case(lib) for lib in libs}))
    with tempfile.TemporaryDirectory() as tmp:
        sl = {lib.__name__: save_load_cases(lib, Path(tmp)) for lib in libs}
        rows.append(("save 100 MB state_dict", {k: v[0] for k, v in sl.items()}))
        rows.append(("load 100 MB state_dict", {k: v[1] for k, v in sl.items()}))
        print(f"{'case':32} {'ferrotorch':>12} {'torch':>12} {'ratio':>7}")
        for label, fns in rows:
            samples: dict[str, list[float]] = {k: [] for k in fns}
            for _ in range(repeats):
                for k, fn in fns.items():
                    samples[k].append(timed(fn))
            med = {k: statistics.median(v) for k, v in samples.items()}
            f = med["ferrotorch"]
            t = med.get("torch")
            tcol = f"{t * 1e3:10.2f}ms" if t else f"{'-':>12}"
            ratio = f"{f / t:7.2f}" if t else f"{'-':>7}"
            print(f"{label:32} {f * 1e3:10.2f}ms {tcol} {ratio}")


if __name__ == "__main__":
    main()
