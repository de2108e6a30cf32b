"""A minimal pytree (nested tuple / list / dict / namedtuple) flattener for the ``torch.func``
transforms: leaves are everything that is not one of those containers (``None`` included, as in
``torch.utils._pytree``); the ``repr`` of a ``TreeSpec`` matches PyTorch's (it appears in error messages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "LEAF",
    "TreeSpec",
    "broadcast_prefix",
    "tree_flatten",
    "tree_map",
    "tree_unflatten",
    "treespec_pprint",
]


class _NamedTupleType:
    """Stands in for the ``type`` of namedtuple nodes (PyTorch prints those as ``namedtuple``)."""

    __name__ = "namedtuple"


_NAMEDTUPLE = _NamedTupleType()


class TreeSpec:
    """The structure of a pytree: the container type, its context (dict keys, namedtuple class) and the
    children's specs. ``LEAF`` is the spec of a leaf."""

    __slots__ = ("children", "context", "num_leaves", "type")

    def __init__(self, type_: Any, context: Any, children: list[TreeSpec]) -> None:
        self.type = type_
        self.context = context
        self.children = children
        self.num_leaves = 1 if type_ is None else sum(c.num_leaves for c in children)

    def is_leaf(self) -> bool:
        return self.type is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TreeSpec):
            return NotImplemented
        return self.type is other.type and self.context == other.context and self.children == other.children

    def __hash__(self) -> int:
        return hash((id(self.type), len(self.children)))

    def __repr__(self, indent: int = 0) -> str:
        if self.type is None:
            return "*"
        inner = ""
        if self.children:
            indent += 2
            inner = self.children[0].__repr__(indent) + ("," if len(self.children) > 1 else "")
            inner += ",".join("\n" + " " * indent + c.__repr__(indent) for c in self.children[1:])
        return f"TreeSpec({self.type.__name__}, {self.context}, [{inner}])"


LEAF = TreeSpec(None, None, [])


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _node(x: Any) -> tuple[Any, Any, list] | None:
    """(type, context, children) for a container node, None for a leaf."""
    if _is_namedtuple(x):
        return _NAMEDTUPLE, type(x), list(x)
    if type(x) in (tuple, list):
        return type(x), None, list(x)
    if isinstance(x, dict):
        return type(x), list(x.keys()), list(x.values())
    return None


def tree_flatten(tree: Any) -> tuple[list[Any], TreeSpec]:
    """The leaves of ``tree`` in order and its structure."""
    leaves: list[Any] = []

    def rec(x: Any) -> TreeSpec:
        node = _node(x)
        if node is None:
            leaves.append(x)
            return LEAF
        typ, ctx, children = node
        return TreeSpec(typ, ctx, [rec(c) for c in children])

    return leaves, rec(tree)


def tree_unflatten(leaves: list[Any], spec: TreeSpec) -> Any:
    """Rebuild the tree of structure ``spec`` from its leaves (the inverse of ``tree_flatten``)."""
    it = iter(leaves)

    def rec(s: TreeSpec) -> Any:
        if s.type is None:
            return next(it)
        children = [rec(c) for c in s.children]
        if s.type is _NAMEDTUPLE:
            return s.context(*children)
        if s.type in (tuple, list):
            return s.type(children)
        return s.type(zip(s.context, children))

    return rec(spec)


def tree_map(fn: Callable[[Any], Any], tree: Any) -> Any:
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def broadcast_prefix(prefix: Any, spec: TreeSpec) -> list[Any] | None:
    """One value per leaf of ``spec``: a leaf of ``prefix`` (an int, None, ...) applies to the whole subtree
    at its place. None when ``prefix`` is not a prefix of the structure (like ``_broadcast_to_and_flatten``)."""
    out: list[Any] = []

    def rec(p: Any, s: TreeSpec) -> bool:
        node = _node(p)
        if node is None:
            out.extend([p] * s.num_leaves)
            return True
        typ, ctx, children = node
        if s.type is not typ or len(children) != len(s.children):
            return False
        if isinstance(p, dict):
            if set(ctx) != set(s.context):
                return False
            children = [p[k] for k in s.context]
        elif typ is _NAMEDTUPLE and ctx is not s.context:
            return False
        return all(rec(c, cs) for c, cs in zip(children, s.children))

    return out if rec(prefix, spec) else None


class _Asterisk:
    def __repr__(self) -> str:
        return "*"


def treespec_pprint(spec: TreeSpec) -> str:
    """The structure written as the tree itself with ``*`` for leaves: ``(*, *)``, ``{'a': *}``."""
    return repr(tree_unflatten([_Asterisk()] * spec.num_leaves, spec))
