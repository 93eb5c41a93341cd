"""certctl.pki.signing: certificates as cert-manager's CA and SelfSigned issuers make them."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, ExtensionOID

from certctl.api.models import NameConstraintItem, NameConstraints, OtherName
from certctl.pki.certificates import encode_pem
from certctl.pki.csr import build_csr
from certctl.pki.keys import public_keys_equal
from certctl.pki.signing import sign_certificate, signature_hash
from tests.unit.pki.builders import (
    NOW,
    Authority,
    cached_key,
    certificate_spec,
    make_authority,
    make_intermediate,
    self_signed,
)


def _ext(cert: x509.Certificate, kind: type) -> x509.Extension:  # type: ignore[type-arg]
    return cert.extensions.get_extension_for_class(kind)


def test_leaf_from_a_ca_verifies_with_openssl(openssl: str, tmp_path: Path) -> None:
    # openssl verifies at the real current time, so this chain starts now.
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    root = make_authority("Verify Root", not_before=now)
    intermediate = make_intermediate(root, "Verify Intermediate", not_before=now)
    spec = certificate_spec(
        common_name="web.example.com",
        dns_names=("web.example.com", "www.example.com"),
        ip_addresses=("192.0.2.10",),
        usages=("digital signature", "key encipherment", "server auth"),
    )
    now = dt.datetime.now(dt.UTC)
    leaf = intermediate.issue(
        spec, key=cached_key("RSA", 2048), not_before=now - dt.timedelta(minutes=1)
    )
    (tmp_path / "root.pem").write_bytes(encode_pem([root.certificate]))
    (tmp_path / "chain.pem").write_bytes(encode_pem([intermediate.certificate]))
    (tmp_path / "leaf.pem").write_bytes(encode_pem([leaf]))
    result = subprocess.run(
        [
            openssl,
            "verify",
            "-CAfile",
            str(tmp_path / "root.pem"),
            "-untrusted",
            str(tmp_path / "chain.pem"),
            "-purpose",
            "sslserver",
            "-x509_strict",
            "-verify_hostname",
            "www.example.com",
            "-verify_ip",
            "192.0.2.10",
            str(tmp_path / "leaf.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("OK")


def test_leaf_has_the_extensions_cert_manager_writes(intermediate: Authority) -> None:
    spec = certificate_spec(
        common_name="web.example.com",
        dns_names=("web.example.com",),
        usages=("digital signature", "key encipherment", "server auth", "client auth"),
    )
    key = cached_key()
    leaf = intermediate.issue(spec, key=key)
    assert leaf.subject == build_csr(spec, key).subject
    assert leaf.issuer == intermediate.certificate.subject
    assert public_keys_equal(leaf.public_key(), key)

    basic = _ext(leaf, x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False and basic.value.path_length is None
    key_usage = _ext(leaf, x509.KeyUsage)
    assert key_usage.critical
    assert key_usage.value.digital_signature and key_usage.value.key_encipherment
    assert not key_usage.value.key_cert_sign
    extended = _ext(leaf, x509.ExtendedKeyUsage)
    assert not extended.critical
    assert list(extended.value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    san = _ext(leaf, x509.SubjectAlternativeName)
    assert not san.critical
    assert san.value.get_values_for_type(x509.DNSName) == ["web.example.com"]

    ca_ski = _ext(intermediate.certificate, x509.SubjectKeyIdentifier).value
    assert _ext(leaf, x509.AuthorityKeyIdentifier).value.key_identifier == ca_ski.digest
    assert _ext(leaf, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(
        key.public_key()
    )
    assert 0 < leaf.serial_number < 2**128
    leaf.verify_directly_issued_by(intermediate.certificate)


def test_validity_is_now_plus_duration_and_not_clamped_to_the_ca(root: Authority) -> None:
    # The root lives 365 days; cert-manager still issues a 2-year certificate from it.
    leaf = root.issue(certificate_spec(common_name="long"), duration=dt.timedelta(days=730))
    assert leaf.not_valid_before_utc == NOW
    assert leaf.not_valid_after_utc == NOW + dt.timedelta(days=730)
    assert leaf.not_valid_after_utc > root.certificate.not_valid_after_utc


def test_serial_numbers_are_random(root: Authority) -> None:
    spec = certificate_spec(common_name="x")
    serials = {root.issue(spec).serial_number for _ in range(5)}
    assert len(serials) == 5


def test_ca_certificate_gets_cert_sign_and_ca_true(root: Authority) -> None:
    spec = certificate_spec(common_name="Sub CA", is_ca=True, usages=("digital signature",))
    cert = root.issue(spec)
    assert _ext(cert, x509.BasicConstraints).value.ca is True
    assert _ext(cert, x509.KeyUsage).value.key_cert_sign


def test_self_signed_certificate_names_and_identifies_itself() -> None:
    key = cached_key("Ed25519", 0)
    cert = self_signed(certificate_spec(common_name="self", is_ca=True), key)
    assert cert.issuer == cert.subject
    ski = _ext(cert, x509.SubjectKeyIdentifier).value
    assert _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest
    assert cert.signature_hash_algorithm is None
    cert.verify_directly_issued_by(cert)


def test_self_signing_with_another_key_is_refused() -> None:
    csr = build_csr(certificate_spec(common_name="x"), cached_key("ECDSA", 256))
    with pytest.raises(ValueError, match="does not match the public key in the request"):
        sign_certificate(
            csr,
            signing_key=cached_key("ECDSA", 384),
            issuer_certificate=None,
            not_before=NOW,
            duration=dt.timedelta(hours=1),
            is_ca=False,
            usages=(),
        )


@pytest.mark.parametrize(
    ("csr_usages", "requested", "message"),
    [
        pytest.param(
            ("digital signature",),
            ("digital signature", "key encipherment"),
            "key usages in the request",
            id="key usages in the CSR must equal the requested ones",
        ),
        pytest.param(
            ("digital signature", "server auth"),
            ("digital signature", "client auth"),
            "extended key usages in the request",
            id="extended key usages in the CSR must equal the requested ones",
        ),
    ],
)
def test_csr_usages_must_match_the_request(
    root: Authority, csr_usages: tuple[str, ...], requested: tuple[str, ...], message: str
) -> None:
    csr = build_csr(certificate_spec(common_name="x", usages=csr_usages), cached_key())
    with pytest.raises(ValueError, match=message):
        sign_certificate(
            csr,
            signing_key=root.key,
            issuer_certificate=root.certificate,
            not_before=NOW,
            duration=dt.timedelta(hours=1),
            is_ca=False,
            usages=requested,
        )


def test_csr_without_usages_takes_the_requested_ones(root: Authority) -> None:
    csr = build_csr(
        certificate_spec(common_name="x", usages=("client auth",), encode_usages_in_request=False),
        cached_key(),
    )
    cert = sign_certificate(
        csr,
        signing_key=root.key,
        issuer_certificate=root.certificate,
        not_before=NOW,
        duration=dt.timedelta(hours=1),
        is_ca=False,
        usages=("client auth",),
    )
    assert list(_ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert ExtensionOID.KEY_USAGE not in {ext.oid for ext in cert.extensions}


def test_san_is_critical_when_the_subject_is_empty(root: Authority) -> None:
    cert = root.issue(
        certificate_spec(
            dns_names=("a.example.com",),
            other_names=(OtherName("1.3.6.1.4.1.311.20.2.3", "upn@example.com"),),
        )
    )
    san = _ext(cert, x509.SubjectAlternativeName)
    assert san.critical
    others = [n for n in san.value if isinstance(n, x509.OtherName)]
    assert others[0].value == b"\x0c\x0fupn@example.com"


def test_name_constraints_are_copied_from_the_request(root: Authority) -> None:
    spec = certificate_spec(
        common_name="Constrained",
        is_ca=True,
        name_constraints=NameConstraints(
            critical=True, permitted=NameConstraintItem(dns_domains=("example.com",))
        ),
    )
    cert = root.issue(spec)
    constraints = _ext(cert, x509.NameConstraints)
    assert constraints.critical
    assert [n.value for n in constraints.value.permitted_subtrees] == ["example.com"]


def test_issuer_urls_are_embedded(root: Authority) -> None:
    cert = root.issue(
        certificate_spec(common_name="x"),
        crl_distribution_points=("http://crl.example.com/a.crl", "http://crl2.example.com/a.crl"),
        ocsp_servers=("http://ocsp.example.com",),
        issuing_certificate_urls=("http://ca.example.com/ca.crt",),
    )
    points = _ext(cert, x509.CRLDistributionPoints).value
    # Go writes one distribution point per URL.
    assert [[n.value for n in p.full_name] for p in points] == [
        ["http://crl.example.com/a.crl"],
        ["http://crl2.example.com/a.crl"],
    ]
    access = _ext(cert, x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in access] == [
        (AuthorityInformationAccessOID.OCSP, "http://ocsp.example.com"),
        (AuthorityInformationAccessOID.CA_ISSUERS, "http://ca.example.com/ca.crt"),
    ]


@pytest.mark.parametrize(
    ("requested", "algorithm", "size", "expected"),
    [
        pytest.param(
            "", "ECDSA", 384, hashes.SHA384, id="no algorithm uses the signing key default"
        ),
        pytest.param(
            "ECDSAWithSHA512", "ECDSA", 384, hashes.SHA512, id="a fitting algorithm is used"
        ),
        pytest.param(
            "SHA512WithRSA",
            "ECDSA",
            256,
            hashes.SHA256,
            id="an algorithm of another family falls back to the default",
        ),
        pytest.param(
            "SHA384WithRSA", "RSA", 2048, hashes.SHA384, id="an RSA algorithm on an RSA CA is used"
        ),
        pytest.param(
            "ECDSAWithSHA256", "Ed25519", 0, type(None), id="an Ed25519 CA always signs PureEd25519"
        ),
    ],
)
def test_signature_hash(requested: str, algorithm: str, size: int, expected: type) -> None:
    assert isinstance(signature_hash(requested, cached_key(algorithm, size)), expected)


def test_rsa_ca_signs_with_its_default_hash() -> None:
    key = cached_key("RSA", 3072)
    ca = Authority(key, self_signed(certificate_spec(common_name="RSA CA", is_ca=True), key))
    leaf = ca.issue(certificate_spec(common_name="x"))
    assert isinstance(leaf.signature_hash_algorithm, hashes.SHA384)
