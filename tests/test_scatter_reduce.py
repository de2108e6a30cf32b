"""Tensor.scatter_reduce (sum/prod/mean/amax/amin, include_self) against a loop over numpy, and its gradients."""

from __future__ import annotations

import itertools

import ferrotorch as torch
import numpy as np
import pytest

rng = np.random.default_rng(31)
REDUCES = ["sum", "prod", "mean", "amax", "amin"]


def reference(x: np.ndarray, dim: int, index: np.ndarray, src: np.ndarray, reduce: str, include_self: bool):
    groups: dict = {}
    for pos in itertools.product(*[range(n) for n in index.shape]):
        tgt = list(pos)
        tgt[dim] = index[pos]
        groups.setdefault(tuple(tgt), []).append(src[pos])
    out = x.copy()
    for tgt, vals in groups.items():
        vals = ([x[tgt]] if include_self else []) + vals
        if reduce == "sum":
            out[tgt] = np.sum(vals)
        elif reduce == "prod":
            out[tgt] = np.prod(vals)
        elif reduce == "mean":
            m = np.sum(vals) / len(vals)
            out[tgt] = np.floor(m) if np.issubdtype(x.dtype, np.integer) else m
        elif reduce == "amax":
            out[tgt] = np.max(vals)
        else:
            out[tgt] = np.min(vals)
    return out


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("dim", [0, 1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_matches_a_loop_reference(dtype: type, dim: int, reduce: str, include_self: bool) -> None:
    x = rng.integers(-4, 5, (4, 5)).astype(dtype)
    src = rng.integers(-4, 5, (5, 6)).astype(dtype)  # bigger than the index: only its leading block is read
    index = rng.integers(0, x.shape[dim], (3, 4))
    got = torch.tensor(x).scatter_reduce(dim, torch.tensor(index), torch.tensor(src), reduce,
                                         include_self=include_self)
    want = reference(x, dim, index, src, reduce, include_self)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    assert got.dtype == torch.tensor(x).dtype


def test_nan_propagates_through_amax_and_the_inplace_and_functional_forms() -> None:
    x = torch.tensor([0.0, 0.0])
    r = x.scatter_reduce(0, torch.tensor([0, 0, 1]), torch.tensor([float("nan"), 1.0, 2.0]), "amax")
    assert np.isnan(r[0].item()) and r[1].item() == 2.0
    y = torch.zeros(3)
    assert y.scatter_reduce_(0, torch.tensor([1, 1]), torch.tensor([2.0, 3.0]), "sum") is y
    assert y.tolist() == [0.0, 5.0, 0.0]
    assert torch.scatter_reduce(torch.ones(2), 0, torch.tensor([1]), torch.tensor([4.0]), "prod").tolist() == [1, 4]


def test_scatter_with_reduce_multiply() -> None:
    x = torch.full((2, 3), 2.0)
    r = x.scatter(1, torch.tensor([[0, 0], [2, 1]]), torch.tensor([[3.0, 4.0], [5.0, 6.0]]), reduce="multiply")
    assert r.tolist() == [[24.0, 2.0, 2.0], [2.0, 12.0, 10.0]]
    x.scatter_(0, torch.tensor([[1, 1, 1]]), 0.5, reduce="multiply")
    assert x.tolist() == [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_gradients_match_finite_differences(reduce: str, include_self: bool) -> None:
    x = torch.tensor(rng.permutation(20).reshape(4, 5) / 7.0 + 0.3, requires_grad=True)  # distinct values
    src = torch.tensor(rng.permutation(18).reshape(3, 6) / 5.0 - 1.7, requires_grad=True)
    index = torch.tensor(rng.integers(0, 4, (3, 5)))

    def fn(a, b):
        return a.scatter_reduce(0, index, b, reduce, include_self=include_self)

    assert torch.autograd.gradcheck(fn, (x, src), eps=1e-6, atol=1e-6)


def test_prod_gradient_with_zeros_is_the_exclusive_product() -> None:
    x = torch.tensor([2.0, 3.0], requires_grad=True)
    src = torch.tensor([0.0, 5.0, 0.0, 0.0], requires_grad=True)
    index = torch.tensor([0, 0, 1, 1])
    x.scatter_reduce(0, index, src, "prod").sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]  # each group holds a zero
    assert src.grad.tolist() == [10.0, 0.0, 0.0, 0.0]  # one zero: d/d0 = 2 * 5; two zeros: all 0


def test_amax_shares_the_gradient_among_ties() -> None:
    x = torch.tensor([1.0, 0.0], requires_grad=True)
    src = torch.tensor([1.0, 1.0, -1.0], requires_grad=True)
    x.scatter_reduce(0, torch.tensor([0, 0, 1]), src, "amax").sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 / 3, 1.0])
    np.testing.assert_allclose(src.grad.numpy(), [1 / 3, 1 / 3, 0.0])


def test_errors_are_pytorchs() -> None:
    x, i = torch.zeros(3), torch.tensor([0])
    with pytest.raises(RuntimeError, match="reduce argument must be either sum, prod, mean, amax or amin, got max"):
        x.scatter_reduce(0, i, torch.ones(1), "max")
    with pytest.raises(RuntimeError, match="Expected self.dtype to be equal to src.dtype"):
        x.scatter_reduce(0, i, torch.ones(1, dtype=torch.float64), "sum")
    with pytest.raises(RuntimeError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x.scatter_reduce(0, torch.tensor([5]), torch.ones(1), "amax")
    with pytest.raises(RuntimeError, match="reduce argument must be either add or multiply"):
        x.scatter(0, i, torch.ones(1), reduce="max")


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
def test_index_reduce_matches_a_loop_reference(reduce: str, include_self: bool) -> None:
    x = rng.integers(-3, 4, (4, 3)).astype(np.float64)
    source = rng.integers(-3, 4, (4, 5)).astype(np.float64)
    index = np.array([2, 0, 2, 1, 2])
    got = torch.tensor(x).index_reduce(1, torch.tensor(index), torch.tensor(source), reduce,
                                       include_self=include_self)
    full = np.broadcast_to(index, source.shape)
    np.testing.assert_allclose(got.numpy(), reference(x, 1, full, source, reduce, include_self), rtol=1e-12)
    y = torch.tensor(x)
    assert y.index_reduce_(1, torch.tensor(index), torch.tensor(source), reduce, include_self=include_self) is y
    np.testing.assert_allclose(y.numpy(), got.numpy())
    with pytest.raises(RuntimeError, match="Expected reduce to be one of prod, mean, amax or amin but got sum"):
        y.index_reduce(1, torch.tensor(index), torch.tensor(source), "sum")
    assert torch.index_reduce(torch.ones(2), 0, torch.tensor([1, 1]), torch.tensor([2.0, 3.0]), "prod").tolist() == [1, 6]
    with pytest.raises(RuntimeError, match="must have same slice shapes"):
        y.index_reduce(1, torch.tensor([0, 1]), torch.tensor(source), "prod")
