//! Launchers of the fused optimizer updates and GradScaler's unscale (`kernels/optim.cu`): one
//! launch per list of up to `TL_MAX` tensors (PyTorch's multi_tensor_apply), reading the same
//! per-parameter coefficients the host update (`ops::optim`) reads.

use super::device::Gpu;
use super::ops::{gpu_for, suffix, Launch};
use crate::ops::foreach::ForeachOp;
use crate::ops::optim::{Moments, Update};
use crate::tensor::{DType, Result, Tensor};

/// Tensors per launch (`TL_MAX` in optim.cu).
const TL_MAX: usize = 32;
/// Elements per block-chunk (`TL_CHUNK` in optim.cu).
const TL_CHUNK: usize = 4096;

/// The kernels' tensor list (`TensorList` in optim.cu), passed by value: device pointers, element
/// offsets and per-tensor coefficients.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct TensorList {
    p: [u64; TL_MAX],
    g: [u64; TL_MAX],
    s: [[u64; TL_MAX]; 3],
    start: [i64; TL_MAX + 1],
    c: [[f64; TL_MAX]; 3],
    count: i32,
}

const _: () = assert!(std::mem::size_of::<TensorList>() == 2320);

impl TensorList {
    fn new() -> TensorList {
        TensorList {
            p: [0; TL_MAX],
            g: [0; TL_MAX],
            s: [[0; TL_MAX]; 3],
            start: [0; TL_MAX + 1],
            c: [[0.0; TL_MAX]; 3],
            count: 0,
        }
    }
    /// Appends one tensor `p` with its gradient, state buffers (None: a null pointer) and coefficients.
    fn push(&mut self, p: &Tensor, g: Option<&Tensor>, s: [Option<&Tensor>; 3], c: [f64; 3]) {
        let t = self.count as usize;
        let ptr = |x: Option<&Tensor>| x.map_or(0, |x| x.device_data_ptr());
        self.p[t] = p.device_data_ptr();
        self.g[t] = ptr(g);
        for k in 0..3 {
            self.s[k][t] = ptr(s[k]);
            self.c[k][t] = c[k];
        }
        self.start[t + 1] = self.start[t] + p.numel() as i64;
        self.count += 1;
    }
    fn total(&self) -> usize {
        self.start[self.count as usize] as usize
    }
    /// Launches `kernel` (hyper-parameters appended by `scalars`) over the list and empties it.
    fn flush(
        &mut self,
        gpu: &'static Gpu,
        kernel: &str,
        scalars: &dyn Fn(Launch) -> Launch,
    ) -> Result<()> {
        if self.total() > 0 {
            let grid = self
                .total()
                .div_ceil(TL_CHUNK)
                .clamp(1, gpu.max_grid() as usize) as u32;
            scalars(Launch::new(gpu, "optim").list(*self)).run(kernel, grid)?;
        }
        *self = TensorList::new();
        Ok(())
    }
}

/// One tensor of a list: the tensor, its gradient (or other operand), its state buffers and its
/// coefficients.
type Entry<'a> = (
    &'a Tensor,
    Option<&'a Tensor>,
    [Option<&'a Tensor>; 3],
    [f64; 3],
);

/// Launches `kernel` over `entries`, `TL_MAX` tensors a launch (empty tensors left out).
fn launch_lists<'a>(
    gpu: &'static Gpu,
    kernel: &str,
    scalars: &dyn Fn(Launch) -> Launch,
    entries: impl IntoIterator<Item = Entry<'a>>,
) -> Result<()> {
    let mut list = TensorList::new();
    for (p, g, s, c) in entries {
        if p.numel() == 0 {
            continue;
        }
        list.push(p, g, s, c);
        if list.count as usize == TL_MAX {
            list.flush(gpu, kernel, scalars)?;
        }
    }
    list.flush(gpu, kernel, scalars)
}

/// One fused step of `u` for every parameter, as kernels: only when all of them can take it
/// (a floating dtype, contiguous, state like the parameter, on one GPU), so that none is updated twice.
pub fn optim_step(
    u: &Update,
    params: &[Tensor],
    grads: &[Tensor],
    states: &[Vec<Tensor>],
    coefs: &[Vec<f64>],
) -> Result<bool> {
    let Some(gpu) = params.first().and_then(|p| gpu_for(p, "optim")) else {
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
    let kernel = format!("{}_{}", name(u), suffix(params[0].dtype).unwrap_or("f32"));
    let entries = params
        .iter()
        .zip(grads)
        .zip(states)
        .zip(coefs)
        .map(|(((p, g), s), c)| {
            let (bufs, cs) = per_tensor(u, s, c);
            (p, Some(g), bufs, cs)
        });
    launch_lists(gpu, &kernel, &|l| hyper(u, l), entries)?;
    Ok(true)
}

/// The kernel's name, less its dtype suffix.
fn name(u: &Update) -> &'static str {
    match u {
        Update::Sgd { .. } => "sgd",
        Update::Adam { .. } => "adam",
        Update::Adagrad { .. } => "adagrad",
        Update::RmsProp { .. } => "rmsprop",
        Update::Adadelta { .. } => "adadelta",
        Update::Adamax { .. } => "adamax",
        Update::NAdam(_) => "nadam",
        Update::RAdam(_) => "radam",
    }
}

/// One parameter's state buffers and coefficients in the kernel's slots (see the header of optim.cu).
fn per_tensor<'a>(u: &Update, s: &'a [Tensor], c: &[f64]) -> ([Option<&'a Tensor>; 3], [f64; 3]) {
    let at = |k: usize| c.get(k).copied().unwrap_or(0.0);
    match *u {
        Update::Adam { amsgrad, .. } => (
            [s.first(), s.get(1), s.get(2).filter(|_| amsgrad)],
            [at(0), at(1), 0.0],
        ),
        Update::RmsProp {
            momentum, centered, ..
        } => {
            // states: [square_avg, (momentum_buffer), (grad_avg)]
            let mut rest = s[1..].iter();
            let mom_buf = if momentum > 0.0 { rest.next() } else { None };
            let grad_avg = if centered { rest.next() } else { None };
            ([s.first(), mom_buf, grad_avg], [0.0; 3])
        }
        // the host takes sqrt(bias_correction2) in f64 too
        Update::RAdam(_) => ([s.first(), s.get(1), None], [at(0), at(1).sqrt(), at(2)]),
        _ => ([s.first(), s.get(1), s.get(2)], [at(0), at(1), at(2)]),
    }
}

/// The hyper-parameters every tensor of the list shares, after the list (see the header of optim.cu).
fn hyper(u: &Update, l: Launch) -> Launch {
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
        } => l
            .f64(lr)
            .f64(momentum)
            .f64(dampening)
            .f64(weight_decay)
            .flag(nesterov)
            .flag(maximize),
        Update::Adam { ref h, .. } | Update::NAdam(ref h) | Update::RAdam(ref h) => moments(l, h),
        Update::Adagrad {
            eps,
            weight_decay,
            maximize,
        } => l.f64(eps).f64(weight_decay).flag(maximize),
        Update::RmsProp {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            maximize,
            ..
        } => l
            .f64(lr)
            .f64(alpha)
            .f64(eps)
            .f64(weight_decay)
            .f64(momentum)
            .flag(maximize),
        Update::Adadelta {
            lr,
            rho,
            eps,
            weight_decay,
            maximize,
        } => l.f64(lr).f64(rho).f64(eps).f64(weight_decay).flag(maximize),
        Update::Adamax {
            beta1,
            beta2,
            eps,
            weight_decay,
            maximize,
        } => l
            .f64(beta1)
            .f64(beta2)
            .f64(eps)
            .f64(weight_decay)
            .flag(maximize),
    }
}

/// GradScaler's unscale (`ops::grad_scale`): one launch per list of gradients of one dtype, every
/// one a contiguous floating tensor on found_inf's device (checked by the caller).
pub fn unscale_grads(grads: &[Tensor], found_inf: &Tensor, inv_scale: f64) -> Result<bool> {
    let Some(gpu) = gpu_for(found_inf, "optim") else {
        return Ok(false);
    };
    let scalars = |l: Launch| l.f64(inv_scale).tensor(found_inf);
    let mut dtypes: Vec<DType> = Vec::new();
    for g in grads {
        if !dtypes.contains(&g.dtype) {
            dtypes.push(g.dtype);
        }
    }
    for dt in dtypes {
        let kernel = format!("unscale_grad_{}", suffix(dt).unwrap_or("f32"));
        let entries = grads.iter().filter(|g| g.dtype == dt);
        launch_lists(
            gpu,
            &kernel,
            &scalars,
            entries.map(|g| (g, None, [None; 3], [0.0; 3])),
        )?;
    }
    Ok(true)
}

/// `torch._foreach_norm` of contiguous floating `ts` of one dtype on one GPU, for ord 1, 2 and
/// inf: a 1-D tensor of their norms in their dtype, in two launches per list. None for other orders.
pub fn tensor_norms(ts: &[Tensor], ord: f64) -> Result<Option<Tensor>> {
    let Some(gpu) = ts.first().and_then(|t| gpu_for(t, "optim")) else {
        return Ok(None);
    };
    let code: i32 = match ord {
        1.0 => 1,
        2.0 => 2,
        f64::INFINITY => -1,
        _ => return Ok(None),
    };
    let (dt, device) = (ts[0].dtype, ts[0].device());
    if !dt.is_float() || ts.iter().any(|t| t.dtype != dt || !t.is_contiguous()) {
        return Ok(None);
    }
    let Some(sfx) = suffix(dt) else {
        return Ok(None);
    };
    let acc = if dt == DType::F64 {
        DType::F64
    } else {
        DType::F32
    };
    let out = Tensor::empty(&[ts.len()], dt, device)?;
    for (k, group) in ts.chunks(TL_MAX).enumerate() {
        let mut list = TensorList::new();
        group
            .iter()
            .for_each(|t| list.push(t, None, [None; 3], [0.0; 3]));
        let chunks: usize = group.iter().map(|t| t.numel().div_ceil(TL_CHUNK)).sum();
        // freed at once: the stream orders a later user of the block after these kernels
        let partial = Tensor::empty(&[chunks.max(1)], acc, device)?;
        let grid = chunks.clamp(1, gpu.max_grid() as usize) as u32;
        Launch::new(gpu, "optim")
            .list(list)
            .i32(code)
            .tensor(&partial)
            .run(&format!("tensor_norms_partial_{}", sfx), grid)?;
        let out_k = out.narrow(0, (k * TL_MAX) as i64, group.len() as i64)?;
        Launch::new(gpu, "optim")
            .list(list)
            .i32(code)
            .tensor(&partial)
            .tensor(&out_k)
            .run(&format!("tensor_norms_finish_{}", sfx), group.len() as u32)?;
    }
    Ok(Some(out))
}

/// `x *= factor` for contiguous floating `ts` of one dtype on `factor`'s GPU, `factor` a
/// one-element tensor of that dtype there: one launch per list. False where that does not hold.
pub fn scale_by(ts: &[Tensor], factor: &Tensor) -> Result<bool> {
    let Some(gpu) = gpu_for(factor, "optim") else {
        return Ok(false);
    };
    let dt = factor.dtype;
    let Some(sfx) = suffix(dt).filter(|_| dt.is_float() && factor.numel() == 1) else {
        return Ok(false);
    };
    if ts
        .iter()
        .any(|t| t.dtype != dt || !t.is_contiguous() || t.device() != factor.device())
    {
        return Ok(false);
    }
    let entries = ts.iter().map(|t| (t, None, [None; 3], [0.0; 3]));
    launch_lists(
        gpu,
        &format!("scale_by_{}", sfx),
        &|l| l.tensor(factor),
        entries,
    )?;
    Ok(true)
}

/// `torch._foreach_<op>_` (add_, mul_, lerp_, copy_ / fill) over contiguous floating `ts` of one
/// dtype on one GPU, with `others` (the same shapes, dtype and device, no partial overlap with
/// `ts`) or `scalar`: one launch per list. False where that does not hold.
pub fn foreach_apply(
    op: ForeachOp,
    ts: &[Tensor],
    others: Option<&[Tensor]>,
    alpha: f64,
    scalar: f64,
) -> Result<bool> {
    let Some(gpu) = ts.first().and_then(|t| gpu_for(t, "optim")) else {
        return Ok(false);
    };
    let (dt, device) = (ts[0].dtype, ts[0].device());
    let Some(sfx) = suffix(dt).filter(|_| dt.is_float()) else {
        return Ok(false);
    };
    let fits = |t: &Tensor| t.dtype == dt && t.device() == device && t.is_contiguous();
    if ts.iter().any(|t| !fits(t)) {
        return Ok(false);
    }
    if let Some(o) = others {
        // another view into a tensor's storage at another offset would race with its writes
        let apart = |o: &Tensor, t: &Tensor| {
            !std::sync::Arc::ptr_eq(&o.storage, &t.storage)
                || o.device_data_ptr() == t.device_data_ptr()
        };
        if o.len() != ts.len()
            || o.iter()
                .zip(ts)
                .any(|(o, t)| !fits(o) || o.shape() != t.shape() || !apart(o, t))
        {
            return Ok(false);
        }
    }
    let entries = ts
        .iter()
        .enumerate()
        .map(|(k, t)| (t, others.map(|o| &o[k]), [None; 3], [0.0; 3]));
    let scalars = |l: Launch| l.i32(op as i32).f64(alpha).f64(scalar);
    launch_lists(gpu, &format!("foreach_apply_{}", sfx), &scalars, entries)?;
    Ok(true)
}
