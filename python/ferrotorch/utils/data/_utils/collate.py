"""``default_collate`` (a list of samples -> one batch) and ``default_convert`` (numpy -> tensors, no batching)."""

from __future__ import annotations

import collections.abc
import re
from collections.abc import Callable
from typing import Any

import numpy as np

import ferrotorch

__all__ = ["collate", "default_collate", "default_collate_fn_map", "default_convert"]

# numpy dtypes that cannot become tensors: strings (S, a, U) and objects (O)
np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _is_numpy(elem: Any) -> bool:
    t = type(elem)
    return t.__module__ == "numpy" and t.__name__ not in ("str_", "string_", "bytes_")


def default_convert(data: Any) -> Any:
    """Turns numpy arrays and scalars into tensors, recursing into mappings, namedtuples and sequences.

    Used by ``DataLoader`` when automatic batching is off (``batch_size=None``).
    """
    elem_type = type(data)
    if isinstance(data, ferrotorch.Tensor):
        return data
    if _is_numpy(data):
        if isinstance(data, np.ndarray) and np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return ferrotorch.as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        try:
            return elem_type({key: default_convert(data[key]) for key in data})  # type: ignore[call-arg]
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return elem_type([default_convert(d) for d in data])  # type: ignore[call-arg]
        except TypeError:
            return [default_convert(d) for d in data]
    return data


CollateFnMap = dict[type | tuple[type, ...], Callable[..., Any]]


def collate(batch: list[Any], *, collate_fn_map: CollateFnMap | None = None) -> Any:
    """Collates ``batch`` by the type of its first element, recursing into containers.

    ``collate_fn_map`` maps element types to functions ``fn(batch, *, collate_fn_map)`` for the leaves;
    containers (mappings, namedtuples, sequences) are handled here, element-wise.
    """
    elem = batch[0]
    elem_type = type(elem)

    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type, fn in collate_fn_map.items():
            if isinstance(elem, collate_type):
                return fn(batch, collate_fn_map=collate_fn_map)

    if isinstance(elem, collections.abc.Mapping):
        try:
            return elem_type(  # type: ignore[call-arg]
                {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
            )
        except TypeError:
            return {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(list(samples), collate_fn_map=collate_fn_map) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        elem_size = len(elem)
        if not all(len(e) == elem_size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [collate(list(samples), collate_fn_map=collate_fn_map) for samples in transposed]
        try:
            return elem_type(  # type: ignore[call-arg]
                [collate(list(samples), collate_fn_map=collate_fn_map) for samples in transposed]
            )
        except TypeError:
            return [collate(list(samples), collate_fn_map=collate_fn_map) for samples in transposed]

    raise TypeError(default_collate_err_msg_format.format(elem_type))


def collate_tensor_fn(batch: list[Any], *, collate_fn_map: CollateFnMap | None = None) -> Any:
    """Stacks tensors along a new first dimension."""
    return ferrotorch.stack(batch, 0)


def collate_numpy_array_fn(batch: list[Any], *, collate_fn_map: CollateFnMap | None = None) -> Any:
    """Stacks numpy arrays into one tensor (string and object arrays are refused)."""
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    return ferrotorch.from_numpy(np.stack(batch, 0))


def collate_numpy_scalar_fn(batch: list[Any], *, collate_fn_map: CollateFnMap | None = None) -> Any:
    """numpy scalars -> a 1-d tensor of their dtype."""
    return ferrotorch.as_tensor(np.asarray(batch))


def collate_float_fn(batch: list[Any], *, collate_fn_map: CollateFnMap | None = None) -> Any:
    """Python floats -> a float64 tensor."""
    return ferrotorch.tensor(batch, dtype=ferrotorch.float64)


def collate_int_fn(batch: list[Any], *, collate_fn_map: CollateFnMap | None = None) -> Any:
    """Python ints (and bools) -> an int64 (bool) tensor."""
    return ferrotorch.tensor(batch)


def collate_str_fn(batch: list[Any], *, collate_fn_map: CollateFnMap | None = None) -> Any:
    """Strings and bytes stay a list."""
    return batch


def _collate_numpy(batch: list[Any], *, collate_fn_map: CollateFnMap | None = None) -> Any:
    if isinstance(batch[0], np.ndarray):
        return collate_numpy_array_fn(batch, collate_fn_map=collate_fn_map)
    return collate_numpy_scalar_fn(batch, collate_fn_map=collate_fn_map)


default_collate_fn_map: CollateFnMap = {
    ferrotorch.Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (str, bytes): collate_str_fn,  # before np.generic: np.str_ is both
    np.generic: _collate_numpy,  # before float: np.float64 subclasses float
    float: collate_float_fn,
    int: collate_int_fn,
}


def default_collate(batch: list[Any]) -> Any:
    """Merges a list of samples into a batch, as PyTorch's ``default_collate`` does.

    Tensors are stacked (a new first dimension), numpy arrays and numpy scalars become tensors, Python floats a
    float64 tensor, ints an int64 tensor, strings stay a list; mappings, namedtuples, tuples and lists are
    collated field by field (a tuple of samples becomes a list of batches).
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)
