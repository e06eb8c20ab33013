"""Data randomness as a function of the step, so that resume is exact with any number of workers.

pix2pix's jitter (Sec. 6.2: resize to 286, random 256 crop, random mirror) is drawn while a pair
is read. Left to itself, that draw comes from whichever random generator the reading process
holds: the main process's (then it shifts the dropout masks that follow) or a ``DataLoader``
worker's, seeded once per loader from a base seed plus the worker id. A resumed run starts new
workers, hands batch ``t`` to another worker than the uninterrupted run did, and so draws other
crops; changing ``num_workers`` changes them too.

Here every item is read under its own seed, derived from the run's seed, the training step and
the item's place in the global batch (and deliberately *not* from the worker id or the rank):
:class:`SeededBatches` turns the index batches of a step sampler into ``(seed, index)`` keys and
:class:`StepSeededDataset` reads ``dataset[index]`` with torch's, Python's and NumPy's global
generators seeded from ``seed`` and restored afterwards. Batch ``t`` is then the same pixels
whichever process reads it, after any resume, with 0 or 8 workers, on one process or sliced
over several (``torchrun``), and reading it leaves the main process's random streams untouched.
"""
from __future__ import annotations

import hashlib
import random
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

__all__ = ["item_seed", "SeededBatches", "StepSeededDataset"]


def item_seed(seed: int, step: int, position: int) -> int:
    """A 63-bit seed for the ``position``-th pair of the global batch of step ``step``."""
    digest = hashlib.blake2b(f"{seed}/{step}/{position}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class SeededBatches(Sampler[list[tuple[int, int]]]):
    """Wrap a step batch sampler to yield ``(item seed, index)`` keys.

    The sampler's ``start`` (first step) is read, and for a rank's share of the global batch
    (:class:`~course_lib.train.sampling.ShardedStepBatchSampler`, which may take its share
    from several parts of the batch) its ``positions()``, so each item's seed is the one it
    has in a one-process run with the same global batch."""

    def __init__(self, batches: Sampler[list[int]], seed: int) -> None:
        self.batches, self.seed = batches, seed
        self.start = int(getattr(batches, "start", 0))
        positions = getattr(batches, "positions", None)
        self.positions: list[int] | None = positions() if callable(positions) else None

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for offset, batch in enumerate(self.batches):
            step = self.start + offset
            where = self.positions or range(len(batch))
            yield [(item_seed(self.seed, step, pos), int(i)) for pos, i in zip(where, batch)]


class StepSeededDataset(Dataset):
    """Read ``dataset[index]`` for a ``(seed, index)`` key under that seed (see the module
    docstring); the global generators are restored afterwards."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        seed, index = key
        py_state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            # The CPU generator only: torch.manual_seed would also reseed every CUDA
            # generator, which fork_rng(devices=[]) does not restore (on a GPU the step's z
            # draws and dropout masks would restart from the last item's seed), and on a CUDA
            # build it records a stack trace per call (1.4x the per-item cost on a CPU:
            # benchmarks/worker_seeding.py).
            torch.default_generator.manual_seed(seed)
            random.seed(seed)
            np.random.seed(seed % 2**32)
            try:
                return self.dataset[index]
            finally:
                random.setstate(py_state)
                np.random.set_state(np_state)
