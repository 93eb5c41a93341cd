"""Java's keytool reads the keystores certctl writes, as a Java server would load them.

One run of ``certctl issue`` builds a root CA, an intermediate CA and, under the
intermediate, one leaf per PKCS#12 profile; the first also gets ``keystores.jks``
with its password in a Secret. keytool then lists every keystore and truststore,
exports the leaf, and copies each key into a fresh PKCS#12 keystore, which only
works when the key decrypts with the store password. openssl extracts that copy's
key, and its public half must be the one of ``tls.key``.

keytool comes from Debian's openjdk-17-jre-headless (scripts/test.sh installs it);
a missing keytool fails these tests rather than skipping them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from certctl.cli.main import app
from certctl.pki.keystores import openssl_version
from certctl.stores.base import SecretRecord
from certctl.stores.directory import DirectoryStore

MISSING_KEYTOOL = (
    "keytool is missing: install openjdk-17-jre-headless (apt-get install openjdk-17-jre-headless)"
)
MISSING_OPENSSL = "openssl is missing: install it with apt-get install openssl"

NAMESPACE = "java"
ROOT_CN = "Keytool Root CA"
INTERMEDIATE_CN = "Keytool Intermediate CA"
JKS_PASSWORD = "jks from a secret"
#: Certificate name -> its keystores.pkcs12.profile; every one has a PKCS#12 keystore.
PROFILES = {
    "app-legacyrc2": "LegacyRC2",
    "app-legacydes": "LegacyDES",
    "app-modern2023": "Modern2023",
}
JKS_CERTIFICATE = "app-legacyrc2"


def _document(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


def _ca_certificate(name: str, common_name: str, issuer: str) -> dict[str, Any]:
    return _document(
        "Certificate",
        name,
        {
            "isCA": True,
            "commonName": common_name,
            "secretName": f"{name}-tls",
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "issuerRef": {"name": issuer, "kind": "Issuer"},
        },
    )


def _leaf(name: str, profile: str) -> dict[str, Any]:
    keystores: dict[str, Any] = {
        "pkcs12": {"create": True, "profile": profile, "password": _p12_password(name)}
    }
    if name == JKS_CERTIFICATE:
        keystores["jks"] = {
            "create": True,
            "passwordSecretRef": {"name": "jks-password", "key": "password"},
        }
    return _document(
        "Certificate",
        name,
        {
            "commonName": f"{name}.example.internal",
            "dnsNames": [f"{name}.example.internal"],
            "secretName": f"{name}-tls",
            "privateKey": {"algorithm": "RSA", "size": 2048},
            "keystores": keystores,
            "issuerRef": {"name": "intermediate-ca", "kind": "Issuer"},
        },
    )


def _p12_password(name: str) -> str:
    return f"p12-{name}"


def _manifests(*leaves: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _document("Issuer", "selfsigned", {"selfSigned": {}}),
        _ca_certificate("root-ca", ROOT_CN, "selfsigned"),
        _document("Issuer", "root-ca", {"ca": {"secretName": "root-ca-tls"}}),
        _ca_certificate("intermediate-ca", INTERMEDIATE_CN, "root-ca"),
        _document("Issuer", "intermediate-ca", {"ca": {"secretName": "intermediate-ca-tls"}}),
        *leaves,
    ]


def _issue(root: Path, documents: list[dict[str, Any]]) -> Any:
    manifest = root / "manifests.yaml"
    manifest.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return CliRunner().invoke(
        app,
        [
            "--store",
            f"dir:{root / 'certs'}",
            "--state-dir",
            str(root / "state"),
            "issue",
            "-f",
            str(manifest),
        ],
    )


@dataclass(frozen=True)
class Entry:
    """One entry of ``keytool -list -v``."""

    alias: str
    type: str
    chain_length: int
    owners: list[str]


class Keytool:
    """Runs keytool in English (its output is localised) and fails on a non-zero exit."""

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[bytes]:
        command = [self.executable, "-J-Duser.language=en", *(str(arg) for arg in args)]
        result = subprocess.run(command, capture_output=True, check=False, timeout=60)
        assert result.returncode == 0, (
            f"{' '.join(command)} exited {result.returncode}:\n"
            f"{result.stdout.decode(errors='replace')}{result.stderr.decode(errors='replace')}"
        )
        return result

    def entries(self, path: Path, password: str, store_type: str) -> dict[str, Entry]:
        listing = self.run(
            "-list", "-v", "-keystore", path, "-storepass", password, "-storetype", store_type
        ).stdout.decode()
        entries = {}
        for chunk in re.split(r"^Alias name: ", listing, flags=re.MULTILINE)[1:]:
            alias = chunk.splitlines()[0].strip()
            kind = re.search(r"^Entry type: (\S+)", chunk, re.MULTILINE)
            length = re.search(r"^Certificate chain length: (\d+)", chunk, re.MULTILINE)
            assert kind is not None, chunk
            entries[alias] = Entry(
                alias=alias,
                type=kind.group(1),
                chain_length=int(length.group(1)) if length else 0,
                owners=re.findall(r"^Owner: (.*)$", chunk, re.MULTILINE),
            )
        return entries


@pytest.fixture(scope="module")
def keytool() -> Keytool:
    path = shutil.which("keytool")
    if path is None:
        pytest.fail(MISSING_KEYTOOL)
    return Keytool(path)


@pytest.fixture(scope="module")
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.fail(MISSING_OPENSSL)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dir store after one ``certctl issue`` of the CAs and every leaf."""
    root = tmp_path_factory.mktemp("keytool")
    DirectoryStore(root / "certs").write(
        SecretRecord(NAMESPACE, "jks-password", {"password": JKS_PASSWORD.encode()}, type="Opaque")
    )
    result = _issue(root, _manifests(*(_leaf(name, p) for name, p in PROFILES.items())))
    assert result.exit_code == 0, result.output
    return root / "certs"


def _secret(store: Path, name: str) -> Path:
    return store / NAMESPACE / f"{name}-tls"


def _leaf_der(store: Path, name: str) -> bytes:
    pem = (_secret(store, name) / "tls.crt").read_bytes()
    return x509.load_pem_x509_certificates(pem)[0].public_bytes(serialization.Encoding.DER)


def _public_der_with_openssl(openssl: str, key_pem: bytes) -> bytes:
    result = subprocess.run(
        [openssl, "pkey", "-pubout", "-outform", "DER"],
        input=key_pem,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def _key_from_pkcs12_with_openssl(openssl: str, path: Path, password: str) -> bytes:
    result = subprocess.run(
        [openssl, "pkcs12", "-in", str(path), "-nocerts", "-nodes", "-passin", f"pass:{password}"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"PRIVATE KEY-----" in result.stdout
    return result.stdout


def _assert_key_survives_a_copy(
    keytool: Keytool,
    openssl: str,
    store: Path,
    name: str,
    source: Path,
    source_type: str,
    password: str,
    tmp_path: Path,
) -> None:
    """Copy the keystore into a fresh PKCS#12 store: Java must decrypt the key to do so."""
    copy = tmp_path / "copy.p12"
    keytool.run(
        "-importkeystore",
        "-noprompt",
        "-srckeystore",
        source,
        "-srcstoretype",
        source_type,
        "-srcstorepass",
        password,
        "-destkeystore",
        copy,
        "-deststoretype",
        "PKCS12",
        "-deststorepass",
        "copy-password",
    )
    key_pem = _key_from_pkcs12_with_openssl(openssl, copy, "copy-password")
    tls_key = (_secret(store, name) / "tls.key").read_bytes()
    assert _public_der_with_openssl(openssl, key_pem) == _public_der_with_openssl(openssl, tls_key)


# -- JKS -------------------------------------------------------------------------------


def test_keytool_lists_the_key_entry_and_the_ca_of_keystore_jks(
    keytool: Keytool, store: Path
) -> None:
    entries = keytool.entries(_secret(store, JKS_CERTIFICATE) / "keystore.jks", JKS_PASSWORD, "JKS")

    assert sorted(entries) == ["ca", "certificate"]
    key_entry = entries["certificate"]
    assert key_entry.type == "PrivateKeyEntry"
    # tls.crt: the leaf and the intermediate (the self-signed root is never in tls.crt).
    assert key_entry.chain_length == 2
    assert key_entry.owners == [f"CN={JKS_CERTIFICATE}.example.internal", f"CN={INTERMEDIATE_CN}"]
    assert entries["ca"].type == "trustedCertEntry"
    assert entries["ca"].owners == [f"CN={ROOT_CN}"]


def test_keytool_lists_the_ca_of_truststore_jks(keytool: Keytool, store: Path) -> None:
    entries = keytool.entries(
        _secret(store, JKS_CERTIFICATE) / "truststore.jks", JKS_PASSWORD, "JKS"
    )

    assert list(entries) == ["ca"]
    assert entries["ca"].type == "trustedCertEntry"
    assert entries["ca"].owners == [f"CN={ROOT_CN}"]


def test_keytool_exports_the_leaf_of_tls_crt_from_keystore_jks(
    keytool: Keytool, store: Path
) -> None:
    exported = keytool.run(
        "-exportcert",
        "-alias",
        "certificate",
        "-keystore",
        _secret(store, JKS_CERTIFICATE) / "keystore.jks",
        "-storepass",
        JKS_PASSWORD,
        "-storetype",
        "JKS",
    ).stdout

    assert exported == _leaf_der(store, JKS_CERTIFICATE)


def test_the_jks_key_decrypts_with_the_store_password_and_is_tls_key(
    keytool: Keytool, openssl: str, store: Path, tmp_path: Path
) -> None:
    _assert_key_survives_a_copy(
        keytool,
        openssl,
        store,
        JKS_CERTIFICATE,
        _secret(store, JKS_CERTIFICATE) / "keystore.jks",
        "JKS",
        JKS_PASSWORD,
        tmp_path,
    )


# -- PKCS#12 ---------------------------------------------------------------------------

PROFILE_CASES = [
    pytest.param(name, id=f"keytool reads a {profile} keystore.p12")
    for name, profile in PROFILES.items()
]


@pytest.mark.parametrize("name", PROFILE_CASES)
def test_keytool_lists_the_key_entry_of_keystore_p12(
    keytool: Keytool, store: Path, name: str
) -> None:
    entries = keytool.entries(_secret(store, name) / "keystore.p12", _p12_password(name), "PKCS12")

    # go-pkcs12 (cert-manager) gives the key no friendlyName, so Java names it itself.
    assert len(entries) == 1
    (key_entry,) = entries.values()
    assert key_entry.type == "PrivateKeyEntry"
    # Java completes the chain from the extra certificates: leaf, intermediate, root.
    assert key_entry.owners == [
        f"CN={name}.example.internal",
        f"CN={INTERMEDIATE_CN}",
        f"CN={ROOT_CN}",
    ]
    assert key_entry.chain_length == 3


@pytest.mark.parametrize("name", PROFILE_CASES)
def test_keytool_lists_the_ca_of_truststore_p12(keytool: Keytool, store: Path, name: str) -> None:
    entries = keytool.entries(
        _secret(store, name) / "truststore.p12", _p12_password(name), "PKCS12"
    )

    # The alias is the CA's subject, as go-pkcs12's EncodeTrustStore names it.
    assert list(entries) == [f"cn={ROOT_CN.lower()}"]
    assert entries[f"cn={ROOT_CN.lower()}"].type == "trustedCertEntry"
    assert entries[f"cn={ROOT_CN.lower()}"].owners == [f"CN={ROOT_CN}"]


@pytest.mark.parametrize("name", PROFILE_CASES)
def test_the_pkcs12_key_decrypts_in_java_and_is_tls_key(
    keytool: Keytool, openssl: str, store: Path, name: str, tmp_path: Path
) -> None:
    _assert_key_survives_a_copy(
        keytool,
        openssl,
        store,
        name,
        _secret(store, name) / "keystore.p12",
        "PKCS12",
        _p12_password(name),
        tmp_path,
    )


def test_modern2026_needs_openssl_3_4_and_says_so(openssl: str, tmp_path: Path) -> None:
    found = openssl_version(openssl)
    assert found is not None, "openssl version did not report an OpenSSL version"
    version, text = found

    result = _issue(tmp_path, _manifests(_leaf("app-modern2026", "Modern2026")))

    if version[:2] >= (3, 4):
        # Java reads PBMAC1 only from Java 26 on, so openssl checks this keystore.
        assert result.exit_code == 0, result.output
        info = subprocess.run(
            [
                openssl,
                "pkcs12",
                "-info",
                "-noout",
                "-in",
                str(_secret(tmp_path / "certs", "app-modern2026") / "keystore.p12"),
                "-passin",
                f"pass:{_p12_password('app-modern2026')}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert info.returncode == 0, info.stderr
        assert "PBMAC1" in info.stdout + info.stderr
        return
    assert result.exit_code == 1, result.output
    assert "KeystoreNotSupported" in result.output
    assert f"needs OpenSSL 3.4 or newer for PBMAC1; this machine has {text}" in result.output
    assert "Traceback" not in result.output
    assert not _secret(tmp_path / "certs", "app-modern2026").exists()
