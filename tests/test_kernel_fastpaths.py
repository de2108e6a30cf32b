"""The vectorised CPU fast paths (contiguous elementwise loops, polynomial exp, lane-accumulator max/min/arg
reductions, GEMM without a zero-filled output) against numpy: odd lengths that are not multiples of the SIMD
width, lengths above the threading threshold, non-contiguous and broadcast operands, in-place forms, NaN."""

import ferrotorch as torch
import numpy as np
import pytest

# not multiples of 16 (the widest lane count), around the rayon threshold (1 << 15), and big
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

LENGTHS = [1, 3, 15, 16, 17, 31, 33, 1000, 32767, 32768, 32769, 100_003]


def _ulps(got: np.ndarray, want64: np.ndarray) -> np.ndarray:
    """Distance in f32 units in the last place to the exact value (computed in float64)."""
    want = want64.astype(np.float32)
    spacing = np.spacing(np.abs(want)).astype(np.float64)
    spacing[spacing == 0] = np.float64(np.spacing(np.float32(0)))
    diff = np.abs(got.astype(np.float64) - want64)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    return np.where(same, 0.0, diff / spacing)


def test_exp_f32_within_two_ulps_over_the_whole_range():
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.linspace(-110, 95, 200_001, dtype=np.float32),
        rng.uniform(-1, 1, 50_000).astype(np.float32),
        rng.uniform(-88, 88, 50_000).astype(np.float32),
        np.float32(10.0) ** rng.uniform(-45, 2, 20_000).astype(np.float32),
        -(np.float32(10.0) ** rng.uniform(-45, 2, 20_000).astype(np.float32)),
        np.array([0.0, -0.0, 1e-45, -1e-45, 88.72, 88.7228, 88.73, -87.33, -103.9, -103.98, -104, -150,
                  3e38, -3e38], dtype=np.float32),
    ])
    got = torch.tensor(x).exp().numpy()
    with np.errstate(over="ignore"):
        want = np.exp(x.astype(np.float64))
    finite = want <= np.finfo(np.float32).max
    assert np.all(np.isinf(got[~finite]) & (got[~finite] > 0))
    u = _ulps(got[finite], want[finite])
    assert u.max() <= 2.0, (x[finite][u.argmax()], u.max())


def test_exp_special_values():
    x = np.array([np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, 1000.0, -1000.0], dtype=np.float32)
    got = torch.tensor(x).exp().numpy()
    np.testing.assert_array_equal(got, np.exp(x))
    y = torch.tensor(x)
    y.exp_()
    np.testing.assert_array_equal(y.numpy(), np.exp(x))


@pytest.mark.parametrize("n", LENGTHS)
def test_exp_sigmoid_silu_lengths_and_in_place(n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 20).astype(np.float32)
    t = torch.tensor(x)
    np.testing.assert_allclose(t.exp().numpy(), np.exp(x), rtol=3e-7)
    sig = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(t.sigmoid().numpy(), sig, rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(torch.nn.functional.silu(t).numpy(), x * sig, rtol=1e-6, atol=1e-30)
    out = torch.empty(n)
    torch.exp(t, out=out)
    np.testing.assert_allclose(out.numpy(), np.exp(x), rtol=3e-7)
    t.exp_()
    np.testing.assert_allclose(t.numpy(), np.exp(x), rtol=3e-7)


def test_exp_non_contiguous_and_other_dtypes():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((37, 53)) * 10).astype(np.float32)
    t = torch.tensor(x)
    np.testing.assert_allclose(t.t().exp().numpy(), np.exp(x.T), rtol=3e-7)
    np.testing.assert_allclose(t[:, ::3].exp().numpy(), np.exp(x[:, ::3]), rtol=3e-7)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(torch.tensor(x64).exp().numpy(), np.exp(x64), rtol=1e-15)
    h = torch.tensor(x).to(torch.float16)
    np.testing.assert_allclose(h.exp().float().numpy(), np.exp(x.astype(np.float16).astype(np.float32))
                               .astype(np.float16).astype(np.float32), rtol=1e-3)


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_contiguous_scalar_and_in_place(n, op):
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n).astype(np.float32)
    b = (rng.standard_normal(n) + 3).astype(np.float32)
    f = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op]
    ta, tb = torch.tensor(a), torch.tensor(b)
    np.testing.assert_array_equal(getattr(ta, op)(tb).numpy(), f(a, b))
    np.testing.assert_array_equal(getattr(ta, op)(2.5).numpy(), f(a, np.float32(2.5)))
    np.testing.assert_array_equal(getattr(torch, op)(torch.tensor(np.float32(1.5)), tb).numpy(), f(np.float32(1.5), b))
    c = torch.tensor(a)
    getattr(c, op + "_")(tb)
    np.testing.assert_array_equal(c.numpy(), f(a, b))
    c = torch.tensor(a)
    getattr(c, op + "_")(0.75)
    np.testing.assert_array_equal(c.numpy(), f(a, np.float32(0.75)))
    # self-aliased in place: a (op)= a
    c = torch.tensor(b)
    getattr(c, op + "_")(c)
    np.testing.assert_array_equal(c.numpy(), f(b, b))


def test_binary_broadcast_non_contiguous_and_dtypes():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((33, 65)).astype(np.float32)
    row = rng.standard_normal(65).astype(np.float32)
    col = rng.standard_normal((33, 1)).astype(np.float32)
    ta = torch.tensor(a)
    np.testing.assert_array_equal((ta + torch.tensor(row)).numpy(), a + row)
    np.testing.assert_array_equal((ta * torch.tensor(col)).numpy(), a * col)
    np.testing.assert_array_equal((torch.tensor(col) - torch.tensor(row)).numpy(), col - row)
    np.testing.assert_array_equal((ta.t() + ta.t()).numpy(), a.T + a.T)
    np.testing.assert_array_equal((ta[:, 1::2] * ta[:, ::2][:, :32]).numpy(), a[:, 1::2] * a[:, ::2][:, :32])
    v = torch.tensor(a)
    v[:, ::2].mul_(torch.tensor(row[::2]))
    want = a.copy()
    want[:, ::2] *= row[::2]
    np.testing.assert_array_equal(v.numpy(), want)
    for dt, npdt in [(torch.float64, np.float64), (torch.int32, np.int32), (torch.int64, np.int64)]:
        x = (a * 100).astype(npdt)
        y = (col * 100).astype(npdt)
        np.testing.assert_array_equal((torch.tensor(x) + torch.tensor(y)).numpy(), x + y)
        np.testing.assert_array_equal((torch.tensor(x) * torch.tensor(y)).numpy(), x * y)
        assert (torch.tensor(x) + torch.tensor(y)).dtype == dt
    h = torch.tensor(a).to(torch.float16)
    np.testing.assert_array_equal((h + h).numpy(), a.astype(np.float16) + a.astype(np.float16))


@pytest.mark.parametrize("n", LENGTHS)
def test_max_min_arg_full_reductions(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(np.float32)
    t = torch.tensor(x)
    assert t.max().item() == x.max()
    assert t.min().item() == x.min()
    assert t.amax().item() == x.max()
    assert t.argmax().item() == x.argmax()
    assert t.argmin().item() == x.argmin()
    i = torch.tensor((x * 1000).astype(np.int64))
    assert i.max().item() == (x * 1000).astype(np.int64).max()
    assert i.argmin().item() == (x * 1000).astype(np.int64).argmin()
    # NaN anywhere wins, and its first position is the arg result
    for pos in {0, n // 2, n - 1}:
        y = x.copy()
        y[pos] = np.nan
        if n > 2:
            y[-1 if pos != n - 1 else 0] = np.nan
        ty = torch.tensor(y)
        assert np.isnan(ty.max().item()) and np.isnan(ty.min().item())
        assert ty.argmax().item() == np.argmax(y)
        assert ty.argmin().item() == np.argmin(y)


def test_max_ties_pick_the_first_index():
    x = np.array([1, 5, 2, 5, 5, -3, -3, 0] * 9, dtype=np.float32)
    t = torch.tensor(x)
    assert t.argmax().item() == 1
    assert t.argmin().item() == 5
    _values, idx = t.reshape(8, 9).max(dim=1)
    np.testing.assert_array_equal(idx.numpy(), x.reshape(8, 9).argmax(1))


@pytest.mark.parametrize("shape", [(7, 33), (33, 7), (3, 5, 17), (1, 40000), (40000, 1), (300, 301)])
def test_max_min_over_dims(shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[len(x.flat) // 3] = np.nan
    t = torch.tensor(x)
    for d in range(len(shape)):
        np.testing.assert_array_equal(t.amax(dim=d).numpy(), np.max(x, axis=d))
        np.testing.assert_array_equal(t.amin(dim=d, keepdim=True).numpy(), np.min(x, axis=d, keepdims=True))
        v, i = t.max(dim=d)
        np.testing.assert_array_equal(v.numpy(), np.max(x, axis=d))
        np.testing.assert_array_equal(i.numpy(), np.argmax(x, axis=d))
        v, i = t.min(dim=d, keepdim=True)
        np.testing.assert_array_equal(i.numpy(), np.argmin(x, axis=d)[..., None].reshape(v.shape))
    if len(shape) == 3:
        np.testing.assert_array_equal(t.amax(dim=(1, 2)).numpy(), np.max(x, axis=(1, 2)))
        np.testing.assert_array_equal(t.amax(dim=(0, 1)).numpy(), np.max(x, axis=(0, 1)))
        np.testing.assert_array_equal(t.amin(dim=(0, 2)).numpy(), np.min(x, axis=(0, 2)))
    # non-contiguous input goes through the strided path with the same answers
    if len(shape) == 2:
        np.testing.assert_array_equal(t.t().amax(dim=-1).numpy(), np.max(x.T, axis=-1))
        np.testing.assert_array_equal(t.t().argmax(dim=-1).numpy(), np.argmax(x.T, axis=-1))
    assert np.isnan(t.max().item())


def test_max_backward_still_splits_ties():
    x = torch.tensor([1.0, 3.0, 3.0, 2.0] * 5, requires_grad=True)
    x.max().backward()
    g = x.grad.numpy()
    assert g.sum() == pytest.approx(1.0)
    assert np.all(g[x.detach().numpy() == 3.0] == pytest.approx(0.1))


@pytest.mark.parametrize("n,k,m", [(1, 1, 1), (17, 33, 9), (64, 64, 64), (65, 129, 31), (256, 256, 256)])
def test_matmul_matches_numpy_with_strided_operands(n, k, m):
    rng = np.random.default_rng(n + k + m)
    a = rng.standard_normal((n, k)).astype(np.float32)
    b = rng.standard_normal((k, m)).astype(np.float32)
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = {"rtol": 1e-4, "atol": 1e-4 * np.sqrt(k)}
    np.testing.assert_allclose((torch.tensor(a) @ torch.tensor(b)).numpy(), want, **tol)
    np.testing.assert_allclose((torch.tensor(a.T.copy()).t() @ torch.tensor(b.T.copy()).t()).numpy(), want, **tol)
    # reusing freed (dirty) output buffers must not leak old values into the product
    for _ in range(3):
        junk = torch.full((n, m), float("nan"))
        del junk
        np.testing.assert_allclose((torch.tensor(a) @ torch.tensor(b)).numpy(), want, **tol)
    ba = np.stack([a, a * 2])
    np.testing.assert_allclose(torch.bmm(torch.tensor(ba), torch.tensor(np.stack([b, b]))).numpy(),
                               np.stack([want, want * 2]), **tol)
    assert (torch.zeros(n, 0) @ torch.zeros(0, m)).numpy().tolist() == np.zeros((n, m)).tolist()


def test_unary_out_writes_in_place_or_falls_back():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 12)).astype(np.float32)
    t = torch.tensor(x)
    out = torch.empty(8, 12)
    ptr = out.data_ptr()
    assert torch.exp(t, out=out) is out and out.data_ptr() == ptr
    np.testing.assert_allclose(out.numpy(), np.exp(x), rtol=3e-7)
    # a strided out view is written through
    big = torch.zeros(8, 24)
    torch.sigmoid(t, out=big[:, ::2])
    np.testing.assert_allclose(big.numpy()[:, ::2], 1 / (1 + np.exp(-x)), rtol=1e-6)
    assert np.all(big.numpy()[:, 1::2] == 0)
    # out aliasing the input exactly is in-place
    y = torch.tensor(x)
    torch.sqrt(y.abs(), out=y)
    torch.exp(y, out=y)
    np.testing.assert_allclose(y.numpy(), np.exp(np.sqrt(np.abs(x))), rtol=1e-6)
    # other dtypes and shapes take the compute-then-copy path
    d = torch.empty(8, 12, dtype=torch.float64)
    torch.exp(t, out=d)
    np.testing.assert_allclose(d.numpy(), np.exp(x), rtol=3e-7)
    e = torch.empty(0)
    torch.exp(t, out=e)
    assert e.shape == (8, 12)
    i = torch.arange(5)
    f = torch.empty(5)
    torch.exp(i, out=f)
    np.testing.assert_allclose(f.numpy(), np.exp(np.arange(5)), rtol=1e-6)


@pytest.mark.parametrize("n", LENGTHS + [1_000_003])
def test_f32_sum_is_close_to_the_float64_sum(n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) + 0.5).astype(np.float32)
    want = x.astype(np.float64).sum()
    got = torch.tensor(x).sum().item()
    assert abs(got - want) <= 1e-6 * np.abs(x).astype(np.float64).sum() + 1e-6
    m = x[: n - n % 7].reshape(-1, 7) if n >= 7 else x.reshape(1, -1)
    np.testing.assert_allclose(torch.tensor(m).sum(0).numpy(), m.astype(np.float64).sum(0), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(torch.tensor(m).sum(1).numpy(), m.astype(np.float64).sum(1), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dtype", ["uint8", "float16", "float32", "float64", "int64"])
@pytest.mark.parametrize("shape,perm", [
    ((8, 8), (1, 0)), ((33, 70), (1, 0)), ((300, 257), (1, 0)),  # the tile edges, and above the threading threshold
    ((3, 40, 9), (0, 2, 1)), ((40, 3, 9), (2, 1, 0)), ((5, 6, 7, 8), (0, 3, 2, 1)), ((2, 64, 48), (2, 0, 1)),
])
def test_transposed_copies_match_numpy(dtype, shape, perm):
    """contiguous() / clone() / copy_() out of a permuted view take the tiled transpose."""
    a = (np.arange(np.prod(shape)) % 251).astype(dtype).reshape(shape)
    want = np.ascontiguousarray(a.transpose(perm))
    view = torch.from_numpy(a).permute(*perm)
    np.testing.assert_array_equal(view.contiguous().numpy(), want)
    np.testing.assert_array_equal(view.clone().numpy(), want)
    dst = torch.empty(want.shape, dtype=view.dtype)
    dst.copy_(view)
    np.testing.assert_array_equal(dst.numpy(), want)


def test_transposed_copy_of_an_offset_strided_view():
    a = np.arange(60 * 50, dtype=np.float32).reshape(60, 50)
    view = torch.from_numpy(a)[5:47:2, 3:43].t()  # offset, row step 2, then transposed
    np.testing.assert_array_equal(view.contiguous().numpy(), np.ascontiguousarray(a[5:47:2, 3:43].T))
