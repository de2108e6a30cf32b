//! The GPU caching allocator: freed blocks are kept by rounded size and handed out again, so a
//! training step allocates from the driver only on its first iteration (cuMemAlloc synchronises the
//! device and costs tens of microseconds). Sizes round like PyTorch's: 512 B below 1 MiB, 2 MiB above.
//! The backend is a trait so the bookkeeping is tested without a GPU.

use crate::tensor::{Error, Result};
use std::collections::{BTreeMap, HashMap};

/// Where blocks come from: the CUDA driver on a GPU, a counter in tests.
pub trait Backend {
    fn alloc(&mut self, bytes: usize) -> std::result::Result<u64, String>;
    fn free(&mut self, ptr: u64);
}

/// `torch.cuda.memory_allocated / max_memory_allocated / memory_reserved`, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub allocated: usize,
    pub peak_allocated: usize,
    pub reserved: usize,
}

pub struct CachingAllocator<B: Backend> {
    backend: B,
    /// Idle blocks by size.
    idle: BTreeMap<usize, Vec<u64>>,
    /// Blocks in use: pointer → size.
    live: HashMap<u64, usize>,
    stats: Stats,
}

const SMALL: usize = 1 << 20;

/// The block size a request of `bytes` gets.
pub fn round_size(bytes: usize) -> usize {
    let b = bytes.max(1);
    if b <= SMALL {
        b.div_ceil(512) * 512
    } else {
        b.div_ceil(2 << 20) * (2 << 20)
    }
}

fn mib(b: usize) -> f64 {
    b as f64 / (1 << 20) as f64
}

impl<B: Backend> CachingAllocator<B> {
    pub fn new(backend: B) -> Self {
        CachingAllocator {
            backend,
            idle: BTreeMap::new(),
            live: HashMap::new(),
            stats: Stats::default(),
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn reset_peak(&mut self) {
        self.stats.peak_allocated = self.stats.allocated;
    }

    /// A block of at least `bytes`: an idle one of the same rounded size, else a fresh one; when the
    /// device is full, every idle block is released and the request retried once (as PyTorch does).
    pub fn alloc(&mut self, bytes: usize) -> Result<u64> {
        let size = round_size(bytes);
        let reused = self.idle.get_mut(&size).and_then(|v| v.pop());
        let ptr = match reused {
            Some(p) => p,
            None => match self.backend.alloc(size) {
                Ok(p) => {
                    self.stats.reserved += size;
                    p
                }
                Err(_) => {
                    self.empty_cache();
                    let p = self.backend.alloc(size).map_err(|e| {
                        Error::OutOfMemory(format!(
                            "CUDA out of memory. Tried to allocate {:.2} MiB. {:.2} MiB is allocated by \
                             tensors and {:.2} MiB reserved in total by ferrotorch ({})",
                            mib(size),
                            mib(self.stats.allocated),
                            mib(self.stats.reserved),
                            e
                        ))
                    })?;
                    self.stats.reserved += size;
                    p
                }
            },
        };
        self.live.insert(ptr, size);
        self.stats.allocated += size;
        self.stats.peak_allocated = self.stats.peak_allocated.max(self.stats.allocated);
        Ok(ptr)
    }

    /// Returns a block to the cache; a pointer this allocator did not hand out is an error.
    pub fn free(&mut self, ptr: u64) -> Result<()> {
        let size = self.live.remove(&ptr).ok_or_else(|| {
            Error::Runtime(format!(
                "CUDA caching allocator: {:#x} was not allocated here",
                ptr
            ))
        })?;
        self.stats.allocated -= size;
        self.idle.entry(size).or_default().push(ptr);
        Ok(())
    }

    /// Gives every idle block back to the driver (`torch.cuda.empty_cache`).
    pub fn empty_cache(&mut self) {
        for (size, ptrs) in std::mem::take(&mut self.idle) {
            for p in ptrs {
                self.backend.free(p);
                self.stats.reserved -= size;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake device with `capacity` bytes.
    struct Fake {
        next: u64,
        used: usize,
        capacity: usize,
        sizes: HashMap<u64, usize>,
    }

    impl Backend for Fake {
        fn alloc(&mut self, bytes: usize) -> std::result::Result<u64, String> {
            if self.used + bytes > self.capacity {
                return Err("out of memory".into());
            }
            self.next += 1 << 32;
            self.used += bytes;
            self.sizes.insert(self.next, bytes);
            Ok(self.next)
        }
        fn free(&mut self, ptr: u64) {
            self.used -= self.sizes.remove(&ptr).unwrap();
        }
    }

    fn fake(capacity: usize) -> CachingAllocator<Fake> {
        CachingAllocator::new(Fake {
            next: 0,
            used: 0,
            capacity,
            sizes: HashMap::new(),
        })
    }

    #[test]
    fn sizes_round_like_pytorch() {
        assert_eq!(round_size(0), 512);
        assert_eq!(round_size(513), 1024);
        assert_eq!(round_size(1 << 20), 1 << 20);
        assert_eq!(round_size((1 << 20) + 1), 2 << 20);
        assert_eq!(round_size(5 << 20), 6 << 20);
    }

    #[test]
    fn freed_blocks_are_reused_and_counted() {
        let mut a = fake(1 << 30);
        let p = a.alloc(1000).unwrap();
        assert_eq!(
            a.stats(),
            Stats {
                allocated: 1024,
                peak_allocated: 1024,
                reserved: 1024
            }
        );
        a.free(p).unwrap();
        assert_eq!(a.stats().allocated, 0);
        assert_eq!(a.stats().reserved, 1024);
        assert_eq!(a.alloc(700).unwrap(), p); // same size class: the cached block
        let q = a.alloc(3000).unwrap();
        assert_ne!(q, p);
        assert_eq!(a.stats().peak_allocated, 1024 + 3072);
        a.free(q).unwrap();
        a.reset_peak();
        assert_eq!(a.stats().peak_allocated, 1024);
    }

    #[test]
    fn empty_cache_returns_idle_blocks_only() {
        let mut a = fake(1 << 30);
        let p = a.alloc(4 << 20).unwrap();
        let q = a.alloc(4 << 20).unwrap();
        a.free(p).unwrap();
        a.empty_cache();
        assert_eq!(a.stats().reserved, 4 << 20);
        assert_eq!(a.backend.used, 4 << 20);
        a.free(q).unwrap();
        assert!(a.free(q).is_err()); // double free is an error, not corruption
    }

    #[test]
    fn out_of_memory_releases_the_cache_then_reports() {
        let mut a = fake(8 << 20);
        let p = a.alloc(6 << 20).unwrap();
        a.free(p).unwrap(); // 6 MiB idle in the cache
        let q = a.alloc(4 << 20).unwrap(); // needs the cache released first
        assert_eq!(a.stats().reserved, 4 << 20);
        let e = a.alloc(6 << 20).unwrap_err().to_string();
        assert!(
            e.starts_with("CUDA out of memory. Tried to allocate 6.00 MiB"),
            "{}",
            e
        );
        a.free(q).unwrap();
    }
}
