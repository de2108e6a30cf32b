"""torch.random: the seeding functions (also the top-level torch.manual_seed & co.), get/set_rng_state, fork_rng."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import ferrotorch as torch
import ferrotorch.random
import numpy as np
import pytest
from ferrotorch.random import fork_rng


def test_submodule_and_top_level_names_are_the_same():
    for name in ("manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state", "default_generator"):
        assert getattr(torch, name) is getattr(ferrotorch.random, name), name
    assert torch.random is ferrotorch.random
    assert isinstance(torch.random.default_generator, torch.Generator)


def test_manual_seed_returns_the_default_generator_and_reproduces():
    g = torch.random.manual_seed(123)
    assert g is torch.default_generator
    assert torch.initial_seed() == 123 == g.initial_seed()
    a = torch.rand(5)
    torch.manual_seed(123)
    np.testing.assert_array_equal(a.numpy(), torch.rand(5).numpy())


def test_manual_seed_range():
    # PyTorch's range: [-2**63, 2**64 - 1]; negative seeds are taken modulo 2**64
    torch.manual_seed(2**64 - 1)
    assert torch.initial_seed() == 2**64 - 1
    torch.manual_seed(2**63)
    assert torch.initial_seed() == 2**63
    torch.manual_seed(-1)
    assert torch.initial_seed() == 2**64 - 1
    torch.manual_seed(2.7)  # int() of it, as in PyTorch
    assert torch.initial_seed() == 2
    for bad in (2**64, -(2**63) - 1):
        with pytest.raises(ValueError, match="^Overflow when unpacking long long$"):
            torch.manual_seed(bad)
    with pytest.raises(ValueError, match="invalid literal for int"):
        torch.manual_seed("a")


def test_seed_is_non_deterministic_and_recorded():
    s = torch.random.seed()
    assert isinstance(s, int) and s == torch.initial_seed()


def test_get_set_rng_state_replays_the_stream():
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    a = torch.randn(4)
    torch.random.set_rng_state(state)
    np.testing.assert_array_equal(a.numpy(), torch.randn(4).numpy())
    with pytest.raises(TypeError):
        torch.random.set_rng_state([1, 2])


def test_fork_rng_restores_the_cpu_state():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    with fork_rng():
        inside = torch.rand(3)
        torch.rand(10)
    # the draws inside did not advance the stream outside
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())
    np.testing.assert_array_equal(inside.numpy(), expected.numpy())


def test_fork_rng_restores_after_an_exception_and_a_reseed():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    with pytest.raises(KeyError), fork_rng(devices=[]):
        torch.manual_seed(99)
        torch.rand(7)
        raise KeyError("x")
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())


def test_fork_rng_disabled_and_meta_do_nothing():
    torch.manual_seed(1)
    torch.rand(2)
    second = torch.rand(2)
    for kwargs in ({"enabled": False}, {"device_type": "meta"}):
        torch.manual_seed(1)
        with fork_rng(**kwargs):
            torch.rand(2)
        np.testing.assert_array_equal(torch.rand(2).numpy(), second.numpy())


def test_fork_rng_without_gpus_warns_nothing():
    if torch.cuda.is_available():
        pytest.skip("CPU-only behaviour")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fork_rng():
            torch.rand(1)


def test_fork_rng_unknown_device_type():
    with pytest.raises(RuntimeError, match=r"^torch has no module of `mps`, you should register a module by "
                                           r"`torch._register_device_module`\.$"), fork_rng(device_type="mps"):
        pass
    with pytest.raises(RuntimeError, match="device string: xpu9"), fork_rng(device_type="xpu9"):
        pass


def test_manual_seed_seeds_cuda_too():
    torch.manual_seed(77)
    if torch.cuda.is_available():
        assert torch.cuda.initial_seed() == 77
    torch.cuda.manual_seed(5)
    torch.manual_seed(77)  # the same CPU seed again still reseeds CUDA
    if torch.cuda.is_available():
        assert torch.cuda.initial_seed() == 77


_CUDA_SCRIPT = """
import warnings
import ferrotorch as torch
from ferrotorch.random import fork_rng
torch.manual_seed(0)
want, want_gpu = torch.rand(3), torch.rand(3, device="cuda")
torch.manual_seed(0)
with warnings.catch_warnings():
    warnings.simplefilter("error")
    with fork_rng():  # every CUDA device: both generators come back
        torch.rand(3), torch.rand(3, device="cuda")
assert torch.equal(torch.rand(3), want) and torch.equal(torch.rand(3, device="cuda"), want_gpu)
print("ok")
"""


@pytest.mark.skipif(not torch.cuda.is_built(), reason="this build has no CUDA support to emulate")
def test_fork_rng_on_cuda_restores_the_cpu_and_cuda_states():
    env = dict(os.environ, FERROTORCH_EMULATE_CUDA="1", PYTHONPATH=str(Path(torch.__file__).parent.parent))
    run = subprocess.run([sys.executable, "-c", _CUDA_SCRIPT], check=False, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
