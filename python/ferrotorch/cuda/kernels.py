"""The CUDA kernel sources and their NVRTC compilation (no GPU needed to compile).

Kernels are compiled to CUBIN for a given architecture and cached on disk, keyed by source hash,
architecture and NVRTC version (``cache_dir()``; ``FERROTORCH_KERNEL_CACHE`` moves it).
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

import numpy as np

from .. import _C
from ._preload import preload_cuda_libraries


class Compiled(NamedTuple):
    module: str
    arch: str
    cubin_bytes: int
    from_cache: bool
    kernels: list[str]


def _require() -> None:
    if not hasattr(_C, "_cuda_compile"):
        raise RuntimeError("ferrotorch was built without the 'cuda' feature")
    preload_cuda_libraries()


def modules() -> list[str]:
    """Names of the kernel families (one ``rust/cuda/kernels/<name>.cu`` each)."""
    _require()
    return list(_C._cuda_kernel_modules())


def nvrtc_available() -> bool:
    """True when NVRTC can be loaded (pip install nvidia-cuda-nvrtc, or a CUDA toolkit)."""
    _require()
    return bool(_C._nvrtc_available())


def nvrtc_version() -> tuple[int, int]:
    _require()
    return tuple(_C._nvrtc_version())


def cache_dir() -> str:
    _require()
    return str(_C._cuda_kernel_cache_dir())


def compile_module(module: str, arch: str = "sm_90") -> Compiled:
    """Compiles one kernel family for ``arch`` (through the disk cache); returns its kernel names."""
    _require()
    size, cached, names = _C._cuda_compile(module, arch)
    return Compiled(module, arch, size, cached, list(names))


# ---- launching one kernel by hand (what the GPU test-suite checks each kernel with) ----

MAX_DIMS = 12  # FT_MAX_DIMS in prelude.cuh


def strides_arg(shape: tuple[int, ...], strides: tuple[int, ...]) -> tuple[str, bytes]:
    """The prelude's ``Strides`` struct (element strides; 0 for a broadcast dim), passed by value."""
    if len(shape) != len(strides) or len(shape) > MAX_DIMS:
        raise ValueError(f"need matching shape and strides of at most {MAX_DIMS} dims, got {shape}, {strides}")
    pad = MAX_DIMS - len(shape)
    return ("bytes", struct.pack(f"<{MAX_DIMS}q{MAX_DIMS}qi4x", *shape, *([1] * pad), *strides,
                                 *([0] * pad), len(shape)))


def launch(module: str, kernel: str, grid: int | tuple[int, int, int], block: int | tuple[int, int, int],
           *args: Any, shared_bytes: int = 0, device: int = 0) -> None:
    """Runs ``kernel`` of ``module`` on GPU ``device`` and waits for it.

    Each numpy array in ``args`` is copied to the device, passed as a pointer, and overwritten with
    the device's contents afterwards; ``None`` is a null pointer; other arguments are
    ``(kind, value)`` with kind one of ``i64 u64 i32 f64 f32`` or ``("bytes", b)`` for a struct.
    """
    _require()
    packed: list[tuple] = []
    arrays: list[tuple[np.ndarray, bytearray]] = []
    for a in args:
        if isinstance(a, np.ndarray):
            if not a.flags.c_contiguous or not a.flags.writeable:
                raise ValueError("kernel buffers must be writeable C-contiguous numpy arrays")
            ba = bytearray(a.tobytes())
            arrays.append((a, ba))
            packed.append(("buf", ba))
        elif a is None:
            packed.append(("null",))
        else:
            packed.append(tuple(a))
    g = (grid, 1, 1) if isinstance(grid, int) else tuple(grid)
    b = (block, 1, 1) if isinstance(block, int) else tuple(block)
    _C._cuda_launch(device, module, kernel, g, b, shared_bytes, packed)
    for a, ba in arrays:
        a[...] = np.frombuffer(ba, dtype=a.dtype).reshape(a.shape)


def device_arch(device: int = 0) -> str:
    """The architecture kernels are compiled for on ``device`` ("sm_90")."""
    _require()
    return _C._cuda_device_arch(device)
