// Unary ops chosen at run time by an op code: the math functions without a kernel of their own in
// elementwise.cu (its hot few: exp, tanh, sigmoid, relu, gelu, silu...), their derivatives, the
// bool-valued tests and the integer ops. One grid-stride loop over n contiguous elements each; the
// switch on the op is uniform across the grid, so it does not diverge.
//
//   unary_math_<dt>(T* out, const T* a, int op, double p0, double p1, double p2, i64 n)    floats
//   unary_deriv_<dt>(T* out, const T* a, int op, double p0, double p1, double p2, i64 n)   d op/dx
//   unary_test_<dt>(u8* out, const T* a, int op, i64 n)                               every dtype
//   unary_int_<dt>(T* out, const T* a, int op, double p0, double p1, i64 n)           integers
//
// The op codes are UnaryCode below: `UnaryOp::code()` in rust/ops/elementwise.rs, the variants'
// declaration order (a unit test there compares the two lists). p0..p2 are the op's parameters (a pow exponent, clamp bounds...).
// f16/bf16 compute in f32. out may alias a.

enum UnaryCode {
    U_NEG, U_ABS, U_SIGN, U_EXP, U_EXP2, U_EXPM1, U_LOG, U_LOG1P, U_LOG2, U_LOG10, U_SQRT,
    U_RSQRT, U_SQUARE, U_SIN, U_COS, U_TAN, U_ASIN, U_ACOS, U_ATAN, U_SINH, U_COSH, U_TANH,
    U_ASINH, U_ACOSH, U_ATANH, U_SIGMOID, U_LOGSIGMOID, U_FLOOR, U_CEIL, U_ROUND, U_TRUNC, U_FRAC,
    U_RECIPROCAL, U_RELU, U_GELU, U_GELU_TANH, U_SILU, U_MISH, U_ERF, U_SOFTSIGN, U_HARDSIGMOID,
    U_HARDSWISH, U_SELU, U_LOGICAL_NOT, U_BIT_NOT, U_IS_NAN, U_IS_INF, U_IS_FINITE, U_IS_POS_INF,
    U_IS_NEG_INF, U_SIGN_BIT, U_POW, U_RPOW, U_LEAKY_RELU, U_ELU, U_CELU, U_SOFTPLUS, U_CLAMP,
    U_THRESHOLD, U_NAN_TO_NUM, U_ROUND_DECIMALS, U_ERFC, U_ERFINV, U_LGAMMA, U_POLYGAMMA,
};

// The math library by overload: f32 calls the *f functions, f64 the plain ones.
#define MATH1(name, f32fn, f64fn)                                                       \
    __device__ __forceinline__ float name(float x) { return f32fn(x); }                 \
    __device__ __forceinline__ double name(double x) { return f64fn(x); }
MATH1(m_abs, fabsf, fabs)
MATH1(m_exp, expf, exp)
MATH1(m_exp2, exp2f, exp2)
MATH1(m_expm1, expm1f, expm1)
MATH1(m_log, logf, log)
MATH1(m_log1p, log1pf, log1p)
MATH1(m_log2, log2f, log2)
MATH1(m_log10, log10f, log10)
MATH1(m_sqrt, sqrtf, sqrt)
MATH1(m_sin, sinf, sin)
MATH1(m_cos, cosf, cos)
MATH1(m_tan, tanf, tan)
MATH1(m_asin, asinf, asin)
MATH1(m_acos, acosf, acos)
MATH1(m_atan, atanf, atan)
MATH1(m_sinh, sinhf, sinh)
MATH1(m_cosh, coshf, cosh)
MATH1(m_tanh, tanhf, tanh)
MATH1(m_asinh, asinhf, asinh)
MATH1(m_acosh, acoshf, acosh)
MATH1(m_atanh, atanhf, atanh)
MATH1(m_floor, floorf, floor)
MATH1(m_ceil, ceilf, ceil)
MATH1(m_rint, rintf, rint)  // round half to even, as torch.round
MATH1(m_trunc, truncf, trunc)
MATH1(m_erf, erff, erf)
MATH1(m_erfc, erfcf, erfc)
MATH1(m_erfinv, erfinvf, erfinv)
MATH1(m_lgamma, lgammaf, lgamma)
#undef MATH1
__device__ __forceinline__ float m_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double m_pow(double x, double y) { return pow(x, y); }

__device__ __forceinline__ bool m_sign_bit(float x) { return (__float_as_uint(x) >> 31) != 0; }
__device__ __forceinline__ bool m_sign_bit(double x) { return __double_as_longlong(x) < 0; }
template <class C> __device__ __forceinline__ bool m_is_inf(C x) { return x == pos_inf<C>() || x == neg_inf<C>(); }
template <class C> __device__ __forceinline__ C m_max(C a, C b) { return a > b ? a : b; }
template <class C> __device__ __forceinline__ C m_min(C a, C b) { return a < b ? a : b; }
template <class C> __device__ __forceinline__ C m_sigmoid(C x) { return (C)1 / ((C)1 + m_exp(-x)); }
template <class C> __device__ __forceinline__ C m_softplus(C x) { return x > (C)20 ? x : m_log1p(m_exp(x)); }

// digamma and the Hurwitz zeta function, by the algorithms of rust/ops/special.rs.
#define FT_PI 3.14159265358979323846
template <class C> __device__ C m_digamma(C x) {
    if (is_nan(x) || x == pos_inf<C>()) return x;
    if (x == (C)0) return m_sign_bit(x) ? pos_inf<C>() : neg_inf<C>();
    C r = (C)0;
    if (x < (C)0) {
        if (x == m_floor(x)) return quiet_nan<C>();
        r = -(C)FT_PI / m_tan((C)FT_PI * x);  // reflection: psi(x) = psi(1 - x) - pi / tan(pi x)
        x = (C)1 - x;
    }
    while (x < (C)10) {
        r -= (C)1 / x;
        x += (C)1;
    }
    const C f = (C)1 / (x * x);
    const double coef[7] = {1.0 / 12, -1.0 / 120, 1.0 / 252, -1.0 / 240, 1.0 / 132, -691.0 / 32760, 1.0 / 12};
    C series = (C)0;
    for (int k = 6; k >= 0; --k) series = (series + (C)coef[k]) * f;
    return r + m_log(x) - (C)0.5 / x - series;
}

template <class C> __device__ C m_zeta(C x, C q) {
    const double A[12] = {12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
                          -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
                          1.8152105401943546773e17, -7.1661652561756670113e18};
    const C eps = sizeof(C) == 4 ? (C)6e-8 : (C)1.11e-16;
    if (x == (C)1) return pos_inf<C>();
    if (x < (C)1 || is_nan(x) || is_nan(q)) return quiet_nan<C>();
    if (q <= (C)0) {
        if (q == m_floor(q)) return pos_inf<C>();
        if (x != m_floor(x)) return quiet_nan<C>();
    }
    C s = m_pow(q, -x), a = q, b = (C)0;
    int i = 0;
    while (i < 9 || a <= (C)9) {
        ++i;
        a += (C)1;
        b = m_pow(a, -x);
        s += b;
        if (m_abs(b / s) < eps) return s;
    }
    const C w = a;
    s += b * w / (x - (C)1);
    s -= (C)0.5 * b;
    C k = (C)0;
    a = (C)1;
    for (int j = 0; j < 12; ++j) {
        a *= x + k;
        b /= w;
        const C t = a * b / (C)A[j];
        s += t;
        if (m_abs(t / s) < eps) break;
        k += (C)1;
        a *= x + k;
        b /= w;
        k += (C)1;
    }
    return s;
}

template <class C> __device__ C m_polygamma(double n, C x) {
    if (n == 0.0) return m_digamma(x);
    const C sign = ((long long)n % 2 == 1) ? (C)1 : (C)-1;
    return sign * m_exp(m_lgamma((C)(n + 1.0))) * m_zeta((C)(n + 1.0), x);
}

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946
#define GELU_K 0.79788456080286535587989211986876  // sqrt(2/pi)

// The value of op at x (the formulas of float_fn in rust/ops/elementwise.rs).
template <class C>
__device__ __forceinline__ C unary_value(int op, C x, double p0, double p1, double p2) {
    const C one = (C)1, zero = (C)0;
    switch (op) {
        case U_NEG: return -x;
        case U_ABS: return m_abs(x);
        case U_SIGN: return x > zero ? one : (x < zero ? -one : x * zero);
        case U_EXP: return m_exp(x);
        case U_EXP2: return m_exp2(x);
        case U_EXPM1: return m_expm1(x);
        case U_LOG: return m_log(x);
        case U_LOG1P: return m_log1p(x);
        case U_LOG2: return m_log2(x);
        case U_LOG10: return m_log10(x);
        case U_SQRT: return m_sqrt(x);
        case U_RSQRT: return one / m_sqrt(x);
        case U_SQUARE: return x * x;
        case U_SIN: return m_sin(x);
        case U_COS: return m_cos(x);
        case U_TAN: return m_tan(x);
        case U_ASIN: return m_asin(x);
        case U_ACOS: return m_acos(x);
        case U_ATAN: return m_atan(x);
        case U_SINH: return m_sinh(x);
        case U_COSH: return m_cosh(x);
        case U_TANH: return m_tanh(x);
        case U_ASINH: return m_asinh(x);
        case U_ACOSH: return m_acosh(x);
        case U_ATANH: return m_atanh(x);
        case U_SIGMOID: return m_sigmoid(x);
        case U_LOGSIGMOID: return -m_softplus(-x);
        case U_FLOOR: return m_floor(x);
        case U_CEIL: return m_ceil(x);
        case U_ROUND: return m_rint(x);
        case U_TRUNC: return m_trunc(x);
        case U_FRAC: return x - m_trunc(x);
        case U_RECIPROCAL: return one / x;
        case U_RELU: return (x > zero || is_nan(x)) ? x : zero;
        case U_GELU: return x * (C)0.5 * (one + m_erf(x * (C)0.70710678118654752440));
        case U_GELU_TANH: return (C)0.5 * x * (one + m_tanh((C)GELU_K * (x + (C)0.044715 * x * x * x)));
        case U_SILU: return x * m_sigmoid(x);
        case U_MISH: return x * m_tanh(m_softplus(x));
        case U_ERF: return m_erf(x);
        case U_SOFTSIGN: return x / (one + m_abs(x));
        case U_HARDSIGMOID: return m_min(m_max(x / (C)6 + (C)0.5, zero), one);
        case U_HARDSWISH: return x * m_min(m_max(x + (C)3, zero), (C)6) / (C)6;
        case U_SELU: return x > zero ? (C)SELU_SCALE * x : (C)(SELU_SCALE * SELU_ALPHA) * m_expm1(x);
        case U_POW: return p0 == 2.0 ? x * x : m_pow(x, (C)p0);
        case U_RPOW: return m_pow((C)p0, x);
        case U_LEAKY_RELU: return x > zero ? x : x * (C)p0;
        case U_ELU: return x > zero ? x * (C)p1 : (C)(p0 * p1) * m_expm1(x * (C)p2);
        case U_CELU: return m_max(x, zero) + m_min((C)p0 * m_expm1(x / (C)p0), zero);
        case U_SOFTPLUS: {
            const C bx = x * (C)p0;
            return bx > (C)p1 ? x : m_log1p(m_exp(bx)) / (C)p0;
        }
        case U_CLAMP: return is_nan(x) ? x : m_min(m_max(x, (C)p0), (C)p1);
        case U_THRESHOLD: return x > (C)p0 ? x : (C)p1;
        case U_NAN_TO_NUM:
            if (is_nan(x)) return (C)p0;
            if (x == pos_inf<C>()) return (C)p1;
            if (x == neg_inf<C>()) return (C)p2;
            return x;
        case U_ROUND_DECIMALS: return m_rint(x * (C)p0) / (C)p0;
        case U_ERFC: return m_erfc(x);
        case U_ERFINV: return m_erfinv(x);
        case U_LGAMMA: return m_lgamma(x);
        case U_POLYGAMMA: return m_polygamma(p0, x);
        default: return quiet_nan<C>();
    }
}

// d op/dx at x, for the ops whose backward is not a tensor expression (float_deriv in Rust).
template <class C>
__device__ __forceinline__ C unary_derivative(int op, C x, double p0, double p1, double p2) {
    const C one = (C)1, zero = (C)0;
    switch (op) {
        case U_GELU: {
            const C cdf = (C)0.5 * (one + m_erf(x * (C)0.70710678118654752440));
            const C pdf = m_exp(-(x * x) * (C)0.5) * (C)0.39894228040143267794;
            return cdf + x * pdf;
        }
        case U_GELU_TANH: {
            const C t = m_tanh((C)GELU_K * (x + (C)0.044715 * x * x * x));
            return (C)0.5 * (one + t) + (C)0.5 * x * (one - t * t) * (C)GELU_K * (one + (C)(3.0 * 0.044715) * x * x);
        }
        case U_SILU: {
            const C s = m_sigmoid(x);
            return s * (one + x * (one - s));
        }
        case U_MISH: {
            const C t = m_tanh(m_softplus(x));
            return t + x * (one - t * t) * m_sigmoid(x);
        }
        case U_ERF: return m_exp(-(x * x)) * (C)1.12837916709551257390;  // 2/sqrt(pi)
        case U_SOFTSIGN: return one / ((one + m_abs(x)) * (one + m_abs(x)));
        case U_LOGSIGMOID: return m_sigmoid(-x);
        case U_HARDSIGMOID: return (x > (C)-3 && x < (C)3) ? (C)(1.0 / 6.0) : zero;
        case U_HARDSWISH: return x < (C)-3 ? zero : (x <= (C)3 ? x / (C)3 + (C)0.5 : one);
        case U_SELU: return x > zero ? (C)SELU_SCALE : (C)(SELU_SCALE * SELU_ALPHA) * m_exp(x);
        case U_LEAKY_RELU: return x > zero ? one : (C)p0;
        case U_ELU: return x > zero ? (C)p1 : (C)(p0 * p1 * p2) * m_exp(x * (C)p2);
        case U_CELU: return x > zero ? one : m_exp(x / (C)p0);
        case U_SOFTPLUS: {
            const C bx = x * (C)p0;
            return bx > (C)p1 ? one : m_sigmoid(bx);
        }
        case U_CLAMP: return (x >= (C)p0 && x <= (C)p1) ? one : zero;
        case U_THRESHOLD: return x > (C)p0 ? one : zero;
        case U_RELU: return x > zero ? one : zero;
        case U_NAN_TO_NUM: return (is_nan(x) || m_is_inf(x)) ? zero : one;
        case U_ABS: return x > zero ? one : (x < zero ? -one : zero);
        default: return quiet_nan<C>();
    }
}

// The bool-valued ops; integers have no NaN or infinity.
template <class C> __device__ __forceinline__ bool unary_test(int op, C x) {
    switch (op) {
        case U_IS_NAN: return is_nan(x);
        case U_IS_INF: return m_is_inf(x);
        case U_IS_FINITE: return !is_nan(x) && !m_is_inf(x);
        case U_IS_POS_INF: return x == pos_inf<C>();
        case U_IS_NEG_INF: return x == neg_inf<C>();
        case U_SIGN_BIT: return m_sign_bit(x);
        default: return x == (C)0;  // U_LOGICAL_NOT
    }
}
#define INT_TEST(T)                                                                              \
    template <> __device__ __forceinline__ bool unary_test<T>(int op, T x) {                      \
        switch (op) {                                                                            \
            case U_IS_NAN: case U_IS_INF: case U_IS_POS_INF: case U_IS_NEG_INF: return false;     \
            case U_IS_FINITE: return true;                                                        \
            case U_SIGN_BIT: return x < (T)0;                                                     \
            default: return x == (T)0;                                                            \
        }                                                                                        \
    }
INT_TEST(i64)
INT_TEST(i32)
INT_TEST(u8)
#undef INT_TEST

// A double in T's range [lo, hi] (as Rust's saturating float-to-int cast; NaN gives 0).
template <class T> __device__ __forceinline__ T saturate(double v, T lo, T hi) {
    if (is_nan(v)) return (T)0;
    if (v <= (double)lo) return lo;
    if (v >= (double)hi) return hi;  // (double)hi may round up past hi: compare, don't convert
    return (T)v;
}

// The integer ops (int_fn in Rust): wrapping neg/abs/square; clamp and threshold in f64.
template <class T>
__device__ __forceinline__ T unary_int_value(int op, T x, double p0, double p1, T lo, T hi) {
    switch (op) {
        case U_NEG: return (T)(0 - x);
        case U_ABS: return x < (T)0 ? (T)(0 - x) : x;
        case U_SIGN: return x > (T)0 ? (T)1 : (x < (T)0 ? (T)-1 : (T)0);
        case U_SQUARE: return (T)(x * x);
        case U_RELU: return x > (T)0 ? x : (T)0;
        case U_CLAMP: return saturate<T>(m_min(m_max((double)x, p0), p1), lo, hi);
        case U_THRESHOLD: return (double)x > p0 ? x : saturate<T>(p1, lo, hi);
        case U_BIT_NOT: return (T)~x;
        case U_FRAC: return (T)0;
        default: return x;
    }
}

#define FLOAT_UNARY_KERNELS(T)                                                                      \
    extern "C" __global__ void unary_math_##T(T* out, const T* a, int op, double p0, double p1,    \
                                              double p2, i64 n) {                                 \
        typedef typename Compute<T>::type C;                                                        \
        GRID_STRIDE_LOOP(i, n) out[i] = from_compute<T>(unary_value<C>(op, to_compute(a[i]), p0, p1, p2)); \
    }                                                                                               \
    extern "C" __global__ void unary_deriv_##T(T* out, const T* a, int op, double p0, double p1,   \
                                               double p2, i64 n) {                                \
        typedef typename Compute<T>::type C;                                                        \
        GRID_STRIDE_LOOP(i, n) out[i] = from_compute<T>(unary_derivative<C>(op, to_compute(a[i]), p0, p1, p2)); \
    }

#define TEST_KERNEL(T)                                                                              \
    extern "C" __global__ void unary_test_##T(u8* out, const T* a, int op, i64 n) {                \
        GRID_STRIDE_LOOP(i, n) out[i] = unary_test(op, to_compute(a[i])) ? 1 : 0;                  \
    }

#define INT_UNARY_KERNEL(T, lo, hi)                                                                 \
    extern "C" __global__ void unary_int_##T(T* out, const T* a, int op, double p0, double p1, i64 n) { \
        GRID_STRIDE_LOOP(i, n) out[i] = unary_int_value<T>(op, a[i], p0, p1, lo, hi);              \
    }

FLOAT_UNARY_KERNELS(f32)
FLOAT_UNARY_KERNELS(f64)
FLOAT_UNARY_KERNELS(f16)
FLOAT_UNARY_KERNELS(bf16)
TEST_KERNEL(f32)
TEST_KERNEL(f64)
TEST_KERNEL(f16)
TEST_KERNEL(bf16)
TEST_KERNEL(i64)
TEST_KERNEL(i32)
TEST_KERNEL(u8)
INT_UNARY_KERNEL(i64, (i64)(-9223372036854775807LL - 1), (i64)9223372036854775807LL)
INT_UNARY_KERNEL(i32, (i32)(-2147483647 - 1), (i32)2147483647)
INT_UNARY_KERNEL(u8, (u8)0, (u8)255)
