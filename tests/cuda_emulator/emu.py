"""Host (CPU) emulator for the CUDA kernels in rust/cuda/kernels.

A kernel module (``<name>.cu`` plus ``prelude.cuh``) is compiled with g++ as C++20 against the
shim in ``emu.h``: every CUDA thread of a block runs as an OS thread, blocks run one after another,
``__syncthreads`` is a block barrier and warp shuffles exchange values through a slot array with
per-warp barriers. The two inline-PTX half conversions of the prelude are replaced by host
``_Float16`` conversions. Kernels are launched from Python threads through ctypes (1-D grids and
blocks only).

What it checks: arithmetic, indexing, grid-stride loops, reductions across threads and the
launch/argument conventions of each kernel. What it does not emulate: warp divergence and
lock-step execution, timing, occupancy, the GPU memory model (caches, coalescing, visibility
without barriers) or device-specific math precision.

Build outputs go to a cache directory under the system temp dir, keyed by a hash of the sources,
never into the repository tree.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

KDIR = Path(__file__).resolve().parents[2] / "rust/cuda/kernels"
HERE = Path(__file__).resolve().parent
CACHE_DIR = Path(tempfile.gettempdir()) / "ferrotorch-cuda-emu"
H2F = 'asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(b));'
F2H = 'asm("cvt.rn.f16.f32 %0, %1;" : "=h"(b) : "f"(f));'
CXX = ["g++", "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", "-w"]


def source(module: str) -> str:
    """Full translation unit for one kernel module: emulator shim, patched prelude, kernels, and the
    table of kernels ``emu_launch`` looks names up in."""
    prelude = (KDIR / "prelude.cuh").read_text()
    if H2F not in prelude or F2H not in prelude:
        raise RuntimeError("prelude.cuh half conversions changed; update tests/cuda_emulator/emu.py")
    prelude = prelude.replace(H2F, "f = emu_h2f(b);").replace(F2H, "b = emu_f2h(f);")
    kernels = (KDIR / f"{module}.cu").read_text()
    unit = (HERE / "emu.h").read_text() + "\n" + prelude + "\n" + kernels
    return unit + "\n" + kernel_table(kernel_names(unit))


_KERNEL = re.compile(r'extern\s+"C"\s+void\s+(\w+)\s*\(')


def kernel_names(unit: str) -> list[str]:
    """The kernels a translation unit defines: its extern "C" functions after macro expansion
    (``__global__`` expands to nothing here), less the emulator's and the C++ library's own."""
    pre = subprocess.run([CXX[0], "-std=c++20", "-E", "-P", "-x", "c++", "-"], input=unit,
                         check=True, capture_output=True, text=True).stdout
    return sorted({n for n in _KERNEL.findall(pre) if not n.startswith(("emu_", "_"))})


def kernel_table(names: list[str]) -> str:
    rows = "".join(f'    {{"{n}", [](void** p) {{ emu_call(&{n}, p); }}}},\n' for n in names)
    return f"const EmuKernel emu_kernels[] = {{\n{rows}}};\nconst int emu_kernel_count = {len(names)};\n"


def build(module: str, cache_dir: Path | None = None) -> Module:
    """Compile (or reuse a cached build of) one kernel module and load it."""
    return Module(ctypes.CDLL(str(build_path(module, cache_dir))))


def build_path(module: str, cache_dir: Path | None = None) -> Path:
    """Compile (or reuse a cached build of) one kernel module; the shared library's path."""
    src = source(module)
    cache = Path(cache_dir) if cache_dir is not None else CACHE_DIR
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1((" ".join(CXX) + "\n" + src).encode()).hexdigest()[:16]
    so = cache / f"{module}-{key}.so"
    if not so.exists():
        tag = f"{os.getpid()}-{threading.get_ident()}"
        cpp = cache / f"{module}-{key}-{tag}.cpp"
        tmp = cache / f"{module}-{key}-{tag}.so.tmp"
        cpp.write_text(src)
        try:
            subprocess.run([*CXX, "-o", str(tmp), str(cpp)], check=True, capture_output=True, text=True)
            os.replace(tmp, so)
        finally:
            cpp.unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)
    return so


class Strides(ctypes.Structure):
    """Mirror of the kernels' strided-view descriptor (shape/stride in elements, up to 12 dims)."""

    _fields_ = [("shape", ctypes.c_longlong * 12), ("stride", ctypes.c_longlong * 12), ("ndim", ctypes.c_int)]


assert ctypes.sizeof(Strides) == 200


def strides_of(arr: np.ndarray) -> Strides:
    """Strides struct (in elements) of a numpy array view."""
    s = Strides()
    s.ndim = arr.ndim
    for d in range(arr.ndim):
        s.shape[d] = arr.shape[d]
        s.stride[d] = arr.strides[d] // arr.itemsize
    return s


def broadcast_strides(arr: np.ndarray, shape: tuple[int, ...]) -> Strides:
    """Strides struct of ``arr`` broadcast to ``shape`` (zero strides on broadcast dims)."""
    return strides_of(np.broadcast_to(arr, shape))


class Module:
    """A loaded kernel module; ``launch`` runs one kernel over a 1-D grid of 1-D blocks."""

    def __init__(self, lib: ctypes.CDLL):
        self.lib = lib
        lib.emu_begin_block.argtypes = [ctypes.c_uint] * 3
        lib.emu_set_thread.argtypes = [ctypes.c_uint] * 2

    def launch(self, name: str, grid: int, block: int, *args) -> None:
        """Launch ``name``: arrays pass as pointers, None as null, float as double, int as int64."""
        fn = getattr(self.lib, name)
        cargs = []
        for a in args:
            if isinstance(a, np.ndarray):
                cargs.append(ctypes.c_void_p(a.ctypes.data))
            elif a is None:
                cargs.append(ctypes.c_void_p(0))
            elif isinstance(a, (ctypes._SimpleCData, ctypes.Structure)):
                cargs.append(a)
            elif isinstance(a, float):
                cargs.append(ctypes.c_double(a))
            elif isinstance(a, int):
                cargs.append(ctypes.c_longlong(a))
            else:
                raise TypeError(type(a))
        fn.restype = None
        errors = []
        for b in range(grid):
            self.lib.emu_begin_block(b, block, grid)

            def body(t, b=b):
                try:
                    self.lib.emu_set_thread(t, b)
                    fn(*cargs)
                except Exception as e:  # noqa: BLE001 - re-raised below, on the launching thread
                    errors.append(e)

            threads = [threading.Thread(target=body, args=(t,)) for t in range(block)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if errors:
            raise errors[0]
