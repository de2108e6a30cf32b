"""Reductions on a CUDA device run as kernels (no host access to device memory) and equal the CPU's:
sum, prod, amax/amin, max()/min(), max(dim), any/all, over every layout the dispatch tells apart (a whole
buffer in two passes, long and short rows, a middle dimension read in place, dims that must be moved
last first) and every dtype.

Runs where ``torch.cuda.is_available()``: on a GPU, or under ``FERROTORCH_EMULATE_CUDA=1`` with the
host builds of the kernels (conftest.py), as README's test command does.
"""

from __future__ import annotations

from collections.abc import Callable

import ferrotorch as torch
import numpy as np
import pytest

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
    pytest.mark.usefixtures("kernels_only"),  # ops with kernels run them (conftest.py)
]

RNG = np.random.default_rng(23)
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.uint8,
          torch.bool]



def host_accesses() -> int:
    return torch._C._cuda_host_accesses(0)


def sample(shape: tuple[int, ...], dtype: torch.dtype, op: str) -> torch.Tensor:
    if dtype == torch.bool:
        return torch.tensor(RNG.random(shape) > 0.3)
    if not dtype.is_floating_point:
        hi = 3 if op == "prod" else 100
        return torch.tensor(RNG.integers(0 if dtype == torch.uint8 else -hi, hi, shape)).to(dtype)
    # products stay in range: factors near 1
    v = RNG.uniform(0.8, 1.2, shape) if op == "prod" else RNG.uniform(-4, 4, shape)
    return torch.tensor(v).to(dtype)


OPS: dict[str, Callable[..., torch.Tensor]] = {
    "sum": lambda x, d: x.sum() if d is None else x.sum(d),
    "prod": lambda x, d: x.prod() if d is None else x.prod(d[0]),
    "amax": lambda x, d: x.amax() if d is None else x.amax(d),
    "amin": lambda x, d: x.amin() if d is None else x.amin(d),
}
# (shape, dims): dims None is the whole buffer (two passes); prod takes one dim only
LAYOUTS = [
    ((70000,), None),  # two passes: several blocks of partials
    ((4, 300), None),  # one block
    ((5, 200), (1,)),  # long rows: a block each
    ((40, 7), (1,)),  # short rows: a thread each
    ((6, 9, 5), (1,)),  # the middle dim, in place
    ((6, 9, 5), (0,)),
    ((6, 9, 5), (1, 2)),  # adjacent dims
    ((6, 9, 5), (0, 2)),  # moved last by a copy
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("shape, dims", LAYOUTS, ids=[f"{s}-{d}" for s, d in LAYOUTS])
def test_reduction_runs_as_kernels(op: str, dtype: torch.dtype, shape: tuple, dims: tuple | None) -> None:
    if op == "prod" and dims is not None and len(dims) > 1:
        pytest.skip("prod takes one dim")
    x0 = sample(shape, dtype, op)
    x = x0.to("cuda")
    before = host_accesses()
    got = OPS[op](x, dims)
    assert host_accesses() == before, f"{op} touched device memory from the host"
    want = OPS[op](x0, dims)
    assert got.device == torch.device("cuda", 0)
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = {torch.float16: 5e-3, torch.bfloat16: 3e-2, torch.float32: 1e-5}.get(dtype, 1e-12)
    if dtype.is_floating_point:
        np.testing.assert_allclose(got.cpu().double().numpy(), want.double().numpy(), rtol=tol, atol=tol * 10)
    else:
        np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape, dims", LAYOUTS, ids=[f"{s}-{d}" for s, d in LAYOUTS])
def test_any_all_run_as_kernels(dtype: torch.dtype, shape: tuple, dims: tuple | None) -> None:
    # mostly zeros with a few nonzeros, and one all-nonzero slice: both answers occur per row
    v = np.where(RNG.random(shape) < 0.97, 0, RNG.integers(1, 3, shape))
    v.reshape(-1)[: shape[-1]] = 1
    x0 = torch.tensor(v).to(dtype)
    if dtype.is_floating_point:
        x0.reshape(-1)[-1] = float("nan")  # truthy, as in PyTorch
    x = x0.to("cuda")
    for op in ("any", "all"):
        before = host_accesses()
        got = getattr(x, op)() if dims is None else getattr(x, op)(dims)
        assert host_accesses() == before, f"{op} touched device memory from the host"
        want = getattr(x0, op)() if dims is None else getattr(x0, op)(dims)
        assert got.device == torch.device("cuda", 0) and got.dtype == torch.bool and got.shape == want.shape
        np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())


def test_reduction_of_a_transposed_view_runs_as_kernels() -> None:
    x0 = sample((7, 130), torch.float32, "sum")
    x = x0.to("cuda")
    before = host_accesses()
    got = (x.t().sum(1), x.t().amax(0), x.t().sum())
    assert host_accesses() == before
    for g, w in zip(got, (x0.t().sum(1), x0.t().amax(0), x0.t().sum())):
        np.testing.assert_allclose(g.cpu().numpy(), w.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dims", [None, (1,), (0,)])
def test_max_min_propagate_nan(dims: tuple | None) -> None:
    x0 = sample((4, 80), torch.float32, "amax")
    x0[2, 33] = float("nan")
    x = x0.to("cuda")
    for op in ("amax", "amin"):
        got, want = OPS[op](x, dims).cpu().numpy(), OPS[op](x0, dims).numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.int32, torch.uint8], ids=str)
def test_max_dim_with_indices_runs_as_kernels(dtype: torch.dtype) -> None:
    x0 = sample((6, 70), dtype, "amax")
    x = x0.to("cuda")
    before = host_accesses()
    vals, idx = x.max(1)
    mins = x.min(0)
    arg = x.argmax()
    assert host_accesses() == before
    want = x0.max(1)
    np.testing.assert_array_equal(vals.cpu().numpy(), want.values.numpy())
    np.testing.assert_array_equal(idx.cpu().numpy(), want.indices.numpy())
    np.testing.assert_array_equal(mins.indices.cpu().numpy(), x0.min(0).indices.numpy())
    assert arg.item() == x0.argmax().item()


def test_empty_sum_is_zero_and_empty_max_raises() -> None:
    x = torch.zeros(0, 3).to("cuda")
    assert x.sum().item() == 0.0
    np.testing.assert_array_equal(x.sum(0).cpu().numpy(), [0.0, 0.0, 0.0])
    assert x.prod().item() == 1.0
    with pytest.raises(RuntimeError, match="Expected reduction dim to be specified for input.numel"):
        x.amax()


@pytest.mark.parametrize("op", ["sum", "amax", "amin", "mean"])
def test_reduction_gradients_stay_on_the_device(op: str) -> None:
    x0 = sample((5, 70), torch.float32, op)
    grads = []
    for device in ("cpu", "cuda"):
        x = x0.clone().to(device).requires_grad_()
        y = getattr(x, op)(1)
        seed = torch.linspace(-1.0, 1.0, 5).to(device)
        before = host_accesses()
        y.backward(seed)
        if device == "cuda":
            assert host_accesses() == before
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int64, torch.int32, torch.bool],
                         ids=str)
@pytest.mark.parametrize("dim", [0, 1, 2])
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_cumulative_ops_run_as_kernels(op: str, dim: int, dtype: torch.dtype) -> None:
    x0 = sample((4, 6, 5), dtype, "prod" if op == "cumprod" else "sum")
    x = x0.to("cuda")
    before = host_accesses()
    got = getattr(x, op)(dim)
    assert host_accesses() == before
    want = getattr(x0, op)(dim)
    assert got.dtype == want.dtype
    tol = {torch.float16: 5e-3, torch.float32: 1e-5}.get(dtype, 1e-12)
    np.testing.assert_allclose(got.cpu().double().numpy(), want.double().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_cumulative_gradients_stay_on_the_device(op: str) -> None:
    x0 = sample((3, 7), torch.float32, "prod")
    grads = []
    for device in ("cpu", "cuda"):
        x = x0.clone().to(device).requires_grad_()
        y = getattr(x, op)(1)
        seed = torch.linspace(-1.0, 1.0, 21).reshape(3, 7).to(device)
        before = host_accesses()
        y.backward(seed)
        if device == "cuda":
            assert host_accesses() == before
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-6)
