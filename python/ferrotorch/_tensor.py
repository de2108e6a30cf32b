"""Tensor methods written in Python: aliases, keyword-heavy signatures and named-tuple returns.
The hot paths (arithmetic, indexing, matmul, views, reductions) are Rust methods of ``_C.Tensor``."""

from __future__ import annotations

import builtins
import itertools
import math
import types
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from . import _C
from ._C import Tensor

_py_bool, _py_int, _py_float = builtins.bool, builtins.int, builtins.float


def _named(name: str, fields: Sequence[str]) -> type:
    base = namedtuple(name, fields)  # type: ignore[misc]

    def __repr__(self: Any) -> str:
        inner = ",\n".join(f"{f}={getattr(self, f)!r}" for f in fields)
        return f"torch.return_types.{name}(\n{inner})"

    # builtins.type: this module defines a Tensor method named ``type`` further down
    return builtins.type(name, (base,), {"__repr__": __repr__, "__module__": "torch.return_types", "__slots__": ()})


class return_types:
    """``torch.return_types``: the named tuples returned by max/min/sort/topk/..."""

    max = _named("max", ("values", "indices"))
    min = _named("min", ("values", "indices"))
    sort = _named("sort", ("values", "indices"))
    topk = _named("topk", ("values", "indices"))
    kthvalue = _named("kthvalue", ("values", "indices"))
    median = _named("median", ("values", "indices"))
    mode = _named("mode", ("values", "indices"))
    aminmax = _named("aminmax", ("min", "max"))
    cummax = _named("cummax", ("values", "indices"))
    cummin = _named("cummin", ("values", "indices"))


def _method(name: str):
    def deco(fn):
        if isinstance(fn, types.FunctionType):
            fn.__name__ = name
            fn.__qualname__ = f"Tensor.{name}"
        setattr(Tensor, name, fn)
        return fn

    return deco


# ---- autograd ----
@_method("backward")
def backward(self: Tensor, gradient: Tensor | None = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
    """Accumulates d(self)/d(leaf) into each leaf's ``.grad``."""
    from .autograd import backward as _backward

    _backward(self, gradient, retain_graph, create_graph, inputs=inputs)


def _hook_with_handle(register: Any, tensor: Tensor, hook: Any) -> Any:
    """Registers a forwarding closure in the core; the returned handle's ``remove()`` disconnects it."""
    from .utils.hooks import RemovableHandle

    hooks: dict = {}
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook

    def forward(*args: Any) -> Any:
        fn = hooks.get(handle.id)
        return None if fn is None else fn(*args)

    register(tensor, forward)
    return handle


_core_register_hook = Tensor.register_hook
_core_register_post_accumulate_grad_hook = Tensor.register_post_accumulate_grad_hook


@_method("register_hook")
def register_hook(self: Tensor, hook: Any) -> Any:
    """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is computed; a returned tensor
    replaces the gradient. Returns a handle with ``remove()``."""
    return _hook_with_handle(_core_register_hook, self, hook)


@_method("register_post_accumulate_grad_hook")
def register_post_accumulate_grad_hook(self: Tensor, hook: Any) -> Any:
    """``hook(tensor)`` runs after a gradient has been accumulated into this leaf's ``.grad``."""
    return _hook_with_handle(_core_register_post_accumulate_grad_hook, self, hook)


# ---- element-wise unary ops by name (+ in-place forms) ----
_UNARY = [
    "sign", "exp2", "expm1", "log1p", "log2", "log10", "rsqrt", "square", "sin", "cos", "tan", "asin",
    "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "floor", "ceil", "trunc", "frac",
    "reciprocal", "erf", "logical_not", "bitwise_not", "isnan", "isinf", "isfinite", "isposinf", "isneginf",
    "signbit", "erfc", "erfinv", "lgamma", "digamma",
]
_ALIASES = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh", "arccosh": "acosh",
            "arctanh": "atanh", "negative": "neg", "absolute": "abs", "fix": "trunc"}


def _make_unary(op: str):
    def f(self: Tensor) -> Tensor:
        return self._unary(op)

    def f_(self: Tensor) -> Tensor:
        return self._unary_(op)

    return f, f_


for _n in _UNARY + ["exp", "log", "relu", "sigmoid", "tanh", "sqrt", "neg", "abs"]:
    _f, _f_ = _make_unary(_n)
    if not hasattr(Tensor, _n):
        _method(_n)(_f)
    _method(_n + "_")(_f_)
for _a, _n in _ALIASES.items():
    _method(_a)(getattr(Tensor, _n))
    _method(_a + "_")(getattr(Tensor, _n + "_"))


def _polygamma_order(n: Any) -> float:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n or a non-integer n, got {n!r}")
    return float(n)


@_method("polygamma")
def polygamma(self: Tensor, n: int) -> Tensor:
    """The ``n``-th derivative of digamma at each element (n = 0 is digamma)."""
    return self._unary("polygamma", _polygamma_order(n))


@_method("polygamma_")
def polygamma_(self: Tensor, n: int) -> Tensor:
    return self._unary_("polygamma", _polygamma_order(n))


@_method("mvlgamma")
def mvlgamma(self: Tensor, p: int) -> Tensor:
    """The log of the multivariate gamma function of dimension ``p``:
    ``p(p-1)/4 log(pi) + sum_i lgamma(x - i/2)`` for i in [0, p)."""
    import ferrotorch

    if p < 1:
        raise RuntimeError(f"p has to be greater than or equal to 1, got {p}")
    x = self if self.is_floating_point() else self.to(ferrotorch.get_default_dtype())
    if bool((x <= (p - 1) / 2).any()):
        raise RuntimeError(f"All elements must be greater than (p-1)/2, got p = {p}")
    offsets = ferrotorch.arange(p, dtype=x.dtype, device=x.device) * -0.5
    return (x.unsqueeze(-1) + offsets).lgamma().sum(-1) + p * (p - 1) / 4 * math.log(math.pi)


@_method("mvlgamma_")
def mvlgamma_(self: Tensor, p: int) -> Tensor:
    return self.copy_(self.mvlgamma(p))


@_method("round")
def round(self: Tensor, decimals: int = 0) -> Tensor:
    return self._unary("round") if decimals == 0 else self._unary("round_decimals", decimals)


@_method("round_")
def round_(self: Tensor, decimals: int = 0) -> Tensor:
    return self._unary_("round") if decimals == 0 else self._unary_("round_decimals", decimals)


@_method("nan_to_num")
def nan_to_num(self: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    big = _finfo_max(self)
    return self._unary("nan_to_num", nan, big if posinf is None else posinf, -big if neginf is None else neginf)


@_method("nan_to_num_")
def nan_to_num_(self: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    big = _finfo_max(self)
    return self._unary_("nan_to_num", nan, big if posinf is None else posinf, -big if neginf is None else neginf)


def _finfo_max(t: Tensor) -> float:
    return {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": 3.4028234663852886e38}.get(
        t.dtype.__repr__()[6:], 1.7976931348623157e308)


def _bound(v: Any, lo: bool, t: Tensor) -> float:
    if v is None:
        return -math.inf if lo else math.inf
    return _py_float(v)


@_method("clamp")
def clamp(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Clamps into [min, max]; either bound may be a tensor."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = self
        if min is not None:
            out = out.maximum(min if isinstance(min, Tensor) else _C.tensor(min, dtype=self.dtype))
        if max is not None:
            out = out.minimum(max if isinstance(max, Tensor) else _C.tensor(max, dtype=self.dtype))
        return out
    x = self
    for b in (min, max):
        if b is not None and not isinstance(b, _py_bool) and _C.result_type(x, b) != x.dtype:
            x = x.to(_C.result_type(x, b))
    return x._unary("clamp", _bound(min, True, self), _bound(max, False, self))


@_method("clamp_")
def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return self.copy_(self.clamp(min, max))
    return self._unary_("clamp", _bound(min, True, self), _bound(max, False, self))


Tensor.clip = clamp
Tensor.clip_ = clamp_
Tensor.clamp_min = lambda self, min: clamp(self, min=min)
Tensor.clamp_max = lambda self, max: clamp(self, max=max)


# ---- element-wise binary ops by name (+ in-place forms) ----
_BINARY = ["floor_divide", "remainder", "fmod", "atan2", "maximum", "minimum", "eq", "ne", "lt", "le",
           "gt", "ge", "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
           "bitwise_left_shift", "bitwise_right_shift"]
_BINARY_ALIASES = {"greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le", "not_equal": "ne",
                   "arctan2": "atan2"}


def _make_binary(op: str):
    def f(self: Tensor, other: Any) -> Tensor:
        return self._binary(other, op)

    def f_(self: Tensor, other: Any) -> Tensor:
        return self._binary_(other, op)

    return f, f_


for _n in _BINARY:
    _f, _f_ = _make_binary(_n)
    _method(_n)(_f)
    _method(_n + "_")(_f_)
for _a, _n in _BINARY_ALIASES.items():
    _method(_a)(getattr(Tensor, _n))
    _method(_a + "_")(getattr(Tensor, _n + "_"))


@_method("div")
def div(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode is None:
        return self._binary(other, "div")
    if rounding_mode == "floor":
        return self._binary(other, "floor_divide")
    if rounding_mode == "trunc":
        if not _C.result_type(self, other).is_floating_point:
            # exact integer truncation: a - fmod(a, b) is a multiple of b
            return (self - self.fmod(other))._binary(other, "floor_divide")
        return self._binary(other, "div").trunc()
    raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")


@_method("div_")
def div_(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode is None:
        return self._binary_(other, "div")
    return self.copy_(div(self, other, rounding_mode=rounding_mode))


Tensor.divide = div
Tensor.divide_ = div_
Tensor.true_divide = lambda self, other: self._binary(other, "div")
Tensor.true_divide_ = lambda self, other: self._binary_(other, "div")
Tensor.multiply = Tensor.mul
Tensor.multiply_ = Tensor.mul_
Tensor.subtract = Tensor.sub
Tensor.subtract_ = Tensor.sub_


@_method("pow")
def pow(self: Tensor, exponent: Any) -> Tensor:
    return self ** exponent


@_method("pow_")
def pow_(self: Tensor, exponent: Any) -> Tensor:
    if self.dtype.is_floating_point and isinstance(exponent, (_py_int, _py_float)) and not isinstance(exponent, _py_bool):
        return self._unary_("pow_scalar", exponent)
    return self._binary_(exponent, "pow")


Tensor.float_power = lambda self, e: self.double() ** (e.double() if isinstance(e, Tensor) else e)


@_method("lerp")
def lerp(self: Tensor, end: Tensor, weight: Any) -> Tensor:
    return self + (end - self) * weight


@_method("lerp_")
def lerp_(self: Tensor, end: Tensor, weight: Any) -> Tensor:
    return self.add_((end - self) * weight)


@_method("addcmul")
def addcmul(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    return self + tensor1 * tensor2 * value


@_method("addcmul_")
def addcmul_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    return self.add_(tensor1 * tensor2, alpha=value)


@_method("addcdiv")
def addcdiv(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    return self + tensor1 / tensor2 * value


@_method("addcdiv_")
def addcdiv_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    return self.add_(tensor1 / tensor2, alpha=value)


@_method("addmm")
def addmm(self: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    return _beta_self_plus_alpha(self, mat1.mm(mat2), beta, alpha)


def _beta_self_plus_alpha(self: Tensor, prod: Tensor, beta: Any, alpha: Any) -> Tensor:
    """``beta * self + alpha * prod``, the tail of the add*mm family."""
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod + self.new_zeros(self.shape)  # beta=0: input is ignored, NaN and inf in it too
    return prod + (self if beta == 1 else self * beta)


@_method("baddbmm")
def baddbmm(self: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * self + alpha * (batch1 @ batch2)`` for [b, n, k] @ [b, k, m] (self broadcasts)."""
    return _beta_self_plus_alpha(self, batch1.bmm(batch2), beta, alpha)


@_method("addbmm")
def addbmm(self: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * self + alpha * sum_b(batch1[b] @ batch2[b])``."""
    return _beta_self_plus_alpha(self, batch1.bmm(batch2).sum(0), beta, alpha)


@_method("mv")
def mv(self: Tensor, vec: Tensor) -> Tensor:
    if self.dim() != 2 or vec.dim() != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {self.dim()}, {vec.dim()}")
    return self.matmul(vec)


@_method("outer")
def outer(self: Tensor, vec2: Tensor) -> Tensor:
    return self.unsqueeze(1) * vec2.unsqueeze(0)


Tensor.ger = outer


@_method("where")
def where(self: Tensor, condition: Tensor, other: Any) -> Tensor:
    return _C._where(condition, self, other)


# ---- reductions with named-tuple results ----
@_method("max")
def max(self: Tensor, dim: Any = None, keepdim: bool = False):
    """max() of all elements, max(dim) → (values, indices), or max(other) element-wise."""
    if isinstance(dim, Tensor):
        return self.maximum(dim)
    if dim is None:
        return self.amax()
    return return_types.max(*self._max_min_dim(dim, keepdim, True))


@_method("min")
def min(self: Tensor, dim: Any = None, keepdim: bool = False):
    if isinstance(dim, Tensor):
        return self.minimum(dim)
    if dim is None:
        return self.amin()
    return return_types.min(*self._max_min_dim(dim, keepdim, False))


@_method("aminmax")
def aminmax(self: Tensor, *, dim: int | None = None, keepdim: bool = False):
    return return_types.aminmax(self.amin(dim, keepdim), self.amax(dim, keepdim))


def _correction(unbiased: Any, correction: Any) -> float:
    if correction is not None:
        return _py_float(correction)
    if unbiased is None:
        return 1.0
    return 1.0 if unbiased else 0.0


@_method("std")
def std(self: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None) -> Tensor:
    if isinstance(dim, _py_bool):
        dim, unbiased = None, dim
    return self._var_std(dim, _correction(unbiased, correction), keepdim, True)


@_method("var")
def var(self: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *, correction: Any = None) -> Tensor:
    if isinstance(dim, _py_bool):
        dim, unbiased = None, dim
    return self._var_std(dim, _correction(unbiased, correction), keepdim, False)


@_method("var_mean")
def var_mean(self: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None) -> tuple:
    return var(self, dim, unbiased, keepdim, correction=correction), self.mean(dim, keepdim)


@_method("std_mean")
def std_mean(self: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None) -> tuple:
    return std(self, dim, unbiased, keepdim, correction=correction), self.mean(dim, keepdim)


def _cum_extreme(self: Tensor, dim: int, is_max: bool):
    n = self.size(dim) if self.dim() else 1
    x = self if self.dim() else self.reshape(1)
    d = dim % x.dim()
    vals, idxs, best, best_i = [], [], None, None
    for k in range(n):
        cur = x.select(d, k)
        if best is None:
            best, best_i = cur, _C.zeros(*cur.shape, dtype=_C.int64, device=x.device)
        else:
            # a later equal value takes the index, and NaN sticks, as in PyTorch
            take = (cur >= best) if is_max else (cur <= best)
            take = take | cur.isnan() if cur.is_floating_point() else take
            if best.is_floating_point():
                take = take & ~(best.isnan() & ~cur.isnan())
            best = _C._where(take, cur, best)
            best_i = _C._where(take, _C.full(tuple(cur.shape), k, dtype=_C.int64, device=x.device), best_i)
        vals.append(best)
        idxs.append(best_i)
    v, i = _C.stack(vals, d), _C.stack(idxs, d)
    if not self.dim():
        v, i = v.reshape(()), i.reshape(())
    return v, i


@_method("cummax")
def cummax(self: Tensor, dim: int):
    return return_types.cummax(*_cum_extreme(self, dim, True))


@_method("cummin")
def cummin(self: Tensor, dim: int):
    return return_types.cummin(*_cum_extreme(self, dim, False))


@_method("norm")
def norm(self: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    x = self if dtype is None else self.to(dtype)
    if p is None or p == "fro":
        p = 2.0
    elif p == "nuc":
        from .linalg import matrix_norm

        return matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim)
    return x._norm(_py_float(p), dim, keepdim)


@_method("count_nonzero")
def count_nonzero(self: Tensor, dim: Any = None) -> Tensor:
    return (self != 0).sum(dim)


@_method("sort")
def sort(self: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    return return_types.sort(*self._sort(dim, descending, None))


@_method("argsort")
def argsort(self: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return self._sort(dim, descending, None)[1]


@_method("msort")
def msort(self: Tensor) -> Tensor:
    """The values sorted along dim 0 (``sort(dim=0).values``)."""
    return self._sort(0, False, None)[0]


@_method("topk")
def topk(self: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    return return_types.topk(*self._sort(dim, largest, k))


@_method("kthvalue")
def kthvalue(self: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    v, i = self._sort(dim, False, k)
    v, i = v.narrow(dim, k - 1, 1), i.narrow(dim, k - 1, 1)
    if not keepdim:
        v, i = v.squeeze(dim), i.squeeze(dim)
    return return_types.kthvalue(v, i)


@_method("median")
def median(self: Tensor, dim: Any = None, keepdim: bool = False):
    if dim is None:
        flat = self.reshape(-1)
        return flat._sort(0, False, None)[0][(flat.numel() - 1) // 2]
    n = self.size(dim)
    return kthvalue(self, (n + 1) // 2, dim, keepdim)


@_method("unique")
def unique(self: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim: int | None = None):
    if dim is None:
        u, inv, counts = self._unique()
    else:
        u, inv, counts = _unique_dim(self, dim)
    return _unique_result(u, inv, counts, return_inverse, return_counts)


def _unique_result(u: Tensor, inv: Tensor, counts: Tensor, return_inverse: bool, return_counts: bool) -> Any:
    out = [u]
    if return_inverse:
        out.append(inv)
    if return_counts:
        out.append(counts)
    return out[0] if len(out) == 1 else tuple(out)


def _as_rows(x: Tensor, dim: int) -> tuple[Tensor, int]:
    """``x`` with ``dim`` first, flattened to ``[size, -1]`` rows (and the wrapped dim)."""
    if x.dim() == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = dim + x.dim() if dim < 0 else dim
    if not 0 <= d < x.dim():
        raise IndexError(f"Dimension out of range (expected to be in range of [{-x.dim()}, {x.dim() - 1}], "
                         f"but got {dim})")
    return x.movedim(d, 0).reshape(x.shape[d], -1), d


def _from_rows(rows: Tensor, like: Tensor, d: int) -> Tensor:
    shape = [rows.shape[0]] + [n for i, n in enumerate(like.shape) if i != d]
    return rows.reshape(shape).movedim(0, d)


def _unique_dim(x: Tensor, dim: int) -> tuple[Tensor, Tensor, Tensor]:
    """The distinct slices along ``dim`` in lexicographic order (numpy's ``unique(axis=)`` on a host copy:
    the output size depends on the data, so PyTorch waits for the device here too)."""
    import numpy as np

    rows, d = _as_rows(x, dim)
    host = rows.cpu()
    wide = host.dtype == _C.bfloat16  # numpy has no bfloat16; float32 holds it exactly
    arr = (host.float() if wide else host).numpy()
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        keep = min(arr.shape[0], 1)
        u = arr[:keep]
        inv = np.zeros(arr.shape[0], np.int64)
        counts = np.full(keep, arr.shape[0], np.int64)
    else:
        u, inv, counts = np.unique(arr, axis=0, return_inverse=True, return_counts=True)
    ut = _C.from_numpy(np.ascontiguousarray(u))
    ut = (ut.to(_C.bfloat16) if wide else ut).to(x.device)
    return (_from_rows(ut, x, d), _C.from_numpy(inv.reshape(-1).astype(np.int64)).to(x.device),
            _C.from_numpy(counts.astype(np.int64)).to(x.device))


@_method("unique_consecutive")
def unique_consecutive(self: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None) -> Any:
    """Collapses each run of equal consecutive elements (slices along ``dim``) to one."""
    if dim is None:
        flat, d = self.reshape(-1, 1), 0
    else:
        flat, d = _as_rows(self, dim)
    n = flat.shape[0]
    if n == 0:
        empty = _C.zeros(0, dtype=_C.int64, device=self.device)
        u = self.reshape(-1) if dim is None else self
        return _unique_result(u, empty.reshape(self.shape if dim is None else (0,)), empty, return_inverse,
                              return_counts)
    starts = _C.ones(n, dtype=_C.bool, device=self.device)
    if n > 1:
        starts[1:] = (flat[1:] != flat[:-1]).any(1)
    rows = flat[starts]
    u = rows.reshape(-1) if dim is None else _from_rows(rows, self, d)
    inv = starts.long().cumsum(0) - 1
    counts = _C.zeros(rows.shape[0], dtype=_C.int64, device=self.device).index_add(
        0, inv, _C.ones(n, dtype=_C.int64, device=self.device))
    return _unique_result(u, inv.reshape(self.shape) if dim is None else inv, counts, return_inverse,
                          return_counts)


@_method("nonzero")
def nonzero(self: Tensor, *, as_tuple: bool = False):
    nz = self._nonzero()
    if as_tuple:
        if self.dim() == 0:
            return (nz.reshape(-1),)
        return tuple(nz[:, i] for i in range(nz.shape[1]))
    return nz


@_method("argwhere")
def argwhere(self: Tensor) -> Tensor:
    return self._nonzero()


# ---- shape helpers ----
@_method("split")
def split(self: Tensor, split_size_or_sections: Any, dim: int = 0):
    if isinstance(split_size_or_sections, (list, tuple)):
        return self._split_sizes(list(split_size_or_sections), dim)
    return self._split_size(split_size_or_sections, dim)


@_method("tensor_split")
def tensor_split(self: Tensor, sections: Any, dim: int = 0):
    n = self.size(dim)
    if isinstance(sections, _py_int):
        q, r = divmod(n, sections)
        sizes = [q + 1] * r + [q] * (sections - r)
    else:
        bounds = [0, *sections, n]
        sizes = [builtins.max(0, builtins.min(b, n) - builtins.min(a, n)) for a, b in itertools.pairwise(bounds)]
    return self._split_sizes(sizes, dim)


@_method("tile")
def tile(self: Tensor, *dims: Any) -> Tensor:
    reps = list(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else list(dims)
    reps = [1] * (self.dim() - len(reps)) + reps
    return self.repeat(*reps)


@_method("repeat_interleave")
def repeat_interleave(self: Tensor, repeats: Any = None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    if repeats is None:  # torch.repeat_interleave(repeats): self holds the counts
        return _C.arange(self.numel(), device=self.device).repeat_interleave(self)
    x = self.reshape(-1) if dim is None else self
    d = 0 if dim is None else dim % x.dim()
    n = x.size(d)
    if isinstance(repeats, Tensor) and repeats.numel() != 1:
        counts = repeats.tolist()
        if len(counts) != n:
            raise RuntimeError("repeats must have the same size as input along dim")
        if builtins.min(counts, default=0) < 0:
            raise RuntimeError("repeats can not be negative")
        idx = _C.tensor([i for i, c in enumerate(counts) for _ in range(c)], dtype=_C.int64, device=x.device)
    else:
        r = _py_int(repeats)
        if r < 0:
            raise RuntimeError("repeats can not be negative")
        idx = _C.arange(n, device=x.device).unsqueeze(1).expand(n, r).reshape(-1)
    return x.index_select(d, idx)


@_method("view_as")
def view_as(self: Tensor, other: Tensor) -> Tensor:
    return self.view(other.shape)


@_method("reshape_as")
def reshape_as(self: Tensor, other: Tensor) -> Tensor:
    return self.reshape(other.shape)


@_method("expand_as")
def expand_as(self: Tensor, other: Tensor) -> Tensor:
    return self.expand(other.shape)


@_method("unflatten")
def unflatten(self: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    d = dim % self.dim() if self.dim() else 0
    shape = list(self.shape)
    sizes = list(sizes)
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or (-1 not in sizes and known != shape[d]) or (
            -1 in sizes and (known == 0 or shape[d] % known)):
        raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {dim} "
                           f"({shape[d]}) in the input tensor")
    return self.reshape(shape[:d] + sizes + shape[d + 1:])


@_method("swapaxes")
def swapaxes(self: Tensor, axis0: int, axis1: int) -> Tensor:
    return self.transpose(axis0, axis1)


Tensor.swapdims = swapaxes
# mH, H and adjoint (with PyTorch's shape errors) are in _torch_numeric.py
Tensor.moveaxis = Tensor.movedim
Tensor.ndimension = Tensor.dim
Tensor.nelement = Tensor.numel
Tensor.concat = lambda self, *a, **k: _C.cat(*a, **k)


@_method("squeeze_")
def squeeze_(self: Tensor, dim: Any = None) -> Tensor:
    self.data = self.squeeze(dim)
    return self


@_method("unsqueeze_")
def unsqueeze_(self: Tensor, dim: int) -> Tensor:
    self.data = self.unsqueeze(dim)
    return self


@_method("t_")
def t_(self: Tensor) -> Tensor:
    self.data = self.t()
    return self


@_method("transpose_")
def transpose_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    self.data = self.transpose(dim0, dim1)
    return self


@_method("resize_")
def resize_(self: Tensor, *sizes: Any) -> Tensor:
    shape = sizes[0] if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    if math.prod(shape) == self.numel():
        self.data = self.reshape(shape)
    else:
        self.data = _C.zeros(*shape, dtype=self.dtype, device=self.device)
    return self


# ---- scatter family ----
@_method("scatter")
def scatter(self: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None, reduce: Any = None) -> Tensor:
    s = value if src is None else src
    if reduce == "add":
        return self._scatter(dim, index, s, True)
    if reduce == "multiply":
        if not isinstance(s, Tensor):
            s = _C.full(tuple(index.shape), s, dtype=self.dtype, device=self.device)
        return self._scatter_mode(dim, index, s, "prod")
    if reduce is not None:
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    return self._scatter(dim, index, s, False)


@_method("scatter_")
def scatter_(self: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None, reduce: Any = None) -> Tensor:
    s = value if src is None else src
    if reduce == "multiply":
        return self.copy_(scatter(self, dim, index, s, reduce=reduce))
    if reduce not in (None, "add"):
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    return self._scatter_(dim, index, s, reduce == "add")


@_method("scatter_add")
def scatter_add(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return self._scatter(dim, index, src, True)


@_method("scatter_add_")
def scatter_add_(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return self._scatter_(dim, index, src, True)


@_method("index_add_")
def index_add_(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    idx: list = [None] * (dim % self.dim())
    return self.index_put_(tuple(idx + [index]), source.movedim(dim, dim) * alpha, accumulate=True)


@_method("index_add")
def index_add(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """Out-of-place ``index_add_``: ``out[..., index[i], ...] += alpha * source[..., i, ...]`` along ``dim``."""
    return self.clone().index_add_(dim, index, source, alpha=alpha)


# ---- dtype / device conversion ----
def _parse_to(args: tuple, kwargs: dict):
    dtype = kwargs.get("dtype")
    device = kwargs.get("device")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, _C.dtype):
            dtype = a
        elif isinstance(a, (str, _C.device)) or isinstance(a, _py_int) and not isinstance(a, _py_bool):
            device = a
    return dtype, device


@_method("to")
def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``to(dtype)``, ``to(device)``, ``to(other)``, ``to(device, dtype)``; returns self when nothing changes."""
    dtype, device = _parse_to(args, kwargs)
    out = self
    if device is not None:
        out = out._to_device(device)
    if dtype is not None and dtype != out.dtype:
        out = out._cast(dtype)
    if out is self and kwargs.get("copy"):
        out = self.clone()
    return out


@_method("type")
def type(self: Tensor, dtype: Any = None, non_blocking: bool = False, **kwargs: Any):
    if dtype is None:
        return _type_name(self)
    if isinstance(dtype, str):
        from ._legacy import dtype_of_type_name

        dtype = dtype_of_type_name(dtype)
    return self.to(dtype)


def _type_name(t: Tensor) -> str:
    from ._legacy import type_name_of_dtype

    return "torch." + type_name_of_dtype(t.dtype)


@_method("type_as")
def type_as(self: Tensor, other: Tensor) -> Tensor:
    return self.to(other.dtype)


@_method("cpu")
def cpu(self: Tensor, memory_format: Any = None) -> Tensor:
    return self._to_device("cpu")


@_method("cuda")
def cuda(self: Tensor, device: Any = None, non_blocking: bool = False, **kwargs: Any) -> Tensor:
    return self._to_device("cuda" if device is None else device)  # an int is a CUDA ordinal


Tensor.short = lambda self, memory_format=None: self._cast(_C.int16)
Tensor.char = lambda self, memory_format=None: self._cast(_C.int8)
Tensor.byte = lambda self, memory_format=None: self._cast(_C.uint8)
Tensor.is_signed = lambda self: self.dtype.is_signed
Tensor.get_device = lambda self: self.device.index if self.is_cuda else -1
Tensor.pin_memory = lambda self: self
Tensor.is_pinned = lambda self: False
Tensor.share_memory_ = lambda self: self
# A device's work runs on one stream (cuda/streams.py): no other stream can still be using memory.
Tensor.record_stream = lambda self, stream: None
Tensor.is_shared = lambda self: False
Tensor.requires_grad_ = Tensor.requires_grad_
Tensor.is_sparse = False
Tensor.is_quantized = False
Tensor.is_meta = False
Tensor.layout = "torch.strided"


# ---- factories off an existing tensor ----
def _like_kwargs(self: Tensor, kwargs: dict) -> dict:
    kwargs.setdefault("dtype", self.dtype)
    kwargs.setdefault("device", self.device)
    return kwargs


Tensor.new_zeros = lambda self, *size, **kw: _C.zeros(*size, **_like_kwargs(self, kw))
Tensor.new_ones = lambda self, *size, **kw: _C.ones(*size, **_like_kwargs(self, kw))
Tensor.new_empty = lambda self, *size, **kw: _C.empty(*size, **_like_kwargs(self, kw))
Tensor.new_full = lambda self, size, fill_value, **kw: _C.full(size, fill_value, **_like_kwargs(self, kw))
Tensor.new_tensor = lambda self, data, **kw: _C.tensor(data, **_like_kwargs(self, kw))


# ---- random fills ----
@_method("uniform_")
def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
    _C._sample_(self, "uniform", a, b, generator)
    return self


@_method("normal_")
def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    _C._sample_(self, "normal", mean, std, generator)
    return self


@_method("bernoulli_")
def bernoulli_(self: Tensor, p: Any = 0.5, *, generator: Any = None) -> Tensor:
    if isinstance(p, Tensor):
        return self.copy_(_C.bernoulli(p.expand_as(self).to(self.dtype if self.dtype.is_floating_point else p.dtype),
                                       generator=generator))
    _C._sample_(self, "bernoulli", p, 0.0, generator)
    return self


@_method("bernoulli")
def bernoulli(self: Tensor, p: Any = None, *, generator: Any = None) -> Tensor:
    if p is None:
        return _C.bernoulli(self, generator=generator)
    return _C.empty(*self.shape, dtype=self.dtype, device=self.device).bernoulli_(p, generator=generator)


@_method("random_")
def random_(self: Tensor, from_: int = 0, to: int | None = None, *, generator: Any = None) -> Tensor:
    if to is None:
        to, from_ = (from_ if from_ else 2 ** 24), 0
    _C._sample_(self, "random", from_, to, generator)
    return self


@_method("exponential_")
def exponential_(self: Tensor, lambd: float = 1.0, *, generator: Any = None) -> Tensor:
    _C._sample_(self, "exponential", lambd, 0.0, generator)
    return self


Tensor.multinomial = lambda self, num_samples, replacement=False, *, generator=None: _C.multinomial(
    self, num_samples, replacement, generator=generator)


# ---- activations as methods ----
@_method("softmax")
def softmax(self: Tensor, dim: int, dtype: Any = None) -> Tensor:
    from .nn import functional as F

    return F.softmax(self, dim, dtype=dtype)


@_method("log_softmax")
def log_softmax(self: Tensor, dim: int, dtype: Any = None) -> Tensor:
    from .nn import functional as F

    return F.log_softmax(self, dim, dtype=dtype)


# ---- Python protocol extras ----
@_method("__format__")
def __format__(self: Tensor, spec: str) -> str:
    # as PyTorch: a 0-dim plain tensor formats as its number ('{}'.format(loss) prints 0.123...), a Parameter
    # or a tensor with dims as its repr (and a non-empty spec is then a TypeError)
    if self.dim() == 0 and builtins.type(self) is Tensor:
        return self.detach().item().__format__(spec)
    if spec:
        raise TypeError("unsupported format string passed to Tensor.__format__")
    return repr(self)


Tensor.__str__ = lambda self: repr(self)


@_method("__contains__")
def __contains__(self: Tensor, element: Any) -> bool:
    return _py_bool((self == element).any().item())


@_method("__reversed__")
def __reversed__(self: Tensor) -> Tensor:
    return self.flip(0) if self.dim() else self


@_method("__deepcopy__")
def __deepcopy__(self: Tensor, memo: dict) -> Tensor:
    if id(self) in memo:
        return memo[id(self)]
    with _no_grad():
        new = self.clone()
    if builtins.type(self) is not Tensor:
        new = Tensor._make_subclass(builtins.type(self), new, self.requires_grad)
        new.__dict__.update(__import__("copy").deepcopy(self.__dict__, memo))
    else:
        new.requires_grad_(self.requires_grad)
    if self.grad is not None:
        new.grad = self.grad.clone()
    memo[id(self)] = new
    return new


def _rebuild_from_numpy(
    array: Any, dtype_name: str, requires_grad: bool, cls: Any = None, device: str = "cpu"
) -> Tensor:
    dtype = getattr(_C, dtype_name)
    # the unpickled array is fresh and owned: share it rather than copy (bfloat16 travels as float32)
    t = _C.from_numpy(array) if array.flags.c_contiguous and array.flags.writeable else _C.tensor(array)
    t = t.to(device, dtype)
    if cls is not None and cls is not Tensor:
        return Tensor._make_subclass(cls, t, requires_grad)
    return t.requires_grad_(requires_grad) if requires_grad else t


@_method("__reduce_ex__")
def __reduce_ex__(self: Tensor, protocol: int):
    """Pickles by value (numpy array + dtype + device): used by copy/pickle and ``save(model)``."""
    x = self.detach().cpu()
    name = repr(self.dtype)[6:]
    arr = (x.float() if name == "bfloat16" else x).numpy().copy()
    cls = builtins.type(self)
    state = dict(self.__dict__) if cls is not Tensor and self.__dict__ else None
    device = str(self.device)
    args = (arr, name, self.requires_grad, cls) + ((device,) if device != "cpu" else ())
    return (_rebuild_from_numpy, args, state)


def _setstate(self: Tensor, state: Any) -> None:
    if state:
        self.__dict__.update(state)


Tensor.__setstate__ = _setstate


class _no_grad:
    def __enter__(self) -> None:
        self.prev = _C._set_grad_enabled(False)

    def __exit__(self, *a: object) -> None:
        _C._set_grad_enabled(self.prev)
