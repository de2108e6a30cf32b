"""``torch.optim.SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .optimizer import Optimizer, _validate, _value


class SGD(Optimizer):
    """Implements stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    ``buf = momentum * buf + (1 - dampening) * g`` (``buf = g`` on the first step), then
    ``p -= lr * (g + momentum * buf if nesterov else buf)``; the whole group updates in one fused Rust kernel.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _validate(lr, weight_decay=weight_decay, momentum=momentum)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)

    def _update_group(self, group: dict[str, Any]) -> None:
        params, grads = self._with_grads(group)
        momentum = group["momentum"]
        states, coefs = [], []
        for p in params:
            if momentum != 0:
                fresh = self.state[p].get("momentum_buffer") is None
                states.append([self._state_buffer(p, "momentum_buffer")])
                coefs.append([1.0 if fresh else 0.0])
            else:
                states.append([])
                coefs.append([0.0])
        hyper = {k: _value(group[k]) for k in ("lr", "momentum", "dampening", "weight_decay")}
        hyper.update(nesterov=group["nesterov"], maximize=group["maximize"])
        self._fused("sgd", hyper, params, grads, states, coefs)
