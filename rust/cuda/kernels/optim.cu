// Fused optimizer steps over one contiguous parameter buffer (f32 or f64), and GradScaler's
// unscale of one gradient, one element per
// iteration of a grid-stride loop. Launch with blockDim.x = 256 (any block size is correct) and
// any grid. Everything is updated in place.
//
// The arithmetic follows torch.optim's single-tensor/foreach algorithms op for op, in the
// parameter's dtype, with the scalar coefficients (1 - dampening, lr / bias_correction1, ...)
// formed in double first and then rounded to T, as PyTorch passes Python floats to its kernels.
//
//   sgd_<dt>(T* p, const T* g, T* momentum_buf, i64 n, double lr, double momentum,
//            double dampening, double weight_decay, int nesterov, int maximize, int first_step)
//       momentum_buf may be null when momentum == 0. first_step != 0 initialises the buffer
//       to the gradient (PyTorch's clone on the first step) instead of the momentum update.
//   adam_<dt>(T* p, const T* g, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, i64 n,
//             double lr, double beta1, double beta2, double eps, double weight_decay,
//             int decoupled, int maximize, double bias_correction1, double bias_correction2_sqrt)
//       max_exp_avg_sq non-null means amsgrad. decoupled != 0 is AdamW (p *= 1 - lr * wd).
//       bias_correction1 = 1 - beta1^step, bias_correction2_sqrt = sqrt(1 - beta2^step).

//   unscale_grad_<dt>(T* g, i64 n, double inv_scale, float* found_inf)   f32/f64/f16/bf16
//       g *= inv_scale in place (halves in f32); *found_inf = 1 where g held an inf or NaN (tested
//       before the multiply, as PyTorch's _amp_foreach_non_finite_check_and_unscale_).

// torch.lerp's formula (two branches keep it exact at both ends).
template <class T> __device__ __forceinline__ T lerp_exact(T self, T end, T w) {
    return (w < (T)0.5 && w > (T)-0.5) ? self + w * (end - self) : end - (end - self) * ((T)1 - w);
}

__device__ __forceinline__ float sqrt_t(float x) { return sqrtf(x); }
__device__ __forceinline__ double sqrt_t(double x) { return sqrt(x); }

template <class T>
__device__ __forceinline__ void sgd(T* p, const T* g, T* buf, i64 n, double lr, double momentum, double dampening,
                                    double weight_decay, int nesterov, int maximize, int first_step) {
    const T wd = (T)weight_decay, mom = (T)momentum, one_minus_damp = (T)(1.0 - dampening), neg_lr = (T)(-lr);
    const bool use_buf = momentum != 0.0 && buf;
    GRID_STRIDE_LOOP(i, n) {
        const T pi = p[i];
        T d = maximize ? -g[i] : g[i];
        if (weight_decay != 0.0) d = d + wd * pi;
        if (use_buf) {
            const T b = first_step ? d : buf[i] * mom + one_minus_damp * d;
            buf[i] = b;
            d = nesterov ? d + mom * b : b;
        }
        p[i] = pi + neg_lr * d;
    }
}

template <class T>
__device__ __forceinline__ void adam(T* p, const T* g, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, i64 n, double lr,
                                     double beta1, double beta2, double eps, double weight_decay, int decoupled,
                                     int maximize, double bias_correction1, double bias_correction2_sqrt) {
    const T wd = (T)weight_decay, decay = (T)(1.0 - lr * weight_decay);
    const T one_minus_beta1 = (T)(1.0 - beta1), b2 = (T)beta2, one_minus_beta2 = (T)(1.0 - beta2);
    const T neg_step = (T)(-(lr / bias_correction1)), bc2_sqrt = (T)bias_correction2_sqrt, e = (T)eps;
    GRID_STRIDE_LOOP(i, n) {
        T pi = p[i];
        T d = maximize ? -g[i] : g[i];
        if (weight_decay != 0.0) {
            if (decoupled) pi = pi * decay;
            else d = d + wd * pi;
        }
        const T m = lerp_exact(exp_avg[i], d, one_minus_beta1);
        const T v = exp_avg_sq[i] * b2 + one_minus_beta2 * (d * d);  // mul_(beta2).addcmul_(g, g, 1 - beta2)
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        T vmax = v;
        if (max_exp_avg_sq) {
            vmax = max_nan(max_exp_avg_sq[i], v);
            max_exp_avg_sq[i] = vmax;
        }
        const T denom = sqrt_t(vmax) / bc2_sqrt + e;
        p[i] = pi + neg_step * (m / denom);
    }
}

#define OPTIM_KERNELS(T)                                                                              \
    extern "C" __global__ void sgd_##T(T* p, const T* g, T* momentum_buf, i64 n, double lr,           \
                                       double momentum, double dampening, double weight_decay,        \
                                       int nesterov, int maximize, int first_step) {                  \
        sgd(p, g, momentum_buf, n, lr, momentum, dampening, weight_decay, nesterov, maximize,         \
            first_step);                                                                              \
    }                                                                                                 \
    extern "C" __global__ void adam_##T(T* p, const T* g, T* exp_avg, T* exp_avg_sq,                  \
                                        T* max_exp_avg_sq, i64 n, double lr, double beta1,            \
                                        double beta2, double eps, double weight_decay, int decoupled, \
                                        int maximize, double bias_correction1,                        \
                                        double bias_correction2_sqrt) {                               \
        adam(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, n, lr, beta1, beta2, eps, weight_decay,       \
             decoupled, maximize, bias_correction1, bias_correction2_sqrt);                           \
    }

template <class T> __device__ __forceinline__ void unscale_grad(T* g, i64 n, double inv_scale, float* found_inf) {
    typedef typename Compute<T>::type C;
    const C inv = (C)inv_scale;
    bool bad = false;
    GRID_STRIDE_LOOP(i, n) {
        const C v = to_compute(g[i]);
        bad |= is_nan(v - v);  // inf - inf and NaN - NaN are NaN; a finite v gives 0
        g[i] = from_compute<T>(v * inv);
    }
    if (bad) *found_inf = 1.0f;  // every writer stores the same value: no atomic needed
}

#define UNSCALE_KERNEL(T)                                                                               \
    extern "C" __global__ void unscale_grad_##T(T* g, i64 n, double inv_scale, float* found_inf) {   \
        unscale_grad(g, n, inv_scale, found_inf);                                                      \
    }

OPTIM_KERNELS(f32)
OPTIM_KERNELS(f64)
UNSCALE_KERNEL(f32)
UNSCALE_KERNEL(f64)
UNSCALE_KERNEL(f16)
UNSCALE_KERNEL(bf16)
