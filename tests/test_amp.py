"""Automatic mixed precision: ``torch.autocast`` regions (matrix products and convolutions in the
lower dtype, the fp32-list ops in float32, differentiable casts) and ``GradScaler`` (scaling,
unscaling, skipped steps on inf/NaN, the scale's growth and backoff, checkpoints)."""

from __future__ import annotations

import math
import threading
import warnings

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest

RNG = np.random.default_rng(5)


def t(*shape: int) -> torch.Tensor:
    return torch.tensor(RNG.standard_normal(shape), dtype=torch.float32)


# ---------------------------------------------------------------------------- autocast


def test_products_run_in_the_autocast_dtype_and_match_float32() -> None:
    lin = torch.nn.Linear(8, 5)
    conv = torch.nn.Conv2d(3, 4, 3, padding=1)
    x, a, b, img = t(6, 8), t(6, 8), t(8, 5), t(2, 3, 6, 6)
    ba, bb = t(3, 4, 8), t(3, 8, 2)
    want = [lin(x), a @ b, torch.mm(a, b), torch.bmm(ba, bb), torch.matmul(ba, bb), conv(img)]
    with torch.autocast("cpu"):
        got = [lin(x), a @ b, torch.mm(a, b), torch.bmm(ba, bb), torch.matmul(ba, bb), conv(img)]
    for g, w in zip(got, want, strict=True):
        assert g.dtype == torch.bfloat16
        np.testing.assert_allclose(g.float().detach().numpy(), w.detach().numpy(), rtol=0.05, atol=0.05)
    with torch.autocast("cpu", dtype=torch.float16):
        assert (a @ b).dtype == torch.float16
    i = torch.arange(6).reshape(2, 3)
    with torch.autocast("cpu"):
        assert (i @ i.t()).dtype == torch.int64  # integers are left alone


def test_fp32_list_ops_compute_in_float32() -> None:
    h = t(4, 6).to(torch.bfloat16)
    target = torch.tensor([0, 2, 5, 1])
    with torch.autocast("cpu"):
        outs = [
            F.softmax(h, 1), F.log_softmax(h, 1), F.cross_entropy(h, target), F.nll_loss(F.log_softmax(h, 1), target),
            F.mse_loss(h, h * 0.5), F.l1_loss(h, h * 0.5), F.layer_norm(h, (6,)), F.kl_div(h, h.exp(), reduction="batchmean"),
            F.binary_cross_entropy_with_logits(h, torch.rand(4, 6)),
        ]
    assert all(o.dtype == torch.float32 for o in outs), [o.dtype for o in outs]
    np.testing.assert_allclose(outs[0].numpy(), F.softmax(h.float(), 1).numpy(), rtol=1e-6)
    assert F.softmax(h, 1).dtype == torch.bfloat16  # outside the region nothing is cast


def test_gradients_reach_float32_parameters_in_float32() -> None:
    lin = torch.nn.Linear(8, 3)
    x, y = t(16, 8), torch.tensor(RNG.integers(0, 3, 16))
    F.cross_entropy(lin(x), y).backward()
    want = lin.weight.grad.clone()
    lin.weight.grad = None
    with torch.autocast("cpu"):
        loss = F.cross_entropy(lin(x), y)
    assert loss.dtype == torch.float32
    loss.backward()
    assert lin.weight.grad.dtype == torch.float32
    np.testing.assert_allclose(lin.weight.grad.numpy(), want.numpy(), rtol=0.05, atol=0.01)


def test_regions_nest_restore_and_decorate() -> None:
    a = t(2, 2)
    assert not torch.is_autocast_enabled("cpu")
    with torch.autocast("cpu"):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        with torch.autocast("cpu", enabled=False):
            assert (a @ a).dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
        assert (a @ a).dtype == torch.bfloat16
    assert (a @ a).dtype == torch.float32
    with pytest.raises(ValueError, match="boom"), torch.autocast("cpu"):
        raise ValueError("boom")
    assert not torch.is_autocast_enabled("cpu")

    @torch.autocast("cpu")
    def product(x: torch.Tensor) -> torch.Tensor:
        return x @ x

    assert product(a).dtype == torch.bfloat16 and (a @ a).dtype == torch.float32
    assert torch.get_autocast_cpu_dtype() == torch.bfloat16 and torch.get_autocast_gpu_dtype() == torch.float16


def test_autocast_state_is_per_thread() -> None:
    seen = []
    a = t(2, 2)
    with torch.autocast("cpu"):
        th = threading.Thread(target=lambda: seen.append((a @ a).dtype))
        th.start()
        th.join()
    assert seen == [torch.float32]


def test_bad_arguments() -> None:
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        torch.autocast("tpu")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        region = torch.autocast("cpu", dtype=torch.float64)
    assert "not supported. Disabling autocast" in str(w[0].message)
    with region:
        assert (t(2, 2) @ t(2, 2)).dtype == torch.float32


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_autocast_and_scaler_disable_themselves_without_cuda() -> None:
    with pytest.warns(UserWarning, match="CUDA is not available. Disabling"):
        region = torch.cuda.amp.autocast()
    with region:
        assert not torch.is_autocast_enabled()
    with pytest.warns(UserWarning, match="GradScaler is enabled, but CUDA is not available"):
        scaler = torch.cuda.amp.GradScaler()
    assert not scaler.is_enabled() and scaler.get_scale() == 1.0


# ---------------------------------------------------------------------------- GradScaler


def model_and_opt(lr: float = 0.1) -> tuple[torch.nn.Linear, torch.optim.SGD]:
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 1)
    return lin, torch.optim.SGD(lin.parameters(), lr=lr)


def test_scale_unscale_and_step_match_an_unscaled_step() -> None:
    lin, opt = model_and_opt()
    ref, ref_opt = model_and_opt()
    x = t(4, 3)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    loss = lin(x).pow(2).mean()
    scaled = scaler.scale(loss)
    assert math.isclose(scaled.item(), loss.item() * 1024, rel_tol=1e-6)
    scaled.backward()
    scaler.unscale_(opt)
    ref_opt.zero_grad()
    ref(x).pow(2).mean().backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-5)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    ref_opt.step()
    np.testing.assert_allclose(lin.weight.detach().numpy(), ref.weight.detach().numpy(), rtol=1e-5)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == 1024.0
    assert [o.item() for o in scaler.scale([loss, loss * 2])] == pytest.approx([loss.item() * 1024, loss.item() * 2048])


def test_inf_gradients_skip_the_step_and_back_off_then_the_scale_grows() -> None:
    lin, opt = model_and_opt()
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0, growth_interval=2)
    before = lin.weight.detach().clone()
    scaler.scale(lin(t(2, 3)).sum() * float("inf")).backward()
    assert scaler.step(opt) is None
    np.testing.assert_array_equal(lin.weight.detach().numpy(), before.numpy())
    scaler.update()
    assert scaler.get_scale() == 4.0
    for _ in range(2):
        opt.zero_grad()
        scaler.scale(lin(t(2, 3)).sum()).backward()
        scaler.step(opt)
        scaler.update()
    assert scaler.get_scale() == 8.0 and not np.array_equal(lin.weight.detach().numpy(), before.numpy())
    scaler.update(new_scale=3.0)
    assert scaler.get_scale() == 3.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str)
def test_foreach_non_finite_check_and_unscale_matches_numpy(dtype: torch.dtype) -> None:
    big = RNG.standard_normal(70_000) * 64  # past the parallel threshold
    grads = [torch.tensor(big, dtype=dtype), torch.tensor([[2.0, -6.0], [0.5, 8.0]], dtype=dtype)]
    want = [g.double().numpy() * 0.25 for g in grads]
    found = torch.zeros(1)
    torch._amp_foreach_non_finite_check_and_unscale_(grads, found, torch.tensor(0.25))
    assert found.item() == 0.0
    tol = {torch.float16: 1e-3, torch.bfloat16: 1e-2}.get(dtype, 1e-7)
    for g, w in zip(grads, want):
        np.testing.assert_allclose(g.double().numpy(), w, rtol=tol)
    for bad in (float("inf"), float("-inf"), float("nan")):
        g = torch.tensor([1.0, bad, 4.0], dtype=dtype)
        found = torch.zeros(1)
        torch._amp_foreach_non_finite_check_and_unscale_([grads[1], g], found, 0.5)
        assert found.item() == 1.0 and g[0].item() == 0.5 and g[2].item() == 2.0
    with pytest.raises(RuntimeError, match="found_inf must be a 1-element float tensor, got 2 elements"):
        torch._amp_foreach_non_finite_check_and_unscale_(grads, torch.zeros(2), 1.0)
    with pytest.raises(RuntimeError, match="gradient 0 must be a contiguous floating tensor, got int64"):
        torch._amp_foreach_non_finite_check_and_unscale_([torch.tensor([1])], torch.zeros(1), 1.0)


def test_unscale_makes_a_strided_gradient_contiguous() -> None:
    lin, opt = model_and_opt()
    lin.weight.grad = (t(3, 2) * 4)[:, :1].t()  # a strided view of shape (1, 3)
    assert not lin.weight.grad.is_contiguous()
    lin.bias.grad = t(1) * 4
    want = lin.weight.grad.numpy() / 4
    scaler = torch.amp.GradScaler("cpu", init_scale=4.0)
    scaler.unscale_(opt)
    np.testing.assert_allclose(lin.weight.grad.numpy(), want, rtol=1e-6)


def test_state_dict_round_trip_and_disabled_passthrough() -> None:
    a = torch.amp.GradScaler("cpu", init_scale=64.0, growth_factor=4.0, growth_interval=7)
    b = torch.amp.GradScaler("cpu")
    b.load_state_dict(a.state_dict())
    assert b.get_scale() == 64.0 and b.get_growth_factor() == 4.0 and b.get_growth_interval() == 7
    off = torch.amp.GradScaler("cpu", enabled=False)
    loss = torch.tensor(2.0)
    assert off.scale(loss) is loss and off.state_dict() == {} and off.get_scale() == 1.0
    lin, opt = model_and_opt()
    lin(t(2, 3)).sum().backward()
    before = lin.weight.detach().clone()
    off.step(opt)
    assert not np.array_equal(lin.weight.detach().numpy(), before.numpy())
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        b.load_state_dict({})
    with pytest.raises(AssertionError, match="growth factor"):
        torch.amp.GradScaler("cpu", growth_factor=1.0)


def test_mixed_precision_training_converges() -> None:
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    scaler = torch.amp.GradScaler("cpu")
    x = t(64, 4)
    y = (x[:, :1] * 2 - x[:, 1:2]).detach()
    losses = []
    for _ in range(150):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.mse_loss(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
