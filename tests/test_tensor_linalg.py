"""matmul in every rank combination (with batch broadcasting), mm/bmm/mv/dot/outer/addmm and einsum, against numpy."""

import ferrotorch as torch
import numpy as np
import pytest

RNG = np.random.default_rng(5)


def rand(shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def close(t, e, dtype=np.float32):
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(t.numpy(), e, rtol=tol, atol=tol)


MATMUL_SHAPES = [
    ((5,), (5,)), ((3, 5), (5,)), ((5,), (5, 4)), ((3, 5), (5, 4)), ((2, 3, 5), (5, 4)), ((3, 5), (2, 5, 4)),
    ((2, 3, 5), (2, 5, 4)), ((2, 1, 3, 5), (4, 5, 2)), ((5,), (2, 5, 4)), ((2, 3, 5), (5,)),
    ((1, 3, 5), (6, 5, 4)), ((2, 2, 3, 5), (2, 2, 5, 4)), ((7, 1, 1, 5), (3, 5, 1)), ((1, 5), (5, 1)),
    ((0, 5), (5, 3)), ((3, 0), (0, 4)), ((2, 0, 5), (5, 2)), ((64, 33), (33, 65)), ((3, 129, 70), (70, 31)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES)
def test_matmul_ranks_and_broadcast(sa, sb, dtype):
    a, b = rand(sa, dtype), rand(sb, dtype)
    x, y = torch.tensor(a), torch.tensor(b)
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    r = torch.matmul(x, y)
    assert r.shape == ref.shape and r.dtype == x.dtype
    close(r, ref, dtype)
    close(x @ y, ref, dtype)
    close(x.matmul(y), ref, dtype)


@pytest.mark.parametrize("ta, tb", [(False, True), (True, False), (True, True)])
def test_matmul_non_contiguous(ta, tb):
    a, b = rand((6, 4)), rand((5, 6))
    x = torch.tensor(a).t() if ta else torch.tensor(a.T.copy())
    y = torch.tensor(b).t() if tb else torch.tensor(b.T.copy())
    close(x @ y, a.T.astype(np.float64) @ b.T.astype(np.float64))
    z = torch.tensor(rand((3, 8, 10)))
    w = torch.tensor(rand((3, 10, 8)))
    close(z[:, ::2, 1::2] @ w[:, ::2, ::2], z.numpy()[:, ::2, 1::2].astype(np.float64) @ w.numpy()[:, ::2, ::2])
    e = torch.tensor(rand((1, 5))).expand(4, 5)
    close(e @ torch.tensor(b[:, :5].T.copy()), e.numpy().astype(np.float64) @ b[:, :5].T)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.float16, torch.bfloat16])
def test_matmul_other_dtypes(dtype):
    a = RNG.integers(-3, 4, size=(4, 6))
    b = RNG.integers(-3, 4, size=(6, 3))
    r = torch.tensor(a).to(dtype) @ torch.tensor(b).to(dtype)
    assert r.dtype == dtype
    np.testing.assert_array_equal(r.float().numpy(), (a @ b).astype(np.float32))


def test_matmul_mixed_dtypes_raise():
    with pytest.raises(RuntimeError, match="expected .*same dtype|expected scalar type"):
        torch.ones(2, 3) @ torch.ones(3, 2, dtype=torch.float64)


@pytest.mark.parametrize("sa, sb, msg", [
    ((2, 3), (4, 5), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ((3,), (4,), r"inconsistent tensor size|size mismatch|3.*4"),
    ((2, 3, 4), (2, 5, 6), (r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] but got: "
                            r"\[2, 5\]|cannot be multiplied")),
    ((2, 3, 4), (3, 4, 6), (r"The size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton "
                            r"dimension 0")),
    ((3, 4), (5,), r"size mismatch, got input \(3\), mat \(3x4\), vec \(5\)"),
])
def test_matmul_shape_errors(sa, sb, msg):
    with pytest.raises(RuntimeError, match=msg):
        torch.ones(sa) @ torch.ones(sb)


def test_matmul_0d_raises():
    with pytest.raises(RuntimeError, match="both arguments to matmul need to be at least 1D"):
        torch.tensor(1.0) @ torch.ones(2)


def test_mm_bmm_mv_dot():
    a, b = rand((3, 4)), rand((4, 5))
    close(torch.mm(torch.tensor(a), torch.tensor(b)), a.astype(np.float64) @ b)
    close(torch.tensor(a).mm(torch.tensor(b)), a.astype(np.float64) @ b)
    ba, bb = rand((2, 3, 4)), rand((2, 4, 5))
    close(torch.bmm(torch.tensor(ba), torch.tensor(bb)), ba.astype(np.float64) @ bb)
    v = rand((4,))
    close(torch.mv(torch.tensor(a), torch.tensor(v)), a.astype(np.float64) @ v)
    close(torch.tensor(a).mv(torch.tensor(v)), a.astype(np.float64) @ v)
    w = rand((4,))
    d = torch.dot(torch.tensor(v), torch.tensor(w))
    assert d.shape == ()
    close(d, np.dot(v.astype(np.float64), w))
    assert torch.tensor([1, 2, 3]).dot(torch.tensor([4, 5, 6])).item() == 32


def test_mm_bmm_dot_errors():
    with pytest.raises(RuntimeError, match="self must be a matrix"):
        torch.mm(torch.ones(3), torch.ones(3, 2))
    with pytest.raises(RuntimeError, match="mat2 must be a matrix"):
        torch.mm(torch.ones(2, 3), torch.ones(3))
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        torch.bmm(torch.ones(2, 3), torch.ones(2, 3, 4))
    with pytest.raises(RuntimeError, match="1D tensors expected, but got 2D and 1D tensors"):
        torch.dot(torch.ones(2, 2), torch.ones(2))
    with pytest.raises(RuntimeError, match="inconsistent tensor size, expected tensor \\[3\\] and src \\[4\\]"):
        torch.dot(torch.ones(3), torch.ones(4))
    with pytest.raises(RuntimeError, match="dot : expected both vectors to have same dtype, but found Float and Double"):
        torch.dot(torch.ones(3), torch.ones(3, dtype=torch.float64))
    with pytest.raises(RuntimeError):
        torch.mv(torch.ones(2, 3), torch.ones(2))


def test_outer_and_ger():
    a, b = rand((3,)), rand((4,))
    close(torch.outer(torch.tensor(a), torch.tensor(b)), np.outer(a, b))
    close(torch.tensor(a).ger(torch.tensor(b)), np.outer(a, b))


@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, 2.0), (0, 1), (2, 0)])
def test_addmm(beta, alpha):
    m, a, b = rand((3, 5)), rand((3, 4)), rand((4, 5))
    ref = beta * m.astype(np.float64) + alpha * (a.astype(np.float64) @ b)
    close(torch.addmm(torch.tensor(m), torch.tensor(a), torch.tensor(b), beta=beta, alpha=alpha), ref)
    bias = rand((5,))
    close(torch.addmm(torch.tensor(bias), torch.tensor(a), torch.tensor(b)), bias + a.astype(np.float64) @ b)


def test_addmm_beta_zero_ignores_nan():
    m = torch.full((2, 2), float("nan"))
    r = torch.addmm(m, torch.eye(2), torch.eye(2), beta=0)
    np.testing.assert_array_equal(r.numpy(), np.eye(2))


EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("i,i->", [(5,), (5,)]),
    ("ij->ji", [(3, 4)]), ("ii->i", [(4, 4)]), ("ii", [(4, 4)]), ("i,j->ij", [(3,), (4,)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("ij,jk", [(3, 4), (4, 5)]), ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]), ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]), ("ijk->kji", [(2, 3, 4)]),
    ("i,ij,j->", [(3,), (3, 4), (4,)]), ("bn,anm,bm->ba", [(2, 3), (5, 3, 4), (2, 4)]), ("b i d, b j d -> b i j", [(2, 3, 4), (2, 5, 4)]),
    ("...i->...", [(2, 3, 4)]), ("iij->j", [(3, 3, 2)]),
]


@pytest.mark.parametrize("eq, shapes", EINSUM, ids=[e for e, _ in EINSUM])
def test_einsum(eq, shapes):
    arrs = [rand(s, np.float64) for s in shapes]
    ref = np.einsum(eq.replace(" ", ""), *arrs)
    r = torch.einsum(eq, *[torch.tensor(a) for a in arrs])
    assert r.shape == np.shape(ref)
    close(r, ref, np.float64)
    r2 = torch.einsum(eq, [torch.tensor(a) for a in arrs])
    close(r2, ref, np.float64)


def test_einsum_errors():
    with pytest.raises(RuntimeError):
        torch.einsum("ij,jk->ik", torch.ones(2, 3))
    with pytest.raises(RuntimeError):
        torch.einsum("ij,jk->ik", torch.ones(2, 3), torch.ones(4, 5))


def test_large_matmul_threads():
    a, b = rand((300, 257)), rand((257, 301))
    close(torch.tensor(a) @ torch.tensor(b), a.astype(np.float64) @ b)


def test_trace_diag_cdist():
    a = rand((4, 4), np.float64)
    assert abs(torch.trace(torch.tensor(a)).item() - np.trace(a)) < 1e-12
    close(torch.diag(torch.tensor(a)), np.diag(a), np.float64)
    close(torch.diag(torch.tensor(a), 1), np.diag(a, 1), np.float64)
    v = rand((3,), np.float64)
    close(torch.diag(torch.tensor(v)), np.diag(v), np.float64)
    close(torch.diag(torch.tensor(v), -1), np.diag(v, -1), np.float64)
    x, y = rand((3, 2), np.float64), rand((4, 2), np.float64)
    close(torch.cdist(torch.tensor(x), torch.tensor(y)), np.linalg.norm(x[:, None] - y[None], axis=-1), np.float64)


def test_baddbmm_and_addbmm_match_numpy() -> None:
    rng = np.random.default_rng(0)
    a, b1, b2 = (rng.standard_normal(s).astype(np.float32) for s in [(3, 2, 5), (3, 2, 4), (3, 4, 5)])
    got = torch.baddbmm(torch.tensor(a), torch.tensor(b1), torch.tensor(b2), beta=0.5, alpha=2.0)
    np.testing.assert_allclose(got.numpy(), 0.5 * a + 2 * b1 @ b2, rtol=1e-5, atol=1e-5)
    got = torch.tensor(a[0]).addbmm(torch.tensor(b1), torch.tensor(b2))
    np.testing.assert_allclose(got.numpy(), a[0] + (b1 @ b2).sum(0), rtol=1e-5, atol=1e-5)
    nan_in = torch.full((3, 2, 5), float("nan"))
    assert not torch.baddbmm(nan_in, torch.tensor(b1), torch.tensor(b2), beta=0).isnan().any()  # beta=0 ignores input


def test_index_add_out_of_place_leaves_input_alone() -> None:
    x = torch.zeros(4, 3)
    out = torch.index_add(x, 0, torch.tensor([0, 2, 0]), torch.ones(3, 3), alpha=2)
    assert out.tolist() == [[4.0] * 3, [0.0] * 3, [2.0] * 3, [0.0] * 3]
    assert x.sum().item() == 0.0
    assert x.index_add(1, torch.tensor([1]), torch.ones(4, 1)).sum(0).tolist() == [0.0, 4.0, 0.0]
