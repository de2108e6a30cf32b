//! One GPU: its primary context, a stream, the kernel modules loaded on it (compiled by NVRTC for
//! its compute capability) and its caching allocator. Every driver call first makes the context
//! current on the calling thread, so any thread may use a device.

use super::allocator::{self, CachingAllocator};
use super::{nvrtc, runtime};
use crate::tensor::{Error, Result};
use cudarc::driver::{result, sys, DriverError};
use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::sync::{Mutex, OnceLock};

fn drv(what: &str, e: DriverError) -> Error {
    Error::Runtime(format!("CUDA error in {}: {:?}", what, e))
}

pub struct Gpu {
    pub ordinal: usize,
    /// "sm_90" for compute capability 9.0: what kernels are compiled for.
    pub arch: String,
    ctx: sys::CUcontext,
    stream: sys::CUstream,
    functions: Mutex<HashMap<(String, String), usize>>,
    alloc: Mutex<CachingAllocator<DriverMemory>>,
}

// SAFETY: the handles are driver objects usable from any thread once the context is made current,
// which every method does first.
unsafe impl Send for Gpu {}
unsafe impl Sync for Gpu {}

/// Blocks straight from the driver.
struct DriverMemory {
    ctx: sys::CUcontext,
}

// SAFETY: as for Gpu.
unsafe impl Send for DriverMemory {}

impl allocator::Backend for DriverMemory {
    fn alloc(&mut self, bytes: usize) -> std::result::Result<u64, String> {
        // SAFETY: the context is live for the process; cuMemAlloc has no other precondition.
        unsafe {
            result::ctx::set_current(self.ctx).map_err(|e| format!("{:?}", e))?;
            result::malloc_sync(bytes).map_err(|e| format!("{:?}", e))
        }
    }
    fn free(&mut self, ptr: u64) {
        // SAFETY: ptr came from alloc above and is idle (the caching allocator owns it).
        unsafe {
            let _ = result::ctx::set_current(self.ctx);
            let _ = result::free_sync(ptr);
        }
    }
}

static GPUS: OnceLock<Vec<OnceLock<std::result::Result<Gpu, Error>>>> = OnceLock::new();

/// The device with this ordinal, initialised on first use.
pub fn gpu(ordinal: usize) -> Result<&'static Gpu> {
    if runtime::in_bad_fork() {
        crate::bail!(
            Runtime,
            "Cannot re-initialize CUDA in forked subprocess. To use CUDA with multiprocessing, you must use the 'spawn' start method"
        );
    }
    let probe = runtime::probe();
    let slots = GPUS.get_or_init(|| (0..probe.devices.len()).map(|_| OnceLock::new()).collect());
    let Some(slot) = slots.get(ordinal) else {
        if let Some(reason) = &probe.reason {
            return Err(Error::Runtime(reason.clone()));
        }
        crate::bail!(
            Runtime,
            "CUDA error: invalid device ordinal {} ({} device(s))",
            ordinal,
            slots.len()
        );
    };
    slot.get_or_init(|| Gpu::init(ordinal))
        .as_ref()
        .map_err(Clone::clone)
}

impl Gpu {
    fn init(ordinal: usize) -> Result<Gpu> {
        // SAFETY: plain driver calls on a device the probe listed.
        unsafe {
            let dev = result::device::get(ordinal as i32).map_err(|e| drv("cuDeviceGet", e))?;
            let attr = |a| {
                result::device::get_attribute(dev, a).map_err(|e| drv("cuDeviceGetAttribute", e))
            };
            let major =
                attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
            let minor =
                attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
            let ctx =
                result::primary_ctx::retain(dev).map_err(|e| drv("cuDevicePrimaryCtxRetain", e))?;
            result::ctx::set_current(ctx).map_err(|e| drv("cuCtxSetCurrent", e))?;
            let stream = result::stream::create(result::stream::StreamKind::NonBlocking)
                .map_err(|e| drv("cuStreamCreate", e))?;
            Ok(Gpu {
                ordinal,
                arch: format!("sm_{}{}", major, minor),
                ctx,
                stream,
                functions: Mutex::new(HashMap::new()),
                alloc: Mutex::new(CachingAllocator::new(DriverMemory { ctx })),
            })
        }
    }

    fn make_current(&self) -> Result<()> {
        // SAFETY: ctx is this device's primary context, retained for the process.
        unsafe { result::ctx::set_current(self.ctx) }.map_err(|e| drv("cuCtxSetCurrent", e))
    }

    /// The kernel `kernel` of module `module`, compiled (or read from the disk cache) and loaded once.
    pub fn function(&self, module: &str, kernel: &str) -> Result<sys::CUfunction> {
        let key = (module.to_string(), kernel.to_string());
        let mut fns = self
            .functions
            .lock()
            .map_err(|_| Error::Runtime("poisoned".into()))?;
        if let Some(&f) = fns.get(&key) {
            return Ok(f as sys::CUfunction);
        }
        self.make_current()?;
        let cubin = nvrtc::compile(module, &self.arch)?;
        let name =
            CString::new(kernel).map_err(|_| Error::Value("kernel name contains NUL".into()))?;
        // SAFETY: the image is a CUBIN NVRTC produced for this device; modules stay loaded for the
        // process, so the function handle stays valid.
        let f = unsafe {
            let m = result::module::load_data(cubin.bytes.as_ptr() as *const c_void)
                .map_err(|e| drv("cuModuleLoadData", e))?;
            result::module::get_function(m, name).map_err(|e| {
                Error::Runtime(format!(
                    "no kernel '{}' in CUDA module '{}': {:?}",
                    kernel, module, e
                ))
            })?
        };
        fns.insert(key, f as usize);
        Ok(f)
    }

    /// Launches a kernel on this device's stream.
    ///
    /// # Safety
    /// `params` must point to values matching the kernel's parameter list, and every device pointer
    /// among them must be valid for what the kernel reads and writes.
    pub unsafe fn launch(
        &self,
        f: sys::CUfunction,
        grid: (u32, u32, u32),
        block: (u32, u32, u32),
        shared_bytes: u32,
        params: &mut [*mut c_void],
    ) -> Result<()> {
        self.make_current()?;
        result::launch_kernel(f, grid, block, shared_bytes, self.stream, params)
            .map_err(|e| drv("cuLaunchKernel", e))
    }

    pub fn synchronize(&self) -> Result<()> {
        self.make_current()?;
        // SAFETY: the stream belongs to this context.
        unsafe { result::stream::synchronize(self.stream) }
            .map_err(|e| drv("cuStreamSynchronize", e))
    }

    pub fn alloc(&'static self, bytes: usize) -> Result<DeviceBuffer> {
        let ptr = self
            .alloc
            .lock()
            .map_err(|_| Error::Runtime("poisoned".into()))?
            .alloc(bytes)?;
        Ok(DeviceBuffer {
            gpu: self,
            ptr,
            bytes,
        })
    }

    pub fn memory_stats(&self) -> allocator::Stats {
        self.alloc.lock().map(|a| a.stats()).unwrap_or_default()
    }

    pub fn empty_cache(&self) {
        if let Ok(mut a) = self.alloc.lock() {
            a.empty_cache();
        }
    }
}

/// Device memory from the caching allocator; returned to it on drop.
pub struct DeviceBuffer {
    pub gpu: &'static Gpu,
    pub ptr: u64,
    pub bytes: usize,
}

impl DeviceBuffer {
    /// Copies host bytes in (synchronously; `src` may be shorter than the buffer).
    pub fn upload(&self, src: &[u8]) -> Result<()> {
        if src.len() > self.bytes {
            crate::bail!(
                Runtime,
                "upload of {} bytes into a {}-byte buffer",
                src.len(),
                self.bytes
            );
        }
        self.gpu.synchronize()?;
        // SAFETY: the buffer holds at least src.len() bytes.
        unsafe { result::memcpy_htod_sync(self.ptr, src) }.map_err(|e| drv("cuMemcpyHtoD", e))
    }

    /// Copies device bytes out, after the stream's pending work.
    pub fn download(&self, dst: &mut [u8]) -> Result<()> {
        if dst.len() > self.bytes {
            crate::bail!(
                Runtime,
                "download of {} bytes from a {}-byte buffer",
                dst.len(),
                self.bytes
            );
        }
        self.gpu.synchronize()?;
        // SAFETY: the buffer holds at least dst.len() bytes.
        unsafe { result::memcpy_dtoh_sync(dst, self.ptr) }.map_err(|e| drv("cuMemcpyDtoH", e))
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        // Work queued on the stream may still use the block; let it finish before reuse.
        let _ = self.gpu.synchronize();
        if let Ok(mut a) = self.gpu.alloc.lock() {
            let _ = a.free(self.ptr);
        }
    }
}
