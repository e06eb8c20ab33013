"""One-call experiments: a tiny run trains and evaluates, and an interrupted run resumes exactly."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt  # conftest.py selects the Agg backend
import pytest
import torch

from course_lib.data import InMemoryPairs, SyntheticFacades
from course_lib.experiment import (compare_outputs, default_discriminator,
                                   evaluate_generator, generate, results_table, train_pix2pix)
from course_lib.metrics import train_segmenter
from course_lib.profiles import get_profile
from course_lib.train.pix2pix import Pix2Pix, Pix2PixConfig

P = replace(get_profile("ci", device="cpu"), train_size=8, eval_size=8)


@pytest.fixture(autouse=True, scope="module")
def one_thread():  # type: ignore[no-untyped-def]
    # Models this small run fastest on one thread, and a second busy process on a 2-core
    # machine then slows them down 2x instead of 10x (OpenMP threads spin while they wait).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data() -> tuple[InMemoryPairs, InMemoryPairs]:
    train = InMemoryPairs(SyntheticFacades(P.image_size, "train", seed=0), 8)
    val = InMemoryPairs(SyntheticFacades(P.image_size, "val", seed=0), 8)
    return train, val


@pytest.fixture(scope="module")
def segmenter(data):  # type: ignore[no-untyped-def]
    train, _ = data
    return train_segmenter(train.B, train.class_map, SyntheticFacades.num_classes, steps=15,
                           progress=False)


def _weights(run) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    return {f"{name}.{k}": v for name, m in run.model.modules.items()
            for k, v in m.state_dict().items()}


def test_tiny_run_records_losses_samples_and_a_sane_evaluation(data, segmenter) -> None:
    train, val = data
    run = train_pix2pix(P, train, val, steps=4, segmenter=segmenter, sample_every=2,
                        eval_every=4, progress=False, name="tiny")
    assert run.finished and run.step == 4 and run.resumed_from is None
    rows = run.history.rows
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for key in ("loss_D", "loss_G", "loss_G_GAN", "loss_G_L1", "D_real", "D_fake"):
        assert all(math.isfinite(r[key]) for r in rows), key
    assert [s for s, _ in run.samples] == [0, 2, 4]
    assert run.samples[-1][1].shape == (4, 3, P.image_size, P.image_size)
    assert [s for s, _ in run.evals] == [4]

    ev = run.evaluation
    assert ev is not None and ev.count == 8 and ev.test_mode == "paper"
    for score in (ev.fcn, ev.fcn_real):
        assert score is not None
        for v in score.as_dict().values():
            assert 0.0 <= v <= 1.0
    assert ev.sharpness >= 0 and ev.sharpness_inside >= 0 and ev.color_spread >= 0
    assert 0.0 <= ev.l1 <= 2.0
    assert ev.fake is not None and ev.fake.abs().max() <= 1.0
    # The evaluation of the last periodic step is the final one (same G, same seed).
    assert run.evals[0][1].as_dict() == pytest.approx(ev.as_dict())
    table = results_table({"tiny": run})
    assert "tiny" in table and "real photos (upper bound)" in table
    fig = run.plot_history()
    assert len(fig.axes) == 2
    assert len(compare_outputs({"tiny": run}, n=6).axes) == 3 * 6   # input, target, output rows
    assert len(run.show_samples().axes) == (2 + 3) * 4                 # + steps 0, 2, 4
    plt.close("all")


def test_interrupted_run_resumes_to_the_same_weights(data, tmp_path: Path) -> None:
    train, val = data
    kwargs = dict(steps=6, checkpoint_every=2, sample_every=3, progress=False)
    straight = train_pix2pix(P, train, val, run_dir=tmp_path / "a", **kwargs)

    first = train_pix2pix(P, train, val, run_dir=tmp_path / "b", stop_after=4, **kwargs)
    assert first.step == 4 and not first.finished
    resumed = train_pix2pix(P, train, val, run_dir=tmp_path / "b", **kwargs)
    assert resumed.resumed_from == 4 and resumed.finished

    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ"
    assert straight.history.rows == resumed.history.rows
    assert [s for s, _ in resumed.samples] == [0, 3, 6]
    assert torch.equal(straight.samples[-1][1], resumed.samples[-1][1])

    # A finished run is reloaded, not retrained; other settings in the same folder are refused.
    again = train_pix2pix(P, train, val, run_dir=tmp_path / "b", **kwargs)
    assert again.resumed_from == 6 and torch.equal(_weights(again)["G." + next(
        iter(again.G.state_dict()))], b["G." + next(iter(again.G.state_dict()))])
    with pytest.raises(ValueError, match="lambda_l1"):
        train_pix2pix(P, train, val, run_dir=tmp_path / "b",
                      config=Pix2PixConfig(lambda_l1=10.0), **kwargs)


def test_keyboard_interrupt_mid_step_resumes_from_the_last_checkpoint(
        data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    train, _ = data
    kwargs = dict(steps=6, checkpoint_every=2, progress=False)
    straight = train_pix2pix(P, train, None, run_dir=tmp_path / "a", **kwargs)

    original, calls = Pix2Pix.train_step, []

    def interrupted(self, batch):  # type: ignore[no-untyped-def]
        out = original(self, batch)           # the networks moved on ...
        calls.append(1)
        if len(calls) == 5:                   # ... but the loop never counts step 5
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(Pix2Pix, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_pix2pix(P, train, None, run_dir=tmp_path / "b", **kwargs)
    assert "last checkpoint in" in (out := capsys.readouterr().out) and "at step 4" in out
    monkeypatch.setattr(Pix2Pix, "train_step", original)
    resumed = train_pix2pix(P, train, None, run_dir=tmp_path / "b", **kwargs)
    assert resumed.resumed_from == 4
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ"


def test_test_mode_is_explicit_and_leaves_no_trace(data) -> None:
    train, _ = data
    run = train_pix2pix(P, train, None, steps=2, progress=False)
    G = run.G
    buffers = {k: v.clone() for k, v in G.named_buffers()}
    rng = torch.get_rng_state()
    paper = generate(G, train.A, "paper", batch_size=4)
    assert torch.equal(paper, generate(G, train.A, "paper", batch_size=4))  # seeded dropout
    assert not torch.equal(paper, generate(G, train.A, "eval", batch_size=4))
    assert torch.equal(rng, torch.get_rng_state())
    assert all(torch.equal(v, buffers[k]) for k, v in G.named_buffers())
    assert G.training
    with pytest.raises(ValueError, match="test_mode='train'"):
        evaluate_generator(G, train, None, test_mode="train")  # type: ignore[arg-type]


def test_bad_inputs_get_clear_errors(data) -> None:
    train, _ = data
    with pytest.raises(ValueError, match="in_channels=6"):
        train_pix2pix(P, train, None, steps=1, progress=False,
                      discriminator=default_discriminator(P, conditional=False))
    with pytest.raises(ValueError, match="fewer than one batch"):
        train_pix2pix(P, InMemoryPairs(train, 2), None, steps=1, progress=False)
    with pytest.raises(ValueError, match="n=0"):
        InMemoryPairs(train, 0)


def test_train_variants_builds_lazily_and_names_folders(tmp_path, data):
    from course_lib.experiment import run_folder_name, train_variants

    train, val = data
    built = []

    def small_d():
        built.append(1)
        return default_discriminator(P, n_layers=1)

    runs = train_variants(P, train, val, {"L1": {"config": Pix2PixConfig(use_gan=False)},
                                          "L1+cGAN": {"discriminator": small_d}},
                          run_root=tmp_path, steps=2, progress=False)
    assert list(runs) == ["L1", "L1+cGAN"] and built == [1]
    assert runs["L1"].D is None and runs["L1+cGAN"].finished
    assert (tmp_path / "L1_cGAN" / "last.pt").is_file()
    assert run_folder_name("PatchGAN 70x70") == "PatchGAN_70x70"
    with pytest.raises(ValueError, match="same run folder"):
        train_variants(P, train, val, {"a+b": {}, "a b": {}}, steps=1)
    with pytest.raises(ValueError, match="empty"):
        train_variants(P, train, val, {})


def test_channels_last_trains_to_the_same_weights(data):
    train, _ = data
    plain = train_pix2pix(P, train, None, steps=2, progress=False)
    fast = train_pix2pix(P, train, None, steps=2, progress=False, channels_last=True)
    # Same start, same batches; the convolutions sum in another order, and Adam's first steps
    # move each weight by about lr whatever the gradient's size, so a gradient near zero may
    # flip sign: allow a few lr per step of difference (the weights themselves are ~0.02).
    bound = 5 * Pix2PixConfig().lr * 2
    for a, b in zip(plain.G.parameters(), fast.G.parameters()):
        assert (a - b).abs().max() <= bound
    assert all(p.is_contiguous(memory_format=torch.channels_last)
               for p in fast.G.parameters() if p.dim() == 4)
