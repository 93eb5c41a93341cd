"""certctl.pki.formats: saying what a file is when it is not what was expected."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from certctl.pki.formats import identify_data, pem_blocks
from certctl.pki.keystores import build_jks
from tests.unit.pki.builders import Authority, cached_key, certificate_spec

KEY = cached_key("ECDSA", 256)
RSA_KEY = cached_key("RSA", 2048)


def _key(encoding: serialization.Encoding, private_format: serialization.PrivateFormat) -> bytes:
    return KEY.private_bytes(encoding, private_format, serialization.NoEncryption())


PEM_KEY = _key(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"", "empty", id="no bytes are empty"),
        pytest.param(b" \n\t", "empty", id="only whitespace is empty"),
        pytest.param(
            _key(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8),
            "a DER-encoded PKCS#8 private key (ECDSA P-256)",
            id="a DER PKCS#8 key names its algorithm",
        ),
        pytest.param(
            _key(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL),
            "a DER-encoded SEC1 EC private key (ECDSA P-256)",
            id="a DER SEC1 key is told apart from PKCS#8",
        ),
        pytest.param(
            RSA_KEY.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ),
            "a DER-encoded PKCS#1 RSA private key (RSA 2048)",
            id="a DER PKCS#1 key is told apart from PKCS#8",
        ),
        pytest.param(
            KEY.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"pw"),
            ),
            "a DER-encoded encrypted PKCS#8 private key",
            id="an encrypted DER key is named as encrypted",
        ),
        pytest.param(
            KEY.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            "a DER-encoded public key",
            id="a DER public key is not a private key",
        ),
        pytest.param(PEM_KEY, "PEM with a PRIVATE KEY block", id="a PEM key names its block"),
        pytest.param(
            PEM_KEY[:100],
            "PEM cut short: its -----BEGIN PRIVATE KEY----- line has no matching "
            "-----END PRIVATE KEY----- line",
            id="a truncated PEM block is cut short",
        ),
        pytest.param(
            base64.b64encode(PEM_KEY),
            "base64 text that decodes to PEM with a PRIVATE KEY block (decode it first with "
            "base64 -d)",
            id="a base64 copy of a Secret value is recognised",
        ),
        pytest.param(
            b"hello world\n",
            "text that is not PEM (there is no -----BEGIN line)",
            id="plain text is not PEM",
        ),
        pytest.param(
            b"\x00\x01\x02\xff binary",
            "binary data that is neither PEM nor DER",
            id="binary junk is neither PEM nor DER",
        ),
        pytest.param(
            b"\x30\x82\x10\x00\x02\x01\x00",
            "DER (ASN.1) data cut short: it declares more bytes than it has",
            id="a DER header longer than the data is cut short",
        ),
    ],
)
def test_identify_data(data: bytes, expected: str) -> None:
    assert identify_data(data) == expected


def test_identify_certificates_and_keystores(root: Authority) -> None:
    leaf = root.issue(certificate_spec(common_name="app"), key=KEY)
    der = leaf.public_bytes(serialization.Encoding.DER)
    pem = leaf.public_bytes(serialization.Encoding.PEM)
    p12 = pkcs12.serialize_key_and_certificates(
        None, KEY, leaf, None, serialization.BestAvailableEncryption(b"pw")
    )
    jks, _ = build_jks(KEY, [leaf], [], "pw")

    assert identify_data(der) == "a DER certificate"
    assert identify_data(pem + pem) == "PEM with 2 CERTIFICATE blocks"
    assert identify_data(PEM_KEY + pem) == "PEM with PRIVATE KEY and CERTIFICATE blocks"
    assert identify_data(p12) == "a PKCS#12 keystore"
    assert identify_data(jks) == "a JKS keystore"
    assert (
        identify_data(der[:-10]) == "DER (ASN.1) data cut short: it declares more bytes than it has"
    )


def test_pem_blocks_marks_the_block_without_an_end_line(root: Authority) -> None:
    pem = root.certificate.public_bytes(serialization.Encoding.PEM)
    blocks = pem_blocks(pem + pem[:80])
    assert [(block.label, block.complete) for block in blocks] == [
        ("CERTIFICATE", True),
        ("CERTIFICATE", False),
    ]
    assert blocks[0].text == pem.strip()
