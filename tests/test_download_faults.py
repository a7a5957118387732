"""Downloads against servers that misbehave: every one ends after a bounded number of requests with one clear
line, and nothing that failed its check ever has the final name.

A local server on 127.0.0.1 (threads) plays each fault: it ignores ``Range`` and drops the connection, announces a
``Content-Length`` larger than it sends, sends a gzip-encoded body, answers 503, or serves an HTML page with status
200 where an image or an NWB file should be. Each server answers 404 after :data:`CAP` requests, so that a download
that would loop for ever ends (and the test fails on the count) instead of hanging.
"""
from __future__ import annotations

import gzip
import http.server
import io
import threading
from pathlib import Path

import numpy as np
import pytest

from vna.data import cache
from vna.data.cache import CorruptDataFile, MissingDataFile
from vna.data.download import DownloadCorrupt, DownloadError, DownloadRefused, download, part_path
from vna.data.paper import _common

CAP = 60  # requests after which the server gives up (a bounded download never gets near it)
HTML = b"<!DOCTYPE html><html><head><title>Wi-Fi login</title></head><body>Please sign in</body></html>\n"


def _tiff_bytes() -> bytes:
    from PIL import Image

    b = io.BytesIO()
    Image.fromarray((np.arange(64).reshape(8, 8) * 3).astype(np.uint8)).save(b, format="TIFF")
    return b.getvalue()


class Faulty:
    """A server on 127.0.0.1 whose GETs of any path behave as ``fault`` says; ``gets`` counts them."""

    def __init__(self, fault: str, body: bytes):
        self.fault, self.body, self.gets, self.ranges = fault, body, 0, []

    def __enter__(self) -> "Faulty":
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - http.server's hook
                outer.gets += 1
                outer.ranges.append(self.headers.get("Range"))
                data, fault = outer.body, outer.fault
                if outer.gets > CAP:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "503":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)  # every fault but 503 ignores Range
                if fault == "gzip":
                    packed = gzip.compress(data)
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(packed)))
                    self.end_headers()
                    self.wfile.write(packed)
                    return
                if fault == "longer":  # announces more than it sends, then closes
                    self.send_header("Content-Length", str(len(data) + 1000))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if fault == "drop":  # half the file, then the connection drops
                    self.wfile.write(data[: len(data) // 2])
                    return
                self.wfile.write(data)  # "ok" / "html": the whole body

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


BODY = np.random.default_rng(0).bytes(300_000)  # incompressible: gzip makes it longer


@pytest.mark.parametrize("fault", ["drop", "longer"])
def test_a_server_that_ignores_range_and_breaks_off_is_restarted_once_then_named(fault, tmp_path):
    said = []
    target = tmp_path / "f.bin"
    with Faulty(fault, BODY) as server:
        with pytest.raises(DownloadError) as err:
            download(server.url + "/f.bin", target, progress=False, backoff=0, retries=5, log=said.append)
    # 1 attempt, 1 resume refused by the server (a 200 to a Range request: restart from 0, said once), 1 more refusal
    assert server.gets == 3, server.ranges
    assert server.ranges[0] is None and server.ranges[1].startswith("bytes=")
    assert sum("starting again from byte 0 (once)" in line for line in said) == 1, said
    message = str(err.value)
    assert "ignored the byte range" in message and "again, so the download cannot resume" in message, message
    assert "\n" not in message
    assert not target.exists()


def test_a_gzip_encoded_body_is_refused_at_once(tmp_path):
    target = tmp_path / "f.bin"
    with Faulty("gzip", BODY) as server:
        with pytest.raises(DownloadRefused, match=r"gzip-encoded \(Content-Encoding: gzip\) although vna asked for its "
                                                  r"bytes as they are \(identity\)"):
            download(server.url + "/f.bin", target, progress=False, backoff=0)
        assert server.gets == 1
    assert not target.exists() and not part_path(target).exists()


def test_a_503_without_a_byte_says_no_partial_file_was_kept(tmp_path):
    target = tmp_path / "f.bin"
    with Faulty("503", BODY) as server:
        with pytest.raises(DownloadError) as err:
            download(server.url + "/f.bin", target, progress=False, backoff=0, retries=2)
        assert server.gets == 3  # the first try and 2 retries
    message = str(err.value)
    assert "gave up after 2 retries without progress (HTTP 503" in message
    assert "no partial file was kept" in message and ".part" not in message, message
    assert not part_path(target).exists() and not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["natural_scene_3.tiff", "session.nwb", "asset.json", "data.bin"])
def test_an_html_page_served_with_200_never_gets_the_final_name(name, tmp_path):
    target = tmp_path / name
    with Faulty("html", HTML) as server:
        with pytest.raises(DownloadCorrupt) as err:
            download(server.url + "/" + name, target, progress=False, backoff=0)
        assert server.gets == 1
    assert "an HTML page (starts with b'<!DOCTYPE html>" in str(err.value)
    assert not target.exists() and not part_path(target).exists()


def test_content_problem_knows_each_kind(tmp_path):
    from vna.data.download import content_problem

    tiff = tmp_path / "a.tiff"
    tiff.write_bytes(_tiff_bytes())
    nwb = tmp_path / "a.nwb"
    nwb.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    blocked = tmp_path / "b.nwb"  # HDF5 after a 512-byte user block
    blocked.write_bytes(bytes(512) + b"\x89HDF\r\n\x1a\n" + bytes(100))
    assert content_problem(tiff) is None and content_problem(nwb) is None and content_problem(blocked) is None
    assert "no HDF5 signature" in content_problem(tmp_path / "a.tiff", name="x.nwb")
    assert "not a readable TIFF image" in content_problem(nwb, name="x.tiff")


def test_allen_template_error_page_is_refused_and_cached_debris_is_replaced(tmp_path, monkeypatch):
    """The Allen templates have no published hash: a captive portal's page must not be cached as image 3, and a page
    cached by an older vna is downloaded again, not read as an image for ever."""
    from vna.data.download import content_problem

    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    relpath = "templates/natural_scene_3.tiff"
    target = tmp_path / "allen" / relpath
    with Faulty("html", HTML) as server:
        with pytest.raises(CorruptDataFile, match=r"allen/templates/natural_scene_3\.tiff .*failed its check \(not a "
                                                  r"readable TIFF image .*an HTML page"):
            _common.fetch_unverified("allen", relpath, server.url + "/t.tiff", progress=False)
    assert not target.exists() and not part_path(target).exists()
    target.parent.mkdir(parents=True)
    target.write_bytes(HTML)  # what an older vna left under the final name
    with Faulty("ok", _tiff_bytes()) as server:
        got = _common.fetch_unverified("allen", relpath, server.url + "/t.tiff", progress=False)
        assert server.gets == 1  # the debris was noticed and fetched again
    assert got == target and content_problem(target) is None
    with Faulty("ok", _tiff_bytes()) as server:
        _common.fetch_unverified("allen", relpath, server.url + "/t.tiff", progress=False)
        assert server.gets == 0  # a good cached copy makes no request


def test_hashed_fetch_through_a_range_ignoring_server_ends(tmp_path, monkeypatch):
    monkeypatch.setenv("VNA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VNA_DOWNLOAD_BACKOFF", "0")
    with Faulty("drop", BODY) as server:
        with pytest.raises(MissingDataFile, match=r"the server ignored the byte range .* again, so the download cannot "
                                                  "resume"):
            cache.fetch("x", "f.bin", server.url + "/f.bin", "sha256:" + "0" * 64, progress=False)
        assert server.gets == 3
    assert not (tmp_path / "x" / "f.bin").exists()
