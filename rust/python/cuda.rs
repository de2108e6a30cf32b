//! `_C._cuda_*`: the GPU runtime as `ferrotorch.cuda` sees it (driver probe, fork check, NVRTC).

use super::guard;
use crate::cuda::event::Event;
use crate::cuda::{device, kernels, nvrtc, runtime};
use crate::tensor::Error;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyTuple};

/// (device names, reason there are none).
#[pyfunction]
fn _cuda_probe() -> (Vec<String>, Option<String>) {
    let p = runtime::probe();
    (p.devices.clone(), p.reason.clone())
}

#[pyfunction]
fn _cuda_in_bad_fork() -> bool {
    runtime::in_bad_fork()
}

#[pyfunction]
fn _nvrtc_available() -> bool {
    nvrtc::is_available()
}

#[pyfunction]
fn _nvrtc_version() -> PyResult<(i32, i32)> {
    guard(nvrtc::version)
}

#[pyfunction]
fn _cuda_kernel_modules() -> Vec<&'static str> {
    kernels::SOURCES.iter().map(|(n, _)| *n).collect()
}

#[pyfunction]
fn _cuda_kernel_cache_dir() -> std::path::PathBuf {
    nvrtc::cache_dir()
}

/// Compiles one kernel module for `arch`: (CUBIN size, read from the cache?, kernel names).
#[pyfunction]
fn _cuda_compile(py: Python<'_>, module: &str, arch: &str) -> PyResult<(usize, bool, Vec<String>)> {
    py.detach(|| {
        guard(|| {
            let c = nvrtc::compile(module, arch)?;
            let names = nvrtc::cubin_functions(&c.bytes).ok_or_else(|| {
                crate::Error::Runtime(format!("NVRTC returned a malformed CUBIN for '{}'", module))
            })?;
            Ok((c.bytes.len(), c.from_cache, names))
        })
    })
}

/// The compute capability kernels are compiled for on device `ordinal` ("sm_90").
#[pyfunction]
fn _cuda_device_arch(ordinal: usize) -> PyResult<String> {
    guard(|| Ok(device::gpu(ordinal)?.arch.clone()))
}

/// (allocated, peak allocated, reserved) bytes of device `ordinal`'s caching allocator.
#[pyfunction]
fn _cuda_memory_stats(ordinal: usize) -> PyResult<(usize, usize, usize)> {
    guard(|| {
        let s = device::gpu(ordinal)?.memory_stats();
        Ok((s.allocated, s.peak_allocated, s.reserved))
    })
}

/// `torch.cuda.manual_seed(seed)`: the CUDA generator only.
#[pyfunction]
fn _cuda_manual_seed(seed: i64) {
    crate::cuda::ops::manual_seed(seed as u64)
}

/// The CUDA generator's (seed, Philox offset).
#[pyfunction]
fn _cuda_get_rng_state() -> (u64, u64) {
    crate::cuda::ops::rng_state()
}

#[pyfunction]
fn _cuda_set_rng_state(seed: u64, offset: u64) {
    crate::cuda::ops::set_rng_state(seed, offset)
}

/// `torch.backends.cuda.matmul.allow_tf32 = on`.
#[pyfunction]
fn _cuda_set_allow_tf32(on: bool) {
    crate::cuda::blas::set_allow_tf32(on)
}

/// Kernels launched on device `ordinal` so far.
#[pyfunction]
fn _cuda_kernel_launches(ordinal: usize) -> PyResult<u64> {
    guard(|| Ok(device::gpu(ordinal)?.launches()))
}

/// Times host code touched device `ordinal`'s memory so far.
#[pyfunction]
fn _cuda_host_accesses(ordinal: usize) -> PyResult<u64> {
    guard(|| Ok(device::gpu(ordinal)?.host_accesses()))
}

/// `torch.cuda.set_sync_debug_mode` (0 default, 1 warn, 2 error).
#[pyfunction]
fn _cuda_set_sync_debug_mode(mode: i64) -> PyResult<()> {
    if !(0..=2).contains(&mode) {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
            "invalid value of debug_mode, expected one of 0, 1, 2 (got {})",
            mode
        )));
    }
    device::set_sync_debug_mode(mode as u8);
    Ok(())
}

#[pyfunction]
fn _cuda_get_sync_debug_mode() -> u8 {
    device::sync_debug_mode()
}

/// Gives the emulated device a host build of kernel module `module` (tests/cuda_emulator).
#[pyfunction]
fn _cuda_emulator_register(module: &str, path: &str) -> PyResult<()> {
    guard(|| crate::cuda::emulator::register(module, path))
}

/// Waits for device `ordinal`'s queued work (`torch.cuda.synchronize`).
#[pyfunction]
fn _cuda_synchronize(py: Python<'_>, ordinal: usize) -> PyResult<()> {
    py.detach(|| guard(|| device::gpu(ordinal)?.synchronize()))
}

#[pyfunction]
fn _cuda_empty_cache(ordinal: usize) -> PyResult<()> {
    guard(|| {
        device::gpu(ordinal)?.empty_cache();
        Ok(())
    })
}

/// (name, major, minor, total memory, multiprocessors) of device `ordinal`.
#[pyfunction]
fn _cuda_device_properties(ordinal: usize) -> PyResult<(String, u32, u32, usize, usize)> {
    guard(|| {
        let p = device::gpu(ordinal)?.properties()?;
        Ok((
            p.name,
            p.major,
            p.minor,
            p.total_memory,
            p.multi_processor_count,
        ))
    })
}

/// (free, total) bytes of device `ordinal`'s memory.
#[pyfunction]
fn _cuda_mem_get_info(ordinal: usize) -> PyResult<(usize, usize)> {
    guard(|| device::gpu(ordinal)?.mem_get_info())
}

#[pyfunction]
fn _cuda_reset_peak_memory_stats(ordinal: usize) -> PyResult<()> {
    guard(|| {
        device::gpu(ordinal)?.reset_peak_memory();
        Ok(())
    })
}

/// The handle of the stream device `ordinal` queues its work on (0 on the emulated device).
#[pyfunction]
fn _cuda_stream_handle(ordinal: usize) -> PyResult<usize> {
    guard(|| Ok(device::gpu(ordinal)?.stream()?.map_or(0, |s| s as usize)))
}

/// `torch.cuda.Event`'s handle: a marker on device `ordinal`'s stream.
#[pyclass(name = "_CudaEvent", module = "ferrotorch._C")]
struct CudaEvent(Event);

#[pymethods]
impl CudaEvent {
    #[new]
    fn new(ordinal: usize, enable_timing: bool) -> PyResult<Self> {
        guard(|| Ok(CudaEvent(Event::new(device::gpu(ordinal)?, enable_timing)?)))
    }

    #[getter]
    fn device_index(&self) -> usize {
        self.0.gpu().ordinal
    }

    fn record(&mut self) -> PyResult<()> {
        guard(|| self.0.record())
    }

    fn query(&self) -> PyResult<bool> {
        guard(|| self.0.query())
    }

    fn synchronize(&self, py: Python<'_>) -> PyResult<()> {
        let e = &self.0;
        py.detach(|| guard(|| e.synchronize()))
    }

    fn elapsed_time(&self, py: Python<'_>, end: PyRef<'_, CudaEvent>) -> PyResult<f64> {
        let (a, b) = (&self.0, &end.0);
        py.detach(|| guard(|| a.elapsed_ms(b)))
    }
}

/// One kernel argument, stored 8-byte aligned for cuLaunchKernel's parameter pointers.
enum Arg {
    /// A host buffer copied to the device before the launch and back after it.
    Buffer(Py<PyByteArray>),
    Value(Vec<u64>),
}

fn value_of(bytes: &[u8]) -> Arg {
    let mut words = vec![0u64; bytes.len().div_ceil(8).max(1)];
    // SAFETY: words holds at least bytes.len() bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), words.as_mut_ptr() as *mut u8, bytes.len())
    };
    Arg::Value(words)
}

fn parse_arg(item: &Bound<'_, PyAny>) -> PyResult<Arg> {
    let t = item.cast::<PyTuple>()?;
    let kind: String = t.get_item(0)?.extract()?;
    let v = || t.get_item(1);
    Ok(match kind.as_str() {
        "buf" => Arg::Buffer(v()?.cast::<PyByteArray>()?.clone().unbind()),
        "null" => value_of(&0u64.to_le_bytes()),
        "i64" => value_of(&v()?.extract::<i64>()?.to_le_bytes()),
        "u64" => value_of(&v()?.extract::<u64>()?.to_le_bytes()),
        "i32" => value_of(&v()?.extract::<i32>()?.to_le_bytes()),
        "f64" => value_of(&v()?.extract::<f64>()?.to_le_bytes()),
        "f32" => value_of(&v()?.extract::<f32>()?.to_le_bytes()),
        "bytes" => value_of(v()?.cast::<PyBytes>()?.as_bytes()),
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown kernel argument kind '{}'",
                other
            )))
        }
    })
}

/// Runs one kernel on device `ordinal`: bytearray arguments are copied to the device, the kernel
/// launched, and the bytearrays overwritten with the device's contents afterwards. The test-suite's
/// way to check each kernel against numpy on a GPU machine.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _cuda_launch(
    py: Python<'_>,
    ordinal: usize,
    module: &str,
    kernel: &str,
    grid: (u32, u32, u32),
    block: (u32, u32, u32),
    shared_bytes: u32,
    args: Vec<Bound<'_, PyAny>>,
) -> PyResult<()> {
    let mut parsed: Vec<Arg> = args.iter().map(parse_arg).collect::<PyResult<_>>()?;
    guard(|| {
        let gpu = device::gpu(ordinal)?;
        let f = gpu.function(module, kernel)?;
        let mut buffers = Vec::new();
        for a in parsed.iter_mut() {
            if let Arg::Buffer(ba) = a {
                // SAFETY: the GIL is held and nothing else borrows the bytearray during this call.
                let host = unsafe { ba.bind(py).as_bytes() };
                let buf = gpu.alloc(host.len())?;
                buf.upload(host)?;
                buffers.push(buf);
            }
        }
        // Parameter storage: device pointers for buffers, the values themselves otherwise.
        let mut ptr_words: Vec<u64> = buffers.iter().map(|b| b.ptr).collect();
        let mut params = Vec::with_capacity(parsed.len());
        let mut next_buf = 0;
        for a in parsed.iter_mut() {
            match a {
                Arg::Buffer(_) => {
                    params.push(&mut ptr_words[next_buf] as *mut u64 as *mut std::ffi::c_void);
                    next_buf += 1;
                }
                Arg::Value(words) => params.push(words.as_mut_ptr() as *mut std::ffi::c_void),
            }
        }
        // SAFETY: the caller (the test-suite) matches the kernel's signature; buffers are sized
        // from the host arrays the kernel is meant to read and write.
        unsafe { gpu.launch(f, grid, block, shared_bytes, &mut params)? };
        gpu.synchronize()?;
        let mut b = buffers.iter();
        for a in parsed.iter() {
            if let Arg::Buffer(ba) = a {
                let buf = b
                    .next()
                    .ok_or_else(|| Error::Runtime("buffer count".into()))?;
                // SAFETY: as above; the length is unchanged since the upload.
                buf.download(unsafe { ba.bind(py).as_bytes_mut() })?;
            }
        }
        Ok(())
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_cuda_probe, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_in_bad_fork, m)?)?;
    m.add_function(wrap_pyfunction!(_nvrtc_available, m)?)?;
    m.add_function(wrap_pyfunction!(_nvrtc_version, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_kernel_modules, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_kernel_cache_dir, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_compile, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_device_arch, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_memory_stats, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_empty_cache, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_kernel_launches, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_host_accesses, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_set_sync_debug_mode, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_get_sync_debug_mode, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_set_allow_tf32, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_manual_seed, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_get_rng_state, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_set_rng_state, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_emulator_register, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_launch, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_device_properties, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_mem_get_info, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_reset_peak_memory_stats, m)?)?;
    m.add_function(wrap_pyfunction!(_cuda_stream_handle, m)?)?;
    m.add_class::<CudaEvent>()?;
    Ok(())
}
