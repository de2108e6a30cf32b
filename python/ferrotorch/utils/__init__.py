"""``torch.utils``: ``data`` (datasets, samplers, ``DataLoader``)."""

from ferrotorch.utils import data as data

__all__ = ["data"]
