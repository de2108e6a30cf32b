//! Finding the CUDA driver and its devices without requiring either: every entry point answers
//! "no devices" (with the reason) where the driver library is absent or fails to initialise.

use cudarc::driver::{result, sys};
use std::sync::OnceLock;

/// What the driver reported on first use, kept for the process.
#[derive(Clone, Debug)]
pub struct Probe {
    /// Device names, in ordinal order (empty without a driver or a GPU).
    pub devices: Vec<String>,
    /// Why there are no devices, when there are none.
    pub reason: Option<String>,
    /// The process that initialised the driver: a forked child must not use it.
    pub pid: u32,
    /// `FERROTORCH_EMULATE_CUDA=1`: one emulated device whose memory is host memory and which
    /// runs no kernels, so the device plumbing (placement, copies, same-device checks, the
    /// caching allocator) is testable on machines without a GPU.
    pub emulated: bool,
}

/// The name the emulated device reports.
pub const EMULATED_NAME: &str = "ferrotorch emulated CUDA device (host memory)";

static PROBE: OnceLock<Probe> = OnceLock::new();

fn run_probe() -> Probe {
    let pid = std::process::id();
    if std::env::var("FERROTORCH_EMULATE_CUDA").is_ok_and(|v| v == "1") {
        return Probe {
            devices: vec![EMULATED_NAME.into()],
            reason: None,
            pid,
            emulated: true,
        };
    }
    let no = |reason: String| Probe {
        devices: Vec::new(),
        reason: Some(reason),
        pid,
        emulated: false,
    };
    // SAFETY: only tries to dlopen the library by its usual names.
    if !unsafe { sys::is_culib_present() } {
        return no(
            "Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU \
                   and installed a driver from http://www.nvidia.com/Download/index.aspx"
                .into(),
        );
    }
    // cudarc panics on a symbol the installed driver lacks; keep that from escaping.
    let probed = std::panic::catch_unwind(|| -> Result<Vec<String>, String> {
        result::init().map_err(|e| format!("CUDA driver initialization failed: {:?}", e))?;
        let n = result::device::get_count().map_err(|e| format!("{:?}", e))?;
        (0..n)
            .map(|i| {
                let dev = result::device::get(i).map_err(|e| format!("{:?}", e))?;
                result::device::get_name(dev).map_err(|e| format!("{:?}", e))
            })
            .collect()
    });
    match probed {
        Ok(Ok(devices)) if !devices.is_empty() => Probe {
            devices,
            reason: None,
            pid,
            emulated: false,
        },
        Ok(Ok(_)) => no("No CUDA GPUs are available".into()),
        Ok(Err(e)) => no(e),
        Err(_) => no("the installed CUDA driver is older than CUDA 13.0".into()),
    }
}

/// Probes the driver once per process.
pub fn probe() -> &'static Probe {
    PROBE.get_or_init(run_probe)
}

/// True in a child forked after the parent initialised CUDA (PyTorch refuses CUDA there).
pub fn in_bad_fork() -> bool {
    PROBE.get().is_some_and(|p| p.pid != std::process::id())
}
