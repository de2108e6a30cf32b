"""``torch.utils.hooks``: the handle returned by every ``register_*hook``."""

from __future__ import annotations

import itertools
from typing import Any, Self

__all__ = ["RemovableHandle"]

_ids = itertools.count()


class RemovableHandle:
    """``remove()`` unregisters the hook from the dicts that hold it; usable as a context manager."""

    def __init__(self, hooks_dict: Any, *, extra_dict: Any = None) -> None:
        self.hooks_dicts = [hooks_dict]
        if extra_dict is not None:
            self.hooks_dicts += list(extra_dict) if isinstance(extra_dict, (list, tuple)) else [extra_dict]
        self.id = next(_ids)

    def remove(self) -> None:
        for d in self.hooks_dicts:
            d.pop(self.id, None)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *args: object) -> None:
        self.remove()
