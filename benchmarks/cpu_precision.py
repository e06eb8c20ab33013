"""Training steps per second on this CPU: eager float32 against the cpu profile's precision.

    OMP_NUM_THREADS=1 python benchmarks/cpu_precision.py            # a few dozen steps each
    python benchmarks/cpu_precision.py --steps 50 --rounds 3        # steadier numbers

The cpu profile trains under bf16 autocast with channels_last tensors and fused Adam where the
CPU has native bf16 (AMX, AVX512-BF16; :func:`course_lib.profiles.precision_for`), in float32
elsewhere. This script times the trainers' own ``train_step`` (random batches, no data
loading) in both settings, in ONE process on the same machine, alternating the two settings
round by round so that a neighbour's load falls on both alike, and prints each setting's
median steps per second and the ratio:

* pix2pix, 64 px, batch 4, ngf = ndf = 32 (the cpu profile's U-Net and 70x70 PatchGAN);
* BicycleGAN (the hybrid: G, E, D, D2), 32 px and 64 px, batch 4, ngf = ndf = 32.

``--force-bf16`` measures bf16 + channels_last + fused Adam even on a CPU without native bf16
(emulated there: expect it slower than float32).
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from typing import Any, Callable

import torch

from course_lib.experiment import default_discriminator, default_generator
from course_lib.experiment_bicyclegan import default_bicycle_networks
from course_lib.profiles import PROFILES, native_cpu_bf16
from course_lib.train.bicyclegan import BicycleGAN, BicycleGANConfig
from course_lib.train.pix2pix import Pix2Pix, Pix2PixConfig

FP32 = {"amp": None, "channels_last": False, "fused_adam": False}
FAST = {"amp": "bf16", "channels_last": True, "fused_adam": True}


def _prepare(nets: dict[str, Any], channels_last: bool) -> None:
    for m in nets.values():
        if m is not None and channels_last:
            m.to(memory_format=torch.channels_last)


def _batch(size: int, batch: int, channels_last: bool) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return {k: (torch.rand(batch, 3, size, size, generator=gen) * 2 - 1).contiguous(
        memory_format=fmt) for k in ("A", "B")}


def pix2pix_step(size: int, batch: int, setting: dict[str, Any]) -> Callable[[], Any]:
    P = replace(PROFILES["cpu"], image_size=size, batch_size=batch)
    torch.manual_seed(0)
    nets = {"G": default_generator(P), "D": default_discriminator(P)}
    _prepare(nets, setting["channels_last"])
    model = Pix2Pix(nets["G"], nets["D"], Pix2PixConfig(amp=setting["amp"]),
                    fused_adam=setting["fused_adam"])
    data = _batch(size, batch, setting["channels_last"])
    return lambda: model.train_step(data)


def bicyclegan_step(size: int, batch: int, setting: dict[str, Any]) -> Callable[[], Any]:
    P = replace(PROFILES["cpu"], image_size=size, batch_size=batch)
    torch.manual_seed(0)
    nets = default_bicycle_networks(P, "bicyclegan")
    _prepare(nets, setting["channels_last"])
    model = BicycleGAN(nets["G"], nets["E"], nets["D"], nets["D2"],
                       BicycleGANConfig(amp=setting["amp"]), fused_adam=setting["fused_adam"])
    data = _batch(size, batch, setting["channels_last"])
    return lambda: model.train_step(data)


def steps_per_second(step: Callable[[], Any], steps: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=24, help="timed steps per round and setting")
    ap.add_argument("--warmup", type=int, default=4, help="untimed steps before each round")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per setting")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--force-bf16", action="store_true",
                    help="measure bf16 even without native bf16 (emulated, slow)")
    args = ap.parse_args()

    native = native_cpu_bf16()
    fast = FAST if (native or args.force_bf16) else FP32
    label = ("bf16 + channels_last + fused Adam" if fast is FAST else "fp32 (no native bf16)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, native bf16: "
          f"{native or 'none'}; cpu profile's setting: {label}")
    print(f"{args.rounds} rounds x {args.steps} steps (+{args.warmup} warm-up) per setting, "
          f"batch {args.batch}, ngf = ndf = 32\n")
    cases = [("pix2pix", 64, pix2pix_step), ("BicycleGAN", 32, bicyclegan_step),
             ("BicycleGAN", 64, bicyclegan_step)]
    print(f"{'model':<11} {'size':>5} {'fp32 steps/s':>13} {'profile steps/s':>16} {'ratio':>6}")
    for name, size, build in cases:
        rates: dict[str, list[float]] = {"fp32": [], "profile": []}
        steps = {"fp32": build(size, args.batch, FP32),
                 "profile": build(size, args.batch, fast)}
        for _ in range(args.rounds):
            for key in ("fp32", "profile"):
                rates[key].append(steps_per_second(steps[key], args.steps, args.warmup))
        a, b = statistics.median(rates["fp32"]), statistics.median(rates["profile"])
        print(f"{name:<11} {size:>4}px {a:>13.2f} {b:>16.2f} {b / a:>5.2f}x", flush=True)


if __name__ == "__main__":
    main()
