"""ferrotorch.optim.lr_scheduler: lr curves against PyTorch's closed forms (computed here by hand), state_dicts,
ReduceLROnPlateau's modes, composition, errors and warnings; and, when PyTorch is installed, curves side by side
with the real ``torch.optim.lr_scheduler``."""

from __future__ import annotations

import copy
import math
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import ferrotorch as ft
import pytest
from ferrotorch.optim import lr_scheduler as L

try:  # the real optimizers, once they exist
    from ferrotorch.optim import SGD as _SGD
    from ferrotorch.optim import Adam as _Adam
except ImportError:  # pragma: no cover - depends on the state of the tree
    _SGD = _Adam = None


class _StandIn:
    """Minimal optimizer: ``param_groups``, ``defaults``, ``state`` and a ``step`` that does nothing."""

    def __init__(self, groups: list[dict[str, Any]], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Any, Any] = {}
        self.param_groups = []
        for g in groups:
            group = dict(defaults)
            group.update(g)
            self.param_groups.append(group)

    def step(self, closure: Callable[[], float] | None = None) -> None:
        return None


def make_opt(lrs: tuple[float, ...] = (0.1,), kind: str = "sgd", momentum: float = 0.9) -> Any:
    """An optimizer with one param group per lr: ferrotorch's SGD/Adam when present, else a stand-in."""
    params = [[ft.zeros(3, requires_grad=True)] for _ in lrs]
    groups = [{"params": p, "lr": lr} for p, lr in zip(params, lrs, strict=True)]
    if kind == "sgd":
        if _SGD is not None:
            return _SGD(groups, lr=lrs[0], momentum=momentum)
        defaults = {"lr": lrs[0], "momentum": momentum, "dampening": 0, "weight_decay": 0, "nesterov": False}
        return _StandIn(groups, defaults)
    if kind == "adam":
        if _Adam is not None:
            return _Adam(groups, lr=lrs[0], betas=(0.9, 0.999))
        return _StandIn(groups, {"lr": lrs[0], "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0})
    if kind == "plain":  # no momentum, no betas
        return _StandIn(groups, {"lr": lrs[0]})
    raise AssertionError(kind)


def curve(opt: Any, sched: Any, n: int, key: str = "lr") -> list[list[float]]:
    """Per-group values at epochs 0..n-1 (read before each optimizer.step(); scheduler.step() pair)."""
    out = []
    for _ in range(n):
        if key == "lr":
            out.append([float(v) for v in sched.get_last_lr()])
        elif key == "beta1":
            out.append([g["betas"][0] for g in opt.param_groups])
        else:
            out.append([g[key] for g in opt.param_groups])
        opt.step()
        sched.step()
    return out


def assert_curve(got: list[list[float]], expected: list[list[float]], rel: float = 1e-9) -> None:
    assert len(got) == len(expected)
    for e, (g, x) in enumerate(zip(got, expected, strict=True)):
        assert g == pytest.approx(x, rel=rel, abs=1e-15), f"epoch {e}: {g} != {x}"


N = 30


# ---------------------------------------------------------------------------------------------------------------
# curves against the closed forms
# ---------------------------------------------------------------------------------------------------------------


def test_step_lr() -> None:
    opt = make_opt((0.1, 0.5))
    sched = L.StepLR(opt, step_size=4, gamma=0.5)
    expected = [[b * 0.5 ** (e // 4) for b in (0.1, 0.5)] for e in range(N)]
    assert_curve(curve(opt, sched, N), expected)
    assert sched.last_epoch == N
    assert opt.param_groups[1]["lr"] == pytest.approx(0.5 * 0.5 ** (N // 4))


def test_multistep_lr_with_repeated_milestone() -> None:
    opt = make_opt((0.2,))
    milestones = [5, 12, 12, 20]
    sched = L.MultiStepLR(opt, milestones=milestones, gamma=0.3)
    expected = [[0.2 * 0.3 ** sum(m <= e for m in milestones)] for e in range(N)]
    assert_curve(curve(opt, sched, N), expected)


def test_exponential_lr() -> None:
    opt = make_opt((0.1, 0.01))
    sched = L.ExponentialLR(opt, gamma=0.9)
    assert_curve(curve(opt, sched, N), [[0.1 * 0.9**e, 0.01 * 0.9**e] for e in range(N)])


@pytest.mark.parametrize("eta_min", [0.0, 0.001])
def test_cosine_annealing_lr_past_t_max(eta_min: float) -> None:
    opt = make_opt((0.1,))
    t_max = 10
    sched = L.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
    expected = [[eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * e / t_max)) / 2] for e in range(N)]
    assert_curve(curve(opt, sched, N), expected, rel=1e-7)
    # the lr at T_max is the minimum, at 2*T_max back to base
    assert expected[10][0] == pytest.approx(eta_min, abs=1e-15)
    assert expected[20][0] == pytest.approx(0.1)


def test_cosine_annealing_warm_restarts_t_mult() -> None:
    opt = make_opt((0.1,))
    sched = L.CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=2, eta_min=0.01)
    expected, t_cur, t_i = [], 0, 5
    for _ in range(N):
        expected.append([0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * t_cur / t_i)) / 2])
        t_cur += 1
        if t_cur >= t_i:
            t_cur, t_i = 0, t_i * 2
    got = curve(opt, sched, N)
    assert_curve(got, expected)
    # restarts at epochs 5 and 15 (periods 5, 10, 20)
    assert got[5][0] == pytest.approx(0.1) and got[15][0] == pytest.approx(0.1)
    assert sched.T_i == 20 and sched.T_cur == N - 15


def test_cosine_annealing_warm_restarts_fractional_epoch() -> None:
    opt = make_opt((1.0,))
    sched = L.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2)
    sched.step(7.5)  # second period: starts at 4, length 8 -> T_cur = 3.5
    assert sched.T_i == 8 and sched.T_cur == pytest.approx(3.5) and sched.last_epoch == 7
    assert sched.get_last_lr()[0] == pytest.approx((1 + math.cos(math.pi * 3.5 / 8)) / 2)
    sched.step(2.25)
    assert sched.T_i == 4 and sched.get_last_lr()[0] == pytest.approx((1 + math.cos(math.pi * 2.25 / 4)) / 2)
    with pytest.raises(ValueError, match="Expected non-negative epoch"):
        sched.step(-1)


def test_cosine_annealing_warm_restarts_t_mult_1_closed_form() -> None:
    opt = make_opt((1.0,))
    sched = L.CosineAnnealingWarmRestarts(opt, T_0=6)
    assert_curve(curve(opt, sched, N), [[(1 + math.cos(math.pi * (e % 6) / 6)) / 2] for e in range(N)])


def test_lambda_lr_per_group() -> None:
    opt = make_opt((0.1, 0.3))
    sched = L.LambdaLR(opt, lr_lambda=[lambda e: 0.95**e, lambda e: 1.0 / (e + 1)])
    assert_curve(curve(opt, sched, N), [[0.1 * 0.95**e, 0.3 / (e + 1)] for e in range(N)])


def test_multiplicative_lr() -> None:
    opt = make_opt((0.1,))
    sched = L.MultiplicativeLR(opt, lr_lambda=lambda e: 1.0 - 0.01 * e)
    expected = [[0.1 * math.prod(1.0 - 0.01 * k for k in range(1, e + 1))] for e in range(N)]
    assert_curve(curve(opt, sched, N), expected)


def test_linear_lr() -> None:
    opt = make_opt((0.1, 0.2))
    sched = L.LinearLR(opt, start_factor=0.25, end_factor=0.75, total_iters=8)
    expected = [[b * (0.25 + 0.5 * min(e, 8) / 8) for b in (0.1, 0.2)] for e in range(N)]
    assert_curve(curve(opt, sched, N), expected)


def test_constant_lr() -> None:
    opt = make_opt((0.1,))
    sched = L.ConstantLR(opt, factor=0.5, total_iters=4)
    assert_curve(curve(opt, sched, N), [[0.05 if e < 4 else 0.1] for e in range(N)])


def test_polynomial_lr() -> None:
    opt = make_opt((0.1,))
    sched = L.PolynomialLR(opt, total_iters=20, power=2.0)
    assert_curve(curve(opt, sched, N), [[0.1 * (1 - min(e, 20) / 20) ** 2] for e in range(N)], rel=1e-7)


def _onecycle_expected(
    total: int, max_lr: float, pct: float, div: float, final_div: float, three_phase: bool, anneal: str
) -> tuple[list[float], list[float]]:
    """PyTorch's documented 1cycle policy, written out phase by phase."""
    init = max_lr / div
    low = init / final_div

    def ann(a: float, b: float, t: float) -> float:
        if anneal == "cos":
            return b + (a - b) * (1 + math.cos(math.pi * t)) / 2
        return a + (b - a) * t

    up_end = pct * total - 1
    lrs, moms = [], []
    for s in range(total):
        if not three_phase:
            if s <= up_end:
                t = s / up_end
                lrs.append(ann(init, max_lr, t))
                moms.append(ann(0.95, 0.85, t))
            else:
                t = (s - up_end) / (total - 1 - up_end)
                lrs.append(ann(max_lr, low, t))
                moms.append(ann(0.85, 0.95, t))
        else:
            down_end = 2 * pct * total - 2
            if s <= up_end:
                t = s / up_end
                lrs.append(ann(init, max_lr, t))
                moms.append(ann(0.95, 0.85, t))
            elif s <= down_end:
                t = (s - up_end) / (down_end - up_end)
                lrs.append(ann(max_lr, init, t))
                moms.append(ann(0.85, 0.95, t))
            else:
                t = (s - down_end) / (total - 1 - down_end)
                lrs.append(ann(init, low, t))
                moms.append(0.95)
    return lrs, moms


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_lr_and_momentum(anneal: str, three_phase: bool) -> None:
    opt = make_opt((0.123,))
    sched = L.OneCycleLR(
        opt, max_lr=0.5, total_steps=N, pct_start=0.3, anneal_strategy=anneal, three_phase=three_phase
    )
    lrs, moms = _onecycle_expected(N, 0.5, 0.3, 25.0, 1e4, three_phase, anneal)
    g = opt.param_groups[0]
    assert (
        g["initial_lr"] == pytest.approx(0.02) and g["max_lr"] == 0.5 and g["min_lr"] == pytest.approx(2e-6)
    )
    got_lr, got_mom = [], []
    for _ in range(N):
        got_lr.append(sched.get_last_lr()[0])
        got_mom.append(opt.param_groups[0]["momentum"])
        opt.step()
        if len(got_lr) < N:
            sched.step()
    assert got_lr == pytest.approx(lrs, rel=1e-9)
    assert got_mom == pytest.approx(moms, rel=1e-9)
    assert got_lr[-1] == pytest.approx(2e-6)
    sched.step()  # step N == total_steps is allowed, N + 1 is not
    with pytest.raises(ValueError, match=f"Tried to step {N + 1} times"):
        sched.step()


def test_one_cycle_lr_betas_and_epochs() -> None:
    opt = make_opt((0.01, 0.01), kind="adam")
    sched = L.OneCycleLR(opt, max_lr=[0.1, 0.2], epochs=3, steps_per_epoch=10, div_factor=10.0)
    assert sched.total_steps == 30
    lrs, moms = _onecycle_expected(30, 0.1, 0.3, 10.0, 1e4, False, "cos")
    lrs2, _ = _onecycle_expected(30, 0.2, 0.3, 10.0, 1e4, False, "cos")
    got_lr, got_b = [], []
    for i in range(30):
        got_lr.append(sched.get_last_lr())
        got_b.append([g["betas"] for g in opt.param_groups])
        opt.step()
        if i < 29:
            sched.step()
    assert_curve(got_lr, [[a, b] for a, b in zip(lrs, lrs2, strict=True)])
    assert [b[0][0] for b in got_b] == pytest.approx(moms)
    assert all(b[1][1] == 0.999 for b in got_b)  # beta2 untouched


def _cyclic_expected(e: int, base: float, top: float, step: int, scale: float) -> float:
    """Smith's triangular policy: cycle = floor(1 + e / 2s), x = |e / s - 2 cycle + 1|."""
    cycle = math.floor(1 + e / (2 * step))
    x = abs(e / step - 2 * cycle + 1)
    return base + (top - base) * max(0.0, 1 - x) * scale


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_lr_modes_and_momentum(mode: str) -> None:
    opt = make_opt((0.5,))
    gamma = 0.97
    sched = L.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4, mode=mode, gamma=gamma)
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["momentum"] == 0.9

    def scale(e: int) -> float:
        cycle = math.floor(1 + e / 8)
        return {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma**e}[mode]

    exp_lr = [[_cyclic_expected(e, 0.01, 0.1, 4, scale(e))] for e in range(N)]
    # momentum goes the other way: max_m - (max_m - base_m) * height
    exp_m = [[0.9 - (0.9 - 0.8) * (_cyclic_expected(e, 0.0, 1.0, 4, scale(e)))] for e in range(N)]
    opt2 = make_opt((0.5,))
    sched2 = L.CyclicLR(opt2, base_lr=0.01, max_lr=0.1, step_size_up=4, mode=mode, gamma=gamma)
    assert_curve(curve(opt, sched, N), exp_lr)
    assert_curve(curve(opt2, sched2, N, key="momentum"), exp_m)


def test_cyclic_lr_asymmetric_custom_scale_and_betas() -> None:
    opt = make_opt((0.5,), kind="adam")
    sched = L.CyclicLR(
        opt,
        base_lr=1.0,
        max_lr=3.0,
        step_size_up=2,
        step_size_down=6,
        scale_fn=lambda x: 0.5,
        scale_mode="iterations",
    )

    def height(e: int) -> float:
        p = e % 8
        return p / 2 if p <= 2 else (8 - p) / 6

    assert_curve(curve(opt, sched, N), [[1.0 + 2.0 * height(e) * 0.5] for e in range(N)])
    opt2 = make_opt((0.5,), kind="adam")
    sched2 = L.CyclicLR(opt2, base_lr=1.0, max_lr=3.0, step_size_up=2, step_size_down=6, base_momentum=0.7)
    assert_curve(curve(opt2, sched2, 12, key="beta1"), [[0.9 - 0.2 * height(e)] for e in range(12)])
    assert opt2.param_groups[0]["betas"][1] == 0.999


def test_cyclic_lr_without_momentum_on_plain_optimizer() -> None:
    opt = make_opt((0.5,), kind="plain")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        L.CyclicLR(opt, base_lr=0.1, max_lr=1.0)
    sched = L.CyclicLR(opt, base_lr=0.1, max_lr=1.0, step_size_up=3, cycle_momentum=False)
    assert_curve(curve(opt, sched, 12), [[_cyclic_expected(e, 0.1, 1.0, 3, 1.0)] for e in range(12)])
    assert "momentum" not in opt.param_groups[0]


# ---------------------------------------------------------------------------------------------------------------
# composition
# ---------------------------------------------------------------------------------------------------------------


def test_sequential_lr_constant_then_exponential() -> None:
    opt = make_opt((1.0,))
    s1 = L.ConstantLR(opt, factor=0.1, total_iters=2)
    s2 = L.ExponentialLR(opt, gamma=0.9)
    sched = L.SequentialLR(opt, schedulers=[s1, s2], milestones=[2])
    # the second scheduler restarts at its own epoch 0 at the milestone
    assert_curve(curve(opt, sched, N), [[0.1 if e < 2 else 0.9 ** (e - 2)] for e in range(N)])


def test_sequential_lr_warmup_then_cosine_three_stages() -> None:
    opt = make_opt((1.0,))
    warm = L.LinearLR(opt, start_factor=0.1, total_iters=4)
    cos = L.CosineAnnealingLR(opt, T_max=10)
    const = L.ConstantLR(opt, factor=0.5, total_iters=100)
    sched = L.SequentialLR(opt, [warm, cos, const], milestones=[4, 20])

    def lr(e: int) -> float:
        if e < 4:
            return 0.1 + 0.9 * e / 4
        if e < 20:
            return (1 + math.cos(math.pi * (e - 4) / 10)) / 2
        return 0.5

    assert_curve(curve(opt, sched, N), [[lr(e)] for e in range(N)], rel=1e-7)


def test_chained_scheduler_composes() -> None:
    opt = make_opt((1.0, 0.5))
    s1 = L.ConstantLR(opt, factor=0.1, total_iters=2)
    s2 = L.ExponentialLR(opt, gamma=0.9)
    sched = L.ChainedScheduler([s1, s2])
    expected = [[b * 0.9**e * (0.1 if e < 2 else 1.0) for b in (1.0, 0.5)] for e in range(N)]
    assert_curve(curve(opt, sched, N), expected)
    assert s2.last_epoch == N and s1.last_epoch == N


def test_chained_step_and_multistep() -> None:
    opt = make_opt((1.0,))
    sched = L.ChainedScheduler(
        [L.StepLR(opt, 5, gamma=0.5), L.MultiStepLR(opt, [7, 13], gamma=0.1)], optimizer=opt
    )
    expected = [[0.5 ** (e // 5) * 0.1 ** sum(m <= e for m in (7, 13))] for e in range(N)]
    assert_curve(curve(opt, sched, N), expected)


# ---------------------------------------------------------------------------------------------------------------
# ReduceLROnPlateau
# ---------------------------------------------------------------------------------------------------------------


def plateau_lrs(sched: L.ReduceLROnPlateau, opt: Any, metrics: list[float]) -> list[float]:
    out = []
    for m in metrics:
        opt.step()
        sched.step(m)
        out.append(opt.param_groups[0]["lr"])
    return out


def test_plateau_min_rel_patience() -> None:
    opt = make_opt((1.0,))
    sched = L.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2)
    # best=10 at 1, 9 at 2; 9,9 are 2 bad epochs (== patience: no cut); third bad epoch cuts; counter resets
    metrics = [10, 9, 9, 9, 9, 9, 9, 9, 8, 8, 8, 8]
    assert plateau_lrs(sched, opt, metrics) == pytest.approx(
        [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125]
    )
    assert sched.best == 8 and sched.num_bad_epochs == 0 and sched.last_epoch == 12
    assert sched.get_last_lr() == [pytest.approx(0.125)]


def test_plateau_rel_vs_abs_threshold() -> None:
    # 9.9995 vs best 10: rel needs < 10 * (1 - 1e-3) = 9.99 (bad); abs needs < 10 - 1e-4 (better)
    for mode, expect_best in (("rel", 10.0), ("abs", 9.9995)):
        opt = make_opt((1.0,))
        thr = 1e-3 if mode == "rel" else 1e-4
        sched = L.ReduceLROnPlateau(opt, patience=0, factor=0.1, threshold=thr, threshold_mode=mode)
        lrs = plateau_lrs(sched, opt, [10.0, 9.9995])
        assert sched.best == expect_best
        assert lrs[1] == pytest.approx(0.1 if mode == "rel" else 1.0)


def test_plateau_max_mode() -> None:
    opt = make_opt((1.0,))
    sched = L.ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=1, threshold=0.1, threshold_mode="abs")
    # improvements must exceed best + 0.1
    lrs = plateau_lrs(sched, opt, [1.0, 1.05, 1.2, 1.25, 1.28, 2.0, 0.0, 0.0])
    assert lrs == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.1, 0.01])
    assert sched.best == 2.0 and sched.mode_worse == -math.inf


def test_plateau_max_rel() -> None:
    opt = make_opt((1.0,))
    sched = L.ReduceLROnPlateau(
        opt, mode="max", patience=0, factor=0.5, threshold=0.5
    )  # must beat best * 1.5
    lrs = plateau_lrs(sched, opt, [2.0, 2.9, 3.1])
    assert lrs == pytest.approx([1, 0.5, 0.5]) and sched.best == 3.1


def test_plateau_cooldown() -> None:
    opt = make_opt((1.0,))
    sched = L.ReduceLROnPlateau(opt, factor=0.5, patience=0, cooldown=2)
    # cut at epoch 2; epochs 3, 4 in cooldown (bad epochs ignored); cut again at 5
    lrs = plateau_lrs(sched, opt, [1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    assert lrs == pytest.approx([1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25])
    assert sched.cooldown_counter == 0 and not sched.in_cooldown
    sched.step(2.0)  # cooldown over: the next bad epoch cuts again
    assert opt.param_groups[0]["lr"] == pytest.approx(0.125) and sched.in_cooldown


def test_plateau_min_lr_and_eps_per_group() -> None:
    opt = make_opt((1.0, 1.0))
    sched = L.ReduceLROnPlateau(opt, factor=0.1, patience=0, min_lr=[0.05, 0.0], eps=1e-3)
    lrs = []
    for m in [1.0, 2.0, 2.0, 2.0, 2.0]:
        opt.step()
        sched.step(m)
        lrs.append([g["lr"] for g in opt.param_groups])
    # group 0 floors at 0.05; group 1 stops at 1e-3 because 1e-3 - 1e-4 < eps
    assert_curve(lrs, [[1, 1], [0.1, 0.1], [0.05, 0.01], [0.05, 0.001], [0.05, 0.001]])


def test_plateau_accepts_tensor_metric_and_state_dict_round_trip() -> None:
    opt = make_opt((1.0,))
    sched = L.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1)
    plateau_lrs(sched, opt, [1.0, 0.5])
    sched.step(ft.tensor(0.25))  # a 0-dim tensor metric
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5)
    sd = copy.deepcopy(sched.state_dict())
    assert "optimizer" not in sd and sd["mode"] == "max" and sd["best"] == 1.0

    opt2 = make_opt((0.5,))
    sched2 = L.ReduceLROnPlateau(opt2)  # defaults: mode min
    sched2.load_state_dict(pickle.loads(pickle.dumps(sd)))
    assert sched2.mode == "max" and sched2.mode_worse == -math.inf and sched2.patience == 1
    for m in [0.1, 0.1]:
        sched.step(m)
        sched2.step(m)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == pytest.approx(0.25)


def _add_group(opt: Any, lr: float) -> None:
    group = {"params": [ft.zeros(2, requires_grad=True)], "lr": lr}
    if hasattr(opt, "add_param_group"):
        opt.add_param_group(group)
    else:
        opt.param_groups.append(dict(opt.defaults, **group))


def test_plateau_added_param_group() -> None:
    opt = make_opt((1.0,))
    sched = L.ReduceLROnPlateau(opt, patience=0, min_lr=0.0)
    _add_group(opt, 1.0)
    plateau_lrs(sched, opt, [1.0, 2.0])
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.1])
    opt3 = make_opt((1.0,))
    sched3 = L.ReduceLROnPlateau(opt3, patience=0, min_lr=[0.0])
    _add_group(opt3, 1.0)
    with pytest.raises(RuntimeError, match="number of param groups"):
        plateau_lrs(sched3, opt3, [1.0, 2.0])


# ---------------------------------------------------------------------------------------------------------------
# state_dict round trips: a resumed scheduler continues the same curve
# ---------------------------------------------------------------------------------------------------------------


class _Warmup:
    """A picklable callable object used as a lambda: its ``__dict__`` goes into the state_dict."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, e: int) -> float:
        return min(1.0, (e + 1) / self.n)


FACTORIES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "StepLR": (lambda o: L.StepLR(o, 3, gamma=0.5), "sgd"),
    "MultiStepLR": (lambda o: L.MultiStepLR(o, [4, 9, 9], gamma=0.5), "sgd"),
    "ExponentialLR": (lambda o: L.ExponentialLR(o, 0.9), "sgd"),
    "CosineAnnealingLR": (lambda o: L.CosineAnnealingLR(o, 7, eta_min=0.01), "sgd"),
    "CosineAnnealingWarmRestarts": (lambda o: L.CosineAnnealingWarmRestarts(o, 3, T_mult=2), "sgd"),
    "LambdaLR": (lambda o: L.LambdaLR(o, _Warmup(6)), "sgd"),
    "MultiplicativeLR": (lambda o: L.MultiplicativeLR(o, _Warmup(30)), "sgd"),
    "LinearLR": (lambda o: L.LinearLR(o, 0.2, total_iters=6), "sgd"),
    "ConstantLR": (lambda o: L.ConstantLR(o, 0.3, total_iters=6), "sgd"),
    "PolynomialLR": (lambda o: L.PolynomialLR(o, total_iters=12, power=1.5), "sgd"),
    "OneCycleLR": (lambda o: L.OneCycleLR(o, 1.0, total_steps=40), "adam"),
    "CyclicLR": (lambda o: L.CyclicLR(o, 0.1, 1.0, step_size_up=3, mode="triangular2"), "sgd"),
    "CyclicLR-exp": (lambda o: L.CyclicLR(o, 0.1, 1.0, step_size_up=3, mode="exp_range", gamma=0.9), "adam"),
    "SequentialLR": (
        lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=4), L.ExponentialLR(o, 0.8)], [4]),
        "sgd",
    ),
    "ChainedScheduler": (
        lambda o: L.ChainedScheduler([L.ConstantLR(o, 0.5, total_iters=5), L.CosineAnnealingLR(o, 10)]),
        "sgd",
    ),
}


def _group_state(opt: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]


@pytest.mark.parametrize("name", list(FACTORIES))
def test_state_dict_round_trip_resumes_curve(name: str) -> None:
    factory, kind = FACTORIES[name]
    opt = make_opt((0.3, 0.05), kind=kind)
    sched = factory(opt)
    first = curve(opt, sched, 11)
    sd = sched.state_dict()
    assert "optimizer" not in sd
    sd = pickle.loads(pickle.dumps(sd))  # the state is plain data
    groups = copy.deepcopy(_group_state(opt))
    rest = curve(opt, sched, 20)

    # resume: a fresh optimizer gets the saved hyper-parameters, a fresh scheduler the saved state
    opt2 = make_opt((0.3, 0.05), kind=kind)
    sched2 = factory(opt2)
    for g, saved in zip(opt2.param_groups, groups, strict=True):
        g.update(saved)
    sched2.load_state_dict(sd)
    assert name == "ChainedScheduler" or sched2.last_epoch == sched.last_epoch - 20
    resumed = curve(opt2, sched2, 20)
    assert_curve(resumed, rest, rel=1e-12)
    assert len({tuple(x) for x in first + rest}) > 1  # the curve actually moves


def test_lambda_state_dict_saves_only_callable_objects() -> None:
    opt = make_opt((0.1, 0.1))
    warm = _Warmup(5)
    sched = L.LambdaLR(opt, [lambda e: 1.0, warm])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [None, {"n": 5}]
    assert "optimizer" not in sd
    warm.n = 99
    sched.load_state_dict(sd)
    assert warm.n == 5 and sd["lr_lambdas"] == [None, {"n": 5}]  # caller's dict left intact


def test_cyclic_state_dict_drops_scale_fn_and_restores_it() -> None:
    opt = make_opt((0.1,))
    sched = L.CyclicLR(opt, 0.1, 1.0, step_size_up=2, mode="exp_range", gamma=0.5)
    sd = sched.state_dict()
    assert "_scale_fn_ref" not in sd and sd["_scale_fn_custom"] is None
    opt2 = make_opt((0.1,))
    sched2 = L.CyclicLR(opt2, 0.1, 1.0, step_size_up=2)  # triangular
    sched2.load_state_dict(pickle.loads(pickle.dumps(sd)))
    assert sched2.mode == "exp_range" and sched2.scale_mode == "iterations"
    assert sched2.scale_fn(3) == pytest.approx(0.125)


def test_composite_state_dict_nests_schedulers() -> None:
    opt = make_opt((1.0,))
    sched = L.SequentialLR(opt, [L.ConstantLR(opt, 0.5, total_iters=2), L.StepLR(opt, 2)], [3])
    sd = sched.state_dict()
    assert set(sd) >= {"_schedulers", "_milestones", "last_epoch", "_last_lr"} and "optimizer" not in sd
    assert sd["_schedulers"][0]["factor"] == 0.5 and sd["_schedulers"][1]["step_size"] == 2


# ---------------------------------------------------------------------------------------------------------------
# base-class semantics: initial_lr, base_lrs, last_epoch, get_last_lr, warnings, epoch argument
# ---------------------------------------------------------------------------------------------------------------


def test_initial_lr_and_base_lrs() -> None:
    opt = make_opt((0.1, 0.2))
    sched = L.StepLR(opt, 2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.2]
    assert sched.base_lrs == [0.1, 0.2] and sched.last_epoch == 0 and sched._step_count == 1
    assert sched.get_last_lr() == [0.1, 0.2]
    # a second scheduler keeps the first initial_lr (setdefault)
    opt.param_groups[0]["lr"] = 0.7
    sched2 = L.ExponentialLR(opt, 0.5)
    assert sched2.base_lrs == [0.1, 0.2] and opt.param_groups[0]["lr"] == 0.7


def test_resume_with_last_epoch() -> None:
    opt = make_opt((0.1,))
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in param_groups\[0\]"):
        L.StepLR(opt, 3, last_epoch=4)
    opt.param_groups[0]["initial_lr"] = 1.0
    opt.param_groups[0]["lr"] = 0.25  # as if restored from a checkpoint
    sched = L.StepLR(opt, 3, gamma=0.5, last_epoch=4)
    assert sched.base_lrs == [1.0] and sched.last_epoch == 5
    assert curve(opt, sched, 3) == [[0.25], [0.125], [0.125]]  # epochs 5, 6 (a multiple of 3), 7


def test_warning_when_scheduler_steps_before_optimizer() -> None:
    opt = make_opt((0.1,))
    sched = L.StepLR(opt, 2)
    with pytest.warns(
        UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`"
    ):
        sched.step()
    opt2 = make_opt((0.1,))
    sched2 = L.StepLR(opt2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt2.step()
        sched2.step()
        sched2.step()
    assert getattr(opt2.step, "_wrapped_by_lr_sched", False)


def test_warning_when_optimizer_step_overridden() -> None:
    opt = make_opt((0.1,))
    sched = L.StepLR(opt, 2)
    opt.step = lambda: None
    with pytest.warns(UserWarning, match="has been overridden after learning rate scheduler"):
        sched.step()


def test_get_lr_outside_step_warns() -> None:
    opt = make_opt((0.1,))
    sched = L.ExponentialLR(opt, 0.5)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()


def test_epoch_argument_uses_closed_form() -> None:
    opt = make_opt((1.0,))
    sched = L.StepLR(opt, 3, gamma=0.5)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)`"):
        sched.step(7)
    assert sched.last_epoch == 7 and sched.get_last_lr() == [0.25]
    opt2 = make_opt((1.0,))
    sched2 = L.CosineAnnealingLR(opt2, T_max=8)
    opt2.step()
    with pytest.warns(UserWarning):
        sched2.step(2)
    assert sched2.get_last_lr()[0] == pytest.approx((1 + math.cos(math.pi * 2 / 8)) / 2)


def test_get_last_lr_is_a_copy_of_the_groups() -> None:
    opt = make_opt((0.1,))
    sched = L.ExponentialLR(opt, 0.5)
    last = sched.get_last_lr()
    opt.param_groups[0]["lr"] = 3.0
    assert last == [0.1]


def test_custom_subclass_and_alias() -> None:
    class Halve(L._LRScheduler):
        def get_lr(self) -> list[float]:
            return [b * 0.5**self.last_epoch for b in self.base_lrs]

    opt = make_opt((1.0,))
    sched = Halve(opt)
    assert isinstance(sched, L.LRScheduler)
    assert curve(opt, sched, 4) == [[1.0], [0.5], [0.25], [0.125]]
    with pytest.raises(NotImplementedError):
        L.LRScheduler(make_opt((1.0,)))


def test_tensor_lr_is_filled_in_place() -> None:
    opt = make_opt((0.1,))
    lr = ft.tensor(1.0)
    opt.param_groups[0]["lr"] = lr
    sched = L.StepLR(opt, 2, gamma=0.5)
    for _ in range(4):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(0.25)
    assert float(sched.get_last_lr()[0]) == pytest.approx(0.25)
    assert float(opt.param_groups[0]["initial_lr"]) == 1.0


@pytest.mark.skipif(_SGD is None, reason="ferrotorch.optim.SGD not available")
def test_sgd_updates_use_the_scheduled_lr() -> None:
    p = ft.zeros(3, requires_grad=True)
    opt = _SGD([p], lr=0.5)
    sched = L.MultiStepLR(opt, milestones=[2, 4], gamma=0.1)
    expected = 0.0
    for e in range(6):
        opt.zero_grad()
        (p * 2.0).sum().backward()  # grad = 2 everywhere
        opt.step()
        expected -= 2.0 * 0.5 * 0.1 ** sum(m <= e for m in (2, 4))
        sched.step()
    assert p.tolist() == pytest.approx([expected] * 3, rel=1e-6)


@pytest.mark.skipif(_SGD is None, reason="ferrotorch.optim.SGD not available")
def test_resume_through_optimizer_state_dict() -> None:
    def fresh() -> tuple[Any, Any]:
        opt = _SGD([ft.zeros(2, requires_grad=True)], lr=1.0, momentum=0.9)
        return opt, L.OneCycleLR(opt, max_lr=1.0, total_steps=30)

    opt, sched = fresh()
    curve(opt, sched, 10)
    osd, ssd = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    rest = curve(opt, sched, 15, key="momentum")
    opt2 = _SGD([ft.zeros(2, requires_grad=True)], lr=1.0, momentum=0.9)
    opt2.load_state_dict(osd)  # carries initial_lr, max_lr, min_lr, momentum bounds
    sched2 = L.OneCycleLR(opt2, max_lr=1.0, total_steps=30, last_epoch=9)
    sched2.load_state_dict(ssd)
    assert_curve(curve(opt2, sched2, 15, key="momentum"), rest, rel=1e-12)
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])


# ---------------------------------------------------------------------------------------------------------------
# errors PyTorch raises
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build,exc,msg",
    [
        (lambda o: L.ConstantLR(o, factor=1.5), ValueError, "between 0 and 1"),
        (lambda o: L.ConstantLR(o, factor=-0.1), ValueError, "between 0 and 1"),
        (lambda o: L.LinearLR(o, start_factor=0.0), ValueError, "greater than 0"),
        (lambda o: L.LinearLR(o, end_factor=1.5), ValueError, "Ending multiplicative factor"),
        (lambda o: L.LambdaLR(o, [lambda e: 1.0] * 2), ValueError, "Expected 1 lr_lambdas, but got 2"),
        (lambda o: L.MultiplicativeLR(o, 0.9), TypeError, "lr_lambda should be a function"),
        (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "positive integer T_0"),
        (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=2.5), ValueError, "positive integer T_0"),
        (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=0), ValueError, "T_mult >= 1"),
        (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=3, eta_min="0"), ValueError, "float or int eta_min"),
        (lambda o: L.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0"),
        (lambda o: L.ReduceLROnPlateau(o, mode="up"), ValueError, "mode up is unknown"),
        (lambda o: L.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold mode x is unknown"),
        (lambda o: L.ReduceLROnPlateau(o, min_lr=[0.0, 0.0]), ValueError, "expected 1 min_lrs, got 2"),
        (lambda o: L.OneCycleLR(o, 0.1), ValueError, "You must define either total_steps"),
        (lambda o: L.OneCycleLR(o, 0.1, total_steps=0), ValueError, "positive integer total_steps"),
        (lambda o: L.OneCycleLR(o, 0.1, epochs=0, steps_per_epoch=3), ValueError, "positive integer epochs"),
        (lambda o: L.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=-1), ValueError, "steps_per_epoch"),
        (lambda o: L.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), ValueError, "pct_start"),
        (lambda o: L.OneCycleLR(o, 0.1, total_steps=10, pct_start=1), ValueError, "pct_start"),
        (
            lambda o: L.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"),
            ValueError,
            "anneal_strategy",
        ),
        (
            lambda o: L.OneCycleLR(o, [0.1, 0.2], total_steps=10),
            ValueError,
            "max_lr must have the same length",
        ),
        (lambda o: L.CyclicLR(o, 0.1, 1.0, mode="saw"), ValueError, "mode is invalid and scale_fn is None"),
        (lambda o: L.CyclicLR(o, [0.1, 0.1], 1.0), ValueError, "base_lr must have the same length"),
        (lambda o: L.SequentialLR(o, [], []), ValueError, "expects at least one scheduler"),
        (
            lambda o: L.SequentialLR(o, [L.StepLR(o, 2)], [3]),
            ValueError,
            "one more than the number of milestone",
        ),
        (
            lambda o: L.SequentialLR(o, [L.ReduceLROnPlateau(o)], []),
            ValueError,
            "does not support `ReduceLROnPl",
        ),
        (lambda o: L.SequentialLR(o, [object()], []), TypeError, "should have `optimizer` as its attribute"),
        (lambda o: L.ChainedScheduler([]), ValueError, "expects at least one scheduler to be chained"),
        (lambda o: L.ChainedScheduler([L.ReduceLROnPlateau(o)]), ValueError, "does not support"),
        (lambda o: L.StepLR(object(), 2), TypeError, "object is not an Optimizer"),
        (lambda o: L.ReduceLROnPlateau(42), TypeError, "int is not an Optimizer"),
        (lambda o: L.OneCycleLR("opt", 0.1, total_steps=3), TypeError, "str is not an Optimizer"),
    ],
)
def test_bad_arguments_raise(build: Callable[[Any], Any], exc: type[Exception], msg: str) -> None:
    opt = make_opt((0.1,))
    with pytest.raises(exc, match=msg):
        build(opt)


def test_schedulers_on_different_optimizers_rejected() -> None:
    a, b = make_opt((0.1,)), make_opt((0.1,))
    sa, sb = L.StepLR(a, 2), L.StepLR(b, 2)
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        L.SequentialLR(a, [sa, sb], [3])
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        L.ChainedScheduler([sa, sb])


def test_module_exports() -> None:
    from ferrotorch import optim

    assert optim.lr_scheduler is L
    assert set(L.__all__) == {
        "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
        "SequentialLR", "CosineAnnealingLR", "ChainedScheduler", "ReduceLROnPlateau", "CyclicLR",
        "CosineAnnealingWarmRestarts", "OneCycleLR", "PolynomialLR", "LRScheduler",
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# side by side with real PyTorch (skipped when it is not installed)
# ---------------------------------------------------------------------------------------------------------------

try:
    import torch as _torch
except ImportError:  # pragma: no cover
    _torch = None

TORCH_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("StepLR", "sgd", {"step_size": 4, "gamma": 0.7}),
    ("MultiStepLR", "sgd", {"milestones": [3, 8, 8, 20], "gamma": 0.5}),
    ("ExponentialLR", "sgd", {"gamma": 0.93}),
    ("CosineAnnealingLR", "sgd", {"T_max": 9, "eta_min": 0.002}),
    ("CosineAnnealingWarmRestarts", "sgd", {"T_0": 4, "T_mult": 2, "eta_min": 0.001}),
    ("LinearLR", "sgd", {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 12}),
    ("ConstantLR", "sgd", {"factor": 0.4, "total_iters": 7}),
    ("PolynomialLR", "sgd", {"total_iters": 25, "power": 0.7}),
    ("OneCycleLR", "sgd", {"max_lr": 0.8, "total_steps": 45}),
    (
        "OneCycleLR",
        "adam",
        {"max_lr": [0.8, 0.4], "total_steps": 45, "three_phase": True, "anneal_strategy": "linear"},
    ),
    ("CyclicLR", "sgd", {"base_lr": 0.01, "max_lr": 0.3, "step_size_up": 5, "step_size_down": 3}),
    ("CyclicLR", "adam", {"base_lr": 0.01, "max_lr": 0.3, "step_size_up": 4, "mode": "triangular2"}),
    (
        "CyclicLR",
        "sgd",
        {"base_lr": 0.01, "max_lr": 0.3, "step_size_up": 4, "mode": "exp_range", "gamma": 0.95},
    ),
]


def _pair_opts(kind: str) -> tuple[Any, Any]:
    tp = [[_torch.zeros(2, requires_grad=True)], [_torch.zeros(2, requires_grad=True)]]
    groups = [{"params": tp[0], "lr": 0.3}, {"params": tp[1], "lr": 0.05}]
    if kind == "sgd":
        return _torch.optim.SGD(groups, lr=0.3, momentum=0.9), make_opt((0.3, 0.05), kind="sgd")
    return _torch.optim.Adam(groups, lr=0.3), make_opt((0.3, 0.05), kind="adam")


def _trace(opt: Any, sched: Any, n: int) -> list[tuple[Any, ...]]:
    out = []
    for _ in range(n):
        g = opt.param_groups
        out.append(
            (
                [float(x) for x in sched.get_last_lr()],
                [x.get("momentum", x.get("betas", (None,))[0]) for x in g],
                [x.get("initial_lr") for x in g],
            )
        )
        opt.step()
        sched.step()
    return out


@pytest.mark.skipif(_torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize(
    "name,kind,kwargs", TORCH_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(TORCH_CASES)]
)
def test_matches_pytorch(name: str, kind: str, kwargs: dict[str, Any]) -> None:
    topt, fopt = _pair_opts(kind)
    tsched = getattr(_torch.optim.lr_scheduler, name)(topt, **kwargs)
    fsched = getattr(L, name)(fopt, **kwargs)
    n = 45 if name == "OneCycleLR" else 40
    t, f = _trace(topt, tsched, n), _trace(fopt, fsched, n)
    for e, (a, b) in enumerate(zip(t, f, strict=True)):
        for x, y in zip(a, b, strict=True):
            assert y == pytest.approx(x, rel=1e-12, abs=1e-15), f"{name} epoch {e}"
    assert set(fsched.state_dict()) == set(tsched.state_dict())


@pytest.mark.skipif(_torch is None, reason="PyTorch is not installed")
def test_composites_and_plateau_match_pytorch() -> None:
    for lib, mod in (("torch", _torch.optim.lr_scheduler), ("ft", L)):
        topt, fopt = _pair_opts("sgd")
        opt = topt if lib == "torch" else fopt
        seq = mod.SequentialLR(
            opt, [mod.LinearLR(opt, 0.1, total_iters=5), mod.CosineAnnealingLR(opt, T_max=12)], milestones=[5]
        )
        chained = mod.ChainedScheduler([mod.ExponentialLR(opt, 0.97), mod.MultiStepLR(opt, [6, 14])])
        r = []
        for _ in range(25):
            opt.step()
            seq.step()
            chained.step()
            r.append([g["lr"] for g in opt.param_groups])
        topt2, fopt2 = _pair_opts("sgd")
        opt2 = topt2 if lib == "torch" else fopt2
        pl = mod.ReduceLROnPlateau(opt2, mode="max", factor=0.3, patience=2, cooldown=1, min_lr=[0.01, 0.001])
        metrics = [1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
        for m in metrics:
            opt2.step()
            pl.step(m)
            r.append([g["lr"] for g in opt2.param_groups])
        if lib == "torch":
            expected = r
        else:
            assert_curve(r, expected, rel=1e-12)
