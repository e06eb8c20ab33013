"""InMemoryPairs: render once, serve from memory, same samples up to 8-bit rounding."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from course_lib.data import InMemoryPairs, SyntheticShapes, SyntheticStreets


def test_matches_the_dataset_within_8_bit_rounding():
    ds = SyntheticStreets(image_size=32, length=6)
    cached = InMemoryPairs(ds, progress=False)
    assert len(cached) == 6
    for i in (0, 5, -1):
        want, got = ds[i % 6], cached[i]
        assert set(got) == set(want)
        for key in ("A", "B"):
            assert got[key].dtype == torch.float32 and got[key].shape == want[key].shape
            assert (got[key] - want[key]).abs().max() <= 1 / 127.5 / 2 + 1e-6
        for key in ("class_map", "instance_map"):
            assert got[key].dtype == torch.int64 and torch.equal(got[key], want[key])
        assert got["index"] == want["index"] and isinstance(got["index"], int)


def test_exact_mode_and_memory_and_delegation():
    ds = SyntheticShapes(image_size=32, length=4)
    exact = InMemoryPairs(ds, exact=True, progress=False)
    assert torch.equal(exact[2]["B"], ds[2]["B"]) and exact[2]["mode"] == ds[2]["mode"]
    small = InMemoryPairs(ds, progress=False)
    assert small.nbytes() < exact.nbytes() / 3  # 8-bit images, 1-byte class maps
    assert small.num_modes == ds.num_modes and small.num_classes == ds.num_classes
    assert "8-bit" in repr(small)
    batch = next(iter(DataLoader(small, batch_size=4)))
    assert batch["A"].shape == (4, 3, 32, 32) and batch["mode"].shape == (4,)


class _Odd(Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_bad_datasets_are_explained():
    with pytest.raises(ValueError, match="empty"):
        InMemoryPairs(_Odd([]), progress=False)
    with pytest.raises(ValueError, match="dicts"):
        InMemoryPairs(_Odd([torch.zeros(3)]), progress=False)
    with pytest.raises(ValueError, match="differ in shape"):
        InMemoryPairs(_Odd([{"A": torch.zeros(3, 4, 4)}, {"A": torch.zeros(3, 5, 5)}]),
                      progress=False)
    with pytest.raises(ValueError, match="no key 'B'"):
        InMemoryPairs(_Odd([{"A": torch.zeros(1), "B": torch.zeros(1)}, {"A": torch.zeros(1)}]),
                      progress=False)
    with pytest.raises(ValueError, match="type list"):
        InMemoryPairs(_Odd([{"boxes": [1, 2]}]), progress=False)
    cached = InMemoryPairs(_Odd([{"A": torch.zeros(1)}]), progress=False)
    with pytest.raises(IndexError, match="out of range"):
        cached[1]


def test_first_n_and_stacked_access():
    ds = SyntheticShapes(image_size=16, length=10)
    cached = InMemoryPairs(ds, n=3, exact=True, progress=False)
    assert len(cached) == 3 and cached.keys() == list(ds[0].keys())
    assert cached.B.shape == (3, 3, 16, 16) and torch.equal(cached.B[2], ds[2]["B"])
    assert torch.equal(cached.stacked("class_map")[1], ds[1]["class_map"])
    assert cached.mode.tolist() == [ds[i]["mode"] for i in range(3)]
    with pytest.raises(KeyError, match="instance_map"):
        cached.stacked("instance_map")
    for bad in (0, 11, 2.5):
        with pytest.raises(ValueError, match="between 1 and 10"):
            InMemoryPairs(ds, n=bad, progress=False)


def test_strings_are_kept_and_augmenting_datasets_refused():
    cached = InMemoryPairs(_Odd([{"A": torch.zeros(1), "path": "a.png"},
                                 {"A": torch.ones(1), "path": "b.png"}]), progress=False)
    assert cached[1]["path"] == "b.png" and cached.path == ["a.png", "b.png"]
    assert cached.keys() == ["A", "path"]
    augmenting = _Odd([{"A": torch.zeros(1)}])
    augmenting.augment = True
    with pytest.raises(ValueError, match="augment=True"):
        InMemoryPairs(augmenting, progress=False)
