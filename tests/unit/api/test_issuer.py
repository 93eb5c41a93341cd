"""Issuer and ClusterIssuer schemas and webhook rules (reference §3, §4.1, §4.2)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.unit.api.builders import acme, dump, issuer, load_documents, problems_of, solver


def ca_bundle() -> str:
    """Base64 of a real self-signed PEM certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test ca")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


RFC2136 = {"nameserver": "192.0.2.1:53"}

CONFIG_CASES = [
    pytest.param(
        {"selfSigned": {}}, "selfSigned", {}, id="an empty self signed block is an issuer"
    ),
    pytest.param(
        {"ca": {"secretName": "ca-key"}},
        "ca",
        {"secretName": "ca-key"},
        id="a ca issuer keeps its secret name",
    ),
    pytest.param(
        acme(),
        "acme",
        {"privateKeySecretRef": {"name": "account-key", "key": "tls.key"}},
        id="the acme account key defaults to tls key",
    ),
    pytest.param(
        acme(),
        "acme",
        {"solvers": [{"http01": {"standalone": {"port": 80, "address": ""}}}]},
        id="standalone defaults to port 80 on every address",
    ),
    pytest.param(
        solver(dns01={"rfc2136": RFC2136}),
        "acme",
        {
            "solvers": [
                {
                    "dns01": {
                        "rfc2136": {
                            "nameserver": "192.0.2.1:53",
                            "tsigAlgorithm": "HMACMD5",
                            "protocol": "UDP",
                        }
                    }
                }
            ]
        },
        id="rfc2136 defaults to hmac md5 over udp",
    ),
    pytest.param(
        {
            "vault": {
                "server": "https://vault:8200",
                "path": "pki/sign/web",
                "auth": {"tokenSecretRef": {"name": "t"}},
            }
        },
        "vault",
        {"auth": {"tokenSecretRef": {"name": "t", "key": "token"}}},
        id="the vault token key defaults to token",
    ),
    pytest.param(
        {"venafi": {"zone": "z", "cloud": {"apiTokenSecretRef": {"name": "t"}}}},
        "venafi",
        {"cloud": {"url": "https://api.venafi.cloud/", "apiTokenSecretRef": {"name": "t"}}},
        id="the venafi cloud url has a default",
    ),
]


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _contains(actual[key], value) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_contains(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


@pytest.mark.parametrize(("spec", "kind", "config"), CONFIG_CASES)
def test_issuer_config_gets_defaults(
    spec: dict[str, Any], kind: str, config: dict[str, Any]
) -> None:
    loaded = load_documents(issuer(spec)).issuers[0]
    assert loaded.spec.type == kind
    assert _contains(dict(loaded.spec.config), config), loaded.spec.config


VALID_SPECS = [
    pytest.param(
        acme(
            email="ops@example.com",
            preferredChain="ISRG Root X1",
            profile="tlsserver",
            skipTLSVerify=True,
        ),
        id="acme with optional fields",
    ),
    pytest.param(acme(caBundle=ca_bundle()), id="acme with a ca bundle of pem certificates"),
    pytest.param(
        acme(
            externalAccountBinding={
                "keyID": "k",
                "keySecretRef": {"name": "eab", "key": "mac"},
                "keyAlgorithm": "HS256",
            }
        ),
        id="acme with eab and the deprecated key algorithm",
    ),
    pytest.param(
        solver(http01={"webroot": {"path": "/var/www/html"}}), id="certctl webroot solver"
    ),
    pytest.param(
        solver(
            http01={
                "ingress": {
                    "ingressClassName": "nginx",
                    "podTemplate": {
                        "metadata": {"labels": {"a": "b"}},
                        "spec": {
                            "nodeSelector": {"k": "v"},
                            "tolerations": [{"key": "k", "operator": "Exists"}],
                            "resources": {"limits": {"cpu": "100m", "memory": 64}},
                            "affinity": {"nodeAffinity": {}},
                        },
                    },
                    "ingressTemplate": {"metadata": {"annotations": {"x": "y"}}},
                }
            }
        ),
        id="ingress solver with templates",
    ),
    pytest.param(
        solver(
            http01={
                "gatewayHTTPRoute": {
                    "parentRefs": [{"name": "gw", "kind": "Gateway", "namespace": "infra"}]
                }
            }
        ),
        id="gateway http route solver",
    ),
    pytest.param(
        solver(dns01={"exec": {"command": ["/usr/local/bin/hook", "--zone", "x"]}}),
        id="certctl exec solver",
    ),
    pytest.param(
        solver(
            dns01={
                "rfc2136": {
                    "nameserver": "[2001:db8::1]:5353",
                    "tsigKeyName": "k",
                    "tsigSecretSecretRef": {"name": "s", "key": "k"},
                    "tsigAlgorithm": "hmacsha256",
                    "protocol": "TCP",
                }
            }
        ),
        id="rfc2136 with tsig and a lower case algorithm",
    ),
    pytest.param(
        solver(
            dns01={
                "route53": {
                    "region": "eu-west-1",
                    "accessKeyIDSecretRef": {"name": "a", "key": "id"},
                    "secretAccessKeySecretRef": {"name": "a", "key": "secret"},
                }
            }
        ),
        id="route53 with secret refs",
    ),
    pytest.param(solver(dns01={"route53": {}}), id="route53 with ambient credentials"),
    pytest.param(
        solver(dns01={"cloudflare": {"apiTokenSecretRef": {"name": "cf", "key": "token"}}}),
        id="cloudflare with an api token",
    ),
    pytest.param(
        solver(
            dns01={
                "azureDNS": {
                    "subscriptionID": "s",
                    "resourceGroupName": "g",
                    "managedIdentity": {"clientID": "c"},
                }
            }
        ),
        id="azure dns with a managed identity",
    ),
    pytest.param(
        solver(dns01={"cloudDNS": {"project": "p"}}), id="cloud dns with ambient credentials"
    ),
    pytest.param(
        solver(
            dns01={
                "webhook": {
                    "groupName": "acme.example.com",
                    "solverName": "x",
                    "config": {"any": ["thing"]},
                }
            }
        ),
        id="webhook with free form config",
    ),
    pytest.param(
        solver(
            dns01={"digitalocean": {"tokenSecretRef": {"name": "do", "key": "token"}}},
            selector={"dnsZones": ["example.com"], "matchLabels": {"a": "b"}},
            waitInsteadOfSelfCheck="30s",
        ),
        id="a solver with a selector and a wait",
    ),
    pytest.param(
        {
            "ca": {
                "secretName": "ca",
                "crlDistributionPoints": ["http://crl.example.com/ca.crl"],
                "ocspServers": ["http://ocsp.example.com"],
            }
        },
        id="ca with crl and ocsp urls",
    ),
    pytest.param(
        {
            "vault": {
                "server": "https://vault:8200",
                "path": "pki/sign/web",
                "caBundleSecretRef": {"name": "ca"},
                "clientCertSecretRef": {"name": "c"},
                "clientKeySecretRef": {"name": "k"},
                "auth": {
                    "kubernetes": {"role": "r", "serviceAccountRef": {"name": "sa"}},
                    "tokenSecretRef": {"name": "t"},
                },
            }
        },
        id="vault with several auth methods uses precedence",
    ),
    pytest.param(
        {
            "venafi": {
                "zone": "z",
                "tpp": {"url": "https://tpp.example.com/vedsdk", "credentialsRef": {"name": "c"}},
            }
        },
        id="venafi tpp",
    ),
    pytest.param(
        {"venafi": {"zone": "z", "ngts": {"tsgID": "1", "credentialsRef": {"name": "c"}}}},
        id="venafi ngts",
    ),
]


@pytest.mark.parametrize("spec", VALID_SPECS)
def test_valid_issuers_load(spec: dict[str, Any]) -> None:
    assert len(load_documents(issuer(spec)).issuers) == 1


INVALID_SPECS = [
    pytest.param(
        {}, "spec", "at least one issuer must be configured", id="an issuer without a type"
    ),
    pytest.param(
        {"ca": {"secretName": "x"}, "selfSigned": {}},
        "spec.selfSigned",
        "may not specify more than one issuer type",
        id="an issuer with two types",
    ),
    pytest.param(
        {"selfsigned": {}},
        "spec.selfsigned",
        "did you mean 'selfSigned'?",
        id="a misspelt issuer type",
    ),
    pytest.param({"ca": {}}, "spec.ca.secretName", "Required value", id="ca needs a secret name"),
    pytest.param(
        {"ca": {"secretName": "x", "ocspServers": ["not a url"]}},
        "spec.ca.ocspServers[0]",
        "must be a valid URL",
        id="ca ocsp servers must be urls",
    ),
    pytest.param(
        {"selfSigned": {"crlDistributionPoints": [""]}},
        "spec.selfSigned.crlDistributionPoints[0]",
        "must be a valid URL",
        id="self signed crl points must be urls",
    ),
    pytest.param(
        acme(server=None),
        "spec.acme.server",
        "acme server URL is a required field",
        id="acme needs a server",
    ),
    pytest.param(
        acme(privateKeySecretRef={"name": ""}),
        "spec.acme.privateKeySecretRef.name",
        "private key secret name is a required field",
        id="acme needs an account key secret",
    ),
    pytest.param(
        acme(skipTLSVerify=True, caBundle=ca_bundle()),
        "spec.acme.caBundle",
        "mutually exclusive",
        id="acme ca bundle and skip tls verify are exclusive",
    ),
    pytest.param(
        acme(caBundle="bm90IGEgY2VydA=="),
        "spec.acme.caBundle",
        "didn't contain any valid certificates",
        id="acme ca bundle without certificates",
    ),
    pytest.param(
        acme(caBundle="%%%"), "spec.acme.caBundle", "base64", id="acme ca bundle that is not base64"
    ),
    pytest.param(
        acme(externalAccountBinding={"keySecretRef": {"name": "e", "key": "k"}}),
        "spec.acme.externalAccountBinding.keyID",
        "keyID field is required",
        id="eab needs a key id",
    ),
    pytest.param(
        acme(externalAccountBinding={"keyID": "k", "keySecretRef": {"name": "e"}}),
        "spec.acme.externalAccountBinding.keySecretRef.key",
        "secret key is required",
        id="eab needs the secret key",
    ),
    pytest.param(
        acme(preferredChain="x" * 65),
        "spec.acme.preferredChain",
        "may not be more than 64",
        id="preferred chain longer than 64",
    ),
    pytest.param(
        acme(solvers={"http01": {}}),
        "spec.acme.solvers",
        "expected list of mapping, got mapping",
        id="solvers written as a mapping",
    ),
    pytest.param(
        solver(), "spec.acme.solvers[0]", "no solver type configured", id="a solver without a type"
    ),
    pytest.param(
        solver(http01={"standalone": {}}, dns01={"exec": {"command": ["x"]}}),
        "spec.acme.solvers[0]",
        "may not specify more than one solver type",
        id="a solver with both types",
    ),
    pytest.param(
        solver(http01={}),
        "spec.acme.solvers[0].http01",
        "no HTTP01 solver type configured",
        id="http01 without a solver type",
    ),
    pytest.param(
        solver(http01={"standalone": {}, "webroot": {"path": "/srv"}}),
        "spec.acme.solvers[0].http01",
        "only 1 HTTP01 solver type",
        id="http01 with two solver types",
    ),
    pytest.param(
        solver(http01={"standalone": {"port": 70000}}),
        "spec.acme.solvers[0].http01.standalone.port",
        "between 1 and 65535",
        id="standalone port out of range",
    ),
    pytest.param(
        solver(http01={"standalone": {"port": "80"}}),
        "spec.acme.solvers[0].http01.standalone.port",
        "expected integer, got string",
        id="standalone port written as a string",
    ),
    pytest.param(
        solver(http01={"webroot": {}}),
        "spec.acme.solvers[0].http01.webroot.path",
        "Required value",
        id="webroot needs a path",
    ),
    pytest.param(
        solver(http01={"ingress": {"class": "nginx", "name": "web"}}),
        "spec.acme.solvers[0].http01.ingress",
        "only one of 'ingressClassName', 'name' or 'class'",
        id="ingress with class and name",
    ),
    pytest.param(
        solver(http01={"ingress": {"ingressClassName": "azure/application-gateway"}}),
        "spec.acme.solvers[0].http01.ingress.ingressClassName",
        "must be a valid IngressClass name",
        id="ingress class name must be a resource name",
    ),
    pytest.param(
        solver(http01={"ingress": {"serviceType": "LoadBalancer"}}),
        "spec.acme.solvers[0].http01.ingress.serviceType",
        "Unsupported value",
        id="ingress service type outside the enum",
    ),
    pytest.param(
        solver(http01={"ingress": {"podTemplate": {"spec": {"containers": []}}}}),
        "spec.acme.solvers[0].http01.ingress.podTemplate.spec.containers",
        "unknown field",
        id="pod template fields cert-manager does not copy",
    ),
    pytest.param(
        solver(dns01={}),
        "spec.acme.solvers[0].dns01",
        "no DNS01 provider configured",
        id="dns01 without a provider",
    ),
    pytest.param(
        solver(dns01={"cloudDNS": {"project": "p"}, "route53": {}}),
        "spec.acme.solvers[0].dns01.route53",
        "may not specify more than one provider type",
        id="dns01 with two providers",
    ),
    pytest.param(
        solver(dns01={"cnameStrategy": "Always", "route53": {}}),
        "spec.acme.solvers[0].dns01.cnameStrategy",
        "Unsupported value",
        id="cname strategy outside the enum",
    ),
    pytest.param(
        solver(dns01={"rfc2136": {}}),
        "spec.acme.solvers[0].dns01.rfc2136.nameserver",
        "Required value",
        id="rfc2136 needs a nameserver",
    ),
    pytest.param(
        solver(dns01={"rfc2136": {"nameserver": "2001:db8::1:53"}}),
        "spec.acme.solvers[0].dns01.rfc2136.nameserver",
        "enclosed IPv6 address",
        id="rfc2136 ipv6 nameserver without brackets",
    ),
    pytest.param(
        solver(dns01={"rfc2136": {"nameserver": "ns:99999"}}),
        "spec.acme.solvers[0].dns01.rfc2136.nameserver",
        "host:port",
        id="rfc2136 nameserver port out of range",
    ),
    pytest.param(
        solver(dns01={"rfc2136": {"nameserver": "ns", "tsigKeyName": "k"}}),
        "spec.acme.solvers[0].dns01.rfc2136.tsigSecretSecretRef.name",
        "secret name is required",
        id="rfc2136 tsig key name without secret",
    ),
    pytest.param(
        solver(
            dns01={
                "rfc2136": {"nameserver": "ns", "tsigSecretSecretRef": {"name": "s", "key": "k"}}
            }
        ),
        "spec.acme.solvers[0].dns01.rfc2136.tsigKeyName",
        "Required value",
        id="rfc2136 tsig secret without key name",
    ),
    pytest.param(
        solver(dns01={"rfc2136": {"nameserver": "ns", "tsigAlgorithm": "HMACSHA3"}}),
        "spec.acme.solvers[0].dns01.rfc2136.tsigAlgorithm",
        "Unsupported value",
        id="rfc2136 unknown tsig algorithm",
    ),
    pytest.param(
        solver(dns01={"rfc2136": {"nameserver": "ns", "protocol": "QUIC"}}),
        "spec.acme.solvers[0].dns01.rfc2136.protocol",
        "Unsupported value",
        id="rfc2136 protocol outside the enum",
    ),
    pytest.param(
        solver(
            dns01={
                "route53": {
                    "accessKeyID": "AKIA",
                    "accessKeyIDSecretRef": {"name": "a", "key": "b"},
                }
            }
        ),
        "spec.acme.solvers[0].dns01.route53.accessKeyID",
        "cannot both be specified",
        id="route53 access key id twice",
    ),
    pytest.param(
        solver(
            dns01={
                "cloudflare": {
                    "apiTokenSecretRef": {"name": "a", "key": "b"},
                    "apiKeySecretRef": {"name": "a", "key": "c"},
                    "email": "e",
                }
            }
        ),
        "spec.acme.solvers[0].dns01.cloudflare",
        "cannot both be specified",
        id="cloudflare token and key",
    ),
    pytest.param(
        solver(dns01={"cloudflare": {}}),
        "spec.acme.solvers[0].dns01.cloudflare",
        "apiKeySecretRef or apiTokenSecretRef is required",
        id="cloudflare without credentials",
    ),
    pytest.param(
        solver(dns01={"cloudflare": {"apiKeySecretRef": {"name": "a", "key": "c"}}}),
        "spec.acme.solvers[0].dns01.cloudflare.email",
        "Required value",
        id="cloudflare api key needs an email",
    ),
    pytest.param(
        solver(
            dns01={"azureDNS": {"subscriptionID": "s", "resourceGroupName": "g", "clientID": "c"}}
        ),
        "spec.acme.solvers[0].dns01.azureDNS.tenantID",
        "Required value",
        id="azure service principal needs all three fields",
    ),
    pytest.param(
        solver(
            dns01={
                "azureDNS": {
                    "subscriptionID": "s",
                    "resourceGroupName": "g",
                    "managedIdentity": {"clientID": "c", "resourceID": "r"},
                }
            }
        ),
        "spec.acme.solvers[0].dns01.azureDNS.managedIdentity",
        "cannot both be specified",
        id="azure managed identity client and resource id",
    ),
    pytest.param(
        solver(
            dns01={
                "azureDNS": {
                    "subscriptionID": "s",
                    "resourceGroupName": "g",
                    "environment": "AzureMoonCloud",
                }
            }
        ),
        "spec.acme.solvers[0].dns01.azureDNS.environment",
        "Unsupported value",
        id="azure environment outside the enum",
    ),
    pytest.param(
        solver(dns01={"acmeDNS": {"host": "https://auth.example.com"}}),
        "spec.acme.solvers[0].dns01.acmeDNS.accountSecretRef",
        "Required value",
        id="acme dns needs an account secret",
    ),
    pytest.param(
        solver(dns01={"akamai": {"serviceConsumerDomain": "d"}}),
        "spec.acme.solvers[0].dns01.akamai.clientTokenSecretRef",
        "Required value",
        id="akamai needs its three secrets",
    ),
    pytest.param(
        solver(dns01={"digitalocean": {"tokenSecretRef": {"name": "do"}}}),
        "spec.acme.solvers[0].dns01.digitalocean.tokenSecretRef.key",
        "secret key is required",
        id="digitalocean token needs a key",
    ),
    pytest.param(
        solver(dns01={"webhook": {"groupName": "g"}}),
        "spec.acme.solvers[0].dns01.webhook.solverName",
        "solver name must be specified",
        id="webhook needs a solver name",
    ),
    pytest.param(
        solver(dns01={"exec": {"command": []}}),
        "spec.acme.solvers[0].dns01.exec.command",
        "at least 1 item",
        id="exec needs a command",
    ),
    pytest.param(
        solver(dns01={"exec": {"command": "/bin/hook"}}),
        "spec.acme.solvers[0].dns01.exec.command",
        "expected list of string, got string",
        id="exec command written as a string",
    ),
    pytest.param(
        solver(dns01={"route53": {}}, waitInsteadOfSelfCheck="-1s"),
        "spec.acme.solvers[0].waitInsteadOfSelfCheck",
        "must not be negative",
        id="a negative wait instead of self check",
    ),
    pytest.param(
        solver(dns01={"route53": {}}, selector={"dnsName": ["x"]}),
        "spec.acme.solvers[0].selector.dnsName",
        "did you mean 'dnsNames'?",
        id="a misspelt selector field",
    ),
    pytest.param(
        {"vault": {"path": "pki/sign/x", "auth": {"tokenSecretRef": {"name": "t"}}}},
        "spec.vault.server",
        "Required value",
        id="vault needs a server",
    ),
    pytest.param(
        {
            "vault": {
                "server": "https://v",
                "path": "pki/../sys/x",
                "auth": {"tokenSecretRef": {"name": "t"}},
            }
        },
        "spec.vault.path",
        "must not contain '..' path segments",
        id="vault path with a dot dot segment",
    ),
    pytest.param(
        {"vault": {"server": "https://v", "path": "p", "auth": {}}},
        "spec.vault.auth",
        "please supply one of",
        id="vault without an auth method",
    ),
    pytest.param(
        {
            "vault": {
                "server": "https://v",
                "path": "p",
                "caBundle": ca_bundle(),
                "caBundleSecretRef": {"name": "c"},
                "auth": {"tokenSecretRef": {"name": "t"}},
            }
        },
        "spec.vault.caBundle",
        "cannot be used together",
        id="vault ca bundle twice",
    ),
    pytest.param(
        {
            "vault": {
                "server": "https://v",
                "path": "p",
                "clientCertSecretRef": {"name": "c"},
                "auth": {"tokenSecretRef": {"name": "t"}},
            }
        },
        "spec.vault.clientKeySecretRef",
        "must be provided",
        id="vault client cert without key",
    ),
    pytest.param(
        {"vault": {"server": "https://v", "path": "p", "auth": {"kubernetes": {"role": "r"}}}},
        "spec.vault.auth.kubernetes",
        "please supply one of: secretRef, serviceAccountRef",
        id="vault kubernetes auth without a token source",
    ),
    pytest.param(
        {
            "vault": {
                "server": "https://v",
                "path": "p",
                "auth": {"aws": {"role": "r", "serviceAccountRef": {"name": "sa"}}},
            }
        },
        "spec.vault.auth.aws.iamRoleArn",
        "iamRoleArn is required",
        id="vault aws irsa needs a role arn",
    ),
    pytest.param(
        {
            "vault": {
                "server": "https://v",
                "path": "p",
                "auth": {"appRole": {"roleId": "r", "secretRef": {"name": "s"}, "path": "../x"}},
            }
        },
        "spec.vault.auth.appRole.path",
        "'..'",
        id="vault approle path with a dot dot segment",
    ),
    pytest.param(
        {"venafi": {"tpp": {"url": "https://t", "credentialsRef": {"name": "c"}}}},
        "spec.venafi.zone",
        "Required value",
        id="venafi needs a zone",
    ),
    pytest.param(
        {"venafi": {"zone": "z"}},
        "spec.venafi",
        "please supply one of: tpp, cloud, ngts",
        id="venafi without a backend",
    ),
    pytest.param(
        {
            "venafi": {
                "zone": "z",
                "cloud": {"apiTokenSecretRef": {"name": "t"}},
                "ngts": {"tsgID": "1", "credentialsRef": {"name": "c"}},
            }
        },
        "spec.venafi",
        "please supply one of: tpp, cloud, ngts",
        id="venafi with two backends",
    ),
]


@pytest.mark.parametrize(("spec", "field", "message"), INVALID_SPECS)
def test_invalid_issuers_are_rejected(spec: dict[str, Any], field: str, message: str) -> None:
    found = problems_of(dump(issuer(spec)))
    assert any(f": {field}: " in p and message in p for p in found), found


def test_cluster_issuer_namespace_is_ignored() -> None:
    loaded = load_documents(issuer(kind="ClusterIssuer", namespace="elsewhere")).issuers[0]
    assert loaded.cluster_scoped is True
    assert loaded.namespace is None
    assert loaded.metadata.namespace is None
    assert loaded.key == "ClusterIssuer/ca"


def test_issuer_takes_the_default_namespace() -> None:
    from tests.unit.api.builders import load_text

    loaded = load_text(dump(issuer()), default_namespace="team-a").issuers[0]
    assert loaded.namespace == "team-a"
