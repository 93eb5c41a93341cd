"""Interrupting a run (Ctrl-C, or SIGTERM from a CronJob deadline) loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.entrypoint import certctl_binary

pytestmark = pytest.mark.e2e

COUNT = 12


def write_slow_manifests(folder: Path) -> None:
    """RSA 4096 keys take long enough to generate that the run is still busy when signalled."""
    documents = [
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: self}\n"
        "spec: {selfSigned: {}}\n"
    ]
    documents += [
        f"apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: c{index}}}\n"
        f"spec:\n  secretName: c{index}-tls\n  dnsNames: [c{index}.example.test]\n"
        "  privateKey: {algorithm: RSA, size: 4096}\n"
        "  issuerRef: {name: self, kind: ClusterIssuer}\n"
        for index in range(COUNT)
    ]
    (folder / "certs.yaml").write_text("---\n".join(documents))


def visible_secrets(store: Path) -> list[Path]:
    """Secrets a reader can see; generation folders being built are hidden."""
    if not store.exists():
        return []
    return [path for path in store.iterdir() if not path.name.startswith(".")]


def secret_is_whole(folder: Path) -> bool:
    certificate = x509.load_pem_x509_certificate((folder / "tls.crt").read_bytes())
    key = serialization.load_pem_private_key((folder / "tls.key").read_bytes(), password=None)
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(der, spki) == certificate.public_key().public_bytes(
        der, spki
    )


@pytest.mark.parametrize(
    "signal_number",
    [
        pytest.param(signal.SIGINT, id="ctrl-c exits 130 and leaves only whole secrets"),
        pytest.param(signal.SIGTERM, id="sigterm exits 130 and leaves only whole secrets"),
    ],
)
def test_an_interrupted_run_exits_130_and_the_next_run_finishes(
    tmp_path: Path, signal_number: int
) -> None:
    write_slow_manifests(tmp_path)
    env = {**os.environ, "CERTCTL_STATE_DIR": str(tmp_path / "state")}
    command = [certctl_binary(), "--concurrency", "1", "issue", "-f", "certs.yaml"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    store = tmp_path / "certs" / "default"
    deadline = time.monotonic() + 60
    while not visible_secrets(store) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Interrupted" in stderr
    assert "Traceback" not in stderr
    written = visible_secrets(store)
    assert 0 < len(written) < COUNT, "the run should have stopped part way"
    assert all(secret_is_whole(path) for path in written)

    finish = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert finish.returncode == 0, finish.stderr
    written = visible_secrets(store)
    assert len(written) == COUNT
    assert all(secret_is_whole(path) for path in written)
