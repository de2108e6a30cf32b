"""Tensors over foreign memory: ``torch.frombuffer`` (a Python buffer), ``torch.from_file`` (a file, read or
memory-mapped) and DLPack exchange (``torch.from_dlpack``, ``Tensor.__dlpack__`` / ``__dlpack_device__``).
CPU memory goes through numpy, whose arrays ``from_numpy`` wraps without copying, so the results share
memory with their source. The one exception is bfloat16, which numpy has no dtype for: those are copied.
``BUFFERS`` holds the ``torch.*`` names."""

from __future__ import annotations

import enum
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _C
from ._C import Tensor
from ._tensor import _method

_NUMPY = {
    _C.bool: np.bool_, _C.uint8: np.uint8, _C.int8: np.int8, _C.int16: np.int16, _C.int32: np.int32,
    _C.int64: np.int64, _C.float16: np.float16, _C.float32: np.float32, _C.float64: np.float64,
    _C.bfloat16: np.uint16,  # raw bits, widened to float32 below
}


class DLDeviceType(enum.IntEnum):
    """DLPack's device codes (``torch.utils.dlpack.DLDeviceType``)."""

    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLOpenCL = 4
    kDLVulkan = 7
    kDLMetal = 8
    kDLVPI = 9
    kDLROCM = 10
    kDLExtDev = 12
    kDLOneAPI = 14


def _wrap(array: np.ndarray, dtype: Any, requires_grad: bool = False) -> Tensor:
    """``array`` as a tensor of ``dtype`` without a copy (bfloat16: a copy from its raw bits)."""
    if dtype == _C.bfloat16:
        bits = (array.astype(np.uint32) << 16).view(np.float32)
        out = _C.from_numpy(np.ascontiguousarray(bits)).to(_C.bfloat16)
    else:
        out = _C.from_numpy(array)
    return out.requires_grad_(True) if requires_grad else out


def _np_dtype(dtype: Any, fn: str) -> Any:
    if dtype not in _NUMPY:
        raise TypeError(f"{fn}(): dtype {dtype} is not supported")
    return _NUMPY[dtype]


def frombuffer(buffer: Any, *, dtype: Any, count: int = -1, offset: int = 0,
               requires_grad: bool = False) -> Tensor:
    """A 1-D tensor over an object implementing the buffer protocol (``bytearray``, ``array.array``,
    ``mmap``...), sharing its memory: ``count`` elements of ``dtype`` (-1: all) from byte ``offset``."""
    view = memoryview(buffer)
    nbytes = view.nbytes
    item = np.dtype(_np_dtype(dtype, "frombuffer")).itemsize
    if nbytes == 0 or count == 0:
        raise ValueError(f"both buffer length ({nbytes}) and count ({count}) must not be 0")
    if not 0 <= offset < nbytes:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
                         f"({nbytes} bytes) minus 1")
    if count < 0:
        if (nbytes - offset) % item:
            raise ValueError(f"buffer length ({nbytes - offset} bytes) after offset ({offset} bytes) must be "
                             f"a multiple of element size ({item})")
        count = (nbytes - offset) // item
    elif offset + count * item > nbytes:
        raise ValueError(f"requested buffer length ({count} * {item} bytes) after offset ({offset} bytes) "
                         f"must not be greater than actual buffer length ({nbytes} bytes)")
    if view.readonly:
        warnings.warn("The given buffer is not writable, and PyTorch does not support non-writable tensors. "
                      "This means you can write to the underlying (supposedly non-writable) buffer using the "
                      "tensor. You may want to copy the buffer to protect its data or make it writable before "
                      "converting it to a tensor. This type of warning will be suppressed for the rest of "
                      "this program.", UserWarning, stacklevel=2)
    array = np.frombuffer(buffer, dtype=_NUMPY[dtype], count=count, offset=offset)
    return _wrap(array, dtype, requires_grad)


def from_file(filename: str, shared: bool | None = None, size: int = 0, *, dtype: Any = None,
              layout: Any = None, device: Any = None, pin_memory: bool = False,
              requires_grad: bool = False) -> Tensor:
    """A 1-D tensor of ``size`` elements of ``dtype`` read from the start of ``filename``. With ``shared``
    the file is memory-mapped read-write (grown to fit if short) and writes to the tensor reach it;
    otherwise the data is read into private memory."""
    dtype = _C.get_default_dtype() if dtype is None else dtype
    npd = _np_dtype(dtype, "from_file")
    need = size * np.dtype(npd).itemsize
    if shared:
        if not os.path.exists(filename):
            raise RuntimeError(f"unable to open file <{filename}> in read-write mode: No such file or "
                               f"directory (2)")
        if os.path.getsize(filename) < need:
            with open(filename, "r+b") as f:
                f.truncate(need)
        array = np.memmap(filename, dtype=npd, mode="r+", shape=(size,)) if size else np.empty(0, npd)
    else:
        if not os.path.exists(filename):
            raise RuntimeError(f"unable to open file <{filename}> in read-only mode: No such file or "
                               f"directory (2)")
        have = os.path.getsize(filename)
        if have < need:
            raise RuntimeError(f"file <{filename}> size <{have}> is smaller than the required mapping size "
                               f"<{need}>")
        array = np.fromfile(filename, dtype=npd, count=size)
    out = _wrap(array, dtype, requires_grad)
    return out if device is None else out.to(device)


class _Capsule:
    """Presents a bare DLPack capsule to ``numpy.from_dlpack`` (which wants an object with ``__dlpack__``)."""

    def __init__(self, capsule: Any) -> None:
        self.capsule = capsule

    def __dlpack__(self, stream: Any = None, **kwargs: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (DLDeviceType.kDLCPU, 0)


_FROM_DTYPE = {np.dtype(v): k for k, v in _NUMPY.items() if k != _C.bfloat16}


def from_dlpack(ext_tensor: Any) -> Tensor:
    """A tensor sharing memory with ``ext_tensor``: an object with ``__dlpack__`` (a numpy array, another
    framework's CPU tensor) or a DLPack capsule. CPU memory only."""
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    if hasattr(ext_tensor, "__dlpack_device__"):
        dev = ext_tensor.__dlpack_device__()[0]
        if dev != DLDeviceType.kDLCPU:
            raise RuntimeError(f"from_dlpack: only CPU (kDLCPU) memory can be imported, got device type {dev}")
    source = ext_tensor if hasattr(ext_tensor, "__dlpack__") else _Capsule(ext_tensor)
    array = np.from_dlpack(source)
    if array.dtype not in _FROM_DTYPE:
        raise RuntimeError(f"from_dlpack: unsupported dtype {array.dtype}")
    return _C.from_numpy(array)


@_method("__dlpack__")
def __dlpack__(self: Tensor, *, stream: Any = None, max_version: Any = None, dl_device: Any = None,
               copy: bool | None = None) -> Any:
    """A DLPack capsule over this CPU tensor's memory (the consumer sees writes made through the tensor)."""
    if self.requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    if self.is_cuda:
        raise RuntimeError("__dlpack__: only CPU tensors can be exported")
    if self.dtype == _C.bfloat16:
        raise BufferError("__dlpack__: bfloat16 tensors cannot be exported through numpy")
    kwargs = {} if max_version is None else {"max_version": max_version}
    return self.numpy().__dlpack__(stream=stream, **kwargs)


@_method("__dlpack_device__")
def __dlpack_device__(self: Tensor) -> tuple[DLDeviceType, int]:
    if self.is_cuda:
        return (DLDeviceType.kDLCUDA, self.device.index)
    return (DLDeviceType.kDLCPU, 0)


def to_dlpack(tensor: Tensor) -> Any:
    """``torch.utils.dlpack.to_dlpack``: a DLPack capsule over ``tensor``'s memory."""
    return tensor.__dlpack__()


BUFFERS: dict[str, Callable] = {"frombuffer": frombuffer, "from_file": from_file, "from_dlpack": from_dlpack}
