"""Tables for ``certctl.inspection``: decoding files and secrets into a report."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certctl.endpoints import Endpoint, PresentedChain, parse_endpoint
from certctl.errors import InspectError
from certctl.inspection import (
    InspectRequest,
    TrustRoots,
    format_duration,
    format_time_left,
    hostname_matches,
    inspect_file_data,
    inspect_presented_chain,
    inspect_secret_data,
    inspect_target,
)
from certctl.pki.certificates import describe_certificate

NOW = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


# -- builders --------------------------------------------------------------------------


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def certificate(
    name: str,
    *,
    issuer: Issued | None = None,
    ca: bool = False,
    dns_names: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    not_before: dt.datetime = NOW - 10 * DAY,
    not_after: dt.datetime = NOW + 80 * DAY,
    rsa_key: bool = False,
) -> Issued:
    """A certificate named ``CN=name``, self-signed unless ``issuer`` is given."""
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if rsa_key:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    usage = dict.fromkeys(
        (
            "content_commitment",
            "data_encipherment",
            "key_agreement",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True,
            key_encipherment=not ca,
            key_cert_sign=ca,
            crl_sign=ca,
            **usage,
        ),
        critical=True,
    )
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


@dataclass
class Chain:
    root: Issued
    intermediate: Issued
    leaf: Issued


def chain(**leaf_options: object) -> Chain:
    root = certificate("Test Root", ca=True, not_after=NOW + 3650 * DAY)
    intermediate = certificate("Test Intermediate", issuer=root, ca=True)
    options: dict[str, object] = {"dns_names": ("app.example.com",), **leaf_options}
    leaf = certificate("app.example.com", issuer=intermediate, **options)  # type: ignore[arg-type]
    return Chain(root, intermediate, leaf)


@pytest.fixture(scope="module")
def pki() -> Chain:
    return chain()


# -- time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        pytest.param(dt.timedelta(days=89, hours=23, minutes=5), "89d 23h", id="days and hours"),
        pytest.param(dt.timedelta(days=3), "3d", id="a zero second unit is left out"),
        pytest.param(dt.timedelta(hours=5, minutes=12), "5h 12m", id="hours and minutes"),
        pytest.param(dt.timedelta(seconds=42), "42s", id="seconds alone"),
        pytest.param(dt.timedelta(0), "0s", id="nothing left"),
    ],
)
def test_format_duration(delta: dt.timedelta, expected: str) -> None:
    assert format_duration(delta) == expected


@pytest.mark.parametrize(
    ("not_before", "not_after", "expected"),
    [
        pytest.param(
            NOW - DAY,
            NOW + 89 * DAY + 23 * dt.timedelta(hours=1),
            "expires in 89d 23h",
            id="a valid certificate says when it expires",
        ),
        pytest.param(
            NOW - 90 * DAY,
            NOW - 3 * DAY,
            "EXPIRED 3d ago",
            id="an expired certificate says how long ago",
        ),
        pytest.param(
            NOW + 2 * dt.timedelta(hours=1),
            NOW + 90 * DAY,
            "NOT YET VALID (starts in 2h)",
            id="a future certificate says when it starts",
        ),
    ],
)
def test_format_time_left(not_before: dt.datetime, not_after: dt.datetime, expected: str) -> None:
    assert format_time_left(not_before, not_after, NOW) == expected


# -- hostname matching -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        pytest.param("app.example.com", True, id="an exact DNS name matches"),
        pytest.param("APP.Example.com.", True, id="case and a trailing dot do not matter"),
        pytest.param("x.wild.example.com", True, id="a wildcard covers one label"),
        pytest.param("a.b.wild.example.com", False, id="a wildcard does not cover two labels"),
        pytest.param("wild.example.com", False, id="a wildcard does not cover the bare domain"),
        pytest.param("other.example.com", False, id="another name does not match"),
        pytest.param("127.0.0.1", True, id="an IP matches an IP SAN"),
        pytest.param("::1", False, id="an IP not listed does not match"),
    ],
)
def test_hostname_matches(hostname: str, expected: bool) -> None:
    leaf = certificate(
        "app.example.com", dns_names=("app.example.com", "*.wild.example.com"), ips=("127.0.0.1",)
    )
    assert hostname_matches(describe_certificate(leaf.cert), hostname) is expected


# -- files -----------------------------------------------------------------------------


def test_pem_bundle_out_of_order_is_reported_leaf_first_and_verifies(pki: Chain) -> None:
    data = pki.root.pem + pki.leaf.pem + pki.intermediate.pem
    report = inspect_file_data("bundle.pem", data, now=NOW)
    assert report.kind == "file"
    assert report.format == "PEM"
    assert [c.info.common_name for c in report.certificates] == [
        "app.example.com",
        "Test Intermediate",
        "Test Root",
    ]
    assert [c.role for c in report.certificates] == ["leaf", "intermediate", "root"]
    assert report.chain.verified
    assert report.chain.problem == ""
    assert not report.chain.presented_in_order
    assert "chain itself" in report.chain.trusted_by
    assert report.key_matches is None


def test_pem_bundle_verifies_against_given_roots(pki: Chain) -> None:
    data = pki.leaf.pem + pki.intermediate.pem
    trust = TrustRoots([pki.root.cert], "--ca-file roots.pem")
    report = inspect_file_data("tls.crt", data, now=NOW, trust=trust)
    assert report.chain.verified
    assert report.chain.presented_in_order
    assert report.chain.trusted_by == "--ca-file roots.pem"


def test_chain_without_its_root_does_not_verify_against_other_roots(pki: Chain) -> None:
    other = certificate("Other Root", ca=True)
    trust = TrustRoots([other.cert], "--ca-file other.pem")
    report = inspect_file_data("tls.crt", pki.leaf.pem + pki.intermediate.pem, now=NOW, trust=trust)
    assert not report.chain.verified
    assert "Test Root" in report.chain.problem
    assert report.chain.problem[0].isupper()


def test_pem_with_a_private_key_checks_that_it_matches(pki: Chain) -> None:
    report = inspect_file_data("combined.pem", pki.leaf.key_pem + pki.leaf.pem, now=NOW)
    assert report.key_matches is True
    assert report.private_key == "ECDSA P-256"


def test_pem_with_another_private_key_is_a_mismatch(pki: Chain) -> None:
    report = inspect_file_data("combined.pem", pki.leaf.pem + pki.root.key_pem, now=NOW)
    assert report.key_matches is False
    assert any("does not belong" in note for note in report.notes)


def test_der_certificate(pki: Chain) -> None:
    report = inspect_file_data("leaf.der", pki.leaf.der, now=NOW)
    assert report.format == "DER"
    (only,) = report.certificates
    assert only.info.dns_names == ("app.example.com",)
    assert only.info.extended_key_usages


@pytest.mark.parametrize(
    ("password", "given", "name"),
    [
        pytest.param(
            None, None, "keystore.p12", id="unprotected keystore opens without a password"
        ),
        pytest.param(b"s3cret", b"s3cret", "keystore.p12", id="protected keystore opens with it"),
        pytest.param(b"s3cret", b"s3cret", "keystore.bin", id="PKCS#12 is detected without suffix"),
    ],
)
def test_pkcs12(pki: Chain, password: bytes | None, given: bytes | None, name: str) -> None:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    data = pkcs12.serialize_key_and_certificates(
        b"app", pki.leaf.key, pki.leaf.cert, [pki.intermediate.cert, pki.root.cert], encryption
    )
    report = inspect_file_data(name, data, now=NOW, password=given)
    assert report.format == "PKCS#12"
    assert len(report.certificates) == 3
    assert report.certificates[0].info.common_name == "app.example.com"
    assert report.key_matches is True
    assert report.chain.verified


def test_pkcs12_with_a_wrong_password_says_so(pki: Chain) -> None:
    data = pkcs12.serialize_key_and_certificates(
        b"app", pki.leaf.key, pki.leaf.cert, None, serialization.BestAvailableEncryption(b"right")
    )
    with pytest.raises(InspectError, match="password is wrong") as caught:
        inspect_file_data("keystore.p12", data, now=NOW, password=b"wrong")
    assert caught.value.exit_code == 2
    assert "--password" in caught.value.hint


def test_pkcs12_with_a_password_but_none_given(pki: Chain) -> None:
    data = pkcs12.serialize_key_and_certificates(
        b"app", pki.leaf.key, pki.leaf.cert, None, serialization.BestAvailableEncryption(b"right")
    )
    with pytest.raises(InspectError, match="empty password"):
        inspect_file_data("keystore.pfx", data, now=NOW)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        pytest.param(
            "garbage.bin",
            b"\x00\x01 not a certificate",
            "garbage.bin is binary data that is neither PEM nor DER, not a certificate",
            id="random bytes are not a certificate",
        ),
        pytest.param("empty.pem", b"", "empty.pem is empty, not a certificate", id="an empty file"),
        pytest.param(
            "broken.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "broken.pem has a PEM CERTIFICATE block whose contents do not decode",
            id="a damaged PEM block",
        ),
        pytest.param(
            "key.pem",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "key.pem holds a PRIVATE KEY block but no CERTIFICATE block",
            id="a key alone has no certificate",
        ),
        pytest.param(
            "junk.p12",
            b"junk",
            "junk.p12 is named like a PKCS#12 keystore but is text that is not PEM",
            id="a .p12 that is not PKCS#12",
        ),
    ],
)
def test_garbage_is_an_inspect_error(name: str, data: bytes, message: str) -> None:
    with pytest.raises(InspectError) as caught:
        inspect_file_data(name, data, now=NOW)
    assert message in caught.value.message
    assert "ParseError" not in caught.value.message
    assert caught.value.exit_code == 2


def test_expired_certificate(pki: Chain) -> None:
    expired = certificate(
        "old.example.com",
        issuer=pki.intermediate,
        not_before=NOW - 93 * DAY,
        not_after=NOW - 3 * DAY,
    )
    trust = TrustRoots([pki.root.cert], "roots")
    report = inspect_file_data("old.pem", expired.pem + pki.intermediate.pem, now=NOW, trust=trust)
    leaf = report.certificates[0]
    assert leaf.expired
    assert leaf.time_left == "EXPIRED 3d ago"
    assert leaf.seconds_left == -3 * 86400
    assert not report.chain.verified
    assert "expired" in report.chain.problem


def test_lone_self_signed_certificate_is_not_trusted_by_itself() -> None:
    alone = certificate("self.example.com", dns_names=("self.example.com",))
    report = inspect_file_data("self.pem", alone.pem, now=NOW, trust=TrustRoots([], "nothing"))
    assert report.certificates[0].info.self_signed
    assert not report.chain.verified
    assert "self-signed" in report.chain.problem


def test_unrelated_certificates_are_kept_as_given_with_a_problem(pki: Chain) -> None:
    stranger = certificate("stranger", dns_names=("stranger",))
    report = inspect_file_data("mixed.pem", pki.leaf.pem + stranger.pem, now=NOW)
    assert [c.info.common_name for c in report.certificates] == ["app.example.com", "stranger"]
    assert not report.chain.verified
    assert "single chain" in report.chain.problem


# -- secrets and folders ---------------------------------------------------------------


def test_secret_data_uses_ca_crt_and_checks_the_key(pki: Chain) -> None:
    annotations = {"cert-manager.io/certificate-name": "app", "other/annotation": "x"}
    report = inspect_secret_data(
        "secret/default/app-tls",
        "secret",
        {
            "tls.crt": pki.leaf.pem + pki.intermediate.pem,
            "tls.key": pki.leaf.key_pem,
            "ca.crt": pki.root.pem,
        },
        now=NOW,
        secret_type="kubernetes.io/tls",
        labels={"controller.cert-manager.io/fao": "true"},
        annotations=annotations,
    )
    assert report.chain.verified
    assert report.chain.trusted_by == "ca.crt"
    assert report.key_matches is True
    assert report.data_keys == ["ca.crt", "tls.crt", "tls.key"]
    assert report.cert_manager_annotations == {"cert-manager.io/certificate-name": "app"}
    document = report.to_dict()
    assert json.loads(json.dumps(document)) == document
    assert document["kind"] == "secret"
    assert document["labels"] == {"controller.cert-manager.io/fao": "true"}


def test_secret_with_a_key_from_another_issuance(pki: Chain) -> None:
    report = inspect_secret_data(
        "secret/default/app-tls",
        "secret",
        {"tls.crt": pki.leaf.pem, "tls.key": pki.intermediate.key_pem},
        now=NOW,
    )
    assert report.key_matches is False


def test_secret_with_an_undecodable_key(pki: Chain) -> None:
    report = inspect_secret_data(
        "secret/default/app-tls", "secret", {"tls.crt": pki.leaf.pem, "tls.key": b"nope"}, now=NOW
    )
    assert report.key_matches is False
    assert "tls.key is text that is not PEM (there is no -----BEGIN line), not a private key" in (
        " ".join(report.notes)
    )


def test_secret_without_tls_crt_lists_its_keys() -> None:
    with pytest.raises(InspectError, match=r"no tls\.crt .*tls\.key"):
        inspect_secret_data("secret/default/x", "secret", {"tls.key": b"k"}, now=NOW)


def test_directory_target_reads_files_and_metadata(tmp_path: Path, pki: Chain) -> None:
    folder = tmp_path / "default" / "app-tls"
    folder.mkdir(parents=True)
    (folder / "tls.crt").write_bytes(pki.leaf.pem + pki.intermediate.pem)
    (folder / "tls.key").write_bytes(pki.leaf.key_pem)
    (folder / "ca.crt").write_bytes(pki.root.pem)
    metadata = {
        "type": "kubernetes.io/tls",
        "labels": {},
        "annotations": {"cert-manager.io/x": "y"},
    }
    (folder / "..metadata.json").write_text(json.dumps(metadata))
    report = inspect_target(InspectRequest(str(folder)), open_store=None, now=NOW)
    assert report.kind == "directory"
    assert report.secret_type == "kubernetes.io/tls"
    assert report.annotations == {"cert-manager.io/x": "y"}
    assert report.data_keys == ["ca.crt", "tls.crt", "tls.key"]
    assert report.chain.verified
    assert report.key_matches is True


def test_missing_target_is_an_inspect_error(tmp_path: Path) -> None:
    with pytest.raises(InspectError, match="no such file"):
        inspect_target(InspectRequest(str(tmp_path / "nope.pem")), open_store=None, now=NOW)


def test_existing_path_wins_over_host_port(
    tmp_path: Path, pki: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("localhost:443").write_bytes(pki.leaf.pem)
    report = inspect_target(InspectRequest("localhost:443"), open_store=None, now=NOW)
    assert report.kind == "file"


# -- endpoints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("example.com:443", Endpoint("example.com", 443), id="host and port"),
        pytest.param("[::1]:8443", Endpoint("::1", 8443), id="a bracketed IPv6 address"),
        pytest.param("10.0.0.1:636", Endpoint("10.0.0.1", 636), id="an IPv4 address"),
        pytest.param("secret/app", None, id="a secret is not an endpoint"),
        pytest.param("example.com:70000", None, id="a port out of range"),
        pytest.param("[example.com]:443", None, id="brackets only around IPv6"),
        pytest.param("example.com", None, id="no port"),
    ],
)
def test_parse_endpoint(text: str, expected: Endpoint | None) -> None:
    assert parse_endpoint(text) == expected


def test_presented_chain_reports_hostname_and_verification(pki: Chain) -> None:
    presented = PresentedChain(
        endpoint=Endpoint("127.0.0.1", 8443),
        server_name="app.example.com",
        certificates=[pki.leaf.der, pki.intermediate.der],
        method="python-ssl",
        tls_version="TLSv1.3",
    )
    report = inspect_presented_chain(presented, now=NOW, trust=TrustRoots([pki.root.cert], "x"))
    assert report.kind == "endpoint"
    assert report.chain.verified
    assert report.endpoint is not None
    assert report.endpoint.hostname_matches
    document = report.to_dict()
    assert document["endpoint"]["serverName"] == "app.example.com"
    assert document["endpoint"]["hostnameMatches"] is True


def test_presented_chain_for_another_name(pki: Chain) -> None:
    presented = PresentedChain(
        endpoint=Endpoint("127.0.0.1", 8443),
        server_name="wrong.example.com",
        certificates=[pki.leaf.der],
    )
    report = inspect_presented_chain(presented, now=NOW, trust=TrustRoots([], "nothing"))
    assert report.endpoint is not None
    assert not report.endpoint.hostname_matches
    assert not report.chain.verified
