"""certctl.engine.status: readiness as ``get certificates`` and ``describe`` show it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certctl.api.models import PrivateKeySpec
from certctl.engine.status import view_certificate
from certctl.stores.directory import DirectoryStore
from tests.unit.engine.builders import NOW, certificate, issued_secret

RSA_WEB = certificate("web", private_key=PrivateKeySpec(algorithm="RSA", size=2048))


def _corrupted(pem: bytes) -> bytes:
    """The same RSA key with a private exponent that no longer inverts e."""
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers = key.private_numbers()
    broken = rsa.RSAPrivateNumbers(
        p=numbers.p,
        q=numbers.q,
        d=numbers.d + 2,
        dmp1=numbers.dmp1,
        dmq1=numbers.dmq1,
        iqmp=numbers.iqmp,
        public_numbers=numbers.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    return broken.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("damage", "status", "reason"),
    [
        pytest.param(lambda pem: pem, "True", "Ready", id="the issued pair is ready"),
        pytest.param(
            _corrupted,
            "False",
            "InvalidKeyPair",
            id="an RSA key whose numbers do not fit together is not ready",
        ),
        pytest.param(
            lambda pem: b"junk", "False", "InvalidKeyPair", id="a key that does not decode"
        ),
    ],
)
def test_readiness_checks_the_key_without_a_full_rsa_key_check(
    tmp_path: Path, damage: object, status: str, reason: str
) -> None:
    store = DirectoryStore(tmp_path)
    record = issued_secret(RSA_WEB)
    key = damage(record.data["tls.key"])  # type: ignore[operator]
    store.write(dataclasses.replace(record, data={**record.data, "tls.key": key}))

    view = view_certificate(RSA_WEB, store, NOW)

    assert (view.ready.status, view.ready.reason) == (status, reason)
