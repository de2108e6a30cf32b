//! Vectorisable math for the hot elementwise kernels: a branch-free polynomial `exp` for f32
//! (Sleef-style, within ~1 ulp of the correctly rounded result; libm's `expf` is a scalar call per
//! element), and `map1_simd`, whose contiguous loop is compiled for AVX-512 / AVX2+FMA as well as the
//! baseline and picks the widest the CPU has at run time.

use super::iter::{map1, PAR_THRESHOLD};
use crate::tensor::{Elem, Tensor};
use rayon::prelude::*;

/// Math whose fast form differs per float type.
pub trait VFloat: Copy {
    /// `e^x`: polynomial for f32, libm for f64.
    fn vexp(self) -> Self;
    /// `vexp` with fused multiply-adds: only for code compiled with FMA enabled (the `fused`
    /// closure of `map1_simd_fused`), elsewhere each one is a slow libm `fmaf` call.
    fn vexp_fused(self) -> Self;
}

impl VFloat for f32 {
    #[inline(always)]
    fn vexp(self) -> f32 {
        exp_f32_impl::<false>(self)
    }
    #[inline(always)]
    fn vexp_fused(self) -> f32 {
        exp_f32_impl::<true>(self)
    }
}

impl VFloat for f64 {
    #[inline(always)]
    fn vexp(self) -> f64 {
        self.exp()
    }
    #[inline(always)]
    fn vexp_fused(self) -> f64 {
        self.exp()
    }
}

/// `e^x` for f32 (see `exp_f32_impl`), without fused multiply-adds: right on every target.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    exp_f32_impl::<false>(x)
}

#[inline(always)]
fn mla<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `e^x` for f32 without branches or table lookups, so loops over it vectorise.
///
/// Cody–Waite reduction x = q·ln2 + s (|s| ≤ ln2/2), a degree-7 polynomial for e^s (Sleef's
/// `expf_u10` coefficients) and the scale 2^q applied as two factors, so subnormal results come out
/// right. Overflows to +inf above ~88.72, underflows to 0 below ~-103.97, NaN stays NaN.
#[inline(always)]
fn exp_f32_impl<const FMA: bool>(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const L2U: f32 = 0.693_145_75; // 0.693145751953125, exact in few bits
    const L2L: f32 = 1.428_606_8e-6;
    // 1.5·2^23: adding it rounds to an integer that sits in the low mantissa bits
    const MAGIC: f32 = 12_582_912.0;
    // clamp keeps NaN as NaN, and it stays NaN to the end
    let xc = x.clamp(-104.0, 89.0);
    let t = mla::<FMA>(xc, LOG2E, MAGIC);
    let q = t - MAGIC;
    let qi = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let s = mla::<FMA>(q, -L2U, xc);
    let s = mla::<FMA>(q, -L2L, s);
    let mut u = 1.985_276_2e-4f32;
    u = mla::<FMA>(u, s, 1.393_043_6e-3);
    u = mla::<FMA>(u, s, 8.333_361e-3);
    u = mla::<FMA>(u, s, 4.166_648_5e-2);
    u = mla::<FMA>(u, s, 0.166_666_67);
    u = mla::<FMA>(u, s, 0.5);
    let u = mla::<FMA>(s * s, u, s + 1.0);
    // 2^q as 2^(q/2) · 2^(q - q/2): each factor is a normal float for q in [-150, 128]
    let e1 = qi >> 1;
    let e2 = qi.wrapping_sub(e1);
    let p1 = f32::from_bits((e1.wrapping_add(127) as u32).wrapping_shl(23));
    let p2 = f32::from_bits((e2.wrapping_add(127) as u32).wrapping_shl(23));
    u * p1 * p2
}

#[inline(always)]
unsafe fn body1<A: Elem, O: Elem, F: Fn(A) -> O>(po: *mut O, pa: *const A, len: usize, f: &F) {
    if std::ptr::addr_eq(po, pa) && std::mem::size_of::<A>() == std::mem::size_of::<O>() {
        // in place: one base pointer, no overlap for the vectoriser to check
        for i in 0..len {
            *po.add(i) = f(*(po.add(i) as *const A));
        }
    } else {
        for i in 0..len {
            *po.add(i) = f(*pa.add(i));
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma,bmi2")]
unsafe fn body1_v4<A: Elem, O: Elem, F: Fn(A) -> O>(po: *mut O, pa: *const A, len: usize, f: &F) {
    body1(po, pa, len, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi2")]
unsafe fn body1_v3<A: Elem, O: Elem, F: Fn(A) -> O>(po: *mut O, pa: *const A, len: usize, f: &F) {
    body1(po, pa, len, f)
}

/// Which instruction set the multiversioned loops use: 4 = AVX-512, 3 = AVX2+FMA, 0 = baseline.
/// `FERROTORCH_SIMD=0|3|4` caps it (for comparisons and tests).
pub fn simd_level() -> u8 {
    static LEVEL: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = std::env::var("FERROTORCH_SIMD")
            .ok()
            .and_then(|v| v.parse::<u8>().ok())
            .unwrap_or(4);
        detect_simd_level().min(cap)
    })
}

fn detect_simd_level() -> u8 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("bmi2")
        {
            return 4;
        }
        if std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("bmi2")
        {
            return 3;
        }
    }
    0
}

/// # Safety
/// `po` and `pa` must address `len` elements; `po` may equal `pa` but not overlap it otherwise.
/// `ff` runs in the AVX2+FMA / AVX-512 builds, `f` in the baseline one.
unsafe fn contig1<A: Elem, O: Elem, F: Fn(A) -> O, G: Fn(A) -> O>(
    po: *mut O,
    pa: *const A,
    len: usize,
    f: &F,
    ff: &G,
) {
    #[cfg(target_arch = "x86_64")]
    {
        match simd_level() {
            4 => return body1_v4(po, pa, len, ff),
            3 => return body1_v3(po, pa, len, ff),
            _ => {}
        }
    }
    let _ = ff;
    body1(po, pa, len, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma,bmi2")]
unsafe fn call_v4<R, F: FnOnce() -> R>(f: F) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi2")]
unsafe fn call_v3<R, F: FnOnce() -> R>(f: F) -> R {
    f()
}

/// Runs `f` compiled for the widest SIMD the CPU has: `f` (and what it calls `#[inline(always)]`)
/// is inlined into a copy of this function built for AVX-512, one for AVX2+FMA, and the baseline.
/// For loops whose speed depends on the vector width (reductions converting f32 to f64, say);
/// `f` must not use `mul_add` (see `VFloat::vexp_fused`).
#[inline(always)]
pub fn simd_call<R, F: FnOnce() -> R>(f: F) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        match simd_level() {
            // SAFETY: simd_level() checked that the CPU has these features.
            4 => return unsafe { call_v4(f) },
            3 => return unsafe { call_v3(f) },
            _ => {}
        }
    }
    f()
}

/// Calls `run(lo, hi)` over `[0, n)`, split across threads above `PAR_THRESHOLD`.
pub fn par_ranges(n: usize, run: impl Fn(usize, usize) + Sync) {
    let threads = if n < PAR_THRESHOLD {
        1
    } else {
        super::threads::get_num_threads()
    };
    if threads <= 1 {
        run(0, n);
        return;
    }
    let chunks = (threads * 4).min(n / (PAR_THRESHOLD / 4)).max(1);
    // chunk boundaries on 64-element multiples keep every chunk's stores cache-line aligned
    let chunk = n.div_ceil(chunks).div_ceil(64) * 64;
    (0..n.div_ceil(chunk))
        .into_par_iter()
        .for_each(|c| run(c * chunk, ((c + 1) * chunk).min(n)));
}

/// `map1` whose contiguous case (same shape, both contiguous, `out` equal to or disjoint from `a`)
/// runs a loop compiled for the widest SIMD the CPU has; other layouts go through `map1`.
pub fn map1_simd<A: Elem, O: Elem, F: Fn(A) -> O + Sync>(out: &Tensor, a: &Tensor, f: F) {
    map1_simd_fused(out, a, &f, &f)
}

/// `map1_simd` with a second form of `f` for the builds with FMA (where `mul_add` is one
/// instruction); it must compute the same function.
pub fn map1_simd_fused<A: Elem, O: Elem, F: Fn(A) -> O + Sync, G: Fn(A) -> O + Sync>(
    out: &Tensor,
    a: &Tensor,
    f: F,
    ff: G,
) {
    let n = out.numel();
    if n == 0 || !out.is_contiguous() || !a.is_contiguous() || out.shape() != a.shape() {
        return map1(out, a, f);
    }
    let (po, pa) = (out.data_ptr() as usize, a.data_ptr() as usize);
    let same = po == pa;
    let (ob, ab) = (n * std::mem::size_of::<O>(), n * std::mem::size_of::<A>());
    if !same && po < pa + ab && pa < po + ob {
        // partial overlap: the strided path copes with it element by element
        return map1(out, a, f);
    }
    par_ranges(n, |lo, hi| {
        // SAFETY: [lo, hi) lies inside both contiguous buffers; chunks are disjoint.
        unsafe {
            contig1(
                (po as *mut O).add(lo),
                (pa as *const A).add(lo),
                hi - lo,
                &f,
                &ff,
            )
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite f32 of the same sign.
    fn ulps(a: f32, b: f64) -> f64 {
        let r = b as f32; // correctly rounded reference (f64 exp is accurate to < 1 ulp of f64)
        if a == r {
            return 0.0;
        }
        let ulp = if r == 0.0 || r.is_subnormal() {
            f32::from_bits(1) as f64
        } else {
            let e = r.abs().to_bits() & 0x7f80_0000;
            (f32::from_bits(e) as f64) * f32::EPSILON as f64
        };
        (a as f64 - b).abs() / ulp
    }

    #[test]
    fn exp_f32_is_within_two_ulps_everywhere() {
        // every 97th float bit pattern from -110 to 90, plus the edges
        let mut worst = 0f64;
        let mut bits = 0u32;
        while bits < u32::MAX - 97 {
            let x = f32::from_bits(bits);
            bits += 97;
            if !x.is_finite() || !(-110.0..=90.0).contains(&x) {
                continue;
            }
            let want = (x as f64).exp();
            // the plain form and the fused one (here `mul_add` is a libm call, same values)
            for got in [exp_f32(x), x.vexp_fused()] {
                if want > f32::MAX as f64 {
                    assert_eq!(got, f32::INFINITY, "exp({x})");
                    continue;
                }
                let u = ulps(got, want);
                assert!(u <= 2.0, "exp({x}) = {got}, want {want} ({u} ulp)");
                worst = worst.max(u);
            }
        }
        assert!(worst <= 2.0);
    }

    #[test]
    fn exp_f32_special_values() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-0.0), 1.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        assert!(exp_f32(-f32::NAN).is_nan());
        assert_eq!(exp_f32(88.8), f32::INFINITY);
        assert_eq!(exp_f32(1000.0), f32::INFINITY);
        assert_eq!(exp_f32(-1000.0), 0.0);
        assert_eq!(exp_f32(-104.5), 0.0);
        assert!(exp_f32(-100.0) > 0.0 && exp_f32(-100.0).is_subnormal());
        assert_eq!(exp_f32(1e-30), 1.0);
        assert_eq!(exp_f32(f32::from_bits(1)), 1.0);
        assert!((exp_f32(1.0) - std::f32::consts::E).abs() <= f32::EPSILON * 3.0);
        assert!(ulps(exp_f32(88.72), (88.72f32 as f64).exp()) <= 2.0);
    }

    #[test]
    fn map1_simd_matches_scalar_in_place_and_not() {
        for n in [0usize, 1, 7, 15, 16, 17, 63, 1000, 70_001] {
            let v: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 30.0).collect();
            let a = Tensor::from_vec(&v, &[n]).unwrap();
            let out =
                Tensor::empty(&[n], crate::tensor::DType::F32, crate::tensor::Device::Cpu).unwrap();
            map1_simd::<f32, f32, _>(&out, &a, |x| x * 2.0 + 1.0);
            let want: Vec<f32> = v.iter().map(|x| x * 2.0 + 1.0).collect();
            assert_eq!(out.to_vec::<f32>(), want);
            map1_simd::<f32, f32, _>(&a, &a, |x| x * 2.0 + 1.0);
            assert_eq!(a.to_vec::<f32>(), want);
        }
    }
}
