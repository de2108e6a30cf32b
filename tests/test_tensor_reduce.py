"""Reductions, scans, sort/topk/unique against numpy: dims as int/tuple/negative, keepdim, dtypes, named tuples."""

import math

import ferrotorch as torch
import numpy as np
import pytest

RNG = np.random.default_rng(4)
DIMS = [None, 0, 1, -1, (0, 2), (-1, -2), (0, 1, 2), ()]


def rand(shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def close(t, e, tol=1e-5):
    np.testing.assert_allclose(t.numpy(), e, rtol=tol, atol=tol, equal_nan=True)


def np_dim(dim):
    if dim == ():
        return None  # PyTorch: an empty dim list reduces everything
    return dim


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("op, ref", [("sum", np.sum), ("mean", np.mean), ("prod", np.prod),
                                     ("amax", np.max), ("amin", np.min)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reduce_float(op, ref, dim, keepdim, dtype):
    if op == "prod" and (isinstance(dim, tuple) or (dim is None and keepdim)):
        pytest.skip("PyTorch's prod takes one int dim")
    a = rand((3, 4, 5), dtype)
    x = torch.tensor(a)
    if dim is None:
        r = getattr(x, op)() if not keepdim else getattr(x, op)(dim=tuple(range(3)), keepdim=True)
    else:
        r = getattr(x, op)(dim, keepdim=keepdim)
    e = ref(a.astype(np.float64), axis=np_dim(dim), keepdims=keepdim)
    assert r.dtype == x.dtype
    close(r, e, 1e-5 if dtype == np.float32 else 1e-12)
    close(getattr(torch, op)(x, dim, keepdim) if dim is not None else getattr(torch, op)(x), e if dim is not None
          else ref(a.astype(np.float64)), 1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype, out", [(torch.int64, torch.int64), (torch.int32, torch.int64),
                                        (torch.uint8, torch.int64), (torch.bool, torch.int64),
                                        (torch.int8, torch.int64), (torch.float16, torch.float16)])
def test_sum_prod_integer_promote_to_int64(dtype, out):
    a = RNG.integers(0, 3, size=(4, 5))
    x = torch.tensor(a).to(dtype)
    ref = a.astype(bool).astype(np.int64) if dtype == torch.bool else a
    assert x.sum().dtype == out and x.sum().item() == ref.sum()
    assert x.sum(1).dtype == out
    np.testing.assert_array_equal(x.sum(1).numpy(), ref.sum(1))
    assert x.prod(0).dtype == out
    np.testing.assert_array_equal(x.prod(0).numpy(), ref.prod(0))
    assert x.cumsum(0).dtype == out


def test_sum_dtype_argument_and_mean_int_error():
    x = torch.tensor([1, 2, 3])
    assert x.sum(dtype=torch.float64).dtype == torch.float64
    assert torch.sum(x, 0, dtype=torch.float32).item() == 6.0
    assert x.float().mean().item() == 2.0
    assert x.mean(dtype=torch.float64).item() == 2.0
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype.*Long"):
        x.mean()


def test_reduce_empty():
    e = torch.zeros(0, 3)
    assert e.sum().item() == 0.0
    assert e.sum(0).tolist() == [0.0, 0.0, 0.0]
    assert e.prod().item() == 1.0
    assert math.isnan(e.mean().item())
    assert e.sum(1).shape == (0,)
    with pytest.raises(RuntimeError, match="Expected reduction dim"):
        e.amax()
    with pytest.raises((RuntimeError, IndexError)):
        e.max(0)
    assert e.amax(1).shape == (0,)


def test_nan_propagates_in_max_min_sum():
    x = torch.tensor([1.0, float("nan"), 3.0])
    assert math.isnan(x.max().item()) and math.isnan(x.min().item()) and math.isnan(x.sum().item())
    assert math.isnan(x.amax(0).item())
    v, i = torch.tensor([[1.0, float("nan"), 3.0]]).max(1)
    assert math.isnan(v.item()) and i.item() == 1
    assert x.argmax().item() == 1


def test_large_float32_sum_accuracy():
    a = np.full(1 << 21, 0.1, np.float32)
    s = torch.tensor(a).sum().item()
    assert abs(s - 0.1 * (1 << 21)) / (0.1 * (1 << 21)) < 1e-5
    b = rand((513, 1031))
    close(torch.tensor(b).sum(0), b.astype(np.float64).sum(0), 1e-4)
    close(torch.tensor(b).sum(1), b.astype(np.float64).sum(1), 1e-4)
    close(torch.tensor(b).t().sum(1), b.astype(np.float64).sum(0), 1e-4)
    close(torch.tensor(b)[::2, 1::3].mean(), b[::2, 1::3].astype(np.float64).mean(), 1e-5)


def test_reduce_dim_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.amax(-3)
    with pytest.raises(RuntimeError, match="dim 1 appears multiple times in the list of dims"):
        x.sum((1, 1))


# ---------------------------------------------------------------------------- max/min with dim


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
@pytest.mark.parametrize("fn", ["max", "min"])
def test_max_min_dim_named_tuple(fn, dim, keepdim):
    a = rand((3, 4, 5))
    x = torch.tensor(a)
    r = getattr(x, fn)(dim, keepdim=keepdim)
    assert isinstance(r, tuple) and len(r) == 2
    values, indices = r
    assert r.values is values and r.indices is indices
    assert indices.dtype == torch.int64
    ref_v = (np.max if fn == "max" else np.min)(a, axis=dim, keepdims=keepdim)
    ref_i = (np.argmax if fn == "max" else np.argmin)(a, axis=dim)
    if keepdim:
        ref_i = np.expand_dims(ref_i, dim)
    close(values, ref_v)
    np.testing.assert_array_equal(indices.numpy(), ref_i)
    r2 = getattr(torch, fn)(x, dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(r2.indices.numpy(), ref_i)
    assert type(r).__name__ == fn
    assert repr(r).startswith(f"torch.return_types.{fn}(\nvalues=tensor(")
    assert "\nindices=tensor(" in repr(r)


def test_max_ties_pick_first_and_elementwise_form():
    x = torch.tensor([[1, 3, 3], [2, 2, 0]])
    v, i = x.max(1)
    assert v.tolist() == [3, 2] and i.tolist() == [1, 0]
    assert x.min(1).indices.tolist() == [0, 2]
    assert x.argmax(1).tolist() == [1, 0]
    assert x.argmax().item() == 1
    assert torch.max(x, torch.tensor([2, 2, 2])).tolist() == [[2, 3, 3], [2, 2, 2]]
    assert torch.min(x, torch.tensor([2, 2, 2])).tolist() == [[1, 2, 2], [2, 2, 0]]
    assert x.max().item() == 3 and x.max().dim() == 0


def test_max_repr_exact():
    r = torch.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1)
    assert repr(r) == "torch.return_types.max(\nvalues=tensor([5., 7.]),\nindices=tensor([1, 0]))"


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("fn", ["argmax", "argmin"])
def test_argmax_argmin(fn, dim, keepdim):
    a = rand((4, 6))
    x = torch.tensor(a)
    r = getattr(x, fn)(dim, keepdim)
    ref = getattr(np, fn)(a, axis=dim, keepdims=keepdim)
    assert r.dtype == torch.int64
    np.testing.assert_array_equal(r.numpy(), ref)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.uint8, torch.float16])
def test_max_min_other_dtypes(dtype):
    a = RNG.integers(0, 9, size=(3, 5))
    x = torch.tensor(a).to(dtype)
    ref = a.astype(bool) if dtype == torch.bool else a
    assert x.amax().dtype == dtype
    assert x.amax().item() == ref.max() and x.amin().item() == ref.min()
    np.testing.assert_array_equal(x.max(1).values.numpy(), ref.max(1).astype(x.max(1).values.numpy().dtype))
    if dtype != torch.bool:  # PyTorch has no argmin for bool
        np.testing.assert_array_equal(x.argmin(0).numpy(), ref.argmin(0))


def test_aminmax():
    x = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    r = torch.aminmax(x)
    assert r.min.item() == -2.0 and r.max.item() == 3.0
    r = x.aminmax(dim=0)
    assert r.min.tolist() == [1.0, -2.0] and r.max.tolist() == [3.0, 0.0]


# ---------------------------------------------------------------------------- std / var / norm / logsumexp


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("correction", [None, 0, 1, 2])
@pytest.mark.parametrize("fn", ["std", "var"])
def test_std_var(fn, dim, correction, keepdim):
    a = rand((3, 4, 5), np.float64)
    x = torch.tensor(a)
    ddof = 1 if correction is None else correction
    kwargs = {} if correction is None else {"correction": correction}
    r = getattr(x, fn)(dim, keepdim=keepdim, **kwargs)
    ref = getattr(np, fn)(a, axis=dim, ddof=ddof, keepdims=keepdim)
    close(r, ref, 1e-10)


def test_std_var_unbiased_forms():
    a = rand((6, 7), np.float64)
    x = torch.tensor(a)
    close(x.std(), a.std(ddof=1), 1e-10)
    close(x.std(unbiased=False), a.std(), 1e-10)
    close(x.var(False), a.var(), 1e-10)
    close(x.var(1, unbiased=False), a.var(1), 1e-10)
    close(x.var(1, True, True), a.var(1, ddof=1, keepdims=True), 1e-10)
    close(torch.std(x, dim=0), a.std(0, ddof=1), 1e-10)
    v, m = torch.var_mean(x, 1)
    close(v, a.var(1, ddof=1), 1e-10)
    close(m, a.mean(1), 1e-10)
    s, m = torch.std_mean(x)
    close(s, a.std(ddof=1), 1e-10)
    assert math.isnan(torch.tensor([1.0]).std().item())
    assert x.float().std().dtype == torch.float32


@pytest.mark.parametrize("p", [2, 1, 3, float("inf"), float("-inf"), 0.5, "fro"])
@pytest.mark.parametrize("dim", [None, 1, (0, 1)])
def test_norm(p, dim):
    a = rand((4, 5), np.float64)
    x = torch.tensor(a)
    r = x.norm(p, dim=dim)
    flat = np.abs(a)
    pp = 2 if p == "fro" else p
    axis = None if dim is None else dim
    if pp == float("inf"):
        ref = flat.max(axis=axis)
    elif pp == float("-inf"):
        ref = flat.min(axis=axis)
    else:
        ref = (flat ** pp).sum(axis=axis) ** (1 / pp)
    close(r, ref, 1e-10)
    close(torch.norm(x, p, dim), ref, 1e-10)


def test_norm_default_and_keepdim():
    a = rand((3, 4))
    x = torch.tensor(a)
    close(x.norm(), np.linalg.norm(a), 1e-5)
    assert x.norm(dim=1, keepdim=True).shape == (3, 1)
    assert torch.tensor([3.0, 4.0]).norm().item() == 5.0


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1, (0, 1)])
def test_logsumexp(dim, keepdim):
    a = rand((4, 5), np.float64) * 5
    x = torch.tensor(a)
    ref = np.log(np.sum(np.exp(a), axis=dim, keepdims=keepdim))
    close(x.logsumexp(dim, keepdim), ref, 1e-10)
    close(torch.logsumexp(x, dim, keepdim=keepdim), ref, 1e-10)


def test_logsumexp_stable():
    x = torch.tensor([1000.0, 1000.0, -1000.0])
    assert abs(x.logsumexp(0).item() - (1000 + math.log(2))) < 1e-3
    y = torch.tensor([float("-inf"), float("-inf")])
    assert y.logsumexp(0).item() == float("-inf")
    z = torch.tensor([float("inf"), 1.0])
    assert z.logsumexp(0).item() == float("inf")
    assert torch.tensor([1, 2, 3]).logsumexp(0).dtype == torch.float32


# ---------------------------------------------------------------------------- all / any


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("dtype", [torch.bool, torch.float32, torch.int64])
def test_all_any(dim, dtype):
    a = RNG.random((4, 5)) > 0.3
    x = torch.tensor(a).to(dtype)
    for fn, ref in [("all", np.all), ("any", np.any)]:
        r = getattr(x, fn)() if dim is None else getattr(x, fn)(dim)
        assert r.dtype == torch.bool
        np.testing.assert_array_equal(r.numpy(), ref(a, axis=dim))
        if dim is not None:
            assert getattr(torch, fn)(x, dim, keepdim=True).shape == ref(a, axis=dim, keepdims=True).shape


def test_all_any_empty_and_nan():
    assert torch.zeros(0, dtype=torch.bool).all().item() is True
    assert torch.zeros(0, dtype=torch.bool).any().item() is False
    assert torch.tensor([float("nan")]).all().item() is True
    assert torch.tensor([0.0, -0.0]).any().item() is False


# ---------------------------------------------------------------------------- cumsum / cumprod


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
@pytest.mark.parametrize("fn, ref", [("cumsum", np.cumsum), ("cumprod", np.cumprod)])
def test_cumulative(fn, ref, dim):
    a = rand((3, 4, 5), np.float64)
    x = torch.tensor(a)
    close(getattr(x, fn)(dim), ref(a, axis=dim), 1e-10)
    close(getattr(torch, fn)(x, dim=dim), ref(a, axis=dim), 1e-10)
    close(getattr(x.transpose(0, 2), fn)(dim), ref(a.transpose(2, 1, 0), axis=dim), 1e-10)


def test_cumulative_dtypes_and_inplace():
    x = torch.tensor([1, 2, 3], dtype=torch.int32)
    assert x.cumsum(0).dtype == torch.int64 and x.cumsum(0).tolist() == [1, 3, 6]
    assert x.cumprod(0).tolist() == [1, 2, 6]
    assert x.cumsum(0, dtype=torch.float64).dtype == torch.float64
    assert torch.tensor([True, True]).cumsum(0).tolist() == [1, 2]
    assert torch.tensor(5.0).cumsum(0).tolist() == 5.0
    v, i = torch.tensor([1, 3, 2, 5]).cummax(0)
    assert v.tolist() == [1, 3, 3, 5] and i.tolist() == [0, 1, 1, 3]
    with pytest.raises(IndexError):
        x.cumsum(1)


# ---------------------------------------------------------------------------- sort / topk / unique


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort(dim, descending):
    a = rand((5, 7))
    x = torch.tensor(a)
    r = x.sort(dim, descending)
    v, i = r
    assert r.values is v and r.indices is i and i.dtype == torch.int64
    order = np.argsort(-a if descending else a, axis=dim, kind="stable")
    np.testing.assert_array_equal(i.numpy(), order)
    np.testing.assert_array_equal(v.numpy(), np.take_along_axis(a, order, dim))
    np.testing.assert_array_equal(torch.sort(x, dim=dim, descending=descending).indices.numpy(), order)
    np.testing.assert_array_equal(x.argsort(dim, descending).numpy(), order)
    np.testing.assert_array_equal(torch.argsort(x, dim=dim, descending=descending).numpy(), order)
    assert repr(r).startswith("torch.return_types.sort(")


def test_sort_stable_ties_and_nan():
    x = torch.tensor([2, 1, 2, 1, 0, 2])
    v, i = x.sort(stable=True)
    assert v.tolist() == [0, 1, 1, 2, 2, 2] and i.tolist() == [4, 1, 3, 0, 2, 5]
    v, i = x.sort(descending=True, stable=True)
    assert i.tolist() == [0, 2, 5, 1, 3, 4]
    f = torch.tensor([3.0, float("nan"), 1.0])
    v, i = f.sort()
    assert v[:2].tolist() == [1.0, 3.0] and math.isnan(v[2].item()) and i.tolist() == [2, 0, 1]
    v, _ = f.sort(descending=True)
    assert math.isnan(v[0].item())


def test_msort_sorts_along_dim_0():
    a = rand((5, 4))
    np.testing.assert_array_equal(torch.msort(torch.tensor(a)).numpy(), np.sort(a, axis=0))
    np.testing.assert_array_equal(torch.tensor(a).msort().numpy(), np.sort(a, axis=0))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_topk(k, largest, dim):
    a = rand((5, 6))
    x = torch.tensor(a)
    r = x.topk(k, dim=dim, largest=largest)
    v, i = r
    order = np.argsort(-a if largest else a, axis=dim, kind="stable")
    order = np.take(order, range(k), axis=dim)
    np.testing.assert_array_equal(v.numpy(), np.take_along_axis(a, order, dim))
    np.testing.assert_array_equal(np.take_along_axis(a, i.numpy(), dim), v.numpy())
    assert torch.topk(x, k, dim, largest).values.shape == v.shape
    assert repr(r).startswith("torch.return_types.topk(")


def test_topk_errors():
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        torch.zeros(3).topk(4)


def test_kthvalue_median():
    a = rand((5, 7))
    x = torch.tensor(a)
    v, i = x.kthvalue(3, 1)
    np.testing.assert_array_equal(v.numpy(), np.sort(a, 1)[:, 2])
    np.testing.assert_array_equal(np.take_along_axis(a, i.numpy()[:, None], 1)[:, 0], v.numpy())
    assert torch.tensor([1.0, 4.0, 2.0, 3.0]).median().item() == 2.0  # lower median, as PyTorch
    m = x.median(0)
    np.testing.assert_array_equal(m.values.numpy(), np.sort(a, 0)[2])


def test_unique():
    x = torch.tensor([3, 1, 2, 3, 1, 5])
    assert torch.unique(x).tolist() == [1, 2, 3, 5]
    u, inv = x.unique(return_inverse=True)
    assert inv.tolist() == [2, 0, 1, 2, 0, 3] and inv.dtype == torch.int64
    u, c = torch.unique(x, return_counts=True)
    assert c.tolist() == [2, 1, 2, 1]
    u, inv, c = x.unique(sorted=True, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(u[inv].numpy(), x.numpy())
    m = torch.tensor([[1.5, 0.5], [1.5, 2.0]])
    u, inv = m.unique(return_inverse=True)
    assert u.tolist() == [0.5, 1.5, 2.0] and inv.shape == (2, 2) and inv.tolist() == [[1, 0], [1, 2]]
    assert torch.tensor([True, False, True]).unique().tolist() == [False, True]
