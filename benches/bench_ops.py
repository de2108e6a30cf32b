"""Side-by-side fp32 op benchmark: ferrotorch vs numpy vs PyTorch (when installed), in one run.

    PYTHONPATH=python python benches/bench_ops.py [--quick] [--no-torch] [--threads N] [--json out.json]

Times (medians of repeats) matmul 256-2048 (GFLOP/s), elementwise add/mul/exp on 1M and 16M elements
(out-of-place and in-place / ``out=``), sum/mean/max reductions on 1M and 16M, ``a + b`` on 16-element tensors
(µs per op) and ``import`` time (fresh subprocess, median of several). Ratios are ferrotorch's time divided by
the other library's time: below 1.0 ferrotorch is faster. This machine is noisy, so only ratios from the same
run mean anything.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _early_threads(argv: list[str]) -> int | None:
    """``--threads N`` must reach the BLAS/OpenMP pools through the environment, before numpy is imported."""
    for i, arg in enumerate(argv):
        value = arg.split("=", 1)[1] if arg.startswith("--threads=") else None
        if arg == "--threads" and i + 1 < len(argv):
            value = argv[i + 1]
        if value is not None:
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
                os.environ[var] = value
            return int(value)
    return None


_early_threads(sys.argv[1:])

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "python") not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO / "python"))

import ferrotorch as ft

try:
    import torch
except ImportError:  # PyTorch is optional
    torch = None


def _calibrate(fn: Callable[[], Any], min_time: float) -> int:
    """How many calls of ``fn`` take at least ``min_time`` seconds (after one warm-up call)."""
    fn()  # warm up (allocator, caches, lazy init)
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time or number >= 1 << 20:
            return number
        number = max(number * 2, int(number * min_time / max(dt, 1e-9) * 1.2))


def measure(fns: dict[str, Callable[[], Any]], min_time: float, repeats: int) -> dict[str, float]:
    """Median seconds per call of each library's ``fn``.

    The libraries are sampled round-robin (one repeat of each in turn), so that the load of a shared machine
    weighs on all of them alike and their ratios stay meaningful.
    """
    numbers = {lib: _calibrate(fn, min_time) for lib, fn in fns.items()}
    samples: dict[str, list[float]] = {lib: [] for lib in fns}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for lib, fn in fns.items():
                # Let the previous library's worker threads stop spinning, and re-warm this one's caches.
                time.sleep(0.002)
                fn()
                number = numbers[lib]
                t0 = time.perf_counter()
                for _ in range(number):
                    fn()
                samples[lib].append((time.perf_counter() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {lib: statistics.median(v) for lib, v in samples.items()}


def import_time(module: str) -> float:
    """Seconds to ``import module`` in a fresh interpreter (timed inside the child)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "python"), env.get("PYTHONPATH", "")) if p)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(res.stdout.strip().splitlines()[-1])


class Libs:
    """The libraries under test, and how each gets its own copy of a numpy array."""

    def __init__(self, use_torch: bool) -> None:
        self.names = ["ferrotorch", "numpy"] + (["torch"] if use_torch and torch is not None else [])

    def convert(self, name: str, x: np.ndarray) -> Any:
        if name == "ferrotorch":
            return ft.from_numpy(x).clone()  # own (aligned) storage, not a view of numpy's
        if name == "torch":
            return torch.from_numpy(x).clone()
        return x.copy()


def elementwise_cases(lib: str, a: Any, b: Any, c: Any) -> dict[str, Callable[[], Any]]:
    """The elementwise/reduction closures of one library on inputs a, b and an output buffer c."""
    if lib == "numpy":
        return {
            "add": lambda: a + b,
            "mul": lambda: a * b,
            "exp": lambda: np.exp(a),
            "add_ (in-place)": lambda: np.add(c, b, out=c),
            "mul_ (in-place)": lambda: np.multiply(c, b, out=c),
            "exp (out=)": lambda: np.exp(a, out=c),
            "sum": lambda: a.sum(),
            "mean": lambda: a.mean(),
            "max": lambda: a.max(),
        }
    mod = ft if lib == "ferrotorch" else torch
    return {
        "add": lambda: a + b,
        "mul": lambda: a * b,
        "exp": lambda: a.exp(),
        "add_ (in-place)": lambda: c.add_(b),
        "mul_ (in-place)": lambda: c.mul_(b),
        "exp (out=)": lambda: mod.exp(a, out=c),
        "sum": lambda: a.sum(),
        "mean": lambda: a.mean(),
        "max": lambda: a.max(),
    }


def run(quick: bool, use_torch: bool) -> list[dict[str, Any]]:
    """All measurements, as rows ``{op, size, unit, <lib>: value}`` (value in seconds unless unit says GFLOP/s)."""
    libs = Libs(use_torch)
    repeats = 5 if quick else 15
    min_time = 0.02 if quick else 0.1
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []

    # matmul
    for n in (256, 512, 1024, 2048):
        x = rng.standard_normal((n, n), dtype=np.float32)
        y = rng.standard_normal((n, n), dtype=np.float32)
        fns = {}
        for lib in libs.names:
            a, b = libs.convert(lib, x), libs.convert(lib, y)
            fns[lib] = lambda a=a, b=b: a @ b
        times = measure(fns, min_time, 3 if (quick and n >= 1024) else repeats)
        row: dict[str, Any] = {"op": "matmul (GFLOP/s)", "size": f"{n}x{n}", "unit": "gflops"}
        row.update({lib: 2.0 * n**3 / t / 1e9 for lib, t in times.items()})
        rows.append(row)
        print(f"  matmul {n}: done", file=sys.stderr)

    # elementwise and reductions
    for numel, label in ((1 << 20, "1M"), (1 << 24, "16M")):
        x = rng.random(numel, dtype=np.float32)
        y = (rng.random(numel, dtype=np.float32) * 1e-3 + 1.0).astype(np.float32)  # ~1: mul_ stays bounded
        cases = {
            lib: elementwise_cases(lib, libs.convert(lib, x), libs.convert(lib, y), libs.convert(lib, x))
            for lib in libs.names
        }
        for op in cases["numpy"]:
            times = measure({lib: cases[lib][op] for lib in libs.names}, min_time, repeats)
            rows.append({"op": op, "size": label, "unit": "s", **times})
        del cases
        gc.collect()
        print(f"  elementwise/reductions {label}: done", file=sys.stderr)

    # tiny-tensor overhead
    x16, y16 = rng.random(16, dtype=np.float32), rng.random(16, dtype=np.float32)
    fns = {}
    for lib in libs.names:
        a, b = libs.convert(lib, x16), libs.convert(lib, y16)
        fns[lib] = lambda a=a, b=b: a + b
    rows.append({"op": "a + b (per op)", "size": "16", "unit": "s", **measure(fns, min_time, repeats)})

    # import time
    samples: dict[str, list[float]] = {lib: [] for lib in libs.names}
    for _ in range(3 if quick else 7):  # round-robin too
        for lib in libs.names:
            samples[lib].append(import_time(lib))
    rows.append(
        {"op": "import", "size": "-", "unit": "s", **{k: statistics.median(v) for k, v in samples.items()}}
    )
    print("  import: done", file=sys.stderr)
    return rows


def fmt_value(v: float | None, unit: str) -> str:
    """A cell: GFLOP/s, or a time in the unit that suits it."""
    if v is None:
        return "-"
    if unit == "gflops":
        return f"{v:8.1f}"
    if v < 1e-3:
        return f"{v * 1e6:7.2f} µs"
    if v < 1.0:
        return f"{v * 1e3:7.2f} ms"
    return f"{v:7.3f} s "


def ratio(row: dict[str, Any], other: str) -> str:
    """ferrotorch time / other time (for GFLOP/s rows: other rate / ferrotorch rate)."""
    if other not in row:
        return "-"
    if row["unit"] == "gflops":
        return f"{row[other] / row['ferrotorch']:.2f}"
    return f"{row['ferrotorch'] / row[other]:.2f}"


def print_table(rows: list[dict[str, Any]], names: list[str]) -> None:
    """Print the side-by-side table with ratio columns."""
    others = [n for n in names if n != "ferrotorch"]
    header = f"{'op':<20} {'size':>9} " + " ".join(f"{n:>11}" for n in names)
    header += " " + " ".join(f"{'ft/' + ('np' if o == 'numpy' else o):>9}" for o in others)
    print(header)
    print("-" * len(header))
    for row in rows:
        line = f"{row['op']:<20} {row['size']:>9} " + " ".join(
            f"{fmt_value(row.get(n), row['unit']):>11}" for n in names
        )
        line += " " + " ".join(f"{ratio(row, o):>9}" for o in others)
        print(line)
    print("ratios: ferrotorch time / other time (< 1.0: ferrotorch faster); matmul cells in GFLOP/s")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the benchmark and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    p.add_argument("--threads", type=int, help="threads for every library (default: each library's own)")
    p.add_argument("--json", type=Path, help="also write the raw measurements here")
    args = p.parse_args(argv)
    if args.threads:
        ft.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    use_torch = not args.no_torch and torch is not None
    threads = f"ferrotorch {ft.get_num_threads()}" + (
        f", torch {torch.get_num_threads()}" if use_torch else ""
    )
    print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}"
        + (f", torch {torch.__version__}" if use_torch else ", torch not installed")
        + f"; cpus {os.cpu_count()}; threads: {threads}; fp32; {'quick' if args.quick else 'full'} mode"
    )
    rows = run(args.quick, use_torch)
    print_table(rows, Libs(use_torch).names)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
