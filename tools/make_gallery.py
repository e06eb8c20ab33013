#!/usr/bin/env python3
"""Make the README's results gallery from the runs the notebooks wrote.

Notebooks 01-04 save each variant they train under ``runs/<notebook>/<profile>/<variant>/``
(next to the notebook, at every profile but ``ci``), with the outputs on the first validation
facades in ``extras.pt``. For each notebook this tool draws one small figure: the input label
maps, each variant's final outputs, and the real photos, one column per facade. For notebook 06
(``runs/06_bicyclegan/<profile>/<norm>/<variant>/``) it rebuilds each variant's generator from
``run.json`` and ``last.pt`` and draws one outline under the same six random codes z, then the
K correct fills. Each figure goes to ``docs/images/gallery_<notebook>.png`` (PNG, kept under
200 KB). ``--markdown`` prints the README snippet that shows them. (Notebook 05, pix2pixHD, is
not drawn yet.)

Run the notebooks at the ``cpu`` profile first (``COURSE_PROFILE=cpu``), then::

    python tools/make_gallery.py                       # looks in notebooks/runs and solutions/runs
    python tools/make_gallery.py --profile cpu --runs solutions/runs --markdown

A notebook whose runs are missing is reported and skipped; nothing is overwritten unless its
runs are there. The inputs and real photos are rendered again from the procedural dataset
(``SyntheticFacades(split="val", seed=0)``, the validation set of the notebooks).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 200_000


@dataclass(frozen=True)
class Section:
    """One notebook's figure: which runs, in which order, and what the figure shows."""

    notebook: str
    title: str
    rows: tuple[tuple[str, str], ...]   # (run folder name, row label), in the order shown


SECTIONS = (
    Section("01_conditional_gan", "01 · cGAN vs unconditional GAN (no L1)",
            (("GAN", "GAN"), ("cGAN", "cGAN"))),
    Section("02_unet", "02 · encoder-decoder vs U-Net (L1 + cGAN)",
            (("encoder-decoder", "encoder-\ndecoder"), ("U-Net", "U-Net"))),
    Section("03_patchgan", "03 · discriminator field: 1×1 to the whole image",
            (("PixelGAN", "1×1"), ("PatchGAN_16x16", "16×16"), ("PatchGAN_34x34", "34×34"),
             ("PatchGAN_70x70", "70×70"), ("ImageGAN", "image"))),
    Section("04_pix2pix", "04 · the loss ablation",
            (("L1", "L1"), ("cGAN", "cGAN"), ("L1_GAN", "L1 + GAN"), ("L1_cGAN", "L1 + cGAN"))),
)


def find_runs(roots: list[Path], notebook: str, profile: str) -> dict[str, Path]:
    """``{run folder name: folder}`` of the runs with saved samples, first root that has any."""
    for root in roots:
        base = root / notebook / profile
        if base.is_dir():
            found = {p.parent.name: p.parent for p in sorted(base.glob("*/extras.pt"))}
            if found:
                return found
    return {}


def last_samples(run: Path) -> tuple[int, "torch.Tensor"]:  # noqa: F821 - imported lazily
    """The last recorded ``(step, outputs)`` of a run, outputs ``(n, 3, H, W)`` in [-1, 1]."""
    from course_lib.train.checkpoint import load_checkpoint

    samples = load_checkpoint(run / "extras.pt").get("samples") or []
    if not samples:
        raise ValueError(f"{run / 'extras.pt'} holds no samples (the run was made with "
                         "sample_every=0): run the notebook again with samples on")
    step, outputs = max(samples, key=lambda s: s[0])
    return int(step), outputs.float()


def _render(grid: list, title: str, out: Path, size: float = 1.0) -> None:
    """Rows of images (``[(label, images)]``) as one PNG under :data:`MAX_BYTES` at ``out``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.viz import to_display

    n = max(len(images) for _, images in grid)
    for dpi in (80, 64, 50, 40):
        fig, axes = plt.subplots(len(grid), n, figsize=(size * n + 1.1, size * len(grid) + 0.4),
                                 squeeze=False)
        for r, (label, images) in enumerate(grid):
            for c in range(n):
                ax = axes[r, c]
                ax.set_xticks([])
                ax.set_yticks([])
                if c < len(images):
                    ax.imshow(to_display(images[c]), interpolation="nearest")
                else:
                    ax.axis("off")
            axes[r, 0].set_ylabel(label, fontsize=10, rotation=0, ha="right", va="center")
        fig.suptitle(title, fontsize=11)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        plt.close(fig)
        if buf.tell() <= MAX_BYTES:
            break
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())


def draw(section: Section, runs: dict[str, Path], out: Path, size: float = 1.0) -> dict:
    """Write the section's figure to ``out``; return what it shows."""
    import torch

    from course_lib.data import SyntheticFacades

    labels = dict(section.rows)
    names = [n for n, _ in section.rows if n in runs] + sorted(set(runs) - set(labels))
    rows = {name: last_samples(runs[name]) for name in names}
    steps = {name: step for name, (step, _) in rows.items()}
    n, _, h, w = next(iter(rows.values()))[1].shape
    val = SyntheticFacades(image_size=(h, w) if h != w else h, split="val", seed=0)
    pairs = [val[i] for i in range(n)]
    grid = [("input", torch.stack([p["A"] for p in pairs]))]
    grid += [(labels.get(name, name), outputs) for name, (_, outputs) in rows.items()]
    grid += [("real\nphoto", torch.stack([p["B"] for p in pairs]))]

    _render(grid, section.title, out, size)
    return {"notebook": section.notebook, "file": str(out), "rows": [g[0] for g in grid],
            "steps": steps, "bytes": out.stat().st_size, "size": [h, w]}


BICYCLE = Section("06_bicyclegan", "06 · one outline, six random codes z",
                  (("pix2pix_noise", "pix2pix\n+ noise"), ("cVAE-GAN", "cVAE-GAN"),
                   ("cLR-GAN", "cLR-GAN"), ("BicycleGAN_z_to_all", "BicycleGAN"),
                   ("BicycleGAN_z_to_input", "BicycleGAN\n(z to input)")))


def find_bicycle_runs(roots: list[Path], profile: str) -> dict[str, Path]:
    """Notebook 06's runs (``<profile>/<norm>/<variant>/last.pt``): the norm with most runs."""
    for root in roots:
        groups: dict[str, dict[str, Path]] = {}
        for ck in sorted((root / BICYCLE.notebook / profile).glob("*/*/last.pt")):
            groups.setdefault(ck.parent.parent.name, {})[ck.parent.name] = ck.parent
        if groups:
            return max(groups.values(), key=len)
    return {}


def load_generator(run: Path) -> "torch.nn.Module":  # noqa: F821 - imported lazily
    """The generator of a run folder, rebuilt from ``run.json`` and ``last.pt``."""
    import course_lib.models as models
    from course_lib.train.checkpoint import load_checkpoint

    spec = dict(json.loads((run / "run.json").read_text())["models"]["G"])
    cls = getattr(models, spec.pop("class"))
    G = cls(**spec)
    G.load_state_dict(load_checkpoint(run / "last.pt")["models"]["G"])
    return G


def draw_bicycle(runs: dict[str, Path], profile: str, out: Path, num_z: int = 6,
                 index: int = 0) -> dict:
    """One validation outline: each variant's outputs for the same ``num_z`` codes, then the
    K correct fills."""
    import torch

    from course_lib.data import SyntheticShapes
    from course_lib.profiles import get_profile
    from course_lib.widgets.latent import generate_for_codes

    val = SyntheticShapes(image_size=get_profile(profile).image_size, split="val")
    a = val[index]["A"]
    labels = dict(BICYCLE.rows)
    names = [n for n, _ in BICYCLE.rows if n in runs] + sorted(set(runs) - set(labels))
    grid = []
    for name in names:
        G = load_generator(runs[name])
        codes = torch.randn(num_z, G.nz, generator=torch.Generator().manual_seed(0))
        grid.append((labels.get(name, name), [a, *generate_for_codes(G, a, codes)]))
    grid.append(("the K\ncorrect fills", [a, *val.all_modes(index)]))
    _render(grid, BICYCLE.title, out)
    return {"notebook": BICYCLE.notebook, "file": str(out), "rows": [g[0] for g in grid],
            "steps": {n: int(json_steps(runs[n])) for n in names}, "bytes": out.stat().st_size,
            "size": list(a.shape[-2:])}


def json_steps(run: Path) -> int:
    """The number of steps a run was trained for (from its ``run.json``)."""
    return int(json.loads((run / "run.json").read_text()).get("steps", 0))


def markdown(made: list[dict], base: Path, profile: str = "cpu") -> str:
    """The README snippet: one image per notebook, with its caption."""
    lines = ["## Results gallery", "",
             f"What the notebooks show at the `{profile}` profile, made by "
             "`python tools/make_gallery.py` from the runs the notebooks saved:", ""]
    for m in made:
        rel = Path(os.path.relpath(Path(m["file"]).resolve(), base.resolve())).as_posix()
        section = next(s for s in (*SECTIONS, BICYCLE) if s.notebook == m["notebook"])
        lines.append(f"**{section.title}** ({m['size'][0]} px, {max(m['steps'].values())} "
                     "steps per run)  ")
        lines.append(f"![{section.title}]({rel})")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, action="append",
                        help="folder holding <notebook>/<profile>/<variant>/ runs (repeatable; "
                             "default: notebooks/runs, then solutions/runs)")
    parser.add_argument("--profile", default="cpu", help="the profile the runs were made at")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images",
                        help="where the PNGs go (default: docs/images)")
    parser.add_argument("--markdown", action="store_true", help="print the README snippet")
    args = parser.parse_args(argv)
    roots = args.runs or [ROOT / "notebooks" / "runs", ROOT / "solutions" / "runs"]
    sys.path.insert(0, str(ROOT))
    made, missing = [], []
    for section in SECTIONS:
        runs = find_runs(roots, section.notebook, args.profile)
        if not runs:
            missing.append(section.notebook)
            continue
        info = draw(section, runs, args.out / f"gallery_{section.notebook}.png")
        made.append(info)
        print(f"wrote {info['file']} ({info['bytes'] / 1000:.0f} KB; rows {info['rows']}, "
              f"steps {info['steps']})")
    bicycle = find_bicycle_runs(roots, args.profile)
    if bicycle:
        info = draw_bicycle(bicycle, args.profile, args.out / f"gallery_{BICYCLE.notebook}.png")
        made.append(info)
        print(f"wrote {info['file']} ({info['bytes'] / 1000:.0f} KB; rows {info['rows']})")
    else:
        missing.append(BICYCLE.notebook)
    for name in missing:
        print(f"skipped {name}: no runs under "
              + " or ".join(str(r / name / args.profile) for r in roots)
              + f" (run the notebook at COURSE_PROFILE={args.profile} first)", file=sys.stderr)
    if args.markdown and made:
        print(markdown(made, ROOT, args.profile))
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main())
