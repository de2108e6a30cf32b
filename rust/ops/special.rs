//! Special functions of one float, computed in f64: erf and erfc (W. J. Cody), erfinv, lgamma
//! (musl's), digamma and polygamma (via the Hurwitz zeta function, as Cephes and PyTorch do).
//! The CUDA kernels (unary.cu) use the device's own erf/erfc/erfinv/lgamma and the same digamma
//! and zeta algorithms.

use std::f64::consts::PI;

/// erf for any float, via f64 (libm quality).
#[inline(always)]
pub fn erf<F: num_traits::Float>(x: F) -> F {
    F::from(erf_f64(x.to_f64().unwrap_or(0.0))).unwrap_or(F::zero())
}

/// Abramowitz–Stegun 7.1.26 is too coarse for gradchecks; this is W. J. Cody's rational approximation
/// as used by many libms (max rel. error ~1e-16).
#[allow(clippy::excessive_precision)] // the published coefficients, digit for digit
pub fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    let r = if ax < 0.5 {
        let t = x * x;
        let p = [
            3.209_377_589_138_469_4e3,
            3.774_852_376_853_020_2e2,
            1.138_641_541_510_501_6e2,
            3.161_123_743_870_565_6,
            1.857_777_061_846_031_5e-1,
        ];
        let q = [
            2.844_236_833_439_170_6e3,
            1.282_616_526_077_372_3e3,
            2.440_246_379_344_441_7e2,
            2.360_129_095_234_412_1e1,
            1.0,
        ];
        let num = (((p[4] * t + p[3]) * t + p[2]) * t + p[1]) * t + p[0];
        let den = (((q[4] * t + q[3]) * t + q[2]) * t + q[1]) * t + q[0];
        return x * num / den;
    } else {
        1.0 - erfc_tail(ax)
    };
    if x < 0.0 {
        -r
    } else {
        r
    }
}

/// erfc(ax) for ax >= 0.5: Cody's rational approximations of exp(ax²)·erfc(ax), without the
/// cancellation of 1 - erf.
#[allow(clippy::excessive_precision)] // the published coefficients, digit for digit
fn erfc_tail(ax: f64) -> f64 {
    if ax < 4.0 {
        let p = [
            1.230_339_354_797_997_2e3,
            2.051_078_377_826_071_6e3,
            1.712_047_612_634_070_7e3,
            8.819_522_212_417_690_9e2,
            2.986_351_381_974_001_3e2,
            6.611_919_063_714_163e1,
            8.883_149_794_388_375_9,
            5.641_884_969_886_700_9e-1,
            2.153_115_354_744_038_3e-8,
        ];
        let q = [
            1.230_339_354_803_749_4e3,
            3.439_367_674_143_721_6e3,
            4.362_619_090_143_247e3,
            3.290_799_235_733_459_7e3,
            1.621_389_574_566_690_3e3,
            5.371_811_018_620_098_6e2,
            1.176_939_508_913_125e2,
            1.574_492_611_070_983_5e1,
            1.0,
        ];
        let mut num = p[8];
        let mut den = q[8];
        for i in (0..8).rev() {
            num = num * ax + p[i];
            den = den * ax + q[i];
        }
        (-ax * ax).exp() * num / den
    } else {
        let z = 1.0 / (ax * ax);
        let p = [
            -6.587_491_615_298_378_6e-4,
            -1.608_378_514_874_227_5e-2,
            -1.257_817_261_112_292_6e-1,
            -3.603_448_999_498_044_4e-1,
            -3.053_266_349_612_323_4e-1,
            -1.631_538_713_730_709_6e-2,
        ];
        let q = [
            2.335_204_976_268_691_8e-3,
            6.051_834_131_244_131_9e-2,
            5.279_051_029_514_284_1e-1,
            1.872_952_849_923_460_4,
            2.568_520_192_289_822_4,
            1.0,
        ];
        let mut num = p[5];
        let mut den = q[5];
        for i in (0..5).rev() {
            num = num * z + p[i];
            den = den * z + q[i];
        }
        let frac = z * num / den;
        (-ax * ax).exp() / ax * (0.564_189_583_547_756_3 + frac)
    }
}

/// erfc for any float, via f64.
#[inline(always)]
pub fn erfc<F: num_traits::Float>(x: F) -> F {
    F::from(erfc_f64(x.to_f64().unwrap_or(0.0))).unwrap_or(F::zero())
}

pub fn erfc_f64(x: f64) -> f64 {
    if x.is_nan() {
        x
    } else if x.abs() < 0.5 {
        1.0 - erf_f64(x)
    } else if x > 0.0 {
        erfc_tail(x)
    } else {
        2.0 - erfc_tail(-x)
    }
}

/// The inverse of erf on (-1, 1): Giles' approximation refined by two Newton steps (whose residual
/// is taken through erfc in the tails, where erf(x) - y would cancel); ±1 give ±inf, beyond is NaN.
#[allow(clippy::excessive_precision)]
pub fn erfinv_f64(y: f64) -> f64 {
    if y.is_nan() || y.abs() > 1.0 {
        return f64::NAN;
    }
    if y.abs() == 1.0 {
        return y * f64::INFINITY;
    }
    let (s, a) = (y.signum(), y.abs());
    let mut w = -(-a * a).ln_1p();
    let p = if w < 5.0 {
        w -= 2.5;
        [
            2.81022636e-08,
            3.43273939e-07,
            -3.5233877e-06,
            -4.39150654e-06,
            0.00021858087,
            -0.00125372503,
            -0.00417768164,
            0.246640727,
            1.50140941,
        ]
        .iter()
        .fold(0.0, |p, c| c + p * w)
    } else {
        w = w.sqrt() - 3.0;
        [
            -0.000200214257,
            0.000100950558,
            0.00134934322,
            -0.00367342844,
            0.00573950773,
            -0.0076224613,
            0.00943887047,
            1.00167406,
            2.83297682,
        ]
        .iter()
        .fold(0.0, |p, c| c + p * w)
    };
    let mut x = p * a;
    for _ in 0..2 {
        // erf(x) - a, through erfc where a is near 1
        let r = if a > 0.5 {
            (1.0 - a) - erfc_f64(x)
        } else {
            erf_f64(x) - a
        };
        x -= r / (std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp());
    }
    s * x
}

/// ln|Γ(x)| (musl's lgamma, through the libm crate): exact at 1 and 2, +inf at the poles.
pub fn lgamma_f64(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ψ(x) = Γ'(x)/Γ(x): the recurrence up to x >= 10, then the asymptotic series; reflection for
/// x < 0. ψ(±0) = ∓inf and the negative integers give NaN, as in PyTorch.
pub fn digamma_f64(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::INFINITY.copysign(-x);
    }
    if x < 0.0 {
        if x == x.floor() {
            return f64::NAN;
        }
        return digamma_f64(1.0 - x) - PI / (PI * x).tan();
    }
    let (mut x, mut r) = (x, 0.0);
    while x < 10.0 {
        r -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    // 1/12 f - 1/120 f² + 1/252 f³ - 1/240 f⁴ + 1/132 f⁵ - 691/32760 f⁶ + 1/12 f⁷ (f = 1/x²)
    let series = [
        1.0 / 12.0,
        -1.0 / 120.0,
        1.0 / 252.0,
        -1.0 / 240.0,
        1.0 / 132.0,
        -691.0 / 32760.0,
        1.0 / 12.0,
    ]
    .iter()
    .rev()
    .fold(0.0, |acc, c| (acc + c) * f);
    r + x.ln() - 0.5 / x - series
}

/// The Hurwitz zeta function ζ(x, q) = Σₖ (k + q)^-x for x > 1 (Cephes' Euler–Maclaurin sum).
#[allow(clippy::excessive_precision)]
pub fn zeta_f64(x: f64, q: f64) -> f64 {
    const A: [f64; 12] = [
        12.0,
        -720.0,
        30240.0,
        -1209600.0,
        47900160.0,
        -1.892_437_580_318_379_160_6e9,
        7.472_424_96e10,
        -2.950_130_727_918_164_224e12,
        1.164_678_281_435_006_724_9e14,
        -4.597_978_722_407_472_610_5e15,
        1.815_210_540_194_354_677_3e17,
        -7.166_165_256_175_667_011_3e18,
    ];
    const EPS: f64 = 1.11e-16;
    if x == 1.0 {
        return f64::INFINITY;
    }
    if x < 1.0 || x.is_nan() || q.is_nan() {
        return f64::NAN;
    }
    if q <= 0.0 {
        if q == q.floor() {
            return f64::INFINITY;
        }
        if x != x.floor() {
            return f64::NAN; // q^-x is not real
        }
    }
    let mut s = q.powf(-x);
    let (mut a, mut b, mut i) = (q, 0.0, 0);
    while i < 9 || a <= 9.0 {
        i += 1;
        a += 1.0;
        b = a.powf(-x);
        s += b;
        if (b / s).abs() < EPS {
            return s;
        }
    }
    let w = a;
    s += b * w / (x - 1.0);
    s -= 0.5 * b;
    let (mut a, mut k) = (1.0, 0.0);
    for c in A {
        a *= x + k;
        b /= w;
        let t = a * b / c;
        s += t;
        if (t / s).abs() < EPS {
            break;
        }
        k += 1.0;
        a *= x + k;
        b /= w;
        k += 1.0;
    }
    s
}

/// The n-th derivative of digamma: ψ for n = 0, else (-1)^(n+1) n! ζ(n+1, x).
pub fn polygamma_f64(n: f64, x: f64) -> f64 {
    if n == 0.0 {
        return digamma_f64(x);
    }
    let sign = if n % 2.0 == 1.0 { 1.0 } else { -1.0 };
    sign * lgamma_f64(n + 1.0).exp() * zeta_f64(n + 1.0, x)
}

/// `f` of an f64 applied to any float.
#[inline(always)]
pub fn via_f64<F: num_traits::Float>(x: F, f: impl Fn(f64) -> f64) -> F {
    F::from(f(x.to_f64().unwrap_or(f64::NAN))).unwrap_or_else(F::nan)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn erf_matches_reference() {
        assert!((erf_f64(0.5) - 0.520_499_877_813_046_5).abs() < 1e-14);
        assert!((erf_f64(1.5) - 0.966_105_146_475_310_7).abs() < 1e-14);
        assert!((erf_f64(-5.0) + 0.999_999_999_998_462_5).abs() < 1e-14);
    }
    #[test]
    fn erfc_keeps_its_tail() {
        assert!((erfc_f64(5.0) - 1.537_459_794_428_034_8e-12).abs() < 1e-25);
        assert!((erfc_f64(-1.0) - 1.842_700_792_949_715).abs() < 1e-14);
        assert!((erfc_f64(0.3) - 0.671_373_240_540_872_9).abs() < 1e-15);
    }
    #[test]
    fn erfinv_inverts_erf() {
        for y in [-0.999_999, -0.9, -0.3, 0.0, 1e-8, 0.5, 0.97, 0.999_999_999] {
            let x = erfinv_f64(y);
            assert!((erf_f64(x) - y).abs() < 2e-16, "{}", y);
        }
        assert_eq!(erfinv_f64(1.0), f64::INFINITY);
        assert!(erfinv_f64(1.5).is_nan());
    }
    #[test]
    fn gamma_family_matches_known_values() {
        assert!((lgamma_f64(0.5) - PI.sqrt().ln()).abs() < 1e-14);
        assert!((lgamma_f64(10.0) - 362_880f64.ln()).abs() < 1e-12);
        assert!((lgamma_f64(-2.5) + 0.056_243_716_497_674_57).abs() < 1e-13);
        assert_eq!(lgamma_f64(-3.0), f64::INFINITY);
        assert_eq!((lgamma_f64(1.0), lgamma_f64(2.0)), (0.0, 0.0));
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma_f64(1.0) + euler).abs() < 1e-15);
        assert!((digamma_f64(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-14);
        assert!((digamma_f64(-0.5) - 0.036_489_973_978_576_52).abs() < 1e-14);
        assert!((polygamma_f64(1.0, 1.0) - PI * PI / 6.0).abs() < 1e-14);
        assert!((polygamma_f64(2.0, 1.0) + 2.0 * 1.202_056_903_159_594_3).abs() < 1e-13);
        assert!((zeta_f64(2.0, 2.0) - (PI * PI / 6.0 - 1.0)).abs() < 1e-15);
    }
}
