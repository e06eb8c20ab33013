"""The CPU's precision (bf16 autocast + channels_last + fused Adam where the CPU has native
bf16, float32 elsewhere), ``$COURSE_AMP``, the thread count, and a few bf16 training steps of
each model that resume from their checkpoints. The capability probe is mocked, so these pass
on any CPU."""
from __future__ import annotations

import math
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import course_lib.profiles as profiles
from course_lib.profiles import (AMP_VAR, amp_override, cores_in_cpuinfo, get_profile,
                                 native_cpu_bf16, precision_for, set_threads)
from course_lib.train.optim import adam, keep_implementation


@pytest.fixture(autouse=True)
def no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(AMP_VAR, raising=False)


@pytest.fixture
def native(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Pretend the CPU has (or lacks) native bf16: ``native("AMX")`` / ``native(None)``."""
    def pretend(kind: str | None) -> None:
        monkeypatch.setattr(profiles, "native_cpu_bf16", lambda: kind)
    return pretend


# -- the capability probe and the override ----------------------------------------------------
def test_native_bf16_probe_names_the_hardware_or_says_none(monkeypatch) -> None:
    assert native_cpu_bf16() in (None, "AMX", "AVX512-BF16", "BF16")

    def broken() -> bool:
        raise RuntimeError("not in this torch")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", broken, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert native_cpu_bf16() == "AVX512-BF16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", broken, raising=False)
    monkeypatch.setattr(profiles.platform, "machine", lambda: "x86_64")
    assert native_cpu_bf16() is None          # plain AVX-512 (emulated bf16) does not count


def test_course_amp_values_and_a_clear_error(monkeypatch) -> None:
    assert amp_override() == "auto"
    for raw, want in (("FP32", "fp32"), (" bf16 ", "bf16"), ("auto", "auto"), ("", "auto")):
        monkeypatch.setenv(AMP_VAR, raw)
        assert amp_override() == want
    monkeypatch.setenv(AMP_VAR, "fp16")
    with pytest.raises(ValueError, match=r"COURSE_AMP='fp16' is not one of auto, fp32, bf16"):
        get_profile("cpu", device="cpu")


# -- what each profile runs on a CPU ---------------------------------------------------------
def test_cpu_profile_uses_native_bf16_and_says_so(native) -> None:
    native("AMX")
    P = get_profile("cpu", device="cpu")
    assert (P.amp, P.channels_last, P.fused_adam) == ("bf16", True, True)
    assert "cpu: bf16 autocast + channels_last + fused Adam (native bf16: AMX)" in P.summary()
    for name in ("ci", "gpu"):                # the test suite and dry runs stay in float32
        Q = get_profile(name, device="cpu")
        assert (Q.amp, Q.channels_last, Q.fused_adam) == (None, False, False)
        assert "cpu: fp32 (" in Q.summary()


def test_cpu_without_native_bf16_runs_fp32(native) -> None:
    native(None)
    P = get_profile("cpu", device="cpu")
    assert (P.amp, P.channels_last, P.fused_adam) == (None, False, False)
    assert "cpu: fp32 (no native bf16)" in P.summary()


def test_course_amp_forces_either_way(native, monkeypatch) -> None:
    native("AMX")
    monkeypatch.setenv(AMP_VAR, "fp32")
    P = get_profile("cpu", device="cpu")
    assert (P.amp, P.channels_last, P.fused_adam) == (None, False, False)
    assert "fp32 (COURSE_AMP=fp32)" in P.summary()
    monkeypatch.setenv(AMP_VAR, "bf16")
    assert get_profile("ci", device="cpu").amp == "bf16"
    native(None)                                 # forced without hardware: works, warns
    with pytest.warns(UserWarning, match="emulated"):
        P = get_profile("cpu", device="cpu")
    assert P.amp == "bf16" and "no native bf16" in P.summary()


def test_cuda_keeps_its_mixed_precision(monkeypatch, native) -> None:
    native("AMX")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert precision_for("gpu", "cuda") == {"amp": "fp16", "channels_last": False,
                                             "fused_adam": False}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert precision_for("cpu", "cuda")["amp"] == "bf16"
    monkeypatch.setenv(AMP_VAR, "fp32")
    assert precision_for("gpu", "cuda")["amp"] is None


# -- threads ----------------------------------------------------------------------------------
CPUINFO_HT = "\n\n".join(f"processor\t: {i}\nphysical id\t: 0\ncore id\t\t: {i % 2}\n"
                         for i in range(4))   # 2 cores, 2 hyper-threads each


def test_physical_cores_from_cpuinfo() -> None:
    assert cores_in_cpuinfo(CPUINFO_HT) == 2
    assert cores_in_cpuinfo(CPUINFO_HT, allowed={0}) == 1
    two_sockets = CPUINFO_HT + "\n\n" + CPUINFO_HT.replace("physical id\t: 0", "physical id\t: 1")
    assert cores_in_cpuinfo(two_sockets) == 4
    assert cores_in_cpuinfo("processor : 0\n\nprocessor : 1\n") == 2   # no topology
    assert cores_in_cpuinfo("") is None
    assert profiles.physical_cores() is None or profiles.physical_cores() >= 1


def test_threads_use_physical_cores_unless_set(monkeypatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    monkeypatch.setattr(profiles, "physical_cores", lambda: torch.get_num_threads() + 1)
    monkeypatch.setattr(profiles, "_TORCH_DEFAULT_THREADS", torch.get_num_threads())
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    set_threads()
    assert calls == []                            # the user's OMP_NUM_THREADS stands
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    set_threads()
    assert calls == [torch.get_num_threads() + 1]
    calls.clear()
    monkeypatch.setattr(profiles, "_TORCH_DEFAULT_THREADS", torch.get_num_threads() + 5)
    set_threads()
    assert calls == []                            # torch.set_num_threads was called before


def test_setup_prints_the_precision_and_threads(capsys) -> None:
    from course_lib.session import setup

    P = setup("ci", device="cpu")
    line = capsys.readouterr().out
    assert P.threads == torch.get_num_threads()
    assert "cpu: fp32 (" in line and f"{P.threads} thread" in line


# -- fused Adam ------------------------------------------------------------------------------
def test_fused_and_plain_adam_checkpoints_load_into_each_other() -> None:
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3)
    fused = adam(net.parameters(), 1e-3, (0.5, 0.999), fused=True)
    assert fused.param_groups[0]["fused"] in (True, None)   # None: this torch has no fused
    net(torch.randn(2, 4)).sum().backward()
    fused.step()
    plain = adam(net.parameters(), 1e-3, (0.5, 0.999))
    keep_implementation(plain, fused.state_dict())
    assert not plain.param_groups[0]["fused"]                # still the plain loop
    for p in net.parameters():
        assert torch.equal(plain.state[p]["exp_avg"], fused.state[p]["exp_avg"])
    plain.step()
    keep_implementation(fused, plain.state_dict())
    assert fused.param_groups[0]["fused"] in (True, None)
    assert float(fused.state[next(net.parameters())]["step"]) == 2


# -- a few bf16 + channels_last + fused steps of each model --------------------------------
@pytest.fixture(scope="module")
def P_bf16():  # type: ignore[no-untyped-def]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield replace(get_profile("ci", device="cpu"), amp="bf16", channels_last=True,
                  fused_adam=True, train_size=8, eval_size=4)
    torch.set_num_threads(threads)


def _finite(run) -> None:  # type: ignore[no-untyped-def]
    assert run.history.rows
    for row in run.history.rows:
        bad = {k: v for k, v in row.items() if not math.isfinite(v)}
        assert not bad, bad


def _fused_and_nhwc(run) -> None:  # type: ignore[no-untyped-def]
    assert run.model.config.amp == "bf16"
    assert all(g["fused"] for o in run.model.optimizers.values() for g in o.param_groups)
    for m in run.model.modules.values():
        assert all(p.is_contiguous(memory_format=torch.channels_last)
                   for p in m.parameters() if p.dim() == 4)


def _resumes(train_fn, P, train, val, tmp_path: Path, **kw) -> None:  # type: ignore[no-untyped-def]
    whole = train_fn(P, train, None, steps=3, progress=False, **kw)
    first = train_fn(P, train, val, steps=3, stop_after=2, run_dir=tmp_path / "r",
                     progress=False, **kw)           # and evaluates the NHWC networks
    assert first.step == 2
    _finite(first)
    _fused_and_nhwc(first)
    shutil.copytree(tmp_path / "r", tmp_path / "plain")
    again = train_fn(P, train, None, steps=3, run_dir=tmp_path / "r", progress=False, **kw)
    assert again.resumed_from == 2 and again.finished
    for k, v in whole.G.state_dict().items():       # resume is exact under bf16 too
        assert torch.equal(v, again.G.state_dict()[k]), k
    # continue with plain Adam and NCHW tensors: the checkpoint loads either way
    second = train_fn(P, train, None, steps=3, run_dir=tmp_path / "plain", progress=False,
                      fused_adam=False, channels_last=False, **kw)
    assert second.resumed_from == 2 and second.finished
    assert not any(g["fused"] for o in second.model.optimizers.values() for g in o.param_groups)
    _finite(second)


def test_pix2pix_bf16_steps_and_resume(P_bf16, tmp_path) -> None:
    from course_lib.data import InMemoryPairs, SyntheticFacades
    from course_lib.experiment import train_pix2pix

    train = InMemoryPairs(SyntheticFacades(P_bf16.image_size, "train", seed=0), 8,
                          progress=False)
    val = InMemoryPairs(SyntheticFacades(P_bf16.image_size, "val", seed=0), 4, progress=False)
    _resumes(train_pix2pix, P_bf16, train, val, tmp_path)


def test_pix2pixhd_bf16_steps_with_features_and_resume(P_bf16, tmp_path) -> None:
    from course_lib.experiment_pix2pixhd import streets_pairs, train_pix2pixhd
    from course_lib.train.pix2pixhd import Pix2PixHDConfig

    train = streets_pairs(P_bf16, "train", n=4, progress=False)
    val = streets_pairs(P_bf16, "val", n=2, progress=False)
    _resumes(train_pix2pixhd, P_bf16, train, val, tmp_path,   # boundary map + instance features
             config=Pix2PixHDConfig(use_features=True))


def test_bicyclegan_bf16_steps_and_resume(P_bf16, tmp_path) -> None:
    from course_lib.data import InMemoryPairs, SyntheticShapes
    from course_lib.experiment_bicyclegan import train_bicyclegan

    train = InMemoryPairs(SyntheticShapes(image_size=P_bf16.image_size, split="train"), 8,
                          progress=False)
    val = InMemoryPairs(SyntheticShapes(image_size=P_bf16.image_size, split="val"), 4,
                        progress=False)
    _resumes(train_bicyclegan, P_bf16, train, val, tmp_path, num_z=2)


def test_warning_free_fp32_default(native) -> None:
    native(None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_profile("cpu", device="cpu")
