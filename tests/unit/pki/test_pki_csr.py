"""certctl.pki.csr: the CSR cert-manager's requestmanager would build (§1.13)."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, ObjectIdentifier

from certctl.api.models import (
    NameConstraintItem,
    NameConstraints,
    OtherName,
    X509Subject,
)
from certctl.pki.csr import (
    build_csr,
    build_subject,
    extended_key_usage_name,
    hash_for_signature_algorithm,
    key_usage_names,
    split_usages,
    utf8_string_der,
)
from tests.unit.pki.builders import cached_key, certificate_spec


def _oids(name: x509.Name) -> list[ObjectIdentifier]:
    return [attr.oid for attr in name]


def test_subject_fields_follow_go_pkix_name_order() -> None:
    spec = certificate_spec(
        common_name="web.example.com",
        subject=X509Subject(
            organizations=("Example Org", "Second Org"),
            countries=("GB",),
            organizational_units=("Platform",),
            localities=("London",),
            provinces=("Greater London",),
            street_addresses=("1 Main Street",),
            postal_codes=("EC1A 1BB",),
            serial_number="1234",
        ),
    )
    subject = build_subject(spec)
    # Go's pkix.Name.ToRDNSequence: C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER.
    assert [next(iter(rdn)).oid for rdn in subject.rdns] == [
        NameOID.COUNTRY_NAME,
        NameOID.STATE_OR_PROVINCE_NAME,
        NameOID.LOCALITY_NAME,
        NameOID.STREET_ADDRESS,
        NameOID.POSTAL_CODE,
        NameOID.ORGANIZATION_NAME,
        NameOID.ORGANIZATIONAL_UNIT_NAME,
        NameOID.COMMON_NAME,
        NameOID.SERIAL_NUMBER,
    ]
    # Several organizations share one multi-valued RDN, as Go's appendRDNs makes it.
    organizations = subject.rdns[5]
    assert sorted(attr.value for attr in organizations) == ["Example Org", "Second Org"]


def test_literal_subject_round_trips_the_users_order() -> None:
    literal = "CN=foo,OU=Team,O=Corp,DC=corp,DC=example,DC=com,SERIALNUMBER=42,POSTALCODE=123"
    subject = build_subject(certificate_spec(literal_subject=literal))
    names = {NameOID.SERIAL_NUMBER: "SERIALNUMBER", NameOID.POSTAL_CODE: "POSTALCODE"}
    assert subject.rfc4514_string(names) == literal
    # RFC 4514 lists the most significant RDN last, so the DER starts with it.
    assert _oids(subject)[0] == NameOID.POSTAL_CODE
    assert _oids(subject)[-1] == NameOID.COMMON_NAME


@pytest.mark.parametrize(
    ("value", "string_type"),
    [
        pytest.param(
            "example.com", _ASN1Type.PrintableString, id="a plain host name is a PrintableString"
        ),
        pytest.param("*.example.com", _ASN1Type.UTF8String, id="an asterisk needs a UTF8String"),
        pytest.param("a_b", _ASN1Type.UTF8String, id="an underscore needs a UTF8String"),
        pytest.param("Zürich", _ASN1Type.UTF8String, id="non-ASCII needs a UTF8String"),
    ],
)
def test_subject_string_types_match_go(value: str, string_type: _ASN1Type) -> None:
    subject = build_subject(certificate_spec(common_name=value))
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0]._type == string_type


def test_subject_accepts_values_cryptography_would_refuse() -> None:
    subject = build_subject(
        certificate_spec(common_name="x", subject=X509Subject(countries=("USA",)))
    )
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "USA"


def test_csr_carries_sans_in_cert_manager_order() -> None:
    spec = certificate_spec(
        common_name="example.com",
        dns_names=("example.com", "*.example.com"),
        ip_addresses=("192.0.2.1", "2001:db8::1", "::ffff:198.51.100.7"),
        uris=("spiffe://cluster.local/ns/default/sa/web",),
        email_addresses=("ops@example.com",),
        other_names=(OtherName("1.3.6.1.4.1.311.20.2.3", "user@example.com"),),
    )
    csr = build_csr(spec, cached_key())
    assert csr.is_signature_valid
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert not san.critical
    kinds = [type(name).__name__ for name in san.value]
    assert kinds == [
        "DNSName",
        "DNSName",
        "RFC822Name",
        "IPAddress",
        "IPAddress",
        "IPAddress",
        "UniformResourceIdentifier",
        "OtherName",
    ]
    ips = san.value.get_values_for_type(x509.IPAddress)
    # Go encodes an IPv4-mapped address in 4 bytes (ip.To4()).
    assert ips[2] == ipaddress.IPv4Address("198.51.100.7")
    other = next(name for name in san.value if isinstance(name, x509.OtherName))
    assert other.type_id.dotted_string == "1.3.6.1.4.1.311.20.2.3"
    assert other.value == b"\x0c\x10user@example.com"


def test_san_is_critical_when_the_subject_is_empty() -> None:
    csr = build_csr(certificate_spec(dns_names=("example.com",)), cached_key())
    assert not csr.subject.rdns
    assert csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


def test_utf8_string_der_uses_long_form_lengths() -> None:
    value = "x" * 300
    assert utf8_string_der(value) == b"\x0c\x82\x01\x2c" + value.encode()


def test_csr_encodes_usages_with_key_usage_critical() -> None:
    spec = certificate_spec(
        common_name="x", usages=("digital signature", "server auth", "client auth")
    )
    csr = build_csr(spec, cached_key())
    key_usage = csr.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical
    assert key_usage.value.digital_signature and not key_usage.value.key_encipherment
    extended = csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert not extended.critical
    assert list(extended.value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]


def test_csr_leaves_usages_out_when_encode_usages_in_request_is_false() -> None:
    spec = certificate_spec(
        common_name="x", usages=("server auth",), encode_usages_in_request=False
    )
    csr = build_csr(spec, cached_key())
    oids = {ext.oid for ext in csr.extensions}
    assert ExtensionOID.KEY_USAGE not in oids
    assert ExtensionOID.EXTENDED_KEY_USAGE not in oids


def test_csr_never_carries_basic_constraints() -> None:
    csr = build_csr(certificate_spec(common_name="ca", is_ca=True), cached_key())
    assert ExtensionOID.BASIC_CONSTRAINTS not in {ext.oid for ext in csr.extensions}
    assert csr.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign


@pytest.mark.parametrize(
    ("usages", "is_ca", "key_usages", "extended"),
    [
        pytest.param(
            (),
            False,
            ["digital signature", "key encipherment"],
            [],
            id="no usages means the defaults",
        ),
        pytest.param(
            ("signing",), False, ["digital signature"], [], id="signing is digital signature"
        ),
        pytest.param(("s/mime",), False, [], ["email protection"], id="s/mime is email protection"),
        pytest.param(
            ("server auth",), True, ["cert sign"], ["server auth"], id="isCA adds cert sign"
        ),
        pytest.param(("any",), False, [], ["any"], id="any is anyExtendedKeyUsage"),
        pytest.param(
            ("microsoft sgc", "netscape sgc"),
            False,
            [],
            ["microsoft sgc", "netscape sgc"],
            id="the SGC usages have their OIDs",
        ),
        pytest.param(
            ("key agreement", "encipher only", "decipher only"),
            False,
            ["key agreement", "encipher only", "decipher only"],
            [],
            id="encipher and decipher only come with key agreement",
        ),
        pytest.param(
            ("content commitment", "data encipherment", "crl sign"),
            False,
            ["content commitment", "data encipherment", "crl sign"],
            [],
            id="every key usage name maps to its bit",
        ),
        pytest.param(
            (
                "ipsec end system",
                "ipsec tunnel",
                "ipsec user",
                "timestamping",
                "ocsp signing",
                "code signing",
            ),
            False,
            [],
            [
                "ipsec end system",
                "ipsec tunnel",
                "ipsec user",
                "timestamping",
                "ocsp signing",
                "code signing",
            ],
            id="extended usages keep their listed order",
        ),
    ],
)
def test_split_usages(
    usages: tuple[str, ...], is_ca: bool, key_usages: list[str], extended: list[str]
) -> None:
    key_usage, extended_usage = split_usages(usages, is_ca)
    assert (key_usage_names(key_usage) if key_usage else []) == key_usages
    assert [extended_key_usage_name(oid) for oid in (extended_usage or [])] == extended


def test_split_usages_sgc_oids() -> None:
    _, extended = split_usages(("microsoft sgc", "netscape sgc"), False)
    assert extended is not None
    assert [oid.dotted_string for oid in extended] == [
        "1.3.6.1.4.1.311.10.3.3",
        "2.16.840.1.113730.4.1",
    ]


@pytest.mark.parametrize(
    ("usages", "message"),
    [
        pytest.param(
            ("server-auth",), "unknown key usages: server-auth", id="an unknown usage is refused"
        ),
        pytest.param(
            ("encipher only",), "key agreement", id="encipher only without key agreement is refused"
        ),
    ],
)
def test_split_usages_refuses(usages: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_usages(usages, False)


def test_name_constraints_are_encoded_with_their_criticality() -> None:
    spec = certificate_spec(
        common_name="Constrained CA",
        is_ca=True,
        name_constraints=NameConstraints(
            critical=True,
            permitted=NameConstraintItem(
                dns_domains=("example.com",),
                ip_ranges=("10.1.2.3/8",),
                email_addresses=("example.com",),
                uri_domains=(".example.com",),
            ),
            excluded=NameConstraintItem(dns_domains=("bad.example.com",)),
        ),
    )
    csr = build_csr(spec, cached_key())
    extension = csr.extensions.get_extension_for_class(x509.NameConstraints)
    assert extension.critical
    permitted = extension.value.permitted_subtrees
    assert permitted is not None
    assert [type(n).__name__ for n in permitted] == [
        "DNSName",
        "IPAddress",
        "RFC822Name",
        "UniformResourceIdentifier",
    ]
    # net.ParseCIDR masks host bits off.
    assert permitted[1].value == ipaddress.ip_network("10.0.0.0/8")
    assert [n.value for n in extension.value.excluded_subtrees or []] == ["bad.example.com"]


def test_empty_name_constraints_are_left_out() -> None:
    spec = certificate_spec(
        common_name="ca",
        is_ca=True,
        name_constraints=NameConstraints(permitted=NameConstraintItem()),
    )
    csr = build_csr(spec, cached_key())
    assert ExtensionOID.NAME_CONSTRAINTS not in {ext.oid for ext in csr.extensions}


@pytest.mark.parametrize(
    ("algorithm", "size", "expected"),
    [
        pytest.param("RSA", 2048, hashes.SHA256, id="RSA 2048 signs with SHA-256"),
        pytest.param("RSA", 3072, hashes.SHA384, id="RSA 3072 signs with SHA-384"),
        pytest.param("RSA", 4096, hashes.SHA512, id="RSA 4096 signs with SHA-512"),
        pytest.param("ECDSA", 256, hashes.SHA256, id="P-256 signs with SHA-256"),
        pytest.param("ECDSA", 384, hashes.SHA384, id="P-384 signs with SHA-384"),
        pytest.param("ECDSA", 521, hashes.SHA512, id="P-521 signs with SHA-512"),
        pytest.param("Ed25519", 0, type(None), id="Ed25519 signs without a separate hash"),
    ],
)
def test_default_signature_algorithm(algorithm: str, size: int, expected: type) -> None:
    key = cached_key(algorithm, size)
    assert isinstance(hash_for_signature_algorithm("", key), expected)
    csr = build_csr(certificate_spec(common_name="x"), key)
    assert isinstance(csr.signature_hash_algorithm, expected)


@pytest.mark.parametrize(
    ("name", "algorithm", "size", "expected"),
    [
        pytest.param(
            "SHA512WithRSA", "RSA", 2048, hashes.SHA512, id="SHA512WithRSA on RSA 2048 uses SHA-512"
        ),
        pytest.param(
            "ECDSAWithSHA512",
            "ECDSA",
            256,
            hashes.SHA512,
            id="ECDSAWithSHA512 on P-256 uses SHA-512",
        ),
        pytest.param(
            "PureEd25519", "Ed25519", 0, type(None), id="PureEd25519 on Ed25519 has no hash"
        ),
    ],
)
def test_explicit_signature_algorithm(name: str, algorithm: str, size: int, expected: type) -> None:
    key = cached_key(algorithm, size)
    csr = build_csr(certificate_spec(common_name="x", signature_algorithm=name), key)
    assert isinstance(csr.signature_hash_algorithm, expected)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(
            "SHA256WithRSA",
            "cannot be used with an ECDSA key",
            id="an RSA algorithm with an ECDSA key is refused",
        ),
        pytest.param(
            "MD5WithRSA", "unknown signature algorithm", id="an unknown algorithm is refused"
        ),
    ],
)
def test_signature_algorithm_mismatch(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hash_for_signature_algorithm(name, cached_key("ECDSA", 256))
