"""Diversity of outputs for one input, and coverage of the modes of a multimodal target.

BicycleGAN (Zhu et al., NeurIPS 2017), Sec. 4 (quantitative evaluation): a conditional
generator with noise should produce *different* plausible outputs for the same input, yet
pix2pix+noise learns to ignore its noise (Isola et al., CVPR 2017, Sec. 3.1). BicycleGAN
measures diversity as the average distance between pairs of outputs for the same input under
different random z (LPIPS in the paper) and realism separately.

The course's two measures, defined on its own data:

* :func:`diversity`: mean pairwise distance between the S outputs of each input, averaged
  over inputs; L1 in pixel space ([-1, 1] units) works offline, LPIPS when its ImageNet
  weights can be loaded (see :mod:`course_lib.metrics.perceptual`). A generator that
  ignores z scores 0. Values are comparable within the course, not to BicycleGAN's table.
* :func:`mode_coverage`: on the shapes dataset every output can be classified into one of K
  fill modes (or none). Coverage counts how many of the K modes appear, overall and per
  input, and how often an output is a valid mode at all (diversity without realism, e.g.
  noise, scores high on :func:`diversity` but low on ``valid_rate``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from course_lib.metrics._checks import check_images

__all__ = ["pairwise_distances", "diversity", "ModeCoverage", "mode_coverage", "predict_modes"]

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of each pair of images: (P, C, H, W) x2 -> (P,)."""
    return (x - y).abs().flatten(1).mean(1)


def _resolve_distance(distance: str | Distance) -> Distance:
    if callable(distance):
        return distance
    if distance == "l1":
        return _l1
    if distance == "lpips":
        from course_lib.metrics.perceptual import load_lpips

        return load_lpips()
    raise ValueError(f"distance must be 'l1', 'lpips' or a callable, got {distance!r}")


def _check_samples(samples: Any) -> torch.Tensor:
    if not isinstance(samples, torch.Tensor) or samples.dim() != 5:
        shape = tuple(samples.shape) if isinstance(samples, torch.Tensor) else \
            type(samples).__name__
        raise ValueError(f"samples must be a tensor (N inputs, S samples, C, H, W), got {shape}; "
                         f"for one input use samples[None]")
    if samples.shape[1] < 2:
        raise ValueError(f"samples needs at least 2 outputs per input to measure diversity, "
                         f"got S={samples.shape[1]} (shape {tuple(samples.shape)})")
    x = check_images(samples.flatten(0, 1), "samples", channels=None)
    return x.reshape(samples.shape)


def pairwise_distances(samples: torch.Tensor, distance: str | Distance = "l1") -> torch.Tensor:
    """Distance of every unordered pair of outputs of each input: (N, S (S - 1) / 2).

    Args:
        samples: (N, S, C, H, W) in [-1, 1]: S outputs (different z) for each of N inputs.
        distance: ``"l1"`` (mean absolute pixel difference), ``"lpips"``, or a callable
            ``d(x, y) -> (P,)`` on two (P, C, H, W) batches.
    """
    x = _check_samples(samples)
    d = _resolve_distance(distance)
    n, s = x.shape[:2]
    i, j = torch.triu_indices(s, s, offset=1)
    a = x[:, i].flatten(0, 1)  # (N * pairs, C, H, W)
    b = x[:, j].flatten(0, 1)
    out = torch.as_tensor(d(a, b)).reshape(-1)
    if out.numel() != a.shape[0]:
        raise ValueError(f"the distance returned {out.numel()} values for {a.shape[0]} pairs; "
                         f"it must return one distance per pair")
    return out.reshape(n, i.numel())


def diversity(samples: torch.Tensor, distance: str | Distance = "l1") -> float:
    """Mean pairwise distance between outputs for the same input (0 = z is ignored).

    Args:
        samples: (N, S, C, H, W) in [-1, 1], S >= 2 outputs for each of N inputs.
        distance: ``"l1"``, ``"lpips"`` (raises MetricUnavailable offline) or a callable.
    """
    return float(pairwise_distances(samples, distance).mean())


@dataclass(frozen=True)
class ModeCoverage:
    """How many of the K modes the outputs reach.

    Attributes:
        covered: number of distinct modes among the valid outputs.
        fraction: ``covered / num_modes``.
        valid_rate: fraction of outputs that are a valid mode at all.
        histogram: (num_modes,) int64 count of valid outputs per mode.
        per_input_fraction: for ids shaped (N inputs, S samples), the mean over inputs of the
            fraction of modes reached by that input's S samples (a generator that ignores z
            gets 1/K however the inputs differ); None for 1-D ids.
    """

    covered: int
    fraction: float
    valid_rate: float
    histogram: torch.Tensor
    per_input_fraction: float | None = None

    def __str__(self) -> str:
        k = self.histogram.numel()
        text = (f"{self.covered}/{k} modes covered ({self.fraction:.0%}), "
                f"{self.valid_rate:.0%} of outputs valid")
        if self.per_input_fraction is not None:
            text += f", {self.per_input_fraction:.0%} of modes per input"
        return text


def mode_coverage(mode_ids: torch.Tensor | Sequence[int], num_modes: int,
                  valid: torch.Tensor | Sequence[bool] | None = None) -> ModeCoverage:
    """Mode coverage from the predicted mode id of each output.

    Args:
        mode_ids: int ids in [0, num_modes), or -1 (any negative) for an output that is no
            mode; shape (M,) for M outputs, or (N, S) for S samples of each of N inputs.
            Get them from the dataset's classifier, e.g. with :func:`predict_modes`.
        num_modes: K.
        valid: optional bool mask of the same shape; False marks an output as invalid
            whatever its id.
    """
    if isinstance(num_modes, bool) or not isinstance(num_modes, int) or num_modes < 1:
        raise ValueError(f"num_modes must be a positive int, got {num_modes!r}")
    ids = torch.as_tensor(mode_ids)
    if ids.is_floating_point() or ids.dtype == torch.bool:
        raise ValueError(f"mode_ids must be integers, got dtype {ids.dtype}")
    if ids.dim() not in (1, 2) or ids.numel() == 0:
        raise ValueError(f"mode_ids must be a non-empty (M,) or (N, S) tensor, got shape "
                         f"{tuple(ids.shape)}")
    ids = ids.long().cpu()
    if ids.max().item() >= num_modes:
        raise ValueError(f"mode_ids contains {ids.max().item()}, outside [0, {num_modes}) for "
                         f"num_modes={num_modes}")
    ok = ids >= 0
    if valid is not None:
        v = torch.as_tensor(valid)
        if v.dtype != torch.bool or v.shape != ids.shape:
            raise ValueError(f"valid must be a bool tensor of shape {tuple(ids.shape)}, got "
                             f"{v.dtype} {tuple(v.shape)}")
        ok &= v.cpu()
    hist = torch.bincount(ids[ok], minlength=num_modes)
    covered = int((hist > 0).sum())
    per_input = None
    if ids.dim() == 2:
        reached = torch.zeros(ids.shape[0], num_modes, dtype=torch.bool)
        rows = torch.arange(ids.shape[0])[:, None].expand_as(ids)
        reached[rows[ok], ids[ok]] = True
        per_input = float(reached.float().sum(1).mean() / num_modes)
    return ModeCoverage(covered=covered, fraction=covered / num_modes,
                        valid_rate=float(ok.float().mean()), histogram=hist,
                        per_input_fraction=per_input)


@torch.no_grad()
def predict_modes(classifier: Callable[..., Any], images: torch.Tensor, *args: Any,
                  **kwargs: Any) -> torch.Tensor:
    """Run a mode classifier on images and check its answer: int64 (N,) ids (-1 = none).

    ``classifier(images, *args, **kwargs)`` may return ids (N,) or logits (N, K) (argmax is
    taken). Images may be (N, 3, H, W) or (N, S, 3, H, W); for the latter the ids come back
    as (N, S) and ``args`` tensors with a leading (N, ...) dim (such as the class maps) are
    repeated S times.
    """
    if not callable(classifier):
        raise ValueError(f"classifier must be callable, got {type(classifier).__name__}")
    if not isinstance(images, torch.Tensor) or images.dim() not in (4, 5):
        raise ValueError("images must be a tensor (N, C, H, W) or (N, S, C, H, W)")
    lead = images.shape[:-3]
    flat = images.reshape(-1, *images.shape[-3:])
    if images.dim() == 5:
        s = images.shape[1]
        args = tuple(a.repeat_interleave(s, 0) if isinstance(a, torch.Tensor) and a.dim() >= 1
                     and a.shape[0] == images.shape[0] else a for a in args)
    out = torch.as_tensor(classifier(flat, *args, **kwargs))
    if out.is_floating_point() and out.dim() == 2:
        out = out.argmax(1)
    if out.is_floating_point() or out.shape != (flat.shape[0],):
        raise ValueError(f"the classifier must return one integer id (or a row of logits) per "
                         f"image; got dtype {out.dtype} shape {tuple(out.shape)} for "
                         f"{flat.shape[0]} images")
    return out.long().reshape(lead)
