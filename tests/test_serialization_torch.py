"""Checkpoints written by ferrotorch load in real PyTorch with weights_only=True (skipped without torch)."""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path
from typing import Any

import ferrotorch
import pytest
from test_serialization import has_parameter

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def as_torch_values(t: Any) -> list:
    return (t.float() if t.dtype in (torch.float16, torch.bfloat16) else t).tolist()


def as_ferro_values(t: Any) -> list:
    return (t.float() if str(t.dtype) in ("torch.float16", "torch.bfloat16") else t).tolist()


def same_values(a: Any, b: Any) -> bool:
    if isinstance(a, list):
        return len(a) == len(b) and all(same_values(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b and type(a) is type(b)


def assert_same_tensor(theirs: Any, ours: Any) -> None:
    assert str(theirs.dtype) == str(ours.dtype)
    assert tuple(theirs.shape) == tuple(ours.shape)
    assert tuple(theirs.stride()) == tuple(ours.stride())
    assert theirs.storage_offset() == ours.storage_offset()
    assert theirs.requires_grad == ours.requires_grad
    assert same_values(as_torch_values(theirs.detach()), as_ferro_values(ours.detach()))


def test_all_dtypes_load_in_torch(tmp_path: Path) -> None:
    vals = [0.0, -1.5, 2.25, float("inf"), float("nan")]
    obj = {}
    for name in DTYPES:
        dtype = getattr(ferrotorch, name)
        if name.startswith("float") or name == "bfloat16":
            obj[name] = ferrotorch.tensor(vals, dtype=dtype)
        elif name == "bool":
            obj[name] = ferrotorch.tensor([True, False, True])
        else:
            obj[name] = ferrotorch.tensor([0, 1, 100, 127], dtype=dtype)
    ferrotorch.save(obj, tmp_path / "d.pt")
    for mmap in (False, True):  # mmap=True needs PyTorch's 64-byte record alignment
        back = torch.load(tmp_path / "d.pt", weights_only=True, mmap=mmap)
        assert list(back) == DTYPES
        for name in DTYPES:
            assert back[name].dtype == getattr(torch, name)
            assert_same_tensor(back[name], obj[name])


def test_views_and_shared_storage_in_torch(tmp_path: Path) -> None:
    base = ferrotorch.arange(24, dtype=ferrotorch.float32).reshape(4, 6)
    obj = {"base": base, "t": base.t(), "row": base[2], "block": base[1:3, ::2], "zero_dim": ferrotorch.tensor(3.5),
           "empty": ferrotorch.zeros(0, 3), "grad": ferrotorch.tensor([1.0, 2.0], requires_grad=True)}
    ferrotorch.save(obj, tmp_path / "v.pt")
    back = torch.load(tmp_path / "v.pt", weights_only=True)
    for k, v in obj.items():
        assert_same_tensor(back[k], v)
    ptr = back["base"].untyped_storage().data_ptr()
    assert all(back[k].untyped_storage().data_ptr() == ptr for k in ("t", "row", "block"))
    back["base"][2, 3] = -1.0
    assert back["row"][3].item() == -1.0


def test_containers_and_metadata_in_torch(tmp_path: Path) -> None:
    obj = OrderedDict([("epoch", 3), ("loss", 0.25), ("name", "run ✓"), ("betas", (0.9, 0.999)), ("none", None),
                       ("flags", [True, False]), ("big", 2**70), ("neg", -(2**40)), ("raw", b"\x00\xff"),
                       ("ids", {1, 2}), ("z", 1 - 2j), ("dtype", ferrotorch.bfloat16),
                       ("size", ferrotorch.Size([2, 3])), ("device", ferrotorch.device("cpu")),
                       ("nested", {"state": {0: {"step": ferrotorch.tensor(2.0)}}, "list": [ferrotorch.ones(2)]})])
    ferrotorch.save(obj, tmp_path / "c.pt")
    back = torch.load(tmp_path / "c.pt", weights_only=True)
    assert type(back) is OrderedDict
    plain = ["epoch", "loss", "name", "betas", "none", "flags", "big", "neg", "raw", "ids", "z"]
    assert {k: back[k] for k in plain} == {k: obj[k] for k in plain}
    assert back["dtype"] is torch.bfloat16
    assert back["size"] == torch.Size([2, 3]) and type(back["size"]) is torch.Size
    assert back["device"] == torch.device("cpu")
    assert back["nested"]["state"][0]["step"].item() == 2.0
    assert back["nested"]["list"][0].tolist() == [1.0, 1.0]


@pytest.mark.skipif(not has_parameter(), reason="ferrotorch.nn.Parameter(t) not working yet")
def test_parameters_load_in_torch(tmp_path: Path) -> None:
    p = ferrotorch.nn.Parameter(ferrotorch.tensor([[1.0, 2.0]]))
    ferrotorch.save({"p": p, "frozen": ferrotorch.nn.Parameter(ferrotorch.ones(1), requires_grad=False)},
                    tmp_path / "p.pt")
    back = torch.load(tmp_path / "p.pt", weights_only=True)
    assert isinstance(back["p"], torch.nn.Parameter) and back["p"].requires_grad
    assert isinstance(back["frozen"], torch.nn.Parameter) and not back["frozen"].requires_grad
    assert back["p"].tolist() == [[1.0, 2.0]]


def test_torch_state_dict_round_trips_through_ferrotorch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    torch.save(model.state_dict(), tmp_path / "theirs.pt")
    ours = ferrotorch.load(tmp_path / "theirs.pt")
    ferrotorch.save(ours, tmp_path / "ours.pt")
    model2 = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    model2.load_state_dict(torch.load(tmp_path / "ours.pt", weights_only=True))
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), model2.state_dict().items(), strict=True):
        assert k1 == k2 and torch.equal(v1, v2)
