"""Results as plain values, so that files holding them load without running code.

A checkpoint is read with ``torch.load(weights_only=True)`` (:mod:`course_lib.train.checkpoint`),
which returns only tensors and plain values. The notebooks' experiments keep their periodic
evaluations (frozen dataclasses such as ``Evaluation`` with a nested ``FCNScore``) beside the
checkpoint in ``extras.pt``; :func:`to_plain` turns such a dataclass into a dict tagged with
its class name, and :func:`from_plain` rebuilds it, but only as one of the classes the caller
names: a file cannot make the loader build anything else.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable

__all__ = ["to_plain", "from_plain"]

_TAG = "__dataclass__"


def to_plain(value: Any) -> Any:
    """``value`` with every dataclass replaced by ``{"__dataclass__": name, field: ...}``
    (recursively through lists, tuples and dicts; tensors and plain values unchanged)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {_TAG: type(value).__name__}
        for f in dataclasses.fields(value):
            out[f.name] = to_plain(getattr(value, f.name))
        return out
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_plain(v) for v in value)
    return value


def from_plain(value: Any, allowed: Iterable[type]) -> Any:
    """Rebuild what :func:`to_plain` wrote, allowing only the dataclasses in ``allowed``.

    Raises:
        ValueError: a tagged dict names a class that is not in ``allowed``.
    """
    classes = {cls.__name__: cls for cls in allowed}

    def build(v: Any) -> Any:
        if isinstance(v, dict):
            if _TAG in v:
                name = v[_TAG]
                if name not in classes:
                    raise ValueError(f"a saved result names the class {name!r}, which is not "
                                     f"one of {sorted(classes)}")
                return classes[name](**{k: build(x) for k, x in v.items() if k != _TAG})
            return {k: build(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return type(v)(build(x) for x in v)
        return v

    return build(value)
