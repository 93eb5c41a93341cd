"""Run-wide ACME settings: resolvers for self-checks, deadlines, and cancellation."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Nameserver:
    """A DNS server to query, as ``host:port`` on the command line."""

    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ACMESettings:
    """What every ACME order of one run shares.

    Attributes:
        dns01_recursive_nameservers: ``--dns01-recursive-nameservers``; empty means the
            servers of /etc/resolv.conf.
        dns01_recursive_nameservers_only: ``--dns01-recursive-nameservers-only``: check
            propagation on the recursive servers only, not on each authoritative one.
        http01_solver_nameservers: ``--acme-http01-solver-nameservers``: the resolver
            of the HTTP-01 self-check; empty means the system resolver.
        authoritative_dns_port: the port authoritative servers are queried on. Always
            53 in real use; tests point it at a server on a free loopback port.
        http01_self_check_port: the port the HTTP-01 self-check connects to. Always 80
            in real use (RFC 8555 §8.3); tests point it at the solver's free port.
        self_check_timeout: how long a self-check may keep failing before the order
            is abandoned (cert-manager retries forever; a CLI run must end).
        validation_timeout: how long to wait for the ACME server to validate and to
            finalize.
        cancel: set on Ctrl-C or SIGTERM: waits stop, and cleanup runs.
    """

    dns01_recursive_nameservers: tuple[Nameserver, ...] = ()
    dns01_recursive_nameservers_only: bool = False
    http01_solver_nameservers: tuple[Nameserver, ...] = ()
    authoritative_dns_port: int = 53
    http01_self_check_port: int = 80
    self_check_timeout: dt.timedelta = dt.timedelta(minutes=2)
    validation_timeout: dt.timedelta = dt.timedelta(minutes=2)
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)


def parse_nameservers(text: str) -> tuple[Nameserver, ...]:
    """Parse ``host:port,host:port`` (IPv6 as ``[::1]:53``; the port defaults to 53).

    Raises:
        ValueError: an entry is malformed.
    """
    servers = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        host, port = entry, "53"
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            if rest.startswith(":"):
                port = rest[1:]
            elif rest:
                raise ValueError(f"{entry!r} is not HOST:PORT")
        elif entry.count(":") == 1:
            host, port = entry.split(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{entry!r} is not HOST:PORT")
        servers.append(Nameserver(host, int(port)))
    return tuple(servers)
