"""Side-by-side fp32 ``nn`` benchmark: ferrotorch vs PyTorch (when installed), in one run.

    PYTHONPATH=python python benches/bench_nn.py [--quick] [--no-torch] [--threads N] [--json out.json]
                                                 [--only SUBSTRING]

Layer rows (ms per call): conv2d forward (no_grad) and forward+backward (N=32, 3→16 and 16→32 channels,
32×32, k=3, pad=1), conv1d 32→32 (N=32, L=256, k=5), max_pool2d 2×2 on 32×16×32×32, LSTM (batch 32, seq 50,
input 64, hidden 128) forward+backward. Training rows (one optimizer step: zero_grad, forward, loss,
backward, step; shown as samples/s): an MLP 784-256-128-10 (SGD momentum, batch 64), a LeNet on 28×28
(Adam, batch 64), an LSTM + Linear head (Adam, batch 32, seq 50), Embedding(10000, 128) + mean + Linear
(SGD, batch 256, seq 32). Last, the peak RSS of 200 MLP training steps, each library in its own subprocess
(``ru_maxrss``; on Linux ``VmHWM``), next to the RSS right after ``import``.

Medians of repeats, the libraries sampled round-robin; ratios are ferrotorch's time divided by PyTorch's (for
samples/s rows the inverse ratio of rates, for RSS ferrotorch MB / PyTorch MB): below 1.0 ferrotorch is
better. This machine is noisy, so only ratios from the same run mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for _p in (HERE, REPO / "python"):  # bench_ops beside this file; run from a checkout without installing
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

# The libraries are imported by main(), not here: the RSS child imports this module for its models and must
# load only the one library it measures.
ft: Any = None
torch: Any = None


def _import_libraries(argv: list[str]) -> None:
    """Apply ``--threads`` to the environment, then import ferrotorch and (when installed) PyTorch."""
    global ft, torch
    from bench_ops import _early_threads

    _early_threads(argv)
    import ferrotorch

    ft = ferrotorch
    try:
        import torch as pytorch
    except ImportError:  # PyTorch is optional
        pytorch = None
    torch = pytorch


Case = Callable[[], Any]


def tensor(lib: Any, x: np.ndarray, requires_grad: bool = False) -> Any:
    """The library's own copy of ``x`` (not a view of numpy's memory)."""
    t = lib.from_numpy(x).clone()
    if requires_grad:
        t.requires_grad_(True)
    return t


# ---------------------------------------------------------------------------------------------------- layers


def conv2d_case(lib: Any, cin: int, cout: int, backward: bool) -> Case:
    rng = np.random.default_rng(0)
    x = tensor(
        lib, rng.standard_normal((32, cin, 32, 32), dtype=np.float32), requires_grad=backward and cin > 3
    )
    conv = lib.nn.Conv2d(cin, cout, 3, padding=1)
    if not backward:

        def fwd() -> Any:
            with lib.no_grad():
                return conv(x)

        return fwd
    gy = tensor(lib, rng.standard_normal((32, cout, 32, 32), dtype=np.float32))

    def fwd_bwd() -> None:
        conv(x).backward(gy)

    return fwd_bwd


def conv1d_case(lib: Any, backward: bool) -> Case:
    rng = np.random.default_rng(0)
    x = tensor(lib, rng.standard_normal((32, 32, 256), dtype=np.float32), requires_grad=backward)
    conv = lib.nn.Conv1d(32, 32, 5, padding=2)
    if not backward:

        def fwd() -> Any:
            with lib.no_grad():
                return conv(x)

        return fwd
    gy = tensor(lib, rng.standard_normal((32, 32, 256), dtype=np.float32))

    def fwd_bwd() -> None:
        conv(x).backward(gy)

    return fwd_bwd


def max_pool_case(lib: Any, backward: bool) -> Case:
    rng = np.random.default_rng(0)
    x = tensor(lib, rng.standard_normal((32, 16, 32, 32), dtype=np.float32), requires_grad=backward)
    F = lib.nn.functional
    if not backward:

        def fwd() -> Any:
            with lib.no_grad():
                return F.max_pool2d(x, 2)

        return fwd
    gy = tensor(lib, rng.standard_normal((32, 16, 16, 16), dtype=np.float32))

    def fwd_bwd() -> None:
        F.max_pool2d(x, 2).backward(gy)

    return fwd_bwd


def lstm_case(lib: Any) -> Case:
    rng = np.random.default_rng(0)
    lstm = lib.nn.LSTM(64, 128, batch_first=True)
    x = tensor(lib, rng.standard_normal((32, 50, 64), dtype=np.float32), requires_grad=True)
    gy = tensor(lib, rng.standard_normal((32, 50, 128), dtype=np.float32))

    def fwd_bwd() -> None:
        out, _ = lstm(x)
        out.backward(gy)

    return fwd_bwd


# -------------------------------------------------------------------------------------------------- training


def mlp(lib: Any) -> Any:
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def lenet(lib: Any) -> Any:
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def lstm_head(lib: Any) -> Any:
    nn = lib.nn

    class LSTMHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(64, 128, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, x: Any) -> Any:
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    return LSTMHead()


def embedding_bag_model(lib: Any) -> Any:
    nn = lib.nn

    class EmbMean(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(10000, 128)
            self.fc = nn.Linear(128, 10)

        def forward(self, x: Any) -> Any:
            return self.fc(self.emb(x).mean(1))

    return EmbMean()


TRAIN: dict[str, tuple[Callable[[Any], Any], str, dict[str, Any], tuple[int, ...], str, int]] = {
    # name: (model, optimizer, its kwargs, batch input shape, input kind, batch size)
    "train MLP": (mlp, "SGD", {"lr": 0.01, "momentum": 0.9}, (64, 784), "float", 64),
    "train LeNet": (lenet, "Adam", {"lr": 1e-3}, (64, 1, 28, 28), "float", 64),
    "train LSTM+Linear": (lstm_head, "Adam", {"lr": 1e-3}, (32, 50, 64), "float", 32),
    "train Embedding+mean": (embedding_bag_model, "SGD", {"lr": 0.1}, (256, 32), "index", 256),
}


def train_case(lib: Any, name: str) -> Case:
    """One training step (zero_grad, forward, cross-entropy, backward, step) cycling over 4 fixed batches."""
    make, opt_name, kwargs, shape, kind, batch = TRAIN[name]
    lib.manual_seed(0)
    model = make(lib)
    opt = getattr(lib.optim, opt_name)(model.parameters(), **kwargs)
    loss_fn = lib.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    if kind == "index":
        xs = [tensor(lib, rng.integers(0, 10000, shape, dtype=np.int64)) for _ in range(4)]
    else:
        xs = [tensor(lib, rng.standard_normal(shape, dtype=np.float32)) for _ in range(4)]
    ys = [tensor(lib, rng.integers(0, 10, (batch,), dtype=np.int64)) for _ in range(4)]
    state = {"i": 0}

    def step() -> None:
        i = state["i"] = (state["i"] + 1) % 4
        opt.zero_grad()
        loss = loss_fn(model(xs[i]), ys[i])
        loss.backward()
        opt.step()

    return step


# ------------------------------------------------------------------------------------------------------ RSS

RSS_CHILD = """
import sys
sys.path.insert(0, {benches!r}); sys.path.insert(0, {python!r})
import bench_nn
import {lib} as lib
base = bench_nn.max_rss_mb()
step = bench_nn.train_case(lib, "train MLP")
for _ in range({steps}):
    step()
print(base, bench_nn.max_rss_mb())
"""


def max_rss_mb() -> float:
    """This process's peak resident set size in MB.

    ``ru_maxrss``, except on Linux, where a child's ``ru_maxrss`` starts at the peak of the (big) parent it was
    forked from: there the peak of this process's own address space, ``VmHWM`` in /proc/self/status.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def peak_rss(lib: str, steps: int) -> tuple[float, float]:
    """(peak RSS after import, peak RSS after the MLP loop) in MB, in a fresh interpreter."""
    code = RSS_CHILD.format(benches=str(HERE), python=str(REPO / "python"), lib=lib, steps=steps)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    base, peak = (float(v) for v in res.stdout.split()[-2:])
    return base, peak


# ---------------------------------------------------------------------------------------------------- driver


def libraries(use_torch: bool) -> dict[str, Any]:
    libs: dict[str, Any] = {"ferrotorch": ft}
    if use_torch and torch is not None:
        libs["torch"] = torch
    return libs


def cases() -> list[tuple[str, str, str, Callable[[Any], Case], int]]:
    """(op, size, unit, factory(lib) -> closure, samples per call)."""
    c2 = "32x{}x32x32 k3"
    return [
        ("conv2d fwd", "3->16 " + c2.format(3), "s", lambda lib: conv2d_case(lib, 3, 16, False), 0),
        ("conv2d fwd", "16->32 " + c2.format(16), "s", lambda lib: conv2d_case(lib, 16, 32, False), 0),
        ("conv2d fwd+bwd", "3->16 " + c2.format(3), "s", lambda lib: conv2d_case(lib, 3, 16, True), 0),
        ("conv2d fwd+bwd", "16->32 " + c2.format(16), "s", lambda lib: conv2d_case(lib, 16, 32, True), 0),
        ("conv1d fwd", "32->32 L256 k5", "s", lambda lib: conv1d_case(lib, False), 0),
        ("conv1d fwd+bwd", "32->32 L256 k5", "s", lambda lib: conv1d_case(lib, True), 0),
        ("max_pool2d fwd", "2x2 32x16x32x32", "s", lambda lib: max_pool_case(lib, False), 0),
        ("max_pool2d fwd+bwd", "2x2 32x16x32x32", "s", lambda lib: max_pool_case(lib, True), 0),
        ("LSTM fwd+bwd", "b32 s50 h128", "s", lstm_case, 0),
        ("train MLP", "SGD-m b64", "samples/s", lambda lib: train_case(lib, "train MLP"), 64),
        ("train LeNet", "Adam b64", "samples/s", lambda lib: train_case(lib, "train LeNet"), 64),
        ("train LSTM+Linear", "Adam b32", "samples/s", lambda lib: train_case(lib, "train LSTM+Linear"), 32),
        (
            "train Embedding+mean",
            "SGD b256",
            "samples/s",
            lambda lib: train_case(lib, "train Embedding+mean"),
            256,
        ),
    ]


def run(quick: bool, use_torch: bool, only: str | None) -> list[dict[str, Any]]:
    """All measurements, as rows ``{op, size, unit, <lib>: seconds per call (or MB), samples}``."""
    import bench_ops

    libs = libraries(use_torch)
    repeats = 5 if quick else 15
    min_time = 0.05 if quick else 0.2
    rows: list[dict[str, Any]] = []
    for op, size, unit, factory, samples in cases():
        if only and only not in op:
            continue
        fns = {name: factory(lib) for name, lib in libs.items()}
        times = bench_ops.measure(fns, min_time, repeats)
        rows.append({"op": op, "size": size, "unit": unit, "samples": samples, **times})
        del fns
        print(f"  {op} {size}: done", file=sys.stderr)
    if not only or only in "peak RSS":
        steps = 100 if quick else 300
        base: dict[str, float] = {}
        peak: dict[str, float] = {}
        for name in libs:
            base[name], peak[name] = peak_rss(name, steps)
        rows.append({"op": "import RSS", "size": "-", "unit": "MB", "samples": 0, **base})
        rows.append({"op": "peak RSS MLP loop", "size": f"{steps} steps", "unit": "MB", "samples": 0, **peak})
        print("  peak RSS: done", file=sys.stderr)
    return rows


def fmt_value(row: dict[str, Any], lib: str) -> str:
    v = row.get(lib)
    if v is None:
        return "-"
    if row["unit"] == "MB":
        return f"{v:7.0f} MB"
    if row["unit"] == "samples/s":
        return f"{row['samples'] / v:8.0f}/s"
    if v < 1e-3:
        return f"{v * 1e6:7.1f} µs"
    return f"{v * 1e3:7.2f} ms"


def print_table(rows: list[dict[str, Any]], names: list[str]) -> None:
    """The side-by-side table with the ratio column."""
    header = f"{'op':<22} {'size':<22} " + " ".join(f"{n:>12}" for n in names)
    if "torch" in names:
        header += f" {'ft/torch':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        line = f"{row['op']:<22} {row['size']:<22} " + " ".join(f"{fmt_value(row, n):>12}" for n in names)
        if "torch" in names:
            line += f" {row['ferrotorch'] / row['torch']:>9.2f}"
        print(line)
    print("ratios: ferrotorch time (or MB) / PyTorch's (< 1.0: ferrotorch better); samples/s rows show rates")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the benchmark and print the table."""
    _import_libraries(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    p.add_argument("--threads", type=int, help="threads for every library (default: each library's own)")
    p.add_argument("--only", help="only the rows whose op contains this")
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
    rows = run(args.quick, use_torch, args.only)
    print_table(rows, list(libraries(use_torch)))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
