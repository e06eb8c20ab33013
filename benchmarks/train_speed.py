"""Training throughput of pix2pix (L1+cGAN, U-Net + 70x70 PatchGAN): pairs per second.

    python benchmarks/train_speed.py                 # the cpu profile: 64 px, batch 4
    python benchmarks/train_speed.py --paper         # 256 px, ngf=ndf=64, batch 1 and 16;
                                                     # on CUDA also bf16 autocast and channels_last

Times :meth:`~course_lib.train.pix2pix.Pix2Pix.train_step` alone on random batches (data
loading is measured separately by ``data_speed.py``), after warm-up steps, and reports each
setting against the first one of its group as a ratio measured in the same run.
"""
from __future__ import annotations

import argparse
import time

import torch

from course_lib.models import PatchDiscriminator, UNetGenerator
from course_lib.profiles import get_profile
from course_lib.train.pix2pix import Pix2Pix, Pix2PixConfig


def throughput(size: int, ngf: int, ndf: int, num_downs: int, batch: int, device: str,
               amp: str | None = None, channels_last: bool = False, steps: int = 20,
               warmup: int = 5) -> float:
    """Pairs per second of the full pix2pix step (D update + G update)."""
    torch.manual_seed(0)
    G = UNetGenerator(num_downs=num_downs, ngf=ngf).to(device)
    D = PatchDiscriminator(6, ndf=ndf, n_layers=3).to(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    G, D = G.to(memory_format=fmt), D.to(memory_format=fmt)
    model = Pix2Pix(G, D, Pix2PixConfig(steps=steps + warmup, amp=amp))
    batch_data = {k: (torch.rand(batch, 3, size, size, device=device) * 2 - 1)
                  .contiguous(memory_format=fmt) for k in ("A", "B")}
    for _ in range(warmup):
        model.train_step(batch_data)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        model.train_step(batch_data)
    if device == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", action="store_true", help="the 256 px paper configuration")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else
             f", {torch.get_num_threads()} threads available"))
    if not args.paper:
        P = get_profile("cpu", device="cpu")
        base = None
        for threads in sorted({1, torch.get_num_threads()}):
            torch.set_num_threads(threads)
            rate = throughput(P.image_size, P.ngf, P.ndf, P.unet_downs, P.batch_size, "cpu",
                              steps=args.steps)
            base = base or rate
            print(f"cpu profile ({P.image_size} px, ngf/ndf {P.ngf}/{P.ndf}, batch "
                  f"{P.batch_size}), {threads} thread(s): {rate:6.1f} pairs/s "
                  f"({rate / P.batch_size:5.2f} steps/s, x{rate / base:.2f})")
        return
    settings = [(None, False), ("bf16", False), ("bf16", True)] if device == "cuda" else \
        [(None, False)]
    for batch in (1, 16):
        base = None
        for amp, cl in settings:
            rate = throughput(256, 64, 64, 8, batch, device, amp, cl, steps=args.steps)
            base = base or rate
            print(f"256 px, batch {batch:2d}, amp {amp or 'off':4s}, channels_last {cl!s:5s}: "
                  f"{rate:7.1f} pairs/s (x{rate / base:.2f} vs fp32)")


if __name__ == "__main__":
    main()
