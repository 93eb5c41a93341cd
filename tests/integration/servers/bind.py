"""A real BIND (named) on a free loopback port, authoritative for two test zones.

``example.test.`` holds a wildcard A record to 127.0.0.1 (so every name resolves
to loopback for HTTP-01 tests) and the CNAMEs the ``cnameStrategy: Follow`` tests
need; ``other.test.`` is where those CNAMEs point. Both zones take RFC 2136
updates signed with any of the TSIG keys of ``tsig_keys``: one per algorithm
cert-manager accepts, with secrets made up at start.

Everything named writes (journals, pid, lock and session key files) stays in the
given directory, and rndc is off, so nothing under /etc/bind or /var is touched.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from certctl.acme.settings import ACMESettings, Nameserver

NAMED = "/usr/sbin/named"
MISSING_NAMED = "named is missing: install it with apt-get install bind9 bind9-utils"

#: TSIG algorithm (BIND's spelling, as cert-manager's tsigAlgorithm maps to it) -> key name.
TSIG_ALGORITHMS = ("hmac-md5", "hmac-sha1", "hmac-sha256", "hmac-sha512")

ZONE = "example.test."
OTHER_ZONE = "other.test."

_SOA = "@ IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60"

EXAMPLE_ZONE_FILE = f"""\
$TTL 60
{_SOA}
@ IN NS ns1.example.test.
@ IN A 127.0.0.1
ns1 IN A 127.0.0.1
* IN A 127.0.0.1
; cnameStrategy Follow: one hop into other.test, two hops, and a loop.
_acme-challenge.cname IN CNAME _acme-challenge.target.other.test.
_acme-challenge.chain IN CNAME _acme-challenge.cname.example.test.
_acme-challenge.loop-a IN CNAME _acme-challenge.loop-b.example.test.
_acme-challenge.loop-b IN CNAME _acme-challenge.loop-a.example.test.
"""

OTHER_ZONE_FILE = f"""\
$TTL 60
{_SOA}
@ IN NS ns1.example.test.
"""


def find_named() -> str | None:
    """The named binary: Debian's /usr/sbin/named, else one on PATH."""
    if os.access(NAMED, os.X_OK):
        return NAMED
    return shutil.which("named")


def find_free_port(host: str = "127.0.0.1", attempts: int = 50) -> int:
    """A port free for both TCP and UDP on ``host`` (DNS listens on both)."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError(f"no port on {host} is free for both TCP and UDP")


class BindServer:
    """named in the foreground, configured and started in ``directory``.

    Use it as a context manager, or call ``start`` and ``stop`` (``stop`` is safe to
    call more than once).
    """

    zone = ZONE
    other_zone = OTHER_ZONE

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        self.directory = directory
        self.host = host
        self.port = 0
        self.tsig_keys: dict[str, tuple[str, str]] = {
            algorithm: (f"certctl-{algorithm}.", base64.b64encode(os.urandom(32)).decode())
            for algorithm in TSIG_ALGORITHMS
        }
        self.log_path = directory / "named.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def nameserver(self) -> Nameserver:
        return Nameserver(self.host, self.port)

    @property
    def address(self) -> str:
        """``host:port``, as Pebble's ``-dnsserver`` and the rfc2136 ``nameserver`` take it."""
        return f"{self.host}:{self.port}"

    def acme_settings(self, **changes: Any) -> ACMESettings:
        """Settings whose recursive and authoritative lookups all go to this server."""
        settings = ACMESettings(
            dns01_recursive_nameservers=(self.nameserver,), authoritative_dns_port=self.port
        )
        return dataclasses.replace(settings, **changes)

    def start(self, timeout: float = 15.0) -> None:
        named = find_named()
        if named is None:
            raise FileNotFoundError(MISSING_NAMED)
        self.port = find_free_port(self.host)
        config = self._write_config()
        log = self.log_path.open("wb")
        try:
            # -g: foreground, log to stderr. Run as the current user (root in CI is
            # fine: without -u named keeps its user). -n 1: one worker is plenty.
            self._process = subprocess.Popen(
                [named, "-g", "-n", "1", "-4", "-c", str(config)],
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        try:
            self._wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> BindServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def query(self, name: str, rdtype: str) -> dns.message.Message:
        """Ask this server directly (UDP, TCP on truncation)."""
        request = dns.message.make_query(name, dns.rdatatype.from_text(rdtype))
        response, _ = dns.query.udp_with_fallback(request, self.host, timeout=2, port=self.port)
        return response

    def query_txt(self, name: str) -> list[str]:
        """The TXT values at ``name``, each record's strings joined; empty when none."""
        response = self.query(name, "TXT")
        return [
            b"".join(rdata.strings).decode()
            for rrset in response.answer
            if rrset.rdtype == dns.rdatatype.TXT
            for rdata in rrset
        ]

    def log(self) -> str:
        """What named said so far, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _write_config(self) -> Path:
        directory = self.directory
        (directory / "example.test.zone").write_text(EXAMPLE_ZONE_FILE)
        (directory / "other.test.zone").write_text(OTHER_ZONE_FILE)
        # No trust anchors: validation is off, and /etc/bind stays untouched.
        (directory / "bind.keys").write_text("")
        keys = "".join(
            f'key "{name}" {{ algorithm {algorithm}; secret "{secret}"; }};\n'
            for algorithm, (name, secret) in self.tsig_keys.items()
        )
        allow = " ".join(f'key "{name}";' for name, _ in self.tsig_keys.values())
        zones = "".join(
            f'zone "{zone.rstrip(".")}" {{ type primary; file "{zone}zone"; '
            f"allow-update {{ {allow} }}; }};\n"
            for zone in (ZONE, OTHER_ZONE)
        )
        config = directory / "named.conf"
        config.write_text(
            f"""\
options {{
    directory "{directory}";
    pid-file "{directory}/named.pid";
    lock-file "{directory}/named.lock";
    session-keyfile "{directory}/session.key";
    managed-keys-directory "{directory}";
    dump-file "{directory}/named_dump.db";
    statistics-file "{directory}/named.stats";
    bindkeys-file "{directory}/bind.keys";
    geoip-directory none;
    listen-on port {self.port} {{ {self.host}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-query {{ any; }};
    dnssec-validation no;
    notify no;
}};
controls {{ }};
{keys}{zones}"""
        )
        return config

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        request = dns.message.make_query(ZONE, dns.rdatatype.SOA)
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                raise RuntimeError(f"named exited before answering; its log:\n{self.log()}")
            try:
                response = dns.query.udp(request, self.host, timeout=0.5, port=self.port)
            except (dns.exception.DNSException, OSError):
                pass
            else:
                if any(rrset.rdtype == dns.rdatatype.SOA for rrset in response.answer):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"named did not answer an SOA query on {self.address} within "
                    f"{timeout:.0f} s; its log:\n{self.log()}"
                )
            time.sleep(0.1)
