"""Profiles, set-up and determinism (course foundation)."""
from __future__ import annotations

import pytest
import torch

import course_lib
from course_lib.profiles import PROFILES, get_profile
from course_lib.session import setup


def test_profiles_grow_from_ci_to_gpu() -> None:
    ci, cpu, gpu = PROFILES["ci"], PROFILES["cpu"], PROFILES["gpu"]
    assert ci.image_size < cpu.image_size < gpu.image_size == 256
    # pairs seen per run grow (the gpu profile trains batch 16 for fewer steps, for a T4)
    assert ci.steps * ci.batch_size < cpu.steps * cpu.batch_size < gpu.steps * gpu.batch_size
    assert gpu.ngf == gpu.ndf == 64  # the papers' widths
    assert gpu.unet_downs == 8 and cpu.unet_downs == 6 and ci.unet_downs == 5
    for p in PROFILES.values():
        h, w = p.hd_size
        assert w == 2 * h  # streets are 2:1 like Cityscapes


def test_env_var_picks_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_PROFILE", "CPU")
    assert get_profile().name == "cpu"
    monkeypatch.delenv("COURSE_PROFILE")
    expected = "gpu" if torch.cuda.is_available() else "cpu"
    assert get_profile().name == expected


def test_bogus_profile_lists_valid_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_PROFILE", "bogus")
    with pytest.raises(ValueError, match=r"'bogus'.*ci, cpu, gpu"):
        get_profile()


def test_unknown_device_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown device"):
        get_profile("ci", device="tpu")


def test_setup_prints_one_line_and_returns_profile(capsys: pytest.CaptureFixture[str]) -> None:
    prof = setup("ci", seed=3)
    line = capsys.readouterr().out.strip()
    assert "\n" not in line
    assert "profile ci" in line and f"torch {torch.__version__}" in line and "device cpu" in line
    assert prof.name == "ci" and prof.device in ("cpu", "cuda")
    assert course_lib.setup is setup


def _tiny_training_run(seed: int) -> torch.Tensor:
    setup("ci", seed=seed, device="cpu", verbose=False)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Dropout(0.5), torch.nn.Conv2d(8, 3, 3, padding=1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(5):
        x = torch.randn(2, 3, 16, 16)
        loss = (net(x) - x).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()])


def test_same_seed_same_run_on_cpu() -> None:
    a, b, c = _tiny_training_run(7), _tiny_training_run(7), _tiny_training_run(8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_profiles_is_the_ground_floor() -> None:
    """profiles.py imports nothing of the course, not even inside a function (setup(), which
    prints the GPU projection, lives a floor up in course_lib.session)."""
    import ast
    from pathlib import Path

    import course_lib.profiles as profiles

    tree = ast.parse(Path(profiles.__file__).read_text())
    up = [node.lineno for node in ast.walk(tree)
          if (isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "")
                                                    .split(".")[0] == "course_lib"))
          or (isinstance(node, ast.Import)
              and any(a.name.split(".")[0] == "course_lib" for a in node.names))]
    assert up == [], f"course_lib/profiles.py imports the course at lines {up}"
