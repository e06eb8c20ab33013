"""Instance maps in pix2pixHD: boundary map, instance-average pooling, encoder, K-means."""
from __future__ import annotations

import pytest
import torch

from course_lib.models import (FeatureClusters, InstanceEncoder, collect_instance_features,
                               generator_input, instance_average_pool, instance_boundaries,
                               kmeans, one_hot)
from course_lib.models.clusters import InstanceFeatures, instance_class


def test_boundaries_of_two_touching_cars() -> None:
    m = torch.tensor([[0, 0, 0, 0, 0],
                      [0, 7000, 7000, 7001, 0],
                      [0, 0, 0, 0, 0]])
    expected = torch.tensor([[0, 1, 1, 1, 0],
                             [1, 1, 1, 1, 1],
                             [0, 1, 1, 1, 0]], dtype=torch.float32)
    assert torch.equal(instance_boundaries(m), expected)
    # The same map, batched, keeps its shape; (N, 1, H, W) too.
    assert torch.equal(instance_boundaries(m[None]), expected[None])
    assert torch.equal(instance_boundaries(m[None, None]), expected[None, None])


def test_boundaries_mark_both_sides_and_ignore_diagonals() -> None:
    m = torch.tensor([[1, 2],
                      [2, 1]])                      # only diagonal neighbours agree
    assert torch.equal(instance_boundaries(m), torch.ones(2, 2))
    m = torch.tensor([[5, 5, 5],
                      [5, 5, 5]])
    assert instance_boundaries(m).sum() == 0
    # A line between two same-class cars: the semantic map has none, the instance map has it.
    inst = torch.tensor([[7000, 7000, 7001, 7001]])
    assert torch.equal(instance_boundaries(inst), torch.tensor([[0.0, 1.0, 1.0, 0.0]]))
    assert instance_boundaries(instance_class(inst)).sum() == 0


def test_boundaries_refuse_float_maps() -> None:
    with pytest.raises(TypeError, match="integer ids"):
        instance_boundaries(torch.rand(4, 4))


def test_instance_average_pool_by_hand_and_per_image() -> None:
    m = torch.tensor([[[1, 1, 2], [1, 2, 2]], [[1, 1, 1], [2, 2, 2]]])
    f = torch.tensor([[[1.0, 2.0, 10.0], [3.0, 20.0, 30.0]],
                      [[4.0, 5.0, 6.0], [0.0, 0.0, 3.0]]])[:, None]
    out = instance_average_pool(f, m)
    assert torch.allclose(out[0, 0], torch.tensor([[2.0, 2.0, 20.0], [2.0, 20.0, 20.0]]))
    assert torch.allclose(out[1, 0], torch.tensor([[5.0, 5.0, 5.0], [1.0, 1.0, 1.0]]))


def test_instance_average_pool_gradient_is_shared_within_an_instance() -> None:
    m = torch.tensor([[[1, 1, 2, 2]]])
    f = torch.zeros(1, 2, 1, 4, requires_grad=True)
    w = torch.tensor([1.0, 3.0, 0.0, 8.0]).view(1, 1, 1, 4).expand(1, 2, 1, 4)
    (instance_average_pool(f, m) * w).sum().backward()
    # d/df_j sum_i w_i mean(f over inst(i)) = (sum of w over inst(j)) / |inst(j)|
    assert torch.allclose(f.grad[0, 0, 0], torch.tensor([2.0, 2.0, 4.0, 4.0]))


def test_pooled_features_are_constant_within_instances() -> None:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 5, (2, 8, 8), generator=gen)
    out = instance_average_pool(torch.randn(2, 3, 8, 8, generator=gen), ids)
    for b in range(2):
        for i in ids[b].unique():
            vals = out[b][:, ids[b] == i]
            assert torch.allclose(vals, vals[:, :1].expand_as(vals))


def test_encoder_output_is_pooled() -> None:
    torch.manual_seed(0)
    E = InstanceEncoder(3, 3, nef=4, n_downsampling=2)
    m = torch.zeros(1, 8, 12, dtype=torch.long)
    m[:, :, 6:] = 7000
    out = E(torch.randn(1, 3, 8, 12), m)
    assert out.shape == (1, 3, 8, 12)
    assert out[0, :, :, :6].unique().numel() == 3 and out[0, :, :, 6:].unique().numel() == 3
    with pytest.raises(ValueError, match="divisible by 4"):
        E.pixel_features(torch.randn(1, 3, 6, 12))


def test_generator_input_channels() -> None:
    cm = torch.tensor([[[0, 1], [2, 2]]])
    im = torch.tensor([[[0, 1], [2000, 2001]]])
    x = generator_input(cm, 3, im, torch.ones(1, 3, 2, 2))
    assert x.shape == (1, 3 + 1 + 3, 2, 2)
    assert torch.equal(x[:, :3], one_hot(cm, 3))
    assert torch.equal(x[0, 3], instance_boundaries(im)[0])
    assert generator_input(cm, 3).shape == (1, 3, 2, 2)
    with pytest.raises(ValueError, match="instance map"):
        one_hot(im, 3)


def test_kmeans_is_reproducible_and_finds_separated_clusters() -> None:
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    pts = (centres[:, None] + 0.1 * torch.randn(3, 20, 2, generator=gen)).reshape(-1, 2)
    c1, l1 = kmeans(pts, 3, seed=0)
    c2, l2 = kmeans(pts, 3, seed=0)
    assert torch.equal(c1, c2) and torch.equal(l1, l2)
    found = sorted(c1.round().tolist())
    assert found == sorted(centres.tolist())
    # Points of one true cluster share a label.
    assert all(l1[k * 20:(k + 1) * 20].unique().numel() == 1 for k in range(3))
    assert kmeans(pts[:2], 10)[0].shape == (2, 2)           # k is capped at the point count


def _features() -> InstanceFeatures:
    gen = torch.Generator().manual_seed(0)
    f = torch.cat([torch.randn(30, 3, generator=gen), torch.randn(5, 3, generator=gen) + 4])
    classes = torch.tensor([7] * 30 + [0] * 5)
    ids = torch.tensor([7000 + k for k in range(30)] + [0] * 5)
    areas = torch.tensor([0.05] * 29 + [0.001] + [0.3] * 5, dtype=torch.float64)
    return InstanceFeatures(f, classes, ids, torch.arange(35), areas)


def test_feature_clusters_per_class_and_feature_maps() -> None:
    clusters = FeatureClusters.fit(_features(), n_clusters=10, seed=0)
    assert set(clusters.centres) == {0, 7}
    assert clusters.centres[7].shape == (10, 3) and clusters.centres[0].shape == (5, 3)
    again = FeatureClusters.fit(_features(), n_clusters=10, seed=0)
    assert all(torch.equal(clusters.centres[c], again.centres[c]) for c in clusters.centres)
    m = torch.tensor([[[0, 7000, 7001], [0, 3, 3]]])
    fm = clusters.feature_map(m, choices={7000: 4})
    assert fm.shape == (1, 3, 2, 3)
    assert torch.allclose(fm[0, :, 0, 1], clusters.centres[7][4])
    assert fm[0, :, 1, 1:].abs().sum() == 0                  # class 3 has no clusters: zeros
    with pytest.raises(ValueError, match="clusters 0..9"):
        clusters.feature_map(m, choices={7000: 10})


def test_collect_instance_features_lists_every_instance() -> None:
    torch.manual_seed(0)
    E = InstanceEncoder(3, 3, nef=2, n_downsampling=1)
    m = torch.tensor([[[0, 0, 7000, 7000], [1, 1, 7001, 7001]]] * 2)
    m = m.repeat_interleave(4, 1).repeat_interleave(2, 2)          # (2, 8, 8), same quarters
    data = collect_instance_features(E, torch.randn(2, 3, 8, 8), m, batch_size=1)
    assert len(data) == 8
    assert data.classes.tolist() == [0, 1, 7, 7] * 2
    assert torch.allclose(data.areas, torch.full((8,), 0.25, dtype=torch.float64))
