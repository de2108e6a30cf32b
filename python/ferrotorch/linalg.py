"""``torch.linalg``: norms, decompositions and solvers, plus the older top-level forms (``torch.inverse``,
``torch.det``, ``torch.svd``, ``torch.cholesky``, ...) and their Tensor methods.

Norms and the products (``cross``, ``multi_dot``, ``vecdot``, ``matrix_power``, ``matrix_exp``, ``vander``)
are compositions of ferrotorch tensor ops: they run on the input's device and differentiate through the
ordinary autograd. Decompositions and solvers run numpy's LAPACK on a host copy of the input (a CUDA input
comes back to the host and its results go back to the device) in the input's dtype (float32 stays float32).
Each is one ``autograd.Function`` whose backward is PyTorch's formula written in tensor ops (so it runs on
any device, and, where it reuses the saved outputs, differentiates again for ``create_graph=True``).
"""

from __future__ import annotations

import builtins
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _C
from ._C import Tensor
from ._functions import FUNCTIONS as _FUNCTIONS
from ._functions import broadcast_shapes, broadcast_tensors
from ._tensor import _method, _named, return_types
from .autograd.function import Function

__all__ = [
    "LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eigh", "eigvalsh",
    "householder_product", "inv", "inv_ex", "ldl_factor", "ldl_factor_ex", "ldl_solve", "lstsq", "lu",
    "lu_factor", "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm", "matrix_power",
    "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve", "solve_ex", "solve_triangular", "svd",
    "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot", "vector_norm",
]

_py_float, _py_int, _py_bool = builtins.float, builtins.int, builtins.bool


class LinAlgError(RuntimeError):
    """Raised when a decomposition or solve fails on its input (singular, not positive-definite, ...);
    ``torch.linalg.LinAlgError`` (``torch._C._LinAlgError``), a RuntimeError as in PyTorch."""


try:
    _C._LinAlgError = LinAlgError  # type: ignore[attr-defined]
except (AttributeError, TypeError):  # pragma: no cover - an extension module that refuses attributes
    pass

# the named tuples PyTorch returns from these functions (torch.return_types.*)
for _name, _fields in {
    "linalg_eigh": ("eigenvalues", "eigenvectors"), "linalg_slogdet": ("sign", "logabsdet"),
    "slogdet": ("sign", "logabsdet"), "linalg_qr": ("Q", "R"), "qr": ("Q", "R"),
    "linalg_svd": ("U", "S", "Vh"), "svd": ("U", "S", "V"),
    "linalg_lstsq": ("solution", "residuals", "rank", "singular_values"),
    "linalg_inv_ex": ("inverse", "info"), "linalg_cholesky_ex": ("L", "info"),
    "linalg_solve_ex": ("result", "info"),
}.items():
    setattr(return_types, _name, _named(_name, _fields))

# ---------------------------------------------------------------------------------------------------------
# helpers: argument checks with PyTorch's messages, host round trips
# ---------------------------------------------------------------------------------------------------------

_TYPE_NAMES = {
    _C.float32: "Float", _C.float64: "Double", _C.float16: "Half", _C.bfloat16: "BFloat16", _C.int64: "Long",
    _C.int32: "Int", _C.int16: "Short", _C.int8: "Char", _C.uint8: "Byte", _C.bool: "Bool",
}
_NP_FLOAT = {_C.float32: np.float32, _C.float64: np.float64}
_warned: set = set()


def _type_name(dtype: Any) -> str:
    return _TYPE_NAMES.get(dtype, str(dtype))


def _warn_once(key: str, msg: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(msg, UserWarning, stacklevel=3)


def _need_tensor(x: Any, fname: str, arg: str = "A", pos: int = 1) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Tensor, "
                        f"not {type(x).__name__}")


def _check_float(A: Tensor, fname: str, low_precision: bool = False) -> None:
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{fname}: Expected a floating point or complex tensor as input. "
                           f"Got {_type_name(A.dtype)}")
    if not low_precision and A.dtype not in _NP_FLOAT:
        raise RuntimeError(f"{fname}: Low precision dtypes not supported. Got {_type_name(A.dtype)}")


def _check_matrix(A: Tensor, fname: str, arg: str = "A") -> None:
    if A.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor {arg} must have at least 2 dimensions.")


def _check_square(A: Tensor, fname: str, arg: str = "A") -> None:
    _check_matrix(A, fname, arg)
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{fname}: A must be batches of square matrices, "
                           f"but they are {A.shape[-2]} by {A.shape[-1]} matrices")


def _square_float(A: Any, fname: str) -> None:
    _need_tensor(A, fname)
    _check_square(A, fname)
    _check_float(A, fname)


def _host(t: Tensor) -> np.ndarray:
    """A numpy view (CPU) or copy (device) of ``t``'s values; never written to."""
    return t.detach().cpu().numpy()


def _dev(arr: Any, like: Tensor) -> Tensor:
    """``arr`` as a tensor on ``like``'s device (float results keep ``like``'s dtype)."""
    arr = np.asarray(arr)
    if arr.dtype.kind == "f":
        arr = arr.astype(_NP_FLOAT.get(like.dtype, arr.dtype), copy=False)
    t = _C.from_numpy(np.asarray(arr, order="C"))  # (ascontiguousarray would make a 0-d result 1-d)
    return t if like.device.type == "cpu" else t.to(like.device)


def _out(result: Any, out: Any) -> Any:
    """Writes ``result`` into ``out`` (a tensor or a tuple of tensors) when given, as the ``out=`` forms."""
    if out is None:
        return result
    if isinstance(out, (tuple, list)):
        for o, r in zip(out, result):
            _C._write_out(r, o)
        return type(result)(*out) if hasattr(result, "_fields") else tuple(out)
    return _C._write_out(result, out)


def _eye(n: int, like: Tensor) -> Tensor:
    return _C.eye(n, dtype=like.dtype, device=like.device)


def _full_like(t: Tensor, value: float) -> Tensor:
    return _C.full(tuple(t.shape), value, dtype=t.dtype, device=t.device)


def _diag_embed(v: Tensor) -> Tensor:
    return v.unsqueeze(-1) * _eye(v.shape[-1], v)


def _raise_info(info: np.ndarray, api: str, is_matrix: bool, kind: str) -> None:
    """PyTorch's ``_linalg_check_errors``: the message for the first failing matrix of a batch."""
    flat = np.asarray(info).reshape(-1)
    idx = int(np.flatnonzero(flat)[0])
    code = int(flat[idx])
    where = "" if is_matrix else f": (Batch element {idx})"
    if kind == "inv":
        msg = (f": The diagonal element {code} is zero, the inversion could not be completed because the "
               "input matrix is singular.")
    elif kind == "solve":
        msg = ": The solver failed because the input matrix is singular."
    elif kind == "cholesky":
        msg = (": The factorization could not be completed because the input is not positive-definite "
               f"(the leading minor of order {code} is not positive-definite).")
    elif kind == "svd_nonfinite":
        msg = ": The algorithm failed to converge because the input matrix contained non-finite values."
    elif kind == "svd":
        msg = (": The algorithm failed to converge because the input matrix is ill-conditioned or has too "
               "many repeated singular values.")
    else:
        msg = (": The algorithm failed to converge because the input matrix is ill-conditioned or has too "
               "many repeated eigenvalues.")
    raise LinAlgError(f"{api}{where}{msg}")


def _getrf_info(a: np.ndarray) -> int:
    """LAPACK getrf's ``info`` for one square matrix: the 1-based index of the first exactly-zero pivot of
    LU with partial pivoting (the smallest pivot's index if rounding made none exactly zero)."""
    u = np.array(a, copy=True)
    n = u.shape[-1]
    pivots = np.zeros(n, dtype=u.dtype)
    for k in range(n):
        p = k + int(np.argmax(np.abs(u[k:, k])))
        if p != k:
            u[[k, p]] = u[[p, k]]
        piv = u[k, k]
        pivots[k] = piv
        if piv == 0:
            return k + 1
        u[k + 1:, k] /= piv
        u[k + 1:, k + 1:] -= np.outer(u[k + 1:, k], u[k, k + 1:])
    return int(np.argmin(np.abs(pivots))) + 1 if n else 1


def _potrf_info(a: np.ndarray) -> tuple[int, np.ndarray]:
    """LAPACK potrf's ``info`` (the order of the first leading minor that is not positive-definite) for one
    matrix (its lower triangle), with the factor computed up to there."""
    n = a.shape[-1]
    L = np.zeros_like(a)
    for j in range(n):
        d = a[j, j] - L[j, :j] @ L[j, :j]
        if not d > 0:
            return j + 1, L
        L[j, j] = np.sqrt(d)
        L[j + 1:, j] = (a[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]
    return n, L


def _per_matrix(fn: Any, info_fn: Any, out_shape: tuple,
                *arrays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs ``fn`` matrix by matrix (the slow path after a batched call failed): failing matrices get
    ``info_fn``'s code and a NaN (or partial) result."""
    batch = arrays[0].shape[:-2]
    count = int(np.prod(batch, dtype=np.int64))
    flats = [a.reshape((count,) + a.shape[-2:]) for a in arrays]
    res = np.full((count,) + tuple(out_shape), np.nan, dtype=arrays[0].dtype)
    info = np.zeros(count, dtype=np.int32)
    for i in range(count):
        try:
            res[i] = fn(*[f[i] for f in flats])
        except np.linalg.LinAlgError:
            code, partial = info_fn(flats[0][i])
            info[i] = code
            if partial is not None:
                res[i] = partial
    return res.reshape(tuple(batch) + tuple(out_shape)), info.reshape(batch)


def _no_info(batch: Sequence[int]) -> np.ndarray:
    return np.zeros(tuple(batch), dtype=np.int32)


def _np_inv(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        return np.linalg.inv(a), _no_info(a.shape[:-2])
    except np.linalg.LinAlgError:
        return _per_matrix(np.linalg.inv, lambda m: (_getrf_info(m), None), a.shape[-2:], a)


def _np_solve(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a`` (*, n, n), ``b`` (*, n, k) with equal batch dims."""
    try:
        return np.linalg.solve(a, b), _no_info(a.shape[:-2])
    except np.linalg.LinAlgError:
        return _per_matrix(np.linalg.solve, lambda m: (_getrf_info(m), None), b.shape[-2:], a, b)


def _np_cholesky(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lower factor from ``a``'s lower triangle."""
    try:
        return np.linalg.cholesky(a), _no_info(a.shape[:-2])
    except np.linalg.LinAlgError:
        return _per_matrix(np.linalg.cholesky, _potrf_info, a.shape[-2:], a)


def _np_svd(a: np.ndarray, api: str, is_matrix: bool, full_matrices: bool = False,
            compute_uv: bool = True) -> Any:
    try:
        return np.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    except np.linalg.LinAlgError:
        flat = a.reshape((-1,) + a.shape[-2:])
        bad = ~np.isfinite(flat).all(axis=(-2, -1))
        info = np.zeros(flat.shape[0], dtype=np.int32)
        if bad.any():
            info[bad] = 1
            _raise_info(info, api, is_matrix, "svd_nonfinite")
        info[:] = 1
        _raise_info(info, api, is_matrix, "svd")


def _swap(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _broadcast_batch(A: Tensor, B: Tensor) -> tuple[Tensor, Tensor]:
    """``A`` (*a, m, n) and ``B`` (*b, p, q) expanded to their common batch dims (differentiably)."""
    batch = tuple(broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2])))
    if tuple(A.shape[:-2]) != batch:
        A = A.expand(*batch, *A.shape[-2:])
    if tuple(B.shape[:-2]) != batch:
        B = B.expand(*batch, *B.shape[-2:])
    return A, B


def _is_vector_rhs(A: Tensor, B: Tensor) -> bool:
    return B.dim() == 1 or (A.dim() - 1 == B.dim() and tuple(B.shape) == tuple(A.shape[:-1]))


def _eps(dtype: Any) -> float:
    return _py_float(np.finfo(_NP_FLOAT.get(dtype, np.float32)).eps)


# ---------------------------------------------------------------------------------------------------------
# norms (tensor ops: any device, native autograd)
# ---------------------------------------------------------------------------------------------------------


def _fmt_ord(ord: Any) -> str:
    if isinstance(ord, str):
        return ord
    f = _py_float(ord)
    return "inf" if f == math.inf else "-inf" if f == -math.inf else f"{f:g}"


def _wrap_dims(dim: Any, ndim: int) -> tuple | None:
    """``dim`` (None, an int or a sequence) as a tuple of non-negative dims; None (or ()) means all."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, _py_int) else tuple(dim)
    if not dims:
        return None
    n = max(ndim, 1)
    out = []
    for d in dims:
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                             f"but got {d})")
        out.append(d % n)
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {out[0]} appears multiple times in the list of dims")
    return tuple(out)


def _reduce(t: Tensor, op: str, dims: tuple | None, keepdim: bool) -> Tensor:
    if t.dim() == 0:
        return t
    return getattr(t, op)(dims if dims is not None else tuple(range(t.dim())), keepdim)


def _grad_path(x: Tensor) -> bool:
    return x.requires_grad and _C.is_grad_enabled()


def vector_norm(x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
                out: Tensor | None = None) -> Tensor:
    """The ``ord``-norm of ``x`` over ``dim`` (all elements when None) taken as one vector:
    ``sum(|x|^ord)^(1/ord)``; ord ``inf``/``-inf`` are max/min ``|x|``, ord 0 counts non-zeros."""
    _need_tensor(x, "linalg_vector_norm", "input")
    if isinstance(ord, (str, bool)) or not isinstance(ord, (_py_int, _py_float)):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' must be Number, not {type(ord).__name__}")
    if not x.dtype.is_floating_point:
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_type_name(x.dtype)}")
    if dtype is not None:
        if not dtype.is_floating_point:
            raise RuntimeError("linalg.vector_norm: dtype should be floating point or complex. "
                               f"Got {_type_name(dtype)} instead.")
        x = x.to(dtype)
    p = _py_float(ord)
    dims = _wrap_dims(dim, x.dim())
    reduced = x.numel() if dims is None else math.prod(x.shape[d] for d in dims) if x.dim() else 1
    if reduced == 0 and (p < 0 or p == math.inf):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {_fmt_ord(ord)} norm on an empty tensor "
                           "because the operation does not have an identity")
    if not _grad_path(x):
        return _out(x._norm(p, dims, keepdim), out)
    # differentiable compositions whose gradient at a zero norm is 0 (as PyTorch's), not NaN
    a = x.abs()
    if p == math.inf:
        r = _reduce(a, "amax", dims, keepdim)
    elif p == -math.inf:
        r = _reduce(a, "amin", dims, keepdim)
    elif p == 0:
        count = _reduce((x != 0).to(x.dtype), "sum", dims, keepdim)
        r = count + _reduce(x.clamp(-1.0, 1.0) * 0.0, "sum", dims, keepdim)  # zero gradient, in the graph
    elif p == 1:
        r = _reduce(a, "sum", dims, keepdim)
    elif p == 2:
        s = _reduce(a * a, "sum", dims, keepdim)
        zs = s == 0
        r = _C._where(zs, s, _C._where(zs, s + 1, s).sqrt())
    elif p > 0:
        zero = a == 0
        t = _C._where(zero, a, _C._where(zero, a + 1, a) ** p)  # |x|^p with a zero (not NaN) gradient at 0
        s = _reduce(t, "sum", dims, keepdim)
        zs = s == 0
        r = _C._where(zs, s, _C._where(zs, s + 1, s) ** (1.0 / p))
    else:
        r = _reduce(a ** p, "sum", dims, keepdim) ** (1.0 / p)
    return _out(r, out)


def _check_matrix_norm_args(A: Tensor, dim: Any, fname: str) -> tuple[int, int]:
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{fname}: Expected a floating point or complex tensor as input. "
                           f"Got {_type_name(A.dtype)}")
    _check_matrix(A, fname)
    dims = (dim,) if isinstance(dim, _py_int) else tuple(dim)
    if len(dims) != 2:
        raise RuntimeError(f"{fname}: dim must be a 2-tuple. Got {' '.join(str(d) for d in dims)}")
    d = _wrap_dims(dims, A.dim())
    if d is None or d[0] == d[1]:
        raise RuntimeError(f"{fname}: dims must be different. Got ({dims[0]}, {dims[1]})")
    return d[0], d[1]


def _sv_reduce(A: Tensor, d0: int, d1: int, keepdim: bool, how: str) -> Tensor:
    """``how`` ('sum', 'amax', 'amin') of the singular values of the (d0, d1) matrices of ``A``."""
    rest = [i for i in range(A.dim()) if i not in (d0, d1)]
    S = svdvals(A.permute(*rest, d0, d1))
    r = getattr(S, how)(-1)
    if keepdim:
        for d in sorted((d0, d1)):
            r = r.unsqueeze(d)
    return r


def matrix_norm(A: Tensor, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *, dtype: Any = None,
                out: Tensor | None = None) -> Tensor:
    """The ``ord`` norm of the matrices in ``dim``: 'fro', 'nuc', inf, -inf, 1, -1, 2, -2."""
    _need_tensor(A, "linalg_matrix_norm")
    d0, d1 = _check_matrix_norm_args(A, dim, "linalg.matrix_norm")
    if dtype is not None:
        A = A.to(dtype)
    if isinstance(ord, str):
        if ord == "fro":
            return _out(vector_norm(A, 2, (d0, d1), keepdim), out)
        if ord == "nuc":
            return _out(_sv_reduce(A, d0, d1, keepdim, "sum"), out)
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    p = _py_float(ord)
    if abs(p) == 2:
        return _out(_sv_reduce(A, d0, d1, keepdim, "amax" if p > 0 else "amin"), out)
    if abs(p) not in (1.0, math.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {_fmt_ord(ord)} not supported.")
    red = "amax" if p > 0 else "amin"
    inner, outer = (d0, d1) if abs(p) == 1 else (d1, d0)  # 1: max column sum; inf: max row sum
    r = getattr(A.abs().sum(inner, keepdim=True), red)(outer, keepdim=True)
    if not keepdim:
        r = r.squeeze(max(d0, d1)).squeeze(min(d0, d1))
    return _out(r, out)


def norm(A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
         out: Tensor | None = None) -> Tensor:
    """A vector norm (``dim`` an int, or ``A`` 1-D) or a matrix norm (``dim`` a 2-tuple, or ``A`` 2-D with
    ``ord`` given), with PyTorch's dispatch; ``ord=None`` is the 2-norm of the flattened input."""
    _need_tensor(A, "linalg_norm")
    if isinstance(dim, _py_int):
        dim = (dim,)
    if dim is not None:
        dim = tuple(dim)
        if len(dim) not in (1, 2):
            raise RuntimeError("linalg.norm: If dim is specified, it must be of length 1 or 2. "
                               f"Got {list(dim)}")
    elif ord is not None and A.dim() not in (1, 2):
        raise RuntimeError("linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                           f"Got {A.dim()}D.")
    if isinstance(ord, str):
        return matrix_norm(A, ord, dim if dim is not None else (0, 1), keepdim, dtype=dtype, out=out)
    if ord is not None and ((dim is not None and len(dim) == 2) or (dim is None and A.dim() == 2)):
        return matrix_norm(A, ord, dim if dim is not None else (0, 1), keepdim, dtype=dtype, out=out)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype, out=out)


# ---------------------------------------------------------------------------------------------------------
# inverse, determinants, solvers
# ---------------------------------------------------------------------------------------------------------


class _Inv(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor, api: str, check: bool) -> tuple:
        x, info = _np_inv(_host(A))
        if check and info.any():
            _raise_info(info, api, A.dim() == 2, "inv")
        Ainv = _dev(x, A)
        ctx.save_for_backward(Ainv)
        return Ainv, _dev(info, A)

    @staticmethod
    def backward(ctx: Any, g: Tensor, _ginfo: Any) -> tuple:
        (Ainv,) = ctx.saved_tensors
        AinvT = Ainv.mT
        return -(AinvT @ g @ AinvT), None, None


def inv_ex(A: Tensor, *, check_errors: bool = False, out: Any = None) -> Any:
    """``(inverse, info)``: info (int32, per matrix) is non-zero where the matrix is singular."""
    _square_float(A, "linalg.inv_ex")
    r = return_types.linalg_inv_ex(*_Inv.apply(A, "linalg.inv_ex", check_errors))
    return _out(r, out)


def inv(A: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The inverse of each square matrix; singular input raises ``LinAlgError``."""
    _square_float(A, "linalg.inv")
    return _out(_Inv.apply(A, "linalg.inv", True)[0], out)


def _prod_others(S: Tensor) -> Tensor:
    """``p[..., i] = prod_{j != i} S[..., j]`` without dividing (S may hold zeros)."""
    n = S.shape[-1]
    ones = _C.ones(*S.shape[:-1], 1, dtype=S.dtype, device=S.device)
    if n == 1:
        return ones
    pre = _C.cat([ones, S.narrow(-1, 0, n - 1).cumprod(-1)], -1)
    suf = _C.cat([ones, S.flip(-1).narrow(-1, 0, n - 1).cumprod(-1)], -1).flip(-1)
    return pre * suf


def _cofactor(A: Tensor) -> Tensor:
    """The cofactor matrix ``det(A) A^-T``, also where A is singular, from the SVD."""
    U, S, Vh = svd(A, full_matrices=False)
    with _no_grad():
        sgn = (det(U.detach()) * det(Vh.detach())).sign()
    return (U * _prod_others(S).unsqueeze(-2)) @ Vh * sgn.unsqueeze(-1).unsqueeze(-1)


class _Det(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor) -> Tensor:
        d = _dev(np.linalg.det(_host(A)), A)
        ctx.save_for_backward(A, d)
        return d

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        A, d = ctx.saved_tensors
        g2 = g.unsqueeze(-1).unsqueeze(-1)
        if A.shape[-1] == 0:
            return _C.zeros(*A.shape, dtype=A.dtype, device=A.device)
        if _py_bool((d == 0).any()):
            return g2 * _cofactor(A)
        return (g2 * d.unsqueeze(-1).unsqueeze(-1)) * inv(A).mT


def det(A: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The determinant of each square matrix (differentiable also at singular matrices)."""
    _square_float(A, "linalg.det")
    return _out(_Det.apply(A), out)


class _Slogdet(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor) -> tuple:
        sign, logabs = np.linalg.slogdet(_host(A))
        s, la = _dev(sign, A), _dev(logabs, A)
        ctx.save_for_backward(A)
        ctx.mark_non_differentiable(s)
        return s, la

    @staticmethod
    def backward(ctx: Any, _gsign: Any, g: Tensor) -> Tensor:
        (A,) = ctx.saved_tensors
        return g.unsqueeze(-1).unsqueeze(-1) * inv(A).mT


def slogdet(A: Tensor, *, out: Any = None) -> Any:
    """``(sign, logabsdet)`` of each square matrix: ``det = sign * exp(logabsdet)``."""
    _square_float(A, "linalg.slogdet")
    return _out(return_types.linalg_slogdet(*_Slogdet.apply(A)), out)


class _Solve(Function):
    """``A X = B`` for ``A`` (*, n, n) and ``B`` (*, n, k) with equal batch dims."""

    @staticmethod
    def forward(ctx: Any, A: Tensor, B: Tensor, api: str, check: bool, is_matrix: bool) -> tuple:
        x, info = _np_solve(_host(A), _host(B))
        if check and info.any():
            _raise_info(info, api, is_matrix, "solve")
        X = _dev(x, B)
        ctx.save_for_backward(A, X)
        return X, _dev(info, A)

    @staticmethod
    def backward(ctx: Any, g: Tensor, _ginfo: Any) -> tuple:
        A, X = ctx.saved_tensors
        gB = solve(A.mT, g)
        gA = -(gB @ X.mT) if ctx.needs_input_grad[0] else None
        return gA, gB, None, None, None


def _solve(A: Any, B: Any, left: bool, api: str, check: bool) -> tuple[Tensor, Tensor]:
    _need_tensor(A, "linalg_solve")
    _need_tensor(B, "linalg_solve", "B", 2)
    _check_float(A, "linalg.solve")
    if A.dtype != B.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{_type_name(A.dtype)} and B of type {_type_name(B.dtype)} instead")
    vector = _is_vector_rhs(A, B)
    B2 = B.unsqueeze(-1) if vector else B
    _check_square(A, "linalg.solve")
    _check_matrix(B2, "linalg.solve", "B")
    if (A.shape[-2] != B2.shape[-2]) if left else (A.shape[-1] != B2.shape[-1]):
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({A.shape[-2]}x{A.shape[-1]} and "
                           f"{B2.shape[-2]}x{B2.shape[-1]})")
    if not left:
        if vector:
            raise RuntimeError("linalg.solve: Vector broadcasting of the left hand side is not supported for "
                               "left=False. In this case linalg.solve is equivalent to B / A.squeeze(-1)")
        X, info = _solve(A.mT, B2.mT, True, api, check)
        return X.mT, info
    A2, B2 = _broadcast_batch(A, B2)
    X, info = _Solve.apply(A2, B2, api, check, A.dim() == 2)
    return (X.squeeze(-1) if vector else X), info


def solve(A: Tensor, B: Tensor, *, left: bool = True, out: Tensor | None = None) -> Tensor:
    """``X`` with ``A X = B`` (``X A = B`` when ``left=False``); ``B`` may be a (batch of) vector(s);
    batch dims broadcast. Singular ``A`` raises ``LinAlgError``."""
    return _out(_solve(A, B, left, "torch.linalg.solve", True)[0], out)


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False, out: Any = None) -> Any:
    """``(result, info)`` of ``solve``; info is non-zero where ``A`` is singular."""
    return _out(return_types.linalg_solve_ex(*_solve(A, B, left, "torch.linalg.solve_ex", check_errors)), out)


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False,
                     out: Tensor | None = None) -> Tensor:
    """``X`` with ``A X = B`` (``X A = B`` when ``left=False``) reading only ``A``'s upper or lower triangle
    (and taking its diagonal as ones when ``unitriangular``); the gradient of ``A`` is that triangle's."""
    _need_tensor(A, "linalg_solve_triangular")
    _need_tensor(B, "linalg_solve_triangular", "B", 2)
    _check_float(A, "linalg.solve_triangular")
    if A.dtype != B.dtype:
        raise RuntimeError("linalg.solve_triangular: Expected A and B to have the same dtype, but found A "
                           f"of type {_type_name(A.dtype)} and B of type {_type_name(B.dtype)} instead")
    _check_square(A, "linalg.solve_triangular")
    _check_matrix(B, "linalg.solve_triangular", "B")
    if (A.shape[-2] != B.shape[-2]) if left else (A.shape[-1] != B.shape[-1]):
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({A.shape[-2]}x{A.shape[-1]} and "
                           f"{B.shape[-2]}x{B.shape[-1]})")
    if not left:
        return _out(solve_triangular(A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT, out)
    if unitriangular:
        T = (A.triu(1) if upper else A.tril(-1)) + _eye(A.shape[-1], A)
    else:
        T = A.triu() if upper else A.tril()
    T, B = _broadcast_batch(T, B)
    return _out(_Solve.apply(T, B, "linalg.solve_triangular", False, True)[0], out)


# ---------------------------------------------------------------------------------------------------------
# Cholesky
# ---------------------------------------------------------------------------------------------------------


class _Cholesky(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor, upper: bool, api: str, check: bool) -> tuple:
        a = _host(A)
        lower, info = _np_cholesky(_swap(a) if upper else a)
        if check and info.any():
            _raise_info(info, api, A.dim() == 2, "cholesky")
        L = _dev(_swap(lower) if upper else lower, A)
        ctx.upper = upper
        ctx.save_for_backward(L)
        return L, _dev(info, A)

    @staticmethod
    def backward(ctx: Any, gL: Tensor, _ginfo: Any) -> tuple:
        (L,) = ctx.saved_tensors
        if ctx.upper:
            L, gL = L.mT, gL.mT
        P = (L.mT @ gL).tril()
        S = 0.5 * (P + P.tril(-1).mT)
        gA = solve_triangular(L.mT, S, upper=True)
        gA = solve_triangular(L, gA, upper=False, left=False)
        return gA, None, None, None


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False, out: Any = None) -> Any:
    """``(L, info)``: info is the order of the first leading minor that is not positive-definite (0 when
    none)."""
    _square_float(A, "linalg.cholesky")
    r = _Cholesky.apply(A, upper, "linalg.cholesky_ex", check_errors)
    return _out(return_types.linalg_cholesky_ex(*r), out)


def cholesky(A: Tensor, *, upper: bool = False, out: Tensor | None = None) -> Tensor:
    """``L`` (lower) with ``A = L L^T`` from ``A``'s lower triangle (``U`` with ``A = U^T U`` from the upper
    one when ``upper=True``); input that is not positive-definite raises ``LinAlgError``."""
    _square_float(A, "linalg.cholesky")
    return _out(_Cholesky.apply(A, upper, "linalg.cholesky", True)[0], out)


class _CholeskySolve(Function):
    @staticmethod
    def forward(ctx: Any, B: Tensor, L: Tensor, upper: bool) -> Tensor:
        f = _host(L)
        low = np.tril(_swap(f) if upper else f)
        y, _ = _np_solve(low, _host(B))  # as LAPACK's potrs: a zero on the diagonal gives inf/NaN, no error
        x, _ = _np_solve(_swap(low), y)
        X = _dev(x, B)
        ctx.upper = upper
        ctx.save_for_backward(L, X)
        return X

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        L, X = ctx.saved_tensors
        gB = cholesky_solve(g, L, ctx.upper)
        gL = None
        if ctx.needs_input_grad[1]:
            common = gB @ X.mT
            common = common + common.mT
            gL = -(L @ common) if ctx.upper else -(common @ L)
        return gB, gL, None


def _cholesky_solve(B: Tensor, L: Tensor, upper: bool = False, *, out: Tensor | None = None) -> Tensor:
    """``X`` with ``A X = B`` for ``A = L L^T`` (``U^T U`` when ``upper``) given the Cholesky factor."""
    _need_tensor(B, "cholesky_solve", "input")
    _need_tensor(L, "cholesky_solve", "input2", 2)
    if B.dim() < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {B.dim()} dimensions instead")
    if L.dim() < 2:
        raise RuntimeError(f"u should have at least 2 dimensions, but has {L.dim()} dimensions instead")
    if B.dtype != L.dtype:
        raise RuntimeError("Expected b and A to have the same dtype, but found b of type "
                           f"{_type_name(B.dtype)} and A of type {_type_name(L.dtype)} instead.")
    if L.shape[-1] != L.shape[-2]:
        raise RuntimeError(f"A must be batches of square matrices, but they are {L.shape[-2]} by "
                           f"{L.shape[-1]} matrices")
    if L.shape[-1] != B.shape[-2]:
        raise RuntimeError(f"Incompatible matrix sizes for cholesky_solve: each A matrix is {L.shape[-1]} by "
                           f"{L.shape[-1]} but each b matrix is {B.shape[-2]} by {B.shape[-1]}")
    _check_float(L, "cholesky_solve")
    B2, L2 = _broadcast_batch(B, L)
    return _out(_CholeskySolve.apply(B2, L2, upper), out)


cholesky_solve = _cholesky_solve  # the name the backward uses


class _CholeskyInverse(Function):
    @staticmethod
    def forward(ctx: Any, L: Tensor, upper: bool) -> Tensor:
        f = _host(L)
        T = np.triu(f) if upper else np.tril(f)
        zero = np.diagonal(T, axis1=-2, axis2=-1) == 0  # LAPACK potri's info: the first zero on the diagonal
        if zero.any():
            info = np.where(zero.any(-1), zero.argmax(-1) + 1, 0)
            _raise_info(info, "cholesky_inverse", L.dim() == 2, "inv")
        Tinv, _ = _np_inv(T)
        res = Tinv @ _swap(Tinv) if upper else _swap(Tinv) @ Tinv
        Ainv = _dev(res, L)
        ctx.upper = upper
        ctx.save_for_backward(L, Ainv)
        return Ainv

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        L, Ainv = ctx.saved_tensors
        common = Ainv @ (g + g.mT) @ Ainv
        return (-(L @ common) if ctx.upper else -(common @ L)), None


def _cholesky_inverse(L: Tensor, upper: bool = False, *, out: Tensor | None = None) -> Tensor:
    """``A^-1`` for ``A = L L^T`` (``U^T U`` when ``upper``) given the Cholesky factor."""
    _need_tensor(L, "cholesky_inverse", "input")
    _check_square(L, "cholesky_inverse")
    _check_float(L, "cholesky_inverse")
    return _out(_CholeskyInverse.apply(L, upper), out)


# ---------------------------------------------------------------------------------------------------------
# QR, eigh, SVD
# ---------------------------------------------------------------------------------------------------------


def _right_solve_RT(X: Tensor, R: Tensor) -> Tensor:
    """``X R^-T`` for upper-triangular ``R``."""
    return solve_triangular(R.mT, X, upper=False, left=False)


def _qr_backward_deep(gQ: Tensor, gR: Tensor, Q: Tensor, R: Tensor) -> Tensor:
    """QR backward for m >= n (R square, invertible)."""
    qdq = Q.mT @ gQ
    rdr = R @ gR.mT
    low = (qdq - qdq.mT + rdr - rdr.mT).tril()
    return Q @ (gR + _right_solve_RT(low, R)) + _right_solve_RT(gQ - Q @ qdq, R)


class _QR(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor, mode: str) -> tuple:
        a = _host(A)
        ctx.mode = mode
        if mode == "r":
            r = np.linalg.qr(a, mode="r")
            Q = _C.empty(0, dtype=A.dtype, device=A.device)
            R = _dev(r, A)
        else:
            q, r = np.linalg.qr(a, mode=mode)
            Q, R = _dev(q, A), _dev(r, A)
        ctx.save_for_backward(Q, R)
        return Q, R

    @staticmethod
    def backward(ctx: Any, gQ: Tensor, gR: Tensor) -> tuple:
        Q, R = ctx.saved_tensors
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when "
                               "mode='r'. Please use linalg.qr(A, mode='reduced') if you are going to "
                               "differentiate through linalg.qr.")
        m, n = Q.shape[-2], R.shape[-1]
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and "
                               "nrows > ncols.")
        if m >= n:
            return _qr_backward_deep(gQ, gR, Q, R), None
        # wide: A = [X | Y] with X = Q U (U = R[:, :m] square) and Y = Q V
        U, V = R.narrow(-1, 0, m), R.narrow(-1, m, n - m)
        gU, gV = gR.narrow(-1, 0, m), gR.narrow(-1, m, n - m)
        gX = _qr_backward_deep(gQ + (Q @ V) @ gV.mT, gU, Q, U)
        return _C.cat([gX, Q @ gV], -1), None


def qr(A: Tensor, mode: str = "reduced", *, out: Any = None) -> Any:
    """``(Q, R)`` with ``A = Q R``: mode 'reduced' (k = min(m, n) columns of Q), 'complete' (Q square) or
    'r' (R only; Q is empty)."""
    _need_tensor(A, "linalg_qr")
    _check_matrix(A, "linalg.qr")
    _check_float(A, "linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           "'r', or 'complete'")
    return _out(return_types.linalg_qr(*_QR.apply(A, mode)), out)


class _Eigh(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor, uplo: str, compute_v: bool) -> Any:
        a = _host(A)
        if compute_v or ctx.needs_input_grad[0]:
            w, v = np.linalg.eigh(a, UPLO=uplo)
            Lam, V = _dev(w, A), _dev(v, A)
        else:
            Lam, V = _dev(np.linalg.eigvalsh(a, UPLO=uplo), A), None
        ctx.save_for_backward(Lam, V)
        return (Lam, V) if compute_v else Lam

    @staticmethod
    def backward(ctx: Any, gL: Tensor, gV: Tensor | None = None) -> tuple:
        Lam, V = ctx.saved_tensors
        ret = _diag_embed(gL)
        if gV is not None:
            VtgV = V.mT @ gV
            E = Lam.unsqueeze(-2) - Lam.unsqueeze(-1) + _eye(Lam.shape[-1], Lam)  # E[i, j] = L[j] - L[i]
            ret = ret + 0.5 * (VtgV - VtgV.mT) / E
        return V @ ret @ V.mT, None, None


def _check_uplo(UPLO: Any) -> None:
    if not (isinstance(UPLO, str) and len(UPLO) == 1 and UPLO.upper() in ("U", "L")):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def eigh(A: Tensor, UPLO: str = "L", *, out: Any = None) -> Any:
    """``(eigenvalues, eigenvectors)`` of each symmetric matrix (from its ``UPLO`` triangle), eigenvalues
    ascending; the eigenvectors are the columns."""
    _square_float(A, "linalg.eigh")
    _check_uplo(UPLO)
    return _out(return_types.linalg_eigh(*_Eigh.apply(A, UPLO.upper(), True)), out)


def eigvalsh(A: Tensor, UPLO: str = "L", *, out: Tensor | None = None) -> Tensor:
    """The eigenvalues (ascending) of each symmetric matrix."""
    _square_float(A, "linalg.eigvalsh")
    _check_uplo(UPLO)
    return _out(_Eigh.apply(A, UPLO.upper(), False), out)


def _svd_backward(gU: Tensor, gS: Tensor, gVh: Tensor, U: Tensor, S: Tensor, Vh: Tensor) -> Tensor:
    """PyTorch's ``svd_backward`` (reduced factors, distinct non-zero singular values)."""
    m, n = U.shape[-2], Vh.shape[-1]
    UtgU = U.mT @ gU
    UtgU = UtgU - UtgU.mT
    VtgV = Vh @ gVh.mT
    VtgV = VtgV - VtgV.mT
    S2 = S * S
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + _eye(S.shape[-1], S)
    ret = (UtgU * S.unsqueeze(-2) + S.unsqueeze(-1) * VtgV) / E + _diag_embed(gS)
    if m > n:
        gA = U @ ret
        gUSinv = gU / S.unsqueeze(-2)
        gA = gA + gUSinv - U @ (U.mT @ gUSinv)
        return gA @ Vh
    if m < n:
        gA = ret @ Vh
        SinvgVh = gVh / S.unsqueeze(-1)
        gA = gA + SinvgVh - (SinvgVh @ Vh.mT) @ Vh
        return U @ gA
    return U @ ret @ Vh


class _SVD(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor, full_matrices: bool) -> tuple:
        u, s, vh = _np_svd(_host(A), "linalg.svd", A.dim() == 2, full_matrices)
        U, S, Vh = _dev(u, A), _dev(s, A), _dev(vh, A)
        ctx.full = full_matrices
        ctx.save_for_backward(U, S, Vh)
        return U, S, Vh

    @staticmethod
    def backward(ctx: Any, gU: Tensor, gS: Tensor, gVh: Tensor) -> tuple:
        U, S, Vh = ctx.saved_tensors
        if ctx.full:
            k = S.shape[-1]
            U, gU = U.narrow(-1, 0, k), gU.narrow(-1, 0, k)
            Vh, gVh = Vh.narrow(-2, 0, k), gVh.narrow(-2, 0, k)
        return _svd_backward(gU, gS, gVh, U, S, Vh), None


def _check_driver(A: Tensor, driver: Any) -> None:
    if driver is not None and A.device.type == "cpu":
        raise RuntimeError("torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs "
                           "with cuSOLVER backend.")
    if driver is not None and driver not in ("gesvd", "gesvdj", "gesvda"):
        raise RuntimeError(f"torch.linalg.svd: unknown svd driver {driver} in svd_cusolver computation. "
                           "Available options are: 'gesvd', 'gesvdj', 'gesvda'.")


def svd(A: Tensor, full_matrices: bool = True, *, driver: str | None = None, out: Any = None) -> Any:
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``, singular values descending; ``full_matrices=False`` gives
    the reduced factors (k = min(m, n))."""
    _need_tensor(A, "linalg_svd")
    _check_matrix(A, "linalg.svd")
    _check_float(A, "linalg.svd")
    _check_driver(A, driver)
    return _out(return_types.linalg_svd(*_SVD.apply(A, full_matrices)), out)


class _Svdvals(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor) -> Tensor:
        a = _host(A)
        if ctx.needs_input_grad[0]:
            u, s, vh = _np_svd(a, "linalg.svd", A.dim() == 2)
            ctx.save_for_backward(_dev(u, A), _dev(vh, A))
        else:
            s = _np_svd(a, "linalg.svd", A.dim() == 2, compute_uv=False)
        return _dev(s, A)

    @staticmethod
    def backward(ctx: Any, gS: Tensor) -> Tensor:
        U, Vh = ctx.saved_tensors
        return (U * gS.unsqueeze(-2)) @ Vh


def svdvals(A: Tensor, *, driver: str | None = None, out: Tensor | None = None) -> Tensor:
    """The singular values of each matrix, descending."""
    _need_tensor(A, "linalg_svdvals")
    _check_matrix(A, "linalg.svd")
    _check_float(A, "linalg.svd")
    _check_driver(A, driver)
    return _out(_Svdvals.apply(A), out)


# ---------------------------------------------------------------------------------------------------------
# pseudo-inverse, least squares, rank
# ---------------------------------------------------------------------------------------------------------


def _tol_array(v: Any, batch: tuple) -> np.ndarray:
    arr = _host(v) if isinstance(v, Tensor) else np.asarray(v, dtype=np.float64)
    return np.broadcast_to(np.asarray(arr, dtype=np.float64), batch)


def _tolerance(A: Tensor, atol: Any, rtol: Any, smax: np.ndarray) -> np.ndarray:
    """``max(atol, rtol * smax)`` per matrix with PyTorch's defaults (rtol = eps * max(m, n), or 0 when
    only a positive atol is given)."""
    batch = smax.shape
    default = _eps(A.dtype) * max(A.shape[-2], A.shape[-1])
    a = _tol_array(0.0 if atol is None else atol, batch)
    if rtol is not None:
        r = _tol_array(rtol, batch)
    elif atol is not None:
        r = np.where(a > 0, 0.0, default)
    else:
        r = np.full(batch, default)
    return np.maximum(a, r * smax)


def _pinv_backward(g: Tensor, pinvA: Tensor, A: Tensor) -> Tensor:
    m, n = A.shape[-2], A.shape[-1]
    pinvAh, gh = pinvA.mT, g.mT
    if m <= n:
        K = gh @ pinvA
        KpinvAh = K @ pinvAh
        return -(pinvA @ K).mT + KpinvAh - (A @ pinvA) @ KpinvAh + (pinvAh @ pinvA) @ (gh - K @ A)
    K = pinvA @ gh
    pinvAhK = pinvAh @ K
    return -(K @ pinvA).mT + (gh - A @ K) @ pinvA @ pinvAh + pinvAhK - pinvAhK @ pinvA @ A


class _Pinv(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor, atol: Any, rtol: Any, hermitian: bool) -> Tensor:
        a = _host(A)
        m, n = a.shape[-2], a.shape[-1]
        if min(m, n) == 0:
            res = np.zeros(a.shape[:-2] + (n, m), dtype=a.dtype)
        elif hermitian:
            w, v = np.linalg.eigh(a)
            aw = np.abs(w)
            tol = _tolerance(A, atol, rtol, aw.max(-1))
            winv = np.where(aw > tol[..., None], 1.0 / np.where(aw > tol[..., None], w, 1), 0).astype(a.dtype)
            res = (v * winv[..., None, :]) @ _swap(v)
        else:
            u, s, vh = _np_svd(a, "linalg.pinv", A.dim() == 2)
            tol = _tolerance(A, atol, rtol, s[..., 0])
            keep = s > tol[..., None]
            sinv = np.where(keep, 1.0 / np.where(keep, s, 1), 0).astype(a.dtype)
            res = (_swap(vh) * sinv[..., None, :]) @ _swap(u)
        P = _dev(res, A)
        ctx.save_for_backward(A, P)
        return P

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        A, P = ctx.saved_tensors
        return _pinv_backward(g, P, A), None, None, None


def pinv(A: Tensor, rcond: Any = None, hermitian: bool = False, *, atol: Any = None, rtol: Any = None,
         out: Tensor | None = None) -> Tensor:
    """The Moore-Penrose pseudo-inverse: singular values (|eigenvalues| when ``hermitian``) at or below
    ``max(atol, rtol * largest)`` count as zero. ``rcond`` is the older name of ``rtol``."""
    _need_tensor(A, "linalg_pinv")
    _check_matrix(A, "linalg.pinv")
    _check_float(A, "linalg.pinv")
    if rcond is not None:
        if rtol is not None:
            raise RuntimeError("linalg.pinv: rcond and rtol cannot both be given")
        rtol = rcond
        atol = 0.0 if atol is None else atol
    return _out(_Pinv.apply(A, atol, rtol, hermitian), out)


class _Lstsq(Function):
    """The minimum-norm least-squares solution for ``A`` (*, m, n), ``B`` (*, m, k) with equal batch dims;
    also returns the ranks and the singular values (not differentiable)."""

    @staticmethod
    def forward(ctx: Any, A: Tensor, B: Tensor, rcond: float) -> tuple:
        a, b = _host(A), _host(B)
        m, n, k = a.shape[-2], a.shape[-1], b.shape[-1]
        batch = a.shape[:-2]
        count = int(np.prod(batch, dtype=np.int64))
        fa, fb = a.reshape(count, m, n), b.reshape(count, m, k)
        x = np.zeros((count, n, k), dtype=a.dtype)
        rank = np.zeros(count, dtype=np.int64)
        sv = np.zeros((count, min(m, n)), dtype=a.dtype)
        for i in range(count):
            if min(m, n) == 0:
                continue
            x[i], _res, rank[i], sv[i] = np.linalg.lstsq(fa[i], fb[i], rcond=rcond)
        X = _dev(x.reshape(batch + (n, k)), A)
        S = _dev(sv.reshape(batch + (min(m, n),)), A)
        ctx.save_for_backward(A, B)
        ctx.mark_non_differentiable(S)
        return X, _dev(rank.reshape(batch), A), S

    @staticmethod
    def backward(ctx: Any, gX: Tensor, _grank: Any, _gS: Any) -> tuple:
        A, B = ctx.saved_tensors
        P = pinv(A)
        gA = _pinv_backward(gX @ B.mT, P, A) if ctx.needs_input_grad[0] else None
        gB = P.mT @ gX if ctx.needs_input_grad[1] else None
        return gA, gB, None


_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *, driver: str | None = None) -> Any:
    """``(solution, residuals, rank, singular_values)`` of ``min ||A X - B||_F``. As PyTorch: residuals (the
    squared residual norm of each column) are filled when m > n and the driver is not 'gelsy' (for
    'gelsd'/'gelss' only when every matrix has full rank); rank for every driver but 'gels';
    singular values for 'gelsd'/'gelss'. The default driver is 'gelsy' ('gels' for CUDA input)."""
    _need_tensor(A, "linalg_lstsq", "self")
    _need_tensor(B, "linalg_lstsq", "b", 2)
    if A.dim() < 2:
        raise RuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    if B.dim() < 1:
        raise RuntimeError("torch.linalg.lstsq: other must have at least 1 dimension.")
    _check_float(A, "torch.linalg.lstsq")
    if A.dtype != B.dtype:
        raise RuntimeError("torch.linalg.lstsq: Expected input and other to have the same dtype, but got "
                           f"input's dtype {_type_name(A.dtype)} and other's dtype {_type_name(B.dtype)}")
    diff = A.dim() - B.dim()
    if not 0 <= diff <= 1:
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to other.dim() and "
                           "(input.dim() - other.dim()) <= 1")
    vector = _is_vector_rhs(A, B)
    B2 = B.unsqueeze(-1) if vector else B
    if A.shape[-2] != B2.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-1)" if vector
                           else "torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    cuda = A.device.type != "cpu"
    if driver is None:
        driver = "gels" if cuda else "gelsy"
    elif driver not in _LSTSQ_DRIVERS:
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of "
                           "(gels, gelsy, gelsd, gelss)")
    elif cuda and driver != "gels":
        raise RuntimeError("torch.linalg.lstsq: `driver` other than `gels` is not supported on CUDA")
    m, n = A.shape[-2], A.shape[-1]
    if rcond is None:
        rcond = _eps(A.dtype) * max(m, n)
    A2, B2 = _broadcast_batch(A, B2)
    X, rank, S = _Lstsq.apply(A2, B2, _py_float(rcond))
    empty = _C.empty(0, dtype=A.dtype, device=A.device)
    residuals = empty
    if m > n and driver != "gelsy" and (driver == "gels" or _py_bool((rank == n).all())):
        residuals = ((A2 @ X - B2) ** 2).sum(-2)
    if driver == "gels":
        rank = _C.empty(0, dtype=_C.int64, device=A.device)
    if driver not in ("gelsd", "gelss"):
        S = empty
    return return_types.linalg_lstsq(X.squeeze(-1) if vector else X, residuals, rank, S)


def matrix_rank(A: Tensor, tol: Any = None, hermitian: bool = False, *, atol: Any = None, rtol: Any = None,
                out: Tensor | None = None) -> Tensor:
    """The number of singular values (|eigenvalues| when ``hermitian``) above ``max(atol, rtol * largest)``
    (int64). ``tol`` is the older name of ``atol`` (with rtol 0)."""
    _need_tensor(A, "linalg_matrix_rank")
    _check_matrix(A, "linalg.matrix_rank")
    _check_float(A, "linalg.matrix_rank")
    if tol is not None:
        atol, rtol = tol, 0.0 if rtol is None else rtol
    a = _host(A)
    if min(a.shape[-2:]) == 0:
        return _out(_dev(np.zeros(a.shape[:-2], dtype=np.int64), A), out)
    if hermitian:
        s = np.abs(np.linalg.eigvalsh(a))
    else:
        s = _np_svd(a, "linalg.svd", A.dim() == 2, compute_uv=False)
    tolv = _tolerance(A, atol, rtol, s.max(-1))
    return _out(_dev((s > tolv[..., None]).sum(-1).astype(np.int64), A), out)


def cond(A: Tensor, p: Any = None, *, out: Tensor | None = None) -> Tensor:
    """The condition number ``||A||_p ||A^-1||_p`` (p None or 2: largest over smallest singular value)."""
    _need_tensor(A, "linalg_cond")
    _check_matrix(A, "linalg.cond")
    _check_float(A, "linalg.cond")
    if p is None or (not isinstance(p, str) and abs(_py_float(p)) == 2):
        S = svdvals(A)
        big, small = S.narrow(-1, 0, 1).squeeze(-1), S.narrow(-1, S.shape[-1] - 1, 1).squeeze(-1)
        return _out(small / big if p is not None and _py_float(p) < 0 else big / small, out)
    _check_square(A, f"linalg.cond(ord={_fmt_ord(p)})")
    Ainv, info = inv_ex(A)
    r = matrix_norm(A, p) * matrix_norm(Ainv, p)
    return _out(_C._where(info > 0, _full_like(r, math.inf), r), out)


# ---------------------------------------------------------------------------------------------------------
# products and the rest (tensor ops)
# ---------------------------------------------------------------------------------------------------------


def matrix_power(A: Tensor, n: int, *, out: Tensor | None = None) -> Tensor:
    """``A`` multiplied by itself ``n`` times (the identity for 0, powers of the inverse for n < 0)."""
    _need_tensor(A, "linalg_matrix_power")
    if isinstance(n, _py_bool) or not isinstance(n, _py_int):
        raise TypeError("linalg_matrix_power(): argument 'n' (position 2) must be int, "
                        f"not {type(n).__name__}")
    _check_square(A, "linalg.matrix_power")
    if n == 0:
        ident = _eye(A.shape[-1], A).expand(*A.shape)  # a zero gradient for A, as PyTorch's clone-and-fill
        return _out(_C._where(_C.ones(*A.shape, dtype=_C.bool, device=A.device), ident, A), out)
    a = inv(A) if n < 0 else A
    k = abs(n)
    result = None
    while True:  # binary powering
        if k & 1:
            result = a if result is None else result @ a
        k >>= 1
        if not k:
            break
        a = a @ a
    return _out(result.clone() if result is A else result, out)


def matrix_exp(A: Tensor) -> Tensor:
    """``exp(A)`` of each square matrix: scaling and squaring of a degree-18 Taylor polynomial (tensor
    ops, so any device and native autograd)."""
    _need_tensor(A, "linalg_matrix_exp")
    _check_square(A, "linalg.matrix_exp")
    if not A.dtype.is_floating_point:
        raise RuntimeError("linalg.matrix_exp: Expected a floating point or complex tensor as input. "
                           f"Got {_type_name(A.dtype)}")
    n = A.shape[-1]
    if A.numel() == 0:
        return A.clone()
    if n == 1:
        return A.exp()
    norm1 = _py_float(A.detach().abs().sum(-2).amax(-1).max())
    if not math.isfinite(norm1):
        return A * math.nan
    s = max(0, math.ceil(math.log2(norm1 / 0.5))) if norm1 > 0.5 else 0
    X = A / (2.0 ** s) if s else A
    ident = _eye(n, A)
    E = ident + X / 18.0
    for k in range(17, 0, -1):  # Horner: I + X (I + X/2 (I + ... (I + X/18)))
        E = ident + (X @ E) / _py_float(k)
    for _ in range(s):
        E = E @ E
    return E


def cross(input: Tensor, other: Tensor, *, dim: int = -1, out: Tensor | None = None) -> Tensor:
    """The cross product of the 3-vectors along ``dim``; batch dims broadcast."""
    _need_tensor(input, "linalg_cross", "input")
    _need_tensor(other, "linalg_cross", "other", 2)
    if input.dim() != other.dim():
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    nd = max(input.dim(), 1)
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], "
                         f"but got {dim})")
    d = dim % nd
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. "
                           f"Got {input.shape[d]} and {other.shape[d]}")
    a, b = broadcast_tensors(input, other)
    a0, a1, a2 = (a.select(d, i) for i in range(3))
    b0, b1, b2 = (b.select(d, i) for i in range(3))
    return _out(_C.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d), out)


def _multi_dot_order(dims: list[int]) -> list[list[int]]:
    """The optimal split table of the matrix chain with shapes dims[i] x dims[i+1]."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = -1
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] < 0 or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(tensors: Sequence[Tensor], *, out: Tensor | None = None) -> Tensor:
    """The product of two or more matrices in the cheapest order; the first may be a row vector and the
    last a column vector (1-D), as ``matmul`` treats them."""
    ts = list(tensors)
    n = len(ts)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    for i, t in enumerate(ts):
        _need_tensor(t, "linalg_multi_dot", "tensors")
        if i == 0 and t.dim() not in (1, 2):
            raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {t.dim()}D")
        if i == n - 1 and t.dim() not in (1, 2):
            raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {t.dim()}D")
        if 0 < i < n - 1 and t.dim() != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.dim()}D")
        if t.dtype != ts[0].dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                               f"{_type_name(ts[0].dtype)} and tensor {i} {_type_name(t.dtype)}")
    first_vec, last_vec = ts[0].dim() == 1, ts[-1].dim() == 1
    mats = list(ts)
    if first_vec:
        mats[0] = mats[0].unsqueeze(0)
    if last_vec:
        mats[-1] = mats[-1].unsqueeze(-1)
    for i in range(1, n):
        if mats[i - 1].shape[-1] != mats[i].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i - 1} and {i} with shapes {list(ts[i - 1].shape)} "
                               f"and {list(ts[i].shape)} cannot be multiplied")
    split = _multi_dot_order([mats[0].shape[0]] + [m.shape[1] for m in mats])

    def prod(i: int, j: int) -> Tensor:
        if i == j:
            return mats[i]
        k = split[i][j]
        return prod(i, k) @ prod(k + 1, j)

    r = prod(0, n - 1)
    if first_vec:
        r = r.squeeze(0)
    if last_vec:
        r = r.squeeze(-1)
    return _out(r, out)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1, out: Tensor | None = None) -> Tensor:
    """The dot product of the vectors along ``dim`` (batch dims broadcast)."""
    _need_tensor(x, "linalg_vecdot", "x")
    _need_tensor(y, "linalg_vecdot", "y", 2)
    if x.dtype != y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{_type_name(x.dtype)} and y of type {_type_name(y.dtype)} instead")
    return _out((x * y).sum(dim), out)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonal (a view) of each matrix in the ``dim1``/``dim2`` planes."""
    return A.diagonal(offset, dim1, dim2)


def matmul(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Alias of ``torch.matmul``."""
    return _FUNCTIONS["matmul"](input, other, out=out)


def vander(x: Tensor, *, N: int | None = None) -> Tensor:
    """The Vandermonde matrix ``[x^0, x^1, ..., x^(N-1)]`` (columns) of each vector ``x`` (*, n)."""
    _need_tensor(x, "linalg_vander", "x")
    if x.dim() < 1:
        raise RuntimeError("x must be at least 1-dimensional.")
    N = x.shape[-1] if N is None else N
    if N <= 1:
        raise RuntimeError("N must be greater than 1.")
    cols = [_C.ones(*x.shape, dtype=x.dtype, device=x.device), x]
    for _ in range(N - 2):
        cols.append(cols[-1] * x)
    return _C.stack(cols, -1)


def tensorinv(A: Tensor, ind: int = 2, *, out: Tensor | None = None) -> Tensor:
    """The inverse of ``A`` as a linear map from its last ``A.dim() - ind`` dims to its first ``ind``."""
    _need_tensor(A, "linalg_tensorinv")
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    pr, pc = math.prod(rows), math.prod(cols)
    if pr != pc:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {pc} != {pr}")
    return _out(inv(A.reshape(pr, pc)).reshape(*cols, *rows), out)


def tensorsolve(A: Tensor, B: Tensor, dims: Sequence[int] | None = None, *,
                out: Tensor | None = None) -> Tensor:
    """``X`` with ``tensordot(A, X, X.ndim) == B``; ``dims`` are moved to the end of ``A`` first."""
    _need_tensor(A, "linalg_tensorsolve")
    _need_tensor(B, "linalg_tensorsolve", "B", 2)
    if dims is not None:
        nd = A.dim()
        moved = [d % nd for d in dims]
        A = A.permute(*[i for i in range(nd) if i not in moved], *moved)
    rest = tuple(A.shape[B.dim():])
    if math.prod(rest) != B.numel():
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {math.prod(rest)} != {B.numel()}")
    X = solve(A.reshape(B.numel(), math.prod(rest)), B.reshape(B.numel()))
    return _out(X.reshape(*rest), out)


class _no_grad:
    def __enter__(self) -> None:
        self.prev = _C._set_grad_enabled(False)

    def __exit__(self, *a: object) -> None:
        _C._set_grad_enabled(self.prev)


# ---------------------------------------------------------------------------------------------------------
# the older top-level forms (torch.inverse, torch.det, ...) and their Tensor methods
# ---------------------------------------------------------------------------------------------------------


_CHOLESKY_DEPRECATED = (
    "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a future PyTorch "
    "release.\nL = torch.cholesky(A)\nshould be replaced with\nL = torch.linalg.cholesky(A)\nand\n"
    "U = torch.cholesky(A, upper=True)\nshould be replaced with\nU = torch.linalg.cholesky(A).mH\n"
    "This transform will produce equivalent results for all valid (symmetric positive definite) inputs.")
_QR_DEPRECATED = (
    "torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future PyTorch release.\n"
    "The boolean parameter 'some' has been replaced with a string parameter 'mode'.\n"
    "Q, R = torch.qr(A, some)\nshould be replaced with\nQ, R = torch.linalg.qr(A, 'reduced' if some else "
    "'complete')")
_CROSS_DEPRECATED = (
    "Using torch.cross without specifying the dim arg is deprecated.\n"
    "Please either pass the dim explicitly or simply use torch.linalg.cross.\n"
    "The default value of dim will change to agree with that of linalg.cross in a future release.")
_CHAIN_MATMUL_DEPRECATED = (
    "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
    "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than multiple "
    "parameters.")


def _inverse(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``torch.inverse``: ``torch.linalg.inv``."""
    return inv(input, out=out)


def _det(input: Tensor) -> Tensor:
    """``torch.det``: ``torch.linalg.det``."""
    return det(input)


def _logdet(input: Tensor) -> Tensor:
    """``log(det(A))``: NaN where the determinant is negative, -inf where it is zero."""
    sign, logabs = slogdet(input)
    return _C._where(sign < 0, _full_like(logabs, math.nan), logabs)


def _slogdet(input: Tensor) -> Any:
    """``torch.slogdet``: ``(sign, logabsdet)``."""
    return return_types.slogdet(*slogdet(input))


def _torch_cholesky(input: Tensor, upper: bool = False, *, out: Tensor | None = None) -> Tensor:
    """Deprecated ``torch.cholesky(A, upper=False)``."""
    _warn_once("cholesky", _CHOLESKY_DEPRECATED)
    _need_tensor(input, "cholesky", "input")
    if input.numel() == 0:
        return _out(input.clone(), out)
    _check_square(input, "cholesky")
    _check_float(input, "cholesky")
    return _out(_Cholesky.apply(input, upper, "cholesky", True)[0], out)


def _torch_svd(input: Tensor, some: bool = True, compute_uv: bool = True, *, out: Any = None) -> Any:
    """Older ``torch.svd``: ``(U, S, V)`` (V, not Vh), reduced when ``some``; zero U and V when not
    ``compute_uv``."""
    if not compute_uv:
        S = svdvals(input)
        b, (m, n) = tuple(input.shape[:-2]), tuple(input.shape[-2:])
        U = _C.zeros(*b, m, m, dtype=input.dtype, device=input.device)
        V = _C.zeros(*b, n, n, dtype=input.dtype, device=input.device)
        return _out(return_types.svd(U, S, V), out)
    U, S, Vh = svd(input, full_matrices=not some)
    return _out(return_types.svd(U, S, Vh.mT), out)


def _torch_qr(input: Tensor, some: bool = True, *, out: Any = None) -> Any:
    """Deprecated ``torch.qr(A, some=True)``."""
    _warn_once("qr", _QR_DEPRECATED)
    return _out(return_types.qr(*qr(input, "reduced" if some else "complete")), out)


def _pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """``torch.pinverse``: ``linalg.pinv`` with ``rtol=rcond``."""
    return pinv(input, rtol=rcond)


def _matrix_power(input: Tensor, n: int) -> Tensor:
    """``torch.matrix_power``: ``linalg.matrix_power``."""
    return matrix_power(input, n)


def _matrix_exp(input: Tensor) -> Tensor:
    """``torch.matrix_exp``: ``linalg.matrix_exp``."""
    return matrix_exp(input)


def _torch_cross(input: Tensor, other: Tensor, dim: int | None = None, *,
                 out: Tensor | None = None) -> Tensor:
    """``torch.cross``: without ``dim``, the first dimension of size 3 (deprecated, with a warning)."""
    if dim is None:
        _warn_once("cross", _CROSS_DEPRECATED)
        _need_tensor(input, "cross", "input")
        dim = next((i for i, s in enumerate(input.shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return cross(input, other, dim=dim, out=out)


def _chain_matmul(*matrices: Tensor, out: Tensor | None = None) -> Tensor:
    """Deprecated ``torch.chain_matmul(A, B, C, ...)``: ``linalg.multi_dot`` of 2-D matrices."""
    _warn_once("chain_matmul", _CHAIN_MATMUL_DEPRECATED)
    if len(matrices) == 1:
        return _out(matrices[0].clone(), out)
    return multi_dot(matrices, out=out)


def _as_method(fn: Any) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    method.__doc__ = fn.__doc__
    return method


for _n, _f in {
    "inverse": _inverse, "det": _det, "logdet": _logdet, "slogdet": _slogdet, "cholesky": _torch_cholesky,
    "cholesky_solve": _cholesky_solve, "cholesky_inverse": _cholesky_inverse, "svd": _torch_svd,
    "qr": _torch_qr, "pinverse": _pinverse, "matrix_power": _matrix_power, "matrix_exp": _matrix_exp,
    "cross": _torch_cross,
}.items():
    if not hasattr(Tensor, _n):
        _method(_n)(_as_method(_f))
    _f.__name__ = _f.__qualname__ = _n

# the LU family, Householder products and LDL^T live in their own module (it builds on the helpers above)
from ._linalg_lu import TENSOR_METHODS as _LU_METHODS
from ._linalg_lu import (
    householder_product,
    ldl_factor,
    ldl_factor_ex,
    ldl_solve,
    lu,
    lu_factor,
    lu_factor_ex,
    lu_solve,
)

for _n, _f in _LU_METHODS.items():
    if not hasattr(Tensor, _n):
        _method(_n)(_as_method(_f))
    _f.__name__ = _f.__qualname__ = _n
