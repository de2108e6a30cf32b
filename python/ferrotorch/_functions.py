"""``torch.*`` functions that mirror Tensor methods (``torch.exp(x)`` is ``x.exp()``), with ``out=``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _C
from ._C import Tensor

# Functions whose first argument is the tensor the method is called on.
_METHODS = ["abs", "absolute", "acos", "acosh", "add", "addcdiv", "addbmm", "addcmul", "addmm", "baddbmm", "all", "amax", "amin", "aminmax", "any", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "argmax", "argmin", "argsort", "argwhere", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor", "bmm", "ceil", "chunk", "clamp", "clamp_max", "clamp_min", "clip", "clone", "cos", "cosh", "count_nonzero", "cummax", "cummin", "cumprod", "cumsum", "detach", "diagonal", "div", "divide", "dot", "eq", "erf", "erfc", "erfinv", "lgamma", "digamma", "mvlgamma", "exp", "exp2", "expm1", "fix", "flatten", "flip", "float_power", "floor", "floor_divide", "fmod", "frac", "gather", "ge", "ger", "greater", "greater_equal", "gt", "index_add", "index_select", "isfinite", "isinf", "isnan", "isneginf", "isposinf", "kthvalue", "le", "lerp", "less", "less_equal", "log", "log10", "log1p", "log2", "logical_and", "logical_not", "logical_or", "logical_xor", "logsumexp", "lt", "masked_fill", "masked_select", "matmul", "max", "maximum", "mean", "median", "min", "minimum", "mm", "moveaxis", "movedim", "msort", "mul", "multinomial", "multiply", "mv", "nan_to_num", "narrow", "ne", "neg", "negative", "nonzero", "norm", "not_equal", "numel", "outer", "permute", "pow", "prod", "reciprocal", "relu", "remainder", "repeat_interleave", "reshape", "roll", "round", "rsqrt", "scatter", "scatter_add", "select", "sgn", "sigmoid", "sign", "signbit", "sin", "sinh", "softmax", "log_softmax", "sort", "split", "sqrt", "square", "squeeze", "std", "sub", "subtract", "sum", "swapaxes", "swapdims", "t", "take", "tan", "tanh", "tensor_split", "tile", "topk", "transpose", "tril", "triu", "true_divide", "trunc", "unbind", "unflatten", "unique", "unique_consecutive", "unsqueeze", "var", "frexp", "index_put", "index_put_", "var_mean", "std_mean"]


# Unary ops whose ``out=`` form is computed straight into ``out`` (no temporary, no copy) when the
# shapes and float dtypes already match and autograd is not involved.
_UNARY_INTO = frozenset(
    ["abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "ceil", "cos", "cosh", "erf", "exp", "exp2"]
    + ["expm1", "floor", "frac", "log", "log10", "log1p", "log2", "neg", "reciprocal", "relu", "rsqrt"]
    + ["sigmoid", "sign", "sin", "sinh", "sqrt", "square", "tan", "tanh", "trunc"]
)


def _forward(name: str) -> Callable:
    into = name in _UNARY_INTO

    def f(input: Any, *args: Any, out: Tensor | None = None, **kwargs: Any) -> Any:
        if not isinstance(input, Tensor):
            input = _C.tensor(input)
        if into and out is not None and not args and not kwargs and input._unary_out(name, out):
            return out
        r = getattr(input, name)(*args, **kwargs)
        if out is not None:
            if isinstance(out, (tuple, list)):
                for o, v in zip(out, r):
                    _C._write_out(v, o)
                return out
            return _C._write_out(r, out)
        return r

    f.__name__ = name
    f.__qualname__ = name
    return f


FUNCTIONS = {n: _forward(n) for n in _METHODS if hasattr(Tensor, n)}


def where(condition: Tensor, input: Any = None, other: Any = None, *, out: Tensor | None = None) -> Any:
    """``where(cond, x, y)`` picks x where cond else y; ``where(cond)`` is ``nonzero(as_tuple=True)``."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    r = _C._where(condition, input, other)
    return _C._write_out(r, out) if out is not None else r


def _like(factory: Callable) -> Callable:
    def f(input: Tensor, *args: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
        kwargs.pop("memory_format", None)
        kwargs.pop("layout", None)
        if kwargs.get("device") is None:
            kwargs["device"] = input.device
        return factory(*args, *input.shape, dtype=input.dtype if dtype is None else dtype, **kwargs) \
            if factory is not _C.full else factory(input.shape, *args, dtype=input.dtype if dtype is None else dtype,
                                                   **kwargs)

    return f


zeros_like = _like(_C.zeros)
ones_like = _like(_C.ones)
empty_like = _like(_C.empty)
full_like = _like(_C.full)


def rand_like(input: Tensor, *, dtype: Any = None, **kwargs: Any) -> Tensor:
    kwargs.setdefault("device", input.device)
    return _C.rand(*input.shape, dtype=input.dtype if dtype is None else dtype, **kwargs)


def randn_like(input: Tensor, *, dtype: Any = None, **kwargs: Any) -> Tensor:
    kwargs.setdefault("device", input.device)
    return _C.randn(*input.shape, dtype=input.dtype if dtype is None else dtype, **kwargs)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, dtype: Any = None,
                 device: Any = None) -> Tensor:
    if high is None:
        low, high = 0, low
    return _C.randint(low, high, tuple(input.shape), dtype=input.dtype if dtype is None else dtype,
                      device=input.device if device is None else device)


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None, out: Any = None,
           dtype: Any = None, **kwargs: Any) -> Tensor:
    """``normal(mean, std, size)``, or element-wise means/stds given as tensors."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        m = mean if isinstance(mean, Tensor) else _C.tensor(float(mean))
        s = std if isinstance(std, Tensor) else _C.tensor(float(std))
        shape = (m * 0 + s * 0).shape
        z = _C.randn(*shape, generator=generator, dtype=m.dtype if m.dtype.is_floating_point else s.dtype,
                     device=m.device if m.dim() else s.device)
        return z * s + m
    t = _C.empty(*size, dtype=dtype, device=kwargs.get("device"))
    return t.normal_(mean, std, generator=generator)


def logspace(start: float, end: float, steps: int, base: float = 10.0, **kwargs: Any) -> Tensor:
    dtype = kwargs.get("dtype") or _C.get_default_dtype()
    return (base ** _C.linspace(start, end, steps, dtype=_C.float64)).to(kwargs.get("device") or "cpu", dtype)


def concat(tensors: Any, dim: int = 0, *, out: Tensor | None = None) -> Tensor:
    return _C.cat(tensors, dim, out=out)


concatenate = concat


def hstack(tensors: Any) -> Tensor:
    ts = [t if t.dim() > 0 else t.reshape(1) for t in tensors]
    return _C.cat(ts, 0 if ts[0].dim() == 1 else 1)


def vstack(tensors: Any) -> Tensor:
    return _C.cat([t.reshape(1, -1) if t.dim() < 2 else t for t in tensors], 0)


def dstack(tensors: Any) -> Tensor:
    return _C.cat([t.reshape(1, -1, 1) if t.dim() == 1 else (t.unsqueeze(-1) if t.dim() == 2 else t) for t in tensors], 2)


def column_stack(tensors: Any) -> Tensor:
    return _C.cat([t.reshape(-1, 1) if t.dim() < 2 else t for t in tensors], 1)


def broadcast_tensors(*tensors: Tensor) -> tuple:
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t.expand(shape) for t in tensors)


def broadcast_shapes(*shapes: Any) -> Any:
    from ._size import Size

    out: list = []
    for k, s in enumerate(shapes):
        s = [s] if isinstance(s, int) else list(s)
        n = max(len(out), len(s))
        a = [1] * (n - len(out)) + out
        b = [1] * (n - len(s)) + s
        res = []
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y and x != 1 and y != 1:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {y} at {i - n}! Mismatching "
                                   f"argument at index {k} had {tuple(s)}; but expected shape should be "
                                   f"broadcastable to {out}")
            res.append(y if x == 1 else x)
        out = res
    return Size(out)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing == "xy" and len(tensors) >= 2:
        tensors = (tensors[1], tensors[0], *tensors[2:])
    n = len(tensors)
    shape = [t.numel() for t in tensors]
    out = [t.reshape([-1 if i == j else 1 for j in range(n)]).expand(shape) for i, t in enumerate(tensors)]
    if indexing == "xy" and n >= 2:
        out = [out[1], out[0], *out[2:]]  # ij of (y, x, ...) with the first two outputs swapped
    return tuple(out)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0) -> Tensor:
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return diff.norm(p, dim=-1)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    if input.dim() == 1:
        n = input.numel() + abs(diagonal)
        out = _C.zeros(n, n, dtype=input.dtype, device=input.device)
        idx = _C.arange(input.numel(), device=input.device)  # on the input's device: no upload
        rows, cols = (idx, idx + diagonal) if diagonal >= 0 else (idx - diagonal, idx)
        return out.index_put((rows, cols), input)
    return input.diagonal(diagonal)


def trace(input: Tensor) -> Tensor:
    return input.diagonal().sum()


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation: repeated subscripts take diagonals, ``...`` broadcasts, two-operand contractions
    go through one batched matmul, more operands are contracted left to right."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = equation.replace(" ", "")
    lhs, rhs = eq.split("->") if "->" in eq else (eq, None)
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise RuntimeError(f"einsum(): {len(terms)} operands were specified in the equation but "
                           f"{len(operands)} were provided")
    # ``...`` becomes private letters, right-aligned across operands
    n_ell = 0
    for t, op in zip(terms, operands):
        if "..." in t:
            n_ell = max(n_ell, op.dim() - (len(t) - 3))
    ell = [chr(0x100 + i) for i in range(n_ell)]
    subs = []
    for t, op in zip(terms, operands):
        if "..." in t:
            k = op.dim() - (len(t) - 3)
            t = t.replace("...", "".join(ell[n_ell - k:]))
        if len(t) != op.dim():
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(t)}) does not match the "
                               f"number of dimensions ({op.dim()}) for operand {len(subs)}"
                               + ("" if "..." in lhs else " and no ellipsis was given"))
        subs.append(list(t))
    if rhs is None:
        letters = [c for s_ in subs for c in s_ if c not in ell]
        out = ell + sorted(c for c in set(letters) if letters.count(c) == 1)
    else:
        out = list(rhs.replace("...", "".join(ell)))
    # repeated subscripts within one operand: take the diagonal
    ops = []
    for s_, op in zip(subs, operands):
        x = op
        while True:
            dup = next((c for c in s_ if s_.count(c) > 1), None)
            if dup is None:
                break
            i = s_.index(dup)
            j = s_.index(dup, i + 1)
            x = x.diagonal(0, i, j)
            s_ = [c for k, c in enumerate(s_) if k not in (i, j)] + [dup]
        ops.append((x, s_))
    sizes: dict = {}
    for x, s_ in ops:
        for c, n in zip(s_, x.shape):
            if n != 1 or c not in sizes:
                if c in sizes and sizes[c] != 1 and n != sizes[c]:
                    raise RuntimeError(f"einsum(): operands do not broadcast with remapped shapes (original->remapped)"
                                       f": subscript {c} has size {n} in one operand and {sizes[c]} in another")
                sizes[c] = n
    for c in out:
        if c not in sizes:
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input operand")

    def needed_after(k: int) -> set:
        keep = set(out)
        for _, s2 in ops[k + 1:]:
            keep.update(s2)
        return keep

    # sum out letters only one operand has and nobody else needs
    def presum(x: Tensor, s_: list, keep: set):
        red = [i for i, c in enumerate(s_) if c not in keep]
        if red:
            x = x.sum(dim=tuple(red))
            s_ = [c for i, c in enumerate(s_) if i not in red]
        return x, s_

    x, sx = ops[0]
    others = {c for _, s2 in ops[1:] for c in s2}
    x, sx = presum(x, sx, set(out) | others)
    for k in range(1, len(ops)):
        y, sy = ops[k]
        keep = needed_after(k)
        y, sy = presum(y, sy, keep | set(sx))
        x, sx = _contract(x, sx, y, sy, keep, sizes)
    x, sx = presum(x, sx, set(out))
    return x.permute(*[sx.index(c) for c in out]) if sx else x


def _contract(x: Tensor, sx: list, y: Tensor, sy: list, keep: set, sizes: dict):
    """Contracts two operands over the letters both have and ``keep`` lacks, as one batched matmul."""
    batch = [c for c in sx if c in sy and c in keep]
    contr = [c for c in sx if c in sy and c not in keep]
    left = [c for c in sx if c not in sy]
    right = [c for c in sy if c not in sx]

    def arrange(t: Tensor, s_: list, order: list) -> Tensor:
        t = t.permute(*[s_.index(c) for c in order]) if s_ else t
        return t.expand(*[sizes[c] for c in order]) if order else t

    def prod(cs: list) -> int:
        n = 1
        for c in cs:
            n *= sizes[c]
        return n

    a = arrange(x, sx, batch + left + contr).reshape(prod(batch), prod(left), prod(contr))
    b = arrange(y, sy, batch + contr + right).reshape(prod(batch), prod(contr), prod(right))
    r = a.bmm(b).reshape([sizes[c] for c in batch + left + right])
    return r, batch + left + right


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(t: Tensor) -> bool:
    return t.is_floating_point()


def numel(t: Tensor) -> int:
    return t.numel()


def is_nonzero(t: Tensor) -> bool:
    if t.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(t)


def allclose(a: Tensor, b: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    return bool(isclose(a, b, rtol, atol, equal_nan).all())


def isclose(a: Tensor, b: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    b = b if isinstance(b, Tensor) else _C.tensor(b, dtype=a.dtype)
    if a.dtype == _C.bool or b.dtype == _C.bool:
        return a == b
    # only finite pairs compare by tolerance (inf - -inf = inf would pass it); equal infinities by ==
    close = (a - b).abs() <= atol + rtol * b.abs()
    if a.is_floating_point() or b.is_floating_point():
        close = close & a.isfinite() & b.isfinite()
    close = close | (a == b)
    if equal_nan:
        close = close | (a.isnan() & b.isnan())
    return close


def equal(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and bool((a == b).all())



def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Counts of each value in a 1-d tensor of non-negative ints (sums of ``weights`` when given)."""
    if input.dtype.is_floating_point or input.dtype == _C.bool:
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{_TITLES.get(str(input.dtype), input.dtype)}'")
    if input.dim() != 1 or (input.numel() and input.min().item() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights.dim() != 1 or weights.shape[0] != input.shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    n = max(int(input.max().item()) + 1 if input.numel() else 0, minlength)
    if weights is None:
        ones = _C.ones(input.shape[0], dtype=_C.int64, device=input.device)
        return _C.zeros(n, dtype=_C.int64, device=input.device).scatter_add_(0, input.long(), ones)
    dtype = weights.dtype if weights.dtype in (_C.float32, _C.float64) else _C.float64
    return _C.zeros(n, dtype=dtype, device=input.device).scatter_add_(0, input.long(), weights.to(dtype))


Tensor.bincount = bincount  # type: ignore[attr-defined]
_TITLES = {"torch.float32": "Float", "torch.float64": "Double", "torch.float16": "Half", "torch.bfloat16": "BFloat16"}


def searchsorted(sorted_sequence: Tensor, input: Any, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, out: Tensor | None = None, sorter: Tensor | None = None) -> Tensor:
    """Where each value would be inserted into its row of ``sorted_sequence`` (sorted along the last dim,
    or through ``sorter``, the indices that sort it) to keep it sorted: the first index whose element is
    not below the value (``right=True`` / ``side='right'``: not below or equal)."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of left while right was True"
            )
        right = side == "right"
    seq = sorted_sequence
    if sorter is not None:
        if tuple(sorter.shape) != tuple(seq.shape):
            raise RuntimeError(
                "torch.searchsorted(): boundary and sorter must have the same size, but got boundary tensor "
                f"{list(seq.shape)} and got sorter tensor {list(sorter.shape)}"
            )
        if sorter.dtype != _C.int64:
            raise RuntimeError(f"torch.searchsorted(): sorter must be a tensor of long dtype but got dtype {sorter.dtype}")
        seq = seq.gather(-1, sorter)
    if not isinstance(input, Tensor):
        if seq.dim() != 1:
            raise RuntimeError(
                "torch.searchsorted(): input value can be a scalar only when boundaries tensor dimension is 1, "
                f"but we got boundaries tensor dim({seq.dim()}) and input value's dim(0) numel(1)"
            )
        input = _C.tensor(input, device=seq.device)
    r = seq._searchsorted(input, right, out_int32)
    return r if out is None else _C._write_out(r, out)


def bucketize(input: Any, boundaries: Tensor, *, out_int32: bool = False, right: bool = False,
              out: Tensor | None = None) -> Tensor:
    """The bucket of each element: i with ``boundaries[i-1] < x <= boundaries[i]``
    (``right=True``: ``boundaries[i-1] <= x < boundaries[i]``); ``boundaries`` is 1-D and increasing."""
    if boundaries.dim() != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.dim()})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)
