"""CTC loss against a brute-force sum over every alignment path, gradients by finite differences."""

from __future__ import annotations

import itertools
import math

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch import nn
from ferrotorch.autograd import gradcheck


def brute_force_ctc(log_probs: np.ndarray, target: list[int], blank: int = 0) -> float:
    """-log of the total probability of every path whose collapse (merge repeats, drop blanks) is ``target``."""
    T, C = log_probs.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        collapsed = [k for k, _ in itertools.groupby(path) if k != blank]
        if collapsed == target:
            total += math.exp(sum(log_probs[t, k] for t, k in enumerate(path)))
    return -math.log(total) if total > 0 else math.inf


def _log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


@pytest.mark.parametrize("target", [[1], [1, 2], [1, 1], [2, 1, 2], []])
def test_matches_brute_force_per_sample(target):
    rng = np.random.default_rng(len(target))
    lp = _log_softmax(rng.standard_normal((5, 3)))
    got = nn.functional.ctc_loss(
        torch.tensor(lp[:, None, :]), torch.tensor([target + [0] * (3 - len(target))]), [5], [len(target)],
        reduction="none",
    )
    np.testing.assert_allclose(got.numpy(), [brute_force_ctc(lp, target)], rtol=1e-10)


def test_batch_with_different_lengths_and_reductions():
    rng = np.random.default_rng(1)
    lp = _log_softmax(rng.standard_normal((5, 3, 4)))
    targets = [[1, 2], [3], [2, 2]]
    in_lens, tgt_lens = [5, 4, 3], [2, 1, 2]
    want = np.array([brute_force_ctc(lp[: in_lens[n], n], targets[n]) for n in range(3)])
    padded = torch.tensor([t + [0] * (2 - len(t)) for t in targets])
    flat = torch.tensor([k for t in targets for k in t])
    for tg in (padded, flat):
        args = (torch.tensor(lp), tg, torch.tensor(in_lens), torch.tensor(tgt_lens))
        np.testing.assert_allclose(nn.functional.ctc_loss(*args, reduction="none").numpy(), want, rtol=1e-10)
        np.testing.assert_allclose(nn.functional.ctc_loss(*args, reduction="sum").item(), want.sum(), rtol=1e-10)
        # 'mean' divides each loss by its target length first
        np.testing.assert_allclose(nn.CTCLoss()(*args).item(), (want / np.array(tgt_lens)).mean(), rtol=1e-10)


def test_impossible_alignment_is_inf_or_zero_with_zero_infinity():
    lp = torch.tensor(_log_softmax(np.zeros((2, 1, 3))), requires_grad=True)
    target = torch.tensor([[1, 1]])  # a repeated label needs a blank between: 3 frames at least
    assert math.isinf(nn.functional.ctc_loss(lp, target, [2], [2], reduction="sum").item())
    loss = nn.CTCLoss(zero_infinity=True, reduction="sum")(lp, target, torch.tensor([2]), torch.tensor([2]))
    assert loss.item() == 0.0
    loss.backward()
    np.testing.assert_array_equal(lp.grad.numpy(), np.zeros((2, 1, 3)))


def test_unbatched_input():
    rng = np.random.default_rng(2)
    lp = _log_softmax(rng.standard_normal((4, 3)))
    got = nn.functional.ctc_loss(torch.tensor(lp), torch.tensor([1, 2]), 4, 2, reduction="sum")
    np.testing.assert_allclose(got.item(), brute_force_ctc(lp, [1, 2]), rtol=1e-10)


def test_gradcheck_through_log_softmax():
    torch.manual_seed(0)
    x = torch.randn(6, 2, 4, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([[1, 2, 2], [3, 1, 0]])

    def f(x):
        return nn.functional.ctc_loss(x.log_softmax(2), targets, [6, 5], [3, 2])

    assert gradcheck(f, (x,))


def test_blank_other_than_zero():
    rng = np.random.default_rng(3)
    lp = _log_softmax(rng.standard_normal((4, 3)))
    got = nn.functional.ctc_loss(torch.tensor(lp[:, None]), torch.tensor([[0, 1]]), [4], [2], blank=2, reduction="sum")
    np.testing.assert_allclose(got.item(), brute_force_ctc(lp, [0, 1], blank=2), rtol=1e-10)


def test_errors():
    lp = torch.randn(4, 1, 3).log_softmax(2)
    with pytest.raises(RuntimeError, match="input_lengths"):
        nn.functional.ctc_loss(lp, torch.tensor([[1]]), [5], [1])
    with pytest.raises(RuntimeError, match="blank must be in label range"):
        nn.functional.ctc_loss(lp, torch.tensor([[1]]), [4], [1], blank=3)
    with pytest.raises(RuntimeError, match="at dimension 1"):
        nn.functional.ctc_loss(lp, torch.tensor([[1]]), [4], [2])
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        nn.functional.ctc_loss(lp, torch.tensor([[1]]), [4], [1], reduction="avg")
    assert repr(nn.CTCLoss(blank=1)) == "CTCLoss()"
