"""The command line's train / evaluate / sample / bench, offline and on tiny sizes."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.cli import main
from course_lib.data.resolve import resolve_data
from course_lib.recipes import RECIPES, get_recipe, unet_levels
from course_lib.run_dir import RunDir, image_grid
from course_lib.train.checkpoint import load_checkpoint

TINY = ["--profile", "ci", "--quiet", "--device", "cpu", "--no-fcn"]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(run / "last.pt")
    return {f"{m}.{k}": v for m, sd in state["models"].items() for k, v in sd.items()}


def test_help_a_newcomer_can_follow(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "sample", "download", "bench", "torchrun"):
        assert command in out
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in RECIPES) and "synthetic:NAME" in out
    assert main(["train", "pix2pix", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--data NAME_OR_PATH", "--resume", "--lambda-l1", "--amp", "--channels-last",
                   "--compile", "--batch-size", "GLOBAL batch", "--profile"):
        assert option in out, option
    assert main(["train"]) == 2 and "name the model" in capsys.readouterr().err
    assert main(["train", "pix2pix"]) == 2          # --data is required
    assert main(["sample", "--help"]) == 0 and "--ab" in capsys.readouterr().out


def test_registry_and_unet_depth() -> None:
    assert list(RECIPES) == ["pix2pix", "pix2pixhd", "bicyclegan"]
    assert get_recipe("Pix2Pix").name == "pix2pix"
    with pytest.raises(ValueError, match="choose from pix2pix, pix2pixhd, bicyclegan"):
        get_recipe("cyclegan")
    assert [unet_levels(s, s) for s in (256, 64, 32)] == [8, 6, 5]
    assert unet_levels(64, 128) == 6 and unet_levels(96, 96) == 5   # 96 = 3 * 32
    with pytest.raises(ValueError, match="multiple of 4"):
        unet_levels(30, 30)
    defaults = get_recipe("pix2pix").default_hyperparameters()
    assert defaults["lambda_l1"] == 100.0 and defaults["lr"] == 2e-4 and defaults["beta1"] == 0.5
    assert defaults["norm"] == "batch" and defaults["dropout"] and defaults["n_layers_d"] == 3


def test_train_writes_a_complete_run_folder(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    argv = ["train", "pix2pix", "--data", "facades", *TINY, "--steps", "4",
            "--sample-every", "2", "--run-dir", str(run)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "procedural facades, 32x32" in out and "done: step 4 of 4" in out
    names = sorted(p.name for p in run.iterdir())
    assert names == ["config.json", "history.csv", "history.json", "last.pt", "metrics.json",
                     "samples"]
    assert [p.name for p in RunDir(run).sample_grids()] == ["step_0000002.png",
                                                            "step_0000004.png"]
    grid = Image.open(run / "samples" / "step_0000004.png")
    assert grid.size == (4 * 32 + 3 * 2, 3 * 32 + 2 * 2)     # 4 pairs; input, target, output
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "pix2pix" and config["data"]["kind"] == "procedural"
    assert config["model_args"]["ngf"] == 8 and config["train"]["batch_size"] == 4
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("l1", "psnr", "ssim", "sharpness", "diversity", "pairs_per_second"):
        assert isinstance(metrics[key], float), key
    assert metrics["step"] == 4 and "pixel_acc" not in metrics            # --no-fcn
    assert RunDir(run).history().keys()[:2] == ["D_fake", "D_real"]
    assert "step 4 of 4" in RunDir(run).summary()

    # The checkpoint alone rebuilds the generator, with plain names.
    G = get_recipe("pix2pix").generator_from_state(load_checkpoint(run / "last.pt"))
    assert G(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)

    assert main(argv) == 1                                   # will not overwrite a run
    assert "pass --resume" in capsys.readouterr().err
    assert main([*argv[:-2], "--run-dir", str(run), "--resume", "--lambda-l1", "10"]) == 1
    assert "model_args.lambda_l1: 100.0 in the run folder, 10.0 now" in capsys.readouterr().err


def test_interrupted_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    common = ["train", "pix2pix", "--data", "shapes", *TINY, "--steps", "4", "--no-eval",
              "--checkpoint-every", "1"]
    assert main([*common, "--run-dir", str(tmp_path / "straight")]) == 0
    assert main([*common, "--run-dir", str(tmp_path / "split"), "--stop-after", "2"]) == 0
    assert load_checkpoint(tmp_path / "split" / "last.pt")["step"] == 2
    assert not (tmp_path / "split" / "metrics.json").exists()
    assert main([*common, "--run-dir", str(tmp_path / "split"), "--resume"]) == 0
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)   # bit-identical


def _ab_folder(root: Path, n: int = 6, side: int = 32) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / split).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 256, (side, 2 * side, 3), dtype=np.uint8)
            Image.fromarray(img).save(root / split / f"{i}.png")
    return root


def test_own_folder_train_evaluate_sample(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = _ab_folder(tmp_path / "pairs")
    run = tmp_path / "run"
    assert main(["train", "pix2pix", "--data", str(data), "--image-size", "32", "--steps", "2",
                 "--batch-size", "2", "--ngf", "8", "--ndf", "8", "--quiet", "--device", "cpu",
                 "--direction", "BtoA", "--workers", "0", "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert "folder" in out and "(ab layout, BtoA), 6 train pairs, 6 val pairs" in out
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["kind"] == "folder" and config["data"]["load_size"] == 36
    metrics = json.loads((run / "metrics.json").read_text())
    assert "pixel_acc" not in metrics and metrics["pairs"] == 6      # no class maps: no FCN

    assert main(["evaluate", str(run), "--quiet", "--test-mode", "eval", "-n", "3"]) == 0
    out = capsys.readouterr().out
    written = json.loads((run / "metrics_val_eval.json").read_text())
    assert written["pairs"] == 3 and written["test_mode"] == "eval" and "psnr" in out
    assert written["diversity"] == 0.0                   # eval mode: no dropout, one answer

    outputs = tmp_path / "out"
    assert main(["sample", str(run), "--input", str(data / "val"), "--output", str(outputs),
                 "--ab", "--num", "2"]) == 0
    made = sorted(p.name for p in outputs.iterdir())
    assert len(made) == 12 and made[:2] == ["0_0.png", "0_1.png"]
    assert Image.open(outputs / "0_0.png").size == (32, 32)
    assert main(["sample", str(run), "--input", str(data / "val" / "0.png"), "--output",
                 str(tmp_path / "one"), "--ab"]) == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["0.png"]
    assert main(["sample", str(run), "--input", str(tmp_path / "none"), "--output",
                 str(outputs)]) == 1
    assert "no such file or folder" in capsys.readouterr().err


def test_data_names_resolve_or_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    choice = resolve_data("synthetic:streets", image_size=32, train_size=4, eval_size=2,
                          progress=False, root=tmp_path)
    assert choice.size == (32, 64) and choice.num_classes == 8 and choice.kind == "procedural"
    with pytest.raises(ValueError, match="python -m course_lib download maps"):
        resolve_data("maps", root=tmp_path)
    with pytest.raises(ValueError, match="not a folder"):
        resolve_data(str(tmp_path / "missing"), root=tmp_path)
    assert main(["train", "pix2pix", "--data", "nowhere", *TINY, "--steps", "1",
                 "--run-dir", str(tmp_path / "r")]) == 1
    assert "facades, shapes, streets" in capsys.readouterr().err
    assert main(["train", "pix2pix", "--data", "facades", *TINY, "--steps", "1",
                 "--batch-size", "32", "--run-dir", str(tmp_path / "r")]) == 1
    assert "fewer than one batch of 32" in capsys.readouterr().err


_HD = pytest.mark.skipif(importlib.util.find_spec("course_lib.train.pix2pixhd_setup") is None,
                         reason="pix2pixHD is not in this checkout")


@_HD
def test_pix2pixhd_trains_in_phases_resumes_evaluates_and_samples(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--preset 1024p under the ci profile: G1 at 32x64 inside the enhancer at 64x128; 3 steps
    = phase 1 (2 steps, 2/3 by default) then joint; resumed after step 1 to the same weights."""
    common = ["train", "pix2pixhd", "--data", "streets", *TINY, "--steps", "3",
              "--checkpoint-every", "1"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main([*common, "--run-dir", str(straight)]) == 0
    out = capsys.readouterr().out
    assert "procedural streets, 64x128 (HxW)" in out and "global (G1 alone at 64x32)" in out
    config = json.loads((straight / "config.json").read_text())
    hp = config["model_args"]
    assert (hp["preset"], hp["global_steps"], hp["fix_global_steps"]) == ("1024p", 2, 0)
    assert (hp["ngf"], hp["ndf"], hp["num_D"]) == (4, 8, 2)   # hd_setup(ci, 1): ngf 8 // 2
    assert config["train"]["batch_size"] == 2 and config["train"]["image_size"] == [64, 128]
    state = load_checkpoint(straight / "last.pt")
    assert set(state["models"]) == {"G", "D", "D_global"}
    assert "n_local_enhancers" in state["model_configs"]["G"]
    phases = RunDir(straight).history().rows
    assert [r["phase"] for r in phases] == [0.0, 0.0, 2.0]       # global, global, joint
    metrics = json.loads((straight / "metrics.json").read_text())
    for key in ("boundary_acc", "sharpness_inside", "l1", "psnr", "ssim"):
        assert isinstance(metrics[key], float), key
    assert metrics["pairs"] == 8 and "pixel_acc" not in metrics            # --no-fcn
    grid = Image.open(straight / "samples" / "step_0000003.png")
    assert grid.size == (4 * 128 + 3 * 2, 3 * 64 + 2 * 2)

    assert main([*common, "--run-dir", str(split), "--stop-after", "1"]) == 0
    assert main([*common, "--run-dir", str(split), "--resume"]) == 0
    a, b = _weights(straight), _weights(split)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)   # bit-identical

    assert main(["evaluate", str(straight), "--no-fcn", "--quiet", "-n", "4"]) == 0
    written = json.loads((straight / "metrics_val_eval.json").read_text())
    assert written["pairs"] == 4 and "boundary_acc" in written
    labels = tmp_path / "labels"
    labels.mkdir()
    from course_lib.data.streets import SyntheticStreets

    scene = SyntheticStreets(image_size=64, split="val", length=1)[0]
    rgb = SyntheticStreets.colorize(scene["class_map"])
    Image.fromarray(rgb.add(1).mul(127.5).round().byte().permute(1, 2, 0).numpy()).save(
        labels / "street.png")
    assert main(["sample", str(straight), "--input", str(labels), "--output",
                 str(tmp_path / "out")]) == 0
    assert Image.open(tmp_path / "out" / "street.png").size == (128, 64)


@_HD
def test_pix2pixhd_presets_global_from_and_clear_refusals(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    g1 = tmp_path / "g1"
    assert main(["train", "pix2pixhd", "--data", "streets", *TINY, "--preset", "512p",
                 "--steps", "2", "--no-eval", "--sample-every", "0", "--run-dir", str(g1)]) == 0
    hp = json.loads((g1 / "config.json").read_text())["model_args"]
    assert (hp["ngf"], hp["global_steps"]) == (8, 0)
    assert "n_downsampling" in load_checkpoint(g1 / "last.pt")["model_configs"]["G"]
    enhanced = tmp_path / "enhanced"
    assert main(["train", "pix2pixhd", "--data", "streets", *TINY, "--steps", "1",
                 "--fix-global-steps", "1", "--no-eval", "--global-from", str(g1),
                 "--run-dir", str(enhanced)]) == 0
    state = load_checkpoint(enhanced / "last.pt")
    assert "D_global" not in state["models"]                      # no phase 1
    trained_g1 = load_checkpoint(g1 / "last.pt")["models"]["G"]
    inside = {k[len("global_generator."):]: v for k, v in state["models"]["G"].items()
              if k.startswith("global_generator.")}
    assert inside.keys() == trained_g1.keys()                     # G1 was loaded and, frozen
    assert all(torch.equal(inside[k], trained_g1[k]) for k in inside)   # in phase 2, kept
    capsys.readouterr()

    assert main(["train", "pix2pixhd", "--data", "facades", *TINY, "--steps", "1",
                 "--run-dir", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "--data streets" in err and "Cityscapes" in err
    assert main(["train", "pix2pixhd", "--data", str(tmp_path), *TINY, "--steps", "1",
                 "--run-dir", str(tmp_path / "r")]) == 1
    assert "instance map" in capsys.readouterr().err
    assert main(["train", "pix2pixhd", "--data", "streets", *TINY, "--steps", "2",
                 "--preset", "512p", "--fix-global-steps", "1",
                 "--run-dir", str(tmp_path / "r")]) == 1
    assert "--fix-global-steps is for --preset 1024p" in capsys.readouterr().err
    assert main(["train", "pix2pixhd", "--data", "streets", *TINY, "--steps", "2",
                 "--global-steps", "2", "--fix-global-steps", "1",
                 "--run-dir", str(tmp_path / "r")]) == 1
    assert "exceed the 2 steps" in capsys.readouterr().err
    assert main(["train", "pix2pixhd", "--data", "streets", *TINY, "--steps", "1",
                 "--global-from", str(tmp_path / "missing"), "--run-dir", str(tmp_path / "r")]) == 1
    assert "not a run folder" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    assert main(["train", "pix2pixhd", "--help"]) == 0
    out = capsys.readouterr().out
    for text in ("--preset {512p,1024p}", "--global-steps", "--fix-global-steps",
                 "--global-from", "2048x1024", "--data streets"):
        assert text in out, text


@pytest.mark.skipif(importlib.util.find_spec("course_lib.experiment_bicyclegan") is None,
                    reason="BicycleGAN is not in this checkout")
def test_bicyclegan_trains_samples_and_counts_modes(tmp_path: Path) -> None:
    run = tmp_path / "bicycle"
    assert main(["train", "bicyclegan", "--data", "shapes", *TINY, "--steps", "2",
                 "--run-dir", str(run)]) == 0
    state = load_checkpoint(run / "last.pt")
    assert set(state["models"]) == {"G", "E", "D", "D2"}
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["num_z"] == 12 and "modes_covered" in metrics and metrics["diversity"] > 0
    assert main(["sample", str(run), "--input", str(run / "samples"), "--output",
                 str(tmp_path / "out"), "--num", "2"]) == 0
    assert len(list((tmp_path / "out").glob("*.png"))) == 2 * len(RunDir(run).sample_grids())
    assert state["model_configs"]["G"]["norm"] == "instance"          # the paper's default
    # --norm batch (notebook 06's choice for short runs) reaches every network.
    bn = tmp_path / "bicycle_bn"
    assert main(["train", "bicyclegan", "--data", "shapes", *TINY, "--steps", "1", "--norm",
                 "batch", "--run-dir", str(bn)]) == 0
    configs = load_checkpoint(bn / "last.pt")["model_configs"]
    assert {configs[k]["norm"] for k in ("G", "E", "D", "D2")} == {"batch"}
    # G trains with dropout, as every official training script (--use_dropout); --no-dropout
    # turns it off, and a resume with the other setting is refused, the folder untouched.
    assert state["model_configs"]["G"]["use_dropout"] is True
    assert configs["G"]["use_dropout"] is True
    nd = tmp_path / "bicycle_nd"
    assert main(["train", "bicyclegan", "--data", "shapes", *TINY, "--steps", "1",
                 "--no-dropout", "--run-dir", str(nd)]) == 0
    assert load_checkpoint(nd / "last.pt")["model_configs"]["G"]["use_dropout"] is False
    before = (nd / "last.pt").read_bytes()
    assert main(["train", "bicyclegan", "--data", "shapes", *TINY, "--steps", "2",
                 "--run-dir", str(nd), "--resume"]) == 1
    assert (nd / "last.pt").read_bytes() == before


def test_run_dir_grid_and_config_check(tmp_path: Path) -> None:
    grid = image_grid({"a": [torch.ones(3, 4, 4)] * 2, "b": [-torch.ones(3, 4, 4)]}, pad=1)
    assert grid.shape == (9, 9, 3) and grid.dtype == torch.uint8
    assert grid[0, 0].tolist() == [255, 255, 255] and grid[5, 0].tolist() == [0, 0, 0]
    run = RunDir(tmp_path / "r")
    run.write_config({"model": "pix2pix", "train": {"steps": 4, "device": "cpu"}})
    run.check_resumable({"model": "pix2pix", "train": {"steps": 4, "device": "cuda"}},
                        may_differ=["train.device"])
    with pytest.raises(ValueError, match="train.steps: 4 in the run folder, 8 now"):
        run.check_resumable({"model": "pix2pix", "train": {"steps": 8, "device": "cpu"}})
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        RunDir(tmp_path / "empty").read_config()


def test_bench_prints_ratios_and_skips_with_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--device", "cpu", "--iters", "1", "--warmup", "1",
                 "--variants", "channels_last", "fp16 autocast", "CUDA graphs",
                 "--loader-workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "eager fp32" in out and "1.00" in out and "channels_last" in out
    assert "skipped: CUDA graphs need a GPU" in out and "skipped: fp16 autocast" in out
    assert "loader alone" in out and "pairs/s" in out and "training step" in out


def test_flop_counts_of_the_paper_networks() -> None:
    """U-Net-256 forward ~12.1 GFLOP and the 70x70 PatchGAN ~6.4 GFLOP per 256x256 pair
    (torch.utils.flop_counter, 2 FLOPs per multiply-add; counted on the meta device)."""
    from torch.utils.flop_counter import FlopCounterMode

    from course_lib.models import PatchDiscriminator, UNetGenerator

    with torch.device("meta"):
        G, D = UNetGenerator(num_downs=8, ngf=64), PatchDiscriminator(6, ndf=64, n_layers=3)
        x = torch.empty(1, 3, 256, 256)
        with FlopCounterMode(display=False) as fc:
            G(x)
        g = fc.get_total_flops()
        with FlopCounterMode(display=False) as fc:
            D(torch.cat([x, x], 1))
        d = fc.get_total_flops()
    assert g == pytest.approx(12.096e9, rel=1e-3) and d == pytest.approx(6.394e9, rel=1e-3)
