"""Legacy typed CUDA constructors: ``torch.cuda.FloatTensor(2, 3)`` and friends.

Like ``torch.FloatTensor`` (``ferrotorch._legacy``) but on the current CUDA device; building one
initialises CUDA, raising as PyTorch does where it cannot be used. ``isinstance`` holds for CUDA
tensors of the type's dtype only."""

from __future__ import annotations

import warnings
from typing import Any

from .. import _C
from .._legacy import _TYPES
from .._size import Size


class _CudaLegacyMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, _C.Tensor) and obj.is_cuda and obj.dtype == cls.dtype

    @property
    def is_cuda(cls) -> bool:
        return True


def _make(name: str, dtype: Any) -> type:
    def __new__(cls: type, *args: Any) -> _C.Tensor:
        from . import _lazy_init

        device = f"cuda:{_lazy_init()}"
        warnings.warn("The torch.cuda.*DtypeTensor constructors are no longer recommended. It's best to use "
                      "methods such as torch.tensor(data, dtype=*, device='cuda') to create tensors.",
                      UserWarning, stacklevel=2)
        if not args:
            return _C.empty(0, dtype=dtype, device=device)
        if all(isinstance(a, int) for a in args) or (len(args) == 1 and isinstance(args[0], Size)):
            return _C.zeros(*args, dtype=dtype, device=device)
        if isinstance(args[0], _C.Tensor):
            return args[0].to(device=device, dtype=dtype)
        return _C.tensor(args[0], dtype=dtype, device=device)

    return _CudaLegacyMeta(name, (), {"__new__": __new__, "dtype": dtype, "__module__": "ferrotorch.cuda"})


_L = {n: _make(n, d) for n, d in _TYPES.items()}
FloatTensor, DoubleTensor, HalfTensor = _L["FloatTensor"], _L["DoubleTensor"], _L["HalfTensor"]
BFloat16Tensor, LongTensor, IntTensor = _L["BFloat16Tensor"], _L["LongTensor"], _L["IntTensor"]
ShortTensor, CharTensor, ByteTensor, BoolTensor = _L["ShortTensor"], _L["CharTensor"], _L["ByteTensor"], _L["BoolTensor"]
