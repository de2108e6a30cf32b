//! Kernels for the emulated device: the CUDA C sources compiled as host C++ by the test harness
//! (tests/cuda_emulator), each module a shared library exporting
//! `int emu_launch(const char* kernel, unsigned grid, unsigned block, void** params)`, which runs
//! every CUDA thread of a block as a host thread, synchronously. Registered per module with
//! `register`; a module with no library registered runs on the host instead (see `cuda::ops`).

use crate::tensor::{Error, Result};
use libloading::{Library, Symbol};
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CString};
use std::sync::Mutex;

type Launch = unsafe extern "C" fn(*const c_char, u32, u32, *mut *mut c_void) -> i32;

static MODULES: Mutex<Option<HashMap<String, Library>>> = Mutex::new(None);

/// Loads the emulator build of kernel module `module` from `path`.
pub fn register(module: &str, path: &str) -> Result<()> {
    // SAFETY: the library is the harness's build of our kernel sources; loading it runs only the
    // C++ runtime's static initialisers.
    let lib = unsafe { Library::new(path) }
        .map_err(|e| Error::Runtime(format!("cannot load emulated module '{}': {}", path, e)))?;
    // SAFETY: only checks that the symbol exists.
    unsafe { lib.get::<Launch>(b"emu_launch") }
        .map_err(|e| Error::Runtime(format!("'{}' has no emu_launch: {}", path, e)))?;
    let mut m = MODULES
        .lock()
        .map_err(|_| Error::Runtime("poisoned".into()))?;
    m.get_or_insert_with(HashMap::new)
        .insert(module.to_string(), lib);
    Ok(())
}

pub fn has(module: &str) -> bool {
    MODULES
        .lock()
        .map(|m| m.as_ref().is_some_and(|m| m.contains_key(module)))
        .unwrap_or(false)
}

/// Runs `kernel` of `module` to completion.
///
/// # Safety
/// As for a CUDA launch: `params` must match the kernel's parameters and every pointer among them
/// must be valid for what the kernel reads and writes.
pub unsafe fn launch(
    module: &str,
    kernel: &str,
    grid: u32,
    block: u32,
    params: &mut [*mut c_void],
) -> Result<()> {
    let m = MODULES
        .lock()
        .map_err(|_| Error::Runtime("poisoned".into()))?;
    let Some(lib) = m.as_ref().and_then(|m| m.get(module)) else {
        crate::bail!(Runtime, "no emulated build of CUDA module '{}'", module);
    };
    let f: Symbol<Launch> = lib
        .get(b"emu_launch")
        .map_err(|e| Error::Runtime(e.to_string()))?;
    let name = CString::new(kernel).map_err(|_| Error::Value("kernel name contains NUL".into()))?;
    if f(name.as_ptr(), grid, block, params.as_mut_ptr()) != 0 {
        crate::bail!(
            Runtime,
            "no kernel '{}' in CUDA module '{}' (emulated)",
            kernel,
            module
        );
    }
    Ok(())
}
