"""Evaluation metrics of the course, all offline except the optional perceptual ones.

* ``segmentation`` -- FCN-score (pix2pix Sec. 4.1): a segmenter trained on real photos
  parses generated ones; per-pixel accuracy, per-class accuracy, class IoU.
* ``sharpness`` -- Laplacian energy of fake vs real, over the image and inside class regions.
* ``color`` -- Lab marginal histograms and the spread of region colours (pix2pix Sec. 4,
  "Colorfulness").
* ``fidelity`` -- PSNR and SSIM (torchmetrics).
* ``diversity`` -- mean pairwise distance under different z, mode coverage (BicycleGAN Sec. 4).
* ``perceptual`` -- LPIPS and FID when their pretrained weights can be loaded.
* ``boundary`` -- accuracy at boundaries between touching objects of one class (pix2pixHD
  Sec. 3.3, Fig. 5).
* ``seams`` -- on the blocks scenes: seam depth at the true seams between touching objects of
  one class, seams drawn in the wrong place, and how alike a class's blocks are across a scene.

Every metric takes images as float tensors in [-1, 1] and class maps as integer tensors.
The numbers are comparable within the course, not to the papers' tables (those used a
Cityscapes-trained FCN-8s and ImageNet networks).
"""
from course_lib.metrics.boundary import (BoundaryScore, boundary_accuracy, seam_depth,
                                          touching_pairs)
from course_lib.metrics.seams import SeamScore, block_colour_spread, seam_score
from course_lib.metrics.color import (
    ColorDistribution,
    color_distribution,
    color_spread,
    color_spread_ratio,
    lab_histograms,
    rgb_to_lab,
)
from course_lib.metrics.diversity import (
    ModeCoverage,
    diversity,
    mode_coverage,
    pairwise_distances,
    predict_modes,
)
from course_lib.metrics.fidelity import psnr, ssim
from course_lib.metrics.perceptual import (
    MetricUnavailable,
    frechet_inception_distance,
    load_fid,
    load_lpips,
    lpips_available,
)
from course_lib.metrics.segmentation import (
    FCNScore,
    Segmenter,
    SegmenterConfig,
    default_cache_dir,
    fcn_score,
    load_or_train_segmenter,
    load_segmenter,
    save_segmenter,
    segmentation_scores,
    train_segmenter,
)
from course_lib.metrics.sharpness import (
    high_frequency_energy,
    interior_mask,
    laplacian,
    sharpness_per_class,
    sharpness_ratio,
)

__all__ = [
    "ColorDistribution", "color_distribution", "color_spread", "color_spread_ratio",
    "lab_histograms", "rgb_to_lab",
    "ModeCoverage", "diversity", "mode_coverage", "pairwise_distances", "predict_modes",
    "psnr", "ssim",
    "MetricUnavailable", "frechet_inception_distance", "load_fid", "load_lpips",
    "lpips_available",
    "FCNScore", "Segmenter", "SegmenterConfig", "default_cache_dir", "fcn_score",
    "load_or_train_segmenter", "load_segmenter", "save_segmenter", "segmentation_scores",
    "train_segmenter",
    "high_frequency_energy", "interior_mask", "laplacian", "sharpness_per_class",
    "sharpness_ratio",
]
__all__ += ["BoundaryScore", "boundary_accuracy", "seam_depth", "touching_pairs"]
__all__ += ["SeamScore", "block_colour_spread", "seam_score"]
