"""The ``dns01.cloudflare`` provider: TXT records through the Cloudflare API v4.

It reads its credentials as cert-manager does: ``apiTokenSecretRef`` (an API token,
sent as ``Authorization: Bearer``), or ``apiKeySecretRef`` with ``email`` (the Global
API Key, sent as ``X-Auth-Key`` and ``X-Auth-Email``). The Secret lives in the
issuer's namespace (a ClusterIssuer's in the cluster resource namespace); surrounding
whitespace in the value is ignored.

Four calls of the documented REST API (https://developers.cloudflare.com/api/) do the
work, through ``requests`` rather than the ``cloudflare`` SDK (docs/design/decisions.md):

* ``GET /zones?name=Z``: the zone's id. Z is the zone the shared code found by SOA,
  then each parent of it, as cert-manager walks up the name;
* ``GET /zones/{id}/dns_records?type=TXT&name=N&page=P``: the TXT values at the name,
  every page of them;
* ``POST /zones/{id}/dns_records``: one record per value (Cloudflare keeps each TXT
  value of a name as a record of its own), so other values at the name stay;
* ``DELETE /zones/{id}/dns_records/{record}``: only the records holding this value.

The API base URL is ``https://api.cloudflare.com/client/v4``, or the environment
variable ``CERTCTL_CLOUDFLARE_API_URL`` (for a proxy, or a test server). A 429 (and a
5xx) is retried with exponential backoff that honours ``Retry-After``, for at most
``RETRY_DEADLINE`` seconds per call. The token or key never appears in a message or log.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import requests

from certctl.acme.solvers.base import SolverContext, read_credential, unquote_txt
from certctl.errors import IssuanceError, IssuerNotReadyError

__all__ = [
    "API_URL",
    "API_URL_ENV",
    "TXT_TTL",
    "APIError",
    "CloudflareProvider",
    "describe_error",
    "txt_content",
    "unquote_txt",
    "zone_candidates",
]

log = logging.getLogger(__name__)

API_URL = "https://api.cloudflare.com/client/v4"
#: Overrides ``API_URL`` (tests, proxies); not a manifest field: cert-manager has none.
API_URL_ENV = "CERTCTL_CLOUDFLARE_API_URL"
#: The TTL cert-manager's Cloudflare provider gives the challenge record.
TXT_TTL = 120
#: Seconds one HTTP request may take.
REQUEST_TIMEOUT = 30.0
#: Seconds one API call may spend retrying 429 and 5xx answers.
RETRY_DEADLINE = 60.0
#: The first wait between two tries; doubled after each, up to ``MAX_BACKOFF``.
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 16.0

#: What a token needs (Cloudflare's dashboard words), for hints.
SCOPES = "Zone:Zone:Read and Zone:DNS:Edit"

#: Cloudflare error codes (https://developers.cloudflare.com/api/ error envelopes).
_INVALID_HEADERS = 6003  # "Invalid request headers" (the chain says which: 6102, 6103, 6111)
_MISSING_AUTH = 9106  # "Missing X-Auth-Key, X-Auth-Email or Authorization headers"
_UNKNOWN_KEY = 9103  # "Unknown X-Auth-Key or X-Auth-Email"
_INVALID_TOKEN = 9109  # "Invalid access token"
_AUTHENTICATION = 10000  # "Authentication error": the credential may not do this
_IDENTICAL_RECORD = 81058  # "An identical record already exists."
_RECORD_MISSING = 81044  # "Record does not exist."
_AUTH_CODES = frozenset({_INVALID_HEADERS, _MISSING_AUTH, _UNKNOWN_KEY, _INVALID_TOKEN})


class APIError(Exception):
    """A Cloudflare answer with ``success: false`` (or no envelope at all)."""

    def __init__(self, status: int, errors: tuple[tuple[int, str], ...]) -> None:
        super().__init__(status, errors)
        self.status = status
        self.errors = errors

    @property
    def codes(self) -> frozenset[int]:
        return frozenset(code for code, _ in self.errors)

    def text(self) -> str:
        """``HTTP 403: 9109 Invalid access token``, the codes and messages in order."""
        parts = "; ".join(f"{code} {message}".strip() for code, message in self.errors)
        return f"HTTP {self.status}: {parts}" if parts else f"HTTP {self.status}"


def zone_candidates(zone: str) -> list[str]:
    """The names to look a zone up by: ``zone`` itself, then each parent but the TLD.

    >>> zone_candidates("a.example.com.")
    ['a.example.com', 'example.com']
    """
    labels = [label for label in zone.rstrip(".").lower().split(".") if label]
    if len(labels) < 2:
        return [".".join(labels)] if labels else []
    return [".".join(labels[index:]) for index in range(len(labels) - 1)]


def txt_content(value: str) -> str:
    """The ``content`` to send for a TXT value: one quoted RFC 1035 character-string.

    Cloudflare documents TXT content as quoted character strings; a challenge value
    (base64url) never holds a quote or a backslash, so quoting is all it takes.
    """
    return f'"{value}"'


def describe_error(error: APIError, *, what: str, secret: str, scheme: str) -> IssuanceError:
    """One sentence with a fix for a refused call (pure: the caller raises it).

    Args:
        error: what Cloudflare answered.
        what: what the call tried, for the message ("list the TXT records of ...").
        secret: ``namespace/name`` key ``key`` of the credential, for the hint.
        scheme: ``token`` or ``key`` (the Global API Key with an email).
    """
    codes = error.codes
    if error.status == 429:
        return IssuanceError(
            f"Cloudflare kept throttling the requests ({error.text()}) while trying to {what}",
            hint="Cloudflare allows 1200 API requests per 5 minutes per user; wait a few "
            "minutes and run again, and check what else uses the same credentials",
            reason="Throttled",
            retryable=True,
        )
    if codes & _AUTH_CODES or (error.status in (400, 401) and not codes):
        if scheme == "token":
            hint = (
                f"Check that {secret} holds a current Cloudflare API token (the token "
                f"itself, without 'Bearer '), with the permissions {SCOPES} for the zone"
            )
        else:
            hint = (
                f"Check that {secret} holds the Global API Key and that email is the "
                "address of the Cloudflare account; an API token goes in apiTokenSecretRef"
            )
        return IssuanceError(
            f"Cloudflare refused the credentials ({error.text()}) while trying to {what}",
            hint=hint,
            reason="Unauthorized",
        )
    if _AUTHENTICATION in codes or error.status == 403:
        return IssuanceError(
            f"Cloudflare does not allow these credentials to {what} ({error.text()})",
            hint=f"Give the API token the permissions {SCOPES} for this zone (Zone Resources: "
            "include the zone, or all zones), in My Profile > API Tokens",
            reason="Forbidden",
        )
    return IssuanceError(
        f"Cloudflare could not {what}: {error.text()}",
        hint="Run again with --debug to see the calls; "
        "https://www.cloudflarestatus.com/ shows outages",
        retryable=error.status >= 500,
    )


class CloudflareProvider:
    """Adds and removes the challenge TXT record through the Cloudflare API."""

    def __init__(self, config: Mapping[str, Any], context: SolverContext) -> None:
        self._context = context
        token_ref = config.get("apiTokenSecretRef")
        key_ref = config.get("apiKeySecretRef")
        if isinstance(token_ref, Mapping) and token_ref:
            self.scheme, ref = "token", token_ref
        elif isinstance(key_ref, Mapping) and key_ref:
            self.scheme, ref = "key", key_ref
        else:
            raise IssuanceError(
                f"{context.issuer}: the cloudflare solver has neither apiTokenSecretRef "
                "nor apiKeySecretRef",
                reason="InvalidSolver",
            )
        self.email = str(config.get("email") or "").strip()
        self._secret_name = str(ref.get("name") or "")
        self._secret_key = str(ref.get("key") or "")
        self.base_url = (os.environ.get(API_URL_ENV) or API_URL).rstrip("/")
        self._headers: dict[str, str] | None = None
        self._session: requests.Session | None = None
        self._zones: dict[str, tuple[str, str]] = {}

    # --- The provider interface ---

    def present(self, fqdn: str, zone: str, value: str) -> None:
        """Add a TXT record holding ``value`` at ``fqdn`` unless one is there already."""
        zone_id, zone_name = self._zone(fqdn, zone)
        name = _record_name(fqdn)
        records = self._txt(zone_id, zone_name, name)
        if any(unquote_txt(str(r.get("content", ""))) == value for r in records):
            log.debug("cloudflare: the TXT value at %s is already there", name)
            return
        body = {"type": "TXT", "name": name, "content": txt_content(value), "ttl": TXT_TTL}
        try:
            self._call("POST", f"/zones/{zone_id}/dns_records", json_body=body)
        except APIError as exc:
            if _IDENTICAL_RECORD in exc.codes:  # added since the listing: it is there
                return
            raise self._error(exc, f'add the TXT record "{name}" in zone "{zone_name}"') from None

    def cleanup(self, fqdn: str, zone: str, value: str) -> None:
        """Delete the TXT records at ``fqdn`` holding ``value``; the others stay."""
        zone_id, zone_name = self._zone(fqdn, zone)
        name = _record_name(fqdn)
        for record in self._txt(zone_id, zone_name, name):
            if unquote_txt(str(record.get("content", ""))) != value:
                continue
            try:
                self._call("DELETE", f"/zones/{zone_id}/dns_records/{record.get('id', '')}")
            except APIError as exc:
                if exc.status == 404 or _RECORD_MISSING in exc.codes:
                    continue  # deleted meanwhile
                raise self._error(
                    exc, f'delete the TXT record "{name}" in zone "{zone_name}"'
                ) from None

    # --- Zones and records ---

    def _zone(self, fqdn: str, zone: str) -> tuple[str, str]:
        """``(id, name)`` of the Cloudflare zone holding ``fqdn``: ``zone``, then its parents."""
        candidates = zone_candidates(zone) or zone_candidates(fqdn)
        for name in candidates:
            if name in self._zones:
                return self._zones[name]
            try:
                found = [
                    item
                    for item in self._pages("/zones", {"name": name})
                    if str(item.get("name", "")).lower() == name
                ]
            except APIError as exc:
                raise self._error(exc, f'look up the zone "{name}"') from None
            if found:
                self._zones[name] = (str(found[0].get("id", "")), name)
                log.debug("cloudflare: %s is in zone %s", fqdn, name)
                return self._zones[name]
        tried = ", ".join(f'"{name}"' for name in candidates)
        if self.scheme == "key":
            hint = f"Add the zone to the Cloudflare account of {self.email}"
        else:
            hint = (
                "Add the zone to the Cloudflare account, or give the API token "
                f"{SCOPES} with Zone Resources including that zone; a token without "
                "Zone:Read sees no zones"
            )
        raise IssuanceError(
            f'Cloudflare has no zone for "{fqdn.rstrip(".")}" that these credentials can see '
            f"(looked for {tried})",
            hint=hint,
            reason="ZoneNotFound",
        )

    def _txt(self, zone_id: str, zone_name: str, name: str) -> list[Mapping[str, Any]]:
        """Every TXT record at ``name`` in the zone, over all pages."""
        try:
            return [
                item
                for item in self._pages(
                    f"/zones/{zone_id}/dns_records", {"type": "TXT", "name": name}
                )
                if str(item.get("type", "")) == "TXT" and str(item.get("name", "")).lower() == name
            ]
        except APIError as exc:
            raise self._error(exc, f'list the TXT records "{name}" in zone "{zone_name}"') from None

    def _pages(self, path: str, params: Mapping[str, str]) -> list[Mapping[str, Any]]:
        """The ``result`` lists of every page, following ``result_info.total_pages``."""
        items: list[Mapping[str, Any]] = []
        page = 1
        while True:
            envelope = self._call("GET", path, params={**params, "page": str(page)})
            result = envelope.get("result")
            if isinstance(result, list):
                items.extend(item for item in result if isinstance(item, Mapping))
            info = envelope.get("result_info")
            total = info.get("total_pages") if isinstance(info, Mapping) else None
            if not isinstance(total, int) or page >= total or not result:
                return items
            page += 1

    # --- Transport ---

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        """One API call, retried on 429 and 5xx until ``RETRY_DEADLINE``; the envelope.

        Raises:
            APIError: Cloudflare answered ``success: false`` (or throttled to the end).
            IssuanceError: the API could not be reached (retryable).
        """
        headers = self._auth_headers()
        session = self._http()
        url = self.base_url + path
        deadline = time.monotonic() + RETRY_DEADLINE
        backoff = FIRST_BACKOFF
        while True:
            log.debug("cloudflare: %s %s %s", method, path, dict(params or {}))
            try:
                response = session.request(
                    method,
                    url,
                    params=dict(params or {}),
                    json=dict(json_body) if json_body is not None else None,
                    headers=headers,
                    timeout=REQUEST_TIMEOUT,
                )
            except requests.RequestException as exc:
                raise IssuanceError(
                    f"could not reach the Cloudflare API at {self.base_url}: {type(exc).__name__}",
                    hint=f"Check the network, a proxy, and {API_URL_ENV} if it is set",
                    reason="Unreachable",
                    retryable=True,
                ) from None
            status = response.status_code
            if status == 429 or status >= 500:
                wait = _retry_after(response.headers.get("Retry-After"), backoff)
                if time.monotonic() + wait < deadline:
                    log.debug("cloudflare: HTTP %s, trying again in %.1f s", status, wait)
                    time.sleep(wait)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
            envelope = _envelope(response)
            if 200 <= status < 300 and envelope.get("success") is True:
                return envelope
            raise APIError(status, _errors(envelope))

    def _auth_headers(self) -> dict[str, str]:
        if self._headers is None:
            secret = self._read_credential()
            if self.scheme == "token":
                self._headers = {"Authorization": f"Bearer {secret}"}
            else:
                self._headers = {"X-Auth-Email": self.email, "X-Auth-Key": secret}
        return self._headers

    def _http(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def _read_credential(self) -> str:
        """The token or key from the issuer's Secret, whitespace stripped."""
        context = self._context
        namespace = context.secret_namespace
        what = "API token" if self.scheme == "token" else "API key"
        field = "apiTokenSecretRef" if self.scheme == "token" else "apiKeySecretRef"
        where = f"{namespace}/{self._secret_name}"
        raw = read_credential(
            context,
            self._secret_name,
            self._secret_key,
            what=f"cloudflare {what}",
            holds=f"the {what} (the Secret {field} names)",
        )
        try:
            text = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            text = "\x00"
        if not text or not text.isprintable() or any(char.isspace() for char in text):
            raise IssuerNotReadyError(
                f"{context.issuer}: the cloudflare {what} secret {where} has no usable value "
                f"under the key {self._secret_key!r}",
                reason="SecretInvalidData",
                hint=f"Put the {what} itself under the key {self._secret_key!r}: one word "
                "of ASCII, without 'Bearer '",
            )
        return text

    def _error(self, error: APIError, what: str) -> IssuanceError:
        where = f"{self._context.secret_namespace}/{self._secret_name} key {self._secret_key!r}"
        headers = self._headers or {}
        secret = headers.get("X-Auth-Key") or headers.get("Authorization", "")[len("Bearer ") :]
        if secret:  # never echo a credential back, whatever the server's text says
            error = APIError(
                error.status,
                tuple((code, text.replace(secret, "***")) for code, text in error.errors),
            )
        return describe_error(error, what=what, secret=where, scheme=self.scheme)


def _record_name(fqdn: str) -> str:
    return fqdn.rstrip(".").lower()


def _retry_after(header: str | None, backoff: float) -> float:
    """Seconds to wait: ``Retry-After`` (seconds) when given, else ``backoff``."""
    if header:
        try:
            return max(0.0, float(header.strip()))
        except ValueError:
            pass
    return backoff


def _envelope(response: requests.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return {}
    return body if isinstance(body, Mapping) else {}


def _errors(envelope: Mapping[str, Any]) -> tuple[tuple[int, str], ...]:
    """``(code, message)`` of each error and of each error's ``error_chain``."""
    found: list[tuple[int, str]] = []
    items = envelope.get("errors")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        code = item.get("code")
        found.append((code if isinstance(code, int) else 0, str(item.get("message", ""))))
        chain = item.get("error_chain")
        for link in chain if isinstance(chain, list) else []:
            if isinstance(link, Mapping):
                code = link.get("code")
                found.append((code if isinstance(code, int) else 0, str(link.get("message", ""))))
    return tuple(found)
