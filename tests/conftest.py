"""Shared fixtures: a loopback HTTP mirror whose answers the tests script."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Mirror:
    """A loopback HTTP server on an ephemeral port.

    ``routes`` maps a path ("/a/file.gz") to bytes (served with status 200)
    or to a callable ``handler -> None`` for scripted failures.  ``hits``
    counts requests per path.
    """

    def __init__(self):
        self.routes = {}
        self.hits = {}
        self._stop = threading.Event()
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                mirror.hits[self.path] = mirror.hits.get(self.path, 0) + 1
                route = mirror.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                elif callable(route):
                    route(self)
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(route)))
                    self.end_headers()
                    self.wfile.write(route)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve_folder(self, prefix, folder):
        for path in folder.iterdir():
            self.routes[f"{prefix}/{path.name}"] = path.read_bytes()

    def hang(self, seconds=30):
        """A route that accepts the request and never answers (until stopped)."""

        def route(handler):
            self._stop.wait(seconds)

        return route

    def truncated(self, data, keep):
        """A route that promises len(data) bytes and closes after ``keep``."""

        def route(handler):
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data[:keep])
            handler.wfile.flush()
            handler.close_connection = True

        return route

    def status(self, code):
        def route(handler):
            handler.send_error(code)

        return route

    def close(self):
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror():
    m = Mirror()
    yield m
    m.close()


def serve_dataset(folder, **kwargs):
    """A test dataset written into ``folder`` and served by a new loopback mirror under /tiny/."""
    from datagen import write_dataset

    definition = write_dataset(folder, **kwargs)
    mirror = Mirror()
    mirror.serve_folder("/tiny", folder)
    return mirror, definition
