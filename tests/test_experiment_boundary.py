"""Notebook 05's boundary-map experiment on the blocks: sizes, options, resume, the report."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from course_lib.experiment_boundary import (boundary_numbers, boundary_table,
                                            boundary_variants, show_seams,
                                            train_boundary_runs)
from course_lib.experiment_pix2pixhd import (blocks_pairs, blocks_setup, hide_instances,
                                             train_pix2pixhd)
from course_lib.profiles import get_profile
from course_lib.train.pix2pixhd_setup import HDSetup

P = get_profile("ci", device="cpu")


def test_blocks_setup_makes_a_bottleneck_cell_a_fraction_of_a_block() -> None:
    cpu = blocks_setup(get_profile("cpu", device="cpu"))
    assert (cpu.height, cpu.width, cpu.n_downsample_global, cpu.n_blocks_global,
            cpu.batch_size, cpu.num_D) == (64, 128, 2, 3, 4, 2)
    assert 2 ** cpu.n_downsample_global < 0.19 * 64 / 2        # 4 px cells, blocks >= 12 px
    gpu = blocks_setup(get_profile("gpu", device="cpu"))
    assert 2 ** gpu.n_downsample_global < 0.19 * gpu.height / 2  # 16 px cells, blocks >= 48 px
    assert blocks_setup(P, num_D=1, n_layers_D=1).num_D == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_downsample_global=0), "n_downsample_global must be an int >= 1, got 0"),
    (dict(n_downsample_global=2.0), "n_downsample_global must be an int >= 1, got 2.0"),
    (dict(n_blocks_global=-1), "n_blocks_global must be an int >= 0, got -1"),
    (dict(num_D=True), "num_D must be an int >= 1, got True"),
    (dict(height=100, width=200, n_local_enhancers=0, n_downsample_global=3),
     r"100x200 is not divisible by 8 = 2\*\*\(n_downsample_global=3"),
])
def test_hd_setup_refuses_nonsense_by_name(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HDSetup(**kwargs)


def test_a_blocks_run_measures_seams_and_refuses_other_settings_on_resume(
        tmp_path: Path) -> None:
    train = blocks_pairs(P, "train", n=4, progress=False)
    val = blocks_pairs(P, "val", n=2, progress=False)
    run = train_pix2pixhd(P, train, val, steps=2, run_dir=tmp_path / "r", progress=False)
    assert run.setup.n_downsample_global == 2                  # blocks_setup by default
    ev = run.evaluation
    assert ev is not None and ev.seams is not None and ev.seams.count > 0
    assert "seam_depth" in ev.as_dict()
    again = train_pix2pixhd(P, train, val, steps=2, run_dir=tmp_path / "r", progress=False)
    assert again.resumed_from == 2
    assert again.evaluation.seams.depth == ev.seams.depth  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="other settings"):
        train_pix2pixhd(P, train, val, steps=2, run_dir=tmp_path / "r", progress=False,
                        setup=blocks_setup(P, n_downsample_global=1))
    other_data = blocks_pairs(P, "train", n=4, seed=1, progress=False)
    with pytest.raises(ValueError, match="other settings"):
        train_pix2pixhd(P, other_data, val, steps=2, run_dir=tmp_path / "r", progress=False)


def test_hide_instances_keeps_class_edges_only() -> None:
    val = blocks_pairs(P, "val", n=2, progress=False)
    hidden = hide_instances(val)
    assert torch.equal(hidden["instance_map"], hidden["class_map"])
    assert torch.equal(hidden["B"], val.stacked("B"))


def test_train_boundary_runs_reports_every_variant(tmp_path: Path) -> None:
    train = blocks_pairs(P, "train", n=4, progress=False)
    val = blocks_pairs(P, "val", n=2, progress=False)
    result = train_boundary_runs(P, train, val, None, steps=2, run_root=tmp_path,
                                 progress=False)
    assert set(result.runs) == set(boundary_variants(P))
    assert result.real.depth > 0.5 and result.hidden is not None
    numbers = boundary_numbers(result)
    assert numbers["no map"]["seams"]["count"] == result.real.count
    table = boundary_table(result)
    assert "boundaries hidden" in table and "3 scales (16x16)" in table
    fig = show_seams({"with the map": result.runs["with the map"].evaluation.fake}, val, n=2)  # type: ignore[union-attr]
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="unknown variant"):
        boundary_variants(P, ["two maps"])
