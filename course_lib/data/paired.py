"""Real and user paired data: one loader for AB files and for A/ + B/ folders.

pix2pix (Isola et al., CVPR 2017) trains on aligned pairs ``{x, y}`` (Sec. 3, Eq. 1-4) and
releases its datasets as "AB" images, the input and the target side by side in one file; the
task direction (A to B or B to A) is a training option (the facades labels are the *right*
half, so labels -> photo is ``BtoA``). Its augmentation (Sec. 6.2) resizes each image to
286x286, crops 256x256 at random and mirrors at random, with the same draw for input and
target (:mod:`course_lib.data.jitter`). :class:`PairedImageDataset` reads

* the **AB layout**: ``root/<split>/*.jpg``, each file ``2H`` wide and ``H`` high, the left
  half A, the right half B (the published pix2pix archives, see
  :mod:`course_lib.data.download`);
* the **folder layout**: ``root/<split>/A/name.png`` and ``root/<split>/B/name.jpg``, paired by
  file name without extension (sub-folders allowed; the same relative path on both sides);
* either of them without split folders, in ``root`` itself, with ``split=None``.

and returns the same dictionaries as the procedural datasets of :mod:`course_lib.data`:
``{"A": (3, H, W) float in [-1, 1], "B": ..., "index": i, "path": str}``, plus ``"class_map"``
(``(H, W)`` int64) when one side is a label map.

File handling: extensions ``.jpg .jpeg .png .bmp .webp`` (any case) are images; hidden files
(name starting with ``.``) are ignored; other files are listed in ``ignored_files``.
Grayscale images become 3 identical channels; RGBA and LA lose their alpha channel (it is
dropped, not composited on a background); 16-bit grayscale is scaled to the 8-bit range. A
label side (``label_side``) must be a single-channel integer image (mode ``L``, ``P`` or
``I;16``): its pixel values are class ids, read without interpolation (nearest neighbour in
the jitter) and returned as ``class_map``; the side itself is returned colour-coded so that a
generator sees a 3-channel input, as pix2pix feeds its label images.

Images above :data:`MAX_IMAGE_PIXELS` (50 megapixels) are refused with a message saying how
to resize them (they are read at a few hundred pixels anyway). A large image is decoded at a
reduced size where the format allows (JPEG's DCT scaling through ``draft``) and halved with
``reduce`` before the float conversion otherwise, never below the size it is resized to; each
read decodes a file once, so a pair is decoded once per epoch (:func:`open_image`).

Every problem raises :class:`PairedDataError` naming the file and what to do; no file is
silently skipped. Sizes and pixel values are checked when a pair is read; call
:meth:`PairedImageDataset.verify` to check a whole folder up front.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from course_lib.data.jitter import apply_jitter, resize, sample_jitter

__all__ = ["IMAGE_EXTENSIONS", "LAYOUT_HELP", "MAX_IMAGE_PIXELS", "PairedDataError",
           "PairedImageDataset", "colorize_labels", "open_image"]

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

LAYOUT_HELP = """\
Accepted layouts (ROOT is the folder you pass, <split> is train, val or test):
  AB files : ROOT/<split>/name.jpg          input and target side by side, each file 2H wide, H high
  folders  : ROOT/<split>/A/name.png  and  ROOT/<split>/B/name.png   (same file names)
  no split : AB files in ROOT itself, or ROOT/A and ROOT/B, with split=None
Image files: .jpg .jpeg .png .bmp .webp"""

_LABEL_MODES = ("1", "L", "P", "I", "I;16", "I;16L", "I;16B")


class PairedDataError(ValueError):
    """A paired-data folder or file that cannot be used; the message names it and says why."""


MAX_IMAGE_PIXELS = 50_000_000  # above this an image is refused (decoding it takes gigabytes)


def _too_large(path: Path, pixels: int, size: tuple[int, int] | None,
               limit: int) -> PairedDataError:
    shape = f"{size[0]}x{size[1]} (width x height), " if size else ""
    return PairedDataError(
        f"{path} is {shape}{pixels / 1e6:.0f} megapixels, above the {limit / 1e6:g} "
        "megapixels course_lib reads: resize it first (the models see a few hundred pixels), "
        "e.g. python -c \"from PIL import Image; im = Image.open('BIG.jpg'); "
        "im.thumbnail((4096, 4096)); im.save('smaller.jpg')\" or ImageMagick's "
        "mogrify -resize 4096x4096 FILE")


def open_image(path: str | os.PathLike, at_least: tuple[int, int] | None = None,
               max_pixels: int | None = None) -> Any:
    """Decode the image at ``path`` once, refusing images above ``max_pixels`` (default
    :data:`MAX_IMAGE_PIXELS`).

    With ``at_least=(width, height)``, a large image is decoded at a reduced size that is
    still at least that large: by a factor 2, 4 or 8 that divides both sides (so an AB file
    still splits into two exact squares), through ``draft`` for JPEG files (the decoder's DCT
    scaling, much faster than a full decode) and ``reduce`` (box averages) after decoding for
    other formats. ``image.info["original_size"]`` keeps the file's own ``(width, height)``.
    Callers that need exact pixel values (class-id label maps) pass ``None``.

    Raises:
        PairedDataError: the file is too large, corrupt, truncated or not an image.
    """
    import warnings

    from PIL import Image

    path = Path(path)
    limit = MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > limit:
                    raise _too_large(path, width * height, (width, height), limit)
                factor = 1
                if at_least is not None:
                    ratio = min(width // max(1, at_least[0]), height // max(1, at_least[1]))
                    factor = next((f for f in (8, 4, 2) if ratio >= f and width % f == 0
                                   and height % f == 0), 1)
                if factor > 1 and image.format == "JPEG":
                    image.draft(image.mode, (width // factor, height // factor))
                image.load()  # decode now: a truncated file fails here, not later
                if image.size != (width // factor, height // factor):  # not drafted
                    if image.mode == "P":
                        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
                    if image.mode in ("L", "RGB", "RGBA", "LA"):
                        image = image.reduce(factor)
                image.info["original_size"] = (width, height)
                return image
    except Image.DecompressionBombError as err:  # far above the limit: PIL's own refusal
        import re

        found = re.search(r"\((\d+) pixels\)", str(err))
        raise _too_large(path, int(found.group(1)) if found else 4 * limit, None,
                         limit) from None
    except (OSError, SyntaxError, ValueError) as err:
        if isinstance(err, PairedDataError):
            raise
        raise PairedDataError(
            f"cannot read the image {path}: {err}. The file is corrupt, truncated or not an "
            "image despite its extension; re-export or re-download it, or remove it."
        ) from err


def _size2(size: int | Sequence[int], what: str) -> tuple[int, int]:
    if isinstance(size, int):
        h = w = size
    else:
        try:
            h, w = (int(s) for s in size)
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be an int or a (height, width) pair, got {size!r}") \
                from None
    if h <= 0 or w <= 0:
        raise ValueError(f"{what} must be positive, got {size!r}")
    return h, w


def colorize_labels(class_map: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Colour-code a ``(H, W)`` class map as a ``(3, H, W)`` image in [-1, 1].

    Class ``k`` gets colour ``k`` of a jet-like palette of ``num_classes`` colours (the
    palette the CMP facade labels use), so the generator sees a 3-channel input.
    """
    from course_lib.data.synthetic import jet_palette

    palette = torch.tensor(jet_palette(num_classes), dtype=torch.float32) / 127.5 - 1.0
    return palette[class_map.long()].permute(2, 0, 1).contiguous()


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _scan(folder: Path) -> tuple[list[Path], list[Path]]:
    """All image files under ``folder`` (recursive, sorted) and the other non-hidden files."""
    images: list[Path] = []
    others: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            (images if _is_image(path) else others).append(path)
    return images, others


class PairedImageDataset(Dataset):
    """Paired images from a folder: pix2pix AB files or A/ and B/ folders.

    Args:
        root: the dataset folder, e.g. ``data/facades`` (see :data:`LAYOUT_HELP`).
        split: the sub-folder to read (``"train"``, ``"val"``, ``"test"``), or ``None`` to
            read ``root`` itself.
        direction: ``"AtoB"`` returns the left half / ``A`` folder as the input ``"A"``;
            ``"BtoA"`` swaps the sides (the facades archive needs ``BtoA`` for labels -> photo).
        mode: ``"auto"`` (folders when ``A/`` and ``B/`` exist, else AB files), ``"ab"`` or
            ``"folders"``.
        load_size: size (int, or ``(height, width)``) each side is resized to before the
            random crop (286 in the paper).
        crop_size: output size (256 in the paper). Without augmentation the sides are
            simply resized to it.
        augment: random crop and flip; default ``True`` for ``split="train"``, else ``False``.
        label_side: ``"A"`` or ``"B"``: that side of the *returned* pair (after
            ``direction``) is a single-channel class map; it is read as integers, resized with
            nearest neighbour, returned as ``"class_map"`` (int64) and colour-coded in its slot.
        num_classes: number of classes of the label side; values must lie in
            ``[0, num_classes)``. Required with ``label_side``.
        flip: allow the random left-right mirror when augmenting.

    Each item is ``{"A": (3, h, w), "B": (3, h, w), "index": i, "path": str}`` with floats in
    [-1, 1], plus ``"class_map"`` ``(h, w)`` int64 when ``label_side`` is set; ``(h, w)`` is
    ``crop_size``. ``"path"`` is the AB file, or the input side's file in the folder layout
    (:attr:`pairs` holds both files).

    Augmentation draws from torch's global random generator, so ``torch.manual_seed`` makes
    it reproducible; the training loop seeds every read from the run's seed and the step
    (:mod:`course_lib.train.worker_seeding`), so a resumed run reads the same crops.
    """

    def __init__(self, root: str | os.PathLike, split: str | None = "train",
                 direction: str = "AtoB", mode: str = "auto",
                 load_size: int | tuple[int, int] = 286, crop_size: int | tuple[int, int] = 256,
                 augment: bool | None = None, label_side: str | None = None,
                 num_classes: int | None = None, flip: bool = True) -> None:
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        if mode not in ("auto", "ab", "folders"):
            raise ValueError(f"mode must be 'auto', 'ab' or 'folders', got {mode!r}")
        if label_side not in (None, "A", "B"):
            raise ValueError(f"label_side must be None, 'A' or 'B', got {label_side!r}")
        if label_side is not None and (not isinstance(num_classes, int) or num_classes < 1):
            raise ValueError(
                f"label_side={label_side!r} needs num_classes (a positive int, the number of "
                f"classes in the label images), got {num_classes!r}"
            )
        if label_side is None and num_classes is not None:
            raise ValueError("num_classes is only used together with label_side='A' or 'B'")
        self.root = Path(root)
        self.split = split
        self.direction = direction
        self.load_size = _size2(load_size, "load_size")
        self.crop_size = _size2(crop_size, "crop_size")
        self.augment = (split == "train") if augment is None else bool(augment)
        self.label_side = label_side
        self.num_classes = num_classes
        self.flip = flip
        if self.augment and (self.crop_size[0] > self.load_size[0]
                             or self.crop_size[1] > self.load_size[1]):
            raise ValueError(
                f"crop_size {self.crop_size} is larger than load_size {self.load_size}: the "
                "random crop is taken from the image resized to load_size (pix2pix: 286 -> 256)"
            )

        self.split_dir = self._find_split_dir()
        self.layout, self.pairs, self.ignored_files = self._collect(mode)

    # ---- discovery

    def _missing(self, problem: str) -> PairedDataError:
        """The error for a missing or empty folder: where we looked, the layouts, downloads."""
        from course_lib.data.download import DATASETS

        name = self.root.name if self.root.name in DATASETS else "facades"
        return PairedDataError(
            f"{problem}\n{LAYOUT_HELP}\n"
            f"To download a published pix2pix dataset: python -m course_lib download {name} "
            "(all of them: python -m course_lib download --list)."
        )

    def _find_split_dir(self) -> Path:
        if not self.root.is_dir():
            raise self._missing(f"no paired images: the folder {self.root} does not exist "
                                f"(looked for {self.root.resolve()}).")
        if self.split is None:
            return self.root
        split_dir = self.root / self.split
        if split_dir.is_dir():
            return split_dir
        present = sorted(p.name for p in self.root.iterdir()
                         if p.is_dir() and not p.name.startswith("."))
        hint = ""
        if {"A", "B"} <= set(present) or any(_is_image(p) for p in self.root.iterdir()):
            hint = (f" {self.root} holds pairs directly (no split folders): pass split=None "
                    "to use them.")
        raise self._missing(
            f"no split folder {self.split!r}: {split_dir} does not exist; {self.root} holds "
            f"{present or 'no folders'}.{hint}"
        )

    def _collect(self, mode: str) -> tuple[str, list[tuple[Path, Path | None]], list[Path]]:
        d = self.split_dir
        has_a, has_b = (d / "A").is_dir(), (d / "B").is_dir()
        if mode == "auto":
            if has_a != has_b:
                raise PairedDataError(
                    f"{d} has an {'A' if has_a else 'B'}/ folder but no "
                    f"{'B' if has_a else 'A'}/ folder: the folder layout needs both.\n"
                    + LAYOUT_HELP)
            if has_a and any(_is_image(p) for p in d.iterdir() if p.is_file()):
                raise PairedDataError(
                    f"{d} holds both A/ and B/ folders and image files at its top level: pass "
                    "mode='folders' or mode='ab' to say which layout it is.")
            mode = "folders" if has_a else "ab"
        if mode == "ab":
            images, others = _scan(d)
            if not images:
                raise self._missing(f"no images found in {d} (searched recursively).")
            return "ab", [(p, None) for p in images], others
        if not (has_a and has_b):
            raise self._missing(f"mode='folders' needs {d / 'A'} and {d / 'B'}; "
                                f"{'A/' if has_a else 'B/' if has_b else 'neither'} exists.")
        side_a, others_a = self._index(d / "A")
        side_b, others_b = self._index(d / "B")
        if not side_a and not side_b:
            raise self._missing(f"no images found in {d / 'A'} or {d / 'B'}.")
        only_a = sorted(set(side_a) - set(side_b))
        only_b = sorted(set(side_b) - set(side_a))
        if only_a or only_b:
            def few(names: list[str]) -> str:
                shown = ", ".join(names[:5]) or "none"
                return shown + (f" ... ({len(names)} in all)" if len(names) > 5 else "")

            raise PairedDataError(
                f"unpaired files in {d}: pairs are matched by file name without extension, and "
                f"{len(only_a)} name(s) in A/ have no partner in B/ ({few(only_a)}), "
                f"{len(only_b)} name(s) in B/ have no partner in A/ ({few(only_b)}). Rename or "
                "remove them so that every A/ file has a B/ file of the same name."
            )
        pairs = [(side_a[k], side_b[k]) for k in sorted(side_a)]
        return "folders", pairs, others_a + others_b

    @staticmethod
    def _index(folder: Path) -> tuple[dict[str, Path], list[Path]]:
        images, others = _scan(folder)
        keys: dict[str, Path] = {}
        for path in images:
            key = path.relative_to(folder).with_suffix("").as_posix()
            if key in keys:
                raise PairedDataError(
                    f"two files in {folder} share the name {key!r} ({keys[key].name} and "
                    f"{path.name}); pairs are matched by name without extension, so keep one."
                )
            keys[key] = path
        return keys, others

    # ---- reading

    def __len__(self) -> int:
        return len(self.pairs)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, "
                f"layout={self.layout!r}, pairs={len(self)}, direction={self.direction!r}, "
                f"crop_size={self.crop_size}, augment={self.augment})")

    def _open(self, path: Path, halves: int = 1) -> Any:
        """Decode ``path`` (``halves=2``: an AB file), reduced to no less than the size it is
        resized to next (not for a label side, whose values are class ids)."""
        if self.label_side is not None:
            return open_image(path)
        h, w = self.load_size if self.augment else self.crop_size
        return open_image(path, at_least=(w * halves, h))

    def _check_min_size(self, path: Path, height: int, width: int, what: str) -> None:
        ch, cw = self.crop_size
        if height < ch or width < cw:
            side = min(height, width)
            suggest = side // 32 * 32 if side >= 32 else side
            raise PairedDataError(
                f"{path}: {what} is {width}x{height} (width x height), smaller than crop_size "
                f"{cw}x{ch}. Pass a smaller crop_size and load_size (e.g. crop_size={suggest}, "
                f"load_size={round(suggest * 286 / 256)}) or use larger images; upscaling "
                "small images only blurs them."
            )

    def _read_sides(self, index: int) -> tuple[Any, Any, Path, Path]:
        """Decode pair ``index``: ``(input image, target image, input path, target path)``."""
        first, second = self.pairs[index]
        if second is None:  # AB file: split it into two square halves
            image = self._open(first, halves=2)
            width, height = image.info.get("original_size", image.size)
            if width != 2 * height:
                raise PairedDataError(
                    f"{first} is {width}x{height} (width x height): an AB image must be exactly "
                    f"twice as wide as it is high ({2 * height}x{height} here), the input and "
                    "the target side by side as two squares. If your halves are not square, "
                    "store the two sides as A/ and B/ folders instead.\n" + LAYOUT_HELP
                )
            self._check_min_size(first, height, height, "each half")
            width, height = image.size  # reduced by a factor that divides both sides
            a, b = image.crop((0, 0, height, height)), image.crop((height, 0, width, height))
            a_path = b_path = first
        else:
            a, b = self._open(first), self._open(second)
            size_a = a.info.get("original_size", a.size)
            size_b = b.info.get("original_size", b.size)
            if size_a != size_b:
                raise PairedDataError(
                    f"the pair {first.name} has different sizes: {first} is "
                    f"{size_a[0]}x{size_a[1]}, {second} is {size_b[0]}x{size_b[1]} (width x "
                    "height). A pair must be pixel-aligned: resize or crop both to one size."
                )
            self._check_min_size(first, size_a[1], size_a[0], "the image")
            a_path, b_path = first, second
        if self.direction == "BtoA":
            return b, a, b_path, a_path
        return a, b, a_path, b_path

    @staticmethod
    def _image_tensor(image: Any) -> torch.Tensor:
        """PIL image of any common mode -> ``(3, H, W)`` float in [-1, 1] (alpha dropped)."""
        if image.mode in ("I;16", "I;16L", "I;16B", "I"):
            values = np.asarray(image, dtype=np.float32)
            scale = 65535.0 if image.mode != "I" or values.max(initial=0) > 255 else 255.0
            gray = torch.from_numpy(np.clip(values / scale, 0.0, 1.0).copy())
            return gray.mul(2.0).sub(1.0).expand(3, -1, -1).contiguous()
        if image.mode == "P" and "transparency" in image.info:
            image = image.convert("RGBA")
        if image.mode != "RGB":
            image = image.convert("RGB")  # L/LA/P -> 3 equal channels; RGBA -> alpha dropped
        array = np.array(image, dtype=np.uint8)  # (H, W, 3), a writable copy
        return torch.from_numpy(array).permute(2, 0, 1).float().div(127.5).sub(1.0)

    def _label_tensor(self, image: Any, path: Path) -> torch.Tensor:
        """Single-channel label image -> ``(H, W)`` int64 class map, range-checked."""
        if image.mode not in _LABEL_MODES:
            raise PairedDataError(
                f"{path} is a {image.mode} image, but label_side={self.label_side!r} expects a "
                "single-channel class map (mode L, P or I;16: one integer class id per pixel). "
                "A colour-coded label image is an ordinary image: leave label_side=None."
            )
        labels = torch.from_numpy(np.array(image, dtype=np.int64))
        lo, hi = int(labels.min()), int(labels.max())
        assert self.num_classes is not None
        if lo < 0 or hi >= self.num_classes:
            bad = lo if lo < 0 else hi
            raise PairedDataError(
                f"{path} holds the label value {bad}, outside [0, {self.num_classes}) "
                f"(num_classes={self.num_classes}; the file's values span {lo}..{hi}). Pass the "
                "right num_classes, or remap the file's values to class ids 0..num_classes-1."
            )
        return labels

    def _convert(self, image: Any, path: Path, is_label: bool) -> torch.Tensor:
        return self._label_tensor(image, path) if is_label else self._image_tensor(image)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {self!r}")
        index %= len(self)
        inp, tgt, inp_path, tgt_path = self._read_sides(index)
        label_a, label_b = self.label_side == "A", self.label_side == "B"
        a = self._convert(inp, inp_path, label_a)  # (3, H, W) float or (H, W) int64
        b = self._convert(tgt, tgt_path, label_b)
        if self.augment:
            params = sample_jitter(self.load_size, self.crop_size, flip=self.flip)
            a = apply_jitter(a, params, self.load_size, self.crop_size, nearest=label_a)
            b = apply_jitter(b, params, self.load_size, self.crop_size, nearest=label_b)
        else:
            a = resize(a, self.crop_size, nearest=label_a)
            b = resize(b, self.crop_size, nearest=label_b)
        sample: dict[str, Any] = {"index": index, "path": str(inp_path)}
        if self.label_side is not None:
            assert self.num_classes is not None
            class_map = (a if label_a else b).contiguous()
            sample["class_map"] = class_map
            if label_a:
                a = colorize_labels(class_map, self.num_classes)
            else:
                b = colorize_labels(class_map, self.num_classes)
        sample["A"], sample["B"] = a.contiguous(), b.contiguous()
        return sample

    def verify(self, max_errors: int = 10) -> None:
        """Read every pair once (no augmentation) and raise one error listing the problems.

        Checks each file decodes, AB widths, pair sizes, the minimum size and label values,
        so a bad file shows up before training rather than in epoch 37.
        """
        problems: list[str] = []
        count = 0
        for index in range(len(self)):
            try:
                inp, tgt, inp_path, tgt_path = self._read_sides(index)
                self._convert(inp, inp_path, self.label_side == "A")
                self._convert(tgt, tgt_path, self.label_side == "B")
            except PairedDataError as err:
                count += 1
                if len(problems) < max_errors:
                    problems.append(str(err).split("\n", 1)[0])
        if count:
            more = f"\n... and {count - len(problems)} more" if count > len(problems) else ""
            raise PairedDataError(
                f"{count} of {len(self)} pairs in {self.split_dir} cannot be used:\n- "
                + "\n- ".join(problems) + more
            )
