"""``torch.cuda`` seeding: ``seed``, ``seed_all``, ``initial_seed``, ``get_rng_state``/``set_rng_state``.

The CUDA generator (one Philox stream for every device) lives in Rust as (seed, offset); its state is
PyTorch's 16 bytes, the seed then the offset (little-endian 64-bit each). Its seed is remembered here. ``torch.manual_seed`` seeds it too without passing through this module, so
a change of the CPU generator's initial seed since the last CUDA seeding is read as that call."""

from __future__ import annotations

import random as _random
import struct
from typing import Any

import numpy as np

from .. import _C

__all__ = ["get_rng_state", "get_rng_state_all", "initial_seed", "manual_seed", "manual_seed_all", "seed", "seed_all",
           "set_rng_state", "set_rng_state_all"]

_DEFAULT_SEED = 67280421310721  # the seed PyTorch's (and ferrotorch's) CUDA generator starts from
_seed = _DEFAULT_SEED
_cpu_seed_then = _C.initial_seed()


def manual_seed(seed: int) -> None:
    """Seeds the CUDA generator (Philox on the device: its values differ from the CPU generator's
    for the same seed, as in PyTorch); ``torch.manual_seed`` seeds both. Safe without CUDA."""
    global _seed, _cpu_seed_then
    seed = int(seed)
    if hasattr(_C, "_cuda_manual_seed"):
        _C._cuda_manual_seed(seed)
    _seed = seed & 0xFFFF_FFFF_FFFF_FFFF
    _cpu_seed_then = _C.initial_seed()


manual_seed_all = manual_seed


def seed() -> None:
    """Seeds the CUDA generator with a random number; silently ignored without CUDA, as in PyTorch."""
    from . import is_available

    if is_available():
        manual_seed(_random.SystemRandom().getrandbits(63))


seed_all = seed


def initial_seed() -> int:
    """The seed the CUDA generator was last seeded with (raises where CUDA cannot be used)."""
    from . import _lazy_init

    _lazy_init()
    cpu_seed = _C.initial_seed()
    return cpu_seed if cpu_seed != _cpu_seed_then else _seed


def _check_device(device: Any) -> None:
    """Raises as PyTorch for a device that is not a CUDA device of this machine (after CUDA's lazy init)."""
    from . import _lazy_init, device_count

    _lazy_init()
    d = _C.device("cuda", device) if isinstance(device, int) else _C.device(device) if isinstance(device, str) else device
    if d.type != "cuda":
        raise RuntimeError(f"Expected a 'cuda' device type for generator but found '{d.type}'")
    if (d.index or 0) >= device_count():
        raise RuntimeError(f"Invalid device index {d.index}: this machine has {device_count()} CUDA device(s)")


def get_rng_state(device: Any = "cuda") -> Any:
    """The CUDA generator's state as a CPU uint8 tensor of 16 bytes (seed, then Philox offset), as PyTorch's."""
    _check_device(device)
    seed, offset = _C._cuda_get_rng_state()
    raw = np.frombuffer(struct.pack("<QQ", seed, offset), dtype=np.uint8).copy()
    return _C.from_numpy(raw)


def get_rng_state_all() -> list:
    """One state per device (ferrotorch's devices share one stream, so they are equal)."""
    from . import device_count

    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state(new_state: Any, device: Any = "cuda") -> None:
    """Restores a state from ``get_rng_state``: later random numbers on the GPU repeat those drawn after it."""
    global _seed, _cpu_seed_then
    _check_device(device)
    if not isinstance(new_state, _C.Tensor) or new_state.dtype != _C.uint8:
        raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}"
                        + (f" of dtype {new_state.dtype}" if isinstance(new_state, _C.Tensor) else ""))
    if new_state.numel() != 16:
        raise RuntimeError(f"RNG state is wrong size: expected 16 bytes, got {new_state.numel()}")
    seed, offset = struct.unpack("<QQ", bytes(new_state.cpu().reshape(-1).tolist()))
    _C._cuda_set_rng_state(seed, offset)
    _seed, _cpu_seed_then = seed, _C.initial_seed()


def set_rng_state_all(new_states: Any) -> None:
    for i, state in enumerate(new_states):
        set_rng_state(state, i)
