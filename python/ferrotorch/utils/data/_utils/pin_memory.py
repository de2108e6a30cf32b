"""``pin_memory``: copies the tensors of a batch into page-locked host memory (when a GPU is there)."""

from __future__ import annotations

import collections.abc
from typing import Any

import ferrotorch


def pin_memory(data: Any) -> Any:
    """``data`` with every tensor replaced by ``tensor.pin_memory()``, recursing into containers."""
    if isinstance(data, ferrotorch.Tensor):
        return data.pin_memory()
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        try:
            return type(data)({k: pin_memory(v) for k, v in data.items()})  # type: ignore[call-arg]
        except TypeError:
            return {k: pin_memory(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(pin_memory(d) for d in data))
    if isinstance(data, tuple):
        return [pin_memory(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            return type(data)([pin_memory(d) for d in data])  # type: ignore[call-arg]
        except TypeError:
            return [pin_memory(d) for d in data]
    if hasattr(data, "pin_memory"):
        return data.pin_memory()
    return data
