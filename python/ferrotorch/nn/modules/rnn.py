"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` and their single-step ``*Cell``s.

Gate order as PyTorch: LSTM ``i, f, g, o``; GRU ``r, z, n``. Parameters are named ``weight_ih_l{k}[_reverse]``,
``weight_hh_l{k}[_reverse]``, ``bias_ih_l{k}[_reverse]``, ``bias_hh_l{k}[_reverse]`` (and ``weight_hr_l{k}``
for an LSTM with ``proj_size``), so PyTorch's state_dicts load unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import ferrotorch as torch
from ferrotorch.nn import functional as F
from ferrotorch.nn import init
from ferrotorch.nn._utils import _factory_kwargs
from ferrotorch.nn.modules.module import Module
from ferrotorch.nn.parameter import Parameter
from ferrotorch.nn.utils.rnn import PackedSequence

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]

Tensor = torch.Tensor

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _step(
    mode: str, x_proj: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor, b_hh: Tensor | None, w_hr: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """One time step given the input projection ``x W_ihᵀ + b_ih``; returns ``(h', c')``."""
    h_proj = F.linear(h, w_hh, b_hh)
    if mode == "LSTM":
        # the gate GEMMs above, the pointwise rest (and its backward) one fused node on the CPU;
        # on a GPU, elementwise kernels
        h_new, c_new = _lstm_cell_ops(x_proj, h_proj, c) if x_proj.is_cuda else torch._C._nn_lstm_cell(x_proj, h_proj, c)
        if w_hr is not None:
            h_new = F.linear(h_new, w_hr)
        return h_new, c_new
    if mode == "GRU":
        return (_gru_cell_ops(x_proj, h_proj, h) if x_proj.is_cuda else torch._C._nn_gru_cell(x_proj, h_proj, h)), None
    pre = x_proj + h_proj
    return (torch.tanh(pre) if mode == "RNN_TANH" else torch.relu(pre)), None


def _lstm_cell_ops(x_proj: Tensor, h_proj: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """The LSTM cell's pointwise part in tensor ops: gates ``i, f, g, o`` of ``x_proj + h_proj``."""
    i, f, g, o = (x_proj + h_proj).chunk(4, 1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_new.tanh(), c_new


def _gru_cell_ops(x_proj: Tensor, h_proj: Tensor, h: Tensor) -> Tensor:
    """The GRU cell's pointwise part in tensor ops: ``r, z`` from both projections, ``n`` with ``r``
    scaling the hidden one (which includes its bias, as in PyTorch)."""
    xr, xz, xn = x_proj.chunk(3, 1)
    hr, hz, hn = h_proj.chunk(3, 1)
    r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return n + z * (h - n)


def _run_direction(
    mode: str, x_proj: Tensor, batch_sizes: list[int], h0: Tensor, c0: Tensor | None, w_hh: Tensor,
    b_hh: Tensor | None, w_hr: Tensor | None, reverse: bool,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Run one layer in one direction over time-major rows; batch sizes never grow with ``t`` (packed order).

    Returns the outputs of all steps as time-major rows ``(sum(batch_sizes), H)`` and the final ``(h, c)``.
    """
    steps = len(batch_sizes)
    if (mode in ("LSTM", "GRU") and w_hr is None and steps > 0 and batch_sizes[-1] == batch_sizes[0]
            and x_proj.dtype in (torch.float32, torch.float64) and not x_proj.is_cuda):
        # the whole recurrence one node: per step one GEMM + the fused cell, backward in one pass
        batch = batch_sizes[0]
        xg = x_proj.reshape(steps, batch, x_proj.shape[-1])
        if mode == "GRU":
            out, h_n = torch._C._nn_gru_layer(xg, h0, w_hh, b_hh, reverse)
            c_n = None
        else:
            out, h_n, c_n = torch._C._nn_lstm_layer(xg, h0, c0, w_hh, b_hh, reverse)
        return out.reshape(steps * batch, out.shape[-1]), h_n, c_n
    outputs: list[Tensor] = [None] * steps  # type: ignore[list-item]
    # one node for all the time steps' rows (a slice per step would each scatter into a full-size gradient)
    x_steps = torch._C._nn_split(x_proj, batch_sizes, 0)
    h, c = h0, c0
    for t in (reversed(range(steps)) if reverse else range(steps)):
        bs = batch_sizes[t]
        full = bs == h.shape[0]
        h_t = h if full else h[:bs]
        c_t = c if c is None or full else c[:bs]
        h_new, c_new = _step(mode, x_steps[t], h_t, c_t, w_hh, b_hh, w_hr)
        outputs[t] = h_new
        h = torch.cat([h_new, h[bs:]], 0) if bs < h.shape[0] else h_new
        if c is not None:
            c = torch.cat([c_new, c[bs:]], 0) if bs < c.shape[0] else c_new
    return torch.cat(outputs, 0), h, c


class RNNBase(Module):
    """Shared parameters and the multi-layer, optionally bidirectional forward of ``RNN``/``LSTM``/``GRU``."""

    def __init__(
        self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
        device: Any = None, dtype: Any = None,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an element being zeroed"
            )
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        gate_size = _GATES[mode] * hidden_size
        factory = _factory_kwargs(device, dtype)
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                real_hidden_size = proj_size if proj_size > 0 else hidden_size
                layer_input_size = input_size if layer == 0 else real_hidden_size * num_directions
                suffix = "_reverse" if direction == 1 else ""
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                shapes = [(gate_size, layer_input_size), (gate_size, real_hidden_size)]
                if bias:
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                    shapes += [(gate_size,), (gate_size,)]
                if proj_size > 0:
                    names.append(f"weight_hr_l{layer}{suffix}")
                    shapes.append((proj_size, hidden_size))
                for name, shape in zip(names, shapes):
                    setattr(self, name, Parameter(torch.empty(shape, **factory)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """No-op (kept for API compatibility: the weights are always used in place)."""

    def reset_parameters(self) -> None:
        """Every weight and bias ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    def _layer_params(self, layer: int, direction: int) -> tuple[Tensor, Tensor, Any, Any, Any]:
        suffix = "_reverse" if direction == 1 else ""
        w_ih = getattr(self, f"weight_ih_l{layer}{suffix}")
        w_hh = getattr(self, f"weight_hh_l{layer}{suffix}")
        b_ih = getattr(self, f"bias_ih_l{layer}{suffix}") if self.bias else None
        b_hh = getattr(self, f"bias_hh_l{layer}{suffix}") if self.bias else None
        w_hr = getattr(self, f"weight_hr_l{layer}{suffix}") if self.proj_size > 0 else None
        return w_ih, w_hh, b_ih, b_hh, w_hr

    def forward(self, input: Tensor | PackedSequence, hx: Any = None) -> tuple[Any, Any]:
        is_lstm = self.mode == "LSTM"
        num_directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        packed = isinstance(input, PackedSequence)
        if packed:
            data = input.data
            batch_sizes = [int(b) for b in input.batch_sizes.tolist()]
            batch = batch_sizes[0]
            unbatched = False
            sorted_indices, unsorted_indices = input.sorted_indices, input.unsorted_indices
        else:
            if input.dim() not in (2, 3):
                raise ValueError(
                    f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.dim()}D instead"
                )
            unbatched = input.dim() == 2
            x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
            steps, batch = x.shape[0], x.shape[1]
            batch_sizes = [batch] * steps
            data = x.reshape(steps * batch, x.shape[2])
            sorted_indices = unsorted_indices = None
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {data.shape[-1]}")
        h_shape = (self.num_layers * num_directions, batch, real_hidden)
        c_shape = (self.num_layers * num_directions, batch, self.hidden_size)
        if hx is None:
            h0 = torch.zeros(h_shape, dtype=data.dtype, device=data.device)
            c0 = torch.zeros(c_shape, dtype=data.dtype, device=data.device) if is_lstm else None
        else:
            if is_lstm:
                if not isinstance(hx, tuple) or len(hx) != 2:
                    raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
                h0, c0 = hx
            else:
                h0, c0 = hx, None
            if unbatched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            if sorted_indices is not None:
                h0 = h0.index_select(1, sorted_indices)
                c0 = c0.index_select(1, sorted_indices) if c0 is not None else None
            if tuple(h0.shape) != h_shape:
                raise RuntimeError(f"Expected hidden size {h_shape}, got {list(h0.shape)}")
            if c0 is not None and tuple(c0.shape) != c_shape:
                raise RuntimeError(f"Expected hidden[1] size {c_shape}, got {list(c0.shape)}")
        h_finals, c_finals = [], []
        layer_input = data
        for layer in range(self.num_layers):
            direction_outputs = []
            for direction in range(num_directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_params(layer, direction)
                idx = layer * num_directions + direction
                outs, h_n, c_n = _run_direction(
                    self.mode, F.linear(layer_input, w_ih, b_ih), batch_sizes, h0[idx],
                    c0[idx] if c0 is not None else None, w_hh, b_hh, w_hr, reverse=direction == 1,
                )
                direction_outputs.append(outs)
                h_finals.append(h_n)
                if c_n is not None:
                    c_finals.append(c_n)
            layer_input = direction_outputs[0] if num_directions == 1 else torch.cat(direction_outputs, 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        h_n = torch.stack(h_finals, 0)
        c_n = torch.stack(c_finals, 0) if is_lstm else None
        if unsorted_indices is not None:
            h_n = h_n.index_select(1, unsorted_indices)
            c_n = c_n.index_select(1, unsorted_indices) if c_n is not None else None
        if packed:
            output: Any = PackedSequence(layer_input, input.batch_sizes, sorted_indices, unsorted_indices)
        else:
            output = layer_input.reshape(len(batch_sizes), batch, layer_input.shape[-1])
            if unbatched:
                output = output.squeeze(1)
                h_n = h_n.squeeze(1)
                c_n = c_n.squeeze(1) if c_n is not None else None
            elif self.batch_first:
                output = output.transpose(0, 1)
        return output, ((h_n, c_n) if is_lstm else h_n)


class RNN(RNNBase):
    """Elman RNN ``h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`` (or ``relu``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory; returns ``output, (h_n, c_n)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit; returns ``output, h_n``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    """Parameters ``weight_ih (G·hidden, input)``, ``weight_hh (G·hidden, hidden)``, ``bias_ih``, ``bias_hh``."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        factory = _factory_kwargs(device, dtype)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(torch.empty((num_chunks * hidden_size, input_size), **factory))
        self.weight_hh = Parameter(torch.empty((num_chunks * hidden_size, hidden_size), **factory))
        if bias:
            self.bias_ih = Parameter(torch.empty(num_chunks * hidden_size, **factory))
            self.bias_hh = Parameter(torch.empty(num_chunks * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        """Every weight and bias ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _cell(self, mode: str, input: Tensor, hx: Any) -> tuple[Tensor, Tensor | None]:
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        zeros = torch.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
        if mode == "LSTM":
            h, c = (zeros, zeros) if hx is None else hx
            if not batched and hx is not None:
                h, c = h.unsqueeze(0), c.unsqueeze(0)
        else:
            h = zeros if hx is None else (hx if batched else hx.unsqueeze(0))
            c = None
        h_new, c_new = _step(mode, F.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh,
                             None)
        if not batched:
            h_new = h_new.squeeze(0)
            c_new = c_new.squeeze(0) if c_new is not None else None
        return h_new, c_new


class RNNCell(RNNCellBase):
    """One Elman RNN step: ``h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return self._cell("RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU", input, hx)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step; returns ``(h', c')``."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        h, c = self._cell("LSTM", input, hx)
        return h, c


class GRUCell(RNNCellBase):
    """One GRU step; returns ``h'``."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._cell("GRU", input, hx)[0]
