//! `torch._amp_foreach_non_finite_check_and_unscale_`: GradScaler's unscale of every gradient in
//! one pass each (one kernel per gradient on a GPU instead of a multiply, a finiteness test, a
//! reduction and an accumulation), noting an inf or NaN in a one-element flag on the device.

use super::iter::PAR_THRESHOLD;
use crate::tensor::{DType, Device, FloatElem, Result, Tensor};
use num_traits::Float;
use rayon::prelude::*;

/// `g *= inv_scale` for every gradient, in place; `found_inf` (a one-element float32 tensor on
/// the gradients' device) is set to 1 where a gradient held an inf or NaN, and left as it was
/// otherwise (PyTorch's semantics: the scaler zeroes it once per step).
pub fn unscale_grads(grads: &[Tensor], found_inf: &Tensor, inv_scale: f64) -> Result<()> {
    if found_inf.numel() != 1 || found_inf.dtype != DType::F32 {
        crate::bail!(
            Runtime,
            "found_inf must be a 1-element float tensor, got {} elements of {}",
            found_inf.numel(),
            found_inf.dtype.name()
        );
    }
    let mut all: Vec<&Tensor> = grads.iter().collect();
    all.push(found_inf);
    Device::same(&all)?;
    for (i, g) in grads.iter().enumerate() {
        if !g.dtype.is_float() || !g.is_contiguous() {
            crate::bail!(
                Runtime,
                "_amp_foreach_non_finite_check_and_unscale_: gradient {} must be a contiguous floating tensor, got {}{}",
                i,
                g.dtype.name(),
                if g.is_contiguous() { "" } else { " (not contiguous)" }
            );
        }
    }
    let took = kernel_took!(
        found_inf,
        crate::cuda::optim::unscale_grads(grads, found_inf, inv_scale)
    );
    if !took {
        let mut found = false;
        for g in grads {
            found |= crate::dispatch_float!(g.dtype, T => unscale::<T>(g, inv_scale), _ => unreachable!());
        }
        if found {
            // SAFETY: found_inf holds one f32 (checked above).
            unsafe { *(found_inf.data_ptr() as *mut f32) = 1.0 };
        }
    }
    grads.iter().for_each(|g| g.bump_version());
    found_inf.bump_version();
    Ok(())
}

/// Unscales one contiguous gradient in place; whether it held a non-finite value (tested before
/// the multiply, as PyTorch's kernel does).
fn unscale<T: FloatElem>(g: &Tensor, inv_scale: f64) -> bool {
    let n = g.numel();
    // SAFETY: g is contiguous with n elements of T; nothing else reads it during the call.
    let data = unsafe { std::slice::from_raw_parts_mut(g.data_ptr() as *mut T, n) };
    let inv = <T::C as num_traits::NumCast>::from(inv_scale).unwrap_or_else(T::C::nan);
    let pass = |chunk: &mut [T]| {
        let bad = chunk.iter().any(|v| !v.to_c().is_finite());
        chunk
            .iter_mut()
            .for_each(|v| *v = T::from_c(v.to_c() * inv));
        bad
    };
    if n >= PAR_THRESHOLD && super::threads::get_num_threads() > 1 {
        data.par_chunks_mut(PAR_THRESHOLD)
            .map(pass)
            .reduce(|| false, |a, b| a | b)
    } else {
        pass(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unscales_and_flags_non_finite() {
        let g = Tensor::from_vec(&[2.0f32, -4.0, 8.0], &[3]).unwrap();
        let h = Tensor::from_vec(&[1.0f64, f64::INFINITY], &[2]).unwrap();
        let found = Tensor::zeros(&[1], DType::F32, Device::Cpu).unwrap();
        unscale_grads(std::slice::from_ref(&g), &found, 0.5).unwrap();
        assert_eq!(g.to_vec::<f32>(), vec![1.0, -2.0, 4.0]);
        assert_eq!(found.to_vec::<f32>(), vec![0.0]);
        unscale_grads(&[g.clone(), h.clone()], &found, 0.5).unwrap();
        assert_eq!(found.to_vec::<f32>(), vec![1.0]);
        assert_eq!(h.to_vec::<f64>(), vec![0.5, f64::INFINITY]);
    }

    #[test]
    fn rejects_a_bad_flag_or_integer_grad() {
        let g = Tensor::from_vec(&[1i64], &[1]).unwrap();
        let flag = Tensor::zeros(&[1], DType::F32, Device::Cpu).unwrap();
        let two = Tensor::zeros(&[2], DType::F32, Device::Cpu).unwrap();
        assert!(unscale_grads(&[], &two, 1.0).is_err());
        assert!(unscale_grads(&[g], &flag, 1.0).is_err());
    }
}
