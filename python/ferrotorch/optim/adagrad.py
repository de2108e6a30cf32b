"""``torch.optim.Adagrad``: per-element learning rates from the running sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ferrotorch

from .optimizer import Optimizer, _validate, _value


class Adagrad(Optimizer):
    """Implements Adagrad, as ``torch.optim.Adagrad``.

    ``sum += g²``, ``p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _validate(
            lr,
            eps=eps,
            weight_decay=weight_decay,
            lr_decay=lr_decay,
            initial_accumulator_value=initial_accumulator_value,
        )
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        # PyTorch creates Adagrad's state up front
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                st["step"] = ferrotorch.tensor(0.0)
                st["sum"] = ferrotorch.full_like(p, group["initial_accumulator_value"]).contiguous()

    def _update_group(self, group: dict[str, Any]) -> None:
        params, grads = self._with_grads(group)
        lr, lr_decay = _value(group["lr"]), group["lr_decay"]
        states, coefs = [], []
        for p in params:
            step = self._advance_step(p)
            states.append([self._state_buffer(p, "sum", group["initial_accumulator_value"])])
            coefs.append([lr / (1 + (step - 1) * lr_decay)])
        hyper = {"eps": group["eps"], "weight_decay": group["weight_decay"], "maximize": group["maximize"]}
        self._fused("adagrad", hyper, params, grads, states, coefs)
