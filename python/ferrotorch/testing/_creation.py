"""``torch.testing.make_tensor``: a random tensor of a given shape, dtype and device, for tests."""

from __future__ import annotations

import collections.abc
import math
import warnings
from typing import Any

import ferrotorch

__all__ = ["make_tensor"]

_INTEGRAL_TYPES = (ferrotorch.uint8, ferrotorch.int8, ferrotorch.int16, ferrotorch.int32, ferrotorch.int64)
_FLOATING_TYPES = (ferrotorch.float16, ferrotorch.bfloat16, ferrotorch.float32, ferrotorch.float64)
_BOOLEAN_OR_INTEGRAL_TYPES = (ferrotorch.bool, *_INTEGRAL_TYPES)


def make_tensor(*shape: int | ferrotorch.Size | list[int] | tuple[int, ...], dtype: ferrotorch.dtype,
                device: str | ferrotorch.device, low: float | None = None, high: float | None = None,
                requires_grad: bool = False, noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format: Any = None) -> ferrotorch.Tensor:
    """A tensor of ``shape`` with values drawn uniformly from ``[low, high)``.

    Defaults: bool ``[0, 2)``, uint8 ``[0, 10)``, signed integers ``[-9, 10)``, floats ``[-9, 9)``; bounds
    outside the dtype's finite range are clamped to it (integer bounds are ceiled). ``noncontiguous`` draws
    twice the last dimension and keeps every other element (ignored under two elements); ``exclude_zero``
    replaces zeros with 1 (bool, integers) or ``finfo(dtype).tiny`` (floats).

    Raises:
        ValueError: ``requires_grad`` with a bool/integer dtype, ``low >= high``, a NaN bound, a range outside
            the dtype's, or both ``noncontiguous`` and ``memory_format``.
        TypeError: a dtype this function does not support.
    """

    def modify_low_high(low: float | None, high: float | None, *, lowest_inclusive: float,
                        highest_exclusive: float, default_low: float, default_high: float) -> tuple[float, float]:
        low = default_low if low is None else low
        high = default_high if high is None else high
        if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
            raise ValueError(f"`low` and `high` cannot be NaN, but got {low=} and {high=}")
        elif low == high and dtype in _FLOATING_TYPES:
            warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or complex types is "
                          "deprecated since 2.1 and will be removed in 2.3. Use `torch.full(...)` instead.",
                          FutureWarning, stacklevel=3)
        elif low >= high:
            raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
        elif high < lowest_inclusive or low >= highest_exclusive:
            raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                             f"but {dtype} only supports [{lowest_inclusive}, {highest_exclusive})")
        low = min(max(low, lowest_inclusive), highest_exclusive)
        high = min(max(high, lowest_inclusive), highest_exclusive)
        if dtype in _BOOLEAN_OR_INTEGRAL_TYPES:
            # randint's high is exclusive: ceiling both keeps the values inside [low, high)
            return math.ceil(low), math.ceil(high)
        return low, high

    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually exclusive, "
                         f"but got {noncontiguous=} and {memory_format=}")
    if requires_grad and dtype in _BOOLEAN_OR_INTEGRAL_TYPES:
        raise ValueError(
            f"`requires_grad=True` is not supported for boolean and integral dtypes, but got {dtype=}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:
        # twice the last dimension, so the kept elements are not neighbours in memory
        shape = (*shape[:-1], 2 * shape[-1])

    if dtype is ferrotorch.bool:
        low, high = modify_low_high(low, high, lowest_inclusive=0, highest_exclusive=2, default_low=0,
                                    default_high=2)
        result = ferrotorch.randint(low, high, shape, device=device, dtype=dtype)
    elif dtype in _INTEGRAL_TYPES:
        info = ferrotorch.iinfo(dtype)
        # randint takes int64 bounds: 2**63 - 1 itself cannot be drawn
        low, high = modify_low_high(low, high, lowest_inclusive=info.min,
                                    highest_exclusive=info.max + (1 if dtype is not ferrotorch.int64 else 0),
                                    default_low=-9, default_high=10)
        result = ferrotorch.randint(low, high, shape, device=device, dtype=dtype)
    elif dtype in _FLOATING_TYPES:
        info = ferrotorch.finfo(dtype)
        low, high = modify_low_high(low, high, lowest_inclusive=info.min, highest_exclusive=info.max,
                                    default_low=-9, default_high=9)
        result = ferrotorch.empty(shape, device=device, dtype=dtype)
        if high - low >= info.max:  # uniform_ needs high - low to be finite in the dtype
            result.uniform_(low / 2, high / 2).mul_(2)
        else:
            result.uniform_(low, high)
    else:
        raise TypeError(f"The requested dtype '{dtype}' is not supported by torch.testing.make_tensor(). "
                        "To request support, file an issue at: https://github.com/pytorch/pytorch/issues")

    if noncontiguous:
        result = result[..., 1::2]  # the offset of 1 catches offset bugs too
    elif memory_format is not None:
        result = result.clone(memory_format=memory_format)
    if exclude_zero:
        result[result == 0] = 1 if dtype in _BOOLEAN_OR_INTEGRAL_TYPES else ferrotorch.finfo(dtype).tiny
    if dtype in _FLOATING_TYPES:
        result.requires_grad = requires_grad
    return result
