//! Storage: a byte buffer shared by every view of a tensor. Either memory we own (64-byte aligned,
//! from a caching allocator so large temporaries skip the page-fault cost of fresh mmaps) or memory
//! borrowed from another object (a numpy array, a CUDA device block) that is kept alive by `owner`.

use super::{DType, Device, Elem, Error, Result};
use std::alloc::{self, Layout as AllocLayout};
use std::any::Any;
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const ALIGN: usize = 64;
/// Blocks at least this big are cached on free: below it malloc is already cheap.
const CACHE_MIN: usize = 1 << 16;
/// Most bytes the cache keeps idle before it returns blocks to the OS.
const CACHE_LIMIT: usize = 2 << 30;
/// Blocks at least this big are 2 MiB aligned and advised to use transparent huge pages, as numpy
/// does: memory-bound passes over them take far fewer TLB misses, and a fresh block takes 512×
/// fewer page faults.
const HUGE_MIN: usize = 4 << 20;
const HUGE_ALIGN: usize = 2 << 20;

/// The alignment a block of capacity `cap` is allocated (and freed) with.
fn align_for(cap: usize) -> usize {
    if cap >= HUGE_MIN {
        HUGE_ALIGN
    } else {
        ALIGN
    }
}

/// `madvise(MADV_HUGEPAGE)` on a fresh block (a hint: failure just leaves small pages).
#[cfg(target_os = "linux")]
fn advise_huge(p: *mut u8, len: usize) {
    extern "C" {
        fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
    }
    const MADV_HUGEPAGE: i32 = 14;
    // SAFETY: [p, p + len) is one allocation we own; the advice changes no contents.
    unsafe {
        madvise(p.cast(), len, MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge(_p: *mut u8, _len: usize) {}

struct Cache {
    free: HashMap<usize, Vec<usize>>,
    idle_bytes: usize,
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// Rounds large requests up to a size class (8 classes per power of two) so freed blocks get reused.
fn size_class(nbytes: usize) -> usize {
    let n = nbytes.max(1).div_ceil(ALIGN) * ALIGN;
    if n < CACHE_MIN {
        return n;
    }
    let p = usize::BITS - 1 - n.leading_zeros();
    let step = 1usize << (p.saturating_sub(3));
    n.div_ceil(step) * step
}

fn raw_alloc(cap: usize) -> Result<NonNull<u8>> {
    if cap >= CACHE_MIN {
        if let Ok(mut guard) = CACHE.lock() {
            if let Some(cache) = guard.as_mut() {
                if let Some(p) = cache.free.get_mut(&cap).and_then(|v| v.pop()) {
                    cache.idle_bytes -= cap;
                    return Ok(NonNull::new(p as *mut u8).expect("cached pointer is non-null"));
                }
            }
        }
    }
    let layout = AllocLayout::from_size_align(cap, align_for(cap))
        .map_err(|_| Error::OutOfMemory(format!("cannot allocate {} bytes", cap)))?;
    // SAFETY: layout has non-zero size (cap >= ALIGN).
    let p = unsafe { alloc::alloc(layout) };
    if cap >= HUGE_MIN && !p.is_null() {
        advise_huge(p, cap);
    }
    NonNull::new(p).ok_or_else(|| {
        Error::OutOfMemory(format!(
            "DefaultCPUAllocator: not enough memory: you tried to allocate {} bytes.",
            cap
        ))
    })
}

fn raw_free(p: NonNull<u8>, cap: usize) {
    if cap >= CACHE_MIN {
        if let Ok(mut guard) = CACHE.lock() {
            let cache = guard.get_or_insert_with(|| Cache {
                free: HashMap::new(),
                idle_bytes: 0,
            });
            if cache.idle_bytes + cap <= CACHE_LIMIT {
                cache.idle_bytes += cap;
                cache.free.entry(cap).or_default().push(p.as_ptr() as usize);
                return;
            }
        }
    }
    // SAFETY: p was allocated by raw_alloc with this exact capacity and alignment.
    unsafe {
        alloc::dealloc(
            p.as_ptr(),
            AllocLayout::from_size_align_unchecked(cap, align_for(cap)),
        )
    }
}

/// Returns every idle cached block to the OS.
pub fn empty_cache() {
    if let Ok(mut guard) = CACHE.lock() {
        if let Some(cache) = guard.as_mut() {
            for (cap, ptrs) in cache.free.drain() {
                for p in ptrs {
                    // SAFETY: cached blocks came from raw_alloc with capacity `cap`.
                    unsafe {
                        alloc::dealloc(
                            p as *mut u8,
                            AllocLayout::from_size_align_unchecked(cap, align_for(cap)),
                        )
                    }
                }
            }
            cache.idle_bytes = 0;
        }
    }
}

enum Owner {
    Owned { cap: usize },
    Borrowed(#[allow(dead_code)] Box<dyn Any + Send + Sync>),
}

pub struct Storage {
    ptr: NonNull<u8>,
    nbytes: usize,
    owner: Owner,
    device: Device,
    /// Bumped by every in-place write; autograd compares it with the version it saved.
    version: AtomicU64,
}

// SAFETY: the buffer is plain memory; concurrent writes are the caller's business, as in PyTorch.
unsafe impl Send for Storage {}
unsafe impl Sync for Storage {}

impl Storage {
    /// Uninitialised storage for `n` elements of `dtype`.
    pub fn uninit(n: usize, dtype: DType) -> Result<Storage> {
        let nbytes = byte_count(n, dtype)?;
        if nbytes > isize::MAX as usize / 2 {
            return Err(Error::OutOfMemory(format!(
                "DefaultCPUAllocator: not enough memory: you tried to allocate {} bytes.",
                nbytes
            )));
        }
        let cap = size_class(nbytes);
        Ok(Storage {
            ptr: raw_alloc(cap)?,
            nbytes,
            owner: Owner::Owned { cap },
            device: Device::Cpu,
            version: AtomicU64::new(0),
        })
    }

    /// Uninitialised storage on `device`.
    pub fn uninit_on(n: usize, dtype: DType, device: Device) -> Result<Storage> {
        match device {
            Device::Cpu => Storage::uninit(n, dtype),
            Device::Cuda(ordinal) => cuda_storage(ordinal, byte_count(n, dtype)?),
        }
    }

    /// Zeroed host storage (device tensors are zeroed by a fill kernel: `Tensor::zeros`).
    pub fn zeroed(n: usize, dtype: DType) -> Result<Storage> {
        let s = Storage::uninit(n, dtype)?;
        // SAFETY: the buffer holds nbytes writable bytes.
        unsafe { std::ptr::write_bytes(s.as_ptr(), 0, s.nbytes) };
        Ok(s)
    }

    pub fn from_vec<T: Elem>(v: &[T]) -> Result<Storage> {
        let s = Storage::uninit(v.len(), T::DTYPE)?;
        // SAFETY: sizes match; regions do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), s.as_ptr() as *mut T, v.len()) };
        Ok(s)
    }

    /// Wraps foreign memory; `owner` keeps it alive for as long as this storage lives.
    ///
    /// # Safety
    /// `ptr` must point to `nbytes` bytes valid (and suitably aligned) for as long as `owner` lives.
    pub unsafe fn borrowed(
        ptr: *mut u8,
        nbytes: usize,
        owner: Box<dyn Any + Send + Sync>,
    ) -> Storage {
        let ptr = NonNull::new(ptr).unwrap_or(NonNull::dangling());
        Storage {
            ptr,
            nbytes,
            owner: Owner::Borrowed(owner),
            device: Device::Cpu,
            version: AtomicU64::new(0),
        }
    }

    pub fn device(&self) -> Device {
        self.device
    }
    pub fn nbytes(&self) -> usize {
        self.nbytes
    }
    /// The buffer, for host code: device memory is addressable from the host, once the device's
    /// queued kernels have finished (waited for here).
    pub fn as_ptr(&self) -> *mut u8 {
        #[cfg(feature = "cuda")]
        if let Device::Cuda(ordinal) = self.device {
            crate::cuda::device::before_host_access(ordinal);
        }
        self.ptr.as_ptr()
    }
    /// The buffer, for kernels queued on its device (no wait).
    pub fn device_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }
    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: ptr is valid for nbytes bytes while self lives.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.nbytes) }
    }
}

/// Bytes of `n` elements of `dtype`, refusing an overflow.
fn byte_count(n: usize, dtype: DType) -> Result<usize> {
    n.checked_mul(dtype.size()).ok_or_else(|| {
        Error::OutOfMemory(format!(
            "cannot allocate {} elements of {}",
            n,
            dtype.name()
        ))
    })
}

/// A block from the GPU's caching allocator; it goes back there when the storage drops.
#[cfg(feature = "cuda")]
fn cuda_storage(ordinal: usize, nbytes: usize) -> Result<Storage> {
    let block = crate::cuda::device::gpu(ordinal)?.alloc(nbytes)?;
    let ptr = NonNull::new(block.ptr as *mut u8)
        .ok_or_else(|| Error::Runtime("CUDA allocator returned a null block".into()))?;
    Ok(Storage {
        ptr,
        nbytes,
        owner: Owner::Borrowed(Box::new(block)),
        device: Device::Cuda(ordinal),
        version: AtomicU64::new(0),
    })
}

#[cfg(not(feature = "cuda"))]
fn cuda_storage(_ordinal: usize, _nbytes: usize) -> Result<Storage> {
    Err(Error::Runtime(
        "Torch not compiled with CUDA enabled".into(),
    ))
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Owner::Owned { cap } = self.owner {
            raw_free(self.ptr, cap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn size_classes_round_up() {
        assert_eq!(size_class(1), 64);
        assert!(size_class(1_000_000) >= 1_000_000);
        assert!(size_class(1_000_000) < 1_150_000);
    }
    #[test]
    fn big_blocks_are_huge_page_aligned() {
        let a = Storage::uninit(3 << 20, DType::F32).unwrap();
        assert_eq!(a.as_ptr() as usize % HUGE_ALIGN, 0);
        let b = Storage::uninit(1000, DType::F32).unwrap();
        assert_eq!(b.as_ptr() as usize % ALIGN, 0);
    }
    #[test]
    fn freed_blocks_are_reused() {
        let a = Storage::uninit(1 << 20, DType::F32).unwrap();
        let p = a.as_ptr();
        drop(a);
        let b = Storage::uninit(1 << 20, DType::F32).unwrap();
        assert_eq!(p, b.as_ptr());
    }
}
