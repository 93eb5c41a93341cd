"""The ``dns01.acmeDNS`` provider: the challenge value through an acme-dns server's /update API.

It mirrors cert-manager's acmeDNS solver. ``host`` is the acme-dns API
(``https://auth.example.org``); ``accountSecretRef`` names the key of a Secret holding
the JSON that acme-dns registration returned, one account per domain::

    {"example.com": {"username": "...", "password": "...", "fulldomain":
     "d420c923-....auth.example.org", "subdomain": "d420c923-...", "allowfrom": []}}

Each domain's ``_acme-challenge`` name is a CNAME to its account's ``fulldomain``, made
once by hand. Present sends ``POST {host}/update`` with the ``X-Api-User`` and
``X-Api-Key`` headers and ``{"subdomain": ..., "txt": ...}``. acme-dns keeps the two
most recent values of a subdomain (so a wildcard and its base name can be validated
together) and has no call to delete one, so cleanup does nothing, as in cert-manager.

The account is looked up by the domain the challenge is for (the name below
``_acme-challenge.``), as cert-manager does; with ``cnameStrategy: Follow`` the record
name is the account's ``fulldomain`` itself, and the account is found by that.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from certctl import __version__
from certctl.acme.solvers.base import SolverContext, read_credential
from certctl.errors import IssuanceError, IssuerNotReadyError

__all__ = ["AcmeDNSAccount", "AcmeDNSProvider", "account_for", "parse_accounts"]

log = logging.getLogger(__name__)

#: Seconds to wait for one answer.
REQUEST_TIMEOUT = 30.0
#: Seconds an update may keep failing with 429 or 5xx before it gives up.
RETRY_DEADLINE = 60.0
_PREFIX = "_acme-challenge."


@dataclass(frozen=True)
class AcmeDNSAccount:
    """One registration, as acme-dns's ``/register`` returned it."""

    domain: str
    username: str
    password: str
    subdomain: str
    fulldomain: str

    def __repr__(self) -> str:
        # Never the password (dataclasses would print it in a traceback or a log).
        return f"AcmeDNSAccount(domain={self.domain!r}, subdomain={self.subdomain!r})"


def parse_accounts(raw: bytes) -> dict[str, AcmeDNSAccount]:
    """The accounts by domain (lower case, no trailing dot) from the Secret's JSON.

    Raises:
        ValueError: not a JSON object of accounts with username, password and subdomain;
            the message never quotes a password.
    """
    try:
        document = json.loads(raw)
    except ValueError:
        raise ValueError("is not JSON") from None
    if not isinstance(document, dict) or not document:
        raise ValueError("is not a JSON object of accounts keyed by domain")
    accounts: dict[str, AcmeDNSAccount] = {}
    for domain, entry in document.items():
        if not isinstance(entry, dict):
            raise ValueError(f"has an entry for {domain!r} that is not an object")
        fields = {}
        for name in ("username", "password", "subdomain", "fulldomain"):
            value = entry.get(name, "")
            if not isinstance(value, str):
                raise ValueError(f"has a {name} for {domain!r} that is not a string")
            fields[name] = value.strip()
        missing = [name for name in ("username", "password", "subdomain") if not fields[name]]
        if missing:
            raise ValueError(f"has no {' or '.join(missing)} for {domain!r}")
        key = domain.strip().rstrip(".").lower()
        accounts[key] = AcmeDNSAccount(
            key,
            fields["username"],
            fields["password"],
            fields["subdomain"],
            fields["fulldomain"].rstrip(".").lower(),
        )
    return accounts


def account_for(fqdn: str, accounts: Mapping[str, AcmeDNSAccount]) -> AcmeDNSAccount | None:
    """The account for the record name ``fqdn``, or None.

    ``_acme-challenge.example.com.`` is the challenge of ``example.com``, the key
    cert-manager looks up. After ``cnameStrategy: Follow`` the name is an account's
    ``fulldomain``.
    """
    name = fqdn.rstrip(".").lower()
    if name.startswith(_PREFIX):
        account = accounts.get(name[len(_PREFIX) :])
        if account is not None:
            return account
    for account in accounts.values():
        if account.fulldomain and account.fulldomain == name:
            return account
    return None


class AcmeDNSProvider:
    """Sends the challenge value to an acme-dns server; cleanup is a no-op."""

    def __init__(self, config: Mapping[str, Any], context: SolverContext) -> None:
        self._context = context
        self.host = str(config.get("host") or "").strip().rstrip("/")
        ref = config.get("accountSecretRef") or {}
        self._secret_name = str(ref.get("name") or "") if isinstance(ref, Mapping) else ""
        self._secret_key = str(ref.get("key") or "") if isinstance(ref, Mapping) else ""
        self._ca_bundle = str(config.get("caBundle") or "")
        self._accounts: dict[str, AcmeDNSAccount] | None = None
        self._session: requests.Session | None = None
        if not self.host.startswith(("https://", "http://")):
            raise IssuanceError(
                f"{context.issuer}: the acmeDNS host {self.host!r} is not an http(s) URL",
                hint="Set host to the acme-dns API, e.g. https://auth.example.org",
            )

    def present(self, fqdn: str, zone: str, value: str) -> None:
        """Send ``value`` as the TXT answer of the account's subdomain (two are kept)."""
        accounts = self._read_accounts()
        account = account_for(fqdn, accounts)
        if account is None:
            name = fqdn.rstrip(".")
            domain = name[len(_PREFIX) :] if name.lower().startswith(_PREFIX) else name
            raise IssuerNotReadyError(
                f"{self._context.issuer}: the acme-dns accounts in the Secret {self._where()} "
                f"key {self._secret_key!r} have none for {domain!r} (they have "
                f"{', '.join(repr(key) for key in sorted(accounts))})",
                reason="SecretInvalidData",
                hint=f"Register with POST {self.host}/register, add its answer under "
                f'"{domain}", and make _acme-challenge.{domain} a CNAME to its fulldomain',
            )
        log.debug("acmedns: updating subdomain %s for %s", account.subdomain, fqdn)
        self._update(account, value, fqdn)

    def cleanup(self, fqdn: str, zone: str, value: str) -> None:
        """Nothing to do: acme-dns has no delete, and the next update replaces the oldest value."""
        log.debug("acmedns: no cleanup for %s (acme-dns keeps the two newest values)", fqdn)

    # --- the API ---

    def _update(self, account: AcmeDNSAccount, value: str, fqdn: str) -> None:
        session = self._client()
        url = f"{self.host}/update"
        what = f'acme-dns at {self.host} could not set the TXT value of "{fqdn.rstrip(".")}"'
        headers = {"X-Api-User": account.username, "X-Api-Key": account.password}
        body = {"subdomain": account.subdomain, "txt": value}
        deadline = time.monotonic() + RETRY_DEADLINE
        cancel = self._context.settings.cancel
        attempt = 0
        while True:
            try:
                response = session.post(url, headers=headers, json=body, timeout=REQUEST_TIMEOUT)
            except requests.exceptions.SSLError as exc:
                raise IssuanceError(
                    f"{what}: its TLS certificate does not verify",
                    hint="Set caBundle on the acmeDNS solver to the CA that signed it",
                ) from exc
            except requests.RequestException as exc:
                raise IssuanceError(
                    f"{what}: the server is unreachable ({type(exc).__name__})",
                    hint="Check the host field and the network path to acme-dns",
                    retryable=True,
                ) from exc
            status = response.status_code
            if status == 200:
                return
            if status == 429 or status >= 500:
                remaining = deadline - time.monotonic()
                delay = min(8.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)
                with contextlib.suppress(ValueError):
                    delay = max(0.0, float(response.headers.get("Retry-After") or delay))
                if delay <= remaining and not cancel.is_set():
                    attempt += 1
                    if not cancel.wait(delay):
                        continue
            raise self._error(status, _error_word(response), what, account)

    def _error(self, status: int, word: str, what: str, account: AcmeDNSAccount) -> IssuanceError:
        detail = f"{status} {word}".strip()
        if status == 401:
            return IssuanceError(
                f"{what}: it refused the account of {account.domain!r} in the Secret "
                f"{self._where()} ({detail})",
                hint="Check username, password and subdomain against the registration, and "
                "that this host's address is in the account's allowfrom list",
                reason="InvalidCredentials",
            )
        if status == 400 and word == "bad_txt":
            return IssuanceError(
                f"{what}: it refused the value ({detail}); acme-dns takes exactly 43 "
                "characters of A-Z, a-z, 0-9, - and _",
                hint="This is the value of an ACME DNS-01 challenge; report it if it fails",
            )
        if status == 400 and word == "bad_subdomain":
            return IssuanceError(
                f"{what}: the subdomain {account.subdomain!r} of {account.domain!r} is not "
                f"one acme-dns accepts ({detail})",
                hint="Copy subdomain from the registration's answer",
            )
        if status == 429 or status >= 500:
            return IssuanceError(
                f"{what}: it kept failing for {RETRY_DEADLINE:g} s ({detail})",
                hint="Run again later, and check the acme-dns server's log",
                reason="Throttled" if status == 429 else None,
                retryable=True,
            )
        if status == 404:
            return IssuanceError(
                f"{what}: {self.host}/update does not exist ({detail})",
                hint="Set host to the acme-dns API's base URL, without /update",
            )
        return IssuanceError(
            f"{what}: it answered {detail}",
            hint="Check the host field and the acme-dns server's log",
        )

    def _client(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            session.headers.update(
                {"Accept": "application/json", "User-Agent": f"certctl/{__version__}"}
            )
            if self._ca_bundle:
                session.verify = self._ca_bundle_path()
            self._session = session
        return self._session

    def _ca_bundle_path(self) -> str:
        # Imported here: the ACME client module is what keeps caBundle files, and it is
        # loaded whenever an ACME issuer runs, so this costs nothing extra.
        from certctl.acme.client import _CA_BUNDLES

        try:
            pem = base64.b64decode(self._ca_bundle.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise IssuanceError(
                f"{self._context.issuer}: the acmeDNS caBundle is not base64",
                hint="Set caBundle to the base64 of the PEM certificates",
            ) from exc
        return _CA_BUNDLES.path(pem)

    def _read_accounts(self) -> dict[str, AcmeDNSAccount]:
        """The accounts, read from the store on first use."""
        if self._accounts is not None:
            return self._accounts
        where = self._where()
        raw = read_credential(
            self._context,
            self._secret_name,
            self._secret_key,
            what="acme-dns account",
            holds="the JSON of the acme-dns registrations",
        )
        try:
            self._accounts = parse_accounts(raw)
        except ValueError as exc:
            raise IssuerNotReadyError(
                f"{self._context.issuer}: the acme-dns account secret {where} key "
                f"{self._secret_key!r} {exc}",
                reason="SecretInvalidData",
                hint='Store {"example.com": {"username": ..., "password": ..., "subdomain": '
                '..., "fulldomain": ...}}, one entry per domain, as /register answered',
            ) from None
        return self._accounts

    def _where(self) -> str:
        return f"{self._context.secret_namespace}/{self._secret_name}"


def _error_word(response: requests.Response) -> str:
    """acme-dns's ``{"error": "..."}`` word (``forbidden``, ``bad_txt``), or empty."""
    try:
        body = response.json()
    except ValueError:
        return ""
    word = body.get("error") if isinstance(body, Mapping) else None
    return "".join(char for char in str(word or "") if char.isalnum() or char == "_")[:40]
