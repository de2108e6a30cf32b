//! Fused neural-network kernels: softmax / log_softmax along a dim and layer norm, one autograd
//! node each (their formulas are tensor expressions, so double backward works).

#[cfg(feature = "cuda")]
use super::elementwise::BinaryOp;
use super::reduce::split3;
use crate::autograd::{needs_grad, record, record1, Saved};
#[cfg(feature = "cuda")]
use crate::tensor::DType;
use crate::tensor::{fmt_shape, wrap_dim, Elem, FloatElem, Result, Tensor};
use num_traits::Float;
use rayon::prelude::*;

/// Calls `f(row_index, row)` for each of `n` rows of `len` contiguous elements, in parallel when big.
fn rows_mut<T: Send>(data: &mut [T], len: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if len == 0 {
        return;
    }
    if data.len() >= super::iter::PAR_THRESHOLD && super::threads::get_num_threads() > 1 {
        data.par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, r)| f(i, r));
    } else {
        data.chunks_mut(len).enumerate().for_each(|(i, r)| f(i, r));
    }
}

/// softmax / log_softmax of a float tensor along `dim` (values computed in the compute type).
fn softmax_kernel<T: FloatElem>(x: &Tensor, d: usize, log: bool) -> Result<Tensor> {
    let (outer, len, inner) = split3(x.shape(), d);
    // move `dim` innermost so each softmax row is contiguous
    let xt = if inner == 1 {
        x.contiguous()?
    } else {
        x.movedim(d as i64, -1)?.contiguous()?
    };
    let mut buf: Vec<T> = xt.to_vec::<T>();
    rows_mut(&mut buf, len, |_, row| {
        let mut m = <T::C as Float>::neg_infinity();
        for v in row.iter() {
            let c = v.to_c();
            if c > m || c.is_nan() {
                m = c;
            }
        }
        if m.is_infinite() && m < <T::C as num_traits::Zero>::zero() {
            m = <T::C as num_traits::Zero>::zero();
        }
        let mut s = <T::C as num_traits::Zero>::zero();
        for v in row.iter() {
            s = s + (v.to_c() - m).exp();
        }
        if log {
            let ls = s.ln() + m;
            for v in row.iter_mut() {
                *v = T::from_c(v.to_c() - ls);
            }
        } else {
            let inv = <T::C as num_traits::One>::one() / s;
            for v in row.iter_mut() {
                *v = T::from_c((v.to_c() - m).exp() * inv);
            }
        }
    });
    let _ = outer;
    let out = Tensor::from_vec_on(&buf, xt.shape(), x.device())?;
    if inner == 1 {
        return Ok(out);
    }
    out.movedim(-1, d as i64)?.contiguous()
}

/// Softmax over the last dimension as a kernel on x's CUDA device, when it runs there.
#[cfg(feature = "cuda")]
fn gpu_softmax(x: &Tensor, d: usize, log: bool) -> Result<Option<Tensor>> {
    if !x.device().is_cuda() || x.ndim() == 0 {
        return Ok(None);
    }
    let last = x.ndim() - 1;
    // another dim: moved last (a strided copy) for the row kernel, and back
    let xc = x.movedim(d as i64, last as i64)?.contiguous()?;
    let out = Tensor::empty(xc.shape(), xc.dtype, xc.device())?;
    if !crate::cuda::ops::softmax_rows(&out, &xc, log)? {
        return Ok(None);
    }
    if d == last {
        return Ok(Some(out));
    }
    Ok(Some(out.movedim(last as i64, d as i64)?.contiguous()?))
}

#[cfg(not(feature = "cuda"))]
fn gpu_softmax(_x: &Tensor, _d: usize, _log: bool) -> Result<Option<Tensor>> {
    Ok(None)
}

impl Tensor {
    /// `softmax(dim)` (log_softmax when `log`), one node; ints promote to the default dtype.
    pub fn softmax(&self, dim: i64, log: bool) -> Result<Tensor> {
        let x = self.to_float()?;
        let d = if x.ndim() == 0 {
            0
        } else {
            wrap_dim(dim, x.ndim())?
        };
        let xd = x.detach();
        let out = match gpu_softmax(&xd, d, log)? {
            Some(out) => out,
            None => {
                crate::dispatch_float!(x.dtype, T => softmax_kernel::<T>(&xd, d, log)?, _ => unreachable!())
            }
        };
        if needs_grad(&[&x]) {
            let so = Saved::output(&out);
            let di = d as i64;
            let name = if log {
                "LogSoftmaxBackward0"
            } else {
                "SoftmaxBackward0"
            };
            return Ok(record1(name, &[&x], out, move |g| {
                let y = &so.value()?;
                let gi = if log {
                    // g - exp(y) * sum(g)
                    g.sub(
                        &y.unary(super::elementwise::UnaryOp::Exp)?
                            .mul(&g.sum(Some(&[di]), true)?)?,
                    )?
                } else {
                    // y * (g - sum(g * y))
                    y.mul(&g.sub(&g.mul(y)?.sum(Some(&[di]), true)?)?)?
                };
                Ok(vec![Some(gi)])
            }));
        }
        Ok(out)
    }

    /// `layer_norm` over the trailing `n_norm` dims, with optional affine weight and bias.
    pub fn layer_norm(
        &self,
        n_norm: usize,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<Tensor> {
        if n_norm > self.ndim() || n_norm == 0 {
            crate::bail!(
                Runtime,
                "layer_norm: normalized_shape has {} dims but input has {}",
                n_norm,
                self.ndim()
            );
        }
        let norm_shape = self.shape()[self.ndim() - n_norm..].to_vec();
        for (name, p) in [("weight", weight), ("bias", bias)] {
            if let Some(p) = p {
                if p.shape() != norm_shape.as_slice() {
                    crate::bail!(
                        Runtime,
                        "Expected {} to be of shape {}, but got {} of shape {}",
                        name,
                        crate::tensor::fmt_shape(&norm_shape),
                        name,
                        crate::tensor::fmt_shape(p.shape())
                    );
                }
            }
        }
        let n: usize = norm_shape.iter().product();
        let x = self.detach().contiguous()?;
        let rows = x.numel().checked_div(n).unwrap_or(0);
        #[cfg(feature = "cuda")]
        let gpu = if x.device().is_cuda() {
            crate::cuda::ops::layer_norm_rows(&x, rows, n, eps)?
        } else {
            None
        };
        #[cfg(not(feature = "cuda"))]
        let gpu: Option<(Tensor, Tensor)> = None;
        let (xhat, rstd) = if let Some(r) = gpu {
            r
        } else {
            crate::dispatch_float!(x.dtype, T => {
            let mut buf = x.to_vec::<T>();
            let mut rs = vec![0f64; rows];
            let rs_ptr = rs.as_mut_ptr() as usize;
            rows_mut(&mut buf, n, |i, row| {
                let mean = row.iter().map(|v| v.to_f64()).sum::<f64>() / n as f64;
                let var = row.iter().map(|v| (v.to_f64() - mean).powi(2)).sum::<f64>() / n as f64;
                let r = 1.0 / (var + eps).sqrt();
                for v in row.iter_mut() {
                    *v = T::from_f64((v.to_f64() - mean) * r);
                }
                // SAFETY: each row index is written by exactly one task.
                unsafe { *(rs_ptr as *mut f64).add(i) = r };
            });
            (Tensor::from_vec_on(&buf, x.shape(), x.device())?, Tensor::from_vec_on(&rs, &[rows], x.device())?.cast_raw(x.dtype)?)
        }, _ => crate::bail!(Runtime, "layer_norm: expected a floating point input, got {}", crate::ops::dtype_title(x.dtype)))
        };
        let mut out = xhat.clone();
        {
            let _g = crate::autograd::GradModeGuard::new(false);
            if let Some(w) = weight {
                out = out.mul(w)?;
            }
            if let Some(b) = bias {
                out = out.add(b)?;
            }
        }
        let mut inputs: Vec<&Tensor> = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        if needs_grad(&inputs) {
            let (has_w, has_b) = (weight.is_some(), bias.is_some());
            let sw = weight.map(Saved::new);
            let rstd = rstd.reshape(&{
                let mut s = x.shape()[..x.ndim() - n_norm].to_vec();
                s.extend(std::iter::repeat_n(1, n_norm));
                s
            })?;
            let norm_dims: Vec<i64> = (x.ndim() - n_norm..x.ndim()).map(|d| d as i64).collect();
            let batch_dims: Vec<i64> = (0..x.ndim() - n_norm).map(|d| d as i64).collect();
            let xh0 = xhat.clone();
            let sx = Saved::new(self);
            let outs = record("NativeLayerNormBackward0", &inputs, vec![out], move |g| {
                let Some(g) = &g[0] else {
                    return Ok(vec![None; 1 + has_w as usize + has_b as usize]);
                };
                // building a graph of the backward pass: xhat and rstd again, as functions of x
                let (xh, rstd) = if crate::autograd::is_grad_enabled() {
                    let x = sx.get()?;
                    let c = x.sub(&x.mean(Some(&norm_dims), true)?)?;
                    let r = c
                        .mul(&c)?
                        .mean(Some(&norm_dims), true)?
                        .add_scalar(eps)?
                        .unary(super::elementwise::UnaryOp::Rsqrt)?;
                    (c.mul(&r)?, r)
                } else {
                    (xh0.clone(), rstd.clone())
                };
                let gw = match &sw {
                    Some(w) => g.mul(w.get()?)?,
                    None => g.clone(),
                };
                // dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))
                let m1 = gw.mean(Some(&norm_dims), true)?;
                let m2 = gw.mul(&xh)?.mean(Some(&norm_dims), true)?;
                let dx = gw.sub(&m1)?.sub(&xh.mul(&m2)?)?.mul(&rstd)?;
                let mut res = vec![Some(dx)];
                if has_w {
                    res.push(Some(g.mul(&xh)?.sum(Some(&batch_dims), false)?));
                }
                if has_b {
                    res.push(Some(g.sum(Some(&batch_dims), false)?));
                }
                Ok(res)
            });
            return Ok(outs.into_iter().next().expect("one output"));
        }
        Ok(out)
    }
}

impl Tensor {
    /// `split(sizes, dim)` as views that share one autograd node (PyTorch's `SplitWithSizesBackward0`):
    /// its backward concatenates the pieces' gradients once, where a view per piece would each scatter
    /// into a zero tensor of the whole input's size.
    pub fn split_one_node(&self, sizes: &[usize], dim: i64) -> Result<Vec<Tensor>> {
        let pieces = {
            let _g = crate::autograd::GradModeGuard::new(false);
            self.split_sizes(sizes, dim)?
        };
        if !needs_grad(&[self]) {
            return Ok(pieces);
        }
        let d = wrap_dim(dim, self.ndim())?;
        let shapes: Vec<Vec<usize>> = pieces.iter().map(|p| p.shape().to_vec()).collect();
        let (dtype, dev) = (self.dtype, self.device());
        let outs: Vec<Tensor> = pieces.iter().map(|p| p.detach()).collect();
        Ok(record("SplitWithSizesBackward0", &[self], outs, move |g| {
            if g.iter().all(|g| g.is_none()) {
                return Ok(vec![None]);
            }
            let parts: Vec<Tensor> = g
                .iter()
                .zip(&shapes)
                .map(|(g, s)| match g {
                    Some(g) => Ok(g.clone()),
                    None => Tensor::zeros(s, dtype, dev),
                })
                .collect::<Result<_>>()?;
            Ok(vec![Some(Tensor::cat(&parts, d as i64)?)])
        }))
    }
}

// ------------------------------------------------------------------ fused recurrent cells

/// # Safety
/// `t` must be contiguous with element type `T` and outlive the slice.
pub(super) unsafe fn elems<T>(t: &Tensor) -> &[T] {
    std::slice::from_raw_parts(t.data_ptr() as *const T, t.numel())
}

/// # Safety
/// `t` must be a fresh contiguous tensor of element type `T`, written only through this slice.
#[allow(clippy::mut_from_ref)]
pub(super) unsafe fn elems_mut<T>(t: &Tensor) -> &mut [T] {
    std::slice::from_raw_parts_mut(t.data_ptr() as *mut T, t.numel())
}

/// Runs `f(row)` over `rows` batch rows, in parallel when the cell is big.
fn for_rows(rows: usize, work: usize, f: impl Fn(usize) + Sync + Send) {
    if work >= super::iter::PAR_THRESHOLD && super::threads::get_num_threads() > 1 {
        (0..rows).into_par_iter().for_each(f);
    } else {
        (0..rows).for_each(f);
    }
}

/// `[B, k*H]` gate inputs of a cell: checks shapes, names them in errors.
fn cell_check(
    name: &str,
    k: usize,
    xg: &Tensor,
    hg: &Tensor,
    state: &Tensor,
) -> Result<(usize, usize)> {
    if state.ndim() != 2 {
        crate::bail!(
            Runtime,
            "{}: expected a 2-D state [batch, hidden], got {}",
            name,
            crate::tensor::fmt_shape(state.shape())
        );
    }
    let (b, h) = (state.shape()[0], state.shape()[1]);
    for (what, t) in [("input gates", xg), ("hidden gates", hg)] {
        if t.shape() != [b, k * h] {
            crate::bail!(
                Runtime,
                "{}: expected {} of shape [{}, {}] for a state of shape {}, got {}",
                name,
                what,
                b,
                k * h,
                crate::tensor::fmt_shape(state.shape()),
                crate::tensor::fmt_shape(t.shape())
            );
        }
    }
    if xg.dtype != state.dtype || hg.dtype != state.dtype || !state.dtype.is_float() {
        crate::bail!(
            Runtime,
            "{}: expected the gates and the state to have the same floating point dtype, got {}, {} and {}",
            name,
            crate::ops::dtype_title(xg.dtype),
            crate::ops::dtype_title(hg.dtype),
            crate::ops::dtype_title(state.dtype)
        );
    }
    Ok((b, h))
}

/// Branch-free activations of the recurrent cells: a polynomial `exp` for f32 (Cephes' `expf`,
/// ~1 ulp, inlined so the cell loops vectorise instead of calling libm per element), libm for f64.
pub(super) trait Act: Float {
    fn fexp(self) -> Self;
    /// `tanh` from `fexp`, with an odd polynomial near 0 (where `1 - 2/(1+e^2x)` cancels).
    fn ftanh(self) -> Self;
}

impl Act for f32 {
    #[inline(always)]
    fn fexp(self) -> f32 {
        super::vmath::exp_f32(self)
    }
    #[inline(always)]
    fn ftanh(self) -> f32 {
        let x2 = self * self;
        let small = self
            * (1.0
                + x2 * (-1.0 / 3.0
                    + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 + x2 * (62.0 / 2835.0)))));
        let big = 1.0 - 2.0 / (1.0 + (2.0 * self).fexp());
        if x2 < 0.0625 {
            small
        } else {
            big
        }
    }
}

impl Act for f64 {
    #[inline(always)]
    fn fexp(self) -> f64 {
        self.exp()
    }
    #[inline(always)]
    fn ftanh(self) -> f64 {
        self.tanh()
    }
}

#[inline(always)]
pub(super) fn sigm<F: Act>(x: F) -> F {
    F::one() / (F::one() + (-x).fexp())
}

fn zeros_or<'a>(g: &'a Option<Tensor>, like: &Tensor) -> Result<std::borrow::Cow<'a, Tensor>> {
    Ok(match g {
        Some(t) => std::borrow::Cow::Borrowed(t),
        None => std::borrow::Cow::Owned(Tensor::zeros(like.shape(), like.dtype, like.device())?),
    })
}

/// LSTM pointwise forward: returns (h', c', activations [B,4H] = σ(i) σ(f) tanh(g) σ(o), tanh(c')).
fn lstm_fwd<T: FloatElem>(
    xg: &Tensor,
    hg: &Tensor,
    c: &Tensor,
    b: usize,
    h: usize,
) -> Result<[Tensor; 4]>
where
    T::C: Act,
{
    let (xg, hg, c) = (xg.contiguous()?, hg.contiguous()?, c.contiguous()?);
    let dt = c.dtype;
    let (hn, cn, acts, tc) = (
        Tensor::empty(&[b, h], dt, c.device())?,
        Tensor::empty(&[b, h], dt, c.device())?,
        Tensor::empty(&[b, 4 * h], dt, c.device())?,
        Tensor::empty(&[b, h], dt, c.device())?,
    );
    // SAFETY: contiguous inputs of dtype T; fresh outputs, each row written by one task.
    let (xv, hv, cv) = unsafe { (elems::<T>(&xg), elems::<T>(&hg), elems::<T>(&c)) };
    let ptrs = unsafe {
        [
            elems_mut::<T>(&hn).as_mut_ptr() as usize,
            elems_mut::<T>(&cn).as_mut_ptr() as usize,
            elems_mut::<T>(&acts).as_mut_ptr() as usize,
            elems_mut::<T>(&tc).as_mut_ptr() as usize,
        ]
    };
    for_rows(b, b * h, |r| {
        // SAFETY: row r of every output belongs to this call alone.
        let (ho, co, ao, to) = unsafe {
            (
                std::slice::from_raw_parts_mut((ptrs[0] as *mut T).add(r * h), h),
                std::slice::from_raw_parts_mut((ptrs[1] as *mut T).add(r * h), h),
                std::slice::from_raw_parts_mut((ptrs[2] as *mut T).add(r * 4 * h), 4 * h),
                std::slice::from_raw_parts_mut((ptrs[3] as *mut T).add(r * h), h),
            )
        };
        let (x, hh) = (
            &xv[r * 4 * h..(r + 1) * 4 * h],
            &hv[r * 4 * h..(r + 1) * 4 * h],
        );
        for j in 0..h {
            let pre = |k: usize| x[k * h + j].to_c() + hh[k * h + j].to_c();
            let (i, f, g, o) = (sigm(pre(0)), sigm(pre(1)), pre(2).ftanh(), sigm(pre(3)));
            let c_new = f * cv[r * h + j].to_c() + i * g;
            let t = c_new.ftanh();
            ao[j] = T::from_c(i);
            ao[h + j] = T::from_c(f);
            ao[2 * h + j] = T::from_c(g);
            ao[3 * h + j] = T::from_c(o);
            co[j] = T::from_c(c_new);
            to[j] = T::from_c(t);
            ho[j] = T::from_c(o * t);
        }
    });
    Ok([hn, cn, acts, tc])
}

/// LSTM pointwise backward: (d gates [B,4H], d c).
fn lstm_bwd<T: FloatElem>(
    acts: &Tensor,
    c: &Tensor,
    tc: &Tensor,
    gh: &Tensor,
    gc: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let (b, h) = (c.shape()[0], c.shape()[1]);
    let (c, gh, gc) = (c.contiguous()?, gh.contiguous()?, gc.contiguous()?);
    let (dg, dc) = (
        Tensor::empty(&[b, 4 * h], c.dtype, c.device())?,
        Tensor::empty(&[b, h], c.dtype, c.device())?,
    );
    // SAFETY: contiguous tensors of dtype T; fresh outputs, each row written by one task.
    let (av, cv, tv, ghv, gcv) = unsafe {
        (
            elems::<T>(acts),
            elems::<T>(&c),
            elems::<T>(tc),
            elems::<T>(&gh),
            elems::<T>(&gc),
        )
    };
    let ptrs = unsafe {
        [
            elems_mut::<T>(&dg).as_mut_ptr() as usize,
            elems_mut::<T>(&dc).as_mut_ptr() as usize,
        ]
    };
    for_rows(b, b * h, |r| {
        // SAFETY: row r of every output belongs to this call alone.
        let (dgo, dco) = unsafe {
            (
                std::slice::from_raw_parts_mut((ptrs[0] as *mut T).add(r * 4 * h), 4 * h),
                std::slice::from_raw_parts_mut((ptrs[1] as *mut T).add(r * h), h),
            )
        };
        let a = &av[r * 4 * h..(r + 1) * 4 * h];
        let one = <T::C as num_traits::One>::one();
        for j in 0..h {
            let (i, f, g, o) = (
                a[j].to_c(),
                a[h + j].to_c(),
                a[2 * h + j].to_c(),
                a[3 * h + j].to_c(),
            );
            let (t, ghj) = (tv[r * h + j].to_c(), ghv[r * h + j].to_c());
            let gct = gcv[r * h + j].to_c() + ghj * o * (one - t * t);
            dgo[j] = T::from_c(gct * g * i * (one - i));
            dgo[h + j] = T::from_c(gct * cv[r * h + j].to_c() * f * (one - f));
            dgo[2 * h + j] = T::from_c(gct * i * (one - g * g));
            dgo[3 * h + j] = T::from_c(ghj * t * o * (one - o));
            dco[j] = T::from_c(gct * f);
        }
    });
    Ok((dg, dc))
}

/// GRU pointwise forward: returns (h', saved [B,4H] = r z n hn).
fn gru_fwd<T: FloatElem>(
    xg: &Tensor,
    hg: &Tensor,
    hx: &Tensor,
    b: usize,
    h: usize,
) -> Result<[Tensor; 2]>
where
    T::C: Act,
{
    let (xg, hg, hx) = (xg.contiguous()?, hg.contiguous()?, hx.contiguous()?);
    let (hn, sv) = (
        Tensor::empty(&[b, h], hx.dtype, hx.device())?,
        Tensor::empty(&[b, 4 * h], hx.dtype, hx.device())?,
    );
    // SAFETY: as in lstm_fwd.
    let (xv, hv, hxv) = unsafe { (elems::<T>(&xg), elems::<T>(&hg), elems::<T>(&hx)) };
    let ptrs = unsafe {
        [
            elems_mut::<T>(&hn).as_mut_ptr() as usize,
            elems_mut::<T>(&sv).as_mut_ptr() as usize,
        ]
    };
    for_rows(b, b * h, |row| {
        // SAFETY: row `row` of every output belongs to this call alone.
        let (ho, so) = unsafe {
            (
                std::slice::from_raw_parts_mut((ptrs[0] as *mut T).add(row * h), h),
                std::slice::from_raw_parts_mut((ptrs[1] as *mut T).add(row * 4 * h), 4 * h),
            )
        };
        let (x, hh) = (
            &xv[row * 3 * h..(row + 1) * 3 * h],
            &hv[row * 3 * h..(row + 1) * 3 * h],
        );
        let one = <T::C as num_traits::One>::one();
        for j in 0..h {
            let r = sigm(x[j].to_c() + hh[j].to_c());
            let z = sigm(x[h + j].to_c() + hh[h + j].to_c());
            let hnj = hh[2 * h + j].to_c();
            let n = (x[2 * h + j].to_c() + r * hnj).ftanh();
            so[j] = T::from_c(r);
            so[h + j] = T::from_c(z);
            so[2 * h + j] = T::from_c(n);
            so[3 * h + j] = T::from_c(hnj);
            ho[j] = T::from_c((one - z) * n + z * hxv[row * h + j].to_c());
        }
    });
    Ok([hn, sv])
}

/// GRU pointwise backward: (d input gates [B,3H], d hidden gates [B,3H], d h).
fn gru_bwd<T: FloatElem>(sv: &Tensor, hx: &Tensor, gh: &Tensor) -> Result<[Tensor; 3]> {
    let (b, h) = (hx.shape()[0], hx.shape()[1]);
    let (hx, gh) = (hx.contiguous()?, gh.contiguous()?);
    let dt = hx.dtype;
    let (dx, dhg, dh) = (
        Tensor::empty(&[b, 3 * h], dt, hx.device())?,
        Tensor::empty(&[b, 3 * h], dt, hx.device())?,
        Tensor::empty(&[b, h], dt, hx.device())?,
    );
    // SAFETY: as in lstm_bwd.
    let (s, hxv, gv) = unsafe { (elems::<T>(sv), elems::<T>(&hx), elems::<T>(&gh)) };
    let ptrs = unsafe {
        [
            elems_mut::<T>(&dx).as_mut_ptr() as usize,
            elems_mut::<T>(&dhg).as_mut_ptr() as usize,
            elems_mut::<T>(&dh).as_mut_ptr() as usize,
        ]
    };
    for_rows(b, b * h, |row| {
        // SAFETY: row `row` of every output belongs to this call alone.
        let (dxo, dho_g, dho) = unsafe {
            (
                std::slice::from_raw_parts_mut((ptrs[0] as *mut T).add(row * 3 * h), 3 * h),
                std::slice::from_raw_parts_mut((ptrs[1] as *mut T).add(row * 3 * h), 3 * h),
                std::slice::from_raw_parts_mut((ptrs[2] as *mut T).add(row * h), h),
            )
        };
        let sr = &s[row * 4 * h..(row + 1) * 4 * h];
        let one = <T::C as num_traits::One>::one();
        for j in 0..h {
            let (r, z, n, hnj) = (
                sr[j].to_c(),
                sr[h + j].to_c(),
                sr[2 * h + j].to_c(),
                sr[3 * h + j].to_c(),
            );
            let (g, hp) = (gv[row * h + j].to_c(), hxv[row * h + j].to_c());
            let dn = g * (one - z) * (one - n * n);
            let dz = g * (hp - n) * z * (one - z);
            let dr = dn * hnj * r * (one - r);
            dxo[j] = T::from_c(dr);
            dxo[h + j] = T::from_c(dz);
            dxo[2 * h + j] = T::from_c(dn);
            dho_g[j] = T::from_c(dr);
            dho_g[h + j] = T::from_c(dz);
            dho_g[2 * h + j] = T::from_c(dn * r);
            dho[j] = T::from_c(g * z);
        }
    });
    Ok([dx, dhg, dh])
}

/// The cell's gate pre-activations as differentiable tensors: `xg + hg`, split in `k` chunks.
fn gate_chunks(xg: &Tensor, hg: &Tensor, k: usize, h: usize) -> Result<Vec<(Tensor, Tensor)>> {
    (0..k)
        .map(|c| {
            Ok((
                xg.slice(1, c * h, (c + 1) * h, 1)?,
                hg.slice(1, c * h, (c + 1) * h, 1)?,
            ))
        })
        .collect()
}

/// The LSTM cell's gradient `(d gates, d c)` in differentiable tensor ops (double backward).
fn lstm_cell_grad_graph(
    xg: &Tensor,
    hg: &Tensor,
    c: &Tensor,
    gh: &Tensor,
    gc: &Tensor,
    h: usize,
) -> Result<(Tensor, Tensor)> {
    use super::elementwise::UnaryOp::{Sigmoid, Tanh};
    let ch = gate_chunks(xg, hg, 4, h)?;
    let pre = |k: usize| ch[k].0.add(&ch[k].1);
    let (i, f) = (pre(0)?.unary(Sigmoid)?, pre(1)?.unary(Sigmoid)?);
    let (gg, o) = (pre(2)?.unary(Tanh)?, pre(3)?.unary(Sigmoid)?);
    let t = f.mul(c)?.add(&i.mul(&gg)?)?.unary(Tanh)?;
    let dsig = |s: &Tensor| s.mul(&s.neg()?.add_scalar(1.0)?);
    let gct = gc.add(&gh.mul(&o)?.mul(&t.mul(&t)?.neg()?.add_scalar(1.0)?)?)?;
    let di = gct.mul(&gg)?.mul(&dsig(&i)?)?;
    let df = gct.mul(c)?.mul(&dsig(&f)?)?;
    let dgg = gct.mul(&i)?.mul(&gg.mul(&gg)?.neg()?.add_scalar(1.0)?)?;
    let d_o = gh.mul(&t)?.mul(&dsig(&o)?)?;
    Ok((Tensor::cat(&[di, df, dgg, d_o], 1)?, gct.mul(&f)?))
}

/// The GRU cell's gradient `(d input gates, d hidden gates, d h)` in differentiable tensor ops
/// (double backward).
pub(super) fn gru_cell_grad_graph(
    xg: &Tensor,
    hg: &Tensor,
    hx: &Tensor,
    g: &Tensor,
    h: usize,
) -> Result<[Tensor; 3]> {
    use super::elementwise::UnaryOp::{Sigmoid, Tanh};
    let ch = gate_chunks(xg, hg, 3, h)?;
    let r = ch[0].0.add(&ch[0].1)?.unary(Sigmoid)?;
    let z = ch[1].0.add(&ch[1].1)?.unary(Sigmoid)?;
    let hnj = &ch[2].1;
    let n = ch[2].0.add(&r.mul(hnj)?)?.unary(Tanh)?;
    let one_minus = |t: &Tensor| t.neg()?.add_scalar(1.0);
    let dn = g.mul(&one_minus(&z)?)?.mul(&one_minus(&n.mul(&n)?)?)?;
    let dz = g.mul(&hx.sub(&n)?)?.mul(&z.mul(&one_minus(&z)?)?)?;
    let dr = dn.mul(hnj)?.mul(&r.mul(&one_minus(&r)?)?)?;
    Ok([
        Tensor::cat(&[dr.clone(), dz.clone(), dn.clone()], 1)?,
        Tensor::cat(&[dr, dz, dn.mul(&r)?], 1)?,
        g.mul(&z)?,
    ])
}

impl Tensor {
    /// One LSTM step's pointwise part, one node: gates = `xg + hg` (`[B, 4H]`, order i f g o), previous
    /// cell `c` `[B, H]` → `(h', c')`. The GEMMs that make `xg` and `hg` stay outside.
    pub fn lstm_cell(xg: &Tensor, hg: &Tensor, c: &Tensor) -> Result<(Tensor, Tensor)> {
        let (b, h) = cell_check("lstm_cell", 4, xg, hg, c)?;
        let (xd, hd, cd) = (xg.detach(), hg.detach(), c.detach());
        let [hn, cn, acts, tc] = crate::dispatch_float!(c.dtype, T => lstm_fwd::<T>(&xd, &hd, &cd, b, h)?, _ => unreachable!());
        if !needs_grad(&[xg, hg, c]) {
            return Ok((hn, cn));
        }
        let (sx, sh, sc) = (Saved::new(xg), Saved::new(hg), Saved::new(c));
        let outs = record("LstmCellBackward0", &[xg, hg, c], vec![hn, cn], move |g| {
            let c = sc.get()?;
            if g[0].is_none() && g[1].is_none() {
                return Ok(vec![None, None, None]);
            }
            let (gh, gc) = (zeros_or(&g[0], c)?, zeros_or(&g[1], c)?);
            let (dg, dc) = if crate::autograd::is_grad_enabled() {
                // building a graph of the backward pass: the same formula in differentiable tensor ops
                lstm_cell_grad_graph(sx.get()?, sh.get()?, c, &gh, &gc, h)?
            } else {
                let (gh, gc) = (gh.detach(), gc.detach());
                crate::dispatch_float!(c.dtype, T => lstm_bwd::<T>(&acts, &c.detach(), &tc, &gh, &gc)?, _ => unreachable!())
            };
            Ok(vec![Some(dg.clone()), Some(dg), Some(dc)])
        });
        let mut it = outs.into_iter();
        Ok((it.next().expect("h'"), it.next().expect("c'")))
    }

    /// One GRU step's pointwise part, one node: `xg = x W_ihᵀ + b_ih`, `hg = h W_hhᵀ + b_hh` (`[B, 3H]`,
    /// order r z n), previous hidden `hx` `[B, H]` → `h'`.
    pub fn gru_cell(xg: &Tensor, hg: &Tensor, hx: &Tensor) -> Result<Tensor> {
        let (b, h) = cell_check("gru_cell", 3, xg, hg, hx)?;
        let (xd, hd, hxd) = (xg.detach(), hg.detach(), hx.detach());
        let [hn, sv] = crate::dispatch_float!(hx.dtype, T => gru_fwd::<T>(&xd, &hd, &hxd, b, h)?, _ => unreachable!());
        if !needs_grad(&[xg, hg, hx]) {
            return Ok(hn);
        }
        let (sx, sh, shx) = (Saved::new(xg), Saved::new(hg), Saved::new(hx));
        Ok(record1("GruCellBackward0", &[xg, hg, hx], hn, move |g| {
            let hx = shx.get()?;
            let [dx, dhg, dh] = if crate::autograd::is_grad_enabled() {
                gru_cell_grad_graph(sx.get()?, sh.get()?, hx, g, h)?
            } else {
                let g = g.detach();
                crate::dispatch_float!(hx.dtype, T => gru_bwd::<T>(&sv, &hx.detach(), &g)?, _ => unreachable!())
            };
            Ok(vec![Some(dx), Some(dhg), Some(dh)])
        }))
    }
}

// ------------------------------------------------------------------ fused LSTM layer

/// What the whole-sequence LSTM forward keeps for its backward (all `[T, B, *]`, time-major,
/// indexed by time step whatever the direction).
struct LstmTape {
    acts: Tensor,
    cs: Tensor,
    tcs: Tensor,
}

/// The time index of the `s`-th step.
pub(super) fn step_at(s: usize, steps: usize, reverse: bool) -> usize {
    if reverse {
        steps - 1 - s
    } else {
        s
    }
}

/// One time step of the LSTM cell over every batch row: `at` [B, 4H] :=
/// σ(i) σ(f) tanh(g) σ(o) of `x + hg`, then `c = f·c_prev + i·g`, `tc = tanh(c)`, `h = o·tc`.
struct CellStep<'a, T> {
    h: usize,
    at: &'a mut [T],
    x: &'a [T],
    hg: &'a [T],
    c_prev: &'a [T],
    c: &'a mut [T],
    tc: &'a mut [T],
    h_out: &'a mut [T],
}

impl<T: FloatElem> CellStep<'_, T>
where
    T::C: Act,
{
    /// Runs the loops compiled for the widest SIMD the CPU has (the activations are branch-free
    /// polynomials: 16 lanes on AVX-512 against the baseline's 4).
    fn run(self) {
        #[cfg(target_arch = "x86_64")]
        match super::vmath::simd_level() {
            // SAFETY: simd_level() checked that the CPU has these features.
            4 => return unsafe { self.run_v4() },
            3 => return unsafe { self.run_v3() },
            _ => {}
        }
        self.rows()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma,bmi2")]
    unsafe fn run_v4(self) {
        self.rows()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,bmi2")]
    unsafe fn run_v3(self) {
        self.rows()
    }

    /// Straight contiguous passes per row (no chained iterators, no bounds checks), so they vectorise.
    #[inline(always)]
    fn rows(self) {
        let h = self.h;
        let g4 = 4 * h;
        let rows = self.c.len() / h.max(1);
        for r in 0..rows {
            let (gates, cells) = (r * g4..(r + 1) * g4, r * h..(r + 1) * h);
            let at = &mut self.at[gates.clone()];
            for ((a, xv), hv) in at
                .iter_mut()
                .zip(&self.x[gates.clone()])
                .zip(&self.hg[gates])
            {
                *a = T::from_c(xv.to_c() + hv.to_c());
            }
            let (ii, rest) = at.split_at_mut(h);
            let (ff, rest) = rest.split_at_mut(h);
            let (gg, oo) = rest.split_at_mut(h);
            for v in ii.iter_mut() {
                *v = T::from_c(sigm(v.to_c()));
            }
            for v in ff.iter_mut() {
                *v = T::from_c(sigm(v.to_c()));
            }
            for v in oo.iter_mut() {
                *v = T::from_c(sigm(v.to_c()));
            }
            for v in gg.iter_mut() {
                *v = T::from_c(v.to_c().ftanh());
            }
            let c = &mut self.c[cells.clone()];
            let c_prev = &self.c_prev[cells.clone()];
            for ((((cn, cp), i), f), g) in c.iter_mut().zip(c_prev).zip(&*ii).zip(&*ff).zip(&*gg) {
                *cn = T::from_c(f.to_c() * cp.to_c() + i.to_c() * g.to_c());
            }
            let tc = &mut self.tc[cells.clone()];
            for (t, cn) in tc.iter_mut().zip(&*c) {
                *t = T::from_c(cn.to_c().ftanh());
            }
            for ((hv, t), o) in self.h_out[cells].iter_mut().zip(&*tc).zip(&*oo) {
                *hv = T::from_c(o.to_c() * t.to_c());
            }
        }
    }
}

/// The whole recurrence of one LSTM layer-direction: per step one GEMM `h W_hhᵀ + b_hh` (bias as
/// its initial value) and the fused pointwise cell. Returns `(out [T,B,H], c_T, tape)`.
#[allow(clippy::too_many_arguments)]
fn lstm_layer_fwd<T: FloatElem + super::conv::ConvElem>(
    xg: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    reverse: bool,
) -> Result<(Tensor, Tensor, LstmTape)>
where
    T::C: Act,
{
    let (steps, b, h) = (xg.shape()[0], h0.shape()[0], h0.shape()[1]);
    let g4 = 4 * h;
    let dt = T::DTYPE;
    let out = Tensor::empty(&[steps, b, h], dt, h0.device())?;
    let acts = Tensor::empty(&[steps, b, g4], dt, h0.device())?;
    let cs = Tensor::empty(&[steps, b, h], dt, h0.device())?;
    let tcs = Tensor::empty(&[steps, b, h], dt, h0.device())?;
    // SAFETY: contiguous inputs of dtype T; the outputs are fresh and written only here.
    let (xv, h0v, c0v) = unsafe { (elems::<T>(xg), elems::<T>(h0), elems::<T>(c0)) };
    let bv = bias.map(|t| unsafe { elems::<T>(t) });
    let (ov, av, cv, tv) = unsafe {
        (
            elems_mut::<T>(&out),
            elems_mut::<T>(&acts),
            elems_mut::<T>(&cs),
            elems_mut::<T>(&tcs),
        )
    };
    // W_hhᵀ [H, 4H] copied once: every step's GEMM then reads a row-major right operand, which
    // the gemm crate packs far faster than the transposed view (3x at batch 32)
    let wt = w.t()?.clone_contiguous()?;
    // SAFETY: a fresh contiguous [h, 4h] tensor of dtype T.
    let wtv = unsafe { elems::<T>(&wt) };
    let mut hg = vec![T::zero(); b * g4];
    let par = gemm_par(b * g4 * h);
    let (bh, bg) = (b * h, b * g4);
    for s in 0..steps {
        let t = step_at(s, steps, reverse);
        let prev = (s > 0).then(|| step_at(s - 1, steps, reverse));
        if let Some(bv) = bv {
            for row in hg.chunks_exact_mut(g4) {
                row.copy_from_slice(bv);
            }
        }
        {
            let hp: &[T] = match prev {
                Some(p) => &ov[p * bh..(p + 1) * bh],
                None => h0v,
            };
            super::conv::gemm_into(
                b,
                g4,
                h,
                &mut hg,
                bv.is_some(),
                (hp, h, 1),
                (wtv, g4, 1),
                par,
            );
        }
        let x = &xv[t * bg..(t + 1) * bg];
        let (c_prev, c_cur): (&[T], &mut [T]) = match prev {
            Some(p) if p < t => {
                let (lo, hi) = cv.split_at_mut(t * bh);
                (&lo[p * bh..(p + 1) * bh], &mut hi[..bh])
            }
            Some(p) => {
                let (lo, hi) = cv.split_at_mut(p * bh);
                (&hi[..bh], &mut lo[t * bh..(t + 1) * bh])
            }
            None => (c0v, &mut cv[t * bh..(t + 1) * bh]),
        };
        let (tvt, ovt) = (&mut tv[t * bh..(t + 1) * bh], &mut ov[t * bh..(t + 1) * bh]);
        let step = CellStep {
            h,
            at: &mut av[t * bg..(t + 1) * bg],
            x,
            hg: &hg,
            c_prev,
            c: c_cur,
            tc: tvt,
            h_out: ovt,
        };
        step.run();
    }
    let last = step_at(steps - 1, steps, reverse);
    let c_n = cs.select(0, last as i64)?.contiguous()?;
    Ok((out, c_n, LstmTape { acts, cs, tcs }))
}

/// Backward of `lstm_layer_fwd` without a graph: back through time, `dW_hh` and `db_hh` accumulated
/// in place by the GEMM. Returns `(d xg [T,B,4H], d h0, d c0, d W_hh, d b_hh)`.
#[allow(clippy::too_many_arguments)]
fn lstm_layer_bwd<T: FloatElem + super::conv::ConvElem>(
    tape: &LstmTape,
    out: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
    w: &Tensor,
    g_out: Option<&Tensor>,
    g_hn: Option<&Tensor>,
    g_cn: Option<&Tensor>,
    reverse: bool,
) -> Result<[Tensor; 5]> {
    let (steps, b, h) = (out.shape()[0], h0.shape()[0], h0.shape()[1]);
    let g4 = 4 * h;
    let (bh, bg) = (b * h, b * g4);
    let dt = T::DTYPE;
    let dx = Tensor::empty(&[steps, b, g4], dt, h0.device())?;
    let dw = Tensor::zeros(&[g4, h], dt, h0.device())?;
    // SAFETY: contiguous tensors of dtype T; `dx`, `dw` are fresh and written only here.
    let (av, cv, tv, ov, h0v, c0v, wv) = unsafe {
        (
            elems::<T>(&tape.acts),
            elems::<T>(&tape.cs),
            elems::<T>(&tape.tcs),
            elems::<T>(out),
            elems::<T>(h0),
            elems::<T>(c0),
            elems::<T>(w),
        )
    };
    let gov = g_out.map(|g| unsafe { elems::<T>(g) });
    let (dxv, dwv) = unsafe { (elems_mut::<T>(&dx), elems_mut::<T>(&dw)) };
    let mut dh: Vec<T> = match g_hn {
        Some(g) => unsafe { elems::<T>(g) }.to_vec(),
        None => vec![T::zero(); bh],
    };
    let mut dc: Vec<T::C> = match g_cn {
        Some(g) => unsafe { elems::<T>(g) }.iter().map(|v| v.to_c()).collect(),
        None => vec![<T::C as num_traits::Zero>::zero(); bh],
    };
    let mut db = vec![<T::C as num_traits::Zero>::zero(); g4];
    let par = gemm_par(b * g4 * h);
    let one = <T::C as num_traits::One>::one();
    for s in (0..steps).rev() {
        let t = step_at(s, steps, reverse);
        let prev = (s > 0).then(|| step_at(s - 1, steps, reverse));
        {
            let dg = &mut dxv[t * bg..(t + 1) * bg];
            for r in 0..b {
                for j in 0..h {
                    let k = r * h + j;
                    let a = &av[t * bg + r * g4..t * bg + (r + 1) * g4];
                    let (i, f, g, o) = (
                        a[j].to_c(),
                        a[h + j].to_c(),
                        a[2 * h + j].to_c(),
                        a[3 * h + j].to_c(),
                    );
                    let gh = dh[k].to_c()
                        + gov.map_or(<T::C as num_traits::Zero>::zero(), |gv| {
                            gv[t * bh + k].to_c()
                        });
                    let th = tv[t * bh + k].to_c();
                    let cp = match prev {
                        Some(p) => cv[p * bh + k].to_c(),
                        None => c0v[k].to_c(),
                    };
                    let gct = dc[k] + gh * o * (one - th * th);
                    let row = &mut dg[r * g4..(r + 1) * g4];
                    row[j] = T::from_c(gct * g * i * (one - i));
                    row[h + j] = T::from_c(gct * cp * f * (one - f));
                    row[2 * h + j] = T::from_c(gct * i * (one - g * g));
                    row[3 * h + j] = T::from_c(gh * th * o * (one - o));
                    dc[k] = gct * f;
                }
            }
        }
        let dg = &dxv[t * bg..(t + 1) * bg];
        for row in dg.chunks_exact(g4) {
            for (a, v) in db.iter_mut().zip(row) {
                *a = *a + v.to_c();
            }
        }
        let hp: &[T] = match prev {
            Some(p) => &ov[p * bh..(p + 1) * bh],
            None => h0v,
        };
        // dW += dgᵀ · h_prev ; dh = dg · W
        super::conv::gemm_into(g4, h, b, dwv, true, (dg, 1, g4), (hp, h, 1), par);
        super::conv::gemm_into(b, h, g4, &mut dh, false, (dg, g4, 1), (wv, h, 1), par);
    }
    let dcv: Vec<T> = dc.into_iter().map(T::from_c).collect();
    let dbv: Vec<T> = db.into_iter().map(T::from_c).collect();
    Ok([
        dx,
        Tensor::from_vec_on(&dh, &[b, h], h0.device())?,
        Tensor::from_vec_on(&dcv, &[b, h], h0.device())?,
        dw,
        Tensor::from_vec_on(&dbv, &[g4], h0.device())?,
    ])
}

impl Tensor {
    /// One LSTM layer in one direction over a whole (unpacked) sequence as one node: `xg [T, B, 4H]` the
    /// input projections `x W_ihᵀ + b_ih` (gate order i f g o), `h0`, `c0` `[B, H]`, `w_hh [4H, H]`,
    /// `b_hh [4H]` → `(output [T, B, H], h_T, c_T)` (`reverse`: time runs backwards). Backward runs back
    /// through time in one pass (GEMM-accumulated weight gradient); under `create_graph` it is the
    /// per-step formula in differentiable ops. f32/f64 only.
    pub fn lstm_layer(
        xg: &Tensor,
        h0: &Tensor,
        c0: &Tensor,
        w_hh: &Tensor,
        b_hh: Option<&Tensor>,
        reverse: bool,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let dt = h0.dtype;
        let ok_dtype = matches!(dt, crate::tensor::DType::F32 | crate::tensor::DType::F64)
            && [xg, c0, w_hh].iter().all(|t| t.dtype == dt)
            && b_hh.is_none_or(|b| b.dtype == dt);
        if !ok_dtype {
            crate::bail!(
                Runtime,
                "lstm_layer: expected float32/float64 tensors of one dtype, got input {}, h0 {}, c0 {}, weight {}",
                crate::ops::dtype_title(xg.dtype),
                crate::ops::dtype_title(dt),
                crate::ops::dtype_title(c0.dtype),
                crate::ops::dtype_title(w_hh.dtype)
            );
        }
        let shapes_ok = h0.ndim() == 2 && xg.ndim() == 3 && xg.shape()[0] > 0 && {
            let (b, h) = (h0.shape()[0], h0.shape()[1]);
            xg.shape()[1] == b
                && xg.shape()[2] == 4 * h
                && c0.shape() == [b, h]
                && w_hh.shape() == [4 * h, h]
                && b_hh.is_none_or(|t| t.shape() == [4 * h])
        };
        if !shapes_ok {
            crate::bail!(
                Runtime,
                "lstm_layer: expected input gates [T, B, 4H] (T > 0), h0 and c0 [B, H], weight_hh [4H, H], bias_hh [4H]; got {}, {}, {}, {}, {}",
                fmt_shape(xg.shape()),
                fmt_shape(h0.shape()),
                fmt_shape(c0.shape()),
                fmt_shape(w_hh.shape()),
                b_hh.map_or("None".to_string(), |b| fmt_shape(b.shape()))
            );
        }
        let (steps, h) = (xg.shape()[0], h0.shape()[1]);
        let c = |t: &Tensor| t.detach().contiguous();
        let (xd, h0d, c0d, wd) = (c(xg)?, c(h0)?, c(c0)?, c(w_hh)?);
        let bd = b_hh.map(c).transpose()?;
        let (out, c_n, tape) = match dt {
            crate::tensor::DType::F32 => {
                lstm_layer_fwd::<f32>(&xd, &h0d, &c0d, &wd, bd.as_ref(), reverse)?
            }
            _ => lstm_layer_fwd::<f64>(&xd, &h0d, &c0d, &wd, bd.as_ref(), reverse)?,
        };
        let last = step_at(steps - 1, steps, reverse) as i64;
        let h_n = out.select(0, last)?.contiguous()?;
        let mut inputs = vec![xg, h0, c0, w_hh];
        inputs.extend(b_hh);
        if !needs_grad(&inputs) {
            return Ok((out, h_n, c_n));
        }
        let has_b = b_hh.is_some();
        let saved: Vec<Saved> = inputs.iter().map(|t| Saved::new(t)).collect();
        let so = Saved::output(&out);
        let outs = record(
            "LstmLayerBackward0",
            &inputs,
            vec![out, h_n, c_n],
            move |g| {
                if g.iter().all(|g| g.is_none()) {
                    return Ok(vec![None; 4 + has_b as usize]);
                }
                let vals: Vec<&Tensor> = saved.iter().map(|s| s.get()).collect::<Result<_>>()?;
                let out = so.get()?;
                if crate::autograd::is_grad_enabled() {
                    let b = if has_b { Some(vals[4]) } else { None };
                    let r = lstm_layer_grad_graph(
                        vals[0], vals[1], vals[2], vals[3], b, g, reverse, h,
                    )?;
                    return Ok(r.into_iter().take(4 + has_b as usize).map(Some).collect());
                }
                let gc =
                    |t: &Option<Tensor>| t.as_ref().map(|t| t.detach().contiguous()).transpose();
                let (go, ghn, gcn) = (gc(&g[0])?, gc(&g[1])?, gc(&g[2])?);
                let res = match dt {
                    crate::tensor::DType::F32 => lstm_layer_bwd::<f32>(
                        &tape,
                        out,
                        &h0d,
                        &c0d,
                        &wd,
                        go.as_ref(),
                        ghn.as_ref(),
                        gcn.as_ref(),
                        reverse,
                    )?,
                    _ => lstm_layer_bwd::<f64>(
                        &tape,
                        out,
                        &h0d,
                        &c0d,
                        &wd,
                        go.as_ref(),
                        ghn.as_ref(),
                        gcn.as_ref(),
                        reverse,
                    )?,
                };
                Ok(res.into_iter().take(4 + has_b as usize).map(Some).collect())
            },
        );
        let mut it = outs.into_iter();
        Ok((
            it.next().expect("out"),
            it.next().expect("h_n"),
            it.next().expect("c_n"),
        ))
    }
}

/// The layer's gradient as differentiable ops of its (saved) inputs, for `create_graph`: the forward
/// recomputed step by step, then back through time with the cell's differentiable formula.
#[allow(clippy::too_many_arguments)]
fn lstm_layer_grad_graph(
    xg: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    g: &[Option<Tensor>],
    reverse: bool,
    h: usize,
) -> Result<Vec<Tensor>> {
    let steps = xg.shape()[0];
    let xs: Vec<Tensor> = (0..steps)
        .map(|t| xg.select(0, t as i64))
        .collect::<Result<_>>()?;
    let (mut hp, mut cp) = (h0.clone(), c0.clone());
    let mut memo: Vec<Option<(Tensor, Tensor, Tensor)>> = vec![None; steps];
    for s in 0..steps {
        let t = step_at(s, steps, reverse);
        let hg = Tensor::linear(&hp, w, b)?;
        let (hn, cn) = Tensor::lstm_cell(&xs[t], &hg, &cp)?;
        memo[t] = Some((hp, cp, hg));
        hp = hn;
        cp = cn;
    }
    let mut dh = match &g[1] {
        Some(t) => t.clone(),
        None => Tensor::zeros(h0.shape(), h0.dtype, h0.device())?,
    };
    let mut dc = match &g[2] {
        Some(t) => t.clone(),
        None => Tensor::zeros(c0.shape(), c0.dtype, c0.device())?,
    };
    let mut dxs: Vec<Option<Tensor>> = vec![None; steps];
    let (mut dw, mut db): (Option<Tensor>, Option<Tensor>) = (None, None);
    for s in (0..steps).rev() {
        let t = step_at(s, steps, reverse);
        let (hprev, cprev, hg) = memo[t].take().expect("recomputed step");
        let gh = match &g[0] {
            Some(go) => dh.add(&go.select(0, t as i64)?)?,
            None => dh.clone(),
        };
        let (dg, dcn) = lstm_cell_grad_graph(&xs[t], &hg, &cprev, &gh, &dc, h)?;
        let dwt = dg.t()?.mm(&hprev)?;
        let dbt = dg.sum(Some(&[0]), false)?;
        dw = Some(match dw {
            Some(a) => a.add(&dwt)?,
            None => dwt,
        });
        db = Some(match db {
            Some(a) => a.add(&dbt)?,
            None => dbt,
        });
        dh = dg.mm(w)?;
        dc = dcn;
        dxs[t] = Some(dg);
    }
    let dxs: Vec<Tensor> = dxs.into_iter().map(|d| d.expect("every step")).collect();
    let mut res = vec![Tensor::stack(&dxs, 0)?, dh, dc, dw.expect("T > 0")];
    if let Some(db) = db {
        res.push(db);
    }
    Ok(res)
}

// ------------------------------------------------------------------ linear

/// GEMM parallelism for `work` multiply-adds.
pub(super) fn gemm_par(work: usize) -> gemm::Parallelism {
    let threads = super::threads::get_num_threads();
    if threads > 1 && work >= 48 * 48 * 48 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// `y [m, o] = x [m, k] · wᵀ + b` for contiguous `x`, `w [o, k]`, `b [o]`: one GEMM whose initial
/// output value is the bias broadcast over the rows.
fn linear_fwd<T: super::conv::ConvElem>(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
) -> Result<Tensor> {
    let (m, k, o) = (x.shape()[0], x.shape()[1], w.shape()[0]);
    let out = Tensor::empty(&[m, o], T::DTYPE, x.device())?;
    if m == 0 || o == 0 {
        return Ok(out);
    }
    // SAFETY: contiguous tensors of dtype T; `out` is fresh and written only through `ov`.
    let (xv, wv, ov) = unsafe { (elems::<T>(x), elems::<T>(w), elems_mut::<T>(&out)) };
    if let Some(b) = b {
        let bv = unsafe { elems::<T>(b) };
        for row in ov.chunks_exact_mut(o) {
            row.copy_from_slice(bv);
        }
    }
    // the gemm crate packs a column-major right operand (wᵀ read in place) about 2x slower than
    // a row-major one: past tiny sizes a transposed copy of w is cheaper
    let wt = if m * o * k >= super::matmul::TRANSPOSE_RHS_MIN {
        Some(w.t()?.clone_contiguous()?)
    } else {
        None
    };
    let rhs = match &wt {
        // SAFETY: a fresh contiguous [k, o] tensor of dtype T.
        Some(wt) => (unsafe { elems::<T>(wt) }, o, 1),
        None => (wv, 1, k),
    };
    super::conv::gemm_into(
        m,
        o,
        k,
        ov,
        b.is_some(),
        (xv, k, 1),
        rhs,
        gemm_par(m * o * k),
    );
    Ok(out)
}

impl Tensor {
    /// `linear(x (*, in), weight (out, in), bias (out))` → `(*, out)` as one node (`AddmmBackward0`,
    /// `MmBackward0` without bias): `x wᵀ` through the GEMM with the bias as its initial value;
    /// backward `gx = g w`, `gw = gᵀ x`, `gb = Σ g` (GEMMs and a reduction, differentiable under
    /// `create_graph`). Other dtypes, weight ranks and bias shapes run the composed ops.
    pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        if let Some(c) = super::autocast::lower(&[&[x, w][..], b.as_slice()].concat())? {
            return Tensor::linear(&c[0], &c[1], c.get(2));
        }
        crate::tensor::Device::same(&[&[x, w][..], b.as_slice()].concat())?;
        if x.ndim() >= 1 && w.ndim() == 2 && x.shape()[x.ndim() - 1] != w.shape()[1] {
            let kx = x.shape()[x.ndim() - 1];
            crate::bail!(
                Runtime,
                "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
                x.numel().checked_div(kx).unwrap_or(0),
                kx,
                w.shape()[1],
                w.shape()[0]
            );
        }
        // the host's one-GEMM form; on a GPU, matmul (cuBLAS) and a bias add kernel
        let fused = !x.device().is_cuda()
            && x.ndim() >= 1
            && w.ndim() == 2
            && matches!(
                x.dtype,
                crate::tensor::DType::F32 | crate::tensor::DType::F64
            )
            && w.dtype == x.dtype
            && x.shape()[x.ndim() - 1] == w.shape()[1]
            && b.is_none_or(|b| b.dtype == x.dtype && b.ndim() == 1 && b.numel() == w.shape()[0]);
        if !fused {
            let y = if w.ndim() == 2 {
                x.matmul(&w.t()?)?
            } else {
                x.matmul(w)?
            };
            return match b {
                Some(b) => y.add(b),
                None => Ok(y),
            };
        }
        let (k, o) = (w.shape()[1], w.shape()[0]);
        let x_shape = x.shape().to_vec();
        let m: usize = x_shape[..x_shape.len() - 1].iter().product();
        let x2 = x.detach().contiguous()?.reshape(&[m, k])?;
        let wc = w.detach().contiguous()?;
        let bc = b.map(|b| b.detach().contiguous()).transpose()?;
        let out = match x.dtype {
            crate::tensor::DType::F32 => linear_fwd::<f32>(&x2, &wc, bc.as_ref())?,
            _ => linear_fwd::<f64>(&x2, &wc, bc.as_ref())?,
        };
        let mut out_shape = x_shape[..x_shape.len() - 1].to_vec();
        out_shape.push(o);
        let out = out.reshape(&out_shape)?;
        let mut inputs = vec![x, w];
        inputs.extend(b);
        if !needs_grad(&inputs) {
            return Ok(out);
        }
        let (rx, rw, has_b) = (x.requires_grad(), w.requires_grad(), b.is_some());
        let rb = b.is_some_and(|b| b.requires_grad());
        let (sx, sw) = (Saved::new(x), Saved::new(w));
        let name = if has_b {
            "AddmmBackward0"
        } else {
            "MmBackward0"
        };
        Ok(record1(name, &inputs, out, move |g| {
            let (x, w) = (sx.get()?, sw.get()?);
            let g2 = g.reshape(&[m, o])?;
            // under create_graph these are recorded ops of the saved (differentiable) inputs
            let graph = crate::autograd::is_grad_enabled();
            let gx = if rx {
                Some(g2.mm(w)?.reshape(&x_shape)?)
            } else {
                None
            };
            let gw = if rw {
                let xm = if graph {
                    x.reshape(&[m, k])?
                } else {
                    x2.clone()
                };
                Some(g2.t()?.mm(&xm)?)
            } else {
                None
            };
            let mut res = vec![gx, gw];
            if has_b {
                res.push(if rb {
                    Some(g2.sum(Some(&[0]), false)?)
                } else {
                    None
                });
            }
            Ok(res)
        }))
    }
}

// ------------------------------------------------------------------ embedding

/// Per-position gradient weights of an embedding lookup (0 at `padding_idx`, `1/count` with
/// `scale_grad_by_freq`); None when all are 1.
type RowScale = Option<std::sync::Arc<Vec<f64>>>;

/// No row of the lookup is scaled (the kernels do not scale).
#[cfg(feature = "cuda")]
fn unit_scale(scale: &RowScale) -> bool {
    scale.as_ref().is_none_or(|s| s.iter().all(|&x| x == 1.0))
}

/// Host indices as an i64 tensor on `like`'s device, for the kernels.
#[cfg(feature = "cuda")]
fn device_index(idx: &[usize], like: &Tensor) -> Result<Tensor> {
    let ix: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
    Tensor::from_vec_on(&ix, &[ix.len()], like.device())
}

/// `out[i] = w[idx[i]] * scale[i]` for `w [V, D]` (any float dtype), one node whose backward is
/// `scatter_rows`.
fn gather_rows(w: &Tensor, idx: &std::sync::Arc<Vec<usize>>, scale: &RowScale) -> Result<Tensor> {
    let (v, d) = (w.shape()[0], w.shape()[1]);
    let wc = w.detach().contiguous()?;
    let out = Tensor::empty(&[idx.len(), d], w.dtype, w.device())?;
    #[cfg(feature = "cuda")]
    let on_gpu = w.device().is_cuda()
        && unit_scale(scale)
        && crate::cuda::ops::embedding(&out, &wc, &device_index(idx, w)?)?;
    #[cfg(not(feature = "cuda"))]
    let on_gpu = false;
    if !on_gpu {
        crate::dispatch_float!(w.dtype, T => {
        // SAFETY: contiguous source of dtype T; `out` is fresh, row i written by one task.
        let (src, dst) = unsafe { (elems::<T>(&wc), elems_mut::<T>(&out)) };
        let body = |(i, row): (usize, &mut [T])| {
            let r = &src[idx[i] * d..(idx[i] + 1) * d];
            match scale {
                Some(s) if s[i] != 1.0 => {
                    for (o, x) in row.iter_mut().zip(r) {
                        *o = T::from_f64(x.to_f64() * s[i]);
                    }
                }
                _ => row.copy_from_slice(r),
            }
        };
        if d > 0 {
            if out.numel() >= super::iter::PAR_THRESHOLD && super::threads::get_num_threads() > 1 {
                dst.par_chunks_mut(d).enumerate().for_each(body);
            } else {
                dst.chunks_mut(d).enumerate().for_each(body);
            }
        }
    }, _ => unreachable!())
    };
    if needs_grad(&[w]) {
        let (idx, scale) = (idx.clone(), scale.clone());
        return Ok(record1("EmbeddingBackward0", &[w], out, move |g| {
            Ok(vec![Some(scatter_rows(g, &idx, &scale, v)?)])
        }));
    }
    Ok(out)
}

/// The dense gradient of a lookup: `gw[idx[i]] += g[i] * scale[i]`, `gw [V, D]`; one node whose
/// backward (double backward of the lookup) is `gather_rows` with the same scale.
fn scatter_rows(
    g: &Tensor,
    idx: &std::sync::Arc<Vec<usize>>,
    scale: &RowScale,
    v: usize,
) -> Result<Tensor> {
    let d = g.shape()[1];
    let gc = g.detach().contiguous()?;
    let out = Tensor::zeros(&[v, d], g.dtype, g.device())?;
    #[cfg(feature = "cuda")]
    let on_gpu = g.device().is_cuda()
        && unit_scale(scale)
        && crate::cuda::ops::embedding_backward(&out, &gc, &device_index(idx, g)?, -1)?;
    #[cfg(not(feature = "cuda"))]
    let on_gpu = false;
    if !on_gpu {
        crate::dispatch_float!(g.dtype, T => {
        // SAFETY: contiguous source of dtype T; `out` is fresh; each task owns a column range of every row.
        let src = unsafe { elems::<T>(&gc) };
        let base = out.data_ptr() as usize;
        let threads = super::threads::get_num_threads();
        let parts = if idx.len() * d >= super::iter::PAR_THRESHOLD && threads > 1 { threads.min(d.max(1)) } else { 1 };
        let per = d.div_ceil(parts.max(1)).max(1);
        (0..parts).into_par_iter().for_each(|p| {
            let (lo, hi) = (p * per, ((p + 1) * per).min(d));
            if lo >= hi {
                return;
            }
            let dst = base as *mut T;
            for (i, &row) in idx.iter().enumerate() {
                let sc = scale.as_ref().map_or(1.0, |s| s[i]);
                if sc == 0.0 {
                    continue;
                }
                let gi = &src[i * d + lo..i * d + hi];
                // SAFETY: columns [lo, hi) of row `row` are written by this task only.
                let o = unsafe { std::slice::from_raw_parts_mut(dst.add(row * d + lo), hi - lo) };
                if sc == 1.0 {
                    for (a, b) in o.iter_mut().zip(gi) {
                        *a = T::from_c(a.to_c() + b.to_c());
                    }
                } else {
                    for (a, b) in o.iter_mut().zip(gi) {
                        *a = T::from_f64(a.to_f64() + b.to_f64() * sc);
                    }
                }
            }
        });
    }, _ => unreachable!())
    };
    if needs_grad(&[g]) {
        let (idx, scale) = (idx.clone(), scale.clone());
        return Ok(record1("EmbeddingDenseBackward0", &[g], out, move |gg| {
            Ok(vec![Some(gather_rows(gg, &idx, &scale)?)])
        }));
    }
    Ok(out)
}

/// Embedding indices read on the host, checked against the weight's rows.
fn host_indices(indices: &Tensor, weight_shape: &[usize]) -> Result<Vec<usize>> {
    let raw = indices.to_vec::<i64>();
    if let Some(bad) = raw
        .iter()
        .find(|&&i| i < 0 || i as usize >= weight_shape[0])
    {
        crate::bail!(
            Index,
            "index out of range in self: index {} for a weight of shape {}",
            bad,
            crate::tensor::fmt_shape(weight_shape)
        );
    }
    Ok(raw.iter().map(|&i| i as usize).collect())
}

/// Each position's gradient weight: 0 at `padding_idx`, `1/count` with `scale_grad_by_freq`.
fn row_scale(
    idx: &[usize],
    padding_idx: Option<i64>,
    scale_grad_by_freq: bool,
    v: usize,
) -> RowScale {
    if padding_idx.is_none() && !scale_grad_by_freq {
        return None;
    }
    let mut counts = vec![0u32; if scale_grad_by_freq { v } else { 0 }];
    if scale_grad_by_freq {
        idx.iter().for_each(|&i| counts[i] += 1);
    }
    let s = idx
        .iter()
        .map(|&i| {
            if padding_idx == Some(i as i64) {
                0.0
            } else if scale_grad_by_freq {
                1.0 / counts[i] as f64
            } else {
                1.0
            }
        })
        .collect();
    Some(std::sync::Arc::new(s))
}

/// embedding with indices on a GPU, never read by the host: the lookup and (f32/f64) its
/// gradient as kernels over the device indices (an index out of range is a device-side assert).
/// None where the lookup kernel does not take it.
#[cfg(feature = "cuda")]
fn embedding_device(
    weight: &Tensor,
    indices: &Tensor,
    padding_idx: Option<i64>,
) -> Result<Option<Tensor>> {
    let (v, d, n) = (weight.shape()[0], weight.shape()[1], indices.numel());
    let idx = indices
        .detach()
        .cast_raw(DType::I64)?
        .contiguous()?
        .reshape(&[n])?;
    let out = Tensor::empty(&[n, d], weight.dtype, weight.device())?;
    if !crate::cuda::ops::embedding(&out, &weight.detach().contiguous()?, &idx)? {
        return Ok(None);
    }
    let out = if needs_grad(&[weight]) {
        let weight_shape = weight.shape().to_vec();
        record1("EmbeddingBackward0", &[weight], out, move |g| {
            let gw = Tensor::zeros(&[v, d], g.dtype, g.device())?;
            let pad = padding_idx.unwrap_or(-1);
            if !crate::autograd::is_grad_enabled()
                && crate::cuda::ops::embedding_backward(&gw, &g.contiguous()?, &idx, pad)?
            {
                return Ok(vec![Some(gw)]);
            }
            // other dtypes, and double backward: through the host indices
            let host = host_indices(&idx, &weight_shape)?;
            let scale = row_scale(&host, padding_idx, false, v);
            Ok(vec![Some(scatter_rows(
                g,
                &std::sync::Arc::new(host),
                &scale,
                v,
            )?)])
        })
    } else {
        out
    };
    let mut shape = indices.shape().to_vec();
    shape.push(d);
    Ok(Some(out.reshape(&shape)?))
}

impl Tensor {
    /// `embedding(weight [V, D], indices (any shape, int64/int32))` → `(*indices.shape, D)`, one node:
    /// the gradient is dense `[V, D]`, summed per row, zero at `padding_idx`, divided by each index's
    /// count with `scale_grad_by_freq`.
    pub fn embedding(
        weight: &Tensor,
        indices: &Tensor,
        padding_idx: Option<i64>,
        scale_grad_by_freq: bool,
    ) -> Result<Tensor> {
        crate::tensor::Device::same(&[weight, indices])?;
        if weight.ndim() != 2 || !weight.dtype.is_float() {
            crate::bail!(
                Runtime,
                "embedding: expected a 2-D floating point weight, got {} of dtype {}",
                crate::tensor::fmt_shape(weight.shape()),
                crate::ops::dtype_title(weight.dtype)
            );
        }
        if !matches!(
            indices.dtype,
            crate::tensor::DType::I64 | crate::tensor::DType::I32
        ) {
            crate::bail!(
                Runtime,
                "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; but got {} instead (while checking arguments for embedding)",
                crate::ops::dtype_title(indices.dtype)
            );
        }
        let v = weight.shape()[0];
        #[cfg(feature = "cuda")]
        if indices.device().is_cuda() && !scale_grad_by_freq {
            if let Some(out) = embedding_device(weight, indices, padding_idx)? {
                return Ok(out);
            }
        }
        let idx = host_indices(indices, weight.shape())?;
        let scale = row_scale(&idx, padding_idx, scale_grad_by_freq, v);
        let idx = std::sync::Arc::new(idx);
        // the forward value is never scaled: the scale applies to the gradient only
        let out = {
            let plain = gather_rows(&weight.detach(), &idx, &None)?;
            if needs_grad(&[weight]) {
                let (idx2, scale2) = (idx.clone(), scale.clone());
                record1("EmbeddingBackward0", &[weight], plain, move |g| {
                    Ok(vec![Some(scatter_rows(g, &idx2, &scale2, v)?)])
                })
            } else {
                plain
            }
        };
        let mut shape = indices.shape().to_vec();
        shape.push(weight.shape()[1]);
        out.reshape(&shape)
    }
}

// ------------------------------------------------------------------ cross-entropy

/// How a loss is reduced: per element, averaged (by the weights' sum), or summed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LossReduction {
    None,
    Mean,
    Sum,
}

/// `(x, tensor_of_rows)`: the logits as rows of classes `[R, C]`, the class dim moved innermost.
fn class_rows(x: &Tensor) -> Result<Tensor> {
    let c = x.shape()[if x.ndim() == 1 { 0 } else { 1 }];
    let r = x.numel().checked_div(c).unwrap_or(0);
    let xm = if x.ndim() > 2 {
        x.movedim(1, -1)?
    } else {
        x.clone()
    };
    xm.reshape(&[r, c])
}

/// Cross-entropy forward on the host over class rows `x2` ([rows, c], contiguous): the
/// log-probabilities, the reduced loss (x2's dtype), each row's target weight (0 when ignored)
/// and their sum, the divisor of reduction='mean'.
fn nll_host(
    x2: &Tensor,
    tgt: &[i64],
    w: Option<&[f64]>,
    ignore_index: i64,
    eps: f64,
    reduction: LossReduction,
    target_shape: &[usize],
) -> Result<(Tensor, Tensor, Vec<f64>, f64)> {
    let (rows, c) = (x2.shape()[0], x2.shape()[1]);
    let lp = crate::dispatch_float!(x2.dtype, T => softmax_kernel::<T>(x2, 1, true)?, _ => unreachable!());
    let mut loss = vec![0f64; rows];
    let mut wy = vec![0f64; rows];
    crate::dispatch_float!(x2.dtype, T => {
        // SAFETY: `lp` is a fresh contiguous [rows, c] tensor of dtype T.
        let lv = unsafe { elems::<T>(&lp) };
        for r in 0..rows {
            let t = tgt[r];
            if t == ignore_index {
                continue;
            }
            let row = &lv[r * c..(r + 1) * c];
            let wt = w.map_or(1.0, |w| w[t as usize]);
            wy[r] = wt;
            let mut l = -wt * row[t as usize].to_f64();
            if eps > 0.0 {
                let s: f64 = match w {
                    Some(w) => row.iter().zip(w).map(|(v, w)| v.to_f64() * w).sum(),
                    None => row.iter().map(|v| v.to_f64()).sum(),
                };
                l = (1.0 - eps) * l - eps / c as f64 * s;
            }
            loss[r] = l;
        }
    }, _ => unreachable!());
    let denom: f64 = wy.iter().sum();
    let dev = x2.device();
    let out = match reduction {
        LossReduction::None => Tensor::from_vec_on(&loss, target_shape, dev)?,
        LossReduction::Sum => Tensor::from_vec_on(&[loss.iter().sum::<f64>()], &[], dev)?,
        LossReduction::Mean => Tensor::from_vec_on(&[loss.iter().sum::<f64>() / denom], &[], dev)?,
    }
    .cast_raw(x2.dtype)?;
    Ok((lp, out, wy, denom))
}

/// What the GPU forward of cross-entropy leaves: log-probabilities and per-row losses and target
/// weights (all [rows], x's dtype), with the device copies of target (i64) and class weights.
pub struct NllRows {
    pub logprobs: Tensor,
    pub loss: Tensor,
    pub row_weight: Tensor,
    pub target: Tensor,
    pub weight: Option<Tensor>,
}

/// cross_entropy (`from_logits`) or nll_loss on a GPU from the forward kernels' rows: the
/// reduction, its 'mean' divisor and the backward stay on the device, so a training step never
/// waits here (a target out of range is a device-side assert, as in PyTorch).
#[cfg(feature = "cuda")]
fn cross_entropy_device(
    x: &Tensor,
    r: NllRows,
    ignore_index: i64,
    reduction: LossReduction,
    target_shape: &[usize],
    from_logits: bool,
) -> Result<Tensor> {
    let (out, denom) = {
        let _g = crate::autograd::GradModeGuard::new(false);
        match reduction {
            LossReduction::None => (r.loss.reshape(target_shape)?, None),
            LossReduction::Sum => (r.loss.sum_dims(&[0], false)?, None),
            LossReduction::Mean => {
                let denom = r.row_weight.sum_dims(&[0], false)?;
                (r.loss.sum_dims(&[0], false)?.div(&denom)?, Some(denom))
            }
        }
    };
    if !needs_grad(&[x]) {
        return Ok(out);
    }
    let sx = Saved::new(x);
    let x_shape = x.shape().to_vec();
    let rows = r.loss.numel();
    Ok(record1("NllLossBackward0", &[x], out, move |g| {
        let g = match &denom {
            Some(d) => g.div(d)?,
            None => g.clone(),
        };
        let gi = if crate::autograd::is_grad_enabled() {
            // differentiable in the input (and in g): (softmax(x) - onehot) * w[t] * g for
            // cross-entropy, -onehot * w[t] * g for nll_loss
            let xr = class_rows(sx.get()?)?;
            let wy = r.row_weight.reshape(&[rows, 1])?;
            let ignored = r.target.cmp_scalar(BinaryOp::Eq, ignore_index as f64)?;
            let zero = Tensor::zeros(&[], DType::I64, g.device())?;
            let t = Tensor::where_(&ignored, &zero, &r.target)?.reshape(&[rows, 1])?;
            // w[t] at each row's target (ignored rows: 0 at column 0)
            let onehot = Tensor::zeros(xr.shape(), xr.dtype, xr.device())?
                .scatter_valid_index(1, &t, &wy, false)?;
            let gs = match reduction {
                LossReduction::None => g.reshape(&[rows, 1])?,
                _ => g,
            };
            let d = if from_logits {
                xr.softmax(1, false)?.mul(&wy)?.sub(&onehot)?
            } else {
                onehot.neg()?
            };
            d.mul(&gs)?
        } else {
            let g = match reduction {
                LossReduction::None => g.reshape(&[rows])?,
                _ => g,
            };
            crate::cuda::ops::cross_entropy_backward(
                &r.logprobs,
                &r.target,
                r.weight.as_ref(),
                ignore_index,
                &g,
                from_logits,
            )?
        };
        Ok(vec![Some(from_class_rows(gi, &x_shape)?)])
    }))
}

/// cross_entropy with label smoothing ε on a GPU: (1-ε)·cross-entropy + (ε/C)·the smoothing term
/// `-Σ_c w[c] log p_c` of each non-ignored row, reduced as the loss ('mean': over the same
/// `Σ w[y_r]`), in differentiable device ops.
#[cfg(feature = "cuda")]
fn smoothed_cross_entropy_device(
    x: &Tensor,
    r: NllRows,
    weight: Option<&Tensor>,
    ignore_index: i64,
    eps: f64,
    reduction: LossReduction,
    target_shape: &[usize],
) -> Result<Tensor> {
    let c = r.logprobs.shape()[1];
    let (row_weight, target) = (r.row_weight.clone(), r.target.clone());
    let ce = cross_entropy_device(x, r, ignore_index, reduction, target_shape, true)?;
    let lp = class_rows(x)?.softmax(1, true)?;
    let weighted = match weight {
        Some(w) => lp.mul(&w.reshape(&[1, c])?)?,
        None => lp,
    };
    let valid = target
        .cmp_scalar(BinaryOp::Ne, ignore_index as f64)?
        .cast_raw(x.dtype)?
        .reshape(&[row_weight.numel()])?;
    let smooth = weighted.sum_dims(&[1], false)?.mul(&valid)?;
    let smooth = match reduction {
        LossReduction::None => smooth.reshape(target_shape)?,
        LossReduction::Sum => smooth.sum_dims(&[0], false)?,
        LossReduction::Mean => smooth
            .sum_dims(&[0], false)?
            .div(&row_weight.sum_dims(&[0], false)?)?,
    };
    ce.mul_scalar(1.0 - eps)?
        .add(&smooth.mul_scalar(-eps / c as f64)?)
}

/// Rows `[R, C]` back to the input's layout (class dim 1).
fn from_class_rows(g: Tensor, shape: &[usize]) -> Result<Tensor> {
    if shape.len() <= 2 {
        return g.reshape(shape);
    }
    let mut moved = vec![shape[0]];
    moved.extend_from_slice(&shape[2..]);
    moved.push(shape[1]);
    g.reshape(&moved)?.movedim(-1, 1)?.contiguous()
}

impl Tensor {
    /// `nll_loss(input, target)` on a GPU (log-probabilities `(N, C, *)` floating, class indices
    /// `(N, *)`, shapes checked by the caller; `weight` `[C]` of input's dtype): the nll kernels
    /// forward and backward, nothing read back. None off a GPU or where the kernels do not run.
    pub fn nll_loss_device(
        x: &Tensor,
        target: &Tensor,
        weight: Option<&Tensor>,
        ignore_index: i64,
        reduction: LossReduction,
    ) -> Result<Option<Tensor>> {
        crate::tensor::Device::same(&[&[x, target][..], weight.as_slice()].concat())?;
        #[cfg(feature = "cuda")]
        if x.device().is_cuda() && x.ndim() >= 1 && x.dtype.is_float() {
            let x2 = class_rows(&x.detach())?.contiguous()?;
            if let Some(r) =
                crate::cuda::ops::nll_forward(&x2, target, weight, ignore_index, false)?
            {
                let shape = target.shape();
                return cross_entropy_device(x, r, ignore_index, reduction, shape, false).map(Some);
            }
        }
        let _ = (target, weight, ignore_index, reduction);
        Ok(None)
    }

    /// `cross_entropy(input, target)` with class-index targets: log_softmax and nll (with
    /// `weight`, `ignore_index`, `label_smoothing`, the reduction) in one node. `input` is `(N, C, *)`
    /// or `(C,)`, floating point; `target` integer `(N, *)` or `()`; `weight` `[C]` of input's dtype.
    /// Saves the log-probabilities; backward `g · (s_r softmax - a)`, where row r's target
    /// distribution `a[c] = (1-ε) w[y_r] δ(c, y_r) + (ε/C) w[c]` and `s_r = Σ_c a[c]` (0 when ignored),
    /// divided by `Σ w[y_r]` for 'mean'. Under `create_graph` the same formula in tensor ops of input.
    pub fn cross_entropy_index(
        x: &Tensor,
        target: &Tensor,
        weight: Option<&Tensor>,
        ignore_index: i64,
        label_smoothing: f64,
        reduction: LossReduction,
    ) -> Result<Tensor> {
        crate::tensor::Device::same(&[&[x, target][..], weight.as_slice()].concat())?;
        if x.ndim() == 0 || !x.dtype.is_float() {
            crate::bail!(
                Runtime,
                "cross_entropy: expected a floating point input of 1 or more dims, got {} of dtype {}",
                fmt_shape(x.shape()),
                crate::ops::dtype_title(x.dtype)
            );
        }
        let c = x.shape()[if x.ndim() == 1 { 0 } else { 1 }];
        let rows = x.numel().checked_div(c).unwrap_or(0);
        if target.numel() != rows {
            crate::bail!(
                Runtime,
                "Expected target size {}, got {}",
                fmt_shape(&{
                    let mut s = x.shape().to_vec();
                    if s.len() > 1 {
                        s.remove(1);
                    } else {
                        s.clear();
                    }
                    s
                }),
                fmt_shape(target.shape())
            );
        }
        if let Some(w) = weight.filter(|w| w.numel() != c) {
            crate::bail!(
                Runtime,
                "weight tensor should be defined either for all {} classes or no classes but got weight tensor of shape: {}",
                c,
                fmt_shape(w.shape())
            );
        }
        let eps = label_smoothing;
        let x2 = class_rows(&x.detach())?.contiguous()?;
        // on a GPU: log_softmax and nll as kernels, nothing read back
        #[cfg(feature = "cuda")]
        if x.device().is_cuda() {
            if let Some(r) = crate::cuda::ops::nll_forward(&x2, target, weight, ignore_index, true)?
            {
                let shape = target.shape();
                if eps == 0.0 {
                    return cross_entropy_device(x, r, ignore_index, reduction, shape, true);
                }
                return smoothed_cross_entropy_device(
                    x,
                    r,
                    weight,
                    ignore_index,
                    eps,
                    reduction,
                    shape,
                );
            }
        }
        let tgt: Vec<i64> = target.to_vec::<i64>();
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for &t in &tgt {
            let t = if t == ignore_index { 0 } else { t };
            lo = lo.min(t);
            hi = hi.max(t);
        }
        if !tgt.is_empty() && (lo < 0 || hi >= c as i64) {
            crate::bail!(
                Index,
                "Target {} is out of bounds.",
                if hi >= c as i64 { hi } else { lo }
            );
        }
        let w: Option<Vec<f64>> = weight.map(|w| w.to_vec::<f64>());
        let wsum: f64 = w.as_ref().map_or(c as f64, |w| w.iter().sum());
        let (lp, out, wy, denom) = nll_host(
            &x2,
            &tgt,
            w.as_deref(),
            ignore_index,
            eps,
            reduction,
            target.shape(),
        )?;
        if !needs_grad(&[x]) {
            return Ok(out);
        }
        let sx = Saved::new(x);
        let x_shape = x.shape().to_vec();
        let dtype = x.dtype;
        let (tgt, w) = (std::sync::Arc::new(tgt), w.map(std::sync::Arc::new));
        Ok(record1("NllLossBackward0", &[x], out, move |g| {
            let cf = eps / c as f64;
            let row_w = |r: usize| -> f64 {
                if tgt[r] == ignore_index {
                    0.0
                } else {
                    (1.0 - eps) * wy[r] + cf * wsum
                }
            };
            let wc = |k: usize| w.as_ref().map_or(1.0, |w| w[k]);
            let gi = if crate::autograd::is_grad_enabled() {
                // differentiable in the input (and in g): (softmax(x) * s - a) * g
                let p = class_rows(sx.get()?)?.softmax(1, false)?;
                let s: Vec<f64> = (0..rows).map(row_w).collect();
                let mut a = vec![0f64; rows * c];
                for r in 0..rows {
                    if tgt[r] == ignore_index {
                        continue;
                    }
                    let row = &mut a[r * c..(r + 1) * c];
                    if eps > 0.0 {
                        for (k, v) in row.iter_mut().enumerate() {
                            *v = cf * wc(k);
                        }
                    }
                    row[tgt[r] as usize] += (1.0 - eps) * wy[r];
                }
                let s = Tensor::from_vec_on(&s, &[rows, 1], g.device())?.cast_raw(dtype)?;
                let a = Tensor::from_vec_on(&a, &[rows, c], g.device())?.cast_raw(dtype)?;
                let gs = match reduction {
                    LossReduction::None => g.reshape(&[rows, 1])?,
                    LossReduction::Sum => g.clone(),
                    LossReduction::Mean => g.mul_scalar(1.0 / denom)?,
                };
                p.mul(&s)?.sub(&a)?.mul(&gs)?
            } else {
                let gv: Vec<f64> = g.to_vec::<f64>();
                let gs = |r: usize| match reduction {
                    LossReduction::None => gv[r],
                    LossReduction::Sum => gv[0],
                    LossReduction::Mean => gv[0] / denom,
                };
                let out = Tensor::empty(&[rows, c], dtype, g.device())?;
                crate::dispatch_float!(dtype, T => {
                    // SAFETY: `lp` is contiguous [rows, c] of dtype T; `out` is fresh, row r written by one task.
                    let (lv, ov) = unsafe { (elems::<T>(&lp), elems_mut::<T>(&out)) };
                    rows_mut(ov, c, |r, row| {
                        let t = tgt[r];
                        if t == ignore_index {
                            row.iter_mut().for_each(|v| *v = T::from_f64(0.0));
                            return;
                        }
                        let (k, sr) = (gs(r), row_w(r));
                        let lr = &lv[r * c..(r + 1) * c];
                        for (j, (o, l)) in row.iter_mut().zip(lr).enumerate() {
                            let a = if eps > 0.0 { cf * wc(j) } else { 0.0 };
                            *o = T::from_f64(k * (sr * l.to_f64().exp() - a));
                        }
                        let t = t as usize;
                        row[t] = T::from_f64(row[t].to_f64() - k * (1.0 - eps) * wy[r]);
                    });
                }, _ => unreachable!());
                out
            };
            Ok(vec![Some(from_class_rows(gi, &x_shape)?)])
        }))
    }
}

// ------------------------------------------------------------------ batch norm

/// `(Σ f(x), Σ f2(x, y))` over two equal-length slices, in f64 with 4 independent accumulators
/// each (so the additions pipeline instead of waiting on one another).
fn sum2<T: FloatElem>(
    x: &[T],
    y: &[T],
    f: impl Fn(f64) -> f64,
    f2: impl Fn(f64, f64) -> f64,
) -> (f64, f64) {
    let (mut a, mut b) = ([0f64; 4], [0f64; 4]);
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        for k in 0..4 {
            let (u, v) = (xs[k].to_f64(), ys[k].to_f64());
            a[k] += f(v);
            b[k] += f2(u, v);
        }
    }
    let (mut sa, mut sb) = (a[0] + a[1] + (a[2] + a[3]), b[0] + b[1] + (b[2] + b[3]));
    for (u, v) in xr.iter().zip(yr) {
        let (u, v) = (u.to_f64(), v.to_f64());
        sa += f(v);
        sb += f2(u, v);
    }
    (sa, sb)
}

/// Per-channel `(mean, biased variance)` of contiguous `(N, C, S)` data, two passes in f64.
fn channel_stats<T: FloatElem>(xv: &[T], n: usize, c: usize, s: usize) -> Vec<(f64, f64)> {
    let m = (n * s) as f64;
    let stat = |ch: usize| {
        let planes = || (0..n).map(move |i| &xv[(i * c + ch) * s..(i * c + ch + 1) * s]);
        let mean = planes()
            .map(|p| sum2(p, p, |v| v, |_, _| 0.0).0)
            .sum::<f64>()
            / m;
        let var = planes()
            .map(|p| sum2(p, p, |v| (v - mean) * (v - mean), |_, _| 0.0).0)
            .sum::<f64>()
            / m;
        (mean, var)
    };
    if xv.len() >= super::iter::PAR_THRESHOLD && super::threads::get_num_threads() > 1 {
        (0..c).into_par_iter().map(stat).collect()
    } else {
        (0..c).map(stat).collect()
    }
}

/// `y = x * a[ch] + b[ch]` over contiguous `(N, C, S)`.
fn channel_affine<T: FloatElem>(
    xv: &[T],
    ov: &mut [T],
    c: usize,
    s: usize,
    f: impl Fn(usize, f64) -> f64 + Sync,
) {
    rows_mut(ov, s, |p, row| {
        let ch = p % c;
        for (o, x) in row.iter_mut().zip(&xv[p * s..(p + 1) * s]) {
            *o = T::from_f64(f(ch, x.to_f64()));
        }
    });
}

impl Tensor {
    /// `batch_norm` in training mode as one node (`NativeBatchNormBackward0`): per-channel batch
    /// mean / biased variance over `(N, *)`, normalise, affine; `running_mean` / `running_var`
    /// (contiguous `[C]` of input's dtype) updated in place with `momentum`, the variance unbiased.
    /// Backward `dx = w·rstd·(g - mean(g) - x̂·mean(g·x̂))`, `dw = Σ g·x̂`, `db = Σ g`; under
    /// `create_graph` the same in tensor ops of the input.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm_train(
        x: &Tensor,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        momentum: f64,
        eps: f64,
    ) -> Result<Tensor> {
        if x.ndim() < 2 || !x.dtype.is_float() {
            crate::bail!(
                Runtime,
                "batch_norm: expected a floating point input of 2 or more dims, got {} of dtype {}",
                fmt_shape(x.shape()),
                crate::ops::dtype_title(x.dtype)
            );
        }
        let (n, c) = (x.shape()[0], x.shape()[1]);
        let s: usize = x.shape()[2..].iter().product();
        let count = n * s;
        if count <= 1 {
            crate::bail!(
                Value,
                "Expected more than 1 value per channel when training, got input size {}",
                fmt_shape(x.shape())
            );
        }
        for (name, p) in [
            ("weight", weight),
            ("bias", bias),
            ("running_mean", running_mean),
            ("running_var", running_var),
        ] {
            if let Some(p) = p {
                if p.numel() != c || p.dtype != x.dtype {
                    crate::bail!(
                        Runtime,
                        "batch_norm: expected {} of {} elements and dtype {}, got {} of dtype {}",
                        name,
                        c,
                        crate::ops::dtype_title(x.dtype),
                        fmt_shape(p.shape()),
                        crate::ops::dtype_title(p.dtype)
                    );
                }
            }
        }
        let xc = x.detach().contiguous()?;
        let wv: Option<Vec<f64>> = weight.map(|w| w.to_vec::<f64>());
        let bv: Option<Vec<f64>> = bias.map(|b| b.to_vec::<f64>());
        let out = Tensor::empty(x.shape(), x.dtype, x.device())?;
        let (mean, rstd): (Vec<f64>, Vec<f64>) = crate::dispatch_float!(x.dtype, T => {
            // SAFETY: `xc` contiguous of dtype T; `out` fresh, each plane written by one task.
            let (xv, ov) = unsafe { (elems::<T>(&xc), elems_mut::<T>(&out)) };
            let st = channel_stats::<T>(xv, n, c, s);
            let rstd: Vec<f64> = st.iter().map(|&(_, v)| 1.0 / (v + eps).sqrt()).collect();
            let mean: Vec<f64> = st.iter().map(|&(m, _)| m).collect();
            let a: Vec<f64> = (0..c).map(|ch| rstd[ch] * wv.as_ref().map_or(1.0, |w| w[ch])).collect();
            let b: Vec<f64> = (0..c).map(|ch| bv.as_ref().map_or(0.0, |b| b[ch]) - mean[ch] * a[ch]).collect();
            channel_affine::<T>(xv, ov, c, s, |ch, v| v * a[ch] + b[ch]);
            let unb = count as f64 / (count - 1) as f64;
            for (rs, i) in [(running_mean, 0), (running_var, 1)] {
                let Some(rs) = rs else { continue };
                let rc = rs.detach().contiguous()?;
                let mut vals = rc.to_vec::<T>();
                for (ch, v) in vals.iter_mut().enumerate() {
                    let stat = if i == 0 { st[ch].0 } else { st[ch].1 * unb };
                    *v = T::from_f64((1.0 - momentum) * v.to_f64() + momentum * stat);
                }
                let mut dst = rs.detach();
                let _g = crate::autograd::GradModeGuard::new(false);
                dst.copy_(&Tensor::from_vec(&vals, rs.shape())?)?;
            }
            (mean, rstd)
        }, _ => unreachable!());
        let mut inputs: Vec<&Tensor> = vec![x];
        inputs.extend(weight);
        inputs.extend(bias);
        if !needs_grad(&inputs) {
            return Ok(out);
        }
        let (rx, has_w, has_b) = (x.requires_grad(), weight.is_some(), bias.is_some());
        let rw = weight.is_some_and(|w| w.requires_grad());
        let rb = bias.is_some_and(|b| b.requires_grad());
        let sx = Saved::new(x);
        let sw = weight.map(Saved::new);
        let x_shape = x.shape().to_vec();
        let dtype = x.dtype;
        let outs = record("NativeBatchNormBackward0", &inputs, vec![out], move |g| {
            let Some(g) = &g[0] else {
                return Ok(vec![None; 1 + has_w as usize + has_b as usize]);
            };
            let xs = sx.get()?;
            let mut res: Vec<Option<Tensor>> = Vec::new();
            if crate::autograd::is_grad_enabled() {
                // a graph of the backward pass: x̂ and rstd again, as tensor ops of x
                let mut dims: Vec<i64> = vec![0];
                dims.extend((2..x_shape.len()).map(|d| d as i64));
                let mut cshape = vec![1usize; x_shape.len()];
                cshape[1] = c;
                let cx = xs.sub(&xs.mean(Some(&dims), true)?)?;
                let r = cx
                    .mul(&cx)?
                    .mean(Some(&dims), true)?
                    .add_scalar(eps)?
                    .unary(super::elementwise::UnaryOp::Rsqrt)?;
                let xh = cx.mul(&r)?;
                let gw = match &sw {
                    Some(w) => g.mul(&w.get()?.reshape(&cshape)?)?,
                    None => g.clone(),
                };
                let m1 = gw.mean(Some(&dims), true)?;
                let m2 = gw.mul(&xh)?.mean(Some(&dims), true)?;
                res.push(if rx {
                    Some(gw.sub(&m1)?.sub(&xh.mul(&m2)?)?.mul(&r)?)
                } else {
                    None
                });
                if has_w {
                    res.push(if rw {
                        Some(g.mul(&xh)?.sum(Some(&dims), false)?)
                    } else {
                        None
                    });
                }
                if has_b {
                    res.push(if rb {
                        Some(g.sum(Some(&dims), false)?)
                    } else {
                        None
                    });
                }
                return Ok(res);
            }
            let xc = xs.detach().contiguous()?;
            let gc = g.detach().contiguous()?;
            let wv: Option<Vec<f64>> = match &sw {
                Some(w) => Some(w.get()?.to_vec::<f64>()),
                None => None,
            };
            let m = count as f64;
            crate::dispatch_float!(dtype, T => {
                // SAFETY: contiguous tensors of dtype T.
                let (xv, gv) = unsafe { (elems::<T>(&xc), elems::<T>(&gc)) };
                // per channel Σ g and Σ g·x̂
                let sums = |ch: usize| {
                    let (mut sg, mut sgx) = (0f64, 0f64);
                    for i in 0..n {
                        let o = (i * c + ch) * s;
                        let mc = mean[ch];
                        let (a, b) = sum2(&xv[o..o + s], &gv[o..o + s], |g| g, |x, g| g * (x - mc));
                        sg += a;
                        sgx += b;
                    }
                    (sg, sgx * rstd[ch])
                };
                let st: Vec<(f64, f64)> = if xv.len() >= super::iter::PAR_THRESHOLD && super::threads::get_num_threads() > 1 {
                    (0..c).into_par_iter().map(sums).collect()
                } else {
                    (0..c).map(sums).collect()
                };
                res.push(if rx {
                    let dx = Tensor::empty(&x_shape, dtype, xc.device())?;
                    // SAFETY: `dx` fresh and contiguous, each plane written by one task.
                    let dv = unsafe { elems_mut::<T>(&dx) };
                    let k: Vec<f64> = (0..c).map(|ch| rstd[ch] * wv.as_ref().map_or(1.0, |w| w[ch])).collect();
                    rows_mut(dv, s, |p, row| {
                        let ch = p % c;
                        let (mg, mgx) = (st[ch].0 / m, st[ch].1 / m);
                        let o = p * s;
                        for ((d, xe), ge) in row.iter_mut().zip(&xv[o..o + s]).zip(&gv[o..o + s]) {
                            let xh = (xe.to_f64() - mean[ch]) * rstd[ch];
                            *d = T::from_f64(k[ch] * (ge.to_f64() - mg - xh * mgx));
                        }
                    });
                    Some(dx)
                } else {
                    None
                });
                if has_w {
                    res.push(if rw {
                        let v: Vec<T> = st.iter().map(|&(_, sgx)| T::from_f64(sgx)).collect();
                        Some(Tensor::from_vec_on(&v, &[c], xc.device())?)
                    } else {
                        None
                    });
                }
                if has_b {
                    res.push(if rb {
                        let v: Vec<T> = st.iter().map(|&(sg, _)| T::from_f64(sg)).collect();
                        Some(Tensor::from_vec_on(&v, &[c], xc.device())?)
                    } else {
                        None
                    });
                }
            }, _ => unreachable!());
            Ok(res)
        });
        Ok(outs.into_iter().next().expect("one output"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn softmax_rows_sum_to_one() {
        let x = Tensor::from_vec(&[1f32, 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
        let s = x.softmax(1, false).unwrap().to_vec::<f32>();
        assert!((s[0] + s[1] + s[2] - 1.0).abs() < 1e-6);
        let s0 = x.softmax(0, false).unwrap().to_vec::<f32>();
        assert!((s0[0] + s0[3] - 1.0).abs() < 1e-6);
        let l = x.softmax(1, true).unwrap().to_vec::<f32>();
        assert!((l[0].exp() - s[0]).abs() < 1e-6);
    }
}
