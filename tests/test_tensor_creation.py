"""Tensor creation, dtypes and their aliases, casts, torch.Size, legacy constructors, against numpy."""

import ferrotorch as torch
import numpy as np
import pytest

ALL_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32,
              torch.int16, torch.int8, torch.uint8, torch.bool]
NP_OF = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16, torch.int64: np.int64,
         torch.int32: np.int32, torch.int16: np.int16, torch.int8: np.int8, torch.uint8: np.uint8,
         torch.bool: np.bool_}


@pytest.fixture
def default_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


# ---------------------------------------------------------------------------- torch.tensor


@pytest.mark.parametrize("data, dtype, shape", [
    ([1, 2, 3], torch.int64, (3,)),
    ([1.0, 2.0], torch.float32, (2,)),
    ([1, 2.5], torch.float32, (2,)),
    ([True, False], torch.bool, (2,)),
    ([True, 2], torch.int64, (2,)),
    ([True, 2.0], torch.float32, (2,)),
    ([[1, 2], [3, 4], [5, 6]], torch.int64, (3, 2)),
    ([[[1.0]], [[2.0]]], torch.float32, (2, 1, 1)),
    (3, torch.int64, ()),
    (3.5, torch.float32, ()),
    (True, torch.bool, ()),
    ([], torch.float32, (0,)),
    ([[], []], torch.float32, (2, 0)),
    ((1, 2), torch.int64, (2,)),
])
def test_tensor_infers_dtype_and_shape(data, dtype, shape):
    t = torch.tensor(data)
    assert t.dtype == dtype
    assert t.shape == shape
    assert t.tolist() == (np.array(data).tolist() if shape else data)


def test_tensor_from_list_of_tensors_and_numpy_scalars():
    t = torch.tensor([torch.tensor(1.5), torch.tensor(2.5)])
    assert t.tolist() == [1.5, 2.5] and t.dtype == torch.float32
    t = torch.tensor([np.float32(1.5), np.float32(2.0)])
    assert t.tolist() == [1.5, 2.0]


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_tensor_explicit_dtype(dtype):
    t = torch.tensor([0, 1, 2], dtype=dtype)
    assert t.dtype == dtype
    assert t.tolist() == ([False, True, True] if dtype == torch.bool else [0, 1, 2])


def test_tensor_float_to_int_dtype_truncates():
    assert torch.tensor([1.7, -1.7, 2.5], dtype=torch.int64).tolist() == [1, -1, 2]


@pytest.mark.parametrize("np_dtype, dtype", [(np.float64, torch.float64), (np.float32, torch.float32),
                                             (np.int32, torch.int32), (np.int64, torch.int64),
                                             (np.uint8, torch.uint8), (np.bool_, torch.bool),
                                             (np.float16, torch.float16)])
def test_tensor_from_numpy_array_keeps_dtype_and_copies(np_dtype, dtype):
    a = np.arange(6).reshape(2, 3).astype(np_dtype)
    t = torch.tensor(a)
    assert t.dtype == dtype and t.shape == (2, 3)
    np.testing.assert_array_equal(t.numpy(), a)
    a[0, 0] = 1 if np_dtype is np.bool_ else 5
    assert t[0, 0].item() == 0  # torch.tensor copies


def test_tensor_ragged_raises_value_error():
    with pytest.raises(ValueError, match="expected sequence of length 2 at dim 1 .got 3."):
        torch.tensor([[1, 2], [3, 4, 5]])


def test_tensor_bad_element_type_raises_type_error():
    with pytest.raises(TypeError):
        torch.tensor([1, "a"])
    with pytest.raises(TypeError, match="new\\(\\): invalid data type 'str'"):
        torch.tensor("a")
    with pytest.raises(RuntimeError, match="Could not infer dtype of object"):
        torch.tensor(object())
    with pytest.raises(RuntimeError, match="Could not infer dtype of dict"):
        torch.tensor([{}])


def test_tensor_of_tensor_copies():
    a = torch.tensor([1.0, 2.0])
    b = torch.tensor(a)
    b[0] = 9.0
    assert a.tolist() == [1.0, 2.0]


def test_tensor_requires_grad_flag():
    t = torch.tensor([1.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1], requires_grad=True)


def test_as_tensor_shares_numpy_memory_when_dtype_matches():
    a = np.zeros(3, dtype=np.float32)
    t = torch.as_tensor(a)
    a[1] = 4.0
    assert t.tolist() == [0.0, 4.0, 0.0]
    c = torch.as_tensor(a, dtype=torch.float64)  # needs a conversion: a copy
    a[2] = 1.0
    assert c.tolist() == [0.0, 4.0, 0.0] and c.dtype == torch.float64


def test_as_tensor_of_tensor_is_identity():
    x = torch.ones(2)
    assert torch.as_tensor(x) is x
    assert torch.as_tensor([1, 2]).dtype == torch.int64


# ---------------------------------------------------------------------------- factories


@pytest.mark.parametrize("factory, value", [(torch.zeros, 0.0), (torch.ones, 1.0)])
@pytest.mark.parametrize("size", [(2, 3), ((2, 3),), ([2, 3],), (torch.Size([2, 3]),)])
def test_zeros_ones_size_forms(factory, value, size):
    t = factory(*size)
    assert t.shape == (2, 3) and t.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), value, np.float32))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_zeros_ones_dtypes(dtype):
    assert torch.zeros(3, dtype=dtype).dtype == dtype
    o = torch.ones(2, 2, dtype=dtype)
    assert o.dtype == dtype
    assert o.float().tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_zero_dim_and_empty_factories():
    assert torch.zeros(()).shape == () and torch.zeros(()).item() == 0.0
    assert torch.zeros(0, 3).shape == (0, 3) and torch.zeros(0, 3).numel() == 0
    e = torch.empty(4, 5, dtype=torch.int32)
    assert e.shape == (4, 5) and e.dtype == torch.int32 and e.is_contiguous()


@pytest.mark.parametrize("fill, dtype", [(3.5, torch.float32), (3, torch.int64), (True, torch.bool)])
def test_full_infers_dtype_from_fill_value(fill, dtype):
    t = torch.full((2, 2), fill)
    assert t.dtype == dtype
    assert t.tolist() == [[fill, fill], [fill, fill]]


def test_full_explicit_dtype():
    t = torch.full((3,), 2, dtype=torch.float64)
    assert t.dtype == torch.float64 and t.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32, torch.bool])
def test_like_factories_keep_dtype_and_shape(dtype):
    x = torch.ones(2, 3, dtype=dtype)
    for f, v in [(torch.zeros_like, 0), (torch.ones_like, 1)]:
        y = f(x)
        assert y.dtype == dtype and y.shape == (2, 3)
        assert y.float().sum().item() == 6 * v
    y = torch.full_like(x, 1)
    assert y.dtype == dtype and y.shape == (2, 3)
    assert torch.empty_like(x).shape == (2, 3)
    assert torch.zeros_like(x, dtype=torch.float64).dtype == torch.float64


def test_new_factories():
    x = torch.ones(2, dtype=torch.float64)
    assert x.new_zeros(3).dtype == torch.float64 and x.new_zeros(3).shape == (3,)
    assert x.new_ones((2, 2)).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert x.new_tensor([1, 2]).dtype == torch.float64
    assert x.new_empty(4).shape == (4,)


@pytest.mark.parametrize("args, kwargs, expected", [
    ((5,), {}, np.arange(5)),
    ((2, 7), {}, np.arange(2, 7)),
    ((10, 0, -3), {}, np.arange(10, 0, -3)),
    ((0, 1, 0.25), {}, np.arange(0, 1, 0.25, dtype=np.float32)),
    ((1, 2.5), {}, np.arange(1, 2.5, dtype=np.float32)),
    ((5,), {"dtype": torch.float64}, np.arange(5, dtype=np.float64)),
    ((0, 0.3, 0.1), {}, np.array([0.0, 0.1, 0.2], np.float32)),
    ((0,), {}, np.arange(0)),
])
def test_arange(args, kwargs, expected):
    t = torch.arange(*args, **kwargs)
    assert t.dtype == {np.dtype(np.int64): torch.int64, np.dtype(np.float32): torch.float32,
                       np.dtype(np.float64): torch.float64}[expected.dtype]
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-6)


def test_arange_bad_step():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        torch.arange(0, 5, 0)
    with pytest.raises(RuntimeError):
        torch.arange(0, 5, -1)


@pytest.mark.parametrize("start, end, steps", [(0, 1, 5), (-2.0, 3.0, 7), (5, 5, 3), (0, 1, 1), (0, 1, 0), (10, 0, 4)])
def test_linspace(start, end, steps):
    t = torch.linspace(start, end, steps)
    assert t.dtype == torch.float32 and t.shape == (steps,)
    np.testing.assert_allclose(t.numpy(), np.linspace(start, end, steps, dtype=np.float32), rtol=1e-6, atol=1e-6)


def test_linspace_negative_steps_raises():
    with pytest.raises(RuntimeError, match="number of steps must be non-negative"):
        torch.linspace(0, 1, -1)


def test_logspace():
    np.testing.assert_allclose(torch.logspace(0, 3, 4).numpy(), [1, 10, 100, 1000], rtol=1e-6)
    np.testing.assert_allclose(torch.logspace(0, 3, 4, base=2).numpy(), [1, 2, 4, 8], rtol=1e-6)


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (0,)])
def test_eye(args):
    t = torch.eye(*args)
    assert t.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy(), np.eye(*args, dtype=np.float32))
    assert torch.eye(*args, dtype=torch.int64).dtype == torch.int64


def test_default_dtype(default_float64):
    assert torch.get_default_dtype() == torch.float64
    assert torch.tensor([1.0]).dtype == torch.float64
    assert torch.zeros(2).dtype == torch.float64
    assert torch.arange(0, 1, 0.5).dtype == torch.float64
    assert torch.tensor([1]).dtype == torch.int64
    assert (torch.tensor([1]) * 0.5).dtype == torch.float64
    assert torch.rand(2).dtype == torch.float64


def test_set_default_dtype_rejects_non_float():
    with pytest.raises(TypeError):
        torch.set_default_dtype(torch.int64)
    assert torch.get_default_dtype() == torch.float32


def test_clone_is_independent_and_contiguous():
    x = torch.arange(6.0).view(2, 3).t()
    y = x.clone()
    y[0, 0] = 100.0
    assert x[0, 0].item() == 0.0
    c = x.contiguous()
    assert c.is_contiguous() and c.stride() == (2, 1)
    np.testing.assert_array_equal(c.numpy(), x.numpy())
    z = torch.ones(3)
    assert z.contiguous() is z


# ---------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("alias, dtype", [
    ("float", "float32"), ("double", "float64"), ("half", "float16"), ("long", "int64"), ("int", "int32"),
    ("short", "int16"),
])
def test_dtype_aliases(alias, dtype):
    assert getattr(torch, alias) is getattr(torch, dtype)


@pytest.mark.parametrize("dtype, name, is_float, size", [
    (torch.float32, "torch.float32", True, 4), (torch.float64, "torch.float64", True, 8),
    (torch.float16, "torch.float16", True, 2), (torch.bfloat16, "torch.bfloat16", True, 2),
    (torch.int64, "torch.int64", False, 8), (torch.int32, "torch.int32", False, 4),
    (torch.int16, "torch.int16", False, 2), (torch.int8, "torch.int8", False, 1),
    (torch.uint8, "torch.uint8", False, 1), (torch.bool, "torch.bool", False, 1),
])
def test_dtype_properties(dtype, name, is_float, size):
    assert repr(dtype) == name and str(dtype) == name
    assert dtype.is_floating_point is is_float
    assert dtype.itemsize == size
    t = torch.zeros(3, dtype=dtype)
    assert t.element_size() == size and t.nbytes == 3 * size and t.is_floating_point() is is_float


def test_dtype_is_signed():
    assert torch.int8.is_signed and torch.float32.is_signed
    assert not torch.uint8.is_signed and not torch.bool.is_signed


@pytest.mark.parametrize("method, dtype", [("float", torch.float32), ("double", torch.float64),
                                           ("half", torch.float16), ("bfloat16", torch.bfloat16),
                                           ("long", torch.int64), ("int", torch.int32), ("short", torch.int16),
                                           ("char", torch.int8), ("byte", torch.uint8), ("bool", torch.bool)])
def test_cast_methods(method, dtype):
    x = torch.tensor([0.0, 1.0, 2.0, 3.0])
    y = getattr(x, method)()
    assert y.dtype == dtype
    assert y.float().tolist() == ([0.0, 1.0, 1.0, 1.0] if dtype == torch.bool else [0.0, 1.0, 2.0, 3.0])


def test_cast_float_to_int_truncates_toward_zero():
    x = torch.tensor([-2.7, -0.5, 0.5, 2.7])
    assert x.long().tolist() == [-2, 0, 0, 2]
    assert x.int().tolist() == [-2, 0, 0, 2]
    assert x.bool().tolist() == [True, True, True, True]
    assert torch.tensor([0.0, -0.0, float("nan")]).bool().tolist() == [False, False, True]


def test_cast_int_wraps_like_c():
    x = torch.tensor([255, 256, -1, 300])
    assert x.to(torch.uint8).tolist() == [255, 0, 255, 44]
    assert torch.tensor([127, 128]).to(torch.int8).tolist() == [127, -128]


def test_half_and_bfloat16_rounding():
    x = torch.tensor([1.0, 1.0 + 2 ** -11, 1.0 + 2 ** -8, 65504.0, 1e-8])
    np.testing.assert_array_equal(x.half().float().numpy(), x.numpy().astype(np.float16).astype(np.float32))
    b = torch.tensor([1.0, 1.0 + 2 ** -9, 3.14159265, -2.5e30]).bfloat16().float().tolist()
    assert b[0] == 1.0 and b[1] == 1.0
    assert abs(b[2] - 3.140625) < 1e-7
    assert abs(b[3] / -2.5e30 - 1) < 1e-2


def test_to_variants():
    x = torch.tensor([1, 2])
    assert x.to(torch.float64).dtype == torch.float64
    assert x.to(torch.ones(1, dtype=torch.float16)).dtype == torch.float16
    assert x.to("cpu") is x
    assert x.to(torch.device("cpu")) is x
    assert x.to("cpu", torch.float32).dtype == torch.float32
    assert x.to(device="cpu", dtype=torch.int32).dtype == torch.int32
    assert x.to(torch.int64) is x
    c = x.to(torch.int64, copy=True)
    assert c is not x and c.tolist() == [1, 2]
    assert x.type(torch.float64).dtype == torch.float64
    assert x.type_as(torch.zeros(1)).dtype == torch.float32


@pytest.mark.parametrize("dtype, name", [(torch.float32, "torch.FloatTensor"), (torch.float64, "torch.DoubleTensor"),
                                         (torch.int64, "torch.LongTensor"), (torch.int32, "torch.IntTensor"),
                                         (torch.uint8, "torch.ByteTensor"), (torch.bool, "torch.BoolTensor"),
                                         (torch.float16, "torch.HalfTensor")])
def test_type_names(dtype, name):
    x = torch.zeros(1, dtype=dtype)
    assert x.type() == name
    assert torch.zeros(1).type(name).dtype == dtype


def test_device():
    x = torch.zeros(2)
    assert x.device == torch.device("cpu")
    assert x.device.type == "cpu"
    assert str(x.device) == "cpu"
    assert repr(torch.device("cpu")) == "device(type='cpu')"
    assert not x.is_cuda
    assert x.cpu() is x


@pytest.mark.parametrize("a, b, expected", [
    (torch.int32, torch.float32, torch.float32), (torch.uint8, torch.int8, torch.int16),
    (torch.bool, torch.int8, torch.int8), (torch.float16, torch.bfloat16, torch.float32),
    (torch.int64, torch.float16, torch.float16), (torch.float32, torch.float64, torch.float64),
    (torch.bool, torch.bool, torch.bool), (torch.uint8, torch.int64, torch.int64),
    (torch.int16, torch.int32, torch.int32), (torch.bool, torch.float16, torch.float16),
])
def test_promote_types(a, b, expected):
    assert torch.promote_types(a, b) == expected
    assert torch.promote_types(b, a) == expected


def test_can_cast_and_result_type():
    assert torch.can_cast(torch.int32, torch.float32)
    assert not torch.can_cast(torch.float32, torch.int32)
    assert not torch.can_cast(torch.int64, torch.bool)
    assert torch.can_cast(torch.float64, torch.float16)
    assert torch.result_type(torch.tensor([1]), 1.0) == torch.float32
    assert torch.result_type(torch.tensor([1], dtype=torch.int32), 1) == torch.int32
    assert torch.result_type(torch.tensor([1.0], dtype=torch.float16), torch.tensor([1.0])) == torch.float32


# ---------------------------------------------------------------------------- torch.Size


def test_size_repr_and_tuple_behaviour():
    x = torch.zeros(2, 3, 4)
    s = x.shape
    assert isinstance(s, torch.Size) and isinstance(s, tuple)
    assert repr(s) == "torch.Size([2, 3, 4])" and str(s) == "torch.Size([2, 3, 4])"
    assert s == (2, 3, 4) and x.size() == s
    assert x.size(1) == 3 and x.size(-1) == 4 and x.shape[0] == 2
    assert repr(s[1:]) == "torch.Size([3, 4])" and isinstance(s[1:], torch.Size)
    assert s.numel() == 24
    assert repr(torch.zeros(()).shape) == "torch.Size([])"
    assert torch.Size([5, 6]) == (5, 6)
    assert len(s) == 3 and list(s) == [2, 3, 4]
    assert torch.zeros(s).shape == s
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24


def test_size_dim_out_of_range():
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.zeros(2, 3).size(2)


def test_strides_and_contiguity():
    x = torch.zeros(2, 3, 4)
    assert x.stride() == (12, 4, 1) and x.stride(0) == 12 and x.stride(-1) == 1
    assert x.is_contiguous()
    t = x.transpose(0, 2)
    assert t.stride() == (1, 4, 12) and not t.is_contiguous()
    assert x[:, 1].storage_offset() == 4


# ---------------------------------------------------------------------------- legacy constructors


def test_legacy_constructors():
    f = torch.FloatTensor([1, 2])
    assert f.dtype == torch.float32 and f.tolist() == [1.0, 2.0]
    g = torch.LongTensor(2, 3)
    assert g.dtype == torch.int64 and g.shape == (2, 3)
    assert torch.DoubleTensor([[1.5]]).dtype == torch.float64
    assert torch.ByteTensor([1, 2]).dtype == torch.uint8
    assert torch.BoolTensor([1, 0]).tolist() == [True, False]
    assert torch.IntTensor([3]).dtype == torch.int32
    t = torch.Tensor([1, 2, 3])
    assert t.dtype == torch.float32 and t.tolist() == [1.0, 2.0, 3.0]
    assert torch.Tensor(2, 3).shape == (2, 3)
    assert torch.Tensor().shape == (0,)
    assert torch.Tensor(torch.Size([2, 2])).shape == (2, 2)
    assert isinstance(f, torch.FloatTensor) and not isinstance(f, torch.LongTensor)
    assert isinstance(f, torch.Tensor)


def test_misc_predicates():
    x = torch.zeros(2)
    assert torch.is_tensor(x) and not torch.is_tensor([1])
    assert torch.is_floating_point(x) and not torch.is_floating_point(torch.zeros(1, dtype=torch.int64))
    assert torch.numel(torch.zeros(3, 4)) == 12
