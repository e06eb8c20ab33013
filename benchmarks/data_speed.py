"""Generation speed of the procedural datasets: pairs per second, rendered vs cached.

    python benchmarks/data_speed.py --sizes 64 256 --seconds 3

One process, one thread per process as a DataLoader worker has (``torch.set_num_threads(1)``
unless ``--threads`` says otherwise). "rendered" draws each pair from (seed, index), as the
dataset does on every access; "cached" reads it back from :class:`InMemoryPairs`, which
renders each pair once. The ratio is what the cache saves per visit.
"""
from __future__ import annotations

import argparse
import time

import torch

from course_lib.data import InMemoryPairs, SyntheticFacades, SyntheticShapes, SyntheticStreets


def rate(dataset, seconds: float) -> float:
    """Pairs per second over at least ``seconds`` (after one warm-up pair)."""
    dataset[0]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        dataset[n % len(dataset)]
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    print(f"{'dataset':8s} {'size (HxW)':>11s} {'rendered/s':>11s} {'cached/s':>9s} "
          f"{'ratio':>6s} {'cache MiB per 400':>18s}")
    for cls in (SyntheticFacades, SyntheticShapes, SyntheticStreets):
        for size in args.sizes:
            ds = cls(image_size=size, length=400)
            rendered = rate(ds, args.seconds)
            small = cls(image_size=size, length=16)
            cached = InMemoryPairs(small, progress=False)
            per_400 = cached.nbytes() / len(cached) * 400 / 2**20
            fast = rate(cached, args.seconds / 3)
            print(f"{cls.dataset_name:8s} {f'{ds.height}x{ds.width}':>11s} {rendered:11.1f} "
                  f"{fast:9.0f} {fast / rendered:6.0f} {per_400:18.1f}", flush=True)


if __name__ == "__main__":
    main()
