"""Tests of the procedural paired datasets: facades, shapes and streets."""
from __future__ import annotations

import hashlib

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from course_lib.data.facades import SyntheticFacades, render_photo
from course_lib.data.shapes import (
    SyntheticShapes,
    classify_modes,
    fill_outline,
    mode_distances,
)
from course_lib.data.streets import INSTANCE_OFFSET, THING_CLASSES, SyntheticStreets
from course_lib.data.synthetic import (
    DEFAULT_LENGTHS,
    RandomStream,
    box_spans,
    erode,
    parse_image_size,
    rasterise_polygons,
    run_coordinates,
    sample_seed,
)

DATASETS = [SyntheticFacades, SyntheticShapes, SyntheticStreets]
IDS = ["facades", "shapes", "streets"]


def _digest(x: torch.Tensor) -> str:
    return hashlib.sha1(x.contiguous().numpy().tobytes()).hexdigest()


def _high_freq(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel high-frequency energy of (N, 3, H, W) images: (N, H, W)."""
    g = x.mean(1, keepdim=True)
    blur = F.avg_pool2d(F.pad(g, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return (g - blur).square()[:, 0]


# --------------------------------------------------------------------------- common contract


@pytest.mark.parametrize("cls", DATASETS, ids=IDS)
def test_sample_keys_dtypes_ranges(cls):
    ds = cls(32)
    s = ds[0]
    h, w = ds.height, ds.width
    assert (h, w) == ((32, 64) if cls is SyntheticStreets else (32, 32))
    for key in ("A", "B"):
        assert s[key].dtype == torch.float32 and s[key].shape == (3, h, w)
        assert s[key].min() >= -1.0 and s[key].max() <= 1.0
        assert s[key].std() > 0.05  # not a blank image
    assert s["class_map"].dtype == torch.int64 and s["class_map"].shape == (h, w)
    assert 0 <= int(s["class_map"].min()) and int(s["class_map"].max()) < cls.num_classes
    assert s["index"] == 0
    assert len(cls.palette) == cls.num_classes == len(cls.class_names)


@pytest.mark.parametrize("cls", DATASETS, ids=IDS)
def test_deterministic_and_order_independent(cls):
    a = cls(32, seed=3)
    b = cls(32, seed=3)
    first = a[5]
    for i in (9, 2, 7):  # other samples in between must not change sample 5
        a[i]
    again, fresh = a[5], b[5]
    for key in ("A", "B", "class_map"):
        assert torch.equal(first[key], again[key])
        assert torch.equal(first[key], fresh[key])
    assert a[-1]["index"] == len(a) - 1


@pytest.mark.parametrize("cls", DATASETS, ids=IDS)
def test_index_seed_and_split_change_the_sample(cls):
    base = cls(32)[0]
    others = [cls(32)[1], cls(32, seed=1)[0], cls(32, split="val")[0], cls(32, split="test")[0]]
    for other in others:
        assert not torch.equal(base["A"], other["A"]) or not torch.equal(base["B"], other["B"])


@pytest.mark.parametrize("cls", DATASETS, ids=IDS)
def test_splits_are_disjoint(cls):
    seen = {}
    for split in ("train", "val", "test"):
        ds = cls(32, split=split, length=30)
        seen[split] = {_digest(ds[i]["A"]) + _digest(ds[i]["B"]) for i in range(len(ds))}
        assert len(seen[split]) == 30  # no duplicates inside a split either
    assert not seen["train"] & seen["val"]
    assert not seen["train"] & seen["test"]
    assert not seen["val"] & seen["test"]


@pytest.mark.parametrize("cls", DATASETS, ids=IDS)
def test_lengths(cls):
    for split, n in DEFAULT_LENGTHS.items():
        assert len(cls(32, split=split)) == n
    ds = cls(32, length=7)
    assert len(ds) == 7
    with pytest.raises(IndexError, match="7"):
        ds[7]
    with pytest.raises(IndexError):
        ds[-8]


@pytest.mark.parametrize("cls", DATASETS, ids=IDS)
@pytest.mark.parametrize("size", [16, 48, 96])
def test_sizes(cls, size):
    s = cls(size)[1]
    w = 2 * size if cls is SyntheticStreets else size
    assert s["A"].shape == s["B"].shape == (3, size, w)
    assert s["class_map"].shape == (size, w)


@pytest.mark.parametrize("cls", DATASETS, ids=IDS)
def test_non_square_sizes(cls):
    s = cls((32, 80))[0]
    assert s["B"].shape == (3, 32, 80) and s["class_map"].shape == (32, 80)


def test_streets_default_aspect_and_large_size():
    ds = SyntheticStreets(image_size=(40, 120))
    assert ds[0]["instance_map"].shape == (40, 120)
    s = SyntheticStreets(256)[0]
    assert s["B"].shape == (3, 256, 512)


@pytest.mark.slow
@pytest.mark.parametrize("cls", DATASETS, ids=IDS)
def test_512_px(cls):
    s = cls(512)[0]
    assert s["B"].shape[-2] == 512 and torch.isfinite(s["B"]).all()


@pytest.mark.parametrize("cls", DATASETS, ids=IDS)
@pytest.mark.parametrize("bad", [8, 15, 33, 0, -64, 64.0, "64", True, (64,), (64, 63), None])
def test_bad_image_size(cls, bad):
    with pytest.raises(ValueError, match="image_size"):
        cls(image_size=bad)


@pytest.mark.parametrize("cls", DATASETS, ids=IDS)
def test_bad_split_seed_length(cls):
    with pytest.raises(ValueError, match="'training'"):
        cls(32, split="training")
    with pytest.raises(ValueError, match="seed"):
        cls(32, seed="zero")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="length"):
            cls(32, length=bad)


@pytest.mark.parametrize("cls", DATASETS, ids=IDS)
def test_dataloader_collates(cls):
    batch = next(iter(DataLoader(cls(32, length=8), batch_size=4)))
    assert batch["A"].shape[:2] == (4, 3) and batch["class_map"].dtype == torch.int64
    assert batch["index"].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("cls", [SyntheticFacades, SyntheticStreets], ids=["facades", "streets"])
def test_label_image_is_the_colorized_class_map(cls):
    s = cls(32)[2]
    assert torch.equal(s["A"], cls.colorize(s["class_map"]))
    assert torch.equal(cls.labels_from_colors(s["A"]), s["class_map"])
    batch = torch.stack([s["class_map"], s["class_map"]])
    assert cls.colorize(batch).shape == (2, 3) + tuple(s["class_map"].shape)
    with pytest.raises(ValueError, match="class map values"):
        cls.colorize(torch.full((4, 4), cls.num_classes))
    with pytest.raises(ValueError, match="integer"):
        cls.colorize(torch.zeros(4, 4))


@pytest.mark.parametrize("cls", [SyntheticFacades, SyntheticStreets], ids=["facades", "streets"])
def test_every_class_appears(cls):
    ds = cls(64, length=40)
    counts = torch.zeros(cls.num_classes, dtype=torch.long)
    for i in range(len(ds)):
        counts += torch.bincount(ds[i]["class_map"].flatten(), minlength=cls.num_classes)
    missing = [cls.class_names[c] for c in range(cls.num_classes) if counts[c] == 0]
    assert not missing, f"classes never drawn: {missing}"


# --------------------------------------------------------------------------- facades


def test_facades_photo_is_random_given_the_labels():
    ds = SyntheticFacades(32)
    photos = ds.sample_photos(3, 4)
    assert photos.shape == (4, 3, 32, 32)
    assert torch.equal(photos[0], ds[3]["B"])  # photo 0 is the sample's own target
    assert not torch.equal(photos[1], photos[2])
    cm = ds[3]["class_map"]
    one = render_photo(cm, torch.Generator().manual_seed(7))
    assert torch.equal(one, render_photo(cm, torch.Generator().manual_seed(7)))
    with pytest.raises(ValueError, match="n must be"):
        ds.sample_photos(0, 0)
    with pytest.raises(ValueError, match="class_map"):
        render_photo(torch.zeros(8, 8), torch.Generator())


def test_facades_mean_of_many_photos_is_smoother():
    """The point of the dataset: L1's optimum (the per-pixel mean) loses the texture.

    Inside the wall, away from its edges, every single photo has at least 3x the
    high-frequency energy of the mean of 32 photos of the same label map; over the whole
    image (where the class edges stay sharp in the mean) the typical photo has 2x.
    """
    ds = SyntheticFacades(64, split="test")
    checked = 0
    for index in range(8):
        class_map = ds.class_map(index)
        wall = erode(class_map == 1, 2)
        photos = ds.sample_photos(index, 32)
        hf_single = _high_freq(photos)  # (32, H, W)
        hf_mean = _high_freq(photos.mean(0, keepdim=True))[0]
        whole = hf_single.mean((1, 2)) / hf_mean.mean()
        assert whole.median() >= 2.0, f"layout {index}: whole-image ratio {whole.median():.2f}"
        if wall.sum() < 50:
            continue  # too little wall at 64 px to measure texture
        inside = hf_single[:, wall].mean(1) / hf_mean[wall].mean()
        assert inside.min() >= 3.0, f"layout {index}: wall texture ratio {inside.min():.2f}"
        checked += 1
    assert checked >= 5


# --------------------------------------------------------------------------- shapes


def test_shapes_sample_structure():
    ds = SyntheticShapes(48)
    for i in range(5):
        s = ds[i]
        cm = s["class_map"]
        assert set(cm.unique().tolist()) == {0, 1, 2}
        outline = cm == 2
        # A: black exactly on the outline, white elsewhere, the same in all channels.
        assert torch.equal(s["A"][0] < 0, outline) and torch.equal(s["A"][0], s["A"][2])
        # B keeps the outline and the white background; the fill is inside.
        assert torch.equal(s["B"][:, cm != 1], s["A"][:, cm != 1])
        assert (s["B"][:, cm == 1] < 0.99).any()
        assert 0 <= s["mode"] < ds.num_modes


def test_shapes_render_every_mode_of_one_outline():
    ds = SyntheticShapes(48)
    s = ds[4]
    all_modes = ds.all_modes(4)
    assert all_modes.shape == (6, 3, 48, 48)
    assert torch.equal(ds.render(4, s["mode"]), s["B"])
    for k in range(6):
        assert torch.equal(all_modes[k], ds.render(4, k))
    flat = all_modes.flatten(1)
    assert (torch.cdist(flat, flat) + torch.eye(6) * 1e9).min() > 1.0  # pairwise distinct
    with pytest.raises(ValueError, match="mode"):
        ds.render(0, 6)


def test_shapes_modes_are_balanced_and_independent_of_the_outline():
    ds = SyntheticShapes(32, length=300)
    modes = torch.tensor([ds.mode_of(i) for i in range(300)])
    counts = torch.bincount(modes, minlength=6)
    assert counts.min() >= 25  # 50 expected per mode
    # The outline stream does not know the mode: same outline for a dataset with K=3.
    assert torch.equal(ds.outline(5), SyntheticShapes(32, length=300, num_modes=3).outline(5))


@pytest.mark.parametrize("size", [32, 64, 128])
def test_mode_classifier_recovers_true_modes(size):
    ds = SyntheticShapes(size, length=120)
    batch = [ds[i] for i in range(len(ds))]
    images = torch.stack([s["B"] for s in batch])
    masks = torch.stack([s["class_map"] for s in batch])
    truth = torch.tensor([s["mode"] for s in batch])
    predicted = classify_modes(images, masks)
    assert (predicted == truth).float().mean() >= 0.99
    # A bool interior mask works the same as the class map.
    assert torch.equal(classify_modes(images, masks == 1), predicted)


def test_mode_classifier_rejects_blurred_and_grey_outputs():
    ds = SyntheticShapes(64)
    masks = []
    rejects = []
    for i in range(10):
        modes = ds.all_modes(i)  # (6, 3, H, W)
        cm = ds.outline(i)
        rejects.append(modes.mean(0))  # what an L1 model would output: the mean of modes
        grey = torch.where(cm == 1, torch.zeros(()), ds.render(i, 0))
        rejects.append(grey)
        striped = modes[3][None]  # cyan stripes, blurred until the stripes are gone
        blurred = F.avg_pool2d(F.pad(striped, (4,) * 4, mode="replicate"), 9, stride=1)[0]
        rejects.append(torch.where(cm == 1, blurred, modes[3]))
        masks += [cm] * 3
    result = classify_modes(torch.stack(rejects), torch.stack(masks))
    assert (result == -1).all(), result.tolist()
    distances = mode_distances(torch.stack(rejects), torch.stack(masks))
    assert distances.shape == (30, 6)


def test_mode_classifier_bad_input():
    with pytest.raises(ValueError, match="num_modes"):
        SyntheticShapes(32, num_modes=1)
    with pytest.raises(ValueError, match="num_modes"):
        classify_modes(torch.zeros(1, 3, 8, 8), torch.ones(1, 8, 8), num_modes=9)
    with pytest.raises(ValueError, match="same N"):
        classify_modes(torch.zeros(2, 3, 8, 8), torch.ones(1, 8, 8))
    empty = classify_modes(torch.zeros(1, 3, 8, 8), torch.zeros(1, 8, 8, dtype=torch.bool))
    assert empty.tolist() == [-1]
    with pytest.raises(ValueError, match="mode"):
        fill_outline(torch.zeros(8, 8, dtype=torch.long), 99)


# --------------------------------------------------------------------------- streets


def _touching_pairs(class_map: torch.Tensor, instance_map: torch.Tensor) -> int:
    """Adjacent pixel pairs of one thing class but two different instances."""
    count = 0
    pairs = [
        (class_map[:, 1:], class_map[:, :-1], instance_map[:, 1:], instance_map[:, :-1]),
        (class_map[1:], class_map[:-1], instance_map[1:], instance_map[:-1]),
    ]
    for c1, c2, i1, i2 in pairs:
        thing = torch.isin(c1, torch.tensor(THING_CLASSES))
        count += int((thing & (c1 == c2) & (i1 != i2)).sum())
    return count


def test_streets_instance_map_convention():
    ds = SyntheticStreets(64)
    for i in range(4):
        s = ds[i]
        cm, inst = s["class_map"], s["instance_map"]
        assert inst.dtype == torch.int64 and inst.shape == cm.shape
        thing = torch.isin(cm, torch.tensor(THING_CLASSES))
        assert torch.equal(inst[~thing], cm[~thing])  # stuff: the class id
        assert torch.equal(inst[thing] // INSTANCE_OFFSET, cm[thing])  # things: class * 1000 + k
        assert len(inst[cm == 7].unique()) >= 2  # several cars


def test_streets_touching_instances_in_most_scenes():
    ds = SyntheticStreets(64, length=20)
    touching = [_touching_pairs(ds[i]["class_map"], ds[i]["instance_map"]) > 0
                for i in range(len(ds))]
    assert sum(touching) >= 16, touching


def test_streets_each_instance_has_its_own_colour():
    ds = SyntheticStreets(128, length=3)
    means = []
    for i in range(3):
        s = ds[i]
        for inst in s["instance_map"][s["class_map"] == 7].unique():
            m = s["instance_map"] == inst
            if m.sum() >= 40:
                means.append(s["B"][:, m].median(1).values)
    means = torch.stack(means)
    d = torch.cdist(means, means) + torch.eye(len(means)) * 10
    # Colours are drawn per instance: nearly all pairs differ visibly.
    assert len(means) >= 6 and (d.min(1).values > 0.02).float().mean() >= 0.8


# --------------------------------------------------------------------------- helpers


def test_seeds_streams_and_sizes():
    assert sample_seed("a", 0, "train", 1) == sample_seed("a", 0, "train", 1)
    assert sample_seed("a", 0, "train", 1) != sample_seed("a", 0, "val", 1)
    rs1, rs2 = RandomStream(5), RandomStream(5)
    assert [rs1.random() for _ in range(300)] == [rs2.random() for _ in range(300)]
    assert all(3 <= rs1.integer(3, 5) <= 5 for _ in range(100))
    assert parse_image_size(32, aspect=2) == (32, 64)
    assert parse_image_size([16, 24]) == (16, 24)
    with pytest.raises(ValueError, match="exactly one"):
        RandomStream()


def test_drawing_helpers():
    spans = box_spans([(0.0, 0.0, 0.5, 0.5), (0.1, 0.1, 0.101, 0.2), (0.3, -0.5, 0.4, -0.2)],
                      32, 32)
    assert spans[0] == (0, 0, 16, 16)
    assert spans[1][2] - spans[1][0] == 1  # thinner than a pixel: one row survives
    assert spans[2][3] <= spans[2][1]  # fully outside: empty
    # A right triangle with legs of 8 px: 28 pixel centres lie strictly below the diagonal.
    pixels, owner = rasterise_polygons([[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]], 8, 8)
    assert len(pixels) == 28 and (owner == 0).all()
    assert {int(p) for p in pixels} == {r * 8 + c for r in range(8) for c in range(8)
                                        if r + c < 7}
    # A polygon entirely outside the image covers nothing.
    pixels, _ = rasterise_polygons([[(2.0, 2.0), (3.0, 2.0), (2.0, 3.0)]], 8, 8)
    assert len(pixels) == 0
    # Two polygons at once: each pixel is reported with the polygon that covers it.
    square = [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5)]
    pixels, owner = rasterise_polygons([square, [(x + 0.5, y) for x, y in square]], 8, 8)
    assert (owner == 0).sum() == 16 and (owner == 1).sum() == 16
    labels = torch.zeros(6, 10, dtype=torch.long)
    labels[1:5, 2:6] = 1
    u, v, run_w, run_h = run_coordinates(labels)
    assert run_w[2, 3] == 4 and run_h[2, 3] == 4
    assert torch.allclose(u[2, 2:6], torch.tensor([0.125, 0.375, 0.625, 0.875]))
    assert torch.allclose(v[1:5, 4], torch.tensor([0.125, 0.375, 0.625, 0.875]))


# --------------------------------------------------------------------------- shapes: solid fills, silhouettes


@pytest.mark.parametrize("size", [32, 64])
def test_solid_fills_are_distinct_and_classified(size):
    ds = SyntheticShapes(size, length=60, fills="solid")
    assert [m.pattern for m in ds.modes] == ["solid"] * 6
    assert len({m.colour for m in ds.modes}) == 6
    batch = [ds[i] for i in range(len(ds))]
    images = torch.stack([s["B"] for s in batch])
    masks = torch.stack([s["class_map"] for s in batch])
    truth = torch.tensor([s["mode"] for s in batch])
    assert torch.equal(ds.classify(images, masks), truth)
    assert torch.equal(classify_modes(images, masks, fills="solid"), truth)
    # The blend of the six colours (what L1 alone would paint) is none of them.
    blend = torch.stack([ds.all_modes(i).mean(0) for i in range(6)])
    assert (ds.classify(blend, masks[:6]) == -1).all()
    # Same outlines and modes as the patterned set: only the colours differ.
    patterned = SyntheticShapes(size, length=60)
    assert torch.equal(patterned.outline(3), ds.outline(3)) and patterned.mode_of(3) == ds.mode_of(3)


def test_silhouette_inputs_mark_the_interior():
    ds = SyntheticShapes(32, inputs="silhouette", fills="solid")
    s, plain = ds[2], SyntheticShapes(32, fills="solid")[2]
    cm = s["class_map"]
    assert torch.equal(s["A"][:, cm == 1], torch.zeros_like(s["A"][:, cm == 1]))
    assert torch.equal(s["A"][:, cm != 1], plain["A"][:, cm != 1])
    assert torch.equal(s["B"], plain["B"])
    assert "inputs='silhouette'" in repr(ds) and "fills='solid'" in repr(ds)


@pytest.mark.parametrize("kwargs, match", [({"fills": "striped"}, "fills='striped'"),
                                           ({"inputs": "edges"}, "inputs='edges'")])
def test_shapes_refuse_unknown_fill_sets_and_input_styles(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SyntheticShapes(32, **kwargs)
