//! One GRU layer-direction over a whole (unpacked) sequence as one autograd node, as the LSTM's
//! `lstm_layer`: per step one GEMM `h W_hhᵀ + b_hh` and the pointwise cell (gate order r z n,
//! `n = tanh(x_n + r · (h W_hnᵀ + b_hn))`, `h' = n + z · (h - n)`, as PyTorch), and a backward that
//! runs back through time in one pass. Under `create_graph` the backward is the per-step cell
//! formula in differentiable ops.

use super::nn::{elems, elems_mut, gemm_par, gru_cell_grad_graph, sigm, step_at, Act};
use crate::autograd::{needs_grad, record, Saved};
use crate::tensor::{fmt_shape, DType, FloatElem, Result, Tensor};

/// One time step of the cell over every batch row: `s` [B, 4H] := r z n hn (the backward's tape),
/// `h_out` := h'.
struct GruStep<'a, T> {
    h: usize,
    x: &'a [T],
    hg: &'a [T],
    h_prev: &'a [T],
    s: &'a mut [T],
    h_out: &'a mut [T],
}

impl<T: FloatElem> GruStep<'_, T>
where
    T::C: Act,
{
    /// The loops compiled for the widest SIMD the CPU has (the activations are branch-free).
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

    /// Straight contiguous passes per row, so they vectorise.
    #[inline(always)]
    fn rows(self) {
        let h = self.h;
        let (g3, g4) = (3 * h, 4 * h);
        let rows = self.h_out.len() / h.max(1);
        for r in 0..rows {
            let (x, hg) = (
                &self.x[r * g3..(r + 1) * g3],
                &self.hg[r * g3..(r + 1) * g3],
            );
            let s = &mut self.s[r * g4..(r + 1) * g4];
            let (rz, rest) = s.split_at_mut(2 * h);
            let (n, hn) = rest.split_at_mut(h);
            for ((a, xv), hv) in rz.iter_mut().zip(&x[..2 * h]).zip(&hg[..2 * h]) {
                *a = T::from_c(sigm(xv.to_c() + hv.to_c()));
            }
            hn.copy_from_slice(&hg[2 * h..]);
            for (((nv, xv), hv), rv) in n.iter_mut().zip(&x[2 * h..]).zip(&*hn).zip(&rz[..h]) {
                *nv = T::from_c((xv.to_c() + rv.to_c() * hv.to_c()).ftanh());
            }
            let hp = &self.h_prev[r * h..(r + 1) * h];
            let out = &mut self.h_out[r * h..(r + 1) * h];
            for (((o, nv), zv), p) in out.iter_mut().zip(&*n).zip(&rz[h..]).zip(hp) {
                let nc = nv.to_c();
                *o = T::from_c(nc + zv.to_c() * (p.to_c() - nc));
            }
        }
    }
}

/// The forward recurrence: returns `(out [T,B,H], tape [T,B,4H])`.
fn gru_layer_fwd<T: FloatElem + super::conv::ConvElem>(
    xg: &Tensor,
    h0: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    reverse: bool,
) -> Result<(Tensor, Tensor)>
where
    T::C: Act,
{
    let (steps, b, h) = (xg.shape()[0], h0.shape()[0], h0.shape()[1]);
    let g3 = 3 * h;
    let out = Tensor::empty(&[steps, b, h], T::DTYPE, h0.device())?;
    let tape = Tensor::empty(&[steps, b, 4 * h], T::DTYPE, h0.device())?;
    // SAFETY: contiguous inputs of dtype T; the outputs are fresh and written only here.
    let (xv, h0v) = unsafe { (elems::<T>(xg), elems::<T>(h0)) };
    let bv = bias.map(|t| unsafe { elems::<T>(t) });
    let (ov, sv) = unsafe { (elems_mut::<T>(&out), elems_mut::<T>(&tape)) };
    // W_hhᵀ [H, 3H] copied once: the gemm crate packs a row-major right operand much faster
    let wt = w.t()?.clone_contiguous()?;
    // SAFETY: a fresh contiguous [h, 3h] tensor of dtype T.
    let wtv = unsafe { elems::<T>(&wt) };
    let mut hg = vec![T::zero(); b * g3];
    let par = gemm_par(b * g3 * h);
    let (bh, bg) = (b * h, b * g3);
    for s in 0..steps {
        let t = step_at(s, steps, reverse);
        let prev = (s > 0).then(|| step_at(s - 1, steps, reverse));
        if let Some(bv) = bv {
            for row in hg.chunks_exact_mut(g3) {
                row.copy_from_slice(bv);
            }
        }
        // the previous step's output and this step's are disjoint rows of `ov`
        let (h_prev, h_out): (&[T], &mut [T]) = match prev {
            Some(p) if p < t => {
                let (lo, hi) = ov.split_at_mut(t * bh);
                (&lo[p * bh..(p + 1) * bh], &mut hi[..bh])
            }
            Some(p) => {
                let (lo, hi) = ov.split_at_mut(p * bh);
                (&hi[..bh], &mut lo[t * bh..(t + 1) * bh])
            }
            None => (h0v, &mut ov[t * bh..(t + 1) * bh]),
        };
        super::conv::gemm_into(
            b,
            g3,
            h,
            &mut hg,
            bv.is_some(),
            (h_prev, h, 1),
            (wtv, g3, 1),
            par,
        );
        GruStep {
            h,
            x: &xv[t * bg..(t + 1) * bg],
            hg: &hg,
            h_prev,
            s: &mut sv[t * 4 * bh..(t + 1) * 4 * bh],
            h_out,
        }
        .run();
    }
    Ok((out, tape))
}

/// Backward of `gru_layer_fwd` without a graph: back through time, `dW_hh` accumulated in place by
/// the GEMM. Returns `(d xg [T,B,3H], d h0, d W_hh, d b_hh)`.
#[allow(clippy::too_many_arguments)]
fn gru_layer_bwd<T: FloatElem + super::conv::ConvElem>(
    tape: &Tensor,
    out: &Tensor,
    h0: &Tensor,
    w: &Tensor,
    g_out: Option<&Tensor>,
    g_hn: Option<&Tensor>,
    reverse: bool,
) -> Result<[Tensor; 4]> {
    let (steps, b, h) = (out.shape()[0], h0.shape()[0], h0.shape()[1]);
    let (g3, g4) = (3 * h, 4 * h);
    let (bh, bg) = (b * h, b * g3);
    let dx = Tensor::empty(&[steps, b, g3], T::DTYPE, h0.device())?;
    let dw = Tensor::zeros(&[g3, h], T::DTYPE, h0.device())?;
    // SAFETY: contiguous tensors of dtype T; `dx`, `dw` are fresh and written only here.
    let (sv, ov, h0v, wv) = unsafe {
        (
            elems::<T>(tape),
            elems::<T>(out),
            elems::<T>(h0),
            elems::<T>(w),
        )
    };
    let gov = g_out.map(|g| unsafe { elems::<T>(g) });
    let (dxv, dwv) = unsafe { (elems_mut::<T>(&dx), elems_mut::<T>(&dw)) };
    let mut dh: Vec<T> = match g_hn {
        Some(g) => unsafe { elems::<T>(g) }.to_vec(),
        None => vec![T::zero(); bh],
    };
    let mut dhg = vec![T::zero(); bg];
    let mut db = vec![<T::C as num_traits::Zero>::zero(); g3];
    let par = gemm_par(b * g3 * h);
    let one = <T::C as num_traits::One>::one();
    for s in (0..steps).rev() {
        let t = step_at(s, steps, reverse);
        let prev = (s > 0).then(|| step_at(s - 1, steps, reverse));
        let hp: &[T] = match prev {
            Some(p) => &ov[p * bh..(p + 1) * bh],
            None => h0v,
        };
        let dg = &mut dxv[t * bg..(t + 1) * bg];
        for r in 0..b {
            let st = &sv[t * 4 * bh + r * g4..t * 4 * bh + (r + 1) * g4];
            for j in 0..h {
                let k = r * h + j;
                let (rr, z, n, hn) = (
                    st[j].to_c(),
                    st[h + j].to_c(),
                    st[2 * h + j].to_c(),
                    st[3 * h + j].to_c(),
                );
                let g = dh[k].to_c()
                    + gov.map_or(<T::C as num_traits::Zero>::zero(), |gv| {
                        gv[t * bh + k].to_c()
                    });
                let dn = g * (one - z) * (one - n * n);
                let dz = g * (hp[k].to_c() - n) * z * (one - z);
                let dr = dn * hn * rr * (one - rr);
                let (row, hrow) = (
                    &mut dg[r * g3..(r + 1) * g3],
                    &mut dhg[r * g3..(r + 1) * g3],
                );
                row[j] = T::from_c(dr);
                row[h + j] = T::from_c(dz);
                row[2 * h + j] = T::from_c(dn);
                hrow[j] = T::from_c(dr);
                hrow[h + j] = T::from_c(dz);
                hrow[2 * h + j] = T::from_c(dn * rr);
                dh[k] = T::from_c(g * z); // the direct path h' <- z·h; the GEMM below adds dhg · W
            }
        }
        for row in dhg.chunks_exact(g3) {
            for (a, v) in db.iter_mut().zip(row) {
                *a = *a + v.to_c();
            }
        }
        // dW += dhgᵀ · h_prev ; dh += dhg · W
        super::conv::gemm_into(g3, h, b, dwv, true, (&dhg, 1, g3), (hp, h, 1), par);
        super::conv::gemm_into(b, h, g3, &mut dh, true, (&dhg, g3, 1), (wv, h, 1), par);
    }
    let dbv: Vec<T> = db.into_iter().map(T::from_c).collect();
    Ok([
        dx,
        Tensor::from_vec_on(&dh, &[b, h], h0.device())?,
        dw,
        Tensor::from_vec_on(&dbv, &[g3], h0.device())?,
    ])
}

/// The layer's gradient in differentiable ops of its saved inputs (`create_graph`): the forward
/// recomputed step by step, then back through time with the cell's differentiable formula.
fn gru_layer_grad_graph(
    xg: &Tensor,
    h0: &Tensor,
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
    let mut hp = h0.clone();
    let mut memo: Vec<Option<(Tensor, Tensor)>> = vec![None; steps];
    for s in 0..steps {
        let t = step_at(s, steps, reverse);
        let hg = Tensor::linear(&hp, w, b)?;
        let hn = Tensor::gru_cell(&xs[t], &hg, &hp)?;
        memo[t] = Some((hp, hg));
        hp = hn;
    }
    let mut dh = match &g[1] {
        Some(t) => t.clone(),
        None => Tensor::zeros(h0.shape(), h0.dtype, h0.device())?,
    };
    let mut dxs: Vec<Option<Tensor>> = vec![None; steps];
    let (mut dw, mut db): (Option<Tensor>, Option<Tensor>) = (None, None);
    let sum = |acc: Option<Tensor>, v: Tensor| -> Result<Option<Tensor>> {
        Ok(Some(match acc {
            Some(a) => a.add(&v)?,
            None => v,
        }))
    };
    for s in (0..steps).rev() {
        let t = step_at(s, steps, reverse);
        let (hprev, hg) = memo[t].take().expect("recomputed step");
        let gh = match &g[0] {
            Some(go) => dh.add(&go.select(0, t as i64)?)?,
            None => dh.clone(),
        };
        let [dx, dhg, dhh] = gru_cell_grad_graph(&xs[t], &hg, &hprev, &gh, h)?;
        dw = sum(dw, dhg.t()?.mm(&hprev)?)?;
        db = sum(db, dhg.sum(Some(&[0]), false)?)?;
        dh = dhh.add(&dhg.mm(w)?)?;
        dxs[t] = Some(dx);
    }
    let dxs: Vec<Tensor> = dxs.into_iter().map(|d| d.expect("every step")).collect();
    let mut res = vec![Tensor::stack(&dxs, 0)?, dh, dw.expect("T > 0")];
    res.extend(db);
    Ok(res)
}

impl Tensor {
    /// One GRU layer in one direction as one node: `xg [T, B, 3H]` the input projections
    /// `x W_ihᵀ + b_ih` (gate order r z n), `h0 [B, H]`, `w_hh [3H, H]`, `b_hh [3H]` →
    /// `(output [T, B, H], h_T)` (`reverse`: time runs backwards). f32/f64 only.
    pub fn gru_layer(
        xg: &Tensor,
        h0: &Tensor,
        w_hh: &Tensor,
        b_hh: Option<&Tensor>,
        reverse: bool,
    ) -> Result<(Tensor, Tensor)> {
        let dt = h0.dtype;
        if !matches!(dt, DType::F32 | DType::F64)
            || xg.dtype != dt
            || w_hh.dtype != dt
            || b_hh.is_some_and(|b| b.dtype != dt)
        {
            crate::bail!(
                Runtime,
                "gru_layer: expected float32/float64 tensors of one dtype, got input {}, h0 {}, weight {}",
                crate::ops::dtype_title(xg.dtype),
                crate::ops::dtype_title(dt),
                crate::ops::dtype_title(w_hh.dtype)
            );
        }
        let shapes_ok = h0.ndim() == 2 && xg.ndim() == 3 && xg.shape()[0] > 0 && {
            let (b, h) = (h0.shape()[0], h0.shape()[1]);
            xg.shape()[1] == b
                && xg.shape()[2] == 3 * h
                && w_hh.shape() == [3 * h, h]
                && b_hh.is_none_or(|t| t.shape() == [3 * h])
        };
        if !shapes_ok {
            crate::bail!(
                Runtime,
                "gru_layer: expected input gates [T, B, 3H] (T > 0), h0 [B, H], weight_hh [3H, H], bias_hh [3H]; got {}, {}, {}, {}",
                fmt_shape(xg.shape()),
                fmt_shape(h0.shape()),
                fmt_shape(w_hh.shape()),
                b_hh.map_or("None".to_string(), |b| fmt_shape(b.shape()))
            );
        }
        let (steps, h) = (xg.shape()[0], h0.shape()[1]);
        let c = |t: &Tensor| t.detach().contiguous();
        let (xd, h0d, wd) = (c(xg)?, c(h0)?, c(w_hh)?);
        let bd = b_hh.map(c).transpose()?;
        let (out, tape) = match dt {
            DType::F32 => gru_layer_fwd::<f32>(&xd, &h0d, &wd, bd.as_ref(), reverse)?,
            _ => gru_layer_fwd::<f64>(&xd, &h0d, &wd, bd.as_ref(), reverse)?,
        };
        let h_n = out
            .select(0, step_at(steps - 1, steps, reverse) as i64)?
            .contiguous()?;
        let mut inputs = vec![xg, h0, w_hh];
        inputs.extend(b_hh);
        if !needs_grad(&inputs) {
            return Ok((out, h_n));
        }
        let n_in = inputs.len();
        let saved: Vec<Saved> = inputs.iter().map(|t| Saved::new(t)).collect();
        let so = Saved::output(&out);
        let outs = record("GruLayerBackward0", &inputs, vec![out, h_n], move |g| {
            if g.iter().all(|g| g.is_none()) {
                return Ok(vec![None; n_in]);
            }
            let vals: Vec<&Tensor> = saved.iter().map(|s| s.get()).collect::<Result<_>>()?;
            if crate::autograd::is_grad_enabled() {
                let r = gru_layer_grad_graph(
                    vals[0],
                    vals[1],
                    vals[2],
                    vals.get(3).copied(),
                    g,
                    reverse,
                    h,
                )?;
                return Ok(r.into_iter().map(Some).collect());
            }
            let out = so.get()?;
            let gc = |t: &Option<Tensor>| t.as_ref().map(|t| t.detach().contiguous()).transpose();
            let (go, ghn) = (gc(&g[0])?, gc(&g[1])?);
            let res = match dt {
                DType::F32 => {
                    gru_layer_bwd::<f32>(&tape, out, &h0d, &wd, go.as_ref(), ghn.as_ref(), reverse)?
                }
                _ => {
                    gru_layer_bwd::<f64>(&tape, out, &h0d, &wd, go.as_ref(), ghn.as_ref(), reverse)?
                }
            };
            Ok(res.into_iter().take(n_in).map(Some).collect())
        });
        let mut it = outs.into_iter();
        Ok((it.next().expect("out"), it.next().expect("h_n")))
    }
}
