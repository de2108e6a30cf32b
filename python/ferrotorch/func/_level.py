"""The bookkeeping that makes ferrotorch's ``torch.func`` transforms compose.

ferrotorch has one autograd tape, not functorch's per-level wrapper tensors. A transform therefore
differentiates against *fresh* copies of its inputs: a detached leaf when the input is not part of any
graph, a view (which keeps the link) when it is, e.g. because an enclosing transform is differentiating
against it. A transform's results keep their graph only when something outside it can still
differentiate them: grad mode was on when it was called and the function's output reaches an autograd
leaf the transform did not create (an enclosing transform's input, or a tensor with ``requires_grad``
captured from the caller). Otherwise the results are detached, as PyTorch's unwrapped results are."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Self

import ferrotorch as torch

from .._C import Tensor
from .._grad_mode import enable_grad, is_grad_enabled
from ..autograd import grad as _autograd_grad_api
from ._pytree import tree_map

__all__ = ["Level", "autograd_grad"]

_active = threading.local()


def _stack() -> list[Level]:
    if not hasattr(_active, "levels"):
        _active.levels = []
    return _active.levels


def _accumulate_node(leaf: Tensor) -> Any:
    # the AccumulateGrad node of a leaf: the only handle on a leaf that its graph exposes
    with enable_grad():
        return leaf.view_as(leaf).grad_fn.next_functions[0][0]


class Level:
    """One application of a transform: creates its fresh inputs and decides whether results keep a graph."""

    def __init__(self) -> None:
        self.grad_was_enabled = is_grad_enabled()
        self.own: set = set()
        self.keep_graph = False
        self._enable = enable_grad()

    def __enter__(self) -> Self:
        self._enable.__enter__()
        _stack().append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        levels = _stack()
        levels.pop()
        if levels:  # leaves of a finished inner transform are not outside tensors for the enclosing one
            levels[-1].own |= self.own
        self._enable.__exit__(*exc)

    def fresh(self, x: Any) -> Tensor:
        """A tensor equal to ``x`` that this transform differentiates against."""
        if not isinstance(x, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")  # noqa: TRY004 (PyTorch's type)
        if x.requires_grad:
            return x.view_as(x)
        y = x.detach().requires_grad_(True)
        self.own.add(_accumulate_node(y))
        return y

    def reaches_outside(self, tensors: Sequence[Any]) -> bool:
        """Whether any of ``tensors``' graphs reaches a leaf not created by this transform (or one inside it)."""
        seen: set = set()
        todo = [t.grad_fn for t in tensors if isinstance(t, Tensor) and t.grad_fn is not None]
        todo += [
            _accumulate_node(t)
            for t in tensors
            if isinstance(t, Tensor) and t.requires_grad and t.grad_fn is None
        ]
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            if node.name() == "AccumulateGrad" and node not in self.own:
                return True
            todo.extend(n for n, _ in node.next_functions if n is not None)
        return False

    def decide(self, outputs: Sequence[Any]) -> bool:
        """Set (and return) whether this transform's results keep their graph, from the function's outputs."""
        self.keep_graph = self.grad_was_enabled and self.reaches_outside(outputs)
        return self.keep_graph

    def lift(self, tree: Any, keep_graph: bool | None = None) -> Any:
        """``tree`` as this transform returns it: tensors detached unless the graph is kept."""
        keep = self.keep_graph if keep_graph is None else keep_graph
        return tree_map(
            lambda t: t.detach() if isinstance(t, Tensor) and t.requires_grad and not keep else t, tree
        )


def autograd_grad(
    outputs: Sequence[Tensor],
    inputs: Sequence[Tensor],
    grad_outputs: Sequence[Any] | None = None,
    retain_graph: bool = False,
    create_graph: bool = False,
) -> tuple[Tensor, ...]:
    """``autograd.grad`` skipping outputs that do not require grad; zeros for inputs they do not reach."""
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        return tuple(torch.zeros_like(i) for i in inputs)
    outs, gos = zip(*pairs)
    res = _autograd_grad_api(
        list(outs),
        list(inputs),
        list(gos),
        retain_graph=retain_graph or create_graph,
        create_graph=create_graph,
        allow_unused=True,
    )
    return tuple(torch.zeros_like(i) if g is None else g for g, i in zip(res, inputs))
