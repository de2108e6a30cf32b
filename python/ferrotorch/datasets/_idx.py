"""The IDX file format (MNIST's): a magic number, big-endian int32 dimensions, then the raw big-endian data."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

__all__ = ["read_idx"]

# type code (third byte of the magic number) -> big-endian numpy dtype
_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip, whatever the file is called
        return gzip.decompress(raw)
    return raw


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Reads an IDX file (raw or gzip-compressed) into a numpy array in native byte order.

    Raises ``ValueError`` naming the file when the magic number, the type code or the length is wrong.
    """
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{os.fspath(path)!r} is not an IDX file (bad magic number {data[:4]!r})")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_TYPES:
        raise ValueError(f"{os.fspath(path)!r}: unknown IDX type code 0x{type_code:02X}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{os.fspath(path)!r}: truncated IDX header")
    shape = struct.unpack(f">{ndim}i", data[4:header])
    dtype = _IDX_TYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{os.fspath(path)!r}: IDX header says shape {tuple(shape)} ({expected} bytes of data) "
            f"but the file holds {len(data) - header}"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return array.reshape(shape).astype(dtype.newbyteorder("="), copy=True)
