"""``DistributedSampler``: each of ``num_replicas`` processes iterates a disjoint, equally long share of a
dataset's indices."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized
from typing import Any

import ferrotorch
from ferrotorch.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler[int]):
    """Indices ``rank, rank + num_replicas, ...`` of a (shuffled, per ``seed + epoch``) index list that is
    padded by wrapping around to a multiple of ``num_replicas`` (or cut down to one with ``drop_last``).

    The order follows PyTorch's algorithm step for step, but the shuffle comes from ferrotorch's
    ``randperm``, whose generator is not PyTorch's: the same seed gives a different (equally uniform)
    permutation than under PyTorch. ``shuffle=False`` orders match PyTorch exactly. Call ``set_epoch``
    before each epoch for a new shuffle; every replica must use the same ``seed``.

    There is no process group here, so ``num_replicas`` and ``rank`` must be given."""

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            raise RuntimeError("Requires distributed package to be available")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            # drop the tail so every replica gets the same count without padding
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = ferrotorch.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices: list[Any] = ferrotorch.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[: self.total_size]
        assert len(indices) == self.total_size
        indices = indices[self.rank : self.total_size : self.num_replicas]
        assert len(indices) == self.num_samples
        return iter(indices)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Sets the epoch that, with ``seed``, fixes this epoch's shuffle (the same on every replica)."""
        self.epoch = epoch
