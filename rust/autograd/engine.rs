//! The backward engine: iterative (no recursion), dependency-counted so each node runs once
//! with the sum of every gradient that reaches it.

use super::{Edge, GradModeGuard, Node, NodeKind};
use crate::ops::elementwise::UnaryOp;
use crate::tensor::{Error, Result, Tensor};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

type Key = *const Node;

/// Anomaly mode's NaN check (`torch.autograd.detect_anomaly`): every node's gradients are checked.
static CHECK_NAN: AtomicBool = AtomicBool::new(false);

pub fn set_check_nan(on: bool) {
    CHECK_NAN.store(on, Ordering::Relaxed);
}

/// PyTorch's anomaly error when one of a node's output gradients holds NaN.
fn check_nan(node: &Node, outs: &[Option<Tensor>]) -> Result<()> {
    for (i, g) in outs.iter().enumerate() {
        let Some(g) = g else { continue };
        if g.dtype.is_float()
            && g.unary(UnaryOp::IsNan)?
                .all_any(None, false, false)?
                .item()?
                .to_f64()
                != 0.0
        {
            return Err(Error::Runtime(format!(
                "Function '{}' returned nan values in its {}th output.",
                node.name, i
            )));
        }
    }
    Ok(())
}

fn key(n: &Arc<Node>) -> Key {
    Arc::as_ptr(n)
}

/// What the caller wants out of a backward pass.
pub struct Request<'a> {
    pub roots: &'a [Tensor],
    pub grads: Vec<Tensor>,
    pub retain_graph: bool,
    pub create_graph: bool,
    /// Tensors whose gradients are wanted; None = accumulate into every leaf.
    pub inputs: Option<&'a [Tensor]>,
    /// true: accumulate into `.grad` (backward); false: return the gradients (autograd.grad).
    pub accumulate: bool,
}

/// Runs backward; with `accumulate == false`, returns one gradient per input.
pub fn run(req: Request) -> Result<Vec<Option<Tensor>>> {
    let _mode = GradModeGuard::new(req.create_graph);
    let mut root_edges = Vec::new();
    for (i, t) in req.roots.iter().enumerate() {
        match t.gradient_edge() {
            Some(e) => root_edges.push(e),
            None => {
                return Err(Error::Runtime(format!(
                    "element {} of tensors does not require grad and does not have a grad_fn",
                    i
                )))
            }
        }
    }

    // Targets: (node, input slot) pairs whose incoming gradient is an answer.
    let mut targets: HashMap<(Key, usize), Vec<usize>> = HashMap::new();
    let mut target_nodes: HashMap<Key, Arc<Node>> = HashMap::new();
    if let Some(inputs) = req.inputs {
        for (i, t) in inputs.iter().enumerate() {
            let e: Edge = t.gradient_edge().ok_or_else(|| {
                Error::Runtime("One of the differentiated Tensors does not require grad".into())
            })?;
            targets
                .entry((key(&e.node), e.input_nr))
                .or_default()
                .push(i);
            target_nodes.insert(key(&e.node), e.node.clone());
        }
    }

    // Discover the graph (iteratively) in an order where every node comes before its inputs' nodes.
    let mut nodes: HashMap<Key, Arc<Node>> = HashMap::new();
    let mut order: Vec<Arc<Node>> = Vec::new();
    let mut stack: Vec<Arc<Node>> = root_edges.iter().map(|e| e.node.clone()).collect();
    while let Some(n) = stack.pop() {
        if nodes.contains_key(&key(&n)) {
            continue;
        }
        nodes.insert(key(&n), n.clone());
        for e in n.next_edges.iter().flatten() {
            if !nodes.contains_key(&key(&e.node)) {
                stack.push(e.node.clone());
            }
        }
        order.push(n);
    }

    // With explicit inputs, only nodes that lead to one of them run.
    let needed: HashMap<Key, bool> = if req.inputs.is_some() {
        let mut needed: HashMap<Key, bool> = HashMap::new();
        // Post-order over the DAG without recursion.
        let mut visit: Vec<(Arc<Node>, bool)> =
            root_edges.iter().map(|e| (e.node.clone(), false)).collect();
        while let Some((n, expanded)) = visit.pop() {
            let k = key(&n);
            if needed.contains_key(&k) && !expanded {
                continue;
            }
            if expanded {
                let is_target = target_nodes.contains_key(&k);
                let child = n
                    .next_edges
                    .iter()
                    .flatten()
                    .any(|e| *needed.get(&key(&e.node)).unwrap_or(&false));
                needed.insert(k, is_target || child);
            } else {
                needed.insert(k, false);
                visit.push((n.clone(), true));
                for e in n.next_edges.iter().flatten() {
                    if !needed.contains_key(&key(&e.node)) {
                        visit.push((e.node.clone(), false));
                    }
                }
            }
        }
        needed
    } else {
        order.iter().map(|n| (key(n), true)).collect()
    };
    let is_needed = |k: &Key| *needed.get(k).unwrap_or(&false);

    let mut deps: HashMap<Key, usize> = HashMap::new();
    for n in &order {
        if !is_needed(&key(n)) {
            continue;
        }
        for e in n.next_edges.iter().flatten() {
            *deps.entry(key(&e.node)).or_default() += 1;
        }
    }

    let mut buffers: HashMap<Key, Vec<Option<Tensor>>> = HashMap::new();
    for (e, g) in root_edges.iter().zip(req.grads) {
        accumulate_into(&mut buffers, e, g)?;
    }
    let mut ready: Vec<Arc<Node>> = Vec::new();
    for e in &root_edges {
        if deps.get(&key(&e.node)).copied().unwrap_or(0) == 0
            && !ready.iter().any(|n| Arc::ptr_eq(n, &e.node))
        {
            ready.push(e.node.clone());
        }
    }

    let n_inputs = req.inputs.map(|i| i.len()).unwrap_or(0);
    let mut results: Vec<Option<Tensor>> = vec![None; n_inputs];

    while let Some(node) = ready.pop() {
        let k = key(&node);
        let mut grads = buffers
            .remove(&k)
            .unwrap_or_else(|| vec![None; node.num_outputs]);
        grads.resize(node.num_outputs.max(grads.len()), None);

        // Tensor hooks and retain_grad on this node's outputs.
        let hooks: Vec<_> = node
            .pre_hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (nr, hook) in hooks {
            if let Some(g) = &grads[nr] {
                if let Some(new) = hook(g)? {
                    grads[nr] = Some(new);
                }
            }
        }

        let accumulate_leaf = matches!(node.kind, NodeKind::AccumulateGrad(_))
            && req.accumulate
            && (req.inputs.is_none() || target_nodes.contains_key(&k));
        if let NodeKind::AccumulateGrad(meta) = &node.kind {
            if let Some(mut g) = grads[0].take() {
                let hooks = meta.lock().hooks.clone();
                for hook in hooks {
                    if let Some(new) = hook(&g)? {
                        g = new;
                    }
                }
                if accumulate_leaf {
                    // handed over, not cloned: a gradient nobody else holds becomes .grad as is
                    accumulate_grad(meta, g, req.create_graph)?;
                } else {
                    grads[0] = Some(g);
                }
            }
        }

        if !req.accumulate {
            for (nr, g) in grads.iter().enumerate() {
                if let Some(slots) = targets.get(&(k, nr)) {
                    for &i in slots {
                        results[i] = g.clone();
                    }
                }
            }
        }
        if matches!(node.kind, NodeKind::AccumulateGrad(_)) {
            continue;
        }

        let outs = if grads.iter().all(|g| g.is_none()) {
            vec![None; node.next_edges.len()]
        } else {
            let _running = super::Running::enter(&node);
            node.call(&grads, req.retain_graph)?
        };
        if CHECK_NAN.load(Ordering::Relaxed) {
            check_nan(&node, &outs)?;
        }
        drop(grads);
        for (e, g) in node
            .next_edges
            .iter()
            .zip(outs.into_iter().chain(std::iter::repeat(None)))
        {
            let Some(e) = e else { continue };
            let ek = key(&e.node);
            if !is_needed(&ek) {
                continue;
            }
            if let Some(g) = g {
                accumulate_into(&mut buffers, e, g)?;
            }
            let d = deps.get_mut(&ek).expect("edge counted");
            *d -= 1;
            if *d == 0 {
                ready.push(e.node.clone());
            }
        }
    }
    Ok(results)
}

fn accumulate_into(
    buffers: &mut HashMap<Key, Vec<Option<Tensor>>>,
    e: &Edge,
    g: Tensor,
) -> Result<()> {
    let buf = buffers
        .entry(key(&e.node))
        .or_insert_with(|| vec![None; e.node.num_outputs.max(1)]);
    if buf.len() <= e.input_nr {
        buf.resize(e.input_nr + 1, None);
    }
    buf[e.input_nr] = Some(match buf[e.input_nr].take() {
        Some(prev) => prev.add(&g)?,
        None => g,
    });
    Ok(())
}

/// `leaf.grad += g` (in place when not building a graph, like PyTorch), then post-accumulate hooks.
fn accumulate_grad(meta: &Arc<super::AutogradMeta>, g: Tensor, create_graph: bool) -> Result<()> {
    let mut st = meta.lock();
    let new = match st.grad.take() {
        None => {
            if create_graph {
                g
            } else if Arc::strong_count(&g.storage) == 1 && g.is_contiguous() {
                g.detach()
            } else {
                g.detach().clone_contiguous()?
            }
        }
        Some(mut old) => {
            if create_graph || old.requires_grad() {
                old.add(&g)?
            } else {
                let _ng = GradModeGuard::new(false);
                old.add_(&g)?;
                old
            }
        }
    };
    st.grad = Some(new);
    let hooks = st.post_accumulate_hooks.clone();
    drop(st);
    for h in hooks {
        h()?;
    }
    Ok(())
}
