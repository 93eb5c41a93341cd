"""The ``dns01.route53`` provider: TXT records in an AWS Route 53 hosted zone, through boto3.

It reads the block as cert-manager does (``pkg/issuer/acme/dns/route53``):

* credentials: ``accessKeyID`` (inline) or ``accessKeyIDSecretRef``, with
  ``secretAccessKeySecretRef``; both or neither. Neither means the AWS default
  credential chain (environment, shared config and credentials files with
  ``AWS_PROFILE``, a web identity token file, container and instance metadata),
  which is what cert-manager does with ambient credentials enabled;
* ``role``: an IAM role assumed with STS ``AssumeRole`` on top of those credentials;
* ``region``: else the chain's region (``AWS_REGION``, the profile), else us-east-1
  (Route 53 is a global service; the region only picks the STS endpoint);
* ``hostedZoneID``: the zone to write in; without it, the longest public hosted zone
  whose name ends the record name (private zones are skipped, as cert-manager does);
* ``auth.kubernetes.serviceAccountRef``: cert-manager asks the Kubernetes API for a
  ServiceAccount token and trades it with ``AssumeRoleWithWebIdentity``. That needs a
  cluster, so it is refused here with what to use instead.

Records are written with UPSERT of the merged value set (other values at the name are
kept) and TTL 10, as cert-manager writes them, then ``GetChange`` is polled until the
change is ``INSYNC``. boto3 reads ``AWS_ENDPOINT_URL_ROUTE_53`` and
``AWS_ENDPOINT_URL_STS`` itself (botocore 1.31.57 and later), which points it at an
emulator. Throttling is retried by botocore's standard retry mode: exponential backoff
with jitter, at most ``MAX_ATTEMPTS`` tries per call.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from certctl.acme.solvers.base import SolverContext, unquote_txt
from certctl.errors import IssuanceError, IssuerNotReadyError, NotSupportedError

__all__ = [
    "CHANGE_POLL_INTERVAL",
    "MAX_ATTEMPTS",
    "TXT_TTL",
    "HostedZone",
    "Route53Provider",
    "candidate_zone_names",
    "describe_client_error",
    "find_hosted_zone",
    "format_txt_value",
    "parse_txt_value",
    "pick_hosted_zone",
]

log = logging.getLogger(__name__)

#: cert-manager writes the challenge record with this TTL.
TXT_TTL = 10
#: Tries per API call (the first one included) before throttling becomes an error.
MAX_ATTEMPTS = 6
#: Seconds between two GetChange calls while a change is PENDING.
CHANGE_POLL_INTERVAL = 2.0
#: The role session name CloudTrail shows for the assumed role.
ROLE_SESSION_NAME = "certctl"

_EXTRA_HINT = "Install the AWS SDK with: pip install 'certctl[route53]'"
_DOCS = "docs/providers/route53.md"

#: The IAM permission each API call needs, for AccessDenied messages.
IAM_ACTIONS = {
    "ListHostedZonesByName": "route53:ListHostedZonesByName",
    "ListResourceRecordSets": "route53:ListResourceRecordSets",
    "ChangeResourceRecordSets": "route53:ChangeResourceRecordSets",
    "GetChange": "route53:GetChange",
    "AssumeRole": "sts:AssumeRole",
}

_BAD_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "IncompleteSignature",
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidToken",
    }
)
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})
_THROTTLED = frozenset(
    {"Throttling", "ThrottlingException", "PriorRequestNotComplete", "RequestLimitExceeded"}
)
_ESCAPE = re.compile(r"\\(\d{3})")


@dataclass(frozen=True)
class HostedZone:
    """One hosted zone as ListHostedZonesByName lists it.

    Attributes:
        name: the zone's name, absolute and lower case (``example.com.``).
        id: the zone id without the ``/hostedzone/`` prefix.
        private: a private zone (attached to VPCs).
    """

    name: str
    id: str
    private: bool = False


# --- Pure helpers ---


def candidate_zone_names(fqdn: str) -> list[str]:
    """The names a hosted zone for ``fqdn`` may have, longest first (the root excluded)."""
    labels = normalize_name(fqdn).rstrip(".").split(".")
    return [".".join(labels[index:]) + "." for index in range(len(labels))]


def normalize_name(name: str) -> str:
    """A DNS name as Route 53 compares it: lower case, absolute, ``\\052`` escapes decoded."""
    text = _ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), name.strip())
    return text.lower().rstrip(".") + "."


def pick_hosted_zone(fqdn: str, zones: Iterable[HostedZone]) -> HostedZone | None:
    """The longest public zone whose name is ``fqdn`` or one of its parents.

    Private zones never match: cert-manager only looks up public zones, since a
    private zone's records are invisible to the ACME server.
    """
    name = normalize_name(fqdn)
    best: HostedZone | None = None
    for zone in zones:
        zone_name = normalize_name(zone.name)
        if zone.private or not (name == zone_name or name.endswith("." + zone_name)):
            continue
        if best is None or len(zone_name) > len(best.name):
            best = HostedZone(zone_name, zone.id, zone.private)
    return best


def find_hosted_zone(
    fqdn: str, list_zones: Callable[..., Mapping[str, Any]]
) -> tuple[HostedZone | None, list[str]]:
    """The longest public hosted zone for ``fqdn``, and the private zones seen on the way.

    ``list_zones(**request)`` is one ListHostedZonesByName call. AWS lists zones in
    reversed-label order starting at the ``DNSName`` asked for (Route 53 API reference,
    ListHostedZonesByName), so the zones named exactly like a candidate come first;
    moto lists only those. Asking for each candidate, longest first, and reading only
    the zones of exactly that name finds the longest match with either.
    """
    private: list[str] = []
    for candidate in candidate_zone_names(fqdn):
        zones = list(_zones_named(candidate, list_zones))
        private += [zone.name for zone in zones if zone.private]
        found = pick_hosted_zone(fqdn, zones)
        if found is not None:
            return found, private
    return None, private


def _zones_named(name: str, list_zones: Callable[..., Mapping[str, Any]]) -> Iterator[HostedZone]:
    """The hosted zones named exactly ``name``, following NextDNSName/NextHostedZoneId."""
    request: dict[str, str] = {"DNSName": name}
    while True:
        response = list_zones(**request)
        for item in response.get("HostedZones", ()):
            zone_name = normalize_name(str(item.get("Name", "")))
            if zone_name != name:
                # Past the zones of this name in AWS's order: nothing more to find.
                return
            private = bool((item.get("Config") or {}).get("PrivateZone"))
            yield HostedZone(zone_name, strip_zone_id(str(item.get("Id", ""))), private)
        next_name = response.get("NextDNSName")
        if not response.get("IsTruncated") or not next_name:
            return
        if normalize_name(str(next_name)) != name:
            return
        request = {"DNSName": str(next_name), "HostedZoneId": str(response["NextHostedZoneId"])}


def format_txt_value(value: str) -> str:
    """A TXT value as Route 53 takes it: in double quotes, quotes and backslashes escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def parse_txt_value(text: str) -> str:
    """The value of a Route 53 TXT record: its quoted strings joined (``"a" "b"`` is ``ab``)."""
    return unquote_txt(text)


def strip_zone_id(zone_id: str) -> str:
    """``Z123`` for ``/hostedzone/Z123`` or ``Z123``."""
    return zone_id.strip().removeprefix("/hostedzone/")


class Route53Provider:
    """Adds and removes the challenge TXT value in a Route 53 hosted zone."""

    def __init__(self, config: Mapping[str, Any], context: SolverContext) -> None:
        self._context = context
        self.region = str(config.get("region") or "").strip()
        self.hosted_zone_id = strip_zone_id(str(config.get("hostedZoneID") or ""))
        self.role = str(config.get("role") or "").strip()
        self._access_key_id = str(config.get("accessKeyID") or "").strip()
        self._access_key_ref = _ref(config.get("accessKeyIDSecretRef"))
        self._secret_key_ref = _ref(config.get("secretAccessKeySecretRef"))
        auth = config.get("auth")
        kubernetes = auth.get("kubernetes") if isinstance(auth, Mapping) else None
        if isinstance(kubernetes, Mapping):
            account = kubernetes.get("serviceAccountRef") or {}
            name = account.get("name", "") if isinstance(account, Mapping) else ""
            raise NotSupportedError(
                f"{context.issuer}: the route53 auth.kubernetes.serviceAccountRef "
                f"(ServiceAccount {name!r}) needs a Kubernetes API server to issue the "
                "ServiceAccount token that AssumeRoleWithWebIdentity takes: it needs --store "
                "kubernetes, and certctl does not build it yet even there",
                hint=(
                    "Outside a cluster, drop auth and set role with ambient credentials; a web "
                    "identity token works through AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE"
                ),
                reason="InvalidSolver",
            )
        self._secrets: tuple[str, ...] = ()
        self._route53: Any = None
        self._zones: dict[str, str] = {}

    # --- The DNS01Provider interface ---

    def present(self, fqdn: str, zone: str, value: str) -> None:
        """Add ``value`` to the TXT record set at ``fqdn``, keeping the values already there."""
        zone_id = self._zone_id(fqdn)
        with _record_lock(zone_id, fqdn):
            current = self._current_record(zone_id, fqdn)
            values = list(current[1]) if current else []
            if value in values:
                log.debug("route53: %s already has the TXT value", fqdn)
                return
            change_id = self._apply(
                zone_id, fqdn, _change("UPSERT", fqdn, TXT_TTL, [*values, value])
            )
        if change_id:
            self._wait_insync(change_id, fqdn)

    def cleanup(self, fqdn: str, zone: str, value: str) -> None:
        """Remove ``value``; DELETE the record set when it was the last one. Never raises for
        a value that is already gone."""
        zone_id = self._zone_id(fqdn)
        with _record_lock(zone_id, fqdn):
            current = self._current_record(zone_id, fqdn)
            if current is None or value not in current[1]:
                return
            ttl, values = current
            remaining = [other for other in values if other != value]
            if remaining:
                change = _change("UPSERT", fqdn, TXT_TTL, remaining)
            else:
                # A DELETE must name the record set exactly as it is: same TTL, same values.
                change = _change("DELETE", fqdn, ttl, values)
            self._apply(zone_id, fqdn, change)

    # --- Zone and record lookups ---

    def _zone_id(self, fqdn: str) -> str:
        if self.hosted_zone_id:
            return self.hosted_zone_id
        key = normalize_name(fqdn)
        if key in self._zones:
            return self._zones[key]
        client = self._client()
        found, private = find_hosted_zone(
            fqdn, lambda **request: self._call(client, "ListHostedZonesByName", **request)
        )
        if found is not None:
            log.debug("route53: %s is in hosted zone %s (%s)", fqdn, found.name, found.id)
            self._zones[key] = found.id
            return found.id
        skipped = f" (only private zones: {', '.join(sorted(set(private)))})" if private else ""
        raise IssuanceError(
            f"{self._context.issuer}: no public Route 53 hosted zone holds {fqdn.rstrip('.')}"
            f"{skipped}",
            hint=(
                "Create the hosted zone, set hostedZoneID in the route53 block, or check that "
                "these credentials see the account that holds the zone"
            ),
            reason="ZoneNotFound",
        )

    def _current_record(self, zone_id: str, fqdn: str) -> tuple[int, list[str]] | None:
        """The TTL and values of the TXT record set at ``fqdn``, or None."""
        response = self._call(
            self._client(),
            "ListResourceRecordSets",
            HostedZoneId=zone_id,
            StartRecordName=fqdn,
            StartRecordType="TXT",
            MaxItems="1",
        )
        for record in response.get("ResourceRecordSets", ()):
            if record.get("Type") == "TXT" and normalize_name(record["Name"]) == normalize_name(
                fqdn
            ):
                values = [parse_txt_value(item["Value"]) for item in record["ResourceRecords"]]
                return int(record.get("TTL", TXT_TTL)), values
        return None

    def _apply(self, zone_id: str, fqdn: str, change: Mapping[str, Any]) -> str:
        """Send one change; its change id, or "" when a DELETE found the record gone."""
        log.debug("route53: %s TXT %s in hosted zone %s", change["Action"], fqdn, zone_id)
        try:
            response = self._call(
                self._client(),
                "ChangeResourceRecordSets",
                HostedZoneId=zone_id,
                ChangeBatch={"Comment": "certctl DNS-01 challenge", "Changes": [change]},
            )
        except IssuanceError as exc:
            # Someone removed the record between our read and our DELETE: it is gone.
            if change["Action"] == "DELETE" and "InvalidChangeBatch" in exc.message:
                return ""
            raise
        return str(response["ChangeInfo"]["Id"])

    def _wait_insync(self, change_id: str, fqdn: str) -> None:
        """Poll GetChange until Route 53 says the change reached all its servers."""
        settings = self._context.settings
        timeout = settings.self_check_timeout.total_seconds()
        deadline = time.monotonic() + timeout
        client = self._client()
        while True:
            response = self._call(client, "GetChange", Id=change_id)
            status = response["ChangeInfo"]["Status"]
            if status == "INSYNC":
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise IssuanceError(
                    f"{self._context.issuer}: the Route 53 change {change_id} for "
                    f"{fqdn.rstrip('.')} was still {status} after {timeout:g} s",
                    hint="Route 53 is slow to sync; run again later",
                    reason="PresentError",
                    retryable=True,
                )
            if settings.cancel.wait(min(CHANGE_POLL_INTERVAL, remaining)):
                raise IssuanceError(
                    f"{self._context.issuer}: interrupted while waiting for the Route 53 "
                    f"change of {fqdn.rstrip('.')}",
                    reason="Interrupted",
                )

    # --- Clients and credentials ---

    def _client(self) -> Any:
        if self._route53 is None:
            boto3 = _import("boto3")
            config = _import("botocore.config").Config(
                retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
                connect_timeout=10,
                read_timeout=30,
            )
            session = self._session(boto3, config)
            self._route53 = session.client("route53", config=config)
        return self._route53

    def _session(self, boto3: Any, config: Any) -> Any:
        access_key_id, secret_access_key = self._static_credentials()
        keys: dict[str, str] = {}
        if access_key_id:
            keys = {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key}
        # Without keys, boto3's default chain finds the ambient credentials: environment,
        # AWS_PROFILE and the shared files, AWS_WEB_IDENTITY_TOKEN_FILE, instance metadata.
        botocore = _import("botocore.exceptions")
        try:
            session = boto3.session.Session(region_name=self.region or None, **keys)
            if not session.region_name:
                session = boto3.session.Session(region_name="us-east-1", **keys)
        except botocore.ProfileNotFound as exc:
            raise IssuanceError(
                f"{self._context.issuer}: the AWS profile of the ambient credentials does not "
                f"exist ({exc})",
                hint="Fix AWS_PROFILE, or set accessKeyID and secretAccessKeySecretRef",
            ) from exc
        region = session.region_name
        if not self.role:
            return session
        sts = session.client("sts", config=config)
        response = self._call(
            sts, "AssumeRole", RoleArn=self.role, RoleSessionName=ROLE_SESSION_NAME
        )
        credentials = response["Credentials"]
        self._secrets += (credentials["SecretAccessKey"], credentials["SessionToken"])
        log.debug("route53: assumed role %s", self.role)
        return boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
        )

    def _static_credentials(self) -> tuple[str, str]:
        """The access key pair from the block and its Secrets; empty strings for ambient."""
        access_key_id = self._access_key_id
        if not access_key_id and self._access_key_ref[0]:
            access_key_id = self._read_secret_key("accessKeyIDSecretRef", self._access_key_ref)
        secret_access_key = ""
        if self._secret_key_ref[0]:
            secret_access_key = self._read_secret_key(
                "secretAccessKeySecretRef", self._secret_key_ref
            )
        if bool(access_key_id) != bool(secret_access_key):
            # cert-manager: "only one of access and secret key was provided".
            raise IssuanceError(
                f"{self._context.issuer}: the route53 block gives only one of the access key "
                "ID and the secret access key",
                hint=(
                    "Set accessKeyID (or accessKeyIDSecretRef) with secretAccessKeySecretRef, or "
                    "neither to use the ambient AWS credentials"
                ),
                reason="InvalidSolver",
            )
        self._secrets += tuple(text for text in (secret_access_key,) if text)
        return access_key_id, secret_access_key

    def _read_secret_key(self, field: str, ref: tuple[str, str]) -> str:
        name, key = ref
        namespace = self._context.secret_namespace
        where = f"{namespace}/{name}"
        if not key:
            raise IssuanceError(
                f"{self._context.issuer}: the route53 {field} names Secret {where} but no key",
                hint=f"Add key: to {field}",
                reason="InvalidSolver",
            )
        record = self._context.read_secret(namespace, name)
        if record is None:
            raise IssuerNotReadyError(
                f"{self._context.issuer}: the route53 {field} Secret {where} does not exist",
                reason="SecretMissing",
                hint=f"Create it with the AWS credential under the key {key!r}",
            )
        raw = record.data.get(key)
        if raw is None or not raw.strip():
            raise IssuerNotReadyError(
                f"{self._context.issuer}: the route53 {field} Secret {where} has no key {key!r}",
                reason="SecretInvalidData",
                hint=f"Put the AWS credential under the key {key!r}",
            )
        try:
            # A trailing newline from `echo` is the usual mistake; AWS keys have no spaces.
            return raw.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise IssuerNotReadyError(
                f"{self._context.issuer}: the route53 {field} Secret {where} key {key!r} is not "
                "an AWS credential (not ASCII)",
                reason="SecretInvalidData",
                hint="Store the key exactly as AWS shows it",
            ) from exc

    # --- Calls and errors ---

    def _call(self, client: Any, operation: str, **params: Any) -> Any:
        """One API call, with botocore's errors turned into one IssuanceError sentence."""
        botocore = _import("botocore.exceptions")
        method = getattr(client, _snake(operation))
        try:
            return method(**params)
        except botocore.ClientError as exc:
            error = exc.response.get("Error") or {}
            status = int((exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
            raise describe_client_error(
                operation,
                str(error.get("Code") or ""),
                self._scrub(str(error.get("Message") or "")),
                status,
                issuer=self._context.issuer,
                role=self.role,
            ) from exc
        except botocore.NoCredentialsError as exc:
            raise IssuanceError(
                f"{self._context.issuer}: the route53 block has no credentials and the AWS "
                "default credential chain found none",
                hint=(
                    "Set accessKeyID and secretAccessKeySecretRef, or AWS_PROFILE, "
                    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_WEB_IDENTITY_TOKEN_FILE"
                ),
                reason="InvalidSolver",
            ) from exc
        except (botocore.EndpointConnectionError, botocore.ConnectTimeoutError) as exc:
            raise IssuanceError(
                f"{self._context.issuer}: {operation} could not reach AWS ({exc})",
                hint="Check the network, a proxy, or AWS_ENDPOINT_URL_ROUTE_53 and _STS",
                retryable=True,
            ) from exc
        except botocore.BotoCoreError as exc:
            raise IssuanceError(
                f"{self._context.issuer}: {operation} failed: {self._scrub(str(exc))}",
                hint="Run again with --debug for the AWS SDK's log",
                retryable=True,
            ) from exc

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def describe_client_error(
    operation: str, code: str, message: str, status: int, *, issuer: str, role: str = ""
) -> IssuanceError:
    """The one-sentence error for an AWS error answer to ``operation``."""
    action = IAM_ACTIONS.get(operation, operation)
    where = f"{issuer}: Route 53 {operation}" if operation != "AssumeRole" else f"{issuer}: STS"
    if code in _BAD_CREDENTIALS:
        return IssuanceError(
            f"{where} refused the AWS credentials ({code}): the access key is unknown, the "
            "secret does not match it, or the session expired",
            hint=(
                "Check accessKeyID/accessKeyIDSecretRef and secretAccessKeySecretRef, or the "
                "ambient credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID)"
            ),
            reason="InvalidCredentials",
        )
    if code in _ACCESS_DENIED or (not code and status == 403):
        what = f"assume the role {role}" if operation == "AssumeRole" else f"call {operation}"
        return IssuanceError(
            f"{where} denied access: these credentials may not {what}"
            + (f" ({message})" if message else ""),
            hint=f"Grant {action} to them (the least-privilege policy is in {_DOCS})"
            + (
                " and let them assume the role in its trust policy"
                if operation == "AssumeRole"
                else ""
            ),
            reason="AccessDenied",
        )
    if code in _THROTTLED:
        return IssuanceError(
            f"{where} was still throttled ({code}) after {MAX_ATTEMPTS} tries with backoff",
            hint="Too many Route 53 calls in this account; run again in a minute",
            reason="Throttled",
            retryable=True,
        )
    if code == "NoSuchHostedZone":
        return IssuanceError(
            f"{where}: the hosted zone does not exist ({message or code})",
            hint="Fix hostedZoneID in the route53 block, or remove it to look the zone up",
            reason="ZoneNotFound",
        )
    return IssuanceError(
        f"{where} failed: {code or f'HTTP {status}'}" + (f": {message}" if message else ""),
        hint="Run again with --debug for the AWS SDK's log",
        retryable=status >= 500,
    )


#: One lock per record set: the read-merge-UPSERT of a wildcard and its base name, which
#: certctl presents in parallel, must not interleave, or the second UPSERT drops the
#: first value. Route 53 has no conditional write, so this covers one certctl process.
_RECORD_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_RECORD_LOCKS_GUARD = threading.Lock()


def _record_lock(zone_id: str, fqdn: str) -> threading.Lock:
    with _RECORD_LOCKS_GUARD:
        return _RECORD_LOCKS.setdefault((zone_id, normalize_name(fqdn)), threading.Lock())


def _change(action: str, fqdn: str, ttl: int, values: Sequence[str]) -> dict[str, Any]:
    return {
        "Action": action,
        "ResourceRecordSet": {
            "Name": fqdn,
            "Type": "TXT",
            "TTL": ttl,
            "ResourceRecords": [{"Value": format_txt_value(value)} for value in values],
        },
    }


def _ref(value: object) -> tuple[str, str]:
    """``(name, key)`` of a secret reference, empty strings when absent."""
    if not isinstance(value, Mapping):
        return "", ""
    return str(value.get("name") or "").strip(), str(value.get("key") or "").strip()


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise IssuanceError(
            "the dns01.route53 solver needs the AWS SDK (boto3), which is not installed",
            hint=_EXTRA_HINT,
            reason="InvalidSolver",
        ) from exc
