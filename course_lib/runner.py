"""What ``python -m course_lib train / evaluate / sample`` do, for every model of the registry.

* :func:`train` resolves the data (:mod:`course_lib.data.resolve`), joins the torchrun process
  group if there is one (:mod:`course_lib.train.distributed`), builds the model from its recipe
  (:mod:`course_lib.recipes`), and runs :class:`~course_lib.train.engine.TrainingLoop` into a
  run folder (:class:`~course_lib.run_dir.RunDir`): ``config.json``, ``last.pt`` (atomic,
  resumable with ``resume=True``), ``history.csv``/``.json``, ``samples/step_*.png`` and, at
  the end, ``metrics.json``.
* :func:`evaluate` rebuilds a run's generator from its checkpoint and measures it on the run's
  validation data (or other data).
* :func:`sample` translates a folder of images with a run's generator.

All three take plain keyword arguments (the CLI's options), so notebooks and tests can call
them directly; the CLI only parses arguments.
"""
from __future__ import annotations

import contextlib
import json
import math
import platform
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

import course_lib
from course_lib.data.resolve import DataChoice, data_from_spec, resolve_data
from course_lib.profiles import PROFILES, cap_steps
from course_lib.recipes import Recipe, TrainSettings, get_recipe
from course_lib.run_dir import RunDir, hold_run_folder
from course_lib.train.checkpoint import load_checkpoint, unwrap
from course_lib.train.distributed import (DistributedContext, init_distributed, local_copy,
                                          max_param_divergence, shutdown)
from course_lib.train.engine import LoopConfig, TrainingLoop

__all__ = ["PAPER_DEFAULTS", "train", "evaluate", "sample", "SampleFailures", "default_run_dir",
           "describe_metrics"]

# pix2pix Sec. 4 and 6.2: 256x256 crops of images resized to 286, batch 1, 200 epochs
# (100 at a constant rate, 100 decaying), ngf = ndf = 64, 400 facades.
PAPER_DEFAULTS: dict[str, Any] = {"image_size": 256, "ngf": 64, "ndf": 64, "batch_size": 1,
                                  "epochs": 200, "train_size": 400, "eval_size": 100}

# Options that may change between a run and its resumption without changing its result.
_MAY_DIFFER = ("train.world_size", "train.device", "train.num_workers", "train.compile",
               "train.channels_last", "train.sample_every", "train.checkpoint_every",
               "train.log_every", "train.progress", "versions", "train.eval_pairs",
               "train.fcn")


def default_run_dir(model: str, data: DataChoice) -> Path:
    """``runs/<data>_<model>``, e.g. ``runs/facades_pix2pix``."""
    stem = data.spec.get("name") or Path(str(data.spec.get("root", "data"))).name
    return Path("runs") / f"{stem}_{model}"


def _print(ctx: DistributedContext, *args: Any) -> None:
    if ctx.is_main:
        print(*args, flush=True)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in unwrap(module).parameters())


def _segmenter(data: DataChoice, profile: str | None, device: str, progress: bool) -> Any:
    """The FCN-score segmenter of procedural data (trained on its real photos, cached)."""
    if data.num_classes is None or data.dataset_name is None:
        return None
    from course_lib.experiment import segmenter_for

    base = PROFILES.get(profile or "gpu", PROFILES["gpu"])
    P = replace(base, name=profile or "cli", image_size=data.size[0],
                train_size=len(data.train), device="cpu")  # type: ignore[arg-type]
    return segmenter_for(P, data.train, name=data.dataset_name, progress=progress)


def _sample_pairs(data: DataChoice, n: int) -> dict[str, torch.Tensor]:
    source = data.val if data.val is not None else data.train
    n = min(n, len(source))  # type: ignore[arg-type]
    items = [source[i] for i in range(n)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]
            if torch.is_tensor(items[0][k])}   # "A", "B" and any maps (class, instance)


def _sizes(profile: str | None) -> dict[str, Any]:
    """Defaults for the sizes: the profile's when one is named, else the paper's."""
    if profile is None:
        return dict(PAPER_DEFAULTS)
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: use {', '.join(PROFILES)}")
    P = PROFILES[profile]
    return {"image_size": P.image_size, "ngf": P.ngf, "ndf": P.ndf, "batch_size": P.batch_size,
            "steps": P.steps, "train_size": P.train_size, "eval_size": P.eval_size,
            "num_workers": P.num_workers}


def train(model: str, data: str, *, run_dir: str | Path | None = None, resume: bool = False,
          profile: str | None = None, steps: int | None = None, epochs: float | None = None,
          batch_size: int | None = None, image_size: int | None = None,
          load_size: int | None = None, direction: str | None = None,
          train_size: int | None = None, eval_size: int | None = None,
          data_root: str = "data", device: str | None = None, amp: str | None = None,
          channels_last: bool = False, compile: bool = False, sync_bn: bool = True,
          num_workers: int | None = None, seed: int = 0, log_every: int | None = None,
          sample_every: int | None = None, checkpoint_every: int | None = None,
          num_samples: int = 4, test_mode: str | None = None, evaluate_at_end: bool = True,
          fcn: bool = True, progress: bool = True, stop_after: int | None = None,
          model_args: Mapping[str, Any] | None = None) -> RunDir:
    """Train ``model`` on ``data`` into a run folder; returns the :class:`RunDir`.

    Sizes default to the paper's (256 px, batch 1, 200 epochs, widths 64) or, with
    ``profile``, to that profile's (``ci``, ``cpu``, ``gpu``); explicit arguments win.
    Under torchrun, ``batch_size`` is the *global* batch (default: one pair per process, the
    paper's batch 1 on each GPU) and only rank 0 writes. ``stop_after`` ends the run early
    at that step (a later call with ``resume=True`` continues it), for training in chunks.
    ``model_args`` are the recipe's own options (see ``train MODEL --help``).
    """
    recipe = get_recipe(model)
    recipe.check_available()
    _check_train_arguments(epochs=epochs, image_size=image_size, load_size=load_size,
                           train_size=train_size, eval_size=eval_size, batch_size=batch_size,
                           num_workers=num_workers, log_every=log_every,
                           sample_every=sample_every, checkpoint_every=checkpoint_every,
                           num_samples=num_samples, stop_after=stop_after)
    ctx = init_distributed(device)
    try:
        with contextlib.ExitStack() as held:   # the run folder's lock, released at exit
            return _train(recipe, ctx, held, data=data, run_dir=run_dir, resume=resume,
                          profile=profile, steps=steps, epochs=epochs, batch_size=batch_size,
                          image_size=image_size, load_size=load_size, direction=direction,
                          train_size=train_size, eval_size=eval_size, data_root=data_root,
                          amp=amp, channels_last=channels_last, compile=compile,
                          sync_bn=sync_bn, num_workers=num_workers, seed=seed,
                          log_every=log_every, sample_every=sample_every,
                          checkpoint_every=checkpoint_every, num_samples=num_samples,
                          test_mode=test_mode, evaluate_at_end=evaluate_at_end, fcn=fcn,
                          progress=progress, stop_after=stop_after,
                          model_args=dict(model_args or {}))
    finally:
        shutdown(ctx)


def _check_train_arguments(**values: Any) -> None:
    """One-line refusals for sizes and counts that would otherwise be replaced silently."""
    positive = ("epochs", "image_size", "load_size", "train_size", "eval_size", "batch_size",
                "log_every", "num_samples", "stop_after")
    hints = {"eval_size": " (--no-eval skips the final evaluation)",
             "num_samples": " (--sample-every 0 turns the sample grids off)",
             "stop_after": " (the step at which to stop; continue later with --resume)"}
    for name, value in values.items():
        if value is None:
            continue
        option = "--workers" if name == "num_workers" else "--" + name.replace("_", "-")
        shown = f"{value:g}" if isinstance(value, float) else value
        if name in positive and not value > 0:
            raise ValueError(f"{option} must be positive, got {shown}{hints.get(name, '')}")
        if name not in positive and value < 0:
            raise ValueError(f"{option} must be 0 or more, got {shown}")


def _stored_config(run: RunDir, ctx: DistributedContext) -> dict[str, Any]:
    """The settings a checkpointed run was started with: ``config.json``, or, when that is
    missing, the copy inside ``last.pt`` (rank 0 writes it back to ``config.json``)."""
    if (run.path / RunDir.CONFIG).is_file():
        return run.read_config()
    stored = load_checkpoint(run.checkpoint).get("meta", {}).get("config")
    if not isinstance(stored, dict):
        raise FileNotFoundError(
            f"{run.path / RunDir.CONFIG} is missing and {run.checkpoint} holds no copy of the "
            "run's settings (an older course_lib wrote it), so they cannot be checked: restore "
            "config.json, or delete the folder to start afresh")
    if ctx.is_main:
        run.write_config(stored)
        print(f"note: {run.path / RunDir.CONFIG} was missing; rebuilt it from the copy of the "
              f"settings in {run.checkpoint}", file=sys.stderr, flush=True)
    return stored


def _train(recipe: Recipe, ctx: DistributedContext, held: contextlib.ExitStack, *, data: str,
           run_dir: str | Path | None,
           resume: bool, profile: str | None, steps: int | None, epochs: float | None,
           batch_size: int | None, image_size: int | None, load_size: int | None,
           direction: str | None, train_size: int | None, eval_size: int | None,
           data_root: str, amp: str | None, channels_last: bool, compile: bool, sync_bn: bool,
           num_workers: int | None, seed: int, log_every: int | None,
           sample_every: int | None, checkpoint_every: int | None, num_samples: int,
           test_mode: str | None, evaluate_at_end: bool, fcn: bool, progress: bool,
           stop_after: int | None, model_args: dict[str, Any]) -> RunDir:
    defaults = recipe.default_hyperparameters()
    unknown = sorted(set(model_args) - set(defaults))
    if unknown:
        raise ValueError(f"{recipe.name} has no option(s) {unknown}; it takes {sorted(defaults)}")
    model_args = {**defaults, **model_args}
    recipe.check_data(data)
    sizes = {**_sizes(profile), **recipe.default_sizes(model_args, profile)}
    image_size = int(image_size if image_size is not None else sizes["image_size"])
    show = progress and ctx.is_main
    choice = resolve_data(data, image_size=image_size, direction=direction, load_size=load_size,
                          train_size=int(train_size if train_size is not None
                                         else sizes["train_size"]),
                          eval_size=eval_size if eval_size is not None else sizes["eval_size"],
                          root=data_root, seed=seed, progress=show)
    for key in ("ngf", "ndf"):
        if key in model_args and model_args[key] is None:
            model_args[key] = sizes[key]
    n_train = len(choice.train)  # type: ignore[arg-type]

    groups = recipe.batch_groups(model_args)        # BicycleGAN's hybrid: two halves
    unit = groups * ctx.world_size                     # the global batch is a multiple of it
    if batch_size is None:
        batch_size = sizes["batch_size"] if profile else 1
        if batch_size % unit:
            batch_size = unit * max(1, batch_size // unit)
    if batch_size % unit:
        per = f" and into {groups} parts per process" if groups > 1 else ""
        few = (f"; {ctx.world_size} processes need at least {unit} pairs per step"
               if batch_size < unit and ctx.world_size > 1 else "")
        raise ValueError(f"--batch-size {batch_size} is the global batch, split over the "
                         f"{ctx.world_size} process(es){per}: it must be a multiple of {unit}"
                         f"{few} (use --batch-size {unit * max(1, batch_size // unit)}"
                         f"{'' if ctx.world_size == 1 else ' or fewer processes'})")
    if n_train < batch_size:
        raise ValueError(f"the training set has {n_train} pairs, fewer than one batch of "
                         f"{batch_size}: lower --batch-size or add pairs")
    if steps is None:
        if epochs is None and profile is not None:
            steps = int(sizes["steps"])
        else:
            epochs = float(epochs if epochs is not None
                           else sizes.get("epochs", PAPER_DEFAULTS["epochs"]))
            steps = max(1, math.ceil(epochs * (n_train // batch_size)))
    if steps < 1:
        raise ValueError(f"--steps must be positive, got {steps}")
    steps = cap_steps(steps)                       # $COURSE_MAX_STEPS, for dry runs
    test_mode = test_mode or recipe.default_test_mode
    if num_workers is None:
        num_workers = 0 if choice.kind == "procedural" else int(sizes.get("num_workers", 4))
    log_every = log_every or max(1, min(100, steps // 100))
    sample_every = sample_every if sample_every is not None else max(1, steps // 10)
    checkpoint_every = checkpoint_every if checkpoint_every is not None else \
        max(1, min(steps // 10, 5000))

    settings = TrainSettings(steps=steps, batch_size=batch_size, seed=seed, amp=amp,
                             channels_last=channels_last, compile=compile, sync_bn=sync_bn)
    hp = recipe.complete_hyperparameters(model_args, profile=profile, steps=steps,
                                         size=choice.size)
    config = {
        "model": recipe.name,
        "data": {**choice.spec, "label": choice.label},
        "model_args": hp,
        "train": {**asdict(settings), "image_size": list(choice.size), "test_mode": test_mode,
                  "world_size": ctx.world_size, "device": ctx.device,
                  "num_workers": num_workers, "log_every": log_every,
                  "sample_every": sample_every, "checkpoint_every": checkpoint_every,
                  "profile": profile},
        "versions": {"course_lib": course_lib.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
    }
    run = RunDir(run_dir if run_dir is not None else default_run_dir(recipe.name, choice))
    if ctx.is_main:   # one writer per folder: refuses a live holder, takes over a dead one's
        held.enter_context(hold_run_folder(run.path))
        for leftover in run.remove_stale_temporaries():
            print(f"note: removed {leftover}, a temporary file left by a writer that was "
                  "stopped during a save", file=sys.stderr, flush=True)
    elif run.path.exists() and not run.path.is_dir():
        raise ValueError(f"--run-dir {run.path} is a file, not a folder: pass a folder path")
    if run.has_checkpoint():
        if not resume:
            raise FileExistsError(
                f"{run.path} already holds a run (step {run.step()}): pass --resume to continue "
                "it, another --run-dir for a new run, or delete the folder")
        run.check_resumable(config, may_differ=_MAY_DIFFER, stored=_stored_config(run, ctx))
    elif resume:
        _print(ctx, f"note: --resume, but {run.path} holds no checkpoint ({RunDir.CHECKPOINT}) "
                    "yet: starting a new run there")
    _print(ctx, f"data: {choice.label}")
    for note in choice.notes:
        _print(ctx, f"note: {note}")

    trainer = recipe.build(hp, choice, ctx, settings)
    loop_cfg = LoopConfig(steps=steps, batch_size=batch_size, seed=seed, log_every=log_every,
                          checkpoint_every=checkpoint_every, callback_every=sample_every,
                          run_dir=run.path, num_workers=num_workers, progress=show,
                          channels_last=channels_last, rank=ctx.rank,
                          world_size=ctx.world_size, batch_groups=groups)
    loop = TrainingLoop(trainer.step, trainer.modules, trainer.optimizers, loop_cfg,
                        schedulers=trainer.schedulers, model_configs=trainer.model_configs)
    if resume and run.has_checkpoint():
        loop.resume()
        _print(ctx, f"resuming {run.path} at step {loop.step} of {steps}")
    # last.pt keeps its own copy of the settings it runs with (as plain as config.json)
    loop.meta["config"] = json.loads(json.dumps(config, default=str))
    if ctx.rank > 0 and trainer.rank_streams:  # own dropout stream; rank 0 = one process
        torch.manual_seed(seed + 7919 * ctx.rank + loop.step)
    if ctx.is_main:
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_config(config)
        sizes_text = ", ".join(f"{k} {_count(m) / 1e6:.2f}M" for k, m in trainer.modules.items())
        print(f"{recipe.title}: {sizes_text} parameters; {steps} steps of {batch_size} pair(s)"
              f"{f' ({batch_size // ctx.world_size} per process x {ctx.world_size})' if ctx.world_size > 1 else ''}"
              f" on {ctx.device}; run folder {run.path}", flush=True)

    samples = _sample_pairs(choice, num_samples)
    G = trainer.modules[trainer.generator]

    def snapshot() -> nn.Module:
        bare = local_copy(G) if ctx.distributed else unwrap(G)
        return trainer.generator_view(bare) if trainer.generator_view is not None else bare

    def write_samples(lp: TrainingLoop) -> None:
        if ctx.is_main and sample_every and lp.step % sample_every == 0:
            out = recipe.translate_pairs(snapshot(), samples, test_mode,
                                         min(batch_size, len(samples["A"])), seed)
            run.save_grid(lp.step, {"input": samples["A"], "target": samples["B"],
                                    "output": out})

    target = steps if stop_after is None else min(stop_after, steps)
    if stop_after is not None and loop.step >= target and loop.step < steps:
        _print(ctx, f"note: the run is already at step {loop.step}, not before --stop-after "
                    f"{stop_after}: nothing to train")
    start_step = loop.step
    t0 = time.perf_counter()
    if loop.step < target:
        loop.config.steps = target
        try:
            loop.run(choice.train, on_interval=write_samples, desc=recipe.name)
        finally:
            loop.config.steps = steps
    seconds = time.perf_counter() - t0
    divergence = max_param_divergence(trainer.modules, ctx)
    if ctx.is_main:
        run.write_history(loop.history)
        if loop.step >= steps and evaluate_at_end:
            metrics: dict[str, Any] = {"step": loop.step, "steps": steps}
            seg = _segmenter(choice, profile, ctx.device, show) if fcn else None
            metrics.update(recipe.evaluate(snapshot(), choice.val, choice, test_mode=test_mode,
                                           batch_size=batch_size, seed=seed, segmenter=seg))
            trained = loop.step - start_step
            metrics["train_seconds_this_session"] = round(seconds, 3)
            if trained:
                metrics["pairs_per_second"] = round(trained * batch_size / seconds, 3)
            metrics["world_size"] = ctx.world_size
            metrics["ddp_max_param_divergence"] = divergence
            run.write_metrics(metrics)
            shown = {k: v for k, v in metrics.items() if isinstance(v, float)}
            print("metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()), flush=True)
        print(f"done: step {loop.step} of {steps}; {run.path}", flush=True)
    return run


def _load(run_dir: str | Path) -> tuple[RunDir, dict[str, Any], Recipe, dict[str, Any]]:
    run = RunDir(run_dir)
    config = run.read_config()
    recipe = get_recipe(config["model"])
    recipe.check_available()
    if not run.has_checkpoint():
        raise FileNotFoundError(f"{run.path} has no checkpoint ({RunDir.CHECKPOINT}) yet: train "
                                "first")
    return run, config, recipe, load_checkpoint(run.checkpoint)


def evaluate(run_dir: str | Path, *, data: str | None = None, split: str | None = None,
             n: int | None = None, test_mode: str | None = None, batch_size: int | None = None,
             seed: int = 0, fcn: bool = True, device: str | None = None,
             data_root: str = "data", output: str | Path | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Measure a run's generator (from ``last.pt``) on validation pairs; returns the metrics
    and writes them to ``output`` (default ``RUN/metrics_<data>.json``).

    Args:
        data: other data to evaluate on (default: the run's own validation set).
        split: for ``data`` folders with splits: ``val`` or ``test`` (default: val, else test).
        n: evaluate the first ``n`` pairs.
        test_mode: ``"paper"`` (dropout on, batch statistics) or ``"eval"``; default the run's.
    """
    run, config, recipe, state = _load(run_dir)
    train_cfg = config["train"]
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    G = recipe.generator_from_state(state).to(dev)
    h, w = train_cfg["image_size"]
    if data is None:
        choice = data_from_spec(config["data"], progress=progress)
        label = "val"
    else:
        recipe.check_data(data)
        spec = config["data"]
        profile = train_cfg.get("profile")
        train_size = spec.get("train_size") or (PROFILES[profile].train_size if profile
                                                 in PROFILES else PAPER_DEFAULTS["train_size"])
        choice = resolve_data(data, image_size=h, direction=spec.get("direction"),
                              train_size=int(train_size),
                              eval_size=n, root=data_root, progress=progress)
        label = Path(data).name.replace(":", "_")
    val = choice.val
    if split is not None and choice.kind != "procedural":
        from course_lib.data.paired import PairedImageDataset

        val = PairedImageDataset(choice.spec["root"], split=split,
                                 direction=choice.spec["direction"], load_size=h, crop_size=h,
                                 augment=False)
        label = f"{label}_{split}"
    if val is None:
        raise ValueError("no validation pairs to evaluate on: pass --data with a val/ folder")
    mode = test_mode or train_cfg.get("test_mode", recipe.default_test_mode)
    seg = _segmenter(choice, train_cfg.get("profile"), dev, progress) if fcn else None
    metrics = recipe.evaluate(G, val, choice, test_mode=mode,
                              batch_size=int(batch_size or train_cfg["batch_size"]), seed=seed,
                              n=n, segmenter=seg)
    metrics = {"step": int(state["step"]), "data": choice.label, **metrics}
    out = Path(output) if output is not None else run.path / f"metrics_{label}_{mode}.json"
    from course_lib.run_dir import write_json_atomic

    write_json_atomic(out, metrics)
    return {**metrics, "written_to": str(out)}


def _input_files(path: Path) -> list[Path]:
    from course_lib.data.paired import IMAGE_EXTENSIONS

    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"--input {path}: no such file or folder")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS
                   and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if not files:
        raise FileNotFoundError(f"--input {path} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


class SampleFailures(ValueError):
    """Some inputs of :func:`sample` could not be translated; the others were written.

    Attributes:
        written: the outputs that were written.
        failures: ``(input path, message naming it)`` of each input not translated.
    """

    def __init__(self, written: list[Path], failures: list[tuple[Path, str]], total: int,
                 out_dir: Path) -> None:
        self.written, self.failures = written, failures
        shown = "; ".join(why for _, why in failures[:5])
        more = f"; ... and {len(failures) - 5} more" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} of {total} input image(s) could not be translated "
                         f"(the other {total - len(failures)} are in {out_dir}): {shown}{more}")


def _output_names(files: list[Path], src: Path, num: int) -> list[list[Path]]:
    """Relative output names, ``num`` per input: ``name.png`` (``name_k.png`` for several
    draws), or ``name_ext.png`` when inputs of one folder share a stem (``x.jpg``, ``x.png``);
    never two alike."""
    rels = [p.relative_to(src) if src.is_dir() else Path(p.name) for p in files]
    stems: dict[Path, int] = {}
    for rel in rels:
        stems[rel.with_suffix("")] = stems.get(rel.with_suffix(""), 0) + 1
    used: set[str] = set()
    names: list[list[Path]] = []
    for rel in rels:
        base = rel.with_suffix("")
        if stems[base] > 1:
            base = base.with_name(f"{base.name}_{rel.suffix.lstrip('.').lower()}")
        draws = []
        for k in range(num):
            stem, n = base.name + (f"_{k}" if num > 1 else ""), 1
            candidate = base.with_name(stem + ".png")
            while candidate.as_posix().lower() in used:   # case-insensitive file systems too
                n += 1
                candidate = base.with_name(f"{stem}_{n}.png")
            used.add(candidate.as_posix().lower())
            draws.append(candidate)
        names.append(draws)
    return names


def _check_output_folder(src: Path, out_dir: Path) -> None:
    """Refuse an ``--output`` that is, or lies inside, ``--input`` (or is a file)."""
    src_r, out_r = src.resolve(), out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--output {out_dir} is a file: pass a folder for the outputs")
    if src.is_dir() and (out_r == src_r or src_r in out_r.parents):
        where = "--input" if out_r == src_r else "inside --input"
        raise ValueError(f"--output {out_dir} is {where} {src}: the outputs would mix with, or "
                         "overwrite, your images; pass a folder outside it")


def plan_outputs(src: Path, out_dir: Path, num: int,
                 overwrite: bool) -> tuple[list[Path], list[list[Path]]]:
    """The input images under ``src`` and, for each, its ``num`` output paths under ``out_dir``.

    Refuses, before anything is written: an ``out_dir`` that is ``src`` or lies inside it (or
    is a file), an output that would land on an input, and outputs that already exist unless
    ``overwrite``.
    """
    files = _input_files(src)
    _check_output_folder(src, out_dir)
    names = [[out_dir / rel for rel in draws] for draws in _output_names(files, src, num)]
    inputs_resolved = {p.resolve() for p in files}
    targets = [t for draws in names for t in draws]
    clobbered = [t for t in targets if t.resolve() in inputs_resolved]
    if clobbered:
        raise ValueError(f"--output {out_dir} would write {clobbered[0]} over an input image: "
                         "pass another --output folder")
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"--output {out_dir} already holds {len(existing)} of the {len(targets)} output(s) "
            f"(e.g. {existing[0]}): pass --overwrite to replace them, or another --output")
    return files, names


def skipped(path: Path, err: Exception) -> tuple[Path, str]:
    """``(path, one-line reason naming it)`` for an input that could not be read; says so."""
    reason = str(err).split("\n")[0]
    reason = reason if str(path) in reason else f"{path}: {reason}"
    print(f"skipped {reason}", file=sys.stderr, flush=True)
    return path, reason


def save_image(y: torch.Tensor, target: Path) -> Path:
    """Write a ``(3, H, W)`` image in [-1, 1] as an 8-bit PNG at ``target``."""
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    array = y.clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    Image.fromarray(array).save(target)
    return target


def sample(run_dir: str | Path, inputs: str | Path, output: str | Path, *,
           ab: bool = False, direction: str | None = None, test_mode: str | None = None,
           num: int = 1, seed: int = 0, device: str | None = None,
           overwrite: bool = False) -> list[Path]:
    """Translate every image under ``inputs`` (a file or a folder) with a run's generator.

    Each input is resized to the run's training size; outputs are PNG files under ``output``
    with the inputs' relative names (``name.png``, ``name_k.png`` for ``num > 1`` draws, and
    ``name_jpg.png`` / ``name_png.png`` when ``name.jpg`` and ``name.png`` are both inputs).
    With ``ab=True`` the inputs are AB files and the input half is taken per ``direction``
    (default: the run's). Returns the written paths.

    Your files are safe: ``output`` may not be ``inputs`` or lie inside it, no output is ever
    written over an input, and existing outputs are refused before anything is written unless
    ``overwrite=True``. An image that cannot be read (corrupt, too large, not an AB file with
    ``ab``) does not stop the others: :class:`SampleFailures` names each one at the end.
    """
    from course_lib.data.jitter import resize
    from course_lib.data.paired import PairedDataError, PairedImageDataset, open_image

    if num < 1:
        raise ValueError(f"--num must be positive, got {num}")
    src, out_dir = Path(inputs), Path(output)
    files, names = plan_outputs(src, out_dir, num, overwrite)
    run, config, recipe, state = _load(run_dir)
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    G = recipe.generator_from_state(state).to(dev)
    h, w = config["train"]["image_size"]
    mode = test_mode or config["train"].get("test_mode", recipe.default_test_mode)
    direction = direction or config["data"].get("direction", "AtoB")
    written: list[Path] = []
    failures: list[tuple[Path, str]] = []
    for path, draws in zip(files, names):
        try:
            image = open_image(path, at_least=((2 * w, h) if ab else (w, h)))
            if ab:
                width, height = image.info.get("original_size", image.size)
                if width != 2 * height:
                    raise ValueError(f"{path} is {width}x{height}: an AB file is twice as "
                                     "wide as high; drop --ab for plain input images")
                width, height = image.size
                box = (0, 0, height, height) if direction == "AtoB" else (height, 0, width, height)
                image = image.crop(box)
            x = PairedImageDataset._image_tensor(image)         # (3, h0, w0) in [-1, 1]
        except (PairedDataError, ValueError, OSError) as err:
            failures.append(skipped(path, err))
            continue
        x = resize(x, (h, w))[None]
        for k, target in enumerate(draws):
            y = recipe.translate(G, x, mode, 1, seed + k)[0]
            written.append(save_image(y, target))
    if failures:
        raise SampleFailures(written, failures, len(files), out_dir)
    return written


def describe_metrics(metrics: Mapping[str, Any]) -> str:
    """One line per number, for printing."""
    return "\n".join(f"  {k:28s} {v:.4f}" if isinstance(v, float) else f"  {k:28s} {v}"
                     for k, v in metrics.items())
