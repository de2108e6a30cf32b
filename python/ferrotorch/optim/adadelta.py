"""``torch.optim.Adadelta``: step sizes from running averages of squared gradients and squared updates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .optimizer import Optimizer, _validate, _value


class Adadelta(Optimizer):
    """Implements Adadelta, as ``torch.optim.Adadelta``.

    ``v = rho * v + (1 - rho) * g²``, ``d = sqrt(u + eps) / sqrt(v + eps) * g``,
    ``u = rho * u + (1 - rho) * d²``, ``p -= lr * d``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        _validate(lr, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        params, grads = self._with_grads(group)
        states = []
        for p in params:
            self._advance_step(p)
            states.append([self._state_buffer(p, "square_avg"), self._state_buffer(p, "acc_delta")])
        hyper = {k: _value(group[k]) for k in ("lr", "rho", "eps", "weight_decay")}
        hyper["maximize"] = group["maximize"]
        self._fused("adadelta", hyper, params, grads, states, [[] for _ in params])
