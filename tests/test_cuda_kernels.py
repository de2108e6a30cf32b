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
    allocated, peak = torch.cuda.memory_allocated(), torch.cuda.max_memory_allocated()
    reserved = torch.cuda.memory_reserved(0)
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


# ---- reductions ----

def test_row_reductions():
    x = rng.standard_normal((37, 1000)).astype(np.float32)
    x[5, 17] = np.nan
    rows, cols = x.shape
    s = np.empty(rows, np.float32)
    K.launch("reduce", "sum_rows_f32", rows, BLOCK, s, x, ("i64", rows), ("i64", cols))
    np.testing.assert_allclose(s, x.astype(np.float64).sum(1), rtol=1e-5, atol=1e-4)
    m = np.empty(rows, np.float32)
    K.launch("reduce", "max_rows_f32", 8, BLOCK, m, x, ("i64", rows), ("i64", cols))  # blocks loop over rows
    np.testing.assert_array_equal(m, x.max(1))
    i = np.empty(rows, np.int64)
    K.launch("reduce", "argmax_rows_f32", rows, BLOCK, i, x, ("i64", rows), ("i64", cols))
    np.testing.assert_array_equal(i, x.argmax(1))  # numpy: the first NaN wins, as PyTorch


def test_sum_all_two_pass():
    x = rng.standard_normal(3_000_001).astype(np.float32)
    g = grid(x.size)
    partial = np.empty(g, np.float32)
    K.launch("reduce", "sum_all_f32", g, BLOCK, partial, x, ("i64", x.size))
    total = np.empty(1, np.float32)
    K.launch("reduce", "sum_all_f32", 1, BLOCK, total, partial, ("i64", g))
    np.testing.assert_allclose(total[0], x.astype(np.float64).sum(), rtol=1e-5, atol=1e-2)


# ---- softmax, layer norm ----

def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("cols", [1, 10, 1000, 5000])
def test_softmax_and_log_softmax_rows(cols):
    x = (rng.standard_normal((9, cols)) * 10).astype(np.float32)
    y = np.empty_like(x)
    K.launch("softmax", "softmax_rows_f32", 9, BLOCK, y, x, ("i64", 9), ("i64", cols))
    np.testing.assert_allclose(y, softmax(x.astype(np.float64)), rtol=1e-5, atol=1e-7)
    ly = np.empty_like(x)
    K.launch("softmax", "log_softmax_rows_f32", 9, BLOCK, ly, x, ("i64", 9), ("i64", cols))
    np.testing.assert_allclose(ly, np.log(softmax(x.astype(np.float64))), rtol=1e-5, atol=1e-4)
    g = rng.standard_normal(x.shape).astype(np.float32)
    gi = np.empty_like(x)
    K.launch("softmax", "softmax_backward_rows_f32", 9, BLOCK, gi, g, y, ("i64", 9), ("i64", cols))
    np.testing.assert_allclose(gi, y * (g - (g * y).sum(-1, keepdims=True)), rtol=1e-4, atol=1e-6)
    K.launch("softmax", "log_softmax_backward_rows_f32", 9, BLOCK, gi, g, ly, ("i64", 9), ("i64", cols))
    np.testing.assert_allclose(gi, g - np.exp(ly) * g.sum(-1, keepdims=True), rtol=1e-4, atol=1e-5)


def test_layer_norm_forward_and_backward():
    rows, cols, eps = 13, 300, 1e-5
    x = rng.standard_normal((rows, cols)).astype(np.float32) * 3 + 1
    w = rng.standard_normal(cols).astype(np.float32)
    b = rng.standard_normal(cols).astype(np.float32)
    out, mean, rstd = np.empty_like(x), np.empty(rows, np.float32), np.empty(rows, np.float32)
    K.launch("norm", "layer_norm_rows_f32", rows, BLOCK, out, mean, rstd, x, w, b,
             ("i64", rows), ("i64", cols), ("f64", eps))
    x64 = x.astype(np.float64)
    mu, var = x64.mean(1, keepdims=True), x64.var(1, keepdims=True)
    xhat = (x64 - mu) / np.sqrt(var + eps)
    np.testing.assert_allclose(out, xhat * w + b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(rstd, 1 / np.sqrt(var[:, 0] + eps), rtol=1e-5)
    g = rng.standard_normal(x.shape).astype(np.float32)
    gi = np.empty_like(x)
    K.launch("norm", "layer_norm_backward_rows_f32", rows, BLOCK, gi, g, x, mean, rstd, w,
             ("i64", rows), ("i64", cols))
    gw = g * w
    want = (gw - gw.mean(1, keepdims=True) - xhat * (gw * xhat).mean(1, keepdims=True)) / np.sqrt(var + eps)
    np.testing.assert_allclose(gi, want, rtol=1e-4, atol=1e-5)
    dw, db = np.empty(cols, np.float32), np.empty(cols, np.float32)
    K.launch("norm", "layer_norm_affine_grad_f32", (cols + 31) // 32, BLOCK, dw, db, g, x, mean, rstd,
             ("i64", rows), ("i64", cols))
    np.testing.assert_allclose(dw, (g * xhat).sum(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(db, g.sum(0), rtol=1e-5, atol=1e-5)


# ---- losses, embedding ----

def test_nll_and_cross_entropy_backward_with_ignore_index_and_bad_target():
    rows, cols = 6, 5
    logp = np.log(softmax(rng.standard_normal((rows, cols)))).astype(np.float32)
    t = np.array([0, 4, -100, 2, 1, 3], np.int64)
    w = rng.uniform(0.5, 2, cols).astype(np.float32)
    loss, roww, err = np.empty(rows, np.float32), np.empty(rows, np.float32), np.zeros(1, np.int32)
    K.launch("loss", "nll_rows_f32", 1, BLOCK, loss, logp, t, w, ("i64", rows), ("i64", cols),
             ("i64", -100), roww, err)
    keep = t != -100
    want = np.where(keep, -w[np.where(keep, t, 0)] * logp[np.arange(rows), np.where(keep, t, 0)], 0)
    np.testing.assert_allclose(loss, want, rtol=1e-6)
    np.testing.assert_allclose(roww, np.where(keep, w[np.where(keep, t, 0)], 0), rtol=1e-6)
    assert err[0] == 0
    scale = 1 / roww.sum()
    gi = np.empty_like(logp)
    K.launch("loss", "cross_entropy_backward_rows_f32", 1, BLOCK, gi, logp, t, w, ("i64", rows), ("i64", cols),
             ("i64", -100), ("f64", scale), None, err)
    onehot = np.eye(cols)[np.where(keep, t, 0)]
    want = (np.exp(logp) - onehot) * scale * w[np.where(keep, t, 0)][:, None] * keep[:, None]
    np.testing.assert_allclose(gi, want, rtol=1e-5, atol=1e-7)
    t[1] = 7  # out of range: flagged, never read out of bounds
    K.launch("loss", "nll_rows_f32", 1, BLOCK, loss, logp, t, w, ("i64", rows), ("i64", cols),
             ("i64", -100), None, err)
    assert err[0] == 1 and np.isnan(loss[1])


def test_embedding_gather_scatter_and_bounds():
    weight = rng.standard_normal((10, 7)).astype(np.float32)
    idx = np.array([3, 0, 3, 9, 5], np.int64)
    out, err = np.empty((5, 7), np.float32), np.zeros(1, np.int32)
    K.launch("embedding", "embedding_f32", 1, BLOCK, out, weight, idx, ("i64", 5), ("i64", 7), ("i64", 10), err)
    np.testing.assert_array_equal(out, weight[idx])
    assert err[0] == 0
    g = rng.standard_normal((5, 7)).astype(np.float32)
    gw = np.zeros_like(weight)
    K.launch("embedding", "embedding_backward_f32", 1, BLOCK, gw, g, idx, ("i64", 5), ("i64", 7), ("i64", 10),
             ("i64", 5))  # padding_idx 5 adds nothing
    want = np.zeros_like(weight)
    for r, i in enumerate(idx):
        if i != 5:
            want[i] += g[r]
    np.testing.assert_allclose(gw, want, rtol=1e-6)
    idx[2] = 10
    K.launch("embedding", "embedding_f32", 1, BLOCK, out, weight, idx, ("i64", 5), ("i64", 7), ("i64", 10), err)
    assert err[0] == 1 and np.isnan(out[2]).all()


# ---- optimizers, random ----

# The optimizer kernels take a struct of device pointers (a tensor list), which numpy buffers cannot
# fill: tests/test_devices.py checks them on the GPU through torch.optim against the CPU.


def test_philox_uniform_and_normal_are_reproducible_and_distributed():
    n = 1 << 20
    u = np.empty(n, np.float32)
    K.launch("random", "uniform_f32", grid(n), BLOCK, u, ("i64", n), ("u64", 42), ("u64", 0), ("f64", -1.0),
             ("f64", 3.0))
    assert u.min() >= -1 and u.max() < 3 and abs(u.mean() - 1) < 0.01 and abs(u.var() - 16 / 12) < 0.01
    again = np.empty(n, np.float32)
    K.launch("random", "uniform_f32", 7, 64, again, ("i64", n), ("u64", 42), ("u64", 0), ("f64", -1.0),
             ("f64", 3.0))  # another launch shape, the same numbers
    np.testing.assert_array_equal(u, again)
    K.launch("random", "uniform_f32", grid(n), BLOCK, again, ("i64", n), ("u64", 42), ("u64", 1), ("f64", -1.0),
             ("f64", 3.0))
    assert (u != again).mean() > 0.99
    z = np.empty(n, np.float64)
    K.launch("random", "normal_f64", grid(n), BLOCK, z, ("i64", n), ("u64", 7), ("u64", 0), ("f64", 2.0),
             ("f64", 0.5))
    assert abs(z.mean() - 2) < 0.005 and abs(z.std() - 0.5) < 0.005
