"""Module helpers of ``torch.func``: ``stack_module_state`` (model ensembling with ``vmap``) and
``replace_all_batch_norm_modules_`` (batch norm without running statistics, for ``vmap``/``grad``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ferrotorch as torch

from .._C import Tensor
from ..nn.modules.batchnorm import _BatchNorm

__all__ = ["replace_all_batch_norm_modules_", "stack_module_state"]


def _stacked_leaf(tensors: Sequence[Tensor], name: str) -> Tensor:
    all_rg = all(t.requires_grad for t in tensors)
    if not all_rg and any(t.requires_grad for t in tensors):
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    result = torch.stack(list(tensors))
    # a new leaf, unrelated to the models' own parameters, that an optimizer can take
    return result.detach().requires_grad_() if all_rg else result


def stack_module_state(models: Sequence[torch.nn.Module]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(params, buffers)``: every parameter and buffer of the ``M`` same-class ``models`` stacked along a
    new leading dimension of size ``M``, by state-dict name; use with ``vmap`` and ``functional_call``."""
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    typ = type(models[0])
    if not all(type(m) is typ for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    all_params = [dict(m.named_parameters()) for m in models]
    params = {k: _stacked_leaf([p[k] for p in all_params], k) for k in all_params[0]}
    all_buffers = [dict(m.named_buffers()) for m in models]
    buffers = {k: _stacked_leaf([b[k] for b in all_buffers], k) for k in all_buffers[0]}
    return params, buffers


def replace_all_batch_norm_modules_(root: torch.nn.Module) -> torch.nn.Module:
    """In place: every batch norm module in ``root`` stops tracking running statistics (``running_mean``,
    ``running_var`` and ``num_batches_tracked`` become None), so it normalizes with batch statistics."""
    for m in root.modules():
        if isinstance(m, _BatchNorm) and m.track_running_stats:
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None
            m.track_running_stats = False
    return root
