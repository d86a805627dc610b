"""Fixtures for the data tests: isolated env vars and a real local HTTP server."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hwnas.data import locate


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (signature fixed by the base class)
        self.server.requests.append(self.path)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Keep tests away from ~/.cache and any user HWNAS_DATA."""
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HWNAS_DATA", raising=False)


@pytest.fixture
def no_system_data(tmp_path, monkeypatch) -> Path:
    """Point the system dataset root at an empty directory."""
    root = tmp_path / "system-datasets"
    monkeypatch.setattr(locate, "SYSTEM_DATA_ROOT", root)
    return root


@pytest.fixture
def http_server(tmp_path):
    """Serve ``tmp_path/www`` on 127.0.0.1; yields (root dir, base URL, list of request paths)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/", server.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
