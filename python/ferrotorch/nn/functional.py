"""``torch.nn.functional``: stateless neural-network ops, composed from core tensor ops.

Every function keeps PyTorch's signature; shapes follow PyTorch's docs (``N`` batch, ``C`` channels).
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

import ferrotorch as torch
from ferrotorch.amp import autocast_mode as _amp
from ferrotorch.nn import _reduction
from ferrotorch.nn._utils import _ntuple, _pair

Tensor = torch.Tensor

# ============================================================================ linear


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y = x Wᵀ + b``; input ``(*, in)``, weight ``(out, in)``, bias ``(out)`` -> ``(*, out)``.

    One autograd node (the GEMM with the bias as its initial value; backward by GEMMs and a reduction).
    """
    return torch._C._nn_linear(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y_k = x1ᵀ W_k x2 + b_k``; inputs ``(*, in1)``, ``(*, in2)``, weight ``(out, in1, in2)`` -> ``(*, out)``."""
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2:
        raise RuntimeError(
            f"bilinear(): input sizes {tuple(input1.shape)} and {tuple(input2.shape)} do not match "
            f"weight of size {tuple(weight.shape)}"
        )
    w = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    tmp = torch.matmul(input1, w).reshape(*input1.shape[:-1], out_f, in2)
    out = (tmp * input2.unsqueeze(-2)).sum(-1)
    if bias is not None:
        out = out + bias
    return out


# ============================================================================ activations


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)``."""
    return input.relu_() if inplace else torch.relu(input)


def relu_(input: Tensor) -> Tensor:
    """In-place :func:`relu`."""
    return input.relu_()


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x if x > threshold else value``."""
    if inplace:
        return threshold_(input, threshold, value)
    return input.masked_fill(input <= threshold, value)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """Clamp to ``[min_val, max_val]``."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return input.clamp_(min_val, max_val) if inplace else input.clamp(min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x if x > 0 else negative_slope * x``."""
    if inplace:
        return _apply_inplace(input, leaky_relu, negative_slope)
    out = torch.where(input > 0, input, input * negative_slope)
    return out


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x if x > 0 else alpha * (exp(x) - 1)``."""
    if inplace:
        return _apply_inplace(input, elu, alpha)
    out = torch.where(input > 0, input, (torch.exp(input.clamp(max=0)) - 1) * alpha)
    return out


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    if inplace:
        return _apply_inplace(input, selu)
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    out = elu(input, alpha) * scale
    return out


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    if inplace:
        return _apply_inplace(input, celu, alpha)
    out = torch.where(input > 0, input, (torch.exp(input.clamp(max=0) / alpha) - 1) * alpha)
    return out


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Φ(x)``; ``approximate='tanh'`` uses the tanh approximation."""
    if approximate == "none":
        return input * 0.5 * (1.0 + torch.erf(input * (1.0 / math.sqrt(2.0))))
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (1.0 + torch.tanh(inner))
    raise RuntimeError("approximate argument must be either none or tanh.")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)``."""
    if inplace:
        return _apply_inplace(input, silu)
    out = input * torch.sigmoid(input)
    return out


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    if inplace:
        return _apply_inplace(input, mish)
    out = input * torch.tanh(softplus(input))
    return out


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``."""
    scaled = input * beta
    soft = torch.log1p(torch.exp(scaled.clamp(max=threshold))) / beta
    return torch.where(scaled > threshold, input, soft)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``."""
    out = (input + 3.0).clamp(0.0, 6.0) / 6.0
    return input.copy_(out, non_blocking=False) if inplace else out


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``."""
    if inplace:
        return _apply_inplace(input, hardswish)
    out = input * (input + 3.0).clamp(0.0, 6.0) / 6.0
    return out


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``."""
    return torch.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return torch.tanh(input)


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return input / (input.abs() + 1)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed stably as ``-softplus(-x)``."""
    return -softplus(-input)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return input - torch.tanh(input)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Shrink toward zero by ``lambd``; zero inside ``[-lambd, lambd]``."""
    return torch.where(input > lambd, input - lambd, torch.where(input < -lambd, input + lambd, input * 0))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Zero inside ``[-lambd, lambd]``, identity outside."""
    return input.masked_fill(input.abs() <= lambd, 0)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Split ``dim`` in halves ``a, b`` and return ``a * sigmoid(b)``."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    if input.shape[dim] % 2 != 0:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {dim % input.dim()} is size {input.shape[dim]}"
        )
    a, b = input.chunk(2, dim)
    return a * torch.sigmoid(b)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x if x > 0 else w * x``, ``w`` one value or one per channel (dim 1)."""
    if weight.numel() != 1:
        if input.dim() == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = input.shape[1] if input.dim() >= 2 else input.shape[0]
        if weight.numel() != channels:
            raise RuntimeError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                f"{weight.numel()} and channel size = {channels}."
            )
        if input.dim() >= 2:
            weight = weight.reshape(channels, *([1] * (input.dim() - 2)))
    return torch.where(input > 0, input, input * weight)


def rrelu(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, inplace: bool = False
) -> Tensor:
    """Leaky ReLU with a slope drawn from ``U(lower, upper)`` in training, ``(lower + upper) / 2`` otherwise."""
    if inplace:
        return _apply_inplace(input, rrelu, lower, upper, training)
    if training:
        slope = torch.rand_like(input) * (upper - lower) + lower
    else:
        slope = (lower + upper) / 2
    out = torch.where(input >= 0, input, input * slope)
    return out


def _apply_inplace(input: Tensor, fn: Any, *args: Any) -> Tensor:
    """Write ``fn(input, *args)`` into ``input``; ``fn`` runs on a clone so autograd never sees its saved input
    overwritten (the chain goes old input -> clone -> fn -> copy_)."""
    src = input.clone() if torch.is_grad_enabled() and input.requires_grad else input
    return input.copy_(fn(src, *args), non_blocking=False)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place :func:`threshold`."""
    # the ``threshold`` argument shadows the function of that name
    return _apply_inplace(input, globals()["threshold"], threshold, value)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place :func:`hardtanh`."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _apply_inplace(input, hardtanh, min_val, max_val)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place :func:`leaky_relu`."""
    return _apply_inplace(input, leaky_relu, negative_slope)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`elu`."""
    return _apply_inplace(input, elu, alpha)


def selu_(input: Tensor) -> Tensor:
    """In-place :func:`selu`."""
    return _apply_inplace(input, selu)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`celu`."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _apply_inplace(input, celu, alpha)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    """In-place :func:`rrelu`."""
    return _apply_inplace(input, rrelu, lower, upper, training)


def _get_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (computed in ``dtype`` when given)."""
    (input,) = _amp.to_fp32(input)
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return torch._C._nn_softmax(input, dim, False)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """``softmax(-x)``."""
    if dim is None:
        dim = _get_softmax_dim("softmin", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return softmax(-input, dim)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``."""
    (input,) = _amp.to_fp32(input)
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return torch._C._nn_softmax(input, dim, True)


# ============================================================================ dropout


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout_with_mask_shape(input: Tensor, p: float, mask_shape: Sequence[int], inplace: bool) -> Tensor:
    if p == 1.0:
        mask = torch.zeros(tuple(mask_shape), dtype=input.dtype, device=input.device)
    else:
        keep = torch.rand(tuple(mask_shape), device=input.device) >= p
        mask = keep.to(input.dtype) / (1.0 - p)
    return input.mul_(mask) if inplace else input * mask


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)`` (training only)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _dropout_with_mask_shape(input, p, input.shape, inplace)


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool, nd: int, name: str) -> Tensor:
    _check_p(p)
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{name}: Expected {nd + 1}D or {nd + 2}D input, but received a {input.dim()}D input."
        )
    if not training or p == 0.0:
        return input
    n_feature_dims = input.dim() - nd
    mask_shape = list(input.shape[:n_feature_dims]) + [1] * nd
    return _dropout_with_mask_shape(input, p, mask_shape, inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, L)`` / ``(C, L)`` input."""
    return _feature_dropout(input, p, training, inplace, 1, "dropout1d")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, H, W)`` / ``(C, H, W)`` input."""
    return _feature_dropout(input, p, training, inplace, 2, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, D, H, W)`` / ``(C, D, H, W)`` input."""
    return _feature_dropout(input, p, training, inplace, 3, "dropout3d")


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout that keeps SELU's self-normalising mean and variance."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    alpha_p = -1.7580993408473766
    if p == 1.0:
        return input.mul_(0) if inplace else input * 0
    keep = (torch.rand(tuple(input.shape), device=input.device) >= p).to(input.dtype)
    a = ((1 - p) * (1 + p * alpha_p**2)) ** -0.5
    b = -a * alpha_p * p
    out = (input * keep + (1 - keep) * alpha_p) * a + b
    return input.copy_(out, non_blocking=False) if inplace else out


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels: ``(N, C, *)`` input, one keep/drop draw per ``(n, c)`` (training only)."""
    _check_p(p)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        return input.mul_(0) if inplace else input * 0
    if input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    alpha = 1.7580993408473766
    noise_shape = (input.shape[0], input.shape[1]) + (1,) * (input.dim() - 2)
    keep = (torch.rand(noise_shape, device=input.device) >= p).to(input.dtype)
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    # dropped features land on SELU's saturation value, then the affine map restores mean 0 / variance 1
    shift = (keep - 1) * (alpha * a) + alpha * a * p
    out = input * (keep * a) + shift
    return input.copy_(out, non_blocking=False) if inplace else out


# ============================================================================ padding & shapes


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left_last, right_last, left_prev, right_prev, ...)``.

    Modes: ``constant`` (negative pads crop), ``reflect``, ``replicate``, ``circular``.
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension")
    if mode == "constant":
        return _pad_constant(input, pad, 0.0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    out = input
    for i in range(len(pad) // 2):
        dim = input.dim() - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        if left == 0 and right == 0:
            continue
        size = out.shape[dim]
        idx = np.arange(-left, size + right)
        if mode == "reflect":
            if left >= size or right >= size:
                raise RuntimeError(
                    f"Argument #4: Padding size should be less than the corresponding input dimension, "
                    f"but got: padding ({left}, {right}) at dimension {dim} of input {tuple(input.shape)}"
                )
            period = 2 * (size - 1) if size > 1 else 1
            idx = np.abs(np.mod(idx, period))
            idx = np.where(idx >= size, period - idx, idx)
        elif mode == "replicate":
            idx = np.clip(idx, 0, size - 1)
        else:
            if left > size or right > size:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            idx = np.mod(idx, size)
        out = out.index_select(dim, torch.tensor(idx.astype(np.int64), device=input.device))
    return out


def _pad_constant(input: Tensor, pad: tuple[int, ...], value: float) -> Tensor:
    out = input
    for i in range(len(pad) // 2):
        dim = input.dim() - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        if left < 0:
            out = out.narrow(dim, -left, out.shape[dim] + left)
            left = 0
        if right < 0:
            out = out.narrow(dim, 0, out.shape[dim] + right)
            right = 0
        if left == 0 and right == 0:
            continue
        parts = []
        for width in (left, right):
            shape = list(out.shape)
            shape[dim] = width
            parts.append(torch.full(tuple(shape), value, dtype=out.dtype, device=out.device))
        out = torch.cat([parts[0], out, parts[1]], dim)
    return out


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """``(*)`` int64 class indices -> ``(*, num_classes)`` int64 one-hot."""
    if tensor.dtype != torch.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if tensor.is_cuda and num_classes != -1:
        # As PyTorch's CUDA path: no read of the classes; one out of range is scatter's device-side assert
        out = torch.zeros(*tensor.shape, num_classes, dtype=torch.int64, device=tensor.device)
        return out.scatter_(-1, tensor.unsqueeze(-1), 1)
    if tensor.numel() > 0:
        if int(tensor.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if num_classes == -1:
            num_classes = int(tensor.max()) + 1
        elif int(tensor.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    elif num_classes == -1:
        raise RuntimeError("Can not infer total number of classes from empty tensor.")
    classes = torch.arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).to(torch.int64)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Tensor | None = None) -> Tensor:
    """``x / max(||x||_p, eps)`` along ``dim``."""
    denom = input.norm(p, dim, keepdim=True).clamp(min=eps).expand_as(input)
    if out is None:
        return input / denom
    return torch.div(input, denom, out=out)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``Σ x1·x2 / (max(||x1||, eps) · max(||x2||, eps))`` along ``dim`` (inputs broadcast)."""
    n1 = x1.norm(2, dim, keepdim=True).clamp(min=eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dim."""
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


# ============================================================================ sliding windows (conv, pool, unfold)


def _windows(x: Tensor, kernel: tuple, dilation: tuple, stride: tuple, out: tuple) -> Tensor:
    """``(N, C, *S)`` -> ``(N, C, prod(kernel), *out)``: every kernel offset's strided view, stacked."""
    slabs = []
    for offs in itertools.product(*(range(k) for k in kernel)):
        index = [slice(None), slice(None)]
        for o, d, s, n in zip(offs, dilation, stride, out):
            start = o * d
            index.append(slice(start, start + s * (n - 1) + 1, s))
        slabs.append(x[tuple(index)])
    return torch.stack(slabs, 2)


def _conv_out(size: int, k: int, s: int, d: int) -> int:
    return (size - d * (k - 1) - 1) // s + 1


def _unbatched(input: Tensor, nd: int, name: str) -> tuple[Tensor, bool]:
    if input.dim() == nd + 1:
        return input.unsqueeze(0), True
    if input.dim() != nd + 2:
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got input of size: "
            f"{list(input.shape)}"
        )
    return input, False


def _convnd(
    input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any, dilation: Any, groups: int, nd: int
) -> Tensor:
    input, weight, bias = _amp.lower(input, weight, bias)
    name = f"conv{nd}d"
    x, squeeze = _unbatched(input, nd, name)
    ntuple = _ntuple(nd)
    stride, dilation = ntuple(stride), ntuple(dilation)
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
        else:
            raise ValueError(f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}")
    else:
        pads = [(p, p) for p in ntuple(padding)]
    n, c = x.shape[0], x.shape[1]
    out_c, c_per_group = weight.shape[0], weight.shape[1]
    if c != c_per_group * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected input{list(x.shape)} to have "
            f"{c_per_group * groups} channels, but got {c} channels instead"
        )
    if out_c % groups != 0:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0")
    if nd in (1, 2) and x.dtype.is_floating_point:
        return _fused_conv(x, weight, bias, stride, pads, dilation, groups, nd, squeeze)
    if any(p != (0, 0) for p in pads):
        flat = tuple(v for lr in reversed(pads) for v in lr)
        x = _pad_constant(x, flat, 0.0)
    spatial = tuple(x.shape[2:])
    out = tuple(_conv_out(sz, k, s, d) for sz, k, s, d in zip(spatial, kernel, stride, dilation))
    if any(o <= 0 for o in out):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, spatial))}). Kernel size: "
            f"({' x '.join(map(str, kernel))}). Kernel size can't be greater than actual input size"
        )
    kprod = math.prod(kernel)
    length = math.prod(out)
    cols = _windows(x, kernel, dilation, stride, out).reshape(n, groups, c_per_group * kprod, length)
    w = weight.reshape(groups, out_c // groups, c_per_group * kprod)
    y = torch.matmul(w, cols).reshape(n, out_c, *out)
    if bias is not None:
        y = y + bias.reshape(out_c, *([1] * nd))
    return y.squeeze(0) if squeeze else y


def _fused_conv(
    x: Tensor, weight: Tensor, bias: Tensor | None, stride: tuple, pads: list, dilation: tuple, groups: int, nd: int,
    squeeze: bool,
) -> Tensor:
    """The Rust im2col + GEMM kernel (1-D runs as 2-D with height 1); asymmetric pads are applied first."""
    if any(a != b for a, b in pads):
        x = _pad_constant(x, tuple(v for lr in reversed(pads) for v in lr), 0.0)
        pads = [(0, 0)] * nd
    if nd == 1:
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
        stride, dilation, pads = (1, *stride), (1, *dilation), [(0, 0), *pads]
    y = torch._C._nn_conv2d(x, weight, bias, tuple(stride), tuple(p for p, _ in pads), tuple(dilation), groups)
    if nd == 1:
        y = y.squeeze(2)
    return y.squeeze(0) if squeeze else y


def conv1d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
    dilation: Any = 1, groups: int = 1,
) -> Tensor:
    """1-D convolution: ``(N, C_in, L)``, weight ``(C_out, C_in / groups, kL)`` -> ``(N, C_out, L_out)``."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
    dilation: Any = 1, groups: int = 1,
) -> Tensor:
    """2-D convolution: ``(N, C_in, H, W)``, weight ``(C_out, C_in / groups, kH, kW)`` -> ``(N, C_out, H', W')``."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
    dilation: Any = 1, groups: int = 1,
) -> Tensor:
    """3-D convolution: ``(N, C_in, D, H, W)``, weight ``(C_out, C_in / groups, kD, kH, kW)``."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 3)


def _dilate(x: Tensor, dim: int, step: int) -> Tensor:
    """Insert ``step - 1`` zeros between consecutive elements along ``dim``."""
    if step == 1 or x.shape[dim] == 0:
        return x
    size = x.shape[dim]
    xs = x.unsqueeze(dim + 1)
    zshape = list(xs.shape)
    zshape[dim + 1] = step - 1
    zeros = torch.zeros(tuple(zshape), dtype=x.dtype, device=x.device)
    merged = torch.cat([xs, zeros], dim + 1)
    shape = list(x.shape)
    shape[dim] = size * step
    return merged.reshape(shape).narrow(dim, 0, (size - 1) * step + 1)


def _col2im(
    cols: Tensor, output_size: tuple, kernel: tuple, dilation: tuple, padding: tuple, stride: tuple
) -> Tensor:
    """Sum the blocks of ``(N, C * prod(kernel), L)`` into ``(N, C, *output_size)``."""
    nd = len(kernel)
    n = cols.shape[0]
    kprod = math.prod(kernel)
    if cols.shape[1] % kprod != 0:
        raise RuntimeError(
            f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
            f"input.size(1)={cols.shape[1]} and kernel_size={kernel}"
        )
    c = cols.shape[1] // kprod
    padded = tuple(o + 2 * p for o, p in zip(output_size, padding))
    blocks = tuple(_conv_out(sz, k, s, d) for sz, k, s, d in zip(padded, kernel, stride, dilation))
    if math.prod(blocks) != cols.shape[2]:
        raise RuntimeError(
            f"Given output_size={tuple(output_size)}, kernel_size={kernel}, dilation={dilation}, "
            f"padding={padding}, stride={stride}, expected size of input's dimension 2 to match the calculated "
            f"number of sliding blocks {' * '.join(map(str, blocks))} = {math.prod(blocks)}, but got "
            f"input.size(2)={cols.shape[2]}."
        )
    cols = cols.reshape(n, c, kprod, *blocks)
    out = None
    for k_index, offs in enumerate(itertools.product(*(range(k) for k in kernel))):
        slab = cols.select(2, k_index)
        flat_pad: list[int] = []
        for i in range(nd):
            slab = _dilate(slab, 2 + i, stride[i])
            left = offs[i] * dilation[i]
            right = padded[i] - left - slab.shape[2 + i]
            flat_pad = [left, right] + flat_pad
        placed = _pad_constant(slab, tuple(flat_pad), 0.0)
        out = placed if out is None else out + placed
    for i in range(nd):
        if padding[i]:
            out = out.narrow(2 + i, padding[i], output_size[i])
    return out


def _conv_transposend(
    input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any, output_padding: Any,
    groups: int, dilation: Any, nd: int,
) -> Tensor:
    input, weight, bias = _amp.lower(input, weight, bias)
    name = f"conv_transpose{nd}d"
    x, squeeze = _unbatched(input, nd, name)
    ntuple = _ntuple(nd)
    stride, padding, dilation = ntuple(stride), ntuple(padding), ntuple(dilation)
    output_padding = ntuple(output_padding)
    if isinstance(padding[0], str):
        raise ValueError(f"Using padding='{padding[0]}' is not supported for {name}")  # noqa: TRY004 - PyTorch's exception type
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise RuntimeError("output padding must be smaller than either stride or dilation")
    n, c_in = x.shape[0], x.shape[1]
    if weight.shape[0] != c_in:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected input{list(x.shape)} to have "
            f"{weight.shape[0]} channels, but got {c_in} channels instead"
        )
    c_out_g = weight.shape[1]
    kernel = tuple(weight.shape[2:])
    kprod = math.prod(kernel)
    spatial = tuple(x.shape[2:])
    out_size = tuple(
        (i - 1) * s - 2 * p + d * (k - 1) + op + 1
        for i, s, p, d, k, op in zip(spatial, stride, padding, dilation, kernel, output_padding)
    )
    length = math.prod(spatial)
    xg = x.reshape(n, groups, c_in // groups, length)
    w = weight.reshape(groups, c_in // groups, c_out_g * kprod).transpose(1, 2)
    cols = torch.matmul(w, xg).reshape(n, groups * c_out_g * kprod, length)
    y = _col2im(cols, out_size, kernel, dilation, padding, stride)
    if bias is not None:
        y = y + bias.reshape(groups * c_out_g, *([1] * nd))
    return y.squeeze(0) if squeeze else y


def conv_transpose1d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
    output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
) -> Tensor:
    """Transposed 1-D convolution: weight ``(C_in, C_out / groups, kL)``."""
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 1)


def conv_transpose2d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
    output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
) -> Tensor:
    """Transposed 2-D convolution: weight ``(C_in, C_out / groups, kH, kW)``."""
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 2)


def conv_transpose3d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
    output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
) -> Tensor:
    """Transposed 3-D convolution: ``(N, C_in, D, H, W)``, weight ``(C_in, C_out / groups, kD, kH, kW)``."""
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 3)


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """im2col: ``(N, C, H, W)`` -> ``(N, C * kH * kW, L)`` sliding blocks."""
    x, squeeze = _unbatched(input, 2, "unfold")
    kernel, dilation, padding, stride = _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride)
    if any(padding):
        x = _pad_constant(x, (padding[1], padding[1], padding[0], padding[0]), 0.0)
    spatial = tuple(x.shape[2:])
    out = tuple(_conv_out(sz, k, s, d) for sz, k, s, d in zip(spatial, kernel, stride, dilation))
    if any(o <= 0 for o in out):
        raise RuntimeError(
            f"Given input with spatial size {tuple(input.shape[-2:])}, kernel_size={kernel}, dilation={dilation}, "
            f"padding={padding}, calculated shape of the array of sliding blocks as {out}, but its components "
            "must be at least one."
        )
    n, c = x.shape[0], x.shape[1]
    cols = _windows(x, kernel, dilation, stride, out).reshape(n, c * math.prod(kernel), math.prod(out))
    return cols.squeeze(0) if squeeze else cols


def fold(
    input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Tensor:
    """col2im: ``(N, C * kH * kW, L)`` -> ``(N, C, *output_size)``, summing overlapping values."""
    if input.dim() == 2:
        return fold(input.unsqueeze(0), output_size, kernel_size, dilation, padding, stride).squeeze(0)
    if input.dim() != 3:
        raise RuntimeError(
            f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
            f"dimensions for input, but got: {list(input.shape)}"
        )
    return _col2im(input, _pair(output_size), _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride))


# ============================================================================ pooling


def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_args(kernel_size: Any, stride: Any, padding: Any, nd: int) -> tuple[tuple, tuple, tuple]:
    ntuple = _ntuple(nd)
    kernel = ntuple(kernel_size)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else ntuple(stride)
    return kernel, stride, ntuple(padding)


def _max_poolnd(
    input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
    return_indices: bool, nd: int,
) -> Any:
    x, squeeze = _unbatched(input, nd, f"max_pool{nd}d")
    kernel, stride, padding = _pool_args(kernel_size, stride, padding, nd)
    dilation = _ntuple(nd)(dilation)
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} and "
                f"dilation={d}"
            )
    if nd in (1, 2) and x.dtype.is_floating_point:
        x2 = x.unsqueeze(2) if nd == 1 else x
        lift = (lambda t: (1, *t)) if nd == 1 else (lambda t: t)
        values, indices = torch._C._nn_max_pool2d(x2, lift(kernel), lift(stride), (0, *padding) if nd == 1 else padding,
                                                  lift(dilation), ceil_mode, return_indices)
        if not return_indices:
            values = values.squeeze(2) if nd == 1 else values
            return values.squeeze(0) if squeeze else values
        if nd == 1:
            values, indices = values.squeeze(2), indices.squeeze(2)
        if squeeze:
            values, indices = values.squeeze(0), indices.squeeze(0)
        return values, indices
    spatial = tuple(x.shape[2:])
    out = tuple(
        _pool_out(sz, k, s, p, d, ceil_mode) for sz, k, s, p, d in zip(spatial, kernel, stride, padding, dilation)
    )
    if any(o <= 0 for o in out):
        raise RuntimeError(f"Given input size: {tuple(x.shape[1:])}. Calculated output size: {out}. Output size is too small")
    flat_pad: list[int] = []
    for sz, k, s, p, d, o in zip(spatial, kernel, stride, padding, dilation, out):
        right = max(0, (o - 1) * s + d * (k - 1) + 1 - sz - p)
        flat_pad = [p, right] + flat_pad
    if any(flat_pad):
        x = _pad_constant(x, tuple(flat_pad), -math.inf)
    values, arg = _windows(x, kernel, dilation, stride, out).max(2)
    if squeeze:
        values = values.squeeze(0)
    if not return_indices:
        return values
    # flat index into the unpadded input for every (kernel offset, output position)
    table = np.zeros((math.prod(kernel),) + out, dtype=np.int64)
    for k_index, offs in enumerate(itertools.product(*(range(k) for k in kernel))):
        grids = np.meshgrid(*(np.arange(o) * s - p + off * d for o, s, p, off, d in
                              zip(out, stride, padding, offs, dilation)), indexing="ij")
        flat = np.zeros(out, dtype=np.int64)
        for g, sz in zip(grids, spatial):
            flat = flat * sz + g
        table[k_index] = flat
    table_t = torch.tensor(table, device=x.device).expand(x.shape[0], x.shape[1], *table.shape)
    indices = table_t.gather(2, arg.unsqueeze(2)).squeeze(2)
    if squeeze:
        indices = indices.squeeze(0)
    return values, indices


def max_pool1d(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
    ceil_mode: bool = False, return_indices: bool = False,
) -> Any:
    """Max over sliding windows of ``(N, C, L)``; ``return_indices`` also gives flat argmax positions."""
    return _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1)


def max_pool2d(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
    ceil_mode: bool = False, return_indices: bool = False,
) -> Any:
    """Max over sliding windows of ``(N, C, H, W)``; indices are flat over ``H * W``."""
    return _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2)


def max_pool3d(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
    ceil_mode: bool = False, return_indices: bool = False,
) -> Any:
    """Max over sliding windows of ``(N, C, D, H, W)``."""
    return _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 3)


def _avg_divisor(size: int, k: int, s: int, p: int, out: int, count_include_pad: bool) -> np.ndarray:
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    pool = end - start
    start_c, end_c = np.maximum(start, 0), np.minimum(end, size)
    return pool if count_include_pad else end_c - start_c


def _avg_poolnd(
    input: Tensor, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool, count_include_pad: bool,
    divisor_override: int | None, nd: int,
) -> Tensor:
    x, squeeze = _unbatched(input, nd, f"avg_pool{nd}d")
    kernel, stride, padding = _pool_args(kernel_size, stride, padding, nd)
    for k, p in zip(kernel, padding):
        if p > k // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} "
                               "and dilation=1")
    if nd in (1, 2) and x.dtype.is_floating_point:
        x2 = x.unsqueeze(2) if nd == 1 else x
        lift = (lambda t: (1, *t)) if nd == 1 else (lambda t: t)
        y = torch._C._nn_avg_pool2d(x2, lift(kernel), lift(stride), (0, *padding) if nd == 1 else padding, ceil_mode,
                                    count_include_pad, divisor_override or None)
        y = y.squeeze(2) if nd == 1 else y
        return y.squeeze(0) if squeeze else y
    spatial = tuple(x.shape[2:])
    out = tuple(_pool_out(sz, k, s, p, 1, ceil_mode) for sz, k, s, p in zip(spatial, kernel, stride, padding))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"Given input size: {tuple(x.shape[1:])}. Calculated output size: {out}. Output size is too small")
    flat_pad: list[int] = []
    for sz, k, s, p, o in zip(spatial, kernel, stride, padding, out):
        flat_pad = [p, max(0, (o - 1) * s + k - sz - p)] + flat_pad
    if any(flat_pad):
        x = _pad_constant(x, tuple(flat_pad), 0.0)
    sums = _windows(x, kernel, (1,) * nd, stride, out).sum(2)
    if divisor_override:
        y = sums / divisor_override
    else:
        div = np.ones((), dtype=np.float64)
        for sz, k, s, p, o in zip(spatial, kernel, stride, padding, out):
            div = np.multiply.outer(div, _avg_divisor(sz, k, s, p, o, count_include_pad))
        y = sums / torch.tensor(div, dtype=sums.dtype, device=sums.device)
    return y.squeeze(0) if squeeze else y


def avg_pool1d(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over sliding windows of ``(N, C, L)``."""
    return _avg_poolnd(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1)


def avg_pool2d(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: int | None = None,
) -> Tensor:
    """Mean over sliding windows of ``(N, C, H, W)``."""
    return _avg_poolnd(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2)


def avg_pool3d(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
    count_include_pad: bool = True, divisor_override: int | None = None,
) -> Tensor:
    """Mean over sliding windows of ``(N, C, D, H, W)``."""
    return _avg_poolnd(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 3)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> Tensor:
    """``(Σ x^p)^(1/p)`` over sliding windows of ``(N, C, H, W)``."""
    kw, kh = _pair(kernel_size)
    out = avg_pool2d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (torch.sign(out) * relu(torch.abs(out))).mul(kw * kh).pow(1.0 / norm_type)


def _adaptive_bounds(size: int, out: int) -> list[tuple[int, int]]:
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def _adaptive_avg_poolnd(input: Tensor, output_size: Any, nd: int) -> Tensor:
    x, squeeze = _unbatched(input, nd, f"adaptive_avg_pool{nd}d")
    out = _ntuple(nd)(output_size)
    for i, o in enumerate(out):
        dim = 2 + i
        size = x.shape[dim]
        o = size if o is None else o
        if o == size:
            continue
        if size % o == 0:
            shape = list(x.shape)
            shape[dim: dim + 1] = [o, size // o]
            x = x.reshape(shape).mean(dim + 1)
        else:
            x = torch.stack([x.narrow(dim, s, e - s).mean(dim) for s, e in _adaptive_bounds(size, o)], dim)
    return x.squeeze(0) if squeeze else x


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average ``(N, C, L)`` over ``output_size`` adaptive windows."""
    return _adaptive_avg_poolnd(input, output_size, 1)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average ``(N, C, H, W)`` over adaptive windows; ``output_size`` entries may be ``None`` (keep)."""
    return _adaptive_avg_poolnd(input, output_size, 2)


def _adaptive_max_poolnd(input: Tensor, output_size: Any, return_indices: bool, nd: int) -> Any:
    x, squeeze = _unbatched(input, nd, f"adaptive_max_pool{nd}d")
    spatial = tuple(x.shape[2:])
    out = tuple(sz if o is None else o for o, sz in zip(_ntuple(nd)(output_size), spatial))
    n, c = x.shape[0], x.shape[1]
    values, indices = [], []
    for pos in itertools.product(*(range(o) for o in out)):
        bounds = [_adaptive_bounds(sz, o)[i] for sz, o, i in zip(spatial, out, pos)]
        window = x
        for i, (s, e) in enumerate(bounds):
            window = window.narrow(2 + i, s, e - s)
        v, a = window.reshape(n, c, -1).max(-1)
        values.append(v)
        if return_indices:
            widths = [e - s for s, e in bounds]
            flat = torch.zeros_like(a)
            rem = a
            for i in reversed(range(nd)):
                coord = rem % widths[i] + bounds[i][0]
                rem = torch.div(rem, widths[i], rounding_mode="floor")
                flat = flat + coord * math.prod(spatial[i + 1:])
            indices.append(flat)
    val = torch.stack(values, -1).reshape(n, c, *out)
    if squeeze:
        val = val.squeeze(0)
    if not return_indices:
        return val
    idx = torch.stack(indices, -1).reshape(n, c, *out)
    return val, idx.squeeze(0) if squeeze else idx


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max of ``(N, C, L)`` over adaptive windows."""
    return _adaptive_max_poolnd(input, output_size, return_indices, 1)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max of ``(N, C, H, W)`` over adaptive windows."""
    return _adaptive_max_poolnd(input, output_size, return_indices, 2)


from ferrotorch.nn._fractional_pool import (  # noqa: F401  (re-export; that module needs no F)
    fractional_max_pool2d,
    fractional_max_pool2d_with_indices,
    fractional_max_pool3d,
    fractional_max_pool3d_with_indices,
)
from ferrotorch.nn._grid_sample import (  # noqa: F401  (re-export; that module needs no F)
    GRID_SAMPLE_INTERPOLATION_MODES,
    GRID_SAMPLE_PADDING_MODES,
    affine_grid,
    grid_sample,
)


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max of ``(N, C, D, H, W)`` over adaptive windows."""
    return _adaptive_max_poolnd(input, output_size, return_indices, 3)


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """Average ``(N, C, D, H, W)`` over adaptive windows; ``output_size`` entries may be ``None`` (keep)."""
    return _adaptive_avg_poolnd(input, output_size, 3)


def max_pool1d_with_indices(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
    ceil_mode: bool = False, return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    """``max_pool1d`` that always returns ``(values, indices)``."""
    return _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, True, 1)


def max_pool2d_with_indices(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
    ceil_mode: bool = False, return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    """``max_pool2d`` that always returns ``(values, indices)``."""
    return _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, True, 2)


def max_pool3d_with_indices(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
    ceil_mode: bool = False, return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    """``max_pool3d`` that always returns ``(values, indices)``."""
    return _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, True, 3)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """``adaptive_max_pool1d`` that always returns ``(values, indices)``."""
    return _adaptive_max_poolnd(input, output_size, True, 1)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """``adaptive_max_pool2d`` that always returns ``(values, indices)``."""
    return _adaptive_max_poolnd(input, output_size, True, 2)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """``adaptive_max_pool3d`` that always returns ``(values, indices)``."""
    return _adaptive_max_poolnd(input, output_size, True, 3)


def _unpool_output_size(
    input: Tensor, kernel: tuple, stride: tuple, padding: tuple, output_size: Any,
) -> list[int]:
    nd = len(kernel)
    default = [(input.shape[-nd + d] - 1) * stride[d] + kernel[d] - 2 * padding[d] for d in range(nd)]
    if output_size is None:
        return default
    output_size = list(output_size)
    if len(output_size) == nd + 2:
        output_size = output_size[2:]
    if len(output_size) != nd:
        raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it has a "
                         f"length of '{len(output_size)}'")
    for d in range(nd):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < output_size[d] < hi:
            raise ValueError(f'invalid output_size "{tuple(output_size)}" (dim {d} must be between {lo} and {hi})')
    return [int(o) for o in output_size]


def _max_unpoolnd(
    input: Tensor, indices: Tensor, kernel_size: Any, stride: Any, padding: Any, output_size: Any, nd: int,
) -> Tensor:
    x, squeeze = _unbatched(input, nd, f"max_unpool{nd}d")
    kernel = _ntuple(nd)(kernel_size)
    stride = _ntuple(nd)(stride) if stride is not None else kernel
    padding = _ntuple(nd)(padding)
    out = _unpool_output_size(x, kernel, stride, padding, output_size)
    idx = indices.unsqueeze(0) if squeeze else indices
    if tuple(idx.shape) != tuple(x.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(x.shape)}) "
                           f"but got indices tensor with shape: {list(idx.shape)}")
    n, c = x.shape[0], x.shape[1]
    idx = idx.reshape(n, c, -1)
    volume = math.prod(out)
    if idx.numel() and (int(idx.max()) >= volume or int(idx.min()) < 0):
        bad = int(idx.max()) if int(idx.max()) >= volume else int(idx.min())
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size {'x'.join(map(str, out))})")
    # scatter is differentiable w.r.t. the scattered values, so gradients reach ``input``
    flat = torch.zeros(n, c, volume, dtype=x.dtype, device=x.device).scatter(2, idx, x.reshape(n, c, -1))
    y = flat.reshape(n, c, *out)
    return y.squeeze(0) if squeeze else y


def max_unpool1d(
    input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, output_size: Any = None,
) -> Tensor:
    """Partial inverse of ``max_pool1d``: put ``input`` at ``indices`` of a zero ``(N, C, L_out)`` tensor."""
    return _max_unpoolnd(input, indices, kernel_size, stride, padding, output_size, 1)


def max_unpool2d(
    input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, output_size: Any = None,
) -> Tensor:
    """Partial inverse of ``max_pool2d``; ``indices`` are flat over ``H_out * W_out``."""
    return _max_unpoolnd(input, indices, kernel_size, stride, padding, output_size, 2)


def max_unpool3d(
    input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, output_size: Any = None,
) -> Tensor:
    """Partial inverse of ``max_pool3d``; ``indices`` are flat over ``D_out * H_out * W_out``."""
    return _max_unpoolnd(input, indices, kernel_size, stride, padding, output_size, 3)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> Tensor:
    """``(Σ x^p)^(1/p)`` over sliding windows of ``(N, C, L)``."""
    k = kernel_size[0] if isinstance(kernel_size, (tuple, list)) else kernel_size
    out = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (torch.sign(out) * relu(torch.abs(out))).mul(k).pow(1.0 / norm_type)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> Tensor:
    """``(Σ x^p)^(1/p)`` over sliding windows of ``(N, C, D, H, W)``."""
    kd, kh, kw = _ntuple(3)(kernel_size)
    out = avg_pool3d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (torch.sign(out) * relu(torch.abs(out))).mul(kd * kh * kw).pow(1.0 / norm_type)


# ============================================================================ normalization


def _channel_shape(input: Tensor) -> tuple[int, ...]:
    return (input.shape[1],) + (1,) * (input.dim() - 2)


def _batch_norm_fusable(input: Tensor, *params: Any) -> bool:
    """Whether training-mode batch_norm can run as the one fused (host) node: float input, ``[C]`` parameters
    and statistics of its dtype, a numeric momentum. On a GPU the composite runs instead, op by op as
    kernels."""
    *tensors, momentum = params
    c = input.shape[1]
    return not input.is_cuda and input.is_floating_point() and isinstance(momentum, (int, float)) and all(
        t is None or (t.dim() == 1 and t.shape[0] == c and t.dtype == input.dtype) for t in tensors
    )


def batch_norm(
    input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
    bias: Tensor | None = None, training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel (dim 1) by batch statistics (training) or running statistics (eval).

    In training the running statistics, when given, are updated in place with ``momentum``
    (the variance with Bessel's correction).
    """
    if input.dim() < 2:
        raise ValueError(f"expected 2D or more input (got {input.dim()}D input)")
    shape = _channel_shape(input)
    if training:
        reduce_dims = [0] + list(range(2, input.dim()))
        count = input.numel() // input.shape[1]
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {list(input.shape)}")
        if _batch_norm_fusable(input, running_mean, running_var, weight, bias, momentum):
            return torch._C._nn_batch_norm_train(input, weight, bias, running_mean, running_var, momentum, eps)
        mean = input.mean(reduce_dims)
        centered = input - mean.reshape(shape)
        var = (centered * centered).mean(reduce_dims)
        if running_mean is not None or running_var is not None:
            with torch.no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
                if running_var is not None:
                    running_var.mul_(1 - momentum).add_(var.detach() * (momentum * count / (count - 1)))
        out = centered / torch.sqrt(var.reshape(shape) + eps)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        out = (input - running_mean.reshape(shape)) / torch.sqrt(running_var.reshape(shape) + eps)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def instance_norm(
    input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
    weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
    momentum: float = 0.1, eps: float = 1e-5,
) -> Tensor:
    """Normalise each (sample, channel) plane over its spatial dims."""
    n, c = input.shape[0], input.shape[1]
    reshaped = input.reshape(1, n * c, *input.shape[2:])
    rm = running_mean.repeat(n) if running_mean is not None else None
    rv = running_var.repeat(n) if running_var is not None else None
    out = batch_norm(reshaped, rm, rv, None, None, use_input_stats, momentum, eps).reshape(input.shape)
    if running_mean is not None and use_input_stats:
        with torch.no_grad():
            running_mean.copy_(rm.reshape(n, c).mean(0), non_blocking=False)
            running_var.copy_(rv.reshape(n, c).mean(0), non_blocking=False)
    shape = _channel_shape(input)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def layer_norm(
    input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None, bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims, then scale by ``weight`` and shift by ``bias``."""
    input, weight, bias = _amp.to_fp32(input, weight, bias)
    normalized_shape = tuple(normalized_shape) if isinstance(normalized_shape, (list, tuple)) else (normalized_shape,)
    k = len(normalized_shape)
    if tuple(input.shape[input.dim() - k:]) != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(map(str, normalized_shape))}], but got input of size{list(input.shape)}"
        )
    return torch._C._nn_layer_norm(input, k, weight, bias, eps)


def rms_norm(
    input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None, eps: float | None = None
) -> Tensor:
    """``x / sqrt(mean(x²) + eps) * weight`` over the trailing ``normalized_shape`` dims."""
    normalized_shape = tuple(normalized_shape) if isinstance(normalized_shape, (list, tuple)) else (normalized_shape,)
    if eps is None:
        eps = torch.finfo(input.dtype).eps
    dims = list(range(input.dim() - len(normalized_shape), input.dim()))
    out = input / torch.sqrt((input * input).mean(dims, keepdim=True) + eps)
    return out * weight if weight is not None else out


def group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Normalise ``(N, C, *)`` over groups of ``C / num_groups`` channels and the spatial dims."""
    input, weight, bias = _amp.to_fp32(input, weight, bias)
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups != 0:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input of shape "
            f"{list(input.shape)} and num_groups={num_groups}"
        )
    x = input.reshape(n, num_groups, -1)
    mean = x.mean(-1, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(-1, keepdim=True)
    out = (centered / torch.sqrt(var + eps)).reshape(input.shape)
    shape = _channel_shape(input)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Normalise each channel by the squared activity of ``size`` neighbouring channels."""
    div = (input * input).unsqueeze(1)
    if input.dim() == 3:
        div = pad(div, (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = input.shape
        div = div.reshape(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1)
        div = div.reshape(sizes)
    div = (div * alpha + k).pow(beta)
    return input / div


# ============================================================================ embeddings


def _normalize_padding_idx(padding_idx: int | None, num_embeddings: int) -> int | None:
    if padding_idx is None:
        return None
    if padding_idx > 0:
        if padding_idx >= num_embeddings:
            raise AssertionError("Padding_idx must be within num_embeddings")
    elif padding_idx < 0:
        if padding_idx < -num_embeddings:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = num_embeddings + padding_idx
    return padding_idx


def _embedding_renorm_(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    rows = np.unique(input.detach().cpu().numpy().reshape(-1))
    if rows.size == 0:
        return
    with torch.no_grad():
        idx = torch.tensor(rows.astype(np.int64), device=weight.device)
        selected = weight.index_select(0, idx)
        norms = selected.norm(norm_type, 1, keepdim=True)
        scale = torch.where(norms > max_norm, max_norm / (norms + 1e-7), torch.ones_like(norms))
        weight[idx] = selected * scale


def _check_indices(input: Tensor, num_embeddings: int, check_range: bool = True) -> None:
    if input.dtype not in (torch.int64, torch.int32):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; "
            f"but got {input.dtype} instead (while checking arguments for embedding)"
        )
    if check_range and input.numel() and (int(input.max()) >= num_embeddings or int(input.min()) < 0):
        raise IndexError("index out of range in self")


def embedding(
    input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
    norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
) -> Tensor:
    """Look up rows of ``weight (num_embeddings, dim)`` for integer ``input (*)`` -> ``(*, dim)``.

    Rows at ``padding_idx`` get no gradient; ``max_norm`` renormalises looked-up rows in place.
    """
    padding_idx = _normalize_padding_idx(padding_idx, weight.shape[0])
    if weight.dim() == 2 and weight.dtype.is_floating_point:
        # one fused node: row gather forward, dense per-row scatter-add backward (the range check is there too)
        _check_indices(input, weight.shape[0], check_range=False)
        if max_norm is not None:
            _embedding_renorm_(weight, input, max_norm, norm_type)
        return torch._C._nn_embedding(weight, input, padding_idx, scale_grad_by_freq)
    _check_indices(input, weight.shape[0])
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    flat = input.reshape(-1)
    out = weight.index_select(0, flat.to(torch.int64))
    if padding_idx is not None or scale_grad_by_freq:
        scale = np.ones(flat.shape[0], dtype=np.float64)
        idx_np = flat.detach().cpu().numpy()
        if scale_grad_by_freq:
            _, inverse, counts = np.unique(idx_np, return_inverse=True, return_counts=True)
            scale = 1.0 / counts[inverse]
        if padding_idx is not None:
            scale = np.where(idx_np == padding_idx, 0.0, scale)
        s = torch.tensor(scale, dtype=out.dtype, device=out.device).unsqueeze(1)
        # the value stays ``out``; the gradient reaching ``weight`` is scaled by ``s``
        out = out * s + out.detach() * (1 - s)
    return out.reshape(*input.shape, weight.shape[1])


def embedding_bag(
    input: Tensor, weight: Tensor, offsets: Tensor | None = None, max_norm: float | None = None,
    norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
    per_sample_weights: Tensor | None = None, include_last_offset: bool = False, padding_idx: int | None = None,
) -> Tensor:
    """Sum/mean/max of embedding bags: 2-D ``input (B, n)`` or 1-D ``input`` with ``offsets`` -> ``(B, dim)``."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            f"embedding_bag: per_sample_weights was not None. per_sample_weights is only supported for "
            f"mode='sum' (got mode='{mode}'). Please open a feature request on GitHub."
        )
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(
                f"if input is 2D, then offsets has to be None, as input is treated is a mini-batch of fixed "
                f"length sequences. However, found offsets of type {type(offsets)}"
            )
        bags = input.shape[0]
        length = input.shape[1]
        bounds = [(b * length, (b + 1) * length) for b in range(bags)]
        flat = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        offs = [int(o) for o in offsets.tolist()]
        flat = input
        if include_last_offset:
            bounds = list(itertools.pairwise(offs))
        else:
            bounds = list(zip(offs, offs[1:] + [input.shape[0]]))
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    padding_idx = _normalize_padding_idx(padding_idx, weight.shape[0])
    rows = embedding(flat, weight, None, max_norm, norm_type, scale_grad_by_freq)
    keep = None
    if padding_idx is not None:
        keep = (flat != padding_idx).to(rows.dtype).unsqueeze(1)
        rows = rows * keep
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.unsqueeze(1)
    outs = []
    zero = torch.zeros(weight.shape[1], dtype=weight.dtype, device=weight.device)
    for start, end in bounds:
        bag = rows[start:end]
        if mode == "sum":
            outs.append(bag.sum(0) if end > start else zero)
        elif mode == "mean":
            count = float(keep[start:end].sum()) if keep is not None else float(end - start)
            outs.append(bag.sum(0) / count if count > 0 else zero)
        else:
            if keep is not None:
                mask = keep[start:end].reshape(-1) > 0
                bag = bag[mask]
            outs.append(bag.max(0)[0] if bag.shape[0] > 0 else zero)
    return torch.stack(outs, 0) if outs else torch.zeros(0, weight.shape[1], dtype=weight.dtype, device=weight.device)


# ============================================================================ resampling


def _interp_src(out: int, size: int, scale: float | None, align_corners: bool | None, mode: str) -> np.ndarray:
    dst = np.arange(out, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        ratio = (1.0 / scale) if scale else size / out
        src = np.floor((dst + 0.5) * ratio) if mode == "nearest-exact" else np.floor(dst * ratio)
        return np.minimum(src, size - 1).astype(np.int64)
    if align_corners:
        ratio = (size - 1) / (out - 1) if out > 1 else 0.0
        return dst * ratio
    ratio = (1.0 / scale) if scale else size / out
    return np.maximum((dst + 0.5) * ratio - 0.5, 0.0)


@functools.lru_cache(maxsize=64)
def _interp_tables(out: int, size: int, scale: float | None, align_corners: bool | None, mode: str,
                   device: str, dtype: torch.dtype) -> tuple[Tensor, ...]:
    """The source indices (and, for the linear modes, weights of shape ``(out,)``) of one resized dim,
    made once per size and device: a training loop's interpolate uploads nothing after the first step."""
    src = _interp_src(out, size, scale, align_corners, mode)
    if mode in ("nearest", "nearest-exact"):
        return (torch.tensor(src, device=device),)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    return (torch.tensor(i0, device=device), torch.tensor(i1, device=device),
            torch.tensor(src - i0, dtype=dtype, device=device))


def interpolate(
    input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
    align_corners: bool | None = None, recompute_scale_factor: bool | None = None, antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims of ``(N, C, *S)``: modes ``nearest``, ``nearest-exact``, ``linear``,
    ``bilinear``, ``trilinear``, ``area``."""
    nd = input.dim() - 2
    if nd < 1:
        raise ValueError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D)")
    if mode in ("nearest", "area", "nearest-exact") and align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear"
        )
    if (size is None) == (scale_factor is None):
        raise ValueError("either size or scale_factor should be defined" if size is None
                         else "only one of size or scale_factor should be defined")
    spatial = tuple(input.shape[2:])
    if size is not None:
        out = tuple(int(o) for o in _ntuple(nd)(size))
        if len(out) != nd:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got input with spatial "
                f"dimensions of {list(spatial)} and output size of {list(out)}. Please provide input tensor in "
                "(N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format."
            )
        scales: tuple = (None,) * nd
    else:
        factors = tuple(float(f) for f in _ntuple(nd)(scale_factor))
        out = tuple(math.floor(sz * f) for sz, f in zip(spatial, factors))
        scales = (None,) * nd if recompute_scale_factor else factors
    if mode == "area":
        return _adaptive_avg_poolnd(input, out, nd)
    linear_modes = {"linear": 1, "bilinear": 2, "trilinear": 3}
    if mode in linear_modes:
        if linear_modes[mode] != nd:
            raise NotImplementedError(
                f"Got {input.dim()}D input, but {mode} mode needs {linear_modes[mode] + 2}D input"
            )
        x = input
        for i in range(nd):
            dim = 2 + i
            i0, i1, lam = _interp_tables(out[i], spatial[i], scales[i], bool(align_corners), mode, str(x.device),
                                         x.dtype)
            lam_shape = [1] * x.dim()
            lam_shape[dim] = out[i]
            x0, x1 = x.index_select(dim, i0), x.index_select(dim, i1)
            x = x0 + (x1 - x0) * lam.view(lam_shape)
        return x
    if mode in ("nearest", "nearest-exact"):
        x = input
        for i in range(nd):
            (src,) = _interp_tables(out[i], spatial[i], scales[i], None, mode, str(x.device), x.dtype)
            x = x.index_select(2 + i, src)
        return x
    raise NotImplementedError(
        f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for the modes: nearest | "
        f"linear | bilinear | trilinear | area | nearest-exact (got {mode})"
    )


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of :func:`interpolate`."""
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Deprecated alias of ``interpolate(..., mode='nearest')``."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Deprecated alias of ``interpolate(..., mode='bilinear', align_corners=True)``."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """``(N, C, *)`` -> ``(N, C, *)`` with channels regrouped as ``(g, C/g) -> (C/g, g)``."""
    if input.dim() <= 2:
        raise RuntimeError(
            f"channel_shuffle expects input with > 2 dims, but got input with sizes {list(input.shape)}"
        )
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    n, c, *rest = input.shape
    if c % groups != 0:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    x = input.reshape(n, groups, c // groups, *rest).transpose(1, 2)
    return x.reshape(n, c, *rest)


def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """``channel_shuffle`` under ATen's native name."""
    return channel_shuffle(input, groups)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """``p``-norm distances between the rows of ``(N, M)``: the upper triangle as ``(N (N - 1) / 2,)``."""
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    i, j = np.triu_indices(input.shape[0], 1)
    idx_i = torch.tensor(i.astype(np.int64), device=input.device)
    idx_j = torch.tensor(j.astype(np.int64), device=input.device)
    diff = input.index_select(0, idx_i) - input.index_select(0, idx_j)
    return torch.linalg.vector_norm(diff, p, dim=-1)


def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1) -> Tensor:
    """Sample from Gumbel-softmax ``softmax((logits + g) / tau)``; ``hard`` returns the one-hot argmax whose
    gradient is the soft sample's (straight-through)."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    # -log(Exp(1)) is Gumbel(0, 1)
    gumbels = -torch.empty_like(logits).exponential_().log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = torch.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``(*, C r², H, W)`` -> ``(*, C, H r, W r)``."""
    r = upscale_factor
    *batch, c, h, w = input.shape
    x = input.reshape(*batch, c // (r * r), r, r, h, w)
    nb = len(batch)
    x = x.permute(*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)
    return x.reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``(*, C, H r, W r)`` -> ``(*, C r², H, W)``."""
    r = downscale_factor
    *batch, c, h, w = input.shape
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    nb = len(batch)
    x = x.permute(*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)
    return x.reshape(*batch, c * r * r, h // r, w // r)


# ============================================================================ attention


def scaled_dot_product_attention(
    query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None, dropout_p: float = 0.0,
    is_causal: bool = False, scale: float | None = None, enable_gqa: bool = False,
) -> Tensor:
    """``softmax(Q Kᵀ · scale + mask) V``; ``(*, L, E)``, ``(*, S, E)``, ``(*, S, Ev)`` -> ``(*, L, Ev)``.

    A boolean ``attn_mask`` marks positions that take part; a float one is added to the scores.
    """
    length, src = query.shape[-2], key.shape[-2]
    scale_factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, -3)
        value = value.repeat_interleave(rep, -3)
    scores = torch.matmul(query, key.transpose(-2, -1)) * scale_factor
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
        causal = torch.ones(length, src, dtype=torch.bool, device=query.device).tril()
        scores = scores.masked_fill(~causal, -math.inf)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, -math.inf)
        else:
            scores = scores + attn_mask
    weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return torch.matmul(weights, value)


def multi_head_attention_forward(
    query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
    in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None, bias_v: Tensor | None,
    add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
    training: bool = True, key_padding_mask: Tensor | None = None, need_weights: bool = True,
    attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False, q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None, v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
    static_v: Tensor | None = None, average_attn_weights: bool = True, is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """The maths of ``nn.MultiheadAttention``, sequence first: ``(L, N, E)``, ``(S, N, E)`` -> ``((L, N, E), weights)``.

    Implemented beside the module in ``nn/modules/attention.py`` (which imports this file).
    """
    from ferrotorch.nn.modules.attention import multi_head_attention_forward as _mha_forward

    return _mha_forward(
        query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, bias_k, bias_v,
        add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training=training,
        key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
        use_separate_proj_weight=use_separate_proj_weight, q_proj_weight=q_proj_weight, k_proj_weight=k_proj_weight,
        v_proj_weight=v_proj_weight, static_k=static_k, static_v=static_v,
        average_attn_weights=average_attn_weights, is_causal=is_causal,
    )


# ============================================================================ losses


def _check_same_size(input: Tensor, target: Tensor, name: str) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
            "This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


def _weighted(loss: Tensor, weight: Tensor | None) -> Tensor:
    return loss if weight is None else loss * weight


def l1_loss(
    input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
    reduction: str = "mean", weight: Tensor | None = None,
) -> Tensor:
    """``|x - y|``, reduced."""
    input, target, weight = _amp.to_fp32(input, target, weight)
    _check_same_size(input, target, "l1_loss")
    reduction = _reduction.resolve(size_average, reduce, reduction)
    return _reduction.apply(_weighted((input - target).abs(), weight), reduction)


def mse_loss(
    input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
    reduction: str = "mean", weight: Tensor | None = None,
) -> Tensor:
    """``(x - y)²``, reduced."""
    input, target, weight = _amp.to_fp32(input, target, weight)
    _check_same_size(input, target, "mse_loss")
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if (
        weight is None and reduction in ("none", "mean", "sum") and tuple(input.shape) == tuple(target.shape)
        and input.dtype == target.dtype and input.dtype.is_floating_point and torch.is_grad_enabled()
        and (input.requires_grad or target.requires_grad)
    ):
        return _mse_loss_node(input, target, reduction)
    diff = input - target
    return _reduction.apply(_weighted(diff * diff, weight), reduction)


def _mse_loss_node(input: Tensor, target: Tensor, reduction: str) -> Tensor:
    """``mse_loss`` as one ``MseLossBackward0`` node, as PyTorch records it: saves ``input - target`` only."""
    with torch.no_grad():
        diff = input - target
        sq = diff * diff
        out = sq if reduction == "none" else sq.sum() if reduction == "sum" else sq.mean()
    versions = (input._version, target._version)
    scale = 2.0 / max(diff.numel(), 1) if reduction == "mean" else 2.0

    def backward(grad: Tensor) -> tuple[Tensor, Tensor]:
        for t, v in zip((input, target), versions):
            if t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{t.type()} {list(t.shape)}] is at version {t._version}; expected version {v} "
                    "instead.")
        # under create_graph, recompute the difference so that the gradient is itself differentiable
        d = input - target if torch.is_grad_enabled() else diff
        g = d * (grad * scale)
        return g, -g

    return torch._C._record_function("MseLossBackward0", [input, target], [out], [True], backward)[0]


def smooth_l1_loss(
    input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
    reduction: str = "mean", beta: float = 1.0,
) -> Tensor:
    """``0.5 d² / beta`` if ``|d| < beta`` else ``|d| - 0.5 beta``, reduced."""
    input, target = _amp.to_fp32(input, target)
    _check_same_size(input, target, "smooth_l1_loss")
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = (input - target).abs()
    if beta == 0.0:
        return _reduction.apply(d, reduction)
    loss = torch.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduction.apply(loss, reduction)


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0, weight: Tensor | None = None
) -> Tensor:
    """``0.5 d²`` if ``|d| < delta`` else ``delta (|d| - 0.5 delta)``, reduced."""
    _check_same_size(input, target, "huber_loss")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = (input - target).abs()
    loss = torch.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    return _reduction.apply(_weighted(loss, weight), reduction)


def _class_dim_input(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor, bool]:
    if input.dim() == 1:
        return input.unsqueeze(0), target.unsqueeze(0), True
    return input, target, False


def _nll_checked(input: Tensor, target: Tensor, weight: Tensor | None) -> tuple[Tensor, Tensor, bool]:
    """nll_loss's shape / dtype checks; ``(input, target)`` with a batch dim, and whether they had none."""
    x, t, unbatched = _class_dim_input(input, target)
    if x.shape[0] != t.shape[0]:
        raise ValueError(
            f"Expected input batch_size ({x.shape[0]}) to match target batch_size ({t.shape[0]})."
        )
    if tuple(x.shape[2:]) != tuple(t.shape[1:]):
        raise RuntimeError(f"Expected target size {[x.shape[0]] + list(x.shape[2:])}, got {list(t.shape)}")
    if t.is_floating_point():
        raise RuntimeError(f"expected scalar type Long but found {t.dtype}")
    n_classes = x.shape[1]
    if weight is not None and weight.numel() != n_classes:
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no classes but got weight "
            f"tensor of shape: {list(weight.shape)}"
        )
    return x, t, unbatched


def nll_loss(
    input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
    ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:
    """``-w[y] · input[y]`` for log-probabilities ``(N, C, *)`` and class indices ``(N, *)``.

    ``'mean'`` divides by the sum of the weights of the non-ignored targets.
    """
    input, weight = _amp.to_fp32(input, weight)
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    x, t, unbatched = _nll_checked(input, target, weight)
    if (
        x.is_cuda and x.is_floating_point() and reduction in ("none", "mean", "sum")
        and (weight is None or (weight.dtype == x.dtype and not (weight.requires_grad and torch.is_grad_enabled())))
    ):
        # kernels, forward and backward: nothing read back (a bad target is a device-side assert)
        out = torch._C._nn_nll_loss_device(x, t, weight, ignore_index, reduction)
        if out is not None:
            return out.squeeze(0) if unbatched and reduction == "none" else out
    n_classes = x.shape[1]
    t = t.to(torch.int64)
    ignored = t == ignore_index
    safe = t.masked_fill(ignored, 0)
    if safe.numel():
        lo, hi = int(safe.min()), int(safe.max())
        if lo < 0 or hi >= n_classes:
            raise IndexError(f"Target {hi if hi >= n_classes else lo} is out of bounds.")
    picked = x.gather(1, safe.unsqueeze(1)).squeeze(1)
    w = weight.index_select(0, safe.reshape(-1)).reshape(safe.shape) if weight is not None else torch.ones_like(picked)
    w = w.masked_fill(ignored, 0)
    loss = -picked * w
    if reduction == "none":
        return loss.squeeze(0) if unbatched else loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / w.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def cross_entropy(
    input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
    ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy between logits ``(N, C, *)`` and class indices ``(N, *)`` or class probabilities ``(N, C, *)``."""
    input, target, weight = _amp.to_fp32(input, target, weight)
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if (
        input.dim() >= 1 and input.is_floating_point() and not target.is_floating_point()
        and reduction in ("none", "mean", "sum")
        and (weight is None or (weight.dtype == input.dtype and not (weight.requires_grad and torch.is_grad_enabled())))
    ):
        # log_softmax + nll (+ smoothing) as one NllLossBackward0 node
        _nll_checked(input, target, weight)
        return torch._C._nn_cross_entropy(input, target, weight, ignore_index, label_smoothing, reduction)
    class_dim = 0 if input.dim() == 1 else 1
    n_classes = input.shape[class_dim]
    logp = log_softmax(input, class_dim)
    wshape = [1] * input.dim()
    wshape[class_dim] = n_classes
    if target.is_floating_point():
        if tuple(target.shape) != tuple(input.shape):
            raise RuntimeError(
                f"Expected floating point type target to have the same shape as input, got {tuple(target.shape)} "
                f"and {tuple(input.shape)}"
            )
        if weight is not None:
            logp = logp * weight.reshape(wshape)
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        loss = -(logp * target).sum(class_dim)
        if reduction == "mean":
            return loss.sum() / (input.numel() // n_classes) if input.numel() else loss.sum() / 0.0
        return _reduction.apply(loss, reduction)
    nll = nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    if label_smoothing == 0.0:
        return nll
    ignored = target == ignore_index
    smooth = -(logp * weight.reshape(wshape)).sum(class_dim) if weight is not None else -logp.sum(class_dim)
    smooth = smooth.masked_fill(ignored, 0)
    if reduction == "mean":
        if weight is not None:
            safe = target.masked_fill(ignored, 0).reshape(-1)
            denom = weight.index_select(0, safe).masked_fill(ignored.reshape(-1), 0).sum()
        else:
            denom = (~ignored).sum()
        smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:
    """``-(y log x + (1 - y) log(1 - x))`` with logs clamped at -100, for probabilities ``x``."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}) is "
            "deprecated. Please ensure they have the same size."
        )
    log_x = torch.log(input).clamp(min=-100)
    log_1mx = torch.log(1 - input).clamp(min=-100)
    loss = -(target * log_x + (1 - target) * log_1mx)
    return _reduction.apply(_weighted(loss, weight), reduction)


def binary_cross_entropy_with_logits(
    input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean", pos_weight: Tensor | None = None,
) -> Tensor:
    """``-(p y log σ(x) + (1 - y) log(1 - σ(x)))`` computed stably from logits ``x``."""
    input, target, weight, pos_weight = _amp.to_fp32(input, target, weight, pos_weight)
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    softplus_neg = torch.log1p(torch.exp(-input.abs())) + (-input).clamp(min=0)  # log(1 + exp(-x))
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + log_weight * softplus_neg
    else:
        loss = (1 - target) * input + softplus_neg
    return _reduction.apply(_weighted(loss, weight), reduction)


def kl_div(
    input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
    reduction: str = "mean", log_target: bool = False,
) -> Tensor:
    """``target · (log target - input)`` for log-probabilities ``input``; ``'batchmean'`` divides by ``N``."""
    input, target = _amp.to_fp32(input, target)
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    elif reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            stacklevel=2,
        )
    if log_target:
        loss = torch.exp(target) * (target - input)
    else:
        positive = target > 0
        safe = torch.where(positive, target, torch.ones_like(target))
        loss = torch.where(positive, target * torch.log(safe), torch.zeros_like(target)) - target * input
    if reduction == "batchmean":
        if input.dim() == 0:
            return loss.sum()
        return loss.sum() / input.shape[0]
    return _reduction.apply(loss, reduction)


def poisson_nll_loss(
    input: Tensor, target: Tensor, log_input: bool = True, full: bool = False, size_average: bool | None = None,
    eps: float = 1e-8, reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:
    """Poisson negative log likelihood with rate ``exp(input)`` (``log_input``) or ``input``."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if log_input:
        loss = torch.exp(input) - target * input
    else:
        loss = input - target * torch.log(input + eps)
    if full:
        safe = torch.where(target > 1, target, torch.ones_like(target))
        stirling = safe * torch.log(safe) - safe + 0.5 * torch.log(2 * math.pi * safe)
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduction.apply(loss, reduction)


def gaussian_nll_loss(
    input: Tensor, target: Tensor, var: Tensor | float, full: bool = False, eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """``0.5 (log max(var, eps) + (input - target)² / max(var, eps))`` (+ ``0.5 log 2π`` if ``full``)."""
    if not isinstance(var, torch.Tensor):
        var = torch.full_like(input, float(var))
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    var = var.clamp(min=eps)
    diff = input - target
    loss = 0.5 * (torch.log(var) + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduction.apply(loss, reduction)


def hinge_embedding_loss(
    input: Tensor, target: Tensor, margin: float = 1.0, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:
    """``x`` where ``y = 1``, ``max(0, margin - x)`` where ``y = -1``."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    zeros = torch.zeros_like(input)
    margin_clamp = (margin - input).clamp(min=0)
    loss = torch.where(target != 1, margin_clamp, zeros) + torch.where(target != -1, input, zeros)
    return _reduction.apply(loss, reduction)


def soft_margin_loss(
    input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``log(1 + exp(-y x))``."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    return _reduction.apply(softplus(-target * input), reduction)


def multilabel_soft_margin_loss(
    input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:
    """Per-sample mean over classes of the binary logistic loss; input/target ``(N, C)``."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    loss = _weighted(loss, weight)
    loss = loss.sum(dim=input.dim() - 1) / input.shape[-1]
    return _reduction.apply(loss, reduction)


def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:
    """``1 - cos(x1, x2)`` where ``y = 1``, ``max(0, cos(x1, x2) - margin)`` where ``y = -1``."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() not in (1, 2):
        raise RuntimeError(
            f"0D target tensor expects 1D input tensors, but found inputs with sizes {list(input1.shape)} and "
            f"{list(input2.shape)}." if input1.dim() == 1 else
            f"1D target tensor expects 2D input tensors, but found inputs with sizes {list(input1.shape)} and "
            f"{list(input2.shape)}."
        )
    dim = input1.dim() - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + eps
    mag2 = (input2 * input2).sum(dim) + eps
    cos = prod / torch.sqrt(mag1 * mag2)
    zeros = torch.zeros_like(cos)
    pos = 1 - cos
    neg = (cos - margin).clamp(min=0)
    loss = torch.where(target == 1, pos, zeros) + torch.where(target == -1, neg, zeros)
    return _reduction.apply(loss, reduction)


def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0, size_average: bool | None = None,
    reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:
    """``max(0, -y (x1 - x2) + margin)``."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} "
        )
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return _reduction.apply(loss, reduction)


def triplet_margin_loss(
    anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2, eps: float = 1e-6,
    swap: bool = False, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the pairwise ``p``-norm distance."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_swap = pairwise_distance(positive, negative, p, eps)
        d_neg = torch.minimum(d_neg, d_swap)
    loss = (d_pos - d_neg + margin).clamp(min=0)
    return _reduction.apply(loss, reduction)


def multi_margin_loss(
    input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
    size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
) -> Tensor:
    """``Σ_{i≠y} max(0, margin - x[y] + x[i])^p / C`` for ``(N, C)`` scores."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x, t, unbatched = _class_dim_input(input, target)
    picked = x.gather(1, t.unsqueeze(1))
    z = (x - picked + margin).clamp(min=0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight.index_select(0, t).unsqueeze(1)
    not_target = torch.ones_like(z).scatter(1, t.unsqueeze(1), 0.0)
    loss = (z * not_target).sum(1) / x.shape[1]
    if unbatched:
        loss = loss.squeeze(0)
    return _reduction.apply(loss, reduction)


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """Connectionist temporal classification loss; ``log_probs`` ``(T, N, C)``, ``targets`` ``(N, S)`` or 1-d."""
    from ferrotorch.nn._ctc import ctc_loss as _ctc_loss

    return _ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)


def _scalar_type_name(dtype: Any) -> str:
    """PyTorch's scalar-type name of ``dtype``, as its dtype errors spell it (``torch.float32`` -> ``Float``)."""
    names = {
        "float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
        "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
    }
    key = str(dtype).removeprefix("torch.")
    return names.get(key, key)


def multilabel_margin_loss(
    input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """``Σ_j Σ_{i∉y} max(0, 1 - (x[y_j] - x[i])) / C``; input ``(C)`` or ``(N, C)``, target the same shape holding
    class indices, the list ending at the first ``-1``."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if input.dim() > 2 or input.numel() == 0:
        raise RuntimeError(
            f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: {list(input.shape)}"
        )
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}")
    if target.dtype != torch.int64:
        raise RuntimeError(f"expected scalar type Long but found {_scalar_type_name(target.dtype)}")
    unbatched = input.dim() < 2
    x = input.reshape(1, -1) if unbatched else input
    t = target.detach().cpu().numpy().reshape(x.shape).astype(np.int64)
    c = x.shape[1]
    valid = np.cumprod(t != -1, axis=1).astype(bool)
    if ((t[valid] < 0) | (t[valid] >= c)).any():
        raise RuntimeError("argument #2 'target' is out of range")
    is_target = np.zeros(t.shape, dtype=bool)
    rows = np.nonzero(valid)[0]
    is_target[rows, t[valid]] = True
    idx = torch.tensor(np.where(valid, t, 0), device=x.device)
    # pair weight: target slot j is in the list and class i is not a target
    w = torch.tensor(valid[:, :, None] & ~is_target[:, None, :], dtype=x.dtype, device=x.device)
    picked = x.gather(1, idx)
    z = (1 - picked.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0)
    loss = (z * w).sum((1, 2)) / c
    if unbatched:
        loss = loss.squeeze(0)
    return _reduction.apply(loss, reduction)


def triplet_margin_with_distance_loss(
    anchor: Tensor, positive: Tensor, negative: Tensor, *, distance_function: Any = None, margin: float = 1.0,
    swap: bool = False, reduction: str = "mean",
) -> Tensor:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with a custom ``distance_function`` (default pairwise distance)."""
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a_dim, p_dim, n_dim = anchor.dim(), positive.dim(), negative.dim()
    if not (a_dim == p_dim == n_dim):
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number of dimensions, but "
            f"got: anchor {a_dim}D, positive {p_dim}D, and negative {n_dim}D inputs"
        )
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = torch.minimum(d_neg, dist(positive, negative))
    loss = (d_pos - d_neg + margin).clamp(min=0)
    return _reduction.apply(loss, reduction)
