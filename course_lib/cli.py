"""The ``course-lib`` command line (also ``python -m course_lib``).

One sub-command per task, each a small function that receives the parsed arguments and
returns an exit status:

* ``train MODEL --data NAME_OR_PATH`` -- train pix2pix (Isola et al., CVPR 2017), pix2pixHD
  (Wang et al., CVPR 2018) or BicycleGAN (Zhu et al., NeurIPS 2017) with the papers' defaults
  into a run folder (:mod:`course_lib.runner`, :mod:`course_lib.recipes`); under ``torchrun``
  on several GPUs (:mod:`course_lib.train.distributed`);
* ``evaluate RUN`` -- FCN-score (where class maps exist), L1, PSNR/SSIM, sharpness, diversity;
* ``sample RUN --input DIR --output DIR`` -- translate a folder of images;
* ``download NAME`` -- the pix2pix datasets (:mod:`course_lib.data.download`);
* ``pretrained list | download NAME`` -- the authors' published models
  (:mod:`course_lib.pretrained`); ``sample --official NAME`` runs one;
* ``bench`` -- training speed: eager fp32 vs channels_last, autocast, compile, CUDA graphs
  (:mod:`course_lib.benchmark`).

To add a command, write an ``_add_<name>`` function that registers a parser and its handler.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
Command line of the image-to-image translation course (pix2pix, pix2pixHD, BicycleGAN).
The notebooks need none of this. Use it to train the course's models at the papers' scale on
a real dataset or on your own photos, on one GPU or several (torchrun), and to evaluate and
use what you trained."""

_EPILOG = """\
examples:
  python -m course_lib train pix2pix --data facades --profile cpu   offline, procedural facades
  python -m course_lib train pix2pixhd --data streets --profile cpu pix2pixHD, street scenes
  python -m course_lib download --list        what can be downloaded, with sizes
  python -m course_lib download facades       fetch data/facades (about 29 MB)
  python -m course_lib train pix2pix --data facades                 the paper's facades run
  python -m course_lib evaluate runs/facades_pix2pix                metrics of a run
  python -m course_lib sample runs/facades_pix2pix --input my_labels/ --output out/
  torchrun --nproc_per_node 4 -m course_lib train pix2pix --data cityscapes --batch-size 4
  python -m course_lib bench --quick          speed of the training step on this machine
  python -m course_lib COMMAND --help         all options of a command"""

_DOWNLOAD_HELP = """\
Download a pix2pix dataset into ROOT/NAME (default data/NAME) and extract it.
The archive is streamed with a progress bar into ROOT/NAME.tar.gz.part and resumed if
interrupted; the dataset folder appears only once it is complete, so an interrupted run never
leaves a half-extracted dataset behind. A dataset that is already complete (its files match the
manifest written when it was extracted) is not fetched again. A file passed with --archive is
only read, never deleted.
No internet here? Download the archive URL shown by --list on another machine, copy it over,
and pass it with --archive."""

_DOWNLOAD_EPILOG = """\
examples:
  python -m course_lib download --list
  python -m course_lib download facades
  python -m course_lib download maps --root /scratch/data
  python -m course_lib download facades --archive ~/Downloads/facades.tar.gz

then, in Python:
  from course_lib.data.paired import PairedImageDataset
  train = PairedImageDataset("data/facades", split="train", direction="BtoA")"""

Handler = Callable[[argparse.Namespace], int]


def _add_download(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "download", help="download a pix2pix dataset (facades, maps, ...) into data/",
        description=_DOWNLOAD_HELP, epilog=_DOWNLOAD_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="dataset to fetch; see --list for the names")
    parser.add_argument("--list", action="store_true",
                        help="list the datasets (size, direction, splits) and exit")
    parser.add_argument("--root", default="data", metavar="DIR",
                        help="directory that receives the dataset (default: %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="download and extract again even if a complete copy exists")
    parser.add_argument("--archive", metavar="PATH",
                        help="extract this local .tar.gz instead of downloading (offline use)")
    parser.add_argument("--url", metavar="URL",
                        help="download from this address instead of the published one (a mirror)")
    parser.add_argument("--keep-archive", action="store_true",
                        help="keep ROOT/NAME.tar.gz after extracting it")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_run_download, parser=parser)


def _run_download(args: argparse.Namespace) -> int:
    from course_lib.data import download as dl

    if args.list:
        print(dl.format_table())
        print(f"\narchives: {dl.ARCHIVE_HOST}/<name>.tar.gz")
        print("direction: pass it to PairedImageDataset(..., direction=...) for the task shown.")
        for name in dl.list_datasets():
            if dl.DATASETS[name].note:
                print(f"note on {name}: {dl.DATASETS[name].note}")
        return 0
    if not args.name:
        args.parser.error("give a dataset NAME, or --list to see them")
    if args.name not in dl.DATASETS:
        args.parser.error(f"unknown dataset {args.name!r}; choose from "
                          f"{', '.join(dl.list_datasets())}")
    info = dl.DATASETS[args.name]
    if dl.is_complete(info.name, args.root) and not args.force:
        print(f"{dl.dataset_dir(info.name, args.root)} is already complete; "
              "nothing to do (--force fetches it again).")
        return 0
    try:
        path = dl.download(info.name, root=args.root, force=args.force,
                           progress=not args.quiet, archive=args.archive, url=args.url,
                           keep_archive=args.keep_archive)
    except (dl.DownloadError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    splits = ", ".join(sorted(p.name for p in path.iterdir() if p.is_dir()))
    print(f"{info.name} is ready in {path} (splits: {splits}).")
    print(f"load it with PairedImageDataset({str(path)!r}, split='train', "
          f"direction={info.direction!r})  # {info.task}")
    return 0


# --------------------------------------------------------------------------- train

_TRAIN_HELP = """\
Train a model into a run folder (config.json, last.pt, history.csv, samples/, metrics.json).

--data says what to train on:
  facades | shapes | streets   procedural datasets, generated offline (class maps included,
                               so metrics.json has an FCN-score); synthetic:NAME forces these
  NAME of a downloaded pix2pix dataset (python -m course_lib download NAME), e.g. facades,
                               maps, cityscapes: read from DATA_ROOT/NAME with the paper's
                               direction and jitter (resize 286, random crop 256, flip)
  PATH to your own pairs       AB files (input | target side by side) or A/ and B/ folders,
                               with train/ and val/ sub-folders if you have them

Sizes default to the paper's (256 px, batch 1, 200 epochs, 64 filters); --profile ci|cpu|gpu
takes the notebook profile's sizes instead (cpu: 64 px, 2000 steps: minutes on a laptop).
An interrupted run continues with the same command plus --resume."""


_HD_EPILOG = """\
pix2pixHD trains on label maps WITH instance maps: --data streets (procedural street scenes,
2:1, rendered offline) is the only data it takes here; a real Cityscapes folder is not supported
(see docs/pix2pixhd_at_scale.md). Presets (the official scripts):
  --preset 512p    G1 alone (9 residual blocks, ngf 64), 2 D scales, 1024x512, 200 epochs
  --preset 1024p   G1 + local enhancer G2 (ngf 32), 3 D scales, 2048x1024 (the default);
                   coarse to fine: phase 1 G1 alone at half size (--global-steps, default
                   2/3 of the steps), phase 2 G2 with G1 frozen (--fix-global-steps, default
                   1/10 of the rest), phase 3 all jointly; or --global-from a finished 512p run
                   (the official recipe: then 100 epochs, 10 with G1 frozen)
--profile ci|cpu|gpu takes notebook 05's sizes (cpu: G1 at 128x64, the enhancer at 256x128);
the paper's sizes need a large GPU (1024p: about 24 GB, see docs/pix2pixhd_at_scale.md).

examples:
  python -m course_lib train pix2pixhd --data streets --profile cpu              CPU-sized
  python -m course_lib train pix2pixhd --data streets --profile cpu --preset 512p
  python -m course_lib train pix2pixhd --data streets --preset 512p --amp bf16 --run-dir runs/hd512
  python -m course_lib train pix2pixhd --data streets --global-from runs/hd512 --amp bf16 \\
      --run-dir runs/hd1024                     the paper's two stages, on a large GPU
  python -m course_lib train pix2pixhd --data streets --profile cpu --resume     continue
  python -m course_lib evaluate runs/streets_pix2pixhd
  python -m course_lib sample runs/streets_pix2pixhd --input my_label_images/ --output out/
      (colour-coded street labels as in the samples' input row; without instance ids)

several GPUs (all three phases): one scene per GPU, --batch-size the GLOBAL batch:
  torchrun --nproc_per_node 4 -m course_lib train pix2pixhd --data streets --batch-size 4"""


def _train_epilog(model: str) -> str:
    if model == "pix2pixhd":
        return _HD_EPILOG
    per_gpu = 2 if model == "bicyclegan" else 1   # the hybrid splits each batch in halves
    return f"""\
examples:
  python -m course_lib train {model} --data facades --profile cpu
  python -m course_lib train {model} --data facades --steps 20000 --amp bf16 --channels-last
  python -m course_lib train {model} --data path/to/pairs --direction BtoA --run-dir runs/mine
  python -m course_lib train {model} --data facades --run-dir runs/mine --resume
  torchrun --nproc_per_node 8 -m course_lib train {model} --data cityscapes --batch-size {8 * per_gpu}

several GPUs: --batch-size is the GLOBAL batch (default: {per_gpu} per process, the original batch {per_gpu}
per GPU); batch norm is synchronised over processes (--no-sync-bn to keep it per process);
the learning rate follows the same schedule over --steps; only rank 0 writes files."""


def _add_common_train_arguments(parser: argparse.ArgumentParser) -> None:
    d = parser.add_argument_group("data")
    d.add_argument("--data", required=True, metavar="NAME_OR_PATH",
                   help="facades, shapes, streets, a downloaded dataset, or a folder of pairs")
    d.add_argument("--data-root", default="data", metavar="DIR",
                   help="where `download` put the datasets (default: %(default)s)")
    d.add_argument("--direction", choices=("AtoB", "BtoA"), default=None,
                   help="which side is the input (default: AtoB for folders, the paper's "
                        "for downloads, e.g. BtoA for facades)")
    d.add_argument("--image-size", type=int, default=None, metavar="PX",
                   help="training crop side (default: 256, or the profile's)")
    d.add_argument("--load-size", type=int, default=None, metavar="PX",
                   help="resize before the random crop (default: image size x 286/256)")
    d.add_argument("--train-size", type=int, default=None, metavar="N",
                   help="procedural data: training pairs to generate (default: 400)")
    d.add_argument("--eval-size", type=int, default=None, metavar="N",
                   help="validation pairs for metrics (default: 100, or the profile's)")

    r = parser.add_argument_group("run")
    r.add_argument("--run-dir", default=None, metavar="DIR",
                   help="run folder (default: runs/<data>_<model>)")
    r.add_argument("--resume", action="store_true",
                   help="continue the run in --run-dir from its last checkpoint")
    r.add_argument("--profile", choices=("ci", "cpu", "gpu"), default=None,
                   help="take sizes from a notebook profile instead of the paper's")
    r.add_argument("--steps", type=int, default=None,
                   help="training steps (default: --epochs over the training set)")
    r.add_argument("--epochs", type=float, default=None,
                   help="passes over the training set when --steps is not given "
                        "(default: 200, the paper's)")
    r.add_argument("--batch-size", type=int, default=None, metavar="B",
                   help="pairs per step, over all processes (default: 1 per process, the "
                        "paper's; or the profile's)")
    r.add_argument("--seed", type=int, default=0, help="seed of weights, data order and dropout")
    r.add_argument("--log-every", type=int, default=None, metavar="N",
                   help="log losses every N steps (default: about 100 points per run)")
    r.add_argument("--sample-every", type=int, default=None, metavar="N",
                   help="write a sample grid every N steps (default: 10 per run; 0: never)")
    r.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                   help="write last.pt every N steps (default: 10 per run, at most 5000 apart)")
    r.add_argument("--num-samples", type=int, default=4, metavar="N",
                   help="validation pairs in each sample grid (default: %(default)s)")
    r.add_argument("--test-mode", choices=("paper", "eval"), default=None,
                   help="generator mode for samples and metrics: paper = dropout on and batch "
                        "statistics (pix2pix Sec. 3.3), eval = model.eval()")
    r.add_argument("--no-eval", action="store_true", help="skip the final metrics.json")
    r.add_argument("--no-fcn", action="store_true",
                   help="skip the FCN-score (it trains a small segmenter once, then caches it)")
    r.add_argument("--stop-after", type=int, default=None, metavar="STEP",
                   help="stop at this step (continue later with --resume)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")

    s = parser.add_argument_group("speed")
    s.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="default: cuda when available")
    s.add_argument("--amp", choices=("bf16", "fp16"), default=None,
                   help="mixed precision autocast (bf16 on recent GPUs; fp16 with loss scaling)")
    s.add_argument("--channels-last", action="store_true",
                   help="channels_last memory format (faster convolutions on tensor cores)")
    s.add_argument("--compile", action="store_true", help="torch.compile the networks")
    s.add_argument("--workers", type=int, default=None, metavar="N",
                   help="data-loader processes (default: 0 for procedural data, else 4)")
    s.add_argument("--no-sync-bn", action="store_true",
                   help="under torchrun, keep batch norm statistics per process")


def _add_train(sub: argparse._SubParsersAction) -> None:
    from course_lib.recipes import RECIPES

    parser = sub.add_parser(
        "train", help="train pix2pix / pix2pixhd / bicyclegan into a run folder",
        description=_TRAIN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="run `python -m course_lib train MODEL --help` for a model's options")
    models = parser.add_subparsers(dest="model", metavar="MODEL",
                                   title="models (the papers' defaults)")
    for name, recipe in RECIPES.items():
        mp = models.add_parser(name, help=f"{recipe.title}: {recipe.paper}",
                               description=f"{recipe.title}.\n{recipe.paper}.\n\n" + _TRAIN_HELP,
                               epilog=_train_epilog(name),
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_common_train_arguments(mp)
        recipe.add_arguments(mp)
        mp.set_defaults(handler=_run_train, parser=mp, recipe=recipe)
    parser.set_defaults(handler=_need_model, parser=parser)


def _need_model(args: argparse.Namespace) -> int:
    args.parser.error("name the model to train: pix2pix, pix2pixhd or bicyclegan "
                      "(e.g. `python -m course_lib train pix2pix --data facades --profile cpu`)")
    return 2


def _fail(err: BaseException) -> int:
    print(f"error: {err}", file=sys.stderr)
    return 1


def _run_train(args: argparse.Namespace) -> int:
    from course_lib.recipes import ModelUnavailable
    from course_lib.run_dir import RunFolderBusy
    from course_lib.runner import train

    try:
        train(args.recipe.name, args.data, run_dir=args.run_dir, resume=args.resume,
              profile=args.profile, steps=args.steps, epochs=args.epochs,
              batch_size=args.batch_size, image_size=args.image_size,
              load_size=args.load_size, direction=args.direction,
              train_size=args.train_size, eval_size=args.eval_size,
              data_root=args.data_root, device=args.device, amp=args.amp,
              channels_last=args.channels_last, compile=args.compile,
              sync_bn=not args.no_sync_bn, num_workers=args.workers, seed=args.seed,
              log_every=args.log_every, sample_every=args.sample_every,
              checkpoint_every=args.checkpoint_every, num_samples=args.num_samples,
              test_mode=args.test_mode, evaluate_at_end=not args.no_eval, fcn=not args.no_fcn,
              progress=not args.quiet, stop_after=args.stop_after,
              model_args=args.recipe.hyperparameters(args))
    except (ValueError, FileExistsError, FileNotFoundError, ModelUnavailable, RunFolderBusy,
            FloatingPointError) as err:
        return _fail(err)
    except KeyboardInterrupt:
        print("interrupted; run the same command with --resume to continue from the last "
              "checkpoint", file=sys.stderr)
        return 130
    return 0


# --------------------------------------------------------------------------- evaluate


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate", help="measure a trained run (FCN-score, L1, PSNR/SSIM, diversity)",
        description=(
            "Rebuild a run's generator from RUN/last.pt and measure it on the run's validation "
            "pairs (or --data): FCN-score where the data has class maps (the procedural "
            "datasets), L1, PSNR, SSIM, sharpness and colour-spread ratios (1.0 = as real), and "
            "the diversity of several outputs per input. Writes RUN/metrics_<data>_<mode>.json."),
        epilog=("examples:\n  python -m course_lib evaluate runs/facades_pix2pix\n"
                "  python -m course_lib evaluate runs/facades_pix2pix --test-mode eval\n"
                "  python -m course_lib evaluate runs/mine --data path/to/pairs --split test"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN", help="a run folder written by `train`")
    parser.add_argument("--data", default=None, metavar="NAME_OR_PATH",
                        help="evaluate on other data (default: the run's validation pairs)")
    parser.add_argument("--data-root", default="data", metavar="DIR")
    parser.add_argument("--split", default=None, help="with --data folders: val or test")
    parser.add_argument("-n", type=int, default=None, help="only the first N pairs")
    parser.add_argument("--test-mode", choices=("paper", "eval"), default=None,
                        help="default: the run's")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default: the run's (it matters for batch norm in paper mode)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the dropout draws")
    parser.add_argument("--no-fcn", action="store_true", help="skip the FCN-score")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)
    parser.add_argument("--output", default=None, metavar="FILE", help="where to write the JSON")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(handler=_run_evaluate, parser=parser)


def _run_evaluate(args: argparse.Namespace) -> int:
    from course_lib.recipes import ModelUnavailable
    from course_lib.runner import describe_metrics, evaluate

    try:
        metrics = evaluate(args.run_dir, data=args.data, split=args.split, n=args.n,
                           test_mode=args.test_mode, batch_size=args.batch_size, seed=args.seed,
                           fcn=not args.no_fcn, device=args.device, data_root=args.data_root,
                           output=args.output, progress=not args.quiet)
    except (ValueError, FileNotFoundError, KeyError, ModelUnavailable) as err:
        return _fail(err)
    print(describe_metrics(metrics))
    return 0


# --------------------------------------------------------------------------- sample


def _add_sample(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sample", help="translate a folder of images with a trained run",
        description=(
            "Translate every image under --input (a file or a folder, searched recursively) "
            "with the generator of RUN. Each input is resized to the run's training size; the "
            "outputs are written as PNG under --output with the same relative names. Inputs are "
            "what the model's A side was (e.g. colour-coded label maps for labels -> photo); "
            "with --ab, AB files are split and the input half is used. Your files are safe: "
            "--output may not be --input or lie inside it, inputs are never written over, "
            "existing outputs are kept unless --overwrite, x.jpg and x.png give x_jpg.png and "
            "x_png.png, and an unreadable image is named while the others are written."),
        epilog=("examples:\n"
                "  python -m course_lib sample runs/facades_pix2pix --input my_labels/ "
                "--output out/\n"
                "  python -m course_lib sample runs/facades_pix2pix --input data/facades/test "
                "--ab --output out/test\n"
                "  python -m course_lib sample runs/shapes_bicyclegan --input outline.png "
                "--num 6 --output out/"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN", nargs="?", default=None,
                        help="a run folder written by `train`")
    parser.add_argument("--official", metavar="NAME", default=None,
                        help="instead of RUN: an authors' published model (see `pretrained "
                             "list`), downloaded with `pretrained download NAME`")
    parser.add_argument("--input", required=True, metavar="PATH", help="an image or a folder")
    parser.add_argument("--output", required=True, metavar="DIR", help="folder for the outputs")
    parser.add_argument("--ab", action="store_true", help="inputs are AB files (split them)")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"), default=None,
                        help="with --ab: which half is the input (default: the run's)")
    parser.add_argument("--test-mode", choices=("paper", "eval"), default=None)
    parser.add_argument("--num", type=int, default=1,
                        help="outputs per input (different dropout draws or latent codes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace outputs that already exist in --output (inputs are never "
                             "written over)")
    parser.set_defaults(handler=_run_sample, parser=parser)


def _run_sample(args: argparse.Namespace) -> int:
    from course_lib.recipes import ModelUnavailable
    from course_lib.runner import SampleFailures, sample

    if (args.run_dir is None) == (args.official is None):
        args.parser.error("give either a RUN folder or --official NAME")
    if args.official is not None:
        return _run_sample_official(args)
    try:
        paths = sample(args.run_dir, args.input, args.output, ab=args.ab,
                       direction=args.direction, test_mode=args.test_mode, num=args.num,
                       seed=args.seed, device=args.device, overwrite=args.overwrite)
    except SampleFailures as err:
        print(f"wrote {len(err.written)} image(s) to {args.output}")
        return _fail(err)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError, ModelUnavailable) as err:
        return _fail(err)
    print(f"wrote {len(paths)} image(s) to {args.output}")
    return 0


def _run_sample_official(args: argparse.Namespace) -> int:
    from course_lib.pretrained import sample_official
    from course_lib.runner import SampleFailures

    try:
        paths = sample_official(args.official, args.input, args.output, num=args.num,
                                seed=args.seed, device=args.device, overwrite=args.overwrite)
    except SampleFailures as err:
        print(f"wrote {len(err.written)} image(s) to {args.output}")
        return _fail(err)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError) as err:
        return _fail(err)
    print(f"wrote {len(paths)} image(s) to {args.output}")
    return 0


# --------------------------------------------------------------------------- pretrained


def _add_pretrained(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "pretrained", help="the authors' published models: list, download",
        description=("The models the authors of pix2pix, pix2pixHD and BicycleGAN published, "
                     "loaded into the course's own networks (course_lib.pretrained). "
                     "Downloads go to ROOT/REPO/TASK/latest_net_G.pth and resume if "
                     "interrupted."),
        epilog=("examples:\n  python -m course_lib pretrained list\n"
                "  python -m course_lib pretrained download pix2pix/facades_label2photo\n"
                "  python -m course_lib sample --official pix2pix/facades_label2photo "
                "--input labels/ --output out/"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("list", "download"))
    parser.add_argument("name", nargs="?", default=None, metavar="NAME")
    parser.add_argument("--root", default="data/pretrained", metavar="DIR")
    parser.set_defaults(handler=_run_pretrained, parser=parser)


def _run_pretrained(args: argparse.Namespace) -> int:
    from course_lib.data.download import DownloadError
    from course_lib.pretrained import download_model, format_models

    if args.action == "list":
        print(format_models(args.root))
        return 0
    if args.name is None:
        args.parser.error("download needs a NAME (see `pretrained list`)")
    try:
        path = download_model(args.name, args.root)
    except (KeyError, DownloadError) as err:
        return _fail(err)
    print(f"{args.name}: {path}")
    return 0


# --------------------------------------------------------------------------- bench


def _add_bench(sub: argparse._SubParsersAction) -> None:
    from course_lib.benchmark import add_arguments

    parser = sub.add_parser(
        "bench", help="training speed: fp32 vs channels_last, autocast, compile, CUDA graphs",
        description=(
            "Time a fixed number of pix2pix training steps on synthetic tensors for each speed "
            "setting and print pairs/s, peak memory and the ratio to the eager fp32 baseline "
            "(measured in the same run); settings that cannot run here are skipped with the "
            "reason. Also times the data loader alone vs the model alone, and reports the "
            "model-FLOP utilisation on GPUs."),
        epilog=("examples:\n  python -m course_lib bench --quick\n"
                "  python -m course_lib bench --size 256 --batch 1 16\n"
                "  python benchmarks/speed.py --help   (the same)"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.set_defaults(handler=_run_bench, parser=parser)


def _run_bench(args: argparse.Namespace) -> int:
    from course_lib.benchmark import run

    try:
        run(args)
    except ValueError as err:
        return _fail(err)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all sub-commands registered."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib", description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                title="commands (run `python -m course_lib COMMAND --help`)")
    _add_train(sub)
    _add_evaluate(sub)
    _add_sample(sub)
    _add_download(sub)
    _add_pretrained(sub)
    _add_bench(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) and usage errors (2) end here
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    handler: Handler = args.handler
    try:
        return handler(args)
    except SystemExit as exit_:  # parser.error inside a handler
        return int(exit_.code or 0)
    except KeyboardInterrupt:
        if args.command == "download":
            print("interrupted; a partial download is kept and resumed next time",
                  file=sys.stderr)
        else:
            print("interrupted", file=sys.stderr)
        return 130
