"""Variable-length sequences: ``PackedSequence``, ``pack_padded_sequence``, ``pad_packed_sequence``,
``pad_sequence``, ``pack_sequence``, ``unpad_sequence``, ``unpack_sequence``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

import ferrotorch as torch

__all__ = [
    "PackedSequence", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence", "pad_sequence",
    "unpack_sequence", "unpad_sequence",
]

Tensor = torch.Tensor


class PackedSequence(NamedTuple):
    """Time-major packed batch: ``data (sum(batch_sizes), *)`` holds step ``t``'s ``batch_sizes[t]`` rows in turn.

    ``sorted_indices``/``unsorted_indices`` map between the caller's batch order and the length-sorted one.
    """

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """Move/cast ``data`` (and the index tensors to ``data``'s device)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        sorted_indices = self.sorted_indices.to(data.device) if self.sorted_indices is not None else None
        unsorted = self.unsorted_indices.to(data.device) if self.unsorted_indices is not None else None
        return PackedSequence(data, self.batch_sizes, sorted_indices, unsorted)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, *args: Any, **kwargs: Any) -> PackedSequence:
        return PackedSequence(
            self.data.cuda(*args, **kwargs), self.batch_sizes,
            self.sorted_indices.cuda(*args, **kwargs) if self.sorted_indices is not None else None,
            self.unsorted_indices.cuda(*args, **kwargs) if self.unsorted_indices is not None else None,
        )

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def _invert_permutation(permutation: Tensor | None) -> Tensor | None:
    if permutation is None:
        return None
    perm = permutation.cpu().numpy()
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.shape[0])
    return torch.tensor(inverse, device=permutation.device)


def _lengths_list(lengths: Any) -> list[int]:
    if isinstance(lengths, torch.Tensor):
        if lengths.dim() != 1:
            raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got lengths of shape "
                               f"{list(lengths.shape)}")
        return [int(v) for v in lengths.tolist()]
    return [int(v) for v in lengths]


def pack_padded_sequence(
    input: Tensor, lengths: Any, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded ``(T, B, *)`` (or ``(B, T, *)`` with ``batch_first``) batch of sequences of ``lengths``."""
    lens = _lengths_list(lengths)
    batch_dim = 0 if batch_first else 1
    if len(lens) != input.shape[batch_dim]:
        raise RuntimeError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {len(lens)} (batch_size="
            f"{input.shape[batch_dim]})"
        )
    if enforce_sorted:
        if any(a < b for a, b in itertools.pairwise(lens)):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can pass "
                "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this requirement "
                "if you do not need ONNX exportability."
            )
        sorted_indices = None
    else:
        order = sorted(range(len(lens)), key=lambda i: -lens[i])
        sorted_indices = torch.tensor(order, dtype=torch.int64, device=input.device)
        lens = [lens[i] for i in order]
        input = input.index_select(batch_dim, sorted_indices)
    if lens and lens[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    if lens and lens[0] > input.shape[0]:
        raise RuntimeError(f"Expected sequence length to be at most {input.shape[0]}, but got {lens[0]}")
    max_len = lens[0] if lens else 0
    batch_sizes = [sum(1 for n in lens if n > t) for t in range(max_len)]
    data = torch.cat([input[t, :bs] for t, bs in enumerate(batch_sizes)], 0)
    return PackedSequence(
        data, torch.tensor(batch_sizes, dtype=torch.int64), sorted_indices, _invert_permutation(sorted_indices)
    )


def pad_packed_sequence(
    sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0, total_length: int | None = None
) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`pack_padded_sequence`: returns the padded batch and the ``int64`` lengths."""
    data = sequence.data
    batch_sizes = [int(b) for b in sequence.batch_sizes.tolist()]
    max_batch = batch_sizes[0]
    max_len = len(batch_sizes)
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in input, but got "
                f"total_length={total_length} and max sequence length being {max_len}"
            )
    else:
        total_length = max_len
    feature = tuple(data.shape[1:])
    rows = []
    offset = 0
    for bs in batch_sizes:
        step = data[offset: offset + bs]
        offset += bs
        if bs < max_batch:
            fill = torch.full((max_batch - bs, *feature), padding_value, dtype=data.dtype, device=data.device)
            step = torch.cat([step, fill], 0)
        rows.append(step)
    for _ in range(total_length - max_len):
        rows.append(torch.full((max_batch, *feature), padding_value, dtype=data.dtype, device=data.device))
    padded = torch.stack(rows, 0)
    lengths = [sum(1 for bs in batch_sizes if bs > b) for b in range(max_batch)]
    lengths_t = torch.tensor(lengths, dtype=torch.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths_t = lengths_t.index_select(0, sequence.unsorted_indices.cpu())
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, lengths_t


def pad_sequence(
    sequences: Sequence[Tensor] | Tensor, batch_first: bool = False, padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack sequences ``(L_i, *)`` padded to the longest: ``(T, B, *)`` or ``(B, T, *)``."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, torch.Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = max_len - s.shape[0]
        if extra:
            fill = torch.full((extra, *s.shape[1:]), padding_value, dtype=s.dtype, device=s.device)
            s = torch.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return torch.stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into its sequences."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:n] for seq, n in zip(padded_sequences, _lengths_list(lengths))]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences ``(L_i, *)``."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Unpack into the list of sequences."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
