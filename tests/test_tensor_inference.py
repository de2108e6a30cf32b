"""torch.tensor's dtype inference over nested data (numpy scalars and tensors keep their dtype; leaves
promote), and randint's keyword forms — values checked against what PyTorch documents."""

from __future__ import annotations

import ferrotorch as torch
import numpy as np
import pytest


@pytest.mark.parametrize(
    "data,dtype",
    [
        ([1, 2], torch.int64),
        ([1, 2.5], torch.float32),
        ([True, False], torch.bool),
        ([True, 2], torch.int64),
        ([], torch.float32),
        ([np.float64(1.5)], torch.float64),
        ([np.int32(1)], torch.int32),
        ([np.int32(1), 2], torch.int64),
        ([np.float32(1), 2.0], torch.float32),
        ([1, np.float64(2)], torch.float64),
        ([np.int16(1), np.uint8(2)], torch.int16),
        ([torch.tensor(1.0, dtype=torch.float64), 2.0], torch.float64),
        ([torch.tensor(1, dtype=torch.int32), torch.tensor(2, dtype=torch.int32)], torch.int32),
    ],
)
def test_tensor_infers_dtype_by_promoting_leaves(data, dtype):
    t = torch.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.array([float(x) for x in data]).astype(t.numpy().dtype))


def test_numpy_scalar_alone_keeps_dtype():
    assert torch.tensor(np.float64(1.5)).dtype == torch.float64
    assert torch.tensor(np.int8(-3)).item() == -3


def test_randint_keyword_bounds():
    torch.manual_seed(0)
    a = torch.randint(high=5, size=(200,))
    assert a.dtype == torch.int64 and 0 <= a.min().item() and a.max().item() < 5
    b = torch.randint(2, high=4, size=(200,))
    assert set(b.tolist()) == {2, 3}
    c = torch.randint(low=-3, high=-1, size=(2, 50))
    assert c.shape == (2, 50) and set(c.flatten().tolist()) == {-3, -2}
    with pytest.raises(TypeError):
        torch.randint(size=(3,))
