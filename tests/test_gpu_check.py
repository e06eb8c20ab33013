"""tools/gpu_check.py without a GPU: the refusals and the writers (fake measurements)."""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "tools" / "gpu_check.py")
assert _spec is not None and _spec.loader is not None
gpu_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_check)


def _report() -> dict:
    nbs = {nb: {"minutes": 10.0 + i, "flop_model_minutes": 12.0 + i}
           for i, nb in enumerate(("00_data", "04_pix2pix", "05_pix2pixhd"))}
    return {"device": "Tesla T4", "memory_gib": 14.6, "torch": "2.9.0", "cuda": "12.8",
            "date": "2026-12-02", "bench_iters": 20, "bench_warmup": 5, "cell_steps": 50,
            "bench_meta": {"flops_per_pair": 86.9e9, "peak_tflops": 65.0,
                           "peak_source": "T4 data sheet, dense bf16"},
            "bench": [{"variant": "eager fp32", "batch": 16, "pairs_per_s": 40.0, "ratio": 1.0,
                       "mfu": 0.053, "peak_mib": 3000.0, "skipped": None},
                      {"variant": "compile", "batch": 16, "pairs_per_s": None, "ratio": None,
                       "mfu": None, "peak_mib": None, "skipped": "failed: boom"}],
            "cells": [{"kind": "pix2pix", "batch": 16, "amp": "fp16", "seconds_per_step": 0.2,
                       "pairs_per_s": 80.0, "peak_mib": 2500.0}],
            "notebooks": nbs}


def test_without_cuda_it_refuses_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    status = gpu_check.main(["--docs", str(tmp_path), "--readme", str(tmp_path / "R.md")])
    assert status == gpu_check.NO_CUDA != 0
    err = capsys.readouterr().err
    assert "needs a CUDA GPU" in err and "Nothing was measured or written" in err
    assert list(tmp_path.iterdir()) == []


def test_too_little_memory_names_the_cell() -> None:
    gib = 2 ** 30
    gpu_check.check_memory({"pix2pix": 4 * gib}, 16 * gib, "Tesla T4")   # fits: no error
    with pytest.raises(gpu_check.CheckError) as info:
        gpu_check.check_memory({"pix2pix": 4 * gib, "pix2pixhd_enhancer": 9 * gib}, 8 * gib,
                               "small GPU")
    assert info.value.code == gpu_check.TOO_LITTLE_MEMORY
    assert "pix2pixhd_enhancer" in info.value.message and "8.0 GiB" in info.value.message


def test_steps_outside_50_to_200_are_refused() -> None:
    with pytest.raises(SystemExit):
        gpu_check.main(["--steps", "10"])


def test_writer_renders_and_fills_the_readme(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    original = (ROOT / "README.md").read_text(encoding="utf-8")
    readme.write_text(original, encoding="utf-8")
    written = gpu_check.write_outputs(_report(), tmp_path / "docs", readme)
    assert [p.name for p in written] == ["gpu_measured.md", "gpu_measured.json", "README.md"]
    md = (tmp_path / "docs" / "gpu_measured.md").read_text()
    assert "Tesla T4" in md and "CUDA 12.8" in md and "| eager fp32 | 16 | 40.0 | 1.00 | 5.3% |" \
        in md and "skipped: failed: boom" in md and "| 04_pix2pix | 11.0 | 13.0 |" in md
    data = json.loads((tmp_path / "docs" / "gpu_measured.json").read_text())
    assert data["notebooks"]["05_pix2pixhd"]["minutes"] == 12.0
    new = readme.read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(original.split("\n"), new.split("\n")) if a != b]
    assert len(changed) == 3 and len(new.split("\n")) == len(original.split("\n"))
    row = next(b for a, b in changed if "`04_pix2pix`" in b)
    assert row.endswith("| 11 min on a Tesla T4 (from measured step times, "
                        "`docs/gpu_measured.md`) |")
    assert row.count("|") == next(a for a, b in changed if "`04_pix2pix`" in a).count("|")
    from course_lib import gpu_budget
    assert gpu_budget.measured_minutes("05_pix2pixhd", tmp_path / "docs" / "gpu_measured.json") \
        == (12.0, "Tesla T4")


def test_a_failed_write_leaves_the_old_file(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    target = tmp_path / "gpu_measured.md"
    target.write_text("old, complete\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        gpu_check.write_atomic(target, "new")
    assert target.read_text() == "old, complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["gpu_measured.md"]    # no temp file left


def test_the_whole_measurement_rehearsed_on_the_cpu(tmp_path: Path) -> None:
    """The code a GPU will run, at the ci profile on the CPU (no GPU here): report, files."""
    from course_lib.profiles import seed_everything

    report = gpu_check.measure_all("CPU rehearsal", 8 * 2**30, steps=1, bench_iters=1,
                                   peak_tflops=None, device="cpu", profile="ci",
                                   bench_size=32, bench_width=8, warmup=1,
                                   with_compile=False, out=lambda s: None)
    seed_everything(0)
    assert [c["kind"] for c in report["cells"]] == [
        "pix2pix", "pix2pixhd", "pix2pixhd_enhancer", "pix2pixhd_blocks",
        "pix2pixhd_blocks_enhancer", "bicyclegan", "bicyclegan_recipe"]
    assert all(c["seconds_per_step"] > 0 for c in report["cells"])
    assert {r["variant"] for r in report["bench"]} == {"eager fp32", "channels_last"}
    assert set(report["notebooks"]) == set(gpu_check.notebook_minutes({}))
    gpu_check.write_outputs(report, tmp_path, None)
    assert "CPU rehearsal" in (tmp_path / "gpu_measured.md").read_text()
