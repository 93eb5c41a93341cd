"""Keystores and additional output formats written next to ``tls.crt``/``tls.key``.

Mirrors ``pkg/controller/certificates/issuing/internal/keystore.go`` and the
``additionalOutputFormats`` of ``secret.go`` (reference §1.4 and §2).
cert-manager encodes PKCS#12 with ``software.sslmate.com/src/go-pkcs12``; its
profiles map onto ``cryptography`` where that library can produce them and onto
the ``openssl`` command where it cannot (RC2-40 and PBMAC1). cert-manager writes
JKS with ``github.com/pavlo-v-chernykh/keystore-go``; certctl uses pyjks, imported
only when a JKS keystore is asked for.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import importlib
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from certctl.errors import IssuanceError, NotSupportedError

from .certificates import encode_pem
from .keys import PrivateKey

__all__ = [
    "PKCS12_PROFILES",
    "build_jks",
    "build_pkcs12",
    "combined_pem",
    "key_der",
    "openssl_version",
]

#: ``keystores.pkcs12.profile`` values; an empty profile means ``LegacyRC2``.
PKCS12_PROFILES: Final = ("LegacyRC2", "LegacyDES", "Modern2023", "Modern2026")

# go-pkcs12 uses 2048 PBKDF iterations for both encryption and the MAC in every encoder.
_ITERATIONS: Final = 2048
_PASSWORD_ENV: Final = "CERTCTL_PKCS12_PASSWORD"
_OPENSSL_TIMEOUT_SECONDS: Final = 60
_PEM_BLOCK: Final = re.compile(rb"-----BEGIN ([^\r\n-]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


def build_pkcs12(
    key: PrivateKey,
    chain: Sequence[x509.Certificate],
    ca_certs: Sequence[x509.Certificate],
    password: str,
    profile: str,
    *,
    openssl: str = "openssl",
) -> tuple[bytes, bytes | None]:
    """Build ``keystore.p12`` and, when there are CA certificates, ``truststore.p12``.

    The keystore holds the key and the leaf, with the rest of ``tls.crt`` plus
    the ``ca.crt`` certificates as extra certificates; the truststore holds the
    ``ca.crt`` certificates only, marked as trusted for Java as go-pkcs12 does.
    Profiles (go-pkcs12 encoders):

    * ``LegacyRC2`` (default): certificates RC2-40, key 3DES, SHA-1 MAC. Built
      with ``openssl pkcs12 -export -legacy``, as ``cryptography`` cannot
      write RC2.
    * ``LegacyDES``: 3DES for key and certificates, SHA-1 MAC.
    * ``Modern2023``: PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC), SHA-256 MAC.
    * ``Modern2026``: as Modern2023 but with a PBMAC1 MAC, which needs
      OpenSSL 3.4 or newer.

    The password reaches ``openssl`` through the child's environment and the key
    through its standard input; neither touches the command line or the disk.

    Args:
        key: the private key.
        chain: ``tls.crt`` certificates, leaf first.
        ca_certs: ``ca.crt`` certificates (may be empty).
        password: the keystore password.
        profile: ``keystores.pkcs12.profile`` (empty means ``LegacyRC2``).
        openssl: the ``openssl`` executable to use for the OpenSSL profiles.

    Returns:
        ``(keystore, truststore or None)``.

    Raises:
        ValueError: ``chain`` is empty.
        NotSupportedError: the profile is unknown, or needs an ``openssl`` this
            machine does not have.
        IssuanceError: ``openssl`` failed for another reason.
    """
    if not chain:
        raise ValueError("a PKCS#12 keystore needs at least the leaf certificate")
    leaf, extra = chain[0], [*chain[1:], *ca_certs]
    profile = profile or "LegacyRC2"
    if profile in ("LegacyDES", "Modern2023"):
        encryption = _cryptography_encryption(profile, password)
        keystore = pkcs12.serialize_key_and_certificates(None, key, leaf, extra or None, encryption)
        return keystore, _java_truststore(ca_certs, encryption)
    if profile == "LegacyRC2":
        options = [
            "-legacy",
            "-keypbe",
            "PBE-SHA1-3DES",
            "-certpbe",
            "PBE-SHA1-RC2-40",
            "-macalg",
            "sha1",
        ]
        _require_openssl(openssl, profile, minimum=(3, 0), why="for RC2-40 encryption")
    elif profile == "Modern2026":
        options = [
            "-keypbe",
            "AES-256-CBC",
            "-certpbe",
            "AES-256-CBC",
            "-macalg",
            "sha256",
            "-pbmac1_pbkdf2",
            "-pbmac1_pbkdf2_md",
            "sha256",
        ]
        _require_openssl(openssl, profile, minimum=(3, 4), why="for PBMAC1")
    else:
        raise NotSupportedError(
            f"The PKCS#12 profile {profile!r} is unknown",
            hint=f"Use one of {', '.join(PKCS12_PROFILES)}",
            reason="KeystoreNotSupported",
        )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    keystore = _openssl_pkcs12(
        openssl, key_pem + encode_pem([leaf, *extra]), password, options, profile
    )
    if profile == "LegacyRC2":
        # cryptography cannot write RC2-40, and OpenSSL before 3.2 cannot mark a
        # certificate as trusted for Java (-jdktrust). The truststore holds only public
        # certificates, so they are sealed with 3DES and a SHA-1 MAC instead: every
        # reader of a LegacyRC2 keystore already needs both for its key.
        return keystore, _java_truststore(ca_certs, _cryptography_encryption("LegacyDES", password))
    truststore = None
    if ca_certs:
        truststore = _openssl_pkcs12(
            openssl,
            encode_pem(ca_certs),
            password,
            [*options, "-nokeys", "-jdktrust", "anyExtendedKeyUsage"],
            profile,
        )
    return keystore, truststore


def build_jks(
    key: PrivateKey,
    chain: Sequence[x509.Certificate],
    ca_certs: Sequence[x509.Certificate],
    password: str,
    alias: str = "certificate",
) -> tuple[bytes, bytes | None]:
    """Build ``keystore.jks`` and, when there are CA certificates, ``truststore.jks``.

    The layout is cert-manager's (``encodeJKSKeystore`` and ``encodeJKSTruststore``):
    the keystore holds one PrivateKeyEntry named ``alias`` with the key (PKCS#8,
    protected with the store password by the JKS key-protection algorithm) and
    the whole ``tls.crt`` chain, plus every ``ca.crt`` certificate as a
    TrustedCertEntry named ``ca``, ``ca-1``, ``ca-2``...; the truststore holds
    those trusted entries only. JKS aliases are case-insensitive and Java keeps
    them in lower case, so ``alias`` is stored lower-cased, as keytool would.

    Args:
        key: the private key.
        chain: ``tls.crt`` certificates, leaf first.
        ca_certs: ``ca.crt`` certificates (may be empty).
        password: the store password, which also protects the key.
        alias: ``keystores.jks.alias``.

    Returns:
        ``(keystore, truststore or None)``.

    Raises:
        ValueError: ``chain`` is empty.
        IssuanceError: ``alias`` is one of the ``ca`` aliases.
        NotSupportedError: the pyjks library is not installed.
    """
    if not chain:
        raise ValueError("a JKS keystore needs at least the leaf certificate")
    jks = _import_pyjks()
    trusted = _jks_trusted_aliases(len(ca_certs))
    if alias.lower() in trusted:
        # keystore-go (cert-manager) would silently replace the key entry with the CA.
        raise IssuanceError(
            f"The JKS alias {alias!r} is also the alias certctl gives a ca.crt "
            "certificate in keystore.jks, so the key entry would be lost",
            hint="Choose another spec.keystores.jks.alias (the default is certificate)",
            reason="InvalidKeystoreAlias",
        )
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    der_chain = [cert.public_bytes(serialization.Encoding.DER) for cert in chain]
    with _pyjks_warnings():
        trusted_entries = [
            jks.TrustedCertEntry.new(name, cert.public_bytes(serialization.Encoding.DER))
            for name, cert in zip(trusted, ca_certs, strict=True)
        ]
        key_entry = jks.PrivateKeyEntry.new(alias, der_chain, pkcs8, "pkcs8")
        # saves() encrypts the key entry with the store password: JKS has one password.
        keystore: bytes = jks.KeyStore.new("jks", [key_entry, *trusted_entries]).saves(password)
        truststore: bytes | None = None
        if trusted_entries:
            truststore = jks.KeyStore.new("jks", trusted_entries).saves(password)
    return keystore, truststore


def combined_pem(key_pem: bytes, chain_pem: bytes) -> bytes:
    """``tls-combined.pem``: the ``tls.key`` bytes, a newline, then the ``tls.crt`` bytes."""
    return key_pem + b"\n" + chain_pem


def key_der(key_pem: bytes) -> bytes:
    """``key.der``: the DER body of the first PEM block of ``tls.key``.

    Raises:
        ValueError: there is no PEM block or its body is not base64.
    """
    match = _PEM_BLOCK.search(key_pem)
    if match is None:
        raise ValueError("the private key is not PEM encoded")
    body = match.group(2)
    if b":" in body:
        raise ValueError("the private key PEM block has headers (is it encrypted?)")
    try:
        return base64.b64decode(b"".join(body.split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"the private key PEM block is not valid base64: {exc}") from exc


def openssl_version(openssl: str = "openssl") -> tuple[tuple[int, int, int], str] | None:
    """The version of the ``openssl`` command as ``((major, minor, patch), text)``.

    Returns:
        None when the command is missing or is not OpenSSL (LibreSSL, BoringSSL).
    """
    executable = shutil.which(openssl)
    if executable is None:
        return None
    try:
        result = subprocess.run(
            [executable, "version"],
            capture_output=True,
            check=False,
            timeout=_OPENSSL_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = result.stdout.decode("utf-8", "replace").strip()
    match = re.match(r"OpenSSL (\d+)\.(\d+)\.(\d+)", text)
    if result.returncode != 0 or match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return (major, minor, patch), text.split(" (")[0]


def _import_pyjks() -> Any:
    """Import pyjks on first use: only a Certificate with ``keystores.jks`` needs it."""
    try:
        with _pyjks_warnings():
            return importlib.import_module("jks")
    except ImportError as exc:
        raise NotSupportedError(
            "JKS keystores need the pyjks library, which is not installed",
            hint="Install certctl with its dependencies (pip install pyjks), or use "
            "keystores.pkcs12",
            reason="KeystoreNotSupported",
        ) from exc


@contextlib.contextmanager
def _pyjks_warnings() -> Iterator[None]:
    """Keep pyjks's dependencies from turning into warnings the user would see.

    pyjks 20.0 (2020) imports javaobj, pyasn1 and pycryptodomex, and calls pyasn1
    in ways newer releases may deprecate; such a DeprecationWarning is about
    pyjks's code, says nothing about the keystore, and would break a run under
    ``-W error``. The JKS bytes are checked by keytool in the tests instead.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        yield


def _jks_trusted_aliases(count: int) -> list[str]:
    """cert-manager's aliases for ``ca.crt`` certificates: ``ca``, ``ca-1``, ``ca-2``..."""
    return ["ca" if index == 0 else f"ca-{index}" for index in range(count)]


def _java_truststore(
    ca_certs: Sequence[x509.Certificate], encryption: serialization.KeySerializationEncryption
) -> bytes | None:
    """``truststore.p12``: the CA certificates, each marked as a trust anchor for Java.

    Java's PKCS12 keystore ignores a certificate bag without Oracle's trusted-key-usage
    attribute (OID 2.16.840.1.113894.746875.1.1), so a plain bag of certificates is an
    empty truststore to keytool. go-pkcs12's ``EncodeTrustStore`` (cert-manager) sets it
    to anyExtendedKeyUsage and names each entry after the certificate's subject; so
    does this.
    """
    if not ca_certs:
        return None
    entries = [
        pkcs12.PKCS12Certificate(cert, cert.subject.rfc4514_string().encode("utf-8"))
        for cert in ca_certs
    ]
    return pkcs12.serialize_java_truststore(entries, encryption)


def _cryptography_encryption(
    profile: str, password: str
) -> serialization.KeySerializationEncryption:
    builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(_ITERATIONS)
    if profile == "LegacyDES":
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(
            hashes.SHA1()
        )
    else:
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(
            hashes.SHA256()
        )
    return builder.build(password.encode("utf-8"))


def _require_openssl(openssl: str, profile: str, *, minimum: tuple[int, int], why: str) -> None:
    found = openssl_version(openssl)
    if found is None:
        raise NotSupportedError(
            f"The PKCS#12 profile {profile} needs the openssl command {why}, "
            "and no OpenSSL was found on this machine",
            hint="Install OpenSSL 3 or use profile Modern2023",
            reason="KeystoreNotSupported",
        )
    version, text = found
    if version[:2] < minimum:
        needed = ".".join(str(part) for part in minimum)
        hint = (
            "use profile Modern2023 instead"
            if profile == "Modern2026"
            else "upgrade OpenSSL or use profile Modern2023"
        )
        raise NotSupportedError(
            f"The PKCS#12 profile {profile} needs OpenSSL {needed} or newer {why}; "
            f"this machine has {text}; {hint}",
            hint=hint[0].upper() + hint[1:],
            reason="KeystoreNotSupported",
        )


def _openssl_pkcs12(
    openssl: str, pem_input: bytes, password: str, options: list[str], profile: str
) -> bytes:
    executable = shutil.which(openssl) or openssl
    command = [
        executable,
        "pkcs12",
        "-export",
        "-passout",
        f"env:{_PASSWORD_ENV}",
        "-iter",
        str(_ITERATIONS),
        *options,
    ]
    env = {**os.environ, _PASSWORD_ENV: password}
    try:
        result = subprocess.run(
            command,
            input=pem_input,
            capture_output=True,
            env=env,
            check=False,
            timeout=_OPENSSL_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise IssuanceError(
            f"openssl could not build the PKCS#12 keystore: {exc}",
            hint="Check that the openssl command works on this machine",
        ) from exc
    if result.returncode == 0 and result.stdout:
        return result.stdout
    error = result.stderr.decode("utf-8", "replace").strip()
    lowered = error.lower()
    if "legacy" in lowered or "unsupported" in lowered or "rc2" in lowered:
        raise NotSupportedError(
            f"The PKCS#12 profile {profile} needs OpenSSL's legacy provider (for RC2-40), "
            f"which this OpenSSL cannot load: {_last_line(error)}",
            hint="Install the OpenSSL legacy provider or use profile Modern2023",
            reason="KeystoreNotSupported",
        )
    raise IssuanceError(
        f"openssl pkcs12 failed while building the {profile} keystore: {_last_line(error)}",
        hint="Run 'openssl version' to check the installation, or use profile Modern2023",
    )


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"
