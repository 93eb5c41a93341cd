"""Reading, ordering, verifying and describing X.509 certificates.

``order_chain`` mirrors cert-manager's ``ParseSingleCertificateChain``
(``pkg/util/pki/parse_certificate_chain.go``) and ``certificate_annotations``
the detail annotations of ``internal/controller/certificates/secrets.go``
(reference §2).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID, SignatureAlgorithmOID

from .csr import extended_key_usage_name, key_usage_names
from .formats import describe_labels, identify_data, pem_blocks
from .keys import describe_key

__all__ = [
    "ANNOTATION_PREFIX",
    "CertificateInfo",
    "ChainParts",
    "ChainVerification",
    "certificate_annotations",
    "describe_certificate",
    "encode_pem",
    "is_self_signed",
    "join_csv",
    "order_chain",
    "parse_pem_certificates",
    "verify_chain",
]

ANNOTATION_PREFIX: Final = "cert-manager.io/"

_E = TypeVar("_E", bound=x509.ExtensionType)

# cert-manager's signatureAlgorithm names for the OIDs it can produce.
_SIGNATURE_NAMES: Final[dict[x509.ObjectIdentifier, str]] = {
    SignatureAlgorithmOID.RSA_WITH_SHA1: "SHA1WithRSA",
    SignatureAlgorithmOID.RSA_WITH_SHA256: "SHA256WithRSA",
    SignatureAlgorithmOID.RSA_WITH_SHA384: "SHA384WithRSA",
    SignatureAlgorithmOID.RSA_WITH_SHA512: "SHA512WithRSA",
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: "ECDSAWithSHA1",
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ECDSAWithSHA256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: "ECDSAWithSHA384",
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: "ECDSAWithSHA512",
    SignatureAlgorithmOID.ED25519: "PureEd25519",
    SignatureAlgorithmOID.RSASSA_PSS: "RSASSA-PSS",
}


@dataclass(frozen=True)
class ChainParts:
    """A certificate chain split the way cert-manager writes ``tls.crt`` and ``ca.crt``.

    Attributes:
        leaf: the end-entity certificate (first in ``tls.crt``).
        intermediates: the certificates above the leaf, in order, excluding a
            self-signed top.
        root: the self-signed top of the chain, or None when the chain ends in
            an intermediate. For a lone self-signed certificate this is the leaf
            itself.
    """

    leaf: x509.Certificate
    intermediates: list[x509.Certificate] = field(default_factory=list)
    root: x509.Certificate | None = None

    @property
    def chain(self) -> list[x509.Certificate]:
        """``tls.crt``: the leaf then the intermediates (a self-signed root never included)."""
        return [self.leaf, *self.intermediates]

    @property
    def top(self) -> x509.Certificate:
        """``ca.crt`` for the CA issuer: the root if present, else the highest intermediate."""
        if self.root is not None:
            return self.root
        return self.intermediates[-1] if self.intermediates else self.leaf


@dataclass(frozen=True)
class ChainVerification:
    """The outcome of :func:`verify_chain`; ``problem`` is a plain-English sentence."""

    ok: bool
    problem: str = ""


@dataclass(frozen=True)
class CertificateInfo:
    """What a certificate says, in cert-manager's vocabulary, for display and comparison."""

    subject: str
    common_name: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    uris: tuple[str, ...]
    email_addresses: tuple[str, ...]
    other_names: tuple[tuple[str, str], ...]
    issuer: str
    issuer_common_name: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    is_ca: bool
    key_usages: tuple[str, ...]
    extended_key_usages: tuple[str, ...]
    public_key: str
    signature_algorithm: str
    sha256_fingerprint: str
    sha1_fingerprint: str
    organizations: tuple[str, ...] = ()
    organizational_units: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    localities: tuple[str, ...] = ()
    postal_codes: tuple[str, ...] = ()
    street_addresses: tuple[str, ...] = ()
    subject_serial_number: str = ""
    crl_distribution_points: tuple[str, ...] = ()
    ocsp_servers: tuple[str, ...] = ()
    issuing_certificate_urls: tuple[str, ...] = ()
    self_signed: bool = False

    @property
    def lifetime(self) -> dt.timedelta:
        """``notAfter - notBefore``."""
        return self.not_after - self.not_before


def parse_pem_certificates(data: bytes, *, source: str = "the data") -> list[x509.Certificate]:
    """Decode every ``CERTIFICATE`` PEM block in ``data`` (or one DER certificate).

    Other PEM blocks (a private key in a bundle) are skipped. A ``CERTIFICATE``
    block that is cut short or does not decode is an error, never dropped. Every
    error is one plain sentence naming ``source`` and saying what the data is;
    cryptography's parser messages never reach it.

    Args:
        data: PEM certificates, or the bytes of one DER certificate.
        source: what to call the data in messages (a file or a Secret key).

    Raises:
        ValueError: no certificate could be decoded.
    """
    blocks = pem_blocks(data)
    if blocks:
        certificate_blocks = [block for block in blocks if block.label == "CERTIFICATE"]
        if not certificate_blocks:
            raise ValueError(
                f"{source} holds {describe_labels(blocks)} but no CERTIFICATE block; "
                "expected PEM certificates (-----BEGIN CERTIFICATE-----)"
            )
        certificates = []
        for number, block in enumerate(certificate_blocks, start=1):
            place = f"certificate {number} of {source}" if len(certificate_blocks) > 1 else source
            if not block.complete:
                raise ValueError(
                    f"{place} is cut short: its -----BEGIN CERTIFICATE----- line has no "
                    "matching -----END CERTIFICATE----- line; restore the whole file or "
                    "reissue the certificate"
                )
            try:
                certificates.append(x509.load_pem_x509_certificate(block.text))
            except ValueError as exc:
                raise ValueError(
                    f"{place} has a PEM CERTIFICATE block whose contents do not decode as an "
                    "X.509 certificate: it is damaged or cut short; restore it or reissue the "
                    "certificate"
                ) from exc
        return certificates
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ValueError(
            f"{source} is {identify_data(data)}, not a certificate; expected PEM certificates "
            "(-----BEGIN CERTIFICATE-----) or one DER certificate"
        ) from exc


def encode_pem(certs: Iterable[x509.Certificate]) -> bytes:
    """Concatenate the PEM encodings of ``certs``."""
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def is_self_signed(cert: x509.Certificate) -> bool:
    """Whether ``cert`` names itself as issuer and its signature verifies with its own key."""
    return _issued_by(cert, cert)


def order_chain(certs: Sequence[x509.Certificate]) -> ChainParts:
    """Order certificates into one chain, as cert-manager's ``ParseSingleCertificateChain``.

    Duplicates are dropped; the certificates are linked child→issuer by issuer
    name and signature; exactly one leaf must remain and following issuers
    from it must visit every certificate once.

    Args:
        certs: the certificates, in any order.

    Returns:
        The leaf, the intermediates in order and the self-signed root if present.

    Raises:
        ValueError: there are no certificates or they do not form one chain.
    """
    unique: list[x509.Certificate] = []
    seen: set[bytes] = set()
    for cert in certs:
        der = cert.public_bytes(serialization.Encoding.DER)
        if der not in seen:
            seen.add(der)
            unique.append(cert)
    if not unique:
        raise ValueError("no certificates were given")

    issuer_of: dict[int, int] = {}
    self_signed: set[int] = set()
    for i, cert in enumerate(unique):
        if is_self_signed(cert):
            self_signed.add(i)
            continue
        for j, candidate in enumerate(unique):
            if i != j and _issued_by(cert, candidate):
                issuer_of[i] = j
                break
    issuers = set(issuer_of.values())
    leaves = [i for i in range(len(unique)) if i not in issuers]
    if len(leaves) != 1:
        names = ", ".join(_name(unique[i].subject) for i in leaves) or "none"
        raise ValueError(
            "the certificates do not form a single chain: "
            f"{len(leaves)} of them are not the issuer of any other ({names})"
        )
    path = [leaves[0]]
    while path[-1] in issuer_of:
        parent = issuer_of[path[-1]]
        if parent in path:
            raise ValueError("the certificates do not form a single chain: their issuers loop")
        path.append(parent)
    if len(path) != len(unique):
        missing = [_name(unique[i].subject) for i in range(len(unique)) if i not in path]
        raise ValueError(
            "the certificates do not form a single chain: "
            f"{', '.join(missing)} is not part of the chain from the leaf"
        )
    ordered = [unique[i] for i in path]
    if path[-1] in self_signed:
        if len(ordered) == 1:
            return ChainParts(leaf=ordered[0], intermediates=[], root=ordered[0])
        return ChainParts(leaf=ordered[0], intermediates=ordered[1:-1], root=ordered[-1])
    return ChainParts(leaf=ordered[0], intermediates=ordered[1:], root=None)


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
    at: dt.datetime,
) -> ChainVerification:
    """Check that ``leaf`` chains up to one of ``trust_roots`` and is valid at ``at``.

    Each link is checked with ``verify_directly_issued_by`` (issuer name and
    signature); every certificate on the path must be within its validity
    period at ``at`` and every issuer must be a CA (BasicConstraints CA=true,
    and ``cert sign`` if it has a KeyUsage extension). The path succeeds when
    it reaches a certificate in ``trust_roots`` or one issued by a trust root.

    Args:
        leaf: the end-entity certificate.
        intermediates: untrusted certificates that may help build the path.
        trust_roots: the trust anchors.
        at: the moment of verification (aware).

    Returns:
        ``ok`` and, when not ok, the first problem found as a sentence.
    """
    roots = list(trust_roots)
    pool = list(intermediates)
    current = leaf
    visited: list[x509.Certificate] = [leaf]
    for _ in range(len(pool) + 2):
        problem = _validity_problem(current, at)
        if problem:
            return ChainVerification(False, problem)
        if current in roots:
            return ChainVerification(True)
        for root in roots:
            if _issued_by(current, root):
                problem = _issuer_problem(root, current) or _validity_problem(root, at)
                return ChainVerification(not problem, problem)
        parent = next(
            (c for c in pool if c not in visited and _issued_by(current, c)),
            None,
        )
        if parent is None:
            return ChainVerification(False, _no_issuer_problem(current, [*roots, *pool]))
        problem = _issuer_problem(parent, current)
        if problem:
            return ChainVerification(False, problem)
        visited.append(parent)
        current = parent
    return ChainVerification(False, "the chain is longer than the certificates given")


def describe_certificate(cert: x509.Certificate) -> CertificateInfo:
    """Summarise ``cert`` (names, validity, usages, fingerprints) in cert-manager terms."""
    extensions = cert.extensions
    san = _extension(extensions, x509.SubjectAlternativeName)
    dns_names: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    others: tuple[tuple[str, str], ...] = ()
    if san is not None:
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(_ip_string(ip) for ip in san.get_values_for_type(x509.IPAddress))
        uris = tuple(san.get_values_for_type(x509.UniformResourceIdentifier))
        emails = tuple(san.get_values_for_type(x509.RFC822Name))
        others = tuple(
            (name.type_id.dotted_string, _other_name_value(name.value))
            for name in san
            if isinstance(name, x509.OtherName)
        )
    basic = _extension(extensions, x509.BasicConstraints)
    key_usage = _extension(extensions, x509.KeyUsage)
    extended = _extension(extensions, x509.ExtendedKeyUsage)
    crl = _extension(extensions, x509.CRLDistributionPoints)
    aia = _extension(extensions, x509.AuthorityInformationAccess)
    crl_urls = tuple(
        name.value
        for point in (crl or [])
        for name in (point.full_name or [])
        if isinstance(name, x509.UniformResourceIdentifier)
    )
    ocsp = tuple(
        d.access_location.value
        for d in (aia or [])
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    )
    ca_issuers = tuple(
        d.access_location.value
        for d in (aia or [])
        if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    subject = cert.subject
    return CertificateInfo(
        subject=subject.rfc4514_string(),
        common_name=_last(subject, NameOID.COMMON_NAME),
        dns_names=dns_names,
        ip_addresses=ips,
        uris=uris,
        email_addresses=emails,
        other_names=others,
        issuer=cert.issuer.rfc4514_string(),
        issuer_common_name=_last(cert.issuer, NameOID.COMMON_NAME),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=bool(basic is not None and basic.ca),
        key_usages=tuple(key_usage_names(key_usage)) if key_usage is not None else (),
        extended_key_usages=tuple(extended_key_usage_name(oid) for oid in (extended or [])),
        public_key=describe_key(cert.public_key()),
        signature_algorithm=_signature_name(cert.signature_algorithm_oid),
        sha256_fingerprint=_fingerprint(hashlib.sha256(der).digest()),
        sha1_fingerprint=_fingerprint(hashlib.sha1(der, usedforsecurity=False).digest()),
        organizations=_all(subject, NameOID.ORGANIZATION_NAME),
        organizational_units=_all(subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
        countries=_all(subject, NameOID.COUNTRY_NAME),
        provinces=_all(subject, NameOID.STATE_OR_PROVINCE_NAME),
        localities=_all(subject, NameOID.LOCALITY_NAME),
        postal_codes=_all(subject, NameOID.POSTAL_CODE),
        street_addresses=_all(subject, NameOID.STREET_ADDRESS),
        subject_serial_number=_last(subject, NameOID.SERIAL_NUMBER),
        crl_distribution_points=crl_urls,
        ocsp_servers=ocsp,
        issuing_certificate_urls=ca_issuers,
        self_signed=is_self_signed(cert),
    )


def certificate_annotations(cert: x509.Certificate | CertificateInfo) -> dict[str, str]:
    """The certificate-detail annotations cert-manager puts on the Secret (§2).

    ``common-name``, ``alt-names``, ``ip-sans`` and ``uri-sans`` are always
    present (possibly empty); the email and subject annotations only when they
    have a value. Lists are joined like Go's ``encoding/csv`` writes one record.
    """
    info = cert if isinstance(cert, CertificateInfo) else describe_certificate(cert)
    p = ANNOTATION_PREFIX
    annotations = {
        p + "common-name": info.common_name,
        p + "alt-names": join_csv(info.dns_names),
        p + "ip-sans": join_csv(info.ip_addresses),
        p + "uri-sans": join_csv(info.uris),
    }
    optional: list[tuple[str, Sequence[str]]] = [
        ("email-sans", info.email_addresses),
        ("subject-organizations", info.organizations),
        ("subject-organizationalunits", info.organizational_units),
        ("subject-countries", info.countries),
        ("subject-provinces", info.provinces),
        ("subject-localities", info.localities),
        ("subject-postalcodes", info.postal_codes),
        ("subject-streetaddresses", info.street_addresses),
    ]
    for key, values in optional:
        if values:
            annotations[p + key] = join_csv(values)
    if info.subject_serial_number:
        annotations[p + "subject-serialnumber"] = info.subject_serial_number
    return annotations


def join_csv(values: Iterable[str]) -> str:
    """Join ``values`` as one CSV record without the line ending, like Go's ``encoding/csv``.

    A field is quoted (with ``"`` doubled) when it contains a comma, a quote,
    CR or LF, starts with a space character, or is exactly ``\\.``.
    """
    fields = []
    for value in values:
        if _csv_needs_quotes(value):
            value = '"' + value.replace('"', '""') + '"'
        fields.append(value)
    return ",".join(fields)


def _csv_needs_quotes(value: str) -> bool:
    if value == "":
        return False
    if value == "\\.":
        return True
    if any(ch in value for ch in ',"\r\n'):
        return True
    # Go checks unicode.IsSpace on the first rune; Python's isspace also counts the
    # ASCII separators 0x1c-0x1f, which Go does not.
    first = value[0]
    return first.isspace() and first not in "\x1c\x1d\x1e\x1f"


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _validity_problem(cert: x509.Certificate, at: dt.datetime) -> str:
    if at < cert.not_valid_before_utc:
        return (
            f"the certificate {_name(cert.subject)} is not valid until "
            f"{cert.not_valid_before_utc.isoformat()}"
        )
    if at > cert.not_valid_after_utc:
        return (
            f"the certificate {_name(cert.subject)} expired on "
            f"{cert.not_valid_after_utc.isoformat()}"
        )
    return ""


def _issuer_problem(issuer: x509.Certificate, child: x509.Certificate) -> str:
    basic = _extension(issuer.extensions, x509.BasicConstraints)
    if basic is None or not basic.ca:
        return (
            f"the certificate {_name(issuer.subject)} is not a CA certificate, "
            f"so it cannot have issued {_name(child.subject)}"
        )
    key_usage = _extension(issuer.extensions, x509.KeyUsage)
    if key_usage is not None and not key_usage.key_cert_sign:
        return (
            f"the CA certificate {_name(issuer.subject)} does not allow 'cert sign', "
            f"so it cannot have issued {_name(child.subject)}"
        )
    return ""


def _no_issuer_problem(cert: x509.Certificate, candidates: Sequence[x509.Certificate]) -> str:
    for candidate in candidates:
        if candidate.subject == cert.issuer:
            return (
                f"the signature of {_name(cert.subject)} does not verify with the key of "
                f"{_name(candidate.subject)}"
            )
    if is_self_signed(cert):
        return f"the self-signed certificate {_name(cert.subject)} is not a trusted root"
    return (
        f"the issuer of {_name(cert.subject)} ({_name(cert.issuer)}) is neither a trusted "
        "root nor among the intermediates"
    )


def _extension(extensions: x509.Extensions, kind: type[_E]) -> _E | None:
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _name(name: x509.Name) -> str:
    text = name.rfc4514_string()
    return f"'{text}'" if text else "with an empty subject"


def _all(name: x509.Name, oid: x509.ObjectIdentifier) -> tuple[str, ...]:
    return tuple(_text(attr.value) for attr in name.get_attributes_for_oid(oid))


def _last(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    # Go's pkix.Name.FillFromRDNSequence keeps the last value of single-valued fields.
    values = _all(name, oid)
    return values[-1] if values else ""


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _ip_string(address: ipaddress.IPv4Address | ipaddress.IPv6Address | object) -> str:
    # Go's net.IP.String() prints an IPv4-mapped IPv6 address in dotted form.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _other_name_value(value: bytes) -> str:
    # UTF8String (12), PrintableString (19) and IA5String (22) with a short length.
    if len(value) >= 2 and value[0] in (0x0C, 0x13, 0x16):
        length = value[1]
        offset = 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(value[2 : 2 + count], "big")
            offset = 2 + count
        body = value[offset : offset + length]
        if len(body) == length:
            return body.decode("utf-8", "replace")
    return value.hex()


def _signature_name(oid: x509.ObjectIdentifier) -> str:
    name = _SIGNATURE_NAMES.get(oid)
    if name is not None:
        return name
    return oid._name if oid._name != "Unknown OID" else oid.dotted_string


def _fingerprint(digest: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in digest)
