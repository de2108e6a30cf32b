"""safetensors files: ``save_file``/``load_file`` and ``save_safetensors``/``load_safetensors`` (bytes)."""

from __future__ import annotations

import itertools
import json
import struct
from pathlib import Path

import ferrotorch
import numpy as np
import pytest
from ferrotorch.serialization import (
    load_file,
    load_safetensors,
    read_safetensors_metadata,
    save_file,
    save_safetensors,
)
from test_serialization import assert_matches, describe

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_file_written_by_safetensors_package_loads() -> None:
    tensors = load_file(FIXTURES / "tensors.safetensors")
    expected = json.loads((FIXTURES / "tensors.safetensors.json").read_text())
    got = describe(tensors)
    for desc in [*got.values(), *expected.values()]:
        desc.pop("storage_group", None)  # each loaded tensor owns its storage; the source's sharing is irrelevant
    assert sorted(got.pop("")["keys"]) == sorted(expected.pop("")["keys"])  # a file has no key order
    assert_matches(got, expected)
    assert read_safetensors_metadata(FIXTURES / "tensors.safetensors") == {"format": "pt", "note": "fixture"}


def sample() -> dict[str, object]:
    m = ferrotorch.arange(12, dtype=ferrotorch.float32).reshape(3, 4)
    return {
        "matrix_t": m.t(),  # not contiguous: written in row-major order
        "row": m[1],  # a view with an offset
        "half": ferrotorch.tensor([1.5, -2.0], dtype=ferrotorch.float16),
        "bf16": ferrotorch.tensor([3.0, 0.5], dtype=ferrotorch.bfloat16),
        "f64": ferrotorch.tensor([[1e300]], dtype=ferrotorch.float64),
        "i64": ferrotorch.tensor([-(2**62), 5], dtype=ferrotorch.int64),
        "i8": ferrotorch.tensor([-128, 127], dtype=ferrotorch.int8),
        "u8": ferrotorch.tensor([0, 255], dtype=ferrotorch.uint8),
        "flags": ferrotorch.tensor([True, False, True]),
        "scalar": ferrotorch.tensor(7, dtype=ferrotorch.int32),
        "empty": ferrotorch.zeros(0, 2, dtype=ferrotorch.int16),
    }


def contents(tensors: dict) -> dict:
    return {k: (str(v.dtype), tuple(v.shape), (v.float() if v.dtype in (ferrotorch.float16, ferrotorch.bfloat16)
                                               else v).tolist()) for k, v in tensors.items()}


def test_file_round_trip(tmp_path: Path) -> None:
    tensors = sample()
    save_file(tensors, tmp_path / "s.safetensors", metadata={"epoch": "3"})
    back = load_file(tmp_path / "s.safetensors")
    assert contents(back) == contents(tensors)
    assert back["matrix_t"].stride() == (3, 1)
    assert read_safetensors_metadata(tmp_path / "s.safetensors") == {"epoch": "3"}


def test_bytes_round_trip_and_layout() -> None:
    tensors = sample()
    data = save_safetensors(tensors)
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0
    header = json.loads(data[8 : 8 + n])
    assert "__metadata__" not in header
    assert header["matrix_t"] == {"dtype": "F32", "shape": [4, 3], "data_offsets": header["matrix_t"]["data_offsets"]}
    assert {k: v["dtype"] for k, v in header.items()} == {
        "matrix_t": "F32", "row": "F32", "half": "F16", "bf16": "BF16", "f64": "F64", "i64": "I64", "i8": "I8",
        "u8": "U8", "flags": "BOOL", "scalar": "I32", "empty": "I16"}
    spans = sorted(v["data_offsets"] for v in header.values())
    assert spans[0][0] == 0 and spans[-1][1] == len(data) - 8 - n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    b, e = header["matrix_t"]["data_offsets"]
    body = data[8 + n :]
    assert np.frombuffer(body[b:e], dtype="<f4").reshape(4, 3).tolist() == np.arange(12.0).reshape(3, 4).T.tolist()
    assert contents(load_safetensors(data)) == contents(tensors)


def test_bad_inputs_rejected(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="not a Tensor"):
        save_safetensors({"a": [1, 2]})
    with pytest.raises(TypeError, match="names must be str"):
        save_safetensors({1: ferrotorch.ones(1)})
    with pytest.raises(TypeError, match="metadata"):
        save_safetensors({"a": ferrotorch.ones(1)}, metadata={"epoch": 3})
    with pytest.raises(ValueError, match="reserved"):
        save_safetensors({"__metadata__": ferrotorch.ones(1)})


def with_header(header: dict, body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x02", "not a safetensors file"),
        (struct.pack("<Q", 10**12) + b"{}", "truncated or corrupt"),
        (struct.pack("<Q", 4) + b"{{{{", "invalid safetensors header"),
        (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
        (with_header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\x00" * 4), "truncated"),
        (with_header({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\x00" * 8), "shape"),
        (with_header({"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\x00" * 8), "dtype"),
        (with_header({"a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}, b"\x00" * 2), "starts at byte 1"),
    ],
)
def test_corrupt_data_raises(data: bytes, message: str) -> None:
    with pytest.raises(RuntimeError, match=message):
        load_safetensors(data)


def test_truncated_file(tmp_path: Path) -> None:
    save_file({"w": ferrotorch.arange(100, dtype=ferrotorch.float32)}, tmp_path / "w.safetensors")
    raw = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "w.safetensors").write_bytes(raw[:-7])
    with pytest.raises(RuntimeError, match="truncated"):
        load_file(tmp_path / "w.safetensors")


def test_readable_by_safetensors_package(tmp_path: Path) -> None:
    st_numpy = pytest.importorskip("safetensors.numpy")
    tensors = {k: v for k, v in sample().items() if k != "bf16"}  # the package's numpy API has no bfloat16
    save_file(tensors, tmp_path / "s.safetensors")
    theirs = st_numpy.load_file(str(tmp_path / "s.safetensors"))
    assert set(theirs) == set(tensors)
    for k, v in tensors.items():
        assert theirs[k].shape == tuple(v.shape)
        assert theirs[k].tolist() == v.tolist()
