"""Element-wise ops against numpy: broadcasting, in-place `_` forms, `out=`, dtypes and type promotion."""

import math
import operator

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest

RNG = np.random.default_rng(3)
FLOATS = [torch.float32, torch.float64]
NP = {torch.float32: np.float32, torch.float64: np.float64, torch.int64: np.int64, torch.int32: np.int32,
      torch.bool: np.bool_, torch.float16: np.float16, torch.uint8: np.uint8, torch.int8: np.int8,
      torch.int16: np.int16}
TOL = {torch.float32: 1e-5, torch.float64: 1e-12, torch.float16: 2e-3, torch.bfloat16: 2e-2}


def rand(shape, dtype=torch.float32, lo=-3.0, hi=3.0):
    a = RNG.uniform(lo, hi, size=shape)
    if dtype in (torch.int64, torch.int32, torch.int16, torch.int8):
        a = np.round(a * 3)
    a = a.astype(NP[dtype]) if dtype in NP else a.astype(np.float32)
    return torch.tensor(a).to(dtype), a


def close(t, expected, dtype=None, tol=None):
    dtype = dtype or t.dtype
    tol = tol if tol is not None else TOL.get(dtype, 0)
    got = t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()
    np.testing.assert_allclose(got.astype(np.float64) if got.dtype != np.bool_ else got, expected,
                               rtol=tol, atol=tol, equal_nan=True)


SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((5,), ()),
          ((0, 3), (1, 3)), ((1,), (3, 1, 2))]

BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "maximum": np.maximum,
    "minimum": np.minimum, "atan2": np.arctan2, "remainder": np.remainder, "fmod": np.fmod,
    "floor_divide": np.floor_divide,
}
COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
           "ge": np.greater_equal}


def divisor_safe(op, b):
    if op in ("div", "remainder", "fmod", "floor_divide"):
        b = np.where(np.abs(b) < 0.5, 1.5, b).astype(b.dtype)
    return b


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("sa, sb", SHAPES)
@pytest.mark.parametrize("op", list(BINARY))
def test_binary_float_broadcast(op, sa, sb, dtype):
    x, a = rand(sa, dtype)
    _, b = rand(sb, dtype)
    b = divisor_safe(op, b)
    y = torch.tensor(b)
    r = getattr(torch, op)(x, y)
    assert r.dtype == dtype and r.shape == np.broadcast_shapes(sa, sb)
    close(r, BINARY[op](a.astype(np.float64), b.astype(np.float64)), tol=1e-4 if dtype == torch.float32 else 1e-10)
    close(getattr(x, op)(y), BINARY[op](a.astype(np.float64), b.astype(np.float64)),
          tol=1e-4 if dtype == torch.float32 else 1e-10)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "maximum", "minimum", "remainder", "fmod", "floor_divide"])
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8])
def test_binary_int(op, dtype):
    a = RNG.integers(-20 if dtype != torch.uint8 else 0, 20, size=(4, 5)).astype(NP[dtype])
    b = RNG.integers(1, 7, size=(5,)).astype(NP[dtype])
    if dtype != torch.uint8:
        b = b * np.where(RNG.random(5) > 0.5, 1, -1).astype(NP[dtype])
    r = getattr(torch, op)(torch.tensor(a), torch.tensor(b))
    assert r.dtype == dtype
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(r.numpy(), BINARY[op](a, b))


def test_division_semantics():
    a = torch.tensor([7, -7, 7, -7])
    b = torch.tensor([2, 2, -2, -2])
    assert (a // b).tolist() == [3, -4, -4, 3]
    assert torch.div(a, b, rounding_mode="floor").tolist() == [3, -4, -4, 3]
    assert torch.div(a, b, rounding_mode="trunc").tolist() == [3, -3, -3, 3]
    assert torch.div(a, b, rounding_mode="trunc").dtype == torch.int64
    assert (a % b).tolist() == [1, 1, -1, -1]
    assert torch.fmod(a, b).tolist() == [1, -1, 1, -1]
    assert (a / b).tolist() == [3.5, -3.5, -3.5, 3.5] and (a / b).dtype == torch.float32
    f = torch.tensor([7.5, -7.5])
    assert torch.div(f, 2, rounding_mode="trunc").tolist() == [3.0, -3.0]
    assert torch.div(f, 2, rounding_mode="floor").tolist() == [3.0, -4.0]
    assert (f % 2).tolist() == [1.5, 0.5]
    assert (-7 % torch.tensor([3])).tolist() == [2]
    assert (torch.tensor([1.0, -1.0, 0.0]) / 0).tolist()[:2] == [math.inf, -math.inf]
    assert math.isnan((torch.tensor([0.0]) / 0).item())
    with pytest.raises(RuntimeError, match="div expected rounding_mode"):
        torch.div(a, b, rounding_mode="round")


def test_integer_division_by_zero_raises():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.tensor([1, 2]) // torch.tensor([1, 0])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.tensor([1, 2]) % 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64])
@pytest.mark.parametrize("sa, sb", SHAPES[:5])
@pytest.mark.parametrize("op", list(COMPARE))
def test_comparisons(op, sa, sb, dtype):
    x, a = rand(sa, dtype)
    _, b = rand(sb, dtype)
    b = np.where(RNG.random(b.shape) > 0.7, np.broadcast_to(a.reshape(-1)[:1], b.shape), b).astype(b.dtype) \
        if a.size else b
    r = getattr(torch, op)(x, torch.tensor(b))
    assert r.dtype == torch.bool
    np.testing.assert_array_equal(r.numpy(), COMPARE[op](a, b))
    dunder = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
              "ge": operator.ge}[op]
    np.testing.assert_array_equal(dunder(x, torch.tensor(b)).numpy(), COMPARE[op](a, b))
    np.testing.assert_array_equal(dunder(x, 0).numpy(), COMPARE[op](a, 0))


def test_comparison_with_nan_and_mixed_dtypes():
    x = torch.tensor([1.0, float("nan"), 3.0])
    assert x.eq(x).tolist() == [True, False, True]
    assert x.ne(x).tolist() == [False, True, False]
    assert (torch.tensor([1, 2, 3]) == torch.tensor([1.0, 2.5, 3.0])).tolist() == [True, False, True]
    assert (torch.tensor([1, 2]) < 1.5).tolist() == [True, False]


@pytest.mark.parametrize("op, ref", [("logical_and", np.logical_and), ("logical_or", np.logical_or),
                                     ("logical_xor", np.logical_xor)])
@pytest.mark.parametrize("dtype", [torch.bool, torch.float32, torch.int64])
def test_logical(op, ref, dtype):
    a = RNG.integers(0, 2, size=(3, 4)).astype(NP[dtype])
    b = RNG.integers(0, 2, size=(4,)).astype(NP[dtype])
    r = getattr(torch, op)(torch.tensor(a), torch.tensor(b))
    assert r.dtype == torch.bool
    np.testing.assert_array_equal(r.numpy(), ref(a, b))
    assert torch.logical_not(torch.tensor(a)).tolist() == np.logical_not(a).tolist()


@pytest.mark.parametrize("op, ref", [("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
                                     ("bitwise_xor", np.bitwise_xor), ("bitwise_left_shift", np.left_shift),
                                     ("bitwise_right_shift", np.right_shift)])
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_bitwise(op, ref, dtype):
    if dtype == torch.bool and "shift" in op:
        pytest.skip("shifts are integer-only")
    hi = 2 if dtype == torch.bool else 100
    a = RNG.integers(0, hi, size=(3, 4)).astype(NP[dtype])
    b = RNG.integers(0, 2 if dtype == torch.bool else 5, size=(3, 4)).astype(NP[dtype])
    r = getattr(torch, op)(torch.tensor(a), torch.tensor(b))
    assert r.dtype == dtype
    np.testing.assert_array_equal(r.numpy(), ref(a, b))


def test_bitwise_operators():
    a, b = torch.tensor([12, 10, -1]), torch.tensor([10, 6, 3])
    assert (a & b).tolist() == [8, 2, 3] and (a | b).tolist() == [14, 14, -1] and (a ^ b).tolist() == [6, 12, -4]
    assert (~a).tolist() == [-13, -11, 0]
    assert (a << 2).tolist() == [48, 40, -4] and (a >> 1).tolist() == [6, 5, -1]
    m = torch.tensor([True, False])
    assert (~m).tolist() == [False, True]
    assert (m & True).dtype == torch.bool and (m | torch.tensor([False, False])).tolist() == [True, False]
    with pytest.raises((RuntimeError, TypeError)):
        torch.tensor([1.0]) & torch.tensor([1.0])
    with pytest.raises((RuntimeError, TypeError)):
        ~torch.tensor([1.0])


def test_pow():
    x, a = rand((3, 4), lo=0.1, hi=3.0)
    close(x ** 2, a.astype(np.float64) ** 2)
    close(x.pow(0.5), np.sqrt(a.astype(np.float64)))
    close(torch.pow(x, torch.tensor([1.0, 2.0, 0.0, -1.0])), a.astype(np.float64) ** np.array([1, 2, 0, -1.0]))
    close(2 ** x, 2.0 ** a.astype(np.float64))
    close(torch.pow(2.0, x), 2.0 ** a.astype(np.float64))
    i = torch.tensor([1, 2, 3])
    assert (i ** 2).tolist() == [1, 4, 9] and (i ** 2).dtype == torch.int64
    assert (i ** 0.5).dtype == torch.float32
    assert (2 ** i).tolist() == [2, 4, 8] and (2 ** i).dtype == torch.int64
    assert (2.0 ** i).dtype == torch.float32
    assert (i ** i).tolist() == [1, 4, 27]
    assert torch.tensor([-8.0]).pow(1 / 3).isnan().item()
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        i ** -1
    y = x.clone()
    y.pow_(2)
    close(y, a.astype(np.float64) ** 2)
    assert torch.float_power(i, 2).dtype == torch.float64


UNARY = {
    "abs": (np.abs, None), "neg": (np.negative, None), "sign": (np.sign, None), "exp": (np.exp, None),
    "expm1": (np.expm1, None), "log": (np.log, (0.01, 5)), "log1p": (np.log1p, (-0.9, 5)), "log2": (np.log2, (0.01, 5)),
    "log10": (np.log10, (0.01, 5)), "sqrt": (np.sqrt, (0, 5)), "rsqrt": (lambda a: 1 / np.sqrt(a), (0.01, 5)),
    "sin": (np.sin, None), "cos": (np.cos, None), "tan": (np.tan, (-1.2, 1.2)), "tanh": (np.tanh, None),
    "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), None), "floor": (np.floor, None), "ceil": (np.ceil, None),
    "round": (np.round, None), "trunc": (np.trunc, None), "reciprocal": (lambda a: 1 / a, (0.1, 4)),
    "square": (np.square, None), "asin": (np.arcsin, (-1, 1)), "acos": (np.arccos, (-1, 1)), "atan": (np.arctan, None),
    "sinh": (np.sinh, None), "cosh": (np.cosh, None), "exp2": (np.exp2, None), "frac": (lambda a: a - np.trunc(a), None),
    "relu": (lambda a: np.maximum(a, 0), None), "erf": (np.vectorize(math.erf), None),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", list(UNARY))
def test_unary_float(op, dtype):
    ref, dom = UNARY[op]
    lo, hi = dom or (-3, 3)
    x, a = rand((4, 5), dtype, lo, hi)
    exp = ref(a.astype(np.float64))
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    close(getattr(torch, op)(x), exp, tol=tol)
    close(getattr(x, op)(), exp, tol=tol)
    # non-contiguous input
    close(getattr(x.t(), op)(), exp.T, tol=tol)
    # in place, returns self and writes through a view
    y = x.clone()
    assert getattr(y, op + "_")() is y
    close(y, exp, tol=tol)
    z = x.clone()
    getattr(z[:, 1:3], op + "_")()
    e2 = a.astype(np.float64).copy()
    e2[:, 1:3] = exp[:, 1:3]
    close(z, e2, tol=tol)
    # out= (torch.relu has none in PyTorch)
    if op != "relu":
        o = torch.empty(4, 5, dtype=dtype)
        assert getattr(torch, op)(x, out=o) is o
        close(o, exp, tol=tol)


def test_round_half_to_even_and_decimals():
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999])
    assert x.round().tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, 2.0]
    np.testing.assert_allclose(torch.round(torch.tensor([1.2345, -2.355]), decimals=2).numpy(), [1.23, -2.36],
                               rtol=1e-6)


@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "sin", "sigmoid", "tanh", "rsqrt", "expm1", "log1p"])
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.uint8])
def test_unary_float_ops_on_integers_promote(op, dtype):
    a = RNG.integers(1, 2 if dtype == torch.bool else 5, size=(6,)).astype(NP[dtype])
    r = getattr(torch, op)(torch.tensor(a))
    assert r.dtype == torch.float32
    close(r, UNARY[op][0](a.astype(np.float64)), tol=1e-5)


@pytest.mark.parametrize("op", ["abs", "neg", "sign", "square", "floor", "ceil", "round", "trunc"])
def test_unary_integer_keeps_dtype(op):
    a = np.array([-3, -1, 0, 2, 5], np.int64)
    r = getattr(torch.tensor(a), op)()
    assert r.dtype == torch.int64
    np.testing.assert_array_equal(r.numpy(), UNARY[op][0](a))


def test_neg_of_bool_raises():
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor is not supported"):
        -torch.tensor([True])


def test_float_predicates_and_nan_to_num():
    a = np.array([1.0, np.nan, np.inf, -np.inf, -0.0], np.float32)
    x = torch.tensor(a)
    np.testing.assert_array_equal(x.isnan().numpy(), np.isnan(a))
    np.testing.assert_array_equal(torch.isinf(x).numpy(), np.isinf(a))
    np.testing.assert_array_equal(torch.isfinite(x).numpy(), np.isfinite(a))
    np.testing.assert_array_equal(x.isposinf().numpy(), np.isposinf(a))
    np.testing.assert_array_equal(x.isneginf().numpy(), np.isneginf(a))
    np.testing.assert_array_equal(x.signbit().numpy(), np.signbit(a))
    np.testing.assert_array_equal(torch.nan_to_num(x).numpy(), np.nan_to_num(a))
    np.testing.assert_array_equal(x.nan_to_num(nan=1.0, posinf=2.0, neginf=-2.0).numpy(), [1, 1, 2, -2, 0])
    y = x.clone()
    y.nan_to_num_(0.0)
    assert y.isfinite().all().item()
    assert torch.isnan(torch.tensor([1, 2])).tolist() == [False, False]
    assert torch.tensor([1, 2]).isfinite().all().item()
    h = torch.tensor([1.0, float("inf")], dtype=torch.float16).nan_to_num()
    assert h[1].item() == 65504.0


@pytest.mark.parametrize("dtype", FLOATS + [torch.int64])
def test_clamp(dtype):
    x, a = rand((4, 5), dtype)
    np.testing.assert_allclose(x.clamp(-1, 1).numpy(), np.clip(a, -1, 1))
    np.testing.assert_allclose(torch.clamp(x, min=0).numpy(), np.maximum(a, 0))
    np.testing.assert_allclose(torch.clip(x, max=0).numpy(), np.minimum(a, 0))
    np.testing.assert_allclose(x.clamp_min(1).numpy(), np.maximum(a, 1))
    np.testing.assert_allclose(x.clamp_max(1).numpy(), np.minimum(a, 1))
    assert x.clamp(-1, 1).dtype == dtype
    lo = torch.tensor(np.full(5, -0.5).astype(NP[dtype]))
    np.testing.assert_allclose(x.clamp(min=lo).numpy(), np.maximum(a, -0.5 if dtype != torch.int64 else 0))
    y = x.clone()
    assert y.clamp_(-1, 1) is y
    np.testing.assert_allclose(y.numpy(), np.clip(a, -1, 1))
    o = torch.empty(4, 5, dtype=dtype)
    torch.clamp(x, -2, 2, out=o)
    np.testing.assert_allclose(o.numpy(), np.clip(a, -2, 2))


def test_clamp_nan_and_errors():
    x = torch.tensor([float("nan"), 5.0])
    r = x.clamp(0, 1)
    assert math.isnan(r[0].item()) and r[1].item() == 1.0
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
        x.clamp()
    r = torch.tensor([1, 5, 9]).clamp(min=2.5)
    assert r.dtype == torch.float32 and r.tolist() == [2.5, 5.0, 9.0]


def test_lerp_addcmul_addcdiv():
    x, a = rand((3, 4))
    y, b = rand((3, 4))
    z, c = rand((4,), lo=0.5, hi=2)
    a64, b64, c64 = (v.astype(np.float64) for v in (a, b, c))
    close(torch.lerp(x, y, 0.3), a64 + 0.3 * (b64 - a64), tol=1e-5)
    close(x.lerp(y, z), a64 + c64 * (b64 - a64), tol=1e-5)
    close(torch.addcmul(x, y, z, value=0.5), a64 + 0.5 * b64 * c64, tol=1e-5)
    close(torch.addcdiv(x, y, z, value=-2), a64 - 2 * b64 / c64, tol=1e-5)
    w = x.clone()
    w.addcmul_(y, z, value=2)
    close(w, a64 + 2 * b64 * c64, tol=1e-5)
    w = x.clone()
    w.addcdiv_(y, z)
    close(w, a64 + b64 / c64, tol=1e-5)
    w = x.clone()
    w.lerp_(y, 0.5)
    close(w, (a64 + b64) / 2, tol=1e-5)


def np_gelu(a, approximate="none"):
    if approximate == "tanh":
        return 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3)))
    return 0.5 * a * (1 + np.vectorize(math.erf)(a / np.sqrt(2)))


@pytest.mark.parametrize("name, fn, ref", [
    ("relu", F.relu, lambda a: np.maximum(a, 0)),
    ("gelu", F.gelu, np_gelu),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), lambda a: np_gelu(a, "tanh")),
    ("silu", F.silu, lambda a: a / (1 + np.exp(-a))),
    ("softplus", F.softplus, lambda a: np.log1p(np.exp(a))),
    ("softplus_beta", lambda x: F.softplus(x, beta=2, threshold=1),
     lambda a: np.where(2 * a > 1, a, np.log1p(np.exp(2 * a)) / 2)),
    ("elu", F.elu, lambda a: np.where(a > 0, a, np.expm1(a))),
    ("elu_alpha", lambda x: F.elu(x, alpha=0.5), lambda a: np.where(a > 0, a, 0.5 * np.expm1(a))),
    ("leaky_relu", F.leaky_relu, lambda a: np.where(a > 0, a, 0.01 * a)),
    ("leaky_relu_slope", lambda x: F.leaky_relu(x, 0.2), lambda a: np.where(a > 0, a, 0.2 * a)),
    ("torch.relu", torch.relu, lambda a: np.maximum(a, 0)),
    ("torch.sigmoid", torch.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
])
@pytest.mark.parametrize("dtype", FLOATS)
def test_activations(name, fn, ref, dtype):
    x, a = rand((5, 7), dtype, -5, 5)
    r = fn(x)
    assert r.dtype == dtype and r.shape == (5, 7)
    close(r, ref(a.astype(np.float64)), tol=1e-5 if dtype == torch.float32 else 1e-10)


def test_inplace_activations():
    x, a = rand((3, 4))
    y = x.clone()
    assert y.relu_() is y
    close(y, np.maximum(a, 0))
    y = x.clone()
    F.leaky_relu(y, 0.1, inplace=True)
    close(y, np.where(a > 0, a, 0.1 * a.astype(np.float64)), tol=1e-6)
    y = x.clone()
    F.elu(y, inplace=True)
    close(y, np.where(a > 0, a, np.expm1(a.astype(np.float64))), tol=1e-6)


# ---------------------------------------------------------------------------- in place / out=


INPLACE_BIN = ["add", "sub", "mul", "div", "remainder", "fmod", "atan2", "floor_divide", "pow"]


@pytest.mark.parametrize("op", INPLACE_BIN)
def test_inplace_binary(op):
    x, _ = rand((3, 4), lo=0.5, hi=3)
    _, b = rand((4,), lo=0.5, hi=3)
    exp = getattr(torch, op)(x, torch.tensor(b))
    y = x.clone()
    r = getattr(y, op + "_")(torch.tensor(b))
    assert r is y
    np.testing.assert_allclose(y.numpy(), exp.numpy(), rtol=1e-6)
    # in place through a transposed view writes the base
    z = x.clone().t().contiguous().t()
    getattr(z, op + "_")(torch.tensor(b))
    np.testing.assert_allclose(z.numpy(), exp.numpy(), rtol=1e-6)
    # with a Python scalar (PyTorch's atan2 takes tensors only)
    if op != "atan2":
        w = x.clone()
        getattr(w, op + "_")(2.0)
        np.testing.assert_allclose(w.numpy(), getattr(torch, op)(x, 2.0).numpy(), rtol=1e-6)


@pytest.mark.parametrize("op", INPLACE_BIN + ["maximum", "minimum", "eq", "lt", "ge", "logical_and"])
def test_out_argument(op):
    x, _ = rand((3, 4), lo=0.5, hi=3)
    y, _ = rand((3, 4), lo=0.5, hi=3)
    exp = getattr(torch, op)(x, y)
    o = torch.empty(3, 4, dtype=exp.dtype)
    r = getattr(torch, op)(x, y, out=o)
    assert r is o
    np.testing.assert_array_equal(o.numpy(), exp.numpy())


def test_out_resized_and_wrong_dtype():
    x = torch.ones(2, 3)
    o = torch.empty(0)
    torch.add(x, x, out=o)
    assert o.shape == (2, 3) and o.sum().item() == 12.0
    oi = torch.empty(2, 3, dtype=torch.int64)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        torch.add(x, x, out=oi)
    of = torch.empty(2, 3, dtype=torch.float64)
    torch.add(x, x, out=of)
    assert of.dtype == torch.float64 and of.sum().item() == 12.0


def test_dunder_inplace_operators_keep_identity_and_storage():
    x = torch.ones(3)
    v = x[1:]
    xid = id(x)
    x += 1
    x *= 3
    x -= 1
    x /= 5
    assert id(x) == xid
    assert v.tolist() == [1.0, 1.0]
    i = torch.tensor([7, 8])
    i //= 2
    i %= 3
    assert i.tolist() == [0, 1]
    b = torch.tensor([True, False])
    b &= torch.tensor([True, True])
    b |= torch.tensor([False, True])
    b ^= torch.tensor([True, True])
    assert b.tolist() == [False, False]


def test_add_sub_alpha():
    x = torch.tensor([1.0, 2.0])
    y = torch.tensor([10.0, 20.0])
    assert torch.add(x, y, alpha=2).tolist() == [21.0, 42.0]
    assert x.sub(y, alpha=0.5).tolist() == [-4.0, -8.0]
    x.add_(y, alpha=-1)
    assert x.tolist() == [-9.0, -18.0]
    with pytest.raises(RuntimeError, match="For integral input tensors, argument alpha must not be a floating point"):
        torch.tensor([1]).add(torch.tensor([1]), alpha=0.5)


def test_inplace_cannot_change_dtype():
    x = torch.tensor([1, 2])
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        x.add_(1.5)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        x /= 2
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.mul_(torch.tensor([1.0, 2.0]))
    f = torch.tensor([1.0, 2.0])
    f.add_(torch.tensor([1, 1]))  # int into float: fine
    assert f.tolist() == [2.0, 3.0]
    with pytest.raises(RuntimeError, match="output with shape \\[2\\] doesn't match the broadcast shape \\[2, 2\\]"):
        f.add_(torch.ones(2, 2))


def test_inplace_on_expanded_raises():
    e = torch.zeros(1).expand(3)
    with pytest.raises(RuntimeError, match="unsupported operation: more than one element of the written-to tensor"):
        e.add_(1)


# ---------------------------------------------------------------------------- type promotion


def T(dtype, dims=1):
    return torch.ones((2,) * dims, dtype=dtype) if dims else torch.ones((), dtype=dtype)


@pytest.mark.parametrize("a, b, expected", [
    (T(torch.int64), 1.5, torch.float32),
    (T(torch.int32), 1, torch.int32),
    (T(torch.int8), 1000, torch.int8),
    (T(torch.uint8), 1, torch.uint8),
    (T(torch.float16), 1.0, torch.float16),
    (T(torch.bfloat16), 2, torch.bfloat16),
    (T(torch.bool), 1, torch.int64),
    (T(torch.bool), 1.5, torch.float32),
    (T(torch.bool), True, torch.bool),
    (T(torch.float32), True, torch.float32),
    (T(torch.int32), T(torch.int64), torch.int64),
    (T(torch.int32), T(torch.float16), torch.float16),
    (T(torch.float32), T(torch.float64), torch.float64),
    (T(torch.float16), T(torch.bfloat16), torch.float32),
    (T(torch.uint8), T(torch.int8), torch.int16),
    (T(torch.bool), T(torch.uint8), torch.uint8),
    (T(torch.int32), T(torch.int64, 0), torch.int32),  # 0-dim tensors are weaker within a category
    (T(torch.float32), T(torch.float64, 0), torch.float32),
    (T(torch.float16), T(torch.float64, 0), torch.float16),
    (T(torch.int32), T(torch.float64, 0), torch.float64),  # ... but win across categories
    (T(torch.int64), T(torch.float16, 0), torch.float16),
    (T(torch.int64, 0), T(torch.float64, 0), torch.float64),
    (T(torch.int32, 0), T(torch.int64, 0), torch.int64),
    (T(torch.uint8), T(torch.int64, 0), torch.uint8),
    (T(torch.bool), T(torch.int32, 0), torch.int32),
])
def test_type_promotion(a, b, expected):
    assert (a + b).dtype == expected
    assert (b + a).dtype == expected
    assert (a * b).dtype == expected
    assert torch.result_type(a, b) == expected


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool, torch.int8])
def test_int_true_division_gives_float(dtype):
    a = torch.tensor([1, 0, 1]).to(dtype)
    b = torch.tensor([2, 1, 4]).to(dtype) if dtype != torch.bool else torch.tensor([True, True, True])
    r = a / b
    assert r.dtype == torch.float32
    assert torch.true_divide(a, b).dtype == torch.float32
    assert (a / 2).dtype == torch.float32
    assert (3 / torch.tensor([2])).tolist() == [1.5]
    assert (torch.tensor([1, 2]) / torch.tensor([2.0], dtype=torch.float64)).dtype == torch.float64


def test_promotion_in_comparisons_and_where():
    assert (torch.tensor([1, 2]) == 1.0).dtype == torch.bool
    assert (torch.tensor([1.5]) > torch.tensor([1])).tolist() == [True]
    assert torch.maximum(torch.tensor([1]), torch.tensor([1.5])).dtype == torch.float32


def test_scalar_tensor_ops():
    x = torch.tensor([1.0, 2.0])
    assert (x + torch.tensor(1.0)).tolist() == [2.0, 3.0]
    assert (1 - x).tolist() == [0.0, -1.0]
    assert (2 / x).tolist() == [2.0, 1.0]
    assert (x + True).tolist() == [2.0, 3.0]
    assert (-x).tolist() == [-1.0, -2.0] and (+x).tolist() == [1.0, 2.0] and abs(-x).tolist() == [1.0, 2.0]
    assert (5 // torch.tensor([2])).tolist() == [2] and (5 % torch.tensor([3])).tolist() == [2]


# ---------------------------------------------------------------------------- half precision spot checks


@pytest.mark.parametrize("dtype, np_dtype", [(torch.float16, np.float16), (torch.bfloat16, None)])
def test_half_precision_arithmetic(dtype, np_dtype):
    a = RNG.uniform(-2, 2, size=(64,)).astype(np.float32)
    b = RNG.uniform(0.5, 2, size=(64,)).astype(np.float32)
    x, y = torch.tensor(a).to(dtype), torch.tensor(b).to(dtype)
    xa, ya = x.float().numpy().astype(np.float64), y.float().numpy().astype(np.float64)
    tol = 1e-3 if dtype == torch.float16 else 8e-3
    for r, e in [(x + y, xa + ya), (x * y, xa * ya), (x / y, xa / ya), (x.exp(), np.exp(xa)), (x.sqrt(), np.sqrt(np.abs(xa)) * np.nan),
                 (y.log(), np.log(ya)), (x.tanh(), np.tanh(xa)), (torch.sigmoid(x), 1 / (1 + np.exp(-xa)))]:
        assert r.dtype == dtype
        if np.isnan(e).all():
            continue
        np.testing.assert_allclose(r.float().numpy(), e, rtol=tol, atol=tol)
    if np_dtype is not None:
        np.testing.assert_array_equal((x + y).numpy(), a.astype(np_dtype) + b.astype(np_dtype))


def test_big_tensor_parallel_paths():
    n = 1 << 20
    a = RNG.standard_normal(n).astype(np.float32)
    b = RNG.standard_normal(n).astype(np.float32)
    x, y = torch.tensor(a), torch.tensor(b)
    np.testing.assert_allclose((x * y + 1).numpy(), a * b + 1, rtol=1e-6)
    np.testing.assert_allclose(x.exp().numpy(), np.exp(a), rtol=1e-6)
    xs = x[::2]
    np.testing.assert_allclose((xs - y[1::2]).numpy(), a[::2] - b[1::2], rtol=1e-6)
    x.mul_(2)
    np.testing.assert_allclose(x.numpy(), a * 2)


def test_reflected_python_numbers_keep_float64_precision_and_promote_as_wrapped_numbers():
    x = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    xn = x.numpy()
    np.testing.assert_array_equal((0.1 * x).numpy(), 0.1 * xn)
    np.testing.assert_array_equal((0.1 + x).numpy(), 0.1 + xn)
    np.testing.assert_array_equal((0.1 - x).numpy(), 0.1 - xn)
    np.testing.assert_array_equal((0.1 / x).numpy(), 0.1 / xn)
    np.testing.assert_allclose((0.1 ** x).numpy(), 0.1 ** xn, rtol=1e-15)  # not 0.1 rounded to float32
    ints = torch.arange(1, 4)
    assert (2 ** ints).dtype == torch.int64 and (2 ** ints).tolist() == [2, 4, 8]
    assert (1 / ints).dtype == torch.float32
    assert (0.5 * ints).dtype == torch.float32
    assert (3 * torch.tensor([True, False])).dtype == torch.int64
    assert (2.0 - torch.ones(2, dtype=torch.float16)).dtype == torch.float16
