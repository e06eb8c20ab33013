"""FCN-score: how well a segmenter trained on real photos parses generated ones.

pix2pix (Isola et al., CVPR 2017), Sec. 4.1 ("FCN-score") and the tables of Sec. 4: the
idea is that a segmentation network trained only on real photos should still parse a
generated photo correctly when the generated photo is realistic. The paper runs an FCN-8s
trained on Cityscapes photos over generated photos and reports per-pixel accuracy,
per-class accuracy and class IoU against the label map the photos were generated from, with
the same numbers on real photos as the upper bound.

The course does the same on its own datasets with its own network: :class:`Segmenter`, a
compact fully-convolutional U-Net (42k parameters at 64 px, one level deeper per doubling of
the size) that trains on the REAL target photos of a dataset's train split in about a minute
on a CPU at 64 px (:func:`train_segmenter`, class-balanced cross-entropy), and is cached per
dataset and resolution (:func:`load_or_train_segmenter`). :func:`fcn_score` applies it to
any images.

The numbers are comparable within the course (between generators, losses and ablations
scored by the same cached segmenter on the same dataset and resolution), NOT to the paper's
Tables 1-2: those come from a Cityscapes-trained FCN-8s on real Cityscapes/facades photos,
which the course does not download.

Scores are computed from one confusion matrix accumulated over all images, as in the FCN
evaluation (Long et al., CVPR 2015, Sec. 5): pixel accuracy ``sum_i n_ii / sum_i t_i``,
mean class accuracy ``mean_i n_ii / t_i`` and mean IoU ``mean_i n_ii / (t_i + sum_j n_ji -
n_ii)``, where ``n_ij`` counts pixels of true class ``i`` predicted as ``j`` and ``t_i`` the
pixels of class ``i``. Class accuracy averages over classes present in the ground truth; IoU
over classes present in the ground truth or the prediction.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from course_lib.progress import tqdm

from course_lib.metrics._checks import (
    check_class_maps,
    check_images,
    check_num_classes,
)
from course_lib.profiles import MAX_STEPS_VAR, cap_steps, max_steps

__all__ = [
    "SegmenterConfig",
    "default_widths",
    "default_batch_size",
    "Segmenter",
    "FCNScore",
    "train_segmenter",
    "segmentation_scores",
    "confusion_matrix",
    "fcn_score",
    "save_segmenter",
    "load_segmenter",
    "as_8bit",
    "default_cache_dir",
    "load_or_train_segmenter",
    "CACHE_ENV",
]

CACHE_ENV = "COURSE_CACHE"
CHECKPOINT_FORMAT = 1
DEFAULT_STEPS = 400
BATCH_PIXELS = 16 * 64 * 64  # pixels per training batch: 16 images at 64 px
DEFAULT_LR = 3e-3
DEFAULT_BALANCE = 0.5


# --------------------------------------------------------------------------- the network


WIDTHS = (12, 24, 32, 48, 64, 64)  # channels per level; the first k are used


def default_widths(height: int, width: int) -> tuple[int, ...]:
    """Channels per level for images of ``height x width``: one level more per doubling.

    3 levels (full, 1/2, 1/4) up to 64 px on the short side, 4 at 128 px, 5 at 256 px..., so
    that the receptive field keeps up with the size of facade parts.
    """
    levels = int(math.floor(math.log2(max(min(height, width), 16) / 16))) + 1
    return WIDTHS[:min(max(levels, 3), len(WIDTHS))]


@dataclass(frozen=True)
class SegmenterConfig:
    """Everything needed to rebuild a :class:`Segmenter` (saved beside its weights).

    Attributes:
        num_classes: classes of the dataset's class map.
        in_channels: image channels (3 for RGB photos).
        widths: channels per level, full resolution first; each further level halves the
            resolution. ``(12, 24, 32)`` (about 42k parameters) suits 64 px, see
            :func:`default_widths`.
    """

    num_classes: int
    in_channels: int = 3
    widths: tuple[int, ...] = (12, 24, 32)

    def __post_init__(self) -> None:
        check_num_classes(self.num_classes)
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.widths) < 2 or min(self.widths) < 1:
            raise ValueError(f"widths must be at least two positive ints, got {self.widths!r}")
        if isinstance(self.in_channels, bool) or not isinstance(self.in_channels, int) or \
                self.in_channels < 1:
            raise ValueError(f"in_channels must be a positive int, got {self.in_channels!r}")


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3x3 conv -> batch norm -> ReLU, padded to keep the size (divided by ``stride``)."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Segmenter(nn.Module):
    """A compact fully-convolutional U-Net that maps a photo to per-pixel class logits.

    Level 0 has two 3x3 convolutions at full resolution; each further level a stride-2 and
    a 3x3 convolution (dilated by 2 at the deepest level, for context); the decoder
    upsamples bilinearly, concatenates the skip of each level and applies one 3x3
    convolution; a 1x1 convolution gives the logits. With the default three levels the
    receptive field is about 40 px, enough to tell a window from a door by its surroundings
    at 64 px; skip connections keep the boundaries sharp. Any ``H, W`` works: inputs are
    reflect-padded to a multiple of ``2 ** (levels - 1)`` and the logits cropped back.

    Args:
        config: a :class:`SegmenterConfig`; or pass ``num_classes`` (and optionally
            ``in_channels``, ``widths``) as keywords.

    Shapes: ``forward`` takes (N, C_in, H, W) in [-1, 1] and returns (N, num_classes, H, W).
    """

    def __init__(self, config: SegmenterConfig | None = None, **kwargs: Any) -> None:
        super().__init__()
        if config is None:
            config = SegmenterConfig(**kwargs)
        elif kwargs:
            raise ValueError(f"pass either config or keywords, not both (got {sorted(kwargs)})")
        self.config = config
        w = config.widths
        deepest = len(w) - 1
        self.down = nn.ModuleList([nn.Sequential(_conv(config.in_channels, w[0]), _conv(w[0], w[0]))])
        for i in range(1, len(w)):  # level i: (N, w[i], H / 2^i, W / 2^i)
            self.down.append(nn.Sequential(_conv(w[i - 1], w[i], stride=2),
                                           _conv(w[i], w[i], dilation=2 if i == deepest else 1)))
        # up[i] merges the upsampled level i + 1 with the skip of level i: (N, w[i], ...)
        self.up = nn.ModuleList([_conv(w[i + 1] + w[i], w[i]) for i in range(deepest)])
        self.head = nn.Conv2d(w[0], config.num_classes, 1)
        self.train_info: dict[str, Any] = {}

    @property
    def num_classes(self) -> int:
        """Number of classes the segmenter predicts."""
        return self.config.num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel class logits (N, num_classes, H, W) of images (N, C_in, H, W)."""
        h, w = x.shape[-2:]
        multiple = 2 ** (len(self.down) - 1)
        ph, pw = (-h) % multiple, (-w) % multiple
        if ph or pw:
            mode = "reflect" if min(h, w) > max(ph, pw) else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        skips = []
        for stage in self.down:
            x = stage(x)
            skips.append(x)
        for i in reversed(range(len(self.up))):
            x = F.interpolate(x, size=skips[i].shape[-2:], mode="bilinear", align_corners=False)
            x = self.up[i](torch.cat([x, skips[i]], 1))
        return self.head(x)[..., :h, :w]

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """Class ids (N, H, W) int64 of images in [-1, 1], in eval mode (running BN stats)."""
        x = check_images(images, "images", channels=self.config.in_channels)
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        try:
            out = [self(x[i:i + batch_size].to(device)).argmax(1).cpu()
                   for i in range(0, x.shape[0], batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(out)


# --------------------------------------------------------------------------- scores


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int | None = None) -> torch.Tensor:
    """(num_classes, num_classes) int64 counts: row = true class, column = predicted class."""
    p, t = pred.reshape(-1), target.reshape(-1)
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    idx = t * num_classes + p
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def segmentation_scores(pred_logits_or_labels: torch.Tensor, class_maps: torch.Tensor,
                        num_classes: int, ignore_index: int | None = None) -> dict[str, Any]:
    """Pixel accuracy, mean class accuracy and mean IoU of a prediction (FCN-score numbers).

    Args:
        pred_logits_or_labels: float logits (N, num_classes, H, W) or (num_classes, H, W)
            (argmax over the class dim), or integer labels (N, H, W) or (H, W).
        class_maps: ground truth, int (N, H, W) or (H, W), values in [0, num_classes).
        num_classes: number of classes.
        ignore_index: a ground-truth value to leave out (e.g. a "void" class), or None.

    Returns:
        dict with ``pixel_acc``, ``class_acc``, ``class_iou`` (floats in [0, 1]),
        ``per_class_acc`` and ``per_class_iou`` (float tensors of length num_classes, NaN for a
        class that does not take part) and ``confusion`` (the matrix, rows = truth).
    """
    num_classes = check_num_classes(num_classes)
    pred = pred_logits_or_labels
    if not isinstance(pred, torch.Tensor):
        raise ValueError(f"pred_logits_or_labels must be a torch.Tensor, got {type(pred).__name__}")
    if pred.is_floating_point():
        if pred.dim() == 3:
            pred = pred[None]
        if pred.dim() != 4:
            raise ValueError(f"float pred_logits_or_labels must be logits (N, C, H, W), got "
                             f"shape {tuple(pred.shape)}")
        if pred.shape[1] != num_classes:
            raise ValueError(f"pred_logits_or_labels has {pred.shape[1]} class channels but "
                             f"num_classes={num_classes}")
        labels = pred.detach().argmax(1)
    else:
        labels = check_class_maps(pred, "pred_logits_or_labels", num_classes)
    target = check_class_maps(class_maps, "class_maps", num_classes, size=tuple(labels.shape[-2:]),
                              batch=labels.shape[0], ignore_index=ignore_index)
    cm = confusion_matrix(labels.cpu(), target.cpu(), num_classes, ignore_index).double()
    if cm.sum() == 0:
        raise ValueError("class_maps holds no pixels to score (all ignored?)")
    true = cm.sum(1)  # pixels of each true class
    predicted = cm.sum(0)
    hit = cm.diagonal()
    union = true + predicted - hit
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    per_acc = torch.where(true > 0, hit / true.clamp(min=1), nan)
    per_iou = torch.where(union > 0, hit / union.clamp(min=1), nan)
    return {
        "pixel_acc": float(hit.sum() / cm.sum()),
        "class_acc": float(per_acc.nanmean()),
        "class_iou": float(per_iou.nanmean()),
        "per_class_acc": per_acc.float(),
        "per_class_iou": per_iou.float(),
        "confusion": cm.long(),
    }


@dataclass(frozen=True)
class FCNScore:
    """The three FCN-score numbers of pix2pix Table 1 (course-internal scale, see module doc)."""

    pixel_acc: float
    class_acc: float
    class_iou: float
    per_class_iou: tuple[float, ...] = field(default=(), repr=False)

    def as_dict(self) -> dict[str, float]:
        """``{"pixel_acc": ..., "class_acc": ..., "class_iou": ...}``."""
        return {"pixel_acc": self.pixel_acc, "class_acc": self.class_acc,
                "class_iou": self.class_iou}

    def __str__(self) -> str:
        return (f"per-pixel acc {self.pixel_acc:.3f}, per-class acc {self.class_acc:.3f}, "
                f"class IoU {self.class_iou:.3f}")


def fcn_score(segmenter: Segmenter, images: torch.Tensor, class_maps: torch.Tensor,
              batch_size: int = 64, ignore_index: int | None = None) -> FCNScore:
    """Segment ``images`` (generated or real) and score them against ``class_maps``.

    Call it once on generated images and once on the real targets: the real score is the
    upper bound the generated one is read against (pix2pix Table 1, "Ground truth" row).

    Args:
        segmenter: a trained :class:`Segmenter` (see :func:`load_or_train_segmenter`).
        images: (N, 3, H, W) or (3, H, W) in [-1, 1].
        class_maps: int (N, H, W) or (H, W): the label maps the images should depict.
        batch_size: images per forward pass.
        ignore_index: a ground-truth value to leave out, or None.
    """
    if not isinstance(segmenter, Segmenter):
        raise ValueError(f"segmenter must be a Segmenter, got {type(segmenter).__name__}")
    x = check_images(images, "images", channels=segmenter.config.in_channels)
    check_class_maps(class_maps, "class_maps", segmenter.num_classes, size=tuple(x.shape[-2:]),
                     batch=x.shape[0], ignore_index=ignore_index)
    s = segmentation_scores(segmenter.predict(x, batch_size), class_maps,
                            segmenter.num_classes, ignore_index)
    return FCNScore(s["pixel_acc"], s["class_acc"], s["class_iou"],
                    tuple(s["per_class_iou"].tolist()))


# --------------------------------------------------------------------------- training


def default_batch_size(height: int, width: int) -> int:
    """Images per training step: 16 at 64 px, then fewer (at least 4) to keep the pixel count."""
    return max(4, min(16, round(BATCH_PIXELS / (height * width))))


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def train_segmenter(images: torch.Tensor, class_maps: torch.Tensor, num_classes: int,
                    steps: int = DEFAULT_STEPS, batch_size: int | None = None,
                    seed: int = 0, progress: bool = True, lr: float = DEFAULT_LR,
                    config: SegmenterConfig | None = None,
                    device: str | torch.device | None = None,
                    balance: float = DEFAULT_BALANCE) -> Segmenter:
    """Train a :class:`Segmenter` on REAL photos and their class maps (a dataset's train split).

    Adam with a cosine learning-rate decay on per-pixel cross-entropy, random mini-batches
    with horizontal flips. Deterministic given ``seed`` on one device; the global random
    state is left untouched.

    Args:
        images: real target photos (N, 3, H, W) in [-1, 1].
        class_maps: their class maps, int (N, H, W), values in [0, num_classes).
        num_classes: classes of the dataset.
        steps: optimiser steps (400 at batch 16 is about a minute on a CPU at 64 px).
        batch_size: images per step; None for :func:`default_batch_size` (16 at 64 px).
        seed: seeds the initial weights and the batch order.
        progress: show a tqdm progress bar.
        lr: Adam's initial learning rate.
        config: the architecture; defaults to ``SegmenterConfig(num_classes)`` with
            :func:`default_widths` for the image size.
        device: where to train; defaults to the images' device.
        balance: class weighting of the cross-entropy, ``w_c ~ freq_c ** -balance``
            normalised so that the average pixel weight is 1 (0 = plain cross-entropy,
            0.5 = inverse square root of the class frequency). Rare, thin classes (sills,
            mouldings) are then learned too, which the per-class scores need.

    Returns:
        the trained segmenter in eval mode; ``segmenter.train_info`` records the steps, the
        seconds taken and the last loss.
    """
    num_classes = check_num_classes(num_classes)
    steps = _check_positive_int(steps, "steps")
    if batch_size is None:
        batch_size = default_batch_size(*images.shape[-2:])
    batch_size = _check_positive_int(batch_size, "batch_size")
    if config is None:
        config = SegmenterConfig(num_classes=num_classes,
                                 widths=default_widths(*images.shape[-2:]))
    elif config.num_classes != num_classes:
        raise ValueError(f"config.num_classes={config.num_classes} but num_classes={num_classes}")
    x = check_images(images, "images", channels=config.in_channels)
    y = check_class_maps(class_maps, "class_maps", num_classes, size=tuple(x.shape[-2:]),
                         batch=x.shape[0])
    device = torch.device(device) if device is not None else images.device
    x, y = x.to(device), y.to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Segmenter(config).to(device)
    if isinstance(balance, bool) or not isinstance(balance, (int, float)) or \
            not 0 <= balance <= 1:
        raise ValueError(f"balance must be a number in [0, 1], got {balance!r}")
    freq = torch.bincount(y.flatten().cpu(), minlength=num_classes).double() / y.numel()
    weights = torch.where(freq > 0, freq.clamp(min=1e-12) ** -balance, 0.0)
    weights = (weights / (freq * weights).sum()).float().to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * i / steps)))
    model.train()
    start = time.perf_counter()
    loss_value = float("nan")
    cap = max_steps()
    desc = "training segmenter" + (f" [{MAX_STEPS_VAR}={cap}]" if cap is not None else "")
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        idx = torch.randint(0, x.shape[0], (min(batch_size, x.shape[0]),), generator=gen)
        xb, yb = x[idx.to(device)], y[idx.to(device)]
        if torch.rand((), generator=gen).item() < 0.5:
            xb, yb = xb.flip(-1), yb.flip(-1)
        loss = F.cross_entropy(model(xb), yb, weight=weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_value = loss.item()
        bar.set_postfix(loss=f"{loss_value:.3f}", refresh=False)
    bar.close()
    model.eval()
    model.train_info = {"steps": steps, "batch_size": batch_size, "seed": seed, "lr": lr,
                        "balance": balance,
                        "seconds": time.perf_counter() - start, "final_loss": loss_value}
    return model


# --------------------------------------------------------------------------- checkpoints


def _strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the ``module.`` (DDP) and ``_orig_mod.`` (torch.compile) key prefixes."""
    out = {}
    for k, v in state.items():
        while k.startswith(("module.", "_orig_mod.")):
            k = k.split(".", 1)[1]
        out[k] = v
    return out


def save_segmenter(segmenter: Segmenter, path: str | os.PathLike, **meta: Any) -> Path:
    """Write the plain state dict, its :class:`SegmenterConfig` and ``meta`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = asdict(segmenter.config)
    cfg["widths"] = list(cfg["widths"])
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": cfg,
        "state_dict": _strip_prefixes({k: v.detach().cpu()
                                       for k, v in segmenter.state_dict().items()}),
        "train_info": dict(segmenter.train_info),
        "meta": meta,
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _read_checkpoint(path: Path) -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated or foreign file: say which one
        raise ValueError(f"cannot read segmenter checkpoint {path}: {err}; delete it to "
                         f"retrain") from err
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT or \
            "config" not in payload or "state_dict" not in payload:
        raise ValueError(f"{path} is not a course segmenter checkpoint (format "
                         f"{CHECKPOINT_FORMAT}); delete it to retrain")
    return payload


def load_segmenter(path: str | os.PathLike) -> Segmenter:
    """Rebuild a :class:`Segmenter` saved by :func:`save_segmenter` (in eval mode).

    Also accepts state dicts whose keys carry ``module.`` or ``_orig_mod.`` prefixes.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no segmenter checkpoint at {path}")
    payload = _read_checkpoint(path)
    cfg = dict(payload["config"])
    cfg["widths"] = tuple(cfg["widths"])
    model = Segmenter(SegmenterConfig(**cfg))
    try:
        model.load_state_dict(_strip_prefixes(payload["state_dict"]))
    except RuntimeError as err:
        raise ValueError(f"the weights in {path} do not fit its config {cfg}: {err}") from err
    model.train_info = dict(payload.get("train_info", {}))
    model.eval()
    return model


def default_cache_dir() -> Path:
    """Where trained segmenters are cached.

    ``$COURSE_CACHE/segmenters`` when the ``COURSE_CACHE`` environment variable is set; else
    ``data/cache/segmenters`` in the repository when the package runs from a writable
    checkout; else ``~/.cache/course_lib/segmenters``.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser() / "segmenters"
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and (repo / "course_lib").is_dir():
        target = repo / "data" / "cache" / "segmenters"
        try:
            target.mkdir(parents=True, exist_ok=True)
            if os.access(target, os.W_OK):
                return target
        except OSError:
            pass
    return Path.home() / ".cache" / "course_lib" / "segmenters"


def _fingerprint(images: torch.Tensor, class_maps: torch.Tensor) -> str:
    """A hash of the training data, so that a changed dataset retrains its segmenter."""
    h = hashlib.blake2b(digest_size=16)
    for t in (images.float(), class_maps.long()):
        t = t.detach().cpu().contiguous()
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def as_8bit(images: torch.Tensor) -> torch.Tensor:
    """``images`` in [-1, 1] rounded to the 256 levels of an 8-bit file, as float32.

    The same values that :class:`~course_lib.data.InMemoryPairs` returns for its 8-bit store
    (``uint8 / 127.5 - 1``), so float images rendered on the fly and the cached 8-bit copies
    of one dataset become bit-identical: one fingerprint, one cached segmenter.
    """
    q = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round()
    return q / 127.5 - 1.0


def load_or_train_segmenter(dataset_name: str, image_size: int | tuple[int, int],
                            images: torch.Tensor, class_maps: torch.Tensor, num_classes: int,
                            cache_dir: str | os.PathLike | None = None,
                            steps: int = DEFAULT_STEPS, batch_size: int | None = None,
                            seed: int = 0, progress: bool = True) -> Segmenter:
    """The dataset's segmenter from the cache, or train it on ``images`` and cache it.

    The cache file is ``<cache_dir>/<dataset_name>_<H>x<W>_k<num_classes>_seed<seed>.pt``
    (``cache_dir`` defaults to :func:`default_cache_dir`). It is reused only when it was
    trained with the same settings on the same data (a hash of ``images`` and
    ``class_maps``); otherwise, or when the file is unreadable, the segmenter is retrained
    and the file replaced.

    The images are first rounded to 8 bits (:func:`as_8bit`), the precision of the real
    datasets' files: a notebook that renders float photos on the fly and one that feeds
    :class:`~course_lib.data.InMemoryPairs`' 8-bit copies of the same photos train on the same
    data, get the same fingerprint and share one cached network.

    Args:
        dataset_name: e.g. ``"facades"``; letters, digits, ``-`` and ``_``.
        image_size: side (int) or ``(H, W)``; must match the images.
        images, class_maps, num_classes, steps, batch_size, seed, progress: as in
            :func:`train_segmenter`.
        cache_dir: folder for the cache file.
    """
    if not isinstance(dataset_name, str) or not re.fullmatch(r"[A-Za-z0-9_\-]+", dataset_name):
        raise ValueError(f"dataset_name must be a non-empty name of letters, digits, '-' or "
                         f"'_', got {dataset_name!r}")
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        size = (image_size, image_size)
    elif isinstance(image_size, (tuple, list)) and len(image_size) == 2:
        size = (int(image_size[0]), int(image_size[1]))
    else:
        raise ValueError(f"image_size must be an int or (H, W), got {image_size!r}")
    num_classes = check_num_classes(num_classes)
    x = as_8bit(check_images(images, "images"))
    if tuple(x.shape[-2:]) != size:
        raise ValueError(f"image_size={image_size!r} but the images are "
                         f"{tuple(x.shape[-2:])} (H, W)")
    y = check_class_maps(class_maps, "class_maps", num_classes, size=size, batch=x.shape[0])
    if batch_size is None:
        batch_size = default_batch_size(*size)
    # $COURSE_MAX_STEPS (dry runs) caps the training too; the cache records the steps taken,
    # so a capped segmenter is never reused by a full run.
    steps = cap_steps(_check_positive_int(steps, "steps"))
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / f"{dataset_name}_{size[0]}x{size[1]}_k{num_classes}_seed{seed}.pt"
    wanted = {"dataset_name": dataset_name, "image_size": list(size), "steps": steps,
              "batch_size": batch_size, "seed": seed, "fingerprint": _fingerprint(x, y)}
    if path.is_file():
        try:
            payload = _read_checkpoint(path)
            if payload.get("meta") == wanted and payload["config"]["num_classes"] == num_classes:
                return load_segmenter(path)
        except ValueError as err:
            warnings.warn(f"{err}; retraining", stacklevel=2)
    model = train_segmenter(x, y, num_classes, steps=steps, batch_size=batch_size, seed=seed,
                            progress=progress)
    try:
        save_segmenter(model, path, **wanted)
    except OSError as err:
        warnings.warn(f"could not cache the segmenter at {path}: {err}; set {CACHE_ENV} to a "
                      f"writable folder", stacklevel=2)
    return model
