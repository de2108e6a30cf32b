"""GPU benchmark: ferrotorch vs PyTorch on the same CUDA device, side by side in one run.

    python benches/bench_cuda.py [--quick] [--json out.json]

Needs a GPU (``torch.cuda.is_available()`` in both libraries); PyTorch is optional (without it only
ferrotorch's numbers print). Rows (issue 6's targets in brackets):

- ``matmul`` fp32 / TF32 / bf16 at 4096² and 8192², in TFLOP/s  [≥ 0.95× PyTorch's cuBLAS]
- ``add`` on 256M fp32 elements, in GB/s moved (3 × 4 bytes per element), next to the device-to-device
  copy bandwidth of ``y.copy_(x)`` (2 × 4 bytes per element)  [add ≥ 90% of copy]
- ``softmax`` / ``layer_norm`` over the last dim of [8192, 4096] fp32, ms
- MLP (784-1024-1024-10, batch 512) and CNN (2 conv + linear, batch 256) training steps with Adam, ms

Each timing synchronises the device before and after, and is the median of repeats after warm-up.
The ratio column is ferrotorch's time / PyTorch's time: below 1.0 ferrotorch is faster.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:  # an installed wheel (the GPU machine has no toolchain to build in place)
    import ferrotorch as ft
except ImportError:  # a checkout whose extension is built in place
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
    import ferrotorch as ft

try:
    import torch
except ImportError:  # PyTorch is optional
    torch = None


def timed(lib: Any, fn: Callable[[], Any], repeats: int, warmup: int = 2) -> float:
    """Median seconds of one call of ``fn`` on ``lib``'s current CUDA device."""
    for _ in range(warmup):
        fn()
    lib.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        lib.cuda.synchronize()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def matmul_case(lib: Any, n: int, dtype: str, tf32: bool) -> Callable[[], Any]:
    lib.backends.cuda.matmul.allow_tf32 = tf32
    dt = getattr(lib, dtype)
    a = lib.randn(n, n, device="cuda").to(dt)
    b = lib.randn(n, n, device="cuda").to(dt)
    return lambda: a @ b


def add_case(lib: Any, n: int) -> Callable[[], Any]:
    a, b = lib.ones(n, device="cuda"), lib.ones(n, device="cuda")
    out = lib.empty(n, device="cuda")
    return lambda: lib.add(a, b, out=out)


def copy_case(lib: Any, n: int) -> Callable[[], Any]:
    a, out = lib.ones(n, device="cuda"), lib.empty(n, device="cuda")
    return lambda: out.copy_(a)


def softmax_case(lib: Any) -> Callable[[], Any]:
    x = lib.randn(8192, 4096, device="cuda")
    return lambda: x.softmax(-1)


def layer_norm_case(lib: Any) -> Callable[[], Any]:
    x = lib.randn(8192, 4096, device="cuda")
    return lambda: lib.nn.functional.layer_norm(x, (4096,))


def train_step(lib: Any, model: Any, x: Any, t: Any) -> Callable[[], Any]:
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        opt.zero_grad()
        lib.nn.functional.cross_entropy(model(x), t).backward()
        opt.step()

    return step


def mlp_case(lib: Any) -> Callable[[], Any]:
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                          nn.Linear(1024, 10)).to("cuda")
    x, t = lib.randn(512, 784, device="cuda"), lib.randint(0, 10, (512,), device="cuda")
    return train_step(lib, model, x, t)


def cnn_case(lib: Any) -> Callable[[], Any]:
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64 * 7 * 7, 10)).to("cuda")
    x, t = lib.randn(256, 1, 28, 28, device="cuda"), lib.randint(0, 10, (256,), device="cuda")
    return train_step(lib, model, x, t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats, no 8192² matmuls")
    p.add_argument("--json", help="write the raw numbers here")
    args = p.parse_args()
    if not ft.cuda.is_available():
        sys.exit(f"no CUDA device for ferrotorch: {ft.cuda.probe().reason}")
    libs = {"ferrotorch": ft}
    if torch is not None and torch.cuda.is_available():
        libs["torch"] = torch
    reps = 5 if args.quick else 20
    n_add = 1 << 28
    sizes = [4096] if args.quick else [4096, 8192]
    rows: list[tuple[str, str, float, Callable[[float], float]]] = []
    for n in sizes:
        for dtype, tf32, label in (("float32", False, "fp32"), ("float32", True, "tf32"), ("bfloat16", False, "bf16")):
            rows.append((f"matmul {label} {n}²", "TFLOP/s", 2 * n**3,
                         lambda lib, n=n, d=dtype, t=tf32: matmul_case(lib, n, d, t)))
    rows += [
        ("add 256M fp32", "GB/s", 12 * n_add, lambda lib: add_case(lib, n_add)),
        ("copy 256M fp32 (D2D)", "GB/s", 8 * n_add, lambda lib: copy_case(lib, n_add)),
        ("softmax [8192, 4096]", "ms", 0, softmax_case),
        ("layer_norm [8192, 4096]", "ms", 0, layer_norm_case),
        ("MLP 784-1024-1024-10 b512 step", "ms", 0, mlp_case),
        ("CNN 2conv+fc b256 step", "ms", 0, cnn_case),
    ]
    print(f"device: {ft.cuda.get_device_name()}")
    print(f"{'row':34} {'unit':8} {'ferrotorch':>11} {'torch':>11} {'ratio ft/torch (time)':>22}")
    out = {}
    for name, unit, work, make in rows:
        secs = {}
        for lib_name, lib in libs.items():
            try:
                secs[lib_name] = timed(lib, make(lib), reps)
            except Exception as e:  # noqa: BLE001 - report the failure in the table and go on
                print(f"  {name} on {lib_name}: {type(e).__name__}: {e}")
            finally:
                lib.backends.cuda.matmul.allow_tf32 = False
        show = {k: (work / v / (1e12 if unit == "TFLOP/s" else 1e9) if unit != "ms" else v * 1e3)
                for k, v in secs.items()}
        ratio = secs["ferrotorch"] / secs["torch"] if "torch" in secs and "ferrotorch" in secs else float("nan")
        ft_s = f"{show['ferrotorch']:.2f}" if "ferrotorch" in show else "-"
        th_s = f"{show['torch']:.2f}" if "torch" in show else "-"
        print(f"{name:34} {unit:8} {ft_s:>11} {th_s:>11} {ratio:>21.2f}x")
        out[name] = {"unit": unit, **{k: v for k, v in secs.items()}}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
