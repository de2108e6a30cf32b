"""torch.gradient / histogramdd / lowrank / lobpcg / deprecated norms / removed linalg names / complex
accessors of real tensors / cond / while_loop, against numpy, hand-computed values and PyTorch 2.15's
outputs and messages pasted in as literals."""

import math
import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck

RNG = np.random.default_rng(0)


def T(a, dtype=torch.float64, requires_grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=dtype, requires_grad=requires_grad)


# ---- torch.gradient vs numpy.gradient ----

@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_uniform_matches_numpy(edge_order):
    a = RNG.standard_normal((4, 5, 3))
    got = torch.gradient(T(a), edge_order=edge_order)
    want = np.gradient(a, edge_order=edge_order)
    assert isinstance(got, tuple) and len(got) == 3
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, atol=1e-12)
    got = torch.gradient(T(a), spacing=[0.5, 2.0], dim=[0, 2], edge_order=edge_order)
    want = np.gradient(a, 0.5, 2.0, axis=(0, 2), edge_order=edge_order)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, atol=1e-12)
    (g,) = torch.gradient(T(a), spacing=3.0, dim=1, edge_order=edge_order)
    np.testing.assert_allclose(g.numpy(), np.gradient(a, 3.0, axis=1, edge_order=edge_order), atol=1e-12)


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_coordinates_match_numpy(edge_order):
    a = RNG.standard_normal((5, 4))
    x0 = np.array([0.0, 1.0, 1.5, 3.5, 4.0])
    x1 = np.array([-1.0, 0.0, 0.25, 2.0])
    got = torch.gradient(T(a), spacing=[T(x0), T(x1)], edge_order=edge_order)
    want = np.gradient(a, x0, x1, edge_order=edge_order)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, atol=1e-12)
    # PyTorch 2.15: torch.gradient(tensor([1,2,4,8,10.]), spacing=(coords,), edge_order=2)
    (g,) = torch.gradient(torch.tensor([1.0, 2, 4, 8, 10]), spacing=(torch.tensor(x0.tolist()),), edge_order=2)
    np.testing.assert_allclose(g.numpy(), [-1.0, 3.0, 3.6, 3.6, 4.4], atol=1e-5)


def test_gradient_dtypes_and_hand_values():
    (g,) = torch.gradient(torch.tensor([1, 2, 4]))
    assert g.dtype == torch.float32
    np.testing.assert_allclose(g.numpy(), [1.0, 1.5, 2.0])
    (g,) = torch.gradient(torch.tensor([1.0, 2, 4, 8, 10]).double(), spacing=torch.tensor(2.0))
    assert g.dtype == torch.float64
    np.testing.assert_allclose(g.numpy(), [0.5, 0.75, 1.5, 1.5, 1.0])
    assert torch.gradient(torch.tensor(3.0)) == ()


def test_gradient_errors():
    X = torch.ones(3, 4)
    with pytest.raises(RuntimeError, match=r"^torch.gradient only supports edge_order=1 and edge_order=2.$"):
        torch.gradient(X, edge_order=3)
    with pytest.raises(RuntimeError, match="expected each dimension size to be at least edge_order\\+1"):
        torch.gradient(torch.ones(2), edge_order=2)
    msg = ("torch.gradient expected spacing to be unspecified, a scalar, or a list of length equal to "
           "'self.dim() = 2', since dim argument was not given, but got a list of length 1")
    with pytest.raises(RuntimeError) as e:
        torch.gradient(X, spacing=[1.0])
    assert str(e.value) == msg
    with pytest.raises(RuntimeError, match="to have one dimension, but got an element with 0 dimensions!"):
        torch.gradient(X, spacing=[torch.tensor(2.0), torch.tensor(3.0)])
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        torch.gradient(X, dim=2)
    with pytest.raises(RuntimeError, match="dim 0 appears multiple times in the list of dims"):
        torch.gradient(X, dim=(0, 0))


def test_gradient_autograd():
    x = T(RNG.standard_normal((4, 3)), requires_grad=True)
    c = T([0.0, 0.5, 2.0, 2.5])
    assert gradcheck(lambda t: torch.gradient(t, edge_order=2), (x,))
    assert gradcheck(lambda t: torch.gradient(t, spacing=[c], dim=0), (x,))


# ---- torch.histogramdd vs numpy.histogramdd ----

def test_histogramdd_matches_numpy():
    pts = RNG.standard_normal((50, 3))
    w = RNG.random(50)
    for kw_t, kw_np in [
        ({"bins": 4}, {"bins": 4}),
        ({"bins": [2, 3, 5], "weight": T(w)}, {"bins": [2, 3, 5], "weights": w}),
        ({"bins": [3, 3, 2], "range": [-1.0, 1.0, -2.0, 0.5, 0.0, 3.0], "density": True},
         {"bins": [3, 3, 2], "range": [(-1, 1), (-2, 0.5), (0, 3)], "density": True}),
    ]:
        hist, edges = torch.histogramdd(T(pts), **kw_t)
        h_np, e_np = np.histogramdd(pts, **kw_np)
        np.testing.assert_allclose(hist.numpy(), h_np, atol=1e-12)
        assert isinstance(edges, tuple) and len(edges) == 3
        for e, en in zip(edges, e_np):
            np.testing.assert_allclose(e.numpy(), en, atol=1e-12)
    edges_in = [np.array([-3.0, -0.5, 0.0, 2.0]), np.array([-1.0, 1.0]), np.array([-2.0, 0.0, 0.5, 1.0, 3.0])]
    r = torch.histogramdd(T(pts), bins=[T(e) for e in edges_in], weight=T(w), density=True)
    h_np, _ = np.histogramdd(pts, bins=edges_in, weights=w, density=True)
    np.testing.assert_allclose(r.hist.numpy(), h_np, atol=1e-12)
    assert type(r).__name__ == "histogramdd"


def test_histogramdd_hand_values():
    x = torch.tensor([[0.0, 1], [1, 0], [2, 0], [2, 2]])
    # PyTorch 2.15
    h, e = torch.histogramdd(x, bins=[3, 3], weight=torch.tensor([1.0, 2, 4, 8]))
    np.testing.assert_allclose(h.numpy(), [[0, 1, 0], [2, 0, 0], [4, 0, 8]])
    np.testing.assert_allclose(e[0].numpy(), [0, 2 / 3, 4 / 3, 2], rtol=1e-6)
    h, e = torch.histogramdd(torch.zeros(3, 2), bins=2)  # a zero-width range widens to +-0.5
    np.testing.assert_allclose(h.numpy(), [[0, 0], [0, 3]])
    np.testing.assert_allclose(e[1].numpy(), [-0.5, 0.0, 0.5])
    h, _ = torch.histogramdd(x.reshape(2, 2, 2), bins=2, weight=torch.ones(2, 2))  # leading dims flatten
    np.testing.assert_allclose(h.numpy(), [[0, 1], [2, 1]])


def test_histogramdd_errors():
    x = torch.tensor([[0.0, 1], [1, 0], [2, 0], [2, 2]])
    cases = [
        ({"bins": [2]}, RuntimeError,
         "histogramdd: The size of bins must be equal to the innermost dimension of the input."),
        ({"bins": 2, "range": [0.0, 1.0]}, RuntimeError,
         "torch.histogramdd: for a 2-dimensional histogram range should have 4 elements, but got 2"),
        ({"bins": 2, "range": [1.0, 0.0, 0, 1]}, RuntimeError,
         "torch.histogramdd: min should not exceed max, but got min 1 max 0 for dimension 0"),
        ({"bins": 2, "weight": torch.ones(3)}, RuntimeError,
         ("torch.histogramdd: if weight tensor is provided it should have the same shape as the input tensor "
         "excluding its innermost dimension, but got input with shape [4, 2] and weight with shape [3]")),
        ({"bins": 2, "weight": torch.ones(4).int()}, RuntimeError,
         ("torch.histogramdd: if weight tensor is provided, input tensor and weight tensor should have the same "
         "dtype, but got input(float), and weight(int)")),
        ({"bins": 0}, RuntimeError, "torch.histogram(): bins must be > 0, but got 0 for dimension 0"),
        ({"bins": [torch.tensor([1.0, 0])]}, RuntimeError,
         "torch.histogramdd: expected 2 sequences of bin edges for a 2-dimensional histogram but got 1"),
        ({"bins": [torch.tensor([0, 1, 2]), torch.tensor([0.0, 3])]}, RuntimeError,
         ("torch.histogramdd: input tensor and bins tensors should have the same dtype, but got input with dtype "
         "float and bins for dimension 0 with dtype long int")),
        ({"bins": 2, "range": (0.0, math.inf, 0, 1)}, RuntimeError,
         "torch.histogramdd: dimension 0's range [0, inf] is not finite"),
    ]
    for kw, exc, msg in cases:
        with pytest.raises(exc) as e:
            torch.histogramdd(x, **kw)
        assert str(e.value) == msg
    with pytest.raises(RuntimeError, match="^torch.histogramdd: input tensor should have at least 2 dimensions$"):
        torch.histogramdd(x[0], bins=2)
    with pytest.raises(NotImplementedError, match="\"histogramdd\" not implemented for 'Int'"):
        torch.histogramdd(x.int(), bins=2)


# ---- deprecated norms ----

def test_frobenius_and_nuclear_norm():
    a = RNG.standard_normal((2, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(torch.frobenius_norm(T(a), (1, 2)).numpy(), np.linalg.norm(a, axis=(1, 2)))
        r = torch.frobenius_norm(T(a), [1, 2], True)
        assert tuple(r.shape) == (2, 1, 1)
        np.testing.assert_allclose(torch.frobenius_norm(T(a), 1).numpy(), np.linalg.norm(a, axis=1))
        np.testing.assert_allclose(torch.frobenius_norm(T(a), ()).item(), np.linalg.norm(a))
        nuc = np.linalg.norm(a, "nuc", axis=(1, 2))
        np.testing.assert_allclose(torch.nuclear_norm(T(a)).numpy(), nuc)
        np.testing.assert_allclose(torch.nuclear_norm(T(a), True).numpy(), nuc[:, None, None])
        np.testing.assert_allclose(torch.nuclear_norm(T(a), (0, 2), True).numpy()[0, :, 0],
                                   np.linalg.norm(a.transpose(1, 0, 2), "nuc", axis=(1, 2)))
        with pytest.raises(RuntimeError, match="^Expected at most 2 dimensions, but got 3 dimensions instead.$"):
            torch.frobenius_norm(T(a), (0, 1, 2))
        with pytest.raises(NotImplementedError, match="norm\\(\\): input dtype should be either floating point "
                                                      "or complex. Got Long instead."):
            torch.frobenius_norm(torch.ones(2, 2).long(), (0, 1))
        with pytest.raises(RuntimeError, match=r"linalg.matrix_norm: dims must be different. Got \(1, 1\)"):
            torch.nuclear_norm(T(a), 1)
        x = T(a[0], requires_grad=True)
        assert gradcheck(lambda t: torch.frobenius_norm(t, (0, 1)), (x,))
        assert gradcheck(lambda t: torch.nuclear_norm(t), (x,))


def test_norm_deprecation_warning():
    from ferrotorch import linalg

    linalg._warned.discard("frobenius_norm")
    with pytest.warns(UserWarning, match="at::frobenius_norm is deprecated"):
        torch.frobenius_norm(torch.ones(2, 2), (0, 1))


# ---- removed functions ----

def test_removed_linalg_functions_raise():
    A = torch.ones(3, 3)
    head = "This function was deprecated since version 1.9 and is now removed. "
    with pytest.raises(RuntimeError) as e:
        torch.matrix_rank(A, symmetric=True)
    assert str(e.value) == (head.rstrip() + "\nPlease use the `torch.linalg.matrix_rank` function instead. The "
                            "parameter 'symmetric' was renamed in `torch.linalg.matrix_rank()` to 'hermitian'.")
    for f in (lambda: torch.solve(A, A), lambda: A.solve(A)):
        with pytest.raises(RuntimeError) as e:
            f()
        assert str(e.value).startswith(head + "`torch.solve` is deprecated in favor of `torch.linalg.solve`.")
        assert str(e.value).endswith("X = torch.solve(B, A).solution should be replaced with:\n"
                                     "X = torch.linalg.solve(A, B)")
    for f in (lambda: torch.lstsq(A, A), lambda: A.lstsq(A)):
        with pytest.raises(RuntimeError) as e:
            f()
        assert str(e.value).startswith(head + "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n")
        assert str(e.value).endswith("should be replaced with:\nX = torch.linalg.lstsq(A, B).solution")
    for f in (lambda: torch.symeig(A, True), lambda: A.symeig(eigenvectors=True)):
        with pytest.raises(RuntimeError) as e:
            f()
        assert str(e.value).endswith("L, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')")
    for f in (lambda: torch.eig(A), lambda: A.eig(True)):
        with pytest.raises(RuntimeError) as e:
            f()
        assert str(e.value).endswith("L_complex, V_complex = torch.linalg.eig(A)")


# ---- randomized low-rank SVD / PCA, LOBPCG ----

def test_svd_and_pca_lowrank():
    torch.manual_seed(0)
    a = RNG.standard_normal((20, 4)) @ RNG.standard_normal((4, 15))  # rank 4
    U, S, V = torch.svd_lowrank(T(a), q=6)
    assert tuple(U.shape) == (20, 6) and tuple(S.shape) == (6,) and tuple(V.shape) == (15, 6)
    np.testing.assert_allclose(S.numpy()[:4], np.linalg.svd(a, compute_uv=False)[:4], rtol=1e-10)
    np.testing.assert_allclose((U.numpy() * S.numpy()) @ V.numpy().T, a, atol=1e-10)
    np.testing.assert_allclose(U.numpy().T @ U.numpy(), np.eye(6), atol=1e-10)
    # wide input and a mean M: the SVD of A - M
    U, S, V = torch.svd_lowrank(T(a.T), q=5, M=T(np.ones((15, 20))))
    np.testing.assert_allclose(S.numpy()[:5], np.linalg.svd(a.T - 1, compute_uv=False)[:5], rtol=1e-8)
    U, S, V = torch.pca_lowrank(T(a))
    assert tuple(S.shape) == (6,)
    np.testing.assert_allclose(S.numpy()[:4], np.linalg.svd(a - a.mean(0), compute_uv=False)[:4], rtol=1e-10)
    with pytest.raises(ValueError, match=r"^q\(=16\) must be non-negative integer and not greater than "
                                         r"min\(m, n\)=15$"):
        torch.pca_lowrank(T(a), q=16)
    with pytest.raises(ValueError, match=r"niter\(=-1\) must be non-negative integer"):
        torch.pca_lowrank(T(a), niter=-1)


def test_lowrank_gradcheck():
    a = T(RNG.standard_normal((6, 4)), requires_grad=True)

    def f(t):
        torch.manual_seed(1)  # the same random range finder in every evaluation
        return torch.svd_lowrank(t, q=4)[1]

    assert gradcheck(f, (a,))


def test_lobpcg():
    m = RNG.standard_normal((30, 30))
    A = m @ m.T
    torch.manual_seed(0)
    w = np.linalg.eigvalsh(A)
    E, X = torch.lobpcg(T(A), k=3)
    np.testing.assert_allclose(E.numpy(), w[::-1][:3], rtol=1e-6)
    np.testing.assert_allclose(A @ X.numpy(), X.numpy() * E.numpy(), atol=1e-4 * w[-1])
    E, X = torch.lobpcg(T(A), k=2, largest=False)
    np.testing.assert_allclose(E.numpy(), w[:2], rtol=1e-5, atol=1e-7)
    Bm = np.diag(np.linspace(1.0, 2.0, 30))
    Li = np.linalg.inv(np.linalg.cholesky(Bm))
    E, X = torch.lobpcg(T(A), k=2, B=T(Bm), X=T(RNG.standard_normal((30, 2))))
    np.testing.assert_allclose(E.numpy(), np.linalg.eigvalsh(Li @ A @ Li.T)[::-1][:2], rtol=1e-6)
    np.testing.assert_allclose(X.numpy().T @ Bm @ X.numpy(), np.eye(2), atol=1e-6)
    # eigenvalue gradients: dE_i/dA = x_i x_i^T
    At = T(A, requires_grad=True)
    E, X = torch.lobpcg(At, k=2)
    E.sum().backward()
    np.testing.assert_allclose(At.grad.numpy(), X.numpy() @ X.numpy().T, atol=1e-6)
    with pytest.raises(ValueError, match=r"^LOBPCG algorithm is not applicable when the number of A rows \(=5\) "
                                         r"is smaller than 3 x the number of requested eigenpairs \(=2\)$"):
        torch.lobpcg(torch.eye(5), k=2)


# ---- adjoint, mH, H and complex accessors of real tensors ----

def test_adjoint_and_views():
    a = torch.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(torch.adjoint(a).numpy(), a.numpy().transpose(0, 2, 1))
    np.testing.assert_array_equal(a.adjoint().numpy(), a.mH.numpy())
    np.testing.assert_array_equal(a[0].H.numpy(), a[0].numpy().T)
    for f, msg in [(lambda: torch.ones(3).adjoint(), ("tensor.adjoint() is only supported on matrices or batches "
                                                     "of matrices. Got 1-D tensor.")),
                   (lambda: torch.ones(3).mH, ("tensor.mH is only supported on matrices or batches of matrices. "
                                              "Got 1-D tensor.")),
                   (lambda: torch.ones(3).H, ("tensor.H is only supported on matrices (2-D tensors). Got 1-D "
                                             "tensor.")),
                   (lambda: a.H, ("tensor.H is only supported on matrices (2-D tensors). Got 3-D tensor. For "
                                 "batches of matrices, consider using tensor.mH"))]:
        with pytest.raises(RuntimeError) as e:
            f()
        assert str(e.value) == msg


def test_real_tensor_complex_accessors():
    x = torch.tensor([-2.0, 0.0, 3.0])
    assert torch.real(x) is x and x.real is x
    assert torch.conj(x) is x and x.conj() is x
    assert torch.conj_physical(x) is x and x.conj_physical_() is x and torch.conj_physical_(x) is x
    out = torch.empty(3)
    assert torch.conj_physical(x, out=out) is out
    np.testing.assert_array_equal(out.numpy(), x.numpy())
    assert torch.resolve_conj(x) is x and torch.resolve_neg(x) is x
    assert not torch.is_conj(x) and not torch.is_neg(x)
    for f in (lambda: torch.imag(x), lambda: x.imag):
        with pytest.raises(TypeError, match="^imag is not implemented for tensors with non-complex dtypes.$"):
            f()
    with pytest.raises(TypeError, match=r"real\(\): argument 'input' \(position 1\) must be Tensor, not int"):
        torch.real(3)


def test_angle():
    x = torch.tensor([-2.0, 0.0, -0.0, 3.0, math.nan, -math.inf, math.inf])
    r = torch.angle(x)
    assert r.dtype == torch.float32
    # PyTorch 2.15 (numpy differs at -0.0, giving pi)
    np.testing.assert_allclose(r.numpy(), [math.pi, 0, 0, 0, math.nan, math.pi, 0], rtol=1e-7)
    assert math.isnan(r[4].item())
    r = torch.angle(torch.tensor([-2, 0, 3]))
    assert r.dtype == torch.float32
    np.testing.assert_allclose(r.numpy(), [math.pi, 0, 0], rtol=1e-7)
    assert torch.angle(torch.tensor([True, False])).tolist() == [0.0, 0.0]
    assert torch.angle(torch.tensor([-1.0]).double()).dtype == torch.float64
    assert x.angle().shape == x.shape
    g = torch.tensor([-2.0, 1.0], requires_grad=True)
    torch.angle(g).sum().backward()
    assert g.grad.tolist() == [0.0, 0.0]


# ---- cond / while_loop ----

def test_cond():
    x = torch.ones(2)
    np.testing.assert_array_equal(torch.cond(True, lambda t: t + 1, lambda t: t - 1, (x,)).numpy(), [2, 2])
    np.testing.assert_array_equal(torch.cond(torch.tensor(False), lambda t: t + 1, lambda t: t - 1, [x]).numpy(),
                                  [0, 0])
    assert torch.cond(torch.tensor([3.0]), lambda: 1, lambda: 2) == 1
    with pytest.raises(RuntimeError, match=r"^Expected pred to be bool or single-element tensor, but got"):
        torch.cond(torch.tensor([1, 2]), lambda t: t, lambda t: t, (x,))
    with pytest.raises(RuntimeError, match=r"^Expected pred to be bool or tensor, but got a.$"):
        torch.cond("a", lambda t: t, lambda t: t, (x,))
    with pytest.raises(RuntimeError, match=r"^Expect both branches to be callable.$"):
        torch.cond(torch.tensor(True), 3, lambda t: t, (x,))
    with pytest.raises(RuntimeError, match="^Expect operands to be a tuple of possibly nested dict/list/tuple that "
                                           "only consists of tensor leaves, but got"):
        torch.cond(torch.tensor(True), lambda t, n: t, lambda t, n: t, (x, 3))


def test_while_loop():
    i, v = torch.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2), (torch.tensor(0), torch.ones(2)))
    assert i.item() == 3 and v.tolist() == [8.0, 8.0]
    x = torch.ones(2)
    i, v = torch.while_loop(lambda i, v: i > 3, lambda i, v: (i + 1, v * 2), (torch.tensor(0), x))
    assert v is not x and v.tolist() == [1.0, 1.0]  # the loop never ran: clones
    n, v = torch.while_loop(lambda n, v: n < 2, lambda n, v: (n + 1, v + 1), (0, x))
    assert n == 2 and v.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="^cond_fn must return a boolean scalar tensor or a boolean but got"):
        torch.while_loop(lambda i, v: (i < 3).int(), lambda i, v: (i + 1, v), (torch.tensor(0), x))
    with pytest.raises(RuntimeError, match="^Expect cond_fn and body_fn to be callable.$"):
        torch.while_loop(lambda i: i < 3, 5, (torch.tensor(0),))
    with pytest.raises(AssertionError, match="body_fn should return the same number of elements as carried_inputs, "
                                             "got 1 vs 2"):
        torch.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1,), (torch.tensor(0), x))
    with pytest.raises(AssertionError, match="can only be of"):
        torch.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v), (torch.tensor(0), 2.0))
    # differentiable through the unrolled iterations
    w = torch.tensor([1.5], requires_grad=True)
    _, y = torch.while_loop(lambda k, y: k < 3, lambda k, y: (k + 1, y * w), (0, torch.ones(1)))
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3 * 1.5 ** 2])
