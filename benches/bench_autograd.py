"""Autograd overhead: ferrotorch vs PyTorch (when installed), side by side in one process.

    PYTHONPATH=python python benches/bench_autograd.py [--quick] [--no-torch] [--threads N]

Rows:
  ``a + b`` recorded     µs per op: 16-element fp32 tensors that require grad (each op records a node)
  ``a + b`` no_grad      µs per op: the same under ``no_grad`` (the recording cost is the difference)
  tiny backward          µs per iteration: ``(a * b).sum().backward()`` on 16 elements
  100-op chain backward  µs per iteration: forward 100 ``y = y * w`` then ``backward()``
  MLP step               ms per step: 784-256-10 MLP, batch 64, forward + cross-entropy + backward
  double backward        ms per step: tanh layer, ``grad(create_graph=True)`` then backward of its norm

Medians of repeats, libraries sampled round-robin; the ratio is ferrotorch's time / PyTorch's (below 1.0
ferrotorch is faster). Only ratios from the same run mean anything on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))


def _per_call(fn: Callable[[], Any], inner: int) -> float:
    """Seconds per call of ``fn``, timed over ``inner`` calls."""
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def _cases(lib: Any) -> dict[str, tuple[Callable[[], Any], int, float, str]]:
    """name -> (one iteration, iterations per sample, unit scale, unit)."""
    lib.manual_seed(0)
    a = lib.randn(16, requires_grad=True)
    b = lib.randn(16, requires_grad=True)

    def add_recorded() -> None:
        for _ in range(100):
            a + b

    def add_no_grad() -> None:
        with lib.no_grad():
            for _ in range(100):
                a + b

    def tiny_backward() -> None:
        (a * b).sum().backward()

    w = lib.full((16,), 1.0001, requires_grad=True)

    def chain_backward() -> None:
        y = a
        for _ in range(100):
            y = y * w
        y.sum().backward()

    fc1 = lib.nn.Linear(784, 256)
    fc2 = lib.nn.Linear(256, 10)
    x = lib.randn(64, 784)
    target = lib.randint(0, 10, (64,))
    params = [*fc1.parameters(), *fc2.parameters()]

    def mlp_step() -> None:
        for p in params:
            p.grad = None
        loss = lib.nn.functional.cross_entropy(fc2(lib.relu(fc1(x))), target)
        loss.backward()

    wd = lib.randn(128, 128, requires_grad=True)
    xd = lib.randn(32, 128)

    def double_backward() -> None:
        wd.grad = None
        y = (xd @ wd).tanh().sum()
        (g,) = lib.autograd.grad(y, wd, create_graph=True)
        g.norm().backward()

    return {
        "a + b recorded": (add_recorded, 20, 1e6 / 100, "µs/op"),
        "a + b no_grad": (add_no_grad, 20, 1e6 / 100, "µs/op"),
        "tiny backward (16)": (tiny_backward, 200, 1e6, "µs/it"),
        "100-op chain backward": (chain_backward, 10, 1e6, "µs/it"),
        "MLP 784-256-10 b64 step": (mlp_step, 5, 1e3, "ms/step"),
        "double backward 128x128": (double_backward, 5, 1e3, "ms/step"),
    }


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    ap.add_argument("--threads", type=int, default=None, help="thread count for both libraries")
    args = ap.parse_args(argv)
    if args.threads:
        for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(args.threads)

    import ferrotorch

    libs: dict[str, Any] = {"ferrotorch": ferrotorch}
    if not args.no_torch:
        try:
            import torch

            libs["torch"] = torch
        except ImportError:
            pass
    if args.threads:
        for lib in libs.values():
            lib.set_num_threads(args.threads)

    cases = {name: _cases(lib) for name, lib in libs.items()}
    repeats = 5 if args.quick else 15
    rows = list(cases["ferrotorch"])
    samples: dict[tuple[str, str], list[float]] = {(lib, r): [] for lib in libs for r in rows}
    for lib in libs:  # warm up
        for r in rows:
            fn, inner, _, _ = cases[lib][r]
            _per_call(fn, max(1, inner // 4))
    for _ in range(repeats):
        for r in rows:
            for lib in libs:  # round-robin: background load weighs on both alike
                fn, inner, _, _ = cases[lib][r]
                samples[(lib, r)].append(_per_call(fn, inner))

    names = list(libs)
    print(f"{'row':<26}{'unit':<9}" + "".join(f"{n:>12}" for n in names) + ("   ratio ft/torch" if "torch" in libs else ""))
    for r in rows:
        _, _, scale, unit = cases["ferrotorch"][r]
        med = {n: statistics.median(samples[(n, r)]) * scale for n in names}
        line = f"{r:<26}{unit:<9}" + "".join(f"{med[n]:>12.2f}" for n in names)
        if "torch" in libs:
            line += f"   {med['ferrotorch'] / med['torch']:.2f}x"
        print(line)
    if "torch" not in libs:
        print("(PyTorch not importable: ferrotorch only)")


if __name__ == "__main__":
    main(sys.argv[1:])
