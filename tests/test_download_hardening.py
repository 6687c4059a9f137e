"""Downloads under bad networks and bad files (issue 13, items 1, 2, 7, 9), served by a local
HTTP server on 127.0.0.1: a cut-off first MIT1003 download never pins its digest, short
bodies and half JPEGs are refused, a stalled server times out naming the URL, and zip
extraction has a size limit. No test touches the internet."""

import hashlib
import io
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from fovex_lib.gaze import mit1003, osie
from fovex_lib.gaze.download import DownloadError, download_file, extract_zip
from fovex_lib.gaze.mit1003 import download_mit1003, load_mit1003

FAST = {"timeout": 2.0, "retries": 0}  # tests never wait for the real back-off


class Server:
    """A local HTTP server whose answers the test sets: ``routes[path] = (body, mode)``.

    Modes: ``"ok"`` sends the body; ``"short"`` announces the full Content-Length but sends
    only half of the body and closes; ``"stall"`` sends the headers and then nothing until the
    test ends.
    """

    def __init__(self):
        self.routes, self.hits = {}, []
        self.stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits.append(self.path)
                if self.path not in server.routes:
                    self.send_error(404)
                    return
                body, mode = server.routes[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "ok":
                    self.wfile.write(body)
                elif mode == "short":
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                elif mode == "stall":
                    self.wfile.flush()
                    server.stop.wait(30)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


def _jpeg(height=600, width=800):
    rng = np.random.default_rng(0)  # noise: the JPEG is large enough that half of it is a real cut
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _mit_zips():
    """Tiny ALLSTIMULI.zip / ALLFIXATIONMAPS.zip in the official layout, as bytes."""
    stim, maps = io.BytesIO(), io.BytesIO()
    with zipfile.ZipFile(stim, "w") as s, zipfile.ZipFile(maps, "w") as m:
        rgb = np.full((20, 30, 3), 120, dtype=np.uint8)
        fix = np.zeros((20, 30), dtype=np.uint8)
        fix[5, 7] = 255
        for array, archive, path in ((rgb, s, "ALLSTIMULI/a.jpeg"), (fix, m, "ALLFIXATIONMAPS/a_fixPts.jpg")):
            buffer = io.BytesIO()
            Image.fromarray(array).save(buffer, format="JPEG", quality=100)
            archive.writestr(path, buffer.getvalue())
    return stim.getvalue(), maps.getvalue()


# --------------------------------------------------------------------------- item 1


def test_cut_off_first_mit1003_download_does_not_pin_its_digest(tmp_path, server, monkeypatch):
    stim, maps = _mit_zips()
    monkeypatch.setattr(
        mit1003,
        "MIT1003_ARCHIVES",
        {
            "ALLSTIMULI.zip": ("ALLSTIMULI", "sha256:" + hashlib.sha256(stim).hexdigest()),
            "ALLFIXATIONMAPS.zip": ("ALLFIXATIONMAPS", None),
        },
    )  # no published digest: trust on first use
    server.routes["/ALLSTIMULI.zip"] = (stim, "ok")
    # the server (or a proxy) delivers a cut-off archive with a matching Content-Length
    server.routes["/ALLFIXATIONMAPS.zip"] = (maps[: len(maps) // 2], "ok")
    folder = tmp_path / "mit1003"
    with pytest.raises(ValueError, match="ALLFIXATIONMAPS.zip.*not a readable zip.*run download_mit1003 again"):
        download_mit1003(tmp_path, base_url=server.url, progress=False, **FAST)
    sums = folder / "SHA256SUMS"
    assert not sums.exists() or "ALLFIXATIONMAPS" not in sums.read_text()  # nothing pinned
    assert not (folder / "ALLFIXATIONMAPS.zip").exists() and not (folder / "ALLFIXATIONMAPS").exists()
    # a body cut short of its Content-Length fails in download_file: nothing pinned either
    server.routes["/ALLFIXATIONMAPS.zip"] = (maps, "short")
    with pytest.raises(DownloadError, match="ALLFIXATIONMAPS.zip"):
        download_mit1003(tmp_path, base_url=server.url, progress=False, **FAST)
    assert not sums.exists() or "ALLFIXATIONMAPS" not in sums.read_text()
    # the good archive then downloads, extracts and pins its own digest
    server.routes["/ALLFIXATIONMAPS.zip"] = (maps, "ok")
    download_mit1003(tmp_path, base_url=server.url, progress=False, **FAST)
    assert hashlib.sha256(maps).hexdigest() in sums.read_text()
    assert [r.image_id for r in load_mit1003(tmp_path, download=False)] == ["a"]


# --------------------------------------------------------------------------- item 2


def test_body_shorter_than_content_length_is_refused(tmp_path, server):
    payload = b"fixations " * 5000
    server.routes["/file.bin"] = (payload, "short")
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(DownloadError, match=r"file\.bin.*announced 50000"):
        download_file(server.url + "file.bin", dest, None, allow_unverified=True, progress=False, **FAST)
    assert list((tmp_path / "out").iterdir()) == []  # neither the final name nor a temporary file
    # with retries, every try is made, then the error names the URL and the number of tries
    server.hits.clear()
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1.*file\.bin.*after 3 tries"):
        download_file(
            server.url + "file.bin",
            dest,
            None,
            allow_unverified=True,
            progress=False,
            timeout=2.0,
            retries=2,
            backoff=0.01,
        )
    assert server.hits.count("/file.bin") == 3
    assert list((tmp_path / "out").iterdir()) == []
    server.routes["/file.bin"] = (payload, "ok")
    assert (
        download_file(server.url + "file.bin", dest, None, allow_unverified=True, progress=False, **FAST)
        == hashlib.sha256(payload).hexdigest()
    )
    assert dest.read_bytes() == payload


def test_osie_refuses_a_truncated_jpeg(tmp_path, server, monkeypatch):
    """An unverified OSIE stimulus (1501-1700) must decode completely, not just pass Image.verify()."""
    jpeg = _jpeg()
    half = jpeg[: len(jpeg) // 2]
    with Image.open(io.BytesIO(half)) as img:
        img.verify()  # the old check passes the half JPEG
    mat = b"not read by this test"
    monkeypatch.setattr(
        osie, "osie_checksums", lambda: {"eye/fixations.mat": "sha256:" + hashlib.sha256(mat).hexdigest()}
    )
    monkeypatch.setattr(osie, "OSIE_IDS", ["1501"])  # a stimulus without a recorded digest
    server.routes["/eye/fixations.mat"] = (mat, "ok")
    server.routes["/stimuli/1501.jpg"] = (half, "ok")
    with pytest.raises(ValueError, match="1501.jpg.*not a readable image"):
        osie.download_osie(tmp_path, all_images=True, base_url=server.url, progress=False, **FAST)
    assert not (tmp_path / "osie" / "stimuli" / "1501.jpg").exists()
    server.routes["/stimuli/1501.jpg"] = (jpeg, "ok")
    osie.download_osie(tmp_path, all_images=True, base_url=server.url, progress=False, **FAST)
    assert (tmp_path / "osie" / "stimuli" / "1501.jpg").read_bytes() == jpeg


# --------------------------------------------------------------------------- item 7


def test_stalled_server_times_out_and_names_the_url(tmp_path, server):
    server.routes["/stall.zip"] = (b"x" * 1000, "stall")
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"http://127\.0\.0\.1:\d+/stall\.zip.*after 2 tries"):
        download_file(
            server.url + "stall.zip",
            tmp_path / "stall.zip",
            None,
            allow_unverified=True,
            progress=False,
            timeout=0.3,
            retries=1,
            backoff=0.01,
        )
    assert time.monotonic() - start < 5
    assert server.hits.count("/stall.zip") == 2
    assert list(tmp_path.iterdir()) == []


def test_not_found_is_not_retried_and_limits_are_checked(tmp_path, server):
    with pytest.raises(DownloadError, match=r"missing\.bin.*HTTP Error 404.*after 1 try"):
        download_file(
            server.url + "missing.bin",
            tmp_path / "m.bin",
            None,
            allow_unverified=True,
            progress=False,
            timeout=2.0,
            retries=3,
            backoff=5.0,
        )  # a retry would wait 5 s
    for bad in ({"timeout": 0}, {"timeout": float("nan")}, {"retries": -1}, {"backoff": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            download_file(server.url + "x", tmp_path / "x", None, allow_unverified=True, **bad)
    with pytest.raises(TypeError, match="retries must be an int >= 0"):  # not a whole number: a type error
        download_file(server.url + "x", tmp_path / "x", None, allow_unverified=True, retries=1.5)


# --------------------------------------------------------------------------- item 9


def test_zip_extraction_has_a_size_limit(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("ALLSTIMULI/zeros.bin", b"\0" * 1_000_000)  # 1 MB of zeros, ~1 KB compressed
    assert archive.stat().st_size < 10_000
    with pytest.raises(ValueError, match=r"1,000,000 bytes uncompressed.*limit of 100,000 bytes.*max_bytes"):
        extract_zip(archive, tmp_path / "dest", folders=("ALLSTIMULI",), max_bytes=100_000)
    assert list((tmp_path / "dest").iterdir()) == []  # nothing extracted, temporary folder removed
    out = extract_zip(archive, tmp_path / "dest", folders=("ALLSTIMULI",))  # the 4 GiB default admits it
    assert (out[0] / "zeros.bin").stat().st_size == 1_000_000


def test_damaged_zip_member_is_a_clear_error(tmp_path):
    archive = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("ALLSTIMULI/a.bin", b"A" * 1000)
    data = bytearray(archive.read_bytes())
    data[data.index(b"A" * 100) + 10] = ord("B")  # flip one byte of the member's data
    archive.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged.*download it again"):
        extract_zip(archive, tmp_path / "dest", folders=("ALLSTIMULI",))
    assert list((tmp_path / "dest").iterdir()) == []
