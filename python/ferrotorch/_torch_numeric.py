"""The numeric / linear-algebra tail of the ``torch`` namespace.

* the deprecated norms ``torch.frobenius_norm`` / ``torch.nuclear_norm`` (warn once, as ATen does);
* the removed ``torch.matrix_rank`` / ``solve`` / ``lstsq`` / ``symeig`` / ``eig`` (and the Tensor methods),
  which raise PyTorch 2.15's RuntimeError pointing at ``torch.linalg``;
* the randomized ``torch.svd_lowrank`` / ``torch.pca_lowrank`` (Halko et al.) and ``torch.lobpcg``;
* ``torch.gradient`` (numpy.gradient's finite differences) and ``torch.histogramdd``;
* ``adjoint`` / ``mH`` / ``H`` and the complex accessors on real tensors (``real``, ``imag``, ``conj``,
  ``conj_physical``, ``angle``...): there is no complex dtype, so these are PyTorch's real-tensor answers;
* the control-flow operators ``torch.cond`` / ``torch.while_loop``, run eagerly.

Everything is a composition of tensor ops, so it runs on every device and autograd differentiates it.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from typing import Any

from . import _C
from ._C import Tensor
from ._composite_ops import _need_tensor, _sizes, _tname
from ._functions import where as _where
from ._functions import zeros_like
from ._grad_mode import no_grad
from ._tensor import _method, _named, return_types
from .linalg import _out, _warn_once, _wrap_dims, eigh, matrix_norm, qr, svd, vector_norm

_py_bool, _py_int, _py_float = builtins.bool, builtins.int, builtins.float
return_types.histogramdd = _named("histogramdd", ("hist", "bin_edges"))


# ---------------------------------------------------------------------------------------------------------
# deprecated norms
# ---------------------------------------------------------------------------------------------------------


def frobenius_norm(input: Tensor, dim: Sequence[int], keepdim: bool = False, *,
                   out: Tensor | None = None) -> Tensor:
    """The 2-norm of ``input`` over ``dim`` (at most two dims; ``()`` means all elements). Deprecated in
    PyTorch in favour of ``torch.linalg.vector_norm(input, 2, dim, keepdim)``."""
    _need_tensor(input, "frobenius_norm", "input", 1)
    if dim is None:
        raise TypeError("frobenius_norm(): argument 'dim' (position 2) must be tuple of ints, not NoneType")
    if not input.dtype.is_floating_point:
        raise NotImplementedError("norm(): input dtype should be either floating point or complex. "
                                  f"Got {_tname(input.dtype)} instead.")
    dims = (dim,) if isinstance(dim, _py_int) else tuple(dim)
    _warn_once("frobenius_norm", "at::frobenius_norm is deprecated and it is just left for JIT compatibility. "
               "It will be removed in a future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, "
               "keepdim)` instead")
    if len(dims) > 2:
        raise RuntimeError(f"Expected at most 2 dimensions, but got {len(dims)} dimensions instead.")
    return _out(vector_norm(input, 2, dims if dims else None, keepdim), out)


def nuclear_norm(input: Tensor, dim: Any = None, keepdim: bool = False, *, out: Tensor | None = None) -> Tensor:
    """The sum of the singular values of the matrices in ``dim`` (default the last two); also callable as
    ``nuclear_norm(input, keepdim)``. Deprecated in PyTorch in favour of ``linalg.matrix_norm(A, 'nuc')``."""
    _need_tensor(input, "nuclear_norm", "input", 1)
    if isinstance(dim, _py_bool):  # the (input, keepdim) overload
        dim, keepdim = None, dim
    if not input.dtype.is_floating_point:
        raise NotImplementedError("linalg.matrix_norm: Expected a floating point or complex tensor as input. "
                                  f"Got {_tname(input.dtype)}")
    if isinstance(dim, _py_int):  # an int fills both entries of the int[2] argument, as ATen's parser does
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim}, {dim})")  # noqa: TRY004
    _warn_once("nuclear_norm", "at::nuclear_norm is deprecated and it is just left for JIT compatibility. "
               "It will be removed in a future PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, "
               "keepdim)` instead")
    return _out(matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim), out)


# ---------------------------------------------------------------------------------------------------------
# functions PyTorch removed: they raise, pointing at torch.linalg (messages verbatim from 2.15)
# ---------------------------------------------------------------------------------------------------------

_REMOVED = "This function was deprecated since version 1.9 and is now removed. "


def matrix_rank(input: Tensor, tol: float | None = None, symmetric: bool = False, *, out: Any = None) -> Tensor:
    """Removed: use ``torch.linalg.matrix_rank``."""
    raise RuntimeError(_REMOVED.rstrip() + "\nPlease use the `torch.linalg.matrix_rank` function instead. "
                       "The parameter 'symmetric' was renamed in `torch.linalg.matrix_rank()` to 'hermitian'.")


def solve(input: Tensor, A: Tensor, *, out: Any = None) -> tuple:
    """Removed: use ``torch.linalg.solve(A, B)``."""
    raise RuntimeError(
        _REMOVED + "`torch.solve` is deprecated in favor of `torch.linalg.solve`. "
        "`torch.linalg.solve` has its arguments reversed and does not return the LU factorization.\n\n"
        "To get the LU factorization see `torch.lu`, which can be used with `torch.lu_solve` or "
        "`torch.lu_unpack`.\nX = torch.solve(B, A).solution should be replaced with:\nX = torch.linalg.solve(A, B)")


def lstsq(input: Tensor, A: Tensor, *, out: Any = None) -> tuple:
    """Removed: use ``torch.linalg.lstsq(A, B)``."""
    raise RuntimeError(
        _REMOVED + "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n"
        "`torch.linalg.lstsq` has reversed arguments and does not return the QR decomposition in the returned "
        "tuple (although it returns other information about the problem).\n\n"
        "To get the QR decomposition consider using `torch.linalg.qr`.\n\n"
        "The returned solution in `torch.lstsq` stored the residuals of the solution in the last m - n columns "
        "of the returned value whenever m > n. In torch.linalg.lstsq, the residuals are in the field "
        "'residuals' of the returned named tuple.\n\n"
        "The unpacking of the solution, as in\nX, _ = torch.lstsq(B, A).solution[:A.size(1)]\n"
        "should be replaced with:\nX = torch.linalg.lstsq(A, B).solution")


def symeig(input: Tensor, eigenvectors: bool = False, upper: bool = True, *, out: Any = None) -> tuple:
    """Removed: use ``torch.linalg.eigh`` / ``eigvalsh``."""
    raise RuntimeError(
        _REMOVED + "The default behavior has changed from using the upper triangular portion of the matrix by "
        "default to using the lower triangular portion.\n\n"
        "L, _ = torch.symeig(A, upper=upper) should be replaced with:\n"
        "L = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\nand\n\n"
        "L, V = torch.symeig(A, eigenvectors=True) should be replaced with:\n"
        "L, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')")


def eig(self: Tensor, eigenvectors: bool = False, *, e: Any = None, v: Any = None) -> tuple:
    """Removed: use ``torch.linalg.eig`` / ``eigvals``."""
    raise RuntimeError(
        _REMOVED + "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather than real "
        "tensors mimicking complex tensors.\n\n"
        "L, _ = torch.eig(A) should be replaced with:\nL_complex = torch.linalg.eigvals(A)\n\nand\n\n"
        "L, V = torch.eig(A, eigenvectors=True) should be replaced with:\n"
        "L_complex, V_complex = torch.linalg.eig(A)")


@_method("solve")
def _solve_method(self: Tensor, other: Tensor) -> tuple:
    return solve(self, other)


@_method("lstsq")
def _lstsq_method(self: Tensor, other: Tensor) -> tuple:
    return lstsq(self, other)


@_method("symeig")
def _symeig_method(self: Tensor, eigenvectors: bool = False) -> tuple:
    return symeig(self, eigenvectors=eigenvectors)


@_method("eig")
def _eig_method(self: Tensor, eigenvectors: bool = False) -> tuple:
    return eig(self, eigenvectors=eigenvectors)


# ---------------------------------------------------------------------------------------------------------
# randomized low-rank SVD / PCA (Halko, Martinsson & Tropp 2009), as torch._lowrank
# ---------------------------------------------------------------------------------------------------------


def _float_dtype(A: Tensor) -> Any:
    return A.dtype if A.dtype.is_floating_point else _C.float32


def _approximate_basis(A: Tensor, q: int, niter: int | None = 2, M: Tensor | None = None) -> Tensor:
    """``Q`` (*, m, q) with orthonormal columns such that ``Q Q^T (A - M)`` approximates ``A - M``
    (Algorithm 4.4: a random range finder refined by ``niter`` subspace iterations)."""
    niter = 2 if niter is None else niter
    R = _C.randn(A.shape[-1], q, dtype=_float_dtype(A), device=A.device)

    def left(Y: Tensor) -> Tensor:  # (A - M) Y without forming A - M
        return A.matmul(Y) if M is None else A.matmul(Y) - M.matmul(Y)

    def right(Y: Tensor) -> Tensor:  # (A - M)^T Y
        return A.mT.matmul(Y) if M is None else A.mT.matmul(Y) - M.mT.matmul(Y)

    Q = qr(left(R)).Q
    for _ in range(niter):
        Q = qr(right(Q)).Q
        Q = qr(left(Q)).Q
    return Q


def _svd_lowrank(A: Tensor, q: int | None = 6, niter: int | None = 2, M: Tensor | None = None) -> tuple:
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.shape)
    if m < n:  # work on the tall orientation
        A = A.mT
        M = M.mT if M is not None else None
    Q = _approximate_basis(A, q, niter=niter, M=M)
    B = Q.mT.matmul(A)
    if M is not None:
        B = B - Q.mT.matmul(M)
    U, S, Vh = svd(B, full_matrices=False)
    V = Vh.mT
    U = Q.matmul(U)
    if m < n:
        U, V = V, U
    return U, S, V


def svd_lowrank(A: Tensor, q: int | None = 6, niter: int | None = 2,
                M: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """``(U, S, V)`` with ``A - M ~= U diag(S) V^T`` of rank ``q``: ``A`` (*, m, n) gives U (*, m, q),
    S (*, q), V (*, n, q); ``M`` (broadcast to A) defaults to zero. Randomized (Halko et al. 2009,
    Algorithm 5.1): seed the generator for repeatable results; differentiable through qr and svd."""
    _need_tensor(A, "svd_lowrank", "A", 1)
    return _svd_lowrank(A, q=q, niter=niter, M=M)


def pca_lowrank(A: Tensor, q: int | None = None, center: bool = True,
                niter: int = 2) -> tuple[Tensor, Tensor, Tensor]:
    """``(U, S, V)``: a rank-``q`` (default ``min(6, m, n)``) SVD of ``A`` (*, m, n) after subtracting
    the column means (``center``); V's columns are the principal directions, ``S**2 / (m - 1)`` the
    variances along them."""
    _need_tensor(A, "pca_lowrank", "A", 1)
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (q >= 0 and q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return _svd_lowrank(A, q, niter=niter, M=None)
    return _svd_lowrank(A - A.mean(dim=(-2,), keepdim=True), q, niter=niter, M=None)


# ---------------------------------------------------------------------------------------------------------
# LOBPCG
# ---------------------------------------------------------------------------------------------------------


def _b_orthonormal_basis(S: Tensor, B: Tensor | None, tol: float) -> Tensor:
    """``T`` with ``(S T)^T B (S T) = I`` spanning S's columns, dropping the near-dependent directions
    (eigenvalues of the Gram matrix below ``tol`` times its largest)."""
    G = S.mT.matmul(S if B is None else B.matmul(S))
    G = (G + G.mT) * 0.5
    w, V = eigh(G)
    keep = w > w[-1] * tol
    return V[:, keep] / w[keep].sqrt()


def lobpcg(A: Tensor, k: int | None = None, B: Tensor | None = None, X: Tensor | None = None,
           n: int | None = None, iK: Tensor | None = None, niter: int | None = None, tol: float | None = None,
           largest: bool | None = None, method: str | None = None, tracker: None = None,
           ortho_iparams: dict | None = None, ortho_fparams: dict | None = None,
           ortho_bparams: dict | None = None) -> tuple[Tensor, Tensor]:
    """The ``k`` largest (``largest=False``: smallest) eigenpairs ``(E (*, k), X (*, m, k))`` of the
    symmetric generalized problem ``A x = lambda B x`` (``B`` SPD, default identity) by Knyazev's LOBPCG:
    Rayleigh-Ritz on ``[X, iK R, P]`` each step, stopping when the ``k`` leading pairs' relative residuals
    are below ``tol`` (default sqrt(eps)) or after ``niter`` (default 1000) steps. ``X`` (m, n) is the
    initial block (default random, n = k).

    Limits: this is the basic method; ``method='ortho'`` (PyTorch's default) runs it too (both converge to
    the same eigenpairs; the ``ortho_*params`` are accepted and unused); ``tracker`` is not called; dense
    ``A`` only; a batch (*, m, m) is solved matrix by matrix. Gradients flow to ``E`` (exactly, through
    the Rayleigh quotients ``x^T A x / x^T B x``); the returned eigenvectors carry no gradient.
    """
    _need_tensor(A, "lobpcg", "A", 1)
    if A.shape[-2] != A.shape[-1]:
        raise AssertionError(f"A must be square, got shape {A.shape}")
    if B is not None and A.shape != B.shape:
        raise AssertionError(f"A and B must have same shape, got {A.shape} vs {B.shape}")
    dtype = _float_dtype(A)
    if tol is None:
        tol = {_C.float64: 2.23e-16}.get(dtype, 1.2e-07) ** 0.5
    m = A.shape[-1]
    k = (1 if X is None else X.shape[-1]) if k is None else k
    n = (k if n is None else n) if X is None else X.shape[-1]
    if m < 3 * n:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={m}) is smaller "
                         f"than 3 x the number of requested eigenpairs (={n})")
    method = "ortho" if method is None else method  # PyTorch runs 'basic' for any name but 'ortho'
    niter = 1000 if niter is None else niter
    largest = True if largest is None else largest
    if A.dim() > 2:  # a batch: one solve per matrix
        batch = tuple(A.shape[:-2])
        bA = A.reshape((-1, m, m))
        bB = B.reshape((-1, m, m)) if B is not None else None
        bX = X.reshape((-1,) + tuple(X.shape[-2:])) if X is not None else None
        res = [lobpcg(bA[i], k, None if bB is None else bB[i], None if bX is None else bX[i], n, iK, niter,
                      tol, largest, method) for i in range(bA.shape[0])]
        return (_C.stack([r[0] for r in res]).reshape(batch + (k,)),
                _C.stack([r[1] for r in res]).reshape(batch + (m, k)))
    if X is None:
        X = _C.randn(m, n, dtype=dtype, device=A.device)
    if not (X.dim() == 2 and tuple(X.shape) == (m, n)):
        raise AssertionError(f"X shape mismatch: got {X.shape}, expected {(m, n)}")
    with no_grad():
        Ad, Bd = A.detach().to(dtype), None if B is None else B.detach().to(dtype)
        X = X.detach().to(dtype)

        def Bmul(Y: Tensor) -> Tensor:
            return Y if Bd is None else Bd.matmul(Y)

        def rayleigh_ritz(S: Tensor) -> tuple[Tensor, Tensor]:
            """Ritz values (chosen n, in the requested order) and coefficients C: the Ritz vectors are S C."""
            T = _b_orthonormal_basis(S, Bd, tol * tol)
            H = T.mT.matmul(S.mT.matmul(Ad.matmul(S))).matmul(T)
            w, V = eigh((H + H.mT) * 0.5)
            idx = _C.arange(w.shape[0] - 1, w.shape[0] - 1 - n, -1) if largest else _C.arange(n)
            return w[idx], T.matmul(V[:, idx])

        E, C = rayleigh_ritz(X)
        X = X.matmul(C)
        xn = vector_norm(X).item()
        A_norm = vector_norm(Ad.matmul(X)).item() / xn
        B_norm = vector_norm(Bmul(X)).item() / xn
        P = None
        for _ in range(niter):
            R = Ad.matmul(X) - Bmul(X) * E
            rerr = vector_norm(R, 2, (0,)) / (vector_norm(X, 2, (0,)) * (A_norm + E.abs() * B_norm))
            conv = (rerr < tol).tolist()
            if all(conv[:k]):
                break
            W = R if iK is None else iK.to(dtype).matmul(R)
            parts = [X, W] if P is None else [X, W, P]
            S = _C.cat(parts, 1)
            E, C = rayleigh_ritz(S)
            X_new = S.matmul(C)
            P = S[:, n:].matmul(C[n:])  # the new vectors' component outside span(X): the search direction
            X = X_new
        X = X[:, :k]
        # unit B-norm columns, as the Ritz vectors are
        X = X / Bmul(X).mul(X).sum(0).sqrt()
    # E = x^T A x / x^T B x at the converged x: first-order exact, so autograd gets the eigenvalue gradient
    num = X.mul(A.to(dtype).matmul(X)).sum(0)
    den = X.mul(X).sum(0) if B is None else X.mul(B.to(dtype).matmul(X)).sum(0)
    return num / den, X


# ---------------------------------------------------------------------------------------------------------
# torch.gradient
# ---------------------------------------------------------------------------------------------------------


def _uniform_diff(f: Tensor, d: int, h: Any, edge_order: int) -> Tensor:
    """numpy.gradient along ``d`` with step ``h`` (a number): central differences inside, one-sided
    first- or second-order differences at the two ends."""
    L = f.shape[d]
    inner = (f.narrow(d, 2, L - 2) - f.narrow(d, 0, L - 2)) / (2.0 * h)
    if edge_order == 1:
        first = (f.narrow(d, 1, 1) - f.narrow(d, 0, 1)) / h
        last = (f.narrow(d, L - 1, 1) - f.narrow(d, L - 2, 1)) / h
    else:
        first = (f.narrow(d, 0, 1) * -1.5 + f.narrow(d, 1, 1) * 2.0 - f.narrow(d, 2, 1) * 0.5) / h
        last = (f.narrow(d, L - 3, 1) * 0.5 - f.narrow(d, L - 2, 1) * 2.0 + f.narrow(d, L - 1, 1) * 1.5) / h
    return _C.cat([first, inner, last], d)


def _coord_diff(f: Tensor, d: int, x: Tensor, edge_order: int) -> Tensor:
    """numpy.gradient along ``d`` at the (possibly uneven) coordinates ``x`` (1-D, f.shape[d] long):
    the second-order-accurate three-point formula inside and at second-order ends."""
    L = f.shape[d]
    shape = [1] * f.dim()
    shape[d] = -1

    def col(t: Tensor) -> Tensor:  # a 1-D coefficient vector broadcast along d
        return t.reshape(shape)

    dx = x[1:] - x[:-1]
    dx1, dx2 = dx[:-1], dx[1:]
    a = -dx2 / (dx1 * (dx1 + dx2))
    b = (dx2 - dx1) / (dx1 * dx2)
    c = dx1 / (dx2 * (dx1 + dx2))
    inner = (col(a) * f.narrow(d, 0, L - 2) + col(b) * f.narrow(d, 1, L - 2) + col(c) * f.narrow(d, 2, L - 2))
    if edge_order == 1:
        first = (f.narrow(d, 1, 1) - f.narrow(d, 0, 1)) / dx[0]
        last = (f.narrow(d, L - 1, 1) - f.narrow(d, L - 2, 1)) / dx[-1]
    else:
        d1, d2 = dx[0], dx[1]
        first = (f.narrow(d, 0, 1) * (-(2.0 * d1 + d2) / (d1 * (d1 + d2)))
                 + f.narrow(d, 1, 1) * ((d1 + d2) / (d1 * d2)) + f.narrow(d, 2, 1) * (-d1 / (d2 * (d1 + d2))))
        d1, d2 = dx[-2], dx[-1]
        last = (f.narrow(d, L - 3, 1) * (d2 / (d1 * (d1 + d2))) + f.narrow(d, L - 2, 1) * (-(d2 + d1) / (d1 * d2))
                + f.narrow(d, L - 1, 1) * ((2.0 * d2 + d1) / (d2 * (d1 + d2))))
    return _C.cat([first, inner, last], d)


def gradient(input: Tensor, *, spacing: Any = 1, dim: Any = None, edge_order: int = 1) -> tuple[Tensor, ...]:
    """The derivative estimates of ``input`` along each of ``dim`` (default all dims), one tensor of
    ``input``'s shape per dim, as ``numpy.gradient``: ``spacing`` is a number (the step for every dim),
    a list of numbers (one step per dim) or a list of 1-D coordinate tensors (one per dim); ``edge_order``
    1 or 2 picks the accuracy of the one-sided differences at the boundaries. Integer input gives the
    default float dtype; coordinates must have as many entries as their dim (PyTorch reads past them)."""
    _need_tensor(input, "gradient", "input", 1)
    if dim is None:
        dims = list(range(input.dim()))
        given_dim = False
    else:
        dims = list(_wrap_dims(dim, input.dim()) or ())
        given_dim = True
    if isinstance(spacing, Tensor):
        if spacing.dim() != 0:
            raise TypeError("gradient(): argument 'spacing' must be a number, a tuple of numbers or a tuple "
                            "of Tensors, not Tensor")
        spacing = spacing.item()
    if isinstance(spacing, (list, tuple)):
        spacings = list(spacing)
        if not given_dim and len(spacings) != input.dim():
            raise RuntimeError("torch.gradient expected spacing to be unspecified, a scalar, or a list of length "
                               f"equal to 'self.dim() = {input.dim()}', since dim argument was not given, but "
                               f"got a list of length {len(spacings)}")
        if given_dim and len(spacings) != len(dims):
            raise RuntimeError("torch.gradient expected spacing to be unspecified, a scalar or it's spacing and "
                               "dim arguments to have the same length, but got a spacing argument of length "
                               f"{len(spacings)} and a dim argument of length {len(dims)}.")
    else:
        spacings = [spacing] * len(dims)
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
    if input.dtype == _C.bool:
        raise NotImplementedError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                                  "Use the `^` or `logical_xor()` operator instead.")
    f = input if input.dtype.is_floating_point else input.to(_C.get_default_dtype())
    outs = []
    for d, h in zip(dims, spacings):
        if isinstance(h, Tensor):
            if h.dim() != 1:
                raise RuntimeError("torch.gradient expected each element of spacing to have one dimension, but "
                                   f"got an element with {h.dim()} dimensions!")
            if h.shape[0] != f.shape[d]:
                raise RuntimeError(f"torch.gradient expected the coordinates of dimension {d} to have "
                                   f"{f.shape[d]} elements, but got {h.shape[0]}")
            x = h.to(f.dtype) if h.dtype.is_floating_point or f.dtype.is_floating_point else h
            outs.append(_coord_diff(f, d, x, edge_order))
        else:
            outs.append(_uniform_diff(f, d, h, edge_order))
    return tuple(outs)


# ---------------------------------------------------------------------------------------------------------
# torch.histogramdd
# ---------------------------------------------------------------------------------------------------------


def histogramdd(input: Tensor, bins: Any, range: Sequence[float] | None = None, weight: Tensor | None = None,
                density: bool = False) -> Any:
    """``(hist, bin_edges)``: the D-dimensional histogram of the points ``input`` (*, D) (the last dim
    holds the coordinates), as numpy.histogramdd. ``bins``: an int (that many equal bins per dim), D ints,
    or D 1-D tensors of increasing edges; ``range`` (2D floats: min0, max0, min1, ...) bounds the equal bins
    (default each dim's min..max); ``weight`` (input.shape[:-1]) weights the points; ``density`` divides
    by the total weight times the bin volume. A bin holds [left, right) except the last, [left, right].
    ``hist`` has one dim per coordinate, ``bin_edges`` is a tuple of D tensors."""
    _need_tensor(input, "histogramdd", "input", 1)
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{_tname(input.dtype)}'")
    if input.dim() < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    D = input.shape[-1]
    pts = input.reshape(-1, D)
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape[:-1]):
            raise RuntimeError("torch.histogramdd: if weight tensor is provided it should have the same shape as "
                               "the input tensor excluding its innermost dimension, but got input with shape "
                               f"{_sizes(input.shape)} and weight with shape {_sizes(weight.shape)}")
        if weight.dtype != input.dtype:
            raise RuntimeError("torch.histogramdd: if weight tensor is provided, input tensor and weight tensor "
                               f"should have the same dtype, but got input({_ctype(input.dtype)}), and "
                               f"weight({_ctype(weight.dtype)})")
    if isinstance(bins, (list, tuple)) and bins and all(isinstance(b, Tensor) for b in bins):
        if len(bins) != D:
            raise RuntimeError(f"torch.histogramdd: expected {D} sequences of bin edges for a {D}-dimensional "
                               f"histogram but got {len(bins)}")
        for i, b in enumerate(bins):
            if b.dtype != input.dtype:
                raise RuntimeError("torch.histogramdd: input tensor and bins tensors should have the same dtype, "
                                   f"but got input with dtype {_ctype(input.dtype)} and bins for dimension {i} "
                                   f"with dtype {_ctype(b.dtype)}")
        edges = [b.reshape(-1) for b in bins]
    else:
        counts = [bins] * D if isinstance(bins, _py_int) else list(bins)
        if len(counts) != D:
            raise RuntimeError("histogramdd: The size of bins must be equal to the innermost dimension of the "
                               "input.")
        for i, c in enumerate(counts):
            if c <= 0:
                raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {c} for dimension {i}")
        if range is not None and len(range) != 2 * D:
            raise RuntimeError(f"torch.histogramdd: for a {D}-dimensional histogram range should have {2 * D} "
                               f"elements, but got {len(range)}")
        edges = []
        for i, c in enumerate(counts):
            if range is not None:
                lo, hi = _py_float(range[2 * i]), _py_float(range[2 * i + 1])
            elif pts.shape[0]:
                lo, hi = pts[:, i].min().item(), pts[:, i].max().item()
            else:
                lo, hi = 0.0, 0.0
            if lo > hi:
                raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {_num(lo)} max "
                                   f"{_num(hi)} for dimension {i}")
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise RuntimeError(f"torch.histogramdd: dimension {i}'s range [{_num(lo)}, {_num(hi)}] is not "
                                   "finite")
            if lo == hi:
                lo, hi = lo - 0.5, hi + 0.5
            edges.append(_C.linspace(lo, hi, c + 1, dtype=input.dtype, device=input.device))
    nbins = [e.numel() - 1 for e in edges]
    flat = _C.zeros((pts.shape[0],), dtype=_C.int64, device=input.device)
    inside = _C.ones((pts.shape[0],), dtype=_C.bool, device=input.device)
    for i, e in enumerate(edges):
        x = pts[:, i]
        nb = nbins[i]
        if nb < 1:
            inside = inside & False
            continue
        inside = inside & (x >= e[0]) & (x <= e[-1])
        # the bin: how many interior edges are <= x (so x == the last edge falls in the last bin)
        k = (x.unsqueeze(-1) >= e[1:-1]).sum(-1) if nb > 1 else zeros_like(x).long()
        flat = flat * nb + k.long().clamp(0, nb - 1)
    total = 1
    for nb in nbins:
        total *= max(nb, 0)
    w = weight.reshape(-1) if weight is not None else _C.ones((pts.shape[0],), dtype=input.dtype,
                                                                device=input.device)
    w = w * inside.to(w.dtype)
    hist = _C.zeros((total,), dtype=input.dtype, device=input.device)
    if total:
        hist = hist.index_add(0, flat.clamp(0, total - 1), w)
    hist = hist.reshape([max(nb, 0) for nb in nbins])
    if density:
        vol = None
        for i, e in enumerate(edges):
            shape = [1] * D
            shape[i] = -1
            width = (e[1:] - e[:-1]).reshape(shape)
            vol = width if vol is None else vol * width
        hist = hist / (hist.sum() * vol)
    return return_types.histogramdd(hist, tuple(edges))


def _ctype(dtype: Any) -> str:
    """The C type name PyTorch's histogramdd messages print ('float', 'double', 'long int')."""
    return {_C.float32: "float", _C.float64: "double", _C.float16: "c10::Half", _C.bfloat16: "c10::BFloat16",
            _C.int64: "long int", _C.int32: "int", _C.int16: "short int", _C.int8: "signed char",
            _C.uint8: "unsigned char", _C.bool: "bool"}.get(dtype, str(dtype))


def _num(v: float) -> str:
    """A float as c10 prints it in messages: 1 rather than 1.0."""
    return str(_py_int(v)) if math.isfinite(v) and v == _py_int(v) else str(v)


# ---------------------------------------------------------------------------------------------------------
# adjoint and the complex accessors of real tensors
# ---------------------------------------------------------------------------------------------------------


def _matrices_only(x: Tensor, what: str) -> None:
    if x.dim() < 2:
        raise RuntimeError(f"tensor.{what} is only supported on matrices or batches of matrices. "
                           f"Got {x.dim()}-D tensor.")


@_method("adjoint")
def adjoint(input: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims: the transpose, for real tensors (a view)."""
    _need_tensor(input, "adjoint", "input", 1)
    _matrices_only(input, "adjoint()")
    return input.transpose(-2, -1)


def _mH(self: Tensor) -> Tensor:
    _matrices_only(self, "mH")
    return self.transpose(-2, -1)


def _H(self: Tensor) -> Tensor:
    if self.dim() > 2:
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {self.dim()}-D tensor. "
                           "For batches of matrices, consider using tensor.mH")
    if self.dim() == 1:
        raise RuntimeError("tensor.H is only supported on matrices (2-D tensors). Got 1-D tensor.")
    return self.t()


Tensor.mH = property(_mH)
Tensor.H = property(_H)


def real(input: Tensor) -> Tensor:
    """``input`` itself: a real tensor is its own real part."""
    return _need_tensor(input, "real", "input", 1)


def imag(input: Tensor) -> Tensor:
    """Raises: real tensors have no imaginary part (as PyTorch's real tensors)."""
    _need_tensor(input, "imag", "input", 1)
    raise TypeError("imag is not implemented for tensors with non-complex dtypes.")


Tensor.real = property(real)
Tensor.imag = property(imag)


@_method("conj")
def conj(input: Tensor) -> Tensor:
    """``input`` itself: conjugation is the identity on real tensors."""
    return _need_tensor(input, "conj", "input", 1)


@_method("conj_physical")
def conj_physical(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``input`` itself (a copy into ``out`` when given): conjugation is the identity on real tensors."""
    _need_tensor(input, "conj_physical", "input", 1)
    return input if out is None else _out(input, out)


@_method("conj_physical_")
def conj_physical_(input: Tensor) -> Tensor:
    return _need_tensor(input, "conj_physical_", "input", 1)


@_method("angle")
def angle(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The elementwise argument: ``pi`` where ``input < 0``, ``0`` elsewhere, ``nan`` for nan. Float input
    keeps its dtype, integer and bool input gives the default float dtype; the gradient is zero (the
    function is piecewise constant), which the ``x * 0`` term carries."""
    _need_tensor(input, "angle", "input", 1)
    x = input if input.dtype.is_floating_point else input.to(_C.get_default_dtype())
    r = (x < 0).to(x.dtype) * math.pi + x * 0.0  # x * 0: nan stays nan, inf becomes nan ...
    r = _where(x.isinf(), (x < 0).to(x.dtype) * math.pi, r)  # ... so infinities are set explicitly
    return r if out is None else _out(r, out)


# ---------------------------------------------------------------------------------------------------------
# control flow, eagerly
# ---------------------------------------------------------------------------------------------------------


def _leaves(tree: Any) -> list:
    """The leaves of nested tuples / lists / dicts."""
    if isinstance(tree, (list, tuple)):
        return [leaf for t in tree for leaf in _leaves(t)]
    if isinstance(tree, dict):
        return [leaf for t in tree.values() for leaf in _leaves(t)]
    return [tree]


def cond(pred: bool | float | Tensor, true_fn: Callable, false_fn: Callable,
         operands: tuple | list = ()) -> Any:
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``. ``pred`` is a Python number or a
    one-element tensor; ``operands`` a (nested) tuple/list of tensors. Run eagerly: only the taken
    branch executes (PyTorch traces both under torch.compile)."""
    if isinstance(pred, (_py_bool, _py_int, _py_float)):
        return true_fn(*operands) if pred else false_fn(*operands)
    if not isinstance(pred, Tensor):
        raise RuntimeError(f"Expected pred to be bool or tensor, but got {pred}.")  # noqa: TRY004 (PyTorch's type)
    if pred.numel() != 1:
        raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got {pred}.")
    if not callable(true_fn) or not callable(false_fn):
        raise RuntimeError("Expect both branches to be callable.")  # noqa: TRY004 (PyTorch's type)
    if not isinstance(operands, (tuple, list)) or any(not isinstance(t, Tensor) for t in _leaves(operands)):
        raise RuntimeError("Expect operands to be a tuple of possibly nested dict/list/tuple that only consists "
                           f"of tensor leaves, but got {operands}.")
    return true_fn(*operands) if pred.item() else false_fn(*operands)


def while_loop(cond_fn: Callable, body_fn: Callable, carried_inputs: tuple | list) -> tuple:
    """``while cond_fn(*vals): vals = body_fn(*vals)`` from ``vals = carried_inputs`` (a tuple/list of
    tensors or ints); returns the final values (tensors cloned when the loop never runs). ``cond_fn`` must
    return a bool or a boolean 0-d tensor, ``body_fn`` a tuple as long as ``carried_inputs``."""
    if not callable(cond_fn) or not callable(body_fn):
        raise RuntimeError("Expect cond_fn and body_fn to be callable.")  # noqa: TRY004
    flat = _leaves(carried_inputs)
    if not all(isinstance(a, (Tensor, _py_int)) for a in flat):
        raise AssertionError(f"{list(flat)} can only be of (<class 'torch.Tensor'>, <class 'int'>, <class "
                             f"'torch.SymInt'>) but got {tuple(type(a) for a in flat)}")
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(  # noqa: TRY004 (PyTorch's type)
            f"carried_inputs must be a tuple or list but got {type(carried_inputs)}")

    def check(pred: Any) -> _py_bool:
        if isinstance(pred, _py_bool):
            return pred
        if isinstance(pred, Tensor) and pred.dim() == 0 and pred.dtype == _C.bool:
            return _py_bool(pred.item())
        raise RuntimeError(f"cond_fn must return a boolean scalar tensor or a boolean but got {pred}")

    vals = tuple(carried_inputs)
    if not check(cond_fn(*vals)):
        return tuple(v.clone() if isinstance(v, Tensor) else v for v in vals)
    while True:
        out = body_fn(*vals)
        if not isinstance(out, (tuple, list)):
            raise AssertionError(f"body_fn should return a tuple but got {type(out)}")  # noqa: TRY004
        if len(out) != len(carried_inputs):
            raise AssertionError("body_fn should return the same number of elements as carried_inputs, got "
                                 f"{len(out)} vs {len(carried_inputs)}")
        vals = tuple(out)
        if not check(cond_fn(*vals)):
            return vals


# the torch.* names this adds (__init__.py binds them)
NUMERIC = {
    "frobenius_norm": frobenius_norm, "nuclear_norm": nuclear_norm, "matrix_rank": matrix_rank, "solve": solve,
    "lstsq": lstsq, "symeig": symeig, "eig": eig, "svd_lowrank": svd_lowrank, "pca_lowrank": pca_lowrank,
    "lobpcg": lobpcg, "gradient": gradient, "histogramdd": histogramdd, "adjoint": adjoint, "real": real,
    "imag": imag, "conj": conj, "conj_physical": conj_physical, "conj_physical_": conj_physical_,
    "angle": angle, "cond": cond, "while_loop": while_loop,
}
