"""``torch.optim.NAdam``: Adam with Nesterov momentum and a momentum-decay schedule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

import ferrotorch

from .optimizer import Optimizer, _validate, _value


class NAdam(Optimizer):
    """Implements NAdam, as ``torch.optim.NAdam``.

    ``mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))``; the update mixes the gradient and the
    first moment with coefficients from the running product of ``mu_t`` (state ``mu_product``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        _validate(lr, eps=eps, betas=betas, weight_decay=weight_decay, momentum_decay=momentum_decay)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        params, grads = self._with_grads(group)
        beta1, beta2 = group["betas"]
        lr, md = _value(group["lr"]), group["momentum_decay"]
        states, coefs = [], []
        for p in params:
            step = self._advance_step(p)
            st = self.state[p]
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * md)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * md)))
            # mu_product is a float32 scalar tensor in PyTorch: keep its rounding
            prev = st["mu_product"].item() if "mu_product" in st else 1.0
            mu_product = float(np.float32(prev) * np.float32(mu))
            st["mu_product"] = ferrotorch.tensor(mu_product)
            states.append([self._state_buffer(p, "exp_avg"), self._state_buffer(p, "exp_avg_sq")])
            coefs.append(
                [
                    1 - beta2**step,
                    -lr * (1.0 - mu) / (1.0 - mu_product),
                    -lr * mu_next / (1.0 - mu_product * mu_next),
                ]
            )
        hyper = {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": group["eps"]}
        hyper.update(
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            maximize=group["maximize"],
        )
        self._fused("nadam", hyper, params, grads, states, coefs)
