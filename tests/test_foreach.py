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


def _pair() -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    rng = np.random.default_rng(6)
    xs = [torch.tensor(rng.standard_normal(s).astype(np.float32)) for s in ((3, 4), (5,), (0,))]
    ys = [torch.tensor(rng.standard_normal(s).astype(np.float32)) for s in ((3, 4), (5,), (0,))]
    return xs, ys


@pytest.mark.parametrize(
    "call, ref",
    [
        (lambda xs, ys: torch._foreach_add_(xs, ys, alpha=0.5), lambda x, y: x + 0.5 * y),
        (lambda xs, ys: torch._foreach_add_(xs, 2.5), lambda x, y: x + 2.5),
        (lambda xs, ys: torch._foreach_add_(xs, [1.0, 2.0, 3.0]), None),
        (lambda xs, ys: torch._foreach_sub_(xs, ys, alpha=2), lambda x, y: x - 2 * y),
        (lambda xs, ys: torch._foreach_sub_(xs, 1.5), lambda x, y: x - 1.5),
        (lambda xs, ys: torch._foreach_mul_(xs, ys), lambda x, y: x * y),
        (lambda xs, ys: torch._foreach_mul_(xs, 3), lambda x, y: x * 3),
        (lambda xs, ys: torch._foreach_lerp_(xs, ys, 0.25), lambda x, y: x + 0.25 * (y - x)),
        (lambda xs, ys: torch._foreach_lerp_(xs, ys, 0.75), lambda x, y: y - (y - x) * 0.25),
        (lambda xs, ys: torch._foreach_copy_(xs, ys), lambda x, y: y),
        (lambda xs, ys: torch._foreach_zero_(xs), lambda x, y: np.zeros_like(x)),
        (lambda xs, ys: torch._foreach_addcmul_(xs, ys, ys, value=0.5), lambda x, y: x + 0.5 * y * y),
        (lambda xs, ys: torch._foreach_div_(xs, 4.0), lambda x, y: x / 4),
    ],
)
def test_inplace_foreach_ops_match_numpy(call, ref) -> None:
    xs, ys = _pair()
    before = [x.numpy().copy() for x in xs]
    assert call(xs, ys) is None
    if ref is None:  # a list of numbers, one per tensor
        ref_values = [b + s for b, s in zip(before, (1.0, 2.0, 3.0))]
    else:
        ref_values = [ref(b, y.numpy()) for b, y in zip(before, ys)]
    for x, want in zip(xs, ref_values):
        assert x.dtype == torch.float32
        np.testing.assert_allclose(x.numpy(), want.astype(np.float32), rtol=1e-6, atol=1e-7)


def test_out_of_place_foreach_ops_leave_inputs_alone() -> None:
    xs, ys = _pair()
    before = [x.numpy().copy() for x in xs]
    out = torch._foreach_add(xs, ys, alpha=2)
    for o, b, y in zip(out, before, ys):
        np.testing.assert_allclose(o.numpy(), b + 2 * y.numpy(), rtol=1e-6)
    for s, b in zip(torch._foreach_sqrt([x.abs() for x in xs]), before):
        np.testing.assert_allclose(s.numpy(), np.sqrt(np.abs(b)), rtol=1e-6)
    for x, b in zip(xs, before):
        np.testing.assert_array_equal(x.numpy(), b)


def test_foreach_errors_are_pytorchs() -> None:
    xs, ys = _pair()
    with pytest.raises(RuntimeError, match="same number of tensors, got 3 and 2"):
        torch._foreach_add_(xs, ys[:2])
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        torch._foreach_add_([torch.arange(3)], 0.5)
    with pytest.raises(RuntimeError):  # shapes that do not broadcast
        torch._foreach_mul_([torch.ones(3)], [torch.ones(4)])
    leaf = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        torch._foreach_add_([leaf], 1.0)


def test_foreach_ops_record_autograd_like_the_per_tensor_ops() -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (y,) = torch._foreach_mul([x], 3.0)
    z = y.clone()
    torch._foreach_lerp_([z], [torch.zeros(2)], 0.5)
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.5, 1.5])


def test_zero_grad_without_none_zeroes_through_foreach() -> None:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
