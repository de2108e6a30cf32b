"""TransformerDecoderLayer, TransformerDecoder, Transformer and F.multi_head_attention_forward: PyTorch's
state_dict keys, shapes, values against a numpy reference built from the layers' own weights, masking, gradients."""

import math
import warnings

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import nn
from ferrotorch.autograd import gradcheck

RNG = np.random.default_rng(7)

# printed by real PyTorch: list(torch.nn.TransformerDecoderLayer(8, 2, 16).state_dict())
DECODER_LAYER_KEYS = [
    "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
    "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias", "multihead_attn.out_proj.weight",
    "multihead_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
    "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "norm3.weight", "norm3.bias",
]
# ... with bias=False
DECODER_LAYER_KEYS_NO_BIAS = [
    "self_attn.in_proj_weight", "self_attn.out_proj.weight", "multihead_attn.in_proj_weight",
    "multihead_attn.out_proj.weight", "linear1.weight", "linear2.weight", "norm1.weight", "norm2.weight",
    "norm3.weight",
]
# list(torch.nn.Transformer(8, 2, 1, 1, 16).state_dict())
TRANSFORMER_KEYS = [
    "encoder.layers.0.self_attn.in_proj_weight", "encoder.layers.0.self_attn.in_proj_bias",
    "encoder.layers.0.self_attn.out_proj.weight", "encoder.layers.0.self_attn.out_proj.bias",
    "encoder.layers.0.linear1.weight", "encoder.layers.0.linear1.bias", "encoder.layers.0.linear2.weight",
    "encoder.layers.0.linear2.bias", "encoder.layers.0.norm1.weight", "encoder.layers.0.norm1.bias",
    "encoder.layers.0.norm2.weight", "encoder.layers.0.norm2.bias", "encoder.norm.weight", "encoder.norm.bias",
    "decoder.layers.0.self_attn.in_proj_weight", "decoder.layers.0.self_attn.in_proj_bias",
    "decoder.layers.0.self_attn.out_proj.weight", "decoder.layers.0.self_attn.out_proj.bias",
    "decoder.layers.0.multihead_attn.in_proj_weight", "decoder.layers.0.multihead_attn.in_proj_bias",
    "decoder.layers.0.multihead_attn.out_proj.weight", "decoder.layers.0.multihead_attn.out_proj.bias",
    "decoder.layers.0.linear1.weight", "decoder.layers.0.linear1.bias", "decoder.layers.0.linear2.weight",
    "decoder.layers.0.linear2.bias", "decoder.layers.0.norm1.weight", "decoder.layers.0.norm1.bias",
    "decoder.layers.0.norm2.weight", "decoder.layers.0.norm2.bias", "decoder.layers.0.norm3.weight",
    "decoder.layers.0.norm3.bias", "decoder.norm.weight", "decoder.norm.bias",
]


def t64(a, requires_grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def npy(t):
    return t.detach().numpy()


def close(a, b, tol=1e-8):
    np.testing.assert_allclose(npy(a), b, rtol=tol, atol=tol)


def quiet_transformer(*args, **kwargs):
    # PyTorch warns that batch_first=False disables its nested-tensor fast path; so do we
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nn.Transformer(*args, **kwargs)


def randomize(module):
    """Non-trivial values everywhere (LayerNorm weights/biases and attention biases start at 1/0)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(t64(RNG.standard_normal(tuple(p.shape)) * 0.5))
    return module


# ---------------------------------------------------------------------------- numpy reference


def np_layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def np_mha(mha, q, kv, attn_mask=None, kpm=None):
    """Sequence-first ``(L, N, E)``/``(S, N, E)``; masks additive (``-inf`` where not allowed)."""
    e, h = mha.embed_dim, mha.num_heads
    d = e // h
    w, b = npy(mha.in_proj_weight), npy(mha.in_proj_bias)
    qp, kp, vp = q @ w[:e].T + b[:e], kv @ w[e:2 * e].T + b[e:2 * e], kv @ w[2 * e:].T + b[2 * e:]
    out = np.zeros_like(qp)
    for n in range(q.shape[1]):
        for hh in range(h):
            sl = slice(hh * d, (hh + 1) * d)
            s = qp[:, n, sl] @ kp[:, n, sl].T / math.sqrt(d)
            if attn_mask is not None:
                s = s + attn_mask
            if kpm is not None:
                s = s + kpm[n][None, :]
            a = np.exp(s - s.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            out[:, n, sl] = a @ vp[:, n, sl]
    return out @ npy(mha.out_proj.weight).T + npy(mha.out_proj.bias)


def np_decoder_layer(layer, tgt, mem, tgt_mask=None, mem_mask=None, tgt_kpm=None, mem_kpm=None):
    def norm(i, x):
        m = getattr(layer, f"norm{i}")
        return np_layer_norm(x, npy(m.weight), npy(m.bias), m.eps)

    def ff(x):
        hid = np.maximum(x @ npy(layer.linear1.weight).T + npy(layer.linear1.bias), 0.0)
        return hid @ npy(layer.linear2.weight).T + npy(layer.linear2.bias)

    def sa(x):
        return np_mha(layer.self_attn, x, x, tgt_mask, tgt_kpm)

    def ca(x):
        return np_mha(layer.multihead_attn, x, mem, mem_mask, mem_kpm)

    x = tgt
    if layer.norm_first:
        x = x + sa(norm(1, x))
        x = x + ca(norm(2, x))
        return x + ff(norm(3, x))
    x = norm(1, x + sa(x))
    x = norm(2, x + ca(x))
    return norm(3, x + ff(x))


# ---------------------------------------------------------------------------- state_dict layout


def test_state_dict_keys_match_pytorch():
    assert list(nn.TransformerDecoderLayer(8, 2, 16).state_dict()) == DECODER_LAYER_KEYS
    assert list(nn.TransformerDecoderLayer(8, 2, 16, bias=False).state_dict()) == DECODER_LAYER_KEYS_NO_BIAS
    assert list(quiet_transformer(8, 2, 1, 1, 16).state_dict()) == TRANSFORMER_KEYS
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 2, norm=nn.LayerNorm(8))
    keys = list(dec.state_dict())
    assert keys == [f"layers.{i}.{k}" for i in range(2) for k in DECODER_LAYER_KEYS] + ["norm.weight", "norm.bias"]


def test_constructor_defaults_and_deep_copies():
    layer = nn.TransformerDecoderLayer(8, 2)
    assert layer.linear1.out_features == 2048 and layer.dropout.p == 0.1 and layer.norm1.eps == 1e-5
    assert layer.norm_first is False and layer.self_attn.batch_first is False and layer.activation is F.relu
    t = quiet_transformer(d_model=16, nhead=4, dim_feedforward=8)  # 6 + 6 layers by default
    assert len(t.encoder.layers) == 6 and len(t.decoder.layers) == 6 and t.d_model == 16 and t.nhead == 4
    assert isinstance(t.encoder.norm, nn.LayerNorm) and isinstance(t.decoder.norm, nn.LayerNorm)
    dec = nn.TransformerDecoder(layer, 3)
    assert dec.num_layers == 3 and dec.norm is None
    assert dec.layers[0].linear1.weight is not dec.layers[1].linear1.weight
    np.testing.assert_array_equal(npy(dec.layers[0].linear1.weight), npy(dec.layers[2].linear1.weight))


def test_transformer_reset_parameters_is_xavier_uniform():
    torch.manual_seed(0)
    t = quiet_transformer(d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=32)
    for name, p in t.named_parameters():
        w = npy(p)
        if p.dim() > 1:
            bound = math.sqrt(6.0 / (w.shape[0] + w.shape[1]))
            assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound, name
            assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.2), name
        elif name.endswith(("norm1.weight", "norm.weight")):
            np.testing.assert_array_equal(w, 1.0)
    # re-initialised after cloning, so the copies differ
    a, b = t.decoder.layers[0].linear1.weight, t.decoder.layers[1].linear1.weight
    assert not np.array_equal(npy(a), npy(b))


def test_custom_encoder_decoder_are_used_as_given():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1, enable_nested_tensor=False)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, batch_first=True), 1)
    t = nn.Transformer(8, 2, custom_encoder=enc, custom_decoder=dec, batch_first=True)
    assert t.encoder is enc and t.decoder is dec
    assert next(iter(t.state_dict())) == "encoder.layers.0.self_attn.in_proj_weight"


# ---------------------------------------------------------------------------- values and shapes


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_matches_numpy(batch_first, norm_first):
    layer = randomize(nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, batch_first=batch_first,
                                                 norm_first=norm_first).double()).eval()
    tgt, mem = RNG.standard_normal((3, 2, 4)), RNG.standard_normal((5, 2, 4))
    tgt_mask = np.triu(np.full((3, 3), -np.inf), 1)
    mem_kpm = np.array([[False] * 5, [False, False, False, True, True]])
    mem_mask = RNG.standard_normal((3, 5))
    ref = np_decoder_layer(layer, tgt, mem, tgt_mask=tgt_mask, mem_mask=mem_mask,
                           mem_kpm=np.where(mem_kpm, -np.inf, 0.0))
    tr = (lambda a: a.transpose(1, 0, 2)) if batch_first else (lambda a: a)
    kpm_f = t64(np.where(mem_kpm, -np.inf, 0.0))
    out = layer(t64(tr(tgt)), t64(tr(mem)), tgt_mask=t64(tgt_mask), memory_mask=t64(mem_mask),
                memory_key_padding_mask=kpm_f)
    assert tuple(out.shape) == tr(ref).shape
    close(out, tr(ref))
    # boolean masks (True = not allowed) mean the same as -inf ones; mixing bool and float warns, as in PyTorch
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask is deprecated"):
        out_bool = layer(t64(tr(tgt)), t64(tr(mem)), tgt_mask=torch.tensor(np.isinf(tgt_mask)),
                         memory_mask=t64(mem_mask), memory_key_padding_mask=torch.tensor(mem_kpm))
    close(out_bool, tr(ref))
    # unbatched
    close(layer(t64(tgt[:, 1]), t64(mem[:, 1]), tgt_mask=t64(tgt_mask), memory_mask=t64(mem_mask),
                memory_key_padding_mask=kpm_f[1]), ref[:, 1])


def test_decoder_layer_tgt_key_padding_mask_and_gelu():
    layer = randomize(nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, activation="gelu").double()).eval()
    assert layer.activation is F.gelu
    tgt, mem = RNG.standard_normal((3, 2, 4)), RNG.standard_normal((2, 2, 4))
    kpm = np.array([[False, False, True], [False, False, False]])
    out = layer(t64(tgt), t64(mem), tgt_key_padding_mask=torch.tensor(kpm))

    def ff(x):
        h = x @ npy(layer.linear1.weight).T + npy(layer.linear1.bias)
        h = 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))
        return h @ npy(layer.linear2.weight).T + npy(layer.linear2.bias)

    def ln(i, x):
        m = getattr(layer, f"norm{i}")
        return np_layer_norm(x, npy(m.weight), npy(m.bias))

    x = ln(1, tgt + np_mha(layer.self_attn, tgt, tgt, kpm=np.where(kpm, -np.inf, 0.0)))
    x = ln(2, x + np_mha(layer.multihead_attn, x, mem))
    close(out, ln(3, x + ff(x)))


def test_decoder_layer_callable_activation():
    layer = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, activation=torch.tanh).double().eval()
    plain = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0).double().eval()
    plain.load_state_dict(layer.state_dict())
    tgt, mem = t64(RNG.standard_normal((3, 1, 4))), t64(RNG.standard_normal((2, 1, 4)))
    assert layer.activation is torch.tanh
    assert not np.allclose(npy(layer(tgt, mem)), npy(plain(tgt, mem)))
    plain.activation = torch.tanh  # same weights, same activation: same output
    close(layer(tgt, mem), npy(plain(tgt, mem)), tol=1e-12)


@pytest.mark.parametrize("batch_first", [False, True])
def test_shapes(batch_first):
    t = quiet_transformer(8, 2, 1, 2, 16, dropout=0.0, batch_first=batch_first)
    src = torch.randn(2, 5, 8) if batch_first else torch.randn(5, 2, 8)
    tgt = torch.randn(2, 3, 8) if batch_first else torch.randn(3, 2, 8)
    assert tuple(t(src, tgt).shape) == tuple(tgt.shape)
    assert tuple(t(torch.randn(5, 8), torch.randn(3, 8)).shape) == (3, 8)
    assert tuple(t.decoder(tgt, t.encoder(src)).shape) == tuple(tgt.shape)
    layer = nn.TransformerDecoderLayer(8, 2, 16, batch_first=batch_first)
    assert tuple(layer(tgt, src).shape) == tuple(tgt.shape)


def test_batch_first_equals_transposed_sequence_first():
    a = quiet_transformer(4, 2, 1, 1, 6, dropout=0.0).double().eval()
    b = nn.Transformer(4, 2, 1, 1, 6, dropout=0.0, batch_first=True).double().eval()
    b.load_state_dict(a.state_dict())
    src, tgt = RNG.standard_normal((5, 2, 4)), RNG.standard_normal((3, 2, 4))
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
    out_a = npy(a(t64(src), t64(tgt), tgt_mask=mask))
    out_b = npy(b(t64(src.transpose(1, 0, 2)), t64(tgt.transpose(1, 0, 2)), tgt_mask=mask))
    np.testing.assert_allclose(out_b, out_a.transpose(1, 0, 2), rtol=1e-10, atol=1e-10)


def test_transformer_matches_pytorch_literal():
    # weights sin(0.7 i + k) / 2 for the k-th state_dict entry, loaded into torch.nn.Transformer(4, 2, 1, 1, 6,
    # dropout=0.0, batch_first=True).double().eval(); the output below was printed by PyTorch
    t = nn.Transformer(4, 2, 1, 1, 6, dropout=0.0, batch_first=True).double().eval()
    sd = {}
    for k, (name, v) in enumerate(t.state_dict().items()):
        sd[name] = t64(np.sin(np.arange(v.numel()) * 0.7 + k).reshape(tuple(v.shape)) * 0.5)
    t.load_state_dict(sd)
    src = t64(np.cos(np.arange(24) * 0.3).reshape(2, 3, 4))
    tgt = t64(np.sin(np.arange(16) * 0.45 + 1).reshape(2, 2, 4))
    kpm = torch.tensor([[False, False, True], [False, False, False]])
    out = t(src, tgt, tgt_mask=t.generate_square_subsequent_mask(2, dtype=torch.float64),
            src_key_padding_mask=kpm, memory_key_padding_mask=kpm)
    expected = [[[0.1073630552, 0.3718718655, 0.0935487782, 0.051940883],
                 [0.1083835274, 0.3803635074, 0.0818407055, 0.0528599918]],
                [[0.1291134035, 0.2623632672, 0.1389139145, 0.06306797],
                 [0.1193020963, 0.3043094107, 0.1238443769, 0.0588786722]]]
    close(out, np.array(expected), tol=1e-9)


# ---------------------------------------------------------------------------- causal masking


def test_generate_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(3)
    assert m.dtype == torch.float32 and tuple(m.shape) == (3, 3)
    np.testing.assert_array_equal(npy(m), [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    t = quiet_transformer(4, 2, 1, 1, 6)
    assert t.generate_square_subsequent_mask(2, dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize("hint", [None, True, False])
def test_causal_mask_hides_future_tokens(hint):
    t = quiet_transformer(4, 2, 1, 2, 6, dropout=0.0).double().eval()
    src, tgt = RNG.standard_normal((4, 2, 4)), RNG.standard_normal((5, 2, 4))
    changed = tgt.copy()
    changed[3:] += RNG.standard_normal((2, 2, 4))
    mask = t.generate_square_subsequent_mask(5, dtype=torch.float64)
    a = npy(t(t64(src), t64(tgt), tgt_mask=mask, tgt_is_causal=hint))
    b = npy(t(t64(src), t64(changed), tgt_mask=mask, tgt_is_causal=hint))
    np.testing.assert_allclose(a[:3], b[:3], rtol=1e-12, atol=1e-12)
    assert not np.allclose(a[3:], b[3:])
    # without the mask earlier positions see the change
    c, d = npy(t(t64(src), t64(tgt))), npy(t(t64(src), t64(changed)))
    assert not np.allclose(c[:3], d[:3])


def test_decoder_detects_causal_mask():
    dec = randomize(nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0), 2).double()).eval()
    tgt, mem = t64(RNG.standard_normal((3, 1, 4))), t64(RNG.standard_normal((2, 1, 4)))
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
    seen = []
    dec.layers[0].register_forward_pre_hook(lambda m, args, kwargs: seen.append(kwargs["tgt_is_causal"]),
                                            with_kwargs=True)
    out = dec(tgt, mem, tgt_mask=mask)
    assert seen == [True]
    close(out, npy(dec(tgt, mem, tgt_mask=mask, tgt_is_causal=False)), tol=1e-12)
    dec(tgt, mem, tgt_mask=t64(np.zeros((3, 3))))
    assert seen[-1] is False


def test_memory_mask_blocks_memory_positions():
    layer = randomize(nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0).double()).eval()
    tgt, mem = RNG.standard_normal((2, 1, 4)), RNG.standard_normal((3, 1, 4))
    changed = mem.copy()
    changed[2] += 1.0
    mm = torch.tensor([[False, False, True], [False, False, True]])
    a = layer(t64(tgt), t64(mem), memory_mask=mm)
    b = layer(t64(tgt), t64(changed), memory_mask=mm)
    close(a, npy(b), tol=1e-12)
    assert not np.allclose(npy(layer(t64(tgt), t64(mem))), npy(layer(t64(tgt), t64(changed))))


# ---------------------------------------------------------------------------- gradients


def test_gradients_reach_every_parameter():
    torch.manual_seed(1)
    t = quiet_transformer(4, 2, 1, 1, 6, dropout=0.0).double()
    src, tgt = t64(RNG.standard_normal((3, 2, 4))), t64(RNG.standard_normal((2, 2, 4)))
    out = t(src, tgt, tgt_mask=t.generate_square_subsequent_mask(2, dtype=torch.float64))
    (out * t64(RNG.standard_normal((2, 2, 4)))).sum().backward()
    for name, p in t.named_parameters():
        assert p.grad is not None, name
        assert tuple(p.grad.shape) == tuple(p.shape), name
        assert np.all(np.isfinite(npy(p.grad))) and np.abs(npy(p.grad)).sum() > 0, name


def test_decoder_layer_gradcheck():
    layer = randomize(nn.TransformerDecoderLayer(4, 2, 3, dropout=0.0, norm_first=True).double()).eval()
    mask = nn.Transformer.generate_square_subsequent_mask(2, dtype=torch.float64)
    tgt = t64(RNG.standard_normal((2, 1, 4)), requires_grad=True)
    mem = t64(RNG.standard_normal((3, 1, 4)), requires_grad=True)
    assert gradcheck(lambda a, b: layer(a, b, tgt_mask=mask), (tgt, mem))


# ---------------------------------------------------------------------------- functional form


def test_multi_head_attention_forward_matches_module_and_numpy():
    mha = randomize(nn.MultiheadAttention(4, 2).double()).eval()
    q, kv = RNG.standard_normal((3, 2, 4)), RNG.standard_normal((5, 2, 4))
    kpm = np.array([[False] * 4 + [True], [False] * 5])
    args = (t64(q), t64(kv), t64(kv), 4, 2, mha.in_proj_weight, mha.in_proj_bias, None, None, False, 0.0,
            mha.out_proj.weight, mha.out_proj.bias)
    out, w = F.multi_head_attention_forward(*args, training=False, key_padding_mask=torch.tensor(kpm))
    close(out, np_mha(mha, q, kv, kpm=np.where(kpm, -np.inf, 0.0)))
    assert tuple(w.shape) == (2, 3, 5)
    close(w[0, :, 4], np.zeros(3), tol=0)
    out2, w2 = F.multi_head_attention_forward(*args, training=False, key_padding_mask=torch.tensor(kpm),
                                              need_weights=False)
    assert w2 is None
    close(out2, npy(out))
    ref_out, ref_w = mha(t64(q), t64(kv), t64(kv), key_padding_mask=torch.tensor(kpm))
    close(ref_out, npy(out))
    close(ref_w, npy(w))
    # per-head weights
    _, wh = F.multi_head_attention_forward(*args, training=False, average_attn_weights=False)
    assert tuple(wh.shape) == (2, 2, 3, 5)


def test_multi_head_attention_forward_separate_weights_and_static_kv():
    mha = randomize(nn.MultiheadAttention(4, 2, kdim=3, vdim=5).double()).eval()
    q, k, v = RNG.standard_normal((2, 1, 4)), RNG.standard_normal((3, 1, 3)), RNG.standard_normal((3, 1, 5))
    out, _ = F.multi_head_attention_forward(
        t64(q), t64(k), t64(v), 4, 2, None, mha.in_proj_bias, None, None, False, 0.0, mha.out_proj.weight,
        mha.out_proj.bias, training=False, use_separate_proj_weight=True, q_proj_weight=mha.q_proj_weight,
        k_proj_weight=mha.k_proj_weight, v_proj_weight=mha.v_proj_weight)
    close(out, npy(mha(t64(q), t64(k), t64(v))[0]))
    # static_k / static_v: (N·heads, S, head_dim) used as the projected keys and values
    sa = randomize(nn.MultiheadAttention(4, 2).double())
    sk, sv = RNG.standard_normal((2, 4, 2)), RNG.standard_normal((2, 4, 2))
    out, w = F.multi_head_attention_forward(
        t64(q), t64(q), t64(q), 4, 2, sa.in_proj_weight, sa.in_proj_bias, None, None, False, 0.0,
        sa.out_proj.weight, sa.out_proj.bias, training=False, static_k=t64(sk), static_v=t64(sv),
        average_attn_weights=False)
    qp = q[:, 0] @ npy(sa.in_proj_weight)[:4].T + npy(sa.in_proj_bias)[:4]
    heads = []
    for h in range(2):
        s = qp[:, 2 * h:2 * h + 2] @ sk[h].T / math.sqrt(2)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        close(w[0, h], a)
        heads.append(a @ sv[h])
    close(out[:, 0], np.concatenate(heads, -1) @ npy(sa.out_proj.weight).T + npy(sa.out_proj.bias))


# ---------------------------------------------------------------------------- errors


def test_errors():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.TransformerDecoderLayer(10, 3)
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        quiet_transformer(10, 3, 1, 1, 8)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerDecoderLayer(8, 2, 8, activation="tanh")
    layer = nn.TransformerDecoderLayer(8, 2, 8)
    tgt, mem = torch.zeros(3, 2, 8), torch.zeros(4, 2, 8)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        layer(tgt, mem, tgt_is_causal=True)
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask are supported"):
        layer(tgt, mem, tgt_mask=torch.zeros(3, 3, dtype=torch.int64))
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is .*, but should be \(3, 4\)\."):
        layer(tgt, mem, memory_mask=torch.zeros(3, 3))
    t = quiet_transformer(8, 2, 1, 1, 8)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        t(torch.zeros(3, 2, 8), torch.zeros(4, 3, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        t(torch.zeros(3, 2, 8), torch.zeros(4, 2, 6))
    with pytest.warns(UserWarning, match="enable_nested_tensor is True, but self.use_nested_tensor is False"):
        nn.Transformer(8, 2, 1, 1, 8)
