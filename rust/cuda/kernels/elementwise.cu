// Elementwise kernels: binary arithmetic, comparisons, logical and bitwise ops, the hot unary math
// ops (the rest are in unary.cu), scalar arithmetic.
// Launch with blockDim.x = 256 (any block size is correct; nothing here reduces) and any grid:
// every kernel is a grid-stride loop over n elements. Outputs are contiguous.
//
//   <op>_<dt>(T* out, const T* a, const T* b, i64 n)                        same-shape, contiguous
//   <op>_strided_<dt>(T* out, const T* a, Strides sa, const T* b, Strides sb, i64 n)
//                                            a and b read through their (broadcast) strides
//   <cmp>_<dt>, <cmp>_strided_<dt>: as above but `u8* out` (bool: 0 or 1); logical_and/or/xor too
//   floor_divide/remainder/fmod_<dt> of the integer types: as above, then `i32* zero_div`, the
//                                            ZeroDivisionError device-side assert flag
//   <unary>_<dt>(T* out, const T* a, i64 n)
//   add_scalar_<dt>/mul_scalar_<dt>(T* out, const T* a, double scalar, i64 n)
//   where_<dt>(T* out, const u8* cond, Strides sc, const T* a, Strides sa, const T* b, Strides sb, i64 n)
//                                            out[i] = cond ? a : b, all three read through strides
//
// f16/bf16 compute in f32 and round once on the store. out may alias a or b (in-place ops):
// each element is read before it is written by the same thread.

// Four elements moved as one aligned access (16 bytes for f32/i32, 8 for halves, 32 for 8-byte types).
template <class T> struct alignas(4 * sizeof(T)) Pack4 { T v[4]; };

__device__ __forceinline__ bool aligned_pack(const void* p, i64 elem_size) {
    return ((unsigned long long)p % (unsigned long long)(4 * elem_size)) == 0;
}

// ---- operations on the compute type ----

struct OpAdd { template <class C> __device__ __forceinline__ C operator()(C a, C b) const { return a + b; } };
struct OpSub { template <class C> __device__ __forceinline__ C operator()(C a, C b) const { return a - b; } };
struct OpMul { template <class C> __device__ __forceinline__ C operator()(C a, C b) const { return a * b; } };
struct OpDiv { template <class C> __device__ __forceinline__ C operator()(C a, C b) const { return a / b; } };
struct OpMaximum { template <class C> __device__ __forceinline__ C operator()(C a, C b) const { return max_nan(a, b); } };
struct OpMinimum { template <class C> __device__ __forceinline__ C operator()(C a, C b) const { return min_nan(a, b); } };
struct OpPow {
    __device__ __forceinline__ float operator()(float a, float b) const { return powf(a, b); }
    __device__ __forceinline__ double operator()(double a, double b) const { return pow(a, b); }
};
struct OpFmod {  // C's remainder: the sign of the dividend
    __device__ __forceinline__ float operator()(float a, float b) const { return fmodf(a, b); }
    __device__ __forceinline__ double operator()(double a, double b) const { return fmod(a, b); }
};
struct OpRem {  // Python's remainder: the sign of the divisor
    template <class C> __device__ __forceinline__ C operator()(C a, C b) const {
        const C r = OpFmod()(a, b);
        return (r != (C)0 && ((r < (C)0) != (b < (C)0))) ? r + b : r;
    }
};
struct OpFloorDiv {
    __device__ __forceinline__ float operator()(float a, float b) const { return floorf(a / b); }
    __device__ __forceinline__ double operator()(double a, double b) const { return floor(a / b); }
};
// Integer division, as Python's (floor) and C's (fmod): a zero divisor sets the kernel's
// ZeroDivisionError flag (a device-side assert) and yields 0. x / -1 is a wrapping negation: the
// hardware's INT_MIN / -1 is undefined (and traps on the host build).
template <class C> __device__ __forceinline__ bool is_minus_one(C b) { return (C)-1 < (C)0 && b == (C)-1; }
template <class C> __device__ __forceinline__ C wrapping_neg(C a) {
    return (C)(0ull - (unsigned long long)a);
}
struct OpIntFloorDiv {
    i32* zero_div;
    template <class C> __device__ __forceinline__ C operator()(C a, C b) const {
        if (b == (C)0) { *zero_div = 1; return (C)0; }
        if (is_minus_one(b)) return wrapping_neg(a);
        const C q = a / b;
        return (a % b != (C)0 && ((a < (C)0) != (b < (C)0))) ? (C)(q - 1) : q;
    }
};
struct OpIntRem {  // sign of the divisor
    i32* zero_div;
    template <class C> __device__ __forceinline__ C operator()(C a, C b) const {
        if (b == (C)0) { *zero_div = 1; return (C)0; }
        if (is_minus_one(b)) return (C)0;
        const C r = a % b;
        return (r != (C)0 && ((r < (C)0) != (b < (C)0))) ? (C)(r + b) : r;
    }
};
struct OpIntFmod {  // sign of the dividend
    i32* zero_div;
    template <class C> __device__ __forceinline__ C operator()(C a, C b) const {
        if (b == (C)0) { *zero_div = 1; return (C)0; }
        return is_minus_one(b) ? (C)0 : (C)(a % b);
    }
};
struct OpAtan2 {
    __device__ __forceinline__ float operator()(float a, float b) const { return atan2f(a, b); }
    __device__ __forceinline__ double operator()(double a, double b) const { return atan2(a, b); }
};

// Bitwise ops of the integer types (bool tensors are u8 0/1, closed under and/or/xor). Shift
// counts wrap modulo the bit width, as Rust's wrapping_shl/shr on the host.
struct OpBitAnd { template <class C> __device__ __forceinline__ C operator()(C a, C b) const { return a & b; } };
struct OpBitOr { template <class C> __device__ __forceinline__ C operator()(C a, C b) const { return a | b; } };
struct OpBitXor { template <class C> __device__ __forceinline__ C operator()(C a, C b) const { return a ^ b; } };
struct OpShl {
    template <class C> __device__ __forceinline__ C operator()(C a, C b) const {
        return (C)(a << ((u32)b & (u32)(8 * sizeof(C) - 1)));
    }
};
struct OpShr {
    template <class C> __device__ __forceinline__ C operator()(C a, C b) const {
        return (C)(a >> ((u32)b & (u32)(8 * sizeof(C) - 1)));
    }
};

// IEEE comparisons: every one but ne is false when either side is NaN.
struct OpEq { template <class C> __device__ __forceinline__ bool operator()(C a, C b) const { return a == b; } };
struct OpNe { template <class C> __device__ __forceinline__ bool operator()(C a, C b) const { return a != b; } };
struct OpLt { template <class C> __device__ __forceinline__ bool operator()(C a, C b) const { return a < b; } };
struct OpLe { template <class C> __device__ __forceinline__ bool operator()(C a, C b) const { return a <= b; } };
struct OpGt { template <class C> __device__ __forceinline__ bool operator()(C a, C b) const { return a > b; } };
struct OpGe { template <class C> __device__ __forceinline__ bool operator()(C a, C b) const { return a >= b; } };
// Logical ops: nonzero is true (NaN too).
struct OpAnd { template <class C> __device__ __forceinline__ bool operator()(C a, C b) const { return a != (C)0 && b != (C)0; } };
struct OpOr { template <class C> __device__ __forceinline__ bool operator()(C a, C b) const { return a != (C)0 || b != (C)0; } };
struct OpXor { template <class C> __device__ __forceinline__ bool operator()(C a, C b) const { return (a != (C)0) != (b != (C)0); } };

// Integer unary ops that make sense (abs of the most negative value wraps, as in PyTorch).
struct OpNeg { template <class C> __device__ __forceinline__ C operator()(C x) const { return -x; } };
struct OpAbs { template <class C> __device__ __forceinline__ C operator()(C x) const { return x < 0 ? -x : x; } };
struct OpRelu {
    // NaN stays NaN (PyTorch's relu is clamp_min(0), which propagates NaN).
    template <class C> __device__ __forceinline__ C operator()(C x) const { return (x > 0 || is_nan(x)) ? x : (C)0; }
};

// Floating unary ops: an f32 and an f64 overload each (halves arrive here as f32).
#define FLOAT_UNARY_OP(Name, expr_f32, expr_f64)                                              \
    struct Name {                                                                             \
        __device__ __forceinline__ float operator()(float x) const { return expr_f32; }      \
        __device__ __forceinline__ double operator()(double x) const { return expr_f64; }    \
    };
FLOAT_UNARY_OP(OpFAbs, fabsf(x), fabs(x))
FLOAT_UNARY_OP(OpExp, expf(x), exp(x))
FLOAT_UNARY_OP(OpLog, logf(x), log(x))
FLOAT_UNARY_OP(OpSqrt, sqrtf(x), sqrt(x))
FLOAT_UNARY_OP(OpRsqrt, rsqrtf(x), rsqrt(x))
FLOAT_UNARY_OP(OpSin, sinf(x), sin(x))
FLOAT_UNARY_OP(OpCos, cosf(x), cos(x))
FLOAT_UNARY_OP(OpTanh, tanhf(x), tanh(x))
FLOAT_UNARY_OP(OpSigmoid, 1.0f / (1.0f + expf(-x)), 1.0 / (1.0 + exp(-x)))
// gelu, exact (erf) form: x/2 * (1 + erf(x/sqrt(2))).
FLOAT_UNARY_OP(OpGelu, 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)),
               0.5 * x * (1.0 + erf(x * 0.70710678118654752440)))
FLOAT_UNARY_OP(OpSilu, x / (1.0f + expf(-x)), x / (1.0 + exp(-x)))
#undef FLOAT_UNARY_OP

// A double scalar in the compute type: integers go through i64 so that a negative scalar wraps
// for u8 instead of being undefined.
template <class C> __device__ __forceinline__ C scalar_as(double s) { return (C)(i64)s; }
template <> __device__ __forceinline__ float scalar_as<float>(double s) { return (float)s; }
template <> __device__ __forceinline__ double scalar_as<double>(double s) { return s; }

// ---- loop shapes ----

template <class T, class R, class Op>
__device__ __forceinline__ R apply2(Op op, T a, T b) {
    typedef typename Compute<R>::type CR;
    return from_compute<R>((CR)op(to_compute(a), to_compute(b)));
}

template <class T, class R, class Op>
__device__ __forceinline__ void binary_contiguous(R* out, const T* a, const T* b, i64 n, Op op) {
    i64 head = 0;
    // The pointer test is uniform across the grid, so the branch does not diverge.
    if (aligned_pack(out, sizeof(R)) && aligned_pack(a, sizeof(T)) && aligned_pack(b, sizeof(T))) {
        const i64 npack = n / 4;
        const Pack4<T>* pa = (const Pack4<T>*)a;
        const Pack4<T>* pb = (const Pack4<T>*)b;
        Pack4<R>* po = (Pack4<R>*)out;
        GRID_STRIDE_LOOP(i, npack) {
            const Pack4<T> x = pa[i], y = pb[i];
            Pack4<R> z;
#pragma unroll
            for (int k = 0; k < 4; ++k) z.v[k] = apply2<T, R>(op, x.v[k], y.v[k]);
            po[i] = z;
        }
        head = npack * 4;
    }
    GRID_STRIDE_LOOP(j, n - head) {
        const i64 i = head + j;
        out[i] = apply2<T, R>(op, a[i], b[i]);
    }
}

template <class T, class R, class Op>
__device__ __forceinline__ void binary_strided(R* out, const T* a, const Strides& sa, const T* b,
                                                      const Strides& sb, i64 n, Op op) {
    GRID_STRIDE_LOOP(i, n) out[i] = apply2<T, R>(op, a[offset_of(i, sa)], b[offset_of(i, sb)]);
}

template <class T, class Op>
__device__ __forceinline__ void unary_contiguous(T* out, const T* a, i64 n, Op op) {
    typedef typename Compute<T>::type C;
    GRID_STRIDE_LOOP(i, n) out[i] = from_compute<T>((C)op(to_compute(a[i])));
}

template <class T, class Op>
__device__ __forceinline__ void scalar_contiguous(T* out, const T* a, double s, i64 n, Op op) {
    typedef typename Compute<T>::type C;
    const C c = scalar_as<C>(s);
    GRID_STRIDE_LOOP(i, n) out[i] = from_compute<T>((C)op(to_compute(a[i]), c));
}

// ---- kernel instantiation: one macro per kernel shape ----

#define BINARY_KERNELS(name, Op, T)                                                                 \
    extern "C" __global__ void name##_##T(T* out, const T* a, const T* b, i64 n) {                   \
        binary_contiguous<T, T>(out, a, b, n, Op());                                                \
    }                                                                                               \
    extern "C" __global__ void name##_strided_##T(T* out, const T* a, Strides sa, const T* b,        \
                                                  Strides sb, i64 n) {                              \
        binary_strided<T, T>(out, a, sa, b, sb, n, Op());                                           \
    }

// As BINARY_KERNELS, with the device-side assert flag a zero divisor sets as the last argument.
#define INT_DIVISION_KERNELS(name, Op, T)                                                           \
    extern "C" __global__ void name##_##T(T* out, const T* a, const T* b, i64 n, i32* zero_div) {    \
        binary_contiguous<T, T>(out, a, b, n, Op{zero_div});                                        \
    }                                                                                               \
    extern "C" __global__ void name##_strided_##T(T* out, const T* a, Strides sa, const T* b,        \
                                                  Strides sb, i64 n, i32* zero_div) {               \
        binary_strided<T, T>(out, a, sa, b, sb, n, Op{zero_div});                                   \
    }

#define COMPARE_KERNELS(name, Op, T)                                                                \
    extern "C" __global__ void name##_##T(u8* out, const T* a, const T* b, i64 n) {                  \
        binary_contiguous<T, u8>(out, a, b, n, Op());                                               \
    }                                                                                               \
    extern "C" __global__ void name##_strided_##T(u8* out, const T* a, Strides sa, const T* b,       \
                                                  Strides sb, i64 n) {                              \
        binary_strided<T, u8>(out, a, sa, b, sb, n, Op());                                          \
    }

#define UNARY_KERNEL(name, Op, T)                                                                   \
    extern "C" __global__ void name##_##T(T* out, const T* a, i64 n) { unary_contiguous(out, a, n, Op()); }

#define SCALAR_KERNEL(name, Op, T)                                                                  \
    extern "C" __global__ void name##_##T(T* out, const T* a, double scalar, i64 n) {               \
        scalar_contiguous(out, a, scalar, n, Op());                                                 \
    }

#define WHERE_KERNEL(T)                                                                             \
    extern "C" __global__ void where_##T(T* out, const u8* cond, Strides sc, const T* a, Strides sa, \
                                         const T* b, Strides sb, i64 n) {                           \
        GRID_STRIDE_LOOP(i, n) out[i] = cond[offset_of(i, sc)] ? a[offset_of(i, sa)] : b[offset_of(i, sb)]; \
    }

// Ops for every dtype (u8 arithmetic wraps modulo 256, as torch.uint8 does).
#define ALL_DTYPE_KERNELS(T)              \
    BINARY_KERNELS(add, OpAdd, T)         \
    BINARY_KERNELS(sub, OpSub, T)         \
    BINARY_KERNELS(mul, OpMul, T)         \
    BINARY_KERNELS(maximum, OpMaximum, T) \
    BINARY_KERNELS(minimum, OpMinimum, T) \
    COMPARE_KERNELS(eq, OpEq, T)          \
    COMPARE_KERNELS(ne, OpNe, T)          \
    COMPARE_KERNELS(lt, OpLt, T)          \
    COMPARE_KERNELS(le, OpLe, T)          \
    COMPARE_KERNELS(gt, OpGt, T)          \
    COMPARE_KERNELS(ge, OpGe, T)          \
    COMPARE_KERNELS(logical_and, OpAnd, T) \
    COMPARE_KERNELS(logical_or, OpOr, T)  \
    COMPARE_KERNELS(logical_xor, OpXor, T) \
    SCALAR_KERNEL(add_scalar, OpAdd, T)   \
    SCALAR_KERNEL(mul_scalar, OpMul, T)   \
    WHERE_KERNEL(T)

// Floating-only ops (true division and pow; integer division is not defined here).
#define FLOAT_DTYPE_KERNELS(T)             \
    BINARY_KERNELS(div, OpDiv, T)          \
    BINARY_KERNELS(pow, OpPow, T)          \
    BINARY_KERNELS(floor_divide, OpFloorDiv, T) \
    BINARY_KERNELS(remainder, OpRem, T)    \
    BINARY_KERNELS(fmod, OpFmod, T)        \
    BINARY_KERNELS(atan2, OpAtan2, T)      \
    UNARY_KERNEL(neg, OpNeg, T)            \
    UNARY_KERNEL(abs, OpFAbs, T)           \
    UNARY_KERNEL(exp, OpExp, T)            \
    UNARY_KERNEL(log, OpLog, T)            \
    UNARY_KERNEL(sqrt, OpSqrt, T)          \
    UNARY_KERNEL(rsqrt, OpRsqrt, T)        \
    UNARY_KERNEL(sin, OpSin, T)            \
    UNARY_KERNEL(cos, OpCos, T)            \
    UNARY_KERNEL(tanh, OpTanh, T)          \
    UNARY_KERNEL(sigmoid, OpSigmoid, T)    \
    UNARY_KERNEL(relu, OpRelu, T)          \
    UNARY_KERNEL(gelu, OpGelu, T)          \
    UNARY_KERNEL(silu, OpSilu, T)

// Integer-only ops (u8 included).
#define INT_DTYPE_KERNELS(T)                  \
    BINARY_KERNELS(bitwise_and, OpBitAnd, T)  \
    BINARY_KERNELS(bitwise_or, OpBitOr, T)    \
    BINARY_KERNELS(bitwise_xor, OpBitXor, T)  \
    BINARY_KERNELS(shl, OpShl, T)             \
    BINARY_KERNELS(shr, OpShr, T)             \
    INT_DIVISION_KERNELS(floor_divide, OpIntFloorDiv, T) \
    INT_DIVISION_KERNELS(remainder, OpIntRem, T) \
    INT_DIVISION_KERNELS(fmod, OpIntFmod, T)

// Signed-integer-only unary ops.
#define SIGNED_DTYPE_KERNELS(T) \
    UNARY_KERNEL(neg, OpNeg, T) \
    UNARY_KERNEL(abs, OpAbs, T) \
    UNARY_KERNEL(relu, OpRelu, T)

ALL_DTYPE_KERNELS(f32)
ALL_DTYPE_KERNELS(f64)
ALL_DTYPE_KERNELS(f16)
ALL_DTYPE_KERNELS(bf16)
ALL_DTYPE_KERNELS(i64)
ALL_DTYPE_KERNELS(i32)
ALL_DTYPE_KERNELS(u8)

FLOAT_DTYPE_KERNELS(f32)
FLOAT_DTYPE_KERNELS(f64)
FLOAT_DTYPE_KERNELS(f16)
FLOAT_DTYPE_KERNELS(bf16)

INT_DTYPE_KERNELS(i64)
INT_DTYPE_KERNELS(i32)
INT_DTYPE_KERNELS(u8)

SIGNED_DTYPE_KERNELS(i64)
SIGNED_DTYPE_KERNELS(i32)
