//! Convolution (im2col + GEMM, groups, stride, padding, dilation) and 2-D pooling, forward and
//! backward. N-d inputs are handled as 2-D: conv1d is conv2d with a height of 1.

use crate::autograd::{needs_grad, record, Saved};
use crate::tensor::{fmt_shape, Elem, FloatElem, Result, Tensor};
use rayon::prelude::*;

#[derive(Clone, Copy, Debug)]
pub struct Conv2d {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
}

fn out_size(inp: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> Option<usize> {
    let span = d * (k - 1) + 1;
    if inp + 2 * p < span {
        return None;
    }
    let num = inp + 2 * p - span;
    let mut o = if ceil { num.div_ceil(s) } else { num / s } + 1;
    if ceil && (o - 1) * s >= inp + p {
        o -= 1;
    }
    Some(o)
}

struct Geo {
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    p: Conv2d,
}

impl Geo {
    fn rows(&self) -> usize {
        self.c * self.kh * self.kw
    }
    fn cols(&self) -> usize {
        self.oh * self.ow
    }
    /// Input coordinate for output (oh, ow) and kernel tap (ki, kj); None in the padding.
    #[inline(always)]
    fn src(&self, oh: usize, ow: usize, ki: usize, kj: usize) -> Option<(usize, usize)> {
        let ih =
            (oh * self.p.stride.0 + ki * self.p.dilation.0) as isize - self.p.padding.0 as isize;
        let iw =
            (ow * self.p.stride.1 + kj * self.p.dilation.1) as isize - self.p.padding.1 as isize;
        if ih < 0 || iw < 0 || ih >= self.h as isize || iw >= self.w as isize {
            None
        } else {
            Some((ih as usize, iw as usize))
        }
    }
}

/// x [N, C, H, W] contiguous → columns [N, C*kh*kw, oh*ow].
fn im2col<T: Elem>(x: &[T], n: usize, g: &Geo) -> Vec<T> {
    let (rows, cols) = (g.rows(), g.cols());
    let mut out = vec![T::default(); n * rows * cols];
    out.par_chunks_mut(cols).enumerate().for_each(|(r, dst)| {
        let (b, row) = (r / rows, r % rows);
        let (c, ki, kj) = (row / (g.kh * g.kw), (row / g.kw) % g.kh, row % g.kw);
        let plane = &x[(b * g.c + c) * g.h * g.w..(b * g.c + c + 1) * g.h * g.w];
        for oh in 0..g.oh {
            for ow in 0..g.ow {
                if let Some((ih, iw)) = g.src(oh, ow, ki, kj) {
                    dst[oh * g.ow + ow] = plane[ih * g.w + iw];
                }
            }
        }
    });
    out
}

/// Columns [N, C*kh*kw, oh*ow] → summed back into x's shape [N, C, H, W].
fn col2im<T: FloatElem>(cols: &[T], n: usize, g: &Geo) -> Vec<T> {
    let mut out = vec![T::default(); n * g.c * g.h * g.w];
    let (rows, ncols) = (g.rows(), g.cols());
    out.par_chunks_mut(g.h * g.w)
        .enumerate()
        .for_each(|(plane_i, dst)| {
            let (b, c) = (plane_i / g.c, plane_i % g.c);
            let mut acc = vec![<T::C as num_traits::Zero>::zero(); g.h * g.w];
            for ki in 0..g.kh {
                for kj in 0..g.kw {
                    let row = (c * g.kh + ki) * g.kw + kj;
                    let src = &cols[(b * rows + row) * ncols..(b * rows + row + 1) * ncols];
                    for oh in 0..g.oh {
                        for ow in 0..g.ow {
                            if let Some((ih, iw)) = g.src(oh, ow, ki, kj) {
                                acc[ih * g.w + iw] =
                                    acc[ih * g.w + iw] + src[oh * g.ow + ow].to_c();
                            }
                        }
                    }
                }
            }
            for (d, a) in dst.iter_mut().zip(acc) {
                *d = T::from_c(a);
            }
        });
    out
}

fn geo(x: &Tensor, w: &Tensor, p: Conv2d) -> Result<Geo> {
    if x.ndim() != 4 || w.ndim() != 4 {
        crate::bail!(
            Runtime,
            "conv2d: expected 4-D input and weight, got {}D and {}D",
            x.ndim(),
            w.ndim()
        );
    }
    let (c, h, wd) = (x.shape()[1], x.shape()[2], x.shape()[3]);
    let (o, cg, kh, kw) = (w.shape()[0], w.shape()[1], w.shape()[2], w.shape()[3]);
    if p.groups == 0 || c % p.groups != 0 || o % p.groups != 0 || cg * p.groups != c {
        crate::bail!(
            Runtime,
            "Given groups={}, weight of size {}, expected input{} to have {} channels, but got {} channels instead",
            p.groups,
            fmt_shape(w.shape()),
            fmt_shape(x.shape()),
            cg * p.groups,
            c
        );
    }
    if p.stride.0 == 0 || p.stride.1 == 0 || p.dilation.0 == 0 || p.dilation.1 == 0 {
        crate::bail!(Runtime, "non-positive stride/dilation is not supported");
    }
    let oh = out_size(h, kh, p.stride.0, p.padding.0, p.dilation.0, false);
    let ow = out_size(wd, kw, p.stride.1, p.padding.1, p.dilation.1, false);
    let (Some(oh), Some(ow)) = (oh, ow) else {
        crate::bail!(
            Runtime,
            "Calculated padded input size per channel: ({} x {}). Kernel size: ({} x {}). Kernel size can't be greater than actual input size",
            h + 2 * p.padding.0,
            wd + 2 * p.padding.1,
            kh,
            kw
        );
    };
    Ok(Geo {
        c: cg,
        h,
        w: wd,
        kh,
        kw,
        oh,
        ow,
        p,
    })
}

/// Per group: input channels [g*cg, (g+1)*cg) as a contiguous [N, cg, H, W] block.
fn group_input(x: &Tensor, gi: usize, cg: usize, groups: usize) -> Result<Tensor> {
    if groups == 1 {
        x.contiguous()
    } else {
        x.slice(1, gi * cg, (gi + 1) * cg, 1)?.contiguous()
    }
}

fn conv_forward<T: FloatElem>(x: &Tensor, w: &Tensor, g: &Geo) -> Result<Tensor> {
    let n = x.shape()[0];
    let o = w.shape()[0];
    let og = o / g.p.groups;
    let mut outs = Vec::new();
    for gi in 0..g.p.groups {
        let xg = group_input(x, gi, g.c, g.p.groups)?;
        let cols = Tensor::from_vec(&im2col(&xg.to_vec::<T>(), n, g), &[n, g.rows(), g.cols()])?;
        let wg = w
            .slice(0, gi * og, (gi + 1) * og, 1)?
            .reshape(&[og, g.rows()])?;
        outs.push(wg.matmul(&cols)?);
    }
    let out = if outs.len() == 1 {
        outs.pop().expect("one group")
    } else {
        Tensor::cat(&outs, 1)?
    };
    out.reshape(&[n, o, g.oh, g.ow])
}

/// (grad_input, grad_weight) of conv2d without bias.
fn conv_backward<T: FloatElem>(
    x: &Tensor,
    w: &Tensor,
    gout: &Tensor,
    g: &Geo,
    need_x: bool,
    need_w: bool,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let n = x.shape()[0];
    let o = w.shape()[0];
    let og = o / g.p.groups;
    let gout = gout.contiguous()?.reshape(&[n, o, g.cols()])?;
    let (mut gx, mut gw) = (Vec::new(), Vec::new());
    for gi in 0..g.p.groups {
        let go = if g.p.groups == 1 {
            gout.clone()
        } else {
            gout.slice(1, gi * og, (gi + 1) * og, 1)?
        };
        let wg = w
            .slice(0, gi * og, (gi + 1) * og, 1)?
            .reshape(&[og, g.rows()])?;
        if need_w {
            let xg = group_input(x, gi, g.c, g.p.groups)?;
            let cols =
                Tensor::from_vec(&im2col(&xg.to_vec::<T>(), n, g), &[n, g.rows(), g.cols()])?;
            // sum_n go[n] @ cols[n]^T, as one GEMM over the (n, l) pairs
            let go2 = go.permute(&[1, 0, 2])?.reshape(&[og, n * g.cols()])?;
            let cols2 = cols
                .permute(&[0, 2, 1])?
                .reshape(&[n * g.cols(), g.rows()])?;
            gw.push(go2.mm(&cols2)?.reshape(&[og, g.c, g.kh, g.kw])?);
        }
        if need_x {
            let gcols = wg.t()?.matmul(&go)?.contiguous()?;
            let v = col2im(&gcols.to_vec::<T>(), n, g);
            gx.push(Tensor::from_vec(&v, &[n, g.c, g.h, g.w])?);
        }
    }
    let join = |mut v: Vec<Tensor>, dim: i64| -> Result<Option<Tensor>> {
        Ok(match v.len() {
            0 => None,
            1 => v.pop(),
            _ => Some(Tensor::cat(&v, dim)?),
        })
    };
    Ok((join(gx, 1)?, join(gw, 0)?))
}

impl Tensor {
    /// `conv2d(input [N,C,H,W], weight [O,C/groups,kh,kw], bias [O])`, one autograd node.
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, p: Conv2d) -> Result<Tensor> {
        if self.dtype != weight.dtype {
            crate::bail!(
                Runtime,
                "Input type ({}) and weight type ({}) should be the same",
                crate::ops::type_name(self).trim(),
                crate::ops::type_name(weight).trim()
            );
        }
        let g = geo(self, weight, p)?;
        let (x, w) = (self.detach(), weight.detach());
        let out = {
            let _ng = crate::autograd::GradModeGuard::new(false);
            let mut out = crate::dispatch_float!(x.dtype, T => conv_forward::<T>(&x, &w, &g)?,
                _ => crate::bail!(Runtime, "\"conv2d\" not implemented for '{}'", crate::ops::dtype_title(x.dtype)));
            if let Some(b) = bias {
                out = out.add(&b.reshape(&[b.numel(), 1, 1])?)?;
            }
            out
        };
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        if needs_grad(&inputs) {
            let (sx, sw) = (Saved::new(self), Saved::new(weight));
            let (rx, rw, has_b) = (self.requires_grad(), weight.requires_grad(), bias.is_some());
            let outs = record("ConvolutionBackward0", &inputs, vec![out], move |grads| {
                let Some(go) = &grads[0] else {
                    return Ok(vec![None; 2 + has_b as usize]);
                };
                let (x, w) = (sx.get()?.detach(), sw.get()?.detach());
                let g = geo(&x, &w, p)?;
                let go = go.detach();
                let (gx, gw) = crate::dispatch_float!(x.dtype, T => conv_backward::<T>(&x, &w, &go, &g, rx, rw)?, _ => unreachable!());
                let mut res = vec![gx, gw];
                if has_b {
                    res.push(Some(go.sum(Some(&[0, 2, 3]), false)?));
                }
                Ok(res)
            });
            return Ok(outs.into_iter().next().expect("one output"));
        }
        Ok(out)
    }

    /// `max_pool2d` on [N, C, H, W] → (values, indices into each H*W plane).
    pub fn max_pool2d(
        &self,
        k: (usize, usize),
        s: (usize, usize),
        p: (usize, usize),
        d: (usize, usize),
        ceil: bool,
    ) -> Result<(Tensor, Tensor)> {
        let (x, n, c, h, w, oh, ow) = pool_geo(self, k, s, p, d, ceil)?;
        if p.0 * 2 > k.0 || p.1 * 2 > k.1 {
            crate::bail!(Runtime, "pad should be at most half of effective kernel size, but got pad={}, kernel_size={} and dilation={}", p.0, k.0, d.0);
        }
        let planes = n * c;
        let (vals, idx) = crate::dispatch_float!(x.dtype, T => {
            let src = x.to_vec::<T>();
            let mut vals = vec![T::default(); planes * oh * ow];
            let mut idx = vec![0i64; planes * oh * ow];
            vals.par_chunks_mut(oh * ow).zip(idx.par_chunks_mut(oh * ow)).enumerate().for_each(|(pi, (vo, io))| {
                let plane = &src[pi * h * w..(pi + 1) * h * w];
                for y in 0..oh {
                    for xx in 0..ow {
                        let mut best = neg_inf::<<T as FloatElem>::C>();
                        let mut bi = -1i64;
                        for ki in 0..k.0 {
                            let ih = (y * s.0 + ki * d.0) as isize - p.0 as isize;
                            if ih < 0 || ih >= h as isize { continue; }
                            for kj in 0..k.1 {
                                let iw = (xx * s.1 + kj * d.1) as isize - p.1 as isize;
                                if iw < 0 || iw >= w as isize { continue; }
                                let at = ih as usize * w + iw as usize;
                                let v = plane[at].to_c();
                                if v > best || v.is_nan() || bi < 0 {
                                    best = v;
                                    bi = at as i64;
                                    if v.is_nan() { break; }
                                }
                            }
                        }
                        vo[y * ow + xx] = T::from_c(best);
                        io[y * ow + xx] = bi.max(0);
                    }
                }
            });
            (Tensor::from_vec(&vals, &[n, c, oh, ow])?, Tensor::from_vec(&idx, &[n, c, oh, ow])?)
        }, _ => crate::bail!(Runtime, "\"max_pool2d\" not implemented for '{}'", crate::ops::dtype_title(x.dtype)));
        if needs_grad(&[self]) {
            let ix = idx.clone();
            let outs = record(
                "MaxPool2DWithIndicesBackward0",
                &[self],
                vec![vals],
                move |g| {
                    let Some(g) = &g[0] else {
                        return Ok(vec![None]);
                    };
                    let gv = g.contiguous()?;
                    let res = crate::dispatch_float!(gv.dtype, T => {
                    let gs = gv.to_vec::<T>();
                    let is = ix.to_vec::<i64>();
                    let mut out = vec![T::default(); planes * h * w];
                    out.par_chunks_mut(h * w).enumerate().for_each(|(pi, dst)| {
                        for j in 0..oh * ow {
                            let at = is[pi * oh * ow + j] as usize;
                            dst[at] = T::from_c(dst[at].to_c() + gs[pi * oh * ow + j].to_c());
                        }
                    });
                    Tensor::from_vec(&out, &[n, c, h, w])?
                }, _ => unreachable!());
                    Ok(vec![Some(res)])
                },
            );
            return Ok((outs.into_iter().next().expect("one output"), idx));
        }
        Ok((vals, idx))
    }

    /// `avg_pool2d` on [N, C, H, W].
    #[allow(clippy::too_many_arguments)]
    pub fn avg_pool2d(
        &self,
        k: (usize, usize),
        s: (usize, usize),
        p: (usize, usize),
        ceil: bool,
        count_include_pad: bool,
        divisor: Option<usize>,
    ) -> Result<Tensor> {
        let (x, n, c, h, w, oh, ow) = pool_geo(self, k, s, p, (1, 1), ceil)?;
        let planes = n * c;
        // window bounds and divisor per output position, shared by forward and backward
        let win = move |y: usize, xx: usize| -> (usize, usize, usize, usize, f64) {
            let (hs, ws) = (
                (y * s.0) as isize - p.0 as isize,
                (xx * s.1) as isize - p.1 as isize,
            );
            let he = (hs + k.0 as isize).min((h + p.0) as isize);
            let we = (ws + k.1 as isize).min((w + p.1) as isize);
            let pool = ((he - hs) * (we - ws)) as f64;
            let (h0, w0) = (hs.max(0) as usize, ws.max(0) as usize);
            let (h1, w1) = (he.min(h as isize) as usize, we.min(w as isize) as usize);
            let div = match divisor {
                Some(d) => d as f64,
                None if count_include_pad => pool,
                None => ((h1 - h0) * (w1 - w0)) as f64,
            };
            (h0, h1, w0, w1, div)
        };
        let out = crate::dispatch_float!(x.dtype, T => {
            let src = x.to_vec::<T>();
            let mut vals = vec![T::default(); planes * oh * ow];
            vals.par_chunks_mut(oh * ow).enumerate().for_each(|(pi, vo)| {
                let plane = &src[pi * h * w..(pi + 1) * h * w];
                for y in 0..oh {
                    for xx in 0..ow {
                        let (h0, h1, w0, w1, div) = win(y, xx);
                        let mut acc = 0f64;
                        for ih in h0..h1 {
                            for iw in w0..w1 {
                                acc += plane[ih * w + iw].to_f64();
                            }
                        }
                        vo[y * ow + xx] = T::from_f64(acc / div);
                    }
                }
            });
            Tensor::from_vec(&vals, &[n, c, oh, ow])?
        }, _ => crate::bail!(Runtime, "\"avg_pool2d\" not implemented for '{}'", crate::ops::dtype_title(x.dtype)));
        if needs_grad(&[self]) {
            let outs = record("AvgPool2DBackward0", &[self], vec![out], move |g| {
                let Some(g) = &g[0] else {
                    return Ok(vec![None]);
                };
                let gv = g.contiguous()?;
                let res = crate::dispatch_float!(gv.dtype, T => {
                    let gs = gv.to_vec::<T>();
                    let mut o = vec![T::default(); planes * h * w];
                    o.par_chunks_mut(h * w).enumerate().for_each(|(pi, dst)| {
                        for y in 0..oh {
                            for xx in 0..ow {
                                let (h0, h1, w0, w1, div) = win(y, xx);
                                let v = gs[pi * oh * ow + y * ow + xx].to_f64() / div;
                                for ih in h0..h1 {
                                    for iw in w0..w1 {
                                        dst[ih * w + iw] = T::from_f64(dst[ih * w + iw].to_f64() + v);
                                    }
                                }
                            }
                        }
                    });
                    Tensor::from_vec(&o, &[n, c, h, w])?
                }, _ => unreachable!());
                Ok(vec![Some(res)])
            });
            return Ok(outs.into_iter().next().expect("one output"));
        }
        Ok(out)
    }
}

type PoolGeo = (Tensor, usize, usize, usize, usize, usize, usize);

fn pool_geo(
    t: &Tensor,
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    d: (usize, usize),
    ceil: bool,
) -> Result<PoolGeo> {
    if t.ndim() != 4 {
        crate::bail!(
            Runtime,
            "pool2d: expected 4-D input [N, C, H, W], got {}",
            fmt_shape(t.shape())
        );
    }
    if k.0 == 0 || k.1 == 0 || s.0 == 0 || s.1 == 0 {
        crate::bail!(
            Runtime,
            "pool2d: kernel_size and stride must be greater than zero"
        );
    }
    let (n, c, h, w) = (t.shape()[0], t.shape()[1], t.shape()[2], t.shape()[3]);
    let oh = out_size(h, k.0, s.0, p.0, d.0, ceil);
    let ow = out_size(w, k.1, s.1, p.1, d.1, ceil);
    match (oh, ow) {
        (Some(oh), Some(ow)) if oh > 0 && ow > 0 => Ok((t.detach().contiguous()?, n, c, h, w, oh, ow)),
        _ => crate::bail!(
            Runtime,
            "Given input size: ({}x{}x{}). Calculated output size: ({}x{}x{}). Output size is too small",
            c, h, w, c, oh.unwrap_or(0), ow.unwrap_or(0)
        ),
    }
}

fn neg_inf<F: num_traits::Float>() -> F {
    F::neg_infinity()
}
