"""The ``dns01.digitalocean`` provider: TXT records through DigitalOcean's Domain Records API.

It mirrors cert-manager's digitalocean solver: ``tokenSecretRef`` names the key of a
Secret holding a personal access token (for a ClusterIssuer, in the cluster resource
namespace), the zone found by SOA is the DigitalOcean domain, and the record is written
with a TTL of 60 seconds. Each TXT value is a record of its own: present creates one
unless a record with that value is already at the name, and cleanup deletes only the
records whose data is the value, so a wildcard and its base name keep each other's.

The client is a few calls over ``requests`` (docs/design/decisions.md says why):
``GET /v2/domains/{domain}/records?type=TXT&name=<fqdn>`` (paged through
``links.pages.next``), ``POST /v2/domains/{domain}/records`` and
``DELETE /v2/domains/{domain}/records/{id}``. The API base URL is
``https://api.digitalocean.com/v2`` unless ``CERTCTL_DIGITALOCEAN_API_URL`` says otherwise
(tests point it at a local fake). Throttling (429) and server errors are retried with
backoff, honouring ``retry-after``, until a deadline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.auth

from certctl import __version__
from certctl.acme.solvers.base import SolverContext, read_credential
from certctl.errors import IssuanceError, IssuerNotReadyError

__all__ = [
    "API_URL_ENV",
    "DEFAULT_API_URL",
    "DigitalOceanProvider",
    "record_name",
    "retry_delay",
]

log = logging.getLogger(__name__)

#: Where the API is; the environment variable overrides it (tests, proxies).
DEFAULT_API_URL = "https://api.digitalocean.com/v2"
API_URL_ENV = "CERTCTL_DIGITALOCEAN_API_URL"

#: cert-manager writes the challenge record with this TTL (DigitalOcean's minimum is 30).
TXT_TTL = 60
#: Records per page when listing (the API's maximum is 200).
PER_PAGE = 200
#: Pages followed at most, so a server that always says "next" cannot loop us forever.
MAX_PAGES = 100
#: Seconds to wait for one answer.
REQUEST_TIMEOUT = 30.0
#: Seconds a call may keep being throttled or failing with 5xx before it gives up.
RETRY_DEADLINE = 60.0

#: The token scopes each call needs (DigitalOcean custom-scoped tokens).
_SCOPES = {"GET": "domain:read", "POST": "domain:create", "DELETE": "domain:delete"}
_TOKEN_HINT = (
    "Create a DigitalOcean API token with the domain:read, domain:create and domain:delete "
    "scopes (or a full-access token) and store it in the Secret"
)


def record_name(fqdn: str, zone: str) -> str:
    """The record name as the create call takes it: relative to the domain, ``@`` at the apex.

    Raises:
        IssuanceError: ``fqdn`` is not inside ``zone``.
    """
    name = fqdn.rstrip(".").lower()
    domain = zone.rstrip(".").lower()
    if name == domain:
        return "@"
    if not name.endswith("." + domain):
        raise IssuanceError(f'the record "{fqdn}" is not inside the DigitalOcean domain "{zone}"')
    return name[: -len(domain) - 1]


def retry_delay(attempt: int, retry_after: str | None, remaining: float) -> float | None:
    """Seconds to wait before try ``attempt + 1``, or None when the deadline is too close.

    ``retry-after`` (seconds, sent with a burst-limit 429) wins; otherwise the wait
    doubles from half a second up to 8 seconds, with jitter.
    """
    delay = min(8.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)
    if retry_after:
        with contextlib.suppress(ValueError):
            delay = max(0.0, float(retry_after))
    return None if delay > remaining else delay


@dataclass(frozen=True)
class _Record:
    id: int
    name: str
    data: str


class DigitalOceanProvider:
    """Adds and removes the challenge TXT records of a DigitalOcean domain."""

    def __init__(self, config: Mapping[str, Any], context: SolverContext) -> None:
        self._context = context
        ref = config.get("tokenSecretRef") or {}
        self._secret_name = str(ref.get("name") or "") if isinstance(ref, Mapping) else ""
        self._secret_key = str(ref.get("key") or "") if isinstance(ref, Mapping) else ""
        self.api_url = (os.environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")
        self._token: str | None = None
        self._session: requests.Session | None = None

    def present(self, fqdn: str, zone: str, value: str) -> None:
        """Create a TXT record ``value`` at ``fqdn`` unless one is already there."""
        domain, name = zone.rstrip(".").lower(), record_name(fqdn, zone)
        if any(record.data == value for record in self._records(domain, fqdn)):
            log.debug("digitalocean: TXT %s already holds the value", fqdn)
            return
        log.debug("digitalocean: creating TXT %s in domain %s", fqdn, domain)
        self._call(
            "POST",
            f"/domains/{domain}/records",
            fqdn=fqdn,
            zone=zone,
            json={"type": "TXT", "name": name, "data": value, "ttl": TXT_TTL},
        )

    def cleanup(self, fqdn: str, zone: str, value: str) -> None:
        """Delete the TXT records at ``fqdn`` whose data is ``value``; others stay."""
        domain = zone.rstrip(".").lower()
        for record in self._records(domain, fqdn):
            if record.data == value:
                log.debug("digitalocean: deleting TXT %s (record %s)", fqdn, record.id)
                self._call("DELETE", f"/domains/{domain}/records/{record.id}", fqdn=fqdn, zone=zone)

    # --- the API ---

    def _records(self, domain: str, fqdn: str) -> list[_Record]:
        """Every TXT record at ``fqdn``, over all pages."""
        wanted = record_name(fqdn, domain)
        found = []
        for page in self._pages(domain, fqdn):
            for item in page:
                if not isinstance(item, Mapping):
                    continue
                # The filter already asks for this name; check again, as cert-manager does,
                # because the answer's names are relative ("@" at the apex).
                identifier = item.get("id")
                if (
                    isinstance(identifier, int)
                    and str(item.get("name", "")).lower() == wanted
                    and item.get("type") == "TXT"
                ):
                    found.append(_Record(identifier, str(item["name"]), str(item.get("data", ""))))
        return found

    def _pages(self, domain: str, fqdn: str) -> Iterator[list[Any]]:
        path: str | None = f"/domains/{domain}/records"
        params: dict[str, Any] | None = {
            "type": "TXT",
            # "name must be a fully qualified record name" (domains_list_records).
            "name": fqdn.rstrip(".").lower(),
            "per_page": PER_PAGE,
        }
        for _ in range(MAX_PAGES):
            if path is None:
                return
            body = self._call("GET", path, fqdn=fqdn, zone=domain, params=params)
            records = body.get("domain_records") if isinstance(body, Mapping) else None
            if not isinstance(records, list):
                raise IssuanceError(
                    f'DigitalOcean answered the list of TXT records of "{fqdn}" without '
                    "domain_records",
                    hint=f"Check that {API_URL_ENV} (if set) points at the DigitalOcean API",
                    retryable=True,
                )
            yield records
            path, params = self._next_page(body), None
        raise IssuanceError(
            f'DigitalOcean kept paging the TXT records of "{fqdn}" after {MAX_PAGES} pages',
            hint="Remove stale _acme-challenge TXT records from the domain",
        )

    def _next_page(self, body: Mapping[str, Any]) -> str | None:
        """The path (below the API URL) of the next page, or None on the last one."""
        links = body.get("links")
        pages = links.get("pages") if isinstance(links, Mapping) else None
        url = pages.get("next") if isinstance(pages, Mapping) else None
        if not isinstance(url, str) or not url:
            return None
        # Only follow links back to the API itself: the token goes with every request.
        base, link = urlsplit(self.api_url), urlsplit(url)
        if (link.scheme, link.netloc) != (base.scheme, base.netloc) or not link.path.startswith(
            base.path
        ):
            raise IssuanceError(
                "DigitalOcean's next-page link leaves the API URL, so it is not followed",
                hint=f"Check that {API_URL_ENV} (if set) points at the DigitalOcean API",
            )
        path = link.path[len(base.path) :]
        return f"{path}?{link.query}" if link.query else path

    def _call(
        self,
        method: str,
        path: str,
        *,
        fqdn: str,
        zone: str,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> Any:
        """One API call, retried while throttled or failing with 5xx; the decoded body."""
        session = self._client()
        url = f"{self.api_url}{path}"
        what = _describe(method, fqdn, zone)
        deadline = time.monotonic() + RETRY_DEADLINE
        cancel = self._context.settings.cancel
        attempt = 0
        while True:
            try:
                response = session.request(
                    method, url, params=params, json=json, timeout=REQUEST_TIMEOUT
                )
            except requests.RequestException as exc:
                raise IssuanceError(
                    f"DigitalOcean could not {what}: the API at {self.api_url} is unreachable "
                    f"({type(exc).__name__})",
                    hint=f"Check the network path to the API (and {API_URL_ENV}, if set)",
                    retryable=True,
                ) from exc
            status = response.status_code
            if status < 400:
                if status == 204 or not response.content:
                    return None
                try:
                    return response.json()
                except ValueError as exc:
                    raise IssuanceError(
                        f"DigitalOcean could not {what}: the answer is not JSON",
                        hint=f"Check that {API_URL_ENV} (if set) points at the DigitalOcean API",
                        retryable=True,
                    ) from exc
            if method == "DELETE" and status == 404:
                return None  # already gone: cleanup never fails for that
            if status == 429 or status >= 500:
                delay = retry_delay(
                    attempt, response.headers.get("retry-after"), deadline - time.monotonic()
                )
                if delay is not None and not cancel.is_set():
                    log.debug(
                        "digitalocean: %s answered %s, retrying in %.1f s", url, status, delay
                    )
                    attempt += 1
                    if not cancel.wait(delay):
                        continue
            raise self._error(method, status, response, what, domain=zone.rstrip("."))

    def _error(
        self, method: str, status: int, response: requests.Response, what: str, *, domain: str
    ) -> IssuanceError:
        """One sentence with a fix for a refusal; the token never appears in it."""
        identifier, message = _error_body(response)
        detail = self._redact(f"{status} {identifier}: {message}" if identifier else f"{status}")
        where = f"the Secret {self._where()} key {self._secret_key!r}"
        if status == 401:
            return IssuanceError(
                f"DigitalOcean refused the API token in {where} ({detail}), so it could not {what}",
                hint=f"{_TOKEN_HINT} under the key {self._secret_key!r}; the token may be "
                "revoked or expired",
                reason="InvalidCredentials",
            )
        if status == 403:
            return IssuanceError(
                f"The DigitalOcean API token in {where} lacks the {_SCOPES[method]} scope, so "
                f"it could not {what} ({detail})",
                hint=f"Create a token that has the {_SCOPES[method]} scope too (certctl needs "
                "domain:read, domain:create and domain:delete) and store it in the Secret",
                reason="AccessDenied",
            )
        if status == 404:
            return IssuanceError(
                f'DigitalOcean has no domain "{domain}" for this token, so it could not {what} '
                f"({detail})",
                hint=f"Add the domain {domain} to the DigitalOcean account the token belongs to "
                "(Networking > Domains); if its DNS is hosted elsewhere, point the "
                "_acme-challenge name at a DigitalOcean domain with a CNAME and set "
                "cnameStrategy: Follow",
                reason="ZoneNotFound",
            )
        if status == 429:
            return IssuanceError(
                f"DigitalOcean kept throttling the API token for {RETRY_DEADLINE:g} s, so it "
                f"could not {what} ({detail})",
                hint="Run again later; other clients using the same token share its rate limit",
                reason="Throttled",
                retryable=True,
            )
        if status >= 500:
            return IssuanceError(
                f"DigitalOcean failed for {RETRY_DEADLINE:g} s to {what} ({detail})",
                hint="Run again later, and check https://status.digitalocean.com",
                retryable=True,
            )
        return IssuanceError(
            f"DigitalOcean refused to {what} ({detail})",
            hint="Check the record name and value; this is a request the API does not accept",
        )

    def _client(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            session.headers.update(
                {"Accept": "application/json", "User-Agent": f"certctl/{__version__}"}
            )
            # Set as the session's auth, not as a header: with no auth set, requests would
            # take credentials from ~/.netrc and overwrite the bearer token with them.
            session.auth = _BearerAuth(self._read_token())
            self._session = session
        return self._session

    def _read_token(self) -> str:
        """The token, read from the store on first use."""
        if self._token is not None:
            return self._token
        where = self._where()
        raw = read_credential(
            self._context,
            self._secret_name,
            self._secret_key,
            what="digitalocean token",
            holds="the API token",
        )
        # A newline often trails a token written with echo or a file.
        token = raw.decode(errors="replace").strip()
        if not token or any(not char.isprintable() or char.isspace() for char in token):
            raise IssuerNotReadyError(
                f"{self._context.issuer}: the digitalocean token secret {where} key "
                f"{self._secret_key!r} is empty or holds more than one token",
                reason="SecretInvalidData",
                hint="Store only the token, as DigitalOcean shows it when it is created",
            )
        self._token = token
        return token

    def _where(self) -> str:
        return f"{self._context.secret_namespace}/{self._secret_name}"

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "[token]") if self._token else text


class _BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>`` on every request of the session."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth([token])"


def _describe(method: str, fqdn: str, zone: str) -> str:
    domain = zone.rstrip(".")
    verb = {"GET": "list the TXT records", "POST": "create the TXT record"}.get(
        method, "delete the TXT record"
    )
    return f'{verb} "{fqdn.rstrip(".")}" in domain "{domain}"'


def _error_body(response: requests.Response) -> tuple[str, str]:
    """The documented error object's ``id`` and ``message`` (empty when absent)."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, Mapping):
        return "", ""
    message = " ".join(str(body.get("message") or "").split())
    return str(body.get("id") or ""), message[:200]
