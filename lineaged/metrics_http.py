"""/metrics and /healthz over HTTP, in a thread so a busy or stuck loop cannot hide.

prometheus-client's WSGI app renders /metrics; /healthz answers from the Health state
the loop keeps fresh (heartbeat age, last Neo4j check), so a probe costs no query.
Loopback by default; the address is `service.metrics_address` ("host:port", "" or
"0" disables it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import orjson
from prometheus_client import make_wsgi_app

from lineaged.metrics import Metrics


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would drown the journal."""


def parse_address(address: str) -> tuple[str, int] | None:
    """'127.0.0.1:9464' → ('127.0.0.1', 9464); '' or '0' → None (disabled)."""
    address = address.strip()
    if address in ("", "0"):
        return None
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def make_app(metrics: Metrics) -> Callable[..., Iterable[bytes]]:
    prometheus = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            ok, reason = metrics.health.healthy()
            body = orjson.dumps({"status": "ok" if ok else "unhealthy", "reason": reason})
            status = "200 OK" if ok else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json")])
            return [body]
        if path == "/metrics":
            return prometheus(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics or /healthz\n"]

    return app


class MetricsServer:
    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self._httpd = make_server(
            host, port, make_app(metrics), server_class=_Server, handler_class=_QuietHandler
        )
        self.address = self._httpd.server_address[:2]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="metrics-http", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.address[0]}:{self.address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
