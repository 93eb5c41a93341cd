"""Verdicts that must match a real cluster: CRD schema, then CRD defaults, then the webhook.

Each case quotes the cert-manager rule it mirrors. Rejections are compared as the
whole list of (field, message) pairs, so a second, spurious error fails the test
as surely as a missing one.
"""

from __future__ import annotations

from typing import Any

import pytest

from certctl.api.loader import load_manifests
from certctl.errors import ManifestError
from tests.unit.api.builders import (
    DELETE,
    acme,
    certificate,
    dump,
    issuer,
    load_documents,
    load_text,
    solver,
)


def verdict(*documents: Any) -> list[tuple[str, str]]:
    """Every problem loading ``documents`` raises, as (field, message) pairs."""
    with pytest.raises(ManifestError) as caught:
        load_text(dump(*documents))
    return [(problem.field, problem.message) for problem in caught.value.problems]


def vault(**auth: Any) -> dict[str, Any]:
    return {"vault": {"server": "https://vault:8200", "path": "pki/sign/web", "auth": auth}}


def window(**fields: Any) -> dict[str, Any]:
    """A Certificate with one renewal window; ``fields`` patch the window."""
    item = {"cron": "0 2 * * *", "windowDuration": "2h", **fields}
    return certificate(renewal={"policy": "RenewBefore", "windows": [item]})


NAMESERVER_MESSAGE = (
    "nameserver must be set in the form host:port where host is an IPv4 address, an "
    "enclosed IPv6 address or a hostname and port is an optional port number."
)
DNS01_NAMESERVERS_MESSAGE = (
    "must be host:port (an IPv4 address, an IPv6 address in brackets or a hostname, "
    "and a port) or an https:// DNS-over-HTTPS URL with a host"
)
SOLVER = "spec.acme.solvers[0]"
CRON = "spec.renewal.windows[0].cron"
CRON_TAIL = ". cron needs to follow: cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow"

# --- Too strict before: these pass a real cluster ---

ACCEPTED = [
    # ValidateACMEIssuerConfig: `if len(iss.Server) == 0 { Required }`, nothing more.
    pytest.param(issuer(acme(server="letsencrypt")), id="an acme server is not parsed as a url"),
    pytest.param(
        issuer(acme(server="acme.internal/directory")),
        id="an acme server without a scheme is accepted at admission",
    ),
    # ValidateVaultIssuerConfig: `if len(iss.Server) == 0 { Required }`.
    pytest.param(
        issuer(
            {
                "vault": {
                    "server": "vault:8200",
                    "path": "p",
                    "auth": {"tokenSecretRef": {"name": "t"}},
                }
            }
        ),
        id="a vault server is not parsed as a url",
    ),
    # ValidateACMEChallengeSolverDNS01 passes `nameservers` entries it cannot parse to
    # nobody; the issue's rule: host:port or an https:// URL with a host.
    pytest.param(
        issuer(
            solver(
                dns01={
                    "route53": {},
                    "nameservers": [
                        "192.0.2.53:53",
                        "[2001:db8::53]:53",
                        "ns1.example.com:5353",
                        "https://dns.example.com/dns-query",
                    ],
                }
            )
        ),
        id="dns01 nameservers may be host port pairs and https urls",
    ),
    # internal/cron: a CRON_TZ= prefix names the zone when timezone is unset.
    pytest.param(
        window(cron="CRON_TZ=Europe/Berlin 0 2 * * *"),
        id="a cron with its own time zone prefix is accepted",
    ),
]


@pytest.mark.parametrize("document", ACCEPTED)
def test_a_real_cluster_accepts(document: dict[str, Any]) -> None:
    load_documents(document)


# ValidNameserver (validation/util/nameserver.go): `8.8.8.8:` splits into host
# "8.8.8.8" and an empty port, and an empty port is defaultRFC2136Port, 53.
@pytest.mark.parametrize(
    ("written", "used"),
    [
        pytest.param("8.8.8.8:", "8.8.8.8:53", id="an empty port after an ipv4 address means 53"),
        pytest.param(
            "[2001:db8::1]:", "[2001:db8::1]:53", id="an empty port after an ipv6 address means 53"
        ),
        pytest.param(
            "ns.example.com:", "ns.example.com:53", id="an empty port after a hostname means 53"
        ),
        pytest.param("ns.example.com", "ns.example.com:53", id="no port at all means 53"),
        pytest.param(" 192.0.2.1:5353 ", "192.0.2.1:5353", id="spaces around are trimmed"),
    ],
)
def test_an_rfc2136_nameserver_without_a_port_uses_53(written: str, used: str) -> None:
    loaded = load_documents(issuer(solver(dns01={"rfc2136": {"nameserver": written}})))

    config = loaded.issuers[0].spec.config
    assert config["solvers"][0]["dns01"]["rfc2136"]["nameserver"] == used
    assert loaded.issuers[0].raw["spec"]["acme"]["solvers"][0]["dns01"]["rfc2136"] == {
        "nameserver": written
    }


def test_a_gateway_parent_ref_with_only_a_name_gets_the_crd_default_kind() -> None:
    # gateway-api ParentReference: `+kubebuilder:default=Gateway` on kind (and the group
    # default) is applied before the webhook's "kind is required when name is specified".
    document = issuer(solver(http01={"gatewayHTTPRoute": {"parentRefs": [{"name": "gw"}]}}))

    config = load_documents(document).issuers[0].spec.config

    refs = config["solvers"][0]["http01"]["gatewayHTTPRoute"]["parentRefs"]
    assert refs == [{"name": "gw", "kind": "Gateway", "group": "gateway.networking.k8s.io"}]


def test_a_cron_time_zone_prefix_becomes_the_window_time_zone() -> None:
    loaded = load_documents(window(cron="CRON_TZ=Europe/Berlin 0 2 * * *"))

    renewal = loaded.certificates[0].spec.renewal
    assert renewal is not None
    assert (renewal.windows[0].cron, renewal.windows[0].timezone) == ("0 2 * * *", "Europe/Berlin")


# --- Too lax, or wrong messages: the exact problem list of a real cluster ---

REJECTED = [
    pytest.param(
        issuer(solver(dns01={"route53": {}, "nameservers": ["8.8.8.8"]})),
        [
            (
                f"{SOLVER}.dns01.nameservers[0]",
                f'Invalid value: "8.8.8.8": {DNS01_NAMESERVERS_MESSAGE}',
            )
        ],
        id="a dns01 nameserver needs a port",
    ),
    pytest.param(
        issuer(solver(dns01={"route53": {}, "nameservers": ["https://", "http://dns.example/q"]})),
        [
            (
                f"{SOLVER}.dns01.nameservers[0]",
                f'Invalid value: "https://": {DNS01_NAMESERVERS_MESSAGE}',
            ),
            (
                f"{SOLVER}.dns01.nameservers[1]",
                f'Invalid value: "http://dns.example/q": {DNS01_NAMESERVERS_MESSAGE}',
            ),
        ],
        id="a dns01 nameserver url must be https with a host",
    ),
    pytest.param(
        issuer(solver(dns01={"route53": {}, "nameservers": ["192.0.2.1:53,192.0.2.2:53"]})),
        [
            (
                f"{SOLVER}.dns01.nameservers[0]",
                f'Invalid value: "192.0.2.1:53,192.0.2.2:53": {DNS01_NAMESERVERS_MESSAGE}',
            )
        ],
        id="one dns01 nameserver entry holds one server",
    ),
    # gateway-api Namespace: MinLength=1, MaxLength=63, Pattern of a DNS label.
    pytest.param(
        issuer(
            solver(
                http01={
                    "gatewayHTTPRoute": {"parentRefs": [{"name": "gw", "namespace": "Infra_NS"}]}
                }
            )
        ),
        [
            (
                f"{SOLVER}.http01.gatewayHTTPRoute.parentRefs[0].namespace",
                "Invalid value: \"Infra_NS\": should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'",
            )
        ],
        id="a parent ref namespace must be a dns label",
    ),
    pytest.param(
        issuer(
            solver(http01={"gatewayHTTPRoute": {"parentRefs": [{"name": "gw", "namespace": ""}]}})
        ),
        [
            (
                f"{SOLVER}.http01.gatewayHTTPRoute.parentRefs[0].namespace",
                'Invalid value: "": should be at least 1 chars long',
            )
        ],
        id="a parent ref namespace may not be empty",
    ),
    pytest.param(
        issuer(solver(http01={"gatewayHTTPRoute": {"parentRefs": [{"kind": "Gateway"}]}})),
        [(f"{SOLVER}.http01.gatewayHTTPRoute.parentRefs[0].name", "Required value")],
        id="a parent ref needs a name",
    ),
    # The CRD lists appRole.path as required; cert-manager has no default mount.
    pytest.param(
        issuer(vault(appRole={"roleId": "r", "secretRef": {"name": "s"}})),
        [("spec.vault.auth.appRole.path", "Required value")],
        id="a vault approle path is required",
    ),
    # ValidateCertificateSpec takes the CN from the parsed DN, then reports every
    # attribute of unknown type: "Literal subject contains unrecognized key with value [%s]".
    pytest.param(
        certificate(dnsNames=DELETE, literalSubject="CN=foo,FOO=bar"),
        [
            (
                "spec.literalSubject",
                'Invalid value: "CN=foo,FOO=bar": Literal subject contains unrecognized key '
                "with value [bar]",
            )
        ],
        id="an unknown literal subject key does not also hide the common name",
    ),
    pytest.param(
        window(cron="CRON_TZ=UTC"),
        [
            (
                CRON,
                'Invalid value: "CRON_TZ=UTC": invalid cron syntax: failed to parse cron spec '
                "'CRON_TZ=UTC': the CRON_TZ= prefix must be followed by a cron spec, as in "
                f"'CRON_TZ=UTC 0 2 * * *'{CRON_TAIL}",
            )
        ],
        id="a cron time zone prefix without a spec says the prefix needs a spec",
    ),
    pytest.param(
        window(cron="0 2 * *"),
        [
            (
                CRON,
                'Invalid value: "0 2 * *": invalid cron syntax: failed to parse cron spec '
                f"'0 2 * *': expected exactly 5 fields, found 4: [0 2 * *]{CRON_TAIL}",
            )
        ],
        id="a cron with four fields lists them as go does",
    ),
    # CronParse prepends "CRON_TZ=<timezone> " when timezone is set, so the cron's own
    # prefix is then a sixth field.
    pytest.param(
        window(cron="CRON_TZ=UTC 0 2 * * *", timezone="Europe/Berlin"),
        [
            (
                CRON,
                'Invalid value: "CRON_TZ=UTC 0 2 * * *": invalid cron syntax: failed to parse '
                "cron spec 'CRON_TZ=UTC 0 2 * * *': expected exactly 5 fields, found 6: "
                f"[CRON_TZ=UTC 0 2 * * *]{CRON_TAIL}",
            )
        ],
        id="a cron prefix and a timezone field together are six fields",
    ),
    pytest.param(
        window(cron="CRON_TZ=Mars/Olympus 0 2 * * *"),
        [
            (
                CRON,
                'Invalid value: "CRON_TZ=Mars/Olympus 0 2 * * *": invalid cron syntax: failed '
                "to parse cron spec 'CRON_TZ=Mars/Olympus 0 2 * * *': provided bad location "
                f"Mars/Olympus: unknown time zone Mars/Olympus{CRON_TAIL}",
            )
        ],
        id="a cron prefix with an unknown zone names the zone",
    ),
    # The CRD's timezone has minLength 1, which the API server checks before the webhook.
    pytest.param(
        window(timezone=""),
        [
            (
                "spec.renewal.windows[0].timezone",
                'Invalid value: "": should be at least 1 chars long',
            )
        ],
        id="an empty timezone is blamed on the schema minimum length",
    ),
    # `if len(p.RFC2136.Nameserver) == 0 { Required } else { ValidNameserver }`.
    pytest.param(
        issuer(solver(dns01={"rfc2136": {"nameserver": ""}})),
        [(f"{SOLVER}.dns01.rfc2136.nameserver", "Required value")],
        id="an empty nameserver is one required error",
    ),
    pytest.param(
        issuer(solver(dns01={"rfc2136": {"nameserver": "ns.example.com:0"}})),
        [
            (
                f"{SOLVER}.dns01.rfc2136.nameserver",
                f'Invalid value: "ns.example.com:0": {NAMESERVER_MESSAGE}',
            )
        ],
        id="port zero is not a port",
    ),
    # Each provider after the first: `if numProviders > 0 { Forbidden(...) } else { validate }`.
    pytest.param(
        issuer(
            solver(
                dns01={
                    "cloudflare": {"apiTokenSecretRef": {"name": "cf", "key": "token"}},
                    "route53": {"accessKeyID": "a", "accessKeyIDSecretRef": {"name": "x"}},
                    "rfc2136": {"nameserver": ""},
                }
            )
        ),
        [
            (f"{SOLVER}.dns01.route53", "Forbidden: may not specify more than one provider type"),
            (f"{SOLVER}.dns01.rfc2136", "Forbidden: may not specify more than one provider type"),
        ],
        id="several dns01 providers stop at may not specify more than one provider type",
    ),
    pytest.param(
        issuer(solver(http01={"standalone": {}}, dns01={})),
        [
            (
                SOLVER,
                "Forbidden: may not specify more than one solver type in a single solver",
            )
        ],
        id="a second solver type is not validated",
    ),
    # ValidateIssuerConfig validates the first issuer type only.
    pytest.param(
        issuer({"ca": {"secretName": "ca-key"}, "vault": {}}),
        [("spec.vault", "Forbidden: may not specify more than one issuer type")],
        id="a second issuer type is not validated",
    ),
]


@pytest.mark.parametrize(("document", "problems"), REJECTED)
def test_a_real_cluster_rejects_with_exactly(
    document: dict[str, Any], problems: list[tuple[str, str]]
) -> None:
    assert verdict(document) == problems


def test_examples_still_load() -> None:
    """The shipped examples stay valid under the new verdicts (vault-approle sets its path)."""
    from pathlib import Path

    examples = Path(__file__).resolve().parents[3] / "examples"
    loaded = load_manifests([str(examples)])
    assert loaded.issuers
