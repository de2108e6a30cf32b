//! Fused neural-network kernels: softmax / log_softmax along a dim and layer norm, one autograd
//! node each (their formulas are tensor expressions, so double backward works).

use super::reduce::split3;
use crate::autograd::{needs_grad, record, record1, Saved};
use crate::tensor::{wrap_dim, Elem, FloatElem, Result, Tensor};
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
    let out = Tensor::from_vec(&buf, xt.shape())?;
    if inner == 1 {
        return Ok(out);
    }
    out.movedim(-1, d as i64)?.contiguous()
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
        let out = crate::dispatch_float!(x.dtype, T => softmax_kernel::<T>(&xd, d, log)?, _ => unreachable!());
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
        let rows = if n == 0 { 0 } else { x.numel() / n };
        let (xhat, rstd) = crate::dispatch_float!(x.dtype, T => {
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
            (Tensor::from_vec(&buf, x.shape())?, Tensor::from_vec(&rs, &[rows])?.cast_raw(x.dtype)?)
        }, _ => crate::bail!(Runtime, "layer_norm: expected a floating point input, got {}", crate::ops::dtype_title(x.dtype)));
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
