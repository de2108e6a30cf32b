"""Calls that wait for the GPU in one training step, ferrotorch next to PyTorch, by source line.

    python benches/bench_cuda_syncs.py [mlp cnn lstm transformer amp]
    FERROTORCH_EMULATE_CUDA=1 PYTHONPATH=python python benches/bench_cuda_syncs.py --emulated

Each step runs twice to warm up, then once under ``torch.cuda.set_sync_debug_mode("warn")``: every
call that waited for the device (``.item()``, ``.cpu()``, an op computed on the host) is one warning,
counted here by the lines that made it. A wait stalls the CPU until the GPU has drained its queue, so
a step with none keeps the GPU busy while Python runs ahead. ``--emulated`` runs ferrotorch alone on
the emulated device with host builds of its kernels (there the GEMMs run on the host and are counted;
on a GPU cuBLAS runs them on the device).
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import ferrotorch
from ferrotorch.cuda import kernels

MESSAGE = "called a synchronizing CUDA operation"


def mlp(lib: ModuleType) -> Callable[[], None]:
    nn, F = lib.nn, lib.nn.functional
    m = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10)).cuda()
    opt = lib.optim.Adam(m.parameters(), 1e-3)
    x, y = lib.randn(32, 64, device="cuda"), lib.randint(0, 10, (32,), device="cuda")

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(m(x), y, label_smoothing=0.1).backward()
        opt.step()

    return step


def cnn(lib: ModuleType) -> Callable[[], None]:
    nn, F = lib.nn, lib.nn.functional
    m = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(8 * 4 * 4, 10)).cuda()
    opt = lib.optim.SGD(m.parameters(), 0.1, momentum=0.9)
    x, y = lib.randn(16, 1, 8, 8, device="cuda"), lib.randint(0, 10, (16,), device="cuda")

    def step() -> None:
        opt.zero_grad()
        F.nll_loss(F.log_softmax(m(x), 1), y).backward()
        opt.step()

    return step


def lstm(lib: ModuleType) -> Callable[[], None]:
    nn, F = lib.nn, lib.nn.functional

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb, self.lstm, self.fc = nn.Embedding(20, 16), nn.LSTM(16, 32, batch_first=True), nn.Linear(32, 20)

        def forward(self, t: Any) -> Any:
            h, _ = self.lstm(self.emb(t))
            return self.fc(h[:, -1])

    m = Model().cuda()
    opt = lib.optim.Adam(m.parameters())
    x, y = lib.randint(0, 20, (8, 6), device="cuda"), lib.randint(0, 20, (8,), device="cuda")

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()

    return step


def transformer(lib: ModuleType) -> Callable[[], None]:
    nn, F = lib.nn, lib.nn.functional

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb, self.pos = nn.Embedding(50, 32), nn.Embedding(16, 32)
            self.enc = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
            self.ln, self.fc = nn.LayerNorm(32), nn.Linear(32, 50)

        def forward(self, t: Any) -> Any:
            n = t.shape[1]
            h = self.emb(t) + self.pos(lib.arange(n, device=t.device))
            mask = lib.triu(lib.full((n, n), float("-inf"), device=t.device), diagonal=1)
            return self.fc(self.ln(self.enc(h, src_mask=mask)))

    m = Model().cuda()
    opt = lib.optim.AdamW(m.parameters(), 1e-3)
    x = lib.randint(0, 50, (4, 16), device="cuda")

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(m(x).view(-1, 50), x.view(-1)).backward()
        opt.step()

    return step


def amp(lib: ModuleType) -> Callable[[], None]:
    nn, F = lib.nn, lib.nn.functional
    m = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).cuda()
    opt = lib.optim.SGD(m.parameters(), 0.01)
    scaler = lib.amp.GradScaler("cuda")
    x, y = lib.randn(32, 64, device="cuda"), lib.randint(0, 10, (32,), device="cuda")

    def step() -> None:
        opt.zero_grad()
        with lib.autocast("cuda", dtype=lib.float16):
            loss = F.cross_entropy(m(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    return step


STEPS = {"mlp": mlp, "cnn": cnn, "lstm": lstm, "transformer": transformer, "amp": amp}


def waits(lib: ModuleType, make: Callable[[ModuleType], Callable[[], None]]) -> collections.Counter[str]:
    """The waiting calls of one warmed-up step, keyed by the innermost three Python frames."""
    step = make(lib)
    step()
    step()
    lib.cuda.synchronize()
    sites: collections.Counter[str] = collections.Counter()

    def record(message: Any, *_: Any, **__: Any) -> None:
        if MESSAGE in str(message):
            frames = [f for f in traceback.extract_stack()[:-2] if "bench_cuda_syncs" not in f.filename]
            sites[" < ".join(f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno}" for f in reversed(frames[-3:]))] += 1

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record
        lib.cuda.set_sync_debug_mode("warn")
        try:
            step()
        finally:
            lib.cuda.set_sync_debug_mode("default")
    return sites


def register_emulated_kernels() -> None:
    """Host builds of every kernel module for the emulated device (tests/cuda_emulator)."""
    path = Path(__file__).resolve().parents[1] / "tests" / "cuda_emulator" / "emu.py"
    spec = importlib.util.spec_from_file_location("ferrotorch_cuda_emu", path)
    emu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(emu)
    for module in kernels.modules():
        ferrotorch._C._cuda_emulator_register(module, str(emu.build_path(module)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("steps", nargs="*", default=list(STEPS), help=f"of: {' '.join(STEPS)}")
    ap.add_argument("--emulated", action="store_true", help="ferrotorch on the emulated device, kernels built for the host")
    args = ap.parse_args()
    libs: dict[str, ModuleType] = {"ferrotorch": ferrotorch}
    if args.emulated:
        register_emulated_kernels()
    else:
        try:
            import torch

            if torch.cuda.is_available():
                libs["torch"] = torch
        except ImportError:
            pass
    if not ferrotorch.cuda.is_available():
        raise SystemExit("no CUDA device (FERROTORCH_EMULATE_CUDA=1 with --emulated for the emulated one)")
    print(f"{'step':<12}" + "".join(f"{name:>12}" for name in libs) + "   (calls that waited for the GPU)")
    details = []
    unknown = [s for s in args.steps if s not in STEPS]
    if unknown:
        ap.error(f"unknown steps {unknown}: choose from {list(STEPS)}")
    for name in args.steps:
        counts = {lib: waits(mod, STEPS[name]) for lib, mod in libs.items()}
        print(f"{name:<12}" + "".join(f"{sum(c.values()):>12}" for c in counts.values()))
        details += [(name, lib, c) for lib, c in counts.items() if c]
    for name, lib, c in details:
        print(f"\n{name} / {lib}:")
        for site, n in c.most_common():
            print(f"  {n:3d}  {site}")


if __name__ == "__main__":
    main()
