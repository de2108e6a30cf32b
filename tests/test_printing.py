"""Tensor printing against strings produced by real PyTorch (tests/fixtures/printing.json, made by
tests/fixtures/make_fixtures.py: each case is an expression evaluated with ``torch`` bound to ferrotorch)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ferrotorch
import pytest
from ferrotorch import _tensor_str

CASES = json.loads((Path(__file__).resolve().parent / "fixtures" / "printing.json").read_text())


@pytest.fixture(autouse=True)
def default_options() -> Iterator[None]:
    _tensor_str.set_printoptions(profile="default")
    yield
    _tensor_str.set_printoptions(profile="default")


@pytest.mark.parametrize("case", CASES, ids=[f"{c['expr']}-{c['options']}" for c in CASES])
def test_matches_pytorch(case: dict[str, Any]) -> None:
    try:
        t = eval(case["expr"], {"torch": ferrotorch})
    except AttributeError as e:
        pytest.skip(f"core lacks {e}")
    if case["options"]:
        _tensor_str.set_printoptions(**case["options"])
    assert _tensor_str._str(t) == case["repr"]


def test_get_printoptions_and_profiles() -> None:
    assert _tensor_str.get_printoptions() == {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80,
                                              "sci_mode": None}
    _tensor_str.set_printoptions(profile="full", precision=6)
    assert _tensor_str.get_printoptions()["threshold"] == math.inf
    assert _tensor_str.get_printoptions()["precision"] == 6
    with pytest.raises(ValueError, match="profile"):
        _tensor_str.set_printoptions(profile="long")


def test_printoptions_context_restores() -> None:
    t = ferrotorch.tensor([1.0 / 3.0])
    with _tensor_str.printoptions(precision=2):
        assert _tensor_str._str(t) == "tensor([0.33])"
    assert _tensor_str._str(t) == "tensor([0.3333])"


def test_suffix_wraps_to_next_line() -> None:
    t = ferrotorch.arange(12, dtype=ferrotorch.float64) / 8
    assert _tensor_str._str(t) == (
        "tensor([0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000,\n"
        "        1.1250, 1.2500, 1.3750], dtype=torch.float64)")


def test_subclass_prefix() -> None:
    class MyTensor(ferrotorch.Tensor):
        pass

    t = ferrotorch.tensor([1.0, 2.0])
    as_subclass = getattr(t, "as_subclass", None)
    if as_subclass is None:
        pytest.skip("core lacks Tensor.as_subclass")
    assert _tensor_str._str(as_subclass(MyTensor)) == "MyTensor([1., 2.])"
