"""Undecodable keys and certificates get a plain sentence, never the parser's own text.

cryptography reports bad input as ``ParseError { kind: UnexpectedTag ... }`` or
``MalformedFraming``; these tests feed certctl the files people really mix up
(a DER key, a truncated PEM, a random file, a keystore) and check that the
message says which file it is, what it holds and what was expected.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.cli.conftest import SELFSIGNED, Cli, certificate, describe, issuer

#: Fragments of cryptography's parser messages and Rust debug output.
PARSER_TEXT = ("ParseError", "UnexpectedTag", "MalformedFraming", "ShortData", "Tag {", "asn1")


def _assert_plain(text: str) -> None:
    for fragment in (*PARSER_TEXT, "Traceback", "DeprecationWarning", "UserWarning"):
        assert fragment not in text, text


def _issue_app(cli: Cli, **spec: object) -> Path:
    path = cli.manifest("app.yaml", SELFSIGNED, certificate("app", **spec))
    cli.ok("issue", "-f", path)
    return path


def _replace(file: Path, data: bytes) -> None:
    """Overwrite a file of the dir store in place (its generation folder is read-only)."""
    real = Path(os.path.realpath(file))
    os.chmod(real.parent, 0o700)
    os.chmod(real, 0o600)
    real.write_bytes(data)


@pytest.fixture
def app_files(cli: Cli) -> dict[str, bytes]:
    _issue_app(cli, privateKey={"algorithm": "ECDSA", "encoding": "PKCS8"})
    folder = cli.secret("default", "app-tls")
    return {
        "tls.key": (folder / "tls.key").read_bytes(),
        "tls.crt": (folder / "tls.crt").read_bytes(),
    }


def _der_key(pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(pem, password=None)
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        pytest.param(
            "key.der",
            lambda files: _der_key(files["tls.key"]),
            "key.der is a DER-encoded PKCS#8 private key (ECDSA P-256), not a certificate",
            id="a DER key says it is a DER PKCS#8 ECDSA key",
        ),
        pytest.param(
            "garbage.crt",
            lambda files: b"this is not a certificate\n",
            "garbage.crt is text that is not PEM (there is no -----BEGIN line), not a certificate",
            id="a text file says it is not PEM",
        ),
        pytest.param(
            "random.bin",
            lambda files: bytes(range(256)),
            "random.bin is binary data that is neither PEM nor DER, not a certificate",
            id="a binary file says it is neither PEM nor DER",
        ),
        pytest.param(
            "truncated.pem",
            lambda files: files["tls.crt"][:300],
            "truncated.pem is cut short: its -----BEGIN CERTIFICATE----- line has no matching "
            "-----END CERTIFICATE----- line",
            id="a truncated PEM certificate says it is cut short",
        ),
        pytest.param(
            "key.pem",
            lambda files: files["tls.key"],
            "key.pem holds a PRIVATE KEY block but no CERTIFICATE block",
            id="a PEM key alone says there is no certificate",
        ),
    ],
)
def test_inspect_says_what_a_file_is(
    cli: Cli, app_files: dict[str, bytes], tmp_path: Path, name: str, make: object, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(make(app_files))  # type: ignore[operator]

    result = cli.run("inspect", path)

    assert result.exit_code == 2, describe(result)
    message = " ".join(result.stderr.split())  # undo the console's line wrapping
    assert expected in message
    assert "Error:" in message
    _assert_plain(result.output)


def test_inspect_a_jks_keystore_points_at_keytool(cli: Cli) -> None:
    _issue_app(cli, keystores={"jks": {"create": True, "password": "changeit"}})

    result = cli.run("inspect", cli.secret("default", "app-tls") / "keystore.jks")

    assert result.exit_code == 2, describe(result)
    message = " ".join(result.stderr.split())
    assert "keystore.jks is a JKS keystore, not a certificate" in message
    assert "keytool -list -v -keystore FILE -storetype JKS" in message
    _assert_plain(result.output)


def test_inspect_a_folder_with_a_truncated_key_notes_it(
    cli: Cli, app_files: dict[str, bytes]
) -> None:
    folder = cli.secret("default", "app-tls")
    _replace(folder / "tls.key", app_files["tls.key"][:100])

    result = cli.run("inspect", folder, "-o", "json")

    assert result.exit_code == 0, describe(result)
    report = json.loads(result.stdout)
    assert report["keyMatches"] is False
    assert any(
        note.startswith("tls.key is cut short: its -----BEGIN PRIVATE KEY----- line")
        for note in report["notes"]
    ), report["notes"]
    _assert_plain(result.output)


def test_the_reissue_reason_for_a_garbage_tls_key_is_a_plain_sentence(cli: Cli) -> None:
    path = _issue_app(cli)
    _replace(cli.secret("default", "app-tls") / "tls.key", b"garbage\n")

    result = cli.run("renew", "-f", path, "--dry-run", "-o", "json")

    assert result.exit_code == 0, describe(result)
    (item,) = json.loads(result.stdout)["results"]
    assert item["reason"] == "InvalidKeyPair"
    assert item["message"] == (
        "Issuing certificate as Secret contains invalid private key data: tls.key is text "
        "that is not PEM (there is no -----BEGIN line), not a private key; expected a PEM "
        "private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)"
    )
    _assert_plain(result.output)


def test_the_reissue_reason_for_a_der_tls_crt_names_it(
    cli: Cli, app_files: dict[str, bytes]
) -> None:
    path = cli.manifest(
        "app.yaml",
        SELFSIGNED,
        certificate("app", privateKey={"algorithm": "ECDSA", "encoding": "PKCS8"}),
    )
    _replace(cli.secret("default", "app-tls") / "tls.crt", _der_key(app_files["tls.key"]))

    result = cli.run("renew", "-f", path, "--dry-run", "-o", "json")

    assert result.exit_code == 0, describe(result)
    (item,) = json.loads(result.stdout)["results"]
    assert item["reason"] == "InvalidCertificate"
    assert "is a DER-encoded PKCS#8 private key (ECDSA P-256), not a certificate" in item["message"]
    _assert_plain(result.output)


def test_a_ca_issuer_with_a_swapped_keypair_names_the_secret_key(
    cli: Cli, app_files: dict[str, bytes]
) -> None:
    from certctl.stores.base import SecretRecord
    from certctl.stores.directory import DirectoryStore

    # tls.crt and tls.key swapped by hand in the CA's secret.
    DirectoryStore(cli.store).write(
        SecretRecord(
            "default",
            "ca-keypair",
            {"tls.crt": app_files["tls.key"], "tls.key": app_files["tls.crt"]},
        )
    )
    path = cli.manifest(
        "ca.yaml",
        issuer("ca", {"ca": {"secretName": "ca-keypair"}}, kind="Issuer", namespace="default"),
        certificate("web", issuer="ca", issuer_kind="Issuer"),
    )

    result = cli.run("issue", "-f", path)

    message = " ".join(result.output.split())
    assert (
        "secret default/ca-keypair cannot be decoded: tls.crt holds a PRIVATE KEY block but "
        "no CERTIFICATE block" in message
    ), describe(result)
    _assert_plain(result.output)
