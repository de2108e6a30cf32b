"""``nn.Parameter``: the tensor subclass that modules register as a parameter when assigned."""

from __future__ import annotations

from collections import OrderedDict
from typing import Self

import ferrotorch as torch


def _rebuild_parameter(data: torch.Tensor, requires_grad: bool, backward_hooks: OrderedDict) -> Parameter:
    """Unpickling helper, the counterpart of PyTorch's ``torch._utils._rebuild_parameter``."""
    return Parameter(data, requires_grad)


class Parameter(torch.Tensor):
    """A tensor that is a module parameter: assigning it to a module attribute registers it.

    It shares ``data``'s storage and requires grad by default.
    """

    def __new__(cls, data: torch.Tensor | None = None, requires_grad: bool = True) -> Self:
        if data is None:
            data = torch.empty(0)
        return torch.Tensor._make_subclass(cls, data, requires_grad)

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.data.clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, proto: int) -> tuple:
        return (_rebuild_parameter, (self.data, self.requires_grad, OrderedDict()))


class _BufferMeta(type(torch.Tensor)):
    # ``Buffer(t)`` returns a plain tensor flagged ``_is_buffer``; make ``isinstance(t, Buffer)`` see the flag.
    def __instancecheck__(cls, instance: object) -> bool:
        if cls is Buffer and isinstance(instance, torch.Tensor) and getattr(instance, "_is_buffer", False):
            return True
        return super().__instancecheck__(instance)


class Buffer(torch.Tensor, metaclass=_BufferMeta):
    """A tensor that is module state but not a parameter: assigning it to a module attribute registers it
    as a buffer, in ``state_dict`` unless ``persistent=False``."""

    def __new__(cls, data: torch.Tensor | None = None, *, persistent: bool = True) -> torch.Tensor:
        if data is None:
            data = torch.empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t
