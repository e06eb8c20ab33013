"""From ``--data NAME_OR_PATH`` to training and validation sets: one rule for every command.

The command line accepts three kinds of data, resolved in this order:

1. **a folder** (any path that exists): the user's own pairs, in the pix2pix AB format or as
   ``A/`` and ``B/`` folders (:class:`~course_lib.data.paired.PairedImageDataset`); with
   ``train/`` and ``val/`` (or ``test/``) sub-folders when it has them;
2. **a downloaded pix2pix dataset**, ``DATA_ROOT/NAME`` complete on disk
   (``python -m course_lib download NAME``), read with the paper's direction for its task
   (e.g. facades labels -> photo is ``BtoA``) and its jitter (resize to 286, crop 256, flip;
   Isola et al. 2017, Sec. 6.2);
3. **a procedural dataset**, ``facades``, ``shapes`` or ``streets`` (offline, generated from a
   seed, with class maps for the FCN-score); ``synthetic:facades`` forces this choice even when
   the real facades are downloaded.

:func:`resolve_data` returns a :class:`DataChoice` whose ``spec`` (plain JSON) rebuilds the
same data later (:func:`data_from_spec`), which is how ``evaluate`` finds a run's validation set.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from course_lib.data.cache import InMemoryPairs
from course_lib.data.facades import SyntheticFacades
from course_lib.data.paired import PairedImageDataset
from course_lib.data.shapes import SyntheticShapes
from course_lib.data.streets import SyntheticStreets

__all__ = ["PROCEDURAL", "DataChoice", "resolve_data", "data_from_spec", "load_size_for"]

PROCEDURAL: dict[str, type] = {"facades": SyntheticFacades, "shapes": SyntheticShapes,
                               "streets": SyntheticStreets}
_FORCE_PREFIX = "synthetic:"


@dataclass
class DataChoice:
    """The data a command will use.

    Attributes:
        kind: ``"procedural"``, ``"downloaded"`` or ``"folder"``.
        label: one line for people, e.g. ``"procedural facades, 64x64, 400 train / 64 val"``.
        spec: JSON-able description that :func:`data_from_spec` turns back into this data.
        train: the training pairs (items with ``"A"`` and ``"B"``).
        val: the validation pairs (no augmentation), or ``None``.
        size: ``(height, width)`` of the pairs.
        num_classes: classes of ``"class_map"`` when the items carry one (FCN-score), else None.
        dataset_name: name for the FCN-score segmenter's cache (procedural data only).
    """

    kind: str
    label: str
    spec: dict[str, Any]
    train: Dataset
    val: Dataset | None
    size: tuple[int, int]
    num_classes: int | None = None
    dataset_name: str | None = None
    notes: list[str] = field(default_factory=list)


def load_size_for(crop: int) -> int:
    """The resize before the random crop: 286 for 256 (pix2pix Sec. 6.2), in proportion."""
    return int(round(crop * 286 / 256))


def _procedural(name: str, image_size: int, train_size: int, eval_size: int, seed: int,
                progress: bool) -> DataChoice:
    cls = PROCEDURAL[name]
    train = InMemoryPairs(cls(image_size=image_size, split="train", seed=seed,
                              length=train_size), progress=progress)
    val = InMemoryPairs(cls(image_size=image_size, split="val", seed=seed, length=eval_size),
                        progress=progress)
    h, w = train[0]["A"].shape[-2:]
    return DataChoice(
        kind="procedural", train=train, val=val, size=(int(h), int(w)),
        label=f"procedural {name}, {h}x{w} (HxW), {train_size} train / {eval_size} val pairs",
        spec={"kind": "procedural", "name": name, "image_size": image_size,
              "train_size": train_size, "eval_size": eval_size, "seed": seed},
        num_classes=cls.num_classes, dataset_name=name)


def _split_dirs(root: Path) -> tuple[str | None, str | None]:
    """``(train split, val split)`` of a folder: ``train`` and ``val`` (else ``test``) when they
    exist; ``(None, None)`` when the pairs sit in the folder itself."""
    if (root / "train").is_dir():
        val = next((s for s in ("val", "test") if (root / s).is_dir()), None)
        return "train", val
    return None, None


def _folder(root: Path, kind: str, label: str, image_size: int, direction: str,
            load_size: int | None, eval_size: int | None, extra: dict[str, Any]) -> DataChoice:
    train_split, val_split = _split_dirs(root)
    load = load_size or load_size_for(image_size)
    train = PairedImageDataset(root, split=train_split, direction=direction, load_size=load,
                               crop_size=image_size, augment=True)
    val = None
    notes: list[str] = []
    if val_split is not None:
        val = PairedImageDataset(root, split=val_split, direction=direction,
                                 load_size=image_size, crop_size=image_size, augment=False)
    else:
        notes.append(f"{root} has no val/ or test/ folder: samples and metrics use training "
                     "pairs without augmentation (they measure fit, not generalisation)")
        val = PairedImageDataset(root, split=train_split, direction=direction,
                                 load_size=image_size, crop_size=image_size, augment=False)
    n_val = len(val) if eval_size is None else min(eval_size, len(val))
    return DataChoice(
        kind=kind, train=train, val=val, size=(image_size, image_size), notes=notes,
        label=(f"{label} ({train.layout} layout, {direction}), {len(train)} train pairs"
               f"{f', {n_val} {val_split} pairs' if val_split else ''}, jitter {load} -> "
               f"{image_size} px"),
        spec={"kind": kind, "root": str(root), "direction": direction, "image_size": image_size,
              "load_size": load, "train_split": train_split, "val_split": val_split,
              "eval_size": eval_size, **extra})


def resolve_data(data: str, *, image_size: int = 256, direction: str | None = None,
                 load_size: int | None = None, train_size: int = 400, eval_size: int | None = 100,
                 root: str | os.PathLike[str] = "data", seed: int = 0,
                 progress: bool = True) -> DataChoice:
    """Turn ``--data`` into a :class:`DataChoice` (rules in the module docstring).

    Args:
        data: a folder, a downloaded dataset's name, ``facades`` / ``shapes`` / ``streets``,
            or ``synthetic:NAME``.
        image_size: side of the training crops (height for the 2:1 streets).
        direction: ``"AtoB"`` or ``"BtoA"`` for folders (default ``AtoB``) and downloads
            (default: the paper's direction for the dataset).
        load_size: resize before the random crop (default ``image_size * 286 / 256``).
        train_size, eval_size: pairs generated for procedural data; ``eval_size`` also caps
            the validation pairs used from folders (``None``: all).
        root: where downloads live (``python -m course_lib download --root``).
        seed: seed of the procedural datasets.
        progress: progress bars while rendering procedural data.

    Raises:
        ValueError: the name is none of the above (the message lists what is accepted).
    """
    from course_lib.data import download as dl

    if not isinstance(data, str) or not data.strip():
        raise ValueError("--data is empty: pass a folder, a dataset name (facades, shapes, "
                         "streets) or a downloaded pix2pix dataset")
    text = data.strip()
    if text.startswith(_FORCE_PREFIX):
        name = text[len(_FORCE_PREFIX):]
        if name not in PROCEDURAL:
            raise ValueError(f"{text!r}: the procedural datasets are "
                             f"{', '.join(_FORCE_PREFIX + n for n in PROCEDURAL)}")
        return _procedural(name, image_size, train_size, eval_size or 100, seed, progress)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"--data {text}: is a file; pass the folder that holds the pairs")
        return _folder(path, "folder", f"folder {path}", image_size, direction or "AtoB",
                       load_size, eval_size, {})
    if text in dl.DATASETS and dl.is_complete(text, root):
        info = dl.DATASETS[text]
        return _folder(dl.dataset_dir(text, root), "downloaded", f"{text} ({info.task})",
                       image_size, direction or info.direction, load_size, eval_size,
                       {"name": text})
    if text in PROCEDURAL:
        choice = _procedural(text, image_size, train_size, eval_size or 100, seed, progress)
        if text in dl.DATASETS:
            choice.notes.append(f"'{text}' is the procedural dataset because {Path(root) / text} "
                                f"is not downloaded; after `python -m course_lib download {text}` "
                                f"the same name trains on the real one (synthetic:{text} keeps "
                                "this one)")
        return choice
    if text in dl.DATASETS:
        raise ValueError(f"--data {text}: the pix2pix dataset {text!r} is not in {root}/ yet. "
                         f"Download it with `python -m course_lib download {text}` "
                         f"({dl.DATASETS[text].size_text}), or pass --data-root where it is")
    raise ValueError(
        f"--data {text!r} is not a folder ({path.resolve()} does not exist), not a downloaded "
        f"dataset and not a procedural one. Use a folder of pairs, one of "
        f"{', '.join(PROCEDURAL)} (offline), or download one of {', '.join(dl.DATASETS)}")


def data_from_spec(spec: dict[str, Any], progress: bool = True) -> DataChoice:
    """Rebuild the data of a :class:`DataChoice` from its ``spec`` (as stored in a run's
    ``config.json``)."""
    kind = spec.get("kind")
    if kind == "procedural":
        return _procedural(spec["name"], int(spec["image_size"]), int(spec["train_size"]),
                           int(spec["eval_size"]), int(spec.get("seed", 0)), progress)
    if kind in ("folder", "downloaded"):
        root = Path(spec["root"])
        if not root.is_dir():
            raise ValueError(f"the run's data folder {root} does not exist any more; pass "
                             "--data with its new location")
        label = f"folder {root}" if kind == "folder" else str(spec.get("name", root.name))
        return _folder(root, kind, label, int(spec["image_size"]), spec["direction"],
                       spec.get("load_size"), spec.get("eval_size"),
                       {"name": spec["name"]} if "name" in spec else {})
    raise ValueError(f"unknown data spec {spec!r}: it was not written by course_lib")
