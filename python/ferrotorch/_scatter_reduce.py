"""``Tensor.scatter_reduce`` (sum, prod, mean, amax, amin; ``include_self``) and ``Tensor.scatter(reduce=)``.

The combining step is the core's scatter kernel in that mode (CUDA atomics for f32/f64/i64/i32, a host loop
elsewhere); mean divides a sum by the counts, and the backward is PyTorch's formula in tensor ops: sum and
mean pass the gradient through ``gather``, prod divides by the element (with the exclusive product where an
element is zero), amax/amin share the gradient evenly among the elements equal to the result.
"""

from __future__ import annotations

from typing import Any

from . import _C
from ._C import Tensor
from ._tensor import _method
from .autograd.function import Function

_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _src_view(src: Tensor, index: Tensor) -> Tensor:
    """The part of ``src`` the scatter reads: its leading ``index.shape`` block."""
    if tuple(src.shape) == tuple(index.shape):
        return src
    return src[tuple(slice(0, n) for n in index.shape)]


def _touched(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """Where the scatter writes: a bool mask of x's shape."""
    return _C.zeros(*x.shape, dtype=_C.bool, device=x.device).scatter(dim, index, True)


def _reduce(x: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, include_self: bool) -> Tensor:
    if include_self:
        base = x
    elif reduce in ("amax", "amin"):
        # start each written element from one of its own values (any will do: the reduction then takes
        # them all), which needs no identity (an int64 bound does not survive a float fill)
        base = x.scatter(dim, index, _src_view(src, index))
    else:
        base = x.scatter(dim, index, 1 if reduce == "prod" else 0)
    if reduce != "mean":
        return base._scatter_mode(dim, index, src, reduce)
    total = base._scatter_mode(dim, index, src, "sum")
    count = _counts(x, dim, index, include_self)
    return total.div(count, rounding_mode="floor") if not x.is_floating_point() else total / count


def _counts(x: Tensor, dim: int, index: Tensor, include_self: bool) -> Tensor:
    """How many values each element of a mean averages (at least 1)."""
    start = _C.ones(*x.shape, dtype=x.dtype, device=x.device) if include_self else _C.zeros(
        *x.shape, dtype=x.dtype, device=x.device)
    count = start._scatter_mode(dim, index, _C.ones(*index.shape, dtype=x.dtype, device=x.device), "sum")
    return count.masked_fill(count == 0, 1)


class _ScatterReduce(Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, include_self: bool) -> Tensor:
        out = _reduce(x, dim, index, src, reduce, include_self)
        ctx.save_for_backward(x, index, src, out)
        ctx.args = (dim, reduce, include_self)
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        x, index, src_full, out = ctx.saved_tensors
        dim, reduce, include_self = ctx.args
        src = _src_view(src_full, index)
        if reduce == "sum":
            g_self, g_src = g, g.gather(dim, index)
        elif reduce == "mean":
            gd = g / _counts(x, dim, index, include_self)
            g_self, g_src = gd, gd.gather(dim, index)
        elif reduce == "prod":
            masked_self = x.masked_fill(x == 0, 1)
            g_self = g * _reduce(masked_self, dim, index, src, "prod", include_self) / masked_self
            src_zero = src == 0
            zeros_per = _C.zeros(*x.shape, dtype=x.dtype, device=x.device)._scatter_mode(
                dim, index, src_zero.to(x.dtype), "sum").gather(dim, index)
            single = src_zero & (zeros_per == 1)
            exclusive = _reduce(x, dim, index, src.masked_fill(single, 1), "prod", include_self)
            g_src = _C._where(single, (g * exclusive).gather(dim, index),
                             (g * out).gather(dim, index) / src.masked_fill(src_zero, 1))
        else:  # amax / amin: shared evenly among the elements equal to the result
            self_hit = (x == out).to(x.dtype)
            if not include_self:
                self_hit = self_hit.masked_fill(_touched(x, dim, index), 0)
            value = out.gather(dim, index)
            src_hit = (src == value).to(x.dtype)
            share = g / self_hit._scatter_mode(dim, index, src_hit, "sum")
            g_self, g_src = self_hit * share, src_hit * share.gather(dim, index)
        if not include_self and reduce != "amax" and reduce != "amin":
            g_self = g_self.masked_fill(_touched(x, dim, index), 0)
        if g_src.shape != src_full.shape:
            padded = _C.zeros(*src_full.shape, dtype=g_src.dtype, device=g_src.device)
            padded[tuple(slice(0, n) for n in index.shape)] = g_src
            g_src = padded
        return g_self, None, None, g_src, None, None


def _check(x: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str) -> int:
    if reduce not in _REDUCES:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): argument 'src' must be Tensor, not {type(src).__name__}")
    if src.dtype != x.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype, got {x.dtype} and "
                           f"{src.dtype}")
    if index.dim() != x.dim() or src.dim() != x.dim():
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    d = dim + x.dim() if dim < 0 else dim
    for a, n in enumerate(index.shape):
        if n > src.shape[a] or (a != d and n > x.shape[a]):
            raise RuntimeError(f"Expected index {list(index.shape)} to be smaller than self {list(x.shape)} apart "
                               f"from dimension {d} and to be smaller size than src {list(src.shape)}")
    return d


@_method("scatter_reduce")
def scatter_reduce(self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """``out[... index[i][j] ...] = reduce(self[...], src[i][j] for every i, j indexing there)`` along ``dim``;
    ``include_self=False`` leaves self's value out wherever something is scattered."""
    d = _check(self, dim, index, src, reduce)
    return _ScatterReduce.apply(self, d, index, src, reduce, include_self)


@_method("scatter_reduce_")
def scatter_reduce_(self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                    include_self: bool = True) -> Tensor:
    r = scatter_reduce(self, dim, index, src, reduce, include_self=include_self)
    return self.copy_(r)


def scatter_reduce_fn(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                      include_self: bool = True, out: Tensor | None = None) -> Tensor:
    """``torch.scatter_reduce``."""
    r = scatter_reduce(input, dim, index, src, reduce, include_self=include_self)
    return r if out is None else out.copy_(r)


def _index_as_scatter(self: Tensor, dim: int, index: Tensor, source: Tensor) -> tuple[int, Tensor]:
    """index_reduce's 1-D ``index`` (a slot of ``dim`` per slice of ``source``) as scatter_reduce's index."""
    d = dim + self.dim() if dim < 0 else dim
    if index.dim() > 1:
        raise IndexError("index_reduce_(): Index is supposed to be a vector")
    if index.dtype not in (_C.int64, _C.int32):
        raise RuntimeError("index_reduce_(): Expected dtype int32/int64 for index")
    n = index.numel()
    if source.dim() != self.dim() or source.shape[d] != n:
        raise RuntimeError("index_reduce_(): Source/destination tensor must have same slice shapes. "
                           f"Destination slice shape: {list(self.shape)} at dimension {d} and source slice "
                           f"shape: {list(source.shape)} at dimension {d}.")
    shape = [1] * self.dim()
    shape[d] = n
    return d, index.long().reshape(shape).expand(*source.shape)


@_method("index_reduce")
def index_reduce(self: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                 include_self: bool = True) -> Tensor:
    """``self[..., index[i], ...] = reduce(self[..., index[i], ...], source[..., i, ...])`` along ``dim``
    (reduce: prod, mean, amax or amin)."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    d, full = _index_as_scatter(self, dim, index, source)
    return scatter_reduce(self, d, full, source, reduce, include_self=include_self)


@_method("index_reduce_")
def index_reduce_(self: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                  include_self: bool = True) -> Tensor:
    return self.copy_(index_reduce(self, dim, index, source, reduce, include_self=include_self))


def index_reduce_fn(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                    include_self: bool = True, out: Tensor | None = None) -> Tensor:
    """``torch.index_reduce``."""
    r = index_reduce(input, dim, index, source, reduce, include_self=include_self)
    return r if out is None else out.copy_(r)
