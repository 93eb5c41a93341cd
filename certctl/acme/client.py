"""The ACME wire: the one module that imports ``acme`` and ``josepy``.

It turns certbot's ``acme`` library into a small surface of plain dataclasses
(``OrderState``, ``AuthorizationState``, ``ChallengeState``, ``Problem``) so that
the order flow in ``certctl.acme.orders`` never touches a foreign type, and it
translates every foreign exception into a certctl error.

Transport concerns live here: badNonce retries (RFC 8555 §6.5: "the client
SHOULD retry the request using the new nonce"), the Retry-After of rate limits,
the server's CA bundle, and POST-as-GET polling.
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, cast

import requests
from acme import client as acme_client
from acme import errors as acme_errors
from acme import fields as acme_fields
from acme import messages
from cryptography.hazmat.primitives.asymmetric import rsa
from josepy.b64 import b64encode
from josepy.errors import DeserializationError
from josepy.interfaces import JSONDeSerializable
from josepy.jwa import RS256
from josepy.jwk import JWKRSA

from certctl import __version__
from certctl.errors import IssuanceError
from certctl.pki.keys import load_private_key

USER_AGENT = f"certctl/{__version__}"
#: Each ``post`` of the acme library already retries a badNonce once; this many more.
BAD_NONCE_ATTEMPTS = 10
NETWORK_TIMEOUT = 30


@dataclass(frozen=True)
class Problem:
    """An RFC 7807 problem document from the ACME server (RFC 8555 §6.7)."""

    type: str
    detail: str
    identifier: str = ""
    subproblems: tuple[Problem, ...] = ()

    @property
    def code(self) -> str:
        prefix = "urn:ietf:params:acme:error:"
        return self.type[len(prefix) :] if self.type.startswith(prefix) else self.type

    def sentences(self) -> list[str]:
        """One readable sentence per identifier (subproblems), or one for the whole."""
        if self.subproblems:
            return [sentence for sub in self.subproblems for sentence in sub.sentences()]
        who = f"{self.identifier}: " if self.identifier else ""
        return [f"{who}{self.detail or self.code} ({self.code})"]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "detail": self.detail, "identifier": self.identifier}


@dataclass(frozen=True)
class ChallengeState:
    type: str
    url: str
    token: str
    status: str
    error: Problem | None = None


@dataclass(frozen=True)
class AuthorizationState:
    url: str
    identifier_type: str
    identifier: str
    wildcard: bool
    status: str
    challenges: tuple[ChallengeState, ...]
    retry_after: float | None = None

    @property
    def offered_types(self) -> tuple[str, ...]:
        return tuple(challenge.type for challenge in self.challenges)

    def problem(self) -> Problem | None:
        for challenge in self.challenges:
            if challenge.error is not None:
                return challenge.error
        return None


@dataclass(frozen=True)
class OrderState:
    url: str
    status: str
    authorization_urls: tuple[str, ...]
    finalize_url: str
    certificate_url: str | None
    error: Problem | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Identifier:
    type: str  # "dns" or "ip"
    value: str


class ACMEProblemError(IssuanceError):
    """The ACME server answered with a problem document."""

    def __init__(self, action: str, problem: Problem, *, retry_at: dt.datetime | None = None):
        self.problem = problem
        self.retry_at = retry_at
        reason = "RateLimited" if problem.code == "rateLimited" else "ACMEError"
        text = "; ".join(problem.sentences())
        hint = ""
        if problem.code == "rateLimited":
            when = retry_at.strftime("%Y-%m-%dT%H:%M:%SZ") if retry_at else "later"
            hint = f"The ACME server rate-limited this request; retry after {when}"
        super().__init__(f"{action} failed: {text}", hint=hint, reason=reason)


class _NewOrder(messages.NewOrder):
    """newOrder with ``notAfter`` (RFC 8555 §7.4), which the library does not model."""

    not_after: dt.datetime | None = acme_fields.rfc3339("notAfter", omitempty=True)


class _Network(acme_client.ClientNetwork):
    """The library's transport, with patient badNonce retries and Retry-After capture."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_retry_after = threading.local()
        self.session.hooks["response"].append(self._remember_retry_after)

    def _remember_retry_after(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last_retry_after.value = response.headers.get("Retry-After")

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        for attempt in range(BAD_NONCE_ATTEMPTS):
            try:
                return super().post(*args, **kwargs)
            except messages.Error as error:
                if error.code != "badNonce" or attempt == BAD_NONCE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def retry_after(self) -> float | None:
        return _parse_retry_after(getattr(self.last_retry_after, "value", None))


class ACMEClient:
    """One account on one ACME server, shared by the orders of a run."""

    def __init__(self, client: acme_client.ClientV2, network: _Network, key: JWKRSA) -> None:
        self._client = client
        self._network = network
        self._key = key
        self.account_url = ""

    # -- connecting ---------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        server: str,
        account_key_pem: bytes,
        *,
        email: str = "",
        eab_key_id: str = "",
        eab_hmac_key: str = "",
        ca_bundle_pem: bytes | None = None,
        skip_tls_verify: bool = False,
    ) -> ACMEClient:
        """Fetch the directory and register the account (or find it, when it exists).

        Raises:
            IssuanceError: the server cannot be reached or refuses the account.
        """
        try:
            private_key = load_private_key(account_key_pem, source="the ACME account key")
        except ValueError as exc:
            raise IssuanceError(
                f"The ACME account key cannot be used: {exc}",
                reason="InvalidAccountKey",
                hint="Restore the account key secret (privateKeySecretRef), or delete it so "
                "that a new account key is generated",
            ) from exc
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise IssuanceError(
                "The ACME account key must be an RSA key, as cert-manager requires",
                reason="InvalidAccountKey",
            )
        key = JWKRSA(key=private_key)
        verify: bool | str = not skip_tls_verify
        if ca_bundle_pem:
            verify = _CA_BUNDLES.path(ca_bundle_pem)
        network = _Network(
            key=key,
            alg=RS256,
            verify_ssl=cast(bool, verify),
            user_agent=USER_AGENT,
            timeout=NETWORK_TIMEOUT,
        )
        with _translated(f"Fetching the ACME directory {server}", network):
            directory = acme_client.ClientV2.get_directory(server, network)
        client = acme_client.ClientV2(directory, network)
        self = cls(client, network, key)
        self._register(email, eab_key_id, eab_hmac_key, server)
        return self

    def _register(self, email: str, eab_key_id: str, eab_hmac_key: str, server: str) -> None:
        binding = None
        if eab_key_id:
            binding = messages.ExternalAccountBinding.from_data(
                account_public_key=self._key.public_key(),
                kid=eab_key_id,
                hmac_key=eab_hmac_key,
                directory=self._client.directory,
            )
        elif self._client.external_account_required():
            raise IssuanceError(
                f"The ACME server {server} requires External Account Binding, and the issuer "
                "has no spec.acme.externalAccountBinding",
                reason="ErrRegisterACMEAccount",
                hint="Add externalAccountBinding with the keyID and the HMAC key secret your "
                "CA gave you",
            )
        registration = messages.NewRegistration.from_data(
            email=email or None, terms_of_service_agreed=True, external_account_binding=binding
        )
        with _translated("Registering the ACME account", self._network):
            try:
                account = self._client.new_account(registration)
            except acme_errors.ConflictError as existing:
                # RFC 8555 §7.3.1: the key already has an account; the server says where.
                self._network.account = messages.RegistrationResource(
                    uri=existing.location, body=messages.Registration()
                )
                account = self._client.query_registration(self._network.account)
        self._network.account = account
        self.account_url = account.uri or ""

    # -- what the server offers ----------------------------------------------------------

    def profiles(self) -> dict[str, str] | None:
        meta = self._client.directory.meta
        profiles = getattr(meta, "profiles", None) if meta is not None else None
        return dict(profiles) if profiles else None

    def key_authorization(self, token: str) -> str:
        """``token.thumbprint`` (RFC 8555 §8.1)."""
        thumbprint = b64encode(self._key.thumbprint(hash_function=_sha256)).decode()
        return f"{token}.{thumbprint}"

    def dns01_value(self, token: str) -> str:
        """The TXT value of a DNS-01 challenge: base64url(SHA-256(key authorization))."""
        digest = hashlib.sha256(self.key_authorization(token).encode()).digest()
        return b64encode(digest).decode()

    # -- orders ------------------------------------------------------------------------------

    def new_order(
        self,
        identifiers: Sequence[Identifier],
        *,
        profile: str = "",
        not_after: dt.datetime | None = None,
    ) -> OrderState:
        order = _NewOrder(
            identifiers=[
                messages.Identifier(
                    typ=messages.IDENTIFIER_FQDN if item.type == "dns" else messages.IDENTIFIER_IP,
                    value=item.value,
                )
                for item in identifiers
            ],
            profile=profile or None,
            not_after=not_after,
        )
        with _translated("Creating the ACME order", self._network):
            response = self._network.post(
                self._client.directory["newOrder"], order, new_nonce_url=self._nonce_url
            )
        return _order_state(
            response.headers.get("Location", ""), response.json(), self._network.retry_after()
        )

    def fetch_order(self, url: str) -> OrderState:
        with _translated("Fetching the ACME order", self._network):
            response = self._post_as_get(url)
        return _order_state(url, response.json(), self._network.retry_after())

    def fetch_authorization(self, url: str) -> AuthorizationState:
        with _translated("Fetching the ACME authorization", self._network):
            response = self._post_as_get(url)
        body = messages.Authorization.from_json(response.json())
        return _authorization_state(url, body, self._network.retry_after())

    def answer(self, challenge_url: str) -> None:
        """Tell the server the challenge is ready to be validated (RFC 8555 §7.5.1)."""
        with _translated("Answering the ACME challenge", self._network):
            self._network.post(challenge_url, _EmptyObject(), new_nonce_url=self._nonce_url)

    def finalize(self, order: OrderState, csr_der: bytes) -> OrderState:
        body = {"csr": b64encode(csr_der).decode()}
        with _translated("Finalizing the ACME order", self._network):
            response = self._network.post(
                order.finalize_url, _RawObject(body), new_nonce_url=self._nonce_url
            )
        return _order_state(order.url, response.json(), self._network.retry_after())

    def download(self, certificate_url: str) -> tuple[str, list[str]]:
        """The default chain and the alternates (RFC 8555 §7.4.2 ``rel="alternate"``)."""
        with _translated("Downloading the certificate", self._network):
            response = self._post_as_get(
                certificate_url, accept="application/pem-certificate-chain"
            )
            alternates = [
                self._post_as_get(link, accept="application/pem-certificate-chain").text
                for link in _alternate_links(response)
            ]
        return response.text, alternates

    # -- internals -------------------------------------------------------------------------

    @property
    def _nonce_url(self) -> str:
        return str(self._client.directory["newNonce"])

    def _post_as_get(self, url: str, accept: str = "") -> requests.Response:
        kwargs: dict[str, Any] = {"new_nonce_url": self._nonce_url}
        if accept:
            kwargs["content_type"] = accept
            kwargs["headers"] = {"Accept": accept, "Content-Type": "application/jose+json"}
        return self._network.post(url, None, **kwargs)


class _EmptyObject(JSONDeSerializable):
    """``{}``: the payload that answers a challenge."""

    def to_partial_json(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_json(cls, jobj: Any) -> _EmptyObject:
        return cls()


class _RawObject(JSONDeSerializable):
    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body

    def to_partial_json(self) -> dict[str, Any]:
        return self._body

    @classmethod
    def from_json(cls, jobj: Any) -> _RawObject:
        return cls(dict(jobj))


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def _order_state(url: str, json_body: dict[str, Any], retry_after: float | None) -> OrderState:
    body = messages.Order.from_json(json_body)
    return OrderState(
        url=url,
        status=_status(body.status),
        authorization_urls=tuple(body.authorizations or ()),
        finalize_url=body.finalize or "",
        certificate_url=body.certificate,
        error=_problem(body.error) if body.error else None,
        retry_after=retry_after,
    )


def _authorization_state(
    url: str, body: messages.Authorization, retry_after: float | None
) -> AuthorizationState:
    identifier = body.identifier
    challenges = tuple(
        ChallengeState(
            type=str(challenge.chall.typ),
            url=challenge.uri,
            token=_token_of(challenge),
            status=_status(challenge.status),
            error=_problem(challenge.error) if challenge.error else None,
        )
        for challenge in body.challenges or ()
    )
    return AuthorizationState(
        url=url,
        identifier_type=str(identifier.typ.name),
        identifier=identifier.value,
        wildcard=bool(body.wildcard),
        status=_status(body.status),
        challenges=challenges,
        retry_after=retry_after,
    )


def _status(status: messages.Status | None) -> str:
    return str(status.name) if status is not None else "pending"


def _token_of(challenge: messages.ChallengeBody) -> str:
    token = getattr(challenge.chall, "token", b"")
    return b64encode(token).decode() if isinstance(token, bytes) else str(token)


def _problem(error: messages.Error) -> Problem:
    identifier = error.identifier.value if error.identifier is not None else ""
    return Problem(
        type=error.typ or "",
        detail=error.detail or error.title or "",
        identifier=identifier,
        subproblems=tuple(_problem(sub) for sub in (error.subproblems or ())),
    )


def _alternate_links(response: requests.Response) -> list[str]:
    # requests' response.links keeps one link per rel; a server may send several alternates.
    header = response.headers.get("Link", "")
    parts = requests.utils.parse_header_links(header) if header else []
    return [part["url"] for part in parts if part.get("rel") == "alternate"]


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(int(value)))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - dt.datetime.now(dt.UTC)).total_seconds())


class _CABundleFiles:
    """The ``caBundle`` PEMs requests verifies against, which it takes as file paths only.

    Each distinct bundle is written once per process, into one private folder (0700)
    that is removed when the process ends: ``atexit`` runs after a normal exit, an
    error and Ctrl-C alike, and certctl turns SIGTERM into Ctrl-C. urllib3 reads the
    file whenever it opens a connection, so it has to outlive every session of the run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folder: str | None = None
        self._paths: dict[bytes, str] = {}

    def path(self, pem: bytes) -> str:
        with self._lock:
            path = self._paths.get(pem)
            if path is None:
                if self._folder is None:
                    self._folder = tempfile.mkdtemp(prefix="certctl-acme-ca-")
                    atexit.register(self.remove)
                name = f"{hashlib.sha256(pem).hexdigest()[:16]}.pem"
                path = os.path.join(self._folder, name)
                with open(path, "wb") as handle:
                    handle.write(pem)
                self._paths[pem] = path
            return path

    def remove(self) -> None:
        """Delete the folder and every bundle in it (at exit; harmless when already gone)."""
        with self._lock:
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
            self._paths.clear()


_CA_BUNDLES = _CABundleFiles()


class _translated:
    """Turn the library's and requests' exceptions into certctl errors."""

    def __init__(self, action: str, network: _Network) -> None:
        self.action = action
        self.network = network

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        if error is None or isinstance(error, IssuanceError):
            return
        if isinstance(error, messages.Error):
            retry_at = None
            seconds = self.network.retry_after()
            if seconds is not None:
                retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
            raise ACMEProblemError(self.action, _problem(error), retry_at=retry_at) from error
        if isinstance(error, requests.exceptions.SSLError):
            raise IssuanceError(
                f"{self.action} failed: the ACME server's TLS certificate is not trusted "
                f"({_first_line(error)})",
                reason="ErrRegisterACMEAccount",
                hint="Set spec.acme.caBundle to the CA that signed the server's certificate",
                retryable=False,
            ) from error
        if isinstance(error, requests.exceptions.RequestException):
            raise IssuanceError(
                f"{self.action} failed: the ACME server could not be reached "
                f"({_first_line(error)})",
                reason="ACMEServerUnreachable",
                hint="Check spec.acme.server and the network, then run again",
                retryable=True,
            ) from error
        if isinstance(error, acme_errors.Error | DeserializationError | ValueError):
            raise IssuanceError(
                f"{self.action} failed: {_first_line(error)}", reason="ACMEError"
            ) from error


def _first_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:300]
