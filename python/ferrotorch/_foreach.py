"""``torch._foreach_*``: one call over a list of tensors (what optimizers, clip_grad_norm_, EMA updates
and ``zero_grad`` run over every parameter).

Tensors are grouped by device and dtype. On a GPU, ``_foreach_norm``, ``_foreach_zero_``, ``_foreach_copy_``
and ``_foreach_add_/mul_/lerp_`` with a number or a same-shaped tensor list are one or two tensor-list kernel
launches per 32 tensors instead of one or more per tensor. Everything else, and any call autograd must record,
runs the per-tensor ops, which broadcast and raise as they do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Number
from typing import Any

import ferrotorch as torch

from . import _C

Tensor = torch.Tensor


def _groups(tensors: list[Tensor]) -> dict[tuple[Any, Any], list[int]]:
    """Indices of ``tensors`` by (device, dtype), in first-seen order."""
    groups: dict[tuple[Any, Any], list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault((t.device, t.dtype), []).append(i)
    return groups


def _recorded(tensors: Sequence[Any]) -> bool:
    return torch.is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad for t in tensors)


def _pairs(tensors: list[Tensor], other: Any) -> list[Any]:
    """``other`` per tensor: a list as it is (checked for length), anything else repeated."""
    if isinstance(other, (list, tuple)):
        if len(other) != len(tensors):
            raise RuntimeError(
                f"Tensor lists must have the same number of tensors, got {len(tensors)} and {len(other)}"
            )
        return list(other)
    return [other] * len(tensors)


def _apply(op: str, tensors: list[Tensor], others: list[Any] | None, alpha: float, scalar: float,
           each: Callable[[Tensor, Any], Any]) -> None:
    """``op`` as tensor-list kernels per (device, dtype) group where they apply, else ``each(t, other)``."""
    pairwise = others is not None
    if _recorded(tensors + (others or [])) or (pairwise and not all(isinstance(o, Tensor) for o in others)):
        for t, o in zip(tensors, others or [None] * len(tensors)):
            each(t, o)
        return
    for idx in _groups(tensors).values():
        group = [tensors[i] for i in idx]
        paired = [others[i] for i in idx] if pairwise else None
        if not _C._foreach_apply_(op, group, paired, alpha, scalar):
            for t, o in zip(group, paired or [None] * len(group)):
                each(t, o)


def _foreach_norm(self: Sequence[Tensor], ord: float = 2, dtype: Any = None) -> list[Tensor]:
    """The ``ord`` norm of each tensor, a 0-dim tensor of its dtype (or ``dtype``) on its device."""
    tensors = [t if dtype is None else t.to(dtype) for t in self]
    ord = float(ord)
    if _recorded(tensors):
        return [t.norm(ord) for t in tensors]
    out: list[Any] = [None] * len(tensors)
    for idx in _groups(tensors).values():
        norms = _C._foreach_norms([tensors[i] for i in idx], ord)
        for j, i in enumerate(idx):
            out[i] = norms[j]
    return out


def _foreach_add_(self: Sequence[Tensor], other: Any, *, alpha: float = 1) -> None:
    """``t += alpha * other`` for each tensor: ``other`` a number, a tensor, or a list of either."""
    tensors = list(self)
    if isinstance(other, Number):
        _apply("add", tensors, None, 1.0, float(other), lambda t, _: t.add_(other))
    elif isinstance(other, Tensor):
        for t in tensors:
            t.add_(other, alpha=alpha)
    else:
        _apply("add", tensors, _pairs(tensors, other), float(alpha), 0.0, lambda t, o: t.add_(o, alpha=alpha))


def _foreach_sub_(self: Sequence[Tensor], other: Any, *, alpha: float = 1) -> None:
    """``t -= alpha * other`` for each tensor."""
    if isinstance(other, Number):
        _foreach_add_(self, -other)
    elif isinstance(other, Tensor):
        for t in self:
            t.sub_(other, alpha=alpha)
    else:
        _foreach_add_(self, other, alpha=-alpha)


def _foreach_mul_(self: Sequence[Tensor], other: Any) -> None:
    """``t *= other`` for each tensor: ``other`` a number, a tensor, or a list of either."""
    tensors = list(self)
    if isinstance(other, Number):
        _apply("mul", tensors, None, 1.0, float(other), lambda t, _: t.mul_(other))
    elif isinstance(other, Tensor):
        if other.numel() != 1 or _recorded(tensors + [other]):
            for t in tensors:
                t.mul_(other)
            return
        for (device, dt), idx in _groups(tensors).items():
            _C._foreach_scale_([tensors[i] for i in idx], other.to(device=device, dtype=dt))
    else:
        _apply("mul", tensors, _pairs(tensors, other), 1.0, 0.0, lambda t, o: t.mul_(o))


def _foreach_lerp_(self: Sequence[Tensor], tensors1: Sequence[Tensor], weight: Any) -> None:
    """``t = lerp(t, end, weight)`` for each pair: ``weight`` a number, a tensor, or a list of either."""
    tensors = list(self)
    ends = _pairs(tensors, list(tensors1))
    if isinstance(weight, Number):
        _apply("lerp", tensors, ends, 1.0, float(weight), lambda t, e: t.lerp_(e, weight))
    else:
        for t, e, w in zip(tensors, ends, _pairs(tensors, weight)):
            t.lerp_(e, w)


def _foreach_copy_(self: Sequence[Tensor], src: Sequence[Tensor], non_blocking: bool = False) -> None:
    """``t.copy_(s)`` for each pair."""
    tensors = list(self)
    _apply("copy", tensors, _pairs(tensors, list(src)), 1.0, 0.0, lambda t, s: t.copy_(s, non_blocking))


def _foreach_zero_(self: Sequence[Tensor]) -> None:
    """``t.zero_()`` for each tensor."""
    _apply("copy", list(self), None, 1.0, 0.0, lambda t, _: t.zero_())


def _each(method: str, binary: bool) -> Callable[..., Any]:
    """The per-tensor form of ``method`` over a list (and, for a binary op, a number, tensor or list)."""
    if binary:
        def op(self: Sequence[Tensor], other: Any, **kwargs: Any) -> Any:
            tensors = list(self)
            out = [getattr(t, method)(o, **kwargs) for t, o in zip(tensors, _pairs(tensors, other))]
            return None if method.endswith("_") else out
    else:
        def op(self: Sequence[Tensor]) -> Any:
            out = [getattr(t, method)() for t in self]
            return None if method.endswith("_") else out
    op.__name__ = op.__qualname__ = f"_foreach_{method}"
    op.__doc__ = f"``t.{method}(...)`` for each tensor of a list."
    return op


def _ternary(method: str) -> Callable[..., Any]:
    def op(self: Sequence[Tensor], tensor1: Sequence[Tensor], tensor2: Sequence[Tensor], value: Any = 1) -> Any:
        tensors = list(self)
        values = _pairs(tensors, value)
        out = [getattr(t, method)(a, b, value=v) for t, a, b, v in zip(tensors, tensor1, tensor2, values)]
        return None if method.endswith("_") else out
    op.__name__ = op.__qualname__ = f"_foreach_{method}"
    op.__doc__ = f"``t.{method}(t1, t2, value=v)`` for each triple of lists."
    return op


FOREACH: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (_foreach_norm, _foreach_add_, _foreach_sub_, _foreach_mul_, _foreach_lerp_, _foreach_copy_,
              _foreach_zero_)
}
for _name in ("add", "sub", "mul", "div", "pow", "div_", "pow_"):
    FOREACH.setdefault(f"_foreach_{_name}", _each(_name, True))
for _name in ("neg", "abs", "sqrt", "exp", "log", "sign", "reciprocal", "sigmoid", "neg_", "abs_", "sqrt_", "exp_",
              "log_", "reciprocal_", "sigmoid_"):
    FOREACH[f"_foreach_{_name}"] = _each(_name, False)
for _name in ("addcmul", "addcdiv", "addcmul_", "addcdiv_"):
    FOREACH[f"_foreach_{_name}"] = _ternary(_name)
