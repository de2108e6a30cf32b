"""The hook-based ``weight_norm``: ``weight = g * v / ||v||``, recomputed before every forward."""

from __future__ import annotations

from typing import Any, TypeVar

import ferrotorch as torch
from ferrotorch.nn.parameter import Parameter

__all__ = ["WeightNorm", "remove_weight_norm", "weight_norm"]

Tensor = torch.Tensor
T_module = TypeVar("T_module", bound="torch.nn.Module")


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """2-norm of ``v`` over every axis but ``dim`` (kept, size-1 elsewhere); ``dim == -1``: the whole tensor."""
    if dim == -1:
        return torch.linalg.vector_norm(v)
    other = tuple(d for d in range(v.dim()) if d != dim)
    if not other:
        return v.abs()
    return torch.linalg.vector_norm(v, dim=other, keepdim=True)


class WeightNorm:
    """The forward pre-hook that rebuilds ``module.<name>`` from ``<name>_g`` and ``<name>_v``."""

    name: str
    dim: int

    def __init__(self, name: str, dim: int) -> None:
        if dim is None:
            dim = -1
        self.name = name
        self.dim = dim

    def compute_weight(self, module: torch.nn.Module) -> Tensor:
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    @staticmethod
    def apply(module: torch.nn.Module, name: str, dim: int | None) -> WeightNorm:
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        if dim is None:
            dim = -1
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(_norm_except_dim(weight, dim).data))
        module.register_parameter(name + "_v", Parameter(weight.data))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module: torch.nn.Module) -> None:
        with torch.no_grad():
            weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module: torch.nn.Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module: T_module, name: str = "weight", dim: int | None = 0) -> T_module:
    """Split ``module.<name>`` into magnitude ``<name>_g`` and direction ``<name>_v`` parameters.

    ``<name>_g`` has the weight's shape with every axis but ``dim`` reduced to 1 (a scalar for
    ``dim=None``); ``<name>_v`` is the original weight. The weight is recomputed before each forward.
    """
    WeightNorm.apply(module, name, dim)
    return module


def _remove_hook(module: torch.nn.Module, hook_type: type, name: str, label: str) -> Any:
    """Detach and drop the ``hook_type`` pre-hook for ``name``; ValueError when the module has none."""
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, hook_type) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            module._forward_pre_hooks_with_kwargs.pop(k, None)
            return hook
    raise ValueError(f"{label} of '{name}' not found in {module}")


def remove_weight_norm(module: T_module, name: str = "weight") -> T_module:
    """Undo :func:`weight_norm`: fold ``<name>_g``/``<name>_v`` back into a plain ``<name>`` Parameter."""
    _remove_hook(module, WeightNorm, name, "weight_norm")
    return module
