"""A rate limit from the ACME server becomes one clear error with the time to retry.

Pebble has no rate limits, so a small stand-in server answers the directory, nonces
and account registration like an ACME server, then refuses every new order with
Let's Encrypt's ``rateLimited`` problem and a Retry-After.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from certctl.cli.main import app

RATE_LIMIT_DETAIL = (
    "too many certificates (5) already issued for this exact set of identifiers in the last "
    "168h0m0s, retry after 2026-11-28 20:00:00 UTC"
)


class RateLimitedACME(BaseHTTPRequestHandler):
    nonce = 0

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _send(self, status: int, body: dict[str, Any] | None, **headers: str) -> None:
        RateLimitedACME.nonce += 1
        payload = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        content_type = "application/problem+json" if status >= 400 else "application/json"
        self.send_header("Content-Type", content_type)
        self.send_header("Replay-Nonce", f"nonce-{RateLimitedACME.nonce}")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(payload)

    def do_HEAD(self) -> None:
        self._send(200, None)

    def do_GET(self) -> None:
        base = self._base()
        self._send(
            200,
            {
                "newNonce": f"{base}/nonce",
                "newAccount": f"{base}/account",
                "newOrder": f"{base}/order",
                "revokeCert": f"{base}/revoke",
                "keyChange": f"{base}/key-change",
            },
        )

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/account":
            self._send(
                201, {"status": "valid", "contact": []}, Location=f"{self._base()}/account/1"
            )
            return
        self._send(
            429,
            {
                "type": "urn:ietf:params:acme:error:rateLimited",
                "detail": RATE_LIMIT_DETAIL,
                "status": 429,
            },
            Retry_After="3600",
        )


@pytest.fixture
def rate_limited_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RateLimitedACME)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/directory"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_rate_limit_is_one_sentence_with_the_retry_time(
    tmp_path: Path, rate_limited_server: str
) -> None:
    documents = [
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "limited"},
            "spec": {
                "acme": {
                    "server": rate_limited_server,
                    "privateKeySecretRef": {"name": "limited-account"},
                    "solvers": [{"http01": {"standalone": {"port": 8089}}}],
                }
            },
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "busy", "namespace": "default"},
            "spec": {
                "secretName": "busy-tls",
                "dnsNames": ["busy.example.test"],
                "issuerRef": {"name": "limited", "kind": "ClusterIssuer"},
            },
        },
    ]
    manifest = tmp_path / "limited.yaml"
    manifest.write_text(yaml.safe_dump_all(documents))

    result = CliRunner().invoke(
        app,
        [
            "--store",
            f"dir:{tmp_path / 'certs'}",
            "--state-dir",
            str(tmp_path / "state"),
            "issue",
            "-f",
            str(manifest),
            "-o",
            "json",
        ],
    )

    assert result.exit_code == 1, result.stderr
    [item] = json.loads(result.stdout)["results"]
    assert item["reason"] == "RateLimited"
    assert RATE_LIMIT_DETAIL in item["error"]
    assert "rate-limited this request; retry after" in item["error"]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "certs" / "default" / "busy-tls").exists()
