"""Shared fixtures: on the emulated CUDA device, host builds of the kernels (tests/cuda_emulator)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import ferrotorch as torch
import pytest
from ferrotorch.cuda import kernels

EMULATED_NAME = "ferrotorch emulated CUDA device (host memory)"


def _emulator() -> Any:
    """tests/cuda_emulator/emu.py, when g++ can build the kernels for the host (else None)."""
    if shutil.which("g++") is None:
        return None
    spec = importlib.util.spec_from_file_location("ferrotorch_cuda_emu", Path(__file__).parent / "cuda_emulator" / "emu.py")
    emu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(emu)
    return emu


@pytest.fixture(scope="session")
def emulated_kernels() -> bool:
    """On the emulated device, registers host builds of every kernel module, so the ops that have
    kernels run as kernels (as on a GPU) and the rest on the host. True when kernels run."""
    if not torch.cuda.is_available():
        return False
    if torch.cuda.get_device_name(0) != EMULATED_NAME:
        return True
    emu = _emulator()
    if emu is None:
        return False
    for module in kernels.modules():
        torch._C._cuda_emulator_register(module, str(emu.build_path(module)))
    return True


@pytest.fixture
def kernels_only(emulated_kernels: bool) -> None:
    """Skips a test of the ops' kernels where the emulated device has none (g++ missing)."""
    if not emulated_kernels:
        pytest.skip("no kernels for the emulated device (g++ missing)")
