"""``torch.autocast``: regions where matrix products run in a lower precision.

Inside ``with torch.autocast(device_type, dtype)``, ``matmul``/``mm``/``bmm``/``linear`` and the
convolutions on that device type cast their floating-point operands to ``dtype`` (float16 by
default on CUDA, bfloat16 on the CPU) and return that dtype; softmax, log_softmax, the losses and
the norms compute in float32 (PyTorch's "fp32" list). Casts are differentiable, so gradients of
float32 parameters stay float32. The state is per thread, as in PyTorch; regions nest, and
``enabled=False`` turns autocast off inside an enclosing region.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable
from typing import Any, Self

from .. import _C
from .._C import dtype as _dtype

_DEFAULTS = {"cuda": "float16", "cpu": "bfloat16"}
_state = threading.local()


def _current() -> dict[str, _dtype | None]:
    cur = getattr(_state, "dtypes", None)
    if cur is None:
        cur = _state.dtypes = {"cuda": None, "cpu": None}
    return cur


def _set(device_type: str, dtype: _dtype | None) -> None:
    _current()[device_type] = dtype
    _C._autocast_set(device_type, dtype)


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` (CUDA when not given, as in PyTorch)."""
    return _current()[device_type or "cuda"] is not None


def get_autocast_dtype(device_type: str) -> _dtype:
    """The dtype autocast uses (or would use) on ``device_type``."""
    from .. import bfloat16, float16

    cur = _current()[device_type]
    return cur if cur is not None else (float16 if device_type == "cuda" else bfloat16)


def get_autocast_gpu_dtype() -> _dtype:
    return get_autocast_dtype("cuda")


def get_autocast_cpu_dtype() -> _dtype:
    return get_autocast_dtype("cpu")


def is_autocast_cpu_enabled() -> bool:
    return is_autocast_enabled("cpu")


def to_fp32(*tensors: Any) -> tuple[Any, ...]:
    """The tensors an fp32-list op receives: float16/bfloat16 ones cast to float32 where autocast
    is on for their device."""
    cur = _current()
    if cur["cuda"] is None and cur["cpu"] is None:
        return tensors
    out = []
    for t in tensors:
        half = t is not None and hasattr(t, "dtype") and t.dtype in _half_types()
        if half and cur["cuda" if t.is_cuda else "cpu"] is not None:
            t = t.float()
        out.append(t)
    return tuple(out)


def lower(*tensors: Any) -> tuple[Any, ...]:
    """The operands of a convolution: floating-point ones cast to the autocast dtype of their
    device where autocast is on there (None entries stay None)."""
    cur = _current()
    if cur["cuda"] is None and cur["cpu"] is None:
        return tensors
    first = next(t for t in tensors if t is not None)
    dt = cur["cuda" if first.is_cuda else "cpu"]
    if dt is None or not all(t is None or t.dtype.is_floating_point for t in tensors):
        return tensors
    return tuple(None if t is None else t.to(dt) for t in tensors)


def _half_types() -> tuple[_dtype, ...]:
    from .. import bfloat16, float16

    return (float16, bfloat16)


class autocast:
    """``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``: a context
    manager (or decorator) for a region of mixed precision on ``device_type`` ('cuda' or 'cpu')."""

    def __init__(self, device_type: str, dtype: _dtype | None = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")  # noqa: TRY004 - PyTorch's type
        if device_type not in _DEFAULTS:
            raise RuntimeError(
                f"User specified an unsupported autocast device_type '{device_type}'")
        from .. import bfloat16, cuda, float16

        self.device = device_type
        self.fast_dtype = dtype if dtype is not None else get_autocast_dtype(device_type)
        self._enabled = bool(enabled)
        if self._enabled and device_type == "cuda" and not cuda.is_available():
            warnings.warn("User provided device_type of 'cuda', but CUDA is not available. Disabling",
                          stacklevel=2)
            self._enabled = False
        if self._enabled and self.fast_dtype not in (float16, bfloat16):
            where = "CPU" if device_type == "cpu" else "CUDA"
            warnings.warn(
                f"In {where} autocast, but the target dtype is not supported. Disabling autocast.\n"
                f"{where} Autocast only supports dtype of torch.bfloat16 and torch.float16 currently.",
                stacklevel=2)
            self._enabled = False
        self._saved: list[_dtype | None] = []

    def __enter__(self) -> Self:
        self._saved.append(_current()[self.device])
        _set(self.device, self.fast_dtype if self._enabled else None)
        return self

    def __exit__(self, *exc: object) -> None:
        _set(self.device, self._saved.pop())

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return run
