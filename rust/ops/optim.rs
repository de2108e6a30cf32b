//! Fused optimizer updates: one call updates every parameter of a group in place, splitting the
//! elements of all parameters into chunks that run in parallel. Python computes the per-parameter
//! scalars (bias corrections, step sizes) exactly as PyTorch does in float64; the kernels here do
//! the elementwise part in the parameter's compute type (f32 for f16/bf16/f32, f64 for f64).

use crate::tensor::{FloatElem, Result, Tensor};
use num_traits::{Float, NumCast};
use rayon::prelude::*;
use std::sync::Arc;

/// The hyper-parameters Adam, AdamW, NAdam and RAdam share. `decoupled` is AdamW-style weight decay
/// (`param *= 1 - lr * wd`) instead of adding `wd * param` to the gradient.
#[derive(Clone, Copy, Debug)]
pub struct Moments {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub decoupled: bool,
    pub maximize: bool,
}

/// Which update rule, with its hyper-parameters that are the same for every parameter.
#[derive(Clone, Copy, Debug)]
pub enum Update {
    /// states: `[momentum_buffer]` when momentum != 0; coefs: `[fresh_buffer (0/1)]`.
    Sgd {
        lr: f64,
        momentum: f64,
        dampening: f64,
        nesterov: bool,
        weight_decay: f64,
        maximize: bool,
    },
    /// states: `[exp_avg, exp_avg_sq(, max_exp_avg_sq)]`; coefs: `[step_size, bias_correction2_sqrt]`.
    Adam { h: Moments, amsgrad: bool },
    /// states: `[sum]`; coefs: `[clr]`.
    Adagrad {
        eps: f64,
        weight_decay: f64,
        maximize: bool,
    },
    /// states: `[square_avg(, momentum_buffer)(, grad_avg)]`.
    RmsProp {
        lr: f64,
        alpha: f64,
        eps: f64,
        weight_decay: f64,
        momentum: f64,
        centered: bool,
        maximize: bool,
    },
    /// states: `[square_avg, acc_delta]`.
    Adadelta {
        lr: f64,
        rho: f64,
        eps: f64,
        weight_decay: f64,
        maximize: bool,
    },
    /// states: `[exp_avg, exp_inf]`; coefs: `[clr]`.
    Adamax {
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        maximize: bool,
    },
    /// states: `[exp_avg, exp_avg_sq]`; coefs: `[bias_correction2, grad_coef, exp_avg_coef]`.
    NAdam(Moments),
    /// states: `[exp_avg, exp_avg_sq]`; coefs: `[bias_correction1, bias_correction2, rect (0 = unrectified)]`.
    RAdam(Moments),
}

impl Update {
    /// How many state tensors each parameter carries.
    pub fn n_states(&self) -> usize {
        match *self {
            Update::Sgd { momentum, .. } => (momentum != 0.0) as usize,
            Update::Adam { amsgrad, .. } => 2 + amsgrad as usize,
            Update::Adagrad { .. } => 1,
            Update::RmsProp {
                momentum, centered, ..
            } => 1 + (momentum > 0.0) as usize + centered as usize,
            Update::Adadelta { .. } | Update::Adamax { .. } => 2,
            Update::NAdam(_) | Update::RAdam(_) => 2,
        }
    }
    pub fn n_coefs(&self) -> usize {
        match self {
            Update::Sgd { .. } => 1,
            Update::Adam { .. } => 2,
            Update::Adagrad { .. } | Update::Adamax { .. } => 1,
            Update::RmsProp { .. } | Update::Adadelta { .. } => 0,
            Update::NAdam(_) | Update::RAdam(_) => 3,
        }
    }
}

/// Elements per parallel work item.
const CHUNK: usize = 1 << 15;

/// One parameter's slices of a chunk: the parameter, its gradient, its state buffers.
struct Slices<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    s: Vec<&'a mut [T]>,
}

#[inline(always)]
fn c<C: Float>(v: f64) -> C {
    <C as NumCast>::from(v).unwrap()
}

/// Elements per block: each update runs as a few simple passes over one block (the lines of
/// PyTorch's formula, in order) while it sits in L1, so every pass is a branch-free loop that vectorises.
const BLOCK: usize = 256;

/// `d = (maximize ? -g : g) + wd * p`: the first lines of every update.
fn load_grad<T: FloatElem>(d: &mut [T::C], g: &[T], p: &[T], maximize: bool, wd: T::C) {
    if maximize {
        d.iter_mut().zip(g).for_each(|(d, g)| *d = -g.to_c());
    } else {
        d.iter_mut().zip(g).for_each(|(d, g)| *d = g.to_c());
    }
    if wd != <T::C as num_traits::Zero>::zero() {
        d.iter_mut()
            .zip(p)
            .for_each(|(d, p)| *d = *d + wd * p.to_c());
    }
}

/// `x = lerp(x, d, w)` as torch.lerp computes it: `x + w * (d - x)` for `|w| < 0.5`, else
/// `d - (d - x) * (1 - w)` (exact at both ends).
fn lerp_into<T: FloatElem>(x: &mut [T], d: &[T::C], w: T::C) {
    let half = c::<T::C>(0.5);
    if w < half && w > -half {
        x.iter_mut()
            .zip(d)
            .for_each(|(x, &d)| *x = T::from_c(x.to_c() + w * (d - x.to_c())));
    } else {
        let one_minus = c::<T::C>(1.0) - w;
        x.iter_mut()
            .zip(d)
            .for_each(|(x, &d)| *x = T::from_c(d - (d - x.to_c()) * one_minus));
    }
}

/// `v = v * beta + (1 - beta) * d²`.
fn square_avg_into<T: FloatElem>(v: &mut [T], d: &[T::C], beta: T::C, one_minus: T::C) {
    v.iter_mut()
        .zip(d)
        .for_each(|(v, &d)| *v = T::from_c(v.to_c() * beta + one_minus * d * d));
}

/// The shared start of Adam, NAdam and RAdam: weight decay (decoupled, or into the gradient), then
/// `m = lerp(m, d, 1 - beta1)` and `v = beta2 * v + (1 - beta2) * d²`; `d` holds the gradient after.
fn moments<T: FloatElem>(
    h: &Moments,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    d: &mut [T::C],
) {
    let zero = <T::C as num_traits::Zero>::zero();
    if h.decoupled && h.weight_decay != 0.0 {
        scale(p, c(1.0 - h.lr * h.weight_decay));
    }
    load_grad(
        d,
        g,
        p,
        h.maximize,
        if h.decoupled { zero } else { c(h.weight_decay) },
    );
    lerp_into(m, d, c(1.0 - h.beta1));
    square_avg_into(v, d, c(h.beta2), c(1.0 - h.beta2));
}

/// `p *= factor` (decoupled weight decay).
fn scale<T: FloatElem>(p: &mut [T], factor: T::C) {
    p.iter_mut().for_each(|p| *p = T::from_c(p.to_c() * factor));
}

/// `maximum` that propagates NaN, as `torch.maximum` does.
#[inline(always)]
fn nan_max<C: Float>(a: C, b: C) -> C {
    if a.is_nan() || b.is_nan() {
        C::nan()
    } else {
        a.max(b)
    }
}

/// Applies `u` to one chunk, block by block.
fn apply<T: FloatElem>(u: &Update, coefs: &[f64], x: Slices<'_, T>) {
    let Slices { p, g, mut s } = x;
    let mut buf = [<T::C as num_traits::Zero>::zero(); BLOCK];
    let mut lo = 0;
    while lo < p.len() {
        let hi = (lo + BLOCK).min(p.len());
        let mut states: smallvec::SmallVec<[&mut [T]; 3]> =
            s.iter_mut().map(|t| &mut t[lo..hi]).collect();
        apply_block::<T>(
            u,
            coefs,
            &mut p[lo..hi],
            &g[lo..hi],
            &mut states,
            &mut buf[..hi - lo],
        );
        lo = hi;
    }
}

/// One block of `u`; `d` is scratch for the (transformed) gradient. Formulas follow PyTorch's
/// single-tensor implementations line by line.
fn apply_block<T: FloatElem>(
    u: &Update,
    coefs: &[f64],
    p: &mut [T],
    g: &[T],
    s: &mut [&mut [T]],
    d: &mut [T::C],
) {
    match *u {
        Update::Sgd {
            lr,
            momentum,
            dampening,
            nesterov,
            weight_decay,
            maximize,
        } => {
            let (lr, m, damp) = (
                c::<T::C>(lr),
                c::<T::C>(momentum),
                c::<T::C>(1.0 - dampening),
            );
            load_grad(d, g, p, maximize, c(weight_decay));
            if let [b, ..] = s {
                if coefs[0] != 0.0 {
                    b.iter_mut().zip(&*d).for_each(|(b, &d)| *b = T::from_c(d));
                } else {
                    b.iter_mut()
                        .zip(&*d)
                        .for_each(|(b, &d)| *b = T::from_c(b.to_c() * m + damp * d));
                }
                if nesterov {
                    d.iter_mut()
                        .zip(b.iter())
                        .for_each(|(d, b)| *d = *d + m * b.to_c());
                } else {
                    d.iter_mut().zip(b.iter()).for_each(|(d, b)| *d = b.to_c());
                }
            }
            p.iter_mut()
                .zip(&*d)
                .for_each(|(p, &d)| *p = T::from_c(p.to_c() - lr * d));
        }
        Update::Adam { ref h, amsgrad } => {
            let [m, v, rest @ ..] = s else { unreachable!() };
            moments(h, p, g, m, v, d);
            let (step_size, bc2_sqrt, eps) =
                (c::<T::C>(coefs[0]), c::<T::C>(coefs[1]), c::<T::C>(h.eps));
            let vhat: &[T] = match rest {
                [mx, ..] if amsgrad => {
                    mx.iter_mut()
                        .zip(v.iter())
                        .for_each(|(mx, v)| *mx = T::from_c(nan_max(mx.to_c(), v.to_c())));
                    mx
                }
                _ => v,
            };
            p.iter_mut()
                .zip(m.iter())
                .zip(vhat)
                .for_each(|((p, m), v)| {
                    let denom = v.to_c().sqrt() / bc2_sqrt + eps;
                    *p = T::from_c(p.to_c() - step_size * (m.to_c() / denom));
                });
        }
        Update::Adagrad {
            eps,
            weight_decay,
            maximize,
        } => {
            let (eps, clr) = (c::<T::C>(eps), c::<T::C>(coefs[0]));
            load_grad(d, g, p, maximize, c(weight_decay));
            let [sum, ..] = s else { unreachable!() };
            sum.iter_mut()
                .zip(&*d)
                .for_each(|(s, &d)| *s = T::from_c(s.to_c() + d * d));
            p.iter_mut()
                .zip(sum.iter())
                .zip(&*d)
                .for_each(|((p, s), &d)| {
                    *p = T::from_c(p.to_c() - clr * (d / (s.to_c().sqrt() + eps)));
                });
        }
        Update::RmsProp {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
            maximize,
        } => {
            let (lr, a, oma, eps) = (
                c::<T::C>(lr),
                c::<T::C>(alpha),
                c::<T::C>(1.0 - alpha),
                c::<T::C>(eps),
            );
            let mom = c::<T::C>(momentum);
            load_grad(d, g, p, maximize, c(weight_decay));
            let (sq, rest) = s.split_first_mut().unwrap();
            square_avg_into(sq, d, a, oma);
            let (mom_buf, rest) = if momentum > 0.0 {
                let (b, r) = rest.split_first_mut().unwrap();
                (Some(b), r)
            } else {
                (None, rest)
            };
            // avg = sqrt(square_avg - grad_avg²) + eps (centered) or sqrt(square_avg) + eps; kept in `sq`'s
            // compute type in a second scratch pass: reuse `d` as d / avg once avg is known.
            match rest {
                [ga, ..] if centered => {
                    lerp_into(ga, d, oma);
                    d.iter_mut()
                        .zip(sq.iter())
                        .zip(ga.iter())
                        .for_each(|((d, sq), ga)| {
                            let ga = ga.to_c();
                            *d = *d / ((sq.to_c() - ga * ga).sqrt() + eps);
                        });
                }
                _ => d
                    .iter_mut()
                    .zip(sq.iter())
                    .for_each(|(d, sq)| *d = *d / (sq.to_c().sqrt() + eps)),
            }
            if let Some(b) = mom_buf {
                b.iter_mut()
                    .zip(&*d)
                    .for_each(|(b, &q)| *b = T::from_c(b.to_c() * mom + q));
                p.iter_mut()
                    .zip(b.iter())
                    .for_each(|(p, b)| *p = T::from_c(p.to_c() - lr * b.to_c()));
            } else {
                p.iter_mut()
                    .zip(&*d)
                    .for_each(|(p, &q)| *p = T::from_c(p.to_c() - lr * q));
            }
        }
        Update::Adadelta {
            lr,
            rho,
            eps,
            weight_decay,
            maximize,
        } => {
            let (lr, r, omr, eps) = (
                c::<T::C>(lr),
                c::<T::C>(rho),
                c::<T::C>(1.0 - rho),
                c::<T::C>(eps),
            );
            load_grad(d, g, p, maximize, c(weight_decay));
            let [sq, acc, ..] = s else { unreachable!() };
            square_avg_into(sq, d, r, omr);
            // delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * grad
            d.iter_mut()
                .zip(sq.iter())
                .zip(acc.iter())
                .for_each(|((d, sq), acc)| {
                    *d = (acc.to_c() + eps).sqrt() / (sq.to_c() + eps).sqrt() * *d;
                });
            square_avg_into(acc, d, r, omr);
            p.iter_mut()
                .zip(&*d)
                .for_each(|(p, &dl)| *p = T::from_c(p.to_c() - lr * dl));
        }
        Update::Adamax {
            beta1,
            beta2,
            eps,
            weight_decay,
            maximize,
        } => {
            let (w1, b2, eps, clr) = (
                c::<T::C>(1.0 - beta1),
                c::<T::C>(beta2),
                c::<T::C>(eps),
                c::<T::C>(coefs[0]),
            );
            load_grad(d, g, p, maximize, c(weight_decay));
            let [m, inf, ..] = s else { unreachable!() };
            lerp_into(m, d, w1);
            inf.iter_mut()
                .zip(&*d)
                .for_each(|(u, &d)| *u = T::from_c(nan_max(u.to_c() * b2, d.abs() + eps)));
            p.iter_mut()
                .zip(m.iter())
                .zip(inf.iter())
                .for_each(|((p, m), u)| {
                    *p = T::from_c(p.to_c() - clr * (m.to_c() / u.to_c()));
                });
        }
        Update::NAdam(ref h) => {
            let [m, v, ..] = s else { unreachable!() };
            moments(h, p, g, m, v, d);
            let (bc2, gc, mc, eps) = (
                c::<T::C>(coefs[0]),
                c::<T::C>(coefs[1]),
                c::<T::C>(coefs[2]),
                c::<T::C>(h.eps),
            );
            p.iter_mut()
                .zip(m.iter())
                .zip(v.iter())
                .zip(&*d)
                .for_each(|(((p, m), v), &d)| {
                    let denom = (v.to_c() / bc2).sqrt() + eps;
                    let pi = T::from_c(p.to_c() + gc * (d / denom));
                    *p = T::from_c(pi.to_c() + mc * (m.to_c() / denom));
                });
        }
        Update::RAdam(ref h) => {
            let [m, v, ..] = s else { unreachable!() };
            moments(h, p, g, m, v, d);
            let (bc1, bc2_sqrt, rect) = (
                c::<T::C>(coefs[0]),
                c::<T::C>(coefs[1].sqrt()),
                c::<T::C>(coefs[2]),
            );
            let (lr, eps) = (c::<T::C>(h.lr), c::<T::C>(h.eps));
            if rect != <T::C as num_traits::Zero>::zero() {
                p.iter_mut()
                    .zip(m.iter())
                    .zip(v.iter())
                    .for_each(|((p, m), v)| {
                        let upd = m.to_c() / bc1 * lr * (bc2_sqrt / (v.to_c().sqrt() + eps)) * rect;
                        *p = T::from_c(p.to_c() - upd);
                    });
            } else {
                p.iter_mut()
                    .zip(m.iter())
                    .for_each(|(p, m)| *p = T::from_c(p.to_c() - m.to_c() / bc1 * lr));
            }
        }
    }
}

/// Checks one parameter's tensors: float, same dtype and shape, contiguous, distinct storages.
fn check(i: usize, p: &Tensor, g: &Tensor, states: &[Tensor]) -> Result<()> {
    if !p.dtype.is_float() {
        crate::bail!(
            Runtime,
            "optimizer: parameter {} has dtype {}; only floating-point parameters can be optimized",
            i,
            p.dtype.name()
        );
    }
    for (what, t) in std::iter::once(("grad", g)).chain(states.iter().map(|s| ("state", s))) {
        if t.dtype != p.dtype || t.shape() != p.shape() {
            crate::bail!(
                Runtime,
                "optimizer: parameter {} is {} {} but its {} is {} {}",
                i,
                p.dtype.name(),
                crate::tensor::fmt_shape(p.shape()),
                what,
                t.dtype.name(),
                crate::tensor::fmt_shape(t.shape())
            );
        }
        if Arc::ptr_eq(&t.storage, &p.storage) {
            crate::bail!(
                Runtime,
                "optimizer: the {} of parameter {} shares memory with the parameter",
                what,
                i
            );
        }
    }
    for (j, t) in std::iter::once(p).chain(states.iter()).enumerate() {
        if !t.is_contiguous() {
            crate::bail!(
                Runtime,
                "optimizer: tensor {} of parameter {} is not contiguous",
                j,
                i
            );
        }
    }
    if !g.is_contiguous() {
        crate::bail!(
            Runtime,
            "optimizer: the grad of parameter {} is not contiguous",
            i
        );
    }
    for (a, sa) in states.iter().enumerate() {
        for sb in &states[a + 1..] {
            if Arc::ptr_eq(&sa.storage, &sb.storage) {
                crate::bail!(
                    Runtime,
                    "optimizer: two state tensors of parameter {} share memory",
                    i
                );
            }
        }
    }
    Ok(())
}

fn run<T: FloatElem>(
    u: &Update,
    params: &[Tensor],
    grads: &[Tensor],
    states: &[Vec<Tensor>],
    coefs: &[Vec<f64>],
) {
    // work items: (param, start, end)
    let mut work = Vec::new();
    for (i, p) in params.iter().enumerate() {
        let n = p.numel();
        let mut s = 0;
        while s < n {
            work.push((i, s, (s + CHUNK).min(n)));
            s += CHUNK;
        }
    }
    let item = |&(i, lo, hi): &(usize, usize, usize)| {
        let len = hi - lo;
        // SAFETY: checked contiguous with distinct storages; chunks of one tensor are disjoint.
        let slices = unsafe {
            Slices {
                p: std::slice::from_raw_parts_mut((params[i].data_ptr() as *mut T).add(lo), len),
                g: std::slice::from_raw_parts((grads[i].data_ptr() as *const T).add(lo), len),
                s: states[i]
                    .iter()
                    .map(|t| std::slice::from_raw_parts_mut((t.data_ptr() as *mut T).add(lo), len))
                    .collect(),
            }
        };
        apply::<T>(u, &coefs[i], slices);
    };
    let total: usize = params.iter().map(|p| p.numel()).sum();
    if total >= super::iter::PAR_THRESHOLD
        && super::threads::get_num_threads() > 1
        && work.len() > 1
    {
        work.par_iter().for_each(item);
    } else {
        work.iter().for_each(item);
    }
}

/// Updates `params` in place from `grads`, reading and writing each parameter's `states`.
pub fn fused_update(
    u: &Update,
    params: &[Tensor],
    grads: &[Tensor],
    states: &[Vec<Tensor>],
    coefs: &[Vec<f64>],
) -> Result<()> {
    for ((p, g), s) in params.iter().zip(grads).zip(states) {
        let mut ts = vec![p, g];
        ts.extend(s);
        crate::tensor::Device::same(&ts)?;
    }
    if grads.len() != params.len() || states.len() != params.len() || coefs.len() != params.len() {
        crate::bail!(
            Value,
            "optimizer: got {} params, {} grads, {} state lists and {} coefficient lists",
            params.len(),
            grads.len(),
            states.len(),
            coefs.len()
        );
    }
    for (i, p) in params.iter().enumerate() {
        if states[i].len() != u.n_states() || coefs[i].len() != u.n_coefs() {
            crate::bail!(
                Value,
                "optimizer: parameter {} has {} states and {} coefficients; {:?} needs {} and {}",
                i,
                states[i].len(),
                coefs[i].len(),
                u,
                u.n_states(),
                u.n_coefs()
            );
        }
        check(i, p, &grads[i], &states[i])?;
    }
    let Some(first) = params.first() else {
        return Ok(());
    };
    if let Some(p) = params.iter().find(|p| p.dtype != first.dtype) {
        crate::bail!(
            Runtime,
            "optimizer: all parameters of one fused step must share a dtype, got {} and {}",
            first.dtype.name(),
            p.dtype.name()
        );
    }
    #[cfg(feature = "cuda")]
    let on_gpu = first.device().is_cuda()
        && crate::cuda::optim::optim_step(u, params, grads, states, coefs)?;
    #[cfg(not(feature = "cuda"))]
    let on_gpu = false;
    if !on_gpu {
        crate::dispatch_float!(first.dtype, T => run::<T>(u, params, grads, states, coefs), _ => unreachable!());
    }
    for (p, s) in params.iter().zip(states) {
        p.bump_version();
        s.iter().for_each(|t| t.bump_version());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_momentum_two_steps() {
        let p = Tensor::from_vec(&[1.0f32, 2.0], &[2]).unwrap();
        let g = Tensor::from_vec(&[0.5f32, -1.0], &[2]).unwrap();
        let b = Tensor::zeros(&[2], crate::tensor::DType::F32, crate::tensor::Device::Cpu).unwrap();
        let u = Update::Sgd {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            maximize: false,
        };
        let (ps, gs) = (std::slice::from_ref(&p), std::slice::from_ref(&g));
        fused_update(&u, ps, gs, &[vec![b.clone()]], &[vec![1.0]]).unwrap();
        fused_update(&u, ps, gs, &[vec![b.clone()]], &[vec![0.0]]).unwrap();
        // buf: g, then 0.9 g + g = 1.9 g; p = p0 - 0.1 * 2.9 g
        let got = p.to_vec::<f32>();
        assert!((got[0] - (1.0 - 0.1 * 2.9 * 0.5)).abs() < 1e-6);
        assert!((got[1] - (2.0 + 0.1 * 2.9)).abs() < 1e-6);
        assert!((b.to_vec::<f32>()[0] - 0.95).abs() < 1e-6);
    }

    #[test]
    fn rejects_mismatched_grad() {
        let p = Tensor::zeros(&[3], crate::tensor::DType::F32, crate::tensor::Device::Cpu).unwrap();
        let g = Tensor::zeros(&[2], crate::tensor::DType::F32, crate::tensor::Device::Cpu).unwrap();
        let u = Update::Adagrad {
            eps: 1e-10,
            weight_decay: 0.0,
            maximize: false,
        };
        let s = Tensor::zeros(&[3], crate::tensor::DType::F32, crate::tensor::Device::Cpu).unwrap();
        assert!(fused_update(&u, &[p], &[g], &[vec![s]], &[vec![0.1]]).is_err());
    }
}
