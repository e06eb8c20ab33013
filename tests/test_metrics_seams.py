"""Seam depth and seams in the wrong place on the blocks (pix2pixHD Sec. 3.3)."""
from __future__ import annotations

import pytest
import torch

from course_lib.data import InMemoryPairs, SyntheticBlocks
from course_lib.metrics.seams import block_colour_spread, row_regions, seam_score


@pytest.fixture(scope="module")
def scenes() -> dict[str, torch.Tensor]:
    ds = InMemoryPairs(SyntheticBlocks(64, split="val"), 6, progress=False)
    return {k: ds.stacked(k) for k in ("B", "class_map", "instance_map")}


def _blob(s: dict[str, torch.Tensor]) -> torch.Tensor:
    out = s["B"].clone()
    for i in range(len(out)):
        for c in s["class_map"][i].unique():
            m = s["class_map"][i] == c
            out[i][:, m] = s["B"][i][:, m].mean(1, keepdim=True)
    return out


def test_row_regions_by_hand() -> None:
    inst = torch.zeros(8, 12, dtype=torch.long)
    inst[1:7, 2:6], inst[1:7, 6:10] = 1000, 1001
    regions = row_regions((inst // 1000).numpy(), inst.numpy())
    assert regions == [(1, 7, 2, 10, (6,))]


def test_photos_blob_and_shifted_seams(scenes: dict[str, torch.Tensor]) -> None:
    im, cm = scenes["instance_map"], scenes["class_map"]
    real = seam_score(scenes["B"], im, cm)
    assert real.depth > 0.6 and real.drawn == 1.0 and real.hit_rate == 1.0
    assert abs(real.control) < 0.02 and real.wrong_per_scene == 0
    assert real.count == sum(SyntheticBlocks(64, split="val").layout(i).contacts
                             for i in range(6))
    blob = seam_score(_blob(scenes), im, cm)             # the semantic map alone: no seams
    assert abs(blob.depth) < 0.01 and blob.hit_rate == 0 and blob.wrong_per_scene == 0
    moved = torch.roll(scenes["B"], 6, -1)               # sharp seams, 6 px off
    shifted = seam_score(moved, im, cm)
    assert shifted.depth < 0.1 and shifted.hit_rate < 0.1
    assert shifted.wrong_per_scene > 5 and shifted.wrong_fraction > 0.9


def test_one_extra_seam_per_block_row_is_counted(scenes: dict[str, torch.Tensor]) -> None:
    im, cm = scenes["instance_map"], scenes["class_map"]
    img = scenes["B"].clone()
    extra = 0
    for i in range(len(img)):
        for y0, y1, x0, x1, seams in row_regions(cm[i].numpy(), im[i].numpy()):
            edges = (x0, *seams, x1)
            a, b = max(zip(edges[:-1], edges[1:]), key=lambda e: e[1] - e[0])  # widest block
            if b - a >= 16:
                img[i, :, y0:y1, (a + b) // 2:(a + b) // 2 + 2] = -0.9
                extra += 1
    s = seam_score(img, im, cm)
    assert s.hit_rate == 1.0 and s.wrong_per_scene * len(img) == extra
    assert s.control > 0.1                # the control (middle of every block) sees them


def test_colour_spread_is_small_in_photos_and_large_for_random_colours(
        scenes: dict[str, torch.Tensor]) -> None:
    im, cm = scenes["instance_map"], scenes["class_map"]
    real = block_colour_spread(scenes["B"], im, cm)
    assert 0.005 < real < 0.03                           # the +-0.03 per-block jitter
    g = torch.Generator().manual_seed(0)
    painted = scenes["B"].clone()
    for i in range(len(painted)):
        for k in im[i].unique():
            if k >= 1000:
                painted[i][:, im[i] == k] = torch.rand(3, 1, generator=g) * 2 - 1
    assert block_colour_spread(painted, im, cm) > 5 * real


def test_bad_inputs_are_named(scenes: dict[str, torch.Tensor]) -> None:
    im, cm = scenes["instance_map"], scenes["class_map"]
    with pytest.raises(ValueError, match="instance_map must be"):
        seam_score(scenes["B"], im[:, :10], cm)
    with pytest.raises(ValueError, match="flank must be"):
        seam_score(scenes["B"], im, cm, flank=(3, 1))
    with pytest.raises(ValueError, match="inset must be an int >= 0, got -1"):
        seam_score(scenes["B"], im, cm, inset=-1)
    with pytest.raises(ValueError, match="dark must be positive"):
        seam_score(scenes["B"], im, cm, dark=0)
