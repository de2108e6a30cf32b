// ferrotorch kernel prelude: prepended to every .cu source before NVRTC compiles it.
//
// It includes no header at all: NVRTC ships without the CUDA toolkit headers (cuda_fp16.h and
// friends are not there on a user's machine), so half types, limits and reductions live here.
//
// Conventions shared by every kernel module:
// - element counts and indices are 64-bit (i64); every element loop is a grid-stride loop, so
//   any grid size gives the same result;
// - kernels that reduce within a block are written for blockDim.x = 256 (any multiple of 32 up
//   to 1024 also works: the block reductions below size themselves from blockDim.x);
// - f16 and bf16 are 2-byte structs holding the raw bits (the same memory layout as an
//   unsigned short buffer) and compute in f32;
// - helpers are inline (not static, which would warn when a module leaves one unused); only the
//   extern "C" kernels are global symbols of a module.

typedef long long i64;
typedef unsigned long long u64;
typedef int i32;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef float f32;
typedef double f64;

// Distinct types (rather than two typedefs of unsigned short) so that overloads and templates can
// tell f16 from bf16.
struct __align__(2) f16 { u16 bits; };
struct __align__(2) bf16 { u16 bits; };

// ---- f16: IEEE binary16, converted by the hardware (cvt is in PTX for every architecture) ----

__device__ __forceinline__ float f16_to_f32(f16 h) {
    float f;
    u16 b = h.bits;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(b));
    return f;
}

__device__ __forceinline__ f16 f32_to_f16(float f) {
    u16 b;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(b) : "f"(f));
    f16 h;
    h.bits = b;
    return h;
}

// ---- bf16: the top half of an f32, in integer arithmetic so it needs no sm_80 instruction ----

__device__ __forceinline__ float bf16_to_f32(bf16 b) {
    return __uint_as_float(((u32)b.bits) << 16);
}

__device__ __forceinline__ bf16 f32_to_bf16(float f) {
    u32 u = __float_as_uint(f);
    bf16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        // NaN: truncating could clear every mantissa bit left (giving inf); keep it a quiet NaN.
        r.bits = (u16)((u >> 16) | 0x0040u);
        return r;
    }
    // Round to nearest, ties to even; a carry out of the mantissa correctly rounds up to inf.
    u += 0x7fffu + ((u >> 16) & 1u);
    r.bits = (u16)(u >> 16);
    return r;
}

// ---- compute types: f16/bf16 compute in f32, every other type in itself ----

template <class T> struct Compute { typedef T type; };
template <> struct Compute<f16> { typedef float type; };
template <> struct Compute<bf16> { typedef float type; };

// Accumulator of a reduction: f32 for every floating type but f64 (as PyTorch's acc_type on CUDA),
// i64 for the integer types (torch.sum of integers and bools is int64).
template <class T> struct Acc { typedef float type; };
template <> struct Acc<f64> { typedef double type; };
template <> struct Acc<i64> { typedef i64 type; };
template <> struct Acc<i32> { typedef i64 type; };
template <> struct Acc<u8> { typedef i64 type; };

template <class T> __device__ __forceinline__ typename Compute<T>::type to_compute(T x) { return x; }
template <> __device__ __forceinline__ float to_compute<f16>(f16 x) { return f16_to_f32(x); }
template <> __device__ __forceinline__ float to_compute<bf16>(bf16 x) { return bf16_to_f32(x); }

template <class T> __device__ __forceinline__ T from_compute(typename Compute<T>::type x) { return x; }
template <> __device__ __forceinline__ f16 from_compute<f16>(float x) { return f32_to_f16(x); }
template <> __device__ __forceinline__ bf16 from_compute<bf16>(float x) { return f32_to_bf16(x); }

// Element i of p in its reduction's accumulator type, and back (softmax, norm).
template <class T> __device__ __forceinline__ typename Acc<T>::type load_acc(const T* p, i64 i) {
    return (typename Acc<T>::type)to_compute(p[i]);
}
template <class T> __device__ __forceinline__ void store_acc(T* p, i64 i, typename Acc<T>::type v) {
    p[i] = from_compute<T>((typename Compute<T>::type)v);
}

// Load/store a storage element as a float/double (for the float-only kernel families).
template <class T> __device__ __forceinline__ float to_f32(T x) { return (float)to_compute(x); }
template <class T> __device__ __forceinline__ T from_f32(float x) {
    return from_compute<T>((typename Compute<T>::type)x);
}

// ---- constants without <cmath>/<limits> ----

template <class T> __device__ __forceinline__ T neg_inf();
template <> __device__ __forceinline__ float neg_inf<float>() { return __int_as_float(0xff800000); }
template <> __device__ __forceinline__ double neg_inf<double>() {
    return __longlong_as_double((i64)0xfff0000000000000ULL);
}
template <class T> __device__ __forceinline__ T pos_inf();
template <> __device__ __forceinline__ float pos_inf<float>() { return __int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double pos_inf<double>() {
    return __longlong_as_double((i64)0x7ff0000000000000ULL);
}
// For integer accumulators (i64), the "infinities" are the type's extremes.
template <> __device__ __forceinline__ i64 neg_inf<i64>() { return (i64)(-9223372036854775807LL - 1); }
template <> __device__ __forceinline__ i64 pos_inf<i64>() { return (i64)9223372036854775807LL; }
template <class T> __device__ __forceinline__ T quiet_nan();
template <> __device__ __forceinline__ float quiet_nan<float>() { return __int_as_float(0x7fc00000); }
template <> __device__ __forceinline__ double quiet_nan<double>() {
    return __longlong_as_double((i64)0x7ff8000000000000ULL);
}

// x != x is the NaN test that also compiles (to false) for integer types.
template <class T> __device__ __forceinline__ bool is_nan(T x) { return x != x; }

// NaN-propagating max/min (torch.maximum/torch.max semantics); plain for integers.
template <class T> __device__ __forceinline__ T max_nan(T a, T b) { return (is_nan(a) || a > b) ? a : b; }
template <class T> __device__ __forceinline__ T min_nan(T a, T b) { return (is_nan(a) || a < b) ? a : b; }

// ---- strided indexing ----

#define FT_MAX_DIMS 12

// Shape and element strides of an operand, passed by value (200 bytes: 12 + 12 i64, an int, and
// 4 bytes of tail padding). Broadcast dimensions have stride 0. Dimensions past ndim are ignored.
struct Strides {
    i64 shape[FT_MAX_DIMS];
    i64 stride[FT_MAX_DIMS];
    int ndim;
};

// Element offset of the row-major linear index `linear` of a tensor laid out as `s`.
// A runtime loop over ndim dims (not unrolled to 12): keeps every strided kernel small.
__device__ __forceinline__ i64 offset_of(i64 linear, const Strides& s) {
    i64 off = 0;
#pragma unroll 1
    for (int d = s.ndim - 1; d >= 0; --d) {
        const i64 size = s.shape[d];
        const i64 q = linear / size;
        off += (linear - q * size) * s.stride[d];
        linear = q;
    }
    return off;
}

// ---- loops ----

// for (i64 i = global thread index; i < n; i += total threads): correct for any grid size.
#define GRID_STRIDE_LOOP(i, n)                                                            \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x, i##_step = (i64)blockDim.x * gridDim.x; \
         i < (i64)(n); i += i##_step)

// One block per row, rows beyond the grid taken in turn (row-reduction kernels).
#define BLOCK_ROW_LOOP(row, rows) for (i64 row = blockIdx.x; row < (i64)(rows); row += gridDim.x)

// Threads of a block striding over the columns of one row.
#define BLOCK_COL_LOOP(col, cols) for (i64 col = threadIdx.x; col < (i64)(cols); col += blockDim.x)

// ---- warp and block reductions ----
// Every thread of the block must call the block reductions (they contain __syncthreads), and
// blockDim.x must be a multiple of 32 (full warps: the shuffles use the full mask).

#define FT_FULL_MASK 0xffffffffu

struct SumOp {
    template <class T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
    template <class T> __device__ __forceinline__ T identity() const { return (T)0; }
};
struct MaxOp {
    template <class T> __device__ __forceinline__ T operator()(T a, T b) const { return max_nan(a, b); }
    template <class T> __device__ __forceinline__ T identity() const { return neg_inf<T>(); }
};
struct MinOp {
    template <class T> __device__ __forceinline__ T operator()(T a, T b) const { return min_nan(a, b); }
    template <class T> __device__ __forceinline__ T identity() const { return pos_inf<T>(); }
};

// Reduces over the 32 lanes of a warp; lane 0 holds the result.
template <class T, class Op> __device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_down_sync(FT_FULL_MASK, v, o));
    return v;
}

// Reduces over the whole block; every thread gets the result.
template <class T, class Op> __device__ __forceinline__ T block_reduce(T v, Op op) {
    __shared__ T partial[32];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int nwarps = (blockDim.x + 31) >> 5;
    v = warp_reduce(v, op);
    __syncthreads();  // a previous call may still be reading partial[]
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < nwarps ? partial[lane] : op.template identity<T>();
        v = warp_reduce(v, op);
        if (lane == 0) partial[0] = v;
    }
    __syncthreads();
    return partial[0];
}

__device__ __forceinline__ float warp_sum(float v) { return warp_reduce(v, SumOp()); }
__device__ __forceinline__ double warp_sum(double v) { return warp_reduce(v, SumOp()); }
__device__ __forceinline__ float warp_max(float v) { return warp_reduce(v, MaxOp()); }
__device__ __forceinline__ double warp_max(double v) { return warp_reduce(v, MaxOp()); }
__device__ __forceinline__ float warp_min(float v) { return warp_reduce(v, MinOp()); }
__device__ __forceinline__ double warp_min(double v) { return warp_reduce(v, MinOp()); }

__device__ __forceinline__ float block_sum(float v) { return block_reduce(v, SumOp()); }
__device__ __forceinline__ double block_sum(double v) { return block_reduce(v, SumOp()); }
__device__ __forceinline__ float block_max(float v) { return block_reduce(v, MaxOp()); }
__device__ __forceinline__ double block_max(double v) { return block_reduce(v, MaxOp()); }
__device__ __forceinline__ float block_min(float v) { return block_reduce(v, MinOp()); }
__device__ __forceinline__ double block_min(double v) { return block_reduce(v, MinOp()); }
