"""Optional perceptual metrics that need pretrained weights: LPIPS and FID.

BicycleGAN (Zhu et al., NeurIPS 2017), Sec. 4, measures diversity as the
average LPIPS distance (Zhang et al., CVPR 2018) between outputs for the same input;
pix2pixHD (Wang et al., CVPR 2018) and later work report FID (Heusel et al., NeurIPS 2017).
Both rest on ImageNet-trained networks (AlexNet/VGG for LPIPS, Inception-v3 for FID) whose
weights are downloaded on first use. The course runs offline, so these are optional: the
loaders below return a working metric when the weights are available (internet, or the files
already in the torch hub cache) and otherwise raise :class:`MetricUnavailable` with a
message that says what is missing, instead of a download stack trace. The notebooks rely on
the offline metrics (FCN-score, sharpness, colour, L1 diversity, mode coverage).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.metrics._checks import check_images, check_same_shape, to_unit

__all__ = ["MetricUnavailable", "load_lpips", "lpips_available", "load_fid",
           "frechet_inception_distance"]

LPIPS_NETS = ("alex", "vgg", "squeeze")


class MetricUnavailable(RuntimeError):
    """A metric whose pretrained weights or package cannot be loaded here."""


def _lpips_message(cause: BaseException) -> str:
    return ("LPIPS is unavailable: its ImageNet weights could not be loaded (no internet?). "
            "It needs torchvision's pretrained backbone in the torch hub cache "
            f"({torch.hub.get_dir()}/checkpoints); run once with internet access, or copy the "
            "weight file there. The course's offline metrics (FCN-score, sharpness, colour, "
            f"L1 diversity, mode coverage) do not need it. Cause: {type(cause).__name__}: {cause}")


def _build_lpips(net_type: str) -> torch.nn.Module:
    """torchmetrics' LPIPS module (downloads the backbone weights if they are not cached)."""
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

    return LearnedPerceptualImagePatchSimilarity(net_type=net_type, normalize=False)


def load_lpips(net_type: str = "alex",
               device: str | torch.device = "cpu") -> Callable[[torch.Tensor, torch.Tensor],
                                                               torch.Tensor]:
    """An LPIPS distance ``d(x, y) -> (N,)`` for images in [-1, 1], or MetricUnavailable.

    Args:
        net_type: backbone, ``"alex"`` (BicycleGAN's choice), ``"vgg"`` or ``"squeeze"``.
        device: where to run it.

    Raises:
        MetricUnavailable: the pretrained weights (or torchmetrics) could not be loaded.
    """
    if net_type not in LPIPS_NETS:
        raise ValueError(f"net_type must be one of {LPIPS_NETS}, got {net_type!r}")
    try:
        metric = _build_lpips(net_type).to(device).eval()
    except Exception as err:  # no internet, no cache, no torchmetrics: one clear message
        raise MetricUnavailable(_lpips_message(err)) from err
    net = getattr(metric, "net", None)

    @torch.no_grad()
    def distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        a = check_images(x, "x")
        b = check_images(y, "y")
        check_same_shape(a, b, "x", "y")
        a, b = a.to(device), b.to(device)
        if net is not None:
            return net(a, b).reshape(-1).cpu()
        out = []
        for i in range(a.shape[0]):  # fallback: the public API, one pair at a time
            metric.reset()
            metric.update(a[i:i + 1], b[i:i + 1])
            out.append(metric.compute().reshape(()))
        return torch.stack(out).cpu()

    return distance


def lpips_available(net_type: str = "alex") -> tuple[bool, str]:
    """``(True, "")`` when LPIPS loads here, else ``(False, the reason)``."""
    try:
        load_lpips(net_type)
    except MetricUnavailable as err:
        return False, str(err)
    return True, ""


def _build_fid(feature: int) -> torch.nn.Module:
    from torchmetrics.image.fid import FrechetInceptionDistance

    return FrechetInceptionDistance(feature=feature, normalize=True)


def load_fid(feature: int = 2048) -> torch.nn.Module:
    """torchmetrics' FrechetInceptionDistance (``normalize=True``: [0, 1] float inputs).

    Raises:
        MetricUnavailable: torch-fidelity or the Inception weights could not be loaded.
    """
    try:
        return _build_fid(feature)
    except Exception as err:
        raise MetricUnavailable(
            "FID is unavailable: it needs the torch-fidelity package and its Inception-v3 "
            "weights, downloaded on first use (no internet?). Install torch-fidelity and run "
            "once with internet access; the course's offline metrics do not need it. "
            f"Cause: {type(err).__name__}: {err}") from err


@torch.no_grad()
def frechet_inception_distance(fake: torch.Tensor, real: torch.Tensor,
                               feature: int = 2048) -> float:
    """FID between two sets of images in [-1, 1] (raises MetricUnavailable offline).

    FID is biased for small sets; compare values only at the same number of images.
    """
    f = check_images(fake, "fake")
    r = check_images(real, "real")
    metric = load_fid(feature)
    metric.update(to_unit(r), real=True)
    metric.update(to_unit(f), real=False)
    return float(metric.compute())
