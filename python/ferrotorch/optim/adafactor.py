"""``torch.optim.Adafactor``: Adam-like steps with a factored (row x column) second-moment estimate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ferrotorch

from .optimizer import Optimizer, _value


class Adafactor(Optimizer):
    """Implements Adafactor, as ``torch.optim.Adafactor``.

    Per step ``t``: ``beta2_t = 1 - t ** beta2_decay``, ``rho = min(lr, 1 / sqrt(t))``,
    ``alpha = max(eps2, RMS(p)) * rho``; ``p *= 1 - lr * weight_decay``. A parameter of 2 or more dims keeps
    ``row_var`` (shape ``(..., R, 1)``) and ``col_var`` (``(..., 1, C)``), lerped towards the row / column means of
    ``g²`` by ``1 - beta2_t``; the variance estimate is ``row_var @ col_var / max(mean(row_var), eps1)``.
    A vector (or scalar) keeps a full ``variance``. ``u = g / sqrt(max(var, eps1²))``,
    ``p -= alpha / max(1, RMS(u) / d) * u``. ``eps1=None`` means the parameter dtype's machine epsilon.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | ferrotorch.Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        if isinstance(lr, ferrotorch.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= _value(lr):
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = {
            "lr": lr,
            "beta2_decay": beta2_decay,
            "eps": eps,
            "d": d,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
        self._tensor_state("step")

    def _init_state(self, p: ferrotorch.Tensor, grad: ferrotorch.Tensor) -> dict[str, Any]:
        state = self.state[p]
        if len(state) == 0:
            # ``step`` lives on the host, as in PyTorch: it is read back every step anyway
            state["step"] = ferrotorch.tensor(0.0, dtype=ferrotorch.float32)
            if grad.dim() > 1:
                row_shape = list(grad.shape)
                row_shape[-1] = 1
                state["row_var"] = grad.new_zeros(row_shape)
                col_shape = list(grad.shape)
                col_shape[-2] = 1
                state["col_var"] = grad.new_zeros(col_shape)
            else:
                state["variance"] = ferrotorch.zeros_like(grad)
        return state

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = _value(group["lr"])
        eps1, eps2 = group["eps"]
        d, beta2_decay, weight_decay = group["d"], group["beta2_decay"], group["weight_decay"]
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            if grad.is_sparse:
                raise RuntimeError("Adafactor does not support sparse gradients")
            state = self._init_state(p, grad)
            grad = -grad if group["maximize"] else grad
            p_eps1 = ferrotorch.finfo(p.dtype).eps if eps1 is None else eps1
            state["step"] += 1
            step = state["step"].item()

            one_minus_beta2_t = step**beta2_decay
            rho_t = min(lr, 1 / (step**0.5))
            alpha = max(eps2, p.norm(2).item() / (p.numel() ** 0.5)) * rho_t
            if weight_decay != 0:
                p.mul_(1 - lr * weight_decay)

            if grad.dim() > 1:
                row_var, col_var = state["row_var"], state["col_var"]
                # mean of g² over the last / penultimate dim, without materialising g²
                row_mean = ferrotorch.linalg.vector_norm(grad, dim=-1, keepdim=True).square_().div_(grad.size(-1))
                row_var.lerp_(row_mean, one_minus_beta2_t)
                col_mean = ferrotorch.linalg.vector_norm(grad, dim=-2, keepdim=True).square_().div_(grad.size(-2))
                col_var.lerp_(col_mean, one_minus_beta2_t)
                var_estimate = row_var @ col_var
                var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=p_eps1))
            else:
                variance = state["variance"]
                variance.lerp_(grad * grad, one_minus_beta2_t)
                var_estimate = variance.clone()

            # eps1 is squared because the estimate is square-rooted next
            update = var_estimate.clamp_(min=p_eps1 * p_eps1).rsqrt_()
            update.mul_(grad)
            denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
            p.add_(update, alpha=-alpha / denom)
