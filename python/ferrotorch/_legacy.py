"""Legacy typed constructors (``torch.FloatTensor(...)``) and their type names."""

from __future__ import annotations

from typing import Any

from . import _C
from ._size import Size

_TYPES = {
    "FloatTensor": _C.float32, "DoubleTensor": _C.float64, "HalfTensor": _C.float16,
    "BFloat16Tensor": _C.bfloat16, "LongTensor": _C.int64, "IntTensor": _C.int32, "ShortTensor": _C.int16,
    "CharTensor": _C.int8, "ByteTensor": _C.uint8, "BoolTensor": _C.bool,
}


def type_name_of_dtype(dtype: Any) -> str:
    for name, d in _TYPES.items():
        if d == dtype:
            return name
    raise TypeError(f"no legacy type for {dtype}")


def dtype_of_type_name(name: str) -> Any:
    key = name.split(".")[-1]
    if key not in _TYPES:
        raise TypeError(f"invalid type: '{name}'")
    return _TYPES[key]


class _LegacyMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, _C.Tensor) and obj.dtype == cls._dtype


def _make(name: str, dtype: Any) -> type:
    def __new__(cls: type, *args: Any) -> _C.Tensor:
        if not args:
            return _C.empty(0, dtype=dtype)
        if all(isinstance(a, int) for a in args) or (len(args) == 1 and isinstance(args[0], Size)):
            return _C.zeros(*args, dtype=dtype)
        if isinstance(args[0], _C.Tensor):
            return args[0].to(dtype)
        return _C.tensor(args[0], dtype=dtype)

    return _LegacyMeta(name, (), {"__new__": __new__, "_dtype": dtype, "__module__": "ferrotorch"})


LEGACY = {name: _make(name, d) for name, d in _TYPES.items()}
