"""Fractional max pooling (Graham, 2014): max over pseudo-random, overlapping windows.

Each ``(batch, channel)`` plane draws one sample ``u`` in ``[0, 1)`` per spatial dim; the window starts along a
dim of input size ``L``, output size ``O`` and kernel ``k`` are ``int((i + u) * a) - int(u * a)`` with
``a = (L - k) / (O - 1)``, and the last window ends at the input's edge. The windows are read with one ``gather``,
so the op runs on every device and autograd routes the gradient to each window's argmax.
"""

from __future__ import annotations

from typing import Any

import ferrotorch as torch
from ferrotorch.nn._utils import _ntuple

Tensor = torch.Tensor

_DIM_NAMES = {2: ("height", "width"), 3: ("time", "height", "width")}


def _interval_starts(sample: Tensor, size: int, out: int, kernel: int) -> Tensor:
    """Window starts ``(N, C, out)`` (int64) from the per-plane ``sample`` ``(N, C)``."""
    last = torch.full((*sample.shape, 1), size - kernel, dtype=torch.int64, device=sample.device)
    if out == 1:
        return last
    # computed in the input's dtype, as ATen does, so float32 rounding picks the same windows
    alpha = torch.tensor(float(size - kernel), dtype=sample.dtype, device=sample.device) / (out - 1)
    steps = torch.arange(out - 1, dtype=sample.dtype, device=sample.device)
    u = sample.unsqueeze(-1)
    starts = torch.floor((steps + u) * alpha).long() - torch.floor(u * alpha).long()
    return torch.cat([starts, last], -1)


def _fractional_max_poolnd(
    input: Tensor, kernel_size: Any, output_size: Any, output_ratio: Any, return_indices: bool,
    _random_samples: Tensor | None, nd: int,
) -> Any:
    name = f"fractional_max_pool{nd}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    ntuple = _ntuple(nd)
    kernel = ntuple(kernel_size)
    if output_size is None:
        ratio = ntuple(output_ratio)
        output_size = [int(input.shape[input.dim() - nd + i] * r) for i, r in enumerate(ratio)]
    out = tuple(int(o) for o in ntuple(output_size))
    if _random_samples is None:
        n_batch = 1 if input.dim() == nd + 1 else input.shape[0]
        _random_samples = torch.rand(n_batch, input.shape[-nd - 1], nd, dtype=input.dtype, device=input.device)
    # the kernel's own name in ATen's messages (3-D says "..._out()" for the shape checks)
    kname = f"{name}()" if nd == 2 else f"{name}_out()"
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{name}(): kernel size should be greater than zero, but got {'x'.join(map(str, kernel))}")
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"{kname}: Expected {nd + 1}D or {nd + 2}D tensor, but got: {list(input.shape)}")
    for i in range(1, input.dim()):
        if input.shape[i] <= 0:
            raise RuntimeError(f"{kname}: Expected input to have non-zero size for non-batch dimensions, but got"
                               f"{list(input.shape)} with dimension {i} being empty.")
    batched = input.dim() == nd + 2
    x = input if batched else input.unsqueeze(0)
    n, c = x.shape[0], x.shape[1]
    spatial = tuple(x.shape[2:])
    for dim_name, o, k, sz in zip(_DIM_NAMES[nd], out, kernel, spatial):
        if o + k - 1 > sz:
            raise RuntimeError(f"{kname}: pool {dim_name} {k} too large relative to input {dim_name} {sz}")
    samples = _random_samples
    if samples.dtype != input.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if samples.dim() != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {samples.dim()}")
    if samples.shape[2] != nd:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {nd}; got {samples.shape[2]}.")
    if samples.shape[1] != c:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[0] < n:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if any(o == 0 for o in out):
        empty = torch.empty((n, c, *out), dtype=x.dtype, device=x.device)
        values, indices = empty, torch.empty((n, c, *out), dtype=torch.int64, device=x.device)
    else:
        values, indices = _pool(x, samples.narrow(0, 0, n), kernel, out, nd)
    if not batched:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


def _pool(x: Tensor, samples: Tensor, kernel: tuple, out: tuple, nd: int) -> tuple[Tensor, Tensor]:
    n, c = x.shape[0], x.shape[1]
    spatial = tuple(x.shape[2:])
    # 2-D samples are stored (w, h) and 3-D ones (t, h, w); pair each with its input dim
    order = (1, 0) if nd == 2 else (0, 1, 2)
    # flat input position of every (kernel offset, output position), built up one spatial dim at a time:
    # final shape (N, C, k_0, ..., k_{nd-1}, o_0, ..., o_{nd-1})
    flat = None
    for i in range(nd):
        starts = _interval_starts(samples.select(2, order[i]), spatial[i], out[i], kernel[i])  # (N, C, o_i)
        offs = torch.arange(kernel[i], device=x.device)
        pos = offs.reshape(kernel[i], 1) + starts.unsqueeze(-2)  # (N, C, k_i, o_i)
        shape = [n, c] + [1] * (2 * nd)
        shape[2 + i], shape[2 + nd + i] = kernel[i], out[i]
        pos = pos.reshape(shape)
        flat = pos if flat is None else flat * spatial[i] + pos
    kprod = 1
    for k in kernel:
        kprod *= k
    flat = flat.expand(n, c, *kernel, *out).reshape(n, c, kprod, -1)
    windows = x.reshape(n, c, -1).gather(2, flat.reshape(n, c, -1)).reshape(n, c, kprod, -1)
    values, arg = windows.max(2)
    indices = flat.gather(2, arg.unsqueeze(2)).squeeze(2)
    return values.reshape(n, c, *out), indices.reshape(n, c, *out)


def fractional_max_pool2d(
    input: Tensor, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
    return_indices: bool = False, _random_samples: Tensor | None = None,
) -> Any:
    """Fractional max pooling of ``(N, C, H, W)`` / ``(C, H, W)`` to ``output_size`` (or ``output_ratio`` of it).

    ``_random_samples`` ``(N, C, 2)`` in ``[0, 1)`` fixes the windows (``[..., 0]`` for width, ``[..., 1]`` for
    height); ``return_indices`` also gives the argmax positions, flat over ``H * W``.
    """
    return _fractional_max_poolnd(input, kernel_size, output_size, output_ratio, return_indices, _random_samples, 2)


def fractional_max_pool3d(
    input: Tensor, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
    return_indices: bool = False, _random_samples: Tensor | None = None,
) -> Any:
    """Fractional max pooling of ``(N, C, T, H, W)`` / ``(C, T, H, W)``; ``_random_samples`` is ``(N, C, 3)``."""
    return _fractional_max_poolnd(input, kernel_size, output_size, output_ratio, return_indices, _random_samples, 3)


def fractional_max_pool2d_with_indices(
    input: Tensor, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
    return_indices: bool = False, _random_samples: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """``fractional_max_pool2d`` returning ``(values, indices)`` whatever ``return_indices`` says."""
    return _fractional_max_poolnd(input, kernel_size, output_size, output_ratio, True, _random_samples, 2)


def fractional_max_pool3d_with_indices(
    input: Tensor, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
    return_indices: bool = False, _random_samples: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """``fractional_max_pool3d`` returning ``(values, indices)`` whatever ``return_indices`` says."""
    return _fractional_max_poolnd(input, kernel_size, output_size, output_ratio, True, _random_samples, 3)
