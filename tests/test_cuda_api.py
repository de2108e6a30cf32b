"""``torch.cuda`` seeding, memory statistics, architecture queries, OutOfMemoryError and the legacy
``torch.cuda.*Tensor`` types, on the emulated device (``FERROTORCH_EMULATE_CUDA=1``) and without CUDA.

The emulation is read once per process, so each mode runs in its own interpreter; the values expected
without CUDA are those PyTorch gives on a machine without a GPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ferrotorch as torch
import pytest

# the ferrotorch this test imported: the checkout in development, the installed wheel in CI
PYTHON_DIR = str(Path(torch.__file__).resolve().parent.parent)

COMMON = """
import warnings
import ferrotorch as torch
def raises(f, exc, msg):
    try:
        f()
    except exc as e:
        assert msg in str(e), (msg, str(e))
    else:
        raise AssertionError(f"{f} did not raise")
assert torch.cuda.seed() is None and torch.cuda.seed_all() is None
assert torch.cuda.get_gencode_flags() == "" and torch.cuda.get_arch_list() == []
assert torch.cuda.is_tf32_supported() is False
assert issubclass(torch.cuda.OutOfMemoryError, RuntimeError) and torch.OutOfMemoryError is torch.cuda.OutOfMemoryError
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    assert torch.cuda.memory_cached() == torch.cuda.memory_reserved()
assert any(issubclass(x.category, FutureWarning) and "renamed" in str(x.message) for x in w)
"""

NO_CUDA = """
import ferrotorch as torch
if torch.cuda.is_available():  # a real GPU: nothing to check in this mode
    print("skip")
    raise SystemExit
""" + COMMON + """
raises(torch.cuda.initial_seed, RuntimeError, "")
raises(lambda: torch.cuda.FloatTensor(2), RuntimeError, "")
assert torch.cuda.memory_stats() == {} and torch.cuda.memory_reserved() == 0
raises(torch.cuda.memory_summary, KeyError, "allocated_bytes.all.current")
raises(torch.cuda.reset_accumulated_memory_stats, RuntimeError, "invalid argument to reset_accumulated_memory_stats")
torch.cuda.manual_seed(3)
assert not isinstance(torch.zeros(2), torch.cuda.FloatTensor)
print("ok")
"""

EMULATED = COMMON + """
assert torch.cuda.is_available()
torch.cuda.manual_seed(1234)
assert torch.cuda.initial_seed() == 1234
torch.cuda.manual_seed_all(99)
assert torch.cuda.initial_seed() == 99 and torch.initial_seed() != 99
torch.manual_seed(77)                      # seeds the CUDA generator too
assert torch.cuda.initial_seed() == 77
s = torch.seed()
assert torch.cuda.initial_seed() == s
torch.cuda.seed()
assert torch.cuda.initial_seed() != s

base = torch.cuda.memory_stats()["allocated_bytes.all.current"]
x = torch.ones(1000, device="cuda")
st = torch.cuda.memory_stats()
assert st["allocated_bytes.all.current"] == torch.cuda.memory_allocated() >= base + 4000
assert st["allocated_bytes.all.peak"] == torch.cuda.max_memory_allocated() >= st["allocated_bytes.all.current"]
assert st["reserved_bytes.all.current"] == torch.cuda.memory_reserved() >= st["allocated_bytes.all.current"]
summary = torch.cuda.memory_summary()
assert isinstance(summary, str) and "device ID 0" in summary and "Allocated memory" in summary
torch.cuda.reset_accumulated_memory_stats()
del x

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    f = torch.cuda.FloatTensor(2, 3)
    assert f.is_cuda and f.dtype == torch.float32 and f.shape == (2, 3) and f.sum().item() == 0
    d = torch.cuda.DoubleTensor([1.5, 2.5])
    assert d.dtype == torch.float64 and d.is_cuda and d.tolist() == [1.5, 2.5]
    for name, dt in [("HalfTensor", torch.float16), ("LongTensor", torch.int64), ("IntTensor", torch.int32),
                     ("BoolTensor", torch.bool), ("ByteTensor", torch.uint8), ("BFloat16Tensor", torch.bfloat16)]:
        t = getattr(torch.cuda, name)(3)
        assert t.dtype == dt and t.is_cuda, name
        assert isinstance(t, getattr(torch.cuda, name)) and not isinstance(t.cpu(), getattr(torch.cuda, name))
    assert isinstance(f, torch.cuda.FloatTensor) and not isinstance(d, torch.cuda.FloatTensor)
    assert torch.cuda.LongTensor(torch.tensor([1.7, 2.2])).tolist() == [1, 2]
print("ok")
"""


def _run(script: str, emulate: str) -> None:
    env = dict(os.environ, FERROTORCH_EMULATE_CUDA=emulate, PYTHONPATH=PYTHON_DIR)
    r = subprocess.run([sys.executable, "-c", script], check=False, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    if r.stdout.strip() == "skip":
        pytest.skip("a CUDA GPU is present")
    assert r.stdout.strip().endswith("ok"), r.stdout[-3000:]


def test_cuda_api_without_cuda_behaves_as_pytorch_without_a_gpu() -> None:
    _run(NO_CUDA, "0")


def test_cuda_api_on_the_emulated_device() -> None:
    _run(EMULATED, "1")


def test_cuda_api_in_this_process() -> None:
    # whatever this process sees: the counters agree with each other and the arch flags with the list
    assert torch.cuda.get_gencode_flags().count("-gencode") == len(torch.cuda.get_arch_list())
    stats = torch.cuda.memory_stats()
    assert (stats == {}) == (not torch.cuda.is_available())
    assert torch.cuda.memory_reserved() == stats.get("reserved_bytes.all.current", 0)
