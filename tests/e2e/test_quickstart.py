"""The README's quick start, run with the installed ``certctl`` the way a user would."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.entrypoint import certctl_binary

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def openssl_binary() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.fail("openssl is missing: install it with `apt-get install openssl`")
    return path


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CERTCTL_STATE_DIR": str(cwd / "state"), **env}
    return subprocess.run(
        [certctl_binary(), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture()
def quickstart(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "examples" / "quickstart", tmp_path / "quickstart")
    result = run(["issue", "-f", "quickstart/"], tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_quickstart_issues_a_ca_and_a_leaf_that_openssl_verifies(quickstart: Path) -> None:
    leaf = quickstart / "certs" / "default" / "api-backend-tls"
    verify = subprocess.run(
        [openssl_binary(), "verify", "-CAfile", str(leaf / "ca.crt"), str(leaf / "tls.crt")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    root = quickstart / "certs" / "cert-manager" / "root-ca-secret"
    assert (root / "ca.crt").read_bytes() == (leaf / "ca.crt").read_bytes()


def test_the_leaf_has_the_requested_names_and_its_key(quickstart: Path) -> None:
    leaf = quickstart / "certs" / "default" / "api-backend-tls"
    certificate = x509.load_pem_x509_certificate((leaf / "tls.crt").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == [
        "api.backend.svc",
        "api.backend.svc.cluster.local",
    ]
    key = serialization.load_pem_private_key((leaf / "tls.key").read_bytes(), password=None)
    assert key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert (leaf / "tls.key").read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")


def test_keys_and_folders_are_private(quickstart: Path) -> None:
    leaf = quickstart / "certs" / "default" / "api-backend-tls"
    assert stat.S_IMODE(os.stat(leaf).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(quickstart / "certs" / "default").st_mode) == 0o700
    for name in ("tls.key", "tls.crt", "ca.crt"):
        assert stat.S_IMODE(os.stat(leaf / name).st_mode) == 0o600, name


def test_a_tls_handshake_succeeds_with_the_issued_certificate(quickstart: Path) -> None:
    leaf = quickstart / "certs" / "default" / "api-backend-tls"
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(leaf / "tls.crt", leaf / "tls.key")
    client_context = ssl.create_default_context(cafile=str(leaf / "ca.crt"))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        served: list[bytes] = []

        def serve() -> None:
            connection, _ = listener.accept()
            with server_context.wrap_socket(connection, server_side=True) as tls:
                served.append(tls.recv(5))
                tls.sendall(b"pong!")

        thread = threading.Thread(target=serve)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            client_context.wrap_socket(raw, server_hostname="api.backend.svc") as tls,
        ):
            tls.sendall(b"ping!")
            assert tls.recv(5) == b"pong!"
        thread.join(timeout=10)
    assert served == [b"ping!"]


def test_a_second_run_changes_nothing(quickstart: Path) -> None:
    leaf = quickstart / "certs" / "default" / "api-backend-tls" / "tls.crt"
    before = leaf.read_bytes()
    result = run(["renew", "-f", "quickstart/"], quickstart)
    assert result.returncode == 0, result.stderr
    assert "Nothing to renew: 2 certificates up to date" in result.stderr
    assert result.stdout == ""
    assert leaf.read_bytes() == before


def test_a_malformed_manifest_exits_2_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: x}\n"
        "spec:\n  secretName: x\n  dnsName: [a.example]\n  issuerRef: {name: i}\n"
    )
    result = run(["issue", "-f", "bad.yaml"], tmp_path)
    assert result.returncode == 2
    assert "bad.yaml:6" in result.stderr
    assert "did you mean 'dnsNames'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "certs").exists()
