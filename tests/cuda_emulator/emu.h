// Host emulation of the CUDA subset the ferrotorch kernels use: each CUDA thread of a block is an
// OS thread; blocks run one after another. __syncthreads is a block barrier; shuffles go through
// a slot array with warp barriers. Only for functional testing on a machine without a GPU: warp
// divergence, timing and the memory model are not emulated. Used by tests/cuda_emulator/emu.py,
// which appends a table of the module's kernels so `emu_launch` can run one by name with
// cuLaunchKernel's argument convention (an array of pointers to the argument values).
#include <cstdint>
#include <cmath>
#include <cstring>
#include <barrier>
#include <mutex>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>
struct dim3 { unsigned x = 1, y = 1, z = 1; };
thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) alignas(n)
static std::unique_ptr<std::barrier<>> g_block;
static std::unique_ptr<std::barrier<>> g_warp[32];
static uint64_t g_slots[1024];
static std::mutex g_atomic;
inline void __syncthreads() { g_block->arrive_and_wait(); }
template <class T> T __shfl_down_sync(unsigned, T v, int delta) {
    int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
    std::memcpy(&g_slots[tid], &v, sizeof(T));
    g_warp[w]->arrive_and_wait();
    T r = v;
    if (lane + delta < 32) std::memcpy(&r, &g_slots[tid + delta], sizeof(T));
    g_warp[w]->arrive_and_wait();
    return r;
}
template <class T> T atomicAdd(T* p, T v) { std::lock_guard<std::mutex> g(g_atomic); T o = *p; *p = o + v; return o; }
template <class T> T atomicCAS(T* p, T cmp, T v) { std::lock_guard<std::mutex> g(g_atomic); T o = *p; if (o == cmp) *p = v; return o; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline double __longlong_as_double(long long u) { double f; std::memcpy(&f, &u, 8); return f; }
inline long long __double_as_longlong(double f) { long long u; std::memcpy(&u, &f, 8); return u; }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
// CUDA's erfinv, which libm lacks: Newton steps on erf from a start in the right basin.
inline double erfinv(double y) {
    if (!(std::fabs(y) <= 1.0)) return NAN;
    if (std::fabs(y) == 1.0) return y * INFINITY;
    const double w = -std::log1p(-y * y);
    double x = std::copysign(std::sqrt(w), y) * 0.8;  // below the root: erf is concave there
    for (int i = 0; i < 60; ++i) {
        const double r = std::fabs(y) > 0.5 ? (1.0 - std::fabs(y)) - std::erfc(std::fabs(x)) : std::erf(x) - y;
        const double step = (std::fabs(y) > 0.5 && y < 0 ? -r : r) / (1.1283791670955126 * std::exp(-x * x));
        x -= step;
        if (std::fabs(step) <= 1e-17 * std::fabs(x)) break;
    }
    return x;
}
inline float erfinvf(float y) { return (float)erfinv((double)y); }
inline void sincospif(float x, float* s, float* c) { double a = M_PI * (double)x; *s = (float)std::sin(a); *c = (float)std::cos(a); }
inline void sincospi(double x, double* s, double* c) { double a = M_PI * x; *s = std::sin(a); *c = std::cos(a); }
inline float emu_h2f(unsigned short b) { _Float16 h; std::memcpy(&h, &b, 2); return (float)h; }
inline unsigned short emu_f2h(float f) { _Float16 h = (_Float16)f; unsigned short b; std::memcpy(&b, &h, 2); return b; }
extern "C" void emu_begin_block(unsigned bx, unsigned bdim, unsigned gdim) {
    blockDim.x = bdim; gridDim.x = gdim;
    g_block = std::make_unique<std::barrier<>>(bdim);
    for (unsigned w = 0; w < (bdim + 31) / 32; ++w) g_warp[w] = std::make_unique<std::barrier<>>(std::min(32u, bdim - 32 * w));
    (void)bx;
}
extern "C" void emu_set_thread(unsigned tx, unsigned bx) { threadIdx.x = tx; blockIdx.x = bx; }

// ---- launching by name (the emulated CUDA device of the Rust runtime calls this) ----
struct EmuKernel { const char* name; void (*call)(void**); };
extern const EmuKernel emu_kernels[];
extern const int emu_kernel_count;
template <class... A, std::size_t... I>
void emu_call_with(void (*f)(A...), void** p, std::index_sequence<I...>) {
    f(*static_cast<std::remove_cv_t<A>*>(p[I])...);
}
template <class... A> void emu_call(void (*f)(A...), void** p) { emu_call_with(f, p, std::index_sequence_for<A...>{}); }
static std::mutex g_launch;
// Runs kernel `name` over a 1-D grid of 1-D blocks, synchronously; returns 1 for an unknown kernel.
extern "C" int emu_launch(const char* name, unsigned grid, unsigned block, void** params) {
    const EmuKernel* k = nullptr;
    for (int i = 0; i < emu_kernel_count; ++i)
        if (std::strcmp(emu_kernels[i].name, name) == 0) k = &emu_kernels[i];
    if (k == nullptr) return 1;
    std::lock_guard<std::mutex> g(g_launch);
    for (unsigned b = 0; b < grid; ++b) {
        emu_begin_block(b, block, grid);
        std::vector<std::thread> threads;
        threads.reserve(block);
        for (unsigned t = 0; t < block; ++t)
            threads.emplace_back([=] { emu_set_thread(t, b); k->call(params); });
        for (auto& th : threads) th.join();
    }
    return 0;
}
