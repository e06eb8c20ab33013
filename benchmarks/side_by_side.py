"""Two BicycleGAN runs of notebook 06's recipe: one after the other on all threads, or side by
side in two processes with one thread each (:mod:`course_lib.side_by_side`). Both ways in one
run of this script, on the same machine, so the ratio is the result::

    python benchmarks/side_by_side.py [--steps 300] [--threads 2]

The runs are pix2pix+noise and BicycleGAN at the recipe's sizes (32 px, ngf = ndf = 16, batch
16, 128 outlines), the pair notebook 06 trains first. Each run writes to a temporary folder.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2,
                    help="threads of the one-after-the-other runs (default: %(default)s)")
    args = ap.parse_args(argv)

    from course_lib.data import InMemoryPairs, SyntheticShapes
    from course_lib.experiment_bicyclegan import shapes_recipe, train_bicyclegan_variants
    from course_lib.session import setup

    P = setup("cpu")
    R = shapes_recipe(P)
    train = InMemoryPairs(SyntheticShapes(split="train", **R.data), R.train_size, progress=False)
    variants = {name: {"variant": v, "where_add": w,
                       "config": replace(R.config_for(v), decay_start=args.steps // 2)}
                for name, v, w in (("pix2pix+noise", "pix2pix+noise", "input"),
                                   ("BicycleGAN", "bicyclegan", "all"))}
    common = dict(norm="batch", steps=args.steps, seed=0, progress=False)
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        torch.set_num_threads(args.threads)
        t = time.perf_counter()
        train_bicyclegan_variants(R.profile, train, None, variants, run_root=Path(tmp) / "seq",
                                  side_by_side=False, **common)
        times["in turn"] = time.perf_counter() - t
        t = time.perf_counter()
        train_bicyclegan_variants(R.profile, train, None, variants, run_root=Path(tmp) / "par",
                                  side_by_side=True, **common)
        times["side by side"] = time.perf_counter() - t
    print(f"{args.steps} steps each of pix2pix+noise and BicycleGAN ({R})")
    print(f"  one after the other, {args.threads} threads: {times['in turn']:.1f} s")
    print(f"  side by side, one thread each:      {times['side by side']:.1f} s")
    print(f"  ratio: side by side is {times['in turn'] / times['side by side']:.2f}x as fast")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
