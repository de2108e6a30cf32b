"""``torch.cuda`` seeding: ``seed``, ``seed_all``, ``initial_seed``.

The CUDA generator (one Philox stream for every device) lives in Rust and only takes a seed; its
seed is remembered here. ``torch.manual_seed`` seeds it too without passing through this module, so
a change of the CPU generator's initial seed since the last CUDA seeding is read as that call."""

from __future__ import annotations

import random as _random

from .. import _C

__all__ = ["initial_seed", "manual_seed", "manual_seed_all", "seed", "seed_all"]

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
