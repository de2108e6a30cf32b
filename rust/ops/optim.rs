//! Fused optimizer updates: one call updates every parameter of a group in place, splitting the
//! elements of all parameters into chunks that run in parallel. Python computes the per-parameter
//! scalars (bias corrections, step sizes) exactly as PyTorch does in float64; the kernels here do
//! the elementwise part in the parameter's compute type (f32 for f16/bf16/f32, f64 for f64).

use crate::tensor::{FloatElem, Result, Tensor};
use num_traits::{Float, NumCast};
use rayon::prelude::*;
use std::sync::Arc;

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
    /// `decoupled` is AdamW's weight decay (`param *= 1 - lr * wd`).
    Adam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        decoupled: bool,
        amsgrad: bool,
        maximize: bool,
    },
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
    NAdam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        decoupled: bool,
        maximize: bool,
    },
    /// states: `[exp_avg, exp_avg_sq]`; coefs: `[bias_correction1, bias_correction2, rect (0 = unrectified)]`.
    RAdam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        decoupled: bool,
        maximize: bool,
    },
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
            Update::NAdam { .. } | Update::RAdam { .. } => 2,
        }
    }
    pub fn n_coefs(&self) -> usize {
        match self {
            Update::Sgd { .. } => 1,
            Update::Adam { .. } => 2,
            Update::Adagrad { .. } | Update::Adamax { .. } => 1,
            Update::RmsProp { .. } | Update::Adadelta { .. } => 0,
            Update::NAdam { .. } | Update::RAdam { .. } => 3,
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

/// Applies `u` to one chunk. Formulas follow PyTorch's single-tensor implementations line by line.
fn apply<T: FloatElem>(u: &Update, coefs: &[f64], x: Slices<'_, T>) {
    let Slices { p, g, mut s } = x;
    let zero = <T::C as num_traits::Zero>::zero();
    // grad after `maximize` and coupled weight decay
    let grad = |i: usize, p: &[T], maximize: bool, wd: T::C| -> T::C {
        let mut d = g[i].to_c();
        if maximize {
            d = -d;
        }
        if wd != zero {
            d = d + wd * p[i].to_c();
        }
        d
    };
    match *u {
        Update::Sgd {
            lr,
            momentum,
            dampening,
            nesterov,
            weight_decay,
            maximize,
        } => {
            let (lr, m, damp, wd) = (
                c::<T::C>(lr),
                c::<T::C>(momentum),
                c::<T::C>(1.0 - dampening),
                c(weight_decay),
            );
            let fresh = coefs[0] != 0.0;
            for i in 0..p.len() {
                let mut d = grad(i, p, maximize, wd);
                if m != zero {
                    let buf = &mut s[0][i];
                    let b = if fresh { d } else { buf.to_c() * m + damp * d };
                    *buf = T::from_c(b);
                    d = if nesterov { d + m * b } else { b };
                }
                p[i] = T::from_c(p[i].to_c() - lr * d);
            }
        }
        Update::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            amsgrad,
            maximize,
        } => {
            let (b1, b2, eps) = (c::<T::C>(1.0 - beta1), c::<T::C>(beta2), c::<T::C>(eps));
            let omb2 = c::<T::C>(1.0 - beta2);
            let (step_size, bc2_sqrt) = (c::<T::C>(coefs[0]), c::<T::C>(coefs[1]));
            let decay = c::<T::C>(1.0 - lr * weight_decay);
            let wd = if decoupled { zero } else { c(weight_decay) };
            let (s0, rest) = s.split_at_mut(1);
            let (s1, s2) = rest.split_at_mut(1);
            let (m, v) = (&mut *s0[0], &mut *s1[0]);
            for i in 0..p.len() {
                if decoupled && weight_decay != 0.0 {
                    p[i] = T::from_c(p[i].to_c() * decay);
                }
                let d = grad(i, p, maximize, wd);
                let mi = m[i].to_c();
                let mi = mi + b1 * (d - mi);
                let vi = v[i].to_c() * b2 + omb2 * d * d;
                m[i] = T::from_c(mi);
                v[i] = T::from_c(vi);
                let vhat = if amsgrad {
                    let mx = s2[0][i].to_c().max(vi);
                    s2[0][i] = T::from_c(mx);
                    mx
                } else {
                    vi
                };
                let denom = vhat.sqrt() / bc2_sqrt + eps;
                p[i] = T::from_c(p[i].to_c() - step_size * (mi / denom));
            }
        }
        Update::Adagrad {
            eps,
            weight_decay,
            maximize,
        } => {
            let (eps, wd, clr) = (c::<T::C>(eps), c(weight_decay), c::<T::C>(coefs[0]));
            for i in 0..p.len() {
                let d = grad(i, p, maximize, wd);
                let sum = s[0][i].to_c() + d * d;
                s[0][i] = T::from_c(sum);
                p[i] = T::from_c(p[i].to_c() - clr * (d / (sum.sqrt() + eps)));
            }
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
            let (wd, mom) = (c(weight_decay), c::<T::C>(momentum));
            let has_mom = momentum > 0.0;
            let gi = 1 + has_mom as usize;
            for i in 0..p.len() {
                let d = grad(i, p, maximize, wd);
                let sq = s[0][i].to_c() * a + oma * d * d;
                s[0][i] = T::from_c(sq);
                let avg = if centered {
                    let ga = s[gi][i].to_c();
                    let ga = ga + oma * (d - ga);
                    s[gi][i] = T::from_c(ga);
                    (sq - ga * ga).sqrt() + eps
                } else {
                    sq.sqrt() + eps
                };
                if has_mom {
                    let b = s[1][i].to_c() * mom + d / avg;
                    s[1][i] = T::from_c(b);
                    p[i] = T::from_c(p[i].to_c() - lr * b);
                } else {
                    p[i] = T::from_c(p[i].to_c() - lr * (d / avg));
                }
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
            let wd = c(weight_decay);
            for i in 0..p.len() {
                let d = grad(i, p, maximize, wd);
                let sq = s[0][i].to_c() * r + omr * d * d;
                s[0][i] = T::from_c(sq);
                let std = (sq + eps).sqrt();
                let acc = s[1][i].to_c();
                let delta = (acc + eps).sqrt() / std * d;
                s[1][i] = T::from_c(acc * r + omr * delta * delta);
                p[i] = T::from_c(p[i].to_c() - lr * delta);
            }
        }
        Update::Adamax {
            beta1,
            beta2,
            eps,
            weight_decay,
            maximize,
        } => {
            let (b1, b2, eps) = (c::<T::C>(1.0 - beta1), c::<T::C>(beta2), c::<T::C>(eps));
            let (wd, clr) = (c(weight_decay), c::<T::C>(coefs[0]));
            for i in 0..p.len() {
                let d = grad(i, p, maximize, wd);
                let m = s[0][i].to_c();
                let m = m + b1 * (d - m);
                s[0][i] = T::from_c(m);
                let inf = (s[1][i].to_c() * b2).max(d.abs() + eps);
                s[1][i] = T::from_c(inf);
                p[i] = T::from_c(p[i].to_c() - clr * (m / inf));
            }
        }
        Update::NAdam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            maximize,
        } => {
            let (b1, b2, omb2, eps) = (
                c::<T::C>(1.0 - beta1),
                c::<T::C>(beta2),
                c::<T::C>(1.0 - beta2),
                c::<T::C>(eps),
            );
            let decay = c::<T::C>(1.0 - lr * weight_decay);
            let wd = if decoupled { zero } else { c(weight_decay) };
            let (bc2, gc, mc) = (
                c::<T::C>(coefs[0]),
                c::<T::C>(coefs[1]),
                c::<T::C>(coefs[2]),
            );
            for i in 0..p.len() {
                if decoupled && weight_decay != 0.0 {
                    p[i] = T::from_c(p[i].to_c() * decay);
                }
                let d = grad(i, p, maximize, wd);
                let m = s[0][i].to_c();
                let m = m + b1 * (d - m);
                let v = s[1][i].to_c() * b2 + omb2 * d * d;
                s[0][i] = T::from_c(m);
                s[1][i] = T::from_c(v);
                let denom = (v / bc2).sqrt() + eps;
                let pi = p[i].to_c() + gc * (d / denom);
                p[i] = T::from_c(pi + mc * (m / denom));
            }
        }
        Update::RAdam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            maximize,
        } => {
            let (b1, b2, omb2, eps) = (
                c::<T::C>(1.0 - beta1),
                c::<T::C>(beta2),
                c::<T::C>(1.0 - beta2),
                c::<T::C>(eps),
            );
            let decay = c::<T::C>(1.0 - lr * weight_decay);
            let wd = if decoupled { zero } else { c(weight_decay) };
            let (bc1, bc2_sqrt, rect) = (
                c::<T::C>(coefs[0]),
                c::<T::C>(coefs[1].sqrt()),
                c::<T::C>(coefs[2]),
            );
            let lr = c::<T::C>(lr);
            for i in 0..p.len() {
                if decoupled && weight_decay != 0.0 {
                    p[i] = T::from_c(p[i].to_c() * decay);
                }
                let d = grad(i, p, maximize, wd);
                let m = s[0][i].to_c();
                let m = m + b1 * (d - m);
                let v = s[1][i].to_c() * b2 + omb2 * d * d;
                s[0][i] = T::from_c(m);
                s[1][i] = T::from_c(v);
                let mhat = m / bc1;
                let upd = if rect != zero {
                    mhat * lr * (bc2_sqrt / (v.sqrt() + eps)) * rect
                } else {
                    mhat * lr
                };
                p[i] = T::from_c(p[i].to_c() - upd);
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
    crate::dispatch_float!(first.dtype, T => run::<T>(u, params, grads, states, coefs), _ => unreachable!());
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
        let b = Tensor::zeros(&[2], crate::tensor::DType::F32).unwrap();
        let u = Update::Sgd {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            maximize: false,
        };
        fused_update(
            &u,
            &[p.clone()],
            &[g.clone()],
            &[vec![b.clone()]],
            &[vec![1.0]],
        )
        .unwrap();
        fused_update(&u, &[p.clone()], &[g], &[vec![b.clone()]], &[vec![0.0]]).unwrap();
        // buf: g, then 0.9 g + g = 1.9 g; p = p0 - 0.1 * 2.9 g
        let got = p.to_vec::<f32>();
        assert!((got[0] - (1.0 - 0.1 * 2.9 * 0.5)).abs() < 1e-6);
        assert!((got[1] - (2.0 + 0.1 * 2.9)).abs() < 1e-6);
        assert!((b.to_vec::<f32>()[0] - 0.95).abs() < 1e-6);
    }

    #[test]
    fn rejects_mismatched_grad() {
        let p = Tensor::zeros(&[3], crate::tensor::DType::F32).unwrap();
        let g = Tensor::zeros(&[2], crate::tensor::DType::F32).unwrap();
        let u = Update::Adagrad {
            eps: 1e-10,
            weight_decay: 0.0,
            maximize: false,
        };
        let s = Tensor::zeros(&[3], crate::tensor::DType::F32).unwrap();
        assert!(fused_update(&u, &[p], &[g], &[vec![s]], &[vec![0.1]]).is_err());
    }
}
