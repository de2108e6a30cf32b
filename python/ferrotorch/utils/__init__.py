"""``torch.utils``: ``data`` (datasets, samplers, ``DataLoader``), ``checkpoint`` (activation checkpointing)."""

from ferrotorch.utils import checkpoint as checkpoint
from ferrotorch.utils import data as data

__all__ = ["checkpoint", "data"]
