"""Views share storage with their base (no copies), have numpy's values and strides, and in-place
writes through a view show in the base (and the other way round)."""

import ferrotorch as torch
import numpy as np
import pytest

RNG = np.random.default_rng(1)


def base(*shape, dtype=np.float32):
    a = np.arange(int(np.prod(shape))).reshape(shape).astype(dtype)
    return torch.tensor(a), a


def same_storage(a, b):
    return a._storage_id() == b._storage_id()


def check(view, expected, parent):
    np.testing.assert_array_equal(view.numpy(), expected)
    assert same_storage(view, parent), "expected a view sharing storage"
    itemsize = view.element_size()
    if expected.size > 1:
        exp_strides = tuple(s // expected.itemsize for s in expected.strides)
        for d in range(expected.ndim):
            if expected.shape[d] > 1:
                assert view.stride(d) == exp_strides[d], (view.stride(), exp_strides)
    assert itemsize == expected.itemsize


# ---------------------------------------------------------------------------- view / reshape


@pytest.mark.parametrize("shape", [(6,), (2, 3), (3, 2), (-1,), (2, -1), (-1, 3), (1, 2, 3), (3, 1, 2, 1)])
def test_view_shapes(shape):
    x, a = base(2, 3)
    v = x.view(*shape)
    check(v, a.reshape(shape), x)
    assert x.view(shape).shape == v.shape
    assert x.view(list(shape)).shape == v.shape


def test_view_writes_through_both_ways():
    x, _ = base(2, 3)
    v = x.view(3, 2)
    v[0, 1] = 100.0
    assert x[0, 1].item() == 100.0
    x.add_(1)
    assert v[0, 1].item() == 101.0
    v.zero_()
    assert x.sum().item() == 0.0


def test_view_dtype_preserved_and_0d():
    x = torch.tensor(5)
    assert x.view(1).tolist() == [5] and x.view(1, 1).shape == (1, 1)
    assert torch.zeros(1).view(()).shape == ()
    assert x.view(-1).shape == (1,)


def test_view_of_empty():
    x = torch.zeros(0, 3)
    assert x.view(-1).shape == (0,)
    assert x.view(3, 0).shape == (3, 0)
    with pytest.raises(RuntimeError):
        x.view(-1, 0)


def test_view_non_contiguous_compatible_strides():
    x = torch.arange(24.0).view(2, 3, 4).transpose(0, 1)  # (3, 2, 4), last dim still contiguous
    v = x.view(3, 2, 2, 2)
    assert same_storage(v, x)
    np.testing.assert_array_equal(v.numpy(), x.numpy().reshape(3, 2, 2, 2))


@pytest.mark.parametrize("shape", [(6,), (3, 2), (-1, 2), (1, 6, 1)])
def test_reshape_is_view_when_possible(shape):
    x, a = base(2, 3)
    r = x.reshape(shape)
    check(r, a.reshape(shape), x)


def test_reshape_copies_when_needed():
    x, a = base(3, 4)
    t = x.t()
    r = t.reshape(-1)
    np.testing.assert_array_equal(r.numpy(), a.T.reshape(-1))
    assert r.is_contiguous()
    r[0] = -1.0
    assert x[0, 0].item() == 0.0


def test_view_as_reshape_as():
    x, _ = base(2, 6)
    y = torch.zeros(3, 4)
    assert x.view_as(y).shape == (3, 4) and x.reshape_as(y).shape == (3, 4)


# ---------------------------------------------------------------------------- transpose family


@pytest.mark.parametrize("d0, d1", [(0, 1), (1, 2), (0, 2), (-1, -3), (1, 1), (-2, 2)])
def test_transpose(d0, d1):
    x, a = base(2, 3, 4)
    check(x.transpose(d0, d1), np.swapaxes(a, d0, d1), x)
    check(x.swapaxes(d0, d1), np.swapaxes(a, d0, d1), x)
    check(torch.transpose(x, d0, d1), np.swapaxes(a, d0, d1), x)


@pytest.mark.parametrize("perm", [(0, 1, 2), (2, 0, 1), (1, 2, 0), (2, 1, 0), (-1, 0, 1)])
def test_permute(perm):
    x, a = base(2, 3, 4)
    check(x.permute(*perm), np.transpose(a, perm), x)
    check(x.permute(perm), np.transpose(a, perm), x)
    check(torch.permute(x, perm), np.transpose(a, perm), x)


def test_permute_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(RuntimeError, match="number of dimensions in the tensor input does not match"):
        x.permute(0)
    with pytest.raises(RuntimeError, match="duplicate dims are not allowed"):
        x.permute(0, 0)


def test_t_and_T_and_mT():
    x, a = base(3, 4)
    check(x.t(), a.T, x)
    check(x.T, a.T, x)
    check(x.mT, a.T, x)
    v, av = base(5)
    check(v.t(), av, v)
    y, b = base(2, 3, 4)
    check(y.mT, np.swapaxes(b, -1, -2), y)
    check(y.mH, np.swapaxes(b, -1, -2), y)
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions, but self is 3D"):
        y.t()
    with pytest.raises(RuntimeError, match="tensor.mT is only supported on matrices or batches of matrices"):
        _ = v.mT


def test_movedim():
    x, a = base(2, 3, 4)
    check(x.movedim(0, -1), np.moveaxis(a, 0, -1), x)
    check(torch.movedim(x, 2, 0), np.moveaxis(a, 2, 0), x)


def test_transposed_inplace_writes_through():
    x, a = base(3, 4)
    x.t().mul_(2)
    np.testing.assert_array_equal(x.numpy(), a * 2)
    x.T[1, 2] = -5
    assert x[2, 1].item() == -5


# ---------------------------------------------------------------------------- squeeze / unsqueeze / expand


@pytest.mark.parametrize("dim, shape", [(None, (3, 4)), (0, (3, 1, 4)), (2, (1, 3, 4)), (-2, (1, 3, 4)),
                                        (1, (1, 3, 1, 4)), ((0, 2), (3, 4)), ((0, 1), (3, 1, 4))])
def test_squeeze(dim, shape):
    x, a = base(1, 3, 1, 4)
    s = x.squeeze() if dim is None else x.squeeze(dim)
    assert s.shape == shape
    check(s, a.reshape(shape), x)
    assert torch.squeeze(x).shape == (3, 4)


def test_squeeze_0d_and_all_ones():
    assert torch.zeros(1, 1).squeeze().shape == ()
    assert torch.tensor(2.0).squeeze().shape == ()
    assert torch.tensor(2.0).squeeze(0).shape == ()


@pytest.mark.parametrize("dim, shape", [(0, (1, 2, 3)), (1, (2, 1, 3)), (2, (2, 3, 1)), (-1, (2, 3, 1)),
                                        (-3, (1, 2, 3))])
def test_unsqueeze(dim, shape):
    x, a = base(2, 3)
    check(x.unsqueeze(dim), a.reshape(shape), x)


def test_unsqueeze_out_of_range():
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-3, 2\], but got 3\)"):
        torch.zeros(2, 3).unsqueeze(3)


def test_inplace_squeeze_unsqueeze():
    x = torch.zeros(2, 1, 3)
    assert x.squeeze_(1) is x and x.shape == (2, 3)
    assert x.unsqueeze_(0) is x and x.shape == (1, 2, 3)
    y = torch.zeros(2, 3)
    assert y.t_() is y and y.shape == (3, 2)
    assert y.transpose_(0, 1).shape == (2, 3)


@pytest.mark.parametrize("src, target", [((3, 1), (3, 4)), ((3, 1), (-1, 4)), ((1,), (5,)), ((3,), (2, 3)),
                                         ((2, 1, 3), (4, 2, 5, 3)), ((), (2, 2)), ((1, 1), (1, 1))])
def test_expand(src, target):
    x = torch.tensor(RNG.standard_normal(src).astype(np.float32))
    e = x.expand(*target)
    expected_shape = tuple(s if s != -1 else src[i - (len(target) - len(src))] for i, s in enumerate(target))
    np.testing.assert_array_equal(e.numpy(), np.broadcast_to(x.numpy(), expected_shape))
    assert same_storage(e, x)
    assert x.expand(target).shape == e.shape
    for d, (n, st) in enumerate(zip(e.shape, e.stride())):
        k = d - (len(target) - len(src))
        if k < 0 or src[k] == 1:
            assert st == 0 or n == 1


def test_expand_as_and_writes_visible():
    x = torch.zeros(3, 1)
    e = x.expand_as(torch.zeros(3, 4))
    assert e.shape == (3, 4)
    x[1, 0] = 7.0
    assert e[1].tolist() == [7.0] * 4


def test_expand_errors():
    with pytest.raises(RuntimeError, match=r"The expanded size of the tensor \(4\) must match the existing size "
                                           r"\(3\) at non-singleton dimension 1"):
        torch.zeros(2, 3).expand(2, 4)
    with pytest.raises(RuntimeError, match="the number of sizes provided"):
        torch.zeros(2, 3).expand(3)


# ---------------------------------------------------------------------------- flatten / unflatten / narrow / unfold


@pytest.mark.parametrize("start, end, shape", [(0, -1, (24,)), (1, -1, (2, 12)), (0, 1, (6, 4)), (1, 1, (2, 3, 4)),
                                               (-2, -1, (2, 12))])
def test_flatten(start, end, shape):
    x, a = base(2, 3, 4)
    f = x.flatten(start, end)
    check(f, a.reshape(shape), x)
    assert torch.flatten(x, start, end).shape == shape


def test_flatten_0d_and_noncontiguous():
    assert torch.tensor(3.0).flatten().shape == (1,)
    x, a = base(3, 4)
    f = x.t().flatten()
    np.testing.assert_array_equal(f.numpy(), a.T.reshape(-1))


@pytest.mark.parametrize("dim, sizes, shape", [(1, (2, 6), (2, 2, 6)), (1, (-1, 3), (2, 4, 3)), (0, (1, 2), (1, 2, 12)),
                                               (-1, (3, 4), (2, 3, 4))])
def test_unflatten(dim, sizes, shape):
    x, a = base(2, 12)
    u = x.unflatten(dim, sizes)
    check(u, a.reshape(shape), x)


@pytest.mark.parametrize("dim, start, length", [(0, 0, 2), (0, 1, 3), (1, 2, 2), (-1, 0, 1), (0, -2, 2), (1, 0, 4)])
def test_narrow(dim, start, length):
    x, a = base(4, 4)
    n = x.narrow(dim, start, length)
    s = start % 4
    exp = a[s:s + length] if dim == 0 else a[:, s:s + length]
    check(n, exp, x)
    n.fill_(-1)
    assert (x == -1).sum().item() == exp.size


def test_narrow_out_of_range():
    with pytest.raises(RuntimeError, match=r"start \(3\) \+ length \(2\) exceeds dimension size \(4\)"):
        torch.zeros(4).narrow(0, 3, 2)


@pytest.mark.parametrize("dim, size, step", [(0, 2, 1), (0, 3, 2), (1, 2, 2), (-1, 4, 1), (1, 1, 3)])
def test_unfold(dim, size, step):
    x, a = base(5, 4)
    u = x.unfold(dim, size, step)
    d = dim % 2
    win = np.lib.stride_tricks.sliding_window_view(a, size, axis=d)  # window contents last, a view
    exp = win[::step] if d == 0 else win[:, ::step]
    check(u, exp, x)


def test_unfold_1d():
    x = torch.arange(7.0)
    np.testing.assert_array_equal(x.unfold(0, 2, 2).numpy(), [[0, 1], [2, 3], [4, 5]])


@pytest.mark.parametrize("offset, d1, d2", [(0, 0, 1), (1, 0, 1), (-1, 0, 1), (2, 1, 0), (0, 1, 2), (-1, 2, 0), (5, 0, 1)])
def test_diagonal(offset, d1, d2):
    x, a = base(3, 4, 5)
    dg = x.diagonal(offset, d1, d2)
    check(dg, np.diagonal(a, offset, d1, d2), x)
    assert torch.diagonal(x, offset=offset, dim1=d1, dim2=d2).shape == dg.shape


def test_diagonal_write_through():
    x = torch.zeros(3, 3)
    x.diagonal().fill_(1.0)
    np.testing.assert_array_equal(x.numpy(), np.eye(3))
    x.diagonal(1).add_(2.0)
    assert x[0, 1].item() == 2.0 and x[1, 2].item() == 2.0


def test_select_and_as_strided():
    x, a = base(3, 4)
    check(x.select(1, 2), a[:, 2], x)
    check(x.select(0, -1), a[-1], x)
    s = x.as_strided((2, 2), (1, 4), 1)
    np.testing.assert_array_equal(s.numpy(), [[1, 5], [2, 6]])
    assert same_storage(s, x)


# ---------------------------------------------------------------------------- slicing


IDX = [
    (1,), (-1,), (slice(1, 3),), (slice(None, None, 2),), (slice(1, None, 2), slice(None, None, 3)),
    (slice(-3, -1),), (slice(None), 2), (Ellipsis, 1), (1, Ellipsis), (Ellipsis,), (None,), (None, 1),
    (slice(None), None, 0), (Ellipsis, None), (1, None, Ellipsis, None), (slice(10, 20),), (slice(-100, 100),),
    (slice(3, 1),), (0, 0, 0), (slice(None), slice(None), slice(1, 4, 2)), (-2, Ellipsis, slice(None, None, 4)),
    (slice(0, 1), 1, slice(None, None, 2)), (),
]


@pytest.mark.parametrize("idx", IDX, ids=[repr(i) for i in IDX])
def test_basic_indexing_matches_numpy_and_is_view(idx):
    x, a = base(4, 3, 5)
    v = x[idx]
    exp = a[idx]
    np.testing.assert_array_equal(v.numpy(), exp)
    assert v.shape == exp.shape
    assert same_storage(v, x)


def test_single_int_gives_0d():
    x = torch.tensor([1.5, 2.5])
    assert x[1].shape == () and x[1].item() == 2.5
    assert x[torch.tensor(0)].item() == 1.5
    assert x[np.int64(1)].item() == 2.5


def test_negative_step_slice_raises():
    with pytest.raises(ValueError, match="step must be greater than zero"):
        torch.zeros(5)[::-1]


def test_slice_writes_through():
    x, a = base(4, 5)
    v = x[1:3, ::2]
    v.add_(1000)
    a[1:3, ::2] += 1000
    np.testing.assert_array_equal(x.numpy(), a)
    w = x[..., -1]
    w[:] = 0
    a[..., -1] = 0
    np.testing.assert_array_equal(x.numpy(), a)
    x[2:, 1:3].mul_(0)
    a[2:, 1:3] *= 0
    np.testing.assert_array_equal(x.numpy(), a)


def test_chained_views_write_through():
    x, a = base(2, 3, 4)
    v = x.permute(2, 0, 1)[1:, :, ::2].reshape(3, 2, 2)[:, 1]
    v.fill_(-7)
    a.transpose(2, 0, 1)[1:, :, ::2][:, 1] = -7
    np.testing.assert_array_equal(x.numpy(), a)


def test_detach_shares_storage():
    x = torch.ones(3, requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and same_storage(d, x)
    d[0] = 5.0
    assert x[0].item() == 5.0


def test_too_many_indices():
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        torch.zeros(2, 3)[0, 0, 0]
    assert torch.zeros(2, 3)[..., 0, ...].shape == (2,)  # PyTorch, unlike numpy, accepts a second ellipsis


def test_data_ptr_offset_of_slices():
    x = torch.arange(10, dtype=torch.float64)
    assert x[3:].data_ptr() == x.data_ptr() + 3 * 8
    assert x[3:].storage_offset() == 3


@pytest.mark.parametrize("dtype", [torch.float64, torch.int64, torch.bool, torch.float16, torch.bfloat16,
                                   torch.int8])
def test_views_all_dtypes(dtype):
    x = torch.arange(12).reshape(3, 4).to(dtype)
    ref = np.arange(12).reshape(3, 4).astype(np.float32)
    if dtype == torch.bool:
        ref = ref.astype(bool).astype(np.float32)
    np.testing.assert_array_equal(x.t()[1:, ::2].float().numpy(), ref.T[1:, ::2])
    assert x.t()[1:, ::2].dtype == dtype
    v = x.view(-1)
    v[5] = 0
    assert x[1, 1].item() == 0
