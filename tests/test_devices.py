"""Tensors, modules, optimizers and checkpoints on a CUDA device, checked against the CPU.

The CUDA cases run wherever ``torch.cuda.is_available()``: on a GPU, or on any machine under
``FERROTORCH_EMULATE_CUDA=1`` (one emulated device whose memory is host memory; README's test
command runs this file that way). Without either they are skipped; the CPU cases always run.
"""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import nn

HAS_CUDA = torch.cuda.is_available()
EMULATED = HAS_CUDA and torch.cuda.get_device_name(0) == "ferrotorch emulated CUDA device (host memory)"
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device (set FERROTORCH_EMULATE_CUDA=1 to emulate one)")
DEVICES = ["cpu", pytest.param("cuda", marks=needs_cuda)]
# on the emulated device, ops with kernels run them (host builds registered by conftest.py)
pytestmark = pytest.mark.usefixtures("emulated_kernels")
CUDA0 = torch.device("cuda", 0)


def on(device: str) -> torch.device:
    """The device a tensor created with ``device=device`` reports."""
    return CUDA0 if device == "cuda" else torch.device("cpu")


def same_on(device: str, fn: Callable[..., Any], *cpu_args: torch.Tensor) -> None:
    """Runs ``fn`` on CPU inputs and on copies on ``device``: equal values, outputs on ``device``."""
    want = fn(*cpu_args)
    got = fn(*[a.to(device) for a in cpu_args])
    wants = want if isinstance(want, tuple) else (want,)
    gots = got if isinstance(got, tuple) else (got,)
    for w, g in zip(wants, gots):
        assert g.device == on(device), f"output on {g.device}, expected {on(device)}"
        np.testing.assert_allclose(g.detach().cpu().numpy(), w.detach().numpy(), rtol=1e-6, atol=1e-6)


# ---- placement -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "make",
    [
        lambda d: torch.zeros(2, 3, device=d),
        lambda d: torch.ones(2, 3, device=d, dtype=torch.int64),
        lambda d: torch.full((2,), 7.5, device=d),
        lambda d: torch.empty(4, device=d),
        lambda d: torch.arange(5, device=d),
        lambda d: torch.linspace(0, 1, 5, device=d),
        lambda d: torch.eye(3, device=d),
        lambda d: torch.tensor([[1, 2], [3, 4]], device=d),
        lambda d: torch.as_tensor([1.0, 2.0], device=d),
        lambda d: torch.rand(3, device=d),
        lambda d: torch.randn(3, device=d),
        lambda d: torch.randint(0, 10, (4,), device=d),
        lambda d: torch.randperm(6, device=d),
    ],
)
def test_creation_functions_place_tensors(device: str, make: Callable[[str], torch.Tensor]) -> None:
    t = make(device)
    assert t.device == on(device)
    assert t.is_cuda == (device == "cuda") and t.is_cpu == (device == "cpu")
    assert t.get_device() == (0 if device == "cuda" else -1)


@pytest.mark.parametrize("device", DEVICES)
def test_creation_values_match_cpu(device: str) -> None:
    assert torch.arange(0, 1, 0.25, device=device).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert torch.eye(2, device=device).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert torch.full((2,), 3, device=device).tolist() == [3, 3]


RAMPS = [
    ("arange_int", lambda **kw: torch.arange(7, **kw)),
    ("arange_neg_step", lambda **kw: torch.arange(10, -5, -3, **kw)),
    ("arange_float_step", lambda **kw: torch.arange(-1, 2, 0.3, **kw)),
    ("arange_big", lambda **kw: torch.arange(2**40, 2**40 + 6, **kw)),
    ("linspace", lambda **kw: torch.linspace(-2, 3, 9, **kw)),
    ("linspace_one", lambda **kw: torch.linspace(4, 9, 1, **kw)),
    ("linspace_empty", lambda **kw: torch.linspace(0, 1, 0, **kw)),
    ("linspace_desc", lambda **kw: torch.linspace(5, -5, 8, **kw)),
]


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
@pytest.mark.parametrize("name, make", RAMPS, ids=[r[0] for r in RAMPS])
@pytest.mark.parametrize("dtype", [None, torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64,
                                   torch.int32, torch.uint8], ids=str)
def test_arange_and_linspace_are_kernels(name: str, make: Callable, dtype: torch.dtype | None) -> None:
    """Written on the device (a forward's positions, torch.arange(T, device=...), never waits for
    it), bit for bit the CPU's values."""
    if name == "arange_big" and dtype not in (None, torch.int64, torch.float64):
        pytest.skip("out of the dtype's range")
    kw = {} if dtype is None else {"dtype": dtype}
    want = make(**kw)
    before = torch._C._cuda_host_accesses(0)
    got = make(device="cuda", **kw)
    assert torch._C._cuda_host_accesses(0) == before
    assert got.device == CUDA0 and got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.cpu().double().numpy(), want.double().numpy())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_random_streams_are_seeded_and_distributed(device: str, dtype: torch.dtype) -> None:
    """Each device's generator: the same seed gives the same values, successive draws differ,
    uniform lies in [0, 1) and normal has mean 0 / std 1 (CUDA's stream is its own, as in PyTorch)."""
    torch.manual_seed(3)
    a = torch.rand(20000, device=device, dtype=dtype)
    b = torch.randn(20000, device=device, dtype=dtype)
    torch.manual_seed(3)
    assert torch.equal(torch.rand(20000, device=device, dtype=dtype), a)
    assert torch.equal(torch.randn(20000, device=device, dtype=dtype), b)
    assert not torch.equal(torch.rand(20000, device=device, dtype=dtype), a)
    u, z = a.cpu().double().numpy(), b.cpu().double().numpy()
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1.0) < 0.03
    x = torch.empty(1000, device=device, dtype=dtype).uniform_(-2.0, 3.0)
    assert x.min().item() >= -2.0 and x.max().item() < 3.0 and x.device == on(device)


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_half_random_numbers_are_kernels(dtype: torch.dtype) -> None:
    """f16/bf16 sample in f32 on the device (no host access); uniform stays below its bound."""
    before = torch._C._cuda_host_accesses(0)
    torch.manual_seed(4)
    u = torch.rand(50000, device="cuda", dtype=dtype)
    z = torch.randn(50000, device="cuda", dtype=dtype)
    w = torch.empty(30, 40, device="cuda", dtype=dtype).t().uniform_(2.0, 3.0)  # strided
    assert torch._C._cuda_host_accesses(0) == before
    torch.manual_seed(4)
    assert torch.equal(torch.rand(50000, device="cuda", dtype=dtype), u)
    assert u.dtype == dtype and z.dtype == dtype
    un, zn, wn = u.cpu().double().numpy(), z.cpu().double().numpy(), w.cpu().double().numpy()
    assert un.min() >= 0.0 and un.max() < 1.0 and abs(un.mean() - 0.5) < 0.01
    assert abs(zn.mean()) < 0.03 and abs(zn.std() - 1.0) < 0.03
    assert wn.min() >= 2.0 and wn.max() < 3.0 and abs(wn.mean() - 2.5) < 0.05


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.float32], ids=str)
def test_randint_is_a_kernel(dtype: torch.dtype) -> None:
    before = torch._C._cuda_host_accesses(0)
    torch.manual_seed(9)
    x = torch.randint(3, 10, (60000,), device="cuda", dtype=dtype)
    strided = torch.zeros(50, 60, device="cuda", dtype=dtype).t()
    strided.random_(0, 4)
    assert torch._C._cuda_host_accesses(0) == before
    torch.manual_seed(9)
    assert torch.equal(torch.randint(3, 10, (60000,), device="cuda", dtype=dtype), x)
    v = x.cpu().double().numpy()
    assert x.dtype == dtype and v.min() == 3 and v.max() == 9
    counts = np.bincount(v.astype(np.int64) - 3, minlength=7)
    assert np.all(np.abs(counts / v.size - 1 / 7) < 0.01), counts
    s = strided.cpu().double().numpy()
    assert set(np.unique(s)) == {0.0, 1.0, 2.0, 3.0}


@needs_cuda
def test_cuda_manual_seed_seeds_only_cuda() -> None:
    torch.manual_seed(1)
    cpu = torch.rand(4)
    torch.cuda.manual_seed(5)
    g1 = torch.rand(4, device="cuda")
    torch.cuda.manual_seed(5)
    assert torch.equal(torch.rand(4, device="cuda"), g1)
    torch.manual_seed(1)
    assert torch.equal(torch.rand(4), cpu)


@needs_cuda
def test_to_cuda_cpu_round_trip_keeps_values_and_dtype() -> None:
    x = torch.arange(12, dtype=torch.float64).reshape(3, 4).t()  # non-contiguous
    for y in (x.cuda(), x.to("cuda"), x.to("cuda:0"), x.to(CUDA0), x.to(0), x.cuda(0)):
        assert y.device == CUDA0 and y.dtype == torch.float64
        assert y.tolist() == x.tolist()
        back = y.cpu()
        assert back.device == torch.device("cpu") and back.tolist() == x.tolist()
    y = x.to("cuda", torch.float32)
    assert y.device == CUDA0 and y.dtype == torch.float32
    assert x.to(y).device == CUDA0 and x.to(y).dtype == torch.float32


@needs_cuda
def test_to_same_device_returns_self_and_copies_are_independent() -> None:
    y = torch.ones(3, device="cuda")
    assert y.to("cuda") is y and y.cuda() is y
    z = torch.ones(3).cuda()
    z.add_(1)
    c = z.cpu()
    c.add_(1)
    assert z.tolist() == [2.0, 2.0, 2.0] and c.tolist() == [3.0, 3.0, 3.0]


@needs_cuda
def test_views_keep_the_device() -> None:
    x = torch.arange(6.0, device="cuda").reshape(2, 3)
    for v in (x.t(), x[0], x[:, 1:], x.view(3, 2), x.unsqueeze(0), x.expand(4, 2, 3)):
        assert v.device == CUDA0


@needs_cuda
def test_repr_names_the_device() -> None:
    assert repr(torch.tensor([1.0, 2.0], device="cuda")) == "tensor([1., 2.], device='cuda:0')"
    assert str(CUDA0) == "cuda:0"


@needs_cuda
def test_numpy_refuses_device_memory() -> None:
    x = torch.ones(2, device="cuda")
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu()"):
        x.numpy()
    with pytest.raises(TypeError, match="can't convert cuda:0"):
        np.asarray(x)
    assert x.numpy(force=True).tolist() == [1.0, 1.0]
    assert x.tolist() == [1.0, 1.0] and x.sum().item() == 2.0


# ---- ops ------------------------------------------------------------------------------------------------

RNG = np.random.default_rng(0)


def rand(*shape: int) -> torch.Tensor:
    return torch.tensor(RNG.standard_normal(shape).astype(np.float32))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda a, b: a + b * 2 - a / (b.abs() + 1), [(3, 4), (4,)]),
        (lambda a: (a.exp().log1p(), a.sigmoid(), a.tanh(), a.relu()), [(5,)]),
        (lambda a, b: torch.where(a > b, a, b), [(3, 4), (3, 4)]),
        (lambda a: (a.sum(), a.mean(1), a.max(0).values, a.argmax(1), a.std()), [(3, 4)]),
        (lambda a, b: (a @ b, torch.mm(a, b)), [(3, 4), (4, 2)]),
        (lambda a, b: torch.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
        (lambda a, b: (torch.cat([a, b]), torch.stack([a, b], 1)), [(2, 3), (2, 3)]),
        (lambda a: (a[1], a[:, ::2], a[a > 0], a.flip(0), a.t().contiguous()), [(3, 4)]),
        (lambda a: (a.softmax(1), F.log_softmax(a, 0), F.layer_norm(a, (4,))), [(3, 4)]),
        (lambda a: a.sort(1), [(3, 4)]),
        (lambda a, w: F.conv2d(a, w, padding=1), [(1, 2, 5, 5), (3, 2, 3, 3)]),
        (lambda a: (F.max_pool2d(a, 2), F.avg_pool2d(a, 2)), [(1, 2, 4, 4)]),
        (lambda a, w: F.linear(a, w), [(3, 4), (2, 4)]),
    ],
)
def test_ops_match_cpu_and_stay_on_device(device: str, fn: Callable[..., Any], shapes: list) -> None:
    same_on(device, fn, *[rand(*s) for s in shapes])


@pytest.mark.parametrize("device", DEVICES)
def test_index_ops_match_cpu(device: str) -> None:
    x = rand(4, 3)
    idx = torch.tensor([2, 0, 2])
    same_on(device, lambda x, i: (x.index_select(0, i), x[i], x.gather(0, i.view(1, 3))), x, idx)
    same_on(device, lambda x, i: torch.zeros(4, 3).to(x.device).scatter_add(0, i.view(3, 1).expand(3, 3), x[:3]), x, idx)
    same_on(device, lambda x, i: F.embedding(i, x), x, idx)


@pytest.mark.parametrize("device", DEVICES)
def test_losses_match_cpu(device: str) -> None:
    x, t = rand(4, 5), torch.tensor([1, 0, 4, 2])
    same_on(device, lambda x, t: (F.cross_entropy(x, t), F.nll_loss(x.log_softmax(1), t)), x, t)
    same_on(device, lambda a, b: (F.mse_loss(a, b), F.l1_loss(a, b)), rand(3, 2), rand(3, 2))


@needs_cuda
def test_zero_dim_cpu_tensor_joins_a_cuda_op() -> None:
    x = torch.ones(3, device="cuda")
    for y in (x + torch.tensor(2.0), x * torch.tensor(3), torch.where(x > 0, x, torch.tensor(0.0))):
        assert y.device == CUDA0
    assert (x * torch.tensor(3)).tolist() == [3.0, 3.0, 3.0]


@needs_cuda
@pytest.mark.parametrize(
    "fn",
    [
        lambda g, c: g + c,
        lambda g, c: c * g,
        lambda g, c: g @ c.t(),
        lambda g, c: torch.cat([g, c]),
        lambda g, c: torch.where(g > 0, g, c),
        lambda g, c: F.linear(g, c),
        lambda g, c: g.index_select(0, torch.tensor([0])),
        lambda g, c: F.conv2d(g.view(1, 1, 2, 3), c.view(1, 1, 2, 3)),
        lambda g, c: F.cross_entropy(g, torch.tensor([0, 1])),
        lambda g, c: F.embedding(torch.tensor([0]), g),
    ],
)
def test_mixing_devices_raises(fn: Callable[..., Any]) -> None:
    g, c = torch.ones(2, 3, device="cuda"), torch.ones(2, 3)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"):
        fn(g, c)


def _assign_window(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    c = a.clone()
    c[:, 1:3] = b[:, :2]
    return c


def launches(fn: Callable[[], Any]) -> int:
    """Kernels launched on cuda:0 while ``fn`` runs."""
    before = torch._C._cuda_kernel_launches(0)
    fn()
    return torch._C._cuda_kernel_launches(0) - before


@needs_cuda
@pytest.mark.parametrize(
    "fn, n, host",
    [
        (lambda a, b: a + b, 1, False),
        (lambda a, b: a * b - a, 2, False),
        (lambda a, b: a[:, :2] / b.t()[:2, :].t(), 1, False),  # strided operands
        (lambda a, b: a < b, 1, False),
        (lambda a, b: a * 2.5, 1, False),  # a Python number: a one-element device operand
        (lambda a, b: a.exp(), 1, False),
        (lambda a, b: a.relu(), 1, False),
        (lambda a, b: a.t().contiguous(), 1, False),
        (lambda a, b: a.to(torch.float64), 1, False),
        (lambda a, b: a.sum(1), 1, False),
        (lambda a, b: a.sum(0), 1, False),  # the leading dim reduced in place, a thread per column
        (lambda a, b: a.sum((0, 1)), 1, False),  # a small whole buffer: one block
        (lambda a, b: a.t().sum(1), 2, False),  # not contiguous: a copy, then the reduction
        (lambda a, b: (a > 0).sum(), 3, False),  # 0 filled in, the comparison, an i64 row sum (torch.sum's dtype)
        (lambda a, b: a.long().sum(1), 2, False),  # a cast, then the i64 row sum
        (lambda a, b: a.softmax(1), 1, False),
        (lambda a, b: a.fill_(3.0), 1, False),
        (lambda a, b: torch.zeros_like(a), 1, False),
        (lambda a, b: a @ b.t(), 0, True),  # cuBLAS on a GPU; the emulated device multiplies on the host
        (lambda a, b: F.layer_norm(a, (4,)), 1, False),
        (lambda a, b: torch.where(a > 0, a, b), 3, False),  # 0 filled into a device scalar, gt, where
        (lambda a, b: torch.cat([a, b], 1), 2, False),  # one strided copy into each slice
        (lambda a, b: _assign_window(a, b), 2, False),  # clone, then a strided copy into the window
        (lambda a, b: a.max(1).values, 2, False),  # values and indices kernels
        (lambda a, b: a.argmax(0), 3, False),  # dim moved last: a copy, then both kernels
        (lambda a, b: F.embedding(torch.tensor([2, 0, 2]).to(a.device), a), 1, True),
        # one gather each (an index out of range is a device-side assert); the host access is the upload
        (lambda a, b: a.gather(1, torch.tensor([[3, 0], [1, 1], [0, 2]]).to(a.device)), 1, True),
        (lambda a, b: a.index_select(1, torch.tensor([3, 0, 3]).to(a.device)), 1, True),
    ],
)
def test_ops_run_as_kernels(emulated_kernels: bool, fn: Callable[..., Any], n: int, host: bool) -> None:
    """The op launches these kernels and, unless ``host`` (index checks, the emulated device's GEMM),
    never touches the device's memory from the host."""
    if not emulated_kernels:
        pytest.skip("no kernels for the emulated device (g++ missing)")
    a = torch.randn(3, 4, device="cuda")
    b = torch.randn(3, 4, device="cuda")
    want = fn(a.cpu(), b.cpu())
    got: list = []
    touched = torch._C._cuda_host_accesses(0)
    n_run = launches(lambda: got.append(fn(a, b)))
    touched = torch._C._cuda_host_accesses(0) - touched
    if not EMULATED and n == 0:
        n, host = 1, False  # a GEMM, by cuBLAS
    assert n_run == n
    assert (touched > 0) == host
    np.testing.assert_allclose(got[0].cpu().numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


@needs_cuda
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_runs_as_kernels(emulated_kernels: bool, reduction: str, weighted: bool) -> None:
    """log_softmax + nll forward and the fused backward as kernels, against the CPU, with nothing
    read back by the host (the targets are checked on the device)."""
    if not emulated_kernels:
        pytest.skip("no kernels for the emulated device (g++ missing)")
    x0, t = rand(6, 5), torch.tensor([1, 0, 4, -100, 2, 4])
    w = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0]) if weighted else None
    res = []
    for device in ("cpu", "cuda"):
        x = x0.detach().clone().to(device).requires_grad_()
        kw = {"weight": w.to(device) if w is not None else None, "reduction": reduction, "ignore_index": -100}
        tt = t.to(device)
        out: list = []
        g = torch.arange(6.0).to(device) if reduction == "none" else None
        reads = torch._C._cuda_host_accesses(0)
        n_fwd = launches(lambda: out.append(F.cross_entropy(x, tt, **kw)))  # noqa: B023 - called at once
        loss = out[0]
        n_bwd = launches(lambda: loss.backward(g))  # noqa: B023 - called at once
        if device == "cuda":
            assert torch._C._cuda_host_accesses(0) == reads
            # log_softmax, nll; then a row sum ('mean': and the row weights' sum, the division)
            assert loss.device == CUDA0 and n_fwd == {"none": 2, "sum": 3, "mean": 5}[reduction]
            # the fused backward (for an implicit seed, its fill; 'mean': the seed's division)
            assert n_bwd == 1 + (g is None) + (reduction == "mean")
        res.append((loss.detach().cpu().numpy(), x.grad.cpu().numpy()))
    for got, want in zip(res[1], res[0]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@needs_cuda
@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1}, {"padding": (2, 0), "dilation": (1, 2)}])
def test_conv2d_runs_as_kernels(emulated_kernels: bool, kw: dict) -> None:
    """im2col (a kernel) + GEMM + bias add; the backward through GEMMs and col2im; against the CPU."""
    if not emulated_kernels:
        pytest.skip("no kernels for the emulated device (g++ missing)")
    x0, w0, b0 = rand(2, 3, 7, 6), rand(4, 3, 3, 2), rand(4)
    res = []
    for device in ("cpu", "cuda"):
        x, w, b = (t.detach().clone().to(device).requires_grad_() for t in (x0, w0, b0))
        out: list = []
        n = launches(lambda: out.append(F.conv2d(x, w, b, **kw)))  # noqa: B023 - called at once
        if device == "cuda":
            assert n == 2 + (not EMULATED)  # im2col, (GEMM on a GPU), bias add
        (out[0] * out[0]).sum().backward()
        res.append([out[0].detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in (x, w, b)])
    for got, want in zip(res[1], res[0]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@needs_cuda
@pytest.mark.parametrize("kw", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1}])
def test_max_pool2d_runs_as_kernels(emulated_kernels: bool, kw: dict) -> None:
    if not emulated_kernels:
        pytest.skip("no kernels for the emulated device (g++ missing)")
    x0 = rand(2, 3, 6, 5)
    res = []
    for device in ("cpu", "cuda"):
        x = x0.detach().clone().to(device).requires_grad_()
        out: list = []
        n_fwd = launches(lambda: out.append(F.max_pool2d(x, **kw)))  # noqa: B023 - called at once
        g = torch.ones_like(out[0])
        n_bwd = launches(lambda: out[0].backward(g))  # noqa: B023 - called at once
        if device == "cuda":
            assert (n_fwd, n_bwd) == (1, 2)  # values+indices; zero fill, atomic scatter-add
        res.append([out[0].detach().cpu().numpy(), x.grad.cpu().numpy()])
    for got, want in zip(res[1], res[0]):
        np.testing.assert_allclose(got, want, rtol=1e-6)


@needs_cuda
def test_batch_norm_training_stays_on_the_device(emulated_kernels: bool) -> None:
    """Training-mode batch norm (statistics, running-stat updates, affine, backward) runs as kernels
    with no host access to device memory, and matches the CPU."""
    if not emulated_kernels:
        pytest.skip("no kernels for the emulated device (g++ missing)")
    x0, w0, b0 = rand(4, 3, 5), rand(3), rand(3)
    res = []
    for device in ("cpu", "cuda"):
        x, w, b = (t.detach().clone().to(device).requires_grad_() for t in (x0, w0, b0))
        rm, rv = torch.zeros(3, device=device), torch.ones(3, device=device)
        touched = torch._C._cuda_host_accesses(0)
        out = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2)
        (out * out).sum().backward()
        if device == "cuda":
            assert torch._C._cuda_host_accesses(0) == touched
        res.append([t.detach().cpu().numpy() for t in (out, x.grad, w.grad, b.grad, rm, rv)])
    for got, want in zip(res[1], res[0]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@needs_cuda
@pytest.mark.parametrize("kw, on_device", [
    ({"kernel_size": 2}, True),
    ({"kernel_size": 3, "stride": 2, "padding": 1}, True),
    ({"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}, False),  # host path
    ({"kernel_size": 2, "ceil_mode": True}, False),  # host path
])
def test_avg_pool2d_on_the_device(emulated_kernels: bool, kw: dict, on_device: bool) -> None:
    """avg_pool2d as window means of im2col columns where that is exact, else on the host; both
    match the CPU, gradients too."""
    if not emulated_kernels:
        pytest.skip("no kernels for the emulated device (g++ missing)")
    x0 = rand(2, 3, 7, 6)
    res = []
    for device in ("cpu", "cuda"):
        x = x0.detach().clone().to(device).requires_grad_()
        touched = torch._C._cuda_host_accesses(0)
        out = F.avg_pool2d(x, **kw)
        (out * out).sum().backward()
        if device == "cuda":
            assert (torch._C._cuda_host_accesses(0) == touched) == on_device
        res.append([out.detach().cpu().numpy(), x.grad.cpu().numpy()])
    for got, want in zip(res[1], res[0]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def class_loss_on_both(loss_fn: Callable, reduction: str, weighted: bool) -> None:
    """`loss_fn(x, target, weight, reduction)` of (N, C, d1) logits with an ignored target, on
    the CPU and the device: equal losses and gradients, and nothing read back on the device."""
    x0, t = rand(2, 5, 3), torch.tensor([[1, 4, -100], [0, 2, 2]])  # class dim 1
    w = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0]) if weighted else None
    res = []
    for device in ("cpu", "cuda"):
        x = x0.detach().clone().to(device).requires_grad_()
        tt, ww = t.to(device), (w.to(device) if w is not None else None)
        g = torch.arange(6.0).reshape(2, 3).to(device) if reduction == "none" else None
        reads = torch._C._cuda_host_accesses(0)
        loss = loss_fn(x, tt, ww, reduction)
        loss.backward(g)
        if device == "cuda":
            assert torch._C._cuda_host_accesses(0) == reads
        res.append((loss.detach().cpu().numpy(), x.grad.cpu().numpy()))
    for got, want in zip(res[1], res[0]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_label_smoothing_stays_on_the_device(reduction: str, weighted: bool) -> None:
    class_loss_on_both(lambda x, t, w, r: F.cross_entropy(x, t, weight=w, reduction=r, label_smoothing=0.2),
                       reduction, weighted)


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_runs_as_kernels(reduction: str, weighted: bool) -> None:
    """F.nll_loss(log_softmax(x), t), the classic MNIST step: the nll kernels, nothing read back."""
    class_loss_on_both(lambda x, t, w, r: F.nll_loss(F.log_softmax(x, 1), t, weight=w, reduction=r), reduction, weighted)
    x = torch.randn(3, 5).cuda().requires_grad_()
    assert F.nll_loss(x.log_softmax(1), torch.tensor([0, 4, 2]).cuda()).grad_fn.name() == "NllLossBackward0"
    res = []
    x0 = rand(5)
    # unbatched input and double backward
    x = x0.detach().clone().requires_grad_()
    for device in ("cpu", "cuda"):
        xd = x.to(device)
        loss = F.nll_loss(xd.log_softmax(0), torch.tensor(3).to(device), reduction="none")
        (gx,) = torch.autograd.grad(loss, xd, create_graph=True)
        res.append((loss.detach().cpu().numpy(), torch.autograd.grad(gx.sum() * loss, xd)[0].cpu().numpy()))
    for got, want in zip(res[1], res[0]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
def test_bad_target_is_a_device_side_assert_at_the_next_sync() -> None:
    """As PyTorch on a GPU: the op returns (no wait), the next call that waits raises."""
    x = rand(3, 4).to("cuda")
    loss = F.cross_entropy(x, torch.tensor([1, 4, 0]).to("cuda"))
    with pytest.raises(RuntimeError, match="device-side assert triggered: cross_entropy / nll_loss: a target is out of bounds"):
        loss.item()
    ok = F.cross_entropy(x, torch.tensor([1, 3, 0]).to("cuda"))  # reported once: the device works on
    np.testing.assert_allclose(ok.item(), F.cross_entropy(x.cpu(), torch.tensor([1, 3, 0])).item(), rtol=1e-6)
    F.embedding(torch.tensor([0, 7]).to("cuda"), rand(5, 2).to("cuda"))
    with pytest.raises(RuntimeError, match="device-side assert triggered: embedding: index out of range in self"):
        torch.cuda.synchronize()


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
def test_cross_entropy_double_backward_on_the_device_matches_cpu() -> None:
    x0, t = rand(5, 4), torch.tensor([3, 0, -100, 1, 1])
    w = torch.tensor([1.0, 2.0, 0.5, 3.0])
    res = []
    for device in ("cpu", "cuda"):
        x = x0.detach().clone().to(device).requires_grad_()
        loss = F.cross_entropy(x, t.to(device), weight=w.to(device))
        (gx,) = torch.autograd.grad(loss, x, create_graph=True)
        (gx * gx).sum().backward()
        res.append((gx.detach().cpu().numpy(), x.grad.cpu().numpy()))
    for got, want in zip(res[1], res[0]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_with_device_indices_never_reads_them(padding_idx: int | None) -> None:
    w0, idx = rand(6, 3), torch.tensor([[4, 1], [4, 0], [1, 5]])
    res = []
    for device in ("cpu", "cuda"):
        w = w0.detach().clone().to(device).requires_grad_()
        i, g = idx.to(device), torch.arange(18.0).reshape(3, 2, 3).to(device)
        reads = torch._C._cuda_host_accesses(0)
        out = F.embedding(i, w, padding_idx=padding_idx)
        out.backward(g)
        if device == "cuda":
            assert torch._C._cuda_host_accesses(0) == reads and out.shape == (3, 2, 3)
        res.append((out.detach().cpu().numpy(), w.grad.cpu().numpy()))
    for got, want in zip(res[1], res[0]):
        np.testing.assert_array_equal(got, want)
    if padding_idx is not None:
        assert not res[1][1][padding_idx].any()


@needs_cuda
def test_embedding_backward_runs_as_kernels(emulated_kernels: bool) -> None:
    if not emulated_kernels:
        pytest.skip("no kernels for the emulated device (g++ missing)")
    w0 = rand(5, 3)
    idx = torch.tensor([4, 1, 4, 0])
    grads = []
    for device in ("cpu", "cuda"):
        w = w0.detach().clone().to(device).requires_grad_()
        out = F.embedding(idx.to(device), w)
        g = torch.arange(12.0).reshape(4, 3).to(device)
        n = launches(lambda: out.backward(g))  # noqa: B023 - called at once
        if device == "cuda":
            assert n == 2  # zero fill, atomic scatter-add (the result becomes .grad as it is)
        grads.append(w.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)


# ---- autograd, modules, optimizers ------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_match_cpu(device: str) -> None:
    x0, w0 = rand(4, 3), rand(3, 2)

    def grads(d: str) -> list[np.ndarray]:
        x = x0.to(d).requires_grad_()
        w = w0.to(d).requires_grad_()
        loss = ((x @ w).tanh() * x.sum(1, keepdim=True)).softmax(1)[:, 0].sum()
        loss.backward()
        assert x.grad.device == on(d) and w.grad.device == on(d)
        return [x.grad.cpu().numpy(), w.grad.cpu().numpy()]

    for got, want in zip(grads(device), grads("cpu")):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@needs_cuda
def test_gradient_flows_back_across_a_device_copy() -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.cuda()
    assert y.grad_fn is not None and y.grad_fn.name() == "ToCopyBackward0"
    (y * y).sum().backward()
    assert x.grad.device == torch.device("cpu") and x.grad.tolist() == [2.0, 4.0]


@needs_cuda
def test_module_to_and_training_step_match_cpu() -> None:
    torch.manual_seed(0)
    cpu_model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    gpu_model = copy.deepcopy(cpu_model).to("cuda")
    assert all(p.device == CUDA0 for p in gpu_model.parameters())
    assert all(p.device == torch.device("cpu") for p in cpu_model.parameters())
    x, t = rand(5, 1, 4, 4), torch.tensor([0, 1, 2, 1, 0])
    for model, opt_cls in ((cpu_model, torch.optim.Adam), (gpu_model, torch.optim.Adam)):
        dev = next(model.parameters()).device
        opt = opt_cls(model.parameters(), lr=0.01)
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(x.to(dev)), t.to(dev)).backward()
            opt.step()
    for p, q in zip(cpu_model.parameters(), gpu_model.parameters()):
        assert q.device == CUDA0
        np.testing.assert_allclose(q.detach().cpu().numpy(), p.detach().numpy(), rtol=1e-5, atol=1e-6)
    back = gpu_model.cpu()
    assert all(p.device == torch.device("cpu") for p in back.parameters())


@needs_cuda
@pytest.mark.parametrize("opt_cls", [torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW])
def test_optimizer_state_lives_with_its_parameter(opt_cls: Any) -> None:
    p = torch.ones(3, device="cuda", requires_grad=True)
    opt = opt_cls([p], lr=0.1, **({"momentum": 0.9} if opt_cls is torch.optim.SGD else {}))
    (p * p).sum().backward()
    opt.step()
    for state in opt.state.values():
        for v in state.values():
            if isinstance(v, torch.Tensor) and v.dim() > 0:
                assert v.device == CUDA0
    q = torch.ones(3, requires_grad=True)
    (q * q).sum().backward()
    p.grad = None
    p.grad = q.grad.to("cuda")
    opt.step()
    assert p.device == CUDA0


def _stepped(device: str, init: list, grads: list, make: Callable[[list], Any], dtype: Any = None) -> tuple:
    """The parameters ``make``'s optimizer reaches from ``init`` through ``grads`` on ``device`` (as float64
    arrays), with each step's (kernel launches, host accesses) there."""
    ps = [p.detach().clone().to(device).requires_grad_() for p in init]
    opt = make(ps)
    counts = []
    for step_grads in grads:
        for p, g in zip(ps, step_grads):
            p.grad = g.to(device)
        touched = torch._C._cuda_host_accesses(0)
        counts.append((launches(opt.step), torch._C._cuda_host_accesses(0) - touched))
    assert dtype is None or all(p.dtype == dtype for p in ps)
    return [p.detach().cpu().double().numpy() for p in ps], counts


@needs_cuda
@pytest.mark.parametrize(
    "make",
    [
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda ps: torch.optim.SGD(ps, lr=0.1),
        lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True),
        lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
        lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.3, 0.9), maximize=True),  # lerp weight >= 0.5
        lambda ps: torch.optim.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5),
        lambda ps: torch.optim.RMSprop(ps, lr=0.01),
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True, weight_decay=0.1, maximize=True),
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, centered=True),
        lambda ps: torch.optim.Adadelta(ps, lr=1.0, weight_decay=0.1),
        lambda ps: torch.optim.Adamax(ps, lr=0.01, weight_decay=0.1),
        lambda ps: torch.optim.NAdam(ps, lr=0.01),
        lambda ps: torch.optim.NAdam(ps, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
        lambda ps: torch.optim.RAdam(ps, lr=0.01, weight_decay=0.1),  # rectified from step 6 on
        lambda ps: torch.optim.RAdam(ps, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    ],
)
def test_optimizer_steps_run_as_kernels(emulated_kernels: bool, make: Callable[[list], Any]) -> None:
    """One fused kernel for all parameters per step, no host access, and the CPU's results."""
    if not emulated_kernels:
        pytest.skip("no kernels for the emulated device (g++ missing)")
    init = [rand(3, 4), rand(5)]
    grads = [[rand(3, 4), rand(5)] for _ in range(7)]
    want, _ = _stepped("cpu", init, grads, make)
    got, counts = _stepped("cuda", init, grads, make)
    assert counts[0][0] >= 1  # with the launches that fill the state buffers
    assert counts[1:] == [(1, 0)] * (len(grads) - 1)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


@needs_cuda
@pytest.mark.parametrize("mixed", [False, True])
def test_optimizer_kernels_take_up_to_32_tensors_a_launch(emulated_kernels: bool, mixed: bool) -> None:
    """Tensors of every size, empty ones and ones that span a block's chunk included, update as on the CPU
    in ceil(count / 32) launches per dtype."""
    if not emulated_kernels:
        pytest.skip("no kernels for the emulated device (g++ missing)")
    sizes = [5000, 0, 3, 4093, 1, 9000] + [7] * 50  # 55 tensors with elements
    init = [rand(n) for n in sizes]
    if mixed:
        init = [p.to(torch.float16) if i % 3 == 0 else p for i, p in enumerate(init)]  # 19 f16, 36 f32 with elements
    grads = [[rand(n).to(p.dtype) for n, p in zip(sizes, init)] for _ in range(2)]
    want, _ = _stepped("cpu", init, grads, lambda ps: torch.optim.Adam(ps, lr=0.01))
    got, counts = _stepped("cuda", init, grads, lambda ps: torch.optim.Adam(ps, lr=0.01))
    assert counts[-1] == ((3 if mixed else 2), 0)
    tol = 1e-3 if mixed else 1e-6  # f16: a GPU may fuse a multiply-add the host rounds twice
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol / 10)


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize(
    "make",
    [
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda ps: torch.optim.Adam(ps, lr=0.01, amsgrad=True),
        lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
        lambda ps: torch.optim.Adagrad(ps, lr=0.1),
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
        lambda ps: torch.optim.Adadelta(ps, lr=1.0),
        lambda ps: torch.optim.Adamax(ps, lr=0.01),
        lambda ps: torch.optim.NAdam(ps, lr=0.01),
        lambda ps: torch.optim.RAdam(ps, lr=0.01),
    ],
)
def test_half_and_double_optimizer_steps_are_kernels(
    emulated_kernels: bool, dtype: torch.dtype, make: Callable[[list], Any]
) -> None:
    """Half parameters update in f32 and round to their dtype where PyTorch stores state, as on the CPU."""
    if not emulated_kernels:
        pytest.skip("no kernels for the emulated device (g++ missing)")
    init = [rand(4, 5).to(dtype), rand(7).to(dtype)]
    grads = [[rand(4, 5).to(dtype), rand(7).to(dtype)] for _ in range(7)]
    want, _ = _stepped("cpu", init, grads, make, dtype)
    got, counts = _stepped("cuda", init, grads, make, dtype)
    assert counts[1:] == [(1, 0)] * (len(grads) - 1)
    # one rounding step of the dtype: a GPU may fuse a multiply-add the host rounds twice
    tol = {torch.float16: 1e-3, torch.bfloat16: 8e-3, torch.float64: 1e-12}[dtype]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


# ---- checkpoints and copies --------------------------------------------------------------------------------


@needs_cuda
def test_save_load_keeps_or_maps_the_device(tmp_path: Path) -> None:
    m = nn.Linear(3, 2).cuda()
    torch.save(m.state_dict(), tmp_path / "m.pt")
    sd = torch.load(tmp_path / "m.pt")
    assert all(v.device == CUDA0 for v in sd.values())
    for ml in ("cpu", torch.device("cpu"), {"cuda:0": "cpu"}):
        sd_cpu = torch.load(tmp_path / "m.pt", map_location=ml)
        assert all(v.device == torch.device("cpu") for v in sd_cpu.values())
        assert sd_cpu["weight"].tolist() == m.weight.tolist()
    fresh = nn.Linear(3, 2)
    fresh.load_state_dict(torch.load(tmp_path / "m.pt", map_location="cpu"))
    assert fresh.weight.tolist() == m.weight.tolist()


@needs_cuda
def test_save_load_into_cuda_with_map_location(tmp_path: Path) -> None:
    torch.save({"w": torch.arange(3.0)}, tmp_path / "c.pt")
    w = torch.load(tmp_path / "c.pt", map_location="cuda")["w"]
    assert w.device == CUDA0 and w.tolist() == [0.0, 1.0, 2.0]


@needs_cuda
def test_pickle_and_deepcopy_keep_the_device() -> None:
    x = torch.arange(4.0, device="cuda")
    for y in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x)):
        assert y.device == CUDA0 and y.tolist() == [0.0, 1.0, 2.0, 3.0]


# ---- torch.cuda ------------------------------------------------------------------------------------------


@needs_cuda
def test_memory_statistics_follow_allocations() -> None:
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    x = torch.empty(1 << 20, device="cuda")  # 4 MiB
    assert torch.cuda.memory_allocated() - base == 4 << 20
    assert torch.cuda.max_memory_allocated() >= base + (4 << 20)
    assert torch.cuda.memory_reserved() >= torch.cuda.memory_allocated()
    del x
    assert torch.cuda.memory_allocated() == base
    torch.cuda.empty_cache()
    assert torch.cuda.memory_reserved() <= torch.cuda.max_memory_allocated()


@needs_cuda
def test_device_queries_and_errors() -> None:
    assert torch.cuda.device_count() >= 1 and torch.cuda.is_initialized()
    assert torch.cuda.current_device() == 0
    assert isinstance(torch.cuda.get_device_name(0), str) and torch.cuda.get_device_name()
    with torch.cuda.device(0):
        assert torch.cuda.current_device() == 0
    n = torch.cuda.device_count()
    with pytest.raises(RuntimeError, match=f"invalid device ordinal {n}"):
        torch.cuda.set_device(n)
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        torch.zeros(2, device=f"cuda:{n}")


def test_cuda_request_without_a_device_raises() -> None:
    if HAS_CUDA:
        pytest.skip("a CUDA device is available")
    with pytest.raises((RuntimeError, AssertionError)):
        torch.zeros(2, device="cuda")
    with pytest.raises((RuntimeError, AssertionError)):
        torch.ones(2).cuda()


def test_tf32_flag_and_matmul_precision() -> None:
    assert torch.backends.cuda.matmul.allow_tf32 is False
    assert torch.get_float32_matmul_precision() == "highest"
    try:
        torch.set_float32_matmul_precision("high")
        assert torch.backends.cuda.matmul.allow_tf32 is True
        assert torch.get_float32_matmul_precision() == "high"
        torch.backends.cuda.matmul.allow_tf32 = False
        assert torch.get_float32_matmul_precision() == "highest"
        with pytest.raises(RuntimeError, match="Invalid precision"):
            torch.set_float32_matmul_precision("low")
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
    assert torch.backends.cuda.is_built() == torch.cuda.is_built()


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
@pytest.mark.parametrize("view", [
    lambda a: a[::2, 1:],
    lambda a: a.t()[1],
    lambda a: a.diagonal(),
    lambda a: a.chunk(3, 1)[1],
    lambda a: a.unbind(0)[2],
    lambda a: a.narrow(1, 1, 2).transpose(0, 1),
])
def test_view_backward_stays_on_the_device(view: Callable) -> None:
    """The gradient of a view that does not overlap itself is a zero fill and a strided copy, both
    kernels; it equals the CPU's."""
    x0 = rand(4, 5)
    grads = []
    for device in ("cpu", "cuda"):
        x = x0.detach().clone().to(device).requires_grad_()
        y = view(x)
        seed = torch.arange(float(y.numel())).reshape(y.shape).to(device)
        touched = torch._C._cuda_host_accesses(0) if device == "cuda" else 0
        y.backward(seed)
        if device == "cuda":
            assert torch._C._cuda_host_accesses(0) == touched
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_array_equal(grads[1], grads[0])


@pytest.mark.parametrize("bad", [[-1, 0], [0, 3]])
def test_index_select_out_of_range_raises_index_error(bad: list) -> None:
    # on CUDA a device-side assert instead (test_devices_index.py)
    with pytest.raises(IndexError, match="index out of range in self"):
        torch.zeros(3, 4).index_select(0, torch.tensor(bad))


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
@pytest.mark.parametrize("make", [
    lambda: nn.LSTM(3, 5, num_layers=2, batch_first=True),
    lambda: nn.LSTM(3, 5, bidirectional=True),
    lambda: nn.GRU(3, 5, num_layers=2, bidirectional=True, batch_first=True),
    lambda: nn.RNN(3, 5),
    lambda: nn.LSTMCell(3, 5),
    lambda: nn.GRUCell(3, 5),
], ids=["lstm2", "lstm_bi", "gru2_bi", "rnn", "lstm_cell", "gru_cell"])
def test_recurrent_layers_on_the_device_match_the_cpu(make: Callable) -> None:
    """On a GPU the cells' pointwise part is elementwise kernels (the CPU's fused cells are host
    loops); outputs and every gradient equal the CPU's."""
    torch.manual_seed(3)
    cpu = make()
    dev = copy.deepcopy(cpu).to("cuda")
    cell = isinstance(cpu, (nn.LSTMCell, nn.GRUCell))
    x0 = rand(4, 3) if cell else rand(4, 6, 3)
    res = []
    for model, device in ((cpu, "cpu"), (dev, "cuda")):
        out = model(x0.to(device))
        first = out[0] if isinstance(out, tuple) else out
        (first * first).sum().backward()
        res.append([first.detach().cpu().numpy()] + [p.grad.cpu().numpy() for p in model.parameters()])
    for got, want in zip(res[1], res[0]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_along_any_dim_runs_as_kernels(dim: int, log: bool) -> None:
    """A dim other than the last is moved last and back by strided copies around the row kernel;
    forward and backward stay on the device and match the CPU."""
    x0 = rand(3, 4, 5)
    res = []
    for device in ("cpu", "cuda"):
        x = x0.detach().clone().to(device).requires_grad_()
        seed = torch.arange(60.0).reshape(3, 4, 5).to(device)
        touched = torch._C._cuda_host_accesses(0) if device == "cuda" else 0
        y = x.log_softmax(dim) if log else x.softmax(dim)
        y.backward(seed)
        if device == "cuda":
            assert torch._C._cuda_host_accesses(0) == touched
        res.append([y.detach().cpu().numpy(), x.grad.cpu().numpy()])
    for got, want in zip(res[1], res[0]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
@pytest.mark.parametrize("groups, kw", [(2, {}), (4, {"stride": 2, "padding": 1}), (2, {"dilation": 2})],
                         ids=["groups2", "depthwise", "dilated"])
def test_grouped_conv2d_runs_as_kernels(groups: int, kw: dict) -> None:
    """Grouped and depthwise conv2d: one im2col of all channels, a GEMM batched over the groups,
    the bias added; forward and gradients match the CPU."""
    x0, w0, b0 = rand(2, 4, 7, 6), rand(4 * (2 if groups == 2 else 1), 4 // groups, 3, 3), rand(8 if groups == 2 else 4)
    res = []
    for device in ("cpu", "cuda"):
        x, w, b = (t.detach().clone().to(device).requires_grad_() for t in (x0, w0, b0))
        out: list = []
        n = launches(lambda: out.append(F.conv2d(x, w, b, groups=groups, **kw)))  # noqa: B023 - called at once
        if device == "cuda":
            # im2col, the weight broadcast over the batch (a copy), (GEMM on a GPU), bias add
            assert n == 3 + (not EMULATED)
        (out[0] * out[0]).sum().backward()
        res.append([out[0].detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in (x, w, b)])
    for got, want in zip(res[1], res[0]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@needs_cuda
@pytest.mark.usefixtures("kernels_only")
@pytest.mark.parametrize("fn", [
    lambda x: x.flip(1),
    lambda x: x.flip(0, 2),
    lambda x: x.transpose(0, 2).flip(-1),
    lambda x: x.tril(),
    lambda x: x.triu(1),
    lambda x: x.transpose(1, 2).tril(-1),
], ids=["flip1", "flip02", "flip_strided", "tril", "triu1", "tril_strided"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int64, torch.bool], ids=str)
def test_flip_and_triangles_run_as_kernels(fn: Callable, dtype: torch.dtype) -> None:
    x0 = (rand(3, 4, 5) * 4).to(dtype)
    x = x0.to("cuda")
    touched = torch._C._cuda_host_accesses(0)
    got = fn(x)
    assert torch._C._cuda_host_accesses(0) == touched
    np.testing.assert_array_equal(got.cpu().float().numpy(), fn(x0).float().numpy())
    if dtype == torch.float32:
        grads = []
        for t in (x0.clone().requires_grad_(), x0.clone().to("cuda").requires_grad_()):
            fn(t).backward(torch.arange(60.0).reshape(fn(x0).shape).to(t.device))
            grads.append(t.grad.cpu().numpy())
        np.testing.assert_array_equal(grads[1], grads[0])


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64], ids=str)
def test_unscale_is_one_kernel_for_all_gradients(dtype: torch.dtype, kernels_only: None) -> None:
    rng = np.random.default_rng(3)
    cpu = [torch.tensor(rng.standard_normal(s) * 100, dtype=dtype) for s in ((5, 7), (300,), (1,))]
    cpu[1][17] = float("inf")
    dev = [g.to("cuda") for g in cpu]
    found_cpu, found_dev = torch.zeros(1), torch.zeros(1, device="cuda")
    touched = torch._C._cuda_host_accesses(0)
    n = launches(lambda: torch._amp_foreach_non_finite_check_and_unscale_(dev, found_dev, 1 / 64))
    assert n == 1 and torch._C._cuda_host_accesses(0) == touched
    torch._amp_foreach_non_finite_check_and_unscale_(cpu, found_cpu, 1 / 64)
    assert found_dev.item() == found_cpu.item() == 1.0
    for d, c in zip(dev, cpu):
        np.testing.assert_array_equal(d.cpu().double().numpy(), c.double().numpy())
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        torch._amp_foreach_non_finite_check_and_unscale_(dev, found_cpu, 1.0)


@needs_cuda
def test_cuda_autocast_and_scaler_on_the_device() -> None:
    lin = torch.nn.Linear(8, 3)
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.standard_normal((16, 8)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 3, 16))
    want = lin(x)
    lin_d = torch.nn.Linear(8, 3).cuda()
    lin_d.load_state_dict(lin.state_dict())
    opt = torch.optim.SGD(lin_d.parameters(), lr=0.1)
    scaler = torch.cuda.amp.GradScaler(init_scale=256.0)
    with torch.cuda.amp.autocast():
        out = lin_d(x.cuda())
        loss = torch.nn.functional.cross_entropy(out, y.cuda())
    assert out.dtype == torch.float16 and loss.dtype == torch.float32 and out.device.type == "cuda"
    np.testing.assert_allclose(out.float().cpu().detach().numpy(), want.detach().numpy(), rtol=0.02, atol=0.02)
    before = lin_d.weight.detach().cpu()
    scaler.scale(loss).backward()
    assert lin_d.weight.grad.dtype == torch.float32 and lin_d.weight.grad.device.type == "cuda"
    scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == 256.0
    assert not np.array_equal(lin_d.weight.detach().cpu().numpy(), before.numpy())


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64], ids=str)
@pytest.mark.parametrize("ord", [1.0, 2.0, float("inf")])
def test_foreach_norm_is_two_launches_per_32_tensors(dtype: torch.dtype, ord: float, kernels_only: None) -> None:
    """Tensors longer than a chunk (4096), an empty one and a NaN in one: norms as on the CPU."""
    rng = np.random.default_rng(9)
    sizes = [5000, 0, 3, 9000, 1] + [11] * 35  # 40 tensors: two lists
    cpu = [torch.tensor(rng.standard_normal(n)).to(dtype) for n in sizes]
    cpu[3][4500] = float("nan")
    dev = [t.to("cuda") for t in cpu]
    touched = torch._C._cuda_host_accesses(0)
    got = []
    assert launches(lambda: got.extend(torch._foreach_norm(dev, ord))) == 4
    assert torch._C._cuda_host_accesses(0) == touched
    for i, (g, t) in enumerate(zip(got, cpu)):
        assert g.device == CUDA0 and g.dtype == dtype and g.dim() == 0
        want = 0.0 if t.numel() == 0 else float(t.norm(ord))  # the CPU raises for inf of an empty tensor
        tol = {torch.float16: 1e-3, torch.bfloat16: 8e-3}.get(dtype, 1e-5)
        np.testing.assert_allclose(float(g), want, rtol=tol, err_msg=f"tensor {i}")
    assert math.isnan(float(got[3]))


@needs_cuda
def test_foreach_mul_by_a_device_scalar_is_one_launch(kernels_only: None) -> None:
    cpu = [rand(5000), rand(3), torch.zeros(0), rand(4, 4)]
    dev = [t.to("cuda") for t in cpu]
    factor = torch.tensor(0.25).to("cuda")
    touched = torch._C._cuda_host_accesses(0)
    assert launches(lambda: torch._foreach_mul_(dev, factor)) == 1
    assert torch._C._cuda_host_accesses(0) == touched
    for d, c in zip(dev, cpu):
        np.testing.assert_array_equal(d.cpu().numpy(), (c * 0.25).numpy())


@needs_cuda
def test_clip_grad_norm_on_the_device_launches_per_list_not_per_gradient(kernels_only: None) -> None:
    torch.manual_seed(0)
    cpu_model = nn.Sequential(*[nn.Linear(8, 8) for _ in range(17)])  # 34 gradients
    gpu_model = copy.deepcopy(cpu_model).to("cuda")
    x = rand(4, 8)
    cpu_model(x).sum().backward()
    gpu_model(x.to("cuda")).sum().backward()
    norms = [nn.utils.clip_grad_norm_(cpu_model.parameters(), 0.5)]
    touched = torch._C._cuda_host_accesses(0)
    n = launches(lambda: norms.append(nn.utils.clip_grad_norm_(gpu_model.parameters(), 0.5)))
    assert n <= 16 and torch._C._cuda_host_accesses(0) == touched  # 212 launches for 34 gradients before
    np.testing.assert_allclose(float(norms[1]), float(norms[0]), rtol=1e-5)
    for p, q in zip(cpu_model.parameters(), gpu_model.parameters()):
        np.testing.assert_allclose(q.grad.cpu().numpy(), p.grad.numpy(), rtol=1e-5, atol=1e-7)


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=str)
@pytest.mark.parametrize(
    "call",
    [
        lambda xs, ys: torch._foreach_add_(xs, ys, alpha=0.5),
        lambda xs, ys: torch._foreach_add_(xs, 2.5),
        lambda xs, ys: torch._foreach_mul_(xs, ys),
        lambda xs, ys: torch._foreach_mul_(xs, -3),
        lambda xs, ys: torch._foreach_lerp_(xs, ys, 0.1),  # an EMA update
        lambda xs, ys: torch._foreach_lerp_(xs, ys, 0.9),
        lambda xs, ys: torch._foreach_copy_(xs, ys),
        lambda xs, ys: torch._foreach_zero_(xs),
    ],
)
def test_inplace_foreach_ops_are_a_launch_per_32_tensors(dtype: torch.dtype, call: Callable, kernels_only: None) -> None:
    rng = np.random.default_rng(12)
    sizes = [5000, 0, 3, 9000] + [6] * 36  # 39 tensors with elements: two lists
    cpu_x = [torch.tensor(rng.standard_normal(n)).to(dtype) for n in sizes]
    cpu_y = [torch.tensor(rng.standard_normal(n)).to(dtype) for n in sizes]
    dev_x, dev_y = [t.to("cuda") for t in cpu_x], [t.to("cuda") for t in cpu_y]
    touched = torch._C._cuda_host_accesses(0)
    assert launches(lambda: call(dev_x, dev_y)) == 2
    assert torch._C._cuda_host_accesses(0) == touched
    # the kernels compute halves in f32 and round once, as PyTorch's do
    ref_x = [t.float() for t in cpu_x]
    call(ref_x, [t.float() for t in cpu_y])
    tol = 1e-3 if dtype == torch.float16 else 1e-6  # a GPU may fuse the multiply-add
    for d, r in zip(dev_x, ref_x):
        assert d.device == CUDA0 and d.dtype == dtype
        np.testing.assert_allclose(d.cpu().float().numpy(), r.to(dtype).float().numpy(), rtol=tol, atol=tol)


@needs_cuda
def test_foreach_ops_fall_back_per_tensor_where_kernels_do_not_apply(kernels_only: None) -> None:
    """A transposed view, a broadcast operand, an integer tensor and a CPU/GPU mix give the per-tensor results."""
    a, b = rand(3, 4), rand(4, 3)
    ints = torch.arange(6)
    dev = [a.to("cuda").t(), ints.to("cuda"), b.to("cuda")]
    others = [b.to("cuda"), torch.ones(6, dtype=torch.int64).to("cuda"), torch.ones(3).to("cuda")]  # broadcast row
    torch._foreach_add_(dev, others)
    np.testing.assert_allclose(dev[0].cpu().numpy(), (a.t() + b).numpy(), rtol=1e-6)
    assert dev[1].cpu().tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(dev[2].cpu().numpy(), (b + 1).numpy(), rtol=1e-6)
    mixed = [rand(2), rand(2).to("cuda")]
    want = [mixed[0] * 2, (mixed[1] * 2).cpu()]
    torch._foreach_mul_(mixed, 2.0)
    assert mixed[1].device == CUDA0
    for m, w in zip(mixed, want):
        np.testing.assert_allclose(m.cpu().numpy(), w.numpy(), rtol=1e-6)


@needs_cuda
def test_zero_grad_set_to_none_false_is_a_launch_per_32_gradients(kernels_only: None) -> None:
    model = nn.Sequential(*[nn.Linear(4, 4) for _ in range(17)]).to("cuda")  # 34 gradients
    model(rand(2, 4).to("cuda")).sum().backward()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    assert launches(lambda: opt.zero_grad(set_to_none=False)) == 2
    assert all(float(p.grad.abs().sum()) == 0.0 for p in model.parameters())


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize(
    "fn, values",
    [
        (torch.erfc, [-3.0, -0.4, 0.0, 0.3, 2.0, 9.0]),
        (torch.erfinv, [-0.999, -0.5, 0.0, 0.2, 0.9, 1.0]),
        (torch.lgamma, [-2.5, -0.5, 0.1, 1.0, 2.0, 7.5, 300.0]),
        (torch.digamma, [-2.5, -0.5, 0.1, 1.0, 2.0, 7.5, 300.0]),
        (lambda t: torch.polygamma(1, t), [-2.5, 0.1, 1.0, 7.5]),
        (lambda t: torch.polygamma(3, t), [0.4, 1.0, 7.5]),
    ],
)
def test_special_functions_are_one_kernel_with_the_cpus_values(
    dtype: torch.dtype, fn: Callable, values: list, kernels_only: None
) -> None:
    cpu = torch.tensor(values, dtype=dtype)
    dev = cpu.to("cuda")
    touched = torch._C._cuda_host_accesses(0)
    out = []
    assert launches(lambda: out.append(fn(dev))) == 1
    assert torch._C._cuda_host_accesses(0) == touched
    tol = 2e-6 if dtype == torch.float32 else 1e-12  # the device's libm, f32 series on f32
    np.testing.assert_allclose(out[0].cpu().numpy(), fn(cpu).numpy(), rtol=tol, atol=tol)


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int64], ids=str)
@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_is_one_kernel(dtype: torch.dtype, right: bool, kernels_only: None) -> None:
    rng = np.random.default_rng(4)
    seq = torch.tensor(np.sort(rng.integers(-9, 9, (3, 40)), axis=-1)).to(dtype)
    vals = torch.tensor(rng.integers(-10, 10, (3, 25))).to(dtype)
    seq_d, vals_d = seq.to("cuda"), vals.to("cuda")
    touched = torch._C._cuda_host_accesses(0)
    out = []
    assert launches(lambda: out.append(torch.searchsorted(seq_d, vals_d, right=right))) == 1
    assert torch._C._cuda_host_accesses(0) == touched
    assert out[0].device == CUDA0 and out[0].cpu().tolist() == torch.searchsorted(seq, vals, right=right).tolist()
    flat = torch.bucketize(vals_d, seq_d[0], right=right)
    assert flat.cpu().tolist() == torch.bucketize(vals, seq[0], right=right).tolist()


@needs_cuda
def test_unique_dim_and_unique_consecutive_on_the_device() -> None:
    x = torch.tensor([[1, 2], [3, 4], [1, 2], [1, 2]])
    d = x.to("cuda")
    for got, want in zip(torch.unique(d, dim=0, return_inverse=True, return_counts=True),
                         torch.unique(x, dim=0, return_inverse=True, return_counts=True)):
        assert got.device == CUDA0 and got.cpu().tolist() == want.tolist()
    for got, want in zip(torch.unique_consecutive(d, dim=0, return_counts=True),
                         torch.unique_consecutive(x, dim=0, return_counts=True)):
        assert got.device == CUDA0 and got.cpu().tolist() == want.tolist()


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.int64], ids=str)
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_runs_as_kernels(dtype: torch.dtype, reduce: str, include_self: bool, kernels_only: None) -> None:
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.integers(-3, 4, (5, 6))).to(dtype)
    src = torch.tensor(rng.integers(-3, 4, (4, 6))).to(dtype)
    index = torch.tensor(rng.integers(0, 5, (4, 6)))
    xd, sd, idd = x.to("cuda"), src.to("cuda"), index.to("cuda")
    touched = torch._C._cuda_host_accesses(0)
    got = xd.scatter_reduce(0, idd, sd, reduce, include_self=include_self)
    assert torch._C._cuda_host_accesses(0) == touched
    want = x.scatter_reduce(0, index, src, reduce, include_self=include_self)
    assert got.device == CUDA0
    np.testing.assert_allclose(got.cpu().numpy(), want.numpy(), rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_an_allocation_too_large_raises_out_of_memory_error_and_the_allocator_goes_on(device: str) -> None:
    # 2**50 float32 elements = 4 PiB: more than any host or device (and than x86-64's address space)
    want = "DefaultCPUAllocator: not enough memory" if device == "cpu" else "CUDA out of memory. Tried to allocate"
    with pytest.raises(torch.OutOfMemoryError, match=want) as info:
        torch.empty(2**50, device=device)
    assert isinstance(info.value, RuntimeError) and torch.OutOfMemoryError is torch.cuda.OutOfMemoryError
    assert (torch.ones(3, device=device) + 1).tolist() == [2.0, 2.0, 2.0]


@needs_cuda
def test_cuda_rng_state_is_seed_then_offset_and_restores_the_stream() -> None:
    torch.cuda.manual_seed(123)
    state = torch.cuda.get_rng_state()
    assert state.dtype == torch.uint8 and state.device.type == "cpu"
    assert state.tolist() == [123, 0, 0, 0, 0, 0, 0, 0] + [0] * 8  # PyTorch's layout: seed, then Philox offset
    a = torch.rand(1000, device="cuda")
    moved = torch.cuda.get_rng_state()
    assert moved.tolist()[:8] == state.tolist()[:8] and moved.tolist()[8:] != [0] * 8
    b = torch.randn(7, device="cuda")
    torch.cuda.set_rng_state(state)
    assert torch.equal(torch.rand(1000, device="cuda"), a)
    torch.cuda.set_rng_state(moved)
    assert torch.equal(torch.randn(7, device="cuda"), b) and torch.cuda.initial_seed() == 123
    assert len(torch.cuda.get_rng_state_all()) == torch.cuda.device_count()
    with pytest.raises(RuntimeError, match="RNG state is wrong size: expected 16 bytes, got 3"):
        torch.cuda.set_rng_state(torch.zeros(3, dtype=torch.uint8))
    with pytest.raises(TypeError, match="expected a torch.ByteTensor"):
        torch.cuda.set_rng_state(torch.zeros(16))


@needs_cuda
@pytest.mark.parametrize("reentrant", [True, False])
def test_checkpoint_replays_cuda_dropout(reentrant: bool) -> None:
    from ferrotorch.utils.checkpoint import checkpoint

    lin = nn.Linear(8, 8).to("cuda")
    x = torch.randn(4, 8, device="cuda", requires_grad=True)

    def block(t: torch.Tensor) -> torch.Tensor:
        return F.dropout(lin(t), 0.5, training=True).relu()

    torch.cuda.manual_seed(9)
    block(x).sum().backward()
    want_x, want_w = x.grad.clone(), lin.weight.grad.clone()
    x.grad = lin.weight.grad = None
    torch.cuda.manual_seed(9)
    checkpoint(block, x, use_reentrant=reentrant).sum().backward()
    assert torch.equal(x.grad, want_x) and torch.equal(lin.weight.grad, want_w)


@pytest.mark.parametrize("device", DEVICES)
def test_default_device_for_factory_functions(device: str) -> None:
    assert torch.get_default_device() == torch.device("cpu")
    want = torch.device(device) if device == "cpu" else torch.device("cuda", 0)
    try:
        torch.set_default_device(device)
        assert torch.get_default_device() == want
        made = [torch.zeros(2), torch.ones(2, 2), torch.empty(3), torch.full((2,), 7.0), torch.tensor([1, 2]),
                torch.arange(3), torch.linspace(0, 1, 4), torch.eye(2), torch.rand(2), torch.randn(2),
                torch.randint(0, 5, (3,)), nn.Linear(2, 3).weight]
        assert all(t.device == want for t in made), [t.device for t in made]
        assert torch.zeros(2, device="cpu").device.type == "cpu"  # an explicit device wins
        assert torch.from_numpy(np.zeros(2)).device.type == "cpu"  # not a factory: shares numpy's memory
    finally:
        torch.set_default_device(None)
    assert torch.zeros(1).device.type == "cpu" and torch.get_default_device() == torch.device("cpu")
    with torch.device(device):
        assert torch.ones(1).device == want
        with torch.device("cpu"):
            assert torch.ones(1).device.type == "cpu"
        assert torch.ones(1).device == want
    assert torch.ones(1).device.type == "cpu"
