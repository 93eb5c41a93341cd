import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from certctl.acme.client import ACMEProblemError, Problem
from certctl.engine.backoff import compute_backoff_delay, compute_next_attempt, starts_backoff
from certctl.errors import (
    IssuanceError,
    IssuerNotReadyError,
    NotSupportedError,
    StoreError,
)

H = dt.timedelta(hours=1)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [
        pytest.param(0, dt.timedelta(0), id="no failures means no delay"),
        pytest.param(1, 1 * H, id="the first failure waits one hour"),
        pytest.param(2, 2 * H, id="the second failure waits two hours"),
        pytest.param(3, 4 * H, id="the third failure waits four hours"),
        pytest.param(6, 32 * H, id="the sixth failure reaches the 32 hour cap"),
        pytest.param(7, 32 * H, id="later failures stay at the cap"),
        pytest.param(500, 32 * H, id="a very long streak does not overflow"),
    ],
)
def test_backoff_delay_doubles_up_to_the_cap(attempts: int, delay: dt.timedelta) -> None:
    assert compute_backoff_delay(attempts) == delay


@pytest.mark.parametrize(
    ("attempts", "last_failure", "expected"),
    [
        pytest.param(0, T0, None, id="no failures means no backoff"),
        pytest.param(2, None, None, id="no failure time means no backoff"),
        pytest.param(3, T0, T0 + 4 * H, id="the next attempt is the last failure plus the delay"),
    ],
)
def test_next_attempt(
    attempts: int, last_failure: dt.datetime | None, expected: dt.datetime | None
) -> None:
    assert compute_next_attempt(attempts, last_failure) == expected


# -- which failures back off -------------------------------------------------------------
#
# Each case raises its error through the code that raises it in a real run (the CA
# issuer, the ACME issuer, the rfc2136 provider), with the Secrets the case describes.

CA_NAMESPACE = "cert-manager"


def _self_signed_pem(*, is_ca: bool) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test ca")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(T0)
        .not_valid_after(T0 + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _request(issuer_config: dict[str, Any], secrets: dict[str, dict[str, bytes]]) -> Any:
    """A CertificateRequest for a ClusterIssuer whose Secrets are ``secrets`` (name -> data)."""
    from certctl.api.models import Issuer, IssuerSpec, ObjectMeta, Source
    from certctl.issuers.base import CertificateRequest
    from certctl.pki.csr import build_csr
    from certctl.pki.keys import generate_private_key
    from certctl.stores.base import SecretRecord
    from tests.unit.engine.builders import certificate

    (kind,) = issuer_config
    issuer = Issuer(
        metadata=ObjectMeta(name="test"),
        spec=IssuerSpec(type=kind, config=issuer_config[kind]),
        source=Source("issuers.yaml", 1),
        cluster_scoped=True,
    )
    cert = certificate()
    key = generate_private_key(cert.spec.private_key)

    def read_secret(namespace: str, name: str) -> SecretRecord | None:
        data = secrets.get(name) if namespace == CA_NAMESPACE else None
        return None if data is None else SecretRecord(namespace=namespace, name=name, data=data)

    return CertificateRequest(
        certificate=cert,
        issuer=issuer,
        csr=build_csr(cert.spec, key),
        private_key=key,
        duration=dt.timedelta(days=1),
        is_ca=False,
        usages=("digital signature", "key encipherment"),
        issuer_secret_namespace=CA_NAMESPACE,
        read_secret=read_secret,
        now=T0,
    )


def _sign_with_ca(secrets: dict[str, dict[str, bytes]]) -> None:
    from certctl.issuers.ca import CAIssuer

    CAIssuer().issue(_request({"ca": {"secretName": "ca"}}, secrets))


def _ca_keypair(*, is_ca: bool = True, drop: str = "") -> dict[str, dict[str, bytes]]:
    crt, key = _self_signed_pem(is_ca=is_ca)
    data = {"tls.crt": crt, "tls.key": key}
    data.pop(drop, None)
    return {"ca": data}


def _mismatched_ca_keypair() -> dict[str, dict[str, bytes]]:
    crt, _ = _self_signed_pem(is_ca=True)
    _, other_key = _self_signed_pem(is_ca=True)
    return {"ca": {"tls.crt": crt, "tls.key": other_key}}


ACME_CONFIG: dict[str, Any] = {
    "server": "https://127.0.0.1:9/directory",
    "privateKeySecretRef": {"name": "account"},
}
EAB = {"keyID": "kid-1", "keySecretRef": {"name": "eab", "key": "secret"}}


def _read_eab_key(secrets: dict[str, dict[str, bytes]]) -> None:
    from certctl.issuers.acme import _eab_key

    _eab_key(_request({"acme": {**ACME_CONFIG, "externalAccountBinding": EAB}}, secrets), EAB)


def _read_account_key(secrets: dict[str, dict[str, bytes]], **config: Any) -> None:
    from certctl.issuers.acme import _account_key, _check_account_key

    full = {**ACME_CONFIG, **config}
    request = _request({"acme": full}, secrets)
    _check_account_key(request, full, _account_key(request, full))


def _read_tsig_key(secrets: dict[str, dict[str, bytes]]) -> None:
    from certctl.acme.settings import ACMESettings
    from certctl.acme.solvers.base import SolverContext
    from certctl.acme.solvers.rfc2136 import RFC2136Provider

    request = _request({"acme": ACME_CONFIG}, secrets)
    context = SolverContext(
        secret_namespace=CA_NAMESPACE,
        read_secret=request.read_secret,
        settings=ACMESettings(),
        issuer="ClusterIssuer/test",
    )
    config = {
        "nameserver": "127.0.0.1:53",
        "tsigKeyName": "certctl",
        "tsigSecretSecretRef": {"name": "tsig", "key": "secret"},
    }
    RFC2136Provider(config, context)._tsig_key()


def _raise(error: BaseException) -> Callable[[], None]:
    def fail() -> None:
        raise error

    return fail


BACKOFF_CASES = [
    pytest.param(
        lambda: _sign_with_ca({}),
        False,
        id="a CA keypair Secret that does not exist leaves the issuer not ready",
    ),
    pytest.param(
        lambda: _sign_with_ca(_ca_keypair(drop="tls.key")),
        False,
        id="a CA Secret without tls.key leaves the issuer not ready",
    ),
    pytest.param(
        lambda: _sign_with_ca({"ca": {"tls.crt": b"junk", "tls.key": b"junk"}}),
        False,
        id="a CA Secret that does not decode leaves the issuer not ready",
    ),
    pytest.param(
        lambda: _sign_with_ca(_mismatched_ca_keypair()),
        False,
        id="a CA Secret whose key does not match its certificate leaves the issuer not ready",
    ),
    pytest.param(
        lambda: _sign_with_ca(_ca_keypair(is_ca=False)),
        False,
        id="a CA Secret whose certificate is not a CA leaves the issuer not ready",
    ),
    pytest.param(
        lambda: _read_eab_key({}),
        False,
        id="an EAB key Secret that does not exist leaves the issuer not ready",
    ),
    pytest.param(
        lambda: _read_eab_key({"eab": {"secret": b"not base64url!"}}),
        False,
        id="an EAB key that is not base64url leaves the issuer not ready",
    ),
    pytest.param(
        lambda: _read_account_key({}, disableAccountKeyGeneration=True),
        False,
        id="a missing account key with disableAccountKeyGeneration leaves the issuer not ready",
    ),
    pytest.param(
        lambda: _read_account_key({"account": {"tls.key": b"not a key"}}),
        False,
        id="an account key Secret that does not decode leaves the issuer not ready",
    ),
    pytest.param(
        lambda: _read_tsig_key({}),
        False,
        id="a TSIG Secret that does not exist leaves the issuer not ready",
    ),
    pytest.param(
        lambda: _read_tsig_key({"tsig": {"secret": b"%%% not base64 %%%"}}),
        False,
        id="a TSIG Secret that is not base64 leaves the issuer not ready",
    ),
    pytest.param(
        lambda: _read_tsig_key({"tsig": {"other": b"c2VjcmV0"}}),
        False,
        id="a TSIG Secret without the referenced key leaves the issuer not ready",
    ),
    pytest.param(
        _raise(IssuanceError("the CA could not sign", reason="SigningError")),
        True,
        id="a CA that cannot sign is a failed issuance",
    ),
    pytest.param(
        _raise(
            ACMEProblemError(
                "Finalizing the order",
                Problem("urn:ietf:params:acme:error:rejectedIdentifier", "no such domain"),
            )
        ),
        True,
        id="an ACME server that refuses the order is a failed issuance",
    ),
    pytest.param(
        _raise(IssuanceError("unreachable", reason="ACMEServerUnreachable", retryable=True)),
        True,
        id="an ACME server that cannot be reached is a failed issuance",
    ),
    pytest.param(
        _raise(IssuanceError("SecretMissing", reason="SecretMissing")),
        True,
        id="the error's class decides, not a reason that sounds like a missing Secret",
    ),
    pytest.param(
        _raise(NotSupportedError("Vault is not supported yet")),
        True,
        id="an issuer type certctl cannot use yet is a failed issuance",
    ),
    pytest.param(
        _raise(StoreError("the store refused the write")),
        True,
        id="a store that refuses the new Secret backs off (issuing again would not help)",
    ),
    pytest.param(
        _raise(RuntimeError("a bug")),
        True,
        id="a crash inside certctl backs off",
    ),
]


@pytest.mark.parametrize(("attempt", "backs_off"), BACKOFF_CASES)
def test_which_failures_start_backoff(attempt: Callable[[], None], backs_off: bool) -> None:
    with pytest.raises(Exception) as caught:
        attempt()

    assert starts_backoff(caught.value) is backs_off
    if not backs_off:
        assert isinstance(caught.value, IssuerNotReadyError)
        assert caught.value.exit_code == 1


# -- what a failure depends on -----------------------------------------------------------


def _issuer(kind: str, config: dict[str, Any]) -> Any:
    from certctl.api.models import Issuer, IssuerSpec, ObjectMeta, Source

    return Issuer(
        metadata=ObjectMeta(name="test", namespace="apps"),
        spec=IssuerSpec(type=kind, config=config),
        source=Source("issuers.yaml", 1),
    )


@pytest.mark.parametrize(
    ("kind", "config", "secrets"),
    [
        pytest.param("selfSigned", {}, [], id="a selfSigned issuer reads no Secret"),
        pytest.param("ca", {"secretName": "root"}, ["root"], id="a CA issuer reads its keypair"),
        pytest.param(
            "acme",
            {
                "server": "https://acme.example/directory",
                "privateKeySecretRef": {"name": "account"},
                "externalAccountBinding": {
                    "keyID": "kid",
                    "keySecretRef": {"name": "eab", "key": "secret"},
                },
                "solvers": [
                    {"http01": {"standalone": {}}},
                    {
                        "dns01": {
                            "rfc2136": {
                                "nameserver": "192.0.2.1",
                                "tsigKeyName": "k",
                                "tsigSecretSecretRef": {"name": "tsig", "key": "s"},
                            }
                        }
                    },
                    {"dns01": {"cloudflare": {"apiTokenSecretRef": {"name": "cf", "key": "t"}}}},
                ],
            },
            ["account", "cf", "eab", "tsig"],
            id="an ACME issuer reads its account key, EAB key and every solver's credentials",
        ),
        pytest.param(
            "vault",
            {
                "server": "https://vault.example",
                "path": "pki/sign/web",
                "auth": {"appRole": {"roleId": "r", "secretRef": {"name": "approle", "key": "s"}}},
            },
            ["approle"],
            id="a Vault issuer reads its AppRole secret",
        ),
        pytest.param(
            "venafi",
            {"zone": "z", "tpp": {"url": "https://tpp.example", "credentialsRef": {"name": "tpp"}}},
            ["tpp"],
            id="a Venafi issuer reads its credentials",
        ),
    ],
)
def test_the_secrets_a_failure_depends_on(
    kind: str, config: dict[str, Any], secrets: list[str]
) -> None:
    from certctl.engine.reconcile import issuer_secret_references

    assert issuer_secret_references(_issuer(kind, config), "apps") == [
        ("apps", name) for name in secrets
    ]


def test_an_account_key_that_does_not_decode_is_described_without_parser_text() -> None:
    from certctl.errors import IssuerNotReadyError

    with pytest.raises(IssuerNotReadyError) as caught:
        _read_account_key({"account": {"tls.key": b"-----BEGIN PRIVATE KEY-----\nAAAA\n"}})

    message = caught.value.message
    assert "the ACME account key in secret" in message
    assert "cut short" in message
    for parser_text in ("MalformedFraming", "ParseError", "Unable to load PEM"):
        assert parser_text not in message
