"""torch.searchsorted / torch.bucketize against numpy.searchsorted."""

from __future__ import annotations

import math

import ferrotorch as torch
import numpy as np
import pytest

rng = np.random.default_rng(21)


@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32])
def test_one_row_matches_numpy_for_any_values_shape(right: bool, dtype: type) -> None:
    seq = np.sort(rng.integers(-20, 20, 50)).astype(dtype)  # with repeated values
    vals = rng.integers(-25, 25, (3, 4, 5)).astype(dtype)
    got = torch.searchsorted(torch.tensor(seq), torch.tensor(vals), right=right)
    assert got.dtype == torch.int64 and tuple(got.shape) == vals.shape
    np.testing.assert_array_equal(got.numpy(), np.searchsorted(seq, vals, side="right" if right else "left"))
    b = torch.bucketize(torch.tensor(vals), torch.tensor(seq), right=right)
    np.testing.assert_array_equal(b.numpy(), got.numpy())


def test_rows_search_their_own_sequence() -> None:
    seq = np.sort(rng.standard_normal((2, 3, 7)), axis=-1)
    vals = rng.standard_normal((2, 3, 4))
    got = torch.searchsorted(torch.tensor(seq), torch.tensor(vals), side="right").numpy()
    for i in np.ndindex(2, 3):
        np.testing.assert_array_equal(got[i], np.searchsorted(seq[i], vals[i], side="right"))


def test_nan_compares_false_as_in_pytorch_and_mixed_dtypes_promote() -> None:
    # PyTorch's search moves right past every element e with !(e >= v): a NaN value lands at the end, and a
    # value above the numbers passes a trailing NaN too (numpy, which sorts NaN last, would give 2)
    seq = torch.tensor([1.0, 2.0, math.nan])
    assert torch.searchsorted(seq, torch.tensor([math.nan, 2.0, 5.0, 0.0])).tolist() == [3, 1, 3, 0]
    assert torch.searchsorted(torch.tensor([1, 3, 5]), torch.tensor([2.5, 3.0])).tolist() == [1, 1]
    assert torch.searchsorted(torch.tensor([1, 3, 5]), torch.tensor([3]), right=True).tolist() == [2]


def test_scalar_out_int32_sorter_and_out() -> None:
    seq = torch.tensor([1.0, 3.0, 5.0, 7.0])
    s = torch.searchsorted(seq, 4.0)
    assert s.dim() == 0 and s.item() == 2
    assert torch.searchsorted(seq, torch.tensor([0.0, 9.0]), out_int32=True).dtype == torch.int32
    unsorted = torch.tensor([5.0, 1.0, 7.0, 3.0])
    sorter = torch.argsort(unsorted)
    assert torch.searchsorted(unsorted, torch.tensor([4.0, 7.0]), sorter=sorter).tolist() == [2, 3]
    out = torch.empty(2, dtype=torch.int64)
    r = torch.searchsorted(seq, torch.tensor([2.0, 6.0]), out=out)
    assert r is out and out.tolist() == [1, 3]
    assert torch.searchsorted(seq, torch.zeros(0)).shape == (0,)


def test_errors_are_pytorchs() -> None:
    with pytest.raises(RuntimeError, match=r"boundaries tensor \[2, 3\] and input value tensor \[3, 1\]"):
        torch.searchsorted(torch.zeros(2, 3), torch.zeros(3, 1))
    with pytest.raises(RuntimeError, match="side and right can't be set to opposites"):
        torch.searchsorted(torch.zeros(3), torch.zeros(1), right=True, side="left")
    with pytest.raises(RuntimeError, match="side can only be 'left' or 'right'"):
        torch.searchsorted(torch.zeros(3), torch.zeros(1), side="middle")
    with pytest.raises(RuntimeError, match="boundaries tensor must be 1 dimension, but got dim\\(2\\)"):
        torch.bucketize(torch.zeros(3), torch.zeros(2, 2))
    with pytest.raises(RuntimeError, match="scalar only when boundaries tensor dimension is 1"):
        torch.searchsorted(torch.zeros(2, 2), 1.0)
    with pytest.raises(RuntimeError, match="boundary and sorter must have the same size"):
        torch.searchsorted(torch.zeros(3), torch.zeros(1), sorter=torch.zeros(2, dtype=torch.int64))


def test_large_inputs_search_in_parallel() -> None:
    seq = np.sort(rng.standard_normal(1000)).astype(np.float32)
    vals = rng.standard_normal(300_000).astype(np.float32)
    got = torch.searchsorted(torch.tensor(seq), torch.tensor(vals)).numpy()
    np.testing.assert_array_equal(got, np.searchsorted(seq, vals))
