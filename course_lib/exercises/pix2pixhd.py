"""Checkers for notebook 05 (pix2pixHD, Wang et al., CVPR 2018).

Three exercises, each checked against the reference in ``course_lib`` on small hand-made
inputs:

* :func:`check_feature_matching_loss` -- Eq. 4 with the official normalisation:
  ``fm(fake_features, real_features)`` over the scales of a multi-scale D, every layer but the
  last (the logits), mean absolute difference per layer, weights ``4 / T`` per layer and
  ``1 / num_D`` per scale, the real features detached.
* :func:`check_instance_boundaries` -- Sec. 3.3: ``boundaries(instance_map (N, H, W))`` is
  1.0 where a 4-neighbour has another id.
* :func:`check_instance_average_pool` -- Sec. 3.4: ``pool(features (N, C, H, W),
  instance_map (N, H, W))`` replaces every pixel by its instance's mean, image by image.
"""
from __future__ import annotations

from typing import Callable

import torch

from course_lib.exercises.core import expect, run_check
from course_lib.losses import feature_matching_loss
from course_lib.models.instance import instance_average_pool, instance_boundaries

__all__ = ["check_feature_matching_loss", "check_instance_boundaries",
           "check_instance_average_pool", "reference_feature_matching_loss",
           "reference_instance_boundaries", "reference_instance_average_pool"]

Features = list[list[torch.Tensor]]


def reference_feature_matching_loss(fake: Features, real: Features) -> torch.Tensor:
    """The reference: :func:`course_lib.losses.feature_matching_loss` with its defaults."""
    return feature_matching_loss(fake, real)


def reference_instance_boundaries(instance_map: torch.Tensor) -> torch.Tensor:
    """The reference: :func:`course_lib.models.instance_boundaries`."""
    return instance_boundaries(instance_map)


def reference_instance_average_pool(features: torch.Tensor, instance_map: torch.Tensor
                                    ) -> torch.Tensor:
    """The reference: :func:`course_lib.models.instance_average_pool`."""
    return instance_average_pool(features, instance_map)


# --------------------------------------------------------------------------- feature matching


def _scalar(out: object, what: str) -> torch.Tensor:
    expect(isinstance(out, torch.Tensor), f"{what} should return a tensor, got "
           f"{type(out).__name__}")
    assert isinstance(out, torch.Tensor)
    expect(out.dim() == 0, f"{what} should return a scalar (0-dim) tensor, got shape "
           f"{tuple(out.shape)}")
    return out


def _check_fm(fn: Callable[[Features, Features], torch.Tensor]) -> str:
    # Hand-computed: one scale, two layers + logits. Layer 1 differs by 1 everywhere, layer 2
    # by 2 in one of its 4 elements; T = 2 layers, so each weighs 4/2 = 2:
    # 2 * 1 + 2 * (2 / 4) = 3. The logits (last entry) differ by 100 and must not count.
    f1, r1 = torch.ones(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)
    f2, r2 = torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    f2[0, 0, 0, 0] = 2.0
    logits_f, logits_r = torch.full((1, 1, 1, 1), 100.0), torch.zeros(1, 1, 1, 1)
    v = float(_scalar(fn([[f1, f2, logits_f]], [[r1, r2, logits_r]]), "feature_matching_loss"))
    if v > 50:                         # the logits' difference of 100 went in
        expect(False, "the last entry of each scale is D's logits: leave it out (match only "
               "the intermediate layers, T = len(scale) - 1)")
    expect(abs(v - 3.0) < 1e-5,
           f"on a hand-made example the loss is {v:.4f}, expected 3.0: per layer the MEAN "
           f"absolute difference (1/N_i), weighted 4/T with T the number of matched layers "
           f"(here 2), summed over layers, and divided by the number of scales")

    # Two scales: the per-scale average (1 / num_D).
    two = fn([[f1, f2, logits_f], [f1, f2, logits_f]], [[r1, r2, logits_r], [r1, r2, logits_r]])
    expect(abs(float(_scalar(two, "feature_matching_loss")) - 3.0) < 1e-5,
           f"with the same scale twice the loss should stay 3.0 (average over scales, weight "
           f"1/num_D), got {float(two):.4f}")

    # Random features: same as the reference; zero when fake == real.
    gen = torch.Generator().manual_seed(0)
    shapes = [(2, 8, 8, 16), (2, 16, 4, 8), (2, 32, 3, 7), (2, 1, 2, 6)]
    fake = [[torch.randn(*s, generator=gen) for s in shapes] for _ in range(3)]
    real = [[torch.randn(*s, generator=gen) for s in shapes] for _ in range(3)]
    mine = _scalar(fn(fake, real), "feature_matching_loss")
    ref = reference_feature_matching_loss(fake, real)
    for which, k in (("first", 0), ("last", -1)):
        alone = reference_feature_matching_loss(fake[k:][:1], real[k:][:1])
        if torch.allclose(mine.float(), alone, atol=1e-5):
            expect(False, f"only the {which} scale counts in your loss: go over every scale "
                   f"(one list of layer outputs per D) and average over the {len(fake)} scales")
    expect(torch.allclose(mine.float(), ref, atol=1e-5),
           f"on random 3-scale features the loss is {float(mine):.5f}, expected "
           f"{float(ref):.5f}")
    same = _scalar(fn(fake, [[t.clone() for t in s] for s in fake]), "feature_matching_loss")
    expect(abs(float(same)) < 1e-7, "the loss of identical features should be 0")

    # Gradients reach the fake features only (the real ones are the target: detach them).
    fg = [[t.clone().requires_grad_(True) for t in s] for s in fake]
    rg = [[t.clone().requires_grad_(True) for t in s] for s in real]
    out = _scalar(fn(fg, rg), "feature_matching_loss")
    expect(out.requires_grad, "the loss carries no gradient (did you call .item() or "
           ".detach() on the fake features?)")
    out.backward()
    expect(all(t.grad is not None for s in fg for t in s[:-1]),
           "no gradient reached the fake features of some layer")
    expect(all(t.grad is None or float(t.grad.abs().sum()) == 0 for s in rg for t in s),
           "gradients flow into the REAL features: detach them (they are the target; D "
           "is not trained by this loss, Sec. 3.2)")
    return "hand-computed value, 1/num_D and 4/T weights, logits left out, real detached"


def check_feature_matching_loss(fn: Callable[[Features, Features], torch.Tensor]
                                ) -> Callable[[Features, Features], torch.Tensor]:
    """Check ``fn(fake_features, real_features) -> scalar`` (pix2pixHD Eq. 4)."""
    return run_check("feature matching loss", fn, reference_feature_matching_loss, _check_fm)


# --------------------------------------------------------------------------- boundaries


def _expect_no_border_artifacts(got: torch.Tensor, want: torch.Tensor, what: str) -> None:
    """Fail with the wrap-around / padding message when ``got`` differs from ``want`` only by
    extra 1s on the image's border."""
    wrong = got != want
    if not bool(wrong.any()):
        return
    border = torch.zeros_like(wrong)
    border[:, 0], border[:, -1], border[:, :, 0], border[:, :, -1] = True, True, True, True
    extra = border & (got == 1) & (want == 0)
    i = int(wrong.flatten(1).any(1).float().argmax())      # the first map that is wrong
    expect(bool((wrong & ~extra).any()),
           "pixels on the image's border are marked where no neighbour INSIDE the image "
           "differs: outside the image is not a neighbour (torch.roll wraps around to the "
           "opposite border, and padding with a constant invents an id there); compare "
           f"shifted slices instead. On {what} your map is\n{got[i].int().tolist()}\n"
           f"expected\n{want[i].int().tolist()}")


def _check_boundaries(fn: Callable[[torch.Tensor], torch.Tensor]) -> str:
    # Two cars side by side (ids 7000, 7001) on a road (0): 4 x 6 map.
    m = torch.tensor([[0, 0, 0, 0, 0, 0],
                      [0, 7000, 7000, 7001, 7001, 0],
                      [0, 7000, 7000, 7001, 7001, 0],
                      [0, 0, 0, 0, 0, 0]])[None]
    before = m.clone()
    out = fn(m)
    expect(isinstance(out, torch.Tensor), f"boundaries should return a tensor, got "
           f"{type(out).__name__}")
    expect(torch.equal(m, before), "boundaries changed the instance map in place")
    expect(tuple(out.shape) == tuple(m.shape),
           f"the boundary map should have the instance map's shape {tuple(m.shape)}, got "
           f"{tuple(out.shape)}")
    expect(out.is_floating_point(), f"return a float map (G takes it as an input channel), "
           f"got dtype {out.dtype}")
    single = fn(torch.full((1, 5, 7), 3)).float()
    _expect_no_border_artifacts(single, torch.zeros(1, 5, 7), "a map with a single id (3)")
    expect(float(single.abs().sum()) == 0,
           "a map with a single id has no boundary: the result should be all zeros")
    expected = torch.tensor([[0, 1, 1, 1, 1, 0],
                             [1, 1, 1, 1, 1, 1],
                             [1, 1, 1, 1, 1, 1],
                             [0, 1, 1, 1, 1, 0]], dtype=torch.float32)[None]
    if torch.equal(out.float(), torch.ones_like(expected)):
        expect(False, "the corners are marked too: only the 4 neighbours (left, right, up, "
               "down) count, not the diagonal ones")
    # The line between the two cars: columns 2 and 3 must both be marked.
    expect(bool((out[0, 1:3, 2] == 1).all() and (out[0, 1:3, 3] == 1).all()),
           "the boundary between the two touching cars is missing or one-sided: a pixel is on "
           "a boundary when ANY 4-neighbour has another id, so both sides of the line are 1")
    expect(torch.equal(out.float(), expected),
           f"on the two-cars example the map is\n{out[0].int().tolist()}\nexpected\n"
           f"{expected[0].int().tolist()}")
    # Opposite borders that differ: a road on the left, a car on the right; sky on top, road
    # below. Only the line between them is a boundary: the image does not wrap around.
    split = torch.zeros(2, 4, 6, dtype=torch.long)
    split[0, :, 3:] = 26000
    split[1, 2:] = 23
    want = reference_instance_boundaries(split)
    got = fn(split).float()
    _expect_no_border_artifacts(got, want, "two halves with different ids")
    i = int((got != want).flatten(1).any(1).float().argmax())      # the first map that is wrong
    expect(torch.equal(got, want), f"on a map of two halves with different ids the result is\n"
           f"{got[i].int().tolist()}\nexpected\n{want[i].int().tolist()}")
    gen = torch.Generator().manual_seed(0)
    rnd = torch.randint(0, 3, (2, 9, 11), generator=gen) * 1000 + 7
    expect(torch.equal(fn(rnd).float(), reference_instance_boundaries(rnd)),
           "on random maps the result differs from the reference")
    blocks = torch.randint(0, 4, (2, 3, 4), generator=gen).repeat_interleave(3, 1)
    blocks = blocks.repeat_interleave(3, 2) * 1000 + 26000                 # (2, 9, 12) blocks
    expect(torch.equal(fn(blocks).float(), reference_instance_boundaries(blocks)),
           "on random maps of 3x3 blocks the result differs from the reference")
    return "both sides of a boundary, 4-neighbours only, no wrap-around, float, batch of maps"


def check_instance_boundaries(fn: Callable[[torch.Tensor], torch.Tensor]
                              ) -> Callable[[torch.Tensor], torch.Tensor]:
    """Check ``fn(instance_map (N, H, W)) -> (N, H, W) float`` (pix2pixHD Sec. 3.3)."""
    return run_check("instance boundary map", fn, reference_instance_boundaries,
                     _check_boundaries)


# --------------------------------------------------------------------------- pooling


def _check_pool(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> str:
    m = torch.tensor([[[1, 1, 2], [1, 2, 2]]])                  # (1, 2, 3): two instances
    f = torch.tensor([[[[1.0, 2.0, 10.0], [3.0, 20.0, 30.0]]]])  # (1, 1, 2, 3)
    before = f.clone()
    out = fn(f, m)
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == tuple(f.shape),
           f"the pooled features should have the features' shape {tuple(f.shape)}, got "
           f"{getattr(out, 'shape', type(out).__name__)}")
    expect(torch.equal(f, before), "the features were changed in place")
    expected = torch.tensor([[[[2.0, 2.0, 20.0], [2.0, 20.0, 20.0]]]])
    expect(torch.allclose(out, expected),
           f"hand-made example: got {out[0, 0].tolist()}, expected {expected[0, 0].tolist()} "
           f"(instance 1 has features 1, 2, 3 -> mean 2; instance 2 has 10, 20, 30 -> 20)")

    # A street: road (id 0) above two touching cars of one class (ids 26000 and 26001).
    street = torch.tensor([[[0, 0, 0, 0], [26000, 26000, 26001, 26001]]])
    fs = torch.tensor([[[[1.0, 2.0, 3.0, 6.0], [10.0, 20.0, 40.0, 60.0]]]])
    want = torch.tensor([[[[3.0, 3.0, 3.0, 3.0], [15.0, 15.0, 50.0, 50.0]]]])
    got = fn(fs, street)
    expect(isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(fs.shape),
           f"the pooled features should have the features' shape {tuple(fs.shape)}, got "
           f"{getattr(got, 'shape', type(got).__name__)}")
    cars = street[0] != 0
    if not torch.allclose(got, want):
        if torch.allclose(got[0, 0][cars], want[0, 0][cars]):
            expect(False, "the pixels with id 0 are not pooled: id 0 is an instance like any "
                   f"other (in the streets it is the road), so its pixels get their mean too. "
                   f"Got {got[0, 0].tolist()}, expected {want[0, 0].tolist()}")
        if torch.allclose(got[0, 0][cars], torch.full((4,), 32.5)):
            expect(False, "the two touching cars 26000 and 26001 got one common mean: pool by "
                   "instance id, not by class (id // 1000), so each object keeps its own "
                   f"style. Got {got[0, 0].tolist()}, expected {want[0, 0].tolist()}")
        expect(False, f"on a road (id 0) above two touching cars (26000, 26001) got "
               f"{got[0, 0].tolist()}, expected {want[0, 0].tolist()}")

    # Two images with the same ids: each image is pooled on its own.
    m2 = torch.stack([m[0], m[0]])
    f2 = torch.cat([f, f + 100.0])
    out2 = fn(f2, m2)
    expect(torch.allclose(out2[1], expected[0] + 100.0),
           "the same id in two images was pooled together: average within each image "
           "separately")

    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(3, 4, 6, 8, generator=gen)
    ids = torch.randint(0, 4, (3, 6, 8), generator=gen) * 1000 + 6
    mine = fn(feats, ids)
    ref = reference_instance_average_pool(feats, ids)
    expect(torch.allclose(mine, ref, atol=1e-5), "on random features the result differs from "
           "the reference (mean over each instance, per channel, per image)")

    x = feats.clone().requires_grad_(True)
    y = fn(x, ids)
    expect(y.requires_grad, "the result carries no gradient: the encoder is trained through "
           "this pooling, so use differentiable operations (no .item(), no numpy)")
    weights = torch.randn(y.shape, generator=gen)
    (y * weights).sum().backward()
    xr = feats.clone().requires_grad_(True)
    (reference_instance_average_pool(xr, ids) * weights).sum().backward()
    expect(x.grad is not None and torch.allclose(x.grad, xr.grad, atol=1e-5),  # type: ignore[arg-type]
           "the gradient differs from the reference's")
    return "hand-computed means, id 0 and touching instances, per image, differentiable"


def check_instance_average_pool(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                                ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Check ``fn(features (N, C, H, W), instance_map (N, H, W)) -> (N, C, H, W)`` (Sec. 3.4)."""
    return run_check("instance-average pooling", fn, reference_instance_average_pool,
                     _check_pool)
