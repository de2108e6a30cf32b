"""Loss reductions, including PyTorch's deprecated ``size_average``/``reduce`` arguments."""

from __future__ import annotations

import warnings

import ferrotorch as torch


def legacy_get_string(size_average: bool | None, reduce: bool | None, emit_warning: bool = True) -> str:
    """Map the deprecated ``size_average``/``reduce`` pair to a ``reduction`` string."""
    warning = "size_average and reduce args will be deprecated, please use reduction='{}' instead."
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(warning.format(ret), stacklevel=3)
    return ret


def resolve(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """The effective reduction of a loss call."""
    if size_average is not None or reduce is not None:
        return legacy_get_string(size_average, reduce)
    return reduction


def apply(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce an elementwise loss: ``'none'`` keeps it, ``'mean'`` averages, ``'sum'`` adds up."""
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")
