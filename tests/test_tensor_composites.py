"""Ops composed from existing tensor ops (python/ferrotorch/_composite_ops.py): values against numpy,
dtypes and broadcasting, PyTorch's errors, in-place forms, and gradients by finite differences."""

import itertools
import math
import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck

RNG = np.random.default_rng(7)
FLOATS = [torch.float32, torch.float64]
NP = {torch.float32: np.float32, torch.float64: np.float64}
TOL = {torch.float32: 2e-5, torch.float64: 1e-12}
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((5,), ())]


def arr(shape, dtype=torch.float64, lo=-3.0, hi=3.0):
    return RNG.uniform(lo, hi, size=shape).astype(NP.get(dtype, np.float64))


def t(a, dtype=None):
    return torch.tensor(np.asarray(a)) if dtype is None else torch.tensor(np.asarray(a)).to(dtype)


def close(got, expected, tol=1e-12):
    assert tuple(got.shape) == np.shape(expected), (tuple(got.shape), np.shape(expected))
    np.testing.assert_allclose(got.detach().double().numpy(), expected, rtol=tol, atol=tol, equal_nan=True)


def leaf(*shape, lo=-2.0, hi=2.0):
    return torch.tensor(RNG.uniform(lo, hi, size=shape)).requires_grad_()


# ---- element-wise binary ops ----
BINARY = {
    "logaddexp": (np.logaddexp, None),
    "logaddexp2": (np.logaddexp2, None),
    "hypot": (np.hypot, None),
    "copysign": (np.copysign, None),
    "xlogy": (lambda a, b: a * np.log(b), (0.1, 4.0)),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("sa, sb", SHAPES)
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_against_numpy(op, sa, sb, dtype):
    ref, domain = BINARY[op]
    a = arr(sa, dtype)
    b = arr(sb, dtype) if domain is None else arr(sb, dtype, *domain)
    expected = ref(a.astype(np.float64), b.astype(np.float64))
    got = getattr(torch, op)(t(a), t(b))
    assert got.dtype == dtype
    close(got, expected, TOL[dtype])
    close(getattr(t(a), op)(t(b)), expected, TOL[dtype])  # the Tensor method


def test_logaddexp_is_stable_and_handles_infinities():
    inf = math.inf
    a = torch.tensor([1000.0, -1000.0, -inf, inf, -inf, 3.0, 1e308], dtype=torch.float64)
    b = torch.tensor([1000.0, -1000.5, -inf, inf, 2.0, -inf, 1e308], dtype=torch.float64)
    close(torch.logaddexp(a, b), np.logaddexp(a.numpy(), b.numpy()))
    assert torch.logaddexp(a, b)[2].item() == -inf
    close(torch.logaddexp2(a, b), np.logaddexp2(a.numpy(), b.numpy()))
    nan = torch.logaddexp(torch.tensor([math.nan]), torch.tensor([1.0]))
    assert math.isnan(nan.item())


def test_logaddexp_errors():
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        torch.logaddexp(torch.tensor([1, 2]), torch.tensor([3, 4]))
    with pytest.raises(TypeError, match="must be Tensor, not float"):
        torch.tensor([1.0]).logaddexp(2.0)


def test_xlogy_special_values_and_promotion():
    x = torch.tensor([0.0, 0.0, 0.0, 2.0, 3.0, math.nan])
    y = torch.tensor([0.0, math.nan, math.inf, 0.0, 2.0, 1.0])
    got = torch.xlogy(x, y).tolist()
    assert got[0] == 0.0 and math.isnan(got[1]) and got[2] == 0.0 and got[3] == -math.inf
    assert got[4] == pytest.approx(3 * math.log(2.0)) and math.isnan(got[5])
    ints = torch.xlogy(torch.tensor([1, 2]), torch.tensor([3, 4]))
    assert ints.dtype == torch.float32
    close(ints, np.array([math.log(3), 2 * math.log(4)]), 1e-6)
    close(torch.xlogy(2, torch.tensor([3.0, 4.0], dtype=torch.float64)), 2 * np.log([3.0, 4.0]))
    close(torch.xlogy(torch.tensor([3.0, 4.0], dtype=torch.float64), 2), np.array([3.0, 4.0]) * math.log(2))


def test_hypot_scales_extreme_values():
    close(torch.hypot(torch.tensor([3e30, 3e-30, 0.0]), torch.tensor([4e30, 4e-30, 0.0])),
          np.array([5e30, 5e-30, 0.0]), 1e-6)
    half = torch.hypot(torch.tensor([300.0], dtype=torch.float16), torch.tensor([400.0], dtype=torch.float16))
    assert half.dtype == torch.float16 and half.item() == 500.0  # 300**2 alone overflows float16
    special = torch.hypot(torch.tensor([math.inf, math.nan, -math.inf]), torch.tensor([math.nan, 1.0, 2.0]))
    assert special[0].item() == math.inf and math.isnan(special[1].item()) and special[2].item() == math.inf
    with pytest.raises(NotImplementedError, match="hypot_cpu"):
        torch.hypot(torch.tensor([3]), torch.tensor([4]))


def test_copysign_sign_bits_and_promotion():
    got = torch.copysign(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([-0.0, 0.0, -math.inf, -2.0]))
    assert got.tolist() == [-1.0, 2.0, -3.0, -4.0]
    ints = torch.copysign(torch.tensor([1, -2]), -1)
    assert ints.dtype == torch.float32 and ints.tolist() == [-1.0, -2.0]
    assert torch.copysign(torch.tensor([5.0]), -0.0).item() == -5.0


def test_heaviside():
    x = torch.tensor([-1.5, 0.0, 2.0, 0.0])
    assert torch.heaviside(x, torch.tensor([0.5])).tolist() == [0.0, 0.5, 1.0, 0.5]
    assert x.heaviside(torch.tensor([7.0, 8.0, 9.0, 10.0])).tolist() == [0.0, 8.0, 1.0, 10.0]
    a, v = arr((3, 1)), arr((4,))
    a[0, 0] = 0.0
    close(torch.heaviside(t(a), t(v)), np.heaviside(a, v))
    assert torch.heaviside(torch.tensor([-2, 0, 3]), torch.tensor([5])).tolist() == [0, 5, 1]
    msg = "heaviside is not yet implemented for tensors with different dtypes"
    with pytest.raises(RuntimeError, match=msg):
        torch.heaviside(torch.tensor([1.0]), torch.tensor([1.0], dtype=torch.float64))


# ---- element-wise unary float ops ----
UNARY = {
    "sinc": (np.sinc, (-3.0, 3.0)),
    "deg2rad": (np.deg2rad, (-360.0, 360.0)),
    "rad2deg": (np.rad2deg, (-7.0, 7.0)),
    "logit": (lambda p: np.log(p / (1 - p)), (0.01, 0.99)),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(), (7,), (3, 4)])
@pytest.mark.parametrize("op", list(UNARY))
def test_unary_against_numpy(op, shape, dtype):
    ref, domain = UNARY[op]
    a = arr(shape, dtype, *domain)
    got = getattr(torch, op)(t(a))
    assert got.dtype == dtype
    close(got, ref(a.astype(np.float64)), 5 * TOL[dtype])


@pytest.mark.parametrize("op", ["sinc", "deg2rad", "rad2deg", "logit"])
def test_unary_int_input_promotes_to_default_float(op):
    x = torch.tensor([0, 1, 2])
    got = getattr(x, op)()
    assert got.dtype == torch.get_default_dtype()
    with np.errstate(divide="ignore", invalid="ignore"):
        close(got, UNARY[op][0](np.array([0.0, 1.0, 2.0])), 1e-5)


def test_sinc_at_zero_and_logit_eps():
    assert torch.sinc(torch.tensor([0.0, -0.0])).tolist() == [1.0, 1.0]
    p = torch.tensor([0.0, 0.05, 0.5, 0.97, 1.0], dtype=torch.float64)
    clamped = np.clip(p.numpy(), 0.1, 0.9)
    close(torch.logit(p, eps=0.1), np.log(clamped / (1 - clamped)))
    assert torch.logit(p).tolist()[0] == -math.inf and torch.logit(p).tolist()[-1] == math.inf
    assert math.isnan(torch.logit(torch.tensor([1.5]), eps=-1.0).item())  # eps < 0: no clamping


def test_gradients_at_removable_singularities():
    x = torch.tensor([0.0, 0.5], dtype=torch.float64, requires_grad=True)
    torch.sinc(x).sum().backward()
    assert x.grad[0].item() == 0.0  # sinc'(0) = 0, no 0/0
    x = torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
    torch.xlogy(x, torch.tensor([0.0, 3.0, 3.0], dtype=torch.float64)).sum().backward()
    # PyTorch's d/dx xlogy = log(y), masked to 0 only where x == 0 and y <= 0
    assert x.grad.tolist() == [0.0, pytest.approx(math.log(3.0)), pytest.approx(math.log(3.0))]


def test_positive():
    x = torch.tensor([1.0, -2.0])
    assert torch.positive(x) is x and x.positive() is x
    with pytest.raises(RuntimeError, match="The `\\+` operator, on a bool tensor is not supported."):
        torch.positive(torch.tensor([True]))


# ---- integer ops ----
def test_gcd_lcm_against_numpy():
    a = RNG.integers(-60, 60, size=(4, 5))
    b = RNG.integers(-60, 60, size=(5,))
    a[0, :2] = 0
    b[1] = 0
    close(torch.gcd(t(a), t(b)), np.gcd(a, b), 0)
    close(torch.lcm(t(a), t(b)), np.lcm(a, b), 0)
    assert torch.gcd(t(a), t(b)).dtype == torch.int64
    assert torch.gcd(torch.tensor([0]), torch.tensor([0])).tolist() == [0]
    i32 = torch.tensor([6], dtype=torch.int32)
    assert torch.gcd(i32, torch.tensor([4], dtype=torch.int32)).dtype == torch.int32
    with pytest.raises(NotImplementedError, match="\"gcd_cpu\" not implemented for 'Float'"):
        torch.gcd(torch.tensor([1.0]), torch.tensor([2.0]))


# ---- in-place forms ----
INPLACE = [
    ("xlogy_", lambda x: (x.abs() + 0.5,)),
    ("logit_", lambda x: (0.1,)),
    ("hypot_", lambda x: (x.flip(0),)),
    ("copysign_", lambda x: (-x.flip(0),)),
    ("heaviside_", lambda x: (torch.tensor([0.5], dtype=x.dtype),)),
    ("sinc_", lambda x: ()),
    ("deg2rad_", lambda x: ()),
    ("rad2deg_", lambda x: ()),
    ("renorm_", lambda x: (2, 0, 1.0)),
]


@pytest.mark.parametrize("name, args", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_modifies_and_returns_self(name, args):
    x = t(arr((3, 4), lo=0.05, hi=0.95))
    x[0, 0] = 0.0
    a = args(x)
    expected = getattr(x, name[:-1])(*a)
    view = x[1]  # a view sees the write
    r = getattr(x, name)(*a)
    assert r is x
    close(x, expected.numpy())
    close(view, expected[1].numpy())


@pytest.mark.parametrize("name", ["sinc_", "deg2rad_", "rad2deg_", "logit_"])
def test_inplace_float_op_on_int_tensor_raises(name):
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        getattr(torch.tensor([1, 2]), name)()


def test_inplace_errors_and_autograd():
    msg = r"output with shape \[4\] doesn't match the broadcast shape \[3, 4\]"
    with pytest.raises(RuntimeError, match=msg):
        torch.ones(4).hypot_(torch.ones(3, 4))
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        torch.ones(3, requires_grad=True).sinc_()
    g = torch.tensor([6, 10])
    assert g.gcd_(torch.tensor([4, 15])) is g and g.tolist() == [2, 5]
    assert g.lcm_(torch.tensor([3, 2])) is g and g.tolist() == [6, 10]
    x, o = leaf(5), leaf(5)
    y = x * 1
    y.hypot_(o)
    y.sum().backward()  # the in-place op's graph does not save the tensor the copy overwrites
    xv, ov = x.detach().numpy(), o.detach().numpy()
    close(x.grad, xv / np.hypot(xv, ov), 1e-10)
    close(o.grad, ov / np.hypot(xv, ov), 1e-10)


# ---- reductions ----
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), ((0, 1), False), (-1, False)])
def test_nansum_nanmean(dim, keepdim, dtype):
    a = arr((4, 5), dtype)
    a[0, 1] = a[2, 3] = np.nan
    a[:, 4] = np.nan
    axis = dim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(a.astype(np.float64), axis=axis, keepdims=keepdim)
    close(torch.nansum(t(a), dim, keepdim), np.nansum(a.astype(np.float64), axis=axis, keepdims=keepdim),
          10 * TOL[dtype])
    close(t(a).nanmean(dim, keepdim), mean, 10 * TOL[dtype])


def test_nansum_nanmean_dtypes_and_errors():
    assert torch.nansum(torch.tensor([1, 2, 3])).item() == 6
    assert torch.nansum(torch.tensor([1.0, math.nan]), dtype=torch.float64).dtype == torch.float64
    msg = r"nanmean\(\): expected input to have floating point or complex dtype but got Long"
    with pytest.raises(RuntimeError, match=msg):
        torch.tensor([1, 2]).nanmean()


@pytest.mark.parametrize("n, dim", [(1, -1), (2, 0), (3, 1), (0, 0), (7, 1)])
def test_diff_against_numpy(n, dim):
    a = arr((4, 5))
    close(torch.diff(t(a), n, dim), np.diff(a, n, axis=dim))


def test_diff_prepend_append_bool_and_errors():
    a = arr((3, 4))
    pre, app = arr((3, 1)), arr((3, 2))
    close(t(a).diff(prepend=t(pre), append=t(app)), np.diff(a, prepend=pre, append=app))
    b = np.array([True, False, False, True])
    got = torch.diff(t(b))
    assert got.dtype == torch.bool and got.tolist() == np.diff(b).tolist()
    close(torch.diff(torch.tensor([1, 4, 9, 16])), np.array([3, 5, 7]), 0)
    with pytest.raises(RuntimeError, match="diff expects input to be at least one-dimensional"):
        torch.diff(torch.tensor(1.0))
    with pytest.raises(RuntimeError, match="order must be non-negative but got -1"):
        torch.diff(torch.ones(3), n=-1)
    msg = "diff expects prepend or append to be the same dimension as input"
    with pytest.raises(RuntimeError, match=msg):
        torch.diff(torch.ones(2, 3), prepend=torch.ones(3))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, dim", [((7,), 0), ((3, 9), 1), ((5, 2, 3), 0), ((1, 4), 0), ((2, 16), -1)])
def test_logcumsumexp_against_numpy(shape, dim, dtype):
    a = arr(shape, dtype, -5, 5)
    got = torch.logcumsumexp(t(a), dim)
    assert got.dtype == dtype
    close(got, np.logaddexp.accumulate(a.astype(np.float64), axis=dim), 10 * TOL[dtype])


def test_logcumsumexp_stability_and_errors():
    got = torch.logcumsumexp(torch.tensor([-math.inf, -1000.0, 0.0, 1000.0, 1000.0], dtype=torch.float64), 0)
    close(got, np.array([-math.inf, -1000.0, 0.0, 1000.0, 1000.0 + math.log(2)]))
    assert torch.logcumsumexp(torch.tensor(2.5), 0).item() == 2.5
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        torch.tensor([1, 2]).logcumsumexp(0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.ones(2, 3).logcumsumexp(2)


@pytest.mark.parametrize("p", [1, 2, 3.5, math.inf])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_renorm_against_numpy(p, dim):
    a = arr((3, 4, 2))
    red = tuple(i for i in range(3) if i != dim % 3)
    norm = np.max(np.abs(a), axis=red, keepdims=True) if p == math.inf else \
        np.sum(np.abs(a) ** p, axis=red, keepdims=True) ** (1 / p)
    factor = np.where(norm > 2.0, 2.0 / (norm + 1e-7), 1.0)
    close(torch.renorm(t(a), p, dim, 2.0), a * factor)


def test_renorm_errors():
    with pytest.raises(RuntimeError, match="renorm: non-positive-norm not supported"):
        torch.ones(2, 2).renorm(0, 0, 1.0)
    with pytest.raises(RuntimeError, match="renorm: expected maxnorm to be >= 0 but got -1"):
        torch.ones(2, 2).renorm(2, 0, -1.0)
    with pytest.raises(RuntimeError, match="renorm: input needs at least 2 dimensions, got 1 dimensions"):
        torch.ones(3).renorm(2, 0, 1.0)


# ---- quantiles ----
INTERPOLATIONS = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("dim, keepdim", [(None, False), (None, True), (0, False), (1, True), (-1, False)])
@pytest.mark.parametrize("q", [0.0, 0.37, 1.0, [0.1, 0.5, 0.9], "0d"])
def test_quantile_against_numpy(q, dim, keepdim, interpolation):
    a = arr((4, 7))
    qt = torch.tensor(0.25, dtype=torch.float64) if q == "0d" else (t(q) if isinstance(q, list) else q)
    qn = 0.25 if q == "0d" else np.array(q) if isinstance(q, list) else q
    got = torch.quantile(t(a), qt, dim, keepdim, interpolation=interpolation)
    close(got, np.quantile(a, qn, axis=dim, keepdims=keepdim, method=interpolation))
    close(t(a).quantile(qt, dim, keepdim, interpolation=interpolation),
          np.quantile(a, qn, axis=dim, keepdims=keepdim, method=interpolation))


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_nanquantile_against_numpy(interpolation):
    a = arr((5, 6)).astype(np.float32)
    a[0, 1] = a[2, :3] = np.nan
    a[3, :] = np.nan
    q = np.array([0.0, 0.25, 0.5, 0.625, 1.0], dtype=np.float32)  # exact in float32: ranks agree with numpy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanquantile(a.astype(np.float64), q.astype(np.float64), axis=1, method=interpolation)
    got = torch.nanquantile(t(a), t(q), dim=1, interpolation=interpolation)
    assert got.dtype == torch.float32
    close(got, expected, 1e-5)
    # quantile itself gives NaN for every slice holding a NaN
    plain = torch.quantile(t(a), t(q), dim=1, interpolation=interpolation).numpy()
    assert np.isnan(plain[:, [0, 2, 3]]).all() and not np.isnan(plain[:, [1, 4]]).any()


def test_quantile_errors():
    x = torch.rand(5)
    with pytest.raises(RuntimeError, match=r"quantile\(\) q must be in the range \[0, 1\] but got 1.5"):
        torch.quantile(x, 1.5)
    with pytest.raises(RuntimeError, match=r"quantile\(\) q values must be in the range \[0, 1\]"):
        torch.quantile(x, torch.tensor([0.5, -0.1]))
    with pytest.raises(RuntimeError, match=r"quantile\(\) input tensor must be either float or double dtype"):
        torch.quantile(torch.tensor([1, 2]), 0.5)
    with pytest.raises(RuntimeError, match=r"quantile\(\) q tensor must be same dtype as the input tensor"):
        torch.quantile(x, torch.tensor([0.5], dtype=torch.float64))
    msg = (r"quantile\(\) interpolation must be one of linear, lower, higher, midpoint or nearest. Found "
           r"'cubic'")
    with pytest.raises(RuntimeError, match=msg):
        torch.quantile(x, 0.5, interpolation="cubic")
    with pytest.raises(RuntimeError, match=r"nanquantile\(\) input tensor must be non-empty"):
        torch.nanquantile(torch.ones(0), 0.5)
    with pytest.raises(RuntimeError, match=r"quantile\(\) q must be a scalar or 1D tensor"):
        torch.quantile(x, torch.full((2, 2), 0.5))


# ---- statistics ----
@pytest.mark.parametrize("shape", [(3, 8), (8,), (1, 5)])
@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("weights", ["none", "f", "a", "fa"])
def test_cov_against_numpy(shape, correction, weights):
    a = arr(shape)
    n = shape[-1]
    fw = RNG.integers(1, 4, size=n) if "f" in weights else None
    aw = RNG.uniform(0.1, 1.0, size=n) if "a" in weights else None
    got = torch.cov(t(a), correction=correction, fweights=None if fw is None else t(fw),
                    aweights=None if aw is None else t(aw))
    close(got, np.cov(a, ddof=correction, fweights=fw, aweights=aw), 1e-10)


def test_cov_int_input_and_degrees_of_freedom_warning():
    got = torch.tensor([[1, 2, 4], [3, 1, 0]]).cov()
    assert got.dtype == torch.float32
    close(got, np.cov([[1, 2, 4], [3, 1, 0]]), 1e-5)
    with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        r = torch.cov(torch.tensor([[1.0, 2.0]]), correction=2)
    assert math.isinf(r.item()) or math.isnan(r.item())


def test_cov_errors():
    x = torch.rand(2, 4)
    msg = r"cov\(\): expected input to have two or fewer dimensions but got an input with 3 dimensions"
    with pytest.raises(RuntimeError, match=msg):
        torch.cov(torch.rand(2, 2, 2))
    with pytest.raises(RuntimeError, match="cov\\(\\): bool dtype is not supported for input"):
        torch.cov(torch.tensor([True, False]))
    msg = "expected fweights to have integral dtype but got fweights with Float"
    with pytest.raises(RuntimeError, match=msg):
        torch.cov(x, fweights=torch.ones(4))
    msg = "expected aweights to have floating point dtype but got aweights with Long"
    with pytest.raises(RuntimeError, match=msg):
        torch.cov(x, aweights=torch.ones(4, dtype=torch.int64))
    msg = "expected fweights to have the same numel as there are observations in the input but got 3 != 4"
    with pytest.raises(RuntimeError, match=msg):
        torch.cov(x, fweights=torch.tensor([1, 2, 3]))
    with pytest.raises(RuntimeError, match="cov\\(\\): aweights cannot be negative"):
        torch.cov(x, aweights=torch.tensor([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(RuntimeError, match="cov\\(\\): weights sum to zero, can't be normalized"):
        torch.cov(x, fweights=torch.zeros(4, dtype=torch.int64))


@pytest.mark.parametrize("shape", [(3, 6), (2, 10), (6,)])
def test_corrcoef_against_numpy(shape):
    a = arr(shape)
    close(torch.corrcoef(t(a)), np.corrcoef(a), 1e-10)
    close(t(a).corrcoef(), np.corrcoef(a), 1e-10)


def test_corrcoef_constant_row_and_error():
    assert math.isnan(torch.corrcoef(torch.ones(4)).item())
    with pytest.raises(RuntimeError, match="corrcoef\\(\\): expected input to have two or fewer dimensions"):
        torch.corrcoef(torch.ones(2, 2, 2))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("bins, lo, hi", [(10, 0, 0), (4, -1.0, 1.0), (1, 0, 0), (7, -5.0, 5.0)])
def test_histc_against_numpy(bins, lo, hi, dtype):
    a = arr((6, 9), dtype)
    a[0, 0] = np.nan if lo != hi else a[0, 0]
    got = torch.histc(t(a), bins, lo, hi)
    assert got.dtype == dtype
    data = a[np.isfinite(a)].astype(np.float64)
    rng = (data.min(), data.max()) if lo == hi == 0 else (lo, hi)
    inside = data[(data >= rng[0]) & (data <= rng[1])]
    close(got, np.histogram(inside, bins=bins, range=rng)[0].astype(np.float64), 0)
    assert t(a).histc(bins, lo, hi).tolist() == got.tolist()


def test_histc_edges_and_errors():
    # a constant input widens the range to [1, 3]; a value equal to max falls in the last bin
    assert torch.histc(torch.tensor([2.0, 2.0]), bins=4).tolist() == [0.0, 0.0, 2.0, 0.0]
    assert torch.histc(torch.tensor([0.0, 1.0, 2.0]), bins=2, min=0, max=2).tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="bins must be > 0, but got 0"):
        torch.histc(torch.ones(3), bins=0)
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        torch.histc(torch.ones(3), bins=3, min=2, max=1)


# ---- integration ----
@pytest.mark.parametrize("shape, dim", [((7,), -1), ((3, 6), 1), ((5, 4), 0), ((2, 3, 4), 1)])
def test_trapezoid_against_numpy(shape, dim):
    y = arr(shape)
    x = np.sort(RNG.uniform(0, 5, size=shape[dim]))
    close(torch.trapezoid(t(y), t(x), dim=dim), np.trapezoid(y, x, axis=dim))
    close(torch.trapezoid(t(y), dx=0.25, dim=dim), np.trapezoid(y, dx=0.25, axis=dim))
    close(torch.trapz(t(y), dim=dim), np.trapezoid(y, axis=dim))
    xs = np.sort(RNG.uniform(0, 5, size=shape), axis=dim)  # sample points of y's shape
    close(torch.trapezoid(t(y), t(xs), dim=dim), np.trapezoid(y, xs, axis=dim))
    steps = np.diff(x).reshape([-1 if i == dim % len(shape) else 1 for i in range(len(shape))])
    pairs = np.take(y, range(shape[dim] - 1), axis=dim) + np.take(y, range(1, shape[dim]), axis=dim)
    close(torch.cumulative_trapezoid(t(y), t(x), dim=dim), np.cumsum(steps * pairs / 2, axis=dim))
    close(torch.cumulative_trapezoid(t(y), dx=2.0, dim=dim), np.cumsum(pairs, axis=dim))


def test_trapezoid_edges_and_errors():
    assert torch.trapezoid(torch.tensor([1, 2, 3])).item() == 4.0
    assert torch.trapezoid(torch.ones(3, 0)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match="trapezoid: There must be one `x` value for each sample point"):
        torch.trapezoid(torch.ones(4), torch.ones(3))
    msg = "cumulative_trapezoid: There must be one `x` value for each sample"
    with pytest.raises(RuntimeError, match=msg):
        torch.cumulative_trapezoid(torch.ones(4), torch.ones(3))
    with pytest.raises(RuntimeError, match="bool is not supported"):
        torch.trapezoid(torch.tensor([True, False]))


# ---- products ----
@pytest.mark.parametrize("sa, sb, dims", [
    ((3, 4, 5), (4, 5, 2), 2), ((3, 4), (4, 2), 1), ((2, 3), (4,), 0),
    ((2, 3, 4), (4, 2, 3), ([0, 2], [1, 0])),
    ((2, 3, 4), (3, 5), ([1], [0])), ((2, 3), (3, 2), (1, 0)), ((2, 3, 4), (2, 3, 4), 3),
])
def test_tensordot_against_numpy(sa, sb, dims):
    a, b = arr(sa), arr(sb)
    axes = dims if isinstance(dims, int) else ([dims[0]] if isinstance(dims[0], int) else dims[0],
                                                [dims[1]] if isinstance(dims[1], int) else dims[1])
    close(torch.tensordot(t(a), t(b), dims), np.tensordot(a, b, axes=axes), 1e-12)


def test_tensordot_sums_out_size_one_contracted_dims():
    a, b = arr((2, 1)), arr((4, 3))
    close(torch.tensordot(t(a), t(b), ([1], [0])), a @ b.sum(0, keepdims=True))
    close(torch.tensordot(t(b), t(a.T), ([0], [0])), b.sum(0)[:, None] @ a.T.sum(0, keepdims=True))


def test_tensordot_tensor_dims_out_and_errors():
    a, b = arr((2, 3)), arr((3, 4))
    close(torch.tensordot(t(a), t(b), torch.tensor(1)), a @ b)
    close(torch.tensordot(t(a), t(b), torch.tensor([[1], [0]])), a @ b)
    out = torch.empty(2, 4, dtype=torch.float64)
    assert torch.tensordot(t(a), t(b), 1, out=out) is out
    close(out, a @ b)
    msg = ("contracted dimensions need to match, but first has size 3 in dim 1 and second has size 4 in "
           "dim 0")
    with pytest.raises(RuntimeError, match=msg):
        torch.tensordot(torch.ones(2, 3), torch.ones(4, 3), ([1], [0]))
    with pytest.raises(RuntimeError, match="tensordot expects dims >= 0, but got dims=-1"):
        torch.tensordot(torch.ones(2, 3), torch.ones(3, 2), -1)
    with pytest.raises(RuntimeError, match="both dimension lists should have same length"):
        torch.tensordot(torch.ones(2, 3), torch.ones(3, 2), ([0, 1], [1]))


@pytest.mark.parametrize("sa, sb", [((2, 3), (4, 5)), ((3,), (2, 2)), ((2, 1, 3), (2, 2)), ((), (3,))])
def test_kron_against_numpy(sa, sb):
    a, b = arr(sa), arr(sb)
    close(torch.kron(t(a), t(b)), np.kron(a, b))
    close(t(a).kron(t(b)), np.kron(a, b))


def test_addmv_addr_against_numpy():
    s, m, v = arr((3,)), arr((3, 4)), arr((4,))
    close(torch.addmv(t(s), t(m), t(v), beta=0.5, alpha=2.0), 0.5 * s + 2.0 * (m @ v))
    scalar = torch.tensor(1.5, dtype=torch.float64)  # a 0-d input broadcasts
    close(torch.addmv(scalar, t(m), t(v)), 1.5 + m @ v)
    nan_in = torch.full((3,), math.nan, dtype=torch.float64)
    close(torch.addmv(nan_in, t(m), t(v), beta=0), m @ v)  # beta=0 ignores NaN in input
    a, b, base = arr((3,)), arr((5,)), arr((3, 1))
    close(torch.addr(t(base), t(a), t(b), beta=2, alpha=-1), 2 * base - np.outer(a, b))
    close(t(base).addr(t(a), t(b)), base + np.outer(a, b))
    x = t(s)
    assert x.addmv_(t(m), t(v)) is x
    close(x, s + m @ v)
    y = t(arr((3, 5)))
    expected = y.numpy() + np.outer(a, b)
    assert y.addr_(t(a), t(b)) is y
    close(y, expected)


def test_addmv_addr_errors():
    with pytest.raises(RuntimeError, match="vector \\+ matrix @ vector expected, got 1, 2, 2"):
        torch.addmv(torch.ones(3), torch.ones(3, 4), torch.ones(4, 1))
    with pytest.raises(RuntimeError, match=r"size mismatch, got input \(3\), mat \(3x4\), vec \(5\)"):
        torch.addmv(torch.ones(3), torch.ones(3, 4), torch.ones(5))
    with pytest.raises(RuntimeError, match="addr: Expected 1-D argument vec1, but got 2-D"):
        torch.addr(torch.ones(3, 3), torch.ones(3, 1), torch.ones(3))
    with pytest.raises(RuntimeError, match="expanded size"):
        torch.addr(torch.ones(4), torch.ones(3), torch.ones(3))


@pytest.mark.parametrize("n, increasing", [(None, False), (0, False), (1, True), (5, False), (3, True)])
def test_vander_against_numpy(n, increasing):
    x = arr((4,))
    close(torch.vander(t(x), n, increasing), np.vander(x, n, increasing))
    ints = torch.vander(torch.tensor([1, 2, 3], dtype=torch.int32), n, increasing)
    assert ints.dtype == torch.int64
    close(ints, np.vander([1, 2, 3], n, increasing), 0)


def test_vander_errors():
    with pytest.raises(RuntimeError, match="x must be a one-dimensional tensor."):
        torch.vander(torch.ones(2, 2))
    with pytest.raises(RuntimeError, match="N must be non-negative."):
        torch.vander(torch.ones(2), -1)


# ---- building tensors ----
@pytest.mark.parametrize("row, col", [(3, 3), (4, 6), (6, 2), (0, 3), (1, 1)])
@pytest.mark.parametrize("offset", [-2, -1, 0, 1, 3])
def test_tri_indices_against_numpy(row, col, offset):
    up = torch.triu_indices(row, col, offset)
    lo = torch.tril_indices(row, col, offset)
    assert up.dtype == torch.int64 and up.shape[0] == 2
    close(up, np.array(np.triu_indices(row, offset, col)).reshape(2, -1), 0)
    close(lo, np.array(np.tril_indices(row, offset, col)).reshape(2, -1), 0)
    assert torch.tril_indices(row, col, offset, dtype=torch.int32).dtype == torch.int32


def test_tri_indices_errors():
    with pytest.raises(RuntimeError, match="row must be non-negative, got-1"):
        torch.triu_indices(-1, 3)
    with pytest.raises(RuntimeError, match="col must be non-negative, got-2"):
        torch.tril_indices(3, -2)


def test_block_diag():
    a, b, c = arr((2, 3)), arr((3,)), np.array(7.0)
    got = torch.block_diag(t(a), t(c), t(b))
    expected = np.zeros((4, 7))
    expected[:2, :3], expected[2, 3], expected[3, 4:] = a, 7.0, b
    close(got, expected)
    mixed = torch.block_diag(torch.tensor([[1, 2]]), torch.tensor([0.5]))
    assert mixed.dtype == torch.float32 and mixed.tolist() == [[1.0, 2.0, 0.0], [0.0, 0.0, 0.5]]
    assert torch.block_diag().shape == (1, 0)
    msg = "Input tensors must have 2 or fewer dimensions. Input 1 has 3 dimensions"
    with pytest.raises(RuntimeError, match=msg):
        torch.block_diag(torch.ones(2), torch.ones(1, 1, 1))


def test_cartesian_prod_and_combinations_against_itertools():
    a, b, c = [1, 2, 3], [4, 5], [6, 7]
    got = torch.cartesian_prod(torch.tensor(a), torch.tensor(b), torch.tensor(c))
    assert got.tolist() == [list(p) for p in itertools.product(a, b, c)]
    single = torch.tensor(a)
    assert torch.cartesian_prod(single) is single
    x = torch.tensor([10, 20, 30, 40, 50])
    for r in (1, 2, 3, 5, 6):
        for rep in (False, True):
            gen = itertools.combinations_with_replacement if rep else itertools.combinations
            got = torch.combinations(x, r, with_replacement=rep)
            expected = [list(p) for p in gen(x.tolist(), r)]
            assert got.shape == (len(expected), r) and got.tolist() == expected
    assert torch.combinations(x, 0).shape == (0,)
    with pytest.raises(RuntimeError, match=r"Expect a 1D vector, but got shape \[2, 2\]"):
        torch.cartesian_prod(torch.ones(2, 2))
    with pytest.raises(RuntimeError, match=r"Expect a 1D vector, but got shape \[2, 2\]"):
        torch.combinations(torch.ones(2, 2))
    with pytest.raises(RuntimeError, match="Expect a non-negative number, but got -1"):
        torch.combinations(x, -1)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4), (1, 2, 3, 4)])
def test_atleast_nd_against_numpy(shape):
    a = arr(shape)
    for name in ("atleast_1d", "atleast_2d", "atleast_3d"):
        got = getattr(torch, name)(t(a))
        assert tuple(got.shape) == getattr(np, name)(a).shape
        close(got, getattr(np, name)(a))
    x = t(a)
    if x.dim() >= 3:
        assert torch.atleast_3d(x) is x
    pair = torch.atleast_2d(t(a), torch.tensor(1.0))
    assert isinstance(pair, tuple) and [tuple(p.shape) for p in pair] == [np.atleast_2d(a).shape, (1, 1)]
    assert isinstance(torch.atleast_1d([t(a)]), tuple)


@pytest.mark.parametrize("offset", [-2, 0, 1])
@pytest.mark.parametrize("dim1, dim2", [(-2, -1), (0, 1), (2, 0), (-1, 1)])
def test_diag_embed(offset, dim1, dim2):
    a = arr((2, 3))
    m = 3 + abs(offset)
    base = np.zeros((2, m, m))
    for k in range(3):
        base[:, k + max(0, -offset), k + max(0, offset)] = a[:, k]
    expected = np.moveaxis(base, (1, 2), (dim1 % 3, dim2 % 3))
    close(torch.diag_embed(t(a), offset, dim1, dim2), expected)
    close(t(a).diag_embed(offset, dim1, dim2).diagonal(offset, dim1, dim2), a)


def test_diag_embed_diagflat_errors_and_values():
    with pytest.raises(RuntimeError, match="diagonal dimensions cannot be identical 1, 1"):
        torch.diag_embed(torch.ones(2, 3), 0, 1, 1)
    for offset in (-1, 0, 2):
        a = arr((2, 3))
        close(torch.diagflat(t(a), offset), np.diagflat(a, offset))
        close(t(a).diagflat(offset), np.diagflat(a, offset))


def test_broadcast_to():
    a = arr((3, 1))
    got = torch.broadcast_to(t(a), (2, 3, 4))
    close(got, np.broadcast_to(a, (2, 3, 4)))
    x = t(a)
    v = x.broadcast_to((3, 5))
    x[0, 0] = 9.0
    assert v[0, 4].item() == 9.0  # a view
    assert x.broadcast_to((-1, 2)).shape == (3, 2)
    with pytest.raises(RuntimeError, match="The expanded size of the tensor"):
        x.broadcast_to((4, 2))


# ---- flips and rotations ----
@pytest.mark.parametrize("k", [-1, 0, 1, 2, 3, 4, 6])
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (1, 2), (-1, 0)])
def test_rot90_against_numpy(k, dims):
    a = arr((2, 3, 4))
    close(torch.rot90(t(a), k, dims), np.rot90(a, k, dims))


def test_flips_and_rot90_errors():
    a = arr((3, 4))
    close(torch.flipud(t(a)), np.flipud(a))
    close(t(a).fliplr(), np.fliplr(a))
    close(torch.rot90(t(a)), np.rot90(a))
    with pytest.raises(RuntimeError, match="Input must be >= 1-d."):
        torch.flipud(torch.tensor(1.0))
    with pytest.raises(RuntimeError, match="Input must be >= 2-d."):
        torch.fliplr(torch.ones(3))
    with pytest.raises(RuntimeError, match="expected total rotation dims == 2, but got dims = 3"):
        torch.rot90(torch.ones(2, 2, 2), 1, [0, 1, 2])
    with pytest.raises(RuntimeError, match="expected total dims >= 2, but got total dims = 1"):
        torch.rot90(torch.ones(2))
    msg = "expected rotation dims to be different, but got dim0 = 0 and dim1 = 0"
    with pytest.raises(RuntimeError, match=msg):
        torch.rot90(torch.ones(2, 2), 1, [0, 0])
    with pytest.raises(RuntimeError, match="Rotation dim0 out of range, dim0 = 5"):
        torch.rot90(torch.ones(2, 2), 1, [5, 0])


# ---- indexing ----
@pytest.mark.parametrize("sa, si, dim", [((3, 4), (3, 2), 1), ((3, 4), (5, 4), 0), ((3, 1), (3, 6), 1),
                                         ((1, 4), (2, 1), 1), ((2, 3, 4), (2, 3, 1), -1)])
def test_take_along_dim_against_numpy(sa, si, dim):
    a = arr(sa)
    idx = RNG.integers(0, sa[dim], size=si)
    shape = np.broadcast_shapes(tuple(s if i != dim % len(sa) else 1 for i, s in enumerate(sa)),
                                tuple(s if i != dim % len(si) else 1 for i, s in enumerate(si)))
    ab = np.broadcast_to(a, tuple(shape[i] if i != dim % len(sa) else sa[i] for i in range(len(sa))))
    ib = np.broadcast_to(idx, tuple(shape[i] if i != dim % len(si) else si[i] for i in range(len(si))))
    expected = np.take_along_axis(ab, ib, dim)
    close(torch.take_along_dim(t(a), t(idx), dim), expected)
    close(t(a).take_along_dim(t(idx), dim), expected)


def test_take_along_dim_flat_and_errors():
    a = arr((3, 4))
    close(torch.take_along_dim(t(a), torch.tensor([[0, 11], [5, 3]])), a.reshape(-1)[[0, 11, 5, 3]])
    msg = ("input and indices should have the same number of dimensions, but got 2 dimensions for input, "
           "and 1 dimensions for indices")
    with pytest.raises(RuntimeError, match=msg):
        torch.take_along_dim(torch.ones(2, 3), torch.tensor([0]), 1)
    with pytest.raises(RuntimeError, match="dtype of indices should be Long but got Int"):
        torch.take_along_dim(torch.ones(2, 3), torch.tensor([[0]], dtype=torch.int32), 1)
    msg = r"The size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton dimension 0"
    with pytest.raises(RuntimeError, match=msg):
        torch.take_along_dim(torch.ones(2, 3), torch.zeros(3, 1, dtype=torch.int64), 1)
    with pytest.raises(RuntimeError, match="out of bounds"):
        torch.take_along_dim(torch.ones(2, 3), torch.tensor([[3]]), 1)


def test_index_fill_and_index_copy():
    a = arr((3, 4))
    expected = a.copy()
    expected[:, [0, 3]] = -1.5
    close(torch.index_fill(t(a), 1, torch.tensor([0, -1]), -1.5), expected)
    close(t(a).index_fill(1, torch.tensor([0, 3]), torch.tensor(-1.5, dtype=torch.float64)), expected)
    x = t(a)
    assert x.index_fill_(1, torch.tensor(3), 2.0) is x and x[:, 3].tolist() == [2.0] * 3
    src = arr((2, 4))
    expected = a.copy()
    expected[[2, 0]] = src
    close(torch.index_copy(t(a), 0, torch.tensor([2, 0]), t(src)), expected)
    y = t(a)
    view = y[0]
    assert y.index_copy_(0, torch.tensor([2, 0]), t(src)) is y
    close(y, expected)
    close(view, src[1])
    s = torch.tensor(4.0)
    assert s.index_fill_(0, torch.tensor([0]), 1.0) is s and s.item() == 1.0
    assert torch.index_copy(torch.zeros(2, 3), 1, torch.tensor(1), torch.ones(2, 1)).tolist() == \
        [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]


def test_index_fill_and_index_copy_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 1 with size 3"):
        x.index_fill(1, torch.tensor([0, 3]), 1.0)
    with pytest.raises(IndexError, match="index_fill_\\(\\): Expected dtype int64 for index."):
        x.index_fill(1, torch.tensor([0], dtype=torch.int32), 1.0)
    msg = r"index_fill_ only supports a 0-dimensional value tensor, but got tensor with 1 dimension\(s\)."
    with pytest.raises(RuntimeError, match=msg):
        x.index_fill(1, torch.tensor([0]), torch.ones(1))
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.index_fill(2, torch.tensor([0]), 1.0)
    msg = r"index_copy_\(\): index -1 is out of bounds for dimension 0 with size 2"
    with pytest.raises(IndexError, match=msg):
        x.index_copy(0, torch.tensor([-1]), torch.ones(1, 3))
    msg = r"index_copy_\(\): index 2 is out of bounds for dimension 0 with size 2"
    with pytest.raises(IndexError, match=msg):
        x.index_copy(0, torch.tensor([2]), torch.ones(1, 3))
    msg = r"self and source expected to have the same dtype, but got \(self\) Float and \(source\) Double"
    with pytest.raises(RuntimeError, match=msg):
        x.index_copy(0, torch.tensor([0]), torch.ones(1, 3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="Source/destination tensor must have same slice shapes"):
        x.index_copy(0, torch.tensor([0]), torch.ones(1, 4))
    msg = r"Number of indices \(2\) should be equal to source.size\(dim\) \(1\)"
    with pytest.raises(IndexError, match=msg):
        x.index_copy(0, torch.tensor([0, 1]), torch.ones(1, 3))
    with pytest.raises(RuntimeError, match="Expected a long tensor for index, but got Int"):
        x.index_copy(0, torch.tensor([0], dtype=torch.int32), torch.ones(1, 3))


@pytest.mark.parametrize("shape", [(2, 4), (3,), (2, 3, 4)])
def test_unravel_index_against_numpy(shape):
    flat = RNG.integers(0, math.prod(shape), size=(2, 3))
    got = torch.unravel_index(t(flat), shape)
    expected = np.unravel_index(flat, shape)
    assert isinstance(got, tuple) and len(got) == len(shape)
    for g, e in zip(got, expected):
        assert g.dtype == torch.int64
        close(g, e, 0)
    assert [c.item() for c in torch.unravel_index(torch.tensor(7, dtype=torch.int32), 10)] == [7]


def test_unravel_index_errors():
    with pytest.raises(TypeError, match="expected 'indices' to be integer dtype, but got torch.float32"):
        torch.unravel_index(torch.tensor([1.0]), (2, 2))
    with pytest.raises(ValueError, match="'shape' cannot have negative values, but got \\(2, -1\\)"):
        torch.unravel_index(torch.tensor([1]), (2, -1))
    with pytest.raises(TypeError, match="expected 'shape' sequence to only contain ints"):
        torch.unravel_index(torch.tensor([1]), (2, 1.5))


def test_select_slice_diagonal_scatter_against_numpy():
    a = arr((4, 5))
    src = arr((5,))
    expected = a.copy()
    expected[-1] = src
    close(torch.select_scatter(t(a), t(src), 0, -1), expected)
    src = arr((4, 2))
    for start, end, step in ((1, 4, 2), (None, 2, 1), (-2, None, 1), (0, 5, 3)):
        expected = a.copy()
        expected[:, start:end:step] = src
        close(t(a).slice_scatter(t(src), 1, start, end, step), expected)
    for offset, d1, d2 in ((0, 0, 1), (1, 0, 1), (-2, 1, 0), (2, 1, 0)):
        diag = np.diagonal(a, offset, d1, d2)
        src = arr(diag.shape)
        expected = a.copy() if d1 < d2 else a.T.copy()
        o = offset
        rows, cols = (np.arange(len(src)) + max(0, -o), np.arange(len(src)) + max(0, o))
        expected[rows, cols] = src
        expected = expected if d1 < d2 else expected.T
        close(torch.diagonal_scatter(t(a), t(src), offset, d1, d2), expected)


def test_scatter_family_errors():
    msg = r"expected src to have a size equal to the slice of self. src size = \[3\], slice size = \[5\]"
    with pytest.raises(RuntimeError, match=msg):
        torch.select_scatter(torch.zeros(4, 5), torch.ones(3), 0, 0)
    with pytest.raises(RuntimeError, match=r"src size = \[4, 3\], slice size = \[4, 2\]"):
        torch.slice_scatter(torch.zeros(4, 5), torch.ones(4, 3), 1, 0, 4, 2)
    msg = r"equal to the diagonal of self. src size = \[3\], diagonal size = \[4\]"
    with pytest.raises(RuntimeError, match=msg):
        torch.diagonal_scatter(torch.zeros(4, 5), torch.ones(3))
    with pytest.raises(IndexError):
        torch.select_scatter(torch.zeros(4, 5), torch.ones(5), 0, 4)


def test_masked_scatter_against_numpy():
    a = arr((3, 4))
    mask = RNG.uniform(size=(3, 4)) > 0.5
    src = arr((12,))
    expected = a.copy()
    expected[mask] = src[:mask.sum()]
    close(torch.masked_scatter(t(a), t(mask), t(src)), expected)
    row_mask = np.array([True, False, True, True])  # broadcast over rows
    expected = a.copy()
    expected[np.broadcast_to(row_mask, a.shape)] = src[:9]
    close(t(a).masked_scatter(t(row_mask), t(src.reshape(3, 4))), expected)
    x = t(a)
    assert x.masked_scatter_(t(row_mask), t(src)) is x
    close(x, expected)
    assert torch.zeros(2).masked_scatter(torch.tensor([False, False]), torch.ones(0)).tolist() == [0.0, 0.0]


def test_masked_scatter_errors():
    with pytest.raises(RuntimeError, match="Number of elements of source < number of ones in mask"):
        torch.zeros(4).masked_scatter(torch.tensor([True, True, True, False]), torch.ones(2))
    with pytest.raises(RuntimeError, match="masked_scatter_ only supports boolean masks"):
        torch.zeros(2).masked_scatter(torch.tensor([1, 0], dtype=torch.uint8), torch.ones(2))
    with pytest.raises(RuntimeError, match="expected self and source to have same dtypes"):
        torch.zeros(2).masked_scatter(torch.tensor([True, False]), torch.ones(2, dtype=torch.float64))


# ---- torch.* registration ----
def test_functions_and_methods_are_registered():
    methods = ["broadcast_to", "diff", "logaddexp", "logaddexp2", "nansum", "nanmean", "xlogy", "logit",
               "hypot", "copysign", "heaviside", "sinc", "deg2rad", "rad2deg", "take_along_dim",
               "index_fill", "index_copy", "rot90", "flipud", "fliplr", "kron", "diag_embed", "diagflat",
               "cov", "corrcoef", "logcumsumexp", "renorm", "positive", "addmv", "addr", "quantile",
               "nanquantile", "select_scatter", "slice_scatter", "diagonal_scatter", "masked_scatter",
               "histc", "gcd", "lcm"]
    inplace = ["index_fill_", "index_copy_", "logit_", "xlogy_", "hypot_", "copysign_", "deg2rad_",
               "rad2deg_", "sinc_", "renorm_", "heaviside_", "addmv_", "addr_", "masked_scatter_", "gcd_",
               "lcm_"]
    functions = ["tensordot", "triu_indices", "tril_indices", "block_diag", "cartesian_prod",
                 "combinations", "atleast_1d", "atleast_2d", "atleast_3d", "trapezoid", "trapz",
                 "cumulative_trapezoid", "vander", "unravel_index"]
    for name in methods + functions:
        assert callable(getattr(torch, name)), name
    for name in methods + inplace:
        assert callable(getattr(torch.Tensor, name)), name
    out = torch.empty(3)
    assert torch.sinc(torch.tensor([0.0, 0.5, 1.5]), out=out) is out
    close(out, np.sinc([0.0, 0.5, 1.5]), 1e-6)


# ---- gradients (float64 finite differences) ----
MASK_2X3 = torch.tensor([[True, False, True], [False, True, False]])


def _f64(*vals):
    return torch.tensor(list(vals), dtype=torch.float64)


GRADS = {
    "logaddexp": (lambda a, b: torch.logaddexp(a, b), lambda: (leaf(3, 4), leaf(4))),
    "logaddexp_tie": (lambda a, b: torch.logaddexp(a, b), lambda: (_f64(1.0, 2.0).requires_grad_(),
                                                                   _f64(1.0, 2.0).requires_grad_())),
    "logaddexp2": (lambda a, b: torch.logaddexp2(a, b), lambda: (leaf(3, 1), leaf(1, 4))),
    "xlogy": (lambda a, b: torch.xlogy(a, b), lambda: (leaf(3, 4), leaf(3, 4, lo=0.1))),
    "logit": (lambda a: torch.logit(a), lambda: (leaf(5, lo=0.05, hi=0.95),)),
    "logit_eps": (lambda a: torch.logit(a, 0.2), lambda: (leaf(5, lo=0.25, hi=0.75),)),
    "hypot": (lambda a, b: torch.hypot(a, b), lambda: (leaf(3, 4), leaf(4))),
    "copysign": (lambda a: torch.copysign(a, _f64(1.0, -1.0, -0.0, 2.0)), lambda: (leaf(3, 4),)),
    "sinc": (lambda a: torch.sinc(a), lambda: (leaf(6),)),
    "rad2deg": (lambda a: torch.rad2deg(a), lambda: (leaf(3),)),
    "nansum": (lambda a: torch.nansum(a, 1), lambda: (leaf(3, 4),)),
    "nanmean": (lambda a: torch.nanmean(a, 0), lambda: (leaf(3, 4),)),
    "diff": (lambda a, p: torch.diff(a, 2, 0, prepend=p), lambda: (leaf(5, 3), leaf(1, 3))),
    "logcumsumexp": (lambda a: torch.logcumsumexp(a, 1), lambda: (leaf(2, 7),)),
    "renorm": (lambda a: torch.renorm(a, 2, 0, 1.5), lambda: (leaf(3, 4),)),
    "quantile": (lambda a: torch.quantile(a, _f64(0.2, 0.5, 0.9), dim=1), lambda: (leaf(3, 5),)),
    "nanquantile": (lambda a: torch.nanquantile(a, 0.3, interpolation="midpoint"), lambda: (leaf(7),)),
    "cov": (lambda a, w: torch.cov(a, aweights=w), lambda: (leaf(2, 5), leaf(5, lo=0.2, hi=1.0))),
    "corrcoef": (lambda a: torch.corrcoef(a), lambda: (leaf(3, 5),)),
    "trapezoid": (lambda y, x: torch.trapezoid(y, x), lambda: (leaf(2, 5), leaf(5))),
    "cumulative_trapezoid": (lambda y: torch.cumulative_trapezoid(y, dx=0.3), lambda: (leaf(2, 5),)),
    "tensordot": (lambda a, b: torch.tensordot(a, b, ([0, 2], [1, 0])),
                  lambda: (leaf(2, 3, 4), leaf(4, 2, 3))),
    "kron": (lambda a, b: torch.kron(a, b), lambda: (leaf(2, 3), leaf(2, 2))),
    "addmv": (lambda s, m, v: torch.addmv(s, m, v, beta=0.5, alpha=2),
              lambda: (leaf(3), leaf(3, 4), leaf(4))),
    "addr": (lambda s, a, b: torch.addr(s, a, b, beta=2, alpha=0.5), lambda: (leaf(3, 1), leaf(3), leaf(2))),
    "vander": (lambda x: torch.vander(x, 4), lambda: (leaf(3, lo=0.5),)),
    "block_diag": (lambda a, b: torch.block_diag(a, b), lambda: (leaf(2, 2), leaf(3))),
    "cartesian_prod": (lambda a, b: torch.cartesian_prod(a, b), lambda: (leaf(2), leaf(3))),
    "combinations": (lambda a: torch.combinations(a, 3), lambda: (leaf(4),)),
    "diag_embed": (lambda a: torch.diag_embed(a, -1, 0, 2), lambda: (leaf(2, 3),)),
    "diagflat": (lambda a: torch.diagflat(a, 1), lambda: (leaf(2, 2),)),
    "take_along_dim": (lambda a: torch.take_along_dim(a, torch.tensor([[0], [2]]), 1), lambda: (leaf(2, 3),)),
    "index_fill": (lambda a, v: a.index_fill(1, torch.tensor([0, 2]), v), lambda: (leaf(2, 3), leaf())),
    "index_copy": (lambda a, s: a.index_copy(0, torch.tensor([2, 0]), s), lambda: (leaf(3, 2), leaf(2, 2))),
    "rot90": (lambda a: torch.rot90(a, 3, (1, 0)), lambda: (leaf(2, 3),)),
    "select_scatter": (lambda a, s: torch.select_scatter(a, s, 1, 0), lambda: (leaf(2, 3), leaf(2))),
    "slice_scatter": (lambda a, s: torch.slice_scatter(a, s, 1, 0, None, 2),
                      lambda: (leaf(2, 4), leaf(2, 2))),
    "diagonal_scatter": (lambda a, s: torch.diagonal_scatter(a, s, -1), lambda: (leaf(3, 3), leaf(2))),
    "masked_scatter": (lambda a, s: a.masked_scatter(MASK_2X3, s), lambda: (leaf(2, 3), leaf(4))),
    "broadcast_to": (lambda a: torch.broadcast_to(a, (2, 3)), lambda: (leaf(3),)),
    "atleast_3d": (lambda a: torch.atleast_3d(a), lambda: (leaf(3),)),
}


@pytest.mark.parametrize("name", list(GRADS))
def test_gradcheck(name):
    fn, inputs = GRADS[name]
    assert gradcheck(fn, inputs())


@pytest.mark.parametrize("name, fn", [
    ("select_scatter", lambda s: torch.select_scatter(torch.zeros(3, 4, dtype=torch.float64), s, 1, -1)),
    ("diagonal_scatter", lambda s: torch.diagonal_scatter(torch.zeros(3, 4, dtype=torch.float64), s, 1)),
    ("diag_embed", lambda s: torch.diag_embed(s, 1)),
    ("index_fill_0d", lambda s: torch.zeros((), dtype=torch.float64).index_fill(0, torch.tensor(0), s.sum())),
])
def test_gradient_reaches_src_of_a_constant_base(name, fn):
    assert gradcheck(fn, (leaf(3),))


# ---- devices ----
DEVICE_CASES = {
    "logaddexp": lambda x, y: torch.logaddexp(x, y),
    "hypot": lambda x, y: torch.hypot(x, y),
    "xlogy": lambda x, y: torch.xlogy(x, y.abs()),
    "sinc": lambda x, y: torch.sinc(x),
    "nanmean": lambda x, y: x.nanmean(1),
    "logcumsumexp": lambda x, y: torch.logcumsumexp(x, 1),
    "quantile": lambda x, y: torch.quantile(x, 0.3, dim=1),
    "cov": lambda x, y: torch.cov(x),
    "histc": lambda x, y: torch.histc(x, 5),
    "tensordot": lambda x, y: torch.tensordot(x, y, 1),
    "kron": lambda x, y: torch.kron(x, y),
    "triu_indices": lambda x, y: torch.triu_indices(3, 4, device=x.device),
    "combinations": lambda x, y: torch.combinations(y),
    "diag_embed": lambda x, y: torch.diag_embed(x),
    "take_along_dim": lambda x, y: x.take_along_dim(x.argsort(1), 1),
    "index_copy": lambda x, y: x.index_copy(0, torch.tensor([2, 0], device=x.device), x[:2] * 2),
    "diagonal_scatter": lambda x, y: torch.diagonal_scatter(x, y[:3]),
    "masked_scatter": lambda x, y: x.masked_scatter(x > 0, (x * 3).flatten().flip(0)),
    "gcd": lambda x, y: torch.gcd((x * 10).long(), (y * 7).long()),
}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", list(DEVICE_CASES))
def test_on_cuda_matches_cpu(name):
    fn = DEVICE_CASES[name]
    a, b = t(arr((3, 4))), t(arr((4,)))
    want = fn(a, b)
    got = fn(a.cuda(), b.cuda())
    assert got.device.type == "cuda"
    close(got.cpu(), want.numpy(), 1e-10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_gradients_on_cuda_match_cpu():
    for fn in (lambda x: torch.logcumsumexp(x, 1).sum(), lambda x: torch.quantile(x, 0.4, dim=0).sum(),
               lambda x: torch.hypot(x, x.flip(0)).sum(), lambda x: torch.cov(x).sum()):
        a = leaf(3, 4)
        c = a.detach().cuda().requires_grad_()
        fn(a).backward()
        fn(c).backward()
        close(c.grad.cpu(), a.grad.numpy(), 1e-10)
