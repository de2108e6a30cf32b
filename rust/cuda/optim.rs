//! Launchers of the fused optimizer updates and GradScaler's unscale (`kernels/optim.cu`): one
//! kernel per parameter (or gradient), reading the same per-parameter coefficients the host
//! update (`ops::optim`) reads.

use super::ops::{gpu_for, grid_for, suffix, Launch};
use crate::ops::optim::{Moments, Update};
use crate::tensor::{DType, Result, Tensor};

/// One fused step of `u` for every parameter, as kernels: only when all of them can take it
/// (a floating dtype, contiguous, state like the parameter, on one GPU), so that none is updated twice.
pub fn optim_step(
    u: &Update,
    params: &[Tensor],
    grads: &[Tensor],
    states: &[Vec<Tensor>],
    coefs: &[Vec<f64>],
) -> Result<bool> {
    let Some(g0) = params.first().and_then(|p| gpu_for(p, "optim")) else {
        return Ok(false);
    };
    let fits = |t: &Tensor, p: &Tensor| {
        t.device() == p.device()
            && t.dtype == p.dtype
            && t.is_contiguous()
            && t.numel() == p.numel()
    };
    if params.iter().zip(grads).zip(states).any(|((p, g), s)| {
        !matches!(p.dtype, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
            || !p.is_contiguous()
            || !fits(g, p)
            || s.iter().any(|t| !fits(t, p))
    }) {
        return Ok(false);
    }
    for (((p, g), s), c) in params.iter().zip(grads).zip(states).zip(coefs) {
        let n = p.numel();
        if n == 0 {
            continue;
        }
        let (name, launch) = args(u, Launch::new(g0, "optim").tensor(p).tensor(g), s, c, n);
        let sfx = suffix(p.dtype).unwrap_or("f32");
        launch.run(&format!("{}_{}", name, sfx), grid_for(g0, n))?;
    }
    Ok(true)
}

/// The rest of one parameter's arguments after `p, g` (see the header of optim.cu), and the
/// kernel's name without its dtype suffix.
fn args(u: &Update, launch: Launch, s: &[Tensor], c: &[f64], n: usize) -> (&'static str, Launch) {
    let buf = |l: Launch, t: Option<&Tensor>| match t {
        Some(t) => l.tensor(t),
        None => l.null(),
    };
    // lr, beta1, beta2, eps, weight_decay, decoupled, maximize: the Adam family's shared scalars.
    let moments = |l: Launch, h: &Moments| {
        l.f64(h.lr)
            .f64(h.beta1)
            .f64(h.beta2)
            .f64(h.eps)
            .f64(h.weight_decay)
            .flag(h.decoupled)
            .flag(h.maximize)
    };
    match *u {
        Update::Sgd {
            lr,
            momentum,
            dampening,
            nesterov,
            weight_decay,
            maximize,
        } => (
            "sgd",
            buf(launch, s.first())
                .i64(n)
                .f64(lr)
                .f64(momentum)
                .f64(dampening)
                .f64(weight_decay)
                .flag(nesterov)
                .flag(maximize)
                .flag(c[0] != 0.0),
        ),
        Update::Adam { ref h, amsgrad } => {
            // Python passes step_size = lr / bias_correction1; the kernel forms that ratio itself.
            let bc1 = if h.lr == 0.0 || c[0] == 0.0 {
                1.0
            } else {
                h.lr / c[0]
            };
            let l = buf(
                launch.tensor(&s[0]).tensor(&s[1]),
                s.get(2).filter(|_| amsgrad),
            );
            ("adam", moments(l.i64(n), h).f64(bc1).f64(c[1]))
        }
        Update::Adagrad {
            eps,
            weight_decay,
            maximize,
        } => (
            "adagrad",
            launch
                .tensor(&s[0])
                .i64(n)
                .f64(c[0])
                .f64(eps)
                .f64(weight_decay)
                .flag(maximize),
        ),
        Update::RmsProp {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
            maximize,
        } => {
            // states: [square_avg, (momentum_buffer), (grad_avg)]
            let mut rest = s[1..].iter();
            let mom_buf = if momentum > 0.0 { rest.next() } else { None };
            let grad_avg = if centered { rest.next() } else { None };
            let l = buf(buf(launch.tensor(&s[0]), mom_buf), grad_avg);
            (
                "rmsprop",
                l.i64(n)
                    .f64(lr)
                    .f64(alpha)
                    .f64(eps)
                    .f64(weight_decay)
                    .f64(momentum)
                    .flag(maximize),
            )
        }
        Update::Adadelta {
            lr,
            rho,
            eps,
            weight_decay,
            maximize,
        } => (
            "adadelta",
            launch
                .tensor(&s[0])
                .tensor(&s[1])
                .i64(n)
                .f64(lr)
                .f64(rho)
                .f64(eps)
                .f64(weight_decay)
                .flag(maximize),
        ),
        Update::Adamax {
            beta1,
            beta2,
            eps,
            weight_decay,
            maximize,
        } => (
            "adamax",
            launch
                .tensor(&s[0])
                .tensor(&s[1])
                .i64(n)
                .f64(c[0])
                .f64(beta1)
                .f64(beta2)
                .f64(eps)
                .f64(weight_decay)
                .flag(maximize),
        ),
        Update::NAdam(ref h) | Update::RAdam(ref h) => {
            let name = if matches!(u, Update::NAdam(_)) {
                "nadam"
            } else {
                "radam"
            };
            let l = moments(launch.tensor(&s[0]).tensor(&s[1]).i64(n), h);
            (name, l.f64(c[0]).f64(c[1]).f64(c[2]))
        }
    }
}

/// GradScaler's unscale (`ops::grad_scale`): one kernel per gradient, every one a contiguous
/// floating tensor on found_inf's device (checked by the caller).
pub fn unscale_grads(grads: &[Tensor], found_inf: &Tensor, inv_scale: f64) -> Result<bool> {
    let Some(g0) = gpu_for(found_inf, "optim") else {
        return Ok(false);
    };
    for g in grads.iter().filter(|g| g.numel() > 0) {
        let n = g.numel();
        Launch::new(g0, "optim")
            .tensor(g)
            .i64(n)
            .f64(inv_scale)
            .tensor(found_inf)
            .run(
                &format!("unscale_grad_{}", suffix(g.dtype).unwrap_or("f32")),
                grid_for(g0, n),
            )?;
    }
    Ok(true)
}
