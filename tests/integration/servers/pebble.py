"""Pebble, Let's Encrypt's ACME test server, as a fixture object.

`PebbleServer` writes a Pebble configuration into a private temporary
directory, starts ``/usr/bin/pebble`` on free loopback ports, waits until the
ACME directory answers, and stops the process again on exit::

    with PebbleServer(dns_server="127.0.0.1:5053") as pebble:
        client_network = ClientNetwork(key, verify_ssl=str(pebble.ca_bundle_path))
        directory = ClientV2.get_directory(pebble.directory_url, client_network)

Pebble ships no usable HTTPS certificate for its own listeners, so every
instance mints a throw-away CA and a server certificate for ``127.0.0.1`` and
``localhost``. That CA (`PebbleServer.ca_bundle_pem`) is what an ACME client,
and certctl's ``spec.acme.caBundle``, must trust to talk to Pebble. It is *not*
the CA that signs issued certificates: Pebble generates those roots and
intermediates at start-up and serves them on its management interface
(`PebbleServer.issuance_roots`, `PebbleServer.issuance_intermediates`).

What the Debian package's Pebble 2.4.0 supports, checked by running it (its
configuration struct and the environment variables read by the binary):

* Configuration keys: ``listenAddress``, ``managementListenAddress``,
  ``httpPort``, ``tlsPort``, ``certificate``, ``privateKey``,
  ``ocspResponderURL``, ``externalAccountBindingRequired``,
  ``externalAccountMACKeys``, ``domainBlocklist`` and
  ``certificateValidityPeriod`` (seconds). Unknown keys are silently ignored.
* Environment: ``PEBBLE_VA_NOSLEEP``, ``PEBBLE_VA_SLEEPTIME``,
  ``PEBBLE_VA_ALWAYS_VALID``, ``PEBBLE_WFE_NONCEREJECT`` (Pebble's own default
  is 5 %), ``PEBBLE_AUTHZREUSE`` (Pebble's own default is 50 %),
  ``PEBBLE_ALTERNATE_ROOTS``, ``PEBBLE_CHAIN_LENGTH`` and
  ``PEBBLE_WFE_ORDERS_PER_PAGE``.
* Flags: ``-config``, ``-dnsserver`` and ``-strict``. ``-strict`` is a Go
  boolean flag, so it must be spelled ``-strict=false``: ``-strict false``
  turns strict mode *on* and ends flag parsing at the stray ``false``.
* Management interface (HTTPS, same certificate): ``/roots/N``,
  ``/root-keys/N``, ``/intermediates/N``, ``/intermediate-keys/N`` (N > 0 for
  alternate roots) and ``/cert-status-by-serial/<hex>``.
* Certificate downloads carry ``Link: <...>;rel="alternate"`` headers, one per
  alternate root. ``PEBBLE_CHAIN_LENGTH=N`` serves the leaf and N
  intermediates; the management interface exposes only the intermediate
  that signs leaves (``/intermediates/0`` is then issued by an unexposed
  ``Pebble Intermediate CA ... #1``, not by ``/roots/0``).

What Pebble 2.4.0 does *not* support: the ``retryAfter`` configuration block
(it never sends ``Retry-After``; finalize answers ``processing`` and the
order is ``valid`` a few milliseconds later), ACME profiles,
ACME Renewal Information (no ``renewalInfo`` in the directory), a
``-version`` flag, and the ``keyAlgorithm`` setting. Issued certificates carry
no OCSP URL unless ``ocspResponderURL`` is set.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["PEBBLE_BINARY", "PebbleServer", "PebbleStartError"]

PEBBLE_BINARY = "/usr/bin/pebble"

# How long start-up may take before the fixture gives up. Pebble is usually
# answering within 100 ms; the margin is for loaded CI machines.
STARTUP_DEADLINE_SECONDS = 15.0
# How long Pebble gets to exit after SIGTERM before it is killed.
SHUTDOWN_GRACE_SECONDS = 5.0
# Free ports are picked by binding port 0 and releasing it, so another process
# may grab one before Pebble binds it. Pebble then exits with "address already
# in use"; the fixture retries with fresh ports this many times.
PORT_RACE_ATTEMPTS = 3


class PebbleStartError(RuntimeError):
    """Pebble exited or did not answer before the start-up deadline."""


class PebbleServer:
    """One Pebble process with its own CA, configuration, ports and log.

    The constructor only prepares files; `start` (or entering the context
    manager) launches the process and `stop` (or leaving it) ends it and
    removes the temporary directory.

    Args:
        http_port: Port Pebble's VA connects to for HTTP-01 (``httpPort``).
            A free loopback port is chosen when omitted; serve the challenge
            response there (for example with certctl's standalone solver).
        tls_port: Port Pebble's VA connects to for TLS-ALPN-01 (``tlsPort``).
        dns_server: ``host:port`` of the DNS server Pebble's VA resolves
            identifiers and DNS-01 TXT records with (``-dnsserver``). Without
            one Pebble uses the system resolver.
        eab_keys: External account binding keys, key ID to base64url HMAC key.
            Setting them makes Pebble require a binding on ``newAccount``.
        nonce_reject_percent: Share of valid nonces Pebble rejects as
            ``badNonce`` (``PEBBLE_WFE_NONCEREJECT``).
        alternate_roots: Number of extra root hierarchies, offered as
            ``rel="alternate"`` chains (``PEBBLE_ALTERNATE_ROOTS``).
        chain_length: Intermediates between leaf and root
            (``PEBBLE_CHAIN_LENGTH``); Pebble's default is 1.
        authz_reuse: Percentage of new orders that reuse an account's valid
            authorization for the same identifier (``PEBBLE_AUTHZREUSE``).
            100 mirrors Let's Encrypt and keeps tests deterministic.
        certificate_validity_seconds: Lifetime of issued certificates
            (``certificateValidityPeriod``); Pebble's default is five years.
        ocsp_responder_url: Written into issued certificates when set.
        domain_blocklist: Identifiers Pebble refuses with ``rejectedIdentifier``.
        strict: Pebble's ``-strict`` mode (upcoming breaking changes).
        retry_after: Not supported by Pebble 2.4.0 (the ``retryAfter`` block
            came later); passing it raises `ValueError` instead of being
            silently ignored.
        binary: Path of the ``pebble`` executable.
    """

    def __init__(
        self,
        *,
        http_port: int | None = None,
        tls_port: int | None = None,
        dns_server: str | None = None,
        eab_keys: Mapping[str, str] | None = None,
        nonce_reject_percent: int = 0,
        alternate_roots: int = 0,
        chain_length: int | None = None,
        authz_reuse: int = 100,
        certificate_validity_seconds: int | None = None,
        ocsp_responder_url: str | None = None,
        domain_blocklist: list[str] | None = None,
        strict: bool = False,
        retry_after: Mapping[str, int] | None = None,
        binary: str = PEBBLE_BINARY,
    ) -> None:
        if not os.access(binary, os.X_OK):
            pytest.fail("pebble is missing: install it with apt-get install pebble")
        if retry_after is not None:
            raise ValueError(
                "Pebble 2.4.0 has no retryAfter setting: it ignores the key and never "
                "sends Retry-After on orders or authorizations"
            )
        for name, percent in (
            ("nonce_reject_percent", nonce_reject_percent),
            ("authz_reuse", authz_reuse),
        ):
            if not 0 <= percent <= 100:
                raise ValueError(f"{name} must be a percentage, got {percent}")

        self._binary = binary
        self._fixed_http_port = http_port
        self._fixed_tls_port = tls_port
        self._dns_server = dns_server
        self._eab_keys = dict(eab_keys or {})
        self._strict = strict
        self._options: dict[str, Any] = {}
        if ocsp_responder_url:
            self._options["ocspResponderURL"] = ocsp_responder_url
        if domain_blocklist:
            self._options["domainBlocklist"] = list(domain_blocklist)
        if certificate_validity_seconds is not None:
            self._options["certificateValidityPeriod"] = certificate_validity_seconds
        if self._eab_keys:
            self._options["externalAccountBindingRequired"] = True
            self._options["externalAccountMACKeys"] = self._eab_keys

        self._environment = {
            # Real validation at full speed: no random 0-15 s sleep before each
            # validation attempt, and never the "always valid" shortcut.
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": str(nonce_reject_percent),
            "PEBBLE_AUTHZREUSE": str(authz_reuse),
            "PEBBLE_ALTERNATE_ROOTS": str(alternate_roots),
        }
        if chain_length is not None:
            self._environment["PEBBLE_CHAIN_LENGTH"] = str(chain_length)

        self._temporary_directory = tempfile.TemporaryDirectory(prefix="pebble-")
        self.workdir = Path(self._temporary_directory.name)
        self.ca_bundle_path = self.workdir / "ca.pem"
        self.config_path = self.workdir / "pebble-config.json"
        self.log_path = self.workdir / "pebble.log"
        self._certificate_path = self.workdir / "server.pem"
        self._key_path = self.workdir / "server-key.pem"
        self._ca_bundle_pem = _write_tls_material(
            self.ca_bundle_path, self._certificate_path, self._key_path
        )
        self._ssl_context = ssl.create_default_context(cadata=self._ca_bundle_pem.decode("ascii"))

        self.http_port = 0
        self.tls_port = 0
        self.port = 0
        self.management_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> PebbleServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start Pebble and wait until its directory and management interface answer.

        Raises:
            PebbleStartError: Pebble exited early or missed the deadline; the
                message carries the end of its log.
        """
        if self._process is not None:
            raise RuntimeError("Pebble is already running")
        try:
            for attempt in range(1, PORT_RACE_ATTEMPTS + 1):
                self._choose_ports()
                self._write_config()
                self._launch()
                try:
                    self._wait_until_ready(time.monotonic() + STARTUP_DEADLINE_SECONDS)
                    return
                except PebbleStartError:
                    lost_port_race = "address already in use" in self.log_tail()
                    self._terminate()
                    if not lost_port_race or attempt == PORT_RACE_ATTEMPTS:
                        raise
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate Pebble (kill it if it lingers) and remove its files."""
        try:
            self._terminate()
        finally:
            self._temporary_directory.cleanup()

    @property
    def running(self) -> bool:
        """Whether the Pebble process is alive."""
        return self._process is not None and self._process.poll() is None

    # -- what tests and certctl need ----------------------------------------

    @property
    def directory_url(self) -> str:
        """The ACME directory URL (``https://127.0.0.1:<port>/dir``)."""
        return f"https://127.0.0.1:{self.port}/dir"

    @property
    def management_url(self) -> str:
        """Base URL of Pebble's management interface."""
        return f"https://127.0.0.1:{self.management_port}"

    @property
    def ca_bundle_pem(self) -> bytes:
        """PEM of the CA that signed Pebble's HTTPS certificate."""
        return self._ca_bundle_pem

    @property
    def ca_bundle_base64(self) -> str:
        """`ca_bundle_pem` base64-encoded, as cert-manager's ``spec.acme.caBundle`` wants it."""
        return base64.b64encode(self._ca_bundle_pem).decode("ascii")

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts Pebble's HTTPS listeners."""
        return self._ssl_context

    @property
    def eab_keys(self) -> dict[str, str]:
        """External account binding keys (key ID to base64url HMAC key)."""
        return dict(self._eab_keys)

    @property
    def environment(self) -> dict[str, str]:
        """The ``PEBBLE_*`` variables this instance runs with."""
        return dict(self._environment)

    def issuance_roots(self) -> list[bytes]:
        """PEM of every root Pebble issues under: ``/roots/0``, then the alternates."""
        return self._fetch_numbered("roots")

    def issuance_intermediates(self) -> list[bytes]:
        """PEM of the leaf-signing intermediate of each hierarchy, ordered as `issuance_roots`.

        With ``chain_length`` above 1 the intermediates between this one and
        the root are not published; take them from the issued chain.
        """
        return self._fetch_numbered("intermediates")

    def certificate_status(self, serial_number: int) -> dict[str, Any]:
        """Pebble's record for an issued certificate (status, revocation reason)."""
        body = self._get_management(f"/cert-status-by-serial/{serial_number:x}")
        result: dict[str, Any] = json.loads(body)
        return result

    def log_tail(self, lines: int = 50) -> str:
        """The last lines of Pebble's output, for assertion messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no Pebble log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- internals ----------------------------------------------------------

    def _choose_ports(self) -> None:
        self.port = _free_loopback_port()
        self.management_port = _free_loopback_port(exclude={self.port})
        taken = {self.port, self.management_port}
        self.http_port = self._fixed_http_port or _free_loopback_port(exclude=taken)
        taken.add(self.http_port)
        self.tls_port = self._fixed_tls_port or _free_loopback_port(exclude=taken)

    def _write_config(self) -> None:
        config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.port}",
                "managementListenAddress": f"127.0.0.1:{self.management_port}",
                "certificate": str(self._certificate_path),
                "privateKey": str(self._key_path),
                "httpPort": self.http_port,
                "tlsPort": self.tls_port,
                "externalAccountBindingRequired": False,
                **self._options,
            }
        }
        self.config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")

    def _launch(self) -> None:
        command = [
            self._binary,
            "-config",
            str(self.config_path),
            f"-strict={'true' if self._strict else 'false'}",
        ]
        if self._dns_server:
            command += ["-dnsserver", self._dns_server]
        environment = {
            name: value for name, value in os.environ.items() if not name.startswith("PEBBLE_")
        }
        environment.update(self._environment)
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=environment,
        )

    def _wait_until_ready(self, deadline: float) -> None:
        assert self._process is not None
        checks = [self.directory_url, f"{self.management_url}/roots/0"]
        last_error: Exception | None = None
        while checks:
            if self._process.poll() is not None:
                raise PebbleStartError(
                    f"pebble exited with status {self._process.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise PebbleStartError(
                    f"pebble did not answer {checks[0]} within "
                    f"{STARTUP_DEADLINE_SECONDS:.0f} s ({last_error}):\n{self.log_tail()}"
                )
            try:
                self._get(checks[0], timeout=1.0)
            except (OSError, urllib.error.URLError) as error:
                last_error = error
                time.sleep(0.05)
            else:
                checks.pop(0)

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            try:
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(SHUTDOWN_GRACE_SECONDS)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
            finally:
                if self._log_file is not None:
                    self._log_file.close()
                    self._log_file = None

    def _fetch_numbered(self, kind: str) -> list[bytes]:
        # /roots/0 always exists; /roots/N for N > 0 only with alternate roots.
        count = 1 + int(self._environment["PEBBLE_ALTERNATE_ROOTS"])
        return [self._get_management(f"/{kind}/{index}") for index in range(count)]

    def _get_management(self, path: str) -> bytes:
        if not self.running:
            raise RuntimeError("Pebble is not running")
        return self._get(f"{self.management_url}{path}")

    def _get(self, url: str, timeout: float = 5.0) -> bytes:
        with urllib.request.urlopen(url, timeout=timeout, context=self._ssl_context) as response:
            body: bytes = response.read()
            return body


def _free_loopback_port(exclude: set[int] | None = None) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if not exclude or port not in exclude:
            return port


def _write_tls_material(ca_path: Path, certificate_path: Path, key_path: Path) -> bytes:
    """Mint a CA and a ``127.0.0.1``/``localhost`` server certificate for Pebble's listeners.

    Returns:
        The CA certificate in PEM.
    """
    now = datetime.datetime.now(datetime.UTC)
    not_before = now - datetime.timedelta(minutes=5)
    not_after = now + datetime.timedelta(days=1)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certctl test Pebble HTTPS CA")])
    ca_certificate = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_pem = ca_certificate.public_bytes(serialization.Encoding.PEM)
    ca_path.write_bytes(ca_pem)
    certificate_path.write_bytes(server_certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return ca_pem
