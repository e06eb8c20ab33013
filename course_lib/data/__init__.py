"""Datasets of paired images: procedural ones (offline) and real or user folders.

* :class:`SyntheticFacades` -- label map -> facade photo (pix2pix's facades, designed so that
  one label map has many plausible photos).
* :class:`SyntheticShapes` -- outline -> filled object with exactly K modes (BicycleGAN).
* :class:`SyntheticStreets` -- semantic + instance map -> street scene, 2:1 (pix2pixHD).
* :class:`SyntheticBlocks` -- rows of touching same-class blocks parted only by a dark seam,
  2:1 (pix2pixHD's instance boundary map, Sec. 3.3).
* :class:`InMemoryPairs` -- render a procedural dataset once, serve it from memory.
* :class:`PairedImageDataset` -- the pix2pix "AB" format or two folders of same-named files.
* :mod:`course_lib.data.download` -- the pix2pix datasets, for users with internet
  (``python -m course_lib download facades``).
"""
from course_lib.data.blocks import SyntheticBlocks
from course_lib.data.cache import InMemoryPairs
from course_lib.data.facades import SyntheticFacades
from course_lib.data.jitter import JitterParams, apply_jitter, paired_jitter, sample_jitter
from course_lib.data.paired import PairedDataError, PairedImageDataset, colorize_labels
from course_lib.data.shapes import SyntheticShapes, classify_modes
from course_lib.data.streets import SyntheticStreets
from course_lib.data.synthetic import SyntheticPairs

__all__ = [
    "SyntheticPairs", "InMemoryPairs", "SyntheticFacades", "SyntheticShapes", "SyntheticStreets",
    "SyntheticBlocks", "classify_modes",
    "PairedImageDataset", "PairedDataError", "colorize_labels",
    "JitterParams", "apply_jitter", "paired_jitter", "sample_jitter",
]
