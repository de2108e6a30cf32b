"""torch._foreach_norm / torch._foreach_mul_ on the CPU, against numpy."""

from __future__ import annotations

import math

import ferrotorch as torch
import numpy as np
import pytest


def _tensors() -> list[torch.Tensor]:
    rng = np.random.default_rng(5)
    return [
        torch.tensor(rng.standard_normal((3, 4)).astype(np.float32)),
        torch.tensor(rng.standard_normal(5)),  # float64
        torch.tensor(rng.standard_normal(9).astype(np.float32)),
        torch.tensor(rng.standard_normal(6).astype(np.float16)),
    ]


@pytest.mark.parametrize("ord", [1, 2, math.inf, 3])
def test_foreach_norm_matches_numpy_per_tensor_and_keeps_dtype_and_order(ord: float) -> None:
    ts = _tensors()
    got = torch._foreach_norm(ts, ord)
    assert len(got) == len(ts)
    for g, t in zip(got, ts):
        assert g.dim() == 0 and g.dtype == t.dtype
        want = np.linalg.norm(t.double().numpy().ravel(), ord)
        tol = 2e-3 if t.dtype == torch.float16 else 1e-6
        np.testing.assert_allclose(float(g), want, rtol=tol)


def test_foreach_norm_dtype_argument_casts_first() -> None:
    ts = _tensors()
    got = torch._foreach_norm(ts, 2, dtype=torch.float64)
    assert all(g.dtype == torch.float64 for g in got)
    np.testing.assert_allclose([float(g) for g in got], [np.linalg.norm(t.double().numpy()) for t in ts], rtol=1e-3)


def test_foreach_norm_of_an_empty_tensor_is_zero_and_integers_are_refused() -> None:
    assert float(torch._foreach_norm([torch.zeros(0), torch.ones(4)])[0]) == 0.0
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        torch._foreach_norm([torch.arange(3)])


def test_foreach_norm_is_differentiable_when_autograd_records() -> None:
    x = torch.tensor([3.0, 4.0], requires_grad=True)
    (n,) = torch._foreach_norm([x])
    n.backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.6, 0.8], rtol=1e-6)


def test_foreach_mul_by_number_tensor_and_list() -> None:
    ts = [torch.ones(3), torch.full((2,), 2.0, dtype=torch.float64), torch.ones(2, dtype=torch.float16)]
    torch._foreach_mul_(ts, torch.tensor(0.5))
    assert [t.tolist() for t in ts] == [[0.5] * 3, [1.0, 1.0], [0.5, 0.5]]
    assert [t.dtype for t in ts] == [torch.float32, torch.float64, torch.float16]
    torch._foreach_mul_(ts, 4)
    assert ts[0].tolist() == [2.0] * 3
    torch._foreach_mul_(ts, [1.0, 0.5, torch.tensor(3.0)])
    assert [t.tolist() for t in ts] == [[2.0] * 3, [2.0, 2.0], [6.0, 6.0]]
    with pytest.raises(RuntimeError, match="same number of tensors, got 3 and 1"):
        torch._foreach_mul_(ts, [1.0])
    with pytest.raises(RuntimeError, match="one element"):
        torch._C._foreach_scale_(ts, torch.ones(2))


def test_clip_grad_norm_mixes_dtypes_like_one_vector() -> None:
    ps = [torch.nn.Parameter(t.clone()) for t in _tensors()]
    for p in ps:
        p.grad = p.detach().clone() * 10
    flat = np.concatenate([p.grad.double().numpy().ravel() for p in ps])
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm=1.0)
    np.testing.assert_allclose(float(total), np.linalg.norm(flat), rtol=1e-3)
    clipped = np.concatenate([p.grad.double().numpy().ravel() for p in ps])
    np.testing.assert_allclose(np.linalg.norm(clipped), 1.0, rtol=2e-3)
