"""tools/hd_seeds.py at the ci profile: every number per seed pair, the notebook's folder for (0, 0)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("hd_seeds", ROOT / "tools" / "hd_seeds.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["hd_seeds"] = module
    spec.loader.exec_module(module)
    return module


def test_two_pairs_write_every_number_and_resume(tmp_path: Path, capsys) -> None:
    tool = _tool()
    out = tmp_path / "hd.json"
    args = ["--profile", "ci", "--seeds", "0,0", "1,2", "--runs", str(tmp_path / "runs"),
            "--variants", "with the map", "no map", "--enhancer", "--features",
            "--json", str(out)]
    assert tool.main(args) == 0
    report = json.loads(out.read_text())
    assert report["command"].startswith("python tools/hd_seeds.py --profile ci")
    assert set(report["pairs"]) == {"d0_t0", "d1_t2"}
    pair = report["pairs"]["d1_t2"]
    assert (pair["data_seed"], pair["train_seed"]) == (1, 2)
    assert pair["real"]["depth"] > 0.5 and "hidden" in pair
    assert {"seams", "pixel_acc", "seconds"} <= set(pair["no map"])
    assert any(k.startswith("seam depth with the map / without") for k in pair["claims"])
    assert set(pair["enhancer"]) >= {"G1 upsampled", "G1 + G2, G1 frozen", "G1 + G2, joint"}
    assert pair["features"]["l1_own_features"] > 0
    assert any(k.startswith("L1, random cluster") for k in pair["claims"])
    base = tmp_path / "runs" / "05_pix2pixhd" / "ci"
    assert (base / "blocks" / "with_the_map" / "last.pt").is_file()      # the notebook's
    assert (base / "blocks_d1_t2" / "no_map" / "last.pt").is_file()
    assert (base / "blocks_d1_t2" / "enhancer" / "last.pt").is_file()
    assert (base / "streets_t2" / "features" / "last.pt").is_file()
    first = capsys.readouterr().out
    assert tool.main(args) == 0                                          # finished: evaluated
    again = json.loads(out.read_text())["pairs"]["d1_t2"]
    assert again["no map"]["seams"] == pair["no map"]["seams"]
    assert "seed pair (data 1, train 2)" in first
