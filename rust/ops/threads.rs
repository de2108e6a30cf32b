//! Thread-pool control: `torch.set_num_threads`, and fork safety. rayon's global pool does not
//! survive fork() (rayon#708), so a forked child (a DataLoader worker) runs every kernel on its
//! own thread instead of waiting forever on pool threads that no longer exist.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::OnceLock;

static PARENT_PID: AtomicU32 = AtomicU32::new(0);
static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);
static POOL: OnceLock<()> = OnceLock::new();

fn init() {
    POOL.get_or_init(|| {
        PARENT_PID.store(std::process::id(), Ordering::Relaxed);
        // sized for the larger of the machine and a count asked for before the first kernel, so
        // a later set_num_threads can raise the count again (PyTorch allows 1 then 2)
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = NUM_THREADS.load(Ordering::Relaxed).max(cpus);
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    });
}

/// True in a process forked after the pool started: the pool's threads are not there.
pub fn in_forked_child() -> bool {
    init();
    PARENT_PID.load(Ordering::Relaxed) != std::process::id()
}

pub fn get_num_threads() -> usize {
    init();
    let requested = NUM_THREADS.load(Ordering::Relaxed);
    if in_forked_child() {
        1
    } else if requested > 0 {
        requested.min(rayon::current_num_threads())
    } else {
        rayon::current_num_threads()
    }
}

/// Sets the thread count. rayon's global pool is fixed once built, so the count caps how many
/// chunks kernels split work into (1 keeps every kernel on the calling thread).
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n.max(1), Ordering::Relaxed);
    init();
}
