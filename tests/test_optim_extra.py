"""ASGD, Rprop, Adafactor and ``optim.swa_utils`` against numpy re-implementations of PyTorch's algorithms and
against values computed with PyTorch 2.x (pasted in as literals)."""

import math
import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.optim.swa_utils import (
    SWALR,
    AveragedModel,
    get_ema_avg_fn,
    get_ema_multi_avg_fn,
    get_swa_avg_fn,
    get_swa_multi_avg_fn,
    update_bn,
)

# A small problem: a matrix and a vector parameter, loss sum((p - t)² + 0.1 (p - t)³), whose gradient is
# 2 (p - t) + 0.3 (p - t)².
W0 = np.array([[0.5, -1.0, 0.25], [1.5, -0.75, 2.0]])
B0 = np.array([0.3, -0.2, 0.1])
TW = np.array([[0.45, 0.5, -0.5], [1.0, -0.7, 1.0]])
TB = np.array([0.0, -0.25, 0.4])


def _grad(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    return 2 * (p - t) + 0.3 * (p - t) ** 2


def _loss(params, sign: float = 1.0):
    total = 0
    for p, t in zip(params, (TW, TB)):
        d = p - torch.tensor(t, dtype=p.dtype)
        total = total + (d**2).sum() + (d**3).sum() * 0.1
    return total * sign


def _run(cls, kw, steps, dtype=torch.float64, sign=1.0, init=(W0, B0)):
    params = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in init]
    opt = cls(params, **kw)
    for _ in range(steps):
        opt.zero_grad()
        _loss(params, sign).backward()
        opt.step()
    return params, opt


def _numpy(params):
    return [p.detach().numpy() for p in params]


# ----------------------------------------------------------------------------------- numpy references


def asgd_ref(params, steps, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False):
    params = [p.copy() for p in params]
    # eta and mu are float32 scalars in PyTorch's state
    eta = [np.float32(lr)] * len(params)
    mu = [np.float32(1.0)] * len(params)
    ax = [np.zeros_like(p) for p in params]
    for step in range(1, steps + 1):
        for i, (p, t) in enumerate(zip(params, (TW, TB))):
            g = _grad(p, t)
            g = -g if maximize else g
            g = g + weight_decay * p
            e = float(eta[i])
            p *= 1 - lambd * e
            p -= e * g
            ax[i] = p.copy() if mu[i] == 1 else ax[i] + (p - ax[i]) * float(mu[i])
            eta[i] = np.float32(lr / ((1 + lambd * lr * step) ** alpha))
            mu[i] = np.float32(1 / max(1, step - t0))
    return params, ax, eta, mu


def rprop_ref(params, steps, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    params = [p.copy() for p in params]
    prev = [np.zeros_like(p) for p in params]
    size = [np.full_like(p, lr) for p in params]
    for _ in range(steps):
        for i, (p, t) in enumerate(zip(params, (TW, TB))):
            g = _grad(p, t)
            g = -g if maximize else g
            s = np.sign(g * prev[i])
            factor = np.where(s > 0, etas[1], np.where(s < 0, etas[0], 1.0))
            size[i] = np.clip(size[i] * factor, *step_sizes)
            g = np.where(s < 0, 0.0, g)
            p -= np.sign(g) * size[i]
            prev[i] = g
    return params, prev, size


def adafactor_ref(params, steps, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0,
                  maximize=False):
    params = [p.copy() for p in params]
    eps1 = np.finfo(np.float64).eps if eps[0] is None else eps[0]
    eps2 = eps[1]
    state = [{} for _ in params]
    for step in range(1, steps + 1):
        for i, (p, t) in enumerate(zip(params, (TW, TB))):
            g = _grad(p, t)
            g = -g if maximize else g
            beta2_t = 1 - step**beta2_decay
            rho = min(lr, 1 / math.sqrt(step))
            alpha = max(eps2, np.sqrt(np.mean(p**2))) * rho
            p *= 1 - lr * weight_decay
            st = state[i]
            if g.ndim > 1:
                r = st.get("row_var", np.zeros(g.shape[:-1] + (1,)))
                c = st.get("col_var", np.zeros(g.shape[:-2] + (1, g.shape[-1])))
                r = beta2_t * r + (1 - beta2_t) * np.mean(g**2, axis=-1, keepdims=True)
                c = beta2_t * c + (1 - beta2_t) * np.mean(g**2, axis=-2, keepdims=True)
                st["row_var"], st["col_var"] = r, c
                var = r @ c / max(np.mean(r), eps1)
            else:
                v = st.get("variance", np.zeros_like(g))
                v = beta2_t * v + (1 - beta2_t) * g**2
                st["variance"] = v
                var = v
            u = g / np.sqrt(np.maximum(var, eps1 * eps1))
            denom = max(1.0, np.sqrt(np.mean(u**2)) / d)
            p -= alpha / denom * u
    return params, state


# ----------------------------------------------------------------------------------------------- ASGD


@pytest.mark.parametrize(
    "kw",
    [{}, {"lr": 0.1, "t0": 2, "lambd": 0.01, "weight_decay": 0.05}, {"lr": 0.05, "alpha": 0.5, "t0": 0}],
)
def test_asgd_matches_reference(kw):
    params, opt = _run(torch.optim.ASGD, kw, steps=6)
    ref, ax, eta, mu = asgd_ref([W0, B0], 6, **kw)
    for p, r, a, e, m in zip(params, ref, ax, eta, mu):
        np.testing.assert_allclose(p.detach().numpy(), r, rtol=1e-12, atol=1e-12)
        st = opt.state[p]
        assert sorted(st) == ["ax", "eta", "mu", "step"]
        np.testing.assert_allclose(st["ax"].numpy(), a, rtol=1e-12, atol=1e-12)
        assert st["eta"].dtype == torch.float32 and st["eta"].item() == pytest.approx(float(e), rel=1e-7)
        assert st["mu"].item() == pytest.approx(float(m), rel=1e-7)
        assert st["step"].dtype == torch.float32 and st["step"].item() == 6.0


def test_asgd_float32_matches_pytorch_literals():
    params, _ = _run(torch.optim.ASGD, {"lr": 0.1, "t0": 2, "lambd": 0.01, "weight_decay": 0.05}, 6, torch.float32)
    W, b = _numpy(params)
    np.testing.assert_allclose(
        W,
        [[0.45268988609313965, 0.018079141154885292, -0.31897518038749695],
         [1.0962554216384888, -0.6973532438278198, 1.199578046798706]],
        rtol=2e-6,
    )
    np.testing.assert_allclose(b, [0.07238448411226273, -0.2320869266986847, 0.31250980496406555], rtol=2e-6)


def test_asgd_ax_is_the_mean_of_the_iterates_after_t0():
    # with t0=2, mu = 1 through step 4, then 1/2 and 1/3: ax averages the parameters after steps 4, 5, 6
    params = [torch.tensor(W0, requires_grad=True)]
    opt = torch.optim.ASGD(params, lr=0.05, t0=2)
    snapshots = []
    for _ in range(6):
        opt.zero_grad()
        (((params[0] - torch.tensor(TW)) ** 2).sum()).backward()
        opt.step()
        snapshots.append(params[0].detach().numpy().copy())
    np.testing.assert_allclose(opt.state[params[0]]["ax"].numpy(), np.mean(snapshots[3:], axis=0), rtol=1e-6)


# ---------------------------------------------------------------------------------------------- Rprop


@pytest.mark.parametrize(
    "kw", [{}, {"lr": 0.05}, {"lr": 0.1, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}]
)
def test_rprop_matches_reference(kw):
    params, opt = _run(torch.optim.Rprop, kw, steps=8)
    ref, prev, size = rprop_ref([W0, B0], 8, **kw)
    for p, r, pv, s in zip(params, ref, prev, size):
        np.testing.assert_allclose(p.detach().numpy(), r, rtol=1e-12, atol=1e-12)
        st = opt.state[p]
        assert sorted(st) == ["prev", "step", "step_size"]
        np.testing.assert_allclose(st["prev"].numpy(), pv, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(st["step_size"].numpy(), s, rtol=1e-12)
        assert st["step"].item() == 8.0


def test_rprop_sign_flip_shrinks_step_and_skips_the_element():
    # hand-computed: (p - 0.985)² from p = 1 with lr 0.01; step 2 overshoots, step 3 sees the flip (step size
    # halves, p stays, prev becomes 0), step 4 moves back with the unchanged step size
    p = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Rprop([p], lr=0.01)
    seen = []
    for _ in range(4):
        opt.zero_grad()
        ((p - 0.985) ** 2).sum().backward()
        opt.step()
        st = opt.state[p]
        seen.append((p.item(), st["step_size"].item(), st["prev"].item()))
    np.testing.assert_allclose([s[0] for s in seen], [0.99, 0.978, 0.978, 0.984], rtol=1e-12)
    np.testing.assert_allclose([s[1] for s in seen], [0.01, 0.012, 0.006, 0.006], rtol=1e-12)
    assert seen[2][2] == 0.0 and seen[3][2] < 0


def test_rprop_float32_matches_pytorch_literals():
    params, _ = _run(torch.optim.Rprop, {"lr": 0.05}, 6, torch.float32)
    W, b = _numpy(params)
    np.testing.assert_allclose(
        W,
        [[0.44999998807907104, -0.5035039186477661, -0.2464960515499115],
         [1.0035040378570557, -0.699999988079071, 1.5035040378570557]],
        rtol=1e-6,
    )
    np.testing.assert_allclose(b, [-0.07208003103733063, -0.25, 0.4720800220966339], rtol=1e-6)


# ------------------------------------------------------------------------------------------ Adafactor


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"lr": 0.1, "weight_decay": 0.05, "d": 2.0},
        {"lr": 0.5, "eps": (1e-5, 1e-2), "beta2_decay": -0.5},
    ],
)
def test_adafactor_matches_reference(kw):
    params, opt = _run(torch.optim.Adafactor, kw, steps=6)
    ref, state = adafactor_ref([W0, B0], 6, **kw)
    for p, r, st_ref in zip(params, ref, state):
        np.testing.assert_allclose(p.detach().numpy(), r, rtol=1e-10, atol=1e-12)
        st = opt.state[p]
        assert sorted(st) == sorted(["step", *st_ref])
        for k, v in st_ref.items():
            assert tuple(st[k].shape) == v.shape
            np.testing.assert_allclose(st[k].numpy(), v, rtol=1e-10)
    assert opt.state[params[0]]["row_var"].shape == (2, 1)
    assert opt.state[params[0]]["col_var"].shape == (1, 3)


def test_adafactor_float32_matches_pytorch_literals():
    params, _ = _run(torch.optim.Adafactor, {"lr": 0.1, "weight_decay": 0.05}, 6, torch.float32)
    W, b = _numpy(params)
    np.testing.assert_allclose(
        W,
        [[0.4479207396507263, -0.30630168318748474, -0.13774965703487396],
         [0.999345064163208, -0.704041063785553, 1.3458648920059204]],
        rtol=2e-6,
    )
    np.testing.assert_allclose(b, [0.1752295345067978, -0.24888917803764343, 0.2148897349834442], rtol=2e-6)


def test_adafactor_batched_factors_and_scalar_param():
    # a 3-d parameter factors over its last two dims; a 0-d one keeps a full variance
    p3 = torch.tensor(np.linspace(-1, 1, 24).reshape(2, 3, 4), requires_grad=True)
    p0 = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adafactor([p3, p0])
    (p3**2).sum().backward()
    (p0**2).backward()
    opt.step()
    assert opt.state[p3]["row_var"].shape == (2, 3, 1)
    assert opt.state[p3]["col_var"].shape == (2, 1, 4)
    assert opt.state[p0]["variance"].shape == ()
    g = 2 * np.linspace(-1, 1, 24).reshape(2, 3, 4)
    np.testing.assert_allclose(opt.state[p3]["row_var"].numpy(), np.mean(g**2, axis=-1, keepdims=True))


# -------------------------------------------------------------------------------- shared behaviour


OPTIMIZERS = [
    (torch.optim.ASGD, {"lr": 0.1, "t0": 1}),
    (torch.optim.Rprop, {"lr": 0.05}),
    (torch.optim.Adafactor, {"lr": 0.1}),
]


@pytest.mark.parametrize("cls,kw", OPTIMIZERS)
def test_maximize_is_minimizing_the_negated_loss(cls, kw):
    up, _ = _run(cls, {**kw, "maximize": True}, steps=4, sign=-1.0)
    down, _ = _run(cls, kw, steps=4)
    for a, b in zip(_numpy(up), _numpy(down)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls,kw", OPTIMIZERS)
def test_state_dict_round_trip_continues_identically(cls, kw):
    # float32 parameters: loading casts float state (ASGD's eta, mu too, as PyTorch) to the parameter dtype
    params, opt = _run(cls, kw, steps=3, dtype=torch.float32)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1]
    assert sd["param_groups"][0]["params"] == [0, 1]
    clones = [p.detach().clone().requires_grad_(True) for p in params]
    opt2 = cls(clones, lr=123.0)  # the loaded groups replace the hyper-parameters
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    for o, ps in ((opt, params), (opt2, clones)):
        for _ in range(2):
            o.zero_grad()
            _loss(ps).backward()
            o.step()
    for a, b in zip(_numpy(params), _numpy(clones)):
        np.testing.assert_array_equal(a, b)
    assert opt2.state[clones[0]]["step"].item() == 5.0


@pytest.mark.parametrize("cls,kw", OPTIMIZERS)
def test_closure_loss_is_returned_and_params_without_grad_are_skipped(cls, kw):
    p = torch.tensor([1.0, -2.0], requires_grad=True)
    frozen = torch.tensor([3.0], requires_grad=True)
    opt = cls([p, frozen], **kw)

    def closure():
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0
    assert frozen.item() == 3.0 and len(opt.state[frozen]) == 0
    assert (p.detach().numpy() != [1.0, -2.0]).all()


def test_defaults_and_param_group_keys():
    p = torch.zeros(2, requires_grad=True)
    assert torch.optim.ASGD([p]).defaults == {
        "lr": 1e-2, "lambd": 1e-4, "alpha": 0.75, "t0": 1e6, "weight_decay": 0, "foreach": None,
        "maximize": False, "differentiable": False, "capturable": False,
    }
    assert torch.optim.Rprop([p]).defaults == {
        "lr": 1e-2, "etas": (0.5, 1.2), "step_sizes": (1e-6, 50), "foreach": None, "maximize": False,
        "differentiable": False, "capturable": False,
    }
    assert torch.optim.Adafactor([p]).defaults == {
        "lr": 1e-2, "beta2_decay": -0.8, "eps": (None, 1e-3), "d": 1.0, "weight_decay": 0.0, "foreach": None,
        "maximize": False,
    }


@pytest.mark.parametrize(
    "make,msg",
    [
        (lambda p: torch.optim.ASGD(p, lr=-1.0), "Invalid learning rate: -1.0"),
        (lambda p: torch.optim.ASGD(p, lambd=-0.1), "Invalid lambd value: -0.1"),
        (lambda p: torch.optim.ASGD(p, alpha=-0.5), "Invalid alpha value: -0.5"),
        (lambda p: torch.optim.ASGD(p, weight_decay=-1), "Invalid weight_decay value: -1"),
        (lambda p: torch.optim.ASGD(p, lr=torch.tensor([0.1, 0.2])), "Tensor lr must be 1-element"),
        (lambda p: torch.optim.Rprop(p, lr=-1.0), "Invalid learning rate: -1.0"),
        (lambda p: torch.optim.Rprop(p, etas=(1.1, 1.2)), "Invalid eta values: 1.1, 1.2"),
        (lambda p: torch.optim.Rprop(p, etas=(0.5, 0.9)), "Invalid eta values: 0.5, 0.9"),
        (lambda p: torch.optim.Adafactor(p, lr=-1.0), "Learning rate should be >= 0 but is: -1.0"),
        (lambda p: torch.optim.Adafactor(p, beta2_decay=0.5), "beta2_decay should be <= 0 but is: 0.5"),
        (lambda p: torch.optim.Adafactor(p, eps=(-1.0, 1e-3)), "epsilon1 should be >= 0 but is: -1.0"),
        (lambda p: torch.optim.Adafactor(p, eps=(None, -1.0)), "epsilon2 should be >= 0 but is: -1.0"),
        (lambda p: torch.optim.Adafactor(p, d=0.5), "Clipping threshold d should be >= 1 but is: 0.5"),
        (lambda p: torch.optim.Adafactor(p, weight_decay=-0.1), "weight_decay should be >= 0 but is: -0.1"),
    ],
)
def test_bad_arguments(make, msg):
    with pytest.raises(ValueError) as exc:
        make([torch.zeros(2, requires_grad=True)])
    assert str(exc.value) == msg


def test_tensor_lr_is_accepted():
    p = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = torch.optim.Rprop([p], lr=torch.tensor(0.1))
    (p**2).sum().backward()
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.9, 1.9], rtol=1e-6)


def test_exported_from_optim():
    assert torch.optim.swa_utils.AveragedModel is AveragedModel
    for name in ("ASGD", "Rprop", "Adafactor", "swa_utils"):
        assert name in torch.optim.__all__


# ----------------------------------------------------------------------------------------- swa_utils


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))


def _perturb(model, k):
    """Deterministic new values for every parameter, and a changed BatchNorm buffer."""
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.tensor(np.arange(p.numel(), dtype=np.float32).reshape(tuple(p.shape)) * (k + 1) + i))
        model[1].running_mean.fill_(float(k))
        model[1].num_batches_tracked.fill_(7 * k * k)


def test_averaged_model_swa_is_the_mean_of_the_snapshots():
    model = _net()
    swa = AveragedModel(model)
    snaps = []
    for k in range(4):
        _perturb(model, k)
        swa.update_parameters(model)
        snaps.append([p.detach().numpy().copy() for p in model.parameters()])
    assert swa.n_averaged.item() == 4 and swa.n_averaged.dtype == torch.int64
    for i, p in enumerate(swa.module.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), np.mean([s[i] for s in snaps], axis=0), rtol=1e-6)
    # buffers are copied from the model, not averaged
    np.testing.assert_array_equal(swa.module[1].running_mean.numpy(), [3.0, 3.0])
    assert swa.module[1].num_batches_tracked.item() == 63
    assert list(swa.state_dict()) == [
        "n_averaged", "module.0.weight", "module.0.bias", "module.1.weight", "module.1.bias",
        "module.1.running_mean", "module.1.running_var", "module.1.num_batches_tracked",
    ]
    # the copy is independent of the model, and forward runs it
    assert swa.module is not model
    x = torch.ones(4, 3)
    swa.eval()
    model.eval()
    assert swa(x).shape == (4, 2)


@pytest.mark.parametrize("multi", [True, False])
def test_averaged_model_ema(multi):
    model = _net()
    fn = get_ema_multi_avg_fn(0.7) if multi else get_ema_avg_fn(0.7)
    ema = AveragedModel(model, multi_avg_fn=fn) if multi else AveragedModel(model, avg_fn=fn)
    expected = None
    for k in range(4):
        _perturb(model, k)
        ema.update_parameters(model)
        cur = [p.detach().numpy().copy() for p in model.parameters()]
        expected = cur if expected is None else [0.7 * e + 0.3 * c for e, c in zip(expected, cur)]
    for p, e in zip(ema.module.parameters(), expected):
        np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-6)


def test_averaged_model_use_buffers_averages_buffers():
    model = _net()
    swa = AveragedModel(model, use_buffers=True)
    for k in range(4):
        _perturb(model, k)
        swa.update_parameters(model)
    np.testing.assert_allclose(swa.module[1].running_mean.numpy(), [1.5, 1.5])
    # integer buffer: the running mean of 0, 7, 28, 63, truncated on each copy into int64 (PyTorch gives 24)
    assert swa.module[1].num_batches_tracked.item() == 24


def test_swa_avg_fns_directly():
    a = [torch.tensor([1.0, 2.0]), torch.tensor([4.0])]
    c = [torch.tensor([3.0, 6.0]), torch.tensor([0.0])]
    get_swa_multi_avg_fn()(a, c, torch.tensor(1))
    np.testing.assert_allclose(a[0].numpy(), [2.0, 4.0])
    np.testing.assert_allclose(a[1].numpy(), [2.0])
    out = get_swa_avg_fn()(torch.tensor([1.0]), torch.tensor([4.0]), 2)
    np.testing.assert_allclose(out.numpy(), [2.0])
    with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided. Please provide a value in \[0,1\] range."):
        get_ema_avg_fn(1.5)
    with pytest.raises(ValueError, match="Invalid decay value -0.1 provided"):
        get_ema_multi_avg_fn(-0.1)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn should be provided"):
        AveragedModel(_net(), avg_fn=get_swa_avg_fn(), multi_avg_fn=get_swa_multi_avg_fn())


def _swalr_lrs(steps=7, **kw):
    p = torch.nn.Parameter(torch.zeros(2))
    q = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.5}], lr=1.0)
    sched = SWALR(opt, **kw)
    out = []
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append([g["lr"] for g in opt.param_groups])
    return out, opt, sched


# literals from torch.optim.swa_utils.SWALR (PyTorch 2.x)
SWALR_CASES = [
    ({"swa_lr": 0.05, "anneal_epochs": 3},
     [[0.7625, 0.3875], [0.2875000000000001, 0.16250000000000006]] + [[0.05, 0.05]] * 5),
    ({"swa_lr": [0.1, 0.2], "anneal_epochs": 4, "anneal_strategy": "linear"},
     [[0.775, 0.425], [0.55, 0.35], [0.325, 0.275]] + [[0.1, 0.2]] * 4),
    ({"swa_lr": 0.05, "anneal_epochs": 0}, [[0.05, 0.05]] * 7),
]


@pytest.mark.parametrize("kw,expected", SWALR_CASES)
def test_swalr_sequence_matches_pytorch(kw, expected):
    lrs, opt, sched = _swalr_lrs(**kw)
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert sched.get_last_lr() == lrs[-1]
    swa_lrs = kw["swa_lr"] if isinstance(kw["swa_lr"], list) else [kw["swa_lr"]] * 2
    assert [g["swa_lr"] for g in opt.param_groups] == swa_lrs


def test_swalr_state_dict_and_errors():
    _, opt, sched = _swalr_lrs(steps=1, swa_lr=0.05, anneal_epochs=3, anneal_strategy="linear")
    sd = sched.state_dict()
    assert "optimizer" not in sd and "anneal_func" not in sd and sd["_anneal_strategy"] == "linear"
    other = SWALR(opt, swa_lr=0.05)
    other.load_state_dict(sd)
    assert other.anneal_func(0.25) == 0.25 and other.anneal_epochs == 3
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sched.get_lr()
    assert any("get_last_lr()" in str(x.message) for x in w)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', instead got exp"):
        SWALR(opt, swa_lr=0.1, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
        SWALR(opt, swa_lr=0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length as optimizer.param_groups"):
        SWALR(opt, swa_lr=[0.1])


def test_update_bn_recomputes_running_stats():
    rng = np.random.RandomState(0)
    batches = [rng.randn(8, 3).astype(np.float32) * 2 + 1 for _ in range(3)]
    model = torch.nn.Sequential(torch.nn.BatchNorm1d(3, momentum=0.3))
    model.eval()
    with torch.no_grad():
        model[0].running_mean.fill_(100.0)
    loader = [(torch.tensor(b), torch.zeros(8)) for b in batches]
    update_bn(loader, model)
    bn = model[0]
    # momentum=None during the pass: a cumulative average of the per-batch statistics
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-5)
    np.testing.assert_allclose(
        bn.running_var.numpy(), np.mean([b.var(0, ddof=1) for b in batches], axis=0), rtol=1e-5
    )
    assert bn.num_batches_tracked.item() == 3
    assert bn.momentum == 0.3 and not model.training


def test_update_bn_with_averaged_model_and_plain_tensor_batches():
    model = _net()
    swa = AveragedModel(model)
    swa.update_parameters(model)
    data = [torch.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3) * (i + 1)) for i in range(2)]
    update_bn(data, swa)
    lin = swa.module[0]
    with torch.no_grad():
        h = [lin(x).numpy() for x in data]
    np.testing.assert_allclose(swa.module[1].running_mean.numpy(), np.mean([a.mean(0) for a in h], axis=0),
                               rtol=1e-5, atol=1e-6)
    assert swa.training
    update_bn(data, torch.nn.Linear(3, 2))  # no BatchNorm: nothing to do
