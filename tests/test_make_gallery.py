"""tools/make_gallery.py: one small PNG per notebook from the runs it finds, the rest skipped."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from course_lib.train.checkpoint import save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_gallery  # noqa: E402


def _run(folder: Path, samples) -> None:
    folder.mkdir(parents=True)
    save_checkpoint(folder / "extras.pt", {"samples": samples, "evals": []})


def test_gallery_from_saved_runs(tmp_path, capsys):
    runs = tmp_path / "runs" / "04_pix2pix" / "ci"
    g = torch.Generator().manual_seed(0)
    for name in ("L1_cGAN", "L1"):
        _run(runs / name, [(0, torch.zeros(2, 3, 32, 32)),
                           (3, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1)])
    out = tmp_path / "images"
    code = make_gallery.main(["--runs", str(tmp_path / "runs"), "--profile", "ci",
                              "--out", str(out), "--markdown"])
    assert code == 0
    png = out / "gallery_04_pix2pix.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size < make_gallery.MAX_BYTES
    captured = capsys.readouterr()
    assert "['input', 'L1', 'L1 + cGAN', 'real\\nphoto']" in captured.out    # the paper's order
    assert "gallery_04_pix2pix.png" in captured.out and "steps per run" in captured.out
    assert "skipped 01_conditional_gan" in captured.err
    assert not (out / "gallery_01_conditional_gan.png").exists()


def test_nothing_found_and_runs_without_samples(tmp_path, capsys):
    assert make_gallery.main(["--runs", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    _run(tmp_path / "02_unet" / "cpu" / "U-Net", [])
    with pytest.raises(ValueError, match="holds no samples"):
        make_gallery.main(["--runs", str(tmp_path), "--out", str(tmp_path / "o")])


def test_bicyclegan_codes_from_a_saved_generator(tmp_path, capsys):
    import json

    from course_lib.models import LatentUNetGenerator

    spec = {"in_channels": 3, "out_channels": 3, "nz": 8, "num_downs": 5, "ngf": 4,
            "norm": "instance", "use_dropout": False, "where_add": "all"}
    run = tmp_path / "06_bicyclegan" / "ci" / "instance" / "BicycleGAN_z_to_all"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps(
        {"steps": 3, "models": {"G": {"class": "LatentUNetGenerator", **spec}}}))
    torch.manual_seed(0)
    save_checkpoint(run / "last.pt", {"models": {"G": LatentUNetGenerator(**spec).state_dict()}})
    out = tmp_path / "images"
    assert make_gallery.main(["--runs", str(tmp_path), "--profile", "ci", "--out", str(out)]) == 0
    png = out / "gallery_06_bicyclegan.png"
    assert png.is_file() and png.stat().st_size < make_gallery.MAX_BYTES
    assert "['BicycleGAN', 'the K\\ncorrect fills']" in capsys.readouterr().out
