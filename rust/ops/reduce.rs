//! Reductions over any set of dims (negative dims, keepdim), with their backward formulas.
//! One kernel shape: outputs are the kept dims, each reduces its slice of the reduced dims;
//! work is split across threads over outputs, or over the slice when there are few outputs.

use crate::autograd::{needs_grad, record, record1, Saved};
use crate::tensor::{is_nan, wrap_dim, DType, Device, Dims, Elem, Layout, Result, Tensor};
use rayon::prelude::*;
use smallvec::SmallVec;

/// `x` is strictly more extreme than `b` (greater for max, smaller for min).
#[inline(always)]
fn beats<T: PartialOrd>(x: T, b: T, is_max: bool) -> bool {
    if is_max {
        x > b
    } else {
        x < b
    }
}

/// Resolves a dims argument (None = all dims) into sorted unique dims.
pub fn resolve_dims(dims: Option<&[i64]>, ndim: usize) -> Result<Vec<usize>> {
    let mut out = match dims {
        None => (0..ndim).collect::<Vec<_>>(),
        Some([]) => (0..ndim).collect(),
        Some(ds) => {
            let mut v = Vec::new();
            for &d in ds {
                let w = wrap_dim(d, ndim)?;
                if v.contains(&w) {
                    crate::bail!(
                        Runtime,
                        "dim {} appears multiple times in the list of dims",
                        w
                    );
                }
                v.push(w);
            }
            v
        }
    };
    out.sort_unstable();
    out.retain(|&d| d < ndim.max(1));
    if ndim == 0 {
        out.clear();
    }
    Ok(out)
}

fn out_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Dims {
    let mut s: Dims = SmallVec::new();
    for (i, &d) in shape.iter().enumerate() {
        if dims.contains(&i) {
            if keepdim {
                s.push(1);
            }
        } else {
            s.push(d);
        }
    }
    s
}

struct Plan {
    kept: Layout,
    red: Layout,
}

fn plan(x: &Tensor, dims: &[usize]) -> Plan {
    let l = &x.layout;
    let pick = |want: bool| -> Layout {
        let idx: Vec<usize> = (0..l.ndim()).filter(|i| dims.contains(i) == want).collect();
        Layout {
            shape: idx.iter().map(|&i| l.shape[i]).collect(),
            strides: idx.iter().map(|&i| l.strides[i]).collect(),
            offset: 0,
        }
    };
    let mut kept = pick(false);
    kept.offset = l.offset;
    Plan {
        kept,
        red: pick(true),
    }
}

/// Storage offsets of every element of `l` (row-major).
fn offsets(l: &Layout) -> Vec<usize> {
    let mut v = Vec::with_capacity(l.numel());
    super::view::for_each_offset(l, |o| v.push(o));
    v
}

/// Folds each reduced slice: `step(acc, value, position_in_slice)`; `merge` joins partial folds.
fn fold<T: Elem, A: Copy + Send + Sync>(
    x: &Tensor,
    dims: &[usize],
    init: A,
    step: impl Fn(A, T, usize) -> A + Sync,
    merge: impl Fn(A, A) -> A + Sync,
) -> Vec<A> {
    let p = plan(x, dims);
    let (np, nk) = (p.kept.numel(), p.red.numel());
    let base = x.storage.as_ptr() as usize;
    let outs = offsets(&p.kept);
    // A reduced slice that is one strided run is walked directly; otherwise through its offsets.
    let single = {
        let mut shape = Vec::new();
        let mut strides = Vec::new();
        for (&d, &s) in p.red.shape.iter().zip(&p.red.strides) {
            if d != 1 {
                shape.push(d);
                strides.push(s);
            }
        }
        let mut ok = true;
        for i in 1..shape.len() {
            if strides[i - 1] != strides[i] * shape[i] {
                ok = false;
            }
        }
        if ok {
            Some(strides.last().copied().unwrap_or(1))
        } else {
            None
        }
    };
    let red_offs = if single.is_none() {
        offsets(&p.red)
    } else {
        Vec::new()
    };
    let slice = |o: usize, from: usize, to: usize| -> A {
        let ptr = base as *const T;
        let mut acc = init;
        match single {
            Some(s) => {
                for k in from..to {
                    // SAFETY: o + k*s addresses an element of x.
                    acc = step(acc, unsafe { *ptr.add(o + k * s) }, k);
                }
            }
            None => {
                for (k, &ro) in red_offs.iter().enumerate().take(to).skip(from) {
                    // SAFETY: as above.
                    acc = step(acc, unsafe { *ptr.add(o + ro) }, k);
                }
            }
        }
        acc
    };
    let threads = super::threads::get_num_threads();
    let big = np * nk >= super::iter::PAR_THRESHOLD && threads > 1;
    if big && np >= threads * 2 {
        outs.par_iter().map(|&o| slice(o, 0, nk)).collect()
    } else if big {
        // few outputs, long slices: split each slice across threads
        outs.iter()
            .map(|&o| {
                let chunks = threads * 4;
                let len = nk.div_ceil(chunks);
                (0..chunks)
                    .into_par_iter()
                    .map(|c| slice(o, (c * len).min(nk), ((c + 1) * len).min(nk)))
                    .reduce(|| init, &merge)
            })
            .collect()
    } else {
        let _ = np;
        outs.iter().map(|&o| slice(o, 0, nk)).collect()
    }
}

/// The reductions with GPU kernels.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Reduction {
    Sum,
    Prod,
    Max,
    Min,
}

/// The reduction as kernels when x lives on a GPU that runs them.
fn gpu_reduce(
    x: &Tensor,
    dims: &[usize],
    kind: Reduction,
    shape: &[usize],
) -> Result<Option<Tensor>> {
    #[cfg(feature = "cuda")]
    if x.device().is_cuda() {
        return crate::cuda::ops::reduce_dims(x, dims, kind, shape);
    }
    let _ = (x, dims, kind, shape);
    Ok(None)
}

fn finish<T: Elem>(vals: Vec<T>, shape: &[usize], dev: Device) -> Result<Tensor> {
    Tensor::from_vec_on(&vals, shape, dev)
}

impl Tensor {
    /// `sum(dims, keepdim)`; ints and bools sum into int64.
    pub fn sum_dims(&self, dims: &[usize], keepdim: bool) -> Result<Tensor> {
        self.sum_named(dims, keepdim, "SumBackward1")
    }

    /// `sum` recording under `name` (PyTorch: SumBackward0 for a full sum, SumBackward1 with dims).
    fn sum_named(&self, dims: &[usize], keepdim: bool, name: &'static str) -> Result<Tensor> {
        let shape = out_shape(self.shape(), dims, keepdim);
        let gpu = gpu_reduce(self, dims, Reduction::Sum, &shape)?;
        let fast = if gpu.is_some() {
            None
        } else if self.dtype.is_float() && self.is_contiguous() {
            crate::dispatch_float!(self.dtype, T => sum_contiguous::<T>(self, dims)?, _ => None)
        } else {
            None
        };
        let out = if let Some(out) = gpu {
            out
        } else if let Some(v) = fast {
            crate::dispatch_float!(self.dtype, T => finish::<T>(v.into_iter().map(T::from_f64).collect(), &shape, self.device())?, _ => unreachable!())
        } else if self.dtype.is_float() {
            crate::dispatch_float!(self.dtype, T => {
                let v = fold::<T, f64>(self, dims, 0.0, |a, x, _| a + x.to_f64(), |a, b| a + b);
                finish::<T>(v.into_iter().map(T::from_f64).collect(), &shape, self.device())?
            }, _ => unreachable!())
        } else {
            crate::dispatch_all!(self.dtype, T => {
                let v = fold::<T, i64>(self, dims, 0, |a, x, _| a.wrapping_add(x.to_i64()), |a, b| a.wrapping_add(b));
                finish::<i64>(v, &shape, self.device())?
            })
        };
        if needs_grad(&[self]) {
            let (orig, keep_shape) = (self.shape().to_vec(), out_shape(self.shape(), dims, true));
            return Ok(record1(name, &[self], out, move |g| {
                Ok(vec![Some(g.reshape(&keep_shape)?.broadcast_to(&orig)?)])
            }));
        }
        Ok(out)
    }

    pub fn sum(&self, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        let d = resolve_dims(dims, self.ndim())?;
        let name = if dims.is_none() {
            "SumBackward0"
        } else {
            "SumBackward1"
        };
        self.sum_named(&d, keepdim, name)
    }

    pub fn mean(&self, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        if !self.dtype.is_float() {
            crate::bail!(
                Runtime,
                "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
                crate::ops::dtype_title(self.dtype)
            );
        }
        let d = resolve_dims(dims, self.ndim())?;
        let count: usize = d.iter().map(|&i| self.shape()[i]).product();
        let s = {
            let _g = crate::autograd::GradModeGuard::new(false);
            self.sum_dims(&d, keepdim)?.mul_scalar(1.0 / count as f64)?
        };
        if needs_grad(&[self]) {
            let (orig, keep_shape) = (self.shape().to_vec(), out_shape(self.shape(), &d, true));
            let name = if dims.is_none() {
                "MeanBackward0"
            } else {
                "MeanBackward1"
            };
            return Ok(record1(name, &[self], s, move |g| {
                Ok(vec![Some(
                    g.reshape(&keep_shape)?
                        .broadcast_to(&orig)?
                        .mul_scalar(1.0 / count as f64)?,
                )])
            }));
        }
        Ok(s)
    }

    pub fn prod(&self, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        let d = resolve_dims(dims, self.ndim())?;
        let shape = out_shape(self.shape(), &d, keepdim);
        let out = if let Some(out) = gpu_reduce(self, &d, Reduction::Prod, &shape)? {
            out
        } else if self.dtype.is_float() {
            crate::dispatch_float!(self.dtype, T => {
                let v = fold::<T, f64>(self, &d, 1.0, |a, x, _| a * x.to_f64(), |a, b| a * b);
                finish::<T>(v.into_iter().map(T::from_f64).collect(), &shape, self.device())?
            }, _ => unreachable!())
        } else {
            crate::dispatch_all!(self.dtype, T => {
                let v = fold::<T, i64>(self, &d, 1, |a, x, _| a.wrapping_mul(x.to_i64()), |a, b| a.wrapping_mul(b));
                finish::<i64>(v, &shape, self.device())?
            })
        };
        if needs_grad(&[self]) {
            let sx = Saved::new(self);
            let (orig, keep_shape) = (self.shape().to_vec(), out_shape(self.shape(), &d, true));
            let one_dim = (d.len() == 1).then(|| d[0]);
            return Ok(record1("ProdBackward0", &[self], out, move |g| {
                // d prod / d x_i = product of the other elements: exclusive products from both
                // ends, no division (exact where inputs are zero, differentiable again)
                let g = g.reshape(&keep_shape)?.broadcast_to(&orig)?;
                let x = sx.get()?;
                let others = match one_dim {
                    Some(dim) => prod_of_others(x, dim)?,
                    None => prod_of_others(&x.reshape(&[x.numel()])?, 0)?.reshape(&orig)?,
                };
                Ok(vec![Some(g.mul(&others)?)])
            }));
        }
        Ok(out)
    }

    /// `max(dim)` / `min(dim)` → (values, indices); NaN wins, first index of the extreme.
    pub fn max_min_dim(&self, dim: i64, keepdim: bool, is_max: bool) -> Result<(Tensor, Tensor)> {
        let d = wrap_dim(dim, self.ndim())?;
        if self.ndim() > 0 && self.shape()[d] == 0 {
            crate::bail!(
                Index,
                "{}(): Expected reduction dim {} to have non-zero size.",
                if is_max { "max" } else { "min" },
                d
            );
        }
        let dims = if self.ndim() == 0 { vec![] } else { vec![d] };
        let shape = out_shape(self.shape(), &dims, keepdim);
        #[cfg(feature = "cuda")]
        let gpu = if self.device().is_cuda() && self.ndim() > 0 {
            crate::cuda::ops::extreme_dim(self, d, is_max, &shape)?
        } else {
            None
        };
        #[cfg(not(feature = "cuda"))]
        let gpu: Option<(Tensor, Tensor)> = None;
        let (vals, idx) = if let Some(r) = gpu {
            r
        } else {
            crate::dispatch_all!(self.dtype, T => {
                if let Some((vals, idx)) = super::reduce_fast::arg_extreme_rows::<T>(self, d, is_max) {
                    (finish::<T>(vals, &shape, self.device())?, finish::<i64>(idx, &shape, self.device())?)
                } else {
                    let r = fold::<T, (T, usize, bool)>(
                        self,
                        &dims,
                        (T::default(), 0, false),
                        move |(best, bi, seen), x, k| {
                            let better = !seen || (!is_nan(best) && (is_nan(x) || beats(x, best, is_max)));
                            if better { (x, k, true) } else { (best, bi, seen) }
                        },
                        move |a, b| {
                            if !a.2 { return b; }
                            if !b.2 { return a; }
                            if is_nan(a.0) { return a; }
                            if is_nan(b.0) { return b; }
                            if beats(b.0, a.0, is_max) { b } else { a }
                        },
                    );
                    let vals: Vec<T> = r.iter().map(|x| x.0).collect();
                    let idx: Vec<i64> = r.iter().map(|x| x.1 as i64).collect();
                    (finish::<T>(vals, &shape, self.device())?, finish::<i64>(idx, &shape, self.device())?)
                }
            })
        };
        if needs_grad(&[self]) {
            let orig = self.shape().to_vec();
            let keep_shape = out_shape(self.shape(), &dims, true);
            let ix = idx.reshape(&keep_shape)?;
            let name = if is_max {
                "MaxBackward0"
            } else {
                "MinBackward0"
            };
            let mut outs = record(name, &[self], vec![vals], move |g| {
                let Some(g) = &g[0] else {
                    return Ok(vec![None]);
                };
                let z = Tensor::zeros(&orig, g.dtype, g.device())?;
                Ok(vec![Some(z.scatter_valid_index(
                    d,
                    &ix,
                    &g.reshape(&keep_shape)?,
                    false,
                )?)])
            });
            return Ok((outs.remove(0), idx));
        }
        Ok((vals, idx))
    }

    /// `amax/amin(dims)`, also `max()`/`min()` with no dim. Gradient splits evenly among ties.
    pub fn amax_amin(&self, dims: Option<&[i64]>, keepdim: bool, is_max: bool) -> Result<Tensor> {
        let d = resolve_dims(dims, self.ndim())?;
        if self.numel() == 0 && dims.is_some() && d.iter().all(|&k| self.shape()[k] > 0) {
            // only non-empty dims reduced: the result is empty too
            let shape = out_shape(self.shape(), &d, keepdim);
            return Tensor::empty(&shape, self.dtype, self.device());
        }
        if self.numel() == 0 {
            crate::bail!(
                Runtime,
                "{}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.",
                if is_max { "max" } else { "min" }
            );
        }
        let shape = out_shape(self.shape(), &d, keepdim);
        let kind = if is_max {
            Reduction::Max
        } else {
            Reduction::Min
        };
        let gpu = gpu_reduce(self, &d, kind, &shape)?;
        let fast = if gpu.is_some() {
            None
        } else {
            crate::dispatch_all!(self.dtype, T => {
                super::reduce_fast::extreme_contiguous::<T>(self, &d, is_max).map(|v| finish::<T>(v, &shape, self.device()))
            })
        };
        let out = if let Some(out) = gpu {
            out
        } else if let Some(out) = fast {
            out?
        } else {
            crate::dispatch_all!(self.dtype, T => {
                let r = fold::<T, Option<T>>(self, &d, None, move |best, x, _| match best {
                    None => Some(x),
                    Some(b) => {
                        // NaN wins and stays
                        if !is_nan(b) && (is_nan(x) || beats(x, b, is_max)) { Some(x) } else { Some(b) }
                    }
                }, move |a, b| match (a, b) {
                    (None, x) | (x, None) => x,
                    (Some(a), Some(b)) => {
                        if !is_nan(a) && (is_nan(b) || beats(b, a, is_max)) { Some(b) } else { Some(a) }
                    }
                });
                finish::<T>(r.into_iter().map(|v| v.unwrap_or_default()).collect(), &shape, self.device())?
            })
        };
        if needs_grad(&[self]) {
            let (sx, so) = (Saved::new(self), Saved::output(&out));
            let (orig, keep_shape) = (self.shape().to_vec(), out_shape(self.shape(), &d, true));
            let dims_i: Vec<i64> = d.iter().map(|&x| x as i64).collect();
            let name = if dims.is_none() {
                if is_max {
                    "MaxBackward1"
                } else {
                    "MinBackward1"
                }
            } else if is_max {
                "AmaxBackward0"
            } else {
                "AminBackward0"
            };
            return Ok(record1(name, &[self], out, move |g| {
                let o = so.get()?.reshape(&keep_shape)?;
                let mask = sx
                    .get()?
                    .binary(
                        super::elementwise::Operand::T(&o),
                        super::elementwise::BinaryOp::Eq,
                    )?
                    .cast(g.dtype)?;
                let count = mask.sum(Some(&dims_i), true)?;
                let g = g.reshape(&keep_shape)?.broadcast_to(&orig)?;
                Ok(vec![Some(g.mul(&mask)?.div(&count)?)])
            }));
        }
        Ok(out)
    }

    /// `argmax/argmin(dim=None)`.
    pub fn argmax_argmin(&self, dim: Option<i64>, keepdim: bool, is_max: bool) -> Result<Tensor> {
        match dim {
            Some(d) => Ok(self.max_min_dim(d, keepdim, is_max)?.1),
            None => {
                let flat = self.detach().reshape(&[self.numel()])?;
                let i = flat.max_min_dim(0, false, is_max)?.1;
                if keepdim {
                    i.reshape(&vec![1; self.ndim()])
                } else {
                    Ok(i)
                }
            }
        }
    }

    /// `var/std(dims, correction, keepdim)`.
    pub fn var_std(
        &self,
        dims: Option<&[i64]>,
        correction: f64,
        keepdim: bool,
        take_sqrt: bool,
    ) -> Result<Tensor> {
        if !self.dtype.is_float() {
            crate::bail!(
                Runtime,
                "std and var only support floating point and complex dtypes"
            );
        }
        let d = resolve_dims(dims, self.ndim())?;
        let n: usize = d.iter().map(|&i| self.shape()[i]).product();
        let dims_i: Vec<i64> = d.iter().map(|&x| x as i64).collect();
        let mean = self.mean(Some(&dims_i), true)?;
        let centered = self.sub(&mean)?;
        let denom = (n as f64 - correction).max(0.0);
        let var = centered
            .mul(&centered)?
            .sum(Some(&dims_i), keepdim)?
            .mul_scalar(1.0 / denom)?;
        if take_sqrt {
            var.unary(super::elementwise::UnaryOp::Sqrt)
        } else {
            Ok(var)
        }
    }

    /// `all/any(dims)` → bool.
    pub fn all_any(&self, dims: Option<&[i64]>, keepdim: bool, is_all: bool) -> Result<Tensor> {
        let d = resolve_dims(dims, self.ndim())?;
        let shape = out_shape(self.shape(), &d, keepdim);
        if self.device().is_cuda() && self.numel() > 0 {
            // on a GPU: (x != 0) as uint8, then its min (all) or max (any), as kernels
            let nz = self
                .detach()
                .cmp_scalar(super::elementwise::BinaryOp::Ne, 0.0)?
                .cast_raw(DType::U8)?;
            let kind = if is_all {
                Reduction::Min
            } else {
                Reduction::Max
            };
            if let Some(r) = gpu_reduce(&nz, &d, kind, &shape)? {
                return r.cast_raw(DType::Bool);
            }
        }
        let r = crate::dispatch_all!(self.dtype, T => fold::<T, bool>(
            self, &d, is_all,
            move |a, x, _| if is_all { a && x != T::default() } else { a || x != T::default() },
            move |a, b| if is_all { a && b } else { a || b },
        ));
        finish::<bool>(r, &shape, self.device())
    }

    /// `cumsum/cumprod(dim)`; ints accumulate into int64.
    pub fn cumulative(&self, dim: i64, is_sum: bool) -> Result<Tensor> {
        let d = if self.ndim() == 0 {
            0
        } else {
            wrap_dim(dim, self.ndim())?
        };
        let x = if self.dtype.is_float() {
            self.clone()
        } else {
            self.cast_raw(DType::I64)?
        };
        let x = x.detach().contiguous()?;
        let out = Tensor::empty(x.shape(), x.dtype, x.device())?;
        let (outer, len, inner) = split3(x.shape(), d);
        if !kernel_took!(
            x,
            crate::cuda::ops::cumulative(&out, &x, (outer, len, inner), is_sum)
        ) {
            crate::dispatch_all!(x.dtype, T => {
            let src = x.to_vec::<T>();
            let dst = out.data_ptr() as *mut T;
            for o in 0..outer {
                for i in 0..inner {
                    let mut acc = if is_sum { 0.0f64 } else { 1.0 };
                    let mut iacc: i64 = if is_sum { 0 } else { 1 };
                    for k in 0..len {
                        let idx = (o * len + k) * inner + i;
                        let v = src[idx];
                        // SAFETY: idx < numel of the fresh contiguous output.
                        unsafe {
                            if T::DTYPE.is_float() {
                                acc = if is_sum { acc + v.to_f64() } else { acc * v.to_f64() };
                                *dst.add(idx) = T::from_f64(acc);
                            } else {
                                iacc = if is_sum { iacc.wrapping_add(v.to_i64()) } else { iacc.wrapping_mul(v.to_i64()) };
                                *dst.add(idx) = T::from_i64(iacc);
                            }
                        }
                    }
                }
            }
            });
        }
        if needs_grad(&[self]) {
            let (sx, so) = (Saved::new(self), Saved::output(&out));
            let name = if is_sum {
                "CumsumBackward0"
            } else {
                "CumprodBackward0"
            };
            return Ok(record1(name, &[self], out, move |g| {
                let di = d as i64;
                // reverse cumulative sum of the incoming gradient
                let rev = |t: &Tensor| -> Result<Tensor> {
                    t.flip(&[di])?.cumulative(di, true)?.flip(&[di])
                };
                if is_sum {
                    Ok(vec![Some(rev(g)?)])
                } else {
                    Ok(vec![Some(rev(&g.mul(&so.value()?)?)?.div(sx.get()?)?)])
                }
            }));
        }
        Ok(out)
    }

    /// `logsumexp(dims)`, stable.
    pub fn logsumexp(&self, dims: &[i64], keepdim: bool) -> Result<Tensor> {
        let x = self.to_float()?;
        let m = x.detach().amax_amin(Some(dims), true, true)?;
        let m = Tensor::where_(
            &m.unary(super::elementwise::UnaryOp::IsInf)?,
            &Tensor::zeros(&[], m.dtype, m.device())?,
            &m,
        )?;
        let s = x
            .sub(&m)?
            .unary(super::elementwise::UnaryOp::Exp)?
            .sum(Some(dims), true)?;
        let r = s.unary(super::elementwise::UnaryOp::Log)?.add(&m)?;
        if keepdim {
            Ok(r)
        } else {
            r.squeeze(Some(dims))
        }
    }

    /// Vector p-norm over dims (p = inf / -inf / 0 / any).
    pub fn norm(&self, p: f64, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        use super::elementwise::UnaryOp::*;
        let x = self.to_float()?;
        let a = x.unary(Abs)?;
        if p == f64::INFINITY {
            return a.amax_amin(dims, keepdim, true);
        }
        if p == f64::NEG_INFINITY {
            return a.amax_amin(dims, keepdim, false);
        }
        if p == 0.0 {
            return a
                .cmp_scalar(super::elementwise::BinaryOp::Ne, 0.0)?
                .cast(x.dtype)?
                .sum(dims, keepdim);
        }
        if p == 2.0 {
            return x.mul(&x)?.sum(dims, keepdim)?.unary(Sqrt);
        }
        if p == 1.0 {
            return a.sum(dims, keepdim);
        }
        a.unary(PowScalar(p))?
            .sum(dims, keepdim)?
            .unary(PowScalar(1.0 / p))
    }

    /// Sum of all elements as f64 (for tests and scalar paths).
    pub fn sum_all_f64(&self) -> f64 {
        crate::dispatch_all!(self.dtype, T => fold::<T, f64>(self, &(0..self.ndim()).collect::<Vec<_>>(), 0.0, |a, x, _| a + x.to_f64(), |a, b| a + b)[0])
    }
}

/// Sum of a contiguous slice in f64 with independent lane accumulators (vectorises; no latency chain),
/// compiled for the widest SIMD the CPU has (f32 -> f64 conversion is 2 lanes wide in SSE2, 8 in AVX-512).
fn sum_lanes<T: Elem>(s: &[T]) -> f64 {
    super::vmath::simd_call(
        #[inline(always)]
        || sum_lanes_inline(s),
    )
}

#[inline(always)]
fn sum_lanes_inline<T: Elem>(s: &[T]) -> f64 {
    if T::DTYPE == DType::F32 {
        // SAFETY: T is f32.
        let f = unsafe { std::slice::from_raw_parts(s.as_ptr() as *const f32, s.len()) };
        return sum_f32_blocks(f);
    }
    // 32 lanes: four independent AVX-512 registers (eight AVX2 ones), so the adds overlap
    // instead of waiting on one register's latency
    const L: usize = 32;
    let mut acc = [0f64; L];
    let chunks = s.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..L {
            acc[i] += c[i].to_f64();
        }
    }
    acc.iter().sum::<f64>() + rest.iter().map(|v| v.to_f64()).sum::<f64>()
}

/// f32 sum: 64 f32 lanes summed over blocks of 1024 elements (16 values per lane, so f32 rounding
/// stays within ~16 ulp of each block's sum), the block sums accumulated in f64. Half the work per
/// element of converting everything to f64.
#[inline(always)]
fn sum_f32_blocks(s: &[f32]) -> f64 {
    const L: usize = 64;
    const BLOCK: usize = 1024;
    let mut total = [0f64; L];
    let blocks = s.chunks_exact(BLOCK);
    let rest = blocks.remainder();
    for b in blocks {
        let mut acc = [0f32; L];
        for c in b.chunks_exact(L) {
            for i in 0..L {
                acc[i] += c[i];
            }
        }
        for i in 0..L {
            total[i] += acc[i] as f64;
        }
    }
    let mut r = 0f64;
    for c in rest.chunks_exact(L) {
        for i in 0..L {
            total[i] += c[i] as f64;
        }
    }
    for &v in rest.chunks_exact(L).remainder() {
        r += v as f64;
    }
    total.iter().sum::<f64>() + r
}

/// Fast paths for a contiguous tensor reduced over a trailing block of dims (row sums) or a
/// leading block (column sums); None for other dim sets.
fn sum_contiguous<T: Elem>(x: &Tensor, dims: &[usize]) -> Result<Option<Vec<f64>>> {
    let nd = x.ndim();
    let k: usize = dims.iter().map(|&d| x.shape()[d]).product();
    let n = x.numel();
    if dims.is_empty() || n == 0 {
        return Ok(None);
    }
    // SAFETY: contiguous view of n elements.
    let data = unsafe { std::slice::from_raw_parts(x.data_ptr() as *const T, n) };
    let threads = super::threads::get_num_threads();
    let par = n >= super::iter::PAR_THRESHOLD && threads > 1;
    let trailing = dims
        .iter()
        .enumerate()
        .all(|(i, &d)| d == nd - dims.len() + i);
    let leading = dims.iter().enumerate().all(|(i, &d)| d == i);
    if trailing {
        let p = n / k;
        if p == 1 && par {
            let chunk = n.div_ceil(threads * 4);
            return Ok(Some(vec![data.par_chunks(chunk).map(sum_lanes).sum()]));
        }
        let v: Vec<f64> = if par {
            data.par_chunks(k).map(sum_lanes).collect()
        } else {
            data.chunks(k).map(sum_lanes).collect()
        };
        return Ok(Some(v));
    }
    if leading {
        let p = n / k;
        let col_sums = |lo: usize, hi: usize| -> Vec<f64> {
            let mut acc = vec![0f64; hi - lo];
            for r in 0..k {
                let row = &data[r * p + lo..r * p + hi];
                for (a, v) in acc.iter_mut().zip(row) {
                    *a += v.to_f64();
                }
            }
            acc
        };
        if par && p >= threads * 64 {
            let chunk = p.div_ceil(threads * 4);
            let parts: Vec<Vec<f64>> = (0..p.div_ceil(chunk))
                .into_par_iter()
                .map(|c| col_sums(c * chunk, ((c + 1) * chunk).min(p)))
                .collect();
            return Ok(Some(parts.concat()));
        }
        return Ok(Some(col_sums(0, p)));
    }
    Ok(None)
}

/// (prod of dims before d, size of d, prod of dims after d).
pub fn split3(shape: &[usize], d: usize) -> (usize, usize, usize) {
    if shape.is_empty() {
        return (1, 1, 1);
    }
    (
        shape[..d].iter().product(),
        shape[d],
        shape[d + 1..].iter().product(),
    )
}

/// For each element along `dim`: the product of all the other elements of its line
/// (exclusive cumulative products from the front and from the back, multiplied).
fn prod_of_others(x: &Tensor, dim: usize) -> Result<Tensor> {
    let n = x.shape()[dim];
    if n <= 1 {
        return Tensor::full(x.shape(), crate::Scalar::Float(1.0), x.dtype, x.device());
    }
    let di = dim as i64;
    let mut one_shape = x.shape().to_vec();
    one_shape[dim] = 1;
    let ones = Tensor::full(&one_shape, crate::Scalar::Float(1.0), x.dtype, x.device())?;
    let exclusive = |t: &Tensor| -> Result<Tensor> {
        let head = t.slice(dim, 0, n - 1, 1)?.cumulative(di, false)?;
        Tensor::cat(&[ones.clone(), head], di)
    };
    let front = exclusive(x)?;
    let back = exclusive(&x.flip(&[di])?)?.flip(&[di])?;
    front.mul(&back)
}
