"""The "mean of many photos" figure: how much texture survives averaging n photos.

For several facade label maps, render 64 photos of each (same labels, new textures) and
report the sharpness ratio of the mean of the first n photos against one photo, inside class
regions (away from boundaries) and over the whole image. This is the image an L1-only
generator converges to (pix2pix Sec. 3.1).

    python benchmarks/mean_of_many.py --sizes 64 256 --layouts 10
"""
from __future__ import annotations

import argparse
import statistics

from course_lib.data import SyntheticFacades
from course_lib.metrics import sharpness_ratio

NS = (1, 2, 4, 8, 16, 32, 64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--layouts", type=int, default=10)
    args = parser.parse_args()
    print("sharpness ratio of the mean of n photos vs one photo, median over "
          f"{args.layouts} facade layouts (inside class regions | whole image)")
    print(f"{'size':>5s} " + " ".join(f"{f'n={n}':>13s}" for n in NS))
    for size in args.sizes:
        ds = SyntheticFacades(image_size=size)
        inside = {n: [] for n in NS}
        whole = {n: [] for n in NS}
        for i in range(args.layouts):
            photos = ds.sample_photos(i, n=max(NS))
            cm = ds[i]["class_map"]
            for n in NS:
                mean = photos[:n].mean(0)
                inside[n].append(sharpness_ratio(mean, photos[0], cm))
                whole[n].append(sharpness_ratio(mean, photos[0]))
        cells = [f"{statistics.median(inside[n]):.3f} | {statistics.median(whole[n]):.3f}"
                 for n in NS]
        print(f"{size:5d} " + " ".join(f"{c:>13s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
