"""PairedImageDataset: the AB and folder layouts, direction, modes, jitter and every bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from course_lib.data.paired import PairedDataError, PairedImageDataset, colorize_labels

RED, BLUE = (200, 30, 30), (20, 40, 220)


def solid(size: tuple[int, int], colour, mode: str = "RGB") -> Image.Image:
    """A (width, height) image of one colour."""
    return Image.new(mode, size, colour)


def save_ab(path: Path, left: Image.Image, right: Image.Image) -> Path:
    """Write an AB file: ``left`` and ``right`` side by side."""
    w, h = left.size
    ab = Image.new(left.mode, (2 * w, h))
    ab.paste(left, (0, 0))
    ab.paste(right, (w, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    ab.save(path)
    return path


def gradient(size: int, seed: int = 0) -> Image.Image:
    """A random-looking RGB image in which every pixel differs (so crops and flips show)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def save(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def mean_rgb(x: torch.Tensor) -> torch.Tensor:
    """Mean colour of a (3, H, W) tensor in 0-255 units."""
    return (x.mean(dim=(1, 2)) + 1) * 127.5


# --------------------------------------------------------------------------- layouts


def test_ab_layout_direction_and_interface(tmp_path):
    for i in range(3):
        save_ab(tmp_path / "train" / f"{i}.png", solid((40, 40), RED), solid((40, 40), BLUE))
    ds = PairedImageDataset(tmp_path, split="train", load_size=36, crop_size=32)
    assert len(ds) == 3 and ds.layout == "ab" and ds.augment  # train -> augment by default
    s = ds[1]
    assert set(s) == {"A", "B", "index", "path"}
    assert s["A"].shape == (3, 32, 32) and s["A"].dtype == torch.float32
    assert s["index"] == 1 and s["path"].endswith("1.png")
    assert s["A"].min() >= -1 and s["A"].max() <= 1
    assert torch.allclose(mean_rgb(s["A"]), torch.tensor(RED, dtype=torch.float32), atol=1)
    assert torch.allclose(mean_rgb(s["B"]), torch.tensor(BLUE, dtype=torch.float32), atol=1)

    swapped = PairedImageDataset(tmp_path, split="train", direction="BtoA", load_size=36,
                                 crop_size=32)[1]
    assert torch.allclose(swapped["A"], s["B"], atol=1e-5)
    assert torch.allclose(swapped["B"], s["A"], atol=1e-5)
    assert ds[-1]["index"] == 2
    with pytest.raises(IndexError):
        ds[3]


def test_folder_layout_matches_names_across_extensions_and_subfolders(tmp_path):
    root = tmp_path / "mine"
    for name in ("x", "y", "sub/z"):
        save(solid((48, 32), RED), root / "val" / "A" / f"{name}.png")
        save(solid((48, 32), BLUE), root / "val" / "B" / f"{name}.JPG")
    (root / "val" / "A" / "notes.txt").write_text("not an image")
    (root / "val" / "B" / ".DS_Store").write_bytes(b"\0")
    ds = PairedImageDataset(root, split="val", crop_size=24)
    assert ds.layout == "folders" and not ds.augment and len(ds) == 3
    assert [(a.stem, b.suffix) for a, b in ds.pairs] == [("z", ".JPG"), ("x", ".JPG"),
                                                         ("y", ".JPG")]
    assert [p.name for p in ds.ignored_files] == ["notes.txt"]  # listed, hidden file ignored
    s = ds[0]
    assert s["A"].shape == s["B"].shape == (3, 24, 24)  # eval: resized straight to crop_size
    assert s["path"].endswith("z.png")
    assert torch.allclose(mean_rgb(s["B"]), torch.tensor(BLUE, dtype=torch.float32), atol=3)
    rev = PairedImageDataset(root, split="val", direction="BtoA", crop_size=24)[0]
    assert rev["path"].endswith("z.JPG") and torch.equal(rev["A"], s["B"])


def test_no_split_folders_with_split_none(tmp_path):
    save(solid((32, 32), RED), tmp_path / "A" / "1.png")
    save(solid((32, 32), BLUE), tmp_path / "B" / "1.png")
    ds = PairedImageDataset(tmp_path, split=None, crop_size=32)
    assert ds.layout == "folders" and len(ds) == 1 and not ds.augment
    with pytest.raises(PairedDataError, match="split=None"):
        PairedImageDataset(tmp_path, split="train", crop_size=32)
    ab = tmp_path / "ab"
    save_ab(ab / "p.bmp", solid((32, 32), RED), solid((32, 32), BLUE))
    assert PairedImageDataset(ab, split=None, crop_size=32).layout == "ab"


def test_extensions_are_case_insensitive(tmp_path):
    for i, ext in enumerate((".PNG", ".jpeg", ".JPG", ".bmp", ".webp")):
        save_ab(tmp_path / "test" / f"{i}{ext}", solid((32, 32), RED), solid((32, 32), BLUE))
    ds = PairedImageDataset(tmp_path, split="test", crop_size=32)
    assert len(ds) == 5 and all(ds[i]["A"].shape == (3, 32, 32) for i in range(5))


def test_explicit_mode_and_ambiguous_layouts(tmp_path):
    save(solid((32, 32), RED), tmp_path / "train" / "A" / "1.png")
    with pytest.raises(PairedDataError, match="no B/ folder"):
        PairedImageDataset(tmp_path, crop_size=32, load_size=32)
    save(solid((32, 32), BLUE), tmp_path / "train" / "B" / "1.png")
    save_ab(tmp_path / "train" / "ab.png", solid((32, 32), RED), solid((32, 32), BLUE))
    with pytest.raises(PairedDataError, match="mode='folders' or mode='ab'"):
        PairedImageDataset(tmp_path, crop_size=32, load_size=32)
    assert len(PairedImageDataset(tmp_path, mode="folders", crop_size=32, load_size=32)) == 1
    with pytest.raises(PairedDataError, match="mode='folders' needs"):
        PairedImageDataset(tmp_path / "train" / "A", split=None, mode="folders")


# --------------------------------------------------------------------------- jitter


def test_augmentation_uses_one_draw_for_both_sides(tmp_path):
    img = gradient(40)
    save(img, tmp_path / "train" / "A" / "p.png")
    save(img, tmp_path / "train" / "B" / "p.png")  # identical sides: outputs must match
    ds = PairedImageDataset(tmp_path, load_size=48, crop_size=32)
    torch.manual_seed(0)
    samples = [ds[0] for _ in range(8)]
    for s in samples:
        assert s["A"].shape == (3, 32, 32) and torch.equal(s["A"], s["B"])
    assert len({s["A"].sum().item() for s in samples}) > 1  # crops/flips vary between draws
    torch.manual_seed(0)
    assert torch.equal(ds[0]["A"], samples[0]["A"])  # reproducible from torch's seed

    fixed = PairedImageDataset(tmp_path, load_size=48, crop_size=32, augment=False)
    first = fixed[0]["A"]
    torch.manual_seed(123)
    assert torch.equal(fixed[0]["A"], first)  # no augmentation: independent of the seed


def test_eval_mode_is_a_plain_resize(tmp_path):
    img = gradient(32, seed=3)
    save_ab(tmp_path / "val" / "p.png", img, img)
    ds = PairedImageDataset(tmp_path, split="val", crop_size=32)
    expected = torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.allclose(ds[0]["A"], expected) and torch.allclose(ds[0]["B"], expected)


def test_dataloader_batches(tmp_path):
    for i in range(4):
        save_ab(tmp_path / "train" / f"{i}.jpg", gradient(40, i), gradient(40, i + 10))
    loader = DataLoader(PairedImageDataset(tmp_path, load_size=36, crop_size=32), batch_size=2)
    batch = next(iter(loader))
    assert batch["A"].shape == (2, 3, 32, 32) and len(batch["path"]) == 2


# --------------------------------------------------------------------------- file modes


def test_grayscale_rgba_and_16bit_images(tmp_path):
    gray = solid((32, 32), 90, mode="L")
    rgba = Image.new("RGBA", (32, 32), (10, 200, 30, 0))  # fully transparent: alpha dropped
    save(gray, tmp_path / "test" / "A" / "g.png")
    save(rgba, tmp_path / "test" / "B" / "g.png")
    wide = np.full((32, 32), 65535 // 2, dtype=np.uint16)
    save(Image.fromarray(wide), tmp_path / "test" / "A" / "h.png")
    save(solid((32, 32), RED, mode="P"), tmp_path / "test" / "B" / "h.png")
    ds = PairedImageDataset(tmp_path, split="test", crop_size=32)
    s = ds[0]
    assert s["A"].shape == (3, 32, 32)
    assert torch.equal(s["A"][0], s["A"][1]) and torch.equal(s["A"][1], s["A"][2])
    assert torch.allclose(mean_rgb(s["A"]), torch.full((3,), 90.0))
    assert torch.allclose(mean_rgb(s["B"]), torch.tensor([10.0, 200.0, 30.0]))
    h = ds[1]
    assert torch.allclose(h["A"], torch.zeros(3, 32, 32), atol=0.01)  # mid-grey of 16 bits
    assert torch.allclose(mean_rgb(h["B"]), torch.tensor(RED, dtype=torch.float32), atol=1)


def _label_map(size: int = 40) -> np.ndarray:
    labels = np.zeros((size, size), dtype=np.uint8)
    labels[:, size // 2:] = 4  # only classes 0 and 4: any interpolation would invent 1..3
    labels[5:9, 3:30] = 2
    return labels


def test_label_side_is_read_without_interpolation(tmp_path):
    labels = _label_map()
    save(Image.fromarray(labels), tmp_path / "train" / "A" / "p.png")
    save(gradient(40), tmp_path / "train" / "B" / "p.png")
    ds = PairedImageDataset(tmp_path, load_size=57, crop_size=32, label_side="A",
                            num_classes=5)
    torch.manual_seed(1)
    for _ in range(5):
        s = ds[0]
        cm = s["class_map"]
        assert cm.dtype == torch.int64 and cm.shape == (32, 32)
        assert set(cm.unique().tolist()) <= {0, 2, 4}
        assert torch.equal(s["A"], colorize_labels(cm, 5))  # colour-coded input, 3 channels
        assert s["B"].shape == (3, 32, 32)
    ev = PairedImageDataset(tmp_path, split="train", augment=False, crop_size=40,
                            label_side="A", num_classes=5)[0]
    assert torch.equal(ev["class_map"], torch.from_numpy(labels.astype(np.int64)))

    # label_side names the returned side: BtoA puts the B/ folder (photos) first
    rev = PairedImageDataset(tmp_path, direction="BtoA", load_size=40, crop_size=32,
                             label_side="B", num_classes=5)[0]
    assert set(rev["class_map"].unique().tolist()) <= {0, 2, 4}


def test_label_side_in_ab_files(tmp_path):
    labels = Image.fromarray(_label_map(32))
    save_ab(tmp_path / "train" / "p.png", solid((32, 32), 7, mode="L"), labels)
    s = PairedImageDataset(tmp_path, augment=False, crop_size=32, label_side="B",
                           num_classes=5)[0]
    assert torch.equal(s["class_map"], torch.from_numpy(_label_map(32).astype(np.int64)))
    assert torch.allclose(mean_rgb(s["A"]), torch.full((3,), 7.0))


# --------------------------------------------------------------------------- bad input


def test_missing_folder_says_where_and_how_to_download(tmp_path):
    where = tmp_path / "facades"
    with pytest.raises(PairedDataError) as err:
        PairedImageDataset(where)
    msg = str(err.value)
    assert str(where) in msg and "AB files" in msg and "ROOT/<split>/A/" in msg
    assert "python -m course_lib download facades" in msg

    (where / "val").mkdir(parents=True)
    with pytest.raises(PairedDataError, match="no split folder 'train'") as err:
        PairedImageDataset(where)
    assert "['val']" in str(err.value)


def test_empty_folder(tmp_path):
    (tmp_path / "maps" / "train").mkdir(parents=True)
    (tmp_path / "maps" / "train" / "readme.txt").write_text("x")
    with pytest.raises(PairedDataError) as err:
        PairedImageDataset(tmp_path / "maps")
    msg = str(err.value)
    assert "no images found in" in msg and str(tmp_path / "maps" / "train") in msg
    assert "python -m course_lib download maps" in msg and ".webp" in msg


def test_corrupt_and_truncated_images_name_the_file(tmp_path):
    save_ab(tmp_path / "train" / "good.png", gradient(32), gradient(32, 1))
    bad = tmp_path / "train" / "bad.jpg"
    bad.write_bytes(b"this is not a jpeg at all")
    full = save_ab(tmp_path / "train" / "cut.png", gradient(64), gradient(64, 2)).read_bytes()
    (tmp_path / "train" / "cut.png").write_bytes(full[: len(full) // 2])
    ds = PairedImageDataset(tmp_path, load_size=32, crop_size=32)
    names = [p.name for p, _ in ds.pairs]
    with pytest.raises(PairedDataError, match="cannot read the image .*bad.jpg"):
        ds[names.index("bad.jpg")]
    with pytest.raises(PairedDataError, match="cannot read the image .*cut.png"):
        ds[names.index("cut.png")]
    assert ds[names.index("good.png")]["A"].shape == (3, 32, 32)


def test_ab_width_must_be_twice_the_height(tmp_path):
    save(gradient(256).resize((300, 256)), tmp_path / "train" / "odd.png")
    ds = PairedImageDataset(tmp_path, crop_size=64, load_size=64)
    with pytest.raises(PairedDataError, match=r"odd.png is 300x256 .*512x256"):
        ds[0]


def test_unpaired_names_list_both_sides(tmp_path):
    for name in ("a1", "a2", "shared"):
        save(solid((32, 32), RED), tmp_path / "train" / "A" / f"{name}.png")
    for name in ("shared", "b1"):
        save(solid((32, 32), BLUE), tmp_path / "train" / "B" / f"{name}.png")
    with pytest.raises(PairedDataError) as err:
        PairedImageDataset(tmp_path)
    msg = str(err.value)
    assert "2 name(s) in A/" in msg and "a1, a2" in msg and "1 name(s) in B/ " in msg
    assert "(b1)" in msg and "shared" not in msg


def test_duplicate_stems_on_one_side(tmp_path):
    save(solid((32, 32), RED), tmp_path / "train" / "A" / "x.png")
    save(solid((32, 32), RED), tmp_path / "train" / "A" / "x.jpg")
    save(solid((32, 32), RED), tmp_path / "train" / "B" / "x.png")
    with pytest.raises(PairedDataError, match="share the name 'x'"):
        PairedImageDataset(tmp_path)


def test_images_smaller_than_the_crop(tmp_path):
    save_ab(tmp_path / "train" / "tiny.png", gradient(100), gradient(100, 1))
    ds = PairedImageDataset(tmp_path)  # 286 -> 256 by default
    with pytest.raises(PairedDataError) as err:
        ds[0]
    msg = str(err.value)
    assert "tiny.png" in msg and "100x100" in msg and "crop_size=96" in msg
    assert "load_size=" in msg


def test_pairs_of_different_sizes(tmp_path):
    save(solid((32, 32), RED), tmp_path / "train" / "A" / "p.png")
    save(solid((40, 32), BLUE), tmp_path / "train" / "B" / "p.png")
    ds = PairedImageDataset(tmp_path, crop_size=32, load_size=32)
    with pytest.raises(PairedDataError, match=r"p.png is 32x32, .*p.png is 40x32"):
        ds[0]


def test_label_errors(tmp_path):
    labels = _label_map(32)
    labels[0, 0] = 9
    save(Image.fromarray(labels), tmp_path / "train" / "A" / "p.png")
    save(gradient(32), tmp_path / "train" / "B" / "p.png")
    ds = PairedImageDataset(tmp_path, crop_size=32, load_size=32, label_side="A",
                            num_classes=5)
    with pytest.raises(PairedDataError, match=r"p.png holds the label value 9, outside \[0, 5\)"):
        ds[0]
    rgb_labels = PairedImageDataset(tmp_path, crop_size=32, load_size=32, label_side="B",
                                    num_classes=5)  # B/ holds RGB photos, not class maps
    with pytest.raises(PairedDataError, match="is a RGB image, but label_side='B'"):
        rgb_labels[0]
    with pytest.raises(ValueError, match="needs num_classes"):
        PairedImageDataset(tmp_path, label_side="A")
    with pytest.raises(ValueError, match="only used together"):
        PairedImageDataset(tmp_path, num_classes=3)


def test_bad_arguments(tmp_path):
    save_ab(tmp_path / "train" / "p.png", gradient(32), gradient(32))
    with pytest.raises(ValueError, match="direction"):
        PairedImageDataset(tmp_path, direction="AB")
    with pytest.raises(ValueError, match="mode"):
        PairedImageDataset(tmp_path, mode="pairs")
    with pytest.raises(ValueError, match="larger than load_size"):
        PairedImageDataset(tmp_path, load_size=32, crop_size=64)


def test_verify_lists_every_problem(tmp_path):
    save_ab(tmp_path / "train" / "ok.png", gradient(32), gradient(32))
    save(gradient(32), tmp_path / "train" / "square.png")
    (tmp_path / "train" / "junk.png").write_bytes(b"junk")
    ds = PairedImageDataset(tmp_path, crop_size=32, load_size=32)
    with pytest.raises(PairedDataError) as err:
        ds.verify()
    msg = str(err.value)
    assert msg.startswith("2 of 3 pairs") and "square.png" in msg and "junk.png" in msg
    (tmp_path / "train" / "junk.png").unlink()
    (tmp_path / "train" / "square.png").unlink()
    assert PairedImageDataset(tmp_path, crop_size=32, load_size=32).verify() is None
