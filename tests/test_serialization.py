"""ferrotorch.save / ferrotorch.load in PyTorch's checkpoint format.

Files written by real PyTorch (tests/fixtures/*.pt, made by tests/fixtures/make_fixtures.py, with the expected
contents in the .json beside each) load here without PyTorch; files written here have PyTorch's layout and
round-trip; unsafe pickles are refused; interrupted saves keep the old file; damaged files raise clearly.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import pickletools
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ferrotorch
import numpy as np
import pytest
from ferrotorch import serialization

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHECKPOINTS = ["state_dict", "adam_state", "checkpoint", "dtypes", "views", "containers"]
NEEDS_PARAMETER = {"views"}


def has_parameter() -> bool:
    """Whether ferrotorch.nn.Parameter exists and can be constructed."""
    param_cls = getattr(getattr(ferrotorch, "nn", None), "Parameter", None)
    try:
        return param_cls is not None and isinstance(param_cls(ferrotorch.ones(1)), param_cls)
    except RecursionError:
        return False


def values_of(t: Any) -> Any:
    """Exact values as nested lists; float16/bfloat16 widened to float32, non-finite floats as strings."""
    t = t.detach()
    if str(t.dtype) in ("torch.float16", "torch.bfloat16"):
        t = t.float()

    def fix(v: Any) -> Any:
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return v

    return fix(t.tolist())


def describe(obj: Any) -> dict[str, Any]:
    """The same flattening as make_fixtures.describe, for ferrotorch objects."""
    out: dict[str, Any] = {}
    groups: dict[int, str] = {}
    param_cls = getattr(getattr(ferrotorch, "nn", None), "Parameter", None)

    def walk(path: str, o: Any) -> None:
        if isinstance(o, ferrotorch.Tensor):
            group = groups.setdefault(o._storage_id(), f"s{len(groups)}")
            out[path] = {
                "kind": "parameter" if param_cls is not None and isinstance(o, param_cls) else "tensor",
                "dtype": str(o.dtype),
                "shape": list(o.shape),
                "stride": list(o.stride()),
                "storage_offset": o.storage_offset(),
                "requires_grad": o.requires_grad,
                "storage_group": group,
                "values": values_of(o),
            }
        elif isinstance(o, dict):
            out[path] = {"kind": type(o).__name__, "keys": [repr(k) for k in o]}
            for k, v in o.items():
                walk(f"{path}/{k!r}", v)
        elif isinstance(o, (list, tuple)):
            out[path] = {"kind": type(o).__name__, "len": len(o)}
            for i, v in enumerate(o):
                walk(f"{path}/{i}", v)
        elif o is None or isinstance(o, (bool, int, float, str)):
            out[path] = {"kind": type(o).__name__, "value": o}
        else:
            out[path] = {"kind": type(o).__name__, "repr": repr(o)}

    walk("", obj)
    return out


def assert_matches(got: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal descriptions, with storage group labels compared as a partition (same sharing, any names)."""
    assert sorted(got) == sorted(expected)
    label_map: dict[str, str] = {}
    for path, exp in expected.items():
        g = dict(got[path])
        e = dict(exp)
        if "storage_group" in e:
            mapped = label_map.setdefault(e.pop("storage_group"), g["storage_group"])
            assert g.pop("storage_group") == mapped, f"{path}: storage sharing differs"
        assert g == e, path
    assert len(set(label_map.values())) == len(label_map), "tensors share storage that should not"


def expected(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def skip_without_parameter(name: str) -> None:
    if name in NEEDS_PARAMETER and not has_parameter():
        pytest.skip("ferrotorch.nn.Parameter(t) not working yet")


# ---------------------------------------------------------------------------------------------------------
# files written by real PyTorch
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_pytorch_checkpoint_loads(name: str) -> None:
    skip_without_parameter(name)
    obj = ferrotorch.load(FIXTURES / f"{name}.pt")
    assert_matches(describe(obj), expected(name))


def test_state_dict_is_ordered_dict_with_metadata() -> None:
    sd = ferrotorch.load(FIXTURES / "state_dict.pt")
    assert type(sd) is OrderedDict
    assert list(sd)[:3] == ["0.weight", "0.bias", "1.weight"]
    assert sd._metadata[""] == {"version": 1}
    assert sd["1.num_batches_tracked"].dtype == ferrotorch.int64
    assert sd["1.num_batches_tracked"].shape == ()
    assert sd["1.num_batches_tracked"].item() == 2


def test_adam_state_layout() -> None:
    osd = ferrotorch.load(FIXTURES / "adam_state.pt")
    group = osd["param_groups"][0]
    assert group["betas"] == (0.9, 0.99)
    assert group["lr"] == 0.01
    assert group["params"] == list(range(6))
    assert set(osd["state"]) == set(range(6))
    assert osd["state"][0]["step"].item() == 2.0
    assert osd["state"][0]["exp_avg"].shape == (3, 2, 3, 3)


def test_views_share_memory_after_load() -> None:
    skip_without_parameter("views")
    v = ferrotorch.load(FIXTURES / "views.pt")
    v["base"][1, 2] = 100.0
    assert v["row"][2].item() == 100.0
    assert v["column"][1].item() == 100.0
    assert v["transposed"][2, 1].item() == 100.0
    v["first_half"][0] = -7.0
    assert v["second_half"]._storage_id() == v["first_half"]._storage_id()
    assert v["first_half"].tolist()[0] == -7.0


def test_whole_pytorch_module_refused_by_default() -> None:
    with pytest.raises(pickle.UnpicklingError, match=r"torch\.nn\.modules\.linear\.Linear"):
        ferrotorch.load(FIXTURES / "whole_module.pt")


@pytest.mark.skipif(not has_parameter(), reason="ferrotorch.nn.Parameter(t) not working yet")
def test_whole_pytorch_module_loads_as_ferrotorch_module() -> None:
    exp = expected("whole_module")
    linear = ferrotorch.load(FIXTURES / "whole_module.pt", weights_only=False)
    assert isinstance(linear, ferrotorch.nn.Linear)
    assert_matches(describe(linear.state_dict()), exp["state_dict"])
    out = linear(ferrotorch.tensor(exp["input"])).tolist()
    np.testing.assert_allclose(out, exp["output"], rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------------------
# files written here
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_round_trip_of_pytorch_fixtures(name: str, tmp_path: Path) -> None:
    skip_without_parameter(name)
    obj = ferrotorch.load(FIXTURES / f"{name}.pt")
    ferrotorch.save(obj, tmp_path / "again.pt")
    assert_matches(describe(ferrotorch.load(tmp_path / "again.pt")), expected(name))


def test_round_trip_through_file_object() -> None:
    a = ferrotorch.arange(12, dtype=ferrotorch.float32).reshape(3, 4)
    buf = io.BytesIO()
    ferrotorch.save({"a": a, "t": a.t()}, buf)
    assert zipfile.ZipFile(io.BytesIO(buf.getvalue())).namelist()[0] == "archive/data.pkl"
    buf.seek(0)
    back = ferrotorch.load(buf)
    assert back["a"].tolist() == a.tolist()
    assert back["t"].tolist() == a.t().tolist()
    assert back["t"].stride() == (1, 4)
    assert back["t"]._storage_id() == back["a"]._storage_id()


# PyTorch's weights_only unpickler accepts exactly these opcodes.
TORCH_WEIGHTS_ONLY_OPCODES = {
    "APPEND", "APPENDS", "BINFLOAT", "BINGET", "BININT", "BININT1", "BININT2", "BINPERSID", "BINPUT", "BINUNICODE",
    "BUILD", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_SET", "EMPTY_TUPLE", "GLOBAL", "LONG1", "LONG_BINGET", "LONG_BINPUT",
    "MARK", "NEWFALSE", "NEWOBJ", "NEWTRUE", "NONE", "PROTO", "REDUCE", "SETITEM", "SETITEMS", "SHORT_BINSTRING",
    "STOP", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
}


def sample_checkpoint() -> dict[str, Any]:
    base = ferrotorch.arange(20, dtype=ferrotorch.float32).reshape(4, 5)
    return {
        "base": base,
        "t": base.t(),
        "row": base[2],
        "ints": ferrotorch.tensor([1, -2, 3], dtype=ferrotorch.int64),
        "flags": ferrotorch.tensor([True, False]),
        "meta": OrderedDict([("epoch", 3), ("lr", 0.5), ("name", "run"), ("betas", (0.9, 0.999))]),
        "nested": [{"x": ferrotorch.tensor(2.5)}, None, 2**70, -5, b"\x00\xff", {1, 2}, 1 + 2j],
        "dtype": ferrotorch.bfloat16,
        "size": ferrotorch.Size([2, 3]),
        "device": ferrotorch.device("cpu"),
    }


def test_written_archive_has_pytorch_layout(tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt.pt"
    ferrotorch.save(sample_checkpoint(), path)
    raw = path.read_bytes()
    zf = zipfile.ZipFile(path)
    names = zf.namelist()
    assert names[:4] == ["model.ckpt/data.pkl", "model.ckpt/.format_version", "model.ckpt/.storage_alignment",
                         "model.ckpt/byteorder"]
    assert names[-2:] == ["model.ckpt/version", "model.ckpt/.data/serialization_id"]
    # base, t and row share one storage: 4 storages in all (base, ints, flags and the 0-dim x)
    assert sorted(n for n in names if "/data/" in n) == [f"model.ckpt/data/{i}" for i in range(4)]
    assert zf.read("model.ckpt/.format_version") == b"1"
    assert zf.read("model.ckpt/.storage_alignment") == b"64"
    assert zf.read("model.ckpt/byteorder") == b"little"
    assert zf.read("model.ckpt/version") == b"3\n"
    assert zf.read("model.ckpt/.data/serialization_id").isdigit()
    for info in zf.infolist():
        assert info.compress_type == zipfile.ZIP_STORED
        name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
        assert (info.header_offset + 30 + name_len + extra_len) % 64 == 0, info.filename
    data0 = zf.read("model.ckpt/data/0")
    assert np.frombuffer(data0, dtype="<f4").tolist() == list(range(20))
    pkl = zf.read("model.ckpt/data.pkl")
    assert pkl[:2] == b"\x80\x02"
    ops = {op.name for op, _, _ in pickletools.genops(pkl)}
    assert ops <= TORCH_WEIGHTS_ONLY_OPCODES, ops - TORCH_WEIGHTS_ONLY_OPCODES
    globals_used = {arg for op, arg, _ in pickletools.genops(pkl) if op.name == "GLOBAL"}
    assert globals_used == {"torch._utils _rebuild_tensor_v2", "torch FloatStorage", "torch LongStorage",
                            "torch BoolStorage", "collections OrderedDict", "_codecs encode", "builtins set",
                            "builtins complex", "torch bfloat16", "torch Size", "torch device"}


def test_round_trip_of_sample(tmp_path: Path) -> None:
    obj = sample_checkpoint()
    ferrotorch.save(obj, tmp_path / "s.pt")
    back = ferrotorch.load(tmp_path / "s.pt")
    assert describe(back) == describe(obj)
    assert type(back["meta"]) is OrderedDict
    assert back["dtype"] == ferrotorch.bfloat16
    assert back["size"] == (2, 3) and type(back["size"]) is type(obj["size"])
    assert back["device"] == ferrotorch.device("cpu")


def test_same_tensor_twice_loads_as_one_object(tmp_path: Path) -> None:
    t = ferrotorch.tensor([1.0, 2.0])
    ferrotorch.save([t, t, {"again": t}], tmp_path / "m.pt")
    a, b, d = ferrotorch.load(tmp_path / "m.pt")
    assert a is b and d["again"] is a


def test_requires_grad_and_zero_dim_round_trip(tmp_path: Path) -> None:
    obj = {"w": ferrotorch.tensor([1.0, -1.0], requires_grad=True), "s": ferrotorch.tensor(7, dtype=ferrotorch.int16)}
    ferrotorch.save(obj, tmp_path / "g.pt")
    back = ferrotorch.load(tmp_path / "g.pt")
    assert back["w"].requires_grad and back["w"].is_leaf
    assert back["s"].shape == () and back["s"].item() == 7 and back["s"].dtype == ferrotorch.int16


@pytest.mark.skipif(not has_parameter(), reason="ferrotorch.nn.Parameter(t) not working yet")
def test_parameter_round_trip(tmp_path: Path) -> None:
    p = ferrotorch.nn.Parameter(ferrotorch.tensor([[0.5, 0.25]]))
    frozen = ferrotorch.nn.Parameter(ferrotorch.tensor([2.0]), requires_grad=False)
    ferrotorch.save({"p": p, "frozen": frozen}, tmp_path / "p.pt")
    back = ferrotorch.load(tmp_path / "p.pt")
    assert isinstance(back["p"], ferrotorch.nn.Parameter) and back["p"].requires_grad
    assert isinstance(back["frozen"], ferrotorch.nn.Parameter) and not back["frozen"].requires_grad
    assert back["p"].tolist() == [[0.5, 0.25]]


def test_save_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pickle_protocol"):
        ferrotorch.save({}, tmp_path / "x.pt", pickle_protocol=1)
    with pytest.raises(AttributeError, match="write"):
        ferrotorch.save({}, 42)
    with pytest.raises(RuntimeError, match="Parent directory"):
        ferrotorch.save({}, tmp_path / "missing" / "x.pt")


def test_unpicklable_object_raises_pickling_error(tmp_path: Path) -> None:
    with pytest.raises(pickle.PicklingError, match="lambda"):
        ferrotorch.save({"f": lambda x: x}, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


@dataclass
class Point:
    """A user class: loads only with weights_only=False or when allow-listed."""

    x: float
    weight: Any


def test_user_class_needs_opt_in(tmp_path: Path) -> None:
    ferrotorch.save(Point(1.5, ferrotorch.tensor([3.0, 4.0])), tmp_path / "pt.pt")
    name = f"{Point.__module__}.Point"
    with pytest.raises(pickle.UnpicklingError, match=f"Unsupported global: GLOBAL {name}"):
        ferrotorch.load(tmp_path / "pt.pt")
    p = ferrotorch.load(tmp_path / "pt.pt", weights_only=False)
    assert isinstance(p, Point) and p.x == 1.5 and p.weight.tolist() == [3.0, 4.0]
    with serialization.safe_globals([Point]):
        assert ferrotorch.load(tmp_path / "pt.pt").weight.tolist() == [3.0, 4.0]
    with pytest.raises(pickle.UnpicklingError):
        ferrotorch.load(tmp_path / "pt.pt")
    serialization.add_safe_globals([Point])
    try:
        assert Point in serialization.get_safe_globals()
        assert ferrotorch.load(tmp_path / "pt.pt").x == 1.5
    finally:
        serialization.clear_safe_globals()
    assert serialization.get_safe_globals() == []


@pytest.mark.skipif(not has_parameter(), reason="ferrotorch.nn.Parameter(t) not working yet")
def test_whole_module_round_trip_needs_weights_only_false(tmp_path: Path) -> None:
    nn = ferrotorch.nn
    net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    ferrotorch.save(net, tmp_path / "net.pth")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        ferrotorch.load(tmp_path / "net.pth")
    net2 = ferrotorch.load(tmp_path / "net.pth", weights_only=False)
    x = ferrotorch.tensor([[0.5, -1.0], [2.0, 0.25]])
    assert type(net2) is type(net)
    assert net2(x).tolist() == net(x).tolist()
    assert net2.state_dict().keys() == net.state_dict().keys()


# ---------------------------------------------------------------------------------------------------------
# safety
# ---------------------------------------------------------------------------------------------------------


def write_archive(path: Path, data_pkl: bytes, records: dict[str, bytes] | None = None) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/byteorder", b"little")
        for name, data in (records or {}).items():
            zf.writestr(f"archive/{name}", data)
        zf.writestr("archive/version", b"3\n")


def call_pickle(module: str, name: str, arg: str) -> bytes:
    """Protocol-2 pickle of ``module.name(arg)``."""
    enc = arg.encode()
    return (b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X" + struct.pack("<I", len(enc)) + enc
            + b"\x85R.")


@pytest.mark.parametrize(("module", "name"), [("posix", "system"), ("os", "system"), ("subprocess", "call")])
def test_code_execution_refused(module: str, name: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    write_archive(tmp_path / "evil.pt", call_pickle(module, name, f"touch {marker}"))
    with pytest.raises(pickle.UnpicklingError, match=f"{module}.{name}"):
        ferrotorch.load(tmp_path / "evil.pt")
    with serialization.safe_globals([(print, f"{module}.{name}")]), pytest.raises(pickle.UnpicklingError):
        ferrotorch.load(tmp_path / "evil.pt")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["eval", "exec", "getattr", "__import__"])
def test_builtins_refused(name: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    write_archive(tmp_path / "evil.pt", call_pickle("__builtin__", name, f"open({str(marker)!r}, 'w')"))
    with pytest.raises(pickle.UnpicklingError, match=f"Unsupported global: GLOBAL builtins.{name} "):
        ferrotorch.load(tmp_path / "evil.pt")
    assert not marker.exists()


def test_reduce_payload_inside_state_dict_refused(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self) -> tuple:
            return (os.system, ("echo pwned",))

    pkl = pickle.dumps({"weight": 1.0, "evil": Payload()}, protocol=2)
    write_archive(tmp_path / "evil.pt", pkl)
    with pytest.raises(pickle.UnpicklingError, match=r"(posix|os)\.system"):
        ferrotorch.load(tmp_path / "evil.pt")


def test_non_storage_persistent_id_refused(tmp_path: Path) -> None:
    pkl = b"\x80\x02X\x04\x00\x00\x00evil\x85Q."
    write_archive(tmp_path / "evil.pt", pkl)
    with pytest.raises(pickle.UnpicklingError, match="persistent_load"):
        ferrotorch.load(tmp_path / "evil.pt")


def test_out_of_bounds_tensor_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    ferrotorch.save(ferrotorch.arange(4, dtype=ferrotorch.float32), buf)
    zf = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    pkl = zf.read("archive/data.pkl")
    size_tuple = b"K\x04\x85"  # BININT1 4, TUPLE1: the size (4,)
    assert pkl.count(size_tuple) == 1
    write_archive(tmp_path / "oob.pt", pkl.replace(size_tuple, b"K\x09\x85"),
                  {"data/0": zf.read("archive/data/0")})
    with pytest.raises(RuntimeError, match="corrupt"):
        ferrotorch.load(tmp_path / "oob.pt")


# ---------------------------------------------------------------------------------------------------------
# atomic writes, damaged files
# ---------------------------------------------------------------------------------------------------------


def test_interrupted_save_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ckpt.pt"
    ferrotorch.save({"w": ferrotorch.tensor([1.0, 2.0])}, path)
    before = path.read_bytes()

    def fail(rec: Any) -> bytes:
        raise OSError("No space left on device")

    monkeypatch.setattr(serialization, "_storage_bytes", fail)
    with pytest.raises(OSError, match="No space left"):
        ferrotorch.save({"w": ferrotorch.tensor([9.0, 9.0, 9.0])}, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]
    monkeypatch.undo()
    assert ferrotorch.load(path)["w"].tolist() == [1.0, 2.0]


def test_save_keeps_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    path.write_bytes(b"old")
    path.chmod(0o640)
    ferrotorch.save({"a": 1}, path)
    assert path.stat().st_mode & 0o777 == 0o640
    assert ferrotorch.load(path) == {"a": 1}


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_truncated_file_raises_clear_error(keep: float, tmp_path: Path) -> None:
    path = tmp_path / "t.pt"
    ferrotorch.save({"w": ferrotorch.arange(1000, dtype=ferrotorch.float32)}, path)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(RuntimeError, match="truncated or corrupt"):
        ferrotorch.load(path)


def test_empty_and_garbage_files(tmp_path: Path) -> None:
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(RuntimeError, match="empty"):
        ferrotorch.load(tmp_path / "empty.pt")
    (tmp_path / "junk.pt").write_bytes(b"hello world, not a checkpoint" * 10)
    with pytest.raises(RuntimeError, match="not a checkpoint"):
        ferrotorch.load(tmp_path / "junk.pt")
    (tmp_path / "legacy.pt").write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2))
    with pytest.raises(RuntimeError, match="legacy"):
        ferrotorch.load(tmp_path / "legacy.pt")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(RuntimeError, match="no data.pkl"):
        ferrotorch.load(tmp_path / "other.zip")


def test_corrupt_record_detected_by_crc(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    ferrotorch.save({"w": ferrotorch.arange(64, dtype=ferrotorch.float32)}, path)
    raw = bytearray(path.read_bytes())
    zf = zipfile.ZipFile(path)
    info = zf.getinfo("c/data.pkl")
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    raw[info.header_offset + 30 + name_len + extra_len + 5] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match="CRC"):
        ferrotorch.load(path)


def test_missing_storage_record(tmp_path: Path) -> None:
    buf = io.BytesIO()
    ferrotorch.save(ferrotorch.ones(3), buf)
    pkl = zipfile.ZipFile(io.BytesIO(buf.getvalue())).read("archive/data.pkl")
    write_archive(tmp_path / "m.pt", pkl)
    with pytest.raises(RuntimeError, match="data/0 is missing"):
        ferrotorch.load(tmp_path / "m.pt")
    write_archive(tmp_path / "short.pt", pkl, {"data/0": b"\x00" * 8})
    with pytest.raises(RuntimeError, match="holds 8 bytes"):
        ferrotorch.load(tmp_path / "short.pt")


# ---------------------------------------------------------------------------------------------------------
# map_location, mmap, pickle_module
# ---------------------------------------------------------------------------------------------------------


def cuda_checkpoint(path: Path) -> None:
    """A checkpoint whose storage location says cuda:0 (as one saved on a GPU does)."""
    buf = io.BytesIO()
    ferrotorch.save({"w": ferrotorch.tensor([1.0, 2.0])}, buf)
    zf = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    pkl = zf.read("archive/data.pkl").replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
    write_archive(path, pkl, {"data/0": zf.read("archive/data/0")})


@pytest.mark.parametrize("map_location", ["cpu", {"cuda:0": "cpu"}, "device"])
def test_map_location_forms(map_location: Any, tmp_path: Path) -> None:
    cuda_checkpoint(tmp_path / "gpu.pt")
    if map_location == "device":
        map_location = ferrotorch.device("cpu")
    w = ferrotorch.load(tmp_path / "gpu.pt", map_location=map_location)["w"]
    assert w.device.type == "cpu" and w.tolist() == [1.0, 2.0]


def test_cuda_location_without_map_location(tmp_path: Path) -> None:
    """As PyTorch: restored on the GPU when there is one, refused with advice when there is not."""
    cuda_checkpoint(tmp_path / "gpu.pt")
    if ferrotorch.cuda.is_available():
        w = ferrotorch.load(tmp_path / "gpu.pt")["w"]
        assert w.device == ferrotorch.device("cuda", 0) and w.tolist() == [1.0, 2.0]
    else:
        with pytest.raises(RuntimeError, match=r"torch.cuda.is_available\(\) is False.*map_location"):
            ferrotorch.load(tmp_path / "gpu.pt")


def test_map_location_callable(tmp_path: Path) -> None:
    cuda_checkpoint(tmp_path / "gpu.pt")
    seen = []

    def to_cpu(storage: Any, location: str) -> Any:
        seen.append(location)
        return storage

    w = ferrotorch.load(tmp_path / "gpu.pt", map_location=to_cpu)["w"]
    assert seen == ["cuda:0"] and w.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="map_location"):
        ferrotorch.load(tmp_path / "gpu.pt", map_location=3.5)


def test_unknown_location_raises(tmp_path: Path) -> None:
    cuda_checkpoint(tmp_path / "gpu.pt")
    with pytest.raises(RuntimeError, match="don't know how to restore data location xla"):
        ferrotorch.load(tmp_path / "gpu.pt", map_location="xla")


@pytest.mark.skipif(not hasattr(ferrotorch, "from_numpy"), reason="core lacks from_numpy")
def test_mmap_load_shares_the_mapping(tmp_path: Path) -> None:
    base = ferrotorch.arange(10, dtype=ferrotorch.float32)
    ferrotorch.save({"a": base[:5], "b": base[5:]}, tmp_path / "m.pt")
    back = ferrotorch.load(tmp_path / "m.pt", mmap=True)
    assert back["a"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    back["a"][0] = 42.0  # private copy-on-write mapping: writable, the file is untouched
    assert ferrotorch.load(tmp_path / "m.pt")["a"].tolist()[0] == 0.0
    with pytest.raises(ValueError, match="mmap=True needs f to be a path"):
        ferrotorch.load(io.BytesIO(b"PK"), mmap=True)


def test_pickle_module_implies_unsafe_load(tmp_path: Path) -> None:
    ferrotorch.save(Point(2.0, None), tmp_path / "p.pt")
    assert ferrotorch.load(tmp_path / "p.pt", pickle_module=pickle).x == 2.0
    with pytest.raises(RuntimeError, match="pickle_module"):
        ferrotorch.load(tmp_path / "p.pt", pickle_module=pickle, weights_only=True)
