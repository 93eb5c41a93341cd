"""certctl.pki.keystores: PKCS#12 profiles, JKS keystores and additional output formats."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from certctl.errors import IssuanceError, NotSupportedError
from certctl.pki.certificates import encode_pem
from certctl.pki.keys import encode_private_key, load_private_key, public_keys_equal
from certctl.pki.keystores import (
    build_jks,
    build_pkcs12,
    combined_pem,
    key_der,
    openssl_version,
)
from tests.unit.pki.builders import Authority, cached_key, certificate_spec, make_authority

PASSWORD = "s3cret pass"


@pytest.fixture(scope="module")
def leaf_chain(
    root: Authority, intermediate: Authority
) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    leaf = intermediate.issue(
        certificate_spec(common_name="app.example.com"), key=cached_key("RSA", 2048)
    )
    return [leaf, intermediate.certificate], [root.certificate]


def _openssl_info(openssl: str, data: bytes, tmp_path: Path, *, legacy: bool = True) -> str:
    path = tmp_path / "store.p12"
    path.write_bytes(data)
    command = [
        openssl,
        "pkcs12",
        "-info",
        "-noout",
        "-in",
        str(path),
        "-passin",
        f"pass:{PASSWORD}",
    ]
    if legacy:
        command.append("-legacy")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


@pytest.mark.parametrize(
    ("profile", "markers"),
    [
        pytest.param(
            "LegacyDES",
            ["MAC: sha1", "pbeWithSHA1And3-KeyTripleDES-CBC"],
            id="LegacyDES uses 3DES and a SHA-1 MAC",
        ),
        pytest.param(
            "Modern2023",
            ["MAC: sha256", "PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256"],
            id="Modern2023 uses PBES2 AES-256 and a SHA-256 MAC",
        ),
        pytest.param(
            "LegacyRC2",
            [
                "MAC: sha1",
                "pbeWithSHA1And40BitRC2-CBC",
                "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC",
            ],
            id="LegacyRC2 uses RC2-40 for certificates and 3DES for the key",
        ),
        pytest.param(
            "",
            ["pbeWithSHA1And40BitRC2-CBC"],
            id="an empty profile means LegacyRC2",
        ),
    ],
)
def test_pkcs12_keystore_round_trips(
    profile: str,
    markers: list[str],
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
    openssl: str,
    tmp_path: Path,
) -> None:
    chain, ca_certs = leaf_chain
    key = cached_key("RSA", 2048)
    keystore, truststore = build_pkcs12(key, chain, ca_certs, PASSWORD, profile)

    loaded = pkcs12.load_pkcs12(keystore, PASSWORD.encode())
    assert loaded.key is not None and public_keys_equal(loaded.key, key)
    assert loaded.cert is not None and loaded.cert.certificate == chain[0]
    # Intermediates from tls.crt, then the ca.crt certificates.
    assert [c.certificate for c in loaded.additional_certs] == [chain[1], *ca_certs]

    assert truststore is not None
    trusted = pkcs12.load_pkcs12(truststore, PASSWORD.encode())
    assert trusted.key is None and trusted.cert is None
    assert [c.certificate for c in trusted.additional_certs] == ca_certs

    info = _openssl_info(openssl, keystore, tmp_path)
    for marker in markers:
        assert marker in info
    assert "Iteration 2048" in info


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param("LegacyRC2", id="a LegacyRC2 truststore marks its CAs as trusted for Java"),
        pytest.param("LegacyDES", id="a LegacyDES truststore marks its CAs as trusted for Java"),
        pytest.param("Modern2023", id="a Modern2023 truststore marks its CAs as trusted for Java"),
    ],
)
def test_pkcs12_truststore_marks_cas_as_trusted_for_java(
    profile: str,
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
    openssl: str,
    tmp_path: Path,
) -> None:
    # Without Oracle's trusted-key-usage bag attribute, keytool lists 0 entries.
    chain, ca_certs = leaf_chain
    _, truststore = build_pkcs12(cached_key("RSA", 2048), chain, ca_certs, PASSWORD, profile)
    assert truststore is not None
    path = tmp_path / "truststore.p12"
    path.write_bytes(truststore)
    command = [
        openssl,
        "pkcs12",
        "-info",
        "-nokeys",
        "-in",
        str(path),
        "-passin",
        f"pass:{PASSWORD}",
    ]
    result = subprocess.run([*command, "-legacy"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "2.16.840.1.113894.746875.1.1" in result.stdout
    assert "friendlyName: CN=Test Root CA" in result.stdout


def test_pkcs12_without_ca_certs_has_no_truststore(
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
) -> None:
    chain, _ = leaf_chain
    keystore, truststore = build_pkcs12(
        cached_key("RSA", 2048), chain[:1], [], PASSWORD, "Modern2023"
    )
    assert truststore is None
    assert pkcs12.load_pkcs12(keystore, PASSWORD.encode()).additional_certs == []


def test_pkcs12_holds_ecdsa_and_ed25519_keys(root: Authority) -> None:
    for key in (cached_key("ECDSA", 256), cached_key("Ed25519", 0)):
        leaf = root.issue(certificate_spec(common_name="k"), key=key)
        for profile in ("LegacyRC2", "Modern2023"):
            keystore, _ = build_pkcs12(key, [leaf], [], PASSWORD, profile)
            loaded = pkcs12.load_pkcs12(keystore, PASSWORD.encode())
            assert loaded.key is not None and public_keys_equal(loaded.key, key)


def test_pkcs12_password_never_reaches_the_command_line(
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[list[str]] = []
    original = subprocess.run

    def spy(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        seen.append(list(command))
        return original(command, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(subprocess, "run", spy)
    chain, ca_certs = leaf_chain
    build_pkcs12(cached_key("RSA", 2048), chain, ca_certs, PASSWORD, "LegacyRC2")
    pkcs12_calls = [c for c in seen if "pkcs12" in c]
    assert len(pkcs12_calls) == 1  # the keystore; the truststore is built in-process
    for command in pkcs12_calls:
        assert PASSWORD not in " ".join(command)
        assert "env:CERTCTL_PKCS12_PASSWORD" in command


def test_pkcs12_openssl_profiles_need_openssl(
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
) -> None:
    chain, _ = leaf_chain
    with pytest.raises(NotSupportedError, match="no OpenSSL was found") as caught:
        build_pkcs12(
            cached_key("RSA", 2048),
            chain,
            [],
            PASSWORD,
            "LegacyRC2",
            openssl="no-such-openssl-here",
        )
    assert caught.value.reason == "KeystoreNotSupported"


def test_pkcs12_modern2026_needs_openssl_3_4(
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]], openssl: str
) -> None:
    found = openssl_version(openssl)
    assert found is not None
    version, text = found
    chain, _ = leaf_chain
    if version[:2] >= (3, 4):
        keystore, _ = build_pkcs12(cached_key("RSA", 2048), chain, [], PASSWORD, "Modern2026")
        loaded = pkcs12.load_pkcs12(keystore, PASSWORD.encode()).key
        assert loaded is not None and public_keys_equal(loaded, cached_key("RSA", 2048))
        return
    with pytest.raises(NotSupportedError) as caught:
        build_pkcs12(cached_key("RSA", 2048), chain, [], PASSWORD, "Modern2026")
    message = str(caught.value)
    assert "needs OpenSSL 3.4 or newer for PBMAC1" in message
    assert f"this machine has {text}" in message
    assert "use profile Modern2023 instead" in message


def test_pkcs12_unknown_profile_is_not_supported(
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
) -> None:
    chain, _ = leaf_chain
    with pytest.raises(NotSupportedError, match="unknown"):
        build_pkcs12(cached_key("RSA", 2048), chain, [], PASSWORD, "Modern1999")


def test_pkcs12_needs_a_certificate() -> None:
    with pytest.raises(ValueError, match="leaf"):
        build_pkcs12(cached_key("RSA", 2048), [], [], PASSWORD, "Modern2023")


def _load_jks(data: bytes, password: str = PASSWORD) -> Any:
    """Read a JKS back with pyjks, which checks the store's SHA-1 seal and decrypts keys."""
    import jks

    return jks.KeyStore.loads(data, password)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def test_jks_keystore_has_the_key_the_chain_and_the_cas(
    root: Authority,
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
) -> None:
    chain, ca_certs = leaf_chain
    second_ca = make_authority("Second Root CA").certificate
    key = cached_key("RSA", 2048)

    keystore, truststore = build_jks(key, chain, [*ca_certs, second_ca], PASSWORD)

    loaded = _load_jks(keystore)
    assert loaded.store_type == "jks"
    assert sorted(loaded.entries) == ["ca", "ca-1", "certificate"]
    entry = loaded.private_keys["certificate"]
    assert [der for _, der in entry.cert_chain] == [_der(chain[0]), _der(chain[1])]
    decrypted = serialization.load_der_private_key(entry.pkey_pkcs8, password=None)
    assert public_keys_equal(decrypted, key)
    assert loaded.certs["ca"].cert == _der(root.certificate)
    assert loaded.certs["ca-1"].cert == _der(second_ca)
    assert truststore is not None
    trusted = _load_jks(truststore)
    assert sorted(trusted.entries) == ["ca", "ca-1"]
    assert trusted.private_keys == {}
    assert trusted.certs["ca"].cert == _der(root.certificate)


def test_jks_store_and_key_are_sealed_with_the_password(
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
) -> None:
    import jks

    chain, ca_certs = leaf_chain
    keystore, truststore = build_jks(cached_key("RSA", 2048), chain, ca_certs, PASSWORD)
    assert keystore.startswith(bytes.fromhex("feedfeed00000002"))
    for data in (keystore, truststore):
        assert data is not None
        with pytest.raises(jks.KeystoreSignatureException):
            jks.KeyStore.loads(data, "wrong")
    # The key is stored encrypted, never as its plain PKCS#8 bytes.
    key_pkcs8 = cached_key("RSA", 2048).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert key_pkcs8 not in keystore


@pytest.mark.parametrize(
    ("algorithm", "size"),
    [
        pytest.param("ECDSA", 384, id="an ECDSA P-384 key is stored as PKCS#8"),
        pytest.param("Ed25519", 0, id="an Ed25519 key is stored as PKCS#8"),
    ],
)
def test_jks_holds_ecdsa_and_ed25519_keys(root: Authority, algorithm: str, size: int) -> None:
    key = cached_key(algorithm, size)
    leaf = root.issue(certificate_spec(common_name="k"), key=key)
    keystore, _ = build_jks(key, [leaf], [], PASSWORD)
    entry = _load_jks(keystore).private_keys["certificate"]
    assert public_keys_equal(serialization.load_der_private_key(entry.pkey_pkcs8, None), key)


def test_jks_without_ca_certs_has_no_truststore(
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
) -> None:
    chain, _ = leaf_chain
    keystore, truststore = build_jks(cached_key("RSA", 2048), chain[:1], [], PASSWORD)
    assert truststore is None
    assert list(_load_jks(keystore).entries) == ["certificate"]


def test_jks_alias_is_stored_in_lower_case_as_java_does(
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
) -> None:
    chain, ca_certs = leaf_chain
    keystore, _ = build_jks(cached_key("RSA", 2048), chain, ca_certs, PASSWORD, alias="MyApp")
    assert sorted(_load_jks(keystore).entries) == ["ca", "myapp"]


def test_jks_alias_ca_would_lose_the_key_and_fails(
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
) -> None:
    chain, ca_certs = leaf_chain
    with pytest.raises(IssuanceError) as caught:
        build_jks(cached_key("RSA", 2048), chain, ca_certs, PASSWORD, alias="CA")
    assert caught.value.reason == "InvalidKeystoreAlias"
    assert "spec.keystores.jks.alias" in caught.value.hint
    # Without a ca.crt there is no "ca" entry, so the alias is free.
    keystore, _ = build_jks(cached_key("RSA", 2048), chain, [], PASSWORD, alias="ca")
    assert list(_load_jks(keystore).private_keys) == ["ca"]


def test_jks_without_pyjks_says_what_to_install(
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "jks", None)  # makes "import jks" raise ImportError
    chain, ca_certs = leaf_chain
    with pytest.raises(NotSupportedError) as caught:
        build_jks(cached_key("RSA", 2048), chain, ca_certs, PASSWORD)
    assert caught.value.reason == "KeystoreNotSupported"
    assert "pyjks" in caught.value.message and "pip install pyjks" in caught.value.hint


def test_jks_needs_a_certificate() -> None:
    with pytest.raises(ValueError, match="leaf"):
        build_jks(cached_key("RSA", 2048), [], [], PASSWORD)


def test_combined_pem_is_key_newline_chain(
    leaf_chain: tuple[list[x509.Certificate], list[x509.Certificate]],
) -> None:
    key_pem = encode_private_key(cached_key("RSA", 2048), "PKCS1")
    chain_pem = encode_pem(leaf_chain[0])
    assert combined_pem(key_pem, chain_pem) == key_pem + b"\n" + chain_pem


@pytest.mark.parametrize(
    ("algorithm", "size", "encoding", "private_format"),
    [
        pytest.param(
            "RSA",
            2048,
            "PKCS1",
            serialization.PrivateFormat.TraditionalOpenSSL,
            id="key.der of PKCS1 RSA is PKCS1 DER",
        ),
        pytest.param(
            "ECDSA",
            256,
            "PKCS1",
            serialization.PrivateFormat.TraditionalOpenSSL,
            id="key.der of PKCS1 ECDSA is SEC1 DER",
        ),
        pytest.param(
            "ECDSA",
            256,
            "PKCS8",
            serialization.PrivateFormat.PKCS8,
            id="key.der of PKCS8 is PKCS8 DER",
        ),
    ],
)
def test_key_der_is_the_pem_body(
    algorithm: str, size: int, encoding: str, private_format: serialization.PrivateFormat
) -> None:
    key = cached_key(algorithm, size)
    der = key_der(encode_private_key(key, encoding))  # type: ignore[arg-type]
    assert der == key.private_bytes(
        serialization.Encoding.DER, private_format, serialization.NoEncryption()
    )
    assert public_keys_equal(load_private_key(encode_private_key(key, encoding)), key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"no pem here", id="data without a PEM block"),
        pytest.param(
            b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
            id="a body that is not base64",
        ),
        pytest.param(
            b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\n"
            + base64.b64encode(b"x")
            + b"\n-----END RSA PRIVATE KEY-----\n",
            id="an encrypted PEM block with headers",
        ),
    ],
)
def test_key_der_refuses(data: bytes) -> None:
    with pytest.raises(ValueError):
        key_der(data)


def test_openssl_version_of_a_missing_command() -> None:
    assert openssl_version("no-such-openssl-here") is None


def test_not_before_is_irrelevant_to_keystores(root: Authority) -> None:
    # An expired certificate still goes into a keystore unchanged.
    leaf = root.issue(
        certificate_spec(common_name="old"), not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    keystore, _ = build_pkcs12(cached_key(), [leaf], [], PASSWORD, "LegacyDES")
    loaded = pkcs12.load_pkcs12(keystore, PASSWORD.encode())
    assert loaded.cert is not None and loaded.cert.certificate == leaf
