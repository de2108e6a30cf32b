"""torch.bincount against numpy.bincount, with PyTorch's dtypes and errors."""

from __future__ import annotations

import ferrotorch as torch
import numpy as np
import pytest


@pytest.mark.parametrize("minlength", [0, 3, 10])
def test_counts_match_numpy(minlength):
    x = np.array([1, 1, 3, 0, 7, 3, 3])
    got = torch.bincount(torch.tensor(x), minlength=minlength)
    assert got.dtype == torch.int64
    np.testing.assert_array_equal(got.numpy(), np.bincount(x, minlength=minlength))


def test_weights_sum_with_weight_dtype():
    x = np.array([2, 0, 2])
    w = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    got = torch.bincount(torch.tensor(x), weights=torch.tensor(w))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), np.bincount(x, weights=w))
    assert torch.tensor(x).bincount(weights=torch.tensor([1, 2, 3])).dtype == torch.float64


def test_empty_input():
    got = torch.bincount(torch.tensor([], dtype=torch.int64))
    assert got.shape == (0,) and got.dtype == torch.int64


def test_errors():
    with pytest.raises(RuntimeError, match="1-d non-negative integral"):
        torch.bincount(torch.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match="1-d non-negative integral"):
        torch.bincount(torch.tensor([[1]]))
    with pytest.raises(NotImplementedError, match="'Float'"):
        torch.bincount(torch.tensor([1.0]))
    with pytest.raises(RuntimeError, match="same length as input"):
        torch.bincount(torch.tensor([1, 2]), weights=torch.ones(3))
