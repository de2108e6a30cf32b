//! Elementwise ops with broadcasting and type promotion: binary, unary, casts, copies.
//! Each op's backward formula sits next to its forward.

use super::arith::{float_rem, round_half_even, IntElem};
use super::iter::{map1, map2, map3};
use super::special::{self, erf, via_f64};
use super::vmath::{map1_simd, map1_simd_fused, VFloat};
use crate::autograd::{needs_grad, record1, Saved};
use crate::tensor::{
    broadcast_shapes, default_dtype, fmt_shape, result_type, DType, Device, Elem, FloatElem, Rank,
    Result, Scalar, Tensor,
};
use num_traits::{Float, Zero};

/// The right-hand side of a binary op: a tensor or a Python number.
#[derive(Clone, Copy)]
pub enum Operand<'a> {
    T(&'a Tensor),
    S(Scalar),
}

impl Operand<'_> {
    fn dtype_rank(&self) -> (DType, Rank) {
        match self {
            Operand::T(t) => (
                t.dtype,
                if t.ndim() == 0 {
                    Rank::ZeroDim
                } else {
                    Rank::Dim
                },
            ),
            Operand::S(s) => (s.dtype(), Rank::Scalar),
        }
    }
    fn to_tensor(self, dtype: DType) -> Result<Tensor> {
        match self {
            Operand::T(t) => Ok(t.clone()),
            Operand::S(s) => Tensor::scalar_tensor(s, dtype),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
    Fmod,
    Pow,
    Maximum,
    Minimum,
    Atan2,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Xor,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

impl BinaryOp {
    pub(crate) fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }
    pub(crate) fn is_logical(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Xor)
    }
    fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "AddBackward0",
            BinaryOp::Sub => "SubBackward0",
            BinaryOp::Mul => "MulBackward0",
            BinaryOp::Div => "DivBackward0",
            BinaryOp::Pow => "PowBackward1",
            BinaryOp::Maximum => "MaximumBackward0",
            BinaryOp::Minimum => "MinimumBackward0",
            BinaryOp::Atan2 => "Atan2Backward0",
            BinaryOp::Rem => "RemainderBackward0",
            BinaryOp::Fmod => "FmodBackward0",
            _ => "NotDifferentiable",
        }
    }
}

/// PyTorch's `canCast`: no float -> integral, no non-bool -> bool.
pub fn can_cast(from: DType, to: DType) -> bool {
    !(from.is_float() && !to.is_float() || from != DType::Bool && to == DType::Bool)
}

/// The dtype a binary op computes in (its inputs are cast to it).
fn compute_dtype(op: BinaryOp, a: &Tensor, b: &Operand) -> Result<DType> {
    let a_rank = if a.ndim() == 0 {
        Rank::ZeroDim
    } else {
        Rank::Dim
    };
    let common = result_type(&[(a.dtype, a_rank), b.dtype_rank()]);
    Ok(match op {
        BinaryOp::Div | BinaryOp::Atan2 if !common.is_float() => default_dtype(),
        BinaryOp::Sub if common == DType::Bool => crate::bail!(
            Runtime,
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead."
        ),
        BinaryOp::Sub if a.dtype == DType::Bool || b.dtype_rank().0 == DType::Bool => crate::bail!(
            Runtime,
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
        ),
        BinaryOp::BitAnd | BinaryOp::BitOr | BinaryOp::BitXor | BinaryOp::Shl | BinaryOp::Shr if common.is_float() => {
            crate::bail!(Runtime, "\"{:?}_cpu\" not implemented for '{}'", op, crate::ops::dtype_title(common))
        }
        _ => common,
    })
}

impl Tensor {
    /// Raw cast with no autograd record (kernels and constructors).
    pub fn cast_raw(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype {
            return Ok(self.detach());
        }
        let out = Tensor::empty(self.shape(), dtype, self.device())?;
        #[cfg(feature = "cuda")]
        if out.device().is_cuda() && crate::cuda::ops::copy(&out, self)? {
            return Ok(out);
        }
        crate::dispatch_all!(self.dtype, S => crate::dispatch_all!(dtype, D => map1::<S, D>(&out, self, |v| v.cast::<D>())));
        Ok(out)
    }

    /// `.to(dtype)`: a differentiable cast (returns self when the dtype already matches).
    pub fn cast(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype {
            return Ok(self.clone());
        }
        let out = self.cast_raw(dtype)?;
        if needs_grad(&[self]) && dtype.is_float() {
            let src = self.dtype;
            return Ok(record1("ToCopyBackward0", &[self], out, move |g| {
                Ok(vec![Some(g.cast(src)?)])
            }));
        }
        Ok(out)
    }

    /// `.to(device)`: a copy on `device` (self when it is already there); gradients flow back
    /// to the source device.
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        let out = self.to_device_raw(device)?;
        if needs_grad(&[self]) {
            let src = self.device();
            return Ok(record1("ToCopyBackward0", &[self], out, move |g| {
                Ok(vec![Some(g.to_device(src)?)])
            }));
        }
        Ok(out)
    }

    /// A contiguous copy with a fresh storage (no autograd record).
    pub fn clone_contiguous(&self) -> Result<Tensor> {
        let out = Tensor::empty(self.shape(), self.dtype, self.device())?;
        #[cfg(feature = "cuda")]
        if out.device().is_cuda() && crate::cuda::ops::copy(&out, self)? {
            return Ok(out);
        }
        if !super::transpose::transpose_copy(&out, self) {
            crate::dispatch_all!(self.dtype, T => map1::<T, T>(&out, self, |v| v));
        }
        Ok(out)
    }

    /// `clone()`: differentiable copy.
    pub fn clone_op(&self) -> Result<Tensor> {
        let out = self.clone_contiguous()?;
        if needs_grad(&[self]) {
            return Ok(record1("CloneBackward0", &[self], out, |g| {
                Ok(vec![Some(g.clone())])
            }));
        }
        Ok(out)
    }

    /// `contiguous()`: self when already contiguous, else a differentiable copy.
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            Ok(self.clone())
        } else {
            self.clone_op()
        }
    }

    /// Writes `value` into every element of this view (no autograd, no version bump).
    pub fn fill_raw(&self, value: Scalar) {
        #[cfg(feature = "cuda")]
        if self.device().is_cuda() && crate::cuda::ops::fill(self, value).unwrap_or(false) {
            return;
        }
        crate::dispatch_all!(self.dtype, T => {
            let v: T = value.to_elem();
            map1::<T, T>(self, self, move |_| v);
        });
    }

    /// Copies `src` (broadcast, cast) into this view's memory, no autograd.
    pub fn copy_raw(&self, src: &Tensor) -> Result<()> {
        let src_b = src.with_layout(src.layout.broadcast_to(self.shape())?);
        if self.numel() > 0
            && std::ptr::eq(self.storage.as_ref(), src.storage.as_ref())
            && self.layout != src_b.layout
        {
            // overlapping views: go through a temporary
            let tmp = src_b.clone_contiguous()?;
            return self.copy_raw(&tmp);
        }
        #[cfg(feature = "cuda")]
        if self.device().is_cuda() && crate::cuda::ops::copy(self, &src_b)? {
            return Ok(());
        }
        if super::transpose::transpose_copy(self, &src_b) {
            return Ok(());
        }
        crate::dispatch_all!(src.dtype, S => crate::dispatch_all!(self.dtype, D => map1::<S, D>(self, &src_b, |v| v.cast::<D>())));
        Ok(())
    }

    /// The element-wise binary op `self (op) b`, broadcast and promoted.
    pub fn binary(&self, b: Operand, op: BinaryOp) -> Result<Tensor> {
        let dt = compute_dtype(op, self, &b)?;
        let bt = b.to_tensor(dt)?;
        let dev = Device::common(&[self, &bt])?;
        let shape = broadcast_shapes(self.shape(), bt.shape())?;
        let out_dtype = if op.is_comparison() || op.is_logical() {
            DType::Bool
        } else {
            dt
        };
        let out = Tensor::empty(&shape, out_dtype, dev)?;
        // operands already in the compute dtype and the result's shape go to the kernel as they
        // are (no cast or broadcast views to build: this is most of a tiny op's cost)
        let fit = |t: &Tensor| -> Result<Option<Tensor>> {
            if t.dtype == dt && t.shape() == &shape[..] {
                return Ok(None);
            }
            let c = t.cast_raw(dt)?;
            Ok(Some(c.with_layout(c.layout.broadcast_to(&shape)?)))
        };
        let (a_c, b_c) = (fit(self)?, fit(&bt)?);
        binary_kernel(
            op,
            dt,
            &out,
            a_c.as_ref().unwrap_or(self),
            b_c.as_ref().unwrap_or(&bt),
        )?;
        if dt.is_float() && !op.is_comparison() && needs_grad(&[self, &bt]) {
            return Ok(binary_backward(op, self, &bt, out));
        }
        Ok(out)
    }

    /// The reflected op `s (op) self` for a Python number `s`: the number takes the dtype the
    /// pair computes in (as a wrapped number, so `0.1 * x` keeps 0.1 exact for float64 `x`).
    pub fn rbinary(&self, s: Scalar, op: BinaryOp) -> Result<Tensor> {
        let dt = compute_dtype(op, self, &Operand::S(s))?;
        Tensor::scalar_tensor(s, dt)?.binary(Operand::T(self), op)
    }

    /// The in-place form `self (op)= b`: writes through every view of self's storage.
    pub fn binary_(&mut self, b: Operand, op: BinaryOp) -> Result<()> {
        self.check_no_internal_overlap()?;
        let dt = compute_dtype(op, self, &b)?;
        let res_dtype = if op.is_comparison() || op.is_logical() {
            DType::Bool
        } else {
            dt
        };
        if !can_cast(res_dtype, self.dtype) {
            crate::bail!(
                Runtime,
                "result type {} can't be cast to the desired output type {}",
                crate::ops::dtype_title(res_dtype),
                crate::ops::dtype_title(self.dtype)
            );
        }
        let bt = b.to_tensor(dt)?;
        let shape = broadcast_shapes(self.shape(), bt.shape())?;
        if shape.as_slice() != self.shape() {
            crate::bail!(
                Runtime,
                "output with shape {} doesn't match the broadcast shape {}",
                fmt_shape(self.shape()),
                fmt_shape(&shape)
            );
        }
        if needs_grad(&[self, &bt]) {
            self.check_inplace()?;
            let result = self.saved_copy()?.binary(Operand::T(&bt), op)?;
            return self.assign_result(result);
        }
        let b_c = bt.cast_raw(dt)?;
        let b_v = b_c.with_layout(b_c.layout.broadcast_to(&shape)?);
        if dt == self.dtype && res_dtype == self.dtype {
            binary_kernel(op, dt, self, self, &b_v)?;
        } else {
            let a_c = self.cast_raw(dt)?;
            let tmp = Tensor::empty(&shape, res_dtype, self.device())?;
            binary_kernel(op, dt, &tmp, &a_c, &b_v)?;
            self.copy_raw(&tmp)?;
        }
        self.bump_version();
        Ok(())
    }

    /// In-place writes into an expanded tensor (a stride-0 dim of size > 1) are refused, as in PyTorch.
    pub fn check_no_internal_overlap(&self) -> Result<()> {
        if self
            .shape()
            .iter()
            .zip(self.strides())
            .any(|(&n, &s)| n > 1 && s == 0)
        {
            crate::bail!(Runtime, "unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation.");
        }
        Ok(())
    }

    /// Errors PyTorch raises for in-place ops on leaves that require grad.
    pub fn check_inplace(&self) -> Result<()> {
        if crate::autograd::is_grad_enabled() && self.is_leaf() && self.requires_grad() {
            crate::bail!(
                Runtime,
                "a leaf Variable that requires grad is being used in an in-place operation."
            );
        }
        if crate::autograd::is_grad_enabled() {
            if let Some(base) = self.view_base() {
                if base.is_leaf() && base.requires_grad() {
                    crate::bail!(
                        Runtime,
                        "a view of a leaf Variable that requires grad is being used in an in-place operation."
                    );
                }
            }
        }
        Ok(())
    }

    /// A copy of self's values carrying self's autograd history, for in-place ops that record:
    /// the formula may save it without seeing the write that follows.
    pub fn saved_copy(&self) -> Result<Tensor> {
        let mut c = self.clone_contiguous()?;
        // a snapshot of the current history (not the shared metadata, which the write will change)
        c.autograd = self.gradient_edge().and_then(|e| match e.node.kind {
            crate::autograd::NodeKind::Function => Some(std::sync::Arc::new(
                crate::autograd::AutogradMeta::output(e.node.clone(), e.input_nr),
            )),
            crate::autograd::NodeKind::AccumulateGrad(_) => self.autograd.clone(),
        });
        Ok(c)
    }

    /// Finishes a recorded in-place op: the values of `result` go into self's memory and self
    /// takes result's history.
    pub fn assign_result(&mut self, result: Tensor) -> Result<()> {
        self.copy_raw(&result)?;
        self.bump_version();
        crate::autograd::take_history(self, &result);
        Ok(())
    }

    /// `copy_(src)`: broadcast and cast src into self, recording the copy for autograd.
    pub fn copy_(&mut self, src: &Tensor) -> Result<()> {
        if needs_grad(&[self, src]) {
            self.check_inplace()?;
            let src_shape = src.shape().to_vec();
            let src_dtype = src.dtype;
            let dst = Tensor::empty(self.shape(), self.dtype, self.device())?;
            dst.copy_raw(src)?;
            let result = record1("CopyBackwards", &[src], dst, move |g| {
                Ok(vec![Some(g.sum_to(&src_shape)?.cast(src_dtype)?)])
            });
            return self.assign_result(result);
        }
        self.copy_raw(src)?;
        self.bump_version();
        Ok(())
    }

    // Short forms used all over the backward formulas.
    pub fn add(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(Operand::T(o), BinaryOp::Add)
    }
    pub fn sub(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(Operand::T(o), BinaryOp::Sub)
    }
    pub fn mul(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(Operand::T(o), BinaryOp::Mul)
    }
    pub fn div(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(Operand::T(o), BinaryOp::Div)
    }
    pub fn add_(&mut self, o: &Tensor) -> Result<()> {
        self.binary_(Operand::T(o), BinaryOp::Add)
    }
    pub fn mul_scalar(&self, s: f64) -> Result<Tensor> {
        self.binary(Operand::S(Scalar::Float(s)), BinaryOp::Mul)
    }
    pub fn add_scalar(&self, s: f64) -> Result<Tensor> {
        self.binary(Operand::S(Scalar::Float(s)), BinaryOp::Add)
    }
    pub fn cmp_scalar(&self, op: BinaryOp, s: f64) -> Result<Tensor> {
        self.binary(Operand::S(Scalar::Float(s)), op)
    }
    pub fn neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg)
    }

    /// Sums a broadcast gradient back down to `shape`.
    pub fn sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let lead = self.ndim() - shape.len();
        let mut dims: Vec<usize> = (0..lead).collect();
        for (i, &d) in shape.iter().enumerate() {
            if d == 1 && self.shape()[lead + i] != 1 {
                dims.push(lead + i);
            }
        }
        let s = self.sum_dims(&dims, true)?;
        s.reshape(shape)
    }

    /// A float version of self (ints/bools go to the default dtype), for ops like exp or mean.
    pub fn to_float(&self) -> Result<Tensor> {
        if self.dtype.is_float() {
            Ok(self.clone())
        } else {
            self.cast(default_dtype())
        }
    }

    /// `torch.where(cond, self, other)`.
    pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        if cond.dtype != DType::Bool {
            crate::bail!(
                Runtime,
                "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
                crate::ops::dtype_title(cond.dtype)
            );
        }
        let ranks = |t: &Tensor| {
            (
                t.dtype,
                if t.ndim() == 0 {
                    Rank::ZeroDim
                } else {
                    Rank::Dim
                },
            )
        };
        let dt = result_type(&[ranks(a), ranks(b)]);
        let dev = Device::common(&[cond, a, b])?;
        let shape = broadcast_shapes(&broadcast_shapes(cond.shape(), a.shape())?, b.shape())?;
        let out = Tensor::empty(&shape, dt, dev)?;
        let (ac, bc) = (a.cast_raw(dt)?, b.cast_raw(dt)?);
        let cv = cond.with_layout(cond.layout.broadcast_to(&shape)?);
        let av = ac.with_layout(ac.layout.broadcast_to(&shape)?);
        let bv = bc.with_layout(bc.layout.broadcast_to(&shape)?);
        #[cfg(feature = "cuda")]
        let on_gpu = out.device().is_cuda() && crate::cuda::ops::where_(&out, &cv, &av, &bv)?;
        #[cfg(not(feature = "cuda"))]
        let on_gpu = false;
        if !on_gpu {
            crate::dispatch_all!(dt, T => map3::<bool, T, T, T>(&out, &cv, &av, &bv, |c, x, y| if c { x } else { y }));
        }
        if dt.is_float() && needs_grad(&[a, b]) {
            let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
            let c = cond.clone();
            return Ok(record1("WhereBackward0", &[a, b], out, move |g| {
                let z = Tensor::zeros(&[], g.dtype, g.device())?;
                Ok(vec![
                    Some(Tensor::where_(&c, g, &z)?.sum_to(&sa)?),
                    Some(Tensor::where_(&c, &z, g)?.sum_to(&sb)?),
                ])
            }));
        }
        Ok(out)
    }
}

fn binary_kernel(op: BinaryOp, dt: DType, out: &Tensor, a: &Tensor, b: &Tensor) -> Result<()> {
    use BinaryOp::*;
    #[cfg(feature = "cuda")]
    if out.device().is_cuda() && crate::cuda::ops::binary(op, dt, out, a, b)? {
        return Ok(());
    }
    macro_rules! cmp {
        ($T:ty) => {
            match op {
                Eq => return Ok(map2::<$T, $T, bool>(out, a, b, |x, y| x == y)),
                Ne => return Ok(map2::<$T, $T, bool>(out, a, b, |x, y| x != y)),
                Lt => return Ok(map2::<$T, $T, bool>(out, a, b, |x, y| x < y)),
                Le => return Ok(map2::<$T, $T, bool>(out, a, b, |x, y| x <= y)),
                Gt => return Ok(map2::<$T, $T, bool>(out, a, b, |x, y| x > y)),
                Ge => return Ok(map2::<$T, $T, bool>(out, a, b, |x, y| x >= y)),
                And => {
                    return Ok(map2::<$T, $T, bool>(out, a, b, |x, y| {
                        x != <$T>::default() && y != <$T>::default()
                    }))
                }
                Or => {
                    return Ok(map2::<$T, $T, bool>(out, a, b, |x, y| {
                        x != <$T>::default() || y != <$T>::default()
                    }))
                }
                Xor => {
                    return Ok(map2::<$T, $T, bool>(out, a, b, |x, y| {
                        (x != <$T>::default()) != (y != <$T>::default())
                    }))
                }
                _ => {}
            }
        };
    }
    crate::dispatch_all!(dt, T => cmp!(T));
    if matches!(op, FloorDiv | Rem | Fmod) && dt.is_int() && b.to_vec::<i64>().contains(&0) {
        crate::bail!(Runtime, "ZeroDivisionError");
    }
    crate::dispatch_float!(dt, T => float_binary::<T>(op, out, a, b),
        _ => crate::dispatch_int!(dt, T => int_binary::<T>(op, out, a, b),
            _ => bool_binary(op, out, a, b)))
}

/// Pins a binary closure's argument type (so its body type-checks) without boxing it.
#[inline(always)]
fn typed2<C, F: Fn(C, C) -> C + Copy + Send + Sync>(f: F) -> F {
    f
}

fn float_binary<T: FloatElem>(op: BinaryOp, out: &Tensor, a: &Tensor, b: &Tensor) -> Result<()> {
    use BinaryOp::*;
    // A macro, not a closure taking `fn` pointers: each op gets its own monomorphised loop
    // (an indirect call per element does not vectorise).
    macro_rules! f {
        ($g:expr) => {{
            let g = typed2::<T::C, _>($g);
            map2::<T, T, T>(out, a, b, move |x: T, y: T| {
                T::from_c(g(x.to_c(), y.to_c()))
            })
        }};
    }
    match op {
        Add => f!(|x, y| x + y),
        Sub => f!(|x, y| x - y),
        Mul => f!(|x, y| x * y),
        Div => f!(|x, y| x / y),
        FloorDiv => f!(|x, y| (x / y).floor()),
        Rem => f!(float_rem),
        Fmod => f!(|x, y| x % y),
        Pow => f!(|x, y| x.powf(y)),
        Maximum => f!(|x, y| {
            if x.is_nan() || y.is_nan() {
                T::C::nan()
            } else {
                x.max(y)
            }
        }),
        Minimum => f!(|x, y| {
            if x.is_nan() || y.is_nan() {
                T::C::nan()
            } else {
                x.min(y)
            }
        }),
        Atan2 => f!(|x, y| x.atan2(y)),
        _ => crate::bail!(
            Runtime,
            "\"{:?}\" not implemented for '{}'",
            op,
            crate::ops::dtype_title(T::DTYPE)
        ),
    }
    Ok(())
}

fn int_binary<T: IntElem>(op: BinaryOp, out: &Tensor, a: &Tensor, b: &Tensor) -> Result<()> {
    use BinaryOp::*;
    macro_rules! f {
        ($g:expr) => {{
            let g = typed2::<T, _>($g);
            map2::<T, T, T>(out, a, b, move |x: T, y: T| g(x, y))
        }};
    }
    match op {
        Add => f!(T::wadd),
        Sub => f!(T::wsub),
        Mul => f!(T::wmul),
        FloorDiv => f!(T::floordiv),
        Rem => f!(T::pyrem),
        Fmod => f!(T::fmod),
        Pow => {
            if T::DTYPE != DType::U8 && b.to_vec::<i64>().iter().any(|&e| e < 0) {
                crate::bail!(
                    Runtime,
                    "Integers to negative integer powers are not allowed."
                );
            }
            f!(T::ipow)
        }
        Maximum => f!(|x, y| if x > y { x } else { y }),
        Minimum => f!(|x, y| if x < y { x } else { y }),
        BitAnd => f!(T::bitand),
        BitOr => f!(T::bitor),
        BitXor => f!(T::bitxor),
        Shl => f!(T::shl),
        Shr => f!(T::shr),
        _ => crate::bail!(
            Runtime,
            "\"{:?}\" not implemented for '{}'",
            op,
            crate::ops::dtype_title(T::DTYPE)
        ),
    }
    Ok(())
}

fn bool_binary(op: BinaryOp, out: &Tensor, a: &Tensor, b: &Tensor) -> Result<()> {
    use BinaryOp::*;
    macro_rules! f {
        ($g:expr) => {
            map2::<bool, bool, bool>(out, a, b, $g)
        };
    }
    match op {
        Add | BitOr | Maximum => f!(|x, y| x | y),
        Mul | BitAnd | Minimum => f!(|x, y| x & y),
        BitXor => f!(|x, y| x ^ y),
        _ => crate::bail!(Runtime, "\"{:?}\" not implemented for 'Bool'", op),
    }
    Ok(())
}

/// Records the backward of a float binary op. `b` is already a tensor (scalars became 0-dim).
fn binary_backward(op: BinaryOp, a: &Tensor, b: &Tensor, out: Tensor) -> Tensor {
    use BinaryOp::*;
    let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
    let (da, db) = (a.dtype, b.dtype);
    let (ra, rb) = (a.requires_grad(), b.requires_grad());
    // Gradients go back in each input's own shape and dtype.
    let fit =
        move |g: Tensor, shape: &[usize], dt: DType, wanted: bool| -> Result<Option<Tensor>> {
            if !wanted || !dt.is_float() {
                return Ok(None);
            }
            Ok(Some(g.sum_to(shape)?.cast(dt)?))
        };
    match op {
        Add => record1(op.name(), &[a, b], out, move |g| {
            Ok(vec![
                fit(g.clone(), &sa, da, ra)?,
                fit(g.clone(), &sb, db, rb)?,
            ])
        }),
        Sub => record1(op.name(), &[a, b], out, move |g| {
            Ok(vec![
                fit(g.clone(), &sa, da, ra)?,
                if rb {
                    fit(g.neg()?, &sb, db, rb)?
                } else {
                    None
                },
            ])
        }),
        Mul => {
            let (xa, xb) = (Saved::new(a), Saved::new(b));
            record1(op.name(), &[a, b], out, move |g| {
                let ga = if ra {
                    fit(g.mul(xb.get()?)?, &sa, da, ra)?
                } else {
                    None
                };
                let gb = if rb {
                    fit(g.mul(xa.get()?)?, &sb, db, rb)?
                } else {
                    None
                };
                Ok(vec![ga, gb])
            })
        }
        Div => {
            let (xa, xb) = (Saved::new(a), Saved::new(b));
            record1(op.name(), &[a, b], out, move |g| {
                let bv = xb.get()?;
                let ga = if ra {
                    fit(g.div(bv)?, &sa, da, ra)?
                } else {
                    None
                };
                let gb = if rb {
                    fit(g.mul(xa.get()?)?.div(&bv.mul(bv)?)?.neg()?, &sb, db, rb)?
                } else {
                    None
                };
                Ok(vec![ga, gb])
            })
        }
        Pow => {
            let (xa, xb, xo) = (Saved::new(a), Saved::new(b), Saved::output(&out));
            record1(op.name(), &[a, b], out, move |g| {
                let (av, bv) = (xa.get()?, xb.get()?);
                let ga = if ra {
                    // d/da a^b = b * a^(b-1), defined as 0 where b == 0
                    let d = bv.mul(&av.binary(Operand::T(&bv.add_scalar(-1.0)?), Pow)?)?;
                    let d = Tensor::where_(
                        &bv.cmp_scalar(Eq, 0.0)?,
                        &Tensor::zeros(&[], d.dtype, d.device())?,
                        &d,
                    )?;
                    fit(g.mul(&d)?, &sa, da, ra)?
                } else {
                    None
                };
                let gb = if rb {
                    // d/db a^b = a^b * ln a, defined as 0 where a == 0 and b >= 0
                    let d = xo.value()?.mul(&av.unary(UnaryOp::Log)?)?;
                    let mask = av
                        .cmp_scalar(Eq, 0.0)?
                        .binary(Operand::T(&bv.cmp_scalar(Ge, 0.0)?), And)?;
                    let d = Tensor::where_(&mask, &Tensor::zeros(&[], d.dtype, d.device())?, &d)?;
                    fit(g.mul(&d)?, &sb, db, rb)?
                } else {
                    None
                };
                Ok(vec![ga, gb])
            })
        }
        Maximum | Minimum => {
            let (xa, xb) = (Saved::new(a), Saved::new(b));
            record1(op.name(), &[a, b], out, move |g| {
                let (av, bv) = (xa.get()?, xb.get()?);
                // ties split the gradient evenly, as PyTorch does
                let wins = av
                    .binary(Operand::T(bv), if op == Maximum { Gt } else { Lt })?
                    .to_float()?;
                let ties = av.binary(Operand::T(bv), Eq)?.to_float()?.mul_scalar(0.5)?;
                let wa = wins.add(&ties)?.cast(g.dtype)?;
                let ga = if ra {
                    fit(g.mul(&wa)?, &sa, da, ra)?
                } else {
                    None
                };
                let gb = if rb {
                    fit(g.mul(&wa.neg()?.add_scalar(1.0)?)?, &sb, db, rb)?
                } else {
                    None
                };
                Ok(vec![ga, gb])
            })
        }
        Atan2 => {
            let (xa, xb) = (Saved::new(a), Saved::new(b));
            record1(op.name(), &[a, b], out, move |g| {
                let (av, bv) = (xa.get()?, xb.get()?);
                let den = av.mul(av)?.add(&bv.mul(bv)?)?;
                let ga = if ra {
                    fit(g.mul(bv)?.div(&den)?, &sa, da, ra)?
                } else {
                    None
                };
                let gb = if rb {
                    fit(g.mul(av)?.div(&den)?.neg()?, &sb, db, rb)?
                } else {
                    None
                };
                Ok(vec![ga, gb])
            })
        }
        Rem | Fmod => {
            let (xa, xb) = (Saved::new(a), Saved::new(b));
            record1(op.name(), &[a, b], out, move |g| {
                let q = xa.get()?.div(xb.get()?)?.unary(if op == Rem {
                    UnaryOp::Floor
                } else {
                    UnaryOp::Trunc
                })?;
                let ga = fit(g.clone(), &sa, da, ra)?;
                let gb = if rb {
                    fit(g.mul(&q)?.neg()?, &sb, db, rb)?
                } else {
                    None
                };
                Ok(vec![ga, gb])
            })
        }
        _ => out,
    }
}

/// Element-wise unary ops. Parameterised ones carry their parameters. `repr(i32)`: the tag is
/// the op code of the GPU kernels (`code`).
#[derive(Clone, Copy, PartialEq, Debug)]
#[repr(i32)]
pub enum UnaryOp {
    Neg,
    Abs,
    Sign,
    Exp,
    Exp2,
    Expm1,
    Log,
    Log1p,
    Log2,
    Log10,
    Sqrt,
    Rsqrt,
    Square,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Sigmoid,
    LogSigmoid,
    Floor,
    Ceil,
    Round,
    Trunc,
    Frac,
    Reciprocal,
    Relu,
    Gelu,
    GeluTanh,
    Silu,
    Mish,
    Erf,
    Softsign,
    Hardsigmoid,
    Hardswish,
    Selu,
    LogicalNot,
    BitNot,
    IsNan,
    IsInf,
    IsFinite,
    IsPosInf,
    IsNegInf,
    SignBit,
    /// x.pow(p) for a float exponent
    PowScalar(f64),
    /// p.pow(x) for a float base
    RPowScalar(f64),
    LeakyRelu(f64),
    /// alpha, scale, input_scale
    Elu(f64, f64, f64),
    Celu(f64),
    /// beta, threshold
    Softplus(f64, f64),
    Clamp(f64, f64),
    Threshold(f64, f64),
    NanToNum(f64, f64, f64),
    RoundDecimals(i64),
    Erfc,
    Erfinv,
    Lgamma,
    /// the n-th derivative of digamma (n = 0: digamma)
    Polygamma(f64),
}

impl UnaryOp {
    /// The variant's index in declaration order: the op code of rust/cuda/kernels/unary.cu,
    /// whose `UnaryCode` lists the ops in this order.
    pub fn code(self) -> i32 {
        // SAFETY: a `repr(i32)` enum with fields is laid out as a `repr(C)` union of `repr(C)`
        // structs that each start with the i32 tag (the Reference, "Primitive representation of
        // enums with fields"), so the first 4 bytes of any value are its tag, which counts the
        // variants from 0 in declaration order (no explicit discriminants here).
        unsafe { *(&self as *const UnaryOp as *const i32) }
    }

    /// The op's parameters, in the order the kernels read them (p0, p1, p2).
    pub fn params(self) -> [f64; 3] {
        use UnaryOp::*;
        match self {
            PowScalar(a) | RPowScalar(a) | LeakyRelu(a) | Celu(a) | Polygamma(a) => [a, 0.0, 0.0],
            Elu(a, b, c) | NanToNum(a, b, c) => [a, b, c],
            Softplus(a, b) | Clamp(a, b) | Threshold(a, b) => [a, b, 0.0],
            RoundDecimals(d) => [10f64.powi(d as i32), 0.0, 0.0],
            _ => [0.0; 3],
        }
    }

    fn keeps_int(self) -> bool {
        use UnaryOp::*;
        matches!(
            self,
            Neg | Abs
                | Sign
                | Floor
                | Ceil
                | Round
                | Trunc
                | Relu
                | Square
                | Clamp(..)
                | BitNot
                | Frac
                | Threshold(..)
        )
    }
    fn to_bool(self) -> bool {
        use UnaryOp::*;
        matches!(
            self,
            LogicalNot | IsNan | IsInf | IsFinite | IsPosInf | IsNegInf | SignBit
        )
    }
    fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "NegBackward0",
            Abs => "AbsBackward0",
            Exp => "ExpBackward0",
            Exp2 => "Exp2Backward0",
            Expm1 => "Expm1Backward0",
            Log => "LogBackward0",
            Log1p => "Log1PBackward0",
            Log2 => "Log2Backward0",
            Log10 => "Log10Backward0",
            Sqrt => "SqrtBackward0",
            Rsqrt => "RsqrtBackward0",
            Square => "PowBackward0",
            Sin => "SinBackward0",
            Cos => "CosBackward0",
            Tan => "TanBackward0",
            Asin => "AsinBackward0",
            Acos => "AcosBackward0",
            Atan => "AtanBackward0",
            Sinh => "SinhBackward0",
            Cosh => "CoshBackward0",
            Tanh => "TanhBackward0",
            Asinh => "AsinhBackward0",
            Acosh => "AcoshBackward0",
            Atanh => "AtanhBackward0",
            Sigmoid => "SigmoidBackward0",
            LogSigmoid => "LogSigmoidBackward0",
            Reciprocal => "ReciprocalBackward0",
            Relu => "ReluBackward0",
            Gelu | GeluTanh => "GeluBackward0",
            Silu => "SiluBackward0",
            Mish => "MishBackward0",
            Erf => "ErfBackward0",
            Softsign => "DivBackward0",
            Hardsigmoid => "HardsigmoidBackward0",
            Hardswish => "HardswishBackward0",
            Selu | Elu(..) => "EluBackward0",
            Celu(_) => "CeluBackward0",
            PowScalar(_) => "PowBackward0",
            RPowScalar(_) => "PowBackward1",
            LeakyRelu(_) => "LeakyReluBackward0",
            Softplus(..) => "SoftplusBackward0",
            Clamp(..) => "ClampBackward1",
            Threshold(..) => "ThresholdBackward0",
            NanToNum(..) => "NanToNumBackward0",
            Sign | Floor | Ceil | Round | Trunc | RoundDecimals(_) => "RoundBackward0",
            Frac => "FracBackward0",
            Erfc => "ErfcBackward0",
            Erfinv => "ErfinvBackward0",
            Lgamma => "LgammaBackward0",
            Polygamma(0.0) => "DigammaBackward0",
            Polygamma(_) => "PolygammaBackward0",
            _ => "NotDifferentiable",
        }
    }
}

const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

#[inline(always)]
fn c<F: Float>(v: f64) -> F {
    F::from(v).unwrap_or_else(F::nan)
}

/// The value of a float unary op at x.
#[inline(always)]
fn float_fn<F: Float>(op: UnaryOp, x: F) -> F {
    use UnaryOp::*;
    let one = F::one();
    let sigmoid = |x: F| one / (one + (-x).exp());
    let softplus = |x: F| if x > c(20.0) { x } else { x.exp().ln_1p() };
    match op {
        Neg => -x,
        Abs => x.abs(),
        Sign => {
            if x > F::zero() {
                one
            } else if x < F::zero() {
                -one
            } else {
                x * F::zero()
            }
        }
        Exp => x.exp(),
        Exp2 => x.exp2(),
        Expm1 => x.exp_m1(),
        Log => x.ln(),
        Log1p => x.ln_1p(),
        Log2 => x.log2(),
        Log10 => x.log10(),
        Sqrt => x.sqrt(),
        Rsqrt => one / x.sqrt(),
        Square => x * x,
        Sin => x.sin(),
        Cos => x.cos(),
        Tan => x.tan(),
        Asin => x.asin(),
        Acos => x.acos(),
        Atan => x.atan(),
        Sinh => x.sinh(),
        Cosh => x.cosh(),
        Tanh => x.tanh(),
        Asinh => x.asinh(),
        Acosh => x.acosh(),
        Atanh => x.atanh(),
        Sigmoid => sigmoid(x),
        LogSigmoid => -softplus(-x),
        Floor => x.floor(),
        Ceil => x.ceil(),
        Round => round_half_even(x),
        RoundDecimals(d) => {
            let s: F = c(10f64.powi(d as i32));
            round_half_even(x * s) / s
        }
        Trunc => x.trunc(),
        Frac => x - x.trunc(),
        Reciprocal => one / x,
        Relu => {
            // NaN passes through, as in PyTorch
            if x > F::zero() || x.is_nan() {
                x
            } else {
                F::zero()
            }
        }
        Gelu => x * c::<F>(0.5) * (one + erf(x * c::<F>(std::f64::consts::FRAC_1_SQRT_2))),
        GeluTanh => {
            let k: F = c(0.797_884_560_802_865_4);
            c::<F>(0.5) * x * (one + (k * (x + c::<F>(0.044715) * x * x * x)).tanh())
        }
        Silu => x * sigmoid(x),
        Mish => x * softplus(x).tanh(),
        Erf => erf(x),
        Erfc => via_f64(x, special::erfc_f64),
        Erfinv => via_f64(x, special::erfinv_f64),
        Lgamma => via_f64(x, special::lgamma_f64),
        Polygamma(n) => via_f64(x, |v| special::polygamma_f64(n, v)),
        Softsign => x / (one + x.abs()),
        Hardsigmoid => (x / c(6.0) + c(0.5)).max(F::zero()).min(one),
        Hardswish => x * (x + c(3.0)).max(F::zero()).min(c(6.0)) / c(6.0),
        Selu => {
            if x > F::zero() {
                c::<F>(SELU_SCALE) * x
            } else {
                c::<F>(SELU_SCALE * SELU_ALPHA) * x.exp_m1()
            }
        }
        PowScalar(p) => {
            if p == 2.0 {
                x * x
            } else {
                x.powf(c(p))
            }
        }
        RPowScalar(b) => c::<F>(b).powf(x),
        LeakyRelu(s) => {
            if x > F::zero() {
                x
            } else {
                x * c(s)
            }
        }
        Elu(alpha, scale, input_scale) => {
            if x > F::zero() {
                x * c(scale)
            } else {
                c::<F>(alpha * scale) * (x * c(input_scale)).exp_m1()
            }
        }
        Celu(alpha) => x.max(F::zero()) + (c::<F>(alpha) * (x / c(alpha)).exp_m1()).min(F::zero()),
        Softplus(beta, threshold) => {
            let bx = x * c(beta);
            if bx > c(threshold) {
                x
            } else {
                bx.exp().ln_1p() / c(beta)
            }
        }
        Clamp(lo, hi) => {
            if x.is_nan() {
                x
            } else {
                x.max(c(lo)).min(c(hi))
            }
        }
        Threshold(th, v) => {
            if x > c(th) {
                x
            } else {
                c(v)
            }
        }
        NanToNum(nan, pinf, ninf) => {
            if x.is_nan() {
                c(nan)
            } else if x == F::infinity() {
                c(pinf)
            } else if x == F::neg_infinity() {
                c(ninf)
            } else {
                x
            }
        }
        LogicalNot | BitNot | IsNan | IsInf | IsFinite | IsPosInf | IsNegInf | SignBit => x,
    }
}

/// d op / dx at x (for the formulas not written as tensor expressions).
#[inline(always)]
fn float_deriv<F: Float>(op: UnaryOp, x: F) -> F {
    use UnaryOp::*;
    let one = F::one();
    let sigmoid = |x: F| one / (one + (-x).exp());
    match op {
        Gelu => {
            let cdf = c::<F>(0.5) * (one + erf(x * c::<F>(std::f64::consts::FRAC_1_SQRT_2)));
            let pdf = (-(x * x) * c(0.5)).exp() * c(0.398_942_280_401_432_7);
            cdf + x * pdf
        }
        GeluTanh => {
            let k: F = c(0.797_884_560_802_865_4);
            let inner = k * (x + c::<F>(0.044715) * x * x * x);
            let t = inner.tanh();
            c::<F>(0.5) * (one + t)
                + c::<F>(0.5) * x * (one - t * t) * k * (one + c::<F>(3.0 * 0.044715) * x * x)
        }
        Silu => {
            let s = sigmoid(x);
            s * (one + x * (one - s))
        }
        Mish => {
            let sp = if x > c(20.0) { x } else { x.exp().ln_1p() };
            let t = sp.tanh();
            t + x * (one - t * t) * sigmoid(x)
        }
        Erf => (-(x * x)).exp() * c(std::f64::consts::FRAC_2_SQRT_PI),
        Softsign => one / ((one + x.abs()) * (one + x.abs())),
        LogSigmoid => sigmoid(-x),
        Hardsigmoid => {
            if x > c(-3.0) && x < c(3.0) {
                c(1.0 / 6.0)
            } else {
                F::zero()
            }
        }
        Hardswish => {
            if x < c(-3.0) {
                F::zero()
            } else if x <= c(3.0) {
                x / c(3.0) + c(0.5)
            } else {
                one
            }
        }
        Selu => {
            if x > F::zero() {
                c(SELU_SCALE)
            } else {
                c::<F>(SELU_SCALE * SELU_ALPHA) * x.exp()
            }
        }
        LeakyRelu(s) => {
            if x > F::zero() {
                one
            } else {
                c(s)
            }
        }
        Elu(alpha, scale, input_scale) => {
            if x > F::zero() {
                c(scale)
            } else {
                c::<F>(alpha * scale * input_scale) * (x * c(input_scale)).exp()
            }
        }
        Celu(alpha) => {
            if x > F::zero() {
                one
            } else {
                (x / c(alpha)).exp()
            }
        }
        Softplus(beta, threshold) => {
            let bx = x * c(beta);
            if bx > c(threshold) {
                one
            } else {
                sigmoid(bx)
            }
        }
        Clamp(lo, hi) => {
            if x >= c(lo) && x <= c(hi) {
                one
            } else {
                F::zero()
            }
        }
        Threshold(th, _) => {
            if x > c(th) {
                one
            } else {
                F::zero()
            }
        }
        Relu => {
            if x > F::zero() {
                one
            } else {
                F::zero()
            }
        }
        NanToNum(..) => {
            if x.is_finite() {
                one
            } else {
                F::zero()
            }
        }
        Abs => {
            if x > F::zero() {
                one
            } else if x < F::zero() {
                -one
            } else {
                F::zero()
            }
        }
        _ => F::nan(),
    }
}

fn int_fn<T: IntElem>(op: UnaryOp, x: T) -> T {
    use UnaryOp::*;
    match op {
        Neg => x.ineg(),
        Abs => x.iabs(),
        Sign => T::from_i64(x.to_i64().signum()),
        Square => x.wmul(x),
        Relu => {
            if x > T::zero() {
                x
            } else {
                T::zero()
            }
        }
        Clamp(lo, hi) => T::from_f64(x.to_f64().max(lo).min(hi)),
        Threshold(th, v) => {
            if x.to_f64() > th {
                x
            } else {
                T::from_f64(v)
            }
        }
        BitNot => x.bitnot(),
        Frac => T::zero(),
        _ => x,
    }
}

impl Tensor {
    /// An element-wise unary op (ints promote to the default float dtype where the op is a float function).
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        use UnaryOp::*;
        if op.to_bool() {
            let out = Tensor::empty(self.shape(), DType::Bool, self.device())?;
            if kernel_took!(self, crate::cuda::ops::unary_test(op, &out, self)) {
                return Ok(out);
            }
            crate::dispatch_float!(self.dtype, T => map1::<T, bool>(&out, self, move |v| {
                let x = v.to_c();
                match op {
                    IsNan => x.is_nan(),
                    IsInf => x.is_infinite(),
                    IsFinite => x.is_finite(),
                    IsPosInf => x.is_infinite() && x.is_sign_positive(),
                    IsNegInf => x.is_infinite() && x.is_sign_negative(),
                    SignBit => x.is_sign_negative(),
                    _ => x.is_zero(),
                }
            }), _ => crate::dispatch_all!(self.dtype, T => map1::<T, bool>(&out, self, move |v| match op {
                IsNan | IsInf | IsPosInf | IsNegInf => false,
                IsFinite => true,
                SignBit => v.to_i64() < 0,
                _ => v == T::default(),
            })));
            return Ok(out);
        }
        if self.dtype == DType::Bool && op == BitNot {
            let out = Tensor::empty(self.shape(), DType::Bool, self.device())?;
            if !kernel_took!(self, crate::cuda::ops::unary_test(LogicalNot, &out, self)) {
                map1::<bool, bool>(&out, self, |v| !v);
            }
            return Ok(out);
        }
        if !self.dtype.is_float() && op.keeps_int() {
            if self.dtype == DType::Bool {
                if op == Neg {
                    crate::bail!(Runtime, "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.");
                }
                return self.cast_raw(DType::I64)?.unary(op)?.cast_raw(DType::Bool);
            }
            let out = Tensor::empty(self.shape(), self.dtype, self.device())?;
            if !kernel_took!(self, crate::cuda::ops::unary_int(op, &out, self)) {
                crate::dispatch_int!(self.dtype, T => map1::<T, T>(&out, self, move |v| int_fn(op, v)), _ => unreachable!());
            }
            return Ok(out);
        }
        if op == BitNot {
            crate::bail!(
                Runtime,
                "\"bitwise_not_cpu\" not implemented for '{}'",
                crate::ops::dtype_title(self.dtype)
            );
        }
        let x = if self.dtype.is_float() {
            self.clone()
        } else {
            self.cast(default_dtype())?
        };
        let out = Tensor::empty(x.shape(), x.dtype, x.device())?;
        float_unary(op, &out, &x)?;
        if needs_grad(&[&x]) {
            return Ok(unary_backward(op, &x, out));
        }
        Ok(out)
    }

    /// `op(self, out=out)` computed straight into `out` when nothing needs recording and `out`
    /// already has self's shape and (float) dtype and does not overlap self except exactly;
    /// false (nothing written) when the caller must compute a result and copy it instead.
    pub fn unary_into(&self, op: UnaryOp, out: &Tensor) -> Result<bool> {
        let same_storage = std::ptr::eq(self.storage.as_ref(), out.storage.as_ref());
        if !self.dtype.is_float()
            || out.dtype != self.dtype
            || out.shape() != self.shape()
            || op.to_bool()
            || needs_grad(&[self, out])
            || (same_storage && self.layout != out.layout)
            || out.check_no_internal_overlap().is_err()
        {
            return Ok(false);
        }
        float_unary(op, out, self)?;
        out.bump_version();
        Ok(true)
    }

    /// f'(x) element-wise, for formulas that are not tensor expressions.
    pub fn unary_deriv(&self, op: UnaryOp) -> Result<Tensor> {
        let out = Tensor::empty(self.shape(), self.dtype, self.device())?;
        if kernel_took!(self, crate::cuda::ops::unary_deriv(op, &out, self)) {
            return Ok(out);
        }
        crate::dispatch_float!(self.dtype, T => map1::<T, T>(&out, self, move |v| T::from_c(float_deriv(op, v.to_c()))),
            _ => crate::bail!(Runtime, "derivative of a non-float tensor"));
        Ok(out)
    }

    /// The in-place form of a unary op.
    pub fn unary_(&mut self, op: UnaryOp) -> Result<()> {
        self.check_no_internal_overlap()?;
        if needs_grad(&[self]) {
            self.check_inplace()?;
            let result = self.saved_copy()?.unary(op)?;
            return self.assign_result(result);
        }
        let result_float = !self.dtype.is_float() && !op.keeps_int() && !op.to_bool();
        if result_float {
            crate::bail!(
                Runtime,
                "result type {} can't be cast to the desired output type {}",
                crate::ops::dtype_title(default_dtype()),
                crate::ops::dtype_title(self.dtype)
            );
        }
        if self.dtype.is_float() && !op.to_bool() {
            float_unary(op, self, self)?;
        } else {
            let r = self.unary(op)?;
            self.copy_raw(&r)?;
        }
        self.bump_version();
        Ok(())
    }
}

/// `out = op(x)` for float x: a kernel when out is on a GPU and one takes the case, else the host loop.
fn float_unary(op: UnaryOp, out: &Tensor, x: &Tensor) -> Result<()> {
    if !kernel_took!(out, crate::cuda::ops::unary(op, out, x)) {
        float_unary_kernel(op, out, x);
    }
    Ok(())
}

fn float_unary_kernel(op: UnaryOp, out: &Tensor, x: &Tensor) {
    use UnaryOp::*;
    fn go<T: FloatElem>(op: UnaryOp, out: &Tensor, x: &Tensor)
    where
        T::C: VFloat,
    {
        // Hot ops get their own monomorphised loop (compiled per SIMD level) so they vectorise;
        // exp and the ops built on it use the polynomial exp (libm's is a scalar call).
        let one = <T::C as num_traits::One>::one();
        match op {
            Neg => map1_simd::<T, T, _>(out, x, |v| T::from_c(-v.to_c())),
            Relu => map1_simd::<T, T, _>(out, x, |v| T::from_c(float_fn(Relu, v.to_c()))),
            Exp => map1_simd_fused::<T, T, _, _>(
                out,
                x,
                |v| T::from_c(v.to_c().vexp()),
                |v| T::from_c(v.to_c().vexp_fused()),
            ),
            Tanh => map1::<T, T>(out, x, |v| T::from_c(v.to_c().tanh())),
            Sigmoid => map1_simd_fused::<T, T, _, _>(
                out,
                x,
                move |v| T::from_c(one / (one + (-v.to_c()).vexp())),
                move |v| T::from_c(one / (one + (-v.to_c()).vexp_fused())),
            ),
            Silu => map1_simd_fused::<T, T, _, _>(
                out,
                x,
                move |v| T::from_c(v.to_c() / (one + (-v.to_c()).vexp())),
                move |v| T::from_c(v.to_c() / (one + (-v.to_c()).vexp_fused())),
            ),
            Sqrt => map1_simd::<T, T, _>(out, x, |v| T::from_c(v.to_c().sqrt())),
            Abs => map1_simd::<T, T, _>(out, x, |v| T::from_c(v.to_c().abs())),
            Square => map1_simd::<T, T, _>(out, x, |v| T::from_c(v.to_c() * v.to_c())),
            _ => map1::<T, T>(out, x, move |v| T::from_c(float_fn(op, v.to_c()))),
        }
    }
    crate::dispatch_float!(x.dtype, T => go::<T>(op, out, x), _ => unreachable!("float kernel on {:?}", x.dtype))
}

/// A unary op's backward: the input's gradient from the output's.
type GradFn = Box<dyn Fn(&Tensor) -> Result<Tensor> + Send>;

/// Records the backward of a float unary op at input x with output out.
fn unary_backward(op: UnaryOp, x: &Tensor, out: Tensor) -> Tensor {
    use UnaryOp::*;
    let sx = Saved::new(x);
    let so = Saved::output(&out);
    let name = op.name();
    let f: GradFn = match op {
        Neg => Box::new(|g| g.neg()),
        Exp => Box::new(move |g| g.mul(&so.value()?)),
        Exp2 => Box::new(move |g| g.mul(&so.value()?)?.mul_scalar(std::f64::consts::LN_2)),
        Expm1 => Box::new(move |g| g.mul(&so.value()?.add_scalar(1.0)?)),
        Log => Box::new(move |g| g.div(sx.get()?)),
        Log1p => Box::new(move |g| g.div(&sx.get()?.add_scalar(1.0)?)),
        Log2 => Box::new(move |g| g.div(&sx.get()?.mul_scalar(std::f64::consts::LN_2)?)),
        Log10 => Box::new(move |g| g.div(&sx.get()?.mul_scalar(std::f64::consts::LN_10)?)),
        Sqrt => Box::new(move |g| g.div(&so.value()?.mul_scalar(2.0)?)),
        Rsqrt => Box::new(move |g| {
            let o = &so.value()?;
            g.mul(&o.mul(o)?.mul(o)?)?.mul_scalar(-0.5)
        }),
        Square | PowScalar(_) => {
            let p = if let PowScalar(p) = op { p } else { 2.0 };
            Box::new(move |g| {
                if p == 0.0 {
                    return g.mul_scalar(0.0);
                }
                g.mul(&sx.get()?.unary(PowScalar(p - 1.0))?)?.mul_scalar(p)
            })
        }
        RPowScalar(b) => Box::new(move |g| g.mul(&so.value()?)?.mul_scalar(b.ln())),
        Sin => Box::new(move |g| g.mul(&sx.get()?.unary(Cos)?)),
        Cos => Box::new(move |g| g.mul(&sx.get()?.unary(Sin)?)?.neg()),
        Tan => Box::new(move |g| {
            let o = &so.value()?;
            g.mul(&o.mul(o)?.add_scalar(1.0)?)
        }),
        Asin => Box::new(move |g| {
            g.mul(
                &sx.get()?
                    .unary(Square)?
                    .neg()?
                    .add_scalar(1.0)?
                    .unary(Rsqrt)?,
            )
        }),
        Acos => Box::new(move |g| {
            g.mul(
                &sx.get()?
                    .unary(Square)?
                    .neg()?
                    .add_scalar(1.0)?
                    .unary(Rsqrt)?,
            )?
            .neg()
        }),
        Atan => Box::new(move |g| g.div(&sx.get()?.unary(Square)?.add_scalar(1.0)?)),
        Sinh => Box::new(move |g| g.mul(&sx.get()?.unary(Cosh)?)),
        Cosh => Box::new(move |g| g.mul(&sx.get()?.unary(Sinh)?)),
        Asinh => Box::new(move |g| g.mul(&sx.get()?.unary(Square)?.add_scalar(1.0)?.unary(Rsqrt)?)),
        Acosh => {
            Box::new(move |g| g.mul(&sx.get()?.unary(Square)?.add_scalar(-1.0)?.unary(Rsqrt)?))
        }
        Atanh => Box::new(move |g| g.div(&sx.get()?.unary(Square)?.neg()?.add_scalar(1.0)?)),
        Tanh => Box::new(move |g| {
            let o = &so.value()?;
            g.mul(&o.mul(o)?.neg()?.add_scalar(1.0)?)
        }),
        Sigmoid => Box::new(move |g| {
            let o = &so.value()?;
            g.mul(&o.mul(&o.neg()?.add_scalar(1.0)?)?)
        }),
        Reciprocal => Box::new(move |g| {
            let o = &so.value()?;
            g.mul(&o.mul(o)?)?.neg()
        }),
        Relu => Box::new(move |g| g.mul(&so.get()?.cmp_scalar(BinaryOp::Gt, 0.0)?.cast(g.dtype)?)),
        Sign | Floor | Ceil | Round | RoundDecimals(_) | Trunc => Box::new(|g| g.mul_scalar(0.0)),
        Frac => Box::new(|g| Ok(g.clone())),
        // d erfc = -2/sqrt(pi) exp(-x²); d erfinv = sqrt(pi)/2 exp(erfinv(x)²); d lgamma = digamma;
        // d polygamma(n) = polygamma(n + 1): tensor expressions, so every order is differentiable
        Erfc => Box::new(move |g| {
            let x = sx.get()?;
            g.mul(
                &x.mul(x)?
                    .neg()?
                    .unary(Exp)?
                    .mul_scalar(-std::f64::consts::FRAC_2_SQRT_PI)?,
            )
        }),
        Erfinv => Box::new(move |g| {
            let o = &so.value()?;
            g.mul(
                &o.mul(o)?
                    .unary(Exp)?
                    .mul_scalar(std::f64::consts::PI.sqrt() / 2.0)?,
            )
        }),
        Lgamma => Box::new(move |g| g.mul(&sx.get()?.unary(Polygamma(0.0))?)),
        Polygamma(n) => Box::new(move |g| g.mul(&sx.get()?.unary(Polygamma(n + 1.0))?)),
        _ => Box::new(move |g| {
            let x = sx.get()?;
            // building a graph of the backward pass: the derivative must itself be differentiable
            if crate::autograd::is_grad_enabled() {
                if let Some(d) = deriv_expr(op, x)? {
                    return g.mul(&d);
                }
            }
            g.mul(&x.unary_deriv(op)?)
        }),
    };
    record1(name, &[x], out, move |g| Ok(vec![Some(f(g)?)]))
}

/// d op / dx written in differentiable tensor ops (for `create_graph=True`; the fused
/// `unary_deriv` kernel is used otherwise). None for ops whose derivative is piecewise constant.
fn deriv_expr(op: UnaryOp, x: &Tensor) -> Result<Option<Tensor>> {
    use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI};
    use UnaryOp::*;
    let sig = |t: &Tensor| t.unary(Sigmoid);
    Ok(Some(match op {
        Gelu => {
            let cdf = x
                .mul_scalar(FRAC_1_SQRT_2)?
                .unary(Erf)?
                .mul_scalar(0.5)?
                .add_scalar(0.5)?;
            let pdf = x
                .mul(x)?
                .mul_scalar(-0.5)?
                .unary(Exp)?
                .mul_scalar(0.398_942_280_401_432_7)?;
            cdf.add(&x.mul(&pdf)?)?
        }
        GeluTanh => {
            let k = 0.797_884_560_802_865_4;
            let x2 = x.mul(x)?;
            let t = x
                .add(&x2.mul(x)?.mul_scalar(0.044715)?)?
                .mul_scalar(k)?
                .unary(Tanh)?;
            let left = t.mul_scalar(0.5)?.add_scalar(0.5)?;
            let dt = t.mul(&t)?.neg()?.add_scalar(1.0)?;
            let inner = x2
                .mul_scalar(3.0 * 0.044715)?
                .add_scalar(1.0)?
                .mul_scalar(k)?;
            left.add(&x.mul(&dt)?.mul(&inner)?.mul_scalar(0.5)?)?
        }
        Silu => {
            let s = sig(x)?;
            s.mul(&x.mul(&s.neg()?.add_scalar(1.0)?)?.add_scalar(1.0)?)?
        }
        Mish => {
            let t = x.unary(Exp)?.unary(Log1p)?.unary(Tanh)?;
            t.add(&x.mul(&t.mul(&t)?.neg()?.add_scalar(1.0)?)?.mul(&sig(x)?)?)?
        }
        Erf => x.mul(x)?.neg()?.unary(Exp)?.mul_scalar(FRAC_2_SQRT_PI)?,
        LogSigmoid => sig(&x.neg()?)?,
        Softsign => {
            let d = x.unary(Abs)?.add_scalar(1.0)?;
            d.mul(&d)?.unary(Reciprocal)?
        }
        _ => return Ok(None),
    }))
}

/// `Tensor.lerp(end, weight)`, `addcmul`, `addcdiv` as compositions (their formulas follow).
impl Tensor {
    pub fn lerp(&self, end: &Tensor, weight: Operand) -> Result<Tensor> {
        let w = weight.to_tensor(self.dtype)?;
        self.add(&end.sub(self)?.mul(&w)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn unary_codes_follow_the_kernels_list() {
        use UnaryOp::*;
        let src = include_str!("../cuda/kernels/unary.cu");
        let list = &src[src.find("enum UnaryCode {").unwrap() + 16..];
        let cuda: Vec<&str> = list[..list.find("};").unwrap()]
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        let ops = [
            (Neg, "U_NEG"),
            (Abs, "U_ABS"),
            (Sign, "U_SIGN"),
            (Exp, "U_EXP"),
            (Exp2, "U_EXP2"),
            (Expm1, "U_EXPM1"),
            (Log, "U_LOG"),
            (Log1p, "U_LOG1P"),
            (Log2, "U_LOG2"),
            (Log10, "U_LOG10"),
            (Sqrt, "U_SQRT"),
            (Rsqrt, "U_RSQRT"),
            (Square, "U_SQUARE"),
            (Sin, "U_SIN"),
            (Cos, "U_COS"),
            (Tan, "U_TAN"),
            (Asin, "U_ASIN"),
            (Acos, "U_ACOS"),
            (Atan, "U_ATAN"),
            (Sinh, "U_SINH"),
            (Cosh, "U_COSH"),
            (Tanh, "U_TANH"),
            (Asinh, "U_ASINH"),
            (Acosh, "U_ACOSH"),
            (Atanh, "U_ATANH"),
            (Sigmoid, "U_SIGMOID"),
            (LogSigmoid, "U_LOGSIGMOID"),
            (Floor, "U_FLOOR"),
            (Ceil, "U_CEIL"),
            (Round, "U_ROUND"),
            (Trunc, "U_TRUNC"),
            (Frac, "U_FRAC"),
            (Reciprocal, "U_RECIPROCAL"),
            (Relu, "U_RELU"),
            (Gelu, "U_GELU"),
            (GeluTanh, "U_GELU_TANH"),
            (Silu, "U_SILU"),
            (Mish, "U_MISH"),
            (Erf, "U_ERF"),
            (Softsign, "U_SOFTSIGN"),
            (Hardsigmoid, "U_HARDSIGMOID"),
            (Hardswish, "U_HARDSWISH"),
            (Selu, "U_SELU"),
            (LogicalNot, "U_LOGICAL_NOT"),
            (BitNot, "U_BIT_NOT"),
            (IsNan, "U_IS_NAN"),
            (IsInf, "U_IS_INF"),
            (IsFinite, "U_IS_FINITE"),
            (IsPosInf, "U_IS_POS_INF"),
            (IsNegInf, "U_IS_NEG_INF"),
            (SignBit, "U_SIGN_BIT"),
            (PowScalar(3.0), "U_POW"),
            (RPowScalar(2.0), "U_RPOW"),
            (LeakyRelu(0.1), "U_LEAKY_RELU"),
            (Elu(1.0, 1.0, 1.0), "U_ELU"),
            (Celu(1.0), "U_CELU"),
            (Softplus(1.0, 20.0), "U_SOFTPLUS"),
            (Clamp(0.0, 1.0), "U_CLAMP"),
            (Threshold(0.0, 0.0), "U_THRESHOLD"),
            (NanToNum(0.0, 1.0, -1.0), "U_NAN_TO_NUM"),
            (RoundDecimals(2), "U_ROUND_DECIMALS"),
            (Erfc, "U_ERFC"),
            (Erfinv, "U_ERFINV"),
            (Lgamma, "U_LGAMMA"),
            (Polygamma(0.0), "U_POLYGAMMA"),
        ];
        assert_eq!(cuda.len(), ops.len());
        for (op, name) in ops {
            assert_eq!(cuda[op.code() as usize], name, "{:?}", op);
        }
        assert_eq!(Clamp(-1.0, 2.0).params(), [-1.0, 2.0, 0.0]);
    }
    #[test]
    fn broadcast_add() {
        let a = Tensor::from_vec(&[1f32, 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
        let b = Tensor::from_vec(&[10f32, 20., 30.], &[3]).unwrap();
        let c = a.add(&b).unwrap();
        assert_eq!(c.to_vec::<f32>(), vec![11., 22., 33., 14., 25., 36.]);
    }
    #[test]
    fn int_true_divide_gives_float() {
        let a = Tensor::from_vec(&[1i64, 2, 3], &[3]).unwrap();
        let c = a.binary(Operand::S(Scalar::Int(2)), BinaryOp::Div).unwrap();
        assert_eq!(c.dtype, DType::F32);
        assert_eq!(c.to_vec::<f32>(), vec![0.5, 1., 1.5]);
    }
    #[test]
    fn big_parallel_add_matches() {
        let n = 100_000;
        let v: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let a = Tensor::from_vec(&v, &[n]).unwrap();
        let c = a.add(&a).unwrap().to_vec::<f32>();
        assert!(c.iter().enumerate().all(|(i, &x)| x == 2.0 * i as f32));
    }
}
