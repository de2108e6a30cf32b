//! Element types, their promotion rules, and the generic element trait kernels are written against.

use half::{bf16, f16};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum DType {
    Bool,
    U8,
    I8,
    I16,
    I32,
    I64,
    F16,
    BF16,
    F32,
    F64,
}

pub const ALL_DTYPES: [DType; 10] = [
    DType::Bool,
    DType::U8,
    DType::I8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::F16,
    DType::BF16,
    DType::F32,
    DType::F64,
];

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }
    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }
    pub fn is_int(self) -> bool {
        matches!(
            self,
            DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64
        )
    }
    /// The name after `torch.` (`float32`, `int64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }
    pub fn from_name(name: &str) -> Option<DType> {
        ALL_DTYPES.iter().copied().find(|d| d.name() == name)
    }
    /// 0 = bool, 1 = integer, 2 = floating point: the categories type promotion compares.
    fn category(self) -> u8 {
        if self == DType::Bool {
            0
        } else if self.is_float() {
            2
        } else {
            1
        }
    }
}

/// `torch.promote_types`: the smallest dtype both can be cast to safely.
pub fn promote_types(a: DType, b: DType) -> DType {
    use DType::*;
    if a == b {
        return a;
    }
    match (a, b) {
        (Bool, x) | (x, Bool) => x,
        (U8, I8) | (I8, U8) => I16,
        (F16, BF16) | (BF16, F16) => F32,
        _ => {
            let (ca, cb) = (a.category(), b.category());
            if ca != cb {
                if ca > cb {
                    a
                } else {
                    b
                }
            } else if a.size() != b.size() {
                if a.size() > b.size() {
                    a
                } else {
                    b
                }
            } else {
                a.max(b)
            }
        }
    }
}

static DEFAULT_DTYPE: std::sync::atomic::AtomicU8 =
    std::sync::atomic::AtomicU8::new(DType::F32 as u8);

/// `torch.get_default_dtype()`: the dtype of float literals and float factories.
pub fn default_dtype() -> DType {
    ALL_DTYPES[DEFAULT_DTYPE.load(std::sync::atomic::Ordering::Relaxed) as usize]
}

pub fn set_default_dtype(d: DType) {
    DEFAULT_DTYPE.store(d as u8, std::sync::atomic::Ordering::Relaxed);
}

/// How an operand takes part in type promotion (PyTorch's dim / zero-dim / wrapped-number ranks).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Rank {
    Dim,
    ZeroDim,
    Scalar,
}

/// `torch.result_type` over operands tagged with their rank.
pub fn result_type(operands: &[(DType, Rank)]) -> DType {
    let fold = |rank: Rank| {
        operands
            .iter()
            .filter(|(_, r)| *r == rank)
            .map(|(d, _)| *d)
            .reduce(promote_types)
    };
    let combine = |higher: Option<DType>, lower: Option<DType>| match (higher, lower) {
        (Some(h), Some(l)) => {
            if h.is_float() {
                Some(h)
            } else if h == DType::Bool || l.category() > h.category() {
                Some(promote_types(h, l))
            } else {
                Some(h)
            }
        }
        (h, l) => h.or(l),
    };
    combine(
        fold(Rank::Dim),
        combine(fold(Rank::ZeroDim), fold(Rank::Scalar)),
    )
    .unwrap_or(DType::F32)
}

/// The element trait every kernel is generic over. `Acc` is the type arithmetic runs in:
/// the type itself, except f32 for the half types and i64-free bool handled through u8.
/// NaN test for any element type (always false for integers and bools): `x != x`.
#[inline(always)]
#[allow(clippy::eq_op)]
pub fn is_nan<T: PartialEq + Copy>(x: T) -> bool {
    x != x
}

pub trait Elem:
    Copy + Send + Sync + 'static + PartialEq + PartialOrd + std::fmt::Debug + Default
{
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn to_i64(self) -> i64;
    fn from_i64(v: i64) -> Self;
    fn zero() -> Self {
        Self::from_i64(0)
    }
    fn one() -> Self {
        Self::from_i64(1)
    }
    /// Cast between element types as PyTorch does (through i64 for integer pairs so large values stay exact).
    #[inline(always)]
    fn cast<D: Elem>(self) -> D {
        if Self::DTYPE.is_float() || D::DTYPE.is_float() {
            D::from_f64(self.to_f64())
        } else if D::DTYPE == DType::Bool {
            D::from_i64((self.to_i64() != 0) as i64)
        } else {
            D::from_i64(self.to_i64())
        }
    }
}

macro_rules! impl_int_elem {
    ($($t:ty => $d:ident),*) => {$(
        impl Elem for $t {
            const DTYPE: DType = DType::$d;
            #[inline(always)] fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)] fn from_f64(v: f64) -> Self {
                // float -> int truncates toward zero, like C; values out of range wrap through i64
                if v.is_finite() { (v as i64) as $t } else { 0 as $t }
            }
            #[inline(always)] fn to_i64(self) -> i64 { self as i64 }
            #[inline(always)] fn from_i64(v: i64) -> Self { v as $t }
        }
    )*};
}
impl_int_elem!(u8 => U8, i8 => I8, i16 => I16, i32 => I32, i64 => I64);

impl Elem for bool {
    const DTYPE: DType = DType::Bool;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
}

impl Elem for f32 {
    const DTYPE: DType = DType::F32;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v as f32
    }
}

impl Elem for f64 {
    const DTYPE: DType = DType::F64;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v as f64
    }
}

macro_rules! impl_half_elem {
    ($($t:ty => $d:ident),*) => {$(
        impl Elem for $t {
            const DTYPE: DType = DType::$d;
            #[inline(always)] fn to_f64(self) -> f64 { self.to_f64() }
            #[inline(always)] fn from_f64(v: f64) -> Self { <$t>::from_f64(v) }
            #[inline(always)] fn to_i64(self) -> i64 { self.to_f32() as i64 }
            #[inline(always)] fn from_i64(v: i64) -> Self { <$t>::from_f64(v as f64) }
        }
    )*};
}
impl_half_elem!(f16 => F16, bf16 => BF16);

/// Floating element types: math runs in `C` (f32 for the half types).
pub trait FloatElem: Elem {
    type C: num_traits::Float + Send + Sync + std::iter::Sum + 'static + std::fmt::Debug;
    fn to_c(self) -> Self::C;
    fn from_c(c: Self::C) -> Self;
}
impl FloatElem for f32 {
    type C = f32;
    #[inline(always)]
    fn to_c(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_c(c: f32) -> Self {
        c
    }
}
impl FloatElem for f64 {
    type C = f64;
    #[inline(always)]
    fn to_c(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_c(c: f64) -> Self {
        c
    }
}
impl FloatElem for f16 {
    type C = f32;
    #[inline(always)]
    fn to_c(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn from_c(c: f32) -> Self {
        f16::from_f32(c)
    }
}
impl FloatElem for bf16 {
    type C = f32;
    #[inline(always)]
    fn to_c(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn from_c(c: f32) -> Self {
        bf16::from_f32(c)
    }
}

/// Runs `$body` with `$T` bound to the Rust type of `$dt`, over every dtype.
#[macro_export]
macro_rules! dispatch_all {
    ($dt:expr, $T:ident => $body:expr) => {{
        use $crate::tensor::DType as __D;
        match $dt {
            __D::Bool => {
                type $T = bool;
                $body
            }
            __D::U8 => {
                type $T = u8;
                $body
            }
            __D::I8 => {
                type $T = i8;
                $body
            }
            __D::I16 => {
                type $T = i16;
                $body
            }
            __D::I32 => {
                type $T = i32;
                $body
            }
            __D::I64 => {
                type $T = i64;
                $body
            }
            __D::F16 => {
                type $T = half::f16;
                $body
            }
            __D::BF16 => {
                type $T = half::bf16;
                $body
            }
            __D::F32 => {
                type $T = f32;
                $body
            }
            __D::F64 => {
                type $T = f64;
                $body
            }
        }
    }};
}

/// Like `dispatch_all!` over the floating dtypes; `$else` runs for the rest.
#[macro_export]
macro_rules! dispatch_float {
    ($dt:expr, $T:ident => $body:expr, _ => $else:expr) => {{
        use $crate::tensor::DType as __D;
        match $dt {
            __D::F16 => {
                type $T = half::f16;
                $body
            }
            __D::BF16 => {
                type $T = half::bf16;
                $body
            }
            __D::F32 => {
                type $T = f32;
                $body
            }
            __D::F64 => {
                type $T = f64;
                $body
            }
            _ => $else,
        }
    }};
}

/// Like `dispatch_all!` over the integer dtypes (bool excluded); `$else` runs for the rest.
#[macro_export]
macro_rules! dispatch_int {
    ($dt:expr, $T:ident => $body:expr, _ => $else:expr) => {{
        use $crate::tensor::DType as __D;
        match $dt {
            __D::U8 => {
                type $T = u8;
                $body
            }
            __D::I8 => {
                type $T = i8;
                $body
            }
            __D::I16 => {
                type $T = i16;
                $body
            }
            __D::I32 => {
                type $T = i32;
                $body
            }
            __D::I64 => {
                type $T = i64;
                $body
            }
            _ => $else,
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn promotion_follows_pytorch() {
        use DType::*;
        assert_eq!(promote_types(U8, I8), I16);
        assert_eq!(promote_types(I32, F16), F16);
        assert_eq!(promote_types(F16, BF16), F32);
        assert_eq!(promote_types(Bool, I8), I8);
        // int tensor + python float -> default float
        assert_eq!(result_type(&[(I32, Rank::Dim), (F32, Rank::Scalar)]), F32);
        // f16 tensor + python float stays f16
        assert_eq!(result_type(&[(F16, Rank::Dim), (F32, Rank::Scalar)]), F16);
        // int8 tensor + python int stays int8
        assert_eq!(result_type(&[(I8, Rank::Dim), (I64, Rank::Scalar)]), I8);
        // uint8 tensor + int64 zero-dim tensor stays uint8
        assert_eq!(result_type(&[(U8, Rank::Dim), (I64, Rank::ZeroDim)]), U8);
        // bool tensor + python int -> int64
        assert_eq!(result_type(&[(Bool, Rank::Dim), (I64, Rank::Scalar)]), I64);
        // f32 dim tensor + f64 zero-dim -> f32
        assert_eq!(result_type(&[(F32, Rank::Dim), (F64, Rank::ZeroDim)]), F32);
    }
}
