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
}

pub struct AutogradMeta {
    pub grad_fn: Option<Arc<Node>>,
    pub output_nr: usize,
    pub state: Mutex<GradState>,
}

impl AutogradMeta {
    pub fn leaf(requires_grad: bool) -> AutogradMeta {
        AutogradMeta {
            grad_fn: None,
            output_nr: 0,
            state: Mutex::new(GradState {
                requires_grad,
                ..Default::default()
            }),
        }
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
    t.autograd = Some(Arc::new(AutogradMeta {
        grad_fn: Some(node),
        output_nr,
        state: Mutex::new(GradState {
            requires_grad: true,
            ..Default::default()
        }),
    }));
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
            Some(m) => m.grad_fn.is_some() || m.lock().requires_grad,
        }
    }
    pub fn grad_fn(&self) -> Option<&Arc<Node>> {
        self.autograd.as_ref().and_then(|m| m.grad_fn.as_ref())
    }
    pub fn is_leaf(&self) -> bool {
        self.grad_fn().is_none()
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
        if let Some(f) = &m.grad_fn {
            return Some(Edge {
                node: f.clone(),
                input_nr: m.output_nr,
            });
        }
        if m.lock().requires_grad {
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
        match &m.grad_fn {
            Some(f) => f
                .pre_hooks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((m.output_nr, hook)),
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
        let Some(f) = &m.grad_fn else { return Ok(()) };
        let mut st = m.lock();
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
            .push((m.output_nr, hook));
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
    for (i, out) in outputs.iter_mut().enumerate() {
        if out.dtype.is_float() {
            out.autograd = Some(Arc::new(AutogradMeta {
                grad_fn: Some(node.clone()),
                output_nr: i,
                state: Mutex::new(GradState {
                    requires_grad: true,
                    ..Default::default()
                }),
            }));
        }
    }
    outputs
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
