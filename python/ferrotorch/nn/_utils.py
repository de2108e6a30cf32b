"""Argument helpers shared by layers and functional ops: ``_single``, ``_pair``, ``_triple``, ``_ntuple``."""

from __future__ import annotations

import collections.abc
from collections.abc import Callable
from itertools import repeat
from typing import Any


def _ntuple(n: int, name: str = "parse") -> Callable[[Any], tuple]:
    def parse(x: Any) -> tuple:
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")


def _reverse_repeat_tuple(t: tuple, n: int) -> tuple:
    """Reverse ``t`` and repeat each element ``n`` times (conv padding to ``F.pad`` order)."""
    return tuple(x for x in reversed(t) for _ in range(n))


def _factory_kwargs(device: Any, dtype: Any) -> dict[str, Any]:
    """``device``/``dtype`` keyword arguments for tensor factories, leaving out the ``None`` ones."""
    return {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
