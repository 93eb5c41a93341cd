"""The Pebble fixture, exercised end to end with certbot's ``acme`` library.

Besides proving `PebbleServer` works, these tests are a worked example for
certctl's ACME client: account registration with and without external account
binding, an HTTP-01 order, alternate chains, and retrying ``badNonce``.

DNS: Pebble's VA must resolve ``a.example.test`` to 127.0.0.1. When the
``bind_server`` fixture (tests/integration/conftest.py) exists it is used;
otherwise a ``pebble-challtestsrv`` DNS stand-in answers every A query with
127.0.0.1. Likewise, plain tests use the session ``pebble_server`` fixture when
conftest provides it, and a module-wide instance otherwise.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import dns.exception
import dns.message
import dns.query
import pytest
from acme import challenges, client, crypto_util, messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import verification
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from tests.integration.servers.pebble import PebbleServer

CHALLTESTSRV_BINARY = "/usr/bin/pebble-challtestsrv"
DOMAIN = "a.example.test"
# Polling deadline for one order; with PEBBLE_VA_NOSLEEP an order takes well
# under a second of Pebble's time, acme's 1 s poll interval dominates.
ORDER_DEADLINE = datetime.timedelta(seconds=20)
EAB_KEY_ID = "kid-1"
# 32 random bytes, base64url without padding, as a CA would hand them out.
EAB_HMAC_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"


# -- DNS ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def dns_server_address(request: pytest.FixtureRequest) -> Iterator[str]:
    """``host:port`` of a DNS server resolving ``*.example.test`` to 127.0.0.1."""
    try:
        bind_server = request.getfixturevalue("bind_server")
    except pytest.FixtureLookupError:
        with _challtestsrv_dns() as address:
            yield address
    else:
        yield f"{bind_server.host}:{bind_server.port}"


@contextlib.contextmanager
def _challtestsrv_dns() -> Iterator[str]:
    """Run pebble-challtestsrv as a DNS server only (A -> 127.0.0.1, no AAAA)."""
    dns_port = _free_port(socket.SOCK_DGRAM)
    management_port = _free_port(socket.SOCK_STREAM)
    # pebble-challtestsrv 2.4.0 has no -doh flag; an empty address disables a listener.
    command = [
        CHALLTESTSRV_BINARY,
        "-dns01",
        f"127.0.0.1:{dns_port}",
        "-management",
        f"127.0.0.1:{management_port}",
        "-defaultIPv4",
        "127.0.0.1",
        "-defaultIPv6",
        "",
        "-http01",
        "",
        "-https01",
        "",
        "-tlsalpn01",
        "",
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for_dns(process, "127.0.0.1", dns_port, log)
            yield f"127.0.0.1:{dns_port}"
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_dns(process: subprocess.Popen[bytes], host: str, port: int, log: Any) -> None:
    deadline = time.monotonic() + 10
    query = dns.message.make_query(DOMAIN, "A")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            pytest.fail(f"pebble-challtestsrv exited: {log.read().decode(errors='replace')}")
        try:
            dns.query.udp(query, host, port=port, timeout=0.2)
            return
        except (dns.exception.Timeout, OSError):
            time.sleep(0.05)
    pytest.fail("pebble-challtestsrv did not answer DNS queries within 10 s")


def _free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- Pebble instances ----------------------------------------------------------


@pytest.fixture(scope="module")
def shared_pebble(
    request: pytest.FixtureRequest, dns_server_address: str
) -> Iterator[PebbleServer]:
    """The plain Pebble that tests without special settings share."""
    try:
        session_server: PebbleServer = request.getfixturevalue("pebble_server")
    except pytest.FixtureLookupError:
        with PebbleServer(dns_server=dns_server_address) as server:
            yield server
    else:
        yield session_server


@pytest.fixture
def start_pebble(
    request: pytest.FixtureRequest, dns_server_address: str
) -> Iterator[Callable[..., PebbleServer]]:
    """Start a dedicated Pebble for this test (EAB, nonce rejection, alternate roots)."""
    try:
        factory: Callable[..., PebbleServer] = request.getfixturevalue("pebble_factory")
    except pytest.FixtureLookupError:
        pass
    else:
        yield factory
        return
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> PebbleServer:
            options.setdefault("dns_server", dns_server_address)
            return stack.enter_context(PebbleServer(**options))

        yield start


# -- ACME helpers (a sketch of what certctl's client has to do) ----------------


class NonceRetryingNetwork(client.ClientNetwork):
    """A ClientNetwork that retries ``badNonce`` until it succeeds.

    RFC 8555 section 6.5: "When a server rejects a request because its nonce
    value was unacceptable (or not present), it MUST provide HTTP status code
    400 (Bad Request), and indicate the ACME error type
    urn:ietf:params:acme:error:badNonce. [...] On receiving such an error, the
    client SHOULD retry the request using the new nonce." acme's own
    ``post`` retries only once, which 40 % rejection defeats regularly.
    """

    MAX_ATTEMPTS = 25

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bad_nonces = 0

    def post(self, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, self.MAX_ATTEMPTS + 1):
            try:
                return self._post_once(*args, **kwargs)
            except messages.Error as error:
                if error.code != "badNonce" or attempt == self.MAX_ATTEMPTS:
                    raise
                self.bad_nonces += 1
        raise AssertionError("unreachable")


@contextlib.contextmanager
def acme_client(
    pebble: PebbleServer, network_class: type[client.ClientNetwork] = client.ClientNetwork
) -> Iterator[client.ClientV2]:
    """An ACME client with a fresh P-256 account key that trusts Pebble's HTTPS CA."""
    account_key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    # requests accepts a CA bundle path wherever it accepts verify=True.
    network = network_class(
        account_key,
        alg=ES256,
        verify_ssl=str(pebble.ca_bundle_path),  # type: ignore[arg-type]
        user_agent="certctl-tests",
    )
    try:
        directory = client.ClientV2.get_directory(pebble.directory_url, network)
        yield client.ClientV2(directory, network)
    finally:
        # filterwarnings=error: an unclosed keep-alive socket would fail a later test.
        network.session.close()


def register(acme: client.ClientV2, **binding: Any) -> messages.RegistrationResource:
    """Create an account, agreeing to the terms of service."""
    return acme.new_account(
        messages.NewRegistration.from_data(terms_of_service_agreed=True, **binding)
    )


class HTTP01Responder:
    """Serves ``/.well-known/acme-challenge/<token>`` on 127.0.0.1:<port> from a thread."""

    def __init__(self, port: int) -> None:
        self.responses: dict[str, bytes] = {}
        self.requests: list[str] = []
        responder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                responder.requests.append(self.path)
                body = responder.responses.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        # shutdown() waits for serve_forever's poll; the default 0.5 s would
        # dominate an order that Pebble completes in about 20 ms.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> HTTP01Responder:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def serve(self, path: str, key_authorization: str) -> None:
        self.responses[path] = key_authorization.encode("ascii")


def issue_certificate(
    acme: client.ClientV2, pebble: PebbleServer, *, alternative_chains: bool = False
) -> messages.OrderResource:
    """Order a certificate for `DOMAIN`, answer HTTP-01, finalize and download it."""
    certificate_key = ec.generate_private_key(ec.SECP256R1())
    csr_pem = crypto_util.make_csr(
        certificate_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        [DOMAIN],
    )
    order = acme.new_order(csr_pem)
    with HTTP01Responder(pebble.http_port) as responder:
        for authorization in order.authorizations:
            # RFC 8555 section 7.1.3: a reused authorization is already valid.
            if authorization.body.status == messages.STATUS_VALID:
                continue
            challenge = next(
                body
                for body in authorization.body.challenges
                if isinstance(body.chall, challenges.HTTP01)
            )
            response, key_authorization = challenge.response_and_validation(acme.net.key)
            responder.serve(challenge.chall.path, key_authorization)
            acme.answer_challenge(challenge, response)
        deadline = datetime.datetime.now() + ORDER_DEADLINE
        order = acme.poll_authorizations(order, deadline)
    return acme.finalize_order(order, deadline, fetch_alternative_chains=alternative_chains)


def split_pem_chain(fullchain_pem: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(fullchain_pem.encode("ascii"))


def verify_chain(fullchain_pem: str, root_pem: bytes) -> list[x509.Certificate]:
    """Verify the leaf for `DOMAIN` up to `root_pem`; return the built chain."""
    leaf, *intermediates = split_pem_chain(fullchain_pem)
    store = verification.Store([x509.load_pem_x509_certificate(root_pem)])
    verifier = verification.PolicyBuilder().store(store).build_server_verifier(x509.DNSName(DOMAIN))
    return verifier.verify(leaf, intermediates)


# -- the fixture itself ------------------------------------------------------


def test_directory_is_served_with_the_fixture_ca(shared_pebble: PebbleServer) -> None:
    with urllib.request.urlopen(shared_pebble.directory_url, context=shared_pebble.ssl_context):
        pass
    untrusting = ssl.create_default_context()
    with (
        pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"),
        urllib.request.urlopen(shared_pebble.directory_url, context=untrusting),
    ):
        pass
    assert shared_pebble.ca_bundle_base64
    assert shared_pebble.ca_bundle_path.read_bytes() == shared_pebble.ca_bundle_pem


def test_issuance_roots_differ_from_the_https_ca(shared_pebble: PebbleServer) -> None:
    (root,) = shared_pebble.issuance_roots()
    (intermediate,) = shared_pebble.issuance_intermediates()
    assert root != shared_pebble.ca_bundle_pem
    issued_by = x509.load_pem_x509_certificate(intermediate).issuer
    assert issued_by == x509.load_pem_x509_certificate(root).subject


def test_pebble_runs_with_real_validation_at_full_speed(shared_pebble: PebbleServer) -> None:
    assert shared_pebble.environment["PEBBLE_VA_NOSLEEP"] == "1"
    assert "PEBBLE_VA_ALWAYS_VALID" not in shared_pebble.environment
    assert "Disabling random VA sleeps" in shared_pebble.log_path.read_text()


def test_stopping_removes_the_process_and_its_files(dns_server_address: str) -> None:
    with PebbleServer(dns_server=dns_server_address) as pebble:
        workdir = pebble.workdir
        assert pebble.running
    assert not pebble.running
    assert not workdir.exists()


def test_a_missing_pebble_binary_fails_instead_of_skipping() -> None:
    with pytest.raises(pytest.fail.Exception, match="apt-get install pebble"):
        PebbleServer(binary="/nonexistent/pebble")


def test_retry_after_configuration_is_refused_for_pebble_2_4() -> None:
    with pytest.raises(ValueError, match="retryAfter"):
        PebbleServer(retry_after={"authz": 3, "order": 5})


# -- ACME through the fixture -------------------------------------------------


def test_account_registers_without_external_binding(shared_pebble: PebbleServer) -> None:
    with acme_client(shared_pebble) as acme:
        account = register(acme)
    # Registration.status is a plain string, unlike Order and Authorization status.
    assert account.body.status == "valid"
    assert account.uri


def test_http01_order_yields_a_chain_up_to_the_first_root(shared_pebble: PebbleServer) -> None:
    with acme_client(shared_pebble) as acme:
        register(acme)
        started = time.monotonic()
        order = issue_certificate(acme, shared_pebble)
        elapsed = time.monotonic() - started

    assert order.body.status == messages.STATUS_VALID, shared_pebble.log_tail()
    chain = verify_chain(order.fullchain_pem, shared_pebble.issuance_roots()[0])
    san = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == [DOMAIN]
    assert elapsed < ORDER_DEADLINE.total_seconds()


def test_external_account_binding_is_required_when_keys_are_set(
    start_pebble: Callable[..., PebbleServer],
) -> None:
    pebble = start_pebble(eab_keys={EAB_KEY_ID: EAB_HMAC_KEY})
    assert pebble.eab_keys == {EAB_KEY_ID: EAB_HMAC_KEY}

    with acme_client(pebble) as acme:
        assert acme.external_account_required()
        with pytest.raises(messages.Error) as refused:
            register(acme)
        assert refused.value.code == "externalAccountRequired"

        account_key = acme.net.key
        assert account_key is not None
        binding = messages.ExternalAccountBinding.from_data(
            account_public_key=account_key.public_key(),
            kid=EAB_KEY_ID,
            hmac_key=EAB_HMAC_KEY,
            directory=acme.directory,
        )
        account = register(acme, external_account_binding=binding)
    # Registration.status is a plain string, unlike Order and Authorization status.
    assert account.body.status == "valid"


def test_alternate_root_is_offered_as_an_alternate_link(
    start_pebble: Callable[..., PebbleServer],
) -> None:
    pebble = start_pebble(alternate_roots=1)
    first_root, second_root = pebble.issuance_roots()

    with acme_client(pebble) as acme:
        register(acme)
        order = issue_certificate(acme, pebble, alternative_chains=True)

    verify_chain(order.fullchain_pem, first_root)
    (alternate,) = order.alternative_fullchains_pem
    verify_chain(alternate, second_root)
    with pytest.raises(verification.VerificationError):
        verify_chain(alternate, first_root)


def test_bad_nonces_are_survived_by_retrying(start_pebble: Callable[..., PebbleServer]) -> None:
    pebble = start_pebble(nonce_reject_percent=40)

    with acme_client(pebble, NonceRetryingNetwork) as acme:
        account = register(acme)
        # Twenty POST-as-GETs: the chance that none of them meets a rejected
        # nonce is 0.6**20, about 4 in 100,000.
        for _ in range(20):
            acme.query_registration(account)
        order = issue_certificate(acme, pebble)
        network = acme.net
    assert isinstance(network, NonceRetryingNetwork)
    assert network.bad_nonces > 0, pebble.log_tail()
    assert order.body.status == messages.STATUS_VALID
