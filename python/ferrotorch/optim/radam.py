"""``torch.optim.RAdam``: Adam with a variance-rectification term that warms the adaptive step up."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .optimizer import Optimizer, _validate, _value


class RAdam(Optimizer):
    """Implements RAdam, as ``torch.optim.RAdam``.

    While the approximated SMA length ``rho_t <= 5`` the step is ``lr * m̂`` (SGD with momentum);
    afterwards it is the Adam step scaled by the rectification ``r_t``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _validate(lr, eps=eps, betas=betas, weight_decay=weight_decay)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        params, grads = self._with_grads(group)
        beta1, beta2 = group["betas"]
        rho_inf = 2 / (1 - beta2) - 1
        states, coefs = [], []
        for p in params:
            step = self._advance_step(p)
            states.append([self._state_buffer(p, "exp_avg"), self._state_buffer(p, "exp_avg_sq")])
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
            rect = 0.0
            if rho_t > 5.0:
                rect = math.sqrt(
                    (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                )
            coefs.append([bias_correction1, bias_correction2, rect])
        hyper = {"lr": _value(group["lr"]), "beta1": beta1, "beta2": beta2, "eps": group["eps"]}
        hyper.update(
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            maximize=group["maximize"],
        )
        self._fused("radam", hyper, params, grads, states, coefs)
