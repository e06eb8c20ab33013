"""Writing paired images to disk: the pix2pix "AB" files and ``A/`` + ``B/`` folders.

pix2pix (Isola et al., CVPR 2017) publishes its datasets as AB images: the input and the target
of one pair side by side in one file, left half A, right half B (see
:mod:`course_lib.data.paired`, which reads them). Own data usually starts as two folders of
photos; :func:`ab_image` joins one pair and :func:`save_pairs` writes a whole dataset in either
layout, so that the same loader, the command line and the notebooks can use it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

__all__ = ["ab_image", "to_pil", "save_pairs"]


def to_pil(x: torch.Tensor) -> Any:
    """A ``(3, H, W)`` float image in [-1, 1] as an RGB ``PIL.Image``."""
    from PIL import Image

    if x.dim() != 3 or x.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) image, got shape {tuple(x.shape)}")
    array = x.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().byte()
    return Image.fromarray(array.permute(1, 2, 0).numpy())


def ab_image(a: Any, b: Any) -> Any:
    """Join two same-size images into one AB image: ``a`` on the left, ``b`` on the right.

    Both are converted to RGB. Raises ``ValueError`` naming the sizes when they differ (a
    pair must be pixel-aligned) or when they are not square (the AB loader cuts a ``2H x H``
    file into two ``H x H`` halves; store non-square pairs as ``A/`` and ``B/`` folders).
    """
    from PIL import Image

    if a.size != b.size:
        raise ValueError(f"the two sides differ in size: {a.size[0]}x{a.size[1]} and "
                         f"{b.size[0]}x{b.size[1]} (width x height); resize or crop both to one "
                         "size first")
    w, h = a.size
    if w != h:
        raise ValueError(f"the sides are {w}x{h}: AB files hold two squares; crop them square or "
                         "save the pair as A/ and B/ folders instead")
    out = Image.new("RGB", (2 * w, h))
    out.paste(a.convert("RGB"), (0, 0))
    out.paste(b.convert("RGB"), (w, 0))
    return out


def save_pairs(dataset: Dataset, root: str | os.PathLike[str], layout: str = "ab",
               split: str | None = "train", n: int | None = None, ext: str = ".png") -> Path:
    """Write the first ``n`` pairs of ``dataset`` (items with ``"A"`` and ``"B"``) to disk.

    ``layout="ab"`` writes ``root/split/00000.png`` AB files; ``"folders"`` writes
    ``root/split/A/00000.png`` and ``root/split/B/00000.png``. Returns the split folder.
    """
    if layout not in ("ab", "folders"):
        raise ValueError(f"layout must be 'ab' or 'folders', got {layout!r}")
    folder = Path(root) / split if split else Path(root)
    total = len(dataset)  # type: ignore[arg-type]
    n = total if n is None else min(n, total)
    for i in range(n):
        item = dataset[i]
        a, b = to_pil(item["A"]), to_pil(item["B"])
        name = f"{i:05d}{ext}"
        if layout == "ab":
            folder.mkdir(parents=True, exist_ok=True)
            ab_image(a, b).save(folder / name)
        else:
            for side, image in (("A", a), ("B", b)):
                (folder / side).mkdir(parents=True, exist_ok=True)
                image.save(folder / side / name)
    return folder
