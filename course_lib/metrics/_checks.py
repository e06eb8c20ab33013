"""Input checks shared by the metric modules (private).

Every metric of the course takes images as float tensors in [-1, 1] (the generators end in
``tanh``, pix2pix Sec. 6.1) and ground truth as integer class maps. These helpers turn the
accepted forms into one canonical shape and refuse anything else with a ``ValueError`` that
names the argument, the offending value and what to do.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

RANGE_TOLERANCE = 1e-3  # tanh outputs and float round-off may step just past +-1


def check_images(images: Any, name: str, channels: int | None = 3) -> torch.Tensor:
    """Return ``images`` as a float32 (N, C, H, W) tensor in [-1, 1].

    Accepts (C, H, W) for a single image. ``channels=None`` accepts any channel count.
    """
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of images in [-1, 1], "
                         f"got {type(images).__name__}")
    if not images.is_floating_point():
        raise ValueError(f"{name} must be a float tensor in [-1, 1], got dtype {images.dtype}; "
                         f"convert uint8 images with x.float() / 127.5 - 1")
    x = images.detach()
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W) or (C, H, W), "
                         f"got {tuple(images.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels in dim 1, got shape "
                         f"{tuple(images.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(images.shape)})")
    x = x.float()
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    lo, hi = x.min().item(), x.max().item()
    if lo < -1 - RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        raise ValueError(f"{name} must lie in [-1, 1] (the generators' tanh range), found "
                         f"values in [{lo:.3g}, {hi:.3g}]; map [0, 1] images with x * 2 - 1 "
                         f"and [0, 255] images with x / 127.5 - 1")
    return x.clamp(-1.0, 1.0)


def check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Refuse two image batches of different shapes."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")


def check_num_classes(num_classes: Any) -> int:
    """Return ``num_classes`` if it is an int >= 2."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    return num_classes


def check_class_maps(class_maps: Any, name: str, num_classes: int | None = None,
                     size: tuple[int, int] | None = None, batch: int | None = None,
                     ignore_index: int | None = None) -> torch.Tensor:
    """Return ``class_maps`` as an int64 (N, H, W) tensor.

    A single (H, W) map is broadcast to ``batch`` maps when ``batch`` is given. Values must
    lie in ``[0, num_classes)`` (or equal ``ignore_index``).
    """
    if not isinstance(class_maps, torch.Tensor):
        raise ValueError(f"{name} must be an integer torch.Tensor, got {type(class_maps).__name__}")
    if class_maps.is_floating_point() or class_maps.is_complex():
        raise ValueError(f"{name} must hold integer class ids, got dtype {class_maps.dtype}; "
                         f"use .long() on a label map")
    m = class_maps.detach().long()
    if m.dim() == 2:
        m = m[None]
        if batch is not None:
            m = m.expand(batch, -1, -1)
    if m.dim() != 3:
        raise ValueError(f"{name} must have shape (N, H, W) or (H, W), got "
                         f"{tuple(class_maps.shape)}")
    if size is not None and tuple(m.shape[-2:]) != tuple(size):
        raise ValueError(f"{name} has spatial size {tuple(m.shape[-2:])} but the images are "
                         f"{tuple(size)}; class maps must be pixel-aligned with the images")
    if batch is not None and m.shape[0] != batch:
        raise ValueError(f"{name} holds {m.shape[0]} maps but there are {batch} images")
    if num_classes is not None and m.numel() > 0:
        valid = m if ignore_index is None else m[m != ignore_index]
        if valid.numel() > 0:
            lo, hi = valid.min().item(), valid.max().item()
            if lo < 0 or hi >= num_classes:
                bad = lo if lo < 0 else hi
                raise ValueError(f"{name} contains class id {bad}, outside [0, {num_classes}) "
                                 f"for num_classes={num_classes}; pass the dataset's number "
                                 f"of classes")
    return m


def resolve_classes(classes: Any, class_names: Sequence[str] | None,
                    num_classes: int | None = None) -> list[int] | None:
    """Turn ``classes`` (None, an id, a name, or a sequence of them) into a list of ids."""
    if classes is None:
        return None
    items = [classes] if isinstance(classes, (int, str)) else list(classes)
    if not items:
        raise ValueError("classes is empty; pass None to use every class")
    ids: list[int] = []
    for c in items:
        if isinstance(c, str):
            if class_names is None or c not in class_names:
                known = "none given" if class_names is None else ", ".join(class_names)
                raise ValueError(f"unknown class name {c!r} (class_names: {known}); "
                                 f"pass class ids or the dataset's class_names")
            ids.append(list(class_names).index(c))
        elif isinstance(c, int) and not isinstance(c, bool):
            if c < 0 or (num_classes is not None and c >= num_classes):
                raise ValueError(f"class id {c} is out of range for {num_classes} classes")
            ids.append(c)
        else:
            raise ValueError(f"classes must hold ints or names, got {c!r}")
    return ids


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """Map [-1, 1] to [0, 1]."""
    return (images + 1.0) * 0.5
