"""``certctl inspect`` end to end through the Typer app, including a live TLS server."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from certctl import endpoints
from certctl.cli.main import app
from certctl.stores.base import SecretRecord
from certctl.stores.directory import DirectoryStore

runner = CliRunner()
CERTIFICATE_FIELDS = {
    "subject",
    "commonName",
    "dnsNames",
    "ipAddresses",
    "uris",
    "emailAddresses",
    "issuer",
    "serial",
    "notBefore",
    "notAfter",
    "secondsLeft",
    "expired",
    "isCA",
    "keyUsages",
    "extendedKeyUsages",
    "publicKey",
    "signatureAlgorithm",
    "sha256",
    "sha1",
}


# -- builders --------------------------------------------------------------------------


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def issue(
    name: str,
    issuer: Issued | None = None,
    *,
    ca: bool = False,
    dns_names: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    days: int = 90,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


@dataclass
class Pki:
    root: Issued
    intermediate: Issued
    leaf: Issued


@pytest.fixture(scope="module")
def pki() -> Pki:
    root = issue("CLI Root", ca=True, days=3650)
    intermediate = issue("CLI Intermediate", root, ca=True, days=365)
    leaf = issue("localhost", intermediate, dns_names=("localhost",), ips=("127.0.0.1",))
    return Pki(root, intermediate, leaf)


@pytest.fixture
def cli_args(tmp_path: Path) -> list[str]:
    """Global options: a private store and state dir, so nothing outside tmp is touched."""
    return ["--store", f"dir:{tmp_path / 'store'}", "--state-dir", str(tmp_path / "state")]


# -- files and folders -----------------------------------------------------------------


def test_file_target_prints_an_aligned_report(
    tmp_path: Path, pki: Pki, cli_args: list[str]
) -> None:
    bundle = tmp_path / "tls.crt"
    bundle.write_bytes(pki.leaf.pem + pki.intermediate.pem)
    roots = tmp_path / "ca.pem"
    roots.write_bytes(pki.root.pem)

    result = runner.invoke(app, [*cli_args, "inspect", str(bundle), "--ca-file", str(roots)])

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Certificate 1 of 2 (leaf)" in out
    assert "Certificate 2 of 2 (intermediate)" in out
    assert "  DNS names:            localhost" in out
    assert "  IP addresses:         127.0.0.1" in out
    assert "expires in 89d 2" in out
    assert "  Order:                localhost -> CLI Intermediate" in out
    assert f"  Verified:             yes, against --ca-file {roots}" in out
    assert "\x1b[" not in result.output


def test_file_target_as_json_has_the_documented_fields(
    tmp_path: Path, pki: Pki, cli_args: list[str]
) -> None:
    combined = tmp_path / "combined.pem"
    combined.write_bytes(pki.leaf.pem + pki.intermediate.pem + pki.root.pem + pki.leaf.key_pem)

    result = runner.invoke(app, [*cli_args, "inspect", str(combined), "-o", "json"])

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["target"] == str(combined)
    assert document["kind"] == "file"
    assert len(document["certificates"]) == 3
    assert set(document["certificates"][0]) >= CERTIFICATE_FIELDS
    leaf = document["certificates"][0]
    assert leaf["dnsNames"] == ["localhost"]
    assert leaf["ipAddresses"] == ["127.0.0.1"]
    assert leaf["expired"] is False
    assert 89 * 86400 < leaf["secondsLeft"] <= 90 * 86400
    assert document["chain"]["verified"] is True
    assert document["chain"]["problem"] == ""
    assert document["keyMatches"] is True
    assert document["annotations"] == {}
    assert document["labels"] == {}
    assert document["dataKeys"] == []


def test_pkcs12_file_with_password_file(tmp_path: Path, pki: Pki, cli_args: list[str]) -> None:
    keystore = tmp_path / "keystore.p12"
    keystore.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"app",
            pki.leaf.key,
            pki.leaf.cert,
            [pki.intermediate.cert],
            serialization.BestAvailableEncryption(b"changeit"),
        )
    )
    password = tmp_path / "password"
    password.write_text("changeit\n")

    ok = runner.invoke(
        app, [*cli_args, "inspect", str(keystore), "--password-file", str(password), "-o", "yaml"]
    )
    wrong = runner.invoke(app, [*cli_args, "inspect", str(keystore), "--password", "nope"])

    assert ok.exit_code == 0, ok.output
    assert "format: PKCS#12" in ok.stdout
    assert "keyMatches: true" in ok.stdout
    assert wrong.exit_code == 2
    assert "password is wrong" in wrong.output
    assert "Traceback" not in wrong.output


def test_directory_target(tmp_path: Path, pki: Pki, cli_args: list[str]) -> None:
    folder = tmp_path / "my-secret"
    folder.mkdir()
    (folder / "tls.crt").write_bytes(pki.leaf.pem + pki.intermediate.pem)
    (folder / "tls.key").write_bytes(pki.leaf.key_pem)
    (folder / "ca.crt").write_bytes(pki.root.pem)

    result = runner.invoke(app, [*cli_args, "inspect", str(folder)])

    assert result.exit_code == 0, result.output
    assert "Kind:                   directory" in result.stdout
    assert "Data keys:              ca.crt, tls.crt, tls.key" in result.stdout
    assert "  Verified:             yes, against ca.crt" in result.stdout
    assert "Private key:            ECDSA P-256, matches the leaf certificate" in result.stdout


def test_secret_target_reads_the_store(tmp_path: Path, pki: Pki, cli_args: list[str]) -> None:
    DirectoryStore(tmp_path / "store").write(
        SecretRecord(
            namespace="web",
            name="app-tls",
            data={
                "tls.crt": pki.leaf.pem + pki.intermediate.pem,
                "tls.key": pki.intermediate.key_pem,
                "ca.crt": pki.root.pem,
            },
            labels={"controller.cert-manager.io/fao": "true"},
            annotations={
                "cert-manager.io/certificate-name": "app",
                "cert-manager.io/issuer-name": "ca-issuer",
            },
        )
    )

    text = runner.invoke(app, [*cli_args, "inspect", "secret/app-tls", "-n", "web"])
    data = runner.invoke(app, [*cli_args, "inspect", "secret/app-tls", "-n", "web", "-o", "json"])
    missing = runner.invoke(app, [*cli_args, "inspect", "secret/app-tls"])

    assert text.exit_code == 0, text.output
    assert "Target:                 secret/web/app-tls" in text.stdout
    assert "Type:                   kubernetes.io/tls" in text.stdout
    assert "Annotations:            cert-manager.io/certificate-name=app" in text.stdout
    assert "                        cert-manager.io/issuer-name=ca-issuer" in text.stdout
    assert "Labels:                 controller.cert-manager.io/fao=true" in text.stdout
    assert "does NOT match the leaf certificate" in text.stdout
    document = json.loads(data.stdout)
    assert document["kind"] == "secret"
    assert document["keyMatches"] is False
    assert document["chain"] == {
        "verified": True,
        "problem": "",
        "trustedBy": "ca.crt",
        "presentedInOrder": True,
    }
    assert document["dataKeys"] == ["ca.crt", "tls.crt", "tls.key"]
    assert document["annotations"]["cert-manager.io/issuer-name"] == "ca-issuer"
    assert missing.exit_code == 2
    assert "default/app-tls does not exist" in missing.output


def test_a_dir_store_folder_is_a_directory_target(
    tmp_path: Path, pki: Pki, cli_args: list[str]
) -> None:
    DirectoryStore(tmp_path / "store").write(
        SecretRecord(
            namespace="web",
            name="app-tls",
            data={"tls.crt": pki.leaf.pem, "tls.key": pki.leaf.key_pem, "keystore.p12": b"x"},
            annotations={"cert-manager.io/certificate-name": "app"},
        )
    )

    result = runner.invoke(
        app, [*cli_args, "inspect", str(tmp_path / "store" / "web" / "app-tls"), "-o", "json"]
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["kind"] == "directory"
    assert document["secretType"] == "kubernetes.io/tls"
    assert document["dataKeys"] == ["keystore.p12", "tls.crt", "tls.key"]
    assert document["annotations"] == {"cert-manager.io/certificate-name": "app"}
    assert document["keyMatches"] is True


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("missing.pem", id="a missing file"),
        pytest.param("secret", id="a bare word"),
    ],
)
def test_missing_target_exits_2(tmp_path: Path, cli_args: list[str], target: str) -> None:
    result = runner.invoke(app, [*cli_args, "inspect", str(tmp_path / target)])
    assert result.exit_code == 2
    assert "no such file or folder" in result.output
    assert "Traceback" not in result.output


def test_garbage_file_exits_2(tmp_path: Path, cli_args: list[str]) -> None:
    garbage = tmp_path / "garbage.crt"
    garbage.write_bytes(b"\x00\x01\x02 definitely not a certificate")
    result = runner.invoke(app, [*cli_args, "inspect", str(garbage)])
    assert result.exit_code == 2
    assert "garbage.crt is binary data that is neither PEM nor DER, not a certificate" in (
        result.output
    )


# -- live endpoints --------------------------------------------------------------------


class TLSServer:
    """A TLS server on a free loopback port that completes handshakes until stopped."""

    def __init__(self, certfile: Path, keyfile: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certfile, keyfile)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.handshakes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="tls-server", daemon=True)

    def __enter__(self) -> TLSServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                try:
                    with self.context.wrap_socket(connection, server_side=True) as tls:
                        self.handshakes += 1
                        tls.recv(1)  # until the client closes
                except (OSError, ssl.SSLError):
                    pass


@pytest.fixture
def tls_server(tmp_path: Path, pki: Pki) -> Iterator[TLSServer]:
    certfile = tmp_path / "server.crt"
    certfile.write_bytes(pki.leaf.pem + pki.intermediate.pem)
    keyfile = tmp_path / "server.key"
    keyfile.write_bytes(pki.leaf.key_pem)
    with TLSServer(certfile, keyfile) as server:
        yield server


def test_endpoint_chain_verifies_against_ca_file(
    tmp_path: Path, pki: Pki, cli_args: list[str], tls_server: TLSServer
) -> None:
    roots = tmp_path / "roots.pem"
    roots.write_bytes(pki.root.pem)
    target = f"127.0.0.1:{tls_server.port}"

    result = runner.invoke(
        app, [*cli_args, "inspect", target, "--ca-file", str(roots), "--servername", "localhost"]
    )

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Kind:                   endpoint" in out
    assert "Server name (SNI):      localhost" in out
    assert "Certificate 1 of 2 (leaf)" in out
    assert "Certificate 2 of 2 (intermediate)" in out
    assert "  Order:                localhost -> CLI Intermediate" in out
    assert f"  Verified:             yes, against --ca-file {roots}" in out
    assert "  Hostname:             localhost matches the leaf's SANs" in out


def test_endpoint_as_json_without_sni_and_system_roots(
    pki: Pki, cli_args: list[str], tls_server: TLSServer
) -> None:
    result = runner.invoke(
        app, [*cli_args, "inspect", f"127.0.0.1:{tls_server.port}", "-o", "json"]
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["kind"] == "endpoint"
    assert [c["commonName"] for c in document["certificates"]] == ["localhost", "CLI Intermediate"]
    assert document["chain"]["verified"] is False
    assert "CLI Root" in document["chain"]["problem"]
    assert document["chain"]["trustedBy"] == "the system trust store"
    assert document["endpoint"]["serverName"] is None
    assert document["endpoint"]["hostnameMatches"] is True  # the IP SAN
    assert document["endpoint"]["tlsVersion"].startswith("TLS")
    assert document["endpoint"]["method"] == "python-ssl"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_endpoint_chain_through_the_openssl_fallback(
    pki: Pki, cli_args: list[str], tls_server: TLSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend this Python cannot return the whole chain, as one without
    # _sslobj.get_unverified_chain() would.
    monkeypatch.setattr(endpoints, "_read_chain", lambda tls: None)

    result = runner.invoke(
        app,
        [
            *cli_args,
            "inspect",
            f"127.0.0.1:{tls_server.port}",
            "--servername",
            "localhost",
            "-o",
            "json",
        ],
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["endpoint"]["method"] == "openssl-s_client"
    assert [c["commonName"] for c in document["certificates"]] == ["localhost", "CLI Intermediate"]


def test_endpoint_hostname_mismatch_is_reported(
    pki: Pki, cli_args: list[str], tls_server: TLSServer
) -> None:
    result = runner.invoke(
        app,
        [*cli_args, "inspect", f"127.0.0.1:{tls_server.port}", "--servername", "other.test"],
    )
    assert result.exit_code == 0, result.output
    assert "other.test does NOT match the leaf's SANs" in result.stdout


def test_unreachable_endpoint_exits_3(cli_args: list[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now that the probe socket is closed.

    result = runner.invoke(app, [*cli_args, "inspect", f"127.0.0.1:{port}", "--timeout", "2s"])

    assert result.exit_code == 3
    message = result.stderr.strip()
    assert message.startswith(f"Error: Cannot connect to 127.0.0.1:{port}")
    assert "\n" not in message
    assert "Traceback" not in result.output


def test_bad_timeout_is_a_usage_error(cli_args: list[str]) -> None:
    result = runner.invoke(app, [*cli_args, "inspect", "127.0.0.1:1", "--timeout", "soon"])
    assert result.exit_code == 2
    assert "--timeout" in result.output
