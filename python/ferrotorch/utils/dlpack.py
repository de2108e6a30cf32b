"""``torch.utils.dlpack``: DLPack exchange of CPU tensors (through numpy's DLPack support)."""

from ferrotorch._torch_buffers import DLDeviceType, from_dlpack, to_dlpack

__all__ = ["DLDeviceType", "from_dlpack", "to_dlpack"]
