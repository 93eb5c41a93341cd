"""``certctl issue`` and ``certctl renew`` through the Typer app, checked the way a user would:
exit codes, the table and JSON on stdout, messages on stderr, and the files in the store."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.cli.conftest import (
    API_BACKEND,
    ROOT_CA,
    SELFSIGNED,
    Cli,
    certificate,
    describe,
    issuer,
    public_der,
    results_by_name,
    table,
)

RESULT_FIELDS = {
    "name",
    "namespace",
    "action",
    "reason",
    "outcome",
    "notAfter",
    "renewalTime",
    "error",
}


def api_backend_spec(quickstart: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((quickstart / "03-api-backend.yaml").read_text())
    return document


# -- 1. issuing the quick start ----------------------------------------------------------


def test_issue_quickstart_writes_both_secrets_and_lists_them(cli: Cli) -> None:
    path = cli.quickstart()

    result = cli.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result)
    for namespace, _, secret in (ROOT_CA, API_BACKEND):
        folder = cli.secret(namespace, secret)
        assert folder.is_symlink()
        assert {"tls.crt", "tls.key", "ca.crt", "..metadata.json"} <= {
            p.name for p in folder.iterdir()
        }
    rows = {row["NAME"]: row for row in table(result.stdout)}
    assert set(rows) == {"root-ca", "api-backend"}
    for row in rows.values():
        assert row["ACTION"] == "Issued"
        assert row["REASON"] == "DoesNotExist"
    assert rows["root-ca"]["NAMESPACE"] == "cert-manager"
    assert rows["api-backend"]["SECRET"] == "api-backend-tls"
    assert "issue: 2 certificates: 2 issued" in result.stderr
    assert "Traceback" not in result.output


def test_issue_json_has_one_result_per_certificate_with_the_documented_fields(cli: Cli) -> None:
    path = cli.quickstart()

    result = cli.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 0, describe(result)
    document = json.loads(result.stdout)
    assert list(document) == ["results"]
    assert len(document["results"]) == 2
    for item in document["results"]:
        assert set(item) >= RESULT_FIELDS
        assert item["action"] == "Issued"
        assert item["reason"] == "DoesNotExist"
        assert item["outcome"] == "issued"
        assert item["error"] is None
        assert item["notAfter"].endswith("Z")
        assert item["renewalTime"] < item["notAfter"]
    by_name = results_by_name(result)
    assert by_name["root-ca"]["namespace"] == "cert-manager"
    assert by_name["api-backend"]["namespace"] == "default"
    leaf = cli.leaf("default", "api-backend-tls")
    assert by_name["api-backend"]["notAfter"] == leaf.not_valid_after_utc.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_issue_yaml_output_parses_to_the_same_schema(cli: Cli) -> None:
    path = cli.quickstart()

    result = cli.run("issue", "-f", path, "-o", "yaml")

    assert result.exit_code == 0, describe(result)
    document = yaml.safe_load(result.stdout)
    assert {item["name"] for item in document["results"]} == {"root-ca", "api-backend"}
    assert all(set(item) >= RESULT_FIELDS for item in document["results"])


def test_the_leaf_verifies_against_its_ca_crt(cli: Cli, quickstart: Path) -> None:
    leaf_dir = cli.secret("default", "api-backend-tls")
    chain = x509.load_pem_x509_certificates((leaf_dir / "tls.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((leaf_dir / "ca.crt").read_bytes())

    chain[0].verify_directly_issued_by(ca)

    assert cli.leaf("cert-manager", "root-ca-secret") == ca
    names = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == [
        "api.backend.svc",
        "api.backend.svc.cluster.local",
    ]
    assert public_der(cli.key("default", "api-backend-tls")) == public_der(chain[0])


# -- 2. a second run changes nothing -------------------------------------------------------


@pytest.mark.parametrize("command", ["issue", "renew"])
def test_a_second_run_is_a_no_op(cli: Cli, quickstart: Path, command: str) -> None:
    before = {key: cli.snapshot(key[0], key[2]) for key in (ROOT_CA, API_BACKEND)}

    result = cli.run(command, "-f", quickstart)

    assert result.exit_code == 0, describe(result)
    after = {key: cli.snapshot(key[0], key[2]) for key in (ROOT_CA, API_BACKEND)}
    assert after == before
    if command == "renew":
        assert result.stdout == ""
        assert "Nothing to renew: 2 certificates up to date" in result.stderr
    else:
        assert {row["ACTION"] for row in table(result.stdout)} == {"UpToDate"}
        assert "2 unchanged" in result.stderr


# -- 3. --dry-run ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["issue", "renew"])
def test_dry_run_on_a_fresh_store_writes_nothing(cli: Cli, command: str) -> None:
    path = cli.quickstart()

    result = cli.run(command, "-f", path, "--dry-run", "-o", "json")

    assert result.exit_code == 0, describe(result)
    assert not cli.store.exists() or list(cli.store.rglob("*")) == []
    by_name = results_by_name(result)
    assert {item["action"] for item in by_name.values()} == {"WouldIssue"}
    assert {item["outcome"] for item in by_name.values()} == {"planned"}


# -- 4. --force and --name -----------------------------------------------------------------


def test_force_reissues_with_a_new_serial(cli: Cli, quickstart: Path) -> None:
    old = cli.leaf("default", "api-backend-tls")

    result = cli.run("issue", "-f", quickstart, "--force", "-o", "json")

    assert result.exit_code == 0, describe(result)
    by_name = results_by_name(result)
    assert by_name["api-backend"]["reason"] == "ManuallyTriggered"
    assert by_name["api-backend"]["action"] == "Reissued"
    assert cli.leaf("default", "api-backend-tls").serial_number != old.serial_number


def test_name_selects_one_certificate(cli: Cli, quickstart: Path) -> None:
    root_before = cli.snapshot("cert-manager", "root-ca-secret")
    old_serial = cli.leaf("default", "api-backend-tls").serial_number

    result = cli.run("renew", "-f", quickstart, "--force", "--name", "api-backend", "-o", "json")

    assert result.exit_code == 0, describe(result)
    assert list(results_by_name(result)) == ["api-backend"]
    assert cli.leaf("default", "api-backend-tls").serial_number != old_serial
    assert cli.snapshot("cert-manager", "root-ca-secret") == root_before


@pytest.mark.parametrize("command", ["issue", "renew"])
def test_an_unknown_name_exits_2_listing_the_known_names(cli: Cli, command: str) -> None:
    path = cli.quickstart()

    result = cli.run(command, "-f", path, "--name", "api-frontend")

    assert result.exit_code == 2, describe(result)
    assert "No Certificate named api-frontend" in result.stderr
    assert "api-backend, root-ca" in result.stderr
    assert "Traceback" not in result.stderr
    assert not cli.store.exists() or list(cli.store.rglob("*/*")) == []


# -- 5. tampering with the store -----------------------------------------------------------


def replace_key(cli: Cli) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    (cli.generation("default", "api-backend-tls") / "tls.key").write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


def delete_certificate(cli: Cli) -> None:
    (cli.generation("default", "api-backend-tls") / "tls.crt").unlink()


TAMPERING = [
    pytest.param(replace_key, "InvalidKeyPair", id="tls.key replaced by another key"),
    pytest.param(delete_certificate, "MissingData", id="tls.crt deleted"),
]
# The state a follow-up run sees: the cron job's own, where a no-op renew has recorded the
# secret as up to date (the fast path that skips reading it), or none at all.
STATE = [
    pytest.param(False, id="after a no-op renew recorded it as up to date"),
    pytest.param(True, id="with the state lost"),
]


def prepare_state(cli: Cli, fresh_state: bool) -> None:
    if fresh_state:
        shutil.rmtree(cli.state)


@pytest.mark.parametrize("fresh_state", STATE)
@pytest.mark.parametrize(("tamper", "reason"), TAMPERING)
def test_renew_reissues_a_tampered_secret(
    cli: Cli, quickstart: Path, tamper: Any, reason: str, fresh_state: bool
) -> None:
    cli.ok("renew", "-f", quickstart)
    tamper(cli)
    prepare_state(cli, fresh_state)

    result = cli.run("renew", "-f", quickstart, "-o", "json")

    assert result.exit_code == 0, describe(result)
    item = results_by_name(result)["api-backend"]
    assert (item["action"], item["reason"]) == ("Reissued", reason), describe(result)
    assert public_der(cli.key("default", "api-backend-tls")) == public_der(
        cli.leaf("default", "api-backend-tls")
    )


@pytest.mark.parametrize("fresh_state", STATE)
def test_renew_repairs_a_dropped_annotation_without_reissuing(
    cli: Cli, quickstart: Path, fresh_state: bool
) -> None:
    cli.ok("renew", "-f", quickstart)
    serial = cli.leaf("default", "api-backend-tls").serial_number
    metadata_file = cli.generation("default", "api-backend-tls") / "..metadata.json"
    metadata = json.loads(metadata_file.read_text())
    dropped = metadata["annotations"].pop("cert-manager.io/common-name")
    assert dropped == "api.backend.svc"
    metadata_file.write_text(json.dumps(metadata))
    prepare_state(cli, fresh_state)

    result = cli.run("renew", "-f", quickstart, "-o", "json")

    assert result.exit_code == 0, describe(result)
    item = results_by_name(result)["api-backend"]
    assert item["action"] == "Repaired", describe(result)
    assert cli.leaf("default", "api-backend-tls").serial_number == serial
    annotations = cli.metadata("default", "api-backend-tls")["annotations"]
    assert annotations["cert-manager.io/common-name"] == "api.backend.svc"
    assert item["reason"] == "SecretDrift"
    assert "annotations" in item["message"]


def test_renew_reissues_when_the_spec_gains_a_dns_name(cli: Cli, quickstart: Path) -> None:
    spec_file = quickstart / "03-api-backend.yaml"
    document = api_backend_spec(quickstart)
    document["spec"]["dnsNames"].append("api.example.com")
    spec_file.write_text(yaml.safe_dump(document))

    result = cli.run("renew", "-f", quickstart, "-o", "json")

    assert result.exit_code == 0, describe(result)
    item = results_by_name(result)["api-backend"]
    assert (item["action"], item["reason"]) == ("Reissued", "SecretMismatch")
    names = cli.leaf("default", "api-backend-tls").extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert "api.example.com" in names.value.get_values_for_type(x509.DNSName)


# -- 6. failure isolation and backoff --------------------------------------------------------


def broken_set(cli: Cli) -> Path:
    return cli.manifest(
        "mixed.yaml",
        SELFSIGNED,
        issuer("broken-ca", {"ca": {"secretName": "no-such-ca"}}),
        certificate("good"),
        certificate("bad", issuer="broken-ca"),
    )


def test_one_failing_certificate_does_not_stop_the_others(cli: Cli) -> None:
    path = broken_set(cli)

    result = cli.run("issue", "-f", path)

    assert result.exit_code == 1, describe(result)
    rows = {row["NAME"]: row for row in table(result.stdout)}
    assert rows["good"]["ACTION"] == "Issued"
    assert rows["bad"]["ACTION"] == "Failed"
    assert (cli.secret("default", "good-tls") / "tls.crt").is_file()
    assert not cli.secret("default", "bad-tls").exists()
    assert "default/bad: Failed" in result.stderr
    assert "cert-manager/no-such-ca" in result.stderr
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_failure_json_carries_the_error(cli: Cli) -> None:
    path = broken_set(cli)

    result = cli.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 1, describe(result)
    by_name = results_by_name(result)
    assert by_name["good"]["error"] is None
    assert by_name["bad"]["outcome"] == "failed"
    assert "no-such-ca" in by_name["bad"]["error"]


def unreachable_acme(**extra: Any) -> dict[str, Any]:
    """An ACME ClusterIssuer whose server refuses connections: a real failed issuance."""
    spec = {
        # Nothing listens on port 9 of loopback: the connection is refused at once.
        "server": "https://127.0.0.1:9/directory",
        "privateKeySecretRef": {"name": "acme-account"},
        "solvers": [{"http01": {"standalone": {}}}],
        **extra,
    }
    return issuer("acme", {"acme": spec})


def failing_set(cli: Cli, **acme_extra: Any) -> Path:
    return cli.manifest(
        "mixed.yaml",
        SELFSIGNED,
        unreachable_acme(**acme_extra),
        certificate("good"),
        certificate("bad", issuer="acme"),
    )


def write_secret(cli: Cli, namespace: str, name: str, data: dict[str, bytes]) -> None:
    """Create or replace a Secret in the test's store, as a user would."""
    from certctl.stores.base import SecretRecord
    from certctl.stores.directory import DirectoryStore

    DirectoryStore(cli.store).write(
        SecretRecord(namespace=namespace, name=name, type="Opaque", data=data)
    )


@pytest.mark.parametrize("command", ["issue", "renew"])
def test_a_second_run_after_a_failed_issuance_backs_off_unless_forced(
    cli: Cli, command: str
) -> None:
    path = failing_set(cli)
    cli.run("issue", "-f", path)

    again = cli.run(command, "-f", path, "-o", "json")
    forced = cli.run(command, "-f", path, "--force", "-o", "json")

    # Backing off is still a failure for cron: the certificate is not being renewed.
    assert again.exit_code == 1, describe(again)
    bad = results_by_name(again)["bad"]
    assert bad["action"] == "BackingOff"
    assert bad["outcome"] == "backoff"
    assert bad["reason"] == "ACMEServerUnreachable"
    assert "1 attempt failed" in bad["error"]
    assert "127.0.0.1:9" in bad["error"]
    assert "run with --force to retry now" in again.stderr
    assert results_by_name(again)["good"]["action"] == "UpToDate"
    assert forced.exit_code == 1, describe(forced)
    assert results_by_name(forced)["bad"]["action"] == "Failed"


@pytest.mark.parametrize("command", ["issue", "renew"])
def test_a_missing_ca_secret_fails_without_backoff_and_issues_once_created(
    cli: Cli, command: str
) -> None:
    path = broken_set(cli)
    first = cli.run("issue", "-f", path, "-o", "json")

    again = cli.run(command, "-f", path, "-o", "json")
    crt, key = ca_keypair_pem()
    write_secret(cli, "cert-manager", "no-such-ca", {"tls.crt": crt, "tls.key": key})
    fixed = cli.run(command, "-f", path, "-o", "json")

    assert first.exit_code == 1, describe(first)
    assert again.exit_code == 1, describe(again)
    bad = results_by_name(again)["bad"]
    # The issuer is not ready: a plain failure, retried on every run, never BackingOff.
    assert (bad["action"], bad["outcome"], bad["reason"]) == ("Failed", "failed", "SecretMissing")
    assert "cert-manager/no-such-ca, which does not exist" in bad["error"]
    assert "backs off" not in again.stderr
    assert "--force" not in again.stderr
    assert fixed.exit_code == 0, describe(fixed)
    assert results_by_name(fixed)["bad"]["action"] == "Issued"
    leaf = cli.leaf("default", "bad-tls")
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(crt))


def ca_keypair_pem() -> tuple[bytes, bytes]:
    """A CA certificate and its key, as a user would put them in a CA issuer's Secret."""
    import datetime as dt

    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "restored ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def test_an_issuer_not_in_the_manifests_does_not_back_off(cli: Cli) -> None:
    path = cli.manifest("orphan.yaml", certificate("web", issuer="nowhere"))
    cli.run("issue", "-f", path)

    again = cli.run("issue", "-f", path, "-o", "json")

    assert again.exit_code == 1, describe(again)
    web = results_by_name(again)["web"]
    assert (web["action"], web["reason"]) == ("Failed", "IssuerNotFound")
    assert "not among the given manifests" in web["error"]


def test_changing_the_issuer_spec_ends_the_backoff(cli: Cli) -> None:
    path = failing_set(cli)
    cli.run("issue", "-f", path)
    assert results_by_name(cli.run("issue", "-f", path, "-o", "json"))["bad"]["action"] == (
        "BackingOff"
    )
    edited = failing_set(cli, email="ops@example.com")

    retried = cli.run("issue", "-f", edited, "-o", "json")
    after = cli.run("issue", "-f", edited, "-o", "json")

    assert retried.exit_code == 1, describe(retried)
    assert results_by_name(retried)["bad"]["action"] == "Failed"
    assert "backs off" not in retried.stderr
    # The retry was a failed attempt too: it backs off again, from the second attempt.
    assert results_by_name(after)["bad"]["action"] == "BackingOff"
    assert "2 attempts failed" in results_by_name(after)["bad"]["error"]


def test_changing_a_secret_the_issuer_reads_ends_the_backoff(cli: Cli) -> None:
    eab = {"keyID": "kid-1", "keySecretRef": {"name": "eab", "key": "secret"}}
    write_secret(cli, "cert-manager", "eab", {"secret": b"b2xkLWhtYWMta2V5"})
    path = failing_set(cli, externalAccountBinding=eab)
    cli.run("issue", "-f", path)
    assert results_by_name(cli.run("issue", "-f", path, "-o", "json"))["bad"]["action"] == (
        "BackingOff"
    )
    write_secret(cli, "cert-manager", "eab", {"secret": b"bmV3LWhtYWMta2V5"})

    retried = cli.run("issue", "-f", path, "-o", "json")

    assert retried.exit_code == 1, describe(retried)
    assert results_by_name(retried)["bad"]["action"] == "Failed"
    assert results_by_name(retried)["bad"]["reason"] == "ACMEServerUnreachable"


def test_a_certificate_waiting_for_a_ca_retries_once_the_ca_is_issued(cli: Cli) -> None:
    path = broken_set(cli)
    cli.run("issue", "-f", path)
    # The missing CA arrives: a Certificate that writes the secret the CA issuer reads.
    fixed = cli.manifest(
        "mixed.yaml",
        SELFSIGNED,
        issuer("broken-ca", {"ca": {"secretName": "no-such-ca"}}),
        certificate("good"),
        certificate("bad", issuer="broken-ca"),
        certificate("ca", namespace="cert-manager", secretName="no-such-ca", isCA=True),
    )

    result = cli.run("issue", "-f", fixed, "-o", "json")

    assert result.exit_code == 0, describe(result)
    by_name = results_by_name(result)
    assert by_name["ca"]["action"] == "Issued"
    assert by_name["bad"]["action"] == "Issued"


def test_describe_shows_the_failure_event_and_attempts(cli: Cli) -> None:
    path = failing_set(cli)
    cli.run("issue", "-f", path)

    result = cli.run("describe", "certificate", "bad", "-f", path)

    assert result.exit_code == 0, describe(result)
    assert "Failed Issuance Attempts:  1" in result.stdout
    assert "Last Failure Time:" in result.stdout
    events = result.stdout.split("Events:", 1)[1]
    assert "Warning" in events
    assert "Failed" in events
    assert "127.0.0.1:9" in events


def test_describe_shows_an_issuer_not_ready_without_failed_attempts(cli: Cli) -> None:
    path = broken_set(cli)
    cli.run("issue", "-f", path)
    cli.run("issue", "-f", path)

    result = cli.run("describe", "certificate", "bad", "-f", path)

    assert result.exit_code == 0, describe(result)
    assert "Failed Issuance Attempts" not in result.stdout
    events = result.stdout.split("Events:", 1)[1]
    assert "IssuerNotReady" in events
    assert "(x2 over" in events
    assert "no-such-ca" in events


# -- 7. a failed renewal keeps the old pair --------------------------------------------------


def test_a_failed_renewal_leaves_the_old_pair_in_place(cli: Cli, quickstart: Path) -> None:
    before = cli.snapshot("default", "api-backend-tls")
    cli.secret("cert-manager", "root-ca-secret").unlink()

    result = cli.run("renew", "-f", quickstart, "--force", "--name", "api-backend")

    assert result.exit_code == 1, describe(result)
    assert "root-ca-secret" in result.stderr
    assert "Traceback" not in result.stderr
    after = cli.snapshot("default", "api-backend-tls")
    assert after["tls.crt"] == before["tls.crt"]
    assert after["tls.key"] == before["tls.key"]
    assert after == before


# -- 8. valid issuers that cannot issue yet ------------------------------------------------------

UNSUPPORTED = [
    pytest.param(
        "vault-pki",
        {
            "vault": {
                "server": "https://vault.example.com:8200",
                "path": "pki/sign/web",
                "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}},
            }
        },
        "Vault",
        id="vault",
    ),
    pytest.param(
        "venafi-tpp",
        {
            "venafi": {
                "zone": "devops\\cert-manager",
                "tpp": {
                    "url": "https://tpp.example.com/vedsdk",
                    "credentialsRef": {"name": "tpp-credentials"},
                },
            }
        },
        "Venafi",
        id="venafi",
    ),
]


def test_an_unreachable_acme_server_fails_the_certificate_with_a_sentence(cli: Cli) -> None:
    spec = {
        "acme": {
            # Nothing listens on port 9 of loopback: the connection is refused at once.
            "server": "https://127.0.0.1:9/directory",
            "privateKeySecretRef": {"name": "acme-account"},
            "solvers": [{"http01": {"standalone": {}}}],
        }
    }
    path = cli.manifest("issuer.yaml", issuer("acme", spec), certificate("web", issuer="acme"))

    result = cli.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 1, describe(result)
    web = results_by_name(result)["web"]
    assert web["reason"] == "ACMEServerUnreachable"
    assert "could not be reached" in web["error"]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("name", "spec", "title"), UNSUPPORTED)
def test_issuers_that_validate_but_cannot_issue_yet(
    cli: Cli, name: str, spec: dict[str, Any], title: str
) -> None:
    path = cli.manifest("issuer.yaml", issuer(name, spec), certificate("web", issuer=name))
    assert cli.run("validate", "-f", path).exit_code == 0

    result = cli.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 1, describe(result)
    item = results_by_name(result)["web"]
    assert item["action"] == "Failed"
    assert "not supported yet" in item["error"]
    assert f"ClusterIssuer '{name}'" in item["error"]
    assert title in item["error"]
    assert "not supported yet" in result.stderr
    assert name in result.stderr
    assert "Traceback" not in result.stderr
    assert not cli.secret("default", "web-tls").exists()


# -- 12. keystores and additional output formats -------------------------------------------------


def test_pkcs12_keystore_and_additional_outputs(cli: Cli) -> None:
    path = cli.manifest(
        "keystores.yaml",
        SELFSIGNED,
        certificate(
            "app",
            keystores={"pkcs12": {"create": True, "password": "changeit", "profile": "Modern2023"}},
            additionalOutputFormats=[{"type": "CombinedPEM"}, {"type": "DER"}],
        ),
    )

    result = cli.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result)
    folder = cli.secret("default", "app-tls")
    key_pem = (folder / "tls.key").read_bytes()
    crt_pem = (folder / "tls.crt").read_bytes()
    key = serialization.load_pem_private_key(key_pem, password=None)
    loaded = pkcs12.load_pkcs12((folder / "keystore.p12").read_bytes(), b"changeit")
    assert loaded.key is not None
    assert public_der(loaded.key) == public_der(key)
    assert loaded.cert is not None
    assert loaded.cert.certificate == x509.load_pem_x509_certificate(crt_pem)
    assert (folder / "tls-combined.pem").read_bytes() == key_pem + b"\n" + crt_pem
    key_der = (folder / "key.der").read_bytes()
    assert public_der(serialization.load_der_private_key(key_der, password=None)) == public_der(key)


def _jks(data: bytes, password: str) -> Any:
    import jks

    return jks.KeyStore.loads(data, password)


def test_a_jks_keystore_and_truststore_are_written_as_cert_manager_does(cli: Cli) -> None:
    path = cli.manifest(
        "jks.yaml",
        SELFSIGNED,
        certificate("app", keystores={"jks": {"create": True, "password": "changeit"}}),
    )

    result = cli.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result)
    folder = cli.secret("default", "app-tls")
    leaf = cli.leaf("default", "app-tls")
    keystore = _jks((folder / "keystore.jks").read_bytes(), "changeit")
    assert sorted(keystore.entries) == ["ca", "certificate"]
    entry = keystore.private_keys["certificate"]
    assert [der for _, der in entry.cert_chain] == [leaf.public_bytes(serialization.Encoding.DER)]
    stored_key = serialization.load_der_private_key(entry.pkey_pkcs8, password=None)
    assert public_der(stored_key) == public_der(cli.key("default", "app-tls"))
    ca_der = x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    assert keystore.certs["ca"].cert == ca_der
    truststore = _jks((folder / "truststore.jks").read_bytes(), "changeit")
    assert list(truststore.entries) == ["ca"] and truststore.certs["ca"].cert == ca_der


def test_a_jks_password_comes_from_password_secret_ref(cli: Cli) -> None:
    from certctl.stores.base import SecretRecord
    from certctl.stores.directory import DirectoryStore

    DirectoryStore(cli.store).write(
        SecretRecord("default", "jks-password", {"pass": b"from a secret"}, type="Opaque")
    )
    path = cli.manifest(
        "jks.yaml",
        SELFSIGNED,
        certificate(
            "app",
            keystores={
                "jks": {
                    "create": True,
                    "alias": "tomcat",
                    "passwordSecretRef": {"name": "jks-password", "key": "pass"},
                }
            },
        ),
    )

    result = cli.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result)
    keystore = _jks(
        (cli.secret("default", "app-tls") / "keystore.jks").read_bytes(), "from a secret"
    )
    assert sorted(keystore.entries) == ["ca", "tomcat"]


# -- 13. key options ---------------------------------------------------------------------------


KEYS = [
    pytest.param(
        {"algorithm": "ECDSA", "size": 384},
        lambda key: isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1",
        b"-----BEGIN EC PRIVATE KEY-----",
        id="ECDSA P-384 in SEC1 PEM",
    ),
    pytest.param(
        {"algorithm": "RSA", "size": 3072, "encoding": "PKCS8"},
        lambda key: isinstance(key, rsa.RSAPrivateKey) and key.key_size == 3072,
        b"-----BEGIN PRIVATE KEY-----",
        id="RSA 3072 in PKCS#8 PEM",
    ),
    pytest.param(
        {"algorithm": "Ed25519"},
        lambda key: isinstance(key, ed25519.Ed25519PrivateKey),
        b"-----BEGIN PRIVATE KEY-----",
        id="Ed25519",
    ),
]


@pytest.mark.parametrize(("private_key", "is_expected", "pem_header"), KEYS)
def test_private_key_options(
    cli: Cli, private_key: dict[str, Any], is_expected: Any, pem_header: bytes
) -> None:
    path = cli.manifest("key.yaml", SELFSIGNED, certificate("web", privateKey=private_key))

    cli.ok("issue", "-f", path)

    key = cli.key("default", "web-tls")
    assert is_expected(key), type(key)
    assert (cli.secret("default", "web-tls") / "tls.key").read_bytes().startswith(pem_header)
    assert public_der(key) == public_der(cli.leaf("default", "web-tls"))


@pytest.mark.parametrize(
    ("policy", "same_key"),
    [
        pytest.param("Never", True, id="rotationPolicy Never keeps the key"),
        pytest.param("Always", False, id="rotationPolicy Always makes a new key"),
    ],
)
def test_rotation_policy_across_force(cli: Cli, policy: str, same_key: bool) -> None:
    path = cli.manifest(
        "rotation.yaml",
        SELFSIGNED,
        certificate("web", privateKey={"algorithm": "ECDSA", "rotationPolicy": policy}),
    )
    cli.ok("issue", "-f", path)
    first_key = public_der(cli.key("default", "web-tls"))
    first_serial = cli.leaf("default", "web-tls").serial_number

    cli.ok("issue", "-f", path, "--force")

    assert cli.leaf("default", "web-tls").serial_number != first_serial
    assert (public_der(cli.key("default", "web-tls")) == first_key) is same_key
    assert os.path.islink(cli.secret("default", "web-tls"))
