"""Grad-mode context managers and decorators: no_grad, enable_grad, set_grad_enabled, inference_mode."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from . import _C


class _GradMode:
    """Base: a context manager that is also a decorator, like torch's ``_DecoratorContextManager``."""

    _enabled: bool = True

    def __enter__(self) -> None:
        self._prev = _C._set_grad_enabled(self._enabled)

    def __exit__(self, *exc: object) -> None:
        _C._set_grad_enabled(self._prev)

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper

    def clone(self) -> _GradMode:
        return self.__class__()


class _NoParamDecorator(_GradMode):
    """Also usable bare, as ``@torch.no_grad`` (PyTorch >= 2.1), besides ``@torch.no_grad()``."""

    def __new__(cls, orig_func: Callable | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamDecorator):
    """Disables gradient recording inside the block (or the decorated function)."""

    _enabled = False

    def __init__(self) -> None:
        pass


class enable_grad(_NoParamDecorator):
    """Enables gradient recording inside the block."""

    _enabled = True

    def __init__(self) -> None:
        pass


class set_grad_enabled(_GradMode):
    """Sets grad mode on or off; works as a function, a context manager and a decorator."""

    def __init__(self, mode: bool) -> None:
        self._enabled = bool(mode)
        self._prev = _C._set_grad_enabled(self._enabled)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _C._set_grad_enabled(self._prev)

    def __call__(self, fn: Callable) -> Callable:
        _C._set_grad_enabled(self._prev)
        mode = self._enabled

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class inference_mode(_GradMode):
    """Like no_grad (tensors made inside are plain tensors); ``inference_mode(False)`` is a no-op."""

    def __new__(cls, mode: Any = True) -> Any:
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)  # bare ``@torch.inference_mode``

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._enabled = not self.mode

    def __enter__(self) -> None:
        if self.mode:
            self._prev = _C._set_grad_enabled(False)
            self._prev_inf = _C._set_inference_mode(True)

    def __exit__(self, *exc: object) -> None:
        if self.mode:
            _C._set_grad_enabled(self._prev)
            _C._set_inference_mode(self._prev_inf)

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper

    def clone(self) -> inference_mode:
        return inference_mode(self.mode)


def is_grad_enabled() -> bool:
    return _C.is_grad_enabled()


def is_inference_mode_enabled() -> bool:
    return _C.is_inference_mode_enabled()
