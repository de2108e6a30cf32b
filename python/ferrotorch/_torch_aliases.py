"""Tensor methods and ``torch.*`` functions PyTorch has that are thin compositions of existing ops.

Three groups: Tensor methods built from existing ops (``inner``, ``fmax``, ``cumsum_``, ``fill_diagonal_``...);
the top-level aliases of ``nn.functional`` ops with ATen's own signatures (``torch.dropout(input, p, train)``,
``torch.kl_div(..., reduction=1)`` with an integer reduction, ``torch.embedding(weight, indices)``); and global
flags (determinism, warn-always) that only record their value. ``ALIASES`` holds the ``torch.*`` names."""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from typing import Any

from . import _C
from ._C import Tensor
from ._composite_ops import _float_type, _inplace, _like, _need_tensor, _sizes, _tname, _wrap_dim, tensordot
from ._functions import ones_like, zeros_like
from ._functions import where as _where
from ._tensor import _method, _named, return_types

_py_bool, _py_int, _py_float = builtins.bool, builtins.int, builtins.float
return_types.frexp = _named("frexp", ("mantissa", "exponent"))
return_types.nanmedian = _named("nanmedian", ("values", "indices"))
return_types.adaptive_max_pool1d = _named("adaptive_max_pool1d", ("values", "indices"))


# ---- predicates and identities on real tensors ----
@_method("is_same_size")
def is_same_size(self: Tensor, other: Tensor) -> bool:
    return tuple(self.shape) == tuple(other.shape)


@_method("is_conj")
def is_conj(self: Tensor) -> bool:
    """Always False: there are no complex tensors, so never a lazy conjugate bit."""
    return False


@_method("is_neg")
def is_neg(self: Tensor) -> bool:
    return False


@_method("resolve_conj")
def resolve_conj(self: Tensor) -> Tensor:
    """``self`` itself: a real tensor has no conjugate bit to materialise."""
    return self


@_method("resolve_neg")
def resolve_neg(self: Tensor) -> Tensor:
    return self


@_method("is_inference")
def is_inference(self: Tensor) -> bool:
    """False: inference-mode tensors are ordinary tensors here (autograd simply does not record)."""
    return False


def is_complex(input: Tensor) -> bool:
    return False


def is_signed(input: Tensor) -> bool:
    return input.dtype not in (_C.bool, _C.uint8)


def isreal(input: Tensor) -> Tensor:
    """All True (real dtypes only), shaped like ``input``."""
    return _C.ones(*input.shape, dtype=_C.bool, device=input.device)


# ---- element-wise ----
@_method("sgn")
def sgn(self: Tensor) -> Tensor:
    """``sign`` for real tensors."""
    return self.sign()


@_method("sgn_")
def sgn_(self: Tensor) -> Tensor:
    return self.sign_()


def _fminmax(self: Tensor, other: Tensor, pick: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """Like maximum/minimum, but a NaN loses to a number (NaN only where both are NaN)."""
    m = pick(self, other)
    return _where(other.isnan(), self, _where(self.isnan(), other, m)).to(m.dtype)


@_method("fmax")
def fmax(self: Tensor, other: Tensor) -> Tensor:
    """Element-wise maximum that ignores NaN. Shapes broadcast."""
    return _fminmax(self, _need_tensor(other, "fmax", "other", 2), Tensor.maximum)


@_method("fmin")
def fmin(self: Tensor, other: Tensor) -> Tensor:
    """Element-wise minimum that ignores NaN. Shapes broadcast."""
    return _fminmax(self, _need_tensor(other, "fmin", "other", 2), Tensor.minimum)


@_method("ldexp")
def ldexp(self: Tensor, other: Tensor) -> Tensor:
    """``self * 2**other``, in a float dtype."""
    dt = _float_type(self, other)
    return self.to(dt) * _like(2.0, self, dt).pow(other.to(dt))


@_method("ldexp_")
def ldexp_(self: Tensor, other: Tensor) -> Tensor:
    return _inplace(self, ldexp, other)


@_method("frexp")
def frexp(self: Tensor) -> Any:
    """``(mantissa, exponent)`` with ``self == mantissa * 2**exponent``, ``0.5 <= |mantissa| < 1``
    (0, inf and NaN keep exponent 0 and mantissa ``self``). exponent is int32."""
    if not self.dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    finite = self.isfinite() & (self != 0)
    safe = _where(finite, self.abs(), _like(1.0, self))
    e = safe.log2().floor() + 1
    m = self / _like(2.0, self).pow(e)
    # log2 rounding can put |m| just outside [0.5, 1): one step of correction
    hi = m.abs() >= 1
    lo = m.abs() < 0.5
    e = e + hi.to(e.dtype) - lo.to(e.dtype)
    m = _where(hi, m * 0.5, _where(lo, m * 2.0, m))
    m = _where(finite, m, self)
    e = _where(finite, e, _like(0.0, e))
    return return_types.frexp(m, e.to(_C.int32))


_I0_SERIES = 60  # terms of the power series, enough for float64 precision up to |x| = 30
_I0_ASYMPTOTIC = 16


def _i0(x: Tensor) -> Tensor:
    """Modified Bessel function of the first kind, order 0: the power series for |x| <= 30 and the
    asymptotic expansion ``e^|x| / sqrt(2 pi |x|) * sum`` above (both evaluated on clamped inputs so neither
    branch overflows or puts NaN in the gradient)."""
    a = x.abs()
    small = a.clamp(max=30.0)
    q = (small * 0.5) ** 2
    term = ones_like(small)
    total = term
    for k in range(1, _I0_SERIES):
        term = term * q / (k * k)
        total = total + term
    big = a.clamp(min=30.0)
    coef = 1.0
    asym = ones_like(big)
    for k in range(1, _I0_ASYMPTOTIC):
        coef *= (2 * k - 1) ** 2 / (8.0 * k)
        asym = asym + big.pow(-k) * coef  # tensor-first: reflected ops round a scalar to float32
    asym = asym * big.exp() / (big * (2 * math.pi)).sqrt()
    return _where(a <= 30.0, total, asym)


@_method("i0")
def i0(self: Tensor) -> Tensor:
    """Element-wise modified Bessel function I0 (float result)."""
    return _i0(self.to(_float_type(self)))


@_method("i0_")
def i0_(self: Tensor) -> Tensor:
    return _inplace(self, i0)


@_method("float_power_")
def float_power_(self: Tensor, exponent: Any) -> Tensor:
    """In-place ``float_power``: self must be float64, as the result always is."""
    if self.dtype != _C.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {_tname(self.dtype)} but the "
                           f"operation's result requires dtype Double")
    return _inplace(self, Tensor.float_power, exponent)


@_method("clamp_min_")
def clamp_min_(self: Tensor, min: Any) -> Tensor:
    return self.clamp_(min=min)


@_method("clamp_max_")
def clamp_max_(self: Tensor, max: Any) -> Tensor:
    return self.clamp_(max=max)


@_method("cumsum_")
def cumsum_(self: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return _inplace(self, Tensor.cumsum, dim, dtype=dtype)


@_method("cumprod_")
def cumprod_(self: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    return _inplace(self, Tensor.cumprod, dim, dtype=dtype)


@_method("tril_")
def tril_(self: Tensor, diagonal: int = 0) -> Tensor:
    return _inplace(self, Tensor.tril, diagonal)


@_method("triu_")
def triu_(self: Tensor, diagonal: int = 0) -> Tensor:
    return _inplace(self, Tensor.triu, diagonal)


@_method("addmm_")
def addmm_(self: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    return _inplace(self, Tensor.addmm, mat1, mat2, beta=beta, alpha=alpha)


@_method("addbmm_")
def addbmm_(self: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    return _inplace(self, Tensor.addbmm, batch1, batch2, beta=beta, alpha=alpha)


@_method("baddbmm_")
def baddbmm_(self: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    return _inplace(self, Tensor.baddbmm, batch1, batch2, beta=beta, alpha=alpha)


@_method("swapaxes_")
def swapaxes_(self: Tensor, axis0: int, axis1: int) -> Tensor:
    return self.transpose_(axis0, axis1)


@_method("swapdims_")
def swapdims_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    return self.transpose_(dim0, dim1)


# ---- reductions and products ----
@_method("inner")
def inner(self: Tensor, other: Tensor) -> Tensor:
    """Sum of products over the last dims: ``(*a, n) x (*b, n) -> (*a, *b)`` (a 0-d operand multiplies)."""
    other = _need_tensor(other, "inner", "other", 2)
    if self.dim() == 0 or other.dim() == 0:
        return self * other
    if self.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{_sizes(self.shape)} and {_sizes(other.shape)}")
    return tensordot(self, other, dims=([-1], [-1]))


@_method("vdot")
def vdot(self: Tensor, other: Tensor) -> Tensor:
    """Dot product of two 1-D tensors of the same size (real: no conjugation)."""
    other = _need_tensor(other, "vdot", "other", 2)
    if self.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {self.dim()}D and {other.dim()}D tensors")
    if self.dtype != other.dtype:
        raise RuntimeError(f"vdot : expected both vectors to have same dtype, but found "
                           f"{_tname(self.dtype)} and {_tname(other.dtype)}")
    if self.numel() != other.numel():
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{self.numel()}] and src "
                           f"[{other.numel()}] to have the same number of elements, but got "
                           f"{self.numel()} and {other.numel()} elements respectively")
    return (self * other).sum()


@_method("dist")
def dist(self: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The p-norm of ``self - other`` (shapes broadcast), a 0-d tensor."""
    d = self - _need_tensor(other, "dist", "other", 2)
    if p == 0:
        return (d != 0).sum().to(d.dtype)
    if p == math.inf:
        return d.abs().max()
    if p == -math.inf:
        return d.abs().min()
    return d.abs().pow(p).sum().pow(1.0 / p)


@_method("ravel")
def ravel(self: Tensor) -> Tensor:
    return self.reshape(-1)


@_method("sum_to_size")
def sum_to_size(self: Tensor, *size: Any) -> Tensor:
    """Sums ``self`` down to ``size``, which must be expandable to self's shape."""
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = tuple(size[0])
    shape = tuple(self.shape)
    lead = len(shape) - len(size)
    ok = lead >= 0 and all(s == 1 or s == shape[lead + i] for i, s in enumerate(size))
    if not ok:
        raise RuntimeError(f"size {{{_sizes(size)}}} is not expandable to size {{{_sizes(shape)}}}.")
    r = self
    if lead:
        r = r.sum(tuple(range(lead)))
    dims = tuple(i for i, s in enumerate(size) if s == 1 and r.shape[i] != 1)
    return r.sum(dims, keepdim=True) if dims else r


@_method("nanmedian")
def nanmedian(self: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """``median`` ignoring NaN: the lower median of the non-NaN values (NaN where all are NaN).
    With ``dim``: ``(values, indices)``."""
    if dim is None:
        flat = self.reshape(-1)
        r = nanmedian(flat, 0).values
        return r
    d = _wrap_dim(dim, self.dim())
    x = self if self.dim() else self.reshape(1)
    nan = x.isnan()
    # NaNs sort last; count the others per slice to find the lower median's rank
    _, idx = _where(nan, _like(math.inf, x), x).sort(d)
    k = (~nan).sum(d, keepdim=True)
    rank = ((k - 1).clamp(min=0) // 2)
    i = idx.gather(d, rank)
    v = x.gather(d, i)
    if not keepdim or self.dim() == 0:
        v, i = v.squeeze(d), i.squeeze(d)
    return return_types.nanmedian(v, i)


# ---- splitting ----
def _dir_split(self: Tensor, sections: Any, dim: int, name: str, min_dim: int) -> tuple:
    if self.dim() < min_dim:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dim} dimension, but got a "
                           f"tensor with {self.dim()} dimensions!")
    if isinstance(sections, _py_int) and not isinstance(sections, _py_bool) and (
            sections == 0 or self.shape[dim] % sections):
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                           f"dimension {self.shape[dim]} is not divisible by the split_size {sections}!")
    return self.tensor_split(sections, dim)


@_method("hsplit")
def hsplit(self: Tensor, sections: Any) -> tuple:
    """``tensor_split`` along dim 1 (dim 0 for 1-D); an int must divide that dim."""
    return _dir_split(self, sections, 0 if self.dim() == 1 else 1, "hsplit", 1)


@_method("vsplit")
def vsplit(self: Tensor, sections: Any) -> tuple:
    return _dir_split(self, sections, 0, "vsplit", 2)


@_method("dsplit")
def dsplit(self: Tensor, sections: Any) -> tuple:
    return _dir_split(self, sections, 2, "dsplit", 3)


@_method("split_with_sizes")
def split_with_sizes(self: Tensor, split_sizes: Sequence[int], dim: int = 0) -> tuple:
    d = _wrap_dim(dim, self.dim())
    if builtins.sum(split_sizes) != self.shape[d]:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {self.shape[d]} (input "
                           f"tensor's size at dimension {d}), but got split_sizes={_sizes(split_sizes)}")
    return tuple(self.split(list(split_sizes), d))


# ---- writes ----
@_method("fill_diagonal_")
def fill_diagonal_(self: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:
    """Fills the main diagonal in place (all dims equal for ndim > 2; a tall 2-D matrix restarts the
    diagonal every ``cols + 1`` rows when ``wrap``)."""
    if self.dim() < 2:
        raise RuntimeError("dimensions must larger than 1")
    shape = tuple(self.shape)
    if self.dim() > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    n = builtins.min(shape)
    step = builtins.sum(math.prod(shape[i + 1:]) for i in range(len(shape)))
    end = self.numel() if (wrap and self.dim() == 2 and shape[0] > shape[1] + 1) else n * step
    pos = _C.arange(0, builtins.min(end, self.numel()), step, device=self.device)
    if self.dim() == 2 and not wrap:
        pos = pos[:n]
    flat = self.contiguous().reshape(-1).clone()
    flat = flat.index_fill(0, pos, fill_value)
    return self.copy_(flat.reshape(shape))


@_method("put_")
def put_(self: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """Writes ``source`` at ``index`` into self treated as 1-D (adds with ``accumulate``)."""
    n = self.numel()
    idx = index.reshape(-1).long()
    idx = _where(idx < 0, idx + n, idx)
    flat = self.contiguous().reshape(-1).clone()
    src = source.reshape(-1).to(self.dtype)
    flat = flat.index_add(0, idx, src) if accumulate else flat.index_copy(0, idx, src)
    return self.copy_(flat.reshape(tuple(self.shape)))


@_method("put")
def put(self: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    return put_(self.clone(), index, source, accumulate)


@_method("apply_")
def apply_(self: Tensor, callable: Callable[[Any], Any]) -> Tensor:
    """Applies a Python function to every element, in place (CPU tensors only, like PyTorch)."""
    if self.is_cuda:
        raise TypeError("apply_ is only implemented on CPU tensors")
    vals = [callable(v) for v in self.reshape(-1).tolist()]
    return self.copy_(_C.tensor(vals, dtype=self.dtype).reshape(tuple(self.shape)))


@_method("map_")
def map_(self: Tensor, tensor: Tensor, callable: Callable[[Any, Any], Any]) -> Tensor:
    """``self[i] = callable(self[i], tensor[i])`` in place, ``tensor`` broadcast to self (CPU only)."""
    if self.is_cuda or tensor.is_cuda:
        raise TypeError("map_ is only implemented on CPU tensors")
    other = tensor.expand(*self.shape).reshape(-1).tolist()
    vals = [callable(a, b) for a, b in zip(self.reshape(-1).tolist(), other)]
    return self.copy_(_C.tensor(vals, dtype=self.dtype).reshape(tuple(self.shape)))


# ---- random fills ----
@_method("log_normal_")
def log_normal_(self: Tensor, mean: float = 1, std: float = 2, *, generator: Any = None) -> Tensor:
    """Fills with ``exp(N(mean, std))`` samples."""
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return self.normal_(mean, std, generator=generator).exp_()


@_method("cauchy_")
def cauchy_(self: Tensor, median: float = 0, sigma: float = 1, *, generator: Any = None) -> Tensor:
    """Fills with Cauchy samples ``median + sigma * tan(pi * (u - 1/2))``."""
    if sigma <= 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    u = _C.empty(*self.shape, dtype=_float_type(self), device=self.device).uniform_(generator=generator)
    return self.copy_(((u - 0.5) * math.pi).tan() * sigma + median)


@_method("geometric_")
def geometric_(self: Tensor, p: float, *, generator: Any = None) -> Tensor:
    """Fills with the number of Bernoulli(p) trials up to the first success (values >= 1)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    u = _C.empty(*self.shape, dtype=_C.float64, device=self.device).uniform_(generator=generator)
    u = u.clamp(min=1e-300)
    return self.copy_((u.log() / math.log1p(-p)).ceil().clamp(min=1))


# ---- legacy constructor ----
@_method("new")
def new(self: Tensor, *args: Any, device: Any = None) -> Tensor:
    """Legacy ``x.new(...)``: ``new()`` is empty, ``new(2, 3)`` an uninitialised tensor of that size, and
    ``new(data)`` (a list or tensor) a copy of ``data``; all with self's dtype and device."""
    dev = device if device is not None else self.device
    if not args:
        return _C.empty(0, dtype=self.dtype, device=dev)
    if len(args) == 1 and isinstance(args[0], (list, Tensor)):
        return _C.tensor(args[0], dtype=self.dtype, device=dev)
    if len(args) == 1 and isinstance(args[0], tuple):
        args = args[0]
    return _C.empty(*args, dtype=self.dtype, device=dev)


# ---- torch.* aliases of nn.functional ops, with ATen's signatures ----
_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _red(reduction: Any) -> str:
    """ATen's integer reduction (0 none, 1 mean, 2 sum) as F's string; a string passes through. (The
    Python bindings default it to 0, unlike F's 'mean'.)"""
    return reduction if isinstance(reduction, str) else _REDUCTIONS[_py_int(reduction)]


def _F() -> Any:
    from .nn import functional

    return functional


def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return _F().dropout(input, p, train)


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return _F().dropout(input, p, train, inplace=True)


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return _F().alpha_dropout(input, p, train)


def batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
               running_var: Tensor | None, training: bool, momentum: float, eps: float,
               cudnn_enabled: bool = True) -> Tensor:
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                  running_var: Tensor | None, use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool = True) -> Tensor:
    return _F().instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-05, cudnn_enable: bool = True) -> Tensor:
    return _F().layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-05, cudnn_enabled: bool = True) -> Tensor:
    return _F().group_norm(input, num_groups, weight, bias, eps)


def rms_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    return _F().rms_norm(input, normalized_shape, weight, eps)


def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """ATen's order: the table first. ``padding_idx=-1`` means none."""
    pad = None if padding_idx == -1 else padding_idx
    return _F().embedding(indices, weight, pad, scale_grad_by_freq=scale_grad_by_freq)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False) -> Tensor:
    return _F().max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False) -> Tensor:
    return _F().max_pool2d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = (), padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False) -> Tensor:
    return _F().max_pool3d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    return _F().avg_pool1d(input, kernel_size, stride or None, padding, ceil_mode, count_include_pad)


def adaptive_max_pool1d(input: Tensor, output_size: Any) -> Any:
    """Returns ``(values, indices)``, as ATen's op does."""
    return return_types.adaptive_max_pool1d(*_F().adaptive_max_pool1d(input, output_size, True))


def kl_div(input: Tensor, target: Tensor, reduction: int = 0, log_target: bool = False) -> Tensor:
    """Unreduced by default; ATen's mean (1) is the element-wise mean (F's 'mean', not 'batchmean')."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _F().kl_div(input, target, reduction=_red(reduction), log_target=log_target)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     pos_weight: Tensor | None = None, reduction: int = 0) -> Tensor:
    return _F().binary_cross_entropy_with_logits(input, target, weight, reduction=_red(reduction),
                                                 pos_weight=pos_weight)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: int = 0) -> Tensor:
    return _F().cosine_embedding_loss(input1, input2, target, margin, reduction=_red(reduction))


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, reduction: int = 0) -> Tensor:
    return _F().hinge_embedding_loss(input, target, margin, reduction=_red(reduction))


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: int = 0) -> Tensor:
    return _F().margin_ranking_loss(input1, input2, target, margin, reduction=_red(reduction))


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-06, swap: bool = False, reduction: int = 0) -> Tensor:
    return _F().triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                    reduction=_red(reduction))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float,
                     reduction: int) -> Tensor:
    return _F().poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=_red(reduction))


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any, blank: int = 0,
             reduction: int = 0, zero_infinity: bool = False) -> Tensor:
    return _F().ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, _red(reduction),
                         zero_infinity)


def constant_pad_nd(input: Tensor, pad: Sequence[int], value: float = 0) -> Tensor:
    return _F().pad(input, list(pad), "constant", value)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    return _F().celu(input, alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return _F().celu(input, alpha, inplace=True)


def selu(input: Tensor) -> Tensor:
    return _F().selu(input)


def selu_(input: Tensor) -> Tensor:
    return _F().selu(input, inplace=True)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    return _F().threshold(input, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _F().threshold(input, threshold, value, inplace=True)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          generator: Any = None) -> Tensor:
    return _F().rrelu(input, lower, upper, training)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
           generator: Any = None) -> Tensor:
    return _F().rrelu(input, lower, upper, training, inplace=True)


def _plain(name: str) -> Callable:
    """``torch.<name>`` calling ``F.<name>`` with the same arguments (the signatures agree)."""
    def f(*args: Any, **kwargs: Any) -> Any:
        return getattr(_F(), name)(*args, **kwargs)

    f.__name__ = f.__qualname__ = name
    return f


_SAME_AS_F = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "adaptive_avg_pool1d",
              "bilinear", "prelu", "hardshrink", "pixel_shuffle", "pixel_unshuffle", "pairwise_distance",
              "cosine_similarity"]


@_method("prelu")
def _prelu_method(self: Tensor, weight: Tensor) -> Tensor:
    return _F().prelu(self, weight)


@_method("hardshrink")
def _hardshrink_method(self: Tensor, lambd: float = 0.5) -> Tensor:
    return _F().hardshrink(self, lambd)


# ---- other torch.* functions ----
def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Whether each of ``elements`` occurs in ``test_elements`` (either may be a scalar), shaped like
    ``elements``."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments - got (elements and "
                        "test_elements both scalars)")
    ref = elements if isinstance(elements, Tensor) else test_elements
    el = _like(elements, ref)
    te = _like(test_elements, ref).reshape(-1)
    hit = (el.unsqueeze(-1) == te).any(-1) if te.numel() else _C.zeros(*el.shape, dtype=_C.bool,
                                                                         device=el.device)
    return ~hit if invert else hit


def rsub(input: Tensor, other: Any, alpha: Any = 1) -> Tensor:
    """``other - alpha * input``."""
    return _like(other, input) - input * alpha if alpha != 1 else _like(other, input) - input


def fill(input: Tensor, value: Any) -> Tensor:
    return input.clone().fill_(value)


def scalar_tensor(s: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
                  **_: Any) -> Tensor:
    """A 0-d tensor of ``s``, default float dtype regardless of the value's type."""
    return _C.tensor(_py_float(s) if not isinstance(s, _py_bool) else s,
                     dtype=dtype or _C.get_default_dtype(), device=device, requires_grad=requires_grad)


def row_stack(tensors: Sequence[Tensor], *, out: Tensor | None = None) -> Tensor:
    from ._functions import vstack

    return vstack(tensors, out=out) if out is not None else vstack(tensors)


def _torch_range(start: Any = 0, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
          requires_grad: bool = False, **_: Any) -> Tensor:
    """Deprecated inclusive ``arange``: ``start, start + step, ..., <= end``; float dtype by default."""
    import warnings

    if end is None:
        start, end = 0, start
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior "
                  "is inconsistent with Python's range builtin. Instead, use torch.arange, which produces "
                  "values in [start, end).", UserWarning, stacklevel=2)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    n = _py_int(math.floor((end - start) / step)) + 1
    dt = dtype or _C.get_default_dtype()
    r = _C.arange(n, dtype=_C.float64, device=device) * step + start
    return r.to(dt).requires_grad_(requires_grad)


def asarray(obj: Any, *, dtype: Any = None, device: Any = None, copy: bool | None = None,
            requires_grad: bool = False) -> Tensor:
    """``obj`` as a tensor, sharing it when it already is one of the right dtype/device (unless ``copy``)."""
    if isinstance(obj, Tensor):
        r = obj.to(device=device if device is not None else obj.device, dtype=dtype or obj.dtype)
        if copy is False and r is not obj:
            raise ValueError("can't alias tensor: a copy is needed for the requested dtype/device")
        if copy:
            r = r.clone()
    else:
        if copy is False:
            import numpy as np

            if isinstance(obj, np.ndarray):
                return _C.from_numpy(obj)
        r = _C.as_tensor(obj, dtype=dtype, device=device)
    return r.requires_grad_(requires_grad) if requires_grad else r


def histogram(input: Tensor, bins: Any = 100, *, range: Sequence[float] | None = None,
              weight: Tensor | None = None, density: bool = False) -> tuple:
    """``(hist, bin_edges)`` as numpy.histogram: ``bins`` equal bins over ``range`` (default min..max) or
    the given monotone edges; the last bin is closed."""
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the same dtype, "
                           f"but got input {_tname(input.dtype)} and bins {_tname(input.dtype)}")
    x = input.reshape(-1)
    if isinstance(bins, Tensor):
        edges = bins.to(input.dtype)
    else:
        lo, hi = (range if range is not None else
                  ((x.min().item(), x.max().item()) if x.numel() else (0.0, 0.0)))
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = _C.linspace(lo, hi, bins + 1, dtype=input.dtype, device=input.device)
    nb = edges.numel() - 1
    inside = (x >= edges[0]) & (x <= edges[-1])
    k = (x.unsqueeze(-1) >= edges[1:-1]).sum(-1) if nb > 1 else zeros_like(x).long()
    w = weight.reshape(-1).to(input.dtype) if weight is not None else ones_like(x)
    w = _where(inside, w, _like(0.0, w))
    hist = _C.zeros(nb, dtype=input.dtype, device=input.device).index_add(0, k.long().clamp(0, nb - 1), w)
    if density:
        hist = hist / (hist.sum() * (edges[1:] - edges[:-1]))
    return _named("histogram", ("hist", "bin_edges"))(hist, edges)


def poisson(input: Tensor, generator: Any = None) -> Tensor:
    """Poisson samples with rates ``input`` (numpy's sampler on a host copy, seeded from ``generator``)."""
    import numpy as np

    rates = input.detach().cpu().double().numpy()
    if (rates < 0).any():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    seed = _py_int(_C.randint(0, 2 ** 31 - 1, (1,), generator=generator).item())
    out = np.asarray(np.random.default_rng(seed).poisson(rates), dtype=np.float64)  # a 0-d rate gives an int
    return _C.from_numpy(out).to(dtype=input.dtype, device=input.device)


def binomial(count: Tensor, prob: Tensor, generator: Any = None) -> Tensor:
    """Binomial(count, prob) samples, as floats of prob's dtype."""
    import numpy as np

    c = count.detach().cpu().double().numpy()
    p = prob.detach().cpu().double().numpy()
    seed = _py_int(_C.randint(0, 2 ** 31 - 1, (1,), generator=generator).item())
    out = np.asarray(np.random.default_rng(seed).binomial(c.astype(np.int64), p), dtype=np.float64)
    return _C.from_numpy(out).to(dtype=prob.dtype, device=prob.device)


def typename(obj: Any) -> str:
    """'torch.FloatTensor' for a float32 CPU tensor ('torch.cuda.FloatTensor' on CUDA); else the type."""
    if isinstance(obj, Tensor):
        from ._composite_ops import _NAMES

        return f"torch.{'cuda.' if obj.is_cuda else ''}{_NAMES.get(obj.dtype, 'Float')}Tensor"
    t = type(obj)
    mod = t.__module__
    return t.__qualname__ if mod in ("builtins", None) else f"{mod}.{t.__qualname__}"


# ---- global flags (recorded only: every kernel here is already deterministic) ----
_FLAGS = {"deterministic": False, "warn_only": False, "warn_always": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    if not isinstance(mode, _py_bool):
        raise TypeError(f"use_deterministic_algorithms expects a bool, but got {type(mode).__name__}")
    _FLAGS["deterministic"], _FLAGS["warn_only"] = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    return _FLAGS["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _FLAGS["warn_only"]


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode: Any) -> None:
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, "
                               f"but got {debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    if not _FLAGS["deterministic"]:
        return 0
    return 1 if _FLAGS["warn_only"] else 2


def set_warn_always(b: bool) -> None:
    _FLAGS["warn_always"] = _py_bool(b)


def is_warn_always_enabled() -> bool:
    return _FLAGS["warn_always"]


def set_flush_denormal(mode: bool) -> bool:
    """False: flushing denormals is not supported (as on CPUs without SSE3 in PyTorch)."""
    return False


def _method_fn(name: str) -> Callable:
    def f(input: Tensor, *args: Any, **kwargs: Any) -> Any:
        return getattr(input, name)(*args, **kwargs)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = getattr(Tensor, name).__doc__
    return f


# torch.X_ for every in-place Tensor method PyTorch also exposes at top level
_INPLACE = ["abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
            "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clip_", "cos_", "cosh_",
            "deg2rad_", "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_", "floor_",
            "frac_", "gcd_", "lcm_", "log10_", "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_",
            "negative_", "rad2deg_", "reciprocal_", "relu_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_",
            "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_", "clamp_min_",
            "clamp_max_", "i0_", "ldexp_"]
_AS_FUNCTIONS = ["fmax", "fmin", "inner", "vdot", "dist", "ravel", "hsplit", "vsplit", "dsplit", "nanmedian",
                 "i0", "ldexp", "frexp", "sgn", "is_same_size", "is_conj", "is_neg", "is_inference",
                 "resolve_conj", "resolve_neg", "split_with_sizes"]

ALIASES: dict[str, Callable] = {}
ALIASES.update({n: _plain(n) for n in _SAME_AS_F})
ALIASES.update({n: _method_fn(n) for n in _INPLACE + _AS_FUNCTIONS})
ALIASES["range"] = _torch_range
ALIASES.update({n: globals()[n] for n in [
    "dropout", "dropout_", "alpha_dropout", "batch_norm", "instance_norm", "layer_norm", "group_norm",
    "rms_norm", "embedding", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "adaptive_max_pool1d",
    "kl_div", "binary_cross_entropy_with_logits", "cosine_embedding_loss", "hinge_embedding_loss",
    "margin_ranking_loss", "triplet_margin_loss", "poisson_nll_loss", "ctc_loss", "constant_pad_nd", "celu",
    "celu_", "selu", "selu_", "threshold", "threshold_", "rrelu", "rrelu_", "is_complex", "is_signed",
    "isreal", "isin", "rsub", "fill", "scalar_tensor", "row_stack", "asarray", "histogram",
    "poisson", "binomial", "typename", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
    "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
    "get_deterministic_debug_mode", "set_warn_always", "is_warn_always_enabled", "set_flush_denormal",
]})


@_method("mode")
def mode(self: Tensor, dim: int = -1, keepdim: bool = False) -> Any:
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest on ties) and the last index
    where it occurs. Compares all pairs in a slice, so it costs ``O(n^2)`` memory per slice."""
    d = _wrap_dim(dim, self.dim())
    x = (self if self.dim() else self.reshape(1)).movedim(d, -1)
    counts = (x.unsqueeze(-1) == x.unsqueeze(-2)).sum(-1)
    best = counts == counts.amax(-1, keepdim=True)
    value = _where(best, x, x.amax(-1, keepdim=True)).amin(-1, keepdim=True)
    pos = _C.arange(x.shape[-1], device=x.device).expand(*x.shape)
    index = _where(x == value, pos, _like(-1, pos)).amax(-1, keepdim=True)
    value, index = value.movedim(-1, d), index.movedim(-1, d)
    if not keepdim or self.dim() == 0:
        value, index = value.squeeze(d), index.squeeze(d)
    return return_types.mode(value, index)


def _bind_functions() -> None:
    """Tensor methods for torch functions that exist only at top level so far."""
    from . import _functions

    for name in ("allclose", "isclose", "equal", "diag", "trace", "is_nonzero"):
        _method(name)(getattr(_functions, name))
    _method("isreal")(isreal)
    _method("histogram")(histogram)


_bind_functions()
ALIASES.update({n: _method_fn(n) for n in ("mode", "put")})
