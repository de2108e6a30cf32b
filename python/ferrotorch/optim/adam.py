"""``torch.optim.Adam``: adaptive moment estimation (with AMSGrad and optional decoupled weight decay)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .optimizer import Optimizer, _validate, _value


class Adam(Optimizer):
    """Implements Adam, as ``torch.optim.Adam``.

    ``m = lerp(m, g, 1 - beta1)``, ``v = beta2 * v + (1 - beta2) * g²``,
    ``p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``; one fused Rust kernel per group.
    """

    _kind = "adam"

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _validate(lr, eps=eps, betas=betas, weight_decay=weight_decay)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("decoupled_weight_decay", False)

    def _update_group(self, group: dict[str, Any]) -> None:
        params, grads = self._with_grads(group)
        beta1, beta2 = (_value(b) for b in group["betas"])
        lr = _value(group["lr"])
        names = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if group["amsgrad"] else [])
        states, coefs = [], []
        for p in params:
            step = self._advance_step(p)
            states.append([self._state_buffer(p, n) for n in names])
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            coefs.append([lr / bias_correction1, math.sqrt(bias_correction2)])
        hyper = {
            "lr": lr,
            "beta1": beta1,
            "beta2": beta2,
            "eps": group["eps"],
            "weight_decay": _value(group["weight_decay"]),
            "amsgrad": group["amsgrad"],
            "maximize": group["maximize"],
        }
        kind = "adamw" if group.get("decoupled_weight_decay") else "adam"
        self._fused(kind, hyper, params, grads, states, coefs)
