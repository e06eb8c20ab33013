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
    assert "skipped 01_conditional_gan" in captured.err and "skipped 05_pix2pixhd" in captured.err
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


def test_pix2pixhd_generators_rebuilt_from_saved_runs(tmp_path, capsys):
    """Notebook 05's folders, as train_boundary_runs and the enhancer cell write them (ci sizes,
    two steps): the figure shows G1 without and with the boundary map, G1 + G2, the photos."""
    from course_lib.experiment_pix2pixhd import (blocks_pairs, train_hd_variants,
                                                 train_pix2pixhd)
    from course_lib.profiles import get_profile
    from course_lib.train.pix2pixhd import Pix2PixHDConfig

    P = get_profile("ci", device="cpu")
    root = tmp_path / "runs" / "05_pix2pixhd" / "ci" / "blocks"
    train = blocks_pairs(P, "train", n=2, progress=False)
    runs = train_hd_variants(P, train, None, {
        "with the map": {}, "no map": {"config": Pix2PixHDConfig(use_boundary=False)},
    }, run_root=root, steps=2, progress=False, amp=None)
    assert sorted(p.name for p in root.iterdir()) == ["no_map", "with_the_map"]
    out = tmp_path / "images"
    assert make_gallery.main(["--runs", str(tmp_path / "runs"), "--profile", "ci",
                              "--out", str(out)]) == 0
    assert "['label\\nmap', 'G1, no\\nboundary\\nmap', 'G1, with\\nthe map', 'real\\nphoto']" \
        in capsys.readouterr().out                      # no enhancer run yet: two G1 rows

    big = blocks_pairs(P, "train", n=2, enhancers=1, progress=False)
    train_pix2pixhd(P, big, None, global_generator=runs["with the map"].G, steps=2,
                    config=Pix2PixHDConfig(fix_global_steps=1), name="G1 + G2",
                    run_dir=root / "enhancer", progress=False, amp=None)
    model, step = make_gallery.load_hd_model(root / "with_the_map")
    assert step == 2
    for k, v in runs["with the map"].G.state_dict().items():
        assert torch.equal(v, model.G.state_dict()[k]), k

    info = make_gallery.draw_hd(make_gallery.find_hd_runs([tmp_path / "runs"], "ci"),
                                out / "hd.png")
    png = out / "hd.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size < make_gallery.MAX_BYTES
    assert info["rows"][-2:] == ["G1 + G2\n(2× size)", "real\nphoto"]
    assert info["size"] == [32, 64] and info["steps"] == {
        "blocks/no_map": 2, "blocks/with_the_map": 2, "blocks/enhancer": 2}
    assert info["caption"] == "G1 32×64 px, 2 steps; G1 + G2 64×128 px, 2 steps"
    assert make_gallery.main(["--runs", str(tmp_path / "runs"), "--profile", "ci",
                              "--out", str(out), "--markdown"]) == 0
    text = capsys.readouterr().out
    assert "gallery_05_pix2pixhd.png" in text and "G1 + G2 64×128 px" in text


def test_bicyclegan_outline_rendered_as_the_recorded_data(tmp_path):
    """A run trained on solid fills at 32 px records its data in run.json; the gallery renders
    the outline at that size and names the solid fills."""
    import json

    from course_lib.data import InMemoryPairs, SyntheticShapes
    from course_lib.experiment_bicyclegan import train_bicyclegan
    from course_lib.profiles import get_profile

    P = get_profile("ci", device="cpu")
    train = InMemoryPairs(SyntheticShapes(image_size=32, split="train", fills="solid",
                                          inputs="silhouette"), 4, progress=False)
    # under "gpu", whose profile size (256 px) the gallery must not use when data is recorded
    run = tmp_path / "06_bicyclegan" / "gpu" / "batch" / "BicycleGAN_z_to_all"
    train_bicyclegan(P, train, None, steps=1, norm="batch", run_dir=run, progress=False,
                     amp=None)
    data = json.loads((run / "run.json").read_text())["data"]
    assert data == {"dataset": "shapes", "image_size": 32, "fills": "solid", "num_modes": 6,
                    "seed": 0, "inputs": "silhouette"}
    info = make_gallery.draw_bicycle(make_gallery.find_bicycle_runs([tmp_path], "gpu"), "gpu",
                                     tmp_path / "06.png")
    assert info["size"] == [32, 32] and info["data"]["fills"] == "solid"
    assert info["fill_names"] == ["red", "yellow", "green", "cyan", "blue", "magenta"]
    assert info["caption"] == "32 px, solid fills, silhouette inputs, K = 6, 1 steps per run"
    # the outline in the figure is the silhouette the runs were trained on (mid-grey interior)
    assert info["data"]["inputs"] == "silhouette"
    assert (tmp_path / "06.png").stat().st_size < make_gallery.MAX_BYTES
