"""DataLoader internals, laid out as PyTorch's ``torch.utils.data._utils``: collate, fetch, worker, pin_memory."""

from __future__ import annotations

# How often (seconds) a blocked worker or parent re-checks that its peer is still alive.
MP_STATUS_CHECK_INTERVAL = 5.0

from . import collate, fetch, pin_memory, worker

__all__ = ["MP_STATUS_CHECK_INTERVAL", "collate", "fetch", "pin_memory", "worker"]
