"""ATen's ``native_*`` ops, which return the statistics their backward passes save alongside the result
(``native_layer_norm`` -> ``(out, mean, rstd)``, ``native_dropout`` -> ``(out, mask)``...), the functional
RNN cells (``torch.lstm_cell``, ``gru_cell``, ``rnn_tanh_cell``, ``rnn_relu_cell``) and the torch-level
``embedding_bag`` with its 4-tuple. All compose existing differentiable ops. ``NATIVE`` holds the
``torch.*`` names."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

from . import _C
from ._C import Tensor
from ._composite_ops import _sizes
from ._grad_mode import no_grad


def _F() -> Any:
    from .nn import functional

    return functional


def _affine(out: Tensor, weight: Tensor | None, bias: Tensor | None, shape: Sequence[int]) -> Tensor:
    if weight is not None:
        out = out * weight.reshape(*shape)
    if bias is not None:
        out = out + bias.reshape(*shape)
    return out


# ---- normalisation with saved statistics ----
def native_layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None,
                      bias: Tensor | None, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """Layer norm over the trailing ``normalized_shape`` dims -> ``(out, mean, rstd)``; ``mean`` and
    ``rstd = 1 / sqrt(var + eps)`` (biased var) keep the normalised dims as size 1."""
    shape = tuple(normalized_shape)
    k = len(shape)
    if tuple(input.shape[input.dim() - k:]) != shape or input.dim() < k:
        raise RuntimeError(f"Given normalized_shape={_sizes(shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in shape)}], but got input of size"
                           f"{_sizes(input.shape)}")
    dims = tuple(range(input.dim() - k, input.dim()))
    mean = input.mean(dims, keepdim=True)
    rstd = (input.var(dims, unbiased=False, keepdim=True) + eps).rsqrt()
    out = _affine((input - mean) * rstd, weight, bias, shape)
    return out, mean, rstd


def native_batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None,
                      running_mean: Tensor | None, running_var: Tensor | None, training: bool,
                      momentum: float, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """Batch norm of ``(N, C, *)`` -> ``(out, save_mean, save_invstd)``. Training: the batch's per-channel
    mean and ``1 / sqrt(biased var + eps)``, and the running stats (if given) move by ``momentum`` (the
    variance unbiased). Evaluation: normalises with the running stats; the saved stats are empty."""
    if input.dim() < 2:
        raise ValueError(f"Expected 2D or higher input (got {input.dim()}D input)")
    view = (1, input.shape[1]) + (1,) * (input.dim() - 2)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError(f"running_{'mean' if running_mean is None else 'var'} must be defined in "
                             f"evaluation mode")
        invstd = (running_var + eps).rsqrt()
        out = (input - running_mean.reshape(*view)) * invstd.reshape(*view)
        empty = _C.empty(0, dtype=input.dtype, device=input.device)
        return _affine(out, weight, bias, view), empty, empty.clone()
    dims = (0,) + tuple(range(2, input.dim()))
    n = input.numel() // input.shape[1]
    mean = input.mean(dims)
    var = input.var(dims, unbiased=False)
    invstd = (var + eps).rsqrt()
    out = _affine((input - mean.reshape(*view)) * invstd.reshape(*view), weight, bias, view)
    with no_grad():
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
        if running_var is not None:
            unbiased = var.detach() * (n / builtins.max(n - 1, 1))
            running_var.mul_(1 - momentum).add_(unbiased * momentum)
    return out, mean, invstd


def native_group_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, N: int, C: int, HxW: int,
                      group: int, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """Group norm of ``(N, C, *)`` (``HxW`` spatial elements) -> ``(out, mean, rstd)``, stats ``(N, group)``."""
    if C % group:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got "
                           f"input of shape {_sizes(input.shape)} and num_groups={group}")
    if input.numel() != N * C * HxW:
        raise RuntimeError(f"Expected input to have {N * C * HxW} elements (N * C * HxW), got {input.numel()}")
    g = input.reshape(N, group, -1)
    mean = g.mean(2)
    rstd = (g.var(2, unbiased=False) + eps).rsqrt()
    out = ((g - mean.unsqueeze(2)) * rstd.unsqueeze(2)).reshape(*input.shape)
    view = (1, C) + (1,) * (input.dim() - 2)
    return _affine(out, weight, bias, view), mean, rstd


# ---- dropout and shuffles ----
def native_dropout(input: Tensor, p: float, train: bool | None) -> tuple[Tensor, Tensor]:
    """``(out, mask)``: ``mask`` (bool) keeps each element with probability ``1 - p`` and ``out`` is
    ``input * mask / (1 - p)``. ``train=False`` returns a copy of ``input`` and an all-True mask."""
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={1 - p}")
    if train is False:
        return input.clone(), _C.ones(*input.shape, dtype=_C.bool, device=input.device)
    mask = _C.empty(*input.shape, dtype=_C.float32, device=input.device).bernoulli_(1 - p).bool()
    scale = 0.0 if p == 1 else 1.0 / (1 - p)
    return input * mask.to(input.dtype) * scale, mask


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """``(N, C, *)`` with channels regrouped ``(g, C/g) -> (C/g, g)`` (``nn.functional.channel_shuffle``)."""
    return _F().channel_shuffle(input, groups)


def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:
    return _F().channel_shuffle(input, groups)


# ---- functional RNN cells: PyTorch's (input, hx, w_ih, w_hh, b_ih, b_hh) ----
def _gates(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
           b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    F = _F()
    return F.linear(input, w_ih, b_ih), F.linear(hx, w_hh, b_hh)


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """``tanh(input @ w_ih.T + b_ih + hx @ w_hh.T + b_hh)``: ``(B, in), (B, H) -> (B, H)``."""
    gi, gh = _gates(input, hx, w_ih, w_hh, b_ih, b_hh)
    return (gi + gh).tanh()


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    gi, gh = _gates(input, hx, w_ih, w_hh, b_ih, b_hh)
    return (gi + gh).relu()


def lstm_cell(input: Tensor, hx: Sequence[Tensor], w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step: ``hx = (h, c)``, weights ``(4H, in)`` / ``(4H, H)`` with gates ordered i, f, g, o
    -> ``(h', c')``, each ``(B, H)``."""
    if not isinstance(hx, (list, tuple)):
        raise TypeError(f"lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, not "
                        f"{type(hx).__name__}")
    if len(hx) != 2:
        raise RuntimeError("lstm_cell expects two hidden states")
    h, c = hx
    gi, gh = _gates(input, h, w_ih, w_hh, b_ih, b_hh)
    i, f, g, o = (gi + gh).chunk(4, -1)
    cy = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * cy.tanh(), cy


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """One GRU step, gates ordered r, z, n: ``n = tanh(i_n + r * h_n)``, ``h' = (1 - z) * n + z * h``."""
    gi, gh = _gates(input, hx, w_ih, w_hh, b_ih, b_hh)
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = gh.chunk(3, -1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (hx - n)


# ---- embedding bags ----
_BAG_MODES = {0: "sum", 1: "mean", 2: "max"}


def embedding_bag(weight: Tensor, indices: Tensor, offsets: Tensor, scale_grad_by_freq: bool = False,
                  mode: int = 0, sparse: bool = False, per_sample_weights: Tensor | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None
                  ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """ATen's form of ``F.embedding_bag`` (table first, ``mode`` 0 sum / 1 mean / 2 max) ->
    ``(output (B, dim), offset2bag (n,), bag_size (B,), max_indices)``. ``offset2bag`` is each index's bag,
    ``bag_size`` counts the non-padding indices per bag; ``max_indices`` (max mode) is ``(B, dim)``, the
    table row each maximum came from (0 for an empty bag), otherwise ``bag_size`` again. PyTorch leaves
    some auxiliaries empty on its no-grad sum path; here they are always filled in."""
    if mode not in _BAG_MODES:
        raise RuntimeError("Unknown mode for embedding_bag")
    name = _BAG_MODES[mode]
    out = _F().embedding_bag(indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq, mode=name,
                             per_sample_weights=per_sample_weights, include_last_offset=include_last_offset,
                             padding_idx=padding_idx)
    flat = indices.reshape(-1)
    n = flat.shape[0]
    if indices.dim() == 2:
        length = indices.shape[1]
        starts = list(range(0, n, length)) if length else [0] * indices.shape[0]
    else:
        starts = [int(o) for o in offsets.tolist()]
        if include_last_offset:
            starts = starts[:-1]
    bags = len(starts)
    ends = starts[1:] + [n]
    dev = weight.device
    offset2bag = _C.zeros(n, dtype=_C.int64, device=dev)
    for b, (s, e) in enumerate(zip(starts, ends)):
        if e > s:
            offset2bag[s:e] = b
    keep = flat != padding_idx % weight.shape[0] if padding_idx is not None else _C.ones(
        n, dtype=_C.bool, device=dev)
    bag_size = _C.zeros(bags, dtype=_C.int64, device=dev)
    if n:
        bag_size = bag_size.index_add(0, offset2bag, keep.long())
    if name != "max":
        return out, offset2bag, bag_size, bag_size.clone()
    dim = weight.shape[1]
    max_indices = _C.zeros(bags, dim, dtype=_C.int64, device=dev)
    rows = weight.detach()[flat]
    for b, (s, e) in enumerate(zip(starts, ends)):
        sel = keep[s:e]
        if e > s and bool(sel.any()):
            cand = flat[s:e][sel]
            arg = rows[s:e][sel].argmax(0)
            max_indices[b] = cand[arg]
    return out, offset2bag, bag_size, max_indices


NATIVE: dict[str, Callable] = {n: globals()[n] for n in [
    "native_layer_norm", "native_batch_norm", "native_group_norm", "native_dropout", "channel_shuffle",
    "native_channel_shuffle", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell", "embedding_bag",
]}
