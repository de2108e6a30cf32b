"""Tensor methods and torch.* functions added by _torch_aliases.py and _windows.py: values against numpy or
literals computed with PyTorch, gradients by finite differences, and PyTorch's errors for bad input."""

import math
import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck

NAN = float("nan")


def arr(t):
    return np.asarray(t.detach().tolist(), dtype=np.float64)


def dbl(*shape, seed=0):
    g = np.random.default_rng(seed)
    return torch.tensor(g.standard_normal(shape).tolist(), dtype=torch.float64, requires_grad=True)


# ---- element-wise ----
def test_fmax_fmin_ignore_nan():
    a = np.array([[1.0, NAN, -2.5], [0.0, 3.0, NAN]])
    b = np.array([[2.0, 1.0, NAN], [NAN, 1.0, NAN]])
    ta, tb = torch.tensor(a.tolist()), torch.tensor(b.tolist())
    np.testing.assert_array_equal(arr(ta.fmax(tb)), np.fmax(a, b))
    np.testing.assert_array_equal(arr(torch.fmin(ta, tb)), np.fmin(a, b))
    x, y = dbl(5), dbl(5, seed=1)
    assert gradcheck(torch.fmax, (x, y))


def test_ldexp_frexp_match_numpy():
    x = np.array([0.0, 1.0, 0.75, -8.0, 1e-30, 3e30, 7.0, -0.1])
    m, e = torch.frexp(torch.tensor(x.tolist(), dtype=torch.float64))
    nm, ne = np.frexp(x)
    np.testing.assert_array_equal(arr(m), nm)
    np.testing.assert_array_equal(arr(e), ne)
    assert e.dtype == torch.int32
    assert torch.frexp(torch.tensor([1.0])).mantissa.shape == (1,)
    with pytest.raises(RuntimeError, match="only supports floating-point"):
        torch.frexp(torch.tensor([1, 2]))
    r = torch.ldexp(torch.tensor([1.0, 2.5, -3.0]), torch.tensor([2, -1, 3]))
    np.testing.assert_allclose(arr(r), np.ldexp([1.0, 2.5, -3.0], [2, -1, 3]))
    t = torch.tensor([1.0, 2.0])
    assert t.ldexp_(torch.tensor([1, 2])) is t and arr(t).tolist() == [2.0, 8.0]


def test_i0_matches_numpy_and_grad():
    x = np.array([0.0, 0.5, -3.0, 10.0, 29.9, 30.5, 50.0, 100.0])
    np.testing.assert_allclose(arr(torch.i0(torch.tensor(x.tolist(), dtype=torch.float64))), np.i0(x),
                               rtol=1e-12)
    assert torch.tensor([1, 2]).i0().dtype == torch.float32
    assert gradcheck(torch.i0, (dbl(6),))


def test_sgn_and_inplace_torch_functions():
    np.testing.assert_array_equal(arr(torch.sgn(torch.tensor([-2.0, 0.0, 3.0]))), [-1, 0, 1])
    t = torch.tensor([-1.0, 4.0])
    assert torch.abs_(t) is t and arr(t).tolist() == [1.0, 4.0]
    assert arr(torch.sqrt_(t)).tolist() == [1.0, 2.0]
    assert arr(torch.clamp_(torch.arange(4.0), 1, 2)).tolist() == [1, 1, 2, 2]
    assert arr(torch.zero_(torch.ones(2))).tolist() == [0, 0]
    assert arr(torch.clamp_min_(torch.arange(4.0), 2)).tolist() == [2, 2, 2, 3]
    assert arr(torch.arange(4.0).clamp_max_(1)).tolist() == [0, 1, 1, 1]
    np.testing.assert_allclose(arr(torch.sigmoid_(torch.tensor([0.0]))), [0.5])


def test_float_power_inplace_needs_double():
    t = torch.full((2,), 3.0, dtype=torch.float64)
    assert arr(t.float_power_(2)).tolist() == [9.0, 9.0]
    with pytest.raises(RuntimeError, match="base given to float_power_ has dtype Float but the operation's "
                                           "result requires dtype Double"):
        torch.ones(2).float_power_(2)


def test_inplace_matrix_ops():
    x = torch.arange(6.0).reshape(2, 3)
    assert x.cumsum_(1) is x
    assert arr(x).tolist() == [[0, 1, 3], [3, 7, 12]]
    assert arr(torch.arange(1.0, 4.0).cumprod_(0)).tolist() == [1, 2, 6]
    assert arr(torch.ones(3, 3).triu_(1)).tolist() == [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
    assert arr(torch.ones(2, 2).tril_()).tolist() == [[1, 0], [1, 1]]
    assert arr(torch.ones(2, 2).addmm_(torch.ones(2, 3), torch.ones(3, 2))).tolist() == [[4, 4], [4, 4]]
    r = torch.ones(2, 2, 2).baddbmm_(torch.ones(2, 2, 3), torch.ones(2, 3, 2), beta=0.5, alpha=2)
    assert arr(r).tolist() == [[[6.5, 6.5]] * 2] * 2
    assert arr(torch.zeros(2, 2).addbmm_(torch.ones(3, 2, 1), torch.ones(3, 1, 2))).tolist() == [[3, 3]] * 2
    s = torch.arange(6.0).reshape(2, 3)
    assert s.swapaxes_(0, 1) is s and s.shape == (3, 2)
    assert s.swapdims_(0, 1).shape == (2, 3)


# ---- products and reductions ----
def test_inner_vdot_dist():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(arr(torch.inner(torch.tensor(a.tolist()), torch.tensor(b.tolist()))),
                                  np.inner(a, b))
    assert arr(torch.tensor([1.0, 2.0]).inner(torch.tensor(3.0))).tolist() == [3.0, 6.0]
    with pytest.raises(RuntimeError, match=r"inner\(\) the last dimension must match on both input tensors "
                                           r"but got shapes \[2, 3\] and \[2\]"):
        torch.inner(torch.ones(2, 3), torch.ones(2))
    assert torch.vdot(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])).item() == 11.0
    with pytest.raises(RuntimeError, match="1D tensors expected, but got 2D and 1D tensors"):
        torch.vdot(torch.ones(2, 1), torch.ones(2))
    with pytest.raises(RuntimeError, match="inconsistent tensor size"):
        torch.vdot(torch.ones(3), torch.ones(2))
    d = np.array([[1.0, -2.0, 0.0]]) - np.array([3.0, 1.0, 0.0])
    for p in [0, 1, 2, 3.5, math.inf, -math.inf]:
        got = torch.dist(torch.tensor([[1.0, -2.0, 0.0]]), torch.tensor([3.0, 1.0, 0.0]), p).item()
        want = np.count_nonzero(d) if p == 0 else np.linalg.norm(d.ravel(), p)
        assert got == pytest.approx(want, rel=1e-6)
    x, y = dbl(2, 3), dbl(4, 3, seed=1)
    assert gradcheck(torch.inner, (x, y))
    assert gradcheck(lambda u, v: u.dist(v, 3), (dbl(4), dbl(4, seed=2)))


def test_ravel_sum_to_size():
    t = torch.arange(6.0).reshape(2, 3).t()
    assert arr(t.ravel()).tolist() == [0, 3, 1, 4, 2, 5]
    x = np.arange(24.0).reshape(2, 3, 4)
    r = torch.tensor(x.tolist()).sum_to_size(3, 1)
    np.testing.assert_array_equal(arr(r), x.sum(0).sum(1, keepdims=True))
    assert torch.ones(2, 3).sum_to_size((2, 3)).shape == (2, 3)
    with pytest.raises(RuntimeError, match=r"size \{\[2, 4\]\} is not expandable to size \{\[2, 3, 4\]\}"):
        torch.ones(2, 3, 4).sum_to_size(2, 4)
    assert gradcheck(lambda u: u.sum_to_size(1, 3), (dbl(2, 3),))


def test_nanmedian_lower_median():
    x = torch.tensor([[1.0, NAN, -2.5], [0.0, 3.0, NAN]])
    assert torch.nanmedian(x).item() == 0.0  # values -2.5, 0, 1, 3: the lower of the middle two
    v, i = torch.tensor([[1.0, NAN, 3.0, 2.0], [NAN] * 4]).nanmedian(1)
    assert arr(v)[0] == 2.0 and math.isnan(arr(v)[1]) and i.tolist()[0] == 3
    assert torch.ones(2, 3).nanmedian(0, keepdim=True).values.shape == (1, 3)


def test_histogram_matches_numpy():
    x = np.array([1.0, 2.0, 1.0, 4.0, 2.5])
    h, e = torch.histogram(torch.tensor(x.tolist()), bins=4)
    nh, ne = np.histogram(x, bins=4)
    np.testing.assert_allclose(arr(h), nh)
    np.testing.assert_allclose(arr(e), ne, rtol=1e-6)
    h, _ = torch.histogram(torch.tensor(x.tolist()), bins=3, range=(0.0, 3.0), density=True)
    np.testing.assert_allclose(arr(h), np.histogram(x, bins=3, range=(0, 3), density=True)[0], rtol=1e-6)
    w = [1.0, 2.0, 3.0, 4.0, 5.0]
    h, _ = torch.histogram(torch.tensor(x.tolist()), torch.tensor([0.0, 1.5, 2.0, 5.0]), weight=torch.tensor(w))
    np.testing.assert_allclose(arr(h), np.histogram(x, [0.0, 1.5, 2.0, 5.0], weights=w)[0])


# ---- splitting ----
def test_directional_splits():
    parts = torch.arange(12.0).reshape(2, 6).hsplit(3)
    assert [p.shape for p in parts] == [(2, 2)] * 3
    assert [p.shape for p in torch.arange(6.0).hsplit([1, 4])] == [(1,), (3,), (2,)]
    assert [p.shape for p in torch.vsplit(torch.ones(4, 2), 2)] == [(2, 2)] * 2
    assert [p.shape for p in torch.dsplit(torch.ones(1, 2, 6), [1, 4])] == [(1, 2, 1), (1, 2, 3), (1, 2, 2)]
    with pytest.raises(RuntimeError, match="torch.hsplit attempted to split along dimension 1, but the size "
                                           "of the dimension 6 is not divisible by the split_size 4!"):
        torch.ones(2, 6).hsplit(4)
    with pytest.raises(RuntimeError, match="torch.vsplit requires a tensor with at least 2 dimension, but "
                                           "got a tensor with 1 dimensions!"):
        torch.ones(12).vsplit(2)
    a, b = torch.arange(6.0).split_with_sizes([2, 4])
    assert arr(a).tolist() == [0, 1] and b.shape == (4,)
    with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly to 6"):
        torch.arange(6.0).split_with_sizes([2, 3])


# ---- writes ----
def test_fill_diagonal():
    assert arr(torch.zeros(3, 3).fill_diagonal_(5.0)).tolist() == np.diag([5.0] * 3).tolist()
    tall = np.zeros((7, 3))
    np.fill_diagonal(tall, 5.0, wrap=True)
    np.testing.assert_array_equal(arr(torch.zeros(7, 3).fill_diagonal_(5.0, wrap=True)), tall)
    tall = np.zeros((7, 3))
    np.fill_diagonal(tall, 5.0)
    np.testing.assert_array_equal(arr(torch.zeros(7, 3).fill_diagonal_(5.0)), tall)
    cube = np.zeros((2, 2, 2))
    np.fill_diagonal(cube, 5.0)
    np.testing.assert_array_equal(arr(torch.zeros(2, 2, 2).fill_diagonal_(5.0)), cube)
    with pytest.raises(RuntimeError, match="all dimensions of input must be of equal length"):
        torch.zeros(2, 3, 2).fill_diagonal_(1.0)
    with pytest.raises(RuntimeError, match="dimensions must larger than 1"):
        torch.zeros(3).fill_diagonal_(1.0)


def test_put():
    t = torch.zeros(2, 3)
    assert t.put_(torch.tensor([0, -1, 4]), torch.tensor([1.0, 2.0, 3.0])) is t
    assert arr(t).tolist() == [[1, 0, 0], [0, 3, 2]]
    r = torch.ones(2, 3).put(torch.tensor([0, 0, 4]), torch.tensor([1.0, 2.0, 3.0]), accumulate=True)
    assert arr(r).tolist() == [[4, 1, 1], [1, 4, 1]]


def test_apply_and_map():
    t = torch.arange(4.0)
    assert t.apply_(lambda v: v * v) is t and arr(t).tolist() == [0, 1, 4, 9]
    assert arr(t.map_(torch.tensor(1.0), lambda a, b: a + b)).tolist() == [1, 2, 5, 10]


def test_random_fills():
    torch.manual_seed(0)
    g = torch.empty(2000).geometric_(0.25)
    assert arr(g).min() >= 1 and float(np.floor(arr(g)).tolist() == arr(g).tolist())
    assert abs(arr(g).mean() - 4.0) < 0.4
    ln = torch.empty(4000, dtype=torch.float64).log_normal_(0.0, 0.5)
    assert abs(np.log(arr(ln)).mean()) < 0.05 and abs(np.log(arr(ln)).std() - 0.5) < 0.05
    c = torch.empty(4000, dtype=torch.float64).cauchy_(1.0, 2.0)
    assert abs(np.median(arr(c)) - 1.0) < 0.3
    with pytest.raises(RuntimeError, match="geometric_ expects p to be in"):
        torch.empty(2).geometric_(1.5)


def test_legacy_new_and_predicates():
    base = torch.ones(2, dtype=torch.int64)
    assert base.new(2, 3).shape == (2, 3) and base.new(2, 3).dtype == torch.int64
    assert arr(torch.ones(2).new([1, 2])).tolist() == [1.0, 2.0]
    assert base.new().shape == (0,)
    assert torch.is_same_size(torch.ones(2), torch.zeros(2)) and not torch.ones(2).is_same_size(torch.ones(3))
    x = torch.ones(2)
    assert x.resolve_conj() is x and x.resolve_neg() is x and not x.is_conj() and not x.is_neg()
    assert not x.is_inference() and not torch.is_complex(x)
    assert [torch.is_signed(torch.ones(1, dtype=d)) for d in (torch.float32, torch.uint8, torch.bool)] == [
        True, False, False]
    assert torch.isreal(torch.ones(2)).tolist() == [True, True]


# ---- other torch.* functions ----
def test_misc_creation_and_arith():
    assert torch.isin(torch.tensor([[1, 2], [3, 4]]), torch.tensor([2, 3])).tolist() == [[False, True],
                                                                                      [True, False]]
    assert torch.isin(torch.tensor([1, 2]), 2, invert=True).tolist() == [True, False]
    assert arr(torch.rsub(torch.tensor([1.0, 2.0]), 5, alpha=2)).tolist() == [3.0, 1.0]
    assert arr(torch.fill(torch.ones(2), 3)).tolist() == [3.0, 3.0]
    s = torch.scalar_tensor(3)
    assert s.dtype == torch.float32 and s.shape == () and s.item() == 3.0
    assert arr(torch.row_stack([torch.ones(2), torch.zeros(2)])).tolist() == [[1, 1], [0, 0]]
    assert arr(torch.asarray([1, 2.5])).tolist() == [1.0, 2.5]
    t = torch.ones(2)
    assert torch.asarray(t) is t
    with pytest.warns(UserWarning, match="torch.range is deprecated"):
        r = torch.range(1, 4)
    assert arr(r).tolist() == [1, 2, 3, 4] and r.dtype == torch.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert arr(torch.range(0, 1, 0.25)).tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert torch.typename(torch.ones(1)) == "torch.FloatTensor"
    assert torch.typename(torch.ones(1, dtype=torch.int64)) == "torch.LongTensor"
    assert torch.typename(3) == "int"


def test_flags():
    assert not torch.are_deterministic_algorithms_enabled() and torch.get_deterministic_debug_mode() == 0
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        assert torch.get_deterministic_debug_mode() == 1
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        torch.set_deterministic_debug_mode("error")
        assert torch.get_deterministic_debug_mode() == 2
    finally:
        torch.set_deterministic_debug_mode("default")
    assert not torch.are_deterministic_algorithms_enabled()
    with pytest.raises(RuntimeError, match="invalid value of debug_mode"):
        torch.set_deterministic_debug_mode("loud")
    torch.set_warn_always(True)
    assert torch.is_warn_always_enabled()
    torch.set_warn_always(False)
    assert torch.set_flush_denormal(True) is False


# ---- window functions ----
@pytest.mark.parametrize("n", [0, 1, 2, 5, 8])
def test_windows_match_numpy(n):
    cases = [(torch.hann_window, np.hanning), (torch.hamming_window, np.hamming),
             (torch.blackman_window, np.blackman), (torch.bartlett_window, np.bartlett),
             (torch.kaiser_window, lambda m: np.kaiser(m, 12.0))]
    for ours, ref in cases:
        sym = arr(ours(n, False, dtype=torch.float64))
        np.testing.assert_allclose(sym, ref(n), atol=1e-12)
        per = arr(ours(n, dtype=torch.float64))
        np.testing.assert_allclose(per, ref(n + 1)[:-1] if n > 1 else np.ones(n), atol=1e-12)


def test_window_options_and_errors():
    w = torch.hamming_window(9, True, 0.6, 0.3)
    np.testing.assert_allclose(arr(w), 0.6 - 0.3 * np.cos(2 * np.pi * np.arange(9) / 9), rtol=1e-6)
    assert w.dtype == torch.float32 and torch.hann_window(4, requires_grad=True).requires_grad
    np.testing.assert_allclose(arr(torch.kaiser_window(9, False, 5.0, dtype=torch.float64)), np.kaiser(9, 5.0),
                               rtol=1e-12)
    with pytest.raises(RuntimeError, match="hann_window requires non-negative window_length, got "
                                           "window_length=-1"):
        torch.hann_window(-1)
    with pytest.raises(RuntimeError, match="hann_window expects floating point dtypes"):
        torch.hann_window(3, dtype=torch.int64)


# ---- nn.functional aliases with ATen signatures (literals from PyTorch) ----
def test_functional_aliases():
    assert arr(torch.dropout(torch.ones(3), 0.5, False)).tolist() == [1, 1, 1]
    t = torch.ones(3)
    torch.dropout_(t, 1.0, True)
    assert arr(t).tolist() == [0, 0, 0]
    np.testing.assert_allclose(arr(torch.layer_norm(torch.arange(6.0).reshape(2, 3), [3])),
                               [[-1.2247, 0, 1.2247]] * 2, atol=1e-4)
    bn = torch.batch_norm(torch.arange(8.0).reshape(4, 2), None, None, torch.zeros(2), torch.ones(2), True, 0.1,
                          1e-5, False)
    np.testing.assert_allclose(arr(bn)[:, 0], [-1.3416, -0.4472, 0.4472, 1.3416], atol=1e-4)
    e = torch.embedding(torch.arange(6.0).reshape(3, 2), torch.tensor([2, 0]))
    assert arr(e).tolist() == [[4, 5], [0, 1]]
    a, b = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]]), torch.tensor([[0.3, 0.7], [0.5, 0.5]])
    np.testing.assert_allclose(arr(torch.kl_div(a, b)), [[-0.061192, 1.150327], [-0.096574, 1.153426]],
                               atol=1e-5)  # reduction defaults to none (0) at torch level
    assert torch.kl_div(a, b, 1).item() == pytest.approx(0.536497, abs=1e-5)
    np.testing.assert_allclose(arr(torch.hinge_embedding_loss(torch.tensor([0.3, 2.0]),
                                                              torch.tensor([1.0, -1.0]))), [0.3, 0.0], atol=1e-6)
    bce = torch.binary_cross_entropy_with_logits(torch.tensor([0.3, -1.0]), torch.tensor([1.0, 0.0]))
    np.testing.assert_allclose(arr(bce), [0.5544, 0.3133], atol=1e-4)
    tml = torch.triplet_margin_loss(torch.ones(2, 2), torch.zeros(2, 2), torch.ones(2, 2))
    np.testing.assert_allclose(arr(tml), [2.4142, 2.4142], atol=1e-4)
    assert arr(torch.constant_pad_nd(torch.ones(1, 1), [1, 0], 3.0)).tolist() == [[3, 1]]
    assert arr(torch.threshold(torch.tensor([-1.0, 1.0, 3.0]), 1.0, 9.0)).tolist() == [9, 9, 3]
    assert arr(torch.tensor([-1.0, 0.2]).hardshrink()).tolist() == [-1.0, 0.0]
    np.testing.assert_allclose(arr(torch.tensor([-1.0, 0.2]).prelu(torch.tensor([0.25]))), [-0.25, 0.2])
    v, i = torch.adaptive_max_pool1d(torch.arange(8.0).reshape(1, 1, 8), 3)
    assert arr(v).tolist() == [[[2, 5, 7]]] and i.tolist() == [[[2, 5, 7]]]
    assert arr(torch.max_pool1d(torch.arange(8.0).reshape(1, 1, 8), 2)).tolist() == [[[1, 3, 5, 7]]]
    out = torch.conv1d(torch.arange(8.0).reshape(1, 2, 4), torch.ones(1, 2, 3), None, 1, 1)
    assert arr(out).tolist() == [[[10, 18, 24, 18]]]
    assert gradcheck(lambda x: torch.celu(x, 2.0), (dbl(4),))


def test_mode_and_bound_methods():
    x = torch.tensor([[3.0, 1.0, 3.0, 1.0, 2.0], [5.0, 5.0, 5.0, 0.0, 0.0]])
    v, i = torch.mode(x)  # ties go to the smaller value, index is its last occurrence (PyTorch's literals)
    assert arr(v).tolist() == [1.0, 5.0] and i.tolist() == [3, 2]
    v, i = x.mode(0)
    assert arr(v).tolist() == [3, 1, 3, 0, 0] and i.tolist() == [0, 0, 0, 1, 1]
    assert x.mode(1, keepdim=True).values.shape == (2, 1)
    assert torch.mode(torch.tensor(3.0)).indices.item() == 0
    assert x.allclose(x + 1e-9) and x.equal(x.clone()) and x.isclose(x).all().item()
    assert arr(x.diag()).tolist() == [3.0, 5.0] and x.trace().item() == 8.0
    assert torch.ones(1).is_nonzero()
    assert arr(torch.put(torch.zeros(3), torch.tensor([1]), torch.tensor([2.0]))).tolist() == [0, 2, 0]


def test_poisson_binomial_samples():
    torch.manual_seed(0)
    p = torch.poisson(torch.full((4000,), 3.0))
    assert p.dtype == torch.float32 and abs(arr(p).mean() - 3.0) < 0.15 and (arr(p) % 1 == 0).all()
    b = torch.binomial(torch.full((4000,), 10.0), torch.full((4000,), 0.3))
    assert abs(arr(b).mean() - 3.0) < 0.15 and arr(b).max() <= 10
    with pytest.raises(RuntimeError, match="invalid Poisson rate"):
        torch.poisson(torch.tensor([-1.0]))
    # 0-d rates (numpy hands back a plain int there)
    p0, b0 = torch.poisson(torch.tensor(3.0)), torch.binomial(torch.tensor(5.0), torch.tensor(0.5))
    assert p0.shape == () and b0.shape == () and 0 <= b0.item() <= 5 and p0.item() % 1 == 0


def test_isclose_infinities_nan_and_bool() -> None:
    inf, nan = math.inf, math.nan
    a = torch.tensor([inf, -inf, inf, 1.0, nan, 1.0])
    b = torch.tensor([-inf, -inf, inf, 1.0 + 1e-7, nan, 1.1])
    assert torch.isclose(a, b).tolist() == [False, True, True, True, False, False]
    assert torch.isclose(a, b, equal_nan=True).tolist() == [False, True, True, True, True, False]
    assert not torch.allclose(torch.tensor([1.0, inf]), torch.tensor([1.0, -inf]))
    assert torch.isclose(torch.tensor([True, False]), torch.tensor([True, True])).tolist() == [True, False]
