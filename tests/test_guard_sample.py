"""``sample`` never loses a user's file and finishes what it can (issue 17, cases 2 and 8), and
images are read within a pixel limit and at a reduced size when large (case 9)."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_lib.cli import main
from course_lib.data import paired
from course_lib.data.paired import PairedDataError, PairedImageDataset, open_image

TINY = ["--profile", "ci", "--quiet", "--device", "cpu", "--no-fcn"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sample") / "run"
    assert main(["train", "pix2pix", "--data", "facades", *TINY, "--steps", "1", "--no-eval",
                 "--run-dir", str(path)]) == 0
    return path


def _images(folder: Path, names: list[str], side: int = 20) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / name)
    return {n: (folder / n).read_bytes() for n in names}


def test_output_equal_to_or_inside_input_is_refused(run: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    before = _images(photos, ["a.png", "b.png"])
    assert main(["sample", str(run), "--input", str(photos), "--output", str(photos)]) == 1
    assert capsys.readouterr().err == (
        f"error: --output {photos} is --input {photos}: the outputs would mix with, or overwrite, "
        "your images; pass a folder outside it\n")
    inside = photos / "out"
    assert main(["sample", str(run), "--input", str(photos), "--output", str(inside)]) == 1
    assert capsys.readouterr().err == (
        f"error: --output {inside} is inside --input {photos}: the outputs would mix with, or "
        "overwrite, your images; pass a folder outside it\n")
    one = photos / "a.png"
    assert main(["sample", str(run), "--input", str(one), "--output", str(photos)]) == 1
    assert capsys.readouterr().err == (
        f"error: --output {photos} would write {photos / 'a.png'} over an input image: pass "
        "another --output folder\n")
    assert {n: (photos / n).read_bytes() for n in before} == before
    assert sorted(p.name for p in photos.iterdir()) == ["a.png", "b.png"]


def test_existing_outputs_need_overwrite(run: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    _images(photos, ["a.png", "b.png"])
    out.mkdir()
    (out / "a.png").write_bytes(b"my own file")
    assert main(["sample", str(run), "--input", str(photos), "--output", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"error: --output {out} already holds 1 of the 2 output(s) (e.g. {out / 'a.png'}): pass "
        "--overwrite to replace them, or another --output\n")
    assert (out / "a.png").read_bytes() == b"my own file" and not (out / "b.png").exists()
    assert main(["sample", str(run), "--input", str(photos), "--output", str(out),
                 "--overwrite"]) == 0
    assert Image.open(out / "a.png").size == (32, 32)
    file_out = tmp_path / "file"
    file_out.write_text("x")
    assert main(["sample", str(run), "--input", str(photos), "--output", str(file_out)]) == 1
    assert capsys.readouterr().err == (f"error: --output {file_out} is a file: pass a folder for "
                                       "the outputs\n")


def test_same_stem_different_extensions_do_not_collide(run: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    _images(photos, ["x.jpg", "x.png", "y.png"])
    assert main(["sample", str(run), "--input", str(photos), "--output", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote 3 image(s) to {out}\n"
    assert sorted(p.name for p in out.iterdir()) == ["x_jpg.png", "x_png.png", "y.png"]
    out2 = tmp_path / "out2"
    assert main(["sample", str(run), "--input", str(photos), "--output", str(out2),
                 "--num", "2"]) == 0
    assert sorted(p.name for p in out2.iterdir()) == [
        "x_jpg_0.png", "x_jpg_1.png", "x_png_0.png", "x_png_1.png", "y_0.png", "y_1.png"]


def test_a_bad_image_is_named_and_the_rest_finish(run: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    _images(photos, ["a.png", "c.png"])
    (photos / "b.png").write_bytes(b"\x89PNG not really")
    assert main(["sample", str(run), "--input", str(photos), "--output", str(out)]) == 1
    captured = capsys.readouterr()
    reason = (f"cannot read the image {photos / 'b.png'}: cannot identify image file "
              f"'{photos / 'b.png'}'. The file is corrupt, truncated or not an image despite its "
              "extension; re-export or re-download it, or remove it.")
    assert captured.out == f"wrote 2 image(s) to {out}\n"
    assert captured.err == (f"skipped {reason}\nerror: 1 of 3 input image(s) could not be "
                            f"translated (the other 2 are in {out}): {reason}\n")
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png"]


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width x height`` with one row of data (a truncated file:
    the size is read from the header, and the limit refuses it before any decoding)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(bytes(1 + 3 * width))) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("width, height, shown", [
    (8000, 7000, "8000x7000 (width x height), 56 megapixels"),
    (20000, 10000, "200 megapixels"),   # above PIL's own bomb limit too: same message
])
def test_images_above_the_pixel_limit_say_how_to_resize(tmp_path: Path, width: int, height: int,
                                                         shown: str) -> None:
    big = _png_header(tmp_path / "big.png", width, height)
    with pytest.raises(PairedDataError) as err:
        open_image(big)
    assert str(err.value) == (
        f"{big} is {shown}, above the 50 megapixels course_lib reads: resize it first (the "
        "models see a few hundred pixels), e.g. python -c \"from PIL import Image; "
        "im = Image.open('BIG.jpg'); im.thumbnail((4096, 4096)); im.save('smaller.jpg')\" or "
        "ImageMagick's mogrify -resize 4096x4096 FILE")


def test_sample_reports_a_too_large_image(run: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    _images(photos, ["a.png"])
    _images(photos, ["huge.png"], side=40)
    monkeypatch.setattr(paired, "MAX_IMAGE_PIXELS", 1000)   # 40x40 = 1600 pixels: too many
    assert main(["sample", str(run), "--input", str(photos), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"skipped {photos / 'huge.png'} is 40x40 (width x height), 0 megapixels, above the " \
           "0.001 megapixels course_lib reads: resize it first" in err
    assert [p.name for p in out.iterdir()] == ["a.png"]


def test_large_images_are_decoded_reduced(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    big = tmp_path / "train" / "0.jpg"
    big.parent.mkdir()
    Image.fromarray(rng.integers(0, 256, (512, 1024, 3), dtype=np.uint8)).save(big, quality=95)
    image = open_image(big, at_least=(128, 64))
    assert image.size == (128, 64) and image.info["original_size"] == (1024, 512)   # 1/8 draft
    png = tmp_path / "b.png"
    Image.fromarray(rng.integers(0, 256, (300, 600, 3), dtype=np.uint8)).save(png)
    assert open_image(png, at_least=(128, 64)).size == (150, 75)     # factor 4 divides 600x300
    assert open_image(png).size == (600, 300)                        # exact when not asked
    ds = PairedImageDataset(tmp_path, split="train", load_size=72, crop_size=64)
    item = ds[0]
    assert item["A"].shape == (3, 64, 64) and item["B"].shape == (3, 64, 64)
