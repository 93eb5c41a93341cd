"""``certctl inspect``: build a report on a file, a secret, a folder or a live endpoint.

The report builders are pure functions over bytes and a moment in time
(:func:`inspect_file_data`, :func:`inspect_secret_data`,
:func:`inspect_presented_chain`). :func:`inspect_target` is the one place that
reads files, the store and the network, and then calls them.

Trust roots for chain verification, first match wins:

1. ``--ca-file``;
2. a secret's (or folder's) ``ca.crt``;
3. for files, secrets and folders, the self-signed root at the top of the chain
   itself (which only shows the chain is consistent, and the report says so);
4. the system trust store. An endpoint always uses 1 or 4: trusting the root a
   server sends would prove nothing.

The JSON/YAML form (:meth:`InspectionReport.to_dict`) is a stable schema::

    {
      "target": str, "kind": "file" | "secret" | "directory" | "endpoint",
      "format": "PEM" | "DER" | "PKCS#12" | null,
      "certificates": [{
        "role": "leaf" | "intermediate" | "root",
        "subject", "commonName", "dnsNames", "ipAddresses", "uris", "emailAddresses",
        "issuer", "serial", "notBefore", "notAfter", "secondsLeft", "expired",
        "notYetValid", "isCA", "selfSigned", "keyUsages", "extendedKeyUsages",
        "publicKey", "signatureAlgorithm", "sha256", "sha1"
      }, ...],                          # chain order, leaf first
      "chain": {"verified": bool, "problem": str, "trustedBy": str,
                "presentedInOrder": bool},
      "keyMatches": bool | null, "privateKey": str | null,
      "secretType": str | null, "annotations": {..}, "labels": {..}, "dataKeys": [..],
      "endpoint": null | {"host", "port", "serverName", "hostnameMatches",
                          "method", "tlsVersion", "cipher"},
      "notes": [str, ...]
    }
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from certctl.errors import InspectError
from certctl.pki.certificates import (
    ANNOTATION_PREFIX,
    CertificateInfo,
    describe_certificate,
    order_chain,
    parse_pem_certificates,
    verify_chain,
)
from certctl.pki.formats import identify_data, pem_blocks
from certctl.pki.keys import describe_key, load_private_key, public_keys_equal

if TYPE_CHECKING:
    from certctl.endpoints import Endpoint, PresentedChain
    from certctl.stores.base import SecretRecord, SecretStore

__all__ = [
    "CertificateReport",
    "ChainReport",
    "EndpointReport",
    "InspectRequest",
    "InspectionReport",
    "TrustRoots",
    "format_duration",
    "format_time_left",
    "hostname_matches",
    "inspect_file_data",
    "inspect_presented_chain",
    "inspect_secret_data",
    "inspect_target",
]

KIND_FILE = "file"
KIND_SECRET = "secret"
KIND_DIRECTORY = "directory"
KIND_ENDPOINT = "endpoint"

#: The data keys of a ``kubernetes.io/tls`` Secret that inspect decodes.
TLS_CERT_KEY = "tls.crt"
TLS_KEY_KEY = "tls.key"
CA_CERT_KEY = "ca.crt"
#: The directory store's metadata file in a secret folder.
METADATA_FILE = "..metadata.json"

# Refuse to read more than this from one file: certificates and keystores are small.
_MAX_FILE_BYTES = 16 * 1024 * 1024

# OID 1.2.840.113549.1.7.1 (pkcs7-data), the ContentInfo a PFX's authSafe starts with.
_PKCS7_DATA_OID = bytes.fromhex("06092a864886f70d010701")


@dataclass(frozen=True)
class TrustRoots:
    """Trust anchors for chain verification and where they came from, for the report."""

    certificates: list[x509.Certificate]
    source: str


@dataclass(frozen=True)
class CertificateReport:
    """One certificate of the chain, with its validity measured at the report's moment."""

    role: str
    info: CertificateInfo
    seconds_left: int
    expired: bool
    not_yet_valid: bool
    time_left: str

    def to_dict(self) -> dict[str, Any]:
        info = self.info
        return {
            "role": self.role,
            "subject": info.subject,
            "commonName": info.common_name,
            "dnsNames": list(info.dns_names),
            "ipAddresses": list(info.ip_addresses),
            "uris": list(info.uris),
            "emailAddresses": list(info.email_addresses),
            "issuer": info.issuer,
            "serial": info.serial,
            "notBefore": _rfc3339(info.not_before),
            "notAfter": _rfc3339(info.not_after),
            "secondsLeft": self.seconds_left,
            "expired": self.expired,
            "notYetValid": self.not_yet_valid,
            "isCA": info.is_ca,
            "selfSigned": info.self_signed,
            "keyUsages": list(info.key_usages),
            "extendedKeyUsages": list(info.extended_key_usages),
            "publicKey": info.public_key,
            "signatureAlgorithm": info.signature_algorithm,
            "sha256": info.sha256_fingerprint,
            "sha1": info.sha1_fingerprint,
        }


@dataclass(frozen=True)
class ChainReport:
    """Whether the chain verifies, and if not, why in plain words."""

    verified: bool
    problem: str
    trusted_by: str
    presented_in_order: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "problem": self.problem,
            "trustedBy": self.trusted_by,
            "presentedInOrder": self.presented_in_order,
        }


@dataclass(frozen=True)
class EndpointReport:
    """How a live endpoint was reached and whether its leaf names it."""

    host: str
    port: int
    server_name: str | None
    hostname_matches: bool
    method: str
    tls_version: str | None
    cipher: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "serverName": self.server_name,
            "hostnameMatches": self.hostname_matches,
            "method": self.method,
            "tlsVersion": self.tls_version,
            "cipher": self.cipher,
        }


@dataclass(frozen=True)
class InspectionReport:
    """Everything ``inspect`` found out about one target."""

    target: str
    kind: str
    certificates: list[CertificateReport]
    chain: ChainReport
    format: str | None = None
    key_matches: bool | None = None
    private_key: str | None = None
    secret_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    data_keys: list[str] = field(default_factory=list)
    endpoint: EndpointReport | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def cert_manager_annotations(self) -> dict[str, str]:
        """The ``*cert-manager.io/*`` annotations, the ones cert-manager itself writes."""
        return {
            key: value
            for key, value in self.annotations.items()
            if key.split("/", 1)[0].endswith(ANNOTATION_PREFIX.rstrip("/"))
        }

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON/YAML form documented in the module docstring."""
        return {
            "target": self.target,
            "kind": self.kind,
            "format": self.format,
            "certificates": [certificate.to_dict() for certificate in self.certificates],
            "chain": self.chain.to_dict(),
            "keyMatches": self.key_matches,
            "privateKey": self.private_key,
            "secretType": self.secret_type,
            "annotations": dict(self.annotations),
            "labels": dict(self.labels),
            "dataKeys": list(self.data_keys),
            "endpoint": self.endpoint.to_dict() if self.endpoint is not None else None,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class InspectRequest:
    """The ``inspect`` command line, parsed.

    Attributes:
        target: a path, ``secret/NAME`` or ``HOST:PORT``.
        namespace: the namespace for ``secret/NAME``.
        password: the PKCS#12 (or encrypted key) password; None tries none and "".
        server_name: SNI for an endpoint; None sends the host unless it is an IP.
        ca_file: trust roots for verification instead of the defaults.
        timeout: seconds to connect and handshake with an endpoint.
    """

    target: str
    namespace: str = "default"
    password: bytes | None = None
    server_name: str | None = None
    ca_file: Path | None = None
    timeout: float = 10.0


# -- time ------------------------------------------------------------------------------


def format_duration(delta: dt.timedelta) -> str:
    """Two units, largest first: ``89d 23h``, ``5h 12m``, ``3m 20s``, ``42s``.

    A zero second unit is left out (``3d``, not ``3d 0h``).
    """
    seconds = max(0, int(delta.total_seconds()))
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for index, (name, size) in enumerate(units):
        if seconds >= size or name == "s":
            first = seconds // size
            text = f"{first}{name}"
            if index + 1 < len(units):
                next_name, next_size = units[index + 1]
                second = (seconds % size) // next_size
                if second:
                    text += f" {second}{next_name}"
            return text
    raise AssertionError("unreachable")


def format_time_left(not_before: dt.datetime, not_after: dt.datetime, now: dt.datetime) -> str:
    """``expires in 89d 23h``, ``EXPIRED 3d ago`` or ``NOT YET VALID (starts in 2h)``."""
    if now < not_before:
        return f"NOT YET VALID (starts in {format_duration(not_before - now)})"
    if now >= not_after:
        return f"EXPIRED {format_duration(now - not_after)} ago"
    return f"expires in {format_duration(not_after - now)}"


# -- hostname matching -----------------------------------------------------------------


def hostname_matches(info: CertificateInfo, hostname: str) -> bool:
    """Whether the certificate's SANs cover ``hostname`` (RFC 6125 §6.4, as browsers do).

    An IP address matches only an IP SAN. A DNS name matches a DNS SAN exactly
    (case-insensitively, ignoring a trailing dot) or a wildcard SAN whose ``*``
    is the whole left-most label and stands for exactly one label. The subject
    common name is not consulted: browsers and Go stopped doing that (RFC 6125
    §6.4.4 makes it a fallback only when there are no SANs, which CAs no longer issue).
    """
    try:
        address = ipaddress.ip_address(hostname.strip("[]").split("%", 1)[0])
    except ValueError:
        address = None
    if address is not None:
        for san in info.ip_addresses:
            try:
                if ipaddress.ip_address(san) == address:
                    return True
            except ValueError:
                continue
        return False
    wanted = _normalise_dns(hostname)
    if not wanted:
        return False
    for san in info.dns_names:
        pattern = _normalise_dns(san)
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "*" not in pattern[2:]:
            head, _, rest = wanted.partition(".")
            if head and rest and rest == pattern[2:]:
                return True
    return False


def _normalise_dns(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        return name


# -- pure report builders --------------------------------------------------------------


def inspect_file_data(
    target: str,
    data: bytes,
    *,
    now: dt.datetime,
    password: bytes | None = None,
    trust: TrustRoots | None = None,
) -> InspectionReport:
    """Report on the contents of one file: PEM, DER or PKCS#12.

    PKCS#12 is recognised by a ``.p12``/``.pfx`` name or by its structure, PEM
    by its ``-----BEGIN`` lines (a private key in the bundle is checked against
    the leaf), and anything else must be one DER certificate.

    Args:
        target: the file name, as given (its suffix helps to tell PKCS#12).
        data: the file contents.
        now: the moment validity is measured at.
        password: the PKCS#12 or encrypted-key password.
        trust: ``--ca-file`` roots, or None for the defaults.

    Raises:
        InspectError: the data holds no decodable certificate, or the PKCS#12
            password is wrong.
    """
    notes: list[str] = []
    suffix = Path(target).suffix.lower()
    if b"-----BEGIN" in data:
        certificates, key, key_note = _decode_pem(target, data, password)
        file_format = "PEM"
    elif suffix in (".p12", ".pfx") or _looks_like_pkcs12(data):
        certificates, key = _decode_pkcs12(target, data, password)
        key_note = None
        file_format = "PKCS#12"
    else:
        certificates = _parse_certificates(target, data)
        key, key_note = None, None
        file_format = "DER"
    if key_note:
        notes.append(key_note)
    return _build_report(
        target=target,
        kind=KIND_FILE,
        certificates=certificates,
        now=now,
        trust=trust,
        fallback_to_chain_root=True,
        key=key,
        file_format=file_format,
        notes=notes,
    )


def inspect_secret_data(
    target: str,
    kind: str,
    data: Mapping[str, bytes],
    *,
    now: dt.datetime,
    secret_type: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    trust: TrustRoots | None = None,
    data_keys: Sequence[str] | None = None,
) -> InspectionReport:
    """Report on a TLS secret's data (``tls.crt``, ``tls.key``, ``ca.crt``).

    ``ca.crt`` is the trust root unless ``trust`` (``--ca-file``) is given.

    Args:
        target: how the user named it, for the report.
        kind: ``secret`` or ``directory``.
        data: the data keys and raw values.
        now: the moment validity is measured at.
        secret_type: the Secret's type, when known.
        labels: the Secret's labels.
        annotations: the Secret's annotations.
        trust: ``--ca-file`` roots, or None for the defaults.
        data_keys: every data key present, when ``data`` holds only some of them.

    Raises:
        InspectError: there is no ``tls.crt`` or it cannot be decoded.
    """
    notes: list[str] = []
    keys = sorted(data_keys if data_keys is not None else data)
    cert_data = data.get(TLS_CERT_KEY)
    if cert_data is None or not cert_data.strip():
        present = ", ".join(keys) or "none"
        raise InspectError(
            f"{target} has no {TLS_CERT_KEY} to inspect (data keys present: {present})",
            hint="Point inspect at a TLS secret or folder, or at a certificate file directly",
        )
    certificates = _parse_certificates(f"{target} {TLS_CERT_KEY}", cert_data)
    if trust is None and CA_CERT_KEY in data:
        ca_data = data[CA_CERT_KEY]
        try:
            trust = TrustRoots(parse_pem_certificates(ca_data, source=CA_CERT_KEY), CA_CERT_KEY)
        except ValueError as exc:
            notes.append(f"{exc}, so it was not used as the trust root")
    key = None
    key_present = TLS_KEY_KEY in data
    if key_present:
        try:
            key = load_private_key(data[TLS_KEY_KEY], source=TLS_KEY_KEY)
        except ValueError as exc:
            notes.append(str(exc))
    report = _build_report(
        target=target,
        kind=kind,
        certificates=certificates,
        now=now,
        trust=trust,
        fallback_to_chain_root=True,
        key=key,
        file_format=None,
        notes=notes,
        secret_type=secret_type,
        labels=dict(labels or {}),
        annotations=dict(annotations or {}),
        data_keys=keys,
    )
    if key_present and key is None:
        # A tls.key that does not decode cannot belong to tls.crt.
        return _with(report, key_matches=False)
    return report


def inspect_presented_chain(
    presented: PresentedChain, *, now: dt.datetime, trust: TrustRoots
) -> InspectionReport:
    """Report on what a live endpoint presented, verified against ``trust``.

    Raises:
        InspectError: the endpoint presented no certificate or one that does not decode.
    """
    target = str(presented.endpoint)
    if not presented.certificates:
        raise InspectError(
            f"{target} completed the TLS handshake but presented no certificate",
            hint="The server may use anonymous or PSK cipher suites; check its TLS settings",
        )
    certificates: list[x509.Certificate] = []
    for index, der in enumerate(presented.certificates):
        try:
            certificates.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            raise InspectError(
                f"Certificate {index + 1} presented by {target} is not a valid X.509 "
                "certificate: it is damaged or cut short",
                hint="The server sent a malformed certificate; check its configuration",
            ) from exc
    report = _build_report(
        target=target,
        kind=KIND_ENDPOINT,
        certificates=certificates,
        now=now,
        trust=trust,
        fallback_to_chain_root=False,
        key=None,
        file_format=None,
        notes=[],
    )
    hostname = presented.server_name or presented.endpoint.host
    matches = hostname_matches(report.certificates[0].info, hostname)
    endpoint = EndpointReport(
        host=presented.endpoint.host,
        port=presented.endpoint.port,
        server_name=presented.server_name,
        hostname_matches=matches,
        method=presented.method,
        tls_version=presented.tls_version,
        cipher=presented.cipher,
    )
    notes = list(report.notes)
    if not matches:
        notes.append(f"The leaf certificate does not name {hostname} in its SANs")
    return _with(report, endpoint=endpoint, notes=notes)


# -- the one entry point that does I/O -------------------------------------------------


def inspect_target(
    request: InspectRequest,
    *,
    open_store: Callable[[], SecretStore] | None,
    now: dt.datetime,
) -> InspectionReport:
    """Work out what ``request.target`` is, read it, and report on it.

    ``secret/NAME`` (or ``secrets/NAME``) reads the store; an existing path is a
    file or a folder (so a file named ``host:443`` is still a file); otherwise
    ``HOST:PORT`` and ``[V6]:PORT`` are live endpoints.

    Args:
        request: the parsed command line.
        open_store: returns the configured store; called for ``secret/NAME`` only,
            so a file or endpoint never opens (or needs) a store.
        now: the moment validity is measured at.

    Raises:
        InspectError: the target cannot be found, read or decoded (exit 2).
        EndpointError: a live endpoint cannot be reached (exit 3).
        StoreError: the store cannot be read (exit 3).
    """
    from certctl.endpoints import parse_endpoint

    target = request.target
    trust = _load_ca_file(request.ca_file) if request.ca_file is not None else None
    kind, _, name = target.partition("/")
    if kind in ("secret", "secrets") and name and "/" not in name:
        if open_store is None:
            raise InspectError(
                f"Cannot inspect {target}: no store is configured",
                hint="Pass --store before the subcommand",
            )
        return _inspect_store_secret(request, name, store=open_store(), now=now, trust=trust)
    path = Path(target).expanduser()
    if path.is_dir():
        data, keys, metadata = _read_secret_folder(path)
        return inspect_secret_data(
            target,
            KIND_DIRECTORY,
            data,
            now=now,
            secret_type=_string_or_none(metadata.get("type")),
            labels=_string_map(metadata.get("labels")),
            annotations=_string_map(metadata.get("annotations")),
            trust=trust,
            data_keys=keys,
        )
    if path.exists():
        return inspect_file_data(
            target, _read_file(path), now=now, password=request.password, trust=trust
        )
    endpoint = parse_endpoint(target)
    if endpoint is not None:
        return _inspect_endpoint(request, endpoint, now=now, trust=trust)
    raise InspectError(
        f"Cannot inspect {target!r}: there is no such file or folder, and it is neither "
        "secret/NAME nor HOST:PORT",
        hint="Check the path, or write secret/NAME for a stored secret and HOST:PORT "
        "for a live endpoint",
    )


def _inspect_store_secret(
    request: InspectRequest,
    name: str,
    *,
    store: SecretStore,
    now: dt.datetime,
    trust: TrustRoots | None,
) -> InspectionReport:
    record: SecretRecord | None = store.read(request.namespace, name)
    if record is None:
        raise InspectError(
            f"Secret {request.namespace}/{name} does not exist in {store.description}",
            hint="Check the name and -n, or list what is there with certctl get certificates",
        )
    return inspect_secret_data(
        f"secret/{record.namespace}/{record.name}",
        KIND_SECRET,
        record.data,
        now=now,
        secret_type=record.type,
        labels=record.labels,
        annotations=record.annotations,
        trust=trust,
    )


def _inspect_endpoint(
    request: InspectRequest,
    endpoint: Endpoint,
    *,
    now: dt.datetime,
    trust: TrustRoots | None,
) -> InspectionReport:
    from certctl.endpoints import fetch_presented_chain, is_ip_address

    server_name = request.server_name
    if server_name is None and not is_ip_address(endpoint.host):
        server_name = endpoint.host
    presented = fetch_presented_chain(endpoint, server_name=server_name, timeout=request.timeout)
    if trust is None:
        trust = _system_trust()
    return inspect_presented_chain(presented, now=now, trust=trust)


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InspectError(
            f"Cannot read {path}: {exc.strerror or exc}",
            hint="Check the path and its permissions",
        ) from exc
    if len(data) > _MAX_FILE_BYTES:
        raise InspectError(
            f"{path} is larger than {_MAX_FILE_BYTES // (1024 * 1024)} MiB, "
            "too large to be a certificate or keystore",
            hint="Point inspect at a PEM, DER or PKCS#12 file",
        )
    return data


def _read_secret_folder(path: Path) -> tuple[dict[str, bytes], list[str], dict[str, Any]]:
    """Read a secret folder: the TLS files, every data key's name, and ``..metadata.json``.

    Every regular file not starting with ``.`` is a data key (the dir store's
    layout); only ``tls.crt``, ``tls.key`` and ``ca.crt`` are read, so pointing
    inspect at a large folder by mistake stays cheap.
    """
    data: dict[str, bytes] = {}
    keys: list[str] = []
    metadata: dict[str, Any] = {}
    try:
        entries = sorted(path.iterdir())
    except OSError as exc:
        raise InspectError(
            f"Cannot list the folder {path}: {exc.strerror or exc}",
            hint="Check the path and its permissions",
        ) from exc
    for entry in entries:
        if entry.name == METADATA_FILE:
            try:
                loaded = json.loads(_read_file(entry))
            except ValueError:
                continue  # a damaged metadata file only loses labels and annotations
            if isinstance(loaded, dict):
                metadata = loaded
            continue
        if entry.name.startswith(".") or not entry.is_file():
            continue
        keys.append(entry.name)
        if entry.name in (TLS_CERT_KEY, TLS_KEY_KEY, CA_CERT_KEY):
            data[entry.name] = _read_file(entry)
    return data, keys, metadata


def _system_trust() -> TrustRoots:
    from certctl.endpoints import system_trust_roots

    roots: list[x509.Certificate] = []
    # Some long-lived system roots break RFC 5280 (a zero serial, for one), which
    # cryptography reports with a deprecation warning; they are still trusted roots.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for der in system_trust_roots():
            try:
                roots.append(x509.load_der_x509_certificate(der))
            except ValueError:
                continue  # one undecodable system root must not stop the inspection
    return TrustRoots(roots, "the system trust store")


def _load_ca_file(path: Path) -> TrustRoots:
    data = _read_file(path.expanduser())
    try:
        return TrustRoots(
            parse_pem_certificates(data, source=f"--ca-file {path}"), f"--ca-file {path}"
        )
    except ValueError as exc:
        raise InspectError(
            str(exc),
            hint="Give a PEM bundle of CA certificates (or one DER certificate)",
        ) from exc


# -- decoding --------------------------------------------------------------------------


def _parse_certificates(what: str, data: bytes) -> list[x509.Certificate]:
    try:
        return parse_pem_certificates(data, source=what)
    except ValueError as exc:
        raise InspectError(str(exc), hint=_decode_hint(data)) from exc


def _decode_hint(data: bytes) -> str:
    """What to try when a file holds no certificate inspect can read."""
    found = identify_data(data)
    if "JKS" in found:
        return (
            "inspect does not read JKS keystores; list one with "
            "keytool -list -v -keystore FILE -storetype JKS"
        )
    if "private key" in found or "PRIVATE KEY" in found:
        return (
            "Point inspect at the certificate (tls.crt), or at the secret or folder that "
            "holds the key with its certificate, to check that they match"
        )
    return (
        "inspect reads PEM certificates (one or a bundle), a DER certificate or "
        "a PKCS#12 keystore (.p12/.pfx)"
    )


def _decode_pem(
    target: str, data: bytes, password: bytes | None
) -> tuple[list[x509.Certificate], Any, str | None]:
    """Certificates and an optional private key from a PEM file; the note says why no key."""
    certificates = _parse_certificates(target, data)
    key_blocks = [block for block in pem_blocks(data) if block.label.endswith("PRIVATE KEY")]
    if not key_blocks:
        return certificates, None, None
    key_pem = key_blocks[0].text
    note = None
    if len(key_blocks) > 1:
        note = f"{target} holds {len(key_blocks)} private keys; only the first was checked"
    if key_blocks[0].encrypted and key_blocks[0].complete:
        try:
            key = serialization.load_pem_private_key(key_pem, password=password)
        except (TypeError, ValueError):
            return (
                certificates,
                None,
                (
                    "The private key is encrypted and could not be decrypted "
                    + ("with the given password" if password else "without a password")
                    + ", so it was not checked against the certificate"
                ),
            )
        return certificates, key, note
    try:
        return certificates, load_private_key(key_pem, source=f"The private key in {target}"), note
    except ValueError as exc:
        return certificates, None, str(exc)


def _looks_like_pkcs12(data: bytes) -> bool:
    """A PFX is ``SEQUENCE { INTEGER 3, ContentInfo { pkcs7-data ... } ... }`` (RFC 7292 §4)."""
    if len(data) < 16 or data[0] != 0x30:
        return False
    length_bytes = data[1] & 0x7F if data[1] & 0x80 else 0
    offset = 2 + length_bytes
    if data[offset : offset + 3] != b"\x02\x01\x03":
        return False
    return _PKCS7_DATA_OID in data[offset + 3 : offset + 24]


def _decode_pkcs12(
    target: str, data: bytes, password: bytes | None
) -> tuple[list[x509.Certificate], Any]:
    # cert-manager's keystores always have a password, but hand-made ones are often
    # unprotected: with no password given, try "no password" and then the empty one.
    attempts = [password] if password is not None else [None, b""]
    last_error: Exception | None = None
    for attempt in attempts:
        try:
            key, certificate, additional = pkcs12.load_key_and_certificates(data, attempt)
        except ValueError as exc:
            last_error = exc
            continue
        except Exception as exc:  # UnsupportedAlgorithm for legacy ciphers
            raise InspectError(
                f"{target} is a PKCS#12 keystore encrypted with an algorithm this machine's "
                "OpenSSL cannot decrypt (RC2-40 and other legacy ciphers need OpenSSL's "
                "legacy provider)",
                hint="Convert it with openssl pkcs12 -legacy and try again",
            ) from exc
        certificates = ([certificate] if certificate is not None else []) + list(additional)
        if not certificates:
            raise InspectError(
                f"{target} is a PKCS#12 keystore without any certificate",
                hint="Point inspect at a keystore that holds the certificate",
            )
        return certificates, key
    if _looks_like_pkcs12(data):
        given = "the given password" if password is not None else "an empty password"
        raise InspectError(
            f"{target} is a PKCS#12 keystore that could not be opened with {given}: "
            "the password is wrong or the file is damaged",
            hint="Pass the right one with --password or --password-file (cert-manager keeps "
            "it in the secret named by spec.keystores.pkcs12.passwordSecretRef)",
        ) from last_error
    raise InspectError(
        f"{target} is named like a PKCS#12 keystore but is {identify_data(data)}",
        hint=_decode_hint(data),
    ) from last_error


# -- assembling ------------------------------------------------------------------------


def _build_report(
    *,
    target: str,
    kind: str,
    certificates: Sequence[x509.Certificate],
    now: dt.datetime,
    trust: TrustRoots | None,
    fallback_to_chain_root: bool,
    key: Any,
    file_format: str | None,
    notes: list[str],
    secret_type: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    data_keys: list[str] | None = None,
) -> InspectionReport:
    ordered, roles, order_problem = _order(certificates)
    leaf, intermediates = ordered[0], ordered[1:]
    # A lone self-signed certificate is not "verified" by itself: that would say
    # nothing, so it goes to the system trust store, which reports it as untrusted.
    chain_root = ordered[-1] if len(ordered) > 1 and roles[-1] == "root" else None
    if trust is None:
        if fallback_to_chain_root and chain_root is not None:
            trust = TrustRoots([chain_root], "the self-signed root in the chain itself")
        else:
            trust = _system_trust()
    verification = verify_chain(leaf, intermediates, trust.certificates, now)
    problem = verification.problem
    if order_problem is not None:
        problem = f"{order_problem}; {problem}" if problem else order_problem
    chain = ChainReport(
        verified=verification.ok,
        problem=_sentence(problem) if problem else "",
        trusted_by=trust.source,
        presented_in_order=order_problem is None and list(certificates[: len(ordered)]) == ordered,
    )
    reports = [
        _certificate_report(cert, role, now) for cert, role in zip(ordered, roles, strict=True)
    ]
    key_matches: bool | None = None
    key_description: str | None = None
    if key is not None:
        key_description = describe_key(key)
        try:
            key_matches = public_keys_equal(key, leaf.public_key())
        except (TypeError, ValueError, AttributeError):
            key_matches = False
        if not key_matches:
            notes = [*notes, "The private key does not belong to the leaf certificate"]
    return InspectionReport(
        target=target,
        kind=kind,
        certificates=reports,
        chain=chain,
        format=file_format,
        key_matches=key_matches,
        private_key=key_description,
        secret_type=secret_type,
        annotations=annotations or {},
        labels=labels or {},
        data_keys=data_keys or [],
        notes=notes,
    )


def _order(
    certificates: Sequence[x509.Certificate],
) -> tuple[list[x509.Certificate], list[str], str | None]:
    """Chain order and roles; when the certificates are not one chain, keep them as given."""
    try:
        parts = order_chain(certificates)
    except ValueError as exc:
        given = list(certificates)
        roles = ["leaf"] + ["intermediate"] * (len(given) - 1)
        return given, roles, str(exc)
    ordered = [parts.leaf, *parts.intermediates]
    roles = ["leaf"] + ["intermediate"] * len(parts.intermediates)
    if parts.root is not None and parts.root is not parts.leaf:
        ordered.append(parts.root)
        roles.append("root")
    return ordered, roles, None


def _certificate_report(cert: x509.Certificate, role: str, now: dt.datetime) -> CertificateReport:
    info = describe_certificate(cert)
    left = info.not_after - now
    return CertificateReport(
        role=role,
        info=info,
        seconds_left=int(left.total_seconds()),
        expired=now >= info.not_after,
        not_yet_valid=now < info.not_before,
        time_left=format_time_left(info.not_before, info.not_after, now),
    )


def _with(report: InspectionReport, **changes: Any) -> InspectionReport:
    return replace(report, **changes)


def _sentence(text: str) -> str:
    """Capitalise and end with a full stop, as the report shows a problem as one sentence."""
    text = text.strip()
    if not text:
        return text
    if text[-1] not in ".!?":
        text += "."
    return text[:1].upper() + text[1:]


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _string_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _string_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): str(item) for key, item in value.items()}
