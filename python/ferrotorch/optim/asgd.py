"""``torch.optim.ASGD``: SGD with a decaying step size and a running (Polyak) average of the iterates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ferrotorch

from .optimizer import Optimizer, _validate, _value


class ASGD(Optimizer):
    """Implements Averaged Stochastic Gradient Descent, as ``torch.optim.ASGD``.

    Per step ``t``: ``p *= 1 - lambd * eta``, ``p -= eta * g`` (``g`` plus ``weight_decay * p``), then
    ``ax += mu * (p - ax)`` (a copy while ``mu == 1``), ``eta = lr / (1 + lambd * lr * t) ** alpha`` and
    ``mu = 1 / max(1, t - t0)``. State per parameter: ``step``, ``eta``, ``mu`` (float32 scalars) and ``ax``
    (the averaged parameter, shaped like it).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | ferrotorch.Tensor = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        if isinstance(lr, ferrotorch.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        _validate(lr, weight_decay=weight_decay, lambd=lambd, alpha=alpha)
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
            "weight_decay": weight_decay,
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
        self._tensor_state("step", "eta", "mu")

    def _init_state(self, p: ferrotorch.Tensor, lr: float) -> dict[str, Any]:
        state = self.state[p]
        if len(state) == 0:
            state["step"] = ferrotorch.zeros((), dtype=ferrotorch.float32, device=p.device)
            state["eta"] = ferrotorch.tensor(lr, dtype=ferrotorch.float32, device=p.device)
            state["mu"] = ferrotorch.ones((), dtype=ferrotorch.float32, device=p.device)
            state["ax"] = ferrotorch.zeros_like(p)
        return state

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = _value(group["lr"])
        lambd, alpha, t0 = group["lambd"], group["alpha"], group["t0"]
        weight_decay = _value(group["weight_decay"])
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            if grad.is_sparse:
                raise RuntimeError("ASGD does not support sparse gradients")
            state = self._init_state(p, lr)
            grad = -grad if group["maximize"] else grad
            step_t, eta, mu, ax = state["step"], state["eta"], state["mu"], state["ax"]
            step_t += 1
            if weight_decay != 0:
                grad = grad.add(p, alpha=weight_decay)
            eta_value = eta.item()
            p.mul_(1 - lambd * eta_value)  # decay term
            p.add_(grad, alpha=-eta_value)
            # averaging: ax is a plain copy of p until step t0 is passed
            if mu.item() != 1:
                ax.add_(p.sub(ax).mul_(mu))
            else:
                ax.copy_(p)
            step = step_t.item()
            eta.fill_(lr / ((1 + lambd * lr * step) ** alpha))
            mu.fill_(1 / max(1, step - t0))
