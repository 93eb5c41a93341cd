"""HTTP-01: the standalone and webroot solvers, and the self-check against them."""

from __future__ import annotations

import datetime as dt
import errno
import http.client
import itertools
import logging
import os
import socket
import ssl
import stat
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from certctl.acme import http01
from certctl.acme.http01 import SelfCheckResult, check_http01, check_http01_repeatedly
from certctl.acme.settings import ACMESettings, Nameserver
from certctl.acme.solvers import standalone
from certctl.acme.solvers.base import SolverContext
from certctl.acme.solvers.standalone import StandaloneSolver, serve_tokens
from certctl.acme.solvers.webroot import WebrootSolver
from certctl.errors import IssuanceError

TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEY = f"{TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
OTHER_TOKEN = "NJyLmxGy4RJPMh9Vw1XfiTaT6dSbhHmtIKkQkC4gvPQ"
OTHER_KEY = f"{OTHER_TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"


# --- helpers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def context(settings: ACMESettings | None = None) -> SolverContext:
    return SolverContext(
        secret_namespace="default",
        read_secret=lambda namespace, name: None,
        settings=settings or ACMESettings(),
        issuer="Issuer/default/letsencrypt",
    )


def fetch(port: int, path: str, host: str = "example.com") -> tuple[int, str, bytes]:
    """GET from 127.0.0.1:port: status, content type and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def challenge(token: str) -> str:
    return f"/.well-known/acme-challenge/{token}"


def port_is_free(port: int) -> bool:
    # SO_REUSEADDR, as any server would set it: the listener's TIME_WAIT leftovers do
    # not count, only a socket still bound to the port.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def settings_for(port: int, **changes: Any) -> ACMESettings:
    return ACMESettings(http01_self_check_port=port, **changes)


@pytest.fixture(autouse=True)
def no_listener_left_behind() -> Iterator[None]:
    yield
    leftovers = dict(standalone._LISTENERS)
    for listener in leftovers.values():
        listener.stop()
    standalone._LISTENERS.clear()
    assert not leftovers, f"listeners still running: {list(leftovers)}"


@pytest.fixture
def solver_port() -> Iterator[int]:
    """A free port with one standalone solver presenting TOKEN on it."""
    port = free_port()
    solver = StandaloneSolver({"port": port, "address": "127.0.0.1"}, context())
    solver.present("localhost", TOKEN, KEY)
    try:
        yield port
    finally:
        solver.cleanup("localhost", TOKEN, KEY)


class _Server:
    """A throwaway HTTP server on a free loopback port, stopped and closed on exit."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = False
        self.port: int = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}
        )

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.thread.join()
        self.httpd.server_close()


def redirector(location: str) -> type[BaseHTTPRequestHandler]:
    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", location + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Redirect


# --- standalone -------------------------------------------------------------------------


def test_two_solvers_on_one_port_share_one_listener() -> None:
    port = free_port()
    first = StandaloneSolver({"port": port, "address": "127.0.0.1"}, context())
    second = StandaloneSolver({"port": port, "address": "127.0.0.1"}, context())

    first.present("a.example.com", TOKEN, KEY)
    second.present("b.example.com", OTHER_TOKEN, OTHER_KEY)
    assert list(standalone._LISTENERS) == [("127.0.0.1", port)]

    assert fetch(port, challenge(TOKEN)) == (200, "text/plain", KEY.encode())
    assert fetch(port, challenge(OTHER_TOKEN))[::2] == (200, OTHER_KEY.encode())
    assert fetch(port, challenge("unknown"))[0] == 404
    assert fetch(port, "/")[0] == 404

    first.cleanup("a.example.com", TOKEN, KEY)
    assert fetch(port, challenge(TOKEN))[0] == 404
    assert fetch(port, challenge(OTHER_TOKEN))[0] == 200, "the other token is still served"

    second.cleanup("b.example.com", OTHER_TOKEN, OTHER_KEY)
    assert standalone._LISTENERS == {}
    with pytest.raises(ConnectionRefusedError):
        fetch(port, challenge(OTHER_TOKEN))
    assert port_is_free(port)


def test_present_is_idempotent_and_cleanup_of_something_gone_does_not_raise() -> None:
    port = free_port()
    solver = StandaloneSolver({"port": port, "address": "127.0.0.1"}, context())
    solver.present("example.com", TOKEN, KEY)
    solver.present("example.com", TOKEN, KEY)
    solver.cleanup("example.com", TOKEN, KEY)
    solver.cleanup("example.com", TOKEN, KEY)
    assert standalone._LISTENERS == {}


def test_the_token_is_served_whatever_the_host_header_and_the_domain_is_logged(
    solver_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="certctl.acme.solvers.standalone"):
        assert fetch(solver_port, challenge(TOKEN), host="elsewhere.test")[0] == 200
    assert "localhost" in caplog.text
    assert "elsewhere.test" in caplog.text


def test_a_port_in_use_is_an_issuance_error_with_a_hint() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        solver = StandaloneSolver({"port": port, "address": "127.0.0.1"}, context())
        with pytest.raises(IssuanceError) as caught:
            solver.present("example.com", TOKEN, KEY)
    assert f"127.0.0.1:{port}" in caught.value.message
    assert "already in use" in caught.value.message
    assert "http01.standalone.port" in caught.value.hint
    assert standalone._LISTENERS == {}


def test_permission_denied_suggests_root_capability_or_another_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(standalone, "_ChallengeServer", refuse)
    with pytest.raises(IssuanceError) as caught:
        StandaloneSolver({}, context()).present("example.com", TOKEN, KEY)
    assert "port 80 on every address" in caught.value.message
    assert "permission denied" in caught.value.message
    assert "CAP_NET_BIND_SERVICE" in caught.value.hint
    assert "set http01.standalone.port and forward port 80 to it" in caught.value.hint


def test_a_token_that_is_not_base64url_is_refused() -> None:
    solver = StandaloneSolver({"port": free_port(), "address": "127.0.0.1"}, context())
    with pytest.raises(IssuanceError, match="not base64url"):
        solver.present("example.com", "../etc", KEY)


def test_serve_tokens_answers_until_stopped() -> None:
    port = free_port()
    stop = threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            serve_tokens("127.0.0.1", port, {TOKEN: KEY}, stop)
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        for _ in range(100):
            try:
                assert fetch(port, challenge(TOKEN))[::2] == (200, KEY.encode())
                break
            except ConnectionRefusedError:
                time.sleep(0.02)
        else:
            pytest.fail("serve_tokens never answered")
    finally:
        stop.set()
        thread.join(5)
    assert not errors
    assert port_is_free(port)


# --- webroot ----------------------------------------------------------------------------


@pytest.fixture
def strict_umask() -> Iterator[None]:
    # A restrictive umask proves the modes are set on purpose, not inherited.
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_webroot_writes_the_token_readable_by_the_web_server(
    tmp_path: Path, strict_umask: None
) -> None:
    solver = WebrootSolver({"path": str(tmp_path)}, context())
    solver.present("example.com", TOKEN, KEY)

    token_file = tmp_path / ".well-known" / "acme-challenge" / TOKEN
    assert token_file.read_text() == KEY
    assert mode(token_file) == 0o644
    assert mode(tmp_path / ".well-known") == 0o755
    assert mode(tmp_path / ".well-known" / "acme-challenge") == 0o755
    assert [p.name for p in token_file.parent.iterdir()] == [TOKEN], "no temporary file left"

    solver.cleanup("example.com", TOKEN, KEY)
    assert not (tmp_path / ".well-known").exists(), "the folders it created are removed"
    solver.cleanup("example.com", TOKEN, KEY)


def test_webroot_cleanup_keeps_folders_it_did_not_create_or_that_still_hold_files(
    tmp_path: Path,
) -> None:
    (tmp_path / ".well-known").mkdir()
    (tmp_path / ".well-known" / "security.txt").write_text("Contact: x")
    first = WebrootSolver({"path": str(tmp_path)}, context())
    second = WebrootSolver({"path": str(tmp_path)}, context())
    first.present("a.example.com", TOKEN, KEY)
    second.present("b.example.com", OTHER_TOKEN, OTHER_KEY)

    first.cleanup("a.example.com", TOKEN, KEY)
    challenge_dir = tmp_path / ".well-known" / "acme-challenge"
    assert (challenge_dir / OTHER_TOKEN).read_text() == OTHER_KEY

    second.cleanup("b.example.com", OTHER_TOKEN, OTHER_KEY)
    assert not challenge_dir.exists()
    assert (tmp_path / ".well-known" / "security.txt").exists()


def test_webroot_with_a_missing_folder_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-root"
    solver = WebrootSolver({"path": str(missing)}, context())
    with pytest.raises(IssuanceError) as caught:
        solver.present("example.com", TOKEN, KEY)
    assert str(missing) in caught.value.message
    assert "http01.webroot.path" in caught.value.hint


def test_webroot_refuses_a_token_that_would_escape_the_folder(tmp_path: Path) -> None:
    solver = WebrootSolver({"path": str(tmp_path)}, context())
    with pytest.raises(IssuanceError, match="not base64url"):
        solver.present("example.com", "../../evil", KEY)


# --- self-check -------------------------------------------------------------------------


@pytest.mark.parametrize("domain", ["127.0.0.1", "localhost"])
def test_self_check_passes_against_the_standalone_solver(solver_port: int, domain: str) -> None:
    result = check_http01(domain, TOKEN, KEY, settings_for(solver_port))
    assert result.ok, result.detail


def test_self_check_of_an_unknown_token_reports_the_status_code(solver_port: int) -> None:
    result = check_http01("127.0.0.1", OTHER_TOKEN, OTHER_KEY, settings_for(solver_port))
    assert result == SelfCheckResult(False, "wrong status code '404', expected '200'")


def test_self_check_of_a_wrong_body_shows_what_was_served(solver_port: int) -> None:
    port = solver_port
    solver = StandaloneSolver({"port": port, "address": "127.0.0.1"}, context())
    solver.present("localhost", OTHER_TOKEN, "x" * 300)
    try:
        result = check_http01("127.0.0.1", OTHER_TOKEN, OTHER_KEY, settings_for(port))
    finally:
        solver.cleanup("localhost", OTHER_TOKEN, OTHER_KEY)
    assert not result.ok
    assert result.detail == (
        "did not get expected response when querying endpoint, "
        f'expected "{OTHER_KEY}" but got: {"x" * 100}... (truncated)'
    )


def test_self_check_with_nothing_listening_says_connection_refused() -> None:
    port = free_port()
    result = check_http01("127.0.0.1", TOKEN, KEY, settings_for(port))
    assert result == SelfCheckResult(False, f"connection refused by 127.0.0.1:{port}")


def test_self_check_follows_a_redirect_to_another_server(solver_port: int) -> None:
    with _Server(redirector(f"http://127.0.0.1:{solver_port}")) as front:
        result = check_http01("127.0.0.1", TOKEN, KEY, settings_for(front.port))
    assert result.ok, result.detail


def test_self_check_follows_a_redirect_to_https_without_verifying(
    solver_port: int, tmp_path: Path
) -> None:
    # A self-signed certificate for another name: the check must not verify it.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not-this-host.test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = KEY.encode() if self.path == challenge(TOKEN) else b"no"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    secure = _Server(Answer)
    secure.httpd.socket = tls.wrap_socket(secure.httpd.socket, server_side=True)
    with secure, _Server(redirector(f"https://127.0.0.1:{secure.port}")) as front:
        result = check_http01("127.0.0.1", TOKEN, KEY, settings_for(front.port))
    assert result.ok, result.detail


def test_challenge_url_brackets_ipv6_and_omits_port_80() -> None:
    assert http01.challenge_url("example.com", TOKEN) == (
        f"http://example.com/.well-known/acme-challenge/{TOKEN}"
    )
    assert http01.challenge_url("2001:db8::1", TOKEN, 5002) == (
        f"http://[2001:db8::1]:5002/.well-known/acme-challenge/{TOKEN}"
    )


def scripted(results: list[bool], calls: list[float]) -> Callable[..., SelfCheckResult]:
    def check(*args: object) -> SelfCheckResult:
        calls.append(time.monotonic())
        ok = results.pop(0) if results else False
        return SelfCheckResult(ok, "ok" if ok else "wrong status code '404', expected '200'")

    return check


def test_repeated_check_needs_consecutive_passes_and_a_failure_restarts_the_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[float] = []
    monkeypatch.setattr(http01, "check_http01", scripted([True, False, True, True, True], calls))
    result = check_http01_repeatedly(
        "example.com",
        TOKEN,
        KEY,
        ACMESettings(),
        passes=3,
        interval=0.01,
        deadline=time.monotonic() + 5,
        cancel=threading.Event(),
    )
    assert result.ok
    assert "3 consecutive checks passed" in result.detail
    assert len(calls) == 5
    assert all(later - earlier >= 0.009 for earlier, later in itertools.pairwise(calls))


def test_repeated_check_gives_the_last_failure_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[float] = []
    monkeypatch.setattr(http01, "check_http01", scripted([], calls))
    result = check_http01_repeatedly(
        "example.com",
        TOKEN,
        KEY,
        ACMESettings(),
        passes=1,
        interval=0.02,
        deadline=time.monotonic() + 0.1,
        cancel=threading.Event(),
    )
    assert result == SelfCheckResult(False, "wrong status code '404', expected '200'")
    assert 2 <= len(calls) <= 8


def test_repeated_check_stops_when_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []
    monkeypatch.setattr(http01, "check_http01", scripted([], calls))
    cancel = threading.Event()
    timer = threading.Timer(0.1, cancel.set)
    timer.start()
    started = time.monotonic()
    try:
        result = check_http01_repeatedly(
            "example.com",
            TOKEN,
            KEY,
            ACMESettings(),
            passes=1,
            interval=10,
            deadline=time.monotonic() + 60,
            cancel=cancel,
        )
    finally:
        timer.join()
    assert not result.ok
    assert "cancelled" in result.detail
    assert time.monotonic() - started < 5


def test_repeated_check_against_the_standalone_solver(solver_port: int) -> None:
    result = check_http01_repeatedly(
        "127.0.0.1",
        TOKEN,
        KEY,
        settings_for(solver_port),
        passes=3,
        interval=0.01,
        deadline=time.monotonic() + 5,
        cancel=threading.Event(),
    )
    assert result.ok, result.detail


# --- resolver override -------------------------------------------------------------------


class _DNSResponder:
    """A UDP DNS server on a free loopback port: A 127.0.0.1 for one name, else NXDOMAIN."""

    def __init__(self, name: str) -> None:
        self.name = dns.name.from_text(name)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.05)
        self.port: int = self.socket.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve)

    def __enter__(self) -> _DNSResponder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.socket.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                wire, client = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            question = query.question[0]
            if question.name != self.name:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.A:
                response.answer.append(dns.rrset.from_text(self.name, 60, "IN", "A", "127.0.0.1"))
            self.socket.sendto(response.to_wire(), client)


def test_self_check_resolves_through_the_configured_nameservers(
    solver_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with _DNSResponder("acme-test.certctl.invalid.") as responder:
        settings = settings_for(
            solver_port, http01_solver_nameservers=(Nameserver("127.0.0.1", responder.port),)
        )
        with caplog.at_level(logging.INFO, logger="certctl.acme.solvers.standalone"):
            result = check_http01("acme-test.certctl.invalid", TOKEN, KEY, settings)
        missing = check_http01("other.certctl.invalid", TOKEN, KEY, settings)
    assert result.ok, result.detail
    # Connected to the resolved address, but the Host header names the domain.
    assert f"acme-test.certctl.invalid:{solver_port}" in caplog.text
    assert missing == SelfCheckResult(
        False,
        f"failed to resolve other.certctl.invalid via 127.0.0.1:{responder.port}: no such host",
    )
