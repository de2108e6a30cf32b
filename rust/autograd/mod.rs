//! Autograd: every recorded op leaves a `Node` on its outputs' `grad_fn`; the nodes, linked by
//! edges to their inputs' nodes, are the tape. The outputs own it: no global state.

pub mod engine;
mod grad_mode;

pub use grad_mode::*;

use crate::tensor::{Error, Result, Tensor};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// A gradient hook: may return a replacement gradient.
pub type Hook = Arc<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;
/// A backward formula: gradients of the outputs in, gradients of the inputs out.
pub type BackwardFn = Box<dyn FnMut(&[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> + Send>;

pub struct Edge {
    pub node: Arc<Node>,
    pub input_nr: usize,
}

pub enum NodeKind {
    Function,
    AccumulateGrad(Arc<AutogradMeta>),
}

pub struct Node {
    pub name: Cow<'static, str>,
    pub next_edges: Vec<Option<Edge>>,
    pub kind: NodeKind,
    pub num_outputs: usize,
    backward: Mutex<Option<BackwardFn>>,
    /// Hooks on the gradient of one output (`register_hook` / `retain_grad` on non-leaf tensors).
    pub pre_hooks: Mutex<Vec<(usize, Hook)>>,
    pub seq: u64,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Node {
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        next_edges: Vec<Option<Edge>>,
        num_outputs: usize,
        f: BackwardFn,
    ) -> Node {
        Node {
            name: name.into(),
            next_edges,
            kind: NodeKind::Function,
            num_outputs,
            backward: Mutex::new(Some(f)),
            pre_hooks: Mutex::new(Vec::new()),
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Runs the formula; frees it (and the tensors it saved) unless `retain`.
    pub fn call(&self, grads: &[Option<Tensor>], retain: bool) -> Result<Vec<Option<Tensor>>> {
        let mut slot = self
            .backward
            .lock()
            .map_err(|_| Error::Runtime("autograd node poisoned".into()))?;
        let freed = || {
            Error::Runtime(
                "Trying to backward through the graph a second time (or directly access saved tensors after they have \
                 already been freed). Saved intermediate values of the graph are freed when you call .backward() or \
                 autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or \
                 if you need to access saved tensors after calling backward."
                    .into(),
            )
        };
        if retain {
            let f = slot.as_mut().ok_or_else(freed)?;
            f(grads)
        } else {
            let mut f = slot.take().ok_or_else(freed)?;
            drop(slot);
            f(grads)
        }
    }
}

/// Tears graphs down iteratively: a chain of 100,000 nodes must not drop recursively (stack overflow).
/// Each node's formula (whose saved tensors may hold the next nodes) goes first, while the node's
/// own edges still keep those nodes alive; the edges then go onto an explicit stack.
impl Drop for Node {
    fn drop(&mut self) {
        fn release(node: &mut Node, stack: &mut Vec<Arc<Node>>) {
            let f = match node.backward.get_mut() {
                Ok(slot) => slot.take(),
                Err(p) => p.into_inner().take(),
            };
            drop(f);
            stack.extend(
                std::mem::take(&mut node.next_edges)
                    .into_iter()
                    .flatten()
                    .map(|e| e.node),
            );
        }
        let mut stack = Vec::new();
        release(self, &mut stack);
        while let Some(n) = stack.pop() {
            if let Ok(mut node) = Arc::try_unwrap(n) {
                release(&mut node, &mut stack);
            }
        }
    }
}

#[derive(Default)]
pub struct GradState {
    pub requires_grad: bool,
    pub grad: Option<Tensor>,
    pub retains_grad: bool,
    /// Hooks of a leaf, run on its gradient before accumulation.
    pub hooks: Vec<Hook>,
    pub post_accumulate_hooks: Vec<Arc<dyn Fn() -> Result<()> + Send + Sync>>,
    accumulator: Weak<Node>,
    /// The node that produced this tensor (None for leaves) and which of its outputs it is.
    /// Mutable: an in-place op gives the same tensor (and every holder of its metadata) new history.
    grad_fn: Option<Arc<Node>>,
    output_nr: usize,
    /// For a differentiable view: its root base, so in-place ops on the view rebase the base's history.
    view: Option<ViewOf>,
}

/// A view's link to the tensor it looks into.
struct ViewOf {
    /// The root base (never itself a view), sharing the base's metadata.
    base: Tensor,
    /// The base's grad_fn when this view's grad_fn was derived from it: when the base's history
    /// moves on (an in-place op on it or on another of its views), the view's is derived again.
    built_on: Option<Weak<Node>>,
}

pub struct AutogradMeta {
    pub state: Mutex<GradState>,
}

impl AutogradMeta {
    pub fn leaf(requires_grad: bool) -> AutogradMeta {
        AutogradMeta {
            state: Mutex::new(GradState {
                requires_grad,
                ..Default::default()
            }),
        }
    }
    /// Metadata of output `output_nr` of `node`.
    pub fn output(node: Arc<Node>, output_nr: usize) -> AutogradMeta {
        AutogradMeta {
            state: Mutex::new(GradState {
                requires_grad: true,
                grad_fn: Some(node),
                output_nr,
                ..Default::default()
            }),
        }
    }
    pub fn grad_fn(&self) -> Option<Arc<Node>> {
        self.lock().grad_fn.clone()
    }
    pub fn output_nr(&self) -> usize {
        self.lock().output_nr
    }
    pub fn lock(&self) -> std::sync::MutexGuard<'_, GradState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The node a leaf's gradients flow into; one per leaf while any graph refers to it.
fn grad_accumulator(meta: &Arc<AutogradMeta>) -> Arc<Node> {
    let mut st = meta.lock();
    if let Some(n) = st.accumulator.upgrade() {
        return n;
    }
    let node = Arc::new(Node {
        name: "AccumulateGrad".into(),
        next_edges: Vec::new(),
        kind: NodeKind::AccumulateGrad(meta.clone()),
        num_outputs: 1,
        backward: Mutex::new(None),
        pre_hooks: Mutex::new(Vec::new()),
        seq: SEQ.fetch_add(1, Ordering::Relaxed),
    });
    st.accumulator = Arc::downgrade(&node);
    node
}

/// A tensor saved for backward, with the storage version it had, so in-place changes are caught.
pub struct Saved {
    tensor: Tensor,
    version: u64,
    /// `Some(output_nr)` when this is the recording node's own output (saved without its grad_fn).
    output: Option<usize>,
}

thread_local! {
    /// The nodes whose formulas are running on this thread (innermost last), so a saved output
    /// can be handed back with its grad_fn under `create_graph=True` without a reference cycle.
    static RUNNING: std::cell::RefCell<Vec<Arc<Node>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Marks `node` as running while alive (see `Saved::value`).
pub(crate) struct Running;

impl Running {
    pub(crate) fn enter(node: &Arc<Node>) -> Running {
        RUNNING.with(|r| r.borrow_mut().push(node.clone()));
        Running
    }
}

/// The node whose backward formula is running on this thread (innermost), if any.
pub fn running_node() -> Option<Arc<Node>> {
    RUNNING.with(|r| r.borrow().last().cloned())
}

/// `t` (detached) as output `output_nr` of the running node, when grad mode is on; else `t` itself.
/// Lets a formula hand back its node's saved output differentiably without a reference cycle.
pub fn attach_to_running(t: &Tensor, output_nr: usize) -> Tensor {
    if !is_grad_enabled() || !t.dtype.is_float() {
        return t.clone();
    }
    let Some(node) = running_node() else {
        return t.clone();
    };
    let mut t = t.detach();
    t.autograd = Some(Arc::new(AutogradMeta::output(node, output_nr)));
    t
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|r| {
            r.borrow_mut().pop();
        });
    }
}

impl Saved {
    pub fn new(t: &Tensor) -> Saved {
        Saved {
            tensor: t.clone(),
            version: t.storage.version(),
            output: None,
        }
    }
    /// Saves an op's own (first) output without its grad_fn (that would be a reference cycle);
    /// `value()` gives it back differentiable while the node runs with grad mode on.
    pub fn output(t: &Tensor) -> Saved {
        Saved {
            tensor: t.detach(),
            version: t.storage.version(),
            output: Some(0),
        }
    }
    /// The saved tensor as a differentiable value: a saved output gets its grad_fn (the running
    /// node) back when a graph of the backward pass is being built (`create_graph=True`).
    pub fn value(&self) -> Result<Tensor> {
        let t = self.get()?;
        Ok(match self.output {
            Some(nr) => attach_to_running(t, nr),
            None => t.clone(),
        })
    }
    pub fn get(&self) -> Result<&Tensor> {
        if self.tensor.storage.version() != self.version {
            return Err(Error::Runtime(format!(
                "one of the variables needed for gradient computation has been modified by an inplace operation: \
                 [{}{}] is at version {}; expected version {} instead. Hint: the backtrace further above can point \
                 to the operation that failed to compute its gradient.",
                crate::ops::type_name(&self.tensor),
                crate::tensor::fmt_shape(self.tensor.shape()),
                self.tensor.storage.version(),
                self.version
            )));
        }
        Ok(&self.tensor)
    }
}

impl Tensor {
    pub fn requires_grad(&self) -> bool {
        match &self.autograd {
            None => false,
            Some(m) => {
                let st = m.lock();
                st.grad_fn.is_some() || st.requires_grad
            }
        }
    }
    pub fn grad_fn(&self) -> Option<Arc<Node>> {
        let m = self.autograd.as_ref()?;
        refresh_view(self, m);
        m.grad_fn()
    }
    pub fn is_leaf(&self) -> bool {
        self.autograd
            .as_ref()
            .is_none_or(|m| m.lock().grad_fn.is_none())
    }
    /// The root base of a differentiable view.
    pub fn view_base(&self) -> Option<Tensor> {
        let m = self.autograd.as_ref()?;
        let st = m.lock();
        st.view.as_ref().map(|v| v.base.clone())
    }

    pub fn set_requires_grad(&mut self, requires_grad: bool) -> Result<()> {
        if !self.is_leaf() {
            if requires_grad {
                return Ok(());
            }
            crate::bail!(
                Runtime,
                "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a \
                 subgraph that doesn't require differentiation use var_no_grad = var.detach()."
            );
        }
        if requires_grad && !self.dtype.is_float() {
            crate::bail!(
                Runtime,
                "only Tensors of floating point and complex dtype can require gradients"
            );
        }
        match &self.autograd {
            Some(m) => m.lock().requires_grad = requires_grad,
            None if requires_grad => self.autograd = Some(Arc::new(AutogradMeta::leaf(true))),
            None => {}
        }
        Ok(())
    }

    /// The leaf's metadata, created on first use (grad, hooks on tensors that do not require grad yet).
    pub fn meta(&mut self) -> Arc<AutogradMeta> {
        self.autograd
            .get_or_insert_with(|| Arc::new(AutogradMeta::leaf(false)))
            .clone()
    }

    pub fn grad(&self) -> Option<Tensor> {
        self.autograd.as_ref().and_then(|m| m.lock().grad.clone())
    }

    pub fn set_grad(&mut self, grad: Option<Tensor>) -> Result<()> {
        if let Some(g) = &grad {
            if g.shape() != self.shape() {
                crate::bail!(
                    Runtime,
                    "assigned grad has data of a different size: expected {} but got {}",
                    crate::tensor::fmt_shape(self.shape()),
                    crate::tensor::fmt_shape(g.shape())
                );
            }
        }
        if grad.is_none() && self.autograd.is_none() {
            return Ok(());
        }
        self.meta().lock().grad = grad;
        Ok(())
    }

    /// Where this tensor's gradient goes: its grad_fn's input, or its leaf accumulator.
    pub fn gradient_edge(&self) -> Option<Edge> {
        let m = self.autograd.as_ref()?;
        let mut st = m.lock();
        if st.view.is_some() {
            drop(st);
            refresh_view(self, m);
            st = m.lock();
        }
        if let Some(f) = &st.grad_fn {
            return Some(Edge {
                node: f.clone(),
                input_nr: st.output_nr,
            });
        }
        let requires_grad = st.requires_grad;
        drop(st);
        if requires_grad {
            return Some(Edge {
                node: grad_accumulator(m),
                input_nr: 0,
            });
        }
        None
    }

    /// `register_hook`: on a leaf the hook runs before accumulation, otherwise on its grad_fn.
    pub fn register_hook(&mut self, hook: Hook) -> Result<()> {
        if !self.requires_grad() {
            crate::bail!(
                Runtime,
                "cannot register a hook on a tensor that doesn't require gradient"
            );
        }
        let m = self.meta();
        let (grad_fn, output_nr) = (self.grad_fn(), m.output_nr());
        match grad_fn {
            Some(f) => f
                .pre_hooks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((output_nr, hook)),
            None => m.lock().hooks.push(hook),
        }
        Ok(())
    }

    /// `retain_grad`: keep `.grad` on a non-leaf tensor too.
    pub fn retain_grad(&mut self) -> Result<()> {
        if !self.requires_grad() {
            crate::bail!(
                Runtime,
                "can't retain_grad on Tensor that has requires_grad=False"
            );
        }
        let m = self.meta();
        let Some(f) = self.grad_fn() else {
            return Ok(());
        };
        let mut st = m.lock();
        let output_nr = st.output_nr;
        if st.retains_grad {
            return Ok(());
        }
        st.retains_grad = true;
        let weak = Arc::downgrade(&m);
        let hook: Hook = Arc::new(move |g: &Tensor| {
            if let Some(m) = weak.upgrade() {
                let mut st = m.lock();
                st.grad = Some(match st.grad.take() {
                    Some(old) => old.add(g)?,
                    None => g.detach().contiguous()?,
                });
            }
            Ok(None)
        });
        f.pre_hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((output_nr, hook));
        Ok(())
    }
}

/// True when an op on these inputs must be recorded.
pub fn needs_grad(inputs: &[&Tensor]) -> bool {
    is_grad_enabled() && inputs.iter().any(|t| t.requires_grad())
}

/// Records one node for an op: `outputs` get it as grad_fn (in order, as output_nr).
pub fn record(
    name: &'static str,
    inputs: &[&Tensor],
    outputs: Vec<Tensor>,
    backward: impl FnMut(&[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> + Send + 'static,
) -> Vec<Tensor> {
    record_boxed(name.into(), inputs, outputs, Box::new(backward))
}

pub fn record_boxed(
    name: Cow<'static, str>,
    inputs: &[&Tensor],
    mut outputs: Vec<Tensor>,
    backward: BackwardFn,
) -> Vec<Tensor> {
    let edges = inputs.iter().map(|t| t.gradient_edge()).collect();
    let node = Arc::new(Node::new(name, edges, outputs.len(), backward));
    // a single output sharing its single input's storage is a view of it
    let view = match (inputs, outputs.as_slice()) {
        ([x], [out]) if Arc::ptr_eq(&x.storage, &out.storage) && x.autograd.is_some() => {
            let base = x.view_base().unwrap_or_else(|| (*x).clone());
            let built_on = base.grad_fn().map(|n| Arc::downgrade(&n));
            Some(ViewOf { base, built_on })
        }
        _ => None,
    };
    for (i, out) in outputs.iter_mut().enumerate() {
        if out.dtype.is_float() {
            let meta = AutogradMeta::output(node.clone(), i);
            meta.lock().view = view.as_ref().map(|v| ViewOf {
                base: v.base.clone(),
                built_on: v.built_on.clone(),
            });
            out.autograd = Some(Arc::new(meta));
        }
    }
    outputs
}

/// Where `view` sits inside a contiguous `base` (both on the same storage), as a layout relative to
/// base's first element; None when base is not contiguous (then views keep their own history only).
fn rel_layout(base: &Tensor, view: &Tensor) -> Option<crate::tensor::Layout> {
    if !base.is_contiguous()
        || !Arc::ptr_eq(&base.storage, &view.storage)
        || view.layout.offset < base.layout.offset
    {
        return None;
    }
    Some(crate::tensor::Layout {
        shape: view.layout.shape.clone(),
        strides: view.layout.strides.clone(),
        offset: view.layout.offset - base.layout.offset,
    })
}

/// A view whose base's history moved on (an in-place op on the base or on another view of it)
/// reads its values out of the base's new history: its grad_fn is derived again.
fn refresh_view(t: &Tensor, m: &Arc<AutogradMeta>) {
    let (base, built_on) = {
        let st = m.lock();
        match &st.view {
            Some(v) => (v.base.clone(), v.built_on.clone()),
            None => return,
        }
    };
    let current = base.autograd.as_ref().and_then(|b| b.grad_fn());
    let unchanged = match (&current, &built_on) {
        (None, None) => true,
        (Some(c), Some(w)) => w.upgrade().is_some_and(|b| Arc::ptr_eq(&b, c)),
        _ => false,
    };
    if unchanged || current.is_none() {
        return;
    }
    let Some(rel) = rel_layout(&base, t) else {
        return;
    };
    let shape = base.shape().to_vec();
    let rec = record_boxed(
        "AsStridedBackward0".into(),
        &[&base],
        vec![t.detach()],
        Box::new(move |g| match &g[0] {
            Some(g) => Ok(vec![Some(crate::ops::view::scatter_through(
                &shape, &rel, g,
            )?)]),
            None => Ok(vec![None]),
        }),
    );
    let node = rec[0].autograd.as_ref().and_then(|r| r.grad_fn());
    let mut st = m.lock();
    st.grad_fn = node;
    st.output_nr = 0;
    if let Some(v) = st.view.as_mut() {
        v.built_on = current.as_ref().map(Arc::downgrade);
    }
}

/// The end of a recorded in-place op: `t` (whose memory now holds `result`'s values) takes
/// `result`'s history. On a view, the base's history is rebased first (PyTorch's CopySlices:
/// the base is its old self with the view's region replaced by `result`), and the view then
/// reads out of the new base; every holder of `t`'s (and the base's) metadata sees the change.
pub fn take_history(t: &mut Tensor, result: &Tensor) {
    let Some(rm) = &result.autograd else {
        return;
    };
    let Some(node) = rm.grad_fn() else {
        return;
    };
    let nr = rm.output_nr();
    let Some(m) = t.autograd.clone() else {
        t.autograd = Some(Arc::new(AutogradMeta::output(node, nr)));
        return;
    };
    let base = t.view_base();
    if let Some((base, rel)) = base.and_then(|b| rel_layout(&b, t).map(|r| (b, r))) {
        if rebase(&base, result, rel).is_ok() {
            refresh_view(t, &m);
            return;
        }
    }
    let mut st = m.lock();
    st.grad_fn = Some(node);
    st.output_nr = nr;
}

/// `base` := base with the region `rel` replaced by `result` (one `CopySlices` node).
fn rebase(base: &Tensor, result: &Tensor, rel: crate::tensor::Layout) -> Result<()> {
    use crate::tensor::{DType, Scalar};
    let Some(bm) = base.autograd.clone() else {
        crate::bail!(Runtime, "view base without autograd metadata");
    };
    let shape = base.shape().to_vec();
    let mask = crate::ops::view::scatter_through(
        &shape,
        &rel,
        &Tensor::full(
            result.shape(),
            Scalar::Bool(true),
            DType::Bool,
            result.device(),
        )?,
    )?;
    let rel2 = rel.clone();
    let rec = record_boxed(
        "CopySlices".into(),
        &[base, result],
        vec![base.detach()],
        Box::new(move |g| {
            let Some(g) = &g[0] else {
                return Ok(vec![None, None]);
            };
            let zero = Tensor::zeros(&[], g.dtype, g.device())?;
            let g_base = Tensor::where_(&mask, &zero, g)?;
            let gc = if g.is_contiguous() && g.layout.offset == 0 {
                g.clone()
            } else {
                g.clone_op()?
            };
            let g_view = gc.as_strided(&rel2.shape, &rel2.strides, Some(rel2.offset))?;
            Ok(vec![Some(g_base), Some(g_view)])
        }),
    );
    let node = rec[0].autograd.as_ref().and_then(|r| r.grad_fn());
    let mut st = bm.lock();
    st.grad_fn = node;
    st.output_nr = 0;
    Ok(())
}

/// Records a single-output op whose formula receives the output's gradient.
pub fn record1(
    name: &'static str,
    inputs: &[&Tensor],
    output: Tensor,
    mut backward: impl FnMut(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + 'static,
) -> Tensor {
    let n = inputs.len();
    record(name, inputs, vec![output], move |g| match &g[0] {
        Some(g) => backward(g),
        None => Ok(vec![None; n]),
    })
    .pop()
    .expect("one output")
}
