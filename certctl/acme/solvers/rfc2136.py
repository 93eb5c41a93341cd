"""The ``dns01.rfc2136`` provider: TXT records through DNS UPDATE (RFC 2136), signed with TSIG.

It mirrors cert-manager's rfc2136 solver: ``nameserver`` is ``host[:port]`` (IPv6
in brackets, port 53 by default), ``tsigKeyName`` with ``tsigSecretSecretRef``
names the key (both or neither; neither sends unsigned updates),
``tsigAlgorithm`` is one of HMACMD5 (default), HMACSHA1, HMACSHA256, HMACSHA512,
and ``protocol`` is UDP (default) or TCP.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import socket
from collections.abc import Mapping
from typing import Any

import dns.exception
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update

from certctl.acme.settings import Nameserver, parse_nameservers
from certctl.acme.solvers.base import SolverContext, read_credential
from certctl.errors import IssuanceError, IssuerNotReadyError

__all__ = ["TSIG_ALGORITHMS", "RFC2136Provider", "parse_nameserver", "parse_tsig_algorithm"]

log = logging.getLogger(__name__)

#: cert-manager's tsigAlgorithm words -> dnspython's algorithm names.
TSIG_ALGORITHMS: dict[str, dns.name.Name] = {
    "HMACMD5": dns.tsig.HMAC_MD5,
    "HMACSHA1": dns.tsig.HMAC_SHA1,
    "HMACSHA256": dns.tsig.HMAC_SHA256,
    "HMACSHA512": dns.tsig.HMAC_SHA512,
}

#: cert-manager writes the challenge record with this TTL.
TXT_TTL = 60
#: Seconds to wait for the server's answer to one UPDATE.
UPDATE_TIMEOUT = 10.0

_HINT = "Check tsigKeyName/tsigSecretSecretRef and that the server allows updates for this zone"

#: Answers that another try may turn into a success.
_TRANSIENT_RCODES = (dns.rcode.SERVFAIL,)


def parse_nameserver(text: str) -> Nameserver:
    """``host[:port]`` (IPv6 in brackets) as the ``nameserver`` field takes it.

    Raises:
        IssuanceError: not exactly one ``host[:port]``.
    """
    try:
        servers = parse_nameservers(text)
    except ValueError:
        servers = ()
    if len(servers) == 1 and ":" in servers[0].host:
        # parse_nameservers takes a bare "a:b" as a host; only a real IPv6 address is one.
        try:
            ipaddress.IPv6Address(servers[0].host)
        except ValueError:
            servers = ()
    if len(servers) != 1 or "," in text:
        raise IssuanceError(
            f"the rfc2136 nameserver {text!r} is not host:port",
            hint="Write it as 192.0.2.1:53, [2001:db8::1]:53 or ns1.example.com",
        )
    return servers[0]


def parse_tsig_algorithm(text: str) -> dns.name.Name:
    """dnspython's name for a ``tsigAlgorithm`` value (case-insensitive; empty = HMACMD5).

    Raises:
        IssuanceError: an algorithm cert-manager does not accept.
    """
    word = (text or "HMACMD5").strip().upper()
    try:
        return TSIG_ALGORITHMS[word]
    except KeyError:
        raise IssuanceError(
            f"the rfc2136 tsigAlgorithm {text!r} is not one of {', '.join(TSIG_ALGORITHMS)}"
        ) from None


class RFC2136Provider:
    """Adds and removes the challenge TXT record with signed DNS UPDATE messages."""

    def __init__(self, config: Mapping[str, Any], context: SolverContext) -> None:
        self._context = context
        self.nameserver = parse_nameserver(str(config.get("nameserver") or ""))
        self.algorithm = parse_tsig_algorithm(str(config.get("tsigAlgorithm") or ""))
        protocol = str(config.get("protocol") or "UDP").upper()
        if protocol not in ("UDP", "TCP"):
            raise IssuanceError(f"the rfc2136 protocol {protocol!r} is not UDP or TCP")
        self.protocol = protocol
        self.key_name = str(config.get("tsigKeyName") or "").strip()
        ref = config.get("tsigSecretSecretRef") or {}
        self._secret_name = str(ref.get("name") or "") if isinstance(ref, Mapping) else ""
        self._secret_key = str(ref.get("key") or "") if isinstance(ref, Mapping) else ""
        self._key: dns.tsig.Key | None = None

    def present(self, fqdn: str, zone: str, value: str) -> None:
        """Add ``value`` to the TXT records at ``fqdn``, keeping the others."""
        self._update("add", fqdn, zone, value)

    def cleanup(self, fqdn: str, zone: str, value: str) -> None:
        """Delete exactly that TXT value (deleting one that is gone is a no-op)."""
        self._update("delete", fqdn, zone, value)

    def _tsig_key(self) -> dns.tsig.Key | None:
        """The TSIG key, read from the store on first use; None for unsigned updates."""
        if not self.key_name:
            return None
        if self._key is not None:
            return self._key
        where = f"{self._context.secret_namespace}/{self._secret_name}"
        raw = read_credential(
            self._context,
            self._secret_name,
            self._secret_key,
            what="rfc2136 TSIG",
            holds="the base64 TSIG secret",
        )
        # The secret is base64 text as tsig-keygen prints it; a newline often trails it.
        text = "".join(raw.decode(errors="replace").split())
        try:
            secret = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise IssuerNotReadyError(
                f"{self._context.issuer}: the rfc2136 TSIG secret {where} key "
                f"{self._secret_key!r} is not base64",
                reason="SecretInvalidData",
                hint="Store the secret exactly as tsig-keygen prints it",
            ) from exc
        try:
            key_name = dns.name.from_text(self.key_name)
        except dns.exception.DNSException as exc:
            raise IssuanceError(
                f"the rfc2136 tsigKeyName {self.key_name!r} is not a DNS name"
            ) from exc
        self._key = dns.tsig.Key(key_name, secret, self.algorithm)
        return self._key

    def _update(self, action: str, fqdn: str, zone: str, value: str) -> None:
        server = self.nameserver
        key = self._tsig_key()
        try:
            name = dns.name.from_text(fqdn)
            origin = dns.name.from_text(zone)
        except dns.exception.DNSException as exc:
            raise IssuanceError(f"{fqdn!r} in zone {zone!r} is not a DNS name: {exc}") from exc
        update = dns.update.UpdateMessage(origin)
        if key is not None:
            update.use_tsig(key)
        rdata = dns.rdtypes.ANY.TXT.TXT(
            dns.rdataclass.IN, dns.rdatatype.TXT, [value.encode("ascii")]
        )
        if action == "add":
            update.add(name, TXT_TTL, rdata)
        else:
            update.delete(name, rdata)
        what = (
            f"rfc2136 nameserver {server} ({self.protocol}) could not {action} the TXT "
            f'record "{fqdn}" in zone "{zone}"'
        )
        log.debug("rfc2136: %s TXT %s in zone %s on %s", action, fqdn, zone, server)
        try:
            address = _address(server.host)
            if self.protocol == "TCP":
                response = dns.query.tcp(update, address, timeout=UPDATE_TIMEOUT, port=server.port)
            else:
                response = dns.query.udp(update, address, timeout=UPDATE_TIMEOUT, port=server.port)
        except socket.gaierror as exc:
            raise IssuanceError(
                f"{what}: {server.host} does not resolve ({exc})",
                hint="Check the nameserver field",
                retryable=True,
            ) from exc
        except dns.tsig.PeerError as exc:
            # The server answered with a TSIG error: BADSIG (wrong secret or algorithm),
            # BADKEY (unknown key name) or BADTIME (clocks apart).
            raise IssuanceError(
                f"{what}: the server rejected the TSIG signature of key {self.key_name!r} "
                f"({_tsig_error(exc)})",
                hint=_HINT,
            ) from exc
        except dns.exception.Timeout as exc:
            raise IssuanceError(
                f"{what}: no answer within {UPDATE_TIMEOUT:g} s",
                hint="Check that the nameserver is reachable on that port and protocol",
                retryable=True,
            ) from exc
        except OSError as exc:
            raise IssuanceError(
                f"{what}: the server is unreachable ({exc})",
                hint="Check that the nameserver is reachable on that port and protocol",
                retryable=True,
            ) from exc
        except dns.exception.DNSException as exc:
            raise IssuanceError(f"{what}: {exc}", hint=_HINT) from exc
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            raise IssuanceError(
                f"{what}: the server answered {dns.rcode.to_text(rcode)}",
                hint=_HINT,
                retryable=rcode in _TRANSIENT_RCODES,
            )


def _address(host: str) -> str:
    """An IP address for ``host``: dnspython only sends to addresses.

    Raises:
        socket.gaierror: the name does not resolve.
    """
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return str(socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)[0][4][0])


def _tsig_error(exc: dns.tsig.PeerError) -> str:
    names = {
        dns.tsig.PeerBadKey: "BADKEY: unknown key name",
        dns.tsig.PeerBadSignature: "BADSIG: wrong secret or algorithm",
        dns.tsig.PeerBadTime: "BADTIME: the clocks differ too much",
        dns.tsig.PeerBadTruncation: "BADTRUNC",
    }
    return names.get(type(exc), str(exc) or type(exc).__name__)
