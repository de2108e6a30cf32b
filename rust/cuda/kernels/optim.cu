// Fused optimizer steps, GradScaler's unscale and the per-tensor norms and scaling of
// clip_grad_norm_ over a list of up to TL_MAX contiguous tensors
// (f32, f64, f16 or bf16) in one launch, as PyTorch's multi_tensor_apply: the elements of the
// list, end to end, are cut into chunks of TL_CHUNK and each block takes chunks in turn. Launch
// with any blockDim.x and any grid (ceil(total / TL_CHUNK) blocks covers every chunk once).
// Everything is updated in place.
//
// The arithmetic follows the host's fused update (rust/ops/optim.rs), which follows torch.optim's
// single-tensor algorithms op for op: it runs in the compute type C (f32 for f16/bf16, else T),
// state buffers and the parameter are rounded to T where PyTorch stores them, and the scalar
// coefficients (1 - dampening, lr / bias_correction1, ...) are formed in double, then rounded to C,
// as PyTorch passes Python floats to its kernels. A null state pointer selects the variant.
//
// TensorList l: p[t] the parameter (the gradient for unscale_grad), g[t] its gradient, s[k][t] its
// k-th state buffer, c[k][t] its k-th per-tensor coefficient, start[t] the offset of tensor t's
// first element in the list (start[count] = total). Per kernel:
//
//   sgd_<dt>(l, double lr, double momentum, double dampening, double weight_decay, int nesterov,
//            int maximize)                      s0 momentum_buffer (null when momentum == 0);
//       c0 != 0: the first step, which sets the buffer to the gradient (PyTorch's clone).
//   adam_<dt>(l, double lr, double beta1, double beta2, double eps, double weight_decay,
//             int decoupled, int maximize)     s0 exp_avg, s1 exp_avg_sq, s2 max_exp_avg_sq
//       (non-null: amsgrad); c0 step_size = lr / (1 - beta1^step), c1 sqrt(1 - beta2^step).
//       decoupled != 0 is AdamW (p *= 1 - lr * wd).
//   adagrad_<dt>(l, double eps, double weight_decay, int maximize)
//       s0 sum; c0 clr = lr / (1 + (step - 1) * lr_decay).
//   rmsprop_<dt>(l, double lr, double alpha, double eps, double weight_decay, double momentum,
//                int maximize)                  s0 square_avg, s1 momentum_buffer, s2 grad_avg
//       (s1 non-null: momentum > 0; s2 non-null: centered).
//   adadelta_<dt>(l, double lr, double rho, double eps, double weight_decay, int maximize)
//       s0 square_avg, s1 acc_delta.
//   adamax_<dt>(l, double beta1, double beta2, double eps, double weight_decay, int maximize)
//       s0 exp_avg, s1 exp_inf; c0 clr = lr / (1 - beta1^step).
//   nadam_<dt>(l, double lr, double beta1, double beta2, double eps, double weight_decay,
//              int decoupled, int maximize)    s0 exp_avg, s1 exp_avg_sq;
//       c0 bias_correction2, c1 grad_coef, c2 exp_avg_coef.
//   radam_<dt>(l, same scalars as nadam)        s0 exp_avg, s1 exp_avg_sq;
//       c0 bias_correction1, c1 sqrt(bias_correction2), c2 rect (0: the unrectified p -= m / bc1 * lr).
//
//   unscale_grad_<dt>(l, double inv_scale, float* found_inf)    p[t] the gradients
//       g *= inv_scale in place (halves in f32); *found_inf = 1 where g held an inf or NaN (tested
//       before the multiply, as PyTorch's _amp_foreach_non_finite_check_and_unscale_).
//   scale_by_<dt>(l, const T* factor)                            p[t] the tensors
//       x *= *factor in place (halves in f32), as torch._foreach_mul_ with a device scalar.
//   foreach_apply_<dt>(l, int op, double alpha, double scalar)    p[t] self, g[t] other (or null)
//       in place, o = other[i] or scalar when other is null, in the compute type:
//       op 0 add_: x + alpha * o;  1 mul_: x * o;  2 lerp_: lerp(x, other, weight = scalar);
//       3 copy_ / fill: o.
//
// Per-tensor norms (torch._foreach_norm), in two launches that chunk each tensor on its own:
//   tensor_norms_partial_<dt>(l, int ord, A* partial)   any grid
//       partial[k] = the sum of |x| (ord 1), of x² (ord 2) or the max of |x| (ord -1: inf) over
//       chunk k, chunks numbered tensor after tensor (ceil(n_t / TL_CHUNK) each); A is f64 for
//       f64 tensors, else f32.
//   tensor_norms_finish_<dt>(l, int ord, const A* partial, T* out)   any grid
//       out[t] = the norm of tensor t (0 for an empty one), folding its chunks in order.

#define TL_MAX 32
#define TL_CHUNK 4096

// Mirrored by TensorList in rust/cuda/optim.rs (2320 bytes, under the 4 KiB of kernel parameters).
struct TensorList {
    u64 p[TL_MAX];
    u64 g[TL_MAX];
    u64 s[3][TL_MAX];
    i64 start[TL_MAX + 1];
    double c[3][TL_MAX];
    int count;
};

// Calls f(t, i) for element i of tensor t, for every element of the list once over the grid.
template <class F> __device__ __forceinline__ void for_each_element(const TensorList& l, F f) {
    const i64 total = l.start[l.count];
    for (i64 lo = (i64)blockIdx.x * TL_CHUNK; lo < total; lo += (i64)gridDim.x * TL_CHUNK) {
        const i64 hi = lo + TL_CHUNK < total ? lo + TL_CHUNK : total;
        int t = 0;
        while (l.start[t + 1] <= lo) ++t;
        for (i64 j = lo + threadIdx.x; j < hi; j += blockDim.x) {
            while (l.start[t + 1] <= j) ++t;  // j only grows: t moves forward across tensor ends
            f(t, j - l.start[t]);
        }
    }
}

// torch.lerp's formula (two branches keep it exact at both ends).
template <class C> __device__ __forceinline__ C lerp_exact(C self, C end, C w) {
    return (w < (C)0.5 && w > (C)-0.5) ? self + w * (end - self) : end - (end - self) * ((C)1 - w);
}

__device__ __forceinline__ float sqrt_t(float x) { return sqrtf(x); }
__device__ __forceinline__ double sqrt_t(double x) { return sqrt(x); }
__device__ __forceinline__ float abs_t(float x) { return fabsf(x); }
__device__ __forceinline__ double abs_t(double x) { return fabs(x); }

// Tensor t's buffers, typed; a stored element read into, and rounded back from, the compute type.
#define BUF(field) ((T*)(field)[t])
#define LD(buf) to_compute((buf)[i])
#define ST(buf, v) ((buf)[i] = from_compute<T>(v))

// The first lines of every update: d = (maximize ? -g : g) + wd * p (no term when wd == 0).
template <class T, class C> __device__ __forceinline__ C load_grad(T g, C p, int maximize, C wd, bool has_wd) {
    C d = maximize ? -to_compute(g) : to_compute(g);
    return has_wd ? d + wd * p : d;
}

// The start shared by Adam, NAdam and RAdam: weight decay (decoupled: p *= 1 - lr * wd, stored),
// then exp_avg = lerp(exp_avg, d, 1 - beta1) and exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * d².
template <class C> struct MomentCoefs {
    C wd, decay, one_minus_beta1, beta2, one_minus_beta2;
    bool has_wd, decoupled;
    __device__ MomentCoefs(double lr, double beta1, double b2, double weight_decay, int dec)
        : wd((C)weight_decay), decay((C)(1.0 - lr * weight_decay)), one_minus_beta1((C)(1.0 - beta1)),
          beta2((C)b2), one_minus_beta2((C)(1.0 - b2)), has_wd(weight_decay != 0.0), decoupled(dec != 0) {}
};

// Returns d; pi, m and v come back as the rounded stored values.
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
__device__ __forceinline__ void sgd(const TensorList& l, double lr, double momentum, double dampening,
                                    double weight_decay, int nesterov, int maximize) {
    typedef typename Compute<T>::type C;
    const C wd = (C)weight_decay, mom = (C)momentum, one_minus_damp = (C)(1.0 - dampening), lr_c = (C)lr;
    const bool has_wd = weight_decay != 0.0;
    for_each_element(l, [&](int t, i64 i) {
        T *p = BUF(l.p), *buf = momentum != 0.0 ? BUF(l.s[0]) : nullptr;
        const C pi = LD(p);
        C d = load_grad(BUF(l.g)[i], pi, maximize, wd, has_wd);
        if (buf) {
            ST(buf, l.c[0][t] != 0.0 ? d : LD(buf) * mom + one_minus_damp * d);
            const C b = LD(buf);
            d = nesterov ? d + mom * b : b;
        }
        ST(p, pi - lr_c * d);
    });
}

template <class T>
__device__ __forceinline__ void adam(const TensorList& l, double lr, double beta1, double beta2, double eps,
                                     double weight_decay, int decoupled, int maximize) {
    typedef typename Compute<T>::type C;
    const MomentCoefs<C> k(lr, beta1, beta2, weight_decay, decoupled);
    const C e = (C)eps;
    for_each_element(l, [&](int t, i64 i) {
        T *p = BUF(l.p), *vmax = BUF(l.s[2]);
        C pi, m, v;
        moments(k, p, BUF(l.g), BUF(l.s[0]), BUF(l.s[1]), i, maximize, pi, m, v);
        if (vmax) {
            ST(vmax, max_nan(LD(vmax), v));
            v = LD(vmax);
        }
        const C step = (C)l.c[0][t], bc2_sqrt = (C)l.c[1][t];
        ST(p, pi - step * (m / (sqrt_t(v) / bc2_sqrt + e)));
    });
}

template <class T> __device__ __forceinline__ void adagrad(const TensorList& l, double eps, double weight_decay, int maximize) {
    typedef typename Compute<T>::type C;
    const C e = (C)eps, wd = (C)weight_decay;
    const bool has_wd = weight_decay != 0.0;
    for_each_element(l, [&](int t, i64 i) {
        T *p = BUF(l.p), *sum = BUF(l.s[0]);
        const C pi = LD(p);
        const C d = load_grad(BUF(l.g)[i], pi, maximize, wd, has_wd);
        ST(sum, LD(sum) + d * d);
        ST(p, pi - (C)l.c[0][t] * (d / (sqrt_t(LD(sum)) + e)));
    });
}

template <class T>
__device__ __forceinline__ void rmsprop(const TensorList& l, double lr, double alpha, double eps, double weight_decay,
                                        double momentum, int maximize) {
    typedef typename Compute<T>::type C;
    const C lr_c = (C)lr, a = (C)alpha, one_minus_a = (C)(1.0 - alpha), e = (C)eps, wd = (C)weight_decay;
    const C mom = (C)momentum;
    const bool has_wd = weight_decay != 0.0;
    for_each_element(l, [&](int t, i64 i) {
        T *p = BUF(l.p), *square_avg = BUF(l.s[0]), *buf = BUF(l.s[1]), *grad_avg = BUF(l.s[2]);
        const C pi = LD(p);
        C d = load_grad(BUF(l.g)[i], pi, maximize, wd, has_wd);
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
    });
}

template <class T>
__device__ __forceinline__ void adadelta(const TensorList& l, double lr, double rho, double eps, double weight_decay,
                                         int maximize) {
    typedef typename Compute<T>::type C;
    const C lr_c = (C)lr, r = (C)rho, one_minus_r = (C)(1.0 - rho), e = (C)eps, wd = (C)weight_decay;
    const bool has_wd = weight_decay != 0.0;
    for_each_element(l, [&](int t, i64 i) {
        T *p = BUF(l.p), *square_avg = BUF(l.s[0]), *acc_delta = BUF(l.s[1]);
        const C pi = LD(p);
        C d = load_grad(BUF(l.g)[i], pi, maximize, wd, has_wd);
        ST(square_avg, LD(square_avg) * r + one_minus_r * d * d);
        d = sqrt_t(LD(acc_delta) + e) / sqrt_t(LD(square_avg) + e) * d;  // the step, delta
        ST(acc_delta, LD(acc_delta) * r + one_minus_r * d * d);
        ST(p, pi - lr_c * d);
    });
}

template <class T>
__device__ __forceinline__ void adamax(const TensorList& l, double beta1, double beta2, double eps, double weight_decay,
                                       int maximize) {
    typedef typename Compute<T>::type C;
    const C one_minus_b1 = (C)(1.0 - beta1), b2 = (C)beta2, e = (C)eps, wd = (C)weight_decay;
    const bool has_wd = weight_decay != 0.0;
    for_each_element(l, [&](int t, i64 i) {
        T *p = BUF(l.p), *exp_avg = BUF(l.s[0]), *exp_inf = BUF(l.s[1]);
        const C pi = LD(p);
        const C d = load_grad(BUF(l.g)[i], pi, maximize, wd, has_wd);
        ST(exp_avg, lerp_exact(LD(exp_avg), d, one_minus_b1));
        ST(exp_inf, max_nan(LD(exp_inf) * b2, abs_t(d) + e));
        ST(p, pi - (C)l.c[0][t] * (LD(exp_avg) / LD(exp_inf)));
    });
}

template <class T>
__device__ __forceinline__ void nadam(const TensorList& l, double lr, double beta1, double beta2, double eps,
                                      double weight_decay, int decoupled, int maximize) {
    typedef typename Compute<T>::type C;
    const MomentCoefs<C> k(lr, beta1, beta2, weight_decay, decoupled);
    const C e = (C)eps;
    for_each_element(l, [&](int t, i64 i) {
        T* p = BUF(l.p);
        C pi, m, v;
        const C d = moments(k, p, BUF(l.g), BUF(l.s[0]), BUF(l.s[1]), i, maximize, pi, m, v);
        const C denom = sqrt_t(v / (C)l.c[0][t]) + e;
        ST(p, pi + (C)l.c[1][t] * (d / denom));  // PyTorch's two addcdiv_ calls, each rounded to T
        ST(p, LD(p) + (C)l.c[2][t] * (m / denom));
    });
}

template <class T>
__device__ __forceinline__ void radam(const TensorList& l, double lr, double beta1, double beta2, double eps,
                                      double weight_decay, int decoupled, int maximize) {
    typedef typename Compute<T>::type C;
    const MomentCoefs<C> k(lr, beta1, beta2, weight_decay, decoupled);
    const C lr_c = (C)lr, e = (C)eps;
    for_each_element(l, [&](int t, i64 i) {
        T* p = BUF(l.p);
        C pi, m, v;
        moments(k, p, BUF(l.g), BUF(l.s[0]), BUF(l.s[1]), i, maximize, pi, m, v);
        const C bc1 = (C)l.c[0][t], bc2_sqrt = (C)l.c[1][t], rect = (C)l.c[2][t];
        if (l.c[2][t] != 0.0) ST(p, pi - m / bc1 * lr_c * (bc2_sqrt / (sqrt_t(v) + e)) * rect);
        else ST(p, pi - m / bc1 * lr_c);
    });
}

template <class T> __device__ __forceinline__ void unscale_grad(const TensorList& l, double inv_scale, float* found_inf) {
    typedef typename Compute<T>::type C;
    const C inv = (C)inv_scale;
    bool bad = false;
    for_each_element(l, [&](int t, i64 i) {
        T* g = BUF(l.p);
        const C v = LD(g);
        bad |= is_nan(v - v);  // inf - inf and NaN - NaN are NaN; a finite v gives 0
        ST(g, v * inv);
    });
    if (bad) *found_inf = 1.0f;  // every writer stores the same value: no atomic needed
}

template <class T> __device__ __forceinline__ void scale_by(const TensorList& l, const T* factor) {
    typedef typename Compute<T>::type C;
    const C f = to_compute(*factor);
    for_each_element(l, [&](int t, i64 i) {
        T* x = BUF(l.p);
        ST(x, LD(x) * f);
    });
}

template <class T>
__device__ __forceinline__ void foreach_apply(const TensorList& l, int op, double alpha, double scalar) {
    typedef typename Compute<T>::type C;
    const C a = (C)alpha, s = (C)scalar;
    for_each_element(l, [&](int t, i64 i) {
        T *x = BUF(l.p), *other = BUF(l.g);
        const C o = other ? LD(other) : s;
        ST(x, op == 0 ? LD(x) + a * o : op == 1 ? LD(x) * o : op == 2 ? lerp_exact(LD(x), o, s) : o);
    });
}

__device__ __forceinline__ i64 chunks_of(const TensorList& l, int t) {
    return (l.start[t + 1] - l.start[t] + TL_CHUNK - 1) / TL_CHUNK;
}

// ord 1 and 2 sum, ord -1 (inf) takes the max (NaN propagates).
template <class A> __device__ __forceinline__ A norm_fold(int ord, A acc, A v) {
    return ord == 2 ? acc + v * v : ord == 1 ? acc + abs_t(v) : max_nan(acc, abs_t(v));
}
template <class A> __device__ __forceinline__ A norm_block(int ord, A acc) {
    return ord < 0 ? block_reduce(acc, MaxOp()) : block_sum(acc);
}

template <class T>
__device__ __forceinline__ void tensor_norms_partial(const TensorList& l, int ord, typename Acc<T>::type* partial) {
    typedef typename Acc<T>::type A;
    i64 nchunks = 0;
    for (int t = 0; t < l.count; ++t) nchunks += chunks_of(l, t);
    for (i64 c = blockIdx.x; c < nchunks; c += gridDim.x) {  // uniform over the block: no thread skips a barrier
        int t = 0;
        i64 first = 0;
        while (c >= first + chunks_of(l, t)) first += chunks_of(l, t++);
        const T* x = BUF(l.p);
        const i64 n = l.start[t + 1] - l.start[t], lo = (c - first) * TL_CHUNK;
        const i64 hi = lo + TL_CHUNK < n ? lo + TL_CHUNK : n;
        A acc = (A)0;
        for (i64 i = lo + threadIdx.x; i < hi; i += blockDim.x) acc = norm_fold(ord, acc, (A)to_compute(x[i]));
        acc = norm_block(ord, acc);
        if (threadIdx.x == 0) partial[c] = acc;
    }
}

template <class T>
__device__ __forceinline__ void tensor_norms_finish(const TensorList& l, int ord, const typename Acc<T>::type* partial,
                                                    T* out) {
    typedef typename Acc<T>::type A;
    for (int t = blockIdx.x; t < l.count; t += gridDim.x) {
        i64 first = 0;
        for (int k = 0; k < t; ++k) first += chunks_of(l, k);
        A acc = (A)0;
        for (i64 c = threadIdx.x; c < chunks_of(l, t); c += blockDim.x)
            acc = ord < 0 ? max_nan(acc, partial[first + c]) : acc + partial[first + c];
        acc = norm_block(ord, acc);
        if (threadIdx.x == 0) out[t] = from_compute<T>((typename Compute<T>::type)(ord == 2 ? sqrt_t(acc) : acc));
    }
}

#define ADAM_ARGS double lr, double beta1, double beta2, double eps, double weight_decay, int decoupled, int maximize
#define OPTIM_KERNELS(T)                                                                                      \
    extern "C" __global__ void sgd_##T(TensorList l, double lr, double momentum, double dampening,            \
                                       double weight_decay, int nesterov, int maximize) {                     \
        sgd<T>(l, lr, momentum, dampening, weight_decay, nesterov, maximize);                                 \
    }                                                                                                         \
    extern "C" __global__ void adam_##T(TensorList l, ADAM_ARGS) {                                            \
        adam<T>(l, lr, beta1, beta2, eps, weight_decay, decoupled, maximize);                                 \
    }                                                                                                         \
    extern "C" __global__ void adagrad_##T(TensorList l, double eps, double weight_decay, int maximize) {     \
        adagrad<T>(l, eps, weight_decay, maximize);                                                           \
    }                                                                                                         \
    extern "C" __global__ void rmsprop_##T(TensorList l, double lr, double alpha, double eps,                 \
                                           double weight_decay, double momentum, int maximize) {              \
        rmsprop<T>(l, lr, alpha, eps, weight_decay, momentum, maximize);                                      \
    }                                                                                                         \
    extern "C" __global__ void adadelta_##T(TensorList l, double lr, double rho, double eps,                  \
                                            double weight_decay, int maximize) {                              \
        adadelta<T>(l, lr, rho, eps, weight_decay, maximize);                                                 \
    }                                                                                                         \
    extern "C" __global__ void adamax_##T(TensorList l, double beta1, double beta2, double eps,               \
                                          double weight_decay, int maximize) {                                \
        adamax<T>(l, beta1, beta2, eps, weight_decay, maximize);                                              \
    }                                                                                                         \
    extern "C" __global__ void nadam_##T(TensorList l, ADAM_ARGS) {                                           \
        nadam<T>(l, lr, beta1, beta2, eps, weight_decay, decoupled, maximize);                                \
    }                                                                                                         \
    extern "C" __global__ void radam_##T(TensorList l, ADAM_ARGS) {                                           \
        radam<T>(l, lr, beta1, beta2, eps, weight_decay, decoupled, maximize);                                \
    }                                                                                                         \
    extern "C" __global__ void unscale_grad_##T(TensorList l, double inv_scale, float* found_inf) {           \
        unscale_grad<T>(l, inv_scale, found_inf);                                                             \
    }                                                                                                         \
    extern "C" __global__ void scale_by_##T(TensorList l, const T* factor) { scale_by<T>(l, factor); }        \
    extern "C" __global__ void foreach_apply_##T(TensorList l, int op, double alpha, double scalar) {         \
        foreach_apply<T>(l, op, alpha, scalar);                                                               \
    }                                                                                                         \
    extern "C" __global__ void tensor_norms_partial_##T(TensorList l, int ord, Acc<T>::type* partial) {       \
        tensor_norms_partial<T>(l, ord, partial);                                                             \
    }                                                                                                         \
    extern "C" __global__ void tensor_norms_finish_##T(TensorList l, int ord, const Acc<T>::type* partial,    \
                                                       T* out) {                                              \
        tensor_norms_finish<T>(l, ord, partial, out);                                                         \
    }

OPTIM_KERNELS(f32)
OPTIM_KERNELS(f64)
OPTIM_KERNELS(f16)
OPTIM_KERNELS(bf16)
