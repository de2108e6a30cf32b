"""The CUDA runtime as far as a machine without a GPU can check it: the driver probe, the refusals
PyTorch makes (no GPU, forked child), and NVRTC compiling every kernel source (the NVRTC library
comes from the nvidia-cuda-nvrtc wheel; no GPU is needed to compile)."""

import os
import re

import ferrotorch as torch
import pytest
from ferrotorch.cuda import kernels

needs_cuda_build = pytest.mark.skipif(not torch.cuda.is_built(), reason="built without the 'cuda' feature")


def test_probe_answers_without_raising():
    found = torch.cuda.probe()
    assert isinstance(found.devices, list)
    if not found.devices:
        assert found.reason  # says why: no driver, no GPU, or a driver too old


def test_availability_follows_the_probe():
    found = torch.cuda.probe()
    assert torch.cuda.is_available() is bool(found.devices)
    assert torch.cuda.device_count() == len(found.devices)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert torch.ones(2, device=device).device.type == device.type


@pytest.mark.parametrize("make", [
    lambda: torch.zeros(2, device="cuda"),
    lambda: torch.tensor([1.0], device="cuda:0"),
    lambda: torch.ones(3).cuda(),
    lambda: torch.ones(3).to("cuda"),
    lambda: torch.nn.Linear(2, 2).cuda(),
    lambda: torch.cuda.synchronize(),
    lambda: torch.cuda.set_sync_debug_mode("warn"),
])
def test_cuda_requests_without_a_device_raise_saying_why(make):
    found = torch.cuda.probe()
    if found.devices:
        pytest.skip("a CUDA device is available (tests/test_devices.py covers it)")
    with pytest.raises(RuntimeError) as e:
        make()
    assert str(e.value) == found.reason


def test_sync_debug_mode_is_default_without_a_device():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is available (tests/test_devices_sync_debug.py covers it)")
    assert torch.cuda.get_sync_debug_mode() == 0


@needs_cuda_build
def test_forked_child_refuses_cuda_like_pytorch():
    torch.cuda.probe()  # the parent has touched the driver
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the message through the pipe, never return into pytest
        os.close(r)
        try:
            torch.zeros(1, device="cuda")
            msg = "no error"
        except RuntimeError as e:
            msg = str(e)
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        msg = f.read()
    os.waitpid(pid, 0)
    assert msg.startswith("Cannot re-initialize CUDA in forked subprocess")


@needs_cuda_build
def test_dataloader_worker_touching_cuda_raises_instead_of_hanging():
    torch.cuda.probe()

    class Touch(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return torch.ones(1).cuda()

    loader = torch.utils.data.DataLoader(Touch(), num_workers=1, timeout=60)
    with pytest.raises(RuntimeError, match="Cannot re-initialize CUDA in forked subprocess"):
        next(iter(loader))


# ---- NVRTC: every kernel source compiles (CI has no GPU; the compiler needs none) ----

@pytest.fixture(scope="module")
def nvrtc_cache(tmp_path_factory):
    if not torch.cuda.is_built():
        pytest.skip("built without the 'cuda' feature")
    old = os.environ.get("FERROTORCH_KERNEL_CACHE")
    path = tmp_path_factory.mktemp("kernel-cache")
    os.environ["FERROTORCH_KERNEL_CACHE"] = str(path)
    if not kernels.nvrtc_available():
        pytest.fail("NVRTC is missing: `pip install nvidia-cuda-nvrtc` (part of the test extra)")
    yield path
    if old is None:
        del os.environ["FERROTORCH_KERNEL_CACHE"]
    else:
        os.environ["FERROTORCH_KERNEL_CACHE"] = old


# Kernels the Rust side will launch by name, per module (a renamed kernel must fail here).
EXPECTED = {
    "copy": ["fill_f32", "copy_strided_f32", "copy_to_strided_u8", "cast_f32_f16", "cast_bf16_f32"],
    "elementwise": ["add_f32", "add_strided_f32", "mul_bf16", "eq_f32", "exp_f16", "relu_f32", "where_bf16",
                    "remainder_f32", "logical_and_u8", "shl_i64", "floor_divide_i64", "remainder_strided_i32",
                    "fmod_u8"],
    "unary": ["unary_math_f32", "unary_deriv_bf16", "unary_test_i64", "unary_int_u8"],
    "reduce": ["sum_rows_f32", "max_rows_f64", "argmax_rows_f32", "sum_all_f32", "prod_mid_f16", "max_all_i32", "cumsum_f32", "cumprod_i64",
               "argmin_rows_u8"],
    "softmax": ["softmax_rows_f32", "log_softmax_backward_rows_f32"],
    "norm": ["layer_norm_rows_f32", "layer_norm_backward_rows_f32"],
    "loss": ["nll_rows_f32", "cross_entropy_backward_rows_f32"],
    "embedding": ["embedding_f32", "embedding_backward_f32"],
    "optim": ["sgd_f32", "adam_f32", "foreach_apply_bf16", "tensor_norms_partial_f16", "tensor_norms_finish_bf16", "scale_by_f64", "adagrad_f16", "rmsprop_bf16", "adadelta_f64", "adamax_f32", "nadam_bf16", "radam_f16", "sgd_bf16", "unscale_grad_f32", "unscale_grad_f64", "unscale_grad_f16", "unscale_grad_bf16"],
    "random": ["uniform_f32", "normal_f32", "uniform_f16", "normal_bf16", "randint_i64"],
    "conv": ["im2col_f32", "col2im_bf16"],
    "pool": ["max_pool2d_f32", "max_pool2d_backward_f64"],
    "index": ["scatter_max_f32", "scatter_mul_i64", "scatter_min_f64", "gather_f32", "gather_u8", "gather_bf16", "scatter_bf16", "scatter_add_f64", "scatter_add_i64",
              "nonzero_count_f32", "nonzero_offsets_i64", "nonzero_write_u8", "merge_index_i64"],
    "sort": ["search_sorted_f16", "search_sorted_i64", "sort_rows_f32", "sort_rows_f64", "sort_rows_bf16", "sort_rows_u8"],
}


def test_every_module_is_listed():
    if not torch.cuda.is_built():
        pytest.skip("built without the 'cuda' feature")
    assert sorted(kernels.modules()) == sorted(EXPECTED)


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("module", sorted(EXPECTED))
def test_kernel_module_compiles_with_nvrtc(nvrtc_cache, module, arch):
    c = kernels.compile_module(module, arch)
    assert c.cubin_bytes > 1000
    missing = [k for k in EXPECTED[module] if k not in c.kernels]
    assert not missing, f"{module}.cu for {arch} lacks {missing}; it has {c.kernels}"
    # Every kernel name carries its dtype: nothing compiled without one.
    assert all(re.search(r"_(f16|bf16|f32|f64|i32|i64|u8|bool)$", k) for k in c.kernels), c.kernels


def test_compiled_modules_are_cached_on_disk(nvrtc_cache):
    first = kernels.compile_module("optim", "sm_86")
    again = kernels.compile_module("optim", "sm_86")
    assert again.from_cache and again.cubin_bytes == first.cubin_bytes
    major, minor = kernels.nvrtc_version()
    entries = os.listdir(nvrtc_cache)
    assert any(e.startswith(f"optim-sm_86-nvrtc{major}.{minor}-") for e in entries), entries
    # Another architecture is another entry, not a hit.
    assert not kernels.compile_module("optim", "sm_89").from_cache


def test_corrupt_cache_entry_is_recompiled(nvrtc_cache):
    kernels.compile_module("random", "sm_80")
    for e in os.listdir(nvrtc_cache):
        if e.startswith("random-sm_80-"):
            (nvrtc_cache / e).write_bytes(b"garbage")
    again = kernels.compile_module("random", "sm_80")
    assert not again.from_cache and again.cubin_bytes > 1000


@pytest.mark.parametrize("module,arch,exc,msg", [
    ("nope", "sm_90", ValueError, "no CUDA kernel module named 'nope'"),
    ("copy", "compute_90", ValueError, "expected a CUDA architecture like 'sm_90'"),
    ("copy", "sm_1", RuntimeError, "NVRTC"),
])
def test_bad_compile_requests_raise(nvrtc_cache, module, arch, exc, msg):
    with pytest.raises(exc, match=msg):
        kernels.compile_module(module, arch)


def test_memory_statistics_are_zero_without_a_gpu():
    if torch.cuda.probe().devices:
        pytest.skip("a GPU is present: tests/test_cuda_kernels.py checks the real statistics")
    assert (torch.cuda.memory_allocated(), torch.cuda.max_memory_allocated("cuda:0"),
            torch.cuda.memory_reserved(0)) == (0, 0, 0)
    torch.cuda.empty_cache()  # nothing to release, and no error
