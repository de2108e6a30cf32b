//! Random numbers: a seedable generator (xoshiro256**), the global default one (`manual_seed`),
//! and the sampling kernels behind rand/randn/randint/randperm/normal/bernoulli/multinomial.

use crate::tensor::{DType, Result, Tensor};
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone)]
pub struct Rng {
    s: [u64; 4],
    seed: u64,
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        Rng {
            s: [
                splitmix(&mut x),
                splitmix(&mut x),
                splitmix(&mut x),
                splitmix(&mut x),
            ],
            seed,
        }
    }
    pub fn initial_seed(&self) -> u64 {
        self.seed
    }
    pub fn state(&self) -> [u64; 4] {
        self.s
    }
    pub fn set_state(&mut self, s: [u64; 4]) {
        self.s = s;
    }
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }
    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    pub fn normal(&mut self) -> f64 {
        // Box-Muller; 1 - u keeps the log away from 0
        let (u1, u2) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

pub type Generator = Arc<Mutex<Rng>>;

/// The default generator (`torch.manual_seed`).
pub fn default_generator() -> &'static Generator {
    static G: OnceLock<Generator> = OnceLock::new();
    G.get_or_init(|| {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(67280421310721);
        Arc::new(Mutex::new(Rng::new(seed)))
    })
}

/// `torch.manual_seed`: the CPU generator and the CUDA one.
pub fn manual_seed(seed: u64) {
    *default_generator()
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Rng::new(seed);
    #[cfg(feature = "cuda")]
    crate::cuda::ops::manual_seed(seed);
}

/// Samples for a CUDA tensor from the CUDA generator, as a kernel (false: not taken here).
fn device_random(t: &Tensor, normal: bool, a: f64, b: f64) -> Result<bool> {
    #[cfg(feature = "cuda")]
    if t.device().is_cuda() && crate::cuda::ops::random_fill(t, normal, a, b)? {
        t.bump_version();
        return Ok(true);
    }
    let _ = (t, normal, a, b);
    Ok(false)
}

fn with_rng<R>(g: Option<&Generator>, f: impl FnOnce(&mut Rng) -> R) -> R {
    let g = g.unwrap_or_else(|| default_generator());
    let mut r = g.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut r)
}

/// Fills `t` (any layout) in place with samples from `sample`.
fn fill_with(
    t: &Tensor,
    g: Option<&Generator>,
    mut sample: impl FnMut(&mut Rng) -> f64,
) -> Result<()> {
    let n = t.numel();
    let vals: Vec<f64> = with_rng(g, |r| (0..n).map(|_| sample(r)).collect());
    let src = Tensor::from_vec(&vals, t.shape())?;
    t.copy_raw(&src)?;
    t.bump_version();
    Ok(())
}

impl Tensor {
    pub fn uniform_(&self, low: f64, high: f64, g: Option<&Generator>) -> Result<()> {
        if g.is_none() && device_random(self, false, low, high)? {
            return Ok(());
        }
        fill_with(self, g, |r| low + (high - low) * r.uniform())
    }
    pub fn normal_(&self, mean: f64, std: f64, g: Option<&Generator>) -> Result<()> {
        if g.is_none() && device_random(self, true, mean, std)? {
            return Ok(());
        }
        fill_with(self, g, |r| mean + std * r.normal())
    }
    /// Integers in [low, high).
    pub fn random_int_(&self, low: i64, high: i64, g: Option<&Generator>) -> Result<()> {
        if high <= low {
            crate::bail!(
                Runtime,
                "random_ expects 'from' to be less than 'to', but got from={} >= to={}",
                low,
                high
            );
        }
        let range = high.wrapping_sub(low) as u64;
        if g.is_none() && kernel_took!(self, crate::cuda::ops::random_int_fill(self, low, range)) {
            self.bump_version();
            return Ok(());
        }
        let n = self.numel();
        let vals: Vec<i64> = with_rng(g, |r| (0..n).map(|_| low + r.below(range) as i64).collect());
        self.copy_raw(&Tensor::from_vec(&vals, self.shape())?)?;
        self.bump_version();
        Ok(())
    }
    pub fn bernoulli_scalar_(&self, p: f64, g: Option<&Generator>) -> Result<()> {
        if !(0.0..=1.0).contains(&p) {
            crate::bail!(
                Runtime,
                "bernoulli_ expects p to be in [0, 1], but got p={}",
                p
            );
        }
        fill_with(self, g, |r| (r.uniform() < p) as u8 as f64)
    }
    pub fn exponential_(&self, lambd: f64, g: Option<&Generator>) -> Result<()> {
        fill_with(self, g, |r| -(1.0 - r.uniform()).ln() / lambd)
    }

    /// `bernoulli(self)`: self holds the probabilities.
    pub fn bernoulli(&self, g: Option<&Generator>) -> Result<Tensor> {
        let p = self.to_vec::<f64>();
        if p.iter().any(|&x| !(0.0..=1.0).contains(&x)) {
            crate::bail!(
                Runtime,
                "Expected p_in >= 0 && p_in <= 1 to be true, but got false."
            );
        }
        let vals: Vec<f64> = with_rng(g, |r| {
            p.iter().map(|&q| (r.uniform() < q) as u8 as f64).collect()
        });
        Tensor::from_vec_on(&vals, self.shape(), self.device())?.cast_raw(self.dtype)
    }

    pub fn randperm(n: usize, dtype: DType, g: Option<&Generator>) -> Result<Tensor> {
        let mut v: Vec<i64> = (0..n as i64).collect();
        with_rng(g, |r| {
            for i in (1..n).rev() {
                let j = r.below(i as u64 + 1) as usize;
                v.swap(i, j);
            }
        });
        Tensor::from_vec(&v, &[n])?.cast_raw(dtype)
    }

    /// `multinomial(num_samples, replacement)` over the last dim of a 1-D or 2-D tensor of weights.
    pub fn multinomial(
        &self,
        num_samples: usize,
        replacement: bool,
        g: Option<&Generator>,
    ) -> Result<Tensor> {
        if self.ndim() == 0 || self.ndim() > 2 {
            crate::bail!(Runtime, "prob_dist must be 1 or 2 dim");
        }
        let rows = if self.ndim() == 2 { self.shape()[0] } else { 1 };
        let cats = self.shape()[self.ndim() - 1];
        if !replacement && num_samples > cats {
            crate::bail!(
                Runtime,
                "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
            );
        }
        let w = self.to_vec::<f64>();
        if w.iter().any(|&x| x < 0.0 || !x.is_finite()) {
            crate::bail!(
                Runtime,
                "probability tensor contains either `inf`, `nan` or element < 0"
            );
        }
        let mut out = Vec::with_capacity(rows * num_samples);
        with_rng(g, |r| -> Result<()> {
            for row in 0..rows {
                let mut ws: Vec<f64> = w[row * cats..(row + 1) * cats].to_vec();
                for _ in 0..num_samples {
                    let total: f64 = ws.iter().sum();
                    if total <= 0.0 {
                        crate::bail!(
                            Runtime,
                            "invalid multinomial distribution (sum of probabilities <= 0)"
                        );
                    }
                    let mut u = r.uniform() * total;
                    let mut pick = cats - 1;
                    for (j, &x) in ws.iter().enumerate() {
                        if u < x {
                            pick = j;
                            break;
                        }
                        u -= x;
                    }
                    while ws[pick] == 0.0 && pick > 0 {
                        pick -= 1;
                    }
                    out.push(pick as i64);
                    if !replacement {
                        ws[pick] = 0.0;
                    }
                }
            }
            Ok(())
        })?;
        let shape: Vec<usize> = if self.ndim() == 2 {
            vec![rows, num_samples]
        } else {
            vec![num_samples]
        };
        Tensor::from_vec_on(&out, &shape, self.device())
    }
}
