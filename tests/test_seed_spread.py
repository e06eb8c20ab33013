"""tools/seed_spread.py at the ``ci`` profile: one seed pair, two rows, end to end (seconds)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import seed_spread  # noqa: E402


@pytest.fixture
def small(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_MAX_STEPS", "2")           # segmenter and runs: 2 steps
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_one_pair_two_rows_writes_json_table_and_resumes(small, capsys):
    runs, out = small / "runs", small / "spread.json"
    argv = ["--profile", "ci", "--seeds", "1,2", "--rows", "loss", "dropout", "--runs",
            str(runs), "--json", str(out), "--no-progress"]
    assert seed_spread.main(argv) == 0
    text = capsys.readouterr().out
    data = json.loads(out.read_text())
    pair = data["pairs"]["d1_t2"]
    assert (pair["data_seed"], pair["train_seed"]) == (1, 2)
    assert list(pair["rows"]) == ["loss", "dropout"]
    assert set(pair["rows"]["loss"]) == {"L1", "cGAN", "L1+GAN", "L1+cGAN", "real"}
    assert 0 <= pair["rows"]["loss"]["L1"]["class_iou"] <= 1
    assert pair["rows"]["dropout"]["real"]["diversity"] > 0
    # the layout encodes the seeds; the data seed has its own cached segmenter
    assert (runs / "04_pix2pix" / "ci" / "seeds_d1_t2" / "L1_cGAN" / "last.pt").is_file()
    assert any(p.name.startswith("facades_d1_") for p in (small / "cache").rglob("*.pt"))
    assert "| loss / L1 / sharpness_inside |" in text
    assert "L1+cGAN keeps at least 5x the texture" in text

    # finished runs are only evaluated (the dropout row trained notebook 02's U-Net)
    again = small / "again.json"
    ckpt = runs / "02_unet" / "ci" / "seeds_d1_t2" / "U-Net" / "last.pt"
    before = ckpt.stat().st_mtime_ns
    assert seed_spread.main(["--profile", "ci", "--seeds", "1,2", "--rows", "unet", "--runs",
                             str(runs), "--json", str(again), "--no-progress"]) == 0
    assert "[d1_t2] unet/U-Net: " in capsys.readouterr().out
    unet = json.loads(again.read_text())["pairs"]["d1_t2"]["rows"]["unet"]
    assert unet["U-Net"]["sharpness_inside"] >= 0
    assert ckpt.stat().st_mtime_ns == before
    # a second pair from an earlier JSON: mean and range columns
    capsys.readouterr()
    other = {"pairs": {"d3_t3": {**pair, "data_seed": 3, "train_seed": 3}}}
    (small / "other.json").write_text(json.dumps(other))
    assert seed_spread.main(["--with-json", str(out), str(small / "other.json")]) == 0
    table = capsys.readouterr().out
    assert "| (1, 2) | (3, 3) | mean | range |" in table
    assert "(2 pairs) |" in table


def test_layout_and_bad_pairs():
    root = Path("r")
    assert seed_spread.run_folder(root, "02_unet", "cpu", 0, 0, None, None) == root / "02_unet/cpu"
    assert (seed_spread.run_folder(root, "02_unet", "cpu", 0, 0, "bf16", None)
            == root / "02_unet/cpu/seeds_d0_t0_bf16")
    assert (seed_spread.run_folder(root, "02_unet", "cpu", 1, 2, None, None)
            == root / "02_unet/cpu/seeds_d1_t2")
    with pytest.raises(SystemExit):
        seed_spread.main(["--seeds", "1"])
    with pytest.raises(SystemExit):
        seed_spread.main([])
