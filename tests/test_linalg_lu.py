"""The LU family (linalg.lu / lu_factor / lu_factor_ex / lu_solve, torch.lu_unpack, torch.lu, torch.lu_solve),
Householder products (linalg.householder_product, torch.orgqr, torch.geqrf), torch.triangular_solve and
linalg.ldl_factor / ldl_factor_ex / ldl_solve: reconstructions and solves against numpy, factors and pivots
against literals computed with PyTorch (LAPACK), gradients against finite differences, PyTorch's errors."""

from __future__ import annotations

import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck

LA = torch.linalg
RNG = np.random.default_rng(11)
DTYPES = [np.float32, np.float64]
TDTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def rand(*shape: int, dtype=np.float64) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


def T(a, dtype=np.float64) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=dtype), dtype=TDTYPE[dtype])


def leaf(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64).requires_grad_(True)


def N(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def close(t: torch.Tensor, ref, dtype=np.float64) -> None:
    tol = 2e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(N(t), ref, rtol=tol, atol=tol)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# literals from PyTorch 2.x (LAPACK getrf) for these inputs
A_BATCH = [[[2.0, -1, 0, 3], [4, 1, -2, 1], [-6, 2, 5, 0], [1, 1, 1, 1]],
           [[0.0, 1, 2, 3], [1, 0, 1, 0], [3, 2, 1, 0], [0, 0, 0, 1]]]
A_BATCH_LU = [[[-6.0, 2.0, 5.0, 0.0], [-0.6666666667, 2.3333333333, 1.3333333333, 1.0],
               [-0.3333333333, -0.1428571429, 1.8571428571, 3.1428571429],
               [-0.1666666667, 0.5714285714, 0.5769230769, -1.3846153846]],
              [[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 3.0], [0.3333333333, -0.6666666667, 2.0, 2.0],
               [0.0, 0.0, 0.0, 1.0]]]
A_BATCH_PIVOTS = [[3, 2, 3, 4], [3, 3, 3, 4]]
WIDE = [[1.0, 2, 3, 4, 5], [0, 1, 0, -7, 2], [9, 3, 1, 0, 0]]
WIDE_PIVOTS, TALL_PIVOTS = [3, 3, 3], [5, 4, 5]  # WIDE and WIDE transposed
SINGULAR = [[1.0, 2, 3], [2, 4, 6], [7, 8, 9]]
SINGULAR_LU = [[7.0, 8.0, 9.0], [0.2857142857, 1.7142857143, 3.4285714286], [0.1428571429, 0.5, 0.0]]
LU_MSG = ("U[3,3] is zero and using it on lu_solve would result in a division by zero. If you still want to "
          "perform the factorization, consider calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


# ---- lu_factor / lu_factor_ex / lu ---------------------------------------------------------------------------


def test_lu_factor_matches_lapack_literals():
    LU, piv = LA.lu_factor(T(A_BATCH))
    np.testing.assert_allclose(N(LU), A_BATCH_LU, atol=1e-9)
    assert piv.dtype == torch.int32 and N(piv).tolist() == A_BATCH_PIVOTS
    assert N(LA.lu_factor(T(WIDE))[1]).tolist() == WIDE_PIVOTS
    assert N(LA.lu_factor(T(WIDE).mT)[1]).tolist() == TALL_PIVOTS


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (3, 2, 5, 5), (6, 3), (2, 3, 6), (1, 1), (0, 0), (2, 0, 3)])
def test_lu_reconstructs(shape, dtype):
    a = rand(*shape, dtype=dtype)
    P, L, U = LA.lu(T(a, dtype))
    m, n = shape[-2:]
    k = min(m, n)
    assert tuple(P.shape) == shape[:-2] + (m, m) and tuple(L.shape) == shape[:-2] + (m, k)
    assert tuple(U.shape) == shape[:-2] + (k, n) and L.dtype == TDTYPE[dtype]
    close(P @ L @ U, a, dtype)
    p, lo, up = N(P), N(L), N(U)
    np.testing.assert_array_equal(lo, np.tril(lo))
    np.testing.assert_array_equal(up, np.triu(up))
    np.testing.assert_array_equal(np.diagonal(lo, axis1=-2, axis2=-1), np.ones(shape[:-2] + (k,)))
    np.testing.assert_array_equal(p @ np.swapaxes(p, -1, -2), np.broadcast_to(np.eye(m), p.shape))
    assert np.abs(lo).max(initial=0) <= 1 + 1e-6  # partial pivoting bounds the multipliers


def test_lu_factor_ex_info_and_named_fields():
    r = LA.lu_factor_ex(T(np.stack([np.eye(3), SINGULAR])))
    assert r._fields == ("LU", "pivots", "info")
    assert N(r.info).tolist() == [0, 3] and r.info.dtype == torch.int32
    np.testing.assert_allclose(N(r.LU)[1], SINGULAR_LU, atol=1e-9)
    assert N(r.pivots)[1].tolist() == [3, 2, 3]
    z = LA.lu_factor_ex(torch.zeros(2, 3))  # a zero column: no swap, info at the first one
    assert N(z.pivots).tolist() == [1, 2] and int(z.info) == 1
    P, L, U = LA.lu(T(SINGULAR))  # linalg.lu does not raise
    close(P @ L @ U, np.array(SINGULAR))


def test_lu_factor_singular_raises():
    with pytest.raises(LA.LinAlgError, match=r"^torch\.linalg\.lu_factor: " + LU_MSG.replace("[", r"\[")
                       .replace("]", r"\]").replace("(", r"\(").replace(")", r"\)") + "$"):
        LA.lu_factor(T(SINGULAR))
    with pytest.raises(RuntimeError, match=r"^torch\.linalg\.lu_factor: \(Batch element 1\): U\[3,3\] is zero"):
        LA.lu_factor(T(np.stack([np.eye(3), SINGULAR])))
    with pytest.raises(RuntimeError, match=r"^torch\.linalg\.lu_factor_ex: U\[3,3\] is zero"):
        LA.lu_factor_ex(T(SINGULAR), check_errors=True)


def test_lu_factor_errors():
    with pytest.raises(RuntimeError, match=r"^torch\.lu_factor: Expected tensor with 2 or more dimensions\. "
                       r"Got size: \[3\] instead$"):
        LA.lu_factor(torch.ones(3))
    with pytest.raises(RuntimeError, match=r"^linalg\.lu: Expected tensor with 2 or more dimensions"):
        LA.lu(torch.ones(2))
    with pytest.raises(NotImplementedError, match="^\"lu_cpu\" not implemented for 'Long'$"):
        LA.lu_factor(torch.ones(3, 3, dtype=torch.int64))
    with pytest.raises(NotImplementedError, match="^\"lu_cpu\" not implemented for 'Half'$"):
        LA.lu(torch.ones(3, 3, dtype=torch.float16))
    with pytest.raises(RuntimeError, match="^linalg.lu_factor: LU without pivoting is not implemented on the CPU$"):
        LA.lu(torch.ones(3, 3), pivot=False)
    with pytest.raises(TypeError, match=r"^linalg_lu_factor\(\): argument 'A' \(position 1\) must be Tensor, "
                       "not list$"):
        LA.lu_factor([[1.0]])


def test_torch_lu_legacy():
    a = rand(2, 4, 4)
    torch.linalg._warned.discard("lu")  # the warning is once per process
    with pytest.warns(UserWarning, match="torch.lu is deprecated in favor of torch.linalg.lu_factor"):
        LU, piv = torch.lu(T(a))
    ref_LU, ref_piv = LA.lu_factor(T(a))
    close(LU, N(ref_LU))
    assert N(piv).tolist() == N(ref_piv).tolist()
    LU2, piv2, info = quiet(torch.lu, T(SINGULAR), get_infos=True)  # never raises
    assert int(info) == 3 and N(piv2).tolist() == [3, 2, 3]
    np.testing.assert_allclose(N(LU2), SINGULAR_LU, atol=1e-9)
    assert quiet(T(a).lu)[1].dtype == torch.int32


# ---- lu_unpack ------------------------------------------------------------------------------------------------


def test_lu_unpack():
    LU, piv = LA.lu_factor(T(A_BATCH))
    P, L, U = torch.lu_unpack(LU, piv)
    close(P @ L @ U, np.array(A_BATCH))
    P0, L0, U0 = torch.lu_unpack(LU, piv, unpack_data=False)
    close(P0, N(P))
    assert tuple(L0.shape) == (0,) and tuple(U0.shape) == (0,)
    P1, L1, U1 = torch.lu_unpack(LU, piv, unpack_pivots=False)
    assert tuple(P1.shape) == (0,)
    close(L1, N(L))
    close(U1, N(U))
    # pivots [1, 1] on a 2 x 3 LU: the second row was swapped with the first
    P2, L2, U2 = torch.lu_unpack(torch.ones(2, 3), torch.ones(2, dtype=torch.int32))
    np.testing.assert_array_equal(N(P2), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(N(L2), [[1, 0], [1, 1]])
    np.testing.assert_array_equal(N(U2), [[1, 1, 1], [0, 1, 1]])


def test_lu_unpack_errors():
    LU, piv = LA.lu_factor(T(SINGULAR) + torch.eye(3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match=r"^torch\.lu_unpack: LU_pivots is expected to be a contiguous tensor "
                       "of torch.int32 dtype"):
        torch.lu_unpack(LU, piv.long())
    with pytest.raises(ValueError, match=r"^Expected LU_pivots to have shape \[3\] but got \[2\] instead\.$"):
        torch.lu_unpack(LU, piv[:2])
    with pytest.raises(RuntimeError, match=r"^pivots passed to lu_unpack must be between 1 and LU\.size\(-2\) "
                       r"inclusive\.Did you properly pass the result of lu_factor\?$"):
        torch.lu_unpack(LU, piv + 5)
    with pytest.raises(RuntimeError, match=r"^torch\.lu_unpack: Expected tensor with 2 or more dimensions"):
        torch.lu_unpack(LU[0], piv)


# ---- lu_solve -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [False, True])
def test_lu_solve_against_numpy(left, adjoint, dtype):
    a = rand(2, 4, 4) + 4 * np.eye(4)
    b = rand(3, 1, 4, 2) if left else rand(3, 1, 2, 4)  # batch dims broadcast
    LU, piv = LA.lu_factor(T(a, dtype))
    X = LA.lu_solve(LU, piv, T(b, dtype), left=left, adjoint=adjoint)
    op = np.swapaxes(a, -1, -2) if adjoint else a
    if left:
        ref = np.linalg.solve(op, b)
    else:  # X op = B
        ref = np.swapaxes(np.linalg.solve(np.swapaxes(op, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
    assert X.dtype == TDTYPE[dtype]
    close(X, ref, dtype)


def test_torch_lu_solve_legacy_and_method():
    a, b = rand(4, 4) + 4 * np.eye(4), rand(2, 4, 3)
    LU, piv = LA.lu_factor(T(a))
    ref = np.linalg.solve(a, b)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        torch.linalg._warned.discard("lu_solve")
        close(torch.lu_solve(T(b), LU, piv), ref)
    assert any("torch.lu_solve is deprecated" in str(x.message) for x in w)
    close(quiet(T(b).lu_solve, LU, piv), ref)


def test_lu_solve_errors():
    LU, piv = LA.lu_factor(T(SINGULAR) + 3 * torch.eye(3, dtype=torch.float64))
    B = T(rand(3, 2))
    with pytest.raises(RuntimeError, match=r"^linalg\.lu_solve: The input tensor B must have at least 2 "):
        LA.lu_solve(LU, piv, B[:, 0])
    with pytest.raises(RuntimeError, match="^linalg.lu_solve: Expected LU and B to have the same dtype, but found "
                       "LU of type Double and B of type Float instead$"):
        LA.lu_solve(LU, piv, B.float())
    with pytest.raises(RuntimeError, match="^linalg.lu_solve: pivots should be a Tensor of scalar type "
                       "torch.int32$"):
        LA.lu_solve(LU, piv.long(), B)
    with pytest.raises(RuntimeError, match=r"^linalg\.lu_solve: Incompatible shapes of A and B for the equation "
                       r"AX = B \(3x3 and 2x2\)$"):
        LA.lu_solve(LU, piv, B[:2])
    with pytest.raises(RuntimeError, match=r"equation XA = B \(3x3 and 3x2\)$"):
        LA.lu_solve(LU, piv, B, left=False)
    with pytest.raises(RuntimeError, match="^torch.linalg.lu_solve: A must be batches of square matrices, but "
                       "they are 2 by 3 matrices$"):
        LA.lu_solve(LU[:2], piv, B)
    with pytest.raises(RuntimeError, match="^linalg.lu_solve: Number of pivots per batch should be same as the "
                       "dimension of the matrix$"):
        LA.lu_solve(LU, piv[:2], B)
    with pytest.raises(RuntimeError, match=r"^linalg\.lu_solve: Expected LU\.shape\[:-1\] and pivots\.shape to "
                       r"be the same, but got pivots with shape \[2, 3\] instead$"):
        LA.lu_solve(LU, piv.expand(2, 3), B)
    with pytest.raises(NotImplementedError, match="^torch.linalg.lu_solve: Expected a floating point or complex "
                       "tensor as input. Got Long$"):
        LA.lu_solve(LU.long(), piv, B.long())


# ---- gradients ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3, 3), (4, 3), (3, 4)])
def test_lu_gradcheck(shape):
    x = leaf(rand(*shape))
    assert gradcheck(lambda t: LA.lu(t)[1:], (x,))
    assert gradcheck(lambda t: LA.lu_factor(t)[0], (x,))


def test_lu_gradient_literal():
    # d/dA sum(U) and sum(L) of A = [[1, 2], [3, 4]] (P swaps the rows): from PyTorch
    x = leaf(np.array([[1.0, 2], [3, 4]]))
    LA.lu(x).U.sum().backward()
    np.testing.assert_allclose(N(x.grad), [[-4 / 3, 1], [13 / 9, 2 / 3]], atol=1e-12)
    x = leaf(np.array([[1.0, 2], [3, 4]]))
    LA.lu(x).L.sum().backward()
    np.testing.assert_allclose(N(x.grad), [[1 / 3, 0], [-1 / 9, 0]], atol=1e-12)


@pytest.mark.parametrize("left,adjoint", [(True, False), (True, True), (False, False), (False, True)])
def test_lu_solve_gradcheck(left, adjoint):
    a = rand(2, 3, 3) + 3 * np.eye(3)
    b = rand(2, 3, 2) if left else rand(2, 2, 3)
    LU0, piv = LA.lu_factor(T(a))
    assert gradcheck(lambda lu, bb: LA.lu_solve(lu, piv, bb, left=left, adjoint=adjoint),
                     (leaf(N(LU0)), leaf(b)))
    # and through the factorization, back to A
    assert gradcheck(lambda aa, bb: LA.lu_solve(*LA.lu_factor(aa), bb, left=left, adjoint=adjoint),
                     (leaf(a), leaf(b)))


# ---- triangular_solve -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("unitriangular", [False, True])
def test_triangular_solve(upper, transpose, unitriangular):
    a, b = rand(2, 4, 4) + 4 * np.eye(4), rand(3, 1, 4, 2)
    t = np.triu(a) if upper else np.tril(a)
    if unitriangular:
        t = t - np.diagonal(t, axis1=-2, axis2=-1)[..., None] * np.eye(4) + np.eye(4)
    op = np.swapaxes(t, -1, -2) if transpose else t
    X, Ac = quiet(torch.triangular_solve, T(b), T(a), upper, transpose, unitriangular)
    close(X, np.linalg.solve(op, b))
    close(Ac, np.broadcast_to(a, (3, 2, 4, 4)))
    assert gradcheck(lambda bb, aa: quiet(torch.triangular_solve, bb, aa, upper, transpose, unitriangular),
                     (leaf(b[:1, 0]), leaf(a[:1])))


def test_triangular_solve_method_fields_and_warning():
    a, b = rand(3, 3) + 3 * np.eye(3), rand(3, 2)
    torch.linalg._warned.discard("triangular_solve")
    with pytest.warns(UserWarning, match="torch.triangular_solve is deprecated in favor of "
                      "torch.linalg.solve_triangular"):
        r = T(b).triangular_solve(T(a), upper=False)
    assert r._fields == ("solution", "cloned_coefficient")
    close(r.solution, np.linalg.solve(np.tril(a), b))


def test_triangular_solve_errors():
    A, B = T(rand(3, 3)), T(rand(3, 2))
    with pytest.raises(RuntimeError, match="^torch.triangular_solve: Expected b to have at least 2 dimensions, "
                       "but it has 1 dimensions instead$"):
        quiet(torch.triangular_solve, B[:, 0], A)
    with pytest.raises(RuntimeError, match="^Expected b and A to have the same dtype, but found b of type Float "
                       "and A of type Double instead.$"):
        quiet(torch.triangular_solve, B.float(), A)
    with pytest.raises(RuntimeError, match="^Incompatible matrix sizes for triangular_solve: each A matrix is 3 "
                       "by 3 but each b matrix is 2 by 2$"):
        quiet(torch.triangular_solve, B[:2], A)
    with pytest.raises(RuntimeError, match="^A must be batches of square matrices, but they are 2 by 3 "
                       "matrices$"):
        quiet(torch.triangular_solve, B, A[:2])
    with pytest.raises(NotImplementedError, match="^\"triangular_solve_cpu\" not implemented for 'Long'$"):
        quiet(torch.triangular_solve, B.long(), A.long())


# ---- geqrf / householder_product / orgqr ----------------------------------------------------------------------


GEQRF_IN = [[1.0, 2, 3], [4, 5, 6], [7, 8, 10], [1, 0, 1]]
GEQRF_A = [[-8.1853527719, -9.5292166598, -11.9726055469], [0.4354759256, 1.4812257933, 1.2897748404],
           [0.7620828697, 0.5234749017, 0.9965928351], [0.1088689814, 0.8357118408, -0.6047182321]]
GEQRF_TAU = [1.1221694444, 1.0139724113, 1.4644674717]


def test_geqrf_literal_and_householder_product():
    a, tau = torch.geqrf(T(GEQRF_IN))
    np.testing.assert_allclose(N(a), GEQRF_A, atol=1e-9)
    np.testing.assert_allclose(N(tau), GEQRF_TAU, atol=1e-9)
    Q = LA.householder_product(a, tau)
    close(Q @ a.triu()[:3], np.array(GEQRF_IN))
    close(Q.mT @ Q, np.eye(3))
    close(torch.orgqr(a, tau), N(Q))
    close(a.orgqr(tau), N(Q))
    assert torch.geqrf(T(GEQRF_IN))._fields == ("a", "tau")


@pytest.mark.parametrize("dtype", DTYPES)
def test_householder_product_batched(dtype):
    m = rand(2, 5, 3, dtype=dtype)
    a, tau = T(m, dtype).geqrf()
    assert tuple(a.shape) == (2, 5, 3) and tuple(tau.shape) == (2, 3) and a.dtype == TDTYPE[dtype]
    Q = LA.householder_product(a, tau)
    close(Q @ a.triu()[:, :3], m, dtype)
    # fewer reflectors than columns: the product of the first two only, against explicit reflectors
    v = np.tril(N(a), -1) + np.eye(5, 3)
    t = N(tau)
    ref = np.stack([(np.eye(5) - t[i, 0] * np.outer(v[i, :, 0], v[i, :, 0]))
                    @ (np.eye(5) - t[i, 1] * np.outer(v[i, :, 1], v[i, :, 1])) for i in range(2)])[..., :3]
    close(LA.householder_product(a, tau[:, :2]), ref, dtype)
    close(LA.householder_product(a, tau[:, :0]), np.broadcast_to(np.eye(5, 3), (2, 5, 3)), dtype)


def test_householder_product_gradcheck():
    assert gradcheck(LA.householder_product, (leaf(rand(2, 4, 3)), leaf(rand(2, 2))))


def test_householder_geqrf_errors():
    a, tau = T(rand(4, 3)), T(rand(3))
    api = r"^torch\.linalg\.householder_product: "
    with pytest.raises(RuntimeError, match=api + "input must have at least 2 dimensions.$"):
        LA.householder_product(a[0], tau)
    with pytest.raises(RuntimeError, match=api + r"input.shape\[-2\] must be greater than or equal to "
                       r"input.shape\[-1\]$"):
        LA.householder_product(a.mT, tau)
    with pytest.raises(RuntimeError, match=api + r"input.shape\[-1\] must be greater than or equal to "
                       r"tau.shape\[-1\]$"):
        LA.householder_product(a, T(rand(4)))
    with pytest.raises(RuntimeError, match=api + "Expected tau to have one dimension less than input, but got "
                       "tau.ndim equal to 1 and input.ndim is equal to 3$"):
        LA.householder_product(a.expand(2, 4, 3), tau)
    with pytest.raises(RuntimeError, match=api + r"Expected batch dimensions of tau to be equal to "
                       r"input.shape\[:-2\], but got \[3\]$"):
        LA.householder_product(a.expand(2, 4, 3), tau.expand(3, 3))
    with pytest.raises(RuntimeError, match=api + "tau dtype Float does not match input dtype Double$"):
        LA.householder_product(a, tau.float())
    with pytest.raises(RuntimeError, match="^torch.geqrf: input must have at least 2 dimensions.$"):
        torch.geqrf(torch.ones(3))
    with pytest.raises(NotImplementedError, match="^\"geqrf_cpu\" not implemented for 'Long'$"):
        torch.geqrf(torch.ones(3, 2, dtype=torch.int64))
    x = leaf(rand(4, 3))
    with pytest.raises(NotImplementedError, match="^the derivative for 'geqrf' is not implemented.$"):
        torch.geqrf(x)[0].sum().backward()


# ---- LDL^T ----------------------------------------------------------------------------------------------------


LDL_IN = [[1.0, 4, 0, 2, -1], [4, 0, 3, 1, 2], [0, 3, -2, 5, 1], [2, 1, 5, 0, 3], [-1, 2, 1, 3, 1]]
LDL_LD = [[1.0, 0, 0, 0, 0], [4.0, 0, 0, 0, 0], [0.75, -0.1875, -1.4375, 0, 0],
          [0.25, 0.4375, 3.6875, -0.9375, 0], [0.5, -0.375, 0.8775510204, 0.9183673469, -1.7959183673]]


def test_ldl_factor_literals():
    LD, piv = LA.ldl_factor(T(LDL_IN))
    np.testing.assert_allclose(N(LD), LDL_LD, atol=1e-9)
    assert piv.dtype == torch.int32 and N(piv).tolist() == [-2, -2, -4, -4, 5]  # two 2x2 blocks, then 1x1
    LD2, piv2 = LA.ldl_factor(T([[0.0, 1, 2], [1, 0, 3], [2, 3, 0]]), hermitian=True)
    np.testing.assert_allclose(N(LD2), [[0, 0, 0], [2, 0, 0], [1.5, 0.5, -3]], atol=1e-12)
    assert N(piv2).tolist() == [-3, -3, 3]


@pytest.mark.parametrize("dtype", DTYPES)
def test_ldl_solve_against_numpy(dtype):
    x = rand(3, 6, 6)
    a = x + np.swapaxes(x, -1, -2)
    a[1, np.arange(6), np.arange(6)] = 0  # zero diagonal: forces 2x2 blocks
    b = rand(2, 1, 6, 3)
    LD, piv = LA.ldl_factor(T(a, dtype))
    r = LA.ldl_factor_ex(T(a, dtype))
    assert r._fields == ("LD", "pivots", "info") and N(r.info).tolist() == [0, 0, 0]
    assert (N(piv)[1] < 0).any()
    X = LA.ldl_solve(LD, piv, T(b, dtype))
    assert tuple(X.shape) == (2, 3, 6, 3)
    close(X, np.linalg.solve(a, b), dtype)


def test_ldl_singular_and_errors():
    r = LA.ldl_factor_ex(torch.zeros(3, 3))
    assert N(r.pivots).tolist() == [1, 2, 3] and int(r.info) == 1
    with pytest.raises(RuntimeError, match=r"^torch\.linalg\.ldl_factor: .*D\[1,1\] is zero"):
        LA.ldl_factor(torch.zeros(3, 3))
    with pytest.raises(RuntimeError, match="^torch.linalg.ldl_factor_ex: A must be batches of square matrices, "
                       "but they are 3 by 2 matrices$"):
        LA.ldl_factor(torch.zeros(3, 2))
    with pytest.raises(NotImplementedError, match="^torch.linalg.ldl_factor_ex: Expected a floating point or "
                       "complex tensor as input. Got Long$"):
        LA.ldl_factor(torch.zeros(3, 3, dtype=torch.int64))
    LD, piv = LA.ldl_factor(T(LDL_IN))
    with pytest.raises(RuntimeError, match=r"^torch\.linalg\.ldl_solve: Expected LD\.shape\[:-1\] and "
                       r"pivots\.shape to be the same, but got pivots with shape \[2\] instead$"):
        LA.ldl_solve(LD, piv[:2], T(rand(5, 1)))
    with pytest.raises(RuntimeError, match="^torch.linalg.ldl_solve: Expected pivots to be integers. Got Float$"):
        LA.ldl_solve(LD, piv.float(), T(rand(5, 1)))
    with pytest.raises(RuntimeError, match="^Incompatible matrix sizes for torch.linalg.ldl_solve: each A matrix "
                       "is 5 by 5 but each b matrix is 2 by 2$"):
        LA.ldl_solve(LD, piv, T(rand(2, 2)))
    with pytest.raises(RuntimeError, match="^derivative for aten::linalg_ldl_factor_ex is not implemented$"):
        LA.ldl_factor(leaf(np.array(LDL_IN)))[0].sum().backward()


def test_tensor_methods_exist():
    for name in ("lu", "lu_solve", "triangular_solve", "orgqr", "geqrf"):
        assert callable(getattr(torch.Tensor, name))
    for name in ("lu", "lu_solve", "lu_unpack", "triangular_solve", "orgqr", "geqrf"):
        assert callable(getattr(torch, name))
