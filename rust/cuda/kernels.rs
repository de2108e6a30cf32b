//! The CUDA C kernel sources, embedded in the library. Each `.cu` file is one family of kernels;
//! `prelude.cuh` (dtype helpers, strided indexing, block reductions) is prepended to each before
//! NVRTC compiles it, so no CUDA header has to exist on the user's machine.

pub const PRELUDE: &str = include_str!("kernels/prelude.cuh");

/// (module name, source) for every kernel family.
pub const SOURCES: &[(&str, &str)] = &[
    ("copy", include_str!("kernels/copy.cu")),
    ("elementwise", include_str!("kernels/elementwise.cu")),
    ("unary", include_str!("kernels/unary.cu")),
    ("reduce", include_str!("kernels/reduce.cu")),
    ("softmax", include_str!("kernels/softmax.cu")),
    ("norm", include_str!("kernels/norm.cu")),
    ("loss", include_str!("kernels/loss.cu")),
    ("embedding", include_str!("kernels/embedding.cu")),
    ("optim", include_str!("kernels/optim.cu")),
    ("random", include_str!("kernels/random.cu")),
    ("conv", include_str!("kernels/conv.cu")),
    ("pool", include_str!("kernels/pool.cu")),
    ("index", include_str!("kernels/index.cu")),
    ("sort", include_str!("kernels/sort.cu")),
];

/// The complete translation unit NVRTC compiles for module `name`.
pub fn full_source(name: &str) -> Option<String> {
    SOURCES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, src)| format!("{}\n{}", PRELUDE, src))
}
