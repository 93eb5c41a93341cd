"""Never destroy what certctl did not write: foreign folders, extra keys and symlinks,
through ``certctl issue`` on the quick start, with the old bytes compared after each run."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.cli.conftest import (
    API_BACKEND,
    SELFSIGNED,
    Cli,
    certificate,
    describe,
    issuer,
    results_by_name,
)

NAMESPACE, CERTIFICATE, SECRET = API_BACKEND


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, following symlinks, by path relative to it."""
    found: dict[str, bytes] = {}
    for dirpath, _, filenames in os.walk(folder, followlinks=True):
        for filename in filenames:
            path = Path(dirpath) / filename
            found[str(path.relative_to(folder))] = path.read_bytes()
    return found


def openssl_pair(folder: Path) -> None:
    """A tls.crt/tls.key made by hand with openssl: RSA, so it differs from the spec's ECDSA."""
    folder.mkdir(parents=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=api.backend.svc",
            "-days",
            "30",
            "-keyout",
            str(folder / "tls.key"),
            "-out",
            str(folder / "tls.crt"),
        ],
        check=True,
        capture_output=True,
    )


def matching_pair(folder: Path) -> None:
    """A hand-made pair that satisfies the quick start's api-backend spec in every field."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.backend.svc")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=89))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("api.backend.svc"),
                    x509.DNSName("api.backend.svc.cluster.local"),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True)
    (folder / "tls.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "tls.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_a_hand_made_folder_is_refused_and_keeps_every_byte(cli: Cli) -> None:
    folder = cli.secret(NAMESPACE, SECRET)
    openssl_pair(folder)
    (folder / "unrelated.txt").write_bytes(b"someone's notes\n")
    before = files_under(folder)

    result = cli.run("issue", "-f", cli.quickstart(), "-o", "json")

    assert result.exit_code == 1, describe(result)
    results = results_by_name(result)
    assert results["root-ca"]["outcome"] == "issued"
    refused = results[CERTIFICATE]
    assert refused["action"] == "Refused"
    assert refused["reason"] == "ForeignSecret"
    assert f"{NAMESPACE}/{SECRET}" in refused["error"]
    assert "--force" in refused["error"]
    assert "SecretMismatch" in refused["error"]
    assert files_under(folder) == before
    assert not folder.is_symlink()
    assert "Traceback" not in result.output


def test_a_plan_shows_the_reason_and_that_the_write_would_be_refused(cli: Cli) -> None:
    folder = cli.secret(NAMESPACE, SECRET)
    openssl_pair(folder)
    before = files_under(folder)

    result = cli.run("issue", "-f", cli.quickstart(), "--dry-run", "-o", "json")

    assert result.exit_code == 1, describe(result)
    planned = results_by_name(result)[CERTIFICATE]
    assert planned["action"] == "WouldRefuse"
    assert planned["reason"] == "SecretMismatch"
    assert "would be refused" in planned["error"]
    assert files_under(folder) == before


def test_force_takes_a_hand_made_folder_over_and_keeps_the_unrelated_file(cli: Cli) -> None:
    folder = cli.secret(NAMESPACE, SECRET)
    openssl_pair(folder)
    (folder / "unrelated.txt").write_bytes(b"someone's notes\n")

    cli.ok("issue", "-f", cli.quickstart(), "--force")

    assert folder.is_symlink()
    assert (folder / "unrelated.txt").read_bytes() == b"someone's notes\n"
    assert isinstance(cli.key(NAMESPACE, SECRET), ec.EllipticCurvePrivateKey)


def test_a_foreign_folder_that_matches_its_certificate_is_simply_up_to_date(cli: Cli) -> None:
    folder = cli.secret(NAMESPACE, SECRET)
    matching_pair(folder)
    before = files_under(folder)

    result = cli.run("issue", "-f", cli.quickstart(), "-o", "json")

    assert result.exit_code == 0, describe(result)
    assert results_by_name(result)[CERTIFICATE]["action"] == "UpToDate"
    assert files_under(folder) == before
    assert not folder.is_symlink()


def test_a_cert_manager_secret_naming_its_certificate_is_adopted(cli: Cli) -> None:
    folder = cli.secret(NAMESPACE, SECRET)
    openssl_pair(folder)
    (folder / "..metadata.json").write_text(
        json.dumps({"annotations": {"cert-manager.io/certificate-name": CERTIFICATE}})
    )

    result = cli.run("issue", "-f", cli.quickstart(), "-o", "json")

    assert result.exit_code == 0, describe(result)
    assert results_by_name(result)[CERTIFICATE]["action"] == "Reissued"
    assert isinstance(cli.key(NAMESPACE, SECRET), ec.EllipticCurvePrivateKey)


def test_a_rewrite_keeps_a_key_another_tool_added(cli: Cli) -> None:
    quickstart = cli.quickstart()
    cli.ok("issue", "-f", quickstart)
    folder = cli.secret(NAMESPACE, SECRET)
    (cli.generation(NAMESPACE, SECRET) / "extra.conf").write_bytes(b"listen 443;\n")
    old_key = (folder / "tls.key").read_bytes()

    cli.ok("issue", "-f", quickstart, "--force", "--name", CERTIFICATE)

    assert (folder / "extra.conf").read_bytes() == b"listen 443;\n"
    assert (folder / "tls.key").read_bytes() != old_key


def test_a_rewrite_in_the_manifest_store_keeps_another_tools_key(cli: Cli) -> None:
    quickstart = cli.quickstart()
    target = cli.root / "secrets.yaml"
    store = ["--store", f"manifest:{target}", "--state-dir", str(cli.state)]
    cli.ok("issue", "-f", quickstart, global_args=store)
    documents = list(yaml.safe_load_all(target.read_text()))
    for document in documents:
        if document["metadata"]["name"] == SECRET:
            document["data"]["extra.conf"] = "bGlzdGVuIDQ0Mzs="
            document["metadata"].setdefault("labels", {})["team"] = "payments"
    target.write_text(yaml.safe_dump_all(documents))

    cli.ok("issue", "-f", quickstart, "--force", "--name", CERTIFICATE, global_args=store)

    rewritten = {
        document["metadata"]["name"]: document
        for document in yaml.safe_load_all(target.read_text())
    }[SECRET]
    assert rewritten["data"]["extra.conf"] == "bGlzdGVuIDQ0Mzs="
    assert rewritten["metadata"]["labels"]["team"] == "payments"


@pytest.mark.parametrize(
    "what",
    [
        pytest.param("namespace", id="a namespace folder linking out of the store is refused"),
        pytest.param("secret", id="a secret folder linking out of the store is refused"),
    ],
)
def test_nothing_is_written_through_a_symlink_out_of_the_store(cli: Cli, what: str) -> None:
    outside = cli.root / "outside"
    (outside / SECRET).mkdir(parents=True)
    (outside / SECRET / "tls.crt").write_bytes(b"not certctl's\n")
    cli.store.mkdir(parents=True)
    if what == "namespace":
        (cli.store / NAMESPACE).symlink_to(outside)
    else:
        (cli.store / NAMESPACE).mkdir()
        (cli.store / NAMESPACE / SECRET).symlink_to(outside / SECRET)
    before = files_under(outside)
    quickstart = cli.quickstart()

    for extra in ([], ["--force"]):
        result = cli.run("issue", "-f", quickstart, "-o", "json", *extra)
        assert result.exit_code == 1, describe(result)
        refused = results_by_name(result)[CERTIFICATE]
        assert refused["reason"] == "SymlinkOutsideStore"
        assert "outside the store" in refused["error"]

    assert files_under(outside) == before
    assert sorted(os.listdir(outside)) == [SECRET]


def test_a_name_too_long_for_the_dir_store_stops_the_run_before_anything_is_written(
    cli: Cli,
) -> None:
    # Valid for Kubernetes (253 characters at most) but longer than a file name allows.
    long_name = "a" * 230
    path = cli.manifest(
        "long.yaml",
        SELFSIGNED,
        issuer("long-ca", {"ca": {"secretName": long_name}}),
        certificate("first"),
        certificate("leaf", issuer="long-ca"),
    )

    result = cli.run("issue", "-f", path)

    assert result.exit_code == 2, describe(result)
    assert "ClusterIssuer/long-ca spec.ca refers to Secret" in result.stderr
    assert "Use a shorter Secret name" in result.stderr
    assert not cli.store.exists() or files_under(cli.store) == {}
