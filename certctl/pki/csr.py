"""Certificate signing requests built from a Certificate spec.

Mirrors cert-manager's ``GenerateCSR`` (``pkg/util/pki/csr.go``), ``MarshalSANs``
(``sans.go``), ``MarshalNameConstraints`` (``nameconstraints.go``) and the usage
tables in ``pkg/api/util/usages.go`` (reference §1.2 and §1.13).
"""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Iterable, Sequence
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from certctl.api.models import CertificateSpec, NameConstraintItem, NameConstraints

from .keys import PrivateKey

__all__ = [
    "EXTENDED_KEY_USAGES",
    "KEY_USAGES",
    "SIGNATURE_ALGORITHMS",
    "build_csr",
    "build_name_constraints",
    "build_subject",
    "build_subject_alternative_names",
    "default_hash_for_key",
    "extended_key_usage_name",
    "hash_for_signature_algorithm",
    "ip_address_for_san",
    "key_usage_names",
    "split_usages",
    "utf8_string_der",
]

#: cert-manager's key usage names and the ``x509.KeyUsage`` flag each one sets.
#: ``signing`` is an alias of ``digital signature`` (``KeyUsageSigning``).
KEY_USAGES: Final[dict[str, str]] = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
    "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}

#: cert-manager's extended key usage names and their OIDs. ``s/mime`` is an alias
#: of ``email protection``; the two SGC OIDs are Go's ``ExtKeyUsage*ServerGatedCrypto``.
EXTENDED_KEY_USAGES: Final[dict[str, ObjectIdentifier]] = {
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec end system": ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec tunnel": ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec user": ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft sgc": ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape sgc": ObjectIdentifier("2.16.840.1.113730.4.1"),
}

#: ``spec.signatureAlgorithm`` values: (key family, hash or None for PureEd25519).
SIGNATURE_ALGORITHMS: Final[dict[str, tuple[str, type[hashes.HashAlgorithm] | None]]] = {
    "SHA256WithRSA": ("RSA", hashes.SHA256),
    "SHA384WithRSA": ("RSA", hashes.SHA384),
    "SHA512WithRSA": ("RSA", hashes.SHA512),
    "ECDSAWithSHA256": ("ECDSA", hashes.SHA256),
    "ECDSAWithSHA384": ("ECDSA", hashes.SHA384),
    "ECDSAWithSHA512": ("ECDSA", hashes.SHA512),
    "PureEd25519": ("Ed25519", None),
}

# Reverse tables without the aliases ("signing", "s/mime"), in RFC 5280 bit order.
_KEY_USAGE_CANONICAL: Final[dict[str, str]] = {
    name: flag for name, flag in KEY_USAGES.items() if name != "signing"
}
_EXTENDED_KEY_USAGE_CANONICAL: Final[dict[ObjectIdentifier, str]] = {
    oid: name for name, oid in EXTENDED_KEY_USAGES.items() if name != "s/mime"
}

# Default usages cert-manager applies when a request carries none (DefaultKeyUsages()).
_DEFAULT_USAGES = ("digital signature", "key encipherment")

# RFC 4514 keys cryptography does not know by name but cert-manager's literalSubject
# parser accepts (it maps them with its own attribute type table).
_LITERAL_SUBJECT_KEYS: Final[dict[str, ObjectIdentifier]] = {
    "SERIALNUMBER": NameOID.SERIAL_NUMBER,
    "POSTALCODE": NameOID.POSTAL_CODE,
}

# Characters Go's encoding/asn1 allows in a PrintableString when it marshals a plain
# Go string ('*' and '&' are rejected when marshalling).
_PRINTABLE: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '()+,-./:=?"
)


def build_subject(spec: CertificateSpec) -> x509.Name:
    """Build the subject distinguished name cert-manager puts in the CSR.

    Without ``literalSubject`` this is Go's ``pkix.Name.ToRDNSequence()`` over
    ``commonName`` and ``subject.*``: C, ST, L, STREET, POSTALCODE, O, OU, CN,
    SERIALNUMBER, each field one RDN (several values of one field share a
    multi-valued RDN, exactly as Go does).

    With ``literalSubject`` the RFC 4514 string is parsed with
    ``x509.Name.from_rfc4514_string``. RFC 4514 writes the most significant RDN
    last, and both that function and cert-manager's
    ``UnmarshalSubjectStringToRDNSequence`` reverse the string's order, so
    ``CN=foo,O=bar,C=US`` becomes the DER sequence C, O, CN and formats back to
    the very string the user wrote.

    Every value is re-typed the way Go's ``asn1.Marshal`` types a plain string:
    PrintableString when all characters allow it, otherwise UTF8String, so the
    subject DER matches what cert-manager would produce byte for byte.

    Args:
        spec: the Certificate spec.

    Returns:
        The subject (possibly empty).

    Raises:
        ValueError: ``literalSubject`` does not parse.
    """
    if spec.literal_subject:
        parsed = x509.Name.from_rfc4514_string(
            spec.literal_subject, attr_name_overrides=_LITERAL_SUBJECT_KEYS
        )
        rdns = [
            x509.RelativeDistinguishedName(
                [
                    _name_attribute(attr.oid, attr.value) if isinstance(attr.value, str) else attr
                    for attr in rdn
                ]
            )
            for rdn in parsed.rdns
        ]
        return x509.Name(rdns)

    subject = spec.subject
    fields: list[tuple[ObjectIdentifier, Sequence[str]]] = []
    if subject is not None:
        fields += [
            (NameOID.COUNTRY_NAME, subject.countries),
            (NameOID.STATE_OR_PROVINCE_NAME, subject.provinces),
            (NameOID.LOCALITY_NAME, subject.localities),
            (NameOID.STREET_ADDRESS, subject.street_addresses),
            (NameOID.POSTAL_CODE, subject.postal_codes),
            (NameOID.ORGANIZATION_NAME, subject.organizations),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, subject.organizational_units),
        ]
    if spec.common_name:
        fields.append((NameOID.COMMON_NAME, (spec.common_name,)))
    if subject is not None and subject.serial_number:
        fields.append((NameOID.SERIAL_NUMBER, (subject.serial_number,)))
    rdn_list: list[x509.RelativeDistinguishedName] = []
    for oid, values in fields:
        if not values:
            continue
        # A RelativeDistinguishedName is a SET, so an exact duplicate value cannot be
        # represented twice; Go would emit it twice, but such a subject is meaningless.
        unique = list(dict.fromkeys(values))
        rdn_list.append(x509.RelativeDistinguishedName([_name_attribute(oid, v) for v in unique]))
    return x509.Name(rdn_list)


def build_subject_alternative_names(spec: CertificateSpec) -> list[x509.GeneralName]:
    """Return the SAN entries for ``spec`` in cert-manager's order.

    ``MarshalSANs`` keeps Go's x509 order: DNS names, email addresses, IP
    addresses, URIs, then otherNames (each a UTF8String inside ``[0] EXPLICIT``).

    Raises:
        ValueError: an IP address does not parse.
    """
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in spec.dns_names]
    names += [x509.RFC822Name(email) for email in spec.email_addresses]
    names += [x509.IPAddress(ip_address_for_san(ip)) for ip in spec.ip_addresses]
    names += [x509.UniformResourceIdentifier(uri) for uri in spec.uris]
    names += [
        x509.OtherName(ObjectIdentifier(other.oid), utf8_string_der(other.utf8_value))
        for other in spec.other_names
    ]
    return names


def build_name_constraints(constraints: NameConstraints) -> x509.NameConstraints | None:
    """Build the NameConstraints extension value, or None when it would be empty.

    Each subtree list is ordered as cert-manager's ``MarshalNameConstraints``
    writes it: DNS domains, IP ranges, email addresses, URI domains.

    Raises:
        ValueError: an IP range is not a CIDR.
    """
    permitted = _subtrees(constraints.permitted)
    excluded = _subtrees(constraints.excluded)
    if not permitted and not excluded:
        return None
    return x509.NameConstraints(
        permitted_subtrees=permitted or None, excluded_subtrees=excluded or None
    )


def split_usages(
    usages: Iterable[str], is_ca: bool
) -> tuple[x509.KeyUsage | None, x509.ExtendedKeyUsage | None]:
    """Split cert-manager usage names into KeyUsage and ExtendedKeyUsage values.

    Mirrors ``KeyUsagesForCertificateOrCertificateRequest``: no usages at all
    means the defaults (digital signature, key encipherment), ``isCA`` always
    adds ``cert sign``, and extended usages keep the order they were listed in.

    Args:
        usages: usage names from ``spec.usages``.
        is_ca: ``spec.isCA``.

    Returns:
        ``(key_usage, extended_key_usage)``, each None when no bit/OID is set.

    Raises:
        ValueError: a usage name is unknown, or ``encipher only``/``decipher
            only`` is asked for without ``key agreement`` (RFC 5280 §4.2.1.3
            leaves that undefined and cryptography cannot encode it).
    """
    names = list(usages) or list(_DEFAULT_USAGES)
    flags: dict[str, bool] = dict.fromkeys(set(KEY_USAGES.values()), False)
    if is_ca:
        flags["key_cert_sign"] = True
    oids: list[ObjectIdentifier] = []
    unknown: list[str] = []
    for name in names:
        if name in KEY_USAGES:
            flags[KEY_USAGES[name]] = True
        elif name in EXTENDED_KEY_USAGES:
            oids.append(EXTENDED_KEY_USAGES[name])
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(f"unknown key usages: {', '.join(unknown)}")
    if (flags["encipher_only"] or flags["decipher_only"]) and not flags["key_agreement"]:
        raise ValueError(
            "the usages 'encipher only' and 'decipher only' need 'key agreement' as well"
        )
    key_usage = x509.KeyUsage(**flags) if any(flags.values()) else None
    extended = x509.ExtendedKeyUsage(oids) if oids else None
    return key_usage, extended


def key_usage_names(value: x509.KeyUsage) -> list[str]:
    """cert-manager's names for the bits set in ``value`` (canonical names, no aliases)."""
    names = []
    for name, flag in _KEY_USAGE_CANONICAL.items():
        if flag in ("encipher_only", "decipher_only") and not value.key_agreement:
            continue  # cryptography refuses to read these without key agreement
        if getattr(value, flag):
            names.append(name)
    return names


def extended_key_usage_name(oid: ObjectIdentifier) -> str:
    """cert-manager's name for an extended key usage OID, or the dotted OID if unnamed."""
    return _EXTENDED_KEY_USAGE_CANONICAL.get(oid, oid.dotted_string)


def default_hash_for_key(
    key: PrivateKey | CertificatePublicKeyTypes | CertificateIssuerPrivateKeyTypes,
) -> hashes.HashAlgorithm | None:
    """The signature hash cert-manager picks for a key when none is configured.

    RSA ≥4096 bits: SHA-512, ≥3072: SHA-384, else SHA-256; ECDSA P-521: SHA-512,
    P-384: SHA-384, P-256: SHA-256; Ed25519: None (PureEd25519) (§1.13).

    Raises:
        ValueError: the key type cannot sign certificates here.
    """
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size >= 4096:
            return hashes.SHA512()
        if key.key_size >= 3072:
            return hashes.SHA384()
        return hashes.SHA256()
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        size = key.curve.key_size
        if size >= 521:
            return hashes.SHA512()
        if size >= 384:
            return hashes.SHA384()
        return hashes.SHA256()
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return None
    raise ValueError(f"unsupported key type {type(key).__name__.removeprefix('_')}")


def hash_for_signature_algorithm(
    name: str, key: PrivateKey | CertificatePublicKeyTypes | CertificateIssuerPrivateKeyTypes
) -> hashes.HashAlgorithm | None:
    """The hash to sign with for ``spec.signatureAlgorithm`` and ``key``.

    An empty name selects the key's default (:func:`default_hash_for_key`).

    Args:
        name: a ``spec.signatureAlgorithm`` value such as ``ECDSAWithSHA384``.
        key: the key that will sign.

    Returns:
        The hash, or None for PureEd25519.

    Raises:
        ValueError: the name is unknown or belongs to another key family (the
            webhook rejects e.g. ``SHA256WithRSA`` with an ECDSA key).
    """
    if not name:
        return default_hash_for_key(key)
    entry = SIGNATURE_ALGORITHMS.get(name)
    if entry is None:
        raise ValueError(
            f"unknown signature algorithm {name!r}; use one of {', '.join(SIGNATURE_ALGORITHMS)}"
        )
    family, hash_type = entry
    actual = _key_family(key)
    if family != actual:
        raise ValueError(f"signature algorithm {name} cannot be used with an {actual} key")
    return hash_type() if hash_type is not None else None


def build_csr(spec: CertificateSpec, key: PrivateKey) -> x509.CertificateSigningRequest:
    """Build and sign the CSR cert-manager's requestmanager would create (§1.13).

    Contents: the subject (:func:`build_subject`); the SAN extension, critical
    when the subject is empty (RFC 5280 §4.2.1.6); KeyUsage (critical) and
    ExtendedKeyUsage unless ``encodeUsagesInRequest`` is false; NameConstraints
    with ``nameConstraints.critical``. BasicConstraints is left out, as with
    cert-manager's default feature gates.

    Args:
        spec: the Certificate spec.
        key: the private key the certificate is for; it signs the request.

    Returns:
        The signed CSR.

    Raises:
        ValueError: a field cannot be encoded (bad IP, unknown usage, a
            signature algorithm of another key family, a bad literalSubject).
    """
    subject = build_subject(spec)
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    sans = build_subject_alternative_names(spec)
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(sans), critical=not subject.rdns
        )
    if spec.encode_usages_in_request:
        key_usage, extended = split_usages(spec.usages, spec.is_ca)
        if key_usage is not None:
            builder = builder.add_extension(key_usage, critical=True)
        if extended is not None:
            builder = builder.add_extension(extended, critical=False)
    if spec.name_constraints is not None:
        constraints = build_name_constraints(spec.name_constraints)
        if constraints is not None:
            builder = builder.add_extension(constraints, critical=spec.name_constraints.critical)
    algorithm = hash_for_signature_algorithm(spec.signature_algorithm, key)
    return builder.sign(key, algorithm)  # type: ignore[arg-type]


def ip_address_for_san(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse an IP address the way cert-manager encodes it in a SAN.

    Go's ``MarshalSANs`` writes ``ip.To4()`` when possible, so an IPv4-mapped
    IPv6 address (``::ffff:192.0.2.1``) is encoded as the 4-byte IPv4 address.

    Raises:
        ValueError: the text is not an IP address.
    """
    address = ipaddress.ip_address(text.strip())
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def utf8_string_der(value: str) -> bytes:
    """DER-encode ``value`` as an ASN.1 UTF8String (tag 12), as otherName values are."""
    body = value.encode("utf-8")
    return bytes([0x0C]) + _der_length(len(body)) + body


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _key_family(key: object) -> str:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ECDSA"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(key).__name__.removeprefix("_")


def _subtrees(item: NameConstraintItem | None) -> list[x509.GeneralName]:
    if item is None:
        return []
    trees: list[x509.GeneralName] = [x509.DNSName(d) for d in item.dns_domains]
    # net.ParseCIDR masks the host bits off, so strict=False matches it.
    trees += [x509.IPAddress(ipaddress.ip_network(r, strict=False)) for r in item.ip_ranges]
    trees += [x509.RFC822Name(e) for e in item.email_addresses]
    trees += [x509.UniformResourceIdentifier(u) for u in item.uri_domains]
    return trees


def _go_string_type(value: str) -> _ASN1Type:
    if all(ch in _PRINTABLE for ch in value):
        return _ASN1Type.PrintableString
    return _ASN1Type.UTF8String


def _name_attribute(oid: ObjectIdentifier, value: str) -> x509.NameAttribute[str]:
    string_type = _go_string_type(value)
    # cryptography enforces X.520 length bounds on CN (1..64) and C (exactly 2);
    # Go does not, and the webhook only limits CN to 64, so accept what Go accepts.
    out_of_bounds = (oid == NameOID.COMMON_NAME and not 1 <= len(value) <= 64) or (
        oid == NameOID.COUNTRY_NAME and len(value) != 2
    )
    if not out_of_bounds:
        return x509.NameAttribute(oid, value, string_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return x509.NameAttribute(oid, value, string_type, _validate=False)
