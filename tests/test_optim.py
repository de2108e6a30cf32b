"""torch.optim: every optimizer's steps against a numpy re-derivation of PyTorch's documented update,
state_dict layout and round trips, resuming PyTorch-written optimizer state, param groups, errors."""

from __future__ import annotations

import math
from pathlib import Path

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch import nn

FIXTURES = Path(__file__).resolve().parent / "fixtures"


# --------------------------------------------------------------------------- numpy references
# Each takes (params, grads_per_step, hyper-parameters) and returns the params after every step,
# written from the algorithm boxes in PyTorch's documentation.


def ref_sgd(ps, gs, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    ps = [p.copy() for p in ps]
    bufs = [None] * len(ps)
    for g_step in gs:
        for i, (p, g) in enumerate(zip(ps, g_step)):
            g = -g if maximize else g.copy()
            if weight_decay:
                g = g + weight_decay * p
            if momentum:
                bufs[i] = g.copy() if bufs[i] is None else momentum * bufs[i] + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            ps[i] = p - lr * g
    return ps


def ref_adam(
    ps,
    gs,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    amsgrad=False,
    maximize=False,
    decoupled=False,
):
    b1, b2 = betas
    ps = [p.copy() for p in ps]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    vmax = [np.zeros_like(p) for p in ps]
    for t, g_step in enumerate(gs, start=1):
        for i, g in enumerate(g_step):
            g = -g if maximize else g
            if weight_decay and decoupled:
                ps[i] = ps[i] * (1 - lr * weight_decay)
            elif weight_decay:
                g = g + weight_decay * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            mhat = m[i] / (1 - b1**t)
            if amsgrad:
                vmax[i] = np.maximum(vmax[i], v[i])
                vhat = vmax[i] / (1 - b2**t)
            else:
                vhat = v[i] / (1 - b2**t)
            ps[i] = ps[i] - lr * mhat / (np.sqrt(vhat) + eps)
    return ps


def ref_adagrad(ps, gs, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    ps = [p.copy() for p in ps]
    s = [np.full_like(p, initial_accumulator_value) for p in ps]
    for t, g_step in enumerate(gs, start=1):
        for i, g in enumerate(g_step):
            g = g + weight_decay * ps[i]
            clr = lr / (1 + (t - 1) * lr_decay)
            s[i] = s[i] + g * g
            ps[i] = ps[i] - clr * g / (np.sqrt(s[i]) + eps)
    return ps


def ref_rmsprop(ps, gs, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    ps = [p.copy() for p in ps]
    v = [np.zeros_like(p) for p in ps]
    ga = [np.zeros_like(p) for p in ps]
    buf = [np.zeros_like(p) for p in ps]
    for g_step in gs:
        for i, g in enumerate(g_step):
            g = g + weight_decay * ps[i]
            v[i] = alpha * v[i] + (1 - alpha) * g * g
            vt = v[i]
            if centered:
                ga[i] = alpha * ga[i] + (1 - alpha) * g
                vt = vt - ga[i] ** 2
            if momentum > 0:
                buf[i] = momentum * buf[i] + g / (np.sqrt(vt) + eps)
                ps[i] = ps[i] - lr * buf[i]
            else:
                ps[i] = ps[i] - lr * g / (np.sqrt(vt) + eps)
    return ps


def ref_adadelta(ps, gs, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    ps = [p.copy() for p in ps]
    v = [np.zeros_like(p) for p in ps]
    u = [np.zeros_like(p) for p in ps]
    for g_step in gs:
        for i, g in enumerate(g_step):
            g = g + weight_decay * ps[i]
            v[i] = rho * v[i] + (1 - rho) * g * g
            dx = np.sqrt(u[i] + eps) / np.sqrt(v[i] + eps) * g
            u[i] = rho * u[i] + (1 - rho) * dx * dx
            ps[i] = ps[i] - lr * dx
    return ps


def ref_adamax(ps, gs, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    b1, b2 = betas
    ps = [p.copy() for p in ps]
    m = [np.zeros_like(p) for p in ps]
    u = [np.zeros_like(p) for p in ps]
    for t, g_step in enumerate(gs, start=1):
        for i, g in enumerate(g_step):
            g = g + weight_decay * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            u[i] = np.maximum(b2 * u[i], np.abs(g) + eps)
            ps[i] = ps[i] - lr / (1 - b1**t) * m[i] / u[i]
    return ps


def ref_nadam(ps, gs, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3):
    b1, b2 = betas
    ps = [p.copy() for p in ps]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    mu_prod = 1.0
    for t, g_step in enumerate(gs, start=1):
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_prod = float(np.float32(mu_prod) * np.float32(mu))  # PyTorch keeps mu_product as a float32 tensor
        for i, g in enumerate(g_step):
            g = g + weight_decay * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            denom = np.sqrt(v[i] / (1 - b2**t)) + eps
            ps[i] = (
                ps[i]
                - lr * (1 - mu) / (1 - mu_prod) * g / denom
                - lr * mu_next / (1 - mu_prod * mu_next) * m[i] / denom
            )
    return ps


def ref_radam(ps, gs, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    b1, b2 = betas
    ps = [p.copy() for p in ps]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    rho_inf = 2 / (1 - b2) - 1
    for t, g_step in enumerate(gs, start=1):
        for i, g in enumerate(g_step):
            g = g + weight_decay * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            mhat = m[i] / (1 - b1**t)
            rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
            if rho_t > 5:
                lt = math.sqrt(1 - b2**t) / (np.sqrt(v[i]) + eps)
                r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                ps[i] = ps[i] - lr * mhat * lt * r
            else:
                ps[i] = ps[i] - lr * mhat
    return ps


CASES = [
    ("SGD", {"lr": 0.1}, ref_sgd),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}, ref_sgd),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "maximize": True}, ref_sgd),
    ("Adam", {"lr": 0.01}, ref_adam),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}, ref_adam),
    ("Adam", {"lr": 0.01, "maximize": True}, ref_adam),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.9)}, ref_adam),  # lerp weight 0.7: torch.lerp's other branch
    ("AdamW", {"lr": 0.01}, lambda ps, gs, **kw: ref_adam(ps, gs, weight_decay=1e-2, decoupled=True, **kw)),
    (
        "AdamW",
        {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
        lambda ps, gs, **kw: ref_adam(ps, gs, decoupled=True, **kw),
    ),
    (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1},
        ref_adagrad,
    ),
    ("RMSprop", {"lr": 0.01}, ref_rmsprop),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1}, ref_rmsprop),
    ("Adadelta", {}, ref_adadelta),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1}, ref_adadelta),
    ("Adamax", {"weight_decay": 0.1}, ref_adamax),
    ("Adamax", {"betas": (0.2, 0.99)}, ref_adamax),
    ("RMSprop", {"lr": 0.01, "alpha": 0.3, "centered": True}, ref_rmsprop),
    ("NAdam", {"weight_decay": 0.1}, ref_nadam),
    ("RAdam", {"weight_decay": 0.1}, ref_radam),
]


def _run(name, kwargs, w0, grads, dtype):
    params = [nn.Parameter(torch.tensor(w)) for w in w0]
    opt = getattr(torch.optim, name)(params, **kwargs)
    for g_step in grads:
        for p, g in zip(params, g_step):
            p.grad = torch.tensor(g).to(dtype)
        opt.step()
    return params, opt


@pytest.mark.parametrize("name,kwargs,ref", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_steps_match_reference(name, kwargs, ref, dtype):
    rng = np.random.default_rng(7)
    w0 = [rng.standard_normal((4, 3)).astype(dtype), rng.standard_normal(5).astype(dtype)]
    # 12 steps: long enough for RAdam to pass its rectification threshold (rho_t > 5 from step 6)
    grads = [[rng.standard_normal(w.shape).astype(dtype) for w in w0] for _ in range(12)]
    params, _ = _run(name, kwargs, w0, grads, getattr(torch, dtype))
    want = ref(
        [w.astype(np.float64) for w in w0], [[g.astype(np.float64) for g in s] for s in grads], **kwargs
    )
    tol = 1e-12 if dtype == "float64" else 2e-5
    for p, w in zip(params, want):
        assert p.dtype == getattr(torch, dtype)
        np.testing.assert_allclose(p.detach().numpy(), w, rtol=tol, atol=tol)


def test_large_parameters_update_in_parallel_chunks():
    # 300k elements spans many work items of the fused kernel; every element must see the same rule
    rng = np.random.default_rng(0)
    w = rng.standard_normal(300_001).astype(np.float32)
    gs = [[rng.standard_normal(w.shape).astype(np.float32)] for _ in range(3)]
    params, _ = _run("Adam", {"lr": 0.1}, [w], gs, torch.float32)
    want = ref_adam([w.astype(np.float64)], [[g[0].astype(np.float64)] for g in gs], lr=0.1)[0]
    np.testing.assert_allclose(params[0].detach().numpy(), want, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_params_update_in_float32(dtype):
    p = nn.Parameter(torch.tensor([1.0, -2.0, 0.5]).to(getattr(torch, dtype)))
    opt = torch.optim.SGD([p], lr=0.5, momentum=0.9)
    p.grad = torch.tensor([1.0, 1.0, -1.0]).to(getattr(torch, dtype))
    opt.step()
    opt.step()
    # buf: g, then 1.9 g; p = p0 - 0.5 * 2.9 g
    np.testing.assert_allclose(p.detach().float().numpy(), [1 - 1.45, -2 - 1.45, 0.5 + 1.45], atol=1e-2)
    assert opt.state[p]["momentum_buffer"].dtype == getattr(torch, dtype)


def test_noncontiguous_grad_is_used_in_its_logical_order():
    p = nn.Parameter(torch.zeros(2, 3))
    g = torch.arange(6.0).reshape(3, 2).t()  # a transposed view
    p.grad = g
    torch.optim.SGD([p], lr=1.0).step()
    np.testing.assert_array_equal(p.detach().numpy(), -np.arange(6.0).reshape(3, 2).T)


def test_params_without_grad_are_skipped_and_keep_no_state():
    a, b = nn.Parameter(torch.ones(2)), nn.Parameter(torch.ones(2))
    opt = torch.optim.Adam([a, b], lr=0.1)
    a.grad = torch.ones(2)
    opt.step()
    assert b not in opt.state or not opt.state[b]
    np.testing.assert_array_equal(b.detach().numpy(), [1.0, 1.0])
    assert opt.state[a]["step"].item() == 1.0


def test_update_bumps_version_so_stale_saved_tensors_are_caught():
    p = nn.Parameter(torch.tensor([1.0, 2.0]))
    y = (p * p).sum()  # saves p for backward
    p.grad = torch.ones(2)
    torch.optim.SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


# --------------------------------------------------------------------------- training behaviour


def test_sgd_trains_linear_regression_like_seed_003():
    torch.manual_seed(0)
    x = torch.arange(11.0).reshape(-1, 1)
    y = 2 * x + 1
    model = nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(3000):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    assert abs(model.weight.item() - 2.0) < 1e-2
    assert abs(model.bias.item() - 1.0) < 5e-2


def test_param_groups_use_their_own_learning_rate():
    base, head = nn.Parameter(torch.ones(2)), nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([{"params": [base]}, {"params": [head], "lr": 0.5}], lr=0.1, momentum=0.0)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    base.grad, head.grad = torch.ones(2), torch.ones(2)
    opt.step()
    np.testing.assert_allclose(base.detach().numpy(), [0.9, 0.9])
    np.testing.assert_allclose(head.detach().numpy(), [0.5, 0.5])
    opt.param_groups[1]["lr"] = 0.0  # changing the group dict changes the next step (schedulers rely on it)
    opt.step()
    np.testing.assert_allclose(head.detach().numpy(), [0.5, 0.5])


def test_add_param_group_fills_defaults():
    a, b = nn.Parameter(torch.ones(1)), nn.Parameter(torch.ones(1))
    opt = torch.optim.Adam([a], lr=0.01, betas=(0.8, 0.9))
    opt.add_param_group({"params": b, "lr": 0.1})
    assert opt.param_groups[1]["betas"] == (0.8, 0.9)
    assert opt.param_groups[1]["lr"] == 0.1
    assert opt.param_groups[1]["params"] == [b]


def test_zero_grad_sets_to_none_or_zeroes():
    p = nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([p], lr=0.1)
    p.grad = torch.ones(3)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


def test_step_closure_returns_loss_and_runs_with_grad():
    p = nn.Parameter(torch.tensor([3.0]))
    opt = torch.optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    assert p.item() == pytest.approx(3.0 - 0.25 * 6.0)


def test_step_hooks_run_around_step():
    p = nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([p], lr=1.0)
    seen = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: seen.append(("pre", p.item())))
    opt.register_step_post_hook(lambda o, a, k: seen.append(("post", p.item())))
    p.grad = torch.ones(1)
    opt.step()
    h1.remove()
    opt.step()
    assert seen == [("pre", 1.0), ("post", 0.0), ("post", -1.0)]


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_minimises_rosenbrock(line_search):
    xy = nn.Parameter(torch.tensor([-1.5, 2.0], dtype=torch.float64))
    opt = torch.optim.LBFGS([xy], lr=1 if line_search else 0.1, max_iter=200, line_search_fn=line_search)

    def closure():
        opt.zero_grad()
        x, y = xy[0], xy[1]
        loss = (1 - x) ** 2 + 100 * (y - x**2) ** 2
        loss.backward()
        return loss

    for _ in range(20 if line_search else 60):
        opt.step(closure)
    np.testing.assert_allclose(xy.detach().numpy(), [1.0, 1.0], atol=1e-3)


def test_lbfgs_refuses_param_groups_and_missing_closure():
    a, b = nn.Parameter(torch.ones(1)), nn.Parameter(torch.ones(1))
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        torch.optim.LBFGS([{"params": [a]}, {"params": [b]}])
    with pytest.raises(RuntimeError, match="closure"):
        torch.optim.LBFGS([a]).step(None)


# --------------------------------------------------------------------------- state_dict


def test_state_dict_layout_is_pytorchs():
    model = nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert sorted(sd["state"]) == [0, 1]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][0]["step"].dtype == torch.float32 and sd["state"][0]["step"].item() == 1.0
    assert sd["state"][0]["exp_avg"].shape == (2, 3)
    group = sd["param_groups"][0]
    assert group["params"] == [0, 1]
    assert group["lr"] == 0.01 and group["betas"] == (0.9, 0.999) and group["amsgrad"] is False


def test_state_dict_round_trip_through_save_resumes_identically(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(16, 3), torch.randn(16, 1)

    def make():
        torch.manual_seed(1)
        m = nn.Linear(3, 1)
        return m, torch.optim.RMSprop(m.parameters(), lr=0.01, momentum=0.9, centered=True)

    def train(m, o, n):
        for _ in range(n):
            o.zero_grad()
            ((m(x) - y) ** 2).mean().backward()
            o.step()

    m1, o1 = make()
    train(m1, o1, 5)
    torch.save({"model": m1.state_dict(), "optim": o1.state_dict()}, tmp_path / "ck.pt")
    train(m1, o1, 3)

    m2, o2 = make()
    ck = torch.load(tmp_path / "ck.pt")
    m2.load_state_dict(ck["model"])
    o2.load_state_dict(ck["optim"])
    train(m2, o2, 3)
    np.testing.assert_array_equal(m2.weight.detach().numpy(), m1.weight.detach().numpy())


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam"])
def test_resumes_optimizer_state_written_by_pytorch(name):
    classes = {
        "sgd": (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
        "adam": (torch.optim.Adam, {"lr": 1e-2, "amsgrad": True, "weight_decay": 1e-3}),
        "adamw": (torch.optim.AdamW, {"lr": 1e-2}),
        "rmsprop": (torch.optim.RMSprop, {"lr": 1e-2, "momentum": 0.5, "centered": True}),
        "adagrad": (torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
        "nadam": (torch.optim.NAdam, {"lr": 1e-2}),
    }
    cls, kwargs = classes[name]
    saved = torch.load(FIXTURES / f"optim_{name}.pt")
    model = nn.Linear(3, 2)
    model.load_state_dict(saved["model"])
    opt = cls(model.parameters(), **kwargs)
    opt.load_state_dict(saved["optim"])
    opt.zero_grad()
    ((model(saved["x"]) - saved["y"]) ** 2).mean().backward()
    opt.step()
    for key in ("weight", "bias"):
        np.testing.assert_allclose(
            getattr(model, key).detach().numpy(), saved["after"][key].numpy(), rtol=1e-5, atol=1e-7
        )


def test_load_state_dict_errors():
    a, b = nn.Parameter(torch.ones(1)), nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([a], lr=0.1)
    two = torch.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(two.state_dict())
    bigger = torch.optim.SGD([a, b], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(bigger.state_dict())


def test_load_state_dict_casts_state_to_param_dtype():
    p = nn.Parameter(torch.ones(2, dtype=torch.float64))
    src = torch.optim.SGD([nn.Parameter(torch.ones(2))], lr=0.1, momentum=0.9)
    src.param_groups[0]["params"][0].grad = torch.ones(2)
    src.step()
    dst = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    dst.load_state_dict(src.state_dict())
    assert dst.state[p]["momentum_buffer"].dtype == torch.float64


# --------------------------------------------------------------------------- errors and printing


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: torch.optim.SGD(p, lr=-1), "Invalid learning rate: -1"),
        (lambda p: torch.optim.SGD(p, lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
        (lambda p: torch.optim.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires a momentum"),
        (lambda p: torch.optim.Adam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
        (lambda p: torch.optim.Adam(p, eps=-1.0), "Invalid epsilon value: -1.0"),
        (lambda p: torch.optim.Adam(p, weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
        (lambda p: torch.optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
    ],
)
def test_bad_hyper_parameters_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make([nn.Parameter(torch.ones(1))])


def test_bad_params_argument():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        torch.optim.SGD([], lr=0.1)
    with pytest.raises(
        TypeError, match="should be an iterable of Tensors or dicts, but got torch.FloatTensor"
    ):
        torch.optim.SGD(torch.ones(2), lr=0.1)
    p = nn.Parameter(torch.ones(1))
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        torch.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        torch.optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        torch.optim.SGD([1.0], lr=0.1)


def test_integer_parameter_is_refused_with_a_clear_error():
    p = torch.ones(2, dtype=torch.int64)
    opt = torch.optim.SGD([p], lr=0.1)
    p.grad = torch.ones(2, dtype=torch.int64)
    with pytest.raises(RuntimeError, match="only floating-point parameters"):
        opt.step()


def test_grad_of_wrong_shape_is_refused():
    p = nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([p])
    p.grad = torch.ones(3)
    opt.step()
    opt.state[p]["exp_avg"] = torch.ones(2)
    with pytest.raises(RuntimeError, match=r"\[3\].*\[2\]"):
        opt.step()


def test_repr_matches_pytorch_form():
    opt = torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=0.01, momentum=0.9)
    assert repr(opt) == (
        "SGD (\nParameter Group 0\n    dampening: 0\n    differentiable: False\n    foreach: None\n"
        "    fused: None\n    lr: 0.01\n    maximize: False\n    momentum: 0.9\n    nesterov: False\n"
        "    weight_decay: 0\n)"
    )


def test_optimizers_match_real_pytorch():
    real = pytest.importorskip("torch")
    if not hasattr(real, "optim") or real is torch:
        pytest.skip("real PyTorch not installed")
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((6, 4)).astype(np.float32)
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(10)]
    for name, kwargs, _ in CASES:
        out = []
        for lib in (real, torch):
            p = lib.nn.Parameter(lib.tensor(w0.copy()))
            opt = getattr(lib.optim, name)([p], **kwargs)
            for g in grads:
                p.grad = lib.tensor(g.copy())
                opt.step()
            out.append(p.detach().numpy().copy())
        np.testing.assert_allclose(out[1], out[0], rtol=1e-5, atol=1e-6, err_msg=f"{name} {kwargs}")


def test_noncontiguous_parameter_is_updated_through_its_view():
    base = torch.zeros(3, 2)
    p = nn.Parameter(base.t())  # a transposed view: not contiguous
    assert not p.is_contiguous()
    opt = torch.optim.SGD([p], lr=0.5, momentum=0.9)
    g = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    for _ in range(2):
        p.grad = torch.tensor(g)
        opt.step()
    want = ref_sgd([np.zeros((2, 3))], [[g], [g]], lr=0.5, momentum=0.9)[0]
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-6)
    assert not p.is_contiguous()


def test_group_with_mixed_dtypes_updates_each():
    a = nn.Parameter(torch.ones(2, dtype=torch.float64))
    b = nn.Parameter(torch.ones(2, dtype=torch.float32))
    opt = torch.optim.Adam([a, b], lr=0.1)
    a.grad, b.grad = torch.ones(2, dtype=torch.float64), torch.ones(2)
    opt.step()
    # Adam's first step moves every element by lr (m̂ / sqrt(v̂) = 1)
    np.testing.assert_allclose(a.detach().numpy(), [0.9, 0.9], rtol=1e-7)
    np.testing.assert_allclose(b.detach().numpy(), [0.9, 0.9], rtol=1e-6)
    assert a.dtype == torch.float64 and b.dtype == torch.float32
