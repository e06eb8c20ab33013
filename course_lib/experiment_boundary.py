"""What the instance boundary map buys: pix2pixHD's G1 on scenes made for the claim.

Wang et al., CVPR 2018, Sec. 3.3 (instance maps, Fig. 4-5) and Sec. 3.2 (multi-scale
discriminators). Notebook 05 trains G1 on :class:`~course_lib.data.SyntheticBlocks` (rows of
touching same-class blocks parted only by a dark seam) with and without the boundary map, on
identical batches, then measures the seams (:mod:`course_lib.metrics.seams`):

* **seam depth** at the true seams, with the map and without it;
* **the same G1 with the instance boundaries hidden at test time** (every block gets its
  class id, :func:`~course_lib.experiment_pix2pixhd.hide_instances`): if its seams fade, it
  was drawing them from the map;
* **seams in the wrong place**: dark columns inside blocks away from every true seam;
* the FCN-score of G1 next to the real photos' (are the blocks recognisable at all?).

The multi-scale comparison (one 16x16 PatchGAN against the same D at three scales, both with
the map) is measured on a property of the whole scene that a 16x16 D cannot see: how alike
the blocks of one class are across the scene (:func:`~course_lib.metrics.seams.
block_colour_spread`).

:func:`train_boundary_runs` is the one call of the notebook, of ``tests/test_claims_pix2pixhd.py``
and of ``tools/hd_seeds.py`` (three seed pairs): same variants, same settings.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from course_lib.experiment import run_folder_name, segmenter_for
from course_lib.experiment_pix2pixhd import (Pix2PixHDRun, blocks_pairs, blocks_setup,
                                             hd_outputs, hide_instances, train_pix2pixhd)
from course_lib.metrics import Segmenter
from course_lib.metrics.seams import SeamScore, block_colour_spread, seam_score
from course_lib.profiles import Profile
from course_lib.train.pix2pixhd import Pix2PixHDConfig

__all__ = ["BOUNDARY_VARIANTS", "SCALE_VARIANTS", "NOTEBOOK_VARIANTS", "boundary_variants", "BoundaryRuns",
           "train_boundary_runs", "boundary_numbers", "boundary_table", "show_seams",
           "blocks_segmenter"]

BOUNDARY_VARIANTS: tuple[str, ...] = ("with the map", "no map")
SCALE_VARIANTS: tuple[str, ...] = ("1 scale (16x16)", "3 scales (16x16)")
NOTEBOOK_VARIANTS: tuple[str, ...] = BOUNDARY_VARIANTS + SCALE_VARIANTS + ("no feature matching",)


def boundary_variants(P: Profile, names: Sequence[str] = BOUNDARY_VARIANTS + SCALE_VARIANTS
                      ) -> dict[str, dict[str, Any]]:
    """``{name: train_pix2pixhd arguments}`` of the notebook's G1 runs on the blocks.

    * ``with the map``: :func:`~course_lib.experiment_pix2pixhd.blocks_setup` (2 scales of a
      70x70 D, LSGAN + feature matching, the boundary map to G and D);
    * ``no map``: the same with ``use_boundary=False`` (neither G nor D sees it);
    * ``1 scale (16x16)`` / ``3 scales (16x16)``: with the map, a PatchGAN with one stride-2
      layer (16x16 patches, an eighth of the width) at one scale or at three;
    * ``no feature matching``: with the map, LSGAN alone (Eq. 4 left out).
    """
    table: dict[str, dict[str, Any]] = {
        "with the map": {},
        "no map": {"config": Pix2PixHDConfig(use_boundary=False)},
        "1 scale (16x16)": {"setup": blocks_setup(P, num_D=1, n_layers_D=1)},
        "3 scales (16x16)": {"setup": blocks_setup(P, num_D=3, n_layers_D=1)},
        "no feature matching": {"config": Pix2PixHDConfig(use_feature_matching=False)},
    }
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}: choose from {list(table)}")
    return {n: table[n] for n in names}


def blocks_segmenter(P: Profile, train_set: Any, data_seed: int = 0,
                     progress: bool = True) -> Segmenter:
    """The FCN-score segmenter of the blocks of data seed ``data_seed`` (cached per seed)."""
    name = "blocks" if data_seed == 0 else f"blocks_d{data_seed}"
    return segmenter_for(P, train_set, name=name, progress=progress)


@dataclass
class BoundaryRuns:
    """The runs of :func:`train_boundary_runs` and what they measured on the val scenes.

    Attributes:
        runs: ``{variant: Pix2PixHDRun}``.
        hidden: seam score of the ``with the map`` G1 with the instance boundaries hidden.
        hidden_fake: its outputs.
        real: seam score of the real photos.
        spread: block-colour spread of each variant's outputs and of the photos (``"real"``).
        data_seed, train_seed: the seed pair.
    """

    runs: dict[str, Pix2PixHDRun]
    hidden: SeamScore | None
    hidden_fake: torch.Tensor | None
    real: SeamScore
    spread: dict[str, float]
    data_seed: int
    train_seed: int


def train_boundary_runs(P: Profile, train_set: Any, val_set: Any, segmenter: Segmenter | None,
                        *, names: Sequence[str] = BOUNDARY_VARIANTS + SCALE_VARIANTS,
                        steps: int | None = None, train_seed: int = 0,
                        run_root: str | Path | None = None, progress: bool = True
                        ) -> BoundaryRuns:
    """Train the ``names`` variants of :func:`boundary_variants` (each in ``run_root /
    <variant>``, resumable), then measure them (see the module docstring).

    ``steps`` defaults to ``max(2, P.steps // 4)`` (500 at the ``cpu`` profile), as every G1
    run of notebook 05; ``train_seed`` seeds the weights and the batch order (identical
    batches in every variant).
    """
    steps = max(2, P.steps // 4) if steps is None else steps
    runs: dict[str, Pix2PixHDRun] = {}
    for name, own in boundary_variants(P, names).items():
        run_dir = None if run_root is None else Path(run_root) / run_folder_name(name)
        runs[name] = train_pix2pixhd(P, train_set, val_set, steps=steps, segmenter=segmenter,
                                     seed=train_seed, name=name, run_dir=run_dir,
                                     progress=progress, **own)
    val = hide_instances(val_set)                     # the class map as instance map
    inst, cm = _instances(val_set), val["class_map"]
    real = seam_score(val["B"], inst, cm)
    hidden = hidden_fake = None
    if "with the map" in runs:
        hidden_fake = hd_outputs(runs["with the map"].model, val)
        hidden = seam_score(hidden_fake, inst, cm)
    spread = {"real": block_colour_spread(val["B"], inst, cm)}
    for name, run in runs.items():
        assert run.evaluation is not None and run.evaluation.fake is not None
        spread[name] = block_colour_spread(run.evaluation.fake, inst, cm)
    return BoundaryRuns(runs=runs, hidden=hidden, hidden_fake=hidden_fake, real=real,
                        spread=spread, data_seed=int(getattr(train_set, "seed", 0)),
                        train_seed=train_seed)


def _instances(pairs: Any) -> torch.Tensor:
    from course_lib.experiment_pix2pixhd import _stack

    return _stack(pairs)["instance_map"]


def boundary_numbers(result: BoundaryRuns) -> dict[str, Any]:
    """Every number of a :class:`BoundaryRuns` as plain floats (for JSON and tables)."""
    out: dict[str, Any] = {"data_seed": result.data_seed, "train_seed": result.train_seed,
                           "real": result.real.as_dict(), "spread": dict(result.spread)}
    for name, run in result.runs.items():
        ev = run.evaluation
        assert ev is not None
        out[name] = {**ev.as_dict(), **({"seams": ev.seams.as_dict()} if ev.seams else {}),
                     "seconds": run.seconds, "steps": run.steps}
        if ev.fcn_real is not None:
            out["real"].update({f"fcn_{k}": v for k, v in ev.fcn_real.as_dict().items()})
    if result.hidden is not None:
        out["hidden"] = result.hidden.as_dict()
    return out


def boundary_table(result: BoundaryRuns) -> str:
    """Plain-text table: per run, seam depth (with the map, hidden, without), seams drawn,
    hits, wrong-place seams per scene, per-pixel FCN accuracy and block-colour spread."""
    head = (f"{'':<28}{'seam depth':>11}{'drawn':>8}{'control':>9}{'hits':>7}"
            f"{'wrong/scene':>12}{'per-pixel':>11}{'colour spread':>15}")
    lines = [head, "-" * len(head)]

    def row(name: str, s: SeamScore, acc: float | None, spread: float | None) -> str:
        a = f"{acc:>11.3f}" if acc is not None else f"{'-':>11}"
        sp = f"{spread:>15.3f}" if spread is not None else f"{'-':>15}"
        return (f"{name:<28}{s.depth:>+11.3f}{s.drawn:>8.0%}{s.control:>+9.3f}"
                f"{s.hit_rate:>7.0%}{s.wrong_per_scene:>12.2f}{a}{sp}")

    fcn_real = None
    for name, run in result.runs.items():
        ev = run.evaluation
        assert ev is not None and ev.seams is not None
        fcn_real = ev.fcn_real or fcn_real
        lines.append(row(name, ev.seams, ev.fcn.pixel_acc if ev.fcn else None,
                         result.spread.get(name)))
        if name == "with the map" and result.hidden is not None:
            lines.append(row("  same G1, boundaries hidden", result.hidden, None, None))
    lines.append(row("real photos", result.real, fcn_real.pixel_acc if fcn_real else None,
                     result.spread.get("real")))
    lines.append(f"({result.real.scenes} validation scenes, {result.real.count} true seams; "
                 f"depth in [0, 1] brightness; numbers comparable within the course)")
    return "\n".join(lines)


def show_seams(outputs: Mapping[str, torch.Tensor], pairs: Any, n: int = 2,
               size: float = 2.4):  # type: ignore[no-untyped-def]
    """Rows: the photo, then each output, for the first ``n`` scenes, with the **true**
    seams (same-class instance boundaries) marked by short red ticks above and below every
    block row, so a seam drawn in the wrong place shows as a dark line between ticks."""
    import matplotlib.pyplot as plt
    import numpy as np

    from course_lib.experiment_pix2pixhd import _stack
    from course_lib.metrics.seams import row_regions

    data = _stack(pairs, n)
    rows = {"photo": data["B"], **{k: v[:n] for k, v in outputs.items()}}
    h, w = data["B"].shape[-2:]
    fig, axes = plt.subplots(len(rows), n, figsize=(size * w / h * n, size * len(rows)),
                             squeeze=False)
    for r, (name, imgs) in enumerate(rows.items()):
        for i in range(n):
            ax = axes[r, i]
            img = ((imgs[i].float().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).cpu().numpy()
            ax.imshow(img, interpolation="nearest")
            regions = row_regions(data["class_map"][i].numpy(), data["instance_map"][i].numpy())
            for y0, y1, _, _, seams in regions:
                for s in seams:
                    xs = np.full(2, s - 0.5)
                    ax.plot(xs, [y0 - 2.5, y0 - 0.5], color="red", lw=1.5)
                    ax.plot(xs, [y1 - 0.5, y1 + 1.5], color="red", lw=1.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.suptitle("red ticks: where the true seams run (instance boundaries within a row)",
                 fontsize=9)
    fig.tight_layout()
    return fig
