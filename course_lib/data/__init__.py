"""Datasets of paired images: procedural ones (offline) and real or user folders."""
from course_lib.data.jitter import JitterParams, apply_jitter, paired_jitter, sample_jitter

__all__ = ["JitterParams", "apply_jitter", "paired_jitter", "sample_jitter"]
