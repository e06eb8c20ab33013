"""The ``course-lib`` command line (also ``python -m course_lib``).

One sub-command per task, each a small function that receives the parsed arguments and
returns an exit status. Today there is ``download`` (the pix2pix datasets of Isola et al.,
CVPR 2017, Sec. 4; see :mod:`course_lib.data.download`); training, evaluation, sampling and
benchmarking are done from the notebooks and the Python API until they get sub-commands of
their own here (add a ``_add_<name>`` function that registers a parser and its handler).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
Command line of the image-to-image translation course (pix2pix, pix2pixHD, BicycleGAN).
The notebooks need none of this: their procedural datasets are generated offline. Use it to
fetch the papers' real datasets for your own experiments."""

_EPILOG = """\
examples:
  python -m course_lib download --list        what can be downloaded, with sizes
  python -m course_lib download facades       fetch data/facades (about 29 MB)
  python -m course_lib download --help        all download options"""

_DOWNLOAD_HELP = """\
Download a pix2pix dataset into ROOT/NAME (default data/NAME) and extract it.
The archive is streamed with a progress bar into ROOT/NAME.tar.gz.part and resumed if
interrupted; the dataset folder appears only once it is complete, so an interrupted run never
leaves a half-extracted dataset behind. A dataset that is already complete is not fetched again.
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with all sub-commands registered."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib", description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                title="commands (run `python -m course_lib COMMAND --help`)")
    _add_download(sub)
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
        print("interrupted; a partial download is kept and resumed next time", file=sys.stderr)
        return 130
