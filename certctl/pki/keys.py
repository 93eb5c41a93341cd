"""Private keys: generation, PEM encoding, loading and comparison with the spec.

Mirrors ``pkg/util/pki/generate.go`` and ``match.go`` in cert-manager: the
algorithm and size come from ``spec.privateKey``, the PEM block type from
``spec.privateKey.encoding``, and only algorithm and size count as a mismatch.
"""

from __future__ import annotations

from typing import TypeAlias, cast

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from certctl.api.models import KeyEncoding, PrivateKeySpec

from .formats import identify_data, pem_blocks

__all__ = [
    "PrivateKey",
    "PublicKey",
    "describe_key",
    "encode_private_key",
    "generate_private_key",
    "key_spec_mismatches",
    "load_private_key",
    "public_key_der",
    "public_keys_equal",
]

#: The private key types cert-manager can generate (``spec.privateKey.algorithm``).
PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
#: The matching public key types.
PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

# cert-manager's public exponent for generated RSA keys (Go's rsa.GenerateKey uses 65537).
_RSA_PUBLIC_EXPONENT = 65537

# ECDSA sizes accepted by cert-manager and the curve each one selects.
_ECDSA_CURVES: dict[int, type[ec.EllipticCurve]] = {
    256: ec.SECP256R1,
    384: ec.SECP384R1,
    521: ec.SECP521R1,
}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}

#: The PEM labels of unencrypted private keys certctl reads, and what each holds.
_PEM_KEY_LABELS = {
    "PRIVATE KEY": "a PKCS#8 private key",
    "RSA PRIVATE KEY": "a PKCS#1 RSA private key",
    "EC PRIVATE KEY": "a SEC1 EC private key",
}

_DEFAULT_RSA_SIZE = 2048
_DEFAULT_ECDSA_SIZE = 256


def generate_private_key(spec: PrivateKeySpec) -> PrivateKey:
    """Generate a new private key as ``spec.privateKey`` describes.

    A size of 0 selects cert-manager's default for the algorithm (RSA 2048,
    ECDSA 256); the size is ignored for Ed25519.

    Args:
        spec: the defaulted ``spec.privateKey``.

    Returns:
        A fresh private key.

    Raises:
        ValueError: the algorithm is unknown or the size is not allowed for it.
    """
    if spec.algorithm == "RSA":
        size = spec.size or _DEFAULT_RSA_SIZE
        # The webhook accepts any RSA size from 2048 to 8192 (not only 2048/4096/8192).
        if not 2048 <= size <= 8192:
            raise ValueError(f"RSA key size must be between 2048 and 8192, not {size}")
        return rsa.generate_private_key(public_exponent=_RSA_PUBLIC_EXPONENT, key_size=size)
    if spec.algorithm == "ECDSA":
        size = spec.size or _DEFAULT_ECDSA_SIZE
        curve = _ECDSA_CURVES.get(size)
        if curve is None:
            raise ValueError(f"ECDSA key size must be 256, 384 or 521, not {size}")
        return ec.generate_private_key(curve())
    if spec.algorithm == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported private key algorithm {spec.algorithm!r}")


def encode_private_key(key: PrivateKey, encoding: KeyEncoding) -> bytes:
    """Encode ``key`` as an unencrypted PEM block, as cert-manager writes ``tls.key``.

    PKCS1 gives ``RSA PRIVATE KEY`` for RSA and SEC1 ``EC PRIVATE KEY`` for
    ECDSA. Ed25519 has no PKCS#1 form, so it is always PKCS#8 (``PRIVATE KEY``),
    as in cert-manager's ``EncodePrivateKey``.

    Args:
        key: the private key.
        encoding: ``spec.privateKey.encoding``.

    Returns:
        The PEM bytes, ending in a newline.

    Raises:
        ValueError: the encoding is unknown.
    """
    if encoding == "PKCS8" or isinstance(key, ed25519.Ed25519PrivateKey):
        private_format = serialization.PrivateFormat.PKCS8
    elif encoding == "PKCS1":
        # TraditionalOpenSSL is PKCS#1 for RSA and SEC1 (RFC 5915) for EC keys.
        private_format = serialization.PrivateFormat.TraditionalOpenSSL
    else:
        raise ValueError(f"unsupported private key encoding {encoding!r}")
    return key.private_bytes(
        serialization.Encoding.PEM, private_format, serialization.NoEncryption()
    )


def load_private_key(data: bytes, *, source: str = "tls.key", thorough: bool = True) -> PrivateKey:
    """Decode an unencrypted PEM private key (PKCS#1, SEC1 or PKCS#8).

    Every error is one plain sentence that names ``source``, says what the data
    is and what was expected, and what to do; cryptography's parser messages
    (``ParseError {...}``, ``MalformedFraming``) never reach it.

    Args:
        data: the PEM bytes, for example a Secret's ``tls.key``.
        source: what to call the data in messages (a file or a Secret key).
        thorough: run OpenSSL's full RSA key check, which proves that p and q are
            prime (about 40 ms for RSA 2048 and 400 ms for RSA 4096). With False,
            an RSA key is checked as Go's ``crypto/rsa`` (and so cert-manager) checks
            it, in microseconds: n = p·q, e·d ≡ 1 modulo p−1 and q−1, and the CRT
            values agree. Use False only where the key is compared or re-encoded and
            never signs (the readiness and reissue checks); signing keeps True.

    Returns:
        The key, from the first private key block.

    Raises:
        ValueError: the data is not a decodable private key, is encrypted, is an
            inconsistent RSA key, or is of a type cert-manager does not issue for
            (DSA, X25519, Ed448...).
    """
    blocks = [block for block in pem_blocks(data) if block.label.endswith("PRIVATE KEY")]
    if not blocks:
        raise ValueError(_not_a_private_key(data, source))
    block = blocks[0]
    if not block.complete:
        raise ValueError(
            f"{source} is cut short: its -----BEGIN {block.label}----- line has no matching "
            f"-----END {block.label}----- line; restore the whole file or reissue the "
            "certificate"
        )
    if block.encrypted:
        raise ValueError(
            f"{source} holds an encrypted private key ({block.label}); certctl needs it "
            "unencrypted: decrypt it with 'openssl pkey -in FILE -out FILE.pem'"
        )
    if block.label not in _PEM_KEY_LABELS:
        raise ValueError(
            f"{source} holds a {block.label} block, which is not a format certctl reads; "
            "expected PEM PRIVATE KEY (PKCS#8), RSA PRIVATE KEY or EC PRIVATE KEY: convert "
            "it with 'openssl pkey -in FILE -out FILE.pem' (or 'ssh-keygen -p -m PKCS8' for "
            "an OpenSSH key)"
        )
    try:
        key = serialization.load_pem_private_key(
            block.text, password=None, unsafe_skip_rsa_key_validation=not thorough
        )
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{source} has a PEM {block.label} block whose contents do not decode as "
            f"{_PEM_KEY_LABELS[block.label]}: the key is damaged or cut short; restore it "
            "or reissue the certificate"
        ) from exc
    except UnsupportedAlgorithm as exc:  # for example a curve OpenSSL does not know
        raise ValueError(
            f"{source} holds a private key of a type this machine's OpenSSL cannot load; "
            "only RSA, ECDSA (P-256, P-384, P-521) and Ed25519 keys are supported"
        ) from exc
    if isinstance(key, rsa.RSAPrivateKey):
        if not thorough and not _rsa_numbers_consistent(key.private_numbers()):
            raise ValueError(
                f"{source} holds an RSA private key whose numbers are inconsistent: the key "
                "is damaged; restore it or reissue the certificate"
            )
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in _CURVE_NAMES:
            raise ValueError(
                f"{source} holds a private key on the elliptic curve {key.curve.name}; "
                "only P-256, P-384 and P-521 are supported"
            )
        return key
    raise ValueError(
        f"{source} holds a {type(key).__name__.removeprefix('_')}; "
        "only RSA, ECDSA and Ed25519 keys are supported"
    )


def _not_a_private_key(data: bytes, source: str) -> str:
    """Why ``data`` holds no PEM private key block, and what to do about it."""
    found = identify_data(data)
    expected = "expected a PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or "
    expected += "EC PRIVATE KEY)"
    if found.startswith("a DER-encoded") and "private key" in found:
        return (
            f"{source} is {found}, but PEM is expected; convert it with "
            "'openssl pkey -inform DER -in FILE -out FILE.pem'"
        )
    if found.startswith("PEM with"):
        hint = " (are tls.crt and tls.key swapped?)" if "CERTIFICATE" in found else ""
        return (
            f"{source} holds {found.removeprefix('PEM with ')} but no private key{hint}; {expected}"
        )
    return f"{source} is {found}, not a private key; {expected}"


def _rsa_numbers_consistent(numbers: rsa.RSAPrivateNumbers) -> bool:
    """Go's ``rsa.PrivateKey.Validate`` plus the CRT values OpenSSL signs with."""
    p, q, d = numbers.p, numbers.q, numbers.d
    n, e = numbers.public_numbers.n, numbers.public_numbers.e
    if p <= 1 or q <= 1 or e <= 1 or p * q != n:
        return False
    if (e * d) % (p - 1) != 1 % (p - 1) or (e * d) % (q - 1) != 1 % (q - 1):
        return False
    return (
        numbers.dmp1 == d % (p - 1) and numbers.dmq1 == d % (q - 1) and (numbers.iqmp * q) % p == 1
    )


def key_spec_mismatches(key: PrivateKey, spec: PrivateKeySpec) -> list[str]:
    """List the ``spec.privateKey`` fields that ``key`` does not satisfy.

    Mirrors cert-manager's ``PrivateKeyMatchesSpec``: a different algorithm is
    reported alone as ``spec.privateKey.algorithm``; otherwise an RSA bit
    length or an ECDSA curve that differs from the (defaulted) size is
    ``spec.privateKey.size``. The encoding never counts (it is only re-applied
    at the next issuance).

    Args:
        key: the existing key, for example from the Secret's ``tls.key``.
        spec: the defaulted ``spec.privateKey``.

    Returns:
        The violated field paths, empty when the key matches.
    """
    if spec.algorithm == "RSA":
        if not isinstance(key, rsa.RSAPrivateKey):
            return ["spec.privateKey.algorithm"]
        if key.key_size != (spec.size or _DEFAULT_RSA_SIZE):
            return ["spec.privateKey.size"]
        return []
    if spec.algorithm == "ECDSA":
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            return ["spec.privateKey.algorithm"]
        if key.curve.key_size != (spec.size or _DEFAULT_ECDSA_SIZE):
            return ["spec.privateKey.size"]
        return []
    if spec.algorithm == "Ed25519":
        return [] if isinstance(key, ed25519.Ed25519PrivateKey) else ["spec.privateKey.algorithm"]
    return ["spec.privateKey.algorithm"]


def public_key_der(key: PrivateKeyTypes | PublicKeyTypes) -> bytes:
    """Return the DER SubjectPublicKeyInfo of a private or public key."""
    # Every private key type has public_key(); public keys are used as they are.
    derive = getattr(key, "public_key", None)
    public = cast(PublicKeyTypes, derive() if callable(derive) else key)
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_keys_equal(
    a: PrivateKeyTypes | PublicKeyTypes, b: PrivateKeyTypes | PublicKeyTypes
) -> bool:
    """Compare the public halves of two keys by their SubjectPublicKeyInfo DER.

    This is how cert-manager checks that ``tls.key`` belongs to ``tls.crt`` and
    that a CSR was made with the expected key. Accepts private or public keys.
    """
    return public_key_der(a) == public_key_der(b)


def describe_key(key: object) -> str:
    """Describe a key for humans: ``RSA 2048``, ``ECDSA P-256`` or ``Ed25519``."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        name = key.curve.name
        return f"ECDSA {_CURVE_NAMES.get(name, name)}"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(key).__name__.removeprefix("_")
