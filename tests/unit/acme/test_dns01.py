"""The pure parts of DNS-01: record names, parents, resolver lists, provider config words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest

from certctl.acme import dns01
from certctl.acme.settings import ACMESettings, Nameserver
from certctl.acme.solvers.base import SolverContext
from certctl.acme.solvers.exec import ExecProvider
from certctl.acme.solvers.rfc2136 import parse_nameserver, parse_tsig_algorithm
from certctl.errors import IssuanceError, NotSupportedError


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        pytest.param("example.com", "_acme-challenge.example.com.", id="a domain gets the label"),
        pytest.param(
            "*.example.com", "_acme-challenge.example.com.", id="a wildcard uses its base domain"
        ),
        pytest.param(
            "www.example.com.",
            "_acme-challenge.www.example.com.",
            id="an absolute name keeps one trailing dot",
        ),
        pytest.param(
            "bücher.example",
            "_acme-challenge.xn--bcher-kva.example.",
            id="an internationalized name is written in punycode",
        ),
    ],
)
def test_challenge_record_name(domain: str, expected: str) -> None:
    assert dns01.challenge_record_name(domain) == expected


@pytest.mark.parametrize(
    "domain",
    [
        pytest.param("", id="an empty domain is refused"),
        pytest.param("*.", id="a bare wildcard is refused"),
        pytest.param("a..example.com", id="an empty label is refused"),
        pytest.param("x" * 64 + ".example.com", id="a label over 63 characters is refused"),
        pytest.param("a.*.example.com", id="a wildcard label inside the name is refused"),
    ],
)
def test_challenge_record_name_refuses_non_names(domain: str) -> None:
    with pytest.raises(IssuanceError, match=r"is not a DNS name"):
        dns01.challenge_record_name(domain)


@pytest.mark.parametrize(
    ("fqdn", "expected"),
    [
        pytest.param(
            "_acme-challenge.a.example.com.",
            ["_acme-challenge.a.example.com.", "a.example.com.", "example.com.", "com."],
            id="every parent up to the top-level domain, without the root",
        ),
        pytest.param("com.", ["com."], id="a top-level domain is its own only candidate"),
        pytest.param("a.b", ["a.b.", "b."], id="a relative name is taken as absolute"),
    ],
)
def test_parent_domains(fqdn: str, expected: list[str]) -> None:
    assert list(dns01.parent_domains(fqdn)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "search example.com\nnameserver 10.0.0.1\nnameserver 10.0.0.2\n",
            (Nameserver("10.0.0.1"), Nameserver("10.0.0.2")),
            id="each nameserver line on port 53",
        ),
        pytest.param(
            "nameserver fe80::1%eth0\nnameserver ::1\n",
            (Nameserver("fe80::1"), Nameserver("::1")),
            id="IPv6 servers lose their zone id",
        ),
        pytest.param(
            "# nameserver 10.9.9.9\n; nameserver 10.8.8.8\nnameserver 10.0.0.1 # main\n",
            (Nameserver("10.0.0.1"),),
            id="comments are ignored",
        ),
        pytest.param("nameserver localhost\n", (), id="a line without an address is ignored"),
        pytest.param("", (), id="an empty file names no server"),
    ],
)
def test_nameservers_from_resolv_conf(text: str, expected: tuple[Nameserver, ...]) -> None:
    assert dns01.nameservers_from_resolv_conf(text) == expected


@pytest.mark.parametrize(
    ("flag", "resolv_conf", "expected"),
    [
        pytest.param(
            (Nameserver("127.0.0.1", 5353),),
            "nameserver 10.0.0.1\n",
            (Nameserver("127.0.0.1", 5353),),
            id="the flag wins over resolv.conf",
        ),
        pytest.param(
            (), "nameserver 10.0.0.1\n", (Nameserver("10.0.0.1"),), id="resolv.conf comes next"
        ),
        pytest.param((), "", dns01.FALLBACK_NAMESERVERS, id="Google's servers are the last resort"),
        pytest.param(
            (), None, dns01.FALLBACK_NAMESERVERS, id="a missing resolv.conf is the same as empty"
        ),
    ],
)
def test_recursive_nameservers(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    flag: tuple[Nameserver, ...],
    resolv_conf: str | None,
    expected: tuple[Nameserver, ...],
) -> None:
    path = tmp_path / "resolv.conf"
    if resolv_conf is not None:
        path.write_text(resolv_conf)
    monkeypatch.setattr(dns01, "RESOLV_CONF", path)

    settings = ACMESettings(dns01_recursive_nameservers=flag)
    assert dns01.recursive_nameservers(settings) == expected


def test_solver_nameservers_replace_the_recursive_ones_and_the_authoritative_check() -> None:
    settings = ACMESettings(dns01_recursive_nameservers=(Nameserver("10.0.0.1"),))

    result = dns01.solver_settings({"nameservers": ["127.0.0.1:5353", "[::1]"]}, settings)

    assert result.dns01_recursive_nameservers == (
        Nameserver("127.0.0.1", 5353),
        Nameserver("::1", 53),
    )
    assert result.dns01_recursive_nameservers_only
    assert result.cancel is settings.cancel


def test_a_solver_without_nameservers_keeps_the_run_settings() -> None:
    settings = ACMESettings()
    assert dns01.solver_settings({"rfc2136": {}}, settings) is settings


def test_a_dns_over_https_solver_nameserver_is_not_supported_yet() -> None:
    with pytest.raises(NotSupportedError, match=r"DNS-over-HTTPS"):
        dns01.solver_settings({"nameservers": ["https://dns.example/dns-query"]}, ACMESettings())


# --- check_propagation's verdicts, with the network replaced by a table ---

FQDN = "_acme-challenge.example.com."


def txt_answer(*values: str, rcode: int = dns.rcode.NOERROR) -> dns.message.Message:
    request = dns.message.make_query(FQDN, dns.rdatatype.TXT)
    response = dns.message.make_response(request)
    response.set_rcode(dns.rcode.Rcode(rcode))
    if values:
        response.answer.append(
            dns.rrset.from_text(FQDN, 60, "IN", "TXT", *(f'"{value}"' for value in values))
        )
    return response


@pytest.mark.parametrize(
    ("answers", "ok", "detail"),
    [
        pytest.param(
            {"192.0.2.1": txt_answer("v"), "192.0.2.2": txt_answer("other", "v")},
            True,
            "is present on 2 authoritative nameservers (192.0.2.1:53, 192.0.2.2:53)",
            id="every nameserver has the value among others",
        ),
        pytest.param(
            {"192.0.2.1": txt_answer("v"), "192.0.2.2": txt_answer(rcode=dns.rcode.NXDOMAIN)},
            False,
            "not yet propagated: 192.0.2.2:53 answered NXDOMAIN",
            id="one nameserver without the name is not yet",
        ),
        pytest.param(
            {"192.0.2.1": txt_answer("v"), "192.0.2.2": None},
            False,
            "not yet propagated: 192.0.2.2:53 did not answer",
            id="a nameserver that does not answer is not yet",
        ),
        pytest.param(
            {"192.0.2.1": txt_answer("v"), "192.0.2.2": txt_answer("v"), "2001:db8::2": None},
            True,
            "is present on 2 authoritative nameservers (192.0.2.1:53, 192.0.2.2:53)",
            id="an unreachable IPv6 address of a nameserver that answered over IPv4 is left out",
        ),
    ],
)
def test_check_propagation_verdicts(
    monkeypatch: pytest.MonkeyPatch,
    answers: dict[str, dns.message.Message | None],
    ok: bool,
    detail: str,
) -> None:
    groups = [
        (Nameserver("192.0.2.1"),),
        tuple(Nameserver(host) for host in answers if host != "192.0.2.1"),
    ]

    def fake_ask(server: Nameserver, *args: Any, **kwargs: Any) -> dns.message.Message:
        # The recursive server (asked for the CNAMEs of the name first) is not in the
        # table: it does not answer, so the name is checked as it is.
        answer = answers.get(server.host)
        if answer is None:
            raise dns01._NoAnswer(f"{server} did not answer within 2 s")
        return answer

    monkeypatch.setattr(dns01, "_authoritative_servers", lambda zone, settings: groups)
    monkeypatch.setattr(dns01, "_ask", fake_ask)

    result = dns01.check_propagation(FQDN, "v", "example.com.", ACMESettings())

    assert result.ok is ok
    assert detail in result.detail
    assert result.detail.startswith('DNS record for "_acme-challenge.example.com" ')


# --- provider configuration words ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("192.0.2.1", Nameserver("192.0.2.1", 53), id="the port defaults to 53"),
        pytest.param("192.0.2.1:5353", Nameserver("192.0.2.1", 5353), id="a port is kept"),
        pytest.param("[2001:db8::1]:53", Nameserver("2001:db8::1", 53), id="IPv6 in brackets"),
        pytest.param("ns1.example.com", Nameserver("ns1.example.com", 53), id="a hostname"),
    ],
)
def test_rfc2136_nameserver(text: str, expected: Nameserver) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="an empty nameserver is refused"),
        pytest.param("[2001:db8::1]:99999", id="a port over 65535 is refused"),
        pytest.param("a:b:c:53", id="colons outside brackets are refused unless an IPv6 address"),
        pytest.param("192.0.2.1,192.0.2.2", id="a list is refused"),
    ],
)
def test_rfc2136_nameserver_refuses(text: str) -> None:
    with pytest.raises(IssuanceError, match=r"is not host:port"):
        parse_nameserver(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", dns.tsig.HMAC_MD5, id="HMACMD5 is the default"),
        pytest.param("HMACSHA1", dns.tsig.HMAC_SHA1, id="HMACSHA1"),
        pytest.param("hmacsha256", dns.tsig.HMAC_SHA256, id="the algorithm is case-insensitive"),
        pytest.param("HMACSHA512", dns.tsig.HMAC_SHA512, id="HMACSHA512"),
    ],
)
def test_rfc2136_tsig_algorithm(text: str, expected: dns.name.Name) -> None:
    assert parse_tsig_algorithm(text) == expected


def test_rfc2136_refuses_an_algorithm_cert_manager_does_not_accept() -> None:
    with pytest.raises(IssuanceError, match=r"'HMACSHA384' is not one of HMACMD5"):
        parse_tsig_algorithm("HMACSHA384")


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(None, id="a missing command is refused"),
        pytest.param([], id="an empty command is refused"),
        pytest.param("/bin/hook present", id="a string instead of a list is refused"),
        pytest.param(["/bin/hook", ""], id="an empty argument is refused"),
    ],
)
def test_exec_command_must_be_a_list_of_strings(command: Any) -> None:
    context = SolverContext("ns", lambda namespace, name: None, ACMESettings(), "Issuer/ns/x")
    with pytest.raises(IssuanceError, match=r"dns01.exec needs command"):
        ExecProvider({"command": command}, context)
