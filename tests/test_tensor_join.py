"""Joining and splitting: cat/stack/split/chunk/unbind/repeat/flip/roll/tril/triu and friends, against numpy."""

import ferrotorch as torch
import numpy as np
import pytest

RNG = np.random.default_rng(6)


def base(*shape, dtype=np.float32):
    a = np.arange(int(np.prod(shape))).reshape(shape).astype(dtype)
    return torch.tensor(a), a


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
@pytest.mark.parametrize("fn", ["cat", "concat", "concatenate"])
def test_cat(fn, dim):
    arrs = [RNG.standard_normal((2, 3, 4)).astype(np.float32) for _ in range(3)]
    r = getattr(torch, fn)([torch.tensor(a) for a in arrs], dim)
    np.testing.assert_array_equal(r.numpy(), np.concatenate(arrs, axis=dim))
    r = torch.cat(tuple(torch.tensor(a) for a in arrs), dim=dim)
    np.testing.assert_array_equal(r.numpy(), np.concatenate(arrs, axis=dim))


def test_cat_mixed_sizes_dtypes_and_empty():
    a, b = torch.ones(2, 3), torch.zeros(4, 3)
    assert torch.cat([a, b]).shape == (6, 3)
    assert torch.cat([a, torch.ones(2, 3, dtype=torch.float64)]).dtype == torch.float64
    assert torch.cat([torch.tensor([1]), torch.tensor([1.5])]).dtype == torch.float32
    assert torch.cat([a, torch.zeros(0)]).shape == (2, 3)  # legacy: 1-d empty tensors are skipped
    assert torch.cat([a, torch.zeros(0, 3)]).shape == (2, 3)
    assert torch.cat([a.t(), b.t()], 1).shape == (3, 6)
    out = torch.empty(6, 3)
    assert torch.cat([a, b], out=out) is out and out.sum().item() == 6.0


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack(dim):
    arrs = [RNG.standard_normal((3, 4)).astype(np.float32) for _ in range(2)]
    r = torch.stack([torch.tensor(a) for a in arrs], dim)
    np.testing.assert_array_equal(r.numpy(), np.stack(arrs, axis=dim))


def test_hstack_vstack_dstack_column_stack():
    a, b = np.arange(3.0), np.arange(3.0, 6.0)
    ta, tb = torch.tensor(a), torch.tensor(b)
    np.testing.assert_array_equal(torch.hstack([ta, tb]).numpy(), np.hstack([a, b]))
    np.testing.assert_array_equal(torch.vstack([ta, tb]).numpy(), np.vstack([a, b]))
    np.testing.assert_array_equal(torch.dstack([ta, tb]).numpy(), np.dstack([a, b]))
    np.testing.assert_array_equal(torch.column_stack([ta, tb]).numpy(), np.column_stack([a, b]))
    m = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(torch.hstack([torch.tensor(m), torch.tensor(m)]).numpy(), np.hstack([m, m]))


@pytest.mark.parametrize("size, dim", [(2, 0), (3, 0), (5, 1), (1, 1), (10, 0)])
def test_split_size(size, dim):
    x, a = base(7, 5)
    parts = x.split(size, dim)
    n = a.shape[dim]
    ref = np.split(a, list(range(size, n, size)), axis=dim)
    assert len(parts) == len(ref)
    for p, r in zip(parts, ref):
        np.testing.assert_array_equal(p.numpy(), r)
        assert p._storage_id() == x._storage_id()  # views
    assert len(torch.split(x, size, dim=dim)) == len(ref)


def test_split_sizes_and_tensor_split():
    x, a = base(7, 2)
    parts = x.split([2, 4, 1])
    assert [p.shape[0] for p in parts] == [2, 4, 1]
    np.testing.assert_array_equal(parts[1].numpy(), a[2:6])
    ts = torch.tensor_split(x, 3)
    assert [p.shape[0] for p in ts] == [3, 2, 2]
    ts = x.tensor_split([1, 5])
    assert [p.shape[0] for p in ts] == [1, 4, 2]


@pytest.mark.parametrize("n, dim", [(2, 0), (3, 0), (4, 1), (7, 0), (1, 1)])
def test_chunk(n, dim):
    x, a = base(6, 4)
    parts = x.chunk(n, dim)
    size = -(-a.shape[dim] // n)
    ref = np.split(a, list(range(size, a.shape[dim], size)), axis=dim)
    assert len(parts) == len(ref)
    for p, r in zip(parts, ref):
        np.testing.assert_array_equal(p.numpy(), r)
    assert len(torch.chunk(x, n, dim)) == len(ref)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind(dim):
    x, a = base(2, 3, 4)
    parts = x.unbind(dim)
    assert isinstance(parts, tuple) and len(parts) == a.shape[dim]
    for i, p in enumerate(parts):
        np.testing.assert_array_equal(p.numpy(), np.take(a, i, axis=dim))
    assert len(torch.unbind(x, dim)) == a.shape[dim]


@pytest.mark.parametrize("reps", [(2,), (2, 3), (1, 1), (2, 1, 3), (3, 2, 1, 1)])
def test_repeat(reps):
    x, a = base(2, 3)
    if len(reps) < 2:
        with pytest.raises(RuntimeError):
            x.repeat(*reps)
        return
    np.testing.assert_array_equal(x.repeat(*reps).numpy(), np.tile(a, reps))
    np.testing.assert_array_equal(x.repeat(reps).numpy(), np.tile(a, reps))


def test_tile_repeat_interleave():
    x, a = base(2, 3)
    np.testing.assert_array_equal(x.tile((2,)).numpy(), np.tile(a, (2,)))
    np.testing.assert_array_equal(torch.tile(x, (2, 2)).numpy(), np.tile(a, (2, 2)))
    np.testing.assert_array_equal(x.repeat_interleave(2, dim=0).numpy(), np.repeat(a, 2, axis=0))
    np.testing.assert_array_equal(x.repeat_interleave(2).numpy(), np.repeat(a, 2))
    np.testing.assert_array_equal(torch.repeat_interleave(x, torch.tensor([1, 2]), dim=0).numpy(),
                                  np.repeat(a, [1, 2], axis=0))


@pytest.mark.parametrize("dims", [(0,), (1,), (0, 1), (-1,), (0, 2)])
def test_flip(dims):
    x, a = base(2, 3, 4)
    np.testing.assert_array_equal(x.flip(dims).numpy(), np.flip(a, dims))
    np.testing.assert_array_equal(torch.flip(x, dims).numpy(), np.flip(a, dims))
    f = x.flip(dims)
    f[0, 0, 0] = -1
    assert x.min().item() == 0  # flip copies


@pytest.mark.parametrize("shifts, dims", [(1, 0), (-2, 1), (5, None), (2, -1), ((1, 2), (0, 1)), (7, 1)])
def test_roll(shifts, dims):
    x, a = base(3, 4)
    r = x.roll(shifts, dims) if dims is not None else x.roll(shifts)
    np.testing.assert_array_equal(r.numpy(), np.roll(a, shifts, axis=dims))
    np.testing.assert_array_equal(torch.roll(x, shifts, dims).numpy(), np.roll(a, shifts, axis=dims))


@pytest.mark.parametrize("k", [0, 1, -1, 3, -5])
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (2, 3, 4)])
def test_tril_triu(k, shape):
    x, a = base(*shape)
    np.testing.assert_array_equal(x.tril(k).numpy(), np.tril(a, k))
    np.testing.assert_array_equal(torch.triu(x, k).numpy(), np.triu(a, k))
    np.testing.assert_array_equal(torch.tril(x, diagonal=k).numpy(), np.tril(a, k))
    y = x.clone()
    if hasattr(y, "tril_"):
        y.tril_(k)
        np.testing.assert_array_equal(y.numpy(), np.tril(a, k))


def test_broadcast_tensors_and_meshgrid():
    a, b = torch.ones(3, 1), torch.arange(4.0)
    x, y = torch.broadcast_tensors(a, b)
    assert x.shape == y.shape == (3, 4)
    assert torch.broadcast_shapes((3, 1), (4,), (2, 1, 1)) == (2, 3, 4)
    i, j = torch.meshgrid(torch.arange(3), torch.arange(2), indexing="ij")
    ni, nj = np.meshgrid(np.arange(3), np.arange(2), indexing="ij")
    np.testing.assert_array_equal(i.numpy(), ni)
    np.testing.assert_array_equal(j.numpy(), nj)
    i, j = torch.meshgrid(torch.arange(3), torch.arange(2), indexing="xy")
    ni, nj = np.meshgrid(np.arange(3), np.arange(2), indexing="xy")
    np.testing.assert_array_equal(i.numpy(), ni)
    np.testing.assert_array_equal(j.numpy(), nj)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.float16, torch.float64])
def test_join_dtypes(dtype):
    x = torch.tensor([[1, 0], [0, 1]]).to(dtype)
    assert torch.cat([x, x]).dtype == dtype and torch.stack([x, x]).dtype == dtype
    assert x.flip(0).float().tolist() == [[0, 1], [1, 0]]
    assert x.roll(1, 1).float().tolist() == [[0, 1], [1, 0]]
    assert x.repeat(1, 2).shape == (2, 4)
