"""Telling what a blob of key or certificate data is, for error messages.

cryptography reports undecodable input in its parser's words (``ParseError {
kind: UnexpectedTag ...``, ``MalformedFraming``), which say nothing to someone
who pointed certctl at the wrong file. certctl's decoders never show that text:
they describe what the data is instead ("a DER-encoded PKCS#8 private key
(ECDSA P-256)", "PEM cut short") with :func:`identify_data`.
"""

from __future__ import annotations

import base64
import binascii
import re
import warnings
from dataclasses import dataclass
from typing import Final

__all__ = ["PemBlock", "describe_labels", "identify_data", "pem_blocks"]

_BEGIN: Final = re.compile(rb"-----BEGIN ([^\r\n-]{1,64})-----")
_TEXT_BYTES: Final = frozenset(b"\t\n\r" + bytes(range(0x20, 0x7F)))
_BASE64_TEXT: Final = re.compile(rb"^[A-Za-z0-9+/=\s]+$")
# OID 1.2.840.113549.1.7.1 (pkcs7-data), which a PFX's authSafe starts with (RFC 7292 §4).
_PKCS7_DATA_OID: Final = bytes.fromhex("06092a864886f70d010701")
_JKS_MAGIC: Final = bytes.fromhex("feedfeed")
_JCEKS_MAGIC: Final = bytes.fromhex("cececece")

_TAG_INTEGER: Final = 0x02
_TAG_BIT_STRING: Final = 0x03
_TAG_OCTET_STRING: Final = 0x04
_TAG_SEQUENCE: Final = 0x30


@dataclass(frozen=True)
class PemBlock:
    """One ``-----BEGIN LABEL-----`` block, complete or cut short."""

    label: str
    #: The whole block from its BEGIN line to its END line (or to the end of the data).
    text: bytes
    #: Whether the matching ``-----END LABEL-----`` line was found.
    complete: bool

    @property
    def encrypted(self) -> bool:
        """An ``ENCRYPTED PRIVATE KEY`` or a legacy ``Proc-Type: 4,ENCRYPTED`` block."""
        return self.label.startswith("ENCRYPTED") or b"Proc-Type: 4,ENCRYPTED" in self.text


def pem_blocks(data: bytes) -> list[PemBlock]:
    """Every PEM block in ``data``, in order; a BEGIN line without its END is incomplete."""
    blocks = []
    starts = list(_BEGIN.finditer(data))
    for index, start in enumerate(starts):
        label = start.group(1).decode("ascii", "replace").strip()
        end_line = b"-----END " + start.group(1) + b"-----"
        limit = starts[index + 1].start() if index + 1 < len(starts) else len(data)
        end = data.find(end_line, start.end(), limit)
        if end < 0:
            blocks.append(PemBlock(label, data[start.start() : limit], complete=False))
        else:
            blocks.append(PemBlock(label, data[start.start() : end + len(end_line)], True))
    return blocks


def describe_labels(blocks: list[PemBlock]) -> str:
    """``2 CERTIFICATE blocks``, ``a PRIVATE KEY block``, ``CERTIFICATE and PRIVATE KEY blocks``."""
    labels: list[str] = []
    for block in blocks:
        if block.label not in labels:
            labels.append(block.label)
    if len(labels) == 1:
        count = len(blocks)
        return f"a {labels[0]} block" if count == 1 else f"{count} {labels[0]} blocks"
    return f"{', '.join(labels[:-1])} and {labels[-1]} blocks"


def identify_data(data: bytes) -> str:
    """Say what ``data`` is, as a phrase that completes "FILE is ...".

    Examples: ``empty``, ``PEM with a CERTIFICATE block``, ``a DER-encoded
    PKCS#8 private key (RSA 2048)``, ``a JKS keystore``, ``text that is not PEM
    (there is no -----BEGIN line)``. Never raises and never shows a parser's
    own error text.
    """
    if not data.strip():
        return "empty"
    blocks = pem_blocks(data)
    if blocks:
        cut = next((block for block in blocks if not block.complete), None)
        if cut is not None:
            return (
                f"PEM cut short: its -----BEGIN {cut.label}----- line has no matching "
                f"-----END {cut.label}----- line"
            )
        return f"PEM with {describe_labels(blocks)}"
    if data.startswith(_JKS_MAGIC):
        return "a JKS keystore"
    if data.startswith(_JCEKS_MAGIC):
        return "a JCEKS keystore"
    if data[0] == _TAG_SEQUENCE:
        return _identify_der(data)
    if _is_text(data):
        if _BASE64_TEXT.match(data):
            decoded = _base64_decode(data)
            if decoded is not None and (b"-----BEGIN" in decoded or decoded[:1] == b"\x30"):
                inner = identify_data(decoded)
                return f"base64 text that decodes to {inner} (decode it first with base64 -d)"
        return "text that is not PEM (there is no -----BEGIN line)"
    return "binary data that is neither PEM nor DER"


def _is_text(data: bytes) -> bool:
    sample = data[:4096]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return sum(byte in _TEXT_BYTES for byte in sample) >= 0.95 * len(sample)


def _base64_decode(data: bytes) -> bytes | None:
    try:
        return base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _read_tlv(data: bytes, offset: int) -> tuple[int, int, int] | None:
    """``(tag, start of contents, end of contents)`` of the DER element at ``offset``."""
    if offset + 2 > len(data):
        return None
    tag, first = data[offset], data[offset + 1]
    position = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or position + count > len(data):
            return None
        length = int.from_bytes(data[position : position + count], "big")
        position += count
    if position + length > len(data):
        return None
    return tag, position, position + length


def _children(data: bytes, start: int, end: int, limit: int = 4) -> list[tuple[int, int, int]]:
    elements: list[tuple[int, int, int]] = []
    offset = start
    while offset < end and len(elements) < limit:
        element = _read_tlv(data, offset)
        if element is None or element[2] > end:
            break
        elements.append(element)
        offset = element[2]
    return elements


def _identify_der(data: bytes) -> str:
    outer = _read_tlv(data, 0)
    if outer is None:
        return "DER (ASN.1) data cut short: it declares more bytes than it has"
    children = _children(data, outer[1], outer[2])
    tags = [tag for tag, _, _ in children]
    first_integer = (
        int.from_bytes(data[children[0][1] : children[0][2]], "big")
        if children and tags[0] == _TAG_INTEGER and children[0][2] - children[0][1] <= 2
        else None
    )
    if first_integer == 3 and _PKCS7_DATA_OID in data[outer[1] : outer[1] + 40]:
        return "a PKCS#12 keystore"
    if first_integer in (0, 1) and tags[1:3] == [_TAG_SEQUENCE, _TAG_OCTET_STRING]:
        return f"a DER-encoded PKCS#8 private key{_der_key_detail(data)}"
    if first_integer == 0 and tags[1:2] == [_TAG_INTEGER]:
        return f"a DER-encoded PKCS#1 RSA private key{_der_key_detail(data)}"
    if first_integer == 1 and tags[1:2] == [_TAG_OCTET_STRING]:
        return f"a DER-encoded SEC1 EC private key{_der_key_detail(data)}"
    if tags[:2] == [_TAG_SEQUENCE, _TAG_OCTET_STRING]:
        return "a DER-encoded encrypted PKCS#8 private key"
    if tags[:2] == [_TAG_SEQUENCE, _TAG_BIT_STRING]:
        return "a DER-encoded public key"
    if tags[:3] == [_TAG_SEQUENCE, _TAG_SEQUENCE, _TAG_BIT_STRING]:
        return _identify_signed_der(data)
    return "DER (ASN.1) data that is not a certificate, a key or a keystore"


def _der_key_detail(data: bytes) -> str:
    from cryptography.hazmat.primitives import serialization

    from .keys import describe_key

    try:
        key = serialization.load_der_private_key(data, password=None)
    except Exception:  # UnsupportedAlgorithm too: a failure here only loses the detail
        return " (which does not decode: damaged?)"
    return f" ({describe_key(key)})"


def _identify_signed_der(data: bytes) -> str:
    """A certificate, CSR or CRL: the three have the same outer shape."""
    from cryptography import x509

    # Only the kind is wanted here, so a deprecation warning about a quirk of
    # the certificate (a negative serial, say) is beside the point.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for loader, kind in (
            (x509.load_der_x509_certificate, "a DER certificate"),
            (x509.load_der_x509_csr, "a DER certificate signing request"),
            (x509.load_der_x509_crl, "a DER certificate revocation list"),
        ):
            try:
                loader(data)
            except ValueError:
                continue
            return kind
    return "DER data shaped like a certificate that does not decode (damaged or cut short?)"
