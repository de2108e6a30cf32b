"""Compatibility with real PyTorch (skipped when torch is not installed): reprs, state_dict layouts, values."""

import ferrotorch as ft
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import nn

torch = pytest.importorskip("torch")
TN = torch.nn
TF = torch.nn.functional

RNG = np.random.default_rng(3)


def to_ft(t):
    return ft.tensor(t.detach().numpy())


def copy_state(ref, mine):
    mine.load_state_dict({k: to_ft(v) for k, v in ref.state_dict().items()})


PAIRS = [
    ("Linear", (5, 3), {}), ("Linear", (5, 3), {"bias": False}), ("Bilinear", (5, 5, 2), {}),
    ("Conv1d", (3, 4, 3), {"stride": 2, "padding": 1}), ("Conv2d", (3, 6, (3, 2)), {"groups": 3, "dilation": 2}),
    ("ConvTranspose2d", (3, 2, 3), {"stride": 2, "output_padding": 1}), ("BatchNorm1d", (3,), {}),
    ("BatchNorm2d", (3,), {"affine": False}), ("LayerNorm", ([4, 5],), {}), ("GroupNorm", (1, 3), {}),
    ("Embedding", (10, 4), {"padding_idx": 1}), ("EmbeddingBag", (10, 4), {"mode": "sum"}),
    ("LSTM", (5, 6, 2), {"bidirectional": True, "batch_first": True}), ("GRU", (5, 6), {"bias": False}),
    ("RNN", (5, 6), {"nonlinearity": "relu", "dropout": 0.0}), ("LSTMCell", (5, 6), {}),
    ("MultiheadAttention", (8, 2), {"batch_first": True}), ("TransformerEncoderLayer", (8, 2, 16), {}),
    ("MaxPool2d", (3, 2, 1), {"ceil_mode": True}), ("AvgPool1d", (3,), {}), ("AdaptiveAvgPool2d", ((2, 3),), {}),
    ("Dropout", (0.2,), {}), ("LeakyReLU", (0.1,), {}), ("GELU", (), {"approximate": "tanh"}),
    ("Softmax", (), {"dim": 1}), ("PReLU", (3,), {}), ("Flatten", (), {}), ("CrossEntropyLoss", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", PAIRS, ids=[p[0] for p in PAIRS])
def test_repr_and_state_dict_layout(name, args, kwargs):
    ref = getattr(TN, name)(*args, **kwargs)
    mine = getattr(nn, name)(*args, **kwargs)
    assert repr(mine) == repr(ref)
    ref_sd, my_sd = ref.state_dict(), mine.state_dict()
    assert list(my_sd) == list(ref_sd)
    for k in ref_sd:
        assert tuple(my_sd[k].shape) == tuple(ref_sd[k].shape), k


def test_container_reprs():
    ref = TN.Sequential(TN.Linear(2, 4), TN.ModuleList([TN.ReLU(), TN.ReLU(), TN.Tanh()]),
                        TN.ModuleDict({"a": TN.Linear(1, 1)}))
    mine = nn.Sequential(nn.Linear(2, 4), nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()]),
                         nn.ModuleDict({"a": nn.Linear(1, 1)}))
    assert repr(mine) == repr(ref)
    assert repr(nn.ParameterList([nn.Parameter(ft.zeros(2, 3))])) == repr(
        TN.ParameterList([TN.Parameter(torch.zeros(2, 3))]))


@pytest.mark.parametrize("name,make_input", [
    ("LSTM", lambda: RNG.standard_normal((2, 4, 5))), ("GRU", lambda: RNG.standard_normal((4, 2, 5))),
    ("Conv2d", lambda: RNG.standard_normal((2, 3, 7, 6))), ("TransformerEncoderLayer",
                                                            lambda: RNG.standard_normal((4, 2, 8))),
])
def test_loaded_pytorch_weights_give_pytorch_outputs(name, make_input):
    args = {"LSTM": ((5, 6, 2), {"bidirectional": True, "batch_first": True}), "GRU": ((5, 6), {}),
            "Conv2d": ((3, 6, 3), {"groups": 3, "padding": 1}),
            "TransformerEncoderLayer": ((8, 2, 16), {})}[name]
    ref = getattr(TN, name)(*args[0], **args[1]).eval()
    mine = getattr(nn, name)(*args[0], **args[1]).eval()
    copy_state(ref, mine)
    x = make_input().astype(np.float32)
    out_ref = ref(torch.from_numpy(x))
    out_mine = mine(ft.tensor(x))
    if isinstance(out_ref, tuple):
        out_ref, out_mine = out_ref[0], out_mine[0]
    np.testing.assert_allclose(out_mine.detach().numpy(), out_ref.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_functional_values_match_pytorch():
    x = RNG.standard_normal((2, 3, 8, 7))
    xt, xf = torch.from_numpy(x), ft.tensor(x)
    pairs = [
        (F.max_pool2d(xf, 3, 2, 1, ceil_mode=True), TF.max_pool2d(xt, 3, 2, 1, ceil_mode=True)),
        (F.avg_pool2d(xf, 3, 2, 1, count_include_pad=False), TF.avg_pool2d(xt, 3, 2, 1, count_include_pad=False)),
        (F.adaptive_avg_pool2d(xf, (3, 5)), TF.adaptive_avg_pool2d(xt, (3, 5))),
        (F.interpolate(xf, scale_factor=1.5, mode="bilinear"), TF.interpolate(xt, scale_factor=1.5, mode="bilinear")),
        (F.pad(xf, (1, 2, 3, 1), mode="reflect"), TF.pad(xt, (1, 2, 3, 1), mode="reflect")),
        (F.unfold(xf, 3, padding=1, stride=2), TF.unfold(xt, 3, padding=1, stride=2)),
        (F.group_norm(xf, 3), TF.group_norm(xt, 3)),
        (F.gelu(xf), TF.gelu(xt)), (F.log_softmax(xf, 1), TF.log_softmax(xt, 1)),
    ]
    for mine, ref in pairs:
        np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-7, atol=1e-9)
    logits, target = RNG.standard_normal((5, 4)), np.array([0, 3, -100, 2, 1])
    w = RNG.uniform(0.5, 2, 4)
    mine = F.cross_entropy(ft.tensor(logits), ft.tensor(target), weight=ft.tensor(w), label_smoothing=0.1)
    ref = TF.cross_entropy(torch.from_numpy(logits), torch.from_numpy(target), weight=torch.from_numpy(w),
                           label_smoothing=0.1)
    assert mine.item() == pytest.approx(ref.item(), rel=1e-10)
