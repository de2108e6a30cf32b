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
    fn rounding_half_even() {
        assert_eq!(round_half_even(2.5f64), 2.0);
        assert_eq!(round_half_even(3.5f64), 4.0);
        assert_eq!(round_half_even(-2.5f64), -2.0);
        assert_eq!(round_half_even(-2.6f64), -3.0);
    }
}
