"""torch.linalg and the older top-level forms (torch.inverse, torch.det, torch.svd, ...): values against numpy
(batched, float32 and float64), gradients against finite differences, PyTorch's errors, named-tuple fields,
dtypes and devices kept."""

from __future__ import annotations

import math
import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck, gradgradcheck

LA = torch.linalg
RNG = np.random.default_rng(7)
HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(
    not HAS_CUDA, reason="no CUDA device (set FERROTORCH_EMULATE_CUDA=1 to emulate one)"
)
DTYPES = [np.float32, np.float64]
TDTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def rand(*shape: int, dtype=np.float64) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


def spd(*shape: int, dtype=np.float64) -> np.ndarray:
    """Well-conditioned symmetric positive-definite matrices."""
    x = rand(*shape)
    return (x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def leaf(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64).requires_grad_(True)


def close(t: torch.Tensor, ref, dtype=np.float64, tol: float | None = None) -> None:
    tol = tol if tol is not None else (2e-4 if dtype == np.float32 else 1e-10)
    np.testing.assert_allclose(t.detach().cpu().numpy(), ref, rtol=tol, atol=tol)


def sym_input(fn):
    """``fn`` of a symmetric positive-definite matrix built from ``X`` (finite differences stay symmetric)."""
    return lambda X: fn(X @ X.mT + X.shape[-1] * torch.eye(X.shape[-1], dtype=X.dtype))


# ---- vector / matrix norms ---------------------------------------------------------------------------------


def ref_vector_norm(a: np.ndarray, ord: float, axis, keepdims: bool) -> np.ndarray:
    x = np.abs(a.astype(np.float64))
    if ord == math.inf:
        return x.max(axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return x.min(axis=axis, keepdims=keepdims)
    if ord == 0:
        return (x != 0).sum(axis=axis, keepdims=keepdims).astype(np.float64)
    with np.errstate(divide="ignore"):
        return (x**ord).sum(axis=axis, keepdims=keepdims) ** (1.0 / ord)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", [2, 1, 0, math.inf, -math.inf, 3, 0.5, -1])
@pytest.mark.parametrize(
    "dim, keepdim", [(None, False), (None, True), (1, False), ((0, 2), True), (-1, False)]
)
@pytest.mark.parametrize("grad", [False, True])
def test_vector_norm_matches_numpy(dtype, ord, dim, keepdim, grad):
    a = rand(2, 3, 4, dtype=dtype)
    a[0, 0, 0] = 0.0
    x = torch.tensor(a).requires_grad_(grad)
    r = LA.vector_norm(x, ord, dim, keepdim)
    ref = ref_vector_norm(a, ord, dim, keepdim)
    assert r.dtype == x.dtype and tuple(r.shape) == np.shape(ref)
    close(r, ref, dtype, tol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, math.inf, -math.inf, -1.5])
def test_vector_norm_gradcheck(ord):
    x = leaf(rand(2, 3) + 0.1)
    assert gradcheck(lambda t: LA.vector_norm(t, ord, dim=1), (x,))
    assert gradcheck(lambda t: LA.vector_norm(t, ord), (x,))


def test_vector_norm_zero_gradient_is_zero_not_nan():
    for ord in (2, 3, 0.5):
        x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        LA.vector_norm(x, ord).backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3))
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    n0 = LA.vector_norm(x, 0)
    assert n0.item() == 2.0 and n0.requires_grad
    n0.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_vector_norm_dtype_and_errors():
    x = torch.tensor(rand(4, dtype=np.float32))
    r = LA.vector_norm(x, dtype=torch.float64)
    assert r.dtype == torch.float64
    close(r, np.linalg.norm(x.numpy().astype(np.float64)))
    with pytest.raises(
        RuntimeError,
        match=r"^linalg.vector_norm: Expected a floating point or complex tensor "
        r"as input. Got Long$",
    ):
        LA.vector_norm(torch.tensor([1, 2]))
    with pytest.raises(
        RuntimeError,
        match="linalg.vector_norm cannot compute the inf norm on an empty tensor "
        "because the operation does not have an identity",
    ):
        LA.vector_norm(torch.zeros(0), math.inf)
    with pytest.raises(RuntimeError, match="cannot compute the -1 norm"):
        LA.vector_norm(torch.zeros(2, 0), -1, dim=1)
    assert LA.vector_norm(torch.zeros(0, 5), math.inf, dim=-1).shape == (0,)
    assert LA.vector_norm(torch.zeros(0)).item() == 0.0


MATRIX_ORDS = ["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_matrix_norm_matches_numpy(dtype, ord):
    a = rand(2, 3, 4, dtype=dtype)
    x = torch.tensor(a)
    r = LA.matrix_norm(x, ord)
    assert r.dtype == x.dtype and r.shape == (2,)
    close(r, np.linalg.norm(a.astype(np.float64), ord, axis=(-2, -1)), dtype)
    r = LA.matrix_norm(x, ord, dim=(2, 0), keepdim=True)
    ref = np.linalg.norm(a.astype(np.float64), ord, axis=(2, 0), keepdims=True)
    assert tuple(r.shape) == ref.shape == (1, 3, 1)
    close(r, ref, dtype)


@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_matrix_norm_gradcheck(ord):
    x = leaf(rand(2, 3, 3))
    assert gradcheck(lambda t: LA.matrix_norm(t, ord), (x,))


def test_norm_dispatch():
    a = rand(3, 4)
    x = torch.tensor(a)
    close(LA.norm(x), np.linalg.norm(a))
    close(LA.norm(x, "fro"), np.linalg.norm(a, "fro"))
    close(LA.norm(x, 1), np.linalg.norm(a, 1))  # 2-D with ord: a matrix norm
    close(LA.norm(x, math.inf), np.linalg.norm(a, np.inf))
    close(LA.norm(x, 1, dim=1), np.abs(a).sum(1))  # int dim: a vector norm
    close(LA.norm(x, 2, dim=(0, 1)), np.linalg.norm(a, 2))
    close(LA.norm(x, dim=(0, 1)), np.linalg.norm(a))
    b = rand(2, 3, 4)
    close(LA.norm(torch.tensor(b)), np.linalg.norm(b.ravel()))  # ord None: flattened 2-norm
    close(LA.norm(torch.tensor(b[0, 0]), 3), np.linalg.norm(b[0, 0], 3))
    with pytest.raises(
        RuntimeError,
        match=r"linalg.norm: If dim is not specified but ord is, the input must be "
        r"1D or 2D. Got 3D.",
    ):
        LA.norm(torch.tensor(b), 2)
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: Order 3 not supported."):
        LA.matrix_norm(x, 3)
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: Order foo not supported."):
        LA.matrix_norm(x, "foo")
    with pytest.raises(
        RuntimeError, match="linalg.matrix_norm: The input tensor A must have at least 2 dimensions"
    ):
        LA.matrix_norm(torch.zeros(3))


# ---- inv, det, slogdet -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 2, 2), (1, 1), (0, 3, 3)])
def test_inv_det_slogdet_match_numpy(dtype, shape):
    a = rand(*shape, dtype=dtype) + 2 * np.eye(shape[-1], dtype=dtype)
    x = torch.tensor(a)
    for r, ref in [
        (LA.inv(x), np.linalg.inv(a)),
        (torch.inverse(x), np.linalg.inv(a)),
        (x.inverse(), np.linalg.inv(a)),
        (LA.det(x), np.linalg.det(a)),
        (torch.det(x), np.linalg.det(a)),
        (x.det(), np.linalg.det(a)),
    ]:
        assert r.dtype == x.dtype and tuple(r.shape) == np.shape(ref)
        close(r, ref, dtype)
    sign, logabs = LA.slogdet(x)
    rs, rl = np.linalg.slogdet(a)
    assert sign.dtype == logabs.dtype == x.dtype
    close(sign, rs, dtype)
    close(logabs, rl, dtype)
    inverse, info = LA.inv_ex(x)
    close(inverse, np.linalg.inv(a), dtype)
    assert info.dtype == torch.int32 and tuple(info.shape) == shape[:-2] and not info.any().item()


def test_logdet_and_slogdet_top_level():
    a = np.array([[[2.0, 0.0], [0.0, 3.0]], [[0.0, 1.0], [1.0, 0.0]], [[1.0, 2.0], [2.0, 4.0]]])
    r = torch.logdet(torch.tensor(a))
    assert math.isclose(r[0].item(), math.log(6.0)) and math.isnan(r[1].item()) and r[2].item() == -math.inf
    assert torch.tensor(a).logdet().shape == (3,)
    s = torch.slogdet(torch.tensor(a))
    assert type(s).__name__ == "slogdet" and s.sign.tolist() == [1.0, -1.0, 0.0]
    assert s.logabsdet[2].item() == -math.inf
    assert torch.tensor(a).slogdet().logabsdet.shape == (3,)


def test_inv_det_slogdet_gradcheck():
    a = rand(2, 3, 3) + 2 * np.eye(3)
    assert gradcheck(LA.inv, (leaf(a),))
    assert gradcheck(LA.det, (leaf(a),))
    assert gradcheck(lambda t: LA.slogdet(t).logabsdet, (leaf(a),))
    assert gradcheck(torch.logdet, (leaf(spd(3, 3)),))
    assert gradgradcheck(LA.inv, (leaf(a[0]),))
    assert gradgradcheck(LA.det, (leaf(a[0]),))


def test_det_gradient_at_singular_matrices_is_the_cofactor():
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])  # rank 2
    x = leaf(a)
    LA.det(x).backward()
    cof = np.array(
        [
            [np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) * (-1) ** (i + j) for j in range(3)]
            for i in range(3)
        ]
    )
    close(x.grad, cof, tol=1e-9)
    assert gradcheck(LA.det, (leaf(a),))
    x = leaf(np.zeros((2, 2)))  # rank 0: the gradient is zero
    LA.det(x).backward()
    close(x.grad, np.zeros((2, 2)))


def test_inv_errors():
    with pytest.raises(
        RuntimeError,
        match=r"^linalg.inv: A must be batches of square matrices, but they are "
        r"3 by 4 matrices$",
    ):
        LA.inv(torch.zeros(3, 4))
    with pytest.raises(
        RuntimeError, match="linalg.det: A must be batches of square matrices, but they are 3 by 4"
    ):
        LA.det(torch.zeros(2, 3, 4))
    with pytest.raises(
        RuntimeError,
        match=r"^linalg.inv: Expected a floating point or complex tensor as input. "
        r"Got Long$",
    ):
        LA.inv(torch.tensor([[1, 2], [3, 4]]))
    with pytest.raises(RuntimeError, match="linalg.inv: Low precision dtypes not supported. Got Half"):
        LA.inv(torch.eye(2).half())
    with pytest.raises(RuntimeError, match="linalg.inv: The input tensor A must have at least 2 dimensions."):
        LA.inv(torch.zeros(3))
    with pytest.raises(TypeError, match="must be Tensor, not list"):
        LA.inv([[1.0]])
    singular = torch.tensor([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(
        LA.LinAlgError,
        match=r"^linalg.inv: The diagonal element 2 is zero, the inversion could "
        r"not be completed because the input matrix is singular.$",
    ):
        LA.inv(singular)
    batch = torch.stack([torch.eye(2), singular])
    with pytest.raises(
        torch.linalg.LinAlgError, match=r"^linalg.inv: \(Batch element 1\): The diagonal element 2"
    ):
        torch.inverse(batch)
    with pytest.raises(RuntimeError, match="diagonal element 1 is zero"):
        LA.inv(torch.zeros(3, 3))
    inverse, info = LA.inv_ex(batch)
    assert info.tolist() == [0, 2]
    close(inverse[0], np.eye(2))
    with pytest.raises(LA.LinAlgError, match=r"linalg.inv_ex: \(Batch element 1\)"):
        LA.inv_ex(batch, check_errors=True)
    assert issubclass(LA.LinAlgError, RuntimeError) and torch._C._LinAlgError is LA.LinAlgError


# ---- solve, solve_triangular -------------------------------------------------------------------------------


SOLVE_SHAPES = [
    ((3, 3), (3,)),
    ((3, 3), (3, 2)),
    ((2, 3, 3), (3, 2)),
    ((2, 3, 3), (2, 3)),
    ((3, 3), (2, 3, 4)),
    ((2, 1, 3, 3), (4, 3, 1)),
    ((2, 3, 3), (2, 3, 1)),
]


def ref_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    b2 = b[..., None] if vector else b
    batch = np.broadcast_shapes(a.shape[:-2], b2.shape[:-2])
    x = np.linalg.solve(np.broadcast_to(a, batch + a.shape[-2:]), np.broadcast_to(b2, batch + b2.shape[-2:]))
    return x[..., 0] if vector else x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa, sb", SOLVE_SHAPES)
def test_solve_matches_numpy(dtype, sa, sb):
    a = (rand(*sa) + 3 * np.eye(sa[-1])).astype(dtype)
    b = rand(*sb, dtype=dtype)
    r = LA.solve(torch.tensor(a), torch.tensor(b))
    ref = ref_solve(a, b)
    assert r.dtype == TDTYPE[dtype] and tuple(r.shape) == ref.shape
    close(r, ref, dtype)
    x, info = LA.solve_ex(torch.tensor(a), torch.tensor(b))
    close(x, ref, dtype)
    assert not info.any().item()


def test_solve_left_false_and_gradcheck():
    a, b = rand(2, 3, 3) + 3 * np.eye(3), rand(4, 3)
    r = LA.solve(torch.tensor(a), torch.tensor(b), left=False)  # X A = B
    close(r, np.swapaxes(np.linalg.solve(np.swapaxes(a, -1, -2), np.broadcast_to(b.T, (2, 3, 4))), -1, -2))
    for sa, sb in SOLVE_SHAPES:
        A, B = leaf(rand(*sa) + 3 * np.eye(sa[-1])), leaf(rand(*sb))
        assert gradcheck(LA.solve, (A, B))
    A, B = leaf(a), leaf(b)
    assert gradcheck(lambda p, q: LA.solve(p, q, left=False), (A, B))
    assert gradgradcheck(LA.solve, (leaf(a[0]), leaf(b[:3, :2])))


def test_solve_errors():
    with pytest.raises(
        LA.LinAlgError,
        match=r"^torch.linalg.solve: The solver failed because the input matrix "
        r"is singular.$",
    ):
        LA.solve(torch.tensor([[1.0, 2.0], [2.0, 4.0]]), torch.ones(2))
    res = LA.solve_ex(torch.stack([torch.eye(2), torch.zeros(2, 2)]), torch.ones(2, 2))
    assert res.info.tolist() == [0, 1]
    close(res.result[0], np.ones(2), np.float32)  # B (2, 2) is a batch of vectors for A (2, 2, 2)
    with pytest.raises(
        RuntimeError,
        match=r"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
        r"\(3x3 and 4x2\)",
    ):
        LA.solve(torch.eye(3), torch.zeros(4, 2))
    with pytest.raises(
        RuntimeError,
        match="linalg.solve: Expected A and B to have the same dtype, but found A of "
        "type Float and B of type Double instead",
    ):
        LA.solve(torch.eye(3), torch.zeros(3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="Vector broadcasting of the left hand side is not supported"):
        LA.solve(torch.eye(1), torch.zeros(1), left=False)
    with pytest.raises(RuntimeError, match=r"the equation XA = B \(3x3 and 3x1\)"):
        LA.solve(torch.eye(3), torch.zeros(3), left=False)
    with pytest.raises(RuntimeError, match="linalg.solve: A must be batches of square matrices"):
        LA.solve(torch.zeros(3, 2), torch.zeros(3))


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unitriangular", [False, True])
def test_solve_triangular(upper, left, unitriangular):
    a = rand(2, 3, 3) + 3 * np.eye(3)
    b = rand(2, 3, 4) if left else rand(2, 4, 3)
    t = np.triu(a) if upper else np.tril(a)
    if unitriangular:
        t = np.array([m - np.diag(np.diag(m)) + np.eye(3) for m in t])
    ref = (
        np.linalg.solve(t, b)
        if left
        else np.swapaxes(np.linalg.solve(np.swapaxes(t, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
    )
    r = LA.solve_triangular(
        torch.tensor(a), torch.tensor(b), upper=upper, left=left, unitriangular=unitriangular
    )
    close(r, ref)
    A, B = leaf(a), leaf(b)
    assert gradcheck(
        lambda p, q: LA.solve_triangular(p, q, upper=upper, left=left, unitriangular=unitriangular), (A, B)
    )
    out = LA.solve_triangular(A, B, upper=upper, left=left, unitriangular=unitriangular)
    out.sum().backward()
    mask = (
        np.triu(np.ones((3, 3)), 1 if unitriangular else 0)
        if upper
        else np.tril(np.ones((3, 3)), -1 if unitriangular else 0)
    )
    assert np.all(A.grad.numpy()[:, mask == 0] == 0)  # only the triangle read gets a gradient


# ---- Cholesky ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (0, 2, 2)])
def test_cholesky_matches_numpy(dtype, shape):
    a = spd(*shape, dtype=dtype)
    x = torch.tensor(a)
    L = LA.cholesky(x)
    assert L.dtype == x.dtype
    close(L, np.linalg.cholesky(a), dtype)
    U = LA.cholesky(x, upper=True)
    close(U, np.swapaxes(np.linalg.cholesky(a), -1, -2), dtype)
    L2, info = LA.cholesky_ex(x)
    close(L2, np.linalg.cholesky(a), dtype)
    assert info.dtype == torch.int32 and not info.any().item()


def test_cholesky_reads_one_triangle_and_gradcheck():
    a = spd(3, 3)
    junk_upper = a + np.triu(rand(3, 3), 1) * 10
    close(LA.cholesky(torch.tensor(junk_upper)), np.linalg.cholesky(a))
    junk_lower = a + np.tril(rand(3, 3), -1) * 10
    close(LA.cholesky(torch.tensor(junk_lower), upper=True), np.linalg.cholesky(a).T)
    X = leaf(rand(2, 3, 3))
    assert gradcheck(sym_input(LA.cholesky), (X,))
    assert gradcheck(sym_input(lambda A: LA.cholesky(A, upper=True)), (X,))


def test_cholesky_errors_and_deprecated_form():
    bad = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(
        LA.LinAlgError,
        match=r"^linalg.cholesky: The factorization could not be completed because "
        r"the input is not positive-definite \(the leading minor of order 2 is "
        r"not positive-definite\).$",
    ):
        LA.cholesky(bad)
    batch = torch.stack([torch.eye(2), torch.eye(2), -torch.eye(2)])
    with pytest.raises(
        LA.LinAlgError, match=r"linalg.cholesky: \(Batch element 2\): .*leading minor of order 1 "
    ):
        LA.cholesky(batch)
    L, info = LA.cholesky_ex(batch)
    assert info.tolist() == [0, 0, 1]
    close(L[0], np.eye(2))
    with pytest.raises(RuntimeError, match="linalg.cholesky: A must be batches of square matrices"):
        LA.cholesky(torch.zeros(2, 3))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        a = spd(3, 3)
        close(torch.cholesky(torch.tensor(a)), np.linalg.cholesky(a))
        close(torch.tensor(a).cholesky(upper=True), np.linalg.cholesky(a).T)
        with pytest.raises(LA.LinAlgError, match="^cholesky: The factorization could not be completed"):
            torch.cholesky(bad)


def test_cholesky_solve_and_inverse():
    a = spd(2, 3, 3)
    b = rand(2, 3, 2)
    L = np.linalg.cholesky(a)
    for upper, factor in [(False, L), (True, np.swapaxes(L, -1, -2))]:
        r = torch.cholesky_solve(torch.tensor(b), torch.tensor(factor), upper=upper)
        close(r, np.linalg.solve(a, b))
        close(torch.tensor(b).cholesky_solve(torch.tensor(factor), upper), np.linalg.solve(a, b))
        close(torch.cholesky_inverse(torch.tensor(factor), upper=upper), np.linalg.inv(a))
        close(torch.tensor(factor).cholesky_inverse(upper), np.linalg.inv(a))
        # as PyTorch's gradcheck of these: the factor passes through triu/tril, since finite differences
        # would leave the triangular inputs the functions read
        tri = (lambda q: q.triu()) if upper else (lambda q: q.tril())
        assert gradcheck(
            lambda p, q, u=upper, t=tri: torch.cholesky_solve(p, t(q), u), (leaf(b), leaf(factor))
        )
        assert gradcheck(lambda q, u=upper, t=tri: torch.cholesky_inverse(t(q), u), (leaf(factor),))
    # PyTorch's gradient for the factor is that of L L^T (not masked to the triangle read)
    Lt = leaf(L[0])
    torch.cholesky_inverse(Lt).sum().backward()
    Lf = leaf(L[0])
    LA.inv(Lf @ Lf.mT).sum().backward()
    close(Lt.grad, Lf.grad.numpy(), tol=1e-9)
    with pytest.raises(
        LA.LinAlgError, match=r"^cholesky_inverse: The diagonal element 2 is zero, the inversion "
    ):
        torch.cholesky_inverse(torch.tensor([[1.0, 0.0], [5.0, 0.0]]))
    r = torch.cholesky_solve(torch.tensor(b[0]), torch.tensor(L))  # batch broadcast
    close(r, np.linalg.solve(a, np.broadcast_to(b[0], (2, 3, 2))))
    with pytest.raises(
        RuntimeError, match="b should have at least 2 dimensions, but has 1 dimensions instead"
    ):
        torch.cholesky_solve(torch.zeros(3), torch.eye(3))
    with pytest.raises(
        RuntimeError,
        match="Incompatible matrix sizes for cholesky_solve: each A matrix is 3 by 3 "
        "but each b matrix is 4 by 2",
    ):
        torch.cholesky_solve(torch.zeros(4, 2), torch.eye(3))


# ---- QR, eigh, SVD -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 5, 2)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr_matches_numpy(dtype, shape, mode):
    a = rand(*shape, dtype=dtype)
    Q, R = LA.qr(torch.tensor(a), mode)
    ref = np.linalg.qr(a, mode=mode)
    if mode == "r":
        assert Q.shape == (0,)
        close(R, ref, dtype)
        return
    assert Q.dtype == R.dtype == TDTYPE[dtype]
    close(Q, ref[0], dtype)
    close(R, ref[1], dtype)
    close(Q @ R, a, dtype)
    res = LA.qr(torch.tensor(a))
    assert type(res).__name__ == "linalg_qr" and res.Q.shape == res[0].shape


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 4, 2)])
def test_qr_gradcheck(shape):
    X = leaf(rand(*shape))
    assert gradcheck(lambda t: tuple(LA.qr(t)), (X,))


def test_qr_backward_errors_and_deprecated_form():
    X = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(
        RuntimeError, match="The derivative of linalg.qr depends on Q, which is not computed when mode='r'"
    ):
        LA.qr(X, mode="r").R.sum().backward()
    with pytest.raises(
        RuntimeError,
        match="The QR decomposition is not differentiable when mode='complete' and nrows > ncols.",
    ):
        LA.qr(X, mode="complete").Q.sum().backward()
    with pytest.raises(RuntimeError, match="qr received unrecognized mode 'full'"):
        LA.qr(X, mode="full")
    a = rand(5, 3)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        Q, R = torch.qr(torch.tensor(a))
        assert Q.shape == (5, 3) and R.shape == (3, 3)
        assert torch.tensor(a).qr(some=False).Q.shape == (5, 5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("UPLO", ["L", "U"])
def test_eigh_matches_numpy(dtype, UPLO):
    a = spd(2, 4, 4, dtype=dtype)
    junk = a + (np.triu if UPLO == "L" else np.tril)(rand(4, 4), 1 if UPLO == "L" else -1).astype(dtype)
    res = LA.eigh(torch.tensor(junk), UPLO=UPLO)
    assert type(res).__name__ == "linalg_eigh" and res.eigenvalues is res[0] and res.eigenvectors is res[1]
    w, v = np.linalg.eigh(a)
    assert res.eigenvalues.dtype == TDTYPE[dtype]
    close(res.eigenvalues, w, dtype)
    V = res.eigenvectors.numpy()
    close(res.eigenvectors, v * np.sign(np.sum(V * v, axis=-2, keepdims=True)), dtype)
    close(LA.eigvalsh(torch.tensor(junk), UPLO), w, dtype)
    with pytest.raises(RuntimeError, match="Expected UPLO argument to be 'L' or 'U', but got X"):
        LA.eigh(torch.tensor(a), "X")


def _sign_fixed(V):
    return V * V.narrow(-2, 0, 1).sign()


def test_eigh_gradcheck():
    X = leaf(rand(2, 3, 3))
    assert gradcheck(lambda t: LA.eigvalsh(t + t.mT), (X,))
    assert gradcheck(lambda t: (LA.eigh(t + t.mT)[0], _sign_fixed(LA.eigh(t + t.mT)[1])), (X,))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 5, 2)])
@pytest.mark.parametrize("full", [True, False])
def test_svd_matches_numpy(dtype, shape, full):
    a = rand(*shape, dtype=dtype)
    U, S, Vh = LA.svd(torch.tensor(a), full_matrices=full)
    u, s, vh = np.linalg.svd(a, full_matrices=full)
    assert U.shape == u.shape and S.shape == s.shape and Vh.shape == vh.shape and S.dtype == TDTYPE[dtype]
    close(S, s, dtype)
    k = s.shape[-1]
    close((U.narrow(-1, 0, k) * S.unsqueeze(-2)) @ Vh.narrow(-2, 0, k), a, dtype)
    close(LA.svdvals(torch.tensor(a)), s, dtype)
    res = LA.svd(torch.tensor(a), full)
    assert type(res).__name__ == "linalg_svd" and res.Vh is res[2] and res.U.shape == u.shape


def _svd_fixed(A, full=False):
    U, S, Vh = LA.svd(A, full_matrices=full)
    k = S.shape[-1]
    U, Vh = U.narrow(-1, 0, k), Vh.narrow(-2, 0, k)
    s = U.narrow(-2, 0, 1).sign()
    return S, U * s, Vh * s.mT


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 4, 2)])
def test_svd_gradcheck(shape):
    X = leaf(rand(*shape))
    assert gradcheck(LA.svdvals, (X,))
    assert gradcheck(_svd_fixed, (X,))
    assert gradcheck(lambda t: _svd_fixed(t, True), (X,))  # full_matrices: the extra columns get no gradient


def test_old_svd_returns_V():
    a = rand(2, 5, 3)
    U, S, V = torch.svd(torch.tensor(a))
    assert U.shape == (2, 5, 3) and V.shape == (2, 3, 3)
    close((U * S.unsqueeze(-2)) @ V.mT, a)
    r = torch.tensor(a).svd(some=False)
    assert type(r).__name__ == "svd" and r.U.shape == (2, 5, 5) and r.V.shape == (2, 3, 3)
    r = torch.svd(torch.tensor(a), compute_uv=False)
    close(r.S, np.linalg.svd(a, compute_uv=False))
    assert not r.U.any().item() and r.U.shape == (2, 5, 5) and r.V.shape == (2, 3, 3)
    with pytest.raises(
        LA.LinAlgError,
        match="linalg.svd: The algorithm failed to converge because the input "
        "matrix contained non-finite values.",
    ):
        LA.svd(torch.full((2, 2), math.nan))
    with pytest.raises(RuntimeError, match="keyword argument `driver=` is only supported on CUDA"):
        LA.svd(torch.eye(2), driver="gesvd")


# ---- pinv, lstsq, matrix_rank, cond ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_pinv_matches_numpy(dtype, shape):
    a = rand(*shape, dtype=dtype)
    r = LA.pinv(torch.tensor(a))
    assert r.dtype == TDTYPE[dtype]
    close(r, np.linalg.pinv(a), dtype, tol=1e-3 if dtype == np.float32 else None)
    close(
        torch.pinverse(torch.tensor(a)), np.linalg.pinv(a), dtype, tol=1e-3 if dtype == np.float32 else None
    )
    close(torch.tensor(a).pinverse(), np.linalg.pinv(a), dtype, tol=1e-3 if dtype == np.float32 else None)


def test_pinv_tolerances_hermitian_and_gradcheck():
    a = np.diag([4.0, 1.0, 1e-3])
    close(LA.pinv(torch.tensor(a)), np.diag([0.25, 1.0, 1e3]))
    close(LA.pinv(torch.tensor(a), atol=0.01), np.diag([0.25, 1.0, 0.0]))
    close(LA.pinv(torch.tensor(a), rtol=0.5), np.diag([0.25, 0.0, 0.0]))
    close(LA.pinv(torch.tensor(a), 0.5), np.diag([0.25, 0.0, 0.0]))  # rcond, positional
    h = spd(3, 3)
    close(LA.pinv(torch.tensor(h), hermitian=True), np.linalg.inv(h))
    for shape in [(4, 3), (3, 5), (2, 3, 3)]:
        assert gradcheck(LA.pinv, (leaf(rand(*shape)),))
    assert gradcheck(lambda t: LA.pinv(t + t.mT, hermitian=True), (leaf(h),))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "sa, sb", [((5, 3), (5, 2)), ((2, 5, 3), (5, 2)), ((3, 5), (3, 1)), ((5, 3), (5,)), ((2, 5, 3), (2, 5))]
)
def test_lstsq_matches_numpy(dtype, sa, sb):
    a, b = rand(*sa, dtype=dtype), rand(*sb, dtype=dtype)
    res = LA.lstsq(torch.tensor(a), torch.tensor(b))
    assert type(res).__name__ == "linalg_lstsq" and res.solution is res[0]
    vector = len(sb) == 1 or (len(sb) == len(sa) - 1 and sb == sa[:-1])
    b2 = b[..., None] if vector else b
    ref = np.linalg.pinv(a.astype(np.float64)) @ np.broadcast_to(
        b2, np.broadcast_shapes(a.shape[:-2], b2.shape[:-2]) + b2.shape[-2:]
    )
    ref = ref[..., 0] if vector else ref
    assert res.solution.dtype == TDTYPE[dtype] and tuple(res.solution.shape) == ref.shape
    close(res.solution, ref, dtype, tol=1e-3 if dtype == np.float32 else None)
    assert res.residuals.numel() == 0 and res.singular_values.numel() == 0  # gelsy: neither
    assert res.rank.dtype == torch.int64 and (res.rank == min(sa[-2:])).all().item()


def test_lstsq_drivers():
    a, b = rand(6, 3), rand(6, 2)
    x = np.linalg.lstsq(a, b, rcond=None)
    for driver in ("gels", "gelsd", "gelss"):
        res = LA.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        close(res.solution, x[0])
        close(res.residuals, x[1])
        assert (res.rank.numel() == 0) == (driver == "gels")
        if driver != "gels":
            assert res.rank.item() == 3
            close(res.singular_values, x[3])
    deficient = np.column_stack([a[:, 0], a[:, 0], a[:, 1]])
    res = LA.lstsq(torch.tensor(deficient), torch.tensor(b), driver="gelsd")
    assert res.rank.item() == 2 and res.residuals.numel() == 0  # not full rank: no residuals
    close(res.solution, np.linalg.pinv(deficient) @ b, tol=1e-8)
    with pytest.raises(RuntimeError, match="parameter `driver` should be one of"):
        LA.lstsq(torch.tensor(a), torch.tensor(b), driver="foo")
    with pytest.raises(
        RuntimeError, match="torch.linalg.lstsq: input.size\\(-2\\) should match other.size\\(-2\\)"
    ):
        LA.lstsq(torch.tensor(a), torch.zeros(5, 2, dtype=torch.float64))


def test_lstsq_gradcheck():
    for sa, sb in [((5, 3), (5, 2)), ((3, 5), (3, 2)), ((2, 4, 3), (2, 4)), ((2, 4, 3), (4, 1))]:
        assert gradcheck(lambda p, q: LA.lstsq(p, q).solution, (leaf(rand(*sa)), leaf(rand(*sb))))


def test_matrix_rank_and_cond():
    a = rand(2, 5, 4)
    a[1, :, 3] = a[1, :, 0] + a[1, :, 1]
    r = LA.matrix_rank(torch.tensor(a))
    assert r.dtype == torch.int64 and r.tolist() == [4, 3]
    assert LA.matrix_rank(torch.tensor(np.diag([1.0, 1e-3, 0.0]))).item() == 2
    assert LA.matrix_rank(torch.tensor(np.diag([1.0, 1e-3, 0.0])), atol=0.01).item() == 1
    assert LA.matrix_rank(torch.tensor(np.diag([1.0, 1e-3, 0.0])), 0.01).item() == 1  # tol
    assert LA.matrix_rank(torch.tensor(np.diag([2.0, -1e-3, 0.0])), hermitian=True, rtol=1e-2).item() == 1
    b = rand(3, 3)
    for p in [None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf]:
        close(LA.cond(torch.tensor(b), p), np.linalg.cond(b, p), tol=1e-8)
    assert LA.cond(torch.zeros(2, 2), 1).item() == math.inf
    close(LA.cond(torch.tensor(a[0])), np.linalg.cond(a[0]), tol=1e-8)


# ---- products: matrix_power, matrix_exp, cross, multi_dot, vecdot, vander, tensorinv/solve -----------------


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, -1, -3])
def test_matrix_power(n):
    a = rand(2, 3, 3) + 2 * np.eye(3)
    r = LA.matrix_power(torch.tensor(a), n)
    close(r, np.linalg.matrix_power(a, n), tol=1e-8)
    close(torch.matrix_power(torch.tensor(a), n), np.linalg.matrix_power(a, n), tol=1e-8)
    close(torch.tensor(a).matrix_power(n), np.linalg.matrix_power(a, n), tol=1e-8)
    assert gradcheck(lambda t: LA.matrix_power(t, n), (leaf(a[0]),))


def test_matrix_power_ints_and_errors():
    m = torch.tensor([[1, 1], [1, 0]])
    r = LA.matrix_power(m, 10)
    assert r.dtype == torch.int64 and r.tolist() == [[89, 55], [55, 34]]
    with pytest.raises(RuntimeError, match="linalg.inv: Expected a floating point"):
        LA.matrix_power(m, -1)
    with pytest.raises(
        RuntimeError,
        match="linalg.matrix_power: A must be batches of square matrices, but they are 2 by 3 matrices",
    ):
        LA.matrix_power(torch.zeros(2, 3), 2)
    with pytest.raises(TypeError):
        LA.matrix_power(torch.eye(2), 1.5)


def test_matrix_exp():
    h = spd(2, 3, 3) / 3.0
    w, v = np.linalg.eigh(h)
    ref = (v * np.exp(w)[..., None, :]) @ np.swapaxes(v, -1, -2)
    close(LA.matrix_exp(torch.tensor(h)), ref, tol=1e-10)
    close(torch.matrix_exp(torch.tensor(h[0])), ref[0], tol=1e-10)
    close(torch.tensor(h[0]).float().matrix_exp(), ref[0], np.float32)
    rot = np.array([[0.0, -1.0], [1.0, 0.0]]) * 0.7  # exp of a skew matrix: a rotation
    close(LA.matrix_exp(torch.tensor(rot)), [[math.cos(0.7), -math.sin(0.7)], [math.sin(0.7), math.cos(0.7)]])
    assert gradcheck(LA.matrix_exp, (leaf(rand(3, 3)),))


def test_cross():
    a, b = rand(4, 3), rand(1, 3)
    close(LA.cross(torch.tensor(a), torch.tensor(b)), np.cross(a, b))
    c, d = rand(3, 5), rand(3, 5)
    close(LA.cross(torch.tensor(c), torch.tensor(d), dim=0), np.cross(c, d, axis=0))
    LA._warned.discard("cross")  # warned once per process, as PyTorch's TORCH_WARN_ONCE
    with pytest.warns(UserWarning, match="Using torch.cross without specifying the dim arg is deprecated"):
        r = torch.cross(torch.tensor(c), torch.tensor(d))
    close(r, np.cross(c, d, axis=0))  # the first dim of size 3
    close(torch.tensor(a).cross(torch.tensor(np.broadcast_to(b, (4, 3)).copy()), dim=1), np.cross(a, b))
    assert LA.cross(torch.tensor([1, 0, 0]), torch.tensor([0, 1, 0])).tolist() == [0, 0, 1]
    with pytest.raises(
        RuntimeError, match="linalg.cross: inputs dimension -1 must have length 3. Got 4 and 4"
    ):
        LA.cross(torch.zeros(4), torch.zeros(4))
    with pytest.raises(RuntimeError, match="linalg.cross: inputs must have the same number of dimensions."):
        LA.cross(torch.zeros(3), torch.zeros(2, 3))
    assert gradcheck(LA.cross, (leaf(a), leaf(b)))


def test_multi_dot_and_chain_matmul():
    mats = [rand(3), rand(3, 10), rand(10, 2), rand(2, 6), rand(6)]
    close(LA.multi_dot([torch.tensor(m) for m in mats]), np.linalg.multi_dot(mats))
    mats2 = [rand(4, 3), rand(3, 5), rand(5, 2)]
    close(LA.multi_dot([torch.tensor(m) for m in mats2]), np.linalg.multi_dot(mats2))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        close(torch.chain_matmul(*[torch.tensor(m) for m in mats2]), np.linalg.multi_dot(mats2))
    with pytest.raises(RuntimeError, match="multi_dot\\(\\): expected at least 2 tensors but got 1"):
        LA.multi_dot([torch.zeros(2, 2)])
    with pytest.raises(RuntimeError, match="multi_dot\\(\\): tensor 1 must be 2D but got 1D"):
        LA.multi_dot([torch.zeros(2, 2), torch.zeros(2), torch.zeros(2, 2)])
    with pytest.raises(
        RuntimeError,
        match=r"multi_dot\(\): tensors 0 and 1 with shapes \[2, 3\] and \[2, 2\] "
        r"cannot be multiplied",
    ):
        LA.multi_dot([torch.zeros(2, 3), torch.zeros(2, 2)])
    assert gradcheck(
        lambda *t: LA.multi_dot(list(t)), tuple(leaf(m) for m in [rand(2), rand(2, 3), rand(3, 2)])
    )


def test_vecdot_diagonal_matmul_vander():
    x, y = rand(2, 3, 4), rand(3, 4)
    close(LA.vecdot(torch.tensor(x), torch.tensor(y)), (x * y).sum(-1))
    close(LA.vecdot(torch.tensor(x), torch.tensor(x), dim=0), (x * x).sum(0))
    with pytest.raises(RuntimeError, match="linalg.vecdot: Expected x and y to have the same dtype"):
        LA.vecdot(torch.zeros(3), torch.zeros(3, dtype=torch.float64))
    close(LA.diagonal(torch.tensor(x)), np.diagonal(x, axis1=-2, axis2=-1))
    close(LA.diagonal(torch.tensor(x), offset=1, dim1=0, dim2=2), np.diagonal(x, 1, 0, 2))
    close(LA.matmul(torch.tensor(x), torch.tensor(y.T.copy())), x @ y.T)
    v = rand(2, 4)
    close(LA.vander(torch.tensor(v)), np.stack([np.vander(r, increasing=True) for r in v]))
    close(LA.vander(torch.tensor(v[0]), N=6), np.vander(v[0], 6, increasing=True))
    assert gradcheck(lambda t: LA.vander(t, N=4), (leaf(v),))


def test_tensorinv_tensorsolve():
    a = rand(6, 6) + 3 * np.eye(6)
    t = a.reshape(2, 3, 6)
    close(LA.tensorinv(torch.tensor(t), ind=2), np.linalg.tensorinv(t, ind=2))
    b = rand(2, 3)
    close(
        LA.tensorsolve(torch.tensor(t.reshape(2, 3, 2, 3)), torch.tensor(b)),
        np.linalg.tensorsolve(t.reshape(2, 3, 2, 3), b),
    )
    with pytest.raises(RuntimeError, match="Expected self to satisfy the requirement"):
        LA.tensorinv(torch.zeros(2, 3, 4), ind=1)


# ---- float32, devices, return types ------------------------------------------------------------------------


def test_float32_in_float32_out():
    a32 = torch.tensor(spd(2, 3, 3, dtype=np.float32))
    outs = [
        LA.inv(a32),
        LA.det(a32),
        *LA.slogdet(a32),
        LA.cholesky(a32),
        *LA.qr(a32),
        *LA.eigh(a32),
        *LA.svd(a32),
        LA.pinv(a32),
        LA.lstsq(a32, a32).solution,
        LA.matrix_norm(a32, "nuc"),
        LA.solve(a32, a32),
        LA.matrix_exp(a32),
        LA.svdvals(a32),
    ]
    assert all(o.dtype == torch.float32 for o in outs)
    with pytest.raises(
        RuntimeError, match="linalg.cholesky: Low precision dtypes not supported. Got BFloat16"
    ):
        LA.cholesky(a32.bfloat16())
    assert LA.vector_norm(a32.half()).dtype == torch.float16


def test_return_types_exposed():
    for name in [
        "linalg_eigh",
        "linalg_slogdet",
        "slogdet",
        "linalg_qr",
        "qr",
        "linalg_svd",
        "svd",
        "linalg_lstsq",
        "linalg_inv_ex",
        "linalg_cholesky_ex",
        "linalg_solve_ex",
    ]:
        assert hasattr(torch.return_types, name)
    r = LA.cholesky_ex(torch.eye(2))
    assert r._fields == ("L", "info") and repr(r).startswith("torch.return_types.linalg_cholesky_ex(")
    assert LA.solve_ex(torch.eye(2), torch.ones(2))._fields == ("result", "info")
    assert LA.inv_ex(torch.eye(2))._fields == ("inverse", "info")


def test_out_argument():
    out = torch.empty(3, 3, dtype=torch.float64)
    a = spd(3, 3)
    r = LA.inv(torch.tensor(a), out=out)
    assert r is out
    close(out, np.linalg.inv(a))


@needs_cuda
def test_on_cuda_device_and_back():
    a = spd(2, 3, 3)
    b = rand(2, 3, 2)
    A = torch.tensor(a, device="cuda")
    B = torch.tensor(b, device="cuda")
    cases = [
        (LA.inv(A), np.linalg.inv(a)),
        (LA.det(A), np.linalg.det(a)),
        (LA.solve(A, B), np.linalg.solve(a, b)),
        (LA.cholesky(A), np.linalg.cholesky(a)),
        (LA.eigvalsh(A), np.linalg.eigvalsh(a)),
        (LA.svdvals(A), np.linalg.svd(a, compute_uv=False)),
        (LA.pinv(A), np.linalg.pinv(a)),
        (LA.matrix_norm(A, "nuc"), np.linalg.norm(a, "nuc", axis=(-2, -1))),
        (LA.vector_norm(A), np.linalg.norm(a.ravel())),
        (LA.matrix_power(A, -2), np.linalg.matrix_power(a, -2)),
        (LA.cross(A, A.flip(-1)), np.cross(a, a[..., ::-1])),
        (LA.lstsq(A, B).solution, np.linalg.solve(a, b)),
        (LA.qr(A).R, np.linalg.qr(a)[1]),
        (LA.inv_ex(A).info, np.zeros(2)),
    ]
    for r, ref in cases:
        assert r.device.type == "cuda"
        close(r, ref, tol=1e-8)
    assert LA.matrix_rank(A).device.type == "cuda"
    X = A.detach().requires_grad_(True)
    (LA.det(X).sum() + LA.inv(X).sum() + LA.eigh(X).eigenvalues.sum()).backward()
    assert X.grad.device.type == "cuda"
    Xc = torch.tensor(a).requires_grad_(True)
    (LA.det(Xc).sum() + LA.inv(Xc).sum() + LA.eigh(Xc).eigenvalues.sum()).backward()
    close(X.grad, Xc.grad.numpy(), tol=1e-8)
    with pytest.raises(LA.LinAlgError, match="linalg.inv: The diagonal element 2 is zero"):
        LA.inv(torch.tensor([[1.0, 2.0], [2.0, 4.0]], device="cuda"))
