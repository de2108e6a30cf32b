"""``nn.Parameter``: the tensor subclass that modules register as a parameter when assigned."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Self

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


# What an uninitialized tensor still allows (PyTorch's ``UninitializedTensorMixin._allowed_methods``).
_UNINIT_CONVERSIONS = ("half", "float", "double", "char", "short", "int", "long", "cuda", "cpu", "to")
_UNINIT_ALLOWED = {"size", "copy_", "is_complex", "is_floating_point", "get_device", *_UNINIT_CONVERSIONS}
# the Python operators that PyTorch routes through ``__torch_function__`` (so they raise too)
_UNINIT_BLOCKED_DUNDERS = (
    "__abs__", "__add__", "__and__", "__bool__", "__eq__", "__float__", "__floordiv__", "__ge__", "__getitem__",
    "__gt__", "__iadd__", "__imul__", "__index__", "__int__", "__invert__", "__isub__", "__iter__", "__itruediv__",
    "__le__", "__len__", "__lt__", "__matmul__", "__mod__", "__mul__", "__ne__", "__neg__", "__or__", "__pos__",
    "__pow__", "__radd__", "__rmatmul__", "__rmul__", "__rpow__", "__rsub__", "__rtruediv__", "__setitem__",
    "__sub__", "__truediv__", "__xor__",
)


def _uninitialized_error(name: str) -> Any:
    def blocked(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(
            f"Attempted to use an uninitialized parameter in <method '{name}' of 'torch._C.TensorBase' objects>. "
            "This error happens when you are using a `LazyModule` or explicitly manipulating "
            f"`torch.nn.parameter.{type(self).__name__}` objects. When using LazyModules Call `forward` with a "
            "dummy batch to initialize the parameters before calling torch functions"
        )

    blocked.__name__ = name
    return blocked


def _uninitialized_conversion(name: str) -> Any:
    def convert(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        out = getattr(torch.Tensor, name)(self, *args, **kwargs)
        if out is self or isinstance(self, Parameter):
            # as PyTorch: a converted parameter is a plain tensor (Module._apply keeps the parameter object)
            return out
        # a converted buffer stays an uninitialized buffer, so module.to()/.double() keep it lazy
        new = torch.Tensor._make_subclass(type(self), out, self.requires_grad)
        new.__dict__.update(self.__dict__)
        return new

    convert.__name__ = name
    return convert


class UninitializedTensorMixin:
    """Shared behaviour of :class:`UninitializedParameter` and :class:`UninitializedBuffer`.

    The tensor holds no data (its shape is unknown) until :meth:`materialize`; every tensor operation
    except ``size``/``copy_``/dtype and device conversions raises ``ValueError``.
    """

    cls_to_become: type

    def materialize(self, shape: Any, device: Any = None, dtype: Any = None) -> None:
        """Allocate ``torch.empty(shape)`` (same device/dtype unless given) and become ``cls_to_become``."""
        if device is None:
            device = self.data.device
        if dtype is None:
            dtype = self.data.dtype
        self.data = torch.empty(shape, device=device, dtype=dtype)
        self.__class__ = self.cls_to_become

    @property
    def shape(self) -> Any:
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. "
            "This error usually happens in `load_state_dict` when trying to load "
            "an uninitialized parameter into an initialized one. "
            "Call `forward` to initialize the parameters before accessing their attributes."
        )

    def share_memory_(self) -> Any:
        raise RuntimeError(
            "Can't share memory on an uninitialized parameter or buffer. "
            "Call `forward` to initialize the parameters before calling "
            "`module.share_memory()`."
        )

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}>"

    def __reduce_ex__(self, proto: int) -> tuple:
        return (self.__class__, (self.requires_grad,))

    def __hash__(self) -> int:
        return id(self)


def _block_tensor_methods(mixin: type) -> None:
    # PyTorch blocks these through ``__torch_function__``; ferrotorch's Tensor has no such hook, so the
    # mixin shadows each public method (and the operators) with one that raises.
    own = set(vars(mixin))
    for name, attr in vars(torch.Tensor).items():
        if name in own or name in _UNINIT_ALLOWED or name.startswith("_") or isinstance(attr, property):
            continue
        if callable(attr) and not isinstance(attr, (staticmethod, classmethod, type)):
            setattr(mixin, name, _uninitialized_error(name))
    for name in _UNINIT_BLOCKED_DUNDERS:
        setattr(mixin, name, _uninitialized_error(name))
    for name in _UNINIT_CONVERSIONS:
        setattr(mixin, name, _uninitialized_conversion(name))


_block_tensor_methods(UninitializedTensorMixin)


def is_lazy(param: Any) -> bool:
    """Whether ``param`` is an :class:`UninitializedParameter` or :class:`UninitializedBuffer`."""
    return isinstance(param, UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter whose shape is not known yet (lazy modules); becomes a :class:`Parameter` on ``materialize``."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> Self:
        data = torch.empty(0, **{k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None})
        return torch.Tensor._make_subclass(cls, data, requires_grad)

    def __deepcopy__(self, memo: dict) -> UninitializedParameter:
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.requires_grad, self.data.device, self.data.dtype)
        memo[id(self)] = result
        return result


class UninitializedBuffer(UninitializedTensorMixin, torch.Tensor):
    """A buffer whose shape is not known yet (lazy modules); becomes a plain tensor on ``materialize``."""

    cls_to_become = torch.Tensor

    def __new__(
        cls, requires_grad: bool = False, device: Any = None, dtype: Any = None, persistent: bool = True
    ) -> Self:
        data = torch.empty(0, **{k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None})
        ret = torch.Tensor._make_subclass(cls, data, requires_grad)
        ret.persistent = persistent
        ret._is_buffer = True
        return ret

    def __deepcopy__(self, memo: dict) -> UninitializedBuffer:
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.requires_grad, self.data.device, self.data.dtype, self.persistent)
        memo[id(self)] = result
        return result
