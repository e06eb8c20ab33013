"""Pictures for the notebooks: image grids of paired data and of translations.

Images in the course are tensors in [-1, 1] (the range of the generators' tanh output,
pix2pix Appendix 6.1.1); these helpers map them to [0, 1] for display. Matplotlib is imported
inside the functions so that importing course_lib stays fast.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

__all__ = ["to_display", "show_images", "show_rows"]


def to_display(x: torch.Tensor) -> np.ndarray:
    """Turn a ``(3, H, W)`` / ``(1, H, W)`` image in [-1, 1], or an ``(H, W)`` map, into an
    ``(H, W, 3)`` / ``(H, W)`` NumPy array that matplotlib shows correctly."""
    x = x.detach().cpu()
    if x.dim() == 2:
        return x.numpy()
    if x.dim() != 3:
        raise ValueError(f"expected an image of shape (C, H, W) or (H, W), got {tuple(x.shape)}")
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return ((x.float() + 1) / 2).clamp(0, 1).permute(1, 2, 0).numpy()


def show_images(images: Sequence[torch.Tensor], titles: Sequence[str] | None = None,
                ncols: int | None = None, size: float = 2.2, cmap: str = "tab20",
                suptitle: str | None = None):  # type: ignore[no-untyped-def]
    """Show images (or integer label maps, coloured with ``cmap``) in a grid; returns the figure."""
    import matplotlib.pyplot as plt

    n = len(images)
    if n == 0:
        raise ValueError("show_images needs at least one image")
    ncols = ncols or min(n, 6)
    nrows = (n + ncols - 1) // ncols
    h, w = images[0].shape[-2:]
    aspect = w / h
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * aspect * ncols, size * nrows),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = images[k]
        if img.dim() == 2 and not torch.is_floating_point(img):
            ax.imshow(img.cpu().numpy(), cmap=cmap, interpolation="nearest")
        else:
            ax.imshow(to_display(img), interpolation="nearest")
        if titles is not None and k < len(titles):
            ax.set_title(titles[k], fontsize=10)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_rows(rows: dict[str, Sequence[torch.Tensor]], size: float = 2.0):  # type: ignore[no-untyped-def]
    """One row per entry (e.g. ``{"input": [...], "target": [...], "output": [...]}``)."""
    import matplotlib.pyplot as plt

    names = list(rows)
    ncols = max(len(v) for v in rows.values())
    h, w = rows[names[0]][0].shape[-2:]
    fig, axes = plt.subplots(len(names), ncols, figsize=(size * w / h * ncols, size * len(names)),
                             squeeze=False)
    for r, name in enumerate(names):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if c < len(rows[name]):
                img = rows[name][c]
                if img.dim() == 2 and not torch.is_floating_point(img):
                    ax.imshow(img.cpu().numpy(), cmap="tab20", interpolation="nearest")
                else:
                    ax.imshow(to_display(img), interpolation="nearest")
        axes[r, 0].set_ylabel(name, fontsize=10)
    fig.tight_layout()
    return fig
