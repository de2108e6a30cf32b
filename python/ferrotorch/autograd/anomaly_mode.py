"""Anomaly detection: ``detect_anomaly`` / ``set_detect_anomaly``.

With the NaN check on, the backward engine (Rust) checks the gradients every node returns and raises
PyTorch's "Function 'XBackward0' returned nan values in its Nth output." at the first node that makes a NaN."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from .. import _C

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
    _C._set_anomaly_check_nan(_enabled and _check_nan)


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
