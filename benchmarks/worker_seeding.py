"""Per-item cost of the training loop's data seeding: reseeding the CPU generator only (what
:class:`course_lib.train.worker_seeding.StepSeededDataset` does) vs ``torch.manual_seed``,
which on a CUDA build also queues a reseed of every CUDA generator and records a stack trace
per call. Both in one process, on the in-memory 32 px shapes pairs of notebook 06::

    python benchmarks/worker_seeding.py [--items 3000]

Measured on the course's 2-core machine (torch 2.14.1+cu130, no GPU): see the closing note of
issue 19; the ratio, not the absolute time, is the result.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from course_lib.data import InMemoryPairs, SyntheticShapes  # noqa: E402
from course_lib.train.worker_seeding import StepSeededDataset  # noqa: E402


class _AllDevices(StepSeededDataset):
    """The previous behaviour: torch.manual_seed (CPU and, lazily, every CUDA generator)."""

    def __getitem__(self, key):  # type: ignore[no-untyped-def]
        seed, index = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[index]


def per_item(ds: StepSeededDataset, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        ds[(1000 + i, i % len(ds))]
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=3000)
    args = ap.parse_args()
    pairs = InMemoryPairs(SyntheticShapes(image_size=32, split="train", fills="solid"), 64,
                          progress=False)
    cpu_only, all_devices = StepSeededDataset(pairs), _AllDevices(pairs)
    per_item(cpu_only, 200), per_item(all_devices, 200)          # warm up
    a, b = per_item(cpu_only, args.items), per_item(all_devices, args.items)
    print(f"CPU generator only: {a * 1e6:.0f} us/item; torch.manual_seed: {b * 1e6:.0f} us/item;"
          f" ratio {b / a:.2f}x (torch {torch.__version__}, CUDA build: "
          f"{torch.version.cuda is not None})")


if __name__ == "__main__":
    main()
