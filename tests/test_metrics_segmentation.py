"""FCN-score (pix2pix Sec. 4.2): scores by hand, a segmenter that learns, the cache."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.metrics.segmentation import (
    FCNScore,
    Segmenter,
    SegmenterConfig,
    default_cache_dir,
    fcn_score,
    load_or_train_segmenter,
    load_segmenter,
    default_batch_size,
    default_widths,
    save_segmenter,
    segmentation_scores,
    train_segmenter,
)

GT = torch.tensor([[0, 0, 1, 1],
                   [0, 0, 1, 1],
                   [2, 2, 2, 2],
                   [2, 2, 2, 2]])
PRED = torch.tensor([[0, 0, 1, 1],
                     [0, 1, 1, 1],
                     [2, 2, 2, 0],
                     [2, 2, 2, 2]])


def test_scores_on_a_hand_made_4x4_example() -> None:
    # class 0: 3 of 4 right, class 1: 4 of 4, class 2: 7 of 8.
    # IoU: 0 -> 3 / (4 + 4 - 3), 1 -> 4 / (4 + 5 - 4), 2 -> 7 / (8 + 7 - 7).
    s = segmentation_scores(PRED, GT, num_classes=3)
    assert s["pixel_acc"] == pytest.approx(14 / 16)
    assert s["class_acc"] == pytest.approx((3 / 4 + 1 + 7 / 8) / 3)
    assert s["class_iou"] == pytest.approx((3 / 5 + 4 / 5 + 7 / 8) / 3)
    assert s["confusion"].tolist() == [[3, 1, 0], [0, 4, 0], [1, 0, 7]]


def test_logits_give_the_same_scores_as_labels() -> None:
    logits = F.one_hot(PRED, 3).permute(2, 0, 1).float()[None] * 5.0  # (1, 3, 4, 4)
    assert segmentation_scores(logits, GT[None], 3)["class_iou"] == pytest.approx(
        segmentation_scores(PRED, GT, 3)["class_iou"])


def test_absent_classes_are_left_out_but_false_positives_count() -> None:
    s = segmentation_scores(PRED, GT, num_classes=5)  # classes 3, 4 appear nowhere
    assert s["class_iou"] == pytest.approx((3 / 5 + 4 / 5 + 7 / 8) / 3)
    assert torch.isnan(s["per_class_acc"][3:]).all()
    pred = PRED.clone()
    pred[0, 0] = 3  # predicted but absent from the truth: IoU 0, taken into the mean
    s = segmentation_scores(pred, GT, num_classes=5)
    assert s["per_class_iou"][3] == 0
    # class 0: 2 hits, union 4 true + 3 predicted - 2 = 5
    assert s["class_iou"] == pytest.approx((2 / 5 + 4 / 5 + 7 / 8 + 0) / 4)


def test_ignore_index_leaves_pixels_out() -> None:
    gt = GT.clone()
    gt[1, 1] = 255
    s = segmentation_scores(PRED, gt, 3, ignore_index=255)
    assert s["confusion"].sum() == 15 and s["pixel_acc"] == pytest.approx(14 / 15)


@pytest.mark.parametrize("pred, target, k, match", [
    (PRED, GT[:, :3], 3, "spatial size"),
    (PRED, GT + 5, 3, "class id 7"),
    (PRED, GT.float(), 3, "integer"),
    (F.one_hot(PRED, 3).permute(2, 0, 1).float(), GT, 4, "3 class channels"),
    (PRED, GT, 1, "num_classes"),
    (PRED[None].expand(2, -1, -1), GT[None].expand(3, -1, -1), 3, "3 maps"),
])
def test_bad_inputs_raise_value_error(pred, target, k, match) -> None:
    with pytest.raises(ValueError, match=match):
        segmentation_scores(pred, target, k)


def toy_task(n: int, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes in random rectangles; the class sets colour and texture."""
    g = torch.Generator().manual_seed(seed)
    maps = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        for cls in (1, 2):
            y0, x0 = torch.randint(0, size - 8, (2,), generator=g).tolist()
            h, w = torch.randint(6, size // 2, (2,), generator=g).tolist()
            maps[i, y0:y0 + h, x0:x0 + w] = cls
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    stripes = ((xx // 2) % 2).float()
    checker = (((xx // 3) + (yy // 3)) % 2).float()
    base = torch.tensor([[0.6, 0.2, 0.2], [0.2, 0.6, 0.3], [0.3, 0.3, 0.7]])  # per class RGB
    tex = torch.where(maps == 1, stripes, torch.where(maps == 2, checker, 0.0))
    img = base[maps].permute(0, 3, 1, 2) + 0.25 * tex[:, None]
    img = img + 0.05 * torch.randn(img.shape, generator=g)
    return (img * 2 - 1).clamp(-1, 1), maps


@pytest.fixture(scope="module")
def toy_segmenter() -> Segmenter:
    x, y = toy_task(48)
    return train_segmenter(x, y, 3, steps=80, batch_size=8, seed=0, progress=False)


def test_segmenter_learns_a_synthetic_task(toy_segmenter: Segmenter) -> None:
    xv, yv = toy_task(16, seed=1)
    score = fcn_score(toy_segmenter, xv, yv)
    assert isinstance(score, FCNScore)
    assert score.pixel_acc > 0.9, score
    assert score.class_acc > 0.9 and score.class_iou > 0.8, score
    assert toy_segmenter.train_info["steps"] == 80 and not toy_segmenter.training


def test_segmenter_is_small_and_keeps_any_size() -> None:
    model = Segmenter(num_classes=12)
    assert 10_000 < sum(p.numel() for p in model.parameters()) < 60_000
    assert model(torch.zeros(2, 3, 30, 62)).shape == (2, 12, 30, 62)
    deeper = Segmenter(SegmenterConfig(num_classes=5, widths=(4, 8, 8, 8)))
    assert deeper(torch.zeros(1, 3, 21, 43)).shape == (1, 5, 21, 43)


def test_depth_and_batch_follow_the_image_size() -> None:
    assert default_widths(64, 64) == (12, 24, 32) == default_widths(32, 32)
    assert default_widths(64, 128) == (12, 24, 32)  # the short side decides
    assert len(default_widths(128, 128)) == 4 and len(default_widths(256, 512)) == 5
    assert default_batch_size(64, 64) == 16 and default_batch_size(64, 128) == 8
    assert default_batch_size(128, 128) == 4 == default_batch_size(512, 512)


def test_training_is_deterministic_and_leaves_global_rng_alone() -> None:
    x, y = toy_task(8, size=16)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = train_segmenter(x, y, 3, steps=3, batch_size=4, seed=5, progress=False)
    assert torch.equal(torch.rand(1), before)
    b = train_segmenter(x, y, 3, steps=3, batch_size=4, seed=5, progress=False)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(pa, pb)


def test_save_and_load_round_trip(tmp_path, toy_segmenter: Segmenter) -> None:
    path = save_segmenter(toy_segmenter, tmp_path / "seg.pt", note="x")
    again = load_segmenter(path)
    assert again.config == toy_segmenter.config
    x, _ = toy_task(2, seed=3)
    assert torch.equal(again.predict(x), toy_segmenter.predict(x))
    # prefixed keys from DDP / torch.compile load as well
    payload = torch.load(path, weights_only=True)
    payload["state_dict"] = {"module._orig_mod." + k: v for k, v in payload["state_dict"].items()}
    torch.save(payload, tmp_path / "prefixed.pt")
    assert torch.equal(load_segmenter(tmp_path / "prefixed.pt").predict(x), again.predict(x))


def test_load_names_the_bad_file(tmp_path) -> None:
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="broken.pt"):
        load_segmenter(bad)
    with pytest.raises(ValueError, match="missing.pt"):
        load_segmenter(tmp_path / "missing.pt")


def test_cache_trains_once_then_reloads(tmp_path, monkeypatch) -> None:
    x, y = toy_task(8, size=16)
    first = load_or_train_segmenter("toy", 16, x, y, 3, cache_dir=tmp_path, steps=2,
                                    batch_size=4, progress=False)
    files = list(tmp_path.glob("*.pt"))
    assert [f.name for f in files] == ["toy_16x16_k3_seed0.pt"]
    calls = []
    import course_lib.metrics.segmentation as seg
    real_train = seg.train_segmenter
    monkeypatch.setattr(seg, "train_segmenter", lambda *a, **k: calls.append(1) or real_train(*a, **k))
    again = load_or_train_segmenter("toy", 16, x, y, 3, cache_dir=tmp_path, steps=2,
                                    batch_size=4, progress=False)
    assert calls == []
    assert torch.equal(again.predict(x), first.predict(x))
    # different data (or settings) retrain and replace the file
    load_or_train_segmenter("toy", 16, x.flip(-1), y.flip(-1), 3, cache_dir=tmp_path, steps=2,
                            batch_size=4, progress=False)
    assert calls == [1]


def test_float_and_8bit_feeds_share_one_cached_segmenter(tmp_path, monkeypatch) -> None:
    """Notebooks 00/01 feed float photos, 02-04 InMemoryPairs' 8-bit copies: one network."""
    from course_lib.data import InMemoryPairs, SyntheticFacades
    from course_lib.experiment import segmenter_for
    from course_lib.profiles import get_profile
    import course_lib.metrics.segmentation as seg

    monkeypatch.setenv(seg.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr("course_lib.experiment.SEGMENTER_STEPS", {"ci": 1})
    P = get_profile("ci")
    facades = SyntheticFacades(image_size=P.image_size, split="train")
    calls = []
    real_train = seg.train_segmenter
    monkeypatch.setattr(seg, "train_segmenter",
                        lambda *a, **k: calls.append(1) or real_train(*a, **k))
    segmenter_for(P, facades, progress=False)                           # float feed (00, 01)
    assert len(calls) == 1 and len(list(tmp_path.glob("segmenters/*.pt"))) == 1
    segmenter_for(P, InMemoryPairs(facades, P.train_size, progress=False), progress=False)
    assert len(calls) == 1                                              # 8-bit feed: cache hit
    x = torch.stack([facades[i]["B"] for i in range(2)])
    assert torch.equal(seg.as_8bit(x), InMemoryPairs(facades, 2, progress=False).stacked("B"))


def test_cache_retrains_over_a_corrupt_file(tmp_path) -> None:
    x, y = toy_task(4, size=16)
    (tmp_path / "toy_16x16_k3_seed0.pt").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="toy_16x16_k3_seed0.pt"):
        model = load_or_train_segmenter("toy", 16, x, y, 3, cache_dir=tmp_path, steps=1,
                                        batch_size=2, progress=False)
    assert isinstance(load_segmenter(tmp_path / "toy_16x16_k3_seed0.pt"), Segmenter)
    assert model.num_classes == 3


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "segmenters"


def test_cache_refuses_a_wrong_image_size_or_name(tmp_path) -> None:
    x, y = toy_task(2, size=16)
    with pytest.raises(ValueError, match="image_size=32"):
        load_or_train_segmenter("toy", 32, x, y, 3, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="dataset_name"):
        load_or_train_segmenter("../toy", 16, x, y, 3, cache_dir=tmp_path)


def test_train_and_score_refuse_bad_input() -> None:
    x, y = toy_task(2, size=16)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        train_segmenter(x * 3, y, 3, steps=1)
    with pytest.raises(ValueError, match="num_classes=2"):
        train_segmenter(x, y, 2, steps=1)
    with pytest.raises(ValueError, match="config.num_classes=4"):
        train_segmenter(x, y, 3, steps=1, config=SegmenterConfig(num_classes=4))
    with pytest.raises(ValueError, match="steps"):
        train_segmenter(x, y, 3, steps=0)
    model = Segmenter(num_classes=3)
    with pytest.raises(ValueError, match="2 maps but there are 1 images"):
        fcn_score(model, x[:1], y)


def _stack(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    samples = [dataset[i] for i in range(len(dataset))]
    return (torch.stack([d["B"] for d in samples]),
            torch.stack([d["class_map"] for d in samples]))


@pytest.mark.slow
@pytest.mark.parametrize("module, name", [("course_lib.data.facades", "SyntheticFacades"),
                                          ("course_lib.data.streets", "SyntheticStreets")])
def test_segmenter_parses_real_photos_of_the_course_datasets(tmp_path, module, name) -> None:
    """About a minute per dataset: the FCN-score upper bound on real val photos is high."""
    dataset_cls = getattr(pytest.importorskip(module), name)
    train = dataset_cls(image_size=64, split="train")
    val = dataset_cls(image_size=64, split="val")
    x, y = _stack(train)
    xv, yv = _stack(val)
    k = len(train.class_names)
    model = load_or_train_segmenter(train.dataset_name, tuple(x.shape[-2:]), x, y, k,
                                    cache_dir=tmp_path, progress=False)
    score = fcn_score(model, xv, yv)
    assert score.pixel_acc > 0.85 and score.class_acc > 0.7, score
