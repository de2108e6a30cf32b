"""torch.finfo / torch.iinfo against numpy's limits (and bfloat16's by hand)."""

from __future__ import annotations

import ferrotorch as torch
import numpy as np
import pytest


@pytest.mark.parametrize("dtype, np_dtype", [(torch.float16, np.float16), (torch.float32, np.float32),
                                             (torch.float64, np.float64)])
def test_finfo_matches_numpy(dtype: torch.dtype, np_dtype: type) -> None:
    f, n = torch.finfo(dtype), np.finfo(np_dtype)
    assert (f.bits, f.eps, f.max, f.min, f.tiny) == (n.bits, float(n.eps), float(n.max), float(n.min), float(n.tiny))
    assert f.smallest_normal == f.tiny and f.resolution == float(n.resolution)
    assert f.dtype == str(dtype).removeprefix("torch.") and f == torch.finfo(dtype)


def test_finfo_bfloat16_default_dtype_and_use_as_a_clamp_bound() -> None:
    b = torch.finfo(torch.bfloat16)
    assert (b.bits, b.eps, b.tiny) == (16, 2.0**-7, 2.0**-126)
    assert torch.tensor([1e39]).to(torch.bfloat16).isinf().item()
    assert torch.tensor([b.max]).to(torch.bfloat16).item() == b.max  # representable, the largest finite
    assert torch.finfo() == torch.finfo(torch.float32)
    x = torch.tensor([0.0, 2.0]).clamp_min(torch.finfo(torch.float32).tiny).log()
    assert x.isfinite().all()
    assert repr(torch.finfo(torch.float32)).startswith("finfo(resolution=1e-06, min=-3.40282e+38, max=3.40282e+38")


def test_iinfo_matches_numpy_and_both_refuse_the_other_kind() -> None:
    for dtype, np_dtype in ((torch.uint8, np.uint8), (torch.int8, np.int8), (torch.int32, np.int32),
                            (torch.int64, np.int64)):
        i, n = torch.iinfo(dtype), np.iinfo(np_dtype)
        assert (i.bits, i.max, i.min) == (n.bits, int(n.max), int(n.min))
    assert repr(torch.iinfo(torch.int16)) == "iinfo(min=-32768, max=32767, dtype=int16)"
    with pytest.raises(TypeError, match="requires a floating point input type"):
        torch.finfo(torch.int64)
    with pytest.raises(TypeError, match="requires an integer input type"):
        torch.iinfo(torch.float32)
