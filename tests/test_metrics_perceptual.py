"""LPIPS / FID are optional: offline they fail with one clear message."""
from __future__ import annotations

import urllib.error

import pytest
import torch

import course_lib.metrics.perceptual as perceptual
from course_lib.metrics import MetricUnavailable, diversity, load_fid, load_lpips, lpips_available


def no_internet(*args, **kwargs):
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def test_lpips_offline_gives_a_clear_message(monkeypatch) -> None:
    monkeypatch.setattr(perceptual, "_build_lpips", no_internet)
    with pytest.raises(MetricUnavailable, match=r"LPIPS is unavailable: its ImageNet weights "
                                                r"could not be loaded \(no internet\?\)"):
        load_lpips()
    ok, why = lpips_available()
    assert not ok and "Name or service not known" in why
    with pytest.raises(MetricUnavailable, match="LPIPS is unavailable"):
        diversity(torch.zeros(1, 2, 3, 8, 8), distance="lpips")


def test_fid_offline_gives_a_clear_message(monkeypatch) -> None:
    monkeypatch.setattr(perceptual, "_build_fid", no_internet)
    with pytest.raises(MetricUnavailable, match="FID is unavailable"):
        load_fid()


def test_unknown_backbone_is_refused() -> None:
    with pytest.raises(ValueError, match="'resnet'"):
        load_lpips("resnet")
