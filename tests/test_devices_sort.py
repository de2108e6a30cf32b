"""Sorting on a CUDA device as a kernel (``sort_rows`` in rust/cuda/kernels/sort.cu), against the
CPU: sort, argsort, topk, kthvalue, median and msort along any dim, every dtype, both directions.

The kernel keeps the host's order exactly (NaN largest, ties in index order), so values *and*
indices must equal the CPU's, with no host access. Rows longer than the kernel's 2048 take the
host path. Runs where ``torch.cuda.is_available()``: on a GPU, or under
``FERROTORCH_EMULATE_CUDA=1`` (conftest.py).
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

RNG = np.random.default_rng(7)
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.uint8]


def host_accesses() -> int:
    return torch._C._cuda_host_accesses(0)


def data(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Values with many ties (so the index order of equal values is tested)."""
    if dtype.is_floating_point:
        return torch.tensor(RNG.integers(-4, 5, shape) / 2.0).to(dtype)
    return torch.tensor(RNG.integers(0, 6, shape)).to(dtype)


def same_on_device(fn: Callable[[torch.Tensor], tuple[torch.Tensor, ...]], x: torch.Tensor) -> None:
    """fn on the CPU and on a device copy: identical values and indices, no host access."""
    want = fn(x)
    dev = x.to("cuda")
    before = host_accesses()
    got = fn(dev)
    assert host_accesses() - before == 0
    for g, w in zip(got, want, strict=True):
        assert g.device == torch.device("cuda", 0) and g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g.cpu().double().numpy(), w.double().numpy())


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_matches_the_cpu(dtype: torch.dtype, dim: int, descending: bool) -> None:
    same_on_device(lambda t: tuple(t.sort(dim, descending=descending)), data((5, 37, 3), dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.float16], ids=str)
@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_the_cpu(dtype: torch.dtype, largest: bool) -> None:
    x = data((64, 100), dtype)
    same_on_device(lambda t: tuple(t.topk(5, dim=1, largest=largest)), x)
    same_on_device(lambda t: tuple(t.topk(3, dim=0, largest=largest)), x)


def test_selections_built_on_sort_match_the_cpu() -> None:
    x = data((6, 9, 4), torch.float32)
    same_on_device(lambda t: (t.argsort(1, descending=True),), x)
    same_on_device(lambda t: tuple(t.kthvalue(4, 1)), x)
    same_on_device(lambda t: tuple(t.median(2)), x)
    same_on_device(lambda t: (t.msort(),), x)
    same_on_device(lambda t: (t.sort(0)[0],), torch.tensor([3.0]))  # one element


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str)
def test_nan_sorts_as_the_largest(dtype: torch.dtype) -> None:
    x = torch.tensor([[1.0, float("nan"), -2.0, float("nan"), 0.5, float("inf"), -float("inf")]]).to(dtype)
    same_on_device(lambda t: tuple(t.sort(1)), x)
    same_on_device(lambda t: tuple(t.sort(1, descending=True)), x)
    _, indices = x.to("cuda").sort(1)
    assert indices.cpu().tolist() == [[6, 2, 4, 0, 5, 1, 3]]


@pytest.mark.parametrize("length", [1, 2, 255, 256, 257, 2048])
def test_row_lengths_around_the_padding(length: int) -> None:
    x = torch.tensor(RNG.standard_normal((3, length)), dtype=torch.float32)
    same_on_device(lambda t: tuple(t.sort(1, descending=True)), x)


def test_rows_past_the_kernel_take_the_host_path() -> None:
    x = torch.tensor(RNG.standard_normal((2, 3000)), dtype=torch.float32)
    values, indices = x.to("cuda").sort(1)
    want_v, want_i = x.sort(1)
    assert values.device.type == "cuda"
    np.testing.assert_array_equal(values.cpu().numpy(), want_v.numpy())
    np.testing.assert_array_equal(indices.cpu().numpy(), want_i.numpy())


def test_sort_and_topk_gradients_stay_on_the_device() -> None:
    x = torch.tensor(RNG.standard_normal((4, 50)), dtype=torch.float32)
    grads = []
    for dev in ("cpu", "cuda"):
        leaf = x.to(dev).detach().requires_grad_()
        weights = torch.arange(7.0, device=dev)
        before = host_accesses()
        v, _ = leaf.topk(7, dim=1)
        (v * weights).sum().backward()
        s, _ = leaf.sort(0, descending=True)
        (s[:2] ** 2).sum().backward()
        if dev == "cuda":
            assert host_accesses() - before == 0
        grads.append(leaf.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)
