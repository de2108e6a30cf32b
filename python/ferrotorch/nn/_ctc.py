"""Connectionist temporal classification loss (``F.ctc_loss``): the forward (alpha) recursion of Graves et
al. (2006) in log space, vectorised over the batch and the extended label sequence; autograd differentiates
the recursion, so no separate beta pass is written.

Unreachable states hold a large finite negative number rather than ``-inf``: ``logsumexp`` over all-``-inf``
entries has a NaN gradient, which would poison the backward through states that carry no probability.
"""

from __future__ import annotations

from typing import Any

import ferrotorch as torch

_UNREACHABLE = -1e30  # log-probability of a state no alignment reaches (finite, see above)
_IMPOSSIBLE = 1e29  # a final loss above this means no alignment exists: the loss is inf


def _lengths(x: Any, n: int, what: str) -> list[int]:
    vals = x.tolist() if isinstance(x, torch.Tensor) else x
    vals = [vals] if isinstance(vals, int) else list(vals)
    if len(vals) != n:
        raise RuntimeError(f"Expected {what} to have value at most {n}, but got {len(vals)} entries")
    return [int(v) for v in vals]


def _padded_targets(targets: torch.Tensor, target_lengths: list[int]) -> list[list[int]]:
    """Targets as one list per sample, from an ``(N, S)`` padded tensor or a 1-d concatenation."""
    if targets.dim() == 1:
        flat, out, start = targets.tolist(), [], 0
        if sum(target_lengths) > len(flat):
            raise RuntimeError(
                f"Expected tensor to have size at least {sum(target_lengths)} at dimension 0, "
                f"but got size {len(flat)} for argument #2 'targets'"
            )
        for length in target_lengths:
            out.append(flat[start : start + length])
            start += length
        return out
    rows = targets.tolist()
    for n, length in enumerate(target_lengths):
        if length > len(rows[n]):
            raise RuntimeError(
                f"Expected tensor to have size at least {length} at dimension 1, but got size "
                f"{len(rows[n])} for argument #2 'targets'"
            )
    return [rows[n][:length] for n, length in enumerate(target_lengths)]


def ctc_loss(
    log_probs: torch.Tensor,
    targets: torch.Tensor,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> torch.Tensor:
    """CTC loss of ``log_probs`` ``(T, N, C)`` (or ``(T, C)``, log-softmaxed over ``C``) against ``targets``
    ``(N, S)`` or the 1-d concatenation of all targets. ``reduction='mean'`` divides each loss by its target
    length, then averages over the batch, as PyTorch does."""
    unbatched = log_probs.dim() == 2
    if unbatched:
        log_probs, targets = log_probs.unsqueeze(1), targets.unsqueeze(0)
    if log_probs.dim() != 3:
        raise RuntimeError(f"ctc_loss expects log_probs of shape (T, N, C) or (T, C), got {tuple(log_probs.shape)}")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    T, N, C = log_probs.shape
    in_lens = _lengths(input_lengths, N, "input_lengths")
    tgt_lens = _lengths(target_lengths, N, "target_lengths")
    if not 0 <= blank < C:
        raise RuntimeError(f"blank must be in label range, got blank={blank} with {C} classes")
    for n, length in enumerate(in_lens):
        if not 0 <= length <= T:
            raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {length} (sample {n})")
    seqs = _padded_targets(targets, tgt_lens)
    S = max(tgt_lens, default=0)
    L = 2 * S + 1

    # extended labels [blank, l1, blank, l2, ..., blank], padded with blanks; skip transitions s-2 -> s are
    # allowed onto a label that differs from the label two states back
    ext = [[blank] * L for _ in range(N)]
    skip = [[False] * L for _ in range(N)]
    for n, seq in enumerate(seqs):
        for i, label in enumerate(seq):
            ext[n][2 * i + 1] = label
            skip[n][2 * i + 1] = i > 0 and label != seq[i - 1]
    dev = log_probs.device
    ext_t = torch.tensor(ext, dtype=torch.int64, device=dev)
    allow_skip = torch.tensor(skip, device=dev)
    emit = log_probs.gather(2, ext_t.unsqueeze(0).expand(T, N, L))  # (T, N, L)

    neg = torch.full((N, 1), _UNREACHABLE, dtype=log_probs.dtype, device=dev)
    start = torch.full((N, L), _UNREACHABLE, dtype=log_probs.dtype, device=dev)
    start_mask = torch.zeros(N, L, dtype=torch.bool, device=dev)
    start_mask[:, : min(2, L)] = True
    alpha = torch.where(start_mask, emit[0], start)
    lengths = torch.tensor(in_lens, device=dev)
    for t in range(1, T):
        prev1 = torch.cat([neg, alpha[:, :-1]], 1)
        prev2 = torch.cat([neg, neg, alpha[:, :-2]], 1)[:, :L]
        prev2 = torch.where(allow_skip, prev2, torch.full_like(prev2, _UNREACHABLE))
        new = torch.stack([alpha, prev1, prev2]).logsumexp(0) + emit[t]
        alpha = torch.where((lengths > t).unsqueeze(1), new, alpha)  # samples shorter than t keep their end

    last = torch.tensor([2 * s for s in tgt_lens], device=dev).unsqueeze(1)
    before = torch.tensor([max(2 * s - 1, 0) for s in tgt_lens], device=dev).unsqueeze(1)
    a_last = alpha.gather(1, last).squeeze(1)
    a_before = alpha.gather(1, before).squeeze(1)
    has_label = torch.tensor([s > 0 for s in tgt_lens], device=dev)
    a_before = torch.where(has_label, a_before, torch.full_like(a_before, _UNREACHABLE))
    loss = -torch.stack([a_last, a_before]).logsumexp(0)
    empty_input = torch.tensor([length == 0 for length in in_lens], device=dev)
    impossible = (loss > _IMPOSSIBLE) | empty_input
    if empty_input.any().item():  # no frames: the loss is 0 for an empty target, else impossible
        empty_ok = empty_input & ~has_label
        loss = torch.where(empty_ok, torch.zeros_like(loss), loss)
        impossible = impossible & ~empty_ok
    if zero_infinity:
        loss = torch.where(impossible, torch.zeros_like(loss), loss)
    else:
        loss = torch.where(impossible, torch.full_like(loss, float("inf")), loss)
    if reduction == "none":
        return loss.squeeze(0) if unbatched else loss
    if reduction == "sum":
        return loss.sum()
    denom = torch.tensor([max(s, 1) for s in tgt_lens], dtype=loss.dtype, device=dev)
    return (loss / denom).mean()
