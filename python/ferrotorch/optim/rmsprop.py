"""``torch.optim.RMSprop``: divide by a running root-mean-square of the gradient (optionally centered)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .optimizer import Optimizer, _validate, _value


class RMSprop(Optimizer):
    """Implements RMSprop, as ``torch.optim.RMSprop``.

    ``v = alpha * v + (1 - alpha) * g²``; ``p -= lr * g / (sqrt(v - mean(g)² if centered else v) + eps)``,
    through a momentum buffer when ``momentum > 0``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _validate(lr, eps=eps, weight_decay=weight_decay, momentum=momentum, alpha=alpha)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        params, grads = self._with_grads(group)
        names = ["square_avg"]
        if group["momentum"] > 0:
            names.append("momentum_buffer")
        if group["centered"]:
            names.append("grad_avg")
        states = []
        for p in params:
            self._advance_step(p)
            states.append([self._state_buffer(p, n) for n in names])
        hyper = {k: _value(group[k]) for k in ("lr", "alpha", "eps", "weight_decay", "momentum")}
        hyper.update(centered=group["centered"], maximize=group["maximize"])
        self._fused("rmsprop", hyper, params, grads, states, [[] for _ in params])
