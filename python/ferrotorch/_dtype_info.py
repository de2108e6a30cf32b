"""``torch.finfo`` / ``torch.iinfo``: the numerical limits of a floating / integer dtype."""

from __future__ import annotations

from typing import Any

import numpy as np

import ferrotorch

# bfloat16: 8 exponent bits as float32, 7 explicit mantissa bits (numpy has no bfloat16)
_BF16 = {"bits": 16, "eps": 2.0**-7, "max": 3.3895313892515355e38, "tiny": 2.0**-126, "resolution": 0.01}


class finfo:
    """``torch.finfo(dtype)``: bits, eps, max, min, tiny (= smallest_normal) and resolution of a float dtype."""

    def __init__(self, type: Any = None) -> None:
        dtype = ferrotorch.get_default_dtype() if type is None else type
        if not isinstance(dtype, ferrotorch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type. Use torch.iinfo to handle '{dtype}'")
        name = str(dtype).removeprefix("torch.")
        if name == "bfloat16":
            v = _BF16
        else:
            f = np.finfo(np.dtype(name))
            v = {"bits": f.bits, "eps": float(f.eps), "max": float(f.max), "tiny": float(f.tiny),
                 "resolution": float(f.resolution)}
        self.bits: int = v["bits"]
        self.eps: float = v["eps"]
        self.max: float = v["max"]
        self.min: float = -v["max"]
        self.tiny: float = v["tiny"]
        self.smallest_normal: float = v["tiny"]
        self.resolution: float = v["resolution"]
        self.dtype: str = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, finfo) and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash(("finfo", self.dtype))

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.tiny:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """``torch.iinfo(dtype)``: bits, max and min of an integer dtype."""

    def __init__(self, type: Any) -> None:
        name = str(type).removeprefix("torch.")
        if not isinstance(type, ferrotorch.dtype) or type.is_floating_point or name in ("bool", "complex64"):
            raise TypeError(f"torch.iinfo() requires an integer input type. Use torch.finfo to handle '{type}'")
        i = np.iinfo(np.dtype(name))
        self.bits: int = i.bits
        self.max: int = int(i.max)
        self.min: int = int(i.min)
        self.dtype: str = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, iinfo) and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash(("iinfo", self.dtype))

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
