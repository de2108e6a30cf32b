"""Loading the CUDA libraries that pip wheels ship (``nvidia-cuda-nvrtc``, ``nvidia-cublas``…).

The Rust core dlopens them by their plain names (``libnvrtc.so.13``), which the dynamic loader only
finds on its search path. The wheels put them under ``site-packages/nvidia/*/lib``, so, as PyTorch
does, we load each by full path with RTLD_GLOBAL first; the core's dlopen then finds the loaded copy.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys

# Dependents after their dependencies: cuBLAS needs cuBLASLt already loaded.
_LIBRARIES = ("libnvrtc-builtins.so.*", "libnvrtc.so.*", "libcublasLt.so.*", "libcublas.so.*")

_done = False


def _wheel_lib_dirs() -> list[str]:
    dirs = []
    for base in sys.path:
        dirs += sorted(glob.glob(os.path.join(base, "nvidia", "*", "lib")))
        dirs += sorted(glob.glob(os.path.join(base, "nvidia", "*", "*", "lib")))
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


def preload_cuda_libraries() -> list[str]:
    """Loads every CUDA library found in pip wheels, once per process; returns the paths loaded."""
    global _done
    loaded: list[str] = []
    if _done:
        return loaded
    _done = True
    for pattern in _LIBRARIES:
        for d in _wheel_lib_dirs():
            # The shortest name is the soname itself (libnvrtc.so.13, not libnvrtc.so.13.5.37).
            for path in sorted(glob.glob(os.path.join(d, pattern)), key=len)[:1]:
                try:
                    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                    loaded.append(path)
                except OSError:
                    pass  # a broken or foreign-arch copy: the core reports the library as missing
    return loaded
