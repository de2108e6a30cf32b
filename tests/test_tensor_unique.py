"""torch.unique(dim=...) and torch.unique_consecutive against numpy."""

from __future__ import annotations

import ferrotorch as torch
import numpy as np
import pytest

rng = np.random.default_rng(8)


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_unique_dim_matches_numpy(dim: int) -> None:
    a = rng.integers(0, 2, (6, 3, 4)).astype(np.float32)
    a[3] = a[1]
    u, inv, counts = torch.unique(torch.tensor(a), dim=dim, return_inverse=True, return_counts=True)
    nu, ninv, ncounts = np.unique(a, axis=dim, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(u.numpy(), nu)
    np.testing.assert_array_equal(inv.numpy(), ninv.reshape(-1))
    np.testing.assert_array_equal(counts.numpy(), ncounts)
    assert inv.dtype == counts.dtype == torch.int64 and u.dtype == torch.float32


def test_unique_dim_keeps_bfloat16_and_checks_the_dim() -> None:
    x = torch.tensor([[1.5, 2.0], [1.5, 2.0], [0.5, 1.0]]).to(torch.bfloat16)
    u = torch.unique(x, dim=0)
    assert u.dtype == torch.bfloat16 and u.float().tolist() == [[0.5, 1.0], [1.5, 2.0]]
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.unique(x, dim=2)


def _ref_consecutive(a: np.ndarray) -> tuple[list, list, list]:
    vals, inv, counts = [], [], []
    for v in a:
        if not vals or vals[-1] != v:
            vals.append(v)
            counts.append(0)
        counts[-1] += 1
        inv.append(len(vals) - 1)
    return vals, inv, counts


def test_unique_consecutive_flat_matches_a_reference() -> None:
    a = np.array([[1, 1, 2], [2, 3, 1], [1, 1, 2]])
    u, inv, counts = torch.unique_consecutive(torch.tensor(a), return_inverse=True, return_counts=True)
    vals, rinv, rcounts = _ref_consecutive(a.reshape(-1))
    assert u.tolist() == vals and counts.tolist() == rcounts
    assert inv.shape == (3, 3) and inv.reshape(-1).tolist() == rinv
    assert torch.tensor([5, 5, 6]).unique_consecutive().tolist() == [5, 6]


def test_unique_consecutive_along_a_dim_and_empty_input() -> None:
    x = torch.tensor([[1, 2], [1, 2], [3, 4], [1, 2]])
    u, counts = torch.unique_consecutive(x, dim=0, return_counts=True)
    assert u.tolist() == [[1, 2], [3, 4], [1, 2]] and counts.tolist() == [2, 1, 1]
    cols = torch.unique_consecutive(torch.tensor([[1, 1, 2], [3, 3, 4]]), dim=1)
    assert cols.tolist() == [[1, 2], [3, 4]]
    u, inv, counts = torch.unique_consecutive(torch.zeros(0), return_inverse=True, return_counts=True)
    assert u.shape == (0,) and inv.shape == (0,) and counts.shape == (0,)
