"""``torch.autograd.graph``: the Node type of ``grad_fn``."""

from .._C import Node

__all__ = ["Node"]
