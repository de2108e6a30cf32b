//! Convolution (im2col + GEMM, groups, stride, padding, dilation) and 2-D pooling, forward and
//! backward. N-d inputs are handled as 2-D: conv1d is conv2d with a height of 1.

use crate::autograd::{needs_grad, record, Saved};
use crate::tensor::{fmt_shape, DType, Elem, FloatElem, Result, Tensor};
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

#[derive(Clone, Copy)]
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
}

/// The real types the GEMM kernels run in (f16/bf16 convolutions run in f32).
pub(super) trait ConvElem: Elem + std::ops::AddAssign {}
impl ConvElem for f32 {}
impl ConvElem for f64 {}

/// Valid output columns `[lo, hi)` of kernel tap `k` along one axis (input index `o*s + k*d - p` in `[0, len)`).
#[inline]
fn valid_range(out: usize, len: usize, k: usize, s: usize, d: usize, p: usize) -> (usize, usize) {
    let off = (k * d) as isize - p as isize; // input index = o*s + off
    let lo = if off >= 0 {
        0
    } else {
        ((-off) as usize).div_ceil(s)
    };
    let hi = if (len as isize) <= off {
        0
    } else {
        ((len as isize - off - 1) as usize / s + 1).min(out)
    };
    (lo.min(hi), hi)
}

/// One sample's (one group's) input planes `[cg, H, W]` → columns `[cg*kh*kw, oh*ow]`.
fn im2col_one<T: ConvElem>(x: &[T], g: &Geo, dst: &mut [T]) {
    let (s, d, p) = (g.p.stride, g.p.dilation, g.p.padding);
    let l = g.cols();
    for (r, row) in dst.chunks_exact_mut(l).enumerate() {
        let (c, ki, kj) = (r / (g.kh * g.kw), (r / g.kw) % g.kh, r % g.kw);
        let plane = &x[c * g.h * g.w..(c + 1) * g.h * g.w];
        let (w_lo, w_hi) = valid_range(g.ow, g.w, kj, s.1, d.1, p.1);
        let (h_lo, h_hi) = valid_range(g.oh, g.h, ki, s.0, d.0, p.0);
        for (oh, seg) in row.chunks_exact_mut(g.ow).enumerate() {
            if oh < h_lo || oh >= h_hi {
                seg.fill(T::zero());
                continue;
            }
            let ih = oh * s.0 + ki * d.0 - p.0;
            seg[..w_lo].fill(T::zero());
            seg[w_hi..].fill(T::zero());
            if w_hi > w_lo {
                let start = ih * g.w + w_lo * s.1 + kj * d.1 - p.1;
                if s.1 == 1 {
                    seg[w_lo..w_hi].copy_from_slice(&plane[start..start + (w_hi - w_lo)]);
                } else {
                    for (j, v) in seg[w_lo..w_hi].iter_mut().enumerate() {
                        *v = plane[start + j * s.1];
                    }
                }
            }
        }
    }
}

/// Columns `[cg*kh*kw, oh*ow]` → summed into one sample's (zeroed) input planes `[cg, H, W]`.
fn col2im_one<T: ConvElem>(cols: &[T], g: &Geo, dst: &mut [T]) {
    let (s, d, p) = (g.p.stride, g.p.dilation, g.p.padding);
    let l = g.cols();
    for (r, row) in cols.chunks_exact(l).enumerate() {
        let (c, ki, kj) = (r / (g.kh * g.kw), (r / g.kw) % g.kh, r % g.kw);
        let plane = &mut dst[c * g.h * g.w..(c + 1) * g.h * g.w];
        let (w_lo, w_hi) = valid_range(g.ow, g.w, kj, s.1, d.1, p.1);
        let (h_lo, h_hi) = valid_range(g.oh, g.h, ki, s.0, d.0, p.0);
        if w_hi <= w_lo {
            continue;
        }
        for oh in h_lo..h_hi {
            let ih = oh * s.0 + ki * d.0 - p.0;
            let seg = &row[oh * g.ow + w_lo..oh * g.ow + w_hi];
            let start = ih * g.w + w_lo * s.1 + kj * d.1 - p.1;
            if s.1 == 1 {
                for (o, v) in plane[start..start + seg.len()].iter_mut().zip(seg) {
                    *o += *v;
                }
            } else {
                for (j, v) in seg.iter().enumerate() {
                    plane[start + j * s.1] += *v;
                }
            }
        }
    }
}

/// `dst[m, n] = (accumulate ? dst : 0) + lhs[m, k] @ rhs[k, n]`, operands given by (row, column) strides.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_into<T: ConvElem>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    accumulate: bool,
    lhs: (&[T], usize, usize),
    rhs: (&[T], usize, usize),
    par: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(T::zero());
        }
        return;
    }
    assert!(dst.len() >= m * n, "gemm_into: destination too small");
    // SAFETY: the slices cover every element addressed through the given strides (callers pass
    // exact [m,k], [k,n] and [m,n] blocks); T is f32 or f64, which the gemm crate implements.
    unsafe {
        gemm::gemm::<T>(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.0.as_ptr(),
            lhs.2 as isize,
            lhs.1 as isize,
            rhs.0.as_ptr(),
            rhs.2 as isize,
            rhs.1 as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            par,
        )
    }
}

/// Whether the columns of a sample are its input itself (1×1 kernel, stride 1, no padding).
fn cols_are_input(g: &Geo) -> bool {
    g.kh == 1 && g.kw == 1 && g.p.stride == (1, 1) && g.p.padding == (0, 0)
}

/// How the batch is split: `(chunks, gemm parallelism inside a chunk)`.
fn batch_split(n: usize) -> (usize, gemm::Parallelism) {
    let threads = super::threads::get_num_threads();
    if threads > 1 && n >= threads {
        (threads, gemm::Parallelism::None)
    } else if threads > 1 {
        (1, gemm::Parallelism::Rayon(threads))
    } else {
        (1, gemm::Parallelism::None)
    }
}

/// # Safety
/// `t` must be contiguous with element type `T`, and outlive the slice.
unsafe fn slice_of<T>(t: &Tensor) -> &[T] {
    std::slice::from_raw_parts(t.data_ptr() as *const T, t.numel())
}

/// Forward without bias into a fresh `[N, O, oh, ow]`, per sample: im2col into a scratch buffer, then
/// one GEMM per group straight into the output (bias, when given, is the GEMM's initial value).
fn conv_forward<T: ConvElem>(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    g: &Geo,
) -> Result<Tensor> {
    let (n, o) = (x.shape()[0], w.shape()[0]);
    let groups = g.p.groups;
    let og = o / groups;
    let (rows, l) = (g.rows(), g.cols());
    let (x, w) = (x.contiguous()?, w.contiguous()?);
    let bias = bias.map(|b| b.contiguous()).transpose()?;
    let out = Tensor::empty(&[n, o, g.oh, g.ow], T::DTYPE, x.device())?;
    if out.numel() == 0 {
        return Ok(out);
    }
    // SAFETY: contiguous tensors of dtype T; `out` is fresh and written only through `ov`.
    let (xv, wv) = unsafe { (slice_of::<T>(&x), slice_of::<T>(&w)) };
    let bv = bias.as_ref().map(|b| unsafe { slice_of::<T>(b) });
    let ov = unsafe { std::slice::from_raw_parts_mut(out.data_ptr() as *mut T, out.numel()) };
    let direct = cols_are_input(g);
    let in_plane = g.c * g.h * g.w;
    let (chunks, par) = batch_split(n);
    let per = n.div_ceil(chunks);
    ov.par_chunks_mut(per * o * l)
        .enumerate()
        .for_each(|(ci, oc)| {
            let mut cols = vec![T::zero(); if direct { 0 } else { rows * l }];
            for (bi, ob) in oc.chunks_exact_mut(o * l).enumerate() {
                let b = ci * per + bi;
                for gi in 0..groups {
                    let xs = &xv[(b * groups + gi) * in_plane..(b * groups + gi + 1) * in_plane];
                    let dst = &mut ob[gi * og * l..(gi + 1) * og * l];
                    if let Some(bv) = bv {
                        for (oc_i, row) in dst.chunks_exact_mut(l).enumerate() {
                            row.fill(bv[gi * og + oc_i]);
                        }
                    }
                    let src: &[T] = if direct {
                        xs
                    } else {
                        im2col_one(xs, g, &mut cols);
                        &cols
                    };
                    let wg = &wv[gi * og * rows..(gi + 1) * og * rows];
                    gemm_into(
                        og,
                        l,
                        rows,
                        dst,
                        bv.is_some(),
                        (wg, rows, 1),
                        (src, l, 1),
                        par,
                    );
                }
            }
        });
    Ok(out)
}

/// (grad_input, grad_weight) of conv2d without bias: per chunk of samples, `gw += go · colsᵀ` into the
/// chunk's own accumulator (summed at the end) and `gx = col2im(Wᵀ · go)` into each sample's slice.
fn conv_backward<T: ConvElem>(
    x: &Tensor,
    w: &Tensor,
    gout: &Tensor,
    g: &Geo,
    need_x: bool,
    need_w: bool,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let (n, o) = (x.shape()[0], w.shape()[0]);
    let groups = g.p.groups;
    let og = o / groups;
    let (rows, l) = (g.rows(), g.cols());
    let (x, w, gout) = (x.contiguous()?, w.contiguous()?, gout.contiguous()?);
    // SAFETY: contiguous tensors of dtype T.
    let (xv, wv, gv) = unsafe { (slice_of::<T>(&x), slice_of::<T>(&w), slice_of::<T>(&gout)) };
    let in_plane = g.c * g.h * g.w;
    if n == 0 || in_plane == 0 || l == 0 || rows == 0 {
        let gx = need_x
            .then(|| Tensor::zeros(x.shape(), T::DTYPE, x.device()))
            .transpose()?;
        let gw = need_w
            .then(|| Tensor::zeros(w.shape(), T::DTYPE, w.device()))
            .transpose()?;
        return Ok((gx, gw));
    }
    let gx = if need_x {
        Some(Tensor::zeros(x.shape(), T::DTYPE, x.device())?)
    } else {
        None
    };
    let direct = cols_are_input(g);
    let (chunks, par) = batch_split(n);
    let per = n.div_ceil(chunks).max(1);
    let nchunks = n.div_ceil(per);
    let one_chunk = |ci: usize, gxc: Option<&mut [T]>| -> Vec<T> {
        let mut gw_acc = vec![T::zero(); if need_w { o * rows } else { 0 }];
        let mut cols = vec![T::zero(); if direct { 0 } else { rows * l }];
        let mut gxc = gxc;
        for b in ci * per..((ci + 1) * per).min(n) {
            for gi in 0..groups {
                let xs = &xv[(b * groups + gi) * in_plane..(b * groups + gi + 1) * in_plane];
                let go = &gv[(b * o + gi * og) * l..(b * o + (gi + 1) * og) * l];
                let wg = &wv[gi * og * rows..(gi + 1) * og * rows];
                if need_w {
                    let src: &[T] = if direct {
                        xs
                    } else {
                        im2col_one(xs, g, &mut cols);
                        &cols
                    };
                    let acc = &mut gw_acc[gi * og * rows..(gi + 1) * og * rows];
                    gemm_into(og, rows, l, acc, true, (go, l, 1), (src, 1, l), par);
                }
                if let Some(gxc) = gxc.as_deref_mut() {
                    let bl = b - ci * per;
                    let dst =
                        &mut gxc[(bl * groups + gi) * in_plane..(bl * groups + gi + 1) * in_plane];
                    if direct {
                        gemm_into(rows, l, og, dst, false, (wg, 1, rows), (go, l, 1), par);
                    } else {
                        gemm_into(
                            rows,
                            l,
                            og,
                            &mut cols,
                            false,
                            (wg, 1, rows),
                            (go, l, 1),
                            par,
                        );
                        col2im_one(&cols, g, dst);
                    }
                }
            }
        }
        gw_acc
    };
    let partials: Vec<Vec<T>> = match &gx {
        Some(gx) => {
            // SAFETY: `gx` is fresh and written only through this slice.
            let gxv =
                unsafe { std::slice::from_raw_parts_mut(gx.data_ptr() as *mut T, gx.numel()) };
            gxv.par_chunks_mut(per * groups * in_plane)
                .enumerate()
                .map(|(ci, c)| one_chunk(ci, Some(c)))
                .collect()
        }
        None => (0..nchunks)
            .into_par_iter()
            .map(|ci| one_chunk(ci, None))
            .collect(),
    };
    let gw = if need_w {
        let mut it = partials.into_iter();
        let mut acc = it.next().unwrap_or_else(|| vec![T::zero(); o * rows]);
        for part in it {
            for (a, v) in acc.iter_mut().zip(part) {
                *a += v;
            }
        }
        Some(Tensor::from_vec_on(&acc, w.shape(), w.device())?)
    } else {
        None
    };
    Ok((gx, gw))
}

/// conv2d on a GPU: the patches as columns (a kernel), one batched GEMM with the weight (cuBLAS;
/// with groups, group k's weights times group k's rows of the columns), the bias added;
/// differentiable op by op, so the backward is GEMMs and col2im.
#[cfg(feature = "cuda")]
fn conv2d_gpu(x: &Tensor, w: &Tensor, b: Option<&Tensor>, g: &Geo) -> Result<Option<Tensor>> {
    if !x.device().is_cuda() || !x.dtype.is_float() {
        return Ok(None);
    }
    let groups = g.p.groups;
    // the columns of all the channels: group k's rows are the k-th block of c·kh·kw
    let all = Geo {
        c: g.c * groups,
        ..*g
    };
    let Some(cols) = im2col_op(x, &all)? else {
        return Ok(None);
    };
    let (n, o) = (x.shape()[0], w.shape()[0]);
    let y = if groups == 1 {
        w.reshape(&[o, g.rows()])?.matmul(&cols)?
    } else {
        let cols = cols.reshape(&[n, groups, g.rows(), g.cols()])?;
        w.reshape(&[groups, o / groups, g.rows()])?.matmul(&cols)?
    };
    let y = y.reshape(&[n, o, g.oh, g.ow])?;
    Ok(Some(match b {
        Some(b) => y.add(&b.reshape(&[1, o, 1, 1])?)?,
        None => y,
    }))
}

#[cfg(feature = "cuda")]
fn conv_geo(x_shape: &[usize], g: &Geo) -> crate::cuda::ops::ConvGeo {
    let (s, p, d) = (g.p.stride, g.p.padding, g.p.dilation);
    crate::cuda::ops::ConvGeo::new([
        x_shape[0], g.c, g.h, g.w, g.kh, g.kw, s.0, s.1, p.0, p.1, d.0, d.1, g.oh, g.ow,
    ])
}

/// The columns of x's patches, [n, c·kh·kw, oh·ow] (backward: col2im).
#[cfg(feature = "cuda")]
fn im2col_op(x: &Tensor, g: &Geo) -> Result<Option<Tensor>> {
    let shape = x.shape().to_vec();
    let Some(cols) = crate::cuda::ops::im2col(&x.detach().contiguous()?, conv_geo(&shape, g))?
    else {
        return Ok(None);
    };
    if !needs_grad(&[x]) {
        return Ok(Some(cols));
    }
    let g = *g;
    Ok(Some(crate::autograd::record1(
        "Im2ColBackward0",
        &[x],
        cols,
        move |gc| Ok(vec![Some(col2im_op(gc, &g, &shape)?)]),
    )))
}

/// The adjoint of `im2col_op`: column entries summed back into an input of `x_shape`.
#[cfg(feature = "cuda")]
fn col2im_op(cols: &Tensor, g: &Geo, x_shape: &[usize]) -> Result<Tensor> {
    let geo = conv_geo(x_shape, g);
    let out = crate::cuda::ops::col2im(&cols.detach().contiguous()?, x_shape, geo)?
        .ok_or_else(|| crate::Error::Runtime("col2im: no CUDA conv kernels".into()))?;
    if !needs_grad(&[cols]) {
        return Ok(out);
    }
    let g = *g;
    Ok(crate::autograd::record1(
        "Col2ImBackward0",
        &[cols],
        out,
        move |gx| {
            let c = im2col_op(gx, &g)?
                .ok_or_else(|| crate::Error::Runtime("im2col: no CUDA conv kernels".into()))?;
            Ok(vec![Some(c)])
        },
    ))
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

/// `conv_forward` in the input's dtype: f32/f64 natively, f16/bf16 through f32.
fn conv_forward_any(x: &Tensor, w: &Tensor, b: Option<&Tensor>, g: &Geo) -> Result<Tensor> {
    match x.dtype {
        DType::F32 => conv_forward::<f32>(x, w, b, g),
        DType::F64 => conv_forward::<f64>(x, w, b, g),
        DType::F16 | DType::BF16 => {
            let b32 = b.map(|b| b.cast_raw(DType::F32)).transpose()?;
            let y = conv_forward::<f32>(
                &x.cast_raw(DType::F32)?,
                &w.cast_raw(DType::F32)?,
                b32.as_ref(),
                g,
            )?;
            y.cast_raw(x.dtype)
        }
        d => crate::bail!(
            Runtime,
            "\"conv2d\" not implemented for '{}'",
            crate::ops::dtype_title(d)
        ),
    }
}

/// `conv_backward` in the input's dtype: f32/f64 natively, f16/bf16 through f32.
fn conv_backward_any(
    x: &Tensor,
    w: &Tensor,
    go: &Tensor,
    g: &Geo,
    need_x: bool,
    need_w: bool,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    match x.dtype {
        DType::F32 => conv_backward::<f32>(x, w, go, g, need_x, need_w),
        DType::F64 => conv_backward::<f64>(x, w, go, g, need_x, need_w),
        d => {
            let f = |t: &Tensor| t.cast_raw(DType::F32);
            let (gx, gw) = conv_backward::<f32>(&f(x)?, &f(w)?, &f(go)?, g, need_x, need_w)?;
            let back = |t: Option<Tensor>| t.map(|t| t.cast_raw(d)).transpose();
            Ok((back(gx)?, back(gw)?))
        }
    }
}

impl Tensor {
    /// `conv2d(input [N,C,H,W], weight [O,C/groups,kh,kw], bias [O])`, one autograd node.
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, p: Conv2d) -> Result<Tensor> {
        crate::tensor::Device::same(&[&[self, weight][..], bias.as_slice()].concat())?;
        if self.dtype != weight.dtype {
            crate::bail!(
                Runtime,
                "Input type ({}) and weight type ({}) should be the same",
                crate::ops::type_name(self).trim(),
                crate::ops::type_name(weight).trim()
            );
        }
        let g = geo(self, weight, p)?;
        if let Some(b) = bias {
            if b.ndim() != 1 || b.numel() != weight.shape()[0] {
                crate::bail!(
                    Runtime,
                    "Given weight of size {}, expected bias to be 1-dimensional with {} elements, but got bias of size {} instead",
                    fmt_shape(weight.shape()),
                    weight.shape()[0],
                    fmt_shape(b.shape())
                );
            }
            if b.dtype != self.dtype {
                crate::bail!(
                    Runtime,
                    "Input type ({}) and bias type ({}) should be the same",
                    crate::ops::type_name(self).trim(),
                    crate::ops::type_name(b).trim()
                );
            }
        }
        #[cfg(feature = "cuda")]
        if let Some(y) = conv2d_gpu(self, weight, bias, &g)? {
            return Ok(y);
        }
        let (x, w) = (self.detach(), weight.detach());
        let out = conv_forward_any(&x, &w, bias.map(|b| b.detach()).as_ref(), &g)?;
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
                let (gx, gw) = conv_backward_any(&x, &w, &go, &g, rx, rw)?;
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

    /// `max_pool2d` on [N, C, H, W] → (values, indices into each H*W plane). Indices are computed
    /// only when `want_idx` or a gradient is needed (else an empty tensor comes back); the backward
    /// scatters the gradient through them.
    #[allow(clippy::too_many_arguments)]
    pub fn max_pool2d(
        &self,
        k: (usize, usize),
        s: (usize, usize),
        p: (usize, usize),
        d: (usize, usize),
        ceil: bool,
        want_idx: bool,
    ) -> Result<(Tensor, Tensor)> {
        let (x, n, c, h, w, oh, ow) = pool_geo(self, k, s, p, d, ceil)?;
        if p.0 * 2 > k.0 || p.1 * 2 > k.1 {
            crate::bail!(Runtime, "pad should be at most half of effective kernel size, but got pad={}, kernel_size={} and dilation={}", p.0, k.0, d.0);
        }
        let grad = needs_grad(&[self]);
        let with_idx = want_idx || grad;
        let planes = n * c;
        let pg = PoolWin {
            h,
            w,
            oh,
            ow,
            k,
            s,
            p,
            d,
        };
        let vals = Tensor::empty(&[n, c, oh, ow], x.dtype, x.device())?;
        let idx = if with_idx {
            Tensor::empty(&[n, c, oh, ow], DType::I64, x.device())?
        } else {
            Tensor::empty(&[0], DType::I64, x.device())?
        };
        #[cfg(feature = "cuda")]
        let on_gpu = x.device().is_cuda()
            && crate::cuda::ops::max_pool2d(
                &vals,
                with_idx.then_some(&idx),
                &x,
                pg.kernel_geo(planes),
            )?;
        #[cfg(not(feature = "cuda"))]
        let on_gpu = false;
        if !on_gpu {
            crate::dispatch_float!(x.dtype, T => {
            // SAFETY: `x` is contiguous of dtype T; `vals`/`idx` are fresh, each plane written by one task.
            let src = unsafe { slice_of::<T>(&x) };
            let vo = unsafe { std::slice::from_raw_parts_mut(vals.data_ptr() as *mut T, vals.numel()) };
            let io = unsafe { std::slice::from_raw_parts_mut(idx.data_ptr() as *mut i64, idx.numel()) };
            let (ip, op) = (h * w, oh * ow);
            if op > 0 && ip > 0 {
                let run = |(pi, vp): (usize, &mut [T]), ipl: Option<&mut [i64]>| {
                    max_pool_plane(&src[pi * ip..(pi + 1) * ip], vp, ipl, &pg)
                };
                if with_idx {
                    let par = planes * ip >= super::iter::PAR_THRESHOLD && super::threads::get_num_threads() > 1;
                    if par {
                        vo.par_chunks_mut(op).zip(io.par_chunks_mut(op)).enumerate().for_each(|(pi, (vp, ipl))| run((pi, vp), Some(ipl)));
                    } else {
                        vo.chunks_mut(op).zip(io.chunks_mut(op)).enumerate().for_each(|(pi, (vp, ipl))| run((pi, vp), Some(ipl)));
                    }
                } else if planes * ip >= super::iter::PAR_THRESHOLD && super::threads::get_num_threads() > 1 {
                    vo.par_chunks_mut(op).enumerate().for_each(|a| run(a, None));
                } else {
                    vo.chunks_mut(op).enumerate().for_each(|a| run(a, None));
                }
            }
        }, _ => crate::bail!(Runtime, "\"max_pool2d\" not implemented for '{}'", crate::ops::dtype_title(x.dtype)))
        };
        if grad {
            let ix = idx.clone();
            let outs = record(
                "MaxPool2DWithIndicesBackward0",
                &[self],
                vec![vals],
                move |g| {
                    let Some(g) = &g[0] else {
                        return Ok(vec![None]);
                    };
                    Ok(vec![Some(max_pool_scatter(
                        g,
                        &ix,
                        planes,
                        (n, c, h, w),
                        &pg,
                    )?)])
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
        // on a GPU, the common case (no ceil mode, padding counted, no divisor override) is the
        // mean of each window's im2col column: kernels, differentiable through col2im
        #[cfg(feature = "cuda")]
        if self.device().is_cuda()
            && !ceil
            && count_include_pad
            && divisor.is_none()
            && self.dtype.is_float()
        {
            let g = Geo {
                c: 1,
                h,
                w,
                kh: k.0,
                kw: k.1,
                oh,
                ow,
                p: Conv2d {
                    stride: s,
                    padding: p,
                    dilation: (1, 1),
                    groups: 1,
                },
            };
            if let Some(cols) = im2col_op(&self.reshape(&[n * c, 1, h, w])?, &g)? {
                return cols.mean(Some(&[1]), false)?.reshape(&[n, c, oh, ow]);
            }
        }
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
            Tensor::from_vec_on(&vals, &[n, c, oh, ow], x.device())?
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
                    Tensor::from_vec_on(&o, &[n, c, h, w], g.device())?
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

/// The window geometry of one max-pool plane.
#[derive(Clone, Copy)]
struct PoolWin {
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    d: (usize, usize),
}

#[cfg(feature = "cuda")]
impl PoolWin {
    fn kernel_geo(&self, planes: usize) -> crate::cuda::ops::PoolGeo {
        let PoolWin {
            h,
            w,
            oh,
            ow,
            k,
            s,
            p,
            d,
        } = *self;
        crate::cuda::ops::PoolGeo::new([
            planes, h, w, oh, ow, k.0, k.1, s.0, s.1, p.0, p.1, d.0, d.1,
        ])
    }
}

/// Max over the windows of one `h × w` plane into `vo` (`oh × ow`), argmax (flat in the plane) into
/// `io` when given. NaN wins, as in PyTorch. Each output's valid taps are computed per row/column,
/// so the loops carry no per-element bounds tests; 2×2 stride 2 without padding has its own loop.
fn max_pool_plane<T: FloatElem>(src: &[T], vo: &mut [T], io: Option<&mut [i64]>, g: &PoolWin) {
    let PoolWin {
        h,
        w,
        oh,
        ow,
        k,
        s,
        p,
        d,
    } = *g;
    use num_traits::Float;
    let better = |v: T::C, best: T::C| v > best || v.is_nan();
    if k == (2, 2) && s == (2, 2) && p == (0, 0) && d == (1, 1) && 2 * oh <= h && 2 * ow <= w {
        match io {
            None => {
                for y in 0..oh {
                    let (r0, r1) = (
                        &src[2 * y * w..2 * y * w + 2 * ow],
                        &src[(2 * y + 1) * w..(2 * y + 1) * w + 2 * ow],
                    );
                    let out = &mut vo[y * ow..(y + 1) * ow];
                    for ((o, a), b) in out
                        .iter_mut()
                        .zip(r0.chunks_exact(2))
                        .zip(r1.chunks_exact(2))
                    {
                        let mut m = a[0].to_c();
                        for v in [a[1].to_c(), b[0].to_c(), b[1].to_c()] {
                            if better(v, m) {
                                m = v;
                            }
                        }
                        *o = T::from_c(m);
                    }
                }
            }
            Some(io) => {
                for y in 0..oh {
                    let (b0, b1) = (2 * y * w, (2 * y + 1) * w);
                    let (r0, r1) = (&src[b0..b0 + 2 * ow], &src[b1..b1 + 2 * ow]);
                    let out = vo[y * ow..(y + 1) * ow]
                        .iter_mut()
                        .zip(io[y * ow..(y + 1) * ow].iter_mut());
                    for (xx, ((o, i), (a, b))) in out
                        .zip(r0.chunks_exact(2).zip(r1.chunks_exact(2)))
                        .enumerate()
                    {
                        let (mut m, mut at) = (a[0].to_c(), b0 + 2 * xx);
                        for (v, pos) in [
                            (a[1].to_c(), b0 + 2 * xx + 1),
                            (b[0].to_c(), b1 + 2 * xx),
                            (b[1].to_c(), b1 + 2 * xx + 1),
                        ] {
                            if better(v, m) {
                                m = v;
                                at = pos;
                            }
                        }
                        *o = T::from_c(m);
                        *i = at as i64;
                    }
                }
            }
        }
        return;
    }
    // valid taps [lo, hi) of output index o along an axis
    let taps = |o: usize, len: usize, k: usize, s: usize, p: usize, d: usize| -> (usize, usize) {
        let base = (o * s) as isize - p as isize;
        let lo = if base >= 0 {
            0
        } else {
            ((-base) as usize).div_ceil(d)
        };
        let hi = if base >= len as isize {
            0
        } else {
            (((len as isize - 1 - base) as usize) / d + 1).min(k)
        };
        (lo, hi.max(lo))
    };
    let cols: Vec<(usize, usize, isize)> = (0..ow)
        .map(|xx| {
            let (lo, hi) = taps(xx, w, k.1, s.1, p.1, d.1);
            (lo, hi, (xx * s.1) as isize - p.1 as isize)
        })
        .collect();
    let mut io = io;
    for y in 0..oh {
        let (klo, khi) = taps(y, h, k.0, s.0, p.0, d.0);
        let hb = (y * s.0) as isize - p.0 as isize;
        for (xx, &(jlo, jhi, wb)) in cols.iter().enumerate() {
            let mut best = <T::C as num_traits::Float>::neg_infinity();
            let mut bi: usize = usize::MAX;
            'win: for ki in klo..khi {
                let row = (hb + (ki * d.0) as isize) as usize * w;
                for kj in jlo..jhi {
                    let at = row + (wb + (kj * d.1) as isize) as usize;
                    let v = src[at].to_c();
                    if bi == usize::MAX || better(v, best) {
                        best = v;
                        bi = at;
                        if v.is_nan() {
                            break 'win;
                        }
                    }
                }
            }
            vo[y * ow + xx] = T::from_c(best);
            if let Some(io) = io.as_deref_mut() {
                io[y * ow + xx] = if bi == usize::MAX { 0 } else { bi as i64 };
            }
        }
    }
}

/// The input gradient of max_pool2d: each plane's output gradient added at its argmax.
fn max_pool_scatter(
    g: &Tensor,
    idx: &Tensor,
    planes: usize,
    (n, c, h, w): (usize, usize, usize, usize),
    win: &PoolWin,
) -> Result<Tensor> {
    let gv = g.detach().contiguous()?;
    let out = Tensor::zeros(&[n, c, h, w], g.dtype, g.device())?;
    let (ip, op) = (h * w, idx.numel() / planes.max(1));
    if ip == 0 || op == 0 {
        return Ok(out);
    }
    #[cfg(feature = "cuda")]
    if g.device().is_cuda()
        && crate::cuda::ops::max_pool2d_backward(&out, &gv, idx, win.kernel_geo(planes))?
    {
        return Ok(out);
    }
    let _ = win;
    crate::dispatch_float!(gv.dtype, T => {
        // SAFETY: contiguous `gv` of dtype T and `idx` of i64; `out` is fresh, each plane written by one task.
        let (gs, is) = unsafe { (slice_of::<T>(&gv), slice_of::<i64>(idx)) };
        let dst = unsafe { std::slice::from_raw_parts_mut(out.data_ptr() as *mut T, out.numel()) };
        let body = |(pi, dp): (usize, &mut [T])| {
            for (&at, gval) in is[pi * op..(pi + 1) * op].iter().zip(&gs[pi * op..(pi + 1) * op]) {
                let slot = &mut dp[at as usize];
                *slot = T::from_c(slot.to_c() + gval.to_c());
            }
        };
        if planes * ip >= super::iter::PAR_THRESHOLD && super::threads::get_num_threads() > 1 {
            dst.par_chunks_mut(ip).enumerate().for_each(body);
        } else {
            dst.chunks_mut(ip).enumerate().for_each(body);
        }
    }, _ => unreachable!());
    Ok(out)
}
