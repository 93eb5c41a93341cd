"""DNS-01 mechanics every provider shares (RFC 8555 §8.4).

A provider only adds and removes one TXT record (``DNS01Provider``). Everything
around that lives here, the way lego and cert-manager split it:

* the record name, ``_acme-challenge.<domain>.`` (the base domain for a wildcard);
* ``cnameStrategy: Follow``: follow CNAMEs from that name and write the TXT record
  at the end of the chain;
* zone detection by SOA, walking up the parents of the name;
* the propagation self-check: by default on every authoritative nameserver of the
  zone, or with ``--dns01-recursive-nameservers-only`` on the recursive servers.

All lookups go to explicit servers (``ACMESettings.dns01_recursive_nameservers``,
else those of /etc/resolv.conf, else Google's), never through a system cache, and
each query gives up after ``QUERY_TIMEOUT`` seconds so a check attempt stays short.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import socket
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.NS
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA

from certctl.acme.settings import ACMESettings, Nameserver, parse_nameservers
from certctl.acme.solvers.base import DNS01Provider
from certctl.errors import IssuanceError, NotSupportedError

__all__ = [
    "FALLBACK_NAMESERVERS",
    "MAX_CNAME_HOPS",
    "QUERY_TIMEOUT",
    "PropagationResult",
    "challenge_record_name",
    "check_propagation",
    "cleanup_dns01",
    "find_zone",
    "follow_cnames",
    "nameservers_from_resolv_conf",
    "parent_domains",
    "present_dns01",
    "recursive_nameservers",
    "solver_settings",
]

log = logging.getLogger(__name__)

#: Seconds one DNS query may take before the server counts as not answering.
QUERY_TIMEOUT = 2.0
#: cert-manager and lego stop following CNAMEs after this many hops.
MAX_CNAME_HOPS = 10
#: cert-manager's last resort when neither the flag nor /etc/resolv.conf names a server.
FALLBACK_NAMESERVERS = (Nameserver("8.8.8.8"), Nameserver("8.8.4.4"))
RESOLV_CONF = Path("/etc/resolv.conf")

_CHALLENGE_LABEL = "_acme-challenge"
#: Answers worth taking from a recursive server; anything else, ask the next one.
_USABLE_RCODES = (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)


@dataclass(frozen=True)
class PropagationResult:
    """The outcome of one propagation check.

    Attributes:
        ok: every server asked has the value.
        detail: one sentence naming which server said what, for messages and
            ``describe challenge``.
    """

    ok: bool
    detail: str


class _NoAnswer(Exception):
    """No server gave a usable answer; the text says who said what."""


# --- Pure helpers ---


def challenge_record_name(domain: str) -> str:
    """``_acme-challenge.<domain>.``, absolute; a wildcard ``*.x`` uses ``x``.

    Internationalized names come back in their ASCII (punycode) form.

    Raises:
        IssuanceError: ``domain`` is not a valid DNS name.
    """
    base = domain.strip().rstrip(".")
    if base == "*" or base.startswith("*."):
        base = base[2:]
    if not base or "*" in base.split("."):
        raise IssuanceError(f"{domain!r} is not a DNS name, so it has no DNS-01 record name")
    try:
        return dns.name.from_text(f"{_CHALLENGE_LABEL}.{base}.").to_text()
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise IssuanceError(
            f"{domain!r} is not a DNS name, so it has no DNS-01 record name: {exc}"
        ) from exc


def parent_domains(fqdn: str) -> Iterator[str]:
    """``a.b.c.``, ``b.c.``, ``c.``: the name and each parent, without the root."""
    name = dns.name.from_text(fqdn)
    while len(name.labels) > 1:
        yield name.to_text()
        name = name.parent()


def nameservers_from_resolv_conf(text: str) -> tuple[Nameserver, ...]:
    """The ``nameserver`` lines of a resolv.conf, on port 53 (zone ids dropped)."""
    servers = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            address = fields[1].split("%", 1)[0]
            try:
                ipaddress.ip_address(address)
            except ValueError:
                continue
            servers.append(Nameserver(address))
    return tuple(servers)


def recursive_nameservers(settings: ACMESettings) -> tuple[Nameserver, ...]:
    """``--dns01-recursive-nameservers``, else /etc/resolv.conf, else 8.8.8.8 and 8.8.4.4."""
    if settings.dns01_recursive_nameservers:
        return settings.dns01_recursive_nameservers
    try:
        servers = nameservers_from_resolv_conf(RESOLV_CONF.read_text())
    except OSError:
        servers = ()
    return servers or FALLBACK_NAMESERVERS


def solver_settings(dns01_config: Mapping[str, Any], settings: ACMESettings) -> ACMESettings:
    """The settings one dns01 solver block runs with.

    cert-manager's per-solver ``nameservers`` replace the recursive servers and turn
    the authoritative check off (the check then asks only those servers).

    Raises:
        NotSupportedError: a DNS-over-HTTPS entry (``https://…``).
        IssuanceError: an entry is not ``host[:port]``.
    """
    entries = [str(entry) for entry in dns01_config.get("nameservers") or ()]
    if not entries:
        return settings
    servers: list[Nameserver] = []
    for entry in entries:
        if entry.startswith(("https://", "http://")):
            raise NotSupportedError(
                f"the dns01 nameserver {entry} is DNS-over-HTTPS, which this version of "
                "certctl does not support yet",
                hint="Give host:port nameservers instead",
            )
        try:
            servers.extend(parse_nameservers(entry))
        except ValueError as exc:
            raise IssuanceError(f"the dns01 nameserver {entry!r} is not host:port") from exc
    return dataclasses.replace(
        settings,
        dns01_recursive_nameservers=tuple(servers),
        dns01_recursive_nameservers_only=True,
    )


# --- Lookups ---


def follow_cnames(fqdn: str, settings: ACMESettings) -> str:
    """Follow CNAME records from ``fqdn`` and return the last name (absolute).

    This is ``cnameStrategy: Follow``: the TXT record is written where the chain
    ends, e.g. in a zone delegated to a DNS provider with an API.

    Raises:
        IssuanceError: a loop, more than ``MAX_CNAME_HOPS`` CNAMEs, or no recursive
            server answered (retryable).
    """
    servers = recursive_nameservers(settings)
    current = dns.name.from_text(fqdn)
    chain = [current]
    while True:
        try:
            _, response = _ask_first(servers, current, dns.rdatatype.CNAME)
        except _NoAnswer as exc:
            raise IssuanceError(
                f'could not follow the CNAMEs of "{_display(fqdn)}": {exc}',
                hint="Check --dns01-recursive-nameservers",
                retryable=True,
            ) from exc
        targets = _cname_targets(response)
        target = targets.get(current)
        if target is None:
            return current.to_text()
        # A resolver may return several links of the chain in one answer.
        while target is not None:
            if target in chain:
                path = " -> ".join(_display(name) for name in [*chain, target])
                raise IssuanceError(f"the CNAMEs from {_display(fqdn)} loop: {path}")
            chain.append(target)
            if len(chain) > MAX_CNAME_HOPS + 1:
                raise IssuanceError(
                    f'"{_display(fqdn)}" leads through more than {MAX_CNAME_HOPS} CNAME '
                    "records; shorten the chain"
                )
            current = target
            target = targets.get(current)


def find_zone(fqdn: str, settings: ACMESettings) -> str:
    """The zone ``fqdn`` belongs to (absolute), found by SOA through the recursive servers.

    Ask for the SOA of the name, then of each parent. A positive answer with the
    SOA at that name is the zone apex. A negative answer (NXDOMAIN, or NOERROR with
    no data) carries the zone's SOA in its authority section, which names the zone
    directly. An answer holding a CNAME is skipped: a zone apex cannot be a CNAME.

    Raises:
        IssuanceError: no parent has an SOA, or (retryable) no server answered.
    """
    servers = recursive_nameservers(settings)
    answered = False
    problems: list[str] = []
    for domain in parent_domains(fqdn):
        name = dns.name.from_text(domain)
        try:
            server, response = _ask_first(servers, name, dns.rdatatype.SOA)
        except _NoAnswer as exc:
            problems.append(str(exc))
            if not answered:
                # Not one server answered the first question: asking about each parent
                # would only wait for the same timeouts again.
                break
            continue
        answered = True
        rcode = response.rcode()
        if rcode not in _USABLE_RCODES:
            problems.append(f"{server} answered {dns.rcode.to_text(rcode)} for {_display(domain)}")
            continue
        if any(rrset.rdtype == dns.rdatatype.CNAME for rrset in response.answer):
            continue
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.SOA and rrset.name == name:
                return name.to_text()
        for rrset in response.authority:
            if rrset.rdtype == dns.rdatatype.SOA and name.is_subdomain(rrset.name):
                return rrset.name.to_text()
    if not answered:
        raise IssuanceError(
            f'could not find the DNS zone of "{_display(fqdn)}": {problems[-1]}',
            hint="Check --dns01-recursive-nameservers",
            retryable=True,
        )
    last = f" (last problem: {problems[-1]})" if problems else ""
    raise IssuanceError(
        f'could not find the DNS zone of "{_display(fqdn)}": no SOA record on any parent{last}; '
        "check --dns01-recursive-nameservers"
    )


def check_propagation(
    fqdn: str, value: str, zone: str, settings: ACMESettings
) -> PropagationResult:
    """Whether the TXT value is visible where the ACME server will look.

    By default each address of each authoritative nameserver of ``zone`` (found
    through the recursive servers) is asked on ``settings.authoritative_dns_port``;
    with ``dns01_recursive_nameservers_only``, each recursive server is asked
    instead. Every one must return a TXT record whose strings, joined, equal
    ``value``. Nothing here raises: network errors mean "not yet".

    As cert-manager's check does, CNAMEs from ``fqdn`` are followed whatever the
    solver's ``cnameStrategy``: a delegated ``_acme-challenge`` name (acme-dns, a
    record kept in another zone) is checked where the ACME server will find it.
    """
    fqdn, zone = _checked_name(fqdn, zone, settings)
    record = _display(fqdn)
    name = dns.name.from_text(fqdn)
    groups: list[tuple[Nameserver, ...]]
    if settings.dns01_recursive_nameservers_only:
        groups = [(server,) for server in recursive_nameservers(settings)]
        recurse, kind = True, "recursive nameserver"
    else:
        try:
            groups = _authoritative_servers(dns.name.from_text(zone), settings)
        except _NoAnswer as exc:
            return PropagationResult(
                False,
                f'DNS record for "{record}" not yet propagated: could not find the '
                f'authoritative nameservers of zone "{_display(zone)}": {exc}',
            )
        recurse, kind = False, "authoritative nameserver"
    targets = [server for group in groups for server in group]
    with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
        outcomes = dict(
            zip(
                targets,
                pool.map(lambda server: _check_one(server, name, value, recurse), targets),
                strict=True,
            )
        )
    problems: list[str] = []
    confirmed: list[Nameserver] = []
    for group in groups:
        answered = [server for server in group if outcomes[server][0] != "unreachable"]
        # An address that cannot be reached at all (IPv6 on an IPv4-only host) is
        # left out when another address of the same nameserver answered.
        for server in answered or group:
            verdict, text = outcomes[server]
            if verdict == "ok":
                confirmed.append(server)
            else:
                problems.append(text)
    if problems:
        return PropagationResult(
            False, f'DNS record for "{record}" not yet propagated: {"; ".join(problems)}'
        )
    count = len(confirmed)
    plural = "s" if count != 1 else ""
    servers_text = ", ".join(str(server) for server in confirmed)
    return PropagationResult(
        True, f'DNS record for "{record}" is present on {count} {kind}{plural} ({servers_text})'
    )


def _checked_name(fqdn: str, zone: str, settings: ACMESettings) -> tuple[str, str]:
    """Where the check looks: the end of ``fqdn``'s CNAME chain, and that name's zone.

    When the chain cannot be followed (no recursive server answers, a loop), the
    name is checked as it is and the check itself says what it finds.
    """
    try:
        target = follow_cnames(fqdn, settings)
        if dns.name.from_text(target) == dns.name.from_text(fqdn):
            return fqdn, zone
        return target, find_zone(target, settings)
    except IssuanceError:
        return fqdn, zone


# --- Present and clean up through a provider ---


def present_dns01(
    provider: DNS01Provider,
    domain: str,
    value: str,
    solver_config: Mapping[str, Any],
    settings: ACMESettings,
) -> tuple[str, str]:
    """Find where the record goes, have ``provider`` add it, and return ``(fqdn, zone)``.

    ``solver_config`` is the solver's ``dns01`` block (``cnameStrategy``,
    ``nameservers`` and the provider block); a whole ``solvers[]`` entry works too.
    Check propagation afterwards with ``solver_settings(solver_config, settings)``.

    Raises:
        IssuanceError: the name, the zone or the provider failed.
    """
    config = _dns01_block(solver_config)
    settings = solver_settings(config, settings)
    fqdn = challenge_record_name(domain)
    if config.get("cnameStrategy") == "Follow":
        fqdn = follow_cnames(fqdn, settings)
    zone = find_zone(fqdn, settings)
    log.debug("presenting the DNS-01 record %s in zone %s", fqdn, zone)
    provider.present(fqdn, zone, value)
    return fqdn, zone


def cleanup_dns01(provider: DNS01Provider, fqdn: str, zone: str, value: str) -> None:
    """Have ``provider`` remove the value ``present_dns01`` added."""
    log.debug("cleaning up the DNS-01 record %s in zone %s", fqdn, zone)
    provider.cleanup(fqdn, zone, value)


# --- Internals ---


def _display(fqdn: str | dns.name.Name) -> str:
    text = fqdn.to_text() if isinstance(fqdn, dns.name.Name) else fqdn
    return text.rstrip(".") or "."


def _dns01_block(solver_config: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = solver_config.get("dns01")
    return inner if isinstance(inner, Mapping) else solver_config


def _address(host: str) -> str:
    """An IP address for ``host`` (dnspython only talks to addresses)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise _NoAnswer(f"{host} does not resolve ({exc})") from exc
    return str(infos[0][4][0])


def _ask(
    server: Nameserver, name: dns.name.Name, rdtype: dns.rdatatype.RdataType, *, recurse: bool
) -> dns.message.Message:
    """One query over UDP (TCP when truncated).

    Raises:
        _NoAnswer: the server did not answer, with a phrase saying so.
    """
    request = dns.message.make_query(name, rdtype)
    if not recurse:
        request.flags &= ~dns.flags.RD
    try:
        response, _ = dns.query.udp_with_fallback(
            request, _address(server.host), timeout=QUERY_TIMEOUT, port=server.port
        )
    except dns.exception.Timeout as exc:
        raise _NoAnswer(f"{server} did not answer within {QUERY_TIMEOUT:g} s") from exc
    except (dns.exception.DNSException, OSError) as exc:
        raise _NoAnswer(f"{server} could not be asked ({exc})") from exc
    return response


def _ask_first(
    servers: Iterable[Nameserver], name: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> tuple[Nameserver, dns.message.Message]:
    """Ask the recursive servers in turn; the first NOERROR or NXDOMAIN answer wins.

    Another rcode (SERVFAIL, REFUSED) moves on to the next server, and is returned
    if no server does better.
    """
    fallback: tuple[Nameserver, dns.message.Message] | None = None
    problems: list[str] = []
    for server in servers:
        try:
            response = _ask(server, name, rdtype, recurse=True)
        except _NoAnswer as exc:
            problems.append(str(exc))
            continue
        if response.rcode() in _USABLE_RCODES:
            return server, response
        fallback = fallback or (server, response)
    if fallback is not None:
        return fallback
    raise _NoAnswer("; ".join(problems) or "no nameserver to ask")


def _cname_targets(response: dns.message.Message) -> dict[dns.name.Name, dns.name.Name]:
    targets: dict[dns.name.Name, dns.name.Name] = {}
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME:
            for rdata in rrset:
                targets[rrset.name] = cast(dns.rdtypes.ANY.CNAME.CNAME, rdata).target
    return targets


def _authoritative_servers(
    zone: dns.name.Name, settings: ACMESettings
) -> list[tuple[Nameserver, ...]]:
    """The addresses of each NS of ``zone``, one tuple per nameserver host."""
    servers = recursive_nameservers(settings)
    server, response = _ask_first(servers, zone, dns.rdatatype.NS)
    hosts = sorted(
        {
            cast(dns.rdtypes.ANY.NS.NS, rdata).target
            for rrset in response.answer
            if rrset.rdtype == dns.rdatatype.NS and rrset.name == zone
            for rdata in rrset
        }
    )
    if not hosts:
        raise _NoAnswer(
            f"{server} answered {dns.rcode.to_text(response.rcode())} with no NS records"
        )
    groups: list[tuple[Nameserver, ...]] = []
    problems: list[str] = []
    for host in hosts:
        addresses: list[Nameserver] = []
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                _, answer = _ask_first(servers, host, rdtype)
            except _NoAnswer as exc:
                problems.append(str(exc))
                continue
            for rrset in answer.answer:
                if rrset.rdtype == rdtype:
                    addresses.extend(
                        Nameserver(
                            cast(dns.rdtypes.IN.A.A | dns.rdtypes.IN.AAAA.AAAA, rdata).address,
                            settings.authoritative_dns_port,
                        )
                        for rdata in rrset
                    )
        if addresses:
            groups.append(tuple(dict.fromkeys(addresses)))
        else:
            problems.append(f"nameserver {_display(host)} has no address")
    if not groups:
        raise _NoAnswer("; ".join(problems))
    return groups


def _check_one(
    server: Nameserver, name: dns.name.Name, value: str, recurse: bool
) -> tuple[str, str]:
    """``("ok" | "missing" | "unreachable", phrase)`` for one server."""
    try:
        response = _ask(server, name, dns.rdatatype.TXT, recurse=recurse)
    except _NoAnswer as exc:
        return "unreachable", str(exc)
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        return "missing", f"{server} answered {dns.rcode.to_text(rcode)}"
    # The answer may start with CNAMEs when a recursive server follows them.
    values = [
        b"".join(cast(dns.rdtypes.ANY.TXT.TXT, rdata).strings).decode(errors="replace")
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.TXT
        for rdata in rrset
    ]
    if value in values:
        return "ok", f"{server} has the value"
    if not values:
        return "missing", f"{server} has no TXT record there"
    count = len(values)
    return "missing", f"{server} has {count} other TXT value{'s' if count != 1 else ''} only"
