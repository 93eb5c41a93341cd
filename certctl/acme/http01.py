"""The HTTP-01 self-check: would the ACME server get the key authorization?

Before telling the ACME server to validate, certctl fetches
``http://<domain>/.well-known/acme-challenge/<token>`` itself, as cert-manager's
``reachabilityTest`` does: redirects are followed (to HTTPS too, without verifying
the certificate, since the CA does not either, RFC 8555 §8.3), the whole request has
10 seconds, at most 1 MiB of the body is read, and the check passes only on status
200 with the key authorization as the body.

Names are resolved through ``--acme-http01-solver-nameservers`` when given (with
dnspython), else by the system resolver. Only the standard library's http.client
does HTTP, so the connection can go to the address that was resolved while the Host
header and TLS SNI still name the domain.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import dns.exception
import dns.nameserver
import dns.resolver

from certctl.acme.settings import ACMESettings, Nameserver

__all__ = [
    "MAX_BODY_BYTES",
    "REQUEST_TIMEOUT",
    "SelfCheckResult",
    "challenge_url",
    "check_http01",
    "check_http01_repeatedly",
]

#: cert-manager's reachability test gives the whole request (redirects included) 10 s.
REQUEST_TIMEOUT = 10.0
#: cert-manager reads at most 1 MiB of the body (maxAcmeChallengeBodySize).
MAX_BODY_BYTES = 1 << 20
#: Go's http.Client stops after 10 redirects; cert-manager keeps that default.
MAX_REDIRECTS = 10
#: How much of a wrong body the detail shows.
_SHOWN_BODY_CHARS = 100

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class SelfCheckResult:
    """The outcome of a self-check.

    Attributes:
        ok: whether the key authorization was served.
        detail: one sentence for ``describe challenge``: what was seen.
    """

    ok: bool
    detail: str


class _FetchError(Exception):
    """The request could not be completed; the message is the detail to show."""


def challenge_url(domain: str, token: str, port: int = 80) -> str:
    """``http://<domain>[:port]/.well-known/acme-challenge/<token>`` (IPv6 bracketed)."""
    host = f"[{domain}]" if ":" in domain else domain
    netloc = host if port == 80 else f"{host}:{port}"
    return f"http://{netloc}/.well-known/acme-challenge/{token}"


def check_http01(
    domain: str, token: str, key_authorization: str, settings: ACMESettings
) -> SelfCheckResult:
    """Fetch the challenge URL once and compare the body with the key authorization.

    Args:
        domain: the name (or IP address) being validated.
        token: the challenge token.
        key_authorization: ``<token>.<JWK thumbprint>``, the expected body.
        settings: the run's settings (self-check port and resolver).
    """
    return _check_once(domain, token, key_authorization, settings, REQUEST_TIMEOUT)


def check_http01_repeatedly(
    domain: str,
    token: str,
    key_authorization: str,
    settings: ACMESettings,
    *,
    passes: int,
    interval: float,
    deadline: float,
    cancel: threading.Event,
) -> SelfCheckResult:
    """Check until ``passes`` consecutive checks succeed, ``interval`` seconds apart.

    A failure starts the count again, as in cert-manager (which needs 5 passes 2 s
    apart for an ingress that propagates; local solvers need 1).

    Args:
        domain: the name being validated.
        token: the challenge token.
        key_authorization: the expected body.
        settings: the run's settings.
        passes: consecutive successes needed.
        interval: seconds between two checks.
        deadline: a ``time.monotonic()`` value; no check starts after it.
        cancel: when set, waiting stops at once.

    Returns:
        The passing result, or the last failure (with what stopped the checks).
    """
    needed = max(1, passes)
    consecutive = 0
    while True:
        if cancel.is_set():
            return SelfCheckResult(False, "the self-check was cancelled")
        result = check_http01(domain, token, key_authorization, settings)
        if result.ok:
            consecutive += 1
            if consecutive >= needed:
                if needed == 1:
                    return result
                return SelfCheckResult(
                    True, f"{result.detail} ({needed} consecutive checks passed)"
                )
        else:
            consecutive = 0
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if result.ok:
                return SelfCheckResult(
                    False,
                    f"only {consecutive} of {needed} consecutive self-checks passed "
                    "before the deadline",
                )
            return result
        if cancel.wait(min(interval, remaining)):
            return SelfCheckResult(False, f"the self-check was cancelled: {result.detail}")


def _check_once(
    domain: str, token: str, key_authorization: str, settings: ACMESettings, timeout: float
) -> SelfCheckResult:
    url = challenge_url(domain, token, settings.http01_self_check_port)
    deadline = time.monotonic() + timeout
    try:
        status, body = _fetch(url, settings.http01_solver_nameservers, deadline)
    except _FetchError as exc:
        return SelfCheckResult(False, str(exc))
    if status != 200:
        return SelfCheckResult(False, f"wrong status code '{status}', expected '200'")
    presented = body.decode("utf-8", errors="replace").strip()
    if presented != key_authorization:
        shown = presented[:_SHOWN_BODY_CHARS]
        if len(presented) > _SHOWN_BODY_CHARS:
            shown = shown.rstrip() + "... (truncated)"
        return SelfCheckResult(
            False,
            "did not get expected response when querying endpoint, "
            f'expected "{key_authorization}" but got: {shown}',
        )
    return SelfCheckResult(True, f"{url} returned the key authorization")


def _fetch(url: str, nameservers: Sequence[Nameserver], deadline: float) -> tuple[int, bytes]:
    """GET ``url``, following redirects; returns the final status and body."""
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise _FetchError(f"redirected to {url}, which is neither http nor https")
        host = parts.hostname
        if not host:
            raise _FetchError(f"redirected to {url}, which names no host")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise _FetchError(f"redirected to {url}, which has an invalid port") from exc
        addresses = _resolve(host, nameservers, deadline)
        connection = _connection(scheme, host, port, addresses, deadline)
        response: http.client.HTTPResponse | None = None
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        try:
            connection.request(
                "GET",
                target,
                headers={"User-Agent": "certctl", "Accept": "*/*", "Connection": "close"},
            )
            response = connection.getresponse()
            location = response.getheader("Location")
            if response.status in _REDIRECT_STATUSES and location:
                url = urljoin(url, location)
                continue
            return response.status, response.read(MAX_BODY_BYTES)
        except TimeoutError as exc:
            raise _FetchError(
                f"timed out waiting for a response from {_netloc(host, port)}"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _FetchError(
                f"failed to perform self check GET request '{url}': {_reason(exc)}"
            ) from exc
        finally:
            if response is not None:
                response.close()
            connection.close()
    raise _FetchError(f"stopped after {MAX_REDIRECTS} redirects, the last to {url}")


def _remaining(deadline: float, doing: str) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _FetchError(f"timed out after {REQUEST_TIMEOUT:g}s {doing}")
    return remaining


def _resolve(host: str, nameservers: Sequence[Nameserver], deadline: float) -> list[str]:
    """The addresses to connect to, in the order to try them."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [host]
    if nameservers:
        return _resolve_with(host, nameservers, _remaining(deadline, f"resolving {host}"))
    # The system resolver has no timeout of its own to pass; it is usually quick.
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise _FetchError(f"failed to resolve {host}: {_reason(exc)}") from exc
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _resolve_with(host: str, nameservers: Sequence[Nameserver], timeout: float) -> list[str]:
    servers = ", ".join(str(server) for server in nameservers)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [
        dns.nameserver.Do53Nameserver(_server_address(server.host), server.port)
        for server in nameservers
    ]
    resolver.lifetime = timeout
    addresses: list[str] = []
    missing = 0
    # IPv6 first: Let's Encrypt prefers AAAA when a name has both.
    for record_type in ("AAAA", "A"):
        try:
            answer = resolver.resolve(host, record_type, search=False)
        except dns.resolver.NXDOMAIN as exc:
            raise _FetchError(f"failed to resolve {host} via {servers}: no such host") from exc
        except dns.resolver.NoAnswer:
            missing += 1
            continue
        except dns.exception.Timeout as exc:
            raise _FetchError(f"timed out resolving {host} via {servers}") from exc
        except dns.exception.DNSException as exc:
            raise _FetchError(f"failed to resolve {host} via {servers}: {exc}") from exc
        addresses.extend(record.to_text() for record in answer)
    if not addresses:
        raise _FetchError(f"failed to resolve {host} via {servers}: no A or AAAA records")
    return addresses


def _server_address(host: str) -> str:
    """dnspython wants an IP address; resolve a nameserver given by name once."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            return str(socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)[0][4][0])
        except (socket.gaierror, UnicodeError) as exc:
            raise _FetchError(f"failed to resolve the nameserver {host}: {_reason(exc)}") from exc
    return host


def _connection(
    scheme: str, host: str, port: int, addresses: Sequence[str], deadline: float
) -> http.client.HTTPConnection:
    timeout = _remaining(deadline, f"connecting to {host}")
    sock = _open_socket(addresses, port, deadline)
    if scheme == "http":
        return _PinnedHTTPConnection(host, port, sock, timeout)
    # RFC 8555 §8.3: the CA follows redirects to HTTPS without validating the
    # certificate, so the self-check does not either.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        server_hostname = None if _is_ip(host) else host
        tls = context.wrap_socket(sock, server_hostname=server_hostname)
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        raise _FetchError(
            f"TLS handshake with {_netloc(host, port)} failed: {_reason(exc)}"
        ) from exc
    return _PinnedHTTPConnection(host, port, tls, timeout)


def _open_socket(addresses: Sequence[str], port: int, deadline: float) -> socket.socket:
    failures: list[tuple[str, str]] = []
    for address in addresses:
        where = _netloc(address, port)
        try:
            timeout = _remaining(deadline, f"connecting to {where}")
            return socket.create_connection((address, port), timeout=timeout)
        except ConnectionRefusedError:
            failures.append(("connection refused by", where))
        except TimeoutError:
            failures.append(("timed out connecting to", where))
        except OSError as exc:
            failures.append((f"could not connect ({_reason(exc)}) to", where))
    kinds = {kind for kind, _ in failures}
    if len(kinds) == 1:
        raise _FetchError(f"{kinds.pop()} {', '.join(where for _, where in failures)}")
    raise _FetchError("; ".join(f"{kind} {where}" for kind, where in failures) or "no address")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection over a socket opened to an address resolved beforehand.

    http.client still sends ``Host: <name>[:port]`` from ``host``, so virtual hosts
    see the domain while the connection goes where certctl's resolver pointed.
    """

    def __init__(self, host: str, port: int, sock: socket.socket, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.sock = sock

    def connect(self) -> None:
        # The socket is already open; http.client only calls this when it has none,
        # which happens only after a close, and then there is nothing to reopen.
        raise http.client.NotConnected("the self-check connection was closed")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
