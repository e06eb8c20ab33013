"""Clusters of instance features: the menu a user picks from to edit a scene.

Wang et al., CVPR 2018, Sec. 3.4: after training, the encoder's features of all training
instances are collected and clustered with K-means **per semantic class**; "each cluster
center encodes the features of a particular style, for example, the asphalt or cobblestone
texture for a road". At inference a user (or a random draw) picks one centre per object and
its feature vector fills that object's pixels in G's feature channels.

Details follow the official ``encode_features.py`` / ``precompute_feature_maps.py``: 10
clusters per class (fewer if a class has fewer instances), instances smaller than 1/64 of
the image are left out of the clustering, and an instance's class is ``id // 1000`` for
"thing" ids (``class * 1000 + k``) and the id itself for "stuff". The K-means here is the
course's own (k-means++ seeding, Lloyd iterations) in torch, deterministic given ``seed``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from course_lib.models.instance import _as_batch_map

__all__ = ["kmeans", "instance_class", "InstanceFeatures", "collect_instance_features",
           "FeatureClusters"]

THING_OFFSET = 1000


def instance_class(ids: torch.Tensor, offset: int = THING_OFFSET) -> torch.Tensor:
    """Class of each instance id: ``id // offset`` for thing ids (>= offset), else ``id``."""
    ids = ids.long()
    return torch.where(ids >= offset, ids // offset, ids)


def kmeans(points: torch.Tensor, k: int, seed: int = 0, iters: int = 100
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """K-means of ``points`` (M, F): returns ``(centres (k', F), labels (M,))``, k' = min(k, M).

    k-means++ seeding (Arthur & Vassilvitskii 2007) from a generator seeded with ``seed``, then
    Lloyd iterations until the assignments stop changing (at most ``iters``). A cluster that
    becomes empty is moved to the point farthest from its centre. Same input and seed, same
    result.
    """
    if points.dim() != 2 or points.shape[0] == 0:
        raise ValueError(f"points must be a non-empty (M, F) tensor, got {tuple(points.shape)}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    x = points.detach().double().cpu()
    m = x.shape[0]
    k = min(k, m)
    gen = torch.Generator().manual_seed(seed)
    first = int(torch.randint(m, (1,), generator=gen))
    centres = [x[first]]
    d2 = ((x - x[first]) ** 2).sum(1)
    for _ in range(1, k):
        total = float(d2.sum())
        if total <= 0:           # fewer distinct points than k: repeat the farthest
            idx = int(torch.argmax(d2))
        else:
            idx = int(torch.multinomial(d2 / total, 1, generator=gen))
        centres.append(x[idx])
        d2 = torch.minimum(d2, ((x - x[idx]) ** 2).sum(1))
    c = torch.stack(centres)
    labels = torch.full((m,), -1, dtype=torch.long)
    for _ in range(iters):
        new = torch.cdist(x, c).argmin(1)
        if torch.equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = labels == j
            if members.any():
                c[j] = x[members].mean(0)
            else:
                far = int(torch.cdist(x, c).min(1).values.argmax())
                c[j] = x[far]
    return c.to(points.dtype), labels


@dataclass
class InstanceFeatures:
    """One row per instance of a set of images.

    Attributes:
        features: ``(M, F)`` the instance's pooled feature vector.
        classes: ``(M,)`` its semantic class.
        ids: ``(M,)`` its instance id in its image.
        images: ``(M,)`` the index of its image.
        areas: ``(M,)`` its area as a fraction of the image.
    """

    features: torch.Tensor
    classes: torch.Tensor
    ids: torch.Tensor
    images: torch.Tensor
    areas: torch.Tensor

    def __len__(self) -> int:
        return int(self.features.shape[0])


@torch.no_grad()
def collect_instance_features(encoder: nn.Module, images: torch.Tensor,
                              instance_maps: torch.Tensor, batch_size: int = 16
                              ) -> InstanceFeatures:
    """Run the encoder over ``images`` (N, 3, H, W) and list every instance's feature.

    ``encoder(image, instance_map)`` must return pooled features (N, F, H, W), e.g. an
    :class:`~course_lib.models.InstanceEncoder`.
    """
    maps = _as_batch_map(instance_maps)
    if images.dim() != 4 or images.shape[0] != maps.shape[0] or images.shape[2:] != maps.shape[1:]:
        raise ValueError(f"images {tuple(images.shape)} and instance_maps "
                         f"{tuple(instance_maps.shape)} must be (N, 3, H, W) and (N, H, W)")
    device = next(encoder.parameters()).device
    rows: dict[str, list[torch.Tensor]] = {k: [] for k in ("f", "c", "i", "n", "a")}
    pixels = maps.shape[1] * maps.shape[2]
    for start in range(0, images.shape[0], batch_size):
        img = images[start:start + batch_size].to(device)
        inst = maps[start:start + batch_size].to(device)
        pooled = encoder(img, inst).float()
        for b in range(img.shape[0]):
            ids, first, counts = _first_pixels(inst[b])
            feat = pooled[b].reshape(pooled.shape[1], -1)[:, first].T    # (I, F)
            rows["f"].append(feat.cpu())
            rows["c"].append(instance_class(ids).cpu())
            rows["i"].append(ids.cpu())
            rows["n"].append(torch.full((len(ids),), start + b, dtype=torch.long))
            rows["a"].append(counts.cpu().double() / pixels)
    return InstanceFeatures(torch.cat(rows["f"]), torch.cat(rows["c"]), torch.cat(rows["i"]),
                            torch.cat(rows["n"]), torch.cat(rows["a"]))


def _first_pixels(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ids in an (H, W) map, the flat index of one pixel of each, and their pixel counts."""
    flat = m.reshape(-1)
    ids, inverse, counts = torch.unique(flat, return_inverse=True, return_counts=True)
    first = torch.full((len(ids),), flat.numel(), dtype=torch.long, device=flat.device)
    first = first.scatter_reduce(0, inverse, torch.arange(flat.numel(), device=flat.device),
                                 reduce="amin")
    return ids, first, counts


class FeatureClusters:
    """Per-class K-means centres of instance features, and feature maps built from them.

    Build with :meth:`fit`; ``centres[c]`` is a ``(k_c, F)`` tensor for every class ``c`` that
    had instances. :meth:`feature_map` turns an instance map and a choice of cluster per
    instance into G's feature channels.
    """

    def __init__(self, centres: dict[int, torch.Tensor], feature_dim: int) -> None:
        self.centres = {int(c): v.float() for c, v in centres.items()}
        self.feature_dim = int(feature_dim)

    def __repr__(self) -> str:
        parts = ", ".join(f"{c}: {len(v)}" for c, v in sorted(self.centres.items()))
        return f"FeatureClusters(clusters per class {{{parts}}}, {self.feature_dim} features)"

    @classmethod
    def fit(cls, data: InstanceFeatures, n_clusters: int = 10, min_area: float = 1 / 64,
            seed: int = 0) -> FeatureClusters:
        """K-means per class over instances covering at least ``min_area`` of their image."""
        if not 0 <= min_area < 1:
            raise ValueError(f"min_area is a fraction of the image in [0, 1), got {min_area}")
        keep = data.areas >= min_area
        centres: dict[int, torch.Tensor] = {}
        for c in torch.unique(data.classes[keep]).tolist():
            pts = data.features[keep & (data.classes == c)]
            centres[int(c)] = kmeans(pts, n_clusters, seed=seed)[0]
        if not centres:
            raise ValueError(f"no instance covers min_area={min_area} of its image; lower it")
        return cls(centres, data.features.shape[1])

    def feature_map(self, instance_map: torch.Tensor, choices: dict[int, int] | None = None,
                    seed: int = 0) -> torch.Tensor:
        """Feature channels ``(N, F, H, W)`` for the instances of ``instance_map`` (N, H, W).

        Args:
            instance_map: ids, ``(N, H, W)`` or ``(H, W)``.
            choices: ``{instance id: cluster index}``; applies to that id in every image.
                Instances without a choice get a random cluster of their class (drawn with
                ``seed``, as the official ``sample_features`` does); classes without
                clusters get zeros.
            seed: seeds the random picks.
        """
        m = _as_batch_map(instance_map)
        choices = dict(choices or {})
        gen = torch.Generator().manual_seed(seed)
        out = torch.zeros(m.shape[0], self.feature_dim, *m.shape[1:])
        for b in range(m.shape[0]):
            for i in torch.unique(m[b]).tolist():
                c = int(instance_class(torch.tensor(i)))
                bank = self.centres.get(c)
                pick = int(torch.randint(len(bank), (1,), generator=gen)) if bank is not None \
                    else 0
                if bank is None:
                    continue
                if i in choices:
                    pick = int(choices[i])
                    if not 0 <= pick < len(bank):
                        raise ValueError(f"instance {i} (class {c}) has clusters 0..{len(bank) - 1}"
                                         f"; got choice {pick}")
                out[b, :, m[b] == i] = bank[pick].view(-1, 1)
        return out.to(instance_map.device)
