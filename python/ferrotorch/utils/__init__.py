"""``torch.utils``: ``data`` (datasets, samplers, ``DataLoader``), ``checkpoint`` (activation checkpointing),
``dlpack`` (DLPack exchange)."""

from ferrotorch.utils import checkpoint as checkpoint
from ferrotorch.utils import data as data
from ferrotorch.utils import dlpack as dlpack

__all__ = ["checkpoint", "data", "dlpack"]
