"""``torch.amp.GradScaler``: loss scaling for float16 training.

``scale(loss)`` multiplies the loss by the scale so small float16 gradients do not flush to zero;
``step(optimizer)`` unscales the gradients (unless ``unscale_`` already did) and skips the step
when any of them is inf or NaN; ``update()`` halves the scale after a skipped step and doubles it
after ``growth_interval`` good ones. The inf checks stay on the gradients' device (the scale is a Python number);
``step`` reads one flag back (as PyTorch's does). A scaler for CUDA where CUDA is not available
disables itself with PyTorch's warning, and a disabled scaler passes everything through.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

_READY, _UNSCALED, _STEPPED = 0, 1, 2


def _amp_foreach_non_finite_check_and_unscale_(scaled_grads: Sequence[Any], found_inf: Any, inv_scale: Any) -> None:
    """``torch._amp_foreach_non_finite_check_and_unscale_``: multiplies every gradient by ``inv_scale``
    in place and sets ``found_inf`` (a one-element float32 tensor on their device) to 1.0 if any
    held an inf or NaN. One fused pass per gradient (one kernel on a GPU)."""
    from .. import _C

    inv = float(inv_scale.item()) if hasattr(inv_scale, "item") else float(inv_scale)
    _C._amp_foreach_non_finite_check_and_unscale_(list(scaled_grads), found_inf, inv)


class GradScaler:
    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        from .. import cuda

        self._device = str(device)
        if enabled and self._device.startswith("cuda") and not cuda.is_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                          stacklevel=2)
            enabled = False
        if growth_factor <= 1.0:
            raise AssertionError("The growth factor must be > 1.0.")
        if backoff_factor >= 1.0:
            raise AssertionError("The backoff factor must be < 1.0.")
        self._enabled = bool(enabled)
        self._scale_value = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._per_optimizer: dict[int, dict[str, Any]] = {}

    # ---- scaling ----
    def scale(self, outputs: Any) -> Any:
        """``outputs`` (a tensor, or an iterable of them) times the scale."""
        if not self._enabled:
            return outputs
        if hasattr(outputs, "dtype"):
            return outputs * self._scale_value
        if isinstance(outputs, Iterable):
            scaled = [self.scale(o) for o in outputs]
            return type(outputs)(scaled) if isinstance(outputs, (list, tuple)) else scaled
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _state(self, optimizer: Any) -> dict[str, Any]:
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _READY, "found_inf": None})

    def unscale_(self, optimizer: Any) -> None:
        """Divides ``optimizer``'s gradients by the scale, in place, noting whether any is inf/NaN."""
        if not self._enabled:
            return
        import ferrotorch as torch

        state = self._state(optimizer)
        if state["stage"] == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        by_device: dict[Any, list[Any]] = {}
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not p.grad.is_contiguous():
                    p.grad = p.grad.contiguous()
                by_device.setdefault(p.grad.device, []).append(p.grad)
        found = None
        for device, grads in by_device.items():
            flag = torch.zeros(1, dtype=torch.float32, device=device)
            _amp_foreach_non_finite_check_and_unscale_(grads, flag, 1.0 / self._scale_value)
            found = flag if found is None else found + flag.to(found.device)
        state["found_inf"] = found
        state["stage"] = _UNSCALED

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """Unscales (if not done yet) and runs ``optimizer.step`` unless a gradient is inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        state = self._state(optimizer)
        if state["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        found = state["found_inf"]
        # the one wait for the device per step (PyTorch's too); update() reuses the value read here
        state["found_inf_value"] = 0.0 if found is None else found.item()
        result = None
        if state["found_inf_value"] == 0:
            result = optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return result

    def update(self, new_scale: Any = None) -> None:
        """Adjusts the scale after the steps of this iteration (or sets it to ``new_scale``)."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale_value = float(new_scale.item() if hasattr(new_scale, "item") else new_scale)
        else:
            states = [s for s in self._per_optimizer.values() if s["found_inf"] is not None]
            if not states:
                raise AssertionError("No inf checks were recorded prior to update.")
            found = [s["found_inf_value"] if "found_inf_value" in s else s["found_inf"].item() for s in states]
            if any(f != 0 for f in found):
                self._scale_value *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    self._scale_value *= self._growth_factor
                    self._growth_tracker = 0
        self._per_optimizer.clear()

    # ---- accessors and checkpoints ----
    def get_scale(self) -> float:
        return self._scale_value if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = int(new_interval)

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict[str, Any]:
        if not self._enabled:
            return {}
        return {"scale": self._scale_value, "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._scale_value = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
