"""``http01.standalone`` (a certctl extension): answer HTTP-01 on a local listener.

One listener serves each (address, port) for the whole process: every order and
every solver instance adds its tokens to it. The first ``present`` starts it and
the last ``cleanup`` stops it, so concurrent orders never fight over port 80.

The Host header is not used to find the token: certctl answers for whatever name
points at it, and the token alone identifies the challenge (RFC 8555 §8.3). The
domain a token was presented for is kept for the log.
"""

from __future__ import annotations

import errno
import logging
import socket
import socketserver
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from certctl.acme.solvers.base import SolverContext
from certctl.errors import IssuanceError

__all__ = ["CHALLENGE_PATH", "StandaloneSolver", "serve_tokens"]

log = logging.getLogger(__name__)

#: RFC 8555 §8.3: the path the ACME server fetches.
CHALLENGE_PATH = "/.well-known/acme-challenge/"

#: How often ``serve_forever`` looks at its shutdown flag; also bounds how long a stop takes.
_POLL_INTERVAL = 0.05

#: How long one client may take to send its request before its connection is dropped,
#: so that a stalled client cannot hold up a stop.
_REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class _Answer:
    key_authorization: str
    domain: str


class _TokenTable:
    """The tokens one listener answers, safe to use from its request threads."""

    def __init__(self, tokens: Mapping[str, _Answer] | None = None) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, _Answer] = dict(tokens or {})

    def get(self, token: str) -> _Answer | None:
        with self._lock:
            return self._tokens.get(token)

    def put(self, token: str, answer: _Answer) -> None:
        with self._lock:
            self._tokens[token] = answer

    def remove(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


class _ChallengeHandler(BaseHTTPRequestHandler):
    server: _ChallengeServer
    # HTTP/1.0: one request per connection, so no idle keep-alive delays a stop.
    protocol_version = "HTTP/1.0"
    timeout = _REQUEST_TIMEOUT
    server_version = "certctl-http01"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, *, with_body: bool) -> None:
        path = urlsplit(self.path).path
        answer: _Answer | None = None
        if path.startswith(CHALLENGE_PATH):
            token = path[len(CHALLENGE_PATH) :]
            answer = self.server.tokens.get(token) if token and "/" not in token else None
        host = self.headers.get("Host", "")
        if answer is None:
            log.debug("HTTP-01: 404 for %s (Host %r) from %s", path, host, self.client_address[0])
            body = b"not found\n"
            self.send_response(HTTPStatus.NOT_FOUND)
        else:
            log.info(
                "HTTP-01: served the key authorization for %s (Host %r) to %s",
                answer.domain,
                host,
                self.client_address[0],
            )
            body = answer.key_authorization.encode("ascii")
            self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # The base class writes to stderr; certctl logs through logging only.
        log.debug("HTTP-01 listener: " + format, *args)


class _ChallengeServer(ThreadingHTTPServer):
    # Request threads are joined on close (no daemon threads left behind).
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: str, port: int, tokens: _TokenTable) -> None:
        self.tokens = tokens
        host, family, dual_stack = _bind_target(address)
        self.address_family = family
        self._dual_stack = dual_stack
        super().__init__((host, port), _ChallengeHandler)

    def server_bind(self) -> None:
        if self._dual_stack:
            # "" means every interface: take IPv6 and IPv4 on one socket.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # HTTPServer.server_bind would also look up the host's FQDN, a reverse DNS
        # query that can stall; the handler never needs it.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])


def _bind_target(address: str) -> tuple[str, socket.AddressFamily, bool]:
    """Host, address family and whether to accept IPv4 on an IPv6 socket."""
    if not address:
        if socket.has_dualstack_ipv6():
            return "::", socket.AF_INET6, True
        return "0.0.0.0", socket.AF_INET, False
    if ":" in address:
        return address.strip("[]"), socket.AF_INET6, False
    return address, socket.AF_INET, False


def _where(address: str, port: int) -> str:
    if not address:
        return f"port {port} on every address"
    host = f"[{address.strip('[]')}]" if ":" in address else address
    return f"{host}:{port}"


class _Listener:
    """One running server and the thread that serves it."""

    def __init__(self, address: str, port: int, tokens: _TokenTable) -> None:
        self.where = _where(address, port)
        try:
            self.server = _ChallengeServer(address, port, tokens)
        except OSError as exc:
            raise _bind_error(address, port, exc) from exc
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"certctl-http01 {self.where}",
        )
        self.thread.start()
        log.debug("HTTP-01: listening on %s", self.where)

    @property
    def tokens(self) -> _TokenTable:
        return self.server.tokens

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()
        # Joins the request threads still running, then closes the socket.
        self.server.server_close()
        log.debug("HTTP-01: stopped listening on %s", self.where)


def _bind_error(address: str, port: int, exc: OSError) -> IssuanceError:
    where = _where(address, port)
    if exc.errno == errno.EADDRINUSE:
        return IssuanceError(
            f"Cannot listen for HTTP-01 challenges on {where}: the port is already in use",
            hint=(
                f"stop what listens on port {port} (ss -ltnp shows it), set "
                "http01.standalone.port to a free port and forward port 80 to it, or use "
                "http01.webroot to let that web server answer"
            ),
            reason="PresentError",
            retryable=True,
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return IssuanceError(
            f"Cannot listen for HTTP-01 challenges on {where}: permission denied "
            f"(ports below 1024 need privileges)",
            hint=(
                "run as root, give the process CAP_NET_BIND_SERVICE, or set "
                "http01.standalone.port and forward port 80 to it"
            ),
            reason="PresentError",
        )
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return IssuanceError(
            f"Cannot listen for HTTP-01 challenges on {where}: "
            f"the address is not one of this host's ({exc.strerror or exc})",
            hint='set http01.standalone.address to an address of this host, or "" for all',
            reason="PresentError",
        )
    return IssuanceError(
        f"Cannot listen for HTTP-01 challenges on {where}: {exc.strerror or exc}",
        reason="PresentError",
    )


#: The listeners of this process by (address, port); guarded by ``_LISTENERS_LOCK``.
_LISTENERS: dict[tuple[str, int], _Listener] = {}
_LISTENERS_LOCK = threading.Lock()


def _add_token(address: str, port: int, token: str, answer: _Answer) -> None:
    with _LISTENERS_LOCK:
        listener = _LISTENERS.get((address, port))
        if listener is None:
            listener = _Listener(address, port, _TokenTable())
            _LISTENERS[(address, port)] = listener
        listener.tokens.put(token, answer)


def _remove_token(address: str, port: int, token: str) -> None:
    with _LISTENERS_LOCK:
        listener = _LISTENERS.get((address, port))
        if listener is None:
            return
        listener.tokens.remove(token)
        if len(listener.tokens) == 0:
            del _LISTENERS[(address, port)]
            # Still under the lock, so a concurrent present waits for the port to be
            # free instead of failing to bind it. Request threads never take this lock.
            listener.stop()


def _check_token(token: str) -> None:
    # RFC 8555 §8.1: a token is base64url; anything else would not fit in one path segment.
    if not token or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in token):
        raise IssuanceError(
            f"The ACME server sent an HTTP-01 token that is not base64url: {token!r}",
            reason="PresentError",
        )


class StandaloneSolver:
    """``http01.standalone {port, address}``: serve key authorizations in this process.

    Args:
        config: the ``standalone`` block: ``port`` (default 80) and ``address``
            (default ``""``, every interface).
        context: the issuer's solver context (for messages).
    """

    #: The listener answers as soon as the token is added: one pass is proof enough.
    self_check_passes = 1

    def __init__(self, config: Mapping[str, Any], context: SolverContext) -> None:
        self.port = int(config.get("port") or 80)
        self.address = str(config.get("address") or "")
        self.context = context

    def present(self, domain: str, token: str, key_authorization: str) -> None:
        """Answer ``key_authorization`` at ``/.well-known/acme-challenge/<token>``.

        Raises:
            IssuanceError: the listener cannot be started (port in use, no privilege).
        """
        _check_token(token)
        _add_token(self.address, self.port, token, _Answer(key_authorization, domain))
        log.debug("HTTP-01: presenting %s for %s on %s", token, domain, self._where())

    def cleanup(self, domain: str, token: str, key_authorization: str) -> None:
        """Stop answering ``token``; stop the listener when it was the last one."""
        _remove_token(self.address, self.port, token)

    def _where(self) -> str:
        return _where(self.address, self.port)


def serve_tokens(address: str, port: int, tokens: Mapping[str, str], stop: threading.Event) -> None:
    """Answer fixed tokens until ``stop`` is set (``certctl challenge serve``).

    This listener is separate from the solvers' shared ones.

    Args:
        address: the address to listen on; ``""`` for every interface.
        port: the port to listen on.
        tokens: key authorization by token.
        stop: set it (from a signal handler or another thread) to stop serving.

    Raises:
        IssuanceError: the port cannot be bound, or a token is malformed.
    """
    for token in tokens:
        _check_token(token)
    table = _TokenTable(
        {token: _Answer(key_authorization, "") for token, key_authorization in tokens.items()}
    )
    listener = _Listener(address, port, table)
    try:
        stop.wait()
    finally:
        listener.stop()
