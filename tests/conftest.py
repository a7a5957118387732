"""Shared test fixtures.

* ``VNA_DATA_DIR`` is set to vna's own data folder (``vna.data.data_dir``: the variable, else ``shared/data``
  beside the repository, else ``~/.cache/vna``), so that subprocesses and copies of the code find it too.
* ``shared_data`` gives that folder or skips (naming the missing resource) when there is neither a cache
  nor a network: CI always provides it, so nothing data-related skips there.
* ``http_server`` serves a folder on 127.0.0.1 (for the download paths).
"""
from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

from vna.data.cache import data_dir

REPO = Path(__file__).resolve().parents[1]
os.environ["VNA_DATA_DIR"] = str(data_dir())


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder holding the real recordings (``$VNA_DATA_DIR``)."""
    path = data_dir()
    if not (path / "cowley2023_v4").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide the real data, but {path} has no cowley2023_v4/")
        pytest.skip(f"no offline copy of the real data at {path} (set VNA_DATA_DIR)")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def http_server():
    """``serve(folder) -> base_url``: an HTTP server on 127.0.0.1 for ``folder``, stopped after the test."""
    servers = []

    def serve(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}"

    yield serve
    for srv in servers:
        srv.shutdown()
        srv.server_close()
