//! Run-time compilation of the kernel sources with NVRTC, straight to CUBIN for the device's
//! architecture (no PTX JIT, so no "PTX was compiled with an unsupported toolchain" failures),
//! cached on disk under a key of source hash, architecture and NVRTC version: a second process
//! loads the CUBIN instead of recompiling.

use super::kernels;
use crate::tensor::{Error, Result};
use cudarc::nvrtc::sys;
use std::ffi::{c_char, CString};
use std::path::PathBuf;

/// Options every kernel is compiled with (part of the cache key).
const OPTIONS: &[&str] = &["--std=c++17", "--extra-device-vectorization"];

/// A compiled kernel module.
pub struct Cubin {
    pub bytes: Vec<u8>,
    /// True when it was read from the disk cache rather than compiled.
    pub from_cache: bool,
}

/// True when the NVRTC library can be loaded (it need not come with a GPU).
pub fn is_available() -> bool {
    // SAFETY: only tries to dlopen the library by its usual names.
    unsafe { sys::is_culib_present() }
}

fn nvrtc_err(what: &str, r: sys::nvrtcResult) -> Error {
    Error::Runtime(format!("NVRTC {} failed: {:?}", what, r))
}

fn check(what: &str, r: sys::nvrtcResult) -> Result<()> {
    if r == sys::nvrtcResult::NVRTC_SUCCESS {
        Ok(())
    } else {
        Err(nvrtc_err(what, r))
    }
}

fn require() -> Result<()> {
    if is_available() {
        Ok(())
    } else {
        Err(Error::Runtime(
            "NVRTC (libnvrtc.so) was not found: install the nvidia-cuda-nvrtc package or a CUDA toolkit"
                .into(),
        ))
    }
}

/// NVRTC's (major, minor) version.
pub fn version() -> Result<(i32, i32)> {
    require()?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: both pointers are valid for writes.
    check("version", unsafe {
        sys::nvrtcVersion(&mut major, &mut minor)
    })?;
    Ok((major, minor))
}

/// Where compiled modules are kept: $FERROTORCH_KERNEL_CACHE, else $XDG_CACHE_HOME/ferrotorch/kernels,
/// else ~/.cache/ferrotorch/kernels.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("FERROTORCH_KERNEL_CACHE") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("ferrotorch").join("kernels")
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a_step(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// FNV-1a over the parts (a hash that stays the same across Rust releases; std's does not
/// promise to), with a 0xff byte between parts so ("ab","c") and ("a","bc") differ.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .fold(FNV_OFFSET, |h, p| fnv1a_step(fnv1a_step(h, p), &[0xff]))
}

fn check_arch(arch: &str) -> Result<()> {
    let ok = arch
        .strip_prefix("sm_")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok {
        Ok(())
    } else {
        Err(Error::Value(format!(
            "expected a CUDA architecture like 'sm_90', got '{}'",
            arch
        )))
    }
}

/// Compiles the kernel module `module` (a name from `kernels::SOURCES`) for `arch` ("sm_90").
pub fn compile(module: &str, arch: &str) -> Result<Cubin> {
    let src = kernels::full_source(module).ok_or_else(|| {
        Error::Value(format!(
            "no CUDA kernel module named '{}' (have: {})",
            module,
            kernels::SOURCES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    compile_source(module, &src, arch)
}

/// Compiles a complete CUDA C translation unit, through the disk cache.
pub fn compile_source(name: &str, src: &str, arch: &str) -> Result<Cubin> {
    check_arch(arch)?;
    let (major, minor) = version()?;
    let ver = format!("{}.{}", major, minor);
    let opts = OPTIONS.join(" ");
    let key = fnv1a(&[
        src.as_bytes(),
        arch.as_bytes(),
        ver.as_bytes(),
        opts.as_bytes(),
    ]);
    let path = cache_dir().join(format!("{}-{}-nvrtc{}-{:016x}.cubin", name, arch, ver, key));
    if let Ok(bytes) = std::fs::read(&path) {
        if is_elf(&bytes) {
            return Ok(Cubin {
                bytes,
                from_cache: true,
            });
        }
    }
    let bytes = compile_uncached(name, src, arch)?;
    store(&path, &bytes);
    Ok(Cubin {
        bytes,
        from_cache: false,
    })
}

/// Writes a cache entry atomically (temp file + rename); a cache that cannot be written is skipped.
fn store(path: &std::path::Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The program's log (compiler errors and warnings).
fn program_log(prog: sys::nvrtcProgram) -> String {
    let mut size = 0usize;
    // SAFETY: prog is a live program; the buffer is `size` bytes long.
    unsafe {
        if sys::nvrtcGetProgramLogSize(prog, &mut size) != sys::nvrtcResult::NVRTC_SUCCESS {
            return String::new();
        }
        let mut buf = vec![0u8; size.max(1)];
        if sys::nvrtcGetProgramLog(prog, buf.as_mut_ptr() as *mut c_char)
            != sys::nvrtcResult::NVRTC_SUCCESS
        {
            return String::new();
        }
        String::from_utf8_lossy(&buf)
            .trim_end_matches('\0')
            .trim()
            .to_string()
    }
}

fn compile_uncached(name: &str, src: &str, arch: &str) -> Result<Vec<u8>> {
    let c_src = CString::new(src).map_err(|_| Error::Value("kernel source contains NUL".into()))?;
    let c_name = CString::new(format!("{}.cu", name))
        .map_err(|_| Error::Value("kernel name contains NUL".into()))?;
    let mut owned: Vec<CString> = OPTIONS
        .iter()
        .map(|o| CString::new(*o).expect("static option"))
        .collect();
    owned.push(CString::new(format!("--gpu-architecture={}", arch)).expect("checked arch"));
    let opt_ptrs: Vec<*const c_char> = owned.iter().map(|o| o.as_ptr()).collect();

    let mut prog: sys::nvrtcProgram = std::ptr::null_mut();
    // SAFETY: the strings outlive the calls; prog is destroyed on every path below.
    unsafe {
        check(
            "nvrtcCreateProgram",
            sys::nvrtcCreateProgram(
                &mut prog,
                c_src.as_ptr(),
                c_name.as_ptr(),
                0,
                std::ptr::null(),
                std::ptr::null(),
            ),
        )?;
        let r = sys::nvrtcCompileProgram(prog, opt_ptrs.len() as i32, opt_ptrs.as_ptr());
        let out = if r != sys::nvrtcResult::NVRTC_SUCCESS {
            Err(Error::Runtime(format!(
                "NVRTC could not compile CUDA kernel module '{}' for {}:\n{}",
                name,
                arch,
                program_log(prog)
            )))
        } else {
            let mut size = 0usize;
            check("nvrtcGetCUBINSize", sys::nvrtcGetCUBINSize(prog, &mut size)).and_then(|_| {
                let mut bytes = vec![0u8; size];
                check(
                    "nvrtcGetCUBIN",
                    sys::nvrtcGetCUBIN(prog, bytes.as_mut_ptr() as *mut c_char),
                )
                .map(|_| bytes)
            })
        };
        sys::nvrtcDestroyProgram(&mut prog);
        out
    }
}

fn is_elf(b: &[u8]) -> bool {
    b.len() > 64 && b[..4] == *b"\x7fELF" && b[4] == 2 && b[5] == 1
}

fn rd<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}
fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    rd::<2>(b, at).map(|x| u16::from_le_bytes(x) as usize)
}
fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    rd::<4>(b, at).map(|x| u32::from_le_bytes(x) as usize)
}
fn u64_at(b: &[u8], at: usize) -> Option<usize> {
    rd::<8>(b, at).map(|x| u64::from_le_bytes(x) as usize)
}

/// The global function symbols of a CUBIN (64-bit little-endian ELF): the kernels it holds.
/// Returns None for bytes that are not a well-formed ELF.
pub fn cubin_functions(b: &[u8]) -> Option<Vec<String>> {
    if !is_elf(b) {
        return None;
    }
    let shoff = u64_at(b, 0x28)?;
    let shentsize = u16_at(b, 0x3a)?;
    let shnum = u16_at(b, 0x3c)?;
    let section = |i: usize| -> Option<(usize, usize, usize, usize, usize)> {
        let h = shoff.checked_add(i.checked_mul(shentsize)?)?;
        // (type, offset, size, link, entsize)
        Some((
            u32_at(b, h + 4)?,
            u64_at(b, h + 0x18)?,
            u64_at(b, h + 0x20)?,
            u32_at(b, h + 0x28)?,
            u64_at(b, h + 0x38)?,
        ))
    };
    const SHT_SYMTAB: usize = 2;
    const STT_FUNC: u8 = 2;
    const STB_GLOBAL: u8 = 1;
    let mut names = Vec::new();
    for i in 0..shnum {
        let (ty, off, size, link, entsize) = section(i)?;
        if ty != SHT_SYMTAB || entsize < 24 {
            continue;
        }
        let (_, stroff, strsize, _, _) = section(link)?;
        let strtab = b.get(stroff..stroff.checked_add(strsize)?)?;
        for s in 0..size / entsize {
            let e = off + s * entsize;
            let name_off = u32_at(b, e)?;
            let info = *b.get(e + 4)?;
            if info & 0xf == STT_FUNC && info >> 4 == STB_GLOBAL {
                let tail = strtab.get(name_off..)?;
                let end = tail.iter().position(|&c| c == 0)?;
                names.push(String::from_utf8_lossy(&tail[..end]).into_owned());
            }
        }
    }
    names.sort();
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_are_stable() {
        // The published FNV-1a 64-bit test vectors: a changed hash would orphan every cache.
        assert_eq!(fnv1a_step(FNV_OFFSET, b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a_step(FNV_OFFSET, b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a_step(FNV_OFFSET, b"foobar"), 0x85944171f73967e8);
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
    }

    #[test]
    fn bad_arch_and_garbage_cubins_are_refused() {
        assert!(check_arch("sm_90").is_ok());
        assert!(check_arch("compute_90").is_err());
        assert!(check_arch("sm_9 0").is_err());
        assert_eq!(cubin_functions(b"not an elf"), None);
        let mut fake = vec![0u8; 80];
        fake[..6].copy_from_slice(b"\x7fELF\x02\x01");
        fake[0x28] = 0xff; // section headers past the end
        fake[0x3c] = 1;
        assert_eq!(cubin_functions(&fake), None);
    }
}
