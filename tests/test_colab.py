"""Colab as a learner meets it: the notebooks' set-up cell, the dependency ranges, the widgets
under ipywidgets 7 and 8, and (slow) a simulated Colab machine running notebook 00.

The set-up cell is run here with ``pip`` replaced by a recorder (what would it install, from
where), in a kernel where ``course_lib`` is not importable; the slow test runs it for real.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402


# --------------------------------------------------------------------------- the set-up cell


def _run_bootstrap(monkeypatch: pytest.MonkeyPatch, cwd: Path, colab: bool = True,
                   repo_url: str | None = None) -> list[list[str]]:
    """Run the set-up cell in ``cwd`` as a kernel without course_lib; returns pip's argv's."""
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], check: bool = False, **kw: Any) -> Any:
        calls.append([str(c) for c in cmd])
        return subprocess.CompletedProcess(cmd, 0)

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "course_lib" else real_find_spec(name, *a))
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(cwd)
    if colab:
        monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-test")
    else:
        monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    if repo_url is None:
        monkeypatch.delenv("COURSE_REPO_URL", raising=False)
    else:
        monkeypatch.setenv("COURSE_REPO_URL", repo_url)
    exec(compile(make_student.bootstrap_source(ROOT), "bootstrap", "exec"), {})
    return calls


def _fake_clone(where: Path) -> Path:
    (where / "course_lib").mkdir(parents=True)
    (where / "course_lib" / "__init__.py").write_text("")
    (where / "pyproject.toml").write_text("[project]\nname = 'course_lib'\n")
    (where / "notebooks").mkdir()
    return where


def test_setup_cell_installs_from_the_published_url(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _run_bootstrap(monkeypatch, tmp_path)
    url = make_student.repo_url(ROOT)
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", f"git+{url}"]]
    calls = _run_bootstrap(monkeypatch, tmp_path, repo_url="file:///srv/my-fork")
    assert calls[0][-1] == "git+file:///srv/my-fork"          # COURSE_REPO_URL overrides


def test_setup_cell_uses_a_clone_made_in_colab(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    clone = _fake_clone(tmp_path / "i2i-gan-course")          # `!git clone` into /content
    (tmp_path / "sample_data").mkdir()
    for cwd in (tmp_path, clone, clone / "notebooks"):        # /content, or the notebook's folder
        calls = _run_bootstrap(monkeypatch, cwd)
        assert calls == [[sys.executable, "-m", "pip", "install", "-q", "-e", str(clone)]], cwd
        assert sys.path[0] == str(clone)                      # importable without a restart


def test_setup_cell_installs_a_wheel_beside_the_notebook(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("course_lib-0.1.0-py3-none-any.whl", "course_lib-0.2.0-py3-none-any.whl"):
        (tmp_path / name).write_bytes(b"")
    calls = _run_bootstrap(monkeypatch, tmp_path)
    assert calls == [[sys.executable, "-m", "pip", "install", "-q",
                      str(tmp_path / "course_lib-0.2.0-py3-none-any.whl")]]


def test_setup_cell_outside_colab_names_the_command(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_clone(tmp_path / "clone")
    with pytest.raises(ModuleNotFoundError, match="make lab"):
        _run_bootstrap(monkeypatch, tmp_path / "clone" / "notebooks", colab=False)


def test_dependency_ranges_keep_what_colab_has() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = {d.split(">")[0].split("<")[0].split("=")[0].strip(): d
            for d in meta["project"]["dependencies"]}
    for name in ("torch", "torchvision"):
        assert "<" not in deps[name], deps[name]              # no upper bound: keep Colab's
    assert deps["ipywidgets"] == "ipywidgets>=7.6"
    env = (ROOT / "environment.yml").read_text()
    assert "-e .[dev]" in env                                 # the same ranges, through pip
    assert "torch<" not in env and "ipywidgets>=8" not in env


# --------------------------------------------------------------------------- widgets


def test_colab_widget_manager_only_on_colab_with_ipywidgets_8(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from course_lib.widgets import frontend

    turned_on: list[bool] = []
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(  # type: ignore[attr-defined]
        enable_custom_widget_manager=lambda: turned_on.append(True))
    google = types.ModuleType("google")
    google.colab = colab  # type: ignore[attr-defined]
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setattr(frontend, "_enabled", False)
    for major, on, expect in ((8, False, False), (7, True, False), (8, True, True)):
        monkeypatch.setattr(frontend, "ipywidgets_major", lambda m=major: m)
        if on:
            monkeypatch.setitem(sys.modules, "google", google)
            monkeypatch.setitem(sys.modules, "google.colab", colab)
        assert frontend.enable_colab_widgets() is expect, (major, on)
    assert turned_on == [True]
    assert frontend.enable_colab_widgets() is True and turned_on == [True]   # once per kernel


def test_widgets_build_and_react_under_the_installed_ipywidgets() -> None:
    """Run under ipywidgets 8 (the course's environment) and 7.7.1 (Colab's long-time
    version, in a separate environment; see the README's Colab section): every control's
    callback redraws without error."""
    ipywidgets = pytest.importorskip("ipywidgets")
    import torch

    from course_lib.models.bicyclegan import LatentUNetGenerator
    from course_lib.widgets.latent import latent_explorer

    G = LatentUNetGenerator(nz=2, num_downs=4, ngf=4)
    box = latent_explorer(G, torch.rand(2, 3, 16, 16) * 2 - 1, interactive=True,
                          num_samples=2, steps=3)
    assert isinstance(box, ipywidgets.VBox)
    controls = [w for w in _walk(box) if isinstance(w, (ipywidgets.FloatSlider,
                                                        ipywidgets.IntSlider))]
    images = [w for w in _walk(box) if isinstance(w, ipywidgets.Image)]
    before = [bytes(i.value) for i in images]
    for c in controls:
        c.value = c.max
    for b in (w for w in _walk(box) if isinstance(w, ipywidgets.Button)):
        b.click()
    assert all(len(bytes(i.value)) > 8 for i in images)
    assert [bytes(i.value) for i in images] != before        # the callbacks redrew


def _walk(w: Any) -> list[Any]:
    out = [w]
    for c in getattr(w, "children", ()):
        out += _walk(c)
    return out


# --------------------------------------------------------------------------- a Colab machine


@pytest.mark.slow
def test_a_learner_on_colab_runs_notebook_00(tmp_path: Path) -> None:
    """A fresh virtual environment with torch and ipywidgets 7.7.1 preinstalled (as Colab's
    image has them) and ``COLAB_RELEASE_TAG`` set; the set-up cell installs the course from a clone of this
    repository given as ``COURSE_REPO_URL`` (``git+file://``); then notebook 00 runs at the
    ci profile. Python 3.11 here: Colab's 3.12 would need a 3.12 torch wheel, gigabytes
    from the registry; the cell and the package do not depend on the minor version.

    Takes a few minutes (installing torch from the local wheel cache).
    """
    if shutil.which("git") is None:
        pytest.skip("needs git")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    if subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True,
                      text=True).stdout.strip():
        # Uncommitted work: test what is in the working tree, as a commit of the clone.
        files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard",
                                "-z"], capture_output=True, text=True, check=True).stdout
        for rel in filter(None, files.split("\0")):
            if (ROOT / rel).is_file():
                (clone / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, clone / rel)
        subprocess.run(["git", "-C", str(clone), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@t",
                        "commit", "-qm", "working tree"], check=True)
    venv = tmp_path / "colab"
    py = sys.executable if sys.version_info[:2] == (3, 11) else shutil.which("python3.11")
    subprocess.run([py, "-m", "venv", str(venv)], check=True)
    vpy = str(venv / "bin" / "python")
    import torch
    import torchvision

    torch_version = torch.__version__.split("+")[0]
    tv_version = torchvision.__version__.split("+")[0]
    pre = [f"torch=={torch_version}", f"torchvision=={tv_version}", "ipywidgets==7.7.1",
           "ipykernel", "nbclient", "nbformat", "matplotlib", "numpy", "pillow", "tqdm"]
    subprocess.run([vpy, "-m", "pip", "install", "-q", *pre], check=True, timeout=1500)

    nb = json.loads((ROOT / "notebooks" / "00_data.ipynb").read_text())
    work = tmp_path / "content"                                # Colab's /content, no clone
    work.mkdir()
    (work / "00_data.ipynb").write_text(json.dumps(nb))
    script = (
        "import nbformat, sys\n"
        "from nbclient import NotebookClient\n"
        "nb = nbformat.read('00_data.ipynb', as_version=4)\n"
        "NotebookClient(nb, timeout=600, kernel_name='python3').execute()\n"
        "boot = nb.cells[[i for i, c in enumerate(nb.cells) if 'bootstrap' in "
        "c.metadata.get('tags', [])][0]]\n"
        "print('BOOTSTRAP', boot.outputs)\n"
        "print('OUTPUTS', [o.get('text', '') for c in nb.cells if c.cell_type == 'code' "
        "for o in c.outputs])\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(COLAB_RELEASE_TAG="release-colab-simulated", COURSE_PROFILE="ci",
               COURSE_REPO_URL=f"file://{clone}", MPLBACKEND="Agg", OMP_NUM_THREADS="1",
               PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    done = subprocess.run([vpy, "-c", script], cwd=work, env=env, capture_output=True,
                          text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    freeze = subprocess.run([vpy, "-m", "pip", "freeze"], capture_output=True, text=True,
                            check=True).stdout
    assert f"torch=={torch_version}" in freeze                   # Colab's torch kept,
    assert "ipywidgets==7.7.1" in freeze                          # and its ipywidgets
    assert "course_lib" in freeze.lower().replace("-", "_")
    assert "profile ci" in done.stdout or "'ci'" in done.stdout, done.stdout[-2000:]
