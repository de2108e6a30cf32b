//! Shape, strides (in elements) and storage offset: how a tensor reads its storage.

use super::{Error, Result};
use smallvec::SmallVec;

pub type Dims = SmallVec<[usize; 6]>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub shape: Dims,
    pub strides: Dims,
    pub offset: usize,
}

pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = SmallVec::from_elem(1, shape.len());
    let mut acc = 1usize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc *= shape[i].max(1);
    }
    strides
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

pub fn fmt_shape(shape: &[usize]) -> String {
    let inner: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", inner.join(", "))
}

/// Wraps a possibly negative dim into `0..ndim` (IndexError as PyTorch words it).
pub fn wrap_dim(dim: i64, ndim: usize) -> Result<usize> {
    let n = ndim.max(1) as i64;
    if dim < -n || dim >= n {
        return Err(Error::Index(format!(
            "Dimension out of range (expected to be in range of [{}, {}], but got {})",
            -n,
            n - 1,
            dim
        )));
    }
    Ok(if dim < 0 {
        (dim + n) as usize
    } else {
        dim as usize
    })
}

/// The broadcast shape of two shapes, or PyTorch's error naming both.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Dims> {
    let n = a.len().max(b.len());
    let mut out: Dims = SmallVec::from_elem(0, n);
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::Runtime(format!(
                "The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton dimension {}",
                da, db, i
            )));
        };
    }
    Ok(out)
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout {
            shape: shape.into(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1usize;
        for i in (0..self.ndim()).rev() {
            if self.shape[i] != 1 && self.strides[i] != expected {
                return false;
            }
            expected *= self.shape[i];
        }
        true
    }
    /// Whether no two elements share a storage offset (a sufficient test: with the dims of more
    /// than one element ordered by stride, each stride passes the span of the dims below it).
    /// True for slices, selections, diagonals and permutations; false for expanded or unfolded
    /// (overlapping-window) views.
    pub fn is_non_overlapping(&self) -> bool {
        let mut dims: Dims = (0..self.ndim()).filter(|&d| self.shape[d] > 1).collect();
        dims.sort_by_key(|&d| self.strides[d]);
        let mut span = 0usize;
        for d in dims {
            if self.strides[d] <= span {
                return false;
            }
            span += self.strides[d] * (self.shape[d] - 1);
        }
        true
    }
    /// One past the largest storage element this layout touches (0 when empty).
    pub fn storage_extent(&self) -> usize {
        if self.numel() == 0 {
            return self.offset;
        }
        self.offset
            + self
                .shape
                .iter()
                .zip(&self.strides)
                .map(|(d, s)| (d - 1) * s)
                .sum::<usize>()
            + 1
    }

    /// A view of this layout broadcast to `shape` (stride 0 along expanded dims).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Layout> {
        let n = shape.len();
        if n < self.ndim() {
            return Err(Error::Runtime(format!(
                "The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension 0.  Target sizes: {}.  Tensor sizes: {}",
                n, self.ndim(), fmt_shape(shape), fmt_shape(&self.shape)
            )));
        }
        let lead = n - self.ndim();
        let mut strides: Dims = SmallVec::from_elem(0, n);
        for i in 0..n {
            if i < lead {
                continue;
            }
            let (d, s) = (self.shape[i - lead], self.strides[i - lead]);
            if d == shape[i] {
                strides[i] = s;
            } else if d == 1 {
                strides[i] = 0;
            } else {
                return Err(Error::Runtime(format!(
                    "The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension {}.  Target sizes: {}.  Tensor sizes: {}",
                    shape[i], d, i, fmt_shape(shape), fmt_shape(&self.shape)
                )));
            }
        }
        Ok(Layout {
            shape: shape.into(),
            strides,
            offset: self.offset,
        })
    }

    pub fn transpose(&self, d0: usize, d1: usize) -> Layout {
        let mut l = self.clone();
        l.shape.swap(d0, d1);
        l.strides.swap(d0, d1);
        l
    }

    pub fn permute(&self, dims: &[usize]) -> Layout {
        Layout {
            shape: dims.iter().map(|&d| self.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        }
    }

    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Layout {
        let mut l = self.clone();
        l.offset += start * self.strides[dim];
        l.shape[dim] = len;
        l
    }

    /// Strides for viewing this layout as `shape` without copying, if possible
    /// (PyTorch's `computeStride`): None when a copy would be needed.
    pub fn view_strides(&self, shape: &[usize]) -> Option<Dims> {
        if self.numel() == 0 || self.is_contiguous() {
            return Some(contiguous_strides(shape));
        }
        let mut new_strides: Dims = SmallVec::from_elem(0, shape.len());
        let mut view_d = shape.len() as isize - 1;
        let mut chunk_base_stride = *self.strides.last()?;
        let mut tensor_numel = 1usize;
        let mut view_numel = 1usize;
        for tensor_d in (0..self.ndim()).rev() {
            tensor_numel *= self.shape[tensor_d];
            if tensor_d == 0
                || (self.shape[tensor_d - 1] != 1
                    && self.strides[tensor_d - 1] != tensor_numel * chunk_base_stride)
            {
                while view_d >= 0 && (view_numel < tensor_numel || shape[view_d as usize] == 1) {
                    new_strides[view_d as usize] = view_numel * chunk_base_stride;
                    view_numel *= shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = self.strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(new_strides)
    }
}

/// Resolves a `-1` in a requested shape against `numel` (RuntimeError as PyTorch words it).
pub fn infer_shape(shape: &[i64], numel: usize) -> Result<Dims> {
    let mut infer = None;
    let mut known = 1usize;
    for (i, &d) in shape.iter().enumerate() {
        if d == -1 {
            if infer.is_some() {
                return Err(Error::Runtime("only one dimension can be inferred".into()));
            }
            infer = Some(i);
        } else if d < 0 {
            return Err(Error::Runtime(format!("invalid shape dimension {}", d)));
        } else {
            known *= d as usize;
        }
    }
    let text = || {
        let s: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        format!("[{}]", s.join(", "))
    };
    let mut out: Dims = shape.iter().map(|&d| d.max(0) as usize).collect();
    match infer {
        Some(i) => {
            if known == 0 || !numel.is_multiple_of(known) {
                return Err(Error::Runtime(format!(
                    "shape '{}' is invalid for input of size {}",
                    text(),
                    numel
                )));
            }
            out[i] = numel / known;
        }
        None => {
            if known != numel {
                return Err(Error::Runtime(format!(
                    "shape '{}' is invalid for input of size {}",
                    text(),
                    numel
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    fn layout(shape: &[usize], strides: &[usize]) -> Layout {
        Layout {
            shape: shape.into(),
            strides: strides.into(),
            offset: 0,
        }
    }
    #[test]
    fn non_overlapping_views() {
        let c = Layout::contiguous(&[4, 6]);
        assert!(c.is_non_overlapping());
        assert!(c.transpose(0, 1).is_non_overlapping());
        assert!(c.narrow(1, 2, 3).is_non_overlapping());
        assert!(layout(&[2, 3], &[12, 2]).is_non_overlapping()); // a[::2, ::2]
        assert!(layout(&[4], &[7]).is_non_overlapping()); // a diagonal
        assert!(layout(&[1, 5], &[0, 1]).is_non_overlapping()); // a size-1 dim's stride is moot
        assert!(!layout(&[4, 6], &[0, 1]).is_non_overlapping()); // expanded
        assert!(!layout(&[3, 2], &[1, 1]).is_non_overlapping()); // unfold(0, 2, 1) windows
        assert!(!layout(&[2, 3], &[2, 1]).is_non_overlapping()); // windows of 3 stepping by 2
    }
    #[test]
    fn view_of_transposed_needs_copy() {
        let l = Layout::contiguous(&[2, 3]).transpose(0, 1);
        assert!(l.view_strides(&[6]).is_none());
        assert_eq!(l.view_strides(&[3, 2, 1]).unwrap().as_slice(), &[1, 3, 3]);
    }
    #[test]
    fn broadcast_error_names_sizes() {
        let e = broadcast_shapes(&[2, 3], &[4]).unwrap_err();
        assert!(e
            .to_string()
            .contains("size of tensor a (3) must match the size of tensor b (4)"));
    }
    #[test]
    fn infer() {
        assert_eq!(infer_shape(&[-1, 8], 16).unwrap().as_slice(), &[2, 8]);
        assert!(infer_shape(&[-1, 5], 16).is_err());
    }
}
