"""Losses (functional and module forms) against numpy, with reductions, options and gradchecks."""

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import nn
from ferrotorch.autograd import gradcheck

RNG = np.random.default_rng(1)


def t64(a, requires_grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def close(a, b, tol=1e-7):
    np.testing.assert_allclose(a.detach().numpy(), b, rtol=tol, atol=tol)


def np_log_softmax(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


REDUCTIONS = ["none", "mean", "sum"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(reduction):
    a, b = RNG.standard_normal((4, 5)) * 2, RNG.standard_normal((4, 5))
    x, y = t64(a, True), t64(b)
    d = a - b
    close(F.mse_loss(x, y, reduction=reduction), reduce(d**2, reduction))
    close(F.l1_loss(x, y, reduction=reduction), reduce(np.abs(d), reduction))
    ad = np.abs(d)
    close(F.smooth_l1_loss(x, y, reduction=reduction, beta=0.5),
          reduce(np.where(ad < 0.5, 0.5 * d**2 / 0.5, ad - 0.25), reduction))
    close(F.huber_loss(x, y, reduction=reduction, delta=0.7),
          reduce(np.where(ad < 0.7, 0.5 * d**2, 0.7 * (ad - 0.35)), reduction))
    assert gradcheck(lambda t: F.mse_loss(t, y, reduction=reduction), (x,))
    assert gradcheck(lambda t: F.smooth_l1_loss(t, y, reduction=reduction), (x,))


def test_mse_loss_module_seed_002():
    out = t64(np.linspace(0, 1, 10).reshape(1, 10))
    y = torch.arange(0, 10).view(1, 10).float().double()
    criterion = nn.MSELoss()
    assert criterion(out, y).item() == pytest.approx(np.mean((np.linspace(0, 1, 10) - np.arange(10)) ** 2))
    assert repr(criterion) == "MSELoss()"
    with pytest.raises(ValueError, match="sum_ is not a valid value for reduction"):
        F.mse_loss(out, y, reduction="sum_")


def test_legacy_size_average_and_reduce():
    x, y = t64([1.0, 2.0]), t64([0.0, 0.0])
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert F.mse_loss(x, y, size_average=False).item() == 5.0
    with pytest.warns(UserWarning):
        assert nn.L1Loss(reduce=False)(x, y).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_indices(reduction):
    logits = RNG.standard_normal((6, 4))
    target = np.array([0, 3, 1, -100, 2, 3])
    w = np.array([0.5, 1.0, 2.0, 1.5])
    lp = np_log_softmax(logits)
    valid = target != -100
    safe = np.where(valid, target, 0)
    picked = -lp[np.arange(6), safe] * w[safe] * valid
    expected = {"none": picked, "sum": picked.sum(), "mean": picked.sum() / (w[safe] * valid).sum()}[reduction]
    x = t64(logits, True)
    close(F.cross_entropy(x, torch.tensor(target), weight=t64(w), reduction=reduction), expected)
    close(nn.CrossEntropyLoss(weight=t64(w), reduction=reduction)(x, torch.tensor(target)), expected)
    close(F.nll_loss(t64(lp), torch.tensor(target), weight=t64(w), reduction=reduction), expected)
    assert gradcheck(lambda t: F.cross_entropy(t, torch.tensor(target), weight=t64(w), reduction=reduction), (x,))


def test_cross_entropy_label_smoothing_matches_formula():
    logits = RNG.standard_normal((5, 3))
    target = np.array([0, 2, 1, 1, 0])
    eps = 0.2
    lp = np_log_softmax(logits)
    smoothed = np.full((5, 3), eps / 3)
    smoothed[np.arange(5), target] += 1 - eps
    expected = -(smoothed * lp).sum(1).mean()
    x = t64(logits, True)
    close(F.cross_entropy(x, torch.tensor(target), label_smoothing=eps), expected)
    # class-probability targets with the same distribution give the same loss
    close(F.cross_entropy(x, t64(smoothed)), expected)
    assert gradcheck(lambda t: F.cross_entropy(t, torch.tensor(target), label_smoothing=eps), (x,))


def test_cross_entropy_probabilities_and_extra_dims():
    logits = RNG.standard_normal((2, 3, 4, 5))
    probs = np.exp(np_log_softmax(RNG.standard_normal((2, 3, 4, 5))))
    lp = np_log_softmax(logits)
    close(F.cross_entropy(t64(logits), t64(probs)), -(probs * lp).sum(1).mean())
    target = RNG.integers(0, 3, size=(2, 4, 5))
    picked = np.take_along_axis(lp, target[:, None], 1)[:, 0]
    close(F.cross_entropy(t64(logits), torch.tensor(target), reduction="none"), -picked)
    close(F.cross_entropy(t64(logits[0, :, 0, 0]), torch.tensor(1)), -lp[0, 1, 0, 0])


def test_cross_entropy_errors():
    with pytest.raises(IndexError, match="Target 5 is out of bounds"):
        F.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="Expected input batch_size \\(2\\) to match target batch_size \\(3\\)"):
        F.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1, 2]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    p = RNG.uniform(0.05, 0.95, (3, 4))
    y = (RNG.uniform(size=(3, 4)) > 0.5).astype(np.float64)
    w = RNG.uniform(0.5, 2, (3, 4))
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p)) * w
    close(F.binary_cross_entropy(t64(p), t64(y), weight=t64(w), reduction=reduction), reduce(bce, reduction))
    logits = RNG.standard_normal((3, 4)) * 3
    pos = np.array([1.0, 2.0, 0.5, 3.0])
    sig = 1 / (1 + np.exp(-logits))
    bcel = -(pos * y * np.log(sig) + (1 - y) * np.log(1 - sig))
    close(F.binary_cross_entropy_with_logits(t64(logits), t64(y), pos_weight=t64(pos), reduction=reduction),
          reduce(bcel, reduction))
    close(nn.BCEWithLogitsLoss(pos_weight=t64(pos), reduction=reduction)(t64(logits), t64(y)),
          reduce(bcel, reduction))
    x = t64(logits, True)
    assert gradcheck(lambda t: F.binary_cross_entropy_with_logits(t, t64(y), pos_weight=t64(pos)), (x,))
    assert gradcheck(lambda t: F.binary_cross_entropy(torch.sigmoid(t), t64(y)), (x,))


def test_bce_clamps_log_and_checks_size():
    assert F.binary_cross_entropy(t64([0.0]), t64([1.0])).item() == pytest.approx(100.0)
    with pytest.raises(ValueError, match="that is different to the input size"):
        F.binary_cross_entropy(t64([0.5, 0.5]), t64([1.0]))


def test_bce_with_logits_is_stable_for_large_logits():
    out = F.binary_cross_entropy_with_logits(t64([1000.0, -1000.0]), t64([0.0, 1.0]), reduction="none")
    close(out, [1000.0, 1000.0])


def test_kl_div():
    lp = np_log_softmax(RNG.standard_normal((3, 4)))
    q = np.exp(np_log_softmax(RNG.standard_normal((3, 4))))
    q[0, 0] = 0.0
    pointwise = np.where(q > 0, q * (np.log(np.where(q > 0, q, 1)) - lp), 0.0)
    close(F.kl_div(t64(lp), t64(q), reduction="batchmean"), pointwise.sum() / 3)
    close(F.kl_div(t64(lp), t64(q), reduction="sum"), pointwise.sum())
    qq = np.exp(np_log_softmax(RNG.standard_normal((3, 4))))
    close(F.kl_div(t64(lp), t64(np.log(qq)), reduction="none", log_target=True), qq * (np.log(qq) - lp))
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(t64(lp), t64(q))
    assert gradcheck(lambda t: F.kl_div(t, t64(q), reduction="batchmean"), (t64(lp, True),))


def test_ranking_and_embedding_losses():
    x1, x2, x3 = (RNG.standard_normal((4, 3)) for _ in range(3))
    y = np.array([1.0, -1.0, 1.0, -1.0])
    cos = (x1 * x2).sum(1) / np.sqrt(((x1**2).sum(1) + 1e-12) * ((x2**2).sum(1) + 1e-12))
    ref = np.where(y == 1, 1 - cos, np.maximum(cos - 0.1, 0))
    close(F.cosine_embedding_loss(t64(x1), t64(x2), t64(y), margin=0.1), ref.mean())
    close(F.margin_ranking_loss(t64(x1[:, 0]), t64(x2[:, 0]), t64(y), margin=0.3, reduction="none"),
          np.maximum(-y * (x1[:, 0] - x2[:, 0]) + 0.3, 0))
    d_ap = np.linalg.norm(x1 - x2 + 1e-6, axis=1)
    d_an = np.linalg.norm(x1 - x3 + 1e-6, axis=1)
    close(F.triplet_margin_loss(t64(x1), t64(x2), t64(x3), margin=1.0), np.maximum(d_ap - d_an + 1.0, 0).mean())
    d_pn = np.linalg.norm(x2 - x3 + 1e-6, axis=1)
    close(nn.TripletMarginLoss(swap=True, reduction="sum")(t64(x1), t64(x2), t64(x3)),
          np.maximum(d_ap - np.minimum(d_an, d_pn) + 1.0, 0).sum())
    assert gradcheck(lambda a, b: F.cosine_embedding_loss(a, b, t64(y)), (t64(x1, True), t64(x2, True)))
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        nn.TripletMarginLoss(margin=0)


def test_other_losses():
    x = RNG.standard_normal((3, 4))
    y = (RNG.uniform(size=(3, 4)) > 0.5).astype(np.float64)
    s = 2 * y - 1
    close(F.soft_margin_loss(t64(x), t64(s)), np.log1p(np.exp(-s * x)).mean())
    close(F.hinge_embedding_loss(t64(x), t64(s), margin=0.5, reduction="none"),
          np.where(s == 1, x, np.maximum(0, 0.5 - x)))
    close(F.multilabel_soft_margin_loss(t64(x), t64(y)),
          (-(y * np.log(1 / (1 + np.exp(-x))) + (1 - y) * np.log(1 / (1 + np.exp(x))))).mean(1).mean())
    rate = np.abs(RNG.standard_normal((3, 4))) * 3
    close(F.poisson_nll_loss(t64(x), t64(rate)), (np.exp(x) - rate * x).mean())
    var = RNG.uniform(0.5, 2, (3, 4))
    close(F.gaussian_nll_loss(t64(x), t64(rate), t64(var)), (0.5 * (np.log(var) + (x - rate) ** 2 / var)).mean())
    target = np.array([1, 0, 3])
    z = np.maximum(0, 1 - x[np.arange(3), target][:, None] + x)
    z[np.arange(3), target] = 0
    close(F.multi_margin_loss(t64(x), torch.tensor(target)), (z.sum(1) / 4).mean())


def test_loss_module_reprs_and_buffers():
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    w = torch.ones(3)
    ce = nn.CrossEntropyLoss(weight=w, ignore_index=1, label_smoothing=0.1)
    assert ce.weight is w and list(ce.state_dict()) == ["weight"]
    assert ce.ignore_index == 1 and ce.reduction == "mean"
    assert list(nn.BCEWithLogitsLoss(pos_weight=torch.ones(2)).state_dict()) == ["pos_weight"]
    assert list(nn.NLLLoss().state_dict()) == []
