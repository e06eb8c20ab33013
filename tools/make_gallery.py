#!/usr/bin/env python3
"""Make the README's results gallery from the runs the notebooks wrote.

Notebooks 01-04 save each variant they train under ``runs/<notebook>/<profile>/<variant>/``
(next to the notebook, at every profile but ``ci``), with the outputs on the first validation
facades in ``extras.pt``. For each notebook this tool draws one small figure: the input label
maps, each variant's final outputs, and the real photos, one column per facade. For notebook 05
(``runs/05_pix2pixhd/<profile>/blocks/``) it rebuilds the generators of ``no_map``,
``with_the_map`` and ``enhancer`` (G1 + G2, twice the size) from ``run.json`` and ``last.pt``
and draws three validation blocks scenes: the label maps, G1 without and with the instance
boundary map, G1 + G2, the real photos, and a zoom on touching blocks. For notebook 06
(``runs/06_bicyclegan/<profile>/<norm>/<variant>/``) it rebuilds each variant's generator from
``run.json`` and ``last.pt`` and draws one outline under the same six random codes z, then the
K correct fills, named (the outline is rendered as the training data that ``run.json``
records: size, fill set, number of modes). Each figure goes to
``docs/images/gallery_<notebook>.png`` (PNG, kept under 200 KB). ``--markdown`` prints the
README snippet that shows them.

Run the notebooks at the ``cpu`` profile first (``COURSE_PROFILE=cpu``), then::

    python tools/make_gallery.py                       # looks in notebooks/runs and solutions/runs
    python tools/make_gallery.py --profile cpu --runs solutions/runs --markdown

A notebook whose runs are missing is reported and skipped; nothing is overwritten unless its
runs are there. The inputs and real photos are rendered again from the procedural datasets
(``SyntheticFacades``, ``SyntheticBlocks`` and ``SyntheticShapes`` with ``split="val"``,
the validation sets of the notebooks) at the size of the runs.
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


def _render(grid: list, title: str, out: Path, size: float = 1.0, aspect: float = 1.0,
            columns: list[str] | None = None, interpolation: str = "nearest") -> None:
    """Rows of images (``[(label, images)]`` or ``[(label, images, captions)]``, a caption
    under each image) as one PNG under :data:`MAX_BYTES` at ``out``; cells ``size`` inches
    high and ``aspect`` times as wide, ``columns`` titles over the first row."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.viz import to_display

    n = max(len(row[1]) for row in grid)
    captioned = any(len(row) > 2 for row in grid)
    for dpi in (80, 64, 50, 40):
        height = (size + 0.2 * captioned) * len(grid) + 0.4 + 0.2 * bool(columns)
        fig, axes = plt.subplots(len(grid), n, figsize=(size * aspect * n + 1.1, height),
                                 squeeze=False)
        for r, row in enumerate(grid):
            label, images = row[0], row[1]
            captions = row[2] if len(row) > 2 else ()
            for c in range(n):
                ax = axes[r, c]
                ax.set_xticks([])
                ax.set_yticks([])
                if c < len(images):
                    ax.imshow(to_display(images[c]), interpolation=interpolation)
                    if c < len(captions):
                        ax.set_xlabel(captions[c], fontsize=7)
                else:
                    ax.axis("off")
            axes[r, 0].set_ylabel(label, fontsize=10, rotation=0, ha="right", va="center")
        for c, name in enumerate(columns or ()):
            axes[0, c].set_title(name, fontsize=9)
        fig.suptitle(title, fontsize=11)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        plt.close(fig)
        if buf.tell() <= MAX_BYTES:
            break
        buf = _quantized(buf)           # 256 colours before fewer pixels
        if buf.tell() <= MAX_BYTES:
            break
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())


def _quantized(png: io.BytesIO) -> io.BytesIO:
    """The PNG in ``png`` with a palette of 256 colours (about a third of the bytes)."""
    from PIL import Image

    png.seek(0)
    out = io.BytesIO()
    Image.open(png).convert("RGB").quantize(256).save(out, format="PNG", optimize=True)
    return out


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


HD = Section("05_pix2pixhd", "05 · pix2pixHD: the boundary map, then the local enhancer",
             (("blocks/no_map", "G1, no\nboundary\nmap"), ("blocks/with_the_map", "G1, with\nthe map"),
              ("blocks/enhancer", "G1 + G2\n(2× size)")))


def find_hd_runs(roots: list[Path], profile: str) -> dict[str, Path]:
    """Notebook 05's runs that the figure shows (``<profile>/<folder>/`` with ``run.json`` and
    ``last.pt``), from the first root that has any."""
    for root in roots:
        base = root / HD.notebook / profile
        found = {name: base / name for name, _ in HD.rows
                 if (base / name / "last.pt").is_file() and (base / name / "run.json").is_file()}
        if found:
            return found
    return {}


def load_hd_model(run: Path) -> tuple["Pix2PixHD", int]:  # noqa: F821 - imported lazily
    """The :class:`~course_lib.train.pix2pixhd.Pix2PixHD` of a notebook 05 run folder, rebuilt
    on the CPU from ``run.json`` (its ``setup`` and ``pix2pixhd`` settings) with the generator
    (and feature encoder) of ``last.pt``; and the step that checkpoint was written at."""
    from dataclasses import fields

    from course_lib.train.checkpoint import load_checkpoint
    from course_lib.train.pix2pixhd import Pix2PixHDConfig
    from course_lib.train.pix2pixhd_setup import HDSetup, build_pix2pixhd

    settings = json.loads((run / "run.json").read_text())
    if "setup" not in settings or "pix2pixhd" not in settings:
        raise ValueError(f"{run / 'run.json'} is not a pix2pixHD run (no 'setup' and "
                         "'pix2pixhd' settings)")

    def known(cls: type, values: dict) -> dict:
        names = {f.name for f in fields(cls)}
        return {k: v for k, v in values.items() if k in names}

    config = Pix2PixHDConfig(**{**known(Pix2PixHDConfig, settings["pix2pixhd"]), "amp": None})
    setup = HDSetup(**known(HDSetup, settings["setup"]))
    model = build_pix2pixhd(setup, config.num_classes, config)
    state = load_checkpoint(run / "last.pt")
    for key in ("G", "E"):
        if key in model.modules:
            model.modules[key].load_state_dict(state["models"][key])
    return model, int(state.get("step", settings.get("steps", 0)))


def _touching_objects(instance_maps: "torch.Tensor", size: tuple[int, int]  # noqa: F821
                      ) -> tuple[int, int, int] | None:
    """``(scene, y, x)``: the ``size`` window, over scenes ``(N, H, W)``, with the most
    boundary pixels between touching objects of one class, moved to centre them (``None``:
    none touch)."""
    import torch

    from course_lib.experiment_pix2pixhd import touching_window
    from course_lib.metrics.boundary import instance_crossings

    best, where = 0, None
    for i, m in enumerate(instance_maps.long()):
        h, w = m.shape
        cars = torch.where(m >= 1000, m, torch.zeros_like(m))   # things only
        y, x = touching_window(cars, size)
        a, _, same = instance_crossings(cars[None])
        ys, xs = a[same] // w, a[same] % w
        inside = (ys >= y) & (ys < y + size[0]) & (xs >= x) & (xs < x + size[1])
        if int(inside.sum()) > best:
            cy, cx = ys[inside].float().mean(), xs[inside].float().mean()
            y = min(max(int(cy) - size[0] // 2, 0), h - size[0])
            x = min(max(int(cx) - size[1] // 2, 0), w - size[1])
            best, where = int(inside.sum()), (i, y, x)
    return where


def draw_hd(runs: dict[str, Path], out: Path, n: int = 3) -> dict:
    """The first ``n`` validation blocks scenes: the label maps, G1 without and with the
    instance boundary map, G1 + G2 at twice the size, the real photos; then a zoom (x2) on
    touching blocks, where the boundary map matters most."""
    import torch

    from course_lib.data import SyntheticBlocks
    from course_lib.experiment_pix2pixhd import hd_outputs

    labels = dict(HD.rows)
    names = [name for name, _ in HD.rows if name in runs]
    outputs, steps, sizes = {}, {}, {}
    for name in names:
        model, steps[name] = load_hd_model(runs[name])
        setup = json.loads((runs[name] / "run.json").read_text())["setup"]
        sizes[name] = (int(setup["height"]), int(setup["width"]))
        val = SyntheticBlocks(image_size=sizes[name], split="val", seed=0)
        scenes = [val[i] for i in range(n)]
        data = {k: torch.stack([s[k] for s in scenes]) for k in ("B", "class_map", "instance_map")}
        outputs[name] = list(hd_outputs(model, data))          # (3, H, W) each, in [-1, 1]
        del model
    # G1's size: a G1 run's, else half the enhancer's.
    g1 = next((sizes[k] for k in names if k != "blocks/enhancer"), None) or \
        tuple(s // 2 for s in sizes["blocks/enhancer"])
    top = max(sizes.values())
    small = SyntheticBlocks(image_size=g1, split="val", seed=0)
    big = SyntheticBlocks(image_size=top, split="val", seed=0) if top != g1 else small
    first = [small[i] for i in range(n)]
    grid = [("label\nmap", [p["A"] for p in first])]
    grid += [(labels[name], outputs[name]) for name in names]
    grid += [("real\nphoto", [big[i]["B"] for i in range(n)])]

    columns = [f"val scene {i}" for i in range(n)]
    zoom = (g1[0] // 2, g1[1] // 2)
    found = _touching_objects(torch.stack([p["instance_map"] for p in first]), zoom)
    if found is not None:
        i, y, x = found
        for row in grid:
            img = row[1][i]
            f = img.shape[-2] // g1[0]
            row[1].append(img[:, y * f:(y + zoom[0]) * f, x * f:(x + zoom[1]) * f])
        columns.append(f"scene {i}: touching blocks (×2)")
    _render(grid, HD.title, out, size=1.1, aspect=g1[1] / g1[0], columns=columns,
            interpolation="antialiased")
    parts = []
    g1_runs = [k for k in names if k != "blocks/enhancer"]
    if g1_runs:
        parts.append(f"G1 {g1[0]}×{g1[1]} px, {max(steps[k] for k in g1_runs)} steps")
    if "blocks/enhancer" in names:
        h, w = sizes["blocks/enhancer"]
        parts.append(f"G1 + G2 {h}×{w} px, {steps['blocks/enhancer']} steps")
    caption = "; ".join(parts)
    return {"notebook": HD.notebook, "file": str(out), "rows": [g[0] for g in grid],
            "steps": steps, "bytes": out.stat().st_size, "size": list(g1), "caption": caption,
            "zoom": found}


BICYCLE = Section("06_bicyclegan", "06 · one outline, six random codes z",
                  (("pix2pix_noise", "pix2pix\n+ noise"), ("BicycleGAN_z_to_all", "BicycleGAN"),
                   ("cVAE-GAN", "cVAE-GAN"), ("cLR-GAN", "cLR-GAN"),
                   ("BicycleGAN_z_to_input", "BicycleGAN\n(z to input)"),
                   ("pix2pix_noise_pix2pix_s_D", "pix2pix+noise\n(pix2pix's D)")))


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


def bicycle_data(runs: dict[str, Path], profile: str) -> dict:
    """The training data the runs recorded in ``run.json`` (``"data"``, written by
    :func:`~course_lib.experiment_bicyclegan.train_bicyclegan`): shapes at which size, fill
    set, number of modes and seed. Runs from before it was recorded: the profile's image size
    (64 px at ``cpu``), the patterned fills, 6 modes, seed 0."""
    from course_lib.profiles import get_profile

    data = {"dataset": "shapes", "image_size": get_profile(profile).image_size,
            "fills": "patterned", "num_modes": 6, "seed": 0, "inputs": "outline"}
    for run in runs.values():
        recorded = json.loads((run / "run.json").read_text()).get("data")
        if recorded:
            data.update({k: v for k, v in recorded.items() if v is not None})
            break
    if data["dataset"] != "shapes":
        raise ValueError(f"the 06 runs were trained on {data['dataset']!r}; the gallery draws "
                         "the procedural shapes only (SyntheticShapes)")
    if isinstance(data["image_size"], list):
        data["image_size"] = tuple(data["image_size"])
    return data


def draw_bicycle(runs: dict[str, Path], profile: str, out: Path, num_z: int = 6,
                 index: int = 0) -> dict:
    """One validation outline (rendered as the runs' training data: size, fills, modes; see
    :func:`bicycle_data`): each variant's outputs for the same ``num_z`` codes, then the K
    correct fills, named."""
    import textwrap

    import torch

    from course_lib.data import SyntheticShapes
    from course_lib.widgets.latent import generate_for_codes

    data = bicycle_data(runs, profile)
    val = SyntheticShapes(image_size=data["image_size"], split="val", seed=int(data["seed"]),
                          num_modes=int(data["num_modes"]), fills=str(data["fills"]),
                          inputs=str(data["inputs"]))
    a = val[index]["A"]
    labels = dict(BICYCLE.rows)
    names = [n for n, _ in BICYCLE.rows if n in runs] + sorted(set(runs) - set(labels))
    grid: list = []
    for name in names:
        G = load_generator(runs[name])
        codes = torch.randn(num_z, G.nz, generator=torch.Generator().manual_seed(0))
        grid.append((labels.get(name, name), [a, *generate_for_codes(G, a, codes)]))
    fills = [textwrap.fill(m.name, 12) for m in val.modes]
    grid.append(("the K\ncorrect fills", [a, *val.all_modes(index)], ["outline", *fills]))
    _render(grid, BICYCLE.title, out)
    steps = {n: int(json_steps(runs[n])) for n in names}
    h, w = a.shape[-2:]
    size = f"{h} px" if h == w else f"{h}×{w} px"
    return {"notebook": BICYCLE.notebook, "file": str(out), "rows": [g[0] for g in grid],
            "steps": steps, "bytes": out.stat().st_size, "size": [h, w],
            "data": data, "fill_names": [m.name for m in val.modes],
            "caption": f"{size}, {data['fills']} fills, {data['inputs']} inputs, "
                       f"K = {val.num_modes}, "
                       f"{max(steps.values())} steps per run"}


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
        section = next(s for s in (*SECTIONS, HD, BICYCLE) if s.notebook == m["notebook"])
        caption = m.get("caption") or (f"{m['size'][0]} px, {max(m['steps'].values())} "
                                       "steps per run")
        lines.append(f"**{section.title}** ({caption})  ")
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
    hd = find_hd_runs(roots, args.profile)
    if hd:
        info = draw_hd(hd, args.out / f"gallery_{HD.notebook}.png")
        made.append(info)
        print(f"wrote {info['file']} ({info['bytes'] / 1000:.0f} KB; rows {info['rows']}, "
              f"steps {info['steps']})")
    else:
        missing.append(HD.notebook)
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
