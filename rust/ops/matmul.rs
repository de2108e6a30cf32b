//! Matrix products. One batched kernel (the `gemm` crate for f32/f64/f16, bf16 through f32,
//! a plain loop for integers); matmul's rank cases are reshapes around it, so autograd only
//! needs the formulas of `mm` and `bmm`.

use crate::autograd::{needs_grad, record1, Saved};
use crate::tensor::{fmt_shape, DType, Device, Result, Tensor};
use gemm::{gemm, Parallelism};
use half::f16;
use rayon::prelude::*;

/// Products of at least this many multiply-adds copy a column-major right operand row-major first.
pub(crate) const TRANSPOSE_RHS_MIN: usize = 32 * 32 * 32;

fn type_title(t: &Tensor) -> &'static str {
    crate::ops::dtype_title(t.dtype)
}

/// out[b] = a[b] @ b[b] for 3-D operands of one dtype (any strides); returns a fresh contiguous tensor.
fn bmm_kernel(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (nb, n, k) = (a.shape()[0], a.shape()[1], a.shape()[2]);
    let m = b.shape()[2];
    let dev = Device::same(&[a, b])?;
    if nb * n * m == 0 || k == 0 {
        return Tensor::zeros(&[nb, n, m], a.dtype, dev);
    }
    // gemm computes dst = alpha·dst + beta·lhs·rhs; with alpha = 0 and read_dst = false it never
    // reads dst, so the output needs no zero-fill (integers and bf16 below build their own)
    #[cfg(feature = "cuda")]
    if let Device::Cuda(i) = dev {
        let out = Tensor::empty(&[nb, n, m], a.dtype, dev)?;
        if crate::cuda::blas::bmm(crate::cuda::device::gpu(i)?, &out, a, b)? {
            return Ok(out);
        }
    }
    // the gemm crate packs a column-major right operand (x @ w.t()) about 2x slower than a
    // row-major one: past tiny sizes a transposed copy first is cheaper
    let b_col_major = b.strides()[1] == 1 && b.strides()[2] != 1 && m > 1;
    let host_float = matches!(a.dtype, DType::F32 | DType::F64) && !dev.is_cuda();
    if b_col_major && host_float && nb * n * m * k >= TRANSPOSE_RHS_MIN {
        return bmm_kernel(a, &b.clone_contiguous()?);
    }
    let out = if matches!(a.dtype, DType::F32 | DType::F64 | DType::F16) {
        Tensor::empty(&[nb, n, m], a.dtype, dev)?
    } else {
        Tensor::zeros(&[nb, n, m], a.dtype, dev)?
    };
    let threads = super::threads::get_num_threads();
    let work = n * m * k;
    let par_batch = nb >= threads && work < 64 * 64 * 64 && threads > 1;
    let par = if !par_batch && work >= 48 * 48 * 48 && threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    let (sa, sb) = (a.strides().to_vec(), b.strides().to_vec());
    let (pa, pb, po) = (
        a.data_ptr() as usize,
        b.data_ptr() as usize,
        out.data_ptr() as usize,
    );

    macro_rules! run_gemm {
        ($T:ty, $zero:expr, $one:expr) => {{
            let sz = std::mem::size_of::<$T>();
            let one_batch = |i: usize, par: Parallelism| unsafe {
                gemm::<$T>(
                    n,
                    m,
                    k,
                    (po + i * n * m * sz) as *mut $T,
                    1,
                    m as isize,
                    false,
                    (pa + i * sa[0] * sz) as *const $T,
                    sa[2] as isize,
                    sa[1] as isize,
                    (pb + i * sb[0] * sz) as *const $T,
                    sb[2] as isize,
                    sb[1] as isize,
                    $zero,
                    $one,
                    false,
                    false,
                    false,
                    par,
                )
            };
            if par_batch {
                (0..nb)
                    .into_par_iter()
                    .for_each(|i| one_batch(i, Parallelism::None));
            } else {
                (0..nb).for_each(|i| one_batch(i, par));
            }
        }};
    }
    match a.dtype {
        DType::F32 => run_gemm!(f32, 0.0f32, 1.0f32),
        DType::F64 => run_gemm!(f64, 0.0f64, 1.0f64),
        DType::F16 => run_gemm!(f16, f16::ZERO, f16::ONE),
        DType::BF16 => {
            let r = bmm_kernel(&a.cast_raw(DType::F32)?, &b.cast_raw(DType::F32)?)?;
            return r.cast_raw(DType::BF16);
        }
        _ => {
            let (av, bv) = (a.to_vec::<i64>(), b.to_vec::<i64>());
            let mut o = vec![0i64; nb * n * m];
            for bi in 0..nb {
                for i in 0..n {
                    for p in 0..k {
                        let x = av[(bi * n + i) * k + p];
                        for j in 0..m {
                            o[(bi * n + i) * m + j] = o[(bi * n + i) * m + j]
                                .wrapping_add(x.wrapping_mul(bv[(bi * k + p) * m + j]));
                        }
                    }
                }
            }
            return Tensor::from_vec_on(&o, &[nb, n, m], dev)?.cast_raw(a.dtype);
        }
    }
    Ok(out)
}

fn check_same_dtype(op: &str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dtype != b.dtype {
        crate::bail!(
            Runtime,
            "expected m1 and m2 to have the same dtype, but got: {} != {}",
            a.dtype
                .name()
                .replace("float32", "float")
                .replace("float64", "double")
                .replace("int64", "long"),
            b.dtype
                .name()
                .replace("float32", "float")
                .replace("float64", "double")
                .replace("int64", "long")
        );
    }
    let _ = op;
    Ok(())
}

impl Tensor {
    /// `mm`: [n,k] @ [k,m].
    pub fn mm(&self, b: &Tensor) -> Result<Tensor> {
        if let Some(c) = super::autocast::lower(&[self, b])? {
            return c[0].mm(&c[1]);
        }
        if self.ndim() != 2 {
            crate::bail!(Runtime, "self must be a matrix");
        }
        if b.ndim() != 2 {
            crate::bail!(Runtime, "mat2 must be a matrix");
        }
        if self.shape()[1] != b.shape()[0] {
            crate::bail!(
                Runtime,
                "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
                self.shape()[0],
                self.shape()[1],
                b.shape()[0],
                b.shape()[1]
            );
        }
        check_same_dtype("mm", self, b)?;
        let a3 = self.with_layout(self.layout.clone()).unsqueeze_raw();
        let b3 = b.with_layout(b.layout.clone()).unsqueeze_raw();
        let out = bmm_kernel(&a3, &b3)?;
        let out = out.with_layout(crate::tensor::Layout::contiguous(&[
            self.shape()[0],
            b.shape()[1],
        ]));
        if needs_grad(&[self, b]) {
            let (sa, sb) = (Saved::new(self), Saved::new(b));
            let (ra, rb) = (self.requires_grad(), b.requires_grad());
            return Ok(record1("MmBackward0", &[self, b], out, move |g| {
                let ga = if ra {
                    Some(g.mm(&sb.get()?.t()?)?)
                } else {
                    None
                };
                let gb = if rb {
                    Some(sa.get()?.t()?.mm(g)?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            }));
        }
        Ok(out)
    }

    fn unsqueeze_raw(&self) -> Tensor {
        let mut l = self.layout.clone();
        l.shape.insert(0, 1);
        l.strides.insert(0, 0);
        self.with_layout(l)
    }

    /// `bmm`: [B,n,k] @ [B,k,m].
    pub fn bmm(&self, b: &Tensor) -> Result<Tensor> {
        if let Some(c) = super::autocast::lower(&[self, b])? {
            return c[0].bmm(&c[1]);
        }
        if self.ndim() != 3 || b.ndim() != 3 {
            crate::bail!(Runtime, "batch1 must be a 3D tensor");
        }
        if self.shape()[0] != b.shape()[0] || self.shape()[2] != b.shape()[1] {
            crate::bail!(
                Runtime,
                "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
                self.shape()[0],
                self.shape()[2],
                b.shape()[0],
                b.shape()[1]
            );
        }
        check_same_dtype("bmm", self, b)?;
        let out = bmm_kernel(self, b)?;
        if needs_grad(&[self, b]) {
            let (sa, sb) = (Saved::new(self), Saved::new(b));
            let (ra, rb) = (self.requires_grad(), b.requires_grad());
            return Ok(record1("BmmBackward0", &[self, b], out, move |g| {
                let ga = if ra {
                    Some(g.bmm(&sb.get()?.transpose(1, 2)?)?)
                } else {
                    None
                };
                let gb = if rb {
                    Some(sa.get()?.transpose(1, 2)?.bmm(g)?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            }));
        }
        Ok(out)
    }

    /// `matmul` / `@` with NumPy's rank rules and batch broadcasting.
    pub fn matmul(&self, b: &Tensor) -> Result<Tensor> {
        if let Some(c) = super::autocast::lower(&[self, b])? {
            return c[0].matmul(&c[1]);
        }
        let (da, db) = (self.ndim(), b.ndim());
        if da == 0 || db == 0 {
            crate::bail!(
                Runtime,
                "both arguments to matmul need to be at least 1D, but they are {}D and {}D",
                da,
                db
            );
        }
        let mismatch = || {
            crate::tensor::Error::Runtime(format!(
                "mat1 and mat2 shapes cannot be multiplied ({} and {})",
                fmt_shape(self.shape())
                    .replace(", ", "x")
                    .trim_matches(|c| c == '[' || c == ']'),
                fmt_shape(b.shape())
                    .replace(", ", "x")
                    .trim_matches(|c| c == '[' || c == ']')
            ))
        };
        match (da, db) {
            (1, 1) => {
                if self.shape()[0] != b.shape()[0] {
                    crate::bail!(
                        Runtime,
                        "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} elements respectively",
                        self.shape()[0], b.shape()[0], self.shape()[0], b.shape()[0]
                    );
                }
                self.dot(b)
            }
            (2, 1) => {
                if self.shape()[1] != b.shape()[0] {
                    crate::bail!(
                        Runtime,
                        "size mismatch, got input ({}), mat ({}x{}), vec ({})",
                        self.shape()[0],
                        self.shape()[0],
                        self.shape()[1],
                        b.shape()[0]
                    );
                }
                self.mm(&b.unsqueeze(1)?)?.squeeze(Some(&[-1]))
            }
            (1, 2) => {
                if self.shape()[0] != b.shape()[0] {
                    return Err(mismatch());
                }
                self.unsqueeze(0)?.mm(b)?.squeeze(Some(&[0]))
            }
            (2, 2) => self.mm(b),
            (_, 1) | (_, 2) if da >= 3 => {
                // fold the batch into rows: one big GEMM
                let k = self.shape()[da - 1];
                if k != b.shape()[0] {
                    return Err(mismatch());
                }
                let rows: usize = self.shape()[..da - 1].iter().product();
                let a2 = self.reshape(&[rows, k])?;
                let b2 = if db == 1 { b.unsqueeze(1)? } else { b.clone() };
                let r = a2.mm(&b2)?;
                let mut shape = self.shape()[..da - 1].to_vec();
                if db == 2 {
                    shape.push(b.shape()[1]);
                }
                r.reshape(&shape)
            }
            _ => {
                let a3 = if da == 1 {
                    self.unsqueeze(0)?
                } else {
                    self.clone()
                };
                let b3 = if db == 1 { b.unsqueeze(1)? } else { b.clone() };
                let (n, k) = (a3.shape()[a3.ndim() - 2], a3.shape()[a3.ndim() - 1]);
                let (k2, m) = (b3.shape()[b3.ndim() - 2], b3.shape()[b3.ndim() - 1]);
                if k != k2 {
                    return Err(mismatch());
                }
                let batch = crate::tensor::broadcast_shapes(
                    &a3.shape()[..a3.ndim() - 2],
                    &b3.shape()[..b3.ndim() - 2],
                )?;
                let nb: usize = batch.iter().product();
                let mut sa: Vec<usize> = batch.to_vec();
                sa.extend([n, k]);
                let mut sb: Vec<usize> = batch.to_vec();
                sb.extend([k, m]);
                let a_e = a3.broadcast_to(&sa)?.reshape(&[nb, n, k])?;
                let b_e = b3.broadcast_to(&sb)?.reshape(&[nb, k, m])?;
                let r = a_e.bmm(&b_e)?;
                let mut shape = batch.to_vec();
                if da > 1 {
                    shape.push(n);
                }
                if db > 1 {
                    shape.push(m);
                }
                r.reshape(&shape)
            }
        }
    }

    /// `dot` of 1-D tensors.
    pub fn dot(&self, b: &Tensor) -> Result<Tensor> {
        if self.ndim() != 1 || b.ndim() != 1 {
            crate::bail!(
                Runtime,
                "1D tensors expected, but got {}D and {}D tensors",
                self.ndim(),
                b.ndim()
            );
        }
        if self.shape()[0] != b.shape()[0] {
            crate::bail!(
                Runtime,
                "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} elements respectively",
                self.shape()[0], b.shape()[0], self.shape()[0], b.shape()[0]
            );
        }
        if self.dtype != b.dtype {
            crate::bail!(
                Runtime,
                "dot : expected both vectors to have same dtype, but found {} and {}",
                type_title(self),
                type_title(b)
            );
        }
        let out = {
            let _g = crate::autograd::GradModeGuard::new(false);
            self.mul(b)?.sum(None, false)?
        };
        if needs_grad(&[self, b]) {
            let (sa, sb) = (Saved::new(self), Saved::new(b));
            return Ok(record1("DotBackward0", &[self, b], out, move |g| {
                Ok(vec![Some(sb.get()?.mul(g)?), Some(sa.get()?.mul(g)?)])
            }));
        }
        Ok(out)
    }

    pub fn outer(&self, b: &Tensor) -> Result<Tensor> {
        self.unsqueeze(1)?.mul(&b.unsqueeze(0)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn mm_matches_naive() {
        let a = Tensor::from_vec(&[1f32, 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
        let b = Tensor::from_vec(&[7f32, 8., 9., 10., 11., 12.], &[3, 2]).unwrap();
        assert_eq!(
            a.mm(&b).unwrap().to_vec::<f32>(),
            vec![58., 64., 139., 154.]
        );
        // transposed operand (strided)
        let bt = Tensor::from_vec(&[7f32, 9., 11., 8., 10., 12.], &[2, 3])
            .unwrap()
            .t()
            .unwrap();
        assert_eq!(
            a.mm(&bt).unwrap().to_vec::<f32>(),
            vec![58., 64., 139., 154.]
        );
    }
}
