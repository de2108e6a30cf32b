"""``torch.nn.utils.skip_init``: build a module without running its parameter initialisation."""

from __future__ import annotations

import inspect
from typing import Any

import ferrotorch as torch
from ferrotorch.nn import init

__all__ = ["skip_init"]


def skip_init(module_cls: type, *args: Any, **kwargs: Any) -> Any:
    """Instantiate ``module_cls(*args, **kwargs)`` with its parameters and buffers left uninitialized.

    As PyTorch's, the module must take a ``device`` argument and only compute on its parameters in the
    constructor through :mod:`torch.nn.init`. The values are whatever ``torch.empty`` left there, and
    no random numbers are drawn.
    """
    if not issubclass(module_cls, torch.nn.Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")  # noqa: TRY004 - as PyTorch
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    kwargs["device"] = kwargs.pop("device", "cpu")
    # PyTorch builds on the meta device and then calls to_empty(); ferrotorch has no meta device, so the
    # nn.init fillers (which the layers look up at call time) are turned into no-ops while it is built
    fillers = {
        name: fn for name, fn in vars(init).items() if name.endswith("_") and not name.startswith("_") and callable(fn)
    }
    try:
        for name in fillers:
            setattr(init, name, _no_init)
        return module_cls(*args, **kwargs)
    finally:
        for name, fn in fillers.items():
            setattr(init, name, fn)


def _no_init(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return tensor
