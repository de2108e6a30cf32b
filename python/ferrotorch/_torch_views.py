"""The view-op tail of the torch namespace: the ``*_copy`` family (each view op's result as a fresh
contiguous tensor), ``as_strided`` and its scatter/copy/in-place forms, strided constructors
(``empty_strided``, ``empty_permuted``), ``narrow_copy``, the ``unsafe_*`` splits, ``nonzero_static`` and
``get_device``. All are compositions of existing view ops, so they run on every device and autograd
differentiates them. ``VIEWS`` holds the ``torch.*`` names."""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from typing import Any

from . import _C
from ._C import Tensor
from ._composite_ops import _sizes, _wrap_dim
from ._tensor import _method

_py_int = builtins.int


def _fresh(t: Tensor) -> Tensor:
    """A contiguous copy that shares no memory with ``t`` (clone lays the copy out contiguously)."""
    return t.clone()


def _shape_arg(size: Any, fn: str) -> tuple[int, ...]:
    if isinstance(size, _py_int):
        return (size,)
    if not isinstance(size, (list, tuple)):
        raise TypeError(f"{fn}() received an invalid combination of arguments - got (Tensor, "
                        f"{type(size).__name__}), but expected (Tensor input, tuple of ints size)")
    return tuple(_py_int(s) for s in size)


# ---- the *_copy family: same result as the view op, but never aliasing the input ----
def view_copy(input: Tensor, size: Any) -> Tensor:
    """``input.view(size)`` copied; ``size`` is a sequence (or a dtype, reinterpreting like ``view(dtype)``)."""
    if isinstance(size, _C.dtype):
        return _fresh(input.view(size))
    return _fresh(input.view(*_shape_arg(size, "view_copy")))


def permute_copy(input: Tensor, dims: Sequence[int]) -> Tensor:
    return _fresh(input.permute(*dims))


def transpose_copy(input: Tensor, dim0: int, dim1: int) -> Tensor:
    return _fresh(input.transpose(dim0, dim1))


def t_copy(input: Tensor) -> Tensor:
    return _fresh(input.t())


def expand_copy(input: Tensor, size: Sequence[int], *, implicit: bool = False) -> Tensor:
    """The broadcast result materialised: every repeated element gets its own storage."""
    return _fresh(input.expand(*_shape_arg(size, "expand_copy")))


def squeeze_copy(input: Tensor, dim: Any = None) -> Tensor:
    return _fresh(input.squeeze() if dim is None else input.squeeze(dim))


def unsqueeze_copy(input: Tensor, dim: int) -> Tensor:
    return _fresh(input.unsqueeze(dim))


def select_copy(input: Tensor, dim: int, index: int) -> Tensor:
    return _fresh(input.select(dim, index))


def slice_copy(input: Tensor, dim: int = 0, start: int | None = None, end: int | None = None,
               step: int = 1) -> Tensor:
    """``input[..., start:end:step, ...]`` along ``dim``, copied (ATen's ``slice``)."""
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    d = _wrap_dim(dim, input.dim())
    index = (builtins.slice(None),) * d + (builtins.slice(start, end, step),)
    return _fresh(input[index])


def split_copy(input: Tensor, split_size: Any, dim: int = 0) -> tuple[Tensor, ...]:
    return tuple(_fresh(p) for p in input.split(split_size, dim))


def split_with_sizes_copy(input: Tensor, split_sizes: Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    return tuple(_fresh(p) for p in input.split_with_sizes(split_sizes, dim))


def unbind_copy(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    return tuple(_fresh(p) for p in input.unbind(dim))


def unfold_copy(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """``input.unfold(dimension, size, step)`` copied: windows along ``dimension`` in a new last dim."""
    return _fresh(input.unfold(dimension, size, step))


def diagonal_copy(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    return _fresh(input.diagonal(offset, dim1, dim2))


def detach_copy(input: Tensor) -> Tensor:
    return _fresh(input.detach())


def alias_copy(input: Tensor) -> Tensor:
    """A copy of ``input`` (``alias`` itself would be ``input`` viewed whole)."""
    return _fresh(input)


# ---- as_strided ----
def as_strided(input: Tensor, size: Sequence[int], stride: Sequence[int],
               storage_offset: int | None = None) -> Tensor:
    """A view of ``input``'s storage with the given sizes and strides (in elements). ``storage_offset``
    defaults to ``input``'s own. Writes through the view reach ``input``."""
    if storage_offset is None:
        return input.as_strided(tuple(size), tuple(stride))
    return input.as_strided(tuple(size), tuple(stride), storage_offset)


def as_strided_copy(input: Tensor, size: Sequence[int], stride: Sequence[int],
                    storage_offset: int | None = None) -> Tensor:
    return _fresh(as_strided(input, size, stride, storage_offset))


@_method("as_strided_")
def as_strided_(self: Tensor, size: Sequence[int], stride: Sequence[int],
                storage_offset: int | None = None) -> Tensor:
    """Re-strides ``self`` in place: ``self`` becomes the ``as_strided`` view of its own storage."""
    self.data = as_strided(self, size, stride, storage_offset)
    return self


def _strided_positions(size: Sequence[int], stride: Sequence[int], offset: int, device: Any) -> Tensor:
    """Storage positions ``offset + sum_k i_k * stride_k`` of every element of a ``(size, stride)`` view,
    in row-major order, as a flat int64 tensor."""
    pos = _C.full((), offset, dtype=_C.int64, device=device)
    for n, s in zip(size, stride):
        pos = pos.unsqueeze(-1) + _C.arange(n, device=device) * s
    return pos.reshape(-1)


def as_strided_scatter(input: Tensor, src: Tensor, size: Sequence[int], stride: Sequence[int],
                       storage_offset: int | None = None) -> Tensor:
    """A copy of ``input`` with ``src`` written into its ``as_strided(size, stride, storage_offset)`` view.
    The copy keeps ``input``'s memory order (a transposed input stays transposed), so ``stride`` indexes
    it as it would ``input``'s own dense storage. Differentiable in both ``input`` and ``src``."""
    size, stride = tuple(size), tuple(stride)
    if tuple(src.shape) != size:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{_sizes(src.shape)}, slice size = {_sizes(size)}")
    offset = 0 if storage_offset is None else storage_offset
    need = offset + builtins.sum((n - 1) * s for n, s in zip(size, stride)) + 1
    if math.prod(size) and need > input.numel():
        raise RuntimeError(f"setStorage: sizes {_sizes(size)}, strides {_sizes(stride)}, storage offset "
                           f"{offset}, and itemsize {input.element_size()} requiring a storage size of "
                           f"{need * input.element_size()} are out of bounds for storage of size "
                           f"{input.numel() * input.element_size()}")
    pos = _strided_positions(size, stride, offset, input.device)
    # walk input in its memory order (outermost stride first), scatter, then restore the logical order
    order = sorted(range(input.dim()), key=lambda d: -input.stride()[d])
    mem = input.permute(*order)
    flat = mem.contiguous().reshape(-1)
    out = flat.index_copy(0, pos, src.to(input.dtype).reshape(-1)).reshape(tuple(mem.shape))
    return out.permute(*[order.index(d) for d in range(input.dim())])


# ---- strided constructors ----
def empty_strided(size: Sequence[int], stride: Sequence[int], *, dtype: Any = None, layout: Any = None,
                  device: Any = None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """An uninitialised tensor with exactly these strides, over a buffer just large enough for them."""
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"dimensionality of sizes ({len(size)}) must match dimensionality of strides "
                           f"({len(stride)})")
    n = 0 if 0 in size else 1 + builtins.sum((s - 1) * st for s, st in zip(size, stride))
    base = _C.empty(n, dtype=dtype, device=device)
    out = base.as_strided(size, stride)
    return out.requires_grad_(True) if requires_grad else out


def empty_permuted(size: Sequence[int], physical_layout: Sequence[int], *, dtype: Any = None,
                   layout: Any = None, device: Any = None, requires_grad: bool = False,
                   pin_memory: bool = False) -> Tensor:
    """An uninitialised tensor of logical shape ``size`` laid out in memory with dim ``physical_layout[0]``
    outermost and ``physical_layout[-1]`` innermost (``(0, 1, ..., n-1)`` is contiguous)."""
    size, perm = tuple(size), tuple(physical_layout)
    if len(perm) != len(size):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the physical_layout; "
                           f"i.e. len(size) = {len(size)} is not equal to len(physical_layout) = {len(perm)}")
    if len(set(perm)) != len(perm):
        raise RuntimeError("Duplicate dim not allowed")
    perm = tuple(_wrap_dim(p, len(size)) for p in perm)
    base = _C.empty(*[size[p] for p in perm], dtype=dtype, device=device)
    inverse = [perm.index(i) for i in range(len(perm))]
    out = base.permute(*inverse)
    return out.requires_grad_(True) if requires_grad else out


# ---- narrowing and splitting ----
@_method("narrow_copy")
def narrow_copy(self: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``narrow`` copied into fresh memory."""
    if self.dim() == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, self.dim())
    n = self.shape[d]
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    start = start % n if start < 0 else start
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return _fresh(self.narrow(d, start, length))


@_method("unsafe_chunk")
def unsafe_chunk(self: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``chunk`` without the view-tracking safety checks; the pieces are ordinary views here."""
    return tuple(self.chunk(chunks, dim))


@_method("unsafe_split")
def unsafe_split(self: Tensor, split_size: Any, dim: int = 0) -> tuple[Tensor, ...]:
    return tuple(self.split(split_size, dim))


@_method("unsafe_split_with_sizes")
def unsafe_split_with_sizes(self: Tensor, split_sizes: Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    return tuple(self.split_with_sizes(split_sizes, dim))


# ---- indices ----
@_method("nonzero_static")
def nonzero_static(self: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    """``nonzero()`` with a fixed row count: ``(size, ndim)`` int64, truncated to the first ``size``
    non-zeros or padded with rows of ``fill_value``."""
    if not isinstance(size, _py_int) or isinstance(size, builtins.bool):
        raise TypeError(f"nonzero_static(): argument 'size' must be int, not {type(size).__name__}")
    if size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    idx = self.nonzero()
    ncol = self.dim()
    if idx.shape[0] >= size:
        return idx[:size]
    pad = _C.full((size - idx.shape[0], ncol), fill_value, dtype=_C.int64, device=self.device)
    return _C.cat([idx, pad], 0)


def get_device(input: Tensor) -> int:
    """The CUDA device index, or -1 for a CPU tensor (``Tensor.get_device``)."""
    return input.get_device()


VIEWS: dict[str, Callable] = {n: globals()[n] for n in [
    "view_copy", "permute_copy", "transpose_copy", "t_copy", "expand_copy", "squeeze_copy", "unsqueeze_copy",
    "select_copy", "slice_copy", "split_copy", "split_with_sizes_copy", "unbind_copy", "unfold_copy",
    "diagonal_copy", "detach_copy", "alias_copy", "as_strided", "as_strided_copy", "as_strided_scatter",
    "empty_strided", "empty_permuted", "narrow_copy", "unsafe_chunk", "unsafe_split",
    "unsafe_split_with_sizes", "nonzero_static", "get_device",
]}
