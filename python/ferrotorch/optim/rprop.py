"""``torch.optim.Rprop``: resilient backpropagation, per-element step sizes driven by gradient sign changes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ferrotorch

from .optimizer import Optimizer, _value


class Rprop(Optimizer):
    """Implements the resilient backpropagation algorithm, as ``torch.optim.Rprop``.

    Where ``g * prev > 0`` the element's step size grows by ``etaplus``, where it is ``< 0`` it shrinks by
    ``etaminus`` and that element's gradient is taken as 0 for this step; step sizes are clamped to
    ``step_sizes`` and ``p -= step_size * sign(g)``; ``prev = g``. State per parameter: ``step`` (a float32
    scalar), ``prev`` and ``step_size`` (shaped like the parameter, ``step_size`` starting at ``lr``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | ferrotorch.Tensor = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        if isinstance(lr, ferrotorch.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= _value(lr):
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)
        self._tensor_state("step")

    def _update_group(self, group: dict[str, Any]) -> None:
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            if grad.is_sparse:
                raise RuntimeError("Rprop does not support sparse gradients")
            state = self.state[p]
            if len(state) == 0:
                state["step"] = ferrotorch.zeros((), dtype=ferrotorch.float32)
                state["prev"] = ferrotorch.zeros_like(p)
                state["step_size"] = ferrotorch.full_like(grad, _value(group["lr"]))
            grad = -grad if group["maximize"] else grad
            prev, step_size = state["prev"], state["step_size"]
            state["step"] += 1

            agreement = grad.mul(prev)
            # per-element factor: etaplus where the sign held, etaminus where it flipped, 1 where either was 0
            factor = ferrotorch.where(
                agreement.gt(0),
                ferrotorch.full_like(agreement, etaplus),
                ferrotorch.where(
                    agreement.lt(0), ferrotorch.full_like(agreement, etaminus), ferrotorch.ones_like(agreement)
                ),
            )
            step_size.mul_(factor).clamp_(step_size_min, step_size_max)
            # after a sign flip the element does not move, and the next step sees prev == 0
            grad = ferrotorch.where(agreement.lt(0), ferrotorch.zeros_like(grad), grad)
            p.addcmul_(grad.sign(), step_size, value=-1)
            prev.copy_(grad)
