"""COURSE_MAX_STEPS dry runs, the gpu profile's T4 budget and memory, and the GPU defaults."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from course_lib import gpu_budget
from course_lib.profiles import (MAX_STEPS_VAR, PROFILES, cap_steps, default_amp, get_profile,
                                 max_steps, scale_to_cap, seed_everything)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("bad", ["0", "-3", "two", "2.5", "1e3"])
def test_max_steps_refuses_anything_but_a_positive_integer(
        monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(MAX_STEPS_VAR, bad)
    with pytest.raises(ValueError, match=rf"{MAX_STEPS_VAR}='{re.escape(bad)}' is not a "
                                         r"positive integer"):
        max_steps()
    with pytest.raises(ValueError, match=MAX_STEPS_VAR):
        get_profile("ci", device="cpu")


def test_max_steps_caps_and_shrinks_the_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_STEPS_VAR, raising=False)
    assert max_steps() is None and cap_steps(40) == 40
    assert get_profile("gpu", device="cpu").train_size == PROFILES["gpu"].train_size
    monkeypatch.setenv(MAX_STEPS_VAR, " 3 ")
    assert max_steps() == 3 and cap_steps(40) == 3 and cap_steps(2) == 2
    P = get_profile("gpu", device="cpu")
    assert (P.image_size, P.ngf, P.hd_size) == (256, 64, (256, 512))     # the sizes stay
    assert P.steps == PROFILES["gpu"].steps and P.max_steps == 3
    assert P.train_size == 32 and P.eval_size == 8                      # the data shrink
    assert "capped at 3 by COURSE_MAX_STEPS" in P.summary()


def test_scale_to_cap_keeps_places_in_the_run() -> None:
    assert scale_to_cap(500, 1500, 2) == 1          # a phase boundary a third of the way
    assert scale_to_cap(1, 1000, 2) == 1            # a phase that exists keeps a step
    assert scale_to_cap(0, 1000, 2) == 0
    assert scale_to_cap(1000, 1000, 2) == 2
    assert scale_to_cap(7, 10, 10) == 7             # no cap: unchanged


def test_capped_training_runs_say_so(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from course_lib.data import InMemoryPairs, SyntheticFacades
    from course_lib.experiment import train_pix2pix

    monkeypatch.setenv(MAX_STEPS_VAR, "2")
    P = get_profile("ci", device="cpu")
    data = InMemoryPairs(SyntheticFacades(image_size=P.image_size, split="train"), 8,
                         progress=False)
    run = train_pix2pix(P, data, None, steps=50, sample_every=0)
    assert run.steps == 2 and run.step == 2 and run.finished
    assert f"[{MAX_STEPS_VAR}=2]" in capsys.readouterr().err
    half = train_pix2pix(P, data, None, steps=50, stop_after=25, progress=False,
                         sample_every=0)
    assert half.step == 1 and half.steps == 2        # stop_after moved to the same place
    # a returned run keeps its networks but frees Adam's moments and the gradients (on a
    # GPU, six pix2pixHD runs' states would not fit a T4 beside the one in training)
    assert all(not opt.state for opt in run.model.optimizers.values())
    assert all(p.grad is None for m in run.model.modules.values() for p in m.parameters())


def test_capped_pix2pixhd_keeps_its_phases(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_lib.experiment_pix2pixhd import streets_pairs, train_pix2pixhd
    from course_lib.train.pix2pixhd import Pix2PixHDConfig

    monkeypatch.setenv(MAX_STEPS_VAR, "2")
    P = get_profile("ci", device="cpu")
    data = streets_pairs(P, "train", n=2, enhancers=1, progress=False)
    run = train_pix2pixhd(P, data, None, config=Pix2PixHDConfig(global_steps=20,
                                                                fix_global_steps=20),
                          steps=60, progress=False)
    cfg = run.model.config
    assert (cfg.steps, cfg.global_steps, cfg.fix_global_steps) == (2, 1, 1)


def test_capped_segmenter_is_cached_as_what_it_is(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    from course_lib.metrics.segmentation import load_or_train_segmenter

    monkeypatch.setenv(MAX_STEPS_VAR, "2")
    x, y = torch.rand(4, 3, 16, 16) * 2 - 1, torch.randint(0, 3, (4, 16, 16))
    seg = load_or_train_segmenter("dry", 16, x, y, 3, cache_dir=tmp_path, steps=400,
                                  progress=False)
    assert seg.train_info["steps"] == 2
    payload = torch.load(next(tmp_path.glob("*.pt")), weights_only=True)
    assert payload["meta"]["steps"] == 2            # a full run will not reuse it


def test_gpu_kernels_fast_cpu_kernels_repeatable(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        seed_everything(0, device="cuda")
        assert torch.backends.cudnn.benchmark
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        seed_everything(0, device="cpu")
    assert not torch.backends.cudnn.benchmark and torch.are_deterministic_algorithms_enabled()
    assert default_amp("cpu") is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert default_amp("cuda") == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert default_amp("cuda:0") == "fp16"               # a T4: fp16 + gradient scaler


def test_profile_amp_reaches_the_trainer(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from course_lib.data import InMemoryPairs, SyntheticFacades
    from course_lib.experiment import train_pix2pix
    from course_lib.train.pix2pix import Pix2PixConfig

    P = replace(get_profile("ci", device="cpu"), amp="bf16")     # as on an Ampere GPU
    data = InMemoryPairs(SyntheticFacades(image_size=P.image_size, split="train"), 4,
                         progress=False)
    run = train_pix2pix(P, data, None, steps=1, progress=False, sample_every=0,
                        config=Pix2PixConfig(use_gan=False))
    assert run.model.config.amp == "bf16"
    run = train_pix2pix(P, data, None, steps=1, progress=False, sample_every=0, amp=None)
    assert run.model.config.amp is None


def test_every_notebook_fits_thirty_minutes_of_a_t4() -> None:
    table = gpu_budget.projection_table()
    assert [r["notebook"] for r in table] == list(gpu_budget.NOTEBOOKS)
    for row in table:
        assert 0 < row["minutes"] <= 30, row
    assert gpu_budget.TRAIN_GFLOP_PER_PAIR["pix2pix"] == 86.9   # docs/training_at_scale.md


def test_notebook_runs_mirror_the_notebooks() -> None:
    """The projection's step expressions are the solution notebooks' own."""
    expect = {"01_conditional_gan": "STEPS = P.steps", "02_unet": "steps=P.steps",
              "03_patchgan": "STEPS = max(1, P.steps // 2)",
              "04_pix2pix": "STEPS = max(1, P.steps // 2)",
              "05_pix2pixhd": "STEPS = max(2, P.steps // 4)",
              "06_bicyclegan": "SHORT = max(2, R.steps * 3 // 5)"}
    for name, text in expect.items():
        nb = json.loads((ROOT / "solutions" / f"{name}.ipynb").read_text())
        source = "\n".join("".join(c["source"]) for c in nb["cells"])
        assert text in source, f"{name}: the projection assumes {text!r}"


def test_header_note_projects_then_reports_measurements(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(gpu_budget, "MEASURED_JSON", tmp_path / "none.json")
    note = gpu_budget.header_note("04_pix2pix")
    assert "projected" in note and "T4" in note
    monkeypatch.setenv("JPY_SESSION_NAME", "/somewhere/notebooks/05_pix2pixhd.ipynb")
    assert gpu_budget.current_notebook() == "05_pix2pixhd"
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert "00:" in gpu_budget.header_note() and "projected" in gpu_budget.header_note()
    measured = tmp_path / "gpu_measured.json"
    measured.write_text(json.dumps({"device": "Tesla T4",
                                    "notebooks": {"04_pix2pix": {"minutes": 12.4}}}))
    monkeypatch.setattr(gpu_budget, "MEASURED_JSON", measured)
    assert gpu_budget.header_note("04_pix2pix") == "gpu profile: 12 min measured on Tesla T4"


@pytest.mark.parametrize("kind", ["pix2pix", "pix2pixhd", "pix2pixhd_enhancer", "pix2pixhd_blocks",
                                  "pix2pixhd_blocks_enhancer", "bicyclegan"])
def test_each_training_cell_fits_a_16_gb_t4(kind: str) -> None:
    """An estimate (float32, +20 % and the CUDA context), not a GPU measurement."""
    from course_lib.benchmark import estimate_train_memory

    mem = estimate_train_memory(kind, PROFILES["gpu"])
    assert mem.activations > 0 and mem.states == 16 * mem.parameters
    assert mem.with_overheads() < 15 * 2**30, f"{kind}: {mem.with_overheads() / 2**30:.1f} GiB"


@pytest.mark.slow
@pytest.mark.parametrize("kind", [k for k in gpu_budget.TRAIN_GFLOP_PER_PAIR if k != "segmenter"])
def test_pinned_flops_are_the_counted_ones(kind: str) -> None:
    from dataclasses import replace

    from course_lib.benchmark import train_flops_per_pair

    counted = train_flops_per_pair(kind, replace(PROFILES["gpu"], batch_size=2)) / 1e9
    assert counted == pytest.approx(gpu_budget.TRAIN_GFLOP_PER_PAIR[kind], rel=0.01)


def test_bicyclegan_trains_under_autocast() -> None:
    """The hybrid's step under bf16 autocast (CPU here; fp16 + scaler on a T4)."""
    import math

    from course_lib.experiment_bicyclegan import default_bicycle_networks
    from course_lib.train.bicyclegan import BicycleGAN, BicycleGANConfig

    P = get_profile("ci", device="cpu")
    torch.manual_seed(0)
    nets = default_bicycle_networks(P, "bicyclegan", "all")
    model = BicycleGAN(nets["G"], nets["E"], nets["D"], nets["D2"],  # type: ignore[arg-type]
                       BicycleGANConfig(steps=2, amp="bf16"))
    batch = {k: torch.rand(2, 3, P.image_size, P.image_size) * 2 - 1 for k in ("A", "B")}
    out = model.train_step(batch)
    assert all(math.isfinite(v) for v in out.values()) and "loss_kl" in out
    with pytest.raises(ValueError, match="amp='fp8'"):
        BicycleGANConfig(amp="fp8")
