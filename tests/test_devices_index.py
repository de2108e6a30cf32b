"""Indexing on a CUDA device as kernels, against the CPU: gather, scatter/scatter_add, ``x[i]`` and
``x[i, j]`` with integer index tensors (one gather along the indexed dims merged; negatives wrap)
and their ``index_put``, and the gradients of
gather, max(dim), sort and ``x[idx]``, which scatter on the device without reading anything back;
``nonzero``, ``x[mask]`` and ``masked_select`` (chunked count/offsets/write kernels: one host read,
the count, as PyTorch's synchronising nonzero).

An index is checked on the device and costs no host access: one out of range is a device-side
assert, raised (as PyTorch's CUDA ``RuntimeError: CUDA error: device-side assert triggered``) by the
next call that waits for the device. Runs where ``torch.cuda.is_available()``: on a
GPU, or under ``FERROTORCH_EMULATE_CUDA=1`` (conftest.py).
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

RNG = np.random.default_rng(41)



def host_accesses() -> int:
    return torch._C._cuda_host_accesses(0)


def data(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    if dtype.is_floating_point:
        return torch.tensor(RNG.uniform(-3, 3, shape)).to(dtype)
    return torch.tensor(RNG.integers(0, 50, shape)).to(dtype)


def run_both(fn: Callable[..., torch.Tensor], *cpu: torch.Tensor, reads: int, exact: bool = False) -> None:
    """fn on the CPU and on device copies: equal results (identical where `exact`), at most
    `reads` host accesses."""
    want = fn(*cpu)
    dev = [t.to("cuda") for t in cpu]
    before = host_accesses()
    got = fn(*dev)
    assert host_accesses() - before <= reads
    assert got.device == torch.device("cuda", 0) and got.dtype == want.dtype and got.shape == want.shape
    if exact:
        np.testing.assert_array_equal(got.cpu().double().numpy(), want.double().numpy())
    else:
        # atomics add repeated targets in any order: floats may differ in the last bit
        np.testing.assert_allclose(got.cpu().double().numpy(), want.double().numpy(), rtol=1e-6, atol=1e-6)


DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.uint8]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_scatter_runs_as_a_kernel(dtype: torch.dtype) -> None:
    idx = torch.tensor(RNG.permutation(6)[:4].reshape(4, 1).repeat(3, 1))  # distinct targets per column
    src = data((4, 3), dtype)
    run_both(lambda x, i, s: x.scatter(0, i, s), data((6, 3), dtype), idx, src, reads=0)
    run_both(lambda x, i: x.scatter(0, i, 7), data((6, 3), dtype), idx, reads=0)  # a scalar source


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.int32], ids=str)
def test_scatter_add_accumulates_repeated_targets(dtype: torch.dtype) -> None:
    idx = torch.tensor(RNG.integers(0, 3, (8, 5)))
    run_both(lambda x, i, s: x.scatter_add(0, i, s), data((3, 5), dtype), idx, data((8, 5), dtype), reads=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.uint8], ids=str)
def test_scatter_add_without_atomics_takes_the_host_path(dtype: torch.dtype) -> None:
    idx = torch.tensor(RNG.integers(0, 3, (8, 5)))
    x, s = data((3, 5), dtype), data((8, 5), dtype)
    got = x.to("cuda").scatter_add(0, idx.to("cuda"), s.to("cuda"))
    assert got.device == torch.device("cuda", 0)
    np.testing.assert_array_equal(got.cpu().double().numpy(), x.scatter_add(0, idx, s).double().numpy())


def raises_device_side_assert(op: Callable[[], object]) -> None:
    """op returns without waiting for the device; the next call that waits raises, once."""
    before = host_accesses()
    op()
    assert host_accesses() == before
    with pytest.raises(RuntimeError, match="device-side assert triggered: gather / scatter / indexing: index out of bounds"):
        torch.cuda.synchronize()
    torch.cuda.synchronize()  # reported once: the device works on


@pytest.mark.parametrize("accumulate", [False, True])
def test_scatter_index_out_of_range_is_a_device_side_assert(accumulate: bool) -> None:
    x = torch.zeros(3, 2).to("cuda")
    i, s = torch.tensor([[0, 5]]).to("cuda"), torch.ones(1, 2).to("cuda")
    raises_device_side_assert(lambda: x.scatter_add(0, i, s) if accumulate else x.scatter(0, i, s))
    with pytest.raises(RuntimeError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x.cpu().scatter(0, i.cpu(), s.cpu())  # the CPU raises at once


def test_one_hot_with_num_classes_reads_nothing_back() -> None:
    """As PyTorch's CUDA one_hot: a scatter, no check of the classes on the host."""
    i0 = torch.tensor([[3, 0], [1, 4]])
    i = i0.to("cuda")
    before = host_accesses()
    got = F.one_hot(i, 5)
    assert host_accesses() == before
    assert got.dtype == torch.int64 and got.shape == (2, 2, 5)
    np.testing.assert_array_equal(got.cpu().numpy(), np.eye(5, dtype=np.int64)[i0.numpy()])
    raises_device_side_assert(lambda: F.one_hot(i, 4))  # class 4 of 4
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(i0, 4)  # the CPU raises at once


@pytest.mark.parametrize("bad", [[0, 3], [-1, 0]])
def test_gather_index_out_of_range_is_a_device_side_assert(bad: list) -> None:
    x, i = torch.ones(3, 2).to("cuda"), torch.tensor([bad, [0, 0]]).to("cuda")
    raises_device_side_assert(lambda: x.gather(0, i))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("where", ["first", "middle", "2d_index"])
def test_integer_index_runs_as_a_gather(dtype: torch.dtype, where: str) -> None:
    x = data((5, 6, 4), dtype)
    fn = {
        "first": lambda t, i: t[i],
        "middle": lambda t, i: t[:, i],
        "2d_index": lambda t, i: t[:, i.view(2, 2)],
    }[where]
    run_both(fn, x, torch.tensor([4, -1, 0, 2]), reads=0)


MULTI = {
    "pair": lambda t, i, j: t[i, j],
    "trailing_pair": lambda t, i, j: t[:, i, j],
    "apart": lambda t, i, j: t[i, :, j],  # not adjacent: the index dims go to the front
    "broadcast": lambda t, i, j: t[i.view(4, 1), j.view(1, 4)],
    "int32": lambda t, i, j: t[:, i.int(), j.int()],
}


@pytest.mark.parametrize("name", sorted(MULTI))
def test_several_integer_indices_run_as_one_gather(name: str) -> None:
    fn = MULTI[name]
    x = data((5, 6, 4, 3), torch.float32)
    i, j = torch.tensor([4, -1, 0, 2]), torch.tensor([-2, 3, 0, 1])
    run_both(fn, x, i, j, reads=0, exact=True)


def test_several_indices_out_of_range_are_a_device_side_assert() -> None:
    x = torch.zeros(3, 4).to("cuda")
    i, j, k = (torch.tensor(v).to("cuda") for v in ([0, 1], [1, 4], [-4, 1]))
    raises_device_side_assert(lambda: x[i, j])
    raises_device_side_assert(lambda: x[k, i])
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 with size 4"):
        x.cpu()[i.cpu(), j.cpu()]  # the CPU raises at once


def test_index_put_out_of_range_is_a_device_side_assert() -> None:
    x = torch.zeros(3, 4).to("cuda")
    i, j, v = torch.tensor([0, 3]).to("cuda"), torch.tensor([1, 1]).to("cuda"), torch.ones(2).to("cuda")
    raises_device_side_assert(lambda: x.index_put((i, j), v))
    raises_device_side_assert(lambda: x.index_put((i,), v.view(2, 1), accumulate=True))


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("name", ["pair", "apart"])
def test_index_put_with_several_indices_runs_as_a_scatter(accumulate: bool, name: str) -> None:
    i = torch.tensor([3, 0, -1] if not accumulate else [3, 0, 3, -1])
    j = torch.tensor([1, 2, 0] if not accumulate else [1, 2, 1, 0])
    vals = data((len(i), 5), torch.float32) if name == "apart" else data((len(i), 3), torch.float32)

    def put(x: torch.Tensor, v: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        idx = (a, b) if name == "pair" else (a, None, b)
        return x.index_put(idx, v, accumulate=accumulate)

    run_both(put, data((4, 5, 3), torch.float32), vals, i, j, reads=0)


@pytest.mark.parametrize("view", [lambda t: t[1:], lambda t: t[:, :, 1:]], ids=["offset", "strided"])
def test_setitem_with_indices_apart_writes_through_a_view(view: Callable) -> None:
    x0 = data((4, 5, 3), torch.float32)
    v0 = data((2, 5), torch.float32)
    x = x0.to("cuda")
    view(x)[torch.tensor([0, 2]).to("cuda"), :, torch.tensor([1, -1]).to("cuda")] = v0.to("cuda")
    view(x0)[torch.tensor([0, 2]), :, torch.tensor([1, -1])] = v0
    np.testing.assert_array_equal(x.cpu().numpy(), x0.numpy())


def test_index_out_of_range_is_a_device_side_assert() -> None:
    x, i, j = torch.zeros(3, 2).to("cuda"), torch.tensor([0, 3]).to("cuda"), torch.tensor([2]).to("cuda")
    raises_device_side_assert(lambda: x[i])
    raises_device_side_assert(lambda: x.index_select(1, j))


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_runs_as_a_scatter(accumulate: bool) -> None:
    idx = torch.tensor([3, 0, -1]) if not accumulate else torch.tensor([3, 0, 3, -5])
    vals = data((len(idx), 4), torch.float32)
    run_both(lambda x, i, v: x.index_put((None, i), v.t(), accumulate=accumulate), data((4, 5), torch.float32),
             idx, vals, reads=0)


def test_setitem_with_an_index_runs_as_a_scatter() -> None:
    x0, v0 = data((6, 3), torch.float32), data((2, 3), torch.float32)
    x, v, i = x0.to("cuda"), v0.to("cuda"), torch.tensor([5, 1]).to("cuda")
    before = host_accesses()
    x[i] = v
    assert host_accesses() == before
    x0[torch.tensor([5, 1])] = v0
    np.testing.assert_array_equal(x.cpu().numpy(), x0.numpy())


GRADS = [
    ("gather", lambda x: x.gather(1, torch.tensor([[0, 2], [1, 1], [3, 0]]).to(x.device))),
    ("max_dim", lambda x: x.max(1).values),
    ("sort", lambda x: x.sort(1).values),
    ("index", lambda x: x[torch.tensor([2, 0, 2]).to(x.device)]),
    ("index_middle", lambda x: x[:, torch.tensor([1, 1, 3]).to(x.device)]),
    ("index_pair", lambda x: x[torch.tensor([2, 0, 2]).to(x.device), torch.tensor([1, -1, 1]).to(x.device)]),
]


@pytest.mark.parametrize("name, fn", GRADS, ids=[g[0] for g in GRADS])
def test_index_gradients_scatter_on_the_device(name: str, fn: Callable) -> None:
    x0 = data((3, 4), torch.float32)
    grads = []
    for device in ("cpu", "cuda"):
        x = x0.clone().to(device).requires_grad_()
        y = fn(x)
        seed = torch.arange(float(y.numel())).reshape(y.shape).to(device)
        before = host_accesses()
        y.backward(seed)
        if device == "cuda":
            assert host_accesses() == before, f"{name}'s backward read device memory on the host"
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)


# ---- nonzero and boolean masks: chunked kernels, one host read (the count) ----


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_nonzero_runs_as_kernels(dtype: torch.dtype) -> None:
    x = torch.tensor(RNG.integers(0, 3, (7, 300)) * (RNG.random((7, 300)) < 0.4)).to(dtype)
    run_both(lambda t: t.nonzero(), x, reads=1, exact=True)


@pytest.mark.parametrize("shape", [(1,), (5,), (257,), (3, 4, 5), (9000,), (130, 70)], ids=str)
def test_nonzero_chunks_and_tiles_keep_row_major_order(shape: tuple[int, ...]) -> None:
    x = torch.tensor(RNG.random(shape) < 0.5)
    run_both(lambda t: t.nonzero(), x, reads=1, exact=True)
    run_both(lambda t: torch.argwhere(t), x, reads=1, exact=True)


def test_nonzero_of_all_and_none() -> None:
    run_both(lambda t: t.nonzero(), torch.zeros(6, 5), reads=1, exact=True)
    run_both(lambda t: t.nonzero(), torch.ones(6, 5), reads=1, exact=True)
    run_both(lambda t: t.nonzero(), torch.ones(6, 0), reads=1, exact=True)
    run_both(lambda t: t.t().nonzero(), torch.tensor(RNG.random((40, 30)) < 0.3), reads=1, exact=True)  # strided


def test_boolean_mask_indexing_runs_as_kernels() -> None:
    x = torch.tensor(RNG.standard_normal((20, 6, 3)), dtype=torch.float32)
    run_both(lambda t: t[t > 0.5], x, reads=1, exact=True)  # the count
    rows = torch.tensor(RNG.random(20) < 0.5)
    run_both(lambda t, m: t[m], x, rows, reads=1, exact=True)
    plane = torch.tensor(RNG.random((20, 6)) < 0.5)
    run_both(lambda t, m: t[m], x, plane, reads=1, exact=True)
    run_both(lambda t, m: t.masked_select(m.unsqueeze(-1)), x, plane, reads=1, exact=True)  # a broadcast mask


def test_boolean_mask_gradient_matches_the_cpu() -> None:
    x = torch.tensor(RNG.standard_normal((30, 4)), dtype=torch.float32)
    mask = torch.tensor(RNG.random(30) < 0.5)
    grads = []
    for dev in ("cpu", "cuda"):
        leaf = x.to(dev).detach().requires_grad_()
        (leaf[mask.to(dev)] ** 2).sum().backward()
        grads.append(leaf.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)
    np.testing.assert_allclose(grads[0], 2 * x.numpy() * mask.numpy()[:, None], rtol=1e-6)


def test_mismatched_mask_raises_the_host_error() -> None:
    x = torch.zeros(4, 3, device="cuda")
    with pytest.raises(IndexError, match="The shape of the mask"):
        x[torch.ones(5, dtype=torch.bool, device="cuda")]
