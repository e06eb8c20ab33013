"""What pix2pixHD does with instance maps: boundaries, instance-wise features, G's input.

Wang et al., CVPR 2018:

* **Sec. 3.3, "Using instance maps."** A semantic label map cannot separate two touching
  objects of one class (two parked cars form one "car" blob). The instance map can, but its
  ids are arbitrary numbers, so it is not fed directly: its **boundary map** is. A pixel is
  on a boundary (1) if any of its 4 neighbours has a different instance id, else 0
  (:func:`instance_boundaries`; both pixels of a differing pair are marked, as in the
  official ``get_edges``). G and D both get it as one more input channel.
* **Sec. 3.4, "Learning an instance-level feature embedding"** (Eq. 6-7). An encoder E maps
  the real photo to a low-dimensional feature map (3 channels by default), which is then
  **averaged within each instance** (:func:`instance_average_pool`), so every object gets one
  feature vector. G is trained on ``[labels, boundaries, E(x) pooled]``, E jointly with it.
  After training, the features of the training instances are clustered per class
  (:mod:`course_lib.models.clusters`); at test time a user picks a cluster per object.

:func:`one_hot` and :func:`generator_input` assemble G's input from class ids.
The encoder (:class:`InstanceEncoder`) follows the official ``Encoder`` (``nef=16``,
4 down-samplings, instance norm, Tanh output).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from course_lib.models.init import init_weights
from course_lib.models.norm import check_norm, make_norm

__all__ = ["instance_boundaries", "instance_average_pool", "InstanceEncoder", "one_hot",
           "generator_input", "discriminator_labels"]


def _as_batch_map(instance_map: torch.Tensor, name: str = "instance_map") -> torch.Tensor:
    """``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)`` integer map -> ``(N, H, W)``."""
    if not isinstance(instance_map, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(instance_map).__name__}")
    if instance_map.is_floating_point() or instance_map.is_complex():
        raise TypeError(f"{name} must hold integer ids, got dtype {instance_map.dtype}; pass "
                        f"the instance ids (e.g. class * 1000 + k), not an image")
    m = instance_map
    if m.dim() == 2:
        m = m[None]
    elif m.dim() == 4 and m.shape[1] == 1:
        m = m[:, 0]
    if m.dim() != 3:
        raise ValueError(f"{name} must be (H, W), (N, H, W) or (N, 1, H, W); got shape "
                         f"{tuple(instance_map.shape)}")
    return m


def instance_boundaries(instance_map: torch.Tensor) -> torch.Tensor:
    """The boundary map of an instance map (Sec. 3.3, Fig. 4b).

    Args:
        instance_map: integer ids, ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)``.

    Returns:
        a float tensor of the same shape: 1.0 where any of the 4 neighbours (left, right, up,
        down) has another id, else 0.0. Pixels at the image border have fewer neighbours.
    """
    m = _as_batch_map(instance_map)
    edge = torch.zeros_like(m, dtype=torch.bool)
    dx = m[:, :, 1:] != m[:, :, :-1]                      # (N, H, W-1): pair (x, x+1) differs
    edge[:, :, 1:] |= dx
    edge[:, :, :-1] |= dx
    dy = m[:, 1:, :] != m[:, :-1, :]                      # (N, H-1, W)
    edge[:, 1:, :] |= dy
    edge[:, :-1, :] |= dy
    return edge.float().reshape(instance_map.shape)


def instance_average_pool(features: torch.Tensor, instance_map: torch.Tensor) -> torch.Tensor:
    """Replace every pixel's features by the mean over its instance (Sec. 3.4).

    Args:
        features: ``(N, C, H, W)`` float.
        instance_map: integer ids ``(N, H, W)`` or ``(N, 1, H, W)``; ids are per image (the
            same id in two images is two instances).

    Returns:
        ``(N, C, H, W)``: constant within each instance of each image. Differentiable with
        respect to ``features`` (the gradient of a pixel is its instance's gradient divided by
        the instance's size).
    """
    if features.dim() != 4:
        raise ValueError(f"features must be (N, C, H, W), got shape {tuple(features.shape)}")
    m = _as_batch_map(instance_map)
    n, c, h, w = features.shape
    if tuple(m.shape) != (n, h, w):
        raise ValueError(f"instance_map {tuple(instance_map.shape)} does not match features "
                         f"{tuple(features.shape)}: it needs one id per pixel of each image")
    m = m.to(features.device).long()
    span = int(m.max()) - int(m.min()) + 1
    key = (m - m.min()) + span * torch.arange(n, device=m.device).view(n, 1, 1)  # per image
    _, inverse = torch.unique(key.reshape(-1), return_inverse=True)               # (N*H*W,)
    flat = features.permute(0, 2, 3, 1).reshape(-1, c)                            # (N*H*W, C)
    k = int(inverse.max()) + 1
    sums = flat.new_zeros(k, c).index_add(0, inverse, flat)
    counts = torch.bincount(inverse, minlength=k).to(flat.dtype).unsqueeze(1)
    return (sums / counts)[inverse].reshape(n, h, w, c).permute(0, 3, 1, 2)


def one_hot(class_map: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Integer class ids ``(N, H, W)`` (or ``(H, W)``) -> float one-hot ``(N, K, H, W)``."""
    m = _as_batch_map(class_map, "class_map").long()
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    lo, hi = int(m.min()), int(m.max())
    if lo < 0 or hi >= num_classes:
        raise ValueError(f"class ids must lie in [0, {num_classes - 1}], found {lo}..{hi}; pass "
                         f"the class map (not the instance map, whose thing ids are class * "
                         f"1000 + k), or raise num_classes")
    return nn.functional.one_hot(m, num_classes).permute(0, 3, 1, 2).float()


def discriminator_labels(class_map: torch.Tensor, num_classes: int,
                         instance_map: torch.Tensor | None = None) -> torch.Tensor:
    """The label part of D's input: one-hot classes (+ the boundary map), ``(N, K(+1), H, W)``.

    D never sees the instance features (official ``discriminate``): it judges the image
    against the layout.
    """
    x = one_hot(class_map, num_classes)
    if instance_map is None:
        return x
    edges = instance_boundaries(_as_batch_map(instance_map)).to(x)
    return torch.cat([x, edges[:, None]], dim=1)


def generator_input(class_map: torch.Tensor, num_classes: int,
                    instance_map: torch.Tensor | None = None,
                    features: torch.Tensor | None = None) -> torch.Tensor:
    """G's input (Sec. 3.3-3.4): ``cat([one-hot labels, boundary map, instance features])``.

    Args:
        class_map: class ids ``(N, H, W)``.
        num_classes: K, the one-hot channels.
        instance_map: ids ``(N, H, W)``; ``None`` leaves out the boundary channel (the
            "without instance maps" ablation).
        features: ``(N, F, H, W)`` instance features (pooled), or ``None``.

    Returns:
        ``(N, K + [1] + [F], H, W)`` float.
    """
    x = discriminator_labels(class_map, num_classes, instance_map)
    if features is not None:
        if features.dim() != 4 or features.shape[0] != x.shape[0] or \
                features.shape[2:] != x.shape[2:]:
            raise ValueError(f"features {tuple(features.shape)} must be (N, F, H, W) matching "
                             f"the label map {tuple(x.shape[:1] + x.shape[2:])}")
        x = torch.cat([x, features.to(x)], dim=1)
    return x


class InstanceEncoder(nn.Module):
    """E, the instance-wise feature encoder (Sec. 3.4; the official ``Encoder``).

    An encoder-decoder: 7x7 conv to ``nef``, ``n_downsampling`` stride-2 convs doubling the
    width, as many transposed convs back, a 7x7 conv to ``out_channels`` and Tanh; instance
    norm and ReLU in between; then :func:`instance_average_pool`.

    Args:
        in_channels: image channels (3).
        out_channels: feature dimension (3 in the paper).
        nef: width of the first layer (16 in the official code).
        n_downsampling: 4 in the official code.
        norm: ``"instance"``.

    ``forward(image (N, 3, H, W), instance_map (N, H, W)) -> (N, out_channels, H, W)``,
    constant within every instance; ``H`` and ``W`` divisible by ``2**n_downsampling``.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, nef: int = 16,
                 n_downsampling: int = 4, norm: str = "instance") -> None:
        super().__init__()
        check_norm(norm)
        for name, v, low in (("in_channels", in_channels, 1), ("out_channels", out_channels, 1),
                             ("nef", nef, 1), ("n_downsampling", n_downsampling, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
        self.config: dict[str, Any] = dict(in_channels=in_channels, out_channels=out_channels,
                                           nef=nef, n_downsampling=n_downsampling, norm=norm)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.n_downsampling = n_downsampling
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, nef, 7),
                                   make_norm(norm, nef), nn.ReLU(True)]
        for i in range(n_downsampling):
            layers += [nn.Conv2d(nef * 2 ** i, nef * 2 ** (i + 1), 3, stride=2, padding=1),
                       make_norm(norm, nef * 2 ** (i + 1)), nn.ReLU(True)]
        for i in range(n_downsampling, 0, -1):
            layers += [nn.ConvTranspose2d(nef * 2 ** i, nef * 2 ** (i - 1), 3, stride=2,
                                          padding=1, output_padding=1),
                       make_norm(norm, nef * 2 ** (i - 1)), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(nef, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def pixel_features(self, image: torch.Tensor) -> torch.Tensor:
        """The features before pooling, ``(N, out_channels, H, W)``."""
        if image.dim() != 4 or image.shape[1] != self.in_channels:
            raise ValueError(f"InstanceEncoder expects images (N, {self.in_channels}, H, W), got "
                             f"{tuple(image.shape)}")
        factor = 2 ** self.n_downsampling
        h, w = int(image.shape[2]), int(image.shape[3])
        if h % factor or w % factor:
            raise ValueError(f"InstanceEncoder with n_downsampling={self.n_downsampling} needs "
                             f"sides divisible by {factor}; got {h}x{w}")
        return self.model(image)

    def forward(self, image: torch.Tensor, instance_map: torch.Tensor) -> torch.Tensor:
        return instance_average_pool(self.pixel_features(image), instance_map)
