"""``ChannelShuffle``: regroup channels as in ShuffleNet."""

from __future__ import annotations

import ferrotorch as torch
from ferrotorch.nn import functional as F
from ferrotorch.nn.modules.module import Module

__all__ = ["ChannelShuffle"]


class ChannelShuffle(Module):
    """Divide the ``C`` channels of ``(N, C, *)`` into ``groups`` and interleave them; output ``(N, C, *)``."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
