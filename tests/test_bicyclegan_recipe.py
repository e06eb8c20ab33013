"""tools/bicyclegan_recipe.py: a ci-sized smoke run of the recipe's comparison, and its resume."""
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("bicyclegan_recipe",
                                                  ROOT / "tools" / "bicyclegan_recipe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipe_tool_trains_each_variant_and_resumes(tmp_path, capsys):
    tool = _tool()
    out = tmp_path / "r.json"
    argv = ["--profile", "ci", "--steps", "2", "--eval-every", "1",
            "--variants", "bicyclegan", "pix2pix+noise",
            "--seeds", "0,0", "--runs", str(tmp_path / "runs"), "--json", str(out),
            "--no-progress"]
    assert tool.main(argv) == 0
    data = json.loads(out.read_text())
    assert data["steps"] == 2 and "silhouette inputs" in data["recipe"]
    rows = data["results"]
    assert set(rows) == {"d0_t0/bicyclegan", "d0_t0/pix2pix+noise", "d0_t0/wall_seconds"}
    for key in ("d0_t0/bicyclegan", "d0_t0/pix2pix+noise"):     # per input, on both sets
        assert {"modes_per_input", "diversity", "target_rate"} <= set(rows[key]["train"])
        assert rows[key]["trajectory"]["train16"], key
    assert 0.0 <= rows["d0_t0/bicyclegan"]["encoded_accuracy"] <= 1.0
    assert "encoded_accuracy" not in rows["d0_t0/pix2pix+noise"]     # no encoder
    first = capsys.readouterr().out
    ckpt = tmp_path / "runs" / "ci" / "d0_t0" / "BicycleGAN_z_to_all" / "last.pt"
    before = ckpt.stat().st_mtime_ns
    assert tool.main(argv) == 0                  # finished runs are evaluated, not retrained
    assert ckpt.stat().st_mtime_ns == before
    again = json.loads(out.read_text())["results"]
    for k in ("d0_t0/bicyclegan", "d0_t0/pix2pix+noise"):
        assert again[k]["modes_covered"] == rows[k]["modes_covered"]
        assert again[k]["diversity"] == rows[k]["diversity"]
    assert "[d0_t0] BicycleGAN (z to all):" in first


def test_recipe_tool_refuses_a_bad_seed_pair(capsys):
    import pytest

    with pytest.raises(SystemExit):
        _tool().main(["--seeds", "1"])
    assert "DATA,TRAIN" in capsys.readouterr().err
