"""``torch.autograd``: backward/grad over the tape recorded in Rust, grad modes, custom Functions, gradcheck."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import _C
from .._C import Tensor
from .._grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from . import functional, graph
from .anomaly_mode import detect_anomaly, set_detect_anomaly
from .function import Function, FunctionCtx, once_differentiable
from .gradcheck import gradcheck, gradgradcheck

__all__ = [
    "Function", "FunctionCtx", "Variable", "backward", "detect_anomaly", "enable_grad", "functional", "grad",
    "gradcheck", "gradgradcheck", "graph", "inference_mode", "is_grad_enabled", "no_grad", "once_differentiable",
    "set_detect_anomaly", "set_grad_enabled",
]



def _as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, grad_variables: Any = None, inputs: Any = None) -> None:
    """Sums d(tensors)/d(leaf) into every leaf's ``.grad`` (or only into ``inputs``)."""
    ts = _as_list(tensors)
    grads = _as_list(grad_tensors if grad_tensors is not None else grad_variables)
    grads = grads + [None] * (len(ts) - len(grads))
    if retain_graph is None:
        retain_graph = create_graph
    ins = _as_list(inputs) if inputs is not None else None
    if ins is not None and not ins:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    _C._backward(ts, grads, bool(retain_graph), bool(create_graph), ins)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor], grad_outputs: Any = None,
         retain_graph: bool | None = None, create_graph: bool = False, only_inputs: bool = True,
         allow_unused: bool | None = None, is_grads_batched: bool = False,
         materialize_grads: bool = False) -> tuple:
    """Returns d(outputs)/d(inputs) without touching any ``.grad``."""
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    gos = _as_list(grad_outputs)
    gos = gos + [None] * (len(outs) - len(gos))
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    res = _C._grad(outs, ins, gos, bool(retain_graph), bool(create_graph), bool(allow_unused))
    if materialize_grads:
        res = tuple(_C.zeros(*i.shape, dtype=i.dtype) if g is None else g for g, i in zip(res, ins))
    return res


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Tensor:
    """Deprecated: returns ``data`` itself (a Tensor), optionally marked to require grad."""
    if not isinstance(data, Tensor):
        data = _C.tensor(data)
    if requires_grad:
        data.requires_grad_(True)
    return data
