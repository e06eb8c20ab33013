"""The pix2pix datasets: a registry of the published archives and a safe downloader.

pix2pix (Isola et al., CVPR 2017, Sec. 4 and Table 1 / appendix 6.1) evaluates on paired
datasets that its authors publish as ``<name>.tar.gz`` archives of side-by-side "AB" images
(input and target in one file, see :mod:`course_lib.data.paired`): CMP facades, Cityscapes,
Google maps, edges2shoes, edges2handbags and night2day. This module lists them
(:data:`DATASETS`, one :class:`DatasetInfo` per archive) and fetches one into ``data/<name>``.

The download is built so that a dataset directory either is complete or does not exist:

1. the archive streams into ``data/<name>.tar.gz.part``; an interrupted download is resumed
   with an HTTP ``Range`` request when the server honours it (and restarted otherwise);
2. the finished ``.part`` file is renamed to ``data/<name>.tar.gz`` (an atomic rename);
3. the archive is extracted into a hidden temporary directory under ``data/``, a completion
   marker (:data:`MARKER`) is written into it, and only then is it renamed to
   ``data/<name>``, again atomically.

The marker holds a manifest (how many files, and how many bytes, each split folder had when it
was extracted), and a dataset counts as present only when ``data/<name>/`` holds the marker
*and* its files still match the manifest, so neither a crash at any point nor files deleted
later leave something that looks complete. A file the user hands over with ``archive=`` is
only read, never moved or deleted (even with ``force``). Without internet, copy the archive
by hand and extract it with ``download(name, archive=PATH)`` (``python -m course_lib download
NAME --archive PATH``). Only the standard library is used (``urllib``, ``tarfile``); ``tqdm``
draws the progress bar.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "ARCHIVE_HOST",
    "MARKER",
    "DATASETS",
    "DatasetInfo",
    "DownloadError",
    "get_info",
    "list_datasets",
    "dataset_dir",
    "is_complete",
    "incompleteness",
    "download",
    "format_table",
]

ARCHIVE_HOST = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets"
MARKER = ".course_lib_complete.json"  # written last, inside the dataset directory
_CHUNK = 1 << 16  # bytes per read while streaming
# tarfile's extraction filters (Python 3.11.4+, 3.10.12+) raise these for unsafe members
_FILTER_ERRORS: tuple[type[Exception], ...] = tuple(
    e for e in (getattr(tarfile, "FilterError", None),) if e is not None)


@dataclass(frozen=True)
class DatasetInfo:
    """One published pix2pix dataset.

    Attributes:
        name: registry key and directory name under ``data/``.
        url: the archive's published address.
        size_mb: approximate archive size in megabytes (what the download costs).
        splits: the split folders inside the archive (each holds AB images).
        left: what the left half (A) of each AB image shows.
        right: what the right half (B) shows.
        direction: ``"AtoB"`` or ``"BtoA"``, the direction of the task the paper trains
            (pass it to :class:`~course_lib.data.paired.PairedImageDataset`).
        task: that task in words.
        pairs: approximate number of pairs per split, as the authors describe the data.
        half_size: ``(height, width)`` of one half in pixels.
        note: anything a user must know before downloading.
    """

    name: str
    url: str
    size_mb: int
    splits: tuple[str, ...]
    left: str
    right: str
    direction: str
    task: str
    pairs: dict[str, int] = field(default_factory=dict)
    half_size: tuple[int, int] = (256, 256)
    note: str = ""

    @property
    def size_text(self) -> str:
        """The archive size for people: ``"29 MB"`` or ``"2.0 GB"``."""
        return f"{self.size_mb / 1000:.1f} GB" if self.size_mb >= 1000 else f"{self.size_mb} MB"


def _entry(name: str, **kwargs: Any) -> DatasetInfo:
    return DatasetInfo(name=name, url=f"{ARCHIVE_HOST}/{name}.tar.gz", **kwargs)


# Facts checked against the authors' download scripts and dataset notes (pix2pix and
# pytorch-CycleGAN-and-pix2pix: datasets/download_pix2pix_dataset.sh, docs/datasets.md,
# datasets/prepare_cityscapes_dataset.py; BicycleGAN: scripts/test_*.sh for the directions).
# Sizes and pair counts are approximate.
DATASETS: dict[str, DatasetInfo] = {
    info.name: info for info in (
        _entry("facades", size_mb=29, splits=("train", "val", "test"),
               left="photo", right="colour-coded label map", direction="BtoA",
               task="labels -> photo (CMP Facades)",
               pairs={"train": 400, "val": 100, "test": 106}),
        _entry("cityscapes", size_mb=99, splits=("train", "val"),
               left="photo", right="colour-coded label map", direction="BtoA",
               task="labels -> street scene (Cityscapes)",
               pairs={"train": 2975, "val": 500},
               note=("Cityscapes' licence asks users to register at cityscapes-dataset.com; "
                     "the authors' newer scripts no longer download this archive and may "
                     "answer 404. Build it from the official files with the authors' "
                     "prepare_cityscapes_dataset.py and place it with --archive.")),
        _entry("maps", size_mb=239, splits=("train", "val"),
               left="aerial photo", right="map", direction="AtoB",
               task="aerial photo -> map (Google Maps); BtoA gives map -> aerial",
               pairs={"train": 1096, "val": 1098}, half_size=(600, 600)),
        _entry("edges2shoes", size_mb=2000, splits=("train", "val"),
               left="edge map (HED)", right="photo", direction="AtoB",
               task="edges -> shoe photo (UT Zappos50K)",
               pairs={"train": 49825, "val": 200}),
        _entry("edges2handbags", size_mb=8000, splits=("train", "val"),
               left="edge map (HED)", right="photo", direction="AtoB",
               task="edges -> handbag photo (iGAN Amazon handbags)",
               pairs={"train": 138567, "val": 200}),
        _entry("night2day", size_mb=1900, splits=("train", "val", "test"),
               left="night photo", right="day photo", direction="AtoB",
               task="night -> day (webcam time-lapse)",
               pairs={"train": 17823, "val": 10, "test": 2287}),
    )
}


class DownloadError(RuntimeError):
    """A dataset could not be downloaded or extracted; the message says what to do."""


# --------------------------------------------------------------------------- queries


def list_datasets() -> list[str]:
    """The registered dataset names, sorted."""
    return sorted(DATASETS)


def get_info(name: str) -> DatasetInfo:
    """The registry entry for ``name``; an unknown name raises ``KeyError`` listing the valid ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(
            f"unknown dataset {name!r}; the registered pix2pix datasets are: "
            f"{', '.join(list_datasets())} (see `python -m course_lib download --list`). "
            "For your own images, use course_lib.data.paired.PairedImageDataset on a folder."
        ) from None


def dataset_dir(name: str, root: str | os.PathLike = "data") -> Path:
    """Where dataset ``name`` lives once downloaded: ``root/name``."""
    return Path(root) / get_info(name).name


def _count_files(folder: Path) -> dict[str, int]:
    """``{"count": files, "bytes": total size}`` of everything under ``folder``."""
    count = size = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            count += 1
            size += os.stat(os.path.join(dirpath, name)).st_size
    return {"count": count, "bytes": size}


def _manifest(folder: Path) -> dict[str, dict[str, int]]:
    """Files and bytes per top-level folder of an extracted dataset."""
    return {p.name: _count_files(p) for p in sorted(folder.iterdir()) if p.is_dir()}


def incompleteness(name: str, root: str | os.PathLike = "data") -> str | None:
    """Why ``root/name`` is not a complete download (``None`` when it is complete)."""
    target = dataset_dir(name, root)
    marker = target / MARKER
    if not target.is_dir():
        return f"{target} does not exist"
    if not marker.is_file():
        return f"{target} has no completion marker ({MARKER})"
    try:
        recorded = json.loads(marker.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return f"its completion marker {marker} is damaged"
    manifest = recorded.get("files") if isinstance(recorded, dict) else None
    if not isinstance(manifest, dict):  # a marker written before manifests: the splits only
        splits = recorded.get("splits", []) if isinstance(recorded, dict) else []
        empty = [s for s in splits if not (target / s).is_dir() or not any((target / s).iterdir())]
        return f"its split folder(s) {', '.join(empty)} are missing or empty" if empty else None
    for split, expected in manifest.items():
        folder = target / split
        if not folder.is_dir():
            return f"its split folder {folder} is missing"
        found = _count_files(folder)
        if found != expected:
            return (f"{folder} holds {found['count']} files ({found['bytes']} bytes), not the "
                    f"{expected.get('count')} ({expected.get('bytes')} bytes) extracted")
    return None


def is_complete(name: str, root: str | os.PathLike = "data") -> bool:
    """True when ``root/name`` carries the completion marker and its files match the
    marker's manifest (counts and sizes per split)."""
    return incompleteness(name, root) is None


def format_table(infos: list[DatasetInfo] | None = None) -> str:
    """A plain-text table of the registry (name, size, direction, task, splits)."""
    infos = infos if infos is not None else [DATASETS[n] for n in list_datasets()]
    rows = [("name", "size", "direction", "task", "splits")]
    for info in infos:
        splits = ", ".join(f"{s} ({info.pairs[s]})" if s in info.pairs else s
                           for s in info.splits)
        rows.append((info.name, "~" + info.size_text, info.direction, info.task, splits))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    return "\n".join(line.rstrip() for line in lines)


# --------------------------------------------------------------------------- download


def download(name: str, root: str | os.PathLike = "data", force: bool = False,
             progress: bool = True, *, archive: str | os.PathLike | None = None,
             url: str | None = None, keep_archive: bool = False,
             timeout: float = 60.0) -> Path:
    """Download and extract a pix2pix dataset into ``root/name``; return that directory.

    Args:
        name: a key of :data:`DATASETS` (``facades``, ``maps`` ...).
        root: the data directory (``data`` in the repository, git-ignored).
        force: download and extract again even when a complete copy exists (also removes a
            partial download and a directory without the completion marker; never the file
            passed as ``archive``).
        progress: show a ``tqdm`` progress bar.
        archive: extract this local ``.tar.gz`` instead of downloading (for machines
            without internet: fetch the archive elsewhere and copy it over).
        url: download from here instead of the registry's address (a mirror, or a
            ``file://`` URL).
        keep_archive: keep ``root/name.tar.gz`` after extraction (otherwise it is removed if
            this call downloaded it; an archive that was already there is left alone).
        timeout: seconds to wait for the server before giving up.

    Returns:
        The dataset directory, which holds one folder per split.

    Raises:
        KeyError: unknown ``name``.
        DownloadError: no network, a server error, a corrupt archive, or an archive that
            does not hold the expected split folders. The message says what to do.
        FileExistsError: ``root/name`` exists without the completion marker and ``force``
            is off.
    """
    info = get_info(name)
    root = Path(root)
    target = root / info.name
    problem = incompleteness(info.name, root)
    if problem is None and not force:
        return target
    if target.exists() and not force:
        if (target / MARKER).is_file():
            raise FileExistsError(
                f"{target} is incomplete: {problem} (files were deleted or changed since it "
                f"was extracted). Run `python -m course_lib download {info.name} --force` to "
                "replace it.")
        raise FileExistsError(
            f"{target} exists but has no completion marker ({MARKER}): it is a partial copy "
            "or was placed there by hand. Use it directly with PairedImageDataset, or run "
            f"`python -m course_lib download {info.name} --force` to replace it."
        )
    root.mkdir(parents=True, exist_ok=True)
    cached = root / f"{info.name}.tar.gz"
    part = cached.with_name(cached.name + ".part")
    if force and archive is None:   # a file handed over with --archive is never deleted
        for stale in (cached, part):
            stale.unlink(missing_ok=True)

    if archive is not None:
        source = Path(archive)
        if not source.is_file():
            raise DownloadError(
                f"the archive {source} does not exist; download {info.url} on a machine with "
                f"internet access and pass its path with --archive (or archive=PATH)"
            )
        origin = str(source.resolve())
    else:
        origin = url or info.url
        fetched = not cached.is_file()   # an archive already there may be the user's copy
        if fetched:
            _fetch(origin, part, info, progress=progress, timeout=timeout)
            os.replace(part, cached)  # the archive is complete from here on
        source = cached

    _extract(source, target, info, origin=origin, force=force)
    if archive is None and fetched and not keep_archive:   # only what this call downloaded
        cached.unlink(missing_ok=True)
    return target


def _no_network_help(info: DatasetInfo, url: str, part: Path) -> str:
    kept = (f" The {part.stat().st_size} bytes received so far are kept in {part}; running "
            "the same command again resumes from there." if part.exists() and
            part.stat().st_size else "")
    return (
        f"{kept} Without internet on this machine: download {url} elsewhere (about "
        f"{info.size_text}), copy it here and run `python -m course_lib download {info.name} "
        f"--archive PATH` (in Python: download({info.name!r}, archive=PATH))."
    )


def _fetch(url: str, part: Path, info: DatasetInfo, progress: bool, timeout: float) -> None:
    """Stream ``url`` into ``part``, resuming from its current size when the server allows."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "course_lib-downloader"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to send, or a stale part file
            total = _content_range_total(err.headers.get("Content-Range"))
            err.close()
            if total == have:
                return
            part.unlink()
            return _fetch(url, part, info, progress, timeout)
        raise DownloadError(
            f"the server answered HTTP {err.code} ({err.reason}) for {url}." + (
                " " + info.note if info.note else "") + _no_network_help(info, url, part)
        ) from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(
            f"could not download {info.name} from {url}: {reason}." +
            _no_network_help(info, url, part)
        ) from err

    with response:
        status = getattr(response, "status", None)  # None for file:// URLs
        if have and status == 206:
            mode, start = "ab", have
            total = _content_range_total(response.headers.get("Content-Range"))
        else:  # the server sent the whole file (it ignores Range, or there was no part)
            mode, start = "wb", 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        with open(part, mode) as out:
            received = _copy(response, out, start, total, info.name, progress, url, part, info)
    if total is not None and received != total:
        raise DownloadError(
            f"the download of {info.name} stopped at {received} of {total} bytes."
            + _no_network_help(info, url, part)
        )


def _copy(response: BinaryIO, out: BinaryIO, start: int, total: int | None, label: str,
          progress: bool, url: str, part: Path, info: DatasetInfo) -> int:
    """Copy the response body into ``out``; return the file's size afterwards."""
    from course_lib.progress import tqdm  # imported here: keeps `import course_lib.data` light

    received = start
    with tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
              desc=f"downloading {label}", disable=not progress, leave=True) as bar:
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (OSError, ValueError, http.client.HTTPException) as err:  # reset, short body
                out.flush()
                raise DownloadError(
                    f"the connection broke while downloading {label} from {url} ({err})."
                    + _no_network_help(info, url, part)
                ) from err
            if not chunk:
                break
            out.write(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    return received


def _content_range_total(value: str | None) -> int | None:
    """The total size in a ``Content-Range: bytes a-b/total`` header, if stated."""
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


# --------------------------------------------------------------------------- extraction


def _extract(archive: Path, target: Path, info: DatasetInfo, origin: str, force: bool) -> None:
    """Extract ``archive`` into a temporary directory, mark it complete, rename to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{info.name}.extracting-", dir=target.parent))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                if hasattr(tarfile, "data_filter"):  # refuses absolute paths, links out, ...
                    tar.extractall(tmp, filter="data")
                else:  # Python without extraction filters: check the names ourselves
                    _check_members(tar, archive)
                    tar.extractall(tmp)
        except _FILTER_ERRORS as err:
            raise DownloadError(
                f"{archive} holds an unsafe member ({err}): a path outside the dataset folder "
                "or a link. It was not extracted; check where the archive came from."
            ) from err
        except (tarfile.TarError, EOFError, OSError, ValueError) as err:
            raise DownloadError(
                f"{archive} is not a readable .tar.gz archive ({err}); it may be truncated or "
                f"corrupt. Delete it and run `python -m course_lib download {info.name} "
                "--force` to fetch it again."
            ) from err
        content = _dataset_root(tmp)
        found = sorted(p.name for p in content.iterdir() if p.is_dir())
        if not any(split in found for split in info.splits):
            raise DownloadError(
                f"{archive} does not look like the {info.name} dataset: expected split "
                f"folders {', '.join(info.splits)}, found {found or 'no folders'}."
            )
        marker = {"name": info.name, "source": origin, "splits": found,
                  "extracted": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "files": _manifest(content)}
        (content / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        old = None
        if target.exists():  # only reached with force=True
            old = target.with_name(f".{info.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(content, target)  # the dataset appears complete, or not at all
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _dataset_root(tmp: Path) -> Path:
    """The archive's top folder (``facades/``) when it has exactly one, else ``tmp`` itself."""
    entries = [p for p in tmp.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return tmp


def _check_members(tar: tarfile.TarFile, archive: Path) -> None:
    for member in tar.getmembers():
        parts = Path(member.name).parts
        if member.name.startswith(("/", "\\")) or ".." in parts or member.issym() or member.islnk():
            raise DownloadError(f"{archive} holds an unsafe member {member.name!r}; not extracted")
