"""``torch.cuda``.

This build finds the CUDA driver and its GPUs at run time (nothing CUDA is needed to install it) and
compiles its kernels with NVRTC (``ferrotorch.cuda.kernels``), but tensors cannot live on a GPU yet:
``is_available()`` answers False even on a machine with a GPU, so the usual
``device = "cuda" if torch.cuda.is_available() else "cpu"`` keeps scripts on the CPU, and moving a
tensor to a CUDA device raises RuntimeError saying why. ``probe()`` reports what the driver found.
"""

from __future__ import annotations

from typing import Any, NamedTuple, NoReturn

from .. import _C
from ._preload import preload_cuda_libraries

_BUILT = hasattr(_C, "_cuda_probe")


class Probe(NamedTuple):
    """What the driver reported: the GPUs' names, or why there are none."""

    devices: list[str]
    reason: str | None


def probe() -> Probe:
    """Asks the CUDA driver (once per process) for its devices; never raises."""
    if not _BUILT:
        return Probe([], "ferrotorch was built without the 'cuda' feature")
    preload_cuda_libraries()
    devices, reason = _C._cuda_probe()
    return Probe(list(devices), reason)


def is_built() -> bool:
    """True when this build carries the CUDA runtime (the driver is looked for at run time)."""
    return _BUILT


def is_available() -> bool:
    """False on this build: tensors cannot be placed on a GPU yet (see the module docstring)."""
    return False


def device_count() -> int:
    """GPUs tensors can be placed on: none until CUDA tensors exist, whatever ``probe()`` finds."""
    return 0


def is_initialized() -> bool:
    return False


def _lazy_init() -> NoReturn:
    """Raises the error PyTorch raises where CUDA cannot be used."""
    if _BUILT and _C._cuda_in_bad_fork():
        raise RuntimeError(
            "Cannot re-initialize CUDA in forked subprocess. To use CUDA with multiprocessing, "
            "you must use the 'spawn' start method")
    found = probe()
    if not found.devices:
        raise RuntimeError(found.reason or "No CUDA GPUs are available")
    raise RuntimeError(
        f"ferrotorch found {len(found.devices)} CUDA device(s) ({', '.join(found.devices)}) but cannot "
        "place tensors on a GPU yet; use device='cpu'")


def current_device() -> int:
    _lazy_init()
    return 0


def get_device_name(device: Any = None) -> str:
    _lazy_init()
    return ""


def synchronize(device: Any = None) -> None:
    _lazy_init()


def manual_seed(seed: int) -> None:
    """Seeds CUDA generators: there are none to seed without CUDA tensors (as PyTorch, silently)."""


manual_seed_all = manual_seed


def _gpu_index(device: Any) -> int | None:
    """The device's ordinal when this process has a GPU to ask, else None."""
    if not _BUILT or not probe().devices:
        return None
    if device is None:
        return 0
    if isinstance(device, int):
        return device
    return _C.device(device).index or 0


def _memory_stats(device: Any) -> tuple[int, int, int]:
    """(allocated, peak allocated, reserved) bytes of the device's caching allocator; zeros without a GPU."""
    index = _gpu_index(device)
    return (0, 0, 0) if index is None else tuple(_C._cuda_memory_stats(index))


def empty_cache() -> None:
    """Returns the caching allocator's idle blocks to the driver."""
    index = _gpu_index(None)
    if index is not None:
        _C._cuda_empty_cache(index)


def memory_allocated(device: Any = None) -> int:
    return _memory_stats(device)[0]


def max_memory_allocated(device: Any = None) -> int:
    return _memory_stats(device)[1]


def memory_reserved(device: Any = None) -> int:
    return _memory_stats(device)[2]
