//! Scalar arithmetic per element type, so binary kernels are written once.
//! Integer ops wrap (no overflow panics); division by zero is rejected before kernels run.

pub trait IntElem: crate::tensor::Elem + Ord {
    fn wadd(self, o: Self) -> Self;
    fn wsub(self, o: Self) -> Self;
    fn wmul(self, o: Self) -> Self;
    /// Python-style floor division.
    fn floordiv(self, o: Self) -> Self;
    /// Python-style remainder (sign of the divisor).
    fn pyrem(self, o: Self) -> Self;
    /// C-style remainder (sign of the dividend).
    fn fmod(self, o: Self) -> Self;
    fn ipow(self, e: Self) -> Self;
    fn bitand(self, o: Self) -> Self;
    fn bitor(self, o: Self) -> Self;
    fn bitxor(self, o: Self) -> Self;
    fn bitnot(self) -> Self;
    fn shl(self, o: Self) -> Self;
    fn shr(self, o: Self) -> Self;
    fn iabs(self) -> Self;
    fn ineg(self) -> Self;
}

macro_rules! impl_int {
    ($($t:ty),*) => {$(
        impl IntElem for $t {
            #[inline(always)] fn wadd(self, o: Self) -> Self { self.wrapping_add(o) }
            #[inline(always)] fn wsub(self, o: Self) -> Self { self.wrapping_sub(o) }
            #[inline(always)] fn wmul(self, o: Self) -> Self { self.wrapping_mul(o) }
            #[inline(always)] fn floordiv(self, o: Self) -> Self {
                if o == 0 { return 0; }
                let q = self.wrapping_div(o);
                #[allow(unused_comparisons)]
                if (self.wrapping_rem(o) != 0) && ((self < 0) != (o < 0)) { q.wrapping_sub(1) } else { q }
            }
            #[inline(always)] fn pyrem(self, o: Self) -> Self {
                if o == 0 { return 0; }
                let r = self.wrapping_rem(o);
                #[allow(unused_comparisons)]
                if r != 0 && ((r < 0) != (o < 0)) { r.wrapping_add(o) } else { r }
            }
            #[inline(always)] fn fmod(self, o: Self) -> Self { if o == 0 { 0 } else { self.wrapping_rem(o) } }
            #[inline(always)] fn ipow(self, e: Self) -> Self {
                #[allow(unused_comparisons)]
                if e < 0 { return if self == 1 { 1 } else { 0 }; }
                let mut r: Self = 1; let mut b = self; let mut e = e;
                while e > 0 { if e & 1 == 1 { r = r.wrapping_mul(b); } b = b.wrapping_mul(b); e >>= 1; }
                r
            }
            #[inline(always)] fn bitand(self, o: Self) -> Self { self & o }
            #[inline(always)] fn bitor(self, o: Self) -> Self { self | o }
            #[inline(always)] fn bitxor(self, o: Self) -> Self { self ^ o }
            #[inline(always)] fn bitnot(self) -> Self { !self }
            #[inline(always)] fn shl(self, o: Self) -> Self { self.wrapping_shl(o as u32) }
            #[inline(always)] fn shr(self, o: Self) -> Self { self.wrapping_shr(o as u32) }
            #[inline(always)] fn iabs(self) -> Self {
                #[allow(unused_comparisons)]
                if self < 0 { (0 as $t).wrapping_sub(self) } else { self }
            }
            #[inline(always)] fn ineg(self) -> Self { (0 as $t).wrapping_sub(self) }
        }
    )*};
}
impl_int!(u8, i8, i16, i32, i64);

/// Python-style float remainder.
#[inline(always)]
pub fn float_rem<F: num_traits::Float>(a: F, b: F) -> F {
    let r = a % b;
    if r != F::zero() && ((r < F::zero()) != (b < F::zero())) {
        r + b
    } else {
        r
    }
}

/// Round half to even, as torch.round does.
#[inline(always)]
pub fn round_half_even<F: num_traits::Float>(x: F) -> F {
    let r = x.round();
    let two = F::one() + F::one();
    if (x - x.trunc()).abs() == F::one() / two && (r / two).fract() != F::zero() {
        r - x.signum()
    } else {
        r
    }
}

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
    } else if ax < 4.0 {
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
        1.0 - (-ax * ax).exp() * num / den
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
        1.0 - (-ax * ax).exp() / ax * (0.564_189_583_547_756_3 + frac)
    };
    if x < 0.0 {
        -r
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn int_division_is_pythonic() {
        assert_eq!((-7i64).floordiv(2), -4);
        assert_eq!((-7i64).pyrem(2), 1);
        assert_eq!((-7i64).fmod(2), -1);
        assert_eq!(7u8.floordiv(2), 3);
        assert_eq!(i64::MIN.floordiv(-1), i64::MIN);
    }
    #[test]
    fn erf_matches_reference() {
        assert!((erf_f64(0.5) - 0.520_499_877_813_046_5).abs() < 1e-14);
        assert!((erf_f64(1.5) - 0.966_105_146_475_310_7).abs() < 1e-14);
        assert!((erf_f64(-5.0) + 0.999_999_999_998_462_5).abs() < 1e-14);
    }
    #[test]
    fn rounding_half_even() {
        assert_eq!(round_half_even(2.5f64), 2.0);
        assert_eq!(round_half_even(3.5f64), 4.0);
        assert_eq!(round_half_even(-2.5f64), -2.0);
        assert_eq!(round_half_even(-2.6f64), -3.0);
    }
}
