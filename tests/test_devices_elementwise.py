"""Every elementwise op on a CUDA device runs as kernels: no host access to device memory in the
forward or the backward, and the values and gradients of the CPU, in each floating dtype.

Runs where ``torch.cuda.is_available()``: on a GPU, or under ``FERROTORCH_EMULATE_CUDA=1`` with the
host builds of the kernels (conftest.py), as README's test command does.
"""

from __future__ import annotations

from collections.abc import Callable

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
    pytest.mark.usefixtures("kernels_only"),  # ops with kernels run them (conftest.py)
]

RNG = np.random.default_rng(11)
FLOATS = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
TOL = {torch.float32: 1e-5, torch.float64: 1e-12, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}


def host_accesses() -> int:
    return torch._C._cuda_host_accesses(0)



def values(domain: tuple[float, float], n: int = 40) -> np.ndarray:
    lo, hi = domain
    return RNG.uniform(lo, hi, n)


ANY, POS, UNIT, ABOVE1 = (-3.0, 3.0), (0.1, 4.0), (-0.9, 0.9), (1.1, 4.0)

# (name, fn, domain of the input); every fn is differentiable in its domain
UNARY: list[tuple[str, Callable[[torch.Tensor], torch.Tensor], tuple[float, float]]] = [
    ("neg", lambda x: -x, ANY),
    ("abs", torch.abs, ANY),
    ("sign", torch.sign, ANY),
    ("exp", torch.exp, ANY),
    ("exp2", torch.exp2, ANY),
    ("expm1", torch.expm1, ANY),
    ("log", torch.log, POS),
    ("log1p", torch.log1p, POS),
    ("log2", torch.log2, POS),
    ("log10", torch.log10, POS),
    ("sqrt", torch.sqrt, POS),
    ("rsqrt", torch.rsqrt, POS),
    ("square", torch.square, ANY),
    ("sin", torch.sin, ANY),
    ("cos", torch.cos, ANY),
    ("tan", torch.tan, UNIT),
    ("asin", torch.asin, UNIT),
    ("acos", torch.acos, UNIT),
    ("atan", torch.atan, ANY),
    ("sinh", torch.sinh, ANY),
    ("cosh", torch.cosh, ANY),
    ("tanh", torch.tanh, ANY),
    ("asinh", torch.asinh, ANY),
    ("acosh", torch.acosh, ABOVE1),
    ("atanh", torch.atanh, UNIT),
    ("sigmoid", torch.sigmoid, ANY),
    ("logsigmoid", F.logsigmoid, ANY),
    ("floor", torch.floor, ANY),
    ("ceil", torch.ceil, ANY),
    ("round", torch.round, ANY),
    ("round_decimals", lambda x: torch.round(x, decimals=1), ANY),
    ("trunc", torch.trunc, ANY),
    ("frac", torch.frac, ANY),
    ("reciprocal", torch.reciprocal, POS),
    ("relu", torch.relu, ANY),
    ("gelu", F.gelu, ANY),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), ANY),
    ("silu", F.silu, ANY),
    ("mish", F.mish, ANY),
    ("erf", torch.erf, ANY),
    ("softsign", F.softsign, ANY),
    ("hardsigmoid", F.hardsigmoid, ANY),
    ("hardswish", F.hardswish, ANY),
    ("selu", F.selu, ANY),
    ("pow", lambda x: x**3.5, POS),
    ("pow2", lambda x: x**2, ANY),
    ("rpow", lambda x: 2.5**x, ANY),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), ANY),
    ("elu", lambda x: F.elu(x, 0.7), ANY),
    ("celu", lambda x: F.celu(x, 1.3), ANY),
    ("softplus", lambda x: F.softplus(x, beta=2.0, threshold=3.0), ANY),
    ("clamp", lambda x: x.clamp(-0.5, 1.5), ANY),
    ("clamp_min", lambda x: x.clamp(min=0.25), ANY),
    ("threshold", lambda x: F.threshold(x, 0.3, -2.0), ANY),
    ("nan_to_num", lambda x: torch.nan_to_num(x, nan=0.0, posinf=1.0), ANY),
]


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("name, fn, domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_op_runs_as_kernels(name: str, fn: Callable, domain: tuple[float, float], dtype: torch.dtype) -> None:
    x0 = torch.tensor(values(domain)).to(dtype)
    want = fn(x0)
    x = x0.to("cuda")
    before = host_accesses()
    got = fn(x)
    assert host_accesses() == before, f"{name} touched device memory from the host"
    assert got.device == torch.device("cuda", 0) and got.dtype == want.dtype
    tol = TOL[dtype]
    np.testing.assert_allclose(got.cpu().double().numpy(), want.double().numpy(), rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("name, fn, domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_backward_runs_as_kernels(name: str, fn: Callable, domain: tuple[float, float]) -> None:
    x0 = torch.tensor(values(domain)).float()
    grads = []
    for device in ("cpu", "cuda"):
        x = x0.clone().to(device).requires_grad_()
        y = fn(x)
        seed = torch.linspace(-1.0, 2.0, y.numel()).to(device)
        before = host_accesses()
        y.backward(seed)
        if device == "cuda":
            assert host_accesses() == before, f"{name}'s backward touched device memory from the host"
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-6, err_msg=name)


def test_inplace_unary_ops_run_as_kernels() -> None:
    x0 = torch.tensor(values(ANY)).float()
    x = x0.to("cuda")
    before = host_accesses()
    x.sin_().clamp_(-0.5, 0.5).mul_(3.0).floor_()
    assert host_accesses() == before
    np.testing.assert_array_equal(x.cpu().numpy(), x0.sin().clamp(-0.5, 0.5).mul(3.0).floor().numpy())


def test_unary_op_of_a_strided_view_runs_as_kernels() -> None:
    x0 = torch.tensor(values(ANY, 24)).float().view(4, 6)
    x = x0.to("cuda")
    before = host_accesses()
    got = (x.t().tan(), x[:, ::2].erf())
    assert host_accesses() == before
    np.testing.assert_allclose(got[0].cpu().numpy(), x0.t().tan().numpy(), rtol=1e-5)
    np.testing.assert_allclose(got[1].cpu().numpy(), x0[:, ::2].erf().numpy(), rtol=1e-5)


SPECIAL = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0, -1.5, 2.0]
TESTS = [torch.isnan, torch.isinf, torch.isfinite, torch.isposinf, torch.isneginf, torch.signbit, torch.logical_not]


@pytest.mark.parametrize("dtype", [*FLOATS, torch.int64, torch.int32, torch.uint8, torch.bool], ids=str)
def test_bool_valued_ops_run_as_kernels(dtype: torch.dtype) -> None:
    x0 = torch.tensor(SPECIAL).to(dtype) if dtype.is_floating_point else torch.tensor([0, 1, 5, 2, 0, 7]).to(dtype)
    x = x0.to("cuda")
    for fn in TESTS:
        before = host_accesses()
        got = fn(x)
        assert host_accesses() == before, fn.__name__
        assert got.dtype == torch.bool
        np.testing.assert_array_equal(got.cpu().numpy(), fn(x0).numpy(), err_msg=fn.__name__)


INT_OPS = [
    ("neg", lambda x: -x),
    ("abs", torch.abs),
    ("sign", torch.sign),
    ("square", torch.square),
    ("relu", torch.relu),
    ("clamp", lambda x: x.clamp(-3, 4)),
    ("bitwise_not", torch.bitwise_not),
]


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8], ids=str)
@pytest.mark.parametrize("name, fn", INT_OPS, ids=[o[0] for o in INT_OPS])
def test_integer_unary_ops_run_as_kernels(name: str, fn: Callable, dtype: torch.dtype) -> None:
    if dtype == torch.uint8 and name == "neg":
        x0 = torch.tensor([0, 1, 200, 255], dtype=dtype)  # wraps modulo 256, as in PyTorch
    else:
        x0 = torch.tensor(RNG.integers(-50 if dtype != torch.uint8 else 0, 50, 30)).to(dtype)
    x = x0.to("cuda")
    before = host_accesses()
    got = fn(x)
    assert host_accesses() == before, name
    assert got.dtype == fn(x0).dtype
    np.testing.assert_array_equal(got.cpu().numpy(), fn(x0).numpy(), err_msg=name)


def test_bitwise_not_of_bool_runs_as_a_kernel() -> None:
    x0 = torch.tensor([True, False, True])
    x = x0.to("cuda")
    before = host_accesses()
    got = ~x
    assert host_accesses() == before
    assert got.cpu().tolist() == [False, True, False]


FLOAT_BINARY = [
    ("floor_divide", torch.floor_divide),
    ("remainder", torch.remainder),
    ("fmod", torch.fmod),
    ("atan2", torch.atan2),
    ("logical_and", torch.logical_and),
    ("logical_or", torch.logical_or),
    ("logical_xor", torch.logical_xor),
]


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("name, fn", FLOAT_BINARY, ids=[o[0] for o in FLOAT_BINARY])
def test_float_binary_ops_run_as_kernels(name: str, fn: Callable, dtype: torch.dtype) -> None:
    a0 = torch.tensor(RNG.uniform(-5, 5, (3, 8))).to(dtype)
    b0 = torch.tensor(RNG.choice([-2.5, -1.0, 0.0, 0.75, 3.0], 8)).to(dtype)  # broadcast over rows
    if name in ("floor_divide", "remainder", "fmod"):
        b0 = torch.where(b0 == 0, torch.ones_like(b0), b0)
    a, b = a0.to("cuda"), b0.to("cuda")
    before = host_accesses()
    got = fn(a, b)
    assert host_accesses() == before, name
    want = fn(a0, b0)
    tol = TOL[dtype]
    np.testing.assert_allclose(got.cpu().double().numpy(), want.double().numpy(), rtol=tol, atol=tol, err_msg=name)


INT_BINARY = [
    ("and", lambda a, b: a & b),
    ("or", lambda a, b: a | b),
    ("xor", lambda a, b: a ^ b),
    ("shl", lambda a, b: a << (b % 5)),
    ("shr", lambda a, b: a >> (b % 5)),
    ("logical_or", torch.logical_or),
    ("floor_divide", torch.floor_divide),
    ("remainder", torch.remainder),
    ("fmod", torch.fmod),
]


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8], ids=str)
@pytest.mark.parametrize("name, fn", INT_BINARY, ids=[o[0] for o in INT_BINARY])
def test_integer_binary_ops_run_as_kernels(name: str, fn: Callable, dtype: torch.dtype) -> None:
    lo = 0 if dtype == torch.uint8 else -40
    a0 = torch.tensor(RNG.integers(lo, 40, (4, 5))).to(dtype)
    b0 = torch.tensor(RNG.integers(0, 40, (4, 5))).to(dtype)
    if name in ("shl", "shr"):
        b0 = b0 % 5  # shifts within the bit width
        fn = {"shl": lambda a, b: a << b, "shr": lambda a, b: a >> b}[name]
    if name in ("floor_divide", "remainder", "fmod"):
        b0 = torch.tensor(RNG.choice([-7, -3, -1, 1, 2, 5] if lo else [1, 2, 5, 7], (4, 5))).to(dtype)
    a, b = a0.to("cuda"), b0.to("cuda")
    before = host_accesses()
    got = fn(a, b)
    assert host_accesses() == before, name
    np.testing.assert_array_equal(got.cpu().numpy(), fn(a0, b0).numpy(), err_msg=name)


def test_bool_arithmetic_runs_as_kernels() -> None:
    a0, b0 = torch.tensor([True, True, False, False]), torch.tensor([True, False, True, False])
    a, b = a0.to("cuda"), b0.to("cuda")
    for fn in (torch.add, torch.mul, torch.maximum, torch.minimum, lambda x, y: x & y, lambda x, y: x | y,
               lambda x, y: x ^ y, torch.logical_xor, torch.eq):
        before = host_accesses()
        got = fn(a, b)
        assert host_accesses() == before
        assert got.dtype == torch.bool
        assert got.cpu().tolist() == fn(a0, b0).tolist()


@pytest.mark.parametrize("op", [torch.floor_divide, torch.remainder, torch.fmod], ids=lambda f: f.__name__)
def test_integer_division_by_zero_is_a_device_side_assert(op: Callable) -> None:
    """The CPU raises at once (it reads the divisors); the device flags it without a wait and the next
    call that waits raises, once."""
    a, b = torch.tensor([4, 5]).to("cuda"), torch.tensor([2, 0]).to("cuda")
    before = host_accesses()
    op(a, b)
    assert host_accesses() == before
    with pytest.raises(RuntimeError, match="device-side assert triggered: ZeroDivisionError"):
        torch.cuda.synchronize()
    torch.cuda.synchronize()
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        op(a.cpu(), b.cpu())


def test_integer_division_wraps_at_the_type_minimum() -> None:
    """INT64_MIN // -1 wraps as on the CPU (the hardware's division would be undefined)."""
    a0 = torch.tensor([-(2 ** 63), -(2 ** 63), 7, -7])
    b0 = torch.tensor([-1, 3, -1, 2])
    a, b = a0.to("cuda"), b0.to("cuda")
    for op in (torch.floor_divide, torch.remainder, torch.fmod):
        assert op(a, b).cpu().tolist() == op(a0, b0).tolist(), op.__name__
    assert torch.floor_divide(a, b).cpu().tolist() == [-(2 ** 63), -3074457345618258603, -7, -4]
