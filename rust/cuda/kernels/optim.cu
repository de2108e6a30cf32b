// Fused optimizer steps over one contiguous parameter buffer (f32, f64, f16 or bf16), and
// GradScaler's unscale of one gradient, one element per iteration of a grid-stride loop. Launch
// with blockDim.x = 256 (any block size is correct) and any grid. Everything is updated in place.
//
// The arithmetic follows the host's fused update (rust/ops/optim.rs), which follows torch.optim's
// single-tensor algorithms op for op: it runs in the compute type C (f32 for f16/bf16, else T),
// state buffers and the parameter are rounded to T where PyTorch stores them, and the scalar
// coefficients (1 - dampening, lr / bias_correction1, ...) are formed in double, then rounded to C,
// as PyTorch passes Python floats to its kernels. Nullable buffers select the variant.
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
//   adagrad_<dt>(T* p, const T* g, T* sum, i64 n, double clr, double eps, double weight_decay,
//                int maximize)                         clr = lr / (1 + (step - 1) * lr_decay)
//   rmsprop_<dt>(T* p, const T* g, T* square_avg, T* momentum_buf, T* grad_avg, i64 n, double lr,
//                double alpha, double eps, double weight_decay, double momentum, int maximize)
//       momentum_buf non-null: momentum > 0; grad_avg non-null: centered.
//   adadelta_<dt>(T* p, const T* g, T* square_avg, T* acc_delta, i64 n, double lr, double rho,
//                 double eps, double weight_decay, int maximize)
//   adamax_<dt>(T* p, const T* g, T* exp_avg, T* exp_inf, i64 n, double clr, double beta1,
//               double beta2, double eps, double weight_decay, int maximize)
//                                                      clr = lr / (1 - beta1^step)
//   nadam_<dt>(T* p, const T* g, T* exp_avg, T* exp_avg_sq, i64 n, double lr, double beta1,
//              double beta2, double eps, double weight_decay, int decoupled, int maximize,
//              double bias_correction2, double grad_coef, double exp_avg_coef)
//   radam_<dt>(T* p, const T* g, T* exp_avg, T* exp_avg_sq, i64 n, double lr, double beta1,
//              double beta2, double eps, double weight_decay, int decoupled, int maximize,
//              double bias_correction1, double bias_correction2, double rect)
//       rect == 0: the unrectified step p -= exp_avg / bias_correction1 * lr.
//
//   unscale_grad_<dt>(T* g, i64 n, double inv_scale, float* found_inf)
//       g *= inv_scale in place (halves in f32); *found_inf = 1 where g held an inf or NaN (tested
//       before the multiply, as PyTorch's _amp_foreach_non_finite_check_and_unscale_).

// torch.lerp's formula (two branches keep it exact at both ends).
template <class C> __device__ __forceinline__ C lerp_exact(C self, C end, C w) {
    return (w < (C)0.5 && w > (C)-0.5) ? self + w * (end - self) : end - (end - self) * ((C)1 - w);
}

__device__ __forceinline__ float sqrt_t(float x) { return sqrtf(x); }
__device__ __forceinline__ double sqrt_t(double x) { return sqrt(x); }
__device__ __forceinline__ float abs_t(float x) { return fabsf(x); }
__device__ __forceinline__ double abs_t(double x) { return fabs(x); }

// A stored element read into, and rounded back from, the compute type.
#define LD(buf) to_compute((buf)[i])
#define ST(buf, v) ((buf)[i] = from_compute<T>(v))

// The first lines of every update: d = (maximize ? -g : g) + wd * p (no term when wd == 0).
template <class T, class C> __device__ __forceinline__ C load_grad(T g, C p, int maximize, C wd, bool has_wd) {
    C d = maximize ? -to_compute(g) : to_compute(g);
    return has_wd ? d + wd * p : d;
}

// The start shared by Adam, NAdam and RAdam: weight decay (decoupled: p *= 1 - lr * wd, stored),
// then exp_avg = lerp(exp_avg, d, 1 - beta1) and exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * d².
// Returns d; p, m and v come back as the rounded stored values.
template <class C> struct MomentCoefs {
    C wd, decay, one_minus_beta1, beta2, one_minus_beta2;
    bool has_wd, decoupled;
    __device__ MomentCoefs(double lr, double beta1, double b2, double weight_decay, int dec)
        : wd((C)weight_decay), decay((C)(1.0 - lr * weight_decay)), one_minus_beta1((C)(1.0 - beta1)),
          beta2((C)b2), one_minus_beta2((C)(1.0 - b2)), has_wd(weight_decay != 0.0), decoupled(dec != 0) {}
};

template <class T, class C>
__device__ __forceinline__ C moments(const MomentCoefs<C>& k, T* p, const T* g, T* exp_avg, T* exp_avg_sq, i64 i,
                                     int maximize, C& pi, C& m, C& v) {
    pi = LD(p);
    if (k.decoupled && k.has_wd) {
        ST(p, pi * k.decay);
        pi = LD(p);
    }
    const C d = load_grad(g[i], pi, maximize, k.wd, k.has_wd && !k.decoupled);
    ST(exp_avg, lerp_exact(LD(exp_avg), d, k.one_minus_beta1));
    ST(exp_avg_sq, LD(exp_avg_sq) * k.beta2 + k.one_minus_beta2 * d * d);
    m = LD(exp_avg);
    v = LD(exp_avg_sq);
    return d;
}

template <class T>
__device__ __forceinline__ void sgd(T* p, const T* g, T* buf, i64 n, double lr, double momentum, double dampening,
                                    double weight_decay, int nesterov, int maximize, int first_step) {
    typedef typename Compute<T>::type C;
    const C wd = (C)weight_decay, mom = (C)momentum, one_minus_damp = (C)(1.0 - dampening), lr_c = (C)lr;
    const bool use_buf = momentum != 0.0 && buf, has_wd = weight_decay != 0.0;
    GRID_STRIDE_LOOP(i, n) {
        const C pi = LD(p);
        C d = load_grad(g[i], pi, maximize, wd, has_wd);
        if (use_buf) {
            ST(buf, first_step ? d : LD(buf) * mom + one_minus_damp * d);
            const C b = LD(buf);
            d = nesterov ? d + mom * b : b;
        }
        ST(p, pi - lr_c * d);
    }
}

template <class T>
__device__ __forceinline__ void adam(T* p, const T* g, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, i64 n, double lr,
                                     double beta1, double beta2, double eps, double weight_decay, int decoupled,
                                     int maximize, double bias_correction1, double bias_correction2_sqrt) {
    typedef typename Compute<T>::type C;
    const MomentCoefs<C> k(lr, beta1, beta2, weight_decay, decoupled);
    const C step = (C)(lr / bias_correction1), bc2_sqrt = (C)bias_correction2_sqrt, e = (C)eps;
    GRID_STRIDE_LOOP(i, n) {
        C pi, m, v;
        moments(k, p, g, exp_avg, exp_avg_sq, i, maximize, pi, m, v);
        if (max_exp_avg_sq) {
            ST(max_exp_avg_sq, max_nan(LD(max_exp_avg_sq), v));
            v = LD(max_exp_avg_sq);
        }
        ST(p, pi - step * (m / (sqrt_t(v) / bc2_sqrt + e)));
    }
}

template <class T>
__device__ __forceinline__ void adagrad(T* p, const T* g, T* sum, i64 n, double clr, double eps, double weight_decay,
                                        int maximize) {
    typedef typename Compute<T>::type C;
    const C c = (C)clr, e = (C)eps, wd = (C)weight_decay;
    const bool has_wd = weight_decay != 0.0;
    GRID_STRIDE_LOOP(i, n) {
        const C pi = LD(p);
        const C d = load_grad(g[i], pi, maximize, wd, has_wd);
        ST(sum, LD(sum) + d * d);
        ST(p, pi - c * (d / (sqrt_t(LD(sum)) + e)));
    }
}

template <class T>
__device__ __forceinline__ void rmsprop(T* p, const T* g, T* square_avg, T* buf, T* grad_avg, i64 n, double lr,
                                        double alpha, double eps, double weight_decay, double momentum,
                                        int maximize) {
    typedef typename Compute<T>::type C;
    const C lr_c = (C)lr, a = (C)alpha, one_minus_a = (C)(1.0 - alpha), e = (C)eps, wd = (C)weight_decay;
    const C mom = (C)momentum;
    const bool has_wd = weight_decay != 0.0;
    GRID_STRIDE_LOOP(i, n) {
        const C pi = LD(p);
        C d = load_grad(g[i], pi, maximize, wd, has_wd);
        ST(square_avg, LD(square_avg) * a + one_minus_a * d * d);
        const C sq = LD(square_avg);
        if (grad_avg) {
            ST(grad_avg, lerp_exact(LD(grad_avg), d, one_minus_a));
            const C ga = LD(grad_avg);
            d = d / (sqrt_t(sq - ga * ga) + e);
        } else {
            d = d / (sqrt_t(sq) + e);
        }
        if (buf) {
            ST(buf, LD(buf) * mom + d);
            d = LD(buf);
        }
        ST(p, pi - lr_c * d);
    }
}

template <class T>
__device__ __forceinline__ void adadelta(T* p, const T* g, T* square_avg, T* acc_delta, i64 n, double lr, double rho,
                                         double eps, double weight_decay, int maximize) {
    typedef typename Compute<T>::type C;
    const C lr_c = (C)lr, r = (C)rho, one_minus_r = (C)(1.0 - rho), e = (C)eps, wd = (C)weight_decay;
    const bool has_wd = weight_decay != 0.0;
    GRID_STRIDE_LOOP(i, n) {
        const C pi = LD(p);
        C d = load_grad(g[i], pi, maximize, wd, has_wd);
        ST(square_avg, LD(square_avg) * r + one_minus_r * d * d);
        d = sqrt_t(LD(acc_delta) + e) / sqrt_t(LD(square_avg) + e) * d;  // the step, delta
        ST(acc_delta, LD(acc_delta) * r + one_minus_r * d * d);
        ST(p, pi - lr_c * d);
    }
}

template <class T>
__device__ __forceinline__ void adamax(T* p, const T* g, T* exp_avg, T* exp_inf, i64 n, double clr, double beta1,
                                       double beta2, double eps, double weight_decay, int maximize) {
    typedef typename Compute<T>::type C;
    const C c = (C)clr, one_minus_b1 = (C)(1.0 - beta1), b2 = (C)beta2, e = (C)eps, wd = (C)weight_decay;
    const bool has_wd = weight_decay != 0.0;
    GRID_STRIDE_LOOP(i, n) {
        const C pi = LD(p);
        const C d = load_grad(g[i], pi, maximize, wd, has_wd);
        ST(exp_avg, lerp_exact(LD(exp_avg), d, one_minus_b1));
        ST(exp_inf, max_nan(LD(exp_inf) * b2, abs_t(d) + e));
        ST(p, pi - c * (LD(exp_avg) / LD(exp_inf)));
    }
}

template <class T>
__device__ __forceinline__ void nadam(T* p, const T* g, T* exp_avg, T* exp_avg_sq, i64 n, double lr, double beta1,
                                      double beta2, double eps, double weight_decay, int decoupled, int maximize,
                                      double bias_correction2, double grad_coef, double exp_avg_coef) {
    typedef typename Compute<T>::type C;
    const MomentCoefs<C> k(lr, beta1, beta2, weight_decay, decoupled);
    const C bc2 = (C)bias_correction2, gc = (C)grad_coef, mc = (C)exp_avg_coef, e = (C)eps;
    GRID_STRIDE_LOOP(i, n) {
        C pi, m, v;
        const C d = moments(k, p, g, exp_avg, exp_avg_sq, i, maximize, pi, m, v);
        const C denom = sqrt_t(v / bc2) + e;
        ST(p, pi + gc * (d / denom));  // PyTorch's two addcdiv_ calls, each rounded to T
        ST(p, LD(p) + mc * (m / denom));
    }
}

template <class T>
__device__ __forceinline__ void radam(T* p, const T* g, T* exp_avg, T* exp_avg_sq, i64 n, double lr, double beta1,
                                      double beta2, double eps, double weight_decay, int decoupled, int maximize,
                                      double bias_correction1, double bias_correction2, double rect) {
    typedef typename Compute<T>::type C;
    const MomentCoefs<C> k(lr, beta1, beta2, weight_decay, decoupled);
    const C bc1 = (C)bias_correction1, bc2_sqrt = (C)sqrt(bias_correction2), r = (C)rect, lr_c = (C)lr,
            e = (C)eps;
    GRID_STRIDE_LOOP(i, n) {
        C pi, m, v;
        moments(k, p, g, exp_avg, exp_avg_sq, i, maximize, pi, m, v);
        if (rect != 0.0) ST(p, pi - m / bc1 * lr_c * (bc2_sqrt / (sqrt_t(v) + e)) * r);
        else ST(p, pi - m / bc1 * lr_c);
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
    }                                                                                                 \
    extern "C" __global__ void adagrad_##T(T* p, const T* g, T* sum, i64 n, double clr, double eps,  \
                                           double weight_decay, int maximize) {                       \
        adagrad(p, g, sum, n, clr, eps, weight_decay, maximize);                                      \
    }                                                                                                 \
    extern "C" __global__ void rmsprop_##T(T* p, const T* g, T* square_avg, T* momentum_buf,         \
                                           T* grad_avg, i64 n, double lr, double alpha, double eps,   \
                                           double weight_decay, double momentum, int maximize) {      \
        rmsprop(p, g, square_avg, momentum_buf, grad_avg, n, lr, alpha, eps, weight_decay, momentum,  \
                maximize);                                                                            \
    }                                                                                                 \
    extern "C" __global__ void adadelta_##T(T* p, const T* g, T* square_avg, T* acc_delta, i64 n,    \
                                            double lr, double rho, double eps, double weight_decay,   \
                                            int maximize) {                                           \
        adadelta(p, g, square_avg, acc_delta, n, lr, rho, eps, weight_decay, maximize);               \
    }                                                                                                 \
    extern "C" __global__ void adamax_##T(T* p, const T* g, T* exp_avg, T* exp_inf, i64 n,           \
                                          double clr, double beta1, double beta2, double eps,         \
                                          double weight_decay, int maximize) {                        \
        adamax(p, g, exp_avg, exp_inf, n, clr, beta1, beta2, eps, weight_decay, maximize);            \
    }                                                                                                 \
    extern "C" __global__ void nadam_##T(T* p, const T* g, T* exp_avg, T* exp_avg_sq, i64 n,         \
                                         double lr, double beta1, double beta2, double eps,           \
                                         double weight_decay, int decoupled, int maximize,            \
                                         double bias_correction2, double grad_coef,                   \
                                         double exp_avg_coef) {                                       \
        nadam(p, g, exp_avg, exp_avg_sq, n, lr, beta1, beta2, eps, weight_decay, decoupled, maximize, \
              bias_correction2, grad_coef, exp_avg_coef);                                             \
    }                                                                                                 \
    extern "C" __global__ void radam_##T(T* p, const T* g, T* exp_avg, T* exp_avg_sq, i64 n,         \
                                         double lr, double beta1, double beta2, double eps,           \
                                         double weight_decay, int decoupled, int maximize,            \
                                         double bias_correction1, double bias_correction2,            \
                                         double rect) {                                               \
        radam(p, g, exp_avg, exp_avg_sq, n, lr, beta1, beta2, eps, weight_decay, decoupled, maximize, \
              bias_correction1, bias_correction2, rect);                                              \
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
OPTIM_KERNELS(f16)
OPTIM_KERNELS(bf16)
UNSCALE_KERNEL(f32)
UNSCALE_KERNEL(f64)
UNSCALE_KERNEL(f16)
UNSCALE_KERNEL(bf16)
