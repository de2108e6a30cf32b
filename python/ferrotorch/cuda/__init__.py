"""``torch.cuda``.

This build finds the CUDA driver and its GPUs at run time (nothing CUDA is needed to install it) and
compiles its kernels with NVRTC (``ferrotorch.cuda.kernels``). CUDA tensors live in managed memory,
which the GPU and the host can both address: tensors, modules, optimizers and checkpoints move to and
from a GPU as in PyTorch. Elementwise ops, copies, arange/linspace, reductions (any/all too), softmax,
layer norm, embedding, cross-entropy and nll_loss, conv2d (im2col), max pooling, gathers and
scatters (x[i, j] too), nonzero and boolean masks, sort/topk, random numbers and the SGD/Adam steps
run as kernels, matrix products through cuBLAS, all queued on one stream per device (``Stream``
objects name it; ``Event`` records and times on it); other ops compute on the host on the same storage, once
the queued kernels have finished. Kernels check their inputs without stopping the host (a target
or an index out of range): as in PyTorch, the next call that waits for the device raises
"device-side assert triggered". ``probe()`` reports what the driver found.

``FERROTORCH_EMULATE_CUDA=1`` (read once per process) replaces the driver with one emulated device
whose memory is host memory: the device plumbing can be tested without a GPU. It runs kernels only
from host builds registered with ``_C._cuda_emulator_register`` (tests/cuda_emulator does that), and
computes everything else, matrix products included, on the host.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from typing import Any, NamedTuple

from .. import _C
from ._preload import preload_cuda_libraries

_BUILT = hasattr(_C, "_cuda_probe")
_state = threading.local()
_initialized = False


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
    """True when the driver reports at least one device tensors can be placed on."""
    return bool(probe().devices)


def device_count() -> int:
    return len(probe().devices)


def is_initialized() -> bool:
    return _initialized


def _lazy_init() -> int:
    """Checks that CUDA can be used in this process (raising PyTorch's errors where it cannot);
    returns the current device's index."""
    global _initialized
    if _BUILT and _C._cuda_in_bad_fork():
        raise RuntimeError(
            "Cannot re-initialize CUDA in forked subprocess. To use CUDA with multiprocessing, "
            "you must use the 'spawn' start method")
    found = probe()
    if not found.devices:
        if not _BUILT:
            raise AssertionError("Torch not compiled with CUDA enabled")
        raise RuntimeError(found.reason or "No CUDA GPUs are available")
    _initialized = True
    return getattr(_state, "device", 0)


def _index(device: Any) -> int:
    """The ordinal of ``device`` (None: the current device), checked against the device count."""
    current = _lazy_init()
    if device is None:
        i = current
    elif isinstance(device, int):
        i = device
    else:
        d = _C.device(device)
        if d.type != "cuda":
            raise ValueError(f"Expected a cuda device, but got: {d}")
        i = current if d.index is None else d.index
    if not 0 <= i < device_count():
        raise RuntimeError(f"CUDA error: invalid device ordinal {i} ({device_count()} device(s))")
    return i


def current_device() -> int:
    return _lazy_init()


def set_device(device: Any) -> None:
    """Makes ``device`` the one ``"cuda"`` means on this thread."""
    _state.device = _index(device)


class device:
    """Context manager that makes ``device`` the current CUDA device inside the block."""

    def __init__(self, device: Any) -> None:
        self.idx = -1 if device is None else _index(device)
        self.prev = -1

    def __enter__(self) -> None:
        if self.idx >= 0:
            self.prev = current_device()
            set_device(self.idx)

    def __exit__(self, *exc: object) -> None:
        if self.idx >= 0:
            set_device(self.prev)


def get_device_name(device: Any = None) -> str:
    return probe().devices[_index(device)]


class _CudaDeviceProperties(NamedTuple):
    """What ``get_device_properties`` reports; the emulated device has capability 0.0, the host's
    memory and its threads."""

    name: str
    major: int
    minor: int
    total_memory: int
    multi_processor_count: int

    def __repr__(self) -> str:
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // (1 << 20)}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def get_device_properties(device: Any = None) -> _CudaDeviceProperties:
    return _CudaDeviceProperties(*_C._cuda_device_properties(_index(device)))


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """bfloat16 tensor cores: compute capability 8.0 or later (the emulated device computes
    bfloat16 on the host, so it answers True)."""
    if not is_available():
        return False
    props = get_device_properties()
    return props.major >= 8 or props.major == 0


def init() -> None:
    """Initialises CUDA now rather than on first use (raises where it cannot be used)."""
    _lazy_init()


def get_device_capability(device: Any = None) -> tuple[int, int]:
    """(major, minor) compute capability; the emulated device has none and raises RuntimeError."""
    arch = _C._cuda_device_arch(_index(device))
    if not arch.startswith("sm_"):
        raise RuntimeError(f"device {_index(device)} has no compute capability ({arch})")
    return int(arch[3:-1]), int(arch[-1])


def synchronize(device: Any = None) -> None:
    """Waits until the device has finished the work queued on it."""
    _C._cuda_synchronize(_index(device))


_SYNC_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_sync_debug_mode(debug_mode: int | str) -> None:
    """Reports calls that wait for the device (``.item()``, ``.cpu()``, ``nonzero``, and any op
    ferrotorch computes on the host): "default"/0 quietly, "warn"/1 with a UserWarning,
    "error"/2 with a RuntimeError, as PyTorch's."""
    _lazy_init()
    if isinstance(debug_mode, str):
        if debug_mode not in _SYNC_DEBUG_MODES:
            raise RuntimeError(
                "invalid value of debug_mode, expected one of `default`, `warn`, `error`")
        debug_mode = _SYNC_DEBUG_MODES[debug_mode]
    _C._cuda_set_sync_debug_mode(debug_mode)


def get_sync_debug_mode() -> int:
    """The mode ``set_sync_debug_mode`` set (0 default, 1 warn, 2 error)."""
    return _C._cuda_get_sync_debug_mode() if _BUILT else 0


def is_tf32_supported() -> bool:
    """TF32 tensor cores: compute capability 8.0 or later (not the emulated device, whose capability is 0.0)."""
    return is_available() and get_device_properties().major >= 8


def get_arch_list() -> list[str]:
    """The architectures kernels are built for. NVRTC compiles them at run time for each device found,
    so these are the present devices' ``sm_XY`` (none without a GPU; the emulated device has none)."""
    if not is_available():
        return []
    archs = {_C._cuda_device_arch(i) for i in range(device_count())}
    return sorted(a for a in archs if a.startswith("sm_"))


def get_gencode_flags() -> str:
    """NVCC-style ``-gencode`` flags for ``get_arch_list()``."""
    return " ".join(f"-gencode compute=compute_{a},code={k}_{a}" for k, a in (x.split("_") for x in get_arch_list()))


# PyTorch's ``torch.cuda.OutOfMemoryError`` (a RuntimeError): what the CPU and device allocators raise.
OutOfMemoryError = _C.OutOfMemoryError


def _gpu_index(device: Any) -> int | None:
    """The device's ordinal when this process has a GPU to ask, else None."""
    return _index(device) if probe().devices else None


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


def memory_cached(device: Any = None) -> int:
    """Deprecated; see ``memory_reserved``."""
    warnings.warn("`torch.cuda.memory_cached` has been renamed to `torch.cuda.memory_reserved`",
                  FutureWarning, stacklevel=2)
    return memory_reserved(device)


def memory_stats(device: Any = None) -> dict[str, int]:
    """The caching allocator's counters under PyTorch's key names (the ones this allocator keeps:
    current and peak allocated bytes, current reserved bytes); empty without a GPU, as PyTorch's."""
    if _gpu_index(device) is None:
        return OrderedDict()
    allocated, peak, reserved = _memory_stats(device)
    return OrderedDict([("allocated_bytes.all.current", allocated), ("allocated_bytes.all.peak", peak),
                        ("reserved_bytes.all.current", reserved)])


def _format_size(n: int) -> str:
    for unit in ("B  ", "KiB", "MiB", "GiB"):
        if n < 1024 * 10 or unit == "GiB":
            return f"{n:6d} {unit}"
        n //= 1024
    return f"{n:6d} TiB"  # pragma: no cover


def memory_summary(device: Any = None, abbreviated: bool = False) -> str:
    """A printable table of ``memory_stats``. Without a GPU it raises KeyError, as PyTorch's does."""
    stats = memory_stats(device)
    index = _gpu_index(device)
    rule = "|" + "=" * 75 + "|"
    rows = [
        ("Allocated memory", stats["allocated_bytes.all.current"], stats["allocated_bytes.all.peak"]),
        ("Reserved memory", stats["reserved_bytes.all.current"], None),
    ]
    lines = [rule, "|" + f" PyTorch CUDA memory summary, device ID {index}".ljust(75) + "|", rule,
             "|" + "        Metric         | Cur Usage  | Peak Usage |".ljust(75) + "|", rule]
    for name, cur, peak in rows:
        peak_s = _format_size(peak) if peak is not None else "       n/a"
        lines.append("|" + f" {name:<22}| {_format_size(cur)} | {peak_s} |".ljust(75) + "|")
    lines.append(rule)
    return "\n".join(lines) + "\n"


def reset_accumulated_memory_stats(device: Any = None) -> None:
    """Resets the allocator's accumulated counters: this allocator keeps none (only current and peak
    values), so on a device there is nothing to reset. Without a GPU it raises, as PyTorch's."""
    if _gpu_index(device) is None:
        raise RuntimeError("invalid argument to reset_accumulated_memory_stats")


def reset_peak_memory_stats(device: Any = None) -> None:
    """``max_memory_allocated`` restarts from what is allocated now."""
    index = _gpu_index(device)
    if index is not None:
        _C._cuda_reset_peak_memory_stats(index)


reset_max_memory_allocated = reset_peak_memory_stats


def mem_get_info(device: Any = None) -> tuple[int, int]:
    """(free, total) bytes of the device's memory, as the driver reports them."""
    return tuple(_C._cuda_mem_get_info(_index(device)))


from . import amp, random  # torch.cuda.amp: after the functions above, which it uses
from ._legacy import (BFloat16Tensor, BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor,
                      IntTensor, LongTensor, ShortTensor)
from .random import (
    get_rng_state, get_rng_state_all, initial_seed, manual_seed, manual_seed_all, seed, seed_all, set_rng_state,
    set_rng_state_all,
)
from .streams import Event, Stream, StreamContext, current_stream, default_stream, set_stream, stream
