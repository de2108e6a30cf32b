"""``ExceptionWrapper``: carries an exception raised in a worker process back to the parent, traceback included."""

from __future__ import annotations

import sys
import traceback
from typing import Any, NoReturn


class KeyErrorMessage(str):
    """A string whose repr is itself, so a re-raised ``KeyError`` prints its multi-line message readably."""

    def __repr__(self) -> str:
        return str(self)


class ExceptionWrapper:
    """Wraps the exception being handled (``sys.exc_info()``) as picklable data."""

    def __init__(self, exc_info: Any = None, where: str = "in background") -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self) -> NoReturn:
        """Raises an exception of the original type whose message holds the worker's traceback."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:  # noqa: BLE001 - any constructor failure: fall back
            raise RuntimeError(msg) from None
        raise exception
