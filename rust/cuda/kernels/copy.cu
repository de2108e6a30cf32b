// Fill, ramps (arange, linspace), strided-to-contiguous copy (also flipped, and keeping a
// triangle), and dtype casts.
// Launch with blockDim.x = 256 (any block size is correct) and any grid: grid-stride loops over n.
//
//   fill_<dt>(T* out, double value, i64 n)
//   copy_strided_<dt>(T* out, const T* in, Strides s, i64 n)     out[i] = in[offset_of(i, s)]
//   copy_to_strided_<dt>(T* out, Strides so, const T* in, Strides si, i64 n)
//                                    out[offset_of(i, so)] = in[offset_of(i, si)] (views of one shape;
//                                    out must not overlap itself or in)
//   flip_<dt>(T* out, const T* in, Strides s, i64 mask, i64 n)
//                                    out[i] = in at the coordinates of i, those of each dim d with
//                                    bit d of mask set mirrored (out contiguous of s.shape)
//   tri_<dt>(T* out, const T* in, i64 rows, i64 cols, i64 k, int upper, i64 n)
//                                    contiguous batches of [rows, cols] matrices: out = in where
//                                    col - row <= k (tril) or >= k (upper: triu), else 0
//   arange_<dt>(T* out, double start, double step, i64 n)        out[i] = start + i * step, in double
//   arange_int_<dt>(T* out, i64 start, i64 step, i64 n)          the same in i64 (dt: i64 i32 u8)
//   linspace_<dt>(T* out, double start, double end, i64 n)       PyTorch's symmetric form, so the
//                                    end point is exact: start + i * step below n / 2, end - (n - 1 - i)
//                                    * step from there (fused multiply-adds; in float for f32 f16 bf16)
//   cast_<src>_<dst>(D* out, const S* in, i64 n)                 contiguous, n elements
//   cast_<src>_bool(u8* out, const S* in, i64 n)                 out = (in != 0), NaN -> 1
//
// dt in f32 f64 f16 bf16 i64 i32 u8. `u8` is torch.uint8 (and the storage of torch.bool: a bool
// source is 0/1, so cast_u8_<dst> serves bool sources too).

// Value conversion as PyTorch's c10::convert does it: f16/bf16 through f32 (so f64 -> f16 rounds
// twice, as at::Half(float(x)) does), and floating -> u8 through i64 (so -1.0 becomes 255).
template <class D> struct Convert {
    template <class C> static __device__ __forceinline__ D from(C c) {
        return from_compute<D>((typename Compute<D>::type)c);
    }
};
template <> struct Convert<u8> {
    template <class C> static __device__ __forceinline__ u8 from(C c) { return (u8)(i64)c; }
};

template <class D, class S> __device__ __forceinline__ D convert(S x) {
    return Convert<D>::from(to_compute(x));
}

#define FILL_KERNEL(T)                                                                   \
    extern "C" __global__ void fill_##T(T* out, double value, i64 n) {                   \
        const T v = Convert<T>::from(value);                                             \
        GRID_STRIDE_LOOP(i, n) out[i] = v;                                               \
    }

#define COPY_STRIDED_KERNEL(T)                                                           \
    extern "C" __global__ void copy_strided_##T(T* out, const T* in, Strides s, i64 n) { \
        GRID_STRIDE_LOOP(i, n) out[i] = in[offset_of(i, s)];                             \
    }

#define COPY_TO_STRIDED_KERNEL(T)                                                         \
    extern "C" __global__ void copy_to_strided_##T(T* out, Strides so, const T* in, Strides si, \
                                                   i64 n) {                                  \
        GRID_STRIDE_LOOP(i, n) out[offset_of(i, so)] = in[offset_of(i, si)];                 \
    }

#define CAST_KERNEL(S, D)                                                                \
    extern "C" __global__ void cast_##S##_##D(D* out, const S* in, i64 n) {              \
        GRID_STRIDE_LOOP(i, n) out[i] = convert<D>(in[i]);                               \
    }

#define CAST_BOOL_KERNEL(S)                                                              \
    extern "C" __global__ void cast_##S##_bool(u8* out, const S* in, i64 n) {            \
        GRID_STRIDE_LOOP(i, n) out[i] = to_compute(in[i]) != 0 ? 1 : 0;                  \
    }

// Every cast out of one source type (identity casts are plain copies, left to the caller).
#define CASTS_FROM(S, D1, D2, D3, D4, D5, D6) \
    CAST_KERNEL(S, D1)                        \
    CAST_KERNEL(S, D2)                        \
    CAST_KERNEL(S, D3)                        \
    CAST_KERNEL(S, D4)                        \
    CAST_KERNEL(S, D5)                        \
    CAST_KERNEL(S, D6)                        \
    CAST_BOOL_KERNEL(S)

#define FLIP_KERNEL(T)                                                                    \
    extern "C" __global__ void flip_##T(T* out, const T* in, Strides s, i64 mask, i64 n) { \
        GRID_STRIDE_LOOP(i, n) {                                                          \
            i64 off = 0, linear = i;                                                      \
            for (int d = s.ndim - 1; d >= 0; --d) {                                       \
                const i64 q = linear / s.shape[d];                                        \
                const i64 c = linear - q * s.shape[d];                                    \
                off += (((mask >> d) & 1) ? s.shape[d] - 1 - c : c) * s.stride[d];        \
                linear = q;                                                               \
            }                                                                             \
            out[i] = in[off];                                                             \
        }                                                                                 \
    }

#define TRI_KERNEL(T)                                                                                   \
    extern "C" __global__ void tri_##T(T* out, const T* in, i64 rows, i64 cols, i64 k, int upper, i64 n) { \
        GRID_STRIDE_LOOP(i, n) {                                                                        \
            const i64 col = i % cols, row = (i / cols) % rows;                                          \
            const bool keep = upper ? col - row >= k : col - row <= k;                                  \
            out[i] = keep ? in[i] : T();                                                                \
        }                                                                                               \
    }

__device__ __forceinline__ float fma_in(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double fma_in(double a, double b, double c) { return fma(a, b, c); }

template <class A, class T> __device__ __forceinline__ void linspace(T* out, A start, A end, i64 n) {
    const A step = n > 1 ? (end - start) / (A)(n - 1) : (A)0;
    GRID_STRIDE_LOOP(i, n) {
        const A v = n == 1 ? start : i < n / 2 ? fma_in(step, (A)i, start) : fma_in(-step, (A)(n - 1 - i), end);
        out[i] = Convert<T>::from(v);
    }
}

#define RAMP_KERNELS(T, A)                                                                         \
    extern "C" __global__ void arange_##T(T* out, double start, double step, i64 n) {              \
        GRID_STRIDE_LOOP(i, n) out[i] = Convert<T>::from(start + (double)i * step);               \
    }                                                                                              \
    extern "C" __global__ void linspace_##T(T* out, double start, double end, i64 n) {             \
        linspace<A, T>(out, (A)start, (A)end, n);                                                  \
    }

#define ARANGE_INT_KERNEL(T)                                                                       \
    extern "C" __global__ void arange_int_##T(T* out, i64 start, i64 step, i64 n) {                \
        GRID_STRIDE_LOOP(i, n) out[i] = (T)(start + i * step);                                     \
    }

RAMP_KERNELS(f32, float)
RAMP_KERNELS(f64, double)
RAMP_KERNELS(f16, float)
RAMP_KERNELS(bf16, float)
RAMP_KERNELS(i64, double)
RAMP_KERNELS(i32, double)
RAMP_KERNELS(u8, double)
ARANGE_INT_KERNEL(i64)
ARANGE_INT_KERNEL(i32)
ARANGE_INT_KERNEL(u8)

#define FILL_AND_COPY(T) FILL_KERNEL(T) COPY_STRIDED_KERNEL(T) COPY_TO_STRIDED_KERNEL(T) FLIP_KERNEL(T) TRI_KERNEL(T)

FILL_AND_COPY(f32)
FILL_AND_COPY(f64)
FILL_AND_COPY(f16)
FILL_AND_COPY(bf16)
FILL_AND_COPY(i64)
FILL_AND_COPY(i32)
FILL_AND_COPY(u8)

CASTS_FROM(f32, f64, f16, bf16, i64, i32, u8)
CASTS_FROM(f64, f32, f16, bf16, i64, i32, u8)
CASTS_FROM(f16, f32, f64, bf16, i64, i32, u8)
CASTS_FROM(bf16, f32, f64, f16, i64, i32, u8)
CASTS_FROM(i64, f32, f64, f16, bf16, i32, u8)
CASTS_FROM(i32, f32, f64, f16, bf16, i64, u8)
CASTS_FROM(u8, f32, f64, f16, bf16, i64, i32)
