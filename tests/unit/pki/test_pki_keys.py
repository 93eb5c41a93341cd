"""certctl.pki.keys: generation, encoding, loading and spec matching."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from certctl.api.models import PrivateKeySpec
from certctl.pki.keys import (
    describe_key,
    encode_private_key,
    generate_private_key,
    key_spec_mismatches,
    load_private_key,
    public_keys_equal,
)
from tests.unit.pki.builders import cached_key


@pytest.mark.parametrize(
    ("spec", "description"),
    [
        pytest.param(PrivateKeySpec(), "RSA 2048", id="the default key is RSA 2048"),
        pytest.param(PrivateKeySpec("RSA", 0), "RSA 2048", id="RSA size 0 means 2048"),
        pytest.param(
            PrivateKeySpec("RSA", 2304), "RSA 2304", id="any RSA size from 2048 is allowed"
        ),
        pytest.param(PrivateKeySpec("ECDSA", 256), "ECDSA P-256", id="ECDSA 256 is P-256"),
        pytest.param(PrivateKeySpec("ECDSA", 384), "ECDSA P-384", id="ECDSA 384 is P-384"),
        pytest.param(PrivateKeySpec("ECDSA", 521), "ECDSA P-521", id="ECDSA 521 is P-521"),
        pytest.param(PrivateKeySpec("ECDSA", 0), "ECDSA P-256", id="ECDSA size 0 means P-256"),
        pytest.param(PrivateKeySpec("Ed25519", 0), "Ed25519", id="Ed25519 ignores the size"),
    ],
)
def test_generate_private_key_follows_the_spec(spec: PrivateKeySpec, description: str) -> None:
    key = generate_private_key(spec)
    assert describe_key(key) == description
    assert describe_key(key.public_key()) == description


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(PrivateKeySpec("RSA", 1024), id="RSA below 2048 is refused"),
        pytest.param(PrivateKeySpec("RSA", 16384), id="RSA above 8192 is refused"),
        pytest.param(
            PrivateKeySpec("ECDSA", 255), id="ECDSA sizes other than 256/384/521 are refused"
        ),
    ],
)
def test_generate_private_key_rejects_bad_sizes(spec: PrivateKeySpec) -> None:
    with pytest.raises(ValueError, match="size"):
        generate_private_key(spec)


@pytest.mark.parametrize(
    ("algorithm", "size", "encoding", "header"),
    [
        pytest.param(
            "RSA", 2048, "PKCS1", b"RSA PRIVATE KEY", id="PKCS1 RSA is an RSA PRIVATE KEY block"
        ),
        pytest.param(
            "ECDSA",
            256,
            "PKCS1",
            b"EC PRIVATE KEY",
            id="PKCS1 ECDSA is a SEC1 EC PRIVATE KEY block",
        ),
        pytest.param("Ed25519", 0, "PKCS1", b"PRIVATE KEY", id="Ed25519 is always PKCS8"),
        pytest.param("RSA", 2048, "PKCS8", b"PRIVATE KEY", id="PKCS8 RSA is a PRIVATE KEY block"),
        pytest.param(
            "ECDSA", 384, "PKCS8", b"PRIVATE KEY", id="PKCS8 ECDSA is a PRIVATE KEY block"
        ),
    ],
)
def test_encode_private_key_uses_the_encoding(
    algorithm: str, size: int, encoding: str, header: bytes
) -> None:
    key = cached_key(algorithm, size)
    pem = encode_private_key(key, encoding)  # type: ignore[arg-type]
    assert pem.startswith(b"-----BEGIN " + header + b"-----\n")
    assert b"ENCRYPTED" not in pem
    loaded = load_private_key(pem)
    assert public_keys_equal(loaded, key)


#: Text that would mean cryptography's own parser message reached the user.
PARSER_TEXT = ("ParseError", "UnexpectedTag", "MalformedFraming", "ShortData", "asn1", "Tag {")


def _pkcs8(encoding: serialization.Encoding, key: object = None) -> bytes:
    key = key or cached_key("ECDSA", 256)
    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        encoding, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


PEM_KEY = _pkcs8(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            _pkcs8(serialization.Encoding.DER),
            [
                "tls.key is a DER-encoded PKCS#8 private key (ECDSA P-256), but PEM is expected",
                "openssl pkey -inform DER",
            ],
            id="a DER PKCS#8 key says it is DER and how to convert it",
        ),
        pytest.param(
            b"not a key at all\n",
            [
                "tls.key is text that is not PEM",
                "expected a PEM private key (-----BEGIN PRIVATE KEY",
            ],
            id="text without a BEGIN line is not PEM",
        ),
        pytest.param(b"", ["tls.key is empty"], id="empty data is not a key"),
        pytest.param(
            PEM_KEY[:120],
            ["tls.key is cut short", "-----BEGIN PRIVATE KEY----- line has no matching"],
            id="a truncated PEM key says it is cut short",
        ),
        pytest.param(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            ["PEM PRIVATE KEY block whose contents do not decode as a PKCS#8 private key"],
            id="a broken PEM body names the block and what it should hold",
        ),
        pytest.param(
            b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            ["do not decode as a PKCS#1 RSA private key"],
            id="a broken PKCS#1 body says PKCS#1",
        ),
        pytest.param(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            ["holds a CERTIFICATE block but no private key (are tls.crt and tls.key swapped?)"],
            id="a certificate in tls.key suggests the files are swapped",
        ),
        pytest.param(
            cached_key("RSA", 2048).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            ),
            ["holds an encrypted private key (ENCRYPTED PRIVATE KEY)", "openssl pkey"],
            id="an encrypted key asks to be decrypted",
        ),
        pytest.param(
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
            ["holds a OPENSSH PRIVATE KEY block", "ssh-keygen -p -m PKCS8"],
            id="an OpenSSH key says how to convert it",
        ),
        pytest.param(
            b"\x00\x01\x02 binary",
            ["tls.key is binary data that is neither PEM nor DER"],
            id="binary junk is neither PEM nor DER",
        ),
    ],
)
def test_load_private_key_says_what_the_data_is(data: bytes, expected: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        load_private_key(data)
    message = str(caught.value)
    for fragment in expected:
        assert fragment in message
    for text in PARSER_TEXT:
        assert text not in message


def test_load_private_key_names_its_source() -> None:
    with pytest.raises(ValueError, match=r"^secret default/ca-key tls\.key is empty"):
        load_private_key(b"", source="secret default/ca-key tls.key")


def test_load_private_key_takes_the_first_key_of_a_bundle() -> None:
    bundle = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + PEM_KEY
    assert public_keys_equal(load_private_key(bundle), cached_key("ECDSA", 256))


def test_load_private_key_rejects_unsupported_key_types() -> None:
    dsa_key = dsa.generate_private_key(2048)
    pem = dsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="only RSA, ECDSA and Ed25519"):
        load_private_key(pem)


def test_load_private_key_rejects_other_curves() -> None:
    key = ec.generate_private_key(ec.SECP256K1())
    pem = encode_private_key(key, "PKCS8")
    with pytest.raises(
        ValueError, match=r"tls\.key holds a private key on the elliptic curve secp256k1"
    ):
        load_private_key(pem)


def test_load_private_key_returns_the_concrete_types() -> None:
    assert isinstance(
        load_private_key(encode_private_key(cached_key("RSA", 2048), "PKCS1")), rsa.RSAPrivateKey
    )
    assert isinstance(
        load_private_key(encode_private_key(cached_key("Ed25519", 0), "PKCS8")),
        ed25519.Ed25519PrivateKey,
    )


@pytest.mark.parametrize(
    ("algorithm", "size", "spec", "expected"),
    [
        pytest.param(
            "RSA",
            2048,
            PrivateKeySpec("RSA", 2048),
            [],
            id="an RSA 2048 key matches the default spec",
        ),
        pytest.param(
            "RSA",
            2048,
            PrivateKeySpec("RSA", 2048, encoding="PKCS8"),
            [],
            id="the encoding never counts",
        ),
        pytest.param(
            "RSA",
            2048,
            PrivateKeySpec("RSA", 2048, rotation_policy="Never"),
            [],
            id="the rotation policy never counts",
        ),
        pytest.param(
            "RSA",
            2048,
            PrivateKeySpec("RSA", 4096),
            ["spec.privateKey.size"],
            id="a different RSA size is a size mismatch",
        ),
        pytest.param(
            "ECDSA",
            256,
            PrivateKeySpec("ECDSA", 384),
            ["spec.privateKey.size"],
            id="a different curve is a size mismatch",
        ),
        pytest.param(
            "ECDSA", 256, PrivateKeySpec("ECDSA", 0), [], id="ECDSA size 0 is matched as 256"
        ),
        pytest.param(
            "ECDSA",
            256,
            PrivateKeySpec("RSA", 2048),
            ["spec.privateKey.algorithm"],
            id="an ECDSA key for an RSA spec is an algorithm mismatch",
        ),
        pytest.param(
            "RSA",
            2048,
            PrivateKeySpec("Ed25519", 0),
            ["spec.privateKey.algorithm"],
            id="an RSA key for an Ed25519 spec is an algorithm mismatch",
        ),
        pytest.param(
            "Ed25519",
            0,
            PrivateKeySpec("Ed25519", 0),
            [],
            id="an Ed25519 key matches an Ed25519 spec",
        ),
        pytest.param(
            "Ed25519",
            0,
            PrivateKeySpec("ECDSA", 256),
            ["spec.privateKey.algorithm"],
            id="an Ed25519 key for an ECDSA spec is an algorithm mismatch",
        ),
    ],
)
def test_key_spec_mismatches(
    algorithm: str, size: int, spec: PrivateKeySpec, expected: list[str]
) -> None:
    assert key_spec_mismatches(cached_key(algorithm, size), spec) == expected


def test_public_keys_equal_compares_public_halves() -> None:
    key = cached_key("ECDSA", 256)
    other = cached_key("ECDSA", 384)
    assert public_keys_equal(key, key.public_key())
    assert public_keys_equal(key.public_key(), key)
    assert not public_keys_equal(key, other)


def _inconsistent_rsa_pem(**changes: int) -> bytes:
    """An RSA 2048 key in PKCS#8 PEM with some private numbers changed."""
    numbers = cached_key("RSA", 2048).private_numbers()  # type: ignore[union-attr]
    fields = {
        "p": numbers.p,
        "q": numbers.q,
        "d": numbers.d,
        "dmp1": numbers.dmp1,
        "dmq1": numbers.dmq1,
        "iqmp": numbers.iqmp,
    }
    fields.update(changes)
    broken = rsa.RSAPrivateNumbers(public_numbers=numbers.public_numbers, **fields)
    key = broken.private_key(unsafe_skip_rsa_key_validation=True)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _numbers() -> rsa.RSAPrivateNumbers:
    return cached_key("RSA", 2048).private_numbers()  # type: ignore[union-attr]


INCONSISTENT_RSA = [
    pytest.param(lambda: {"d": _numbers().d + 2}, id="a private exponent that does not invert e"),
    pytest.param(
        lambda: {"dmp1": (_numbers().dmp1 + 2) % _numbers().p}, id="a wrong CRT exponent for p"
    ),
    pytest.param(
        lambda: {"dmq1": (_numbers().dmq1 + 2) % _numbers().q}, id="a wrong CRT exponent for q"
    ),
    pytest.param(
        lambda: {"iqmp": (_numbers().iqmp + 1) % _numbers().p}, id="a wrong CRT coefficient"
    ),
]


@pytest.mark.parametrize("thorough", [True, False], ids=["full check", "quick check"])
@pytest.mark.parametrize("changes", INCONSISTENT_RSA)
def test_an_inconsistent_rsa_key_is_rejected_by_either_check(changes: Any, thorough: bool) -> None:
    pem = _inconsistent_rsa_pem(**changes())

    with pytest.raises(ValueError, match=r"tls\.key .* the key is damaged"):
        load_private_key(pem, thorough=thorough)


@pytest.mark.parametrize(
    ("algorithm", "size"),
    [
        pytest.param("RSA", 2048, id="RSA 2048"),
        pytest.param("RSA", 4096, id="RSA 4096"),
        pytest.param("ECDSA", 384, id="ECDSA P-384"),
        pytest.param("Ed25519", 0, id="Ed25519"),
    ],
)
def test_the_quick_check_loads_the_same_key_as_the_full_one(algorithm: str, size: int) -> None:
    pem = encode_private_key(cached_key(algorithm, size), "PKCS8")

    quick = load_private_key(pem, thorough=False)

    assert public_keys_equal(quick, load_private_key(pem))
    assert (
        quick.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        == pem
    )
