//! Tensor ops as kernels on a CUDA device (sources in `kernels/`, conventions in each file's
//! header). Every entry answers Ok(false) for a case it does not take: a dtype or layout without a
//! kernel, an operand in host memory, a module the emulated device has no build of. The caller
//! then computes on the host, which can address device memory (`before_host_access` waits for
//! the queued kernels first), so coverage grows op by op without changing results.

use super::device::{gpu, DeviceAssert, Gpu};
use super::optim::TensorList;
use crate::ops::elementwise::{BinaryOp, UnaryOp};
use crate::ops::index::ScatterMode;
use crate::ops::nn::NllRows;
use crate::ops::reduce::Reduction;
use crate::tensor::{DType, Device, Layout, Ramp, Result, Scalar, Tensor};
use smallvec::SmallVec;
use std::ffi::c_void;

const MAX_DIMS: usize = 12;
/// Largest row-kernel grid (blocks loop over the rows past it).
const MAX_ROW_GRID: usize = 65535;

/// The kernels' strided-view descriptor (`Strides` in prelude.cuh), in elements.
#[repr(C)]
#[derive(Clone, Copy)]
struct Strides {
    shape: [i64; MAX_DIMS],
    stride: [i64; MAX_DIMS],
    ndim: i32,
}

const _: () = assert!(std::mem::size_of::<Strides>() == 200);

fn strides_of(l: &Layout) -> Option<Strides> {
    if l.shape.len() > MAX_DIMS {
        return None;
    }
    let mut s = Strides {
        shape: [0; MAX_DIMS],
        stride: [0; MAX_DIMS],
        ndim: l.shape.len() as i32,
    };
    for (d, (&n, &st)) in l.shape.iter().zip(&l.strides).enumerate() {
        s.shape[d] = n as i64;
        s.stride[d] = st as i64;
    }
    Some(s)
}

/// One kernel argument, kept in place while the launch reads it.
enum Arg {
    Ptr(u64),
    I32(i32),
    I64(i64),
    F64(f64),
    Strides(Box<Strides>),
    Conv(Box<ConvGeo>),
    Pool(Box<PoolGeo>),
    List(Box<TensorList>),
}

/// A kernel launch being assembled: arguments in the kernel's parameter order.
pub(super) struct Launch {
    gpu: &'static Gpu,
    module: &'static str,
    args: Vec<Arg>,
}

impl Launch {
    pub(super) fn new(gpu: &'static Gpu, module: &'static str) -> Launch {
        Launch {
            gpu,
            module,
            args: Vec::with_capacity(8),
        }
    }
    pub(super) fn tensor(mut self, t: &Tensor) -> Self {
        self.args.push(Arg::Ptr(t.device_data_ptr()));
        self
    }
    pub(super) fn null(mut self) -> Self {
        self.args.push(Arg::Ptr(0));
        self
    }
    /// The device's flag for `site` (`DeviceAssert`): the kernel sets it on bad input.
    fn assert_flag(mut self, site: DeviceAssert) -> Self {
        self.args
            .push(Arg::Ptr(self.gpu.assert_flag(site).unwrap_or(0)));
        self
    }
    pub(super) fn i32(mut self, v: i32) -> Self {
        self.args.push(Arg::I32(v));
        self
    }
    pub(super) fn flag(mut self, v: bool) -> Self {
        self.args.push(Arg::I32(v as i32));
        self
    }
    fn int(mut self, v: i64) -> Self {
        self.args.push(Arg::I64(v));
        self
    }
    pub(super) fn i64(mut self, v: usize) -> Self {
        self.args.push(Arg::I64(v as i64));
        self
    }
    pub(super) fn f64(mut self, v: f64) -> Self {
        self.args.push(Arg::F64(v));
        self
    }
    pub(super) fn list(mut self, l: TensorList) -> Self {
        self.args.push(Arg::List(Box::new(l)));
        self
    }
    fn strides(mut self, s: Strides) -> Self {
        self.args.push(Arg::Strides(Box::new(s)));
        self
    }
    pub(super) fn run(mut self, kernel: &str, grid: u32) -> Result<()> {
        let mut params: Vec<*mut c_void> = self
            .args
            .iter_mut()
            .map(|a| match a {
                Arg::Ptr(p) => p as *mut u64 as *mut c_void,
                Arg::I32(v) => v as *mut i32 as *mut c_void,
                Arg::I64(v) => v as *mut i64 as *mut c_void,
                Arg::F64(v) => v as *mut f64 as *mut c_void,
                Arg::Strides(s) => s.as_mut() as *mut Strides as *mut c_void,
                Arg::Conv(g) => g.as_mut() as *mut ConvGeo as *mut c_void,
                Arg::Pool(g) => g.as_mut() as *mut PoolGeo as *mut c_void,
                Arg::List(l) => l.as_mut() as *mut TensorList as *mut c_void,
            })
            .collect();
        // SAFETY: each entry point below passes the arguments its kernel declares (see the
        // header of its .cu file), with pointers into storages of the launching device that are
        // alive for the call; the stream orders later users of those blocks after the kernel.
        unsafe {
            self.gpu.run(
                self.module,
                kernel,
                grid,
                self.gpu.block_size(),
                &mut params,
            )
        }
    }
}

/// The kernels' dtype suffix (`bool` is stored as `u8`).
pub(super) fn suffix(dt: DType) -> Option<&'static str> {
    Some(match dt {
        DType::F32 => "f32",
        DType::F64 => "f64",
        DType::F16 => "f16",
        DType::BF16 => "bf16",
        DType::I64 => "i64",
        DType::I32 => "i32",
        DType::U8 | DType::Bool => "u8",
        _ => return None,
    })
}

/// The GPU `t` lives on, when kernels of `module` run there.
pub(super) fn gpu_for(t: &Tensor, module: &str) -> Option<&'static Gpu> {
    let Device::Cuda(i) = t.device() else {
        return None;
    };
    let g = gpu(i).ok()?;
    g.runs_kernels(module).then_some(g)
}

/// Blocks for a grid-stride loop over n elements.
pub(super) fn grid_for(g: &Gpu, n: usize) -> u32 {
    n.div_ceil(g.block_size() as usize)
        .clamp(1, g.max_grid() as usize) as u32
}

fn row_grid(rows: usize) -> u32 {
    rows.clamp(1, MAX_ROW_GRID) as u32
}

/// The one element of `t` as a 0-dim view, when `t` is a host tensor (off `dev`) that broadcasts
/// a single value over its shape (a Python number or a 0-dim CPU tensor).
fn host_scalar(t: &Tensor, dev: Device) -> Option<Tensor> {
    if t.device() == dev || t.numel() == 0 || t.layout.strides.iter().any(|&s| s != 0) {
        return None;
    }
    Some(t.with_layout(Layout {
        shape: SmallVec::new(),
        strides: SmallVec::new(),
        offset: t.layout.offset,
    }))
}

/// `t` as an operand of a kernel on `dev`: itself, or, for one host value broadcast over the
/// shape, a one-element device copy read through zero strides. None for other host tensors.
fn operand(t: &Tensor, dev: Device) -> Result<Option<Tensor>> {
    if t.device() == dev {
        return Ok(Some(t.clone()));
    }
    let Some(one) = host_scalar(t, dev) else {
        return Ok(None);
    };
    let d = one.to_device_raw(dev)?;
    Ok(Some(d.with_layout(Layout {
        shape: t.layout.shape.clone(),
        strides: SmallVec::from_elem(0, t.ndim()),
        offset: 0,
    })))
}

/// `out = a (op) b`: operands in the compute dtype `dt` with out's shape (broadcast views), out
/// contiguous.
pub fn binary(op: BinaryOp, dt: DType, out: &Tensor, a: &Tensor, b: &Tensor) -> Result<bool> {
    use BinaryOp::*;
    let (float, int, bool_) = (dt.is_float(), dt.is_int(), dt == DType::Bool);
    let name = match op {
        // bool tensors are u8 0/1: + and max are or, * and min are and
        Add | Maximum | BitOr if bool_ => "bitwise_or",
        Mul | Minimum | BitAnd if bool_ => "bitwise_and",
        BitXor if bool_ => "bitwise_xor",
        _ if bool_ && !op.is_comparison() && !op.is_logical() => return Ok(false),
        Add => "add",
        Sub => "sub",
        Mul => "mul",
        Div if float => "div",
        Pow if float => "pow",
        // integer kernels flag a zero divisor as a device-side assert (`DeviceAssert::ZeroDivision`)
        FloorDiv => "floor_divide",
        Rem => "remainder",
        Fmod => "fmod",
        Atan2 if float => "atan2",
        BitAnd if int => "bitwise_and",
        BitOr if int => "bitwise_or",
        BitXor if int => "bitwise_xor",
        Shl if int => "shl",
        Shr if int => "shr",
        Maximum => "maximum",
        Minimum => "minimum",
        Eq => "eq",
        Ne => "ne",
        Lt => "lt",
        Le => "le",
        Gt => "gt",
        Ge => "ge",
        And => "logical_and",
        Or => "logical_or",
        Xor => "logical_xor",
        _ => return Ok(false),
    };
    let (Some(g), Some(sfx)) = (gpu_for(out, "elementwise"), suffix(dt)) else {
        return Ok(false);
    };
    if !out.is_contiguous() {
        return Ok(false);
    }
    let dev = out.device();
    if scalar_binary(g, op, dt, out, a, b)? {
        return Ok(true);
    }
    let (Some(a), Some(b)) = (operand(a, dev)?, operand(b, dev)?) else {
        return Ok(false);
    };
    let n = out.numel();
    if n == 0 {
        return Ok(true);
    }
    let launch = Launch::new(g, "elementwise").tensor(out);
    let (launch, kernel) = if a.is_contiguous() && b.is_contiguous() {
        let launch = launch.tensor(&a).tensor(&b).i64(n);
        (launch, format!("{}_{}", name, sfx))
    } else {
        let (Some(sa), Some(sb)) = (strides_of(&a.layout), strides_of(&b.layout)) else {
            return Ok(false);
        };
        let launch = launch.tensor(&a).strides(sa).tensor(&b).strides(sb).i64(n);
        (launch, format!("{}_strided_{}", name, sfx))
    };
    let launch = if int && matches!(op, FloorDiv | Rem | Fmod) {
        launch.assert_flag(DeviceAssert::ZeroDivision)
    } else {
        launch
    };
    launch.run(&kernel, grid_for(g, n))?;
    Ok(true)
}

/// `a (op) v` for a contiguous device `a` and one host value `v` (a Python number): the scalar
/// kernels, with subtraction as adding -v and division as multiplying by 1/v (as PyTorch's CUDA
/// division by a host scalar does).
fn scalar_binary(
    g: &'static Gpu,
    op: BinaryOp,
    dt: DType,
    out: &Tensor,
    a: &Tensor,
    b: &Tensor,
) -> Result<bool> {
    let Some(v) = host_scalar(b, out.device())
        .map(|one| one.item())
        .transpose()?
    else {
        return Ok(false);
    };
    let exact = dt.is_float() || v.to_f64().abs() < (1u64 << 53) as f64;
    let (name, v) = match op {
        BinaryOp::Add => ("add_scalar", v.to_f64()),
        BinaryOp::Sub => ("add_scalar", -v.to_f64()),
        BinaryOp::Mul => ("mul_scalar", v.to_f64()),
        BinaryOp::Div if dt.is_float() => ("mul_scalar", 1.0 / v.to_f64()),
        _ => return Ok(false),
    };
    let Some(sfx) = suffix(dt) else {
        return Ok(false);
    };
    let unsigned = matches!(dt, DType::U8 | DType::Bool);
    if !exact || unsigned || a.device() != out.device() || !a.is_contiguous() {
        return Ok(false);
    }
    let n = out.numel();
    Launch::new(g, "elementwise")
        .tensor(out)
        .tensor(a)
        .f64(v)
        .i64(n)
        .run(&format!("{}_{}", name, sfx), grid_for(g, n))?;
    Ok(true)
}

/// `out = op(x)` for a floating x of out's shape and dtype, out contiguous: the hot ops have
/// kernels of their own in elementwise.cu, the others go through unary.cu's `unary_math`.
pub fn unary(op: UnaryOp, out: &Tensor, x: &Tensor) -> Result<bool> {
    use UnaryOp::*;
    let dedicated = match op {
        Neg => "neg",
        Abs => "abs",
        Exp => "exp",
        Log => "log",
        Sqrt => "sqrt",
        Rsqrt => "rsqrt",
        Sin => "sin",
        Cos => "cos",
        Tanh => "tanh",
        Sigmoid => "sigmoid",
        Relu => "relu",
        Gelu => "gelu",
        Silu => "silu",
        _ => return unary_family(UnaryFamily::Math, op, out, x),
    };
    if !x.dtype.is_float() || out.dtype != x.dtype {
        return Ok(false);
    }
    let Some((g, x)) = unary_operand("elementwise", out, x)? else {
        return Ok(false);
    };
    let n = out.numel();
    Launch::new(g, "elementwise")
        .tensor(out)
        .tensor(&x)
        .i64(n)
        .run(
            &format!("{}_{}", dedicated, suffix(x.dtype).unwrap_or("")),
            grid_for(g, n),
        )?;
    Ok(true)
}

/// `out = d op/dx (x)` for the ops whose derivative is not a tensor expression.
pub fn unary_deriv(op: UnaryOp, out: &Tensor, x: &Tensor) -> Result<bool> {
    unary_family(UnaryFamily::Deriv, op, out, x)
}

/// The bool-valued ops (isnan, isinf, isfinite, signbit, logical_not) into a contiguous bool out.
pub fn unary_test(op: UnaryOp, out: &Tensor, x: &Tensor) -> Result<bool> {
    unary_family(UnaryFamily::Test, op, out, x)
}

/// The integer ops (neg, abs, sign, square, relu, clamp, threshold, bitwise_not) of an i64, i32 or
/// u8 x into out of x's dtype.
pub fn unary_int(op: UnaryOp, out: &Tensor, x: &Tensor) -> Result<bool> {
    unary_family(UnaryFamily::Int, op, out, x)
}

/// unary.cu's kernel families: `unary_math`/`unary_deriv` (floats, three parameters),
/// `unary_test` (bool out, no parameters), `unary_int` (integers, two parameters).
#[derive(Clone, Copy, PartialEq)]
enum UnaryFamily {
    Math,
    Deriv,
    Test,
    Int,
}

/// One launch of a unary.cu kernel of `family`; its arguments follow the op code.
fn unary_family(family: UnaryFamily, op: UnaryOp, out: &Tensor, x: &Tensor) -> Result<bool> {
    use UnaryFamily::*;
    let dtypes_fit = match family {
        Test => out.dtype == DType::Bool,
        Int => out.dtype == x.dtype && matches!(x.dtype, DType::I64 | DType::I32 | DType::U8),
        Math | Deriv => out.dtype == x.dtype && x.dtype.is_float(),
    };
    if !dtypes_fit {
        return Ok(false);
    }
    let Some((g, x)) = unary_operand("unary", out, x)? else {
        return Ok(false);
    };
    let n = out.numel();
    let p = op.params();
    let launch = Launch::new(g, "unary")
        .tensor(out)
        .tensor(&x)
        .i32(op.code());
    let (launch, name) = match family {
        Test => (launch, "unary_test"),
        Int => (launch.f64(p[0]).f64(p[1]), "unary_int"),
        Math => (launch.f64(p[0]).f64(p[1]).f64(p[2]), "unary_math"),
        Deriv => (launch.f64(p[0]).f64(p[1]).f64(p[2]), "unary_deriv"),
    };
    launch.i64(n).run(
        &format!("{}_{}", name, suffix(x.dtype).unwrap_or("")),
        grid_for(g, n),
    )?;
    Ok(true)
}

/// The GPU of contiguous `out` and x as a kernel operand there (contiguous: a strided x is
/// copied first, on the device), when `module` runs there and x lives on out's device.
fn unary_operand(module: &str, out: &Tensor, x: &Tensor) -> Result<Option<(&'static Gpu, Tensor)>> {
    let Some(g) = gpu_for(out, module) else {
        return Ok(None);
    };
    if suffix(x.dtype).is_none()
        || x.device() != out.device()
        || !out.is_contiguous()
        || out.shape() != x.shape()
    {
        return Ok(None);
    }
    let x = if x.is_contiguous() {
        x.detach()
    } else {
        x.clone_contiguous()?
    };
    Ok(Some((g, x)))
}

/// `dst = src` (cast to dst's dtype), src already broadcast to dst's shape, dst contiguous:
/// a strided copy within one dtype, a cast between contiguous buffers, a fill from one host value.
pub fn copy(dst: &Tensor, src: &Tensor) -> Result<bool> {
    let Some(g) = gpu_for(dst, "copy") else {
        return Ok(false);
    };
    if let Some(one) = host_scalar(src, dst.device()) {
        return fill(dst, one.item()?);
    }
    let (Some(sd), Some(ss)) = (suffix(dst.dtype), suffix(src.dtype)) else {
        return Ok(false);
    };
    if src.device() != dst.device() {
        return Ok(false);
    }
    let n = dst.numel();
    if n == 0 {
        return Ok(true);
    }
    if !dst.is_contiguous() {
        let (Some(so), Some(si)) = (strides_of(&dst.layout), strides_of(&src.layout)) else {
            return Ok(false);
        };
        if dst.dtype != src.dtype {
            return Ok(false);
        }
        Launch::new(g, "copy")
            .tensor(dst)
            .strides(so)
            .tensor(src)
            .strides(si)
            .i64(n)
            .run(&format!("copy_to_strided_{}", sd), grid_for(g, n))?;
        return Ok(true);
    }
    let launch = Launch::new(g, "copy").tensor(dst).tensor(src);
    let to = if dst.dtype == DType::Bool { "bool" } else { sd };
    // bool to uint8 is a copy too: bool is stored as 0/1 bytes
    if dst.dtype == src.dtype || ss == to {
        let Some(s) = strides_of(&src.layout) else {
            return Ok(false);
        };
        launch
            .strides(s)
            .i64(n)
            .run(&format!("copy_strided_{}", sd), grid_for(g, n))?;
    } else if src.is_contiguous() {
        launch
            .i64(n)
            .run(&format!("cast_{}_{}", ss, to), grid_for(g, n))?;
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// Every element of contiguous `t` set to `v` (integers only where a double holds them exactly).
pub fn fill(t: &Tensor, v: Scalar) -> Result<bool> {
    let (Some(g), Some(sfx)) = (gpu_for(t, "copy"), suffix(t.dtype)) else {
        return Ok(false);
    };
    let value = match (t.dtype, v) {
        (DType::Bool, v) => (v.to_f64() != 0.0) as u8 as f64,
        (d, Scalar::Int(i)) if !d.is_float() && i.unsigned_abs() > 1 << 53 => return Ok(false),
        (d, v) if !d.is_float() => v.to_i64() as f64,
        (_, v) => v.to_f64(),
    };
    if !t.is_contiguous() {
        return Ok(false);
    }
    let n = t.numel();
    if n > 0 {
        Launch::new(g, "copy")
            .tensor(t)
            .f64(value)
            .i64(n)
            .run(&format!("fill_{}", sfx), grid_for(g, n))?;
    }
    Ok(true)
}

/// `arange` / `linspace` into contiguous 1-D `out` on a GPU, as a kernel (false: not taken).
pub fn ramp(out: &Tensor, r: Ramp) -> Result<bool> {
    let (Some(g), Some(sfx)) = (gpu_for(out, "copy"), suffix(out.dtype)) else {
        return Ok(false);
    };
    let n = out.numel();
    if out.dtype == DType::Bool || !out.is_contiguous() {
        return Ok(false);
    }
    if n == 0 {
        return Ok(true);
    }
    let launch = Launch::new(g, "copy").tensor(out);
    let (launch, name) = match r {
        Ramp::Float { start, step } => (launch.f64(start).f64(step), "arange"),
        Ramp::Int { .. } if out.dtype.is_float() => return Ok(false),
        Ramp::Int { start, step } => (launch.int(start).int(step), "arange_int"),
        Ramp::Linspace { start, end } => (launch.f64(start).f64(end), "linspace"),
    };
    launch
        .i64(n)
        .run(&format!("{}_{}", name, sfx), grid_for(g, n))?;
    Ok(true)
}

/// Softmax (or log-softmax) of contiguous `x` over its last dimension into contiguous `out`.
pub fn softmax_rows(out: &Tensor, x: &Tensor, log: bool) -> Result<bool> {
    let (Some(g), Some(sfx)) = (gpu_for(x, "softmax"), suffix(x.dtype)) else {
        return Ok(false);
    };
    if !x.dtype.is_float() || !x.is_contiguous() || !out.is_contiguous() || x.ndim() == 0 {
        return Ok(false);
    }
    let cols = x.shape()[x.ndim() - 1];
    let rows = x.numel().checked_div(cols).unwrap_or(0);
    if rows > 0 {
        let kernel = if log {
            "log_softmax_rows"
        } else {
            "softmax_rows"
        };
        Launch::new(g, "softmax")
            .tensor(out)
            .tensor(x)
            .i64(rows)
            .i64(cols)
            .run(&format!("{}_{}", kernel, sfx), row_grid(rows))?;
    }
    Ok(true)
}

impl Reduction {
    /// reduce.cu's kernel name stem.
    fn stem(self) -> &'static str {
        match self {
            Reduction::Sum => "sum",
            Reduction::Prod => "prod",
            Reduction::Max => "max",
            Reduction::Min => "min",
        }
    }
    /// The result dtype: sums and products of integers and bools are int64 (torch.sum/prod).
    fn out_dtype(self, x: DType) -> DType {
        match self {
            Reduction::Sum | Reduction::Prod if !x.is_float() => DType::I64,
            _ => x,
        }
    }
    /// The dtype of a two-pass reduction's partials: the accumulator for sums and products,
    /// the input's dtype for max/min.
    fn partial_dtype(self, x: DType) -> DType {
        match self {
            Reduction::Max | Reduction::Min => x,
            _ if x == DType::F64 => DType::F64,
            _ if x.is_float() => DType::F32,
            _ => DType::I64,
        }
    }
}

/// Below this many columns a row is reduced by one thread (`*_mid` kernels) rather than a block.
const BLOCK_ROW_MIN_COLS: usize = 64;
/// Above this many elements a whole-buffer reduction takes two passes over many blocks rather
/// than one block.
const TWO_PASS_MIN: usize = 1 << 15;

/// `kind` of `x` over `dims` (sorted, distinct) shaped `out_shape`. A contiguous x whose reduced
/// dims are adjacent is read in place as [outer, cols, inner]; otherwise the reduced dims are
/// moved last by a strided copy. One output of many elements: two passes over the whole buffer.
pub fn reduce_dims(
    x: &Tensor,
    dims: &[usize],
    kind: Reduction,
    out_shape: &[usize],
) -> Result<Option<Tensor>> {
    let (Some(g), Some(sfx)) = (gpu_for(x, "reduce"), suffix(x.dtype)) else {
        return Ok(None);
    };
    let out = Tensor::empty(out_shape, kind.out_dtype(x.dtype), x.device())?;
    if out.numel() == 0 {
        return Ok(Some(out));
    }
    let sh = x.shape();
    let adjacent = dims.windows(2).all(|w| w[1] == w[0] + 1);
    let (x, outer, cols, inner) = match (dims.first(), dims.last()) {
        (Some(&first), Some(&last)) if x.is_contiguous() && adjacent => {
            let size = |r: &[usize]| r.iter().product::<usize>();
            (
                x.detach(),
                size(&sh[..first]),
                size(&sh[first..=last]),
                size(&sh[last + 1..]),
            )
        }
        _ => {
            let kept: Vec<usize> = (0..x.ndim()).filter(|d| !dims.contains(d)).collect();
            let perm: Vec<i64> = kept.iter().chain(dims).map(|&d| d as i64).collect();
            let rows = kept.iter().map(|&d| sh[d]).product();
            let cols = dims.iter().map(|&d| sh[d]).product();
            (x.detach().permute(&perm)?.contiguous()?, rows, cols, 1)
        }
    };
    let stem = kind.stem();
    if outer * inner == 1 && cols > TWO_PASS_MIN {
        let grid = grid_for(g, cols).min(1024);
        let pd = kind.partial_dtype(x.dtype);
        let partial = Tensor::empty(&[grid as usize], pd, x.device())?;
        Launch::new(g, "reduce")
            .tensor(&partial)
            .tensor(&x)
            .i64(cols)
            .run(&format!("{}_all_{}", stem, sfx), grid)?;
        let fin = if out.dtype == pd {
            out.clone()
        } else {
            Tensor::empty(out_shape, pd, x.device())?
        };
        Launch::new(g, "reduce")
            .tensor(&fin)
            .tensor(&partial)
            .i64(grid as usize)
            .run(&format!("{}_all_{}", stem, suffix(pd).unwrap_or("")), 1)?;
        if out.dtype != pd {
            out.copy_raw(&fin)?;
        }
    } else if inner == 1 && cols >= BLOCK_ROW_MIN_COLS {
        Launch::new(g, "reduce")
            .tensor(&out)
            .tensor(&x)
            .i64(outer)
            .i64(cols)
            .run(&format!("{}_rows_{}", stem, sfx), row_grid(outer))?;
    } else {
        Launch::new(g, "reduce")
            .tensor(&out)
            .tensor(&x)
            .i64(outer)
            .i64(cols)
            .i64(inner)
            .run(&format!("{}_mid_{}", stem, sfx), grid_for(g, outer * inner))?;
    }
    Ok(Some(out))
}

/// Layer norm without affine over the last `cols` elements of contiguous floating `x`: the
/// normalised rows and each row's 1/std (in x's dtype, as the host path returns them).
pub fn layer_norm_rows(
    x: &Tensor,
    rows: usize,
    cols: usize,
    eps: f64,
) -> Result<Option<(Tensor, Tensor)>> {
    let (Some(g), Some(sfx)) = (gpu_for(x, "norm"), suffix(x.dtype)) else {
        return Ok(None);
    };
    if !x.dtype.is_float() || !x.is_contiguous() {
        return Ok(None);
    }
    let acc = if x.dtype == DType::F64 {
        DType::F64
    } else {
        DType::F32
    };
    let (dev, out) = (x.device(), Tensor::empty(x.shape(), x.dtype, x.device())?);
    let (mean, rstd) = (
        Tensor::empty(&[rows], acc, dev)?,
        Tensor::empty(&[rows], acc, dev)?,
    );
    if rows > 0 {
        Launch::new(g, "norm")
            .tensor(&out)
            .tensor(&mean)
            .tensor(&rstd)
            .tensor(x)
            .null()
            .null()
            .i64(rows)
            .i64(cols)
            .f64(eps)
            .run(&format!("layer_norm_rows_{}", sfx), row_grid(rows))?;
    }
    Ok(Some((out, rstd.cast_raw(x.dtype)?)))
}

/// `out[r] = w[idx[r]]` for contiguous 2-D floating `w`, `idx` i64 [n] contiguous on w's device
/// (read there: an index out of range is a device-side assert, `DeviceAssert::EmbeddingIndex`).
pub fn embedding(out: &Tensor, w: &Tensor, idx: &Tensor) -> Result<bool> {
    let (Some(g), Some(sfx)) = (gpu_for(w, "embedding"), suffix(w.dtype)) else {
        return Ok(false);
    };
    if !w.dtype.is_float() || w.ndim() != 2 || !w.is_contiguous() || !out.is_contiguous() {
        return Ok(false);
    }
    let (v, d, n) = (w.shape()[0], w.shape()[1], idx.numel());
    if n == 0 || d == 0 {
        return Ok(true);
    }
    Launch::new(g, "embedding")
        .tensor(out)
        .tensor(w)
        .tensor(idx)
        .i64(n)
        .i64(d)
        .i64(v)
        .assert_flag(DeviceAssert::EmbeddingIndex)
        .run(&format!("embedding_{}", sfx), grid_for(g, n * d))?;
    Ok(true)
}

/// `grad_w[idx[r]] += grad[r]` into zeroed contiguous f32/f64 `grad_w` (atomic adds), skipping
/// rows whose index is `padding_idx` (-1: none) or out of range; `idx` as for `embedding`.
pub fn embedding_backward(
    grad_w: &Tensor,
    grad: &Tensor,
    idx: &Tensor,
    padding_idx: i64,
) -> Result<bool> {
    let Some(g) = gpu_for(grad, "embedding") else {
        return Ok(false);
    };
    if !matches!(grad.dtype, DType::F32 | DType::F64)
        || grad_w.dtype != grad.dtype
        || grad_w.device() != grad.device()
        || !grad.is_contiguous()
        || !grad_w.is_contiguous()
    {
        return Ok(false);
    }
    let (v, d, n) = (grad_w.shape()[0], grad_w.shape()[1], idx.numel());
    if n == 0 || d == 0 {
        return Ok(true);
    }
    Launch::new(g, "embedding")
        .tensor(grad_w)
        .tensor(grad)
        .tensor(idx)
        .i64(n)
        .i64(d)
        .i64(v)
        .int(padding_idx)
        .run(
            &format!("embedding_backward_{}", suffix(grad.dtype).unwrap_or("f32")),
            grid_for(g, n * d),
        )?;
    Ok(true)
}

/// `max(dim)` / `min(dim)` of floating `x` over dim `d` (non-empty): values and first indices of the
/// extreme (NaN wins), shaped `out_shape`; dim `d` is moved last first (a strided copy).
pub fn extreme_dim(
    x: &Tensor,
    d: usize,
    is_max: bool,
    out_shape: &[usize],
) -> Result<Option<(Tensor, Tensor)>> {
    let (Some(g), Some(sfx)) = (gpu_for(x, "reduce"), suffix(x.dtype)) else {
        return Ok(None);
    };
    let cols = x.shape()[d];
    let rows = x.numel() / cols.max(1);
    let xl = x.detach().movedim(d as i64, -1)?.contiguous()?;
    let dev = x.device();
    let (vals, idx) = (
        Tensor::empty(out_shape, x.dtype, dev)?,
        Tensor::empty(out_shape, DType::I64, dev)?,
    );
    if rows > 0 {
        let (v, i) = if is_max {
            ("max_rows", "argmax_rows")
        } else {
            ("min_rows", "argmin_rows")
        };
        for (out, kernel) in [(&vals, v), (&idx, i)] {
            Launch::new(g, "reduce")
                .tensor(out)
                .tensor(&xl)
                .i64(rows)
                .i64(cols)
                .run(&format!("{}_{}", kernel, sfx), row_grid(rows))?;
        }
    }
    Ok(Some((vals, idx)))
}

/// `out = cond ? a : b` with every operand already broadcast to out's (contiguous) shape and a, b
/// in out's dtype; cond is bool.
pub fn where_(out: &Tensor, cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<bool> {
    let (Some(g), Some(sfx)) = (gpu_for(out, "elementwise"), suffix(out.dtype)) else {
        return Ok(false);
    };
    if !out.is_contiguous() || cond.dtype != DType::Bool {
        return Ok(false);
    }
    let dev = out.device();
    let (Some(c), Some(a), Some(b)) = (operand(cond, dev)?, operand(a, dev)?, operand(b, dev)?)
    else {
        return Ok(false);
    };
    let (Some(sc), Some(sa), Some(sb)) = (
        strides_of(&c.layout),
        strides_of(&a.layout),
        strides_of(&b.layout),
    ) else {
        return Ok(false);
    };
    let n = out.numel();
    if n > 0 {
        Launch::new(g, "elementwise")
            .tensor(out)
            .tensor(&c)
            .strides(sc)
            .tensor(&a)
            .strides(sa)
            .tensor(&b)
            .strides(sb)
            .i64(n)
            .run(&format!("where_{}", sfx), grid_for(g, n))?;
    }
    Ok(true)
}

/// Cross-entropy (`from_logits`: log_softmax first) or nll_loss (x holds log-probabilities)
/// forward over class rows `x` ([rows, c], contiguous floating, on the device) with class-index
/// `target`: nll per row. A target out of range is a device-side
/// assert (`DeviceAssert::CrossEntropyTarget`), raised at the next call that waits for the device.
pub fn nll_forward(
    x: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    from_logits: bool,
) -> Result<Option<NllRows>> {
    let (Some(g), Some(sfx)) = (gpu_for(x, "loss"), suffix(x.dtype)) else {
        return Ok(None);
    };
    if !x.dtype.is_float() || x.ndim() != 2 || gpu_for(x, "softmax").is_none() {
        return Ok(None);
    }
    let (rows, c, dev) = (x.shape()[0], x.shape()[1], x.device());
    let logprobs = if from_logits {
        let lp = Tensor::empty(x.shape(), x.dtype, dev)?;
        if !softmax_rows(&lp, x, true)? {
            return Ok(None);
        }
        lp
    } else {
        x.contiguous()?
    };
    let target = target.detach().cast_raw(DType::I64)?.contiguous()?;
    let weight = weight
        .map(|w| w.detach().cast_raw(x.dtype)?.contiguous())
        .transpose()?;
    let (loss, row_weight) = (
        Tensor::empty(&[rows], x.dtype, dev)?,
        Tensor::empty(&[rows], x.dtype, dev)?,
    );
    if rows > 0 {
        let launch = Launch::new(g, "loss")
            .tensor(&loss)
            .tensor(&logprobs)
            .tensor(&target);
        let launch = match &weight {
            Some(w) => launch.tensor(w),
            None => launch.null(),
        };
        launch
            .i64(rows)
            .i64(c)
            .int(ignore_index)
            .tensor(&row_weight)
            .assert_flag(DeviceAssert::CrossEntropyTarget)
            .run(&format!("nll_rows_{}", sfx), grid_for(g, rows))?;
    }
    Ok(Some(NllRows {
        logprobs,
        loss,
        row_weight,
        target,
        weight,
    }))
}

/// d cross-entropy / d logits for rows `lp` (log-probabilities): (softmax - onehot) · w[t] · grad
/// (`from_logits`; else d nll_loss / d lp: -onehot · w[t] · grad), where `grad` is the loss's
/// gradient per row ([rows], reduction='none') or one value for all rows ([1] or [], already
/// divided by the row weights' sum for 'mean'): read on the device.
pub fn cross_entropy_backward(
    lp: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    grad: &Tensor,
    from_logits: bool,
) -> Result<Tensor> {
    let (Some(g), Some(sfx)) = (gpu_for(lp, "loss"), suffix(lp.dtype)) else {
        crate::bail!(
            Runtime,
            "cross_entropy backward: no CUDA loss kernels on {}",
            lp.device()
        );
    };
    let (rows, c) = (lp.shape()[0], lp.shape()[1]);
    let per_row = grad.numel() == rows && grad.ndim() == 1;
    let grad = grad.cast_raw(lp.dtype)?.contiguous()?;
    let out = Tensor::empty(lp.shape(), lp.dtype, lp.device())?;
    if rows * c > 0 {
        let launch = Launch::new(g, "loss").tensor(&out);
        let launch = if from_logits {
            launch.tensor(lp)
        } else {
            launch
        }; // nll reads no lp
        let launch = match weight {
            Some(w) => launch.tensor(target).tensor(w),
            None => launch.tensor(target).null(),
        };
        launch
            .i64(rows)
            .i64(c)
            .int(ignore_index)
            .tensor(&grad)
            .i64(per_row as usize)
            .null()
            .run(
                &format!(
                    "{}_backward_rows_{}",
                    if from_logits { "cross_entropy" } else { "nll" },
                    sfx
                ),
                grid_for(g, rows * c),
            )?;
    }
    Ok(out)
}

/// The convolution geometry the conv kernels take (`ConvGeo` in conv.cu): n, c, h, w, kh, kw,
/// stride, padding, dilation (each y then x), oh, ow.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ConvGeo([i64; 14]);

impl ConvGeo {
    pub fn new(v: [usize; 14]) -> ConvGeo {
        ConvGeo(v.map(|x| x as i64))
    }
    fn get(&self, i: usize) -> usize {
        self.0[i] as usize
    }
}

impl Launch {
    fn conv_geo(mut self, g: ConvGeo) -> Self {
        self.args.push(Arg::Conv(Box::new(g)));
        self
    }
}

/// im2col of contiguous floating NCHW `x`: [n, c·kh·kw, oh·ow].
pub fn im2col(x: &Tensor, g: ConvGeo) -> Result<Option<Tensor>> {
    let (Some(gpu), Some(sfx)) = (gpu_for(x, "conv"), suffix(x.dtype)) else {
        return Ok(None);
    };
    if !x.dtype.is_float() || !x.is_contiguous() {
        return Ok(None);
    }
    let (n, rows, l) = (
        g.get(0),
        g.get(1) * g.get(4) * g.get(5),
        g.get(12) * g.get(13),
    );
    let cols = Tensor::empty(&[n, rows, l], x.dtype, x.device())?;
    if n * rows * l > 0 {
        Launch::new(gpu, "conv")
            .tensor(&cols)
            .tensor(x)
            .conv_geo(g)
            .run(&format!("im2col_{}", sfx), grid_for(gpu, n * rows * l))?;
    }
    Ok(Some(cols))
}

/// col2im of contiguous `cols` into a fresh input-shaped tensor.
pub fn col2im(cols: &Tensor, x_shape: &[usize], g: ConvGeo) -> Result<Option<Tensor>> {
    let (Some(gpu), Some(sfx)) = (gpu_for(cols, "conv"), suffix(cols.dtype)) else {
        return Ok(None);
    };
    if !cols.dtype.is_float() || !cols.is_contiguous() {
        return Ok(None);
    }
    let x = Tensor::empty(x_shape, cols.dtype, cols.device())?;
    let n = x.numel();
    if n > 0 {
        Launch::new(gpu, "conv")
            .tensor(&x)
            .tensor(cols)
            .conv_geo(g)
            .run(&format!("col2im_{}", sfx), grid_for(gpu, n))?;
    }
    Ok(Some(x))
}

/// The pooling geometry the pool kernels take (`PoolGeo` in pool.cu): planes, h, w, oh, ow,
/// kernel, stride, padding, dilation (each y then x).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PoolGeo([i64; 13]);

impl PoolGeo {
    pub fn new(v: [usize; 13]) -> PoolGeo {
        PoolGeo(v.map(|x| x as i64))
    }
    fn outputs(&self) -> usize {
        (self.0[0] * self.0[3] * self.0[4]) as usize
    }
}

impl Launch {
    fn pool_geo(mut self, g: PoolGeo) -> Self {
        self.args.push(Arg::Pool(Box::new(g)));
        self
    }
}

/// max_pool2d of contiguous floating `x` ([planes, h, w] data) into `vals` (and `idx`).
pub fn max_pool2d(vals: &Tensor, idx: Option<&Tensor>, x: &Tensor, g: PoolGeo) -> Result<bool> {
    let (Some(gpu), Some(sfx)) = (gpu_for(x, "pool"), suffix(x.dtype)) else {
        return Ok(false);
    };
    if !x.dtype.is_float() || !x.is_contiguous() {
        return Ok(false);
    }
    let n = g.outputs();
    if n > 0 {
        let launch = Launch::new(gpu, "pool").tensor(vals);
        let launch = match idx {
            Some(i) => launch.tensor(i),
            None => launch.null(),
        };
        launch
            .tensor(x)
            .pool_geo(g)
            .run(&format!("max_pool2d_{}", sfx), grid_for(gpu, n))?;
    }
    Ok(true)
}

/// The max_pool2d input gradient: `grad_out` added at each window's argmax into zeroed `grad_x`.
pub fn max_pool2d_backward(
    grad_x: &Tensor,
    grad_out: &Tensor,
    idx: &Tensor,
    g: PoolGeo,
) -> Result<bool> {
    let Some(gpu) = gpu_for(grad_out, "pool") else {
        return Ok(false);
    };
    if !matches!(grad_out.dtype, DType::F32 | DType::F64)
        || idx.device() != grad_out.device()
        || !grad_out.is_contiguous()
        || !idx.is_contiguous()
    {
        return Ok(false);
    }
    let n = g.outputs();
    if n > 0 {
        Launch::new(gpu, "pool")
            .tensor(grad_x)
            .tensor(grad_out)
            .tensor(idx)
            .pool_geo(g)
            .run(
                &format!(
                    "max_pool2d_backward_{}",
                    suffix(grad_out.dtype).unwrap_or("f32")
                ),
                grid_for(gpu, n),
            )?;
    }
    Ok(true)
}

/// The CUDA generator: (seed, Philox offset). Its own stream, as in PyTorch (CUDA values differ
/// from the CPU generator's for the same seed); `torch.manual_seed` seeds it too.
static CUDA_RNG: std::sync::Mutex<(u64, u64)> = std::sync::Mutex::new((67280421310721, 0));

pub fn manual_seed(seed: u64) {
    *CUDA_RNG.lock().unwrap_or_else(|e| e.into_inner()) = (seed, 0);
}

/// The CUDA generator's (seed, Philox offset): `torch.cuda.get_rng_state`.
pub fn rng_state() -> (u64, u64) {
    *CUDA_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// `torch.cuda.set_rng_state`: the stream continues from `offset` of `seed`'s.
pub fn set_rng_state(seed: u64, offset: u64) {
    *CUDA_RNG.lock().unwrap_or_else(|e| e.into_inner()) = (seed, offset);
}

/// The CUDA generator's (seed, offset) for a launch of `groups` Philox calls, advancing it past
/// them.
fn take_philox(groups: usize) -> (u64, u64) {
    let mut rng = CUDA_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let (seed, at) = *rng;
    rng.1 = at.wrapping_add(groups as u64 + 1);
    (seed, at)
}

/// `t` filled through a fresh contiguous tensor of dtype `via` that `fill` writes, then copied in.
fn fill_through(
    t: &Tensor,
    via: DType,
    fill: impl FnOnce(&Tensor) -> Result<bool>,
) -> Result<bool> {
    let tmp = Tensor::empty(t.shape(), via, t.device())?;
    if !fill(&tmp)? {
        return Ok(false);
    }
    // cast while contiguous: the strided copy kernels keep the dtype
    let tmp = if via == t.dtype {
        tmp
    } else {
        tmp.cast_raw(t.dtype)?
    };
    t.copy_raw(&tmp)?;
    Ok(true)
}

/// Fills `t` (f32, f64, f16, bf16) with uniform [a, b) or normal (mean a, std b) values from the
/// CUDA generator; a strided `t` through a contiguous tensor.
pub fn random_fill(t: &Tensor, normal: bool, a: f64, b: f64) -> Result<bool> {
    let Some(g) = gpu_for(t, "random") else {
        return Ok(false);
    };
    let per_call = match t.dtype {
        DType::F32 | DType::F16 | DType::BF16 => 4,
        DType::F64 => 2,
        _ => return Ok(false),
    };
    if !t.is_contiguous() {
        return fill_through(t, t.dtype, |f| random_fill(f, normal, a, b));
    }
    let n = t.numel();
    let (seed, offset) = take_philox(n.div_ceil(per_call));
    if n > 0 {
        let kernel = if normal { "normal" } else { "uniform" };
        Launch::new(g, "random")
            .tensor(t)
            .i64(n)
            .int(seed as i64) // u64 bits: the kernel reads them as unsigned
            .int(offset as i64)
            .f64(a)
            .f64(b)
            .run(
                &format!("{}_{}", kernel, suffix(t.dtype).unwrap_or("f32")),
                grid_for(g, n),
            )?;
    }
    Ok(true)
}

/// Fills `t` (an integer or float dtype) with integers in [low, low + range) from the CUDA
/// generator: an int64 kernel, other dtypes and layouts through a contiguous int64 tensor.
pub fn random_int_fill(t: &Tensor, low: i64, range: u64) -> Result<bool> {
    let Some(g) = gpu_for(t, "random") else {
        return Ok(false);
    };
    if t.dtype == DType::Bool || range > i64::MAX as u64 {
        return Ok(false);
    }
    if t.dtype != DType::I64 || !t.is_contiguous() {
        return fill_through(t, DType::I64, |f| random_int_fill(f, low, range));
    }
    let n = t.numel();
    let (seed, offset) = take_philox(n.div_ceil(2));
    if n > 0 {
        Launch::new(g, "random")
            .tensor(t)
            .i64(n)
            .int(seed as i64)
            .int(offset as i64)
            .int(low)
            .int(range as i64)
            .run("randint_i64", grid_for(g, n))?;
    }
    Ok(true)
}

/// `out[...] = x[..., index[...], ...]` along `dim` (out shaped like `index`, a possibly broadcast
/// i64/i32 view): None when the case is not one the kernel takes. An index outside [0, size)
/// reads 0 and is a device-side assert (`DeviceAssert::IndexOutOfBounds`), raised at the next
/// call that waits for the device, as on PyTorch CUDA: the host never waits to check indices.
pub fn gather(
    x: &Tensor,
    index: &Tensor,
    dim: usize,
    out_shape: &[usize],
) -> Result<Option<Tensor>> {
    let (Some(g), Some(sfx)) = (gpu_for(x, "index"), suffix(x.dtype)) else {
        return Ok(None);
    };
    if index.device() != x.device() {
        return Ok(None);
    }
    let index = index.cast_raw(DType::I64)?;
    let (Some(si), Some(sx)) = (strides_of(&x.layout), strides_of(&index.layout)) else {
        return Ok(None);
    };
    let out = Tensor::empty(out_shape, x.dtype, x.device())?;
    let n = out.numel();
    if n == 0 {
        return Ok(Some(out));
    }
    Launch::new(g, "index")
        .tensor(&out)
        .tensor(x)
        .strides(si)
        .tensor(&index)
        .strides(sx)
        .i64(dim)
        .i64(x.shape()[dim])
        .i64(n)
        .assert_flag(DeviceAssert::IndexOutOfBounds)
        .run(&format!("gather_{}", sfx), grid_for(g, n))?;
    Ok(Some(out))
}

/// The flat position of each index combination among dims of `sizes` (`merge_index_i64`), for
/// integer index tensors already broadcast to one shape: a [numel] i64 tensor, with one past the
/// end where an index is out of range. None without the kernel.
pub fn merge_index(indices: &[Tensor], sizes: &[usize]) -> Result<Option<Tensor>> {
    let Some(first) = indices.first() else {
        return Ok(None);
    };
    let (Some(g), Some(s)) = (
        gpu_for(first, "index"),
        strides_of(&Layout::contiguous(sizes)),
    ) else {
        return Ok(None);
    };
    let n = first.numel();
    let rows: Vec<Tensor> = indices
        .iter()
        .map(|t| t.cast_raw(DType::I64)?.reshape(&[1, n]))
        .collect::<Result<_>>()?;
    let stacked = match rows.as_slice() {
        [one] => one.contiguous()?,
        _ => Tensor::cat(&rows, 0)?,
    };
    let out = Tensor::empty(&[n], DType::I64, first.device())?;
    if n > 0 {
        Launch::new(g, "index")
            .tensor(&out)
            .tensor(&stacked)
            .i64(indices.len())
            .i64(n)
            .strides(s)
            .run("merge_index_i64", grid_for(g, n))?;
    }
    Ok(Some(out))
}

/// `out[index along dim] = src` (or `+=`, by atomics: f32 f64 i64 i32 only), out contiguous on a
/// GPU, src of out's dtype. Shape mismatches are left to the host path (which raises them); with
/// `check_index`, an index out of range writes nothing and is a device-side assert
/// (`DeviceAssert::IndexOutOfBounds`); without, the index is known to be in range.
pub fn scatter(
    out: &Tensor,
    dim: usize,
    index: &Tensor,
    src: &Tensor,
    mode: ScatterMode,
    check_index: bool,
) -> Result<bool> {
    let (Some(g), Some(sfx)) = (gpu_for(out, "index"), suffix(out.dtype)) else {
        return Ok(false);
    };
    let atomic = matches!(out.dtype, DType::F32 | DType::F64 | DType::I64 | DType::I32);
    let dev = out.device();
    let shapes_fit = out.ndim() > 0
        && index.ndim() == out.ndim()
        && (0..out.ndim()).all(|a| a == dim || index.shape()[a] <= out.shape()[a])
        && (src.ndim() == 0
            || (src.ndim() == index.ndim()
                && (0..src.ndim()).all(|a| index.shape()[a] <= src.shape()[a])));
    if (mode != ScatterMode::Store && !atomic)
        || !out.is_contiguous()
        || !shapes_fit
        || index.device() != dev
        || index.dtype.is_float()
        || index.dtype == DType::Bool
        || src.dtype != out.dtype
    {
        return Ok(false);
    }
    let src = if src.ndim() == 0 {
        src.broadcast_to(index.shape())?
    } else {
        src.clone()
    };
    let Some(src) = operand(&src, dev)? else {
        return Ok(false);
    };
    let index = index.cast_raw(DType::I64)?;
    let (Some(so), Some(ss), Some(sx)) = (
        strides_of(&out.layout),
        strides_of(&src.layout),
        strides_of(&index.layout),
    ) else {
        return Ok(false);
    };
    let n = index.numel();
    if n == 0 {
        return Ok(true);
    }
    let launch = Launch::new(g, "index")
        .tensor(out)
        .strides(so)
        .tensor(&src)
        .strides(ss)
        .tensor(&index)
        .strides(sx)
        .i64(dim)
        .i64(out.shape()[dim])
        .i64(n);
    let launch = if check_index {
        launch.assert_flag(DeviceAssert::IndexOutOfBounds)
    } else {
        launch.null()
    };
    let kernel = match mode {
        ScatterMode::Store => "scatter",
        ScatterMode::Add => "scatter_add",
        ScatterMode::Mul => "scatter_mul",
        ScatterMode::Max => "scatter_max",
        ScatterMode::Min => "scatter_min",
    };
    launch.run(&format!("{}_{}", kernel, sfx), grid_for(g, n))?;
    Ok(true)
}

/// `x.flip(dims)` into contiguous `out` of x's shape: bit d of `mask` set for each flipped dim.
pub fn flip(out: &Tensor, x: &Tensor, mask: u64) -> Result<bool> {
    let (Some(g), Some(sfx)) = (gpu_for(out, "copy"), suffix(x.dtype)) else {
        return Ok(false);
    };
    let Some(sx) = strides_of(&x.layout) else {
        return Ok(false);
    };
    if x.device() != out.device() || out.dtype != x.dtype || !out.is_contiguous() {
        return Ok(false);
    }
    let n = out.numel();
    if n > 0 {
        Launch::new(g, "copy")
            .tensor(out)
            .tensor(x)
            .strides(sx)
            .int(mask as i64)
            .i64(n)
            .run(&format!("flip_{}", sfx), grid_for(g, n))?;
    }
    Ok(true)
}

/// `tril(k)` (or `triu(k)` when `upper`) of x's last two dims into contiguous `out`.
pub fn tri(out: &Tensor, x: &Tensor, k: i64, upper: bool) -> Result<bool> {
    let (Some(g), Some(sfx)) = (gpu_for(out, "copy"), suffix(x.dtype)) else {
        return Ok(false);
    };
    if x.device() != out.device() || out.dtype != x.dtype || !out.is_contiguous() || x.ndim() < 2 {
        return Ok(false);
    }
    let x = x.contiguous()?;
    let (rows, cols) = (x.shape()[x.ndim() - 2], x.shape()[x.ndim() - 1]);
    let n = out.numel();
    if n > 0 {
        Launch::new(g, "copy")
            .tensor(out)
            .tensor(&x)
            .i64(rows)
            .i64(cols)
            .int(k)
            .flag(upper)
            .i64(n)
            .run(&format!("tri_{}", sfx), grid_for(g, n))?;
    }
    Ok(true)
}

/// Running sums (or products) of contiguous x along the middle of [outer, cols, inner] into
/// contiguous `out` of x's shape and dtype (f16/bf16/f32 accumulate in f32).
pub fn cumulative(
    out: &Tensor,
    x: &Tensor,
    split: (usize, usize, usize),
    is_sum: bool,
) -> Result<bool> {
    let (Some(g), Some(sfx)) = (gpu_for(out, "reduce"), suffix(x.dtype)) else {
        return Ok(false);
    };
    let dtype_ok = x.dtype.is_float() || x.dtype == DType::I64;
    if !dtype_ok || out.dtype != x.dtype || !x.is_contiguous() || !out.is_contiguous() {
        return Ok(false);
    }
    let (outer, cols, inner) = split;
    if outer * inner > 0 {
        Launch::new(g, "reduce")
            .tensor(out)
            .tensor(x)
            .i64(outer)
            .i64(cols)
            .i64(inner)
            .run(
                &format!("{}_{}", if is_sum { "cumsum" } else { "cumprod" }, sfx),
                grid_for(g, outer * inner),
            )?;
    }
    Ok(true)
}

/// Longest row the sort kernel holds in shared memory (`SORT_MAX` in sort.cu).
const SORT_MAX: usize = 2048;

/// The first `k` of each row of contiguous x, viewed as [outer, len, inner] and sorted along len,
/// into contiguous `vals` (x's dtype) and `idx` (int64) of shape [outer, k, inner].
pub fn sort_rows(
    vals: &Tensor,
    idx: &Tensor,
    x: &Tensor,
    split: (usize, usize, usize),
    k: usize,
    descending: bool,
) -> Result<bool> {
    let (Some(g), Some(sfx)) = (gpu_for(x, "sort"), suffix(x.dtype)) else {
        return Ok(false);
    };
    let (outer, len, inner) = split;
    if len > SORT_MAX || !x.is_contiguous() || !vals.is_contiguous() || !idx.is_contiguous() {
        return Ok(false);
    }
    if outer * inner * k > 0 {
        Launch::new(g, "sort")
            .tensor(vals)
            .tensor(idx)
            .tensor(x)
            .i64(outer)
            .i64(len)
            .i64(inner)
            .i64(k)
            .flag(descending)
            .run(&format!("sort_rows_{sfx}"), row_grid(outer * inner))?;
    }
    Ok(true)
}

/// `ops::search`: for each of the n contiguous values (rows of m), its insertion point in its
/// row of contiguous `seq` ([seq_rows, k]), into contiguous int64 `out`.
pub fn search_sorted(
    out: &Tensor,
    seq: &Tensor,
    vals: &Tensor,
    seq_rows: usize,
    k: usize,
    m: usize,
    right: bool,
) -> Result<bool> {
    let (Some(g), Some(sfx)) = (gpu_for(vals, "sort"), suffix(vals.dtype)) else {
        return Ok(false);
    };
    let n = vals.numel();
    Launch::new(g, "sort")
        .tensor(out)
        .tensor(seq)
        .tensor(vals)
        .i64(seq_rows)
        .i64(k)
        .i64(m)
        .i64(n)
        .flag(right)
        .run(&format!("search_sorted_{sfx}"), grid_for(g, n))?;
    Ok(true)
}

/// Elements per chunk of the nonzero kernels, at least (at most 1024 chunks, one block each).
const NONZERO_CHUNK_MIN: usize = 4096;

/// The row-major positions of x's nonzero elements as int64 rows of coordinates in `coords` (x's
/// shape, or `[numel]` for flat indices): `[N, coords.len()]`. One host read: the count N.
pub fn nonzero(x: &Tensor, coords: &[usize]) -> Result<Option<Tensor>> {
    let (Some(g), Some(sfx)) = (gpu_for(x, "index"), suffix(x.dtype)) else {
        return Ok(None);
    };
    let (Some(s), Some(c)) = (
        strides_of(&x.layout),
        strides_of(&Layout::contiguous(coords)),
    ) else {
        return Ok(None);
    };
    let n = x.numel();
    let blocks = n.div_ceil(NONZERO_CHUNK_MIN).clamp(1, 1024);
    let chunk = n.div_ceil(blocks).max(1);
    let counts = Tensor::empty(&[blocks + 1], DType::I64, x.device())?;
    Launch::new(g, "index")
        .tensor(&counts)
        .tensor(x)
        .strides(s)
        .i64(n)
        .i64(chunk)
        .run(&format!("nonzero_count_{sfx}"), blocks as u32)?;
    Launch::new(g, "index")
        .tensor(&counts)
        .i64(blocks)
        .run("nonzero_offsets_i64", 1)?;
    let total = counts.select(0, blocks as i64)?.item()?.to_i64() as usize;
    let out = Tensor::empty(&[total, coords.len()], DType::I64, x.device())?;
    if total > 0 {
        Launch::new(g, "index")
            .tensor(&out)
            .tensor(&counts)
            .tensor(x)
            .strides(s)
            .i64(n)
            .i64(chunk)
            .strides(c)
            .run(&format!("nonzero_write_{sfx}"), blocks as u32)?;
    }
    Ok(Some(out))
}
