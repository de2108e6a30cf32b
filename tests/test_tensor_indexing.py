"""Advanced indexing (integer arrays, boolean masks), __setitem__ and the gather/scatter family, against numpy."""

import ferrotorch as torch
import numpy as np
import pytest

RNG = np.random.default_rng(2)


def base(*shape):
    a = np.arange(int(np.prod(shape))).reshape(shape).astype(np.float32)
    return torch.tensor(a), a


ADV = [
    ([0, 2],), ([-1, 0, 0],), (np.array([[0, 1], [2, 3]]),), ([0, 2], [1, 0]), (slice(None), [0, 2]),
    (slice(None), slice(None), [4, 0, 1]), ([0, 1], slice(None), [0, 1]), (1, [0, 2]), ([1, 3], 0),
    (Ellipsis, [1, 1]), ([[0], [3]], [[0, 1, 2]]), (None, [0, 1]), ([0, 1], None), (slice(1, 3), [0, 2], slice(None)),
    ([True, False, True, False],), (np.array([True, False, True]),) * 0 or (slice(None), [True, False, True]),
    ([0, 2], slice(None), [-1]), ([2],), ([0, 1], [1, 2], [3, 4]), (np.array([], dtype=np.int64),),
]


@pytest.mark.parametrize("idx", ADV, ids=[repr(i) for i in ADV])
def test_advanced_indexing_matches_numpy(idx):
    x, a = base(4, 3, 5)
    conv = tuple(torch.tensor(i) if isinstance(i, np.ndarray) else i for i in idx)
    exp = a[idx]
    np.testing.assert_array_equal(x[conv].numpy(), exp)
    np.testing.assert_array_equal(x[idx].numpy(), exp)  # lists and numpy arrays directly


def test_advanced_index_copies():
    x, _ = base(4, 3)
    y = x[[0, 1]]
    y.fill_(-1)
    assert x.min().item() == 0


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.int8, torch.int16])
def test_index_tensor_dtypes(dtype):
    x, _ = base(5)
    if dtype == torch.uint8:  # byte tensors are masks (deprecated in PyTorch but still supported)
        m = torch.tensor([1, 0, 1, 0, 1], dtype=torch.uint8)
        assert x[m.bool()].tolist() == [0.0, 2.0, 4.0]
        return
    if dtype in (torch.int8, torch.int16):
        with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool tensors"):
            x[torch.tensor([4, 0], dtype=dtype)]
        return
    assert x[torch.tensor([4, 0], dtype=dtype)].tolist() == [4.0, 0.0]


def test_float_index_rejected():
    x, _ = base(5)
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool tensors"):
        x[torch.tensor([1.0])]
    with pytest.raises(IndexError):
        x[1.5]
    with pytest.raises((IndexError, TypeError)):
        x["a"]


@pytest.mark.parametrize("mask_shape", [(4, 3, 5), (4, 3), (4,)])
def test_bool_mask_indexing(mask_shape):
    x, a = base(4, 3, 5)
    m = RNG.random(mask_shape) > 0.5
    np.testing.assert_array_equal(x[torch.tensor(m)].numpy(), a[m])


def test_mask_from_comparison_and_scalar_bool():
    x, a = base(3, 4)
    np.testing.assert_array_equal(x[x > 5].numpy(), a[a > 5])
    assert x[True].shape == (1, 3, 4)
    assert x[False].shape == (0, 3, 4)
    assert x[x > 100].shape == (0,)


def test_index_out_of_range_raises_index_error():
    x, _ = base(3, 4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x[5]
    with pytest.raises(IndexError, match="index -4 is out of bounds for dimension 0 with size 3"):
        x[-4]
    with pytest.raises(IndexError, match="out of bounds for dimension 1 with size 4"):
        x[:, 4]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        x[[0, 3]]
    with pytest.raises(IndexError, match="shape of the mask"):
        x[torch.tensor([True, False])]


def test_index_with_tensor_of_wrong_broadcast():
    x, _ = base(3, 4)
    with pytest.raises(IndexError, match="shape mismatch: indexing tensors could not be broadcast together"):
        x[[0, 1], [0, 1, 2]]


# ---------------------------------------------------------------------------- __setitem__


SETS = [
    (1, 7.0), ((0, 2), -1.0), ((slice(None), 1), np.array([10.0, 20.0, 30.0, 40.0], np.float32)),
    (slice(1, 3), np.full((2, 3), 5.0, np.float32)), ((Ellipsis, 0), 0.5), ([0, 3], 9.0),
    (([0, 3], [2, 1]), np.array([1.0, 2.0], np.float32)), ((slice(None), [0, 2]), np.array([[1.0], [2.0], [3.0], [4.0]], np.float32)),
    (slice(None, None, 2), np.array([1.0, 2.0, 3.0], np.float32)), ((None, 1), 3.0),
    ((slice(None), slice(None)), 0.0), (([1, 1], [0, 0]), np.array([3.0, 4.0], np.float32)),
]


@pytest.mark.parametrize("idx, value", SETS, ids=[repr(i) for i, _ in SETS])
def test_setitem_matches_numpy(idx, value):
    x, a = base(4, 3)
    v = torch.tensor(value) if isinstance(value, np.ndarray) else value
    x[idx] = v
    a[idx] = value
    np.testing.assert_array_equal(x.numpy(), a)


def test_setitem_mask():
    x, a = base(4, 3)
    x[x > 6] = 0.0
    a[a > 6] = 0.0
    np.testing.assert_array_equal(x.numpy(), a)
    m = a == 0
    x[torch.tensor(m)] = torch.arange(float(m.sum()))
    a[m] = np.arange(m.sum())
    np.testing.assert_array_equal(x.numpy(), a)
    rows = np.array([True, False, True, False])
    x[torch.tensor(rows)] = torch.tensor([1.0, 2.0, 3.0])
    a[rows] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(x.numpy(), a)


def test_setitem_converts_dtype_and_broadcasts():
    x = torch.zeros(2, 3, dtype=torch.int64)
    x[0] = 2.7
    assert x[0].tolist() == [2, 2, 2]
    x[1] = torch.tensor([1.9, 2.1, -3.5])
    assert x[1].tolist() == [1, 2, -3]
    y = torch.zeros(2, 3)
    y[:] = torch.tensor([1, 2, 3])
    assert y.tolist() == [[1.0, 2.0, 3.0]] * 2
    y[0] = torch.tensor(5.0)
    assert y[0].tolist() == [5.0] * 3
    y[1] = True
    assert y[1].tolist() == [1.0] * 3


def test_setitem_on_view_writes_base():
    x, _ = base(4, 3)
    v = x[1:]
    v[0, 0] = -5
    v[[1, 2], 1] = -6
    assert x[1, 0].item() == -5 and x[2, 1].item() == -6 and x[3, 1].item() == -6


def test_setitem_shape_mismatch():
    x = torch.zeros(2, 3)
    with pytest.raises(RuntimeError, match="shape mismatch|must match"):
        x[0] = torch.ones(4)


# ---------------------------------------------------------------------------- index_select / gather / scatter


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select(dim):
    x, a = base(4, 5)
    idx = np.array([3, 0, 3])
    r = x.index_select(dim, torch.tensor(idx))
    np.testing.assert_array_equal(r.numpy(), np.take(a, idx, axis=dim))
    np.testing.assert_array_equal(torch.index_select(x, dim, torch.tensor(idx)).numpy(), np.take(a, idx, axis=dim))


def test_index_select_errors():
    x, _ = base(4, 5)
    with pytest.raises(IndexError, match="out of range|out of bounds"):
        x.index_select(0, torch.tensor([4]))
    with pytest.raises((RuntimeError, IndexError)):
        x.index_select(0, torch.tensor([[0]]))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather(dim):
    x, a = base(3, 4)
    idx = RNG.integers(0, a.shape[dim], size=(3, 2) if dim != 0 else (2, 4))
    r = x.gather(dim, torch.tensor(idx))
    np.testing.assert_array_equal(r.numpy(), np.take_along_axis(a, idx, axis=dim))
    np.testing.assert_array_equal(torch.gather(x, dim, torch.tensor(idx)).numpy(), np.take_along_axis(a, idx, dim))


def test_gather_smaller_index_and_errors():
    x, _ = base(3, 4)
    r = x.gather(1, torch.tensor([[0], [3]]))
    assert r.tolist() == [[0.0], [7.0]]
    with pytest.raises(RuntimeError, match="index 4 is out of bounds for dimension 1 with size 4"):
        x.gather(1, torch.tensor([[4]]))
    with pytest.raises(RuntimeError, match="gather\\(\\): Expected dtype int32/int64 for index"):
        x.gather(1, torch.tensor([[0.0]]))


def np_scatter(a, dim, idx, src, add):
    out = a.copy()
    for pos in np.ndindex(*idx.shape):
        tgt = list(pos)
        tgt[dim] = idx[pos]
        val = src[pos] if np.ndim(src) else src
        if add:
            out[tuple(tgt)] += val
        else:
            out[tuple(tgt)] = val
    return out


@pytest.mark.parametrize("dim", [0, 1])
@pytest.mark.parametrize("add", [False, True])
def test_scatter_and_scatter_add(dim, add):
    x, a = base(3, 4)
    idx = np.array([[0, 1, 2, 0], [2, 0, 0, 1]]) if dim == 0 else np.array([[3, 0], [1, 1], [2, 3]])
    if not add and dim == 1:
        idx = np.array([[3, 0], [1, 2], [2, 3]])  # unique targets per row: scatter's result is then defined
    if not add and dim == 0:
        idx = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])
    src = RNG.standard_normal(idx.shape).astype(np.float32)
    exp = np_scatter(a, dim, idx, src, add)
    fn = "scatter_add" if add else "scatter"
    r = getattr(x, fn)(dim, torch.tensor(idx), torch.tensor(src))
    np.testing.assert_allclose(r.numpy(), exp, rtol=1e-6)
    np.testing.assert_array_equal(x.numpy(), a)  # out-of-place
    np.testing.assert_allclose(getattr(torch, fn)(x, dim, torch.tensor(idx), torch.tensor(src)).numpy(), exp,
                               rtol=1e-6)
    y = x.clone()
    assert getattr(y, fn + "_")(dim, torch.tensor(idx), torch.tensor(src)) is y
    np.testing.assert_allclose(y.numpy(), exp, rtol=1e-6)


def test_scatter_value_and_reduce():
    x = torch.zeros(2, 4)
    idx = torch.tensor([[1, 3], [0, 0]])
    assert x.scatter(1, idx, 5.0).tolist() == [[0, 5, 0, 5], [5, 0, 0, 0]]
    assert x.scatter(1, idx, value=2.0).tolist() == [[0, 2, 0, 2], [2, 0, 0, 0]]
    y = torch.ones(2, 4)
    y.scatter_(1, idx, torch.ones(2, 2), reduce="add")
    assert y.tolist() == [[1, 2, 1, 2], [3, 1, 1, 1]]
    # one-hot, the classic use
    labels = torch.tensor([2, 0, 1])
    oh = torch.zeros(3, 3).scatter_(1, labels.unsqueeze(1), 1.0)
    np.testing.assert_array_equal(oh.numpy(), np.eye(3)[[2, 0, 1]])


def test_scatter_errors():
    with pytest.raises(RuntimeError, match="out of bounds|index 4"):
        torch.zeros(2, 4).scatter(1, torch.tensor([[4]]), 1.0)


# ---------------------------------------------------------------------------- masked ops / where / nonzero / take


@pytest.mark.parametrize("mask_shape", [(3, 4), (4,), (3, 1), (1, 1)])
def test_masked_fill(mask_shape):
    x, a = base(3, 4)
    m = RNG.random(mask_shape) > 0.4
    exp = np.where(m, -1.0, a)
    np.testing.assert_array_equal(x.masked_fill(torch.tensor(m), -1.0).numpy(), exp)
    np.testing.assert_array_equal(x.masked_fill(torch.tensor(m), torch.tensor(-1.0)).numpy(), exp)
    np.testing.assert_array_equal(torch.masked_fill(x, torch.tensor(m), -1.0).numpy(), exp)
    np.testing.assert_array_equal(x.numpy(), a)
    assert x.masked_fill_(torch.tensor(m), -1.0) is x
    np.testing.assert_array_equal(x.numpy(), exp)


def test_masked_fill_dtype_and_errors():
    x = torch.tensor([1, 2, 3])
    r = x.masked_fill(torch.tensor([True, False, True]), 2.7)
    assert r.dtype == torch.int64 and r.tolist() == [2, 2, 2]
    f = torch.zeros(3).masked_fill(torch.tensor([True, False, False]), float("-inf"))
    assert f[0].item() == float("-inf")
    with pytest.raises(RuntimeError, match="masked_fill_ only supports boolean masks"):
        torch.zeros(3).masked_fill(torch.tensor([1, 0, 1]), 1.0)
    with pytest.raises(RuntimeError, match="only supports a 0-dimensional value tensor"):
        torch.zeros(3).masked_fill(torch.tensor([True, False, True]), torch.tensor([1.0, 2.0]))


@pytest.mark.parametrize("mask_shape", [(3, 4), (4,), (3, 1)])
def test_masked_select(mask_shape):
    x, a = base(3, 4)
    m = RNG.random(mask_shape) > 0.5
    np.testing.assert_array_equal(x.masked_select(torch.tensor(m)).numpy(), a[np.broadcast_to(m, a.shape)])
    np.testing.assert_array_equal(torch.masked_select(x, torch.tensor(m)).numpy(), a[np.broadcast_to(m, a.shape)])


@pytest.mark.parametrize("xs, ys", [((3, 4), (3, 4)), ((3, 1), (4,)), ((), (3, 4)), ((1, 4), ())])
def test_where_broadcasts(xs, ys):
    c = RNG.random((3, 4)) > 0.5
    a = RNG.standard_normal(xs).astype(np.float32)
    b = RNG.standard_normal(ys).astype(np.float32)
    r = torch.where(torch.tensor(c), torch.tensor(a), torch.tensor(b))
    np.testing.assert_array_equal(r.numpy(), np.where(c, a, b))
    r2 = torch.tensor(a).where(torch.tensor(c), torch.tensor(b)) if xs else None
    if r2 is not None:
        np.testing.assert_array_equal(r2.numpy(), np.where(c, a, b))


def test_where_scalars_and_promotion():
    c = torch.tensor([True, False, True])
    x = torch.tensor([1, 2, 3])
    r = torch.where(c, x, 0)
    assert r.dtype == torch.int64 and r.tolist() == [1, 0, 3]
    r = torch.where(c, x, 0.5)
    assert r.dtype == torch.float32 and r.tolist() == [1.0, 0.5, 3.0]
    r = torch.where(c, 1.0, 0.0)
    assert r.dtype == torch.float32 and r.tolist() == [1.0, 0.0, 1.0]
    r = torch.where(c, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), torch.zeros(3))
    assert r.dtype == torch.float64
    rows, = torch.where(c)
    assert rows.tolist() == [0, 2]
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
        torch.where(torch.tensor([1, 0, 1]), x, x)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2), ()])
def test_nonzero(shape):
    a = (RNG.random(shape) > 0.5).astype(np.float32) * RNG.integers(1, 5, size=shape)
    x = torch.tensor(a)
    nz = x.nonzero()
    assert nz.dtype == torch.int64
    np.testing.assert_array_equal(nz.numpy(), np.argwhere(a))
    tup = torch.nonzero(x, as_tuple=True)
    exp_tup = np.nonzero(a) if a.ndim else np.nonzero(np.atleast_1d(a))
    assert len(tup) == max(a.ndim, 1)
    for t, e in zip(tup, exp_tup):
        np.testing.assert_array_equal(t.numpy(), e)
    np.testing.assert_array_equal(x.argwhere().numpy(), np.argwhere(a))
    assert torch.count_nonzero(x).item() == np.count_nonzero(a)


def test_take():
    x, a = base(3, 4)
    idx = np.array([[0, 11], [-1, 5]])
    np.testing.assert_array_equal(x.take(torch.tensor(idx)).numpy(), np.take(a, idx))
    np.testing.assert_array_equal(torch.take(x.t(), torch.tensor([1, 2])).numpy(), np.take(a.T, [1, 2]))
    with pytest.raises(IndexError, match="out of range|out of bounds"):
        x.take(torch.tensor([12]))


def test_index_put():
    x, a = base(4, 3)
    rows, cols = np.array([0, 2, 3]), np.array([1, 1, 0])
    vals = np.array([10.0, 20.0, 30.0], np.float32)
    y = x.index_put((torch.tensor(rows), torch.tensor(cols)), torch.tensor(vals))
    b = a.copy()
    b[rows, cols] = vals
    np.testing.assert_array_equal(y.numpy(), b)
    np.testing.assert_array_equal(x.numpy(), a)
    assert x.index_put_((torch.tensor(rows), torch.tensor(cols)), torch.tensor(vals)) is x
    np.testing.assert_array_equal(x.numpy(), b)


def test_index_put_accumulate_duplicates():
    x = torch.zeros(5)
    idx = torch.tensor([0, 1, 1, 4, 1])
    x.index_put_((idx,), torch.ones(5), accumulate=True)
    assert x.tolist() == [1.0, 3.0, 0.0, 0.0, 1.0]
    y = torch.zeros(3, 2)
    y.index_put_((torch.tensor([0, 0, 2]),), torch.tensor([1.0, 2.0]), accumulate=True)
    assert y.tolist() == [[2.0, 4.0], [0.0, 0.0], [1.0, 2.0]]


def test_index_put_bool_mask():
    x = torch.zeros(2, 3)
    x.index_put_((torch.tensor([[True, False, True], [False, False, True]]),), torch.tensor(1.0))
    assert x.tolist() == [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]


def test_index_add_and_index_fill():
    x = torch.zeros(4, 2)
    x.index_add_(0, torch.tensor([0, 2, 0]), torch.ones(3, 2))
    assert x.tolist() == [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
    y = torch.zeros(2, 4)
    y.index_fill_(1, torch.tensor([1, 3]), 5.0)
    assert y.tolist() == [[0.0, 5.0, 0.0, 5.0]] * 2
    z = torch.zeros(2, 3)
    z.index_add_(1, torch.tensor([2, 0]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]), alpha=2)
    assert z.tolist() == [[4.0, 0.0, 2.0], [8.0, 0.0, 6.0]]
