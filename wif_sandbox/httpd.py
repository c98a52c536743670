"""Real HTTPS in front of a ``wire.Handler``, with transport faults and a request log.

Each emulated service (ARM, Entra, the OIDC host, every cluster's API server) is
one :class:`HttpsServer`: a threaded ``http.server`` whose sockets are wrapped in
TLS inside the connection's own thread, so a slow handshake never blocks accept.
HTTP/1.1 keep-alive is kept (urllib3 and kubectl reuse connections); the TLS
context can ask for an optional client certificate, which Kubernetes uses as
identity (CN = user, O = groups).

Faults are applied here, in front of the handler, so every service gets the same
knobs: latency, random 5xx with the service's own error body, random timeouts
(hold, then drop the connection without an answer). Bodies and headers are never
logged: Authorization headers and token responses must not reach a log.
"""
from __future__ import annotations

import http.server
import json
import logging
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from wif_sandbox import faults as faults_mod
from wif_sandbox import wire
from wif_sandbox.pki import CA

_log = logging.getLogger(__name__)

_IDLE_TIMEOUT_S = 120.0  # keep-alive connections idle longer than this are closed


def fault_response(service: str, status: int, operation: str) -> wire.Response:
    """A 5xx in the dialect of the service, as its real counterpart would send."""
    if service.startswith("kube"):
        body: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server is currently unable to handle the request",
            "reason": "ServiceUnavailable" if status == 503 else "InternalError", "code": status,
        }
    elif service.startswith("entra"):
        body = {
            "error": "temporarily_unavailable",
            "error_description": "AADSTS90033: A transient error has occurred. Please try again.",
            "error_codes": [90033],
        }
    else:
        code = {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable"}[status]
        body = {"error": {"code": code, "message": "The server encountered a transient error. Please retry."}}
    return wire.Response.json(status, body, operation)


def _client_cert(sock: ssl.SSLSocket) -> wire.ClientCert | None:
    peer = sock.getpeercert()
    if not peer:
        return None
    user, groups = "", []
    subject: Any = peer.get("subject", ())
    for rdn in subject:
        for key, value in rdn:
            if key == "commonName":
                user = value
            elif key == "organizationName":
                groups.append(value)
    return wire.ClientCert(user, tuple(groups))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT_S
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the request log records calls without paths or headers."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _request(self) -> wire.Request:
        parts = urlsplit(self.path)
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            k = key.lower()
            headers[k] = f"{headers[k]}, {value}" if k in headers else value
        cert = _client_cert(self.connection) if isinstance(self.connection, ssl.SSLSocket) else None
        return wire.Request(
            method=self.command.upper(),
            path=unquote(parts.path),
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=headers,
            body=self._read_body(),
            client_cert=cert,
        )

    def _dispatch(self) -> None:
        started = time.monotonic()
        req = self._request()
        srv = self.server.owner
        knobs = srv.faults
        if knobs.latency_s > 0:
            time.sleep(knobs.latency_s)
        fate = knobs.draw()
        if fate == "timeout":
            time.sleep(knobs.timeout_s)
            self.close_connection = True
            srv.log.record(srv.service, srv.operation_of(req), faults_mod.TIMEOUT_STATUS, _ms(started))
            return
        if fate == "error":
            resp = fault_response(srv.service, knobs.error_status(), srv.operation_of(req))
        else:
            resp = srv.call(req)
        # Logged before the answer leaves, so a client that got it always finds it in the log.
        srv.log.record(srv.service, resp.operation, resp.status, _ms(started))
        self._write(resp)

    def _write(self, resp: wire.Response) -> None:
        self.send_response(resp.status)
        names = {k.lower() for k in resp.headers}
        for key, value in resp.headers.items():
            self.send_header(key, value)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD" and resp.body:
            self.wfile.write(resp.body)
        self.wfile.flush()

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000.0, 1)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: HttpsServer, address: tuple[str, int]) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS handshake in the connection thread, then serve until the client leaves."""
        request.settimeout(_IDLE_TIMEOUT_S)
        # Headers and body leave in separate writes: without this, Nagle + delayed ACK add ~40 ms a call.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.owner.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that gave up or does not trust the CA: nothing to serve
        self.owner.track(tls, True)
        try:
            _Handler(tls, client_address, self)
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError):
            pass  # the client went away mid-request; nothing left to answer
        finally:
            self.owner.track(tls, False)
            _hard_close(tls)


def _hard_close(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the peer
    sock.close()


class HttpsServer:
    """One emulated service on ``https://127.0.0.1:<port>``."""

    def __init__(
        self,
        handler: wire.Handler,
        *,
        ca: CA,
        service: str,
        log: faults_mod.RequestLog,
        faults: faults_mod.Faults,
        host: str = "127.0.0.1",
        port: int = 0,
        client_certs: bool = False,
        hostnames: list[str] | None = None,
        operation_of: Callable[[wire.Request], str] | None = None,
    ) -> None:
        self.handler = handler
        self.service = service
        self.log = log
        self.faults = faults
        self.host = host
        self.port = port
        # Names the call an injected fault replaced, so retries count per operation.
        self.operation_of = operation_of or (lambda req: f"request.{req.method.lower()}")
        cert, key = ca.issue_server(list(hostnames or ["localhost"]), [host])
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_context.load_cert_chain(cert, key)
        if client_certs:
            self.ssl_context.verify_mode = ssl.CERT_OPTIONAL
            self.ssl_context.load_verify_locations(cafile=str(ca.bundle_path))
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[ssl.SSLSocket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> HttpsServer:
        self._server = _Server(self, (self.host, self.port))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"https-{self.service}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections, as a deleted host would."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
            except OSError:
                pass  # the connection thread closed it first
        self._server = None

    def track(self, conn: ssl.SSLSocket, alive: bool) -> None:
        with self._lock:
            (self._conns.add if alive else self._conns.discard)(conn)

    def call(self, req: wire.Request) -> wire.Response:
        """Run the handler; a crash becomes a 500 in the service's dialect, logged with its trace."""
        try:
            return self.handler(req)
        except Exception:  # noqa: BLE001 - server boundary: report, never kill the connection thread
            _log.exception("%s handler failed on %s %s", self.service, req.method, req.path)
            return fault_response(self.service, 500, self.operation_of(req))

    def __enter__(self) -> HttpsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def json_body(resp: wire.Response) -> Any:
    """Decoded JSON of a response (used by in-process callers such as run command)."""
    return json.loads(resp.body.decode("utf-8")) if resp.body else None
