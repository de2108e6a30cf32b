"""nn.Module semantics: registration, iteration, state_dict, modes, hooks, conversion, repr, containers."""

import copy
from collections import OrderedDict

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import nn


class Net(nn.Module):
    """Seed 002's network."""

    def __init__(self) -> None:
        super(Net, self).__init__()  # noqa: UP008 - the seeds' spelling
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.fc1 = nn.Linear(1350, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = F.max_pool2d(x, (2, 2))
        x = F.relu(x)
        x = x.view(x.size()[0], -1)
        return self.fc1(x)


class WithBuffers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(2, 3))
        self.register_buffer("running", torch.zeros(3))
        self.register_buffer("scratch", torch.zeros(1), persistent=False)
        self.child = nn.Linear(3, 2)

    def forward(self, x):
        return self.child(x @ self.w.t() @ torch.ones(2, 3) + self.running)


# ---------------------------------------------------------------------------- Parameter


def test_parameter_is_tensor_and_requires_grad():
    data = torch.zeros(2, 3)
    p = nn.Parameter(data)
    assert isinstance(p, torch.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf
    assert nn.Parameter(torch.zeros(2), requires_grad=False).requires_grad is False
    # shares storage with data
    p.data.add_(1.0)
    assert data.tolist() == [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]


def test_parameter_repr():
    p = nn.Parameter(torch.ones(2))
    assert repr(p) == "Parameter containing:\n" + repr(torch.ones(2, requires_grad=True))


def test_parameter_deepcopy_is_independent():
    p = nn.Parameter(torch.ones(3))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad
    q.data.mul_(5)
    assert p.tolist() == [1.0, 1.0, 1.0] and q.tolist() == [5.0, 5.0, 5.0]


# ---------------------------------------------------------------------------- registration


def test_registration_through_setattr():
    m = WithBuffers()
    assert list(m._parameters) == ["w"]
    assert list(m._buffers) == ["running", "scratch"]
    assert list(m._modules) == ["child"]
    assert "w" not in m.__dict__ and m.w is m._parameters["w"]
    m.plain = 3
    assert m.plain == 3 and "plain" in m.__dict__
    # reassigning a registered name keeps it registered
    m.running = torch.ones(3)
    assert m._buffers["running"].tolist() == [1.0, 1.0, 1.0]
    del m.child
    assert "child" not in m._modules
    with pytest.raises(AttributeError, match="has no attribute 'child'"):
        _ = m.child


def test_registration_errors():
    class NoInit(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(torch.ones(1))

    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__"):
        NoInit()
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign .* as parameter 'weight'"):
        m.weight = torch.ones(2, 2)
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        m.register_buffer("weight", torch.ones(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError):
        m.add_module("x", 3)
    m.bias = None
    assert m.bias is None and "bias" in m._parameters


def test_parameters_dedup_recurse_and_names():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert [n for n, _ in model.named_parameters(remove_duplicate=False)] == [
        "0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in model.named_modules(prefix="net")] == ["net", "net.0", "net.1"]
    assert list(model.parameters(recurse=False)) == []
    m = WithBuffers()
    assert [n for n, _ in m.named_buffers()] == ["running", "scratch"]
    assert [n for n, _ in m.named_parameters(prefix="p")] == ["p.w", "p.child.weight", "p.child.bias"]
    assert [n for n, _ in m.named_children()] == ["child"]


def test_children_vs_modules_seed_001():
    class sim_net(nn.Module):
        def __init__(self):
            super(sim_net, self).__init__()  # noqa: UP008 - the seeds' spelling
            self.l1 = nn.Sequential(nn.Linear(30, 40), nn.ReLU())
            self.l1[0].weight.data = torch.randn(40, 30)
            self.l2 = nn.Sequential(nn.Linear(40, 50), nn.ReLU())
            self.l3 = nn.Sequential(nn.Linear(50, 10), nn.ReLU())

        def forward(self, x):
            return self.l3(self.l2(self.l1(x)))

    net2 = sim_net()
    assert [type(m).__name__ for m in net2.children()] == ["Sequential"] * 3
    assert [type(m).__name__ for m in net2.modules()] == [
        "sim_net", "Sequential", "Linear", "ReLU", "Sequential", "Linear", "ReLU", "Sequential", "Linear", "ReLU"]
    for layer in net2.modules():
        if isinstance(layer, nn.Linear):
            param_shape = layer.weight.shape
            layer.weight.data = torch.from_numpy(np.random.normal(0, 0.5, size=param_shape))
    assert net2.l2[0].weight.dtype == torch.float64
    assert isinstance(net2.l2[0].weight, nn.Parameter)


def test_get_submodule_and_parameter():
    model = nn.Sequential(OrderedDict(block=nn.Sequential(nn.Linear(2, 3))))
    assert model.get_submodule("block.0") is model.block[0]
    assert model.get_parameter("block.0.bias") is model.block[0].bias
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        model.get_submodule("block.nope")


# ---------------------------------------------------------------------------- state dict


def test_state_dict_keys_and_detached_values():
    m = WithBuffers()
    sd = m.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["w", "running", "child.weight", "child.bias"]
    assert not sd["w"].requires_grad and not isinstance(sd["w"], nn.Parameter)
    assert m.state_dict(keep_vars=True)["w"] is m.w
    assert list(m.state_dict(prefix="model.")) == ["model.w", "model.running", "model.child.weight",
                                                   "model.child.bias"]
    # the detached value shares storage with the parameter
    sd["w"].fill_(7.0)
    assert m.w.tolist() == [[7.0] * 3] * 2


def test_net_state_dict_keys_seed_002():
    net = Net()
    assert list(net.state_dict()) == ["conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias"]
    shapes = [tuple(p.size()) for _, p in net.named_parameters()]
    assert shapes == [(6, 1, 3, 3), (6,), (10, 1350), (10,)]


def test_load_state_dict_roundtrip_copies_in_place():
    src, dst = WithBuffers(), WithBuffers()
    with torch.no_grad():
        src.w.fill_(3.0)
        src.child.weight.fill_(-1.0)
    src.running.fill_(2.0)
    w_before = dst.w
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert dst.w is w_before and dst.w.tolist() == [[3.0] * 3] * 2
    assert dst.running.tolist() == [2.0] * 3
    assert dst.child.weight.tolist() == [[-1.0] * 3] * 2


def test_load_state_dict_missing_and_unexpected():
    m = nn.Linear(2, 3)
    sd = {"weight": torch.zeros(3, 2), "extra": torch.zeros(1)}
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    assert msg.startswith("Error(s) in loading state_dict for Linear:")
    assert 'Missing key(s) in state_dict: "bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra".' in msg
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    missing, unexpected = result
    assert missing == ["bias"] and unexpected == ["extra"]
    assert m.weight.tolist() == [[0.0, 0.0]] * 3


def test_load_state_dict_size_mismatch():
    m = nn.Linear(2, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with shape"):
        m.load_state_dict({"weight": torch.zeros(2, 2), "bias": torch.zeros(3)})


def test_sequential_state_dict_reload_seed_001():
    x = torch.randn(5, 2)
    seq_net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    seq_net2 = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    seq_net2.load_state_dict(seq_net.state_dict())
    assert list(seq_net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    np.testing.assert_allclose(seq_net2(x).detach().numpy(), seq_net(x).detach().numpy(), rtol=1e-6)


def test_batchnorm_state_dict_has_num_batches_tracked():
    bn = nn.BatchNorm2d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert bn.state_dict()["num_batches_tracked"].dtype == torch.int64


# ---------------------------------------------------------------------------- modes, grads, apply


def test_train_eval_propagates():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        model.train("yes")


def test_zero_grad_and_requires_grad_():
    m = nn.Linear(3, 2)
    m(torch.randn(4, 3)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert m.weight.grad.abs().sum().item() == 0.0
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None
    m.requires_grad_(False)
    assert not m.weight.requires_grad and not m.bias.requires_grad


def test_apply_visits_children_first():
    seen = []
    model = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    assert model.apply(lambda mod: seen.append(type(mod).__name__)) is model
    assert seen == ["Linear", "ReLU", "Sequential"]


def test_apply_init_weights():
    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)
            nn.init.zeros_(m.bias)

    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).apply(init_weights)
    out = model(torch.ones(1, 2))
    assert out.item() == pytest.approx(1.5)


def test_to_double_float_keeps_parameter_identity():
    m = WithBuffers()
    w = m.w
    m.double()
    assert m.w is w and m.w.dtype == torch.float64 and isinstance(m.w, nn.Parameter)
    assert m.running.dtype == torch.float64 and m.child.weight.dtype == torch.float64
    m.to(torch.float32)
    assert m.w.dtype == torch.float32
    bn = nn.BatchNorm1d(2).double()
    assert bn.num_batches_tracked.dtype == torch.int64
    m.to("cpu")
    m.cpu()
    assert m.w.device.type == "cpu"
    with pytest.raises(TypeError, match="floating point or complex dtypes"):
        m.to(torch.int64)


def test_cuda_move_when_available():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    m = nn.Linear(2, 3).cuda()
    assert m.weight.device.type == "cuda"
    out = m(torch.ones(1, 2, device="cuda"))
    assert out.device.type == "cuda"


# ---------------------------------------------------------------------------- calling and hooks


def test_forward_with_tuple_and_many_args_seeds_000_003():
    class Add(nn.Module):
        def __init__(self):
            super(Add, self).__init__()  # noqa: UP008 - the seeds' spelling

        def forward(self, x1, x2):
            return torch.add(x1, x2)

    x1, x2 = torch.tensor([1]), torch.tensor([2])
    assert Add()(x1, x2).tolist() == [3]

    class TupleModel(nn.Module):
        def forward(self, inputs):
            t0, t1 = inputs[0], inputs[1]
            return t0 * t1

    assert TupleModel()((torch.tensor([2.0]), torch.tensor([3.0]))).tolist() == [6.0]


def test_missing_forward_raises():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(torch.ones(1))


def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []

    def pre(module, args):
        calls.append("pre")
        return (args[0] * 0,)

    def post(module, args, output):
        calls.append("post")
        return output + 1

    h1 = m.register_forward_pre_hook(pre)
    h2 = m.register_forward_hook(post)
    out = m(torch.ones(1, 2))
    assert calls == ["pre", "post"]
    np.testing.assert_allclose(out.detach().numpy(), (m.bias + 1).detach().numpy()[None], rtol=1e-6)
    h1.remove()
    h2.remove()
    out = m(torch.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), (m.weight.sum(1) + m.bias).detach().numpy()[None], rtol=1e-5)
    assert calls == ["pre", "post"]


def test_forward_hook_with_kwargs():
    m = nn.Identity()
    seen = {}

    def hook(module, args, kwargs, output):
        seen["kw"] = dict(kwargs)

    m.register_forward_hook(hook, with_kwargs=True)

    class Wrap(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    w = Wrap()
    w.register_forward_hook(hook, with_kwargs=True)
    w(torch.ones(1), scale=2.0)
    assert seen["kw"] == {"scale": 2.0}


# ---------------------------------------------------------------------------- repr


def test_repr_net_seed_002():
    assert repr(Net()) == (
        "Net(\n"
        "  (conv1): Conv2d(1, 6, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (fc1): Linear(in_features=1350, out_features=10, bias=True)\n"
        ")"
    )


def test_repr_nested_sequential():
    model = nn.Sequential(nn.Linear(2, 4), nn.Sequential(nn.Tanh(), nn.Linear(4, 1, bias=False)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=4, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): Tanh()\n"
        "    (1): Linear(in_features=4, out_features=1, bias=False)\n"
        "  )\n"
        ")"
    )


def test_repr_module_list_compresses_repeats():
    ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()])
    assert repr(ml) == (
        "ModuleList(\n"
        "  (0-1): 2 x Linear(in_features=2, out_features=2, bias=True)\n"
        "  (2): ReLU()\n"
        ")"
    )
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_repr_parameter_list():
    pl = nn.ParameterList([nn.Parameter(torch.zeros(2, 3))])
    assert repr(pl) == "ParameterList(  (0): Parameter containing: [torch.float32 of size 2x3])"


def test_dir_lists_registered_names():
    names = dir(WithBuffers())
    for n in ("w", "running", "child", "forward", "state_dict"):
        assert n in names


# ---------------------------------------------------------------------------- containers


def test_sequential_indexing_slicing_and_mutation():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and seq[0] is layers[0] and seq[-1] is layers[2]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == ["1", "2"] and sub[0] is layers[1]
    assert list(seq) == layers
    with pytest.raises(IndexError, match="index 3 is out of range"):
        _ = seq[3]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    seq.insert(0, nn.Identity())
    assert isinstance(seq[0], nn.Identity) and seq[1] is layers[0]
    del seq[0]
    assert seq[0] is layers[0] and list(seq._modules) == ["0", "1", "2", "3"]
    seq.extend([nn.Tanh()])
    assert len(seq) == 5
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    assert seq.pop(4).__class__ is nn.Tanh and len(seq) == 4


def test_sequential_from_ordered_dict_and_forward():
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]
    assert seq.fc is seq[0]
    x = torch.randn(4, 2)
    expected = np.maximum(x.numpy() @ seq.fc.weight.detach().numpy().T + seq.fc.bias.detach().numpy(), 0)
    np.testing.assert_allclose(seq(x).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


class Add(nn.Module):
    """Seed 003's adder."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, x):
        return x + self.value


def test_calculators_seed_003():
    calculator = nn.Sequential(Add(3), Add(2), Add(5))
    assert calculator(torch.tensor([1])).tolist() == [11]

    class CalculatorList(nn.Module):
        def __init__(self):
            super().__init__()
            self.add_list = nn.ModuleList([Add(3), Add(2), Add(5)])

        def forward(self, x):
            result = x
            for i in range(len(self.add_list)):
                result = self.add_list[i](result)
            return result

    assert CalculatorList()(torch.tensor([1])).tolist() == [11]

    class CalculatorDict(nn.Module):
        def __init__(self):
            super().__init__()
            self.add_dict = nn.ModuleDict({"add2": Add(2), "add3": Add(3), "add5": Add(5)})

        def forward(self, x):
            x = self.add_dict["add3"](x)
            x = self.add_dict["add2"](x)
            return self.add_dict["add5"](x)

    calc = CalculatorDict()
    assert calc(torch.tensor([1])).tolist() == [11]
    assert list(calc.add_dict.keys()) == ["add2", "add3", "add5"]
    assert [n for n, _ in calc.named_modules()] == ["", "add_dict", "add_dict.add2", "add_dict.add3",
                                                    "add_dict.add5"]


def test_custom_linear_seed_003():
    class MyLiner(nn.Module):
        def __init__(self, in_features, out_features, bias=True):
            super().__init__()
            self.in_features = in_features
            self.out_features = out_features
            self.weights = nn.Parameter(torch.randn(in_features, out_features))
            self.bias = nn.Parameter(torch.randn(out_features))

        def forward(self, x):
            return x @ self.weights + self.bias

    x = torch.randn(5, 7)
    layer = MyLiner(7, 12)
    assert tuple(layer(x).shape) == (5, 12)
    assert [tuple(v.shape) for v in layer.parameters()] == [(7, 12), (12,)]


def test_module_list_operations():
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh(), nn.Sigmoid()])
    ml.insert(1, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Linear", "Identity", "ReLU", "Tanh", "Sigmoid"]
    assert isinstance(ml[-1], nn.Sigmoid)
    assert [type(m).__name__ for m in ml[1:3]] == ["Identity", "ReLU"]
    del ml[0]
    assert list(ml._modules) == ["0", "1", "2", "3"] and isinstance(ml[0], nn.Identity)
    assert len(list(nn.Sequential(nn.ModuleList([nn.Linear(2, 2)])).parameters())) == 2
    with pytest.raises(TypeError, match="should be called with an iterable"):
        ml.extend(nn.Linear(1, 1).weight.sum().item())


def test_module_dict_operations():
    md = nn.ModuleDict([("a", nn.ReLU()), ("b", nn.Tanh())])
    assert "a" in md and len(md) == 2 and list(md) == ["a", "b"]
    md["c"] = nn.Linear(1, 1)
    assert [k for k, _ in md.items()] == ["a", "b", "c"]
    assert isinstance(md.pop("a"), nn.ReLU) and list(md.keys()) == ["b", "c"]
    assert list(md.state_dict()) == ["c.weight", "c.bias"]


def test_parameter_list_and_dict():
    pl = nn.ParameterList([torch.zeros(2), nn.Parameter(torch.ones(3))])
    assert all(isinstance(p, nn.Parameter) for p in pl)
    pl.append(torch.ones(1))
    assert len(pl) == 3 and list(pl.state_dict()) == ["0", "1", "2"]
    pd = nn.ParameterDict({"b": torch.zeros(1), "a": nn.Parameter(torch.ones(1))})
    assert list(pd.keys()) == ["a", "b"] and isinstance(pd["b"], nn.Parameter)
    pd["c"] = torch.ones(2)
    assert list(pd.state_dict()) == ["a", "b", "c"]
    assert len(list(pd.parameters())) == 3
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        pl(torch.ones(1))


def test_module_in_training_loop_seed_003_linear_regression():
    torch.manual_seed(0)
    x_train = np.array(list(range(11)), dtype=np.float32).reshape(-1, 1)
    y_train = np.array([2 * i + 1 for i in range(11)], dtype=np.float32).reshape(-1, 1)

    class LinearRegression(nn.Module):
        def __init__(self, inputSize, outputSize):
            super(LinearRegression, self).__init__()  # noqa: UP008 - the seeds' spelling
            self.linear = torch.nn.Linear(inputSize, outputSize)

        def forward(self, x):
            return self.linear(x)

    model = LinearRegression(1, 1)
    criterion = torch.nn.MSELoss()
    losses = []
    for _ in range(200):
        inputs, labels = torch.from_numpy(x_train), torch.from_numpy(y_train)
        model.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.01 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.5 < losses[0]
    with torch.no_grad():
        predicted = model(torch.from_numpy(x_train)).data.numpy()
    assert predicted.shape == (11, 1)
    assert abs(model.linear.weight.item() - 2.0) < 0.2
