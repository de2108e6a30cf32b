"""``torch.func``: functional transforms over modules (currently ``functional_call``)."""

from ferrotorch.nn.utils.stateless import functional_call

__all__ = ["functional_call"]
