"""Fixtures for the integration tests: real servers on free loopback ports.

A missing server binary fails the run instead of skipping it: CI installs them
all through ``scripts/test.sh``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.integration.servers.bind import MISSING_NAMED, BindServer, find_named
from tests.integration.servers.moto_route53 import MotoRoute53
from tests.integration.servers.pebble import PebbleServer

# --- BIND (RFC 2136 and DNS-01) ---


@pytest.fixture(scope="session")
def bind_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BindServer]:
    """named, authoritative for ``example.test.`` and ``other.test.``, for the whole run."""
    if find_named() is None:
        pytest.fail(MISSING_NAMED)
    server = BindServer(Path(tmp_path_factory.mktemp("bind")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dns_label() -> str:
    """A label no other test uses, so records of one test never show up in another.

    Use it as ``f"{dns_label}.example.test"``.
    """
    return f"t-{uuid.uuid4().hex[:12]}"


# --- Pebble (ACME) ---


@pytest.fixture(scope="session")
def pebble_dns_server(bind_server: BindServer) -> str:
    """``host:port`` Pebble's validation authority resolves names with (BIND)."""
    return bind_server.address


@pytest.fixture(scope="session")
def pebble_server(pebble_dns_server: str) -> Iterator[PebbleServer]:
    """The Pebble shared by every test that needs no special settings."""
    with PebbleServer(dns_server=pebble_dns_server) as server:
        yield server


@pytest.fixture
def pebble_factory(pebble_dns_server: str) -> Iterator[Callable[..., PebbleServer]]:
    """Start dedicated Pebbles (EAB, nonce rejection, alternate roots); stopped after the test."""
    with ExitStack() as stack:

        def start(**options: Any) -> PebbleServer:
            options.setdefault("dns_server", pebble_dns_server)
            return stack.enter_context(PebbleServer(**options))

        yield start


# --- a static web server for webroot tests ---


@pytest.fixture
def web_server() -> Iterator[Callable[[Path, int], None]]:
    """Serve a folder over HTTP on 127.0.0.1:PORT for the rest of the test."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    def start(folder: Path, port: int) -> None:
        handler = functools.partial(QuietHandler, directory=str(folder))
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        servers.append((server, thread))

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()


# --- Kubernetes API (strict in-process fake; tests/integration/servers/kubeapi.py) ---
# Appended as its own section, so its import sits here rather than at the top.

from tests.integration.servers.kubeapi import KubeAPIServer  # noqa: E402


@pytest.fixture
def kube_api() -> Iterator[KubeAPIServer]:
    """A fresh strict fake kube-apiserver on a free loopback port, stopped after the test.

    ``kube_api.write_kubeconfig(tmp_path / "kubeconfig")`` gives the admin's kubeconfig;
    ``grant()`` and ``write_kubeconfig(..., token=...)`` give narrower users. A crash inside
    the fake fails the test that caused it.
    """
    with KubeAPIServer() as server:
        yield server
    assert not server.internal_errors, server.internal_errors


# --- moto (Route 53 and STS) ---


@pytest.fixture(scope="session")
def moto_route53() -> Iterator[MotoRoute53]:
    """moto in server mode with IAM access control on, its users, role and hosted zones."""
    server = MotoRoute53()
    server.start()
    try:
        yield server
    finally:
        server.stop()
