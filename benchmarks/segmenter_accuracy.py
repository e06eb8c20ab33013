"""FCN-score upper bound: the cached segmenter's accuracy on REAL val photos.

For each procedural dataset with class maps (facades, streets) and each size, train (or load
from the cache) the segmenter on the train split's real photos, then score it on the val
split's real photos: the "ground truth" row that every generated score is read against.

    python benchmarks/segmenter_accuracy.py --sizes 64 128
"""
from __future__ import annotations

import argparse
import time

import torch

from course_lib.data import SyntheticFacades, SyntheticStreets
from course_lib.metrics import fcn_score, load_or_train_segmenter


def stack(ds) -> tuple[torch.Tensor, torch.Tensor]:
    samples = [ds[i] for i in range(len(ds))]
    return (torch.stack([s["B"] for s in samples]),
            torch.stack([s["class_map"] for s in samples]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--datasets", nargs="+", default=["facades", "streets"])
    args = parser.parse_args()
    classes = {"facades": SyntheticFacades, "streets": SyntheticStreets}
    torch.set_num_threads(torch.get_num_threads())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'dataset':8s} {'size':>9s} {'train s':>8s} {'pixel acc':>9s} {'class acc':>9s} "
          f"{'mean IoU':>9s}")
    for name in args.datasets:
        for size in args.sizes:
            cls = classes[name]
            train, val = cls(image_size=size, split="train"), cls(image_size=size, split="val")
            x, y = stack(train)
            t = time.perf_counter()
            seg = load_or_train_segmenter(name, tuple(x.shape[-2:]), x, y, cls.num_classes,
                                          progress=False)
            took = getattr(seg, "train_info", {}).get("seconds", time.perf_counter() - t)
            vx, vy = stack(val)
            s = fcn_score(seg, vx, vy)
            hw = f"{x.shape[-2]}x{x.shape[-1]}"
            print(f"{name:8s} {hw:>9s} {took:8.1f} {s.pixel_acc:9.3f} {s.class_acc:9.3f} "
                  f"{s.class_iou:9.3f}", flush=True)


if __name__ == "__main__":
    main()
