"""Checkpoints in PyTorch's own format (`save`/`load`), and safetensors files.

A checkpoint is a zip archive whose entries are all stored uncompressed under one top folder (the file's
stem, or ``archive``), each entry's data starting on a 64-byte boundary::

    <top>/data.pkl                the object, pickle protocol 2; a tensor is
                                  torch._utils._rebuild_tensor_v2(<persistent storage id>, storage_offset,
                                                                  size, stride, requires_grad, OrderedDict())
    <top>/.format_version         "1"
    <top>/.storage_alignment      "64"
    <top>/byteorder               "little"
    <top>/data/<key>              raw bytes of one storage (keys "0", "1", ...)
    <top>/version                 "3\\n"
    <top>/.data/serialization_id

The persistent storage id is ``('storage', torch.<Name>Storage, key, location, numel)``. Tensors that view one
storage share its key, so views and shared memory survive a round trip. Files move both ways between
ferrotorch and PyTorch. Loading is safe by default (``weights_only=True``): only an allow-list of globals
may appear in the pickle.

safetensors: ``save_file``/``load_file`` (files) and ``save_safetensors``/``load_safetensors`` (bytes).
"""

from __future__ import annotations

import _compat_pickle
import codecs
import contextlib
import copyreg
import importlib
import io
import json
import math
import mmap as _mmap
import os
import pickle
import secrets
import stat
import struct
import sys
import tempfile
import types
import zipfile
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

import numpy as np

import ferrotorch

__all__ = [
    "add_safe_globals",
    "clear_safe_globals",
    "get_safe_globals",
    "load",
    "load_file",
    "load_safetensors",
    "read_safetensors_metadata",
    "safe_globals",
    "save",
    "save_file",
    "save_safetensors",
]

FileLike = str | os.PathLike | IO[bytes]
MapLocation = Any  # None | str | device | dict | Callable[[storage, location], storage | None]


# ---------------------------------------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DType:
    name: str  # "float32": the attribute on torch / ferrotorch
    storage: str  # "Float": torch.FloatStorage
    st_code: str  # safetensors dtype code
    itemsize: int
    numpy: str | None  # numpy dtype of the same bytes (None: bfloat16)


_DTYPES = (
    _DType("float32", "Float", "F32", 4, "<f4"),
    _DType("float64", "Double", "F64", 8, "<f8"),
    _DType("float16", "Half", "F16", 2, "<f2"),
    _DType("bfloat16", "BFloat16", "BF16", 2, None),
    _DType("int64", "Long", "I64", 8, "<i8"),
    _DType("int32", "Int", "I32", 4, "<i4"),
    _DType("int16", "Short", "I16", 2, "<i2"),
    _DType("int8", "Char", "I8", 1, "i1"),
    _DType("uint8", "Byte", "U8", 1, "u1"),
    _DType("bool", "Bool", "BOOL", 1, "?"),
)
_BY_NAME = {d.name: d for d in _DTYPES}
_BY_STORAGE = {d.storage: d for d in _DTYPES}
_BY_ST_CODE = {d.st_code: d for d in _DTYPES}
_DTYPE_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32",
                  "short": "int16"}


def _dtype_info(dtype: Any) -> _DType:
    name = str(dtype).removeprefix("torch.")
    info = _BY_NAME.get(name)
    if info is None:
        raise TypeError(f"serialization does not support tensors of dtype {dtype}")
    return info


def _ferro_dtype(info: _DType) -> Any:
    return getattr(ferrotorch, info.name)


# ---------------------------------------------------------------------------------------------------------
# Writing: a protocol-2 pickler that names PyTorch's globals
# ---------------------------------------------------------------------------------------------------------

_BATCH = 1000
_DISALLOWED_SAVE_ERROR = "Cannot save multiple tensors or storages that view the same data as different types"


@dataclass
class _StorageRecord:
    key: str
    dtype: _DType
    location: str
    numel: int
    tensor: Any  # any tensor viewing the storage: keeps it alive and gives its bytes


def _parameter_class() -> type | None:
    nn = getattr(ferrotorch, "nn", None)
    return getattr(nn, "Parameter", None)


def _optional_class(name: str) -> type | None:
    cls = getattr(ferrotorch, name, None)
    return cls if isinstance(cls, type) and cls is not tuple else None


class _Pickler:
    """Pickle protocol 2 written opcode by opcode, so tensors, dtypes, sizes and devices can be named with
    ``torch.*`` globals (readable by ``torch.load(weights_only=True)``) without PyTorch installed."""

    def __init__(self, protocol: int) -> None:
        self.protocol = protocol
        self.buf = io.BytesIO()
        self.write = self.buf.write
        self.memo: dict[int, tuple[int, Any]] = {}
        self.global_memo: dict[tuple[str, str], int] = {}
        self.next_memo = 0
        self.storages: dict[int, _StorageRecord] = {}
        self.tensor_type = ferrotorch.Tensor
        self.parameter_type = _parameter_class()
        self.dtype_type = type(ferrotorch.float32)
        self.size_type = _optional_class("Size")
        self.device_type = _optional_class("device")

    def dumps(self, obj: Any) -> bytes:
        self.write(pickle.PROTO + bytes([self.protocol]))
        self.save(obj)
        self.write(pickle.STOP)
        return self.buf.getvalue()

    # memo -------------------------------------------------------------------------------------------------
    def _put(self) -> int:
        idx = self.next_memo
        self.next_memo += 1
        self.write(pickle.BINPUT + bytes([idx]) if idx < 256 else pickle.LONG_BINPUT + struct.pack("<I", idx))
        return idx

    def _get(self, idx: int) -> None:
        self.write(pickle.BINGET + bytes([idx]) if idx < 256 else pickle.LONG_BINGET + struct.pack("<I", idx))

    def _memoize(self, obj: Any) -> None:
        self.memo[id(obj)] = (self._put(), obj)

    # dispatch ---------------------------------------------------------------------------------------------
    def save(self, obj: Any) -> None:
        if obj is None:
            self.write(pickle.NONE)
            return
        t = type(obj)
        if t is bool:
            self.write(pickle.NEWTRUE if obj else pickle.NEWFALSE)
            return
        if t is int:
            self._save_int(obj)
            return
        if t is float:
            self.write(pickle.BINFLOAT + struct.pack(">d", obj))
            return
        hit = self.memo.get(id(obj))
        if hit is not None:
            self._get(hit[0])
            return
        if t is str:
            data = obj.encode("utf-8", "surrogatepass")
            self.write(pickle.BINUNICODE + struct.pack("<I", len(data)) + data)
            self._memoize(obj)
        elif t is bytes:
            self._global("_codecs", "encode")
            self.save(obj.decode("latin1"))
            self.save("latin1")
            self.write(pickle.TUPLE2 + pickle.REDUCE)
            self._memoize(obj)
        elif t is tuple:
            self._save_tuple(obj)
        elif t is list:
            self.write(pickle.EMPTY_LIST)
            self._memoize(obj)
            self._appends(iter(obj))
        elif t is dict:
            self.write(pickle.EMPTY_DICT)
            self._memoize(obj)
            self._setitems(iter(obj.items()))
        elif isinstance(obj, self.tensor_type):
            self._save_tensor(obj)
        elif t is self.dtype_type:
            self._global("torch", _dtype_info(obj).name)
        elif self.size_type is not None and isinstance(obj, self.size_type):
            self._global("torch", "Size")
            self.save(tuple(int(s) for s in obj))
            self.write(pickle.TUPLE1 + pickle.REDUCE)
            self._memoize(obj)
        elif self.device_type is not None and isinstance(obj, self.device_type):
            self._global("torch", "device")
            self.save((obj.type,) if obj.index is None else (obj.type, obj.index))
            self.write(pickle.REDUCE)
            self._memoize(obj)
        elif isinstance(obj, type) or t is types.FunctionType:
            self._save_global(obj)
        else:
            self._save_by_reduce(obj)

    def _save_int(self, v: int) -> None:
        if 0 <= v < 256:
            self.write(pickle.BININT1 + bytes([v]))
        elif 0 <= v < 65536:
            self.write(pickle.BININT2 + struct.pack("<H", v))
        elif -(2**31) <= v < 2**31:
            self.write(pickle.BININT + struct.pack("<i", v))
        else:
            data = pickle.encode_long(v)
            if len(data) < 256:
                self.write(pickle.LONG1 + bytes([len(data)]) + data)
            else:
                self.write(pickle.LONG4 + struct.pack("<i", len(data)) + data)

    def _save_tuple(self, obj: tuple) -> None:
        if not obj:
            self.write(pickle.EMPTY_TUPLE)
            return
        n = len(obj)
        if n > 3:
            self.write(pickle.MARK)
        for item in obj:
            self.save(item)
        hit = self.memo.get(id(obj))
        if hit is not None:  # the tuple contains itself: drop the copy just built
            self.write(pickle.POP * n if n <= 3 else pickle.POP_MARK)
            self._get(hit[0])
            return
        self.write((pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3)[n - 1] if n <= 3 else pickle.TUPLE)
        self._memoize(obj)

    def _appends(self, items: Iterator[Any]) -> None:
        while True:
            batch = [x for _, x in zip(range(_BATCH), items, strict=False)]
            if len(batch) == 1:
                self.save(batch[0])
                self.write(pickle.APPEND)
            elif batch:
                self.write(pickle.MARK)
                for x in batch:
                    self.save(x)
                self.write(pickle.APPENDS)
            if len(batch) < _BATCH:
                return

    def _setitems(self, items: Iterator[tuple[Any, Any]]) -> None:
        while True:
            batch = [kv for _, kv in zip(range(_BATCH), items, strict=False)]
            if len(batch) == 1:
                self.save(batch[0][0])
                self.save(batch[0][1])
                self.write(pickle.SETITEM)
            elif batch:
                self.write(pickle.MARK)
                for k, v in batch:
                    self.save(k)
                    self.save(v)
                self.write(pickle.SETITEMS)
            if len(batch) < _BATCH:
                return

    # globals ----------------------------------------------------------------------------------------------
    def _global(self, module: str, name: str) -> int:
        idx = self.global_memo.get((module, name))
        if idx is not None:
            self._get(idx)
            return idx
        self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())
        idx = self.global_memo[(module, name)] = self._put()
        return idx

    def _save_global(self, obj: Any, name: str | None = None) -> None:
        qualname = name or getattr(obj, "__qualname__", None) or obj.__name__
        module = getattr(obj, "__module__", None) or pickle.whichmodule(obj, qualname)
        try:
            found = importlib.import_module(module)
            parent = found
            for part in qualname.split("."):
                parent, found = found, getattr(found, part)
        except (ImportError, AttributeError) as e:
            raise pickle.PicklingError(f"Can't pickle {obj!r}: it's not found as {module}.{qualname}") from e
        if found is not obj:
            raise pickle.PicklingError(f"Can't pickle {obj!r}: it's not the same object as {module}.{qualname}")
        if "." in qualname:  # nested: getattr(parent, last) as protocol 2 pickles it
            self._save_reduce(obj, getattr, (parent, qualname.rpartition(".")[2]))
        else:
            self.memo[id(obj)] = (self._global(module, qualname), obj)

    # arbitrary objects (whole modules): their own __reduce_ex__ --------------------------------------------
    def _save_by_reduce(self, obj: Any) -> None:
        reducer = copyreg.dispatch_table.get(type(obj))
        rv = reducer(obj) if reducer is not None else obj.__reduce_ex__(self.protocol)
        if isinstance(rv, str):
            self._save_global(obj, rv)
            return
        if not isinstance(rv, tuple) or not 2 <= len(rv) <= 6:
            raise pickle.PicklingError(f"{type(obj).__name__}.__reduce__ must return a string or a tuple of 2 to 6")
        self._save_reduce(obj, *rv)

    def _save_reduce(self, obj: Any, func: Callable, args: tuple, state: Any = None,
                     listitems: Iterator | None = None, dictitems: Iterator | None = None,
                     state_setter: Callable | None = None) -> None:
        if func is copyreg.__newobj__:
            self.save(args[0])
            self.save(tuple(args[1:]))
            self.write(pickle.NEWOBJ)
        elif func is copyreg.__newobj_ex__:
            cls, cargs, kwargs = args
            if kwargs:
                raise pickle.PicklingError(f"protocol {self.protocol} cannot pickle {cls.__name__} with kwargs")
            self.save(cls)
            self.save(tuple(cargs))
            self.write(pickle.NEWOBJ)
        else:
            self.save(func)
            self.save(tuple(args))
            self.write(pickle.REDUCE)
        hit = self.memo.get(id(obj))
        if hit is not None:  # pickled recursively while saving its arguments
            self.write(pickle.POP)
            self._get(hit[0])
        else:
            self._memoize(obj)
        if listitems is not None:
            self._appends(iter(listitems))
        if dictitems is not None:
            self._setitems(iter(dictitems))
        if state is not None:
            if state_setter is None:
                self.save(state)
                self.write(pickle.BUILD)
            else:
                self.save(state_setter)
                self.save((obj, state))
                self.write(pickle.REDUCE + pickle.POP)

    # tensors ----------------------------------------------------------------------------------------------
    def _save_tensor(self, t: Any) -> None:
        if self.parameter_type is not None and isinstance(t, self.parameter_type):
            self._global("torch._utils", "_rebuild_parameter")
            self._global("torch._utils", "_rebuild_tensor_v2")
            self._tensor_args(t, requires_grad=False)
            self.write(pickle.REDUCE)
            self.save(bool(t.requires_grad))
            self._empty_ordered_dict()
            self.write(pickle.TUPLE3 + pickle.REDUCE)
        else:
            self._global("torch._utils", "_rebuild_tensor_v2")
            self._tensor_args(t, requires_grad=bool(t.requires_grad))
            self.write(pickle.REDUCE)
        self._memoize(t)

    def _tensor_args(self, t: Any, requires_grad: bool) -> None:
        self.write(pickle.MARK)
        self._storage_id(t)
        self.save(int(t.storage_offset()))
        self.save(tuple(int(s) for s in t.shape))
        self.save(tuple(int(s) for s in t.stride()))
        self.save(requires_grad)
        self._empty_ordered_dict()
        self.write(pickle.TUPLE)

    def _empty_ordered_dict(self) -> None:
        self._global("collections", "OrderedDict")
        self.write(pickle.EMPTY_TUPLE + pickle.REDUCE)

    def _storage_id(self, t: Any) -> None:
        info = _dtype_info(t.dtype)
        sid = t._storage_id()
        rec = self.storages.get(sid)
        if rec is None:
            rec = _StorageRecord(str(len(self.storages)), info, str(t.device), int(t._storage_numel()), t)
            self.storages[sid] = rec
        elif rec.dtype is not info:
            raise RuntimeError(_DISALLOWED_SAVE_ERROR)
        self.write(pickle.MARK)
        self.save("storage")
        self._global("torch", f"{info.storage}Storage")
        self.save(rec.key)
        self.save(rec.location)
        self.save(rec.numel)
        self.write(pickle.TUPLE + pickle.BINPERSID)


# ---------------------------------------------------------------------------------------------------------
# Writing: the zip container
# ---------------------------------------------------------------------------------------------------------

_ALIGNMENT = 64
_ZIP32_MAX = 0xFFFFFFFF
_DOS_DATE_1980_01_01 = (1 << 5) | 1


class _ZipWriter:
    """Zip writer for checkpoints: entries STORED, data 64-byte aligned with an ``FB`` local extra field (as
    PyTorch pads), zip64 records where sizes or offsets need them."""

    def __init__(self, out: BinaryIO, prefix: str) -> None:
        self.out = out
        self.prefix = prefix
        self.pos = 0
        self.entries: list[tuple[bytes, int, int, int, int]] = []
        self.crc_all = 0

    def _write(self, data: bytes | memoryview) -> None:
        self.out.write(data)
        self.pos += len(data) if isinstance(data, bytes) else data.nbytes

    def write_record(self, name: str, data: bytes | memoryview) -> None:
        fname = f"{self.prefix}/{name}".encode()
        flags = 0 if fname.isascii() else 0x800
        view = memoryview(data).cast("B")
        size, offset = view.nbytes, self.pos
        crc = zlib.crc32(view)
        zip64 = size >= _ZIP32_MAX
        extra = struct.pack("<HHQQ", 1, 16, size, size) if zip64 else b""
        pad = -(offset + 30 + len(fname) + len(extra) + 4) % _ALIGNMENT
        extra += b"FB" + struct.pack("<H", pad) + b"Z" * pad
        size32 = _ZIP32_MAX if zip64 else size
        self._write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, flags, 0, 0,
                                _DOS_DATE_1980_01_01, crc, size32, size32, len(fname), len(extra)))
        self._write(fname + extra)
        self._write(view)
        self.crc_all = zlib.crc32(struct.pack("<I", crc), self.crc_all)
        self.entries.append((fname, flags, crc, size, offset))

    def finish(self) -> None:
        cd_start = self.pos
        for fname, flags, crc, size, offset in self.entries:
            fields = ([size, size] if size >= _ZIP32_MAX else []) + ([offset] if offset >= _ZIP32_MAX else [])
            extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
            version = 45 if fields else 20
            self._write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, version, version, flags, 0, 0,
                                    _DOS_DATE_1980_01_01, crc, min(size, _ZIP32_MAX), min(size, _ZIP32_MAX),
                                    len(fname), len(extra), 0, 0, 0, 0, min(offset, _ZIP32_MAX)))
            self._write(fname + extra)
        cd_size, n = self.pos - cd_start, len(self.entries)
        if n >= 0xFFFF or cd_start >= _ZIP32_MAX or cd_size >= _ZIP32_MAX:
            eocd64 = self.pos
            self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size, cd_start))
            self._write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
        self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF),
                                min(cd_size, _ZIP32_MAX), min(cd_start, _ZIP32_MAX), 0))


def _storage_bytes(rec: _StorageRecord) -> bytes:
    data = rec.tensor._storage_bytes()
    if len(data) != rec.numel * rec.dtype.itemsize:
        raise RuntimeError(f"storage of {rec.numel} {rec.dtype.name} elements gave {len(data)} bytes")
    return data


def _write_checkpoint(out: BinaryIO, prefix: str, data_pkl: bytes, storages: Iterable[_StorageRecord]) -> None:
    zw = _ZipWriter(out, prefix)
    zw.write_record("data.pkl", data_pkl)
    zw.write_record(".format_version", b"1")
    zw.write_record(".storage_alignment", str(_ALIGNMENT).encode())
    zw.write_record("byteorder", sys.byteorder.encode())
    for rec in storages:
        zw.write_record(f"data/{rec.key}", _storage_bytes(rec))
    zw.write_record("version", b"3\n")
    zw.write_record(".data/serialization_id", f"{secrets.randbits(64):020d}{zw.crc_all:020d}".encode())
    zw.finish()


def _is_path(f: Any) -> bool:
    return isinstance(f, (str, os.PathLike))


def _atomic_write(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Write through a temporary file in the same folder, fsync it, then rename over `path`: an
    interrupted write leaves any previous file at `path` intact."""
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise RuntimeError(f"Parent directory {directory} does not exist.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path}: it is a directory")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        if os.path.exists(path):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def save(obj: Any, f: FileLike, pickle_module: Any = pickle, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True, _disable_byteorder_record: bool = False) -> None:
    """Save `obj` (tensors, state_dicts, nested containers, or any picklable object) to `f` in PyTorch's
    checkpoint format. `f` is a path (written atomically) or a binary file object opened for writing."""
    if not 2 <= pickle_protocol <= pickle.HIGHEST_PROTOCOL:
        raise ValueError(f"pickle_protocol must be between 2 and {pickle.HIGHEST_PROTOCOL}, got {pickle_protocol}")
    if not _use_new_zipfile_serialization:
        raise NotImplementedError("ferrotorch only writes the zip checkpoint format")
    pickler = _Pickler(pickle_protocol)
    data_pkl = pickler.dumps(obj)
    storages = list(pickler.storages.values())
    if _is_path(f):
        path = os.fspath(f)
        prefix = os.path.splitext(os.path.basename(path))[0] or "archive"
        _atomic_write(path, lambda out: _write_checkpoint(out, prefix, data_pkl, storages))
    else:
        if not callable(getattr(f, "write", None)):
            raise AttributeError(f"Buffer of {str(type(f)).strip('<>')} has no callable attribute 'write'")
        _write_checkpoint(f, "archive", data_pkl, storages)
        with contextlib.suppress(AttributeError):
            f.flush()


# ---------------------------------------------------------------------------------------------------------
# Reading: the zip container
# ---------------------------------------------------------------------------------------------------------


class _Source:
    """The bytes of a checkpoint: a memory map of a file, or the bytes read from a file object."""

    def __init__(self, f: FileLike, use_mmap: bool) -> None:
        self.name = os.fspath(f) if _is_path(f) else "<file object>"
        self.map: _mmap.mmap | None = None
        self.keep_map = use_mmap
        if _is_path(f):
            self.file: BinaryIO = open(f, "rb")  # noqa: SIM115 (closed in close())
            size = os.fstat(self.file.fileno()).st_size
            if size == 0:
                self.file.close()
                raise RuntimeError(f"{self.name} is empty: not a checkpoint")
            access = _mmap.ACCESS_COPY if use_mmap else _mmap.ACCESS_READ
            self.map = _mmap.mmap(self.file.fileno(), 0, access=access)
            self.view = memoryview(self.map)
        else:
            if use_mmap:
                raise ValueError("mmap=True needs f to be a path")
            if not callable(getattr(f, "read", None)):
                raise AttributeError(f"Buffer of {str(type(f)).strip('<>')} has no callable attribute 'read'")
            data = f.read()
            if not data:
                raise RuntimeError("the file object is empty: not a checkpoint")
            self.file = io.BytesIO(data)
            self.view = memoryview(data)

    def close(self) -> None:
        """Release the bytes; a map still referenced (mmap=True tensors, a traceback) is left to the GC."""
        with contextlib.suppress(BufferError):
            self.view.release()
            if self.map is not None and not self.keep_map:
                self.map.close()
        self.file.close()


class _Archive:
    """Records of a checkpoint zip, read in place from the source's bytes."""

    def __init__(self, source: _Source) -> None:
        self.source = source
        try:
            self.zip = zipfile.ZipFile(source.file)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error) as e:
            raise _not_a_checkpoint(source, e) from e
        pkl = [n for n in self.zip.namelist() if n == "data.pkl" or (n.endswith("/data.pkl") and n.count("/") == 1)]
        if not pkl:
            raise RuntimeError(f"{source.name} is a zip archive but not a checkpoint: no data.pkl record")
        self.prefix = pkl[0][: -len("data.pkl")]

    def has(self, name: str) -> bool:
        return self.prefix + name in self.zip.NameToInfo

    def read(self, name: str, check_crc: bool = True) -> memoryview:
        try:
            info = self.zip.getinfo(self.prefix + name)
        except KeyError:
            raise RuntimeError(f"{self.source.name} is corrupt: record {self.prefix + name} is missing") from None
        if info.compress_type != zipfile.ZIP_STORED:
            try:
                return memoryview(self.zip.read(info))
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
                raise RuntimeError(f"{self.source.name} is corrupt: cannot read {info.filename}: {e}") from e
        view, off = self.source.view, info.header_offset
        header = view[off : off + 30]
        if header.nbytes < 30 or bytes(header[:4]) != b"PK\x03\x04":
            raise RuntimeError(f"{self.source.name} is corrupt: bad local header for {info.filename}")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        start = off + 30 + name_len + extra_len
        end = start + info.file_size
        if end > view.nbytes:
            raise RuntimeError(f"{self.source.name} is truncated: record {info.filename} needs bytes "
                               f"{start}..{end} but the file has {view.nbytes}")
        data = view[start:end]
        if check_crc and zlib.crc32(data) != info.CRC:
            raise RuntimeError(f"{self.source.name} is corrupt: CRC-32 mismatch in record {info.filename}")
        return data


def _not_a_checkpoint(source: _Source, cause: BaseException) -> RuntimeError:
    head = bytes(source.view[:4])
    if head == b"PK\x03\x04":
        return RuntimeError(f"{source.name} is truncated or corrupt: its zip directory cannot be read ({cause})")
    if head[:1] == pickle.PROTO:
        return RuntimeError(f"{source.name} uses PyTorch's legacy (pre-1.6) format, which ferrotorch does not "
                            "read; re-save it with torch.save in a recent PyTorch")
    return RuntimeError(f"{source.name} is not a checkpoint: not a zip archive ({cause})")


# ---------------------------------------------------------------------------------------------------------
# Reading: rebuilding tensors
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StorageType:
    """What ``torch.FloatStorage`` & co. unpickle to: only the element dtype matters."""

    dtype: _DType


def _check_bounds(storage: Any, offset: int, size: tuple, stride: tuple) -> None:
    if len(size) != len(stride) or any(s < 0 for s in size) or any(s < 0 for s in stride) or offset < 0:
        raise RuntimeError(f"invalid tensor geometry in checkpoint: size={size}, stride={stride}, offset={offset}")
    if all(s > 0 for s in size):
        last = offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True))
        if last >= storage.numel():
            raise RuntimeError(f"tensor with size={size}, stride={stride}, offset={offset} reaches element {last} "
                               f"of a storage of {storage.numel()} elements: the checkpoint is corrupt")


def _rebuild_tensor(storage: Any, storage_offset: int, size: tuple, stride: tuple) -> Any:
    size, stride = tuple(size), tuple(stride)
    _check_bounds(storage, storage_offset, size, stride)
    return storage.as_strided(size, stride, storage_offset)


def _rebuild_tensor_v2(storage: Any, storage_offset: int, size: tuple, stride: tuple, requires_grad: bool = False,
                       backward_hooks: Any = None, metadata: Any = None) -> Any:
    t = _rebuild_tensor(storage, storage_offset, size, stride)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _set_state(obj: Any, state: Any) -> None:
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    for source in (state, slots):
        for k, v in (source or {}).items():
            setattr(obj, k, v)


def _rebuild_parameter(data: Any, requires_grad: bool, backward_hooks: Any = None) -> Any:
    return ferrotorch.nn.Parameter(data, requires_grad)


def _rebuild_parameter_with_state(data: Any, requires_grad: bool, backward_hooks: Any, state: Any) -> Any:
    param = ferrotorch.nn.Parameter(data, requires_grad)
    _set_state(param, state)
    return param


def _rebuild_from_type_v2(func: Callable, new_type: type, args: tuple, state: Any) -> Any:
    ret = func(*args)
    if type(ret) is not new_type:
        if new_type is _parameter_class():
            ret = new_type(ret, ret.requires_grad)
        elif new_type is not ferrotorch.Tensor:
            ret = ret.as_subclass(new_type)
    if state:
        _set_state(ret, state)
    return ret


def _make_size(dims: Iterable[int]) -> Any:
    cls = _optional_class("Size")
    return cls(dims) if cls is not None else tuple(dims)


@dataclass
class _StorageLoader:
    """``persistent_load`` for checkpoints: each ``data/<key>`` record becomes one 1-D tensor (read once), which
    every tensor of that storage views."""

    archive: _Archive
    map_location: MapLocation
    zero_copy: bool

    def __post_init__(self) -> None:
        self.cache: dict[str, Any] = {}
        order = self.archive.read("byteorder").tobytes().decode() if self.archive.has("byteorder") else "little"
        if order not in ("little", "big"):
            raise RuntimeError(f"{self.archive.source.name} is corrupt: byteorder record says {order!r}")
        self.swap = order != sys.byteorder

    def __call__(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or len(pid) < 5 or _ascii(pid[0]) != "storage":
            raise pickle.UnpicklingError(f"Only persistent_load of storage is allowed, but got {pid!r:.80}")
        storage_type, key, location, numel = pid[1], _ascii(pid[2]), _ascii(pid[3]), pid[4]
        if not isinstance(storage_type, _StorageType) or not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError(f"malformed storage id in checkpoint: {pid!r:.120}")
        base = self.cache.get(key)
        if base is None:
            base = self._restore(self._read(key, storage_type.dtype, numel), location)
            self.cache[key] = base
        return base

    def _read(self, key: str, info: _DType, numel: int) -> Any:
        # Like PyTorch's reader, storages skip the CRC check (it would double the load time); bounds are checked.
        record = self.archive.read(f"data/{key}", check_crc=False)
        nbytes = numel * info.itemsize
        if record.nbytes < nbytes:
            raise RuntimeError(f"{self.archive.source.name} is corrupt: storage {key} holds {record.nbytes} bytes, "
                               f"{numel} {info.name} elements need {nbytes}")
        return self._tensor(record[:nbytes], info, numel)

    def _tensor(self, data: memoryview, info: _DType, numel: int) -> Any:
        dtype = _ferro_dtype(info)
        if self.swap and info.itemsize > 1:
            swapped = np.frombuffer(data, dtype=f"u{info.itemsize}").byteswap()
            return ferrotorch._C._tensor_from_bytes(swapped.tobytes(), dtype, numel)
        if self.zero_copy and info.numpy is not None and numel > 0:
            return ferrotorch.from_numpy(np.frombuffer(data, dtype=info.numpy))
        try:
            return ferrotorch._C._tensor_from_bytes(data, dtype, numel)
        finally:
            data.release()

    def _restore(self, base: Any, location: str) -> Any:
        ml = self.map_location
        if isinstance(ml, dict):
            target: Any = ml.get(location, location)
        elif ml is None or isinstance(ml, (str, getattr(ferrotorch, "device", ()))):
            target = location if ml is None else ml
        elif callable(ml):
            moved = ml(base, location)
            if moved is not None:
                return moved
            target = location
        else:
            raise TypeError(f"map_location must be None, a str, a device, a dict or a callable, got {type(ml)}")
        target = str(target)
        if target == "cpu" or target.startswith("cpu:"):
            return base
        if target.startswith("cuda"):
            if not ferrotorch.cuda.is_available():
                raise RuntimeError(
                    "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. "
                    "If you are running on a CPU-only machine, please use torch.load with "
                    "map_location=torch.device('cpu') to map your storages to the CPU.")
            return base.to(target)
        raise RuntimeError(f"don't know how to restore data location {target}")


def _ascii(v: Any) -> Any:
    return v.decode("ascii") if isinstance(v, bytes) else v


# ---------------------------------------------------------------------------------------------------------
# Reading: the unpickler and its allow-list
# ---------------------------------------------------------------------------------------------------------

_BLOCKED_MODULES = ("sys", "os", "posix", "nt", "subprocess")
_user_safe_globals: dict[str, Any] = {}


def _allowed_globals() -> dict[str, Any]:
    """The globals a ``weights_only`` load may use, by their PyTorch names."""
    rc: dict[str, Any] = {
        "collections.OrderedDict": OrderedDict,
        "collections.Counter": Counter,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.slice": slice,
        "builtins.complex": complex,
        "builtins.bytearray": bytearray,
        "_codecs.encode": codecs.encode,
        "torch._utils._rebuild_tensor": _rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
        "torch.Tensor": ferrotorch.Tensor,
        "torch.Size": _make_size,
    }
    device = getattr(ferrotorch, "device", None)
    if device is not None:
        rc["torch.device"] = device
    param = _parameter_class()
    if param is not None:
        rc["torch.nn.parameter.Parameter"] = param
    for info in _DTYPES:
        rc[f"torch.{info.storage}Storage"] = _StorageType(info)
        if hasattr(ferrotorch, info.name):
            rc[f"torch.{info.name}"] = _ferro_dtype(info)
    for alias, name in _DTYPE_ALIASES.items():
        if hasattr(ferrotorch, name):
            rc[f"torch.{alias}"] = getattr(ferrotorch, name)
    return rc


def _canonical_name(module: str, name: str) -> tuple[str, str]:
    """Python 2 names mapped as pickle does, and ``ferrotorch.*`` read as the ``torch.*`` it stands for."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    if module == "ferrotorch" or module.startswith("ferrotorch."):
        module = "torch" + module[len("ferrotorch"):]
    return module, name


def _weights_only_error(full: str) -> pickle.UnpicklingError:
    short = full.removeprefix("builtins.")
    return pickle.UnpicklingError(
        "Weights only load failed. This file can still be loaded, to do so you have two options, do those steps "
        "only if you trust the source of the checkpoint. \n\t(1) Re-running `ferrotorch.load` with "
        "`weights_only` set to `False` will likely succeed, but it can result in arbitrary code execution. Do it "
        "only if you got the file from a trusted source.\n\t(2) Alternatively, to load with `weights_only=True` "
        "please check the recommended steps in the following error message.\n\tWeightsUnpickler error: "
        f"Unsupported global: GLOBAL {full} was not an allowed global by default. Please use "
        f"`ferrotorch.serialization.add_safe_globals([{short}])` or the "
        f"`ferrotorch.serialization.safe_globals([{short}])` context manager to allowlist this global if you "
        "trust this class/function."
    )


def _resolve_torch_name(module: str, name: str) -> Any:
    """A ``torch.*`` global of a whole pickled object, found in ferrotorch: the same module path, else the
    nearest parent package that exports the name (``torch.nn.modules.linear.Linear`` -> ``ferrotorch.nn.Linear``)."""
    parts = ("ferrotorch" + module[len("torch"):]).split(".")
    for depth in range(len(parts), 0, -1):
        try:
            mod = importlib.import_module(".".join(parts[:depth]))
        except ImportError:
            continue
        if hasattr(mod, name):
            return getattr(mod, name)
    raise pickle.UnpicklingError(f"ferrotorch has no equivalent of {module}.{name} needed by this checkpoint")


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], loader: _StorageLoader, weights_only: bool, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.loader = loader
        self.weights_only = weights_only
        self.allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        module, name = _canonical_name(module, name)
        full = f"{module}.{name}"
        if full in self.allowed:
            return self.allowed[full]
        if self.weights_only:
            if module.split(".")[0] in _BLOCKED_MODULES:
                raise pickle.UnpicklingError(
                    f"Weights only load failed: trying to load unsupported GLOBAL {full} whose module {module} is "
                    "blocked; this file tries to run code and cannot be loaded with weights_only=True.")
            if full in _user_safe_globals:
                return _user_safe_globals[full]
            raise _weights_only_error(full)
        if module == "torch" or module.startswith("torch."):
            return _resolve_torch_name(module, name)
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        return self.loader(pid)


def _unpickle(archive: _Archive, loader: _StorageLoader, weights_only: bool, pickle_load_args: dict) -> Any:
    with archive.read("data.pkl") as pkl:
        file = io.BytesIO(pkl)
    unpickler = _Unpickler(file, loader, weights_only, **pickle_load_args)
    try:
        return unpickler.load()
    except pickle.UnpicklingError as e:
        if weights_only and not str(e).startswith("Weights only load failed"):
            raise pickle.UnpicklingError(f"Weights only load failed: {e}") from None
        raise
    except EOFError as e:
        raise RuntimeError(f"{archive.source.name} is corrupt: data.pkl ends early") from e


def load(f: FileLike, map_location: MapLocation = None, pickle_module: Any = None, *,
         weights_only: bool | None = None, mmap: bool | None = None, **pickle_load_args: Any) -> Any:
    """Load an object saved by ``ferrotorch.save`` or ``torch.save`` from a path or a binary file object.

    With ``weights_only=True`` (the default) only tensors, containers, primitive types and an allow-list of
    globals may appear; anything else raises ``pickle.UnpicklingError`` naming the global.
    ``map_location``: None, 'cpu', a device, a dict {saved location: new location} or a callable
    ``(storage, location) -> storage | None``; CUDA locations stay on CPU when CUDA is not available.
    ``mmap=True`` (paths only) keeps tensors backed by a private memory map of the file instead of copying.
    """
    if weights_only is None:
        weights_only = pickle_module is None
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    pickle_load_args.setdefault("encoding", "utf-8")
    source = _Source(f, bool(mmap))
    try:
        archive = _Archive(source)
        loader = _StorageLoader(archive, map_location, zero_copy=bool(mmap))
        return _unpickle(archive, loader, weights_only, pickle_load_args)
    finally:
        source.close()


# ---------------------------------------------------------------------------------------------------------
# Allow-list for weights_only loads
# ---------------------------------------------------------------------------------------------------------


def _global_entries(items: Iterable[Any]) -> dict[str, Any]:
    rc = {}
    for item in items:
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[1], str):
                raise TypeError("expected (global, 'module.name') tuples or globals with __module__/__qualname__")
            module, _, name = item[1].rpartition(".")
            obj = item[0]
        else:
            module, name, obj = item.__module__, item.__qualname__, item
        rc[".".join(_canonical_name(module, name))] = obj
    return rc


def add_safe_globals(safe_globals: list[Any]) -> None:
    """Allow these classes/functions (or ``(obj, "module.name")`` pairs) in ``weights_only`` loads."""
    _user_safe_globals.update(_global_entries(safe_globals))


def get_safe_globals() -> list[Any]:
    """The globals added with ``add_safe_globals``."""
    return list(_user_safe_globals.values())


def clear_safe_globals() -> None:
    """Forget every global added with ``add_safe_globals``."""
    _user_safe_globals.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: list[Any]) -> Iterator[None]:
    """Context manager: allow these globals in ``weights_only`` loads inside the block."""
    entries = _global_entries(safe_globals)
    saved = {k: _user_safe_globals[k] for k in entries if k in _user_safe_globals}
    _user_safe_globals.update(entries)
    try:
        yield
    finally:
        for k in entries:
            _user_safe_globals.pop(k, None)
        _user_safe_globals.update(saved)


# ---------------------------------------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------------------------------------

_ST_MAX_HEADER = 100_000_000


def _contiguous_bytes(t: Any) -> memoryview:
    c = t.detach().contiguous()
    info = _dtype_info(c.dtype)
    start = c.storage_offset() * info.itemsize
    return memoryview(c._storage_bytes())[start : start + c.numel() * info.itemsize]


def _st_prepare(tensors: dict[str, Any], metadata: dict[str, str] | None) -> tuple[bytes, list[Any]]:
    if not isinstance(tensors, dict):
        raise TypeError(f"tensors must be a dict of str -> Tensor, got {type(tensors).__name__}")
    header: dict[str, Any] = {}
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("metadata must be a dict of str -> str")
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {type(name).__name__}")
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved and cannot name a tensor")
        if not isinstance(t, ferrotorch.Tensor):
            raise TypeError(f"{name!r} is a {type(t).__name__}, not a Tensor")
    order = sorted(tensors, key=lambda n: (-_dtype_info(tensors[n].dtype).itemsize, n))
    offset, chunks = 0, []
    for name in order:
        t = tensors[name]
        nbytes = t.numel() * _dtype_info(t.dtype).itemsize
        header[name] = {"dtype": _dtype_info(t.dtype).st_code, "shape": [int(s) for s in t.shape],
                        "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
        chunks.append(t)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw, chunks


def save_safetensors(tensors: dict[str, Any], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors encoding of `tensors` (name -> tensor) with optional str -> str `metadata`."""
    head, chunks = _st_prepare(tensors, metadata)
    return b"".join([head, *(_contiguous_bytes(t) for t in chunks)])


def save_file(tensors: dict[str, Any], filename: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Write `tensors` (name -> tensor) to a safetensors file, atomically."""
    head, chunks = _st_prepare(tensors, metadata)

    def write(out: BinaryIO) -> None:
        out.write(head)
        out.writelines(_contiguous_bytes(t) for t in chunks)

    _atomic_write(os.fspath(filename), write)


def _st_header(view: memoryview, name: str) -> tuple[dict[str, Any], memoryview]:
    if view.nbytes < 8:
        raise RuntimeError(f"{name} is not a safetensors file: {view.nbytes} bytes")
    (n,) = struct.unpack("<Q", view[:8])
    if n > _ST_MAX_HEADER or 8 + n > view.nbytes:
        raise RuntimeError(f"{name} is truncated or corrupt: header of {n} bytes in a file of {view.nbytes}")
    try:
        header = json.loads(bytes(view[8 : 8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RuntimeError(f"{name} is corrupt: invalid safetensors header ({e})") from e
    if isinstance(header, dict):
        return header, view[8 + n :]
    raise RuntimeError(f"{name} is corrupt: the safetensors header is not a JSON object")


def _st_entries(header: dict[str, Any], data_len: int, name: str) -> list[tuple[str, _DType, list[int], int, int]]:
    entries = []
    for key, spec in header.items():
        if key == "__metadata__":
            continue
        try:
            info = _BY_ST_CODE[spec["dtype"]]
            shape = [int(s) for s in spec["shape"]]
            begin, end = (int(x) for x in spec["data_offsets"])
        except (KeyError, TypeError, ValueError) as e:
            raise RuntimeError(f"{name} is corrupt or uses an unsupported dtype: entry {key!r}: {spec!r:.200}") from e
        if any(s < 0 for s in shape) or end - begin != math.prod(shape) * info.itemsize:
            raise RuntimeError(f"{name} is corrupt: {key!r} has shape {shape} but data_offsets {[begin, end]}")
        entries.append((key, info, shape, begin, end))
    pos = 0
    for key, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if begin != pos:
            raise RuntimeError(f"{name} is corrupt: {key!r} starts at byte {begin}, expected {pos}")
        pos = end
    if pos != data_len:
        raise RuntimeError(f"{name} is truncated or corrupt: tensors cover {pos} bytes of data, file has {data_len}")
    return entries


def _st_decode(view: memoryview, name: str) -> dict[str, Any]:
    header, data = _st_header(view, name)
    out = {}
    for key, info, shape, begin, end in _st_entries(header, data.nbytes, name):
        with data[begin:end] as chunk:
            flat = ferrotorch._C._tensor_from_bytes(chunk, _ferro_dtype(info), math.prod(shape))
        out[key] = flat.reshape(tuple(shape))
    data.release()
    return out


def load_safetensors(data: bytes | bytearray | memoryview) -> dict[str, Any]:
    """Decode safetensors bytes into {name: tensor}."""
    with memoryview(data) as view:
        return _st_decode(view, "safetensors data")


def load_file(filename: str | os.PathLike, device: str = "cpu") -> dict[str, Any]:
    """Read a safetensors file into {name: tensor} (on `device`)."""
    source = _Source(filename, use_mmap=False)
    try:
        out = _st_decode(source.view, source.name)
    finally:
        source.close()
    if str(device) != "cpu":
        out = {k: v.to(device) for k, v in out.items()}
    return out


def read_safetensors_metadata(filename: str | os.PathLike) -> dict[str, str] | None:
    """The ``__metadata__`` of a safetensors file (None when it has none)."""
    source = _Source(filename, use_mmap=False)
    try:
        header, data = _st_header(source.view, source.name)
        data.release()
    finally:
        source.close()
    return header.get("__metadata__")
