"""``torch._foreach_norm`` and ``torch._foreach_mul_``: one call over a list of tensors.

Tensors are grouped by device and dtype; on a GPU each group is one or two kernel launches per 32
tensors instead of several per tensor. Where autograd must record the ops, they run tensor by tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def _recorded(tensors: list[Tensor]) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


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


def _foreach_mul_(self: Sequence[Tensor], other: Any) -> None:
    """``t *= other`` for each tensor: ``other`` a number, a one-element tensor, or a list of either."""
    tensors = list(self)
    if isinstance(other, (list, tuple)):
        if len(other) != len(tensors):
            raise RuntimeError(
                f"Tensor lists must have the same number of tensors, got {len(tensors)} and {len(other)}"
            )
        for t, o in zip(tensors, other):
            t.mul_(o)
        return
    if isinstance(other, Number) or _recorded(tensors + [other]):
        for t in tensors:
            t.mul_(other)
        return
    for (device, dt), idx in _groups(tensors).items():
        _C._foreach_scale_([tensors[i] for i in idx], other.to(device=device, dtype=dt))
