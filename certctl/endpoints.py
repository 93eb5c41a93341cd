"""Fetch the certificate chain a live TLS endpoint presents, as DER bytes.

This module only talks to the network; deciding what the chain means is
:mod:`certctl.inspection`'s job.

How the chain is read: ``ssl.SSLSocket.getpeercert(binary_form=True)`` returns
only the leaf. Python 3.13 added the public ``SSLSocket.get_unverified_chain()``;
on 3.10-3.12 the same call exists on the private ``_sslobj`` (``_ssl._SSLSocket``),
so certctl uses that first. When neither is present (another interpreter, or a
Python built without it) it runs ``openssl s_client -showcerts`` in a subprocess
with the same timeout and parses the PEM blocks it prints. The handshake never
verifies anything: ``inspect`` shows whatever the server presents, and
verification happens afterwards, against the trust roots the user chose.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from certctl.errors import EndpointError

__all__ = [
    "Endpoint",
    "PresentedChain",
    "fetch_presented_chain",
    "is_ip_address",
    "parse_endpoint",
    "system_trust_roots",
]

#: Methods :func:`fetch_presented_chain` may report in :attr:`PresentedChain.method`.
METHOD_SSL = "python-ssl"
METHOD_OPENSSL = "openssl-s_client"

_HOST_PORT_RE = re.compile(r"(?P<host>[^:\[\]/\s]+):(?P<port>[0-9]{1,5})")
_IPV6_PORT_RE = re.compile(r"\[(?P<host>[^\[\]/\s]+)\]:(?P<port>[0-9]{1,5})")
_PEM_CERT_RE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)


@dataclass(frozen=True)
class Endpoint:
    """A ``HOST:PORT`` target; ``host`` has no brackets around an IPv6 address."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class PresentedChain:
    """What an endpoint presented in the TLS handshake.

    Attributes:
        endpoint: where certctl connected.
        server_name: the SNI sent, or None when none was sent (an IP address).
        certificates: the presented certificates as DER, in the order sent.
        method: how the chain was read: ``python-ssl`` or ``openssl-s_client``.
        tls_version: the negotiated protocol, for example ``TLSv1.3``, when known.
        cipher: the negotiated cipher suite, when known.
    """

    endpoint: Endpoint
    server_name: str | None
    certificates: list[bytes] = field(default_factory=list)
    method: str = METHOD_SSL
    tls_version: str | None = None
    cipher: str | None = None


def parse_endpoint(target: str) -> Endpoint | None:
    """Read ``HOST:PORT`` or ``[V6]:PORT``; return None when ``target`` is neither.

    Args:
        target: the command-line target.

    Returns:
        The endpoint, or None when the text does not have that shape (a port out
        of range also gives None).
    """
    match = _IPV6_PORT_RE.fullmatch(target) or _HOST_PORT_RE.fullmatch(target)
    if match is None:
        return None
    port = int(match.group("port"))
    if not 0 < port < 65536:
        return None
    host = match.group("host")
    if match.re is _IPV6_PORT_RE and not is_ip_address(host):
        return None
    return Endpoint(host=host, port=port)


def is_ip_address(host: str) -> bool:
    """Return whether ``host`` is an IPv4 or IPv6 literal (never sent as SNI, RFC 6066 §3)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def fetch_presented_chain(
    endpoint: Endpoint, *, server_name: str | None, timeout: float
) -> PresentedChain:
    """Connect to ``endpoint`` and return the chain it presents, unverified.

    Args:
        endpoint: where to connect.
        server_name: the SNI to send; None sends none.
        timeout: seconds for the connection and the handshake.

    Returns:
        The presented chain, leaf first as the server sent it.

    Raises:
        EndpointError: the endpoint could not be reached or did not complete a
            TLS handshake.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # inspect shows whatever is presented, even an expired or self-signed chain;
    # verification against the chosen roots happens afterwards, offline.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        raw = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except OSError as exc:
        raise _unreachable(endpoint, exc) from exc
    try:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            certificates = _read_chain(tls)
            version = tls.version()
            cipher = tls.cipher()
    except (OSError, ssl.SSLError) as exc:
        raise EndpointError(
            f"{endpoint} accepted the connection but the TLS handshake failed: {_reason(exc)}",
            hint=(
                "Check that the port speaks TLS directly (not STARTTLS or plain HTTP) and "
                "that --servername names a site the server knows"
            ),
        ) from exc
    finally:
        raw.close()
    if certificates is None:
        return _fetch_with_openssl(endpoint, server_name=server_name, timeout=timeout)
    return PresentedChain(
        endpoint=endpoint,
        server_name=server_name,
        certificates=certificates,
        method=METHOD_SSL,
        tls_version=version,
        cipher=cipher[0] if cipher else None,
    )


def system_trust_roots() -> list[bytes]:
    """Return the system's trusted root certificates as DER.

    ``get_ca_certs`` lists only what OpenSSL has loaded from its CA file (a CA
    directory is read lazily), so the default CA file is also read directly
    when the context came back empty.
    """
    context = ssl.create_default_context()
    roots = list(context.get_ca_certs(binary_form=True))
    if roots:
        return roots
    cafile = ssl.get_default_verify_paths().cafile
    if cafile:
        try:
            return pem_blocks_to_der(Path(cafile).read_bytes())
        except OSError:
            return []
    return []


def pem_blocks_to_der(data: bytes) -> list[bytes]:
    """Return the DER of every ``CERTIFICATE`` PEM block in ``data``, in order."""
    return [ssl.PEM_cert_to_DER_cert(block.decode("ascii")) for block in _PEM_CERT_RE.findall(data)]


def _read_chain(tls: ssl.SSLSocket) -> list[bytes] | None:
    """The presented chain via Python's ssl, or None when the interpreter cannot say."""
    public = getattr(tls, "get_unverified_chain", None)  # Python 3.13+
    if public is None:
        sslobj = getattr(tls, "_sslobj", None)  # Python 3.10-3.12: private but present
        public = getattr(sslobj, "get_unverified_chain", None)
    if public is None:
        return None
    chain = public()
    if not chain:
        leaf = tls.getpeercert(binary_form=True)
        return [leaf] if leaf else []
    return [_certificate_der(item) for item in chain]


def _certificate_der(item: object) -> bytes:
    if isinstance(item, bytes):  # 3.13's public API may hand back DER already
        return item
    public_bytes = getattr(item, "public_bytes", None)
    if public_bytes is None:
        raise TypeError(f"unexpected certificate object {type(item).__name__}")
    # The default encoding is PEM (the DER constant lives only in the private _ssl).
    data = public_bytes()
    if isinstance(data, str):
        return ssl.PEM_cert_to_DER_cert(data)
    return bytes(data)


def _fetch_with_openssl(
    endpoint: Endpoint, *, server_name: str | None, timeout: float
) -> PresentedChain:
    binary = shutil.which("openssl")
    if binary is None:
        raise EndpointError(
            f"Cannot read the chain {endpoint} presents: this Python cannot return the "
            "whole chain and the openssl command is not installed",
            hint="Install openssl or run certctl on Python 3.11 or newer from python.org",
            retryable=False,
        )
    command = [binary, "s_client", "-showcerts", "-connect", str(endpoint)]
    command += ["-servername", server_name] if server_name else ["-noservername"]
    try:
        completed = subprocess.run(
            command,
            input=b"",
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise EndpointError(
            f"{endpoint} did not finish a TLS handshake within {timeout:g}s",
            hint="Check that the host is up and the port speaks TLS, or raise --timeout",
        ) from exc
    certificates = pem_blocks_to_der(completed.stdout)
    if not certificates:
        detail = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        raise EndpointError(
            f"{endpoint} presented no certificate to openssl s_client"
            + (f": {detail[-1]}" if detail else ""),
            hint="Check that the port speaks TLS directly and that --servername is right",
        )
    return PresentedChain(
        endpoint=endpoint,
        server_name=server_name,
        certificates=certificates,
        method=METHOD_OPENSSL,
    )


def _unreachable(endpoint: Endpoint, exc: OSError) -> EndpointError:
    if isinstance(exc, socket.gaierror):
        return EndpointError(
            f"Cannot connect to {endpoint}: the name {endpoint.host!r} does not resolve "
            f"({_reason(exc)})",
            hint="Check the spelling and your DNS resolver",
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return EndpointError(
            f"Cannot connect to {endpoint}: no answer within the timeout",
            hint="Check that the host is up and a firewall lets the port through, "
            "or raise --timeout",
        )
    return EndpointError(
        f"Cannot connect to {endpoint}: {_reason(exc)}",
        hint="Check that the host is up, that something listens on that port, "
        "and that the target is right",
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    text = str(exc).strip()
    return text or type(exc).__name__
