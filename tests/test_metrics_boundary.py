"""Boundary accuracy between touching instances (pix2pixHD Sec. 3.3, Fig. 5)."""
from __future__ import annotations

import pytest
import torch

from course_lib.metrics.boundary import boundary_accuracy, instance_crossings, seam_depth


def _two_cars() -> tuple[torch.Tensor, torch.Tensor]:
    """A 12 x 16 scene: road (0) below, two touching cars (7000 red, 7001 blue) above."""
    inst = torch.zeros(1, 12, 16, dtype=torch.long)
    inst[0, :6, :8] = 7000
    inst[0, :6, 8:] = 7001
    img = torch.full((1, 3, 12, 16), -0.5)                      # grey road
    img[0, :, :6, :8] = torch.tensor([0.8, -0.8, -0.8]).view(3, 1, 1)
    img[0, :, :6, 8:] = torch.tensor([-0.8, -0.8, 0.8]).view(3, 1, 1)
    return img, inst


def test_crossings_by_hand() -> None:
    inst = torch.tensor([[[7000, 7001, 0]]])
    p, q, same = instance_crossings(inst)
    assert p.tolist() == [0, 1] and q.tolist() == [1, 2] and same.tolist() == [True, False]


def test_real_photo_scores_one_and_a_merged_blob_scores_zero() -> None:
    real, inst = _two_cars()
    perfect = boundary_accuracy(real, real, inst)
    assert perfect.accuracy == 1.0 and perfect.contrast == pytest.approx(1.0)
    assert perfect.count == 1 and perfect.class_count == 2      # one car pair; each car-road
    merged = real.clone()                                       # both cars the same purple
    merged[0, :, :6, :] = torch.tensor([0.0, -0.8, 0.0]).view(3, 1, 1)
    s = boundary_accuracy(merged, real, inst)
    assert s.accuracy == 0.0 and s.contrast == pytest.approx(0.0, abs=1e-6)
    # The car/road boundary stays: the control is untouched.
    assert s.class_accuracy == 1.0


def test_contrast_by_hand_and_a_soft_boundary_still_counts() -> None:
    real, inst = _two_cars()
    half = real.clone()
    half[0, :, :6, 8:] = torch.tensor([0.0, -0.8, 0.0]).view(3, 1, 1)   # blue -> purple
    s = boundary_accuracy(half, real, inst)
    # real step: mean(|0.8+0.8|, 0, |-0.8-0.8|) = 1.0667; fake: mean(0.8, 0, 0.8) = 0.5333
    assert s.contrast == pytest.approx(0.5, abs=1e-5) and s.accuracy == 1.0
    soft = real.clone()
    soft[0, :, :6, 7:9] = soft[0, :, :6, 7:9].mean(2, keepdim=True)      # 2-px blend
    assert boundary_accuracy(soft, real, inst).accuracy == 1.0


def test_invisible_boundaries_do_not_count() -> None:
    real, inst = _two_cars()
    real[0, :, :6, 8:] = real[0, :, :6, :1]                      # both cars red in the photo
    s = boundary_accuracy(real, real, inst)
    assert s.count == 0 and s.accuracy != s.accuracy             # nan: nothing to measure


def test_bad_input() -> None:
    real, inst = _two_cars()
    with pytest.raises(ValueError, match="instance_map must be"):
        boundary_accuracy(real, real, inst[:, :6])
    with pytest.raises(ValueError, match="threshold"):
        boundary_accuracy(real, real, inst, threshold=0)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        boundary_accuracy(real * 3, real, inst)


def test_noise_does_not_pass_for_a_boundary() -> None:
    real, inst = _two_cars()
    merged = real.clone()
    merged[0, :, :6, :] = torch.tensor([0.0, -0.8, 0.0]).view(3, 1, 1)
    gen = torch.Generator().manual_seed(0)
    noisy = (merged + 0.3 * torch.randn(merged.shape, generator=gen)).clamp(-1, 1)
    s = boundary_accuracy(noisy, real, inst)
    assert s.accuracy == 0.0 and s.contrast > 0          # the raw contrast does see the noise
    noisy_real = (real + 0.3 * torch.randn(real.shape, generator=gen)).clamp(-1, 1)
    assert boundary_accuracy(noisy_real, real, inst).accuracy == 1.0


def test_a_dark_seam_between_same_coloured_objects_counts() -> None:
    """Two cars of one colour parted only by a dark line (1 px each side): the step is 0, the
    seam (rim 1.0 darker than the flank) makes the pair visible; a blob without it is merged."""
    real, inst = _two_cars()
    real[0, :, :6, :] = torch.tensor([0.6, 0.6, 0.6]).view(3, 1, 1)    # both cars grey
    blob = real.clone()
    real[0, :, :6, 7:9] = -0.4                                           # the crease
    s = boundary_accuracy(real, real, inst)
    assert s.count == 1 and s.accuracy == 1.0
    assert boundary_accuracy(blob, real, inst).accuracy == 0.0
    drawn_off = blob.clone()                                             # the line 3 px away
    drawn_off[0, :, :6, 3] = -0.4
    assert boundary_accuracy(drawn_off, real, inst).accuracy == 0.0


def test_streets_touching_cars_are_parted_by_a_crease() -> None:
    """The streets dataset draws each car's outline dark, so that touching cars of similar
    colours still have a seam in the photo (the cue the boundary map locates)."""
    from course_lib.data import SyntheticStreets
    from course_lib.data.streets import CAR, CREASE, INSTANCE_OFFSET, _car_outline

    scene = SyntheticStreets(image_size=(64, 128), split="val", length=2)[0]
    inst, photo = scene["instance_map"], (scene["B"] + 1) / 2          # [0, 1]
    rim = torch.from_numpy(_car_outline(inst.numpy()))
    inner = (inst // INSTANCE_OFFSET == CAR) & ~rim
    assert rim.any() and inner.any()
    assert photo[:, rim].mean() < 0.8 * photo[:, inner].mean()
    assert 0 < CREASE < 1


def test_seam_depth_by_hand_is_signed_and_ignores_other_classes() -> None:
    """Rim (the column next to the other car) at -0.4, flank (2 and 3 px in) at 0.6: depth 1.0
    on both sides; a light line is -1.0; a blob 0. The car/road edges (step 1.1) are not
    same-class pairs and do not count."""
    real, inst = _two_cars()
    real[0, :, :6, :] = 0.6
    blob = real.clone()
    dark, light = real.clone(), real.clone()
    dark[0, :, :6, 7:9] = -0.4
    light[0, :, :6, 7:9] = 1.0
    light[0, :, :6, [5, 6, 9, 10]] = 0.0
    assert seam_depth(dark, inst) == pytest.approx(1.0)
    assert seam_depth(light, inst) == pytest.approx(-1.0)
    assert seam_depth(blob, inst) == pytest.approx(0.0, abs=1e-6)


def test_seam_depth_needs_a_touching_pair_and_matching_shapes() -> None:
    real, inst = _two_cars()
    alone = inst.clone()
    alone[0, :6, 8:] = 0                                            # one car on the road
    assert torch.isnan(torch.tensor(seam_depth(real, alone)))
    with pytest.raises(ValueError, match="instance_map must be"):
        seam_depth(real, inst[:, :6])
    with pytest.raises(ValueError, match="band"):
        seam_depth(real, inst, band=0)
