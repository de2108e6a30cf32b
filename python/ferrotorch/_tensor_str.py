"""How tensors print: a port of PyTorch's ``torch/_tensor_str.py`` onto numpy arrays.

``_str(t)`` gives exactly what PyTorch's ``repr`` gives, e.g. ``tensor([[1., 2.]], dtype=torch.float64)``:
4 digits of precision, scientific notation when magnitudes span more than 1e3 (or exceed 1e8, or go below
1e-4), integers with a trailing ``.`` for floating tensors whose values are all whole, summarisation with
``...`` above 1000 elements (3 edge items), lines wrapped at 80 characters, and the suffixes ``device=``,
``dtype=`` (omitted for the default float dtype, int64 and bool), ``size=`` (empty tensors),
``grad_fn=<...>`` / ``requires_grad=True``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

import ferrotorch

__all__ = ["get_printoptions", "printoptions", "set_printoptions"]

_FLOATING = ("float16", "bfloat16", "float32", "float64")


@dataclasses.dataclass
class _PrinterOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrinterOptions()


def set_printoptions(precision: int | None = None, threshold: float | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set the printing options; `profile` is one of 'default', 'short', 'full' (the others override it).
    `sci_mode` None lets the values decide between fixed and scientific notation."""
    if profile is not None:
        if profile not in ("default", "short", "full"):
            raise ValueError(f"profile must be 'default', 'short' or 'full', got {profile!r}")
        PRINT_OPTS.precision = 2 if profile == "short" else 4
        PRINT_OPTS.threshold = math.inf if profile == "full" else 1000
        PRINT_OPTS.edgeitems = 2 if profile == "short" else 3
        PRINT_OPTS.linewidth = 80
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """The current options, as keyword arguments for ``set_printoptions``."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    """Context manager: ``set_printoptions(**kwargs)`` inside the block, the previous options after it."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """Chooses one width and notation for all elements of a tensor (its summary when summarised)."""

    def __init__(self, values: np.ndarray, floating: bool) -> None:
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not floating:
            if flat.size:
                widest = (flat.min(), flat.max()) if flat.dtype != np.bool_ else np.unique(flat)
                self.max_width = max(len(str(v)) for v in np.asarray(widest).tolist())
            return
        flat = flat.astype(np.float64)
        nonzero_finite = flat[np.isfinite(flat) & (flat != 0)]
        if nonzero_finite.size == 0:
            return
        abs_vals = np.abs(nonzero_finite)
        lo, hi = float(abs_vals.min()), float(abs_vals.max())
        self.int_mode = bool(np.all(nonzero_finite == np.ceil(nonzero_finite)))
        if PRINT_OPTS.sci_mode is None:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        else:
            self.sci_mode = PRINT_OPTS.sci_mode
        p = PRINT_OPTS.precision
        vals = nonzero_finite.tolist()
        if self.sci_mode:
            self.max_width = max(len(f"{v:.{p}e}") for v in vals)
        elif self.int_mode:
            self.max_width = max(len(f"{v:.0f}") + 1 for v in vals)
        else:
            self.max_width = max(len(f"{v:.{p}f}") for v in vals)

    def width(self) -> int:
        return self.max_width

    def format(self, value: Any) -> str:
        if self.floating:
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{PRINT_OPTS.precision}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{PRINT_OPTS.precision}f}"
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _vector_str(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    element_length = fmt.width() + 2
    elements_per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))
    edge = PRINT_OPTS.edgeitems
    if summarize and not edge:
        data = ["..."]
    elif summarize and a.shape[0] > 2 * edge:
        data = [fmt.format(v) for v in a[:edge].tolist()] + [" ..."] + [fmt.format(v) for v in a[-edge:].tolist()]
    else:
        data = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(data[i : i + elements_per_line]) for i in range(0, len(data), elements_per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    dim = a.ndim
    if dim == 0:
        return fmt.format(a.item())
    if dim == 1:
        return _vector_str(a, indent, summarize, fmt)
    edge = PRINT_OPTS.edgeitems
    if summarize and a.shape[0] > 2 * edge:
        rows = [*range(edge), None, *range(a.shape[0] - edge, a.shape[0])]
    else:
        rows = list(range(a.shape[0]))
    slices = ["..." if i is None else _tensor_str_with_formatter(a[i], indent + 1, summarize, fmt) for i in rows]
    return "[" + ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices) + "]"


def _summarized(a: np.ndarray) -> np.ndarray:
    """The elements that a summarised print shows (PyTorch's ``get_summarized_data``)."""
    edge = PRINT_OPTS.edgeitems
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return np.concatenate((a[:edge], a[-edge:])) if a.shape[0] > 2 * edge else a
    if not edge:
        return np.empty((0,) * a.ndim, dtype=a.dtype)
    rows = [*range(edge), *range(a.shape[0] - edge, a.shape[0])] if a.shape[0] > 2 * edge else range(a.shape[0])
    return np.stack([_summarized(a[i]) for i in rows])


def _tensor_str(a: np.ndarray, indent: int, floating: bool) -> str:
    if a.size == 0:
        return "[]"
    summarize = a.size > PRINT_OPTS.threshold
    fmt = _Formatter(_summarized(a) if summarize else a, floating)
    return _tensor_str_with_formatter(a, indent, summarize, fmt)


def _add_suffixes(tensor_str: str, suffixes: list[str], indent: int) -> str:
    parts = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def _values(t: Any) -> np.ndarray:
    """The tensor's values on the CPU as numpy (float16/bfloat16 widened to float32, which is exact)."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if str(t.dtype) in ("torch.float16", "torch.bfloat16"):
        t = t.float()
    return np.asarray(t.numpy())


def _grad_fn_name(t: Any) -> str | None:
    grad_fn = t.grad_fn
    if grad_fn is None:
        return None
    name = grad_fn.name() if callable(getattr(grad_fn, "name", None)) else type(grad_fn).__name__
    return name.rsplit("::", 1)[-1]


def _str(t: Any) -> str:
    """``repr(t)`` as PyTorch prints it."""
    param_cls = getattr(getattr(ferrotorch, "nn", None), "Parameter", None)
    is_plain = type(t) is ferrotorch.Tensor or (param_cls is not None and type(t) is param_cls)
    prefix = "tensor(" if is_plain else f"{type(t).__name__}("
    indent = len(prefix)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    default_dtype = ferrotorch.get_default_dtype() if hasattr(ferrotorch, "get_default_dtype") else ferrotorch.float32
    if t.numel() == 0:
        if t.dim() != 1:
            suffixes.append(f"size={tuple(t.shape)}")
        if t.dtype != default_dtype:
            suffixes.append(f"dtype={t.dtype}")
        tensor_str = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(t.shape)}")
        if t.dtype not in (default_dtype, ferrotorch.int64, ferrotorch.bool):
            suffixes.append(f"dtype={t.dtype}")
        tensor_str = _tensor_str(_values(t), indent, str(t.dtype).removeprefix("torch.") in _FLOATING)
    grad_fn_name = _grad_fn_name(t)
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    string_repr = _add_suffixes(prefix + tensor_str, suffixes, indent)
    if param_cls is not None and isinstance(t, param_cls) and not is_plain:
        string_repr = f"Parameter({string_repr})"
    return string_repr
