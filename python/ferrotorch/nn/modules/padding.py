"""Padding layers: constant/zero, reflection, replication and circular padding in 1-D, 2-D and 3-D."""

from __future__ import annotations

from typing import Any

import ferrotorch as torch
from ferrotorch.nn import functional as F
from ferrotorch.nn._utils import _ntuple
from ferrotorch.nn.modules.module import Module

__all__ = [
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
    "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
]


class _PadNd(Module):
    _nd = 1
    _mode = "constant"

    def __init__(self, padding: Any, value: float | None = None) -> None:
        super().__init__()
        self.padding = _ntuple(2 * self._nd)(padding)
        if self._mode == "constant":
            self.value = value

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if self._mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        if self._mode == "constant":
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


class ConstantPad1d(_PadNd):
    """Pad the last dim with ``value``; ``padding`` is an int or ``(left, right)``."""

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ConstantPad2d(_PadNd):
    """Pad the last two dims with ``value``; ``padding`` is an int or ``(left, right, top, bottom)``."""

    _nd = 2

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ZeroPad1d(ConstantPad1d):
    """Pad the last dim with zeros."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dims with zeros."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Reflect the last dim at its borders."""

    _mode = "reflect"


class ReflectionPad2d(_PadNd):
    """Reflect the last two dims at their borders."""

    _nd = 2
    _mode = "reflect"


class ReplicationPad1d(_PadNd):
    """Repeat the border values of the last dim."""

    _mode = "replicate"


class ReplicationPad2d(_PadNd):
    """Repeat the border values of the last two dims."""

    _nd = 2
    _mode = "replicate"


class CircularPad1d(_PadNd):
    """Wrap the last dim around."""

    _mode = "circular"


class CircularPad2d(_PadNd):
    """Wrap the last two dims around."""

    _nd = 2
    _mode = "circular"


class ConstantPad3d(_PadNd):
    """Pad the last three dims with ``value``; ``padding`` is an int or a 6-tuple (last dim first)."""

    _nd = 3

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ZeroPad3d(ConstantPad3d):
    """Pad the last three dims with zeros."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad3d(_PadNd):
    """Reflect the last three dims at their borders."""

    _nd = 3
    _mode = "reflect"


class ReplicationPad3d(_PadNd):
    """Repeat the border values of the last three dims."""

    _nd = 3
    _mode = "replicate"


class CircularPad3d(_PadNd):
    """Wrap the last three dims around."""

    _nd = 3
    _mode = "circular"
