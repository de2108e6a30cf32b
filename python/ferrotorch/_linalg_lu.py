"""The LU family of ``torch.linalg`` and its older top-level forms: ``linalg.lu``, ``lu_factor``,
``lu_factor_ex``, ``lu_solve``, ``torch.lu_unpack``, ``torch.lu``, ``torch.lu_solve``; Householder
products (``linalg.householder_product``, ``torch.orgqr``, ``torch.geqrf``); ``torch.triangular_solve``;
and the symmetric indefinite ``linalg.ldl_factor`` / ``ldl_factor_ex`` / ``ldl_solve``.

numpy has no LU or LDL^T, so the factorizations are written here in numpy, with LAPACK's conventions
(``getrf``: partial pivoting, 1-based int32 pivots, ``info`` = the first zero pivot; ``sytrf``: Bunch-Kaufman
with 1x1 and 2x2 blocks, negative pivots marking a 2x2 block). LU runs vectorised over the batch; LDL^T,
whose pivoting differs from matrix to matrix, runs matrix by matrix. ``lu_factor`` is one
``autograd.Function`` whose backward is PyTorch's formula; the rest (``lu``, ``lu_unpack``, ``lu_solve``,
``householder_product``, ``triangular_solve``) are compositions of differentiable tensor ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _C
from ._C import Tensor
from ._functions import broadcast_shapes
from ._tensor import _named, return_types
from .autograd.function import Function
from .linalg import (
    _NP_FLOAT,
    LinAlgError,
    _check_matrix,
    _dev,
    _host,
    _need_tensor,
    _out,
    _swap,
    _type_name,
    _warn_once,
    solve_triangular,
)

for _name, _fields in {
    "linalg_lu": ("P", "L", "U"), "lu_unpack": ("P", "L", "U"), "linalg_lu_factor": ("LU", "pivots"),
    "linalg_lu_factor_ex": ("LU", "pivots", "info"), "_lu_with_info": ("LU", "pivots", "info"),
    "geqrf": ("a", "tau"), "triangular_solve": ("solution", "cloned_coefficient"),
    "linalg_ldl_factor": ("LD", "pivots"), "linalg_ldl_factor_ex": ("LD", "pivots", "info"),
}.items():
    setattr(return_types, _name, _named(_name, _fields))

_LU_DEPRECATED = (
    "torch.lu is deprecated in favor of torch.linalg.lu_factor / torch.linalg.lu_factor_ex and will be "
    "removed in a future PyTorch release.\nLU, pivots = torch.lu(A, compute_pivots)\nshould be replaced with\n"
    "LU, pivots = torch.linalg.lu_factor(A, compute_pivots)\nand\n"
    "LU, pivots, info = torch.lu(A, compute_pivots, get_infos=True)\nshould be replaced with\n"
    "LU, pivots, info = torch.linalg.lu_factor_ex(A, compute_pivots)")
_LU_SOLVE_DEPRECATED = (
    "torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand will be removed in a future PyTorch "
    "release.\nNote that torch.linalg.lu_solve has its arguments reversed.\n"
    "X = torch.lu_solve(B, LU, pivots)\nshould be replaced with\nX = torch.linalg.lu_solve(LU, pivots, B)")
_TRIANGULAR_SOLVE_DEPRECATED = (
    "torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangularand will be removed in a "
    "future PyTorch release.\ntorch.linalg.solve_triangular has its arguments reversed and does not return a "
    "copy of one of the inputs.\nX = torch.triangular_solve(B, A).solution\nshould be replaced with\n"
    "X = torch.linalg.solve_triangular(A, B).")


# ---------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------


def _size(shape: Any) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _is_matrix(A: Tensor, fname: str) -> None:
    if A.dim() < 2:
        raise RuntimeError(f"{fname}: Expected tensor with 2 or more dimensions. Got size: {_size(A.shape)} "
                           "instead")


def _kernel_dtype(A: Tensor, kernel: str) -> None:
    """PyTorch's dispatch error for a dtype the LAPACK kernel has no version of."""
    if A.dtype not in _NP_FLOAT:
        raise NotImplementedError(f'"{kernel}_{A.device.type}" not implemented for \'{_type_name(A.dtype)}\'')


def _float_input(A: Tensor, fname: str, kernel: str) -> None:
    if not A.dtype.is_floating_point:
        raise NotImplementedError(f"{fname}: Expected a floating point or complex tensor as input. "
                                  f"Got {_type_name(A.dtype)}")
    _kernel_dtype(A, kernel)


def _square(A: Tensor, prefix: str) -> None:
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{prefix}A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")


def _expand_batch(t: Tensor, batch: tuple, core: int) -> Tensor:
    """``t`` with its leading dims expanded to ``batch`` (its last ``core`` dims kept)."""
    shape = tuple(t.shape[t.dim() - core:])
    return t if tuple(t.shape[:t.dim() - core]) == batch else t.expand(*batch, *shape)


def _np_getrf(a: np.ndarray, pivot: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LAPACK ``getrf`` for ``a`` (*, m, n), vectorised over the batch: the packed ``LU`` (unit L below the
    diagonal, U on and above it), the 1-based int32 pivots (*, min(m, n)) (row ``i`` was swapped with row
    ``pivots[i] - 1``) and ``info`` (*): the 1-based index of the first exactly-zero pivot, 0 when none."""
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    c = int(np.prod(batch, dtype=np.int64))
    flat = np.array(a.reshape((c, m, n)), copy=True)
    piv = np.tile(np.arange(1, k + 1, dtype=np.int32), (c, 1))
    info = np.zeros(c, dtype=np.int32)
    rows = np.arange(c)
    for j in range(k):
        if pivot and j + 1 < m:
            p = j + np.argmax(np.abs(flat[:, j:, j]), axis=1)  # first maximum, as LAPACK's i?amax
            piv[:, j] = p + 1
            row = flat[rows, j].copy()
            flat[rows, j] = flat[rows, p]
            flat[rows, p] = row
        d = flat[:, j, j]
        zero = d == 0
        info[zero & (info == 0)] = j + 1
        # a zero pivot leaves its column as it is (it is all zeros under partial pivoting), as getrf
        flat[:, j + 1:, j] /= np.where(zero, 1, d)[:, None]
        flat[:, j + 1:, j + 1:] -= flat[:, j + 1:, j:j + 1] * flat[:, j:j + 1, j + 1:]
    return flat.reshape(a.shape), piv.reshape(batch + (k,)), info.reshape(batch)


def _np_permutation(piv: np.ndarray, m: int, dtype: Any) -> np.ndarray:
    """The permutation matrices ``P`` (*, m, m) with ``A = P L U`` from getrf's sequential row swaps."""
    batch, k = piv.shape[:-1], piv.shape[-1]
    c = int(np.prod(batch, dtype=np.int64))
    flat = piv.reshape(c, k).astype(np.int64) - 1
    perm = np.tile(np.arange(m), (c, 1))
    rows = np.arange(c)
    for i in range(k):
        a, b = perm[rows, i].copy(), perm[rows, flat[:, i]]
        perm[rows, i] = b
        perm[rows, flat[:, i]] = a
    P = np.zeros((c, m, m), dtype=dtype)
    P[rows[:, None], perm, np.arange(m)[None, :]] = 1  # (P^T A)[i] = A[perm[i]]
    return P.reshape(batch + (m, m))


def _permutation(pivots: Tensor, m: int, like: Tensor) -> Tensor:
    return _dev(_np_permutation(_host(pivots), m, _NP_FLOAT[like.dtype]), like)


def _raise_lu(info: np.ndarray, api: str, is_matrix: bool) -> None:
    flat = np.asarray(info).reshape(-1)
    idx = int(np.flatnonzero(flat)[0])
    code = int(flat[idx])
    where = "" if is_matrix else f": (Batch element {idx})"
    raise LinAlgError(f"{api}{where}: U[{code},{code}] is zero and using it on lu_solve would result in a "
                      "division by zero. If you still want to perform the factorization, consider calling "
                      "linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


# ---------------------------------------------------------------------------------------------------------
# LU
# ---------------------------------------------------------------------------------------------------------


def _lu_backward(gL: Tensor, gU: Tensor, P: Tensor | None, L: Tensor, U: Tensor) -> Tensor:
    """PyTorch's ``linalg_lu_backward``: the gradient of ``A = P L U`` (L m x k unit lower, U k x n upper)."""
    m, n = L.shape[-2], U.shape[-1]
    k = min(m, n)
    if m == n:
        # P L^-H [tril(L^H gL, -1) + triu(gU U^H)] U^-H
        gA = (L.mT @ gL).tril(-1) + (gU @ U.mT).triu()
        gA = solve_triangular(U.mT, gA, upper=False, left=False)
        gA = solve_triangular(L.mT, gA, upper=True, unitriangular=True)
    elif m < n:
        # wide: U = [U1 | U2]; A1 gets P L^-H [U1grad + tril(L^H gL - gU U^H, -1) U1^-H], A2 gets P L^-H U2grad
        U1 = U.narrow(-1, 0, k)
        gA = (L.mT @ gL - gU.triu() @ U.mT).tril(-1)
        gA = solve_triangular(U1.mT, gA, upper=False, left=False)
        gA = _C.cat([gA + gU.narrow(-1, 0, k).triu(), gU.narrow(-1, k, n - k)], -1)
        gA = solve_triangular(L.mT, gA, upper=True, unitriangular=True)
    else:
        # tall: L = [L1; L2]; A1 gets P [L1grad + L1^-H triu(gU U^H - L^H gL)] U^-H, A2 gets P L2grad U^-H
        L1 = L.narrow(-2, 0, k)
        gA = (gU @ U.mT - L.mT @ gL.tril(-1)).triu()
        gA = solve_triangular(L1.mT, gA, upper=True, unitriangular=True)
        gA = _C.cat([gA + gL.narrow(-2, 0, k).tril(-1), gL.narrow(-2, k, m - k)], -2)
        gA = solve_triangular(U.mT, gA, upper=False, left=False)
    return gA if P is None else P @ gA


class _LUFactor(Function):
    """``(LU, pivots, info)`` of ``A`` (*, m, n); the gradient flows through ``LU`` only."""

    @staticmethod
    def forward(ctx: Any, A: Tensor, pivot: bool, api: str, check: bool) -> tuple:
        lu, piv, info = _np_getrf(_host(A), pivot)
        if check and info.any():
            _raise_lu(info, api, A.dim() == 2)
        LU, pivots, info_t = _dev(lu, A), _dev(piv, A), _dev(info, A)
        ctx.pivot = pivot
        ctx.mark_non_differentiable(pivots, info_t)
        ctx.save_for_backward(LU, pivots)
        return LU, pivots, info_t

    @staticmethod
    def backward(ctx: Any, g: Tensor, _gpiv: Any, _ginfo: Any) -> tuple:
        LU, pivots = ctx.saved_tensors
        m, n = LU.shape[-2:]
        k = min(m, n)
        P, L, U = lu_unpack(LU, pivots, unpack_pivots=ctx.pivot)
        gL, gU = g.narrow(-1, 0, k).tril(-1), g.narrow(-2, 0, k).triu()
        return _lu_backward(gL, gU, P if ctx.pivot else None, L, U), None, None, None


def _lu_factor(A: Any, pivot: bool, api: str, check: bool, fname: str = "torch.lu_factor") -> tuple:
    _need_tensor(A, "linalg_lu_factor_ex" if "_ex" in api else "linalg_lu_factor")
    _is_matrix(A, fname)
    _kernel_dtype(A, "lu")
    if not pivot and A.device.type == "cpu":
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    return _LUFactor.apply(A, pivot, api, check)


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False, out: Any = None) -> Any:
    """``(LU, pivots, info)``: the packed LU factorization with partial pivoting of ``A`` (*, m, n) as LAPACK's
    getrf (``LU`` (*, m, n), int32 ``pivots`` (*, min(m, n)), 1-based), and ``info`` (*, int32): the index of
    the first zero on U's diagonal (0 when none). ``check_errors`` raises ``LinAlgError`` where it is not 0."""
    r = _lu_factor(A, pivot, "torch.linalg.lu_factor_ex", check_errors)
    return _out(return_types.linalg_lu_factor_ex(*r), out)


def lu_factor(A: Tensor, *, pivot: bool = True, out: Any = None) -> Any:
    """``(LU, pivots)`` of ``lu_factor_ex``; a zero on U's diagonal (singular ``A``) raises ``LinAlgError``."""
    LU, pivots, _ = _lu_factor(A, pivot, "torch.linalg.lu_factor", True)
    return _out(return_types.linalg_lu_factor(LU, pivots), out)


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True, unpack_pivots: bool = True, *,
              out: Any = None) -> Any:
    """``(P, L, U)`` from ``lu_factor``'s packed ``LU`` (*, m, n) and ``pivots`` (*, k), k = min(m, n):
    ``P`` (*, m, m), unit lower ``L`` (*, m, k), upper ``U`` (*, k, n); those not unpacked are empty."""
    _need_tensor(LU_data, "lu_unpack", "LU_data")
    _need_tensor(LU_pivots, "lu_unpack", "LU_pivots", 2)
    _is_matrix(LU_data, "torch.lu_unpack")
    if LU_pivots.dtype != _C.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 "
                           "dtype.\nNote: this function is intended to be used with the output produced by "
                           "torch.linalg.lu_factor")
    m, n = LU_data.shape[-2:]
    k = min(m, n)
    empty = _C.empty(0, dtype=LU_data.dtype, device=LU_data.device)
    if unpack_data:
        L = LU_data.narrow(-1, 0, k).tril(-1) + _C.eye(m, k, dtype=LU_data.dtype, device=LU_data.device)
        U = LU_data.narrow(-2, 0, k).triu()
    else:
        L = U = empty
    P = empty
    if unpack_pivots:
        want = tuple(LU_data.shape[:-2]) + (k,)
        if tuple(LU_pivots.shape) != want:
            raise ValueError(f"Expected LU_pivots to have shape {_size(want)} but got "
                             f"{_size(LU_pivots.shape)} instead.")
        piv = _host(LU_pivots)
        if piv.size and (piv.min() < 1 or piv.max() > m):
            raise RuntimeError("pivots passed to lu_unpack must be between 1 and LU.size(-2) inclusive."
                               "Did you properly pass the result of lu_factor?")
        P = _permutation(LU_pivots, m, LU_data)
    return _out(return_types.lu_unpack(P, L, U), out)


def lu(A: Tensor, *, pivot: bool = True, out: Any = None) -> Any:
    """``(P, L, U)`` with ``A = P L U`` for ``A`` (*, m, n): ``P`` (*, m, m) a permutation, ``L`` (*, m, k)
    unit lower triangular, ``U`` (*, k, n) upper triangular, k = min(m, n). Singular ``A`` is fine (U has a
    zero on its diagonal). ``pivot=False`` (no ``P``; empty) is not available on the CPU, as in PyTorch."""
    LU, pivots, _ = _lu_factor(A, pivot, "torch.linalg.lu", False, "linalg.lu")
    P, L, U = lu_unpack(LU, pivots, unpack_pivots=pivot)
    return _out(return_types.linalg_lu(P, L, U), out)


def _lu_solve_checks(LU: Any, pivots: Any, B: Any, left: bool) -> None:
    _need_tensor(LU, "linalg_lu_solve", "LU")
    _need_tensor(pivots, "linalg_lu_solve", "pivots", 2)
    _need_tensor(B, "linalg_lu_solve", "B", 3)
    _float_input(LU, "torch.linalg.lu_solve", "lu_solve")
    if LU.dtype != B.dtype:
        raise RuntimeError(f"linalg.lu_solve: Expected LU and B to have the same dtype, but found LU of type "
                           f"{_type_name(LU.dtype)} and B of type {_type_name(B.dtype)} instead")
    if pivots.dtype != _C.int32:
        raise RuntimeError("linalg.lu_solve: pivots should be a Tensor of scalar type torch.int32")
    _check_matrix(LU, "torch.linalg.lu_solve")
    _square(LU, "torch.linalg.lu_solve: ")
    _check_matrix(B, "linalg.lu_solve", "B")
    if (LU.shape[-2] != B.shape[-2]) if left else (LU.shape[-1] != B.shape[-1]):
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({LU.shape[-2]}x{LU.shape[-1]} and "
                           f"{B.shape[-2]}x{B.shape[-1]})")
    if pivots.dim() == 0 or LU.shape[-1] != pivots.shape[-1]:
        raise RuntimeError("linalg.lu_solve: Number of pivots per batch should be same as the dimension of "
                           "the matrix")
    if tuple(LU.shape[:-1]) != tuple(pivots.shape):
        raise RuntimeError("linalg.lu_solve: Expected LU.shape[:-1] and pivots.shape to be the same, but got "
                           f"pivots with shape {_size(pivots.shape)} instead")


def _lu_solve_left(LU: Tensor, P: Tensor, B: Tensor, adjoint: bool) -> Tensor:
    """``A X = B`` (``A^T X = B`` when ``adjoint``) for ``A = P L U`` as two triangular solves."""
    if adjoint:  # U^T L^T P^T X = B
        Y = solve_triangular(LU.mT, B, upper=False)
        return P @ solve_triangular(LU.mT, Y, upper=True, unitriangular=True)
    Y = solve_triangular(LU, P.mT @ B, upper=False, unitriangular=True)
    return solve_triangular(LU, Y, upper=True)


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False,
             out: Tensor | None = None) -> Tensor:
    """``X`` with ``A X = B`` from ``A``'s ``lu_factor`` (``LU`` (*, n, n), ``pivots`` (*, n)); ``B``
    (*, n, k), or (*, k, n) with ``left=False`` for ``X A = B``; ``adjoint`` solves with ``A^T`` instead.
    Batch dims broadcast. Differentiable in ``LU`` and ``B``."""
    _lu_solve_checks(LU, pivots, B, left)
    batch = tuple(broadcast_shapes(tuple(LU.shape[:-2]), tuple(B.shape[:-2])))
    LU2 = _expand_batch(LU, batch, 2)
    P = _permutation(_expand_batch(pivots, batch, 1).contiguous(), LU.shape[-1], LU)
    B2 = _expand_batch(B, batch, 2)
    if left:
        X = _lu_solve_left(LU2, P, B2, adjoint)
    else:  # X A = B  <=>  A^T X^T = B^T;  X A^T = B  <=>  A X^T = B^T
        X = _lu_solve_left(LU2, P, B2.mT, not adjoint).mT
    return _out(X, out)


def _torch_lu(A: Tensor, pivot: bool = True, get_infos: bool = False, out: Any = None) -> Any:
    """Deprecated ``torch.lu(A, pivot=True, get_infos=False)``: ``(LU, pivots)`` of ``linalg.lu_factor_ex``
    (never raising), plus ``infos`` when ``get_infos``."""
    _warn_once("lu", _LU_DEPRECATED)
    LU, pivots, info = _lu_factor(A, pivot, "torch.lu", False)
    if get_infos:
        return _out(return_types._lu_with_info(LU, pivots, info), out)
    return _out((LU, pivots), out)


def _torch_lu_solve(input: Tensor, LU_data: Tensor, LU_pivots: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Deprecated ``torch.lu_solve(B, LU, pivots)``: ``linalg.lu_solve(LU, pivots, B)``."""
    _warn_once("lu_solve", _LU_SOLVE_DEPRECATED)
    return lu_solve(LU_data, LU_pivots, input, out=out)


# ---------------------------------------------------------------------------------------------------------
# triangular_solve (legacy)
# ---------------------------------------------------------------------------------------------------------


def _triangular_solve(input: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                      unitriangular: bool = False, *, out: Any = None) -> Any:
    """Deprecated ``torch.triangular_solve(B, A)``: ``(solution, cloned_coefficient)`` with ``op(A) X = B``
    for triangular ``A`` (*, n, n) (its upper triangle, or lower when not ``upper``; ``op(A) = A^T`` when
    ``transpose``) and ``B`` (*, n, k); ``cloned_coefficient`` is ``A`` broadcast to the batch, copied."""
    _warn_once("triangular_solve", _TRIANGULAR_SOLVE_DEPRECATED)
    _need_tensor(input, "triangular_solve", "input")
    _need_tensor(A, "triangular_solve", "A", 2)
    for t, name in ((input, "b"), (A, "A")):
        if t.dim() < 2:
            raise RuntimeError(f"torch.triangular_solve: Expected {name} to have at least 2 dimensions, but it "
                               f"has {t.dim()} dimensions instead")
    if input.dtype != A.dtype:
        raise RuntimeError("Expected b and A to have the same dtype, but found b of type "
                           f"{_type_name(input.dtype)} and A of type {_type_name(A.dtype)} instead.")
    _square(A, "")
    if A.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"Incompatible matrix sizes for triangular_solve: each A matrix is {A.shape[-1]} by "
                           f"{A.shape[-1]} but each b matrix is {input.shape[-2]} by {input.shape[-1]}")
    _kernel_dtype(A, "triangular_solve")
    batch = tuple(broadcast_shapes(tuple(A.shape[:-2]), tuple(input.shape[:-2])))
    A2 = _expand_batch(A, batch, 2)
    T = A2.mT if transpose else A2
    X = solve_triangular(T, _expand_batch(input, batch, 2), upper=upper != transpose,
                         unitriangular=unitriangular)
    return _out(return_types.triangular_solve(X, A2.clone()), out)


# ---------------------------------------------------------------------------------------------------------
# Householder products, geqrf
# ---------------------------------------------------------------------------------------------------------


def householder_product(A: Tensor, tau: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The first n columns of ``H_1 ... H_k`` for ``A`` (*, m, n), ``tau`` (*, k), m >= n >= k, where
    ``H_i = I - tau_i v_i v_i^T`` and ``v_i`` is column i of ``A`` below the diagonal with a 1 on it (the
    reflectors of ``geqrf``, whose product is Q). Differentiable in ``A`` and ``tau``."""
    _need_tensor(A, "linalg_householder_product", "input")
    _need_tensor(tau, "linalg_householder_product", "tau", 2)
    api = "torch.linalg.householder_product"
    if A.dim() < 2:
        raise RuntimeError(f"{api}: input must have at least 2 dimensions.")
    m, n = A.shape[-2:]
    if m < n:
        raise RuntimeError(f"{api}: input.shape[-2] must be greater than or equal to input.shape[-1]")
    k = tau.shape[-1] if tau.dim() else 1
    if n < k:
        raise RuntimeError(f"{api}: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    if tau.dim() != A.dim() - 1:
        raise RuntimeError(f"{api}: Expected tau to have one dimension less than input, but got tau.ndim "
                           f"equal to {tau.dim()} and input.ndim is equal to {A.dim()}")
    if tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"{api}: Expected batch dimensions of tau to be equal to input.shape[:-2], but got "
                           f"{_size(tau.shape[:-1])}")
    if tau.dtype != A.dtype:
        raise RuntimeError(f"{api}: tau dtype {_type_name(tau.dtype)} does not match input dtype "
                           f"{_type_name(A.dtype)}")
    _kernel_dtype(A, "orgqr")
    Q = _C.eye(m, n, dtype=A.dtype, device=A.device).expand(*A.shape)
    V = A.narrow(-1, 0, k).tril(-1) + _C.eye(m, k, dtype=A.dtype, device=A.device)
    # applied right to left, H_k first: each step a rank-one update, O(m n) per reflector
    for i in reversed(range(k)):
        v = V.narrow(-1, i, 1)
        Q = Q - (tau.narrow(-1, i, 1).unsqueeze(-1) * v) @ (v.mT @ Q)
    return _out(Q.contiguous() if k else Q.clone(), out)


def _orgqr(input: Tensor, tau: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``torch.orgqr``: ``linalg.householder_product``."""
    return householder_product(input, tau, out=out)


class _Geqrf(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor) -> tuple:
        h, tau = np.linalg.qr(_host(A), mode="raw")  # LAPACK geqrf's own output, column-major
        return _dev(_swap(h), A), _dev(tau, A)

    @staticmethod
    def backward(ctx: Any, _ga: Any, _gtau: Any) -> Any:
        raise NotImplementedError("the derivative for 'geqrf' is not implemented.")


def geqrf(input: Tensor, *, out: Any = None) -> Any:
    """``(a, tau)``: LAPACK geqrf's QR of ``input`` (*, m, n): R on and above the diagonal of ``a``, the
    Householder vectors below it, their scales in ``tau`` (*, min(m, n)); ``householder_product(a, tau)``
    is Q. Not differentiable (as in PyTorch)."""
    _need_tensor(input, "geqrf", "input")
    if input.dim() < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    _kernel_dtype(input, "geqrf")
    return _out(return_types.geqrf(*_Geqrf.apply(input)), out)


# ---------------------------------------------------------------------------------------------------------
# LDL^T (Bunch-Kaufman, LAPACK sytrf with uplo='L')
# ---------------------------------------------------------------------------------------------------------

_BK_ALPHA = (1 + np.sqrt(17.0)) / 8  # the Bunch-Kaufman threshold that bounds the growth of L


def _np_sytrf(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """LAPACK ``sytf2`` (lower) for one symmetric matrix (its lower triangle read): ``LD`` (L's multipliers
    below D's blocks; 2x2 blocks of D take two columns), 1-based pivots (``-p`` twice for a 2x2 block whose
    second row was swapped with row ``p``) and ``info`` (the first zero 1x1 block, 0 when none)."""
    n = a.shape[-1]
    w = np.tril(a) + np.tril(a, -1).T  # the full symmetric matrix: swaps and updates act on both triangles
    ipiv = np.zeros(n, dtype=np.int32)
    info = 0
    k = 0
    while k < n:
        kstep = 1
        absakk = abs(w[k, k])
        if k + 1 < n:
            imax = k + 1 + int(np.argmax(np.abs(w[k + 1:, k])))
            colmax = abs(w[imax, k])
        else:
            imax, colmax = k, 0.0
        if max(absakk, colmax) == 0 or np.isnan(absakk):
            info = info or k + 1  # a zero column: nothing to eliminate, LAPACK carries on
            ipiv[k] = k + 1
            k += 1
            continue
        if absakk >= _BK_ALPHA * colmax:
            kp = k
        else:
            others = np.abs(np.delete(w[imax, k:], imax - k))
            rowmax = others.max()
            if absakk >= _BK_ALPHA * colmax * (colmax / rowmax):
                kp = k
            elif abs(w[imax, imax]) >= _BK_ALPHA * rowmax:
                kp = imax
            else:
                kp, kstep = imax, 2
        kk = k + kstep - 1
        if kp != kk:  # symmetric interchange of rows and columns kk and kp of the trailing block only:
            # the columns of L already computed stay (L = P1 L1 P2 L2 ..., as LAPACK stores it)
            w[[kk, kp], k:] = w[[kp, kk], k:]
            w[k:, [kk, kp]] = w[k:, [kp, kk]]
        if kstep == 1:
            x = w[k + 1:, k] / w[k, k]
            w[k + 1:, k + 1:] -= np.outer(x, w[k + 1:, k])
            w[k + 1:, k] = x
            w[k, k + 1:] = x
            ipiv[k] = kp + 1
        else:
            D = w[k:k + 2, k:k + 2]
            C = w[k + 2:, k:k + 2]
            if k + 2 < n:
                Lb = C @ np.linalg.inv(D)  # the two columns of L next to the 2x2 block
                w[k + 2:, k + 2:] -= Lb @ C.T
                w[k + 2:, k:k + 2] = Lb
                w[k:k + 2, k + 2:] = Lb.T
            ipiv[k] = ipiv[k + 1] = -(kp + 1)
        k += kstep
    return np.tril(w), ipiv, info


def _ldl_checks(A: Any, api: str) -> None:
    _need_tensor(A, "linalg_ldl_factor_ex", "self")
    _check_matrix(A, api)
    _square(A, f"{api}: ")
    _float_input(A, api, "ldl_factor")


def _raise_ldl(info: np.ndarray, api: str, is_matrix: bool) -> None:
    # PyTorch itself trips an internal assert here ("Unknown error code"); this says what happened
    flat = np.asarray(info).reshape(-1)
    idx = int(np.flatnonzero(flat)[0])
    code = int(flat[idx])
    where = "" if is_matrix else f": (Batch element {idx})"
    raise LinAlgError(f"{api}{where}: The factorization could not be completed because the input is singular "
                      f"(D[{code},{code}] is zero).")


class _LDLFactor(Function):
    @staticmethod
    def forward(ctx: Any, A: Tensor, api: str, check: bool) -> tuple:
        a = _host(A)
        n = a.shape[-1]
        flat = a.reshape((-1, n, n))
        ld = np.zeros_like(flat)
        piv = np.zeros(flat.shape[:1] + (n,), dtype=np.int32)
        info = np.zeros(flat.shape[0], dtype=np.int32)
        for i in range(flat.shape[0]):
            ld[i], piv[i], info[i] = _np_sytrf(flat[i])
        info = info.reshape(a.shape[:-2])
        if check and info.any():
            _raise_ldl(info, api, A.dim() == 2)
        outs = _dev(ld.reshape(a.shape), A), _dev(piv.reshape(a.shape[:-1]), A), _dev(info, A)
        ctx.mark_non_differentiable(outs[1], outs[2])  # LD keeps a grad_fn: its backward raises, as PyTorch
        return outs

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        raise RuntimeError("derivative for aten::linalg_ldl_factor_ex is not implemented")


def ldl_factor_ex(A: Tensor, *, hermitian: bool = False, check_errors: bool = False, out: Any = None) -> Any:
    """``(LD, pivots, info)``: the Bunch-Kaufman ``A = P L D L^T P^T`` of symmetric ``A`` (*, n, n) (its
    lower triangle read) in LAPACK sytrf's compact form: ``LD`` (*, n, n) holds D's 1x1/2x2 blocks and L's
    multipliers below them, ``pivots`` (*, n) int32 are 1-based row swaps, negative (twice) for a 2x2 block;
    ``info`` (*) is the first zero 1x1 block of D (0 when none). ``hermitian`` is the same for real input.
    Not differentiable (as in PyTorch)."""
    _ldl_checks(A, "torch.linalg.ldl_factor_ex")
    r = _LDLFactor.apply(A, "torch.linalg.ldl_factor_ex", check_errors)
    return _out(return_types.linalg_ldl_factor_ex(*r), out)


def ldl_factor(A: Tensor, *, hermitian: bool = False, out: Any = None) -> Any:
    """``(LD, pivots)`` of ``ldl_factor_ex``; a singular D raises ``LinAlgError``."""
    _ldl_checks(A, "torch.linalg.ldl_factor_ex")
    LD, pivots, _ = _LDLFactor.apply(A, "torch.linalg.ldl_factor", True)
    return _out(return_types.linalg_ldl_factor(LD, pivots), out)


def _np_sytrs(ld: np.ndarray, ipiv: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LAPACK ``sytrs`` (lower): ``X`` with ``A X = B`` from sytrf's ``LD`` and pivots, for one matrix."""
    n = ld.shape[-1]
    x = np.array(b, copy=True)
    k = 0
    while k < n:  # solve P L D Y = B, block by block
        if ipiv[k] > 0:
            kp = ipiv[k] - 1
            x[[k, kp]] = x[[kp, k]]
            x[k + 1:] -= np.outer(ld[k + 1:, k], x[k])
            x[k] /= ld[k, k]
            k += 1
        else:
            kp = -ipiv[k] - 1
            x[[k + 1, kp]] = x[[kp, k + 1]]
            x[k + 2:] -= ld[k + 2:, k:k + 2] @ x[k:k + 2]
            D = np.array([[ld[k, k], ld[k + 1, k]], [ld[k + 1, k], ld[k + 1, k + 1]]])
            x[k:k + 2] = np.linalg.solve(D, x[k:k + 2])
            k += 2
    k = n - 1
    while k >= 0:  # then L^T P^T X = Y
        if ipiv[k] > 0:
            x[k] -= ld[k + 1:, k] @ x[k + 1:]
            kp = ipiv[k] - 1
            x[[k, kp]] = x[[kp, k]]
            k -= 1
        else:
            x[k - 1:k + 1] -= ld[k + 1:, k - 1:k + 1].T @ x[k + 1:]
            kp = -ipiv[k] - 1
            x[[k, kp]] = x[[kp, k]]
            k -= 2
    return x


class _LDLSolve(Function):
    @staticmethod
    def forward(ctx: Any, LD: Tensor, pivots: Tensor, B: Tensor) -> Tensor:
        ld, piv, b = _host(LD), _host(pivots), _host(B)
        n, c = ld.shape[-1], int(np.prod(b.shape[:-2], dtype=np.int64))
        fl, fp, fb = ld.reshape(c, n, n), piv.reshape(c, n), b.reshape((c,) + b.shape[-2:])
        x = np.stack([_np_sytrs(fl[i], fp[i], fb[i]) for i in range(c)]) if c else fb.copy()
        return _dev(x.reshape(b.shape), B)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        raise RuntimeError("derivative for aten::linalg_ldl_solve is not implemented")


def ldl_solve(LD: Tensor, pivots: Tensor, B: Tensor, *, hermitian: bool = False,
              out: Tensor | None = None) -> Tensor:
    """``X`` with ``A X = B`` from ``A``'s ``ldl_factor`` (``LD`` (*, n, n), ``pivots`` (*, n)) and ``B``
    (*, n, k); batch dims broadcast. Not differentiable (as in PyTorch)."""
    api = "torch.linalg.ldl_solve"
    _need_tensor(LD, "linalg_ldl_solve", "LD")
    _need_tensor(pivots, "linalg_ldl_solve", "pivots", 2)
    _need_tensor(B, "linalg_ldl_solve", "B", 3)
    _check_matrix(LD, api, "LD")
    _square(LD, f"{api}: ")
    if B.dim() < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(B.dim(), 1)}, "
                         f"{max(B.dim(), 1) - 1}], but got -2)")
    if tuple(LD.shape[:-1]) != tuple(pivots.shape):
        raise RuntimeError(f"{api}: Expected LD.shape[:-1] and pivots.shape to be the same, but got pivots "
                           f"with shape {_size(pivots.shape)} instead")
    if pivots.dtype.is_floating_point or pivots.dtype == _C.bool:
        raise RuntimeError(f"{api}: Expected pivots to be integers. Got {_type_name(pivots.dtype)}")
    if LD.dtype != B.dtype:
        raise RuntimeError("Expected b and A to have the same dtype, but found b of type "
                           f"{_type_name(B.dtype)} and A of type {_type_name(LD.dtype)} instead.")
    if LD.shape[-1] != B.shape[-2]:
        raise RuntimeError(f"Incompatible matrix sizes for {api}: each A matrix is {LD.shape[-1]} by "
                           f"{LD.shape[-1]} but each b matrix is {B.shape[-2]} by {B.shape[-1]}")
    _kernel_dtype(LD, "ldl_solve")
    batch = tuple(broadcast_shapes(tuple(LD.shape[:-2]), tuple(B.shape[:-2])))
    X = _LDLSolve.apply(_expand_batch(LD, batch, 2), _expand_batch(pivots, batch, 1), _expand_batch(B, batch, 2))
    return _out(X, out)


# the Tensor methods and top-level names these add (linalg.py attaches them)
TENSOR_METHODS = {
    "lu": _torch_lu, "lu_solve": _torch_lu_solve, "triangular_solve": _triangular_solve, "orgqr": _orgqr,
    "geqrf": geqrf,
}
TOP_LEVEL = {
    "lu": _torch_lu, "lu_solve": _torch_lu_solve, "lu_unpack": lu_unpack, "triangular_solve": _triangular_solve,
    "orgqr": _orgqr, "geqrf": geqrf,
}
