//! One GPU: its primary context, a stream, the kernel modules loaded on it (compiled by NVRTC for
//! its compute capability) and its caching allocator. Every driver call first makes the context
//! current on the calling thread, so any thread may use a device.
//!
//! Tensor memory is managed memory (cuMemAllocManaged): the GPU and the host can both address it,
//! so ops without a GPU kernel compute on the host, correctly, on the same storage. The emulated
//! device (`runtime::Probe::emulated`) has no driver: its memory is host memory and it runs no
//! kernels.

use super::allocator::{self, CachingAllocator};
use super::{nvrtc, runtime};
use crate::tensor::{Error, Result};
use cudarc::driver::{result, sys, DriverError};
use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};

pub(crate) fn drv(what: &str, e: DriverError) -> Error {
    Error::Runtime(format!("CUDA error in {}: {:?}", what, e))
}

pub struct Gpu {
    pub ordinal: usize,
    /// "sm_90" for compute capability 9.0: what kernels are compiled for ("emulated" without a driver).
    pub arch: String,
    /// None on the emulated device.
    driver: Option<Driver>,
    modules: Mutex<HashMap<String, Result<usize>>>,
    functions: Mutex<HashMap<(String, String), usize>>,
    alloc: Mutex<CachingAllocator<Memory>>,
    /// Kernels were queued since the last synchronize: the host must wait before touching memory.
    pending: AtomicBool,
    /// Kernels launched so far (tests check that an op ran as a kernel, not on the host).
    launches: AtomicU64,
    /// Times host code touched this device's memory (tests check an op stayed on the device).
    host_accesses: AtomicU64,
    /// The cuBLAS handle (None where cuBLAS cannot be loaded), behind a lock: one call at a time.
    blas: OnceLock<Option<Mutex<usize>>>,
    /// One i32 per `DeviceAssert` site, which kernels set on bad input (None: no memory for them).
    asserts: OnceLock<Option<DeviceBuffer>>,
}

/// Checks kernels make without stopping the host, as PyTorch's device-side asserts: a kernel that
/// finds bad input (a target out of range) sets its site's flag; the host reads the flags when it
/// waits for the device anyway (`synchronize`), and the next call into ferrotorch raises
/// RuntimeError. A training step thus never waits to validate its inputs.
/// Each site's flag is the i32 at its discriminant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceAssert {
    CrossEntropyTarget = 0,
    EmbeddingIndex = 1,
    IndexOutOfBounds = 2,
    ZeroDivision = 3,
}

impl DeviceAssert {
    /// Every site, in discriminant order (a unit test checks that none is missing).
    const ALL: [DeviceAssert; 4] = [
        DeviceAssert::CrossEntropyTarget,
        DeviceAssert::EmbeddingIndex,
        DeviceAssert::IndexOutOfBounds,
        DeviceAssert::ZeroDivision,
    ];

    fn message(self) -> &'static str {
        match self {
            DeviceAssert::CrossEntropyTarget => {
                "cross_entropy / nll_loss: a target is out of bounds (Assertion `t >= 0 && t < n_classes` failed)"
            }
            DeviceAssert::EmbeddingIndex => {
                "embedding: index out of range in self (Assertion `idx >= 0 && idx < num_embeddings` failed)"
            }
            DeviceAssert::IndexOutOfBounds => {
                "gather / scatter / indexing: index out of bounds (Assertion `-sizes[i] <= index && index < sizes[i] && \"index out of bounds\"` failed)"
            }
            DeviceAssert::ZeroDivision => {
                "ZeroDivisionError: integer division or remainder by zero (Assertion `b != 0` failed)"
            }
        }
    }
}

/// A device-side assert seen by `synchronize`, until the next call into ferrotorch reports it.
static FAILED_ASSERT: Mutex<Option<String>> = Mutex::new(None);
static ASSERT_SEEN: AtomicBool = AtomicBool::new(false);

/// Takes the device-side assert waiting to be raised, if any (one atomic load when there is none).
pub fn take_failed_assert() -> Option<String> {
    if !ASSERT_SEEN.swap(false, Ordering::AcqRel) {
        return None;
    }
    let msg = FAILED_ASSERT.lock().ok()?.take()?;
    Some(format!(
        "CUDA error: device-side assert triggered: {}. CUDA kernel errors are reported at the next \
         call that waits for the device, so the stack trace may point past the op that failed.",
        msg
    ))
}

struct Driver {
    ctx: sys::CUcontext,
    stream: sys::CUstream,
}

// SAFETY: the handles are driver objects usable from any thread once the context is made current,
// which every method does first.
unsafe impl Send for Gpu {}
unsafe impl Sync for Gpu {}

/// Where the caching allocator gets its blocks.
enum Memory {
    /// Managed memory from the driver, in this context.
    Managed(sys::CUcontext),
    /// Host memory for the emulated device, with each block's size for freeing it.
    Host(HashMap<u64, usize>),
}

// SAFETY: as for Gpu.
unsafe impl Send for Memory {}

/// Alignment of emulated-device blocks (cuMemAlloc guarantees at least 256 bytes).
const HOST_ALIGN: usize = 256;

impl allocator::Backend for Memory {
    fn alloc(&mut self, bytes: usize) -> std::result::Result<u64, String> {
        match self {
            // SAFETY: the context is live for the process; cuMemAllocManaged has no other precondition.
            Memory::Managed(ctx) => unsafe {
                result::ctx::set_current(*ctx).map_err(|e| format!("{:?}", e))?;
                result::malloc_managed(bytes, sys::CUmemAttach_flags::CU_MEM_ATTACH_GLOBAL)
                    .map_err(|e| format!("{:?}", e))
            },
            Memory::Host(sizes) => {
                let layout = std::alloc::Layout::from_size_align(bytes.max(1), HOST_ALIGN)
                    .map_err(|e| e.to_string())?;
                // SAFETY: the layout has a non-zero size.
                let p = unsafe { std::alloc::alloc(layout) };
                if p.is_null() {
                    return Err("CUDA_ERROR_OUT_OF_MEMORY".into());
                }
                sizes.insert(p as u64, bytes.max(1));
                Ok(p as u64)
            }
        }
    }
    fn free(&mut self, ptr: u64) {
        match self {
            // SAFETY: ptr came from alloc above and is idle (the caching allocator owns it).
            Memory::Managed(ctx) => unsafe {
                let _ = result::ctx::set_current(*ctx);
                let _ = result::free_sync(ptr);
            },
            Memory::Host(sizes) => {
                if let Some(bytes) = sizes.remove(&ptr) {
                    // SAFETY: allocated above with this size and alignment.
                    unsafe {
                        std::alloc::dealloc(
                            ptr as *mut u8,
                            std::alloc::Layout::from_size_align_unchecked(bytes, HOST_ALIGN),
                        )
                    }
                }
            }
        }
    }
}

/// What `torch.cuda.get_device_properties` reports.
pub struct Properties {
    pub name: String,
    pub major: u32,
    pub minor: u32,
    pub total_memory: usize,
    pub multi_processor_count: usize,
}

/// A `/proc/meminfo` field in bytes (0 where it cannot be read).
fn host_meminfo(field: &str) -> usize {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<usize>().ok())
        .map_or(0, |kib| kib * 1024)
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
    slot.get_or_init(|| {
        if probe.emulated {
            Ok(Gpu::emulated(ordinal))
        } else {
            Gpu::init(ordinal)
        }
    })
    .as_ref()
    .map_err(Clone::clone)
}

impl Gpu {
    fn emulated(ordinal: usize) -> Gpu {
        Gpu {
            ordinal,
            arch: "emulated".into(),
            driver: None,
            modules: Mutex::new(HashMap::new()),
            functions: Mutex::new(HashMap::new()),
            alloc: Mutex::new(CachingAllocator::new(Memory::Host(HashMap::new()))),
            pending: AtomicBool::new(false),
            launches: AtomicU64::new(0),
            host_accesses: AtomicU64::new(0),
            blas: OnceLock::new(),
            asserts: OnceLock::new(),
        }
    }

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
                driver: Some(Driver { ctx, stream }),
                modules: Mutex::new(HashMap::new()),
                functions: Mutex::new(HashMap::new()),
                alloc: Mutex::new(CachingAllocator::new(Memory::Managed(ctx))),
                pending: AtomicBool::new(false),
                launches: AtomicU64::new(0),
                host_accesses: AtomicU64::new(0),
                blas: OnceLock::new(),
                asserts: OnceLock::new(),
            })
        }
    }

    /// Makes the context current on this thread (a no-op on the emulated device).
    pub fn make_current(&self) -> Result<()> {
        if self.driver.is_some() {
            self.driver()?;
        }
        Ok(())
    }

    /// Records that work was queued outside `run` (cuBLAS), so host access waits for it.
    pub fn mark_pending(&self) {
        self.pending.store(true, Ordering::Release);
    }

    /// The stream all of this device's work is queued on, with its context current (None on the
    /// emulated device).
    pub fn stream(&self) -> Result<Option<sys::CUstream>> {
        match &self.driver {
            Some(_) => Ok(Some(self.driver()?.stream)),
            None => Ok(None),
        }
    }

    /// `torch.cuda.get_device_properties`: the emulated device reports compute capability 0.0,
    /// the host's memory and its threads.
    pub fn properties(&self) -> Result<Properties> {
        let name = runtime::probe().devices[self.ordinal].clone();
        if self.driver.is_none() {
            return Ok(Properties {
                name,
                major: 0,
                minor: 0,
                total_memory: host_meminfo("MemTotal:"),
                multi_processor_count: std::thread::available_parallelism().map_or(1, |n| n.get()),
            });
        }
        self.driver()?;
        // SAFETY: plain queries of a device the probe listed.
        unsafe {
            let dev =
                result::device::get(self.ordinal as i32).map_err(|e| drv("cuDeviceGet", e))?;
            let attr = |a| {
                result::device::get_attribute(dev, a).map_err(|e| drv("cuDeviceGetAttribute", e))
            };
            use sys::CUdevice_attribute as A;
            Ok(Properties {
                name,
                major: attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)? as u32,
                minor: attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)? as u32,
                total_memory: result::device::total_mem(dev)
                    .map_err(|e| drv("cuDeviceTotalMem", e))?,
                multi_processor_count: attr(A::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)? as usize,
            })
        }
    }

    /// `torch.cuda.mem_get_info`: (free, total) bytes of device memory (of host memory on the
    /// emulated device).
    pub fn mem_get_info(&self) -> Result<(usize, usize)> {
        if self.driver.is_none() {
            return Ok((host_meminfo("MemAvailable:"), host_meminfo("MemTotal:")));
        }
        self.driver()?;
        result::mem_get_info().map_err(|e| drv("cuMemGetInfo", e))
    }

    /// `torch.cuda.reset_peak_memory_stats`: the peak restarts from what is allocated now.
    pub fn reset_peak_memory(&self) {
        if let Ok(mut a) = self.alloc.lock() {
            a.reset_peak();
        }
    }

    /// The cuBLAS handle, locked for one call; None on the emulated device or without cuBLAS.
    pub fn blas_handle(&self) -> Option<std::sync::MutexGuard<'_, usize>> {
        let d = self.driver.as_ref()?;
        let h = self.blas.get_or_init(|| {
            self.driver().ok()?;
            super::blas::handle(d.stream as *mut c_void).map(Mutex::new)
        });
        h.as_ref()?.lock().ok()
    }

    /// The driver handles, made current on this thread; an error on the emulated device.
    fn driver(&self) -> Result<&Driver> {
        let Some(d) = &self.driver else {
            crate::bail!(
                Runtime,
                "the emulated CUDA device runs no kernels (FERROTORCH_EMULATE_CUDA=1)"
            );
        };
        // SAFETY: ctx is this device's primary context, retained for the process.
        unsafe { result::ctx::set_current(d.ctx) }.map_err(|e| drv("cuCtxSetCurrent", e))?;
        Ok(d)
    }

    /// Module `module`, compiled for this device (or read from the disk cache) and loaded once;
    /// a failure (no NVRTC, say) is remembered too, so ops keep computing on the host.
    fn module(&self, module: &str) -> Result<sys::CUmodule> {
        let mut mods = self
            .modules
            .lock()
            .map_err(|_| Error::Runtime("poisoned".into()))?;
        if let Some(m) = mods.get(module) {
            return m.clone().map(|m| m as sys::CUmodule);
        }
        let loaded = self.driver().and_then(|_| {
            let cubin = nvrtc::compile(module, &self.arch)?;
            // SAFETY: the image is a CUBIN NVRTC produced for this device; modules stay loaded
            // for the process, so their function handles stay valid.
            unsafe { result::module::load_data(cubin.bytes.as_ptr() as *const c_void) }
                .map(|m| m as usize)
                .map_err(|e| drv("cuModuleLoadData", e))
        });
        mods.insert(module.to_string(), loaded.clone());
        loaded.map(|m| m as sys::CUmodule)
    }

    /// The kernel `kernel` of module `module`, looked up once.
    pub fn function(&self, module: &str, kernel: &str) -> Result<sys::CUfunction> {
        let key = (module.to_string(), kernel.to_string());
        if let Some(&f) = self
            .functions
            .lock()
            .map_err(|_| Error::Runtime("poisoned".into()))?
            .get(&key)
        {
            return Ok(f as sys::CUfunction);
        }
        let m = self.module(module)?;
        let name =
            CString::new(kernel).map_err(|_| Error::Value("kernel name contains NUL".into()))?;
        // SAFETY: m is a loaded module of this context.
        let f = unsafe { result::module::get_function(m, name) }.map_err(|e| {
            Error::Runtime(format!(
                "no kernel '{}' in CUDA module '{}': {:?}",
                kernel, module, e
            ))
        })?;
        self.functions
            .lock()
            .map_err(|_| Error::Runtime("poisoned".into()))?
            .insert(key, f as usize);
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
        let d = self.driver()?;
        result::launch_kernel(f, grid, block, shared_bytes, d.stream, params)
            .map_err(|e| drv("cuLaunchKernel", e))
    }

    /// Waits for the work queued on this device (nothing is ever queued on the emulated one), then
    /// reads the device-side assert flags.
    pub fn synchronize(&self) -> Result<()> {
        if self.driver.is_some() {
            let d = self.driver()?;
            // SAFETY: the stream belongs to this context.
            unsafe { result::stream::synchronize(d.stream) }
                .map_err(|e| drv("cuStreamSynchronize", e))?;
        }
        self.pending.store(false, Ordering::Release);
        self.check_asserts();
        Ok(())
    }

    /// The device address of `site`'s flag for a kernel to set (None where it could not be
    /// allocated). Marks the device pending, so the next host access reads the flags.
    pub fn assert_flag(&'static self, site: DeviceAssert) -> Option<u64> {
        let buf = self.asserts.get_or_init(|| {
            let buf = self.alloc(4 * DeviceAssert::ALL.len()).ok()?;
            buf.upload(&[0u8; 4 * DeviceAssert::ALL.len()]).ok()?;
            Some(buf)
        });
        self.pending.store(true, Ordering::Release);
        buf.as_ref().map(|b| b.ptr + 4 * site as u64)
    }

    /// Moves set assert flags (the stream is idle) into the error the next call raises.
    fn check_asserts(&self) {
        let Some(Some(buf)) = self.asserts.get() else {
            return;
        };
        for site in DeviceAssert::ALL {
            // SAFETY: the block holds one i32 per site and is host-addressable; no kernel is
            // running (the stream was just waited for).
            let flag = unsafe { &mut *(buf.ptr as *mut i32).add(site as usize) };
            if *flag != 0 {
                *flag = 0;
                if let Ok(mut failed) = FAILED_ASSERT.lock() {
                    failed.get_or_insert_with(|| site.message().to_string());
                    ASSERT_SEEN.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Whether kernels of `module` can run here: on a GPU once the module compiled and loaded (on
    /// first use); on the emulated device when the test harness registered a host build of it.
    pub fn runs_kernels(&self, module: &str) -> bool {
        if self.driver.is_some() {
            self.module(module).is_ok()
        } else {
            super::emulator::has(module)
        }
    }

    /// Threads per block: 256 on a GPU; 64 on the emulated device, which runs each thread as a
    /// host thread (two warps still exercise the cross-warp step of the block reductions).
    pub fn block_size(&self) -> u32 {
        if self.driver.is_some() {
            256
        } else {
            64
        }
    }

    /// Most blocks a grid-stride kernel is launched with (the emulated device runs blocks one
    /// after another, so a couple exercise the striding without the cost).
    pub fn max_grid(&self) -> u32 {
        if self.driver.is_some() {
            4096
        } else {
            2
        }
    }

    /// Queues kernel `kernel` of `module` over a 1-D grid of 1-D blocks (runs it to completion on
    /// the emulated device).
    ///
    /// # Safety
    /// As for `launch`.
    pub unsafe fn run(
        &self,
        module: &str,
        kernel: &str,
        grid: u32,
        block: u32,
        params: &mut [*mut c_void],
    ) -> Result<()> {
        self.launches.fetch_add(1, Ordering::Relaxed);
        if self.driver.is_none() {
            return super::emulator::launch(module, kernel, grid, block, params);
        }
        let f = self.function(module, kernel)?;
        self.pending.store(true, Ordering::Release);
        self.launch(f, (grid.max(1), 1, 1), (block, 1, 1), 0, params)
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

    pub fn launches(&self) -> u64 {
        self.launches.load(Ordering::Relaxed)
    }

    pub fn host_accesses(&self) -> u64 {
        self.host_accesses.load(Ordering::Relaxed)
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

/// `torch.cuda.set_sync_debug_mode`: 0 off, 1 warn, 2 error when a call waits for a device.
static SYNC_DEBUG_MODE: AtomicU8 = AtomicU8::new(0);

thread_local! {
    /// Host accesses on this thread since the innermost watched call began (`sync_watch`).
    static WATCHED_ACCESSES: Cell<u64> = const { Cell::new(0) };
}

pub fn set_sync_debug_mode(mode: u8) {
    SYNC_DEBUG_MODE.store(mode, Ordering::Relaxed);
}

pub fn sync_debug_mode() -> u8 {
    SYNC_DEBUG_MODE.load(Ordering::Relaxed)
}

/// Runs `f`, and with a sync debug mode set also answers that mode when `f` touched device memory
/// from the host (it waited for the device). A nested watched call reports its own accesses
/// only, so each is reported once, by the innermost call that made it.
pub fn sync_watch<R>(f: impl FnOnce() -> R) -> (R, Option<u8>) {
    if sync_debug_mode() == 0 {
        return (f(), None);
    }
    let outer = WATCHED_ACCESSES.with(|c| c.replace(0));
    let r = f();
    let mine = WATCHED_ACCESSES.with(|c| c.replace(outer));
    let mode = sync_debug_mode();
    (r, (mine > 0 && mode != 0).then_some(mode))
}

/// Called before host code touches device `ordinal`'s memory: waits for queued kernels.
pub fn before_host_access(ordinal: usize) {
    if let Some(Some(Ok(g))) = GPUS.get().map(|s| s.get(ordinal).and_then(|s| s.get())) {
        g.host_accesses.fetch_add(1, Ordering::Relaxed);
        if sync_debug_mode() != 0 {
            WATCHED_ACCESSES.with(|c| c.set(c.get() + 1));
        }
        if g.pending.load(Ordering::Acquire) {
            let _ = g.synchronize();
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
        // SAFETY: the buffer holds at least src.len() bytes, addressable from the host.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr as *mut u8, src.len()) };
        Ok(())
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
        // SAFETY: the buffer holds at least dst.len() bytes, addressable from the host.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr as *const u8, dst.as_mut_ptr(), dst.len())
        };
        Ok(())
    }
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        // Kernels queued on the stream may still use the block: the next user is either a later
        // kernel on the same stream (ordered after them) or host code, which waits for the stream
        // first (`before_host_access`), so the block can be reused at once, as in PyTorch.
        if let Ok(mut a) = self.gpu.alloc.lock() {
            let _ = a.free(self.ptr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DeviceAssert;

    #[test]
    fn every_assert_site_has_its_flag_slot() {
        for (i, site) in DeviceAssert::ALL.iter().enumerate() {
            assert_eq!(*site as usize, i);
            // an exhaustive match: a new site fails to compile here until it is listed in ALL
            match site {
                DeviceAssert::CrossEntropyTarget
                | DeviceAssert::EmbeddingIndex
                | DeviceAssert::IndexOutOfBounds
                | DeviceAssert::ZeroDivision => {}
            }
        }
        assert_eq!(
            DeviceAssert::ALL.len(),
            DeviceAssert::ZeroDivision as usize + 1
        );
    }
}
