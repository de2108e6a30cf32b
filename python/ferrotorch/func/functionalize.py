"""``torch.func.functionalize``.

PyTorch's functionalize rewrites in-place and view operations as out-of-place ones; that only changes
the program a tracer (``make_fx``) sees, not the values. ferrotorch has no functionalization pass or
tracer, so the transform returns ``func`` itself (after validating ``remove``): calling it gives the
same results, mutations of the inputs included."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["functionalize"]


def functionalize(func: Callable, *, remove: str = "mutations") -> Callable:
    """``func`` unchanged (ferrotorch has no functionalization pass); ``remove`` must be ``'mutations'`` or
    ``'mutations_and_views'``."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(
            f"functionalize(f, remove='mutations'): received invalid argument for remove={remove}."
            " Valid options are:\n"
            "     remove='mutations': all inplace and out= operators will be removed from the program, and replaced"
            " with their out-of-place equivalents.\n"
            "     remove='mutations_and_views': In addition to the above, all aliasing operators {view} will be"
            " replaced with their non-aliasing counterparts, {view}_copy.\n"
        )
    return func
