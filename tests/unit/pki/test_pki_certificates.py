"""certctl.pki.certificates: parsing, chain ordering, verification and description."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certctl.api.models import OtherName, X509Subject
from certctl.pki.certificates import (
    certificate_annotations,
    describe_certificate,
    encode_pem,
    join_csv,
    order_chain,
    parse_pem_certificates,
    verify_chain,
)
from tests.unit.pki.builders import (
    NOW,
    Authority,
    cached_key,
    certificate_spec,
    make_authority,
    make_intermediate,
    self_signed,
)


@pytest.fixture(scope="module")
def leaf(intermediate: Authority) -> x509.Certificate:
    return intermediate.issue(certificate_spec(common_name="leaf.example.com"))


def test_parse_pem_certificates_reads_every_block(root: Authority, intermediate: Authority) -> None:
    data = b"junk before\n" + encode_pem([intermediate.certificate, root.certificate])
    assert parse_pem_certificates(data) == [intermediate.certificate, root.certificate]


def test_parse_pem_certificates_accepts_one_der_certificate(root: Authority) -> None:
    der = root.certificate.public_bytes(serialization.Encoding.DER)
    assert parse_pem_certificates(der) == [root.certificate]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            b"", "tls.crt is empty, not a certificate", id="empty data has no certificate"
        ),
        pytest.param(
            b"garbage",
            "tls.crt is text that is not PEM (there is no -----BEGIN line), not a certificate",
            id="garbage is text that is not PEM",
        ),
        pytest.param(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "tls.crt has a PEM CERTIFICATE block whose contents do not decode as an X.509 "
            "certificate",
            id="a broken PEM block is refused",
        ),
        pytest.param(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "tls.crt holds a PRIVATE KEY block but no CERTIFICATE block",
            id="a key alone has no certificate",
        ),
        pytest.param(
            cached_key("ECDSA", 256).private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "tls.crt is a DER-encoded PKCS#8 private key (ECDSA P-256), not a certificate",
            id="a DER key is named as such",
        ),
    ],
)
def test_parse_pem_certificates_says_what_the_data_is(data: bytes, expected: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_pem_certificates(data, source="tls.crt")
    assert expected in str(caught.value)
    assert "ParseError" not in str(caught.value)


def test_a_truncated_second_certificate_is_an_error_not_dropped(
    root: Authority, intermediate: Authority
) -> None:
    data = encode_pem([intermediate.certificate]) + encode_pem([root.certificate])[:200]
    with pytest.raises(ValueError, match=r"^certificate 2 of tls\.crt is cut short"):
        parse_pem_certificates(data, source="tls.crt")


def test_order_chain_orders_and_dedupes(
    root: Authority, intermediate: Authority, leaf: x509.Certificate
) -> None:
    parts = order_chain([root.certificate, leaf, intermediate.certificate, leaf])
    assert parts.leaf == leaf
    assert parts.intermediates == [intermediate.certificate]
    assert parts.root == root.certificate
    assert parts.chain == [leaf, intermediate.certificate]
    assert parts.top == root.certificate


def test_order_chain_without_a_root_tops_out_at_the_intermediate(
    intermediate: Authority, leaf: x509.Certificate
) -> None:
    parts = order_chain([intermediate.certificate, leaf])
    assert parts.root is None
    assert parts.chain == [leaf, intermediate.certificate]
    assert parts.top == intermediate.certificate


def test_order_chain_of_one_self_signed_certificate(root: Authority) -> None:
    parts = order_chain([root.certificate])
    assert parts.leaf == root.certificate
    assert parts.root == root.certificate
    assert parts.chain == [root.certificate]


def test_order_chain_refuses_unrelated_certificates(
    root: Authority, leaf: x509.Certificate
) -> None:
    other = make_authority("Other Root")
    with pytest.raises(ValueError, match="do not form a single chain"):
        order_chain([leaf, other.certificate])
    with pytest.raises(ValueError, match="do not form a single chain"):
        order_chain([leaf, root.certificate])  # the intermediate is missing
    with pytest.raises(ValueError, match="no certificates"):
        order_chain([])


def test_verify_chain_accepts_a_good_path(
    root: Authority, intermediate: Authority, leaf: x509.Certificate
) -> None:
    at = NOW + dt.timedelta(days=1)
    assert verify_chain(leaf, [intermediate.certificate], [root.certificate], at).ok
    # A trusted intermediate is a trust anchor too.
    assert verify_chain(leaf, [], [intermediate.certificate], at).ok
    # A self-signed certificate in the trust roots verifies itself.
    assert verify_chain(root.certificate, [], [root.certificate], at).ok


@pytest.mark.parametrize(
    ("at", "problem"),
    [
        pytest.param(
            NOW - dt.timedelta(days=1),
            "is not valid until",
            id="a certificate is not valid before notBefore",
        ),
        pytest.param(
            NOW + dt.timedelta(days=91),
            "expired on",
            id="a certificate is not valid after notAfter",
        ),
    ],
)
def test_verify_chain_checks_validity(
    root: Authority,
    intermediate: Authority,
    leaf: x509.Certificate,
    at: dt.datetime,
    problem: str,
) -> None:
    result = verify_chain(leaf, [intermediate.certificate], [root.certificate], at)
    assert not result.ok
    assert problem in result.problem
    assert "leaf.example.com" in result.problem


def test_verify_chain_needs_a_trusted_root(
    root: Authority, intermediate: Authority, leaf: x509.Certificate
) -> None:
    other = make_authority("Other Root")
    at = NOW + dt.timedelta(days=1)
    result = verify_chain(leaf, [intermediate.certificate], [other.certificate], at)
    assert not result.ok
    assert "Test Root CA" in result.problem and "neither a trusted root" in result.problem
    lonely = verify_chain(root.certificate, [], [other.certificate], at)
    assert "self-signed certificate 'CN=Test Root CA' is not a trusted root" in lonely.problem


def test_verify_chain_refuses_a_non_ca_issuer(root: Authority) -> None:
    key = cached_key("ECDSA", 256)
    not_a_ca = Authority(key, root.issue(certificate_spec(common_name="Not A CA"), key=key))
    child = not_a_ca.issue(certificate_spec(common_name="child"), key=cached_key("ECDSA", 384))
    result = verify_chain(
        child, [not_a_ca.certificate], [root.certificate], NOW + dt.timedelta(hours=1)
    )
    assert not result.ok
    assert "'CN=Not A CA' is not a CA certificate" in result.problem


def test_verify_chain_reports_a_bad_signature(root: Authority) -> None:
    impostor = make_authority("Test Root CA")  # same name, different key
    child = impostor.issue(certificate_spec(common_name="child"))
    result = verify_chain(child, [], [root.certificate], NOW + dt.timedelta(hours=1))
    assert not result.ok
    assert "does not verify with the key of 'CN=Test Root CA'" in result.problem


def test_describe_certificate(intermediate: Authority, openssl: str, tmp_path: Path) -> None:
    spec = certificate_spec(
        common_name="web.example.com",
        dns_names=("web.example.com",),
        ip_addresses=("2001:db8::1", "192.0.2.1"),
        uris=("spiffe://example/web",),
        email_addresses=("ops@example.com",),
        other_names=(OtherName("1.3.6.1.4.1.311.20.2.3", "upn@example.com"),),
        usages=("signing", "key encipherment", "server auth", "s/mime"),
        subject=X509Subject(organizations=("Org",), countries=("GB",), serial_number="42"),
    )
    cert = intermediate.issue(
        spec, ocsp_servers=("http://ocsp",), crl_distribution_points=("http://crl",)
    )
    info = describe_certificate(cert)
    assert info.common_name == "web.example.com"
    assert info.subject == "SERIALNUMBER=42,CN=web.example.com,O=Org,C=GB".replace(
        "SERIALNUMBER", "2.5.4.5"
    )
    assert info.dns_names == ("web.example.com",)
    assert info.ip_addresses == ("2001:db8::1", "192.0.2.1")
    assert info.uris == ("spiffe://example/web",)
    assert info.email_addresses == ("ops@example.com",)
    assert info.other_names == (("1.3.6.1.4.1.311.20.2.3", "upn@example.com"),)
    assert info.issuer_common_name == "Test Intermediate CA"
    assert info.serial == format(cert.serial_number, "x")
    assert info.not_before == NOW and info.lifetime == dt.timedelta(days=90)
    assert info.not_before.tzinfo is dt.UTC
    assert not info.is_ca and not info.self_signed
    assert info.key_usages == ("digital signature", "key encipherment")
    assert info.extended_key_usages == ("server auth", "email protection")
    assert info.public_key == "ECDSA P-256"
    assert info.signature_algorithm == "ECDSAWithSHA256"
    assert info.organizations == ("Org",) and info.countries == ("GB",)
    assert info.subject_serial_number == "42"
    assert info.ocsp_servers == ("http://ocsp",) and info.crl_distribution_points == ("http://crl",)

    path = tmp_path / "cert.pem"
    path.write_bytes(encode_pem([cert]))
    for digest, value in (("-sha256", info.sha256_fingerprint), ("-sha1", info.sha1_fingerprint)):
        output = subprocess.run(
            [openssl, "x509", "-noout", "-fingerprint", digest, "-in", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert output.strip().split("=", 1)[1] == value


def test_describe_self_signed_ca(root: Authority) -> None:
    info = describe_certificate(root.certificate)
    assert info.is_ca and info.self_signed
    assert info.key_usages == ("cert sign", "crl sign")
    assert info.public_key == "ECDSA P-384"
    assert info.signature_algorithm == "ECDSAWithSHA384"


def test_annotations_always_carry_the_name_keys() -> None:
    cert = self_signed(certificate_spec(uris=("spiffe://a",)), cached_key())
    assert certificate_annotations(cert) == {
        "cert-manager.io/common-name": "",
        "cert-manager.io/alt-names": "",
        "cert-manager.io/ip-sans": "",
        "cert-manager.io/uri-sans": "spiffe://a",
    }


def test_annotations_add_subject_details_when_present(root: Authority) -> None:
    spec = certificate_spec(
        common_name="web",
        dns_names=("a.example.com", "b.example.com"),
        ip_addresses=("10.0.0.1", "::1"),
        email_addresses=("a@example.com",),
        subject=X509Subject(
            organizations=("Example, Inc.", "Other"),
            organizational_units=("Ops",),
            countries=("US",),
            provinces=("CA",),
            localities=("San Francisco",),
            postal_codes=("94105",),
            street_addresses=('1 "Main" St',),
            serial_number="SN1",
        ),
    )
    annotations = certificate_annotations(root.issue(spec))
    # Both organizations share one multi-valued RDN, a DER SET whose members are
    # sorted by encoding (Go sorts SET OF the same way), so the shorter one is first.
    assert annotations == {
        "cert-manager.io/common-name": "web",
        "cert-manager.io/alt-names": "a.example.com,b.example.com",
        "cert-manager.io/ip-sans": "10.0.0.1,::1",
        "cert-manager.io/uri-sans": "",
        "cert-manager.io/email-sans": "a@example.com",
        "cert-manager.io/subject-organizations": 'Other,"Example, Inc."',
        "cert-manager.io/subject-organizationalunits": "Ops",
        "cert-manager.io/subject-countries": "US",
        "cert-manager.io/subject-provinces": "CA",
        "cert-manager.io/subject-localities": "San Francisco",
        "cert-manager.io/subject-postalcodes": "94105",
        "cert-manager.io/subject-streetaddresses": '"1 ""Main"" St"',
        "cert-manager.io/subject-serialnumber": "SN1",
    }


@pytest.mark.parametrize(
    ("values", "joined"),
    [
        pytest.param([], "", id="no values join to an empty string"),
        pytest.param(["a", "b"], "a,b", id="plain values are joined with commas"),
        pytest.param(["a,b"], '"a,b"', id="a comma forces quotes"),
        pytest.param(['say "hi"'], '"say ""hi"""', id="quotes are doubled inside quotes"),
        pytest.param([" lead"], '" lead"', id="a leading space forces quotes"),
        pytest.param(["trail "], "trail ", id="a trailing space does not"),
        pytest.param(["line\nbreak"], '"line\nbreak"', id="a newline forces quotes"),
        pytest.param(["", "x"], ",x", id="empty fields stay bare"),
        pytest.param(["\\."], '"\\."', id="a lone backslash-dot is quoted like Go does"),
    ],
)
def test_join_csv_matches_go_encoding_csv(values: list[str], joined: str) -> None:
    assert join_csv(values) == joined


def test_intermediate_builders_chain(root: Authority) -> None:
    second = make_intermediate(root, "Second Intermediate")
    assert verify_chain(second.certificate, [], [root.certificate], NOW + dt.timedelta(days=1)).ok
