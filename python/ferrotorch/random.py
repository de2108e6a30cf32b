"""``torch.random``: seeding and state of the default (CPU) generator, and ``fork_rng``.

The generator lives in Rust (``_C._default_generator()``: every handle shares it); ``torch.manual_seed`` and
friends at the top level are these functions. ``fork_rng`` saves and restores the CUDA generator's state
too (``ferrotorch.cuda.get_rng_state``/``set_rng_state``)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

from . import _C
from ._C import Generator, Tensor

__all__ = ["default_generator", "fork_rng", "get_rng_state", "initial_seed", "manual_seed", "seed",
           "set_rng_state"]

default_generator: Generator = _C._default_generator()

_U64 = 1 << 64


def set_rng_state(new_state: Tensor) -> None:
    """Sets the default generator's state (a tensor from ``get_rng_state``). CPU only, as in PyTorch."""
    default_generator.set_state(new_state)


def get_rng_state() -> Tensor:
    """The default generator's state as a tensor, for ``set_rng_state`` (CPU only)."""
    return default_generator.get_state()


def manual_seed(seed: int) -> Generator:
    """Seeds the CPU and CUDA generators; returns the default generator.

    ``seed`` must lie in ``[-0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff]``; negative seeds are taken modulo
    2**64, as in PyTorch."""
    seed = int(seed)
    if not -(1 << 63) <= seed < _U64:
        raise ValueError("Overflow when unpacking long long")
    # the Rust side takes an i64 and reads its bits as the u64 seed
    _C.manual_seed(seed - _U64 if seed >= 1 << 63 else seed)
    from . import cuda

    cuda.random._cpu_seed_then = _C.initial_seed()  # cuda.initial_seed() now reads this seed
    cuda.random._seed = seed % _U64
    return default_generator


def seed() -> int:
    """Seeds the CPU (and CUDA) generators with a non-deterministic number and returns it."""
    s = default_generator.seed()
    from . import cuda

    cuda.manual_seed_all(s)
    return s


def initial_seed() -> int:
    """The seed the default (CPU) generator was last seeded with."""
    return default_generator.initial_seed()


_fork_rng_warned_already = False


@contextlib.contextmanager
def fork_rng(devices: Iterable[int] | None = None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str | None = None) -> Iterator[None]:
    """Forks the RNG: on exit the CPU generator (and the listed devices' generators) is back in the state it had
    on entry. ``devices=None`` means every device of ``device_type`` (default ``"cuda"``); ``enabled=False``
    makes this a no-op."""
    global _fork_rng_warned_already
    if device_type == "meta":
        yield
        return
    device_type = device_type or "cuda"
    import ferrotorch

    ferrotorch.device(device_type)  # a bad device string raises here, as in PyTorch
    device_mod = getattr(ferrotorch, device_type, None)
    if device_mod is None or not hasattr(device_mod, "device_count"):
        raise RuntimeError(f"torch has no module of `{device_type}`, you should register "
                           "a module by `torch._register_device_module`.")
    if not enabled:
        yield
        return
    if devices is None:
        num_devices = device_mod.device_count() if device_mod.is_available() else 0
        if num_devices > 1 and not _fork_rng_warned_already:
            upper = device_type.upper()
            warnings.warn(
                f"{upper} reports that you have {num_devices} available devices, and you have used {_caller} "
                f"without explicitly specifying which devices are being used. For safety, we initialize *every* "
                f"{upper} device by default, which can be quite slow if you have a lot of {upper}s. If you know "
                f"that you are only making use of a few {upper} devices, set the environment variable "
                f"{upper}_VISIBLE_DEVICES or the '{_devices_kw}' keyword argument of {_caller} with the set of "
                "devices you are actually using. For example, if you are using CPU only, set "
                "device.upper()_VISIBLE_DEVICES= or devices=[]; if you are using device 0 only, set "
                f"{upper}_VISIBLE_DEVICES=0 or devices=[0].  To initialize all devices and suppress this warning, "
                f"set the '{_devices_kw}' keyword argument to `range(torch.{device_type}.device_count())`.",
                stacklevel=3)
            _fork_rng_warned_already = True
        devices = list(range(num_devices))
    else:
        devices = list(devices)
    cpu_state = get_rng_state()
    device_states: list[Any] = [device_mod.get_rng_state(d) for d in devices]
    try:
        yield
    finally:
        set_rng_state(cpu_state)
        for d, state in zip(devices, device_states, strict=True):
            device_mod.set_rng_state(state, d)
