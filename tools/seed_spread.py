#!/usr/bin/env python3
"""The pix2pix claims of the README on several seed pairs: how much do they move with the seed?

The README's first claims table (notebooks 01-04) was measured on one seed pair, data seed 0
and training seed 0. This tool re-runs exactly the notebooks' experiments for those rows on
other seed pairs ``(d, t)``: the procedural facades drawn with ``SyntheticFacades(seed=d)``
(train and val, through ``InMemoryPairs``), their own FCN-score segmenter (``segmenter_for``,
cached per data seed), and every network, dropout mask and batch order seeded by ``t``
(``setup(seed=t)``, ``train_variants(seed=t)``). Rows, in order of importance:

* ``loss``    notebook 04: L1, cGAN, L1+GAN, L1+cGAN, 1 000 steps each (texture, colour, FCN)
* ``unet``    notebook 02: encoder-decoder vs U-Net (L1+cGAN), 2 000 steps each
* ``cgan``    notebook 01: cGAN vs GAN (no L1), 2 000 steps each, and IoU own - wrong labels
* ``patch``   notebook 03: PixelGAN, PatchGAN 16/34/70, ImageGAN, 1 000 steps each
* ``dropout`` notebooks 02 and 04: diversity of dropout draws vs real photos (no training of
  its own: it uses the U-Net of ``unet`` and the L1+cGAN of ``loss``)

The FCN-ordering row of the README ("L1+cGAN has the best FCN-score") is read off ``loss``
and ``patch``. Each run checkpoints under ``--runs`` (default ``runs/claims``, shared with
``tests/test_claims.py``) in ``<notebook>/<profile>/seeds_d<d>_t<t>[_<amp>]/<variant>``
(``_<amp>`` only when ``--amp`` differs from the profile's own choice); the notebooks' own
folder ``<notebook>/<profile>/<variant>`` stands for the pair (0, 0) at the profile's amp, so
``--runs solutions/runs --seeds 0,0`` evaluates the runs of executed notebooks. Interrupt it
and start the same command again to continue; finished runs are only evaluated. Each
variant's networks are built right after seeding with ``t``, so a run does not depend on
which rows ran before it.

Cost at the ``cpu`` profile: 17 000 training steps of 64 px, batch 4 per seed pair (plus a
segmenter per data seed, about a minute): about 30 minutes per pair on a free CPU thread,
an hour or more on a busy one (0.1 to 0.3 s per step; ``--amp bf16`` autocasts on the CPU).
``--order rows`` (default) trains row by row across the pairs, so that the most important
rows are complete on every pair first; ``--order pairs`` finishes one pair before the next.

    OMP_NUM_THREADS=1 python tools/seed_spread.py --seeds 1,1 2,2 --amp bf16 \\
        --json runs/seeds/pix2pix.json
    python tools/seed_spread.py --with-json runs/seeds/pix2pix.json   # tables only

Output: a Markdown table of every measured quantity per seed pair (with mean and range when
there are several pairs, including those of ``--with-json`` files), then the claims, each
stated as an ordering or a ratio, with its value per pair and whether it held; ``--json``
writes every number per pair.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

ROWS = ("loss", "unet", "cgan", "patch", "dropout")
NOTEBOOK = {"loss": "04_pix2pix", "unet": "02_unet", "cgan": "01_conditional_gan",
            "patch": "03_patchgan"}
FCN_KEYS = ("pixel_acc", "class_acc", "class_iou")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))              # this checkout's course_lib, not an installed one


# --------------------------------------------------------------------------- the experiments


def parse_pair(text: str) -> tuple[int, int]:
    """``"1,2"`` -> ``(1, 2)``: (data seed, training seed)."""
    try:
        d, t = (int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed pair is 'DATA,TRAIN' (two ints), got {text!r}")
    return d, t


def pair_key(d: int, t: int) -> str:
    return f"d{d}_t{t}"


def run_folder(runs: Path, notebook: str, profile: str, d: int, t: int, amp: str | None,
               profile_amp: str | None) -> Path:
    """Where the runs of one notebook and seed pair live (see the module docstring)."""
    base = Path(runs) / notebook / profile
    if (d, t) == (0, 0) and amp == profile_amp:
        return base                                    # the notebooks' own layout
    suffix = "" if amp == profile_amp else f"_{amp or 'fp32'}"
    return base / f"seeds_d{d}_t{t}{suffix}"


@dataclass
class SeedPair:
    """The data, segmenter and settings of one seed pair; :meth:`measure` runs the rows."""

    d: int
    t: int
    profile: str = "cpu"
    amp: str | None = "profile"
    runs: Path = Path("runs/claims")
    progress: bool = False

    def __post_init__(self) -> None:
        from course_lib.data import InMemoryPairs, SyntheticFacades
        from course_lib.experiment import segmenter_for
        from course_lib.session import setup

        self.P = setup(self.profile, seed=self.t, device="cpu", verbose=False)
        if self.amp == "profile":
            self.amp = self.P.amp
        size = self.P.image_size
        self.train = InMemoryPairs(SyntheticFacades(image_size=size, split="train", seed=self.d),
                                   self.P.train_size, progress=self.progress)
        self.val = InMemoryPairs(SyntheticFacades(image_size=size, split="val", seed=self.d),
                                 self.P.eval_size, progress=self.progress)
        # One cached segmenter per data seed: the cache keeps one file per name, so the
        # notebooks' "facades" (seed 0) is never replaced by another seed's.
        name = "facades" if self.d == 0 else f"facades_d{self.d}"
        start = time.perf_counter()
        self.seg = segmenter_for(self.P, self.train, name=name, progress=self.progress)
        self.segmenter_seconds = time.perf_counter() - start
        self.kept: dict[tuple[str, str], Any] = {}     # runs the dropout row reuses
        self.seconds: dict[str, float] = {}

    # ----------------------------------------------------------------- training

    def _seeded(self, build: Callable[[], Any]) -> Callable[[], Any]:
        import torch

        def make() -> Any:
            torch.manual_seed(self.t)
            return build()
        return make

    def train_row(self, row: str, variants: Mapping[str, Mapping[str, Any]], steps: int,
              keep: Sequence[str] = ()) -> dict[str, Any]:
        """``{variant: Evaluation}`` of one row's variants, trained (or resumed) one by one."""
        from course_lib.experiment import train_variants

        root = run_folder(self.runs, NOTEBOOK[row], self.P.name, self.d, self.t, self.amp,
                          self.P.amp)
        out = {}
        for name, own in variants.items():
            own = {k: self._seeded(v) if k in ("generator", "discriminator") else v
                   for k, v in own.items()}
            start = time.perf_counter()
            run = train_variants(self.P, self.train, self.val, {name: own}, run_root=root,
                                 steps=steps, seed=self.t, segmenter=self.seg, amp=self.amp,
                                 progress=self.progress)[name]
            took = time.perf_counter() - start
            self.seconds[f"{row}/{name}"] = took
            ev = run.evaluation
            print(f"[{pair_key(self.d, self.t)}] {row}/{name}: {took:.0f} s; "
                  f"FCN {ev.fcn}; texture {ev.sharpness_inside:.3f}; "
                  f"colour {ev.color_spread:.3f}", flush=True)
            if name in keep:
                self.kept[(row, name)] = run
            out[name] = ev
        return out

    @staticmethod
    def _numbers(ev: Any) -> dict[str, float]:
        d = {k: getattr(ev.fcn, k) for k in FCN_KEYS}
        d.update(sharpness_inside=ev.sharpness_inside, color_spread=ev.color_spread,
                 sharpness=ev.sharpness, l1=ev.l1)
        return {k: float(v) for k, v in d.items()}

    def _real(self, ev: Any) -> dict[str, float]:
        return {k: float(getattr(ev.fcn_real, k)) for k in FCN_KEYS}

    def _table(self, evs: Mapping[str, Any]) -> dict[str, dict[str, float]]:
        out = {name: self._numbers(ev) for name, ev in evs.items()}
        out["real"] = self._real(next(iter(evs.values())))
        return out

    # ----------------------------------------------------------------- the rows

    def row_loss(self) -> dict[str, dict[str, float]]:
        """Notebook 04's loss ablation (cell "variants"): 1 000 steps at the cpu profile."""
        from course_lib.train.pix2pix import Pix2PixConfig

        variants = {
            "L1": dict(config=Pix2PixConfig(use_gan=False)),
            "cGAN": dict(config=Pix2PixConfig(use_l1=False)),
            "L1+GAN": dict(config=Pix2PixConfig(conditional=False)),
            "L1+cGAN": dict(config=Pix2PixConfig()),
        }
        return self._table(self.train_row("loss", variants, max(1, self.P.steps // 2),
                                      keep=("L1+cGAN",)))

    def row_unet(self) -> dict[str, dict[str, float]]:
        """Notebook 02's ablation: encoder-decoder vs U-Net, both L1+cGAN, ``P.steps``."""
        from course_lib.experiment import default_generator

        P = self.P
        variants = {
            "encoder-decoder": dict(generator=lambda: default_generator(P, skip=False)),
            "U-Net": dict(generator=lambda: default_generator(P, skip=True)),
        }
        return self._table(self.train_row("unet", variants, P.steps, keep=("U-Net",)))

    def row_cgan(self) -> dict[str, dict[str, float]]:
        """Notebook 01: cGAN vs GAN without L1, ``P.steps``; plus the class IoU against each
        image's own label map minus that against another image's (``iou_own_minus_wrong``)."""
        from course_lib.metrics import fcn_score
        from course_lib.train.pix2pix import Pix2PixConfig

        variants = {
            "cGAN": dict(config=Pix2PixConfig(use_l1=False, conditional=True)),
            "GAN": dict(config=Pix2PixConfig(use_l1=False, conditional=False)),
        }
        evs = self.train_row("cgan", variants, self.P.steps)
        out = self._table(evs)
        maps = self.val.class_map
        wrong = maps.roll(1, dims=0)
        images = {"real": self.val.B, **{name: ev.fake for name, ev in evs.items()}}
        for name, x in images.items():
            own = fcn_score(self.seg, x, maps).class_iou
            out[name]["iou_own_minus_wrong"] = float(own - fcn_score(self.seg, x, wrong).class_iou)
        return out

    def row_patch(self) -> dict[str, dict[str, float]]:
        """Notebook 03's patch-size sweep: five conditional discriminators, ``P.steps // 2``."""
        from course_lib.models import ImageDiscriminator, PatchDiscriminator, PixelDiscriminator

        P = self.P
        variants = {
            "PixelGAN": dict(discriminator=lambda: PixelDiscriminator(6, ndf=P.ndf)),
            **{f"PatchGAN {r}x{r}": dict(discriminator=lambda n=n: PatchDiscriminator(
                6, ndf=P.ndf, n_layers=n)) for n, r in ((1, 16), (2, 34), (3, 70))},
            "ImageGAN": dict(discriminator=lambda: ImageDiscriminator(
                6, ndf=P.ndf, image_size=P.image_size)),
        }
        return self._table(self.train_row("patch", variants, max(1, P.steps // 2)))

    def row_dropout(self) -> dict[str, dict[str, float]]:
        """Dropout's diversity: notebook 02's (4 draws for the first ``min(batch, 4)`` val
        label maps, against 4 real photos of each) on the U-Net of ``unet``, and notebook 04's
        (mean |difference| between 4 draws of the first batch, vs the error to the target) on
        the L1+cGAN of ``loss``."""
        import torch

        from course_lib.experiment import generate
        from course_lib.metrics import diversity

        if ("unet", "U-Net") not in self.kept:
            self.row_unet()
        if ("loss", "L1+cGAN") not in self.kept:
            self.row_loss()
        P = self.P
        n_inputs, n_draws = min(P.batch_size, 4), 4
        a = self.val.A[:n_inputs]
        unet = self.kept[("unet", "U-Net")].G
        fake = torch.stack([generate(unet, a, "paper", batch_size=n_inputs, seed=s)
                            for s in range(n_draws)], dim=1)               # (N, S, 3, H, W)
        real = torch.stack([self.val.sample_photos(i, n=n_draws) for i in range(n_inputs)])
        g = self.kept[("loss", "L1+cGAN")].G
        a4 = self.val.A[:P.batch_size]
        draws = torch.stack([generate(g, a4, "paper", batch_size=P.batch_size, seed=s)
                             for s in range(4)])                           # (4, N, 3, H, W)
        spread = (draws[:, None] - draws[None]).abs().mean().item() * 4 / 3
        error = (draws[0] - self.val.B[:P.batch_size]).abs().mean().item()
        return {"02 U-Net": {"diversity": diversity(fake)},
                "real": {"diversity": diversity(real)},
                "04 L1+cGAN": {"draw_spread": float(spread), "error_to_target": float(error)}}

    def measure(self, rows: Sequence[str]) -> dict[str, Any]:
        return {row: getattr(self, f"row_{row}")() for row in rows}


# --------------------------------------------------------------------------- the claims


@dataclass(frozen=True)
class Claim:
    """A README row restated as an ordering or a ratio; ``value`` computes the quantity from
    one pair's measurements, ``holds`` says whether the statement is true for it."""

    key: str
    row: str
    statement: str
    value: Callable[[Mapping[str, Any]], float]
    holds: Callable[[float], bool]
    needs: tuple[str, ...] = ()

    def rows(self) -> tuple[str, ...]:
        return self.needs or (self.row,)


def _tex(m: Mapping[str, Any], row: str, v: str) -> float:
    return m[row][v]["sharpness_inside"]


PATCHES = ("PixelGAN", "PatchGAN 16x16", "PatchGAN 34x34", "PatchGAN 70x70", "ImageGAN")

CLAIMS: tuple[Claim, ...] = (
    Claim("texture_ratio", "loss",
          "L1+cGAN keeps at least 5x the texture inside regions of L1 alone (04)",
          lambda m: _tex(m, "loss", "L1+cGAN") / _tex(m, "loss", "L1"), lambda v: v >= 5),
    Claim("l1_texture", "loss", "L1 alone keeps under a quarter of the real texture (04)",
          lambda m: _tex(m, "loss", "L1"), lambda v: v < 0.25),
    Claim("l1_cgan_texture", "loss",
          "L1+cGAN keeps between 0.6 and 1.25 of the real texture (04)",
          lambda m: _tex(m, "loss", "L1+cGAN"), lambda v: 0.6 <= v <= 1.25),
    Claim("colour_ratio", "loss",
          "L1+cGAN's colour spread is at least 1.2x L1's (L1 narrows the colours, 04)",
          lambda m: m["loss"]["L1+cGAN"]["color_spread"] / m["loss"]["L1"]["color_spread"],
          lambda v: v >= 1.2),
    Claim("unet_pixel", "unet",
          "the U-Net's FCN per-pixel accuracy beats the encoder-decoder's by at least 0.1 (02)",
          lambda m: m["unet"]["U-Net"]["pixel_acc"] - m["unet"]["encoder-decoder"]["pixel_acc"],
          lambda v: v >= 0.1),
    Claim("unet_iou", "unet",
          "the U-Net's class IoU beats the encoder-decoder's by at least 0.1 (02)",
          lambda m: m["unet"]["U-Net"]["class_iou"] - m["unet"]["encoder-decoder"]["class_iou"],
          lambda v: v >= 0.1),
    Claim("cgan_pixel", "cgan", "cGAN beats GAN on FCN per-pixel accuracy (01)",
          lambda m: m["cgan"]["cGAN"]["pixel_acc"] - m["cgan"]["GAN"]["pixel_acc"],
          lambda v: v > 0),
    Claim("cgan_iou", "cgan", "cGAN beats GAN on class IoU (01)",
          lambda m: m["cgan"]["cGAN"]["class_iou"] - m["cgan"]["GAN"]["class_iou"],
          lambda v: v > 0),
    Claim("cgan_own_wrong", "cgan",
          "cGAN's outputs follow their own label map more than GAN's (IoU own - wrong, 01)",
          lambda m: (m["cgan"]["cGAN"]["iou_own_minus_wrong"]
                     - m["cgan"]["GAN"]["iou_own_minus_wrong"]), lambda v: v > 0),
    Claim("patch_pixel_low", "patch", "the 1x1 PixelGAN keeps under 0.3 of the real texture (03)",
          lambda m: _tex(m, "patch", "PixelGAN"), lambda v: v < 0.3),
    Claim("patch_grows_to_34", "patch",
          "texture grows with the field: PixelGAN < 16x16 < 34x34 (03; value: 34x34 - 16x16, "
          "with PixelGAN < 16x16 required)",
          lambda m: (_tex(m, "patch", "PatchGAN 34x34") - _tex(m, "patch", "PatchGAN 16x16")
                     if _tex(m, "patch", "PixelGAN") < _tex(m, "patch", "PatchGAN 16x16")
                     else float("-inf")),
          lambda v: v > 0),
    Claim("patch_70_vs_34", "patch",
          "texture still grows from 34x34 to 70x70, by at least 0.05 (03; value: 70x70 - 34x34)",
          lambda m: _tex(m, "patch", "PatchGAN 70x70") - _tex(m, "patch", "PatchGAN 34x34"),
          lambda v: v >= 0.05),
    Claim("patch_70_texture", "patch", "70x70 keeps between 0.6 and 1.25 of the real texture (03)",
          lambda m: _tex(m, "patch", "PatchGAN 70x70"), lambda v: 0.6 <= v <= 1.25),
    Claim("imagegan_no_better", "patch",
          "the whole-image D is no better than 70x70 on class IoU (within 0.02; value: "
          "ImageGAN - 70x70)",
          lambda m: (m["patch"]["ImageGAN"]["class_iou"]
                     - m["patch"]["PatchGAN 70x70"]["class_iou"]), lambda v: v <= 0.02),
    Claim("fcn_l1_cgan_best", "loss",
          "L1+cGAN has the best class IoU of the four losses, within 0.02 (04; value: L1+cGAN "
          "- best)",
          lambda m: (m["loss"]["L1+cGAN"]["class_iou"]
                     - max(v["class_iou"] for k, v in m["loss"].items() if k != "real")),
          lambda v: v >= -0.02),
    Claim("fcn_70_beats_pixel", "patch",
          "70x70 beats the 1x1 PixelGAN on class IoU (03, Table 3; value: 70x70 - PixelGAN)",
          lambda m: (m["patch"]["PatchGAN 70x70"]["class_iou"]
                     - m["patch"]["PixelGAN"]["class_iou"]), lambda v: v > 0),
    Claim("dropout_diversity", "dropout",
          "dropout draws have under a quarter of the diversity of real photos of one label map "
          "(02; value: ratio)",
          lambda m: m["dropout"]["02 U-Net"]["diversity"] / m["dropout"]["real"]["diversity"],
          lambda v: v < 0.25),
    Claim("dropout_spread", "dropout",
          "dropout draws differ under a fifth as much as a draw differs from its target (04; "
          "value: ratio)",
          lambda m: (m["dropout"]["04 L1+cGAN"]["draw_spread"]
                     / m["dropout"]["04 L1+cGAN"]["error_to_target"]), lambda v: v < 0.2),
)


def claim_values(measured: Mapping[str, Any]) -> dict[str, tuple[float, bool]]:
    """``{claim key: (value, holds)}`` for the claims whose rows ``measured`` has."""
    out = {}
    for c in CLAIMS:
        if all(r in measured for r in c.rows()):
            v = float(c.value(measured))
            out[c.key] = (v, bool(c.holds(v)))
    return out


# --------------------------------------------------------------------------- reporting


def flatten(measured: Mapping[str, Any]) -> dict[str, float]:
    """``{"row / variant / metric": value}``, in the order measured."""
    return {f"{row} / {variant} / {metric}": float(value)
            for row, variants in measured.items() for variant, metrics in variants.items()
            for metric, value in metrics.items()}


def _fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"


def markdown(pairs: Mapping[str, Mapping[str, Any]]) -> str:
    """The quantities and the claims, one column per seed pair (+ mean and range)."""
    keys = list(pairs)
    flat = {k: flatten(p["rows"]) for k, p in pairs.items()}
    names: list[str] = []
    for k in keys:
        names += [n for n in flat[k] if n not in names]
    many = len(keys) > 1
    head = "| quantity | " + " | ".join(f"({pairs[k]['data_seed']}, {pairs[k]['train_seed']})"
                                         for k in keys)
    head += " | mean | range |" if many else " |"
    lines = ["### Measured (data seed, training seed)", "", head,
             "|---" * (len(keys) + 1 + 2 * many) + "|"]
    for n in names:
        vals = [flat[k].get(n, float("nan")) for k in keys]
        cells = " | ".join(_fmt(v) for v in vals)
        if many:
            got = [v for v in vals if v == v]
            if got:
                cells += (f" | {_fmt(sum(got) / len(got))} | {_fmt(min(got))} - {_fmt(max(got))}"
                          + ("" if len(got) == len(vals) else
                             f" ({len(got)} pair{'s' if len(got) > 1 else ''})"))
            else:
                cells += " | n/a | n/a"
        lines.append(f"| {n} | {cells} |")
    lines += ["", "### Claims (value per pair; holds on all?)", "",
              "| claim | " + " | ".join(f"({pairs[k]['data_seed']}, {pairs[k]['train_seed']})"
                                        for k in keys) + " | holds on all measured |",
              "|---" * (len(keys) + 2) + "|"]
    vals_per = {k: claim_values(pairs[k]["rows"]) for k in keys}
    for c in CLAIMS:
        got = [vals_per[k].get(c.key) for k in keys]
        if all(g is None for g in got):
            continue
        cells = " | ".join("n/a" if g is None else f"{g[0]:.3f} {'yes' if g[1] else 'NO'}"
                           for g in got)
        measured = [g for g in got if g is not None]
        verdict = "yes" if all(g[1] for g in measured) else "no"
        plural = "s" if len(measured) > 1 else ""
        lines.append(f"| {c.statement} | {cells} | {verdict} ({len(measured)} pair{plural}) |")
    return "\n".join(lines)


def load_json(path: Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or "pairs" not in data:
        raise SystemExit(f"{path}: not a seed_spread.py JSON file (no 'pairs')")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="*", type=parse_pair, default=[],
                        help="seed pairs DATA,TRAIN to run, e.g. --seeds 1,1 2,2")
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS),
                        help="rows to measure (default all, in order of importance)")
    parser.add_argument("--profile", default="cpu", help="course profile (default cpu)")
    parser.add_argument("--amp", default="profile", choices=("profile", "none", "bf16", "fp16"),
                        help="mixed precision of the training steps (default: the profile's; "
                             "bf16 autocasts on the CPU too)")
    parser.add_argument("--runs", type=Path, default=Path("runs/claims"),
                        help="root of the run folders (default runs/claims)")
    parser.add_argument("--order", choices=("rows", "pairs"), default="rows",
                        help="rows: each row on every pair before the next row (default); "
                             "pairs: every row of one pair before the next pair")
    parser.add_argument("--json", type=Path, help="write every number per seed pair here "
                                                  "(rewritten after each row)")
    parser.add_argument("--with-json", type=Path, nargs="*", default=[],
                        help="earlier results to add to the tables (not re-run)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="tqdm bars (default: when stderr is a terminal)")
    args = parser.parse_args(argv)
    if not args.seeds and not args.with_json:
        parser.error("nothing to do: give --seeds to run, or --with-json to report")
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    amp = None if args.amp == "none" else args.amp

    pairs: dict[str, dict[str, Any]] = {}
    for path in args.with_json:
        pairs.update(load_json(path)["pairs"])
    ran: dict[str, dict[str, Any]] = {}

    def save() -> None:
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.json.with_suffix(".tmp")
            tmp.write_text(json.dumps({"profile": args.profile, "amp": args.amp,
                                       "pairs": ran}, indent=1))
            tmp.replace(args.json)

    contexts: dict[tuple[int, int], SeedPair] = {}

    def context(d: int, t: int) -> SeedPair:
        if (d, t) not in contexts:
            contexts[(d, t)] = SeedPair(d, t, args.profile, amp if args.amp != "profile"
                                        else "profile", args.runs, progress)
            ctx = contexts[(d, t)]
            ran[pair_key(d, t)] = {"data_seed": d, "train_seed": t, "amp": ctx.amp,
                                   "profile": ctx.P.name, "rows": {}, "seconds": {},
                                   "segmenter_seconds": ctx.segmenter_seconds}
        return contexts[(d, t)]

    order = ([(p, r) for r in args.rows for p in args.seeds] if args.order == "rows"
             else [(p, r) for p in args.seeds for r in args.rows])
    start = time.perf_counter()
    for (d, t), row in order:
        ctx = context(d, t)
        entry = ran[pair_key(d, t)]
        entry["rows"][row] = getattr(ctx, f"row_{row}")()
        entry["seconds"] = dict(ctx.seconds)
        print(f"[{pair_key(d, t)}] row {row} done ({time.perf_counter() - start:.0f} s so far)",
              flush=True)
        save()
    # rows in the canonical order, whatever order they ran in
    for entry in ran.values():
        entry["rows"] = {r: entry["rows"][r] for r in ROWS if r in entry["rows"]}
    save()
    pairs.update(ran)
    print(markdown(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
