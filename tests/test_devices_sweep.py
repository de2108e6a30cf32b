"""A sweep of the tensor API on a CUDA device against the CPU: each op's result must live on the
device and equal the CPU's (kernel or host fallback alike), its gradient too where it has one.
Catches ops that build a CPU tensor internally and then mix devices, and kernels that disagree
with the host code. Runs where
``torch.cuda.is_available()`` (a GPU, or ``FERROTORCH_EMULATE_CUDA=1`` as README's test command sets).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import nn

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
    pytest.mark.usefixtures("emulated_kernels"),  # ops with kernels run them (conftest.py)
]

RNG = np.random.default_rng(7)


def r(*shape: int) -> torch.Tensor:
    return torch.tensor(RNG.standard_normal(shape).astype(np.float32))


def pos(*shape: int) -> torch.Tensor:
    return torch.tensor(RNG.uniform(0.5, 2.0, shape).astype(np.float32))


def ints(*shape: int, hi: int = 5) -> torch.Tensor:
    return torch.tensor(RNG.integers(0, hi, shape))


# (name, fn, inputs, differentiable?)
CASES: list[tuple[str, Callable[..., Any], list[torch.Tensor], bool]] = [
    ("floor_divide", lambda a, b: torch.floor_divide(a, b), [ints(4, hi=9), ints(4, hi=3) + 1], False),
    ("remainder", lambda a, b: a % b, [r(3, 4), pos(4)], False),
    ("clamp", lambda a: a.clamp(-0.5, 0.5), [r(3, 4)], True),
    ("abs_sign", lambda a: (a.abs(), a.sign()), [r(5)], True),
    ("pow_scalar", lambda a: a ** 2 + 2 ** a, [r(5)], True),
    ("log_ops", lambda a: (a.log(), a.log1p(), a.log2(), a.sqrt(), a.rsqrt()), [pos(6)], True),
    ("trig", lambda a: (a.sin(), a.cos(), a.tan(), a.atan(), a.sinh()), [r(6)], True),
    ("activations", lambda a: (F.gelu(a), F.silu(a), F.leaky_relu(a, 0.1), F.elu(a), F.softplus(a)), [r(6)], True),
    ("sigmoid_tanh", lambda a: (a.sigmoid(), a.tanh(), F.logsigmoid(a)), [r(6)], True),
    ("cumsum_prod", lambda a: (a.cumsum(1), a.cumprod(0)), [r(3, 4)], True),
    ("reductions", lambda a: (a.sum(), a.mean(0), a.var(1), a.std(), a.prod(1), a.norm()), [r(3, 4)], True),
    ("amax_logsumexp", lambda a: (a.amax(1), a.amin(0), a.logsumexp(1)), [r(3, 4)], True),
    ("min_max", lambda a: (a.max(), a.min(), a.max(0).indices, a.argmin()), [r(3, 4)], False),
    ("sort_topk", lambda a: (a.sort(1).values, a.topk(2).values, a.argsort(0)), [r(3, 4)], False),
    ("matmuls", lambda a, b: (a @ b, torch.matmul(a[0], b), a.mm(b), torch.einsum("ij,jk->ik", a, b)),
     [r(3, 4), r(4, 2)], True),
    ("bmm_baddbmm", lambda a, b: (torch.bmm(a, b), torch.baddbmm(torch.ones(2, 3, 5).to(a.device), a, b), a @ b),
     [r(2, 3, 4), r(2, 4, 5)], True),
    ("outer_addmm", lambda a, b: (torch.outer(a, b), torch.addmm(torch.zeros(4, 4).to(a.device), a[:, None], b[None])),
     [r(4), r(4)], True),
    ("views", lambda a: (a.view(4, 3), a.t(), a.permute(1, 0), a.unsqueeze(1).squeeze(1), a.flatten(), a[::2, 1:]),
     [r(3, 4)], True),
    ("join", lambda a, b: (torch.cat([a, b]), torch.stack([a, b]), torch.hstack([a, b]), torch.vstack([a, b])),
     [r(2, 3), r(2, 3)], True),
    ("split_chunk", lambda a: (*a.split(2, 1), *a.chunk(3, 0), *a.unbind(0)), [r(3, 4)], True),
    ("repeat_expand", lambda a: (a.repeat(2, 1), a.expand(2, 3, 4), a.tile(1, 2), a.flip(1), a.roll(1, 0)),
     [r(3, 4)], True),
    ("tril_triu_diag", lambda a: (a.tril(), a.triu(1), a.diagonal(), torch.diag(a[0])), [r(4, 4)], True),
    ("index_ops", lambda a, i: (a[i], a.index_select(1, i), a.gather(1, i.expand(3, 3)), a.take(i),
                                a.index_add(0, i, a)),
     [r(3, 4), torch.tensor([2, 0, 1])], True),
    ("masks", lambda a: (a[a > 0], a.masked_fill(a < 0, 0.0), torch.where(a > 0, a, a * 2), a.nonzero()),
     [r(3, 4)], False),
    # distinct targets per row: which of repeated targets scatter writes is unspecified (as in PyTorch)
    ("scatter", lambda a, i: (torch.zeros(3, 4).to(a.device).scatter(1, i, a), torch.zeros(3, 4).to(a.device).scatter_add(1, i, a)),
     [r(3, 2), torch.tensor([[0, 2], [3, 1], [1, 0]])], False),
    ("scatter_add_repeats", lambda a, i: torch.zeros(3, 4).to(a.device).scatter_add(1, i, a),
     [r(3, 5), ints(3, 5, hi=4)], False),
    ("comparisons", lambda a, b: (a == b, a < b, a.eq(b), torch.maximum(a, b), torch.isclose(a, b), a.isnan()),
     [r(3, 4), r(3, 4)], False),
    ("logical", lambda a, b: (a & b, a | b, ~a, a ^ b, torch.logical_and(a, b)), [ints(5, hi=2).bool(), ints(5, hi=2).bool()],
     False),
    ("int_ops", lambda a, b: (a + b, a * b, a - 1, a // 2, a << 1, a.sum(), a.max()), [ints(5), ints(5)], False),
    ("casts", lambda a: (a.half().float(), a.to(torch.bfloat16).float(), a.double(), a.long(), a.bool()), [r(5) * 3], False),
    ("creation_like", lambda a: (torch.zeros_like(a), torch.ones_like(a), torch.full_like(a, 2.0), a.new_zeros(2),
                                 a.new_tensor([1.0, 2.0]), torch.empty_like(a).fill_(1.0)), [r(3)], False),
    ("arange_linspace", lambda a: (torch.arange(5, device=a.device) * a[0], torch.linspace(0, 1, 4, device=a.device)),
     [r(2)], False),
    ("softmaxes", lambda a: (a.softmax(0), a.log_softmax(1), F.softmin(a, 1)), [r(3, 4)], True),
    ("norms", lambda a: (F.layer_norm(a, (4,)), F.normalize(a, dim=1), F.group_norm(a.view(1, 3, 4), 1)), [r(3, 4)], True),
    ("batch_norm", lambda a: F.batch_norm(a, torch.zeros(3).to(a.device), torch.ones(3).to(a.device), training=True),
     [r(4, 3)], True),
    ("losses", lambda a, b: (F.mse_loss(a, b), F.l1_loss(a, b), F.smooth_l1_loss(a, b), F.huber_loss(a, b),
                             F.binary_cross_entropy_with_logits(a, b.sigmoid()), F.kl_div(a.log_softmax(1), b.softmax(1), reduction="batchmean")),
     [r(3, 4), r(3, 4)], True),
    ("nll_bce", lambda a, t: (F.nll_loss(a.log_softmax(1), t), F.binary_cross_entropy(a.sigmoid(), torch.ones(3, 4).to(a.device) * 0.5)),
     [r(3, 4), torch.tensor([0, 3, 1])], True),
    ("conv1d", lambda x, w: F.conv1d(x, w, padding=1), [r(2, 3, 7), r(4, 3, 3)], True),
    ("conv2d_groups", lambda x, w: F.conv2d(x, w, groups=2, stride=2), [r(1, 4, 6, 6), r(4, 2, 3, 3)], True),
    ("pools", lambda x: (F.avg_pool2d(x, 2), F.adaptive_avg_pool2d(x, 1), F.max_pool1d(x[0], 2)), [r(1, 2, 4, 4)], True),
    ("interp_pad", lambda x: (F.pad(x, (1, 1)), F.interpolate(x, scale_factor=2)), [r(1, 2, 3, 3)], True),
    ("dropout_eval", lambda x: F.dropout(x, 0.5, training=False), [r(3, 4)], True),
    ("cummax_cummin", lambda a: (*a.cummax(1), *a.cummin(0)), [r(3, 4)], False),
    ("repeat_interleave", lambda a, n: (a.repeat_interleave(2, dim=0), a.repeat_interleave(n, dim=1),
                                        torch.repeat_interleave(n)), [r(2, 3), torch.tensor([1, 0, 2])], False),
    ("resize_", lambda a: (a.clone().resize_(2, 3), a.clone().resize_(7)), [r(6)], False),
    ("bincount", lambda i, w: (torch.bincount(i), torch.bincount(i, w, minlength=7)), [ints(6), r(6)], False),
    ("one_hot_embed", lambda i, w: (F.one_hot(i, 5), F.embedding(i, w)), [ints(4), r(5, 3)], False),
]


def _tuple(x: Any) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def _check_same(got: Any, want: Any, name: str) -> None:
    for g, w in zip(_tuple(got), _tuple(want)):
        assert g.device == torch.device("cuda", 0), f"{name}: output on {g.device}"
        np.testing.assert_allclose(g.detach().cpu().float().numpy(), w.detach().float().numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


@pytest.mark.parametrize("name, fn, inputs, differentiable", CASES, ids=[c[0] for c in CASES])
def test_op_on_cuda_matches_cpu(name: str, fn: Callable[..., Any], inputs: list, differentiable: bool) -> None:
    cpu_in = [t.clone().requires_grad_(differentiable and t.is_floating_point()) for t in inputs]
    dev_in = [t.detach().clone().to("cuda").requires_grad_(differentiable and t.is_floating_point()) for t in inputs]
    want, got = fn(*cpu_in), fn(*dev_in)
    _check_same(got, want, name)
    if differentiable:
        def total(outs: Any) -> torch.Tensor:
            return sum((o.float() * (i + 1)).sum() for i, o in enumerate(_tuple(outs)) if o.is_floating_point())

        total(want).backward()
        total(got).backward()
        for c, d in zip(cpu_in, dev_in):
            if c.grad is not None:
                assert d.grad is not None and d.grad.device == torch.device("cuda", 0), name
                np.testing.assert_allclose(d.grad.cpu().numpy(), c.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_module_zoo_trains_on_cuda_like_cpu() -> None:
    """A model touching most layer families: one SGD step on each device gives the same parameters."""
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.rnn = nn.LSTM(4, 6, batch_first=True)
            self.gru = nn.GRU(6, 5, batch_first=True)
            self.conv = nn.Conv1d(5, 3, 3, padding=1)
            self.bn = nn.BatchNorm1d(3)
            self.ln = nn.LayerNorm(3)
            self.drop = nn.Dropout(0.0)
            self.head = nn.Linear(3, 2)

        def forward(self, i: torch.Tensor) -> torch.Tensor:
            x, _ = self.rnn(self.emb(i))
            x, _ = self.gru(x)
            x = self.bn(self.conv(x.transpose(1, 2))).transpose(1, 2)
            return self.head(self.drop(self.ln(x).relu())).mean(1)

    cpu = Net()
    import copy

    dev = copy.deepcopy(cpu).to("cuda")
    i, t = ints(3, 5, hi=10), torch.tensor([0, 1, 1])
    for model, device in ((cpu, "cpu"), (dev, "cuda")):
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for _ in range(2):
            opt.zero_grad()
            F.cross_entropy(model(i.to(device)), t.to(device)).backward()
            opt.step()
    for (name, p), q in zip(cpu.named_parameters(), dev.parameters()):
        assert q.device == torch.device("cuda", 0), name
        np.testing.assert_allclose(q.detach().cpu().numpy(), p.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    for (name, b), c in zip(cpu.named_buffers(), dev.buffers()):
        assert c.device == torch.device("cuda", 0), name
        np.testing.assert_allclose(c.cpu().numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
