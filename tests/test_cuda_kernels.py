"""Every CUDA kernel family run on a GPU against numpy (skipped where no GPU is present).

Kernels are launched one at a time through ``ferrotorch.cuda.kernels.launch`` with numpy buffers,
so each kernel's arithmetic, indexing and launch convention is checked on its own.
"""

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.cuda import kernels as K

pytestmark = pytest.mark.skipif(not torch.cuda.probe().devices, reason="needs a CUDA GPU")

rng = np.random.default_rng(0)
BLOCK = 256


def grid(n: int) -> int:
    return max(1, min(1024, (n + BLOCK - 1) // BLOCK))


def f16(a):
    return np.asarray(a, np.float16).view(np.uint16)


def bf16(a):
    """float32 → bfloat16 bits, round to nearest even (numpy has no bfloat16)."""
    u = np.asarray(a, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def test_device_reports_its_architecture_and_memory():
    assert K.device_arch().startswith("sm_")
    a = np.zeros(1 << 20, np.float32)
    K.launch("copy", "fill_f32", grid(a.size), BLOCK, a, ("f64", 2.5), ("i64", a.size))
    assert (a == 2.5).all()
    allocated, peak, reserved = K.memory_stats()
    assert allocated == 0 and peak >= a.nbytes and reserved >= a.nbytes  # the block went back to the cache


@pytest.mark.parametrize("n", [1, 3, 1000, 1 << 20])
def test_add_contiguous_matches_numpy(n):
    a, b = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    out = np.empty_like(a)
    K.launch("elementwise", "add_f32", grid(n), BLOCK, out, a, b, ("i64", n))
    np.testing.assert_array_equal(out, a + b)


def test_unaligned_and_tail_elements_take_the_scalar_path():
    a = rng.standard_normal(1027).astype(np.float32)
    out = np.empty_like(a)
    K.launch("elementwise", "mul_f32", 3, BLOCK, out, a, a, ("i64", a.size))  # small grid: many strides
    np.testing.assert_array_equal(out, a * a)


def test_broadcast_add_through_strides():
    a = rng.standard_normal((4, 1, 5)).astype(np.float32)
    b = rng.standard_normal((3, 1)).astype(np.float32)
    shape = (4, 3, 5)
    out = np.empty(shape, np.float32)
    sa = K.strides_arg(shape, (5, 0, 1))
    sb = K.strides_arg(shape, (0, 1, 0))
    K.launch("elementwise", "add_strided_f32", grid(out.size), BLOCK, out, a, sa, b, sb, ("i64", out.size))
    np.testing.assert_array_equal(out, a + b)


@pytest.mark.parametrize("op,ref", [
    ("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("tanh", np.tanh),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x))), ("relu", lambda x: np.maximum(x, 0)),
])
def test_unary_float_ops(op, ref):
    x = rng.uniform(0.1, 3, 5000).astype(np.float32)
    out = np.empty_like(x)
    K.launch("elementwise", f"{op}_f32", grid(x.size), BLOCK, out, x, ("i64", x.size))
    np.testing.assert_allclose(out, ref(x.astype(np.float64)), rtol=2e-6, atol=1e-7)


def test_half_types_compute_in_float32_and_round_once():
    x = rng.standard_normal(999).astype(np.float32)
    y = rng.standard_normal(999).astype(np.float32)
    out = np.empty(999, np.uint16)
    K.launch("elementwise", "mul_f16", grid(999), BLOCK, out, f16(x), f16(y), ("i64", 999))
    want = (x.astype(np.float16).astype(np.float32) * y.astype(np.float16).astype(np.float32)).astype(np.float16)
    np.testing.assert_array_equal(out.view(np.float16), want)
    K.launch("elementwise", "mul_bf16", grid(999), BLOCK, out, bf16(x), bf16(y), ("i64", 999))
    np.testing.assert_array_equal(out, bf16(from_bf16(bf16(x)) * from_bf16(bf16(y))))


def test_comparisons_write_bools_and_nan_compares_false():
    a = np.array([1, np.nan, 3, 2], np.float32)
    b = np.array([1, np.nan, 2, 5], np.float32)
    out = np.empty(4, np.uint8)
    K.launch("elementwise", "eq_f32", 1, BLOCK, out, a, b, ("i64", 4))
    assert out.tolist() == [1, 0, 0, 0]
    K.launch("elementwise", "ne_f32", 1, BLOCK, out, a, b, ("i64", 4))
    assert out.tolist() == [0, 1, 1, 1]


def test_maximum_propagates_nan():
    a = np.array([1, np.nan, 3], np.float32)
    b = np.array([2, 0, np.nan], np.float32)
    out = np.empty(3, np.float32)
    K.launch("elementwise", "maximum_f32", 1, BLOCK, out, a, b, ("i64", 3))
    np.testing.assert_array_equal(out, np.maximum(a, b))


def test_casts_and_strided_copy():
    x = rng.standard_normal((6, 7)).astype(np.float32)
    out = np.empty(42, np.uint16)
    K.launch("copy", "cast_f32_f16", 1, BLOCK, out, x, ("i64", 42))
    np.testing.assert_array_equal(out.view(np.float16), x.ravel().astype(np.float16))
    t = np.empty((7, 6), np.float32)
    K.launch("copy", "copy_strided_f32", 1, BLOCK, t, x, K.strides_arg((7, 6), (1, 7)), ("i64", 42))
    np.testing.assert_array_equal(t, x.T)
    i = np.empty(4, np.int64)
    K.launch("copy", "cast_f32_i64", 1, BLOCK, i, np.array([-1.7, 2.9, 0, 5], np.float32), ("i64", 4))
    assert i.tolist() == [-1, 2, 0, 5]
