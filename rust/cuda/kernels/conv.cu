// 2-D convolution by im2col: the input's patches as the columns of a matrix, so the convolution is
// one GEMM (cuBLAS), and col2im, the adjoint, for the input's gradient. Launch with
// blockDim.x = 256 (any block size is correct; nothing here reduces) and any grid: grid-stride
// loops over the output elements. x is contiguous [n, c, h, w]; cols is contiguous
// [n, c * kh * kw, oh * ow] (row index (ci * kh + ki) * kw + kj, column oy * ow + ox).
// The geometry travels as one struct:
//
//   struct ConvGeo { i64 n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow; }
//
//   im2col_<dt>(T* cols, const T* x, ConvGeo g)
//       cols[b, (ci, ki, kj), (oy, ox)] = x[b, ci, oy*sh - ph + ki*dh, ox*sw - pw + kj*dw]
//       (0 where that falls in the padding)
//   col2im_<dt>(T* x, const T* cols, ConvGeo g)
//       x[b, ci, iy, ix] = sum of the cols entries im2col read from there: each output element
//       gathers its own terms (no atomics: deterministic), accumulated in the compute type.
//
// dt in f32 f64 f16 bf16.

struct ConvGeo {
    i64 n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

template <class T> __device__ __forceinline__ void im2col(T* cols, const T* x, const ConvGeo& g) {
    const i64 l = g.oh * g.ow, rows = g.c * g.kh * g.kw;
    GRID_STRIDE_LOOP(i, g.n * rows * l) {
        const i64 col = i % l, row = (i / l) % rows, b = i / (l * rows);
        const i64 kj = row % g.kw, ki = (row / g.kw) % g.kh, ci = row / (g.kw * g.kh);
        const i64 oy = col / g.ow, ox = col % g.ow;
        const i64 iy = oy * g.sh - g.ph + ki * g.dh, ix = ox * g.sw - g.pw + kj * g.dw;
        const bool inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
        cols[i] = inside ? x[((b * g.c + ci) * g.h + iy) * g.w + ix] : from_compute<T>(0);
    }
}

template <class T> __device__ __forceinline__ void col2im(T* x, const T* cols, const ConvGeo& g) {
    const i64 l = g.oh * g.ow, rows = g.c * g.kh * g.kw;
    GRID_STRIDE_LOOP(i, g.n * g.c * g.h * g.w) {
        const i64 ix = i % g.w, iy = (i / g.w) % g.h, ci = (i / (g.w * g.h)) % g.c, b = i / (g.w * g.h * g.c);
        typename Compute<T>::type acc = 0;
        for (i64 ki = 0; ki < g.kh; ++ki) {
            const i64 ty = iy + g.ph - ki * g.dh;  // = oy * sh for the output row that read (iy, ki)
            if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.oh) continue;
            for (i64 kj = 0; kj < g.kw; ++kj) {
                const i64 tx = ix + g.pw - kj * g.dw;
                if (tx < 0 || tx % g.sw != 0 || tx / g.sw >= g.ow) continue;
                const i64 row = (ci * g.kh + ki) * g.kw + kj, col = (ty / g.sh) * g.ow + tx / g.sw;
                acc += to_compute(cols[(b * rows + row) * l + col]);
            }
        }
        x[i] = from_compute<T>(acc);
    }
}

#define CONV_KERNELS(T)                                                                    \
    extern "C" __global__ void im2col_##T(T* cols, const T* x, ConvGeo g) { im2col(cols, x, g); } \
    extern "C" __global__ void col2im_##T(T* x, const T* cols, ConvGeo g) { col2im(x, cols, g); }

CONV_KERNELS(f32)
CONV_KERNELS(f64)
CONV_KERNELS(f16)
CONV_KERNELS(bf16)
