"""numpy interop: from_numpy / .numpy() share memory both ways, strides survive, bad arrays get PyTorch's errors."""

import gc

import ferrotorch as torch
import numpy as np
import pytest

PAIRS = [(np.float32, torch.float32), (np.float64, torch.float64), (np.float16, torch.float16),
         (np.int64, torch.int64), (np.int32, torch.int32), (np.int16, torch.int16), (np.int8, torch.int8),
         (np.uint8, torch.uint8), (np.bool_, torch.bool)]


@pytest.mark.parametrize("np_dtype, dtype", PAIRS)
def test_from_numpy_dtype_and_values(np_dtype, dtype):
    a = (np.arange(12).reshape(3, 4) % 7).astype(np_dtype)
    t = torch.from_numpy(a)
    assert t.dtype == dtype and t.shape == (3, 4)
    np.testing.assert_array_equal(t.numpy(), a)
    back = t.numpy()
    assert back.dtype == np.dtype(np_dtype)


def test_from_numpy_shares_memory_both_ways():
    a = np.zeros((2, 3), np.float32)
    t = torch.from_numpy(a)
    a[0, 1] = 5.0
    assert t[0, 1].item() == 5.0
    t[1, 2] = 7.0
    assert a[1, 2] == 7.0
    t.add_(1)
    assert a[0, 0] == 1.0 and a[0, 1] == 6.0
    assert t.data_ptr() == a.ctypes.data


def test_numpy_shares_memory_both_ways():
    t = torch.ones(4)
    a = t.numpy()
    a[0] = 10.0
    assert t[0].item() == 10.0
    t.mul_(2)
    np.testing.assert_array_equal(a, [20.0, 2.0, 2.0, 2.0])
    assert np.shares_memory(a, t.numpy())


def test_seed_002_style_example():
    a = np.ones(5)
    b = torch.from_numpy(a)
    np.add(a, 1, out=a)
    assert b.tolist() == [2.0] * 5 and b.dtype == torch.float64
    c = torch.ones(5)
    d = c.numpy()
    c.add_(1)
    assert d.tolist() == [2.0] * 5


@pytest.mark.parametrize("make", [lambda a: a[:, ::2], lambda a: a.T, lambda a: a[1:, 1:3], lambda a: a[::2, ::3],
                                  lambda a: a.transpose(1, 0)[::2]])
def test_from_numpy_non_contiguous_keeps_strides_and_shares(make):
    base = np.arange(30, dtype=np.float64).reshape(5, 6)
    a = make(base)
    t = torch.from_numpy(a)
    np.testing.assert_array_equal(t.numpy(), a)
    assert t.stride() == tuple(s // 8 for s in a.strides)
    assert t.is_contiguous() == a.flags.c_contiguous
    a[0, 0] = -1.0
    assert t[0, 0].item() == -1.0
    t[-1, -1] = -2.0
    assert a[-1, -1] == -2.0


def test_numpy_of_non_contiguous_tensor_keeps_strides():
    t = torch.arange(12.0).view(3, 4).t()
    a = t.numpy()
    assert a.strides == (4, 16)
    np.testing.assert_array_equal(a, np.arange(12.0).reshape(3, 4).T)
    a[0, 1] = 100.0
    assert t[0, 1].item() == 100.0
    e = torch.zeros(3, 1).expand(3, 4).numpy()
    assert e.strides[1] == 0 and e.shape == (3, 4)


def test_negative_strides_raise_value_error():
    a = np.arange(5.0)
    with pytest.raises(ValueError, match="At least one stride in the given numpy array is negative"):
        torch.from_numpy(a[::-1])
    with pytest.raises(ValueError, match="negative"):
        torch.from_numpy(np.arange(6.0).reshape(2, 3)[:, ::-1])
    assert torch.tensor(a[::-1].copy()).tolist() == [4.0, 3.0, 2.0, 1.0, 0.0]


@pytest.mark.parametrize("arr", [np.array(["a", "b"]), np.array([object(), 1], dtype=object),
                                 np.array(["2020-01-01"], dtype="datetime64[D]"), np.zeros(2, dtype="V8")])
def test_unsupported_dtypes_raise_type_error(arr):
    with pytest.raises(TypeError, match="can't convert np.ndarray of type"):
        torch.from_numpy(arr)


def test_from_numpy_rejects_non_arrays():
    with pytest.raises(TypeError, match="expected np.ndarray"):
        torch.from_numpy([1, 2, 3])


def test_byte_order():
    a = np.arange(3, dtype=">f4")
    with pytest.raises(ValueError, match="byte order"):
        torch.from_numpy(a)


def test_zero_dim_and_empty_arrays():
    t = torch.from_numpy(np.array(3.5))
    assert t.shape == () and t.item() == 3.5
    e = torch.from_numpy(np.zeros((0, 4), np.float32))
    assert e.shape == (0, 4)
    assert torch.zeros(0, 3).numpy().shape == (0, 3)
    assert torch.tensor(2).numpy().shape == ()


def test_lifetimes():
    a = np.arange(1000, dtype=np.float64)
    t = torch.from_numpy(a)
    del a
    gc.collect()
    assert t.sum().item() == sum(range(1000))
    u = torch.arange(100.0)
    arr = u.numpy()
    del u
    gc.collect()
    assert arr.sum() == sum(range(100))
    v = torch.from_numpy(np.ones(10))[2:5]
    gc.collect()
    assert v.tolist() == [1.0, 1.0, 1.0]


def test_numpy_requires_grad_and_bfloat16():
    t = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad. "
                                           r"Use tensor.detach\(\).numpy\(\) instead."):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0, 1.0]
    assert t.numpy(force=True).tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="Got unsupported ScalarType BFloat16"):
        torch.ones(2, dtype=torch.bfloat16).numpy()


def test_array_protocol():
    t = torch.arange(6).view(2, 3)
    a = np.asarray(t)
    assert a.dtype == np.int64 and a.shape == (2, 3)
    np.testing.assert_array_equal(a, np.arange(6).reshape(2, 3))
    f = np.array(t, dtype=np.float32)
    assert f.dtype == np.float32 and f[1, 2] == 5.0
    assert np.add(t, 1).sum() == 21
    s = np.asarray(torch.tensor([1.0, 2.0]))
    s[0] = 0.0  # asarray of a tensor views its memory, as in PyTorch
    assert np.exp(torch.tensor([0.0])).tolist() == [1.0]


def test_numpy_scalars_and_arrays_as_operands():
    t = torch.tensor([1.0, 2.0])
    assert (t + np.float32(1)).tolist() == [2.0, 3.0]
    assert (t * np.int64(2)).tolist() == [2.0, 4.0]
    assert torch.tensor(np.float64(2.5)).item() == 2.5
    assert torch.tensor(np.int32(7)).dtype == torch.int32
    assert torch.as_tensor(np.float32(1.5)).dtype == torch.float32


def test_as_tensor_and_tensor_from_noncontiguous():
    a = np.arange(12.0).reshape(3, 4)[:, 1::2]
    t = torch.tensor(a)
    assert t.is_contiguous()
    np.testing.assert_array_equal(t.numpy(), a)
    s = torch.as_tensor(a)
    a[0, 0] = 99.0
    assert s[0, 0].item() == 99.0 and t[0, 0].item() == 1.0
