"""Render a procedural dataset once and serve it from memory.

The procedural datasets draw every sample from ``(seed, index)`` on demand (tens to hundreds
of pairs per second per process, see ``benchmarks/data_speed.py``). A training run visits each
of its few hundred pairs many times, so rendering them again on every visit is wasted work,
and on a fast GPU with a big model it could even make the GPU wait.
:class:`InMemoryPairs` renders each sample exactly once and then indexes stored tensors.

Images are stored as 8-bit values, like the PNG and JPEG files of the real pix2pix datasets
(a change of at most 1/255 of the range per pixel), which keeps a 400-pair 256 px dataset at
about 160 MB; pass ``exact=True`` to keep float32. Integer maps (class and instance ids) are
stored in the smallest integer type that holds them and returned as int64.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch.utils.data import Dataset
from course_lib.progress import tqdm

__all__ = ["InMemoryPairs"]


def _small_int_dtype(low: int, high: int) -> torch.dtype:
    for dtype in (torch.uint8, torch.int16, torch.int32):
        info = torch.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return dtype
    return torch.int64


class InMemoryPairs(Dataset):
    """Every sample of ``dataset``, rendered once and kept in memory.

    Args:
        dataset: a map-style dataset whose items are dicts of tensors (float images in
            [-1, 1], integer maps) and Python numbers, all with the same keys and shapes,
            e.g. :class:`~course_lib.data.SyntheticFacades`.
        n: keep only the first ``n`` samples (default: all).
        exact: keep float images as float32 instead of 8-bit.
        progress: show a progress bar while rendering.

    ``cached[i]`` returns the same keys as ``dataset[i]``; ``cached.B`` (any key as an
    attribute, or :meth:`stacked`) is the whole stack, e.g. ``(n, 3, H, W)``. Attributes of the
    wrapped dataset (``num_classes``, ``class_names``, ``colorize``, ...) are reachable on the
    cache.
    """

    def __init__(self, dataset: Dataset, n: int | None = None, exact: bool = False,
                 progress: bool = True) -> None:
        try:
            total = len(dataset)  # type: ignore[arg-type]
        except TypeError as err:
            raise ValueError(f"InMemoryPairs needs a dataset with a length; "
                             f"{type(dataset).__name__} has none") from err
        if total == 0:
            raise ValueError(f"{dataset!r} is empty: nothing to cache")
        if getattr(dataset, "augment", False) is True:
            raise ValueError(f"{type(dataset).__name__} has augment=True: caching it would freeze "
                             "one random crop and flip per pair. Cache an augment=False copy "
                             "(e.g. a validation set), or train from the dataset itself")
        if n is None:
            n = total
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= total:
            raise ValueError(f"n={n!r}: ask for between 1 and {total} samples (the dataset's "
                             f"length)")
        length = n
        self.dataset = dataset
        self.exact = exact
        self._store: dict[str, torch.Tensor] = {}
        self._dtypes: dict[str, torch.dtype] = {}
        self._python: dict[str, type] = {}
        self._lists: dict[str, list[str]] = {}
        items = [dataset[i] for i in tqdm(range(length), desc=f"rendering {type(dataset).__name__}",
                                          disable=not progress, leave=False)]
        self._length = length
        first = items[0]
        if not isinstance(first, Mapping):
            raise ValueError(f"InMemoryPairs caches datasets whose items are dicts; item 0 of "
                             f"{type(dataset).__name__} is a {type(first).__name__}")
        for key, value in first.items():
            values = []
            for i, item in enumerate(items):
                if key not in item:
                    raise ValueError(f"item {i} of {dataset!r} has no key {key!r} (item 0 has)")
                values.append(item[key])
            if torch.is_tensor(value):
                try:
                    stacked = torch.stack(values)
                except RuntimeError as err:
                    raise ValueError(f"the {key!r} tensors of {dataset!r} differ in shape; "
                                     f"InMemoryPairs needs one shape per key") from err
                self._dtypes[key] = value.dtype
                self._store[key] = self._pack(stacked)
            elif isinstance(value, (bool, int, float)):
                self._python[key] = type(value)
                self._store[key] = torch.tensor(values)
            elif isinstance(value, str):  # e.g. the file path of a real pair
                self._lists[key] = [str(v) for v in values]
            else:
                raise ValueError(f"cannot cache key {key!r} of type {type(value).__name__}; "
                                 "items may hold tensors, numbers and strings only")

        self._order = list(first.keys())

    def _pack(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_floating_point():
            if self.exact:
                return x.float().contiguous()
            return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).contiguous()
        if x.dtype == torch.bool or x.numel() == 0:
            return x.contiguous()
        return x.to(_small_int_dtype(int(x.min()), int(x.max()))).contiguous()

    def _unpack(self, key: str, x: torch.Tensor) -> torch.Tensor:
        dtype = self._dtypes[key]
        if dtype.is_floating_point:
            return x.to(dtype) if self.exact else (x.to(dtype) / 127.5 - 1.0)
        return x.to(dtype)

    def __len__(self) -> int:
        return self._length

    def keys(self) -> list[str]:
        """The keys of every item, e.g. ``["A", "B", "class_map", "index"]``."""
        return list(self._order)

    def stacked(self, key: str) -> torch.Tensor | list[str]:
        """All samples' ``key`` in one tensor, e.g. ``(n, 3, H, W)`` for ``"B"`` (a list for
        string values such as file paths)."""
        if key in self._lists:
            return list(self._lists[key])
        if key not in self._store:
            raise KeyError(f"{key!r} is not a key of the cached items; they have {self.keys()}")
        stored = self._store[key]
        return stored if key in self._python else self._unpack(key, stored)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a cache of {n} samples")
        out: dict[str, Any] = {}
        for key in self._order:
            if key in self._lists:
                out[key] = self._lists[key][index]
            elif key in self._python:
                out[key] = self._python[key](self._store[key][index].item())
            else:
                out[key] = self._unpack(key, self._store[key][index])
        return out

    def nbytes(self) -> int:
        """Memory held by the stored tensors, in bytes."""
        return sum(t.element_size() * t.numel() for t in self._store.values())

    def __getattr__(self, name: str) -> Any:
        # Only called for names not found normally: delegate to the wrapped dataset.
        if name.startswith("_") or name == "dataset":
            raise AttributeError(name)
        if name in self.__dict__.get("_order", ()):
            return self.stacked(name)
        return getattr(self.dataset, name)

    def __repr__(self) -> str:
        kind = "float32" if self.exact else "8-bit"
        return (f"InMemoryPairs({self.dataset!r}, {len(self)} samples, {kind} images, "
                f"{self.nbytes() / 2**20:.1f} MiB)")
