"""``torch.cuda``: this build runs on the CPU; CUDA reports unavailable and refuses CUDA tensors."""

from __future__ import annotations

from typing import Any


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def _lazy_init() -> None:
    raise RuntimeError(
        "Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver "
        "from http://www.nvidia.com/Download/index.aspx")


def current_device() -> int:
    _lazy_init()
    return 0


def get_device_name(device: Any = None) -> str:
    _lazy_init()
    return ""


def synchronize(device: Any = None) -> None:
    _lazy_init()


def manual_seed(seed: int) -> None:
    """Seeds CUDA generators: nothing to seed without a GPU (as PyTorch, silently)."""


manual_seed_all = manual_seed


def empty_cache() -> None:
    """Releases cached GPU memory: nothing cached without a GPU."""


def memory_allocated(device: Any = None) -> int:
    return 0


def max_memory_allocated(device: Any = None) -> int:
    return 0
