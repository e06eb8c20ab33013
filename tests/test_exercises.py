"""The exercise mechanism: pass, not done (fallback), failed (fallback), strict mode."""
from __future__ import annotations

import pytest
import torch

from course_lib.data.jitter import paired_jitter, resize
from course_lib.exercises import ExerciseFailed, check_paired_jitter, expect, run_check


def _ref(x: int) -> int:
    return 2 * x


def _check_double(fn) -> str:  # type: ignore[no-untyped-def]
    expect(fn(3) == 6, f"double(3) should be 6, got {fn(3)}")
    return "3 -> 6"


def test_pass_returns_learner(capsys: pytest.CaptureFixture[str]) -> None:
    def mine(x: int) -> int:
        return x + x
    assert run_check("double", mine, _ref, _check_double) is mine
    assert "[PASS] double" in capsys.readouterr().out


def test_not_done_falls_back(capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURSE_STRICT_EXERCISES", raising=False)

    def stub(x: int) -> int:
        raise NotImplementedError()
    assert run_check("double", stub, _ref, _check_double) is _ref
    out = capsys.readouterr().out
    assert "[TODO] double: not done yet" in out and "reference" in out


def test_wrong_answer_falls_back_with_reason(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURSE_STRICT_EXERCISES", raising=False)
    assert run_check("double", lambda x: x, _ref, _check_double) is _ref
    assert "double(3) should be 6, got 3" in capsys.readouterr().out

    def crash(x: int) -> int:
        return x / 0  # type: ignore[return-value]
    assert run_check("double", crash, _ref, _check_double) is _ref
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_strict_mode_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_STRICT_EXERCISES", "1")

    def stub(x: int) -> int:
        raise NotImplementedError()
    with pytest.raises(ExerciseFailed, match="not done"):
        run_check("double", stub, _ref, _check_double)
    with pytest.raises(ExerciseFailed, match="should be 6"):
        run_check("double", lambda x: x, _ref, _check_double)


def test_paired_jitter_checker_accepts_reference(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_STRICT_EXERCISES", "1")
    assert check_paired_jitter(paired_jitter) is paired_jitter
    assert "[PASS]" in capsys.readouterr().out


def _independent_crops(a, b, load_size, crop_size, generator=None):  # type: ignore[no-untyped-def]
    a, b = resize(a, load_size), resize(b, load_size)
    n = load_size - crop_size + 1
    i, j = (int(torch.randint(0, n, (1,), generator=generator)) for _ in range(2))
    return a[:, i:i + crop_size, i:i + crop_size], b[:, j:j + crop_size, j:j + crop_size]


def _no_flip(a, b, load_size, crop_size, generator=None):  # type: ignore[no-untyped-def]
    return paired_jitter(a, b, load_size, crop_size, generator=generator, flip=False)


def _crop_without_resize(a, b, load_size, crop_size, generator=None):  # type: ignore[no-untyped-def]
    return a[:, :crop_size, :crop_size], b[:, :crop_size, :crop_size]


@pytest.mark.parametrize("wrong, reason", [
    (_independent_crops, "different crops"),
    (_no_flip, "never mirrored"),
    (_crop_without_resize, "resize first"),
])
def test_paired_jitter_checker_catches_mistakes(wrong, reason: str,  # type: ignore[no-untyped-def]
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_STRICT_EXERCISES", "1")
    with pytest.raises(ExerciseFailed, match=reason):
        check_paired_jitter(wrong)


def test_a_fallback_is_reminded_in_every_later_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_lib.exercises import core

    monkeypatch.delenv("COURSE_STRICT_EXERCISES", raising=False)
    monkeypatch.setattr(core, "_IN_USE", {})

    def stub(x: int) -> int:
        raise NotImplementedError()
    double = run_check("double", stub, _ref, _check_double, verbose=False)
    ns = {"double": double, "_ref": _ref, "other": 1}
    later = core.reference_reminders("y = double(4)", ns)
    assert len(later) == 1 and "`double`" in later[0] and "not done" in later[0]
    assert core.reference_reminders("print(other)", ns) == []
    # after a kernel restart the set-up cell runs again: it lists what is still the reference
    assert "`double`" in core.reference_reminders("P = course_lib.setup()", ns)[0]
    # the exercise cell itself, which defines the name again, is left alone
    assert core.reference_reminders("def double(x):\n    return x + x", ns) == []
    # once the answer passes, the reminders stop
    mine = run_check("double", lambda x: x + x, _ref, _check_double, verbose=False)
    assert core.reference_reminders("y = double(4)", {"double": mine}) == []


def test_a_name_error_points_to_the_cells_above(capsys, monkeypatch) -> None:
    monkeypatch.delenv("COURSE_STRICT_EXERCISES", raising=False)

    def uses_torch(x: int) -> int:
        return undefined_name * x  # type: ignore[name-defined]  # noqa: F821
    assert run_check("double", uses_torch, _ref, _check_double) is _ref
    assert "after a kernel restart, run the cells above" in capsys.readouterr().out
