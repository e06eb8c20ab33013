"""The dataset registry and the downloader, tested offline.

Archives are built in ``tmp_path`` and served through ``file://`` URLs or a local HTTP server
on 127.0.0.1 (a thread that the fixture stops, with a watchdog that stops it after 60 s).
"""
from __future__ import annotations

import http.server
import io
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_lib.data import download as dl
from course_lib.data.paired import PairedImageDataset


def make_archive(path: Path, name: str = "facades", splits=("train", "val", "test"),
                 per_split: int = 2, top: bool = True) -> Path:
    """A small pix2pix-style archive: ``name/<split>/<i>.jpg`` AB images of 64x32."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for split in splits:
            for i in range(per_split):
                buf = io.BytesIO()
                Image.fromarray(rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)).save(
                    buf, format="JPEG")
                data = buf.getvalue()
                member = tarfile.TarInfo(f"{name}/{split}/{i}.jpg" if top else f"{split}/{i}.jpg")
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
    return path


@pytest.fixture
def archive(tmp_path) -> Path:
    (tmp_path / "src").mkdir()
    return make_archive(tmp_path / "src" / "facades.tar.gz")


class _Server:
    """A bounded local HTTP server for one payload, with switches for the tests."""

    def __init__(self) -> None:
        self.payload = b""
        self.honour_range = True
        self.cut_after: int | None = None  # close the connection after this many body bytes
        self.status: int | None = None     # answer with this error code instead
        self.refuse_ranges = False         # answer any Range with 416 (not satisfiable)
        self.ranges: list[str | None] = []
        self.sent = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 10

            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):  # noqa: N802 (http.server's naming)
                rng = self.headers.get("Range")
                outer.ranges.append(rng)
                if outer.status:
                    self.send_error(outer.status)
                    return
                body, start = outer.payload, 0
                if rng and outer.refuse_ranges:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if rng and outer.honour_range:
                    start = int(rng.split("=")[1].rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                chunk = body[start:]
                self.send_header("Content-Length", str(len(chunk)))
                self.end_headers()
                if outer.cut_after is not None:
                    chunk, outer.cut_after = chunk[:outer.cut_after], None  # once
                    self.close_connection = True
                self.wfile.write(chunk)
                outer.sent += len(chunk)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/facades.tar.gz"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.watchdog = threading.Timer(60.0, self.httpd.shutdown)
        self.watchdog.daemon = True

    def __enter__(self) -> _Server:
        self.thread.start()
        self.watchdog.start()
        return self

    def __exit__(self, *exc) -> None:
        self.watchdog.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    with _Server() as srv:
        yield srv


def leftovers(root: Path) -> list[str]:
    """Hidden temporary directories the extraction may have left behind."""
    return sorted(p.name for p in root.glob(".*")) if root.exists() else []


# --------------------------------------------------------------------------- registry


def test_registry_entries():
    assert dl.list_datasets() == ["cityscapes", "edges2handbags", "edges2shoes", "facades",
                                  "maps", "night2day"]
    for name, info in dl.DATASETS.items():
        assert info.name == name
        assert info.url == f"http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
        assert info.direction in ("AtoB", "BtoA") and "train" in info.splits
        assert set(info.pairs) == set(info.splits) and info.size_mb > 0
    assert dl.get_info("facades").direction == "BtoA"  # labels are the right half
    assert dl.get_info("facades").splits == ("train", "val", "test")
    assert dl.get_info("cityscapes").direction == "BtoA"
    assert dl.get_info("maps").direction == "AtoB" and dl.get_info("maps").left == "aerial photo"
    assert dl.get_info("night2day").splits == ("train", "val", "test")
    table = dl.format_table()
    assert all(name in table for name in dl.DATASETS) and "~29 MB" in table and "~8.0 GB" in table


def test_unknown_name_lists_the_valid_ones(tmp_path):
    with pytest.raises(KeyError, match="facades, maps, night2day"):
        dl.download("horse2zebra", root=tmp_path)


# --------------------------------------------------------------------------- file:// and local


def test_download_from_file_url_then_load(tmp_path, archive):
    root = tmp_path / "data"
    path = dl.download("facades", root=root, url=archive.as_uri(), progress=False)
    assert path == root / "facades" and dl.is_complete("facades", root)
    assert sorted(p.name for p in path.iterdir() if p.is_dir()) == ["test", "train", "val"]
    assert not (root / "facades.tar.gz").exists() and not (root / "facades.tar.gz.part").exists()
    assert leftovers(root) == []
    ds = PairedImageDataset(path, split="train", direction="BtoA", load_size=36, crop_size=32)
    assert len(ds) == 2 and ds[0]["A"].shape == (3, 32, 32)
    assert len(PairedImageDataset(path, split="test", crop_size=32)) == 2

    # complete: not fetched again, even from an address that does not exist
    again = dl.download("facades", root=root, url=(tmp_path / "gone.tar.gz").as_uri())
    assert again == path


def test_local_archive_and_keep_archive(tmp_path, archive):
    root = tmp_path / "data"
    dl.download("facades", root=root, archive=archive, progress=False)
    assert dl.is_complete("facades", root) and archive.exists()  # the user's file stays
    dl.download("facades", root=root, url=archive.as_uri(), force=True, keep_archive=True,
                progress=False)
    assert (root / "facades.tar.gz").is_file() and dl.is_complete("facades", root)


def test_missing_local_archive(tmp_path):
    with pytest.raises(dl.DownloadError, match="does not exist; download http://efrosgans"):
        dl.download("facades", root=tmp_path, archive=tmp_path / "nope.tar.gz")


def test_archive_without_top_folder_and_wrong_content(tmp_path):
    flat = make_archive(tmp_path / "flat.tar.gz", top=False, splits=("train", "val"))
    dl.download("maps", root=tmp_path / "d", archive=flat, progress=False)
    assert dl.is_complete("maps", tmp_path / "d")
    wrong = make_archive(tmp_path / "wrong.tar.gz", name="other", splits=("images",))
    with pytest.raises(dl.DownloadError, match="does not look like the facades dataset"):
        dl.download("facades", root=tmp_path / "d", archive=wrong)
    assert not (tmp_path / "d" / "facades").exists() and leftovers(tmp_path / "d") == []


def test_corrupt_archive_leaves_nothing_that_looks_complete(tmp_path, archive):
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    root = tmp_path / "data"
    with pytest.raises(dl.DownloadError, match="cut.tar.gz is not a readable"):
        dl.download("facades", root=root, archive=cut)
    assert not (root / "facades").exists() and not dl.is_complete("facades", root)
    assert leftovers(root) == []


def test_unsafe_member_is_refused(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        member = tarfile.TarInfo("../escaped.txt")
        member.size = 2
        tar.addfile(member, io.BytesIO(b"hi"))
    with pytest.raises(dl.DownloadError, match="unsafe member"):
        dl.download("facades", root=tmp_path / "data", archive=evil)
    assert not (tmp_path / "escaped.txt").exists()


def test_existing_folder_without_marker(tmp_path, archive):
    root = tmp_path / "data"
    (root / "facades" / "train").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="no completion marker.*--force"):
        dl.download("facades", root=root, archive=archive)
    dl.download("facades", root=root, archive=archive, force=True, progress=False)
    assert dl.is_complete("facades", root) and len(list((root / "facades" / "train").iterdir())) == 2
    assert leftovers(root) == []


# --------------------------------------------------------------------------- HTTP


def test_network_failure_explains_the_offline_route(tmp_path):
    with pytest.raises(dl.DownloadError) as err:
        dl.download("facades", root=tmp_path, url="http://127.0.0.1:9/facades.tar.gz",
                    progress=False, timeout=5)
    msg = str(err.value)
    assert "could not download facades" in msg and "--archive PATH" in msg
    assert "archive=PATH" in msg and not (tmp_path / "facades").exists()


def test_http_error(tmp_path, server):
    server.status = 404
    with pytest.raises(dl.DownloadError, match="HTTP 404.*--archive"):
        dl.download("facades", root=tmp_path, url=server.url, progress=False)


def test_interrupted_download_resumes_with_range(tmp_path, archive, server):
    server.payload = archive.read_bytes()
    server.cut_after = len(server.payload) // 3
    root = tmp_path / "data"
    with pytest.raises(dl.DownloadError, match="stopped at .* bytes.*resumes"):
        dl.download("facades", root=root, url=server.url, progress=False)
    part = root / "facades.tar.gz.part"
    assert part.stat().st_size == len(server.payload) // 3
    assert not (root / "facades").exists() and not dl.is_complete("facades", root)
    assert not (root / "facades.tar.gz").exists()

    server.sent = 0
    dl.download("facades", root=root, url=server.url, progress=False)
    assert server.ranges == [None, f"bytes={len(server.payload) // 3}-"]
    assert server.sent == len(server.payload) - len(server.payload) // 3  # only the rest
    assert dl.is_complete("facades", root) and not part.exists()
    assert len(PairedImageDataset(root / "facades", split="val", crop_size=32)) == 2


def test_server_without_range_restarts_from_zero(tmp_path, archive, server):
    server.payload = archive.read_bytes()
    server.honour_range = False
    root = tmp_path / "data"
    root.mkdir()
    (root / "facades.tar.gz.part").write_bytes(b"stale bytes from an old attempt")
    dl.download("facades", root=root, url=server.url, progress=False)
    assert server.ranges[0].startswith("bytes=") and server.sent == len(server.payload)
    assert dl.is_complete("facades", root)


def test_range_not_satisfiable(tmp_path, archive, server):
    server.payload = archive.read_bytes()
    server.refuse_ranges = True
    root = tmp_path / "data"
    root.mkdir()
    part = root / "facades.tar.gz.part"
    part.write_bytes(server.payload)  # finished earlier, renamed never: nothing left to fetch
    dl.download("facades", root=root, url=server.url, progress=False)
    assert server.sent == 0 and dl.is_complete("facades", root)

    other = tmp_path / "other"
    other.mkdir()
    (other / part.name).write_bytes(server.payload + b"extra")  # stale and too long
    dl.download("facades", root=other, url=server.url, progress=False)
    assert server.ranges[-1] is None and server.sent == len(server.payload)
    assert dl.is_complete("facades", other)


def test_progress_bar_is_shown(tmp_path, archive, server, capsys):
    server.payload = archive.read_bytes()
    dl.download("facades", root=tmp_path, url=server.url, progress=True)
    assert "downloading facades" in capsys.readouterr().err
