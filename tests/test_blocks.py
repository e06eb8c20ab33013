"""The blocks scenes (pix2pixHD Sec. 3.3): rows of touching same-class blocks, dark seams."""
from __future__ import annotations

import pytest
import torch

from course_lib.data import SyntheticBlocks
from course_lib.data.blocks import COLOURS
from course_lib.models.instance import instance_boundaries


def test_every_scene_has_touching_blocks_parted_only_by_a_seam() -> None:
    ds = SyntheticBlocks(64, split="val", length=20)
    for i in range(len(ds)):
        s, layout = ds[i], ds.layout(i)
        assert s["B"].shape == (3, 64, 128) and s["instance_map"].shape == (64, 128)
        assert layout.contacts >= 8
        cls, inst, photo = s["class_map"], s["instance_map"], (s["B"] + 1) / 2
        assert set(cls.unique().tolist()) <= {0, 1, 2}
        # instances: class * 1000 + k on blocks, the class id on the road
        assert torch.equal(torch.where(inst >= 1000, inst // 1000, inst), cls)
        # the seam is exactly the boundary map on the blocks, near black
        edge = instance_boundaries(inst).bool() & (cls > 0)
        assert photo.mean(0)[edge].mean() < 0.15
        inner = (cls > 0) & ~torch.nn.functional.max_pool2d(
            edge[None, None].float(), 5, 1, 2)[0, 0].bool()
        assert photo.mean(0)[inner].mean() > 0.6
        # same-class seams: the two sides of each seam have one class colour (no step)
        for y0, y1, x in layout.seams():
            left = photo[:, y0 + 2:y1 - 2, x - 5:x - 2].mean((1, 2))
            right = photo[:, y0 + 2:y1 - 2, x + 2:x + 5].mean((1, 2))
            assert (left - right).abs().max() < 0.08
        # widths vary: the seams cannot be read off the semantic map's block rows
    widths = {x1 - x0 for i in range(len(ds)) for *_, bl in ds.layout(i).rows for x0, x1 in bl}
    assert len(widths) > 8


def test_deterministic_per_seed_and_split() -> None:
    a, b = SyntheticBlocks(64, seed=3)[5], SyntheticBlocks(64, seed=3)[5]
    assert torch.equal(a["B"], b["B"]) and torch.equal(a["instance_map"], b["instance_map"])
    c = SyntheticBlocks(64, seed=4)[5]
    assert not torch.equal(a["instance_map"], c["instance_map"])
    assert SyntheticBlocks(32)[0]["B"].shape == (3, 32, 64)
    assert SyntheticBlocks((64, 96))[0]["B"].shape == (3, 64, 96)
    assert SyntheticBlocks.num_classes == 3 and len(COLOURS) == 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(rows=(0, 2)), "rows must be a"),
    (dict(rows=(4, 3)), r"rows must be a .* got \(4, 3\)"),
    (dict(blocks_per_row=(3, "6")), "blocks_per_row must be"),
    (dict(block_width=(0.5, 0.2)), "block_width must be"),
    (dict(block_width=(3.0, 4.0)), "wider than the 128 px image"),
    (dict(min_contacts=-1), "min_contacts must be an int >= 0, got -1"),
    (dict(min_contacts=21), "min_contacts=21 is more than"),
    (dict(seam_value=0.7), "seam_value=0.7 is too close"),
    (dict(noise=float("nan")), "noise must be a number"),
    (dict(jitter=True), "jitter must be a number"),
    (dict(rows=(20, 20)), "do not fit 64 px"),
])
def test_bad_options_are_refused_by_name(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticBlocks(64, **kwargs)


def test_an_impossible_contact_count_says_so() -> None:
    ds = SyntheticBlocks(64, rows=(1, 1), blocks_per_row=(6, 6), block_width=(0.4, 0.44),
                         min_contacts=5)
    with pytest.raises(ValueError, match="no layout with min_contacts=5"):
        ds[0]


def test_a_scene_at_twice_the_size_is_the_same_layout_scaled() -> None:
    small, big = SyntheticBlocks(64, split="val")[3], SyntheticBlocks(128, split="val")[3]
    assert torch.equal(big["class_map"][::2, ::2], small["class_map"])
    assert torch.equal(big["instance_map"][::2, ::2], small["instance_map"])
