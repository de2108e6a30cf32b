"""PyTorch functions written as compositions of existing tensor ops.

Every op here is built from kernels the core already has (element-wise math, ``where``, reductions,
``gather``/``index_put``, views, ``mm``), so it runs on every device the core supports and is differentiable
through the existing autograd, with no backward formula of its own. Tensor methods are registered with
``_method``; ``COMPOSITES`` holds the ``torch.*`` functions that ``__init__`` merges into the package."""

from __future__ import annotations

import builtins
import itertools
import math
import operator
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from . import _C
from ._C import Tensor
from ._functions import _forward, diag, meshgrid
from ._tensor import _beta_self_plus_alpha, _method

_py_bool, _py_int, _py_float = builtins.bool, builtins.int, builtins.float
_NAMES = {_C.bool: "Bool", _C.uint8: "Byte", _C.int8: "Char", _C.int16: "Short", _C.int32: "Int",
          _C.int64: "Long", _C.float16: "Half", _C.bfloat16: "BFloat16", _C.float32: "Float",
          _C.float64: "Double"}


# ---- helpers ----
def _tname(dtype: Any) -> str:
    """PyTorch's scalar-type name of a dtype, as its messages print it ('Float', 'Long', ...)."""
    return _NAMES.get(dtype, str(dtype))


def _sizes(shape: Sequence[int]) -> str:
    """A shape as c10 prints it in messages: ``[2, 3]``."""
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _wrap_dim(dim: int, ndim: int) -> int:
    """``dim`` in ``[0, ndim)`` (a 0-d tensor takes dims -1 and 0); IndexError as PyTorch otherwise."""
    n = builtins.max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def _float_type(*values: Any) -> Any:
    """The result dtype of a float op: the promoted dtype, or the default float dtype for ints and bools."""
    dt = _C.result_type(*values) if len(values) > 1 else values[0].dtype
    return dt if dt.is_floating_point else _C.get_default_dtype()


def _like(value: Any, ref: Tensor, dtype: Any = None) -> Tensor:
    """``value`` as a tensor on ``ref``'s device (a Python number becomes a 0-d tensor of ``dtype``)."""
    if isinstance(value, Tensor):
        return value if dtype is None else value.to(dtype)
    return _C.tensor(value, dtype=dtype or _C.result_type(ref, value), device=ref.device)


def _need_tensor(value: Any, fn: str, arg: str, pos: int) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be Tensor, "
                        f"not {type(value).__name__}")
    return value


def _no_kernel(op: str, x: Tensor, dtype: Any) -> NotImplementedError:
    """PyTorch's error for a dtype its kernel does not dispatch ('"hypot_cpu" not implemented for 'Long'')."""
    dev = "cuda" if x.is_cuda else "cpu"
    return NotImplementedError(f"\"{op}_{dev}\" not implemented for '{_tname(dtype)}'")


def _inplace(self: Tensor, fn: Callable[..., Tensor], *args: Any, **kwargs: Any) -> Tensor:
    """``self.copy_(fn(self, ...))`` with PyTorch's in-place rules: the result must cast to self's dtype and
    have self's shape. When autograd records, ``fn`` reads a clone, so the tensors its graph saved are not
    the ones the copy overwrites."""
    src = self.clone() if self.requires_grad and _C.is_grad_enabled() else self
    r = fn(src, *args, **kwargs)
    if r.dtype != self.dtype and not _C.can_cast(r.dtype, self.dtype):
        raise RuntimeError(f"result type {_tname(r.dtype)} can't be cast to the desired output type "
                           f"{_tname(self.dtype)}")
    if tuple(r.shape) != tuple(self.shape):
        raise RuntimeError(f"output with shape {_sizes(self.shape)} doesn't match the broadcast shape "
                           f"{_sizes(r.shape)}")
    return self.copy_(r)


def _infer_size(a: Sequence[int], b: Sequence[int]) -> list[int]:
    """The broadcast of two shapes, with PyTorch's message when they do not broadcast."""
    n = builtins.max(len(a), len(b))
    out = []
    for i in range(n):
        sa = a[i - n + len(a)] if i - n + len(a) >= 0 else 1
        sb = b[i - n + len(b)] if i - n + len(b) >= 0 else 1
        if sa != sb and sa != 1 and sb != 1:
            raise RuntimeError(f"The size of tensor a ({sa}) must match the size of tensor b ({sb}) at "
                               f"non-singleton dimension {i}")
        out.append(sb if sa == 1 else sa)
    return out


def _check_index_range(index: Tensor, lo: int, hi: int, message: Callable[[int], str]) -> None:
    """IndexError(message(i)) for the first index outside ``[lo, hi)``."""
    if index.numel() == 0:
        return
    bad = (index < lo) | (index >= hi)
    if bool(bad.any()):
        raise IndexError(message(int(index.reshape(-1)[bad.reshape(-1)][0].item())))


# ---- shapes and views ----
@_method("broadcast_to")
def broadcast_to(self: Tensor, size: Sequence[int]) -> Tensor:
    """``self.expand(size)``: a view of ``self`` broadcast to ``size`` (-1 keeps that dimension)."""
    return self.expand(*([size] if isinstance(size, _py_int) else size))


@_method("flipud")
def flipud(self: Tensor) -> Tensor:
    """``self.flip(0)``: rows in reverse order (needs at least 1 dimension)."""
    if self.dim() < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return self.flip(0)


@_method("fliplr")
def fliplr(self: Tensor) -> Tensor:
    """``self.flip(1)``: columns in reverse order (needs at least 2 dimensions)."""
    if self.dim() < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return self.flip(1)


@_method("rot90")
def rot90(self: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """Rotates by ``k * 90`` degrees from ``dims[0]`` towards ``dims[1]``: k=1 is
    ``flip(dims[1]).transpose(*dims)``, k=2 ``flip(dims)``, k=3 ``flip(dims[0]).transpose(*dims)``."""
    dims = list(dims)
    n = self.dim()
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if n < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {n}")
    d0, d1 = dims
    if d0 == d1 or abs(d0 - d1) == n:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    if not -n <= d0 < n:
        raise RuntimeError(f"Rotation dim0 out of range, dim0 = {d0}")
    if not -n <= d1 < n:
        raise RuntimeError(f"Rotation dim1 out of range, dim1 = {d1}")
    k %= 4
    if k == 1:
        return self.flip(d1).transpose(d0, d1)
    if k == 2:
        return self.flip(d0, d1)
    if k == 3:
        return self.flip(d0).transpose(d0, d1)
    return self.clone()


def _atleast(tensors: tuple, fn: Callable[[Tensor], Tensor]) -> Any:
    if len(tensors) == 1:
        tensors = tensors[0]
    if isinstance(tensors, (list, tuple)):
        return tuple(fn(t) for t in tensors)
    return fn(tensors)


def atleast_1d(*tensors: Any) -> Any:
    """A 0-d tensor as shape (1,); others unchanged. Several tensors (or one list) give a tuple."""
    return _atleast(tensors, lambda t: t.reshape(1) if t.dim() == 0 else t)


def _to_2d(t: Tensor) -> Tensor:
    return t.reshape(1, 1) if t.dim() == 0 else (t.unsqueeze(0) if t.dim() == 1 else t)


def atleast_2d(*tensors: Any) -> Any:
    """0-d → (1, 1), (n,) → (1, n); others unchanged. Several tensors (or one list) give a tuple."""
    return _atleast(tensors, _to_2d)


def _to_3d(t: Tensor) -> Tensor:
    if t.dim() == 0:
        return t.reshape(1, 1, 1)
    if t.dim() == 1:
        return t.unsqueeze(0).unsqueeze(-1)
    return t.unsqueeze(-1) if t.dim() == 2 else t


def atleast_3d(*tensors: Any) -> Any:
    """0-d → (1, 1, 1), (n,) → (1, n, 1), (m, n) → (m, n, 1); others unchanged. Several give a tuple."""
    return _atleast(tensors, _to_3d)


# ---- element-wise math ----
def _logaddexp(self: Tensor, other: Any, name: str, log1p_exp: Callable[[Tensor], Tensor]) -> Tensor:
    """``max(a, b) + log1p_exp(-|a - b|)``, and ``a`` where a == b == ±inf (their difference is NaN)."""
    other = _need_tensor(other, name, "other", 2)
    dt = _C.result_type(self, other)
    if not dt.is_floating_point:
        raise _no_kernel(name, self, dt)
    r = self.maximum(other) + log1p_exp(-(self - other).abs())
    return _C._where(self.isinf() & (self == other), self.to(dt), r)


@_method("logaddexp")
def logaddexp(self: Tensor, other: Tensor) -> Tensor:
    """``log(exp(self) + exp(other))``, computed as ``max + log1p(exp(-|self - other|))`` (no overflow)."""
    return _logaddexp(self, other, "logaddexp", lambda t: t.exp().log1p())


@_method("logaddexp2")
def logaddexp2(self: Tensor, other: Tensor) -> Tensor:
    """``log2(2**self + 2**other)``, computed as ``max + log1p(2**-|self - other|) / ln 2``."""
    return _logaddexp(self, other, "logaddexp2", lambda t: t.exp2().log1p() * (1 / math.log(2)))


@_method("xlogy")
def xlogy(self: Tensor, other: Any) -> Tensor:
    """``self * log(other)``, 0 where self == 0 (unless other is NaN); ints promote to the default float."""
    dt = _float_type(self, other)
    x, y = self.to(dt), _like(other, self, dt)
    # log(other) is taken as 0 where self == 0 and other <= 0 (PyTorch's value there, and the mask its
    # backward uses) or other == inf (0 * inf): d/dself is log(other) elsewhere, also where self == 0;
    # "+ 0" turns 0 * log(0.3) = -0 into 0
    return x * _C._where((x == 0) & ((y <= 0) | (y == math.inf)), 1, y).log() + 0


@_method("xlogy_")
def xlogy_(self: Tensor, other: Any) -> Tensor:
    """In-place ``xlogy``."""
    return _inplace(self, xlogy, other)


@_method("logit")
def logit(self: Tensor, eps: float | None = None) -> Tensor:
    """``log(z / (1 - z))`` with ``z = clamp(self, eps, 1 - eps)`` when ``eps`` is given (and >= 0)."""
    z = self.to(_float_type(self))
    if eps is not None and eps >= 0:
        z = z.clamp(eps, 1 - eps)
    return (z / (1 - z)).log()


@_method("logit_")
def logit_(self: Tensor, eps: float | None = None) -> Tensor:
    """In-place ``logit``."""
    return _inplace(self, logit, eps)


@_method("hypot")
def hypot(self: Tensor, other: Tensor) -> Tensor:
    """``sqrt(self**2 + other**2)``, scaled by ``m = max(|self|, |other|)`` so it neither overflows nor
    underflows: ``m * sqrt((self/m)**2 + (other/m)**2)``; inf when either is infinite."""
    other = _need_tensor(other, "hypot", "other", 2)
    dt = _C.result_type(self, other)
    if not dt.is_floating_point:
        raise _no_kernel("hypot", self, dt)
    a, b = self.abs(), other.abs()
    m = a.maximum(b)
    s = _C._where(m == 0, 1, m)
    r = s * ((a / s).square() + (b / s).square()).sqrt()
    return _C._where(a.isinf() | b.isinf(), math.inf, r)


@_method("hypot_")
def hypot_(self: Tensor, other: Tensor) -> Tensor:
    """In-place ``hypot``."""
    return _inplace(self, hypot, other)


@_method("copysign")
def copysign(self: Tensor, other: Any) -> Tensor:
    """``|self|`` with the sign bit of ``other`` (-0.0 counts as negative); ints promote to float."""
    dt = _float_type(self, other)
    mag = self.to(dt).abs()
    return _C._where(_like(other, self, dt).signbit(), -mag, mag)


@_method("copysign_")
def copysign_(self: Tensor, other: Any) -> Tensor:
    """In-place ``copysign``."""
    return _inplace(self, copysign, other)


@_method("heaviside")
def heaviside(self: Tensor, values: Tensor) -> Tensor:
    """0 where self < 0, ``values`` where self == 0, 1 where self > 0 (NaN gives 0); both of one dtype."""
    values = _need_tensor(values, "heaviside", "values", 2)
    if self.dtype != values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    return _C._where(self == 0, values, (self > 0).to(self.dtype))


@_method("heaviside_")
def heaviside_(self: Tensor, values: Tensor) -> Tensor:
    """In-place ``heaviside``."""
    return _inplace(self, heaviside, values)


@_method("sinc")
def sinc(self: Tensor) -> Tensor:
    """``sin(pi x) / (pi x)``, 1 at x == 0; ints promote to the default float dtype."""
    x = self.to(_float_type(self))
    zero = x == 0
    px = _C._where(zero, 1, x * math.pi)  # no 0/0 in the unused branch (nor in its gradient)
    return _C._where(zero, 1, px.sin() / px)


@_method("sinc_")
def sinc_(self: Tensor) -> Tensor:
    """In-place ``sinc``."""
    return _inplace(self, sinc)


@_method("deg2rad")
def deg2rad(self: Tensor) -> Tensor:
    """``self * pi / 180``; ints promote to the default float dtype."""
    return self.to(_float_type(self)) * (math.pi / 180)


@_method("deg2rad_")
def deg2rad_(self: Tensor) -> Tensor:
    """In-place ``deg2rad``."""
    return _inplace(self, deg2rad)


@_method("rad2deg")
def rad2deg(self: Tensor) -> Tensor:
    """``self * 180 / pi``; ints promote to the default float dtype."""
    return self.to(_float_type(self)) * (180 / math.pi)


@_method("rad2deg_")
def rad2deg_(self: Tensor) -> Tensor:
    """In-place ``rad2deg``."""
    return _inplace(self, rad2deg)


@_method("positive")
def positive(self: Tensor) -> Tensor:
    """``+self``: returns self (an error for bool tensors)."""
    if self.dtype == _C.bool:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return self


def _gcd_checked(self: Tensor, other: Tensor, name: str) -> Tensor:
    other = _need_tensor(other, name, "other", 2)
    dt = _C.result_type(self, other)
    if dt.is_floating_point or dt == _C.bool:
        raise _no_kernel(name, self, dt)
    a, b = (t.to(dt).abs() for t in (self, other))
    shape = _infer_size(a.shape, b.shape)
    a, b = a.expand(*shape), b.expand(*shape)
    while True:  # Euclid's algorithm, all elements at once: (a, b) -> (b, a mod b) until b == 0
        nz = b != 0
        if not bool(nz.any()):
            return a.contiguous()
        a, b = _C._where(nz, b, a), _C._where(nz, a.remainder(_C._where(nz, b, 1)), 0)


@_method("gcd")
def gcd(self: Tensor, other: Tensor) -> Tensor:
    """Greatest common divisor, element-wise (non-negative; gcd(0, 0) = 0); integer dtypes only."""
    return _gcd_checked(self, other, "gcd")


@_method("gcd_")
def gcd_(self: Tensor, other: Tensor) -> Tensor:
    """In-place ``gcd``."""
    return _inplace(self, gcd, other)


@_method("lcm")
def lcm(self: Tensor, other: Tensor) -> Tensor:
    """Least common multiple, ``|self / gcd * other|`` (0 where gcd is 0); integer dtypes only."""
    g = _gcd_checked(self, other, "lcm")
    a, b = self.to(g.dtype), other.to(g.dtype)
    return _C._where(g == 0, 0, (a // _C._where(g == 0, 1, g) * b).abs())


@_method("lcm_")
def lcm_(self: Tensor, other: Tensor) -> Tensor:
    """In-place ``lcm``."""
    return _inplace(self, lcm, other)


# ---- reductions and scans ----
@_method("nansum")
def nansum(self: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """``sum`` with NaN counted as zero."""
    x = self.masked_fill(self.isnan(), 0) if self.is_floating_point() else self
    return x.sum(dim, keepdim, dtype=dtype)


@_method("nanmean")
def nanmean(self: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """``nansum / count of non-NaN`` over ``dim`` (NaN where every element is NaN); floats only."""
    if not self.is_floating_point():
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{_tname(self.dtype)}")
    return nansum(self, dim, keepdim, dtype=dtype) / (~self.isnan()).sum(dim, keepdim)


@_method("diff")
def diff(self: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The n-th forward difference ``x[i + 1] - x[i]`` along ``dim`` (logical_xor for bool), after
    concatenating ``prepend``/``append``; the size along ``dim`` shrinks by n (down to 0)."""
    if self.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = _wrap_dim(dim, self.dim())
    for other in (prepend, append):
        if other is not None and other.dim() != self.dim():
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    parts = [t for t in (prepend, self, append) if t is not None]
    x = _C.cat(parts, d) if len(parts) > 1 else self
    if n == 0:
        return x.clone()
    for _ in range(builtins.min(n, x.size(d))):
        m = x.size(d) - 1
        hi, lo = x.narrow(d, 1, m), x.narrow(d, 0, m)
        x = hi.logical_xor(lo) if x.dtype == _C.bool else hi - lo
    return x


@_method("logcumsumexp")
def logcumsumexp(self: Tensor, dim: int) -> Tensor:
    """``log(cumsum(exp(self), dim))`` without overflow: an inclusive prefix scan of ``logaddexp``
    (Hillis-Steele: log2(n) steps, step s combines each element with the one 2**s before it)."""
    if not self.is_floating_point():
        raise _no_kernel("logcumsumexp_out", self, self.dtype)
    d = _wrap_dim(dim, self.dim())
    if self.dim() == 0:
        return self.clone()
    y, n, s = self, self.size(d), 1
    while s < n:
        y = _C.cat([y.narrow(d, 0, s), logaddexp(y.narrow(d, s, n - s), y.narrow(d, 0, n - s))], d)
        s *= 2
    return y if y is not self else self.clone()


@_method("renorm")
def renorm(self: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """Each slice ``self.select(dim, i)`` whose p-norm exceeds ``maxnorm`` is scaled by
    ``maxnorm / (norm + 1e-7)``; the others are unchanged."""
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {_py_float(maxnorm):g}")
    if self.dim() <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {self.dim()} dimensions")
    if not self.is_floating_point():
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_tname(self.dtype)}")
    d = _wrap_dim(dim, self.dim())
    norm = self.norm(p, dim=tuple(i for i in range(self.dim()) if i != d), keepdim=True)
    return self * _C._where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)


@_method("renorm_")
def renorm_(self: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """In-place ``renorm``."""
    return _inplace(self, renorm, p, dim, maxnorm)


# ---- quantiles ----
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(self: Tensor, q: Any, dim: int | None, keepdim: bool, interpolation: str, fn: str,
              ignore_nan: bool) -> Tensor:
    """ATen's algorithm: sort along ``dim`` (NaN last); rank ``q * (n - 1)`` (n counts non-NaN values for
    nanquantile; a slice holding NaN ranks last for quantile, so it gives NaN); read the sorted values at
    ``floor``/``ceil`` of the rank and interpolate. The q dimension (when q is 1-d) comes first."""
    if self.numel() == 0:
        raise RuntimeError(f"{fn}() input tensor must be non-empty")
    if self.dtype not in (_C.float32, _C.float64):
        raise RuntimeError(f"{fn}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q.dim() > 1:
            raise RuntimeError(f"{fn}() q must be a scalar or 1D tensor")
        if q.dtype != self.dtype:
            raise RuntimeError(f"{fn}() q tensor must be same dtype as the input tensor")
        if q.numel() and not bool(((q >= 0) & (q <= 1)).all()):
            raise RuntimeError(f"{fn}() q values must be in the range [0, 1]")
        qv = q.to(self.device)
    else:
        if not 0 <= q <= 1:
            raise RuntimeError(f"{fn}() q must be in the range [0, 1] but got {q}")
        qv = _C.tensor(_py_float(q), dtype=self.dtype, device=self.device)
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{fn}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                           f"Found '{interpolation}'")
    if dim is None:
        x = self.reshape(-1)
    else:
        d = _wrap_dim(dim, self.dim())
        x = self.reshape(1) if self.dim() == 0 else self.movedim(d, -1)
    srt = x.sort(-1)[0]  # [..., n]: the reduced dims, then the sorted slice
    nan = srt.isnan()
    if ignore_nan:
        ranks = (qv.reshape(-1) * ((~nan).sum(-1, keepdim=True) - 1).to(self.dtype)).clamp(min=0)
    else:
        last = srt.size(-1) - 1
        ranks = _C._where(nan.any(-1, keepdim=True), _py_float(last), qv.reshape(-1) * last)
    if interpolation == "lower":
        ranks = ranks.floor()
    elif interpolation == "higher":
        ranks = ranks.ceil()
    elif interpolation == "nearest":
        ranks = ranks.round()
    below = ranks.long()  # ranks: [reduced..., len(q)]
    out = srt.gather(-1, below)
    if interpolation in ("linear", "midpoint"):
        weight = 0.5 if interpolation == "midpoint" else ranks - below.to(self.dtype)
        out = out.lerp(srt.gather(-1, ranks.ceil().long()), weight)
    if keepdim and (dim is None or self.dim() == 0):
        out = out.reshape([1] * self.dim() + [out.size(-1)])
    elif keepdim:
        out = out.unsqueeze(d)
    return out.movedim(-1, 0) if isinstance(q, Tensor) and q.dim() == 1 else out.squeeze(-1)


@_method("quantile")
def quantile(self: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The q-th quantiles of each slice along ``dim`` (all elements when None). With sorted values v and
    rank r = q * (n - 1), 'linear' gives ``v[floor r] + (v[ceil r] - v[floor r]) * frac(r)``; 'lower',
    'higher', 'nearest' take ``v[floor r]``, ``v[ceil r]``, ``v[round r]``, 'midpoint' their mean.
    A 1-d q adds a leading dimension of len(q). Slices holding NaN give NaN."""
    return _quantile(self, q, dim, keepdim, interpolation, "quantile", False)


@_method("nanquantile")
def nanquantile(self: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """``quantile`` over the non-NaN values of each slice (NaN only where a slice is all NaN)."""
    return _quantile(self, q, dim, keepdim, interpolation, "nanquantile", True)


# ---- statistics ----
@_method("cov")
def cov(self: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """Covariance of the variables in the rows of ``self`` (a 1-d input is one variable), observations in
    the columns. With weights w = fweights * aweights: ``avg = sum(x * w) / sum(w)``, normalized by
    ``sum(w) - correction * sum(w * aweights) / sum(w)`` (``sum(w) - correction`` without aweights)."""
    if self.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{self.dim()} dimensions")
    if self.dtype == _C.bool:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    x = self.reshape(1, -1) if self.dim() < 2 else self
    n_obs = x.size(1)
    w = None
    for name, wt in (("fweights", fweights), ("aweights", aweights)):
        if wt is None:
            continue
        if wt.dim() > 1:
            raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
                               f"{wt.dim()} dimensions")
        floating = name == "aweights"
        if wt.is_floating_point() != floating or wt.dtype == _C.bool:
            kind = "floating point" if floating else "integral"
            raise RuntimeError(f"cov(): expected {name} to have {kind} dtype but got {name} with "
                               f"{_tname(wt.dtype)} dtype")
        if wt.numel() != n_obs:
            raise RuntimeError(f"cov(): expected {name} to have the same numel as there are observations in "
                               f"the input but got {wt.numel()} != {n_obs}")
        if n_obs and bool((wt.min() < 0).item()):
            raise RuntimeError(f"cov(): {name} cannot be negative")
        w = wt if w is None else w * wt
    if w is None:
        w_sum: Any = n_obs
        avg = x.sum(1) / n_obs
        norm: Any = n_obs - correction
    else:
        w_sum = w.sum()
        if not bool((w_sum != 0).item()):
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
        avg = (x * w).sum(1) / w_sum
        norm = w_sum - correction * (w * aweights).sum() / w_sum if aweights is not None and correction \
            else w_sum - correction
    if bool(norm <= 0):
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number "
                      "of observations.", UserWarning, stacklevel=2)
        norm = norm * 0
    xc = x - avg.unsqueeze(1)
    return (xc.mm((xc if w is None else xc * w).t()) / norm).squeeze()


@_method("corrcoef")
def corrcoef(self: Tensor) -> Tensor:
    """Pearson correlation ``cov[i, j] / sqrt(cov[i, i] * cov[j, j])``, clipped to [-1, 1]."""
    if self.dim() > 2:
        raise RuntimeError(f"corrcoef(): expected input to have two or fewer dimensions but got an input "
                           f"with {self.dim()} dimensions")
    c = cov(self)
    if c.dim() == 0:
        return c / c  # one variable: 1, or NaN for a zero/NaN/inf variance
    std = c.diagonal().sqrt()
    return (c / std.reshape(-1, 1) / std.reshape(1, -1)).clamp(-1, 1)


@_method("histc")
def histc(self: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Counts in ``bins`` equal-width bins over [min, max] (the data's range when both are 0, widened by 1
    each way when empty); bin ``floor((x - min) * bins / (max - min))``, x == max in the last bin, values
    outside the range ignored. The result has the input's dtype."""
    if not self.is_floating_point():
        raise _no_kernel("histogram", self, self.dtype)
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = _py_float(min), _py_float(max)
    if lo == hi == 0 and self.numel():
        lo, hi = self.amin().item(), self.amax().item()
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histc(): range of [{lo:g}, {hi:g}] is not finite")
    if lo > hi:
        raise RuntimeError("torch.histc(): max must be larger than min")
    x = self.detach().reshape(-1)
    inside = (x >= lo) & (x <= hi)
    pos = ((x - lo) * bins / (hi - lo)).floor().clamp(0, bins - 1)
    pos = _C._where(inside, pos, 0).long()
    out = _C.zeros(bins, dtype=self.dtype, device=self.device)
    return out.scatter_add_(0, pos, inside.to(self.dtype))


# ---- numerical integration ----
def _spacing(y: Tensor, x: Tensor, d: int, fn: str) -> Tensor:
    """The differences of the sample points ``x`` along ``d``, shaped to broadcast against y's."""
    if x.dim() == 1:
        if x.size(0) != y.size(d):
            raise RuntimeError(f"{fn}: There must be one `x` value for each sample point")
        shape = [1] * y.dim()
        shape[d] = x.size(0)
        x = x.reshape(shape)
    elif x.dim() < y.dim():
        x = x.reshape([1] * (y.dim() - x.dim()) + list(x.shape))
    m = x.size(d) - 1
    return x.narrow(d, 1, m) - x.narrow(d, 0, m)


def _check_trapezoid(y: Tensor, x: Any, dx: Any, fn: str) -> None:
    if x is not None and dx is not None:
        raise TypeError(f"{fn}() received an invalid combination of arguments: pass either x or dx, not both")
    if x is not None and not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument 'x' (position 2) must be Tensor, not {type(x).__name__}")
    if y.dtype == _C.bool or (x is not None and x.dtype == _C.bool):
        raise RuntimeError(f"{fn}: received a bool input for `x` or `y`, but bool is not supported")


def trapezoid(y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    """The trapezoidal rule along ``dim``: ``sum((x[i+1] - x[i]) * (y[i+1] + y[i]) / 2)`` for sample
    points x, or ``dx * (sum(y) - (y[0] + y[-1]) / 2)`` for a constant spacing dx (default 1)."""
    _check_trapezoid(y, x, dx, "trapezoid")
    d = _wrap_dim(dim, y.dim())
    if y.size(d) == 0:
        return _C.zeros(*[s for i, s in enumerate(y.shape) if i != d], dtype=y.dtype, device=y.device)
    n = y.size(d) - 1
    if x is not None:
        return (_spacing(y, x, d, "trapezoid") * (y.narrow(d, 1, n) + y.narrow(d, 0, n)) / 2).sum(d)
    return (y.sum(d) - (y.select(d, 0) + y.select(d, -1)) * 0.5) * (1 if dx is None else dx)


def trapz(y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    """Alias of ``trapezoid``."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x: Tensor | None = None, *, dx: float | None = None,
                         dim: int = -1) -> Tensor:
    """Running trapezoidal integral along ``dim``: ``cumsum(spacing / 2 * (y[i] + y[i+1]))``, one element
    fewer than y along ``dim``."""
    _check_trapezoid(y, x, dx, "cumulative_trapezoid")
    d = _wrap_dim(dim, y.dim())
    n = builtins.max(y.size(d) - 1, 0)
    pairs = y.narrow(d, 0, n) + y.narrow(d, 1, n) if n else y.narrow(d, 0, 0)
    h = _spacing(y, x, d, "cumulative_trapezoid") if x is not None else (1 if dx is None else dx)
    return (h / 2.0 * pairs).cumsum(d)


# ---- products ----
def tensordot(a: Tensor, b: Tensor, dims: Any = 2, out: Tensor | None = None) -> Tensor:
    """Contracts ``a``'s dims ``dims[0]`` with ``b``'s ``dims[1]`` (an int n: a's last n with b's first n);
    the result has a's free dims then b's. One ``mm`` of the permuted, flattened operands."""
    if isinstance(dims, Tensor):
        dims = _py_int(dims.item()) if dims.numel() == 1 else dims.tolist()
    if isinstance(dims, _py_int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > builtins.min(a.dim(), b.dim()):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.dim() - dims, a.dim())), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, _py_int) else list(d) for d in dims)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    if a.dtype != b.dtype:
        raise RuntimeError(f"both inputs should have same dtype, but got {_tname(a.dtype)} and "
                           f"{_tname(b.dtype)}")
    ca, cb = [_wrap_dim(d, a.dim()) for d in da], [_wrap_dim(d, b.dim()) for d in db]
    for dims_, t in ((ca, a), (cb, b)):
        dup = next((d for d in dims_ if dims_.count(d) > 1), None)
        if dup is not None:
            raise RuntimeError(f"dim {dup} appears multiple times in the list of dims")
    t1, t2, csize = a, b, 1
    for i, (d1, d2) in enumerate(zip(ca, cb)):
        s1, s2 = a.size(d1), b.size(d2)
        if s2 == 1:  # a broadcast dimension: sum it out right away
            t1 = t1.sum(d1, keepdim=True)
        elif s1 == 1:
            t2 = t2.sum(d2, keepdim=True)
        elif s1 != s2:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {s1} in dim {da[i]} "
                               f"and second has size {s2} in dim {db[i]}")
        else:
            csize *= s1
    free1 = [i for i in range(a.dim()) if i not in ca]
    free2 = [i for i in range(b.dim()) if i not in cb]
    rows, cols = math.prod(a.size(i) for i in free1), math.prod(b.size(i) for i in free2)
    m1 = (t1.permute(*free1, *ca) if a.dim() else t1).reshape(rows, csize)
    m2 = (t2.permute(*cb, *free2) if b.dim() else t2).reshape(csize, cols)
    r = m1.mm(m2).reshape([a.size(i) for i in free1] + [b.size(i) for i in free2])
    return _C._write_out(r, out) if out is not None else r


@_method("kron")
def kron(self: Tensor, other: Tensor) -> Tensor:
    """Kronecker product: dims aligned from the right, ``out[i*m + k, ...] = self[i, ...] * other[k, ...]``;
    the result's size is the product of the sizes in each dimension."""
    n = builtins.max(self.dim(), other.dim())
    sa = [1] * (n - self.dim()) + list(self.shape)
    sb = [1] * (n - other.dim()) + list(other.shape)
    a = self.reshape([s for d in sa for s in (d, 1)])
    b = other.reshape([s for d in sb for s in (1, d)])
    return (a * b).reshape([p * q for p, q in zip(sa, sb)])


@_method("addmv")
def addmv(self: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * self + alpha * (mat @ vec)`` for mat [n, m], vec [m] (self broadcasts to [n])."""
    if mat.dim() != 2 or vec.dim() != 1 or self.dim() > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {self.dim()}, {mat.dim()}, {vec.dim()}")
    if mat.size(1) != vec.size(0) or (mat.size(0) != self.numel() and self.numel() != 1):
        raise RuntimeError(f"size mismatch, got input ({self.numel()}), mat ({mat.size(0)}x{mat.size(1)}), "
                           f"vec ({vec.size(0)})")
    return _beta_self_plus_alpha(self, mat.matmul(vec), beta, alpha)


@_method("addmv_")
def addmv_(self: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """In-place ``addmv``."""
    return _inplace(self, addmv, mat, vec, beta=beta, alpha=alpha)


@_method("addr")
def addr(self: Tensor, vec1: Tensor, vec2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * self + alpha * outer(vec1, vec2)`` (self broadcasts to [len(vec1), len(vec2)])."""
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v.dim() != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.dim()}-D")
    base = self.expand(vec1.size(0), vec2.size(0))
    return _beta_self_plus_alpha(base, vec1.unsqueeze(1) * vec2.unsqueeze(0), beta, alpha)


@_method("addr_")
def addr_(self: Tensor, vec1: Tensor, vec2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """In-place ``addr``."""
    return _inplace(self, addr, vec1, vec2, beta=beta, alpha=alpha)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """Vandermonde matrix [len(x), N]: column j is ``x ** (N - 1 - j)`` (``x ** j`` when increasing), as a
    cumulative product; integer inputs give int64."""
    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.size(0) if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    dt = _C.promote_types(x.dtype, _C.int64)
    cols = [_C.ones(x.size(0), builtins.min(n, 1), dtype=dt, device=x.device)]
    if n > 1:
        cols.append(x.to(dt).unsqueeze(1).expand(x.size(0), n - 1).cumprod(1))
    r = _C.cat(cols, 1)
    return r if increasing else r.flip(1)


# ---- building tensors from others ----
def _tri_indices(row: int, col: int, offset: int, dtype: Any, device: Any, upper: bool) -> Tensor:
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    r = _C.arange(row, device=device).unsqueeze(1)
    c = _C.arange(col, device=device).unsqueeze(0)
    mask = (c - r >= offset) if upper else (c - r <= offset)
    return mask.nonzero().t().contiguous().to(_C.int64 if dtype is None else dtype)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 layout: Any = None) -> Tensor:
    """[2, N] row and column indices of the upper triangle (``col - row >= offset``) of a row×col matrix,
    row by row."""
    return _tri_indices(row, col, offset, dtype, device, True)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 layout: Any = None) -> Tensor:
    """[2, N] row and column indices of the lower triangle (``col - row <= offset``) of a row×col matrix,
    row by row."""
    return _tri_indices(row, col, offset, dtype, device, False)


def block_diag(*tensors: Tensor) -> Tensor:
    """Block-diagonal matrix of the inputs (0-d is 1×1, 1-d (n,) is 1×n) in the promoted dtype."""
    if not tensors:
        return _C.empty(1, 0)
    mats = []
    for i, t in enumerate(tensors):
        if t.dim() > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} "
                               f"has {t.dim()} dimensions")
        if t.device != tensors[0].device:
            raise RuntimeError(f"torch.block_diag: input tensors must all be on the same device. Input 0 is "
                               f"on device {tensors[0].device} and input {i} is on device {t.device}.")
        mats.append(t.reshape(1, 1) if t.dim() == 0 else (t.reshape(1, -1) if t.dim() == 1 else t))
    dtype = mats[0].dtype
    for m in mats[1:]:
        dtype = _C.promote_types(dtype, m.dtype)
    width, left, rows = sum(m.size(1) for m in mats), 0, []
    dev = tensors[0].device
    for m in mats:
        h, w = m.shape
        parts = [_C.zeros(h, left, dtype=dtype, device=dev), m.to(dtype),
                 _C.zeros(h, width - left - w, dtype=dtype, device=dev)]
        rows.append(_C.cat(parts, 1))
        left += w
    return _C.cat(rows, 0)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Rows of all combinations ``(a[i], b[j], ...)`` of 1-d inputs, last input varying fastest
    ([N, k]); a single input is returned as is."""
    for t in tensors:
        if t.dim() != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {_sizes(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return _C.stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """[C, r] rows of the length-r combinations of a 1-d tensor's elements, in lexicographic order of
    positions (as ``itertools.combinations``; ``combinations_with_replacement`` when asked)."""
    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {_sizes(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return _C.empty(0, dtype=input.dtype, device=input.device)
    n = input.size(0)
    if r == 2:  # the triangle's indices, built on the device
        idx = triu_indices(n, n, 0 if with_replacement else 1, device=input.device).t().reshape(-1)
    else:
        gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
        idx = _C.tensor([i for c in gen(range(n), r) for i in c], dtype=_C.int64, device=input.device)
    return input.index_select(0, idx).reshape(idx.numel() // r, r)


def unravel_index(indices: Tensor, shape: Any) -> tuple:
    """The coordinates of flat ``indices`` in a tensor of ``shape``: one int64 tensor per dimension,
    ``(indices // stride[d]) % shape[d]`` with row-major strides."""
    if not isinstance(indices, Tensor) or indices.is_floating_point() or indices.dtype == _C.bool:
        dtype = indices.dtype if isinstance(indices, Tensor) else type(indices).__name__
        raise TypeError(f"expected 'indices' to be integer dtype, but got {dtype}")
    if isinstance(shape, _py_int):
        shape = [shape]
    elif not isinstance(shape, Sequence):
        raise TypeError(f"expected 'shape' to be int or sequence of ints, but got {type(shape)}")
    for s in shape:
        if not isinstance(s, _py_int):
            raise TypeError(f"expected 'shape' sequence to only contain ints, but got {type(s)}")
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {tuple(shape)}")
    strides = list(itertools.accumulate(reversed([*shape[1:], 1]), operator.mul))[::-1]
    coefs = _C.tensor(strides, dtype=_C.int64, device=indices.device)
    sizes = _C.tensor(list(shape), dtype=_C.int64, device=indices.device)
    return tuple((indices.long().unsqueeze(-1).floor_divide(coefs) % sizes).unbind(-1))


def _on_diagonal(src: Tensor, rows: int, cols: int, offset: int) -> tuple[Tensor, Tensor]:
    """(values, mask) of shape ``src.shape[:-1] + [rows, cols]``: src's last dim laid on the ``offset``
    diagonal (``j - i == offset``), zeros elsewhere; mask marks that diagonal. Built with ``where`` (no
    writes into views), so gradients reach src."""
    i = _C.arange(rows, device=src.device).unsqueeze(1)
    mask = _C.arange(cols, device=src.device).unsqueeze(0) - i == offset
    rest, n, top = list(src.shape[:-1]), src.size(-1), builtins.max(0, -offset)
    pad = [_C.zeros(*rest, k, dtype=src.dtype, device=src.device) for k in (top, rows - top - n)]
    column = _C.cat([pad[0], src, pad[1]], -1).unsqueeze(-1)  # [..., rows, 1]: row i holds src[i - top]
    values = _C._where(mask, column, _C.zeros((), dtype=src.dtype, device=src.device))
    return values, mask.expand(*rest, rows, cols)


def _last_two_to(t: Tensor, d1: int, d2: int) -> Tensor:
    """Moves t's last two dims to positions d1 and d2 (the others keep their order)."""
    nd = t.dim()
    rest = iter(range(nd - 2))
    return t.permute(*[nd - 2 if p == d1 else nd - 1 if p == d2 else next(rest) for p in range(nd)])


@_method("diag_embed")
def diag_embed(self: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A tensor with one more dimension whose ``diagonal(offset, dim1, dim2)`` is self's last dimension
    (size ``n + |offset|`` in dims dim1 and dim2), zero elsewhere."""
    if self.dim() == 0:
        raise IndexError("dimension specified as -1 but tensor has no dimensions")
    nd = self.dim() + 1
    d1, d2 = _wrap_dim(dim1, nd), _wrap_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    m = self.size(-1) + abs(offset)
    return _last_two_to(_on_diagonal(self, m, m, offset)[0], d1, d2)


@_method("diagflat")
def diagflat(self: Tensor, offset: int = 0) -> Tensor:
    """``diag(self.flatten(), offset)``: a 2-d matrix with self's elements on one diagonal."""
    return diag(self.reshape(-1), offset)


# ---- indexing ----
@_method("take_along_dim")
def take_along_dim(self: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` along ``dim`` after broadcasting self and indices in every other dim; with no dim,
    ``self.flatten()[indices.flatten()]``."""
    if dim is None:
        return self.reshape(-1).gather(0, indices.reshape(-1))
    if self.dim() != indices.dim():
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of "
                           f"dimensions, but got {self.dim()} dimensions for input, and {indices.dim()} "
                           f"dimensions for indices")
    if indices.dtype != _C.int64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{_tname(indices.dtype)}")
    d = _wrap_dim(dim, self.dim())
    want = list(self.shape)
    want[d] = indices.size(d)
    idx = indices.expand(*_infer_size(want, indices.shape))
    want = list(indices.shape)
    want[d] = self.size(d)
    return self.expand(*_infer_size(want, self.shape)).gather(d, idx)


def _index_arg(self: Tensor, dim: int, index: Tensor) -> tuple:
    """(the size along dim, the wrapped dim, the index as 1-d); a 0-d self counts as one element."""
    d = _wrap_dim(dim, self.dim())
    return (self.size(d) if self.dim() else 1), d, index.reshape(-1)


def _index_write(self: Tensor, d: int, idx: Tensor, value: Tensor) -> Tensor:
    """``self[..., idx, ...] = value`` along d, in place (a 0-d self as a 1-element vector)."""
    key = (None,) * d + (idx,)
    if self.dim():
        return self.index_put_(key, value)
    return self.copy_(self.reshape(1).index_put(key, value).reshape(()))


@_method("index_fill_")
def index_fill_(self: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """Sets ``self[..., index[i], ...] = value`` (a number or 0-d tensor) along ``dim``; negative indices
    count from the end."""
    if index.dtype != _C.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    if isinstance(value, Tensor) and value.dim() != 0:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value.dim()} dimension(s).")
    if index.dim() > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    n, d, idx = _index_arg(self, dim, index)
    _check_index_range(idx, -n, n, lambda i: f"index {i} is out of bounds for dimension {d} with size {n}")
    v = value.to(self.device, self.dtype) if isinstance(value, Tensor) \
        else _C.tensor(value, dtype=self.dtype, device=self.device)
    return _index_write(self, d, idx, v)


@_method("index_fill")
def index_fill(self: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """Out-of-place ``index_fill_``."""
    return index_fill_(self.clone(), dim, index, value)


@_method("index_copy_")
def index_copy_(self: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """Sets ``self[..., index[i], ...] = source[..., i, ...]`` along ``dim`` (indices in ``[0, size)``)."""
    if index.dim() > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {index.dim()})")
    n, d, idx = _index_arg(self, dim, index)
    if source.dim() == 0 and idx.numel() != 1:
        raise IndexError(f"index_copy_(): When source is scalar, index should have one element "
                         f"(got {idx.numel()})")
    if source.dim() != self.dim() and source.dim() != 0 and self.dim() != 0:
        raise IndexError(f"index_copy_(): When source and destination are not scalars, their dimensionality "
                         f"must match. Source dimensionality ({source.dim()}), destination dimensionality "
                         f"({self.dim()})")
    if index.dtype != _C.int64:
        raise RuntimeError(f"index_copy_(): Expected a long tensor for index, but got {_tname(index.dtype)}")
    if self.dtype != source.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{_tname(self.dtype)} and (source) {_tname(source.dtype)}")
    dst_slice = [s for i, s in enumerate(self.shape) if i != d]
    src_slice = [s for i, s in enumerate(source.shape) if i != d]
    if source.dim() and self.dim() and dst_slice != src_slice:
        raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice shapes. "
                           f"Destination slice shape: {_sizes(dst_slice)} at dimension {d} and source slice "
                           f"shape: {_sizes(src_slice)} at dimension 0.")
    if source.dim() and idx.numel() != source.size(d):
        raise IndexError(f"index_copy_(): Number of indices ({idx.numel()}) should be equal to "
                         f"source.size(dim) ({source.size(d)})")
    _check_index_range(idx, 0, n, lambda i: f"index_copy_(): index {i} is out of bounds for dimension {d} "
                                            f"with size {n}")
    return _index_write(self, d, idx, source)


@_method("index_copy")
def index_copy(self: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """Out-of-place ``index_copy_``."""
    return index_copy_(self.clone(), dim, index, source)


def _check_src(src: Tensor, part: Tensor, what: str) -> None:
    if tuple(part.shape) != tuple(src.shape):
        raise RuntimeError(f"expected src to have a size equal to the {what} of self. src size = "
                           f"{_sizes(src.shape)}, {what} size = {_sizes(part.shape)}")


@_method("select_scatter")
def select_scatter(self: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """A copy of self with ``out.select(dim, index) = src``."""
    _check_src(src, self.select(dim, index), "slice")
    d = _wrap_dim(dim, self.dim())
    shape = [1] * self.dim()
    shape[d] = self.size(d)
    mask = _C.arange(self.size(d), device=self.device).reshape(shape) == index % self.size(d)
    return _C._where(mask, src.to(self.dtype).unsqueeze(d), self)


@_method("slice_scatter")
def slice_scatter(self: Tensor, src: Tensor, dim: int = 0, start: int | None = None, end: int | None = None,
                  step: int = 1) -> Tensor:
    """A copy of self with ``out[(slice(None),) * dim + (slice(start, end, step),)] = src``."""
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    d = _wrap_dim(dim, self.dim())
    _check_src(src, self[(slice(None),) * d + (slice(start, end, step),)], "slice")
    idx = _C.arange(*slice(start, end, step).indices(self.size(d)), device=self.device)
    return self.index_put((None,) * d + (idx,), src.to(self.dtype))


@_method("diagonal_scatter")
def diagonal_scatter(self: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A copy of self with ``out.diagonal(offset, dim1, dim2) = src``."""
    _check_src(src, self.diagonal(offset, dim1, dim2), "diagonal")
    d1, d2 = _wrap_dim(dim1, self.dim()), _wrap_dim(dim2, self.dim())
    values, mask = _on_diagonal(src.to(self.dtype), self.size(d1), self.size(d2), offset)
    return _C._where(_last_two_to(mask, d1, d2), _last_two_to(values, d1, d2), self)


def _masked_scatter(self: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``where(mask, source.flatten()[cumsum(mask) - 1], self)``: the k-th True position (row-major) takes
    source's k-th element. ``mask`` already has self's shape."""
    if mask.dtype != _C.bool:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype}")
    if self.dtype != source.dtype:
        raise RuntimeError(f"masked_scatter_: expected self and source to have same dtypes but got "
                           f"{_tname(self.dtype)} and {_tname(source.dtype)}")
    flat, src = mask.reshape(-1), source.reshape(-1)
    if flat.numel() > src.numel() and int(flat.sum().item()) > src.numel():
        raise RuntimeError("Number of elements of source < number of ones in mask")
    if src.numel() == 0:
        return self.clone()
    pos = (flat.long().cumsum(0) - 1).clamp(0, src.numel() - 1)
    return _C._where(mask, src.index_select(0, pos).reshape(mask.shape), self)


@_method("masked_scatter")
def masked_scatter(self: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """Copies source's elements, in order, into the positions where ``mask`` (broadcast with self) is True."""
    shape = _infer_size(mask.shape, self.shape)
    return _masked_scatter(self.expand(*shape), mask.expand(*shape), source)


@_method("masked_scatter_")
def masked_scatter_(self: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """In-place ``masked_scatter`` (mask broadcasts to self's shape)."""
    return _inplace(self, _masked_scatter, mask.expand(*self.shape), source)


# ---- the torch.* functions ----
_AS_METHODS = [
    "broadcast_to", "flipud", "fliplr", "rot90", "logaddexp", "logaddexp2", "logit", "hypot", "copysign",
    "heaviside", "sinc", "deg2rad", "rad2deg", "positive", "gcd", "lcm", "nansum", "nanmean", "diff",
    "logcumsumexp", "renorm", "quantile", "nanquantile", "cov", "corrcoef", "histc", "kron", "addmv", "addr",
    "diag_embed", "diagflat", "take_along_dim", "index_fill", "index_copy", "select_scatter", "slice_scatter",
    "diagonal_scatter", "masked_scatter",
]


def _torch_xlogy(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """``torch.xlogy``: either argument may be a Python number."""
    if not isinstance(input, Tensor):
        input = _C.tensor(input, dtype=_float_type(other, input), device=other.device)
    r = xlogy(input, other)
    return _C._write_out(r, out) if out is not None else r


def _with_doc(name: str) -> Callable:
    f = _forward(name)
    f.__doc__ = getattr(Tensor, name).__doc__
    return f


COMPOSITES: dict[str, Callable] = {name: _with_doc(name) for name in _AS_METHODS}
COMPOSITES.update({
    "xlogy": _torch_xlogy, "tensordot": tensordot, "trapezoid": trapezoid, "trapz": trapz,
    "cumulative_trapezoid": cumulative_trapezoid, "vander": vander,
    "triu_indices": triu_indices, "tril_indices": tril_indices, "block_diag": block_diag,
    "cartesian_prod": cartesian_prod, "combinations": combinations, "unravel_index": unravel_index,
    "atleast_1d": atleast_1d, "atleast_2d": atleast_2d, "atleast_3d": atleast_3d,
})
