"""Training speed of pix2pix: every speed setting against the eager fp32 baseline, in one run.

    python -m course_lib bench                 # = python benchmarks/speed.py
    python -m course_lib bench --quick         # a small configuration, seconds on a laptop

The baseline is what the original implementations run: eager PyTorch, float32, contiguous
(NCHW) tensors, the pix2pix step of Isola et al. 2017 (Sec. 3.3: one D update, one G update;
U-Net-256 G and 70x70 PatchGAN D, Appendix 6.1). Each *variant* builds fresh networks from the
same seed, runs warm-up steps (``torch.compile`` compiles there), then times a fixed number of
steps on synthetic tensors that already sit on the device, so only the model is measured:

==================  =====================================================================
variant             what changes
==================  =====================================================================
eager fp32          nothing (the baseline)
channels_last       NHWC memory format (tensor-core convolutions without transposes)
bf16 autocast       convolutions in bfloat16, losses in float32
fp16 autocast       float16 with a gradient scaler (GPUs without bf16)
bf16+cl+fused       bf16 + channels_last + fused Adam (one kernel for all parameters)
compile             the same, ``torch.compile``'d networks
CUDA graphs         the same, ``torch.compile(mode="reduce-overhead")``: whole kernels
                    sequences replayed from CUDA graphs (launch overhead gone; GPU only)
==================  =====================================================================

A variant that cannot run on the device (fp16 autocast or CUDA graphs on a CPU, compile
without a working compiler) is skipped with the reason printed. Reported per variant and batch:
pairs per second, peak memory (GPU: ``max_memory_allocated``; CPU: growth of the resident set
during the variant), the ratio to the baseline and, with a known peak, the **model-FLOP
utilisation**::

    MFU = pairs/s x FLOP per pair per training step / peak FLOP/s of the device

where FLOP per pair is counted by ``torch.utils.flop_counter`` on one eager step (forward and
backward of G and D; about 7 forward passes' worth, see ``docs/training_at_scale.md``).

The **loader** is measured alone as well: a ``DataLoader`` over JPEG "AB" files decoded and
jittered on CPU workers (the paper's resize 286 / crop 256 / flip), against the model's pairs
per second; and the alternative where workers only decode to uint8 and the jitter runs on the
device, batched (:func:`device_jitter`), which moves the CPU's heaviest work to the GPU.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

__all__ = ["VARIANTS", "Result", "add_arguments", "run", "flops_per_pair", "measure",
           "device_jitter", "peak_tflops", "main", "TRAIN_KINDS", "build_trainer",
           "train_flops_per_pair", "TrainMemory", "estimate_train_memory"]

# Dense bf16 tensor-core peaks (TFLOP/s) from the vendors' data sheets, for the MFU.
_PEAK_BF16_TFLOPS: dict[str, float] = {
    "H200": 989.0, "H100 SXM": 989.0, "H100 80GB HBM3": 989.0, "H100 PCIe": 756.0, "H100": 756.0,
    "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10G": 70.0, "A10": 125.0, "RTX 4090": 165.0,
    "RTX 3090": 71.0, "V100": 125.0, "T4": 65.0,
}


@dataclass(frozen=True)
class Variant:
    name: str
    amp: str | None = None
    channels_last: bool = False
    fused_adam: bool = False
    compile_mode: str | None = None      # None: eager; "default"; "reduce-overhead" (CUDA graphs)


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("eager fp32"),
    Variant("channels_last", channels_last=True),
    Variant("bf16 autocast", amp="bf16"),
    Variant("fp16 autocast", amp="fp16"),
    Variant("bf16+cl+fused", amp="bf16", channels_last=True, fused_adam=True),
    Variant("compile", amp="bf16", channels_last=True, fused_adam=True, compile_mode="default"),
    Variant("CUDA graphs", amp="bf16", channels_last=True, fused_adam=True,
            compile_mode="reduce-overhead"),
)}


@dataclass
class Result:
    """One measurement."""

    variant: str
    batch: int
    pairs_per_s: float | None = None
    peak_mib: float | None = None
    ratio: float | None = None
    mfu: float | None = None
    warmup_s: float | None = None
    skipped: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _skip_reason(v: Variant, device: str) -> str | None:
    """Why ``v`` cannot run on ``device`` (None if it can)."""
    cuda = device.startswith("cuda")
    if v.compile_mode == "reduce-overhead" and not cuda:
        return "CUDA graphs need a GPU"
    if v.amp == "fp16" and not cuda:
        return "fp16 autocast is for GPUs (CPUs run bf16 or fp32)"
    if v.amp == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        return "this GPU has no bfloat16 (use fp16 autocast)"
    return None


def _build(size: int, ngf: int, ndf: int, device: str, v: Variant, steps: int) -> Any:
    from course_lib.models import PatchDiscriminator, UNetGenerator
    from course_lib.recipes import unet_levels
    from course_lib.train.pix2pix import Pix2Pix, Pix2PixConfig

    torch.manual_seed(0)
    G: Any = UNetGenerator(num_downs=unet_levels(size, size), ngf=ngf).to(device)
    D: Any = PatchDiscriminator(6, ndf=ndf, n_layers=3).to(device)
    if v.channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    if v.compile_mode is not None:
        G = torch.compile(G, mode=v.compile_mode)
        D = torch.compile(D, mode=v.compile_mode)
    model = Pix2Pix(G, D, Pix2PixConfig(steps=steps, amp=v.amp))  # type: ignore[arg-type]
    if v.fused_adam:
        cfg = model.config
        model.opt_G = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                       fused=True)
        model.opt_D = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                                       fused=True)
    return model


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _rss_mib(field_name: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak(device: str) -> float | None:
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        return None
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")   # resets VmHWM (Linux >= 4.0)
    return _rss_mib("VmRSS")


def _peak(device: str, start: float | None) -> float | None:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    hwm = _rss_mib("VmHWM")
    return None if hwm is None or start is None else max(0.0, hwm - start)


def measure(v: Variant, size: int, ngf: int, ndf: int, batch: int, device: str,
            iters: int, warmup: int) -> Result:
    """Time ``iters`` pix2pix steps of variant ``v`` (after ``warmup`` steps)."""
    reason = _skip_reason(v, device)
    if reason:
        return Result(v.name, batch, skipped=reason)
    try:
        start_mem = _reset_peak(device)
        model = _build(size, ngf, ndf, device, v, iters + warmup)
        fmt = torch.channels_last if v.channels_last else torch.contiguous_format
        gen = torch.Generator(device=device).manual_seed(0)
        data = {k: (torch.rand(batch, 3, size, size, device=device, generator=gen) * 2 - 1)
                .contiguous(memory_format=fmt) for k in ("A", "B")}
        graphs = v.compile_mode == "reduce-overhead"

        def step() -> None:
            if graphs:   # a new training iteration: earlier graph outputs may be overwritten
                torch.compiler.cudagraph_mark_step_begin()
            model.train_step(data)

        t0 = time.perf_counter()
        for _ in range(warmup):
            step()
        _sync(device)
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        _sync(device)
        seconds = time.perf_counter() - t0
        return Result(v.name, batch, pairs_per_s=iters * batch / seconds,
                      peak_mib=_peak(device, start_mem), warmup_s=warm)
    except Exception as err:  # a variant that fails here is reported, not fatal
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return Result(v.name, batch, skipped=f"failed: {type(err).__name__}: {first[:160]}")


def flops_per_pair(size: int, ngf: int, ndf: int, device: str = "cpu") -> dict[str, float]:
    """FLOPs of one pix2pix training step per pair, and of the G and D forward passes.

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add,
    convolutions and matrix products only) on one eager fp32 step at batch 1.
    """
    from torch.utils.flop_counter import FlopCounterMode

    model = _build(size, ngf, ndf, device, VARIANTS["eager fp32"], 2)
    x = torch.rand(1, 3, size, size, device=device) * 2 - 1
    with FlopCounterMode(display=False) as fc:
        model.G(x)
    g = fc.get_total_flops()
    with FlopCounterMode(display=False) as fc:
        model.D(torch.cat([x, x], 1))
    d = fc.get_total_flops()
    with FlopCounterMode(display=False) as fc:
        model.train_step({"A": x, "B": x})
    return {"G_forward": float(g), "D_forward": float(d), "train_step": float(fc.get_total_flops())}


def peak_tflops(device: str, override: float | None = None) -> tuple[float | None, str]:
    """The device's dense bf16 peak in TFLOP/s and where the number comes from."""
    if override:
        return override, "--peak-tflops"
    if not device.startswith("cuda"):
        return None, "unknown for CPUs (pass --peak-tflops to get an MFU)"
    name = torch.cuda.get_device_name()
    for key in sorted(_PEAK_BF16_TFLOPS, key=len, reverse=True):
        if key in name:
            return _PEAK_BF16_TFLOPS[key], f"{key} data sheet, dense bf16"
    return None, f"{name} is not in the table (pass --peak-tflops)"


# --------------------------------------------------------------------------- the loader


def device_jitter(a: torch.Tensor, b: torch.Tensor, load_size: int, crop_size: int,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The paired jitter of pix2pix Sec. 6.2 on a whole batch, on the batch's device.

    ``a``, ``b``: ``(N, 3, H, W)`` uint8 (as decoded) or float. Returns float in [-1, 1]:
    both sides resized to ``load_size`` (bilinear, antialiased when shrinking), one random
    ``crop_size`` crop and one coin-flip mirror per pair, the same for both sides.
    """
    n = a.shape[0]
    x = torch.cat([a, b], dim=1).float()                           # (N, 6, H, W)
    if x.shape[-2:] != (load_size, load_size):
        x = F.interpolate(x, size=(load_size, load_size), mode="bilinear", align_corners=False,
                          antialias=True)
    if a.dtype == torch.uint8:
        x = x / 127.5 - 1.0
    span = load_size - crop_size + 1
    dev = x.device
    top = torch.randint(0, span, (n,), device=dev, generator=generator)
    left = torch.randint(0, span, (n,), device=dev, generator=generator)
    flip = torch.rand(n, device=dev, generator=generator) < 0.5
    rows = (top[:, None] + torch.arange(crop_size, device=dev))            # (N, c)
    cols = (left[:, None] + torch.arange(crop_size, device=dev))           # (N, c)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    idx_r = rows[:, None, :, None].expand(n, x.shape[1], crop_size, load_size)
    x = x.gather(2, idx_r)                                                  # (N, 6, c, L)
    idx_c = cols[:, None, None, :].expand(n, x.shape[1], crop_size, crop_size)
    x = x.gather(3, idx_c)                                                  # (N, 6, c, c)
    return x[:, :3].clamp(-1, 1), x[:, 3:].clamp(-1, 1)


class _DecodeOnly(torch.utils.data.Dataset):
    """AB files decoded to uint8 halves, no resize: the jitter is left to the device."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        from PIL import Image
        import numpy as np

        with Image.open(self.files[i]) as im:
            arr = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)
        h = arr.shape[1]
        return {"A": arr[:, :, :h].contiguous(), "B": arr[:, :, h:].contiguous()}


def _write_ab_files(folder: Path, n: int, side: int) -> list[Path]:
    """``n`` JPEG AB files of smooth random images (as hard to decode as photos)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    files = []
    for i in range(n):
        low = torch.rand(3, side // 16, side // 8, generator=g)
        img = F.interpolate(low[None], size=(side, 2 * side), mode="bicubic")[0]
        img = (img + 0.15 * torch.rand(3, side, 2 * side, generator=g)).clamp(0, 1)
        path = folder / f"{i:04d}.jpg"
        Image.fromarray((img * 255).byte().permute(1, 2, 0).numpy()).save(path, quality=90)
        files.append(path)
    return files


def measure_loader(size: int, batch: int, workers: int, device: str, batches: int,
                   on_device: bool, root: Path) -> float:
    """Pairs per second of a DataLoader (decode + jitter), including the copy to ``device``."""
    from course_lib.data.paired import PairedImageDataset

    if on_device:
        ds: Any = _DecodeOnly(sorted(root.glob("*.jpg")))
    else:
        ds = PairedImageDataset(root, split=None, load_size=round(size * 286 / 256),
                                crop_size=size, augment=True)
    n_batches = min(batches, max(1, len(ds) // batch))
    loader = torch.utils.data.DataLoader(
        ds, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
        pin_memory=device.startswith("cuda"), persistent_workers=False)
    count, t0 = 0, None
    for k, item in enumerate(loader):
        a = item["A"].to(device, non_blocking=True)
        b = item["B"].to(device, non_blocking=True)
        if on_device:
            a, b = device_jitter(a, b, round(size * 286 / 256), size)
        _sync(device)
        if k == 0:          # the first batch pays for starting the workers
            t0 = time.perf_counter()
            continue
        count += a.shape[0]
        if k >= n_batches:
            break
    return count / (time.perf_counter() - t0) if t0 and count else float("nan")


# --------------------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options (shared by ``python -m course_lib bench`` and the script)."""
    parser.add_argument("--quick", action="store_true",
                        help="small and fast: 64 px, ngf=ndf=32, batch 4, few steps")
    parser.add_argument("--size", type=int, default=None,
                        help="image side (default: 256, the paper's; --quick: 64)")
    parser.add_argument("--ngf", type=int, default=None, help="G width (default: 64)")
    parser.add_argument("--ndf", type=int, default=None, help="D width (default: 64)")
    parser.add_argument("--batch", type=int, nargs="+", default=None,
                        help="batch sizes (default: 1 and 16 on GPUs, 1 on CPUs)")
    parser.add_argument("--iters", type=int, default=None,
                        help="timed steps per variant (default: 50 GPU, 5 CPU)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed steps first (default: 10 GPU, 2 CPU; compile happens here)")
    parser.add_argument("--variants", nargs="+", default=None, choices=list(VARIANTS),
                        metavar="NAME", help=f"subset of: {', '.join(VARIANTS)}")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for the model (default: torch's)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the device's peak TFLOP/s for the MFU (default: a data-sheet table)")
    parser.add_argument("--no-loader", action="store_true", help="skip the loader measurement")
    parser.add_argument("--loader-workers", type=int, nargs="+", default=None,
                        help="loader worker counts to try (default: 0 2 4)")
    parser.add_argument("--no-flops", action="store_true", help="skip counting FLOPs")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the results")


def _fmt(x: float | None, spec: str, none: str = "-") -> str:
    return none if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse counts that would be silently replaced or make the numbers meaningless."""
    for name in ("size", "ngf", "ndf", "iters", "threads"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be a positive number, got {value}")
    for value in getattr(args, "batch", None) or []:
        if value < 1:
            raise ValueError(f"--batch must be positive, got {value}")
    for value in getattr(args, "loader_workers", None) or []:
        if value < 0:
            raise ValueError(f"--loader-workers must be 0 or more, got {value}")
    if getattr(args, "warmup", None) is not None and args.warmup < 0:
        raise ValueError(f"--warmup must be 0 or more, got {args.warmup}")


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark described by ``args`` (see :func:`add_arguments`); returns the data."""
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no GPU")
    cuda = device == "cuda"
    _check_arguments(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    size = args.size or (64 if args.quick else 256)
    ngf = args.ngf or (32 if args.quick else 64)
    ndf = args.ndf or (32 if args.quick else 64)
    batches = args.batch or ([4] if args.quick else ([1, 16] if cuda else [1]))
    iters = args.iters or (3 if args.quick else (50 if cuda else 5))
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else (10 if cuda else 2))
    names = args.variants or list(VARIANTS)
    if "eager fp32" not in names:
        names = ["eager fp32", *names]
    where = (f"{torch.cuda.get_device_name()}" if cuda else
             f"CPU, {torch.get_num_threads()} thread(s)")
    out(f"pix2pix training step, {size} px, ngf/ndf {ngf}/{ndf}; torch {torch.__version__}; "
        f"{where}; {iters} timed steps after {warmup} warm-up steps per variant")
    report: dict[str, Any] = {"device": where, "torch": torch.__version__, "size": size,
                              "ngf": ngf, "ndf": ndf, "iters": iters, "warmup": warmup,
                              "results": []}
    flops = None
    if not args.no_flops:
        flops = flops_per_pair(size, ngf, ndf, "cpu")
        report["flops"] = flops
        out(f"FLOPs per pair (torch.utils.flop_counter): G forward {flops['G_forward'] / 1e9:.2f} "
            f"G, D forward {flops['D_forward'] / 1e9:.2f} G, training step "
            f"{flops['train_step'] / 1e9:.1f} GFLOP")
    peak, peak_src = peak_tflops(device, args.peak_tflops)
    report["peak_tflops"], report["peak_source"] = peak, peak_src

    head = (f"{'variant':16s} {'batch':>5s} {'pairs/s':>9s} {'x fp32':>7s} {'peak MiB':>9s} "
            f"{'MFU':>6s} {'warm-up s':>9s}")
    out(head)
    out("-" * len(head))
    for batch in batches:
        base = None
        for name in names:
            r = measure(VARIANTS[name], size, ngf, ndf, batch, device, iters, warmup)
            if r.pairs_per_s is not None:
                if name == "eager fp32":
                    base = r.pairs_per_s
                r.ratio = r.pairs_per_s / base if base else None
                if flops and peak:
                    r.mfu = r.pairs_per_s * flops["train_step"] / (peak * 1e12)
            report["results"].append(asdict(r))
            if r.skipped:
                out(f"{name:16s} {batch:5d}   skipped: {r.skipped}")
            else:
                out(f"{name:16s} {batch:5d} {_fmt(r.pairs_per_s, '9.2f')} "
                    f"{_fmt(r.ratio, '7.2f')} {_fmt(r.peak_mib, '9.0f')} "
                    f"{_fmt(r.mfu and 100 * r.mfu, '5.1f')}{'%' if r.mfu else ' '} "
                    f"{_fmt(r.warmup_s, '9.1f')}")
    out(f"(MFU against {peak_src}" + (f": {peak:.0f} TFLOP/s)" if peak else ")"))
    if not cuda:
        out("peak MiB on a CPU: growth of the resident memory during the variant")

    if not args.no_loader:
        workers = args.loader_workers or [0, 2, 4]
        batch = max(batches)
        base = next((r["pairs_per_s"] for r in report["results"]
                     if r["variant"] == "eager fp32" and r["batch"] == batch), None)
        out(f"\nloader alone ({size} px crops from {size}x{2 * size} JPEG AB files, batch "
            f"{batch}) vs the eager fp32 model alone ({_fmt(base, '.2f')} pairs/s):")
        loader_rows = []
        with tempfile.TemporaryDirectory() as tmp:
            files = _write_ab_files(Path(tmp), max(2 * batch, 24 if args.quick else 64), size)
            n_batches = max(2, min(20, len(files) // batch - 1))
            for on_device in (False, True):
                for w in workers:
                    if w > (os.cpu_count() or 1):
                        continue
                    rate = measure_loader(size, batch, w, device, n_batches, on_device,
                                          Path(tmp))
                    where_j = (f"jitter on the device ({device})" if on_device
                       else "jitter in the loader (CPU)")
                    keeps = "keeps up" if base and rate >= base else "BOTTLENECK" if base else ""
                    loader_rows.append({"workers": w, "jitter_on_device": on_device,
                                        "pairs_per_s": rate})
                    out(f"  decode on {w} worker(s), {where_j:27s}: {_fmt(rate, '8.1f')} pairs/s "
                        f"{keeps}")
            del files
        report["loader"] = loader_rows
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
        out(f"wrote {args.json}")
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    run(parser.parse_args(argv))


# --------------------------------------------------------------------------- every model


TRAIN_KINDS: tuple[str, ...] = ("pix2pix", "pix2pixhd", "pix2pixhd_enhancer", "pix2pixhd_blocks",
                                 "pix2pixhd_blocks_enhancer", "bicyclegan", "bicyclegan_recipe")


def build_trainer(kind: str, P: Any, device: str = "cpu", amp: str | None = None
                  ) -> tuple[Any, dict[str, torch.Tensor]]:
    """The trainer of a notebook's main model at profile ``P`` and one batch for it.

    ``kind``: ``"pix2pix"`` (U-Net + 70x70 PatchGAN at ``P.image_size``), ``"pix2pixhd"``
    (G1 + multi-scale D on street scenes at ``P.hd_size``), ``"pix2pixhd_enhancer"`` (G1 + G2
    at twice that, joint phase), ``"pix2pixhd_blocks"`` / ``"pix2pixhd_blocks_enhancer"`` (the
    same on the blocks, with :func:`~course_lib.experiment_pix2pixhd.blocks_setup`'s G1) or
    ``"bicyclegan"`` (the hybrid at ``P.image_size``) or ``"bicyclegan_recipe"`` (the hybrid
    as notebook 06 trains it: :func:`~course_lib.experiment_bicyclegan.shapes_recipe`'s sizes).
    The batch is ``P.batch_size`` pairs (pix2pixHD: its setup's batch), drawn from the
    course's procedural datasets and moved to ``device``.
    """
    from dataclasses import replace as _replace

    if kind not in TRAIN_KINDS:
        raise ValueError(f"unknown model kind {kind!r}: use one of {', '.join(TRAIN_KINDS)}")
    torch.manual_seed(0)
    if kind == "pix2pix":
        from course_lib.experiment import default_discriminator, default_generator
        from course_lib.train.pix2pix import Pix2Pix, Pix2PixConfig

        model: Any = Pix2Pix(default_generator(P).to(device), default_discriminator(P).to(device),
                             Pix2PixConfig(steps=10, amp=amp))  # type: ignore[arg-type]
        n = P.batch_size
        batch = {k: torch.rand(n, 3, P.image_size, P.image_size) * 2 - 1 for k in ("A", "B")}
    elif kind in ("bicyclegan", "bicyclegan_recipe"):
        from course_lib.experiment_bicyclegan import default_bicycle_networks, shapes_recipe
        from course_lib.train.bicyclegan import BicycleGAN, BicycleGANConfig

        if kind == "bicyclegan_recipe":
            P = shapes_recipe(P).profile
        nets = default_bicycle_networks(P, "bicyclegan", "all", norm="batch")
        nets = {k: (v.to(device) if v is not None else None) for k, v in nets.items()}
        model = BicycleGAN(nets["G"], nets["E"], nets["D"], nets["D2"],  # type: ignore[arg-type]
                           BicycleGANConfig(steps=10))
        n = max(2, P.batch_size - P.batch_size % 2)
        batch = {k: torch.rand(n, 3, P.image_size, P.image_size) * 2 - 1 for k in ("A", "B")}
    else:
        from course_lib.data import SyntheticBlocks, SyntheticStreets
        from course_lib.experiment_pix2pixhd import blocks_setup, hd_setup
        from course_lib.train.pix2pixhd import Pix2PixHDConfig
        from course_lib.train.pix2pixhd_setup import build_pix2pixhd

        k = 1 if kind.endswith("_enhancer") else 0
        sizes = blocks_setup if kind.startswith("pix2pixhd_blocks") else hd_setup
        setup = sizes(P, enhancers=k)
        scenes = SyntheticBlocks if kind.startswith("pix2pixhd_blocks") else SyntheticStreets
        data = scenes(image_size=(setup.height, setup.width), split="train")
        items = [data[i] for i in range(setup.batch_size)]
        batch = {key: torch.stack([it[key] for it in items]) for key in items[0]
                 if torch.is_tensor(items[0][key])}
        cfg = Pix2PixHDConfig(num_classes=data.num_classes, steps=10, amp=amp)
        setup = _replace(setup, use_boundary=cfg.use_boundary, use_features=cfg.use_features)
        global_g = None
        if k:
            global_g = build_pix2pixhd(sizes(P), data.num_classes, cfg).G
        model = build_pix2pixhd(setup, data.num_classes, cfg, device=device,
                                global_generator=global_g)
    return model, {key: v.to(device) for key, v in batch.items()}


def train_flops_per_pair(kind: str, P: Any) -> float:
    """FLOPs of one training step of ``kind`` at profile ``P``, per training pair.

    Counted as :func:`flops_per_pair` counts pix2pix's (``torch.utils.flop_counter``, one
    eager fp32 step on the CPU, 2 FLOPs per multiply-add), divided by the batch.
    """
    from torch.utils.flop_counter import FlopCounterMode

    model, batch = build_trainer(kind, P, "cpu")
    with FlopCounterMode(display=False) as fc:
        model.train_step(batch)
    return float(fc.get_total_flops()) / int(batch["A"].shape[0] if "A" in batch
                                             else batch["B"].shape[0])


@dataclass(frozen=True)
class TrainMemory:
    """Estimated GPU memory of one training step (bytes); see :func:`estimate_train_memory`."""

    kind: str
    batch: int
    parameters: int
    states: int
    activations: int

    @property
    def total(self) -> int:
        return self.states + self.activations

    def with_overheads(self) -> int:
        """``total`` + 20 % (allocator fragmentation, cuDNN workspaces, transient buffers of
        the backward pass) + 0.5 GiB (the CUDA context)."""
        return int(1.2 * self.total + 0.5 * 2**30)


def estimate_train_memory(kind: str, P: Any) -> TrainMemory:
    """Estimate the GPU memory of one training step of ``kind`` at profile ``P``, in float32.

    * weights, gradients and Adam's two moments: 16 bytes per trained parameter;
    * activations: pix2pixHD by :func:`~course_lib.train.pix2pixhd_setup.estimate_memory`
      (the joint phase, probed at a reduced size and extrapolated); pix2pix and BicycleGAN by
      counting every distinct storage autograd saves during one whole training step at the
      full resolution, at batch 1 (BicycleGAN: 2, one pair per branch), scaled to the
      profile's batch. That counts D's graph and G's as if they were alive together, so it
      is an upper bound there.

    It is an estimate, not a measurement: float32 (autocast saves most activations in
    half precision, so AMP needs less), without the CUDA context and workspaces (see
    :meth:`TrainMemory.with_overheads`).
    """
    from dataclasses import replace as _replace

    if kind.startswith("pix2pixhd"):
        from course_lib.data import SyntheticBlocks, SyntheticStreets
        from course_lib.experiment_pix2pixhd import blocks_setup, hd_setup
        from course_lib.train.pix2pixhd_setup import estimate_memory

        blocks = kind.startswith("pix2pixhd_blocks")
        setup = (blocks_setup if blocks else hd_setup)(
            P, enhancers=1 if kind.endswith("_enhancer") else 0)
        classes = (SyntheticBlocks if blocks else SyntheticStreets).num_classes
        est = estimate_memory(setup, classes, phase="joint")
        return TrainMemory(kind, setup.batch_size, est.parameters, est.states, est.activations)
    from course_lib.train.pix2pixhd_setup import _saved_bytes

    probe_batch = 2 if kind == "bicyclegan" else 1
    model, batch = build_trainer(kind, _replace(P, batch_size=probe_batch), "cpu")
    modules = list(model.modules.values())
    params = {p.untyped_storage().data_ptr() for m in modules for p in m.parameters()}
    n_params = sum(p.numel() for m in modules for p in m.parameters() if p.requires_grad)
    saved = _saved_bytes(lambda: model.train_step(batch), params)
    scale = P.batch_size / probe_batch
    return TrainMemory(kind, P.batch_size, n_params, 16 * n_params, int(saved * scale))
