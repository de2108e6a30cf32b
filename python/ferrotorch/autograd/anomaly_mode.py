"""Anomaly detection: ``detect_anomaly`` / ``set_detect_anomaly`` and the NaN check on gradients.

The backward engine runs in Rust and exposes no per-node hook to Python, so the NaN check runs in the
Python ``autograd.grad`` / ``autograd.backward`` wrappers on the gradients they can see: the gradients
``grad`` returns and the ``.grad`` of the ``inputs`` given to ``backward``. The node named in the error is the
first one, walking back from the outputs, that hands a gradient to that input: the node PyTorch names
whenever the NaN first appears there (a NaN made further up the graph is reported where it arrives).
``loss.backward()`` without ``inputs`` is not checked: the leaves it reaches are not visible from Python."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from .._C import Tensor
from .._grad_mode import enable_grad

__all__ = ["detect_anomaly", "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "set_anomaly_enabled",
           "set_detect_anomaly"]

_enabled = False
_check_nan = True


def is_anomaly_enabled() -> bool:
    return _enabled


def is_anomaly_check_nan_enabled() -> bool:
    return _check_nan


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    global _enabled, _check_nan
    _enabled = bool(enabled)
    _check_nan = bool(check_nan)


class _AnomalyContext:
    """Shared context-manager/decorator plumbing: ``__enter__`` sets the mode, ``__exit__`` restores it."""

    def __init__(self) -> None:
        self.prev = is_anomaly_enabled()
        self.prev_check_nan = is_anomaly_check_nan_enabled()

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = (is_anomaly_enabled(), is_anomaly_check_nan_enabled())
            set_anomaly_enabled(*self._args)
            try:
                return func(*args, **kwargs)
            finally:
                set_anomaly_enabled(*prev)

        return wrapper

    def __exit__(self, *exc: object) -> None:
        set_anomaly_enabled(self.prev, self.prev_check_nan)


class detect_anomaly(_AnomalyContext):
    """Context manager (and decorator) that turns anomaly detection on: backward raises RuntimeError when a
    gradient holds NaN (``check_nan``)."""

    def __init__(self, check_nan: bool = True) -> None:
        super().__init__()
        self.check_nan = check_nan
        self._args = (True, check_nan)
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should "
                      "only be enabled for debugging.", stacklevel=2)

    def __enter__(self) -> None:
        set_anomaly_enabled(True, self.check_nan)


class set_detect_anomaly(_AnomalyContext):
    """Sets anomaly detection on or off from construction on; as a context manager, restores it on exit."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        super().__init__()
        self.mode = mode
        self.check_nan = check_nan
        self._args = (mode, check_nan)
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self) -> None:
        pass


def _has_nan(t: Tensor | None) -> bool:
    return t is not None and t.is_floating_point() and bool(t.isnan().any().item())


def _grad_node(t: Tensor) -> Any:
    """The node that receives ``t``'s gradient: its ``grad_fn``, or for a leaf its AccumulateGrad node
    (reached through a throwaway view, whose only edge leads to it)."""
    if t.grad_fn is not None or not t.requires_grad:
        return t.grad_fn
    with enable_grad():
        return t.view(t.shape).grad_fn.next_functions[0][0]


def _producer(outputs: Sequence[Tensor], target: Tensor) -> tuple[str, int]:
    """(name, output index) of the first backward node, walking back from ``outputs``, that hands a
    gradient to ``target``."""
    want = _grad_node(target)
    seen: list[Any] = []
    queue = [o.grad_fn for o in outputs if o.grad_fn is not None]
    while queue:
        node = queue.pop(0)
        if any(node == s for s in seen):
            continue
        seen.append(node)
        for idx, (nxt, _) in enumerate(node.next_functions):
            if nxt is None:
                continue
            if want is not None and nxt == want:
                return node.name(), idx
            queue.append(nxt)
    return (outputs[0].grad_fn.name() if outputs and outputs[0].grad_fn is not None else "AccumulateGrad"), 0


def check_nan(outputs: Sequence[Tensor], inputs: Sequence[Tensor], grads: Sequence[Tensor | None]) -> None:
    """Raises PyTorch's anomaly error when anomaly mode checks NaN and one of ``grads`` (those of
    ``inputs``) holds NaN."""
    if not (_enabled and _check_nan):
        return
    for inp, g in zip(inputs, grads):
        if _has_nan(g):
            name, idx = _producer(outputs, inp)
            raise RuntimeError(f"Function '{name}' returned nan values in its {idx}th output.")
