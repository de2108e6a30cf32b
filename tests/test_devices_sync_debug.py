"""``torch.cuda.set_sync_debug_mode``: calls that wait for the device warn or raise.

A call waits when host code touches device memory: ``.item()``, ``.cpu()``, ``nonzero``, and any
op that ferrotorch computes on the host. Ops that run as kernels never wait, so they stay quiet.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
    pytest.mark.usefixtures("kernels_only"),
]

MESSAGE = "called a synchronizing CUDA operation"


@pytest.fixture
def mode() -> Iterator[None]:
    """Leaves the process in the default mode whatever the test set."""
    yield
    torch.cuda.set_sync_debug_mode(0)


def sync_warnings(fn) -> list[str]:
    """The sync debug warnings ``fn()`` issues in "warn" mode."""
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            fn()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return [str(w.message) for w in seen if issubclass(w.category, UserWarning)]


def test_modes_are_set_by_name_or_number(mode: None) -> None:
    assert torch.cuda.get_sync_debug_mode() == 0
    for name, number in [("warn", 1), ("error", 2), ("default", 0), (2, 2), (1, 1), (0, 0)]:
        torch.cuda.set_sync_debug_mode(name)
        assert torch.cuda.get_sync_debug_mode() == number
    with pytest.raises(RuntimeError, match="expected one of `default`, `warn`, `error`"):
        torch.cuda.set_sync_debug_mode("loud")
    with pytest.raises(RuntimeError, match=r"expected one of 0, 1, 2 \(got 3\)"):
        torch.cuda.set_sync_debug_mode(3)
    assert torch.cuda.get_sync_debug_mode() == 0


def test_item_and_cpu_warn_once_each(mode: None) -> None:
    x = torch.randn(4, 3, device="cuda")
    assert sync_warnings(lambda: x.sum().item()) == [MESSAGE]
    assert sync_warnings(lambda: x.cpu()) == [MESSAGE]
    assert sync_warnings(lambda: x.nonzero()) == [MESSAGE]  # its size is read back


def test_ops_that_run_as_kernels_are_quiet(mode: None) -> None:
    x = torch.randn(8, 5, device="cuda", requires_grad=True)
    target = torch.tensor([0, 4, 2, 1, 3, 0, 1, 2]).to("cuda")
    w = torch.randn(5, 5, device="cuda")

    # the emulated device multiplies on the host (cuBLAS on a GPU): the GEMM only on a GPU
    gemm = torch.cuda.get_device_name(0) != "ferrotorch emulated CUDA device (host memory)"

    def step() -> None:
        h = (x * 2 + 1).relu().softmax(1)
        F.cross_entropy(h @ w if gemm else h, target).backward()

    assert sync_warnings(step) == []
    assert x.grad is not None and x.grad.device.type == "cuda"


def test_ops_with_index_tables_are_quiet(mode: None) -> None:
    """diag / one_hot / integer division make nothing on the host; interpolate uploads its index
    tables on the first call only. Values as the CPU's."""
    x0 = torch.randn(1, 2, 3, 4)
    v0, i0, a0 = torch.randn(4), torch.tensor([3, 0, 2]), torch.tensor([7, -7, 9])
    x, v, i, a = x0.to("cuda"), v0.to("cuda"), i0.to("cuda"), a0.to("cuda")

    def ops(x: torch.Tensor, v: torch.Tensor, i: torch.Tensor, a: torch.Tensor) -> list[torch.Tensor]:
        return [F.interpolate(x, scale_factor=2), F.interpolate(x, size=(5, 7), mode="bilinear"),
                torch.diag(v, 1), F.one_hot(i, 4), a // i.clamp(min=1), a % 4]

    ops(x, v, i, a)  # the first call uploads interpolate's tables
    got: list[torch.Tensor] = []
    assert sync_warnings(lambda: got.extend(ops(x, v, i, a))) == []
    for g, w in zip(got, ops(x0, v0, i0, a0)):
        np.testing.assert_allclose(g.cpu().numpy(), w.numpy(), rtol=1e-6, atol=1e-6)


def test_error_mode_raises_and_the_default_is_quiet(mode: None) -> None:
    x = torch.arange(6.0, device="cuda")
    torch.cuda.set_sync_debug_mode("error")
    with pytest.raises(RuntimeError, match=MESSAGE):
        x.sum().item()
    y = x * 3  # a kernel: no error
    torch.cuda.set_sync_debug_mode("default")
    assert y.sum().item() == 45.0
    assert sync_warnings(lambda: None) == []


def test_a_warning_names_the_line_that_waited(mode: None) -> None:
    x = torch.ones(3, device="cuda")
    torch.cuda.set_sync_debug_mode(1)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        x.tolist()
    torch.cuda.set_sync_debug_mode(0)
    assert [w.filename for w in seen] == [__file__]


def test_warnings_as_errors_propagate(mode: None) -> None:
    x = torch.ones(3, device="cuda")
    torch.cuda.set_sync_debug_mode("warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match=MESSAGE):
            x.max().item()


def test_clip_grad_norm_keeps_the_coefficient_on_the_device(mode: None) -> None:
    grads = [torch.randn(4, 3) * 5, torch.randn(7) * 5]
    params = [torch.zeros_like(g, device="cuda", requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.to("cuda")
    norm: list = []
    assert sync_warnings(lambda: norm.append(torch.nn.utils.clip_grad_norm_(params, 1.0))) == []
    want = np.sqrt(sum((g.numpy().astype(np.float64) ** 2).sum() for g in grads))
    np.testing.assert_allclose(norm[0].item(), want, rtol=1e-5)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.cpu().numpy(), g.numpy() / (want + 1e-6), rtol=1e-5, atol=1e-7)


def test_grad_scaler_waits_once_per_step(mode: None) -> None:
    w = torch.ones(3, device="cuda", requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.5)
    scaler = torch.cuda.amp.GradScaler(init_scale=4.0)

    def step() -> None:
        opt.zero_grad()
        scaler.scale((w * w).sum()).backward()
        scaler.step(opt)
        scaler.update()

    assert sync_warnings(step) == [MESSAGE]  # step()'s found_inf.item(), as in PyTorch
    np.testing.assert_allclose(w.detach().cpu().numpy(), [0.0, 0.0, 0.0])  # 1 - 0.5 * 2
    w.grad = None
    with torch.no_grad():
        w.fill_(float("inf"))
    step()  # an inf gradient: the step is skipped and the scale backs off
    assert scaler.get_scale() == 2.0
